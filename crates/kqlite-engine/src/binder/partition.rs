//! `partition by Column (subquery)`: the subquery runs once per distinct
//! value of the column, on the rows with that value, and the results are
//! put together (a union).
//!
//! The keys are read from the data when the query is bound; each key's
//! subquery is then an ordinary plan over a filter of the input.

use super::{col_ref, AtSpan, BindError, BindResult, Binder, Relation};
use datafusion::logical_expr::{lit, Expr, LogicalPlanBuilder};
use kqlite_syntax::ast::{self, ExprKind, OperatorKind};
use kqlite_syntax::Span;

/// The most partitions a query may make (Kusto's native strategy stops far
/// earlier; a subquery per key is bound, so this bounds binding time).
const MAX_PARTITIONS: usize = 10_000;

impl Binder<'_> {
    /// `T | partition [hint.…] by Column (subquery)` and the `{ … }` form.
    pub(super) fn partition(
        &mut self,
        input: Relation,
        by: &ast::Ident,
        body: &ast::Expr,
        span: Span,
    ) -> BindResult<Relation> {
        let Some(key) = input.columns.iter().find(|c| c.name == by.name) else {
            return Err(BindError::new(by.span, format!("partition needs a column of the input, not '{}'", by.name)));
        };
        if key.ty == crate::types::KqlType::Dynamic {
            return Err(BindError::new(by.span, "partition cannot split by a dynamic column"));
        }
        let keys_plan = LogicalPlanBuilder::from(input.plan.clone())
            .project(vec![col_ref(&key.name)])
            .and_then(|b| b.distinct())
            .and_then(|b| b.build())
            .at(span)?;
        let keys = self.collect_rows(Relation { plan: keys_plan, columns: vec![key.clone()] }, span)?;
        if keys.len() > MAX_PARTITIONS {
            return Err(BindError::new(
                span,
                format!("partition would make {} partitions, more than {MAX_PARTITIONS}", keys.len()),
            ));
        }
        let no_keys = keys.is_empty();
        let filters: Vec<Expr> = if no_keys {
            // No rows: the subquery still gives the result its columns.
            vec![lit(false)]
        } else {
            keys.into_iter()
                .map(|row| match row.into_iter().next() {
                    Some(value) if value.is_null() => col_ref(&key.name).is_null(),
                    Some(value) => col_ref(&key.name).eq(lit(value)),
                    None => lit(false),
                })
                .collect()
        };
        let mut parts = Vec::new();
        for filter in filters {
            let plan = LogicalPlanBuilder::from(input.plan.clone()).filter(filter).and_then(|b| b.build()).at(span)?;
            let part = Relation { plan, columns: input.columns.clone() };
            parts.push((None, self.sub_pipeline_on(part, body)?));
        }
        if no_keys {
            // No partitions, no rows; the subquery only gives the columns.
            let empty = parts.pop().expect("one part").1;
            let plan = LogicalPlanBuilder::from(empty.plan).limit(0, Some(0)).and_then(|b| b.build()).at(span)?;
            return Ok(Relation { plan, columns: empty.columns });
        }
        if parts.len() == 1 {
            return Ok(parts.pop().expect("one part").1);
        }
        self.union(parts, &[], span)
    }

    /// Binds a sub-pipeline (`(where … | take 1)`) with `input` as its
    /// implicit input; a body that starts from a table is bound as it is.
    pub(super) fn sub_pipeline_on(&mut self, input: Relation, body: &ast::Expr) -> BindResult<Relation> {
        match &body.kind {
            ExprKind::Paren(inner) => self.sub_pipeline_on(input, inner),
            ExprKind::Source(op) if matches!(op.kind, OperatorKind::Input) => Ok(input),
            ExprKind::Pipe { input: first, operator } if starts_from_input(first) => {
                let relation = self.sub_pipeline_on(input, first)?;
                self.operator(relation, operator)
            }
            _ => self.tabular(body),
        }
    }
}

/// Whether a pipeline starts from the implicit input of a sub-pipeline.
fn starts_from_input(expr: &ast::Expr) -> bool {
    match &expr.kind {
        ExprKind::Paren(inner) => starts_from_input(inner),
        ExprKind::Source(op) => matches!(op.kind, OperatorKind::Input),
        ExprKind::Pipe { input, .. } => starts_from_input(input),
        _ => false,
    }
}
