//! The organisation: its hosts (workstations, Windows and Linux servers,
//! the infrastructure that logs on to them every day) and its people.

use crate::error::DemoError;
use crate::events::{DeviceLogonRow, WinEvent};
use crate::DemoOptions;
use kqlite_engine::types::NANOS_PER_HOUR;
use rand::rngs::StdRng;
use rand::seq::IndexedRandom;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, HashSet};

pub(crate) const DOMAIN: &str = "CONTOSO";

pub(crate) struct Host {
    pub(crate) name: String,
    pub(crate) ip: String,
    pub(crate) linux: bool,
    /// Defender for Endpoint is onboarded (its `DeviceLogonEvents` are exported).
    pub(crate) mde: bool,
    /// OpenSSH 9.8+ logs per-connection lines as `sshd-session`.
    pub(crate) sshd_session: bool,
}

pub(crate) struct Person {
    pub(crate) user: String,
    pub(crate) workstation: usize,
}

/// The generator's state: the organisation and the records written so far.
pub(crate) struct Generator {
    pub(crate) rng: StdRng,
    pub(crate) hosts: Vec<Host>,
    pub(crate) workstations: Vec<usize>,
    pub(crate) windows_servers: Vec<usize>,
    pub(crate) linux_servers: Vec<usize>,
    /// Windows events of every channel, written as EVTX or as Log Analytics JSON lines.
    pub(crate) windows_events: Vec<WinEvent>,
    pub(crate) device_logons: Vec<(i64, DeviceLogonRow)>,
    pub(crate) auth_logs: BTreeMap<usize, Vec<(i64, String)>>,
    pub(crate) next_logon_id: u64,
    /// Defender's ReportId, unique per device logon record.
    pub(crate) next_report_id: u64,
}

pub(crate) const FIRST_NAMES: &[&str] = &[
    "alice", "bob", "carol", "dave", "erin", "frank", "grace", "heidi", "ivan", "judy", "mallory", "niaj", "olivia",
    "peggy", "rupert", "sybil", "trent", "victor", "walter", "yasmin", "zoe", "omar", "priya", "chen", "fatima",
    "lars", "ines", "kofi", "mei", "tomas",
];
pub(crate) const LAST_NAMES: &[&str] = &[
    "smith", "jones", "garcia", "brown", "miller", "davis", "lopez", "wilson", "anderson", "thomas", "taylor", "moore",
    "martin", "lee", "perez", "white", "harris", "clark", "lewis", "walker", "hall", "young", "king", "wright",
    "scott", "green", "baker", "adams", "nelson", "hill",
];
pub(crate) const SERVER_ROLES: &[&str] = &["APP", "FS", "SQL", "WEB", "PRT", "EXCH", "RDS", "CA"];
pub(crate) const LINUX_ROLES: &[&str] = &["web", "db", "k8s", "log", "ci", "cache"];

pub(crate) const JUMP_HOSTS: [(&str, &str); 2] = [("JUMP-01", "10.20.255.10"), ("JUMP-02", "10.20.255.11")];
pub(crate) const BASTION: (&str, &str) = ("lnx-bastion-01", "10.30.255.10");
pub(crate) const SCANNER: (&str, &str) = ("SCAN-01", "10.50.0.10");
pub(crate) const SCCM: (&str, &str) = ("SCCM-01", "10.20.250.5");
pub(crate) const BACKUP: (&str, &str) = ("BACKUP-01", "10.20.250.6");
pub(crate) const MONITOR: (&str, &str) = ("MON-01", "10.20.250.7");
pub(crate) const ANSIBLE: (&str, &str) = ("lnx-ansible-01", "10.30.250.5");
pub(crate) const HELP_DESK_SUBNET: &str = "10.40.5";

impl Generator {
    pub(crate) fn new(options: &DemoOptions) -> Result<Generator, DemoError> {
        if options.hosts < 40 {
            return Err(DemoError::TooFewHosts(options.hosts));
        }
        if options.hosts > 5000 {
            return Err(DemoError::TooManyHosts(options.hosts));
        }
        if options.days < 2 {
            return Err(DemoError::TooFewDays(options.days));
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
        // Two thirds workstations, a tenth Linux, the rest Windows servers (infrastructure included):
        // at least two domain controllers and the ten member servers the intruder reaches.
        let linux = (options.hosts / 10).max(6);
        let windows_servers = (options.hosts * 22 / 100).max(infrastructure.len() + 12);
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

    pub(crate) fn host_named(&self, name: &str) -> usize {
        self.hosts.iter().position(|h| h.name == name).expect("infrastructure hosts are always generated")
    }

    /// A random time in `[from_hour, to_hour)` of the day starting at `day_start`.
    pub(crate) fn time_between(&mut self, day_start: i64, from_hour: i64, to_hour: i64) -> i64 {
        day_start + self.rng.random_range(from_hour * NANOS_PER_HOUR..to_hour * NANOS_PER_HOUR)
    }

    pub(crate) fn pick<T: Copy>(&mut self, items: &[T], count: usize) -> Vec<T> {
        items.choose_multiple(&mut self.rng, count.min(items.len())).copied().collect()
    }
}

/// `count` new unique names; a name already taken gets a number (`alice.smith2`),
/// as directories do, so any number of people can be named.
pub(crate) fn make_people(
    generator: &mut Generator,
    count: usize,
    prefix: &str,
    used: &mut HashSet<String>,
) -> Vec<String> {
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

#[cfg(test)]
mod tests {
    use super::*;

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
}
