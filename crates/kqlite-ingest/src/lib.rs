//! `kqlite-ingest`: telemetry in, Sentinel tables out.
//!
//! [`catalog`] knows the Log Analytics schemas of the tables detections
//! read; [`tabular`] loads CSV and JSON lines into those schemas (or infers a
//! schema for other tables). Every record read is either loaded or counted as
//! rejected with a reason.

pub mod catalog;
pub mod columns;
pub mod evtx;
pub mod syslog;
pub mod tabular;
pub mod windows_json;

pub use tabular::{load_file, LoadReport, LoadedTable};
