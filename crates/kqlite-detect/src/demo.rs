//! A generated environment to hunt in: a week of one organisation's remote
//! logons, with one intruder among them.
//!
//! The organisation (domain `CONTOSO`) has user workstations, Windows
//! servers and Linux servers, and the people and tools that log on remotely
//! every day: administrators (through jump hosts and a Linux bastion), the
//! help desk (RDP to users' workstations from its subnet), a vulnerability
//! scanner (network logons, admin shares and SSH to everything), and
//! service accounts (backup at night, SCCM client push over ADMIN$, WinRM
//! monitoring, Ansible over SSH). These are the false-positive categories
//! of the T1021 rule; the generated tuning file and watchlists name them.
//!
//! On the last night, from a user's workstation, an intruder uses a stolen
//! administrator's account to move by SMB (ADMIN$ and svcctl, PsExec
//! style), RDP (and RDP over a local tunnel), WinRM and SSH.
//!
//! The telemetry is written as the collectors would: each Windows host's
//! Security, WinRM and Remote Connection Manager logs as `.evtx` files
//! (through `kqlite_ingest::evtx::writer`), or as a Log Analytics export
//! (`SecurityEvent.jsonl`, `WindowsEvent.jsonl`); Defender's
//! `DeviceLogonEvents` as an advanced-hunting CSV export; and each Linux
//! host's `/var/log/auth.log` as modern rsyslog writes it. Everything is
//! drawn from one seeded generator, so a seed always gives the same files.

use crate::evidence::EvidenceReport;
use crate::finding::{Finding, Severity};
use crate::hunt::RuleOutcome;
use crate::rule::RuleSet;
use crate::tuning::Tuning;
use kqlite_engine::{Clock, Session};
use kqlite_ingest::evtx::writer::{write_evtx_file, EventRecord};
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use serde_json::{json, Map, Value};
use std::collections::{BTreeMap, HashSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const DOMAIN: &str = "CONTOSO";
const NANOS_PER_SECOND: i64 = 1_000_000_000;
const NANOS_PER_MINUTE: i64 = 60 * NANOS_PER_SECOND;
const NANOS_PER_HOUR: i64 = 60 * NANOS_PER_MINUTE;
const NANOS_PER_DAY: i64 = 24 * NANOS_PER_HOUR;

/// What to generate.
#[derive(Clone, Debug)]
pub struct DemoOptions {
    /// Seed of the generator: the same seed gives the same files.
    pub seed: u64,
    /// Hosts in the organisation (workstations, Windows and Linux servers), at least 40.
    pub hosts: usize,
    /// Days of activity, at least 2; the intrusion is in the last night.
    pub days: u32,
    /// Midnight UTC of the first day, ns since the epoch.
    pub start: i64,
    /// How Windows events are written.
    pub windows_format: WindowsFormat,
}

/// How the generated Windows events are written.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowsFormat {
    /// `.evtx` files per host and channel, as collected from the machines.
    Evtx,
    /// `SecurityEvent.jsonl` and `WindowsEvent.jsonl` as Log Analytics exports them.
    JsonLines,
}

impl Default for DemoOptions {
    fn default() -> Self {
        // Tuesday 2024-05-07: the last of 7 days is a Monday, a working day.
        DemoOptions {
            seed: 1021,
            hosts: 300,
            days: 7,
            start: 1_715_040_000 * NANOS_PER_SECOND,
            windows_format: WindowsFormat::Evtx,
        }
    }
}

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

struct Host {
    name: String,
    ip: String,
    linux: bool,
    /// Defender for Endpoint is onboarded (its `DeviceLogonEvents` are exported).
    mde: bool,
    /// OpenSSH 9.8+ logs per-connection lines as `sshd-session`.
    sshd_session: bool,
}

/// One Windows event: its System fields and its EventData, in order.
struct WinEvent {
    time: i64,
    host: usize,
    channel: &'static str,
    provider: &'static str,
    event_id: u32,
    data: Map<String, Value>,
}

struct Person {
    user: String,
    workstation: usize,
}

/// The generator's state: the organisation and the records written so far.
struct Generator {
    rng: StdRng,
    hosts: Vec<Host>,
    workstations: Vec<usize>,
    windows_servers: Vec<usize>,
    linux_servers: Vec<usize>,
    /// Windows events of every channel, written as EVTX or as Log Analytics JSON lines.
    windows_events: Vec<WinEvent>,
    device_logons: Vec<(i64, String)>,
    auth_logs: BTreeMap<usize, Vec<(i64, String)>>,
    next_logon_id: u64,
    /// Defender's ReportId, unique per device logon record.
    next_report_id: u64,
}

const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "omar", "priya", "chen", "fatima",
    "lars", "ines", "kofi", "mei", "tomas",
];
const LAST_NAMES: &[&str] = &[
    "smith", "jones", "garcia", "brown", "miller", "davis", "lopez", "wilson", "anderson", "thomas", "taylor", "moore",
    "martin", "lee", "perez", "white", "harris", "clark", "lewis", "walker", "hall", "young", "king", "wright",
    "scott", "green", "baker", "adams", "nelson", "hill",
];
const SERVER_ROLES: &[&str] = &["APP", "FS", "SQL", "WEB", "PRT", "EXCH", "RDS", "CA"];
const LINUX_ROLES: &[&str] = &["web", "db", "k8s", "log", "ci", "cache"];

const JUMP_HOSTS: [(&str, &str); 2] = [("JUMP-01", "10.20.255.10"), ("JUMP-02", "10.20.255.11")];
const BASTION: (&str, &str) = ("lnx-bastion-01", "10.30.255.10");
const SCANNER: (&str, &str) = ("SCAN-01", "10.50.0.10");
const SCCM: (&str, &str) = ("SCCM-01", "10.20.250.5");
const BACKUP: (&str, &str) = ("BACKUP-01", "10.20.250.6");
const MONITOR: (&str, &str) = ("MON-01", "10.20.250.7");
const ANSIBLE: (&str, &str) = ("lnx-ansible-01", "10.30.250.5");
const HELP_DESK_SUBNET: &str = "10.40.5";

fn iso(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

/// A CSV field, quoted when it needs to be.
fn csv_field(text: &str) -> String {
    if text.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", text.replace('"', "\"\""))
    } else {
        text.to_string()
    }
}

impl Generator {
    fn new(options: &DemoOptions) -> Result<Generator, String> {
        if options.hosts < 40 {
            return Err(format!("--hosts {}: the demo needs at least 40 hosts", options.hosts));
        }
        if options.hosts > 5000 {
            return Err(format!("--hosts {}: the demo generates at most 5000 hosts", options.hosts));
        }
        if options.days < 2 {
            return Err(format!("{} days: the demo needs at least 2 (history, then the intrusion)", options.days));
        }
        let mut generator = Generator {
            rng: StdRng::seed_from_u64(options.seed),
            hosts: Vec::new(),
            workstations: Vec::new(),
            windows_servers: Vec::new(),
            linux_servers: Vec::new(),
            windows_events: Vec::new(),
            device_logons: Vec::new(),
            auth_logs: BTreeMap::new(),
            next_logon_id: 0x3e7_0000,
            next_report_id: 1,
        };
        let infrastructure = [SCCM, BACKUP, MONITOR, SCANNER, JUMP_HOSTS[0], JUMP_HOSTS[1]];
        // Two thirds workstations, a tenth Linux, the rest Windows servers (infrastructure included).
        let linux = (options.hosts / 10).max(6);
        let windows_servers = (options.hosts * 22 / 100).max(infrastructure.len() + 8);
        let workstations = options.hosts - linux - windows_servers;
        for i in 0..workstations {
            let ip = format!("10.10.{}.{}", i / 250, i % 250 + 1);
            generator.add_host(format!("WS-{:04}", i + 1), ip, false, true, false);
        }
        for (name, ip) in infrastructure {
            generator.add_host(name.to_string(), ip.to_string(), false, true, false);
        }
        for i in 0..windows_servers - infrastructure.len() {
            let name = if i < 2 {
                format!("DC-{:02}", i + 1)
            } else {
                format!("SRV-{}-{:02}", SERVER_ROLES[(i - 2) % SERVER_ROLES.len()], (i - 2) / SERVER_ROLES.len() + 1)
            };
            let mde = generator.rng.random_bool(0.8);
            generator.add_host(name, format!("10.20.{}.{}", i / 250, i % 250 + 1), false, mde, false);
        }
        for (name, ip) in [BASTION, ANSIBLE] {
            generator.add_host(name.to_string(), ip.to_string(), true, false, false);
        }
        for i in 0..linux - 2 {
            let role = LINUX_ROLES[i % LINUX_ROLES.len()];
            let sshd_session = generator.rng.random_bool(0.3);
            generator.add_host(
                format!("lnx-{role}-{:02}", i / LINUX_ROLES.len() + 1),
                format!("10.30.{}.{}", i / 250, i % 250 + 1),
                true,
                false,
                sshd_session,
            );
        }
        Ok(generator)
    }

    fn add_host(&mut self, name: String, ip: String, linux: bool, mde: bool, sshd_session: bool) {
        let index = self.hosts.len();
        let is_infrastructure = [SCCM, BACKUP, MONITOR, SCANNER, JUMP_HOSTS[0], JUMP_HOSTS[1], BASTION, ANSIBLE]
            .iter()
            .any(|(n, _)| *n == name);
        if linux {
            if !is_infrastructure {
                self.linux_servers.push(index);
            }
        } else if name.starts_with("WS-") {
            self.workstations.push(index);
        } else if !is_infrastructure {
            self.windows_servers.push(index);
        }
        self.hosts.push(Host { name, ip, linux, mde, sshd_session });
    }

    fn host_named(&self, name: &str) -> usize {
        self.hosts.iter().position(|h| h.name == name).expect("infrastructure hosts are always generated")
    }

    fn logon_id(&mut self) -> String {
        self.next_logon_id += self.rng.random_range(1..5000);
        format!("0x{:x}", self.next_logon_id)
    }

    fn security_event(&mut self, time: i64, host: usize, event_id: u32, data: Value) {
        let Value::Object(data) = data else { unreachable!("event data is a JSON object") };
        let (channel, provider) = ("Security", "Microsoft-Windows-Security-Auditing");
        self.windows_events.push(WinEvent { time, host, channel, provider, event_id, data });
    }

    fn windows_event(
        &mut self,
        time: i64,
        host: usize,
        channel: &'static str,
        provider: &'static str,
        event_id: u32,
        data: Value,
    ) {
        let Value::Object(data) = data else { unreachable!("event data is a JSON object") };
        self.windows_events.push(WinEvent { time, host, channel, provider, event_id, data });
    }

    /// A successful logon (4624) on `host`, with the copies other collectors
    /// make of it: Defender's `DeviceLogonEvents` where onboarded, and
    /// Remote Connection Manager 1149 for RDP. Returns the logon id.
    fn logon(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        logon_type: u32,
        source_ip: &str,
        source_name: &str,
    ) -> String {
        let logon_id = self.logon_id();
        let (type_name, process, package) = match logon_type {
            2 => ("Interactive", "C:\\Windows\\System32\\svchost.exe", "Negotiate"),
            3 => ("Network", "-", if self.rng.random_bool(0.8) { "Kerberos" } else { "NTLM" }),
            10 => ("RemoteInteractive", "C:\\Windows\\System32\\svchost.exe", "Negotiate"),
            _ => ("Other", "-", "Negotiate"),
        };
        let machine = user.ends_with('$');
        // 4624's EventData in Windows' order.
        let fields = json!({
            "SubjectUserSid": "S-1-5-18",
            "SubjectUserName": format!("{}$", self.hosts[host].name),
            "SubjectDomainName": DOMAIN,
            "SubjectLogonId": "0x3e7",
            "TargetUserSid": format!("S-1-5-21-3623811015-3361044348-30300820-{}", 1000 + user.len() * 37 % 900),
            "TargetUserName": user,
            "TargetDomainName": DOMAIN,
            "TargetLogonId": logon_id,
            "LogonType": logon_type.to_string(),
            "LogonProcessName": if logon_type == 3 { "Kerberos" } else { "User32" },
            "AuthenticationPackageName": package,
            "WorkstationName": source_name,
            "ProcessName": process,
            "IpAddress": source_ip,
            "IpPort": if source_ip == "-" { "-".to_string() } else { self.rng.random_range(49152..65535).to_string() },
            "ElevatedToken": "%%1842",
        });
        self.security_event(time, host, 4624, fields);
        if logon_type == 10 {
            self.windows_event(
                time - NANOS_PER_SECOND,
                host,
                "Microsoft-Windows-TerminalServices-RemoteConnectionManager/Operational",
                "Microsoft-Windows-TerminalServices-RemoteConnectionManager",
                1149,
                json!({"Param1": user, "Param2": DOMAIN, "Param3": source_ip}),
            );
        }
        if self.hosts[host].mde && !machine {
            let remote_ip = if logon_type == 2 { String::new() } else { source_ip.to_string() };
            let remote_type = if remote_ip.is_empty() {
                ""
            } else if remote_ip.starts_with("127.") || remote_ip == "::1" {
                "Loopback"
            } else {
                "Private"
            };
            let line = [
                iso(time),
                format!("{:040x}", host as u128 * 0x9e37_79b9_7f4a_7c15),
                format!("{}.contoso.local", self.hosts[host].name.to_ascii_lowercase()),
                "LogonSuccess".into(),
                type_name.into(),
                DOMAIN.to_ascii_lowercase(),
                user.into(),
                format!("S-1-5-21-3623811015-3361044348-30300820-{}", 1000 + user.len() * 37 % 900),
                if logon_type == 3 { package.into() } else { "Negotiate".into() },
                String::new(),
                (user.starts_with("admin-") || user.starts_with("svc-")).to_string(),
                u64::from_str_radix(logon_id.trim_start_matches("0x"), 16).unwrap_or(0).to_string(),
                source_name.to_ascii_lowercase(),
                remote_ip,
                remote_type.into(),
                self.rng.random_range(49152..65535).to_string(),
                if logon_type == 3 { "lsass.exe".into() } else { "svchost.exe".into() },
                self.next_report_id.to_string(),
            ]
            .iter()
            .map(|f| csv_field(f))
            .collect::<Vec<_>>()
            .join(",");
            self.device_logons.push((time, line));
            self.next_report_id += 1;
        }
        logon_id
    }

    /// Admin-share access as file-share auditing logs it: 5140 for the share,
    /// 5145 for each object (file or pipe) checked.
    fn share_access(&mut self, time: i64, host: usize, user: &str, source_ip: &str, share: &str, objects: &[&str]) {
        let local_path = match share {
            "ADMIN$" => "\\??\\C:\\Windows",
            "C$" => "\\??\\C:\\",
            _ => "",
        };
        let base = json!({
            "SubjectUserSid": format!("S-1-5-21-3623811015-3361044348-30300820-{}", 1000 + user.len() * 37 % 900),
            "SubjectUserName": user,
            "SubjectDomainName": DOMAIN,
            "SubjectLogonId": "0x3e7",
            "ObjectType": "File",
            "IpAddress": source_ip,
            "IpPort": self.rng.random_range(49152..65535).to_string(),
            "ShareName": format!("\\\\*\\{share}"),
            "ShareLocalPath": local_path,
            "AccessMask": "0x1",
        });
        self.security_event(time, host, 5140, base.clone());
        let Value::Object(base) = base else { unreachable!() };
        for (i, object) in objects.iter().enumerate() {
            let mut fields = base.clone();
            fields.insert("RelativeTargetName".into(), json!(object));
            fields.insert("AccessMask".into(), json!("0x12019f"));
            self.security_event(time + (i as i64 + 1) * NANOS_PER_SECOND, host, 5145, Value::Object(fields));
        }
    }

    /// A WinRM session: the network logon that carries the source, then
    /// WinRM's 169 (authenticated) and, for a shell, 91.
    fn winrm_session(&mut self, time: i64, host: usize, user: &str, source_ip: &str, source_name: &str, shell: bool) {
        self.logon(time, host, user, 3, source_ip, source_name);
        let channel = "Microsoft-Windows-WinRM/Operational";
        let provider = "Microsoft-Windows-WinRM";
        self.windows_event(
            time + NANOS_PER_SECOND,
            host,
            channel,
            provider,
            169,
            json!({"username": format!("{DOMAIN}\\{user}"), "authenticationMechanism": "Kerberos"}),
        );
        if shell {
            let shell_id = format!(
                "{:08X}-0000-4000-8000-{:012X}",
                self.rng.random::<u32>(),
                self.rng.random::<u64>() & 0xffff_ffff_ffff
            );
            self.windows_event(
                time + 2 * NANOS_PER_SECOND,
                host,
                channel,
                provider,
                91,
                json!({"resourceUri": "http://schemas.microsoft.com/powershell/Microsoft.PowerShell", "shellId": shell_id}),
            );
        }
    }

    /// An accepted SSH logon in the target's auth.log, with the PAM session line.
    fn ssh_logon(&mut self, time: i64, host: usize, user: &str, source_ip: &str, method: &str) {
        let pid = self.rng.random_range(1000..60000);
        let port = self.rng.random_range(32768..60999);
        let key = if method == "publickey" {
            let fingerprint: String = (0..43)
                .map(|_| {
                    *b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
                        .choose(&mut self.rng)
                        .expect("non-empty") as char
                })
                .collect();
            format!(": ED25519 SHA256:{fingerprint}")
        } else {
            String::new()
        };
        let name = self.hosts[host].name.clone();
        let program = if self.hosts[host].sshd_session { "sshd-session" } else { "sshd" };
        let uid = 1000 + user.len() * 53 % 900;
        let lines = self.auth_logs.entry(host).or_default();
        lines.push((
            time,
            format!(
                "{} {name} {program}[{pid}]: Accepted {method} for {user} from {source_ip} port {port} ssh2{key}",
                syslog_time(time)
            ),
        ));
        lines.push((
            time + 20_000_000,
            format!(
                "{} {name} {program}[{pid}]: pam_unix(sshd:session): session opened for user {user}(uid={uid}) by (uid=0)",
                syslog_time(time + 20_000_000)
            ),
        ));
    }

    fn syslog_line(&mut self, time: i64, host: usize, program: &str, message: &str) {
        let name = self.hosts[host].name.clone();
        let pid = self.rng.random_range(300..60000);
        self.auth_logs
            .entry(host)
            .or_default()
            .push((time, format!("{} {name} {program}[{pid}]: {message}", syslog_time(time))));
    }

    /// A random time in `[from_hour, to_hour)` of the day starting at `day_start`.
    fn time_between(&mut self, day_start: i64, from_hour: i64, to_hour: i64) -> i64 {
        day_start + self.rng.random_range(from_hour * NANOS_PER_HOUR..to_hour * NANOS_PER_HOUR)
    }

    fn pick<T: Copy>(&mut self, items: &[T], count: usize) -> Vec<T> {
        items.choose_multiple(&mut self.rng, count.min(items.len())).copied().collect()
    }
}

fn syslog_time(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}

/// `count` new unique names; a name already taken gets a number (`alice.smith2`),
/// as directories do, so any number of people can be named.
fn make_people(generator: &mut Generator, count: usize, prefix: &str, used: &mut HashSet<String>) -> Vec<String> {
    let mut people = Vec::with_capacity(count);
    while people.len() < count {
        let first = FIRST_NAMES.choose(&mut generator.rng).expect("non-empty");
        let last = LAST_NAMES.choose(&mut generator.rng).expect("non-empty");
        let base = if prefix.is_empty() { format!("{first}.{last}") } else { format!("{prefix}{}{last}", &first[..1]) };
        let mut name = base.clone();
        let mut n = 2;
        while used.contains(&name) {
            name = format!("{base}{n}");
            n += 1;
        }
        used.insert(name.clone());
        people.push(name);
    }
    people
}

/// The file that marks a directory as the demo's, so a rerun may replace
/// the `logs/` and `tuning/` it wrote before.
pub const MARKER_FILE: &str = "kqlite-demo.txt";

/// Makes `dir` ready for a new environment: created if missing; when it
/// holds an earlier demo (its marker file), that demo's `logs/` and
/// `tuning/` are removed so no stale host's logs are hunted; any other
/// non-empty directory is refused rather than touched.
fn prepare_directory(dir: &Path) -> Result<(), String> {
    let mut entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return std::fs::create_dir_all(dir).map_err(|e| format!("cannot create {}: {e}", dir.display()))
        }
        Err(e) => return Err(format!("cannot read {}: {e}", dir.display())),
    };
    if entries.next().is_none() {
        return Ok(());
    }
    if !dir.join(MARKER_FILE).is_file() {
        return Err(format!(
            "{} is not empty and was not written by kqlite demo (no {MARKER_FILE}); give a new or empty directory",
            dir.display()
        ));
    }
    for owned in ["logs", "tuning"] {
        let path = dir.join(owned);
        match std::fs::remove_dir_all(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(format!("cannot remove the earlier demo's {}: {e}", path.display())),
        }
    }
    Ok(())
}

/// Generates the environment into `dir`: a new or empty directory, or one an
/// earlier run of the demo wrote (its logs and tuning are replaced).
pub fn generate(dir: &Path, options: &DemoOptions) -> Result<DemoSummary, String> {
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

const DEVICE_LOGON_COLUMNS: &str = "Timestamp,DeviceId,DeviceName,ActionType,LogonType,AccountDomain,AccountName,\
AccountSid,Protocol,FailureReason,IsLocalAdmin,LogonId,RemoteDeviceName,RemoteIP,RemoteIPType,RemotePort,\
InitiatingProcessFileName,ReportId";

fn write_file(dir: &Path, relative: &str, text: &str) -> Result<PathBuf, String> {
    let path = dir.join(relative);
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
    }
    std::fs::write(&path, text).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
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

/// Security's event names, as Log Analytics' `Activity` column shows them.
fn security_activity(event_id: u32) -> &'static str {
    match event_id {
        4624 => "An account was successfully logged on.",
        4688 => "A new process has been created.",
        4697 => "A service was installed in the system.",
        5140 => "A network share object was accessed.",
        5145 => "A network share object was checked to see whether client can be granted desired access.",
        _ => "",
    }
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
) -> Result<(), String> {
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
            record.insert("Activity".into(), json!(format!("{} - {}", e.event_id, security_activity(e.event_id))));
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
            if let Some(logon_type) = text("LogonType") {
                let name = match logon_type.as_str() {
                    "2" => "Interactive",
                    "3" => "Network",
                    "10" => "RemoteInteractive",
                    "11" => "CachedInteractive",
                    _ => "Other",
                };
                record.insert("LogonTypeName".into(), json!(format!("{logon_type} - {name}")));
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
    files.push((write_file(dir, "logs/windows/SecurityEvent.jsonl", &text)?, count));
    let (text, count, _) = sorted_lines(windows);
    files.push((write_file(dir, "logs/windows/WindowsEvent.jsonl", &text)?, count));
    Ok(())
}

/// One `.evtx` file per host and channel (`logs/windows/HOST/Security.evtx`,
/// `Microsoft-Windows-WinRM%4Operational.evtx`, …), as the machines keep them.
fn write_evtx(
    dir: &Path,
    hosts: &[Host],
    events: &[WinEvent],
    files: &mut Vec<(PathBuf, usize)>,
) -> Result<(), String> {
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
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(|e| format!("cannot create {}: {e}", parent.display()))?;
        }
        write_evtx_file(&path, &records).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        files.push((PathBuf::from(relative), records.len()));
    }
    Ok(())
}

fn write_all(
    dir: &Path,
    g: Generator,
    options: &DemoOptions,
    benign: Vec<String>,
    intrusion: Intrusion,
    admin_names: &[String],
    help_desk_ips: &[String],
) -> Result<DemoSummary, String> {
    let marker = format!(
        "Written by `kqlite demo --seed {} --hosts {} --days {}`: logs/ holds the generated logs, tuning/ the\n\
         tuning file and watchlists for its benign patterns. A rerun of the demo into this directory replaces both.\n",
        options.seed, options.hosts, options.days
    );
    write_file(dir, MARKER_FILE, &marker)?;
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
    let (text, count, last) = sorted_lines(g.device_logons);
    files.push((
        write_file(dir, "logs/defender/DeviceLogonEvents.csv", &format!("{DEVICE_LOGON_COLUMNS}\n{text}"))?,
        count,
    ));
    records.insert("DeviceLogonEvents".to_string(), count);
    latest = latest.max(last);
    let mut syslog_total = 0;
    for (host, lines) in g.auth_logs {
        let (text, count, last) = sorted_lines(lines);
        files.push((write_file(dir, &format!("logs/linux/{}/auth.log", g.hosts[host].name), &text)?, count));
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
) -> Result<PathBuf, String> {
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
        files.push((write_file(dir, &format!("tuning/watchlists/{name}.csv"), &text)?, rows));
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
    files.push((write_file(dir, "tuning/tuning.yaml", &tuning)?, 0));
    Ok(PathBuf::from("tuning/tuning.yaml"))
}

/// The rules the demo hunts with: the built-in pack (T1021 and its RDP,
/// SMB, SSH and WinRM sub-technique rules) and the shared functions.
pub fn rule_pack() -> Result<(RuleSet, Vec<(String, String)>), String> {
    crate::pack::load(None)
}

/// A hunt over a generated environment.
pub struct DemoHunt {
    pub evidence: EvidenceReport,
    pub outcomes: Vec<RuleOutcome>,
    /// Most severe and riskiest first.
    pub findings: Vec<Finding>,
    /// The clock the rules ran at: the newest event time.
    pub now: i64,
}

/// Hunts the logs generated in `dir` (its `logs/` directory) with
/// [`rule_pack`], tuned by `tuning` when given, at the newest event time.
pub async fn hunt(dir: &Path, tuning: Option<&Path>) -> Result<DemoHunt, String> {
    hunt_reading(dir, tuning, true).await
}

/// [`hunt`]; `only_rules`: keep only the EVTX records and columns the rules
/// read (as `kqlite hunt` does), else everything.
pub async fn hunt_reading(dir: &Path, tuning: Option<&Path>, only_rules: bool) -> Result<DemoHunt, String> {
    let (rules, functions) = rule_pack()?;
    let tuning = match tuning {
        Some(path) => Tuning::load(path, &rules)?,
        None => Tuning::default(),
    };
    let mut session = Session::new();
    let paths = [dir.join("logs")];
    let needs = match only_rules {
        true => crate::hunt::rules_needs(&rules, &tuning, &functions).await,
        false => None,
    };
    let evidence = match needs {
        Some(needs) => crate::evidence::load_evidence_for(&mut session, &paths, std::sync::Arc::new(needs)).await?,
        None => crate::evidence::load_evidence(&mut session, &paths).await?,
    };
    let now = crate::hunt::latest_event_time(&session, &evidence).await?;
    session.set_clock(Clock::Fixed(now));
    crate::hunt::prepare_session(&mut session, &tuning, &functions)?;
    let mut outcomes = crate::hunt::hunt(
        &session,
        &rules,
        &tuning,
        &crate::hunt::tables_with_data(&evidence),
        Severity::Informational,
    )
    .await;
    let findings = crate::hunt::sorted_findings(&mut outcomes);
    Ok(DemoHunt { evidence, outcomes, findings, now })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn reading_only_what_the_rules_read_gives_the_same_findings() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &DemoOptions { hosts: 60, days: 2, ..DemoOptions::default() }).unwrap();
        let pruned = hunt_reading(dir.path(), None, true).await.unwrap();
        let full = hunt_reading(dir.path(), None, false).await.unwrap();
        // Other EventIDs (4625, 4672, 4688, …) were left out, and only those.
        assert!(pruned.evidence.unread > 0, "the demo has records no rule reads");
        assert_eq!(full.evidence.unread, 0);
        assert!(pruned.evidence.total_rows() < full.evidence.total_rows());
        assert_eq!(pruned.now, full.now, "now() is the latest event, kept or not");
        let key = |h: &DemoHunt| {
            let mut f: Vec<String> = h
                .findings
                .iter()
                .map(|f| {
                    let mut f = f.clone();
                    f.details.clear();
                    format!("{f:?}")
                })
                .collect();
            f.sort();
            f
        };
        assert!(!full.findings.is_empty());
        assert_eq!(key(&pruned), key(&full));
    }

    #[test]
    fn rejects_too_few_hosts_and_days() {
        let dir = std::env::temp_dir();
        let err = generate(&dir, &DemoOptions { hosts: 10, ..DemoOptions::default() }).unwrap_err();
        assert!(err.contains("at least 40 hosts"), "{err}");
        let err = generate(&dir, &DemoOptions { days: 1, ..DemoOptions::default() }).unwrap_err();
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
        let mut on_disk = Vec::new();
        let mut stack = vec![dir.path().join("logs")];
        while let Some(d) = stack.pop() {
            for entry in std::fs::read_dir(&d).unwrap() {
                let path = entry.unwrap().path();
                if path.is_dir() {
                    stack.push(path);
                } else {
                    on_disk.push(path.strip_prefix(dir.path()).unwrap().to_path_buf());
                }
            }
        }
        let written: HashSet<PathBuf> =
            second.files.iter().map(|(f, _)| f.clone()).filter(|f| f.starts_with("logs")).collect();
        assert_eq!(on_disk.len(), written.len());
        assert!(on_disk.iter().all(|f| written.contains(f)));

        let other = tempfile::tempdir().unwrap();
        std::fs::write(other.path().join("notes.txt"), "mine").unwrap();
        let err = generate(other.path(), &small).unwrap_err();
        assert!(err.contains("not written by kqlite demo"), "{err}");
        assert_eq!(std::fs::read_to_string(other.path().join("notes.txt")).unwrap(), "mine");
    }

    #[test]
    fn names_stay_unique_past_the_name_lists() {
        // 30 first names × 30 last names: more people than that get numbered names.
        let mut g = Generator::new(&DemoOptions { hosts: 40, ..DemoOptions::default() }).unwrap();
        let mut used = HashSet::new();
        let people = make_people(&mut g, 2000, "", &mut used);
        let unique: HashSet<&String> = people.iter().collect();
        assert_eq!(unique.len(), 2000);
        assert!(people.iter().any(|p| p.ends_with(char::is_numeric)));
    }

    #[test]
    fn csv_fields_are_quoted_when_needed() {
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
        assert_eq!(csv_field("plain"), "plain");
    }
}
