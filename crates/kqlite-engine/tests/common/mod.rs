//! Helpers the engine's end-to-end tests share: run a query on a fresh
//! `Session` and compare its CSV output. Each test file uses only some.
#![allow(dead_code)]

use kqlite_engine::output::{write, Format};
use kqlite_engine::Session;

/// Runs `q` on a fresh session with `partitions` partitions: the result as
/// CSV (header first), or `ERROR: ` and the rendered error.
pub async fn run_on(partitions: usize, q: &str) -> String {
    match Session::with_partitions(partitions).query(q).await {
        Ok(r) => {
            let mut out = Vec::new();
            write(&r, Format::Csv, &mut out).unwrap();
            String::from_utf8(out).unwrap()
        }
        Err(e) => format!("ERROR: {}", e.render(q, "q")),
    }
}

/// `run_on` one partition.
pub async fn run(q: &str) -> String {
    run_on(1, q).await
}

/// Runs `q` on one partition, panicking with the rendered error if it fails.
pub async fn run_ok(q: &str) -> String {
    let r = Session::with_partitions(1).query(q).await.unwrap_or_else(|e| panic!("{q}: {}", e.render(q, "q")));
    let mut out = Vec::new();
    write(&r, Format::Csv, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Checks `q`'s CSV output (header first) is exactly `expected`.
pub async fn check(q: &str, expected: &str) {
    assert_eq!(run(q).await, expected, "query: {q}");
}

/// Runs `q` on one partition and on four (so partial aggregates are
/// merged) and checks both give `expected` (CSV, header first; trailing
/// whitespace ignored).
pub async fn check_partitioned(q: &str, expected: &str) {
    for partitions in [1, 4] {
        let got = run_on(partitions, q).await;
        assert_eq!(got.trim_end(), expected.trim_end(), "query ({partitions} partitions): {q}");
    }
}

/// Checks `q` fails with an error whose text contains `fragment`.
pub async fn check_error(q: &str, fragment: &str) {
    let out = run(q).await;
    assert!(
        out.starts_with("ERROR") && out.contains(fragment),
        "query: {q}\nexpected an error with {fragment:?}, got: {out}"
    );
}

/// Checks `q` fails, whatever the error.
pub async fn check_fails(q: &str) {
    let out = run(q).await;
    assert!(out.starts_with("ERROR"), "expected an error for {q}, got {out}");
}
