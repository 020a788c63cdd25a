//! Generates realistic EVTX files for the benchmark (`bench/evtx_bench.py`).
//!
//!     cargo run --release -p kqlite-ingest --example gen_evtx -- OUT_DIR TOTAL_MB [FILES]
//!
//! Writes FILES files (default 60) of about TOTAL_MB/FILES MiB each, one
//! channel per file as Windows keeps them: 6 in 10 `Security` (4624, 4625,
//! 4672, 4688 with their real EventData fields), 3 in 10 Sysmon (1, 3, 11),
//! 1 in 10 PowerShell (4104 script blocks). Values come from a fixed-seed
//! generator, so the same arguments give the same files.

use kqlite_ingest::evtx::writer::{EventRecord, EvtxWriter};
use std::path::{Path, PathBuf};

const SECURITY_GUID: &str = "{54849625-5478-4994-a5ba-3e3b0328c30d}";
const SYSMON_GUID: &str = "{5770385f-c22a-43e0-bf4c-06f5698ffbd9}";
const POWERSHELL_GUID: &str = "{a0c1853b-5c40-4b15-8766-3cf1c58f985a}";
const USERS: &[&str] = &["alice", "bob", "carol", "dave", "erin", "frank", "svc_sql", "svc_backup", "administrator"];
const IMAGES: &[&str] = &[
    "C:\\Windows\\System32\\cmd.exe",
    "C:\\Windows\\System32\\WindowsPowerShell\\v1.0\\powershell.exe",
    "C:\\Windows\\System32\\svchost.exe",
    "C:\\Program Files\\Google\\Chrome\\Application\\chrome.exe",
    "C:\\Windows\\System32\\rundll32.exe",
    "C:\\Windows\\explorer.exe",
    "C:\\Windows\\System32\\wbem\\WmiPrvSE.exe",
];

/// xorshift64*: deterministic, no dependency.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn guid(&mut self) -> String {
        let (a, b) = (self.next(), self.next());
        format!(
            "{{{:08x}-{:04x}-{:04x}-{:04x}-{:012x}}}",
            a >> 32,
            (a >> 16) & 0xffff,
            a & 0xffff,
            b >> 48,
            b & 0xffff_ffff_ffff
        )
    }
    fn ip(&mut self) -> String {
        format!("10.{}.{}.{}", self.below(4), self.below(256), 1 + self.below(254))
    }
}

#[derive(Clone, Copy)]
enum Channel {
    Security,
    Sysmon,
    PowerShell,
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 3 {
        eprintln!("usage: gen_evtx OUT_DIR TOTAL_MB [FILES]");
        std::process::exit(2);
    }
    let out = PathBuf::from(&args[1]);
    let total_mb: u64 = args[2].parse().expect("TOTAL_MB is a number");
    let files: u64 = args.get(3).map_or(60, |f| f.parse().expect("FILES is a number"));
    std::fs::create_dir_all(&out).expect("create OUT_DIR");
    let chunks_per_file = (total_mb * 1024 * 1024 / files / 65536).max(1);
    let next = std::sync::atomic::AtomicU64::new(0);
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get());
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| loop {
                let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                if i >= files {
                    break;
                }
                let channel = match i % 10 {
                    0..=5 => Channel::Security,
                    6..=8 => Channel::Sysmon,
                    _ => Channel::PowerShell,
                };
                write_file(&out, i, channel, chunks_per_file);
            });
        }
    });
    let bytes: u64 = std::fs::read_dir(&out).unwrap().filter_map(|e| e.ok()?.metadata().ok()).map(|m| m.len()).sum();
    println!("{} files, {:.1} MiB in {}", files, bytes as f64 / 1048576.0, out.display());
}

fn write_file(dir: &Path, index: u64, channel: Channel, chunks: u64) {
    let name = match channel {
        Channel::Security => "Security",
        Channel::Sysmon => "Sysmon",
        Channel::PowerShell => "PowerShell",
    };
    let path = dir.join(format!("host{:03}-{name}.evtx", index));
    let file = std::fs::File::create(&path).expect("create file");
    let mut writer = EvtxWriter::new(std::io::BufWriter::with_capacity(1 << 20, file)).expect("write header");
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15 ^ (index + 1).wrapping_mul(0x1234_5678_9abc_def1));
    let computer = format!("host{index:03}.corp.local");
    let mut time = 1_714_521_600_000_000_000i64 + index as i64 * 1_000_000_000; // 2024-05-01
    let mut record_id = 1u64;
    while writer.chunks_written() < chunks {
        time += 1_000_000 * (1 + rng.below(5000) as i64);
        let event = match channel {
            Channel::Security => security(&mut rng, &computer),
            Channel::Sysmon => sysmon(&mut rng, &computer, time),
            Channel::PowerShell => powershell(&mut rng, &computer),
        };
        let event = EventRecord { time_created: time, record_id, ..event };
        writer.write(&event).expect("write record");
        record_id += 1;
    }
    writer.finish().expect("finish file");
}

/// The `Subject*` fields that open a Security event's EventData.
fn subject_fields(sid: String, user: String, logon_id: String) -> [(&'static str, String); 4] {
    [
        ("SubjectUserSid", sid),
        ("SubjectUserName", user),
        ("SubjectDomainName", "CORP".into()),
        ("SubjectLogonId", logon_id),
    ]
}

/// EventData fields as the writer takes them: owned names and values, in order.
fn owned(fields: Vec<(&str, String)>) -> Vec<(String, String)> {
    fields.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
}

/// The logon-attempt fields 4624 (`succeeded`) and 4625 share, in their
/// EventData order: logon type, authentication, and the network source. A
/// failed logon has no logon GUID, session key or calling process.
fn logon_attempt_fields(rng: &mut Rng, logon_type: &str, succeeded: bool) -> Vec<(&'static str, String)> {
    let network = logon_type == "3";
    let mut d = vec![
        ("LogonType", logon_type.to_string()),
        ("LogonProcessName", if network { "NtLmSsp " } else { "User32 " }.into()),
        ("AuthenticationPackageName", if network { "NTLM" } else { "Negotiate" }.into()),
        ("WorkstationName", format!("WS{:03}", rng.below(200))),
    ];
    if succeeded {
        d.push(("LogonGuid", rng.guid()));
    }
    let (lm_package, key_length) = if succeeded && network { ("NTLM V2", "128") } else { ("-", "0") };
    d.extend([
        ("TransmittedServices", "-".into()),
        ("LmPackageName", lm_package.into()),
        ("KeyLength", key_length.into()),
    ]);
    if succeeded {
        d.extend([
            ("ProcessId", format!("0x{:x}", rng.below(0xffff))),
            ("ProcessName", "C:\\Windows\\System32\\lsass.exe".into()),
        ]);
    } else {
        d.extend([("ProcessId", "0x0".into()), ("ProcessName", "-".into())]);
    }
    d.extend([("IpAddress", rng.ip()), ("IpPort", (49152 + rng.below(16000)).to_string())]);
    d
}

fn security(rng: &mut Rng, computer: &str) -> EventRecord {
    let user = rng.pick(USERS).to_string();
    // Logons are reported by the machine account (SYSTEM's logon session).
    let machine_account = format!("{}$", computer.split('.').next().unwrap_or("").to_uppercase());
    let machine_subject = subject_fields("S-1-5-18".into(), machine_account, "0x3e7".into());
    let sid = format!("S-1-5-21-3623811015-3361044348-30300820-{}", 1000 + rng.below(50));
    let logon_id = format!("0x{:x}", rng.next() & 0xff_ffff);
    let roll = rng.below(100);
    let (event_id, task, fields): (u32, u16, Vec<(&str, String)>) = if roll < 42 {
        let logon_type = ["2", "3", "3", "3", "10", "5"][rng.below(6) as usize];
        let mut d = machine_subject.to_vec();
        d.extend([
            ("TargetUserSid", sid),
            ("TargetUserName", user),
            ("TargetDomainName", "CORP".into()),
            ("TargetLogonId", logon_id),
        ]);
        d.extend(logon_attempt_fields(rng, logon_type, true));
        d.extend([
            ("ImpersonationLevel", "%%1833".into()),
            ("RestrictedAdminMode", "-".into()),
            ("TargetOutboundUserName", "-".into()),
            ("TargetOutboundDomainName", "-".into()),
            ("VirtualAccount", "%%1843".into()),
            ("TargetLinkedLogonId", "0x0".into()),
            ("ElevatedToken", "%%1842".into()),
        ]);
        (4624, 12544, d)
    } else if roll < 50 {
        let mut d = machine_subject.to_vec();
        d.extend([
            ("TargetUserSid", "S-1-0-0".into()),
            ("TargetUserName", user),
            ("TargetDomainName", "CORP".into()),
            ("Status", "0xc000006d".into()),
            ("FailureReason", "%%2313".into()),
            ("SubStatus", "0xc000006a".into()),
        ]);
        // Failed logons here are network (type 3) NTLM attempts.
        d.extend(logon_attempt_fields(rng, "3", false));
        (4625, 12544, d)
    } else if roll < 75 {
        let mut d = subject_fields(sid, user, logon_id).to_vec();
        d.push((
            "PrivilegeList",
            "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\tSeRestorePrivilege\r\n\t\t\t\
             SeTakeOwnershipPrivilege\r\n\t\t\tSeDebugPrivilege\r\n\t\t\tSeSystemEnvironmentPrivilege"
                .to_string(),
        ));
        (4672, 12548, d)
    } else {
        let image = rng.pick(IMAGES);
        let parent = rng.pick(IMAGES);
        let mut d = subject_fields(sid, user.clone(), logon_id).to_vec();
        d.extend([
            ("NewProcessId", format!("0x{:x}", rng.below(0xffff))),
            ("NewProcessName", image.into()),
            ("TokenElevationType", "%%1938".into()),
            ("ProcessId", format!("0x{:x}", rng.below(0xffff))),
            ("CommandLine", format!("\"{image}\" /c whoami /all & net user {user} /domain")),
            ("TargetUserSid", "S-1-0-0".into()),
            ("TargetUserName", "-".into()),
            ("TargetDomainName", "-".into()),
            ("TargetLogonId", "0x0".into()),
            ("ParentProcessName", parent.into()),
            ("MandatoryLabel", "S-1-16-8192".into()),
        ]);
        (4688, 13312, d)
    };
    let mut data = owned(fields);
    data.shrink_to_fit();
    EventRecord {
        channel: "Security".into(),
        provider: "Microsoft-Windows-Security-Auditing".into(),
        provider_guid: Some(SECURITY_GUID.into()),
        event_id,
        version: if event_id == 4624 { 2 } else { 0 },
        level: 0,
        task,
        opcode: 0,
        keywords: if event_id == 4625 { 0x8010_0000_0000_0000 } else { 0x8020_0000_0000_0000 },
        process_id: 636,
        thread_id: 1000 + rng.below(4000) as u32,
        computer: computer.into(),
        user_sid: None,
        data,
        ..EventRecord::default()
    }
}

/// The fields every Sysmon event opens with: rule, time and the process it is about.
fn sysmon_process_fields(rng: &mut Rng, utc: String, image: &str) -> Vec<(&'static str, String)> {
    vec![
        ("RuleName", "-".into()),
        ("UtcTime", utc),
        ("ProcessGuid", rng.guid()),
        ("ProcessId", rng.below(20000).to_string()),
        ("Image", image.into()),
    ]
}

fn sysmon(rng: &mut Rng, computer: &str, time: i64) -> EventRecord {
    let utc = chrono::DateTime::from_timestamp_nanos(time).format("%Y-%m-%d %H:%M:%S%.3f").to_string();
    let image = rng.pick(IMAGES);
    let user = format!("CORP\\{}", rng.pick(USERS));
    let roll = rng.below(10);
    let (event_id, task, fields): (u32, u16, Vec<(&str, String)>) = if roll < 5 {
        let parent = rng.pick(IMAGES);
        let mut d = sysmon_process_fields(rng, utc, image);
        d.extend([
            ("FileVersion", "10.0.19041.746 (WinBuild.160101.0800)".into()),
            ("Description", "Windows Command Processor".into()),
            ("Product", "Microsoft® Windows® Operating System".into()),
            ("Company", "Microsoft Corporation".into()),
            ("OriginalFileName", "Cmd.Exe".into()),
            ("CommandLine", format!("\"{image}\" -NoP -W Hidden -C \"IEX (New-Object Net.WebClient)\"")),
            ("CurrentDirectory", "C:\\Users\\Public\\".into()),
            ("User", user.clone()),
            ("LogonGuid", rng.guid()),
            ("LogonId", format!("0x{:x}", rng.next() & 0xffffff)),
            ("TerminalSessionId", "1".into()),
            ("IntegrityLevel", "High".into()),
            (
                "Hashes",
                format!(
                    "SHA1={:016X}{:016X}{:08X},MD5={:016X}{:016X}",
                    rng.next(),
                    rng.next(),
                    rng.next() as u32,
                    rng.next(),
                    rng.next()
                ),
            ),
            ("ParentProcessGuid", rng.guid()),
            ("ParentProcessId", rng.below(20000).to_string()),
            ("ParentImage", parent.into()),
            ("ParentCommandLine", format!("\"{parent}\"")),
            ("ParentUser", user),
        ]);
        (1, 1, d)
    } else if roll < 8 {
        let mut d = sysmon_process_fields(rng, utc, image);
        d.extend([
            ("User", user),
            ("Protocol", "tcp".into()),
            ("Initiated", "true".into()),
            ("SourceIsIpv6", "false".into()),
            ("SourceIp", rng.ip()),
            ("SourceHostname", computer.into()),
            ("SourcePort", (49152 + rng.below(16000)).to_string()),
            ("SourcePortName", "-".into()),
            ("DestinationIsIpv6", "false".into()),
            ("DestinationIp", format!("52.{}.{}.{}", rng.below(256), rng.below(256), rng.below(256))),
            ("DestinationHostname", "-".into()),
            ("DestinationPort", ["443", "80", "445", "3389"][rng.below(4) as usize].into()),
            ("DestinationPortName", "https".into()),
        ]);
        (3, 3, d)
    } else {
        let mut d = sysmon_process_fields(rng, utc.clone(), image);
        d.extend([
            ("TargetFilename", format!("C:\\Users\\Public\\Downloads\\payload{}.dll", rng.below(1000))),
            ("CreationUtcTime", utc),
            ("User", user),
        ]);
        (11, 11, d)
    };
    EventRecord {
        channel: "Microsoft-Windows-Sysmon/Operational".into(),
        provider: "Microsoft-Windows-Sysmon".into(),
        provider_guid: Some(SYSMON_GUID.into()),
        event_id,
        version: 5,
        level: 4,
        task,
        keywords: 0x8000_0000_0000_0000,
        process_id: 3000 + rng.below(100) as u32,
        thread_id: 4000 + rng.below(1000) as u32,
        computer: computer.into(),
        user_sid: Some("S-1-5-18".into()),
        data: owned(fields),
        ..EventRecord::default()
    }
}

fn powershell(rng: &mut Rng, computer: &str) -> EventRecord {
    let lines = 2 + rng.below(30);
    let mut script = String::new();
    for i in 0..lines {
        script.push_str(&format!(
            "$v{i} = Get-ChildItem -Path 'C:\\Users\\{}' -Recurse | Where-Object {{ $_.Length -gt {} }}\r\n",
            rng.pick(USERS),
            rng.below(100000)
        ));
    }
    EventRecord {
        channel: "Microsoft-Windows-PowerShell/Operational".into(),
        provider: "Microsoft-Windows-PowerShell".into(),
        provider_guid: Some(POWERSHELL_GUID.into()),
        event_id: 4104,
        version: 1,
        level: 5,
        task: 2,
        opcode: 15,
        keywords: 0,
        process_id: 5000 + rng.below(1000) as u32,
        thread_id: 6000 + rng.below(1000) as u32,
        computer: computer.into(),
        user_sid: Some(format!("S-1-5-21-3623811015-3361044348-30300820-{}", 1000 + rng.below(50))),
        data: vec![
            ("MessageNumber".into(), "1".into()),
            ("MessageTotal".into(), "1".into()),
            ("ScriptBlockText".into(), script),
            ("ScriptBlockId".into(), rng.guid()),
            ("Path".into(), String::new()),
        ],
        ..EventRecord::default()
    }
}
