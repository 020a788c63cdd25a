//! `kqlite serve`: the Kusto and Log Analytics query APIs over local
//! evidence and stores, for the clients analysts already use.

use crate::content_args::ContentArgs;
use crate::table_args::parse_now;
use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use kqlite_engine::{Clock, Session};
use kqlite_server::{Database, Databases, Limits, ServerState, Tokens};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::time::Duration;

/// Serve the Kusto (ADX) REST API and the Log Analytics query API, so
/// azure-kusto-data, Kusto.Explorer (an http URL, "allow unsafe
/// connections"), Azure Data Studio, Kqlmagic and azure-monitor-query's
/// LogsQueryClient query local evidence unchanged.
///
/// Each --store is a database; PATHs (read as `kqlite query PATHS` reads
/// them) become the database `evidence`, the default one. Routes:
/// POST /v2/rest/query, /v1/rest/query, /v1/rest/mgmt (.show databases,
/// tables, functions, version, database DB schema [as json], databases
/// schema as json), and POST/GET /v1/workspaces/{id}/query (a workspace id
/// that names no database queries the default one).
///
/// Safe by default: binds 127.0.0.1; another address needs --token-file
/// (Bearer tokens, one per line); queries read only the served databases
/// (externaldata is refused), each within --timeout (or the request's
/// servertimeout; Log Analytics' Prefer: wait=N), at most --max-concurrent
/// at once. A query past its budget, or whose client disconnects, is
/// cancelled and stops using the CPU; Ctrl-C lets requests in flight finish
/// for --shutdown-grace, then cancels them.
///
/// Examples:
///   kqlite serve ./evtx-logs
///   kqlite serve --store demo=./demo-store --now latest
///   kqlite serve --bind 0.0.0.0:8080 --token-file tokens.txt --store prod=./store
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct ServeArgs {
    #[command(flatten)]
    pub memory: crate::memory_args::MemoryArgs,

    /// Files or directories read at start into the database `evidence`.
    #[arg(value_name = "PATH")]
    paths: Vec<PathBuf>,

    /// The address to listen on.
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8080")]
    bind: SocketAddr,

    /// A store made by `kqlite ingest --store DIR`, served as database NAME. Repeatable.
    #[arg(long = "store", value_name = "NAME=DIR")]
    stores: Vec<StoreArg>,

    /// Bearer tokens clients must send, one per line (required for a non-loopback --bind).
    #[arg(long, value_name = "FILE")]
    token_file: Option<PathBuf>,

    /// The instant now() and ago() use: an ISO 8601 datetime, `latest` (the
    /// newest event in each database, fixed at start) or `system` (default).
    #[arg(long, value_name = "DATETIME|latest|system", default_value = "system")]
    now: String,

    /// A query's time budget when the request sets no servertimeout.
    #[arg(long, value_name = "SECONDS", default_value_t = 240)]
    timeout: u64,

    /// Queries run at once (default: the number of CPUs); more wait in a queue.
    #[arg(long, value_name = "N")]
    max_concurrent: Option<usize>,

    /// Queries waiting for a slot before requests are refused with 429.
    #[arg(long, value_name = "N", default_value_t = 64)]
    max_queued: usize,

    /// The largest request body accepted, in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 1 << 20)]
    max_body_bytes: usize,

    /// On Ctrl-C, how long requests in flight may finish before the server
    /// stops and cancels them (a second Ctrl-C stops at once).
    #[arg(long, value_name = "SECONDS", default_value_t = 10)]
    shutdown_grace: u64,

    #[command(flatten)]
    content: ContentArgs,
}

/// `NAME=DIR`.
#[derive(Clone, Debug)]
pub struct StoreArg {
    name: String,
    dir: PathBuf,
}

impl FromStr for StoreArg {
    type Err = anyhow::Error;

    fn from_str(s: &str) -> Result<Self> {
        match s.split_once('=') {
            Some((name, dir)) if !name.is_empty() && !dir.is_empty() => {
                Ok(StoreArg { name: name.to_string(), dir: PathBuf::from(dir) })
            }
            _ => bail!("expected NAME=DIR, got '{s}'"),
        }
    }
}

/// The database PATHs are read into.
const EVIDENCE_DATABASE: &str = "evidence";

pub fn run(args: ServeArgs) -> Result<ExitCode> {
    args.memory.apply();
    let tokens = match &args.token_file {
        Some(path) => {
            let text = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read --token-file {}", path.display()))?;
            let tokens = Tokens::from_file_text(&text);
            if tokens.is_empty() {
                bail!("--token-file {} holds no token", path.display());
            }
            tokens
        }
        None => Tokens::default(),
    };
    // Refused before minutes of ingesting, not after.
    kqlite_server::check_bind(args.bind, &tokens)?;
    let content = args.content.load(false)?;
    let clock = parse_now(&args.now)?;
    let runtime = crate::query_runtime()?;
    runtime.block_on(async {
        let mut databases = Vec::new();
        // Staged evidence lives in a temporary store the session reads: kept until the server stops.
        let mut _staging = None;
        if !args.paths.is_empty() || args.stores.is_empty() {
            let mut session = new_session(&content)?;
            if !args.paths.is_empty() {
                let report = kqlite_detect::evidence::load_evidence(&mut session, &args.paths).await?;
                for (path, why) in report.skipped.iter().take(20) {
                    eprintln!("kqlite serve: not read: {}: {why}", path.display());
                }
                eprintln!(
                    "kqlite serve: database {EVIDENCE_DATABASE}: {} files read, {} tables, {} rows",
                    report.files_read,
                    session.table_names().len(),
                    report.total_rows()
                );
                _staging = report.staging;
            }
            fix_clock(&mut session, clock).await?;
            databases.push(Database { name: EVIDENCE_DATABASE.to_string(), session });
        }
        for store in &args.stores {
            if databases.iter().any(|d: &Database| d.name.eq_ignore_ascii_case(&store.name)) {
                bail!("--store {}: a database of that name is already served", store.name);
            }
            let mut session = new_session(&content)?;
            kqlite_detect::evidence::load_store(&mut session, &store.dir)
                .await
                .map_err(|e| anyhow!("--store {}={}: {e}", store.name, store.dir.display()))?;
            fix_clock(&mut session, clock).await?;
            eprintln!("kqlite serve: database {}: {} tables", store.name, session.table_names().len());
            databases.push(Database { name: store.name.clone(), session });
        }
        let limits = Limits {
            max_body_bytes: args.max_body_bytes,
            default_timeout: Duration::from_secs(args.timeout.max(1)),
            max_concurrent: args.max_concurrent.unwrap_or(Limits::default().max_concurrent),
            max_queued: args.max_queued,
            ..Limits::default()
        };
        let authenticated = !tokens.is_empty();
        let state = ServerState::new(Databases::new(databases), tokens, limits);
        let grace = Duration::from_secs(args.shutdown_grace);
        let (stopping, mut stop_requested) = tokio::sync::watch::channel(false);
        let shutdown = async move {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!(
                "kqlite serve: shutting down (requests in flight have {} s to finish; Ctrl-C again stops now)",
                grace.as_secs()
            );
            let _ = stopping.send(true);
        };
        let serving = kqlite_server::serve(args.bind, state.clone(), shutdown, |addr| {
            eprintln!(
                "kqlite serve: listening on http://{addr} ({})",
                if authenticated { "Bearer tokens required" } else { "no authentication, loopback only" }
            );
        });
        // Graceful, but bounded: a query may have minutes of budget left.
        // Leaving block_on drops the runtime, and with it the connections'
        // tasks and their queries' work.
        let grace_over = async {
            let _ = stop_requested.wait_for(|stopping| *stopping).await;
            tokio::select! {
                _ = tokio::time::sleep(grace) => {}
                _ = tokio::signal::ctrl_c() => {}
            }
        };
        tokio::select! {
            served = serving => served?,
            _ = grace_over => eprintln!(
                "kqlite serve: stopped; {} queries still running were cancelled",
                state.running_queries()
            ),
        }
        Ok(ExitCode::SUCCESS)
    })
}

fn new_session(content: &kqlite_detect::content::Content) -> Result<Session> {
    let mut session = kqlite_ingest::catalog::new_session();
    crate::query::add_content(&mut session, content)?;
    Ok(session)
}

/// `--now latest` is resolved once per database at start: the session's
/// own `LatestEvent` clock would scan every table on every query.
async fn fix_clock(session: &mut Session, clock: Clock) -> Result<()> {
    let clock = match clock {
        Clock::LatestEvent => Clock::Fixed(
            session
                .latest_event_time()
                .await
                .map_err(|e| anyhow!("--now latest: {e}"))?
                .unwrap_or_else(kqlite_engine::time::now_nanos),
        ),
        other => other,
    };
    session.set_clock(clock);
    Ok(())
}
