//! KQL's `dynamic` type: a value that is null, a scalar, an array or a
//! property bag, stored in an Arrow `Binary` column in a compact encoding.
//!
//! Access never re-parses JSON: the encoding has offset tables, so
//! `d[3]` jumps to the fourth element and `d.key` compares keys without
//! decoding values. The encoding is deterministic, so equal values have equal
//! bytes and `distinct`, `make_set` and grouping can work on the bytes.
//!
//! ```text
//! value   := tag:u8 payload
//! 0 null | 1 false | 2 true
//! 3 long     i64 LE           | 4 real     f64 LE
//! 5 string   len:u32 utf8     | 8 datetime i64 LE ns | 9 timespan i64 LE ns
//! 10 guid    len:u32 utf8
//! 6 array    n:u32 end[n]:u32 elements      (end offsets relative to elements start)
//! 7 object   n:u32 end[n]:u32 entries        entry := keylen:u32 key value
//! ```

use std::fmt::Write;

const NULL: u8 = 0;
const FALSE: u8 = 1;
const TRUE: u8 = 2;
const LONG: u8 = 3;
const REAL: u8 = 4;
const STRING: u8 = 5;
const ARRAY: u8 = 6;
const OBJECT: u8 = 7;
const DATETIME: u8 = 8;
const TIMESPAN: u8 = 9;
const GUID: u8 = 10;
/// The tags of the array and object encodings, for code that lays out
/// their elements itself.
pub(crate) const ARRAY_TAG: u8 = ARRAY;
pub(crate) const OBJECT_TAG: u8 = OBJECT;

/// An owned dynamic value, for building and for tests.
#[derive(Clone, Debug, PartialEq)]
pub enum DynValue {
    Null,
    Bool(bool),
    Long(i64),
    Real(f64),
    String(String),
    /// Nanoseconds since the Unix epoch.
    Datetime(i64),
    /// Nanoseconds.
    Timespan(i64),
    Guid(String),
    Array(Vec<DynValue>),
    Object(Vec<(String, DynValue)>),
}

impl DynValue {
    pub fn encode(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(16);
        self.encode_into(&mut out);
        out
    }

    pub fn encode_into(&self, out: &mut Vec<u8>) {
        match self {
            DynValue::Null => out.push(NULL),
            DynValue::Bool(false) => out.push(FALSE),
            DynValue::Bool(true) => out.push(TRUE),
            DynValue::Long(v) => {
                out.push(LONG);
                out.extend_from_slice(&v.to_le_bytes());
            }
            DynValue::Real(v) => {
                out.push(REAL);
                out.extend_from_slice(&v.to_le_bytes());
            }
            DynValue::Datetime(v) => {
                out.push(DATETIME);
                out.extend_from_slice(&v.to_le_bytes());
            }
            DynValue::Timespan(v) => {
                out.push(TIMESPAN);
                out.extend_from_slice(&v.to_le_bytes());
            }
            DynValue::String(s) => encode_str(out, STRING, s),
            DynValue::Guid(s) => encode_str(out, GUID, s),
            DynValue::Array(items) => {
                let mut builder = ArrayEncoder::new(out);
                for item in items {
                    item.encode_into(builder.begin_item());
                    builder.end_item();
                }
                builder.finish();
            }
            DynValue::Object(entries) => {
                let mut builder = ObjectEncoder::new(out);
                for (key, value) in entries {
                    value.encode_into(builder.begin_entry(key));
                    builder.end_entry();
                }
                builder.finish();
            }
        }
    }

    /// Converts JSON (as `parse_json` does); integers that fit become longs.
    pub fn from_json(value: &serde_json::Value) -> DynValue {
        match value {
            serde_json::Value::Null => DynValue::Null,
            serde_json::Value::Bool(b) => DynValue::Bool(*b),
            serde_json::Value::Number(n) => match n.as_i64() {
                Some(i) => DynValue::Long(i),
                None => DynValue::Real(n.as_f64().unwrap_or(f64::NAN)),
            },
            serde_json::Value::String(s) => DynValue::String(s.clone()),
            serde_json::Value::Array(items) => DynValue::Array(items.iter().map(DynValue::from_json).collect()),
            serde_json::Value::Object(map) => {
                DynValue::Object(map.iter().map(|(k, v)| (k.clone(), DynValue::from_json(v))).collect())
            }
        }
    }
}

/// Appends a dynamic string, as `DynValue::String(s).encode_into(out)` would,
/// without building the value (readers encode millions of fields).
pub fn encode_string(out: &mut Vec<u8>, s: &str) {
    encode_str(out, STRING, s);
}

fn encode_str(out: &mut Vec<u8>, tag: u8, s: &str) {
    out.push(tag);
    out.extend_from_slice(&(s.len() as u32).to_le_bytes());
    out.extend_from_slice(s.as_bytes());
}

/// Writes an array element by element without building [`DynValue`]s.
pub struct ArrayEncoder<'a> {
    out: &'a mut Vec<u8>,
    header: usize,
    ends: Vec<u32>,
    elements: Vec<u8>,
}

/// Appends an array of already encoded values: what an [`ArrayEncoder`]
/// given them one by one writes, without its buffers (aggregates encode an
/// array per group).
pub fn write_encoded_array<T: AsRef<[u8]>>(out: &mut Vec<u8>, items: impl Iterator<Item = T> + Clone) {
    let (count, total) = items.clone().fold((0u32, 0usize), |(n, len), item| (n + 1, len + item.as_ref().len()));
    out.reserve(5 + 4 * count as usize + total);
    out.push(ARRAY);
    out.extend_from_slice(&count.to_le_bytes());
    let mut end = 0u32;
    for item in items.clone() {
        end += item.as_ref().len() as u32;
        out.extend_from_slice(&end.to_le_bytes());
    }
    for item in items {
        out.extend_from_slice(item.as_ref());
    }
}

impl<'a> ArrayEncoder<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        let header = out.len();
        ArrayEncoder { out, header, ends: Vec::new(), elements: Vec::new() }
    }

    /// The buffer to encode the next element into.
    pub fn begin_item(&mut self) -> &mut Vec<u8> {
        &mut self.elements
    }

    pub fn end_item(&mut self) {
        self.ends.push(self.elements.len() as u32);
    }

    /// Appends an already encoded value.
    pub fn push_encoded(&mut self, value: &[u8]) {
        self.elements.extend_from_slice(value);
        self.end_item();
    }

    pub fn finish(self) {
        let _ = self.header;
        self.out.push(ARRAY);
        self.out.extend_from_slice(&(self.ends.len() as u32).to_le_bytes());
        for end in &self.ends {
            self.out.extend_from_slice(&end.to_le_bytes());
        }
        self.out.extend_from_slice(&self.elements);
    }
}

/// Writes a property bag entry by entry.
pub struct ObjectEncoder<'a> {
    out: &'a mut Vec<u8>,
    ends: Vec<u32>,
    entries: Vec<u8>,
}

impl<'a> ObjectEncoder<'a> {
    pub fn new(out: &'a mut Vec<u8>) -> Self {
        ObjectEncoder { out, ends: Vec::new(), entries: Vec::new() }
    }

    /// An encoder with room for `entries` entries of `bytes` bytes (keys and
    /// values) in all, for callers that know them.
    pub fn with_capacity(out: &'a mut Vec<u8>, entries: usize, bytes: usize) -> Self {
        ObjectEncoder { out, ends: Vec::with_capacity(entries), entries: Vec::with_capacity(bytes) }
    }

    pub fn begin_entry(&mut self, key: &str) -> &mut Vec<u8> {
        self.entries.extend_from_slice(&(key.len() as u32).to_le_bytes());
        self.entries.extend_from_slice(key.as_bytes());
        &mut self.entries
    }

    pub fn end_entry(&mut self) {
        self.ends.push(self.entries.len() as u32);
    }

    pub fn push_encoded(&mut self, key: &str, value: &[u8]) {
        self.begin_entry(key).extend_from_slice(value);
        self.end_entry();
    }

    pub fn finish(self) {
        self.out.push(OBJECT);
        self.out.extend_from_slice(&(self.ends.len() as u32).to_le_bytes());
        for end in &self.ends {
            self.out.extend_from_slice(&end.to_le_bytes());
        }
        self.out.extend_from_slice(&self.entries);
    }
}

/// A borrowed view of an encoded value. Malformed bytes read as null rather
/// than panicking: a corrupt value must never take a query down.
#[derive(Clone, Copy, Debug)]
pub struct DynRef<'a> {
    bytes: &'a [u8],
}

/// What kind of value a [`DynRef`] holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DynKind {
    Null,
    Bool,
    Long,
    Real,
    String,
    Datetime,
    Timespan,
    Guid,
    Array,
    Object,
}

fn read_u32(bytes: &[u8], at: usize) -> Option<u32> {
    bytes.get(at..at + 4).map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
}

fn read_i64(bytes: &[u8], at: usize) -> Option<i64> {
    bytes.get(at..at + 8).map(|b| i64::from_le_bytes(b.try_into().unwrap_or([0; 8])))
}

impl<'a> DynRef<'a> {
    pub fn new(bytes: &'a [u8]) -> Self {
        DynRef { bytes }
    }

    pub fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub fn kind(&self) -> DynKind {
        match self.bytes.first() {
            Some(&FALSE) | Some(&TRUE) => DynKind::Bool,
            Some(&LONG) => DynKind::Long,
            Some(&REAL) => DynKind::Real,
            Some(&STRING) => DynKind::String,
            Some(&DATETIME) => DynKind::Datetime,
            Some(&TIMESPAN) => DynKind::Timespan,
            Some(&GUID) => DynKind::Guid,
            Some(&ARRAY) => DynKind::Array,
            Some(&OBJECT) => DynKind::Object,
            _ => DynKind::Null,
        }
    }

    pub fn is_null(&self) -> bool {
        self.kind() == DynKind::Null
    }

    pub fn as_bool(&self) -> Option<bool> {
        match self.bytes.first() {
            Some(&TRUE) => Some(true),
            Some(&FALSE) => Some(false),
            _ => None,
        }
    }

    pub fn as_long(&self) -> Option<i64> {
        match self.kind() {
            DynKind::Long | DynKind::Datetime | DynKind::Timespan => read_i64(self.bytes, 1),
            _ => None,
        }
    }

    pub fn as_real(&self) -> Option<f64> {
        match self.kind() {
            DynKind::Real => read_i64(self.bytes, 1).map(|b| f64::from_bits(b as u64)),
            DynKind::Long => self.as_long().map(|v| v as f64),
            _ => None,
        }
    }

    /// The text of a string or guid value.
    pub fn as_str(&self) -> Option<&'a str> {
        match self.kind() {
            DynKind::String | DynKind::Guid => {
                let len = read_u32(self.bytes, 1)? as usize;
                std::str::from_utf8(self.bytes.get(5..5 + len)?).ok()
            }
            _ => None,
        }
    }

    fn table(&self) -> Option<(usize, usize)> {
        let n = read_u32(self.bytes, 1)? as usize;
        let data = 5usize.checked_add(n.checked_mul(4)?)?;
        (data <= self.bytes.len()).then_some((n, data))
    }

    fn slot(&self, i: usize) -> Option<&'a [u8]> {
        let (n, data) = self.table()?;
        if i >= n {
            return None;
        }
        let start = if i == 0 { 0 } else { read_u32(self.bytes, 5 + (i - 1) * 4)? as usize };
        let end = read_u32(self.bytes, 5 + i * 4)? as usize;
        self.bytes.get(data + start..data + end)
    }

    /// Whether an array or bag has no elements; None for other values.
    pub fn is_empty(&self) -> Option<bool> {
        self.len().map(|n| n == 0)
    }

    /// Number of elements of an array or entries of a bag; None otherwise.
    pub fn len(&self) -> Option<usize> {
        match self.kind() {
            DynKind::Array | DynKind::Object => self.table().map(|(n, _)| n),
            _ => None,
        }
    }

    /// `d[i]`; negative indexes count from the end, as in Kusto.
    pub fn index(&self, i: i64) -> Option<DynRef<'a>> {
        if self.kind() != DynKind::Array {
            return None;
        }
        let n = self.len()? as i64;
        let i = if i < 0 { n + i } else { i };
        if i < 0 || i >= n {
            return None;
        }
        self.slot(i as usize).map(DynRef::new)
    }

    /// The `i`th entry of a property bag.
    pub fn entry(&self, i: usize) -> Option<(&'a str, DynRef<'a>)> {
        if self.kind() != DynKind::Object {
            return None;
        }
        let slot = self.slot(i)?;
        let key_len = read_u32(slot, 0)? as usize;
        let key = std::str::from_utf8(slot.get(4..4 + key_len)?).ok()?;
        Some((key, DynRef::new(slot.get(4 + key_len..)?)))
    }

    /// `d.key` / `d["key"]`.
    pub fn get(&self, key: &str) -> Option<DynRef<'a>> {
        if self.kind() != DynKind::Object {
            return None;
        }
        // As `entries().find(…)`, comparing bytes: a bag's keys are read
        // for every field of every row, and bytes equal to a `&str`'s are
        // valid UTF-8 without checking.
        let wanted = key.as_bytes();
        for i in 0..self.len()? {
            let Some(slot) = self.slot(i) else { continue };
            let Some(key_len) = read_u32(slot, 0) else { continue };
            let key_len = key_len as usize;
            if key_len == wanted.len() && slot.get(4..4 + key_len) == Some(wanted) {
                if let Some(value) = slot.get(4 + key_len..) {
                    return Some(DynRef::new(value));
                }
            }
        }
        None
    }

    pub fn array_items(&self) -> impl Iterator<Item = DynRef<'a>> + 'a {
        let this = *self;
        let n = if this.kind() == DynKind::Array { this.len().unwrap_or(0) } else { 0 };
        (0..n).filter_map(move |i| this.slot(i).map(DynRef::new))
    }

    pub fn entries(&self) -> impl Iterator<Item = (&'a str, DynRef<'a>)> + 'a {
        let this = *self;
        let n = if this.kind() == DynKind::Object { this.len().unwrap_or(0) } else { 0 };
        (0..n).filter_map(move |i| this.entry(i))
    }

    /// Decodes into an owned value.
    pub fn to_value(&self) -> DynValue {
        match self.kind() {
            DynKind::Null => DynValue::Null,
            DynKind::Bool => DynValue::Bool(self.as_bool().unwrap_or(false)),
            DynKind::Long => DynValue::Long(self.as_long().unwrap_or(0)),
            DynKind::Real => DynValue::Real(self.as_real().unwrap_or(f64::NAN)),
            DynKind::String => DynValue::String(self.as_str().unwrap_or("").to_string()),
            DynKind::Guid => DynValue::Guid(self.as_str().unwrap_or("").to_string()),
            DynKind::Datetime => DynValue::Datetime(self.as_long().unwrap_or(0)),
            DynKind::Timespan => DynValue::Timespan(self.as_long().unwrap_or(0)),
            DynKind::Array => DynValue::Array(self.array_items().map(|v| v.to_value()).collect()),
            DynKind::Object => DynValue::Object(self.entries().map(|(k, v)| (k.to_string(), v.to_value())).collect()),
        }
    }

    /// JSON text, as Kusto prints dynamic values (compact).
    pub fn to_json(&self) -> String {
        let mut out = String::new();
        self.write_json(&mut out);
        out
    }

    pub fn write_json(&self, out: &mut String) {
        match self.kind() {
            DynKind::Null => out.push_str("null"),
            DynKind::Bool => out.push_str(if self.as_bool() == Some(true) { "true" } else { "false" }),
            DynKind::Long => {
                let _ = write!(out, "{}", self.as_long().unwrap_or(0));
            }
            DynKind::Real => write_real_json(out, self.as_real().unwrap_or(f64::NAN)),
            DynKind::String | DynKind::Guid => write_json_string(out, self.as_str().unwrap_or("")),
            DynKind::Datetime => {
                write_json_string(out, &crate::time::format_datetime_text(self.as_long().unwrap_or(0)));
            }
            DynKind::Timespan => {
                write_json_string(out, &crate::time::format_timespan(self.as_long().unwrap_or(0)));
            }
            DynKind::Array => {
                out.push('[');
                for (i, item) in self.array_items().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_json(out);
                }
                out.push(']');
            }
            DynKind::Object => {
                out.push('{');
                for (i, (key, value)) in self.entries().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_json_string(out, key);
                    out.push(':');
                    value.write_json(out);
                }
                out.push('}');
            }
        }
    }

    /// As a JSON value: the same as parsing [`Self::to_json`], without the text.
    pub fn to_json_value(&self) -> serde_json::Value {
        use serde_json::Value;
        match self.kind() {
            DynKind::Null => Value::Null,
            DynKind::Bool => Value::Bool(self.as_bool() == Some(true)),
            DynKind::Long => Value::from(self.as_long().unwrap_or(0)),
            DynKind::String | DynKind::Guid => Value::from(self.as_str().unwrap_or("")),
            DynKind::Datetime => Value::String(crate::time::format_datetime_text(self.as_long().unwrap_or(0))),
            DynKind::Timespan => Value::String(crate::time::format_timespan(self.as_long().unwrap_or(0))),
            DynKind::Array => Value::Array(self.array_items().map(|item| item.to_json_value()).collect()),
            DynKind::Object => {
                let mut map = serde_json::Map::new();
                for (key, value) in self.entries() {
                    map.insert(key.to_string(), value.to_json_value());
                }
                Value::Object(map)
            }
            // Whole reals print without a fraction: keep exactly what the text gives.
            DynKind::Real => {
                let mut text = String::new();
                write_real_json(&mut text, self.as_real().unwrap_or(f64::NAN));
                serde_json::from_str(&text).unwrap_or(Value::Null)
            }
        }
    }

    /// The text `tostring()` gives, appended to `out`: strings unquoted,
    /// others as JSON.
    pub fn write_kql_string(&self, out: &mut String) {
        match self.kind() {
            DynKind::Null => {}
            DynKind::String | DynKind::Guid => out.push_str(self.as_str().unwrap_or("")),
            DynKind::Datetime => out.push_str(&crate::time::format_datetime_text(self.as_long().unwrap_or(0))),
            DynKind::Timespan => out.push_str(&crate::time::format_timespan(self.as_long().unwrap_or(0))),
            _ => self.write_json(out),
        }
    }

    /// The text `tostring()` gives ([`DynRef::write_kql_string`]).
    pub fn to_kql_string(&self) -> String {
        let mut out = String::new();
        self.write_kql_string(&mut out);
        out
    }
}

fn write_real_json(out: &mut String, v: f64) {
    if v.is_finite() {
        if v == v.trunc() && v.abs() < 1e15 {
            let _ = write!(out, "{v:.1}");
            // Kusto prints whole reals without a fraction in JSON.
            if out.ends_with(".0") {
                out.truncate(out.len() - 2);
            }
        } else {
            let _ = write!(out, "{v}");
        }
    } else if v.is_nan() {
        out.push_str("\"NaN\"");
    } else if v > 0.0 {
        out.push_str("\"Infinity\"");
    } else {
        out.push_str("\"-Infinity\"");
    }
}

pub fn write_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Parses JSON text into the encoding; `None` when the text is not JSON
/// (Kusto's `parse_json` then yields the text as a string value).
pub fn parse_json(text: &str) -> Option<Vec<u8>> {
    let value: serde_json::Value = serde_json::from_str(text).ok()?;
    Some(DynValue::from_json(&value).encode())
}

/// Encoded null, the value of a missing key or index.
pub const ENCODED_NULL: &[u8] = &[NULL];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arrays_written_at_once_are_what_the_encoder_writes() {
        let values = [DynValue::String("host1".into()), DynValue::Long(-3), DynValue::Null, DynValue::Array(vec![])];
        for n in 0..=values.len() {
            let items: Vec<Vec<u8>> = values[..n].iter().map(DynValue::encode).collect();
            let mut expected = b"prefix".to_vec();
            let mut encoder = ArrayEncoder::new(&mut expected);
            for item in &items {
                encoder.push_encoded(item);
            }
            encoder.finish();
            let mut written = b"prefix".to_vec();
            write_encoded_array(&mut written, items.iter());
            assert_eq!(written, expected);
            assert_eq!(&written[6..], DynValue::Array(values[..n].to_vec()).encode());
        }
    }

    #[test]
    fn json_values_are_what_the_json_text_parses_to() {
        let text = r#"{"a":[1,2.5,3.0,"x",null,true,{"b":{}}],"c":"d","e":-7,"f":[]}"#;
        let value = DynValue::from_json(&serde_json::from_str(text).unwrap());
        let bytes = value.encode();
        let d = DynRef::new(&bytes);
        assert_eq!(d.to_json_value(), serde_json::from_str::<serde_json::Value>(&d.to_json()).unwrap());
    }

    #[test]
    fn round_trips_and_access_without_decoding() {
        let json = r#"{"a":[1,2.5,"x",null,true],"b":{"c":"d"},"e":-3}"#;
        let bytes = parse_json(json).unwrap();
        let d = DynRef::new(&bytes);
        assert_eq!(d.to_json(), json);
        assert_eq!(d.get("a").unwrap().index(2).unwrap().as_str(), Some("x"));
        assert_eq!(d.get("a").unwrap().index(-1).unwrap().as_bool(), Some(true));
        assert_eq!(d.get("b").unwrap().get("c").unwrap().to_kql_string(), "d");
        assert_eq!(d.get("e").unwrap().as_long(), Some(-3));
        assert!(d.get("zz").is_none());
        assert_eq!(d.get("a").unwrap().len(), Some(5));
    }

    #[test]
    fn encoding_is_deterministic() {
        assert_eq!(parse_json("[1, \"a\"]"), parse_json("[1,\"a\"]"));
    }

    #[test]
    fn malformed_bytes_read_as_null() {
        for bytes in [&[][..], &[6, 255, 255, 255, 255][..], &[5, 9, 0, 0, 0, b'a'][..], &[3, 1][..]] {
            let d = DynRef::new(bytes);
            let _ = d.to_json();
            assert!(d.index(0).is_none() || d.index(0).is_some());
        }
    }
}
