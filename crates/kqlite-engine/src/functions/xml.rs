//! `parse_xml`: XML text to a dynamic value, as Kusto converts it.

use super::{coerce, Registry};
use crate::convert::Bound;
use crate::dynamic::DynValue;
use crate::types::KqlType;
use crate::udf;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use quick_xml::events::Event;
use quick_xml::Reader;

/// Kusto turns longer inputs into null rather than parsing them.
const MAX_INPUT: usize = 1_048_576;

pub fn register(r: &mut Registry) {
    r.scalar("parse_xml", 1, 1, |_, mut a| {
        let text = coerce("parse_xml", 1, a.swap_remove(0), KqlType::String)?;
        Ok(Bound::new(
            udf::call("kql_parse_xml", DataType::Binary, parse_xml_kernel, vec![text.expr]),
            KqlType::Dynamic,
        ))
    });
}

/// Invalid XML yields dynamic null, never an error, so one bad row does not fail the query.
fn parse_xml_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::text_to_dynamic(args, rows, |text| parse_xml(text).map(|value| value.encode()))
}

/// An element being read: its attributes (`@name`) and its content in document order,
/// where text pieces are keyed `#text`.
struct Element {
    name: String,
    attrs: Vec<(String, DynValue)>,
    content: Vec<(String, DynValue)>,
    has_children: bool,
}

impl Element {
    fn open(e: &quick_xml::events::BytesStart) -> Option<Element> {
        let name = String::from_utf8(e.name().as_ref().to_vec()).ok()?;
        let mut attrs = Vec::new();
        for attr in e.attributes() {
            let attr = attr.ok()?;
            let key = std::str::from_utf8(attr.key.as_ref()).ok()?;
            attrs.push((format!("@{key}"), DynValue::String(attr.unescape_value().ok()?.into_owned())));
        }
        Some(Element { name, attrs, content: Vec::new(), has_children: false })
    }

    /// Text-only elements collapse to their text (null when empty); others become a bag
    /// where same-named siblings merge into an array at the first one's position.
    fn close(self) -> DynValue {
        if self.attrs.is_empty() && !self.has_children {
            let text: String = self.content.into_iter().filter_map(|(_, v)| as_string(v)).collect();
            return if text.trim().is_empty() { DynValue::Null } else { DynValue::String(text) };
        }
        let mut bag = self.attrs;
        for (key, value) in self.content {
            let value = match value {
                DynValue::String(s) if key == "#text" => match s.trim() {
                    "" => continue,
                    t => DynValue::String(t.to_string()),
                },
                v => v,
            };
            match bag.iter_mut().find(|(k, _)| *k == key) {
                Some((_, DynValue::Array(items))) => items.push(value),
                Some((_, existing)) => {
                    *existing = DynValue::Array(vec![std::mem::replace(existing, DynValue::Null), value])
                }
                None => bag.push((key, value)),
            }
        }
        DynValue::Object(bag)
    }
}

fn as_string(v: DynValue) -> Option<String> {
    match v {
        DynValue::String(s) => Some(s),
        _ => None,
    }
}

/// Only elements, attributes and text (CDATA included) are kept; declarations, comments,
/// processing instructions and doctypes are skipped, as Kusto documents.
fn parse_xml(text: &str) -> Option<DynValue> {
    if text.len() > MAX_INPUT {
        return None;
    }
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root = None;
    loop {
        let (key, value) = match reader.read_event().ok()? {
            Event::Start(e) => {
                if root.is_some() {
                    return None;
                }
                stack.push(Element::open(&e)?);
                continue;
            }
            Event::Empty(e) => {
                let element = Element::open(&e)?;
                let value = if element.attrs.is_empty() { DynValue::Null } else { DynValue::Object(element.attrs) };
                (element.name, value)
            }
            Event::End(_) => {
                let element = stack.pop()?;
                (element.name.clone(), element.close())
            }
            Event::Text(t) => ("#text".to_string(), DynValue::String(t.unescape().ok()?.into_owned())),
            Event::CData(t) => {
                ("#text".to_string(), DynValue::String(String::from_utf8(t.into_inner().to_vec()).ok()?))
            }
            Event::Eof => break,
            _ => continue,
        };
        match stack.last_mut() {
            Some(parent) => {
                parent.has_children |= key != "#text";
                parent.content.push((key, value));
            }
            // Outside the root only whitespace may appear, and only one root element.
            None if key == "#text" => match value {
                DynValue::String(s) if s.trim().is_empty() => {}
                _ => return None,
            },
            None if root.is_none() => root = Some(DynValue::Object(vec![(key, value)])),
            None => return None,
        }
    }
    if stack.is_empty() {
        root
    } else {
        None
    }
}
