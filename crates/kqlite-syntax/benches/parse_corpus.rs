//! Parser throughput on the real Sentinel corpus (../shared/corpus), with
//! Microsoft's parser (../shared/tools/kusto-oracle) timed in the same run.
//!
//! Run: `cargo bench -p kqlite-syntax --bench parse_corpus`
//! Target (issue #2): the whole corpus parses in < 0.5 s in a release build.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

fn main() {
    let shared = std::env::var_os("KQLITE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let corpus_path = shared.join("corpus/sentinel-queries.jsonl");
    let Ok(text) = std::fs::read_to_string(&corpus_path) else {
        println!("SKIP: {} not found (the benchmark needs ../shared)", corpus_path.display());
        return;
    };
    let queries: Vec<String> = text
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["query"].as_str().unwrap().to_string())
        .collect();
    let bytes: usize = queries.iter().map(String::len).sum();

    // Warm up, then take the best of several full passes.
    let mut best = Duration::MAX;
    let mut errors = 0;
    for _ in 0..10 {
        let start = Instant::now();
        errors = 0;
        for q in &queries {
            let parsed = kqlite_syntax::parse(q);
            errors += usize::from(parsed.has_errors());
            std::hint::black_box(&parsed);
        }
        best = best.min(start.elapsed());
    }
    let secs = best.as_secs_f64();
    println!(
        "kqlite parse: {} queries, {:.2} MB in {:.1} ms ({:.0} MB/s), {} with errors",
        queries.len(),
        bytes as f64 / 1e6,
        secs * 1e3,
        bytes as f64 / 1e6 / secs,
        errors
    );
    println!("target < 500 ms: {}", if secs < 0.5 { "met" } else { "MISSED" });

    let oracle = shared.join("tools/kusto-oracle/oracle");
    if oracle.exists() {
        let start = Instant::now();
        let out = Command::new(&oracle).arg("--jsonl").arg(&corpus_path).output().expect("run oracle");
        let peer = start.elapsed().as_secs_f64();
        assert!(out.status.success());
        println!(
            "Microsoft Kusto.Language (oracle, whole process incl. .NET start-up): {:.1} ms; kqlite/peer time ratio {:.3}",
            peer * 1e3,
            secs / peer
        );
    } else {
        println!("peer not measured: {} not found", oracle.display());
    }
}
