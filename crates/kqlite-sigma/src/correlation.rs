//! Compiling a Sigma correlation rule (event_count, value_count, temporal,
//! temporal_ordered, value_sum, value_avg, value_percentile, value_median)
//! to KQL over the queries of the rules it names.
//!
//! # Windows
//!
//! The specification asks that a correlation's `timespan` not be restricted
//! to fixed boundaries where the backend can do better, so windows slide:
//! every event of a group anchors the window `[t - timespan, t]` (both edges
//! included: two events exactly `timespan` apart are in one window, one tick
//! more and they are not), and a group matches when the window at any of its
//! events meets the condition. This is rsigma's (and Sigma's default)
//! per-event trailing window; tumbling buckets would miss events that
//! straddle a boundary. The window at an event is found with an equi-join on
//! the group and a `bin(TimeGenerated, timespan)` bucket (each event joins
//! its own bucket and the next one, which holds every window it can fall
//! into), then filtered to the exact range, so the cost is bounded by the
//! events of a group within two timespans rather than all pairs.
//!
//! `temporal_ordered` is a chain instead: each step joins the next rule's
//! events at or after the chain's last event and within `timespan` of its
//! first, keeping per end time only the latest start (the chain with the
//! most room left), so the events occur in the listed order (ties allowed)
//! within one window.
//!
//! # Output
//!
//! The correlation query yields one row per group that meets the condition:
//! the group-by fields under their names (aliases under the alias), then
//! [`TIME_COLUMN`], [`START_COLUMN`], [`END_COLUMN`], [`VALUE_COLUMN`] and
//! [`EVENT_COUNT_COLUMN`], describing the group's first matching window.
//! [`compile_correlation_events`] yields one row per matching window instead,
//! shaped like a detection rule's events, for correlations that name other
//! correlations (chaining).
//!
//! # What is rejected
//!
//! Each with a named [`UnsupportedReason`]: rsigma's `tumbling` and `session`
//! window extensions, timespans in months or years (no fixed length), a
//! `field` on a type that counts events or rules, several value fields,
//! temporal_ordered conditions other than "all rules in order", extended
//! temporal conditions with `of` selectors or on temporal_ordered, and rules
//! the caller cannot compile ([`UnsupportedReason::MissingRule`]).
//!
//! rsigma-parser fills a temporal correlation without a condition in as
//! `gte: 1`, which cannot be told from a written `gte: 1`; since "one of the
//! rules within the timespan" correlates nothing (it is every event of every
//! rule), that condition is read as the specification's default: all rules.

use crate::compile::CompiledRule;
use crate::error::{Unsupported, UnsupportedReason};
use rsigma_parser::value::TimespanUnit;
use rsigma_parser::{
    ConditionExpr, ConditionOperator, CorrelationCondition, CorrelationRule, CorrelationType, WindowMode,
};
use std::fmt::Write as _;

/// The time of a correlation finding: its first matching window's end.
pub const TIME_COLUMN: &str = "TimeGenerated";
/// The time of the first event in the matching window.
pub const START_COLUMN: &str = "StartTime";
/// The time of the last event in the matching window.
pub const END_COLUMN: &str = "EndTime";
/// The aggregate the condition was checked against: the event count, the
/// distinct value count, the number of rules, the sum, average or percentile.
pub const VALUE_COLUMN: &str = "AggregateValue";
/// The number of events in the matching window.
pub const EVENT_COUNT_COLUMN: &str = "EventCount";

const OUTPUT_COLUMNS: [&str; 5] = [TIME_COLUMN, START_COLUMN, END_COLUMN, VALUE_COLUMN, EVENT_COUNT_COLUMN];

/// A correlation rule compiled to KQL.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledCorrelation {
    /// The correlation's query (one row per matching group), its id, title
    /// and the tables of every rule it reads.
    pub rule: CompiledRule,
    /// The rules it correlates, as written in its `rules:`.
    pub referenced: Vec<String>,
    /// Whether `generate: true` asks for the referenced rules' own findings
    /// as well as the correlation's.
    pub generate: bool,
}

/// Compiles a referenced rule (its id or name as written in `rules:`) so
/// that its query yields one row per event with `TimeGenerated` and the
/// given fields as columns under those names.
pub type CompileReferenced<'a> = dyn Fn(&str, &[String]) -> Result<CompiledRule, Unsupported> + 'a;

/// Compiles a correlation: one row per group that meets its condition.
pub fn compile_correlation(
    correlation: &CorrelationRule,
    compile_referenced: &CompileReferenced<'_>,
) -> Result<CompiledCorrelation, Unsupported> {
    let plan = Plan::new(correlation, compile_referenced)?;
    let mut query = plan.lets;
    let by = by_clause(plan.groups.len());
    let _ = write!(
        query,
        "_corr_windows\n| summarize arg_min(_End, _Start, _Value, _Count){by}\n| where isnotnull(_End)\n| project "
    );
    for (i, name) in plan.groups.iter().enumerate() {
        let _ = write!(query, "{} = _g{i}, ", quote_name(name));
    }
    let _ = write!(
        query,
        "{TIME_COLUMN} = _End, {START_COLUMN} = _Start, {END_COLUMN} = _End, {VALUE_COLUMN} = _Value, {EVENT_COUNT_COLUMN} = _Count"
    );
    Ok(CompiledCorrelation {
        rule: CompiledRule { id: rule_id(correlation), title: correlation.title.clone(), query, tables: plan.tables },
        referenced: correlation.rules.clone(),
        generate: correlation.generate,
    })
}

/// Compiles a correlation as the events of an enclosing correlation that
/// names it: one row per matching window, with `TimeGenerated` (the window's
/// last event, when the condition became true) and `fields`, each of which
/// must be one of its group-by fields (or aliases), since a window carries
/// no other.
pub fn compile_correlation_events(
    correlation: &CorrelationRule,
    compile_referenced: &CompileReferenced<'_>,
    fields: &[String],
) -> Result<CompiledRule, Unsupported> {
    let plan = Plan::new(correlation, compile_referenced)?;
    let mut query = plan.lets;
    let _ = write!(query, "_corr_windows\n| project TimeGenerated = _End");
    for field in fields {
        let Some(i) = plan.groups.iter().position(|g| g == field) else {
            return Err(reject(
                correlation,
                UnsupportedReason::Other(format!(
                    "an enclosing correlation needs field '{field}', which is not one of this correlation's group-by fields"
                )),
            ));
        };
        let _ = write!(query, ", {} = _g{i}", quote_name(field));
    }
    Ok(CompiledRule { id: rule_id(correlation), title: correlation.title.clone(), query, tables: plan.tables })
}

/// What a correlation computes.
enum Aggregate {
    /// An aggregate over the sliding window at each event.
    Window(WindowAggregate),
    /// temporal_ordered: every rule, in order.
    Ordered,
}

/// What a correlation aggregates over the events of a window.
enum WindowAggregate {
    /// event_count.
    Events,
    /// value_count: distinct non-empty values.
    DistinctValues,
    Sum,
    Average,
    /// value_percentile (rank 0–100) and value_median (50), interpolated
    /// linearly between the closest ranks.
    Percentile(u64),
    /// temporal: the number of distinct rules, or (when written) a boolean
    /// condition over which rules occurred, as KQL over `_c0…`.
    Rules(Option<String>),
}

impl WindowAggregate {
    fn needs_value(&self) -> bool {
        matches!(
            self,
            WindowAggregate::DistinctValues
                | WindowAggregate::Sum
                | WindowAggregate::Average
                | WindowAggregate::Percentile(_)
        )
    }
}

/// The shared part of both queries: `let` statements ending with
/// `_corr_windows` (one row per matching window: `_g0…`, `_Start`, `_End`,
/// `_Value`, `_Count`), the names of the group columns, and the tables read.
struct Plan {
    lets: String,
    groups: Vec<String>,
    tables: Vec<String>,
}

impl Plan {
    fn new(correlation: &CorrelationRule, compile_referenced: &CompileReferenced<'_>) -> Result<Plan, Unsupported> {
        let fail = |reason| reject(correlation, reason);
        match correlation.window {
            WindowMode::Sliding => {}
            mode => {
                return Err(fail(UnsupportedReason::Other(format!(
                "correlation window '{}' (an rsigma extension; only the specification's sliding window is compiled)",
                mode.as_str()
            ))))
            }
        }
        if correlation.rules.is_empty() {
            return Err(fail(UnsupportedReason::Other("a correlation that names no rules".into())));
        }
        let span = timespan_literal(correlation).map_err(fail)?;
        let Computation { aggregate, predicates, value_field } = computation(correlation).map_err(fail)?;
        for alias in &correlation.aliases {
            if let Some(rule) = alias.mapping.keys().find(|r| !correlation.rules.contains(r)) {
                return Err(fail(UnsupportedReason::Other(format!(
                    "alias '{}' maps rule '{rule}', which the correlation does not name",
                    alias.alias
                ))));
            }
        }
        if let Some(name) = correlation.group_by.iter().find(|g| OUTPUT_COLUMNS.contains(&g.as_str())) {
            return Err(fail(UnsupportedReason::Other(format!(
                "group-by field '{name}' has the name of a column the correlation adds"
            ))));
        }
        let groups = correlation.group_by.clone();

        let mut lets = String::new();
        let mut branches = Vec::new();
        let mut tables: Vec<String> = Vec::new();
        for (i, reference) in correlation.rules.iter().enumerate() {
            // The field each group column (and the value) has in this rule's events.
            let group_sources: Vec<&str> = groups
                .iter()
                .map(|g| {
                    correlation
                        .aliases
                        .iter()
                        .find(|a| &a.alias == g)
                        .and_then(|a| a.mapping.get(reference))
                        .map_or(g.as_str(), String::as_str)
                })
                .collect();
            let mut fields: Vec<String> = Vec::new();
            for f in group_sources.iter().copied().chain(value_field.as_deref()) {
                if !fields.iter().any(|x| x == f) {
                    fields.push(f.to_string());
                }
            }
            let compiled = compile_referenced(reference, &fields).map_err(|e| {
                fail(match e.reason {
                    UnsupportedReason::MissingRule(_) => UnsupportedReason::MissingRule(reference.clone()),
                    other => UnsupportedReason::MissingRule(format!("{reference} ({other})")),
                })
            })?;
            for t in compiled.tables {
                if !tables.contains(&t) {
                    tables.push(t);
                }
            }
            let body = compiled.query.trim_end().trim_end_matches(';');
            // A function body may hold the rule's own `let`s; the newline
            // keeps a trailing comment from swallowing the brace.
            let _ = writeln!(lets, "let _corr_rule{i} = () {{\n{body}\n}};");
            let mut branch = format!("(_corr_rule{i}() | project _T = TimeGenerated, _Rule = {i}");
            for (j, source) in group_sources.iter().enumerate() {
                let _ = write!(branch, ", _g{j} = tostring({})", quote_name(source));
            }
            if let Some(field) = &value_field {
                let convert = match aggregate {
                    Aggregate::Window(WindowAggregate::DistinctValues) => "tostring",
                    _ => "todouble",
                };
                let _ = write!(branch, ", _v = {convert}({})", quote_name(field));
            }
            branch.push(')');
            branches.push(branch);
        }
        let _ = writeln!(lets, "let _corr_events = union\n    {};", branches.join(",\n    "));

        let keys: String = (0..groups.len()).map(|j| format!("_g{j}, ")).collect();
        match &aggregate {
            Aggregate::Ordered => ordered_windows(&mut lets, correlation.rules.len(), &keys, &span),
            Aggregate::Window(window) => {
                sliding_windows(&mut lets, window, &predicates, correlation.rules.len(), &keys, &span)
            }
        }
        Ok(Plan { lets, groups, tables })
    }
}

/// `_corr_windows` for every type but temporal_ordered: the window at each
/// distinct (group, time), aggregated and filtered by the condition.
fn sliding_windows(
    lets: &mut String,
    aggregate: &WindowAggregate,
    predicates: &[(ConditionOperator, u64)],
    rule_count: usize,
    keys: &str,
    span: &str,
) {
    let mut carried = String::new();
    if matches!(aggregate, WindowAggregate::Rules(_)) {
        carried.push_str(", _Re = _Rule");
    }
    if aggregate.needs_value() {
        carried.push_str(", _ve = _v");
    }
    let _ = write!(
        lets,
        "let _corr_windows = _corr_events\n\
         | distinct {keys}_T\n\
         | extend _b = bin(_T, {span})\n\
         | join kind=inner (union (_corr_events | extend _b = bin(_T, {span})), (_corr_events | extend _b = bin(_T, {span}) + {span})\n    \
         | project {keys}_b, _Te = _T{carried}) on {keys}_b\n\
         | where _Te between ((_T - {span}) .. _T)\n\
         | summarize _Start = min(_Te), _Count = count(), "
    );
    let condition = match aggregate {
        WindowAggregate::Events => {
            lets.push_str("_Value = count()");
            threshold(predicates)
        }
        WindowAggregate::DistinctValues => {
            lets.push_str("_Value = count_distinctif(_ve, isnotempty(_ve))");
            threshold(predicates)
        }
        WindowAggregate::Sum => {
            // A window with no numeric value has no sum (rather than 0,
            // which would meet `lt` conditions).
            lets.push_str("_Value = sum(_ve), _n = countif(isnotnull(_ve))");
            format!("_n > 0 and {}", threshold(predicates))
        }
        WindowAggregate::Average => {
            lets.push_str("_Value = avg(_ve), _n = countif(isnotnull(_ve))");
            format!("_n > 0 and {}", threshold(predicates))
        }
        WindowAggregate::Percentile(_) => {
            lets.push_str("_vs = array_sort_asc(make_list_if(_ve, isnotnull(_ve)))");
            threshold(predicates)
        }
        WindowAggregate::Rules(expression) => {
            lets.push_str("_Value = count_distinct(_Re)");
            match expression {
                Some(e) => {
                    for i in 0..rule_count {
                        let _ = write!(lets, ", _c{i} = countif(_Re == {i})");
                    }
                    e.clone()
                }
                // The specification's default, which rsigma writes `gte: 1`
                // (see the module comment).
                None if predicates == [(ConditionOperator::Gte, 1)] => format!("_Value == {rule_count}"),
                None => threshold(predicates),
            }
        }
    };
    let _ = writeln!(lets, " by {keys}_T");
    if let WindowAggregate::Percentile(rank) = aggregate {
        // Linear interpolation between the closest ranks, as rsigma does.
        let _ = write!(
            lets,
            "| extend _n = array_length(_vs)\n\
             | where _n > 0\n\
             | extend _rank = {rank}.0 / 100.0 * (_n - 1)\n\
             | extend _lo = toint(floor(_rank, 1)), _hi = toint(ceiling(_rank))\n\
             | extend _Value = todouble(_vs[_lo]) + (todouble(_vs[_hi]) - todouble(_vs[_lo])) * (_rank - _lo)\n"
        );
    }
    let _ = writeln!(lets, "| where {condition}\n| project {keys}_Start, _End = _T, _Value, _Count;");
}

/// `_corr_windows` for temporal_ordered: chains of the rules' events in
/// order, each step at or after the previous one and within the timespan of
/// the first.
fn ordered_windows(lets: &mut String, rule_count: usize, keys: &str, span: &str) {
    let _ = writeln!(
        lets,
        "let _corr_chain0 = _corr_events | where _Rule == 0 | distinct {keys}_T | project {keys}_Start = _T, _End = _T;"
    );
    for step in 1..rule_count {
        let previous = step - 1;
        let _ = writeln!(
            lets,
            "let _corr_chain{step} = union (_corr_chain{previous} | extend _b = bin(_Start, {span})), (_corr_chain{previous} | extend _b = bin(_Start, {span}) + {span})\n\
             | join kind=inner (_corr_events | where _Rule == {step} | project {keys}_Te = _T, _b = bin(_T, {span})) on {keys}_b\n\
             | where _Te >= _End and _Te - _Start <= {span}\n\
             | summarize _Start = max(_Start) by {keys}_End = _Te;"
        );
    }
    let _ = writeln!(
        lets,
        "let _corr_windows = _corr_chain{} | project {keys}_Start, _End, _Value = {rule_count}, _Count = {rule_count};",
        rule_count - 1
    );
}

/// What a correlation computes and when it matches.
struct Computation {
    aggregate: Aggregate,
    /// The threshold on the aggregate (all must hold; empty for a boolean
    /// temporal condition).
    predicates: Vec<(ConditionOperator, u64)>,
    /// The field whose values are aggregated (value_* types).
    value_field: Option<String>,
}

/// What a correlation computes, from its type and condition.
fn computation(correlation: &CorrelationRule) -> Result<Computation, UnsupportedReason> {
    let kind = correlation.correlation_type.as_str();
    let (predicates, field, percentile) = match &correlation.condition {
        CorrelationCondition::Threshold { predicates, field, percentile } => {
            (predicates.clone(), field.clone().unwrap_or_default(), *percentile)
        }
        CorrelationCondition::Extended(expression) => {
            return match correlation.correlation_type {
                CorrelationType::Temporal => {
                    let condition = rules_expression(expression, &correlation.rules)?;
                    Ok(Computation {
                        aggregate: Aggregate::Window(WindowAggregate::Rules(Some(condition))),
                        predicates: Vec::new(),
                        value_field: None,
                    })
                }
                _ => Err(UnsupportedReason::Condition(format!(
                    "a boolean condition on a correlation of type {kind} (compiled for temporal only)"
                ))),
            };
        }
    };
    let value_field = || match field.as_slice() {
        [one] => Ok(Some(one.clone())),
        [] => Err(UnsupportedReason::Condition(format!("{kind} needs condition.field"))),
        _ => Err(UnsupportedReason::Condition(format!("{kind} over several fields ({})", field.join(", ")))),
    };
    let no_field = || {
        if field.is_empty() {
            Ok(None)
        } else {
            Err(UnsupportedReason::Condition(format!("condition.field on a {kind} correlation, which counts no field")))
        }
    };
    let (aggregate, value_field) = match correlation.correlation_type {
        CorrelationType::EventCount => (Aggregate::Window(WindowAggregate::Events), no_field()?),
        CorrelationType::ValueCount => (Aggregate::Window(WindowAggregate::DistinctValues), value_field()?),
        CorrelationType::ValueSum => (Aggregate::Window(WindowAggregate::Sum), value_field()?),
        CorrelationType::ValueAvg => (Aggregate::Window(WindowAggregate::Average), value_field()?),
        CorrelationType::ValueMedian => (Aggregate::Window(WindowAggregate::Percentile(50)), value_field()?),
        CorrelationType::ValuePercentile => {
            let rank = percentile.unwrap_or(50);
            if rank > 100 {
                return Err(UnsupportedReason::Value(format!("percentile {rank} (a rank from 0 to 100)")));
            }
            (Aggregate::Window(WindowAggregate::Percentile(rank)), value_field()?)
        }
        CorrelationType::Temporal => (Aggregate::Window(WindowAggregate::Rules(None)), no_field()?),
        CorrelationType::TemporalOrdered => {
            let n = correlation.rules.len() as u64;
            let all = [(ConditionOperator::Gte, 1)];
            if predicates != all
                && predicates != [(ConditionOperator::Gte, n)]
                && predicates != [(ConditionOperator::Eq, n)]
            {
                return Err(UnsupportedReason::Condition(
                    "a temporal_ordered condition other than all rules in order".into(),
                ));
            }
            (Aggregate::Ordered, no_field()?)
        }
    };
    Ok(Computation { aggregate, predicates, value_field })
}

/// The KQL timespan of the correlation's `timespan`, in seconds.
fn timespan_literal(correlation: &CorrelationRule) -> Result<String, UnsupportedReason> {
    let timespan = &correlation.timespan;
    match timespan.unit {
        TimespanUnit::Month | TimespanUnit::Year => {
            Err(UnsupportedReason::Value(format!("timespan {timespan} (months and years have no fixed length)")))
        }
        _ if timespan.seconds == 0 => Err(UnsupportedReason::Value(format!("timespan {timespan} (empty)"))),
        _ => Ok(format!("{}s", timespan.seconds)),
    }
}

/// The condition over `_Value`: every predicate holds (a range is two).
fn threshold(predicates: &[(ConditionOperator, u64)]) -> String {
    let parts: Vec<String> = predicates
        .iter()
        .map(|(op, n)| {
            let op = match op {
                ConditionOperator::Lt => "<",
                ConditionOperator::Lte => "<=",
                ConditionOperator::Gt => ">",
                ConditionOperator::Gte => ">=",
                ConditionOperator::Eq => "==",
                ConditionOperator::Neq => "!=",
            };
            format!("_Value {op} {n}")
        })
        .collect();
    parts.join(" and ")
}

/// An extended temporal condition as KQL over the per-rule counts `_c0…`
/// (`_c{i}` counts the events of `rules[i]` in the window).
fn rules_expression(expression: &ConditionExpr, rules: &[String]) -> Result<String, UnsupportedReason> {
    let joined = |parts: &[ConditionExpr], op: &str| -> Result<String, UnsupportedReason> {
        let parts = parts.iter().map(|p| rules_expression(p, rules)).collect::<Result<Vec<_>, _>>()?;
        Ok(format!("({})", parts.join(op)))
    };
    match expression {
        ConditionExpr::And(parts) => joined(parts, " and "),
        ConditionExpr::Or(parts) => joined(parts, " or "),
        ConditionExpr::Not(inner) => Ok(format!("not({})", rules_expression(inner, rules)?)),
        ConditionExpr::Identifier(name) => match rules.iter().position(|r| r == name) {
            Some(i) => Ok(format!("_c{i} > 0")),
            None => Err(UnsupportedReason::Condition(format!(
                "'{name}' in the condition is not one of the correlation's rules"
            ))),
        },
        ConditionExpr::Selector { .. } => {
            Err(UnsupportedReason::Condition(format!("'{expression}' in a temporal condition")))
        }
    }
}

/// ` by _g0, _g1` (nothing without group-by fields).
fn by_clause(groups: usize) -> String {
    if groups == 0 {
        String::new()
    } else {
        format!(" by {}", (0..groups).map(|j| format!("_g{j}")).collect::<Vec<_>>().join(", "))
    }
}

/// A column name as a KQL identifier: `['name']`, which takes any name.
fn quote_name(name: &str) -> String {
    format!("['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

fn rule_id(correlation: &CorrelationRule) -> String {
    correlation.id.clone().unwrap_or_else(|| correlation.title.clone())
}

fn reject(correlation: &CorrelationRule, reason: UnsupportedReason) -> Unsupported {
    Unsupported { rule: rule_id(correlation), reason }
}
