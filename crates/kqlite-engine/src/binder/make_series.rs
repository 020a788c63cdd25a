//! `make-series`: one row per `by` group, with each aggregate as a dense
//! dynamic array over the bins of the axis.
//!
//! Lowering: filter the input to the axis range, aggregate by (keys, bin
//! index), then group by the keys and lay the per-bin values out in arrays
//! with a small aggregate ([`SeriesUdaf`]) that fills missing bins with the
//! default. Without `from`/`to` the range comes from the axis' minimum and
//! maximum over the whole input (one shared timeline for every series), so
//! series of different groups line up element by element.

use super::scalar::RowScope;
use super::tabular::{param_name, project_plan};
use super::AtSpan;
use super::{col_ref, naming, BindError, BindResult, Binder, Relation};
use crate::convert::evaluate_constant;
use crate::convert::{implicit, to_dynamic, Bound};
use crate::dynamic::{ArrayEncoder, DynRef, DynValue, ENCODED_NULL};
use crate::functions;
use crate::types::{ColumnDef, KqlType};
use crate::udf::{self, rows_to_compute};
use datafusion::arrow::array::{Array, ArrayRef, BinaryBuilder};
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array};
use datafusion::common::{Result, ScalarValue};
use datafusion::functions_aggregate::expr_fn as agg;
use datafusion::logical_expr::function::{AccumulatorArgs, StateFieldsArgs};
use datafusion::logical_expr::{
    cast, lit, when, Accumulator, AggregateUDF, AggregateUDFImpl, ColumnarValue, Expr, LogicalPlan, LogicalPlanBuilder,
    Signature, Volatility,
};
use kqlite_syntax::ast::{self, ExprKind};
use kqlite_syntax::Span;
use std::collections::BTreeMap;
use std::sync::Arc;

/// Kusto caps series at 2^20 values.
const MAX_SERIES: i64 = 1 << 20;

/// How axis values are computed on: integers (datetime, timespan, int,
/// long) or reals.
#[derive(Clone, Copy, PartialEq)]
enum Mode {
    Int,
    Real,
}

impl Mode {
    fn arrow(self) -> DataType {
        match self {
            Mode::Int => DataType::Int64,
            Mode::Real => DataType::Float64,
        }
    }
}

fn err<T>(span: Span, message: impl Into<String>) -> BindResult<T> {
    Err(BindError::new(span, message))
}

impl<'r> Binder<'r> {
    pub(super) fn make_series(
        &mut self,
        input: Relation,
        series: &ast::MakeSeries,
        span: Span,
    ) -> BindResult<Relation> {
        let nonempty = match param_name(&series.params, "kind").as_deref() {
            None => false,
            Some(k) if k.eq_ignore_ascii_case("nonempty") => true,
            Some(k) => return err(span, format!("make-series kind must be nonempty, not '{k}'")),
        };

        // Axis, step and range.
        let axis = self.scalar(&series.on, &mut RowScope::new(&input.columns))?;
        let (step_ast, from_ast, to_ast, in_range) = match &series.range {
            ast::MakeSeriesRange::FromTo { from, to, step } => (step, from.as_ref(), to.as_ref(), false),
            ast::MakeSeriesRange::InRange { start, stop, step } => (step, Some(start), Some(stop), true),
        };
        let step = self.constant(step_ast)?;
        let mode = match (axis.ty, step.ty) {
            (KqlType::Datetime | KqlType::Timespan, KqlType::Timespan) => Mode::Int,
            (KqlType::Int, KqlType::Int) | (KqlType::Long, KqlType::Int | KqlType::Long) => Mode::Int,
            (KqlType::Real | KqlType::Decimal, s) if s.is_numeric() => Mode::Real,
            (a, s) if a.is_numeric() || matches!(a, KqlType::Datetime | KqlType::Timespan) => {
                return err(step_ast.span, format!("the type '{s}' is not an appropriate step for a '{a}' axis"))
            }
            (a, _) => {
                return err(
                    series.on.span,
                    format!("the make-series axis must be a datetime, timespan or number, not {a}"),
                )
            }
        };
        let step_value = match evaluate_constant(&cast(step.expr.clone(), mode.arrow())) {
            Some(ScalarValue::Int64(Some(v))) if v > 0 => ScalarValue::Int64(Some(v)),
            Some(ScalarValue::Float64(Some(v))) if v > 0.0 && v.is_finite() => ScalarValue::Float64(Some(v)),
            _ => return err(step_ast.span, "the make-series step must be a positive constant"),
        };
        let step_expr = lit(step_value.clone());
        let bound_of = |this: &mut Self, e: &ast::Expr| -> BindResult<Expr> {
            let b = this.constant(e)?;
            let fits = b.ty == axis.ty || (mode == Mode::Real || axis.ty.is_numeric()) && b.ty.is_numeric();
            if !fits {
                return err(e.span, format!("the make-series range must be {}, like the axis, not {}", axis.ty, b.ty));
            }
            Ok(cast(b.expr, mode.arrow()))
        };
        let mut from = from_ast.map(|e| bound_of(self, e)).transpose()?;
        let mut to = to_ast.map(|e| bound_of(self, e)).transpose()?;
        if in_range {
            // `in range(start, stop, step)` bins with bin(), and stop is inclusive.
            from = from.map(|f| floor_to_step(f, &step_expr, mode));
            to = to.map(|t| floor_to_step(t, &step_expr, mode) + step_expr.clone());
        }
        let axis_expr = cast(axis.expr.clone(), mode.arrow());

        // Keep the rows in range.
        let mut keep = axis_expr.clone().is_not_null();
        if let Some(f) = &from {
            keep = keep.and(axis_expr.clone().gt_eq(f.clone()));
        }
        if let Some(t) = &to {
            keep = keep.and(axis_expr.clone().lt(t.clone()));
        }
        let filtered = LogicalPlanBuilder::from(input.plan.clone()).filter(keep).and_then(|b| b.build()).at(span)?;

        // Without from/to, the range comes from the data.
        let (plan, start, count) = if from.is_some() && to.is_some() {
            let (f, t) = (from.clone().expect("from"), to.clone().expect("to"));
            (filtered, f.clone(), bins_until(f, t, &step_expr, mode))
        } else {
            let (lo, hi) = (self.fresh("ms_lo"), self.fresh("ms_hi"));
            let extent = LogicalPlanBuilder::from(filtered.clone())
                .aggregate(
                    Vec::<Expr>::new(),
                    vec![agg::min(axis_expr.clone()).alias(&lo), agg::max(axis_expr.clone()).alias(&hi)],
                )
                .and_then(|b| b.build())
                .at(span)?;
            let plan = LogicalPlanBuilder::from(filtered).cross_join(extent).and_then(|b| b.build()).at(span)?;
            let start = from.clone().unwrap_or_else(|| floor_to_step(col_ref(&lo), &step_expr, mode));
            let count = match &to {
                Some(t) => bins_until(start.clone(), t.clone(), &step_expr, mode),
                None => bin_index(col_ref(&hi), start.clone(), &step_expr, mode) + lit(1i64),
            };
            (plan, start, count)
        };
        let columns = input.columns.clone();

        // Group keys.
        let mut keys: Vec<(String, Bound)> = Vec::new();
        let mut counter = 0;
        for item in &series.by {
            let b = self.scalar(&item.expr, &mut RowScope::new(&columns))?;
            let name = match item.names.as_slice() {
                [one] => one.name.clone(),
                [] => naming::expression_name(&item.expr).unwrap_or_else(|| next_column(&mut counter, &keys)),
                _ => return err(item.span, "make-series takes one name per by expression"),
            };
            if keys.iter().any(|(n, _)| *n == name) {
                return err(item.span, format!("a column with the name '{name}' is already declared"));
            }
            keys.push((name, b));
        }

        // Aggregates, possibly inside scalar expressions, as in summarize.
        let mut scope = RowScope { columns: &columns, join: None, aggregates: Some(Vec::new()), windows: None };
        let mut values: Vec<(String, Bound, Vec<u8>)> = Vec::new();
        for item in &series.aggregates {
            let expr = &item.column.expr;
            let bound = self.scalar(expr, &mut scope)?;
            let name = match item.column.names.as_slice() {
                [one] => one.name.clone(),
                [] => {
                    let derived = match &expr.kind {
                        ExprKind::Call { func, .. } => functions::registry()
                            .lookup_aggregate(&func.name)
                            .map(|spec| naming::aggregate_name(spec.name_prefix, expr)),
                        _ => None,
                    };
                    match derived {
                        Some(n) => {
                            let taken: Vec<String> = values.iter().map(|(n, _, _)| n.clone()).collect();
                            naming::unique_name(&n, &taken)
                        }
                        None => next_column(&mut counter, &keys),
                    }
                }
                _ => return err(item.column.span, "make-series takes one name per aggregate"),
            };
            if keys.iter().any(|(n, _)| *n == name) || values.iter().any(|(n, _, _)| *n == name) {
                return err(item.column.span, format!("a column with the name '{name}' is already declared"));
            }
            let default = match &item.default {
                Some(d) => self.default_value(d, bound.ty)?,
                None => default_value_of(Bound::new(lit(0i64), KqlType::Long), bound.ty),
            };
            values.push((name, bound, default));
        }
        let collected = scope.aggregates.take().unwrap_or_default();
        let axis_name = {
            let name = naming::expression_name(&series.on).unwrap_or_else(|| next_column(&mut counter, &keys));
            if values.iter().any(|(n, _, _)| *n == name) {
                return err(series.on.span, format!("a column with the name '{name}' is already declared"));
            }
            let taken: Vec<String> = keys.iter().map(|(n, _)| n.clone()).collect();
            naming::unique_name(&name, &taken)
        };

        // Aggregate per (keys, bin).
        let (idx, start_col, count_col) = (self.fresh("ms_idx"), self.fresh("ms_start"), self.fresh("ms_n"));
        let mut group: Vec<Expr> = keys.iter().map(|(n, b)| b.expr.clone().alias(n)).collect();
        group.push(bin_index(axis_expr, start.clone(), &step_expr, mode).alias(&idx));
        group.push(start.clone().alias(&start_col));
        group.push(count.clone().alias(&count_col));
        let aggregates: Vec<Expr> = collected.into_iter().map(|(alias, e)| e.alias(alias)).collect();
        let binned = LogicalPlanBuilder::from(plan).aggregate(group, aggregates).and_then(|b| b.build()).at(span)?;
        let mut exprs: Vec<Expr> = keys.iter().map(|(n, _)| col_ref(n)).collect();
        exprs.extend([col_ref(&idx), col_ref(&start_col), col_ref(&count_col)]);
        let value_cols: Vec<String> = values.iter().map(|_| self.fresh("ms_v")).collect();
        for ((_, b, _), v) in values.iter().zip(&value_cols) {
            exprs.push(to_dynamic(b.clone()).expr.alias(v));
        }
        let binned = project_plan(binned, exprs).at(span)?;

        // Lay the bins out in arrays, per keys.
        let mut group: Vec<Expr> = keys.iter().map(|(n, _)| col_ref(n)).collect();
        group.extend([col_ref(&start_col), col_ref(&count_col)]);
        let arrays: Vec<Expr> = values
            .iter()
            .zip(&value_cols)
            .map(|((_, _, default), v)| {
                AggregateUDF::new_from_impl(SeriesUdaf::new(default.clone()))
                    .call(vec![col_ref(&idx), col_ref(v), col_ref(&count_col)])
                    .alias(v)
            })
            .collect();
        let laid = LogicalPlanBuilder::from(binned).aggregate(group, arrays).and_then(|b| b.build()).at(span)?;
        let axis_ty = axis.ty;
        let mut exprs: Vec<Expr> = keys.iter().map(|(n, _)| col_ref(n)).collect();
        exprs.extend(values.iter().zip(&value_cols).map(|((n, _, _), v)| col_ref(v).alias(n)));
        exprs.push(axis_array(axis_ty, col_ref(&start_col), step_expr.clone(), col_ref(&count_col)).alias(&axis_name));
        let mut result = project_plan(laid, exprs).at(span)?;

        let mut out_columns: Vec<ColumnDef> = keys.iter().map(|(n, b)| ColumnDef::new(n.clone(), b.ty)).collect();
        out_columns.extend(values.iter().map(|(n, _, _)| ColumnDef::new(n.clone(), KqlType::Dynamic)));
        out_columns.push(ColumnDef::new(axis_name.clone(), KqlType::Dynamic));

        if nonempty {
            result =
                self.default_row(result, &keys, &values, &out_columns, axis_ty, (start, count), &step_expr, span)?;
        }
        Ok(Relation { plan: result, columns: out_columns })
    }

    /// `kind=nonempty`: adds one row of defaults (empty keys) when the
    /// result has no rows. Its arrays span the range when the range is
    /// constant, and are empty when it comes from the (empty) data.
    #[allow(clippy::too_many_arguments)]
    fn default_row(
        &mut self,
        result: LogicalPlan,
        keys: &[(String, Bound)],
        values: &[(String, Bound, Vec<u8>)],
        out_columns: &[ColumnDef],
        axis_ty: KqlType,
        (start, count): (Expr, Expr),
        step: &Expr,
        span: Span,
    ) -> BindResult<LogicalPlan> {
        let n = match evaluate_constant(&count) {
            Some(ScalarValue::Int64(Some(n))) => n.clamp(0, MAX_SERIES),
            _ => 0,
        };
        let start = evaluate_constant(&start).unwrap_or(ScalarValue::Int64(None));
        let mut exprs: Vec<Expr> = Vec::new();
        for (name, b) in keys {
            let empty = match b.ty {
                KqlType::String => lit(""),
                ty => lit(ScalarValue::try_from(ty.arrow()).at(span)?),
            };
            exprs.push(empty.alias(name));
        }
        for (name, _, default) in values {
            let mut out = Vec::new();
            let mut enc = ArrayEncoder::new(&mut out);
            (0..n).for_each(|_| enc.push_encoded(default));
            enc.finish();
            exprs.push(lit(ScalarValue::Binary(Some(out))).alias(name));
        }
        let axis_name = &out_columns.last().expect("axis column").name;
        exprs.push(axis_array(axis_ty, lit(start), step.clone(), lit(n)).alias(axis_name));
        let rows = self.fresh("ms_rows");
        let counted = LogicalPlanBuilder::from(result.clone())
            .aggregate(Vec::<Expr>::new(), vec![agg::count(lit(1i64)).alias(&rows)])
            .and_then(|b| b.build())
            .at(span)?;
        let names: Vec<Expr> = out_columns.iter().map(|c| col_ref(&c.name)).collect();
        let row = LogicalPlanBuilder::empty(true)
            .project(exprs)
            .and_then(|b| b.cross_join(counted))
            .and_then(|b| b.filter(col_ref(&rows).eq(lit(0i64))))
            .and_then(|b| b.project(names))
            .and_then(|b| b.build())
            .at(span)?;
        LogicalPlanBuilder::from(result).union(row).and_then(|b| b.build()).at(span)
    }

    /// The encoded `default=` value, converted to the aggregate's type.
    fn default_value(&mut self, expr: &ast::Expr, ty: KqlType) -> BindResult<Vec<u8>> {
        let b = self.constant(expr)?;
        if evaluate_constant(&b.expr).is_none() {
            return err(expr.span, "the make-series default must be a constant");
        }
        Ok(default_value_of(b, ty))
    }
}

/// A constant converted to `ty` (numbers cast, others implicitly), encoded
/// as dynamic.
fn default_value_of(b: Bound, ty: KqlType) -> Vec<u8> {
    let converted = if b.ty.is_numeric() && ty.is_numeric() {
        Bound::new(cast(b.expr, ty.arrow()), ty)
    } else {
        implicit(b.clone(), ty).unwrap_or(b)
    };
    match evaluate_constant(&to_dynamic(converted).expr) {
        Some(ScalarValue::Binary(Some(bytes))) => bytes,
        _ => ENCODED_NULL.to_vec(),
    }
}

/// The next free `ColumnN` name.
fn next_column(counter: &mut usize, taken: &[(String, Bound)]) -> String {
    loop {
        *counter += 1;
        let name = format!("Column{counter}");
        if !taken.iter().any(|(n, _)| *n == name) {
            return name;
        }
    }
}

/// `bin(value, step)`: the multiple of `step` at or below `value`.
fn floor_to_step(value: Expr, step: &Expr, mode: Mode) -> Expr {
    match mode {
        Mode::Int => value.clone() - ((value % step.clone()) + step.clone()) % step.clone(),
        Mode::Real => datafusion::functions::expr_fn::floor(value / step.clone()) * step.clone(),
    }
}

/// The bin number of `value` counting from `start` (`value >= start`).
fn bin_index(value: Expr, start: Expr, step: &Expr, mode: Mode) -> Expr {
    match mode {
        Mode::Int => (value - start) / step.clone(),
        Mode::Real => cast(datafusion::functions::expr_fn::floor((value - start) / step.clone()), DataType::Int64),
    }
}

/// How many bins start before `end`.
fn bins_until(start: Expr, end: Expr, step: &Expr, mode: Mode) -> Expr {
    let n = match mode {
        Mode::Int => (end.clone() - start.clone() + step.clone() - lit(1i64)) / step.clone(),
        Mode::Real => {
            cast(datafusion::functions::expr_fn::ceil((end.clone() - start.clone()) / step.clone()), DataType::Int64)
        }
    };
    when(end.gt(start), n).otherwise(lit(0i64)).expect("a valid case")
}

/// The axis array: `n` bin starts from `start`, typed like the axis.
fn axis_array(ty: KqlType, start: Expr, step: Expr, n: Expr) -> Expr {
    let (name, kernel): (&str, udf::Kernel) = match ty {
        KqlType::Datetime => ("kql_series_axis_datetime", axis_datetime),
        KqlType::Timespan => ("kql_series_axis_timespan", axis_timespan),
        KqlType::Real | KqlType::Decimal => ("kql_series_axis_real", axis_real),
        _ => ("kql_series_axis_long", axis_long),
    };
    udf::call(name, DataType::Binary, kernel, vec![start, step, n])
}

fn axis_datetime(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    axis_kernel(args, rows, KqlType::Datetime)
}

fn axis_timespan(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    axis_kernel(args, rows, KqlType::Timespan)
}

fn axis_long(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    axis_kernel(args, rows, KqlType::Long)
}

fn axis_real(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    axis_kernel(args, rows, KqlType::Real)
}

/// Builds `[start, start + step, …]` (`n` elements) per row; integer axes
/// (datetime, timespan, long) compute exactly in i64.
fn axis_kernel(args: &[ColumnarValue], rows: usize, ty: KqlType) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let counts = as_int64_array(&arrays[2])?;
    let mut out = BinaryBuilder::new();
    let mut buf = Vec::new();
    for row in 0..n {
        buf.clear();
        let mut enc = ArrayEncoder::new(&mut buf);
        let count = if counts.is_null(row) { 0 } else { counts.value(row).clamp(0, MAX_SERIES) };
        if count > 0 && !arrays[0].is_null(row) {
            for i in 0..count {
                let value = if ty == KqlType::Real {
                    let (s, k) = (as_float64_array(&arrays[0])?.value(row), as_float64_array(&arrays[1])?.value(row));
                    DynValue::Real(s + i as f64 * k)
                } else {
                    let (s, k) = (as_int64_array(&arrays[0])?.value(row), as_int64_array(&arrays[1])?.value(row));
                    let v = s.saturating_add(i.saturating_mul(k));
                    match ty {
                        KqlType::Datetime => DynValue::Datetime(v),
                        KqlType::Timespan => DynValue::Timespan(v),
                        _ => DynValue::Long(v),
                    }
                };
                value.encode_into(enc.begin_item());
                enc.end_item();
            }
        }
        enc.finish();
        out.append_value(&buf);
    }
    udf::maybe_scalar(args, Arc::new(out.finish()) as ArrayRef)
}

/// `kql_make_series(bin, value, n)`: the values of bins `0..n` as a dynamic
/// array, `default` (encoded) where a bin has no value.
#[derive(Debug, PartialEq, Eq, Hash)]
struct SeriesUdaf {
    default: Vec<u8>,
    signature: Signature,
}

impl SeriesUdaf {
    fn new(default: Vec<u8>) -> Self {
        SeriesUdaf { default, signature: Signature::user_defined(Volatility::Immutable) }
    }
}

impl AggregateUDFImpl for SeriesUdaf {
    fn name(&self) -> &str {
        "kql_make_series"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        Ok(arg_types.to_vec())
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Binary)
    }

    fn accumulator(&self, _args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SeriesAccumulator { default: self.default.clone(), count: None, bins: BTreeMap::new() }))
    }

    fn state_fields(&self, args: StateFieldsArgs) -> Result<Vec<FieldRef>> {
        Ok(vec![
            Arc::new(Field::new(format!("{}_bins", args.name), DataType::Binary, true)),
            Arc::new(Field::new(format!("{}_n", args.name), DataType::Int64, true)),
        ])
    }
}

#[derive(Debug)]
struct SeriesAccumulator {
    default: Vec<u8>,
    count: Option<i64>,
    /// Encoded value per bin.
    bins: BTreeMap<i64, Vec<u8>>,
}

impl Accumulator for SeriesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        let (idx, value, count) =
            (as_int64_array(&values[0])?, as_binary_array(&values[1])?, as_int64_array(&values[2])?);
        for i in 0..idx.len() {
            if self.count.is_none() && !count.is_null(i) {
                self.count = Some(count.value(i));
            }
            if idx.is_null(i) {
                continue;
            }
            let v = if value.is_null(i) { ENCODED_NULL } else { value.value(i) };
            self.bins.insert(idx.value(i), v.to_vec());
        }
        Ok(())
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        let n = self.count.unwrap_or(0).clamp(0, MAX_SERIES);
        let mut out = Vec::new();
        let mut enc = ArrayEncoder::new(&mut out);
        for i in 0..n {
            enc.push_encoded(self.bins.get(&i).map_or(&self.default[..], |v| &v[..]));
        }
        enc.finish();
        Ok(ScalarValue::Binary(Some(out)))
    }

    fn size(&self) -> usize {
        std::mem::size_of_val(self) + self.default.len() + self.bins.values().map(|v| v.len() + 48).sum::<usize>()
    }

    /// The bins as a flat array `[bin, value, bin, value, …]`.
    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        let mut out = Vec::new();
        let mut enc = ArrayEncoder::new(&mut out);
        for (i, v) in &self.bins {
            DynValue::Long(*i).encode_into(enc.begin_item());
            enc.end_item();
            enc.push_encoded(v);
        }
        enc.finish();
        Ok(vec![ScalarValue::Binary(Some(out)), ScalarValue::Int64(self.count)])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        let (bins, count) = (as_binary_array(&states[0])?, as_int64_array(&states[1])?);
        for i in 0..bins.len() {
            if self.count.is_none() && !count.is_null(i) {
                self.count = Some(count.value(i));
            }
            if bins.is_null(i) {
                continue;
            }
            let items: Vec<DynRef<'_>> = DynRef::new(bins.value(i)).array_items().collect();
            for pair in items.chunks(2) {
                if let [bin, value] = pair {
                    if let Some(b) = bin.as_long() {
                        self.bins.insert(b, value.bytes().to_vec());
                    }
                }
            }
        }
        Ok(())
    }
}
