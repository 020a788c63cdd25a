//! Helpers the ingest crate's integration tests share. Each test file uses
//! only some.
#![allow(dead_code)]

use kqlite_ingest::evtx::writer::EventRecord;

/// A Security 4624 (successful logon) record from `dc1.corp.local`: the
/// audit provider, version, task and keywords Windows writes; time, record
/// id and event data left for the test to set.
pub fn security_logon() -> EventRecord {
    EventRecord {
        channel: "Security".into(),
        provider: "Microsoft-Windows-Security-Auditing".into(),
        event_id: 4624,
        version: 2,
        task: 12544,
        keywords: 0x8020_0000_0000_0000,
        computer: "dc1.corp.local".into(),
        ..EventRecord::default()
    }
}
