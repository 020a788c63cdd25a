//! `kqlite-engine`: KQL on Apache DataFusion.
//!
//! A parsed query ([`kqlite_syntax`]) is bound — names resolved, KQL types
//! checked, Kusto's semantics applied — and lowered to a DataFusion logical
//! plan ([`binder`]), then executed by a [`Session`]. KQL functions are
//! DataFusion UDFs and UDAFs ([`functions`]); `dynamic` values use a compact
//! binary encoding ([`dynamic`]).
//!
//! ```
//! # tokio_test::block_on(async {
//! let session = kqlite_engine::Session::new();
//! let result = session.query("print x = 1 + 1").await.unwrap();
//! assert_eq!(result.row_count(), 1);
//! # });
//! ```

pub mod binder;
pub mod convert;
pub mod dynamic;
pub mod functions;
pub mod library;
mod materialized;
pub mod memory;
mod outer_join_elimination;
pub mod output;
pub mod scan_needs;
pub mod session;
pub mod time;
pub mod types;
pub mod udf;
mod unnest_uniqueness;
pub mod visualization;

/// Rows in a record batch, for every batch kqlite builds: readers, the store
/// and the engine's own operators (DataFusion's default batch size).
pub const BATCH_ROWS: usize = 8192;

pub use library::{Origin, StoredFunction, StoredParam};
pub use scan_needs::{ScanNeeds, TableNeeds};
pub use session::{
    Clock, QueryError, QueryResult, RegisterError, ResultTable, ResultTableRef, Session, TableCatalog, PRIMARY_RESULT,
};
pub use types::{arrow_schema, ColumnDef, KqlType};
pub use visualization::Visualization;
