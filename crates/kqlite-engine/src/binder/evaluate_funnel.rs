//! `funnel_sequence` and `funnel_sequence_completion`: per id and time
//! window, the id's events in time order are matched against a sequence of
//! states (funnel-sequence-plugin.md, funnel-sequence-completion-plugin.md).
//! The events are gathered with KQL operators; the matching, which needs
//! the events in order, is a kernel over each id's list.

use super::tabular::project_plan;
use super::{BindError, BindResult, Binder, Binding, Relation};
use crate::convert::{implicit, Bound};
use crate::dynamic::{DynKind, DynRef, DynValue, ENCODED_NULL};
use crate::types::{ColumnDef, KqlType};
use datafusion::arrow::array::{Array, BinaryBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_binary_array;
use datafusion::logical_expr::{ColumnarValue, Expr};
use kqlite_syntax::ast;
use kqlite_syntax::Span;

use super::AtSpan;

/// One event of an id: its time (nanoseconds) and state.
struct Event {
    time: i64,
    state: String,
}

/// The events of an encoded `[[time, state], …]` list, in time order
/// (stable, so events at one time keep their order).
fn events(list: DynRef<'_>) -> Vec<Event> {
    let mut events: Vec<Event> = list
        .array_items()
        .filter_map(|item| {
            let time = item.index(0)?.as_long()?;
            let state = item.index(1)?.to_kql_string();
            Some(Event { time, state })
        })
        .collect();
    events.sort_by_key(|e| e.time);
    events
}

/// The strings of an encoded array.
fn strings(list: DynRef<'_>) -> Vec<String> {
    list.array_items().map(|v| v.to_kql_string()).collect()
}

/// A timespan given as a dynamic value, in nanoseconds.
fn nanos(value: DynRef<'_>) -> Option<i64> {
    match value.kind() {
        DynKind::Timespan | DynKind::Long => value.as_long(),
        _ => None,
    }
}

/// The (previous state, next state) around each run of consecutive events
/// that spells `sequence` with at most `window` between its steps; empty
/// where no event comes before or after.
fn prev_next(events: &[Event], sequence: &[String], window: i64) -> Vec<(String, String)> {
    let k = sequence.len();
    if k == 0 || events.len() < k {
        return Vec::new();
    }
    let mut found = Vec::new();
    for start in 0..=events.len() - k {
        let run = &events[start..start + k];
        let spells = run.iter().zip(sequence).all(|(e, s)| e.state == *s);
        let close = run.windows(2).all(|w| w[1].time - w[0].time <= window);
        if spells && close {
            let prev = if start > 0 { events[start - 1].state.clone() } else { String::new() };
            let next = events.get(start + k).map(|e| e.state.clone()).unwrap_or_default();
            found.push((prev, next));
        }
    }
    found
}

/// How many leading steps of `sequence` the events complete, each step an
/// event after the previous step's within `period`.
fn steps_completed(events: &[Event], sequence: &[String], period: i64) -> usize {
    // The times at which the last completed step can have happened.
    let mut reached: Vec<(usize, i64)> = events
        .iter()
        .enumerate()
        .filter(|(_, e)| Some(&e.state) == sequence.first())
        .map(|(i, e)| (i, e.time))
        .collect();
    if reached.is_empty() {
        return 0;
    }
    let mut completed = 1;
    for step in sequence.iter().skip(1) {
        let next: Vec<(usize, i64)> = events
            .iter()
            .enumerate()
            .filter(|(i, e)| {
                e.state == *step && reached.iter().any(|(j, t)| j < i && e.time >= *t && e.time - t <= period)
            })
            .map(|(i, e)| (i, e.time))
            .collect();
        if next.is_empty() {
            break;
        }
        reached = next;
        completed += 1;
    }
    completed
}

/// Applies `f` to each row's (events, sequence, third argument), all
/// dynamic, producing a dynamic value.
fn map_events(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(&[Event], &[String], DynRef<'_>) -> DynValue,
) -> datafusion::common::Result<ColumnarValue> {
    let n = crate::udf::rows_to_compute(args, rows);
    let arrays: Vec<_> = args.iter().map(|a| a.to_array(n)).collect::<datafusion::common::Result<_>>()?;
    let columns: Vec<_> = arrays.iter().map(|a| as_binary_array(a)).collect::<datafusion::common::Result<_>>()?;
    let value =
        |c: usize, i: usize| DynRef::new(if columns[c].is_null(i) { ENCODED_NULL } else { columns[c].value(i) });
    let mut out = BinaryBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let events = events(value(0, i));
        let sequence = strings(value(1, i));
        out.append_value(f(&events, &sequence, value(2, i)).encode());
    }
    crate::udf::maybe_scalar(args, std::sync::Arc::new(out.finish()))
}

/// `kql_funnel_prev_next(events, sequence, window)`: `[[prev, next], …]`.
fn funnel_prev_next_kernel(args: &[ColumnarValue], rows: usize) -> datafusion::common::Result<ColumnarValue> {
    map_events(args, rows, |events, sequence, window| {
        let window = nanos(window).unwrap_or(i64::MAX);
        DynValue::Array(
            prev_next(events, sequence, window)
                .into_iter()
                .map(|(p, n)| DynValue::Array(vec![DynValue::String(p), DynValue::String(n)]))
                .collect(),
        )
    })
}

/// `kql_funnel_completion(events, sequence, periods)`: `[[period index,
/// steps completed], …]` for each period with at least one step.
fn funnel_completion_kernel(args: &[ColumnarValue], rows: usize) -> datafusion::common::Result<ColumnarValue> {
    map_events(args, rows, |events, sequence, periods| {
        DynValue::Array(
            periods
                .array_items()
                .enumerate()
                .filter_map(|(p, period)| {
                    let steps = steps_completed(events, sequence, nanos(period)?);
                    (steps > 0).then(|| DynValue::Array(vec![DynValue::Long(p as i64), DynValue::Long(steps as i64)]))
                })
                .collect(),
        )
    })
}

impl<'r> Binder<'r> {
    /// Each id's events per time window: `__id`, `__bin` and `__events`
    /// (`[[time, state], …]`), then `kernel(__events, sequence, third)` as
    /// `__found`.
    #[allow(clippy::too_many_arguments)]
    fn funnel_events(
        &mut self,
        plugin: &str,
        input: Relation,
        columns: [&ast::Arg; 3],
        scalars: Vec<(String, Binding)>,
        sequence: Bound,
        third: Bound,
        kernel: (&str, crate::udf::Kernel),
        span: Span,
    ) -> BindResult<Relation> {
        let (input, names) = self.plugin_columns(input, &columns, false)?;
        let (id, t, state) = (quoted(&names[0]), quoted(&names[1]), quoted(&names[2]));
        let template = format!(
            "__plugin_input | where {t} >= __plugin_start and {t} <= __plugin_end\n\
             | summarize __events = make_list(pack_array({t}, tostring({state}))) \
               by __id = {id}, __bin = bin_at({t}, __plugin_step, __plugin_start)"
        );
        let gathered = self.bind_plugin_template(plugin, &template, input, scalars, span)?;
        let dynamic = |b: Bound| implicit(b, KqlType::Dynamic).expect("every type converts to dynamic").expr;
        let found = crate::udf::call(
            kernel.0,
            DataType::Binary,
            kernel.1,
            vec![super::col_ref("__events"), dynamic(sequence), dynamic(third)],
        );
        let exprs: Vec<Expr> = vec![super::col_ref("__id"), super::col_ref("__bin"), found.alias("__found")];
        let plan = project_plan(gathered.plan, exprs).at(span)?;
        let mut columns: Vec<ColumnDef> =
            gathered.columns.iter().filter(|c| c.name == "__id" || c.name == "__bin").cloned().collect();
        columns.push(ColumnDef::new("__found", KqlType::Dynamic));
        Ok(Relation { plan, columns })
    }

    /// The scalar arguments of both funnels, checked.
    fn funnel_scalar(&mut self, arg: &ast::Arg, plugin: &str, what: &str, ty: KqlType) -> BindResult<Bound> {
        let value = self.constant(&arg.value)?;
        if value.ty != ty {
            return Err(BindError::new(arg.value.span, format!("{plugin}(): {what} must be a {ty}, got {}", value.ty)));
        }
        Ok(value)
    }

    /// `funnel_sequence(IdColumn, TimelineColumn, Start, End, MaxSequenceStepWindow, Step, StateColumn, Sequence)`:
    /// per time window and (previous, next) state around the sequence, the
    /// distinct ids and up to 128 of them. (Kusto also returns the counts by
    /// previous and by next state alone as two more tables; a kqlite query
    /// has one result, and they are this one summarized.)
    pub(super) fn funnel_sequence(&mut self, input: Relation, args: &[ast::Arg], span: Span) -> BindResult<Relation> {
        const P: &str = "funnel_sequence";
        let args = positional(args, P)?;
        arity(
            &args,
            8,
            8,
            P,
            "IdColumn, TimelineColumn, Start, End, MaxSequenceStepWindow, Step, StateColumn, Sequence",
            span,
        )?;
        let window = self.funnel_scalar(args[4], P, "the step window", KqlType::Timespan)?;
        let sequence = self.funnel_scalar(args[7], P, "the sequence", KqlType::Dynamic)?;
        let t_name = timeline_name(args[1]);
        let scalars = self.plugin_scalars(&[("start", args[2]), ("end", args[3]), ("step", args[5])])?;
        let found = self.funnel_events(
            P,
            input,
            [args[0], args[1], args[6]],
            scalars,
            sequence,
            window,
            ("kql_funnel_prev_next", funnel_prev_next_kernel),
            span,
        )?;
        let template = format!(
            "__plugin_input | mv-expand __m = __found | extend prev = tostring(__m[0]), next = tostring(__m[1])\n\
             | summarize dcount = dcount(__id), samples = make_set(__id, 128) by __bin, prev, next\n\
             | project {} = __bin, prev, next, dcount, samples",
            quoted(&t_name)
        );
        self.bind_plugin_template(P, &template, found, Vec::new(), span)
    }

    /// `funnel_sequence_completion(IdColumn, TimelineColumn, Start, End, Step, StateColumn, Sequence, MaxSequenceStepWindows)`:
    /// per time window, period (each of `MaxSequenceStepWindows`, the most
    /// time allowed between two steps) and step, the distinct ids that went
    /// from the first step up to that one.
    pub(super) fn funnel_sequence_completion(
        &mut self,
        input: Relation,
        args: &[ast::Arg],
        span: Span,
    ) -> BindResult<Relation> {
        const P: &str = "funnel_sequence_completion";
        let args = positional(args, P)?;
        arity(
            &args,
            8,
            8,
            P,
            "IdColumn, TimelineColumn, Start, End, Step, StateColumn, Sequence, MaxSequenceStepWindows",
            span,
        )?;
        let sequence = self.funnel_scalar(args[6], P, "the sequence", KqlType::Dynamic)?;
        let periods = self.funnel_scalar(args[7], P, "the step windows", KqlType::Dynamic)?;
        let t_name = timeline_name(args[1]);
        let state_name = timeline_name(args[5]);
        let scalars = self.plugin_scalars(&[("start", args[2]), ("end", args[3]), ("step", args[4])])?;
        let found = self.funnel_events(
            P,
            input,
            [args[0], args[1], args[5]],
            scalars,
            sequence.clone(),
            periods.clone(),
            ("kql_funnel_completion", funnel_completion_kernel),
            span,
        )?;
        let bindings = vec![
            ("__plugin_sequence".to_string(), Binding::Scalar(sequence)),
            ("__plugin_periods".to_string(), Binding::Scalar(periods)),
        ];
        let template = format!(
            "__plugin_input | mv-expand __r = __found\n\
             | extend __p = tolong(__r[0]), __steps = range(0, tolong(__r[1]) - 1, 1)\n\
             | mv-expand __s = __steps to typeof(long)\n\
             | summarize dcount = dcount(__id) by __bin, __p, __s\n\
             | order by __bin asc, __p asc, __s asc\n\
             | project {} = __bin, {} = tostring(__plugin_sequence[__s]), Period = totimespan(__plugin_periods[__p]), dcount",
            quoted(&t_name),
            quoted(&state_name)
        );
        self.bind_plugin_template(P, &template, found, bindings, span)
    }
}

/// The output name of a column argument: the column's name, else the
/// expression's.
fn timeline_name(arg: &ast::Arg) -> String {
    super::naming::expression_name(&arg.value).unwrap_or_else(|| "Timestamp".to_string())
}

use super::evaluate_compose::{arity, positional, quoted};

#[cfg(test)]
mod tests {
    use super::*;

    fn evs(spec: &[(i64, &str)]) -> Vec<Event> {
        spec.iter().map(|(t, s)| Event { time: *t, state: s.to_string() }).collect()
    }

    fn seq(s: &[&str]) -> Vec<String> {
        s.iter().map(|x| x.to_string()).collect()
    }

    #[test]
    fn prev_next_finds_each_run_of_the_sequence() {
        let e = evs(&[(1, "A"), (2, "B"), (3, "C"), (4, "B"), (5, "C")]);
        let found = prev_next(&e, &seq(&["B", "C"]), 10);
        assert_eq!(found, vec![("A".to_string(), "B".to_string()), ("C".to_string(), String::new())]);
        // Steps further apart than the window do not count.
        assert!(prev_next(&e, &seq(&["B", "C"]), 0).is_empty());
    }

    #[test]
    fn steps_completed_allows_other_events_between_steps() {
        let e = evs(&[(0, "A"), (5, "X"), (8, "B"), (30, "C")]);
        assert_eq!(steps_completed(&e, &seq(&["A", "B", "C"]), 10), 2);
        assert_eq!(steps_completed(&e, &seq(&["A", "B", "C"]), 30), 3);
        assert_eq!(steps_completed(&e, &seq(&["B", "A"]), 30), 1);
        assert_eq!(steps_completed(&e, &seq(&["Z"]), 30), 0);
    }
}
