//! `kqlite test DIR`: run detection test cases and report like a test runner.

use anyhow::Result;
use clap::Args;
use kqlite_detect::detection_test::{run_all, CaseResult};
use std::path::PathBuf;
use std::process::ExitCode;

/// Run detection tests: each directory under DIR with an expected.yaml is a
/// case (input events per table plus the findings the rule must report;
/// format in rules/README.md).
///
/// Exit status: 0 when every case passed, 1 when a case failed or could
/// not run, 2 on bad usage.
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct TestArgs {
    #[command(flatten)]
    pub memory: crate::memory_args::MemoryArgs,

    /// Directory of test cases (e.g. rules/tests).
    #[arg(value_name = "DIR")]
    dir: PathBuf,

    /// Rules directory; default: the built-in pack.
    #[arg(long = "rules", value_name = "DIR")]
    rules_dir: Option<PathBuf>,
}

pub fn run(args: TestArgs) -> Result<ExitCode> {
    args.memory.apply();
    let (rules, functions) = kqlite_detect::pack::load(args.rules_dir.as_deref())?;
    let runtime = crate::query_runtime()?;
    let reports = runtime.block_on(run_all(&args.dir, &rules, &functions, &crate::ingest::options_from_env()))?;
    let (mut passed, mut failed, mut errors) = (0, 0, 0);
    for report in &reports {
        match &report.result {
            CaseResult::Passed => {
                passed += 1;
                println!("test {} ... ok", report.name);
            }
            CaseResult::Failed(problems) => {
                failed += 1;
                println!("test {} ... FAILED", report.name);
                for p in problems {
                    println!("    {p}");
                }
            }
            CaseResult::Error(e) => {
                errors += 1;
                println!("test {} ... ERROR", report.name);
                println!("    {e}");
            }
        }
    }
    let verdict = if failed + errors == 0 { "ok" } else { "FAILED" };
    println!("\ntest result: {verdict}. {passed} passed; {failed} failed; {errors} errors");
    Ok(if failed + errors == 0 { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
