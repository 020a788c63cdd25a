//! Records read through the `evtx` crate's XML: the fallback for chunks
//! the BinXML reader leaves to the crate, and the path that keeps each
//! record's XML (`RawEventData`) or carves deleted records. The XML is
//! parsed by `quick-xml` into a small element tree whose texts are spans
//! of the XML wherever they need no unescaping.

use super::bag::{self, Tree, NONE};
use super::error::RecordError;
use super::event::{Event, Text};
use super::render;
use kqlite_engine::dynamic::DynValue;
use kqlite_engine::time::parse_datetime;
use quick_xml::events::{BytesStart, Event as XmlEvent};
use quick_xml::Reader;
use std::borrow::Cow;

/// Deeper nesting than this is reported as malformed rather than walked.
const MAX_DEPTH: usize = 128;

/// The fields of a record from its XML, which moves into the event (its
/// text spans become the event's spans).
pub(super) fn event_from_xml(header_time: Option<i64>, xml: String) -> Result<Event, RecordError> {
    let mut event = Event::default();
    {
        let doc = Document::parse(&xml)?;
        let root = 0;
        if doc.local_name(root) != "Event" {
            return Err(RecordError::NotAnEvent(doc.name(root).to_string()));
        }
        let text = |e: u32| doc.elements[e as usize].text.clone();
        let attr = |e: u32, name: &str| doc.attribute(e, name).cloned().unwrap_or_default();
        let mut system_time = None;
        for e in doc.child(root, "System").into_iter().flat_map(|s| doc.children(s)) {
            match doc.local_name(e) {
                "Provider" => event.provider = attr(e, "Name"),
                "EventID" => event.event_id = text(e),
                "Version" => event.version = text(e),
                "Level" => event.level = text(e),
                "Task" => event.task = text(e),
                "Opcode" => event.opcode = text(e),
                "Keywords" => event.keywords = text(e),
                "TimeCreated" => system_time = doc.attribute(e, "SystemTime").map(|t| t.in_buffer(&xml)),
                "EventRecordID" => event.event_record_id = text(e),
                "Correlation" => event.activity_id = attr(e, "ActivityID"),
                "Execution" => {
                    event.process_id = attr(e, "ProcessID");
                    event.thread_id = attr(e, "ThreadID");
                }
                "Channel" => event.channel = text(e),
                "Computer" => event.computer = text(e),
                "Security" => event.user_id = attr(e, "UserID"),
                _ => {}
            }
        }
        event.time = system_time.and_then(parse_datetime).or(header_time);

        let payload = doc.child(root, "EventData").or_else(|| doc.child(root, "UserData"));
        let mut bag = None;
        if let Some(payload) = payload {
            if doc.local_name(payload) == "EventData" {
                let mut plain = true;
                for item in doc.children(payload) {
                    match (doc.local_name(item), doc.attribute(item, "Name")) {
                        ("Data", Some(name)) => event.fields.push((name.clone(), text(item))),
                        _ => plain = false,
                    }
                }
                if plain {
                    bag = bag::encode_plain(&event, &xml);
                }
                if bag.is_none() {
                    bag = Some(bag::of_event_data(&doc, payload));
                }
            } else if let Some(inner) = doc.children(payload).next() {
                // UserData: the bag of its one child element.
                bag = Some(bag::of_user_data(&doc, inner));
                for leaf in doc.children(inner).filter(|&e| !doc.has_children(e)) {
                    event.fields.push((Text::Owned(doc.local_name(leaf).to_string()), text(leaf)));
                }
            }
            if event.get_in(&xml, &event.channel).eq_ignore_ascii_case("Security") {
                let (start, end) = doc.elements[payload as usize].outer;
                event.event_data_xml = render::with_namespace(&xml[start..end], doc.name(payload));
            }
        }
        event.bag = bag.unwrap_or_else(|| DynValue::Object(Vec::new()).encode());
    }
    event.text = xml;
    Ok(event)
}

/// A parsed document: its elements in document order (the root first),
/// names and texts as [`Text`]s of the XML.
struct Document<'a> {
    xml: &'a str,
    elements: Vec<Node>,
    /// Every element's attributes, element by element: qualified name, value.
    attributes: Vec<(Text, Text)>,
}

struct Node {
    name: Text,
    local: Text,
    attributes: (u32, u32),
    first_child: u32,
    last_child: u32,
    next_sibling: u32,
    /// Its own text runs, joined.
    text: Text,
    /// The whole element in the XML, `<name …>…</name>` or `<name …/>`.
    outer: (usize, usize),
}

impl<'a> Document<'a> {
    /// Parses a document: an optional prolog, then one root element (what
    /// follows it is not read).
    fn parse(xml: &'a str) -> Result<Document<'a>, RecordError> {
        let mut reader = Reader::from_str(xml);
        let mut doc = Document { xml, elements: Vec::with_capacity(32), attributes: Vec::with_capacity(32) };
        let mut open: Vec<u32> = Vec::with_capacity(8);
        let malformed = |reader: &Reader<&[u8]>, source: quick_xml::Error| RecordError::MalformedXml {
            position: reader.error_position(),
            source,
        };
        loop {
            let before = reader.buffer_position() as usize;
            let event = reader.read_event().map_err(|e| malformed(&reader, e))?;
            match event {
                XmlEvent::Start(e) => {
                    if open.len() >= MAX_DEPTH {
                        return Err(RecordError::TooDeep { position: before as u64 });
                    }
                    let i = doc.open(&e, before, open.last().copied()).map_err(|e| malformed(&reader, e))?;
                    open.push(i);
                }
                XmlEvent::Empty(e) => {
                    let i = doc.open(&e, before, open.last().copied()).map_err(|e| malformed(&reader, e))?;
                    doc.elements[i as usize].outer.1 = reader.buffer_position() as usize;
                    if open.is_empty() {
                        break;
                    }
                }
                XmlEvent::End(_) => {
                    // quick-xml checks that the end tag matches the open one.
                    let Some(i) = open.pop() else { break };
                    doc.elements[i as usize].outer.1 = reader.buffer_position() as usize;
                    if open.is_empty() {
                        break;
                    }
                }
                XmlEvent::Text(t) => {
                    if let Some(&i) = open.last() {
                        let raw = std::str::from_utf8(&t)
                            .map_err(|e| malformed(&reader, quick_xml::encoding::EncodingError::from(e).into()))?;
                        doc.push_text(i, unescape(raw));
                    }
                }
                XmlEvent::CData(t) => {
                    if let Some(&i) = open.last() {
                        let run = t.decode().map_err(|e| malformed(&reader, e.into()))?;
                        doc.push_text(i, run);
                    }
                }
                XmlEvent::Eof => {
                    return Err(match open.first() {
                        Some(&root) => RecordError::Unclosed(doc.name(root).to_string()),
                        None => RecordError::NoRoot,
                    })
                }
                XmlEvent::Decl(_) | XmlEvent::Comment(_) | XmlEvent::PI(_) | XmlEvent::DocType(_) => {}
            }
        }
        Ok(doc)
    }

    /// Adds the element `e` opens at byte `start`, under `parent`.
    fn open(&mut self, e: &BytesStart<'_>, start: usize, parent: Option<u32>) -> Result<u32, quick_xml::Error> {
        let index = self.elements.len() as u32;
        let first_attribute = self.attributes.len() as u32;
        for attribute in e.attributes() {
            let attribute = attribute?;
            let name = std::str::from_utf8(attribute.key.as_ref()).map_err(quick_xml::encoding::EncodingError::from)?;
            let raw = std::str::from_utf8(&attribute.value).map_err(quick_xml::encoding::EncodingError::from)?;
            let value = unescape(raw);
            self.attributes.push((self.text_of(Cow::Borrowed(name)), self.text_of(value)));
        }
        let name = std::str::from_utf8(e.name().into_inner()).map_err(quick_xml::encoding::EncodingError::from)?;
        let local = name.rsplit_once(':').map_or(name, |(_, local)| local);
        self.elements.push(Node {
            name: self.text_of(Cow::Borrowed(name)),
            local: self.text_of(Cow::Borrowed(local)),
            attributes: (first_attribute, self.attributes.len() as u32),
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            text: Text::Empty,
            outer: (start, start),
        });
        if let Some(parent) = parent {
            match self.elements[parent as usize].last_child {
                NONE => self.elements[parent as usize].first_child = index,
                last => self.elements[last as usize].next_sibling = index,
            }
            self.elements[parent as usize].last_child = index;
        }
        Ok(index)
    }

    fn text_of(&self, value: Cow<'_, str>) -> Text {
        Text::of(self.xml, value)
    }

    fn push_text(&mut self, e: u32, run: Cow<'_, str>) {
        let joined = match &self.elements[e as usize].text {
            Text::Empty => self.text_of(run),
            existing => Text::Owned(format!("{}{run}", existing.in_buffer(self.xml))),
        };
        self.elements[e as usize].text = joined;
    }

    fn name(&self, e: u32) -> &str {
        self.elements[e as usize].name.in_buffer(self.xml)
    }

    fn attribute(&self, e: u32, name: &str) -> Option<&Text> {
        let (start, end) = self.elements[e as usize].attributes;
        self.attributes[start as usize..end as usize]
            .iter()
            .find(|(n, _)| n.in_buffer(self.xml) == name)
            .map(|(_, v)| v)
    }

    fn child(&self, e: u32, local_name: &str) -> Option<u32> {
        self.children(e).find(|&c| self.local_name(c) == local_name)
    }
}

impl Tree for Document<'_> {
    fn local_name(&self, e: u32) -> &str {
        self.elements[e as usize].local.in_buffer(self.xml)
    }

    fn attributes(&self, e: u32) -> impl Iterator<Item = (&str, &str)> + '_ {
        let (start, end) = self.elements[e as usize].attributes;
        self.attributes[start as usize..end as usize]
            .iter()
            .map(|(n, v)| (n.in_buffer(self.xml), v.in_buffer(self.xml)))
    }

    fn children(&self, e: u32) -> impl Iterator<Item = u32> + '_ {
        bag::siblings(self.elements[e as usize].first_child, |c| self.elements[c as usize].next_sibling)
    }

    fn has_children(&self, e: u32) -> bool {
        self.elements[e as usize].first_child != NONE
    }

    fn text(&self, e: u32) -> &str {
        self.elements[e as usize].text.in_buffer(self.xml)
    }
}

/// Text with its character and entity references replaced. quick-xml
/// refuses a reference it does not know (`&bogus;`) and a lone `&`; the
/// evtx crate writes BinXML entity references as they were (`&name;`), so
/// such text is read leniently: known references replaced, others kept as
/// written.
fn unescape(raw: &str) -> Cow<'_, str> {
    match quick_xml::escape::unescape(raw) {
        Ok(text) => text,
        Err(_) => Cow::Owned(unescape_known(raw)),
    }
}

/// Replaces the references that name a character or a predefined entity
/// and keeps every other `&` as written.
fn unescape_known(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let end = rest.find(';');
        let resolved = end.and_then(|end| {
            let name = &rest[1..end];
            match name.strip_prefix('#') {
                Some(code) => {
                    let number = match code.strip_prefix(['x', 'X']) {
                        Some(hex) => u32::from_str_radix(hex, 16).ok()?,
                        None => code.parse::<u32>().ok()?,
                    };
                    out.push(char::from_u32(number)?);
                }
                None => out.push_str(quick_xml::escape::resolve_predefined_entity(name)?),
            }
            Some(end + 1)
        });
        match resolved {
            Some(len) => rest = &rest[len..],
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_event_xml() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Event xmlns=\"ns\"><System><EventID Qualifiers=\"\">4624</EventID>\
                   <TimeCreated SystemTime=\"2019-01-01T00:00:00.1234567Z\"/></System>\
                   <EventData><Data Name=\"A\">x &amp; &lt;y&gt; &#65;&#x42;</Data><Data Name=\"B\"></Data>\
                   <Data Name=\"C\"><![CDATA[<raw>]]></Data><Data>a<!-- c -->b<x/>c</Data></EventData></Event>";
        let doc = Document::parse(xml).unwrap();
        assert_eq!(doc.name(0), "Event");
        assert_eq!(doc.attribute(0, "xmlns").map(|v| v.in_buffer(xml)), Some("ns"));
        let system = doc.child(0, "System").unwrap();
        assert_eq!(doc.text(doc.child(system, "EventID").unwrap()), "4624");
        let time = doc.child(system, "TimeCreated").unwrap();
        assert_eq!(doc.attribute(time, "SystemTime").map(|v| v.in_buffer(xml)), Some("2019-01-01T00:00:00.1234567Z"));
        let event_data = doc.child(0, "EventData").unwrap();
        let data: Vec<&str> = doc.children(event_data).map(|d| doc.text(d)).collect();
        assert_eq!(data, vec!["x & <y> AB", "", "<raw>", "abc"]);
        let (start, end) = doc.elements[event_data as usize].outer;
        assert!(xml[start..end].starts_with("<EventData><Data Name=\"A\">"));
        assert!(xml[start..end].ends_with("</EventData>"));
        let (start, end) = doc.elements[time as usize].outer;
        assert_eq!(&xml[start..end], "<TimeCreated SystemTime=\"2019-01-01T00:00:00.1234567Z\"/>");
        assert!(!doc.has_children(time) && doc.has_children(system));
    }

    #[test]
    fn unknown_references_and_lone_ampersands_are_kept_as_written() {
        let xml = "<Event><Data Name=\"a&amp;b &bogus;\">x &bogus; &amp; y & z &#65;</Data></Event>";
        let doc = Document::parse(xml).unwrap();
        let data = doc.child(0, "Data").unwrap();
        assert_eq!(doc.text(data), "x &bogus; & y & z A");
        assert_eq!(doc.attribute(data, "Name").map(|v| v.in_buffer(xml)), Some("a&b &bogus;"));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in ["", "text", "<a", "<a><b></a>", "<a x=1/>", "<a x=\"1/>", "<a>", "<a><![CDATA[x</a>"] {
            assert!(Document::parse(bad).is_err(), "{bad}");
        }
        let deep = "<a>".repeat(1000);
        assert!(Document::parse(&deep).is_err());
    }
}
