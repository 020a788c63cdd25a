//! Windows events as JSON (NXLog / OTRF flat, Winlogbeat nested and dotted)
//! into SecurityEvent and WindowsEvent, compared with the EVTX reader's rows
//! for the same event written as EVTX.

mod common;

use datafusion::arrow::array::{Array, BinaryArray, Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::dynamic::DynRef;
use kqlite_ingest::evtx::writer::{write_evtx_file, EventRecord};
use kqlite_ingest::evtx::{read_evtx, EvtxOptions, EvtxTable};
use kqlite_ingest::windows_json::{load_windows_json, looks_like_windows_json, read_windows_json};
use kqlite_ingest::LoadedTable;

const NXLOG_4624: &str = r#"{"EventTime":"2024-05-01 10:00:00","Hostname":"dc1.corp.local","Keywords":-9214364837600034816,"EventType":"AUDIT_SUCCESS","SeverityValue":2,"Severity":"INFO","EventID":4624,"SourceName":"Microsoft-Windows-Security-Auditing","ProviderGuid":"{54849625-5478-4994-A5BA-3E3B0328C30D}","Version":2,"Task":12544,"OpcodeValue":0,"RecordNumber":77,"ProcessID":636,"ThreadID":4472,"Channel":"Security","Message":"An account was successfully logged on.","SubjectUserSid":"S-1-5-18","SubjectUserName":"DC1$","SubjectDomainName":"CORP","TargetUserSid":"S-1-5-21-1-2-3-1104","TargetUserName":"alice","TargetDomainName":"CORP","LogonType":"3","LogonProcessName":"NtLmSsp ","IpAddress":"10.0.0.5","IpPort":"50123","@timestamp":"2024-05-01T10:00:00.250Z","EventReceivedTime":"2024-05-01 10:00:01","SourceModuleName":"eventlog","SourceModuleType":"im_msvistalog"}"#;

const WINLOGBEAT_4625: &str = r#"{"@timestamp":"2024-05-01T10:05:00.000Z","event":{"code":"4625","provider":"Microsoft-Windows-Security-Auditing","kind":"event"},"log":{"level":"information"},"host":{"name":"dc1"},"winlog":{"channel":"Security","event_id":4625,"computer_name":"dc1.corp.local","provider_name":"Microsoft-Windows-Security-Auditing","record_id":78,"keywords":["Audit Failure"],"task":"Logon","opcode":"Info","version":0,"process":{"pid":636,"thread":{"id":4480}},"event_data":{"TargetUserName":"bob","TargetDomainName":"CORP","LogonType":"10","Status":"0xc000006d","SubStatus":"0xc000006a","IpAddress":"203.0.113.9","WorkstationName":"-"}}}"#;

const WINLOGBEAT_SYSMON_DOTTED: &str = r#"{"@timestamp":"2024-05-01T10:06:00Z","winlog.channel":"Microsoft-Windows-Sysmon/Operational","winlog.event_id":"1","winlog.computer_name":"ws7","winlog.provider_name":"Microsoft-Windows-Sysmon","winlog.record_id":5,"winlog.event_data.Image":"C:\\Windows\\System32\\cmd.exe","winlog.event_data.CommandLine":"cmd /c \"whoami & <x>\""}"#;

fn table<'a>(tables: &'a [LoadedTable], name: &str) -> &'a LoadedTable {
    tables.iter().find(|t| t.name == name).unwrap_or_else(|| panic!("no {name} table"))
}

fn rows(t: &LoadedTable) -> usize {
    t.batches.iter().map(RecordBatch::num_rows).sum()
}

/// Checks the cells of `row` (first batch) are the `(column, value)`s in
/// `expect`; `label` names the input in a failure.
fn assert_cells(t: &LoadedTable, row: usize, label: &str, expect: &[(&str, &str)]) {
    for (column, value) in expect {
        assert_eq!(cell(t, column, row), *value, "{label} {column}");
    }
}

/// A string, int or datetime cell of the first batch as text.
fn cell(t: &LoadedTable, column: &str, row: usize) -> String {
    let array = t.batches[0].column_by_name(column).unwrap_or_else(|| panic!("no column {column}"));
    if array.is_null(row) {
        return "null".into();
    }
    if let Some(s) = array.as_any().downcast_ref::<StringArray>() {
        return s.value(row).to_string();
    }
    if let Some(i) = array.as_any().downcast_ref::<Int32Array>() {
        return i.value(row).to_string();
    }
    array.as_any().downcast_ref::<Int64Array>().unwrap().value(row).to_string()
}

fn bag(t: &LoadedTable, row: usize) -> String {
    let bags = t.batches[0].column_by_name("EventData").unwrap().as_any().downcast_ref::<BinaryArray>().unwrap();
    DynRef::new(bags.value(row)).to_json()
}

#[test]
fn shapes_are_recognised_and_others_are_not() {
    let object = |text: &str| serde_json::from_str::<serde_json::Map<String, serde_json::Value>>(text).unwrap();
    assert!(looks_like_windows_json(&object(NXLOG_4624)));
    assert!(looks_like_windows_json(&object(WINLOGBEAT_4625)));
    assert!(looks_like_windows_json(&object(WINLOGBEAT_SYSMON_DOTTED)));
    // A Log Analytics SecurityEvent export loads as that table, not through here.
    let la = r#"{"TimeGenerated":"2024-05-01T10:00:00Z","EventID":4624,"Channel":"Security","Computer":"dc1"}"#;
    assert!(!looks_like_windows_json(&object(la)));
    assert!(!looks_like_windows_json(&object(r#"{"EventID":1,"name":"x"}"#)));
}

#[test]
fn nxlog_and_winlogbeat_become_security_and_windows_events() {
    let input = format!("{NXLOG_4624}\n\n{WINLOGBEAT_4625}\r\n{WINLOGBEAT_SYSMON_DOTTED}\n");
    let (tables, report) = load_windows_json(input.as_bytes(), "events.json");
    assert!(report.rejected.is_empty(), "{:?}", report.rejected);
    assert_eq!((report.records_read, report.loaded), (3, 3));
    assert_eq!(report.conversion_failures, 0);
    let security = table(&tables, "SecurityEvent");
    let windows = table(&tables, "WindowsEvent");
    // Security events are SecurityEvent rows only, as Sentinel's connector stores them.
    assert_eq!((rows(security), rows(windows)), (2, 1));

    // NXLog: flat fields, Keywords as a signed number, @timestamp preferred.
    let expect = [
        ("EventID", "4624"),
        ("Computer", "dc1.corp.local"),
        ("EventSourceName", "Microsoft-Windows-Security-Auditing"),
        ("Keywords", "0x8020000000000000"),
        ("Level", "0"),
        ("EventRecordId", "77"),
        ("TargetUserName", "alice"),
        ("LogonType", "3"),
        ("LogonTypeName", "3 - Network"),
        ("LogonProcessName", "NtLmSsp "),
        ("IpAddress", "10.0.0.5"),
        ("Account", "CORP\\alice"),
        ("AccountType", "User"),
        ("SubjectAccount", "CORP\\DC1$"),
        ("Activity", "4624 - An account was successfully logged on."),
        ("TimeGenerated", "1714557600250000000"),
    ];
    assert_cells(security, 0, "NXLog", &expect);
    assert!(cell(security, "EventData", 0).contains("<Data Name=\"TargetUserName\">alice</Data>"));

    // Winlogbeat: nested winlog.*, named keywords, text task left out.
    let expect = [
        ("EventID", "4625"),
        ("Computer", "dc1.corp.local"),
        ("Keywords", "0x8010000000000000"),
        ("Status", "0xc000006d"),
        ("Account", "CORP\\bob"),
        ("LogonTypeName", "10 - RemoteInteractive"),
        ("SystemProcessId", "636"),
        ("SystemThreadId", "4480"),
        ("Task", "null"),
    ];
    assert_cells(security, 1, "Winlogbeat", &expect);

    // The Sysmon event is a WindowsEvent.
    assert_eq!(cell(windows, "Channel", 0), "Microsoft-Windows-Sysmon/Operational");
    assert_eq!(cell(windows, "Provider", 0), "Microsoft-Windows-Sysmon");
    assert_eq!(cell(windows, "EventID", 0), "1");
    assert_eq!(cell(windows, "Computer", 0), "ws7");
    assert_eq!(
        bag(windows, 0),
        r#"{"Image":"C:\\Windows\\System32\\cmd.exe","CommandLine":"cmd /c \"whoami & <x>\""}"#
    );
    // Sentinel fills RawEventData only for events it cannot parse.
    assert_eq!(cell(windows, "RawEventData", 0), "");

    // Asked for, Security events are WindowsEvent rows too.
    let mut both = Vec::new();
    read_windows_json(&mut input.as_bytes(), "events.json", true, &mut |mut t| both.append(&mut t));
    let windows: Vec<&LoadedTable> = both.iter().filter(|t| t.name == "WindowsEvent").collect();
    assert_eq!(windows.iter().map(|t| rows(t)).sum::<usize>(), 3);
    let windows = windows.iter().find(|t| rows(t) > 0).unwrap();
    assert!(bag(windows, 0).contains(r#""IpAddress":"10.0.0.5""#));
    assert!(!bag(windows, 0).contains("SourceModuleName"), "NXLog's own fields are not EventData");
}

#[test]
fn bad_records_are_rejected_with_their_line() {
    let input = format!(
        "{NXLOG_4624}\n{{\"EventID\": \n[1,2]\n{{\"Channel\":\"Security\",\"Hostname\":\"x\"}}\n{WINLOGBEAT_4625}\n"
    );
    let (tables, report) = load_windows_json(input.as_bytes(), "bad.json");
    assert_eq!(report.records_read, 5);
    assert_eq!(report.loaded, 2);
    assert_eq!(report.records_read, report.loaded + report.rejected.len());
    let at: Vec<&str> = report.rejected.iter().map(|(at, _)| at.as_str()).collect();
    assert_eq!(at, ["bad.json:2", "bad.json:3", "bad.json:4"]);
    assert!(report.rejected[0].1.starts_with("not valid JSON"), "{:?}", report.rejected[0]);
    assert!(report.rejected[1].1.contains("found an array"), "{:?}", report.rejected[1]);
    assert!(report.rejected[2].1.starts_with("no event ID"), "{:?}", report.rejected[2]);
    assert_eq!(rows(table(&tables, "SecurityEvent")), 2);

    // A JSON array: elements are numbered.
    let input = format!("[{NXLOG_4624}, 7]");
    let (tables, report) = load_windows_json(input.as_bytes(), "array.json");
    assert_eq!((report.records_read, report.loaded), (2, 1));
    assert_eq!(report.rejected[0].0, "array.json: element 2");
    assert_eq!(rows(table(&tables, "SecurityEvent")), 1);
}

#[test]
fn json_and_evtx_of_the_same_event_make_the_same_rows() {
    let event = EventRecord {
        time_created: 1_714_557_600_250_000_000,
        record_id: 77,
        process_id: 636,
        thread_id: 4472,
        data: [
            ("SubjectUserSid", "S-1-5-18"),
            ("SubjectUserName", "DC1$"),
            ("SubjectDomainName", "CORP"),
            ("TargetUserSid", "S-1-5-21-1-2-3-1104"),
            ("TargetUserName", "alice"),
            ("TargetDomainName", "CORP"),
            ("LogonType", "3"),
            ("LogonProcessName", "NtLmSsp "),
            ("IpAddress", "10.0.0.5"),
            ("IpPort", "50123"),
        ]
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .to_vec(),
        ..common::security_logon()
    };
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("one.evtx");
    write_evtx_file(&path, std::slice::from_ref(&event)).unwrap();
    let mut from_evtx: Vec<LoadedTable> = EvtxTable::ALL
        .iter()
        .map(|t| LoadedTable { name: t.name().into(), columns: t.columns().to_vec(), batches: Vec::new() })
        .collect();
    // Both copies of the Security event, to compare WindowsEvent rows too.
    let options = EvtxOptions { security_in_windows_event: true, ..EvtxOptions::default() };
    let report = read_evtx(&path, &options, &mut |t, b| from_evtx[t as usize].batches.push(b));
    assert_eq!(report.load.loaded, 1, "{report:?}");
    let mut from_json = Vec::new();
    let report = read_windows_json(&mut NXLOG_4624.as_bytes(), "one.json", true, &mut |mut t| from_json.append(&mut t));
    assert_eq!(report.loaded, 1, "{report:?}");

    let security = (table(&from_evtx, "SecurityEvent"), table(&from_json, "SecurityEvent"));
    for column in security.0.columns.iter().map(|c| c.name.as_str()) {
        if ["EventData", "SystemUserId", "Correlation", "SystemProcessId", "SystemThreadId"].contains(&column) {
            continue; // the EVTX record carries no user SID or activity; checked below
        }
        assert_eq!(cell(security.0, column, 0), cell(security.1, column, 0), "SecurityEvent.{column}");
    }
    assert_eq!(cell(security.1, "SystemProcessId", 0), "636");
    let windows = (table(&from_evtx, "WindowsEvent"), table(&from_json, "WindowsEvent"));
    for column in ["TimeGenerated", "Channel", "Computer", "EventID", "Provider", "EventLevelName", "Keywords"] {
        assert_eq!(cell(windows.0, column, 0), cell(windows.1, column, 0), "WindowsEvent.{column}");
    }
    assert_eq!(bag(windows.0, 0), bag(windows.1, 0));
}

/// Many events are read a batch at a time: each batch's tables are handed
/// on before the next is read, with line numbers counted across batches and
/// one notice for the whole input.
#[test]
fn long_inputs_are_read_a_batch_at_a_time() {
    let mut text = String::new();
    for i in 0..20_000 {
        text.push_str(if i == 9_000 { "{not json" } else { NXLOG_4624 });
        text.push('\n');
    }
    let mut handed = Vec::new();
    let report = read_windows_json(&mut text.as_bytes(), "big.json", false, &mut |tables| {
        handed.push(tables.iter().map(rows).sum::<usize>());
    });
    assert!(handed.len() >= 3, "{handed:?}");
    // Each record is one SecurityEvent row.
    assert_eq!(handed.iter().sum::<usize>(), 19_999);
    assert_eq!((report.records_read, report.loaded, report.rejected.len()), (20_000, 19_999, 1));
    assert_eq!(report.rejected[0].0, "big.json:9001");
    let unmapped = report.notices.iter().filter(|n| n.contains("no SecurityEvent column")).count();
    assert!(unmapped <= 1, "{:?}", report.notices);
}
