//! The parser against real Sentinel queries (../shared/corpus), compared with
//! Microsoft's own parser (../shared/tools/kusto-oracle). Skips, saying why,
//! when ../shared is absent; CI has it.

mod common;

use common::{assert_round_trip, shared_dir};
use kqlite_syntax::parse;
use std::process::Command;

fn corpus_queries(shared: &std::path::Path) -> Vec<String> {
    jsonl_queries(&shared.join("corpus/sentinel-queries.jsonl"))
}

fn jsonl_queries(path: &std::path::Path) -> Vec<String> {
    let text = std::fs::read_to_string(path).expect("read a JSONL query file");
    text.lines()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("corpus line is JSON");
            value["query"].as_str().expect("query field").to_string()
        })
        .collect()
}

/// Microsoft's syntax verdict per corpus line, from the oracle.
fn oracle_verdicts(shared: &std::path::Path) -> Option<Vec<bool>> {
    oracle_verdicts_for(shared, &shared.join("corpus/sentinel-queries.jsonl"))
}

/// Microsoft's syntax verdict per line of a JSONL file with a "query" field.
fn oracle_verdicts_for(shared: &std::path::Path, file: &std::path::Path) -> Option<Vec<bool>> {
    let oracle = shared.join("tools/kusto-oracle/oracle");
    if !oracle.exists() {
        return None;
    }
    let output = Command::new(&oracle).arg("--jsonl").arg(file).output().expect("run the kusto oracle");
    assert!(output.status.success(), "oracle failed: {}", String::from_utf8_lossy(&output.stderr));
    Some(
        String::from_utf8(output.stdout)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["ok"].as_bool().unwrap())
            .collect(),
    )
}

#[test]
fn corpus_accept_and_reject_agree_with_microsoft() {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP corpus test: ../shared not found (it holds the Sentinel query corpus and Microsoft's parser)");
        return;
    };
    let queries = corpus_queries(&shared);
    assert_eq!(queries.len(), 1285);
    let Some(verdicts) = oracle_verdicts(&shared) else {
        eprintln!("SKIP corpus agreement: ../shared/tools/kusto-oracle/oracle not found");
        return;
    };
    assert_eq!(verdicts.len(), queries.len());
    let mut disagreements = Vec::new();
    for (i, (query, microsoft_ok)) in queries.iter().zip(&verdicts).enumerate() {
        let parsed = parse(query);
        let ok = !parsed.has_errors();
        if ok != *microsoft_ok {
            let first = parsed.diagnostics.first().map(|d| d.render(query, "corpus")).unwrap_or_default();
            disagreements.push(format!("line {}: kqlite ok={ok}, Microsoft ok={microsoft_ok}\n{first}", i + 1));
        }
        if !ok {
            // Rejections must explain themselves with a located message.
            assert!(parsed.diagnostics.iter().all(|d| !d.message.is_empty() && (d.span.start as usize) <= query.len()));
        }
    }
    let accepted = verdicts.iter().filter(|v| **v).count();
    eprintln!("corpus: {} queries, Microsoft accepts {accepted}, disagreements {}", queries.len(), disagreements.len());
    assert!(disagreements.is_empty(), "{}", disagreements.join("\n"));
}

/// The KQL reference's examples (../shared/conformance): every one that
/// Microsoft's parser accepts parses here, and prints back to the same tree.
#[test]
fn reference_examples_that_microsoft_accepts_parse() {
    let Some(shared) = shared_dir() else {
        eprintln!(
            "SKIP reference examples: ../shared not found (it holds the KQL reference examples and Microsoft's parser)"
        );
        return;
    };
    let file = shared.join("conformance/kql-docs-public.jsonl");
    let queries = jsonl_queries(&file);
    let Some(verdicts) = oracle_verdicts_for(&shared, &file) else {
        eprintln!("SKIP reference examples: ../shared/tools/kusto-oracle/oracle not found");
        return;
    };
    assert_eq!(verdicts.len(), queries.len());
    let mut failures = Vec::new();
    for (i, (query, microsoft_ok)) in queries.iter().zip(&verdicts).enumerate() {
        let parsed = parse(query);
        if !microsoft_ok || !parsed.has_errors() {
            if !parsed.has_errors() {
                assert_round_trip(query, &parsed.query);
            }
            continue;
        }
        let first = parsed.diagnostics.first().map(|d| d.render(query, "reference")).unwrap_or_default();
        failures.push(format!("line {}: Microsoft accepts, kqlite rejects\n{first}", i + 1));
    }
    let accepted = verdicts.iter().filter(|v| **v).count();
    eprintln!("reference: {} queries, Microsoft accepts {accepted}, kqlite rejects {}", queries.len(), failures.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_round_trips_through_display() {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP round-trip test: ../shared not found (it holds the Sentinel query corpus)");
        return;
    };
    let mut checked = 0;
    for query in corpus_queries(&shared) {
        let parsed = parse(&query);
        if parsed.has_errors() {
            continue;
        }
        assert_round_trip(&query, &parsed.query);
        checked += 1;
    }
    eprintln!("round trip: {checked} corpus queries print and re-parse to the same tree");
    assert!(checked > 1200);
}

#[test]
fn seed_query_parses() {
    let Some(shared) = shared_dir() else {
        eprintln!("SKIP seed test: ../shared not found (it holds the T1021 seed page)");
        return;
    };
    let page = std::fs::read_to_string(shared.join("seed/T1021-remote-services.txt")).unwrap();
    let start = page.find("// T1021 Remote Services").expect("query start");
    let end = page.find("| sort by MaxRiskScore desc, TargetHostCount desc").expect("query end");
    let query = &page[start..end + "| sort by MaxRiskScore desc, TargetHostCount desc".len()];
    let parsed = parse(query);
    assert!(parsed.diagnostics.is_empty(), "{:?}", parsed.diagnostics);
    assert_round_trip(query, &parsed.query);
}
