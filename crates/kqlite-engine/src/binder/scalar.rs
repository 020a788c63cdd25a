//! Binding scalar expressions: names, members, `in` lists and subqueries.
//! Literals ([`super::literal`]), operators ([`super::scalar_operators`]) and calls
//! ([`super::call`]) are bound in their own modules.

use super::literal::{dynamic_element_literal, literal};
use super::scalar_operators::{arithmetic, boolean, coerce_pair, comparison, dynamic_operand, not_nan};
use super::AtSpan;
use super::{col_ref, BindError, BindResult, Binder, Binding, Either, Relation};
use crate::convert::{evaluate_constant, implicit, Bound};
use crate::dynamic::{DynKind, DynRef};
use crate::functions::{self, string_ops, SpecialForm};
use crate::types::{ColumnDef, KqlType};
use datafusion::common::ScalarValue;
use datafusion::logical_expr::expr::{InList, InSubquery};
use datafusion::logical_expr::{lit, Expr, LogicalPlanBuilder, Subquery};
use kqlite_syntax::ast::{self, BinaryOp, ExprKind, ListOp, StringOpKind, UnaryOp};
use kqlite_syntax::suggest::{suggest, MaxDistance};
use kqlite_syntax::Span;
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

pub(super) fn err<T>(span: Span, message: impl Into<String>) -> BindResult<T> {
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
                Some(Binding::Function(f)) => f.callable_as_view() && self.body_is_tabular(&f),
                None => self.resolver.table(&id.name).is_some(),
            },
            ExprKind::Call { func, .. } => match self.lookup(&func.name) {
                Some(Binding::Function(f)) => self.body_is_tabular(&f),
                _ => {
                    matches!(functions::special_form(&func.name), Some(SpecialForm::Materialize | SpecialForm::Table))
                        || func.name == "view"
                }
            },
            ExprKind::MethodCall { .. } => true,
            _ => false,
        }
    }

    fn body_is_tabular(&self, f: &ast::FunctionDef) -> bool {
        // A body ending in a call of its own `let` function (ASIM parsers
        // end `Generic(starttime, …)`) is tabular when that function is.
        let local = |name: &str| {
            f.body.statements.iter().rev().find_map(|s| match s {
                ast::Statement::Let(l) if l.name.name == name => Some(&l.value),
                _ => None,
            })
        };
        let Some(ast::Statement::Expr(e)) = f.body.statements.last() else { return false };
        match &e.kind {
            ExprKind::Call { func, .. } => match local(&func.name) {
                Some(ast::LetValue::Function(inner)) => self.body_is_tabular(inner),
                Some(ast::LetValue::Expr(_)) => false,
                None => self.is_tabular(e),
            },
            ExprKind::Name(id) => match local(&id.name) {
                Some(ast::LetValue::Function(inner)) => inner.params.is_empty() && self.body_is_tabular(inner),
                Some(ast::LetValue::Expr(value)) => self.is_tabular(value),
                None => {
                    self.resolver.table(&id.name).is_some()
                        || f.params.iter().any(|p| p.name.name == id.name && matches!(p.ty, ast::ParamType::Tabular(_)))
                        || matches!(self.lookup(&id.name), Some(Binding::Tabular(_)))
                }
            },
            ExprKind::Pipe { .. } | ExprKind::Source(_) => true,
            _ => self.is_tabular(e),
        }
    }

    pub(super) fn scalar(&mut self, expr: &ast::Expr, scope: &mut RowScope<'_>) -> BindResult<Bound> {
        match &expr.kind {
            // `datetime()` and `datetime(now)` are the query's now(), fixed once per query.
            ExprKind::Literal(ast::Literal::Datetime(text))
                if matches!(text.trim().trim_matches(|c| c == '\'' || c == '"'), "" | "now") =>
            {
                Ok(Bound::new(lit(ScalarValue::Int64(Some(self.call.now))), KqlType::Datetime))
            }
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
            ExprKind::MethodCall { .. } | ExprKind::NamePattern(_) | ExprKind::Block(_) | ExprKind::Bracketed(_) => {
                err(expr.span, "this expression is not supported in a scalar context")
            }
            ExprKind::Error => err(expr.span, "the query has syntax errors"),
        }
    }

    pub(super) fn name(&mut self, name: &str, span: Span, scope: &RowScope<'_>) -> BindResult<Bound> {
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
            Some(Binding::Scalar(b)) => return Ok(b),
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
            BinaryOp::Str(op) if op.kind == StringOpKind::Like => err(
                span,
                format!("the '{op}' operator is not supported yet; use matches regex or a has/contains operator"),
            ),
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
                list.push(if case_insensitive { fold_case(c) } else { c.expr });
            }
            let left = if case_insensitive { fold_case(left) } else { left.expr };
            let member = Expr::InList(InList::new(Box::new(left.clone()), list, false));
            // NaN equals nothing, itself included (IEEE 754, as `==`);
            // the list's hash set matches it in Arrow's total order.
            parts.push(if target_ty == KqlType::Real { member.and(not_nan(left)) } else { member });
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
                if relation.columns.is_empty() {
                    return err(only.span, "the table given to has_any has no columns");
                }
                return self.first_column_as_array(relation, only.span);
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
}

impl Binder<'_> {
    /// The values of `relation`'s first column as one dynamic array, as
    /// `toscalar(T | summarize make_list(c))` reads them.
    pub(super) fn first_column_as_array(&mut self, relation: Relation, span: Span) -> BindResult<Bound> {
        let Some(column) = relation.columns.first() else { return err(span, "the table has no columns") };
        let spec = functions::registry().lookup_aggregate("make_list").expect("make_list is registered");
        let list = (spec.bind)(&self.call, vec![Bound::new(col_ref(&column.name), column.ty)])
            .map_err(|e| BindError::new(span, e.to_string()))?;
        let plan = LogicalPlanBuilder::from(relation.plan)
            .aggregate(Vec::<Expr>::new(), vec![list.expr.alias("terms")])
            .and_then(|b| b.build())
            .at(span)?;
        let relation = Relation { plan, columns: vec![ColumnDef::new("terms", KqlType::Dynamic)] };
        scalar_subquery(relation, span)
    }
}

/// A value as lowercase text for `in~`: a dynamic value (`make_set(x) in~
/// ("POST")`) is compared as its text, as `in~` is a string operator.
fn fold_case(value: Bound) -> Expr {
    lower(crate::convert::to_string(value).expr)
}

pub(super) fn lower(e: Expr) -> Expr {
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
    // The first row's value, through an aggregate so the subquery always
    // yields one row whose column is nullable: `toscalar` of an empty
    // result is null (the first row of none), and DataFusion takes a scalar
    // subquery's nullability from its column (a literal's is not).
    let first_value = datafusion::functions_aggregate::expr_fn::first_value(col_ref(&first.name), vec![]);
    let plan = datafusion::logical_expr::LogicalPlanBuilder::from(relation.plan)
        .limit(0, Some(1))
        .and_then(|b| b.aggregate(Vec::<Expr>::new(), vec![first_value.alias(first.name.as_str())]))
        .and_then(|b| b.build())
        .map_err(|e| BindError::new(span, e.to_string()))?;
    let subquery = Subquery { subquery: Arc::new(plan), outer_ref_columns: vec![], spans: Default::default() };
    let value = Expr::ScalarSubquery(subquery);
    // An empty result is null, and a Kusto string is never null: "".
    let value =
        if ty == KqlType::String { datafusion::functions::expr_fn::coalesce(vec![value, lit("")]) } else { value };
    Ok(Bound::new(value, ty))
}
