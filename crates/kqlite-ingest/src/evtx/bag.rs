//! `WindowsEvent.EventData`, the property bag of a record's payload:
//! encoded straight from the fields when they are plain named `Data` with
//! distinct names (nearly always), else built from the payload's elements
//! ([`Tree`]), repeated names becoming arrays.

use super::event::Event;
use kqlite_engine::dynamic::{encode_string, DynValue, ObjectEncoder};

/// The bag of an `EventData` made only of named `Data` with distinct names
/// (nearly all of them), encoded straight from the fields.
pub(super) fn encode_plain(event: &Event, text: &str) -> Option<Vec<u8>> {
    (!has_repeated_names(event, text)).then(|| encode_fields(event, text))
}

/// The bag of fields that are all named `Data`, whatever their names.
pub(super) fn of_fields(event: &Event, text: &str) -> Vec<u8> {
    match encode_plain(event, text) {
        Some(bag) => bag,
        None => {
            let mut bag = Bag::default();
            for (name, value) in &event.fields {
                bag.insert(event.get_in(text, name).to_string(), DynValue::String(event.get_in(text, value).into()));
            }
            DynValue::Object(bag.entries).encode()
        }
    }
}

/// `WindowsEvent.EventData` of fields whose names are known to be distinct.
pub(super) fn encode_fields(event: &Event, text: &str) -> Vec<u8> {
    let n = event.fields.len();
    let bytes: usize =
        event.fields.iter().map(|(n, v)| event.get_in(text, n).len() + event.get_in(text, v).len() + 9).sum();
    let mut out = Vec::with_capacity(bytes + 4 * n + 5);
    let mut encoder = ObjectEncoder::with_capacity(&mut out, n, bytes);
    for (name, value) in &event.fields {
        encode_string(encoder.begin_entry(event.get_in(text, name)), event.get_in(text, value));
        encoder.end_entry();
    }
    encoder.finish();
    out
}

/// Whether two `EventData` fields share a name (the bag holds them as an
/// array: a shape left to the DOM).
fn has_repeated_names(event: &Event, text: &str) -> bool {
    // Compared in place: this runs for nearly every record, with a handful
    // of fields, so no list of names is built.
    let fields = &event.fields;
    fields.iter().enumerate().any(|(i, (name, _))| {
        let name = event.get_in(text, name);
        fields[..i].iter().any(|(other, _)| event.get_in(text, other) == name)
    })
}

/// The end of a linked list of element indexes (no child, no sibling).
pub(super) const NONE: u32 = u32::MAX;

/// The elements of a linked list: `first`, then each one's `next`, up to
/// [`NONE`]. Both DOMs link an element's children this way.
pub(super) fn siblings(first: u32, next: impl Fn(u32) -> u32) -> impl Iterator<Item = u32> {
    let mut current = first;
    std::iter::from_fn(move || {
        let this = current;
        (this != NONE).then(|| {
            current = next(this);
            this
        })
    })
}

/// An element tree a bag is built from: a record's BinXML
/// [`Dom`](super::binxml::Dom), or the `evtx` crate's XML of it, parsed.
/// Elements are indexes.
pub(super) trait Tree {
    /// The element's name without its namespace prefix.
    fn local_name(&self, e: u32) -> &str;
    /// Its attributes: qualified name and value.
    fn attributes(&self, e: u32) -> impl Iterator<Item = (&str, &str)> + '_;
    fn children(&self, e: u32) -> impl Iterator<Item = u32> + '_;
    fn has_children(&self, e: u32) -> bool;
    /// Its own text (its children's left out).
    fn text(&self, e: u32) -> &str;
}

/// The bag of any `EventData`: named `Data` by name, unnamed `Data` under
/// `Data` (an array when several), other elements (`Binary`) by their name;
/// repeated names become arrays.
pub(super) fn of_event_data(tree: &impl Tree, payload: u32) -> Vec<u8> {
    let mut bag = Bag::default();
    let mut unnamed = Vec::new();
    for item in tree.children(payload) {
        let name = tree.attributes(item).find(|(n, _)| *n == "Name").map(|(_, v)| v);
        match (tree.local_name(item), name) {
            ("Data", Some(name)) => bag.insert(name.to_string(), DynValue::String(tree.text(item).to_string())),
            ("Data", None) => unnamed.push(DynValue::String(tree.text(item).to_string())),
            (other, _) => bag.insert(other.to_string(), element_value(tree, item)),
        }
    }
    match unnamed.len() {
        0 => {}
        1 => bag.insert("Data".to_string(), unnamed.pop().expect("one value")),
        _ => bag.insert("Data".to_string(), DynValue::Array(unnamed)),
    }
    DynValue::Object(bag.entries).encode()
}

/// The bag of `UserData`'s element: see [`element_object`].
pub(super) fn of_user_data(tree: &impl Tree, element: u32) -> Vec<u8> {
    element_object(tree, element).encode()
}

/// A property bag that turns repeated keys into arrays.
#[derive(Default)]
struct Bag {
    entries: Vec<(String, DynValue)>,
}

impl Bag {
    fn insert(&mut self, key: String, value: DynValue) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, DynValue::Array(items))) => items.push(value),
            Some((_, existing)) => {
                let first = std::mem::replace(existing, DynValue::Null);
                *existing = DynValue::Array(vec![first, value]);
            }
            None => self.entries.push((key, value)),
        }
    }
}

/// A leaf element is its text; others are bags (see [`element_object`]).
fn element_value(tree: &impl Tree, e: u32) -> DynValue {
    if !tree.has_children(e) && tree.attributes(e).all(|(n, _)| is_namespace(n)) {
        DynValue::String(tree.text(e).to_string())
    } else {
        element_object(tree, e)
    }
}

/// Attributes (but namespaces) and child elements as a bag; own text, if
/// any besides whitespace, under `#text`.
fn element_object(tree: &impl Tree, e: u32) -> DynValue {
    let mut bag = Bag::default();
    for (name, value) in tree.attributes(e).filter(|(n, _)| !is_namespace(n)) {
        bag.insert(name.to_string(), DynValue::String(value.to_string()));
    }
    for child in tree.children(e) {
        bag.insert(tree.local_name(child).to_string(), element_value(tree, child));
    }
    let text = tree.text(e);
    if !text.trim().is_empty() {
        bag.insert("#text".to_string(), DynValue::String(text.to_string()));
    }
    DynValue::Object(bag.entries)
}

fn is_namespace(attribute: &str) -> bool {
    attribute == "xmlns" || attribute.starts_with("xmlns:")
}
