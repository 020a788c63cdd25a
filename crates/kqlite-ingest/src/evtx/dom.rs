//! Records the planned path leaves to the DOM ([`ChunkReader::read`]):
//! their fields read from the instantiated elements, their bag built from
//! them, and (Security records) their `EventData` XML rendered from them.

use super::bag::{self, Tree};
use super::binxml::{ChunkReader, Dom};
use super::error::RecordError;
use super::event::{Event, Text};
use super::render;
use kqlite_engine::dynamic::DynValue;
use kqlite_engine::time::parse_datetime;

/// The fields of a record instantiated by [`ChunkReader::read`], read as
/// [`event_from_xml`](super::xml::event_from_xml) reads the XML Windows
/// renders (the DOM's text spans become the event's spans; its text is
/// copied into the event).
pub(super) fn event_from_dom(
    reader: &ChunkReader<'_>,
    dom: &Dom,
    header_time: Option<i64>,
) -> Result<Event, RecordError> {
    let mut event = Event { fields: Vec::with_capacity(24), ..Event::default() };
    let root = dom.root().ok_or(RecordError::NoElement)?;
    let root_name = reader.name(dom.elements[root as usize].name);
    if root_name != "Event" {
        return Err(RecordError::NotAnEvent(root_name.to_string()));
    }
    let d = dom;
    let span = Text::span;
    let attr = |e: u32, name: &str| {
        d.attributes(e).iter().find(|a| reader.name(a.name) == name).map_or(Text::Empty, |a| span(a.value))
    };
    let child = |e: u32, name: &str| d.children(e).find(|&c| reader.name(d.elements[c as usize].name) == name);
    let mut system_time = None;
    for e in child(root, "System").into_iter().flat_map(|s| d.children(s)) {
        let text = span(d.elements[e as usize].text);
        match reader.name(d.elements[e as usize].name) {
            "Provider" => event.provider = attr(e, "Name"),
            "EventID" => event.event_id = text,
            "Version" => event.version = text,
            "Level" => event.level = text,
            "Task" => event.task = text,
            "Opcode" => event.opcode = text,
            "Keywords" => event.keywords = text,
            "TimeCreated" => {
                system_time = d
                    .attributes(e)
                    .iter()
                    .find(|a| reader.name(a.name) == "SystemTime")
                    .map(|a| a.time.or_else(|| parse_datetime(d.span(a.value))))
            }
            "EventRecordID" => event.event_record_id = text,
            "Correlation" => event.activity_id = attr(e, "ActivityID"),
            "Execution" => {
                event.process_id = attr(e, "ProcessID");
                event.thread_id = attr(e, "ThreadID");
            }
            "Channel" => event.channel = text,
            "Computer" => event.computer = text,
            "Security" => event.user_id = attr(e, "UserID"),
            _ => {}
        }
    }
    event.time = system_time.flatten().or(header_time);

    let payload = child(root, "EventData").or_else(|| child(root, "UserData"));
    let mut bag = None;
    let security = event.get_in(&d.text, &event.channel).eq_ignore_ascii_case("Security");
    if let Some(payload) = payload {
        if reader.name(d.elements[payload as usize].name) == "EventData" {
            let mut plain = true;
            for item in d.children(payload) {
                let name = d.attributes(item).iter().find(|a| reader.name(a.name) == "Name");
                match (reader.name(d.elements[item as usize].name), name) {
                    ("Data", Some(name)) => event.fields.push((span(name.value), span(d.elements[item as usize].text))),
                    _ => plain = false,
                }
            }
            if plain {
                bag = bag::encode_plain(&event, &d.text);
            }
            if bag.is_none() {
                bag = Some(bag::of_event_data(&DomTree { reader, dom: d }, payload));
            }
        } else if let Some(inner) = d.children(payload).next() {
            bag = Some(bag::of_user_data(&DomTree { reader, dom: d }, inner));
            for leaf in d.children(inner).filter(|&c| !d.has_children(c)) {
                let name = reader.name(d.elements[leaf as usize].name).to_string();
                event.fields.push((Text::Owned(name), span(d.elements[leaf as usize].text)));
            }
        }
        if security {
            event.event_data_xml = render::dom_element(reader, d, payload, true);
        }
    }
    event.bag = bag.unwrap_or_else(|| DynValue::Object(Vec::new()).encode());
    // A copy of exactly its size: the DOM keeps its buffer for the next record.
    event.text = dom.text.clone();
    Ok(event)
}

/// A record's DOM as the [`Tree`] its bag is built from.
struct DomTree<'a, 'c> {
    reader: &'a ChunkReader<'c>,
    dom: &'a Dom,
}

impl Tree for DomTree<'_, '_> {
    fn local_name(&self, e: u32) -> &str {
        self.reader.name(self.dom.elements[e as usize].name)
    }

    fn attributes(&self, e: u32) -> impl Iterator<Item = (&str, &str)> + '_ {
        self.dom.attributes(e).iter().map(|a| (self.reader.qualified_name(a.name), self.dom.span(a.value)))
    }

    fn children(&self, e: u32) -> impl Iterator<Item = u32> + '_ {
        self.dom.children(e)
    }

    fn has_children(&self, e: u32) -> bool {
        self.dom.has_children(e)
    }

    fn text(&self, e: u32) -> &str {
        self.dom.span(self.dom.elements[e as usize].text)
    }
}
