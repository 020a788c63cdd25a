//! Compiling a Sigma detection rule to one KQL query: each variant of the
//! rule's logsource (a table and its conditions) filtered by the rule's
//! condition, projected to the same columns, and the variants unioned.
//!
//! Keywords (field-less values) search the whole event's text: for
//! WindowsEvent `tostring(EventData)`, the bag as JSON (so a keyword is
//! JSON-escaped before it is looked for, and it can match a field's name
//! as well as its value); for SecurityEvent the EventData XML (keywords
//! XML-escaped); for Syslog the message.

use crate::error::{Unsupported, UnsupportedReason};
use crate::mapping::{ColumnKind, FieldSource, Mapping, Table, Target, Variant};
use crate::predicate::{
    self, join, kql_string, FieldExpr, FieldResolver, KeywordText, Placeholders, TextEscape, ValueKind,
};
use rsigma_parser::{
    ConditionExpr, Detection, DetectionItem, FieldSpec, FilterRule, FilterRuleTarget, Quantifier, SelectorPattern,
    SigmaRule,
};
use std::collections::{BTreeMap, BTreeSet};

/// A Sigma rule compiled to KQL.
#[derive(Clone, Debug, PartialEq)]
pub struct CompiledRule {
    /// The rule's id, or its title when it has none.
    pub id: String,
    pub title: String,
    /// The KQL: one row per matching event, with `TimeGenerated`,
    /// `Computer`, `Channel`, `EventID`, `EventRecordId` and the rule's
    /// fields under their Sigma names.
    pub query: String,
    /// The tables the query reads.
    pub tables: Vec<String>,
}

/// The columns every compiled query starts with.
pub(crate) const EVENT_COLUMNS: [&str; 5] = ["TimeGenerated", "Computer", "Channel", "EventID", "EventRecordId"];

/// Compiles one detection rule for `target`.
pub fn compile_rule(rule: &SigmaRule, mapping: &Mapping, target: Target) -> Result<CompiledRule, Unsupported> {
    compile_rule_projecting(rule, mapping, target, &Placeholders::new(), &[])
}

/// Compiles one detection rule for `target`, expanding `expand` placeholders
/// from `placeholders` and projecting `extra_fields` (Sigma names, e.g. a
/// correlation's group-by fields) besides the fields the rule reads.
pub fn compile_rule_projecting(
    rule: &SigmaRule,
    mapping: &Mapping,
    target: Target,
    placeholders: &Placeholders,
    extra_fields: &[String],
) -> Result<CompiledRule, Unsupported> {
    let id = rule.id.clone().unwrap_or_else(|| rule.title.clone());
    let unsupported = |reason| Unsupported { rule: id.clone(), reason };
    let variants = mapping.variants(&rule.logsource, target).map_err(unsupported)?;
    let mut fields = BTreeSet::new();
    for detection in rule.detection.named.values() {
        fields_read(detection, &mut fields);
    }
    let mut projected: Vec<String> = fields.into_iter().collect();
    for extra in extra_fields {
        if !projected.contains(extra) {
            projected.push(extra.clone());
        }
    }
    projected.retain(|f| !EVENT_COLUMNS.contains(&f.as_str()));

    let mut queries = Vec::new();
    let mut tables = Vec::new();
    for variant in variants {
        let table = mapping
            .table(&variant.table)
            .ok_or_else(|| unsupported(UnsupportedReason::Other(format!("table {} is not mapped", variant.table))))?;
        let reader = VariantFields { table, variant };
        let query = variant_query(rule, &reader, placeholders, &projected).map_err(unsupported)?;
        queries.push(query);
        if !tables.contains(&variant.table) {
            tables.push(variant.table.clone());
        }
    }
    let query = if queries.len() == 1 {
        queries.remove(0)
    } else {
        let parts: Vec<String> = queries.iter().map(|q| format!("({})", q.replace('\n', "\n    "))).collect();
        format!("union\n    {}", parts.join(",\n    "))
    };
    Ok(CompiledRule { id, title: rule.title.clone(), query, tables })
}

/// `rule` with every filter that targets it applied: the rule matches only
/// where every such filter's condition holds too. The condition is ANDed as
/// written, as pySigma (Sigma's reference implementation) and rsigma do, so
/// an exclusion is written `condition: not selection`. A filter targets a
/// rule it names (by id, name or title), or, naming none, every rule of its
/// logsource.
pub fn apply_filters(rule: &SigmaRule, filters: &[FilterRule]) -> SigmaRule {
    let mut rule = rule.clone();
    let mut required = Vec::new();
    for (i, filter) in filters.iter().enumerate() {
        let targets = match &filter.rules {
            FilterRuleTarget::Any => filter.logsource.as_ref().is_some_and(|l| {
                l.product == rule.logsource.product
                    && l.category == rule.logsource.category
                    && l.service == rule.logsource.service
            }),
            FilterRuleTarget::Specific(names) => names.iter().any(|n| {
                rule.id.as_deref() == Some(n.as_str()) || rule.name.as_deref() == Some(n.as_str()) || rule.title == *n
            }),
        };
        if !targets {
            continue;
        }
        // The filter's detections are renamed so they clash with none of
        // the rule's, and start with `_` so the rule's `them` leaves them out.
        let prefix = format!("_kqlite_filter{i}_");
        for (name, detection) in &filter.detection.named {
            rule.detection.named.insert(format!("{prefix}{name}"), detection.clone());
        }
        let conditions: Vec<ConditionExpr> = filter.detection.conditions.iter().map(|c| prefixed(c, &prefix)).collect();
        required.push(if conditions.len() == 1 { conditions[0].clone() } else { ConditionExpr::Or(conditions) });
    }
    if !required.is_empty() {
        rule.detection.conditions = (rule.detection.conditions.iter())
            .map(|c| ConditionExpr::And(std::iter::once(c.clone()).chain(required.iter().cloned()).collect()))
            .collect();
    }
    rule
}

fn prefixed(condition: &ConditionExpr, prefix: &str) -> ConditionExpr {
    match condition {
        ConditionExpr::And(v) => ConditionExpr::And(v.iter().map(|c| prefixed(c, prefix)).collect()),
        ConditionExpr::Or(v) => ConditionExpr::Or(v.iter().map(|c| prefixed(c, prefix)).collect()),
        ConditionExpr::Not(c) => ConditionExpr::Not(Box::new(prefixed(c, prefix))),
        ConditionExpr::Identifier(name) => ConditionExpr::Identifier(format!("{prefix}{name}")),
        ConditionExpr::Selector { quantifier, pattern } => ConditionExpr::Selector {
            quantifier: quantifier.clone(),
            pattern: SelectorPattern::Pattern(match pattern {
                SelectorPattern::Them => format!("{prefix}*"),
                SelectorPattern::Pattern(p) => format!("{prefix}{p}"),
            }),
        },
    }
}

/// The Sigma fields a detection reads (fieldref targets included).
pub(crate) fn fields_read(detection: &Detection, out: &mut BTreeSet<String>) {
    match detection {
        Detection::AllOf(items) => {
            for item in items {
                if let Some(name) = &item.field.name {
                    out.insert(name.clone());
                    if item.field.has_modifier(rsigma_parser::Modifier::FieldRef) {
                        for v in &item.values {
                            if let rsigma_parser::SigmaValue::String(s) = v {
                                out.insert(s.original.clone());
                            }
                        }
                    }
                }
            }
        }
        Detection::AnyOf(v) | Detection::And(v) => v.iter().for_each(|d| fields_read(d, out)),
        Detection::Keywords(_) | Detection::ArrayMatch { .. } | Detection::Conditional { .. } => {}
    }
}

/// The query of one variant.
fn variant_query(
    rule: &SigmaRule,
    reader: &VariantFields<'_>,
    placeholders: &Placeholders,
    projected: &[String],
) -> Result<String, UnsupportedReason> {
    let mut compiler = ConditionCompiler { rule, reader, placeholders, compiled: BTreeMap::new() };
    let mut conditions = Vec::new();
    for (field, values) in &reader.variant.conditions {
        let item = DetectionItem { field: FieldSpec::new(Some(field.clone()), Vec::new()), values: values.clone() };
        conditions.push(predicate::field_item(field, &item, reader, placeholders)?);
    }
    if rule.detection.conditions.is_empty() {
        return Err(UnsupportedReason::Condition("the rule has no condition".into()));
    }
    let mut any = Vec::new();
    for condition in &rule.detection.conditions {
        any.push(compiler.condition(condition)?);
    }
    conditions.push(join(any, "or"));
    let table = reader.table;
    let mut query = format!("{}\n| where {}", table.name, join(conditions, "and"));
    // Sigma names are computed into temporaries first, then projected, so
    // a field renamed to a column another field is named after (4688's
    // ProcessId is Sysmon's ParentProcessId) reads the table's column.
    let mut temporaries = Vec::new();
    let mut columns: Vec<String> = EVENT_COLUMNS
        .iter()
        .map(|c| match table.event_columns.get(*c) {
            Some(expr) => format!("{c} = {expr}"),
            None => c.to_string(),
        })
        .collect();
    for (i, name) in projected.iter().enumerate() {
        let value = match reader.field(name) {
            Ok(f) => f.text(),
            // A requested field the table cannot have: empty, as absent.
            Err(_) => "\"\"".to_string(),
        };
        temporaries.push(format!("_sigma{i} = {value}"));
        columns.push(format!("{} = _sigma{i}", column_name(name)));
    }
    if !temporaries.is_empty() {
        query.push_str(&format!("\n| extend {}", temporaries.join(", ")));
    }
    query.push_str(&format!("\n| project {}", columns.join(", ")));
    Ok(query)
}

/// A name as a KQL column: bracketed unless it is a plain identifier.
pub fn column_name(name: &str) -> String {
    let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.chars().any(|c| c.is_ascii_uppercase());
    if plain {
        name.to_string()
    } else {
        format!("['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))
    }
}

pub(crate) struct ConditionCompiler<'a> {
    pub(crate) rule: &'a SigmaRule,
    pub(crate) reader: &'a VariantFields<'a>,
    pub(crate) placeholders: &'a Placeholders,
    /// Each named detection's predicate, compiled once.
    pub(crate) compiled: BTreeMap<String, String>,
}

impl ConditionCompiler<'_> {
    pub(crate) fn condition(&mut self, condition: &ConditionExpr) -> Result<String, UnsupportedReason> {
        Ok(match condition {
            ConditionExpr::And(v) => join(v.iter().map(|c| self.condition(c)).collect::<Result<_, _>>()?, "and"),
            ConditionExpr::Or(v) => join(v.iter().map(|c| self.condition(c)).collect::<Result<_, _>>()?, "or"),
            ConditionExpr::Not(c) => format!("not({})", self.condition(c)?),
            ConditionExpr::Identifier(name) => self.named(name)?,
            ConditionExpr::Selector { quantifier, pattern } => {
                let names: Vec<String> = self
                    .rule
                    .detection
                    .named
                    .keys()
                    .filter(|n| pattern.matches_detection_name(n))
                    .cloned()
                    .collect::<BTreeSet<_>>()
                    .into_iter()
                    .collect();
                if names.is_empty() {
                    return Err(UnsupportedReason::Condition(format!(
                        "`{quantifier} of {pattern}` names no detection"
                    )));
                }
                let tests = names.iter().map(|n| self.named(n)).collect::<Result<Vec<_>, _>>()?;
                match quantifier {
                    Quantifier::Any => join(tests, "or"),
                    Quantifier::All => join(tests, "and"),
                    Quantifier::Count(n) => {
                        let sum: Vec<String> = tests.iter().map(|t| format!("iff({t}, 1, 0)")).collect();
                        format!("({} >= {n})", sum.join(" + "))
                    }
                }
            }
        })
    }

    fn named(&mut self, name: &str) -> Result<String, UnsupportedReason> {
        if let Some(done) = self.compiled.get(name) {
            return Ok(done.clone());
        }
        let detection = self.rule.detection.named.get(name).ok_or_else(|| {
            UnsupportedReason::Condition(format!("the condition names {name}, which is not a detection"))
        })?;
        let predicate = self.detection(detection)?;
        self.compiled.insert(name.to_string(), predicate.clone());
        Ok(predicate)
    }

    fn detection(&self, detection: &Detection) -> Result<String, UnsupportedReason> {
        Ok(match detection {
            Detection::AllOf(items) => {
                let mut all = Vec::new();
                for item in items {
                    all.push(match &item.field.name {
                        Some(name) => predicate::field_item(name, item, self.reader, self.placeholders)?,
                        None => predicate::keyword_item(
                            &item.field.modifiers,
                            &item.values,
                            &self.reader.keyword_text()?,
                            self.placeholders,
                        )?,
                    });
                }
                join(all, "and")
            }
            Detection::AnyOf(v) => join(v.iter().map(|d| self.detection(d)).collect::<Result<_, _>>()?, "or"),
            Detection::And(v) => join(v.iter().map(|d| self.detection(d)).collect::<Result<_, _>>()?, "and"),
            Detection::Keywords(values) => {
                predicate::keyword_item(&[], values, &self.reader.keyword_text()?, self.placeholders)?
            }
            Detection::ArrayMatch { field, .. } => {
                return Err(UnsupportedReason::Condition(format!("array matching over {field}")));
            }
            Detection::Conditional { .. } => {
                return Err(UnsupportedReason::Condition("array matching with a condition".into()));
            }
        })
    }
}

/// How one variant reads Sigma fields.
pub(crate) struct VariantFields<'a> {
    pub(crate) table: &'a Table,
    pub(crate) variant: &'a Variant,
}

impl VariantFields<'_> {
    fn column(&self, column: &str) -> Option<FieldExpr> {
        let kind = *self.table.columns.get(column)?;
        let name = column_name_any(column);
        Some(match kind {
            ColumnKind::Text => {
                FieldExpr { value: name.clone(), kind: ValueKind::Text, presence: format!("isnotempty({name})") }
            }
            ColumnKind::Number => {
                FieldExpr { value: name.clone(), kind: ValueKind::Number, presence: format!("isnotnull({name})") }
            }
            ColumnKind::Datetime => {
                FieldExpr { value: name.clone(), kind: ValueKind::Datetime, presence: format!("isnotnull({name})") }
            }
            ColumnKind::Bool | ColumnKind::Other => FieldExpr {
                value: format!("tostring({name})"),
                kind: ValueKind::Text,
                presence: format!("isnotempty(tostring({name}))"),
            },
        })
    }

    pub(crate) fn keyword_text(&self) -> Result<KeywordText, UnsupportedReason> {
        Ok(match self.variant.read {
            FieldSource::EventData => KeywordText { text: "tostring(EventData)".into(), escape: TextEscape::Json },
            FieldSource::SecurityEventData => KeywordText { text: "EventData".into(), escape: TextEscape::Xml },
            FieldSource::SyslogSysmonXml => KeywordText { text: "SyslogMessage".into(), escape: TextEscape::Xml },
            FieldSource::SyslogKeyValue => KeywordText { text: "SyslogMessage".into(), escape: TextEscape::None },
            FieldSource::Columns => match &self.table.keywords {
                Some(column) => KeywordText { text: column_name_any(column), escape: TextEscape::None },
                None => {
                    return Err(UnsupportedReason::Condition(format!(
                        "keywords: table {} has no full-text column",
                        self.table.name
                    )));
                }
            },
        })
    }
}

/// A column name as KQL, bracketed where it is not an identifier.
fn column_name_any(name: &str) -> String {
    if name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    {
        name.to_string()
    } else {
        format!("['{name}']")
    }
}

/// `extract(@'<Data Name="F">([^<]*)<', 1, text)`, its XML entities
/// replaced by the characters they stand for (rules match the event's
/// value: a task's XML in 4702's TaskContentNew is `&lt;Command&gt;` in the
/// text), and its presence test.
fn xml_data(name: &str, text: &str) -> FieldExpr {
    let element = format!("<Data Name=\"{name}\"");
    let pattern = format!("{}>([^<]*)<", regex::escape(&element));
    let mut value = format!("extract({}, 1, {text})", kql_string(&pattern));
    // `&amp;` last, so `&amp;lt;` becomes `&lt;`, as an XML reader reads it.
    for (entity, character) in [("&lt;", "<"), ("&gt;", ">"), ("&quot;", "\""), ("&apos;", "'"), ("&amp;", "&")] {
        value = format!("replace_string({value}, {}, {})", kql_string(entity), kql_string(character));
    }
    FieldExpr { value, kind: ValueKind::Text, presence: format!("{text} contains_cs {}", kql_string(&element)) }
}

impl FieldResolver for VariantFields<'_> {
    fn field(&self, name: &str) -> Result<FieldExpr, UnsupportedReason> {
        let renamed = self.variant.fields.get(name);
        if let Some(column) = renamed.or_else(|| self.table.fields.get(name)) {
            if let Some(f) = self.column(column) {
                return Ok(f);
            }
        }
        let target = renamed.map(String::as_str).unwrap_or(name);
        match self.variant.read {
            FieldSource::Columns => self.column(target).ok_or_else(|| {
                UnsupportedReason::Field(format!("{name}: table {} has no such column", self.table.name))
            }),
            FieldSource::EventData => {
                let member = format!("EventData[\"{}\"]", target.replace('\\', "\\\\").replace('"', "\\\""));
                // Unnamed <Data> elements are the array `EventData.Data`; Sigma
                // reads them as one text, the values on lines of their own
                // (as Zircolite and the sigma-oracle do), not as JSON, whose
                // escaped backslashes `\\` would match a rule's UNC `\\`.
                let value = if target == "Data" {
                    format!("iff(gettype({member}) == \"array\", strcat_array({member}, \"\\n\"), tostring({member}))")
                } else {
                    format!("tostring({member})")
                };
                Ok(FieldExpr { value, kind: ValueKind::Text, presence: format!("isnotnull({member})") })
            }
            FieldSource::SecurityEventData => {
                if !self.table.computed.contains(target) {
                    if let Some(f) = self.column(target) {
                        return Ok(f);
                    }
                }
                Ok(xml_data(target, "EventData"))
            }
            FieldSource::SyslogSysmonXml => {
                if name == "EventID" {
                    return Ok(FieldExpr {
                        value: "extract(@'<EventID>(\\d+)<', 1, SyslogMessage)".into(),
                        kind: ValueKind::Text,
                        presence: "SyslogMessage contains_cs '<EventID>'".into(),
                    });
                }
                if let Some(f) = self.column(target) {
                    return Ok(f);
                }
                Ok(xml_data(target, "SyslogMessage"))
            }
            FieldSource::SyslogKeyValue => {
                if let Some(f) = self.column(target) {
                    return Ok(f);
                }
                let key = regex::escape(target);
                Ok(FieldExpr {
                    value: format!(
                        "extract({}, 1, SyslogMessage)",
                        kql_string(&format!("(?:^|\\s){key}=\"?([^\"\\s]*)"))
                    ),
                    kind: ValueKind::Text,
                    presence: format!("SyslogMessage matches regex {}", kql_string(&format!("(?:^|\\s){key}="))),
                })
            }
        }
    }
}
