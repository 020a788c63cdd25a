//! Loading evidence (files and directories of logs) into a session's tables.
//!
//! One function, [`load_evidence`], so the reader can move to the ingest
//! pipeline without touching the hunt: EVTX files go to `SecurityEvent` and
//! `WindowsEvent`, syslog text to `Syslog`, and CSV/JSON/Parquet files to the
//! table their file name starts with (`SecurityEvent.csv`,
//! `DeviceLogonEvents-2024-05.jsonl`).

use kqlite_engine::{ColumnDef, Session};
use kqlite_ingest::LoadReport;
use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

/// What loading the evidence did.
#[derive(Debug, Default)]
pub struct EvidenceReport {
    /// Table → rows loaded.
    pub rows: BTreeMap<String, usize>,
    pub files_read: usize,
    /// Files not read, with why (unknown table name, unreadable, …).
    pub skipped: Vec<(PathBuf, String)>,
    /// Records read but rejected, with location and reason.
    pub rejected: Vec<(String, String)>,
    pub notices: Vec<String>,
    /// Values that did not convert to their column's type (stored as null).
    pub conversion_failures: usize,
    /// Parquet tables, read lazily: their row counts are not known here.
    pub lazy_tables: std::collections::BTreeSet<String>,
}

impl EvidenceReport {
    fn absorb(&mut self, report: &LoadReport) {
        self.rejected.extend(report.rejected.iter().cloned());
        self.conversion_failures += report.conversion_failures;
        self.notices.extend(report.notices.iter().cloned());
    }

    pub fn total_rows(&self) -> usize {
        self.rows.values().sum()
    }
}

fn walk(path: &Path, out: &mut Vec<PathBuf>) -> Result<(), String> {
    if path.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| format!("cannot read directory {}: {e}", path.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .collect();
        entries.sort();
        for entry in entries {
            walk(&entry, out)?;
        }
        Ok(())
    } else if path.is_file() {
        out.push(path.to_path_buf());
        Ok(())
    } else {
        Err(format!("{} does not exist", path.display()))
    }
}

fn head(path: &Path) -> Vec<u8> {
    let mut buf = vec![0u8; 4096];
    let n = std::fs::File::open(path).and_then(|mut f| f.read(&mut buf)).unwrap_or(0);
    buf.truncate(n);
    buf
}

/// The Sentinel table a file's name names: the longest known table name
/// the stem starts with, followed by nothing or a separator.
fn table_for(path: &Path) -> Option<String> {
    let stem = path.file_name()?.to_string_lossy().into_owned();
    kqlite_ingest::catalog::table_names()
        .filter(|t| {
            stem.len() >= t.len()
                && stem[..t.len()].eq_ignore_ascii_case(t)
                && stem[t.len()..].chars().next().is_none_or(|c| matches!(c, '.' | '-' | '_' | ' '))
        })
        .max_by_key(|t| t.len())
        .map(str::to_string)
}

struct Accumulated {
    columns: Vec<ColumnDef>,
    batches: Vec<datafusion::arrow::record_batch::RecordBatch>,
}

/// Loads every file under `paths` into `session`, then registers every
/// built-in Sentinel table that got no data as an empty table, so rules
/// over absent tables bind and return nothing.
pub async fn load_evidence(session: &mut Session, paths: &[PathBuf]) -> Result<EvidenceReport, String> {
    let mut files = Vec::new();
    for path in paths {
        walk(path, &mut files)?;
    }
    let mut report = EvidenceReport::default();
    let mut tables: BTreeMap<String, Accumulated> = BTreeMap::new();
    let mut add = |name: &str,
                   columns: Vec<ColumnDef>,
                   batches: Vec<datafusion::arrow::record_batch::RecordBatch>,
                   report: &mut EvidenceReport| {
        let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
        *report.rows.entry(name.to_string()).or_default() += rows;
        match tables.get_mut(name) {
            Some(existing) if existing.columns == columns => existing.batches.extend(batches),
            Some(_) => {
                return Err(format!("files for table {name} have different columns; load them as separate tables"))
            }
            None => {
                tables.insert(name.to_string(), Accumulated { columns, batches });
            }
        }
        Ok(())
    };
    let mut evtx = Vec::new();
    let mut parquet = Vec::new();
    for file in files {
        let extension = file.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
        if extension == "evtx" {
            evtx.push(file);
            continue;
        }
        let head = head(&file);
        if head.starts_with(b"PAR1") {
            match table_for(&file) {
                Some(t) => parquet.push((t, file)),
                None => report.skipped.push((file, "Parquet file not named after a Sentinel table".into())),
            }
            continue;
        }
        if kqlite_ingest::syslog::looks_like_syslog(&head) {
            match kqlite_ingest::syslog::load_syslog(&file) {
                Ok((loaded, load)) => {
                    report.files_read += 1;
                    report.absorb(&load);
                    add("Syslog", loaded.columns, loaded.batches, &mut report)?;
                }
                Err(e) => report.skipped.push((file, e)),
            }
            continue;
        }
        let Some(table) = table_for(&file) else {
            report.skipped.push((file, "not EVTX or syslog, and not named after a Sentinel table".into()));
            continue;
        };
        match kqlite_ingest::load_file(&file, &table) {
            Ok((loaded, load)) => {
                report.files_read += 1;
                report.absorb(&load);
                add(&table, loaded.columns, loaded.batches, &mut report)?;
            }
            Err(e) => report.skipped.push((file, e.to_string())),
        }
    }
    if !evtx.is_empty() {
        let load = kqlite_ingest::evtx::load_evtx_files(&evtx, &kqlite_ingest::evtx::EvtxOptions::default());
        report.files_read += load.files.iter().filter(|f| f.error.is_none()).count();
        report.absorb(&load.report);
        for table in load.tables {
            add(&table.name, table.columns, table.batches, &mut report)?;
        }
    }
    for (name, acc) in tables {
        session.register_batches(&name, acc.columns, acc.batches).map_err(|e| format!("table {name}: {e}"))?;
    }
    for (name, path) in parquet {
        if session.table_names().contains(&name) {
            return Err(format!("{}: table {name} also has non-Parquet files", path.display()));
        }
        let known = kqlite_ingest::catalog::table_schema(&name);
        session
            .register_parquet(&name, &path.to_string_lossy(), known)
            .await
            .map_err(|e| format!("{}: {e}", path.display()))?;
        report.files_read += 1;
        report.rows.entry(name.clone()).or_default();
        report.lazy_tables.insert(name);
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_name_tables() {
        assert_eq!(table_for(Path::new("x/SecurityEvent.csv")).as_deref(), Some("SecurityEvent"));
        assert_eq!(table_for(Path::new("DeviceLogonEvents-2024.jsonl")).as_deref(), Some("DeviceLogonEvents"));
        assert_eq!(table_for(Path::new("securityevent_1.json")).as_deref(), Some("SecurityEvent"));
        assert_eq!(table_for(Path::new("SecurityEvents.csv")), None);
        assert_eq!(table_for(Path::new("expected.yaml")), None);
    }
}
