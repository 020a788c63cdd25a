//! Windows events exported as JSON into the same `SecurityEvent` and
//! `WindowsEvent` rows as the EVTX reader makes (the mapping is the EVTX
//! reader's own, through [`crate::evtx::EventRows`], built from the
//! events' fields).
//!
//! Three shapes are read, one record per JSON line or array element:
//! - NXLog (`im_msvistalog` + `to_json`), which the OTRF/Mordor datasets also
//!   use: flat `EventID`, `Channel`, `Hostname`, `SourceName`, `EventTime`,
//!   `RecordNumber`, …, with the `EventData` fields (`TargetUserName`,
//!   `LogonType`, `IpAddress`, …) beside them at the top level.
//! - Winlogbeat: `winlog.event_id`, `winlog.channel`, `winlog.computer_name`,
//!   `winlog.provider_name`, `winlog.event_data.{…}` (or `winlog.user_data`)
//!   and `@timestamp`; nested objects or flattened dotted keys.
//! - The flat shape with `Computer` and `TimeCreated` instead of NXLog's names.

use crate::evtx::{EventFields, EventRows};
use crate::tabular::{LoadReport, LoadedTable};
use kqlite_engine::time::parse_datetime;
use kqlite_engine::BATCH_ROWS;
use serde_json::{Map, Value};

/// Why a record gives no event (the reason its rejection shows; the
/// report says where: `file:LINE` or `file: element N`).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not valid JSON: {0}")]
    InvalidJson(#[source] serde_json::Error),
    #[error("not a JSON array of events: {0}")]
    InvalidArray(#[source] serde_json::Error),
    #[error("expected a JSON object (a Windows event), found {0}")]
    NotAnObject(&'static str),
    #[error("no event ID (expected NXLog's EventID or Winlogbeat's winlog.event_id)")]
    NoEventId,
}

/// Whether a JSON record (the first of a file) is a Windows event in one of
/// the shapes [`load_windows_json`] reads. A Log Analytics export of
/// `SecurityEvent` (it has `TimeGenerated`) is not: it loads as that table.
pub fn looks_like_windows_json(first_record: &Map<String, Value>) -> bool {
    if is_winlogbeat(first_record) {
        return true;
    }
    let has = |key: &str| first_record.contains_key(key);
    has("EventID")
        && !has("TimeGenerated")
        && (has("Channel") || has("SourceName") || has("ProviderName"))
        && (has("Hostname") || has("Computer") || has("EventTime") || has("TimeCreated") || has("@timestamp"))
}

/// Loads JSON lines or a JSON array of Windows events; `location` names the
/// input in rejections (`location:LINE`, or `location: element N` in an array).
/// Security-channel events become SecurityEvent rows only, as with EVTX.
pub fn load_windows_json(bytes: &[u8], location: &str) -> (Vec<LoadedTable>, LoadReport) {
    let mut tables = Vec::new();
    let report = read_windows_json(&mut &bytes[..], location, false, &mut |mut more| tables.append(&mut more));
    (tables, report)
}

/// Windows events read from `reader`: JSON lines a batch of records at a
/// time (memory stays bounded), handing each batch's tables to `emit`; a
/// JSON array (rare: the shippers write lines) is read whole. Returns the
/// report of the whole input.
pub fn read_windows_json(
    reader: &mut dyn std::io::BufRead,
    location: &str,
    security_in_windows_event: bool,
    emit: &mut dyn FnMut(Vec<LoadedTable>),
) -> LoadReport {
    let mut rows = EventRows::new(security_in_windows_event);
    let mut read = 0;
    let mut rejected = Vec::new();
    let mut take = |rows: &mut EventRows, record: Result<Value, RecordError>, at: String| {
        read += 1;
        let fields = record.and_then(|value| match value {
            Value::Object(map) => event_fields(&map),
            other => Err(RecordError::NotAnObject(kind(&other))),
        });
        match fields {
            Ok(fields) => rows.push(&fields),
            Err(reason) => rejected.push((at, reason.to_string())),
        }
    };
    let mut line = Vec::new();
    let mut number = 0;
    let mut since_drain = 0;
    let mut notices = Vec::new();
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => number += 1,
            Err(e) => {
                notices.push(format!("{location}: stopped after line {number}: {e}"));
                break;
            }
        }
        let text = String::from_utf8_lossy(&line);
        let body = text.trim().trim_start_matches('\u{feff}');
        if body.is_empty() {
            continue;
        }
        if number == 1 && body.starts_with('[') {
            // A JSON array: the whole input, read whole.
            let mut all = line.clone();
            if let Err(e) = reader.read_to_end(&mut all) {
                notices.push(format!("{location}: stopped reading: {e}"));
            }
            let text = String::from_utf8_lossy(&all);
            match serde_json::from_str::<Vec<Value>>(text.trim().trim_start_matches('\u{feff}')) {
                Ok(items) => {
                    for (i, item) in items.into_iter().enumerate() {
                        take(&mut rows, Ok(item), format!("{location}: element {}", i + 1));
                    }
                }
                Err(e) => {
                    let at = format!("{location}:{}", e.line());
                    take(&mut rows, Err(RecordError::InvalidArray(e)), at)
                }
            }
            break;
        }
        let record = serde_json::from_str::<Value>(body).map_err(RecordError::InvalidJson);
        take(&mut rows, record, format!("{location}:{number}"));
        since_drain += 1;
        if since_drain == BATCH_ROWS {
            emit(rows.drain());
            since_drain = 0;
        }
    }
    let (tables, mut report) = rows.finish(location);
    emit(tables);
    report.records_read = read;
    report.rejected = rejected;
    report.notices.extend(notices);
    report
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_winlogbeat(record: &Map<String, Value>) -> bool {
    matches!(record.get("winlog"), Some(Value::Object(w)) if w.contains_key("event_id") || w.contains_key("channel"))
        || record.contains_key("winlog.event_id")
        || record.contains_key("winlog.channel")
}

/// A value as Windows would render it: strings as they are, numbers and
/// booleans as text, null as empty, arrays and objects as JSON.
fn text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        Value::Number(n) => n.to_string(),
        Value::Bool(b) => b.to_string(),
        other => other.to_string(),
    }
}

fn event_fields(record: &Map<String, Value>) -> Result<EventFields, RecordError> {
    let fields = if is_winlogbeat(record) { winlogbeat(record) } else { flat(record) };
    if fields.event_id.trim().is_empty() {
        return Err(RecordError::NoEventId);
    }
    Ok(fields)
}

/// NXLog's names for the `System` values and its own additions; every
/// other top-level key is an `EventData` field.
const FLAT_SYSTEM_KEYS: &[&str] = &[
    "EventTime",
    "EventReceivedTime",
    "TimeCreated",
    "@timestamp",
    "@version",
    "Hostname",
    "Computer",
    "Keywords",
    "EventType",
    "SeverityValue",
    "Severity",
    "Level",
    "EventID",
    "SourceName",
    "ProviderName",
    "ProviderGuid",
    "Version",
    "Task",
    "OpcodeValue",
    "Opcode",
    "RecordNumber",
    "EventRecordID",
    "ActivityID",
    "RelatedActivityID",
    "ProcessID",
    "ThreadID",
    "ExecutionProcessID",
    "ExecutionThreadID",
    "Channel",
    "Domain",
    "AccountName",
    "UserID",
    "AccountType",
    "Category",
    "Message",
    "SourceModuleName",
    "SourceModuleType",
    "host",
    "port",
    "tags",
    "type",
];

fn flat(r: &Map<String, Value>) -> EventFields {
    let first = |keys: &[&str]| keys.iter().find_map(|k| r.get(*k).filter(|v| !v.is_null())).map(text);
    let time = ["@timestamp", "TimeCreated", "EventTime", "EventReceivedTime"]
        .iter()
        .find_map(|k| r.get(*k).and_then(Value::as_str).and_then(parse_datetime));
    // NXLog writes Keywords as a signed 64-bit number; Windows renders hex.
    let keywords = match r.get("Keywords") {
        Some(Value::Number(n)) => n.as_i64().map(|k| format!("{:#x}", k as u64)).unwrap_or_else(|| n.to_string()),
        Some(v) => text(v),
        None => String::new(),
    };
    let level = first(&["Level"]).or_else(|| r.get("EventType").and_then(Value::as_str).and_then(level_of_type));
    let opcode = first(&["OpcodeValue"]).or_else(|| first(&["Opcode"]).filter(|o| o.parse::<i64>().is_ok()));
    EventFields {
        provider: first(&["SourceName", "ProviderName"]).unwrap_or_default(),
        event_id: first(&["EventID"]).unwrap_or_default(),
        version: first(&["Version"]).unwrap_or_default(),
        level: level.unwrap_or_default(),
        task: first(&["Task"]).unwrap_or_default(),
        opcode: opcode.unwrap_or_default(),
        keywords,
        time,
        record_id: first(&["RecordNumber", "EventRecordID"]).unwrap_or_default(),
        activity_id: first(&["ActivityID"]).unwrap_or_default(),
        process_id: first(&["ProcessID", "ExecutionProcessID"]).unwrap_or_default(),
        thread_id: first(&["ThreadID", "ExecutionThreadID"]).unwrap_or_default(),
        channel: first(&["Channel"]).unwrap_or_default(),
        computer: first(&["Hostname", "Computer"])
            .or_else(|| r.get("host").and_then(Value::as_str).map(str::to_string))
            .unwrap_or_default(),
        user_id: first(&["UserID"]).unwrap_or_default(),
        data: r
            .iter()
            .filter(|(k, _)| !FLAT_SYSTEM_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.clone(), text(v)))
            .collect(),
    }
}

/// The Windows level of NXLog's `EventType`.
fn level_of_type(event_type: &str) -> Option<String> {
    let level = match event_type.to_ascii_uppercase().as_str() {
        "AUDIT_SUCCESS" | "AUDIT_FAILURE" => "0",
        "CRITICAL" => "1",
        "ERROR" => "2",
        "WARNING" => "3",
        "INFO" => "4",
        "VERBOSE" => "5",
        _ => return None,
    };
    Some(level.to_string())
}

/// `path` (`a.b.c`) in nested objects, else as one flattened dotted key.
fn lookup<'a>(r: &'a Map<String, Value>, path: &str) -> Option<&'a Value> {
    let mut parts = path.split('.');
    let mut value = r.get(parts.next()?);
    for part in parts {
        value = value.and_then(|v| v.as_object()).and_then(|o| o.get(part));
    }
    value.or_else(|| r.get(path)).filter(|v| !v.is_null())
}

fn winlogbeat(r: &Map<String, Value>) -> EventFields {
    let first = |paths: &[&str]| paths.iter().find_map(|p| lookup(r, p)).map(text);
    let numeric = |path: &str| first(&[path]).filter(|v| v.trim().parse::<i64>().is_ok());
    let level = first(&["log.level", "winlog.level"]).and_then(|l| {
        let level = match l.to_ascii_lowercase().as_str() {
            "critical" => "1",
            "error" => "2",
            "warning" => "3",
            "information" | "info" => "4",
            "verbose" => "5",
            other if other.parse::<u8>().is_ok() => return Some(other.to_string()),
            _ => return None,
        };
        Some(level.to_string())
    });
    // Winlogbeat names the audit keywords; Windows renders their bits.
    let keywords = lookup(r, "winlog.keywords").map(|k| {
        let names: Vec<String> = match k {
            Value::Array(items) => items.iter().map(text).collect(),
            other => vec![text(other)],
        };
        match names.as_slice() {
            [one] if one == "Audit Success" => "0x8020000000000000".to_string(),
            [one] if one == "Audit Failure" => "0x8010000000000000".to_string(),
            _ => names.join(", "),
        }
    });
    let mut data = Vec::new();
    for section in ["winlog.event_data", "winlog.user_data"] {
        match lookup(r, section) {
            Some(Value::Object(fields)) => data.extend(fields.iter().map(|(k, v)| (k.clone(), text(v)))),
            _ => {
                let prefix = format!("{section}.");
                data.extend(r.iter().filter_map(|(k, v)| Some((k.strip_prefix(&prefix)?.to_string(), text(v)))));
            }
        }
        if !data.is_empty() {
            break;
        }
    }
    EventFields {
        provider: first(&["winlog.provider_name", "event.provider"]).unwrap_or_default(),
        event_id: first(&["winlog.event_id", "event.code"]).unwrap_or_default(),
        version: numeric("winlog.version").unwrap_or_default(),
        level: level.unwrap_or_default(),
        task: numeric("winlog.task").unwrap_or_default(),
        opcode: numeric("winlog.opcode").unwrap_or_default(),
        keywords: keywords.unwrap_or_default(),
        time: ["@timestamp", "event.created"].iter().find_map(|p| lookup(r, p)?.as_str().and_then(parse_datetime)),
        record_id: first(&["winlog.record_id"]).unwrap_or_default(),
        activity_id: first(&["winlog.activity_id"]).unwrap_or_default(),
        process_id: first(&["winlog.process.pid"]).unwrap_or_default(),
        thread_id: first(&["winlog.process.thread.id"]).unwrap_or_default(),
        channel: first(&["winlog.channel"]).unwrap_or_default(),
        computer: first(&["winlog.computer_name", "host.name", "host.hostname"]).unwrap_or_default(),
        user_id: first(&["winlog.user.identifier"]).unwrap_or_default(),
        data,
    }
}
