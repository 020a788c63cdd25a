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

#[tokio::test]
async fn the_range_operator_fits_the_budget() {
    let error = run_with_budget(MIB, "range x from 1 to 1000000 step 1 | count").await.unwrap_err();
    assert!(error.contains("range would build") && error.contains("memory budget of 1.0 MiB"), "{error}");
}

#[tokio::test]
async fn a_collecting_aggregate_fails_naming_the_budget() {
    let error =
        run_with_budget(4 * MIB, "range x from 1 to 1000000 step 1 | summarize make_list(x)").await.unwrap_err();
    assert!(error.contains("memory budget of 4.0 MiB"), "{error}");
}

#[tokio::test]
async fn a_sort_over_the_budget_spills() {
    // 2M rows (about 70 MB, in batches of 8,192) sorted under a 32 MiB
    // budget: DataFusion's sort spills to temporary files instead of failing.
    let mut session = Session::with_partitions(1);
    session.set_memory_budget(32 * MIB);
    let query = "range x from 1 to 1000 step 1 | mv-expand y = range(x, x + 1999) \
                 | extend z = tolong(y) * 7919 % 1000003 + x | order by z desc | extend r = row_number() | where r == 1000000 | project z";
    let result = session.query(query).await.unwrap();
    assert_eq!(result.row_count(), 1);
}

#[tokio::test]
async fn strrep_reserves_what_it_builds() {
    let error = run_with_budget(
        MIB,
        "range x from 1 to 1000 step 1 | extend s = strrep(strcat('ab', x), 1000) | summarize max(strlen(s))",
    )
    .await
    .unwrap_err();
    assert!(error.contains("strrep()") && error.contains("memory budget of 1.0 MiB"), "{error}");
}

// ----- depth -----

/// Runs `query` (which must succeed) within `seconds`: its CSV output.
async fn run_timed(query: &str, seconds: u64) -> String {
    let started = Instant::now();
    let result = common::run_ok(query).await;
    assert!(started.elapsed() < Duration::from_secs(seconds), "took {:?}", started.elapsed());
    result
}

#[tokio::test]
async fn let_doubling_binds_in_linear_time() {
    // Each name is used twice by the next: the inlined expression doubled
    // per step (2^30 nodes) before large constants were folded when bound.
    let mut query = String::from("let a0 = 1;\n");
    for i in 1..=30 {
        query.push_str(&format!("let a{i} = a{} + a{};\n", i - 1, i - 1));
    }
    query.push_str("print a30");
    let out = run_timed(&query, 10).await;
    assert!(out.contains("1073741824"), "{out}");
}

#[tokio::test]
async fn a_long_let_chain_runs() {
    let mut query = String::from("let a0 = 1;\n");
    for i in 1..=3000 {
        query.push_str(&format!("let a{i} = a{} + 1;\n", i - 1));
    }
    query.push_str("print a3000");
    let out = run_timed(&query, 20).await;
    assert!(out.contains("3001"), "{out}");
}

/// Runs `f` on a thread with the 64 MiB stack the CLI's query threads
/// have: binding recurses once per pipe.
fn on_query_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new().stack_size(64 << 20).spawn(f).unwrap().join().unwrap()
}

#[test]
fn thousands_of_chained_extends_are_a_positioned_error() {
    let mut query = String::from("print c0 = 1");
    for i in 1..=3000 {
        query.push_str(&format!(" | extend c{i} = c{} + 1", i - 1));
    }
    let (message, position, elapsed) = on_query_stack(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let session = Session::with_partitions(1);
        let started = Instant::now();
        let error = runtime.block_on(session.query(&query)).err().expect("an error");
        let (message, position) = error.located(&query);
        (message, position, started.elapsed())
    });
    assert!(elapsed < Duration::from_secs(60), "took {elapsed:?}");
    assert!(message.contains("operators deep") || message.contains("too deep and wide"), "{message}");
    assert!(position.is_some(), "{message}");
}

#[test]
fn six_hundred_chained_extends_are_refused_before_planning() {
    // Below the depth limit, but DataFusion's physical planning would take
    // minutes (its statistics walk is cubic in chained projections).
    let mut query = String::from("print c0 = 1");
    for i in 1..=600 {
        query.push_str(&format!(" | extend c{i} = c{} + 1", i - 1));
    }
    let (message, elapsed) = on_query_stack(move || {
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let started = Instant::now();
        let error = runtime.block_on(Session::with_partitions(1).query(&query)).err().expect("an error");
        (error.to_string(), started.elapsed())
    });
    assert!(message.contains("too deep and wide"), "{message}");
    assert!(elapsed < Duration::from_secs(20), "took {elapsed:?}");
}

#[tokio::test]
async fn a_hundred_chained_extends_run() {
    let mut query = String::from("print c0 = 1");
    for i in 1..=100 {
        query.push_str(&format!(" | extend c{i} = c{} + 1", i - 1));
    }
    query.push_str(" | project c100");
    let out = run_timed(&query, 20).await;
    assert!(out.contains("101"), "{out}");
}

#[tokio::test]
async fn thousands_of_pipes_and_deep_nesting_are_positioned_errors() {
    let pipes = format!("print x = 1{}", " | where x > 0".repeat(5000));
    let nested = format!("print x = {}1{}", "(".repeat(5000), ")".repeat(5000));
    let session = Session::with_partitions(1);
    for query in [pipes, nested] {
        let error = session.query(&query).await.err().expect("an error");
        let (message, position) = error.located(&query);
        assert!(position.is_some(), "{message}");
    }
}
