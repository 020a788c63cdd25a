//! The EVTX reader over the real attack-sample logs in
//! `../shared/datasets/evtx-attack-samples` (skipped when absent).
//!
//! `KQLITE_EVTX_EXPECTED=FILE` compares per-file record counts and Security
//! EventID counts with the JSON that `scripts/evtx_counts.py` writes from
//! the `evtx_dump` CLI (an independent reading of the same files).

use datafusion::arrow::array::{Array, BinaryArray, Int32Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::dynamic::DynRef;
use kqlite_ingest::evtx::{find_evtx_files, load_evtx_files, read_evtx, EvtxOptions, EvtxTable};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

fn samples_dir() -> Option<PathBuf> {
    let shared = match std::env::var_os("KQLITE_SHARED") {
        Some(p) => PathBuf::from(p),
        None => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared"),
    };
    let dir = shared.join("datasets/evtx-attack-samples");
    dir.is_dir().then_some(dir)
}

macro_rules! samples_or_skip {
    () => {
        match samples_dir() {
            Some(dir) => dir,
            None => {
                println!("SKIP: ../shared/datasets not found (it holds the EVTX attack samples)");
                return;
            }
        }
    };
}

fn strings<'a>(batch: &'a RecordBatch, column: &str) -> &'a StringArray {
    batch.column_by_name(column).unwrap().as_any().downcast_ref::<StringArray>().unwrap()
}

fn ints<'a>(batch: &'a RecordBatch, column: &str) -> &'a Int32Array {
    batch.column_by_name(column).unwrap().as_any().downcast_ref::<Int32Array>().unwrap()
}

/// Reads one file into (table, batch) pairs.
fn read(path: &Path) -> (Vec<(EvtxTable, RecordBatch)>, kqlite_ingest::evtx::EvtxReport) {
    let mut batches = Vec::new();
    let report = read_evtx(path, &EvtxOptions::default(), &mut |t, b| batches.push((t, b)));
    (batches, report)
}

/// The SecurityEvent row of one record, as (column → text) for the columns asked.
fn security_row(batches: &[(EvtxTable, RecordBatch)], record_id: &str, columns: &[&str]) -> BTreeMap<String, String> {
    for (_, batch) in batches.iter().filter(|(t, _)| *t == EvtxTable::SecurityEvent) {
        let ids = strings(batch, "EventRecordId");
        if let Some(row) = (0..batch.num_rows()).find(|&r| ids.value(r) == record_id) {
            return columns
                .iter()
                .map(|c| {
                    let column = batch.column_by_name(c).unwrap();
                    let text = match column.as_any().downcast_ref::<StringArray>() {
                        Some(s) => s.value(row).to_string(),
                        None => {
                            let i = column.as_any().downcast_ref::<Int32Array>().unwrap();
                            if i.is_null(row) {
                                "null".to_string()
                            } else {
                                i.value(row).to_string()
                            }
                        }
                    };
                    (c.to_string(), text)
                })
                .collect();
        }
    }
    panic!("record {record_id} not found in SecurityEvent");
}

#[test]
fn every_sample_file_loads_and_every_record_is_accounted_for() {
    let dir = samples_or_skip!();
    let paths = find_evtx_files(&dir).unwrap();
    assert!(paths.len() >= 277, "found only {} .evtx files under {}", paths.len(), dir.display());
    let start = Instant::now();
    let load = load_evtx_files(&paths, &EvtxOptions::default());
    let elapsed = start.elapsed();

    let mut per_file: BTreeMap<String, (usize, BTreeMap<String, usize>)> = BTreeMap::new();
    for file in &load.files {
        let name = file.path.strip_prefix(&dir).unwrap().to_string_lossy().replace('\\', "/");
        assert!(file.error.is_none(), "{name}: {:?}", file.error);
        assert_eq!(
            file.load.records_read,
            file.load.loaded + file.load.rejected.len(),
            "{name}: records seen != loaded + rejected"
        );
        assert_eq!(file.windows_events, file.load.loaded, "{name}");
        assert!(file.load.records_read > 0, "{name}: no records");
        per_file.insert(name, (file.load.records_read, BTreeMap::new()));
    }

    // Every loaded record is one WindowsEvent row; Security ones also one SecurityEvent row.
    let rows = |name: &str| -> usize {
        load.tables.iter().find(|t| t.name == name).unwrap().batches.iter().map(RecordBatch::num_rows).sum()
    };
    let security_total: usize = load.files.iter().map(|f| f.security_events).sum();
    assert_eq!(rows("WindowsEvent"), load.report.loaded);
    assert_eq!(rows("SecurityEvent"), security_total);
    assert_eq!(load.report.records_read, load.report.loaded + load.report.rejected.len());
    let security = load.tables.iter().find(|t| t.name == "SecurityEvent").unwrap();
    assert_eq!(security.columns.len(), 228);
    for batch in &security.batches {
        assert!(batch.num_rows() <= 8192);
        assert!(strings(batch, "Channel").iter().all(|c| c == Some("Security")));
        assert_eq!(ints(batch, "EventID").null_count(), 0);
    }

    // SecurityEvent counts by EventID, per file (batches are in file order).
    let mut files = load.files.iter().filter(|f| f.security_events > 0);
    let mut current = files.next();
    let mut left = current.map_or(0, |f| f.security_events);
    for batch in &security.batches {
        let ids = ints(batch, "EventID");
        for row in 0..batch.num_rows() {
            while left == 0 {
                current = files.next();
                left = current.unwrap().security_events;
            }
            let name = current.unwrap().path.strip_prefix(&dir).unwrap().to_string_lossy().replace('\\', "/");
            *per_file.get_mut(&name).unwrap().1.entry(ids.value(row).to_string()).or_default() += 1;
            left -= 1;
        }
    }

    println!(
        "{} files, {} records ({} loaded, {} rejected), {} SecurityEvent rows, in {:.2?} ({})",
        paths.len(),
        load.report.records_read,
        load.report.loaded,
        load.report.rejected.len(),
        security_total,
        elapsed,
        if cfg!(debug_assertions) { "debug build" } else { "release build" }
    );

    // The independent reading: `evtx_dump`'s per-file counts.
    let (expected, source) = match expected_counts(&dir, &paths) {
        Ok(found) => found,
        Err(why) => {
            println!("SKIP comparison with evtx_dump: {why}");
            return;
        }
    };
    let expected = expected.as_object().unwrap();
    let mut mismatches = Vec::new();
    for name in expected.keys().filter(|name| !per_file.contains_key(*name)) {
        mismatches.push(format!("{name}: counted by {source} but not read by kqlite"));
    }
    for (name, (records, ids)) in &per_file {
        let Some(e) = expected.get(name) else {
            mismatches.push(format!("{name}: not in the counts of {source}"));
            continue;
        };
        let e_records = e["records"].as_u64().unwrap() as usize;
        let e_ids: BTreeMap<String, usize> =
            e["security"].as_object().unwrap().iter().map(|(k, v)| (k.clone(), v.as_u64().unwrap() as usize)).collect();
        if e_records != *records || &e_ids != ids {
            mismatches.push(format!("{name}: records {records} vs {e_records}, security {ids:?} vs {e_ids:?}"));
        }
    }
    println!(
        "compared with {source}: {} files, {} records ({} loaded, {} rejected), per-file mismatches = {}",
        per_file.len(),
        load.report.records_read,
        load.report.loaded,
        load.report.rejected.len(),
        mismatches.len()
    );
    assert!(mismatches.is_empty(), "{} file(s) differ:\n{}", mismatches.len(), mismatches.join("\n"));
}

/// Per-file counts `{"path": {"records": N, "security": {"4624": n}}}` from
/// `KQLITE_EVTX_EXPECTED` (written by `scripts/evtx_counts.py`), else from
/// running `evtx_dump` here; `Err` says why neither is available.
fn expected_counts(dir: &Path, paths: &[PathBuf]) -> Result<(serde_json::Value, String), String> {
    if let Some(file) = std::env::var_os("KQLITE_EVTX_EXPECTED") {
        let text =
            std::fs::read_to_string(&file).map_err(|e| format!("cannot read {}: {e}", file.to_string_lossy()))?;
        let value = serde_json::from_str(&text).map_err(|e| format!("{}: {e}", file.to_string_lossy()))?;
        return Ok((value, file.to_string_lossy().into_owned()));
    }
    let dump = evtx_dump().ok_or("evtx_dump is not on PATH nor in ~/.cargo/bin (cargo install evtx)")?;
    let mut counts = serde_json::Map::new();
    for path in paths {
        let out = std::process::Command::new(&dump)
            .args(["-o", "jsonl"])
            .arg(path)
            .output()
            .map_err(|e| format!("cannot run {}: {e}", dump.display()))?;
        let mut records = 0u64;
        let mut security: BTreeMap<String, u64> = BTreeMap::new();
        for line in String::from_utf8_lossy(&out.stdout).lines().filter(|l| l.trim_start().starts_with('{')) {
            let Ok(record) = serde_json::from_str::<serde_json::Value>(line) else { continue };
            records += 1;
            let system = &record["Event"]["System"];
            if system["Channel"].as_str().is_some_and(|c| c.eq_ignore_ascii_case("Security")) {
                // A number, or {"#text": n} when the EventID has attributes.
                let id = match &system["EventID"] {
                    serde_json::Value::Object(o) => o.get("#text").cloned().unwrap_or_default(),
                    other => other.clone(),
                };
                let id = id.as_str().map(str::to_string).unwrap_or_else(|| id.to_string());
                *security.entry(id).or_default() += 1;
            }
        }
        let name = path.strip_prefix(dir).unwrap().to_string_lossy().replace('\\', "/");
        counts.insert(name, serde_json::json!({"records": records, "security": security}));
    }
    Ok((serde_json::Value::Object(counts), dump.display().to_string()))
}

/// The `evtx_dump` CLI: `$EVTX_DUMP`, else on PATH, else in ~/.cargo/bin.
fn evtx_dump() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("EVTX_DUMP") {
        return Some(PathBuf::from(path));
    }
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>())
        .map(|d| d.join("evtx_dump"));
    let in_cargo = std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cargo/bin/evtx_dump"));
    on_path.chain(in_cargo).find(|p| p.is_file())
}

#[test]
fn network_logon_keeps_values_verbatim() {
    let dir = samples_or_skip!();
    let (batches, report) = read(&dir.join("Lateral Movement/remote task update 4624 4702 same logonid.evtx"));
    assert!(report.error.is_none() && report.load.rejected.is_empty(), "{report:?}");
    assert!(report.security_events > 0);
    let row = security_row(
        &batches,
        "2171290",
        &[
            "EventID",
            "LogonType",
            "LogonTypeName",
            "IpAddress",
            "IpPort",
            "LogonProcessName",
            "ElevatedToken",
            "Account",
            "AccountType",
            "Activity",
            "Computer",
            "Type",
        ],
    );
    let expect = [
        ("EventID", "4624"),
        ("LogonType", "3"),
        ("LogonTypeName", "3 - Network"),
        ("IpAddress", "172.16.66.142"),
        ("IpPort", "60726"),
        ("LogonProcessName", "NtLmSsp "),
        ("ElevatedToken", "%%1842"),
        ("Account", "3B\\a-jbrown"),
        ("AccountType", "User"),
        ("Activity", "4624 - An account was successfully logged on."),
        ("Type", "SecurityEvent"),
    ];
    for (column, value) in expect {
        assert_eq!(row[column], value, "{column}");
    }
    assert!(!row["Computer"].is_empty());
}

#[test]
fn rdp_logon_is_remote_interactive() {
    let dir = samples_or_skip!();
    let (batches, _) = read(&dir.join("Command and Control/DE_RDP_Tunneling_4624.evtx"));
    let row =
        security_row(&batches, "5315", &["LogonType", "LogonTypeName", "IpAddress", "LogonProcessName", "EventData"]);
    assert_eq!(row["LogonType"], "10");
    assert_eq!(row["LogonTypeName"], "10 - RemoteInteractive");
    assert_eq!(row["IpAddress"], "127.0.0.1");
    assert_eq!(row["LogonProcessName"], "User32 ");
    assert!(row["EventData"].starts_with("<EventData xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">"));
    assert!(row["EventData"].contains("<Data Name=\"LogonProcessName\">User32 </Data>"));
}

#[test]
fn other_channels_land_in_windows_event_with_a_bag() {
    let dir = samples_or_skip!();
    let (batches, report) =
        read(&dir.join("Lateral Movement/RemotePowerShell_MS_Windows-Remote_Management_EventID_169.evtx"));
    assert!(report.load.loaded > 0 && report.security_events == 0, "{report:?}");
    let mut found = false;
    for (_, batch) in batches.iter().filter(|(t, _)| *t == EvtxTable::WindowsEvent) {
        let bags = batch.column_by_name("EventData").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
        for row in 0..batch.num_rows() {
            if ints(batch, "EventID").value(row) == 169 {
                found = true;
                assert_eq!(strings(batch, "Provider").value(row), "Microsoft-Windows-WinRM");
                assert_eq!(strings(batch, "Type").value(row), "WindowsEvent");
                assert!(DynRef::new(bags.value(row)).len().unwrap_or(0) > 0, "empty EventData bag");
                assert!(strings(batch, "RawEventData").value(row).contains("<EventID>169</EventID>"));
            }
        }
    }
    assert!(found, "no EventID 169 row");
}

#[test]
fn a_damaged_file_counts_its_bad_chunks_and_keeps_going() {
    let dir = samples_or_skip!();
    let original = std::fs::read(dir.join("Command and Control/bits_openvpn.evtx")).unwrap();
    let (_, clean) = read(&dir.join("Command and Control/bits_openvpn.evtx"));
    assert!(clean.load.records_read > 1000);
    let tmp = std::env::temp_dir().join(format!("kqlite-evtx-damaged-{}", std::process::id()));
    std::fs::create_dir_all(&tmp).unwrap();

    // Break the second chunk's magic and scribble over records in the first.
    let mut damaged = original.clone();
    if damaged.len() > 4096 + 2 * 65536 {
        damaged[4096 + 65536..4096 + 65536 + 8].copy_from_slice(b"XXXXXXXX");
    }
    for i in (4096 + 1024..4096 + 4096).step_by(7) {
        damaged[i] = 0xFF;
    }
    let path = tmp.join("damaged.evtx");
    std::fs::write(&path, &damaged).unwrap();
    let (_, report) = read(&path);
    assert!(report.error.is_none(), "{report:?}");
    assert_eq!(report.load.records_read, report.load.loaded + report.load.rejected.len());
    assert!(!report.load.rejected.is_empty(), "damage went unnoticed");
    assert!(report.load.loaded > 0);
    for (location, reason) in &report.load.rejected {
        assert!(location.contains("damaged.evtx: "), "{location}");
        assert!(!reason.is_empty());
    }

    // Truncated mid-chunk, and not EVTX at all: reported, no panic.
    assert!(report.load.rejected.iter().any(|(_, reason)| reason.contains("its header names record IDs")));
    std::fs::write(&path, &original[..4096 + 65536 + 30000]).unwrap();
    let (_, report) = read(&path);
    assert_eq!(report.load.records_read, report.load.loaded + report.load.rejected.len());
    assert!(report.load.loaded > 0);
    assert_eq!(report.load.rejected.len(), 1, "{:?}", report.load.rejected);
    assert!(report.load.rejected[0].0.ends_with("damaged.evtx: chunk 1"));
    assert!(report.load.rejected[0].1.starts_with("the file ends 30000 bytes into this chunk"));
    std::fs::write(&path, b"hello").unwrap();
    let (batches, report) = read(&path);
    assert!(report.error.is_some() && batches.is_empty());
    let (_, report) = read(&tmp.join("missing.evtx"));
    assert!(report.error.as_deref().unwrap().contains("cannot open"));
    std::fs::remove_dir_all(&tmp).unwrap();
}
