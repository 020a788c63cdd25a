//! The Log Analytics query API (`/v1/workspaces/{id}/query`, used by
//! azure-monitor-query's LogsQueryClient): `{"query", "timespan"}` in, and
//! `{"tables": [{name, columns: [{name, type}], rows}]}` out.
//!
//! `timespan` is an ISO 8601 duration (`PT3600.0S`, `P1D`: up to now) or
//! an interval (`start/end`, `start/duration`, `duration/end`). As Log
//! Analytics does, it restricts the tables themselves: every table with a
//! `TimeGenerated` column is read only within the interval, whatever the
//! query says (a `let` named after the table shadows it; `union *`
//! wildcards see the unrestricted tables).

use crate::error::{ApiError, ErrorKind};
use crate::request::get_ci;
use kqlite_engine::types::NANOS_PER_SECOND;
use kqlite_engine::{KqlType, Session};
use serde_json::Value;

/// A Log Analytics request.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct LogsRequest {
    pub query: String,
    pub timespan: Option<String>,
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, message)
}

impl LogsRequest {
    /// A POST body (keys matched ignoring case; `workspaces` is accepted and ignored).
    pub fn parse(body: &[u8]) -> Result<LogsRequest, ApiError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("the request body is not valid JSON: {e}")))?;
        let Value::Object(object) = value else { return Err(bad("the request body must be a JSON object")) };
        let query = match get_ci(&object, "query") {
            Some(Value::String(q)) => q.clone(),
            _ => return Err(bad("the request has no 'query' string")),
        };
        let timespan = match get_ci(&object, "timespan") {
            Some(Value::String(t)) if !t.trim().is_empty() => Some(t.clone()),
            None | Some(Value::Null) | Some(Value::String(_)) => None,
            Some(_) => return Err(bad("'timespan' must be an ISO 8601 duration or interval string")),
        };
        Ok(LogsRequest { query, timespan })
    }
}

/// What a Log Analytics request asks for in its `Prefer` headers
/// (`wait=N, include-render=true, include-statistics=true`; clients
/// separate them with `,` or `;`).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Preferences {
    /// `wait`: the seconds the client will wait (azure-monitor-query's `server_timeout`).
    pub wait_seconds: Option<f64>,
    /// `include-render`: send the query's `render` as the response's `render`.
    pub include_render: bool,
    /// `include-statistics`: send the response's `statistics`.
    pub include_statistics: bool,
}

impl Preferences {
    /// The preferences in `Prefer` header values; unknown ones are ignored,
    /// as the service does.
    pub fn parse<'a>(values: impl IntoIterator<Item = &'a str>) -> Preferences {
        let mut preferences = Preferences::default();
        for preference in values.into_iter().flat_map(|v| v.split([',', ';'])) {
            let Some((key, value)) = preference.split_once('=') else { continue };
            let value = value.trim().trim_matches('"');
            let key = key.trim();
            if key.eq_ignore_ascii_case("wait") {
                preferences.wait_seconds = value.parse::<f64>().ok().filter(|s| s.is_finite() && *s > 0.0);
            } else if key.eq_ignore_ascii_case("include-render") {
                preferences.include_render = value.eq_ignore_ascii_case("true");
            } else if key.eq_ignore_ascii_case("include-statistics") {
                preferences.include_statistics = value.eq_ignore_ascii_case("true");
            }
        }
        preferences
    }
}

/// An ISO 8601 duration in nanoseconds: `P[nW][nD][T[nH][nM][n.nS]]`
/// (years and months have no fixed length and are refused).
pub fn parse_duration(text: &str) -> Option<i64> {
    let text = text.trim();
    let (negative, text) = match text.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, text),
    };
    let body = text.strip_prefix('P').or_else(|| text.strip_prefix('p'))?;
    let mut total: f64 = 0.0;
    let mut in_time = false;
    let mut number = String::new();
    let mut any = false;
    for c in body.chars() {
        match c.to_ascii_uppercase() {
            'T' if number.is_empty() && !in_time => in_time = true,
            '0'..='9' | '.' | ',' => number.push(if c == ',' { '.' } else { c }),
            unit => {
                let value: f64 = number.parse().ok()?;
                number.clear();
                let seconds = match (unit, in_time) {
                    ('W', false) => 7.0 * 86_400.0,
                    ('D', false) => 86_400.0,
                    ('H', true) => 3_600.0,
                    ('M', true) => 60.0,
                    ('S', true) => 1.0,
                    _ => return None,
                };
                total += value * seconds;
                any = true;
            }
        }
    }
    if !number.is_empty() || !any {
        return None;
    }
    let nanos = (total * NANOS_PER_SECOND as f64).round();
    nanos.is_finite().then_some(if negative { -(nanos as i64) } else { nanos as i64 })
}

/// The interval `timespan` stands for, `[start, end]` in nanoseconds, with
/// `now` ending a bare duration.
pub fn parse_timespan(text: &str, now: i64) -> Result<(i64, i64), ApiError> {
    let invalid = || {
        bad(format!(
            "'timespan' {text:?} is not an ISO 8601 duration (PT1H, P1D) or interval (start/end, start/duration, \
             duration/end)"
        ))
    };
    let datetime = |s: &str| kqlite_engine::time::parse_datetime(s.trim());
    let (start, end) = match text.split_once('/') {
        None => {
            let duration = parse_duration(text).ok_or_else(invalid)?;
            (now - duration, now)
        }
        Some((first, second)) => match (datetime(first), datetime(second)) {
            (Some(start), Some(end)) => (start, end),
            (Some(start), None) => (start, start + parse_duration(second).ok_or_else(invalid)?),
            (None, Some(end)) => (end - parse_duration(first).ok_or_else(invalid)?, end),
            (None, None) => return Err(invalid()),
        },
    };
    if start > end {
        return Err(bad(format!("'timespan' {text:?} ends before it starts")));
    }
    Ok((start, end))
}

/// `let` statements (one line) restricting each table of `session` that
/// has a datetime `TimeGenerated` to `[start, end]`.
pub fn restriction_prelude(session: &Session, start: i64, end: i64) -> String {
    let start = kqlite_engine::time::format_datetime_text(start);
    let end = kqlite_engine::time::format_datetime_text(end);
    let mut prelude = String::new();
    for table in session.table_names() {
        let has_time = session
            .table_columns(&table)
            .is_some_and(|c| c.iter().any(|c| c.name == "TimeGenerated" && c.ty == KqlType::Datetime));
        if has_time {
            let name = format!("[{}]", kqlite_syntax::string_literal(&table));
            prelude.push_str(&format!(
                "let {name} = {name} | where TimeGenerated between (datetime({start}) .. datetime({end})); "
            ));
        }
    }
    if !prelude.is_empty() {
        prelude.push('\n');
    }
    prelude
}
