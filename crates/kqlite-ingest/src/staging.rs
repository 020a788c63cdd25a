//! Staging: large inputs read on the fly (`kqlite query PATHS`, `kqlite
//! hunt PATHS`) go through a temporary Parquet store instead of memory.
//!
//! 1 GB of EVTX is several GB as in-memory Arrow rows; through a store,
//! queries stream the Parquet files and read only the columns they use, so
//! memory stays bounded whatever the input size.

use crate::error::IngestError;
use crate::options::IngestOptions;
use crate::store::{ingest_to_store, StoreRun};
use std::path::PathBuf;

/// Inputs larger than this (bytes on disk) are staged.
pub const STAGING_THRESHOLD_BYTES: u64 = 256 << 20;

/// The same when only what known queries read is kept (a hunt's rules,
/// see `IngestOptions::needs`): kept rows are a small part of the input
/// (measured by `bench/evtx_bench.py`: `kqlite hunt` over 1.08 GiB of EVTX,
/// 31% of its records kept, peaks under 600 MiB, most of it the findings).
pub const PRUNED_STAGING_THRESHOLD_BYTES: u64 = 2 << 30;

/// A temporary store directory, removed when dropped: keep it alive as
/// long as the session that reads it.
pub type StagingDir = tempfile::TempDir;

/// Whether `paths` are large enough to stage: more than
/// [`IngestOptions::staging_bytes`], by default [`STAGING_THRESHOLD_BYTES`]
/// (or [`PRUNED_STAGING_THRESHOLD_BYTES`] when only what known queries read
/// is kept, [`IngestOptions::needs`]).
pub fn should_stage(paths: &[PathBuf], options: &IngestOptions) -> bool {
    let default = if options.needs.is_some() { PRUNED_STAGING_THRESHOLD_BYTES } else { STAGING_THRESHOLD_BYTES };
    input_bytes(paths) > options.staging_bytes.unwrap_or(default)
}

/// Reads `paths` into a new temporary store (register it with
/// [`crate::store::register_store`]).
pub fn stage(paths: &[PathBuf], options: &IngestOptions) -> Result<(StagingDir, StoreRun), IngestError> {
    let staging = tempfile::Builder::new()
        .prefix(&format!("kqlite-staging-{}-", std::process::id()))
        .tempdir()
        .map_err(|source| IngestError::Staging { dir: std::env::temp_dir(), source })?;
    let run = ingest_to_store(paths, staging.path(), options)?;
    Ok((staging, run))
}

/// Bytes on disk under `paths` (files, directories walked; what cannot be
/// looked at counts nothing).
pub fn input_bytes(paths: &[PathBuf]) -> u64 {
    paths
        .iter()
        .flat_map(|path| walkdir::WalkDir::new(path).follow_links(true))
        .filter_map(Result::ok)
        .filter(|entry| !entry.file_type().is_dir())
        .filter_map(|entry| entry.metadata().ok())
        .map(|metadata| metadata.len())
        .sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_bytes_walks_directories_and_staging_dirs_clean_up() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/x.log"), vec![0u8; 100]).unwrap();
        std::fs::write(dir.path().join("a/b/y.log"), vec![0u8; 23]).unwrap();
        assert_eq!(input_bytes(&[dir.path().to_path_buf()]), 123);
        assert_eq!(input_bytes(&[dir.path().join("a/x.log"), dir.path().join("missing")]), 100);
        let (staging, run) = stage(&[dir.path().join("a")], &IngestOptions::default()).unwrap();
        assert_eq!(run.files.len(), 0, "zeros are no format kqlite reads");
        let path = staging.path().to_path_buf();
        assert!(path.is_dir());
        drop(staging);
        assert!(!path.exists());
    }
}
