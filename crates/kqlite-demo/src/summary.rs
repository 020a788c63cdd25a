//! What was generated and what the intruder did, and the check of a hunt's
//! findings against it.

use kqlite_detect::finding::Finding;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the intruder did, so a hunt can be checked against it. Host names
/// are as the logs name them: `NAME.contoso.local` for Windows hosts, the
/// bare name for Linux ones.
#[derive(Clone, Debug, PartialEq)]
pub struct Intrusion {
    /// The stolen account's user name (an administrator's), e.g. `admin-rpatel`.
    pub account: String,
    pub domain: String,
    /// The user of the compromised workstation, in whose console session the
    /// intruder's tools run (the `SubjectUserName` of its 4648s).
    pub compromised_user: String,
    /// The compromised workstation the intruder works from.
    pub source_host: String,
    pub source_ip: String,
    /// SMB, PsExec style (ADMIN$, svcctl, the PSEXESVC service).
    pub smb_targets: Vec<String>,
    pub rdp_targets: Vec<String>,
    /// The host where RDP was reached through a local tunnel (a loopback logon).
    pub rdp_tunnel_target: String,
    pub winrm_targets: Vec<String>,
    pub ssh_targets: Vec<String>,
    /// Service execution with a random service name ([`Intrusion::service_name`]) and
    /// binary `%SystemRoot%\NAME.exe` copied over ADMIN$ (T1569.002, T1570).
    pub service_target: String,
    pub service_name: String,
    /// WMI remote process creation: cmd.exe under WmiPrvSE.exe (T1047).
    pub wmi_target: String,
    /// A scheduled task registered remotely ([`Intrusion::task_name`]) in a network logon's session (T1053.005).
    pub task_target: String,
    pub task_name: String,
    /// DCOM through MMC20.Application: children of `mmc.exe -Embedding` (T1021.003).
    pub dcom_target: String,
    /// PowerShell remoting whose target-side 4624 has no source address (T1021.006).
    pub ps_remoting_target: String,
    /// The `TargetServerName`s of the 4648s on the source workstation, one per Windows hop.
    pub explicit_credential_targets: Vec<String>,
    pub first_event: i64,
    pub last_event: i64,
}

impl Intrusion {
    /// Every host the intruder logged on to.
    pub fn all_targets(&self) -> Vec<String> {
        let mut all: Vec<String> = self.techniques().into_iter().flat_map(|(_, hosts)| hosts).collect();
        all.sort();
        all.dedup();
        all
    }

    /// Each technique the intruder used, described, with the hosts it reached by it.
    pub fn techniques(&self) -> Vec<(String, Vec<String>)> {
        vec![
            ("SMB (ADMIN$, svcctl, PSEXESVC)".to_string(), self.smb_targets.clone()),
            ("RDP".to_string(), self.rdp_targets.clone()),
            ("WinRM".to_string(), self.winrm_targets.clone()),
            ("SSH".to_string(), self.ssh_targets.clone()),
            ("RDP through a local tunnel (logon from 127.0.0.1)".to_string(), vec![self.rdp_tunnel_target.clone()]),
            (
                format!(
                    "service execution (service {}, %SystemRoot%\\{}.exe over ADMIN$)",
                    self.service_name, self.service_name
                ),
                vec![self.service_target.clone()],
            ),
            ("WMI process creation (cmd.exe under WmiPrvSE.exe)".to_string(), vec![self.wmi_target.clone()]),
            (format!("remote scheduled task {}", self.task_name), vec![self.task_target.clone()]),
            ("DCOM (MMC20.Application, mmc.exe -Embedding)".to_string(), vec![self.dcom_target.clone()]),
            ("PowerShell remoting (4624 without a source address)".to_string(), vec![self.ps_remoting_target.clone()]),
        ]
    }
}

/// Whether two host names are the same host: case-insensitive, and a bare
/// name matches its fully qualified form (`SRV-APP-01` is `srv-app-01.contoso.local`).
pub fn same_host(a: &str, b: &str) -> bool {
    if a.eq_ignore_ascii_case(b) {
        return true;
    }
    let short = |name: &str| name.split('.').next().unwrap_or(name).to_string();
    let is_ip = |name: &str| name.parse::<std::net::IpAddr>().is_ok();
    let bare = |name: &str| !name.contains('.');
    !is_ip(a) && !is_ip(b) && (bare(a) || bare(b)) && short(a).eq_ignore_ascii_case(&short(b))
}

/// What was generated.
#[derive(Clone, Debug)]
pub struct DemoSummary {
    /// Files written, relative to the output directory, with their record counts.
    pub files: Vec<(PathBuf, usize)>,
    /// Records per table.
    pub records: BTreeMap<String, usize>,
    pub workstations: usize,
    pub windows_servers: usize,
    pub linux_servers: usize,
    /// The benign remote-logon patterns, one line each (who, from where, what).
    pub benign: Vec<String>,
    pub intrusion: Intrusion,
    /// The tuning file for the benign patterns (relative to the output directory).
    pub tuning_file: PathBuf,
    /// The newest event time (what `--now latest` will use).
    pub latest_event: i64,
}

impl DemoSummary {
    /// Whether `finding` is the intruder's: the stolen account (with or
    /// without the domain, `DOMAIN\\user` or `user@domain`) from the
    /// intruder's workstation (its address or name) or the tunnel's
    /// loopback; or with no source at all (a target-side correlation, a 4624
    /// without an address) when everything it saw lies in the intrusion's
    /// night, so the account's owner's own daytime work never counts. The
    /// compromised user's account counts only in the night, from its
    /// workstation or with no source (the intruder's 4648s name it as their
    /// subject).
    pub fn is_intruders(&self, finding: &Finding) -> bool {
        let i = &self.intrusion;
        let account = finding.account.rsplit('\\').next().unwrap_or(&finding.account);
        let account = account.split('@').next().unwrap_or(account);
        let source = finding.source.trim();
        let from_workstation = source == i.source_ip || same_host(source, &i.source_host);
        let no_source = matches!(source, "" | "-");
        let in_the_night = |t: Option<i64>| t.is_some_and(|t| t >= i.first_event && t <= i.last_event);
        let night = in_the_night(finding.first_seen) && in_the_night(finding.last_seen);
        if account.eq_ignore_ascii_case(&i.account) {
            from_workstation || source == "127.0.0.1" || (no_source && night)
        } else if account.eq_ignore_ascii_case(&i.compromised_user) {
            (from_workstation || no_source) && night
        } else {
            false
        }
    }

    /// How much of what was planted `findings` found.
    pub fn check(&self, findings: &[Finding]) -> Verdict {
        let intruders: Vec<&Finding> = findings.iter().filter(|f| self.is_intruders(f)).collect();
        let targets = self.intrusion.all_targets();
        let reached =
            targets.iter().filter(|h| intruders.iter().any(|f| f.targets.iter().any(|t| same_host(t, h)))).count();
        Verdict {
            intruder_findings: intruders.len(),
            findings: findings.len(),
            hosts_found: reached,
            hosts: targets.len(),
        }
    }
}

/// A hunt's findings checked against what was planted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// Findings that are the intruder's, of all findings.
    pub intruder_findings: usize,
    pub findings: usize,
    /// Hosts the intruder reached that its findings name, of all it reached.
    pub hosts_found: usize,
    pub hosts: usize,
}
