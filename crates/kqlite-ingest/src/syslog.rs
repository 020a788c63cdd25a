//! Linux syslog files into Sentinel's `Syslog` table.
//!
//! The format is chosen per line, by content:
//!
//! - RFC 3164 / BSD: `Mar  3 10:15:01 host sshd[1234]: message`, optionally
//!   with a `<PRI>` in front. The line carries no year: the last such line
//!   gets the year of the file's time (the modification time, or the time in
//!   the gzip header), one less when that would put it more than a day after
//!   the file time; walking back, a line that would be more than a day after
//!   the line below it is in the year before (December → January).
//!   These timestamps carry no zone and are read as UTC.
//! - RFC 5424: `<34>1 2023-10-11T22:14:15.003Z host app 1234 ID47 - message`.
//! - ISO-timestamp syslog, as modern rsyslog writes it
//!   (`RSYSLOG_FileFormat`): `2024-03-03T10:15:01.123456+00:00 host sshd[1234]: …`,
//!   optionally with a `<PRI>`.
//! - `journalctl -o json` lines (`__REALTIME_TIMESTAMP` in µs, `_HOSTNAME`,
//!   `SYSLOG_IDENTIFIER` or `_COMM`, `_PID`, `MESSAGE`, `PRIORITY`,
//!   `SYSLOG_FACILITY`).
//!
//! Columns: `Computer` = `HostName` = the host field (`HostIP` too when the
//! host field is an IP address); `ProcessName` is the tag without `[pid]`
//! (`sshd`, `sshd-session`, `sshd(pam_unix)`); `ProcessID` is the pid;
//! `SyslogMessage` is the text after `tag[pid]: `; `EventTime` =
//! `TimeGenerated` = the line's time (there is no ingestion time offline);
//! `SourceSystem` = `Linux`, `Type` = `Syslog`.
//!
//! `Facility` and `SeverityLevel` use the names Sentinel writes (`auth`,
//! `authpriv`, `daemon`, …; `emerg`, `alert`, `crit`, `err`, `warning`,
//! `notice`, `info`, `debug`). A line without a priority (plain RFC 3164 files
//! such as `/var/log/auth.log`) has none to read, so both are inferred:
//! `Facility` is `auth` for the authentication programs `sshd`,
//! `sshd-session`, `sudo`, `su`, `login` and `systemd-logind` (by the tag's
//! name before any `(…)`, so `sshd(pam_unix)` counts), `kern` for `kernel`
//! (the kernel always logs as kern) and `user` otherwise; `SeverityLevel` is
//! `notice`, the user.notice default RFC 3164 §4.3.3 gives a message without
//! priority. A journal record without `SYSLOG_FACILITY` gets the same
//! facility rule; without `PRIORITY`, `info` (journald's default).
//!
//! Every line is loaded or rejected with its line number and reason; blank
//! lines and lines that match no format are rejected. Gzip files (by their
//! magic bytes) are decompressed transparently.

use crate::catalog;
use crate::columns::ColumnBuilder;
use crate::error::IngestError;
use crate::source::{Content, Source};
use crate::tabular::{LoadReport, LoadedTable};
use chrono::{Datelike, NaiveDate, TimeZone, Utc};
use datafusion::arrow::datatypes::Schema;
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::time::parse_datetime;
use kqlite_engine::types::{NANOS_PER_DAY, NANOS_PER_MICRO, NANOS_PER_SECOND};
use kqlite_engine::BATCH_ROWS;
use kqlite_engine::{ColumnDef, KqlType};
use std::io::{BufRead, Read};
use std::path::Path;
use std::sync::Arc;

const TABLE: &str = "Syslog";

/// Facility names by number, as rsyslog and Sentinel's Syslog table write them.
const FACILITIES: [&str; 24] = [
    "kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp", "cron", "authpriv", "ftp", "ntp",
    "audit", "alert", "clock", "local0", "local1", "local2", "local3", "local4", "local5", "local6", "local7",
];

/// Severity names by number.
const SEVERITIES: [&str; 8] = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"];

const MONTHS: [&str; 12] = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"];

/// Programs whose RFC 3164 lines without priority are given facility `auth`.
const AUTH_PROGRAMS: [&str; 6] = ["sshd", "sshd-session", "sudo", "su", "login", "systemd-logind"];

/// Whether the start of a file is syslog in one of the formats this module
/// reads (gzip-compressed or not): its first non-blank line must parse.
pub fn looks_like_syslog(first_bytes: &[u8]) -> bool {
    let decompressed;
    let bytes = if first_bytes.starts_with(&[0x1f, 0x8b]) {
        // Decompress what the prefix holds; a truncated stream is expected.
        let mut out = Vec::new();
        let mut decoder = flate2::read::GzDecoder::new(first_bytes);
        let mut chunk = [0u8; 4096];
        loop {
            match decoder.read(&mut chunk) {
                Ok(0) | Err(_) => break,
                Ok(n) => out.extend_from_slice(&chunk[..n]),
            }
            if out.len() >= 64 * 1024 {
                break;
            }
        }
        decompressed = out;
        &decompressed[..]
    } else {
        first_bytes
    };
    let text = String::from_utf8_lossy(bytes);
    let text = text.trim_start_matches('\u{feff}');
    let Some(line) = text.lines().map(|l| l.trim_end_matches('\r')).find(|l| !l.trim().is_empty()) else {
        return false;
    };
    if line.starts_with('{') {
        // A journal record, possibly cut off by the prefix.
        return line.contains("\"__REALTIME_TIMESTAMP\"") || line.contains("\"__CURSOR\"");
    }
    parse_line(line).is_ok()
}

/// Loads a syslog file (plain or gzip) as the `Syslog` table, streaming it.
pub fn load_syslog(path: &Path) -> Result<(LoadedTable, LoadReport), IngestError> {
    let location = path.display().to_string();
    let mut magic = Vec::with_capacity(2);
    std::fs::File::open(path)
        .and_then(|f| f.take(2).read_to_end(&mut magic))
        .map_err(|source| IngestError::Unreadable { path: path.to_path_buf(), source })?;
    let content = if crate::source::is_gzip(&magic) { Content::Gzip } else { Content::File };
    let source = Source { path: path.to_path_buf(), location, content };
    let mut batches = Vec::new();
    let (mut report, error) = read_syslog_source(&source, &mut |table| batches.extend(table.batches));
    if let Some(error) = error {
        if report.records_read == 0 {
            return Err(error);
        }
        report.notices.insert(0, error.to_string());
    }
    Ok((syslog_table(batches), report))
}

/// Reads an input as syslog ([`read_syslog`]): RFC 3164 years are read
/// against the gzip header's time (it keeps the original file's), else the
/// file's modification time, else now.
pub(crate) fn read_syslog_source(
    source: &Source,
    emit: &mut dyn FnMut(LoadedTable),
) -> (LoadReport, Option<IngestError>) {
    let file_time = || {
        std::fs::metadata(&source.path)
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .map(|d| d.as_nanos() as i64)
    };
    let header_time = match source.content {
        Content::Gzip => gzip_mtime(&source.path),
        _ => None,
    };
    let reference = header_time.or_else(file_time).unwrap_or_else(kqlite_engine::time::now_nanos);
    let mut open = || -> std::io::Result<Box<dyn BufRead + '_>> {
        Ok(Box::new(std::io::BufReader::with_capacity(1 << 20, source.reader()?)))
    };
    read_syslog(&mut open, &source.location, reference, emit)
}

/// The modification time a gzip file's header keeps, if any (ns).
fn gzip_mtime(path: &Path) -> Option<i64> {
    let mut decoder = flate2::read::MultiGzDecoder::new(std::io::BufReader::new(std::fs::File::open(path).ok()?));
    // The header is read with the first byte of content.
    decoder.read_exact(&mut [0u8; 1]).ok()?;
    decoder.header().map(|h| h.mtime()).filter(|t| *t != 0).map(|t| t as i64 * NANOS_PER_SECOND)
}

/// The `Syslog` table of these batches.
fn syslog_table(batches: Vec<RecordBatch>) -> LoadedTable {
    let columns = catalog::table_schema(TABLE).expect("Syslog is a built-in table").to_vec();
    LoadedTable { name: TABLE.to_string(), columns, batches }
}

/// Parses syslog bytes; `reference` (ns since the epoch) is the file time
/// RFC 3164 years are inferred from.
pub fn load_bytes(bytes: &[u8], location: &str, reference: i64) -> (LoadedTable, LoadReport) {
    let mut batches = Vec::new();
    let mut open = || -> std::io::Result<Box<dyn BufRead + '_>> { Ok(Box::new(bytes)) };
    let (report, _) = read_syslog(&mut open, location, reference, &mut |table| batches.extend(table.batches));
    (syslog_table(batches), report)
}

/// Opens the input afresh: [`read_syslog`] reads it twice.
pub type Open<'a> = dyn FnMut() -> std::io::Result<Box<dyn BufRead + 'a>> + 'a;

/// Reads syslog lines as the `Syslog` table, handing `emit` a table of at
/// most [`BATCH_ROWS`] records at a time: memory stays bounded whatever
/// the input size. RFC 3164 dates carry no year, which is inferred from the
/// end of the input backwards ([`YearPlan`]), so the input is read twice;
/// `reference` (ns since the epoch) is the file time the last such date is
/// read against. A read error (a damaged gzip stream) ends the input there:
/// the whole lines before it are loaded, and the error comes back with the
/// report.
pub fn read_syslog(
    open: &mut Open,
    location: &str,
    reference: i64,
    emit: &mut dyn FnMut(LoadedTable),
) -> (LoadReport, Option<IngestError>) {
    let mut report = LoadReport::default();
    // First pass: the years of RFC 3164 dates, without keeping the lines.
    let mut plan = YearPlan::default();
    let first = each_line(open, &mut |_, line| {
        if let Ok(Record { time: Time::Bsd { year, month, day, seconds, .. }, .. }) = parse_line(&line) {
            plan.see(year, month, day, seconds);
        }
    });
    if let Err(source) = first {
        return (report, Some(IngestError::Stream { location: location.to_string(), source }));
    }
    plan.finish(reference);

    let mut years = plan.years();
    let mut invalid_utf8 = 0usize;
    let mut counts = [0usize; 4];
    let (mut without_priority, mut dropped_sd) = (0usize, 0usize);
    let mut batch: Vec<Record> = Vec::with_capacity(BATCH_ROWS);
    let mut flush = |batch: &mut Vec<Record>, report: &mut LoadReport| {
        if !batch.is_empty() {
            emit(build_table(batch, report));
            batch.clear();
        }
    };
    let second = each_line(open, &mut |number, line| {
        report.records_read += 1;
        if matches!(line, std::borrow::Cow::Owned(_)) {
            invalid_utf8 += 1;
        }
        if line.trim().is_empty() {
            report.rejected.push((format!("{location}:{number}"), "blank line".to_string()));
            return;
        }
        match parse_line(&line) {
            Ok(mut record) => {
                record.line = number;
                counts[record.format as usize] += 1;
                without_priority += usize::from(record.facility_inferred);
                dropped_sd += usize::from(record.had_structured_data);
                if let Time::Bsd { year, month, day, seconds, nanos } = record.time {
                    let year = years.next(year, month, day, seconds);
                    record.time = Time::Known(bsd_nanos(year, month, day, seconds, nanos));
                }
                batch.push(record);
                if batch.len() == BATCH_ROWS {
                    flush(&mut batch, &mut report);
                }
            }
            Err(reason) => report.rejected.push((format!("{location}:{number}"), reason.to_string())),
        }
    });
    flush(&mut batch, &mut report);
    let error = second.err().map(|source| IngestError::StreamCut { location: location.to_string(), source });

    if invalid_utf8 > 0 {
        report.notices.push(format!(
            "{location}: {invalid_utf8} line(s) are not valid UTF-8; invalid bytes were replaced with U+FFFD"
        ));
    }
    if plan.inferred > 0 {
        report.notices.push(format!(
            "{location}: {} RFC 3164 line(s) carry no year: inferred from the file time {} \
             (rolling back at each new year), and read as UTC",
            plan.inferred,
            kqlite_engine::time::format_datetime(reference)
        ));
    }
    if without_priority > 0 {
        report.notices.push(format!(
            "{location}: {without_priority} line(s) have no priority: Facility inferred from the program \
             (auth for sshd, sshd-session, sudo, su, login, systemd-logind; kern for kernel; else user), \
             SeverityLevel notice (journal records: info)"
        ));
    }
    if dropped_sd > 0 {
        report.notices.push(format!(
            "{location}: {dropped_sd} RFC 5424 record(s) carry structured data, which the Syslog table has no column for"
        ));
    }
    let names = ["RFC 3164", "RFC 5424", "ISO-timestamp syslog", "journal JSON"];
    let summary: Vec<String> =
        counts.iter().zip(names).filter(|(n, _)| **n > 0).map(|(n, name)| format!("{n} {name}")).collect();
    if !summary.is_empty() {
        report.notices.push(format!("{location}: lines by format: {}", summary.join(", ")));
    }
    (report, error)
}

/// Calls `each` with every line of the input (numbered from 1, without its
/// line ending or a leading byte-order mark; invalid UTF-8 replaced, as an
/// owned string). A cut-off last line of a damaged input is not a line.
fn each_line(open: &mut Open, each: &mut dyn FnMut(usize, std::borrow::Cow<'_, str>)) -> std::io::Result<()> {
    let mut reader = open()?;
    let mut raw = Vec::new();
    let mut number = 0usize;
    loop {
        raw.clear();
        if reader.read_until(b'\n', &mut raw)? == 0 {
            return Ok(());
        }
        number += 1;
        let mut line = raw.strip_suffix(b"\n").unwrap_or(&raw);
        line = line.strip_suffix(b"\r").unwrap_or(line);
        if number == 1 {
            line = line.strip_prefix("\u{feff}".as_bytes()).unwrap_or(line);
        }
        each(number, String::from_utf8_lossy(line));
    }
}

/// The years of RFC 3164 dates, found in a first pass that keeps no lines.
///
/// Read backwards, the last date takes the year of the file time (the year
/// before, when it would fall more than a day after it); every earlier date
/// takes the year of the date after it, one less when it is more than a day
/// later in the year (the log crossed a new year); a date that writes its
/// year keeps it. Forwards, that is: dates fall into segments that end at a
/// date with a written year or at the last date, and a date's year is its
/// segment's end year less the year changes between it and that end. The
/// first pass counts each segment's changes; memory is one entry per date
/// that writes its year (usually none).
#[derive(Default)]
struct YearPlan {
    /// The end year and year changes of each segment, in order.
    segments: Vec<(i32, u32)>,
    changes: u32,
    /// The position in the year of the previous date of this segment.
    previous: Option<i64>,
    /// The last date without a written year (month, day, seconds).
    open_end: Option<(u32, u32, u32)>,
    /// Dates without a written year.
    inferred: usize,
}

/// A date's position within a year, comparable across lines (31-day months).
fn position_in_year(month: u32, day: u32, seconds: u32) -> i64 {
    ((month as i64 - 1) * 31 + day as i64 - 1) * 86_400 + seconds as i64
}

/// More than a day after the date that follows it: a new year came between.
fn year_changed(previous: Option<i64>, here: i64) -> bool {
    previous.is_some_and(|p| p > here + 86_400)
}

impl YearPlan {
    fn see(&mut self, written: Option<i32>, month: u32, day: u32, seconds: u32) {
        let here = position_in_year(month, day, seconds);
        self.changes += u32::from(year_changed(self.previous, here));
        match written {
            Some(year) => {
                self.segments.push((year, std::mem::take(&mut self.changes)));
                self.previous = None;
                self.open_end = None;
            }
            None => {
                self.inferred += 1;
                self.previous = Some(here);
                self.open_end = Some((month, day, seconds));
            }
        }
    }

    /// Closes the last segment, whose end year comes from the file time.
    fn finish(&mut self, reference: i64) {
        if let Some((month, day, seconds)) = self.open_end {
            let reference_year = Utc.timestamp_nanos(reference).year();
            let candidate = bsd_nanos(reference_year, month, day, seconds, 0);
            let year = if candidate.is_some_and(|t| t > reference + NANOS_PER_DAY) {
                reference_year - 1
            } else {
                reference_year
            };
            self.segments.push((year, std::mem::take(&mut self.changes)));
        }
    }

    fn years(&self) -> Years<'_> {
        Years { plan: self, segment: 0, changes: 0, previous: None }
    }
}

/// The second pass through [`YearPlan`]: each date's year, in order.
struct Years<'p> {
    plan: &'p YearPlan,
    segment: usize,
    /// Year changes seen so far in this segment.
    changes: u32,
    previous: Option<i64>,
}

impl Years<'_> {
    fn next(&mut self, written: Option<i32>, month: u32, day: u32, seconds: u32) -> i32 {
        let here = position_in_year(month, day, seconds);
        self.changes += u32::from(year_changed(self.previous, here));
        let (end_year, total) = self.plan.segments.get(self.segment).copied().unwrap_or((1970, 0));
        match written {
            Some(year) => {
                self.segment += 1;
                self.changes = 0;
                self.previous = None;
                year
            }
            None => {
                self.previous = Some(here);
                end_year - (total.saturating_sub(self.changes)) as i32
            }
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Format {
    Bsd = 0,
    Rfc5424 = 1,
    Iso = 2,
    Journal = 3,
}

#[derive(Debug)]
enum Time {
    /// Nanoseconds since the epoch (None: the record has no usable time).
    Known(Option<i64>),
    /// An RFC 3164 timestamp, waiting for its year.
    Bsd { year: Option<i32>, month: u32, day: u32, seconds: u32, nanos: u32 },
}

#[derive(Debug)]
struct Record {
    line: usize,
    format: Format,
    time: Time,
    host: String,
    facility: String,
    facility_inferred: bool,
    severity: String,
    process: String,
    /// The pid text (empty when absent).
    pid: String,
    message: String,
    had_structured_data: bool,
}

/// Why a line was rejected.
#[derive(Debug, thiserror::Error)]
pub enum LineError {
    #[error("malformed <priority>")]
    MalformedPriority,
    #[error("bad priority <{0}>")]
    BadPriority(String),
    #[error("nothing after the timestamp")]
    NothingAfterTimestamp,
    #[error("bad timestamp '{0}'")]
    BadTimestamp(String),
    #[error("matches no syslog format (RFC 3164, RFC 5424, ISO-timestamp syslog or journalctl JSON)")]
    NoFormat,
    #[error("no space after the timestamp")]
    NoSpaceAfterTimestamp,
    #[error("no host name after the timestamp")]
    NoHostName,
    #[error("no program or message after the host name")]
    NoMessage,
    /// The first 20 characters of the timestamp.
    #[error("bad RFC 3164 timestamp '{0}'")]
    BadBsdTimestamp(String),
    /// The field the record ends before.
    #[error("RFC 5424 record ends before its {0}")]
    Rfc5424Truncated(&'static str),
    #[error("bad RFC 5424 timestamp '{0}'")]
    BadRfc5424Timestamp(String),
    #[error("unterminated RFC 5424 structured data")]
    UnterminatedStructuredData,
    #[error("RFC 5424 record has no structured data field ('-' or '[…]')")]
    NoStructuredData,
    #[error("JSON line is not an object")]
    JournalNotObject,
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    #[error("JSON line is not a journalctl -o json record (no __REALTIME_TIMESTAMP)")]
    NotJournal,
    #[error("bad __REALTIME_TIMESTAMP '{0}'")]
    BadRealtime(String),
}

fn parse_line(line: &str) -> Result<Record, LineError> {
    if line.starts_with('{') {
        return parse_journal(line);
    }
    let (priority, rest) = match line.strip_prefix('<') {
        Some(after) => {
            let end = after.find('>').filter(|e| (1..=3).contains(e)).ok_or(LineError::MalformedPriority)?;
            let value: u32 = after[..end]
                .parse()
                .ok()
                .filter(|v| *v < 192)
                .ok_or_else(|| LineError::BadPriority(after[..end].to_string()))?;
            (Some(value), &after[end + 1..])
        }
        None => (None, line),
    };
    let bytes = rest.as_bytes();
    if let Some(priority) = priority {
        let digits = bytes.iter().take_while(|b| b.is_ascii_digit()).count();
        if (1..=2).contains(&digits) && bytes.get(digits) == Some(&b' ') {
            return parse_5424(priority, &rest[digits + 1..]);
        }
    }
    let (format, time, after_time) = if is_iso_start(bytes) {
        let end = rest.find(' ').ok_or(LineError::NothingAfterTimestamp)?;
        let nanos = parse_datetime(&rest[..end]).ok_or_else(|| LineError::BadTimestamp(rest[..end].to_string()))?;
        (Format::Iso, Time::Known(Some(nanos)), &rest[end..])
    } else if let Some((time, after)) = parse_bsd_time(rest)? {
        (Format::Bsd, time, after)
    } else {
        return Err(LineError::NoFormat);
    };
    let after_time = after_time.strip_prefix(' ').ok_or(LineError::NoSpaceAfterTimestamp)?.trim_start_matches(' ');
    // The host field; a first token that is already a tag (`sshd[1]:`,
    // `kernel:`) means the line has no host name.
    let token_end = after_time.find(' ').unwrap_or(after_time.len());
    let token = &after_time[..token_end];
    if token.is_empty() {
        return Err(LineError::NoHostName);
    }
    let (host, body) =
        if token.ends_with(':') { ("", after_time) } else { (token, after_time[token_end..].trim_start_matches(' ')) };
    if body.is_empty() {
        return Err(LineError::NoMessage);
    }
    let (process, pid, message) = split_tag(body);
    let (facility, severity, inferred) = match priority {
        Some(p) => (FACILITIES[(p / 8) as usize].to_string(), SEVERITIES[(p % 8) as usize].to_string(), false),
        None => (inferred_facility(&process).to_string(), "notice".to_string(), true),
    };
    Ok(Record {
        line: 0,
        format,
        time,
        host: host.to_string(),
        facility,
        facility_inferred: inferred,
        severity,
        process,
        pid,
        message,
        had_structured_data: false,
    })
}

/// `YYYY-MM-DDT`.
fn is_iso_start(b: &[u8]) -> bool {
    b.len() > 11
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[5..7].iter().all(u8::is_ascii_digit)
        && b[7] == b'-'
        && b[8..10].iter().all(u8::is_ascii_digit)
        && b[10] == b'T'
}

/// `Mmm dd hh:mm:ss[.frac]` or `Mmm dd yyyy hh:mm:ss[.frac]`; Ok(None) when
/// the text does not start with a month name.
fn parse_bsd_time(text: &str) -> Result<Option<(Time, &str)>, LineError> {
    let Some(month) = MONTHS.iter().position(|m| text.starts_with(m)) else { return Ok(None) };
    if text.as_bytes().get(3) != Some(&b' ') {
        return Ok(None);
    }
    let bad = || LineError::BadBsdTimestamp(text.chars().take(20).collect());
    let rest = text[3..].trim_start_matches(' ');
    let day_len = rest.bytes().take_while(u8::is_ascii_digit).count();
    if !(1..=2).contains(&day_len) {
        return Err(bad());
    }
    let day: u32 = rest[..day_len].parse().map_err(|_| bad())?;
    let mut rest = rest[day_len..].strip_prefix(' ').ok_or_else(bad)?;
    let mut year = None;
    if rest.len() > 5 && rest.as_bytes()[..4].iter().all(u8::is_ascii_digit) && rest.as_bytes()[4] == b' ' {
        year = Some(rest[..4].parse().map_err(|_| bad())?);
        rest = &rest[5..];
    }
    let b = rest.as_bytes();
    if b.len() < 8 || b[2] != b':' || b[5] != b':' {
        return Err(bad());
    }
    let num = |s: &str| s.parse::<u32>().ok().filter(|_| s.bytes().all(|c| c.is_ascii_digit()));
    let (h, m, s) = (num(&rest[..2]), num(&rest[3..5]), num(&rest[6..8]));
    let (Some(h), Some(m), Some(s)) = (h, m, s) else { return Err(bad()) };
    if h > 23 || m > 59 || s > 60 || !(1..=31).contains(&day) {
        return Err(bad());
    }
    let mut rest = &rest[8..];
    let mut nanos = 0u32;
    if let Some(frac) = rest.strip_prefix('.') {
        let len = frac.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 {
            return Err(bad());
        }
        let digits: String = frac[..len].chars().chain(std::iter::repeat('0')).take(9).collect();
        nanos = digits.parse().map_err(|_| bad())?;
        rest = &frac[len..];
    }
    let seconds = h * 3600 + m * 60 + s.min(59);
    Ok(Some((Time::Bsd { year, month: month as u32 + 1, day, seconds, nanos }, rest)))
}

/// `tag[pid]: message`, `tag: message`, `tag message`.
fn split_tag(body: &str) -> (String, String, String) {
    let end = body.find(|c: char| c == ':' || c == '[' || c.is_whitespace()).unwrap_or(body.len());
    let process = body[..end].to_string();
    let mut rest = &body[end..];
    let mut pid = String::new();
    if let Some(after) = rest.strip_prefix('[') {
        if let Some(close) = after.find(']') {
            pid = after[..close].to_string();
            rest = &after[close + 1..];
        }
    }
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    let rest = rest.strip_prefix(' ').unwrap_or(rest);
    (process, pid, rest.to_string())
}

fn inferred_facility(process: &str) -> &'static str {
    let base = process.split('(').next().unwrap_or(process);
    if AUTH_PROGRAMS.contains(&base) {
        "auth"
    } else if base == "kernel" {
        "kern"
    } else {
        "user"
    }
}

/// `VERSION` already read: `TIMESTAMP HOSTNAME APP-NAME PROCID MSGID SD [MSG]`.
fn parse_5424(priority: u32, text: &str) -> Result<Record, LineError> {
    let mut rest = text;
    let mut fields = Vec::with_capacity(5);
    for name in ["timestamp", "host name", "app name", "process id", "message id"] {
        let end = rest.find(' ').ok_or(LineError::Rfc5424Truncated(name))?;
        fields.push(&rest[..end]);
        rest = &rest[end + 1..];
    }
    let (sd_len, had_sd) = structured_data_len(rest)?;
    let message = rest[sd_len..].strip_prefix(' ').unwrap_or(&rest[sd_len..]);
    let message = message.strip_prefix('\u{feff}').unwrap_or(message);
    let nil = |s: &str| if s == "-" { String::new() } else { s.to_string() };
    let time = if fields[0] == "-" {
        None
    } else {
        Some(parse_datetime(fields[0]).ok_or_else(|| LineError::BadRfc5424Timestamp(fields[0].to_string()))?)
    };
    Ok(Record {
        line: 0,
        format: Format::Rfc5424,
        time: Time::Known(time),
        host: nil(fields[1]),
        facility: FACILITIES[(priority / 8) as usize].to_string(),
        facility_inferred: false,
        severity: SEVERITIES[(priority % 8) as usize].to_string(),
        process: nil(fields[2]),
        pid: nil(fields[3]),
        message: message.to_string(),
        had_structured_data: had_sd,
    })
}

/// The byte length of RFC 5424 STRUCTURED-DATA at the start of `text`, and
/// whether it holds any (`-` is none).
fn structured_data_len(text: &str) -> Result<(usize, bool), LineError> {
    if text.starts_with('-') {
        return Ok((1, false));
    }
    let b = text.as_bytes();
    let mut i = 0;
    while b.get(i) == Some(&b'[') {
        let mut quoted = false;
        i += 1;
        loop {
            match b.get(i) {
                None => return Err(LineError::UnterminatedStructuredData),
                Some(b'\\') if quoted => i += 2,
                Some(b'"') => {
                    quoted = !quoted;
                    i += 1
                }
                Some(b']') if !quoted => {
                    i += 1;
                    break;
                }
                Some(_) => i += 1,
            }
        }
    }
    if i == 0 {
        return Err(LineError::NoStructuredData);
    }
    Ok((i, true))
}

fn parse_journal(line: &str) -> Result<Record, LineError> {
    use serde_json::Value;
    let map = match serde_json::from_str::<Value>(line) {
        Ok(Value::Object(m)) => m,
        Ok(_) => return Err(LineError::JournalNotObject),
        Err(e) => return Err(LineError::NotJson(e)),
    };
    let field = |name: &str| -> Option<String> {
        match map.get(name)? {
            Value::String(s) => Some(s.clone()),
            Value::Number(n) => Some(n.to_string()),
            // Binary fields are arrays of byte values.
            Value::Array(items) if items.iter().all(Value::is_u64) => {
                let bytes: Vec<u8> = items.iter().filter_map(Value::as_u64).map(|b| b as u8).collect();
                Some(String::from_utf8_lossy(&bytes).into_owned())
            }
            // A field given several times: the first value.
            Value::Array(items) => items.first().and_then(Value::as_str).map(str::to_string),
            _ => None,
        }
    };
    let micros = field("__REALTIME_TIMESTAMP").ok_or(LineError::NotJournal)?;
    let micros: i64 = micros.parse().map_err(|_| LineError::BadRealtime(micros.clone()))?;
    let process = field("SYSLOG_IDENTIFIER").or_else(|| field("_COMM")).unwrap_or_default();
    let number = |name: &str, max: u32| field(name).and_then(|v| v.trim().parse::<u32>().ok()).filter(|v| *v < max);
    let (facility, inferred) = match number("SYSLOG_FACILITY", 24) {
        Some(f) => (FACILITIES[f as usize].to_string(), false),
        None => (inferred_facility(&process).to_string(), true),
    };
    let severity = SEVERITIES[number("PRIORITY", 8).unwrap_or(6) as usize].to_string();
    Ok(Record {
        line: 0,
        format: Format::Journal,
        time: Time::Known(micros.checked_mul(NANOS_PER_MICRO)),
        host: field("_HOSTNAME").unwrap_or_default(),
        facility,
        facility_inferred: inferred,
        severity,
        process,
        pid: field("_PID").or_else(|| field("SYSLOG_PID")).unwrap_or_default(),
        message: field("MESSAGE").unwrap_or_default(),
        had_structured_data: false,
    })
}

fn bsd_nanos(year: i32, month: u32, day: u32, seconds: u32, nanos: u32) -> Option<i64> {
    let date = NaiveDate::from_ymd_opt(year, month, day)?;
    let time = date.and_hms_nano_opt(seconds / 3600, seconds / 60 % 60, seconds % 60, nanos)?;
    time.and_utc().timestamp_nanos_opt()
}

fn build_table(records: &[Record], report: &mut LoadReport) -> LoadedTable {
    let columns: Vec<ColumnDef> = catalog::table_schema(TABLE).expect("Syslog is a built-in table").to_vec();
    let schema = kqlite_engine::arrow_schema(&columns);
    let mut builders: Vec<ColumnBuilder> = columns.iter().map(|c| ColumnBuilder::new(c.ty)).collect();
    let mut batches = Vec::new();
    let mut pending = 0;
    for record in records {
        let time = match record.time {
            Time::Known(t) => t,
            Time::Bsd { .. } => None,
        };
        if time.is_none() {
            report.conversion_failures += 1;
        }
        for (builder, column) in builders.iter_mut().zip(&columns) {
            let text = match column.name.as_str() {
                "TimeGenerated" | "EventTime" => {
                    if let ColumnBuilder::Nanos(b, _) = builder {
                        b.append_option(time);
                    }
                    continue;
                }
                "Computer" | "HostName" => record.host.as_str(),
                "HostIP" if record.host.parse::<std::net::IpAddr>().is_ok() => record.host.as_str(),
                "Facility" => &record.facility,
                "SeverityLevel" => &record.severity,
                "ProcessName" => &record.process,
                "ProcessID" => &record.pid,
                "SyslogMessage" => &record.message,
                "SourceSystem" => "Linux",
                "Type" => TABLE,
                _ => "",
            };
            if !builder.push_text(text) {
                report.conversion_failures += 1;
            }
        }
        report.loaded += 1;
        pending += 1;
        if pending == BATCH_ROWS {
            batches.push(finish(&schema, &mut builders));
            pending = 0;
        }
    }
    if pending > 0 {
        batches.push(finish(&schema, &mut builders));
    }
    debug_assert!(columns.iter().any(|c| c.name == "ProcessID" && c.ty == KqlType::Int));
    LoadedTable { name: TABLE.to_string(), columns, batches }
}

fn finish(schema: &Arc<Schema>, builders: &mut [ColumnBuilder]) -> RecordBatch {
    let arrays = builders.iter_mut().map(ColumnBuilder::finish).collect();
    RecordBatch::try_new(schema.clone(), arrays).expect("builders match the schema")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags() {
        assert_eq!(split_tag("sshd[12]: hi: there"), ("sshd".into(), "12".into(), "hi: there".into()));
        assert_eq!(split_tag("kernel: x"), ("kernel".into(), "".into(), "x".into()));
        assert_eq!(split_tag("syslogd 1.4.1: restart."), ("syslogd".into(), "".into(), "1.4.1: restart.".into()));
        assert_eq!(
            split_tag("sshd(pam_unix)[19939]: check pass"),
            ("sshd(pam_unix)".into(), "19939".into(), "check pass".into())
        );
    }

    #[test]
    fn detection() {
        assert!(looks_like_syslog(b"Mar  3 10:15:01 host sshd[1234]: Accepted"));
        assert!(looks_like_syslog(b"<34>1 2023-10-11T22:14:15.003Z host app 1234 ID47 - message\n"));
        assert!(looks_like_syslog(b"2024-03-03T10:15:01.123456+00:00 host sshd[1234]: x\n"));
        assert!(looks_like_syslog(b"{\"__CURSOR\":\"s=abc\",\"__REALTIME_TIMESTAMP\":\"17"));
        assert!(!looks_like_syslog(b"TimeGenerated,Computer\n2024-01-01T00:00:00Z,dc1\n"));
        assert!(!looks_like_syslog(b"{\"EventID\": 4624}\n"));
        assert!(!looks_like_syslog(b"March is a month\n"));
        assert!(!looks_like_syslog(b""));
    }
}
