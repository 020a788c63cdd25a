//! `kqlite tables` end to end: the catalog listed, one table described, the
//! rows of a store, and a missing name.

use std::process::{Command, Output};

fn kqlite() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kqlite"))
}

fn run(args: &[&str]) -> Output {
    kqlite().args(args).output().unwrap()
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn describes_a_table_as_json() {
    let out = run(&["tables", "DeviceLogonEvents", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["table"], "DeviceLogonEvents");
    let columns = doc["columns"].as_array().unwrap();
    let ty = |name: &str| columns.iter().find(|c| c["name"] == name).map(|c| c["type"].clone());
    assert_eq!(columns[0]["name"], "TimeGenerated");
    assert_eq!(ty("Timestamp"), Some("datetime".into()));
    assert_eq!(ty("LogonType"), Some("string".into()));
    assert_eq!(ty("AdditionalFields"), Some("dynamic".into()));
    assert!(doc.get("rows").is_none(), "rows only with --store");
}

#[test]
fn lists_every_table_with_its_column_count() {
    let out = run(&["tables", "--format", "json"]);
    assert_eq!(out.status.code(), Some(0));
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = list.as_array().unwrap();
    assert!(list.len() > 900, "{} tables", list.len());
    let security = list.iter().find(|t| t["table"] == "SecurityEvent").unwrap();
    assert_eq!(security["columns"], 231);
    let text = stdout(&run(&["tables"]));
    assert!(text.lines().next().unwrap().starts_with("Table"), "{text:.200}");
    assert!(text.lines().any(|l| l.starts_with("AADSignInEventsBeta ")), "Defender XDR tables are listed");
}

#[test]
fn a_store_adds_its_rows() {
    let dir = tempfile_dir("store");
    let logs = dir.join("logs");
    std::fs::create_dir_all(&logs).unwrap();
    std::fs::write(
        logs.join("syslog.log"),
        "Jan  5 10:00:01 web1 sshd[100]: Failed password for root from 203.0.113.9 port 22 ssh2\n\
         Jan  5 10:00:02 web1 sshd[100]: Accepted password for alice from 10.0.0.5 port 22 ssh2\n",
    )
    .unwrap();
    let store = dir.join("store");
    let ingest = kqlite().arg("ingest").arg(&logs).arg("--store").arg(&store).output().unwrap();
    assert_eq!(ingest.status.code(), Some(0), "{}", String::from_utf8_lossy(&ingest.stderr));
    let out = kqlite().args(["tables", "Syslog", "--format", "json", "--store"]).arg(&store).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(doc["rows"], 2);
    let out = kqlite().args(["tables", "--store"]).arg(&store).output().unwrap();
    let text = stdout(&out);
    assert!(text.lines().next().unwrap().ends_with("Rows"), "{text:.200}");
    assert!(text.lines().any(|l| l.starts_with("Syslog ") && l.ends_with(" 2")), "{text}");
    assert!(text.lines().any(|l| l.starts_with("SecurityEvent ") && l.ends_with(" 0")));
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn an_unknown_name_fails_with_a_suggestion() {
    let out = run(&["tables", "DeviceLogonEvent"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("no table 'DeviceLogonEvent'; did you mean 'DeviceLogonEvents'?"), "{err}");
    // Case-sensitive, as in Kusto.
    assert_eq!(run(&["tables", "securityevent"]).status.code(), Some(1));
}

#[test]
fn help_teaches_with_examples() {
    let help = stdout(&run(&["tables", "--help"]));
    assert!(help.contains("kqlite tables DeviceLogonEvents"), "{help}");
    assert!(help.contains("--store"), "{help}");
}

fn tempfile_dir(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("kqlite-tables-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}
