//! An upper bound on the rows a logical plan returns, computed without
//! overflow.
//!
//! DataFusion 55's `LogicalPlan::max_rows` multiplies the bounds of a
//! join's inputs and adds those of a union's with plain `*` and `+`: a
//! plugin built from joins (`activity_metrics` joins its input with itself
//! twice) over a `datatable` of about 1,800 rows exceeds `usize` and panics
//! in debug builds ("attempt to multiply with overflow") and wraps in
//! release builds, where the wrapped, possibly tiny, bound became a sort's
//! fetch and cut the result short. This is the same walk with checked
//! arithmetic (an overflowing bound is no bound, `None`), and it counts the
//! row of a one-row `EmptyRelation` (`print`), which DataFusion counts as 0.

use datafusion::logical_expr::{Aggregate, Distinct, DistinctOn, Expr, FetchType, JoinType, LogicalPlan};

/// At most how many rows `plan` returns; `None` when unbounded, unknown or
/// too large for `usize`.
pub(super) fn max_rows_checked(plan: &LogicalPlan) -> Option<usize> {
    match plan {
        LogicalPlan::Projection(p) => max_rows_checked(&p.input),
        // DataFusion also bounds a filter on a unique key by 1 (a private
        // test); the input's bound is still an upper bound.
        LogicalPlan::Filter(f) => max_rows_checked(&f.input),
        LogicalPlan::Window(w) => max_rows_checked(&w.input),
        LogicalPlan::Aggregate(Aggregate { input, group_expr, .. }) => {
            if group_expr.iter().all(|e| matches!(e, Expr::Literal(_, _))) {
                Some(1)
            } else {
                max_rows_checked(input)
            }
        }
        LogicalPlan::Sort(s) => match (s.fetch, max_rows_checked(&s.input)) {
            (Some(fetch), Some(input)) => Some(fetch.min(input)),
            (fetch, input) => fetch.or(input),
        },
        LogicalPlan::Join(j) => {
            let (left, right) = (max_rows_checked(&j.left), max_rows_checked(&j.right));
            match j.join_type {
                JoinType::Inner => left?.checked_mul(right?),
                JoinType::Left | JoinType::Right | JoinType::Full => match (left?, right?, j.join_type) {
                    (0, 0, _) => Some(0),
                    (l, 0, JoinType::Left | JoinType::Full) => Some(l),
                    (0, r, JoinType::Right | JoinType::Full) => Some(r),
                    // An unmatched outer row still yields one row.
                    (l, r, _) => l.checked_mul(r),
                },
                JoinType::LeftSemi | JoinType::LeftAnti | JoinType::LeftMark => left,
                JoinType::RightSemi | JoinType::RightAnti | JoinType::RightMark => right,
            }
        }
        LogicalPlan::Repartition(r) => max_rows_checked(&r.input),
        LogicalPlan::Union(u) => {
            u.inputs.iter().try_fold(0usize, |sum, input| sum.checked_add(max_rows_checked(input)?))
        }
        LogicalPlan::TableScan(t) => t.fetch,
        // DataFusion counts 0 here even for the one row that `print`
        // stands on, and a union with `print` lost its last row to the
        // sort's fetch.
        LogicalPlan::EmptyRelation(e) => Some(usize::from(e.produce_one_row)),
        LogicalPlan::SubqueryAlias(a) => max_rows_checked(&a.input),
        LogicalPlan::Limit(l) => match l.get_fetch_type() {
            Ok(FetchType::Literal(n)) => n,
            _ => None,
        },
        LogicalPlan::Distinct(Distinct::All(input) | Distinct::On(DistinctOn { input, .. })) => max_rows_checked(input),
        LogicalPlan::Values(v) => Some(v.values.len()),
        _ => None,
    }
}
