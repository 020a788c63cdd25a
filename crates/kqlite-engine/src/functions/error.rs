//! Why a function call cannot be bound: the errors function binders return.
//!
//! A binder does not know where its call is in the query; the binder turns a
//! [`CallError`] into a located `BindError` at the call's span, with this
//! type's `Display` as its message.

use crate::types::KqlType;
use datafusion::error::DataFusionError;
use thiserror::Error;

/// The result of binding a function call.
pub type CallResult<T> = Result<T, CallError>;

/// Why a function call cannot be bound. Argument positions are 1-based.
#[derive(Debug, Error)]
pub enum CallError {
    /// The number of arguments does not fit the function.
    #[error("{function}() takes {expected}")]
    Arity { function: String, expected: &'static str },
    /// An argument of a type the function does not take.
    #[error("argument {position} of {function}() must be {expected}, but it is {actual}")]
    ArgumentType { function: String, position: usize, expected: String, actual: KqlType },
    /// An argument that must be a constant is computed.
    #[error("argument {position} of {function}() must be {expected}")]
    NotConstant { function: String, position: usize, expected: &'static str },
    /// A constant argument whose value the function does not take.
    #[error("argument {position} of {function}() must be {expected}, but it is '{value}'")]
    InvalidValue { function: String, position: usize, expected: &'static str, value: String },
    /// A constant argument whose shape the function does not take.
    #[error("argument {position} of {function}() must be {expected}")]
    InvalidLiteral { function: String, position: usize, expected: &'static str },
    /// A key of a property bag that is not a string.
    #[error("argument {position} of {function}() is a key and must be a string")]
    KeyNotString { function: String, position: usize },
    /// A dynamic argument where the function needs a scalar it can compare.
    #[error("argument {position} of {function}() cannot be dynamic; convert it first")]
    DynamicArgument { function: String, position: usize },
    /// Ordering (`max`, `percentile`) over dynamic values.
    #[error("{function}() cannot order dynamic values; convert them first")]
    CannotOrderDynamic { function: String },
    /// `percentile()` of several percentiles, which would make several columns.
    #[error(
        "{function}() with several percentiles makes several columns; use percentiles_array() or one percentile() per column"
    )]
    SeveralPercentiles { function: String },
    /// Rounding (`bin`) of a type that has no bins.
    #[error("{function}() rounds numbers, datetimes and timespans, not {actual}")]
    CannotRound { function: String, actual: KqlType },
    /// `extract(…, typeof(T))`: kqlite does not convert the result itself.
    #[error("{function}() with a type argument is not supported; convert the result instead")]
    TypeArgument { function: String },
    /// A problem specific to one function, described in words.
    #[error("{function}(): {problem}")]
    Invalid { function: String, problem: String },
    /// DataFusion could not build the call's expression.
    #[error("{0}")]
    Plan(#[from] DataFusionError),
}

impl CallError {
    /// Argument `index` (0-based) of `function` has the wrong type.
    pub fn argument_type(function: &str, index: usize, expected: impl Into<String>, actual: KqlType) -> CallError {
        CallError::ArgumentType {
            function: function.to_string(),
            position: index + 1,
            expected: expected.into(),
            actual,
        }
    }

    /// Argument `index` (0-based) of `function` must be a constant.
    pub fn not_constant(function: &str, index: usize, expected: &'static str) -> CallError {
        CallError::NotConstant { function: function.to_string(), position: index + 1, expected }
    }

    /// A problem with the call of `function`, described in words.
    pub fn invalid(function: &str, problem: impl Into<String>) -> CallError {
        CallError::Invalid { function: function.to_string(), problem: problem.into() }
    }
}
