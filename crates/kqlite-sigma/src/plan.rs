//! A compiled Sigma rule in pieces, variant by variant, for running many
//! rules in one query per logsource variant (`kqlite-detect`'s grouped
//! hunt): the variant's table and fixed conditions, the rule's own
//! predicate, the expressions through which it reads fields, and the
//! expressions of the fields its findings show.
//!
//! Every piece is the text [`crate::compile`] writes into the rule's own
//! query, made by the same code, so the grouped and the per-rule paths
//! cannot drift apart.

use crate::compile::{fields_read, ConditionCompiler, VariantFields, EVENT_COLUMNS};
use crate::error::{Unsupported, UnsupportedReason};
use crate::mapping::{Mapping, Target};
use crate::predicate::{self, join, FieldResolver, Placeholders};
use rsigma_parser::{DetectionItem, FieldSpec, SigmaRule};
use std::collections::{BTreeMap, BTreeSet};

/// A detection rule's pieces, one per logsource variant.
#[derive(Clone, Debug, PartialEq)]
pub struct RulePlan {
    /// The rule's id, or its title when it has none (as [`crate::CompiledRule::id`]).
    pub id: String,
    pub variants: Vec<VariantPlan>,
}

/// One variant of a rule: its rows are those of `table` where `fixed` and
/// `predicate` hold.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantPlan {
    /// The table the variant reads.
    pub table: String,
    /// The variant's own conditions (channel, EventID); `true` when none.
    pub fixed: String,
    /// The rule's condition over the table's columns. The expressions of
    /// `reads` appear in it exactly as written there.
    pub predicate: String,
    /// The expressions that extract a field's value, its text or its
    /// presence, and the keyword text: what a caller may compute once for
    /// many rules and put in place of their occurrences in `predicate`.
    pub reads: Vec<String>,
    /// The event columns every compiled query projects: (name, expression).
    pub event_columns: Vec<(String, String)>,
    /// The fields the rule's query projects: (Sigma name, expression of
    /// its text), `""` where the table cannot have the field.
    pub fields: Vec<(String, String)>,
}

/// Plans one detection rule for `target`, expanding `expand` placeholders
/// from `placeholders` and projecting `extra_fields` besides the fields the
/// rule reads, as [`crate::compile_rule_projecting`] compiles it.
pub fn plan_rule(
    rule: &SigmaRule,
    mapping: &Mapping,
    target: Target,
    placeholders: &Placeholders,
    extra_fields: &[String],
) -> Result<RulePlan, Unsupported> {
    let id = rule.id.clone().unwrap_or_else(|| rule.title.clone());
    let unsupported = |reason| Unsupported { rule: id.clone(), reason };
    let variants = mapping.variants(&rule.logsource, target).map_err(unsupported)?;
    if rule.detection.conditions.is_empty() {
        return Err(unsupported(UnsupportedReason::Condition("the rule has no condition".into())));
    }
    let mut read = BTreeSet::new();
    for detection in rule.detection.named.values() {
        fields_read(detection, &mut read);
    }
    let mut projected: Vec<String> = read.iter().cloned().collect();
    for extra in extra_fields {
        if !projected.contains(extra) {
            projected.push(extra.clone());
        }
    }
    projected.retain(|f| !EVENT_COLUMNS.contains(&f.as_str()));

    let mut planned = Vec::new();
    for variant in variants {
        let table = mapping
            .table(&variant.table)
            .ok_or_else(|| unsupported(UnsupportedReason::Other(format!("table {} is not mapped", variant.table))))?;
        let reader = VariantFields { table, variant };
        let mut fixed = Vec::new();
        for (field, values) in &variant.conditions {
            let item = DetectionItem { field: FieldSpec::new(Some(field.clone()), Vec::new()), values: values.clone() };
            fixed.push(predicate::field_item(field, &item, &reader, placeholders).map_err(unsupported)?);
        }
        let mut compiler = ConditionCompiler { rule, reader: &reader, placeholders, compiled: BTreeMap::new() };
        let mut any = Vec::new();
        for condition in &rule.detection.conditions {
            any.push(compiler.condition(condition).map_err(unsupported)?);
        }
        let mut reads = Vec::new();
        for field in read.iter().filter_map(|name| reader.field(name).ok()) {
            reads.extend([field.text(), field.value, field.presence]);
        }
        reads.extend(reader.keyword_text().ok().map(|k| k.text));
        reads.sort();
        reads.dedup();
        let event_columns = (EVENT_COLUMNS.iter())
            .map(|c| (c.to_string(), table.event_columns.get(*c).cloned().unwrap_or_else(|| c.to_string())))
            .collect();
        // As `compile` projects them: a field the table cannot have is empty.
        let fields = (projected.iter())
            .map(|name| (name.clone(), reader.field(name).map(|f| f.text()).unwrap_or_else(|_| "\"\"".to_string())))
            .collect();
        planned.push(VariantPlan {
            table: variant.table.clone(),
            fixed: join(fixed, "and"),
            predicate: join(any, "or"),
            reads,
            event_columns,
            fields,
        });
    }
    Ok(RulePlan { id, variants: planned })
}
