//! `facet by Col, … [with (subquery)]`: the `with` table, then for each
//! column a table of its values and their counts (`Col`, `count_Col`).
//!
//! A kqlite query returns one table: the first of these is the result (the
//! `with` table when there is one) and a notice names the others.

use super::scalar::RowScope;
use super::{col_ref, AtSpan, BindError, BindResult, Binder, Relation};
use crate::types::{ColumnDef, KqlType};
use datafusion::logical_expr::{lit, LogicalPlanBuilder};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

impl Binder<'_> {
    pub(super) fn facet(
        &mut self,
        input: Relation,
        by: &[ast::Ident],
        with: Option<&ast::Expr>,
        span: Span,
    ) -> BindResult<Relation> {
        let mut tables: Vec<(String, Relation)> = Vec::new();
        if let Some(with) = with {
            tables.push(("the with clause".to_string(), self.sub_pipeline_on(input.clone(), with)?));
        }
        for column in by {
            let key = ast::Expr::new(ast::ExprKind::Name(column.clone()), column.span);
            let bound = self.scalar(&key, &mut RowScope::new(&input.columns))?;
            let count_name = format!("count_{}", column.name);
            let count = datafusion::functions_aggregate::expr_fn::count(lit(1i64)).alias(&count_name);
            let plan = LogicalPlanBuilder::from(input.plan.clone())
                .aggregate(vec![bound.expr.alias(&column.name)], vec![count])
                .and_then(|b| b.project(vec![col_ref(&column.name), col_ref(&count_name)]))
                .and_then(|b| b.build())
                .at(span)?;
            let columns =
                vec![ColumnDef::new(column.name.clone(), bound.ty), ColumnDef::new(count_name, KqlType::Long)];
            tables.push((format!("the {} facet", column.name), Relation { plan, columns }));
        }
        let mut tables = tables.into_iter();
        let Some((_, first)) = tables.next() else {
            return Err(BindError::new(span, "facet needs at least one column"));
        };
        let rest: Vec<String> = tables.map(|(name, _)| name).collect();
        if !rest.is_empty() {
            self.notices.push(format!(
                "facet makes {} tables and a kqlite query returns one: this is the first; {} left out (run `summarize count() by Col` for each)",
                rest.len() + 1,
                rest.join(", ")
            ));
        }
        Ok(first)
    }

    /// `consume`: reads its input and returns no rows.
    pub(super) fn consume(&mut self, input: Relation, span: Span) -> BindResult<Relation> {
        let plan = LogicalPlanBuilder::from(input.plan).limit(0, Some(0)).and_then(|b| b.build()).at(span)?;
        Ok(Relation { plan, columns: input.columns })
    }
}
