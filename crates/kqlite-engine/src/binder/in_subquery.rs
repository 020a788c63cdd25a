//! `x in (T)` outside a filter: DataFusion decorrelates an `IN` subquery only
//! in a `Filter` (a semi join, or a mark join under `or`/`not`), and fails
//! to plan one in a projection (`extend m = iff(ip in (IOCs), …)`), an
//! aggregate (`countif(ip in (IOCs))`) or a sort. This pass gives every
//! other single-input node the same lowering the filter gets: a left mark
//! join of its input with the subquery, the `in` replaced by the mark.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result};
use datafusion::logical_expr::expr::InSubquery;
use datafusion::logical_expr::{Expr, JoinType, LogicalPlan, LogicalPlanBuilder};

/// The name of the mark column of the `n`th `in` lowered by this pass.
fn mark_name(n: usize) -> String {
    format!("__kql_in_mark{n}")
}

/// Lowers every `in (T)` subquery of `plan` that is not in a filter's
/// predicate (nor a join's condition) to a left mark join.
pub(super) fn lower_in_subqueries(plan: LogicalPlan) -> Result<LogicalPlan> {
    let mut marks = 0;
    plan.transform_up_with_subqueries(|node| lower_node(node, &mut marks)).map(|t| t.data)
}

fn lower_node(node: LogicalPlan, marks: &mut usize) -> Result<Transformed<LogicalPlan>> {
    if matches!(node, LogicalPlan::Filter(_) | LogicalPlan::Join(_)) || node.inputs().len() != 1 {
        return Ok(Transformed::no(node));
    }
    let mut subqueries = Vec::new();
    for expr in node.expressions() {
        expr.apply(|e| {
            if let Expr::InSubquery(s) = e {
                subqueries.push(s.clone());
            }
            Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
        })?;
    }
    if subqueries.is_empty() {
        return Ok(Transformed::no(node));
    }
    let mut input = node.inputs()[0].clone();
    let mut replacements: Vec<(InSubquery, Expr)> = Vec::new();
    for subquery in subqueries {
        if replacements.iter().any(|(s, _)| *s == subquery) {
            continue;
        }
        let (joined, mark) = mark_join(input, &subquery, marks)?;
        input = joined;
        let value = if subquery.negated { Expr::Not(Box::new(mark)) } else { mark };
        replacements.push((subquery, value));
    }
    let exprs = node
        .expressions()
        .into_iter()
        .map(|e| {
            e.transform_up(|e| match e {
                Expr::InSubquery(s) => match replacements.iter().find(|(r, _)| *r == s) {
                    Some((_, value)) => Ok(Transformed::yes(value.clone())),
                    None => Ok(Transformed::no(Expr::InSubquery(s))),
                },
                e => Ok(Transformed::no(e)),
            })
            .map(|t| t.data)
        })
        .collect::<Result<Vec<_>>>()?;
    let lowered = node.with_new_exprs(exprs, vec![input])?;
    Ok(Transformed::yes(restore_schema(&node, lowered)?))
}

/// `input` left-mark-joined with the subquery's one column on equality with
/// the `in`'s value, the mark renamed to a name of its own (each mark join
/// names its column `mark`), and that mark as an expression.
fn mark_join(input: LogicalPlan, subquery: &InSubquery, marks: &mut usize) -> Result<(LogicalPlan, Expr)> {
    let right = subquery.subquery.subquery.as_ref().clone();
    let (right_qualifier, right_field) = right.schema().qualified_field(0);
    let right_column = Expr::Column(Column::new(right_qualifier.cloned(), right_field.name()));
    let joined = LogicalPlanBuilder::from(input)
        .join_on(right, JoinType::LeftMark, [subquery.expr.as_ref().clone().eq(right_column)])?
        .build()?;
    let schema = joined.schema().clone();
    let last = schema.fields().len() - 1;
    let mut columns: Vec<Expr> = (0..last).map(|i| Expr::Column(Column::from(schema.qualified_field(i)))).collect();
    *marks += 1;
    let name = mark_name(*marks);
    columns.push(Expr::Column(Column::from(schema.qualified_field(last))).alias(&name));
    let plan = LogicalPlanBuilder::from(joined).project(columns)?.build()?;
    Ok((plan, Expr::Column(Column::from_name(name))))
}

/// The lowered node with the original node's output columns: a node that
/// passes its input through (sort, window, limit) would also pass the
/// marks, and a projection's unaliased expression would be named after
/// the mark instead of the `in`.
fn restore_schema(original: &LogicalPlan, lowered: LogicalPlan) -> Result<LogicalPlan> {
    let old = original.schema();
    let new = lowered.schema().clone();
    let same_names = old.fields().len() == new.fields().len()
        && old.iter().zip(new.iter()).all(|((qa, fa), (qb, fb))| qa == qb && fa.name() == fb.name());
    if same_names {
        return Ok(lowered);
    }
    let by_position = matches!(original, LogicalPlan::Projection(_) | LogicalPlan::Aggregate(_));
    let columns = old
        .iter()
        .enumerate()
        .map(|(i, (qualifier, field))| {
            let source = if by_position {
                Column::from(new.qualified_field(i))
            } else {
                Column::new(qualifier.cloned(), field.name())
            };
            Expr::Column(source).alias_qualified(qualifier.cloned(), field.name())
        })
        .collect::<Vec<_>>();
    LogicalPlanBuilder::from(lowered).project(columns)?.build()
}
