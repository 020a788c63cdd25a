//! The event model: the fields of one record that the tables need
//! ([`Event`]), what reading a record gives ([`ReadItem`]), and the same
//! fields of an event read from elsewhere than EVTX ([`EventFields`]).

use super::bag;
use super::render;
use std::borrow::Cow;

/// A value of an [`Event`]: most are spans of its text buffer (no entity to decode).
#[derive(Clone, Debug, Default)]
pub(super) enum Text {
    #[default]
    Empty,
    Span(u32, u32),
    Owned(String),
}

impl Text {
    /// `value`, read from `xml`, as a span of it when it is one.
    pub(super) fn of(xml: &str, value: Cow<'_, str>) -> Text {
        match value {
            Cow::Borrowed("") => Text::Empty,
            Cow::Borrowed(s) => {
                let start = (s.as_ptr() as usize).wrapping_sub(xml.as_ptr() as usize);
                let end = start.wrapping_add(s.len());
                if start < end && end <= xml.len() && end <= u32::MAX as usize {
                    Text::Span(start as u32, end as u32)
                } else {
                    Text::Owned(s.to_string())
                }
            }
            Cow::Owned(s) => Text::Owned(s),
        }
    }

    /// The span `start..end` of the text buffer (empty: [`Text::Empty`]).
    pub(super) fn span((start, end): (u32, u32)) -> Text {
        if start == end {
            Text::Empty
        } else {
            Text::Span(start, end)
        }
    }

    /// The text this is, in `buffer` (the event's [`Event::text`]).
    pub(super) fn in_buffer<'a>(&'a self, buffer: &'a str) -> &'a str {
        match self {
            Text::Empty => "",
            Text::Span(start, end) => buffer.get(*start as usize..*end as usize).unwrap_or(""),
            Text::Owned(s) => s,
        }
    }
}

/// The fields of one record that the tables need, owned so that it can
/// cross from the parser's worker threads.
#[derive(Debug, Default)]
pub(super) struct Event {
    /// The buffer most [`Text`]s are spans of: the record's XML when it was
    /// read from the `evtx` crate's XML (`WindowsEvent.RawEventData`), else
    /// the values' text one after the other.
    pub text: String,
    /// `TimeCreated/@SystemTime`, else the record header's time (ns).
    pub time: Option<i64>,
    pub provider: Text,
    pub event_id: Text,
    pub version: Text,
    pub level: Text,
    pub task: Text,
    pub opcode: Text,
    pub keywords: Text,
    pub event_record_id: Text,
    pub activity_id: Text,
    pub process_id: Text,
    pub thread_id: Text,
    pub channel: Text,
    pub computer: Text,
    pub user_id: Text,
    /// `EventData/Data[@Name]` values, or the leaf children of `UserData`'s element.
    pub fields: Vec<(Text, Text)>,
    /// The `SecurityEvent` column of each field ([`security_column`](super::table::security_column)),
    /// when the reader knew them (a plan resolves its names once); else empty.
    pub security_columns: Vec<u16>,
    /// `EventData` (or `UserData`) as XML, the way `SecurityEvent.EventData`
    /// holds it; only for Security records.
    pub event_data_xml: String,
    /// `WindowsEvent.EventData`, encoded.
    pub bag: Vec<u8>,
}

impl Event {
    pub(super) fn get<'a>(&'a self, text: &'a Text) -> &'a str {
        text.in_buffer(&self.text)
    }

    /// [`Event::get`] before the text buffer has moved into the event.
    pub(super) fn get_in<'a>(&'a self, buffer: &'a str, text: &'a Text) -> &'a str {
        text.in_buffer(buffer)
    }

    pub(super) fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (self.get(n), self.get(v)))
    }

    pub(super) fn is_security(&self) -> bool {
        self.get(&self.channel).eq_ignore_ascii_case("Security")
    }
}

/// One record read, or why a record or chunk could not be.
// Nearly every item is an event: boxing it would cost an allocation a record.
#[allow(clippy::large_enum_variant)]
pub(super) enum ReadItem {
    Event(Event),
    /// A record no table keeps: counted, its time noted, nothing decoded.
    Unread {
        time: Option<i64>,
        security: bool,
    },
    /// Where (`file: record N`, `file: chunk N`) and why.
    Rejected(String, String),
}

/// A Windows event from another source, as the text Windows renders for its
/// `System` values and `EventData`; [`EventRows`](super::EventRows) makes the
/// same rows of it as of an EVTX record with these values.
#[derive(Debug, Default)]
pub(crate) struct EventFields {
    pub provider: String,
    pub event_id: String,
    pub version: String,
    pub level: String,
    pub task: String,
    pub opcode: String,
    pub keywords: String,
    /// Nanoseconds since the Unix epoch, UTC.
    pub time: Option<i64>,
    pub record_id: String,
    pub activity_id: String,
    pub process_id: String,
    pub thread_id: String,
    pub channel: String,
    pub computer: String,
    pub user_id: String,
    /// `EventData` `<Data Name=…>` values, in order.
    pub data: Vec<(String, String)>,
}

impl EventFields {
    /// The event of these values: the fields an EVTX record with them has.
    pub(super) fn to_event(&self) -> Event {
        let data_len: usize = self.data.iter().map(|(n, v)| n.len() + v.len()).sum();
        let mut text = String::with_capacity(256 + data_len);
        let mut push = |s: &str| {
            let start = text.len() as u32;
            text.push_str(s);
            Text::span((start, text.len() as u32))
        };
        let mut event = Event {
            provider: push(&self.provider),
            event_id: push(&self.event_id),
            version: push(&self.version),
            level: push(&self.level),
            task: push(&self.task),
            opcode: push(&self.opcode),
            keywords: push(&self.keywords),
            event_record_id: push(&self.record_id),
            activity_id: push(&self.activity_id),
            process_id: push(&self.process_id),
            thread_id: push(&self.thread_id),
            channel: push(&self.channel),
            computer: push(&self.computer),
            user_id: push(&self.user_id),
            // Windows renders times to 100 ns, as these events' rows always held them.
            time: self.time.map(|t| t - t.rem_euclid(100)),
            fields: Vec::with_capacity(self.data.len()),
            ..Event::default()
        };
        for (name, value) in &self.data {
            let name = push(name);
            event.fields.push((name, push(value)));
        }
        event.bag = bag::of_fields(&event, &text);
        if event.get_in(&text, &event.channel).eq_ignore_ascii_case("Security") {
            event.event_data_xml = render::fields_event_data(&self.data);
        }
        event.text = text;
        event
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The event of exported JSON holds what reading its rendering as XML
    /// gave: times to 100 ns, `EventData` escaped with `&quot;` in text too.
    #[test]
    fn fields_make_the_event_their_xml_made() {
        let fields = EventFields {
            event_id: "4688".into(),
            channel: "Security".into(),
            time: Some(1_553_038_465_123_456_789),
            data: vec![("CommandLine".into(), "cmd /c \"a & <b>\" 'c'".into()), ("Empty".into(), String::new())],
            ..EventFields::default()
        };
        let event = fields.to_event();
        assert_eq!(event.time, Some(1_553_038_465_123_456_700));
        assert_eq!(event.get(&event.event_id), "4688");
        assert!(event.is_security());
        let values: Vec<(&str, &str)> = event.fields().collect();
        assert_eq!(values, [("CommandLine", "cmd /c \"a & <b>\" 'c'"), ("Empty", "")]);
        assert_eq!(
            event.event_data_xml,
            "<EventData xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">\
             <Data Name=\"CommandLine\">cmd /c &quot;a &amp; &lt;b&gt;&quot; 'c'</Data>\
             <Data Name=\"Empty\"></Data></EventData>"
        );
        let before_1970 = EventFields { time: Some(-1), ..EventFields::default() }.to_event();
        assert_eq!(before_1970.time, Some(-100));
    }
}
