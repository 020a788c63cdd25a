//! `top-hitters N of Expr [by Sum]`: the N most frequent values of Expr (or
//! those with the largest sum of Sum). Kusto approximates; kqlite counts
//! exactly, which is one of the answers the approximation allows.

use super::scalar::RowScope;
use super::{col_ref, naming, AtSpan, BindError, BindResult, Binder, Relation};
use crate::types::{ColumnDef, KqlType};
use datafusion::logical_expr::{LogicalPlanBuilder, SortExpr};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

impl Binder<'_> {
    pub(super) fn top_hitters(
        &mut self,
        input: Relation,
        count: &ast::Expr,
        of: &ast::Expr,
        by: Option<&ast::Expr>,
        span: Span,
    ) -> BindResult<Relation> {
        let n = self.count_value(count)?;
        let key = self.scalar(of, &mut RowScope::new(&input.columns))?;
        let key_name = naming::expression_name(of).unwrap_or_else(|| "Column1".to_string());
        let (measure_name, measure, ty) = match by {
            None => (
                format!("approximate_count_{key_name}"),
                datafusion::functions_aggregate::expr_fn::count(datafusion::logical_expr::lit(1i64)),
                KqlType::Long,
            ),
            Some(by) => {
                let b = self.scalar(by, &mut RowScope::new(&input.columns))?;
                if !b.ty.is_numeric() {
                    return Err(BindError::new(by.span, format!("top-hitters sums a number, not {}", b.ty)));
                }
                let name = naming::expression_name(by).unwrap_or_else(|| "Column2".to_string());
                let ty = if b.ty == KqlType::Int { KqlType::Long } else { b.ty };
                let sum =
                    datafusion::functions_aggregate::expr_fn::sum(datafusion::logical_expr::cast(b.expr, ty.arrow()));
                (format!("approximate_sum_{name}"), sum, ty)
            }
        };
        let plan = LogicalPlanBuilder::from(input.plan)
            .aggregate(vec![key.expr.alias(&key_name)], vec![measure.alias(&measure_name)])
            .and_then(|b| b.sort_with_limit(vec![SortExpr::new(col_ref(&measure_name), false, false)], Some(n)))
            .and_then(|b| b.project(vec![col_ref(&key_name), col_ref(&measure_name)]))
            .and_then(|b| b.build())
            .at(span)?;
        Ok(Relation { plan, columns: vec![ColumnDef::new(key_name, key.ty), ColumnDef::new(measure_name, ty)] })
    }
}
