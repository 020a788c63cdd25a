//! One Sigma detection item (a field, its modifiers and its values) as a
//! KQL boolean expression.
//!
//! Every predicate is total: it is `true` or `false` on every row, never
//! null, so `not` over it means what Sigma's `not` means (a missing field
//! does not match, and so its negation does). Kusto strings are never null,
//! so text comparisons are total already; numeric, IP and time comparisons
//! are guarded explicitly.

use crate::error::UnsupportedReason;
use base64::Engine as _;
use rsigma_parser::{DetectionItem, Modifier, SigmaString, SigmaValue, SpecialChar, StringPart};
use std::collections::BTreeMap;
use std::net::IpAddr;

/// Values for `expand` placeholders: `%name%` → the values it stands for.
pub type Placeholders = BTreeMap<String, Vec<String>>;

/// How a field's value compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    Text,
    Number,
    Datetime,
}

/// A field as KQL: its value, and whether the event has it at all.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FieldExpr {
    /// The value: a string expression for [`ValueKind::Text`].
    pub value: String,
    pub kind: ValueKind,
    /// True when the event has the field (Sigma's `exists`).
    pub presence: String,
}

impl FieldExpr {
    /// The value as a string expression.
    pub fn text(&self) -> String {
        match self.kind {
            ValueKind::Text => self.value.clone(),
            _ => format!("tostring({})", self.value),
        }
    }
}

/// Tells what a Sigma field name is in the table a variant reads.
pub trait FieldResolver {
    fn field(&self, name: &str) -> Result<FieldExpr, UnsupportedReason>;
}

/// Where keyword (field-less) values are searched, and how the text there
/// spells special characters.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct KeywordText {
    /// A string expression holding the whole event's text.
    pub text: String,
    pub escape: TextEscape,
}

/// How the searched text escapes characters, so a keyword is escaped the
/// same way before it is looked for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEscape {
    /// Plain text.
    None,
    /// JSON (`tostring(EventData)`): `\` and `"` are backslash-escaped.
    Json,
    /// XML character data: `&`, `<` and `>` are entities.
    Xml,
}

/// A KQL string literal for `s`: verbatim (`@"…"`) unless it holds control
/// characters, which only an escaped literal can spell.
pub fn kql_string(s: &str) -> String {
    if s.chars().any(char::is_control) {
        let mut out = String::from("\"");
        for c in s.chars() {
            match c {
                '"' => out.push_str("\\\""),
                '\\' => out.push_str("\\\\"),
                '\n' => out.push_str("\\n"),
                '\r' => out.push_str("\\r"),
                '\t' => out.push_str("\\t"),
                c if c.is_control() => out.push_str(&format!("\\u{:04x}", c as u32)),
                c => out.push(c),
            }
        }
        out.push('"');
        out
    } else {
        format!("@\"{}\"", s.replace('"', "\"\""))
    }
}

/// The predicate of one detection item with a field name.
pub fn field_item(
    name: &str,
    item: &DetectionItem,
    resolver: &dyn FieldResolver,
    placeholders: &Placeholders,
) -> Result<String, UnsupportedReason> {
    let mods = &item.field.modifiers;
    let has = |m: Modifier| mods.contains(&m);
    let field = resolver.field(name)?;
    if has(Modifier::Exists) {
        let tests = item
            .values
            .iter()
            .map(|v| match v {
                SigmaValue::Bool(true) => Ok(field.presence.clone()),
                SigmaValue::Bool(false) => Ok(format!("not({})", field.presence)),
                SigmaValue::String(s) if s.original.eq_ignore_ascii_case("true") => Ok(field.presence.clone()),
                SigmaValue::String(s) if s.original.eq_ignore_ascii_case("false") => {
                    Ok(format!("not({})", field.presence))
                }
                other => Err(UnsupportedReason::Value(format!("{name}|exists expects true or false, found {other}"))),
            })
            .collect::<Result<Vec<_>, _>>()?;
        return Ok(join(tests, "or"));
    }
    let tests = if has(Modifier::FieldRef) {
        fieldref_tests(name, item, &field, resolver)?
    } else if let Some(op) = comparison(mods) {
        let part = time_part(mods);
        item.values.iter().map(|v| compare(name, &field, part, op, v)).collect::<Result<Vec<_>, _>>()?
    } else if let Some(part) = time_part(mods) {
        item.values.iter().map(|v| compare(name, &field, Some(part), "==", v)).collect::<Result<Vec<_>, _>>()?
    } else if has(Modifier::Cidr) {
        item.values.iter().map(|v| cidr(name, &field, v)).collect::<Result<Vec<_>, _>>()?
    } else if has(Modifier::Re) {
        item.values.iter().map(|v| regex_test(name, &field, mods, v)).collect::<Result<Vec<_>, _>>()?
    } else {
        let mut tests = Vec::new();
        for value in &item.values {
            tests.push(value_test(name, &field, mods, value, placeholders)?);
        }
        tests
    };
    let linked = join(tests, if has(Modifier::All) { "and" } else { "or" });
    Ok(if has(Modifier::Neq) { format!("not({linked})") } else { linked })
}

/// Modifiers that shape or encode a text value (where it matches, case,
/// dashes, encodings, placeholders): what keywords and default value tests
/// accept.
fn is_text_value_modifier(m: Modifier) -> bool {
    matches!(
        m,
        Modifier::Contains
            | Modifier::StartsWith
            | Modifier::EndsWith
            | Modifier::All
            | Modifier::Cased
            | Modifier::WindAsh
            | Modifier::Base64
            | Modifier::Base64Offset
            | Modifier::Wide
            | Modifier::Utf16be
            | Modifier::Utf16
            | Modifier::Expand
    )
}

/// The predicate of keyword values (a field-less item) searched in `text`.
pub fn keyword_item(
    modifiers: &[Modifier],
    values: &[SigmaValue],
    text: &KeywordText,
    placeholders: &Placeholders,
) -> Result<String, UnsupportedReason> {
    for m in modifiers {
        if !is_text_value_modifier(*m) {
            return Err(UnsupportedReason::Modifier(format!("{} on keywords", modifier_name(*m))));
        }
    }
    let field = FieldExpr { value: text.text.clone(), kind: ValueKind::Text, presence: "true".into() };
    let cased = modifiers.contains(&Modifier::Cased);
    let mut tests = Vec::new();
    for value in values {
        let alternatives = string_alternatives("keywords", modifiers, value, placeholders)?;
        let mut any = Vec::new();
        for s in alternatives {
            // A keyword matches anywhere in the event's text.
            let s = escape_parts(&s, text.escape);
            any.push(string_test(&field, &wrap(s, true, true), cased));
        }
        tests.push(join(any, "or"));
    }
    Ok(join(tests, if modifiers.contains(&Modifier::All) { "and" } else { "or" }))
}

/// `a op b op c`, parenthesised; `false` for `or` over nothing, `true` for `and`.
///
/// Long lists are nested as a balanced tree of chains of at most
/// [`FLAT_CHAIN`] parts: a rule with thousands of values (SigmaHQ's
/// vulnerable-driver hashes have 4,400) would otherwise be an expression
/// thousands deep, which every recursive pass over it (the parser, the
/// binder, DataFusion's optimizer) must descend.
pub fn join(mut parts: Vec<String>, op: &str) -> String {
    match parts.len() {
        0 => (if op == "and" { "true" } else { "false" }).to_string(),
        1 => parts.remove(0),
        n if n <= FLAT_CHAIN => format!("({})", parts.join(&format!(" {op} "))),
        n => {
            let right = parts.split_off(n / 2);
            format!("({} {op} {})", join(parts, op), join(right, op))
        }
    }
}

/// The most parts [`join`] writes as one flat chain.
const FLAT_CHAIN: usize = 16;

fn modifier_name(m: Modifier) -> String {
    format!("{m:?}").to_lowercase()
}

fn comparison(mods: &[Modifier]) -> Option<&'static str> {
    mods.iter().find_map(|m| match m {
        Modifier::Lt => Some("<"),
        Modifier::Lte => Some("<="),
        Modifier::Gt => Some(">"),
        Modifier::Gte => Some(">="),
        _ => None,
    })
}

/// The KQL function taking a time modifier's part of a datetime.
fn time_part(mods: &[Modifier]) -> Option<&'static str> {
    mods.iter().find_map(|m| match m {
        Modifier::Minute => Some("minute"),
        Modifier::Hour => Some("hour"),
        Modifier::Day => Some("day"),
        Modifier::Week => Some("week"),
        Modifier::Month => Some("month"),
        Modifier::Year => Some("year"),
        _ => None,
    })
}

fn number_literal(value: &SigmaValue) -> Option<String> {
    match value {
        SigmaValue::Integer(i) => Some(i.to_string()),
        SigmaValue::Float(f) if f.is_finite() => Some(format!("{f:?}")),
        SigmaValue::String(s) => {
            let plain = s.as_plain()?;
            let t = plain.trim();
            if t.parse::<i64>().is_ok() {
                Some(t.to_string())
            } else {
                t.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| format!("{f:?}"))
            }
        }
        _ => None,
    }
}

/// `field op value`, numerically (or on a part of the field's time),
/// false where the field is not a number (or not a time).
fn compare(
    name: &str,
    field: &FieldExpr,
    part: Option<&str>,
    op: &str,
    value: &SigmaValue,
) -> Result<String, UnsupportedReason> {
    let number = number_literal(value)
        .ok_or_else(|| UnsupportedReason::Value(format!("{name}: expected a number to compare, found {value}")))?;
    let operand = match (part, field.kind) {
        (Some(part), kind) => {
            let time =
                if kind == ValueKind::Datetime { field.value.clone() } else { format!("todatetime({})", field.text()) };
            match part {
                "minute" => format!("datetime_part(\"minute\", {time})"),
                "hour" => format!("hourofday({time})"),
                "day" => format!("dayofmonth({time})"),
                "week" => format!("week_of_year({time})"),
                "month" => format!("getmonth({time})"),
                _ => format!("getyear({time})"),
            }
        }
        (None, ValueKind::Number) => field.value.clone(),
        (None, _) => format!("toreal({})", field.text()),
    };
    Ok(format!("(isnotnull({operand}) and {operand} {op} {number})"))
}

fn fieldref_tests(
    name: &str,
    item: &DetectionItem,
    field: &FieldExpr,
    resolver: &dyn FieldResolver,
) -> Result<Vec<String>, UnsupportedReason> {
    let mods = &item.field.modifiers;
    let cased = mods.contains(&Modifier::Cased);
    item.values
        .iter()
        .map(|v| {
            let SigmaValue::String(s) = v else {
                return Err(UnsupportedReason::Value(format!("{name}|fieldref expects a field name, found {v}")));
            };
            let other = resolver.field(&s.original)?;
            let (a, b) = (field.text(), other.text());
            let op = if mods.contains(&Modifier::Contains) {
                if cased {
                    "contains_cs"
                } else {
                    "contains"
                }
            } else if mods.contains(&Modifier::StartsWith) {
                if cased {
                    "startswith_cs"
                } else {
                    "startswith"
                }
            } else if mods.contains(&Modifier::EndsWith) {
                if cased {
                    "endswith_cs"
                } else {
                    "endswith"
                }
            } else if cased {
                "=="
            } else {
                "=~"
            };
            // Both present: an absent field equals no other field.
            Ok(format!("({} and {} and {a} {op} {b})", field.presence, other.presence))
        })
        .collect()
}

fn cidr(name: &str, field: &FieldExpr, value: &SigmaValue) -> Result<String, UnsupportedReason> {
    let bad = || UnsupportedReason::Value(format!("{name}|cidr: {value} is not an address range"));
    let SigmaValue::String(s) = value else { return Err(bad()) };
    let text = s.original.trim();
    let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
    let address: IpAddr = address.parse().map_err(|_| bad())?;
    let max = if address.is_ipv4() { 32 } else { 128 };
    let prefix: u8 = if prefix.is_empty() { max } else { prefix.parse().map_err(|_| bad())? };
    if prefix > max {
        return Err(bad());
    }
    let range = kql_string(&format!("{address}/{prefix}"));
    // The function is chosen by the range's family: an IPv6 range is never
    // checked as IPv4. Either is null on a value that is not an address.
    let test = match address {
        IpAddr::V4(_) => format!("ipv4_is_in_range({}, {range})", field.text()),
        IpAddr::V6(_) => format!("ipv6_is_match({}, {range})", field.text()),
    };
    Ok(format!("coalesce({test}, false)"))
}

fn regex_test(
    name: &str,
    field: &FieldExpr,
    mods: &[Modifier],
    value: &SigmaValue,
) -> Result<String, UnsupportedReason> {
    let SigmaValue::String(s) = value else {
        return Err(UnsupportedReason::Value(format!("{name}|re expects a pattern, found {value}")));
    };
    let mut flags = String::new();
    for (m, f) in [(Modifier::IgnoreCase, 'i'), (Modifier::Multiline, 'm'), (Modifier::DotAll, 's')] {
        if mods.contains(&m) {
            flags.push(f);
        }
    }
    let pattern = if flags.is_empty() { s.original.clone() } else { format!("(?{flags}){}", s.original) };
    // RE2 (Kusto's engine) and Rust's regex accept the same syntax: no
    // lookaround, no backreferences. A pattern outside it cannot be run.
    regex::Regex::new(&pattern)
        .map_err(|e| UnsupportedReason::Value(format!("{name}|re: {} is not an RE2 pattern ({e})", s.original)))?;
    Ok(format!("{} matches regex {}", field.text(), kql_string(&pattern)))
}

/// A value compared as Sigma compares it by default: text, case-insensitive
/// unless `cased`, with wildcards; a number against a number column.
fn value_test(
    name: &str,
    field: &FieldExpr,
    mods: &[Modifier],
    value: &SigmaValue,
    placeholders: &Placeholders,
) -> Result<String, UnsupportedReason> {
    for m in mods {
        if !is_text_value_modifier(*m) && *m != Modifier::Neq {
            return Err(UnsupportedReason::Modifier(format!("{name}|{}", modifier_name(*m))));
        }
    }
    let plain_match = !mods.iter().any(|m| !matches!(m, Modifier::All | Modifier::Neq | Modifier::Cased));
    match value {
        // Sigma's null: the field is absent or empty.
        SigmaValue::Null => {
            return Ok(match field.kind {
                ValueKind::Text => format!("isempty({})", field.value),
                _ => format!("isnull({})", field.value),
            });
        }
        SigmaValue::Integer(_) | SigmaValue::Float(_) if field.kind == ValueKind::Number && plain_match => {
            return compare(name, field, None, "==", value);
        }
        SigmaValue::String(_) if field.kind == ValueKind::Number && plain_match && number_literal(value).is_some() => {
            return compare(name, field, None, "==", value);
        }
        _ => {}
    }
    let cased = mods.contains(&Modifier::Cased);
    let alternatives = string_alternatives(name, mods, value, placeholders)?;
    let (starts, ends) = (
        mods.contains(&Modifier::Contains) || mods.contains(&Modifier::EndsWith),
        mods.contains(&Modifier::Contains) || mods.contains(&Modifier::StartsWith),
    );
    let tests = alternatives.into_iter().map(|s| string_test(field, &wrap(s, starts, ends), cased)).collect();
    Ok(join(tests, "or"))
}

/// The strings a value stands for once `expand`, `windash` and the
/// encodings have been applied (any of them matches).
fn string_alternatives(
    name: &str,
    mods: &[Modifier],
    value: &SigmaValue,
    placeholders: &Placeholders,
) -> Result<Vec<SigmaString>, UnsupportedReason> {
    let mut strings = match value {
        SigmaValue::String(s) => vec![s.clone()],
        SigmaValue::Integer(i) => vec![SigmaString::from_raw(&i.to_string())],
        SigmaValue::Float(f) => vec![SigmaString::from_raw(&f.to_string())],
        SigmaValue::Bool(b) => vec![SigmaString::from_raw(&b.to_string())],
        SigmaValue::Null => {
            return Err(UnsupportedReason::Value(format!("{name}: null with modifiers")));
        }
    };
    if mods.contains(&Modifier::Expand) {
        strings = strings.iter().map(|s| expand(s, placeholders)).collect::<Result<Vec<_>, _>>()?.concat();
    }
    if mods.contains(&Modifier::WindAsh) {
        strings = strings.iter().map(|s| windash(name, s)).collect::<Result<Vec<_>, _>>()?.concat();
    }
    let encoding = mods.iter().find_map(|m| match m {
        Modifier::Wide => Some(Utf16::LittleEndian),
        Modifier::Utf16be => Some(Utf16::BigEndian),
        Modifier::Utf16 => Some(Utf16::WithByteOrderMark),
        _ => None,
    });
    let base64 = mods.contains(&Modifier::Base64);
    let offset = mods.contains(&Modifier::Base64Offset);
    if encoding.is_some() && !base64 && !offset {
        return Err(UnsupportedReason::Modifier(format!("{name}: utf16 encodings only before base64 or base64offset")));
    }
    if base64 || offset {
        let mut encoded = Vec::new();
        for s in &strings {
            let plain = s.as_plain().ok_or_else(|| {
                UnsupportedReason::Value(format!("{name}: a wildcard in a value to base64-encode ({})", s.original))
            })?;
            let bytes = encode(&plain, encoding);
            if offset {
                encoded.extend(base64_offsets(&bytes).into_iter().map(|t| SigmaString::from_raw(&t)));
            } else {
                encoded.push(SigmaString::from_raw(&base64::engine::general_purpose::STANDARD.encode(&bytes)));
            }
        }
        strings = encoded;
    }
    Ok(strings)
}

#[derive(Clone, Copy)]
enum Utf16 {
    LittleEndian,
    BigEndian,
    WithByteOrderMark,
}

fn encode(text: &str, encoding: Option<Utf16>) -> Vec<u8> {
    match encoding {
        None => text.as_bytes().to_vec(),
        Some(Utf16::LittleEndian) => text.encode_utf16().flat_map(u16::to_le_bytes).collect(),
        Some(Utf16::BigEndian) => text.encode_utf16().flat_map(u16::to_be_bytes).collect(),
        // Python's "utf-16" codec, as pySigma uses: a little-endian BOM, then UTF-16LE.
        Some(Utf16::WithByteOrderMark) => {
            [0xFF, 0xFE].into_iter().chain(text.encode_utf16().flat_map(u16::to_le_bytes)).collect()
        }
    }
}

/// The three texts `bytes` can appear as inside a longer base64 string,
/// one per shift of 0, 1 and 2 bytes, with the characters that depend on
/// the neighbouring bytes cut off, exactly as pySigma computes them.
fn base64_offsets(bytes: &[u8]) -> Vec<String> {
    const START: [usize; 3] = [0, 2, 3];
    const END: [Option<usize>; 3] = [None, Some(3), Some(2)];
    (0..3)
        .map(|i| {
            let mut shifted = vec![b' '; i];
            shifted.extend_from_slice(bytes);
            let encoded = base64::engine::general_purpose::STANDARD.encode(&shifted);
            let end = match END[(bytes.len() + i) % 3] {
                None => encoded.len(),
                Some(cut) => encoded.len().saturating_sub(cut),
            };
            encoded.get(START[i]..end.max(START[i])).unwrap_or("").to_string()
        })
        .collect()
}

/// Replaces `%name%` placeholders with each of their values.
fn expand(s: &SigmaString, placeholders: &Placeholders) -> Result<Vec<SigmaString>, UnsupportedReason> {
    let mut texts = vec![String::new()];
    let mut rest = s.original.as_str();
    while let Some(start) = rest.find('%') {
        let Some(len) = rest[start + 1..].find('%') else { break };
        let name = &rest[start + 1..start + 1 + len];
        let values = placeholders
            .get(name)
            .filter(|v| !v.is_empty())
            .ok_or_else(|| UnsupportedReason::Value(format!("placeholder %{name}% has no values")))?;
        let before = &rest[..start];
        texts = texts.iter().flat_map(|t| values.iter().map(move |v| format!("{t}{before}{v}"))).collect();
        rest = &rest[start + len + 2..];
    }
    Ok(texts.into_iter().map(|t| SigmaString::new(&format!("{t}{rest}"))).collect())
}

/// The dashes `windash` makes interchangeable.
const DASHES: [char; 5] = ['-', '/', '\u{2013}', '\u{2014}', '\u{2015}'];

/// Every permutation of the dashes at each place pySigma's `\B[-/]\b` finds
/// one (a `-` or `/` after a non-word character or the start, before a
/// word character), in each plain part.
fn windash(name: &str, s: &SigmaString) -> Result<Vec<SigmaString>, UnsupportedReason> {
    let mut results: Vec<Vec<StringPart>> = vec![Vec::new()];
    for part in &s.parts {
        let options: Vec<StringPart> = match part {
            StringPart::Plain(text) => windash_text(text).into_iter().map(StringPart::Plain).collect(),
            special => vec![special.clone()],
        };
        // Five choices per dash: past a few dashes the alternatives explode.
        if results.len() * options.len() > MAX_WINDASH_ALTERNATIVES {
            return Err(UnsupportedReason::Value(format!("{name}|windash: too many dashes in {}", s.original)));
        }
        results = results
            .iter()
            .flat_map(|r| {
                options.iter().map(move |o| {
                    let mut r = r.clone();
                    r.push(o.clone());
                    r
                })
            })
            .collect();
    }
    Ok(results.into_iter().map(|parts| SigmaString { parts, original: s.original.clone() }).collect())
}

/// The most strings one windash value may stand for (four dashes).
const MAX_WINDASH_ALTERNATIVES: usize = 625;

fn windash_text(text: &str) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let word = |c: Option<&char>| c.is_some_and(|c| c.is_alphanumeric() || *c == '_');
    let places: Vec<usize> = (0..chars.len())
        .filter(|&i| {
            matches!(chars[i], '-' | '/')
                && !word(i.checked_sub(1).and_then(|p| chars.get(p)))
                && word(chars.get(i + 1))
        })
        .collect();
    let mut out = vec![chars.clone()];
    // Past five dashes the caller rejects the value; stop multiplying here.
    for &i in places.iter().take(5) {
        out = out
            .iter()
            .flat_map(|c| {
                DASHES.iter().map(move |d| {
                    let mut c = c.clone();
                    c[i] = *d;
                    c
                })
            })
            .collect();
    }
    out.into_iter().map(|c| c.into_iter().collect()).collect()
}

/// Escapes the plain parts as the searched text spells them.
fn escape_parts(s: &SigmaString, escape: TextEscape) -> SigmaString {
    let parts = s
        .parts
        .iter()
        .map(|p| match p {
            StringPart::Plain(t) => StringPart::Plain(match escape {
                TextEscape::None => t.clone(),
                TextEscape::Json => t.replace('\\', "\\\\").replace('"', "\\\""),
                TextEscape::Xml => t.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;"),
            }),
            special => special.clone(),
        })
        .collect();
    SigmaString { parts, original: s.original.clone() }
}

/// `s` with a `*` added at its start and/or end (unless there already).
fn wrap(mut s: SigmaString, start: bool, end: bool) -> SigmaString {
    let star = StringPart::Special(SpecialChar::WildcardMulti);
    if start && s.parts.first() != Some(&star) {
        s.parts.insert(0, star.clone());
    }
    if end && s.parts.last() != Some(&star) {
        s.parts.push(star);
    }
    s
}

/// A Sigma string pattern against a field: the cheapest Kusto operator
/// that means the same thing, else an anchored regex.
fn string_test(field: &FieldExpr, s: &SigmaString, cased: bool) -> String {
    let star = StringPart::Special(SpecialChar::WildcardMulti);
    let value = field.text();
    if s.parts.is_empty() {
        return format!("isempty({value})");
    }
    if s.parts.iter().all(|p| *p == star) {
        // `*` alone: any value, so the field must be there.
        return field.presence.clone();
    }
    let op = |insensitive: &str, sensitive: &str| if cased { sensitive.to_string() } else { insensitive.to_string() };
    let plain = |p: &StringPart| match p {
        StringPart::Plain(t) => Some(t.clone()),
        StringPart::Special(_) => None,
    };
    match s.parts.as_slice() {
        [p] if plain(p).is_some() => {
            format!("{value} {} {}", op("=~", "=="), kql_string(&plain(p).unwrap_or_default()))
        }
        [a, p, b] if *a == star && *b == star && plain(p).is_some() => {
            format!("{value} {} {}", op("contains", "contains_cs"), kql_string(&plain(p).unwrap_or_default()))
        }
        [p, b] if *b == star && plain(p).is_some() => {
            format!("{value} {} {}", op("startswith", "startswith_cs"), kql_string(&plain(p).unwrap_or_default()))
        }
        [a, p] if *a == star && plain(p).is_some() => {
            format!("{value} {} {}", op("endswith", "endswith_cs"), kql_string(&plain(p).unwrap_or_default()))
        }
        parts => {
            let mut pattern = String::from(if cased { "(?s)^" } else { "(?is)^" });
            for p in parts {
                match p {
                    StringPart::Plain(t) => pattern.push_str(&regex::escape(t)),
                    StringPart::Special(SpecialChar::WildcardMulti) => pattern.push_str(".*"),
                    StringPart::Special(SpecialChar::WildcardSingle) => pattern.push('.'),
                }
            }
            pattern.push('$');
            format!("{value} matches regex {}", kql_string(&pattern))
        }
    }
}
