//! `facet by Col, … [with (subquery)]`: the `with` table, then for each
//! column a table of its values and their counts (`Col`, `count_Col`).
//!
//! Each is a result of the query (see `fork.rs`): the `with` table is named
//! like an unnamed fork branch (`GenericResult`), each column's table by the
//! column.

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
            tables.push((super::fork::generic_result_name(0), self.sub_pipeline_on(input.clone(), with)?));
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
            tables.push((column.name.clone(), Relation { plan, columns }));
        }
        if tables.is_empty() {
            return Err(BindError::new(span, "facet needs at least one column"));
        }
        self.keep_several_results("facet", tables, span)
    }

    /// `consume`: reads its input and returns no rows.
    pub(super) fn consume(&mut self, input: Relation, span: Span) -> BindResult<Relation> {
        let plan = LogicalPlanBuilder::from(input.plan).limit(0, Some(0)).and_then(|b| b.build()).at(span)?;
        Ok(Relation { plan, columns: input.columns })
    }
}
