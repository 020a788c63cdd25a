//! Running rules over a session and turning result rows into findings.

use crate::content::Content;
use crate::error::{chain_text, DetectError};
use crate::finding::{Finding, Severity};
use crate::query_edit;
use crate::rule::{self, Rule, RuleSet};
use crate::tuning::Tuning;
use crate::watchlist;
use datafusion::arrow::array::{Array, Int64Array};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::{KqlType, QueryResult, Session};
use serde_json::Value;
use std::sync::Arc;

/// What happened to one rule.
#[derive(Clone, Debug)]
pub enum RuleStatus {
    /// Ran: result rows, and whether the trigger fired.
    Ran {
        rows: u64,
        fired: bool,
    },
    /// Not run: none of the tables its query reads (through the functions
    /// it calls) has data; those tables.
    NoData(Vec<String>),
    Disabled,
    Failed(String),
}

#[derive(Clone, Debug)]
pub struct RuleOutcome {
    pub rule_id: String,
    pub stem: String,
    pub status: RuleStatus,
    pub findings: Vec<Finding>,
}

/// Prepares a session for rules: watchlists (the `Watchlist` table and
/// `_GetWatchlist`) and the pack's shared functions. `functions` are
/// (name, KQL text) pairs.
pub fn prepare_session(
    session: &mut Session,
    tuning: &Tuning,
    functions: &[(String, String)],
) -> Result<(), DetectError> {
    prepare_session_with_content(session, tuning, functions, &Content::default())
}

/// [`prepare_session`] with Sentinel content's parsers (stored functions)
/// and watchlists too; the tuning file's watchlist of an alias wins over
/// the content's.
pub fn prepare_session_with_content(
    session: &mut Session,
    tuning: &Tuning,
    functions: &[(String, String)],
    content: &Content,
) -> Result<(), DetectError> {
    let mut watchlists = tuning.watchlists.clone();
    let from_content = content.watchlists.iter().filter(|w| !watchlists.iter().any(|t| t.alias == w.alias));
    watchlists.extend(from_content.cloned().collect::<Vec<_>>());
    watchlist::register(session, &watchlists)?;
    content.add_parsers_to(session);
    for (name, text) in functions {
        session.define_named_functions(name, text).map_err(|error| DetectError::FunctionDefinition {
            name: name.clone(),
            text: text.clone(),
            error,
        })?;
    }
    Ok(())
}

/// Evaluates a KQL value that should be a list of hours of the day.
async fn hours_value(session: &Session, name: &str, kql: &str) -> Result<Vec<i64>, DetectError> {
    let result = session
        .query(&format!("print Hours = {kql}"))
        .await
        .map_err(|source| DetectError::HoursParameter { name: name.to_string(), kql: kql.to_string(), source })?;
    let rows = result_rows(&result);
    let value = rows.first().and_then(|r| r.first()).cloned().unwrap_or(Value::Null);
    let items = match value {
        Value::Array(items) => items,
        Value::Number(n) => vec![Value::Number(n)],
        got => {
            return Err(DetectError::HoursNotAList { name: name.to_string(), kql: kql.to_string(), got: Box::new(got) })
        }
    };
    items
        .iter()
        .map(|v| match v.as_i64() {
            Some(h @ 0..=23) => Ok(h),
            _ => {
                Err(DetectError::NotAnHour { name: name.to_string(), kql: kql.to_string(), value: Box::new(v.clone()) })
            }
        })
        .collect()
}

/// The query a rule runs under `tuning`, with local after-hours windows
/// converted to UTC.
pub async fn tuned_query(session: &Session, rule: &Rule, tuning: &Tuning) -> Result<String, DetectError> {
    let mut hours = Vec::new();
    for (name, kql) in tuning.hours_parameters(rule)? {
        hours.push((name.clone(), hours_value(session, &name, &kql).await?));
    }
    tuning.rule_query(rule, &hours)
}

/// Every row of a result as JSON values (datetimes as ISO text).
pub fn result_rows(result: &QueryResult) -> Vec<Vec<Value>> {
    each_result_row(result).collect()
}

/// The rows of a result as JSON values, one at a time (a rule may return
/// many rows: converting them all first would hold them all twice).
fn each_result_row(result: &QueryResult) -> impl Iterator<Item = Vec<Value>> + '_ {
    let all = vec![true; result.columns.len()];
    let mut text = String::new();
    result
        .batches
        .iter()
        .flat_map(move |batch| (0..batch.num_rows()).map(move |row| (batch, row)))
        .map(move |(batch, row)| row_values(result, &all, batch, row, &mut text))
}

/// One row of a result batch as JSON values (datetimes as ISO text): the
/// columns marked in `read`, the others null (a finding reads a handful of
/// a rule's columns, and rules can return hundreds of thousands of rows).
fn row_values(result: &QueryResult, read: &[bool], batch: &RecordBatch, row: usize, text: &mut String) -> Vec<Value> {
    (result.columns.iter().zip(read).enumerate())
        .map(|(i, (column, &read))| match read {
            true => cell_value(batch.column(i).as_ref(), row, column.ty, text),
            false => Value::Null,
        })
        .collect()
}

/// A cell as a JSON value, as `write_cell_json` writes it; `text` is scratch.
fn cell_value(array: &dyn Array, row: usize, ty: KqlType, text: &mut String) -> Value {
    use datafusion::arrow::array::{BooleanArray, Int32Array, StringArray};
    if array.is_null(row) {
        return Value::Null;
    }
    let any = array.as_any();
    let direct = match ty {
        KqlType::String | KqlType::Guid => any.downcast_ref::<StringArray>().map(|a| Value::from(a.value(row))),
        KqlType::Long => any.downcast_ref::<Int64Array>().map(|a| Value::from(a.value(row))),
        KqlType::Int => any.downcast_ref::<Int32Array>().map(|a| Value::from(a.value(row))),
        KqlType::Bool => any.downcast_ref::<BooleanArray>().map(|a| Value::from(a.value(row))),
        KqlType::Dynamic => any
            .downcast_ref::<datafusion::arrow::array::BinaryArray>()
            .map(|a| kqlite_engine::dynamic::DynRef::new(a.value(row)).to_json_value()),
        KqlType::Datetime => any.downcast_ref::<Int64Array>().map(|a| {
            text.clear();
            kqlite_engine::time::write_datetime(text, a.value(row));
            Value::String(text.clone())
        }),
        _ => None,
    };
    direct.unwrap_or_else(|| {
        text.clear();
        kqlite_engine::output::write_cell_json(text, array, row, ty);
        serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
    })
}

/// Datetime cells as nanoseconds, by row.
fn datetime_column(result: &QueryResult, index: usize) -> Vec<Option<i64>> {
    let mut out = Vec::new();
    for batch in &result.batches {
        let column = batch.column(index);
        match column.as_any().downcast_ref::<Int64Array>() {
            Some(a) => out.extend((0..a.len()).map(|i| a.is_valid(i).then(|| a.value(i)))),
            None => out.extend((0..column.len()).map(|_| None)),
        }
    }
    out
}

const REASON_PREFIX: &str = "__kqlite_reason_";

/// Runs one rule. Errors are reported in the outcome, not returned, so
/// one bad rule does not stop a hunt.
pub async fn run_rule(session: &Session, rule: &Rule, tuning: &Tuning, tables_with_data: &[String]) -> RuleOutcome {
    let outcome =
        |status, findings| RuleOutcome { rule_id: rule.id.clone(), stem: rule.stem.clone(), status, findings };
    if tuning.is_disabled(rule) {
        return outcome(RuleStatus::Disabled, Vec::new());
    }
    let texts = match rule_texts(session, rule, tuning).await {
        Ok(texts) => texts,
        Err(e) => return outcome(RuleStatus::Failed(chain_text(&e)), Vec::new()),
    };
    // What the query reads decides, not `requiredDataConnectors` (Sentinel's
    // UI metadata, often naming other tables). A query that does not bind
    // runs, to report its error.
    if let Ok(read) = session.tables_read(&texts.0) {
        if !read.is_empty() && !read.iter().any(|t| tables_with_data.contains(t)) {
            return outcome(RuleStatus::NoData(read.into_iter().collect()), Vec::new());
        }
    }
    match run_rule_query(session, rule, tuning, texts).await {
        Ok((rows, findings)) => {
            let fired = rule.trigger.fires(rows);
            outcome(RuleStatus::Ran { rows, fired }, if fired { findings } else { Vec::new() })
        }
        Err(e) => outcome(RuleStatus::Failed(chain_text(&e)), Vec::new()),
    }
}

/// The text a rule runs under `tuning`: its tuned query, and that query
/// with its `findingReasons` appended (the text run).
async fn rule_texts(session: &Session, rule: &Rule, tuning: &Tuning) -> Result<(String, String), DetectError> {
    let query = tuned_query(session, rule, tuning).await?;
    let reasons = reason_predicates(rule);
    let with_reasons = if reasons.is_empty() {
        query.clone()
    } else {
        let extend: Vec<String> =
            reasons.iter().enumerate().map(|(i, when)| format!("{REASON_PREFIX}{i} = tobool({when})")).collect();
        query_edit::append_operators(&query, &format!("| extend {}", extend.join(", ")))?
    };
    Ok((query, with_reasons))
}

/// The newest event time of the evidence (`now()` of a hunt at the latest
/// event): over the loaded tables and the EVTX records left unread;
/// the system clock when there is no event.
pub async fn latest_event_time(
    session: &Session,
    evidence: &crate::evidence::EvidenceReport,
) -> Result<i64, DetectError> {
    let loaded = session.latest_event_time().await?;
    Ok(loaded.max(evidence.latest_time).unwrap_or_else(kqlite_engine::time::now_nanos))
}

/// What the enabled rules read from each table (columns, and rows by
/// `EventID`), for loading just that
/// ([`crate::evidence::load_evidence_for`]). `None` when a rule names a
/// table the catalog does not know (only the evidence may hold it): then
/// everything is loaded. A rule that fails for another reason adds
/// nothing, and reports its error when it runs: with thousands of content
/// rules one such rule must not make the whole hunt read everything.
pub async fn rules_needs(
    rules: &RuleSet,
    tuning: &Tuning,
    functions: &[(String, String)],
) -> Option<kqlite_engine::ScanNeeds> {
    rules_needs_with_content(rules, tuning, functions, &Content::default()).await
}

/// [`rules_needs`] with Sentinel content's parsers and watchlists.
pub async fn rules_needs_with_content(
    rules: &RuleSet,
    tuning: &Tuning,
    functions: &[(String, String)],
    content: &Content,
) -> Option<kqlite_engine::ScanNeeds> {
    let mut session = kqlite_ingest::catalog::new_session();
    prepare_session_with_content(&mut session, tuning, functions, content).ok()?;
    let enabled: Vec<&Rule> = rules.rules.iter().filter(|r| !tuning.is_disabled(r)).collect();
    // Sigma rules are planned as the grouped hunt runs them, a query per
    // logsource variant: a few dozen plans instead of thousands.
    let grouped = crate::sigma_plan::grouped_queries(&enabled, tuning);
    let mut in_group = vec![false; enabled.len()];
    grouped.iter().flat_map(|(_, members)| members).for_each(|&i| in_group[i] = true);
    // Queries are planned on all cores: planning over Sentinel's wide tables
    // takes milliseconds a query, before any file is read.
    let (session, tuning) = (Arc::new(session), Arc::new(tuning.clone()));
    let group_plans: Vec<_> = (grouped.into_iter())
        .map(|(query, members)| {
            let session = session.clone();
            let plan = tokio::spawn(async move { session.scan_needs(&query) });
            (plan, members)
        })
        .collect();
    let mut needs = kqlite_engine::ScanNeeds::default();
    let mut alone: Vec<Rule> =
        enabled.iter().zip(&in_group).filter(|(_, grouped)| !**grouped).map(|(r, _)| (*r).clone()).collect();
    for (plan, members) in group_plans {
        match plan.await.ok()? {
            Ok(group_needs) => needs.merge(group_needs),
            Err(kqlite_engine::QueryError::Bind(e)) if e.unresolved.is_some() => return None,
            // The rules of a query that does not plan are planned one by one:
            // the others' needs must not be lost with the failing one's.
            Err(_) => alone.extend(members.into_iter().map(|i| enabled[i].clone())),
        }
    }
    let planned: Vec<_> = (alone.into_iter())
        .map(|rule| {
            let (session, tuning) = (session.clone(), tuning.clone());
            tokio::spawn(async move {
                let Ok((_, text)) = rule_texts(&session, &rule, &tuning).await else {
                    return Some(kqlite_engine::ScanNeeds::default());
                };
                match session.scan_needs(&text) {
                    Ok(needs) => Some(needs),
                    Err(kqlite_engine::QueryError::Bind(e)) if e.unresolved.is_some() => None,
                    Err(_) => Some(kqlite_engine::ScanNeeds::default()),
                }
            })
        })
        .collect();
    for rule_needs in planned {
        needs.merge(rule_needs.await.ok()??);
    }
    Some(needs)
}

/// Runs a rule's `texts` ([`rule_texts`]).
async fn run_rule_query(
    session: &Session,
    rule: &Rule,
    tuning: &Tuning,
    (query, with_reasons): (String, String),
) -> Result<(u64, Vec<Finding>), DetectError> {
    let result = match session.query(&with_reasons).await {
        Ok(r) => r,
        Err(error) => {
            // Report the rule's own error, not one in the text kqlite appended.
            let reasons_failed = with_reasons != query
                && matches!(error, kqlite_engine::QueryError::Bind(_))
                && session.check(&query).is_ok();
            return Err(match reasons_failed {
                true => DetectError::FindingReasons(error),
                false => DetectError::RuleQuery { query, error },
            });
        }
    };
    let findings = findings_from(rule, tuning.severity(rule), &result);
    Ok((result.row_count() as u64, findings))
}

/// The rule's `findingReasons` predicates, parenthesised.
fn reason_predicates(rule: &Rule) -> Vec<String> {
    rule.finding_reasons.iter().map(|r| format!("({})", r.when)).collect()
}

fn column_index(result: &QueryResult, names: &[&str]) -> Option<usize> {
    names.iter().find_map(|n| result.columns.iter().position(|c| c.name == *n))
}

fn text_of(value: &Value) -> String {
    match value {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// A text with `{Column}` placeholders (and Sentinel's `{{Column}}`), split
/// once per result into literal text and the columns it names; a name that
/// is not a column stays as written.
struct Template(Vec<TemplatePart>);

enum TemplatePart {
    Text(String),
    Column(usize),
}

impl Template {
    fn new(template: &str, result: &QueryResult) -> Template {
        let normalised = template.replace("{{", "{").replace("}}", "}");
        let mut parts = Vec::new();
        let mut text = String::new();
        let mut rest = normalised.as_str();
        while let Some(open) = rest.find('{') {
            text.push_str(&rest[..open]);
            let after = &rest[open + 1..];
            let column = after
                .find('}')
                .and_then(|close| result.columns.iter().position(|c| c.name == after[..close]).map(|i| (i, close)));
            match column {
                Some((i, close)) => {
                    parts.push(TemplatePart::Text(std::mem::take(&mut text)));
                    parts.push(TemplatePart::Column(i));
                    rest = &after[close + 1..];
                }
                None => {
                    text.push('{');
                    rest = after;
                }
            }
        }
        text.push_str(rest);
        parts.push(TemplatePart::Text(text));
        Template(parts)
    }

    /// The columns the template reads.
    fn columns(&self) -> impl Iterator<Item = usize> + '_ {
        self.0.iter().filter_map(|p| match p {
            TemplatePart::Column(i) => Some(*i),
            TemplatePart::Text(_) => None,
        })
    }

    /// The text with the row's values in place.
    fn fill(&self, row: &[Value]) -> String {
        let mut out = String::new();
        for part in &self.0 {
            match part {
                TemplatePart::Text(text) => out.push_str(text),
                TemplatePart::Column(i) => match &row[*i] {
                    Value::String(s) => out.push_str(s),
                    other => out.push_str(&text_of(other)),
                },
            }
        }
        out
    }
}

/// Maps result rows to findings through entity mappings, then
/// conventional column names.
pub fn findings_from(rule: &Rule, severity: Severity, result: &QueryResult) -> Vec<Finding> {
    let find = |mapped: Option<&str>, conventional: &[&str]| {
        mapped.and_then(|m| column_index(result, &[m])).or_else(|| column_index(result, conventional))
    };
    let account =
        find(rule.mapped_column("Account", &["Name", "FullName", "Sid", "AadUserId"]), rule::CONVENTIONAL_ACCOUNT);
    let domain = find(rule.mapped_column("Account", &["NTDomain", "UPNSuffix"]), rule::CONVENTIONAL_DOMAIN);
    let source = find(rule.mapped_column("IP", &["Address"]), rule::CONVENTIONAL_SOURCE);
    let targets = find(rule.mapped_column("Host", &["HostName", "FullName", "DnsDomain"]), rule::CONVENTIONAL_TARGETS);
    let count = column_index(result, rule::CONVENTIONAL_COUNT);
    let evidence = result.columns.iter().position(|c| c.name == EVIDENCE_COLUMN && c.ty == KqlType::Dynamic);
    let risk = column_index(result, rule::CONVENTIONAL_RISK);
    let datetime = |names: &[&str]| {
        names.iter().find_map(|n| result.columns.iter().position(|c| c.name == *n && c.ty == KqlType::Datetime))
    };
    let first = datetime(rule::CONVENTIONAL_FIRST).map(|i| datetime_column(result, i));
    let last = datetime(rule::CONVENTIONAL_LAST).map(|i| datetime_column(result, i));
    let reason_columns: Vec<usize> = (0..rule.finding_reasons.len())
        .filter_map(|i| column_index(result, &[&format!("{REASON_PREFIX}{i}")]))
        .collect();
    let reason_texts: Vec<Template> = rule.finding_reasons.iter().map(|r| Template::new(&r.reason, result)).collect();
    let display_name = rule.alert_display_name_format.as_deref().map(|f| Template::new(f, result));
    let description = rule.alert_description_format.as_deref().map(|f| Template::new(f, result));
    let custom_details: Vec<(&String, usize)> = (rule.custom_details.iter())
        .filter_map(|(key, column)| column_index(result, &[column]).map(|i| (key, i)))
        .collect();
    let conventional = ConventionalReasons::of(result);
    let mut read = vec![false; result.columns.len()];
    let templates = reason_texts.iter().chain(&display_name).chain(&description);
    for i in [account, domain, source, targets, count, risk, evidence]
        .into_iter()
        .flatten()
        .chain(reason_columns.iter().copied())
        .chain(templates.flat_map(Template::columns))
        .chain(custom_details.iter().map(|(_, i)| *i))
        .chain(conventional.columns().filter(|_| rule.finding_reasons.is_empty()))
    {
        read[i] = true;
    }
    // The details' keys in insertion order (a key given twice keeps its
    // first place and its last value, as inserting into a map does), and
    // the slot of each insertion.
    let mut details_keys = serde_json::Map::new();
    let inserted = (display_name.as_ref().map(|_| "AlertDisplayName"))
        .into_iter()
        .chain(description.as_ref().map(|_| "AlertDescription"))
        .chain(custom_details.iter().map(|(key, _)| key.as_str()));
    let detail_slots: Vec<usize> = inserted
        .map(|key| {
            details_keys.entry(key).or_insert(Value::Null);
            details_keys.keys().position(|k| k == key).expect("just inserted")
        })
        .collect();
    let (rule_id, rule_name): (Arc<str>, Arc<str>) = (rule.id.as_str().into(), rule.name.as_str().into());
    let techniques: Arc<[String]> = rule.techniques.as_slice().into();
    let finding = |r: usize, row: &[Value]| -> Finding {
        let account = match (account.map(|i| text_of(&row[i])), domain.map(|i| text_of(&row[i]))) {
            (Some(name), Some(domain)) if !domain.is_empty() && !name.contains('\\') && !name.contains('@') => {
                format!("{domain}\\{name}")
            }
            (Some(name), _) => name,
            (None, _) => String::new(),
        };
        let mut target_list: Vec<String> = match targets.map(|i| &row[i]) {
            Some(Value::Array(items)) => items.iter().map(text_of).filter(|s| !s.is_empty()).collect(),
            Some(v) if !text_of(v).is_empty() => vec![text_of(v)],
            _ => Vec::new(),
        };
        target_list.sort();
        target_list.dedup();
        let reasons = if rule.finding_reasons.is_empty() {
            conventional.reasons(row)
        } else {
            reason_texts
                .iter()
                .zip(&reason_columns)
                .filter(|(_, &i)| row[i] == Value::Bool(true))
                .map(|(reason, _)| reason.fill(row))
                .collect()
        };
        // The keys are laid out once (`details_keys`); a finding's values
        // go into their slots in the order they were inserted there.
        let mut details = details_keys.clone();
        let mut values: Vec<Value> = vec![Value::Null; details.len()];
        let mut slot = detail_slots.iter();
        if let Some(template) = &display_name {
            values[*slot.next().expect("a slot per detail")] = Value::String(template.fill(row));
        }
        if let Some(template) = &description {
            values[*slot.next().expect("a slot per detail")] = Value::String(template.fill(row));
        }
        for (_, i) in &custom_details {
            values[*slot.next().expect("a slot per detail")] = row[*i].clone();
        }
        for (to, value) in details.values_mut().zip(values) {
            *to = value;
        }
        Finding {
            rule_id: rule_id.clone(),
            rule_name: rule_name.clone(),
            severity,
            rule_severity: severity,
            techniques: techniques.clone(),
            account_forms: if account.is_empty() { Vec::new() } else { vec![account.clone()] },
            account,
            source: source.map(|i| text_of(&row[i])).unwrap_or_default(),
            targets: target_list,
            count: count.and_then(|i| row[i].as_u64()).unwrap_or(1),
            first_seen: first.as_ref().and_then(|c| c[r]),
            last_seen: last.as_ref().and_then(|c| c[r]),
            risk_score: risk.and_then(|i| row[i].as_i64()).unwrap_or(severity as i64),
            reasons,
            agreeing_rules: Vec::new(),
            details,
            evidence: evidence.map(|i| evidence_rows(&row[i])).unwrap_or_default(),
        }
    };
    // Batches in parallel (a rule can return hundreds of thousands of rows);
    // `r` counts rows across batches for the datetime columns read above.
    use rayon::prelude::*;
    let starts: Vec<usize> = result
        .batches
        .iter()
        .scan(0, |next, b| {
            let start = *next;
            *next += b.num_rows();
            Some(start)
        })
        .collect();
    let parts: Vec<Vec<Finding>> = result
        .batches
        .par_iter()
        .zip(starts)
        .map(|(batch, start)| {
            let mut text = String::new();
            (0..batch.num_rows()).map(|k| finding(start + k, &row_values(result, &read, batch, k, &mut text))).collect()
        })
        .collect();
    parts.into_iter().flatten().collect()
}

/// The result column whose value is a finding's evidence rows.
pub const EVIDENCE_COLUMN: &str = "Evidence";

/// A rule's `Evidence` cell as evidence rows: the objects of the array (a
/// single object is one row; anything else none), at most
/// [`crate::entity::EVIDENCE_CAP`].
fn evidence_rows(cell: &Value) -> Vec<serde_json::Map<String, Value>> {
    let items = match cell {
        Value::Array(items) => items.as_slice(),
        Value::Object(_) => std::slice::from_ref(cell),
        _ => &[],
    };
    (items.iter()).filter_map(|item| item.as_object().cloned()).take(crate::entity::EVIDENCE_CAP).collect()
}

/// Reasons from conventional columns, for rules without `findingReasons`:
/// the columns found once per result.
struct ConventionalReasons {
    after_hours: Option<usize>,
    privileged: Option<usize>,
    host_count: Option<usize>,
}

impl ConventionalReasons {
    fn of(result: &QueryResult) -> ConventionalReasons {
        ConventionalReasons {
            after_hours: column_index(result, &["IsAfterHours"]),
            privileged: column_index(result, &["IsPrivilegedAccount"]),
            host_count: column_index(result, &["TargetHostCount"]),
        }
    }

    fn columns(&self) -> impl Iterator<Item = usize> {
        [self.after_hours, self.privileged, self.host_count].into_iter().flatten()
    }

    fn reasons(&self, row: &[Value]) -> Vec<String> {
        let mut reasons = Vec::new();
        let flag = |column: Option<usize>| column.is_some_and(|i| row[i] == Value::Bool(true));
        if flag(self.after_hours) {
            reasons.push("after hours".to_string());
        }
        if flag(self.privileged) {
            reasons.push("privileged account".to_string());
        }
        if let Some(n) = self.host_count.and_then(|i| row[i].as_i64()) {
            if n > 1 {
                reasons.push(format!("multi-host spread ({n} hosts)"));
            }
        }
        reasons
    }
}

/// The tables with rows (or lazily read Parquet) after loading evidence.
pub fn tables_with_data(report: &crate::evidence::EvidenceReport) -> Vec<String> {
    // A table whose records were all left unread (no rule reads them) had data.
    let mut tables: Vec<String> =
        report.rows.iter().filter(|(t, &n)| n > 0 || report.lazy_tables.contains(*t)).map(|(t, _)| t.clone()).collect();
    tables.extend(report.unread_tables.iter().filter(|t| !tables.contains(t)).cloned().collect::<Vec<_>>());
    tables
}

/// Runs every rule of `rules`, an outcome per rule in their order. Sigma
/// detection rules run together, a query per logsource variant
/// ([`crate::sigma_plan`]); the others, and any Sigma rule that cannot
/// run in a group, run one by one ([`run_rule`]).
pub async fn hunt(
    session: &Session,
    rules: &RuleSet,
    tuning: &Tuning,
    tables_with_data: &[String],
    min_severity: Severity,
) -> Vec<RuleOutcome> {
    let mut outcomes = run_rules(session, rules, tuning, tables_with_data).await;
    finish(&mut outcomes, rules, min_severity);
    outcomes
}

/// The first half of [`hunt`]: every rule run, its findings as the rule
/// made them. A caller that frees the evidence before [`finish`] (a hunt
/// over a GiB of EVTX holds it in memory) keeps the two apart.
pub async fn run_rules(
    session: &Session,
    rules: &RuleSet,
    tuning: &Tuning,
    tables_with_data: &[String],
) -> Vec<RuleOutcome> {
    let all: Vec<&Rule> = rules.rules.iter().collect();
    let mut grouped = crate::sigma_plan::run_grouped(session, &all, tuning, tables_with_data).await;
    let alone: Vec<usize> = (0..all.len()).filter(|i| !grouped.contains_key(i)).collect();
    let mut ran =
        on_all_cores(alone.len(), |i| run_rule(session, all[alone[i]], tuning, tables_with_data)).await.into_iter();
    (0..all.len()).map(|i| grouped.remove(&i).unwrap_or_else(|| ran.next().expect("one outcome a rule"))).collect()
}

/// Stacks of the threads [`on_all_cores`] starts: as deep as the CLI's
/// query runtime gives its workers (binding and planning recurse once per
/// operator and expression).
const RULE_THREAD_STACK_BYTES: usize = 64 << 20;

/// The outputs of `make(0)` … `make(count - 1)`, in order, the futures run
/// on as many threads as cores when the runtime has several workers.
/// Binding and planning a rule are synchronous work of milliseconds
/// (DataFusion's analyzer and optimizer over tables of 228 columns): rules
/// run one after the other planned on one core while the other idled. On a
/// current-thread runtime (tests) they run one after the other.
async fn on_all_cores<T, F>(count: usize, make: impl Fn(usize) -> F + Sync) -> Vec<T>
where
    T: Send,
    F: std::future::Future<Output = T>,
{
    use tokio::runtime::{Handle, RuntimeFlavor};
    let handle = Handle::current();
    let threads = std::thread::available_parallelism().map_or(1, |n| n.get()).min(count);
    if threads <= 1 || handle.runtime_flavor() != RuntimeFlavor::MultiThread {
        let mut out = Vec::with_capacity(count);
        for i in 0..count {
            out.push(make(i).await);
        }
        return out;
    }
    let next = std::sync::atomic::AtomicUsize::new(0);
    let results: std::sync::Mutex<Vec<Option<T>>> = std::sync::Mutex::new((0..count).map(|_| None).collect());
    // This worker waits for the threads (block_in_place hands its other
    // tasks to the rest); each thread drives its futures with the runtime's
    // handle, so DataFusion's tasks spawn on the runtime as usual.
    tokio::task::block_in_place(|| {
        std::thread::scope(|scope| {
            for _ in 0..threads {
                let (handle, next, results, make) = (&handle, &next, &results, &make);
                let spawned =
                    std::thread::Builder::new().stack_size(RULE_THREAD_STACK_BYTES).spawn_scoped(scope, move || loop {
                        let i = next.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                        if i >= count {
                            break;
                        }
                        let value = handle.block_on(make(i));
                        results.lock().unwrap_or_else(|e| e.into_inner())[i] = Some(value);
                    });
                // Without a thread of its own, what is left runs on those started.
                if spawned.is_err() {
                    break;
                }
            }
        });
        // Should no thread have started, the rest run here.
        let mut results = results.lock().unwrap_or_else(|e| e.into_inner());
        for (i, slot) in results.iter_mut().enumerate() {
            if slot.is_none() {
                *slot = Some(handle.block_on(make(i)));
            }
        }
    });
    let results = results.into_inner().unwrap_or_else(|e| e.into_inner());
    results.into_iter().map(|r| r.expect("filled")).collect()
}

/// After all rules ran: one finding per rule, account and source, the
/// rules that agree and the severity they raise
/// ([`crate::entity::consolidate`]), then `min_severity` on the raised
/// severity.
pub fn finish(outcomes: &mut [RuleOutcome], rules: &RuleSet, min_severity: Severity) {
    crate::entity::consolidate(outcomes, &rules.rules);
    for outcome in outcomes {
        outcome.findings.retain(|f| f.severity >= min_severity);
    }
}

/// [`hunt`] with every rule run on its own: the reference the grouped run
/// of Sigma rules is tested against.
pub async fn hunt_each_rule(
    session: &Session,
    rules: &RuleSet,
    tuning: &Tuning,
    tables_with_data: &[String],
    min_severity: Severity,
) -> Vec<RuleOutcome> {
    let mut outcomes = Vec::new();
    for rule in &rules.rules {
        outcomes.push(run_rule(session, rule, tuning, tables_with_data).await);
    }
    finish(&mut outcomes, rules, min_severity);
    outcomes
}

/// All findings of a hunt, most severe and riskiest first, moved out of
/// the outcomes (a hunt can make hundreds of thousands: no copies).
pub fn sorted_findings(outcomes: &mut [RuleOutcome]) -> Vec<Finding> {
    use rayon::prelude::*;
    let findings: Vec<Finding> = outcomes.iter_mut().flat_map(|o| std::mem::take(&mut o.findings)).collect();
    // An order of indexes, sorted on all cores, then each finding moved once:
    // a finding is a few hundred bytes, too big to move at every step of a sort.
    // The keys are copied out so that comparing stays in cache; the index
    // last keeps equal findings in their order.
    use std::cmp::Reverse;
    let mut keys: Vec<_> = findings
        .iter()
        .enumerate()
        .map(|(i, f)| {
            (Reverse(f.severity), Reverse(f.risk_score), Reverse(f.targets.len()), f.first_seen, f.account.as_str(), i)
        })
        .collect();
    keys.par_sort_unstable();
    let order: Vec<usize> = keys.into_iter().map(|k| k.5).collect();
    let mut slots: Vec<Option<Finding>> = findings.into_iter().map(Some).collect();
    order.into_iter().filter_map(|i| slots[i].take()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use kqlite_engine::ColumnDef;

    #[test]
    fn templates_fill_columns_once_and_leave_other_braces() {
        let result = QueryResult::single(
            vec![ColumnDef::new("Account", KqlType::String), ColumnDef::new("Hosts", KqlType::Long)],
            Vec::new(),
        );
        let template = Template::new("{{Account}} reached {Hosts} hosts {Unknown} {", &result);
        let row = [Value::String("CORP\\{Hosts}".into()), Value::from(3)];
        // A value holding a placeholder is not filled again.
        assert_eq!(template.fill(&row), "CORP\\{Hosts} reached 3 hosts {Unknown} {");
    }
}
