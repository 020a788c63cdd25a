//! Running thousands of Sigma detection rules as a handful of scans: the
//! rules are grouped by logsource variant (the same table, the same fixed
//! conditions such as channel and EventID, the same lookback). Each group
//! reads its variant's rows once, in one query that filters the variant,
//! computes each field extraction its rules read once (a shared column per
//! distinct expression, bare column names included), and projects those
//! with the event columns and the rules' fields.
//!
//! The rules' predicates, rewritten over the shared columns, are then
//! evaluated together over each batch of those rows by a
//! [`crate::predicate_set::PredicateSet`] (one Aho-Corasick scan per column
//! for all the rules' literals), and each rule keeps its matching rows.
//! The few predicates outside the set's subset (numeric comparisons,
//! fieldref, CIDR) run through the engine: a query per group evaluates
//! each as a boolean column (identical predicates once) and keeps the rows
//! where any held.
//!
//! Each rule's findings are made from its own matching rows, by
//! [`crate::hunt::findings_from`], from the same columns under the same
//! names as its own query projects: the findings are those of running the
//! rule alone ([`crate::hunt::run_rule`], kept as the reference and for
//! every rule this cannot run).
//!
//! A group query that fails is split in halves until the failing rules
//! stand alone; those run on their own and report their own error.

use crate::hunt::{findings_from, RuleOutcome, RuleStatus};
use crate::predicate_set::PredicateSetBuilder;
use crate::rule::Rule;
use crate::tuning::Tuning;
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, UInt32Array};
use datafusion::arrow::compute::{filter_record_batch, take};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::{ColumnDef, QueryResult, Session};
use kqlite_sigma::VariantPlan;
use kqlite_syntax::lexer::lex;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::{Hash, Hasher};
use std::sync::Arc;

/// The most rules one query evaluates: bounds the size of a query's text
/// and plan (a group can hold a thousand rules).
const RULES_PER_QUERY: usize = 256;

/// The lookback of a rule that sets none: all the evidence.
const NO_LOOKBACK: &str = "timespan(null)";

/// One rule of a group: which rule, its predicate over the group's
/// columns and the columns of its fields.
#[derive(Clone, Debug)]
struct Member {
    /// Index of the rule in the hunt's rules.
    rule: usize,
    predicate: String,
    /// The group's columns the predicate reads.
    columns: Vec<String>,
    /// (Sigma name, expression of its text).
    fields: Vec<(String, String)>,
}

/// Rules sharing a logsource variant and a lookback.
#[derive(Debug)]
struct Group {
    table: String,
    fixed: String,
    lookback: String,
    event_columns: Vec<(String, String)>,
    /// Column name → the expression it holds (field extractions shared by
    /// the group's predicates).
    columns: BTreeMap<String, String>,
    members: Vec<Member>,
}

/// The lookback a rule runs with, when tuning changes nothing else about
/// its query (exclusions or other parameters need its own query).
fn lookback_of(rule: &Rule, tuning: &Tuning) -> Option<String> {
    if tuning.for_rule(rule).is_some_and(|t| t.disabled || !t.exclude.is_empty()) {
        return None;
    }
    if !tuning.hours_parameters(rule).ok()?.is_empty() {
        return None;
    }
    let overrides = tuning.parameter_overrides(rule).ok()?;
    match overrides.as_slice() {
        [] => Some(NO_LOOKBACK.to_string()),
        [(name, value)] if name == "LookbackWindow" => Some(value.clone()),
        _ => None,
    }
}

/// A column's name for an expression: the same text gets the same name
/// in every group of a hunt.
fn column_for(expr: &str) -> String {
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    expr.hash(&mut hasher);
    format!("_sigma_c{:016x}", hasher.finish())
}

/// `predicate` with each occurrence of an expression of `reads` that is
/// whole tokens (never text inside a string literal) replaced by its
/// column, and the columns used as (name, expression). `None` when an
/// expression's column name is taken by another expression in `columns`.
fn with_columns(
    predicate: &str,
    reads: &[String],
    columns: &BTreeMap<String, String>,
) -> Option<(String, Vec<(String, String)>)> {
    let tokens = lex(predicate).tokens;
    let starts: BTreeSet<usize> = tokens.iter().map(|t| t.span.start as usize).collect();
    let ends: BTreeSet<usize> = tokens.iter().map(|t| t.span.end as usize).collect();
    // Bare column names too: a predicate must read only the group's
    // columns for the predicate set to evaluate it.
    let mut reads: Vec<&String> = reads.iter().collect();
    // Longest first, so an expression inside another is not taken apart.
    reads.sort_by_key(|r| std::cmp::Reverse(r.len()));
    let mut replaced: Vec<(usize, usize, String)> = Vec::new();
    for expr in reads {
        for (at, _) in predicate.match_indices(expr.as_str()) {
            let end = at + expr.len();
            let whole = starts.contains(&at) && ends.contains(&end);
            let overlaps = replaced.iter().any(|(s, e, _)| at < *e && *s < end);
            if !whole || overlaps {
                continue;
            }
            let name = column_for(expr);
            if columns.get(&name).is_some_and(|existing| existing != expr) {
                return None;
            }
            replaced.push((at, end, name));
        }
    }
    replaced.sort();
    let mut out = String::with_capacity(predicate.len());
    let mut used: Vec<(String, String)> = Vec::new();
    let mut last = 0;
    for (start, end, name) in replaced {
        out.push_str(&predicate[last..start]);
        out.push_str(&name);
        if !used.iter().any(|(n, _)| *n == name) {
            used.push((name, predicate[start..end].to_string()));
        }
        last = end;
    }
    out.push_str(&predicate[last..]);
    Some((out, used))
}

/// Groups the rules that can run together; the others are left to run on
/// their own.
fn group_rules(rules: &[&Rule], tuning: &Tuning) -> Vec<Group> {
    let mut groups: BTreeMap<(String, String, String), Group> = BTreeMap::new();
    for (index, rule) in rules.iter().enumerate() {
        let (Some(plan), Some(lookback)) = (&rule.sigma_plan, lookback_of(rule, tuning)) else {
            continue;
        };
        if !rule.finding_reasons.is_empty() {
            continue;
        }
        let mut members = Vec::new();
        for variant in &plan.variants {
            let key = (variant.table.clone(), variant.fixed.clone(), lookback.clone());
            let group = groups.entry(key).or_insert_with(|| new_group(variant, &lookback));
            match with_columns(&variant.predicate, &variant.reads, &group.columns) {
                Some((predicate, used)) => {
                    members.push((group.table.clone(), group.fixed.clone(), predicate, variant, used))
                }
                None => break,
            }
        }
        if members.len() != plan.variants.len() {
            continue;
        }
        for (table, fixed, predicate, variant, used) in members {
            let group = groups.get_mut(&(table, fixed, lookback.clone())).expect("the group was made above");
            let columns = used.iter().map(|(name, _)| name.clone()).collect();
            group.columns.extend(used);
            group.members.push(Member { rule: index, predicate, columns, fields: variant.fields.clone() });
        }
    }
    groups.into_values().filter(|g| !g.members.is_empty()).collect()
}

fn new_group(variant: &VariantPlan, lookback: &str) -> Group {
    Group {
        table: variant.table.clone(),
        fixed: variant.fixed.clone(),
        lookback: lookback.to_string(),
        event_columns: variant.event_columns.clone(),
        columns: BTreeMap::new(),
        members: Vec::new(),
    }
}

/// `a or b or …` as a balanced tree: a thousand rules must not make an
/// expression a thousand deep.
fn any_of(names: &[String]) -> String {
    match names {
        [] => "false".to_string(),
        [one] => one.clone(),
        _ => {
            let (left, right) = names.split_at(names.len() / 2);
            format!("({} or {})", any_of(left), any_of(right))
        }
    }
}

/// The query of some of a group's members: the variant's rows in the
/// lookback, the shared columns, a boolean column per distinct predicate
/// (`_sigma_r{i}`), the rows where any holds, projected to the event
/// columns, the fields' columns and the predicates. Returns the query
/// and, per member, its predicate's column.
fn group_query(group: &Group, members: &[Member]) -> (String, Vec<String>) {
    let mut predicates: Vec<&str> = Vec::new();
    let mut seen: HashMap<&str, usize> = HashMap::new();
    let mut member_columns = Vec::new();
    for member in members {
        let i = *seen.entry(&member.predicate).or_insert_with(|| {
            predicates.push(&member.predicate);
            predicates.len() - 1
        });
        member_columns.push(format!("_sigma_r{i}"));
    }
    let mut query = rows_with_shared_columns(group, members);
    let names: Vec<String> = (0..predicates.len()).map(|i| format!("_sigma_r{i}")).collect();
    let tests: Vec<String> = predicates.iter().zip(&names).map(|(p, name)| format!("{name} = {p}")).collect();
    query.push_str(&format!("\n| extend {}\n| where {}", tests.join(", "), any_of(&names)));
    let mut projected = event_and_field_columns(group, members, &BTreeSet::new());
    projected.extend(names);
    query.push_str(&format!("\n| project {}", projected.join(", ")));
    (query, member_columns)
}

/// The variant's rows in the lookback, with the shared columns `members`'
/// predicates read.
fn rows_with_shared_columns(group: &Group, members: &[Member]) -> String {
    let used: BTreeSet<&String> = members.iter().flat_map(|m| &m.columns).collect();
    let used: Vec<(&String, &String)> = used.into_iter().filter_map(|name| group.columns.get_key_value(name)).collect();
    let time = (group.event_columns.iter().find(|(name, _)| name == "TimeGenerated"))
        .map_or("TimeGenerated", |(_, expr)| expr.as_str());
    let mut query = format!(
        "let LookbackWindow = {};\n{}\n| where {}\n| where isnull(LookbackWindow) or {time} > ago(LookbackWindow)",
        group.lookback, group.table, group.fixed
    );
    if !used.is_empty() {
        let extend: Vec<String> = used.iter().map(|(name, expr)| format!("{name} = {expr}")).collect();
        query.push_str(&format!("\n| extend {}", extend.join(", ")));
    }
    query
}

/// The projection of the event columns and of `members`' fields (each
/// under its [`column_for`] name); a field whose column is in `shared` is
/// projected by name, as computed there.
fn event_and_field_columns(group: &Group, members: &[Member], shared: &BTreeSet<&String>) -> Vec<String> {
    let mut projected: Vec<String> =
        group.event_columns.iter().map(|(name, expr)| format!("{name} = {expr}")).collect();
    let mut fields_seen = BTreeSet::new();
    for (_, expr) in members.iter().flat_map(|m| &m.fields) {
        let name = column_for(expr);
        if shared.contains(&name) {
            continue;
        }
        if fields_seen.insert(name.clone()) {
            projected.push(format!("{name} = {expr}"));
        }
    }
    projected
}

/// The query the predicate set reads a group through: every row of the
/// variant in the lookback, with the event columns, the members' fields
/// and the shared columns their predicates read.
fn predicate_set_query(group: &Group, members: &[Member]) -> String {
    let shared: BTreeSet<&String> = members.iter().flat_map(|m| &m.columns).collect();
    let mut projected = event_and_field_columns(group, members, &shared);
    let event_names: BTreeSet<&str> = group.event_columns.iter().map(|(name, _)| name.as_str()).collect();
    projected.extend(shared.into_iter().filter(|name| !event_names.contains(name.as_str())).cloned());
    format!("{}\n| project {}", rows_with_shared_columns(group, members), projected.join(", "))
}

/// The queries the grouped run makes (each with the indexes into `rules`
/// of the rules it evaluates), for planning what the rules read.
/// A group's one query reads every column its members' predicates and
/// findings read (the predicates read only shared columns), so its needs
/// are theirs, whether the predicate set or the engine evaluates them.
pub(crate) fn grouped_queries(rules: &[&Rule], tuning: &Tuning) -> Vec<(String, Vec<usize>)> {
    let groups = group_rules(rules, tuning);
    (groups.iter())
        .map(|group| (predicate_set_query(group, &group.members), group.members.iter().map(|m| m.rule).collect()))
        .collect()
}

/// Runs the rules that can run in groups: their outcomes by index into
/// `rules`. A rule without an outcome is left to run on its own.
pub(crate) async fn run_grouped(
    session: &Session,
    rules: &[&Rule],
    tuning: &Tuning,
    tables_with_data: &[String],
) -> HashMap<usize, RuleOutcome> {
    let groups = group_rules(rules, tuning);
    let mut matched: HashMap<usize, Vec<QueryResult>> = HashMap::new();
    let mut failed = BTreeSet::new();
    for group in &groups {
        for member in &group.members {
            matched.entry(member.rule).or_default();
        }
        // A group over a table without evidence matches nothing.
        if !tables_with_data.contains(&group.table) {
            continue;
        }
        let left = run_predicate_set(session, group, &mut matched).await;
        for chunk in left.chunks(RULES_PER_QUERY) {
            run_members(session, group, chunk, &mut matched, &mut failed).await;
        }
    }
    let mut outcomes = HashMap::new();
    for (index, results) in matched {
        if failed.contains(&index) {
            continue;
        }
        let rule = rules[index];
        let plan = rule.sigma_plan.as_ref().expect("grouped rules have a plan");
        let tables: BTreeSet<String> = plan.variants.iter().map(|v| v.table.clone()).collect();
        let status_findings = if !tables.iter().any(|t| tables_with_data.contains(t)) {
            (RuleStatus::NoData(tables.into_iter().collect()), Vec::new())
        } else {
            let severity = tuning.severity(rule);
            let rows: usize = results.iter().map(QueryResult::row_count).sum();
            let fired = rule.trigger.fires(rows as u64);
            let findings = match fired {
                true => results.iter().flat_map(|r| findings_from(rule, severity, r)).collect(),
                false => Vec::new(),
            };
            (RuleStatus::Ran { rows: rows as u64, fired }, findings)
        };
        let (status, findings) = status_findings;
        outcomes.insert(index, RuleOutcome { rule_id: rule.id.clone(), stem: rule.stem.clone(), status, findings });
    }
    outcomes
}

/// Runs the group's members whose predicates the predicate set compiles in
/// one pass over the group's rows, adding each one's matching rows to
/// `matched`; returns the members left to the engine (all of them when the
/// group's query fails: the engine then reports each one's error).
async fn run_predicate_set(
    session: &Session,
    group: &Group,
    matched: &mut HashMap<usize, Vec<QueryResult>>,
) -> Vec<Member> {
    let query = predicate_set_query(group, &group.members);
    let Ok(columns) = session.check(&query) else { return group.members.clone() };
    let column_type = |name: &str| columns.iter().find(|c| c.name == name).map(|c| c.ty);
    let mut builder = PredicateSetBuilder::new();
    let mut compiled = Vec::new();
    let mut left = Vec::new();
    for member in &group.members {
        match builder.add(&member.predicate, column_type) {
            Ok(index) => compiled.push((member, index)),
            Err(_) => left.push(member.clone()),
        }
    }
    if compiled.is_empty() {
        return left;
    }
    let set = builder.build();
    let mut rows: Vec<Vec<RecordBatch>> = vec![Vec::new(); compiled.len()];
    let mut sources: Vec<Option<Vec<(String, usize)>>> = vec![None; compiled.len()];
    let ran = session
        .query_each_batch(&query, |batch| {
            let matches = set.evaluate(batch)?;
            for (k, (member, index)) in compiled.iter().enumerate() {
                let matching = &matches[*index];
                if matching.is_empty() {
                    continue;
                }
                let sources = match &sources[k] {
                    Some(s) => s,
                    None => sources[k].insert(member_sources(group, member, batch)?),
                };
                rows[k].push(take_rows(batch, sources, matching)?);
            }
            Ok(())
        })
        .await;
    if ran.is_err() {
        return group.members.clone();
    }
    for (k, (member, _)) in compiled.iter().enumerate() {
        let batches = std::mem::take(&mut rows[k]);
        let Some(sources) = &sources[k] else { continue };
        let types: Vec<ColumnDef> = (sources.iter()).map(|(name, i)| ColumnDef::new(name, columns[*i].ty)).collect();
        matched.entry(member.rule).or_default().push(QueryResult::single(types, batches));
    }
    left
}

/// Where a member's event columns and fields are in the group's rows:
/// (the name its own query gives the column, index in the batch).
fn member_sources(group: &Group, member: &Member, batch: &RecordBatch) -> Result<Vec<(String, usize)>, String> {
    let schema = batch.schema();
    let position = |name: &str| schema.index_of(name).map_err(|_| format!("the group's rows have no column {name}"));
    let mut sources = Vec::new();
    for (name, _) in &group.event_columns {
        sources.push((name.clone(), position(name)?));
    }
    for (name, expr) in &member.fields {
        sources.push((name.clone(), position(&column_for(expr))?));
    }
    Ok(sources)
}

/// `rows` of `batch`, with the `sources` columns under their names.
fn take_rows(batch: &RecordBatch, sources: &[(String, usize)], rows: &[u32]) -> Result<RecordBatch, String> {
    let indices = UInt32Array::from(rows.to_vec());
    let arrays: Vec<ArrayRef> = (sources.iter())
        .map(|(_, i)| take(batch.column(*i), &indices, None))
        .collect::<Result<_, _>>()
        .map_err(|e| e.to_string())?;
    let fields: Vec<Field> = (sources.iter().zip(&arrays))
        .map(|((name, _), array)| Field::new(name, array.data_type().clone(), true))
        .collect();
    RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).map_err(|e| e.to_string())
}

/// Runs one query over `members`, adding each member's matching rows to
/// `matched`; a query that fails is split in halves, and a member that
/// fails alone goes to `failed`.
async fn run_members(
    session: &Session,
    group: &Group,
    members: &[Member],
    matched: &mut HashMap<usize, Vec<QueryResult>>,
    failed: &mut BTreeSet<usize>,
) {
    let mut pending = vec![members];
    while let Some(members) = pending.pop() {
        let (query, member_columns) = group_query(group, members);
        match session.query(&query).await {
            Ok(result) => {
                for (member, column) in members.iter().zip(&member_columns) {
                    match member_view(group, member, column, &result) {
                        Some(Some(view)) => matched.entry(member.rule).or_default().push(view),
                        Some(None) => {}
                        // Its columns are not in the result: a defect of the
                        // grouping, so the rule runs alone rather than wrongly.
                        None => {
                            failed.insert(member.rule);
                        }
                    }
                }
            }
            Err(_) if members.len() == 1 => {
                failed.insert(members[0].rule);
            }
            Err(_) => {
                let (left, right) = members.split_at(members.len() / 2);
                pending.extend([left, right]);
            }
        }
    }
}

/// The rows of a group's result where `member`'s predicate holds, with the
/// columns its own query projects (event columns, then its fields under
/// their Sigma names); `Some(None)` when there are none, `None` when the
/// result lacks a column the member needs.
fn member_view(group: &Group, member: &Member, predicate: &str, result: &QueryResult) -> Option<Option<QueryResult>> {
    let position = |name: &str| result.columns.iter().position(|c| c.name == name);
    let mut sources: Vec<(String, usize)> = Vec::new();
    for (name, _) in &group.event_columns {
        sources.push((name.clone(), position(name)?));
    }
    for (name, expr) in &member.fields {
        sources.push((name.clone(), position(&column_for(expr))?));
    }
    let mask_column = position(predicate)?;
    let columns: Vec<ColumnDef> = sources.iter().map(|(name, i)| ColumnDef::new(name, result.columns[*i].ty)).collect();
    let mut batches = Vec::new();
    for batch in &result.batches {
        let mask = batch.column(mask_column).as_any().downcast_ref::<BooleanArray>()?;
        if mask.true_count() == 0 {
            continue;
        }
        let arrays: Vec<ArrayRef> = sources.iter().map(|(_, i)| batch.column(*i).clone()).collect();
        let fields: Vec<Field> = (sources.iter().zip(&arrays))
            .map(|((name, _), array)| Field::new(name, array.data_type().clone(), true))
            .collect();
        let renamed = RecordBatch::try_new(Arc::new(Schema::new(fields)), arrays).ok()?;
        batches.push(filter_record_batch(&renamed, mask).ok()?);
    }
    Some((!batches.is_empty()).then(|| QueryResult::single(columns, batches)))
}
