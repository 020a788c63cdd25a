//! The ingest pipeline over inputs the tests write themselves: every export
//! shape, portal CSV with US dates, gzip and zip containers, a directory
//! tree mixing formats, corrupt inputs among good ones, strict mode, and the
//! Parquet store (incremental, queried like the in-memory tables). With
//! ../shared/datasets present, the real datasets are ingested too.

use kqlite_engine::output::cell_text;
use kqlite_engine::Session;
use kqlite_ingest::store::{ingest_to_store, MANIFEST};
use kqlite_ingest::{ingest_paths, register_store, register_tables, IngestOptions, Ingested};
use std::io::Write;
use std::path::{Path, PathBuf};

const PORTAL_CSV: &str = "\u{feff}TimeGenerated [UTC],Type,Computer,EventID,Account,LogonType,IpAddress\n\
\"5/1/2024, 8:07:14.552 PM\",SecurityEvent,dc1.contoso.com,4625,CONTOSO\\bob,3,10.0.0.5\n\
\"5/1/2024, 8:07:15.000 PM\",SecurityEvent,dc1.contoso.com,4625,CONTOSO\\bob,3,10.0.0.5\n\
\"5/2/2024, 1:00:00.000 AM\",SecurityEvent,dc1.contoso.com,4624,CONTOSO\\bob,3,10.0.0.5\n";

const DEFENDER_API: &str = r#"{"Schema":[{"Name":"Timestamp","Type":"DateTime"},{"Name":"DeviceName","Type":"String"},{"Name":"ActionType","Type":"String"},{"Name":"RemoteIP","Type":"String"},{"Name":"LogonType","Type":"String"}],
"Results":[{"Timestamp":"2024-05-01T10:00:00Z","DeviceName":"ws1","ActionType":"LogonFailed","RemoteIP":"10.0.0.9","LogonType":"Network"},
{"Timestamp":"2024-05-01T10:00:05Z","DeviceName":"ws1","ActionType":"LogonSuccess","RemoteIP":"10.0.0.9","LogonType":"Network"}]}"#;

const DEFENDER_GRAPH: &str = r#"{"schema":[{"name":"Timestamp","type":"DateTime"}],"results":[{"Timestamp":"2024-05-03T00:00:00Z","DeviceName":"ws2","ActionType":"LogonFailed","AccountName":"eve","RemoteIP":"10.0.0.7"}]}"#;

const DEFENDER_STREAM: &str = r#"{"records":[
{"time":"2024-05-01T11:00:00Z","tenantId":"t","operationName":"Publish","category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2024-05-01T11:00:00Z","DeviceName":"ws1","FileName":"cmd.exe","ProcessCommandLine":"cmd /c whoami"}},
{"time":"2024-05-01T11:00:01Z","tenantId":"t","operationName":"Publish","category":"AdvancedHunting-DeviceLogonEvents","properties":{"Timestamp":"2024-05-01T11:00:01Z","DeviceName":"ws1","ActionType":"LogonFailed","AccountName":"bob"}}]}"#;

const LOG_ANALYTICS_API: &str = r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"TimeGenerated","type":"datetime"},{"name":"Computer","type":"string"},{"name":"EventID","type":"int"},{"name":"Type","type":"string"}],
"rows":[["2024-05-02T09:00:00Z","dc2",4688,"SecurityEvent"],["2024-05-02T09:00:01Z","dc2",4624,"SecurityEvent"]]}]}"#;

const AUTH_LOG: &str = "May  1 10:00:00 web1 sshd[100]: Failed password for root from 10.0.0.8 port 50000 ssh2\n\
May  1 10:00:05 web1 sshd[100]: Accepted password for alice from 10.0.0.8 port 50001 ssh2\n";

const CUSTOM_JSONL: &str = "{\"when\":\"2024-05-01T00:00:00Z\",\"user\":\"a\",\"n\":1}\n{\"when\":\"2024-05-01T00:00:01Z\",\"user\":\"b\",\"n\":2}\n";

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kqlite-pipeline-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn write(path: &Path, bytes: &[u8]) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
    path.to_path_buf()
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).unwrap();
    encoder.finish().unwrap()
}

fn zip(members: &[(&str, &[u8])]) -> Vec<u8> {
    let mut writer = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    for (name, bytes) in members {
        writer.start_file(*name, zip::write::SimpleFileOptions::default()).unwrap();
        writer.write_all(bytes).unwrap();
    }
    writer.finish().unwrap().into_inner()
}

/// A tree with every shape, containers, and files that are not telemetry.
fn mixed_tree(root: &Path) {
    write(&root.join("portal/SecurityEvent-export.csv"), PORTAL_CSV.as_bytes());
    write(&root.join("defender/api.json"), DEFENDER_API.as_bytes());
    write(&root.join("defender/graph.json"), DEFENDER_GRAPH.as_bytes());
    write(&root.join("defender/stream.json"), DEFENDER_STREAM.as_bytes());
    write(&root.join("la/query-result.json"), LOG_ANALYTICS_API.as_bytes());
    write(&root.join("linux/auth.log.1.gz"), &gzip(AUTH_LOG.as_bytes()));
    write(&root.join("custom/app-events.jsonl"), CUSTOM_JSONL.as_bytes());
    let zipped = zip(&[("inner/more.csv", PORTAL_CSV.as_bytes()), ("inner/notes.txt", b"just some words\n")]);
    write(&root.join("bundle.zip"), &zipped);
    write(&root.join("README.md"), b"# Logs\n\nCollected in May, from dc1.\n");
    write(&root.join(".hidden/secret.csv"), b"a,b\n1,2\n");
}

fn options() -> IngestOptions {
    IngestOptions { strict: false, progress: false, threads: 3, ..IngestOptions::default() }
}

fn rows(ingested: &Ingested, table: &str) -> usize {
    ingested.tables.iter().filter(|t| t.name == table).flat_map(|t| &t.batches).map(|b| b.num_rows()).sum()
}

/// The cells of a query's first row, as text.
async fn first_row(session: &Session, query: &str) -> Vec<String> {
    let result = session.query(query).await.unwrap_or_else(|e| panic!("{query}: {e:?}"));
    let batch = &result.batches[0];
    (0..batch.num_columns()).map(|i| cell_text(batch.column(i).as_ref(), 0, result.columns[i].ty)).collect()
}

async fn count(session: &Session, query: &str) -> String {
    let result = session.query(query).await.unwrap_or_else(|e| panic!("{query}: {e:?}"));
    let batch = &result.batches[0];
    cell_text(batch.column(0).as_ref(), 0, result.columns[0].ty)
}

#[test]
fn a_mixed_tree_loads_every_shape() {
    let root = scratch("mixed");
    mixed_tree(&root);
    let ingested = ingest_paths(std::slice::from_ref(&root), &options()).unwrap();
    let names: Vec<&str> = ingested.tables.iter().map(|t| t.name.as_str()).collect();
    assert_eq!(rows(&ingested, "SecurityEvent"), 3 + 3 + 2, "tables: {names:?}");
    assert_eq!(rows(&ingested, "DeviceLogonEvents"), 2 + 1 + 1, "tables: {names:?}");
    assert_eq!(rows(&ingested, "DeviceProcessEvents"), 1);
    assert_eq!(rows(&ingested, "Syslog"), 2);
    assert_eq!(rows(&ingested, "app_events"), 2);
    assert!(ingested.rejected.is_empty(), "{:?}", ingested.rejected);
    let formats: Vec<(String, &str)> =
        ingested.files.iter().map(|f| (f.path.display().to_string(), f.format)).collect();
    assert_eq!(formats.len(), 8, "{formats:?}");
    assert!(formats.iter().any(|(p, f)| p.ends_with("bundle.zip!inner/more.csv") && *f == "csv"), "{formats:?}");
    assert!(formats.iter().any(|(p, f)| p.ends_with("auth.log.1.gz") && *f == "syslog"), "{formats:?}");
    assert!(!formats.iter().any(|(p, _)| p.contains("secret")), "hidden files are not read");
    let skipped = ingested.notices.iter().find(|n| n.starts_with("skipped 2 file(s)")).expect("a skipped notice");
    assert!(skipped.contains("README.md") && skipped.contains("notes.txt"), "{skipped}");
    for file in &ingested.files {
        assert_eq!(file.records, file.loaded + file.rejected, "{file:?}");
        assert!(file.error.is_none(), "{file:?}");
    }
}

#[tokio::test]
async fn portal_dates_and_defender_timestamps_are_queryable() {
    let root = scratch("query");
    mixed_tree(&root);
    let ingested = ingest_paths(std::slice::from_ref(&root), &options()).unwrap();
    let mut session = Session::with_partitions(1);
    register_tables(&mut session, ingested.tables).unwrap();
    let failures =
        "SecurityEvent | where EventID == 4625 and TimeGenerated between (datetime(2024-05-01T20:07:14Z) .. \
                    datetime(2024-05-01T20:07:16Z)) | count";
    assert_eq!(count(&session, failures).await, "4");
    // TimeGenerated of Defender rows comes from Timestamp.
    let graph = "DeviceLogonEvents | where TimeGenerated == datetime(2024-05-03) | project AccountName";
    assert_eq!(count(&session, graph).await, "eve");
    assert_eq!(count(&session, "Syslog | where SyslogMessage has 'Failed password' | count").await, "1");
}

#[test]
fn corrupt_inputs_are_counted_and_the_run_goes_on() {
    let root = scratch("corrupt");
    write(&root.join("good.csv"), PORTAL_CSV.as_bytes());
    let mut broken_evtx = b"ElfFile\0".to_vec();
    broken_evtx.extend(std::iter::repeat_n(0xA5u8, 5000));
    write(&root.join("broken.evtx"), &broken_evtx);
    let truncated = gzip(AUTH_LOG.as_bytes());
    write(&root.join("cut.log.gz"), &truncated[..truncated.len() / 2]);
    write(
        &root.join("bad-rows.csv"),
        b"TimeGenerated,Computer,EventID,Type\n2024-05-01T00:00:00Z,dc1,4624,SecurityEvent\nonly,two\n",
    );
    write(&root.join("bad.jsonl"), b"{\"Type\":\"SecurityEvent\",\"EventID\":1}\n{broken\n");
    let ingested = ingest_paths(std::slice::from_ref(&root), &options()).unwrap();
    assert_eq!(rows(&ingested, "SecurityEvent"), 3 + 1 + 1);
    let by_name =
        |name: &str| ingested.files.iter().find(|f| f.path.ends_with(name)).unwrap_or_else(|| panic!("{name}"));
    assert!(by_name("broken.evtx").error.is_some());
    assert_eq!(by_name("broken.evtx").format, "evtx");
    assert!(by_name("cut.log.gz").error.as_deref().unwrap().contains("gzip"), "{:?}", by_name("cut.log.gz"));
    assert_eq!((by_name("bad-rows.csv").records, by_name("bad-rows.csv").rejected), (2, 1));
    let locations: Vec<&str> = ingested.rejected.iter().map(|(l, _)| l.as_str()).collect();
    assert!(locations.iter().any(|l| l.ends_with("bad-rows.csv:3")), "{locations:?}");
    assert!(locations.iter().any(|l| l.ends_with("bad.jsonl:2")), "{locations:?}");

    let strict = IngestOptions { strict: true, ..options() };
    let error = ingest_paths(std::slice::from_ref(&root), &strict).err().expect("strict fails");
    assert!(matches!(error, kqlite_ingest::IngestError::Strict(_)), "{error:?}");
    let error = error.to_string();
    assert!(error.contains("strict: 2 record(s) rejected and 2 input(s) unreadable"), "{error}");
    assert!(ingest_paths(&[root.join("good.csv")], &strict).is_ok());
}

#[test]
fn a_named_file_that_is_not_telemetry_is_an_error_and_a_missing_path_fails() {
    let root = scratch("named");
    let notes = write(&root.join("notes.md"), b"# not logs\n");
    let ingested = ingest_paths(&[notes], &options()).unwrap();
    assert_eq!(ingested.files.len(), 1);
    assert_eq!(ingested.files[0].format, "unknown");
    assert!(ingested.files[0].error.as_deref().unwrap().contains("not a format kqlite reads"));
    let missing = ingest_paths(&[root.join("nope")], &options()).err().unwrap();
    assert!(matches!(&missing, kqlite_ingest::IngestError::NotFound { path } if path.ends_with("nope")), "{missing:?}");
    assert!(missing.to_string().contains("does not exist"), "{missing}");
}

#[tokio::test]
async fn the_store_is_incremental_partitioned_and_queries_like_memory() {
    let root = scratch("store-in");
    mixed_tree(&root);
    let store = scratch("store-out");
    let first = ingest_to_store(std::slice::from_ref(&root), &store, &options()).unwrap();
    assert!(!first.has_failures(), "{:?} {:?}", first.rejected, first.not_stored);
    assert_eq!(first.rows_written.get("SecurityEvent"), Some(&8));
    assert!(store.join(MANIFEST).exists());
    assert!(store.join("SecurityEvent/day=2024-05-01").is_dir());
    assert!(store.join("SecurityEvent/day=2024-05-02").is_dir());
    assert!(store.join("DeviceLogonEvents/day=2024-05-03").is_dir());

    // The same files again add nothing; a new file is added.
    let second = ingest_to_store(std::slice::from_ref(&root), &store, &options()).unwrap();
    assert!(second.rows_written.is_empty(), "{:?}", second.rows_written);
    // README.md is not recorded: no reader takes it, it is skipped again.
    assert_eq!(second.already_stored.len(), 8);
    assert!(second.notices.iter().any(|n| n.starts_with("skipped 1 file(s)")), "{:?}", second.notices);
    write(&root.join("later/more.json"), LOG_ANALYTICS_API.replace("dc2", "dc3").as_bytes());
    let third = ingest_to_store(std::slice::from_ref(&root), &store, &options()).unwrap();
    assert_eq!(third.rows_written.get("SecurityEvent"), Some(&2));

    let mut stored = Session::with_partitions(1);
    register_store(&mut stored, &store).await.unwrap();
    let mut memory = Session::with_partitions(1);
    register_tables(&mut memory, ingest_paths(std::slice::from_ref(&root), &options()).unwrap().tables).unwrap();
    for query in [
        "SecurityEvent | count",
        "SecurityEvent | summarize c = count() by Computer, EventID | project s = strcat(Computer, '/', EventID, '/', \
         c) | summarize l = make_list(s) | project strcat_array(array_sort_asc(l), ',')",
        "SecurityEvent | summarize max(TimeGenerated)",
        "DeviceLogonEvents | summarize make_set(DeviceName)",
        "Syslog | summarize min(TimeGenerated)",
        "app_events | summarize sum(n)",
    ] {
        assert_eq!(count(&stored, query).await, count(&memory, query).await, "{query}");
    }
    assert_eq!(count(&stored, "SecurityEvent | count").await, "10");
}

/// Files one worker reads share their table's part for each day (a part
/// per file made thousands of tiny parts from a folder of small logs), and
/// every file is recorded as stored.
#[tokio::test]
async fn files_read_together_share_their_days_parts() {
    let root = scratch("shared-parts-in");
    for i in 0..12 {
        write(&root.join(format!("export-{i:02}.csv")), PORTAL_CSV.replace("dc1", &format!("dc{i}")).as_bytes());
    }
    let store = scratch("shared-parts-out");
    let run = ingest_to_store(std::slice::from_ref(&root), &store, &IngestOptions { threads: 1, ..options() }).unwrap();
    assert!(!run.has_failures(), "{:?} {:?}", run.rejected, run.not_stored);
    assert_eq!(run.rows_written.get("SecurityEvent"), Some(&36));
    let parts = |day: &str| {
        std::fs::read_dir(store.join("SecurityEvent").join(day))
            .unwrap()
            .flatten()
            .filter(|f| f.file_name().to_string_lossy().ends_with(".parquet"))
            .count()
    };
    assert_eq!((parts("day=2024-05-01"), parts("day=2024-05-02")), (1, 1));
    let again = ingest_to_store(std::slice::from_ref(&root), &store, &options()).unwrap();
    assert_eq!(again.already_stored.len(), 12);
    let mut stored = Session::with_partitions(1);
    register_store(&mut stored, &store).await.unwrap();
    assert_eq!(count(&stored, "SecurityEvent | summarize dcount(Computer)").await, "12");
    assert_eq!(count(&stored, "SecurityEvent | count").await, "36");
}

#[test]
fn strict_store_runs_keep_rejecting_files_out() {
    let root = scratch("strict-store-in");
    write(&root.join("good.csv"), PORTAL_CSV.as_bytes());
    write(&root.join("bad.jsonl"), b"{\"Type\":\"SecurityEvent\",\"EventID\":1}\n{broken\n");
    let store = scratch("strict-store-out");
    let run =
        ingest_to_store(std::slice::from_ref(&root), &store, &IngestOptions { strict: true, ..options() }).unwrap();
    assert!(run.strict_failure().is_some());
    assert_eq!(run.not_stored, vec![root.join("bad.jsonl")]);
    assert_eq!(run.rows_written.get("SecurityEvent"), Some(&3));
    // Not in the manifest: a later (non-strict) run reads it.
    let again = ingest_to_store(std::slice::from_ref(&root), &store, &options()).unwrap();
    assert_eq!(again.already_stored, vec![root.join("good.csv")]);
    assert_eq!(again.rows_written.get("SecurityEvent"), Some(&1));
}

fn shared_datasets() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/datasets");
    if dir.is_dir() {
        Some(dir)
    } else {
        println!("SKIP: ../shared/datasets not found (the real EVTX and Linux auth datasets)");
        None
    }
}

#[tokio::test]
async fn shared_datasets_store_and_memory_agree() {
    let Some(datasets) = shared_datasets() else { return };
    let store = scratch("shared-store");
    let run =
        ingest_to_store(std::slice::from_ref(&datasets), &store, &IngestOptions { threads: 0, ..options() }).unwrap();
    let records: usize = run.files.iter().map(|f| f.records).sum();
    let loaded: usize = run.files.iter().map(|f| f.loaded).sum();
    let rejected: usize = run.files.iter().map(|f| f.rejected).sum();
    assert_eq!(records, loaded + rejected);
    // Two of the 277 EVTX files have the same content: read once.
    assert_eq!(run.files.iter().filter(|f| f.format == "evtx").count(), 276);
    assert!(run.notices.iter().any(|n| n.contains("UACME_59_Sysmon.evtx: same content as")), "{:?}", run.notices);
    assert_eq!(run.files.iter().filter(|f| f.format == "syslog").count(), 2);
    let memory = ingest_paths(&[datasets], &options()).unwrap();
    let mut stored = Session::with_partitions(1);
    register_store(&mut stored, &store).await.unwrap();
    let mut in_memory = Session::with_partitions(1);
    register_tables(&mut in_memory, memory.tables).unwrap();
    for query in
        ["SecurityEvent | count", "WindowsEvent | count", "Syslog | count", "SecurityEvent | summarize dcount(EventID)"]
    {
        assert_eq!(count(&stored, query).await, count(&in_memory, query).await, "{query}");
    }
    // Every cell of every row, EventData included, in any order: the store
    // (written by several workers, files grouped into shared parts) holds
    // exactly what reading the files gives.
    for table in ["SecurityEvent", "WindowsEvent", "Syslog"] {
        let query =
            format!("{table} | summarize rows = count(), digest = sum(hash(tostring(pack_all())) % 1000000007)");
        assert_eq!(first_row(&stored, &query).await, first_row(&in_memory, &query).await, "{table}");
    }
    println!("shared datasets: {records} records, {loaded} loaded, {rejected} rejected; tables {:?}", run.rows_written);
}

/// Inputs larger than a reading chunk: records that straddle chunk ends
/// (quoted newlines in CSV), line numbers of late rejections, gzip streams.
#[test]
fn large_line_based_inputs_are_read_in_chunks() {
    let root = scratch("large");
    let mut csv = String::from("\n\"Time\nGenerated\",Computer,Note\n");
    let mut line = 3;
    let mut bad_csv_line = 0;
    for i in 0..120_000 {
        line += 1;
        if i == 100_000 {
            csv.push_str("only,two\n");
            bad_csv_line = line;
            continue;
        }
        if i % 1000 == 0 {
            csv.push_str(&format!("2024-05-01T00:00:{:02}Z,host{i},\"two\nlines, \"\"quoted\"\"\"\n", i % 60));
            line += 1;
        } else {
            csv.push_str(&format!("2024-05-01T00:00:{:02}Z,host{i},plain {}\n", i % 60, "y".repeat(60)));
        }
    }
    assert!(csv.len() > 10 << 20, "bigger than several chunks: {}", csv.len());
    write(&root.join("big.csv"), csv.as_bytes());
    let mut jsonl = String::new();
    for i in 0..100_000 {
        if i == 90_000 {
            jsonl.push_str("{oops\n");
        } else {
            jsonl.push_str(&format!("{{\"user\":\"u{i}\",\"n\":{i},\"pad\":\"{}\"}}\n", "x".repeat(40)));
        }
    }
    write(&root.join("events.jsonl.gz"), &gzip(jsonl.as_bytes()));
    let ingested = ingest_paths(std::slice::from_ref(&root), &options()).unwrap();
    let by_name = |name: &str| ingested.files.iter().find(|f| f.path.ends_with(name)).unwrap();
    let big = by_name("big.csv");
    assert_eq!((big.records, big.loaded, big.rejected), (120_000, 119_999, 1));
    assert_eq!(rows(&ingested, "big"), 119_999);
    let big_json = by_name("events.jsonl.gz");
    assert_eq!((big_json.format, big_json.records, big_json.rejected), ("json", 100_000, 1));
    let locations: Vec<&str> = ingested.rejected.iter().map(|(l, _)| l.as_str()).collect();
    assert!(locations.iter().any(|l| l.ends_with(&format!("big.csv:{bad_csv_line}"))), "{bad_csv_line} {locations:?}");
    assert!(locations.iter().any(|l| l.ends_with("events.jsonl.gz:90001")), "{locations:?}");
    let table = ingested.tables.iter().find(|t| t.name == "big").unwrap();
    let names: Vec<&str> = table.columns.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, vec!["Time\nGenerated", "Computer", "Note"]);
    // Every record of the file has the same notice once, not once per chunk.
    let notices = ingested.notices.iter().filter(|n| n.contains("big.csv") && n.contains("custom table")).count();
    assert_eq!(notices, 1, "{:?}", ingested.notices);
}

/// JSON documents that grow without bound (a records array, Defender's
/// streaming export) are read a batch of records at a time: every record is
/// loaded or rejected with its position, and a document cut short keeps the
/// records before the cut and says where it stopped.
#[test]
fn large_json_documents_are_streamed_record_by_record() {
    let root = scratch("json-docs");
    let mut array = String::from("\u{feff}[\n");
    for i in 0..20_000 {
        if i > 0 {
            array.push_str(",\n");
        }
        if i == 15_000 {
            array.push_str("42");
        } else {
            array.push_str(&format!(
                r#"{{"TimeGenerated":"2024-05-01T00:00:00Z","Type":"SecurityEvent","EventID":4624,"Computer":"h{i}"}}"#
            ));
        }
    }
    array.push_str("]\n");
    write(&root.join("array.json"), array.as_bytes());
    let mut stream = String::from(r#"{"records":["#);
    for i in 0..20_000 {
        if i > 0 {
            stream.push(',');
        }
        if i == 17_000 {
            stream.push_str(r#"{"category":"AdvancedHunting-DeviceLogonEvents","properties":"oops"}"#);
        } else {
            stream.push_str(&format!(
                r#"{{"time":"2024-05-01T11:00:01Z","category":"AdvancedHunting-DeviceLogonEvents","properties":{{"Timestamp":"2024-05-01T11:00:01Z","DeviceName":"ws{i}","ActionType":"LogonSuccess"}}}}"#
            ));
        }
    }
    stream.push_str("]}");
    write(&root.join("defender/stream.json.gz"), &gzip(stream.as_bytes()));
    // Cut inside record 12,001 of an array.
    let cut_at = array.match_indices("\"h12000\"").next().unwrap().0;
    write(&root.join("cut/cut.json"), &array.as_bytes()[..cut_at]);

    let ingested = ingest_paths(std::slice::from_ref(&root), &options()).unwrap();
    let by_name = |name: &str| ingested.files.iter().find(|f| f.path.ends_with(name)).unwrap();
    let array_file = by_name("array.json");
    assert_eq!((array_file.records, array_file.loaded, array_file.rejected), (20_000, 19_999, 1), "{array_file:?}");
    let stream_file = by_name("stream.json.gz");
    assert_eq!((stream_file.records, stream_file.loaded, stream_file.rejected), (20_000, 19_999, 1), "{stream_file:?}");
    let cut = by_name("cut.json");
    assert_eq!((cut.records, cut.loaded), (12_000, 12_000), "{cut:?}");
    assert!(cut.error.as_deref().is_some_and(|e| e.contains("stopped after record 12000")), "{cut:?}");
    assert_eq!(rows(&ingested, "SecurityEvent"), 19_999 + 12_000);
    assert_eq!(rows(&ingested, "DeviceLogonEvents"), 19_999);
    let locations: Vec<&str> = ingested.rejected.iter().map(|(l, _)| l.as_str()).collect();
    assert!(locations.iter().any(|l| l.ends_with("array.json: record 15001")), "{locations:?}");
    assert!(locations.iter().any(|l| l.ends_with("stream.json.gz: record 17001")), "{locations:?}");
}

#[tokio::test]
async fn store_keeps_a_tables_first_types_and_counts_what_does_not_convert() {
    let root = scratch("types-in");
    let store = scratch("types-out");
    write(&root.join("a/app.jsonl"), b"{\"n\":1,\"s\":\"x\"}\n");
    ingest_to_store(&[root.join("a")], &store, &options()).unwrap();
    write(&root.join("b/app.jsonl"), b"{\"n\":\"many\",\"s\":\"y\",\"extra\":true}\n{\"n\":\"7\",\"s\":\"z\"}\n");
    let run = ingest_to_store(&[root.join("b")], &store, &options()).unwrap();
    assert_eq!(run.rows_written.get("app"), Some(&2));
    assert!(
        run.notices.iter().any(|n| n.contains("1 value(s) did not convert to the column types the store already has")),
        "{:?}",
        run.notices
    );
    let manifest = std::fs::read_to_string(store.join(MANIFEST)).unwrap();
    assert!(manifest.contains("\"extra\""), "new columns are added: {manifest}");
    let mut session = Session::with_partitions(1);
    register_store(&mut session, &store).await.unwrap();
    let summary =
        "app | summarize total = sum(n), extras = countif(extra), rows = count() | project strcat(total, '/', \
                   extras, '/', rows)";
    assert_eq!(count(&session, summary).await, "8/1/3");
}

#[tokio::test]
async fn a_file_spanning_more_days_than_open_parts_keeps_every_row() {
    let root = scratch("days-in");
    let store = scratch("days-out");
    let mut sorted = String::new();
    let mut mixed = String::new();
    for i in 0..3000 {
        let day = 1 + i * 12 / 3000;
        sorted.push_str(&format!(
            "{{\"Type\":\"SecurityEvent\",\"TimeGenerated\":\"2024-05-{day:02}T01:00:00Z\",\"EventID\":{i}}}\n"
        ));
        let day = 1 + i % 12;
        mixed.push_str(&format!(
            "{{\"Type\":\"SecurityEvent\",\"TimeGenerated\":\"2024-06-{day:02}T01:00:00Z\",\"EventID\":{i}}}\n"
        ));
    }
    write(&root.join("sorted.jsonl"), sorted.as_bytes());
    write(&root.join("mixed.jsonl"), mixed.as_bytes());
    let run = ingest_to_store(std::slice::from_ref(&root), &store, &options()).unwrap();
    assert_eq!(run.rows_written.get("SecurityEvent"), Some(&6000));
    let days = std::fs::read_dir(store.join("SecurityEvent")).unwrap().count();
    assert_eq!(days, 24);
    let mut session = Session::with_partitions(1);
    register_store(&mut session, &store).await.unwrap();
    let check =
        "SecurityEvent | summarize n = count(), s = sum(EventID), d = dcount(bin(TimeGenerated, 1d)) | project \
                 strcat(n, '/', s, '/', d)";
    assert_eq!(count(&session, check).await, format!("6000/{}/24", 2 * (0..3000).sum::<i64>()));
}

#[test]
fn copies_are_read_once_and_files_alike_at_both_ends_are_not_copies() {
    let root = scratch("copies");
    // 20,000 rows (about 700 KiB): the middle row lies outside the sampled start and end.
    let rows = |middle: &str| {
        let mut text = String::from("TimeGenerated,Computer,Note\n");
        for i in 0..20_000 {
            let note = if i == 10_000 { middle } else { "same" };
            text.push_str(&format!("2024-05-01T00:00:00Z,host{i:05},{note}\n"));
        }
        text
    };
    let a = write(&root.join("a/Custom.csv"), rows("AAAA").as_bytes());
    write(&root.join("b/Custom.csv"), rows("AAAA").as_bytes());
    write(&root.join("c/Custom.csv"), rows("BBBB").as_bytes());
    write(&root.join("d/Custom.csv"), b"TimeGenerated,Computer,Note\n2024-05-01T00:00:00Z,x,y\n");
    let ingested = ingest_paths(std::slice::from_ref(&root), &options()).unwrap();
    let copies: Vec<&String> = ingested.notices.iter().filter(|n| n.contains("same content as")).collect();
    assert_eq!(copies.len(), 1, "{:?}", ingested.notices);
    assert!(copies[0].contains(&a.display().to_string()), "{copies:?}");
    let rows: usize = ingested.tables.iter().flat_map(|t| &t.batches).map(|b| b.num_rows()).sum();
    assert_eq!(rows, 2 * 20_000 + 1, "a, c (same size and ends as a, another middle) and d");
    std::fs::remove_dir_all(&root).unwrap();
}
