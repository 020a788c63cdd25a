//! The events of each kind of remote logon and of what follows it, as the
//! collectors record them: the Security log (4624 logons, 4672 special
//! privileges, 4648 explicit credentials, 5140/5145 share access, 4688
//! process creation, 4697 service installs, 4698/4699 scheduled tasks), the
//! System log's 7045, WinRM and Remote Connection Manager events,
//! Defender's `DeviceLogonEvents` rows and sshd's auth.log lines.

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
    /// The System `Security UserID` some providers record (the Service
    /// Control Manager names the account that installed a service).
    pub(crate) user_sid: Option<String>,
    pub(crate) data: Map<String, Value>,
}

/// What a 5145 records of an object checked on a share: its access mask
/// and the access list Windows renders for it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ShareAccess {
    /// Reading a file (ReadData, ReadEA, ReadAttributes, READ_CONTROL, SYNCHRONIZE).
    Read,
    /// Writing a file (WriteData): a copy onto the share.
    Write,
    /// Opening a named pipe on IPC$ for reading and writing (svcctl, atsvc, winreg).
    Pipe,
}

impl ShareAccess {
    fn mask_and_list(self) -> (&'static str, &'static str) {
        match self {
            ShareAccess::Read => ("0x120089", "%%1538\r\n\t\t\t\t%%1541\r\n\t\t\t\t%%4416\r\n\t\t\t\t%%4419\r\n\t\t\t\t%%4423\r\n\t\t\t\t"),
            ShareAccess::Write => ("0x2", "%%4417\r\n\t\t\t\t"),
            ShareAccess::Pipe => ("0x12019f", "%%1538\r\n\t\t\t\t%%1541\r\n\t\t\t\t%%4416\r\n\t\t\t\t%%4417\r\n\t\t\t\t%%4418\r\n\t\t\t\t%%4419\r\n\t\t\t\t%%4420\r\n\t\t\t\t%%4423\r\n\t\t\t\t%%4424\r\n\t\t\t\t"),
        }
    }
}

/// A domain account's SID: stable per name, as the directory would give it.
pub(crate) fn user_sid(user: &str) -> String {
    format!("S-1-5-21-3623811015-3361044348-30300820-{}", 1000 + user.len() * 37 % 900)
}

/// The process a service account or an administrator runs remotely, as a
/// 4688 records it (see [`Generator::process_created`]).
pub(crate) struct NewProcess<'a> {
    pub(crate) image: &'a str,
    pub(crate) parent: &'a str,
    pub(crate) command_line: &'a str,
}

/// A service install, as 4697 and 7045 record it.
pub(crate) struct NewService<'a> {
    pub(crate) name: &'a str,
    pub(crate) image_path: &'a str,
    /// `true`: auto start (an agent); `false`: demand start (PsExec style).
    pub(crate) auto_start: bool,
}

/// A scheduled task registered (4698): its path and its one Exec action.
pub(crate) struct NewTask<'a> {
    pub(crate) name: &'a str,
    pub(crate) command: &'a str,
    pub(crate) arguments: &'a str,
    /// The principal it runs as (`SYSTEM`, or `CONTOSO\\user`).
    pub(crate) run_as: &'a str,
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
        self.windows_events.push(WinEvent { time, host, channel, provider, event_id, user_sid: None, data });
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
        self.windows_events.push(WinEvent { time, host, channel, provider, event_id, user_sid: None, data });
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
        self.logon_recording_source(time, host, user, logon_type, source_ip, source_name, true)
    }

    /// [`Generator::logon`], where `recorded: false` is a logon whose 4624
    /// has no source (`IpAddress` and `WorkstationName` `-`, as WinRM's
    /// often do) while Defender, which sees the connection itself, still
    /// names `source_ip`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn logon_recording_source(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        logon_type: u32,
        source_ip: &str,
        source_name: &str,
        recorded: bool,
    ) -> String {
        let defender_ip = source_ip;
        let (source_ip, source_name) = if recorded { (source_ip, source_name) } else { ("-", "-") };
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
            "TargetUserSid": user_sid(user),
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
        // A network logon ends when its request is served (the 4634 no rule
        // reads, as most of a real Security log is). A fixed delay keeps the
        // generator's random sequence, and so each seed's environment, as it was.
        if logon_type == 3 {
            let logoff = json!({
                "TargetUserSid": user_sid(user),
                "TargetUserName": user,
                "TargetDomainName": DOMAIN,
                "TargetLogonId": logon_id,
                "LogonType": "3",
            });
            self.security_event(time + 2 * NANOS_PER_SECOND, host, 4634, logoff);
        }
        // Administrators and the service accounts are local administrators everywhere they log on.
        if is_privileged(user) {
            let privileges = json!({
                "SubjectUserSid": user_sid(user),
                "SubjectUserName": user,
                "SubjectDomainName": DOMAIN,
                "SubjectLogonId": logon_id,
                "PrivilegeList": "SeSecurityPrivilege\r\n\t\t\tSeBackupPrivilege\r\n\t\t\tSeRestorePrivilege\r\n\t\t\tSeTakeOwnershipPrivilege\r\n\t\t\tSeDebugPrivilege\r\n\t\t\tSeSystemEnvironmentPrivilege\r\n\t\t\tSeLoadDriverPrivilege\r\n\t\t\tSeImpersonatePrivilege\r\n\t\t\tSeDelegateSessionUserImpersonatePrivilege",
            });
            self.security_event(time, host, 4672, privileges);
        }
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
            let remote_ip = if logon_type == 2 { String::new() } else { defender_ip.to_string() };
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
                user_sid(user),
                if logon_type == 3 { package.into() } else { "Negotiate".into() },
                String::new(),
                is_privileged(user).to_string(),
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

    /// Share access as file-share auditing logs it, in the logon session
    /// `logon_id`: 5140 for the share, 5145 for each object (file or pipe)
    /// checked, with the access asked for.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn share_access(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        logon_id: &str,
        source_ip: &str,
        share: &str,
        objects: &[(&str, ShareAccess)],
    ) {
        let local_path = match share {
            "ADMIN$" => "\\??\\C:\\Windows",
            "C$" => "\\??\\C:\\",
            _ => "",
        };
        let base = json!({
            "SubjectUserSid": user_sid(user),
            "SubjectUserName": user,
            "SubjectDomainName": DOMAIN,
            "SubjectLogonId": logon_id,
            "ObjectType": "File",
            "IpAddress": source_ip,
            "IpPort": self.rng.random_range(49152..65535).to_string(),
            "ShareName": format!("\\\\*\\{share}"),
            "ShareLocalPath": local_path,
            "AccessMask": "0x1",
            "AccessList": "%%4416\r\n\t\t\t\t",
        });
        self.security_event(time, host, 5140, base.clone());
        let Value::Object(base) = base else { unreachable!() };
        for (i, (object, access)) in objects.iter().enumerate() {
            let (mask, list) = access.mask_and_list();
            let mut fields = base.clone();
            fields.insert("RelativeTargetName".into(), json!(object));
            fields.insert("AccessMask".into(), json!(mask));
            fields.insert("AccessList".into(), json!(list));
            fields.insert("AccessReason".into(), json!("-"));
            self.security_event(time + (i as i64 + 1) * NANOS_PER_SECOND, host, 5145, Value::Object(fields));
        }
    }

    /// A process created on `host` (4688, Windows 10's version 2 with the
    /// parent's name), in the logon session `logon_id` of `user`: the
    /// session is both the creator's (`SubjectLogonId`) and the new
    /// process's (`TargetLogonId`), so it links to the 4624 either way.
    pub(crate) fn process_created(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        logon_id: &str,
        process: &NewProcess<'_>,
    ) {
        let system = user == "SYSTEM";
        let (sid, name) = if system {
            ("S-1-5-18".to_string(), format!("{}$", self.hosts[host].name))
        } else {
            (user_sid(user), user.to_string())
        };
        let fields = json!({
            "SubjectUserSid": sid,
            "SubjectUserName": name,
            "SubjectDomainName": DOMAIN,
            "SubjectLogonId": logon_id,
            "NewProcessId": format!("0x{:x}", self.rng.random_range(0x200..0x3000) * 4),
            "NewProcessName": process.image,
            "TokenElevationType": if system { "%%1936" } else { "%%1937" },
            "ProcessId": format!("0x{:x}", self.rng.random_range(0x200..0x3000) * 4),
            "CommandLine": process.command_line,
            "TargetUserSid": sid,
            "TargetUserName": name,
            "TargetDomainName": DOMAIN,
            "TargetLogonId": logon_id,
            "ParentProcessName": process.parent,
            "MandatoryLabel": if system { "S-1-16-16384" } else { "S-1-16-12288" },
        });
        self.security_event(time, host, 4688, fields);
    }

    /// A service pushed to `host` over SMB as PsExec and deployment tools do
    /// it, in the session `logon_id`: `binary` written to ADMIN$, svcctl
    /// opened on IPC$, then `service` installed; `after` holds the seconds
    /// after `time` of the pipe and of the install.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn pushed_service(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        logon_id: &str,
        source_ip: &str,
        binary: &str,
        service: &NewService<'_>,
        after: [i64; 2],
    ) {
        let copy = [(binary, ShareAccess::Write)];
        self.share_access(time + NANOS_PER_SECOND, host, user, logon_id, source_ip, "ADMIN$", &copy);
        let pipe = [("svcctl", ShareAccess::Pipe)];
        self.share_access(time + after[0] * NANOS_PER_SECOND, host, user, logon_id, source_ip, "IPC$", &pipe);
        self.service_installed(time + after[1] * NANOS_PER_SECOND, host, user, logon_id, service);
    }

    /// A service installed on `host` by `user` in the session `logon_id`:
    /// Security 4697 and the Service Control Manager's 7045 in the System log.
    pub(crate) fn service_installed(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        logon_id: &str,
        service: &NewService<'_>,
    ) {
        let fields = json!({
            "SubjectUserSid": user_sid(user),
            "SubjectUserName": user,
            "SubjectDomainName": DOMAIN,
            "SubjectLogonId": logon_id,
            "ServiceName": service.name,
            "ServiceFileName": service.image_path,
            "ServiceType": "0x10",
            "ServiceStartType": if service.auto_start { "2" } else { "3" },
            "ServiceAccount": "LocalSystem",
        });
        self.security_event(time, host, 4697, fields);
        let data = json!({
            "ServiceName": service.name,
            "ImagePath": service.image_path,
            "ServiceType": "user mode service",
            "StartType": if service.auto_start { "auto start" } else { "demand start" },
            "AccountName": "LocalSystem",
        });
        let Value::Object(data) = data else { unreachable!("event data is a JSON object") };
        self.windows_events.push(WinEvent {
            time,
            host,
            channel: "System",
            provider: "Service Control Manager",
            event_id: 7045,
            user_sid: Some(user_sid(user)),
            data,
        });
    }

    /// A scheduled task registered (4698) by `user` in the session
    /// `logon_id` (`SYSTEM` with `0x3e7` for the machine's own: Group Policy),
    /// with its definition as Task Scheduler writes it.
    pub(crate) fn task_registered(&mut self, time: i64, host: usize, user: &str, logon_id: &str, task: &NewTask<'_>) {
        let system = user == "SYSTEM";
        let (sid, name) = if system {
            ("S-1-5-18".to_string(), format!("{}$", self.hosts[host].name))
        } else {
            (user_sid(user), user.to_string())
        };
        let author = if system { "NT AUTHORITY\\SYSTEM".to_string() } else { format!("{DOMAIN}\\{user}") };
        let start = chrono::DateTime::from_timestamp_nanos(time + 60 * NANOS_PER_SECOND).format("%Y-%m-%dT%H:%M:%S");
        let date = chrono::DateTime::from_timestamp_nanos(time).format("%Y-%m-%dT%H:%M:%S%.3f");
        let content = format!(
            "<?xml version=\"1.0\" encoding=\"UTF-16\"?>\r\n\
             <Task version=\"1.2\" xmlns=\"http://schemas.microsoft.com/windows/2004/02/mit/task\">\r\n\
             \x20 <RegistrationInfo>\r\n\
             \x20   <Date>{date}</Date>\r\n\
             \x20   <Author>{author}</Author>\r\n\
             \x20   <URI>{uri}</URI>\r\n\
             \x20 </RegistrationInfo>\r\n\
             \x20 <Triggers>\r\n\
             \x20   <TimeTrigger>\r\n\
             \x20     <StartBoundary>{start}</StartBoundary>\r\n\
             \x20     <Enabled>true</Enabled>\r\n\
             \x20   </TimeTrigger>\r\n\
             \x20 </Triggers>\r\n\
             \x20 <Principals>\r\n\
             \x20   <Principal id=\"Author\">\r\n\
             \x20     <UserId>{run_as}</UserId>\r\n\
             \x20     <RunLevel>HighestAvailable</RunLevel>\r\n\
             \x20   </Principal>\r\n\
             \x20 </Principals>\r\n\
             \x20 <Settings>\r\n\
             \x20   <MultipleInstancesPolicy>IgnoreNew</MultipleInstancesPolicy>\r\n\
             \x20   <Enabled>true</Enabled>\r\n\
             \x20   <ExecutionTimeLimit>PT72H</ExecutionTimeLimit>\r\n\
             \x20 </Settings>\r\n\
             \x20 <Actions Context=\"Author\">\r\n\
             \x20   <Exec>\r\n\
             \x20     <Command>{command}</Command>\r\n\
             \x20     <Arguments>{arguments}</Arguments>\r\n\
             \x20   </Exec>\r\n\
             \x20 </Actions>\r\n\
             </Task>",
            uri = xml_text(task.name),
            run_as = xml_text(task.run_as),
            command = xml_text(task.command),
            arguments = xml_text(task.arguments),
        );
        let fields = json!({
            "SubjectUserSid": sid,
            "SubjectUserName": name,
            "SubjectDomainName": DOMAIN,
            "SubjectLogonId": logon_id,
            "TaskName": task.name,
            "TaskContent": content,
        });
        self.security_event(time, host, 4698, fields);
    }

    /// A scheduled task deleted (4699), as tools that run a command through
    /// a task do once it ran.
    pub(crate) fn task_deleted(&mut self, time: i64, host: usize, user: &str, logon_id: &str, task_name: &str) {
        let fields = json!({
            "SubjectUserSid": user_sid(user),
            "SubjectUserName": user,
            "SubjectDomainName": DOMAIN,
            "SubjectLogonId": logon_id,
            "TaskName": task_name,
            "TaskContent": "",
        });
        self.security_event(time, host, 4699, fields);
    }

    /// A logon with explicit credentials (4648) on `host`, the machine the
    /// credentials are used from: `subject` (in its session
    /// `subject_logon_id`) presents `target_user`'s credentials to
    /// `target_server` for the service principal `target_info`.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn explicit_credentials(
        &mut self,
        time: i64,
        host: usize,
        subject: &str,
        subject_logon_id: &str,
        target_user: &str,
        target_server: &str,
        target_info: &str,
        process_name: &str,
    ) {
        let guid = |rng: &mut rand::rngs::StdRng| {
            format!(
                "{{{:08x}-{:04x}-{:04x}-{:04x}-{:012x}}}",
                rng.random::<u32>(),
                rng.random::<u16>(),
                rng.random::<u16>(),
                rng.random::<u16>(),
                rng.random::<u64>() & 0xffff_ffff_ffff
            )
        };
        let fields = json!({
            "SubjectUserSid": user_sid(subject),
            "SubjectUserName": subject,
            "SubjectDomainName": DOMAIN,
            "SubjectLogonId": subject_logon_id,
            "LogonGuid": guid(&mut self.rng),
            "TargetUserName": target_user,
            "TargetDomainName": DOMAIN,
            "TargetLogonGuid": guid(&mut self.rng),
            "TargetServerName": target_server,
            "TargetInfo": target_info,
            "ProcessId": format!("0x{:x}", self.rng.random_range(0x200..0x3000) * 4),
            "ProcessName": process_name,
            "IpAddress": "-",
            "IpPort": "-",
        });
        self.security_event(time, host, 4648, fields);
    }

    /// A WinRM session: the network logon, then WinRM's 169 (authenticated)
    /// and, for a PowerShell remoting shell, 91 and the session's host
    /// process `wsmprovhost.exe` (4688) in the logon's session. Returns the
    /// logon id.
    pub(crate) fn winrm_session(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        source_ip: &str,
        source_name: &str,
        shell: bool,
    ) -> String {
        self.winrm_session_recording_source(time, host, user, source_ip, source_name, shell, true)
    }

    /// [`Generator::winrm_session`] whose 4624 may record no source
    /// ([`Generator::logon_recording_source`]).
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn winrm_session_recording_source(
        &mut self,
        time: i64,
        host: usize,
        user: &str,
        source_ip: &str,
        source_name: &str,
        shell: bool,
        recorded: bool,
    ) -> String {
        let logon_id = self.logon_recording_source(time, host, user, 3, source_ip, source_name, recorded);
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
            let process = NewProcess {
                image: "C:\\Windows\\System32\\wsmprovhost.exe",
                parent: "C:\\Windows\\System32\\svchost.exe",
                command_line: "C:\\Windows\\system32\\wsmprovhost.exe -Embedding",
            };
            self.process_created(time + 3 * NANOS_PER_SECOND, host, user, &logon_id, &process);
        }
        logon_id
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

/// Administrators (`admin-…`) and the service accounts (`svc-…`): local
/// administrators on the hosts they manage, so their logons get a 4672.
pub(crate) fn is_privileged(user: &str) -> bool {
    user.starts_with("admin-") || user.starts_with("svc-")
}

/// `text` escaped as XML character data (a task definition's values).
fn xml_text(text: &str) -> String {
    text.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;")
}

fn syslog_time(nanos: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(nanos).format("%Y-%m-%dT%H:%M:%S%.6f+00:00").to_string()
}
