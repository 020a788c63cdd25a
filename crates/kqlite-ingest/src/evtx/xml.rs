//! A small, tolerant XML reader for the event XML the `evtx` crate renders.
//!
//! The renderer writes well-formed XML (escaped text, double-quoted
//! attributes, no DTD), so a full XML library is not needed; this one builds
//! a tree that borrows from the text, decodes the five predefined entities
//! and character references, keeps CDATA text, skips comments and processing
//! instructions, and returns an error (never panics) on anything else
//! malformed.

use std::borrow::Cow;
use std::ops::Range;

/// Deeper nesting than this is reported as an error instead of recursing.
const MAX_DEPTH: usize = 128;

#[derive(Debug)]
pub struct Element<'a> {
    pub name: &'a str,
    pub attributes: Vec<(&'a str, Cow<'a, str>)>,
    pub children: Vec<Node<'a>>,
    /// The whole element in the source, `<name …>…</name>` or `<name …/>`.
    pub outer: Range<usize>,
}

#[derive(Debug)]
pub enum Node<'a> {
    Element(Element<'a>),
    Text(Cow<'a, str>),
}

impl<'a> Element<'a> {
    /// The name without its namespace prefix.
    pub fn local_name(&self) -> &'a str {
        self.name.rsplit_once(':').map_or(self.name, |(_, n)| n)
    }

    pub fn attribute(&self, name: &str) -> Option<&str> {
        self.attributes.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_ref())
    }

    pub fn elements(&self) -> impl Iterator<Item = &Element<'a>> {
        self.children.iter().filter_map(|c| match c {
            Node::Element(e) => Some(e),
            Node::Text(_) => None,
        })
    }

    pub fn child(&self, local_name: &str) -> Option<&Element<'a>> {
        self.elements().find(|e| e.local_name() == local_name)
    }

    pub fn has_elements(&self) -> bool {
        self.children.iter().any(|c| matches!(c, Node::Element(_)))
    }

    /// The element's own text (its text children joined; child elements skipped).
    pub fn text(&self) -> Cow<'a, str> {
        let mut texts = self.children.iter().filter_map(|c| match c {
            Node::Text(t) => Some(t),
            Node::Element(_) => None,
        });
        match (texts.next(), texts.next()) {
            (None, _) => Cow::Borrowed(""),
            (Some(t), None) => t.clone(),
            (Some(first), Some(second)) => {
                let mut s = String::with_capacity(first.len() + second.len());
                s.push_str(first);
                s.push_str(second);
                for t in texts {
                    s.push_str(t);
                }
                Cow::Owned(s)
            }
        }
    }
}

/// Parses a document: an optional prolog, then one root element.
pub fn parse(text: &str) -> Result<Element<'_>, String> {
    let mut p = Parser { s: text, pos: 0 };
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
    p.element(0)
}

struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Parser<'a> {
    fn rest(&self) -> &'a str {
        &self.s[self.pos..]
    }

    fn error(&self, what: &str) -> String {
        format!("malformed event XML at byte {}: {what}", self.pos)
    }

    fn skip_whitespace(&mut self) {
        let rest = self.rest();
        self.pos += rest.len() - rest.trim_start().len();
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
        let len = rest.find(|c: char| c.is_whitespace() || matches!(c, '/' | '>' | '=' | '<')).unwrap_or(rest.len());
        if len == 0 {
            return Err(self.error("expected a name"));
        }
        self.pos += len;
        Ok(&rest[..len])
    }

    /// At `<`: parses one element and everything inside it.
    fn element(&mut self, depth: usize) -> Result<Element<'a>, String> {
        if depth > MAX_DEPTH {
            return Err(self.error("elements nested too deeply"));
        }
        let start = self.pos;
        self.pos += 1;
        let name = self.name()?;
        let mut attributes = Vec::new();
        loop {
            self.skip_whitespace();
            let rest = self.rest();
            if rest.starts_with("/>") {
                self.pos += 2;
                return Ok(Element { name, attributes, children: Vec::new(), outer: start..self.pos });
            }
            if rest.starts_with('>') {
                self.pos += 1;
                break;
            }
            let attr = self.name()?;
            self.skip_whitespace();
            if !self.rest().starts_with('=') {
                return Err(self.error("expected `=` after an attribute name"));
            }
            self.pos += 1;
            self.skip_whitespace();
            let quote = match self.rest().chars().next() {
                Some(q @ ('"' | '\'')) => q,
                _ => return Err(self.error("expected a quoted attribute value")),
            };
            self.pos += 1;
            let Some(len) = self.rest().find(quote) else { return Err(self.error("unterminated attribute value")) };
            let raw = &self.rest()[..len];
            self.pos += len + 1;
            attributes.push((attr, unescape(raw)));
        }
        let mut children = Vec::new();
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
                return Ok(Element { name, attributes, children, outer: start..self.pos });
            }
            if let Some(body) = rest.strip_prefix("<![CDATA[") {
                let Some(len) = body.find("]]>") else { return Err(self.error("unterminated CDATA")) };
                children.push(Node::Text(Cow::Borrowed(&body[..len])));
                self.pos += "<![CDATA[".len() + len + 3;
            } else if rest.starts_with("<!--") {
                self.skip_past("-->")?;
            } else if rest.starts_with("<?") {
                self.skip_past("?>")?;
            } else if rest.starts_with('<') {
                children.push(Node::Element(self.element(depth + 1)?));
            } else {
                let len = rest.find('<').unwrap_or(rest.len());
                children.push(Node::Text(unescape(&rest[..len])));
                self.pos += len;
            }
        }
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
                   <Data Name=\"C\"><![CDATA[<raw>]]></Data></EventData></Event>";
        let root = parse(xml).unwrap();
        assert_eq!(root.name, "Event");
        let system = root.child("System").unwrap();
        assert_eq!(system.child("EventID").unwrap().text(), "4624");
        assert_eq!(system.child("TimeCreated").unwrap().attribute("SystemTime"), Some("2019-01-01T00:00:00.1234567Z"));
        let data: Vec<_> = root.child("EventData").unwrap().elements().map(|d| d.text().into_owned()).collect();
        assert_eq!(data, vec!["x & <y> AB &bogus;", "", "<raw>"]);
        let ed = root.child("EventData").unwrap();
        assert!(xml[ed.outer.clone()].starts_with("<EventData><Data Name=\"A\">"));
        assert!(xml[ed.outer.clone()].ends_with("</EventData>"));
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
