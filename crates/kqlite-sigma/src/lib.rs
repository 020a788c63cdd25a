//! Sigma rules for kqlite.
//!
//! Sigma (<https://sigmahq.io>) is the portable rule format DFIR teams hunt
//! with. This crate reads Sigma YAML ([`document`], through the
//! `rsigma-parser` crate's typed AST), compiles detection and correlation
//! rules to KQL over Sentinel's tables ([`compile`], [`correlation`]) using a
//! logsource mapping users can override ([`mapping`]), and says why a rule
//! cannot be compiled ([`Unsupported`]) instead of translating it wrongly.
//! Running the KQL is the engine's job; turning rows into findings is
//! `kqlite-detect`'s.

pub mod compile;
pub mod correlation;
pub mod document;
pub mod error;
pub mod mapping;
pub mod plan;
pub mod predicate;

pub use compile::{apply_filters, compile_rule, compile_rule_projecting, CompiledRule};
pub use correlation::{compile_correlation, compile_correlation_events, CompileReferenced, CompiledCorrelation};
pub use document::{looks_like_sigma, parse_documents, SigmaDocuments};
pub use error::{SigmaError, Unsupported, UnsupportedReason};
pub use mapping::{Mapping, Target};
pub use plan::{plan_rule, RulePlan, VariantPlan};
pub use predicate::Placeholders;
/// The parsed Sigma AST, re-exported so callers need not name the parser crate.
pub use rsigma_parser as ast;
