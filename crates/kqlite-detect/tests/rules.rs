//! Rule files, the built-in pack, watchlists and tuning, through the
//! library API.

use kqlite_detect::error::chain_text;
use kqlite_detect::finding::{Finding, Severity};
use kqlite_detect::hunt;
use kqlite_detect::rule::{parse_duration, Rule, RuleSet, TriggerOperator};
use kqlite_detect::tuning::Tuning;
use kqlite_detect::watchlist::{self, Watchlist};
use kqlite_engine::Session;

/// Shaped like the rules of the Azure-Sentinel repository, with the fields
/// kqlite does not use (status, tags, metadata, incidentConfiguration,
/// eventGroupingSettings) that must not stop it from loading.
const SENTINEL_STYLE: &str = r#"id: 0b9a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d
name: Many failed logons for one account
description: |
  'Accounts with many failed logons in the last day.'
severity: Medium
status: Available
requiredDataConnectors:
  - connectorId: SecurityEvents
    dataTypes:
      - SecurityEvent
queryFrequency: 1d
queryPeriod: P1D
triggerOperator: GreaterThan
triggerThreshold: 2
tactics:
  - CredentialAccess
relevantTechniques:
  - T1110
tags:
  - Brute force
query: |
  let threshold = 5;
  SecurityEvent
  | where TimeGenerated > ago(1d)
  | where EventID == 4625
  | summarize Failures = count(), StartTime = min(TimeGenerated), EndTime = max(TimeGenerated) by Account, Computer, IpAddress
  | where Failures >= threshold
  | extend AccountCustomEntity = Account, HostCustomEntity = Computer, IPCustomEntity = IpAddress
entityMappings:
  - entityType: Account
    fieldMappings:
      - identifier: FullName
        columnName: AccountCustomEntity
  - entityType: Host
    fieldMappings:
      - identifier: FullName
        columnName: HostCustomEntity
  - entityType: IP
    fieldMappings:
      - identifier: Address
        columnName: IPCustomEntity
customDetails:
  FailedLogons: Failures
eventGroupingSettings:
  aggregationKind: AlertPerResult
incidentConfiguration:
  createIncident: true
  groupingConfiguration:
    enabled: false
alertDetailsOverride:
  alertDisplayNameFormat: "{{Failures}} failed logons for {{Account}}"
version: 1.0.3
kind: Scheduled
metadata:
  source:
    kind: Community
"#;

#[test]
fn sentinel_rule_files_load_as_they_are() {
    let rule = Rule::parse(SENTINEL_STYLE, "failed.yaml", "failed").unwrap();
    assert_eq!(rule.id, "0b9a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d");
    assert_eq!(rule.severity, Severity::Medium);
    assert_eq!(rule.required_tables, ["SecurityEvent"]);
    assert_eq!(rule.trigger.operator, TriggerOperator::GreaterThan);
    assert_eq!(rule.trigger.threshold, 2);
    assert!(!rule.trigger.fires(2) && rule.trigger.fires(3));
    assert_eq!(rule.techniques, ["T1110"]);
    assert_eq!(rule.version.as_deref(), Some("1.0.3"));
    assert_eq!(rule.custom_details, [("FailedLogons".to_string(), "Failures".to_string())]);
    assert_eq!(rule.mapped_column("Account", &["Name", "FullName"]), Some("AccountCustomEntity"));
    assert_eq!(parse_duration(rule.query_frequency.as_deref().unwrap()), Some(86_400_000_000_000));
    assert_eq!(parse_duration(rule.query_period.as_deref().unwrap()), Some(86_400_000_000_000));
    assert_eq!(parse_duration("PT1H30M"), Some(5_400_000_000_000));
    assert_eq!(parse_duration("P1Y"), None);
}

#[tokio::test]
async fn findings_follow_entity_mappings_and_the_trigger() {
    let rule = Rule::parse(SENTINEL_STYLE, "failed.yaml", "failed").unwrap();
    let mut session = Session::with_partitions(1);
    let csv = "TimeGenerated,EventID,Account,Computer,IpAddress\n";
    let mut rows = String::from(csv);
    for i in 0..6 {
        rows.push_str(&format!("2024-05-02T10:0{i}:00Z,4625,CONTOSO\\bob,DC1,10.9.9.9\n"));
        rows.push_str(&format!("2024-05-02T11:0{i}:00Z,4625,CONTOSO\\eve,DC2,10.9.9.8\n"));
    }
    let dir = std::env::temp_dir().join(format!("kqlite-detect-rules-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("SecurityEvent.csv");
    std::fs::write(&path, rows).unwrap();
    let evidence = kqlite_detect::evidence::load_evidence(&mut session, std::slice::from_ref(&path)).await.unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(evidence.rows["SecurityEvent"], 12);
    session
        .set_clock(kqlite_engine::Clock::Fixed(kqlite_engine::time::parse_datetime("2024-05-02T12:00:00Z").unwrap()));
    let tuning = Tuning::default();
    hunt::prepare_session(&mut session, &tuning, &[]).unwrap();
    let with_data = hunt::tables_with_data(&evidence);
    // Two result rows: not above the threshold of 2, so no alert.
    let outcome = hunt::run_rule(&session, &rule, &tuning, &with_data).await;
    assert!(matches!(outcome.status, hunt::RuleStatus::Ran { rows: 2, fired: false }), "{:?}", outcome.status);
    assert!(outcome.findings.is_empty());
    let mut eager = rule.clone();
    eager.trigger.threshold = 0;
    let outcome = hunt::run_rule(&session, &eager, &tuning, &with_data).await;
    let mut findings: Vec<Finding> = outcome.findings;
    findings.sort_by(|a, b| a.account.cmp(&b.account));
    assert_eq!(findings.len(), 2);
    let bob = &findings[0];
    assert_eq!((bob.account.as_str(), bob.source.as_str()), ("CONTOSO\\bob", "10.9.9.9"));
    assert_eq!(bob.targets, ["DC1"]);
    assert_eq!(bob.severity, Severity::Medium);
    assert_eq!(bob.details["FailedLogons"], 6);
    assert_eq!(bob.details["AlertDisplayName"], "6 failed logons for CONTOSO\\bob");
    assert_eq!(bob.first_seen, kqlite_engine::time::parse_datetime("2024-05-02T10:00:00Z"));
    assert_eq!(bob.last_seen, kqlite_engine::time::parse_datetime("2024-05-02T10:05:00Z"));
    // A finding reason over a column the result lacks is the reason's error.
    let mut bad_reason = eager.clone();
    bad_reason.finding_reasons =
        vec![kqlite_detect::rule::FindingReason { reason: "x".into(), when: "NoSuchColumn > 1".into() }];
    match hunt::run_rule(&session, &bad_reason, &tuning, &with_data).await.status {
        hunt::RuleStatus::Failed(e) => {
            assert!(e.starts_with("its findingReasons do not bind") && e.contains("NoSuchColumn"), "{e}")
        }
        other => panic!("{other:?}"),
    }
    // No data for the rule's tables: skipped, not run.
    let outcome = hunt::run_rule(&session, &eager, &tuning, &[]).await;
    assert!(matches!(outcome.status, hunt::RuleStatus::NoData(_)));
}

#[test]
fn bad_rules_are_rejected_with_the_field() {
    let replace = |from: &str, to: &str| SENTINEL_STYLE.replace(from, to);
    let err = Rule::parse(&replace("kind: Scheduled", "kind: Fusion"), "f.yaml", "f").unwrap_err();
    let err = chain_text(&err);
    assert!(err.contains("f.yaml: field 'kind'"), "{err}");
    let err = Rule::parse(&replace("severity: Medium", "severity: Severe"), "f.yaml", "f").unwrap_err();
    let err = chain_text(&err);
    assert!(err.contains("field 'severity'") && err.contains("unknown severity 'Severe'"), "{err}");
    let err =
        Rule::parse(&replace("triggerOperator: GreaterThan", "triggerOperator: around"), "f.yaml", "f").unwrap_err();
    let err = chain_text(&err);
    assert!(err.contains("triggerOperator"), "{err}");
    // The query is parsed on load only to check `parameters` (loading
    // thousands of Sentinel rules parses none; errors show when it runs).
    let bad_query = replace("query: |\n  let threshold", "query: |\n  let threshold = ;\n  let x");
    assert!(Rule::parse(&bad_query, "f.yaml", "f").is_ok());
    let bad_query = format!("{bad_query}parameters:\n  threshold:\n    description: x\n");
    let err = chain_text(&Rule::parse(&bad_query, "f.yaml", "f").unwrap_err());
    assert!(err.contains("field 'query': syntax error at line 1"), "{err}");
    let with_param = format!("{SENTINEL_STYLE}parameters:\n  Threshold:\n    description: x\n");
    let err = Rule::parse(&with_param, "f.yaml", "f").unwrap_err();
    let err = chain_text(&err);
    assert!(err.contains("'Threshold' is not a top-level let of the query (its lets: threshold)"), "{err}");
    let err = Rule::parse("name: x\n", "f.yaml", "f").unwrap_err();
    let err = chain_text(&err);
    assert!(err.starts_with("f.yaml: not a valid rule: missing field"), "{err}");
    assert!(Rule::parse(&replace("kind: Scheduled", "kind: NRT"), "f.yaml", "f").is_ok());
}

#[test]
fn rules_are_found_by_id_stem_technique_and_prefix() {
    let mut set = RuleSet::default();
    set.add(Rule::parse(SENTINEL_STYLE, "a", "T1110-failed-logons").unwrap()).unwrap();
    let other = SENTINEL_STYLE.replace("0b9a1c2d-3e4f", "ffffffff-3e4f");
    set.add(Rule::parse(&other, "b", "T1110.001-guessing").unwrap()).unwrap();
    assert_eq!(set.find("T1110").unwrap().stem, "T1110-failed-logons");
    assert_eq!(set.find("t1110.001").unwrap().stem, "T1110.001-guessing");
    assert_eq!(set.find("ffff").unwrap().stem, "T1110.001-guessing");
    assert!(chain_text(&set.find("T11").unwrap_err()).contains("names several rules"));
    assert!(chain_text(&set.find("nope").unwrap_err()).contains("no rule 'nope'"));
    let err = set.add(Rule::parse(SENTINEL_STYLE, "c", "dup").unwrap()).unwrap_err();
    let err = chain_text(&err);
    assert!(err.contains("is also the id of a"), "{err}");
}

/// `hunt --rule T1110` runs every rule of the technique; a stem names its
/// rule over a Sigma companion with the same stem (`rules/sigma/STEM.yml`).
#[test]
fn a_technique_selects_its_rules_and_a_stem_names_the_rule_not_its_companion() {
    let mut set = RuleSet::default();
    set.add(Rule::parse(SENTINEL_STYLE, "a", "T1110-failed-logons").unwrap()).unwrap();
    let second = SENTINEL_STYLE.replace("0b9a1c2d-3e4f", "eeeeeeee-3e4f");
    set.add(Rule::parse(&second, "b", "T1110-spraying").unwrap()).unwrap();
    let third = SENTINEL_STYLE.replace("0b9a1c2d-3e4f", "ffffffff-3e4f");
    set.add(Rule::parse(&third, "c", "T1110.001-guessing").unwrap()).unwrap();
    let stems = |key: &str| set.select(key).unwrap().iter().map(|r| r.stem.clone()).collect::<Vec<_>>();
    assert_eq!(stems("T1110"), ["T1110-failed-logons", "T1110-spraying"]);
    assert_eq!(stems("T1110-spraying"), ["T1110-spraying"]);
    assert_eq!(stems("T1110.001"), ["T1110.001-guessing"]);
    assert!(chain_text(&set.find("T1110").unwrap_err()).contains("names several rules"));
    let mut companion =
        Rule::parse(&SENTINEL_STYLE.replace("0b9a1c2d-3e4f", "dddddddd-3e4f"), "d", "T1110.001-guessing").unwrap();
    companion.kind = kqlite_detect::sigma::SIGMA_KIND.to_string();
    set.add(companion).unwrap();
    assert_eq!(set.find("T1110.001-guessing").unwrap().id, set.rules[2].id);
}

/// Every built-in rule binds against the Sentinel schemas (with the pack's
/// functions and `_GetWatchlist` defined), and so do its pivots and
/// finding reasons.
#[tokio::test]
async fn the_builtin_pack_binds() {
    let rules = kqlite_detect::pack::builtin_rules().unwrap();
    assert!(rules.find("T1021").is_ok());
    let mut session = Session::with_partitions(1);
    kqlite_detect::evidence::load_evidence(&mut session, &[]).await.unwrap();
    hunt::prepare_session(&mut session, &Tuning::default(), &kqlite_detect::pack::builtin_functions()).unwrap();
    let finding = Finding {
        rule_id: "".into(),
        rule_name: "".into(),
        severity: Severity::High,
        rule_severity: Severity::High,
        techniques: Vec::new().into(),
        account: "CONTOSO\\alice".into(),
        account_forms: vec!["CONTOSO\\alice".into()],
        source: "10.0.0.5".into(),
        targets: vec!["SRV1".into()],
        count: 1,
        first_seen: Some(0),
        last_seen: Some(0),
        risk_score: 1,
        reasons: Vec::new(),
        agreeing_rules: Vec::new(),
        details: Default::default(),
        evidence: Vec::new(),
    };
    for rule in &rules.rules {
        session
            .check(&rule.query)
            .unwrap_or_else(|e| panic!("{}: {}", rule.origin, e.render(&rule.query, &rule.origin)));
        for reason in &rule.finding_reasons {
            let q = kqlite_detect::query_edit::append_operators(
                &rule.query,
                &format!("| extend r = tobool({})", reason.when),
            )
            .unwrap();
            session.check(&q).unwrap_or_else(|e| panic!("{} reason '{}': {e}", rule.origin, reason.reason));
        }
        for pivot in &rule.pivots {
            let q = kqlite_detect::pivot::pivot_query(pivot, &finding);
            session
                .check(&q)
                .unwrap_or_else(|e| panic!("{} pivot {}: {}", rule.origin, pivot.name, e.render(&q, &pivot.name)));
        }
        assert!(
            !rule.investigation_guide.as_deref().unwrap_or("").is_empty(),
            "{} has no investigation guide",
            rule.origin
        );
        assert!(!rule.response_steps.is_empty(), "{} has no response steps", rule.origin);
    }
}

#[test]
fn the_builtin_pack_matches_the_rules_directory() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../rules");
    let builtin = kqlite_detect::pack::builtin_rules().unwrap();
    for rule in &builtin.rules {
        let on_disk = Rule::load(&dir.join(format!("{}.yaml", rule.stem))).unwrap();
        assert_eq!(on_disk.query, rule.query, "{} differs from rules/{}.yaml", rule.origin, rule.stem);
    }
    // The T1021 rule is the published query with the case() fix, and the
    // Evidence column every pack rule returns: each branch projects its
    // EventID and the summarize packs the events.
    let t1021 = builtin.find("T1021").unwrap();
    let kql = std::fs::read_to_string(dir.join("T1021-remote-services.kql")).unwrap();
    let published_body: String = kql.lines().skip(3).collect::<Vec<_>>().join("\n");
    let with_evidence = published_body
        .replace("| project TimeGenerated, Computer, TargetUserName,", "| project TimeGenerated, Computer, EventID, TargetUserName,")
        .replace(
            "Computer=DeviceName, TargetUserName=AccountName,",
            "Computer=DeviceName, EventID=int(null), TargetUserName=AccountName,",
        )
        .replace(
            "MaxRiskScore=max(RiskScore)\n",
            "MaxRiskScore=max(RiskScore),\n            \
             // The logons behind the row, for the analyst (MDE rows have no EventID).\n            \
             Evidence=make_list(bag_pack(\"TimeGenerated\", TimeGenerated, \"Computer\", Computer, \"EventID\", EventID,\n                \
             \"LogonType\", LogonTypeName, \"IpAddress\", SourceHost, \"TargetUserName\", TargetUserName,\n                \
             \"AuthenticationPackageName\", AuthenticationPackageName, \"ProcessName\", ProcessName), 20)\n",
        );
    assert_eq!(t1021.query.trim_end(), with_evidence.trim_end());
    assert_eq!(t1021.severity, Severity::High);
    assert_eq!(t1021.confidence.as_deref(), Some("Medium"));
    assert_eq!(t1021.false_positives.len(), 5);
}

#[tokio::test]
async fn watchlists_load_and_get_watchlist_returns_their_columns() {
    let dir = std::env::temp_dir().join(format!("kqlite-detect-wl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("Hosts.csv"), "# SearchKey: Ip\nName,Ip\n\"JUMP, 1\",10.0.0.1\nJUMP2,10.0.0.2\n").unwrap();
    std::fs::write(dir.join("Broken.csv"), "A,B\n1,2\n3\n").unwrap();
    let err = watchlist::load_dir(&dir).unwrap_err();
    let err = chain_text(&err);
    assert!(err.contains("Broken.csv:3: expected 2 fields like the header, found 1"), "{err}");
    std::fs::remove_file(dir.join("Broken.csv")).unwrap();
    let lists = watchlist::load_dir(&dir).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(lists.len(), 1);
    let hosts: &Watchlist = &lists[0];
    assert_eq!((hosts.alias.as_str(), hosts.search_key.as_str()), ("Hosts", "Ip"));
    assert_eq!(hosts.keys(), ["10.0.0.1", "10.0.0.2"]);
    let mut session = Session::with_partitions(1);
    watchlist::register(&mut session, &lists).unwrap();
    let result =
        session.query("_GetWatchlist('Hosts') | project SearchKey, Name | sort by SearchKey asc").await.unwrap();
    let rows = hunt::result_rows(&result);
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], [serde_json::json!("10.0.0.1"), serde_json::json!("JUMP, 1")]);
    let result = session.query("Watchlist | summarize count() by WatchlistAlias").await.unwrap();
    assert_eq!(hunt::result_rows(&result), [[serde_json::json!("Hosts"), serde_json::json!(2)]]);
}

/// Findings of the built-in T1021 rule over the CLI's hand-built fixture,
/// with the evidence held as `staging` says.
async fn t1021_fixture_findings(staging: kqlite_detect::evidence::Staging) -> Vec<Finding> {
    let fixtures = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../kqlite-cli/tests/fixtures/t1021");
    let paths = [fixtures.join("SecurityEvent.csv"), fixtures.join("DeviceLogonEvents.csv")];
    let (rules, functions) = kqlite_detect::pack::load(None).unwrap();
    let rule = rules.find("T1021-remote-services").unwrap();
    let mut session = Session::with_partitions(1);
    let evidence = kqlite_detect::evidence::load_evidence_with(&mut session, &paths, staging).await.unwrap();
    assert_eq!(evidence.staging.is_some(), staging == kqlite_detect::evidence::Staging::Store);
    assert!(evidence.rejected.is_empty(), "{:?}", evidence.rejected);
    session
        .set_clock(kqlite_engine::Clock::Fixed(kqlite_engine::time::parse_datetime("2024-05-02T12:00:00Z").unwrap()));
    let tuning = Tuning::default();
    hunt::prepare_session(&mut session, &tuning, &functions).unwrap();
    let with_data = hunt::tables_with_data(&evidence);
    let outcome = hunt::run_rule(&session, rule, &tuning, &with_data).await;
    let mut findings = outcome.findings;
    findings.sort_by(|a, b| (&a.account, &a.source).cmp(&(&b.account, &b.source)));
    findings
}

#[tokio::test]
async fn evidence_staged_in_a_temporary_store_gives_the_same_findings() {
    use kqlite_detect::evidence::Staging;
    let in_memory = t1021_fixture_findings(Staging::Auto).await;
    let staged = t1021_fixture_findings(Staging::Store).await;
    assert!(!in_memory.is_empty());
    assert_eq!(in_memory, staged);
}
