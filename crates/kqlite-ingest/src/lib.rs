//! `kqlite-ingest`: telemetry in, Sentinel tables out.
//!
//! [`catalog`] knows the Log Analytics schemas of the tables detections
//! read; [`tabular`] loads CSV and JSON lines into those schemas (or infers a
//! schema for other tables). Every record read is either loaded or counted as
//! rejected with a reason.
//!
//! [`pipeline`] is the entry point for any mix of files and directories:
//! [`source`] finds inputs and sniffs their format, [`dispatch`] reads each
//! with its reader, [`store`] writes them to a day-partitioned Parquet store.

pub mod catalog;
pub mod columns;
pub mod conform;
pub mod dispatch;
pub mod evtx;
mod json_stream;
pub mod pipeline;
pub mod progress;
pub mod source;
pub mod staging;
pub mod store;
pub mod syslog;
pub mod tabular;
pub mod windows_json;

pub use pipeline::{ingest_paths, register_store, register_tables, FileSummary, IngestOptions, Ingested};
pub use store::{ingest_to_store, StoreRun};
pub use tabular::{load_file, LoadReport, LoadedTable};
