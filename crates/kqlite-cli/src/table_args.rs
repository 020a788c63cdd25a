//! Loading `--table Name=PATH` arguments into a session, and `--now`.

use anyhow::{anyhow, bail, Result};
use kqlite_engine::{Clock, Session};
use std::io::Read;
use std::path::PathBuf;
use std::str::FromStr;

/// `Name=PATH`.
#[derive(Clone, Debug)]
pub struct TableArg {
    pub name: String,
    pub path: PathBuf,
}

impl FromStr for TableArg {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.split_once('=') {
            Some((name, path)) if !name.is_empty() && !path.is_empty() => {
                Ok(TableArg { name: name.to_string(), path: PathBuf::from(path) })
            }
            _ => bail!("expected Name=PATH, got '{s}'"),
        }
    }
}

pub fn parse_now(value: &str) -> Result<Clock> {
    match value {
        "system" => Ok(Clock::System),
        "latest" => Ok(Clock::LatestEvent),
        text => kqlite_engine::time::parse_datetime(text).map(Clock::Fixed).ok_or_else(|| {
            anyhow!("--now: '{text}' is not a datetime (expected e.g. 2024-05-01T00:00:00Z, latest or system)")
        }),
    }
}

fn is_parquet(path: &std::path::Path) -> bool {
    if path.is_dir() {
        return true;
    }
    let mut magic = [0u8; 4];
    std::fs::File::open(path).and_then(|mut f| f.read_exact(&mut magic)).is_ok() && &magic == b"PAR1"
}

fn starts_like_syslog(path: &std::path::Path) -> bool {
    let mut head = vec![0u8; 4096];
    let Ok(mut file) = std::fs::File::open(path) else { return false };
    let n = file.read(&mut head).unwrap_or(0);
    kqlite_ingest::syslog::looks_like_syslog(&head[..n])
}

/// Loads every table, printing what was rejected to stderr.
pub async fn load_tables(session: &mut Session, tables: &[TableArg]) -> Result<()> {
    for table in tables {
        if !table.path.exists() {
            bail!("--table {}: {} does not exist", table.name, table.path.display());
        }
        if is_parquet(&table.path) {
            let known = kqlite_ingest::catalog::table_schema(&table.name);
            session
                .register_parquet(&table.name, &table.path.to_string_lossy(), known)
                .await
                .map_err(|e| anyhow!("--table {}: {e}", table.name))?;
            continue;
        }
        let (loaded, report) = if starts_like_syslog(&table.path) {
            // auth.log, secure, RFC 5424 or journalctl JSON: the Syslog table.
            let (mut loaded, report) =
                kqlite_ingest::syslog::load_syslog(&table.path).map_err(|e| anyhow!("--table {}: {e}", table.name))?;
            loaded.name = table.name.clone();
            (loaded, report)
        } else {
            kqlite_ingest::load_file(&table.path, &table.name).map_err(|e| anyhow!("--table {}: {e}", table.name))?
        };
        for notice in &report.notices {
            eprintln!("kqlite: note: {notice}");
        }
        for (location, reason) in report.rejected.iter().take(20) {
            eprintln!("kqlite: rejected {location}: {reason}");
        }
        if report.rejected.len() > 20 {
            eprintln!("kqlite: … and {} more rejected records", report.rejected.len() - 20);
        }
        if !report.rejected.is_empty() || report.conversion_failures > 0 {
            eprintln!(
                "kqlite: {}: {} records read, {} loaded, {} rejected, {} values did not convert to their column type (stored as null)",
                table.path.display(),
                report.records_read,
                report.loaded,
                report.rejected.len(),
                report.conversion_failures
            );
        }
        session
            .register_batches(&loaded.name, loaded.columns, loaded.batches)
            .map_err(|e| anyhow!("--table {}: {e}", table.name))?;
    }
    Ok(())
}

/// A session whose tables are the built-in Sentinel schemas, empty: for
/// binding queries without data.
pub fn catalog_session() -> Session {
    kqlite_ingest::catalog::with_catalog(Session::with_partitions(1))
}
