//! The inputs of a run: gathered from the paths given (directories walked,
//! copies of one content read once), each read with its reader into a sink,
//! and summarised; the steps that in-memory runs ([`crate::pipeline`]) and
//! store runs ([`crate::store`]) share.

use crate::dispatch::{read_source, Sink};
use crate::error::{IngestError, StrictFailure};
use crate::evtx::EvtxOptions;
use crate::format::sniff;
use crate::progress::Counters;
use crate::source;
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::ColumnDef;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

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

/// Rejections and unreadable inputs a strict failure lists.
const STRICT_SHOWN: usize = 5;

/// The failure of a strict run that saw rejections or unreadable files.
pub(crate) fn strict_failure(files: &[FileSummary], rejected: &[(String, String)]) -> StrictFailure {
    let unreadable: Vec<&String> = files.iter().filter_map(|f| f.error.as_ref()).collect();
    StrictFailure {
        rejected: rejected.len(),
        unreadable: unreadable.len(),
        first_rejected: rejected.iter().take(STRICT_SHOWN).cloned().collect(),
        first_unreadable: unreadable.into_iter().take(STRICT_SHOWN).cloned().collect(),
    }
}

/// The files to read, each with whether it was named (not found by walking).
pub(crate) struct Inputs {
    pub files: Vec<(PathBuf, bool)>,
    pub notices: Vec<String>,
}

/// How [`gather`] names each file's content.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Identity {
    /// The BLAKE3 of every file ([`source::content_hash`]): a store's
    /// manifest keeps it.
    EveryFile,
    /// Only what tells copies apart: files of a size no other file has are
    /// not read; files that share a size are compared on a sample (start
    /// and end, [`source::content_sample`]), and those that share that too
    /// on their whole content ([`source::content_hash`]). Two files
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
) -> Result<(Inputs, Vec<Option<String>>), IngestError> {
    if let Some(missing) = paths.iter().find(|p| !p.exists()) {
        return Err(IngestError::NotFound { path: missing.clone() });
    }
    let (files, errors) = source::walk(paths);
    let mut notices: Vec<String> = errors.into_iter().map(|(_, e)| e).collect();
    let threads = thread_count(threads, files.len());
    let hashes = match identity {
        Identity::EveryFile => run_parallel(files.len(), threads, |i| source::content_hash(&files[i]).ok()),
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

/// [`Identity::CopiesOnly`]: the whole-content hash of each file
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
        source::content_hash(&files[i]).ok()
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

/// Runs `work(0..count)` on a rayon pool of `threads` threads, results in
/// index order. Indexes are taken in order as threads free up
/// (`par_bridge`), so files start in path order. A lone input runs on the
/// caller's thread, where its own rayon work (an EVTX file's chunks) gets
/// the global pool.
pub(crate) fn run_parallel<T: Send>(count: usize, threads: usize, work: impl Fn(usize) -> T + Sync) -> Vec<T> {
    use rayon::iter::{ParallelBridge, ParallelIterator};
    let pool =
        (threads > 1 && count > 1).then(|| rayon::ThreadPoolBuilder::new().num_threads(threads).build().ok()).flatten();
    let Some(pool) = pool else { return (0..count).map(work).collect() };
    let mut results: Vec<(usize, T)> = pool.install(|| (0..count).par_bridge().map(|i| (i, work(i))).collect());
    results.sort_unstable_by_key(|(i, _)| *i);
    results.into_iter().map(|(_, result)| result).collect()
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

impl FileRead {
    /// Adds what reading another file did to these totals.
    pub fn absorb(&mut self, read: FileRead) {
        self.unread += read.unread;
        self.unread_tables.extend(read.unread_tables);
        self.latest_time = self.latest_time.max(read.latest_time);
        self.summaries.extend(read.summaries);
        self.rejected.extend(read.rejected);
        self.notices.extend(read.notices);
        self.unrecognized.extend(read.unrecognized);
    }
}

/// Reads every input in `path` into `sink`. A file that was named and that
/// no reader takes is an error; one found by walking is skipped.
/// Extracted content over `spool_bytes` goes to a temporary file.
pub(crate) fn read_file(
    path: &Path,
    explicit: bool,
    spool_bytes: u64,
    evtx: &EvtxOptions,
    counters: &Counters,
    sink: &mut Sink,
) -> FileRead {
    let mut read = FileRead::default();
    let opened = source::open(path, spool_bytes, &mut |input| {
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
        read.summaries.push(summary(&path.display().to_string(), "container", Some(error.to_string())));
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
