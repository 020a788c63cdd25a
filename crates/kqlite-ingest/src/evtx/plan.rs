//! Events of the usual shape read without building a [`Dom`](super::binxml::Dom).
//!
//! Nearly every template is `<Event><System>…</System><EventData><Data
//! Name="…">…</Data>…</EventData></Event>`. For such a template a [`Plan`],
//! made once per chunk, says which substitution value (or template text)
//! gives each `System` field and each named `Data` value; a record then
//! formats just those values into its event. Templates of any other shape
//! have no plan, and records whose values the plan cannot take (embedded
//! BinXML, arrays, repeated `Data` names) are left to the DOM, so both paths
//! give the same rows (the reader test compares them with the `evtx` crate's
//! XML on every sample file).

use super::bag;
use super::binxml::{self, write_value, Node, Piece, Unsupported, Value, BINXML, NULL};
use super::event::{Event, ReadItem, Text};
use super::keep::Keep;
use super::render::{escape_into, Escape, EVENT_NS};
use super::table::{security_column, EvtxTable};
use kqlite_engine::dynamic::DynValue;
use kqlite_engine::time::parse_datetime;

/// Where a field's text comes from.
enum Source {
    Empty,
    Literal(Box<str>),
    Value(u16),
}

/// A field's source and the value that leaves its element out when NULL.
struct Slot {
    source: Source,
    dependency: Option<u16>,
}

#[derive(Clone, Copy, PartialEq)]
enum SystemField {
    Provider,
    EventId,
    Version,
    Level,
    Task,
    Opcode,
    Keywords,
    Time,
    RecordId,
    ActivityId,
    ProcessId,
    ThreadId,
    Channel,
    Computer,
    UserId,
}

struct DataField {
    name: Box<str>,
    /// `<Data Name="…"`, the name escaped: written as is for every record.
    open_tag: Box<str>,
    /// Its `SecurityEvent` column ([`security_column`]).
    security_column: u16,
    value: Slot,
    /// Rendered `<Data Name="…"/>` when empty (closed by an empty-element token).
    self_closing: bool,
    /// Whether a SecurityEvent row reads it when the queries read only some
    /// columns ([`Keep::security_reads_field`]).
    security_reads: bool,
}

/// How one template's records become events.
pub(super) struct Plan {
    system: Vec<(SystemField, Slot)>,
    payload: Payload,
    /// The values that leave `Event` or `System` out when NULL.
    structure: Vec<u16>,
}

/// Where an event's `EventData` is.
enum Payload {
    None,
    /// In the template itself.
    Inline(DataPlan),
    /// In a value of embedded BinXML (as Windows writes many logs): an
    /// instance of another template, whose [`DataPlan`] the reader finds.
    Embedded(u16),
}

/// `<EventData>` of named `<Data>` elements.
pub(super) struct DataPlan {
    fields: Vec<DataField>,
    self_closing: bool,
    /// The values that leave `EventData` out when NULL.
    structure: Vec<u16>,
    /// Two fields share a name: the bag holds them as an array, a shape
    /// left to the DOM (names are the template's, so this holds for every record).
    repeated_names: bool,
}

impl DataPlan {
    /// The plan of an `EventData` element, when its children are all named `Data`.
    fn of_element<'n>(node: &Node<'_>, name: &dyn Fn(u32) -> &'n str, keep: &Keep) -> Option<DataPlan> {
        let Node::Element { name: n, dependency, attributes, children, self_closing } = node else { return None };
        if name(*n) != "EventData" || !attributes.is_empty() {
            return None;
        }
        let fields: Vec<DataField> = children.iter().map(|c| data_field(c, name, keep)).collect::<Option<_>>()?;
        let repeated_names = fields.iter().enumerate().any(|(i, f)| fields[..i].iter().any(|g| g.name == f.name));
        Some(DataPlan {
            fields,
            self_closing: *self_closing,
            structure: dependency.iter().copied().collect(),
            repeated_names,
        })
    }

    /// The plan of a template that is one `EventData` element (the template
    /// of an embedded payload).
    pub fn new<'n>(nodes: &[Node<'_>], name: &dyn Fn(u32) -> &'n str, keep: &Keep) -> Option<DataPlan> {
        match nodes {
            [node] => DataPlan::of_element(node, name, keep),
            _ => None,
        }
    }
}

/// Resolves an embedded payload: the data plan and values of the template
/// instance a BinXML value holds, or `None` for any other content.
pub(super) type Embedded<'r, 'c> =
    dyn FnMut(Value<'c>) -> Result<Option<(std::rc::Rc<DataPlan>, Vec<Value<'c>>)>, Unsupported> + 'r;

impl Plan {
    /// The plan of a template, when it has the usual shape; `name` gives an
    /// element or attribute name's local part.
    pub fn new<'n>(nodes: &[Node<'_>], name: &dyn Fn(u32) -> &'n str, keep: &Keep) -> Option<Plan> {
        let [Node::Element { name: root, dependency, children, .. }] = nodes else { return None };
        if name(*root) != "Event" {
            return None;
        }
        let mut plan = Plan { system: Vec::new(), payload: Payload::None, structure: Vec::new() };
        plan.structure.extend(*dependency);
        let mut seen_system = false;
        for child in children {
            match child {
                Node::Element { name: n, dependency, children, .. } if name(*n) == "System" && !seen_system => {
                    seen_system = true;
                    plan.structure.extend(*dependency);
                    for field in children {
                        plan.system_field(field, name)?;
                    }
                }
                Node::Element { .. } if matches!(plan.payload, Payload::None) => {
                    plan.payload = Payload::Inline(DataPlan::of_element(child, name, keep)?);
                }
                Node::Text(Piece::Substitution(i)) if matches!(plan.payload, Payload::None) => {
                    plan.payload = Payload::Embedded(*i);
                }
                _ => return None,
            }
        }
        Some(plan)
    }

    fn system_field<'n>(&mut self, node: &Node<'_>, name: &dyn Fn(u32) -> &'n str) -> Option<()> {
        let Node::Element { name: n, dependency, attributes, children, .. } = node else { return None };
        let attribute = |wanted: &str| -> Option<Source> {
            match attributes.iter().find(|(a, _)| name(*a) == wanted) {
                Some((_, pieces)) => single(pieces),
                None => Some(Source::Empty),
            }
        };
        let text = || -> Option<Source> {
            match children.as_slice() {
                [] => Some(Source::Empty),
                [Node::Text(piece)] => single(std::slice::from_ref(piece)),
                _ => None,
            }
        };
        let slot = |source| Slot { source, dependency: *dependency };
        use SystemField::*;
        let fields: Vec<(SystemField, Source)> = match name(*n) {
            "Provider" => vec![(Provider, attribute("Name")?)],
            "EventID" => vec![(EventId, text()?)],
            "Version" => vec![(Version, text()?)],
            "Level" => vec![(Level, text()?)],
            "Task" => vec![(Task, text()?)],
            "Opcode" => vec![(Opcode, text()?)],
            "Keywords" => vec![(Keywords, text()?)],
            // No SystemTime attribute: the record header's time (see `event`).
            "TimeCreated" => match attributes.iter().find(|(a, _)| name(*a) == "SystemTime") {
                Some((_, pieces)) => vec![(Time, single(pieces)?)],
                None => Vec::new(),
            },
            "EventRecordID" => vec![(RecordId, text()?)],
            "Correlation" => vec![(ActivityId, attribute("ActivityID")?)],
            "Execution" => vec![(ProcessId, attribute("ProcessID")?), (ThreadId, attribute("ThreadID")?)],
            "Channel" => vec![(Channel, text()?)],
            "Computer" => vec![(Computer, text()?)],
            "Security" => vec![(UserId, attribute("UserID")?)],
            _ => Vec::new(),
        };
        self.system.extend(fields.into_iter().map(|(field, source)| (field, slot(source))));
        Some(())
    }

    /// The event of a record with these values; `None` when the values
    /// need the DOM (BinXML other than a plain payload, arrays, repeated
    /// `Data` names). A record no table keeps is a `ReadItem::Unread`;
    /// `scratch` holds its EventID and channel while that is decided (most
    /// records of a pile of logs are not kept: they cost no allocation).
    pub fn event<'c>(
        &self,
        values: &[Value<'c>],
        header_time: Option<i64>,
        keep: &Keep,
        embedded: &mut Embedded<'_, 'c>,
        scratch: &mut String,
    ) -> Result<Option<ReadItem>, Unsupported> {
        // `Event` or `System` left out: an odd record, for the DOM.
        if any_null(&self.structure, values) {
            return Ok(None);
        }
        // Which tables keep the record, when decided before its other fields.
        let mut decided = None;
        if !keep.keeps_all() {
            // EventID and channel first: most records of a pile of logs are
            // of EventIDs no query reads, and need nothing more.
            let text = scratch;
            text.clear();
            let mut id = (0, 0);
            let mut channel = (0, 0);
            for (field, slot) in &self.system {
                if matches!(field, SystemField::EventId | SystemField::Channel) && !left_out(slot, values) {
                    let Some(span) = write(&slot.source, values, text)? else { return Ok(None) };
                    *(if *field == SystemField::EventId { &mut id } else { &mut channel }) = span;
                }
            }
            let security = text[channel.0 as usize..channel.1 as usize].eq_ignore_ascii_case("Security");
            let tables = keep.tables(security, &text[id.0 as usize..id.1 as usize]);
            if tables == (false, false) {
                // No table keeps it: its time and channel are all the reader looks at.
                let mut time = None;
                for (field, slot) in &self.system {
                    if *field == SystemField::Time && !left_out(slot, values) {
                        let Some(t) = slot_time(&slot.source, values, text)? else { return Ok(None) };
                        time = t;
                    }
                }
                return Ok(Some(ReadItem::Unread { time: time.or(header_time), security }));
            }
            decided = Some(tables);
        }
        let mut event = Event::default();
        let mut time = None;
        let mut text = String::with_capacity(512);
        for (field, slot) in &self.system {
            if left_out(slot, values) {
                continue;
            }
            if *field == SystemField::Time {
                let Some(t) = slot_time(&slot.source, values, &mut text)? else { return Ok(None) };
                time = Some(t);
                continue;
            }
            let Some(span) = write(&slot.source, values, &mut text)? else { return Ok(None) };
            use SystemField::*;
            let target = match field {
                Provider => &mut event.provider,
                EventId => &mut event.event_id,
                Version => &mut event.version,
                Level => &mut event.level,
                Task => &mut event.task,
                Opcode => &mut event.opcode,
                Keywords => &mut event.keywords,
                // Read above, before anything is written.
                Time => continue,
                RecordId => &mut event.event_record_id,
                ActivityId => &mut event.activity_id,
                ProcessId => &mut event.process_id,
                ThreadId => &mut event.thread_id,
                Channel => &mut event.channel,
                Computer => &mut event.computer,
                UserId => &mut event.user_id,
            };
            *target = Text::span(span);
        }
        event.time = time.flatten().or(header_time);
        let security = event.get_in(&text, &event.channel).eq_ignore_ascii_case("Security");
        // Everything kept, or decided above to be kept by some table.
        let (to_security, to_windows) =
            decided.unwrap_or_else(|| keep.tables(security, event.get_in(&text, &event.event_id)));
        let bag_read = to_windows && keep.reads_event_data(EvtxTable::WindowsEvent);
        let xml_read = to_security && keep.reads_event_data(EvtxTable::SecurityEvent);
        // Only SecurityEvent's columns read: only their fields are decoded.
        let some_fields = !bag_read && !xml_read && !keep.keeps_all();
        let nested;
        let (data, data_values) = match &self.payload {
            Payload::None => (None, values),
            Payload::Inline(data) => (Some(data), values),
            Payload::Embedded(i) => match values.get(*i as usize) {
                Some(v) if v.ty == BINXML => match embedded(*v)? {
                    Some(found) => {
                        nested = found;
                        (Some(&*nested.0), nested.1.as_slice())
                    }
                    None => return Ok(None),
                },
                // Nothing there: no payload.
                None => (None, values),
                Some(v) if v.ty == NULL => (None, values),
                Some(_) => return Ok(None),
            },
        };
        match data {
            None => event.bag = DynValue::Object(Vec::new()).encode(),
            Some(data) => {
                if any_null(&data.structure, data_values) {
                    return Ok(None);
                }
                event.fields.reserve(data.fields.len());
                event.security_columns.reserve(data.fields.len());
                let mut present = Vec::with_capacity(data.fields.len());
                if data.repeated_names {
                    return Ok(None);
                }
                for field in &data.fields {
                    if left_out(&field.value, data_values) || (some_fields && !(to_security && field.security_reads)) {
                        continue;
                    }
                    let start = text.len() as u32;
                    text.push_str(&field.name);
                    let name = (start, text.len() as u32);
                    let Some(value) = write(&field.value.source, data_values, &mut text)? else { return Ok(None) };
                    event.fields.push((Text::span(name), Text::span(value)));
                    event.security_columns.push(field.security_column);
                    present.push(field);
                }
                if bag_read {
                    // Names are distinct: the plan has no repeated ones.
                    event.bag = bag::encode_fields(&event, &text);
                }
                if security && xml_read {
                    event.event_data_xml = data.event_data_xml(&event, &text, &present);
                }
            }
        }
        event.text = text;
        Ok(Some(ReadItem::Event(event)))
    }
}

impl DataPlan {
    /// `SecurityEvent.EventData`: the element as the DOM renders it, with
    /// Sentinel's namespace.
    fn event_data_xml(&self, event: &Event, text: &str, present: &[&DataField]) -> String {
        let mut out = String::with_capacity(64 + text.len() + 24 * present.len());
        out.push_str("<EventData xmlns=\"");
        out.push_str(EVENT_NS);
        out.push('"');
        if present.is_empty() && self.self_closing {
            out.push_str("/>");
            return out;
        }
        out.push('>');
        for ((_, value), field) in event.fields.iter().zip(present) {
            let value = event.get_in(text, value);
            out.push_str(&field.open_tag);
            if value.is_empty() && field.self_closing {
                out.push_str("/>");
                continue;
            }
            out.push('>');
            escape_into(&mut out, value, Escape::Text);
            out.push_str("</Data>");
        }
        out.push_str("</EventData>");
        out
    }
}

/// A `<Data Name="literal">` element whose text is one piece.
fn data_field<'n>(node: &Node<'_>, name: &dyn Fn(u32) -> &'n str, keep: &Keep) -> Option<DataField> {
    let Node::Element { name: n, dependency, attributes, children, self_closing } = node else { return None };
    let [(attribute, pieces)] = attributes.as_slice() else { return None };
    let [Piece::Text(field_name)] = pieces.as_slice() else { return None };
    if name(*n) != "Data" || name(*attribute) != "Name" {
        return None;
    }
    let source = match children.as_slice() {
        [] => Source::Empty,
        [Node::Text(piece)] => single(std::slice::from_ref(piece))?,
        _ => return None,
    };
    let mut open_tag = String::from("<Data Name=\"");
    escape_into(&mut open_tag, field_name, Escape::Attribute);
    open_tag.push('"');
    Some(DataField {
        name: field_name.clone(),
        open_tag: open_tag.into(),
        security_column: security_column(field_name),
        value: Slot { source, dependency: *dependency },
        self_closing: *self_closing,
        security_reads: keep.security_reads_field(field_name),
    })
}

/// The source of an attribute or text made of at most one piece.
fn single(pieces: &[Piece]) -> Option<Source> {
    match pieces {
        [] => Some(Source::Empty),
        [Piece::Text(text)] => Some(Source::Literal(text.clone())),
        [Piece::Substitution(i)] => Some(Source::Value(*i)),
        _ => None,
    }
}

/// A `TimeCreated` time: read as a number where the value is one (not
/// written as text only to be parsed back), else written into `text` and
/// parsed; `None` for a value only the DOM takes.
fn slot_time(source: &Source, values: &[Value<'_>], text: &mut String) -> Result<Option<Option<i64>>, Unsupported> {
    if let Some(t) = value_time(source, values) {
        return Ok(Some(Some(t)));
    }
    let Some(span) = write(source, values, text)? else { return Ok(None) };
    Ok(Some(parse_datetime(&text[span.0 as usize..span.1 as usize])))
}

/// The time of a source that is one FILETIME or SYSTEMTIME value.
fn value_time(source: &Source, values: &[Value<'_>]) -> Option<i64> {
    match source {
        Source::Value(i) => values.get(*i as usize).and_then(|v| binxml::value_time(*v)),
        _ => None,
    }
}

/// Whether the field's element is left out: it depends on a NULL value.
fn left_out(slot: &Slot, values: &[Value<'_>]) -> bool {
    any_null(slot.dependency.as_slice(), values)
}

/// Whether any of these values is NULL (an element depending on it is left out).
fn any_null(dependencies: &[u16], values: &[Value<'_>]) -> bool {
    dependencies.iter().any(|&d| values.get(d as usize).is_some_and(|v| v.ty == NULL))
}

/// Appends the source's text; its span, or `None` for a value only the DOM takes.
fn write(source: &Source, values: &[Value<'_>], text: &mut String) -> Result<Option<(u32, u32)>, Unsupported> {
    let start = text.len() as u32;
    match source {
        Source::Empty => {}
        Source::Literal(s) => text.push_str(s),
        Source::Value(i) => match values.get(*i as usize) {
            None => {}
            Some(v) if v.ty == BINXML || v.ty & 0x80 != 0 => return Ok(None),
            Some(v) if v.ty == NULL => {}
            Some(v) => write_value(text, *v)?,
        },
    }
    Ok(Some((start, text.len() as u32)))
}
