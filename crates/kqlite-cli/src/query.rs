//! `kqlite query`: run KQL over local files.

use crate::content_args::ContentArgs;
use crate::table_args::{load_tables, parse_now, TableArg};
use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, ValueEnum};
use kqlite_detect::content::Content;
use kqlite_engine::output::{self, Format};
use kqlite_engine::{Clock, QueryError, Session};
use std::io::{IsTerminal, Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run a KQL query over logs: files or directories read on the fly, a store
/// made by `kqlite ingest --store`, or single files loaded with --table.
///
/// Paths after the query are read like `kqlite ingest` reads them (EVTX,
/// Sentinel and Defender exports, syslog, Windows JSON, Parquet; plain, .gz
/// or .zip) into their Sentinel tables. Known Sentinel tables
/// (SecurityEvent, DeviceLogonEvents, Syslog, …) get their Log Analytics
/// schema; other tables get a schema inferred from the data. The query text
/// runs unchanged, with Kusto's semantics.
///
/// Examples:
///   kqlite query 'SecurityEvent | where EventID == 4625 | count' ./evtx-logs
///   kqlite query --store ./store 'SecurityEvent | summarize count() by EventID'
///   kqlite query -f detection.kql --now latest --format json -- logs/ auth.log.gz
///   kqlite query --table SecurityEvent=events.csv 'SecurityEvent | count'
///   kqlite query --content ~/Azure-Sentinel 'imAuthentication | count' ./evtx-logs
///
/// Charts: a query ending in `render` (timechart, linechart, areachart,
/// stackedareachart, scatterchart, anomalychart, columnchart, barchart,
/// piechart) is drawn as SVG with --format html (a page with the chart and
/// the table) or --chart FILE.svg (the chart alone, the table still printed):
///   kqlite query --format html --now latest 'SecurityEvent
///     | summarize Logons = count() by bin(TimeGenerated, 1h), Computer
///     | render timechart with (title="Logons per hour")' ./evtx-logs > logons.html
///   kqlite query --chart events.svg 'SecurityEvent | summarize n = count() by Activity
///     | top 10 by n | render piechart' ./evtx-logs
/// The x axis is `xcolumn` (default: the first datetime column of a time
/// chart, else the first column), the y axis the `ycolumns` (default: every
/// numeric column), and each distinct value of the `series` columns (default:
/// the first string column) is a series of its own.
///
/// Several tables: a query ending in `fork` or `facet` makes one table per
/// branch or facet, as Kusto does; each is printed under its name (table
/// and csv: a `# Name` line before each; json: {"tables":[{"name",
/// "columns","rows"},…]}; jsonl: {"table":"Name","row":{…}} per row).
///
/// Exit status: 0 on success, 1 when the query is rejected or fails (or, with
/// --strict, when input records were rejected), 2 on bad usage or unreadable
/// input.
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct QueryArgs {
    #[command(flatten)]
    pub memory: crate::memory_args::MemoryArgs,

    /// The query text (or use -f FILE, or - for standard input).
    query: Option<String>,

    /// Files or directories to read into their tables before the query runs.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// Query a store made by `kqlite ingest --store DIR`.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,

    /// Fail (exit 1) before running the query when any record of PATHs is rejected.
    #[arg(long)]
    strict: bool,

    /// Read the query from a file.
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    file: Option<PathBuf>,

    /// Load a table: Name=PATH (CSV, JSON, JSON lines or Parquet, detected by content). Repeatable.
    #[arg(long = "table", value_name = "NAME=PATH")]
    tables: Vec<TableArg>,

    /// Output format: html writes one self-contained page with the table
    /// and, when the query ends in `render`, its chart (inline SVG).
    #[arg(long, value_enum, default_value_t = QueryFormat::Table)]
    format: QueryFormat,

    /// Also write the chart of the query's `render` to FILE as SVG (the
    /// query must end in `render timechart`, `… piechart`, etc.).
    #[arg(long, value_name = "FILE.svg")]
    chart: Option<PathBuf>,

    /// The instant now() and ago() use: an ISO 8601 datetime, `latest` (the
    /// newest TimeGenerated/Timestamp in the loaded tables, so ago() works on
    /// old logs), or `system` (default).
    #[arg(long, value_name = "DATETIME|latest|system", default_value = "system")]
    now: String,

    /// Print the DataFusion logical plan instead of running the query.
    #[arg(long)]
    explain: bool,

    #[command(flatten)]
    windows: crate::ingest::WindowsEventArgs,

    #[command(flatten)]
    content: ContentArgs,
}

/// `--format` of `kqlite query`: the table formats, and a page with the chart.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum QueryFormat {
    Table,
    Csv,
    Json,
    Jsonl,
    Html,
}

impl QueryFormat {
    /// How rows are printed (an HTML page's errors print as for a table).
    fn rows(self) -> Format {
        match self {
            QueryFormat::Table | QueryFormat::Html => Format::Table,
            QueryFormat::Csv => Format::Csv,
            QueryFormat::Json => Format::Json,
            QueryFormat::Jsonl => Format::Jsonl,
        }
    }
}

pub fn run(mut args: QueryArgs) -> Result<ExitCode> {
    args.memory.apply();
    // With -f, the first positional is a path, not the query.
    if args.file.is_some() {
        if let Some(first) = args.query.take() {
            args.paths.insert(0, PathBuf::from(first));
        }
    }
    let (text, name) = query_text(
        args.query.as_ref(),
        args.file.as_ref(),
        "no query given: pass the query text, -f FILE or - (see kqlite query --help)",
    )?;
    let content = args.content.load(false)?;
    let runtime = crate::query_runtime()?;
    runtime.block_on(async {
        let mut session = kqlite_ingest::catalog::new_session();
        session.set_clock(parse_now(&args.now)?);
        add_content(&mut session, &content)?;
        if let Some(store) = &args.store {
            kqlite_ingest::register_store(&mut session, store).await.map_err(|e| anyhow!("--store: {e}"))?;
        }
        // Holds a staged store's files until the query has run.
        let mut _staging = None;
        let mut unread_latest = None;
        if !args.paths.is_empty() {
            // What the query reads: EVTX records and columns it does not are left unread.
            let needs = query_needs(&text, &content);
            let staging = kqlite_ingest::IngestOptions { needs: needs.clone(), ..crate::ingest::options_from_env() };
            if args.store.is_none() && kqlite_ingest::staging::should_stage(&args.paths, &staging) {
                match stage_on_the_fly(&mut session, &args).await? {
                    Ok(staging) => _staging = Some(staging),
                    Err(code) => return Ok(code),
                }
            } else if let Some(code) = ingest_on_the_fly(&mut session, &args, needs, &mut unread_latest)? {
                return Ok(code);
            }
        }
        load_tables(&mut session, &args.tables).await?;
        if unread_latest.is_some() && parse_now(&args.now)? == Clock::LatestEvent {
            // now() is the latest event of every record read, kept or not.
            let kept = session.latest_event_time().await.map_err(|e| anyhow!("{e}"))?;
            session.set_clock(Clock::Fixed(kept.max(unread_latest).unwrap_or_else(kqlite_engine::time::now_nanos)));
        }
        let format = args.format.rows();
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
                if let Some(path) = &args.chart {
                    write_chart(&result, path)?;
                }
                let stdout = std::io::stdout();
                let mut out = std::io::BufWriter::new(stdout.lock());
                if args.format == QueryFormat::Html {
                    let page = kqlite_chart::html_page(&result, &text);
                    if result.has_several_tables() {
                        eprintln!(
                            "kqlite: note: the query made {} tables; the page shows the first (use --format table, csv, json or jsonl for all)",
                            result.tables().len()
                        );
                    }
                    if let Some(error) = &page.chart_error {
                        eprintln!("kqlite: note: the page has no chart: {error}");
                    }
                    out.write_all(page.html.as_bytes())?;
                } else {
                    output::write(&result, format, &mut out)?;
                }
                out.flush()?;
                Ok(ExitCode::SUCCESS)
            }
            Err(e) => report_error(&e, &text, &name, format),
        }
    })
}

/// `--chart FILE`: the query's `render` drawn as SVG into `path`.
fn write_chart(result: &kqlite_engine::QueryResult, path: &std::path::Path) -> Result<()> {
    let Some(viz) = &result.visualization else {
        bail!("--chart: the query has no `render`; end it with e.g. `| render timechart` or `| render piechart`");
    };
    let svg = kqlite_chart::draw_svg(result, viz)
        .map_err(|e| anyhow!("--chart: cannot draw the {}: {e}", viz.chart.name()))?;
    std::fs::write(path, svg).with_context(|| format!("--chart: cannot write {}", path.display()))
}

/// What `text` reads from the built-in tables (see
/// `Session::scan_needs`); `None` when it does not bind against them alone
/// (it names a `--table`, say): then everything is read.
fn query_needs(text: &str, content: &Content) -> Option<std::sync::Arc<kqlite_engine::ScanNeeds>> {
    let mut session = kqlite_ingest::catalog::new_session();
    add_content(&mut session, content).ok()?;
    session.scan_needs(text).ok().map(std::sync::Arc::new)
}

/// kqlite's built-in functions (`SshdAuthentication`, the ASIM helpers a
/// workspace has built in), as a hunt has them; and `--content`'s parsers
/// and watchlists (with `_GetWatchlist`, which ASIM's parsers call).
pub(crate) fn add_content(session: &mut Session, content: &Content) -> Result<()> {
    for (name, text) in kqlite_detect::pack::builtin_functions() {
        session.define_named_functions(&name, &text).map_err(|e| anyhow!("built-in functions {name}: {e}"))?;
    }
    if content.parsers.is_empty() && content.watchlists.is_empty() {
        return Ok(());
    }
    kqlite_detect::watchlist::register(session, &content.watchlists)?;
    content.add_parsers_to(session);
    Ok(())
}

/// Reads PATHs into the session (their tables replace same-named store
/// tables), keeping only what `needs` says the query reads (when records
/// were left unread, `unread_latest` gets the latest event time of all
/// records); returns an exit code when --strict stops the run.
fn ingest_on_the_fly(
    session: &mut Session,
    args: &QueryArgs,
    needs: Option<std::sync::Arc<kqlite_engine::ScanNeeds>>,
    unread_latest: &mut Option<i64>,
) -> Result<Option<ExitCode>> {
    let options = kqlite_ingest::IngestOptions {
        strict: false,
        progress: std::io::stderr().is_terminal(),
        threads: 0,
        needs,
        security_in_windows_event: args.windows.security_in_windows_event,
        ..crate::ingest::options_from_env()
    };
    let ingested = kqlite_ingest::ingest_paths(&args.paths, &options)?;
    crate::ingest::print_notices(&ingested.notices);
    crate::ingest::print_rejections(&ingested.rejected, 20);
    for file in ingested.files.iter().filter(|f| f.error.is_some()) {
        eprintln!("kqlite: unreadable: {}", file.error.as_deref().unwrap_or_default());
    }
    let records: usize = ingested.files.iter().map(|f| f.records).sum();
    let loaded: usize = ingested.files.iter().map(|f| f.loaded).sum();
    if !ingested.rejected.is_empty() || records != loaded + ingested.unread {
        eprintln!(
            "kqlite: {} input(s): {records} records read, {loaded} loaded, {} rejected",
            ingested.files.len(),
            ingested.rejected.len()
        );
    }
    if args.strict && ingested.has_failures() {
        eprintln!("kqlite: --strict: records were rejected or inputs could not be read; the query was not run");
        return Ok(Some(ExitCode::from(1)));
    }
    if args.store.is_some() {
        let replaced: Vec<&str> =
            ingested.tables.iter().map(|t| t.name.as_str()).filter(|n| session.table_columns(n).is_some()).collect();
        if !replaced.is_empty() {
            eprintln!("kqlite: note: tables read from PATHs replace the store's: {}", replaced.join(", "));
        }
    }
    if ingested.unread > 0 {
        *unread_latest = ingested.latest_time;
    }
    let left_out: Vec<String> = ingested
        .unread_tables
        .iter()
        .filter(|t| !ingested.tables.iter().any(|loaded| &loaded.name == *t))
        .cloned()
        .collect();
    kqlite_ingest::register_tables(session, ingested.tables)?;
    // A table whose every record the query cannot match (`where false`) was
    // read and left out: it exists, empty, rather than being unknown.
    for table in left_out {
        let columns = kqlite_ingest::catalog::table_schema(&table).map(<[_]>::to_vec).unwrap_or_default();
        session.register_batches(&table, columns, Vec::new())?;
    }
    Ok(None)
}

/// Large PATHs: read into a temporary store the query then streams
/// (bounded memory); the error value is the exit code when --strict stops
/// the run.
async fn stage_on_the_fly(
    session: &mut Session,
    args: &QueryArgs,
) -> Result<std::result::Result<kqlite_ingest::staging::StagingDir, ExitCode>> {
    let options = kqlite_ingest::IngestOptions {
        strict: false,
        progress: std::io::stderr().is_terminal(),
        threads: 0,
        security_in_windows_event: args.windows.security_in_windows_event,
        ..crate::ingest::options_from_env()
    };
    eprintln!(
        "kqlite: note: {} MiB of input: read through a temporary Parquet store, so the query streams it",
        kqlite_ingest::staging::input_bytes(&args.paths) >> 20
    );
    let (staging, run) = kqlite_ingest::staging::stage(&args.paths, &options)?;
    crate::ingest::print_notices(&run.notices);
    crate::ingest::print_rejections(&run.rejected, 20);
    for file in run.files.iter().filter(|f| f.error.is_some()) {
        eprintln!("kqlite: unreadable: {}", file.error.as_deref().unwrap_or_default());
    }
    if args.strict && run.has_failures() {
        eprintln!("kqlite: --strict: records were rejected or inputs could not be read; the query was not run");
        return Ok(Err(ExitCode::from(1)));
    }
    kqlite_ingest::register_store(session, staging.path()).await?;
    Ok(Ok(staging))
}

/// The query text and the name diagnostics give it: the file's content
/// with `file`, standard input with `-` (or with no query when standard
/// input is not a terminal), else the query argument. With neither and a
/// terminal, fails with `usage`.
pub(crate) fn query_text(query: Option<&String>, file: Option<&PathBuf>, usage: &str) -> Result<(String, String)> {
    Ok(match (query, file) {
        (_, Some(path)) => (
            std::fs::read_to_string(path).with_context(|| format!("cannot read query file {}", path.display()))?,
            path.display().to_string(),
        ),
        (Some(q), None) if q == "-" => (read_stdin()?, "<stdin>".to_string()),
        (Some(q), None) => (q.clone(), "<query>".to_string()),
        (None, None) if !std::io::stdin().is_terminal() => (read_stdin()?, "<stdin>".to_string()),
        (None, None) => bail!("{usage}"),
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
