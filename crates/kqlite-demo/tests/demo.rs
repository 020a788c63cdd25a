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
    let account = f.account.rsplit('\\').next().unwrap_or(&f.account);
    account.eq_ignore_ascii_case(&summary.intrusion.account)
        && (f.source == summary.intrusion.source_ip || f.source == "127.0.0.1")
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
