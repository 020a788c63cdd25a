//! Windows events exported as JSON (NXLog, Winlogbeat, and the flat shape of
//! public attack datasets such as OTRF/Mordor) into the same `SecurityEvent`
//! and `WindowsEvent` rows as the EVTX reader.

use crate::tabular::{LoadReport, LoadedTable};

/// Whether a JSON record (the first of a file) is a Windows event in one of
/// the shapes [`load_windows_json`] reads.
pub fn looks_like_windows_json(first_record: &serde_json::Map<String, serde_json::Value>) -> bool {
    let _ = first_record;
    false
}

/// Loads JSON lines or a JSON array of Windows events; `location` names the
/// input in rejections (`location:LINE`).
pub fn load_windows_json(bytes: &[u8], location: &str) -> (Vec<LoadedTable>, LoadReport) {
    let _ = bytes;
    let report = LoadReport {
        notices: vec![format!("{location}: Windows JSON events are not read yet")],
        ..LoadReport::default()
    };
    (Vec::new(), report)
}
