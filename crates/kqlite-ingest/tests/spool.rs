//! Large container members and gzip'd EVTX are extracted to temporary files
//! (spooled), not held in memory, and the temporary files are removed.
//!
//! One test in its own binary: it sets `TMPDIR` for the whole process. A
//! 4 KiB spool threshold makes small fixtures take the large-input path.

mod common;

use kqlite_ingest::evtx::writer::{write_evtx_file, EventRecord};
use kqlite_ingest::{ingest_paths, IngestOptions};
use std::io::Write;

fn logons(n: u64) -> Vec<EventRecord> {
    (0..n)
        .map(|i| EventRecord {
            time_created: 1_714_560_000_000_000_000 + i as i64 * 1_000_000_000,
            record_id: i + 1,
            data: vec![
                ("TargetUserName".into(), format!("user{i}")),
                ("TargetDomainName".into(), "CORP".into()),
                ("LogonType".into(), "3".into()),
                ("IpAddress".into(), "10.0.0.5".into()),
            ],
            ..common::security_logon()
        })
        .collect()
}

#[test]
fn large_members_and_gzip_evtx_are_spooled_to_temporary_files() {
    let root = std::env::temp_dir().join(format!("kqlite-spool-test-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&root);
    let (input, spool_dir) = (root.join("in"), root.join("tmp"));
    std::fs::create_dir_all(&input).unwrap();
    std::fs::create_dir_all(&spool_dir).unwrap();
    std::env::set_var("TMPDIR", &spool_dir);

    let evtx = root.join("Security.evtx");
    write_evtx_file(&evtx, &logons(500)).unwrap();
    let bytes = std::fs::read(&evtx).unwrap();
    assert!(bytes.len() > 4096 * 4);

    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    gz.write_all(&bytes).unwrap();
    std::fs::write(input.join("Security.evtx.gz"), gz.finish().unwrap()).unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("dc1/Security.evtx", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(&bytes).unwrap();
    zip.start_file("dc1/small.jsonl", zip::write::SimpleFileOptions::default()).unwrap();
    zip.write_all(b"{\"TimeGenerated\":\"2024-05-01T00:00:00Z\",\"Type\":\"SecurityEvent\",\"EventID\":4625}\n")
        .unwrap();
    std::fs::write(input.join("logs.zip"), zip.finish().unwrap().into_inner()).unwrap();

    let options = IngestOptions {
        strict: false,
        progress: false,
        threads: 2,
        spool_bytes: Some(4096),
        ..IngestOptions::default()
    };
    let ingested = ingest_paths(std::slice::from_ref(&input), &options).unwrap();
    let rows: usize = ingested
        .tables
        .iter()
        .filter(|t| t.name == "SecurityEvent")
        .flat_map(|t| &t.batches)
        .map(|b| b.num_rows())
        .sum();
    assert_eq!(rows, 500 + 500 + 1, "{:?}", ingested.files);
    assert!(ingested.rejected.is_empty(), "{:?}", ingested.rejected);
    for file in &ingested.files {
        assert!(file.error.is_none(), "{file:?}");
    }
    assert!(ingested.files.iter().any(|f| f.path.display().to_string().ends_with("logs.zip!dc1/Security.evtx")));

    let left: Vec<_> = std::fs::read_dir(&spool_dir).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "temporary files left behind: {left:?}");
    std::fs::remove_dir_all(&root).unwrap();
}
