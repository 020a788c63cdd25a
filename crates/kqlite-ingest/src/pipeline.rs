//! Ingesting any mix of files and directories, in parallel across files:
//! into memory ([`ingest_paths`], for querying on the fly) or into a Parquet
//! store ([`crate::store::ingest_to_store`]). Every record read is loaded or
//! counted as rejected with its location and reason; an unreadable file is
//! reported and the run goes on.

use crate::conform::{coalesce, conform, schema_of, unite};
use crate::dispatch::{read_source, Sink};
use crate::evtx::EvtxOptions;
use crate::progress::{Counters, Progress};
use crate::source::{self, sniff};
use crate::tabular::LoadedTable;
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::BATCH_ROWS;
use kqlite_engine::{ColumnDef, Session};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;

/// Rows per batch of merged in-memory tables.

/// How a run reads its inputs.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// Fail (after reading everything) when any record was rejected or any
    /// file could not be read.
    pub strict: bool,
    /// Draw a progress line on stderr (the caller decides: stderr is a terminal).
    pub progress: bool,
    /// Files read at the same time; 0 uses the number of CPUs.
    pub threads: usize,
    /// What the queries to run will read: EVTX records and columns no query
    /// reads are not kept (see [`crate::evtx::EvtxOptions::needs`]). For
    /// in-memory runs only: a store must hold everything.
    pub needs: Option<std::sync::Arc<kqlite_engine::ScanNeeds>>,
}

/// What happened to one input (a file, or a member of a container).
#[derive(Clone, Debug)]
pub struct FileSummary {
    /// The file, or `archive.zip!member` for a container member.
    pub path: PathBuf,
    /// `evtx`, `parquet`, `syslog`, `windows-json`, `json`, `csv`; `unknown`
    /// for content no reader takes; `container` for an unreadable gzip/zip.
    pub format: &'static str,
    pub records: usize,
    pub loaded: usize,
    pub rejected: usize,
    /// Why the input could not be read (or stopped early).
    pub error: Option<String>,
}

/// Everything an in-memory run read.
#[derive(Default)]
pub struct Ingested {
    /// One table per name, batches in input order.
    pub tables: Vec<LoadedTable>,
    pub files: Vec<FileSummary>,
    /// (location, reason) of every rejected record.
    pub rejected: Vec<(String, String)>,
    pub notices: Vec<String>,
    /// Records not kept because no query reads them ([`IngestOptions::needs`]).
    pub unread: usize,
    /// Tables records were left out of that way.
    pub unread_tables: std::collections::BTreeSet<String>,
    /// The latest event time seen in EVTX records, kept or not (ns).
    pub latest_time: Option<i64>,
}

impl Ingested {
    pub fn has_failures(&self) -> bool {
        !self.rejected.is_empty() || self.files.iter().any(|f| f.error.is_some())
    }
}

/// Reads `paths` (files or directories, any mix of formats) into memory.
/// Fails when a path does not exist, or with `strict` when anything was
/// rejected (the message lists the first rejections).
pub fn ingest_paths(paths: &[PathBuf], options: &IngestOptions) -> Result<Ingested, String> {
    let (inputs, _) = gather(paths, options.threads, Identity::CopiesOnly)?;
    let threads = thread_count(options.threads, inputs.files.len());
    let evtx = EvtxOptions { needs: options.needs.clone(), ..evtx_options(threads, inputs.files.len()) };
    let progress = Progress::start(inputs.files.len(), options.progress);
    let results = run_parallel(inputs.files.len(), threads, |i| {
        let (path, explicit) = &inputs.files[i];
        let mut batches: Vec<(String, Vec<ColumnDef>, RecordBatch)> = Vec::new();
        let read = read_file(path, *explicit, &evtx, &progress.counters, &mut |table, columns, batch| {
            batches.push((table.to_string(), columns.to_vec(), batch))
        });
        progress.counters.files_done.fetch_add(1, Ordering::Relaxed);
        (read, batches)
    });
    progress.finish();
    let mut ingested = Ingested { notices: inputs.notices, ..Ingested::default() };
    let mut pieces = Vec::new();
    let mut unrecognized = Vec::new();
    for (read, batches) in results {
        ingested.unread += read.unread;
        ingested.unread_tables.extend(read.unread_tables);
        ingested.latest_time = ingested.latest_time.max(read.latest_time);
        ingested.files.extend(read.summaries);
        ingested.rejected.extend(read.rejected);
        ingested.notices.extend(read.notices);
        unrecognized.extend(read.unrecognized);
        pieces.extend(batches);
    }
    ingested.notices.extend(unrecognized_notice(&unrecognized));
    let (tables, failures) = merge(pieces);
    if failures > 0 {
        ingested.notices.push(format!(
            "{failures} value(s) did not convert when tables of the same name from different files were merged \
             (stored as null)"
        ));
    }
    ingested.tables = tables;
    if options.strict && ingested.has_failures() {
        return Err(strict_failure(&ingested.files, &ingested.rejected));
    }
    Ok(ingested)
}

/// Reads `paths` like [`ingest_paths`] but keeps no rows: returns the
/// report (with no tables) and the rows each table would get. Memory stays
/// bounded whatever the input size.
pub fn survey_paths(
    paths: &[PathBuf],
    options: &IngestOptions,
) -> Result<(Ingested, std::collections::BTreeMap<String, usize>), String> {
    let (inputs, _) = gather(paths, options.threads, Identity::CopiesOnly)?;
    let threads = thread_count(options.threads, inputs.files.len());
    let evtx = evtx_options(threads, inputs.files.len());
    let progress = Progress::start(inputs.files.len(), options.progress);
    let rows: Mutex<std::collections::BTreeMap<String, usize>> = Mutex::default();
    let results = run_parallel(inputs.files.len(), threads, |i| {
        let (path, explicit) = &inputs.files[i];
        let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        let read = read_file(path, *explicit, &evtx, &progress.counters, &mut |table, _, batch| {
            *counts.entry(table.to_string()).or_default() += batch.num_rows()
        });
        let mut all = rows.lock().unwrap_or_else(|e| e.into_inner());
        for (table, n) in counts {
            *all.entry(table).or_default() += n;
        }
        progress.counters.files_done.fetch_add(1, Ordering::Relaxed);
        read
    });
    progress.finish();
    let mut ingested = Ingested { notices: inputs.notices, ..Ingested::default() };
    let mut unrecognized = Vec::new();
    for read in results {
        ingested.files.extend(read.summaries);
        ingested.rejected.extend(read.rejected);
        ingested.notices.extend(read.notices);
        unrecognized.extend(read.unrecognized);
    }
    ingested.notices.extend(unrecognized_notice(&unrecognized));
    Ok((ingested, rows.into_inner().unwrap_or_else(|e| e.into_inner())))
}

/// Registers tables with the session; tables of the same name are merged
/// (columns united, conflicting types widened).
pub fn register_tables(session: &mut Session, tables: Vec<LoadedTable>) -> Result<(), String> {
    let mut empty: Vec<(String, Vec<ColumnDef>)> = Vec::new();
    let mut pieces = Vec::new();
    for LoadedTable { name, columns, batches } in tables {
        if batches.is_empty() {
            empty.push((name, columns));
            continue;
        }
        pieces.extend(batches.into_iter().map(|b| (name.clone(), columns.clone(), b)));
    }
    let (mut merged, _) = merge(pieces);
    // Tables without rows still register: querying an empty table is not an error.
    for (name, columns) in empty {
        match merged.iter_mut().find(|t| t.name == name) {
            Some(table) => {
                // Only new columns: the rows already have their types.
                for column in columns {
                    if !table.columns.iter().any(|c| c.name == column.name) {
                        table.columns.push(column);
                    }
                }
            }
            None => merged.push(LoadedTable { name, columns, batches: Vec::new() }),
        }
    }
    for table in merged {
        let batches = conform_all(&table.columns, table.batches);
        session.register_batches(&table.name, table.columns, batches).map_err(|e| format!("{}: {e}", table.name))?;
    }
    Ok(())
}

/// Batches brought to `columns` when these gained columns after merging.
fn conform_all(columns: &[ColumnDef], batches: Vec<RecordBatch>) -> Vec<RecordBatch> {
    batches
        .into_iter()
        .map(|batch| {
            if batch.num_columns() == columns.len() {
                return batch;
            }
            let from: Vec<ColumnDef> = batch
                .schema()
                .fields()
                .iter()
                .map(|f| {
                    columns.iter().find(|c| c.name == *f.name()).cloned().expect("merged columns hold every column")
                })
                .collect();
            conform(&batch, &from, columns).0
        })
        .collect()
}

/// Registers every table of a store made by `kqlite ingest --store`.
pub async fn register_store(session: &mut Session, dir: &Path) -> Result<(), String> {
    crate::store::register_store(session, dir).await
}

/// The message of a strict run that saw rejections or unreadable files.
pub fn strict_failure(files: &[FileSummary], rejected: &[(String, String)]) -> String {
    let unreadable: Vec<&String> = files.iter().filter_map(|f| f.error.as_ref()).collect();
    let mut message =
        format!("strict: {} record(s) rejected and {} input(s) unreadable", rejected.len(), unreadable.len());
    for (location, reason) in rejected.iter().take(5) {
        message.push_str(&format!("\n  rejected {location}: {reason}"));
    }
    for error in unreadable.iter().take(5) {
        message.push_str(&format!("\n  unreadable: {error}"));
    }
    message
}

/// The files to read, each with whether it was named (not found by walking).
pub(crate) struct Inputs {
    pub files: Vec<(PathBuf, bool)>,
    pub notices: Vec<String>,
}

/// How [`gather`] names each file's content.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identity {
    /// The SHA-256 of every file ([`source::content_hash`]): a store's
    /// manifest keeps it.
    Sha256,
    /// Only what tells copies apart: files of a size no other file has are
    /// not read; files that share a size are compared on a sample (start
    /// and end, [`source::content_sample`]), and those that share that too
    /// on their whole content ([`source::content_fingerprint`]). Two files
    /// are taken for copies only when their whole content hashes alike.
    CopiesOnly,
}

/// The files under `paths`, each read once: a file with the same content
/// as one before it (in path order) is left out with a notice. Returns the
/// files with their content hashes (None when unreadable, where reading
/// reports it, or, with [`Identity::CopiesOnly`], when no other file can be
/// a copy).
pub(crate) fn gather(
    paths: &[PathBuf],
    threads: usize,
    identity: Identity,
) -> Result<(Inputs, Vec<Option<String>>), String> {
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        return Err(format!("{} does not exist", missing.display()));
    }
    let (files, errors) = source::walk(paths);
    let mut notices: Vec<String> = errors.into_iter().map(|(_, e)| e).collect();
    let threads = thread_count(threads, files.len());
    let hashes = match identity {
        Identity::Sha256 => run_parallel(files.len(), threads, |i| source::content_hash(&files[i]).ok()),
        Identity::CopiesOnly => copy_keys(&files, threads),
    };
    let mut seen: std::collections::HashMap<&str, &PathBuf> = std::collections::HashMap::new();
    let mut kept = Vec::new();
    let mut kept_hashes = Vec::new();
    for (file, hash) in files.iter().zip(&hashes) {
        if let Some(hash) = hash {
            if let Some(first) = seen.get(hash.as_str()) {
                notices.push(format!("{}: same content as {}; read once", file.display(), first.display()));
                continue;
            }
            seen.insert(hash, file);
        }
        kept.push((file.clone(), paths.contains(file)));
        kept_hashes.push(hash.clone());
    }
    Ok((Inputs { files: kept, notices }, kept_hashes))
}

/// [`Identity::CopiesOnly`]: the whole-content fingerprint of each file
/// that may be a copy of another, `None` for the others.
fn copy_keys(files: &[PathBuf], threads: usize) -> Vec<Option<String>> {
    use std::collections::HashMap;
    // Files that share a key with no other file can be no copy: drop their keys.
    fn shared<K: std::hash::Hash + Eq + Clone>(keys: Vec<Option<K>>) -> Vec<Option<K>> {
        let mut count: HashMap<K, usize> = HashMap::new();
        for key in keys.iter().flatten() {
            *count.entry(key.clone()).or_default() += 1;
        }
        keys.into_iter().map(|k| k.filter(|k| count[k] > 1)).collect()
    }
    let sizes = shared(files.iter().map(|f| std::fs::metadata(f).ok().map(|m| m.len())).collect());
    let samples = shared(run_parallel(files.len(), threads, |i| {
        let size = sizes[i]?;
        source::content_sample(&files[i]).ok().map(|sample| (size, sample))
    }));
    run_parallel(files.len(), threads, |i| {
        samples[i].as_ref()?;
        source::content_fingerprint(&files[i]).ok()
    })
}

pub(crate) fn thread_count(requested: usize, files: usize) -> usize {
    let threads = match requested {
        0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
        n => n,
    };
    threads.clamp(1, files.max(1))
}

/// With several files in flight each EVTX file is parsed on one thread;
/// a lone file gets the parser's own chunk parallelism.
pub(crate) fn evtx_options(threads: usize, files: usize) -> EvtxOptions {
    EvtxOptions { parse_threads: if threads > 1 && files > 1 { 1 } else { 0 }, ..EvtxOptions::default() }
}

/// Runs `work(0..count)` on `threads` threads; results in index order.
pub(crate) fn run_parallel<T: Send>(count: usize, threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    let slots: Mutex<Vec<Option<T>>> = Mutex::new((0..count).map(|_| None).collect());
    let next = AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..threads.max(1) {
            scope.spawn(|| loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= count {
                    break;
                }
                let result = work(i);
                slots.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(result);
            });
        }
    });
    slots.into_inner().unwrap_or_else(|e| e.into_inner()).into_iter().map(|r| r.expect("every index ran")).collect()
}

/// What reading one file (and the members of a container) did.
#[derive(Default)]
pub(crate) struct FileRead {
    pub summaries: Vec<FileSummary>,
    pub rejected: Vec<(String, String)>,
    pub notices: Vec<String>,
    /// Found by walking (or in a container) and no reader takes them.
    pub unrecognized: Vec<String>,
    pub unread: usize,
    pub unread_tables: std::collections::BTreeSet<String>,
    pub latest_time: Option<i64>,
}

/// Reads every input in `path` into `sink`. A file that was named and that
/// no reader takes is an error; one found by walking is skipped.
pub(crate) fn read_file(
    path: &Path,
    explicit: bool,
    evtx: &EvtxOptions,
    counters: &Counters,
    sink: &mut Sink,
) -> FileRead {
    let mut read = FileRead::default();
    let opened = source::open(path, &mut |input| {
        let format = match input.head() {
            Ok(head) => sniff(&head),
            Err(e) => {
                read.summaries.push(summary(
                    &input.location,
                    "unknown",
                    Some(format!("{}: cannot read: {e}", input.location)),
                ));
                return;
            }
        };
        let Some(format) = format else {
            let named = explicit && matches!(input.content, source::Content::File);
            if named {
                let error = format!(
                    "{}: not a format kqlite reads (EVTX, Parquet, syslog, JSON, CSV; plain, .gz or .zip)",
                    input.location
                );
                read.summaries.push(summary(&input.location, "unknown", Some(error)));
            } else {
                read.unrecognized.push(input.location.clone());
            }
            return;
        };
        let mut counting = |table: &str, columns: &[ColumnDef], batch: RecordBatch| {
            counters.rows.fetch_add(batch.num_rows(), Ordering::Relaxed);
            sink(table, columns, batch)
        };
        let outcome = read_source(&input, format, evtx, &mut counting);
        let report = outcome.report;
        counters.rejected.fetch_add(report.rejected.len(), Ordering::Relaxed);
        read.summaries.push(FileSummary {
            path: PathBuf::from(&input.location),
            format: format.name(),
            records: report.records_read,
            loaded: report.loaded,
            rejected: report.rejected.len(),
            error: outcome.error,
        });
        if report.conversion_failures > 0 {
            read.notices.push(format!(
                "{}: {} value(s) did not convert to their column's type (stored as null)",
                input.location, report.conversion_failures
            ));
        }
        read.unread += report.unread;
        read.unread_tables.extend(report.unread_tables);
        read.latest_time = read.latest_time.max(report.latest_time);
        read.rejected.extend(report.rejected);
        read.notices.extend(report.notices);
    });
    if let Err(error) = opened {
        read.summaries.push(summary(&path.display().to_string(), "container", Some(error)));
    }
    read
}

fn summary(location: &str, format: &'static str, error: Option<String>) -> FileSummary {
    FileSummary { path: PathBuf::from(location), format, records: 0, loaded: 0, rejected: 0, error }
}

pub(crate) fn unrecognized_notice(locations: &[String]) -> Option<String> {
    if locations.is_empty() {
        return None;
    }
    let shown: Vec<&str> = locations.iter().take(10).map(String::as_str).collect();
    let more = if locations.len() > 10 { format!(" and {} more", locations.len() - 10) } else { String::new() };
    Some(format!(
        "skipped {} file(s) whose content is not a format kqlite reads: {}{more}",
        locations.len(),
        shown.join(", ")
    ))
}

/// Batches of possibly differing columns merged into one table per name
/// (first-seen order); returns the tables and the values that did not
/// convert to a widened type.
fn merge(pieces: Vec<(String, Vec<ColumnDef>, RecordBatch)>) -> (Vec<LoadedTable>, usize) {
    // (table, merged columns, its pieces with their own columns)
    type Pieces = Vec<(Vec<ColumnDef>, RecordBatch)>;
    let mut tables: Vec<(String, Vec<ColumnDef>, Pieces)> = Vec::new();
    for (name, columns, batch) in pieces {
        let i = match tables.iter().position(|t| t.0 == name) {
            Some(i) => i,
            None => {
                tables.push((name, columns.clone(), Vec::new()));
                tables.len() - 1
            }
        };
        unite(&mut tables[i].1, &columns);
        tables[i].2.push((columns, batch));
    }
    let mut failures = 0;
    let merged = tables
        .into_iter()
        .map(|(name, columns, batches)| {
            let schema = schema_of(&columns);
            let conformed: Vec<RecordBatch> = batches
                .into_iter()
                .map(|(from, batch)| {
                    if from == columns {
                        RecordBatch::try_new(schema.clone(), batch.columns().to_vec()).expect("same columns")
                    } else {
                        let (batch, failed) = conform(&batch, &from, &columns);
                        failures += failed;
                        batch
                    }
                })
                .collect();
            LoadedTable { name, batches: coalesce(&schema, conformed, BATCH_ROWS), columns }
        })
        .collect();
    (merged, failures)
}
