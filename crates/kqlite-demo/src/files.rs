//! The files written: each Windows host's logs (EVTX, or a Log Analytics
//! export), Defender's `DeviceLogonEvents` CSV, each Linux host's
//! auth.log, and the tuning file and watchlists for the benign patterns.

use crate::error::DemoError;
use crate::events::{iso, DeviceLogonRow, WinEvent};
use crate::organisation::{Generator, Host, BASTION, JUMP_HOSTS, SCANNER};
use crate::scenario::MARKER_FILE;
use crate::summary::{DemoSummary, Intrusion};
use crate::{DemoOptions, WindowsFormat};
use kqlite_ingest::evtx::writer::{write_evtx_file, EventRecord};
use kqlite_ingest::evtx::{activity, logon_type_name};
use serde_json::{json, Map, Value};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// The columns of Defender's `DeviceLogonEvents` export, in its order.
pub(crate) const DEVICE_LOGON_COLUMNS: [&str; 18] = [
    "Timestamp",
    "DeviceId",
    "DeviceName",
    "ActionType",
    "LogonType",
    "AccountDomain",
    "AccountName",
    "AccountSid",
    "Protocol",
    "FailureReason",
    "IsLocalAdmin",
    "LogonId",
    "RemoteDeviceName",
    "RemoteIP",
    "RemoteIPType",
    "RemotePort",
    "InitiatingProcessFileName",
    "ReportId",
];

fn create_parent(path: &Path) -> Result<(), DemoError> {
    match path.parent() {
        Some(parent) => {
            std::fs::create_dir_all(parent).map_err(|source| DemoError::Create { path: parent.to_path_buf(), source })
        }
        None => Ok(()),
    }
}

fn write_file(dir: &Path, relative: &str, text: &[u8]) -> Result<PathBuf, DemoError> {
    let path = dir.join(relative);
    create_parent(&path)?;
    std::fs::write(&path, text).map_err(|source| DemoError::Write { path, source })?;
    Ok(PathBuf::from(relative))
}

fn sorted_lines(mut lines: Vec<(i64, String)>) -> (String, usize, i64) {
    lines.sort_by_key(|line| line.0);
    let latest = lines.last().map(|l| l.0).unwrap_or(i64::MIN);
    let count = lines.len();
    let mut text = String::new();
    for (_, line) in lines {
        text.push_str(&line);
        text.push('\n');
    }
    (text, count, latest)
}

/// Defender's export, sorted by time: the CSV (header first), its rows and
/// the newest time.
fn device_logons_csv(mut rows: Vec<(i64, DeviceLogonRow)>) -> Result<(Vec<u8>, usize, i64), csv::Error> {
    rows.sort_by_key(|row| row.0);
    let latest = rows.last().map(|r| r.0).unwrap_or(i64::MIN);
    let mut writer = csv::Writer::from_writer(Vec::new());
    writer.write_record(DEVICE_LOGON_COLUMNS)?;
    for (_, row) in &rows {
        writer.write_record(row)?;
    }
    let text = writer.into_inner().map_err(|e| csv::Error::from(e.into_error()))?;
    Ok((text, rows.len(), latest))
}

fn data_text(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// `<EventData>` as `SecurityEvent.EventData` holds it: every field as a
/// named `Data` element, character data escaped (`&<>`) as Windows renders it.
fn event_data_xml(data: &Map<String, Value>) -> String {
    let mut xml = String::from("<EventData xmlns=\"http://schemas.microsoft.com/win/2004/08/events/event\">");
    for (name, value) in data {
        let text = data_text(value).replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        let _ = write!(xml, "<Data Name=\"{name}\">{text}</Data>");
    }
    xml.push_str("</EventData>");
    xml
}

/// `SecurityEvent.jsonl` and `WindowsEvent.jsonl` in the shape of a Log
/// Analytics export, with the columns Log Analytics derives (`Account`,
/// `Activity`, `LogonTypeName`, …). A Security field with a `SecurityEvent`
/// column of its own is that column; every field is also in `EventData`'s
/// XML, where fields without a column (a task's `TaskName` and
/// `TaskContent`, a share's `AccessList`) are read.
fn write_log_analytics_json(
    dir: &Path,
    hosts: &[Host],
    events: &[WinEvent],
    files: &mut Vec<(PathBuf, usize)>,
) -> Result<(), DemoError> {
    let columns: std::collections::HashSet<&str> = kqlite_ingest::catalog::table_schema("SecurityEvent")
        .map(|schema| schema.iter().map(|c| c.name.as_str()).collect())
        .unwrap_or_default();
    let mut security = Vec::new();
    let mut windows = Vec::new();
    for (n, e) in events.iter().enumerate() {
        let computer = format!("{}.contoso.local", hosts[e.host].name);
        if e.channel == "Security" {
            let mut record = Map::new();
            record.insert("TimeGenerated".into(), json!(iso(e.time)));
            record.insert("Type".into(), json!("SecurityEvent"));
            record.insert("Computer".into(), json!(computer));
            record.insert("Channel".into(), json!(e.channel));
            record.insert("EventSourceName".into(), json!(e.provider));
            record.insert("EventID".into(), json!(e.event_id));
            record.insert("Activity".into(), json!(activity(e.event_id as i32)));
            record.insert("EventRecordId".into(), json!((n + 1).to_string()));
            let text = |key: &str| e.data.get(key).map(data_text);
            let (user, domain) = match (text("TargetUserName"), text("SubjectUserName")) {
                (Some(user), _) => (user, text("TargetDomainName").unwrap_or_default()),
                (None, Some(user)) => (user, text("SubjectDomainName").unwrap_or_default()),
                (None, None) => (String::new(), String::new()),
            };
            record.insert("Account".into(), json!(format!("{domain}\\{user}")));
            record.insert("AccountType".into(), json!(if user.ends_with('$') { "Machine" } else { "User" }));
            if let (Some(user), Some(domain)) = (text("SubjectUserName"), text("SubjectDomainName")) {
                record.insert("SubjectAccount".into(), json!(format!("{domain}\\{user}")));
            }
            for (key, value) in e.data.iter().filter(|(key, _)| columns.contains(key.as_str())) {
                let value = match key.as_str() {
                    "LogonType" => json!(data_text(value).parse::<i64>().unwrap_or(0)),
                    _ => value.clone(),
                };
                record.insert(key.clone(), value);
            }
            if let Some(logon_type) = text("LogonType").and_then(|t| t.parse::<i64>().ok()) {
                record.insert("LogonTypeName".into(), json!(logon_type_name(logon_type)));
            }
            record.insert("EventData".into(), json!(event_data_xml(&e.data)));
            security.push((e.time, Value::Object(record).to_string()));
        } else {
            let mut record = json!({
                "TimeGenerated": iso(e.time),
                "Type": "WindowsEvent",
                "Computer": computer,
                "Channel": e.channel,
                "Provider": e.provider,
                "EventID": e.event_id,
                "EventLevel": 4,
                "EventLevelName": "Information",
                "EventRecordId": (n + 1).to_string(),
                "EventData": Value::Object(e.data.clone()),
            });
            if let (Some(sid), Value::Object(record)) = (&e.user_sid, &mut record) {
                record.insert("SystemUserId".into(), json!(sid));
            }
            windows.push((e.time, record.to_string()));
        }
    }
    let (text, count, _) = sorted_lines(security);
    files.push((write_file(dir, "logs/windows/SecurityEvent.jsonl", text.as_bytes())?, count));
    let (text, count, _) = sorted_lines(windows);
    files.push((write_file(dir, "logs/windows/WindowsEvent.jsonl", text.as_bytes())?, count));
    Ok(())
}

/// The provider GUIDs Windows records for the classic providers the demo writes.
fn provider_guid(provider: &str) -> Option<&'static str> {
    match provider {
        "Service Control Manager" => Some("{555908d1-a6d7-4695-8e1e-26931d2012f4}"),
        _ => None,
    }
}

/// One `.evtx` file per host and channel (`logs/windows/HOST/Security.evtx`,
/// `Microsoft-Windows-WinRM%4Operational.evtx`, …), as the machines keep them.
fn write_evtx(
    dir: &Path,
    hosts: &[Host],
    events: &[WinEvent],
    files: &mut Vec<(PathBuf, usize)>,
) -> Result<(), DemoError> {
    let mut by_file: BTreeMap<(usize, &str), Vec<&WinEvent>> = BTreeMap::new();
    for e in events {
        by_file.entry((e.host, e.channel)).or_default().push(e);
    }
    for ((host, channel), mut list) in by_file {
        list.sort_by_key(|e| e.time);
        let records: Vec<EventRecord> = list
            .iter()
            .enumerate()
            .map(|(n, e)| EventRecord {
                channel: e.channel.to_string(),
                provider: e.provider.to_string(),
                provider_guid: provider_guid(e.provider).map(str::to_string),
                event_id: e.event_id,
                version: if e.event_id == 4624 { 2 } else { 0 },
                level: if e.channel == "Security" { 0 } else { 4 },
                task: 0,
                opcode: 0,
                // Audit Success for Security, Classic for the Service Control Manager, else none.
                keywords: match e.channel {
                    "Security" => 0x8020_0000_0000_0000,
                    "System" => 0x8080_0000_0000_0000,
                    _ => 0,
                },
                time_created: e.time,
                record_id: n as u64 + 1,
                process_id: 4,
                thread_id: 100 + (n as u32 % 50),
                computer: format!("{}.contoso.local", hosts[host].name),
                user_sid: e.user_sid.clone(),
                data: e.data.iter().map(|(k, v)| (k.clone(), data_text(v))).collect(),
            })
            .collect();
        let relative = format!("logs/windows/{}/{}.evtx", hosts[host].name, channel.replace('/', "%4"));
        let path = dir.join(&relative);
        create_parent(&path)?;
        write_evtx_file(&path, &records).map_err(|source| DemoError::Write { path, source })?;
        files.push((PathBuf::from(relative), records.len()));
    }
    Ok(())
}

pub(crate) fn write_all(
    dir: &Path,
    g: Generator,
    options: &DemoOptions,
    benign: Vec<String>,
    intrusion: Intrusion,
    admin_names: &[String],
    help_desk_ips: &[String],
) -> Result<DemoSummary, DemoError> {
    let marker = format!(
        "Written by `kqlite demo --seed {} --hosts {} --days {}`: logs/ holds the generated logs, tuning/ the\n\
         tuning file and watchlists for its benign patterns. A rerun of the demo into this directory replaces both.\n",
        options.seed, options.hosts, options.days
    );
    write_file(dir, MARKER_FILE, marker.as_bytes())?;
    let mut files = Vec::new();
    let mut records = BTreeMap::new();
    let mut latest = i64::MIN;
    let (security, other) =
        g.windows_events.iter().fold((0, 0), |(s, o), e| if e.channel == "Security" { (s + 1, o) } else { (s, o + 1) });
    records.insert("SecurityEvent".to_string(), security);
    records.insert("WindowsEvent".to_string(), other);
    latest = latest.max(g.windows_events.iter().map(|e| e.time).max().unwrap_or(i64::MIN));
    match options.windows_format {
        WindowsFormat::Evtx => write_evtx(dir, &g.hosts, &g.windows_events, &mut files)?,
        WindowsFormat::JsonLines => write_log_analytics_json(dir, &g.hosts, &g.windows_events, &mut files)?,
    }
    let relative = "logs/defender/DeviceLogonEvents.csv";
    let (text, count, last) = device_logons_csv(g.device_logons)
        .map_err(|e| DemoError::Write { path: dir.join(relative), source: e.into() })?;
    files.push((write_file(dir, relative, &text)?, count));
    records.insert("DeviceLogonEvents".to_string(), count);
    latest = latest.max(last);
    let mut syslog_total = 0;
    for (host, lines) in g.auth_logs {
        let (text, count, last) = sorted_lines(lines);
        files.push((write_file(dir, &format!("logs/linux/{}/auth.log", g.hosts[host].name), text.as_bytes())?, count));
        syslog_total += count;
        latest = latest.max(last);
    }
    records.insert("Syslog".to_string(), syslog_total);
    let tuning_file = write_tuning(dir, admin_names, help_desk_ips, &mut files)?;
    let count = |linux: bool, prefix: Option<&str>| {
        g.hosts.iter().filter(|h| h.linux == linux && prefix.is_none_or(|p| h.name.starts_with(p))).count()
    };
    let workstations = count(false, Some("WS-")) + count(false, Some("HD-WS-"));
    Ok(DemoSummary {
        files,
        records,
        workstations,
        windows_servers: count(false, None) - workstations,
        linux_servers: count(true, None),
        benign,
        intrusion,
        tuning_file,
        latest_event: latest,
    })
}

/// The watchlists the demo writes, which its tuning file's exclusions may name.
const WATCHLISTS: [&str; 5] = ["AdminAccounts", "ServiceAccounts", "HelpDeskSources", "JumpHosts", "Scanners"];

/// The pack's example tuning: where each rule's author says which watchlist
/// silences which of its false positives (`exclude`), so the demo's tuning
/// follows the rules as they are written.
const PACK_TUNING: &str = include_str!("../../../rules/tuning/tuning.yaml");

/// One `exclude` entry of a tuning file.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Exclusion {
    watchlist: String,
    column: String,
    when: Option<String>,
}

/// The exclusions of each rule: the demo's own for the T1021 rules (the
/// five categories, administrators only below risk 3), and those the pack's
/// example tuning gives any rule of the built-in pack, with the watchlists
/// the demo writes. Keyed by the rule's file stem, in the pack's order.
fn rule_exclusions() -> Result<Vec<(String, Vec<Exclusion>)>, DemoError> {
    let rules = kqlite_detect::pack::builtin_rules().map_err(DemoError::PackRules)?;
    let mut by_rule: BTreeMap<usize, (String, Vec<Exclusion>)> = BTreeMap::new();
    let mut add = |key: &str, exclusion: Exclusion| {
        // Rules the built-in pack does not have are left out, as are unknown keys.
        let Ok(rule) = rules.find(key) else { return };
        let position = rules.rules.iter().position(|r| r.id == rule.id).unwrap_or(usize::MAX);
        let entry = by_rule.entry(position).or_insert_with(|| (rule.stem.clone(), Vec::new()));
        if WATCHLISTS.contains(&exclusion.watchlist.as_str()) && !entry.1.contains(&exclusion) {
            entry.1.push(exclusion);
        }
    };
    for (rule, account_column) in [
        ("T1021-remote-services", "TargetUserName"),
        ("T1021.002-smb-admin-shares", "TargetUserName"),
        ("T1021.004-ssh-lateral-movement", "TargetUsername"),
        ("T1021.006-winrm-remoting", "TargetUserName"),
    ] {
        for (watchlist, column, when) in [
            ("ServiceAccounts", account_column, None),
            ("AdminAccounts", account_column, Some("MaxRiskScore < 3")),
            ("HelpDeskSources", "SourceHost", None),
            ("JumpHosts", "SourceHost", None),
            ("Scanners", "SourceHost", None),
        ] {
            let exclusion =
                Exclusion { watchlist: watchlist.into(), column: column.into(), when: when.map(str::to_string) };
            add(rule, exclusion);
        }
    }
    let pack: serde_norway::Value = serde_norway::from_str(PACK_TUNING).map_err(DemoError::PackTuning)?;
    if let Some(pack_rules) = pack.get("rules").and_then(|r| r.as_mapping()) {
        for (key, tuning) in pack_rules {
            let (Some(key), Some(excludes)) = (key.as_str(), tuning.get("exclude").and_then(|e| e.as_sequence()))
            else {
                continue;
            };
            for exclude in excludes {
                let text = |field: &str| exclude.get(field).and_then(|v| v.as_str()).map(str::to_string);
                if let (Some(watchlist), Some(column)) = (text("watchlist"), text("column")) {
                    add(key, Exclusion { watchlist, column, when: text("when") });
                }
            }
        }
    }
    Ok(by_rule.into_values().filter(|(_, exclusions)| !exclusions.is_empty()).collect())
}

/// `text` as a single-quoted YAML scalar.
fn yaml_quoted(text: &str) -> String {
    format!("'{}'", text.replace('\'', "''"))
}

/// The tuning file and watchlists that silence the benign patterns, in the
/// format of `rules/README.md`: service accounts excluded by name; the help
/// desk, jump hosts, the bastion and the scanner excluded as sources, by
/// address and by name (a 4648 names its source workstation, a 4624 its
/// address); the administrators' accounts excluded only while their risk is
/// below 3, so the same accounts used after hours (the intruder's case)
/// still show. Each rule gets the exclusions [`rule_exclusions`] gives it.
fn write_tuning(
    dir: &Path,
    admin_names: &[String],
    help_desk_ips: &[String],
    files: &mut Vec<(PathBuf, usize)>,
) -> Result<PathBuf, DemoError> {
    let mut admins = String::from("Account,Owner\n");
    for admin in admin_names {
        let _ = writeln!(admins, "{admin},IT operations");
    }
    let service = "Account,Purpose\nsvc-backup,nightly backup agent and its deployment\n\
                   svc-sccm,SCCM client push and remediation over WMI\n\
                   svc-monitor,WinRM and PowerShell remoting health monitoring\nsvc-ansible,Ansible configuration management\n\
                   svc-vulnscan,authenticated vulnerability scans\n";
    // A source is matched as an address, a host name or a fully qualified name.
    let sources = |hosts: &[(String, String)]| {
        let mut text = String::from("Source,Host\n");
        for (name, ip) in hosts {
            let _ = writeln!(text, "{ip},{name}");
            let _ = writeln!(text, "{name},{name}");
            let _ = writeln!(text, "{}.contoso.local,{name}", name.to_ascii_lowercase());
        }
        text
    };
    let help_desk: Vec<(String, String)> =
        help_desk_ips.iter().enumerate().map(|(i, ip)| (format!("HD-WS-{:02}", i + 1), ip.clone())).collect();
    let jump: Vec<(String, String)> =
        [JUMP_HOSTS[0], JUMP_HOSTS[1], BASTION].iter().map(|(n, ip)| (n.to_string(), ip.to_string())).collect();
    let scanners = vec![(SCANNER.0.to_string(), SCANNER.1.to_string())];
    for (name, text) in [
        ("AdminAccounts", admins),
        ("ServiceAccounts", service.to_string()),
        ("HelpDeskSources", sources(&help_desk)),
        ("JumpHosts", sources(&jump)),
        ("Scanners", sources(&scanners)),
    ] {
        let rows = text.lines().count() - 1;
        files.push((write_file(dir, &format!("tuning/watchlists/{name}.csv"), text.as_bytes())?, rows));
    }
    let mut tuning = String::from(
        "# Tuning for the kqlite demo environment: each rule's false-positive categories, silenced by the\n\
         # watchlists beside this file (the T1021 rules' five categories, and the exclusions the pack's\n\
         # example tuning gives the other rules). Administrators stay visible when their risk is 3\n\
         # (a privileged account after hours).\n\
         watchlists: watchlists\n\
         timeZone: \"+00:00\"\n\
         rules:\n",
    );
    for (rule, exclusions) in rule_exclusions()? {
        let _ = writeln!(tuning, "  {rule}:\n    exclude:");
        for e in exclusions {
            let _ = writeln!(tuning, "      - watchlist: {}\n        column: {}", e.watchlist, e.column);
            if let Some(when) = &e.when {
                let _ = writeln!(tuning, "        when: {}", yaml_quoted(when));
            }
        }
    }
    files.push((write_file(dir, "tuning/tuning.yaml", tuning.as_bytes())?, 0));
    Ok(PathBuf::from("tuning/tuning.yaml"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_gets_its_exclusions_once_with_the_demos_watchlists() {
        let exclusions = rule_exclusions().unwrap();
        let stems: Vec<&str> = exclusions.iter().map(|(stem, _)| stem.as_str()).collect();
        for stem in ["T1021-remote-services", "T1021.002-smb-admin-shares", "T1021.006-winrm-remoting"] {
            assert!(stems.contains(&stem), "{stems:?}");
        }
        for (stem, list) in &exclusions {
            // The pack's example tuning repeats the demo's own T1021 exclusions: each is there once.
            for (n, e) in list.iter().enumerate() {
                assert!(!list[..n].contains(e), "{stem}: {e:?} twice");
                assert!(WATCHLISTS.contains(&e.watchlist.as_str()), "{stem}: {e:?}");
            }
        }
        let t1021 = &exclusions.iter().find(|(stem, _)| stem == "T1021-remote-services").unwrap().1;
        assert_eq!(t1021.len(), 5, "{t1021:?}");
        let admins = t1021.iter().find(|e| e.watchlist == "AdminAccounts").unwrap();
        assert_eq!(admins.when.as_deref(), Some("MaxRiskScore < 3"));
        assert_eq!(yaml_quoted("it's"), "'it''s'");
    }
}
