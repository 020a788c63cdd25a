//! Compiling a Sigma correlation rule (event_count, value_count, temporal,
//! …) to KQL over the queries of the rules it names.

use crate::compile::CompiledRule;
use crate::error::{Unsupported, UnsupportedReason};
use rsigma_parser::CorrelationRule;

/// Compiles a correlation over already compiled rules (`rules` holds every
/// compiled rule it may name, looked up by id or name).
pub fn compile_correlation(
    correlation: &CorrelationRule,
    _rules: &[CompiledRule],
) -> Result<CompiledRule, Unsupported> {
    Err(Unsupported {
        rule: correlation.id.clone().unwrap_or_else(|| correlation.title.clone()),
        reason: UnsupportedReason::Other("not written yet".into()),
    })
}
