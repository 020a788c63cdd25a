//! Ingesting any mix of files and directories, in parallel across files:
//! into memory ([`ingest_paths`], for querying on the fly) or into a Parquet
//! store ([`crate::store::ingest_to_store`]). Every record read is loaded or
//! counted as rejected with its location and reason; an unreadable file is
//! reported and the run goes on.

use crate::error::IngestError;
use crate::evtx::EvtxOptions;
use crate::inputs::{
    evtx_options, gather, read_file, run_parallel, strict_failure, thread_count, unrecognized_notice, FileRead,
    Identity,
};
use crate::progress::Progress;
use crate::register::merge;
use crate::tabular::LoadedTable;
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::ColumnDef;
use std::path::PathBuf;
use std::sync::atomic::Ordering;
use std::sync::Mutex;

use crate::inputs::FileSummary;
use crate::options::IngestOptions;

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
    /// The report of reading files, with no tables yet: `read` holds the
    /// totals, and the notice of unrecognized files comes last.
    fn from_reads(mut read: FileRead) -> Self {
        read.notices.extend(unrecognized_notice(&read.unrecognized));
        Ingested {
            tables: Vec::new(),
            files: read.summaries,
            rejected: read.rejected,
            notices: read.notices,
            unread: read.unread,
            unread_tables: read.unread_tables,
            latest_time: read.latest_time,
        }
    }

    pub fn has_failures(&self) -> bool {
        !self.rejected.is_empty() || self.files.iter().any(|f| f.error.is_some())
    }
}

/// Reads `paths` (files or directories, any mix of formats) into memory.
/// Fails when a path does not exist, or with `strict` when anything was
/// rejected (the message lists the first rejections).
pub fn ingest_paths(paths: &[PathBuf], options: &IngestOptions) -> Result<Ingested, IngestError> {
    let (inputs, _) = gather(paths, options.threads, Identity::CopiesOnly)?;
    let spool_bytes = options.spool_limit();
    let threads = thread_count(options.threads, inputs.files.len());
    let evtx = EvtxOptions {
        needs: options.needs.clone(),
        security_in_windows_event: options.security_in_windows_event,
        ..evtx_options(threads, inputs.files.len())
    };
    let progress = Progress::start(inputs.files.len(), options.progress);
    let results = run_parallel(inputs.files.len(), threads, |i| {
        let (path, explicit) = &inputs.files[i];
        let mut batches: Vec<(String, Vec<ColumnDef>, RecordBatch)> = Vec::new();
        let read = read_file(path, *explicit, spool_bytes, &evtx, &progress.counters, &mut |table, columns, batch| {
            batches.push((table.to_string(), columns.to_vec(), batch))
        });
        progress.counters.files_done.fetch_add(1, Ordering::Relaxed);
        (read, batches)
    });
    progress.finish();
    let mut total = FileRead { notices: inputs.notices, ..FileRead::default() };
    let mut pieces = Vec::new();
    for (read, batches) in results {
        total.absorb(read);
        pieces.extend(batches);
    }
    let mut ingested = Ingested::from_reads(total);
    let (tables, failures) = merge(pieces);
    if failures > 0 {
        ingested.notices.push(format!(
            "{failures} value(s) did not convert when tables of the same name from different files were merged \
             (stored as null)"
        ));
    }
    ingested.tables = tables;
    if options.strict && ingested.has_failures() {
        return Err(strict_failure(&ingested.files, &ingested.rejected).into());
    }
    Ok(ingested)
}

/// Reads `paths` like [`ingest_paths`] but keeps no rows: returns the
/// report (with no tables) and the rows each table would get. Memory stays
/// bounded whatever the input size.
pub fn survey_paths(
    paths: &[PathBuf],
    options: &IngestOptions,
) -> Result<(Ingested, std::collections::BTreeMap<String, usize>), IngestError> {
    let (inputs, _) = gather(paths, options.threads, Identity::CopiesOnly)?;
    let spool_bytes = options.spool_limit();
    let threads = thread_count(options.threads, inputs.files.len());
    let evtx = EvtxOptions {
        security_in_windows_event: options.security_in_windows_event,
        ..evtx_options(threads, inputs.files.len())
    };
    let progress = Progress::start(inputs.files.len(), options.progress);
    let rows: Mutex<std::collections::BTreeMap<String, usize>> = Mutex::default();
    let results = run_parallel(inputs.files.len(), threads, |i| {
        let (path, explicit) = &inputs.files[i];
        let mut counts: std::collections::BTreeMap<String, usize> = std::collections::BTreeMap::new();
        let read = read_file(path, *explicit, spool_bytes, &evtx, &progress.counters, &mut |table, _, batch| {
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
    let mut total = FileRead { notices: inputs.notices, ..FileRead::default() };
    for read in results {
        total.absorb(read);
    }
    // A survey reports no unread records and no event times.
    let ingested =
        Ingested { unread: 0, unread_tables: Default::default(), latest_time: None, ..Ingested::from_reads(total) };
    Ok((ingested, rows.into_inner().unwrap_or_else(|e| e.into_inner())))
}
