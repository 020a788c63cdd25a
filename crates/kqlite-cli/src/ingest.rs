//! `kqlite ingest`: read telemetry into a Parquet store (or just check it),
//! with a per-file summary of what was loaded and rejected.

use anyhow::Result;
use clap::Args;
use kqlite_ingest::pipeline::survey_paths;
use kqlite_ingest::store::ingest_to_store;
use kqlite_ingest::{FileSummary, IngestOptions};
use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Load logs into a day-partitioned Parquet store that `kqlite query --store`
/// and `kqlite hunt --store` read.
///
/// Formats are recognised by content, not by file name: EVTX; Sentinel / Log
/// Analytics exports (portal CSV, JSON array or lines, the query API's
/// {"tables":[…]}); Defender exports (portal CSV, API {"Schema","Results"},
/// Graph {"schema","results"}, streaming {"records":[{"category",…}]});
/// Windows events as JSON lines (NXLog, Winlogbeat); syslog (auth.log,
/// secure, RFC 5424, journalctl -o json); Parquet. Files may be gzip or zip;
/// directories are walked recursively (hidden files skipped, files that are
/// no known format listed and skipped).
///
/// Records go to the Sentinel table they belong to: EVTX Security-channel
/// events to SecurityEvent, other channels to WindowsEvent (see
/// --security-in-windowsevent), syslog to Syslog, Defender streaming records to the table
/// their category names; other exports by their Type column, else the
/// catalog table whose columns they match best, else a table named after the
/// file. Every record is loaded or rejected with its file and line/record.
#[derive(Args)]
#[command(
    verbatim_doc_comment,
    after_help = "Examples:
  kqlite ingest ./evidence --store ./store
      Read every log under ./evidence into ./store (run again after adding
      files: only new files are read, by content hash).
  kqlite ingest Security.evtx auth.log.1.gz export.csv
      Read and report only (nothing is written without --store).
  kqlite ingest logs.zip --store ./store --strict
      Fail (exit 1) if any record is rejected; such files are not stored.
  kqlite query --store ./store 'SecurityEvent | summarize count() by EventID'

Store layout: DIR/<Table>/day=YYYY-MM-DD/part-<run>-<worker>-<group>-<n>.parquet,
plus DIR/kqlite-store.json (table columns, and the files ingested with
their content hashes and parts). Files are committed in groups of about
256 MiB: an interrupted run re-reads only the files of unfinished groups.

Exit status: 0 when done (rejections are reported), 1 with --strict when
anything was rejected or unreadable, 2 on bad usage or an unusable store."
)]
pub struct IngestArgs {
    /// Files or directories to read.
    #[arg(required = true, value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// The store to write (created if missing). Without it, inputs are read and reported only.
    #[arg(long, value_name = "DIR")]
    store: Option<PathBuf>,

    /// Exit 1 when any record is rejected or any input cannot be read; files with
    /// rejections are then left out of the store.
    #[arg(long)]
    strict: bool,

    /// Files read at the same time (0: one per CPU).
    #[arg(long, default_value_t = 0, value_name = "N")]
    threads: usize,

    /// How many rejected records to list (all are counted).
    #[arg(long, default_value_t = 20, value_name = "N")]
    show_rejects: usize,

    /// No progress line, even on a terminal.
    #[arg(long, short = 'q')]
    quiet: bool,

    #[command(flatten)]
    windows: WindowsEventArgs,
}

/// Where Windows events go, for the commands that read logs.
#[derive(Args, Clone, Copy, Debug, Default)]
pub struct WindowsEventArgs {
    /// Also put Security-channel events into WindowsEvent. By default they
    /// are SecurityEvent rows only, as the Windows Security Events connector
    /// stores them (WindowsEvent holds the other channels, as the Windows
    /// Forwarded Events connector would), so content that reads both tables,
    /// such as ASIM's parsers, counts each event once. Use this for content
    /// written against the WindowsEvent copy of Security events.
    #[arg(long = "security-in-windowsevent")]
    pub security_in_windows_event: bool,
}

pub fn run(args: IngestArgs) -> Result<ExitCode> {
    let options = IngestOptions {
        strict: args.strict,
        progress: !args.quiet && std::io::stderr().is_terminal(),
        threads: args.threads,
        needs: None,
        security_in_windows_event: args.windows.security_in_windows_event,
        ..options_from_env()
    };
    let started = std::time::Instant::now();
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    let failed = match &args.store {
        Some(dir) => {
            let run = ingest_to_store(&args.paths, dir, &options)?;
            print_notices(&run.notices);
            print_rejections(&run.rejected, args.show_rejects);
            print_files(&mut out, &run.files)?;
            for path in &run.not_stored {
                eprintln!("kqlite: not stored (rejections with --strict, or a write error): {}", path.display());
            }
            let seconds = started.elapsed().as_secs_f64();
            print_totals(&mut out, &run.files, &run.rows_written, seconds)?;
            writeln!(out, "store {}: {} file(s) already stored were skipped", dir.display(), run.already_stored.len())?;
            run.has_failures()
        }
        None => {
            let (ingested, rows) = survey_paths(&args.paths, &options)?;
            print_notices(&ingested.notices);
            print_rejections(&ingested.rejected, args.show_rejects);
            print_files(&mut out, &ingested.files)?;
            print_totals(&mut out, &ingested.files, &rows, started.elapsed().as_secs_f64())?;
            writeln!(out, "nothing written (no --store)")?;
            ingested.has_failures()
        }
    };
    out.flush()?;
    if args.strict && failed {
        eprintln!("kqlite: --strict: records were rejected or inputs could not be read (see above)");
        return Ok(ExitCode::from(1));
    }
    Ok(ExitCode::SUCCESS)
}

/// The ingest settings read from the environment: `KQLITE_SPOOL_BYTES`
/// (extracted content larger than this goes to temporary files) and
/// `KQLITE_STAGING_BYTES` (inputs larger than this are read through a
/// temporary store; 0 stages everything). Unset or not a number: the
/// library's defaults.
pub fn options_from_env() -> IngestOptions {
    let bytes = |name: &str| std::env::var(name).ok().and_then(|v| v.trim().parse::<u64>().ok());
    IngestOptions {
        spool_bytes: bytes("KQLITE_SPOOL_BYTES"),
        staging_bytes: bytes("KQLITE_STAGING_BYTES"),
        ..IngestOptions::default()
    }
}

pub fn print_notices(notices: &[String]) {
    for notice in notices {
        eprintln!("kqlite: note: {notice}");
    }
}

pub fn print_rejections(rejected: &[(String, String)], limit: usize) {
    for (location, reason) in rejected.iter().take(limit) {
        eprintln!("kqlite: rejected {location}: {reason}");
    }
    if rejected.len() > limit {
        eprintln!("kqlite: … and {} more rejected record(s) (--show-rejects N lists more)", rejected.len() - limit);
    }
}

fn print_files(out: &mut impl Write, files: &[FileSummary]) -> Result<()> {
    if files.is_empty() {
        return Ok(());
    }
    writeln!(out, "{:<12} {:>10} {:>10} {:>9}  FILE", "FORMAT", "RECORDS", "LOADED", "REJECTED")?;
    for file in files {
        writeln!(
            out,
            "{:<12} {:>10} {:>10} {:>9}  {}",
            file.format,
            file.records,
            file.loaded,
            file.rejected,
            file.path.display()
        )?;
        if let Some(error) = &file.error {
            writeln!(out, "{:<12} error: {error}", "")?;
        }
    }
    Ok(())
}

fn print_totals(
    out: &mut impl Write,
    files: &[FileSummary],
    rows: &BTreeMap<String, usize>,
    seconds: f64,
) -> Result<()> {
    let records: usize = files.iter().map(|f| f.records).sum();
    let loaded: usize = files.iter().map(|f| f.loaded).sum();
    let rejected: usize = files.iter().map(|f| f.rejected).sum();
    let unreadable = files.iter().filter(|f| f.error.is_some()).count();
    writeln!(
        out,
        "total: {} input(s), {records} records, {loaded} loaded, {rejected} rejected, {unreadable} unreadable, in \
         {seconds:.2}s",
        files.len()
    )?;
    if !rows.is_empty() {
        let tables: Vec<String> = rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
        writeln!(out, "rows by table: {}", tables.join(", "))?;
    }
    Ok(())
}
