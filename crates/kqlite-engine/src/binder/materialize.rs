//! `materialize(T)` and `as hint.materialized=true`: a result computed once
//! and read by every use.
//!
//! A deterministic plan gives the same rows each time it runs, so it is
//! left as a plan (DataFusion may run it per use). A plan with volatile
//! expressions (`rand()`, `sample`) would give each use different rows, as
//! the reference's `sample` example shows must not happen: it is run once
//! while binding and its rows become an in-memory table.

use super::{AtSpan, BindResult, Binder, Relation};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::LogicalPlan;
use kqlite_syntax::Span;

impl Binder<'_> {
    /// `relation`, computed once when reading it twice could differ.
    pub(super) fn materialized(&mut self, relation: Relation, span: Span) -> BindResult<Relation> {
        if !is_volatile(&relation.plan) {
            return Ok(relation);
        }
        let columns = relation.columns.clone();
        let rows = self.collect_rows(relation, span)?;
        let batch = super::scan::rows_batch(&columns, rows).map_err(|e| super::BindError::new(span, e))?;
        let (plan, _) = self.resolver.temporary(batch).at(span)?;
        Ok(Relation { plan, columns })
    }
}

/// Whether some expression of `plan` is volatile (gives another value each
/// time it runs).
fn is_volatile(plan: &LogicalPlan) -> bool {
    let mut volatile = false;
    let _ = plan.apply(|node| {
        if node.expressions().iter().any(has_volatile_call) {
            volatile = true;
            return Ok(TreeNodeRecursion::Stop);
        }
        Ok(TreeNodeRecursion::Continue)
    });
    volatile
}

/// Whether `expr` calls a volatile function. `kql_computed_here` is
/// volatile only to keep the optimizer from copying it into filters; it
/// returns its argument.
fn has_volatile_call(expr: &datafusion::logical_expr::Expr) -> bool {
    use datafusion::logical_expr::{Expr, Volatility};
    let mut found = false;
    let _ = expr.apply(|e| {
        if let Expr::ScalarFunction(f) = e {
            if f.func.signature().volatility == Volatility::Volatile && f.func.name() != "kql_computed_here" {
                found = true;
                return Ok(TreeNodeRecursion::Stop);
            }
        }
        Ok(TreeNodeRecursion::Continue)
    });
    found
}
