//! `--memory SIZE` and running under `ulimit -v`: a query that would
//! exhaust memory exits with an error naming the budget, never a signal.

use std::os::unix::process::ExitStatusExt;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// The query of issue 17 that aborted the process (SIGABRT).
const EXPANSION: &str = "print a = range(1, 100000) | mv-expand a | extend b = range(1, 10000) | mv-expand b | count";

fn kqlite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kqlite")).args(args).output().unwrap()
}

#[test]
fn an_exhausting_query_reports_the_budget_it_exceeded() {
    let started = Instant::now();
    let out = kqlite(&["query", "--memory", "256MiB", EXPANSION]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("memory budget of 256.0 MiB"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(30));
}

#[test]
fn under_ulimit_v_the_query_fails_with_a_message_not_a_signal() {
    // 2 GB of address space: the default budget follows the limit, so the
    // expansion is refused before an allocation could fail (which aborts).
    let script = r#"ulimit -v 2000000 && exec "$0" query "$1""#;
    let out = Command::new("sh").args(["-c", script, env!("CARGO_BIN_EXE_kqlite"), EXPANSION]).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.signal(), None, "killed by a signal: {stderr}");
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("memory budget of"), "{stderr}");
}

#[test]
fn a_size_that_does_not_parse_is_a_usage_error() {
    let out = kqlite(&["query", "--memory", "lots", "print 1"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("512MiB"), "{stderr}");
}

#[test]
fn a_query_within_the_budget_prints_its_result() {
    let out = kqlite(&["query", "--memory", "64MiB", "print a = range(1, 1000) | mv-expand a | count"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(String::from_utf8_lossy(&out.stdout).contains("1000"));
}
