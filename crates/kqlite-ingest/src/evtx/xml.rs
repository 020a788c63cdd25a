//! A small, tolerant XML reader for the event XML the `evtx` crate renders.
//!
//! The renderer writes well-formed XML (escaped text, double-quoted
//! attributes, no DTD), so a full XML library is not needed. This one reads a
//! document into one flat arena (a few allocations per document, not per
//! element) whose strings borrow from the text; it decodes the five
//! predefined entities and character references, keeps CDATA text, skips
//! comments and processing instructions, and returns an error (never panics)
//! on anything else malformed.

use std::borrow::Cow;
use std::ops::Range;

/// Deeper nesting than this is reported as an error instead of recursing.
const MAX_DEPTH: usize = 128;
const NONE: u32 = u32::MAX;

/// A parsed document; [`Document::root`] is its element.
pub struct Document<'a> {
    elements: Vec<Node<'a>>,
    attributes: Vec<(&'a str, Cow<'a, str>)>,
    texts: Vec<TextRun<'a>>,
}

struct Node<'a> {
    name: &'a str,
    local: &'a str,
    attributes: Range<u32>,
    first_child: u32,
    last_child: u32,
    next_sibling: u32,
    first_text: u32,
    last_text: u32,
    outer: Range<usize>,
}

struct TextRun<'a> {
    text: Cow<'a, str>,
    next: u32,
}

/// An element of a [`Document`].
#[derive(Clone, Copy)]
pub struct Element<'d, 'a> {
    doc: &'d Document<'a>,
    index: u32,
}

impl<'a> Document<'a> {
    pub fn root<'d>(&'d self) -> Element<'d, 'a> {
        Element { doc: self, index: 0 }
    }
}

impl<'d, 'a> Element<'d, 'a> {
    fn node(&self) -> &'d Node<'a> {
        &self.doc.elements[self.index as usize]
    }

    pub fn name(&self) -> &'a str {
        self.node().name
    }

    /// The name without its namespace prefix.
    pub fn local_name(&self) -> &'a str {
        self.node().local
    }

    /// The whole element in the source, `<name …>…</name>` or `<name …/>`.
    pub fn outer(&self) -> Range<usize> {
        self.node().outer.clone()
    }

    pub fn attributes(&self) -> impl Iterator<Item = (&'a str, &'d str)> + 'd {
        let Range { start, end } = self.node().attributes.clone();
        self.doc.attributes[start as usize..end as usize].iter().map(|(n, v)| (*n, v.as_ref()))
    }

    pub fn attribute(&self, name: &str) -> Option<&'d str> {
        self.attributes().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    /// An attribute's value as read (borrowed from the source when it had no entities).
    pub fn attribute_cow(&self, name: &str) -> Option<&'d Cow<'a, str>> {
        let Range { start, end } = self.node().attributes.clone();
        self.doc.attributes[start as usize..end as usize].iter().find(|(n, _)| *n == name).map(|(_, v)| v)
    }

    pub fn elements(&self) -> impl Iterator<Item = Element<'d, 'a>> + 'd {
        let doc = self.doc;
        let mut next = self.node().first_child;
        std::iter::from_fn(move || {
            if next == NONE {
                return None;
            }
            let element = Element { doc, index: next };
            next = doc.elements[next as usize].next_sibling;
            Some(element)
        })
    }

    pub fn child(&self, local_name: &str) -> Option<Element<'d, 'a>> {
        self.elements().find(|e| e.local_name() == local_name)
    }

    pub fn has_elements(&self) -> bool {
        self.node().first_child != NONE
    }

    /// The element's own text (its text children joined; child elements skipped).
    pub fn text(&self) -> Cow<'a, str> {
        let node = self.node();
        if node.first_text == NONE {
            return Cow::Borrowed("");
        }
        let first = &self.doc.texts[node.first_text as usize];
        if first.next == NONE {
            return first.text.clone();
        }
        let mut s = String::new();
        let mut at = node.first_text;
        while at != NONE {
            let run = &self.doc.texts[at as usize];
            s.push_str(&run.text);
            at = run.next;
        }
        Cow::Owned(s)
    }
}

/// Parses a document: an optional prolog, then one root element.
pub fn parse(text: &str) -> Result<Document<'_>, String> {
    let mut p = Parser {
        s: text,
        pos: 0,
        doc: Document {
            elements: Vec::with_capacity(32),
            attributes: Vec::with_capacity(32),
            texts: Vec::with_capacity(32),
        },
    };
    loop {
        p.skip_whitespace();
        if p.rest().starts_with("<?") {
            p.skip_past("?>")?;
        } else if p.rest().starts_with("<!--") {
            p.skip_past("-->")?;
        } else if p.rest().starts_with("<!") {
            p.skip_past(">")?;
        } else {
            break;
        }
    }
    if !p.rest().starts_with('<') {
        return Err(p.error("expected the root element"));
    }
    p.element(0)?;
    Ok(p.doc)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
    doc: Document<'a>,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn error(&self, what: &str) -> String {
        format!("malformed event XML at byte {}: {what}", self.pos)
    }

    fn skip_whitespace(&mut self) {
        let bytes = self.s.as_bytes();
        while self.pos < bytes.len() && matches!(bytes[self.pos], b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
    }

    fn skip_past(&mut self, end: &str) -> Result<(), String> {
        match self.rest().find(end) {
            Some(i) => {
                self.pos += i + end.len();
                Ok(())
            }
            None => Err(self.error(&format!("missing `{end}`"))),
        }
    }

    fn name(&mut self) -> Result<&'a str, String> {
        let rest = self.rest();
        let len = rest
            .bytes()
            .position(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\r' | b'/' | b'>' | b'=' | b'<'))
            .unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("expected a name"));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    fn push_text(&mut self, element: u32, text: Cow<'a, str>) {
        let index = self.doc.texts.len() as u32;
        self.doc.texts.push(TextRun { text, next: NONE });
        let node = &mut self.doc.elements[element as usize];
        if node.last_text == NONE {
            node.first_text = index;
        } else {
            self.doc.texts[node.last_text as usize].next = index;
        }
        node.last_text = index;
    }

    /// At `<`: parses one element and everything inside it; returns its index.
    fn element(&mut self, depth: usize) -> Result<u32, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("elements nested too deeply"));
        }
        if self.doc.elements.len() >= NONE as usize - 1 {
            return Err(self.error("too many elements"));
        }
        let start = self.pos;
        self.pos += 1;
        let name = self.name()?;
        let local = name.rsplit_once(':').map_or(name, |(_, n)| n);
        let index = self.doc.elements.len() as u32;
        let first_attribute = self.doc.attributes.len() as u32;
        self.doc.elements.push(Node {
            name,
            local,
            attributes: first_attribute..first_attribute,
            first_child: NONE,
            last_child: NONE,
            next_sibling: NONE,
            first_text: NONE,
            last_text: NONE,
            outer: start..start,
        });
        loop {
            self.skip_whitespace();
            let rest = self.rest();
            if rest.starts_with("/>") {
                self.pos += 2;
                self.close(index, first_attribute, start);
                return Ok(index);
            }
            if rest.starts_with('>') {
                self.pos += 1;
                break;
            }
            let attribute = self.name()?;
            self.skip_whitespace();
            if !self.rest().starts_with('=') {
                return Err(self.error("expected `=` after an attribute name"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let quote = match self.rest().as_bytes().first() {
                Some(&q @ (b'"' | b'\'')) => q as char,
                _ => return Err(self.error("expected a quoted attribute value")),
            };
            self.pos += 1;
            let Some(len) = self.rest().find(quote) else { return Err(self.error("unterminated attribute value")) };
            let raw = &self.rest()[..len];
            self.pos += len + 1;
            self.doc.attributes.push((attribute, unescape(raw)));
        }
        self.doc.elements[index as usize].attributes = first_attribute..self.doc.attributes.len() as u32;
        loop {
            let rest = self.rest();
            if rest.is_empty() {
                return Err(self.error(&format!("`<{name}>` is not closed")));
            }
            if rest.starts_with("</") {
                self.pos += 2;
                let close = self.name()?;
                if close != name {
                    return Err(self.error(&format!("`<{name}>` closed by `</{close}>`")));
                }
                self.skip_whitespace();
                if !self.rest().starts_with('>') {
                    return Err(self.error("expected `>`"));
                }
                self.pos += 1;
                self.doc.elements[index as usize].outer = start..self.pos;
                return Ok(index);
            }
            if let Some(body) = rest.strip_prefix("<![CDATA[") {
                let Some(len) = body.find("]]>") else { return Err(self.error("unterminated CDATA")) };
                self.push_text(index, Cow::Borrowed(&body[..len]));
                self.pos += "<![CDATA[".len() + len + 3;
            } else if rest.starts_with("<!--") {
                self.skip_past("-->")?;
            } else if rest.starts_with("<?") {
                self.skip_past("?>")?;
            } else if rest.starts_with('<') {
                let child = self.element(depth + 1)?;
                let node = &mut self.doc.elements[index as usize];
                if node.last_child == NONE {
                    node.first_child = child;
                } else {
                    let last = node.last_child as usize;
                    self.doc.elements[last].next_sibling = child;
                }
                self.doc.elements[index as usize].last_child = child;
            } else {
                let len = rest.find('<').unwrap_or(rest.len());
                self.push_text(index, unescape(&rest[..len]));
                self.pos += len;
            }
        }
    }

    fn close(&mut self, index: u32, first_attribute: u32, start: usize) {
        let node = &mut self.doc.elements[index as usize];
        node.attributes = first_attribute..self.doc.attributes.len() as u32;
        node.outer = start..self.pos;
    }
}

/// Decodes `&amp;`, `&lt;`, `&gt;`, `&quot;`, `&apos;`, `&#N;` and `&#xH;`;
/// anything else after `&` is kept as written.
pub fn unescape(raw: &str) -> Cow<'_, str> {
    if !raw.contains('&') {
        return Cow::Borrowed(raw);
    }
    let mut out = String::with_capacity(raw.len());
    let mut rest = raw;
    while let Some(i) = rest.find('&') {
        out.push_str(&rest[..i]);
        rest = &rest[i..];
        let decoded = rest.find(';').filter(|&end| end <= 12).and_then(|end| {
            let entity = &rest[1..end];
            let c = match entity {
                "amp" => '&',
                "lt" => '<',
                "gt" => '>',
                "quot" => '"',
                "apos" => '\'',
                _ => {
                    let code = if let Some(hex) = entity.strip_prefix("#x").or_else(|| entity.strip_prefix("#X")) {
                        u32::from_str_radix(hex, 16).ok()?
                    } else {
                        entity.strip_prefix('#')?.parse::<u32>().ok()?
                    };
                    char::from_u32(code)?
                }
            };
            Some((c, end + 1))
        });
        match decoded {
            Some((c, len)) => {
                out.push(c);
                rest = &rest[len..];
            }
            None => {
                out.push('&');
                rest = &rest[1..];
            }
        }
    }
    out.push_str(rest);
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_event_xml() {
        let xml = "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n<Event xmlns=\"ns\"><System><EventID Qualifiers=\"\">4624</EventID>\
                   <TimeCreated SystemTime=\"2019-01-01T00:00:00.1234567Z\"/></System>\
                   <EventData><Data Name=\"A\">x &amp; &lt;y&gt; &#65;&#x42; &bogus;</Data><Data Name=\"B\"></Data>\
                   <Data Name=\"C\"><![CDATA[<raw>]]></Data><Data>a<!-- c -->b<x/>c</Data></EventData></Event>";
        let doc = parse(xml).unwrap();
        let root = doc.root();
        assert_eq!(root.name(), "Event");
        assert_eq!(root.attribute("xmlns"), Some("ns"));
        let system = root.child("System").unwrap();
        assert_eq!(system.child("EventID").unwrap().text(), "4624");
        assert_eq!(system.child("TimeCreated").unwrap().attribute("SystemTime"), Some("2019-01-01T00:00:00.1234567Z"));
        let data: Vec<_> = root.child("EventData").unwrap().elements().map(|d| d.text().into_owned()).collect();
        assert_eq!(data, vec!["x & <y> AB &bogus;", "", "<raw>", "abc"]);
        let ed = root.child("EventData").unwrap();
        assert!(xml[ed.outer()].starts_with("<EventData><Data Name=\"A\">"));
        assert!(xml[ed.outer()].ends_with("</EventData>"));
        let time = system.child("TimeCreated").unwrap();
        assert_eq!(&xml[time.outer()], "<TimeCreated SystemTime=\"2019-01-01T00:00:00.1234567Z\"/>");
        assert!(!time.has_elements() && system.has_elements());
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        for bad in ["", "text", "<a", "<a><b></a>", "<a x=1/>", "<a x=\"1/>", "<a>", "<a><![CDATA[x</a>", "<é"] {
            assert!(parse(bad).is_err(), "{bad}");
        }
        let deep = "<a>".repeat(1000);
        assert!(parse(&deep).is_err());
    }
}
