//! Window functions over a serialized row set that need the whole run of
//! rows in order: `row_window_session`, `row_rank_dense`, `row_rank_min`
//! and `row_number` and `row_cumsum` with a restart condition.
//! Each is a DataFusion window UDF whose evaluator sees the partition's
//! argument arrays at once, in input order.

use datafusion::arrow::array::{Array, ArrayRef, ArrowPrimitiveType, BooleanArray, Int64Array, PrimitiveArray};
use datafusion::arrow::compute::kernels::cmp::distinct;
use datafusion::arrow::datatypes::ArrowNativeTypeOp;
use datafusion::arrow::datatypes::{DataType, Field, FieldRef};
use datafusion::common::cast::{as_boolean_array, as_float64_array, as_int64_array};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::function::{PartitionEvaluatorArgs, WindowUDFFieldArgs};
use datafusion::logical_expr::{Expr, PartitionEvaluator, Signature, Volatility, WindowUDF, WindowUDFImpl};
use std::sync::Arc;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RowWindow {
    /// `row_window_session(value, max_from_first, max_between_neighbours [, restart])`.
    Session,
    /// `row_rank_dense(term [, restart])`: 1, then +1 each time the term changes.
    RankDense,
    /// `row_rank_min(term [, restart])`: the row number where the current
    /// run of equal terms began.
    RankMin,
    /// `row_number(start, restart)`: `start`, then +1 each row, back to
    /// `start` where `restart` is true.
    Number,
    /// `row_cumsum(term, restart)`: the running sum of `term` (a long or a
    /// real), starting again from the row's own term where `restart` is true.
    Cumsum,
}

#[derive(Debug, PartialEq, Eq, Hash)]
struct RowWindowUdf {
    kind: RowWindow,
    signature: Signature,
}

impl WindowUDFImpl for RowWindowUdf {
    fn name(&self) -> &str {
        match self.kind {
            RowWindow::Session => "row_window_session",
            RowWindow::RankDense => "row_rank_dense",
            RowWindow::RankMin => "row_rank_min",
            RowWindow::Number => "row_number",
            RowWindow::Cumsum => "row_cumsum",
        }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        // The binder already converted every argument.
        Ok(arg_types.to_vec())
    }

    fn partition_evaluator(&self, _args: PartitionEvaluatorArgs) -> Result<Box<dyn PartitionEvaluator>> {
        Ok(Box::new(Evaluator { kind: self.kind }))
    }

    fn field(&self, field_args: WindowUDFFieldArgs) -> Result<FieldRef> {
        // A running sum has its term's type (the binder gives long or real).
        let ty = match (self.kind, field_args.input_fields().first()) {
            (RowWindow::Cumsum, Some(term)) => term.data_type().clone(),
            _ => DataType::Int64,
        };
        Ok(Arc::new(Field::new(field_args.name(), ty, true)))
    }
}

#[derive(Debug)]
struct Evaluator {
    kind: RowWindow,
}

impl PartitionEvaluator for Evaluator {
    fn evaluate_all(&mut self, values: &[ArrayRef], num_rows: usize) -> Result<ArrayRef> {
        if self.kind == RowWindow::Cumsum {
            let [term, restart] = values else { return exec_err!("row_cumsum() needs a term and a restart") };
            let restart = as_boolean_array(restart)?;
            return match term.data_type() {
                DataType::Float64 => Ok(Arc::new(running_sums(as_float64_array(term)?, restart))),
                _ => Ok(Arc::new(running_sums(as_int64_array(term)?, restart))),
            };
        }
        let out: Int64Array = match self.kind {
            RowWindow::Session => {
                let [value, from_first, between, rest @ ..] = values else {
                    return exec_err!("row_window_session() needs 3 or 4 arguments");
                };
                let restart = match rest.first() {
                    Some(r) => Some(as_boolean_array(r)?.clone()),
                    None => None,
                };
                sessions(
                    as_int64_array(value)?,
                    as_int64_array(from_first)?,
                    as_int64_array(between)?,
                    restart.as_ref(),
                )
            }
            RowWindow::RankDense | RowWindow::RankMin => {
                let Some(term) = values.first() else { return exec_err!("{:?} needs the term", self.kind) };
                let changed = changes(term, num_rows)?;
                let restart = match values.get(1) {
                    Some(r) => {
                        let r = as_boolean_array(r)?;
                        (0..num_rows).map(|i| i == 0 || (!r.is_null(i) && r.value(i))).collect()
                    }
                    None => vec![false; num_rows],
                };
                ranks(&changed, &restart, self.kind == RowWindow::RankDense)
            }
            RowWindow::Number => {
                let [start, restart] = values else { return exec_err!("row_number() needs a start and a restart") };
                let start = as_int64_array(start)?;
                let start = if start.is_empty() || start.is_null(0) { 1 } else { start.value(0) };
                numbers(start, as_boolean_array(restart)?)
            }
            RowWindow::Cumsum => unreachable!("returned above"),
        };
        Ok(Arc::new(out))
    }
}

/// For each row, whether its term differs from the previous row's (nulls
/// compare equal to each other); the first row counts as a change.
fn changes(term: &ArrayRef, rows: usize) -> Result<Vec<bool>> {
    if rows == 0 {
        return Ok(Vec::new());
    }
    let differs = distinct(&term.slice(1, rows - 1), &term.slice(0, rows - 1))?;
    Ok(std::iter::once(true).chain(differs.iter().map(|d| d.unwrap_or(false))).collect())
}

/// Dense ranks (1, 2, … per change) or minimal ranks (the 1-based row
/// number where the run began); a restart row begins again at 1 and numbers
/// rows from itself.
pub fn ranks(changed: &[bool], restart: &[bool], dense: bool) -> Int64Array {
    let mut rank = 0i64;
    let mut first_row = 0usize;
    changed
        .iter()
        .zip(restart)
        .enumerate()
        .map(|(i, (&c, &r))| {
            if r {
                first_row = i;
                rank = 1;
            } else if c {
                rank = if dense { rank + 1 } else { (i - first_row) as i64 + 1 };
            }
            Some(rank)
        })
        .collect()
}

/// Row numbers from `start`, numbering again from `start` at each row
/// whose `restart` is true (a null restart is false).
pub fn numbers(start: i64, restart: &BooleanArray) -> Int64Array {
    let mut number = start - 1;
    (0..restart.len())
        .map(|i| {
            number = if !restart.is_null(i) && restart.value(i) { start } else { number + 1 };
            Some(number)
        })
        .collect()
}

/// Running sums of `term`, starting again from the row's own term where
/// `restart` is true (a null restart is false); null terms add nothing.
pub fn running_sums<T>(term: &PrimitiveArray<T>, restart: &BooleanArray) -> PrimitiveArray<T>
where
    T: ArrowPrimitiveType,
{
    let zero = T::Native::default();
    let mut sum = zero;
    (0..term.len())
        .map(|i| {
            let value = if term.is_null(i) { zero } else { term.value(i) };
            // Wrapping, as DataFusion's sum: an overflow must not panic.
            sum = if !restart.is_null(i) && restart.value(i) { value } else { sum.add_wrapping(value) };
            Some(sum)
        })
        .collect()
}

/// The first value of each row's session. A session starts at the first
/// row, when the value is more than `from_first` after the session's first
/// value, more than `between` after the previous row's value, or when
/// `restart` is true. Null values give null and do not move the session.
pub fn sessions(
    value: &Int64Array,
    from_first: &Int64Array,
    between: &Int64Array,
    restart: Option<&BooleanArray>,
) -> Int64Array {
    let mut start: Option<i64> = None;
    let mut previous: Option<i64> = None;
    (0..value.len())
        .map(|i| {
            if value.is_null(i) {
                return None;
            }
            let v = value.value(i);
            let limit = |a: &Int64Array| (!a.is_null(i)).then(|| a.value(i));
            let new_session = match (start, previous) {
                (Some(s), Some(p)) => {
                    limit(from_first).is_some_and(|m| v - s > m)
                        || limit(between).is_some_and(|m| v - p > m)
                        || restart.is_some_and(|r| !r.is_null(i) && r.value(i))
                }
                _ => true,
            };
            if new_session {
                start = Some(v);
            }
            previous = Some(v);
            start
        })
        .collect()
}

/// The window call `kind(args)` over the input in its order.
pub fn call(kind: RowWindow, args: Vec<Expr>) -> Expr {
    let udf = RowWindowUdf { kind, signature: Signature::user_defined(Volatility::Immutable) };
    WindowUDF::new_from_impl(udf).call(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranks_follow_runs_of_equal_terms() {
        let term: ArrayRef = Arc::new(datafusion::arrow::array::StringArray::from(vec![
            Some("a"),
            Some("a"),
            Some("b"),
            None,
            None,
            Some("a"),
        ]));
        let changed = changes(&term, 6).unwrap();
        assert_eq!(changed, vec![true, false, true, true, false, true]);
        let none = vec![false; 6];
        let dense: Vec<i64> = ranks(&changed, &none, true).iter().flatten().collect();
        assert_eq!(dense, vec![1, 1, 2, 3, 3, 4]);
        let min: Vec<i64> = ranks(&changed, &none, false).iter().flatten().collect();
        assert_eq!(min, vec![1, 1, 3, 4, 4, 6]);
        // A restart at row 3 begins a new partition: ranks count from it.
        let restart = vec![true, false, false, true, false, false];
        let dense: Vec<i64> = ranks(&changed, &restart, true).iter().flatten().collect();
        assert_eq!(dense, vec![1, 1, 2, 1, 1, 2]);
        let min: Vec<i64> = ranks(&changed, &restart, false).iter().flatten().collect();
        assert_eq!(min, vec![1, 1, 3, 1, 1, 3]);
    }

    #[test]
    fn numbers_restart_at_the_start() {
        let restart = BooleanArray::from(vec![Some(true), Some(false), None, Some(true), Some(false)]);
        let got: Vec<i64> = numbers(1, &restart).iter().flatten().collect();
        assert_eq!(got, vec![1, 2, 3, 1, 2]);
        let got: Vec<i64> = numbers(0, &BooleanArray::from(vec![false, false])).iter().flatten().collect();
        assert_eq!(got, vec![0, 1]);
    }

    #[test]
    fn sessions_split_on_both_distances_and_on_restart() {
        // The documented rule: a session lasts at most `from_first` (10)
        // from its first value, with gaps of at most `between` (3).
        let value = Int64Array::from(vec![0, 2, 4, 9, 11, 12, 20]);
        let n = value.len();
        let from_first = Int64Array::from(vec![10; n]);
        let between = Int64Array::from(vec![3; n]);
        let got: Vec<i64> = sessions(&value, &from_first, &between, None).iter().flatten().collect();
        // 9 - 4 > 3 starts a session at 9; 20 - 12 > 3 one at 20.
        assert_eq!(got, vec![0, 0, 0, 9, 9, 9, 20]);
        let restart = BooleanArray::from(vec![false, false, true, false, false, false, false]);
        let got: Vec<i64> = sessions(&value, &from_first, &between, Some(&restart)).iter().flatten().collect();
        assert_eq!(got, vec![0, 0, 4, 9, 9, 9, 20]);
        let long_gap = Int64Array::from(vec![100; n]);
        let got: Vec<i64> = sessions(&value, &from_first, &long_gap, None).iter().flatten().collect();
        // Only the distance from the first value splits: 11 - 0 > 10, and 20 - 11 is within 10.
        assert_eq!(got, vec![0, 0, 0, 0, 11, 11, 11]);
    }
}
