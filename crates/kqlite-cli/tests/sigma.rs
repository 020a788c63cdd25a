//! Sigma end to end: `kqlite sigma convert` (formats, summary, exit
//! status) and Sigma rules in a hunt through `--rules` and `--content`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kqlite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kqlite")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn put(root: &Path, relative: &str, text: &str) -> PathBuf {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(&path, text).unwrap();
    path
}

const FAILED_ADMIN: &str = "title: Failed admin logon
id: 5a1e0000-0000-4000-8000-000000000001
level: high
tags:
  - attack.t1110
logsource:
  product: windows
  service: security
detection:
  selection:
    EventID: 4625
    TargetUserName: admin
  condition: selection
";

const UNMAPPED: &str = "title: Nowhere
id: 5a1e0000-0000-4000-8000-000000000005
logsource:
  product: no_such_product
detection:
  selection:
    Field: x
  condition: selection
";

const EVIDENCE: &str = "TimeGenerated,EventID,TargetUserName,IpAddress,Computer,Channel,EventRecordId
2024-05-02T08:00:00Z,4625,admin,10.0.0.5,WS1,Security,101
2024-05-02T10:00:00Z,4625,bob,10.0.0.5,WS1,Security,102
";

#[test]
fn convert_prints_kql_with_a_title_line_and_exits_0() {
    let dir = tempfile::tempdir().unwrap();
    let rule = put(dir.path(), "failed_admin.yml", FAILED_ADMIN);
    let out = kqlite(&["sigma", "convert", rule.to_str().unwrap()]);
    let stdout = text(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}{}", text(&out.stderr));
    assert!(stdout.starts_with("// Failed admin logon (5a1e0000-0000-4000-8000-000000000001)\n"), "{stdout}");
    assert!(stdout.contains("SecurityEvent"), "{stdout}");
    assert!(text(&out.stderr).contains("1 compiled, 0 rejected"), "{}", text(&out.stderr));
}

#[test]
fn convert_jsonl_names_rejected_rules_with_their_reason_and_exits_1() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "a/failed_admin.yml", FAILED_ADMIN);
    put(dir.path(), "b/unmapped.yml", UNMAPPED);
    put(dir.path(), "b/not-sigma.yml", "just: yaml\n");
    let out = kqlite(&["sigma", "convert", dir.path().to_str().unwrap(), "--format", "jsonl"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let lines: Vec<serde_json::Value> = text(&out.stdout).lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), 2, "non-Sigma YAML in a directory is skipped: {lines:?}");
    let compiled = lines.iter().find(|l| l["id"] == "5a1e0000-0000-4000-8000-000000000001").unwrap();
    assert!(compiled["kql"].as_str().unwrap().contains("SecurityEvent"));
    assert_eq!(compiled["tables"], serde_json::json!(["SecurityEvent"]));
    let rejected = lines.iter().find(|l| l["id"] == "5a1e0000-0000-4000-8000-000000000005").unwrap();
    assert!(rejected["reason"].as_str().unwrap().contains("logsource"), "{rejected}");
    assert!(rejected.get("kql").is_none());
    assert!(text(&out.stderr).contains("1 compiled, 1 rejected"), "{}", text(&out.stderr));
}

#[test]
fn convert_exits_2_on_a_missing_path_and_teaches_with_examples() {
    let out = kqlite(&["sigma", "convert", "/no/such/rule.yml"]);
    assert_eq!(out.status.code(), Some(2));
    let help = kqlite(&["sigma", "convert", "--help"]);
    assert!(text(&help.stdout).contains("kqlite sigma convert sigma/rules/windows --format jsonl"));
}

#[test]
fn a_hunt_runs_sigma_rules_from_rules_and_content() {
    let dir = tempfile::tempdir().unwrap();
    put(dir.path(), "rules/failed_admin.yml", FAILED_ADMIN);
    put(dir.path(), "rules/unmapped.yml", UNMAPPED);
    let evidence = put(dir.path(), "SecurityEvent.csv", EVIDENCE);
    let rules = dir.path().join("rules");
    for flag in ["--rules", "--content"] {
        let out = kqlite(&["hunt", evidence.to_str().unwrap(), flag, rules.to_str().unwrap(), "--format", "jsonl"]);
        let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
        // Findings, every rule ran; the uncompilable rule is a note with its reason.
        assert_eq!(out.status.code(), Some(1), "{flag}: {stdout}{stderr}");
        assert!(stderr.contains("not compiled") && stderr.contains("logsource"), "{flag}: {stderr}");
        let findings: Vec<serde_json::Value> = stdout
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .filter(|f: &serde_json::Value| f.to_string().contains("Failed admin logon"))
            .collect();
        assert_eq!(findings.len(), 1, "{flag}: {stdout}");
        assert!(findings[0].to_string().contains("\"EventRecordId\":\"101\""), "{flag}: {}", findings[0]);
    }
}

#[test]
fn sigma_rules_without_evidence_are_summarised_once() {
    let dir = tempfile::tempdir().unwrap();
    let syslog_rule = "title: Sudo
id: 5a1e0000-0000-4000-8000-000000000007
logsource:
  product: linux
  service: auth
detection:
  keywords:
    - sudo
  condition: keywords
";
    put(dir.path(), "rules/sudo.yml", syslog_rule);
    put(dir.path(), "rules/failed_admin.yml", FAILED_ADMIN);
    let evidence = put(dir.path(), "SecurityEvent.csv", EVIDENCE);
    let rules = dir.path().join("rules");
    let out = kqlite(&["hunt", evidence.to_str().unwrap(), "--rules", rules.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert!(
        stderr.contains(
            "kqlite: sigma: 1 rules ran (1 with results), 1 skipped for lack of evidence (no data for Syslog)"
        ),
        "{stderr}"
    );
    assert!(!stderr.contains("rule sudo"), "{stderr}");
}
