//! Findings as JSON text, written straight into a byte buffer.
//!
//! A hunt can print hundreds of thousands of findings; going through
//! serde's pretty printer and then re-indenting its text cost more than
//! finding them. The text is byte for byte what `serde_json` writes for
//! [`super::FindingJson`] (compact, or pretty with two-space indents
//! nested at a given depth); the tests hold it to that.

use super::FindingJson;
use serde_json::Value;

/// How a value is laid out: on one line, or pretty at a nesting depth
/// (two spaces per level, as `serde_json::to_writer_pretty`).
#[derive(Clone, Copy)]
pub(super) enum Layout {
    Compact,
    Pretty(usize),
}

impl Layout {
    fn inner(self) -> Layout {
        match self {
            Layout::Compact => Layout::Compact,
            Layout::Pretty(depth) => Layout::Pretty(depth + 1),
        }
    }
}

/// Appends the finding's JSON object; in `Layout::Pretty(depth)`, its
/// first line is not indented (the caller places it) and its closing
/// brace is at `depth`.
pub(super) fn write_finding(out: &mut Vec<u8>, f: &FindingJson<'_>, layout: Layout) {
    let mut o = Object::begin(out, layout);
    write_str(o.key("severity"), f.severity);
    write_str(o.key("rule_severity"), f.rule_severity);
    write_str(o.key("rule_id"), f.rule_id);
    write_str(o.key("rule_name"), f.rule_name);
    write_strs(o.key("techniques"), f.techniques, layout.inner());
    write_str(o.key("account"), f.account);
    write_strs(o.key("account_forms"), f.account_forms, layout.inner());
    write_str(o.key("source"), f.source);
    write_strs(o.key("targets"), f.targets, layout.inner());
    write_u64(o.key("count"), f.count);
    write_opt_str(o.key("first_seen"), f.first_seen.as_deref());
    write_opt_str(o.key("last_seen"), f.last_seen.as_deref());
    write_i64(o.key("risk_score"), f.risk_score);
    write_strs(o.key("reasons"), f.reasons, layout.inner());
    write_strs(o.key("agreeing_rules"), f.agreeing_rules, layout.inner());
    let details = o.key("details");
    write_object(details, f.details, layout.inner());
    let evidence = o.key("evidence");
    write_array(evidence, f.evidence.iter(), layout.inner(), write_object);
    o.end();
}

/// An object being written: keys with their separators and indentation.
struct Object<'o> {
    out: &'o mut Vec<u8>,
    layout: Layout,
    empty: bool,
}

impl<'o> Object<'o> {
    fn begin(out: &'o mut Vec<u8>, layout: Layout) -> Object<'o> {
        out.push(b'{');
        Object { out, layout, empty: true }
    }

    /// Writes the key of the next member; its value goes into the result.
    fn key(&mut self, key: &str) -> &mut Vec<u8> {
        if !self.empty {
            self.out.push(b',');
        }
        self.empty = false;
        newline(self.out, self.layout.inner());
        write_str(self.out, key);
        self.out.extend_from_slice(match self.layout {
            Layout::Compact => b":",
            Layout::Pretty(_) => b": ",
        });
        self.out
    }

    fn end(self) {
        if !self.empty {
            newline(self.out, self.layout);
        }
        self.out.push(b'}');
    }
}

/// In pretty layout, a line break and the indentation of `layout`'s depth.
fn newline(out: &mut Vec<u8>, layout: Layout) {
    if let Layout::Pretty(depth) = layout {
        out.push(b'\n');
        out.resize(out.len() + 2 * depth, b' ');
    }
}

fn write_strs(out: &mut Vec<u8>, items: &[String], layout: Layout) {
    write_array(out, items.iter(), layout, |out, s, _| write_str(out, s));
}

/// `[a, b, …]`: the items one level inside `layout`, the closing bracket at it.
fn write_array<T>(
    out: &mut Vec<u8>,
    items: impl ExactSizeIterator<Item = T>,
    layout: Layout,
    mut write_item: impl FnMut(&mut Vec<u8>, T, Layout),
) {
    out.push(b'[');
    let empty = items.len() == 0;
    for (i, item) in items.enumerate() {
        if i > 0 {
            out.push(b',');
        }
        newline(out, layout.inner());
        write_item(out, item, layout.inner());
    }
    if !empty {
        newline(out, layout);
    }
    out.push(b']');
}

/// An object: its members one level inside `layout`, the closing brace at it.
fn write_object(out: &mut Vec<u8>, map: &serde_json::Map<String, Value>, layout: Layout) {
    let mut o = Object::begin(out, layout);
    for (key, value) in map {
        let out = o.key(key);
        write_value(out, value, layout.inner());
    }
    o.end();
}

/// A value whose closing bracket or brace (if any) sits at `layout`.
fn write_value(out: &mut Vec<u8>, value: &Value, layout: Layout) {
    match value {
        Value::Null => out.extend_from_slice(b"null"),
        Value::Bool(b) => out.extend_from_slice(if *b { b"true" } else { b"false" }),
        Value::Number(n) => match (n.as_u64(), n.as_i64()) {
            (Some(u), _) => write_u64(out, u),
            (None, Some(i)) => write_i64(out, i),
            // Floats as serde_json writes them (shortest round trip).
            _ => out.extend_from_slice(n.to_string().as_bytes()),
        },
        Value::String(s) => write_str(out, s),
        Value::Array(items) => write_array(out, items.iter(), layout, write_value),
        Value::Object(map) => write_object(out, map, layout),
    }
}

fn write_opt_str(out: &mut Vec<u8>, s: Option<&str>) {
    match s {
        Some(s) => write_str(out, s),
        None => out.extend_from_slice(b"null"),
    }
}

fn write_u64(out: &mut Vec<u8>, n: u64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

fn write_i64(out: &mut Vec<u8>, n: i64) {
    out.extend_from_slice(itoa::Buffer::new().format(n).as_bytes());
}

/// A JSON string with serde_json's escapes: `"` `\` and control characters
/// (short forms where JSON has them, else `\u00XX`); everything else as is.
fn write_str(out: &mut Vec<u8>, s: &str) {
    let bytes = s.as_bytes();
    out.reserve(bytes.len() + 2);
    out.push(b'"');
    let mut start = 0;
    // Eight bytes at a time while none needs an escape (nearly all text).
    let mut clean = 0;
    while clean + 8 <= bytes.len() && !needs_escape(u64::from_le_bytes(bytes[clean..clean + 8].try_into().expect("8")))
    {
        clean += 8;
    }
    for (i, &b) in bytes.iter().enumerate().skip(clean) {
        if b >= 0x20 && b != b'"' && b != b'\\' {
            continue;
        }
        out.extend_from_slice(&bytes[start..i]);
        start = i + 1;
        match b {
            b'"' => out.extend_from_slice(b"\\\""),
            b'\\' => out.extend_from_slice(b"\\\\"),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x0c => out.extend_from_slice(b"\\f"),
            _ => {
                const HEX: &[u8; 16] = b"0123456789abcdef";
                out.extend_from_slice(&[b'\\', b'u', b'0', b'0', HEX[(b >> 4) as usize], HEX[(b & 15) as usize]]);
            }
        }
    }
    out.extend_from_slice(&bytes[start..]);
    out.push(b'"');
}

/// Whether any of the eight bytes is a control character, `"` or `\\`
/// (exact: the zero-byte tests below have no false positives for the
/// question "is there one").
fn needs_escape(w: u64) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let below = |n: u64| w.wrapping_sub(ONES * n) & !w & HIGHS;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    (below(0x20) | zero(w ^ (ONES * u64::from(b'"'))) | zero(w ^ (ONES * u64::from(b'\\')))) != 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::finding::{Finding, Severity};
    use serde_json::json;

    fn finding(details: Value, strings: &[&str]) -> Finding {
        let s = |i: usize| strings[i % strings.len()].to_string();
        Finding {
            rule_id: s(0).into(),
            rule_name: s(1).into(),
            severity: Severity::High,
            rule_severity: Severity::Medium,
            techniques: vec![s(2), s(3)].into(),
            account: s(4),
            account_forms: vec![s(4), s(3)],
            source: s(5),
            targets: strings.iter().map(|t| t.to_string()).collect(),
            count: u64::MAX,
            first_seen: Some(1_714_526_292_477_000_000),
            last_seen: None,
            risk_score: -3,
            reasons: Vec::new(),
            agreeing_rules: vec![s(1)],
            details: details.as_object().cloned().unwrap_or_default(),
            // Each detail object, and it again with a string, as evidence rows.
            evidence: details
                .as_object()
                .into_iter()
                .flat_map(|d| {
                    let mut more = d.clone();
                    more.insert("Computer".into(), Value::String(s(5)));
                    [d.clone(), more]
                })
                .collect(),
        }
    }

    /// What serde_json writes, pretty at `depth` the way the report nests it.
    fn serde_pretty(f: &Finding, depth: usize) -> String {
        let text = serde_json::to_string_pretty(&FindingJson::of(f)).unwrap();
        text.replace('\n', &format!("\n{}", "  ".repeat(depth)))
    }

    #[test]
    fn findings_are_written_as_serde_json_writes_them() {
        let strings = [
            "plain",
            "",
            "quote \" and backslash \\ and slash /",
            "CORP\\svc_backup",
            "controls \u{0}\u{1}\u{8}\t\n\u{b}\u{c}\r\u{1f}\u{7f} end",
            "unicode é 日本 \u{2028} 🚀",
        ];
        let details = [
            json!({}),
            json!({"LogonCount": 4, "Negative": -12, "Float": 1.5, "Whole": 2.0, "Tiny": 1e-7, "Big": 1e300,
                   "Null": null, "Yes": true, "No": false, "Empty": [], "EmptyObject": {},
                   "Nested": {"a": [1, [2, {"b": "c\"d"}]], "e": {}}, "Text": "x\ny"}),
            json!({"LogonTypes": ["RemoteInteractive", "Network"], "q\"uote\\d key": "v"}),
        ];
        for details in details {
            for n in 1..=strings.len() {
                let mut f = finding(details.clone(), &strings[..n]);
                if n % 2 == 0 {
                    f.reasons = vec!["after hours".into(), "multi-host spread (4 hosts)".into()];
                    f.targets.clear();
                }
                let json = FindingJson::of(&f);
                let mut compact = Vec::new();
                write_finding(&mut compact, &json, Layout::Compact);
                assert_eq!(String::from_utf8(compact).unwrap(), serde_json::to_string(&json).unwrap());
                for depth in [0, 2] {
                    let mut pretty = Vec::new();
                    write_finding(&mut pretty, &json, Layout::Pretty(depth));
                    assert_eq!(String::from_utf8(pretty).unwrap(), serde_pretty(&f, depth), "depth {depth}");
                }
            }
        }
    }

    #[test]
    fn eight_bytes_need_an_escape_when_one_does() {
        for special in (0u8..0x20).chain([b'"', b'\\']) {
            for at in 0..8 {
                for fill in [b'a', b'~', 0x7f, 0x80, 0xff, b' ', b'!', b'#', b'[', b']'] {
                    let mut bytes = [fill; 8];
                    bytes[at] = special;
                    assert!(needs_escape(u64::from_le_bytes(bytes)), "{bytes:?}");
                }
            }
        }
        for fill in (0x20u8..=0xff).filter(|b| *b != b'"' && *b != b'\\') {
            assert!(!needs_escape(u64::from_le_bytes([fill; 8])), "{fill}");
            assert!(!needs_escape(u64::from_le_bytes([fill, 0xff, 0x20, 0x80, 0x7f, 0x21, 0x5b, 0x5d])));
        }
    }

    #[test]
    fn integers_at_their_limits() {
        for n in [0u64, 9, 10, 99, 100, 12345, u64::MAX] {
            let mut out = Vec::new();
            write_u64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
        for n in [0i64, -1, -10, i64::MIN, i64::MAX] {
            let mut out = Vec::new();
            write_i64(&mut out, n);
            assert_eq!(out, n.to_string().as_bytes());
        }
    }
}
