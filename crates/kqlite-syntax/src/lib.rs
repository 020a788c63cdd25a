//! `kqlite-syntax`: the KQL front end.
//!
//! Source text → tokens ([`lexer`]) → AST ([`ast`], by [`parser`]) with
//! [`Diagnostic`]s that carry spans. Tabular operator words are listed once,
//! in [`operators`]. No engine dependencies: the binder and execution live in
//! `kqlite-engine`.
//!
//! ```
//! use kqlite_syntax::SpanlessEq;
//!
//! let parsed = kqlite_syntax::parse("SecurityEvent | where EventID == 4624 | count");
//! assert!(parsed.diagnostics.is_empty());
//! // Display prints valid KQL that parses back to the same tree (its spans
//! // moved, so the trees are compared without them).
//! let printed = parsed.query.to_string();
//! assert!(kqlite_syntax::parse(&printed).query.spanless_eq(&parsed.query));
//! ```

pub mod ast;
pub mod diagnostic;
mod display;
pub mod lexer;
pub mod operators;
pub mod parser;
pub mod span;
pub mod spanless;
pub mod suggest;

pub use diagnostic::{Diagnostic, Severity};
pub use display::string_literal;
pub use parser::{parse, Parsed};
pub use span::{LineIndex, Span};
pub use spanless::SpanlessEq;
