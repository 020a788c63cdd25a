//! What was generated and what the intruder did, and the check of a hunt's
//! findings against it.

use kqlite_detect::finding::Finding;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// What the intruder did, so a hunt can be checked against it.
#[derive(Clone, Debug, PartialEq)]
pub struct Intrusion {
    /// The stolen account's user name (an administrator's), e.g. `admin-rpatel`.
    pub account: String,
    pub domain: String,
    /// The compromised workstation the intruder works from.
    pub source_host: String,
    pub source_ip: String,
    pub smb_targets: Vec<String>,
    pub rdp_targets: Vec<String>,
    /// The host where RDP was reached through a local tunnel (a loopback logon).
    pub rdp_tunnel_target: String,
    pub winrm_targets: Vec<String>,
    pub ssh_targets: Vec<String>,
    pub first_event: i64,
    pub last_event: i64,
}

impl Intrusion {
    /// Every host the intruder logged on to.
    pub fn all_targets(&self) -> Vec<String> {
        let mut all: Vec<String> = [&self.smb_targets, &self.rdp_targets, &self.winrm_targets, &self.ssh_targets]
            .into_iter()
            .flatten()
            .cloned()
            .collect();
        all.push(self.rdp_tunnel_target.clone());
        all.sort();
        all.dedup();
        all
    }
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
    /// Whether `finding` is the intruder's: its account (with or without
    /// the domain), from the intruder's workstation or through the tunnel.
    pub fn is_intruders(&self, finding: &Finding) -> bool {
        let i = &self.intrusion;
        let account = finding.account.rsplit('\\').next().unwrap_or(&finding.account);
        account.eq_ignore_ascii_case(&i.account) && (finding.source == i.source_ip || finding.source == "127.0.0.1")
    }

    /// How much of what was planted `findings` found.
    pub fn check(&self, findings: &[Finding]) -> Verdict {
        let intruders: Vec<&Finding> = findings.iter().filter(|f| self.is_intruders(f)).collect();
        let targets = self.intrusion.all_targets();
        let reached = targets
            .iter()
            .filter(|h| intruders.iter().any(|f| f.targets.iter().any(|t| t.eq_ignore_ascii_case(h))))
            .count();
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
