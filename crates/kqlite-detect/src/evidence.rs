//! Loading evidence (files and directories of logs) into a session's tables.
//!
//! One function, [`load_evidence`], over the ingest pipeline
//! (`kqlite_ingest::pipeline`): EVTX to `SecurityEvent` and `WindowsEvent`,
//! syslog text to `Syslog`, CSV/JSON/Parquet (plain, .gz or .zip) to the
//! Sentinel table their content matches, in parallel across files.

use kqlite_engine::Session;
use kqlite_ingest::pipeline::{ingest_paths, register_tables, IngestOptions};
use std::collections::BTreeMap;
use std::path::PathBuf;

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
pub async fn load_evidence(session: &mut Session, paths: &[PathBuf]) -> Result<EvidenceReport, String> {
    let mut report = EvidenceReport::default();
    if !paths.is_empty() {
        let ingested = ingest_paths(paths, &IngestOptions::default())?;
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
        register_tables(session, ingested.tables)?;
    }
    let present = session.table_names();
    for name in kqlite_ingest::catalog::table_names() {
        if !present.iter().any(|p| p == name) {
            let columns = kqlite_ingest::catalog::table_schema(name).expect("listed").to_vec();
            session.register_batches(name, columns, Vec::new())?;
        }
    }
    Ok(report)
}

/// Registers the tables of a store written by `kqlite ingest --store`
/// (read lazily from its Parquet files), then the empty catalog tables,
/// like [`load_evidence`].
pub async fn load_store(session: &mut Session, dir: &std::path::Path) -> Result<EvidenceReport, String> {
    if !dir.is_dir() {
        return Err(format!("store {} does not exist", dir.display()));
    }
    let before = session.table_names();
    kqlite_ingest::pipeline::register_store(session, dir).await?;
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
