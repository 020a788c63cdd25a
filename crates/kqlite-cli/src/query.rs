//! `kqlite query`: run KQL over local files.

use crate::tables::{load_tables, parse_now, TableArg};
use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use kqlite_engine::output::{self, Format};
use kqlite_engine::{QueryError, Session};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run a KQL query over CSV, JSON lines or Parquet files.
///
/// Each --table loads a file (or a directory of Parquet files) as a table.
/// Known Sentinel tables (SecurityEvent, DeviceLogonEvents, Syslog, …) get
/// their Log Analytics schema; other tables get a schema inferred from the
/// data. The query text runs unchanged, with Kusto's semantics.
///
/// Examples:
///   kqlite query --table SecurityEvent=events.csv 'SecurityEvent | where EventID == 4624 | count'
///   kqlite query -f detection.kql --table SecurityEvent=se.parquet --now latest --format json
///
/// Exit status: 0 on success, 1 when the query is rejected or fails, 2 on
/// bad usage or unreadable input.
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct QueryArgs {
    /// The query text (or use -f FILE, or - for standard input).
    #[arg(conflicts_with = "file")]
    query: Option<String>,

    /// Read the query from a file.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,

    /// Load a table: Name=PATH (CSV, JSON, JSON lines or Parquet, detected by content). Repeatable.
    #[arg(long = "table", value_name = "NAME=PATH")]
    tables: Vec<TableArg>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,

    /// The instant now() and ago() use: an ISO 8601 datetime, `latest` (the
    /// newest TimeGenerated/Timestamp in the loaded tables, so ago() works on
    /// old logs), or `system` (default).
    #[arg(long, value_name = "DATETIME|latest|system", default_value = "system")]
    now: String,

    /// Print the DataFusion logical plan instead of running the query.
    #[arg(long)]
    explain: bool,
}

#[derive(Clone, Copy, ValueEnum)]
enum OutputFormat {
    Table,
    Csv,
    Json,
    Jsonl,
}

impl From<OutputFormat> for Format {
    fn from(f: OutputFormat) -> Format {
        match f {
            OutputFormat::Table => Format::Table,
            OutputFormat::Csv => Format::Csv,
            OutputFormat::Json => Format::Json,
            OutputFormat::Jsonl => Format::Jsonl,
        }
    }
}

pub fn run(args: QueryArgs) -> Result<ExitCode> {
    let (text, name) = match (&args.query, &args.file) {
        (_, Some(path)) => (
            std::fs::read_to_string(path).with_context(|| format!("cannot read query file {}", path.display()))?,
            path.display().to_string(),
        ),
        (Some(q), None) if q == "-" => (read_stdin()?, "<stdin>".to_string()),
        (Some(q), None) => (q.clone(), "<query>".to_string()),
        (None, None) if !std::io::stdin().is_terminal() => (read_stdin()?, "<stdin>".to_string()),
        (None, None) => bail!("no query given: pass the query text, -f FILE or - (see kqlite query --help)"),
    };
    let runtime = tokio::runtime::Runtime::new().context("cannot start the query runtime")?;
    runtime.block_on(async {
        let mut session = Session::new();
        session.set_clock(parse_now(&args.now)?);
        load_tables(&mut session, &args.tables).await?;
        let format: Format = args.format.into();
        if args.explain {
            return match session.plan(&text).await {
                Ok(plan) => {
                    println!("{}", plan.display_indent());
                    Ok(ExitCode::SUCCESS)
                }
                Err(e) => report_error(&e, &text, &name, format),
            };
        }
        match session.query(&text).await {
            Ok(result) => {
                for notice in &result.notices {
                    eprintln!("kqlite: note: {notice}");
                }
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                output::write(&result, format, &mut out)?;
                out.flush()?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => report_error(&e, &text, &name, format),
        }
    })
}

fn read_stdin() -> Result<String> {
    let mut text = String::new();
    std::io::stdin().read_to_string(&mut text).context("cannot read the query from standard input")?;
    Ok(text)
}

/// JSON formats get `{"error": {"message", "line", "col"}}` on stdout;
/// others get a rendered diagnostic on stderr.
fn report_error(error: &QueryError, text: &str, name: &str, format: Format) -> Result<ExitCode> {
    match format {
        Format::Json | Format::Jsonl => {
            let (message, position) = error.located(text);
            let value = serde_json::json!({
                "error": {
                    "message": message,
                    "line": position.map(|p| p.0),
                    "col": position.map(|p| p.1),
                }
            });
            println!("{value}");
        }
        _ => eprint!("{}", error.render(text, name)),
    }
    Ok(ExitCode::from(1))
}
