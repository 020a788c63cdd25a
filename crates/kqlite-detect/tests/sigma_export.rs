//! The built-in pack's Sigma export (`kqlite rules export --format sigma`):
//! every document parses as kqlite reads Sigma, the correlations name rules
//! of their own file, and, converted back by kqlite, the export finds the
//! same Atomic Red Team cases of `rules/tests` as the Sentinel rules do.
//! (Validation against the specification's JSON schemas is in the CLI's
//! tests/rules_export.rs, through scripts/sigma_export_check.py.)

use kqlite_detect::detection_test::{find_cases, hunt_case};
use kqlite_detect::finding::Finding;
use kqlite_detect::pack;
use kqlite_detect::rule::RuleSet;
use kqlite_detect::sigma_export::{builtin_sigma, multi_document, write_files, SigmaExport};
use kqlite_ingest::IngestOptions;
use serde::Deserialize;
use std::path::{Path, PathBuf};

fn rules_tests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules/tests")
}

#[test]
fn every_exported_document_parses_as_kqlite_reads_sigma() {
    let exports = builtin_sigma(&[]).unwrap();
    let pack_rules = pack::builtin_rules().unwrap();
    let mut ids = Vec::new();
    for export in &exports {
        let documents = kqlite_sigma::parse_documents(export.text, export.file_name).unwrap();
        assert!(documents.errors.is_empty(), "{}: {:?}", export.file_name, documents.errors);
        assert!(documents.filters.is_empty(), "{}: the export writes no filters", export.file_name);
        assert!(!documents.rules.is_empty(), "{}: no detection rule", export.file_name);
        // Every document says which KQL rule it is the portable form of.
        let pack_rule = pack_rules.find(export.stem).unwrap();
        let names: Vec<&str> = documents.rules.iter().filter_map(|r| r.name.as_deref()).collect();
        for rule in &documents.rules {
            let description = rule.description.as_deref().unwrap_or_default();
            assert!(
                description.contains(&pack_rule.id),
                "{}: {} does not name {}",
                export.file_name,
                rule.title,
                pack_rule.id
            );
            assert_eq!(rule.author.as_deref(), Some("kqlite"));
            ids.push(rule.id.clone().unwrap());
        }
        for correlation in &documents.correlations {
            let description = correlation.description.as_deref().unwrap_or_default();
            assert!(description.contains(&pack_rule.id), "{}: {}", export.file_name, correlation.title);
            // A correlation names rules of its own file, so a file is complete by itself.
            for name in &correlation.rules {
                assert!(names.contains(&name.as_str()), "{}: {} names {name}", export.file_name, correlation.title);
            }
            // What a correlation reports carries the pack rule's severity.
            let level = correlation.level.as_ref().map(|l| format!("{l:?}").to_lowercase());
            assert_eq!(level.as_deref(), Some(pack_rule.severity.as_str().to_lowercase().as_str()));
            ids.push(correlation.id.clone().unwrap());
        }
    }
    let mut unique = ids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), ids.len(), "ids repeat: {ids:?}");
    // The stream of the whole pack parses to the same documents.
    let stream = kqlite_sigma::parse_documents(&multi_document(&exports), "stream").unwrap();
    assert!(stream.errors.is_empty(), "{:?}", stream.errors);
    assert_eq!(stream.rules.len() + stream.correlations.len(), ids.len());
}

#[derive(Deserialize)]
struct Expected {
    #[serde(default)]
    findings: Vec<ExpectedFinding>,
}

#[derive(Deserialize)]
struct ExpectedFinding {
    account: Option<String>,
    source: Option<String>,
    targets: Option<Vec<String>>,
}

fn account_matches(expected: &str, actual: &str) -> bool {
    let bare = actual.rsplit('\\').next().unwrap_or(actual);
    expected.eq_ignore_ascii_case(actual) || expected.eq_ignore_ascii_case(bare)
}

/// Whether `findings` find what a case expects, on what each finding
/// carries: a Sigma form may not carry an account or source (a keyword
/// rule over sshd lines; a correlation grouped by host), so an empty one is
/// not compared; the expected targets must be among the targets of the
/// findings consistent with the expectation. Counts, risk and reasons are
/// not compared: Sigma has no risk score, and a detection rule reports each
/// event where the KQL reports a group. Returns what differs.
fn found_as_expected(expected: &[ExpectedFinding], findings: &[Finding]) -> Vec<String> {
    if expected.is_empty() {
        return findings
            .iter()
            .map(|f| {
                format!(
                    "unexpected finding {}: account={} source={} targets={:?}",
                    f.rule_name, f.account, f.source, f.targets
                )
            })
            .collect();
    }
    let mut problems = Vec::new();
    for e in expected {
        let consistent: Vec<&Finding> = findings
            .iter()
            .filter(|f| f.account.is_empty() || e.account.as_deref().is_none_or(|a| account_matches(a, &f.account)))
            .filter(|f| f.source.is_empty() || e.source.as_deref().is_none_or(|s| s.eq_ignore_ascii_case(&f.source)))
            .collect();
        let targets: Vec<String> =
            consistent.iter().flat_map(|f| f.targets.iter().map(|t| t.to_ascii_lowercase())).collect();
        let missing: Vec<&String> = e
            .targets
            .iter()
            .flatten()
            .filter(|t| !targets.is_empty() && !targets.contains(&t.to_ascii_lowercase()))
            .collect();
        if consistent.is_empty() || !missing.is_empty() {
            problems.push(format!(
                "expected account={:?} source={:?} targets={:?} not found (missing targets {missing:?}) in {:?}",
                e.account,
                e.source,
                e.targets,
                findings.iter().map(|f| (&f.rule_name, &f.account, &f.source, &f.targets)).collect::<Vec<_>>()
            ));
        }
    }
    problems
}

/// Hunts every Atomic Red Team case (`atomic-*`) of each pack rule with
/// `rules_of(stem)` and returns what differs from the case's expectations.
async fn atomic_case_differences(rules_of: impl Fn(&str) -> RuleSet) -> Vec<String> {
    let functions = pack::builtin_functions();
    let options = IngestOptions::default();
    let mut problems = Vec::new();
    let mut atomic_cases = 0;
    for export in builtin_sigma(&[]).unwrap() {
        let root = rules_tests().join(export.stem);
        let rules = rules_of(export.stem);
        for case in find_cases(&root).unwrap() {
            if !case.file_name().is_some_and(|n| n.to_string_lossy().starts_with("atomic-")) {
                continue;
            }
            atomic_cases += 1;
            let expected: Expected =
                serde_norway::from_str(&std::fs::read_to_string(case.join("expected.yaml")).unwrap()).unwrap();
            let name = case.strip_prefix(rules_tests()).unwrap().display().to_string();
            match hunt_case(&case, &rules, &functions, &options).await {
                Ok(findings) => {
                    let found = !findings.is_empty();
                    println!(
                        "{name}: expected {}, {} finding(s)",
                        if expected.findings.is_empty() { "silence" } else { "findings" },
                        findings.len()
                    );
                    problems.extend(
                        found_as_expected(&expected.findings, &findings).into_iter().map(|p| format!("{name}: {p}")),
                    );
                    if found == expected.findings.is_empty() {
                        println!("{name}: found={found} differs");
                    }
                }
                Err(e) => problems.push(format!("{name}: {}", kqlite_detect::error::chain_text(&e))),
            }
        }
    }
    assert!(atomic_cases >= 8, "only {atomic_cases} atomic cases under {}", rules_tests().display());
    problems
}

/// The check itself, on the Sentinel rules: it passes where `kqlite test`
/// does, so a difference in the round trip below is the Sigma form's.
#[tokio::test]
async fn the_atomic_case_check_holds_for_the_sentinel_rules() {
    let pack_rules = pack::builtin_rules().unwrap();
    let problems = atomic_case_differences(|stem| {
        let mut set = RuleSet::default();
        set.add(pack_rules.find(stem).unwrap().clone()).unwrap();
        set
    })
    .await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

/// Issue 15, item 5: converted back by kqlite (loaded from the exported
/// files as `--rules DIR` loads them, compiled to KQL, hunted), each pack
/// rule's Sigma form finds the Atomic cases its Sentinel rule finds, and
/// stays silent on the others.
#[tokio::test]
async fn the_exported_sigma_finds_the_same_atomic_cases() {
    let exports = builtin_sigma(&[]).unwrap();
    let scratch = tempfile::tempdir().unwrap();
    // One directory per pack rule, so each rule's Sigma form hunts alone.
    let dirs: Vec<(&str, PathBuf)> = exports
        .iter()
        .map(|export: &SigmaExport| {
            let dir = scratch.path().join(export.stem);
            write_files(std::slice::from_ref(export), &dir).unwrap();
            (export.stem, dir)
        })
        .collect();
    let problems = atomic_case_differences(|stem| {
        let dir = &dirs.iter().find(|(s, _)| *s == stem).unwrap().1;
        let (rules, _) = pack::load(Some(dir)).unwrap();
        assert!(!rules.rules.is_empty(), "{stem}: no rule loaded from its Sigma export");
        rules
    })
    .await;
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}
