//! `kqlite-syntax`: the KQL front end.
//!
//! Source text → tokens ([`lexer`]) → AST ([`ast`], by [`parser`]) with
//! [`Diagnostic`]s that carry spans. No engine dependencies: the binder and
//! execution live in `kqlite-engine`.
//!
//! ```
//! let parsed = kqlite_syntax::parse("SecurityEvent | where EventID == 4624 | count");
//! assert!(parsed.diagnostics.is_empty());
//! // Display prints valid KQL that parses back to the same tree.
//! let printed = parsed.query.to_string();
//! assert_eq!(kqlite_syntax::parse(&printed).query, parsed.query);
//! ```

pub mod ast;
pub mod diagnostic;
mod display;
pub mod lexer;
pub mod parser;
pub mod span;
pub mod suggest;

pub use diagnostic::{Diagnostic, Severity};
pub use parser::{parse, Parsed};
pub use span::{LineIndex, Span};
