//! `materialize(T)` and `as hint.materialized=true`: a result computed once
//! per query and read by every use (the reference's materialize page
//! guarantees a single evaluation), through a table provider that runs the
//! plan on its first scan ([`crate::materialized`]). Plugins whose plans
//! read their input several times do the same for a volatile input
//! (`rand()`, `sample`), which would otherwise give each read other rows.

use super::{BindError, BindResult, Binder, Relation};
use datafusion::common::tree_node::{TreeNode, TreeNodeRecursion};
use datafusion::logical_expr::{LogicalPlan, LogicalPlanBuilder};
use kqlite_syntax::Span;

impl Binder<'_> {
    /// `relation` computed once per query however many times it is read
    /// (`materialize()`, nondeterministic plugin inputs); see
    /// [`crate::materialized`].
    pub(super) fn computed_once(&mut self, relation: Relation, span: Span) -> BindResult<Relation> {
        let name = self.fresh("materialized");
        let scan = crate::materialized::materialize(relation.plan, &name)
            .map_err(|e| BindError::new(span, format!("materialize(): {e}")))?;
        // Unqualified columns, as every other relation of the binder has.
        let columns = scan.schema().columns().into_iter().map(|c| {
            let name = c.name.clone();
            datafusion::logical_expr::col(c).alias(name)
        });
        let plan = LogicalPlanBuilder::from(scan)
            .project(columns)
            .and_then(|b| b.build())
            .map_err(|e| BindError::new(span, format!("materialize(): {e}")))?;
        Ok(Relation { plan, columns: relation.columns })
    }
}

/// Whether some expression of `plan` is volatile (gives another value each
/// time it runs).
pub(super) fn is_volatile(plan: &LogicalPlan) -> bool {
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
