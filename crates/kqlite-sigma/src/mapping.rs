//! Where a Sigma logsource's events live in Sentinel's tables, and what
//! Sigma's field names are called there. The built-in mapping is
//! `mappings/sentinel.yml` (its header documents the format); users pass
//! their own file to override entries of it.

use crate::error::{SigmaError, UnsupportedReason};
use rsigma_parser::{LogSource, SigmaString, SigmaValue};
use serde::Deserialize;
use std::collections::{BTreeMap, BTreeSet};

/// The built-in mapping's text.
const BUILTIN: &str = include_str!("../mappings/sentinel.yml");

/// Which product's tables the KQL reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Target {
    /// Sentinel's Log Analytics tables (SecurityEvent, WindowsEvent, Syslog, …).
    #[default]
    Sentinel,
    /// Defender XDR's advanced-hunting tables (DeviceProcessEvents, …).
    Defender,
}

/// How a field that is not renamed to a column is read from a row.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FieldSource {
    /// A member of the dynamic `EventData` bag (WindowsEvent).
    EventData,
    /// The column of the field's name, else the `<Data Name="F">` element of
    /// the `EventData` XML text (SecurityEvent).
    SecurityEventData,
    /// A `<Data Name="F">` element of the Sysmon-for-Linux XML in `SyslogMessage`.
    SyslogSysmonXml,
    /// A `key=value` pair of an auditd record in `SyslogMessage`.
    SyslogKeyValue,
    /// Only the table's columns; any other field cannot be read.
    Columns,
}

/// The type of a column, as far as comparing values needs to know.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ColumnKind {
    Text,
    Number,
    Bool,
    Datetime,
    /// `dynamic`, `guid` and other types read as text through `tostring`.
    Other,
}

/// One table the mapping reads.
#[derive(Clone, Debug)]
pub struct Table {
    pub name: String,
    /// How fields are read unless a variant says otherwise.
    pub read: FieldSource,
    /// The table's columns and their kinds.
    pub columns: BTreeMap<String, ColumnKind>,
    /// Columns Sentinel computes, which are not the event's own fields.
    pub computed: BTreeSet<String>,
    /// Sigma field → column, on every variant over this table.
    pub fields: BTreeMap<String, String>,
    /// With [`FieldSource::Columns`]: the column keyword detections search.
    pub keywords: Option<String>,
    /// KQL for the finding columns (`Computer`, `Channel`, `EventID`,
    /// `EventRecordId`) the table has no column of that name for.
    pub event_columns: BTreeMap<String, String>,
}

/// One place a logsource's events are: a table, the conditions selecting
/// them there, and field names.
#[derive(Clone, Debug)]
pub struct Variant {
    pub table: String,
    pub read: FieldSource,
    /// Sigma field → values (any of them), ANDed: `Channel`, `EventID`, ….
    pub conditions: Vec<(String, Vec<SigmaValue>)>,
    /// Sigma field → column or EventData member name.
    pub fields: BTreeMap<String, String>,
}

/// The variants of one logsource for one target.
#[derive(Clone, Debug)]
struct Entry {
    product: Option<String>,
    category: Option<String>,
    service: Option<String>,
    target: Target,
    variants: Vec<Variant>,
}

impl Entry {
    fn matches(&self, logsource: &LogSource, target: Target) -> bool {
        let same = |a: &Option<String>, b: &Option<String>| match (a, b) {
            (Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            (None, None) => true,
            _ => false,
        };
        self.target == target
            && same(&self.product, &logsource.product)
            && same(&self.category, &logsource.category)
            && same(&self.service, &logsource.service)
    }

    fn same_logsource(&self, other: &Entry) -> bool {
        let logsource = LogSource {
            product: other.product.clone(),
            category: other.category.clone(),
            service: other.service.clone(),
            ..LogSource::default()
        };
        self.matches(&logsource, other.target)
    }
}

/// A logsource mapping.
#[derive(Clone, Debug)]
pub struct Mapping {
    tables: BTreeMap<String, Table>,
    entries: Vec<Entry>,
}

impl Mapping {
    /// kqlite's built-in mapping.
    pub fn builtin() -> Mapping {
        let file = parse_file(BUILTIN, "mappings/sentinel.yml").expect("the built-in mapping parses");
        let mut mapping = Mapping { tables: BTreeMap::new(), entries: Vec::new() };
        mapping.layer(file, "mappings/sentinel.yml").expect("the built-in mapping is consistent");
        mapping
    }

    /// A user's mapping file layered over the built-in one: its tables and
    /// logsources replace the built-in ones of the same name or logsource.
    /// `path` names the file in errors.
    pub fn parse(text: &str, path: &str) -> Result<Mapping, SigmaError> {
        let file = parse_file(text, path)?;
        let mut mapping = Mapping::builtin();
        mapping.layer(file, path)?;
        Ok(mapping)
    }

    /// The variants of `logsource` for `target`.
    pub fn variants(&self, logsource: &LogSource, target: Target) -> Result<&[Variant], UnsupportedReason> {
        self.entries
            .iter()
            .find(|e| e.matches(logsource, target))
            .map(|e| e.variants.as_slice())
            .ok_or_else(|| UnsupportedReason::Logsource(describe(logsource, target)))
    }

    /// A table the mapping reads.
    pub fn table(&self, name: &str) -> Option<&Table> {
        self.tables.get(name)
    }

    fn layer(&mut self, file: MappingFile, path: &str) -> Result<(), SigmaError> {
        let error = |message: String| SigmaError::Mapping { path: path.to_string(), message };
        for (name, t) in file.tables {
            let table = self.tables.get(&name);
            let read =
                t.read.or(table.map(|t| t.read)).ok_or_else(|| error(format!("table {name}: expected `read`")))?;
            let columns = match t.columns {
                Some(text) => parse_columns(&text).map_err(|m| error(format!("table {name}: {m}")))?,
                None => table
                    .map(|t| t.columns.clone())
                    .ok_or_else(|| error(format!("table {name}: expected `columns` (name:type …)")))?,
            };
            let table = Table {
                name: name.clone(),
                read,
                columns,
                computed: t.computed.into_iter().collect(),
                fields: t.fields,
                keywords: t.keywords,
                event_columns: t.event_columns,
            };
            self.tables.insert(name, table);
        }
        let mut entries = Vec::new();
        for (i, e) in file.logsources.into_iter().enumerate() {
            let mut variants = Vec::new();
            for (j, v) in e.variants.into_iter().enumerate() {
                let place = format!("logsources[{i}].variants[{j}]");
                let table = self
                    .tables
                    .get(&v.table)
                    .ok_or_else(|| error(format!("{place}: table {} is not in `tables`", v.table)))?;
                let mut conditions = Vec::new();
                for (field, values) in v.conditions {
                    let values = values
                        .into_list()
                        .iter()
                        .map(condition_value)
                        .collect::<Result<Vec<_>, _>>()
                        .map_err(|m| error(format!("{place}: condition {field}: {m}")))?;
                    conditions.push((field, values));
                }
                variants.push(Variant {
                    table: v.table,
                    read: v.read.unwrap_or(table.read),
                    conditions,
                    fields: v.fields,
                });
            }
            if variants.is_empty() {
                return Err(error(format!("logsources[{i}]: expected at least one variant")));
            }
            entries.push(Entry {
                product: e.product,
                category: e.category,
                service: e.service,
                target: e.target,
                variants,
            });
        }
        // A later file's entry replaces an earlier one for the same logsource.
        self.entries.retain(|old| !entries.iter().any(|new| new.same_logsource(old)));
        self.entries.extend(entries);
        Ok(())
    }
}

/// `product/category/service (target)`, for a rejection's reason.
fn describe(logsource: &LogSource, target: Target) -> String {
    let part = |p: &Option<String>| p.clone().unwrap_or_else(|| "-".into());
    let target = match target {
        Target::Sentinel => "sentinel",
        Target::Defender => "defender",
    };
    format!(
        "product={} category={} service={} ({target})",
        part(&logsource.product),
        part(&logsource.category),
        part(&logsource.service)
    )
}

fn parse_file(text: &str, path: &str) -> Result<MappingFile, SigmaError> {
    serde_norway::from_str(text).map_err(|e| SigmaError::Mapping {
        path: path.to_string(),
        message: format!("expected a mapping with `tables` and `logsources`: {e}"),
    })
}

/// `name:type name:type …`.
fn parse_columns(text: &str) -> Result<BTreeMap<String, ColumnKind>, String> {
    text.split_whitespace()
        .map(|c| {
            let (name, ty) = c.split_once(':').ok_or_else(|| format!("expected name:type, found {c:?}"))?;
            let kind = match ty {
                "string" => ColumnKind::Text,
                "int" | "long" | "real" | "double" | "decimal" => ColumnKind::Number,
                "bool" | "boolean" => ColumnKind::Bool,
                "datetime" | "date" => ColumnKind::Datetime,
                "dynamic" | "guid" | "timespan" => ColumnKind::Other,
                _ => return Err(format!("column {name}: unknown type {ty:?}")),
            };
            Ok((name.to_string(), kind))
        })
        .collect()
}

fn condition_value(value: &serde_norway::Value) -> Result<SigmaValue, String> {
    match value {
        // Literal text: channel names are not wildcard patterns.
        serde_norway::Value::String(s) => Ok(SigmaValue::String(SigmaString::from_raw(s))),
        serde_norway::Value::Number(n) => {
            n.as_i64().map(SigmaValue::Integer).ok_or_else(|| format!("expected an integer, found {n}"))
        }
        serde_norway::Value::Bool(b) => Ok(SigmaValue::Bool(*b)),
        other => Err(format!("expected a string or a number, found {other:?}")),
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct MappingFile {
    #[serde(default)]
    tables: BTreeMap<String, TableFile>,
    #[serde(default)]
    logsources: Vec<EntryFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct TableFile {
    read: Option<FieldSource>,
    columns: Option<String>,
    #[serde(default)]
    computed: Vec<String>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
    keywords: Option<String>,
    #[serde(default)]
    event_columns: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct EntryFile {
    product: Option<String>,
    category: Option<String>,
    service: Option<String>,
    #[serde(default)]
    target: Target,
    variants: Vec<VariantFile>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct VariantFile {
    table: String,
    read: Option<FieldSource>,
    #[serde(default)]
    conditions: BTreeMap<String, OneOrMany>,
    #[serde(default)]
    fields: BTreeMap<String, String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum OneOrMany {
    Many(Vec<serde_norway::Value>),
    One(serde_norway::Value),
}

impl OneOrMany {
    fn into_list(self) -> Vec<serde_norway::Value> {
        match self {
            OneOrMany::Many(v) => v,
            OneOrMany::One(v) => vec![v],
        }
    }
}
