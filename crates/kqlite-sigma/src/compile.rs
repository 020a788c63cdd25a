//! Compiling a Sigma detection rule to one KQL query.

use crate::error::{Unsupported, UnsupportedReason};
use crate::mapping::{Mapping, Target};
use rsigma_parser::SigmaRule;

/// A Sigma rule compiled to KQL.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledRule {
    /// The rule's id, or its title when it has none.
    pub id: String,
    pub title: String,
    /// The KQL: one row per matching event, with `TimeGenerated`,
    /// `Computer`, `Channel`, `EventID`, `EventRecordId` and the rule's
    /// fields under their Sigma names.
    pub query: String,
    /// The tables the query reads.
    pub tables: Vec<String>,
}

/// Compiles one detection rule for `target`.
pub fn compile_rule(rule: &SigmaRule, _mapping: &Mapping, _target: Target) -> Result<CompiledRule, Unsupported> {
    Err(Unsupported {
        rule: rule.id.clone().unwrap_or_else(|| rule.title.clone()),
        reason: UnsupportedReason::Other("not written yet".into()),
    })
}
