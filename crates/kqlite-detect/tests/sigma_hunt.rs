//! Sigma rules where rules load (`--rules`, `--content`) and in a hunt:
//! loading beside Sentinel rules, multi-document files, bad files and
//! uncompilable rules reported while the rest run, level and tags mapped,
//! findings per event with the event's identity and the tested fields,
//! filters, correlations one finding per group, and the lookback.

use kqlite_detect::content;
use kqlite_detect::finding::{Finding, Severity};
use kqlite_detect::hunt::{self, RuleStatus};
use kqlite_detect::rule::RuleSet;
use kqlite_detect::sigma::{SigmaOptions, UnsupportedReason, SIGMA_KIND};
use kqlite_detect::tuning::Tuning;
use kqlite_engine::{Clock, Session};
use std::path::Path;

fn put(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Failed logons of `admin` (4625), a detection over the Security channel.
const FAILED_ADMIN: &str = "title: Failed admin logon
id: 5a1e0000-0000-4000-8000-000000000001
status: test
description: A failed logon of the admin account.
level: critical
tags:
  - attack.credential_access
  - attack.t1110.001
falsepositives:
  - Typos
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4625
    TargetUserName: admin
  condition: selection
";

/// Two rules in one file.
const TWO_RULES: &str = "title: Any failed logon
id: 5a1e0000-0000-4000-8000-000000000002
level: low
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4625
  condition: selection
---
title: Any successful logon
id: 5a1e0000-0000-4000-8000-000000000003
level: informational
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4624
  condition: selection
";

/// A condition that does not parse.
const BROKEN: &str = "title: Broken
id: 5a1e0000-0000-4000-8000-000000000004
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4625
  condition: selection and (
";

/// A logsource no mapping knows.
const UNMAPPED: &str = "title: Nowhere
id: 5a1e0000-0000-4000-8000-000000000005
level: high
logsource:
  product: no_such_product
  service: no_such_service
detection:
  selection:
    Field: x
  condition: selection
";

const SENTINEL_RULE: &str = "id: 0f0f0f0f-0000-0000-0000-000000000009
name: Any 4662
severity: Low
query: |
  SecurityEvent
  | where EventID == 4662
";

fn rules_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "sentinel-4662.yaml", SENTINEL_RULE);
    put(dir.path(), "windows/failed_admin.yml", FAILED_ADMIN);
    put(dir.path(), "windows/logons.yml", TWO_RULES);
    put(dir.path(), "windows/broken.yml", BROKEN);
    put(dir.path(), "other/unmapped.yml", UNMAPPED);
    dir
}

fn sigma_ids(rules: &RuleSet) -> Vec<&str> {
    let mut ids: Vec<&str> = rules.rules.iter().filter(|r| r.kind == SIGMA_KIND).map(|r| r.id.as_str()).collect();
    ids.sort();
    ids
}

const LOADED: [&str; 3] = [
    "5a1e0000-0000-4000-8000-000000000001",
    "5a1e0000-0000-4000-8000-000000000002",
    "5a1e0000-0000-4000-8000-000000000003",
];

#[test]
fn sigma_rules_load_from_a_rules_folder_beside_sentinel_rules() {
    let dir = rules_folder();
    let rules = RuleSet::load_path(dir.path(), &SigmaOptions::default()).unwrap();
    assert!(rules.rules.iter().any(|r| r.id == "0f0f0f0f-0000-0000-0000-000000000009"));
    assert_eq!(sigma_ids(&rules), LOADED);
    // The file that does not parse is reported with its path; the rest load.
    assert_eq!(rules.sigma.problems.len(), 1, "{:?}", rules.sigma.problems);
    assert!(rules.sigma.problems[0].path.ends_with("windows/broken.yml"));
    // The rule that cannot be compiled is named, with its reason.
    assert_eq!(rules.sigma.rejected.len(), 1, "{:?}", rules.sigma.rejected);
    assert_eq!(rules.sigma.rejected[0].rule, "5a1e0000-0000-4000-8000-000000000005");
    assert!(matches!(rules.sigma.rejected[0].reason, UnsupportedReason::Logsource(_)));
    // A multi-document file's second rule has a stem of its own.
    let stems: Vec<&str> = rules.rules.iter().map(|r| r.stem.as_str()).collect();
    assert!(stems.contains(&"logons") && stems.contains(&"logons-2"), "{stems:?}");
    // A single file loads too.
    let one = RuleSet::load_path(&dir.path().join("windows/failed_admin.yml"), &SigmaOptions::default()).unwrap();
    assert_eq!(sigma_ids(&one), ["5a1e0000-0000-4000-8000-000000000001"]);
}

#[test]
fn level_tags_and_false_positives_map_to_the_rule() {
    let dir = rules_folder();
    let rules = RuleSet::load_path(dir.path(), &SigmaOptions::default()).unwrap();
    let rule = rules.find("5a1e0000-0000-4000-8000-000000000001").unwrap();
    assert_eq!(rule.name, "Failed admin logon");
    assert_eq!(rule.severity, Severity::High, "critical is High: Sentinel has no critical");
    assert_eq!(rule.techniques, ["T1110.001"]);
    assert_eq!(rule.tactics, ["CredentialAccess"]);
    assert_eq!(rule.false_positives, ["Typos"]);
    assert!(rule.required_tables.contains(&"SecurityEvent".to_string()), "{:?}", rule.required_tables);
    let low = rules.find("5a1e0000-0000-4000-8000-000000000002").unwrap();
    assert_eq!(low.severity, Severity::Low);
}

#[test]
fn sigma_rules_load_from_content_wherever_they_sit() {
    let dir = rules_folder();
    let content = content::load_with_sigma(&[dir.path().to_path_buf()], true, &SigmaOptions::default()).unwrap();
    assert_eq!(sigma_ids(&content.rules), LOADED);
    assert!(content.problems.iter().any(|p| p.path.ends_with("windows/broken.yml")), "{:?}", content.problems);
    assert_eq!(content.rules.sigma.rejected.len(), 1);
    // Without rules (query, check), Sigma files are not read.
    let parsers_only = content::load(&[dir.path().to_path_buf()], false).unwrap();
    assert!(parsers_only.rules.rules.is_empty() && parsers_only.problems.is_empty());
}

/// Four Security events: two failed admin logons (one two hours before the
/// others), a failed logon of bob, a successful logon.
const EVENTS: &str = "TimeGenerated,EventID,TargetUserName,IpAddress,Computer,Channel,EventRecordId
2024-05-02T08:00:00Z,4625,admin,10.0.0.5,WS1,Security,101
2024-05-02T10:00:00Z,4625,admin,10.0.0.9,WS2,Security,102
2024-05-02T10:01:00Z,4625,bob,10.0.0.5,WS1,Security,103
2024-05-02T10:02:00Z,4624,admin,10.0.0.5,WS1,Security,104
";

/// A session with [`EVENTS`] as SecurityEvent, now() at the last event.
async fn session() -> (Session, Vec<String>, tempfile::TempDir) {
    let mut session = kqlite_ingest::catalog::new_session();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("SecurityEvent.csv");
    std::fs::write(&path, EVENTS).unwrap();
    let evidence = kqlite_detect::evidence::load_evidence(&mut session, &[path]).await.unwrap();
    session.set_clock(Clock::Fixed(kqlite_engine::time::parse_datetime("2024-05-02T10:02:00Z").unwrap()));
    hunt::prepare_session(&mut session, &Tuning::default(), &[]).unwrap();
    (session, hunt::tables_with_data(&evidence), dir)
}

async fn hunt_with(files: &[(&str, &str)], tuning: &Tuning) -> (RuleSet, Vec<hunt::RuleOutcome>) {
    let dir = tempfile::tempdir().unwrap();
    for (name, text) in files {
        put(dir.path(), name, text);
    }
    let rules = RuleSet::load_path(dir.path(), &SigmaOptions::default()).unwrap();
    assert!(rules.sigma.problems.is_empty() && rules.sigma.rejected.is_empty(), "{:?}", rules.sigma);
    let (session, with_data, _evidence) = session().await;
    let outcomes = hunt::hunt(&session, &rules, tuning, &with_data, Severity::Informational).await;
    for outcome in &outcomes {
        assert!(!matches!(outcome.status, RuleStatus::Failed(_)), "{}: {:?}", outcome.stem, outcome.status);
    }
    (rules, outcomes)
}

fn by_record(findings: &mut [Finding]) -> Vec<String> {
    findings.sort_by_key(|f| f.details.get("EventRecordId").map(|v| v.to_string()));
    findings.iter().map(|f| f.details.get("EventRecordId").map(|v| v.to_string()).unwrap_or_default()).collect()
}

#[tokio::test]
async fn a_detection_gives_one_finding_per_event_with_its_identity_and_fields() {
    let (_, mut outcomes) = hunt_with(&[("failed_admin.yml", FAILED_ADMIN)], &Tuning::default()).await;
    let mut findings = hunt::sorted_findings(&mut outcomes);
    // All the evidence, not a day: the 08:00 event too.
    assert_eq!(by_record(&mut findings), ["\"101\"", "\"102\""]);
    let f = &findings[1];
    assert_eq!(&*f.rule_name, "Failed admin logon");
    assert_eq!(f.severity, Severity::High);
    assert_eq!(&*f.techniques, ["T1110.001"]);
    assert_eq!(f.account, "admin");
    assert_eq!(f.targets, ["WS2"]);
    assert!(f.first_seen.is_some());
    assert_eq!(f.details.get("Computer").and_then(|v| v.as_str()), Some("WS2"));
    assert_eq!(f.details.get("TargetUserName").and_then(|v| v.as_str()), Some("admin"));
}

#[tokio::test]
async fn lookback_limits_sigma_rules_to_recent_events() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "failed_admin.yml", FAILED_ADMIN);
    let rules = RuleSet::load_path(dir.path(), &SigmaOptions::default()).unwrap();
    let mut tuning = Tuning::default();
    tuning.set_lookback(&rules, "1h").unwrap();
    let (_, mut outcomes) = hunt_with(&[("failed_admin.yml", FAILED_ADMIN)], &tuning).await;
    let mut findings = hunt::sorted_findings(&mut outcomes);
    assert_eq!(by_record(&mut findings), ["\"102\""]);
}

#[tokio::test]
async fn a_filter_document_excludes_events_from_the_rules_it_names() {
    let filter = "title: Not the scanner
logsource:
  product: windows
filter:
  rules:
    - 5a1e0000-0000-4000-8000-000000000001
  selection:
    IpAddress: 10.0.0.9
  condition: not selection
";
    let files = [("failed_admin.yml", FAILED_ADMIN), ("mf_scanner.yml", filter)];
    let (_, mut outcomes) = hunt_with(&files, &Tuning::default()).await;
    let mut findings = hunt::sorted_findings(&mut outcomes);
    assert_eq!(by_record(&mut findings), ["\"101\""]);
}

#[tokio::test]
async fn a_correlation_gives_one_finding_per_group_and_its_rule_none() {
    let correlation = "title: Many failed logons
id: 5a1e0000-0000-4000-8000-0000000000c1
level: high
correlation:
  type: event_count
  rules:
    - 5a1e0000-0000-4000-8000-000000000002
  group-by:
    - TargetUserName
  timespan: 1d
  condition:
    gte: 1
";
    let files = [("logons.yml", TWO_RULES), ("many.yml", correlation)];
    let (rules, mut outcomes) = hunt_with(&files, &Tuning::default()).await;
    // The rule it counts makes no findings of its own (no `generate`).
    assert!(rules.find("5a1e0000-0000-4000-8000-000000000002").is_err());
    let findings = hunt::sorted_findings(&mut outcomes);
    let mut accounts: Vec<&str> = (findings.iter())
        .filter(|f| &*f.rule_id == "5a1e0000-0000-4000-8000-0000000000c1")
        .map(|f| f.account.as_str())
        .collect();
    accounts.sort();
    assert_eq!(accounts, ["admin", "bob"]);
}
