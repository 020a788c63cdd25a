//! The columns Sentinel computes for `SecurityEvent` rows.

/// Microsoft's titles of Security-log events (the "Audit …" reference pages).
const DESCRIPTIONS: &[(i32, &str)] = &[
    (1100, "The event logging service has shut down."),
    (1102, "The audit log was cleared."),
    (1104, "The security log is now full."),
    (4608, "Windows is starting up."),
    (4610, "An authentication package has been loaded by the Local Security Authority."),
    (4611, "A trusted logon process has been registered with the Local Security Authority."),
    (4614, "A notification package has been loaded by the Security Account Manager."),
    (4616, "The system time was changed."),
    (4622, "A security package has been loaded by the Local Security Authority."),
    (4624, "An account was successfully logged on."),
    (4625, "An account failed to log on."),
    (4627, "Group membership information."),
    (4634, "An account was logged off."),
    (4647, "User initiated logoff."),
    (4648, "A logon was attempted using explicit credentials."),
    (4656, "A handle to an object was requested."),
    (4657, "A registry value was modified."),
    (4658, "The handle to an object was closed."),
    (4660, "An object was deleted."),
    (4661, "A handle to an object was requested."),
    (4662, "An operation was performed on an object."),
    (4663, "An attempt was made to access an object."),
    (4664, "An attempt was made to create a hard link."),
    (4670, "Permissions on an object were changed."),
    (4672, "Special privileges assigned to new logon."),
    (4673, "A privileged service was called."),
    (4674, "An operation was attempted on a privileged object."),
    (4688, "A new process has been created."),
    (4689, "A process has exited."),
    (4690, "An attempt was made to duplicate a handle to an object."),
    (4696, "A primary token was assigned to process."),
    (4697, "A service was installed in the system."),
    (4698, "A scheduled task was created."),
    (4699, "A scheduled task was deleted."),
    (4700, "A scheduled task was enabled."),
    (4701, "A scheduled task was disabled."),
    (4702, "A scheduled task was updated."),
    (4703, "A user right was adjusted."),
    (4704, "A user right was assigned."),
    (4705, "A user right was removed."),
    (4706, "A new trust was created to a domain."),
    (4707, "A trust to a domain was removed."),
    (4713, "Kerberos policy was changed."),
    (4715, "The audit policy (SACL) on an object was changed."),
    (4716, "Trusted domain information was modified."),
    (4717, "System security access was granted to an account."),
    (4718, "System security access was removed from an account."),
    (4719, "System audit policy was changed."),
    (4720, "A user account was created."),
    (4722, "A user account was enabled."),
    (4723, "An attempt was made to change an account's password."),
    (4724, "An attempt was made to reset an account's password."),
    (4725, "A user account was disabled."),
    (4726, "A user account was deleted."),
    (4727, "A security-enabled global group was created."),
    (4728, "A member was added to a security-enabled global group."),
    (4729, "A member was removed from a security-enabled global group."),
    (4730, "A security-enabled global group was deleted."),
    (4731, "A security-enabled local group was created."),
    (4732, "A member was added to a security-enabled local group."),
    (4733, "A member was removed from a security-enabled local group."),
    (4734, "A security-enabled local group was deleted."),
    (4735, "A security-enabled local group was changed."),
    (4737, "A security-enabled global group was changed."),
    (4738, "A user account was changed."),
    (4739, "Domain Policy was changed."),
    (4740, "A user account was locked out."),
    (4741, "A computer account was created."),
    (4742, "A computer account was changed."),
    (4743, "A computer account was deleted."),
    (4754, "A security-enabled universal group was created."),
    (4755, "A security-enabled universal group was changed."),
    (4756, "A member was added to a security-enabled universal group."),
    (4757, "A member was removed from a security-enabled universal group."),
    (4758, "A security-enabled universal group was deleted."),
    (4764, "A group's type was changed."),
    (4765, "SID History was added to an account."),
    (4766, "An attempt to add SID History to an account failed."),
    (4767, "A user account was unlocked."),
    (4768, "A Kerberos authentication ticket (TGT) was requested."),
    (4769, "A Kerberos service ticket was requested."),
    (4770, "A Kerberos service ticket was renewed."),
    (4771, "Kerberos pre-authentication failed."),
    (4776, "The domain controller attempted to validate the credentials for an account."),
    (4778, "A session was reconnected to a Window Station."),
    (4779, "A session was disconnected from a Window Station."),
    (4781, "The name of an account was changed."),
    (4794, "An attempt was made to set the Directory Services Restore Mode administrator password."),
    (4798, "A user's local group membership was enumerated."),
    (4799, "A security-enabled local group membership was enumerated."),
    (4800, "The workstation was locked."),
    (4801, "The workstation was unlocked."),
    (4825, "A user was denied the access to Remote Desktop."),
    (4826, "Boot Configuration Data loaded."),
    (4902, "The Per-user audit policy table was created."),
    (4904, "An attempt was made to register a security event source."),
    (4905, "An attempt was made to unregister a security event source."),
    (4907, "Auditing settings on object were changed."),
    (4946, "A change has been made to Windows Firewall exception list. A rule was added."),
    (4964, "Special groups have been assigned to a new logon."),
    (5024, "The Windows Firewall Service has started successfully."),
    (5033, "The Windows Firewall Driver has started successfully."),
    (5058, "Key file operation."),
    (5059, "Key migration operation."),
    (5061, "Cryptographic operation."),
    (5136, "A directory service object was modified."),
    (5137, "A directory service object was created."),
    (5138, "A directory service object was undeleted."),
    (5139, "A directory service object was moved."),
    (5140, "A network share object was accessed."),
    (5141, "A directory service object was deleted."),
    (5142, "A network share object was added."),
    (5143, "A network share object was modified."),
    (5144, "A network share object was deleted."),
    (5145, "A network share object was checked to see whether client can be granted desired access."),
    (5152, "The Windows Filtering Platform blocked a packet."),
    (5154, "The Windows Filtering Platform has permitted an application or service to listen on a port for incoming connections."),
    (5156, "The Windows Filtering Platform has permitted a connection."),
    (5157, "The Windows Filtering Platform has blocked a connection."),
    (5158, "The Windows Filtering Platform has permitted a bind to a local port."),
    (5379, "Credential Manager credentials were read."),
    (5381, "Vault credentials were read."),
    (5382, "Vault credentials were read."),
];

/// The event's description, for the `Activity` column.
pub fn description(event_id: i32) -> Option<&'static str> {
    DESCRIPTIONS.binary_search_by_key(&event_id, |(id, _)| *id).ok().map(|i| DESCRIPTIONS[i].1)
}

/// `Activity`: `"4624 - An account was successfully logged on."`, or just the
/// ID for events without a known description.
pub fn activity(event_id: i32) -> String {
    match description(event_id) {
        Some(d) => format!("{event_id} - {d}"),
        None => event_id.to_string(),
    }
}

/// `LogonTypeName`: `"10 - RemoteInteractive"`, or just the number.
pub fn logon_type_name(logon_type: i64) -> String {
    let name = match logon_type {
        0 => "System",
        2 => "Interactive",
        3 => "Network",
        4 => "Batch",
        5 => "Service",
        7 => "Unlock",
        8 => "NetworkCleartext",
        9 => "NewCredentials",
        10 => "RemoteInteractive",
        11 => "CachedInteractive",
        12 => "CachedRemoteInteractive",
        13 => "CachedUnlock",
        _ => return logon_type.to_string(),
    };
    format!("{logon_type} - {name}")
}

/// `DOMAIN\user` into `out` (cleared first, its room reused); empty when
/// both parts are missing.
pub fn write_qualified_account(out: &mut String, domain: Option<&str>, user: Option<&str>) {
    out.clear();
    let (domain, user) = (domain.unwrap_or(""), user.unwrap_or(""));
    if !domain.is_empty() || !user.is_empty() {
        out.push_str(domain);
        out.push('\\');
        out.push_str(user);
    }
}

/// `"Machine"` for computer accounts (`NAME$`) and the built-in service SIDs,
/// `"User"` otherwise.
pub fn account_type(user: &str, sid: Option<&str>) -> &'static str {
    if user.ends_with('$') || matches!(sid, Some("S-1-5-18" | "S-1-5-19" | "S-1-5-20")) {
        "Machine"
    } else {
        "User"
    }
}

/// The file name of a Windows path (`C:\Windows\System32\cmd.exe` → `cmd.exe`).
pub fn file_name(path: &str) -> &str {
    path.rsplit(['\\', '/']).next().unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_are_sorted_and_unique() {
        assert!(DESCRIPTIONS.windows(2).all(|w| w[0].0 < w[1].0));
        assert_eq!(activity(4624), "4624 - An account was successfully logged on.");
        assert_eq!(activity(1102), "1102 - The audit log was cleared.");
        assert_eq!(activity(4999), "4999");
        for id in [
            4624, 4625, 4634, 4647, 4648, 4672, 4688, 4689, 4697, 4698, 4699, 4700, 4701, 4702, 4719, 4720, 4722, 4723,
            4724, 4725, 4726, 4728, 4732, 4738, 4740, 4756, 4768, 4769, 4771, 4776, 4778, 4779, 5140, 5145, 5156, 1102,
            4657, 4663, 4656, 4673, 4674, 4703, 4798, 4799, 5136, 5137, 5141,
        ] {
            assert!(description(id).is_some(), "{id}");
        }
    }

    #[test]
    fn computed_helpers() {
        assert_eq!(logon_type_name(10), "10 - RemoteInteractive");
        assert_eq!(logon_type_name(42), "42");
        let qualified = |domain, user| {
            let mut out = "left over".to_string();
            write_qualified_account(&mut out, domain, user);
            out
        };
        assert_eq!(qualified(Some("CORP"), Some("bob")), "CORP\\bob");
        assert_eq!(qualified(Some(""), Some("bob")), "\\bob");
        assert_eq!(qualified(None, None), "");
        assert_eq!(account_type("DC01$", None), "Machine");
        assert_eq!(account_type("SYSTEM", Some("S-1-5-18")), "Machine");
        assert_eq!(account_type("bob", Some("S-1-5-21-1-2-3-1001")), "User");
        assert_eq!(file_name("C:\\Windows\\System32\\cmd.exe"), "cmd.exe");
        assert_eq!(file_name("cmd.exe"), "cmd.exe");
    }
}
