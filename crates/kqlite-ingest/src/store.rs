//! The Parquet store: `DIR/<Table>/day=YYYY-MM-DD/part-<hash>-<n>.parquet`
//! plus a manifest, `DIR/kqlite-store.json`, of the tables' KQL columns and
//! of the files ingested (by the BLAKE3 of their content; SHA-256 in stores
//! written before layout 3, still recognised).
//!
//! Ingesting is incremental: a file whose content is already in the
//! manifest is skipped. Each worker writes the files it reads into one
//! group of parts (one per table and day) under hidden temporary names;
//! every 256 MiB of input (every file with `--strict`) the group's parts
//! are renamed and its files added to the manifest, so an interrupted run
//! leaves no half file behind and re-reads the files of unfinished groups
//! next time. Batches stream from the readers to the Parquet writers;
//! memory holds at most a row group (65,536 rows in 4,096-row pages, or
//! 16 MiB encoded) for each of at most 8 open (table, day) parts per worker.
//! Rows are partitioned by the day of `TimeGenerated` (else `Timestamp`,
//! else the first datetime column); rows without one go to `day=unknown`.
//! A table's column types are fixed when it is first written; later data is
//! converted to them and new columns are appended. One writer at a time.
//! A part holds only the columns that have a value in some of its rows
//! (SecurityEvent's 228 columns are mostly empty); readers take the
//! manifest's columns as the table and read left-out ones as missing.

use crate::conform::{conform, schema_of};
use crate::dispatch::Sink;
use crate::error::{IngestError, PartError, StoreError, StrictFailure};
use crate::evtx::EvtxOptions;
use crate::inputs::{
    evtx_options, gather, read_file, strict_failure, thread_count, unrecognized_notice, FileRead, FileSummary, Identity,
};
use crate::options::IngestOptions;
use crate::progress::Progress;
use datafusion::arrow::array::{Array, Int64Array, StringArray, UInt32Array};
use datafusion::arrow::compute::take_record_batch;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::parquet::arrow::ArrowWriter;
use datafusion::parquet::basic::Compression;
use datafusion::parquet::file::properties::{EnabledStatistics, WriterProperties};
use datafusion::parquet::schema::types::ColumnPath;
use kqlite_engine::{ColumnDef, KqlType, Session};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

pub const MANIFEST: &str = "kqlite-store.json";
/// The store layout this code writes: 2 since parts may leave out columns
/// without values (1 had every column in every part), 3 since files are
/// known by BLAKE3 (before, by SHA-256). It reads 1 and 2 too, and files
/// they list stay stored.
const STORE_VERSION: u64 = 3;
const ROW_GROUP_ROWS: usize = 65_536;
const PAGE_ROWS: usize = 4096;
/// A row group is written out once its encoded size passes this.
const ROW_GROUP_BYTES: usize = 16 << 20;
/// Parts a group keeps open at once; files spanning more days close the
/// least recently written. Copies of a host's log revisit the same days,
/// and 8 open parts closed one every few batches (thousands of tiny parts).
const OPEN_PARTS: usize = 64;
/// What the open parts of a group may buffer together (encoded row groups
/// in progress): past it the largest writes its row group out.
const OPEN_BYTES: usize = 64 << 20;
/// A worker commits its group of files once it has read this much input.
const GROUP_BYTES: u64 = 256 << 20;
const NANOS_PER_DAY: i64 = 86_400_000_000_000;

/// What a store run did.
pub struct StoreRun {
    /// Inputs read in this run.
    pub files: Vec<FileSummary>,
    /// Files skipped because their content is already in the store.
    pub already_stored: Vec<PathBuf>,
    /// Files read but not added to the store: `--strict` and something in
    /// them was rejected, or their parts could not be written.
    pub not_stored: Vec<PathBuf>,
    pub rejected: Vec<(String, String)>,
    pub notices: Vec<String>,
    /// Rows written in this run, per table.
    pub rows_written: BTreeMap<String, usize>,
    /// Records not kept because no query reads them: only for a staging
    /// store read with [`IngestOptions::needs`] (`kqlite ingest` keeps all).
    pub unread: usize,
    pub unread_tables: std::collections::BTreeSet<String>,
    /// The latest EVTX event time read (ns).
    pub latest_time: Option<i64>,
}

impl StoreRun {
    pub fn has_failures(&self) -> bool {
        !self.rejected.is_empty() || !self.not_stored.is_empty() || self.files.iter().any(|f| f.error.is_some())
    }

    /// The strict-mode failure, when there is one.
    pub fn strict_failure(&self) -> Option<StrictFailure> {
        self.has_failures().then(|| strict_failure(&self.files, &self.rejected))
    }
}

/// The manifest file, `kqlite-store.json`, as it is on disk:
/// `{"version": 2, "tables": {"T": [["Column", "type"], …]}, "files": […]}`.
/// (The version is read first, see [`ManifestVersion`].)
#[derive(Deserialize)]
struct ManifestFile {
    tables: BTreeMap<String, Vec<StoredColumn>>,
    files: Vec<StoredFile>,
}

fn first_layout() -> u64 {
    1
}

/// Only the version, read first: a newer layout is refused by its version
/// before anything else in it is read.
#[derive(Deserialize)]
struct ManifestVersion {
    /// The store layout (absent in the first stores, which read as 1).
    #[serde(default = "first_layout")]
    version: u64,
}

/// A column as `[name, KQL type name]`.
#[derive(Clone, Serialize, Deserialize)]
#[serde(try_from = "(String, String)", into = "(String, String)")]
struct StoredColumn(ColumnDef);

/// A column type that is no KQL type name.
#[derive(Debug, thiserror::Error)]
#[error("unknown type {0}")]
struct UnknownType(String);

impl TryFrom<(String, String)> for StoredColumn {
    type Error = UnknownType;

    fn try_from((name, ty): (String, String)) -> Result<StoredColumn, UnknownType> {
        match KqlType::from_name(&ty) {
            Some(ty) => Ok(StoredColumn(ColumnDef::new(name, ty))),
            None => Err(UnknownType(ty)),
        }
    }
}

impl From<StoredColumn> for (String, String) {
    fn from(StoredColumn(column): StoredColumn) -> (String, String) {
        let ty = column.ty.name().to_string();
        (column.name, ty)
    }
}

/// One file ingested: its content's hash (how a later run knows it is
/// already stored), what it held and the parts it was written to.
#[derive(Clone, Serialize, Deserialize)]
struct StoredFile {
    /// Layouts 1 and 2.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    sha256: Option<String>,
    /// Layout 3.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    blake3: Option<String>,
    path: String,
    formats: Vec<String>,
    records: usize,
    loaded: usize,
    rejected: usize,
    /// Relative to the store, `/`-separated.
    parts: Vec<String>,
    /// Keys this version does not know, kept when the manifest is written
    /// back.
    #[serde(flatten)]
    other: serde_json::Map<String, serde_json::Value>,
}

/// The manifest's content.
#[derive(Default)]
struct Manifest {
    tables: BTreeMap<String, Vec<ColumnDef>>,
    files: Vec<StoredFile>,
    /// The BLAKE3 of the files stored.
    hashes: HashSet<String>,
    /// The SHA-256 of files an earlier layout stored.
    sha256: HashSet<String>,
}

impl Manifest {
    fn load(dir: &Path) -> Result<Manifest, StoreError> {
        let path = dir.join(MANIFEST);
        let text = match std::fs::read_to_string(&path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Manifest::default()),
            Err(source) => return Err(StoreError::ManifestUnreadable { path, source }),
        };
        let invalid = |source| StoreError::ManifestInvalid { path: path.clone(), source };
        let version = serde_json::from_str::<ManifestVersion>(&text).map_err(invalid)?.version;
        if version > STORE_VERSION {
            return Err(StoreError::NewerLayout { path, version, supported: STORE_VERSION });
        }
        let file: ManifestFile = serde_json::from_str(&text).map_err(invalid)?;
        let tables = file
            .tables
            .into_iter()
            .map(|(name, columns)| (name, columns.into_iter().map(|StoredColumn(c)| c).collect()))
            .collect();
        let hashes = file.files.iter().filter_map(|f| f.blake3.clone()).collect();
        let sha256 = file.files.iter().filter_map(|f| f.sha256.clone()).collect();
        Ok(Manifest { tables, files: file.files, hashes, sha256 })
    }

    /// Writes the manifest (to a temporary file, then renamed over).
    fn save(&self, dir: &Path) -> Result<(), StoreError> {
        let file = ManifestFileRef {
            version: STORE_VERSION,
            tables: self
                .tables
                .iter()
                .map(|(name, columns)| (name, columns.iter().cloned().map(StoredColumn).collect()))
                .collect(),
            files: &self.files,
        };
        let text = serde_json::to_string_pretty(&file).expect("the manifest serialises");
        let temporary = dir.join(format!(".{MANIFEST}.tmp"));
        std::fs::write(&temporary, text)
            .and_then(|_| std::fs::rename(&temporary, dir.join(MANIFEST)))
            .map_err(|source| StoreError::ManifestWrite { dir: dir.to_path_buf(), source })
    }
}

/// [`ManifestFile`] borrowed from a [`Manifest`], for writing.
#[derive(Serialize)]
struct ManifestFileRef<'m> {
    version: u64,
    tables: BTreeMap<&'m String, Vec<StoredColumn>>,
    files: &'m [StoredFile],
}

/// Reads `paths` into the store in `dir` (created if needed), skipping files
/// already there. Fails only when a path does not exist or the store cannot
/// be opened; everything else is in the returned run.
pub fn ingest_to_store(paths: &[PathBuf], dir: &Path, options: &IngestOptions) -> Result<StoreRun, IngestError> {
    let (inputs, hashes) = gather(paths, options.threads, Identity::EveryFile)?;
    std::fs::create_dir_all(dir).map_err(|source| StoreError::Create { dir: dir.to_path_buf(), source })?;
    remove_stale_temporaries(dir);
    let state = Mutex::new(Manifest::load(dir)?);
    let threads = thread_count(options.threads, inputs.files.len());
    let evtx = EvtxOptions {
        needs: options.needs.clone(),
        security_in_windows_event: options.security_in_windows_event,
        ..evtx_options(threads, inputs.files.len())
    };
    let progress = Progress::start(inputs.files.len(), options.progress);
    let reading =
        Reading { strict: options.strict, spool_bytes: options.spool_limit(), evtx: &evtx, progress: &progress };
    let run_id = run_id();
    let next = AtomicUsize::new(0);
    let outcomes: Mutex<Vec<Option<FileOutcome>>> = Mutex::new((0..inputs.files.len()).map(|_| None).collect());
    // Each worker takes the next file and writes it into its own group of
    // parts, committed every GROUP_BYTES of input (after every file with
    // --strict, so that a failing file is left out alone).
    std::thread::scope(|scope| {
        for worker in 0..threads {
            let (inputs, hashes, state, reading, next, outcomes) =
                (&inputs, &hashes, &state, &reading, &next, &outcomes);
            let prefix = format!("{run_id}-{worker}");
            scope.spawn(move || {
                let mut group = Group::new(dir, prefix);
                let done = |finished: Vec<(usize, FileOutcome)>| {
                    let mut outcomes = outcomes.lock().unwrap_or_else(|e| e.into_inner());
                    for (i, outcome) in finished {
                        outcomes[i] = Some(outcome);
                    }
                };
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    let Some((path, explicit)) = inputs.files.get(i) else { break };
                    let size = std::fs::metadata(path).map_or(0, |m| m.len());
                    let finished = group.store_file(i, path, size, hashes[i].as_deref(), *explicit, state, reading);
                    reading.progress.counters.files_done.fetch_add(1, Ordering::Relaxed);
                    done(finished);
                    if reading.strict || group.bytes >= GROUP_BYTES {
                        done(group.commit(state));
                    }
                }
                done(group.commit(state));
            });
        }
    });
    progress.finish();
    let results = outcomes.into_inner().unwrap_or_else(|e| e.into_inner());
    let mut total = FileRead { notices: inputs.notices, ..FileRead::default() };
    let mut already_stored = Vec::new();
    let mut not_stored = Vec::new();
    let mut rows_written = BTreeMap::new();
    for (path, outcome) in inputs.files.iter().map(|f| &f.0).zip(results) {
        match outcome.expect("every file has an outcome once its group commits") {
            FileOutcome::AlreadyStored => already_stored.push(path.clone()),
            FileOutcome::Read { read, stored, rows, error } => {
                total.absorb(read);
                if let Some(error) = error {
                    total.notices.push(error.to_string());
                }
                if !stored {
                    not_stored.push(path.clone());
                }
                for (table, n) in rows {
                    *rows_written.entry(table).or_default() += n;
                }
            }
        }
    }
    total.notices.extend(unrecognized_notice(&total.unrecognized));
    Ok(StoreRun {
        files: total.summaries,
        already_stored,
        not_stored,
        rejected: total.rejected,
        notices: total.notices,
        rows_written,
        unread: total.unread,
        unread_tables: total.unread_tables,
        latest_time: total.latest_time,
    })
}

/// What names this run's parts: the time it started, in hex nanoseconds,
/// so parts of different runs never share a name.
fn run_id() -> String {
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    format!("{:016x}", nanos as u64)
}

enum FileOutcome {
    AlreadyStored,
    Read { read: FileRead, stored: bool, rows: BTreeMap<String, usize>, error: Option<Box<StoreError>> },
}

/// How every file of a store run is read.
struct Reading<'r> {
    strict: bool,
    spool_bytes: u64,
    evtx: &'r EvtxOptions,
    progress: &'r Progress,
}

/// Files a worker stores together: their rows share the worker's open parts
/// (one per table and day), which are renamed into place and the files
/// added to the manifest at once when the group commits. Hundreds of small
/// EVTX files otherwise made thousands of parts and manifest writes, which
/// took longer than reading them; an interrupted run still leaves no file
/// half stored (its group's files are read again next time).
struct Group<'d> {
    dir: &'d Path,
    prefix: String,
    parts: Option<Parts<'d>>,
    /// Files read into the parts, waiting for the commit.
    pending: Vec<PendingFile>,
    /// Input bytes read since the last commit.
    bytes: u64,
    /// Groups committed (part names go on from one to the next).
    next_part: usize,
    /// Day folders known to exist, kept from one group's parts to the next.
    folders: HashSet<PathBuf>,
}

struct PendingFile {
    index: usize,
    read: FileRead,
    rows: BTreeMap<String, usize>,
    entry: StoredFile,
}

impl<'d> Group<'d> {
    fn new(dir: &'d Path, prefix: String) -> Group<'d> {
        Group { dir, prefix, parts: None, pending: Vec::new(), bytes: 0, next_part: 0, folders: HashSet::new() }
    }

    /// Reads one file into the group's parts. Returns the outcomes known
    /// now: the file's when it is not stored with the group, and every
    /// pending file's when the group's parts failed.
    #[allow(clippy::too_many_arguments)]
    fn store_file(
        &mut self,
        index: usize,
        path: &Path,
        size: u64,
        hash: Option<&str>,
        explicit: bool,
        state: &Mutex<Manifest>,
        reading: &Reading,
    ) -> Vec<(usize, FileOutcome)> {
        let Some(hash) = hash else {
            let mut read = FileRead::default();
            read.summaries.push(FileSummary {
                path: path.to_path_buf(),
                format: "unknown",
                records: 0,
                loaded: 0,
                rejected: 0,
                error: Some(format!("{}: cannot read", path.display())),
            });
            return vec![(index, FileOutcome::Read { read, stored: false, rows: BTreeMap::new(), error: None })];
        };
        if already_stored(state, hash, path) {
            return vec![(index, FileOutcome::AlreadyStored)];
        }
        let (dir, prefix, next_part, folders) = (self.dir, &self.prefix, self.next_part, &mut self.folders);
        let parts = self.parts.get_or_insert_with(|| {
            let mut parts = Parts::new(dir, format!("{prefix}-{next_part}"));
            parts.folders = std::mem::take(folders);
            parts
        });
        let mut read = {
            let mut sink =
                |table: &str, columns: &[ColumnDef], batch: RecordBatch| parts.write(table, columns, batch, state);
            let sink: &mut Sink = &mut sink;
            read_file(path, explicit, reading.spool_bytes, reading.evtx, &reading.progress.counters, sink)
        };
        let conversion_failures = std::mem::take(&mut parts.conversion_failures);
        let rows = std::mem::take(&mut parts.rows);
        let file_parts = std::mem::take(&mut parts.file_parts);
        if conversion_failures > 0 {
            read.notices.push(format!(
                "{}: {} value(s) did not convert to the column types the store already has for their table (stored \
                 as null)",
                path.display(),
                conversion_failures
            ));
        }
        if let Some(error) = parts.error.take() {
            let mut outcomes = self.discard();
            outcomes.push((
                index,
                FileOutcome::Read { read, stored: false, rows: BTreeMap::new(), error: Some(Box::new(error)) },
            ));
            return outcomes;
        }
        let failed = read.summaries.iter().any(|s| s.error.is_some()) || !read.rejected.is_empty();
        if reading.strict && failed {
            // With --strict a group holds one file: this one.
            let mut outcomes = self.discard();
            outcomes.push((index, FileOutcome::Read { read, stored: false, rows: BTreeMap::new(), error: None }));
            return outcomes;
        }
        if read.summaries.is_empty() {
            // No reader took anything in it: not recorded, so a later version
            // that reads its format will.
            return vec![(index, FileOutcome::Read { read, stored: true, rows: BTreeMap::new(), error: None })];
        }
        let entry = StoredFile {
            sha256: None,
            blake3: Some(hash.to_string()),
            path: path.display().to_string(),
            formats: read.summaries.iter().map(|s| s.format.to_string()).collect(),
            records: read.summaries.iter().map(|s| s.records).sum(),
            loaded: read.summaries.iter().map(|s| s.loaded).sum(),
            rejected: read.rejected.len(),
            parts: file_parts.into_iter().collect(),
            other: serde_json::Map::new(),
        };
        self.pending.push(PendingFile { index, read, rows, entry });
        self.bytes += size;
        Vec::new()
    }

    /// Gives the group's parts their final names and adds its files to the
    /// manifest; returns their outcomes.
    fn commit(&mut self, state: &Mutex<Manifest>) -> Vec<(usize, FileOutcome)> {
        self.bytes = 0;
        self.next_part += 1;
        let Some(mut parts) = self.parts.take() else { return self.not_stored(None) };
        self.folders = std::mem::take(&mut parts.folders);
        if self.pending.is_empty() {
            parts.discard();
            return Vec::new();
        }
        if let Err(error) = parts.commit() {
            return self.not_stored(Some(error));
        }
        let mut manifest = state.lock().unwrap_or_else(|e| e.into_inner());
        for file in &self.pending {
            manifest.hashes.extend(file.entry.blake3.clone());
            manifest.files.push(file.entry.clone());
        }
        let error = manifest.save(self.dir).err();
        drop(manifest);
        let stored = error.is_none();
        let mut error = error.map(Box::new);
        self.pending
            .drain(..)
            .map(|file| {
                let outcome = FileOutcome::Read { read: file.read, stored, rows: file.rows, error: error.take() };
                (file.index, outcome)
            })
            .collect()
    }

    /// Removes what the group wrote; its files are not stored.
    fn discard(&mut self) -> Vec<(usize, FileOutcome)> {
        self.bytes = 0;
        self.next_part += 1;
        if let Some(mut parts) = self.parts.take() {
            self.folders = std::mem::take(&mut parts.folders);
            parts.discard();
        }
        self.not_stored(None)
    }

    /// The pending files' outcomes when they are not stored; the error, when
    /// there is one, is reported with the first.
    fn not_stored(&mut self, error: Option<StoreError>) -> Vec<(usize, FileOutcome)> {
        let mut error = error.map(Box::new);
        self.pending
            .drain(..)
            .map(|file| {
                let outcome =
                    FileOutcome::Read { read: file.read, stored: false, rows: BTreeMap::new(), error: error.take() };
                (file.index, outcome)
            })
            .collect()
    }
}

/// Whether the file at `path`, whose content hashes to `hash`, is stored;
/// in a store of an earlier layout, also by the SHA-256 of its content
/// (computed only then, outside the lock).
fn already_stored(state: &Mutex<Manifest>, hash: &str, path: &Path) -> bool {
    let legacy = {
        let manifest = state.lock().unwrap_or_else(|e| e.into_inner());
        if manifest.hashes.contains(hash) {
            return true;
        }
        !manifest.sha256.is_empty()
    };
    legacy
        && crate::source::content_sha256(path)
            .is_ok_and(|sha256| state.lock().unwrap_or_else(|e| e.into_inner()).sha256.contains(&sha256))
}

/// Hidden temporary parts left by an interrupted run.
fn remove_stale_temporaries(dir: &Path) {
    let Ok(tables) = std::fs::read_dir(dir) else { return };
    for table in tables.flatten().filter(|e| e.path().is_dir()) {
        let Ok(days) = std::fs::read_dir(table.path()) else { continue };
        for day in days.flatten() {
            let Ok(files) = std::fs::read_dir(day.path()) else { continue };
            for file in files.flatten() {
                let name = file.file_name();
                let name = name.to_string_lossy();
                if name.starts_with(".part-") && name.ends_with(".tmp") {
                    let _ = std::fs::remove_file(file.path());
                }
            }
        }
    }
}

/// The Parquet parts a group of files writes, open per (table, day).
struct Parts<'d> {
    dir: &'d Path,
    /// What the parts' names start with (`part-<prefix>-<n>.parquet`).
    prefix: String,
    open: HashMap<(String, String), OpenPart>,
    /// Day folders known to exist.
    folders: HashSet<PathBuf>,
    /// The stored columns of each table written, as last read from the
    /// manifest.
    targets: HashMap<String, Arc<Vec<ColumnDef>>>,
    /// The parts (relative to the store) written since this was last taken:
    /// those of the file being read.
    file_parts: std::collections::BTreeSet<String>,
    /// Closed parts: (temporary path, final path).
    closed: Vec<(PathBuf, PathBuf)>,
    next: usize,
    writes: u64,
    rows: BTreeMap<String, usize>,
    /// Values that did not convert to the stored column types (kept as null).
    conversion_failures: usize,
    error: Option<StoreError>,
}

struct OpenPart {
    writer: ArrowWriter<std::fs::File>,
    /// The table's columns when the part was opened.
    table_columns: Vec<ColumnDef>,
    /// Which of them the part holds ([`present_columns`] of its rows).
    holds: Vec<bool>,
    /// The indexes in `table_columns` of the columns it holds.
    indexes: Vec<usize>,
    temporary: PathBuf,
    target: PathBuf,
    /// `target` relative to the store, `/`-separated.
    name: String,
    /// When it was last written to (a count of writes).
    last_write: u64,
}

impl<'d> Parts<'d> {
    fn new(dir: &'d Path, prefix: String) -> Parts<'d> {
        Parts {
            dir,
            prefix,
            open: HashMap::new(),
            folders: HashSet::new(),
            targets: HashMap::new(),
            file_parts: Default::default(),
            closed: Vec::new(),
            next: 0,
            writes: 0,
            rows: BTreeMap::new(),
            conversion_failures: 0,
            error: None,
        }
    }

    fn write(&mut self, table: &str, columns: &[ColumnDef], batch: RecordBatch, state: &Mutex<Manifest>) {
        if self.error.is_some() || batch.num_rows() == 0 {
            return;
        }
        // The table's stored columns, extended by any new ones. A reader
        // sends the same columns batch after batch, and a table's first
        // columns are those of its first writer: the columns known last time
        // serve as long as they start with this batch's.
        let target = match self.targets.get(table) {
            Some(known) if known.get(..columns.len()) == Some(columns) => Arc::clone(known),
            _ => {
                let mut manifest = state.lock().unwrap_or_else(|e| e.into_inner());
                let stored = manifest.tables.entry(table.to_string()).or_default();
                for column in columns {
                    if !stored.iter().any(|c| c.name == column.name) {
                        stored.push(column.clone());
                    }
                }
                let target = Arc::new(stored.clone());
                self.targets.insert(table.to_string(), Arc::clone(&target));
                target
            }
        };
        let batch = if columns == target.as_slice() {
            batch
        } else {
            let (batch, failures) = conform(&batch, columns, &target);
            self.conversion_failures += failures;
            batch
        };
        for (day, rows) in split_by_day(&batch, &target) {
            if let Err(source) = self.write_day(table, &day, &target, rows) {
                self.error =
                    Some(StoreError::WritePart { dir: self.dir.to_path_buf(), table: table.to_string(), day, source });
                return;
            }
        }
        *self.rows.entry(table.to_string()).or_default() += batch.num_rows();
    }

    fn write_day(
        &mut self,
        table: &str,
        day: &str,
        columns: &[ColumnDef],
        batch: RecordBatch,
    ) -> Result<(), PartError> {
        let key = (table.to_string(), day.to_string());
        let mut holds = present_columns(&batch, columns);
        if let Some(part) = self.open.get(&key) {
            // New columns with values (the table gained columns, or this
            // batch fills some the part left out): later rows go to a new
            // part that also holds the old part's columns. The table's
            // columns only grow at the end, so indexes stay valid.
            let needs_new_part = part.table_columns.len() != columns.len()
                || holds.iter().zip(&part.holds).any(|(&now, &before)| now && !before);
            if needs_new_part {
                for (now, &before) in holds.iter_mut().zip(&part.holds) {
                    *now |= before;
                }
                let part = self.open.remove(&key).expect("checked");
                self.close(part)?;
            }
        }
        if !self.open.contains_key(&key) && self.open.len() >= OPEN_PARTS {
            let oldest =
                self.open.iter().min_by_key(|(_, p)| p.last_write).map(|(k, _)| k.clone()).expect("parts are open");
            let part = self.open.remove(&oldest).expect("listed");
            self.close(part)?;
        }
        if !self.open.contains_key(&key) {
            let folder = self.dir.join(table).join(format!("day={day}"));
            if !self.folders.contains(&folder) {
                std::fs::create_dir_all(&folder)?;
                self.folders.insert(folder.clone());
            }
            let name = format!("part-{}-{}.parquet", self.prefix, self.next);
            self.next += 1;
            let temporary = folder.join(format!(".{name}.tmp"));
            let file = std::fs::File::create(&temporary)?;
            let indexes: Vec<usize> = (0..columns.len()).filter(|&i| holds[i]).collect();
            let held: Vec<ColumnDef> = indexes.iter().map(|&i| columns[i].clone()).collect();
            let first = batch.project(&indexes)?;
            let properties = writer_properties(&held, &first);
            let writer = ArrowWriter::try_new(file, schema_of(&held), Some(properties))?;
            let part = OpenPart {
                writer,
                table_columns: columns.to_vec(),
                holds,
                indexes,
                temporary,
                name: format!("{table}/day={day}/{name}"),
                target: folder.join(name),
                last_write: 0,
            };
            self.open.insert(key.clone(), part);
        }
        self.writes += 1;
        let part = self.open.get_mut(&key).expect("opened");
        part.last_write = self.writes;
        if !self.file_parts.contains(&part.name) {
            self.file_parts.insert(part.name.clone());
        }
        let batch = batch.project(&part.indexes)?;
        part.writer.write(&batch)?;
        // Wide rows (raw event XML) would make a full row group large.
        if part.writer.in_progress_size() > ROW_GROUP_BYTES {
            part.writer.flush()?;
        }
        self.bound_buffers()
    }

    /// Writes out the largest row groups in progress while the open parts
    /// buffer more than [`OPEN_BYTES`] together.
    fn bound_buffers(&mut self) -> Result<(), PartError> {
        if self.open.len() * ROW_GROUP_BYTES <= OPEN_BYTES {
            return Ok(());
        }
        let mut sizes: Vec<(usize, &(String, String))> =
            self.open.iter().map(|(key, part)| (part.writer.in_progress_size(), key)).collect();
        let mut total: usize = sizes.iter().map(|(size, _)| size).sum();
        if total <= OPEN_BYTES {
            return Ok(());
        }
        sizes.sort_unstable_by_key(|(size, _)| std::cmp::Reverse(*size));
        let largest: Vec<((String, String), usize)> = sizes
            .into_iter()
            .take_while(|(size, _)| {
                let over = total > OPEN_BYTES;
                total -= size;
                over
            })
            .map(|(size, key)| (key.clone(), size))
            .collect();
        for (key, _) in largest {
            self.open.get_mut(&key).expect("listed").writer.flush()?;
        }
        Ok(())
    }

    fn close(&mut self, part: OpenPart) -> Result<(), PartError> {
        part.writer.close()?;
        self.closed.push((part.temporary, part.target));
        Ok(())
    }

    /// Closes every part and gives them their final names; returns them
    /// relative to the store.
    fn commit(mut self) -> Result<Vec<String>, StoreError> {
        let open: Vec<OpenPart> = self.open.drain().map(|(_, p)| p).collect();
        for part in open {
            if let Err(source) = self.close(part) {
                self.discard();
                return Err(StoreError::FinishPart { dir: self.dir.to_path_buf(), source });
            }
        }
        let mut written = Vec::new();
        for (temporary, target) in &self.closed {
            std::fs::rename(temporary, target).map_err(|source| StoreError::Rename { path: target.clone(), source })?;
            written.push(target.strip_prefix(self.dir).unwrap_or(target).to_string_lossy().replace('\\', "/"));
        }
        written.sort();
        Ok(written)
    }

    /// Removes everything written.
    fn discard(&mut self) {
        for (_, part) in self.open.drain() {
            drop(part.writer);
            let _ = std::fs::remove_file(&part.temporary);
        }
        for (temporary, _) in self.closed.drain(..) {
            let _ = std::fs::remove_file(temporary);
        }
    }
}

/// LZ4 (raw: faster than Snappy here, and smaller), bounded row groups, and
/// min/max statistics only where queries prune with them (times and
/// numbers): string statistics cost more than the rest of writing wide
/// tables such as SecurityEvent.
fn writer_properties(columns: &[ColumnDef], first: &RecordBatch) -> WriterProperties {
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::LZ4_RAW)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        // Pages end by rows too: the dictionary indexes of a page wait
        // unencoded (8 bytes a value), and mostly-empty columns never fill
        // a page by size.
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_statistics_enabled(EnabledStatistics::None);
    for column in columns.iter().filter(|c| c.ty.is_numeric() || matches!(c.ty, KqlType::Datetime | KqlType::Timespan))
    {
        builder =
            builder.set_column_statistics_enabled(ColumnPath::from(column.name.as_str()), EnabledStatistics::Chunk);
    }
    // Whole-event text (the XML of EventData, RawEventData) and dynamic
    // bags are nearly all distinct: dictionary-encoding them only to fall
    // back to plain pages cost about 40% of ingesting EVTX (profiled).
    for column in columns.iter().filter(|c| c.ty == KqlType::Dynamic || is_event_text(&c.name)) {
        builder = builder.set_column_dictionary_enabled(ColumnPath::from(column.name.as_str()), false);
    }
    // Wide tables (SecurityEvent has 228 columns) leave most strings empty
    // in most rows; a dictionary hashes and looks up every one of those
    // empty strings, which profiled at a third of ingesting EVTX. Plain
    // pages of empty strings are a run of zero lengths that compress to
    // nearly nothing, so columns mostly empty in the part's first batch go
    // without a dictionary.
    //
    // Columns of nearly distinct values (times, record ids, logon ids) would
    // fill a dictionary only to fall back to plain pages: judged by the
    // first rows of the part's first batch.
    for (column, array) in columns.iter().zip(first.columns()) {
        let plain = if let Some(strings) = array.as_any().downcast_ref::<StringArray>() {
            let empty = (0..strings.len()).filter(|&i| strings.value_length(i) == 0).count();
            2 * empty >= strings.len() || mostly_distinct(strings.len(), |i| strings.value(i))
        } else if let Some(numbers) = array.as_any().downcast_ref::<Int64Array>() {
            mostly_distinct(numbers.len(), |i| (!numbers.is_null(i)).then(|| numbers.value(i)))
        } else {
            false
        };
        if plain {
            builder = builder.set_column_dictionary_enabled(ColumnPath::from(column.name.as_str()), false);
        }
    }
    builder.build()
}

/// Whether more than half of the first (up to) 1,024 of `rows` values differ.
fn mostly_distinct<T: std::hash::Hash + Eq>(rows: usize, value: impl Fn(usize) -> T) -> bool {
    const SAMPLE: usize = 1024;
    let sample = rows.min(SAMPLE);
    let distinct: HashSet<T> = (0..sample).map(value).collect();
    sample >= 64 && 2 * distinct.len() > sample
}

/// Which of `columns` have a value in some row of `batch`: a non-empty
/// string, or any non-null value. The day column (else the first) always
/// counts, so that a part has a column to hold its rows.
fn present_columns(batch: &RecordBatch, columns: &[ColumnDef]) -> Vec<bool> {
    let mut present: Vec<bool> = batch
        .columns()
        .iter()
        .map(|array| match array.as_any().downcast_ref::<StringArray>() {
            // The offsets of the batch's own rows (a slice shares its buffer).
            Some(strings) => strings.value_offsets().first() != strings.value_offsets().last(),
            None => array.null_count() < array.len(),
        })
        .collect();
    if let Some(first) = present.get_mut(day_column(columns).unwrap_or(0)) {
        *first = true;
    }
    present
}

/// Columns that hold a whole event's text.
fn is_event_text(name: &str) -> bool {
    matches!(name, "EventData" | "RawEventData" | "AdditionalFields" | "AdditionalExtensions" | "SyslogMessage")
}

/// The column whose day partitions a table.
fn day_column(columns: &[ColumnDef]) -> Option<usize> {
    let datetime = |name: &str| columns.iter().position(|c| c.name == name && c.ty == KqlType::Datetime);
    datetime("TimeGenerated")
        .or_else(|| datetime("Timestamp"))
        .or_else(|| columns.iter().position(|c| c.ty == KqlType::Datetime))
}

/// The batch's rows grouped by day (`YYYY-MM-DD`, or `unknown`).
fn split_by_day(batch: &RecordBatch, columns: &[ColumnDef]) -> Vec<(String, RecordBatch)> {
    let Some(i) = day_column(columns) else { return vec![("unknown".to_string(), batch.clone())] };
    let times = batch.column(i).as_any().downcast_ref::<Int64Array>().expect("datetime columns are Int64");
    let day_of = |row: usize| (!times.is_null(row)).then(|| times.value(row).div_euclid(NANOS_PER_DAY));
    let mut days: BTreeMap<Option<i64>, Vec<u32>> = BTreeMap::new();
    for row in 0..batch.num_rows() {
        days.entry(day_of(row)).or_default().push(row as u32);
    }
    if days.len() == 1 {
        let day = *days.keys().next().expect("one");
        return vec![(day_name(day), batch.clone())];
    }
    days.into_iter()
        .map(|(day, rows)| {
            let rows = take_record_batch(batch, &UInt32Array::from(rows)).expect("indexes are in range");
            (day_name(day), rows)
        })
        .collect()
}

fn day_name(day: Option<i64>) -> String {
    day.and_then(|d| chrono::NaiveDate::from_num_days_from_ce_opt(i32::try_from(d + 719_163).ok()?))
        .map_or_else(|| "unknown".to_string(), |d| d.format("%Y-%m-%d").to_string())
}

/// The tables of a store, with their KQL columns.
pub fn store_tables(dir: &Path) -> Result<BTreeMap<String, Vec<ColumnDef>>, StoreError> {
    if !dir.join(MANIFEST).exists() {
        return Err(StoreError::NotAStore { dir: dir.to_path_buf(), manifest: MANIFEST });
    }
    Ok(Manifest::load(dir)?.tables)
}

/// Registers every table of the store in `dir` (lazily read Parquet).
pub async fn register_store(session: &mut Session, dir: &Path) -> Result<(), IngestError> {
    for (name, columns) in store_tables(dir)? {
        let table_dir = dir.join(&name);
        let registered = if has_parts(&table_dir) {
            session.register_parquet_parts(&name, &table_dir.to_string_lossy(), &columns).await
        } else {
            session.register_batches(&name, columns, Vec::new())
        };
        registered?;
    }
    Ok(())
}

fn has_parts(table_dir: &Path) -> bool {
    let Ok(days) = std::fs::read_dir(table_dir) else { return false };
    days.flatten().any(|day| {
        std::fs::read_dir(day.path())
            .map(|files| files.flatten().any(|f| f.file_name().to_string_lossy().ends_with(".parquet")))
            .unwrap_or(false)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A part holds the columns with values in its rows; a batch with
    /// values in a column the open part left out starts a new part holding
    /// both; registered, every part reads as the whole table.
    #[tokio::test]
    async fn parts_hold_only_columns_with_values_and_read_as_the_whole_table() {
        use datafusion::arrow::array::ArrayRef;
        use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
        use std::sync::Arc;
        let dir = tempfile::tempdir().unwrap();
        let columns = vec![
            ColumnDef::new("TimeGenerated", KqlType::Datetime),
            ColumnDef::new("A", KqlType::String),
            ColumnDef::new("B", KqlType::String),
            ColumnDef::new("N", KqlType::Long),
        ];
        let day = 19_844 * NANOS_PER_DAY;
        let batch = |a: [&str; 2], b: [&str; 2], n: [Option<i64>; 2]| {
            let arrays: Vec<ArrayRef> = vec![
                Arc::new(Int64Array::from(vec![day, day + 1])),
                Arc::new(StringArray::from(a.to_vec())),
                Arc::new(StringArray::from(b.to_vec())),
                Arc::new(Int64Array::from(n.to_vec())),
            ];
            RecordBatch::try_new(schema_of(&columns), arrays).unwrap()
        };
        let state = Mutex::new(Manifest::default());
        let mut parts = Parts::new(dir.path(), "0123456789abcdef".to_string());
        parts.write("T", &columns, batch(["a1", ""], ["", ""], [None, None]), &state);
        parts.write("T", &columns, batch(["", "a2"], ["", ""], [None, None]), &state);
        parts.write("T", &columns, batch(["a3", ""], ["", "b4"], [None, None]), &state);
        assert!(parts.error.is_none(), "{:?}", parts.error);
        let written = parts.commit().unwrap();
        assert_eq!(written.len(), 2, "{written:?}");
        let held = |part: &str| {
            let file = std::fs::File::open(dir.path().join(part)).unwrap();
            let reader = ParquetRecordBatchReaderBuilder::try_new(file).unwrap();
            reader.schema().fields().iter().map(|f| f.name().clone()).collect::<Vec<_>>()
        };
        assert_eq!(held(&written[0]), ["TimeGenerated", "A"]);
        assert_eq!(held(&written[1]), ["TimeGenerated", "A", "B"]);

        let mut session = Session::with_partitions(1);
        session.register_parquet_parts("T", &dir.path().join("T").to_string_lossy(), &columns).await.unwrap();
        let result = session
            .query(
                "T | summarize rows = count(), empty_b = countif(B == ''), null_n = countif(isnull(N)), \
                 a = strcat_array(array_sort_asc(make_list(A)), ','), b = strcat_array(make_list(B), '')",
            )
            .await
            .unwrap();
        let batch = &result.batches[0];
        let text = |i: usize| kqlite_engine::output::cell_text(batch.column(i).as_ref(), 0, result.columns[i].ty);
        assert_eq!((text(0), text(1), text(2)), ("6".into(), "5".into(), "6".into()));
        assert_eq!(text(3), ",,,a1,a2,a3");
        assert_eq!(text(4), "b4");
        let names: Vec<&str> = result.columns.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["rows", "empty_b", "null_n", "a", "b"]);
        let schema = session.query("T | getschema | project ColumnName").await.unwrap();
        let listed: Vec<String> = (0..4)
            .map(|row| kqlite_engine::output::cell_text(schema.batches[0].column(0).as_ref(), row, KqlType::String))
            .collect();
        assert_eq!(listed, ["TimeGenerated", "A", "B", "N"]);
    }

    #[test]
    fn a_store_of_a_newer_layout_is_refused_with_its_version() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(MANIFEST), r#"{"version": 4, "tables": {}, "files": []}"#).unwrap();
        let error = store_tables(dir.path()).unwrap_err().to_string();
        assert!(error.contains("layout version 4, newer than this kqlite reads (3)"), "{error}");
        std::fs::write(dir.path().join(MANIFEST), r#"{"version": 1, "tables": {"T": [["A", "string"]]}, "files": []}"#)
            .unwrap();
        assert_eq!(store_tables(dir.path()).unwrap()["T"], [ColumnDef::new("A", KqlType::String)]);
    }

    /// A manifest as the code before the typed manifest wrote it
    /// (`serde_json::json!`, pretty-printed): it reads, its files count as
    /// stored (by the SHA-256 of their content), and it is written back
    /// byte for byte but for its layout version (3: later files are known
    /// by BLAKE3).
    #[test]
    fn a_manifest_written_before_reads_and_keeps_its_files_stored() {
        const OLD: &str = r#"{
  "version": 2,
  "tables": {
    "Syslog": [
      [
        "TimeGenerated",
        "datetime"
      ],
      [
        "SyslogMessage",
        "string"
      ]
    ]
  },
  "files": [
    {
      "sha256": "5891b5b522d5df086d0ff0b110fbd9d21bb4fc7163af34d08286a2e846f6be03",
      "path": "/evidence/hello.log",
      "formats": [
        "syslog"
      ],
      "records": 1,
      "loaded": 1,
      "rejected": 0,
      "parts": [
        "Syslog/day=2024-05-01/part-5891b5b522d5df08-0.parquet"
      ]
    }
  ]
}"#;
        let dir = tempfile::tempdir().unwrap();
        let store = dir.path().join("store");
        std::fs::create_dir(&store).unwrap();
        std::fs::write(store.join(MANIFEST), OLD).unwrap();
        let tables = store_tables(&store).unwrap();
        assert_eq!(
            tables["Syslog"],
            [ColumnDef::new("TimeGenerated", KqlType::Datetime), ColumnDef::new("SyslogMessage", KqlType::String)]
        );
        // The same content under another name is already stored.
        let input = dir.path().join("hello.log");
        std::fs::write(&input, "hello\n").unwrap();
        let run = ingest_to_store(std::slice::from_ref(&input), &store, &IngestOptions::default()).unwrap();
        assert_eq!(run.already_stored, [input]);
        assert!(run.files.is_empty());
        Manifest::load(&store).unwrap().save(&store).unwrap();
        assert_eq!(
            std::fs::read_to_string(store.join(MANIFEST)).unwrap(),
            OLD.replace("\"version\": 2", "\"version\": 3")
        );
    }

    #[test]
    fn day_names() {
        assert_eq!(day_name(Some(0)), "1970-01-01");
        assert_eq!(day_name(Some(19_844)), "2024-05-01");
        assert_eq!(day_name(Some(-1)), "1969-12-31");
        assert_eq!(day_name(None), "unknown");
    }
}
