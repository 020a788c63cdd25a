//! The T1021 rule (rules/T1021-remote-services.kql) over a hand-built
//! fixture that exercises every branch of it. The expected table
//! (fixtures/t1021/expected.csv) is computed independently of kqlite by
//! fixtures/t1021/expected.py.

use std::path::{Path, PathBuf};
use std::process::Command;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixture(name: &str) -> String {
    format!("{}", Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/t1021").join(name).display())
}

/// Rows with their dynamic arrays sorted: make_set's element order depends
/// on the union's row order, which Kusto leaves undefined.
fn normalised_rows(csv_text: &str) -> (Vec<String>, Vec<Vec<String>>) {
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let header = reader.headers().unwrap().iter().map(str::to_string).collect();
    let rows = reader
        .records()
        .map(|r| {
            r.unwrap()
                .iter()
                .map(|cell| match serde_json::from_str::<serde_json::Value>(cell) {
                    Ok(serde_json::Value::Array(items)) => {
                        let mut items: Vec<String> = items.iter().map(|i| i.to_string()).collect();
                        items.sort();
                        items.join(",")
                    }
                    _ => cell.to_string(),
                })
                .collect()
        })
        .collect();
    (header, rows)
}

#[test]
fn t1021_rule_returns_exactly_the_expected_rows() {
    let output = Command::new(env!("CARGO_BIN_EXE_kqlite"))
        .arg("query")
        .arg("-f")
        .arg(root().join("rules/T1021-remote-services.kql"))
        .arg(format!("--table=SecurityEvent={}", fixture("SecurityEvent.csv")))
        .arg(format!("--table=DeviceLogonEvents={}", fixture("DeviceLogonEvents.csv")))
        .args(["--now", "2024-05-02T12:00:00Z", "--format", "csv"])
        .output()
        .unwrap();
    assert!(output.status.success(), "{}", String::from_utf8_lossy(&output.stderr));
    let (header, mut actual) = normalised_rows(&String::from_utf8(output.stdout).unwrap());
    let (expected_header, mut expected) = normalised_rows(&std::fs::read_to_string(fixture("expected.csv")).unwrap());
    assert_eq!(header, expected_header);
    // Sorted by MaxRiskScore desc, then TargetHostCount desc; ties in any order.
    let key = |row: &Vec<String>| (row[9].parse::<i64>().unwrap(), row[5].parse::<i64>().unwrap());
    for pair in actual.windows(2) {
        assert!(key(&pair[0]) >= key(&pair[1]), "not sorted: {pair:?}");
    }
    actual.sort();
    expected.sort();
    assert_eq!(actual, expected);
}

#[test]
fn published_query_fails_binding_like_kusto_and_suggests_the_fix() {
    let published = std::fs::read_to_string(root().join("rules/T1021-remote-services.kql"))
        .unwrap()
        .replace("    1)", "    true, 1)");
    let output = Command::new(env!("CARGO_BIN_EXE_kqlite")).args(["check", &published]).output().unwrap();
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(stderr.contains("incorrect number of arguments"), "{stderr}");
    assert!(stderr.contains("drop `true,`"), "{stderr}");
}
