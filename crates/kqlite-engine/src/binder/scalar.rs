//! Binding scalar expressions: names, literals, operators, calls.

use super::AtSpan;
use super::{col_ref, BindError, BindResult, Binder, Binding, Either, Relation};
use crate::convert::{implicit, Bound};
use crate::dynamic::{DynKind, DynRef, DynValue};
use crate::functions::row_window::RowWindow;
use crate::functions::{self, string_ops};
use crate::types::{ColumnDef, KqlType};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{InList, InSubquery};
use datafusion::logical_expr::{cast, lit, when, BinaryExpr, Expr, LogicalPlanBuilder, Operator, Subquery};
use kqlite_syntax::ast::{self, BinaryOp, ExprKind, ListOp, Literal, UnaryOp};
use kqlite_syntax::suggest::{suggest, MaxDistance};
use kqlite_syntax::Span;
use std::collections::HashMap;
use std::sync::Arc;

/// The row context a scalar expression is bound in.
pub(super) struct RowScope<'a> {
    pub columns: &'a [ColumnDef],
    /// In a join condition: the left and right columns, and the plan names
    /// under which the right side's columns are visible.
    pub join: Option<JoinSides<'a>>,
    /// In `summarize`: aggregate calls found so far, as (alias, aggregate).
    pub aggregates: Option<Vec<(String, Expr)>>,
    /// In `extend`/`project`: window calls (`prev`, `next`, `row_number`)
    /// found so far, as (alias, window expression).
    pub windows: Option<Vec<(String, Expr)>>,
}

pub(super) struct JoinSides<'a> {
    pub left: &'a [ColumnDef],
    pub right: &'a [ColumnDef],
    /// Plan name of a right-side column.
    pub right_name: &'a dyn Fn(&str) -> String,
}

impl<'a> RowScope<'a> {
    pub fn new(columns: &'a [ColumnDef]) -> RowScope<'a> {
        RowScope { columns, join: None, aggregates: None, windows: None }
    }

    pub fn empty() -> RowScope<'static> {
        RowScope { columns: &[], join: None, aggregates: None, windows: None }
    }
}

fn err<T>(span: Span, message: impl Into<String>) -> BindResult<T> {
    Err(BindError::new(span, message))
}

impl<'r> Binder<'r> {
    /// Binds an expression that must be a constant (no columns in scope).
    pub(super) fn constant(&mut self, expr: &ast::Expr) -> BindResult<Bound> {
        self.scalar(expr, &mut RowScope::empty())
    }

    /// Binds an expression that is either tabular or scalar (let values,
    /// statements).
    pub(super) fn tabular_or_scalar(&mut self, expr: &ast::Expr) -> BindResult<Either> {
        if self.is_tabular(expr) {
            Ok(Either::Tabular(self.tabular(expr)?))
        } else {
            Ok(Either::Scalar(self.constant(expr)?))
        }
    }

    /// Whether an expression denotes a table (decided syntactically, plus
    /// what `let` names and functions stand for).
    pub(super) fn is_tabular(&self, expr: &ast::Expr) -> bool {
        match &expr.kind {
            ExprKind::Pipe { .. } | ExprKind::Source(_) => true,
            ExprKind::Paren(inner) => self.is_tabular(inner),
            ExprKind::Name(id) => match self.lookup(&id.name) {
                Some(Binding::Tabular(_)) => true,
                Some(Binding::Scalar(_)) => false,
                Some(Binding::Function(f)) => f.params.is_empty() && self.body_is_tabular(f),
                None => self.resolver.table(&id.name).is_some(),
            },
            ExprKind::Call { func, .. } => match self.lookup(&func.name) {
                Some(Binding::Function(f)) => self.body_is_tabular(f),
                _ => matches!(func.name.as_str(), "materialize" | "table" | "view"),
            },
            ExprKind::MethodCall { .. } => true,
            _ => false,
        }
    }

    fn body_is_tabular(&self, f: &ast::FunctionDef) -> bool {
        match f.body.statements.last() {
            Some(ast::Statement::Expr(e)) => match &e.kind {
                ExprKind::Pipe { .. } | ExprKind::Source(_) => true,
                ExprKind::Name(id) => {
                    self.resolver.table(&id.name).is_some()
                        || f.params.iter().any(|p| p.name.name == id.name && matches!(p.ty, ast::ParamType::Tabular(_)))
                        || matches!(self.lookup(&id.name), Some(Binding::Tabular(_)))
                }
                _ => self.is_tabular(e),
            },
            _ => false,
        }
    }

    pub(super) fn scalar(&mut self, expr: &ast::Expr, scope: &mut RowScope<'_>) -> BindResult<Bound> {
        match &expr.kind {
            ExprKind::Literal(l) => literal(l, expr.span),
            ExprKind::Name(id) => self.name(&id.name, id.span, scope),
            ExprKind::Paren(inner) => self.scalar(inner, scope),
            ExprKind::Unary { op, operand } => {
                let value = self.scalar(operand, scope)?;
                match (op, value.ty) {
                    (UnaryOp::Plus, t) if t.is_numeric() || t == KqlType::Timespan => Ok(value),
                    (UnaryOp::Neg, t) if t.is_numeric() || t == KqlType::Timespan => {
                        Ok(Bound::new(Expr::Negative(Box::new(value.expr)), t))
                    }
                    (_, t) => err(expr.span, format!("unary minus needs a number or timespan, not {t}")),
                }
            }
            ExprKind::Binary { op, left, right } => self.binary(*op, left, right, expr.span, scope),
            ExprKind::InList { op, target, items } => self.in_list(*op, target, items, expr.span, scope),
            ExprKind::Between { negated, target, low, high } => {
                let value = self.scalar(target, scope)?;
                let low = self.scalar(low, scope)?;
                let mut high = self.scalar(high, scope)?;
                if value.ty == KqlType::Datetime && high.ty == KqlType::Timespan {
                    // `t between (start .. 1d)`: the range's length.
                    high = arithmetic(BinaryOp::Add, low.clone(), high, expr.span)?;
                }
                let lower = comparison(BinaryOp::Ge, value.clone(), low, expr.span)?;
                let upper = comparison(BinaryOp::Le, value, high, expr.span)?;
                let both = lower.expr.and(upper.expr);
                Ok(Bound::new(if *negated { string_ops::total_not(both) } else { both }, KqlType::Bool))
            }
            ExprKind::Member { target, name } => self.member(target, name, scope),
            ExprKind::Index { target, index } => {
                let base = self.scalar(target, scope)?;
                let base = dynamic_operand(base, target.span)?;
                let index = self.scalar(index, scope)?;
                Ok(match index.ty {
                    KqlType::String => functions::dynamic::get_key(base, index),
                    t if t.is_numeric() => {
                        functions::dynamic::get_index(base, implicit(index, KqlType::Long).expect("numeric to long"))
                    }
                    t => return err(expr.span, format!("an index must be a number or a string, not {t}")),
                })
            }
            ExprKind::Call { func, args } => self.call(func, args, expr.span, scope),
            ExprKind::Star => {
                err(expr.span, "'*' is only allowed as a function argument such as count(*) or arg_max(x, *)")
            }
            ExprKind::Pipe { .. } | ExprKind::Source(_) => {
                err(expr.span, "a tabular expression is used where a scalar is expected; wrap it in toscalar(…)")
            }
            ExprKind::TypeOf(_) => err(expr.span, "typeof(…) is only allowed as a plugin or mv-expand argument"),
            ExprKind::MethodCall { .. } | ExprKind::NamePattern(_) | ExprKind::Block(_) => {
                err(expr.span, "this expression is not supported in a scalar context")
            }
            ExprKind::Error => err(expr.span, "the query has syntax errors"),
        }
    }

    fn name(&mut self, name: &str, span: Span, scope: &RowScope<'_>) -> BindResult<Bound> {
        if let Some(column) = scope.columns.iter().find(|c| c.name == name) {
            return Ok(Bound::new(col_ref(name), column.ty));
        }
        if let Some(j) = &scope.join {
            // In a join condition a bare name is a key present on both sides.
            if let Some(c) = j.left.iter().find(|c| c.name == name) {
                return Ok(Bound::new(col_ref(name), c.ty));
            }
        }
        match self.lookup(name) {
            Some(Binding::Scalar(b)) => return Ok(b.clone()),
            Some(Binding::Tabular(_)) => {
                return err(span, format!("'{name}' is a table; use toscalar({name}) to read a single value from it"))
            }
            Some(Binding::Function(f)) if f.params.is_empty() => {
                let f = f.clone();
                return self.scalar_function_body(
                    &f,
                    Vec::new(),
                    span,
                    &mut RowScope { columns: scope.columns, join: None, aggregates: None, windows: None },
                );
            }
            _ => {}
        }
        let candidates = self.visible_names(scope.columns);
        let hint = suggest(name, candidates.iter().map(String::as_str), MaxDistance::Name)
            .map(|s| format!("; did you mean '{s}'?"))
            .unwrap_or_default();
        err(span, format!("unknown name '{name}'{hint}"))
    }

    fn member(&mut self, target: &ast::Expr, name: &ast::Ident, scope: &mut RowScope<'_>) -> BindResult<Bound> {
        if let ExprKind::Name(side) = &target.kind {
            if side.name == "$left" || side.name == "$right" {
                let Some(j) = &scope.join else {
                    return err(side.span, format!("{} is only valid in a join condition", side.name));
                };
                let (columns, plan_name) = if side.name == "$left" {
                    (j.left, name.name.clone())
                } else {
                    (j.right, (j.right_name)(&name.name))
                };
                let Some(c) = columns.iter().find(|c| c.name == name.name) else {
                    let hint = suggest(&name.name, columns.iter().map(|c| c.name.as_str()), MaxDistance::Name)
                        .map(|s| format!("; did you mean '{s}'?"))
                        .unwrap_or_default();
                    return err(name.span, format!("{} has no column '{}'{hint}", side.name, name.name));
                };
                return Ok(Bound::new(col_ref(&plan_name), c.ty));
            }
        }
        let base = self.scalar(target, scope)?;
        let base = dynamic_operand(base, target.span)?;
        Ok(functions::dynamic::get_key(base, Bound::new(lit(name.name.clone()), KqlType::String)))
    }

    fn binary(
        &mut self,
        op: BinaryOp,
        left: &ast::Expr,
        right: &ast::Expr,
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        let l = self.scalar(left, scope)?;
        let r = self.scalar(right, scope)?;
        match op {
            BinaryOp::And | BinaryOp::Or => {
                let l = boolean(l, left.span)?;
                let r = boolean(r, right.span)?;
                let expr = if op == BinaryOp::And { l.and(r) } else { l.or(r) };
                Ok(Bound::new(expr, KqlType::Bool))
            }
            BinaryOp::Add | BinaryOp::Sub | BinaryOp::Mul | BinaryOp::Div | BinaryOp::Mod => arithmetic(op, l, r, span),
            BinaryOp::Eq | BinaryOp::NotEq | BinaryOp::Lt | BinaryOp::Le | BinaryOp::Gt | BinaryOp::Ge => {
                comparison(op, l, r, span)
            }
            BinaryOp::EqCi | BinaryOp::NotEqCi => {
                let lower = |b: Bound| datafusion::functions::expr_fn::lower(crate::convert::to_string(b).expr);
                let eq = lower(l).eq(lower(r));
                Ok(Bound::new(if op == BinaryOp::NotEqCi { string_ops::total_not(eq) } else { eq }, KqlType::Bool))
            }
            BinaryOp::Str(op) => Ok(string_ops::bind_string_op(op, l, r)),
            BinaryOp::SearchColon => err(span, "'Column: term' is only valid in search predicates"),
        }
    }

    fn in_list(
        &mut self,
        op: ListOp,
        target: &ast::Expr,
        items: &[ast::Expr],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        let value = self.scalar(target, scope)?;
        if matches!(op, ListOp::HasAny | ListOp::HasAll | ListOp::HasAnyCs | ListOp::HasAllCs) {
            let terms = self.terms_array(items, scope)?;
            let all = matches!(op, ListOp::HasAll | ListOp::HasAllCs);
            let cs = matches!(op, ListOp::HasAnyCs | ListOp::HasAllCs);
            return Ok(string_ops::bind_has_list(value, terms, all, cs));
        }
        let negated = matches!(op, ListOp::NotIn | ListOp::NotInCi);
        let case_insensitive = matches!(op, ListOp::InCi | ListOp::NotInCi);
        // `x in (T | project y)`: a subquery.
        if let [only] = items {
            if self.is_tabular(only) {
                return self.in_subquery(value, only, negated, case_insensitive, span);
            }
        }
        let mut constants: Vec<Bound> = Vec::new();
        let mut dynamic_lists: Vec<Bound> = Vec::new();
        for item in items {
            let bound = self.scalar(item, scope)?;
            if bound.ty == KqlType::Dynamic {
                match evaluate_constant(&bound.expr) {
                    Some(ScalarValue::Binary(Some(bytes))) => {
                        let d = DynRef::new(&bytes);
                        if d.kind() == DynKind::Array {
                            for element in d.array_items() {
                                if let Some(b) = dynamic_element_literal(element, value.ty) {
                                    constants.push(b);
                                }
                            }
                        } else if let Some(b) = dynamic_element_literal(d, value.ty) {
                            constants.push(b);
                        }
                    }
                    Some(_) => {}
                    None => dynamic_lists.push(bound),
                }
            } else {
                constants.push(bound);
            }
        }
        let mut parts = Vec::new();
        if !constants.is_empty() {
            let mut list = Vec::with_capacity(constants.len());
            let target_ty = constants.iter().fold(value.ty, |t, b| KqlType::numeric_join(t, b.ty).unwrap_or(t));
            let left = coerce_pair(value.clone(), target_ty)
                .ok_or_else(|| BindError::new(span, format!("'in' cannot compare {} values", value.ty)))?;
            for c in constants {
                let ty = c.ty;
                // Kusto's `in` compares mixed text and numbers too.
                let c = match (ty, target_ty) {
                    (KqlType::String, t) if t.is_numeric() => functions::conversion::from_string(c, t),
                    (t, KqlType::String) if t.is_numeric() => crate::convert::to_string(c),
                    _ => c,
                };
                let c = coerce_pair(c, target_ty)
                    .ok_or_else(|| BindError::new(span, format!("'in' list mixes {ty} with {target_ty} values")))?;
                list.push(if case_insensitive { lower(c.expr) } else { c.expr });
            }
            let left = if case_insensitive { lower(left.expr) } else { left.expr };
            parts.push(Expr::InList(InList::new(Box::new(left), list, false)));
        }
        for d in dynamic_lists {
            parts.push(string_ops::bind_in_dynamic(value.clone(), d, case_insensitive).expr);
        }
        let any = parts.into_iter().reduce(Expr::or).unwrap_or_else(|| lit(false));
        Ok(Bound::new(if negated { string_ops::total_not(any) } else { any }, KqlType::Bool))
    }

    /// `value in (T)`: membership in the first column of the relation T, as
    /// an uncorrelated `IN` subquery; `in~` lowercases both sides.
    fn in_subquery(
        &mut self,
        value: Bound,
        table: &ast::Expr,
        negated: bool,
        case_insensitive: bool,
        span: Span,
    ) -> BindResult<Bound> {
        let relation = self.tabular(table)?;
        let Some(column) = relation.columns.first().cloned() else {
            return err(table.span, "the subquery of 'in' has no columns");
        };
        let first = Bound::new(col_ref(&column.name), column.ty);
        let (item, value) = if case_insensitive {
            let fold = |b: Bound| Bound::new(lower(crate::convert::to_string(b).expr), KqlType::String);
            (fold(first), fold(value))
        } else {
            let value = coerce_pair(value, column.ty).ok_or_else(|| {
                BindError::new(span, format!("cannot compare this value with the subquery's {} column", column.ty))
            })?;
            (first, value)
        };
        // Kusto compares with the subquery's first column only. DataFusion
        // turns an `in` under `not`, `or` or `coalesce` into a mark join whose
        // condition names the outer value's columns unqualified, and projects
        // every subquery column that condition resolves to: a subquery column
        // named like an outer one is then ambiguous, and an unqualified one
        // is projected twice ("Projections require unique expression names").
        // A reserved name under a reserved qualifier avoids both.
        let plan = LogicalPlanBuilder::from(relation.plan)
            .project(vec![item.expr.alias(IN_SUBQUERY_COLUMN)])
            .and_then(|b| b.alias(IN_SUBQUERY_ALIAS))
            .and_then(|b| b.build())
            .at(table.span)?;
        let subquery = Subquery { subquery: Arc::new(plan), outer_ref_columns: vec![], spans: Default::default() };
        let expr = Expr::InSubquery(InSubquery::new(Box::new(value.expr), subquery, negated));
        Ok(Bound::new(if negated { total_or_true(expr) } else { expr }, KqlType::Bool))
    }

    /// The right side of `has_any`: one dynamic array of terms.
    fn terms_array(&mut self, items: &[ast::Expr], scope: &mut RowScope<'_>) -> BindResult<Bound> {
        if let [only] = items {
            if self.is_tabular(only) {
                // `has_any (T)`: the values of T's first column.
                let relation = self.tabular(only)?;
                let Some(column) = relation.columns.first() else {
                    return err(only.span, "the table given to has_any has no columns");
                };
                let spec = functions::registry().lookup_aggregate("make_list").expect("make_list is registered");
                let list = (spec.bind)(&self.call, vec![Bound::new(col_ref(&column.name), column.ty)])
                    .map_err(|m| BindError::new(only.span, m))?;
                let plan = LogicalPlanBuilder::from(relation.plan)
                    .aggregate(Vec::<Expr>::new(), vec![list.expr.alias("terms")])
                    .and_then(|b| b.build())
                    .at(only.span)?;
                let relation = Relation { plan, columns: vec![ColumnDef::new("terms", KqlType::Dynamic)] };
                return scalar_subquery(relation, only.span);
            }
            let b = self.scalar(only, scope)?;
            if b.ty == KqlType::Dynamic {
                return Ok(b);
            }
            return Ok(functions::dynamic::pack_array(vec![b]));
        }
        let bound = items.iter().map(|i| self.scalar(i, scope)).collect::<BindResult<Vec<_>>>()?;
        Ok(functions::dynamic::pack_array(bound))
    }

    fn call(
        &mut self,
        func: &ast::Ident,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        let name = func.name.as_str();
        if let Some(Binding::Function(def)) = self.lookup(name) {
            let def = def.clone();
            return self.user_function_call(&def, args, span, scope);
        }
        match name {
            "toscalar" => {
                let [arg] = args else { return err(span, "toscalar() takes one tabular argument") };
                let relation = self.tabular(&arg.value)?;
                return scalar_subquery(relation, arg.value.span);
            }
            "case" => return self.case(args, span, scope),
            "iff" | "iif" => {
                let [c, t, e] = args else {
                    return err(
                        span,
                        format!("{name}() takes 3 arguments (condition, then, else), got {}", args.len()),
                    );
                };
                let c = self.scalar(&c.value, scope)?;
                let c = boolean(c, span)?;
                let t = self.scalar(&t.value, scope)?;
                let e = self.scalar(&e.value, scope)?;
                let (t, e, ty) = unify(t, e)
                    .ok_or_else(|| BindError::new(span, format!("{name}(): then and else must have the same type")))?;
                let expr = when(c, t).otherwise(e).map_err(|e| BindError::new(span, e.to_string()))?;
                return Ok(Bound::new(expr, ty));
            }
            "column_ifexists" | "columnifexists" => {
                let [column, default] = args else {
                    return err(span, "column_ifexists() takes 2 arguments (name, default)");
                };
                let ExprKind::Literal(Literal::String { value: column_name, .. }) = &column.value.kind else {
                    return err(column.value.span, "column_ifexists(): the column name must be a string literal");
                };
                // The result has the default's type, as Microsoft's binder
                // types it: an existing column is converted to it.
                let default = self.scalar(&default.value, scope)?;
                if let Some(c) = scope.columns.iter().find(|c| &c.name == column_name) {
                    let column = Bound::new(col_ref(column_name), c.ty);
                    return Ok(functions::conversion::convert(column, default.ty));
                }
                return Ok(default);
            }
            _ => {}
        }
        if matches!(
            name,
            "prev"
                | "next"
                | "row_number"
                | "row_cumsum"
                | "row_window_session"
                | "row_rank_dense"
                | "row_rank_min"
                | "row_rank"
        ) {
            return self.window_call(name, args, span, scope);
        }
        if let Some(bound) = self.typed_extract(name, args, span, scope)? {
            return Ok(bound);
        }
        if super::multi_output::is_multi_output(name) {
            return err(
                span,
                format!("{name}() returns several columns: use it on its own in extend or project, as `extend {name}(x)` or `extend (a, b) = {name}(x)`"),
            );
        }
        if name == "ingestion_time" && args.is_empty() {
            // Records loaded by kqlite have no ingestion-time policy; Kusto
            // returns null for such tables.
            return Ok(Bound::new(lit(ScalarValue::Int64(None)), KqlType::Datetime));
        }
        let aggregate = functions::registry().lookup_aggregate(name).copied();
        // `hll_merge(a, b)` is also a scalar function outside summarize.
        let aggregate =
            aggregate.filter(|_| scope.aggregates.is_some() || functions::registry().lookup_scalar(name).is_none());
        if let Some(spec) = aggregate {
            let Some(collected) = scope.aggregates.as_mut().map(|v| v.len()) else {
                return err(
                    span,
                    format!("{name}() is an aggregation; it can only be used in summarize (or make-series)"),
                );
            };
            check_arity(name, args.len(), spec.min_args, spec.max_args, span)?;
            let mut inner = RowScope { columns: scope.columns, join: None, aggregates: None, windows: None };
            let bound = args
                .iter()
                .map(|a| match a.value.kind {
                    ExprKind::Star => Ok(Bound::new(lit(1i64), KqlType::Long)),
                    _ => self.scalar(&a.value, &mut inner),
                })
                .collect::<BindResult<Vec<_>>>()?;
            let aggregate = (spec.bind)(&self.call, bound).map_err(|m| BindError::new(span, m))?;
            let alias = format!("__agg{collected}");
            scope.aggregates.as_mut().expect("checked above").push((alias.clone(), aggregate.expr));
            return Ok(Bound::new(col_ref(&alias), aggregate.ty));
        }
        let Some(spec) = functions::registry().lookup_scalar(name).copied() else {
            let known: Vec<&str> = functions::registry().names().collect();
            let hint = suggest(name, known.iter().copied(), MaxDistance::Name)
                .map(|s| format!("; did you mean '{s}'?"))
                .unwrap_or_default();
            return err(func.span, format!("unknown function '{name}'{hint}"));
        };
        check_arity(name, args.len(), spec.min_args, spec.max_args, span)?;
        let bound = args.iter().map(|a| self.scalar(&a.value, scope)).collect::<BindResult<Vec<_>>>()?;
        (spec.bind)(&self.call, bound).map_err(|m| BindError::new(span, m))
    }

    /// `prev(x[, offset[, default]])`, `next(…)`, `row_number([start])`,
    /// `row_cumsum(x)` over the serialized input, in its order.
    fn window_call(
        &mut self,
        name: &str,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        use datafusion::functions_window::expr_fn as window;
        if scope.windows.is_none() {
            return err(
                span,
                format!("{name}() needs a serialized row order; use it in extend or project after sort or serialize"),
            );
        }
        let kind = match name {
            "row_window_session" => Some(RowWindow::Session),
            // `row_rank` is the older name Microsoft's binder still accepts.
            "row_rank_dense" | "row_rank" => Some(RowWindow::RankDense),
            "row_rank_min" => Some(RowWindow::RankMin),
            _ => None,
        };
        if let Some(kind) = kind {
            return self.row_window_call(kind, name, args, span, scope);
        }
        let mut inner = RowScope { columns: scope.columns, join: None, aggregates: None, windows: None };
        let bound = args.iter().map(|a| self.scalar(&a.value, &mut inner)).collect::<BindResult<Vec<_>>>()?;
        let constant_i64 = |b: &Bound| match evaluate_constant(&b.expr) {
            Some(ScalarValue::Int64(Some(v))) => Some(v),
            Some(ScalarValue::Int32(Some(v))) => Some(v as i64),
            _ => None,
        };
        let (expr, ty) = match name {
            "prev" | "next" => {
                let Some(value) = bound.first() else { return err(span, format!("{name}() needs the column to read")) };
                if bound.len() > 3 {
                    return err(
                        span,
                        format!("the function call has an incorrect number of arguments: {name}() takes 1 to 3"),
                    );
                }
                let offset = match bound.get(1) {
                    Some(b) => Some(constant_i64(b).ok_or_else(|| {
                        BindError::new(span, format!("{name}(): the offset must be a constant integer"))
                    })?),
                    // DataFusion reads a missing offset as 0; Kusto's default is 1.
                    None => Some(1),
                };
                let default = match bound.get(2) {
                    Some(b) => Some(
                        evaluate_constant(
                            &implicit(b.clone(), value.ty).map(|b| b.expr).unwrap_or_else(|| b.expr.clone()),
                        )
                        .ok_or_else(|| BindError::new(span, format!("{name}(): the default must be a constant")))?,
                    ),
                    None => None,
                };
                let e = if name == "prev" {
                    window::lag(value.expr.clone(), offset, default)
                } else {
                    window::lead(value.expr.clone(), offset, default)
                };
                (e, value.ty)
            }
            "row_number" => {
                let start = match bound.first() {
                    Some(b) => constant_i64(b)
                        .ok_or_else(|| BindError::new(span, "row_number(): the start must be a constant integer"))?,
                    None => 1,
                };
                // The window step computes the raw row number; the offset is
                // applied in the projection (window steps take only window calls).
                let windows = scope.windows.as_mut().expect("checked above");
                let alias = format!("__win{}", windows.len());
                windows.push((alias.clone(), window::row_number()));
                let expr = datafusion::logical_expr::cast(col_ref(&alias), DataType::Int64) + lit(start - 1);
                return Ok(Bound::new(expr, KqlType::Long));
            }
            _ => {
                let Some(value) = bound.first() else { return err(span, "row_cumsum() needs the value to sum") };
                if !value.ty.is_numeric() {
                    return err(span, format!("row_cumsum() sums numbers, not {}", value.ty));
                }
                use datafusion::logical_expr::{ExprFunctionExt, WindowFrame, WindowFrameBound, WindowFrameUnits};
                // Rows from the first up to the current one, in input order.
                let frame = WindowFrame::new_bounds(
                    WindowFrameUnits::Rows,
                    WindowFrameBound::Preceding(ScalarValue::UInt64(None)),
                    WindowFrameBound::CurrentRow,
                );
                let sum = datafusion::functions_aggregate::expr_fn::sum(value.expr.clone());
                let e = match sum {
                    Expr::AggregateFunction(a) => Expr::from(datafusion::logical_expr::expr::WindowFunction::new(
                        datafusion::logical_expr::expr::WindowFunctionDefinition::AggregateUDF(a.func),
                        a.params.args,
                    ))
                    .window_frame(frame)
                    .build()
                    .map_err(|e| BindError::new(span, e.to_string()))?,
                    other => other,
                };
                (e, if value.ty == KqlType::Int { KqlType::Long } else { value.ty })
            }
        };
        let windows = scope.windows.as_mut().expect("checked above");
        let alias = format!("__win{}", windows.len());
        windows.push((alias.clone(), expr));
        Ok(Bound::new(col_ref(&alias), ty))
    }

    /// `extract(regex, group, text, typeof(T))` and `extractjson(path, json,
    /// typeof(T))`: the text result converted to `T`.
    fn typed_extract(
        &mut self,
        name: &str,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Option<Bound>> {
        let typed = matches!((name, args.len()), ("extract", 4) | ("extractjson" | "extract_json", 3));
        let Some(ExprKind::TypeOf(type_arg)) = args.last().filter(|_| typed).map(|a| &a.value.kind) else {
            return Ok(None);
        };
        let ast::TypeOfArg::Scalar(type_name) = type_arg else {
            return err(span, format!("{name}(): the type must be a scalar type such as typeof(long)"));
        };
        let target = self.type_name(type_name)?;
        let spec = functions::registry().lookup_scalar(name).copied().expect("extract functions are registered");
        let bound =
            args[..args.len() - 1].iter().map(|a| self.scalar(&a.value, scope)).collect::<BindResult<Vec<_>>>()?;
        let text = (spec.bind)(&self.call, bound).map_err(|m| BindError::new(span, m))?;
        Ok(Some(functions::conversion::convert(text, target)))
    }

    /// `row_window_session(…)`, `row_rank_dense(x)`, `row_rank_min(x)`. Their
    /// arguments may use `prev()`/`next()` (a session restart condition
    /// often does): those windows are computed in an earlier window step.
    fn row_window_call(
        &mut self,
        kind: RowWindow,
        name: &str,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        let (min, max) = if kind == RowWindow::Session { (3, 4) } else { (1, 2) };
        check_arity(name, args.len(), min, max, span)?;
        let mut inner = RowScope { columns: scope.columns, join: None, aggregates: None, windows: Some(Vec::new()) };
        let bound = args.iter().map(|a| self.scalar(&a.value, &mut inner)).collect::<BindResult<Vec<_>>>()?;
        let outer = scope.windows.as_mut().expect("checked by window_call");
        let mut renames: HashMap<String, String> = HashMap::new();
        for (alias, window) in inner.windows.take().unwrap_or_default() {
            let fresh = format!("__win{}", outer.len());
            outer.push((fresh.clone(), rename_columns(window, &renames)));
            renames.insert(alias, fresh);
        }
        let bound: Vec<Bound> = bound.into_iter().map(|b| Bound::new(rename_columns(b.expr, &renames), b.ty)).collect();
        let (exprs, ty) = match kind {
            RowWindow::Session => {
                let value = &bound[0];
                if !matches!(value.ty, KqlType::Datetime | KqlType::Long | KqlType::Int | KqlType::Timespan) {
                    return err(span, format!("row_window_session() needs a datetime value, not {}", value.ty));
                }
                let mut exprs = vec![datafusion::logical_expr::cast(value.expr.clone(), DataType::Int64)];
                for (i, limit) in bound[1..3].iter().enumerate() {
                    if !matches!(limit.ty, KqlType::Timespan | KqlType::Long | KqlType::Int) {
                        return err(
                            span,
                            format!("argument {} of row_window_session() must be a timespan, not {}", i + 2, limit.ty),
                        );
                    }
                    exprs.push(datafusion::logical_expr::cast(limit.expr.clone(), DataType::Int64));
                }
                if let Some(restart) = bound.get(3) {
                    exprs.push(boolean(restart.clone(), span)?);
                }
                let ty = if value.ty == KqlType::Int { KqlType::Long } else { value.ty };
                (exprs, ty)
            }
            _ => {
                let mut exprs = vec![bound[0].expr.clone()];
                if let Some(restart) = bound.get(1) {
                    exprs.push(boolean(restart.clone(), span)?);
                }
                (exprs, KqlType::Long)
            }
        };
        let alias = format!("__win{}", outer.len());
        outer.push((alias.clone(), functions::row_window::call(kind, exprs)));
        Ok(Bound::new(col_ref(&alias), ty))
    }

    /// `case(p1, v1, p2, v2, …, else)`: pairs plus a final else, so an odd
    /// number of arguments (Kusto's binder reports KS121 otherwise).
    fn case(&mut self, args: &[ast::Arg], span: Span, scope: &mut RowScope<'_>) -> BindResult<Bound> {
        if args.len() < 3 || args.len() % 2 == 0 {
            let hint = if args.len() >= 2 && args.len() % 2 == 0 {
                let last = &args[args.len() - 1].value;
                let before = &args[args.len() - 2].value;
                let literal_true = matches!(before.kind, ExprKind::Literal(Literal::Bool(true)));
                if literal_true {
                    format!(
                        "; the last pair `true, {last}` is an else written as a condition: drop `true,` so the call ends with the else value `{last}`"
                    )
                } else {
                    "; add the value to return when no condition holds as the last argument".to_string()
                }
            } else {
                String::new()
            };
            return err(
                span,
                format!(
                    "the function call has an incorrect number of arguments: case() takes pairs of (condition, value) followed by an else value, an odd number of at least 3, got {}{hint}",
                    args.len()
                ),
            );
        }
        let mut pairs = Vec::new();
        let mut values = Vec::new();
        for pair in args[..args.len() - 1].chunks(2) {
            let c = self.scalar(&pair[0].value, scope)?;
            let c = boolean(c, pair[0].value.span)?;
            let v = self.scalar(&pair[1].value, scope)?;
            pairs.push(c);
            values.push(v);
        }
        values.push(self.scalar(&args[args.len() - 1].value, scope)?);
        let ty = values.iter().skip(1).try_fold(values[0].ty, |t, v| join_types(t, v.ty));
        let Some(ty) = ty else {
            return err(span, "case(): all values must have the same type");
        };
        let mut values: Vec<Expr> = values.into_iter().map(|v| implicit(v, ty).expect("joined type").expr).collect();
        let otherwise = values.pop().expect("else value");
        let mut builder = when(pairs[0].clone(), values[0].clone());
        for (c, v) in pairs.iter().zip(&values).skip(1) {
            builder = builder.when(c.clone(), v.clone());
        }
        let expr = builder.otherwise(otherwise).map_err(|e| BindError::new(span, e.to_string()))?;
        Ok(Bound::new(expr, ty))
    }

    fn user_function_call(
        &mut self,
        def: &ast::FunctionDef,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        let values = self.bind_arguments(def, args, span, scope)?;
        self.scalar_function_body(def, values, span, scope)
    }

    /// Binds call arguments to a user function's parameters (positional,
    /// named, defaults).
    pub(super) fn bind_arguments(
        &mut self,
        def: &ast::FunctionDef,
        args: &[ast::Arg],
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Vec<(String, Binding)>> {
        if args.len() > def.params.len() {
            return err(span, format!("the function takes {} arguments, got {}", def.params.len(), args.len()));
        }
        let mut out = Vec::new();
        for (i, param) in def.params.iter().enumerate() {
            let arg = args
                .iter()
                .find(|a| a.name.as_ref().is_some_and(|n| n.name == param.name.name))
                .or_else(|| args.get(i).filter(|a| a.name.is_none()));
            let binding = match (&param.ty, arg) {
                (ast::ParamType::Tabular(_), Some(a)) => Binding::Tabular(self.tabular(&a.value)?),
                (ast::ParamType::Scalar(ty), Some(a)) => {
                    let ty = self.type_name(ty)?;
                    let v = self.scalar(&a.value, scope)?;
                    let actual = v.ty;
                    Binding::Scalar(implicit(v, ty).ok_or_else(|| {
                        BindError::new(
                            a.value.span,
                            format!("parameter '{}' is {ty}, the argument is {actual}", param.name.name),
                        )
                    })?)
                }
                (ast::ParamType::Scalar(ty), None) => match &param.default {
                    Some(d) => {
                        let ty = self.type_name(ty)?;
                        let v = self.constant(d)?;
                        Binding::Scalar(implicit(v, ty).unwrap_or_else(|| self.constant(d).expect("bound above")))
                    }
                    None => return err(span, format!("missing argument for parameter '{}'", param.name.name)),
                },
                (ast::ParamType::Tabular(_), None) => {
                    return err(span, format!("missing tabular argument for parameter '{}'", param.name.name))
                }
            };
            out.push((param.name.name.clone(), binding));
        }
        Ok(out)
    }

    fn scalar_function_body(
        &mut self,
        def: &ast::FunctionDef,
        params: Vec<(String, Binding)>,
        span: Span,
        scope: &mut RowScope<'_>,
    ) -> BindResult<Bound> {
        self.scopes.push(params.into_iter().collect());
        let result = (|| {
            let (last, lets) =
                def.body.statements.split_last().ok_or_else(|| BindError::new(span, "empty function body"))?;
            for s in lets {
                self.statement(s)?;
            }
            match last {
                ast::Statement::Expr(e) => self.scalar(e, scope),
                _ => err(span, "a function body must end with an expression"),
            }
        })();
        self.scopes.pop();
        result
    }
}

fn check_arity(name: &str, got: usize, min: usize, max: usize, span: Span) -> BindResult<()> {
    if got < min || got > max {
        let expected = if min == max {
            format!("{min}")
        } else if max == usize::MAX {
            format!("at least {min}")
        } else {
            format!("{min} to {max}")
        };
        return err(
            span,
            format!("the function call has an incorrect number of arguments: {name}() takes {expected}, got {got}"),
        );
    }
    Ok(())
}

fn lower(e: Expr) -> Expr {
    datafusion::functions::expr_fn::lower(e)
}

/// The qualifier and name of the one column an `in (T)` subquery returns.
const IN_SUBQUERY_ALIAS: &str = "__kql_in_subquery";
const IN_SUBQUERY_COLUMN: &str = "__kql_in_value";

fn total_or_true(e: Expr) -> Expr {
    datafusion::functions::expr_fn::coalesce(vec![e, lit(true)])
}

/// A relation's single value as a scalar (uncorrelated subquery).
pub(super) fn scalar_subquery(relation: Relation, span: Span) -> BindResult<Bound> {
    let Some(first) = relation.columns.first() else { return err(span, "toscalar() of a table with no columns") };
    let ty = first.ty;
    let plan = if relation.columns.len() > 1 {
        datafusion::logical_expr::LogicalPlanBuilder::from(relation.plan)
            .project(vec![col_ref(&first.name)])
            .and_then(|b| b.limit(0, Some(1)))
            .and_then(|b| b.build())
    } else {
        datafusion::logical_expr::LogicalPlanBuilder::from(relation.plan).limit(0, Some(1)).and_then(|b| b.build())
    }
    .map_err(|e| BindError::new(span, e.to_string()))?;
    let subquery = Subquery { subquery: Arc::new(plan), outer_ref_columns: vec![], spans: Default::default() };
    Ok(Bound::new(Expr::ScalarSubquery(subquery), ty))
}

/// Converts a literal.
pub(super) fn literal(l: &Literal, span: Span) -> BindResult<Bound> {
    Ok(match l {
        Literal::Null => Bound::new(lit(ScalarValue::Binary(Some(DynValue::Null.encode()))), KqlType::Dynamic),
        Literal::Bool(b) => Bound::new(lit(*b), KqlType::Bool),
        Literal::Long(text) => Bound::new(
            lit(parse_long(text)
                .ok_or_else(|| BindError::new(span, format!("integer literal {text} is out of range")))?),
            KqlType::Long,
        ),
        Literal::Real(text) => Bound::new(
            lit(text.parse::<f64>().map_err(|_| BindError::new(span, format!("invalid real literal {text}")))?),
            KqlType::Real,
        ),
        Literal::String { value, .. } => Bound::new(lit(value.clone()), KqlType::String),
        Literal::Timespan(text) | Literal::TimespanCall(text) => {
            let nanos = if text.trim() == "null" {
                None
            } else {
                Some(
                    crate::time::parse_timespan(text)
                        .ok_or_else(|| BindError::new(span, format!("invalid timespan '{text}'")))?,
                )
            };
            Bound::new(lit(ScalarValue::Int64(nanos)), KqlType::Timespan)
        }
        Literal::Datetime(text) => {
            // `datetime('2019-01-20T10:02:51')` is accepted with quotes too.
            let text = text.trim().trim_matches(|c| c == '\'' || c == '"');
            let nanos = if text == "null" {
                None
            } else {
                Some(
                    crate::time::parse_datetime(text)
                        .ok_or_else(|| BindError::new(span, format!("invalid datetime '{text}'")))?,
                )
            };
            Bound::new(lit(ScalarValue::Int64(nanos)), KqlType::Datetime)
        }
        Literal::Guid(text) => {
            let value = if text.trim() == "null" { None } else { Some(text.trim().to_ascii_lowercase()) };
            Bound::new(lit(ScalarValue::Utf8(value)), KqlType::Guid)
        }
        Literal::Dynamic(v) => {
            Bound::new(lit(ScalarValue::Binary(Some(dynamic_literal(v, span)?.encode()))), KqlType::Dynamic)
        }
        Literal::Typed { ty, value } => {
            let kql = KqlType::from_name(ty).ok_or_else(|| BindError::new(span, format!("unknown type '{ty}'")))?;
            let v = value.trim();
            let scalar = match kql {
                _ if v == "null" => {
                    ScalarValue::try_from(&kql.arrow()).map_err(|e| BindError::new(span, e.to_string()))?
                }
                KqlType::Bool => ScalarValue::Boolean(Some(v.eq_ignore_ascii_case("true"))),
                // Hex literals wrap to 32 bits: int(0xf090013d) is negative.
                KqlType::Int => ScalarValue::Int32(Some(
                    parse_long(v)
                        .map(|x| x as i32)
                        .ok_or_else(|| BindError::new(span, format!("invalid int '{v}'")))?,
                )),
                KqlType::Long => ScalarValue::Int64(Some(
                    parse_long(v).ok_or_else(|| BindError::new(span, format!("invalid long '{v}'")))?,
                )),
                _ => ScalarValue::Float64(Some(
                    parse_real(v).ok_or_else(|| BindError::new(span, format!("invalid real '{v}'")))?,
                )),
            };
            Bound::new(lit(scalar), kql)
        }
    })
}

fn parse_long(text: &str) -> Option<i64> {
    let (negative, t) = match text.strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, text.strip_prefix('+').unwrap_or(text)),
    };
    let v = match t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        Some(hex) => i64::from_str_radix(hex, 16).ok()?,
        None => t.parse::<i64>().ok()?,
    };
    Some(if negative { -v } else { v })
}

fn parse_real(text: &str) -> Option<f64> {
    match text.to_ascii_lowercase().as_str() {
        "nan" => Some(f64::NAN),
        "inf" | "+inf" => Some(f64::INFINITY),
        "-inf" => Some(f64::NEG_INFINITY),
        t => t.parse().ok(),
    }
}

fn dynamic_literal(v: &ast::DynamicValue, span: Span) -> BindResult<DynValue> {
    Ok(match v {
        ast::DynamicValue::Null => DynValue::Null,
        ast::DynamicValue::Bool(b) => DynValue::Bool(*b),
        ast::DynamicValue::Number(n) => match parse_long(n) {
            Some(i) => DynValue::Long(i),
            None => DynValue::Real(n.parse().map_err(|_| BindError::new(span, format!("invalid number {n}")))?),
        },
        ast::DynamicValue::String(s) => DynValue::String(s.clone()),
        ast::DynamicValue::Array(items) => {
            DynValue::Array(items.iter().map(|i| dynamic_literal(i, span)).collect::<BindResult<_>>()?)
        }
        ast::DynamicValue::Object(entries) => DynValue::Object(
            entries.iter().map(|(k, v)| Ok((k.clone(), dynamic_literal(v, span)?))).collect::<BindResult<_>>()?,
        ),
        ast::DynamicValue::Literal(l) => {
            let b = literal(l, span)?;
            let value = evaluate_constant(&b.expr);
            match (b.ty, value) {
                (KqlType::Datetime, Some(ScalarValue::Int64(Some(v)))) => DynValue::Datetime(v),
                (KqlType::Timespan, Some(ScalarValue::Int64(Some(v)))) => DynValue::Timespan(v),
                (KqlType::Guid, Some(ScalarValue::Utf8(Some(s)))) => DynValue::Guid(s),
                (KqlType::Long, Some(ScalarValue::Int64(Some(v)))) => DynValue::Long(v),
                (KqlType::Int, Some(ScalarValue::Int32(Some(v)))) => DynValue::Long(v.into()),
                (KqlType::Real | KqlType::Decimal, Some(ScalarValue::Float64(Some(v)))) => DynValue::Real(v),
                (KqlType::Bool, Some(ScalarValue::Boolean(Some(v)))) => DynValue::Bool(v),
                _ => DynValue::Null,
            }
        }
    })
}

/// Evaluates an expression without columns, if it is constant.
pub fn evaluate_constant(expr: &Expr) -> Option<ScalarValue> {
    use datafusion::arrow::datatypes::Schema;
    use datafusion::arrow::record_batch::{RecordBatch, RecordBatchOptions};
    use datafusion::common::DFSchema;
    use datafusion::logical_expr::execution_props::ExecutionProps;
    use datafusion::logical_expr::ColumnarValue;
    if let Expr::Literal(v, _) = expr {
        return Some(v.clone());
    }
    if !expr.column_refs().is_empty() || contains_subquery(expr) {
        return None;
    }
    let schema = DFSchema::empty();
    let props = ExecutionProps::new();
    let physical = datafusion::physical_expr::create_physical_expr(expr, &schema, &props, &Default::default()).ok()?;
    let batch = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(1)),
    )
    .ok()?;
    match physical.evaluate(&batch).ok()? {
        ColumnarValue::Scalar(s) => Some(s),
        ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0).ok(),
    }
}

fn contains_subquery(expr: &Expr) -> bool {
    let mut found = false;
    let _ = expr.apply(|e| {
        if matches!(e, Expr::ScalarSubquery(_) | Expr::InSubquery(_) | Expr::Exists(_)) {
            found = true;
        }
        Ok(datafusion::common::tree_node::TreeNodeRecursion::Continue)
    });
    found
}

use datafusion::common::tree_node::TreeNode;

/// An element of a constant dynamic array as a literal of type `ty` (for `in`).
fn dynamic_element_literal(d: DynRef<'_>, ty: KqlType) -> Option<Bound> {
    let scalar = match ty {
        KqlType::String | KqlType::Guid => ScalarValue::Utf8(Some(d.to_kql_string())),
        KqlType::Int | KqlType::Long | KqlType::Datetime | KqlType::Timespan => match d.kind() {
            DynKind::Real => return Some(Bound::new(lit(d.as_real()?), KqlType::Real)),
            DynKind::String => ScalarValue::Int64(Some(d.as_str()?.trim().parse().ok()?)),
            _ => ScalarValue::Int64(Some(d.as_long()?)),
        },
        KqlType::Real | KqlType::Decimal => ScalarValue::Float64(Some(d.as_real()?)),
        KqlType::Bool => ScalarValue::Boolean(Some(d.as_bool()?)),
        KqlType::Dynamic => ScalarValue::Binary(Some(d.bytes().to_vec())),
    };
    let item_ty = match ty {
        KqlType::Int => KqlType::Long,
        t => t,
    };
    Some(Bound::new(lit(scalar), item_ty))
}

/// Converts `value` to `target` for comparison purposes.
fn coerce_pair(value: Bound, target: KqlType) -> Option<Bound> {
    if value.ty == target {
        return Some(value);
    }
    if let Some(joined) = KqlType::numeric_join(value.ty, target) {
        return implicit(value, joined);
    }
    implicit(value, target)
}

/// The type two branches share: numbers widen, a dynamic takes the other
/// side's type, guid and string meet at string.
fn join_types(a: KqlType, b: KqlType) -> Option<KqlType> {
    match (a, b) {
        _ if a == b => Some(a),
        (KqlType::Dynamic, t) | (t, KqlType::Dynamic) => Some(t),
        (KqlType::String, KqlType::Guid) | (KqlType::Guid, KqlType::String) => Some(KqlType::String),
        _ => KqlType::numeric_join(a, b),
    }
}

/// Two values brought to one type (for `iff`, `coalesce`, comparisons).
pub(crate) fn unify(a: Bound, b: Bound) -> Option<(Expr, Expr, KqlType)> {
    if a.ty == b.ty {
        return Some((a.expr, b.expr, a.ty));
    }
    let target = KqlType::numeric_join(a.ty, b.ty)
        .or(if a.ty == KqlType::Dynamic { Some(b.ty) } else { None })
        .or(if b.ty == KqlType::Dynamic { Some(a.ty) } else { None })
        .or(if matches!((a.ty, b.ty), (KqlType::String, KqlType::Guid) | (KqlType::Guid, KqlType::String)) {
            Some(KqlType::String)
        } else {
            None
        })?;
    let a = implicit(a, target)?;
    let b = implicit(b, target)?;
    Some((a.expr, b.expr, target))
}

fn boolean(b: Bound, span: Span) -> BindResult<Expr> {
    match b.ty {
        KqlType::Bool => Ok(b.expr),
        KqlType::Dynamic => Ok(implicit(b, KqlType::Bool).expect("dynamic to bool").expr),
        t => err(span, format!("expected a bool expression, but this is {t}")),
    }
}

fn dynamic_operand(b: Bound, span: Span) -> BindResult<Bound> {
    match b.ty {
        KqlType::Dynamic => Ok(b),
        KqlType::String => Ok(functions::dynamic::parse_json(b)),
        t => err(span, format!("member and index access need a dynamic value, but this is {t}")),
    }
}

fn binary_expr(l: Expr, op: Operator, r: Expr) -> Expr {
    Expr::BinaryExpr(BinaryExpr::new(Box::new(l), op, Box::new(r)))
}

/// Arithmetic with Kusto's typing of datetime and timespan.
pub(super) fn arithmetic(op: BinaryOp, l: Bound, r: Bound, span: Span) -> BindResult<Bound> {
    use KqlType::*;
    let df_op = match op {
        BinaryOp::Add => Operator::Plus,
        BinaryOp::Sub => Operator::Minus,
        BinaryOp::Mul => Operator::Multiply,
        BinaryOp::Div => Operator::Divide,
        _ => Operator::Modulo,
    };
    let (lt, rt) = (l.ty, r.ty);
    let l = if lt == Dynamic { implicit(l, Real).expect("dynamic to real") } else { l };
    let r = if rt == Dynamic { implicit(r, Real).expect("dynamic to real") } else { r };
    let (lt, rt) = (l.ty, r.ty);
    let result = match (op, lt, rt) {
        (_, a, b) if a.is_numeric() && b.is_numeric() => {
            let ty = KqlType::numeric_join(a, b).expect("numeric");
            let (le, re) = (implicit(l, ty).expect("numeric").expr, implicit(r, ty).expect("numeric").expr);
            if matches!(op, BinaryOp::Div | BinaryOp::Mod) && matches!(ty, Int | Long) {
                // Integer division by zero is null in Kusto, an error in DataFusion.
                let zero = if ty == Int { lit(0i32) } else { lit(0i64) };
                let value = if op == BinaryOp::Mod {
                    // Kusto's modulo is Euclidean: -14 % 12 == 10, 14 % -12 == 2.
                    let divisor = datafusion::functions::expr_fn::abs(re.clone());
                    binary_expr(
                        binary_expr(binary_expr(le, Operator::Modulo, re.clone()), Operator::Plus, divisor.clone()),
                        Operator::Modulo,
                        divisor,
                    )
                } else {
                    binary_expr(le, df_op, re.clone())
                };
                let expr = when(re.eq(zero), lit(ScalarValue::try_from(&ty.arrow()).expect("null")))
                    .otherwise(value)
                    .map_err(|e| BindError::new(span, e.to_string()))?;
                return Ok(Bound::new(expr, ty));
            }
            return Ok(Bound::new(binary_expr(le, df_op, re), ty));
        }
        (BinaryOp::Add, Datetime, Timespan) | (BinaryOp::Sub, Datetime, Timespan) => (Datetime, l.expr, r.expr),
        (BinaryOp::Add, Timespan, Datetime) => (Datetime, l.expr, r.expr),
        (BinaryOp::Sub, Datetime, Datetime) => (Timespan, l.expr, r.expr),
        (BinaryOp::Add | BinaryOp::Sub, Timespan, Timespan) => (Timespan, l.expr, r.expr),
        (BinaryOp::Mod, Timespan, Timespan) => (Timespan, l.expr, r.expr),
        (BinaryOp::Div, Timespan, Timespan) => {
            let expr = binary_expr(cast(l.expr, DataType::Float64), Operator::Divide, cast(r.expr, DataType::Float64));
            return Ok(Bound::new(expr, Real));
        }
        (BinaryOp::Mul, Timespan, n) | (BinaryOp::Div, Timespan, n) if n.is_numeric() => {
            let expr = cast(
                binary_expr(cast(l.expr, DataType::Float64), df_op, cast(r.expr, DataType::Float64)),
                DataType::Int64,
            );
            return Ok(Bound::new(expr, Timespan));
        }
        (BinaryOp::Mul, n, Timespan) if n.is_numeric() => {
            let expr = cast(
                binary_expr(cast(l.expr, DataType::Float64), df_op, cast(r.expr, DataType::Float64)),
                DataType::Int64,
            );
            return Ok(Bound::new(expr, Timespan));
        }
        _ => {
            let symbol = match op {
                BinaryOp::Add => "+",
                BinaryOp::Sub => "-",
                BinaryOp::Mul => "*",
                BinaryOp::Div => "/",
                _ => "%",
            };
            return err(span, format!("operator '{symbol}' cannot be applied to {lt} and {rt}"));
        }
    };
    let (ty, le, re) = result;
    Ok(Bound::new(binary_expr(le, df_op, re), ty))
}

/// `==`, `!=`, `<`, … with numeric promotion and dynamic unwrapping.
pub(super) fn comparison(op: BinaryOp, l: Bound, r: Bound, span: Span) -> BindResult<Bound> {
    let df_op = match op {
        BinaryOp::Eq => Operator::Eq,
        BinaryOp::NotEq => Operator::NotEq,
        BinaryOp::Lt => Operator::Lt,
        BinaryOp::Le => Operator::LtEq,
        BinaryOp::Gt => Operator::Gt,
        _ => Operator::GtEq,
    };
    let (lt, rt) = (l.ty, r.ty);
    // Kusto's == and != also compare text with numbers (`EventID == "4624"`)
    // and booleans with numbers (`IsLocalAdmin == 0`).
    let (l, r) = match (op, lt, rt) {
        (BinaryOp::Eq | BinaryOp::NotEq, KqlType::String, t) if t.is_numeric() => {
            (functions::conversion::from_string(l, t), r)
        }
        (BinaryOp::Eq | BinaryOp::NotEq, t, KqlType::String) if t.is_numeric() => {
            (l, functions::conversion::from_string(r, t))
        }
        (_, KqlType::Bool, t) if t.is_numeric() => (functions::conversion::convert(l, KqlType::Long), r),
        (_, t, KqlType::Bool) if t.is_numeric() => (l, functions::conversion::convert(r, KqlType::Long)),
        _ => (l, r),
    };
    let Some((le, re, _)) = unify(l, r) else {
        return err(span, format!("cannot compare {lt} with {rt}"));
    };
    if lt == KqlType::Dynamic && rt == KqlType::Dynamic && !matches!(op, BinaryOp::Eq | BinaryOp::NotEq) {
        return err(span, "cannot order dynamic values; convert them with tolong(), tostring(), …");
    }
    let compared = binary_expr(le.clone(), df_op, re.clone());
    // Kusto: a null compared with a value is unequal (`null != 5` is true,
    // `5 == int(null)` false); two nulls compare as null. Strings are never
    // null, so they need no guard.
    if matches!(op, BinaryOp::Eq | BinaryOp::NotEq) && lt != KqlType::String && rt != KqlType::String {
        let one_side_null = le.clone().is_null().and(re.clone().is_not_null()).or(le.is_not_null().and(re.is_null()));
        let expr = when(one_side_null, lit(op == BinaryOp::NotEq))
            .otherwise(compared)
            .map_err(|e| BindError::new(span, e.to_string()))?;
        return Ok(Bound::new(expr, KqlType::Bool));
    }
    Ok(Bound::new(compared, KqlType::Bool))
}

/// Renames column references (window aliases moved between scopes).
fn rename_columns(expr: Expr, renames: &HashMap<String, String>) -> Expr {
    use datafusion::common::tree_node::{Transformed, TreeNode};
    if renames.is_empty() {
        return expr;
    }
    expr.transform(|e| {
        Ok(match &e {
            Expr::Column(c) => match renames.get(&c.name) {
                Some(new) => Transformed::yes(col_ref(new)),
                None => Transformed::no(e),
            },
            _ => Transformed::no(e),
        })
    })
    .map(|t| t.data)
    .expect("renaming columns cannot fail")
}
