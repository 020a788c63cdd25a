//! `kqlite hunt`, `rules`, `pivot` and `test` end to end: the built-in T1021
//! rule over the hand-built fixture (fixtures/t1021, whose expected.csv is
//! computed independently of kqlite by expected.py), exit codes, tuning,
//! and the detection tests under rules/tests.

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/t1021").join(name)
}

fn kqlite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kqlite")).args(args).output().unwrap()
}

/// A scratch directory removed on drop (the crate has no tempfile dependency).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "kqlite-hunt-test-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path).unwrap();
        TempDir(path)
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// `hunt` over the fixture with extra arguments, as JSON findings.
fn hunt_fixture(extra: &[&str]) -> (Option<i32>, Vec<Value>, String) {
    let se = fixture("SecurityEvent.csv");
    let dle = fixture("DeviceLogonEvents.csv");
    // Only the seed rule: the pack's other rules also read these tables.
    let mut args = vec![
        "hunt",
        se.to_str().unwrap(),
        dle.to_str().unwrap(),
        "--now",
        "2024-05-02T12:00:00Z",
        "--rule",
        "T1021-remote-services",
    ];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["--format", "json"]);
    let out = kqlite(&args);
    let stderr = text(&out.stderr);
    let findings = match serde_json::from_slice::<Value>(&out.stdout) {
        Ok(v) => v["findings"].as_array().cloned().unwrap_or_default(),
        Err(_) => Vec::new(),
    };
    (out.status.code(), findings, stderr)
}

fn by_account<'a>(findings: &'a [Value], account: &str) -> Option<&'a Value> {
    // Findings name accounts in their canonical form: the user name lower-cased.
    let suffix = format!("\\{}", account.to_lowercase());
    findings.iter().find(|f| f["account"].as_str().is_some_and(|a| a.ends_with(&suffix)))
}

#[test]
fn hunt_reports_what_expected_csv_says() {
    let (code, findings, stderr) = hunt_fixture(&[]);
    assert_eq!(code, Some(1), "findings exit 1; stderr: {stderr}");
    let expected = std::fs::read_to_string(fixture("expected.csv")).unwrap();
    let mut reader = csv::Reader::from_reader(expected.as_bytes());
    let mut rows = 0;
    for record in reader.records() {
        let r = record.unwrap();
        rows += 1;
        // The canonical account: domain upper-cased, user lower-cased.
        let account = format!("{}\\{}", r[1].to_uppercase(), r[0].to_lowercase());
        let f = findings
            .iter()
            .find(|f| f["account"] == account.as_str() && f["source"] == r[2])
            .unwrap_or_else(|| panic!("no finding for {account} from {}: {findings:#?}", &r[2]));
        assert_eq!(f["count"].as_u64().unwrap().to_string(), &r[3], "{account} count");
        let mut want: Vec<String> = serde_json::from_str::<Vec<String>>(&r[4]).unwrap();
        want.sort();
        let got: Vec<String> =
            f["targets"].as_array().unwrap().iter().map(|t| t.as_str().unwrap().to_string()).collect();
        assert_eq!(got, want, "{account} targets");
        assert_eq!(f["first_seen"].as_str().unwrap().replace(".0000000", ""), &r[6], "{account} first seen");
        assert_eq!(f["last_seen"].as_str().unwrap().replace(".0000000", ""), &r[7], "{account} last seen");
        assert_eq!(f["risk_score"].as_i64().unwrap().to_string(), &r[9], "{account} risk");
        assert_eq!(f["severity"], "High");
        assert_eq!(f["details"]["TargetHostCount"].as_i64().unwrap().to_string(), &r[5]);
    }
    assert_eq!(findings.len(), rows, "one finding per expected row");
    // Why: derived from the rule's findingReasons over each row.
    let reasons = |account: &str| -> Vec<String> {
        by_account(&findings, account).unwrap()["reasons"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r.as_str().unwrap().to_string())
            .collect()
    };
    assert_eq!(reasons("Administrator"), ["privileged account", "after hours"]);
    assert_eq!(reasons("carol"), ["after hours", "multi-host spread (3 hosts)"]);
    assert_eq!(reasons("svc-backup"), ["privileged account", "multi-host spread (2 hosts)"]);
    assert_eq!(reasons("alice"), ["after hours"]);
    // Most severe, riskiest first.
    assert_eq!(findings[0]["account"], "CONTOSO\\administrator");
    assert_eq!(findings[0]["account_forms"], serde_json::json!(["CONTOSO\\Administrator"]));
}

#[test]
fn hunt_exits_0_without_findings_and_table_is_readable() {
    let case = root().join("rules/tests/T1021-remote-services/atomic-1-rdp-localhost/SecurityEvent.csv");
    let out = kqlite(&["hunt", case.to_str().unwrap(), "--rule", "T1021-remote-services"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(out.stdout.is_empty());
    assert!(text(&out.stderr).contains("0 findings"));

    let se = fixture("SecurityEvent.csv");
    let out = kqlite(&["hunt", se.to_str().unwrap(), "--now", "2024-05-02T12:00:00Z", "--rule", "T1021"]);
    assert_eq!(out.status.code(), Some(1));
    let table = text(&out.stdout);
    let header = table.lines().next().unwrap();
    for column in [
        "severity",
        "rule",
        "account",
        "source",
        "targets",
        "count",
        "first_seen",
        "last_seen",
        "risk",
        "why",
        "agreeing_rules",
    ] {
        assert!(header.contains(column), "{header}");
    }
    assert!(table.contains("T1021-remote-services") && table.contains("multi-host spread (2 hosts)"), "{table}");
}

#[test]
fn the_whole_pack_covers_rdp_to_localhost() {
    let case = root().join("rules/tests/T1021-remote-services/atomic-1-rdp-localhost/SecurityEvent.csv");
    let out = kqlite(&["hunt", case.to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let rules: Vec<String> = text(&out.stdout)
        .lines()
        .map(|l| serde_json::from_str::<Value>(l).unwrap()["rule_name"].as_str().unwrap().to_string())
        .collect();
    assert!(rules.iter().all(|r| r.starts_with("T1021.001")), "{rules:?}");
    let stderr = text(&out.stderr);
    assert!(stderr.contains("rule T1021.004-ssh-lateral-movement: skipped, no data for Syslog"), "{stderr}");
    let out = kqlite(&["hunt", case.to_str().unwrap(), "--rule", "T9"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("--rule T9: no rule 'T9'"));
}

#[test]
fn a_silent_hunt_over_old_evidence_says_why() {
    let se = fixture("SecurityEvent.csv");
    let out = kqlite(&["hunt", se.to_str().unwrap(), "--now", "2024-06-01T00:00:00Z"]);
    assert_eq!(out.status.code(), Some(0));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("the evidence starts at 2024-04-29T03:00:00Z, 32 days before now()"), "{stderr}");
}

#[test]
fn hunt_reads_an_ingested_store() {
    let dir = TempDir::new();
    let store = dir.path().join("store");
    let se = fixture("SecurityEvent.csv");
    let dle = fixture("DeviceLogonEvents.csv");
    let out = kqlite(&["ingest", se.to_str().unwrap(), dle.to_str().unwrap(), "--store", store.to_str().unwrap()]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let from_store = kqlite(&[
        "hunt",
        "--store",
        store.to_str().unwrap(),
        "--now",
        "2024-05-02T12:00:00Z",
        "--rule",
        "T1021-remote-services",
        "--format",
        "csv",
    ]);
    assert_eq!(from_store.status.code(), Some(1), "{}", text(&from_store.stderr));
    let (_, findings, _) = hunt_fixture(&[]);
    let rows = text(&from_store.stdout).lines().count() - 1;
    assert_eq!(rows, findings.len(), "{}", text(&from_store.stdout));
    assert!(text(&from_store.stdout).contains("CONTOSO\\svc-backup,10.0.0.7,SRV1 SRV2,3,"));
}

#[test]
fn broken_rules_are_reported_with_their_file_and_exit_2() {
    let dir = TempDir::new();
    let rule = |name: &str, query: &str| {
        format!("id: {name}\nname: {name}\nseverity: Low\nrequiredDataConnectors: []\nquery: |\n  {query}\n")
    };
    std::fs::write(dir.path().join("bad-column.yaml"), rule("bad-column", "SecurityEvent | where NoSuchColumn == 1"))
        .unwrap();
    let se = fixture("SecurityEvent.csv");
    let rules = dir.path().to_str().unwrap();
    let out = kqlite(&["hunt", se.to_str().unwrap(), "--rules", rules]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("rule bad-column: error: query line 1, column 23: unknown name 'NoSuchColumn'"),
        "{stderr}"
    );

    std::fs::write(dir.path().join("not-a-rule.yaml"), "name: [unclosed\n").unwrap();
    let out = kqlite(&["hunt", se.to_str().unwrap(), "--rules", rules]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr.contains("not-a-rule.yaml: not a valid rule"), "{stderr}");
    std::fs::remove_file(dir.path().join("not-a-rule.yaml")).unwrap();

    // A tuning file can switch a rule off.
    let tuning = dir.path().join("tuning.txt");
    std::fs::write(&tuning, "rules:\n  bad-column:\n    disabled: true\n").unwrap();
    let out = kqlite(&["hunt", se.to_str().unwrap(), "--rules", rules, "--tuning", tuning.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("rule bad-column: disabled by the tuning file"));
}

#[test]
fn hunt_usage_errors_exit_2() {
    let out = kqlite(&["hunt", "/no/such/evidence"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("/no/such/evidence does not exist"), "{}", text(&out.stderr));
}

#[test]
fn min_severity_filters() {
    let (code, findings, _) = hunt_fixture(&["--min-severity", "high"]);
    assert_eq!((code, findings.len()), (Some(1), 6));
    let dir = TempDir::new();
    let tuning = dir.path().join("tuning.yaml");
    std::fs::write(&tuning, "rules:\n  T1021:\n    severity: Medium\n").unwrap();
    let (code, findings, stderr) = hunt_fixture(&["--tuning", tuning.to_str().unwrap(), "--min-severity", "high"]);
    assert_eq!((code, findings.len()), (Some(0), 0), "{stderr}");
}

#[test]
fn tuning_watchlist_silences_an_admin_account() {
    let dir = TempDir::new();
    std::fs::create_dir(dir.path().join("lists")).unwrap();
    std::fs::write(dir.path().join("lists/Admins.csv"), "# SearchKey: Account\nOwner,Account\nIT,administrator\n")
        .unwrap();
    let tuning = dir.path().join("tuning.yaml");
    std::fs::write(
        &tuning,
        "watchlists: lists\nrules:\n  T1021-remote-services:\n    exclude:\n      - watchlist: Admins\n        column: TargetUserName\n",
    )
    .unwrap();
    let (code, findings, stderr) = hunt_fixture(&["--tuning", tuning.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(by_account(&findings, "Administrator").is_none(), "{findings:#?}");
    assert_eq!(findings.len(), 5, "only the listed account is silenced");

    // With `when`, the exclusion keeps the risky (after-hours privileged) logon.
    std::fs::write(
        &tuning,
        "watchlists: lists\nrules:\n  T1021:\n    exclude:\n      - watchlist: Admins\n        column: TargetUserName\n        when: MaxRiskScore < 3\n",
    )
    .unwrap();
    let (_, findings, _) = hunt_fixture(&["--tuning", tuning.to_str().unwrap()]);
    assert!(by_account(&findings, "Administrator").is_some());
}

#[test]
fn tuning_parameters_and_time_zone() {
    let dir = TempDir::new();
    let tuning = dir.path().join("tuning.yaml");
    // No privileged terms: svc-backup keeps its multi-host finding but loses the reason;
    // Backup_Operator (single host, business hours) drops out.
    std::fs::write(&tuning, "rules:\n  T1021:\n    parameters:\n      PrivilegedAccounts: dynamic([\"nobody\"])\n")
        .unwrap();
    let (_, findings, stderr) = hunt_fixture(&["--tuning", tuning.to_str().unwrap()]);
    assert!(by_account(&findings, "Backup_Operator").is_none(), "{stderr} {findings:#?}");
    let svc = by_account(&findings, "svc-backup").unwrap();
    assert_eq!(svc["reasons"], serde_json::json!(["multi-host spread (2 hosts)"]));

    // UTC+3: the local window 00:00-05:59 (hours 0..5) is 21:00-02:59 UTC, so alice's
    // 02:30 UTC logon (05:30 local) stays after hours, grace's 05:00 UTC (08:00 local)
    // is business hours, and Administrator's 03:00 UTC logon scores 2, not 3.
    std::fs::write(&tuning, "timeZone: \"+03:00\"\n").unwrap();
    let (_, findings, stderr) = hunt_fixture(&["--tuning", tuning.to_str().unwrap()]);
    assert_eq!(by_account(&findings, "alice").unwrap()["reasons"], serde_json::json!(["after hours"]), "{stderr}");
    assert!(by_account(&findings, "grace").is_none(), "{findings:#?}");
    assert_eq!(by_account(&findings, "Administrator").unwrap()["risk_score"], 2);

    std::fs::write(&tuning, "rules:\n  T1021:\n    parameters:\n      LookBack: 7d\n").unwrap();
    let (code, _, stderr) = hunt_fixture(&["--tuning", tuning.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(
        stderr.contains("unknown parameter 'LookBack'") && stderr.contains("LookbackWindow, PrivilegedAccounts"),
        "{stderr}"
    );
    std::fs::write(&tuning, "rules:\n  T9999:\n    disabled: true\n").unwrap();
    let (code, _, stderr) = hunt_fixture(&["--tuning", tuning.to_str().unwrap()]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("rules.T9999") && stderr.contains("no rule 'T9999'"), "{stderr}");
}

#[test]
fn example_tuning_file_loads() {
    let tuning = root().join("rules/tuning/tuning.yaml");
    let (code, findings, stderr) = hunt_fixture(&["--tuning", tuning.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert_eq!(findings.len(), 5, "svc-backup is a listed service account: {findings:#?}");
    assert!(by_account(&findings, "svc-backup").is_none());
}

#[test]
fn rules_list_and_show() {
    let out = kqlite(&["rules", "list"]);
    assert!(out.status.success());
    assert!(text(&out.stdout).contains("T1021-remote-services"));
    let out = kqlite(&["rules", "show", "T1021"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let shown = text(&out.stdout);
    for part in [
        "severity:    High",
        "confidence:  Medium",
        "## Investigation guide",
        "## Response",
        "## False positives",
        "### next-actions",
        "### new-services",
        "### session-processes",
        "LookbackWindow",
        "IsAfterHours or IsPrivilegedAccount, 2,\n    1)",
    ] {
        assert!(shown.contains(part), "missing {part:?}");
    }
    let out = kqlite(&["rules", "show", "T9"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn pivot_runs_the_rules_follow_ups() {
    let se = fixture("SecurityEvent.csv");
    let base = ["pivot", se.to_str().unwrap(), "--rule", "T1021", "--now", "2024-05-02T12:00:00Z"];
    let mut args = base.to_vec();
    args.extend(["--account", "svc-backup"]);
    let out = kqlite(&args);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    for name in ["next-actions", "new-services", "session-processes", "processes-on-targets"] {
        assert!(stdout.contains(&format!("== {name} for CONTOSO\\svc-backup from 10.0.0.7")), "{stdout}");
    }
    // The fixture's svc-backup logons on SRV1/SRV2 are what next-actions finds.
    assert!(stdout.contains("SRV1") && stdout.contains("SRV2"), "{stdout}");

    let mut args = base.to_vec();
    args.extend(["--account", "svc-backup", "--format", "json"]);
    let out = kqlite(&args);
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    let runs = json["pivots"].as_array().unwrap();
    assert_eq!(runs.len(), 4);
    assert_eq!(runs[0]["pivot"], "next-actions");
    assert_eq!(runs[0]["account"], "CONTOSO\\svc-backup");
    let columns: Vec<&str> =
        runs[0]["result"]["columns"].as_array().unwrap().iter().map(|c| c["name"].as_str().unwrap()).collect();
    assert_eq!(columns, ["Computer", "EventID", "Activity", "Events", "FirstSeen", "LastSeen"]);
    assert!(!runs[0]["result"]["rows"].as_array().unwrap().is_empty());

    let mut args = base.to_vec();
    args.extend(["--account", "nobody"]);
    let out = kqlite(&args);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("no finding for account 'nobody'"));

    let mut args = base.to_vec();
    args.extend(["--account", "alice", "--name", "next-actions", "--print"]);
    let out = kqlite(&args);
    let printed = text(&out.stdout);
    assert!(
        printed.contains("let FindingAccount = \"alice\";")
            && printed.contains("let FindingTargets = dynamic([\"SRV1\"]);")
    );
}

/// Lateral movement followed by a remote shell and a PsExec-style service:
/// the pivots find the processes of the logon session and the new service.
#[test]
fn pivots_follow_the_logon_session() {
    let dir = TempDir::new();
    let events = dir.path().join("SecurityEvent.csv");
    std::fs::write(
        &events,
        "TimeGenerated,EventID,LogonType,IpAddress,TargetUserName,TargetDomainName,Computer,TargetLogonId,SubjectLogonId,SubjectUserName,NewProcessName,ParentProcessName,CommandLine,ServiceName,ServiceFileName\n\
         2024-05-02T10:00:00Z,4624,3,10.0.0.9,backup,CONTOSO,SRV9,0xabc,0x0,-,,,,,\n\
         2024-05-02T10:00:05Z,4688,,,,,SRV9,0x0,0xabc,backup,C:\\Windows\\System32\\cmd.exe,C:\\Windows\\System32\\wsmprovhost.exe,cmd /c whoami,,\n\
         2024-05-02T10:00:06Z,4688,,,,,SRV9,0xabc,0x3e7,SRV9$,C:\\Windows\\System32\\whoami.exe,C:\\Windows\\System32\\cmd.exe,whoami,,\n\
         2024-05-02T10:00:07Z,4688,,,,,SRV9,0x0,0x3e7,SRV9$,C:\\Windows\\System32\\svchost.exe,C:\\Windows\\System32\\services.exe,,,\n\
         2024-05-02T10:01:00Z,4697,,,,,SRV9,,0xabc,backup,,,,PSEXESVC,%SystemRoot%\\PSEXESVC.exe\n",
    )
    .unwrap();
    let out = kqlite(&["pivot", events.to_str().unwrap(), "--rule", "T1021", "--account", "backup", "--format", "csv"]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    let section = |name: &str| -> String {
        let start = stdout.find(&format!("== {name} ")).unwrap_or_else(|| panic!("no {name}: {stdout}"));
        let rest = &stdout[start..];
        rest[..rest[3..].find("== ").map_or(rest.len(), |i| i + 3)].to_string()
    };
    let session = section("session-processes");
    assert!(session.contains("cmd.exe") && session.contains("whoami.exe"), "{session}");
    assert!(!session.contains("svchost.exe"), "{session}");
    assert!(session.contains("(2 rows)"), "{session}");
    assert!(section("processes-on-targets").contains("(3 rows)"));
    let services = section("new-services");
    assert!(services.contains("PSEXESVC") && services.contains("SecurityEvent 4697"), "{services}");
}

#[test]
fn detection_tests_pass_and_a_broken_expectation_fails() {
    let out = kqlite(&["test", root().join("rules/tests").to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.contains("test T1021-remote-services/atomic-2-smb-admin-share ... ok"), "{stdout}");
    assert!(stdout.contains("test result: ok."));

    // Copy one case and break its expectation.
    let dir = TempDir::new();
    let case = dir.path().join("T1021-remote-services/broken");
    std::fs::create_dir_all(&case).unwrap();
    let source = root().join("rules/tests/T1021-remote-services/atomic-2-smb-admin-share");
    std::fs::copy(source.join("SecurityEvent.csv"), case.join("SecurityEvent.csv")).unwrap();
    let expected = std::fs::read_to_string(source.join("expected.yaml")).unwrap().replace("count: 1", "count: 7");
    std::fs::write(case.join("expected.yaml"), expected).unwrap();
    // A silent expectation where the rule fires.
    let silent = dir.path().join("T1021-remote-services/expects-silence");
    std::fs::create_dir_all(&silent).unwrap();
    std::fs::copy(source.join("SecurityEvent.csv"), silent.join("SecurityEvent.csv")).unwrap();
    std::fs::write(silent.join("expected.yaml"), "findings: []\n").unwrap();
    let out = kqlite(&["test", dir.path().to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("test T1021-remote-services/broken ... FAILED"), "{stdout}");
    assert!(stdout.contains("count 1 != 7"), "{stdout}");
    assert!(stdout.contains("test T1021-remote-services/expects-silence ... FAILED"), "{stdout}");
    assert!(stdout.contains("unexpected finding: account=CONTOSO\\testuser"), "{stdout}");
    assert!(stdout.contains("0 passed; 2 failed"), "{stdout}");
}

#[test]
fn graph_option_writes_the_findings_graph() {
    let dir = TempDir::new();
    let dot = dir.path().join("lateral.dot");
    let (code, findings, stderr) = hunt_fixture(&["--graph", dot.to_str().unwrap()]);
    assert_eq!(code, Some(1), "{stderr}");
    assert!(!findings.is_empty());
    let text = std::fs::read_to_string(&dot).unwrap_or_else(|e| panic!("no graph written ({e}): {stderr}"));
    assert!(text.trim_start().starts_with("digraph"), "{text}");
    // Every finding's source and targets appear in the graph.
    for finding in &findings {
        let source = finding["source"].as_str().unwrap();
        assert!(text.contains(source), "source {source} missing from the graph");
        for target in finding["targets"].as_array().unwrap() {
            let target = target.as_str().unwrap();
            assert!(text.to_lowercase().contains(&target.to_lowercase()), "target {target} missing");
        }
    }
}

#[test]
fn lookback_option_reaches_evidence_older_than_the_rules_lookback() {
    let se = fixture("SecurityEvent.csv");
    let dle = fixture("DeviceLogonEvents.csv");
    let run = |extra: &[&str]| {
        let mut args = vec!["hunt", se.to_str().unwrap(), dle.to_str().unwrap(), "--rule", "T1021-remote-services"];
        args.extend_from_slice(&["--now", "2024-05-20T12:00:00Z", "--format", "json"]);
        args.extend_from_slice(extra);
        let out = kqlite(&args);
        let findings = serde_json::from_slice::<Value>(&out.stdout)
            .map(|v| v["findings"].as_array().cloned().unwrap_or_default())
            .unwrap_or_default();
        (out.status.code(), findings, text(&out.stderr))
    };
    // Eighteen days after the fixture: the rule's 24h lookback sees nothing.
    let (code, findings, stderr) = run(&[]);
    assert_eq!((code, findings.len()), (Some(0), 0), "{stderr}");
    // A 30-day lookback covers the whole fixture (2024-04-29 on) from
    // either clock, so it finds the same, including what the 24h lookback
    // at the fixture's own time leaves out.
    let (code, late, stderr) = run(&["--lookback", "30d"]);
    let (_, on_time, _) = hunt_fixture(&["--lookback", "30d"]);
    let (_, day_only, _) = hunt_fixture(&[]);
    assert!(day_only.len() < on_time.len(), "{day_only:?}");
    assert_eq!(code, Some(1), "{stderr}");
    let key = |f: &Value| format!("{}|{}|{}", f["account"], f["source"], f["count"]);
    let mut late: Vec<String> = late.iter().map(key).collect();
    let mut on_time: Vec<String> = on_time.iter().map(key).collect();
    late.sort();
    on_time.sort();
    assert!(!on_time.is_empty());
    assert_eq!(late, on_time);
    let (code, _, stderr) = run(&["--lookback", "soon"]);
    assert_eq!(code, Some(2));
    assert!(stderr.contains("--lookback") && stderr.contains("timespan"), "{stderr}");
}
