//! Sigma detection rules run together, one query per logsource variant
//! (`kqlite_detect::sigma_plan`), give the same outcomes and findings as
//! each rule run on its own (`hunt::hunt_each_rule`), over EVTX evidence
//! where several rules share a variant, fields and predicates; a rule that
//! does not bind in a group fails alone and reports its own error.

use kqlite_detect::finding::Severity;
use kqlite_detect::hunt::{self, RuleOutcome, RuleStatus};
use kqlite_detect::rule::RuleSet;
use kqlite_detect::sigma::SigmaOptions;
use kqlite_detect::tuning::Tuning;
use kqlite_engine::Session;
use kqlite_ingest::evtx::writer::{write_evtx_file, EventRecord};
use std::sync::Arc;

const SYSMON: &str = "Microsoft-Windows-Sysmon/Operational";

fn sysmon_process(record_id: u64, image: &str, command_line: &str, parent: &str, user: &str) -> EventRecord {
    EventRecord {
        channel: SYSMON.into(),
        provider: "Microsoft-Windows-Sysmon".into(),
        event_id: 1,
        time_created: 1_714_550_400_000_000_000 + record_id as i64 * 1_000_000_000,
        record_id,
        computer: "WS1.corp.example".into(),
        data: vec![
            ("Image".into(), image.into()),
            ("CommandLine".into(), command_line.into()),
            ("ParentImage".into(), parent.into()),
            ("User".into(), user.into()),
        ],
        ..EventRecord::default()
    }
}

fn security(record_id: u64, event_id: u32, data: &[(&str, &str)]) -> EventRecord {
    EventRecord {
        channel: "Security".into(),
        provider: "Microsoft-Windows-Security-Auditing".into(),
        event_id,
        time_created: 1_714_550_400_000_000_000 + record_id as i64 * 1_000_000_000,
        record_id,
        computer: "DC1.corp.example".into(),
        data: data.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        ..EventRecord::default()
    }
}

fn evidence(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let sysmon = vec![
        sysmon_process(
            1,
            r"C:\Windows\System32\cmd.exe",
            "cmd.exe /c whoami",
            r"C:\Windows\explorer.exe",
            "CORP\\alice",
        ),
        sysmon_process(
            2,
            r"C:\Windows\System32\CMD.EXE",
            "cmd /c net user admin /add",
            r"C:\Tools\evil.exe",
            "CORP\\bob",
        ),
        sysmon_process(3, r"C:\Windows\System32\net.exe", "net user", r"C:\Windows\System32\cmd.exe", "CORP\\bob"),
        sysmon_process(4, r"C:\Windows\notepad.exe", "notepad.exe", r"C:\Windows\explorer.exe", "CORP\\carol"),
    ];
    let security = vec![
        security(
            10,
            4688,
            &[
                ("SubjectUserName", "dave"),
                ("NewProcessName", r"C:\Windows\System32\cmd.exe"),
                ("CommandLine", "cmd.exe /c WHOAMI /all"),
                ("ParentProcessName", r"C:\Windows\explorer.exe"),
            ],
        ),
        security(11, 4625, &[("TargetUserName", "admin"), ("IpAddress", "10.0.0.9")]),
        security(12, 4625, &[("TargetUserName", "bob"), ("IpAddress", "10.0.0.5")]),
    ];
    let (a, b) = (dir.join("sysmon.evtx"), dir.join("security.evtx"));
    write_evtx_file(&a, &sysmon).unwrap();
    write_evtx_file(&b, &security).unwrap();
    vec![a, b]
}

/// A process_creation rule (Sysmon 1 and Security 4688) over `detection`.
fn process_rule(n: u32, detection: &str) -> String {
    format!(
        "title: Process rule {n}\nid: 5a1e0000-0000-4000-8000-0000000001{n:02}\nlevel: high\n\
         tags:\n  - attack.t1059.003\nlogsource:\n  product: windows\n  category: process_creation\n\
         detection:\n{detection}"
    )
}

fn rules_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let cmd = "  selection:\n    Image|endswith: '\\cmd.exe'\n  condition: selection\n";
    let cmd_whoami =
        "  selection:\n    Image|endswith: '\\cmd.exe'\n    CommandLine|contains: whoami\n  condition: selection\n";
    let net_user = "  selection:\n    CommandLine|contains|all:\n      - net\n      - user\n  \
                    filter:\n    ParentImage|endswith: '\\explorer.exe'\n  condition: selection and not filter\n";
    let keyword = "  keywords:\n    - whoami\n  condition: keywords\n";
    let no_parent = "  selection:\n    Image|endswith: '.exe'\n    ParentImage: null\n  condition: selection\n";
    let wildcard = "  selection:\n    CommandLine: 'cmd*/c*'\n    User|exists: true\n  condition: selection\n";
    for (n, detection) in
        [(1, cmd), (2, cmd_whoami), (3, net_user), (4, cmd_whoami), (5, keyword), (6, no_parent), (7, wildcard)]
    {
        std::fs::write(dir.path().join(format!("process_{n}.yml")), process_rule(n, detection)).unwrap();
    }
    let failed_admin = "title: Failed admin logon\nid: 5a1e0000-0000-4000-8000-000000000201\nlevel: medium\n\
                        logsource:\n  product: windows\n  service: security\ndetection:\n  selection:\n    \
                        EventID: 4625\n    TargetUserName: admin\n  condition: selection\n";
    std::fs::write(dir.path().join("failed_admin.yml"), failed_admin).unwrap();
    dir
}

async fn session(dir: &std::path::Path) -> (Session, Vec<String>) {
    let mut session = kqlite_ingest::catalog::new_session();
    let report = kqlite_detect::evidence::load_evidence(&mut session, &evidence(dir)).await.unwrap();
    session.set_clock(kqlite_engine::Clock::Fixed(1_714_600_000_000_000_000));
    hunt::prepare_session(&mut session, &Tuning::default(), &[]).unwrap();
    (session, hunt::tables_with_data(&report))
}

/// Each outcome as comparable text: the rule, its status and its findings
/// (sorted: the grouped run gathers a rule's rows variant by variant).
fn comparable(outcomes: &[RuleOutcome]) -> Vec<String> {
    (outcomes.iter())
        .map(|o| {
            let mut findings: Vec<String> = o.findings.iter().map(|f| serde_json::to_string(f).unwrap()).collect();
            findings.sort();
            format!("{} {:?}\n  {}", o.stem, o.status, findings.join("\n  "))
        })
        .collect()
}

#[tokio::test]
async fn grouped_rules_give_the_findings_of_each_rule_run_alone() {
    let rules_dir = rules_folder();
    let rules = RuleSet::load_path(rules_dir.path(), &SigmaOptions::default()).unwrap();
    assert!(rules.sigma.rejected.is_empty() && rules.sigma.problems.is_empty(), "{:?}", rules.sigma);
    assert_eq!(rules.rules.len(), 8);
    assert!(rules.rules.iter().all(|r| r.sigma_plan.is_some()), "every rule here can run in a group");
    let evidence_dir = tempfile::tempdir().unwrap();
    let (session, with_data) = session(evidence_dir.path()).await;
    for tuning in [Tuning::default(), {
        let mut t = Tuning::default();
        t.set_lookback(&rules, "10s").unwrap();
        t
    }] {
        let grouped = hunt::hunt(&session, &rules, &tuning, &with_data, Severity::Informational).await;
        let alone = hunt::hunt_each_rule(&session, &rules, &tuning, &with_data, Severity::Informational).await;
        assert_eq!(comparable(&grouped), comparable(&alone));
        let fired = grouped.iter().filter(|o| matches!(o.status, RuleStatus::Ran { fired: true, .. })).count();
        let failed: Vec<_> = grouped.iter().filter(|o| matches!(o.status, RuleStatus::Failed(_))).collect();
        assert!(failed.is_empty(), "{failed:?}");
        // Without a lookback most rules find something; the 10s lookback
        // (before the fixed now()) leaves nothing.
        assert!(fired >= 6 || tuning.for_rule(&rules.rules[0]).is_some(), "{fired} rules fired");
    }
    // The shapes the rules were written to show: cmd.exe in either case
    // and from either table; both the whoami rules; the keyword rule.
    let grouped = hunt::hunt(&session, &rules, &Tuning::default(), &with_data, Severity::Informational).await;
    let records = |stem: &str| -> Vec<String> {
        let outcome = grouped.iter().find(|o| o.stem == stem).unwrap();
        let mut ids: Vec<String> =
            outcome.findings.iter().map(|f| f.details["EventRecordId"].to_string().replace('"', "")).collect();
        ids.sort();
        ids
    };
    assert_eq!(records("process_1"), ["1", "10", "2"]);
    assert_eq!(records("process_2"), ["1", "10"]);
    assert_eq!(records("process_4"), ["1", "10"]);
    assert_eq!(records("process_3"), ["2", "3"]);
    assert_eq!(records("failed_admin"), ["11"]);
}

#[tokio::test]
async fn a_rule_that_does_not_bind_fails_alone_and_the_group_runs_on() {
    let rules_dir = rules_folder();
    let mut rules = RuleSet::load_path(rules_dir.path(), &SigmaOptions::default()).unwrap();
    // Rule 3's predicate and query call a function that does not exist: its
    // group's query fails, is split, and the rule fails on its own.
    let broken = rules.rules.iter_mut().find(|r| r.stem == "process_3").unwrap();
    let mut plan = (**broken.sigma_plan.as_ref().unwrap()).clone();
    for variant in &mut plan.variants {
        variant.predicate = format!("({} and no_such_function(1))", variant.predicate);
    }
    broken.sigma_plan = Some(Arc::new(plan));
    broken.query = broken.query.replace("| where ", "| where no_such_function(1) and ");
    let evidence_dir = tempfile::tempdir().unwrap();
    let (session, with_data) = session(evidence_dir.path()).await;
    let grouped = hunt::hunt(&session, &rules, &Tuning::default(), &with_data, Severity::Informational).await;
    let alone = hunt::hunt_each_rule(&session, &rules, &Tuning::default(), &with_data, Severity::Informational).await;
    assert_eq!(comparable(&grouped), comparable(&alone));
    let status = |stem: &str| &grouped.iter().find(|o| o.stem == stem).unwrap().status;
    match status("process_3") {
        RuleStatus::Failed(error) => assert!(error.contains("no_such_function"), "{error}"),
        other => panic!("expected a failure, got {other:?}"),
    }
    for stem in ["process_1", "process_2", "process_4", "failed_admin"] {
        assert!(matches!(status(stem), RuleStatus::Ran { fired: true, .. }), "{stem}: {:?}", status(stem));
    }
}

#[tokio::test]
async fn evidence_loaded_for_the_grouped_plans_gives_the_same_findings() {
    let rules_dir = rules_folder();
    let rules = RuleSet::load_path(rules_dir.path(), &SigmaOptions::default()).unwrap();
    let tuning = Tuning::default();
    let needs = hunt::rules_needs(&rules, &tuning, &[]).await.expect("every table is known");
    let evidence_dir = tempfile::tempdir().unwrap();
    let (full, full_data) = session(evidence_dir.path()).await;
    let mut only_needed = kqlite_ingest::catalog::new_session();
    let report =
        kqlite_detect::evidence::load_evidence_for(&mut only_needed, &evidence(evidence_dir.path()), Arc::new(needs))
            .await
            .unwrap();
    only_needed.set_clock(kqlite_engine::Clock::Fixed(1_714_600_000_000_000_000));
    hunt::prepare_session(&mut only_needed, &tuning, &[]).unwrap();
    let with_data = hunt::tables_with_data(&report);
    let grouped = hunt::hunt(&only_needed, &rules, &tuning, &with_data, Severity::Informational).await;
    let alone = hunt::hunt_each_rule(&full, &rules, &tuning, &full_data, Severity::Informational).await;
    assert_eq!(comparable(&grouped), comparable(&alone));
}

#[test]
fn the_built_in_pack_loads_beside_a_sigma_folder() {
    let rules_dir = rules_folder();
    let paths = [std::path::PathBuf::from(kqlite_detect::pack::BUILTIN_PATH), rules_dir.path().to_path_buf()];
    let (rules, functions) = kqlite_detect::pack::load_paths(&paths, &SigmaOptions::default()).unwrap();
    let builtin = kqlite_detect::pack::builtin_rules().unwrap();
    assert_eq!(rules.rules.len(), builtin.rules.len() + 8);
    assert!(builtin.rules.iter().all(|b| rules.rules.iter().any(|r| r.id == b.id)));
    assert_eq!(functions, kqlite_detect::pack::builtin_functions());
    assert!(rules.sigma.problems.is_empty(), "{:?}", rules.sigma.problems);
}
