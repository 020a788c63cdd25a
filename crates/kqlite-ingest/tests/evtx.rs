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

/// Reads `path` with the BinXML reader (the default) and with the XML reader
/// (`raw_event_data`, which has the `evtx` crate render each record and
/// parses the text) and asserts the same rows, cell for cell; returns the
/// rows compared and the BinXML reader's report.
fn assert_readers_agree(path: &Path, name: &str) -> (usize, kqlite_ingest::evtx::EvtxReport) {
    use datafusion::arrow::compute::concat_batches;
    use datafusion::arrow::util::display::array_value_to_string;
    let read_with = |options: &EvtxOptions| {
        let mut batches = Vec::new();
        let report = read_evtx(path, options, &mut |t, b| batches.push((t, b)));
        (batches, report)
    };
    // Security records in both tables, so that both readers' WindowsEvent
    // rows of them (the EventData bag) are compared too.
    let both = EvtxOptions { security_in_windows_event: true, ..EvtxOptions::default() };
    let (fast, fast_report) = read_with(&both);
    let (slow, slow_report) = read_with(&EvtxOptions { raw_event_data: true, ..both });
    assert_eq!(fast_report.load.records_read, slow_report.load.records_read, "{name}");
    assert_eq!(fast_report.load.rejected, slow_report.load.rejected, "{name}");
    assert_eq!(fast_report.unmapped_fields, slow_report.unmapped_fields, "{name}");
    let mut rows = 0;
    for table in EvtxTable::ALL {
        let of = |batches: &[(EvtxTable, RecordBatch)]| {
            let parts: Vec<RecordBatch> = batches.iter().filter(|(t, _)| *t == table).map(|(_, b)| b.clone()).collect();
            concat_batches(&table.schema(), &parts).unwrap()
        };
        let (a, b) = (of(&fast), of(&slow));
        assert_eq!(a.num_rows(), b.num_rows(), "{name} {}", table.name());
        rows += a.num_rows();
        for (i, field) in table.schema().fields().iter().enumerate() {
            if field.name() == "RawEventData" {
                continue;
            }
            let (x, y) = (a.column(i), b.column(i));
            if x.to_data() != y.to_data() {
                let row = (0..x.len())
                    .find(|&r| {
                        array_value_to_string(x, r).ok() != array_value_to_string(y, r).ok()
                            || x.is_null(r) != y.is_null(r)
                    })
                    .unwrap_or(0);
                panic!(
                    "{name}: {}.{} row {row}: binxml {:?} vs xml {:?}",
                    table.name(),
                    field.name(),
                    array_value_to_string(x, row),
                    array_value_to_string(y, row)
                );
            }
        }
    }
    (rows, fast_report)
}

/// Both readers give the same rows for every sample file (real Windows
/// logs: most records go through the BinXML reader's DOM).
#[test]
fn binxml_and_xml_readers_give_the_same_rows() {
    let dir = samples_or_skip!();
    let mut files = 0;
    let mut rows = 0;
    let mut xml_chunks = 0;
    let mut reasons = BTreeMap::new();
    for path in find_evtx_files(&dir).unwrap() {
        let name = path.strip_prefix(&dir).unwrap().display().to_string();
        let (n, report) = assert_readers_agree(&path, &name);
        rows += n;
        xml_chunks += report.xml_chunks;
        if let Some(reason) = report.xml_chunk_reason {
            *reasons.entry(reason).or_insert(0usize) += report.xml_chunks;
        }
        files += 1;
    }
    println!(
        "{files} files, {rows} rows equal in both readers; {xml_chunks} chunks went through the XML reader \
         (by a file's first reason: {reasons:?})"
    );
    assert!(files >= 277);
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
        // Every loaded record is one row of exactly one table.
        assert_eq!(file.windows_events + file.security_events, file.load.loaded, "{name}");
        assert!(file.load.records_read > 0, "{name}: no records");
        per_file.insert(name, (file.load.records_read, BTreeMap::new()));
    }

    // Every loaded record is one row: Security ones in SecurityEvent, the others in WindowsEvent.
    let rows = |name: &str| -> usize {
        load.tables.iter().find(|t| t.name == name).unwrap().batches.iter().map(RecordBatch::num_rows).sum()
    };
    let security_total: usize = load.files.iter().map(|f| f.security_events).sum();
    assert_eq!(rows("SecurityEvent"), security_total);
    assert_eq!(rows("WindowsEvent") + security_total, load.report.loaded);
    assert_eq!(load.report.records_read, load.report.loaded + load.report.rejected.len());
    let security = load.tables.iter().find(|t| t.name == "SecurityEvent").unwrap();
    assert_eq!(security.columns.len(), kqlite_ingest::catalog::table_schema("SecurityEvent").unwrap().len());
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
                // Sentinel leaves RawEventData empty when the event parses.
                assert_eq!(strings(batch, "RawEventData").value(row), "");
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

// ---------------------------------------------------------------------------
// The EVTX writer, read back by our reader, the `evtx` crate's checks and `evtx_dump`.

use kqlite_ingest::evtx::writer::{write_evtx_file, EventRecord, EvtxWriter};

/// Security logons with awkward values, a Sysmon event without a user SID,
/// and enough records for several chunks.
fn written_events() -> Vec<EventRecord> {
    let base = 1_700_000_000_123_456_700i64; // 2023-11-14T22:13:20.1234567Z
    (0..3000u64)
        .map(|i| {
            let user = match i % 3 {
                0 => "alice & <bob>".to_string(),
                1 => format!("jürgen-ñ-日本-{i}"),
                _ => format!("svc\"'{i}"),
            };
            if i % 10 == 9 {
                EventRecord {
                    channel: "Microsoft-Windows-Sysmon/Operational".into(),
                    provider: "Microsoft-Windows-Sysmon".into(),
                    provider_guid: Some("{5770385f-c22a-43e0-bf4c-06f5698ffbd9}".into()),
                    event_id: 1,
                    version: 5,
                    level: 4,
                    task: 1,
                    keywords: 0x8000_0000_0000_0000,
                    time_created: base + i as i64 * 1_000_000_100,
                    record_id: 1000 + i,
                    process_id: 3000,
                    thread_id: 4000,
                    computer: "ws1.corp.local".into(),
                    user_sid: None,
                    data: vec![
                        ("Image".into(), "C:\\Windows\\System32\\cmd.exe".into()),
                        ("CommandLine".into(), format!("cmd /c echo {user} > out.txt")),
                        ("Empty".into(), String::new()),
                    ],
                    ..EventRecord::default()
                }
            } else {
                EventRecord {
                    channel: "Security".into(),
                    provider: "Microsoft-Windows-Security-Auditing".into(),
                    provider_guid: Some("{54849625-5478-4994-a5ba-3e3b0328c30d}".into()),
                    event_id: if i % 2 == 0 { 4624 } else { 4625 },
                    version: 2,
                    level: 0,
                    task: 12544,
                    opcode: 0,
                    keywords: 0x8020_0000_0000_0000,
                    time_created: base + i as i64 * 1_000_000_100,
                    record_id: 1000 + i,
                    process_id: 636,
                    thread_id: 4472,
                    computer: "dc1.corp.local".into(),
                    user_sid: Some("S-1-5-18".into()),
                    data: vec![
                        ("SubjectUserSid".into(), "S-1-5-18".into()),
                        ("TargetUserName".into(), user),
                        ("TargetDomainName".into(), "CORP".into()),
                        ("LogonType".into(), "3".into()),
                        ("IpAddress".into(), format!("10.0.{}.{}", i / 256, i % 256)),
                    ],
                }
            }
        })
        .collect()
}

/// A string or int cell as text.
fn cell_text(batch: &RecordBatch, column: &str, row: usize) -> String {
    let array = batch.column_by_name(column).unwrap();
    match array.as_any().downcast_ref::<StringArray>() {
        Some(s) => s.value(row).to_string(),
        None => ints(batch, column).value(row).to_string(),
    }
}

/// Both readers give the same rows for events written by kqlite's writer
/// (awkward values; these templates take the BinXML reader's plan, with no
/// DOM), whether or not `../shared` is present.
#[test]
fn binxml_and_xml_readers_agree_on_written_events() {
    let dir = std::env::temp_dir().join(format!("kqlite-evtx-agree-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("written.evtx");
    write_evtx_file(&path, &written_events()).unwrap();
    let (rows, report) = assert_readers_agree(&path, "written.evtx");
    assert_eq!(rows, 3000 + 2700, "every record a WindowsEvent row, the Security ones a SecurityEvent row too");
    assert_eq!(report.xml_chunks, 0, "{:?}", report.xml_chunk_reason);
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn written_evtx_reads_back_with_the_same_values() {
    let events = written_events();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("written.evtx");
    write_evtx_file(&path, &events).unwrap();
    let bytes = std::fs::read(&path).unwrap();
    let chunks = (bytes.len() - 4096) / 65536;
    assert_eq!((bytes.len() - 4096) % 65536, 0);
    assert!(chunks >= 3, "only {chunks} chunk(s)");

    // The header and chunk CRC32s, checked by the evtx crate itself.
    let header = evtx::EvtxFileHeader::from_bytes(&bytes).unwrap();
    assert!(header.validate_checksum());
    assert_eq!((header.chunk_count as usize, header.next_record_id), (chunks, 1000 + events.len() as u64));
    for n in 0..chunks {
        let data = bytes[4096 + n * 65536..4096 + (n + 1) * 65536].to_vec();
        evtx::EvtxChunkData::new(data, true).unwrap_or_else(|e| panic!("chunk {n}: {e}"));
    }

    let (batches, report) = read(&path);
    assert!(report.error.is_none() && report.load.rejected.is_empty(), "{report:?}");
    assert_eq!(report.load.loaded, events.len());
    assert_eq!(report.security_events, events.iter().filter(|e| e.channel == "Security").count());
    assert_eq!(report.load.conversion_failures, 0);
    let mut seen = 0;
    for (table, batch) in &batches {
        let ids = strings(batch, "EventRecordId");
        let times = batch
            .column_by_name("TimeGenerated")
            .unwrap()
            .as_any()
            .downcast_ref::<datafusion::arrow::array::Int64Array>()
            .unwrap();
        for row in 0..batch.num_rows() {
            let id: u64 = ids.value(row).parse().unwrap();
            let event = &events[(id - 1000) as usize];
            assert_eq!(times.value(row), event.time_created, "record {id}");
            assert_eq!(ints(batch, "EventID").value(row) as u32, event.event_id);
            assert_eq!(strings(batch, "Computer").value(row), event.computer);
            assert_eq!(strings(batch, "Channel").value(row), event.channel);
            assert_eq!(strings(batch, "Keywords").value(row), format!("{:#x}", event.keywords));
            match table {
                EvtxTable::SecurityEvent => {
                    for (name, value) in &event.data {
                        assert_eq!(&cell_text(batch, name, row), value, "record {id} {name}");
                    }
                    assert_eq!(strings(batch, "Account").value(row), format!("CORP\\{}", event.data[1].1));
                    assert_eq!(strings(batch, "SystemUserId").value(row), "S-1-5-18");
                    assert_eq!(strings(batch, "EventSourceName").value(row), event.provider);
                }
                EvtxTable::WindowsEvent => {
                    seen += 1;
                    assert_eq!(strings(batch, "Provider").value(row), event.provider);
                    assert_eq!(cell_text(batch, "SystemProcessId", row), event.process_id.to_string());
                    let bags = batch.column_by_name("EventData").unwrap().as_any().downcast_ref::<BinaryArray>();
                    let bag = DynRef::new(bags.unwrap().value(row));
                    for (name, value) in &event.data {
                        assert_eq!(bag.get(name).and_then(|v| v.as_str()), Some(value.as_str()), "record {id} {name}");
                    }
                }
            }
        }
    }
    // Security records are SecurityEvent rows only.
    assert_eq!(seen, events.iter().filter(|e| e.channel != "Security").count());

    // And the independent reader, when installed.
    let Some(dump) = evtx_dump() else {
        println!("SKIP evtx_dump round trip: evtx_dump is not on PATH nor in ~/.cargo/bin (cargo install evtx)");
        return;
    };
    let out = std::process::Command::new(&dump).args(["-o", "jsonl"]).arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let lines: Vec<serde_json::Value> =
        String::from_utf8(out.stdout).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(lines.len(), events.len());
    for (line, event) in lines.iter().zip(&events) {
        let system = &line["Event"]["System"];
        assert_eq!(system["EventID"], serde_json::json!(event.event_id));
        assert_eq!(system["EventRecordID"], serde_json::json!(event.record_id));
        assert_eq!(system["Channel"], serde_json::json!(event.channel));
        assert_eq!(system["Computer"], serde_json::json!(event.computer));
        assert_eq!(system["Provider"]["#attributes"]["Name"], serde_json::json!(event.provider));
        for (name, value) in &event.data {
            let found = &line["Event"]["EventData"][name];
            // evtx_dump prints an empty Data element as null.
            let found = found.as_str().unwrap_or_default();
            assert_eq!(found, value, "record {} {name}", event.record_id);
        }
    }
    println!("evtx_dump read back all {} written records", events.len());
}

#[test]
fn writer_rejects_what_evtx_cannot_hold() {
    let mut writer = EvtxWriter::new(std::io::Cursor::new(Vec::new())).unwrap();
    let huge = EventRecord {
        channel: "Security".into(),
        data: vec![("Blob".into(), "x".repeat(32_000))],
        ..EventRecord::default()
    };
    let e = writer.write(&huge).unwrap_err();
    assert!(e.to_string().contains("does not fit in one 65536-byte chunk"), "{e}");
    let e = writer.write(&EventRecord { event_id: 70_000, ..EventRecord::default() }).unwrap_err();
    assert!(e.to_string().contains("EventID 70000"), "{e}");
    let e = writer.write(&EventRecord { user_sid: Some("bob".into()), ..EventRecord::default() }).unwrap_err();
    assert!(e.to_string().contains("user SID \"bob\""), "{e}");
    // The rejected writes left nothing behind: one good record makes a readable file.
    writer.write(&EventRecord { channel: "System".into(), record_id: 1, ..EventRecord::default() }).unwrap();
    let bytes = writer.finish().unwrap().into_inner();
    let mut n = 0;
    let report = kqlite_ingest::evtx::read_evtx_from(
        std::io::Cursor::new(bytes),
        "mem",
        &EvtxOptions::default(),
        &mut |_, b| n += b.num_rows(),
    );
    assert!(report.error.is_none() && report.load.rejected.is_empty(), "{report:?}");
    assert_eq!((report.load.loaded, n), (1, 1));
}
