//! `sample` and `sample-distinct`: rows or values picked at random.

use super::scalar::RowScope;
use super::{col_ref, AtSpan, BindResult, Binder, Relation};
use crate::types::ColumnDef;
use datafusion::logical_expr::{LogicalPlanBuilder, SortExpr};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

/// A sort key that orders rows at random.
fn random_order() -> SortExpr {
    SortExpr::new(datafusion::functions::expr_fn::random(), true, false)
}

impl Binder<'_> {
    /// `sample N`: N rows picked uniformly at random (all rows when fewer).
    pub(super) fn sample(&mut self, input: Relation, count: &ast::Expr, span: Span) -> BindResult<Relation> {
        let n = self.count_value(count)?;
        let plan = LogicalPlanBuilder::from(input.plan)
            .sort_with_limit(vec![random_order()], Some(n))
            .and_then(|b| b.build())
            .at(span)?;
        Ok(Relation { plan, columns: input.columns })
    }

    /// `sample-distinct N of Column`: up to N distinct values of the column,
    /// picked at random.
    pub(super) fn sample_distinct(
        &mut self,
        input: Relation,
        count: &ast::Expr,
        of: &ast::Expr,
        span: Span,
    ) -> BindResult<Relation> {
        let n = self.count_value(count)?;
        let ast::ExprKind::Name(column) = &of.kind else {
            return Err(super::BindError::new(of.span, "sample-distinct needs a column name after 'of'"));
        };
        let bound = self.scalar(of, &mut RowScope::new(&input.columns))?;
        let plan = LogicalPlanBuilder::from(input.plan)
            .project(vec![bound.expr.alias(&column.name)])
            .and_then(|b| b.distinct())
            // The value as a second key keeps the column read below the
            // sort: DataFusion 55 fails on a random() sort over no columns
            // (`sample-distinct … | count`).
            .and_then(|b| b.sort_with_limit(vec![random_order(), col_ref(&column.name).sort(true, false)], Some(n)))
            .and_then(|b| b.project(vec![col_ref(&column.name)]))
            .and_then(|b| b.build())
            .at(span)?;
        Ok(Relation { plan, columns: vec![ColumnDef::new(column.name.clone(), bound.ty)] })
    }
}
