//! `mv-apply`: expand arrays, then run a subquery on each input row's
//! elements.
//!
//! Rather than one subquery per row, the subquery runs once over all
//! expanded rows, made per-row: every row carries a hidden row id, and the
//! operators that look across rows are rewritten to work within it
//! (`summarize` groups by it, `top`/`take` rank within it, `sort` sorts by
//! it first). The input's columns ride along as hidden copies, so columns
//! the subquery drops (by `summarize` or `project`) come back at the end.

use super::tabular::{param_name, project_plan};
use super::AtSpan;
use super::{col_ref, naming, BindError, BindResult, Binder, Binding, Relation};
use crate::convert::{implicit, Bound};
use crate::functions;
use crate::types::{ColumnDef, KqlType};
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::{Array, ArrayRef, Int64Builder, ListBuilder};
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::cast::as_list_array;
use datafusion::common::{Result, UnnestOptions};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{lit, ColumnarValue, Expr, ExprFunctionExt, LogicalPlanBuilder, SortExpr};
use kqlite_syntax::ast::{self, ExprKind, NamedExpr, OperatorKind};
use kqlite_syntax::Span;
use std::collections::HashMap;
use std::sync::Arc;

/// The hidden columns of the expanded rows.
struct Hidden {
    row: String,
    /// The element's position, for `take`: the `with_itemindex` column or a hidden one.
    index: String,
    index_is_hidden: bool,
    /// Input column name → hidden copy.
    copies: Vec<(String, String)>,
}

impl Hidden {
    fn is_hidden(&self, name: &str) -> bool {
        name == self.row || (self.index_is_hidden && name == self.index) || self.copies.iter().any(|(_, c)| c == name)
    }
}

fn name_expr(name: &str, span: Span) -> ast::Expr {
    ast::Expr::new(ExprKind::Name(ast::Ident::new(name, span)), span)
}

fn named(name: Option<&str>, expr: ast::Expr) -> NamedExpr {
    let span = expr.span;
    NamedExpr { names: name.map(|n| vec![ast::Ident::new(n, span)]).unwrap_or_default(), tuple: false, expr, span }
}

fn call(func: &str, args: Vec<ast::Expr>, span: Span) -> ast::Expr {
    let args = args.into_iter().map(|value| ast::Arg { name: None, value }).collect();
    ast::Expr::new(ExprKind::Call { func: ast::Ident::new(func, span), args }, span)
}

impl<'r> Binder<'r> {
    #[allow(clippy::too_many_arguments)]
    pub(super) fn mv_apply(
        &mut self,
        input: Relation,
        params: &[ast::OperatorParam],
        items: &[ast::MvExpandItem],
        limit: Option<&ast::Expr>,
        on: &ast::Expr,
        span: Span,
    ) -> BindResult<Relation> {
        let operators = sub_pipeline(on)?;
        let limit = match limit {
            Some(l) => Some(self.constant(l)?),
            None => None,
        };
        // The arrays to expand, as lists, and their element names and types.
        let mut lists: Vec<(String, String, Option<KqlType>)> = Vec::new();
        let mut list_exprs: Vec<Expr> = Vec::new();
        for item in items {
            let name = match item.column.names.as_slice() {
                [one] => one.name.clone(),
                [] => naming::expression_name(&item.column.expr).unwrap_or_else(|| {
                    let taken: Vec<String> = lists.iter().map(|(n, _, _)| n.clone()).collect();
                    naming::unique_name("Column1", &taken)
                }),
                _ => return Err(BindError::new(item.column.span, "mv-apply takes one name per expression")),
            };
            let (list_expr, list, to_type) = self.expand_list(item, &input.columns, &limit, "mvl")?;
            list_exprs.push(list_expr);
            lists.push((name, list, to_type));
        }
        // Expanded items replace input columns of the same name.
        let outer: Vec<ColumnDef> =
            input.columns.iter().filter(|c| !lists.iter().any(|(n, _, _)| *n == c.name)).cloned().collect();
        let index_param = param_name(params, "with_itemindex");
        let hidden = Hidden {
            row: self.fresh("mvrow"),
            index_is_hidden: index_param.is_none(),
            index: index_param.unwrap_or_else(|| self.fresh("mvidx")),
            copies: outer.iter().map(|c| (c.name.clone(), self.fresh("mvcol"))).collect(),
        };

        // Number the input rows, then expand.
        let numbered = LogicalPlanBuilder::from(input.plan.clone())
            .window(vec![row_number().alias(&hidden.row)])
            .and_then(|b| b.build())
            .at(span)?;
        let mut exprs: Vec<Expr> = outer.iter().map(|c| col_ref(&c.name)).collect();
        exprs.extend(hidden.copies.iter().map(|(n, c)| col_ref(n).alias(c)));
        exprs.push(col_ref(&hidden.row));
        exprs.extend(list_exprs);
        let index_list = self.fresh("mvil");
        let mut with_index: Vec<Expr> = outer.iter().map(|c| col_ref(&c.name)).collect();
        with_index.extend(hidden.copies.iter().map(|(_, c)| col_ref(c)));
        with_index.push(col_ref(&hidden.row));
        with_index.extend(lists.iter().map(|(_, l, _)| col_ref(l)));
        with_index.push(index_list_expr(lists.iter().map(|(_, l, _)| col_ref(l)).collect()).alias(&index_list));
        let mut unnest: Vec<datafusion::common::Column> =
            lists.iter().map(|(_, l, _)| datafusion::common::Column::from_name(l)).collect();
        unnest.push(datafusion::common::Column::from_name(&index_list));
        let expanded = project_plan(numbered, exprs)
            .and_then(|plan| project_plan(plan, with_index))
            .and_then(|plan| {
                LogicalPlanBuilder::from(plan)
                    .unnest_columns_with_options(unnest, UnnestOptions::new().with_preserve_nulls(false))?
                    .build()
            })
            .at(span)?;
        // The subquery's input: the input's columns, the elements, the index, the hidden columns.
        let mut outputs: Vec<(String, Bound)> =
            outer.iter().map(|c| (c.name.clone(), Bound::new(col_ref(&c.name), c.ty))).collect();
        for (name, list, to_type) in &lists {
            let element = Bound::new(col_ref(list), KqlType::Dynamic);
            let element = match to_type {
                Some(ty) => {
                    implicit(element.clone(), *ty).unwrap_or_else(|| functions::conversion::from_dynamic(element, *ty))
                }
                None => element,
            };
            outputs.push((name.clone(), element));
        }
        outputs.push((hidden.index.clone(), Bound::new(col_ref(&index_list), KqlType::Long)));
        outputs.push((hidden.row.clone(), Bound::new(col_ref(&hidden.row), KqlType::Long)));
        for (name, copy) in &hidden.copies {
            let ty = outer.iter().find(|c| c.name == *name).expect("an input column").ty;
            outputs.push((copy.clone(), Bound::new(col_ref(copy), ty)));
        }
        for (i, (name, _)) in outputs.iter().enumerate() {
            if outputs[..i].iter().any(|(n, _)| n == name) {
                return Err(BindError::new(span, format!("mv-apply produces column '{name}' twice")));
            }
        }
        let exprs: Vec<Expr> = outputs.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        let plan = project_plan(expanded, exprs).at(span)?;
        let mut relation =
            Relation { plan, columns: outputs.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect() };

        // Grouping loses the input's row order; sorting and top restore it.
        let mut unordered = false;
        for op in operators {
            relation = self.apply_per_row(relation, op, &hidden)?;
            if relation.column(&hidden.row).is_none() {
                return Err(BindError::new(op.span, "mv-apply cannot follow rows through this operator"));
            }
            match op.kind {
                OperatorKind::Summarize { .. } | OperatorKind::Count | OperatorKind::Distinct { .. } => {
                    unordered = true
                }
                OperatorKind::Sort { .. } | OperatorKind::Top { .. } => unordered = false,
                _ => {}
            }
        }
        if unordered {
            let plan = LogicalPlanBuilder::from(relation.plan)
                .sort(vec![SortExpr::new(col_ref(&hidden.row), true, false)])
                .and_then(|b| b.build())
                .at(span)?;
            relation = Relation { plan, columns: relation.columns };
        }

        // The input's columns in place (the subquery's value wins), then the subquery's own.
        let mut result: Vec<(String, Bound)> = Vec::new();
        for (c, (_, copy)) in outer.iter().zip(&hidden.copies) {
            let value = match relation.column(&c.name) {
                Some(sub) => Bound::new(col_ref(&c.name), sub.ty),
                None => {
                    let b = Bound::new(col_ref(copy), c.ty);
                    // take_any() may have turned empty strings into nulls.
                    if c.ty == KqlType::String {
                        crate::convert::to_string(b)
                    } else {
                        b
                    }
                }
            };
            result.push((c.name.clone(), value));
        }
        for c in &relation.columns {
            if !hidden.is_hidden(&c.name) && !outer.iter().any(|o| o.name == c.name) {
                result.push((c.name.clone(), Bound::new(col_ref(&c.name), c.ty)));
            }
        }
        let exprs: Vec<Expr> = result.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        let plan = project_plan(relation.plan, exprs).at(span)?;
        Ok(Relation { plan, columns: result.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect() })
    }

    /// Binds `input | op` through the ordinary operator binder.
    fn bind_operator(&mut self, input: Relation, kind: OperatorKind, span: Span) -> BindResult<Relation> {
        let name = self.fresh("mvin");
        let pipe = ast::Expr::new(
            ExprKind::Pipe {
                input: Box::new(name_expr(&name, span)),
                operator: Box::new(ast::Operator { kind, span }),
            },
            span,
        );
        self.scopes.push(HashMap::from([(name, Binding::Tabular(input))]));
        let result = self.tabular(&pipe);
        self.scopes.pop();
        result
    }

    /// One subquery operator, confined to each input row's elements.
    fn apply_per_row(&mut self, rel: Relation, op: &ast::Operator, hidden: &Hidden) -> BindResult<Relation> {
        let span = op.span;
        let present = |rel: &Relation, name: &str| rel.column(name).is_some();
        let row = || name_expr(&hidden.row, span);
        // Hidden columns a projection must keep.
        let keep: Vec<String> =
            rel.columns.iter().filter(|c| hidden.is_hidden(&c.name)).map(|c| c.name.clone()).collect();
        let copies: Vec<String> =
            hidden.copies.iter().filter(|(_, c)| present(&rel, c)).map(|(_, c)| c.clone()).collect();
        // `summarize` carries the input's columns through as take_any() of their copies.
        let carry = |aggregates: &mut Vec<NamedExpr>| {
            let has_star = aggregates.iter().any(|a| match &a.expr.kind {
                ExprKind::Call { args, .. } => args.iter().any(|x| matches!(x.value.kind, ExprKind::Star)),
                _ => false,
            });
            if !has_star {
                for c in &copies {
                    aggregates.push(named(Some(c), call("take_any", vec![name_expr(c, span)], span)));
                }
            }
        };
        match &op.kind {
            OperatorKind::Where { .. }
            | OperatorKind::Extend { .. }
            | OperatorKind::Parse { .. }
            | OperatorKind::ParseKv { .. }
            | OperatorKind::MvExpand { .. }
            | OperatorKind::ProjectAway { .. }
            | OperatorKind::ProjectRename { .. }
            | OperatorKind::ProjectReorder { .. }
            | OperatorKind::Render { .. }
            | OperatorKind::Serialize { .. } => self.bind_operator(rel, op.kind.clone(), span),
            OperatorKind::Project { columns } => {
                let mut columns = columns.clone();
                columns.extend(keep.iter().map(|h| named(None, name_expr(h, span))));
                self.bind_operator(rel, OperatorKind::Project { columns }, span)
            }
            OperatorKind::ProjectKeep { columns } => {
                let mut columns = columns.clone();
                columns.extend(keep.iter().map(|h| name_expr(h, span)));
                self.bind_operator(rel, OperatorKind::ProjectKeep { columns }, span)
            }
            OperatorKind::Summarize { params, aggregates, by } => {
                let mut aggregates = aggregates.clone();
                carry(&mut aggregates);
                let mut by = by.clone();
                by.insert(0, named(None, row()));
                self.bind_operator(rel, OperatorKind::Summarize { params: params.clone(), aggregates, by }, span)
            }
            OperatorKind::Count => {
                let mut aggregates = vec![named(Some("Count"), call("count", Vec::new(), span))];
                carry(&mut aggregates);
                let by = vec![named(None, row())];
                self.bind_operator(rel, OperatorKind::Summarize { params: Vec::new(), aggregates, by }, span)
            }
            OperatorKind::Distinct { params, columns } => {
                let mut columns = if matches!(columns.as_slice(), [c] if matches!(c.expr.kind, ExprKind::Star)) {
                    rel.columns
                        .iter()
                        .filter(|c| !hidden.is_hidden(&c.name))
                        .map(|c| named(None, name_expr(&c.name, span)))
                        .collect()
                } else {
                    columns.clone()
                };
                columns.push(named(None, row()));
                columns.extend(copies.iter().map(|c| named(None, name_expr(c, span))));
                self.bind_operator(rel, OperatorKind::Distinct { params: params.clone(), columns }, span)
            }
            OperatorKind::Top { count, by } => {
                let n = self.count_value(count)?;
                let key = self.sort_key(by, &rel.columns)?;
                let rank = row_number().partition_by(vec![col_ref(&hidden.row)]).order_by(vec![key.clone()]);
                let ordered = vec![SortExpr::new(col_ref(&hidden.row), true, false), key];
                self.keep_first(rel, rank.build().at(span)?, n, Some(ordered), span)
            }
            OperatorKind::Take { count, .. } | OperatorKind::Sample { count } => {
                let n = self.count_value(count)?;
                let rank = row_number().partition_by(vec![col_ref(&hidden.row)]);
                let rank = if present(&rel, &hidden.index) {
                    rank.order_by(vec![SortExpr::new(col_ref(&hidden.index), true, false)])
                } else {
                    rank
                };
                self.keep_first(rel, rank.build().at(span)?, n, None, span)
            }
            OperatorKind::Sort { keys, .. } => {
                let mut sort = vec![SortExpr::new(col_ref(&hidden.row), true, false)];
                for k in keys {
                    sort.push(self.sort_key(k, &rel.columns)?);
                }
                let plan = LogicalPlanBuilder::from(rel.plan).sort(sort).and_then(|b| b.build()).at(span)?;
                Ok(Relation { plan, columns: rel.columns })
            }
            other => Err(BindError::new(
                span,
                format!(
                    "the {} operator is not supported inside mv-apply; use where, extend, project, summarize, top, take, sort, distinct, count, mv-expand or parse",
                    other.name()
                ),
            )),
        }
    }

    /// Keeps the rows whose `rank` is at most `n`, optionally sorted.
    fn keep_first(
        &mut self,
        rel: Relation,
        rank: Expr,
        n: usize,
        sort: Option<Vec<SortExpr>>,
        span: Span,
    ) -> BindResult<Relation> {
        let name = self.fresh("mvrank");
        let columns: Vec<Expr> = rel.columns.iter().map(|c| col_ref(&c.name)).collect();
        let mut builder = LogicalPlanBuilder::from(rel.plan)
            .window(vec![rank.alias(&name)])
            .and_then(|b| b.filter(col_ref(&name).lt_eq(lit(n as u64))))
            .at(span)?;
        if let Some(sort) = sort {
            builder = builder.sort(sort).at(span)?;
        }
        let plan = builder.project(columns).and_then(|b| b.build()).at(span)?;
        Ok(Relation { plan, columns: rel.columns })
    }
}

/// The operators of `on (…)`, first to last; the pipeline must start from
/// the implicit input.
fn sub_pipeline(on: &ast::Expr) -> BindResult<Vec<&ast::Operator>> {
    let mut operators = Vec::new();
    let mut expr = on;
    loop {
        match &expr.kind {
            ExprKind::Paren(inner) => expr = inner,
            ExprKind::Pipe { input, operator } => {
                operators.push(operator.as_ref());
                expr = input;
            }
            ExprKind::Source(op) if matches!(op.kind, OperatorKind::Input) => break,
            _ => {
                return Err(BindError::new(
                    expr.span,
                    "the mv-apply subquery must start with an operator on its implicit input, as in on (summarize …)",
                ))
            }
        }
    }
    operators.reverse();
    Ok(operators)
}

/// `[0, 1, …]` as long as the longest of the lists: the element index.
pub(super) fn index_list_expr(lists: Vec<Expr>) -> Expr {
    let item = Arc::new(Field::new_list_field(DataType::Int64, true));
    udf::call("kql_mv_apply_index", DataType::List(item), index_list_kernel, lists)
}

fn index_list_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays: Vec<ArrayRef> = args.iter().map(|a| a.to_array(n)).collect::<Result<_>>()?;
    let lists = arrays.iter().map(|a| as_list_array(a)).collect::<Result<Vec<_>>>()?;
    let mut builder = ListBuilder::new(Int64Builder::new());
    for i in 0..n {
        let len = lists.iter().map(|l| if l.is_null(i) { 0 } else { l.value_length(i) as i64 }).max().unwrap_or(0);
        for j in 0..len {
            builder.values().append_value(j);
        }
        builder.append(true);
    }
    maybe_scalar(args, Arc::new(builder.finish()))
}
