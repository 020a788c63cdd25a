//! Why loading rules, tuning or evidence, or running a rule, failed.
//!
//! Messages say what was expected and where (file, line, field). An error
//! that wraps another (an I/O error, a YAML error, a tuning entry's rule
//! error) leaves the wrapped text out of its own message and returns it as
//! its [`source`](std::error::Error::source), so a caller that prints the
//! chain (`anyhow`'s `{:#}`, or [`chain_text`]) shows it once.

use std::fmt;
use std::path::PathBuf;

use crate::finding::UnknownSeverity;
use kqlite_engine::QueryError;

/// A syntax error in KQL text, at a 1-based line and column.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SyntaxError {
    pub line: usize,
    pub column: usize,
    pub message: String,
}

impl fmt::Display for SyntaxError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "line {}, column {}: {}", self.line, self.column, self.message)
    }
}

/// What is wrong with a tuning file's `timeZone`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimeZoneProblem {
    NotAnOffset,
    HoursNotANumber,
    MinutesNotANumber,
    NotWholeHours,
    OutOfRange,
}

impl fmt::Display for TimeZoneProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            TimeZoneProblem::NotAnOffset => "expected a UTC offset like +02:00, -05:00 or UTC",
            TimeZoneProblem::HoursNotANumber => "hours are not a number",
            TimeZoneProblem::MinutesNotANumber => "minutes are not a number",
            TimeZoneProblem::NotWholeHours => {
                "only whole-hour offsets are supported (after-hours windows are hours of the day)"
            }
            TimeZoneProblem::OutOfRange => "offsets range from -12:00 to +14:00",
        })
    }
}

/// An error of `kqlite-detect`.
#[derive(Debug, thiserror::Error)]
pub enum DetectError {
    // Files.
    #[error("cannot read {}", .path.display())]
    Io {
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
    #[error("cannot read rule {}", .path.display())]
    ReadRule {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A Sigma mapping file that does not load (its message names the file).
    #[error(transparent)]
    Sigma(#[from] kqlite_sigma::SigmaError),
    #[error("cannot read rules directory {}", .path.display())]
    ReadRulesDirectory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },

    // Rule files.
    /// The YAML does not parse or has not the rule's shape; the source
    /// error gives the line and column.
    #[error("{origin}: not a valid rule")]
    RuleYaml {
        origin: String,
        #[source]
        source: serde_norway::Error,
    },
    #[error("{origin}: 'id' must be a string")]
    RuleId { origin: String },
    #[error("{origin}: field 'severity'")]
    RuleSeverity {
        origin: String,
        #[source]
        source: UnknownSeverity,
    },
    #[error("{origin}: missing field 'severity' (an analytic rule needs one; hunting queries belong under 'Hunting Queries')")]
    RuleNoSeverity { origin: String },
    #[error("{origin}: field 'kind': '{kind}' rules cannot run offline (expected Scheduled or NRT)")]
    RuleKind { origin: String, kind: String },
    #[error("{origin}: field 'triggerOperator': '{operator}' (expected gt, lt, eq or ne)")]
    RuleTriggerOperator { origin: String, operator: String },
    #[error("{origin}: field 'triggerThreshold': expected a non-negative whole number, got {value:?}")]
    RuleTriggerThreshold { origin: String, value: Box<serde_norway::Value> },
    #[error("{origin}: field 'customDetails': entries must be Key: ColumnName")]
    RuleCustomDetails { origin: String },
    #[error("{origin}: field 'query'")]
    RuleQueryText {
        origin: String,
        #[source]
        source: Box<DetectError>,
    },
    #[error("{origin}: field 'parameters': names must be strings")]
    RuleParameterName { origin: String },
    #[error("{origin}: field 'parameters': '{name}' is not a top-level let of the query (its lets: {})", .lets.join(", "))]
    RuleParameterNotLet { origin: String, name: String, lets: Vec<String> },
    #[error("{origin}: field 'parameters.{name}'")]
    RuleParameterYaml {
        origin: String,
        name: String,
        #[source]
        source: serde_norway::Error,
    },
    #[error("{origin}: rule id '{id}' is also the id of {other}")]
    DuplicateRuleId { origin: String, id: String, other: String },
    #[error("no rule '{key}' (rules: {})", .rules.join(", "))]
    NoRule { key: String, rules: Vec<String> },
    #[error("'{key}' names several rules: {}", .rules.join(", "))]
    AmbiguousRule { key: String, rules: Vec<String> },

    // Editing a rule's query.
    #[error("syntax error at {0}")]
    Syntax(SyntaxError),
    #[error("unknown parameter '{name}': the query's top-level lets are {}", .lets.join(", "))]
    UnknownParameter { name: String, lets: Vec<String> },
    #[error("parameter '{name}': '{value}' is not a KQL expression ({error})")]
    ParameterNotExpression { name: String, value: String, error: SyntaxError },
    #[error("overriding {} made the query invalid: {error}", .names.join(", "))]
    OverrideInvalid { names: Vec<String>, error: SyntaxError },
    #[error("the query has no result expression to append to")]
    NoResultExpression,
    #[error("appending '{operators}' made the query invalid: {error}")]
    AppendInvalid { operators: String, error: SyntaxError },

    // Tuning files.
    #[error("cannot read tuning file {}", .path.display())]
    ReadTuning {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{origin}: not a valid tuning file")]
    TuningYaml {
        origin: String,
        #[source]
        source: serde_norway::Error,
    },
    /// An error in what the tuning file names (its watchlists, its time zone).
    #[error("{origin}")]
    InTuningFile {
        origin: String,
        #[source]
        source: Box<DetectError>,
    },
    #[error("timeZone '{text}': {problem}")]
    TimeZone { text: String, problem: TimeZoneProblem },
    /// An error in the tuning of one rule (`rules.KEY`).
    #[error("{origin}: rules.{key}")]
    TuningRule {
        origin: String,
        key: String,
        #[source]
        source: Box<DetectError>,
    },
    #[error("{origin}: rules.{key}.severity")]
    TuningSeverity {
        origin: String,
        key: String,
        #[source]
        source: UnknownSeverity,
    },
    #[error("{origin}: rules.{key}.exclude: no watchlist '{watchlist}' (watchlists: {})", .known.join(", "))]
    UnknownWatchlist { origin: String, key: String, watchlist: String, known: Vec<String> },
    #[error("lookback '{0}' is not a positive timespan (expected e.g. 7d, 36h or 3650d)")]
    InvalidLookback(String),
    #[error("parameter names must be strings")]
    ParameterNameNotString,
    #[error("parameter '{0}': the value must be KQL text")]
    ParameterNotText(String),
    #[error("exclusion of watchlist '{watchlist}'")]
    Exclusion {
        watchlist: String,
        #[source]
        source: Box<DetectError>,
    },

    // Watchlists.
    #[error("cannot read watchlist {}", .path.display())]
    ReadWatchlist {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read watchlist directory {}", .path.display())]
    ReadWatchlistDirectory {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{location}:{line}: a quoted field is not closed")]
    WatchlistUnclosedQuote { location: String, line: usize },
    #[error("{location}:1: a comment line must be '# SearchKey: Column', got '#{got}'")]
    WatchlistComment { location: String, got: String },
    #[error("{location}: the watchlist has no header line")]
    WatchlistNoHeader { location: String },
    #[error("{location}: header column {column} has no name")]
    WatchlistUnnamedColumn { location: String, column: usize },
    #[error("{location}: SearchKey column '{key}' is not in the header ({})", .columns.join(", "))]
    WatchlistSearchKey { location: String, key: String, columns: Vec<String> },
    #[error("{location}:{line}: expected {expected} fields like the header, found {found}")]
    WatchlistFieldCount { location: String, line: usize, expected: usize, found: usize },
    #[error(transparent)]
    Arrow(#[from] datafusion::arrow::error::ArrowError),

    // Sessions and queries.
    #[error(transparent)]
    Query(#[from] QueryError),
    /// Stored functions (`_GetWatchlist`, a pack's functions) that do not
    /// bind: rendered like a compiler, with the line and a caret.
    #[error("{}", .error.render(.text, .name))]
    FunctionDefinition { name: String, text: String, error: QueryError },
    /// A rule's query failed: at its line and column when located.
    #[error("{}", located(.error, .query))]
    RuleQuery { query: String, error: QueryError },
    #[error("its findingReasons do not bind against the result")]
    FindingReasons(#[source] QueryError),
    #[error("parameter '{name}' = {kql}")]
    HoursParameter {
        name: String,
        kql: String,
        #[source]
        source: QueryError,
    },
    #[error("parameter '{name}' = {kql}: expected a list of hours 0..23, got {got}")]
    HoursNotAList { name: String, kql: String, got: Box<serde_json::Value> },
    #[error("parameter '{name}' = {kql}: {value} is not an hour of the day (0..23)")]
    NotAnHour { name: String, kql: String, value: Box<serde_json::Value> },
    /// A table the engine would not register.
    #[error(transparent)]
    RegisterTable(#[from] kqlite_engine::RegisterError),

    // Evidence.
    /// An error of `kqlite-ingest`.
    #[error(transparent)]
    Ingest(#[from] kqlite_ingest::IngestError),
    #[error("store {} does not exist", .path.display())]
    NoStore { path: PathBuf },

    // Detection tests.
    #[error("no test cases under {} (a case is a directory with expected.yaml)", .root.display())]
    NoTestCases { root: PathBuf },
    #[error("{}: not a case's expected.yaml", .path.display())]
    CaseExpected {
        path: PathBuf,
        #[source]
        source: serde_norway::Error,
    },
    #[error("the case has no input files")]
    CaseWithoutInputs,
    #[error("input {} was not read: {reason}", .path.display())]
    CaseInputNotRead { path: PathBuf, reason: String },
    #[error("input record rejected at {location}: {reason}")]
    CaseRecordRejected { location: String, reason: String },
    #[error("values in {files} input file(s) did not convert to their column type (a malformed datetime or number?)")]
    CaseConversion { files: usize },
    #[error("now: '{0}' is not a datetime (expected e.g. 2024-05-02T12:00:00Z)")]
    CaseNow(String),
    #[error("rule {stem}: {status}")]
    CaseRuleFailed { stem: String, status: String },
}

/// `query line L, column C: message`, or the message when the engine gives
/// no location.
fn located(error: &QueryError, query: &str) -> String {
    match error.located(query) {
        (message, Some((line, col))) => format!("query line {line}, column {col}: {message}"),
        (message, None) => message,
    }
}

/// The error and its sources joined by `": "`, as `anyhow` shows a chain
/// with `{:#}`: for messages kept as text (a failed rule's status, a
/// detection test's error).
pub fn chain_text(error: &dyn std::error::Error) -> String {
    let mut text = error.to_string();
    let mut next = error.source();
    while let Some(source) = next {
        // Some errors name their cause in their own message (readers keep
        // it there for the per-record reasons they report as text); it is
        // said once, as snafu's `Report` does.
        let cause = source.to_string();
        if !text.contains(&cause) {
            text.push_str(": ");
            text.push_str(&cause);
        }
        next = source.source();
    }
    text
}
