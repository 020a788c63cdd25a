//! `top-nested`: hierarchical top-N aggregation.
//!
//! Level by level: aggregate the rows still in play by the keys so far,
//! keep the top N groups within each parent group (a `row_number` window),
//! and join the survivors back to the rows to feed the next level. Rows
//! that miss the top at a level form that level's "others" bucket, which
//! yields one extra row per parent when this level or a deeper one says
//! `with others = …`.

use super::join::missing_value;
use super::scalar::RowScope;
use super::tabular::project_plan;
use super::AtSpan;
use super::{col_ref, naming, BindError, BindResult, Binder, Relation};
use crate::convert::evaluate_constant;
use crate::convert::{implicit, to_string, Bound};
use crate::functions;
use crate::types::{ColumnDef, KqlType};
use datafusion::common::{Column, JoinType, NullEquality, ScalarValue};
use datafusion::functions_window::expr_fn::row_number;
use datafusion::logical_expr::{lit, Expr, ExprFunctionExt, LogicalPlan, LogicalPlanBuilder, SortExpr};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

/// One `top-nested` clause, bound.
struct Level {
    /// Hidden plan names of the key and the aggregate.
    key_col: String,
    agg_col: String,
    key_name: String,
    agg_name: String,
    key_ty: KqlType,
    agg_ty: KqlType,
    count: Option<usize>,
    asc: bool,
    others: Option<Bound>,
    aggregation: ast::Expr,
}

impl<'r> Binder<'r> {
    pub(super) fn top_nested(
        &mut self,
        input: Relation,
        clauses: &[ast::TopNestedClause],
        span: Span,
    ) -> BindResult<Relation> {
        // Bind the clauses; evaluate every level's key once per row.
        let mut levels: Vec<Level> = Vec::new();
        let mut taken: Vec<String> = Vec::new();
        let mut key_exprs: Vec<Expr> = input.columns.iter().map(|c| col_ref(&c.name)).collect();
        for clause in clauses {
            let key = self.scalar(&clause.of.expr, &mut RowScope::new(&input.columns))?;
            let key_name = match clause.of.names.as_slice() {
                [one] => one.name.clone(),
                // Microsoft's binder names other expressions "" (then "1", "2", …).
                _ => naming::expression_name(&clause.of.expr).unwrap_or_default(),
            };
            let key_name = naming::unique_name(&key_name, &taken);
            taken.push(key_name.clone());
            let Some(by) = &clause.by else {
                return Err(BindError::new(clause.of.span, "top-nested needs 'by Aggregation', such as by count()"));
            };
            let agg_name = match by.column.names.as_slice() {
                [one] => one.name.clone(),
                _ => format!("aggregated_{key_name}"),
            };
            let agg_name = naming::unique_name(&agg_name, &taken);
            taken.push(agg_name.clone());
            // Bind the aggregation once here for its type and to check it.
            let mut scope =
                RowScope { columns: &input.columns, join: None, aggregates: Some(Vec::new()), windows: None };
            let agg = self.scalar(&by.column.expr, &mut scope)?;
            if scope.aggregates.as_ref().is_none_or(|a| a.is_empty()) {
                return Err(BindError::new(
                    by.column.expr.span,
                    "top-nested ranks by an aggregation, such as sum(x), count() or max(1)",
                ));
            }
            if agg.ty == KqlType::Dynamic {
                return Err(BindError::new(by.column.expr.span, "top-nested cannot rank by a dynamic value"));
            }
            let count = match &clause.count {
                Some(c) => {
                    let b = self.constant(c)?;
                    match evaluate_constant(&b.expr) {
                        Some(ScalarValue::Int64(Some(n))) if n >= 0 => Some(n as usize),
                        Some(ScalarValue::Int32(Some(n))) if n >= 0 => Some(n as usize),
                        _ => return Err(BindError::new(c.span, "top-nested needs a non-negative constant count")),
                    }
                }
                None => None,
            };
            let others = match &clause.others {
                Some(o) => {
                    let value = self.constant(o)?;
                    Some(convert_others(value, key.ty).ok_or_else(|| {
                        BindError::new(o.span, format!("the 'others' value must be convertible to {}", key.ty))
                    })?)
                }
                None => None,
            };
            let key_col = self.fresh("tnk");
            key_exprs.push(key.expr.clone().alias(&key_col));
            levels.push(Level {
                key_col,
                agg_col: self.fresh("tna"),
                key_name,
                agg_name,
                key_ty: key.ty,
                agg_ty: agg.ty,
                count,
                asc: by.order == Some(ast::SortOrder::Asc),
                others,
                aggregation: by.column.expr.clone(),
            });
        }
        if levels.is_empty() {
            return Err(BindError::new(span, "top-nested needs at least one clause"));
        }
        let mut rows = project_plan(input.plan.clone(), key_exprs).at(span)?;
        let mut selected: Option<LogicalPlan> = None;
        let mut others_plans: Vec<LogicalPlan> = Vec::new();
        for k in 0..levels.len() {
            let keys: Vec<Expr> = levels[..=k].iter().map(|l| col_ref(&l.key_col)).collect();
            let parent_aggs: Vec<Expr> = levels[..k].iter().map(|l| col_ref(&l.agg_col)).collect();
            // Aggregate the rows in play by the keys so far.
            let mut scope =
                RowScope { columns: &input.columns, join: None, aggregates: Some(Vec::new()), windows: None };
            let agg = self.scalar(&levels[k].aggregation, &mut scope)?;
            let collected: Vec<Expr> =
                scope.aggregates.take().unwrap_or_default().into_iter().map(|(a, e)| e.alias(a)).collect();
            let group: Vec<Expr> = keys.iter().chain(&parent_aggs).cloned().collect();
            let mut outputs = group.clone();
            outputs.push(agg.expr.alias(&levels[k].agg_col));
            let mut groups = LogicalPlanBuilder::from(rows.clone())
                .aggregate(group.clone(), collected)
                .and_then(|b| b.project(outputs))
                .and_then(|b| b.build())
                .at(span)?;
            // Keep the top N within each parent group.
            if let Some(n) = levels[k].count {
                let rank = self.fresh("tnr");
                let order = vec![
                    SortExpr::new(col_ref(&levels[k].agg_col), levels[k].asc, levels[k].asc),
                    SortExpr::new(col_ref(&levels[k].key_col), true, true),
                ];
                let window =
                    row_number().partition_by(keys[..k].to_vec()).order_by(order).build().at(span)?.alias(&rank);
                groups = LogicalPlanBuilder::from(groups)
                    .window(vec![window])
                    .and_then(|b| b.filter(col_ref(&rank).lt_eq(lit(n as u64))))
                    .and_then(|b| b.project(group.iter().cloned().chain([col_ref(&levels[k].agg_col)])))
                    .and_then(|b| b.build())
                    .at(span)?;
            }
            let last = k + 1 == levels.len();
            let wants_others = levels[k].count.is_some() && levels[k..].iter().any(|l| l.others.is_some());
            if !last || wants_others {
                // The survivors, with unique names for joining back to the rows.
                let tag = self.fresh("tns");
                let renamed: Vec<Expr> = levels[..=k]
                    .iter()
                    .map(|l| col_ref(&l.key_col).alias(format!("{tag}{}", l.key_col)))
                    .chain(std::iter::once(col_ref(&levels[k].agg_col).alias(format!("{tag}{}", levels[k].agg_col))))
                    .collect();
                let survivors = project_plan(groups.clone(), renamed).at(span)?;
                let left_keys: Vec<Column> = levels[..=k].iter().map(|l| Column::from_name(&l.key_col)).collect();
                let right_keys: Vec<Column> =
                    levels[..=k].iter().map(|l| Column::from_name(format!("{tag}{}", l.key_col))).collect();
                let row_columns: Vec<Expr> = rows.schema().columns().into_iter().map(Expr::Column).collect();
                if wants_others {
                    let bucket = LogicalPlanBuilder::from(rows.clone())
                        .join_detailed(
                            survivors.clone(),
                            JoinType::LeftAnti,
                            (left_keys.clone(), right_keys.clone()),
                            None,
                            NullEquality::NullEqualsNull,
                        )
                        .and_then(|b| b.build())
                        .at(span)?;
                    others_plans.push(self.others_rows(bucket, &levels, k, &input.columns, span)?);
                }
                if !last {
                    let mut next: Vec<Expr> = row_columns;
                    next.push(col_ref(&format!("{tag}{}", levels[k].agg_col)).alias(&levels[k].agg_col));
                    rows = LogicalPlanBuilder::from(rows)
                        .join_detailed(
                            survivors,
                            JoinType::Inner,
                            (left_keys, right_keys),
                            None,
                            NullEquality::NullEqualsNull,
                        )
                        .and_then(|b| b.project(next))
                        .and_then(|b| b.build())
                        .at(span)?;
                }
            }
            selected = Some(groups);
        }
        // The selected paths, sorted level by level, then the "others" rows.
        let selected = selected.expect("at least one level");
        let sort: Vec<SortExpr> = levels
            .iter()
            .flat_map(|l| {
                [SortExpr::new(col_ref(&l.agg_col), l.asc, l.asc), SortExpr::new(col_ref(&l.key_col), true, true)]
            })
            .collect();
        let outputs: Vec<Expr> = levels
            .iter()
            .flat_map(|l| [col_ref(&l.key_col).alias(&l.key_name), col_ref(&l.agg_col).alias(&l.agg_name)])
            .collect();
        let mut builder = LogicalPlanBuilder::from(selected).sort(sort).and_then(|b| b.project(outputs)).at(span)?;
        for p in others_plans {
            builder = builder.union(p).at(span)?;
        }
        let plan = builder.build().at(span)?;
        let columns = levels
            .iter()
            .flat_map(|l| [ColumnDef::new(l.key_name.clone(), l.key_ty), ColumnDef::new(l.agg_name.clone(), l.agg_ty)])
            .collect();
        Ok(Relation { plan, columns })
    }

    /// The "others" rows of level `k`: the rows that missed the top, one row
    /// per parent group. This level and deeper ones show their `others`
    /// value and the aggregation over the whole bucket, or nulls when they
    /// have no `with others`.
    fn others_rows(
        &mut self,
        bucket: LogicalPlan,
        levels: &[Level],
        k: usize,
        columns: &[ColumnDef],
        span: Span,
    ) -> BindResult<LogicalPlan> {
        let group: Vec<Expr> = levels[..k].iter().flat_map(|l| [col_ref(&l.key_col), col_ref(&l.agg_col)]).collect();
        let mut scope = RowScope { columns, join: None, aggregates: Some(Vec::new()), windows: None };
        let mut deeper: Vec<Option<Bound>> = Vec::new();
        for l in &levels[k..] {
            deeper.push(match l.others {
                Some(_) => Some(self.scalar(&l.aggregation, &mut scope)?),
                None => None,
            });
        }
        let count = self.fresh("tnc");
        let mut aggregates: Vec<Expr> =
            scope.aggregates.take().unwrap_or_default().into_iter().map(|(a, e)| e.alias(a)).collect();
        aggregates.push(datafusion::functions_aggregate::expr_fn::count(lit(1i64)).alias(&count));
        let mut outputs: Vec<Expr> = Vec::new();
        for l in &levels[..k] {
            outputs.push(col_ref(&l.key_col).alias(&l.key_name));
            outputs.push(col_ref(&l.agg_col).alias(&l.agg_name));
        }
        for (l, agg) in levels[k..].iter().zip(deeper) {
            match (&l.others, agg) {
                (Some(value), Some(agg)) => {
                    outputs.push(value.expr.clone().alias(&l.key_name));
                    outputs.push(agg.expr.alias(&l.agg_name));
                }
                _ => {
                    outputs.push(missing_value(l.key_ty).alias(&l.key_name));
                    outputs.push(missing_value(l.agg_ty).alias(&l.agg_name));
                }
            }
        }
        LogicalPlanBuilder::from(bucket)
            .aggregate(group, aggregates)
            .and_then(|b| b.filter(col_ref(&count).gt(lit(0i64))))
            .and_then(|b| b.project(outputs))
            .and_then(|b| b.build())
            .at(span)
    }
}

/// The `others` value in the key's type (Microsoft's binder accepts any
/// constant; strings convert both ways).
fn convert_others(value: Bound, ty: KqlType) -> Option<Bound> {
    let converted = if value.ty == ty {
        value
    } else if let Some(b) = implicit(value.clone(), ty) {
        b
    } else if ty == KqlType::String {
        to_string(value)
    } else if value.ty == KqlType::String {
        functions::conversion::from_string(value, ty)
    } else {
        return None;
    };
    Some(Bound::new(datafusion::logical_expr::cast(converted.expr, ty.arrow()), ty))
}
