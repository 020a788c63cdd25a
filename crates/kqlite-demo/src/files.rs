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

/// `SecurityEvent.jsonl` and `WindowsEvent.jsonl` in the shape of a Log
/// Analytics export, with the columns Log Analytics derives (`Account`,
/// `Activity`, `LogonTypeName`, …).
fn write_log_analytics_json(
    dir: &Path,
    hosts: &[Host],
    events: &[WinEvent],
    files: &mut Vec<(PathBuf, usize)>,
) -> Result<(), DemoError> {
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
            for (key, value) in &e.data {
                let value = match key.as_str() {
                    "LogonType" => json!(data_text(value).parse::<i64>().unwrap_or(0)),
                    _ => value.clone(),
                };
                record.insert(key.clone(), value);
            }
            if let Some(logon_type) = text("LogonType").and_then(|t| t.parse::<i64>().ok()) {
                record.insert("LogonTypeName".into(), json!(logon_type_name(logon_type)));
            }
            security.push((e.time, Value::Object(record).to_string()));
        } else {
            let record = json!({
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
            windows.push((e.time, record.to_string()));
        }
    }
    let (text, count, _) = sorted_lines(security);
    files.push((write_file(dir, "logs/windows/SecurityEvent.jsonl", text.as_bytes())?, count));
    let (text, count, _) = sorted_lines(windows);
    files.push((write_file(dir, "logs/windows/WindowsEvent.jsonl", text.as_bytes())?, count));
    Ok(())
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
                provider_guid: None,
                event_id: e.event_id,
                version: if e.event_id == 4624 { 2 } else { 0 },
                level: if e.channel == "Security" { 0 } else { 4 },
                task: 0,
                opcode: 0,
                // Audit Success for Security, else none.
                keywords: if e.channel == "Security" { 0x8020_0000_0000_0000 } else { 0 },
                time_created: e.time,
                record_id: n as u64 + 1,
                process_id: 4,
                thread_id: 100 + (n as u32 % 50),
                computer: format!("{}.contoso.local", hosts[host].name),
                user_sid: None,
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

/// The tuning file and watchlists that silence the benign patterns, in the
/// format of `rules/README.md`: service accounts excluded by name; the help
/// desk, jump hosts, the bastion and the scanner excluded as sources; the
/// administrators' accounts excluded only while their risk is below 3, so
/// the same accounts used after hours (the intruder's case) still show.
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
    let service = "Account,Purpose\nsvc-backup,nightly backup agent\nsvc-sccm,SCCM client push and remediation\n\
                   svc-monitor,WinRM health monitoring\nsvc-ansible,Ansible configuration management\n\
                   svc-vulnscan,authenticated vulnerability scans\n";
    let mut help_desk = String::from("IpAddress,Host\n");
    for (i, ip) in help_desk_ips.iter().enumerate() {
        let _ = writeln!(help_desk, "{ip},HD-WS-{:02}", i + 1);
    }
    let jump = format!(
        "IpAddress,Host\n{},{}\n{},{}\n{},{}\n",
        JUMP_HOSTS[0].1, JUMP_HOSTS[0].0, JUMP_HOSTS[1].1, JUMP_HOSTS[1].0, BASTION.1, BASTION.0
    );
    let scanners = format!("IpAddress,Host\n{},{}\n", SCANNER.1, SCANNER.0);
    for (name, text) in [
        ("AdminAccounts", admins),
        ("ServiceAccounts", service.to_string()),
        ("HelpDeskSources", help_desk),
        ("JumpHosts", jump),
        ("Scanners", scanners),
    ] {
        let rows = text.lines().count() - 1;
        files.push((write_file(dir, &format!("tuning/watchlists/{name}.csv"), text.as_bytes())?, rows));
    }
    let exclusions = |account: &str| {
        format!(
            "    exclude:\n\
             \x20     - watchlist: ServiceAccounts\n        column: {account}\n\
             \x20     - watchlist: AdminAccounts\n        column: {account}\n        when: MaxRiskScore < 3\n\
             \x20     - watchlist: HelpDeskSources\n        column: SourceHost\n\
             \x20     - watchlist: JumpHosts\n        column: SourceHost\n\
             \x20     - watchlist: Scanners\n        column: SourceHost\n"
        )
    };
    let mut tuning = String::from(
        "# Tuning for the kqlite demo environment: the seed rule's false-positive categories.\n\
         # Administrators stay visible when their risk is 3 (a privileged account after hours).\n\
         watchlists: watchlists\n\
         timeZone: \"+00:00\"\n\
         rules:\n",
    );
    for (rule, account_column) in [
        ("T1021-remote-services", "TargetUserName"),
        ("T1021.002-smb-admin-shares", "TargetUserName"),
        ("T1021.004-ssh-lateral-movement", "TargetUsername"),
        ("T1021.006-winrm-remoting", "TargetUserName"),
    ] {
        let _ = writeln!(tuning, "  {rule}:");
        tuning.push_str(&exclusions(account_column));
    }
    files.push((write_file(dir, "tuning/tuning.yaml", tuning.as_bytes())?, 0));
    Ok(PathBuf::from("tuning/tuning.yaml"))
}
