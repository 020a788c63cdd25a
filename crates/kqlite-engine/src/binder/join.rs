//! `join`, `lookup` and `union`.

use super::scalar::{JoinSides, RowScope};
use super::scalar_operators::join_key_equality;
use super::tabular::{param_name, project_plan};
use super::AtSpan;
use super::{col_ref, naming, BindError, BindResult, Binder, Relation};
use crate::convert::Bound;
use crate::types::{ColumnDef, KqlType};
use datafusion::common::{JoinType, ScalarValue};
use datafusion::logical_expr::{lit, Expr, LogicalPlanBuilder};
use kqlite_syntax::ast::{self, BinaryOp, ExprKind};
use kqlite_syntax::Span;

fn err<T>(span: Span, message: impl Into<String>) -> BindResult<T> {
    Err(BindError::new(span, message))
}

/// A typed null for a missing column; strings are never null in Kusto, so
/// they get the empty string.
pub(super) fn missing_value(ty: KqlType) -> Expr {
    match ty {
        KqlType::String => lit(""),
        _ => lit(ScalarValue::try_from(&ty.arrow()).expect("null of a primitive type")),
    }
}

impl<'r> Binder<'r> {
    /// Kusto join kinds; a bare `join` is `innerunique` (the left side is
    /// deduplicated on the join keys first).
    pub(super) fn join(
        &mut self,
        left: Relation,
        right: Relation,
        kind: &str,
        on: &[ast::Expr],
        span: Span,
        is_lookup: bool,
    ) -> BindResult<Relation> {
        let join_type = match kind {
            "inner" | "innerunique" => JoinType::Inner,
            "leftouter" => JoinType::Left,
            "rightouter" => JoinType::Right,
            "fullouter" => JoinType::Full,
            "leftanti" | "anti" | "leftantisemi" => JoinType::LeftAnti,
            "rightanti" | "rightantisemi" => JoinType::RightAnti,
            "leftsemi" => JoinType::LeftSemi,
            "rightsemi" => JoinType::RightSemi,
            other => {
                return err(
                    span,
                    format!("unknown join kind '{other}'; expected inner, innerunique, leftouter, rightouter, fullouter, leftanti, rightanti, leftsemi or rightsemi"),
                )
            }
        };
        if is_lookup && !matches!(join_type, JoinType::Left | JoinType::Inner) {
            return err(span, "lookup supports kind=leftouter or kind=inner");
        }
        // Give the right side's columns unique plan names.
        let tag = self.fresh("r");
        let right_name = |name: &str| format!("{tag}_{name}");
        let renamed: Vec<Expr> = right.columns.iter().map(|c| col_ref(&c.name).alias(right_name(&c.name))).collect();
        let right_plan = project_plan(right.plan.clone(), renamed).at(span)?;

        // Join conditions.
        let mut conditions = Vec::new();
        let mut left_keys = Vec::new();
        let mut key_names = Vec::new();
        // `on $left.a == $right.b and $left.c == $right.d` lists keys like commas do.
        let mut terms: Vec<&ast::Expr> = Vec::new();
        for term in on {
            flatten_and(term, &mut terms);
        }
        for term in terms {
            let (l, r) = match &term.kind {
                ExprKind::Name(id) => {
                    let Some(lc) = left.column(&id.name) else {
                        return err(id.span, format!("join key '{}' is not a column of the left side", id.name));
                    };
                    let Some(rc) = right.column(&id.name) else {
                        return err(id.span, format!("join key '{}' is not a column of the right side", id.name));
                    };
                    key_names.push(id.name.clone());
                    (Bound::new(col_ref(&id.name), lc.ty), Bound::new(col_ref(&right_name(&id.name)), rc.ty))
                }
                ExprKind::Binary { op: BinaryOp::Eq, left: a, right: b } => {
                    let sides = JoinSides { left: &left.columns, right: &right.columns, right_name: &right_name };
                    let mut scope = RowScope { columns: &[], join: Some(sides), aggregates: None, windows: None };
                    let a = self.scalar(a, &mut scope)?;
                    let sides = JoinSides { left: &left.columns, right: &right.columns, right_name: &right_name };
                    let mut scope = RowScope { columns: &[], join: Some(sides), aggregates: None, windows: None };
                    let b = self.scalar(b, &mut scope)?;
                    (a, b)
                }
                _ => return err(term.span, "join keys are column names or $left.Column == $right.Column"),
            };
            left_keys.push(l.expr.clone());
            conditions.push(join_key_equality(l, r, term.span)?.expr);
        }
        let mut left_plan = left.plan.clone();
        if kind == "innerunique" {
            let select: Vec<Expr> = left.columns.iter().map(|c| col_ref(&c.name)).collect();
            left_plan = LogicalPlanBuilder::from(left_plan)
                .distinct_on(left_keys.clone(), select, None)
                .and_then(|b| b.build())
                .at(span)?;
        }
        let joined = LogicalPlanBuilder::from(left_plan)
            .join_on(right_plan, join_type, conditions)
            .and_then(|b| b.build())
            .at(span)?;

        // Output columns, in Kusto's order and names.
        let outer_right = matches!(join_type, JoinType::Left | JoinType::Full);
        let outer_left = matches!(join_type, JoinType::Right | JoinType::Full);
        let mut outputs: Vec<(String, Expr, KqlType)> = Vec::new();
        let include_left = !matches!(join_type, JoinType::RightAnti | JoinType::RightSemi);
        let include_right = !matches!(join_type, JoinType::LeftAnti | JoinType::LeftSemi);
        if include_left {
            for c in &left.columns {
                outputs.push((c.name.clone(), never_null_string(col_ref(&c.name), c.ty, outer_left), c.ty));
            }
        }
        if include_right {
            for c in &right.columns {
                if is_lookup && key_names.contains(&c.name) {
                    continue;
                }
                // A right column whose name the left side has is numbered,
                // skipping the right side's own names (Kusto's `x2` when the
                // right side already has `x1`).
                let name = if include_left && outputs.iter().any(|(n, _, _)| *n == c.name) {
                    let mut taken: Vec<String> = outputs.iter().map(|(n, _, _)| n.clone()).collect();
                    taken.extend(right.columns.iter().map(|r| r.name.clone()));
                    naming::unique_name(&c.name, &taken)
                } else {
                    c.name.clone()
                };
                outputs.push((name, never_null_string(col_ref(&right_name(&c.name)), c.ty, outer_right), c.ty));
            }
        }
        let exprs: Vec<Expr> = outputs.iter().map(|(n, e, _)| e.clone().alias(n)).collect();
        let plan = project_plan(joined, exprs).at(span)?;
        Ok(Relation { plan, columns: outputs.into_iter().map(|(n, _, t)| ColumnDef::new(n, t)).collect() })
    }

    /// `union`: columns by name in first-seen order; a name with different
    /// types in different legs becomes one column per type, `Name_type`.
    pub(super) fn union(
        &mut self,
        inputs: Vec<(Option<String>, Relation)>,
        params: &[ast::OperatorParam],
        span: Span,
    ) -> BindResult<Relation> {
        let mut names: Vec<String> = Vec::new();
        let mut types: Vec<Vec<KqlType>> = Vec::new();
        for (_, r) in &inputs {
            for c in &r.columns {
                match names.iter().position(|n| *n == c.name) {
                    Some(i) => {
                        if !types[i].contains(&c.ty) {
                            types[i].push(c.ty);
                        }
                    }
                    None => {
                        names.push(c.name.clone());
                        types.push(vec![c.ty]);
                    }
                }
            }
        }
        // Output name per (input name, type); a split name that is already
        // taken (`x_long` next to a split `x`) gets a number: `x_long1`.
        let mut out_names: Vec<Vec<String>> = Vec::new();
        let mut taken: Vec<String> =
            names.iter().zip(&types).filter(|(_, t)| t.len() == 1).map(|(n, _)| n.clone()).collect();
        for (name, tys) in names.iter().zip(&types) {
            if tys.len() == 1 {
                out_names.push(vec![name.clone()]);
                continue;
            }
            let mut split = Vec::new();
            for ty in tys {
                let unique = naming::unique_name(&format!("{name}_{}", ty.name()), &taken);
                taken.push(unique.clone());
                split.push(unique);
            }
            out_names.push(split);
        }
        let mut columns: Vec<ColumnDef> = Vec::new();
        for (tys, outs) in types.iter().zip(&out_names) {
            for (ty, out) in tys.iter().zip(outs) {
                columns.push(ColumnDef::new(out.clone(), *ty));
            }
        }
        let source_column = param_name(params, "withsource");
        let mut plans = Vec::new();
        for (label, r) in inputs {
            let mut exprs = Vec::new();
            if let Some(source) = &source_column {
                exprs.push(lit(label.clone().unwrap_or_default()).alias(source));
            }
            for ((name, tys), outs) in names.iter().zip(&types).zip(&out_names) {
                let present = r.column(name);
                for (ty, out_name) in tys.iter().zip(outs) {
                    let out_name = out_name.clone();
                    let expr = match present {
                        Some(c) if c.ty == *ty => col_ref(name),
                        _ => missing_value(*ty),
                    };
                    exprs.push(expr.alias(out_name));
                }
            }
            let plan = project_plan(r.plan, exprs).at(span)?;
            plans.push(plan);
        }
        let mut iter = plans.into_iter();
        let first = iter.next().ok_or_else(|| BindError::new(span, "union needs at least one table"))?;
        let mut builder = LogicalPlanBuilder::from(first);
        for p in iter {
            builder = builder.union(p).at(span)?;
        }
        let plan = builder.build().at(span)?;
        if let Some(source) = source_column {
            columns.insert(0, ColumnDef::new(source, KqlType::String));
        }
        Ok(Relation { plan, columns })
    }
}

/// In outer joins the missing side's strings are empty, never null.
fn never_null_string(expr: Expr, ty: KqlType, may_be_missing: bool) -> Expr {
    if may_be_missing && ty == KqlType::String {
        datafusion::functions::expr_fn::coalesce(vec![expr, lit("")])
    } else {
        expr
    }
}

fn flatten_and<'a>(expr: &'a ast::Expr, out: &mut Vec<&'a ast::Expr>) {
    match &expr.kind {
        ExprKind::Binary { op: BinaryOp::And, left, right } => {
            flatten_and(left, out);
            flatten_and(right, out);
        }
        ExprKind::Paren(inner) if matches!(inner.kind, ExprKind::Binary { op: BinaryOp::And, .. }) => {
            flatten_and(inner, out)
        }
        _ => out.push(expr),
    }
}
