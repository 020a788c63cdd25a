//! Plain text functions: substrings, searching (`indexof`, `has_any_index`),
//! splitting, replacing, repeating and formatting (`tohex`, `format_bytes`).

use super::regexes::Regexes;
use super::{byte_at, char_count, Bins, Longs, Reals, Strs};
use crate::dynamic::{DynKind, DynRef, DynValue, ENCODED_NULL};
use crate::functions::string_ops::Matcher;
use crate::time::format_datetime_custom;
use crate::udf::{maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::ColumnarValue;
use kqlite_syntax::ast::StringOpKind;
use std::sync::Arc;

pub(super) fn strcat_array_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (arrays, delims) = (Bins::new(&args[0])?, Strs::new(&args[1])?);
    let mut out = StringBuilder::with_capacity(n, n * 16);
    let mut s = String::new();
    for i in 0..n {
        s.clear();
        for (k, item) in arrays.get(i).map(DynRef::new).into_iter().flat_map(|d| d.array_items()).enumerate() {
            if k > 0 {
                s.push_str(delims.get(i).unwrap_or(""));
            }
            s.push_str(&item.to_kql_string());
        }
        out.append_value(&s);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `split(text, delimiter[, index])`: a dynamic array of the parts, or of
/// the one part at `index` (empty when out of range).
pub(super) fn split_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, delims, indexes) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Longs::new(&args[2])?);
    let mut out = BinaryBuilder::with_capacity(n, n * 32);
    let mut buf = Vec::new();
    for i in 0..n {
        let (t, delim) = (texts.get(i).unwrap_or(""), delims.get(i).unwrap_or(""));
        let parts: Vec<&str> = if delim.is_empty() { vec![t] } else { t.split(delim).collect() };
        let parts = match indexes.get(i) {
            None => &parts[..],
            Some(k) => usize::try_from(k).ok().and_then(|k| parts.get(k..=k)).unwrap_or(&[]),
        };
        buf.clear();
        DynValue::Array(parts.iter().map(|p| DynValue::String(p.to_string())).collect()).encode_into(&mut buf);
        out.append_value(&buf);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `replace_string(text, lookup, rewrite)`: every non-overlapping match.
pub(super) fn replace_string_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, lookups, rewrites) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Strs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let t = texts.get(i).unwrap_or("");
        match lookups.get(i).filter(|l| !l.is_empty()) {
            Some(lookup) if t.contains(lookup) => out.append_value(t.replace(lookup, rewrites.get(i).unwrap_or(""))),
            _ => out.append_value(t),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `substring(text, start[, length])` in characters; a negative start
/// counts from the end.
pub(super) fn substring_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, starts, lengths) = (Strs::new(&args[0])?, Longs::new(&args[1])?, Longs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let t = texts.get(i).unwrap_or("");
        out.append_value(starts.get(i).map_or("", |start| substring(t, start, lengths.get(i))));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn substring(s: &str, start: i64, length: Option<i64>) -> &str {
    let ascii = s.is_ascii();
    let count = char_count(s, ascii);
    let start = if start < 0 { (count + start).max(0) } else { start.min(count) };
    let end = match length {
        None => count,
        Some(l) if l < 0 => return "",
        Some(l) => start.saturating_add(l).min(count),
    };
    &s[byte_at(s, ascii, start as usize)..byte_at(s, ascii, end as usize)]
}

/// `indexof(text, lookup, start, length, occurrence)`: the character
/// position of the occurrence within `length` characters from `start`, -1
/// if absent, null for a negative start (after counting from the end),
/// length below -1 or negative occurrence.
pub(super) fn indexof_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    index_kernel(args, rows, false)
}

/// `indexof_regex`: as `indexof`, for the first match of a regex.
pub(super) fn indexof_regex_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    index_kernel(args, rows, true)
}

fn index_kernel(args: &[ColumnarValue], rows: usize, regex: bool) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, lookups) = (Strs::new(&args[0])?, Strs::new(&args[1])?);
    let (starts, lengths, occurrences) = (Longs::new(&args[2])?, Longs::new(&args[3])?, Longs::new(&args[4])?);
    let mut regexes = Regexes::default();
    let mut out = Int64Builder::with_capacity(n);
    for i in 0..n {
        let (t, lookup) = (texts.get(i).unwrap_or(""), lookups.get(i).unwrap_or(""));
        let (Some(start), Some(length), Some(occurrence)) = (starts.get(i), lengths.get(i), occurrences.get(i)) else {
            out.append_null();
            continue;
        };
        let found = if regex {
            let re = regexes.get(lookup)?;
            index_of(t, start, length, occurrence, |w| re.find(w).map(|m| m.start()))
        } else {
            let finder = memchr::memmem::Finder::new(lookup);
            index_of(t, start, length, occurrence, |w| finder.find(w.as_bytes()))
        };
        out.append_option(found);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// The search behind `indexof`: `find` gives the byte offset of the first
/// match in a window of the text.
fn index_of(
    s: &str,
    start: i64,
    length: i64,
    occurrence: i64,
    mut find: impl FnMut(&str) -> Option<usize>,
) -> Option<i64> {
    if length < -1 || occurrence < 0 {
        return None;
    }
    let ascii = s.is_ascii();
    let count = char_count(s, ascii);
    let start = if start < 0 { count + start } else { start };
    if start < 0 {
        return None;
    }
    let (mut from, mut seen) = (start, 0);
    // Each further occurrence is searched for in `length` characters from
    // just after the previous one.
    while from <= count {
        let end = if length == -1 { count } else { from.saturating_add(length).min(count) };
        let (a, b) = (byte_at(s, ascii, from as usize), byte_at(s, ascii, end as usize));
        let Some(p) = find(&s[a..b]) else { break };
        let found = char_count(&s[..a + p], ascii);
        seen += 1;
        if seen == occurrence {
            return Some(found);
        }
        from = found + 1;
    }
    Some(-1)
}

/// `translate(search, replacement, text)`: each character of `search`
/// becomes the one at its position in `replacement` (its last character
/// past its end), or is removed when `replacement` is empty.
pub(super) fn translate_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (searches, replacements, texts) = (Strs::new(&args[0])?, Strs::new(&args[1])?, Strs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let (search, replacement) = (searches.get(i).unwrap_or(""), replacements.get(i).unwrap_or(""));
        let replacement: Vec<char> = replacement.chars().collect();
        let translated: String = texts
            .get(i)
            .unwrap_or("")
            .chars()
            .filter_map(|c| match search.chars().position(|x| x == c) {
                None => Some(c),
                Some(k) => replacement.get(k).or(replacement.last()).copied(),
            })
            .collect();
        out.append_value(translated);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `strcmp(a, b)`: -1, 0 or 1 by ordinal comparison.
pub(super) fn strcmp_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (left, right) = (Strs::new(&args[0])?, Strs::new(&args[1])?);
    let out: Int64Array =
        (0..n).map(|i| Some(left.get(i).unwrap_or("").cmp(right.get(i).unwrap_or("")) as i64)).collect();
    maybe_scalar(args, Arc::new(out))
}

/// `strrep(value, times[, delimiter])`; at most 1024 repetitions.
pub(super) fn strrep_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (values, times, delims) = (Strs::new(&args[0])?, Longs::new(&args[1])?, Strs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 16);
    let mut meter = crate::memory::OutputMeter::new("strrep()");
    for i in 0..n {
        let times = times.get(i).unwrap_or(0).clamp(0, 1024) as usize;
        meter.grow(times * (values.get(i).unwrap_or("").len() + delims.get(i).unwrap_or("").len()))?;
        out.append_value(vec![values.get(i).unwrap_or(""); times].join(delims.get(i).unwrap_or("")));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `tohex(value[, min_length])`: two's complement at the value's width
/// (32 bits for int), zero-padded to at most 16 digits.
pub(super) fn tohex_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (values, widths) = (Longs::new(&args[0])?, Longs::new(&args[1])?);
    let is_int = matches!(&args[2], ColumnarValue::Scalar(ScalarValue::Boolean(Some(true))));
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let Some(v) = values.get(i) else {
            out.append_value("");
            continue;
        };
        let hex = if is_int { format!("{:x}", v as i32 as u32) } else { format!("{:x}", v as u64) };
        let width = widths.get(i).unwrap_or(0).clamp(0, 16) as usize;
        out.append_value(format!("{hex:0>width$}"));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

pub(super) fn isascii_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let texts = Strs::new(&args[0])?;
    let out: BooleanArray = (0..n).map(|i| Some(texts.get(i).unwrap_or("").is_ascii())).collect();
    maybe_scalar(args, Arc::new(out))
}

/// The round-trip text of a datetime, `2017-10-15T12:00:00.0000000Z`; `""`
/// for null (unlike [`crate::functions::math`]'s, which keeps null).
pub(super) fn datetime_roundtrip_or_empty(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let values = Longs::new(&args[0])?;
    let mut out = StringBuilder::with_capacity(n, n * 28);
    for i in 0..n {
        out.append_value(
            values.get(i).map_or(String::new(), |v| format_datetime_custom(v, "yyyy-MM-ddTHH:mm:ss.fffffffZ")),
        );
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `make_string(code points or arrays of them, …)`; `""` if one is invalid.
pub(super) fn make_string_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let values = args.iter().map(Bins::new).collect::<Result<Vec<_>>>()?;
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let mut s = String::new();
        let mut push = |d: DynRef<'_>| {
            let c = d.as_long().and_then(|v| u32::try_from(v).ok()).and_then(char::from_u32);
            c.map(|c| s.push(c)).is_some()
        };
        let ok = values.iter().all(|v| {
            let d = DynRef::new(v.get(i).unwrap_or(ENCODED_NULL));
            match d.kind() {
                DynKind::Array => d.array_items().all(&mut push),
                _ => push(d),
            }
        });
        out.append_value(if ok { s.as_str() } else { "" });
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `format_bytes(size, precision, units)`: `564 Bytes`, `10.1 KB`; the
/// unit is the largest under the size unless one is given.
pub(super) fn format_bytes_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    const UNITS: [&str; 7] = ["Bytes", "KB", "MB", "GB", "TB", "PB", "EB"];
    let n = rows_to_compute(args, rows);
    let (sizes, precisions, units) = (Reals::new(&args[0])?, Longs::new(&args[1])?, Strs::new(&args[2])?);
    let mut out = StringBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let Some(size) = sizes.get(i).filter(|s| s.is_finite()) else {
            out.append_value("");
            continue;
        };
        let unit =
            UNITS.iter().position(|u| units.get(i).is_some_and(|x| u.eq_ignore_ascii_case(x))).unwrap_or_else(|| {
                let (mut unit, mut v) = (0, size.abs());
                while v >= 1024.0 && unit < UNITS.len() - 1 {
                    v /= 1024.0;
                    unit += 1;
                }
                unit
            });
        let precision = precisions.get(i).unwrap_or(0).clamp(0, 15) as usize;
        let value = format!("{:.precision$}", size / 1024f64.powi(unit as i32));
        let value = if value.contains('.') { value.trim_end_matches('0').trim_end_matches('.') } else { &value };
        out.append_value(format!("{value} {}", UNITS[unit]));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `has_any_index(text, terms)`: the index of the first term the text
/// `has`, or -1.
pub(super) fn has_any_index_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (texts, terms) = (Strs::new(&args[0])?, Bins::new(&args[1])?);
    let mut matchers: Option<(&[u8], Vec<Matcher>)> = None;
    let mut buf = String::new();
    let mut out = Int64Builder::with_capacity(n);
    for i in 0..n {
        let list = terms.get(i).unwrap_or(ENCODED_NULL);
        if !matches!(&matchers, Some((bytes, _)) if *bytes == list) {
            let built = DynRef::new(list)
                .array_items()
                .map(|t| Matcher::new(StringOpKind::Has, false, &t.to_kql_string()))
                .collect();
            matchers = Some((list, built));
        }
        let text = texts.get(i).unwrap_or("");
        let text = crate::functions::string_ops::fold_case(text, false, &mut buf);
        let found = matchers.as_ref().expect("set above").1.iter().position(|m| m.matches_folded(text));
        out.append_value(found.map_or(-1, |p| p as i64));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}
