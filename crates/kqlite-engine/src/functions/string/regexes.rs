//! Regex functions: `extract`, `extract_all`, `replace_regex`, `trim`,
//! `countof` and the capture groups of `parse`. Patterns use RE2 syntax, run
//! by the `regex` crate; a batch compiles each distinct pattern once.

use super::{Bins, Longs, Strs, TRIM_BOTH, TRIM_END, TRIM_START};
use crate::convert::Bound;
use crate::dynamic::{ArrayEncoder, DynKind, DynRef, DynValue, ENCODED_NULL};
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::{DataType, Field, Fields};
use datafusion::common::cast::as_string_array;
use datafusion::common::{exec_err, DataFusionError, Result, ScalarValue};
use datafusion::logical_expr::{lit, ColumnarValue, Expr};
use regex::{CaptureLocations, Regex};
use std::sync::Arc;

/// One regex evaluation producing a struct `{matched, g1, …, gN}` of the
/// capture groups (used by `parse`).
pub fn regex_groups(text: Bound, regex: &str, groups: usize) -> Expr {
    let mut fields = vec![Field::new("matched", DataType::Boolean, false)];
    for i in 1..=groups {
        fields.push(Field::new(format!("g{i}"), DataType::Utf8, true));
    }
    udf::call(
        "kql_regex_groups",
        DataType::Struct(Fields::from(fields)),
        regex_groups_kernel,
        vec![text.expr, lit(regex.to_string()), lit(groups as i64)],
    )
}

fn regex_groups_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let ColumnarValue::Scalar(ScalarValue::Utf8(Some(pattern))) = &args[1] else {
        return exec_err!("kql_regex_groups: the pattern must be a constant");
    };
    let ColumnarValue::Scalar(ScalarValue::Int64(Some(groups))) = &args[2] else {
        return exec_err!("kql_regex_groups: the group count must be a constant");
    };
    let groups = *groups as usize;
    let re = match regex::Regex::new(pattern) {
        Ok(re) => re,
        Err(e) => return exec_err!("invalid regular expression {pattern:?}: {e}"),
    };
    let n = rows_to_compute(&args[..1], rows);
    let array = args[0].to_array(n)?;
    let input = as_string_array(&array)?;
    let mut matched = BooleanBuilder::with_capacity(n);
    let mut builders: Vec<StringBuilder> = (0..groups).map(|_| StringBuilder::with_capacity(n, n * 8)).collect();
    let mut locations = re.capture_locations();
    for i in 0..n {
        let hit = !input.is_null(i) && re.captures_read(&mut locations, input.value(i)).is_some();
        matched.append_value(hit);
        for (g, b) in builders.iter_mut().enumerate() {
            match locations.get(g + 1).filter(|_| hit) {
                Some((s, e)) => b.append_value(&input.value(i)[s..e]),
                None => b.append_null(),
            }
        }
    }
    let mut fields = vec![Field::new("matched", DataType::Boolean, false)];
    let mut columns: Vec<ArrayRef> = vec![Arc::new(matched.finish())];
    for (g, mut b) in builders.into_iter().enumerate() {
        fields.push(Field::new(format!("g{}", g + 1), DataType::Utf8, true));
        columns.push(Arc::new(b.finish()));
    }
    let result = StructArray::try_new(Fields::from(fields), columns, None)?;
    maybe_scalar(&args[..1], Arc::new(result))
}

/// The compiled regex of the last pattern seen: patterns are nearly always
/// constants, so a batch compiles each once.
#[derive(Default)]
pub(super) struct Regexes {
    last: Option<(String, Regex, CaptureLocations)>,
}

impl Regexes {
    pub(super) fn get(&mut self, pattern: &str) -> Result<&Regex> {
        self.get_wrapped(pattern, |p| p.to_string())
    }

    /// The regex `wrap(pattern)`, cached by `pattern`.
    fn get_wrapped(&mut self, pattern: &str, wrap: fn(&str) -> String) -> Result<&Regex> {
        if !matches!(&self.last, Some((p, _, _)) if p == pattern) {
            let re = Regex::new(&wrap(pattern))
                .map_err(|e| DataFusionError::Execution(format!("invalid regular expression {pattern:?}: {e}")))?;
            let locations = re.capture_locations();
            self.last = Some((pattern.to_string(), re, locations));
        }
        Ok(&self.last.as_ref().expect("set above").1)
    }

    /// The byte span of group `group` in the first match, without allocating.
    fn first_group(&mut self, pattern: &str, text: &str, group: usize) -> Result<Option<(usize, usize)>> {
        self.get(pattern)?;
        let (_, re, locations) = self.last.as_mut().expect("compiled above");
        Ok(re.captures_read(locations, text).and_then(|_| locations.get(group)))
    }
}

/// `extract(regex, group, text)`: the group of the first match, else `""`.
pub(super) fn extract_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (patterns, groups, texts) = (Strs::new(&args[0])?, Longs::new(&args[1])?, Strs::new(&args[2])?);
    let mut regexes = Regexes::default();
    let mut shortcut: Option<(String, Option<LiteralThenUntil>)> = None;
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let (Some(p), Some(g), Some(t)) = (patterns.get(i), groups.get(i), texts.get(i)) else {
            out.append_value("");
            continue;
        };
        if shortcut.as_ref().is_none_or(|(pattern, _)| pattern != p) {
            shortcut = Some((p.to_string(), LiteralThenUntil::of(p)));
        }
        let span = match (usize::try_from(g), &shortcut) {
            (Ok(1), Some((_, Some(literal_then_until)))) => literal_then_until.first_group(t),
            (Ok(g), _) => regexes.first_group(p, t, g)?,
            (Err(_), _) => None,
        };
        out.append_value(span.map_or("", |(a, b)| &t[a..b]));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// A pattern `L([^<]*)<`: a literal, then a capture of what follows it up
/// to the next `<` (`<Data Name="F">([^<]*)<`, how Sigma rules read a
/// Security event's fields from its `EventData` XML). Its first group is
/// found by a literal search instead of the regex engine: an order of
/// magnitude faster on long texts without the literal.
struct LiteralThenUntil {
    literal: memchr::memmem::Finder<'static>,
}

impl LiteralThenUntil {
    fn of(pattern: &str) -> Option<LiteralThenUntil> {
        let prefix = pattern.strip_suffix("([^<]*)<")?;
        let hir = regex_syntax::ParserBuilder::new().build().parse(prefix).ok()?;
        let regex_syntax::hir::HirKind::Literal(literal) = hir.kind() else { return None };
        Some(LiteralThenUntil { literal: memchr::memmem::Finder::new(&literal.0).into_owned() })
    }

    /// Group 1 of the leftmost match, as the regex finds it. Only the first
    /// occurrence of the literal can start one: when no stop character
    /// follows it, none follows a later one either.
    fn first_group(&self, text: &str) -> Option<(usize, usize)> {
        let start = self.literal.find(text.as_bytes())? + self.literal.needle().len();
        let length = memchr::memchr(b'<', &text.as_bytes()[start..])?;
        Some((start, start + length))
    }
}

/// `extract_all(regex, [groups,] text)`: per match, the selected groups (a
/// string when one group is selected, else an array); null without a match.
pub(super) fn extract_all_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (patterns, selections, texts) = (Strs::new(&args[0])?, Bins::new(&args[1])?, Strs::new(&args[2])?);
    let mut regexes = Regexes::default();
    let mut out = BinaryBuilder::with_capacity(n, n * 32);
    let mut buf = Vec::new();
    for i in 0..n {
        let (Some(p), Some(t)) = (patterns.get(i), texts.get(i)) else {
            out.append_value(ENCODED_NULL);
            continue;
        };
        let re = regexes.get(p)?;
        let Some(groups) = selected_groups(re, selections.get(i)) else {
            out.append_value(ENCODED_NULL);
            continue;
        };
        buf.clear();
        let mut matches = 0;
        let mut enc = ArrayEncoder::new(&mut buf);
        for caps in re.captures_iter(t) {
            matches += 1;
            let group = |g: usize| DynValue::String(caps.get(g).map_or("", |m| m.as_str()).to_string());
            let item = match groups.as_slice() {
                [g] => group(*g),
                _ => DynValue::Array(groups.iter().map(|g| group(*g)).collect()),
            };
            item.encode_into(enc.begin_item());
            enc.end_item();
        }
        enc.finish();
        out.append_value(if matches > 0 { &buf[..] } else { ENCODED_NULL });
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// The groups `extract_all` returns: those selected (by index or name),
/// else every capture group, else the whole match. `None` if a selected
/// group does not exist.
fn selected_groups(re: &Regex, selection: Option<&[u8]>) -> Option<Vec<usize>> {
    let count = re.captures_len();
    match selection.map(DynRef::new).filter(|d| d.len().unwrap_or(0) > 0) {
        None => Some(if count > 1 { (1..count).collect() } else { vec![0] }),
        Some(d) => d
            .array_items()
            .map(|item| match item.kind() {
                DynKind::String => re.capture_names().position(|name| name.is_some() && name == item.as_str()),
                _ => item.as_long().and_then(|g| usize::try_from(g).ok()).filter(|g| *g < count),
            })
            .collect(),
    }
}

/// One part of a rewrite: text, or a capture group (`\0`–`\9`).
enum Piece {
    Text(String),
    Group(usize),
}

/// RE2's rewrite syntax: `\N` inserts group N, `\\` is a backslash.
fn parse_rewrite(rewrite: &str) -> Vec<Piece> {
    let mut pieces = Vec::new();
    let mut text = String::new();
    let mut chars = rewrite.chars().peekable();
    while let Some(c) = chars.next() {
        if c == '\\' {
            match chars.peek().copied() {
                Some(d) if d.is_ascii_digit() => {
                    chars.next();
                    if !text.is_empty() {
                        pieces.push(Piece::Text(std::mem::take(&mut text)));
                    }
                    pieces.push(Piece::Group(d as usize - '0' as usize));
                    continue;
                }
                Some('\\') => {
                    chars.next();
                }
                _ => {}
            }
        }
        text.push(c);
    }
    if !text.is_empty() {
        pieces.push(Piece::Text(text));
    }
    pieces
}

/// `replace_regex(text, regex, rewrite)`: every non-overlapping match.
pub(super) fn replace_regex_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, patterns, rewrites) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Strs::new(&args[2])?);
    let mut regexes = Regexes::default();
    let mut template: Option<(String, Vec<Piece>)> = None;
    let mut out = StringBuilder::with_capacity(n, n * 16);
    let mut s = String::new();
    for i in 0..n {
        let t = texts.get(i).unwrap_or("");
        let (Some(p), Some(rewrite)) = (patterns.get(i), rewrites.get(i)) else {
            out.append_value(t);
            continue;
        };
        if !matches!(&template, Some((r, _)) if r == rewrite) {
            template = Some((rewrite.to_string(), parse_rewrite(rewrite)));
        }
        let pieces = &template.as_ref().expect("set above").1;
        s.clear();
        let mut last = 0;
        for caps in regexes.get(p)?.captures_iter(t) {
            let m = caps.get(0).expect("group 0 is the match");
            s.push_str(&t[last..m.start()]);
            for piece in pieces {
                match piece {
                    Piece::Text(x) => s.push_str(x),
                    Piece::Group(g) => s.push_str(caps.get(*g).map_or("", |m| m.as_str())),
                }
            }
            last = m.end();
        }
        s.push_str(&t[last..]);
        out.append_value(&s);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `trim`/`trim_start`/`trim_end(regex, text)`: removes every repetition
/// of the regex at the start and/or end.
pub(super) fn trim_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (patterns, texts) = (Strs::new(&args[0])?, Strs::new(&args[1])?);
    let mode = Longs::new(&args[2])?.get(0).unwrap_or(TRIM_BOTH);
    let (mut starts, mut ends) = (Regexes::default(), Regexes::default());
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let mut t = texts.get(i).unwrap_or("");
        if let Some(p) = patterns.get(i) {
            if mode != TRIM_END {
                if let Some(m) = starts.get_wrapped(p, |p| format!("^(?:{p})+"))?.find(t) {
                    t = &t[m.end()..];
                }
            }
            if mode != TRIM_START {
                if let Some(m) = ends.get_wrapped(p, |p| format!("(?:{p})+$"))?.find(t) {
                    t = &t[..m.start()];
                }
            }
        }
        out.append_value(t);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `countof(text, search, kind)`: plain matches may overlap, regex ones don't.
pub(super) fn countof_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, searches, kinds) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Strs::new(&args[2])?);
    let mut regexes = Regexes::default();
    let mut out = Int64Builder::with_capacity(n);
    for i in 0..n {
        let (t, search) = (texts.get(i).unwrap_or(""), searches.get(i).unwrap_or(""));
        let count = if search.is_empty() {
            0
        } else if kinds.get(i).is_some_and(|k| k.eq_ignore_ascii_case("regex")) {
            regexes.get(search)?.find_iter(t).count()
        } else {
            let finder = memchr::memmem::Finder::new(search);
            let (mut count, mut from) = (0, 0);
            while let Some(p) = finder.find(&t.as_bytes()[from..]) {
                count += 1;
                from += p + 1;
            }
            count
        };
        out.append_value(count as i64);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The literal search finds the same group as the regex, with and
    /// without a stop character, a repeated literal, other text and
    /// non-ASCII values; patterns of another shape are left to the regex.
    #[test]
    fn literal_then_until_finds_what_the_regex_finds() {
        let pattern = r#"<Data Name="Image">([^<]*)<"#;
        let shortcut = LiteralThenUntil::of(pattern).expect("a literal, then a capture up to '<'");
        let regex = Regex::new(pattern).unwrap();
        for text in [
            r#"<Data Name="Image">C:\a.exe</Data>"#,
            r#"<Data Name="User">x</Data><Data Name="Image">é ü</Data><Data Name="Image">second</Data>"#,
            r#"<Data Name="Image"></Data>"#,
            r#"<Data Name="Image">no stop"#,
            r#"<Data Name="Image">no stop <Data Name="Image">"#,
            r#"<Data Name="ImageX">x</Data>"#,
            "",
        ] {
            let expected = regex.captures(text).and_then(|c| c.get(1)).map(|m| (m.start(), m.end()));
            assert_eq!(shortcut.first_group(text), expected, "{text}");
        }
        for other in [r#"(?i)<Data Name="Image">([^<]*)<"#, r#"<Data Name="I.age">([^<]*)<"#, "a([^>]*)>"] {
            assert!(LiteralThenUntil::of(other).is_none(), "{other}");
        }
        assert!(LiteralThenUntil::of(r#"<Data Name="A\.B">([^<]*)<"#).is_some());
    }
}
