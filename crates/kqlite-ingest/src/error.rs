//! The errors of ingesting: what was expected, where (file, member, line or
//! record), and the error underneath, kept as the source.
//!
//! [`IngestError`] is what the public entry points return; the enums it
//! wraps belong to one step each: opening containers ([`ContainerError`]),
//! reading CSV and JSON text ([`TextError`]), the Parquet store
//! ([`StoreError`]). Why a single record was rejected is a [`RecordError`]
//! (CSV and JSON) or a [`crate::syslog::LineError`]; reports keep those as
//! text next to the record's location.

use std::fmt;
use std::path::PathBuf;

/// Why ingesting failed.
#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// A path given to read does not exist.
    #[error("{} does not exist", path.display())]
    NotFound { path: PathBuf },
    /// A file named to load could not be read.
    #[error("cannot read {}: {source}", path.display())]
    Unreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// An input failed before its first record.
    #[error("{location}: {source}")]
    Stream {
        location: String,
        #[source]
        source: std::io::Error,
    },
    /// An input stopped part way (a damaged gzip stream); what came before
    /// was read.
    #[error("{location}: {source} (the lines before were read)")]
    StreamCut {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Text(#[from] TextError),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A strict run saw rejected records or unreadable inputs.
    #[error(transparent)]
    Strict(#[from] StrictFailure),
    /// The engine refused a table.
    #[error("{table}: {source}")]
    Register {
        table: String,
        #[source]
        source: kqlite_engine::RegisterError,
    },
    /// The engine refused a stored table.
    #[error(transparent)]
    Engine(#[from] kqlite_engine::RegisterError),
    /// The temporary directory of a staging store could not be made.
    #[error("cannot create a staging store in {}: {source}", dir.display())]
    Staging {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Why a file could not be opened as the inputs it holds (a gzip stream,
/// zip members).
#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{location}: cannot read: {source}")]
    Unreadable {
        location: String,
        #[source]
        source: std::io::Error,
    },
    /// A gzip stream failed (the error says it was decompressing).
    #[error("{location}: {source}")]
    Decompress {
        location: String,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}: containers nested more than {depth} deep")]
    TooDeep { location: String, depth: usize },
    #[error("{location}: not a readable zip archive: {source}")]
    NotZip {
        location: String,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{location}: member {index}: {source}")]
    Member {
        location: String,
        index: usize,
        #[source]
        source: zip::result::ZipError,
    },
    #[error("{location}: cannot extract: {source}")]
    Extract {
        location: String,
        #[source]
        source: std::io::Error,
    },
    /// Several members of an archive failed; the others were read.
    #[error("{}", join(.0))]
    Members(Vec<ContainerError>),
}

fn join(errors: &[ContainerError]) -> String {
    errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
}

/// Why CSV or JSON text could not be read at all (single bad records are
/// rejected instead, see [`RecordError`]).
#[derive(Debug, thiserror::Error)]
pub enum TextError {
    #[error("{location}: cannot read the CSV header: {source}")]
    CsvHeader {
        location: String,
        #[source]
        source: csv::Error,
    },
    #[error("{location}: JSON document is neither an object nor an array")]
    NotRecords { location: String },
}

/// Why one CSV or JSON record was rejected (reports put its location in
/// front).
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("has {found} fields, the header has {expected}")]
    FieldCount { found: usize, expected: usize },
    #[error("{0}")]
    Csv(#[source] csv::Error),
    #[error("line is JSON but not an object")]
    LineNotObject,
    #[error("not JSON: {0}")]
    NotJson(#[source] serde_json::Error),
    /// `what` names the record's place (`array element`, `result`,
    /// `'properties'`); `value` is the start of what was found.
    #[error("{what} is not an object: {value}")]
    NotObject { what: &'static str, value: String },
    #[error("record has no 'properties'")]
    NoProperties,
    #[error("row does not have {expected} values")]
    RowWidth { expected: usize },
}

/// Why a stored (Parquet) column could not be read as its KQL type.
#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    #[error(transparent)]
    Cast(#[from] datafusion::arrow::error::ArrowError),
    #[error("cannot read {from} as {to}: {source}")]
    AsText {
        from: datafusion::arrow::datatypes::DataType,
        to: kqlite_engine::KqlType,
        #[source]
        source: datafusion::arrow::error::ArrowError,
    },
}

/// Why the Parquet store could not be opened, written or registered.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{}: cannot create the store: {source}", dir.display())]
    Create {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a kqlite store (no {manifest}; make one with kqlite ingest --store)", dir.display())]
    NotAStore { dir: PathBuf, manifest: &'static str },
    #[error("{}: cannot read: {source}", path.display())]
    ManifestUnreadable {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: not a kqlite store manifest ({source})", path.display())]
    ManifestInvalid {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error(
        "{}: a store of layout version {version}, newer than this kqlite reads ({supported}): use a newer kqlite",
        path.display()
    )]
    NewerLayout { path: PathBuf, version: u64, supported: u64 },
    #[error("{}: cannot write the manifest: {source}", dir.display())]
    ManifestWrite {
        dir: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{}: cannot write {table} day={day}: {source}", dir.display())]
    WritePart {
        dir: PathBuf,
        table: String,
        day: String,
        #[source]
        source: PartError,
    },
    #[error("{}: cannot finish a part: {source}", dir.display())]
    FinishPart {
        dir: PathBuf,
        #[source]
        source: PartError,
    },
    /// A finished part could not take its final name.
    #[error("{}: {source}", path.display())]
    Rename {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What failed while writing one Parquet part.
#[derive(Debug, thiserror::Error)]
pub enum PartError {
    #[error(transparent)]
    Io(#[from] std::io::Error),
    #[error(transparent)]
    Parquet(#[from] datafusion::parquet::errors::ParquetError),
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),
}

/// A strict run that saw rejected records or unreadable inputs: the counts
/// and the first few of each.
#[derive(Debug)]
pub struct StrictFailure {
    pub rejected: usize,
    pub unreadable: usize,
    /// (location, reason) of the first rejected records.
    pub first_rejected: Vec<(String, String)>,
    /// Why the first unreadable inputs could not be read.
    pub first_unreadable: Vec<String>,
}

impl fmt::Display for StrictFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "strict: {} record(s) rejected and {} input(s) unreadable", self.rejected, self.unreadable)?;
        for (location, reason) in &self.first_rejected {
            write!(f, "\n  rejected {location}: {reason}")?;
        }
        for error in &self.first_unreadable {
            write!(f, "\n  unreadable: {error}")?;
        }
        Ok(())
    }
}

impl std::error::Error for StrictFailure {}
