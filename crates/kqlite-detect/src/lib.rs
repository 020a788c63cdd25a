//! `kqlite-detect`: detections over kqlite tables.
//!
//! [`finding`] is what a detection reports to an analyst.

pub mod finding;
pub mod graph;
