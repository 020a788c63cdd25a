//! XML text: `SecurityEvent.EventData` (the payload element as Sentinel
//! stores it, with the event namespace) rendered from a record's fields or
//! DOM, and the one XML escaper every rendering uses.

use super::binxml::{ChunkReader, Dom};

/// The namespace of Windows event XML, which `SecurityEvent.EventData` names.
pub(super) const EVENT_NS: &str = "http://schemas.microsoft.com/win/2004/08/events/event";

/// Which characters [`escape_into`] replaces with entities.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Escape {
    /// Character data as the `evtx` crate writes it: `&<>`.
    Text,
    /// Attribute values as the `evtx` crate writes them: `&<>"'`.
    Attribute,
    /// `&<>"`, in text and attributes alike: how events from exported
    /// JSON ([`fields_event_data`]) have always been rendered.
    TextAndDoubleQuote,
}

/// Appends `text`, escaped as `escape` says.
pub(super) fn escape_into(out: &mut String, text: &str, escape: Escape) {
    // Nearly every value has nothing to escape: checked eight bytes at a
    // time, it is copied whole (the byte loop below cost 3% of ingesting).
    let bytes = text.as_bytes();
    let mut words = bytes.chunks_exact(8);
    let clean = words.all(|w| !has_special(u64::from_le_bytes(w.try_into().expect("8 bytes")), escape))
        && !words.remainder().iter().any(|&b| escaped(b, escape).is_some());
    if clean {
        out.push_str(text);
        return;
    }
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        let Some(entity) = escaped(b, escape) else { continue };
        out.push_str(&text[run..i]);
        out.push_str(entity);
        run = i + 1;
    }
    out.push_str(&text[run..]);
}

/// The entity `escape` writes for byte `b`, if any.
fn escaped(b: u8, escape: Escape) -> Option<&'static str> {
    match b {
        b'&' => Some("&amp;"),
        b'<' => Some("&lt;"),
        b'>' => Some("&gt;"),
        b'"' if escape != Escape::Text => Some("&quot;"),
        b'\'' if escape == Escape::Attribute => Some("&apos;"),
        _ => None,
    }
}

/// Whether the eight bytes of `w` hold one that `escape` replaces. Exact:
/// the zero-byte test has no false positives for "is there one".
fn has_special(w: u64, escape: Escape) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let is = |b: u8| zero(w ^ (ONES * u64::from(b)));
    let mut found = is(b'&') | is(b'<') | is(b'>');
    if escape != Escape::Text {
        found |= is(b'"');
    }
    if escape == Escape::Attribute {
        found |= is(b'\'');
    }
    found != 0
}

/// An element of a [`Dom`] as XML, the way the `evtx` crate renders it
/// (`<X/>` only for an element the BinXML closed as empty; its own text
/// before its children). `namespace`: give the element Sentinel's `xmlns`
/// when it has none, as `SecurityEvent.EventData` holds it (see [`with_namespace`]).
pub(super) fn dom_element(reader: &ChunkReader<'_>, dom: &Dom, e: u32, namespace: bool) -> String {
    let mut out = String::with_capacity(256 + dom.span(dom.elements[e as usize].text).len());
    write_dom_element(reader, dom, e, namespace, &mut out);
    out
}

fn write_dom_element(reader: &ChunkReader<'_>, dom: &Dom, e: u32, namespace: bool, out: &mut String) {
    let element = &dom.elements[e as usize];
    let name = reader.qualified_name(element.name);
    out.push('<');
    out.push_str(name);
    if namespace && !dom.attributes(e).iter().any(|a| reader.qualified_name(a.name).starts_with("xmlns")) {
        out.push_str(" xmlns=\"");
        out.push_str(EVENT_NS);
        out.push('"');
    }
    for a in dom.attributes(e) {
        out.push(' ');
        out.push_str(reader.qualified_name(a.name));
        out.push_str("=\"");
        escape_into(out, dom.span(a.value), Escape::Attribute);
        out.push('"');
    }
    let text = dom.span(element.text);
    if element.self_closing && text.is_empty() && !dom.has_children(e) {
        out.push_str("/>");
        return;
    }
    out.push('>');
    escape_into(out, text, Escape::Text);
    for c in dom.children(e) {
        write_dom_element(reader, dom, c, false, out);
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// `<EventData>` of named `Data` values, as events from exported JSON hold it.
pub(super) fn fields_event_data(data: &[(String, String)]) -> String {
    let mut out = String::with_capacity(64 + data.iter().map(|(n, v)| n.len() + v.len() + 24).sum::<usize>());
    out.push_str("<EventData xmlns=\"");
    out.push_str(EVENT_NS);
    out.push_str("\">");
    for (name, value) in data {
        out.push_str("<Data Name=\"");
        escape_into(&mut out, name, Escape::TextAndDoubleQuote);
        out.push_str("\">");
        escape_into(&mut out, value, Escape::TextAndDoubleQuote);
        out.push_str("</Data>");
    }
    out.push_str("</EventData>");
    out
}

/// `<EventData …>` (as written in the record's XML) with Sentinel's
/// `xmlns` added when the element has none.
pub(super) fn with_namespace(element: &str, name: &str) -> String {
    let head_end = element.find(['>', '/']).unwrap_or(element.len());
    if element[..head_end].contains("xmlns") {
        return element.to_string();
    }
    let at = 1 + name.len();
    let mut out = String::with_capacity(element.len() + EVENT_NS.len() + 9);
    out.push_str(&element[..at]);
    out.push_str(" xmlns=\"");
    out.push_str(EVENT_NS);
    out.push('"');
    out.push_str(&element[at..]);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time check finds every character XML escapes, at every
    /// offset in and after the eight-byte words.
    #[test]
    fn xml_escaping_finds_specials_anywhere() {
        let naive = |text: &str, escape: Escape| {
            let mut out = String::new();
            for c in text.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' if escape != Escape::Text => out.push_str("&quot;"),
                    '\'' if escape == Escape::Attribute => out.push_str("&apos;"),
                    c => out.push(c),
                }
            }
            out
        };
        for len in 0..20 {
            for at in 0..len {
                for special in ['&', '<', '>', '"', '\'', 'é', '%'] {
                    let mut text: String = "abcdefghijklmnopqrstu"[..len].to_string();
                    text.replace_range(at..at + 1, &special.to_string());
                    for escape in [Escape::Text, Escape::Attribute, Escape::TextAndDoubleQuote] {
                        let mut out = "kept ".to_string();
                        escape_into(&mut out, &text, escape);
                        assert_eq!(out, format!("kept {}", naive(&text, escape)), "{text:?}");
                    }
                }
            }
        }
    }
}
