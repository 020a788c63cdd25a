//! Errors: a file that is not Sigma ([`SigmaError`]) and a rule that is
//! Sigma but cannot be compiled to KQL ([`Unsupported`], with a named reason).

use std::fmt;

/// A Sigma file that could not be read or parsed.
#[derive(Debug, thiserror::Error)]
pub enum SigmaError {
    #[error("{path}: {message}")]
    Parse { path: String, message: String },
    #[error("mapping {path}: {message}")]
    Mapping { path: String, message: String },
}

/// Why a rule cannot be compiled. Each variant names one construct, so a
/// coverage report can count rejections by reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UnsupportedReason {
    /// No mapping entry for the rule's logsource (for this target).
    Logsource(String),
    /// A modifier (or combination of modifiers) kqlite does not compile.
    Modifier(String),
    /// A field the variant's table cannot provide (a Defender table without
    /// the column, say).
    Field(String),
    /// A condition construct kqlite does not compile.
    Condition(String),
    /// A value that cannot be expressed (e.g. an invalid regular expression or cidr).
    Value(String),
    /// A correlation rule naming a rule that is not loaded or not compiled.
    MissingRule(String),
    /// Anything else, described.
    Other(String),
}

impl fmt::Display for UnsupportedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UnsupportedReason::Logsource(s) => write!(f, "unmapped logsource: {s}"),
            UnsupportedReason::Modifier(s) => write!(f, "unsupported modifier: {s}"),
            UnsupportedReason::Field(s) => write!(f, "unmapped field: {s}"),
            UnsupportedReason::Condition(s) => write!(f, "unsupported condition: {s}"),
            UnsupportedReason::Value(s) => write!(f, "invalid value: {s}"),
            UnsupportedReason::MissingRule(s) => write!(f, "correlation names a rule that is not compiled: {s}"),
            UnsupportedReason::Other(s) => f.write_str(s),
        }
    }
}

/// A Sigma rule that cannot be compiled: which rule, and why.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{rule}: {reason}")]
pub struct Unsupported {
    /// The rule's id, or its title when it has none.
    pub rule: String,
    pub reason: UnsupportedReason,
}
