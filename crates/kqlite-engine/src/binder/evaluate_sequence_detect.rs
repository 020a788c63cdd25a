//! `evaluate sequence_detect(Timeline, MaxSequenceStepWindow,
//! MaxSequenceSpan, Expr1, Expr2, …, Dim1, Dim2, …)`: one row per
//! occurrence of the steps in order, with the dimensions, each step's time
//! (`<step>_<Timeline>`) and the `Duration` from first to last step.
//!
//! Arguments after the two windows are steps while they are boolean, then
//! dimensions. Each dimension group's rows are collected into one dynamic
//! array and matched by `functions::sequence_detect`.

use super::scalar::RowScope;
use super::tabular::project_plan;
use super::AtSpan;
use super::{col_ref, naming, BindError, BindResult, Binder, Relation};
use crate::convert::{evaluate_constant, implicit, Bound};
use crate::functions;
use crate::types::{ColumnDef, KqlType};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::{Column, ScalarValue, UnnestOptions};
use datafusion::logical_expr::{lit, Expr, LogicalPlanBuilder};
use kqlite_syntax::ast::{self, ExprKind};
use kqlite_syntax::Span;

impl<'r> Binder<'r> {
    pub(super) fn sequence_detect(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        let [timeline, step_window, span_arg, rest @ ..] = args else {
            return Err(BindError::new(
                span,
                "sequence_detect() needs a timeline column, a step window, a sequence span and the steps",
            ));
        };
        let ExprKind::Name(timeline) = &timeline.value.kind else {
            return Err(BindError::new(timeline.value.span, "sequence_detect(): the timeline must be a column name"));
        };
        match input.column(&timeline.name) {
            Some(c) if c.ty == KqlType::Datetime => {}
            Some(c) => {
                return Err(BindError::new(
                    timeline.span,
                    format!("sequence_detect(): the timeline must be datetime, '{}' is {}", timeline.name, c.ty),
                ))
            }
            None => {
                return Err(BindError::new(
                    timeline.span,
                    format!("sequence_detect(): unknown column '{}'", timeline.name),
                ))
            }
        }
        let step_window = self.window_argument(step_window, "the step window")?;
        let sequence_span = self.window_argument(span_arg, "the sequence span")?;
        let mut scope = RowScope::new(&input.columns);
        let mut steps: Vec<(String, Bound)> = Vec::new();
        let mut dims: Vec<(String, Bound)> = Vec::new();
        for arg in rest {
            let value = self.scalar(&arg.value, &mut scope)?;
            if value.ty == KqlType::Bool && dims.is_empty() {
                let name = arg.name.as_ref().map(|n| n.name.clone()).unwrap_or_default();
                steps.push((name, value));
            } else {
                let taken: Vec<String> = dims.iter().map(|(n, _)| n.clone()).collect();
                let name = match (&arg.name, naming::expression_name(&arg.value)) {
                    (Some(n), _) => n.name.clone(),
                    (None, Some(n)) => n,
                    (None, None) => format!("Column{}", dims.len() + 1),
                };
                dims.push((naming::unique_name(&name, &taken), value));
            }
        }
        if steps.is_empty() {
            return Err(BindError::new(
                span,
                "sequence_detect(): expected at least one boolean step after the windows",
            ));
        }
        // 1. Per row: the dimensions and [time, step1, …, stepN].
        let time = Bound::new(col_ref(&timeline.name), KqlType::Long);
        let mut cells = vec![time];
        cells.extend(steps.iter().map(|(_, b)| b.clone()));
        let row = functions::dynamic::pack_array(cells);
        let mut exprs: Vec<Expr> = dims.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        exprs.push(row.expr.alias("__sequence_row"));
        let plan = project_plan(input.plan, exprs).at(span)?;
        // 2. Each dimension group's rows as one array.
        let list = (functions::registry().lookup_aggregate("make_list").expect("make_list").bind)(
            &self.call,
            vec![Bound::new(col_ref("__sequence_row"), KqlType::Dynamic), Bound::new(lit(i64::MAX), KqlType::Long)],
        )
        .map_err(|e| BindError::new(span, e.to_string()))?;
        let groups: Vec<Expr> = dims.iter().map(|(n, _)| col_ref(n)).collect();
        // 3. The sequences, one row each.
        let sequences = crate::udf::call(
            "kql_sequence_detect",
            DataType::Binary,
            functions::sequence_detect::sequence_detect_kernel,
            vec![col_ref("__sequence_rows"), lit(steps.len() as i64), lit(step_window), lit(sequence_span)],
        );
        let mut exprs: Vec<Expr> = groups.clone();
        exprs.push(functions::dynamic::to_list(Bound::new(sequences, KqlType::Dynamic), None).alias("__sequence"));
        let plan = LogicalPlanBuilder::from(plan)
            .aggregate(groups.clone(), vec![list.expr.alias("__sequence_rows")])
            .and_then(|b| b.project(exprs))
            .and_then(|b| {
                b.unnest_columns_with_options(
                    vec![Column::from_name("__sequence")],
                    UnnestOptions::new().with_preserve_nulls(false),
                )
            })
            .and_then(|b| b.build())
            .at(span)?;
        // 4. Typed columns: dimensions, each step's time, Duration.
        let sequence = Bound::new(col_ref("__sequence"), KqlType::Dynamic);
        let time_at = |i: usize| -> Expr {
            let t = functions::dynamic::get_index(sequence.clone(), Bound::new(lit(i as i64), KqlType::Long));
            implicit(t, KqlType::Long).expect("dynamic converts to long").expr
        };
        let mut outputs: Vec<(String, Bound)> =
            dims.iter().map(|(n, b)| (n.clone(), Bound::new(col_ref(n), b.ty))).collect();
        for (i, (step, _)) in steps.iter().enumerate() {
            let taken: Vec<String> = outputs.iter().map(|(n, _)| n.clone()).collect();
            let name = naming::unique_name(&format!("{step}_{}", timeline.name), &taken);
            outputs.push((name, Bound::new(time_at(i), KqlType::Datetime)));
        }
        let duration = time_at(steps.len() - 1) - time_at(0);
        outputs.push(("Duration".to_string(), Bound::new(duration, KqlType::Timespan)));
        let exprs: Vec<Expr> = outputs.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        let plan = project_plan(plan, exprs).at(span)?;
        Ok(Relation { plan, columns: outputs.into_iter().map(|(n, b)| ColumnDef::new(n, b.ty)).collect() })
    }

    /// A constant timespan argument, in nanoseconds.
    fn window_argument(&mut self, arg: &ast::Arg, what: &str) -> BindResult<i64> {
        let value = self.constant(&arg.value)?;
        match (value.ty, evaluate_constant(&value.expr)) {
            (KqlType::Timespan, Some(ScalarValue::Int64(Some(ns)))) if ns >= 0 => Ok(ns),
            _ => Err(BindError::new(
                arg.value.span,
                format!("sequence_detect(): {what} must be a constant, non-negative timespan"),
            )),
        }
    }
}
