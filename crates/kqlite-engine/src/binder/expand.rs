//! `mv-expand`: one output row per element of a dynamic array (or per
//! property of a bag).

use super::mv_apply::index_list_expr;
use super::scalar::RowScope;
use super::tabular::{param_name, project_outputs, project_plan, set_output};
use super::AtSpan;
use super::{col_ref, naming, BindError, BindResult, Binder, Relation};
use crate::convert::{implicit, to_dynamic, Bound};
use crate::functions;
use crate::types::{ColumnDef, KqlType};
use datafusion::common::UnnestOptions;
use datafusion::logical_expr::{Expr, LogicalPlanBuilder};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

impl<'r> Binder<'r> {
    /// An item's array as a list (at most `limit` elements): the list
    /// expression, aliased to a fresh name starting with `prefix`, that
    /// name, and the element type its `to typeof(…)` asks for.
    pub(super) fn expand_list(
        &mut self,
        item: &ast::MvExpandItem,
        columns: &[ColumnDef],
        limit: &Option<Bound>,
        prefix: &str,
    ) -> BindResult<(Expr, String, Option<KqlType>)> {
        let value = to_dynamic(self.scalar(&item.column.expr, &mut RowScope::new(columns))?);
        let name = self.fresh(prefix);
        let list = functions::dynamic::expand_items(value, limit.clone()).alias(&name);
        let to_type = match &item.to_type {
            Some(t) => Some(self.type_name(t)?),
            None => None,
        };
        Ok((list, name, to_type))
    }

    pub(super) fn mv_expand(
        &mut self,
        input: Relation,
        params: &[ast::OperatorParam],
        items: &[ast::MvExpandItem],
        limit: Option<&ast::Expr>,
        span: Span,
    ) -> BindResult<Relation> {
        let limit = match limit {
            Some(l) => Some(self.constant(l)?),
            None => None,
        };
        // Project the arrays to expand as lists next to the input columns.
        let mut exprs: Vec<Expr> = input.columns.iter().map(|c| col_ref(&c.name)).collect();
        let mut expanded: Vec<(String, String, Option<KqlType>)> = Vec::new();
        for item in items {
            let name = match item.column.names.as_slice() {
                [one] => one.name.clone(),
                // Kusto names an unnamed expression after the column it reads.
                [] => naming::expression_name(&item.column.expr)
                    .or_else(|| naming::first_column(&item.column.expr))
                    .ok_or_else(|| {
                        BindError::new(item.column.span, "name the expanded expression: mv-expand Name = expression")
                    })?,
                _ => return Err(BindError::new(item.column.span, "mv-expand takes one name per expression")),
            };
            let (list, list_name, to_type) = self.expand_list(item, &input.columns, &limit, "mv")?;
            exprs.push(list);
            expanded.push((name, list_name, to_type));
        }
        let mut lists: Vec<datafusion::common::Column> =
            expanded.iter().map(|(_, l, _)| datafusion::common::Column::from_name(l)).collect();
        let mut plan = project_plan(input.plan.clone(), exprs).at(span)?;
        // `with_itemindex=Name`: each element's 0-based position, a list of
        // positions expanded beside the elements (as long as the longest).
        let index = param_name(params, "with_itemindex").map(|name| (name, self.fresh("mvidx")));
        if let Some((_, index_list)) = &index {
            let mut with_index: Vec<Expr> = input.columns.iter().map(|c| col_ref(&c.name)).collect();
            with_index.extend(expanded.iter().map(|(_, l, _)| col_ref(l)));
            let positions = index_list_expr(expanded.iter().map(|(_, l, _)| col_ref(l)).collect());
            with_index.push(positions.alias(index_list));
            plan = project_plan(plan, with_index).at(span)?;
            lists.push(datafusion::common::Column::from_name(index_list));
        }
        let plan = LogicalPlanBuilder::from(plan)
            .unnest_columns_with_options(lists, UnnestOptions::new().with_preserve_nulls(false))
            .and_then(|b| b.build())
            .at(span)?;
        // Put each element where its column was (or at the end), typed.
        let mut outputs = Self::keep_all(&input);
        for (name, list_name, to_type) in expanded {
            let element = Bound::new(col_ref(&list_name), KqlType::Dynamic);
            let element = match to_type {
                Some(ty) => implicit(element, ty).unwrap_or_else(|| {
                    functions::conversion::from_dynamic(Bound::new(col_ref(&list_name), KqlType::Dynamic), ty)
                }),
                None => element,
            };
            set_output(&mut outputs, name, element);
        }
        if let Some((name, index_list)) = index {
            set_output(&mut outputs, name, Bound::new(col_ref(&index_list), KqlType::Long));
        }
        project_outputs(plan, outputs, span)
    }
}
