//! How a run reads its inputs: the settings every entry point takes.

use std::sync::Arc;

/// How a run reads its inputs.
#[derive(Clone, Debug, Default)]
pub struct IngestOptions {
    /// Fail (after reading everything) when any record was rejected or any
    /// file could not be read.
    pub strict: bool,
    /// Draw a progress line on stderr (the caller decides: stderr is a terminal).
    pub progress: bool,
    /// Files read at the same time; 0 uses the number of CPUs.
    pub threads: usize,
    /// What the queries to run will read: EVTX records and columns no query
    /// reads are not kept (see [`crate::evtx::EvtxOptions::needs`]). For
    /// in-memory runs only: a store must hold everything.
    pub needs: Option<Arc<kqlite_engine::ScanNeeds>>,
    /// Extracted or decompressed content (zip members, gzip streams that
    /// must be read whole) larger than this many bytes goes to a temporary
    /// file rather than memory. `None`: [`crate::source::SPOOL_BYTES`]
    /// (64 MiB).
    pub spool_bytes: Option<u64>,
    /// Inputs larger than this many bytes on disk are read through a
    /// temporary store ([`crate::staging::should_stage`]); 0 stages
    /// everything. `None`: [`crate::staging::STAGING_THRESHOLD_BYTES`]
    /// (256 MiB), or [`crate::staging::PRUNED_STAGING_THRESHOLD_BYTES`]
    /// (2 GiB) when `needs` is set.
    pub staging_bytes: Option<u64>,
    /// Also make a WindowsEvent row of each Security-channel Windows event
    /// (EVTX, exported JSON); off, they are SecurityEvent rows only, as
    /// Sentinel's connectors store them (see
    /// [`crate::evtx::EvtxOptions::security_in_windows_event`]).
    pub security_in_windows_event: bool,
}

impl IngestOptions {
    /// [`IngestOptions::spool_bytes`], its default filled in.
    pub fn spool_limit(&self) -> u64 {
        self.spool_bytes.unwrap_or(crate::source::SPOOL_BYTES)
    }
}
