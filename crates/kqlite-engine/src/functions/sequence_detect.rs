//! The matching behind `evaluate sequence_detect()`: every chain of rows
//! that satisfies the steps' predicates in order, each step at most
//! `MaxSequenceStepWindow` after the one before and the whole chain within
//! `MaxSequenceSpan` (the reference's example lists one heat event followed
//! by each of two wildfires as two sequences).
//!
//! The binder groups the input by the dimensions, collects each group's rows
//! into one dynamic array of `[time, step1, …, stepN]` (time in nanoseconds,
//! the steps as booleans) and calls [`sequence_detect_kernel`]; it expands
//! the sequences it returns, each an array of the steps' times, into rows.

use crate::dynamic::{DynKind, DynRef, DynValue, ENCODED_NULL};
use crate::udf::{maybe_scalar, rows_to_compute};
use datafusion::arrow::array::{Array, BinaryBuilder};
use datafusion::common::cast::{as_binary_array, as_int64_array};
use datafusion::common::{exec_err, Result};
use datafusion::logical_expr::ColumnarValue;
use std::sync::Arc;

/// One input row: its time and which steps' predicates it satisfies.
#[derive(Clone, Debug, PartialEq)]
pub struct Event {
    pub time: i64,
    pub steps: Vec<bool>,
}

/// The times of every sequence in `events`, in time order: one event per
/// step, each later in time order than the one before (ties kept in input
/// order), at most `step_window` after it, the last at most `span` after
/// the first.
pub fn detect(events: &[Event], steps: usize, step_window: i64, span: i64) -> Vec<Vec<i64>> {
    let mut order: Vec<&Event> = events.iter().collect();
    order.sort_by_key(|e| e.time);
    let mut found = Vec::new();
    let mut chain = Vec::with_capacity(steps);
    for (i, first) in order.iter().enumerate() {
        if steps > 0 && first.steps[0] {
            chain.push(first.time);
            extend(&order, i, &mut chain, steps, step_window, span, &mut found);
            chain.pop();
        }
    }
    found
}

/// Extends `chain` (whose last event is `order[last]`) by every event that
/// can take the next step.
fn extend(
    order: &[&Event],
    last: usize,
    chain: &mut Vec<i64>,
    steps: usize,
    step_window: i64,
    span: i64,
    found: &mut Vec<Vec<i64>>,
) {
    if chain.len() == steps {
        found.push(chain.clone());
        return;
    }
    let step = chain.len();
    let (start, previous) = (chain[0], chain[step - 1]);
    for (j, event) in order.iter().enumerate().skip(last + 1) {
        // Sorted by time: nothing later can fit either window.
        if event.time - previous > step_window || event.time - start > span {
            break;
        }
        if event.steps[step] {
            chain.push(event.time);
            extend(order, j, chain, steps, step_window, span, found);
            chain.pop();
        }
    }
}

/// `kql_sequence_detect(rows, steps, step_window, span)`: per input row, a
/// dynamic array of `[time, step1, …]` rows in, a dynamic array of
/// sequences (each an array of step times) out.
pub fn sequence_detect_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let lists = args[0].to_array(n)?;
    let lists = as_binary_array(&lists)?;
    let (steps, step_window, span) = (args[1].to_array(n)?, args[2].to_array(n)?, args[3].to_array(n)?);
    let (steps, step_window, span) = (as_int64_array(&steps)?, as_int64_array(&step_window)?, as_int64_array(&span)?);
    let mut out = BinaryBuilder::with_capacity(n, 256);
    for i in 0..n {
        let d = DynRef::new(if lists.is_null(i) { ENCODED_NULL } else { lists.value(i) });
        let step_count = usize::try_from(steps.value(i)).unwrap_or(0);
        let mut events = Vec::new();
        if d.kind() == DynKind::Array {
            for row in d.array_items() {
                let items: Vec<DynRef<'_>> = row.array_items().collect();
                let Some((time, flags)) = items.split_first() else {
                    return exec_err!("kql_sequence_detect: a row must start with its time");
                };
                if flags.len() != step_count {
                    return exec_err!("kql_sequence_detect: a row has {} steps, expected {step_count}", flags.len());
                }
                // Rows without a time take no part, as Kusto skips null timelines.
                if let Some(time) = time.as_long() {
                    events.push(Event { time, steps: flags.iter().map(|f| f.as_bool() == Some(true)).collect() });
                }
            }
        }
        let sequences = detect(&events, step_count, step_window.value(i), span.value(i));
        let value = DynValue::Array(
            sequences.into_iter().map(|s| DynValue::Array(s.into_iter().map(DynValue::Long).collect())).collect(),
        );
        out.append_value(value.encode());
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event(time: i64, steps: &[bool]) -> Event {
        Event { time, steps: steps.to_vec() }
    }

    #[test]
    fn every_later_match_within_the_windows_is_a_sequence() {
        // As the reference's StormEvents example: heat at 0, wildfires at
        // 16 and 59; a wildfire before the heat and one past the window
        // start no sequence.
        let events = [
            event(59, &[false, true]),
            event(0, &[true, false]),
            event(-5, &[false, true]),
            event(16, &[false, true]),
            event(200, &[false, true]),
        ];
        assert_eq!(detect(&events, 2, 120, 120), vec![vec![0, 16], vec![0, 59]]);
        // The step window bounds each gap, the span the whole chain.
        assert_eq!(detect(&events, 2, 20, 120), vec![vec![0, 16]]);
        let three =
            [event(0, &[true, false, false]), event(10, &[false, true, false]), event(25, &[false, false, true])];
        assert_eq!(detect(&three, 3, 15, 30), vec![vec![0, 10, 25]]);
        assert!(detect(&three, 3, 15, 20).is_empty());
    }

    #[test]
    fn one_row_takes_one_step_of_a_sequence() {
        // A row matching both steps cannot be both ends of one sequence.
        let events = [event(0, &[true, true])];
        assert!(detect(&events, 2, 10, 10).is_empty());
        let events = [event(0, &[true, true]), event(0, &[true, true])];
        assert_eq!(detect(&events, 2, 10, 10), vec![vec![0, 0]]);
    }
}
