//! Windows EVTX files into Sentinel's `SecurityEvent` and `WindowsEvent` tables.
//!
//! Every record becomes a `WindowsEvent` row (its `EventData` a property bag,
//! `RawEventData` the record's XML); records of the Security channel also
//! become `SecurityEvent` rows, with each `<Data Name="X">` value copied
//! verbatim into column `X` and the columns Sentinel computes (`Activity`,
//! `Account`, `LogonTypeName`, …) filled in.
//!
//! Records are parsed by the `evtx` crate on rayon threads, chunk by chunk;
//! each record is rendered as XML (the text Windows itself renders) and read
//! into its fields on the same worker thread. A record or chunk that cannot
//! be read is counted as rejected with its location and reason, and reading
//! goes on; a file that is not EVTX at all is reported and skipped. Rows are
//! handed out in batches of [`EvtxOptions::batch_rows`], so memory is bounded
//! per batch when the caller streams them with [`read_evtx`].

mod binxml;
mod plan;
mod security;
pub mod writer;
mod xml;

use crate::catalog;
use crate::columns::ColumnBuilder;
use crate::tabular::{LoadReport, LoadedTable};
use ::evtx::err::EvtxError;
use ::evtx::{EvtxChunkData, EvtxParser, EvtxRecord, ParserSettings};
use datafusion::arrow::datatypes::SchemaRef;
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::dynamic::encode_string;
use kqlite_engine::dynamic::{DynValue, ObjectEncoder};
use kqlite_engine::time::parse_datetime;
use kqlite_engine::BATCH_ROWS;
use kqlite_engine::{ColumnDef, KqlType, ScanNeeds};
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasherDefault, Hasher};
use std::io::{Read, Seek};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};

pub use security::{activity, description, logon_type_name};

const EVENT_NS: &str = "http://schemas.microsoft.com/win/2004/08/events/event";

/// The tables EVTX records are loaded into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EvtxTable {
    SecurityEvent,
    WindowsEvent,
}

impl EvtxTable {
    pub const ALL: [EvtxTable; 2] = [EvtxTable::SecurityEvent, EvtxTable::WindowsEvent];

    pub fn name(self) -> &'static str {
        match self {
            EvtxTable::SecurityEvent => "SecurityEvent",
            EvtxTable::WindowsEvent => "WindowsEvent",
        }
    }

    /// The Sentinel schema of the table (the batches have exactly these columns).
    pub fn columns(self) -> &'static [ColumnDef] {
        self.layout().columns
    }

    /// The Arrow schema of the batches.
    pub fn schema(self) -> SchemaRef {
        self.layout().schema.clone()
    }

    fn layout(self) -> &'static Layout {
        static LAYOUTS: OnceLock<[Layout; 2]> = OnceLock::new();
        &LAYOUTS.get_or_init(|| EvtxTable::ALL.map(Layout::new))[self as usize]
    }
}

struct Layout {
    columns: &'static [ColumnDef],
    schema: SchemaRef,
    index: HashMap<&'static str, usize, BuildHasherDefault<Fnv>>,
    /// The index of each [`CommonColumn`] column, when the table has it.
    fixed: [Option<usize>; CommonColumn::NAMES.len()],
}

/// The columns rows set by name whatever the event: resolved to indexes
/// once per table, as looking each up for every row cost 4% of ingesting.
#[derive(Clone, Copy)]
enum CommonColumn {
    TimeGenerated,
    Computer,
    Channel,
    EventID,
    EventLevelName,
    Task,
    Opcode,
    Keywords,
    Version,
    EventRecordId,
    SystemProcessId,
    SystemThreadId,
    SystemUserId,
    Correlation,
    EventSourceName,
    Level,
    EventLevel,
    Provider,
    EventData,
    RawEventData,
    Type,
    Activity,
    Account,
    AccountType,
    TargetAccount,
    SubjectAccount,
    LogonTypeName,
    Process,
}

// `NAMES` names every variant.
const _: () = assert!(CommonColumn::Process as usize + 1 == CommonColumn::NAMES.len());

impl CommonColumn {
    /// Each variant's column name, at its index.
    const NAMES: [&'static str; 28] = [
        "TimeGenerated",
        "Computer",
        "Channel",
        "EventID",
        "EventLevelName",
        "Task",
        "Opcode",
        "Keywords",
        "Version",
        "EventRecordId",
        "SystemProcessId",
        "SystemThreadId",
        "SystemUserId",
        "Correlation",
        "EventSourceName",
        "Level",
        "EventLevel",
        "Provider",
        "EventData",
        "RawEventData",
        "Type",
        "Activity",
        "Account",
        "AccountType",
        "TargetAccount",
        "SubjectAccount",
        "LogonTypeName",
        "Process",
    ];
}

impl Layout {
    fn new(table: EvtxTable) -> Layout {
        let columns = catalog::table_schema(table.name()).expect("the catalog has the Windows event tables");
        let schema = kqlite_engine::arrow_schema(columns);
        assert!(columns.len() <= 512, "a Row tracks at most 512 columns");
        let index: HashMap<&'static str, usize, BuildHasherDefault<Fnv>> =
            columns.iter().enumerate().map(|(i, c)| (c.name.as_str(), i)).collect();
        let fixed = CommonColumn::NAMES.map(|name| index.get(name).copied());
        Layout { columns, schema, index, fixed }
    }
}

/// FNV-1a, for the small fixed maps from column names to indexes (looked up
/// for every cell; SipHash costs more than the rest of setting a cell).
#[derive(Default)]
struct Fnv(u64);

impl Hasher for Fnv {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 { 0xcbf2_9ce4_8422_2325 } else { self.0 };
        for &b in bytes {
            h = (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

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
        }
    }
}

/// Which records and columns the reader keeps, from [`EvtxOptions::needs`].
#[derive(Clone, Debug)]
pub(crate) struct Keep {
    security: Option<KeepTable>,
    windows: Option<KeepTable>,
    /// Worked out once from the two above (they are asked for every
    /// record, or every field of every template).
    all: bool,
    /// Whether any of SecurityEvent's computed columns is kept.
    security_computed: bool,
    /// Whether each table's `EventData` is kept (it is the costly column to make).
    event_data: [bool; 2],
}

#[derive(Clone, Debug)]
struct KeepTable {
    /// By column index; `None`: every column.
    columns: Option<Vec<bool>>,
    /// The EventIDs read; `None`: any.
    event_ids: Option<Vec<i64>>,
}

impl Keep {
    fn all() -> Keep {
        let all = || Some(KeepTable { columns: None, event_ids: None });
        Keep::new(all(), all())
    }

    fn of(needs: Option<&ScanNeeds>) -> Keep {
        let Some(needs) = needs else { return Keep::all() };
        let table = |table: EvtxTable| {
            let needs = needs.table(table.name())?;
            let columns =
                needs.columns.as_ref().map(|_| table.columns().iter().map(|c| needs.reads_column(&c.name)).collect());
            let event_ids = needs.values_of("EventID").map(|ids| ids.into_iter().collect());
            Some(KeepTable { columns, event_ids })
        };
        Keep::new(table(EvtxTable::SecurityEvent), table(EvtxTable::WindowsEvent))
    }

    fn new(security: Option<KeepTable>, windows: Option<KeepTable>) -> Keep {
        let every = |t: &Option<KeepTable>| t.as_ref().is_some_and(|t| t.columns.is_none() && t.event_ids.is_none());
        let kept = |t: &Option<KeepTable>, table: EvtxTable, column: &str| {
            t.as_ref().is_some_and(|t| {
                t.columns.as_ref().is_none_or(|c| table.layout().index.get(column).is_some_and(|&i| c[i]))
            })
        };
        let all = every(&security) && every(&windows);
        let security_computed = COMPUTED_COLUMNS.iter().any(|c| kept(&security, EvtxTable::SecurityEvent, c));
        let event_data = [
            kept(&security, EvtxTable::SecurityEvent, "EventData"),
            kept(&windows, EvtxTable::WindowsEvent, "EventData"),
        ];
        Keep { security, windows, all, security_computed, event_data }
    }

    /// Whether a record goes to SecurityEvent, and to WindowsEvent. An
    /// EventID that is not a number is kept (its row holds null there).
    pub(crate) fn tables(&self, security_channel: bool, event_id: &str) -> (bool, bool) {
        let id = event_id.trim().parse::<i64>().ok();
        let wants = |t: &Option<KeepTable>| {
            t.as_ref().is_some_and(|t| match (&t.event_ids, id) {
                (Some(ids), Some(id)) => ids.contains(&id),
                _ => true,
            })
        };
        (security_channel && wants(&self.security), wants(&self.windows))
    }

    /// Whether every record and column is kept.
    pub(crate) fn keeps_all(&self) -> bool {
        self.all
    }

    /// Whether any of SecurityEvent's computed columns is kept.
    pub(crate) fn security_reads_computed(&self) -> bool {
        self.security_computed
    }

    /// Whether a SecurityEvent row reads the `EventData` field `name`: its
    /// own column is kept, or a computed column that reads it is.
    pub(crate) fn security_reads_field(&self, name: &str) -> bool {
        let Some(t) = &self.security else { return false };
        let Some(columns) = &t.columns else { return true };
        let layout = EvtxTable::SecurityEvent.layout();
        let kept = |column: &str| layout.index.get(column).is_some_and(|&i| columns[i]);
        kept(name) || (self.security_reads_computed() && COMPUTED_FROM.contains(&name))
    }

    /// Whether `table`'s `EventData` is read (it is the costly column to make).
    pub(crate) fn reads_event_data(&self, table: EvtxTable) -> bool {
        self.event_data[table as usize]
    }
}

/// What happened to one file.
#[derive(Debug, Default)]
pub struct EvtxReport {
    pub path: PathBuf,
    /// Set when the file could not be read as EVTX at all (or reading it
    /// stopped early); the counts cover what was read before.
    pub error: Option<String>,
    /// `records_read` counts every item read: a record, a record or chunk the
    /// parser could not read, or a chunk cut short by the end of the file
    /// (the rejected chunk's reason names the record IDs its header lists).
    /// `records_read == loaded + rejected.len()`; `loaded` counts records
    /// (each is one `WindowsEvent` row).
    pub load: LoadReport,
    /// Rows added to `SecurityEvent` (records of the Security channel).
    pub security_events: usize,
    /// Chunks read through the `evtx` crate's XML because a record there has
    /// a shape the BinXML reader leaves to it (array values, say), with the
    /// first such reason; the rows are the same either way, only slower.
    pub xml_chunks: usize,
    pub xml_chunk_reason: Option<&'static str>,
    /// Rows added to `WindowsEvent` (every loaded record).
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
        Err(e) => EvtxReport {
            path: path.to_path_buf(),
            error: Some(format!("{location}: cannot open: {e}")),
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
        Err(e) => {
            report.error = Some(format!("{location}: not a readable EVTX file: {}", error_chain(&e)));
            return report;
        }
    };
    let settings =
        ParserSettings::new().num_threads(options.parse_threads).indent(false).recover_records(options.recover_records);
    let mut parser = parser.with_configuration(settings.clone());
    let keep = Keep::of(options.needs.as_deref());
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
                            ReadItem::Rejected(format!("{location}: record {record_id}"), reason)
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
        report.error = Some(format!("{location}: the EVTX parser stopped: {message}"));
    }
    tables.flush_all(&mut report, sink);
    chunks.annotate(location, &mut report);
    report.load.notices.extend(unmapped_notice(location, &report.unmapped_fields));
    report
}

/// The notice listing Security `EventData` names that have no column of their own.
fn unmapped_notice(location: &str, unmapped: &BTreeMap<String, usize>) -> Option<String> {
    if unmapped.is_empty() {
        return None;
    }
    let list: Vec<String> = unmapped.iter().map(|(name, n)| format!("{name} ({n})")).collect();
    Some(format!(
        "{location}: {} Security EventData field(s) have no SecurityEvent column of their own and are kept in \
         EventData: {}",
        list.len(),
        list.join(", ")
    ))
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
            let error = Some(format!("{}: was not read", paths[i].display()));
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
    let mut stack = vec![dir.to_path_buf()];
    while let Some(dir) = stack.pop() {
        for entry in std::fs::read_dir(&dir)? {
            let path = entry?.path();
            if path.is_dir() {
                stack.push(path);
            } else if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("evtx")) {
                out.push(path);
            }
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

/// An error and its causes, `outer: inner: …`.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}

// ---------------------------------------------------------------------------
// One record, read on a parser worker thread.

/// A value of an [`Event`]: most are spans of its XML (no entity to decode).
#[derive(Debug, Default)]
enum Text {
    #[default]
    Empty,
    Span(u32, u32),
    Owned(String),
}

impl Text {
    /// `value`, read from `xml`, as a span of it when it is one.
    fn of(xml: &str, value: Cow<'_, str>) -> Text {
        match value {
            Cow::Borrowed("") => Text::Empty,
            Cow::Borrowed(s) => {
                let start = (s.as_ptr() as usize).wrapping_sub(xml.as_ptr() as usize);
                let end = start.wrapping_add(s.len());
                if start < end && end <= xml.len() && end <= u32::MAX as usize {
                    Text::Span(start as u32, end as u32)
                } else {
                    Text::Owned(s.to_string())
                }
            }
            Cow::Owned(s) => Text::Owned(s),
        }
    }
}

/// The fields of one record that the tables need, owned so that it can
/// cross from the parser's worker threads.
#[derive(Debug, Default)]
struct Event {
    /// The record's XML; most [`Text`]s are spans of it.
    xml: String,
    /// `TimeCreated/@SystemTime`, else the record header's time (ns).
    time: Option<i64>,
    provider: Text,
    event_id: Text,
    version: Text,
    level: Text,
    task: Text,
    opcode: Text,
    keywords: Text,
    event_record_id: Text,
    activity_id: Text,
    process_id: Text,
    thread_id: Text,
    channel: Text,
    computer: Text,
    user_id: Text,
    /// `EventData/Data[@Name]` values, or the leaf children of `UserData`'s element.
    fields: Vec<(Text, Text)>,
    /// The `SecurityEvent` column of each field ([`security_column`]), when
    /// the reader knew them (a plan resolves its names once); else empty.
    security_columns: Vec<u16>,
    /// `EventData` (or `UserData`) as XML, the way `SecurityEvent.EventData`
    /// holds it; only for Security records.
    event_data_xml: String,
    /// `WindowsEvent.EventData`, encoded.
    bag: Vec<u8>,
}

impl Event {
    fn get<'a>(&'a self, text: &'a Text) -> &'a str {
        match text {
            Text::Empty => "",
            Text::Span(start, end) => self.xml.get(*start as usize..*end as usize).unwrap_or(""),
            Text::Owned(s) => s,
        }
    }

    fn fields(&self) -> impl Iterator<Item = (&str, &str)> {
        self.fields.iter().map(|(n, v)| (self.get(n), self.get(v)))
    }

    fn is_security(&self) -> bool {
        self.get(&self.channel).eq_ignore_ascii_case("Security")
    }
}

/// One record read, or why a record or chunk could not be.
// Nearly every item is an event: boxing it would cost an allocation a record.
#[allow(clippy::large_enum_variant)]
enum ReadItem {
    Event(Event),
    /// A record no table keeps: counted, its time noted, nothing decoded.
    Unread {
        time: Option<i64>,
        security: bool,
    },
    Rejected(String, String),
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
        items.push(match event_from_dom(&reader, &mut dom, record.time) {
            Ok(event) => ReadItem::Event(event),
            Err(reason) => ReadItem::Rejected(format!("{location}: record {}", record.id), reason),
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
            Ok(Err((record_id, reason))) => ReadItem::Rejected(format!("{location}: record {record_id}"), reason),
            Err(e) => ReadItem::Rejected(error_location(location, &e), error_chain(&e)),
        })
        .collect()
}

/// The fields of a record instantiated by [`binxml::ChunkReader`], read as
/// [`event_from_xml`] reads the XML Windows renders (its text spans become
/// the event's spans; `dom.text` moves into the event).
fn event_from_dom(
    reader: &binxml::ChunkReader<'_>,
    dom: &mut binxml::Dom,
    header_time: Option<i64>,
) -> Result<Event, String> {
    let mut event = Event { fields: Vec::with_capacity(24), ..Event::default() };
    let root = dom.root().ok_or("the record holds no element")?;
    let root_name = reader.name(dom.elements[root as usize].name);
    if root_name != "Event" {
        return Err(format!("the record's root element is <{root_name}>, not <Event>"));
    }
    let d: &binxml::Dom = dom;
    let span = |s: (u32, u32)| if s.0 == s.1 { Text::Empty } else { Text::Span(s.0, s.1) };
    let attr = |e: u32, name: &str| {
        d.attributes(e).iter().find(|a| reader.name(a.name) == name).map_or(Text::Empty, |a| span(a.value))
    };
    let child = |e: u32, name: &str| d.children(e).find(|&c| reader.name(d.elements[c as usize].name) == name);
    let mut system_time = None;
    for e in child(root, "System").into_iter().flat_map(|s| d.children(s)) {
        let text = span(d.elements[e as usize].text);
        match reader.name(d.elements[e as usize].name) {
            "Provider" => event.provider = attr(e, "Name"),
            "EventID" => event.event_id = text,
            "Version" => event.version = text,
            "Level" => event.level = text,
            "Task" => event.task = text,
            "Opcode" => event.opcode = text,
            "Keywords" => event.keywords = text,
            "TimeCreated" => {
                system_time = d
                    .attributes(e)
                    .iter()
                    .find(|a| reader.name(a.name) == "SystemTime")
                    .map(|a| a.time.or_else(|| parse_datetime(d.span(a.value))))
            }
            "EventRecordID" => event.event_record_id = text,
            "Correlation" => event.activity_id = attr(e, "ActivityID"),
            "Execution" => {
                event.process_id = attr(e, "ProcessID");
                event.thread_id = attr(e, "ThreadID");
            }
            "Channel" => event.channel = text,
            "Computer" => event.computer = text,
            "Security" => event.user_id = attr(e, "UserID"),
            _ => {}
        }
    }
    event.time = system_time.flatten().or(header_time);

    let payload = child(root, "EventData").or_else(|| child(root, "UserData"));
    let mut bag = None;
    let security = event.get_in(&d.text, &event.channel).eq_ignore_ascii_case("Security");
    if let Some(payload) = payload {
        if reader.name(d.elements[payload as usize].name) == "EventData" {
            let mut plain = true;
            for item in d.children(payload) {
                let name = d.attributes(item).iter().find(|a| reader.name(a.name) == "Name");
                match (reader.name(d.elements[item as usize].name), name) {
                    ("Data", Some(name)) => event.fields.push((span(name.value), span(d.elements[item as usize].text))),
                    _ => plain = false,
                }
            }
            if plain {
                bag = encode_plain_bag(&event, &d.text);
            }
            if bag.is_none() || security {
                let xml = render_xml(reader, d, payload, security);
                if bag.is_none() {
                    let doc = xml::parse(&xml)?;
                    bag = Some(event_data_bag(doc.root()));
                }
                if security {
                    event.event_data_xml = xml;
                }
            }
        } else {
            if let Some(inner) = d.children(payload).next() {
                let xml = render_xml(reader, d, inner, false);
                let doc = xml::parse(&xml)?;
                bag = Some(element_object(doc.root()).encode());
                for leaf in d.children(inner).filter(|&c| !d.has_children(c)) {
                    let name = reader.name(d.elements[leaf as usize].name).to_string();
                    event.fields.push((Text::Owned(name), span(d.elements[leaf as usize].text)));
                }
            }
            if security {
                event.event_data_xml = render_xml(reader, d, payload, true);
            }
        }
    }
    event.bag = bag.unwrap_or_else(|| DynValue::Object(Vec::new()).encode());
    // A copy of exactly its size: the DOM keeps its buffer for the next record.
    event.xml = dom.text.clone();
    Ok(event)
}

/// An element of a [`binxml::Dom`] as XML, the way the `evtx` crate renders
/// it (`<X/>` only for an element the BinXML closed as empty; its own text
/// before its children). `namespace`: give the element Sentinel's `xmlns`
/// when it has none, as `SecurityEvent.EventData` holds it (see [`with_namespace`]).
fn render_xml(reader: &binxml::ChunkReader<'_>, dom: &binxml::Dom, e: u32, namespace: bool) -> String {
    let mut out = String::with_capacity(256 + dom.span(dom.elements[e as usize].text).len());
    render_element(reader, dom, e, namespace, &mut out);
    out
}

fn render_element(reader: &binxml::ChunkReader<'_>, dom: &binxml::Dom, e: u32, namespace: bool, out: &mut String) {
    let element = &dom.elements[e as usize];
    let name = reader.qualified_name(element.name);
    out.push('<');
    out.push_str(name);
    if namespace && !dom.attributes(e).iter().any(|a| reader.qualified_name(a.name).starts_with("xmlns")) {
        out.push_str(" xmlns=\"");
        out.push_str(EVENT_NS);
        out.push('"');
    }
    for a in dom.attributes(e) {
        out.push(' ');
        out.push_str(reader.qualified_name(a.name));
        out.push_str("=\"");
        escape_xml_into(out, dom.span(a.value), true);
        out.push('"');
    }
    let text = dom.span(element.text);
    if element.self_closing && text.is_empty() && !dom.has_children(e) {
        out.push_str("/>");
        return;
    }
    out.push('>');
    escape_xml_into(out, text, false);
    for c in dom.children(e) {
        render_element(reader, dom, c, false, out);
    }
    out.push_str("</");
    out.push_str(name);
    out.push('>');
}

/// XML escaping as the `evtx` crate writes it: quotes only in attributes.
fn escape_xml_into(out: &mut String, text: &str, in_attribute: bool) {
    // Nearly every value has nothing to escape: checked eight bytes at a
    // time, it is copied whole (the byte loop below cost 3% of ingesting).
    let bytes = text.as_bytes();
    let mut words = bytes.chunks_exact(8);
    let clean = words.all(|w| !xml_special(u64::from_le_bytes(w.try_into().expect("8 bytes")), in_attribute))
        && !words
            .remainder()
            .iter()
            .any(|&b| matches!(b, b'&' | b'<' | b'>') || in_attribute && matches!(b, b'"' | b'\''));
    if clean {
        out.push_str(text);
        return;
    }
    let mut run = 0;
    for (i, b) in text.bytes().enumerate() {
        let escaped = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' if in_attribute => "&quot;",
            b'\'' if in_attribute => "&apos;",
            _ => continue,
        };
        out.push_str(&text[run..i]);
        out.push_str(escaped);
        run = i + 1;
    }
    out.push_str(&text[run..]);
}

/// Whether the eight bytes of `w` hold one that XML escapes (`&<>`, and
/// `"'` in attributes). Exact: the zero-byte test has no false positives
/// for "is there one".
fn xml_special(w: u64, in_attribute: bool) -> bool {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero = |v: u64| v.wrapping_sub(ONES) & !v & HIGHS;
    let is = |b: u8| zero(w ^ (ONES * u64::from(b)));
    let mut found = is(b'&') | is(b'<') | is(b'>');
    if in_attribute {
        found |= is(b'"') | is(b'\'');
    }
    found != 0
}

fn parse_record(record: EvtxRecord<'_>) -> Result<Event, (u64, String)> {
    let record_id = record.event_record_id;
    let header_time = i64::try_from(record.timestamp.as_nanosecond()).ok();
    let xml = record.into_xml().map_err(|e| (record_id, error_chain(&e)))?.data;
    event_from_xml(header_time, xml).map_err(|reason| (record_id, reason))
}

fn event_from_xml(header_time: Option<i64>, xml: String) -> Result<Event, String> {
    let mut event = Event::default();
    {
        let doc = xml::parse(&xml)?;
        let root = doc.root();
        if root.local_name() != "Event" {
            return Err(format!("the record's root element is <{}>, not <Event>", root.name()));
        }
        let of = |value: Cow<'_, str>| Text::of(&xml, value);
        let attr = |e: xml::Element<'_, '_>, name: &str| e.attribute_cow(name).cloned().map_or(Text::Empty, of);
        let mut system_time = None;
        for e in root.child("System").iter().flat_map(|s| s.elements()) {
            match e.local_name() {
                "Provider" => event.provider = attr(e, "Name"),
                "EventID" => event.event_id = of(e.text()),
                "Version" => event.version = of(e.text()),
                "Level" => event.level = of(e.text()),
                "Task" => event.task = of(e.text()),
                "Opcode" => event.opcode = of(e.text()),
                "Keywords" => event.keywords = of(e.text()),
                "TimeCreated" => system_time = e.attribute("SystemTime"),
                "EventRecordID" => event.event_record_id = of(e.text()),
                "Correlation" => event.activity_id = attr(e, "ActivityID"),
                "Execution" => {
                    event.process_id = attr(e, "ProcessID");
                    event.thread_id = attr(e, "ThreadID");
                }
                "Channel" => event.channel = of(e.text()),
                "Computer" => event.computer = of(e.text()),
                "Security" => event.user_id = attr(e, "UserID"),
                _ => {}
            }
        }
        event.time = system_time.and_then(parse_datetime).or(header_time);

        let payload = root.child("EventData").or_else(|| root.child("UserData"));
        let mut bag = None;
        if let Some(payload) = payload {
            if payload.local_name() == "EventData" {
                let mut plain = true;
                for item in payload.elements() {
                    match (item.local_name(), item.attribute_cow("Name")) {
                        ("Data", Some(name)) => {
                            let name = Text::of(&xml, name.clone());
                            event.fields.push((name, Text::of(&xml, item.text())));
                        }
                        _ => plain = false,
                    }
                }
                if plain {
                    bag = encode_plain_bag(&event, &xml);
                }
                if bag.is_none() {
                    bag = Some(event_data_bag(payload));
                }
            } else if let Some(inner) = payload.elements().next() {
                // UserData: the bag of its one child element.
                bag = Some(element_object(inner).encode());
                for leaf in inner.elements().filter(|e| !e.has_elements()) {
                    event.fields.push((Text::Owned(leaf.local_name().to_string()), Text::of(&xml, leaf.text())));
                }
            }
            if event.get_in(&xml, &event.channel).eq_ignore_ascii_case("Security") {
                event.event_data_xml = with_namespace(&xml[payload.outer()], payload.name());
            }
        }
        event.bag = bag.unwrap_or_else(|| DynValue::Object(Vec::new()).encode());
    }
    event.xml = xml;
    Ok(event)
}

impl Event {
    /// [`Event::get`] before `xml` has moved into the event.
    fn get_in<'a>(&'a self, xml: &'a str, text: &'a Text) -> &'a str {
        match text {
            Text::Empty => "",
            Text::Span(start, end) => xml.get(*start as usize..*end as usize).unwrap_or(""),
            Text::Owned(s) => s,
        }
    }
}

/// The bag of an `EventData` made only of named `Data` with distinct names
/// (nearly all of them), encoded straight from the fields.
fn encode_plain_bag(event: &Event, xml: &str) -> Option<Vec<u8>> {
    (!has_repeated_names(event, xml)).then(|| encode_bag(event, xml))
}

/// `WindowsEvent.EventData` of fields whose names are known to be distinct.
fn encode_bag(event: &Event, xml: &str) -> Vec<u8> {
    let n = event.fields.len();
    let bytes: usize =
        event.fields.iter().map(|(n, v)| event.get_in(xml, n).len() + event.get_in(xml, v).len() + 9).sum();
    let mut out = Vec::with_capacity(bytes + 4 * n + 5);
    let mut encoder = ObjectEncoder::with_capacity(&mut out, n, bytes);
    for (name, value) in &event.fields {
        encode_string(encoder.begin_entry(event.get_in(xml, name)), event.get_in(xml, value));
        encoder.end_entry();
    }
    encoder.finish();
    out
}

/// Whether two `EventData` fields share a name (the bag holds them as an
/// array: a shape left to the DOM).
fn has_repeated_names(event: &Event, xml: &str) -> bool {
    let names: Vec<&str> = event.fields.iter().map(|(n, _)| event.get_in(xml, n)).collect();
    // Checked on a cheap fingerprint first (length and ends).
    let print = |n: &str| (n.len(), n.as_bytes().first().copied(), n.as_bytes().last().copied());
    let prints: Vec<_> = names.iter().map(|n| print(n)).collect();
    prints.iter().enumerate().any(|(i, p)| prints[..i].iter().enumerate().any(|(j, q)| p == q && names[i] == names[j]))
}

/// The bag of any `EventData`: named `Data` by name, unnamed `Data` under
/// `Data` (an array when several), other elements (`Binary`) by their name;
/// repeated names become arrays.
fn event_data_bag(payload: xml::Element<'_, '_>) -> Vec<u8> {
    let mut bag = Bag::default();
    let mut unnamed = Vec::new();
    for item in payload.elements() {
        match (item.local_name(), item.attribute("Name")) {
            ("Data", Some(name)) => bag.insert(name.to_string(), DynValue::String(item.text().into_owned())),
            ("Data", None) => unnamed.push(DynValue::String(item.text().into_owned())),
            (other, _) => bag.insert(other.to_string(), element_value(item)),
        }
    }
    match unnamed.len() {
        0 => {}
        1 => bag.insert("Data".to_string(), unnamed.pop().expect("one value")),
        _ => bag.insert("Data".to_string(), DynValue::Array(unnamed)),
    }
    DynValue::Object(bag.entries).encode()
}

/// `<EventData …>` with Sentinel's `xmlns` added when the element has none.
fn with_namespace(element: &str, name: &str) -> String {
    let head_end = element.find(['>', '/']).unwrap_or(element.len());
    if element[..head_end].contains("xmlns") {
        return element.to_string();
    }
    let at = 1 + name.len();
    let mut out = String::with_capacity(element.len() + EVENT_NS.len() + 9);
    out.push_str(&element[..at]);
    out.push_str(" xmlns=\"");
    out.push_str(EVENT_NS);
    out.push('"');
    out.push_str(&element[at..]);
    out
}

/// A property bag that turns repeated keys into arrays.
#[derive(Default)]
struct Bag {
    entries: Vec<(String, DynValue)>,
}

impl Bag {
    fn insert(&mut self, key: String, value: DynValue) {
        match self.entries.iter_mut().find(|(k, _)| *k == key) {
            Some((_, DynValue::Array(items))) => items.push(value),
            Some((_, existing)) => {
                let first = std::mem::replace(existing, DynValue::Null);
                *existing = DynValue::Array(vec![first, value]);
            }
            None => self.entries.push((key, value)),
        }
    }
}

/// A leaf element is its text; others are bags (see [`element_object`]).
fn element_value(e: xml::Element<'_, '_>) -> DynValue {
    if !e.has_elements() && e.attributes().all(|(n, _)| is_namespace(n)) {
        DynValue::String(e.text().into_owned())
    } else {
        element_object(e)
    }
}

/// Attributes (but namespaces) and child elements as a bag; own text, if
/// any besides whitespace, under `#text`.
fn element_object(e: xml::Element<'_, '_>) -> DynValue {
    let mut bag = Bag::default();
    for (name, value) in e.attributes().filter(|(n, _)| !is_namespace(n)) {
        bag.insert(name.to_string(), DynValue::String(value.to_string()));
    }
    for child in e.elements() {
        bag.insert(child.local_name().to_string(), element_value(child));
    }
    let text = e.text();
    if !text.trim().is_empty() {
        bag.insert("#text".to_string(), DynValue::String(text.into_owned()));
    }
    DynValue::Object(bag.entries)
}

fn is_namespace(attribute: &str) -> bool {
    attribute == "xmlns" || attribute.starts_with("xmlns:")
}

// ---------------------------------------------------------------------------
// Events read from elsewhere than EVTX (exported JSON), mapped like records.

/// A Windows event from another source, as the text Windows renders for its
/// `System` values and `EventData`; [`EventRows`] makes the same rows of it as
/// of an EVTX record with these values.
#[derive(Debug, Default)]
pub(crate) struct EventFields {
    pub provider: String,
    pub event_id: String,
    pub version: String,
    pub level: String,
    pub task: String,
    pub opcode: String,
    pub keywords: String,
    /// Nanoseconds since the Unix epoch, UTC.
    pub time: Option<i64>,
    pub record_id: String,
    pub activity_id: String,
    pub process_id: String,
    pub thread_id: String,
    pub channel: String,
    pub computer: String,
    pub user_id: String,
    /// `EventData` `<Data Name=…>` values, in order.
    pub data: Vec<(String, String)>,
}

impl EventFields {
    /// The event as Windows renders it, read by the same code as an EVTX
    /// record's XML.
    fn to_xml(&self) -> String {
        let mut x = String::with_capacity(600 + self.data.iter().map(|(n, v)| n.len() + v.len() + 24).sum::<usize>());
        x.push_str("<Event xmlns=\"");
        x.push_str(EVENT_NS);
        x.push_str("\"><System><Provider Name=\"");
        escape_xml(&mut x, &self.provider);
        x.push_str("\"/>");
        for (name, value) in [
            ("EventID", &self.event_id),
            ("Version", &self.version),
            ("Level", &self.level),
            ("Task", &self.task),
            ("Opcode", &self.opcode),
            ("Keywords", &self.keywords),
        ] {
            element(&mut x, name, value);
        }
        if let Some(nanos) = self.time {
            // Windows' form: 100 ns digits (chrono formats 3, 6 or 9).
            let t = chrono::DateTime::from_timestamp_nanos(nanos);
            let ticks = nanos.rem_euclid(1_000_000_000) / 100;
            x.push_str(&format!("<TimeCreated SystemTime=\"{}.{ticks:07}Z\"/>", t.format("%Y-%m-%dT%H:%M:%S")));
        }
        element(&mut x, "EventRecordID", &self.record_id);
        x.push_str("<Correlation ActivityID=\"");
        escape_xml(&mut x, &self.activity_id);
        x.push_str("\"/><Execution ProcessID=\"");
        escape_xml(&mut x, &self.process_id);
        x.push_str("\" ThreadID=\"");
        escape_xml(&mut x, &self.thread_id);
        x.push_str("\"/>");
        element(&mut x, "Channel", &self.channel);
        element(&mut x, "Computer", &self.computer);
        x.push_str("<Security UserID=\"");
        escape_xml(&mut x, &self.user_id);
        x.push_str("\"/></System><EventData>");
        for (name, value) in &self.data {
            x.push_str("<Data Name=\"");
            escape_xml(&mut x, name);
            x.push_str("\">");
            escape_xml(&mut x, value);
            x.push_str("</Data>");
        }
        x.push_str("</EventData></Event>");
        x
    }
}

fn element(x: &mut String, name: &str, value: &str) {
    x.push('<');
    x.push_str(name);
    x.push('>');
    escape_xml(x, value);
    x.push_str("</");
    x.push_str(name);
    x.push('>');
}

/// Text as XML character data or an attribute value.
fn escape_xml(x: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '&' => x.push_str("&amp;"),
            '<' => x.push_str("&lt;"),
            '>' => x.push_str("&gt;"),
            '"' => x.push_str("&quot;"),
            c => x.push(c),
        }
    }
}

/// Builds `SecurityEvent` and `WindowsEvent` rows from [`EventFields`].
pub(crate) struct EventRows {
    tables: Tables,
    report: EvtxReport,
    batches: Vec<(EvtxTable, RecordBatch)>,
}

impl EventRows {
    pub(crate) fn new() -> EventRows {
        EventRows {
            tables: Tables::new(BATCH_ROWS, false, Keep::all()),
            report: EvtxReport::default(),
            batches: Vec::new(),
        }
    }

    /// Adds the event's rows; `Err` says why it has none.
    pub(crate) fn push(&mut self, fields: &EventFields) -> Result<(), String> {
        let event = event_from_xml(fields.time, fields.to_xml())?;
        let batches = &mut self.batches;
        self.tables.push(&event, &mut self.report, &mut |t, b| batches.push((t, b)));
        Ok(())
    }

    /// The two tables (both present, maybe empty), and a report with
    /// `loaded`, `conversion_failures` and notices filled in.
    pub(crate) fn finish(mut self, location: &str) -> (Vec<LoadedTable>, LoadReport) {
        let tables = self.drain();
        let mut report = self.report.load;
        report.notices.extend(unmapped_notice(location, &self.report.unmapped_fields));
        (tables, report)
    }

    /// The rows so far as the two tables (both present, maybe empty); the
    /// report goes on counting.
    pub(crate) fn drain(&mut self) -> Vec<LoadedTable> {
        let batches = &mut self.batches;
        self.tables.flush_all(&mut self.report, &mut |t, b| batches.push((t, b)));
        let mut tables: Vec<LoadedTable> = EvtxTable::ALL
            .iter()
            .map(|t| LoadedTable { name: t.name().to_string(), columns: t.columns().to_vec(), batches: Vec::new() })
            .collect();
        for (table, batch) in self.batches.drain(..) {
            tables[table as usize].batches.push(batch);
        }
        tables
    }
}

// ---------------------------------------------------------------------------
// Rows, built on the thread that reads the file.

#[derive(Clone, Copy)]
enum Cell<'a> {
    Text(&'a str),
    Time(Option<i64>),
    Dynamic(&'a [u8]),
}

struct TableBuilder {
    table: EvtxTable,
    columns: Vec<Column>,
    rows: usize,
    /// Rows each column holds; the rest of its rows up to `rows` are
    /// missing values, appended in bulk when the column is next set (or at
    /// flush), so that a row costs its cells rather than all 228 columns.
    filled: Vec<usize>,
    /// The columns that get values (by index); `None`: all. The others are
    /// left empty (empty strings, nulls) in every batch, as one shared array.
    kept: Option<Vec<bool>>,
}

/// A column being built: strings (most of them) by hand, so that a run of
/// missing values (empty strings: Kusto strings are never null) is one
/// fill of the offsets rather than an append per row.
enum Column {
    Text(TextColumn),
    Other(ColumnBuilder),
}

struct TextColumn {
    offsets: Vec<i32>,
    values: Vec<u8>,
}

impl TextColumn {
    fn new() -> TextColumn {
        TextColumn { offsets: vec![0], values: Vec::new() }
    }

    fn push(&mut self, text: &str) {
        if self.values.capacity() == 0 && !text.is_empty() {
            // A file's first batch would otherwise grow (copying) from
            // nothing: room for a batch of values like this one, up to 8 MiB.
            self.values.reserve(first_batch_room(text.len()));
        }
        self.values.extend_from_slice(text.as_bytes());
        // A batch holds at most `batch_rows` records of at most 64 KiB each.
        self.offsets.push(i32::try_from(self.values.len()).expect("a batch's text fits 2 GiB"));
    }

    fn push_empty(&mut self, n: usize) {
        let last = *self.offsets.last().expect("offsets start with 0");
        self.offsets.resize(self.offsets.len() + n, last);
    }

    fn finish(&mut self) -> datafusion::arrow::array::ArrayRef {
        use datafusion::arrow::array::StringArray;
        use datafusion::arrow::buffer::{Buffer, OffsetBuffer, ScalarBuffer};
        // The next batch likely needs as much room: reserve it now rather than regrow.
        let mut next = Vec::with_capacity(self.offsets.len());
        next.push(0);
        let offsets = std::mem::replace(&mut self.offsets, next);
        let room = self.values.len();
        let mut values = std::mem::replace(&mut self.values, Vec::with_capacity(room));
        // A batch read into memory keeps its buffer: not the room a first
        // value much longer than the rest reserved (`first_batch_room`).
        if values.len() < values.capacity() / 2 {
            values.shrink_to_fit();
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(offsets));
        // Checking the UTF-8 again cost 4% of reading EVTX (profiled).
        // SAFETY: `values` holds only whole `&str`s (`push`), and `offsets`
        // mark their ends, so every value is valid UTF-8 on char boundaries.
        Arc::new(unsafe { StringArray::new_unchecked(offsets, Buffer::from_vec(values), None) })
    }
}

impl TableBuilder {
    fn new(table: EvtxTable, kept: Option<Vec<bool>>) -> TableBuilder {
        let columns: Vec<Column> = table
            .columns()
            .iter()
            .map(|c| match small_builder(c.ty) {
                ColumnBuilder::Text(_) => Column::Text(TextColumn::new()),
                builder => Column::Other(builder),
            })
            .collect();
        TableBuilder { table, filled: vec![0; columns.len()], columns, rows: 0, kept }
    }

    /// Appends a row; returns how many cells did not convert to their type.
    fn push(&mut self, row: &Row<'_>) -> usize {
        let mut failures = 0;
        for &(i, cell) in &row.cells {
            if self.kept.as_ref().is_some_and(|k| !k[i]) {
                continue;
            }
            let missing = self.rows - self.filled[i];
            self.filled[i] = self.rows + 1;
            let ok = match &mut self.columns[i] {
                Column::Text(column) => {
                    column.push_empty(missing);
                    match cell {
                        Cell::Text(text) => {
                            column.push(text);
                            true
                        }
                        Cell::Time(t) => {
                            column.push_empty(1);
                            t.is_none()
                        }
                        Cell::Dynamic(_) => {
                            column.push_empty(1);
                            false
                        }
                    }
                }
                Column::Other(builder) => {
                    push_missing(builder, missing);
                    match (builder, cell) {
                        (ColumnBuilder::Nanos(b, _), Cell::Time(t)) => {
                            b.append_option(t);
                            t.is_some()
                        }
                        (b, Cell::Time(t)) => {
                            b.push_missing();
                            t.is_none()
                        }
                        (ColumnBuilder::Dynamic(b), Cell::Dynamic(bytes)) => {
                            if datafusion::arrow::array::ArrayBuilder::len(b) == 0 {
                                // Arrow's builder starts every batch empty and
                                // would regrow (copying) bags of ~1 KiB a row:
                                // as for text (`TextColumn::push`), room for a batch.
                                *b = datafusion::arrow::array::BinaryBuilder::with_capacity(
                                    DEFAULT_BATCH_ROWS,
                                    first_batch_room(bytes.len()),
                                );
                            }
                            b.append_value(bytes);
                            true
                        }
                        (ColumnBuilder::Int(b), Cell::Text(text)) if hex_u32(text).is_some() => {
                            // Windows writes status codes as hex; 0xC000006D is a
                            // negative 32-bit int, as Kusto stores it.
                            b.append_value(hex_u32(text).unwrap_or_default() as i32);
                            true
                        }
                        (b, Cell::Text(text)) => b.push_text(text),
                        (b, Cell::Dynamic(_)) => {
                            b.push_missing();
                            false
                        }
                    }
                }
            };
            failures += usize::from(!ok);
        }
        self.rows += 1;
        failures
    }

    fn flush(&mut self, sink: &mut impl FnMut(EvtxTable, RecordBatch)) {
        if self.rows == 0 {
            return;
        }
        let rows = self.rows;
        let mut unread = UnreadColumns::new(rows);
        let arrays = self
            .columns
            .iter_mut()
            .zip(&mut self.filled)
            .enumerate()
            .map(|(i, (column, filled))| {
                if self.kept.as_ref().is_some_and(|k| !k[i]) {
                    return unread.array(self.table.columns()[i].ty);
                }
                let missing = rows - std::mem::take(filled);
                match column {
                    Column::Text(c) => {
                        c.push_empty(missing);
                        c.finish()
                    }
                    Column::Other(b) => {
                        push_missing(b, missing);
                        b.finish()
                    }
                }
            })
            .collect();
        let batch = RecordBatch::try_new(self.table.schema(), arrays).expect("builders match the schema");
        self.rows = 0;
        sink(self.table, batch);
    }
}

/// [`EvtxOptions::batch_rows`] by default.
const DEFAULT_BATCH_ROWS: usize = BATCH_ROWS;

/// The room to reserve for a column's values in a file's first batch, its
/// first value `len` bytes long: a batch of such values, at most 8 MiB
/// (pages never written are never resident).
fn first_batch_room(len: usize) -> usize {
    len.saturating_mul(DEFAULT_BATCH_ROWS).min(8 << 20)
}

/// The arrays of columns no query reads: one per type, shared by all such
/// columns of a batch (empty strings, as Kusto strings are never null;
/// nulls otherwise).
struct UnreadColumns {
    rows: usize,
    made: Vec<(KqlType, datafusion::arrow::array::ArrayRef)>,
}

impl UnreadColumns {
    fn new(rows: usize) -> UnreadColumns {
        UnreadColumns { rows, made: Vec::new() }
    }

    fn array(&mut self, ty: KqlType) -> datafusion::arrow::array::ArrayRef {
        use datafusion::arrow::array::{new_null_array, StringArray};
        use datafusion::arrow::buffer::{Buffer, OffsetBuffer};
        if let Some((_, array)) = self.made.iter().find(|(t, _)| *t == ty) {
            return array.clone();
        }
        let array: datafusion::arrow::array::ArrayRef = match ty {
            KqlType::String => Arc::new(StringArray::new(
                OffsetBuffer::new_zeroed(self.rows),
                Buffer::from_vec(Vec::<u8>::new()),
                None,
            )),
            ty => new_null_array(&ty.arrow(), self.rows),
        };
        self.made.push((ty, array.clone()));
        array
    }
}

/// Appends `n` missing values ([`ColumnBuilder::push_missing`]), nulls in bulk.
fn push_missing(builder: &mut ColumnBuilder, n: usize) {
    match builder {
        _ if n == 0 => {}
        ColumnBuilder::Bool(b) => b.append_nulls(n),
        ColumnBuilder::Int(b) => b.append_nulls(n),
        ColumnBuilder::Long(b) => b.append_nulls(n),
        ColumnBuilder::Real(b) => b.append_nulls(n),
        ColumnBuilder::Nanos(b, _) => b.append_nulls(n),
        b => (0..n).for_each(|_| b.push_missing()),
    }
}

/// [`ColumnBuilder::new`]'s builder, but empty: arrow's builders start with
/// room for 1024 values, which a batch keeps, so every small file's
/// 228-column `SecurityEvent` batch would hold over a megabyte. Buffers grow
/// by doubling instead.
fn small_builder(ty: KqlType) -> ColumnBuilder {
    use datafusion::arrow::array::{
        BinaryBuilder, BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, StringBuilder,
    };
    match ColumnBuilder::new(ty) {
        ColumnBuilder::Bool(_) => ColumnBuilder::Bool(BooleanBuilder::with_capacity(0)),
        ColumnBuilder::Int(_) => ColumnBuilder::Int(Int32Builder::with_capacity(0)),
        ColumnBuilder::Long(_) => ColumnBuilder::Long(Int64Builder::with_capacity(0)),
        ColumnBuilder::Real(_) => ColumnBuilder::Real(Float64Builder::with_capacity(0)),
        ColumnBuilder::Text(_) => ColumnBuilder::Text(StringBuilder::with_capacity(0, 0)),
        ColumnBuilder::Nanos(_, ty) => ColumnBuilder::Nanos(Int64Builder::with_capacity(0), ty),
        ColumnBuilder::Dynamic(_) => ColumnBuilder::Dynamic(BinaryBuilder::with_capacity(0, 0)),
    }
}

/// The cells of one row that have a value, by column index; the others are
/// missing. The first value set for a column wins.
struct Row<'a> {
    cells: Vec<(usize, Cell<'a>)>,
    taken: [u64; 8],
}

impl<'a> Row<'a> {
    fn with_capacity(n: usize) -> Row<'a> {
        Row { cells: Vec::with_capacity(n), taken: [0; 8] }
    }

    /// Sets column `i` unless it has a value already; returns whether it did.
    fn set(&mut self, i: usize, cell: Cell<'a>) -> bool {
        let (word, bit) = (i / 64, 1u64 << (i % 64));
        if self.taken[word] & bit != 0 {
            return false;
        }
        self.taken[word] |= bit;
        self.cells.push((i, cell));
        true
    }
}

fn hex_u32(text: &str) -> Option<u32> {
    let t = text.trim();
    let hex = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X"))?;
    u32::from_str_radix(hex, 16).ok()
}

/// The `EventData` fields `SecurityEvent`'s computed columns read (the
/// first of each name, as Windows shows them).
#[derive(Default)]
struct NamedFields<'e> {
    logon_type: Option<&'e str>,
    target_domain: Option<&'e str>,
    target_user: Option<&'e str>,
    target_user_sid: Option<&'e str>,
    target_sid: Option<&'e str>,
    subject_domain: Option<&'e str>,
    subject_user: Option<&'e str>,
    subject_user_sid: Option<&'e str>,
    new_process_name: Option<&'e str>,
    process_name: Option<&'e str>,
}

/// SecurityEvent's columns computed from `EventData` fields ([`NamedFields`]).
const COMPUTED_COLUMNS: [&str; 6] =
    ["Account", "AccountType", "LogonTypeName", "Process", "SubjectAccount", "TargetAccount"];

/// The fields [`NamedFields::of`] reads.
const COMPUTED_FROM: [&str; 10] = [
    "LogonType",
    "TargetDomainName",
    "TargetUserName",
    "TargetUserSid",
    "TargetSid",
    "SubjectDomainName",
    "SubjectUserName",
    "SubjectUserSid",
    "NewProcessName",
    "ProcessName",
];

impl<'e> NamedFields<'e> {
    /// One pass over the fields (rather than a search per name).
    fn of(event: &'e Event) -> NamedFields<'e> {
        let mut f = NamedFields::default();
        for (name, value) in event.fields() {
            let slot = match name {
                "LogonType" => &mut f.logon_type,
                "TargetDomainName" => &mut f.target_domain,
                "TargetUserName" => &mut f.target_user,
                "TargetUserSid" => &mut f.target_user_sid,
                "TargetSid" => &mut f.target_sid,
                "SubjectDomainName" => &mut f.subject_domain,
                "SubjectUserName" => &mut f.subject_user,
                "SubjectUserSid" => &mut f.subject_user_sid,
                "NewProcessName" => &mut f.new_process_name,
                "ProcessName" => &mut f.process_name,
                _ => continue,
            };
            slot.get_or_insert(value);
        }
        f
    }
}

/// [`security_column`] of a field that has no column of its own.
const NO_COLUMN: u16 = u16::MAX;

/// The `SecurityEvent` column an `EventData` field named `name` goes to
/// (same-named, unless reserved), or [`NO_COLUMN`].
pub(crate) fn security_column(name: &str) -> u16 {
    match EvtxTable::SecurityEvent.layout().index.get(name) {
        Some(&i) if !security_reserved()[i] => i as u16,
        _ => NO_COLUMN,
    }
}

/// Whether each `SecurityEvent` column is one a row sets whatever the
/// event (a [`CommonColumn`]: from `System`, or computed); an `EventData`
/// field of such a name stays in `EventData` only.
fn security_reserved() -> &'static [bool] {
    static RESERVED: OnceLock<Vec<bool>> = OnceLock::new();
    RESERVED.get_or_init(|| {
        let layout = EvtxTable::SecurityEvent.layout();
        let mut reserved = vec![false; layout.columns.len()];
        for &i in layout.fixed.iter().flatten() {
            reserved[i] = true;
        }
        reserved
    })
}

struct Tables {
    /// `Activity` by EventID, made once.
    activities: HashMap<i32, String, BuildHasherDefault<Fnv>>,
    /// `LogonTypeName` by logon type, made once.
    logon_type_names: HashMap<i64, String, BuildHasherDefault<Fnv>>,
    /// `TargetAccount` and `SubjectAccount` of the row being pushed, in
    /// buffers kept from row to row.
    accounts: [String; 2],
    security: TableBuilder,
    windows: TableBuilder,
    batch_rows: usize,
    raw_event_data: bool,
    keep: Keep,
    /// Whether SecurityEvent's computed columns (`Account`, …) are kept.
    security_computed: bool,
    /// Whether records were left out of each table ([`Keep`]); reported by
    /// [`Tables::flush_all`].
    left_out: [bool; 2],
}

/// Sets the columns that SecurityEvent and WindowsEvent both name alike,
/// from the event's `System` element, through the table's `set`.
fn set_system_columns<'e>(event: &'e Event, level_name: &'e str, mut set: impl FnMut(CommonColumn, Cell<'e>)) {
    set(CommonColumn::TimeGenerated, Cell::Time(event.time));
    set(CommonColumn::Computer, Cell::Text(event.get(&event.computer)));
    set(CommonColumn::Channel, Cell::Text(event.get(&event.channel)));
    set(CommonColumn::EventID, Cell::Text(event.get(&event.event_id)));
    set(CommonColumn::EventLevelName, Cell::Text(level_name));
    set(CommonColumn::Task, Cell::Text(event.get(&event.task)));
    set(CommonColumn::Opcode, Cell::Text(event.get(&event.opcode)));
    set(CommonColumn::Keywords, Cell::Text(event.get(&event.keywords)));
    set(CommonColumn::Version, Cell::Text(event.get(&event.version)));
    set(CommonColumn::EventRecordId, Cell::Text(event.get(&event.event_record_id)));
    set(CommonColumn::SystemProcessId, Cell::Text(event.get(&event.process_id)));
    set(CommonColumn::SystemThreadId, Cell::Text(event.get(&event.thread_id)));
    set(CommonColumn::SystemUserId, Cell::Text(event.get(&event.user_id)));
    set(CommonColumn::Correlation, Cell::Text(event.get(&event.activity_id)));
}

impl Tables {
    fn new(batch_rows: usize, raw_event_data: bool, keep: Keep) -> Tables {
        let columns = |t: &Option<KeepTable>| t.as_ref().and_then(|t| t.columns.clone());
        Tables {
            activities: HashMap::default(),
            logon_type_names: HashMap::default(),
            accounts: Default::default(),
            security: TableBuilder::new(EvtxTable::SecurityEvent, columns(&keep.security)),
            windows: TableBuilder::new(EvtxTable::WindowsEvent, columns(&keep.windows)),
            batch_rows,
            raw_event_data,
            security_computed: keep.security_reads_computed(),
            keep,
            left_out: [false; 2],
        }
    }

    /// A record that no table keeps: counted, its time noted.
    fn left_unread(&mut self, time: Option<i64>, is_security: bool, report: &mut EvtxReport) {
        if let Some(t) = time {
            report.load.latest_time = Some(report.load.latest_time.map_or(t, |l| l.max(t)));
        }
        self.left_out[EvtxTable::SecurityEvent as usize] |= is_security;
        self.left_out[EvtxTable::WindowsEvent as usize] = true;
        report.load.unread += 1;
    }

    fn push(&mut self, event: &Event, report: &mut EvtxReport, sink: &mut impl FnMut(EvtxTable, RecordBatch)) {
        let is_security = event.is_security();
        let (security, windows) = self.keep.tables(is_security, event.get(&event.event_id));
        if !security && !windows {
            return self.left_unread(event.time, is_security, report);
        }
        if let Some(t) = event.time {
            report.load.latest_time = Some(report.load.latest_time.map_or(t, |l| l.max(t)));
        }
        self.left_out[EvtxTable::SecurityEvent as usize] |= is_security && !security;
        self.left_out[EvtxTable::WindowsEvent as usize] |= !windows;
        let level_name = level_name(event.get(&event.level));
        if security {
            self.push_security(event, &level_name, report);
            if self.security.rows >= self.batch_rows {
                self.security.flush(sink);
            }
        }
        if windows {
            self.push_windows(event, &level_name, report);
            if self.windows.rows >= self.batch_rows {
                self.windows.flush(sink);
            }
        }
        report.load.loaded += 1;
    }

    fn push_security(&mut self, event: &Event, level_name: &str, report: &mut EvtxReport) {
        let event_id = event.get(&event.event_id).trim().parse::<i32>().ok();
        let activity = match event_id {
            Some(id) => self.activities.entry(id).or_insert_with(|| security::activity(id)).as_str(),
            None => "",
        };
        // Read only when a computed column is (see `Keep`); the rest of a
        // pruned row stays empty anyway.
        let named = if self.security_computed { NamedFields::of(event) } else { NamedFields::default() };
        let logon_type_name = match named.logon_type.and_then(|t| t.trim().parse::<i64>().ok()) {
            Some(t) => self.logon_type_names.entry(t).or_insert_with(|| security::logon_type_name(t)).as_str(),
            None => "",
        };
        let [target, subject] = &mut self.accounts;
        security::write_qualified_account(target, named.target_domain, named.target_user);
        security::write_qualified_account(subject, named.subject_domain, named.subject_user);
        // `Account` is the target account when the event names one, else the subject.
        let target_user = named.target_user.filter(|u| !u.is_empty() && *u != "-");
        let (account, account_type) = if let Some(user) = target_user {
            let sid = named.target_user_sid.or(named.target_sid);
            (target.as_str(), security::account_type(user, sid))
        } else if !subject.is_empty() {
            let user = named.subject_user.unwrap_or("");
            (subject.as_str(), security::account_type(user, named.subject_user_sid))
        } else {
            ("", "")
        };
        let process = named
            .new_process_name
            .filter(|p| !p.is_empty())
            .or(named.process_name)
            .map(security::file_name)
            .unwrap_or("");

        let layout = EvtxTable::SecurityEvent.layout();
        let mut row = Row::with_capacity(event.fields.len() + 25);
        let resolved = event.security_columns.len() == event.fields.len();
        debug_assert!(resolved || event.security_columns.is_empty(), "one column per field, or none");
        for (k, (name, value)) in event.fields().enumerate() {
            let column = if resolved { event.security_columns[k] } else { security_column(name) };
            let set = column != NO_COLUMN && row.set(usize::from(column), Cell::Text(value));
            if !set {
                match report.unmapped_fields.get_mut(name) {
                    Some(n) => *n += 1,
                    None => {
                        report.unmapped_fields.insert(name.to_string(), 1);
                    }
                }
            }
        }
        let mut set = |column: CommonColumn, cell| {
            if let Some(i) = layout.fixed[column as usize] {
                row.set(i, cell);
            }
        };
        set_system_columns(event, level_name, &mut set);
        set(CommonColumn::EventSourceName, Cell::Text(event.get(&event.provider)));
        set(CommonColumn::Level, Cell::Text(event.get(&event.level)));
        set(CommonColumn::EventData, Cell::Text(&event.event_data_xml));
        set(CommonColumn::Type, Cell::Text("SecurityEvent"));
        set(CommonColumn::Activity, Cell::Text(activity));
        set(CommonColumn::Account, Cell::Text(account));
        set(CommonColumn::AccountType, Cell::Text(account_type));
        set(CommonColumn::TargetAccount, Cell::Text(target));
        set(CommonColumn::SubjectAccount, Cell::Text(subject));
        set(CommonColumn::LogonTypeName, Cell::Text(logon_type_name));
        set(CommonColumn::Process, Cell::Text(process));
        report.load.conversion_failures += self.security.push(&row);
        report.security_events += 1;
    }

    fn push_windows(&mut self, event: &Event, level_name: &str, report: &mut EvtxReport) {
        let layout = EvtxTable::WindowsEvent.layout();
        let mut row = Row::with_capacity(20);
        let mut set = |column: CommonColumn, cell| {
            if let Some(i) = layout.fixed[column as usize] {
                row.set(i, cell);
            }
        };
        set_system_columns(event, level_name, &mut set);
        set(CommonColumn::EventLevel, Cell::Text(event.get(&event.level)));
        set(CommonColumn::Provider, Cell::Text(event.get(&event.provider)));
        set(CommonColumn::EventData, Cell::Dynamic(&event.bag));
        if self.raw_event_data {
            set(CommonColumn::RawEventData, Cell::Text(&event.xml));
        }
        set(CommonColumn::Type, Cell::Text("WindowsEvent"));
        report.load.conversion_failures += self.windows.push(&row);
        report.windows_events += 1;
    }

    /// Hands out the last batches; notes in `report` the tables records were left out of.
    fn flush_all(&mut self, report: &mut EvtxReport, sink: &mut impl FnMut(EvtxTable, RecordBatch)) {
        self.security.flush(sink);
        self.windows.flush(sink);
        for table in EvtxTable::ALL.into_iter().filter(|t| self.left_out[*t as usize]) {
            report.load.unread_tables.insert(table.name().to_string());
        }
    }
}

/// `EventLevelName` from the `Level` number, as Event Viewer names levels
/// (0, "LogAlways", shows as Information).
fn level_name(level: &str) -> Cow<'static, str> {
    Cow::Borrowed(match level.trim() {
        "" => "",
        "0" | "4" => "Information",
        "1" => "Critical",
        "2" => "Error",
        "3" => "Warning",
        "5" => "Verbose",
        other => return Cow::Owned(other.to_string()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The word-at-a-time check finds every character XML escapes, at every
    /// offset in and after the eight-byte words.
    #[test]
    fn xml_escaping_finds_specials_anywhere() {
        let naive = |text: &str, in_attribute: bool| {
            let mut out = String::new();
            for c in text.chars() {
                match c {
                    '&' => out.push_str("&amp;"),
                    '<' => out.push_str("&lt;"),
                    '>' => out.push_str("&gt;"),
                    '"' if in_attribute => out.push_str("&quot;"),
                    '\'' if in_attribute => out.push_str("&apos;"),
                    c => out.push(c),
                }
            }
            out
        };
        for len in 0..20 {
            for at in 0..len {
                for special in ['&', '<', '>', '"', '\'', 'é', '%'] {
                    let mut text: String = "abcdefghijklmnopqrstu"[..len].to_string();
                    text.replace_range(at..at + 1, &special.to_string());
                    for in_attribute in [false, true] {
                        let mut out = "kept ".to_string();
                        escape_xml_into(&mut out, &text, in_attribute);
                        assert_eq!(out, format!("kept {}", naive(&text, in_attribute)), "{text:?}");
                    }
                }
            }
        }
    }
    use datafusion::arrow::array::{Array, BinaryArray, Int32Array, Int64Array, StringArray};
    use kqlite_engine::dynamic::DynRef;

    const LOGON: &str = concat!(
        "<?xml version=\"1.0\" encoding=\"utf-8\"?>\n",
        "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>",
        "<Provider Name=\"Microsoft-Windows-Security-Auditing\" Guid=\"{54849625-5478-4994-a5ba-3e3b0328c30d}\"/>",
        "<EventID>4624</EventID><Version>2</Version><Level>0</Level><Task>12544</Task><Opcode>0</Opcode>",
        "<Keywords>0x8020000000000000</Keywords><TimeCreated SystemTime=\"2019-03-19T23:34:25.1234567Z\"/>",
        "<EventRecordID>1234</EventRecordID><Correlation ActivityID=\"{a}\"/>",
        "<Execution ProcessID=\"636\" ThreadID=\"4472\"/><Channel>Security</Channel>",
        "<Computer>dc1.corp.local</Computer><Security/></System><EventData>",
        "<Data Name=\"SubjectUserSid\">S-1-5-18</Data><Data Name=\"SubjectUserName\">DC1$</Data>",
        "<Data Name=\"SubjectDomainName\">CORP</Data><Data Name=\"TargetUserSid\">S-1-5-21-1-2-3-500</Data>",
        "<Data Name=\"TargetUserName\">admin</Data><Data Name=\"TargetDomainName\">CORP</Data>",
        "<Data Name=\"LogonType\">10</Data><Data Name=\"LogonProcessName\">User32 </Data>",
        "<Data Name=\"ElevatedToken\">%%1842</Data><Data Name=\"IpAddress\">-</Data>",
        "<Data Name=\"ProcessName\">C:\\Windows\\System32\\svchost.exe</Data>",
        "<Data Name=\"NotAColumn\">a &amp; b</Data></EventData></Event>"
    );

    fn load(xmls: &[&str]) -> (Vec<(EvtxTable, RecordBatch)>, EvtxReport) {
        let mut tables = Tables::new(BATCH_ROWS, true, Keep::all());
        let mut report = EvtxReport::default();
        let mut batches = Vec::new();
        let mut sink = |t, b| batches.push((t, b));
        for xml in xmls {
            let event = event_from_xml(None, xml.to_string()).unwrap();
            tables.push(&event, &mut report, &mut sink);
        }
        tables.flush_all(&mut report, &mut sink);
        (batches, report)
    }

    fn text<'a>(batch: &'a RecordBatch, column: &str) -> &'a str {
        batch.column_by_name(column).unwrap().as_any().downcast_ref::<StringArray>().unwrap().value(0)
    }

    #[test]
    fn security_record_keeps_values_verbatim_and_computes_columns() {
        let (batches, report) = load(&[LOGON]);
        assert_eq!(batches.len(), 2);
        let (table, security) = &batches[0];
        assert_eq!(*table, EvtxTable::SecurityEvent);
        assert_eq!(security.num_columns(), 228);
        assert_eq!(text(security, "ElevatedToken"), "%%1842");
        assert_eq!(text(security, "LogonProcessName"), "User32 ");
        assert_eq!(text(security, "IpAddress"), "-");
        assert_eq!(text(security, "Activity"), "4624 - An account was successfully logged on.");
        assert_eq!(text(security, "LogonTypeName"), "10 - RemoteInteractive");
        assert_eq!(text(security, "Account"), "CORP\\admin");
        assert_eq!(text(security, "TargetAccount"), "CORP\\admin");
        assert_eq!(text(security, "SubjectAccount"), "CORP\\DC1$");
        assert_eq!(text(security, "AccountType"), "User");
        assert_eq!(text(security, "Process"), "svchost.exe");
        assert_eq!(text(security, "EventSourceName"), "Microsoft-Windows-Security-Auditing");
        assert_eq!(text(security, "Keywords"), "0x8020000000000000");
        assert_eq!(text(security, "Type"), "SecurityEvent");
        let event_data = text(security, "EventData");
        assert!(event_data.starts_with(
            "<EventData xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><Data Name=\"SubjectUserSid\">"
        ));
        assert!(event_data.ends_with("<Data Name=\"NotAColumn\">a &amp; b</Data></EventData>"));
        let int = |c: &str| security.column_by_name(c).unwrap().as_any().downcast_ref::<Int32Array>().unwrap().value(0);
        assert_eq!((int("EventID"), int("LogonType"), int("Task"), int("Version")), (4624, 10, 12544, 2));
        let time = security.column_by_name("TimeGenerated").unwrap().as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(time.value(0), 1_553_038_465_123_456_700);
        assert_eq!(report.unmapped_fields.get("NotAColumn"), Some(&1));
        assert_eq!((report.load.loaded, report.security_events, report.windows_events), (1, 1, 1));
        assert_eq!(report.load.conversion_failures, 0);

        let (table, windows) = &batches[1];
        assert_eq!(*table, EvtxTable::WindowsEvent);
        assert_eq!(text(windows, "Provider"), "Microsoft-Windows-Security-Auditing");
        assert_eq!(text(windows, "EventLevelName"), "Information");
        assert!(text(windows, "RawEventData").starts_with("<?xml"));
        let bag = windows.column_by_name("EventData").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
        let bag = DynRef::new(bag.value(0));
        assert_eq!(bag.get("LogonProcessName").and_then(|v| v.as_str()), Some("User32 "));
        assert_eq!(bag.get("NotAColumn").and_then(|v| v.as_str()), Some("a & b"));
    }

    #[test]
    fn user_data_becomes_the_bag_and_fills_security_columns() {
        let xml = concat!(
            "<Event xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\"><System>",
            "<Provider Name=\"Microsoft-Windows-Eventlog\"/><EventID>1102</EventID><Level>4</Level>",
            "<TimeCreated SystemTime=\"2019-03-19T23:34:25Z\"/><Channel>Security</Channel><Computer>pc</Computer>",
            "</System><UserData><LogFileCleared xmlns=\"http://manifests.microsoft.com/win/2004/08/windows/eventlog\">",
            "<SubjectUserSid>S-1-5-21-1</SubjectUserSid><SubjectUserName>bob</SubjectUserName>",
            "<SubjectDomainName>CORP</SubjectDomainName></LogFileCleared></UserData></Event>"
        );
        let (batches, _) = load(&[xml]);
        let security = &batches[0].1;
        assert_eq!(text(security, "SubjectUserName"), "bob");
        assert_eq!(text(security, "Account"), "CORP\\bob");
        assert_eq!(text(security, "Activity"), "1102 - The audit log was cleared.");
        assert!(text(security, "EventData").starts_with("<UserData xmlns=\"http://schemas.microsoft.com/"));
        let windows = &batches[1].1;
        let bag = windows.column_by_name("EventData").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
        assert_eq!(
            DynRef::new(bag.value(0)).to_json(),
            r#"{"SubjectUserSid":"S-1-5-21-1","SubjectUserName":"bob","SubjectDomainName":"CORP"}"#
        );
    }

    #[test]
    fn other_channels_go_to_windows_event_only() {
        let xml = concat!(
            "<Event><System><Provider Name=\"Service Control Manager\" EventSourceName=\"Service Control Manager\"/>",
            "<EventID Qualifiers=\"16384\">7045</EventID><Level>4</Level><Channel>System</Channel></System>",
            "<EventData><Data Name=\"ServiceName\">x</Data><Data>u1</Data><Data>u2</Data><Binary>00FF</Binary>",
            "</EventData></Event>"
        );
        let (batches, report) = load(&[xml]);
        assert_eq!(batches.len(), 1);
        let windows = &batches[0].1;
        assert_eq!(
            windows.column_by_name("EventID").unwrap().as_any().downcast_ref::<Int32Array>().unwrap().value(0),
            7045
        );
        let bag = windows.column_by_name("EventData").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
        assert_eq!(DynRef::new(bag.value(0)).to_json(), r#"{"ServiceName":"x","Binary":"00FF","Data":["u1","u2"]}"#);
        let time = windows.column_by_name("TimeGenerated").unwrap();
        assert!(time.is_null(0));
        assert_eq!(report.security_events, 0);
    }

    #[test]
    fn sparse_rows_keep_their_columns_aligned() {
        let mut b = TableBuilder::new(EvtxTable::SecurityEvent, None);
        let index = &EvtxTable::SecurityEvent.layout().index;
        let (user, logon) = (index["TargetUserName"], index["LogonType"]);
        for (name, logon_type) in [(Some("a"), None), (None, Some("3")), (Some("c"), Some("x")), (None, None)] {
            let mut row = Row::with_capacity(2);
            name.map(|n| row.set(user, Cell::Text(n)));
            logon_type.map(|t| row.set(logon, Cell::Text(t)));
            b.push(&row);
        }
        let mut batches = Vec::new();
        b.flush(&mut |_, batch| batches.push(batch));
        let batch = &batches[0];
        assert_eq!(batch.num_rows(), 4);
        let users = batch.column(user).as_any().downcast_ref::<StringArray>().unwrap();
        assert_eq!(users.iter().map(|u| u.unwrap()).collect::<Vec<_>>(), ["a", "", "c", ""]);
        let logons = batch.column(logon).as_any().downcast_ref::<Int32Array>().unwrap();
        assert_eq!(logons.iter().collect::<Vec<_>>(), [None, Some(3), None, None]);
        // The builders start over after a flush.
        let mut row = Row::with_capacity(1);
        row.set(logon, Cell::Text("10"));
        b.push(&row);
        b.flush(&mut |_, batch| batches.push(batch));
        assert_eq!(batches[1].num_rows(), 1);
        assert_eq!(batches[1].column(logon).as_any().downcast_ref::<Int32Array>().unwrap().value(0), 10);
    }

    #[test]
    fn hex_status_codes_fit_int_columns() {
        let mut b = TableBuilder::new(EvtxTable::SecurityEvent, None);
        let mut row = Row::with_capacity(1);
        let i = EvtxTable::SecurityEvent.layout().index["ErrorCode"];
        assert!(row.set(i, Cell::Text("0xC000006D")));
        assert!(!row.set(i, Cell::Text("1")));
        assert_eq!(b.push(&row), 0);
        let mut batches = Vec::new();
        b.flush(&mut |_, batch| batches.push(batch));
        let array = batches[0].column(i);
        assert_eq!(array.as_any().downcast_ref::<Int32Array>().unwrap().value(0), 0xC000006Du32 as i32);
        // Columns never set in the batch are empty strings (Kusto strings are never null).
        let name = EvtxTable::SecurityEvent.layout().index["CommandLine"];
        let strings = batches[0].column(name).as_any().downcast_ref::<datafusion::arrow::array::StringArray>().unwrap();
        assert_eq!((strings.len(), strings.null_count(), strings.value(0)), (1, 0, ""));
    }

    #[test]
    fn computed_columns_read_the_fields_listed_for_them() {
        // A field NamedFields reads but COMPUTED_FROM leaves out would be
        // skipped when only computed columns are read.
        for (i, name) in COMPUTED_FROM.iter().enumerate() {
            let xml = format!("<EventData><Data Name=\"{name}\">x</Data></EventData>");
            let event = event_from_xml(
                None,
                LOGON.replace(&LOGON[LOGON.find("<EventData>").unwrap()..LOGON.find("</Event>").unwrap()], &xml),
            )
            .unwrap();
            let f = NamedFields::of(&event);
            let set = [
                f.logon_type,
                f.target_domain,
                f.target_user,
                f.target_user_sid,
                f.target_sid,
                f.subject_domain,
                f.subject_user,
                f.subject_user_sid,
                f.new_process_name,
                f.process_name,
            ];
            assert_eq!(set.iter().filter(|v| v.is_some()).count(), 1, "{name}");
            assert!(set[i].is_some(), "{name}");
        }
    }

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
