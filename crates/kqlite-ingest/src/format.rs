//! Telling an input's format from its content, never from its name: magic
//! bytes (`ElfFile` for EVTX, `PAR1` for Parquet), then the structure of its
//! first lines (syslog, Windows events as JSON, other JSON, CSV).

use crate::source::SNIFF_BYTES;

/// The formats kqlite reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Evtx,
    Parquet,
    Syslog,
    /// Windows events as JSON lines (NXLog, Winlogbeat).
    WindowsJson,
    /// JSON records: arrays, lines, Log Analytics and Defender exports.
    Json,
    Csv,
}

impl Format {
    /// How reports name the format.
    pub fn name(self) -> &'static str {
        match self {
            Format::Evtx => "evtx",
            Format::Parquet => "parquet",
            Format::Syslog => "syslog",
            Format::WindowsJson => "windows-json",
            Format::Json => "json",
            Format::Csv => "csv",
        }
    }
}

/// The format of an input from its first bytes, or None when it is none
/// that kqlite reads.
pub fn sniff(head: &[u8]) -> Option<Format> {
    if head.starts_with(b"ElfFile\0") {
        return Some(Format::Evtx);
    }
    if head.starts_with(b"PAR1") {
        return Some(Format::Parquet);
    }
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}').trim_start();
    if text.starts_with('{') || text.starts_with('[') {
        if crate::syslog::looks_like_syslog(head) {
            return Some(Format::Syslog); // journalctl -o json
        }
        if first_line_is_windows_json(text) {
            return Some(Format::WindowsJson);
        }
        return Some(Format::Json);
    }
    if crate::syslog::looks_like_syslog(head) {
        return Some(Format::Syslog);
    }
    if looks_like_csv(text, head.len() == SNIFF_BYTES) {
        return Some(Format::Csv);
    }
    None
}

/// Whether the first record (of JSON lines or an array) is a Windows event
/// from NXLog or Winlogbeat.
fn first_line_is_windows_json(text: &str) -> bool {
    let Some(start) = text.find('{') else { return false };
    let mut records = serde_json::Deserializer::from_str(&text[start..]).into_iter::<serde_json::Value>();
    match records.next() {
        Some(Ok(serde_json::Value::Object(map))) => crate::windows_json::looks_like_windows_json(&map),
        _ => false,
    }
}

/// A header of at least two fields and records with the same number of
/// fields (the last line may be cut off by the sniffing window).
fn looks_like_csv(text: &str, truncated: bool) -> bool {
    let mut reader = csv::ReaderBuilder::new().has_headers(false).flexible(true).from_reader(text.as_bytes());
    let mut records = reader.records();
    let Some(Ok(header)) = records.next() else { return false };
    if header.len() < 2 || header.iter().any(|h| h.trim().is_empty()) {
        return false;
    }
    let rest: Vec<_> = records.take(50).collect();
    let checked = if truncated && rest.len() > 1 { &rest[..rest.len() - 1] } else { &rest[..] };
    // Most records have the header's width (a few bad rows are rejected later).
    let fitting = checked.iter().filter(|r| r.as_ref().is_ok_and(|r| r.len() == header.len())).count();
    checked.is_empty() || fitting * 2 >= checked.len() && checked[0].as_ref().is_ok_and(|r| r.len() == header.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_by_content() {
        assert_eq!(sniff(b"ElfFile\0rest"), Some(Format::Evtx));
        assert_eq!(sniff(b"PAR1...."), Some(Format::Parquet));
        assert_eq!(sniff(b"\xef\xbb\xbf[{\"a\":1}]"), Some(Format::Json));
        assert_eq!(sniff(b"{\"a\":1}\n{\"a\":2}\n"), Some(Format::Json));
        assert_eq!(sniff(b"a,b\n1,2\n"), Some(Format::Csv));
        assert_eq!(sniff(b"a,b,c\n1,2,3\nbad,row\n"), Some(Format::Csv));
        assert_eq!(
            sniff(b"Dec 10 06:55:46 LabSZ sshd[24200]: Invalid user webmaster from 173.234.31.186\n"),
            Some(Format::Syslog)
        );
        assert_eq!(sniff(b"# Title\n\nSome prose, with a comma.\nAnd more\n"), None);
        assert_eq!(sniff(b"GNU GENERAL PUBLIC LICENSE\n"), None);
        assert_eq!(sniff(b""), None);
    }
}
