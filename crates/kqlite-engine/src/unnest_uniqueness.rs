//! Unnest does not keep its input's unique keys.
//!
//! DataFusion's `Unnest` node copies its input's functional dependencies into
//! its own schema, so a key that was unique before `mv-expand` (the group-by
//! column of a `summarize`) is still declared unique after it, although every
//! input row became several. Rules that trust those dependencies then drop
//! work that is needed: `eliminate_duplicated_expr` removes the later keys of
//! `order by x, y` ("x determines y"), `optimize_projections` removes group-by
//! columns, `replace_distinct_aggregate` and `eliminate_join` remove a
//! `distinct` or a join. This module clears the dependencies at every
//! `Unnest` and recomputes the schemas above it; the session runs
//! [`ClearUnnestUniqueness`] before each rule that reads dependencies, since
//! any rule that rebuilds an `Unnest` brings them back.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, FunctionalDependencies, Result};
use datafusion::logical_expr::{LogicalPlan, Unnest};
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use std::sync::Arc;

/// The optimizer rules that read functional dependencies, before each of
/// which the session runs [`ClearUnnestUniqueness`].
pub const RULES_READING_DEPENDENCIES: [&str; 4] =
    ["eliminate_join", "replace_distinct_aggregate", "eliminate_duplicated_expr", "optimize_projections"];

/// `plan` with no functional dependency declared at or above an `Unnest`
/// that its input declared.
pub fn clear_unnest_uniqueness(plan: LogicalPlan) -> Result<Transformed<LogicalPlan>> {
    let has_unnest = plan.exists(|node| Ok(matches!(node, LogicalPlan::Unnest(_))))?;
    if !has_unnest {
        return Ok(Transformed::no(plan));
    }
    plan.transform_up(|node| match node {
        LogicalPlan::Unnest(unnest) => {
            if unnest.schema.functional_dependencies().is_empty() {
                return Ok(Transformed::no(LogicalPlan::Unnest(unnest)));
            }
            let schema =
                DFSchema::clone(&unnest.schema).with_functional_dependencies(FunctionalDependencies::empty())?;
            Ok(Transformed::yes(LogicalPlan::Unnest(Unnest { schema: Arc::new(schema), ..unnest })))
        }
        // A node whose schema declares dependencies may have copied them
        // from an `Unnest` below: derive them again from its (cleared) input.
        other if !other.schema().functional_dependencies().is_empty() && !other.inputs().is_empty() => {
            // A node that cannot derive its schema again is left as it was
            // (its dependencies possibly too broad) rather than failing the query.
            match other.clone().recompute_schema() {
                Ok(node) if node.schema().functional_dependencies() != other.schema().functional_dependencies() => {
                    Ok(Transformed::yes(node))
                }
                _ => Ok(Transformed::no(other)),
            }
        }
        other => Ok(Transformed::no(other)),
    })
}

/// The optimizer rule form of [`clear_unnest_uniqueness`], run on the whole
/// plan.
#[derive(Debug, Default)]
pub struct ClearUnnestUniqueness;

impl OptimizerRule for ClearUnnestUniqueness {
    fn name(&self) -> &str {
        "kqlite_clear_unnest_uniqueness"
    }

    fn supports_rewrite(&self) -> bool {
        true
    }

    fn rewrite(&self, plan: LogicalPlan, _config: &dyn OptimizerConfig) -> Result<Transformed<LogicalPlan>> {
        clear_unnest_uniqueness(plan)
    }
}
