//! The demo environment: the hunt finds the planted intruder by every
//! technique, the benign activity is silent once tuned with the generated
//! tuning file, and the same seed gives the same files.

use kqlite_demo::{self as demo, DemoOptions, DemoSummary, WindowsFormat};
use kqlite_detect::finding::Finding;
use std::path::Path;

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

fn options() -> DemoOptions {
    // Smaller than the CLI's default (300 hosts) to keep the debug-build test quick; same shape.
    DemoOptions { hosts: 120, ..DemoOptions::default() }
}

fn same_host(a: &str, b: &str) -> bool {
    a.eq_ignore_ascii_case(b)
}

fn by_rule<'a>(findings: &'a [Finding], stem_prefix: &str) -> Vec<&'a Finding> {
    findings.iter().filter(|f| f.rule_name.starts_with(stem_prefix)).collect()
}

fn is_intruder(f: &Finding, summary: &DemoSummary) -> bool {
    summary.is_intruders(f)
}

fn describe(findings: &[Finding]) -> String {
    findings
        .iter()
        .map(|f| format!("{} | {} | {} | {:?} | risk {}", f.rule_name, f.account, f.source, f.targets, f.risk_score))
        .collect::<Vec<_>>()
        .join("\n")
}

fn covers(f: &Finding, hosts: &[String]) -> bool {
    hosts.iter().all(|h| f.targets.iter().any(|t| same_host(t, h)))
}

#[test]
fn tuned_hunt_finds_the_intruder_by_every_technique_and_nothing_else() {
    tuned_hunt_finds_only_the_intruder(WindowsFormat::Evtx);
}

#[test]
fn the_same_holds_with_windows_events_as_log_analytics_json() {
    tuned_hunt_finds_only_the_intruder(WindowsFormat::JsonLines);
}

fn tuned_hunt_finds_only_the_intruder(windows_format: WindowsFormat) {
    let dir = tempfile::tempdir().unwrap();
    let summary = demo::generate(dir.path(), &DemoOptions { windows_format, ..options() }).unwrap();
    let intrusion = &summary.intrusion;
    assert!(summary.records["SecurityEvent"] > 3000, "{:?}", summary.records);
    assert!(summary.records["Syslog"] > 100 && summary.records["DeviceLogonEvents"] > 1000, "{:?}", summary.records);

    let tuning = dir.path().join(&summary.tuning_file);
    let hunt = runtime().block_on(demo::hunt(dir.path(), Some(&tuning))).unwrap();
    assert!(
        hunt.evidence.rejected.is_empty(),
        "rejected records: {:?}",
        &hunt.evidence.rejected[..3.min(hunt.evidence.rejected.len())]
    );
    assert!(hunt.evidence.skipped.is_empty(), "skipped files: {:?}", hunt.evidence.skipped);
    for outcome in &hunt.outcomes {
        assert!(
            matches!(outcome.status, kqlite_detect::hunt::RuleStatus::Ran { .. }),
            "rule {} did not run: {:?}",
            outcome.stem,
            outcome.status
        );
    }
    let findings = &hunt.findings;
    let listing = describe(findings);
    // Tuned, every finding is the intruder's.
    assert!(findings.iter().all(|f| is_intruder(f, &summary)), "benign findings left after tuning:\n{listing}");

    // T1021: the Security-event finding spans the SMB, RDP and WinRM hosts, risk 3 (privileged, after hours).
    let t1021 = by_rule(findings, "T1021 Remote Services");
    let windows_hosts: Vec<String> = [&intrusion.smb_targets, &intrusion.rdp_targets, &intrusion.winrm_targets]
        .into_iter()
        .flatten()
        .cloned()
        .collect();
    assert!(
        t1021.iter().any(|f| covers(f, &windows_hosts) && f.risk_score == 3 && f.source == intrusion.source_ip),
        "T1021 missed the intruder's Windows hops {windows_hosts:?}:\n{listing}"
    );
    let smb = by_rule(findings, "T1021.002");
    assert!(smb.iter().any(|f| covers(f, &intrusion.smb_targets) && f.risk_score == 3), "SMB missed:\n{listing}");
    let winrm = by_rule(findings, "T1021.006");
    assert!(winrm.iter().any(|f| covers(f, &intrusion.winrm_targets) && f.risk_score == 3), "WinRM missed:\n{listing}");
    let ssh = by_rule(findings, "T1021.004");
    assert!(ssh.iter().any(|f| covers(f, &intrusion.ssh_targets) && f.risk_score == 3), "SSH missed:\n{listing}");
    let loopback = by_rule(findings, "T1021.001");
    assert!(
        loopback
            .iter()
            .any(|f| covers(f, std::slice::from_ref(&intrusion.rdp_tunnel_target)) && f.source == "127.0.0.1"),
        "RDP over the tunnel missed:\n{listing}"
    );
    // The graph of the hunt has the intruder's edges.
    let dot = kqlite_detect::report::graph::to_dot(findings);
    assert!(dot.contains(&format!("{}@{}", intrusion.account, intrusion.source_ip)), "{dot}");
}

#[test]
fn untuned_hunt_is_noisy_with_the_benign_patterns() {
    let dir = tempfile::tempdir().unwrap();
    let summary = demo::generate(dir.path(), &options()).unwrap();
    let hunt = runtime().block_on(demo::hunt(dir.path(), None)).unwrap();
    let benign: Vec<&Finding> = hunt.findings.iter().filter(|f| !is_intruder(f, &summary)).collect();
    let sources: std::collections::BTreeSet<&str> = benign.iter().map(|f| f.source.as_str()).collect();
    // Without tuning the help desk, the jump hosts, the scanner and the service accounts all fire.
    for expected in ["10.20.255.10", "10.50.0.10", "10.20.250.6", "10.30.250.5"] {
        assert!(sources.contains(expected), "no untuned finding from {expected}: {sources:?}");
    }
    assert!(sources.iter().any(|s| s.starts_with("10.40.5.")), "no help-desk finding: {sources:?}");
    // The intruder is there too.
    assert!(hunt.findings.iter().any(|f| is_intruder(f, &summary)));
}

#[test]
fn the_same_seed_gives_the_same_files() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let options = DemoOptions { hosts: 60, days: 3, ..DemoOptions::default() };
    let first = demo::generate(a.path(), &options).unwrap();
    let second = demo::generate(b.path(), &options).unwrap();
    assert_eq!(first.intrusion, second.intrusion);
    assert_eq!(first.files, second.files);
    for (file, _) in &first.files {
        assert_eq!(read(a.path(), file), read(b.path(), file), "{} differs", file.display());
    }
    let c = tempfile::tempdir().unwrap();
    let other = demo::generate(c.path(), &DemoOptions { seed: 7, ..options }).unwrap();
    let all = |dir: &Path, summary: &DemoSummary| -> Vec<u8> {
        summary.files.iter().flat_map(|(file, _)| read(dir, file)).collect()
    };
    assert_ne!(all(a.path(), &first), all(c.path(), &other), "seed 7 wrote the same logs as seed 1021");
}

fn read(dir: &Path, file: &Path) -> Vec<u8> {
    std::fs::read(dir.join(file)).unwrap()
}

/// The generated logs of `dir`, loaded as a hunt loads them, to query.
fn load_logs(dir: &Path) -> kqlite_engine::Session {
    let mut session = kqlite_ingest::catalog::new_session();
    let paths = [dir.join("logs")];
    let report = runtime()
        .block_on(kqlite_detect::evidence::load_evidence_using(
            &mut session,
            &paths,
            kqlite_detect::evidence::Staging::Auto,
            kqlite_ingest::IngestOptions::default(),
        ))
        .unwrap();
    assert!(report.rejected.is_empty(), "rejected records: {:?}", &report.rejected[..3.min(report.rejected.len())]);
    session
}

type Row = serde_json::Map<String, serde_json::Value>;

fn rows(session: &kqlite_engine::Session, query: &str) -> Vec<Row> {
    let result = runtime().block_on(session.query(query)).unwrap_or_else(|e| panic!("{query}\n{e}"));
    let mut out = Vec::new();
    kqlite_engine::output::write(&result, kqlite_engine::output::Format::Jsonl, &mut out).unwrap();
    String::from_utf8(out).unwrap().lines().map(|line| serde_json::from_str(line).unwrap()).collect()
}

fn text<'a>(row: &'a Row, column: &str) -> &'a str {
    row.get(column).and_then(|v| v.as_str()).unwrap_or_default()
}

fn column(rows: &[Row], column: &str) -> Vec<String> {
    let mut values: Vec<String> = rows.iter().map(|r| text(r, column).to_string()).collect();
    values.sort();
    values.dedup();
    values
}

/// The intruder's one logon on `host` (from `ip`, in the night): its TargetLogonId.
fn intruders_logon(session: &kqlite_engine::Session, summary: &DemoSummary, host: &str, ip: &str) -> String {
    let i = &summary.intrusion;
    let logons = rows(
        session,
        &format!(
            "SecurityEvent | where EventID == 4624 and LogonType == 3 and Computer =~ '{host}' \
             and TargetUserName =~ '{}' and IpAddress == '{ip}' \
             and TimeGenerated between (unixtime_nanoseconds_todatetime({}) .. unixtime_nanoseconds_todatetime({})) \
             | project TargetLogonId",
            i.account, i.first_event, i.last_event
        ),
    );
    assert_eq!(logons.len(), 1, "the intruder's network logon on {host} from {ip}: {logons:?}");
    text(&logons[0], "TargetLogonId").to_string()
}

/// What `session` holds of `host`'s events in the logon session `logon_id`.
fn in_session(session: &kqlite_engine::Session, host: &str, logon_id: &str, event_id: u32, project: &str) -> Vec<Row> {
    rows(
        session,
        &format!(
            "SecurityEvent | where Computer =~ '{host}' and EventID == {event_id} and SubjectLogonId == '{logon_id}' \
             | extend TaskName = extract(@'<Data Name=\"TaskName\">([^<]*)<', 1, EventData), \
             TaskContent = extract(@'<Data Name=\"TaskContent\">([^<]*)<', 1, EventData) | project {project}"
        ),
    )
}

/// Each technique the intruder used left the events real Windows writes,
/// linked by the network logon's id; the benign side uses the same event
/// kinds in the shapes the rules tell apart.
fn planted_techniques_leave_linked_events(windows_format: WindowsFormat) {
    let dir = tempfile::tempdir().unwrap();
    let options = DemoOptions { hosts: 60, days: 3, windows_format, ..DemoOptions::default() };
    let summary = demo::generate(dir.path(), &options).unwrap();
    let session = load_logs(dir.path());
    let i = &summary.intrusion;
    let ip = i.source_ip.as_str();

    // Five more hosts, each reached by one technique, all counted for coverage.
    let new_hosts = [&i.service_target, &i.wmi_target, &i.task_target, &i.dcom_target, &i.ps_remoting_target];
    let mut distinct: Vec<&String> = new_hosts.to_vec();
    distinct.sort();
    distinct.dedup();
    assert_eq!(distinct.len(), 5, "{new_hosts:?}");
    let all = i.all_targets();
    assert!(new_hosts.iter().all(|h| all.contains(h)), "{all:?}");
    for (technique, hosts) in i.techniques() {
        assert!(!hosts.is_empty() && hosts.iter().all(|h| !h.is_empty()), "{technique}: {hosts:?}");
    }

    // Service execution: svcctl and the binary's copy over the admin shares, 4697 and 7045.
    let host = &i.service_target;
    let logon = intruders_logon(&session, &summary, host, ip);
    assert!(i.service_name.len() == 8 && i.service_name.chars().all(|c| c.is_ascii_alphabetic()), "{}", i.service_name);
    let shares = in_session(&session, host, &logon, 5145, "ShareName, RelativeTargetName, AccessMask");
    let binary = format!("{}.exe", i.service_name);
    let has = |share: &str, object: &str, mask: &str| {
        shares.iter().any(|r| {
            text(r, "ShareName") == share && text(r, "RelativeTargetName") == object && text(r, "AccessMask") == mask
        })
    };
    assert!(has(r"\\*\IPC$", "svcctl", "0x12019f") && has(r"\\*\ADMIN$", &binary, "0x2"), "{shares:?}");
    let installed = in_session(&session, host, &logon, 4697, "ServiceName, ServiceFileName");
    assert_eq!(column(&installed, "ServiceName"), vec![i.service_name.clone()]);
    assert_eq!(column(&installed, "ServiceFileName"), vec![format!(r"%SystemRoot%\{binary}")]);
    let system = rows(
        &session,
        &format!(
            "WindowsEvent | where Computer =~ '{host}' and Channel == 'System' and EventID == 7045 \
             | project ServiceName = tostring(EventData.ServiceName), ImagePath = tostring(EventData.ImagePath), \
             StartType = tostring(EventData.StartType), AccountName = tostring(EventData.AccountName)"
        ),
    );
    assert!(
        system.iter().any(|r| text(r, "ServiceName") == i.service_name
            && text(r, "ImagePath") == format!(r"%SystemRoot%\{binary}")
            && text(r, "StartType") == "demand start"
            && text(r, "AccountName") == "LocalSystem"),
        "{system:?}"
    );

    // WMI: cmd.exe under WmiPrvSE in the network logon's session, its output to ADMIN$.
    let host = &i.wmi_target;
    let logon = intruders_logon(&session, &summary, host, ip);
    let processes =
        in_session(&session, host, &logon, 4688, "NewProcessName, ParentProcessName, CommandLine, TargetLogonId");
    assert_eq!(processes.len(), 1, "{processes:?}");
    let p = &processes[0];
    assert_eq!(text(p, "ParentProcessName"), r"C:\Windows\System32\wbem\WmiPrvSE.exe");
    assert_eq!(text(p, "NewProcessName"), r"C:\Windows\System32\cmd.exe");
    assert_eq!(text(p, "TargetLogonId"), logon);
    let command = text(p, "CommandLine");
    let output = command
        .strip_prefix("cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\__")
        .and_then(|rest| rest.strip_suffix(" 2>&1"))
        .unwrap_or_else(|| panic!("not wmiexec's command line: {command}"));
    assert!(!output.is_empty() && output.chars().all(|c| c.is_ascii_digit() || c == '.'), "{command}");

    // A remote scheduled task: 4698 in the network logon's session, over the atsvc pipe.
    let host = &i.task_target;
    let logon = intruders_logon(&session, &summary, host, ip);
    let tasks = in_session(&session, host, &logon, 4698, "TaskName, TaskContent");
    assert_eq!(column(&tasks, "TaskName"), vec![i.task_name.clone()]);
    let content = text(&tasks[0], "TaskContent");
    assert!(content.contains("&lt;Exec&gt;") && content.contains("&lt;UserId&gt;SYSTEM&lt;/UserId&gt;"), "{content}");
    assert!(
        (content.contains(r"powershell.exe&lt;/Command&gt;") && content.contains("-enc "))
            || content.contains(r"&lt;Command&gt;C:\Users\Public\"),
        "{content}"
    );
    let pipes = in_session(&session, host, &logon, 5145, "RelativeTargetName");
    assert_eq!(column(&pipes, "RelativeTargetName"), vec!["atsvc".to_string()]);

    // DCOM through MMC20: mmc.exe -Embedding in the session, and its child.
    let host = &i.dcom_target;
    let logon = intruders_logon(&session, &summary, host, ip);
    let processes = in_session(&session, host, &logon, 4688, "NewProcessName, ParentProcessName, CommandLine");
    assert!(
        processes.iter().any(|r| text(r, "NewProcessName").ends_with(r"\mmc.exe")
            && text(r, "CommandLine").ends_with("-Embedding")),
        "{processes:?}"
    );
    assert!(processes.iter().any(|r| text(r, "ParentProcessName") == r"C:\Windows\System32\mmc.exe"), "{processes:?}");

    // PowerShell remoting: no source address on the 4624; wsmprovhost.exe and WinRM's 91 and 169.
    let host = &i.ps_remoting_target;
    let logon = intruders_logon(&session, &summary, host, "-");
    let processes = in_session(&session, host, &logon, 4688, "NewProcessName");
    assert!(column(&processes, "NewProcessName").contains(&r"C:\Windows\System32\wsmprovhost.exe".to_string()));
    let winrm = rows(
        &session,
        &format!(
            "WindowsEvent | where Computer =~ '{host}' and Channel == 'Microsoft-Windows-WinRM/Operational' \
             and TimeGenerated between (unixtime_nanoseconds_todatetime({}) .. unixtime_nanoseconds_todatetime({})) \
             | project EventID = tostring(EventID), User = tostring(EventData.username)",
            i.first_event, i.last_event
        ),
    );
    assert_eq!(column(&winrm, "EventID"), vec!["169".to_string(), "91".to_string()], "{winrm:?}");
    assert!(winrm.iter().any(|r| text(r, "User").eq_ignore_ascii_case(&format!("CONTOSO\\{}", i.account))));

    // Every network logon of the intruder has its 4672 (an administrator).
    let privileged = rows(
        &session,
        &format!(
            "SecurityEvent | where EventID == 4624 and TargetUserName =~ '{}' and LogonType == 3 \
             and TimeGenerated between (unixtime_nanoseconds_todatetime({}) .. unixtime_nanoseconds_todatetime({})) \
             | join kind=leftouter (SecurityEvent | where EventID == 4672 | project Computer, TargetLogonId = SubjectLogonId, Special = 1) \
               on Computer, TargetLogonId | summarize Logons = count(), WithPrivileges = countif(Special == 1)",
            i.account, i.first_event, i.last_event
        ),
    );
    assert_eq!(privileged[0].get("Logons"), privileged[0].get("WithPrivileges"), "{privileged:?}");

    // On the compromised workstation: a 4648 naming each Windows host it reached.
    let explicit = rows(
        &session,
        &format!(
            "SecurityEvent | where EventID == 4648 and Computer =~ '{}.contoso.local' and TargetUserName =~ '{}' \
             | project TargetServerName, TargetInfo, ProcessName",
            i.source_host, i.account
        ),
    );
    let mut windows_targets: Vec<String> = all.iter().filter(|h| h.ends_with(".contoso.local")).cloned().collect();
    windows_targets.sort();
    assert_eq!(column(&explicit, "TargetServerName"), windows_targets);
    let mut named = i.explicit_credential_targets.clone();
    named.sort();
    named.dedup();
    assert_eq!(named, windows_targets);

    // The benign side: tasks in network logons are only the intruder's; administrators register
    // theirs in console or RDP sessions, Group Policy as SYSTEM.
    let task_sessions = rows(
        &session,
        "SecurityEvent | where EventID == 4698 \
         | join kind=leftouter (SecurityEvent | where EventID == 4624 \
             | project Computer, SubjectLogonId = TargetLogonId, SessionLogonType = LogonType) \
           on Computer, SubjectLogonId \
         | summarize by SubjectUserName, LogonType = tostring(SessionLogonType)",
    );
    let network: Vec<&Row> = task_sessions.iter().filter(|r| text(r, "LogonType") == "3").collect();
    assert_eq!(column(&network.into_iter().cloned().collect::<Vec<_>>(), "SubjectUserName"), vec![i.account.clone()]);
    assert!(
        task_sessions
            .iter()
            .any(|r| text(r, "SubjectUserName").starts_with("admin-") && ["2", "10"].contains(&text(r, "LogonType"))),
        "{task_sessions:?}"
    );
    assert!(
        task_sessions.iter().any(|r| text(r, "SubjectUserName").ends_with('$')),
        "no SYSTEM task: {task_sessions:?}"
    );

    // Processes under WmiPrvSE: SCCM's remediation, and the intruder's.
    let wmi = rows(
        &session,
        r"SecurityEvent | where EventID == 4688 and ParentProcessName endswith @'\WmiPrvSE.exe' | project SubjectUserName",
    );
    assert_eq!(column(&wmi, "SubjectUserName"), {
        let mut expected = vec![i.account.clone(), "svc-sccm".to_string()];
        expected.sort();
        expected
    });
    // Services: the intruder's binaries in %SystemRoot%, the backup agent under C:\Program Files, SCCM's client.
    let services = rows(
        &session,
        "WindowsEvent | where EventID == 7045 | summarize by ImagePath = tostring(EventData.ImagePath), Installer = SystemUserId",
    );
    for service in &services {
        let image = text(service, "ImagePath");
        assert!(
            image.starts_with("%SystemRoot%\\")
                || image.starts_with("\"C:\\Program Files\\")
                || image.starts_with("C:\\Windows\\ccmsetup\\")
                || image.starts_with("C:\\Windows\\CCM\\"),
            "{services:?}"
        );
    }
    assert!(services.iter().any(|s| text(s, "ImagePath").starts_with("\"C:\\Program Files\\")), "{services:?}");
    // Monitoring's PowerShell remoting, and the help desk's explicit credentials.
    let monitoring = rows(
        &session,
        r"SecurityEvent | where EventID == 4688 and NewProcessName endswith @'\wsmprovhost.exe' and SubjectUserName == 'svc-monitor' | count",
    );
    assert!(monitoring[0]["Count"].as_i64().unwrap() > 0);
    let help_desk = rows(
        &session,
        "SecurityEvent | where EventID == 4648 and Computer startswith 'HD-WS-' | summarize by TargetServerName",
    );
    assert!(column(&help_desk, "TargetServerName").contains(&"localhost".to_string()), "{help_desk:?}");
    // Sources by name as well as by address, as a 4648's source is its computer.
    let help_desk_sources = std::fs::read_to_string(dir.path().join("tuning/watchlists/HelpDeskSources.csv")).unwrap();
    assert!(["10.40.5.21,", "HD-WS-01,", "hd-ws-01.contoso.local,"].iter().all(|key| help_desk_sources.contains(key)));
}

#[test]
fn planted_techniques_leave_linked_events_in_evtx() {
    planted_techniques_leave_linked_events(WindowsFormat::Evtx);
}

#[test]
fn planted_techniques_leave_linked_events_in_log_analytics_json() {
    planted_techniques_leave_linked_events(WindowsFormat::JsonLines);
}

#[test]
fn findings_without_a_source_are_the_intruders_only_inside_its_night() {
    let dir = tempfile::tempdir().unwrap();
    let summary = demo::generate(dir.path(), &DemoOptions { hosts: 40, days: 2, ..DemoOptions::default() }).unwrap();
    let i = &summary.intrusion;
    // A real finding as the template, so the fields the check does not read stay realistic.
    let tuning = dir.path().join(&summary.tuning_file);
    let hunt = runtime().block_on(demo::hunt(dir.path(), Some(&tuning))).unwrap();
    let template = hunt.findings.first().expect("the intruder is found").clone();
    let finding = |account: &str, source: &str, first: i64, last: i64| Finding {
        account: account.to_string(),
        source: source.to_string(),
        first_seen: Some(first),
        last_seen: Some(last),
        ..template.clone()
    };
    let night = (i.first_event, i.last_event);
    assert!(summary.is_intruders(&finding(&format!("CONTOSO\\{}", i.account), "-", night.0, night.1)));
    assert!(summary.is_intruders(&finding(&format!("{}@contoso.local", i.account), "", night.0, night.1)));
    assert!(summary.is_intruders(&finding(&i.account, &format!("{}.contoso.local", i.source_host), 0, 1)));
    // The account's owner at work in the day, with no source: not the intruder.
    assert!(!summary.is_intruders(&finding(&i.account, "", night.0 - 6 * 3_600_000_000_000, night.1)));
    assert!(!summary.is_intruders(&finding("svc-monitor", "", night.0, night.1)));
    // The compromised user's account, as the subject of the intruder's 4648s: only in the night.
    let workstation = format!("{}.contoso.local", i.source_host);
    assert!(summary.is_intruders(&finding(&i.compromised_user, &workstation, night.0, night.1)));
    assert!(!summary.is_intruders(&finding(&i.compromised_user, &workstation, night.0 - 3_600_000_000_000, night.1)));
    assert!(demo::same_host("SRV-APP-01", "srv-app-01.contoso.local"));
    assert!(!demo::same_host("SRV-APP-01", "SRV-APP-011.contoso.local"));
    assert!(!demo::same_host("10.0.0.1", "10.0.0.10"));
}
