//! Kusto request bodies: `{"db", "csl", "properties"}`. Python sends
//! `properties` as a JSON-encoded string, Grafana as an object with
//! lowercase `options`; keys match case-insensitively and unknown keys are
//! ignored, as ADX does.

use crate::error::{ApiError, ErrorKind};
use serde_json::{Map, Value};
use std::time::Duration;

/// What a Kusto request asks for.
#[derive(Clone, Debug, Default)]
pub struct KustoRequest {
    pub db: Option<String>,
    pub csl: String,
    pub options: RequestOptions,
    /// `Parameters`: name → value text, for `declare query_parameters`.
    pub parameters: Vec<(String, String)>,
}

/// The request options kqlite honours.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RequestOptions {
    /// `servertimeout`: the query's time budget (capped by the server's).
    pub server_timeout: Option<Duration>,
    /// `truncationmaxrecords`: rows returned before the result is cut.
    pub truncation_max_records: Option<u64>,
    /// `notruncation`: no row limit.
    pub no_truncation: bool,
    /// `results_progressive_enabled`: v2 progressive frames.
    pub progressive: bool,
}

/// The key of `object` equal to `key` ignoring case.
pub(crate) fn get_ci<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a Value> {
    object.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::new(ErrorKind::BadRequest, message)
}

impl KustoRequest {
    pub fn parse(body: &[u8]) -> Result<KustoRequest, ApiError> {
        let value: Value =
            serde_json::from_slice(body).map_err(|e| bad(format!("the request body is not valid JSON: {e}")))?;
        let Value::Object(object) = value else { return Err(bad("the request body must be a JSON object")) };
        let csl = match get_ci(&object, "csl") {
            Some(Value::String(s)) => s.clone(),
            Some(_) => return Err(bad("'csl' must be a string")),
            None => return Err(bad("the request has no 'csl' (the query or command text)")),
        };
        let db = match get_ci(&object, "db") {
            Some(Value::String(s)) => Some(s.clone()),
            Some(Value::Null) | None => None,
            Some(_) => return Err(bad("'db' must be a string")),
        };
        let properties = match get_ci(&object, "properties") {
            None | Some(Value::Null) => Map::new(),
            Some(Value::String(s)) if s.trim().is_empty() => Map::new(),
            Some(Value::String(s)) => match serde_json::from_str(s) {
                Ok(Value::Object(o)) => o,
                _ => return Err(bad("'properties' must hold a JSON object")),
            },
            Some(Value::Object(o)) => o.clone(),
            Some(_) => return Err(bad("'properties' must be a JSON object or a string holding one")),
        };
        let mut request = KustoRequest { db, csl, ..KustoRequest::default() };
        if let Some(options) = get_ci(&properties, "options") {
            let Value::Object(options) = options else { return Err(bad("'properties.Options' must be an object")) };
            request.options = RequestOptions::from_map(options)?;
        }
        if let Some(parameters) = get_ci(&properties, "parameters") {
            match parameters {
                Value::Object(map) => {
                    for (name, value) in map {
                        let text = match value {
                            Value::String(s) => s.clone(),
                            Value::Null => continue,
                            other => other.to_string(),
                        };
                        request.parameters.push((name.clone(), text));
                    }
                }
                Value::Null => {}
                _ => return Err(bad("'properties.Parameters' must be an object")),
            }
        }
        Ok(request)
    }
}

impl RequestOptions {
    fn from_map(options: &Map<String, Value>) -> Result<RequestOptions, ApiError> {
        let mut parsed = RequestOptions::default();
        if let Some(value) = get_ci(options, "servertimeout") {
            parsed.server_timeout = Some(parse_server_timeout(value)?);
        }
        if let Some(value) = get_ci(options, "truncationmaxrecords") {
            parsed.truncation_max_records =
                Some(as_u64(value).ok_or_else(|| bad("'truncationmaxrecords' must be a non-negative integer"))?);
        }
        parsed.no_truncation = get_ci(options, "notruncation").is_some_and(as_bool);
        parsed.progressive = get_ci(options, "results_progressive_enabled").is_some_and(as_bool);
        Ok(parsed)
    }
}

fn as_bool(value: &Value) -> bool {
    match value {
        Value::Bool(b) => *b,
        Value::String(s) => s.eq_ignore_ascii_case("true"),
        _ => false,
    }
}

fn as_u64(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// `servertimeout` as clients send it: a timespan text (`"0:01:00"` from
/// Python, `"00:04:00"`, `"1.00:00:00"`); a bare number is refused rather
/// than guessed at.
fn parse_server_timeout(value: &Value) -> Result<Duration, ApiError> {
    let Value::String(text) = value else {
        return Err(bad("'servertimeout' must be a timespan string such as 00:04:00"));
    };
    let nanos = kqlite_engine::time::parse_timespan(text)
        .filter(|n| *n > 0)
        .ok_or_else(|| bad(format!("'servertimeout' is not a positive timespan: {text:?}")))?;
    Ok(Duration::from_nanos(nanos as u64))
}
