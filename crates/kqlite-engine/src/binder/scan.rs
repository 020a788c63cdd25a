//! `scan`: the reference's row-by-row state machine over the serialized
//! input (steps, `=>` assignments, `declare`d columns, `with_match_id`).
//!
//! The input is collected when the query is bound, the steps run over its
//! rows in order, and the matched rows become an in-memory table. Each
//! step's condition and assignments are bound once against the current row
//! plus one hidden copy of every column per step (`s1.Ts` reads step
//! `s1`'s copy), and evaluated per row on a one-row batch.

use super::scalar::RowScope;
use super::tabular::param_name;
use super::{BindError, BindResult, Binder, Relation};
use crate::convert::{evaluate_constant, implicit, Bound};
use crate::types::{ColumnDef, KqlType};
use datafusion::arrow::array::ArrayRef;
use datafusion::arrow::datatypes::{DataType, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::common::{DFSchema, ScalarValue};
use datafusion::logical_expr::execution_props::ExecutionProps;
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;
use kqlite_syntax::ast::{self, ExprKind};
use kqlite_syntax::Span;
use std::sync::Arc;

/// The most input rows `scan` runs over (it evaluates per row and step).
const MAX_SCAN_ROWS: usize = 1_000_000;

/// What a step adds to the output when it matches (`output=`).
#[derive(Clone, Copy, PartialEq, Debug)]
enum StepOutput {
    All,
    /// Only the last of a run of matches of the step.
    Last,
    None,
}

/// A step, bound: its condition and assignments over the scan's row scope.
struct BoundStep {
    output: StepOutput,
    condition: Arc<dyn PhysicalExpr>,
    /// (record column index, value).
    assignments: Vec<(usize, Arc<dyn PhysicalExpr>)>,
}

/// One step's state: the records of steps 0..=k of an active sequence, and
/// the sequence's match id.
#[derive(Clone)]
struct StepState {
    records: Vec<Option<Vec<ScalarValue>>>,
    match_id: i64,
    /// With `output=last`, the latest match, output when the run ends.
    pending: Option<Vec<ScalarValue>>,
}

/// The name of step `step`'s hidden copy of `column`.
fn state_column(step: usize, column: &str) -> String {
    format!("__scan{step}_{column}")
}

impl Binder<'_> {
    /// `T | scan [with_match_id=Id] [declare (…)] with (step …; …)`.
    pub(super) fn scan(
        &mut self,
        input: Relation,
        params: &[ast::OperatorParam],
        declare: &[ast::Param],
        steps: &[ast::ScanStep],
        span: Span,
    ) -> BindResult<Relation> {
        if steps.is_empty() {
            return Err(BindError::new(span, "scan needs at least one step"));
        }
        // The record: the input's columns, then the declared ones.
        let mut record = input.columns.clone();
        let mut defaults: Vec<ScalarValue> = Vec::new();
        for column in &input.columns {
            defaults.push(ScalarValue::try_from(&column.ty.arrow()).map_err(|e| BindError::new(span, e.to_string()))?);
        }
        for param in declare {
            let ast::ParamType::Scalar(type_name) = &param.ty else {
                return Err(BindError::new(param.span, "scan declares scalar columns only"));
            };
            let ty = self.type_name(type_name)?;
            if record.iter().any(|c| c.name == param.name.name) {
                return Err(BindError::new(param.name.span, format!("column '{}' exists already", param.name.name)));
            }
            let default = match &param.default {
                None => ScalarValue::try_from(&ty.arrow()).map_err(|e| BindError::new(span, e.to_string()))?,
                Some(value) => {
                    let bound = self.constant(value)?;
                    let actual = bound.ty;
                    let converted = convert(bound, ty).ok_or_else(|| {
                        BindError::new(value.span, format!("'{}' is {ty}, its default is {actual}", param.name.name))
                    })?;
                    evaluate_constant(&converted.expr)
                        .and_then(|v| v.cast_to(&ty.arrow()).ok())
                        .ok_or_else(|| BindError::new(value.span, "the default value must be a constant"))?
                }
            };
            record.push(ColumnDef::new(param.name.name.clone(), ty));
            defaults.push(default);
        }
        // The scope of conditions and assignments: the current record, then
        // each step's copy of it.
        let mut scope_columns = record.clone();
        for step in 0..steps.len() {
            scope_columns.extend(record.iter().map(|c| ColumnDef::new(state_column(step, &c.name), c.ty)));
        }
        let names: Vec<&str> = steps.iter().map(|s| s.name.name.as_str()).collect();
        for (i, name) in names.iter().enumerate() {
            if names[..i].contains(name) {
                return Err(BindError::new(steps[i].name.span, format!("scan step '{name}' is defined twice")));
            }
        }
        let schema = crate::types::arrow_schema(&scope_columns);
        let df_schema = DFSchema::try_from(schema.as_ref().clone()).map_err(|e| BindError::new(span, e.to_string()))?;
        let physical = |b: &Bound, at: Span| -> BindResult<Arc<dyn PhysicalExpr>> {
            datafusion::physical_expr::create_physical_expr(
                &b.expr,
                &df_schema,
                &ExecutionProps::new(),
                &Default::default(),
            )
            .map_err(|e| BindError::new(at, format!("scan cannot evaluate this: {e}")))
        };
        let mut bound_steps = Vec::new();
        for step in steps {
            let output = match step.output.as_ref().map(|o| o.name.to_ascii_lowercase()) {
                None => StepOutput::All,
                Some(o) if o == "all" => StepOutput::All,
                Some(o) if o == "last" => StepOutput::Last,
                Some(o) if o == "none" => StepOutput::None,
                Some(o) => {
                    return Err(BindError::new(step.span, format!("scan output must be all, last or none, not '{o}'")))
                }
            };
            let condition = rewrite_step_refs(&step.condition, &names, &record);
            let cond = self.scalar(&condition, &mut RowScope::new(&scope_columns))?;
            let cond = match cond.ty {
                KqlType::Bool => cond,
                KqlType::Dynamic => implicit(cond, KqlType::Bool).expect("dynamic to bool"),
                t => {
                    return Err(BindError::new(
                        step.condition.span,
                        format!("a scan step needs a bool condition, not {t}"),
                    ))
                }
            };
            let condition = physical(&cond, step.condition.span)?;
            let mut assignments = Vec::new();
            for (column, value) in &step.assignments {
                let Some(index) = record.iter().position(|c| c.name == column.name) else {
                    return Err(BindError::new(
                        column.span,
                        format!("scan assigns '{}', which is neither an input nor a declared column", column.name),
                    ));
                };
                let ty = record[index].ty;
                let value_expr = rewrite_step_refs(value, &names, &record);
                let b = self.scalar(&value_expr, &mut RowScope::new(&scope_columns))?;
                let actual = b.ty;
                let b = convert(b, ty).ok_or_else(|| {
                    BindError::new(value.span, format!("column '{}' is {ty}, this value is {actual}", column.name))
                })?;
                assignments.push((index, physical(&b, value.span)?));
            }
            bound_steps.push(BoundStep { output, condition, assignments });
        }
        let rows = self.collect_rows(input, span)?;
        let machine = ScanMachine { steps: &bound_steps, schema: schema.clone(), record_len: record.len(), defaults };
        let output = machine.run(rows).map_err(|e| BindError::new(span, format!("scan failed: {e}")))?;
        let mut columns = record;
        let match_id = param_name(params, "with_match_id");
        if let Some(name) = &match_id {
            columns.push(ColumnDef::new(name.clone(), KqlType::Long));
        }
        let batch = rows_to_batch(&columns, output, match_id.is_some()).map_err(|e| BindError::new(span, e))?;
        let (plan, _) = self.resolver.temporary(batch).map_err(|e| BindError::new(span, e.to_string()))?;
        Ok(Relation { plan, columns })
    }

    /// The rows of `input`, in order, as values in the engine's types.
    pub(super) fn collect_rows(&mut self, input: Relation, span: Span) -> BindResult<Vec<Vec<ScalarValue>>> {
        let batches = self.resolver.collect(input.plan).map_err(|e| BindError::new(span, e.to_string()))?;
        let mut rows = Vec::new();
        for batch in batches {
            if rows.len() + batch.num_rows() > MAX_SCAN_ROWS {
                return Err(BindError::new(span, format!("the input has more than {MAX_SCAN_ROWS} rows")));
            }
            let mut arrays = Vec::new();
            for (i, column) in input.columns.iter().enumerate() {
                let array = batch.column(i);
                let array = datafusion::arrow::compute::cast(array, &column.ty.arrow())
                    .map_err(|e| BindError::new(span, e.to_string()))?;
                arrays.push(array);
            }
            for row in 0..batch.num_rows() {
                let values = arrays
                    .iter()
                    .map(|a| ScalarValue::try_from_array(a, row))
                    .collect::<datafusion::common::Result<Vec<_>>>()
                    .map_err(|e| BindError::new(span, e.to_string()))?;
                rows.push(values);
            }
        }
        Ok(rows)
    }
}

/// `value` as a `ty` column value: the implicit conversions, and numbers to
/// the declared numeric type.
fn convert(value: Bound, ty: KqlType) -> Option<Bound> {
    if value.ty == ty {
        return Some(value);
    }
    if value.ty.is_numeric() && ty.is_numeric() {
        return Some(Bound::new(datafusion::logical_expr::cast(value.expr, ty.arrow()), ty));
    }
    if matches!(value.expr, datafusion::logical_expr::Expr::Literal(ScalarValue::Null, _)) {
        return Some(Bound::new(datafusion::logical_expr::cast(value.expr, ty.arrow()), ty));
    }
    implicit(value, ty)
}

/// `expr` with `step.column` references turned into the hidden state
/// columns; other expressions are copied as they are.
fn rewrite_step_refs(expr: &ast::Expr, steps: &[&str], record: &[ColumnDef]) -> ast::Expr {
    let rewrite = |e: &ast::Expr| rewrite_step_refs(e, steps, record);
    let boxed = |e: &ast::Expr| Box::new(rewrite(e));
    let kind = match &expr.kind {
        ExprKind::Member { target, name } => {
            if let ExprKind::Name(step) = &target.kind {
                if let Some(index) = steps.iter().position(|s| *s == step.name) {
                    if record.iter().any(|c| c.name == name.name) {
                        let hidden = ast::Ident::new(state_column(index, &name.name), name.span);
                        return ast::Expr::new(ExprKind::Name(hidden), expr.span);
                    }
                }
            }
            ExprKind::Member { target: boxed(target), name: name.clone() }
        }
        ExprKind::Index { target, index } => ExprKind::Index { target: boxed(target), index: boxed(index) },
        ExprKind::Call { func, args } => ExprKind::Call {
            func: func.clone(),
            args: args.iter().map(|a| ast::Arg { name: a.name.clone(), value: rewrite(&a.value) }).collect(),
        },
        ExprKind::MethodCall { receiver, func, args } => ExprKind::MethodCall {
            receiver: boxed(receiver),
            func: func.clone(),
            args: args.iter().map(|a| ast::Arg { name: a.name.clone(), value: rewrite(&a.value) }).collect(),
        },
        ExprKind::Unary { op, operand } => ExprKind::Unary { op: *op, operand: boxed(operand) },
        ExprKind::Binary { op, left, right } => ExprKind::Binary { op: *op, left: boxed(left), right: boxed(right) },
        ExprKind::InList { op, target, items } => {
            ExprKind::InList { op: *op, target: boxed(target), items: items.iter().map(rewrite).collect() }
        }
        ExprKind::Between { negated, target, low, high } => {
            ExprKind::Between { negated: *negated, target: boxed(target), low: boxed(low), high: boxed(high) }
        }
        ExprKind::Paren(inner) => ExprKind::Paren(boxed(inner)),
        ExprKind::Bracketed(inner) => ExprKind::Bracketed(boxed(inner)),
        other => other.clone(),
    };
    ast::Expr::new(kind, expr.span)
}

/// The state machine of the scan reference ("scan logic"): each record is
/// tried against the steps from last to first; a step matches when the
/// previous step has an active sequence and the condition holds on it
/// (the sequence moves up a step), or else when the step itself has an
/// active sequence (or is the first step) and the condition holds on its
/// own state (the state's record of the step is replaced).
struct ScanMachine<'a> {
    steps: &'a [BoundStep],
    /// The scope's schema: the record, then one copy per step.
    schema: Arc<Schema>,
    record_len: usize,
    /// Each record column's value before any assignment (declared defaults).
    defaults: Vec<ScalarValue>,
}

/// An output row: the extended record and its match id.
type OutputRow = (Vec<ScalarValue>, i64);

impl ScanMachine<'_> {
    fn run(&self, rows: Vec<Vec<ScalarValue>>) -> Result<Vec<OutputRow>, String> {
        let n = self.steps.len();
        let mut states: Vec<Option<StepState>> = vec![None; n];
        let mut output: Vec<OutputRow> = Vec::new();
        let mut next_match_id = 0i64;
        for input in rows {
            let mut current = input;
            current.extend(self.defaults[current.len()..].iter().cloned());
            for k in (0..n).rev() {
                // Check 1: the previous step's sequence moves up to this step.
                if k > 0 {
                    if let Some(previous) = &states[k - 1] {
                        if let Some(extended) = self.try_step(k, &current, &previous.records)? {
                            let mut promoted = states[k - 1].take().expect("checked above");
                            self.flush(&mut promoted, &mut output);
                            if let Some(mut replaced) = states[k].take() {
                                self.flush(&mut replaced, &mut output);
                            }
                            promoted.records[k] = Some(extended.clone());
                            self.emit(k, &mut promoted, extended, &mut output);
                            states[k] = Some(promoted);
                            continue;
                        }
                    }
                }
                // Check 2: the step's own sequence (or a new one at the first step).
                if states[k].is_none() && k > 0 {
                    continue;
                }
                let empty = vec![None; n];
                let records = states[k].as_ref().map_or(&empty, |s| &s.records);
                if let Some(extended) = self.try_step(k, &current, records)? {
                    let mut state = match states[k].take() {
                        Some(state) => state,
                        None => {
                            let id = next_match_id;
                            next_match_id += 1;
                            StepState { records: vec![None; n], match_id: id, pending: None }
                        }
                    };
                    state.records[k] = Some(extended.clone());
                    self.emit(k, &mut state, extended, &mut output);
                    states[k] = Some(state);
                }
            }
        }
        for state in states.iter_mut().flatten() {
            self.flush(state, &mut output);
        }
        Ok(output)
    }

    /// Adds a match of step `k` to the output, as its `output=` says.
    fn emit(&self, k: usize, state: &mut StepState, record: Vec<ScalarValue>, output: &mut Vec<OutputRow>) {
        match self.steps[k].output {
            StepOutput::All => output.push((record, state.match_id)),
            StepOutput::Last => state.pending = Some(record),
            StepOutput::None => {}
        }
    }

    /// Outputs the last match of an `output=last` run that ends.
    fn flush(&self, state: &mut StepState, output: &mut Vec<OutputRow>) {
        if let Some(record) = state.pending.take() {
            output.push((record, state.match_id));
        }
    }

    /// Step `k`'s condition on `current` with the state `records`; the
    /// record extended by the step's assignments when it holds.
    fn try_step(
        &self,
        k: usize,
        current: &[ScalarValue],
        records: &[Option<Vec<ScalarValue>>],
    ) -> Result<Option<Vec<ScalarValue>>, String> {
        let batch = self.scope_batch(current, records)?;
        let step = &self.steps[k];
        let holds = match evaluate(&step.condition, &batch)? {
            ScalarValue::Boolean(Some(true)) => true,
            ScalarValue::Boolean(_) | ScalarValue::Null => false,
            other => return Err(format!("a scan condition gave {other:?}, not a bool")),
        };
        if !holds {
            return Ok(None);
        }
        let mut extended = current.to_vec();
        for (index, value) in &step.assignments {
            let v = evaluate(value, &batch)?;
            let ty = self.schema.field(*index).data_type();
            extended[*index] = cast_value(v, ty)?;
        }
        Ok(Some(extended))
    }

    /// A one-row batch of the scope: the current record, then each step's
    /// record in `records` (null where the step has none).
    fn scope_batch(
        &self,
        current: &[ScalarValue],
        records: &[Option<Vec<ScalarValue>>],
    ) -> Result<RecordBatch, String> {
        let mut arrays: Vec<ArrayRef> = Vec::with_capacity(self.schema.fields().len());
        for value in current {
            arrays.push(value.to_array().map_err(|e| e.to_string())?);
        }
        for record in records {
            for i in 0..self.record_len {
                match record {
                    Some(values) => arrays.push(values[i].to_array().map_err(|e| e.to_string())?),
                    // An empty state reads as the declared defaults (the
                    // reference's running sum starts from `declare (s: long = 0)`).
                    None => arrays.push(self.defaults[i].to_array().map_err(|e| e.to_string())?),
                }
            }
        }
        RecordBatch::try_new(self.schema.clone(), arrays).map_err(|e| e.to_string())
    }
}

fn evaluate(expr: &Arc<dyn PhysicalExpr>, batch: &RecordBatch) -> Result<ScalarValue, String> {
    match expr.evaluate(batch).map_err(|e| e.to_string())? {
        ColumnarValue::Scalar(s) => Ok(s),
        ColumnarValue::Array(a) => ScalarValue::try_from_array(&a, 0).map_err(|e| e.to_string()),
    }
}

fn cast_value(value: ScalarValue, ty: &DataType) -> Result<ScalarValue, String> {
    if value.data_type() == *ty {
        return Ok(value);
    }
    value.cast_to(ty).map_err(|e| e.to_string())
}

/// The output rows as one batch of `columns` (with the match id last when
/// `with_match_id` is set).
fn rows_to_batch(columns: &[ColumnDef], rows: Vec<OutputRow>, with_match_id: bool) -> Result<RecordBatch, String> {
    let rows = rows
        .into_iter()
        .map(|(mut record, id)| {
            if with_match_id {
                record.push(ScalarValue::Int64(Some(id)));
            }
            record
        })
        .collect();
    rows_batch(columns, rows)
}

/// Rows of values as one batch of `columns`, each value cast to its
/// column's type.
pub(super) fn rows_batch(columns: &[ColumnDef], rows: Vec<Vec<ScalarValue>>) -> Result<RecordBatch, String> {
    let schema = crate::types::arrow_schema(columns);
    if rows.is_empty() {
        return Ok(RecordBatch::new_empty(schema));
    }
    let mut arrays: Vec<ArrayRef> = Vec::with_capacity(columns.len());
    for (i, field) in schema.fields().iter().enumerate() {
        let values = rows.iter().map(|r| r[i].clone());
        let array = ScalarValue::iter_to_array(values).map_err(|e| e.to_string())?;
        arrays.push(datafusion::arrow::compute::cast(&array, field.data_type()).map_err(|e| e.to_string())?);
    }
    RecordBatch::try_new(schema, arrays).map_err(|e| e.to_string())
}
