//! `kqlite ingest` and `kqlite query` over paths and stores, end to end:
//! help that teaches, per-file summaries, --strict exit codes, incremental
//! stores, and the same answers from a store as from the files themselves.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kqlite() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kqlite"))
}

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kqlite-cli-ingest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// Portal CSV (US dates), a Log Analytics API export, Defender streaming
/// records, an auth log and a file that is not telemetry.
fn evidence(root: &Path) {
    write(
        &root.join("portal/export.csv"),
        "TimeGenerated [UTC],Type,Computer,EventID,Account,IpAddress\n\
         \"5/1/2024, 8:07:14.552 PM\",SecurityEvent,dc1,4625,CONTOSO\\bob,10.0.0.5\n\
         \"5/1/2024, 8:07:15.552 PM\",SecurityEvent,dc1,4625,CONTOSO\\bob,10.0.0.5\n\
         \"5/2/2024, 9:00:00.000 AM\",SecurityEvent,dc1,4624,CONTOSO\\bob,10.0.0.5\n",
    );
    write(
        &root.join("la/result.json"),
        r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"Computer","type":"string"},{"name":"EventID","type":"int"},{"name":"Type","type":"string"}],"rows":[["2024-05-02T09:00:00Z","dc2",4688,"SecurityEvent"]]}]}"#,
    );
    write(
        &root.join("defender/stream.json"),
        r#"{"records":[{"time":"2024-05-01T11:00:01Z","category":"AdvancedHunting-DeviceLogonEvents","properties":{"Timestamp":"2024-05-01T11:00:01Z","DeviceName":"ws1","ActionType":"LogonFailed","AccountName":"bob"}}]}"#,
    );
    write(
        &root.join("linux/auth.log"),
        "May  1 10:00:00 web1 sshd[100]: Failed password for root from 10.0.0.8 port 50000 ssh2\n",
    );
    write(&root.join("NOTES.md"), "# Case 42\n\nCollected from dc1.\n");
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn run(command: &mut Command) -> Output {
    let out = command.output().unwrap();
    eprintln!("stdout:\n{}\nstderr:\n{}", text(&out.stdout), text(&out.stderr));
    out
}

/// The single value a query prints as CSV.
fn scalar(out: &Output) -> String {
    assert_eq!(out.status.code(), Some(0));
    text(&out.stdout).lines().nth(1).unwrap_or_default().to_string()
}

#[test]
fn help_teaches_with_examples() {
    let out = run(kqlite().args(["ingest", "--help"]));
    let help = text(&out.stdout);
    for expected in ["Examples:", "--store", "--strict", "day=YYYY-MM-DD", "kqlite query --store", "Exit status"] {
        assert!(help.contains(expected), "missing {expected}");
    }
    let out = run(kqlite().args(["query", "--help"]));
    assert!(text(&out.stdout).contains("--store <DIR>"));
    assert!(text(&out.stdout).contains("[PATH]..."));
}

#[test]
fn store_is_incremental_and_answers_like_the_files() {
    let root = scratch("evidence");
    evidence(&root);
    let store = root.with_extension("store");
    let _ = std::fs::remove_dir_all(&store);
    let out = run(kqlite().arg("ingest").arg(&root).arg("--store").arg(&store));
    assert_eq!(out.status.code(), Some(0));
    let summary = text(&out.stdout);
    assert!(summary.contains("total: 4 input(s), 6 records, 6 loaded, 0 rejected, 0 unreadable"), "{summary}");
    assert!(summary.contains("rows by table: DeviceLogonEvents 1, SecurityEvent 4, Syslog 1"), "{summary}");
    assert!(text(&out.stderr).contains("skipped 1 file(s)"), "NOTES.md is reported as skipped");
    assert!(store.join("SecurityEvent/day=2024-05-02").is_dir());

    let again = run(kqlite().arg("ingest").arg(&root).arg("--store").arg(&store));
    assert!(text(&again.stdout).contains("4 file(s) already stored were skipped"));
    assert!(!text(&again.stdout).contains("rows by table"));

    let query = "SecurityEvent | where EventID == 4625 | summarize n = count(), earliest = min(TimeGenerated)";
    let from_store = run(kqlite().args(["query", "--format", "csv", "--store"]).arg(&store).arg(query));
    let on_the_fly = run(kqlite().args(["query", "--format", "csv", query]).arg(&root));
    assert_eq!(scalar(&from_store), "2,2024-05-01T20:07:14.552Z");
    assert_eq!(scalar(&from_store), scalar(&on_the_fly));
    let union = "union SecurityEvent, DeviceLogonEvents, Syslog | count";
    let dashed = run(kqlite().args(["query", "--format", "csv", union, "--"]).arg(root.join("portal")).arg(&root));
    // Both paths hold portal/export.csv: its content is read once.
    assert_eq!(scalar(&dashed), "6");
    let stored = run(kqlite().args(["query", "--format", "csv", "--store"]).arg(&store).arg(union));
    assert_eq!(scalar(&stored), "6");
}

#[test]
fn query_file_takes_paths_after_it() {
    let root = scratch("query-file");
    evidence(&root);
    let query = root.with_extension("kql");
    std::fs::write(&query, "Syslog | where SyslogMessage has 'Failed password' | count").unwrap();
    let out = run(kqlite().args(["query", "--format", "csv", "-f"]).arg(&query).arg(root.join("linux/auth.log")));
    assert_eq!(scalar(&out), "1");
}

#[test]
fn strict_fails_on_rejections_and_keeps_the_file_out() {
    let root = scratch("strict");
    evidence(&root);
    write(&root.join("broken.jsonl"), "{\"Type\":\"SecurityEvent\",\"EventID\":4624}\n{not json\n");
    let store = root.with_extension("store");
    let _ = std::fs::remove_dir_all(&store);

    let lenient = run(kqlite().arg("ingest").arg(&root));
    assert_eq!(lenient.status.code(), Some(0));
    assert!(text(&lenient.stderr).contains("broken.jsonl:2: not JSON"), "rejections name file and line");
    assert!(text(&lenient.stdout).contains("nothing written (no --store)"));

    let strict = run(kqlite().arg("ingest").arg(&root).arg("--store").arg(&store).arg("--strict"));
    assert_eq!(strict.status.code(), Some(1));
    assert!(text(&strict.stderr).contains("not stored"), "the file with a rejection is left out");
    let count = run(kqlite().args(["query", "--format", "csv", "--store"]).arg(&store).arg("SecurityEvent | count"));
    assert_eq!(scalar(&count), "4");

    let query = run(kqlite().args(["query", "--strict", "SecurityEvent | count"]).arg(&root));
    assert_eq!(query.status.code(), Some(1));
    let missing = run(kqlite().arg("ingest").arg(root.join("nope")));
    assert_eq!(missing.status.code(), Some(2));
    assert!(text(&missing.stderr).contains("does not exist"));
}

#[test]
fn shared_datasets_through_the_store() {
    let datasets = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if !datasets.is_dir() {
        println!("SKIP: ../shared/datasets not found (the real EVTX and Linux auth datasets)");
        return;
    }
    let store = scratch("shared-store");
    let out = run(kqlite().arg("ingest").arg(&datasets).arg("--store").arg(&store).arg("--strict"));
    assert_eq!(out.status.code(), Some(0));
    for query in ["SecurityEvent | count", "Syslog | count", "WindowsEvent | count"] {
        let stored = run(kqlite().args(["query", "--format", "csv", "--store"]).arg(&store).arg(query));
        let direct = run(kqlite().args(["query", "--format", "csv", query]).arg(&datasets));
        assert_eq!(scalar(&stored), scalar(&direct), "{query}");
    }
}

#[test]
fn large_inputs_are_staged_in_a_temporary_store_with_the_same_answers() {
    let root = scratch("staged");
    evidence(&root);
    let queries = [
        "SecurityEvent | where EventID == 4625 | summarize n = count(), earliest = min(TimeGenerated)",
        "union SecurityEvent, DeviceLogonEvents, Syslog | count",
        "Syslog | where SyslogMessage has 'Failed password' | project HostName",
    ];
    for query in queries {
        let in_memory = run(kqlite().args(["query", "--format", "csv", query]).arg(&root));
        // A threshold of 0 bytes stages any input, as a large one would be.
        let staged =
            run(kqlite().env("KQLITE_STAGING_BYTES", "0").args(["query", "--format", "csv", query]).arg(&root));
        assert_eq!(scalar(&staged), scalar(&in_memory), "{query}");
        assert!(text(&staged.stderr).contains("temporary Parquet store"), "not staged: {query}");
        assert!(!text(&in_memory.stderr).contains("temporary Parquet store"), "small input staged: {query}");
    }
    // The staging store is removed when the query is done.
    let child = kqlite()
        .env("KQLITE_STAGING_BYTES", "0")
        .args(["query", "--format", "csv", queries[1]])
        .arg(&root)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Named `kqlite-staging-<pid>-<random>` by the child.
    let prefix = format!("kqlite-staging-{}-", child.id());
    let out = child.wait_with_output().unwrap();
    assert_eq!(scalar(&out), "6");
    let left: Vec<_> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().starts_with(&prefix))
        .map(|entry| entry.path())
        .collect();
    assert!(left.is_empty(), "staging stores left behind: {left:?}");
    let hunt = run(kqlite().env("KQLITE_STAGING_BYTES", "0").args(["hunt", "--format", "json"]).arg(&root));
    assert!(matches!(hunt.status.code(), Some(0 | 1)), "{}", text(&hunt.stderr));
}

/// Security-channel Windows events are SecurityEvent rows only, as Sentinel's
/// connector stores them (ASIM reads both tables and would count them
/// twice); --security-in-windowsevent also makes them WindowsEvent rows.
#[test]
fn security_events_land_in_security_event_only_unless_asked() {
    let root = scratch("routing");
    write(
        &root.join("nxlog.json"),
        concat!(
            r#"{"EventTime":"2024-05-01 10:00:00","Hostname":"dc1","EventID":4624,"SourceName":"Microsoft-Windows-Security-Auditing","Channel":"Security","TargetUserName":"alice","LogonType":"3"}"#,
            "\n",
            r#"{"EventTime":"2024-05-01 10:01:00","Hostname":"dc1","EventID":7045,"SourceName":"Service Control Manager","Channel":"System","ServiceName":"x"}"#,
            "\n"
        ),
    );
    let query = "union withsource=T SecurityEvent, WindowsEvent | summarize n = count() by T | sort by T asc";
    let default = run(kqlite().args(["query", "--format", "csv", query]).arg(&root));
    assert_eq!(text(&default.stdout), "T,n\nSecurityEvent,1\nWindowsEvent,1\n");
    let both = run(kqlite().args(["query", "--security-in-windowsevent", "--format", "csv", query]).arg(&root));
    assert_eq!(text(&both.stdout), "T,n\nSecurityEvent,1\nWindowsEvent,2\n");
    let store = root.join("store");
    let ingest = run(kqlite().arg("ingest").arg(root.join("nxlog.json")).arg("--store").arg(&store));
    assert_eq!(ingest.status.code(), Some(0));
    let stored = run(kqlite().args(["query", "--format", "csv", "--store"]).arg(&store).arg(query));
    assert_eq!(text(&stored.stdout), text(&default.stdout));
    let help = text(&run(kqlite().args(["ingest", "--help"])).stdout);
    assert!(help.contains("--security-in-windowsevent") && help.contains("ASIM"), "{help}");
}

/// A Sentinel table the evidence has no rows for exists, empty, as in a
/// workspace; a fuzzy union leaves out tables that do not exist at all.
#[test]
fn tables_without_data_exist_empty() {
    let root = scratch("empty-tables");
    evidence(&root);
    let count = run(kqlite().args(["query", "--format", "csv", "DeviceProcessEvents | count"]).arg(&root));
    assert_eq!(scalar(&count), "0");
    let fuzzy = "union isfuzzy=true DeviceProcessEvents, SecurityEvent, Nope_CL | count";
    let out = run(kqlite().args(["query", "--format", "csv", fuzzy]).arg(&root));
    assert_eq!(scalar(&out), "4");
    assert!(text(&out.stderr).contains("left out a leg: unknown table 'Nope_CL'"));
    let strict = run(kqlite().args(["query", "union Nope_CL"]).arg(&root));
    assert_eq!(strict.status.code(), Some(1));
    let check = run(kqlite().args(["check", "EmailEvents | where Timestamp > ago(1d) | count"]));
    assert_eq!(check.status.code(), Some(0));
}
