//! Conformance runner over the KQL reference's documented examples.
//!
//! Reads `conformance/kql-docs-public.jsonl` from the shared reference folder
//! (`$KQLITE_SHARED`, else `<workspace>/../shared`), runs every example in a
//! fresh session with a fixed clock, compares the result with the documented
//! table and prints a per-family report. Failures go one per line to
//! `target/conformance-failures.txt`.
//!
//! The only assertion is that the runner itself worked (enough cases loaded
//! and run); the pass rate is measured and printed, not asserted.
//!
//! Environment:
//! - `KQLITE_SHARED`: the shared folder (holds `conformance/`).
//! - `KQLITE_CONFORMANCE_FILTER`: run only cases whose id contains this text.
//! - `KQLITE_CONFORMANCE_VERBOSE=1`: print every case's outcome.
//!
//! Documentation mistakes: `tests/conformance_doc_mistakes.txt` lists, one
//! `id<TAB>reason` a line, cases whose documented output Kusto itself would
//! not produce (evidence in the reason: Microsoft's binder, or a second
//! example). Such a case that fails is reported as a "documentation
//! mistake", never as a pass; it still counts as a failure in the pass
//! rates, and the rate without them is printed beside. A listed case that
//! passes is reported as a stale listing.
//!
//! Run: `cargo test -q -p kqlite-engine --test conformance -- --nocapture`

use futures::FutureExt;
use kqlite_engine::{Clock, KqlType, Session};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Duration;

/// `now()` for every example: 2024-01-01T00:00:00Z.
const FIXED_NOW_NANOS: i64 = 1_704_067_200_000_000_000;
/// Per-query limit.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);
/// Relative tolerance for numbers; docs print reals with 15 significant digits.
const REL_TOL: f64 = 1e-9;
/// Relative tolerance for cases flagged `approximate` (dcount/HLL, percentiles, t-digest).
const REL_TOL_APPROXIMATE: f64 = 5e-2;
/// The runner worked if at least this many cases were loaded.
const MIN_CASES: usize = 400;

/// Flags that make the documented output not comparable with any run.
const NOT_COMPARABLE_FLAGS: &[&str] = &[
    "nondeterministic",
    "environment-dependent",
    "truncated-output",
    "possibly-illustrative-output",
    "ellipsis-in-cell",
    "implementation-specific-hash",
];

/// Families left out of issue 19's target (name contains any of these): the
/// graph operators are its next round.
const TARGET_EXCLUDED_FAMILIES: &[&str] = &["Graph"];
/// Issue 19: at least 95 % of the comparable cases pass, in every family
/// but the graph operators.
const TARGET_PASS_RATE: f64 = 0.95;
/// The graph operators (issue 19's next round), wherever their examples are filed.
const GRAPH_OPERATORS: &[&str] =
    &["make-graph", "graph-match", "graph-shortest-paths", "graph-to-table", "graph-mark-components"];

// ---------------------------------------------------------------------------
// Cases

struct Case {
    id: String,
    query: String,
    columns: Vec<String>,
    rows: Vec<Vec<String>>,
    family: String,
    first_op: String,
    /// Flag names (text before `=` or `(`), e.g. `row-order-undefined`.
    flags: Vec<String>,
}

impl Case {
    fn has(&self, flag: &str) -> bool {
        self.flags.iter().any(|f| f == flag)
    }

    fn not_comparable_because(&self) -> Vec<&'static str> {
        NOT_COMPARABLE_FLAGS.iter().copied().filter(|f| self.has(f)).collect()
    }

    /// Outside the graph families and not a graph operator's example filed
    /// elsewhere (the graph tutorial's cases start with make-graph).
    fn in_target(&self) -> bool {
        !TARGET_EXCLUDED_FAMILIES.iter().any(|f| self.family.contains(f))
            && !GRAPH_OPERATORS.contains(&self.first_op.as_str())
    }
}

fn parse_notes(notes: &str) -> (String, String, Vec<String>) {
    let mut family = String::from("(none)");
    let mut first_op = String::from("?");
    let mut flags = Vec::new();
    for part in notes.split(';') {
        let part = part.trim();
        if part.is_empty() {
            continue;
        }
        if let Some(f) = part.strip_prefix("family=") {
            family = f.trim().to_string();
        } else if let Some(op) = part.strip_prefix("first_op=") {
            first_op = op.trim().to_string();
        }
        let end = part.find(['=', '(']).unwrap_or(part.len());
        flags.push(part[..end].trim().to_string());
    }
    (family, first_op, flags)
}

fn load_cases(path: &Path) -> Vec<Case> {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let strings = |v: &Value| -> Vec<String> {
        v.as_array().map(|a| a.iter().map(|c| c.as_str().unwrap_or_default().to_string()).collect()).unwrap_or_default()
    };
    let mut cases = Vec::new();
    for (n, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let v: Value =
            serde_json::from_str(line).unwrap_or_else(|e| panic!("{}:{}: not JSON: {e}", path.display(), n + 1));
        let (family, first_op, flags) = parse_notes(v["notes"].as_str().unwrap_or_default());
        cases.push(Case {
            id: v["id"].as_str().unwrap_or_default().to_string(),
            query: v["query"].as_str().unwrap_or_default().to_string(),
            columns: strings(&v["columns"]),
            rows: v["rows"].as_array().map(|rows| rows.iter().map(strings).collect()).unwrap_or_default(),
            family,
            first_op,
            flags,
        });
    }
    cases
}

fn shared_dir() -> Option<PathBuf> {
    let candidate = match std::env::var_os("KQLITE_SHARED") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    candidate.join("conformance/kql-docs-public.jsonl").is_file().then_some(candidate)
}

fn target_dir() -> PathBuf {
    match std::env::var_os("CARGO_TARGET_DIR") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target"),
    }
}

// ---------------------------------------------------------------------------
// Running

/// What the engine returned, as display text per cell (`output::cell_text`).
struct Actual {
    columns: Vec<(String, KqlType)>,
    rows: Vec<Vec<String>>,
}

enum RunOutcome {
    Ok(Actual),
    /// `parse`, `bind` or `execution`, and the message.
    Error(&'static str, String),
    Panic(String),
    Timeout,
}

async fn run_query(query: String) -> Result<Actual, (&'static str, String)> {
    let mut session = Session::with_partitions(1);
    session.set_clock(Clock::Fixed(FIXED_NOW_NANOS));
    let result = session.query(&query).await.map_err(|e| {
        let kind = match e {
            kqlite_engine::QueryError::Parse(_) => "parse",
            kqlite_engine::QueryError::Bind(_) => "bind",
            kqlite_engine::QueryError::Execution(_) => "execution",
        };
        (kind, e.to_string())
    })?;
    let columns: Vec<(String, KqlType)> = result.columns.iter().map(|c| (c.name.clone(), c.ty)).collect();
    let mut rows = Vec::new();
    for batch in &result.batches {
        for r in 0..batch.num_rows() {
            rows.push(
                columns
                    .iter()
                    .enumerate()
                    .map(|(i, (_, ty))| kqlite_engine::output::cell_text(batch.column(i).as_ref(), r, *ty))
                    .collect(),
            );
        }
    }
    Ok(Actual { columns, rows })
}

fn panic_message(payload: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// Runs one query on the runtime with a timeout; panics are caught.
fn run_guarded(rt: &tokio::runtime::Runtime, query: &str) -> RunOutcome {
    let (tx, rx) = mpsc::channel();
    let query = query.to_string();
    let handle = rt.spawn(async move {
        let outcome = std::panic::AssertUnwindSafe(run_query(query)).catch_unwind().await;
        let _ = tx.send(outcome);
    });
    match rx.recv_timeout(QUERY_TIMEOUT) {
        Ok(Ok(Ok(actual))) => RunOutcome::Ok(actual),
        Ok(Ok(Err((kind, message)))) => RunOutcome::Error(kind, message),
        Ok(Err(payload)) => RunOutcome::Panic(panic_message(payload)),
        Err(mpsc::RecvTimeoutError::Timeout) => {
            handle.abort();
            RunOutcome::Timeout
        }
        Err(mpsc::RecvTimeoutError::Disconnected) => RunOutcome::Panic("task ended without a result".to_string()),
    }
}

// ---------------------------------------------------------------------------
// Normalisations (each documented by its name)

/// Options for comparing one case, from its flags.
#[derive(Clone, Copy)]
struct CompareOptions {
    /// `markdown-in-cells`: strip `**`, backticks and `<br>` from documented cells.
    markdown: bool,
    /// `approximate`: looser numeric tolerance.
    rel_tol: f64,
    /// `dynamic-element-order-may-vary`: arrays compared as multisets.
    unordered_arrays: bool,
    /// `formatted-number-in-cell`: thousands separators in documented numbers.
    thousands_separators: bool,
}

impl CompareOptions {
    fn of(case: &Case) -> CompareOptions {
        CompareOptions {
            markdown: case.has("markdown-in-cells"),
            rel_tol: if case.has("approximate") { REL_TOL_APPROXIMATE } else { REL_TOL },
            unordered_arrays: case.has("dynamic-element-order-may-vary"),
            thousands_separators: case.has("formatted-number-in-cell"),
        }
    }
}

/// Column names: trimmed, markdown backticks and bold markers removed.
fn normalize_column_name(name: &str) -> String {
    name.trim().replace('`', "").replace("**", "").trim().to_string()
}

/// Markdown left in a documented cell: `**bold**`, `` `code` ``, `<br>` line breaks.
fn strip_markdown(cell: &str) -> String {
    cell.replace("<br/>", "\n").replace("<br />", "\n").replace("<br>", "\n").replace("**", "").replace('`', "")
}

/// `1,000,000` → `1000000` (only for numeric columns of flagged cases).
fn strip_thousands_separators(cell: &str) -> String {
    cell.replace(',', "")
}

/// A number written with well-formed thousands separators (`-1,234,567.5`:
/// one to three leading digits, then groups of exactly three): the same
/// number without them. A numeric cell in this form means one number in any
/// flagged case or not (pages print large decimals this way), so it is
/// compared as that number; any other comma is left for the comparison to
/// reject.
fn grouped_number(cell: &str) -> Option<String> {
    let t = cell.trim();
    let unsigned = t.strip_prefix('-').unwrap_or(t);
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (unsigned, None),
    };
    let mut groups = integer.split(',');
    let first = groups.next()?;
    let rest: Vec<&str> = groups.collect();
    let digits = |g: &str| !g.is_empty() && g.bytes().all(|b| b.is_ascii_digit());
    let well_formed = !rest.is_empty()
        && digits(first)
        && first.len() <= 3
        && rest.iter().all(|g| g.len() == 3 && digits(g))
        && fraction.is_none_or(digits);
    well_formed.then(|| t.replace(',', ""))
}

/// Numbers: integers exactly (as i128), otherwise as f64 with a relative
/// tolerance; `NaN` equals `NaN`; `∞`/`Infinity`/`inf` are infinities.
fn parse_number(text: &str) -> Option<f64> {
    let t = text.trim();
    match t {
        "NaN" | "nan" => return Some(f64::NAN),
        "∞" | "Infinity" | "+Infinity" | "inf" | "+inf" => return Some(f64::INFINITY),
        "-∞" | "-Infinity" | "-inf" => return Some(f64::NEG_INFINITY),
        _ => {}
    }
    if t.is_empty() || !t.starts_with(|c: char| c.is_ascii_digit() || c == '-' || c == '+' || c == '.') {
        return None;
    }
    t.parse::<f64>().ok()
}

fn numbers_equal(expected: &str, actual: &str, rel_tol: f64) -> bool {
    if let (Ok(a), Ok(b)) = (expected.trim().parse::<i128>(), actual.trim().parse::<i128>()) {
        if a == b {
            return true;
        }
        if rel_tol == REL_TOL {
            return false;
        }
    }
    match (parse_number(expected), parse_number(actual)) {
        (Some(a), Some(b)) => floats_equal(a, b, rel_tol),
        _ => false,
    }
}

fn floats_equal(a: f64, b: f64, rel_tol: f64) -> bool {
    if a.is_nan() || b.is_nan() {
        return a.is_nan() && b.is_nan();
    }
    if a == b {
        return true;
    }
    if a.is_infinite() || b.is_infinite() {
        return false;
    }
    (a - b).abs() <= rel_tol * a.abs().max(b.abs())
}

/// Datetimes by value: `2017-08-01 00:00:00.0000000`, `2017-08-01T00:00:00Z`,
/// `2017-08-01T00:00:00.5Z`, `2017-08-01` → nanoseconds since the epoch.
fn parse_datetime(text: &str) -> Option<i64> {
    let t = text.trim();
    let t = t.strip_suffix('Z').unwrap_or(t);
    let (date, time) = match t.find(['T', ' ']) {
        Some(i) => (&t[..i], t[i + 1..].trim()),
        None => (t, ""),
    };
    let mut d = date.split('-');
    let (y, m, day) = (d.next()?, d.next()?, d.next()?);
    if d.next().is_some() || y.len() != 4 {
        return None;
    }
    let date = chrono::NaiveDate::from_ymd_opt(y.parse().ok()?, m.parse().ok()?, day.parse().ok()?)?;
    let mut nanos_of_day: i64 = 0;
    if !time.is_empty() {
        let (hms, frac) = match time.split_once('.') {
            Some((h, f)) => (h, f),
            None => (time, ""),
        };
        let mut parts = hms.split(':');
        let h: i64 = parts.next()?.parse().ok()?;
        let mi: i64 = parts.next()?.parse().ok()?;
        let s: i64 = match parts.next() {
            Some(s) => s.parse().ok()?,
            None => 0,
        };
        if parts.next().is_some() || h > 23 || mi > 59 || s > 60 {
            return None;
        }
        nanos_of_day = ((h * 60 + mi) * 60 + s) * 1_000_000_000 + parse_fraction(frac)?;
    }
    let days = date.signed_duration_since(chrono::NaiveDate::from_ymd_opt(1970, 1, 1)?).num_days();
    days.checked_mul(86_400_000_000_000)?.checked_add(nanos_of_day)
}

/// `5` → 500 000 000 ns; up to 9 digits.
fn parse_fraction(frac: &str) -> Option<i64> {
    if frac.is_empty() {
        return Some(0);
    }
    if frac.len() > 9 || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    Some(frac.parse::<i64>().ok()? * 10i64.pow(9 - frac.len() as u32))
}

/// Timespans by value: `[-][d.]hh:mm[:ss[.fffffff]]` → nanoseconds.
fn parse_timespan(text: &str) -> Option<i64> {
    let t = text.trim();
    let (negative, t) = match t.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, t),
    };
    let mut parts = t.split(':');
    let first = parts.next()?;
    let (days, hours) = match first.split_once('.') {
        Some((d, h)) => (d.parse::<i64>().ok()?, h.parse::<i64>().ok()?),
        None => (0, first.parse::<i64>().ok()?),
    };
    let minutes: i64 = parts.next()?.parse().ok()?;
    let (seconds, frac) = match parts.next() {
        Some(s) => match s.split_once('.') {
            Some((s, f)) => (s.parse::<i64>().ok()?, parse_fraction(f)?),
            None => (s.parse::<i64>().ok()?, 0),
        },
        None => (0, 0),
    };
    if parts.next().is_some() || minutes > 59 || seconds > 59 {
        return None;
    }
    let total = (((days * 24 + hours) * 60 + minutes) * 60 + seconds) * 1_000_000_000 + frac;
    Some(if negative { -total } else { total })
}

/// Booleans case-insensitively (`True`/`true`); some pages print `1`/`0`.
fn bools_equal(expected: &str, actual: &str) -> bool {
    let canonical = |s: &str| match s.trim() {
        "1" => "true".to_string(),
        "0" => "false".to_string(),
        other => other.to_ascii_lowercase(),
    };
    canonical(expected) == canonical(actual)
}

/// Null prints as an empty cell, and on some pages as `null` (never for
/// strings, which are not nullable in Kusto).
fn is_documented_null(cell: &str, ty: KqlType) -> bool {
    let t = cell.trim();
    // `(null)` is how the max_of and min_of pages print a null int.
    t.is_empty() || (ty != KqlType::String && (t == "null" || t == "(null)"))
}

/// A markdown autolink `<https://bing.com>`, or a link to itself
/// `[https://bing.com](https://bing.com)`, renders as its address.
fn unwrap_markdown_autolink(cell: &str) -> &str {
    let t = cell.trim();
    if let Some(inner) = t.strip_prefix('<').and_then(|r| r.strip_suffix('>')) {
        if inner.contains("://") && !inner.contains([' ', '<', '>']) {
            return inner;
        }
    }
    // `[URL](URL)`: a URL the page renders as a link to itself.
    if let Some((text, target)) = t.strip_prefix('[').and_then(|r| r.strip_suffix(')')).and_then(|r| r.split_once("]("))
    {
        if text == target && text.contains("://") && !text.contains([' ', '<', '>']) {
            return text;
        }
    }
    cell
}

/// Non-breaking spaces render as plain spaces on the page.
fn plain_spaces(s: &str) -> String {
    s.replace('\u{a0}', " ")
}

/// Documented dynamic text as JSON; falls back to a lenient reading of how
/// the docs print values: single-quoted strings, bare words as strings
/// (`[yes, no, yes]`).
fn parse_documented_json(text: &str) -> Option<Value> {
    let t = text.trim();
    if let Ok(v) = serde_json::from_str::<Value>(t) {
        return Some(v);
    }
    let mut p = Lenient { s: t.as_bytes(), i: 0 };
    let v = p.value()?;
    p.ws();
    (p.i == p.s.len()).then_some(v)
}

struct Lenient<'a> {
    s: &'a [u8],
    i: usize,
}

impl Lenient<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn value(&mut self) -> Option<Value> {
        self.ws();
        match *self.s.get(self.i)? {
            b'[' => {
                self.i += 1;
                let mut items = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Some(Value::Array(items));
                }
                loop {
                    items.push(self.value()?);
                    self.ws();
                    match *self.s.get(self.i)? {
                        b',' => self.i += 1,
                        b']' => {
                            self.i += 1;
                            return Some(Value::Array(items));
                        }
                        _ => return None,
                    }
                }
            }
            b'{' => {
                self.i += 1;
                let mut map = serde_json::Map::new();
                self.ws();
                if self.s.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Some(Value::Object(map));
                }
                loop {
                    let key = match self.value()? {
                        Value::String(s) => s,
                        other => other.to_string(),
                    };
                    self.ws();
                    if *self.s.get(self.i)? != b':' {
                        return None;
                    }
                    self.i += 1;
                    let value = self.value()?;
                    map.insert(key, value);
                    self.ws();
                    match *self.s.get(self.i)? {
                        b',' => self.i += 1,
                        b'}' => {
                            self.i += 1;
                            return Some(Value::Object(map));
                        }
                        _ => return None,
                    }
                }
            }
            q @ (b'"' | b'\'') => {
                self.i += 1;
                let mut out = Vec::new();
                while *self.s.get(self.i)? != q {
                    if self.s[self.i] == b'\\' {
                        self.i += 1;
                        let c = *self.s.get(self.i)?;
                        out.push(match c {
                            b'n' => b'\n',
                            b't' => b'\t',
                            b'r' => b'\r',
                            other => other,
                        });
                    } else {
                        out.push(self.s[self.i]);
                    }
                    self.i += 1;
                }
                self.i += 1;
                Some(Value::String(String::from_utf8(out).ok()?))
            }
            _ => {
                let start = self.i;
                while self.i < self.s.len() && !matches!(self.s[self.i], b',' | b']' | b'}' | b':') {
                    self.i += 1;
                }
                let word = std::str::from_utf8(&self.s[start..self.i]).ok()?.trim();
                if word.is_empty() {
                    return None;
                }
                Some(match word {
                    "true" => Value::Bool(true),
                    "false" => Value::Bool(false),
                    "null" => Value::Null,
                    _ => match serde_json::from_str::<Value>(word) {
                        Ok(n @ Value::Number(_)) => n,
                        _ => Value::String(word.to_string()),
                    },
                })
            }
        }
    }
}

/// JSON values: numbers by value, strings exactly or as equal datetimes /
/// timespans, objects regardless of key order, arrays in order (or as
/// multisets when element order may vary).
fn json_equal(expected: &Value, actual: &Value, options: &CompareOptions) -> bool {
    match (expected, actual) {
        (Value::Null, Value::Null) => true,
        (Value::Bool(a), Value::Bool(b)) => a == b,
        (Value::Number(a), Value::Number(b)) => match (a.as_i64(), b.as_i64()) {
            (Some(x), Some(y)) => {
                x == y || (options.rel_tol > REL_TOL && floats_equal(x as f64, y as f64, options.rel_tol))
            }
            _ => match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => floats_equal(x, y, options.rel_tol),
                _ => false,
            },
        },
        (Value::String(a), Value::String(b)) => {
            a == b
                || matches!((parse_datetime(a), parse_datetime(b)), (Some(x), Some(y)) if x == y)
                || matches!((parse_timespan(a), parse_timespan(b)), (Some(x), Some(y)) if x == y)
        }
        (Value::Array(a), Value::Array(b)) => {
            if a.len() != b.len() {
                return false;
            }
            if options.unordered_arrays {
                perfect_matching(a.len(), |i, j| json_equal(&a[i], &b[j], options))
            } else {
                a.iter().zip(b).all(|(x, y)| json_equal(x, y, options))
            }
        }
        (Value::Object(a), Value::Object(b)) => {
            a.len() == b.len() && a.iter().all(|(k, v)| b.get(k).is_some_and(|w| json_equal(v, w, options)))
        }
        _ => false,
    }
}

/// Dynamic cells by parsed JSON value. A dynamic string prints unquoted in
/// the docs, so a JSON string result also equals the documented text itself.
fn dynamic_equal(expected: &str, actual: &str, options: &CompareOptions) -> bool {
    if expected.trim() == actual.trim() {
        return true;
    }
    let Ok(actual_value) = serde_json::from_str::<Value>(actual) else { return false };
    if let Value::String(s) = &actual_value {
        if s == expected || s.trim() == expected.trim() {
            return true;
        }
    }
    match parse_documented_json(expected) {
        Some(expected_value) => json_equal(&expected_value, &actual_value, options),
        None => false,
    }
}

/// One cell: documented text against the engine's `cell_text` for `ty`.
fn cell_equal(expected: &str, actual: &str, ty: KqlType, options: &CompareOptions) -> bool {
    // Backticks can be a dynamic value's own text (buildschema's "`indexer`"
    // key), so the documented text as written also counts.
    if options.markdown && ty == KqlType::Dynamic && dynamic_equal(expected, actual, options) {
        return true;
    }
    let mut expected = expected.to_string();
    if options.markdown {
        expected = strip_markdown(&expected);
    }
    let numeric = matches!(ty, KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal);
    if numeric && options.thousands_separators {
        expected = strip_thousands_separators(&expected);
    }
    if let Some(plain) = grouped_number(&expected).filter(|_| numeric) {
        expected = plain;
    }
    // Empty cell and null are the same on the page.
    if is_documented_null(&expected, ty) || actual.is_empty() {
        return is_documented_null(&expected, ty) && actual.trim().is_empty();
    }
    match ty {
        KqlType::Int | KqlType::Long | KqlType::Real | KqlType::Decimal => {
            numbers_equal(&expected, actual, options.rel_tol)
        }
        KqlType::Bool => bools_equal(&expected, actual),
        KqlType::Datetime => match (parse_datetime(&expected), parse_datetime(actual)) {
            (Some(a), Some(b)) => a == b,
            _ => expected.trim() == actual.trim(),
        },
        KqlType::Timespan => match (parse_timespan(&expected), parse_timespan(actual)) {
            (Some(a), Some(b)) => a == b,
            _ => expected.trim() == actual.trim(),
        },
        KqlType::Guid => expected.trim().eq_ignore_ascii_case(actual.trim()),
        KqlType::Dynamic => dynamic_equal(&expected, actual, options),
        // Markdown tables trim cells, so compare trimmed text too.
        KqlType::String => {
            expected == actual
                || expected.trim() == actual.trim()
                || plain_spaces(expected.trim()) == plain_spaces(actual.trim())
                || unwrap_markdown_autolink(&expected) == actual.trim()
        }
    }
}

/// Kuhn's augmenting paths: is there a perfect matching of n × n under `eq`?
fn perfect_matching(n: usize, eq: impl Fn(usize, usize) -> bool) -> bool {
    let adj: Vec<Vec<usize>> = (0..n).map(|i| (0..n).filter(|&j| eq(i, j)).collect()).collect();
    let mut owner: Vec<Option<usize>> = vec![None; n];
    fn augment(i: usize, adj: &[Vec<usize>], seen: &mut [bool], owner: &mut [Option<usize>]) -> bool {
        for &j in &adj[i] {
            if seen[j] {
                continue;
            }
            seen[j] = true;
            if owner[j].is_none_or(|k| augment(k, adj, seen, owner)) {
                owner[j] = Some(i);
                return true;
            }
        }
        false
    }
    (0..n).all(|i| augment(i, &adj, &mut vec![false; n], &mut owner))
}

fn clip(s: &str, n: usize) -> String {
    let one_line = s.replace('\n', "\\n");
    if one_line.chars().count() > n {
        format!("{}…", one_line.chars().take(n).collect::<String>())
    } else {
        one_line
    }
}

/// Compares a result with the documented table; `Err` says the first difference.
fn compare(case: &Case, actual: &Actual) -> Result<(), String> {
    let options = CompareOptions::of(case);
    let expected_names: Vec<String> = case.columns.iter().map(|c| normalize_column_name(c)).collect();
    let actual_names: Vec<String> = actual.columns.iter().map(|(n, _)| n.clone()).collect();
    if expected_names != actual_names {
        // Several pages print a header Kusto would not produce (`result` for
        // `print cos(1)`); say whether the cells agree all the same.
        let cells = if expected_names.len() == actual_names.len() {
            match compare_cells(case, actual, &options) {
                Ok(()) => "; cells match",
                Err(_) => "; cells differ too",
            }
        } else {
            ""
        };
        return Err(format!(
            "columns differ: expected [{}], got [{}]{cells}",
            clip(&expected_names.join(", "), 80),
            clip(&actual_names.join(", "), 80)
        ));
    }
    compare_cells(case, actual, &options)
}

/// Compares the rows cell by cell (columns already paired by position).
fn compare_cells(case: &Case, actual: &Actual, options: &CompareOptions) -> Result<(), String> {
    let options = *options;
    let mut expected_rows = case.rows.clone();
    // A documented empty table prints as one row of empty cells.
    if expected_rows.len() == 1 && actual.rows.is_empty() && expected_rows[0].iter().all(|c| c.trim().is_empty()) {
        expected_rows.clear();
    }
    if expected_rows.len() != actual.rows.len() {
        return Err(format!("row count: expected {}, got {}", expected_rows.len(), actual.rows.len()));
    }
    let width = actual.columns.len();
    if let Some(bad) = expected_rows.iter().position(|r| r.len() != width) {
        return Err(format!("documented row {bad} has {} cells for {width} columns", expected_rows[bad].len()));
    }
    let row_equal =
        |e: &[String], a: &[String]| (0..width).all(|c| cell_equal(&e[c], &a[c], actual.columns[c].1, &options));
    if case.has("row-order-undefined") {
        if perfect_matching(expected_rows.len(), |i, j| row_equal(&expected_rows[i], &actual.rows[j])) {
            return Ok(());
        }
        // Say which expected row has no partner, and the nearest actual cell.
        for (i, e) in expected_rows.iter().enumerate() {
            if !actual.rows.iter().any(|a| row_equal(e, a)) {
                let a = actual.rows.get(i).unwrap_or(&actual.rows[0]);
                let c = (0..width).find(|&c| !cell_equal(&e[c], &a[c], actual.columns[c].1, &options)).unwrap_or(0);
                return Err(format!(
                    "cell mismatch ({}) [unordered; row {i} col {}]: expected `{}`, got `{}`",
                    actual.columns[c].1.name(),
                    actual.columns[c].0,
                    clip(&e[c], 60),
                    clip(&a[c], 60)
                ));
            }
        }
        return Err("cell mismatch (unordered): rows cannot be paired one to one".to_string());
    }
    for (r, (e, a)) in expected_rows.iter().zip(&actual.rows).enumerate() {
        for c in 0..width {
            if !cell_equal(&e[c], &a[c], actual.columns[c].1, &options) {
                return Err(format!(
                    "cell mismatch ({}) [row {r} col {}]: expected `{}`, got `{}`",
                    actual.columns[c].1.name(),
                    actual.columns[c].0,
                    clip(&e[c], 60),
                    clip(&a[c], 60)
                ));
            }
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Report

#[derive(Default, Clone, Copy)]
struct Tally {
    total: usize,
    not_comparable: usize,
    passed: usize,
    /// Failures, documentation mistakes included.
    failed: usize,
    /// Failures listed as documentation mistakes.
    doc_mistakes: usize,
}

impl Tally {
    fn rate(&self) -> f64 {
        let comparable = self.passed + self.failed;
        if comparable == 0 {
            0.0
        } else {
            self.passed as f64 / comparable as f64
        }
    }

    /// The pass rate with documentation mistakes left out of the comparable cases.
    fn rate_without_doc_mistakes(&self) -> f64 {
        let comparable = self.passed + self.failed - self.doc_mistakes;
        if comparable == 0 {
            0.0
        } else {
            self.passed as f64 / comparable as f64
        }
    }
}

fn count(t: &mut Tally, verdict: &Verdict) {
    t.total += 1;
    match verdict {
        Verdict::Pass => t.passed += 1,
        Verdict::Fail(_) => t.failed += 1,
        Verdict::DocMistake(..) => {
            t.failed += 1;
            t.doc_mistakes += 1;
        }
        Verdict::NotComparable(..) => t.not_comparable += 1,
    }
}

enum Verdict {
    Pass,
    Fail(String),
    NotComparable(Vec<&'static str>, Option<String>),
    /// Listed in `conformance_doc_mistakes.txt` and failed: (why the
    /// documented output is wrong, how it failed). Counted as a failure.
    DocMistake(String, String),
}

/// `tests/conformance_doc_mistakes.txt`: case id → why its documented output
/// is wrong. Lines starting with `#` and blank lines are skipped.
fn load_doc_mistakes() -> BTreeMap<String, String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/conformance_doc_mistakes.txt");
    let Ok(text) = std::fs::read_to_string(&path) else { return BTreeMap::new() };
    text.lines()
        .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
        .map(|l| match l.split_once('\t') {
            Some((id, reason)) => (id.trim().to_string(), reason.trim().to_string()),
            None => panic!("{}: line without a TAB between id and reason: {l}", path.display()),
        })
        .collect()
}

/// Groups reasons: quoted names and numbers masked, then the first words.
fn reason_group(reason: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    for ch in reason.chars() {
        match quote {
            Some(q) if ch == q => {
                out.push('…');
                out.push(ch);
                quote = None;
            }
            Some(_) => {}
            None if matches!(ch, '\'' | '`' | '"') => {
                out.push(ch);
                quote = Some(ch);
            }
            None if ch.is_ascii_digit() => {
                if !out.ends_with('N') {
                    out.push('N');
                }
            }
            None => out.push(ch),
        }
    }
    let cut = match out.find(": expected") {
        Some(_) if out.starts_with("columns differ") => {
            return if out.ends_with("cells match") {
                "columns differ (cells match)".to_string()
            } else {
                "columns differ".to_string()
            };
        }
        Some(i) if out.starts_with("cell mismatch") || out.starts_with("row count") => &out[..i],
        _ => out.as_str(),
    };
    clip(cut, 90)
}

#[test]
fn kql_docs_conformance() {
    let Some(shared) = shared_dir() else {
        println!("SKIP conformance: ../shared not found (it holds the KQL docs examples)");
        return;
    };
    let path = shared.join("conformance/kql-docs-public.jsonl");
    let path = path.canonicalize().unwrap_or(path);
    let mut cases = load_cases(&path);
    let loaded = cases.len();
    let filter = std::env::var("KQLITE_CONFORMANCE_FILTER").ok().filter(|f| !f.is_empty());
    if let Some(f) = &filter {
        cases.retain(|c| c.id.contains(f.as_str()));
    }
    let verbose = std::env::var("KQLITE_CONFORMANCE_VERBOSE").is_ok_and(|v| v == "1");
    let doc_mistakes = load_doc_mistakes();
    let mut stale_listings: Vec<&str> = Vec::new();

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(4)
        .thread_stack_size(32 << 20)
        .enable_all()
        .build()
        .expect("tokio runtime");

    // Panics inside queries are caught and reported; keep their default
    // messages out of the report.
    let default_hook = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));

    let mut verdicts: Vec<Verdict> = Vec::with_capacity(cases.len());
    let started = std::time::Instant::now();
    for case in &cases {
        let outcome = run_guarded(&rt, &case.query);
        let failure = match &outcome {
            RunOutcome::Ok(actual) => compare(case, actual).err(),
            RunOutcome::Error(kind, message) => Some(format!("{kind} error: {}", clip(message, 160))),
            RunOutcome::Panic(message) => Some(format!("panic: {}", clip(message, 160))),
            RunOutcome::Timeout => Some(format!("timeout after {} s", QUERY_TIMEOUT.as_secs())),
        };
        let not_comparable = case.not_comparable_because();
        let verdict = if !not_comparable.is_empty() {
            Verdict::NotComparable(not_comparable, failure)
        } else {
            match (failure, doc_mistakes.get(&case.id)) {
                (None, listed) => {
                    if listed.is_some() {
                        stale_listings.push(&case.id);
                    }
                    Verdict::Pass
                }
                (Some(reason), Some(why)) => Verdict::DocMistake(why.clone(), reason),
                (Some(reason), None) => Verdict::Fail(reason),
            }
        };
        if verbose {
            match &verdict {
                Verdict::Pass => println!("PASS {}", case.id),
                Verdict::Fail(r) => println!("FAIL {} [{}] {r}", case.id, case.first_op),
                Verdict::DocMistake(why, r) => {
                    println!("DOCM {} [{}] {r} — documentation mistake: {why}", case.id, case.first_op)
                }
                Verdict::NotComparable(f, r) => {
                    println!(
                        "N/C  {} ({}){}",
                        case.id,
                        f.join(","),
                        r.as_ref().map(|r| format!(" {r}")).unwrap_or_default()
                    )
                }
            }
        }
        verdicts.push(verdict);
    }
    let elapsed = started.elapsed();
    std::panic::set_hook(default_hook);
    // A query stuck in synchronous code must not hold the test open.
    rt.shutdown_background();

    // Per-family tallies.
    let mut families: BTreeMap<&str, Tally> = BTreeMap::new();
    // The same, over the target's cases only.
    let mut target_families: BTreeMap<&str, Tally> = BTreeMap::new();
    let mut overall = Tally::default();
    let mut target = Tally::default();
    let mut not_comparable_errors = 0;
    for (case, verdict) in cases.iter().zip(&verdicts) {
        count(families.entry(case.family.as_str()).or_default(), verdict);
        count(&mut overall, verdict);
        if case.in_target() {
            count(&mut target, verdict);
            count(target_families.entry(case.family.as_str()).or_default(), verdict);
        }
        if let Verdict::NotComparable(_, Some(_)) = verdict {
            not_comparable_errors += 1;
        }
    }

    println!();
    println!(
        "KQL docs conformance: {} ({} cases loaded{})",
        path.display(),
        loaded,
        filter.as_ref().map(|f| format!(", filter '{f}' → {} run", cases.len())).unwrap_or_default()
    );
    println!(
        "clock fixed at 2024-01-01T00:00:00Z; per-query timeout {} s; ran in {:.1} s",
        QUERY_TIMEOUT.as_secs(),
        elapsed.as_secs_f64()
    );
    println!();
    println!("{:<52} {:>5} {:>5} {:>6} {:>6} {:>6}", "family", "total", "n/c", "passed", "failed", "pass%");
    println!("{}", "-".repeat(86));
    for (family, t) in &families {
        println!(
            "{:<52} {:>5} {:>5} {:>6} {:>6} {:>5.1}%",
            clip(family, 52),
            t.total,
            t.not_comparable,
            t.passed,
            t.failed,
            100.0 * t.rate()
        );
    }
    println!("{}", "-".repeat(86));
    println!(
        "{:<52} {:>5} {:>5} {:>6} {:>6} {:>5.1}%",
        "ALL",
        overall.total,
        overall.not_comparable,
        overall.passed,
        overall.failed,
        100.0 * overall.rate()
    );
    println!(
        "{:<52} {:>5} {:>5} {:>6} {:>6} {:>5.1}%",
        "TARGET (excl. graph operators)",
        target.total,
        target.not_comparable,
        target.passed,
        target.failed,
        100.0 * target.rate()
    );
    println!();
    println!(
        "overall pass rate: {:.1}% ({} of {} comparable; {} not comparable, of which {} did not run cleanly)",
        100.0 * overall.rate(),
        overall.passed,
        overall.passed + overall.failed,
        overall.not_comparable,
        not_comparable_errors
    );
    println!(
        "documentation mistakes (listed in tests/conformance_doc_mistakes.txt, counted as failures above): {} of the {} failures; pass rate without them: {:.1}% overall, {:.1}% in the target scope",
        overall.doc_mistakes,
        overall.failed,
        100.0 * overall.rate_without_doc_mistakes(),
        100.0 * target.rate_without_doc_mistakes()
    );
    for id in &stale_listings {
        println!("STALE documentation-mistake listing: {id} passes; remove it from conformance_doc_mistakes.txt");
    }
    let met = target.rate() >= TARGET_PASS_RATE;
    println!("==================================================================");
    println!(
        "ISSUE TARGET: pass rate outside the graph operators = {:.1}% ({} of {}); target ≥ {:.0}%: {}",
        100.0 * target.rate(),
        target.passed,
        target.passed + target.failed,
        100.0 * TARGET_PASS_RATE,
        if met { "MET" } else { "NOT MET" }
    );
    let below: Vec<String> = target_families
        .iter()
        .filter(|(_, t)| t.passed + t.failed > 0 && t.rate() < TARGET_PASS_RATE)
        .map(|(family, t)| format!("{family} {:.0}% ({} of {})", 100.0 * t.rate(), t.passed, t.passed + t.failed))
        .collect();
    println!("families below the target: {}", if below.is_empty() { "none".to_string() } else { below.join("; ") });
    println!("==================================================================");

    // Failure reasons, grouped.
    let mut groups: BTreeMap<String, usize> = BTreeMap::new();
    for verdict in &verdicts {
        if let Verdict::Fail(reason) = verdict {
            *groups.entry(reason_group(reason)).or_default() += 1;
        }
    }
    let mut groups: Vec<(String, usize)> = groups.into_iter().collect();
    groups.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    println!();
    println!("most common failure reasons (quoted names and numbers masked):");
    for (reason, n) in groups.iter().take(15) {
        println!("{n:>5}  {reason}");
    }
    // The functions most often missing in the target scope, to prioritise.
    let mut missing: BTreeMap<&str, usize> = BTreeMap::new();
    for (case, verdict) in cases.iter().zip(&verdicts) {
        if !case.in_target() {
            continue;
        }
        if let Verdict::Fail(reason) = verdict {
            if let Some(rest) = reason.strip_prefix("bind error: unknown function '") {
                if let Some(end) = rest.find('\'') {
                    *missing.entry(&rest[..end]).or_default() += 1;
                }
            }
        }
    }
    let mut missing: Vec<(&str, usize)> = missing.into_iter().collect();
    missing.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
    println!();
    println!(
        "unknown functions in failing cases outside the graph operators: {} distinct, {} cases; most cited:",
        missing.len(),
        missing.iter().map(|(_, n)| n).sum::<usize>()
    );
    for line in missing.iter().take(40).collect::<Vec<_>>().chunks(5) {
        println!("  {}", line.iter().map(|(f, n)| format!("{f} ({n})")).collect::<Vec<_>>().join(", "));
    }

    // Failures file: one line each, then the not-comparable cases.
    let dir = target_dir();
    let _ = std::fs::create_dir_all(&dir);
    let failures_path = dir.join("conformance-failures.txt");
    let failures_path = dir.canonicalize().map(|d| d.join("conformance-failures.txt")).unwrap_or(failures_path);
    let mut text = String::from("# kqlite KQL docs conformance failures: id<TAB>first_op<TAB>family<TAB>reason\n");
    for (case, verdict) in cases.iter().zip(&verdicts) {
        if let Verdict::Fail(reason) = verdict {
            text.push_str(&format!("{}\t{}\t{}\t{}\n", case.id, case.first_op, case.family, reason));
        }
    }
    text.push_str(
        "# documentation mistakes (id<TAB>first_op<TAB>why the documented output is wrong<TAB>how it failed):\n",
    );
    for (case, verdict) in cases.iter().zip(&verdicts) {
        if let Verdict::DocMistake(why, reason) = verdict {
            text.push_str(&format!("# {}\t{}\t{}\t{}\n", case.id, case.first_op, why, reason));
        }
    }
    text.push_str("# not comparable (flags; outcome if it did not run cleanly):\n");
    for (case, verdict) in cases.iter().zip(&verdicts) {
        if let Verdict::NotComparable(flags, reason) = verdict {
            text.push_str(&format!(
                "# {}\t{}\t{}\t{}\n",
                case.id,
                case.first_op,
                flags.join(","),
                reason.as_deref().unwrap_or("ran")
            ));
        }
    }
    match std::fs::write(&failures_path, text) {
        Ok(()) => println!("\nfailures written to {}", failures_path.display()),
        Err(e) => println!("\ncould not write {}: {e}", failures_path.display()),
    }

    // Only the runner's own health is asserted.
    if filter.is_none() {
        assert!(loaded >= MIN_CASES, "only {loaded} cases loaded from {}", path.display());
        assert_eq!(verdicts.len(), loaded, "every case produced a verdict");
    }
}

#[cfg(test)]
mod normalisation_tests {
    use super::*;

    fn opts() -> CompareOptions {
        CompareOptions { markdown: true, rel_tol: REL_TOL, unordered_arrays: false, thousands_separators: false }
    }

    #[test]
    fn datetimes_by_value() {
        let a = parse_datetime("2017-08-01 00:00:00.0000000");
        assert_eq!(a, parse_datetime("2017-08-01T00:00:00Z"));
        assert_eq!(a, parse_datetime("2017-08-01"));
        assert_eq!(parse_datetime("2015-12-05 09:10:04.627"), parse_datetime("2015-12-05T09:10:04.627Z"));
        assert_ne!(a, parse_datetime("2017-08-01T00:00:00.5Z"));
        assert_eq!(parse_datetime("1970-01-01T00:00:01Z"), Some(1_000_000_000));
    }

    #[test]
    fn links_to_themselves_are_their_address() {
        let url = "https://www.bing.com/maps?sp=point.1_2";
        assert_eq!(unwrap_markdown_autolink(&format!("[{url}]({url})")), url);
        assert_eq!(unwrap_markdown_autolink(&format!("<{url}>")), url);
        // A link whose text differs from its target is left as written.
        let other = format!("[here]({url})");
        assert_eq!(unwrap_markdown_autolink(&other), other);
    }

    #[test]
    fn timespans_by_value() {
        assert_eq!(parse_timespan("00:00:05"), Some(5_000_000_000));
        assert_eq!(parse_timespan("1.00:00:00"), Some(86_400_000_000_000));
        assert_eq!(parse_timespan("00:00:00.5000000"), Some(500_000_000));
        assert_eq!(parse_timespan("-00:00:01"), Some(-1_000_000_000));
        assert_eq!(parse_timespan("1.02:03:04.5"), parse_timespan("1.02:03:04.5000000"));
    }

    #[test]
    fn cells() {
        let o = opts();
        assert!(cell_equal("True", "true", KqlType::Bool, &o));
        assert!(cell_equal("3.14159265358979", "3.141592653589793", KqlType::Real, &o));
        assert!(!cell_equal("3.1415", "3.141592653589793", KqlType::Real, &o));
        assert!(cell_equal("NaN", "NaN", KqlType::Real, &o));
        assert!(cell_equal("-∞", "-∞", KqlType::Real, &o));
        assert!(cell_equal("null", "", KqlType::Int, &o));
        assert!(cell_equal("(null)", "", KqlType::Int, &o));
        assert!(!cell_equal("(null)", "1", KqlType::Int, &o));
        assert!(!cell_equal("(null)", "", KqlType::String, &o));
        assert!(!cell_equal("null", "", KqlType::String, &o));
        assert!(cell_equal("0", "false", KqlType::Bool, &o));
        assert!(cell_equal("Hello World", "Hello\u{a0}World", KqlType::String, &o));
        assert!(cell_equal("<https://bing.com>", "https://bing.com", KqlType::String, &o));
        assert!(cell_equal("", "", KqlType::Long, &o));
        assert!(cell_equal("`Wow!`", "Wow!", KqlType::String, &o));
        assert!(cell_equal("[<br>  \"rm\",<br>  \"pwd\"<br>]", "[\"rm\",\"pwd\"]", KqlType::Dynamic, &o));
        assert!(cell_equal("[yes, no, yes]", "[\"yes\",\"no\",\"yes\"]", KqlType::Dynamic, &o));
        assert!(cell_equal("{'a': 1,'b': '2','c': 3.4}", "{\"a\":1,\"b\":\"2\",\"c\":3.4}", KqlType::Dynamic, &o));
        assert!(cell_equal("5th Avenue NY", "\"5th Avenue NY\"", KqlType::Dynamic, &o));
        assert!(cell_equal("{\"key3\": 42.0}", "{\"key3\":42}", KqlType::Dynamic, &o));
        assert!(!cell_equal("[1,2]", "[2,1]", KqlType::Dynamic, &o));
        let u = CompareOptions { unordered_arrays: true, ..o };
        assert!(cell_equal("[1,2,2]", "[2,1,2]", KqlType::Dynamic, &u));
        assert!(!cell_equal("[1,1,2]", "[2,1,2]", KqlType::Dynamic, &u));
        let t = CompareOptions { thousands_separators: true, ..o };
        assert!(cell_equal("700,000,000", "700000000", KqlType::Long, &t));
        // Grouped decimals compare as numbers even unflagged; malformed
        // grouping and wrong values still fail.
        assert!(cell_equal("1,000,000,020,000,000,300,000,004", "1000000020000000300000004", KqlType::Decimal, &o));
        assert!(!cell_equal("1,000,000,020,000,000,300,000,004", "1000000020000000300000000", KqlType::Decimal, &o));
        assert!(!cell_equal("1,00,0", "1000", KqlType::Long, &o));
        assert!(!cell_equal("1,000", "1000", KqlType::String, &o));
        assert_eq!(grouped_number("-12,345.5"), Some("-12345.5".to_string()));
        assert_eq!(grouped_number("12345"), None);
        assert_eq!(grouped_number("1234,567"), None);
    }
}
