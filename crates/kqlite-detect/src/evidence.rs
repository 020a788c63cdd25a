//! Loading evidence (files and directories of logs) into a session's tables.
//!
//! [`load_evidence_using`] (with [`load_evidence`] and friends for the usual
//! settings) over the ingest pipeline (`kqlite_ingest::pipeline`): EVTX to `SecurityEvent` and `WindowsEvent`,
//! syslog text to `Syslog`, CSV/JSON/Parquet (plain, .gz or .zip) to the
//! Sentinel table their content matches, in parallel across files.

use crate::error::DetectError;
use kqlite_engine::{ScanNeeds, Session};
use kqlite_ingest::{ingest_paths, register_store, register_tables, IngestOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// Where evidence is held while rules run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Staging {
    /// In memory when small, in a temporary store when larger
    /// ([`kqlite_ingest::staging::should_stage`] decides, from the options).
    Auto,
    /// Always through a temporary store.
    Store,
}

/// What loading the evidence did.
#[derive(Debug, Default)]
pub struct EvidenceReport {
    /// Table → rows loaded.
    pub rows: BTreeMap<String, usize>,
    pub files_read: usize,
    /// Files not read, with why (unreadable, not a log format, …).
    pub skipped: Vec<(PathBuf, String)>,
    /// Records read but rejected, with location and reason.
    pub rejected: Vec<(String, String)>,
    pub notices: Vec<String>,
    /// Files with values that did not convert to their column's type
    /// (stored as null), as the pipeline's notices report them.
    pub conversion_failures: usize,
    /// Tables read lazily (their row counts are not known here); none
    /// while the pipeline reads everything into memory.
    pub lazy_tables: std::collections::BTreeSet<String>,
    /// EVTX records not kept because no rule reads them (only when loaded
    /// for known queries, see [`load_evidence_for`]), and the tables they
    /// were left out of.
    pub unread: usize,
    pub unread_tables: std::collections::BTreeSet<String>,
    /// The latest EVTX event time read, kept or not (ns).
    pub latest_time: Option<i64>,
    /// The temporary store the evidence was staged in, if it was (the
    /// session reads it lazily: keep this report alive with the session).
    pub staging: Option<kqlite_ingest::staging::StagingDir>,
}

impl EvidenceReport {
    pub fn total_rows(&self) -> usize {
        self.rows.values().sum()
    }
}

/// Loads every file under `paths` into `session`, then registers every
/// built-in Sentinel table that got no data as an empty table, so rules
/// over absent tables bind and return nothing. A path that does not exist
/// is an error; unreadable files are reported in `skipped`.
pub async fn load_evidence(session: &mut Session, paths: &[PathBuf]) -> Result<EvidenceReport, DetectError> {
    load_evidence_with(session, paths, Staging::Auto).await
}

/// [`load_evidence`], choosing where the evidence is held.
pub async fn load_evidence_with(
    session: &mut Session,
    paths: &[PathBuf],
    staging: Staging,
) -> Result<EvidenceReport, DetectError> {
    load_evidence_using(session, paths, staging, IngestOptions::default()).await
}

/// [`load_evidence`] for queries known in advance (what they read, from
/// [`Session::scan_needs`]): EVTX records and columns none of them reads
/// are not kept, which makes a hunt over a pile of EVTX several times
/// faster and its memory a fraction. Only those queries' results are
/// right on the session afterwards.
pub async fn load_evidence_for(
    session: &mut Session,
    paths: &[PathBuf],
    needs: Arc<ScanNeeds>,
) -> Result<EvidenceReport, DetectError> {
    let options = IngestOptions { needs: Some(needs), ..IngestOptions::default() };
    load_evidence_using(session, paths, Staging::Auto, options).await
}

/// [`load_evidence`] with the reading settings given: what the queries read
/// (`needs`) and the sizes past which inputs are spooled or staged, which
/// the caller decides (the CLI reads them from its environment).
pub async fn load_evidence_using(
    session: &mut Session,
    paths: &[PathBuf],
    staging: Staging,
    options: IngestOptions,
) -> Result<EvidenceReport, DetectError> {
    let stage = match staging {
        Staging::Store => true,
        Staging::Auto => kqlite_ingest::staging::should_stage(paths, &options),
    };
    if !paths.is_empty() && stage {
        return load_staged(session, paths, options).await;
    }
    let mut report = EvidenceReport::default();
    if !paths.is_empty() {
        let ingested = ingest_paths(paths, &options).map_err(DetectError::Ingest)?;
        report.unread = ingested.unread;
        report.unread_tables = ingested.unread_tables.clone();
        report.latest_time = ingested.latest_time;
        for file in &ingested.files {
            match &file.error {
                Some(error) => report.skipped.push((file.path.clone(), error.clone())),
                None => report.files_read += 1,
            }
        }
        report.rejected = ingested.rejected;
        // The pipeline reports values that did not convert as notices only.
        report.conversion_failures = ingested.notices.iter().filter(|n| n.contains("did not convert")).count();
        report.notices = ingested.notices;
        for table in &ingested.tables {
            *report.rows.entry(table.name.clone()).or_default() +=
                table.batches.iter().map(|b| b.num_rows()).sum::<usize>();
        }
        register_tables(session, ingested.tables).map_err(DetectError::Ingest)?;
    }
    know_absent_catalog_tables(session);
    Ok(report)
}

/// Every built-in Sentinel table without data reads as an empty table, so
/// rules over absent tables bind and return nothing (the catalog is asked
/// lazily, for the tables a query names).
fn know_absent_catalog_tables(session: &mut Session) {
    session.set_catalog(std::sync::Arc::new(kqlite_ingest::catalog::BuiltinCatalog));
}

/// Reads the evidence into a temporary store, then registers its tables.
async fn load_staged(
    session: &mut Session,
    paths: &[PathBuf],
    options: IngestOptions,
) -> Result<EvidenceReport, DetectError> {
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let options = IngestOptions { progress, ..options };
    eprintln!(
        "kqlite: note: {} MiB of evidence: read through a temporary Parquet store, so the rules stream it",
        kqlite_ingest::staging::input_bytes(paths) >> 20
    );
    let (staging, run) = kqlite_ingest::staging::stage(paths, &options).map_err(DetectError::Ingest)?;
    let before = session.table_names();
    register_store(session, staging.path()).await.map_err(DetectError::Ingest)?;
    let lazy = session.table_names().into_iter().filter(|n| !before.contains(n)).collect();
    know_absent_catalog_tables(session);
    let mut report = EvidenceReport::default();
    for file in &run.files {
        match &file.error {
            Some(error) => report.skipped.push((file.path.clone(), error.clone())),
            None => report.files_read += 1,
        }
    }
    for path in &run.already_stored {
        // Same content as a file read in this run.
        report.notices.push(format!("{}: the same content as another input; read once", path.display()));
    }
    report.rejected = run.rejected;
    report.conversion_failures = run.notices.iter().filter(|n| n.contains("did not convert")).count();
    report.notices.extend(run.notices);
    report.rows = run.rows_written;
    report.unread = run.unread;
    report.unread_tables = run.unread_tables;
    report.latest_time = run.latest_time;
    report.lazy_tables = lazy;
    report.staging = Some(staging);
    Ok(report)
}

/// Registers the tables of a store written by `kqlite ingest --store`
/// (read lazily from its Parquet files), then the empty catalog tables,
/// like [`load_evidence`].
pub async fn load_store(session: &mut Session, dir: &std::path::Path) -> Result<EvidenceReport, DetectError> {
    if !dir.is_dir() {
        return Err(DetectError::NoStore { path: dir.to_path_buf() });
    }
    let before = session.table_names();
    kqlite_ingest::register_store(session, dir).await.map_err(DetectError::Ingest)?;
    let mut report = EvidenceReport::default();
    for name in session.table_names() {
        if !before.contains(&name) {
            report.rows.insert(name.clone(), 0);
            report.lazy_tables.insert(name);
        }
    }
    let mut rest = load_evidence(session, &[]).await?;
    rest.rows = report.rows;
    rest.lazy_tables = report.lazy_tables;
    Ok(rest)
}
