//! Reading EVTX files: several files at a time ([`load_evtx_files`]), each
//! file's chunks in parallel batches on rayon threads, each chunk through
//! the BinXML reader (else the `evtx` crate's XML), and what happened to
//! each file in an [`EvtxReport`].

use super::binxml;
use super::dom::event_from_dom;
use super::error::{error_chain, ReadError, RecordError};
use super::event::{Event, ReadItem};
use super::keep::Keep;
use super::rows::{unmapped_notice, Tables, DEFAULT_BATCH_ROWS};
use super::table::EvtxTable;
use super::xml::event_from_xml;
use crate::tabular::{LoadReport, LoadedTable};
use ::evtx::err::EvtxError;
use ::evtx::{EvtxChunkData, EvtxParser, EvtxRecord, ParserSettings};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::ScanNeeds;
use std::collections::BTreeMap;
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// How EVTX files are read.
#[derive(Clone, Debug)]
pub struct EvtxOptions {
    /// Threads that parse one file's chunks; 0 uses rayon's pool size.
    pub parse_threads: usize,
    /// Files [`load_evtx_files`] reads at the same time; 0 uses the number of CPUs.
    pub file_threads: usize,
    /// Rows per record batch.
    pub batch_rows: usize,
    /// Also carve deleted records from unallocated chunk space.
    pub recover_records: bool,
    /// Keep each record's XML in `WindowsEvent.RawEventData`. Sentinel fills
    /// that column only when it cannot parse an event (its schema: "The raw
    /// event XML when parsing fails. It's null when parsing successful"), so
    /// it is off by default; on, records are rendered as XML by the `evtx`
    /// crate and read back, which is several times slower.
    pub raw_event_data: bool,
    /// What the queries that will run read (`kqlite hunt` knows before it
    /// reads): records no query can see are counted but not kept
    /// ([`LoadReport::unread`]), their strings never decoded, and columns
    /// no query reads hold no values. `None`: everything is kept.
    pub needs: Option<Arc<ScanNeeds>>,
    /// Also make a WindowsEvent row of each Security-channel record. Off,
    /// Security records are SecurityEvent rows only, as the Windows Security
    /// Events connector sends them (WindowsEvent holds the other channels,
    /// as the Windows Forwarded Events connector would), so content reading
    /// both tables (ASIM's parsers) counts each event once. On, for content
    /// written against the WindowsEvent copy of Security events.
    pub security_in_windows_event: bool,
}

impl Default for EvtxOptions {
    fn default() -> Self {
        EvtxOptions {
            parse_threads: 0,
            file_threads: 0,
            batch_rows: DEFAULT_BATCH_ROWS,
            recover_records: false,
            raw_event_data: false,
            needs: None,
            security_in_windows_event: false,
        }
    }
}

/// What happened to one file.
#[derive(Debug, Default)]
pub struct EvtxReport {
    pub path: PathBuf,
    /// Set when the file could not be read as EVTX at all (or reading it
    /// stopped early), to the [`ReadError`]'s message; the counts cover
    /// what was read before.
    pub error: Option<String>,
    /// `records_read` counts every item read: a record, a record or chunk the
    /// parser could not read, or a chunk cut short by the end of the file
    /// (the rejected chunk's reason names the record IDs its header lists).
    /// `records_read == loaded + rejected.len()`; `loaded` counts records
    /// (each is one `SecurityEvent` row when of the Security channel, else
    /// one `WindowsEvent` row; both with
    /// [`EvtxOptions::security_in_windows_event`]).
    pub load: LoadReport,
    /// Rows added to `SecurityEvent` (records of the Security channel).
    pub security_events: usize,
    /// Chunks read through the `evtx` crate's XML because a record there has
    /// a shape the BinXML reader leaves to it (array values, say), with the
    /// first such reason; the rows are the same either way, only slower.
    pub xml_chunks: usize,
    pub xml_chunk_reason: Option<&'static str>,
    /// Rows added to `WindowsEvent` (records of other channels than Security,
    /// and Security's too with [`EvtxOptions::security_in_windows_event`]).
    pub windows_events: usize,
    /// Security `EventData` names without a `SecurityEvent` column of their
    /// own, and how often each was seen; their values stay in `EventData`.
    pub unmapped_fields: BTreeMap<String, usize>,
}

/// Everything loaded from several files.
pub struct EvtxLoad {
    /// `SecurityEvent` then `WindowsEvent` (present even when empty).
    pub tables: Vec<LoadedTable>,
    /// All files together; unreadable files are listed in `notices`.
    pub report: LoadReport,
    /// One per input path, in input order.
    pub files: Vec<EvtxReport>,
}

/// Reads one EVTX file, handing each full batch to `sink`.
pub fn read_evtx(path: &Path, options: &EvtxOptions, sink: &mut impl FnMut(EvtxTable, RecordBatch)) -> EvtxReport {
    let location = path.display().to_string();
    match std::fs::File::open(path) {
        Ok(file) => {
            // Unbuffered: the parser reads whole 64 KiB chunks after seeking.
            let mut report = read_evtx_from(file, &location, options, sink);
            report.path = path.to_path_buf();
            report
        }
        Err(source) => EvtxReport {
            path: path.to_path_buf(),
            error: Some(ReadError::Open { location, source }.to_string()),
            ..EvtxReport::default()
        },
    }
}

/// Reads EVTX data from any seekable reader; `location` names it in the report.
pub fn read_evtx_from<R: Read + Seek>(
    mut reader: R,
    location: &str,
    options: &EvtxOptions,
    sink: &mut impl FnMut(EvtxTable, RecordBatch),
) -> EvtxReport {
    let mut report = EvtxReport { path: PathBuf::from(location), ..EvtxReport::default() };
    let chunks = scan_chunks(&mut reader).unwrap_or_default();
    let parser = match EvtxParser::from_read_seek(reader) {
        Ok(parser) => parser,
        Err(source) => {
            report.error = Some(ReadError::NotEvtx { location: location.to_string(), source }.to_string());
            return report;
        }
    };
    let settings =
        ParserSettings::new().num_threads(options.parse_threads).indent(false).recover_records(options.recover_records);
    let mut parser = parser.with_configuration(settings.clone());
    let keep = Keep::of(options.needs.as_deref()).with_security_in_windows_event(options.security_in_windows_event);
    let mut tables = Tables::new(options.batch_rows.max(1), options.raw_event_data, keep.clone());
    // A panic inside the parser (propagated from its worker threads) ends
    // this file, not the caller: what was read so far is kept.
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let mut take = |item: ReadItem, report: &mut EvtxReport| {
            report.load.records_read += 1;
            match item {
                ReadItem::Event(event) => tables.push(&event, report, sink),
                ReadItem::Unread { time, security } => tables.left_unread(time, security, report),
                ReadItem::Rejected(at, reason) => report.load.rejected.push((at, reason)),
            }
        };
        if options.recover_records || options.raw_event_data {
            // Carving and raw XML need the `evtx` crate's records as they are.
            let records = parser.serialized_records(|record| record.map(parse_record));
            for item in records {
                take(
                    match item {
                        Ok(Ok(event)) => ReadItem::Event(event),
                        Ok(Err((record_id, reason))) => {
                            ReadItem::Rejected(format!("{location}: record {record_id}"), reason.to_string())
                        }
                        Err(e) => ReadItem::Rejected(error_location(location, &e), error_chain(&e)),
                    },
                    &mut report,
                );
            }
        } else {
            let settings = Arc::new(settings);
            let parallel = options.parse_threads != 1;
            // Chunks are read in order and parsed a batch at a time, in parallel.
            let batch = if parallel { 4 * rayon::current_num_threads().max(1) } else { 1 };
            let mut chunks = parser.chunks();
            loop {
                let mut pending = Vec::with_capacity(batch);
                for chunk in chunks.by_ref().take(batch) {
                    pending.push(chunk);
                }
                if pending.is_empty() {
                    break;
                }
                let read = |chunk: evtx::err::Result<EvtxChunkData>| match chunk {
                    Ok(mut chunk) => read_chunk(&mut chunk, location, &settings, &keep),
                    Err(e) => (vec![ReadItem::Rejected(error_location(location, &e), error_chain(&e))], None),
                };
                let results: Vec<(Vec<ReadItem>, Option<&'static str>)> = if parallel && pending.len() > 1 {
                    use rayon::prelude::*;
                    pending.into_par_iter().map(read).collect()
                } else {
                    pending.into_iter().map(read).collect()
                };
                for (items, xml_reason) in results {
                    if let Some(reason) = xml_reason {
                        report.xml_chunks += 1;
                        report.xml_chunk_reason.get_or_insert(reason);
                    }
                    for item in items {
                        take(item, &mut report);
                    }
                }
            }
        }
    }));
    if let Err(panic) = outcome {
        let message = panic
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| panic.downcast_ref::<&str>().copied())
            .unwrap_or("unknown panic");
        let message = message.to_string();
        report.error = Some(ReadError::ParserStopped { location: location.to_string(), message }.to_string());
    }
    tables.flush_all(&mut report, sink);
    chunks.annotate(location, &mut report);
    report.load.notices.extend(unmapped_notice(location, &report.unmapped_fields));
    report
}

/// Reads several files, `options.file_threads` at a time, into one
/// `SecurityEvent` and one `WindowsEvent` table (rows in input file order).
pub fn load_evtx_files(paths: &[PathBuf], options: &EvtxOptions) -> EvtxLoad {
    let threads = match options.file_threads {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    }
    .clamp(1, paths.len().max(1));
    type FileResult = (EvtxReport, Vec<(EvtxTable, RecordBatch)>);
    let results: Mutex<Vec<Option<FileResult>>> = Mutex::new((0..paths.len()).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(path) = paths.get(i) else { break };
                let mut batches = Vec::new();
                let report = read_evtx(path, options, &mut |table, batch| batches.push((table, batch)));
                results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some((report, batches));
            });
        }
    });
    let mut tables: Vec<LoadedTable> = EvtxTable::ALL
        .iter()
        .map(|t| LoadedTable { name: t.name().to_string(), columns: t.columns().to_vec(), batches: Vec::new() })
        .collect();
    // Small files make small batches: merge neighbours up to `batch_rows`.
    let mut coalescer =
        EvtxTable::ALL.map(|t| Coalescer { table: t, limit: options.batch_rows.max(1), pending: Vec::new() });
    let mut report = LoadReport::default();
    let mut files = Vec::with_capacity(paths.len());
    for (i, result) in results.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().enumerate() {
        let (file, batches) = result.unwrap_or_else(|| {
            let error = Some(ReadError::NotRead { location: paths[i].display().to_string() }.to_string());
            (EvtxReport { path: paths[i].clone(), error, ..EvtxReport::default() }, Vec::new())
        });
        for (table, batch) in batches {
            coalescer[table as usize].push(batch, &mut tables[table as usize].batches);
        }
        report.records_read += file.load.records_read;
        report.loaded += file.load.loaded;
        report.conversion_failures += file.load.conversion_failures;
        report.rejected.extend(file.load.rejected.iter().cloned());
        if let Some(error) = &file.error {
            report.notices.push(error.clone());
        }
        report.notices.extend(file.load.notices.iter().cloned());
        files.push(file);
    }
    for c in &mut coalescer {
        c.flush(&mut tables[c.table as usize].batches);
    }
    EvtxLoad { tables, report, files }
}

/// Merges consecutive batches into batches of up to `limit` rows.
struct Coalescer {
    table: EvtxTable,
    limit: usize,
    pending: Vec<RecordBatch>,
}

impl Coalescer {
    fn push(&mut self, batch: RecordBatch, out: &mut Vec<RecordBatch>) {
        let pending: usize = self.pending.iter().map(RecordBatch::num_rows).sum();
        if pending + batch.num_rows() > self.limit {
            self.flush(out);
        }
        self.pending.push(batch);
    }

    fn flush(&mut self, out: &mut Vec<RecordBatch>) {
        match self.pending.len() {
            0 => {}
            1 => out.extend(self.pending.pop()),
            _ => {
                let merged = datafusion::arrow::compute::concat_batches(&self.table.schema(), &self.pending)
                    .expect("batches of one table share its schema");
                self.pending.clear();
                out.push(merged);
            }
        }
    }
}

/// The `.evtx` files under `dir`, recursively, sorted by path.
pub fn find_evtx_files(dir: &Path) -> std::io::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(dir).follow_links(true).sort_by_file_name() {
        let entry = match entry {
            Ok(entry) => entry,
            // A link to nothing is passed over, as it always was.
            Err(e) if e.io_error().is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) => continue,
            Err(e) => return Err(e.into()),
        };
        let path = entry.path();
        if entry.file_type().is_file() && path.extension().is_some_and(|e| e.eq_ignore_ascii_case("evtx")) {
            out.push(entry.into_path());
        }
    }
    out.sort();
    Ok(out)
}

const FILE_HEADER_SIZE: u64 = 4096;
const CHUNK_SIZE: u64 = 65536;
const CHUNK_HEADER_PREFIX: usize = 40;

/// What the chunk headers say, read before parsing, to describe chunks the
/// parser cannot read and the partial chunk it does not read at all.
#[derive(Default)]
struct ChunkMap {
    /// The record-ID range each chunk's header names, by chunk number.
    ids: Vec<Option<IdRange>>,
    /// A chunk cut short by the end of the file: its number, the bytes present
    /// and the IDs its header names when they start with one.
    partial: Option<(u64, u64, Option<IdRange>)>,
}

/// The first and last record IDs a chunk header names.
type IdRange = (u64, u64);

fn scan_chunks<R: Read + Seek>(reader: &mut R) -> std::io::Result<ChunkMap> {
    use std::io::SeekFrom;
    let len = reader.seek(SeekFrom::End(0))?;
    let mut map = ChunkMap::default();
    let body = len.saturating_sub(FILE_HEADER_SIZE);
    let whole = body / CHUNK_SIZE;
    let read_ids = |reader: &mut R, chunk: u64| -> std::io::Result<Option<(u64, u64)>> {
        let mut header = [0u8; CHUNK_HEADER_PREFIX];
        reader.seek(SeekFrom::Start(FILE_HEADER_SIZE + chunk * CHUNK_SIZE))?;
        reader.read_exact(&mut header)?;
        let word = |at: usize| u64::from_le_bytes(header[at..at + 8].try_into().expect("8 bytes"));
        Ok((&header[..8] == b"ElfChnk\0").then(|| (word(24), word(32))))
    };
    if len > FILE_HEADER_SIZE {
        for chunk in 0..whole {
            map.ids.push(read_ids(reader, chunk).unwrap_or(None));
        }
        let rest = body % CHUNK_SIZE;
        if rest > 0 {
            let mut tail = Vec::with_capacity(rest as usize);
            reader.seek(SeekFrom::Start(FILE_HEADER_SIZE + whole * CHUNK_SIZE))?;
            reader.by_ref().take(rest).read_to_end(&mut tail)?;
            if tail.iter().any(|&b| b != 0) {
                let ids = (tail.len() >= CHUNK_HEADER_PREFIX && &tail[..8] == b"ElfChnk\0").then(|| {
                    let word = |at: usize| u64::from_le_bytes(tail[at..at + 8].try_into().expect("8 bytes"));
                    (word(24), word(32))
                });
                map.partial = Some((whole, rest, ids));
            }
        }
    }
    reader.seek(SeekFrom::Start(0))?;
    Ok(map)
}

impl ChunkMap {
    /// Adds the record IDs a rejected chunk held to its reason, and counts a
    /// partial chunk at the end of the file as rejected.
    fn annotate(&self, location: &str, report: &mut EvtxReport) {
        let names = |ids: Option<(u64, u64)>| match ids {
            Some((first, last)) if first <= last => format!("; its header names record IDs {first} to {last}"),
            _ => String::new(),
        };
        for (at, reason) in &mut report.load.rejected {
            let chunk = at.rsplit_once(": chunk ").and_then(|(_, n)| n.parse::<usize>().ok());
            if let Some(ids) = chunk.and_then(|n| self.ids.get(n)) {
                reason.push_str(&names(*ids));
            }
        }
        if let Some((chunk, bytes, ids)) = self.partial {
            let text = format!(
                "the file ends {bytes} bytes into this chunk (chunks are {CHUNK_SIZE} bytes), so its records were not \
                 read{}",
                names(ids)
            );
            if ids.is_some() {
                report.load.records_read += 1;
                report.load.rejected.push((format!("{location}: chunk {chunk}"), text));
            } else {
                report.load.notices.push(format!("{location}: chunk {chunk}: {text}"));
            }
        }
    }
}

/// Where an error happened: `file: chunk N` or `file: record N`.
fn error_location(location: &str, e: &EvtxError) -> String {
    match e {
        EvtxError::FailedToParseChunk { chunk_id, .. } => format!("{location}: chunk {chunk_id}"),
        EvtxError::FailedToParseRecord { record_id, .. } => format!("{location}: record {record_id}"),
        EvtxError::FailedToReadRecordAt { chunk: Some(chunk), offset, .. } => {
            format!("{location}: chunk {chunk} offset {offset:#x}")
        }
        _ => format!("{location}: unknown record"),
    }
}

/// The records of one chunk: read from their BinXML ([`binxml`]), or, when a
/// record there has a shape that reader leaves to the `evtx` crate, the
/// whole chunk again through the crate's XML (and says why).
fn read_chunk(
    chunk: &mut EvtxChunkData,
    location: &str,
    settings: &Arc<ParserSettings>,
    keep: &Keep,
) -> (Vec<ReadItem>, Option<&'static str>) {
    match read_chunk_binxml(chunk, location, keep) {
        Ok(items) => (items, None),
        Err(why) => (read_chunk_xml(chunk, location, settings), Some(why.0)),
    }
}

fn read_chunk_binxml(chunk: &EvtxChunkData, location: &str, keep: &Keep) -> Result<Vec<ReadItem>, binxml::Unsupported> {
    let header = &chunk.header;
    let records = binxml::records(&chunk.data, header.free_space_offset, header.last_event_record_id)?;
    let mut reader = binxml::ChunkReader::new(&chunk.data, keep);
    let mut dom = binxml::Dom::default();
    let mut items = Vec::with_capacity(records.len());
    for record in &records {
        if let Some(item) = reader.read_planned(record)? {
            items.push(item);
            continue;
        }
        reader.read(record, &mut dom)?;
        items.push(match event_from_dom(&reader, &dom, record.time) {
            Ok(event) => ReadItem::Event(event),
            Err(reason) => ReadItem::Rejected(format!("{location}: record {}", record.id), reason.to_string()),
        });
    }
    Ok(items)
}

fn read_chunk_xml(chunk: &mut EvtxChunkData, location: &str, settings: &Arc<ParserSettings>) -> Vec<ReadItem> {
    let number = chunk.number.unwrap_or_default();
    let mut parsed = match chunk.parse(settings.clone()) {
        Ok(parsed) => parsed,
        Err(e) => return vec![ReadItem::Rejected(format!("{location}: chunk {number}"), error_chain(&e))],
    };
    parsed
        .iter()
        .map(|record| match record.map(parse_record) {
            Ok(Ok(event)) => ReadItem::Event(event),
            Ok(Err((record_id, reason))) => {
                ReadItem::Rejected(format!("{location}: record {record_id}"), reason.to_string())
            }
            Err(e) => ReadItem::Rejected(error_location(location, &e), error_chain(&e)),
        })
        .collect()
}

/// The event of a record the `evtx` crate read, through its XML; else the
/// record's ID and why it has none.
fn parse_record(record: EvtxRecord<'_>) -> Result<Event, (u64, RecordError)> {
    let record_id = record.event_record_id;
    let header_time = i64::try_from(record.timestamp.as_nanosecond()).ok();
    let xml = record.into_xml().map_err(|source| (record_id, RecordError::Render { source }))?.data;
    event_from_xml(header_time, xml).map_err(|reason| (record_id, reason))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_reported_not_a_panic() {
        let mut batches = 0;
        let report = read_evtx_from(
            std::io::Cursor::new(b"not an evtx file at all".to_vec()),
            "garbage",
            &EvtxOptions::default(),
            &mut |_, _| batches += 1,
        );
        assert!(report.error.as_deref().unwrap().starts_with("garbage: not a readable EVTX file"), "{report:?}");
        assert_eq!((report.load.records_read, batches), (0, 0));
    }
}
