//! `kqlite demo`: generates, hunts, reports the intruder, writes the graph.

use std::path::PathBuf;
use std::process::Command;

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kqlite-cli-demo-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    dir
}

#[test]
fn demo_prints_the_intruder_and_what_to_try_next() {
    let dir = scratch("table");
    let graph = dir.join("graph.dot");
    let out = Command::new(env!("CARGO_BIN_EXE_kqlite"))
        .args(["demo", "--hosts", "80", "--days", "4", "--out"])
        .arg(&dir)
        .arg("--graph")
        .arg(&graph)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "exit {:?}\n{stdout}\n{}", out.status, String::from_utf8_lossy(&out.stderr));
    for expected in ["kqlite demo: 4 days", "What was planted:", "Try next:", "T1021.004-ssh-lateral-movement"] {
        assert!(stdout.contains(expected), "no '{expected}' in\n{stdout}");
    }
    // Tuned, every finding is the intruder's.
    let verdict = stdout.lines().find(|l| l.starts_with("Result: ")).expect("a result line");
    let words: Vec<&str> = verdict.split_whitespace().collect();
    assert_eq!(words[1], words[3], "{verdict}");
    assert_eq!(words[9], words[12], "not every host the intruder reached is in a finding: {verdict}");
    let dot = std::fs::read_to_string(&graph).unwrap();
    assert!(dot.starts_with("digraph lateral_movement"), "{dot}");
    assert!(dir.join("tuning/tuning.yaml").is_file());
    // Windows events are EVTX by default, one file per host and log.
    assert!(dir.join("logs/windows/DC-01/Security.evtx").is_file());
    query_reads_only_what_it_needs_with_the_same_answers(&dir.join("logs/windows"));
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `kqlite query PATHS` keeps only the EVTX records and columns the query
/// reads: counts by EventID and now() at the latest event come out the same
/// as from a query that reads everything.
fn query_reads_only_what_it_needs_with_the_same_answers(logs: &std::path::Path) {
    let query = |text: &str| {
        let out = Command::new(env!("CARGO_BIN_EXE_kqlite"))
            .args(["query", "--now", "latest", "--format", "json", text])
            .arg(logs)
            .output()
            .unwrap();
        assert!(out.status.success(), "{text}: {}", String::from_utf8_lossy(&out.stderr));
        let result: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        result["rows"].clone()
    };
    // Reads every row of SecurityEvent: nothing is left out.
    let all = query("SecurityEvent | summarize n = count() by EventID | where EventID == 4624");
    let pruned = query("SecurityEvent | where EventID == 4624 | summarize n = count() by EventID");
    assert!(all[0][1].as_i64().unwrap() > 0, "{all}");
    assert_eq!(all, pruned);
    let latest = query("union SecurityEvent, WindowsEvent | summarize t = max(TimeGenerated)");
    // No table read: every record is left unread, and now() is still the latest event.
    let now = query("print t = now()");
    assert_eq!(latest, now);
    // A query no record can match leaves every record out: its table still
    // exists, empty.
    assert_eq!(query("SecurityEvent | where false | count"), serde_json::json!([[0]]));
    assert_eq!(query("SecurityEvent | where isnull(Computer) | count"), serde_json::json!([[0]]));
}

#[test]
fn demo_json_is_only_findings_on_stdout() {
    let dir = scratch("json");
    let out = Command::new(env!("CARGO_BIN_EXE_kqlite"))
        .args(["demo", "--hosts", "60", "--days", "3", "--seed", "5", "--format", "json", "--windows-format", "json"])
        .arg("--out")
        .arg(&dir)
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON document");
    let findings = json["findings"].as_array().expect("findings");
    assert!(findings.len() >= 5, "{json}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("What was planted:"), "{stderr}");
    assert!(dir.join("logs/windows/SecurityEvent.jsonl").is_file());
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn demo_rejects_too_few_hosts() {
    let dir = scratch("small");
    let out =
        Command::new(env!("CARGO_BIN_EXE_kqlite")).args(["demo", "--hosts", "10", "--out"]).arg(&dir).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("at least 40 hosts"));
}
