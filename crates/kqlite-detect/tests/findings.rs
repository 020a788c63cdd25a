//! Findings analysts act on: one entity per account (case and the
//! `DOMAIN\user` / `user@domain` forms), a rule's findings on one account
//! and source merged, evidence rows from a rule's `Evidence` column, rules
//! that agree raising severity, and the HTML page's evidence and timeline.

use kqlite_detect::finding::{Finding, Severity};
use kqlite_detect::hunt::{self, RuleStatus};
use kqlite_detect::report::{finding_json, graph::to_html};
use kqlite_detect::rule::RuleSet;
use kqlite_detect::tuning::Tuning;
use kqlite_engine::Clock;

/// alice's logons in two spellings of her account, bob's logon, and an
/// admin share access by alice under her UPN, from the same source.
const EVENTS: &str = "\
TimeGenerated,EventID,TargetUserName,TargetDomainName,IpAddress,Computer,LogonType,SubjectUserName,ShareName
2024-05-02T10:05:00Z,4624,Alice,contoso,10.0.0.5,SRV2,3,,
2024-05-02T10:00:00Z,4624,alice,CONTOSO,10.0.0.5,SRV1,3,,
2024-05-02T10:01:00Z,4624,bob,CONTOSO,10.0.0.9,SRV1,3,,
2024-05-02T10:02:00Z,5140,,,10.0.0.5,SRV3,,alice@contoso.local,\\\\*\\ADMIN$
";

fn rule(stem: &str, severity: &str, query: &str) -> (String, String) {
    let indented: String = query.lines().map(|l| format!("  {l}\n")).collect();
    let text = format!(
        "id: id-{stem}\nname: {stem}\nseverity: {severity}\nkind: Scheduled\ntriggerOperator: gt\n\
         triggerThreshold: 0\nquery: |\n{indented}"
    );
    (format!("{stem}.yaml"), text)
}

/// Network logons per account and source (two rows for alice: her domain is
/// spelt two ways), with their evidence.
const LOGONS: &str = "SecurityEvent
| where EventID == 4624
| summarize LogonCount = count(), TargetHosts = make_set(Computer), FirstSeen = min(TimeGenerated),
            LastSeen = max(TimeGenerated),
            Evidence = make_list(bag_pack(\"TimeGenerated\", TimeGenerated, \"Computer\", Computer,
                \"EventID\", EventID, \"LogonType\", LogonType), 20)
    by TargetUserName, TargetDomainName, SourceHost = IpAddress";

/// Admin share access: the account as a UPN, no Evidence column.
const SHARES: &str = "SecurityEvent
| where EventID == 5140
| summarize EventCount = count(), TargetHosts = make_set(Computer), FirstSeen = min(TimeGenerated)
    by TargetUserName = SubjectUserName,
            SourceHost = IpAddress";

async fn hunt_rules(min_severity: Severity) -> Vec<hunt::RuleOutcome> {
    let dir = tempfile::tempdir().unwrap();
    let rules_dir = dir.path().join("rules");
    std::fs::create_dir(&rules_dir).unwrap();
    for (name, text) in [rule("a-logons", "Low", LOGONS), rule("b-shares", "Medium", SHARES)] {
        std::fs::write(rules_dir.join(name), text).unwrap();
    }
    let rules = RuleSet::load_dir(&rules_dir).unwrap();
    let events = dir.path().join("SecurityEvent.csv");
    std::fs::write(&events, EVENTS).unwrap();
    let mut session = kqlite_ingest::catalog::new_session();
    let evidence = kqlite_detect::evidence::load_evidence(&mut session, &[events]).await.unwrap();
    session.set_clock(Clock::Fixed(kqlite_engine::time::parse_datetime("2024-05-02T11:00:00Z").unwrap()));
    hunt::prepare_session(&mut session, &Tuning::default(), &[]).unwrap();
    let outcomes =
        hunt::hunt(&session, &rules, &Tuning::default(), &hunt::tables_with_data(&evidence), min_severity).await;
    for outcome in &outcomes {
        assert!(matches!(outcome.status, RuleStatus::Ran { .. }), "{}: {:?}", outcome.stem, outcome.status);
    }
    outcomes
}

fn findings_of<'a>(outcomes: &'a [hunt::RuleOutcome], stem: &str) -> &'a [Finding] {
    &outcomes.iter().find(|o| o.stem == stem).unwrap().findings
}

#[tokio::test]
async fn one_rule_s_rows_for_one_account_and_source_are_one_finding_with_the_evidence() {
    let outcomes = hunt_rules(Severity::Informational).await;
    let logons = findings_of(&outcomes, "a-logons");
    assert_eq!(logons.len(), 2, "alice (merged) and bob: {logons:#?}");
    let alice = logons.iter().find(|f| f.account == "CONTOSO\\alice").expect("alice's canonical account");
    let mut forms = alice.account_forms.clone();
    forms.sort();
    assert_eq!(forms, ["CONTOSO\\alice", "contoso\\Alice"]);
    assert_eq!(alice.source, "10.0.0.5");
    assert_eq!(alice.targets, ["SRV1", "SRV2"]);
    assert_eq!(alice.count, 2);
    assert_eq!(alice.first_seen, kqlite_engine::time::parse_datetime("2024-05-02T10:00:00Z"));
    assert_eq!(alice.last_seen, kqlite_engine::time::parse_datetime("2024-05-02T10:05:00Z"));
    // Both rows' evidence, from the Evidence column, in time order.
    let hosts: Vec<&str> = alice.evidence.iter().map(|e| e["Computer"].as_str().unwrap()).collect();
    assert_eq!(hosts, ["SRV1", "SRV2"]);
    assert_eq!(alice.evidence[0]["EventID"], 4624);
    assert_eq!(alice.evidence[0]["LogonType"], 3);
    assert!(alice.evidence[0]["TimeGenerated"].as_str().unwrap().starts_with("2024-05-02T10:00:00"));
    // A rule without an Evidence column still gives findings, without evidence.
    let shares = findings_of(&outcomes, "b-shares");
    assert_eq!(shares.len(), 1);
    assert!(shares[0].evidence.is_empty());
    // The UPN's first label is the NetBIOS domain: no other DNS domain shares it.
    assert_eq!(shares[0].account, "CONTOSO\\alice");
    assert_eq!(shares[0].account_forms, ["alice@contoso.local"]);
    // JSON carries it all.
    let json = finding_json(alice);
    assert_eq!(json["evidence"].as_array().unwrap().len(), 2);
    assert_eq!(json["account_forms"].as_array().unwrap().len(), 2);
    assert_eq!(json["rule_severity"], "Low");
}

#[tokio::test]
async fn two_rules_on_one_account_raise_severity_and_one_rule_does_not() {
    let outcomes = hunt_rules(Severity::Informational).await;
    let logons = findings_of(&outcomes, "a-logons");
    let alice = logons.iter().find(|f| f.account == "CONTOSO\\alice").unwrap();
    assert_eq!(alice.agreeing_rules, ["b-shares"]);
    assert_eq!((alice.rule_severity, alice.severity), (Severity::Low, Severity::Medium));
    assert!(alice.reasons.contains(&"2 rules agree (severity raised from Low)".to_string()), "{:?}", alice.reasons);
    let share = &findings_of(&outcomes, "b-shares")[0];
    assert_eq!(share.agreeing_rules, ["a-logons"]);
    assert_eq!((share.rule_severity, share.severity), (Severity::Medium, Severity::High));
    // bob: one rule only.
    let bob = logons.iter().find(|f| f.account == "CONTOSO\\bob").unwrap();
    assert!(bob.agreeing_rules.is_empty());
    assert_eq!((bob.rule_severity, bob.severity), (Severity::Low, Severity::Low));
    assert!(!bob.reasons.iter().any(|r| r.contains("agree")), "{:?}", bob.reasons);

    // --min-severity reads the raised severity: alice's Low rule finding stays, bob's goes.
    let medium = hunt_rules(Severity::Medium).await;
    let accounts: Vec<&str> = findings_of(&medium, "a-logons").iter().map(|f| f.account.as_str()).collect();
    assert_eq!(accounts, ["CONTOSO\\alice"]);
}

#[tokio::test]
async fn the_page_shows_each_finding_s_evidence_and_the_timeline_in_time_order() {
    let mut outcomes = hunt_rules(Severity::Informational).await;
    let findings = hunt::sorted_findings(&mut outcomes);
    let html = to_html(&findings);
    assert_eq!(html.matches("<table class=\"evidence\">").count(), 2, "alice's and bob's logons");
    assert!(html.contains("<th>agreeing rules</th>"));
    let timeline = &html[html.find("<h2>Timeline of the intrusion</h2>").expect("a timeline")..];
    let table = &timeline[timeline.find("<table id=\"timeline\">").unwrap()..];
    // Four events: the three logons' evidence rows and the share finding's first time.
    let times: Vec<&str> = table.split("<tr><td>").skip(1).map(|row| &row[..row.find("</td>").unwrap()]).collect();
    assert_eq!(times, ["2024-05-02 10:00:00Z", "2024-05-02 10:01:00Z", "2024-05-02 10:02:00Z", "2024-05-02 10:05:00Z"]);
    assert!(table.contains("LogonType=3"), "key fields in the timeline");
    assert!(table.contains("no evidence rows"), "the share finding, without evidence, is one row");
}
