//! `kqlite tables`: the Sentinel / Log Analytics / Defender XDR tables kqlite
//! knows, their columns and KQL types, and the rows a store holds.

use anyhow::{anyhow, bail, Result};
use clap::{Args, ValueEnum};
use kqlite_engine::{ColumnDef, Session};
use kqlite_syntax::suggest::{suggest, MaxDistance};
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// List the tables queries can name, or one table's columns and KQL types.
///
/// Every Log Analytics table (SecurityEvent, Syslog, SigninLogs, …) and
/// Defender XDR's advanced-hunting tables (DeviceProcessEvents, EmailEvents,
/// AlertEvidence, …) exist in kqlite as in a Sentinel workspace: a query over
/// one the evidence has no rows for finds it empty, with these columns.
/// Names are case-sensitive, as in Kusto.
#[derive(Args)]
#[command(
    verbatim_doc_comment,
    after_help = "Examples:
  kqlite tables
      Every table with its number of columns.
  kqlite tables DeviceLogonEvents
      Its columns and their KQL types (Defender's tables have both Timestamp
      and TimeGenerated, so queries written for either run).
  kqlite tables --store ./store
      Also the rows each table holds in a store made by `kqlite ingest --store`
      (tables the store holds outside the catalog are listed too).
  kqlite tables SecurityEvent --format json

Exit status: 0 on success, 1 when NAME is no table, 2 on bad usage or an
unreadable store."
)]
pub struct TablesArgs {
    /// A table to describe: its columns and their KQL types.
    name: Option<String>,

    /// Also count the rows each table holds in this store.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = TablesFormat::Table)]
    format: TablesFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum TablesFormat {
    /// Aligned text.
    Table,
    /// One JSON document.
    Json,
}

/// A table as listed: its columns, and its rows when a store was given.
struct Listed {
    columns: Vec<ColumnDef>,
    rows: Option<usize>,
}

pub fn run(args: TablesArgs) -> Result<ExitCode> {
    let tables = listed_tables(args.store.as_ref())?;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    match &args.name {
        None => write_list(&mut out, &tables, args.format)?,
        Some(name) => {
            let Some(table) = tables.get(name.as_str()) else {
                let hint = suggest(name, tables.keys().map(String::as_str), MaxDistance::Name)
                    .map(|s| format!("; did you mean '{s}'?"))
                    .unwrap_or_default();
                eprintln!("kqlite: no table '{name}'{hint} (`kqlite tables` lists them)");
                return Ok(ExitCode::from(1));
            };
            write_table(&mut out, name, table, args.format)?;
        }
    }
    out.flush()?;
    Ok(ExitCode::SUCCESS)
}

/// The catalog's tables, with the store's (and their rows) when given.
fn listed_tables(store: Option<&PathBuf>) -> Result<BTreeMap<String, Listed>> {
    let mut tables: BTreeMap<String, Listed> = kqlite_ingest::catalog::table_names()
        .map(|name| {
            let columns = kqlite_ingest::catalog::table_schema(name).unwrap_or_default().to_vec();
            (name.to_string(), Listed { columns, rows: store.map(|_| 0) })
        })
        .collect();
    let Some(dir) = store else { return Ok(tables) };
    if !dir.is_dir() {
        bail!("--store {}: no such directory", dir.display());
    }
    let runtime = crate::query_runtime()?;
    runtime.block_on(async {
        let mut session = Session::new();
        kqlite_ingest::register_store(&mut session, dir).await.map_err(|e| anyhow!("--store: {e}"))?;
        for name in session.table_names() {
            let query = format!("['{}'] | count", name.replace('\'', "\\'"));
            let result = session.query(&query).await.map_err(|e| anyhow!("--store: counting {name}: {e}"))?;
            let rows = kqlite_detect::hunt::result_rows(&result)
                .first()
                .and_then(|row| row.first())
                .and_then(Value::as_u64)
                .unwrap_or(0);
            let columns = session.table_columns(&name).unwrap_or_default().to_vec();
            tables.insert(name, Listed { columns, rows: Some(usize::try_from(rows).unwrap_or(usize::MAX)) });
        }
        Ok(tables)
    })
}

fn write_list(out: &mut impl Write, tables: &BTreeMap<String, Listed>, format: TablesFormat) -> Result<()> {
    match format {
        TablesFormat::Json => {
            let list: Vec<Value> = tables
                .iter()
                .map(|(name, t)| {
                    let mut entry = json!({ "table": name, "columns": t.columns.len() });
                    if let Some(rows) = t.rows {
                        entry["rows"] = json!(rows);
                    }
                    entry
                })
                .collect();
            writeln!(out, "{}", serde_json::to_string_pretty(&list)?)?;
        }
        TablesFormat::Table => {
            let width = tables.keys().map(String::len).max().unwrap_or(0).max("Table".len());
            let with_rows = tables.values().any(|t| t.rows.is_some());
            write!(out, "{:width$}  Columns", "Table")?;
            writeln!(out, "{}", if with_rows { "  Rows" } else { "" })?;
            for (name, t) in tables {
                write!(out, "{name:width$}  {:>7}", t.columns.len())?;
                match t.rows {
                    Some(rows) => writeln!(out, "  {rows}")?,
                    None => writeln!(out)?,
                }
            }
        }
    }
    Ok(())
}

fn write_table(out: &mut impl Write, name: &str, table: &Listed, format: TablesFormat) -> Result<()> {
    match format {
        TablesFormat::Json => {
            let columns: Vec<Value> =
                table.columns.iter().map(|c| json!({ "name": c.name, "type": c.ty.name() })).collect();
            let mut doc = json!({ "table": name, "columns": columns });
            if let Some(rows) = table.rows {
                doc["rows"] = json!(rows);
            }
            writeln!(out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        TablesFormat::Table => {
            match table.rows {
                Some(rows) => writeln!(out, "{name}: {} columns, {rows} rows", table.columns.len())?,
                None => writeln!(out, "{name}: {} columns", table.columns.len())?,
            }
            let width = table.columns.iter().map(|c| c.name.len()).max().unwrap_or(0);
            for column in &table.columns {
                writeln!(out, "  {:width$}  {}", column.name, column.ty.name())?;
            }
        }
    }
    Ok(())
}
