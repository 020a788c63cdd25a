//! The per-query memory budget and query depth: queries that would
//! exhaust memory fail with an error naming the budget, and deep queries
//! run or fail with a positioned error, never an abort.

mod common;

use kqlite_engine::Session;
use std::time::{Duration, Instant};

/// Runs `query` in a session with `budget` bytes; the error text, if any.
async fn run_with_budget(budget: usize, query: &str) -> Result<usize, String> {
    let mut session = Session::with_partitions(2);
    session.set_memory_budget(budget);
    session.query(query).await.map(|r| r.row_count()).map_err(|e| e.to_string())
}

const MIB: usize = 1 << 20;

/// The query of issue 17 that aborted the process (SIGABRT) when memory ran out.
const EXPANSION: &str = "print a = range(1, 100000) | mv-expand a | extend b = range(1, 10000) | mv-expand b | count";

#[tokio::test]
async fn runaway_expansion_fails_naming_the_budget() {
    let started = Instant::now();
    let error = run_with_budget(256 * MIB, EXPANSION).await.unwrap_err();
    assert!(error.contains("memory budget of 256.0 MiB"), "{error}");
    assert!(started.elapsed() < Duration::from_secs(20), "took {:?}", started.elapsed());
}

#[tokio::test]
async fn a_query_within_the_budget_runs() {
    let rows = run_with_budget(
        256 * MIB,
        "print a = range(1, 1000) | mv-expand a | extend b = range(1, 100) | mv-expand b | count",
    )
    .await
    .unwrap();
    assert_eq!(rows, 1);
}

#[tokio::test]
async fn range_reserves_what_it_builds() {
    let error = run_with_budget(MIB, "print x = range(1, 1000000)").await.unwrap_err();
    assert!(error.contains("range()") && error.contains("memory budget of 1.0 MiB"), "{error}");
}
