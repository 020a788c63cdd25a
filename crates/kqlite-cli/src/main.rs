//! `kqlite`: run Microsoft Sentinel KQL on your own logs. This binary is a
//! thin layer over the library crates; each subcommand lives in its module.

mod check;
mod content_args;
mod demo;
mod detection_test;
mod format;
mod hunt;
mod ingest;
mod memory_args;
mod pivot;
mod query;
mod rules;
mod serve;
mod sigma;
mod sigma_args;
mod table_args;
mod tables;

use clap::{Parser, Subcommand};
use std::process::ExitCode;

/// mimalloc: ingesting and hunting allocate many small strings on several
/// threads, where glibc's allocator spent a fifth of the time (profiled).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "kqlite",
    version,
    about = "An embedded KQL (Kusto Query Language) engine for Microsoft Sentinel detections",
    long_about = "kqlite runs Microsoft Sentinel detections on your own logs, offline: KQL with\n\
                  Kusto's semantics over EVTX, Sentinel and Defender exports and Linux auth logs.\n\n\
                  Start with `kqlite demo` (a generated environment with an intruder, hunted);\n\
                  `kqlite hunt PATHS` runs the built-in lateral-movement pack over your evidence;\n\
                  `kqlite query` runs any KQL; `kqlite check` reports errors without running;\n\
                  Sigma rules load wherever rules load, and `kqlite sigma convert` prints their KQL."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    Check(check::CheckArgs),
    Query(query::QueryArgs),
    Ingest(ingest::IngestArgs),
    Hunt(hunt::HuntArgs),
    Rules(rules::RulesArgs),
    Pivot(pivot::PivotArgs),
    Test(detection_test::TestArgs),
    Demo(demo::DemoArgs),
    Tables(tables::TablesArgs),
    Sigma(sigma::SigmaArgs),
    Serve(serve::ServeArgs),
    /// List the KQL functions, tabular operators and evaluate plugins kqlite implements.
    Functions {
        /// List tabular operators instead of functions.
        #[arg(long, conflicts_with = "plugins")]
        operators: bool,
        /// List the plugins `evaluate` runs instead of functions.
        #[arg(long)]
        plugins: bool,
    },
}

/// `mi_option_purge_delay` in mimalloc v3's `mi_option_t` (mimalloc.h);
/// the crate names no constant for it.
const MI_OPTION_PURGE_DELAY: libmimalloc_sys::mi_option_t = 15;

/// The runtime queries run on. Worker threads get a larger stack than
/// tokio's 2 MiB: binding and planning recurse over expressions, and real
/// rules (a Sigma rule with thousands of values, a generated Sentinel rule)
/// nest deeply enough to overflow it.
pub(crate) fn query_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    use anyhow::Context as _;
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .thread_stack_size(QUERY_THREAD_STACK_BYTES)
        .build()
        .context("cannot start the query runtime")
}

/// Stacks of the threads that bind, plan and run queries: deep enough for
/// a plan of `kqlite_engine::binder::MAX_PLAN_DEPTH` operators, whose
/// passes recurse once per operator (reserved, not committed, memory).
const QUERY_THREAD_STACK_BYTES: usize = 64 << 20;

fn main() -> ExitCode {
    let cli = Cli::parse();
    // A command runs for seconds to minutes and frees large builder and
    // page buffers all the time: handing them back to the OS (after a
    // second, by mimalloc's default) cost ingesting a GiB of EVTX 0.8 CPU-s
    // of page faults and TLB shootdowns, and keeping them costs a few MiB of
    // peak memory (measured). A server runs for days: it keeps mimalloc's
    // default, or each query's freed memory would stay resident and its
    // memory grow under load toward the sum of its queries' peaks. This
    // overrides MIMALLOC_PURGE_DELAY.
    if !matches!(cli.command, Command::Serve(_)) {
        // SAFETY: set before any other thread exists, as mimalloc requires
        // (parsing the arguments starts none).
        unsafe { libmimalloc_sys::mi_option_set(MI_OPTION_PURGE_DELAY, -1) };
    }
    // Commands that bind or plan a query on this thread (check, the binder
    // of query and hunt) need the query threads' stack, not main's 8 MiB.
    let worker =
        std::thread::Builder::new().name("kqlite".into()).stack_size(QUERY_THREAD_STACK_BYTES).spawn(move || run(cli));
    let result = match worker {
        Ok(handle) => handle.join().unwrap_or_else(|_| Err(anyhow::anyhow!("internal error: the command panicked"))),
        Err(e) => Err(anyhow::Error::new(e).context("cannot start the command's thread")),
    };
    match result {
        Ok(code) => code,
        Err(err) => {
            // The chain once: a library error that names its cause is not
            // followed by that cause again.
            let chain: &(dyn std::error::Error + 'static) = err.as_ref();
            eprintln!("kqlite: error: {}", kqlite_detect::error::chain_text(chain));
            ExitCode::from(2)
        }
    }
}

/// Runs the command the arguments name.
fn run(cli: Cli) -> anyhow::Result<ExitCode> {
    match cli.command {
        Command::Check(args) => check::run(args),
        Command::Query(args) => query::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Hunt(args) => hunt::run(args),
        Command::Rules(args) => rules::run(args),
        Command::Pivot(args) => pivot::run(args),
        Command::Test(args) => detection_test::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Tables(args) => tables::run(args),
        Command::Sigma(args) => sigma::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Functions { operators, plugins } => {
            let names: Vec<&str> = if operators {
                kqlite_engine::binder::SUPPORTED_OPERATORS.to_vec()
            } else if plugins {
                kqlite_engine::binder::supported_plugins()
            } else {
                kqlite_engine::functions::all_function_names()
            };
            for name in names {
                println!("{name}");
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}
