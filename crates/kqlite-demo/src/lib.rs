//! A generated environment to hunt in: a week of one organisation's remote
//! logons and remote administration, with one intruder among them.
//!
//! The organisation (domain `CONTOSO`) has user workstations, Windows
//! servers and Linux servers, and the people and tools that work remotely
//! every day: administrators (through jump hosts, with saved RDP
//! credentials, PowerShell remoting and scheduled tasks registered at their
//! consoles and in RDP sessions, and through a Linux bastion), the help desk
//! (runas on their own workstations, RDP to users' workstations from its
//! subnet), a vulnerability scanner (network logons, admin shares and SSH to
//! everything), Group Policy (scheduled tasks registered by SYSTEM) and
//! service accounts (backup at night and its agent's service installs, SCCM
//! client push over ADMIN$ and svcctl and remediation over WMI, WinRM and
//! PowerShell-remoting monitoring, Ansible over SSH). These are the
//! false-positive categories of the lateral-movement rules; the generated
//! tuning file and watchlists name them.
//!
//! On the last night, from a user's workstation, an intruder uses a stolen
//! administrator's account (presenting it with explicit credentials, 4648,
//! for each Windows hop) to move by SMB (ADMIN$ and svcctl, PsExec style),
//! RDP (and RDP over a local tunnel), WinRM, service execution with a
//! random service name, WMI process creation, a remote scheduled task, DCOM
//! (MMC20.Application), PowerShell remoting whose target-side logon has no
//! source address, and SSH.
//!
//! The telemetry is written as the collectors would: each Windows host's
//! Security, System, WinRM, PowerShell and Remote Connection Manager logs as
//! `.evtx` files (through `kqlite_ingest::evtx::writer`), or as a Log
//! Analytics export (`SecurityEvent.jsonl`, `WindowsEvent.jsonl`); Defender's
//! `DeviceLogonEvents` as an advanced-hunting CSV export; and each Linux
//! host's `/var/log/auth.log` as modern rsyslog writes it. Everything is
//! drawn from one seeded generator, so a seed always gives the same files.
//!
//! The crate is organised as the generation goes: `organisation` (hosts,
//! people, the infrastructure), `events` (each kind of event as the
//! collectors record it), `scenario` (the week's timeline and the
//! intrusion), `files` (the logs, tuning file and watchlists written),
//! [`summary`] (what was generated and planted, and the check of findings
//! against it) and [`hunt`] (the hunt over the generated logs).

mod error;
mod events;
mod files;
mod organisation;
mod scenario;

pub mod hunt;
pub mod summary;

pub use error::DemoError;
pub use hunt::{hunt, hunt_reading, rule_pack, DemoHunt};
pub use scenario::{generate, MARKER_FILE};
pub use summary::{same_host, DemoSummary, Intrusion, Verdict};

use kqlite_engine::types::NANOS_PER_SECOND;

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
