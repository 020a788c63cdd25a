//! Staging: large inputs read on the fly (`kqlite query PATHS`, `kqlite
//! hunt PATHS`) go through a temporary Parquet store instead of memory.
//!
//! 1 GB of EVTX is several GB as in-memory Arrow rows; through a store,
//! queries stream the Parquet files and read only the columns they use, so
//! memory stays bounded whatever the input size.

use crate::pipeline::IngestOptions;
use crate::store::{ingest_to_store, StoreRun};
use std::path::{Path, PathBuf};

/// Inputs larger than this (bytes on disk) are staged.
pub const STAGING_THRESHOLD_BYTES: u64 = 256 << 20;

/// The same when only what known queries read is kept (a hunt's rules,
/// see `IngestOptions::needs`): kept rows are a small part of the input
/// (measured by `bench/evtx_bench.py`: `kqlite hunt` over 1.08 GiB of EVTX,
/// 31% of its records kept, peaks under 600 MiB, most of it the findings).
pub const PRUNED_STAGING_THRESHOLD_BYTES: u64 = 2 << 30;

/// A temporary store directory, removed when dropped: keep it alive as
/// long as the session that reads it.
#[derive(Debug)]
pub struct StagingDir(PathBuf);

impl StagingDir {
    pub fn create() -> Result<StagingDir, String> {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static N: AtomicUsize = AtomicUsize::new(0);
        let path = std::env::temp_dir().join(format!(
            "kqlite-staging-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| format!("cannot create a staging store in {}: {e}", path.display()))?;
        Ok(StagingDir(path))
    }

    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for StagingDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Whether `paths` are large enough to stage: more than
/// [`STAGING_THRESHOLD_BYTES`], or than `KQLITE_STAGING_BYTES` when that
/// environment variable is set (0 stages everything).
pub fn should_stage(paths: &[PathBuf], pruned: bool) -> bool {
    let threshold = std::env::var("KQLITE_STAGING_BYTES")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(if pruned { PRUNED_STAGING_THRESHOLD_BYTES } else { STAGING_THRESHOLD_BYTES });
    input_bytes(paths) > threshold
}

/// Reads `paths` into a new temporary store (register it with
/// [`crate::pipeline::register_store`]).
pub fn stage(paths: &[PathBuf], options: &IngestOptions) -> Result<(StagingDir, StoreRun), String> {
    let staging = StagingDir::create()?;
    let run = ingest_to_store(paths, staging.path(), options)?;
    release_free_memory();
    Ok((staging, run))
}

/// Hands memory freed by ingestion back to the system: glibc keeps freed
/// heap in its arenas, which would add the ingest's peak to the queries'.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only releases free heap pages; it has no preconditions.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// Bytes on disk under `paths` (files, directories walked).
pub fn input_bytes(paths: &[PathBuf]) -> u64 {
    fn walk(path: &Path) -> u64 {
        match std::fs::metadata(path) {
            Ok(m) if m.is_dir() => {
                std::fs::read_dir(path).map(|entries| entries.flatten().map(|e| walk(&e.path())).sum()).unwrap_or(0)
            }
            Ok(m) => m.len(),
            Err(_) => 0,
        }
    }
    paths.iter().map(|p| walk(p)).sum()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn input_bytes_walks_directories_and_staging_dirs_clean_up() {
        let dir = StagingDir::create().unwrap();
        std::fs::create_dir_all(dir.path().join("a/b")).unwrap();
        std::fs::write(dir.path().join("a/x.log"), vec![0u8; 100]).unwrap();
        std::fs::write(dir.path().join("a/b/y.log"), vec![0u8; 23]).unwrap();
        assert_eq!(input_bytes(&[dir.path().to_path_buf()]), 123);
        assert_eq!(input_bytes(&[dir.path().join("a/x.log"), dir.path().join("missing")]), 100);
        let path = dir.path().to_path_buf();
        drop(dir);
        assert!(!path.exists());
    }
}
