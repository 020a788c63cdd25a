//! Why an environment could not be generated.

use crate::scenario::MARKER_FILE;
use std::path::PathBuf;

/// An error of [`crate::generate`]. I/O errors name the path and keep the
/// I/O error as their source.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("--hosts {0}: the demo needs at least 40 hosts")]
    TooFewHosts(usize),
    #[error("--hosts {0}: the demo generates at most 5000 hosts")]
    TooManyHosts(usize),
    #[error("{0} days: the demo needs at least 2 (history, then the intrusion)")]
    TooFewDays(u32),
    #[error("{} is not empty and was not written by kqlite demo (no {}); give a new or empty directory", .path.display(), MARKER_FILE)]
    NotADemoDirectory { path: PathBuf },
    #[error("cannot read {}", .path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot create {}", .path.display())]
    Create {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot remove the earlier demo's {}", .path.display())]
    RemoveEarlier {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot write {}", .path.display())]
    Write {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the built-in rule pack does not load")]
    PackRules(#[source] kqlite_detect::DetectError),
    #[error("the pack's example tuning (rules/tuning/tuning.yaml) is not YAML")]
    PackTuning(#[source] serde_norway::Error),
}
