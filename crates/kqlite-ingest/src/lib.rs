//! `kqlite-ingest`: telemetry in, Sentinel tables out.
//!
//! [`catalog`] knows the Log Analytics schemas of the tables detections
//! read; [`tabular`] loads CSV and JSON lines into those schemas (or infers a
//! schema for other tables). Every record read is either loaded or counted as
//! rejected with a reason.
//!
//! [`pipeline`] is the entry point for any mix of files and directories:
//! [`source`] finds inputs and opens containers, [`format`] sniffs their
//! format, [`dispatch`] reads each with its reader, [`inputs`] runs that over
//! every file, [`register`] hands the tables to a session, and [`store`]
//! writes them to a day-partitioned Parquet store instead. Errors are
//! [`error::IngestError`].

pub mod catalog;
pub mod columns;
pub mod conform;
pub mod dispatch;
pub mod error;
pub mod evtx;
pub mod format;
pub mod inputs;
mod json_stream;
pub mod options;
pub mod pipeline;
pub mod progress;
pub mod register;
pub mod source;
pub mod staging;
pub mod store;
pub mod syslog;
pub mod tabular;
pub mod windows_json;

pub use error::IngestError;
pub use inputs::FileSummary;
pub use options::IngestOptions;
pub use pipeline::{ingest_paths, Ingested};
pub use register::register_tables;
pub use store::{ingest_to_store, register_store, StoreRun};
pub use tabular::{load_file, LoadReport, LoadedTable};
