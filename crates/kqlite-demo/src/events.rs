//! The events of each kind of remote logon, as the collectors record them:
//! the Security log (4624 logons, 5140/5145 share access), WinRM and Remote
//! Connection Manager events, Defender's `DeviceLogonEvents` rows and
//! sshd's auth.log lines.

use crate::organisation::{Generator, DOMAIN};
use kqlite_engine::types::NANOS_PER_SECOND;
use kqlite_ingest::evtx::logon_type_name;
use rand::seq::IndexedRandom;
use rand::Rng;
use serde_json::{json, Map, Value};

/// One Windows event: its System fields and its EventData, in order.
pub(crate) struct WinEvent {
    pub(crate) time: i64,
    pub(crate) host: usize,
    pub(crate) channel: &'static str,
    pub(crate) provider: &'static str,
    pub(crate) event_id: u32,
    pub(crate) data: Map<String, Value>,
}

/// A row of Defender's `DeviceLogonEvents` export, in its columns' order
/// ([`crate::files::DEVICE_LOGON_COLUMNS`]).
pub(crate) type DeviceLogonRow = [String; 18];

/// Defender's `LogonType` (`Network`): the name of ingest's
/// `LogonTypeName` (`3 - Network`), so both tables name a logon type alike.
fn defender_logon_type(logon_type: u32) -> String {
    let name = logon_type_name(i64::from(logon_type));
    match name.split_once(" - ") {
        Some((_, name)) => name.to_string(),
        None => name,
    }
}

pub(crate) fn iso(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

impl Generator {
    fn logon_id(&mut self) -> String {
        self.next_logon_id += self.rng.random_range(1..5000);
        format!("0x{:x}", self.next_logon_id)
    }

    pub(crate) fn security_event(&mut self, time: i64, host: usize, event_id: u32, data: Value) {
        let Value::Object(data) = data else { unreachable!("event data is a JSON object") };
        let (channel, provider) = ("Security", "Microsoft-Windows-Security-Auditing");
        self.windows_events.push(WinEvent { time, host, channel, provider, event_id, data });
    }

    pub(crate) fn windows_event(
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
    pub(crate) fn logon(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        logon_type: u32,
        source_ip: &str,
        source_name: &str,
    ) -> String {
        let logon_id = self.logon_id();
        let (process, package) = match logon_type {
            2 | 10 => ("C:\\Windows\\System32\\svchost.exe", "Negotiate"),
            3 => ("-", if self.rng.random_bool(0.8) { "Kerberos" } else { "NTLM" }),
            _ => ("-", "Negotiate"),
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
            let row = [
                iso(time),
                format!("{:040x}", host as u128 * 0x9e37_79b9_7f4a_7c15),
                format!("{}.contoso.local", self.hosts[host].name.to_ascii_lowercase()),
                "LogonSuccess".into(),
                defender_logon_type(logon_type),
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
            ];
            self.device_logons.push((time, row));
            self.next_report_id += 1;
        }
        logon_id
    }

    /// Admin-share access as file-share auditing logs it: 5140 for the share,
    /// 5145 for each object (file or pipe) checked.
    pub(crate) fn share_access(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        source_ip: &str,
        share: &str,
        objects: &[&str],
    ) {
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
    pub(crate) fn winrm_session(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        source_ip: &str,
        source_name: &str,
        shell: bool,
    ) {
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
    pub(crate) fn ssh_logon(&mut self, time: i64, host: usize, user: &str, source_ip: &str, method: &str) {
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

    pub(crate) fn syslog_line(&mut self, time: i64, host: usize, program: &str, message: &str) {
        let name = self.hosts[host].name.clone();
        let pid = self.rng.random_range(300..60000);
        self.auth_logs
            .entry(host)
            .or_default()
            .push((time, format!("{} {name} {program}[{pid}]: {message}", syslog_time(time))));
    }
}

fn syslog_time(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}
