//! DataFusion's outer-join elimination, run only where it can apply and
//! stays cheap.
//!
//! `eliminate_outer_join` looks under every `Filter` for a join, inlining the
//! filter's predicate through each projection on the way (it copies a
//! column's defining expression for every reference). Under a chain of
//! steps that each read the previous value twice
//! (`extend arr = iff(c, array_concat(arr, x), arr)`, 14 times in
//! Potential_IIS_CodeInject.yaml) the copy doubles per step and planning
//! never finishes, even where no join is below at all. This wrapper first
//! walks the projections without copying anything and hands the filter to
//! the rule only when a join ends the walk and no projection on the way
//! reads a column twice in one expression.

use datafusion::common::tree_node::Transformed;
use datafusion::common::Result;
use datafusion::logical_expr::LogicalPlan;
use datafusion::optimizer::eliminate_outer_join::EliminateOuterJoin;
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

#[derive(Debug, Default)]
pub struct BoundedOuterJoinElimination {
    inner: EliminateOuterJoin,
}

impl OptimizerRule for BoundedOuterJoinElimination {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        self.inner.apply_order()
    }

    fn rewrite(&self, plan: LogicalPlan, config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        match &plan {
            LogicalPlan::Filter(filter) if inlining_reaches_a_join(&filter.input) => self.inner.rewrite(plan, config),
            _ => Ok(Transformed::no(plan)),
        }
    }
}

/// Whether `plan` is a join under zero or more projections none of which
/// has an expression reading some column more than once.
fn inlining_reaches_a_join(mut plan: &LogicalPlan) -> bool {
    loop {
        match plan {
            LogicalPlan::Join(_) => return true,
            LogicalPlan::Projection(p) => {
                if p.expr.iter().any(|e| e.column_refs_counts().values().any(|&n| n > 1)) {
                    return false;
                }
                plan = &p.input;
            }
            _ => return false,
        }
    }
}
