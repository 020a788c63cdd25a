//! CSV and JSON readers into Sentinel table schemas.
//!
//! The format is chosen by content, not extension: JSON starts with `{` or
//! `[`, anything else is CSV. JSON may be an array of records, one record per
//! line, the Log Analytics API shape `{"tables":[{"columns","rows"}]}`,
//! Defender's API `{"Schema","Results"}` or Graph `{"schema","results"}`, or
//! Defender's streaming export `{"records":[{"category","properties"}]}`.
//! Column names from portal exports (`TimeGenerated [UTC]`) are normalised.
//!
//! Which table a record goes to, when the caller does not say:
//! 1. Defender streaming records: the table their `category` names
//!    (`AdvancedHunting-DeviceLogonEvents` → `DeviceLogonEvents`);
//! 2. a `Type` value that names a catalog table or a custom `_CL` table
//!    (Log Analytics exports carry `Type`, and a union may mix tables);
//! 3. otherwise the catalog table whose schema matches the file's columns
//!    best: most columns in common, at least two of them specific to the
//!    table (not `TimeGenerated`, `Computer`, `TenantId`, …) and at least
//!    two thirds of the file's columns; ties go to the usual security
//!    tables (`SecurityEvent`, `DeviceLogonEvents`, …), then the smaller schema;
//! 4. otherwise a custom table named after the file (`my-log.csv` → `my_log`).
//!
//! A known table gets its catalog schema; other tables get one inferred from
//! the data. Columns outside a known schema are kept, with a notice. When a
//! known table has both `TimeGenerated` and `Timestamp` (Defender tables) and
//! the data only has `Timestamp`, `TimeGenerated` is filled from it, as
//! Sentinel does for Defender data.

use crate::catalog;
use crate::columns::{infer_json_type, infer_text_type, widen, ColumnBuilder};
use crate::error::{IngestError, RecordError, TextError};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::BATCH_ROWS;
use kqlite_engine::{ColumnDef, KqlType};
use serde_json::{Map, Value};
use std::path::Path;

/// A table loaded in memory in the engine's Arrow types.
pub struct LoadedTable {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub batches: Vec<RecordBatch>,
}

/// What happened to every record read.
#[derive(Debug, Default)]
pub struct LoadReport {
    pub records_read: usize,
    pub loaded: usize,
    /// (location, reason) for each rejected record.
    pub rejected: Vec<(String, String)>,
    /// Cells that did not convert to their column's type (stored as null).
    pub conversion_failures: usize,
    pub notices: Vec<String>,
    /// Records read and valid but not kept because no query reads them
    /// (only when the reader is told what queries read, see
    /// [`crate::evtx::EvtxOptions::needs`]): `records_read == loaded +
    /// unread + rejected.len()`.
    pub unread: usize,
    /// Tables that records were left out of that way (a table that had
    /// data, though none of it is kept).
    pub unread_tables: std::collections::BTreeSet<String>,
    /// The latest event time seen (ns), kept or not: `now()` of a hunt over
    /// the latest event must not move because records were left unread.
    pub latest_time: Option<i64>,
}

impl LoadReport {
    /// Adds another report's counts, rejections and notices to this one.
    pub fn absorb(&mut self, other: LoadReport) {
        self.records_read += other.records_read;
        self.loaded += other.loaded;
        self.rejected.extend(other.rejected);
        self.conversion_failures += other.conversion_failures;
        self.notices.extend(other.notices);
        self.unread += other.unread;
        self.unread_tables.extend(other.unread_tables);
        self.latest_time = self.latest_time.max(other.latest_time);
    }
}

/// Loads a CSV or JSON file as table `table`.
pub fn load_file(path: &Path, table: &str) -> Result<(LoadedTable, LoadReport), IngestError> {
    let text =
        std::fs::read_to_string(path).map_err(|source| IngestError::Unreadable { path: path.to_path_buf(), source })?;
    let location = path.display().to_string();
    let records = parse_records(&text, &location, 0)?;
    let mut report = LoadReport::default();
    let table = build_table(table, records, &location, &mut report);
    Ok((table, report))
}

/// Loads CSV or JSON text (any of the shapes in the module documentation)
/// into one table per target table; `table` forces the table, otherwise it
/// is chosen by the rules above. `location` names the input in reports.
pub fn load_text(text: &str, location: &str, table: Option<&str>) -> Result<(Vec<LoadedTable>, LoadReport), TextError> {
    load_text_at(text, location, table, 0)
}

/// [`load_text`] for a piece of a larger line-based input (JSON lines, or
/// CSV with its header line put back in front): reported line numbers are
/// shifted by `line_offset`.
pub fn load_text_at(
    text: &str,
    location: &str,
    table: Option<&str>,
    line_offset: usize,
) -> Result<(Vec<LoadedTable>, LoadReport), TextError> {
    Ok(tables_of(parse_records(text, location, line_offset)?, table, location))
}

/// One record: its number (line for line-based input, position otherwise)
/// and its values, or why it could not be read.
pub(crate) type Numbered<T> = (usize, Result<T, RecordError>);

/// A JSON record and the table its source named, if any (Defender categories).
pub(crate) type JsonRecord = (Option<String>, Map<String, Value>);

/// Records as (column name, value) pairs, in file order.
enum Records {
    /// CSV: numbers are the line a record starts on.
    Text { header: Vec<String>, rows: Vec<Numbered<Vec<String>>> },
    /// JSON: numbers are lines when `lines`, record positions otherwise; a
    /// record may carry the table its source named (Defender categories).
    Json { rows: Vec<Numbered<JsonRecord>>, lines: bool },
}

impl Records {
    fn describe(&self, location: &str, number: usize) -> String {
        match self {
            Records::Text { .. } | Records::Json { lines: true, .. } => format!("{location}:{number}"),
            Records::Json { lines: false, .. } => format!("{location}: record {number}"),
        }
    }

    fn empty_like(&self) -> Records {
        match self {
            Records::Text { header, .. } => Records::Text { header: header.clone(), rows: Vec::new() },
            Records::Json { lines, .. } => Records::Json { rows: Vec::new(), lines: *lines },
        }
    }
}

fn parse_records(text: &str, location: &str, line_offset: usize) -> Result<Records, TextError> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return parse_json_records(text.trim_start_matches('\u{feff}'), location, line_offset);
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(trimmed.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|source| TextError::CsvHeader { location: location.to_string(), source })?
        .iter()
        .map(normalise_column_name)
        .collect();
    // Lines are counted in the original text (leading blank lines included).
    let skipped_lines = text[..text.len() - trimmed.len()].matches('\n').count() + line_offset;
    let mut rows = Vec::new();
    let mut record = csv::StringRecord::new();
    loop {
        let line = reader.position().line() as usize + skipped_lines;
        match reader.read_record(&mut record) {
            Ok(false) => break,
            Ok(true) if record.len() == header.len() => {
                rows.push((line, Ok(record.iter().map(str::to_string).collect())))
            }
            Ok(true) => rows.push((line, Err(RecordError::FieldCount { found: record.len(), expected: header.len() }))),
            Err(e) => {
                rows.push((line, Err(RecordError::Csv(e))));
                // An error that does not advance the reader would repeat forever.
                if reader.position().line() as usize + skipped_lines == line {
                    break;
                }
            }
        }
    }
    Ok(Records::Text { header, rows })
}

fn parse_json_records(text: &str, location: &str, line_offset: usize) -> Result<Records, TextError> {
    // A whole-document shape first: array, API result, export, or one object.
    if let Ok(doc) = serde_json::from_str::<Value>(text) {
        return match doc {
            Value::Array(items) => Ok(Records::Json { rows: numbered_objects(items, "array element"), lines: false }),
            Value::Object(map) => Ok(document_records(map)),
            _ => Err(TextError::NotRecords { location: location.to_string() }),
        };
    }
    // JSON lines.
    let rows = text
        .lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, line)| {
            let value = match serde_json::from_str::<Value>(line) {
                Ok(Value::Object(m)) => Ok((None, m)),
                Ok(_) => Err(RecordError::LineNotObject),
                Err(e) => Err(RecordError::NotJson(e)),
            };
            (i + 1 + line_offset, value)
        })
        .collect();
    Ok(Records::Json { rows, lines: true })
}

fn numbered_objects(items: Vec<Value>, what: &'static str) -> Vec<Numbered<JsonRecord>> {
    items.into_iter().enumerate().map(|(i, v)| (i + 1, array_element(v, what))).collect()
}

/// An element of a records array: an object, or why it is not a record.
pub(crate) fn array_element(value: Value, what: &'static str) -> Result<JsonRecord, RecordError> {
    match value {
        Value::Object(m) => Ok((None, m)),
        other => Err(RecordError::NotObject { what, value: short(&other.to_string()) }),
    }
}

/// Tables of JSON records read by [`crate::json_stream`], numbered by position.
pub(crate) fn load_json_records(rows: Vec<Numbered<JsonRecord>>, location: &str) -> (Vec<LoadedTable>, LoadReport) {
    tables_of(Records::Json { rows, lines: false }, None, location)
}

/// Tables of a JSON object document read whole (API results, one record).
pub(crate) fn load_json_document(map: Map<String, Value>, location: &str) -> (Vec<LoadedTable>, LoadReport) {
    tables_of(document_records(map), None, location)
}

/// The tables of `records`, split by the table each belongs to (`table`
/// when given).
fn tables_of(records: Records, table: Option<&str>, location: &str) -> (Vec<LoadedTable>, LoadReport) {
    let mut report = LoadReport::default();
    let mut tables = Vec::new();
    for (name, group) in split_by_table(records, table, location, &mut report) {
        tables.push(build_table(&name, group, location, &mut report));
    }
    (tables, report)
}

/// The records of a whole JSON object document.
fn document_records(mut map: Map<String, Value>) -> Records {
    if let Some(records) = api_tables(&map) {
        return Records::Json { rows: records, lines: false };
    }
    // Defender API {"Schema","Results"} and Graph {"schema","results"}.
    for (schema, results) in [("Schema", "Results"), ("schema", "results")] {
        if map.contains_key(schema) {
            if let Some(Value::Array(items)) = map.remove(results) {
                return Records::Json { rows: numbered_objects(items, "result"), lines: false };
            }
        }
    }
    // Defender streaming export (Event Hubs / storage): category names the table.
    if let Some(Value::Array(items)) = map.get("records") {
        if items.iter().any(|r| r.get("properties").is_some()) {
            let Some(Value::Array(items)) = map.remove("records") else { unreachable!() };
            let rows = items.into_iter().enumerate().map(|(i, r)| (i + 1, streaming_record(r))).collect();
            return Records::Json { rows, lines: false };
        }
    }
    Records::Json { rows: vec![(1, Ok((None, map)))], lines: false }
}

/// `{"category":"AdvancedHunting-DeviceLogonEvents","properties":{…}}`.
pub(crate) fn streaming_record(record: Value) -> Result<JsonRecord, RecordError> {
    let Value::Object(mut record) = record else {
        return Err(RecordError::NotObject { what: "record", value: short(&record.to_string()) });
    };
    let category = record.get("category").and_then(Value::as_str).map(str::to_string);
    let table = category.as_deref().map(|c| c.strip_prefix("AdvancedHunting-").unwrap_or(c).to_string());
    match record.remove("properties") {
        Some(Value::Object(properties)) => Ok((table, properties)),
        Some(other) => Err(RecordError::NotObject { what: "'properties'", value: short(&other.to_string()) }),
        None => Err(RecordError::NoProperties),
    }
}

/// Log Analytics query API: `{"tables":[{"columns":[{"name","type"}],"rows":[[…]]}]}`.
fn api_tables(map: &Map<String, Value>) -> Option<Vec<Numbered<JsonRecord>>> {
    let tables = map.get("tables")?.as_array()?;
    let mut out = Vec::new();
    for table in tables {
        let columns: Vec<String> = table
            .get("columns")?
            .as_array()?
            .iter()
            .filter_map(|c| c.get("name").and_then(|n| n.as_str()).map(str::to_string))
            .collect();
        for row in table.get("rows")?.as_array()? {
            let number = out.len() + 1;
            match row.as_array() {
                Some(values) if values.len() == columns.len() => {
                    out.push((number, Ok((None, columns.iter().cloned().zip(values.iter().cloned()).collect()))))
                }
                _ => out.push((number, Err(RecordError::RowWidth { expected: columns.len() }))),
            }
        }
    }
    Some(out)
}

/// `TimeGenerated [UTC]` → `TimeGenerated`.
fn normalise_column_name(name: &str) -> String {
    let name = name.trim().trim_start_matches('\u{feff}');
    match name.strip_suffix(']').and_then(|n| n.rsplit_once(" [")) {
        Some((base, _)) => base.to_string(),
        None => name.to_string(),
    }
}

fn short(s: &str) -> String {
    s.chars().take(60).collect()
}

/// Columns most tables have: they say nothing about which table a file is.
const COMMON_COLUMNS: [&str; 14] = [
    "TimeGenerated",
    "Timestamp",
    "TenantId",
    "Type",
    "SourceSystem",
    "Computer",
    "MG",
    "ManagementGroupName",
    "_ResourceId",
    "_SubscriptionId",
    "_BilledSize",
    "_IsBillable",
    "_ItemId",
    "_Internal_WorkspaceResourceId",
];

/// The tables exports most often come from (the security tables kqlite's
/// readers and rules use): among tables that fit a file's columns equally
/// well, one of these is taken. With every Log Analytics table in the
/// catalog, a few columns often fit several (Defender's logon columns fit
/// `BehaviorEntities` as well as `DeviceLogonEvents`).
const USUAL_TABLES: &[&str] = &[
    "SecurityEvent",
    "WindowsEvent",
    "Event",
    "Syslog",
    "DeviceLogonEvents",
    "DeviceProcessEvents",
    "DeviceNetworkEvents",
    "DeviceFileEvents",
    "DeviceEvents",
    "DeviceInfo",
    "SigninLogs",
    "AuditLogs",
    "IdentityLogonEvents",
    "CommonSecurityLog",
    "SecurityAlert",
    "DeviceRegistryEvents",
    "DeviceImageLoadEvents",
    "IdentityQueryEvents",
    "IdentityDirectoryEvents",
    "OfficeActivity",
    "AzureActivity",
];

/// The catalog table whose schema fits `columns` best (rule 3 above), with
/// the number of columns in common: the most columns in common, then one
/// of [`USUAL_TABLES`], then the smallest schema.
pub fn table_for_columns<'a>(columns: impl IntoIterator<Item = &'a str>) -> Option<(&'static str, usize)> {
    let columns: Vec<&str> = columns.into_iter().collect();
    // (name, matched, usual, schema size)
    let mut best: Option<(&'static str, usize, bool, usize)> = None;
    for name in catalog::table_names() {
        let schema = catalog::table_schema(name).unwrap_or_default();
        let in_schema: Vec<&&str> = columns.iter().filter(|c| schema.iter().any(|d| d.name == **c)).collect();
        let matched = in_schema.len();
        let specific = in_schema.iter().filter(|c| !COMMON_COLUMNS.contains(c)).count();
        if specific < 2 || matched * 3 < columns.len() * 2 {
            continue;
        }
        let usual = USUAL_TABLES.contains(&name);
        let better = match best {
            None => true,
            Some((_, m, u, size)) => {
                (matched, usual, std::cmp::Reverse(schema.len())) > (m, u, std::cmp::Reverse(size))
            }
        };
        if better {
            best = Some((name, matched, usual, schema.len()));
        }
    }
    best.map(|(name, matched, _, _)| (name, matched))
}

/// A table name from a location: the file name without extensions, with
/// characters outside `[A-Za-z0-9_]` replaced (`logs/my-app.csv.gz` → `my_app`).
pub fn table_name_from_location(location: &str) -> String {
    let file = location.rsplit(['/', '\\', '!']).next().unwrap_or(location);
    let stem = file.split('.').next().unwrap_or(file);
    let mut name: String = stem.chars().map(|c| if c.is_ascii_alphanumeric() || c == '_' { c } else { '_' }).collect();
    if name.is_empty() || name.starts_with(|c: char| c.is_ascii_digit()) {
        name.insert(0, 'T');
    }
    name
}

/// A `Type` value that names a table: a catalog table or a custom `_CL` one.
fn table_from_type(value: &str) -> Option<String> {
    let value = value.trim();
    let custom = value.ends_with("_CL") && value.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
    (catalog::table_schema(value).is_some() || custom).then(|| value.to_string())
}

/// Splits records into one group per target table (rules in the module
/// documentation); records that could not be read are counted as rejected.
fn split_by_table(
    records: Records,
    given: Option<&str>,
    location: &str,
    report: &mut LoadReport,
) -> Vec<(String, Records)> {
    let mut groups: Vec<(String, Records)> = Vec::new();
    let mut undecided = records.empty_like();
    fn group<'g>(groups: &'g mut Vec<(String, Records)>, name: &str, like: &Records) -> &'g mut Records {
        let i = match groups.iter().position(|(n, _)| n == name) {
            Some(i) => i,
            None => {
                groups.push((name.to_string(), like.empty_like()));
                groups.len() - 1
            }
        };
        &mut groups[i].1
    }
    let template = records.empty_like();
    match records {
        Records::Text { header, rows } => {
            let type_index = header.iter().position(|h| h == "Type");
            for (number, row) in rows {
                let values = match row {
                    Ok(values) => values,
                    Err(reason) => {
                        report.records_read += 1;
                        report.rejected.push((template.describe(location, number), reason.to_string()));
                        continue;
                    }
                };
                let target = given.map(str::to_string).or_else(|| type_index.and_then(|i| table_from_type(&values[i])));
                let into = match target {
                    Some(name) => group(&mut groups, &name, &template),
                    None => &mut undecided,
                };
                if let Records::Text { rows, .. } = into {
                    rows.push((number, Ok(values)));
                }
            }
        }
        Records::Json { rows, .. } => {
            for (number, row) in rows {
                let (hint, map) = match row {
                    Ok(record) => record,
                    Err(reason) => {
                        report.records_read += 1;
                        report.rejected.push((template.describe(location, number), reason.to_string()));
                        continue;
                    }
                };
                let target = given
                    .map(str::to_string)
                    .or(hint)
                    .or_else(|| map.get("Type").and_then(Value::as_str).and_then(table_from_type));
                let into = match target {
                    Some(name) => group(&mut groups, &name, &template),
                    None => &mut undecided,
                };
                if let Records::Json { rows, .. } = into {
                    rows.push((number, Ok((None, map))));
                }
            }
        }
    }
    let has_undecided = match &undecided {
        Records::Text { rows, .. } => !rows.is_empty(),
        Records::Json { rows, .. } => !rows.is_empty(),
    };
    if has_undecided || groups.is_empty() {
        let names = input_names(&undecided);
        let name = match table_for_columns(names.iter().map(String::as_str)) {
            Some((table, matched)) => {
                report.notices.push(format!(
                    "{location}: loaded as {table}: {matched} of its {} columns are in that table's schema (use \
                     --table {table}=PATH to choose another table)",
                    names.len()
                ));
                table.to_string()
            }
            None => {
                let name = table_name_from_location(location);
                if !names.is_empty() {
                    report.notices.push(format!(
                        "{location}: its columns match no Sentinel table; loaded as custom table {name}"
                    ));
                }
                name
            }
        };
        let into = group(&mut groups, &name, &template);
        match (into, undecided) {
            (Records::Text { rows, .. }, Records::Text { rows: more, .. }) => rows.extend(more),
            (Records::Json { rows, .. }, Records::Json { rows: more, .. }) => rows.extend(more),
            _ => unreachable!("groups share the input's kind"),
        }
    }
    groups
}

/// Column names in first-seen order.
fn input_names(records: &Records) -> Vec<String> {
    match records {
        Records::Text { header, .. } => header.clone(),
        Records::Json { rows, .. } => {
            let mut names: Vec<String> = Vec::new();
            let mut seen = std::collections::HashSet::new();
            for (_, m) in rows.iter().flat_map(|(_, r)| r.as_ref().ok()) {
                for k in m.keys() {
                    if seen.insert(k.as_str()) {
                        names.push(k.clone());
                    }
                }
            }
            names
        }
    }
}

fn build_table(table: &str, records: Records, location: &str, report: &mut LoadReport) -> LoadedTable {
    let input_names = input_names(&records);
    let known = catalog::table_schema(table);
    let mut columns: Vec<ColumnDef> = known.map(<[ColumnDef]>::to_vec).unwrap_or_default();
    let mut extra = Vec::new();
    for name in &input_names {
        if columns.iter().any(|c| &c.name == name) {
            continue;
        }
        let ty = infer_column(&records, name).unwrap_or(KqlType::String);
        if known.is_some() {
            extra.push(name.clone());
        }
        columns.push(ColumnDef::new(name.clone(), ty));
    }
    if !extra.is_empty() {
        report.notices.push(format!(
            "{location}: {} column(s) are not in the {table} schema and were kept: {}",
            extra.len(),
            extra.join(", ")
        ));
    }
    // Where each column's value comes from: its own name, or for a missing
    // TimeGenerated of a Defender table, Timestamp.
    let mut sources: Vec<Option<String>> =
        columns.iter().map(|c| input_names.contains(&c.name).then(|| c.name.clone())).collect();
    if known.is_some() && input_names.iter().any(|n| n == "Timestamp") {
        if let Some(i) = columns.iter().position(|c| c.name == "TimeGenerated") {
            if sources[i].is_none() {
                sources[i] = Some("Timestamp".to_string());
                report.notices.push(format!("{location}: TimeGenerated is not in the data; filled from Timestamp"));
            }
        }
    }
    let schema = kqlite_engine::arrow_schema(&columns);
    let mut builders: Vec<ColumnBuilder> = columns.iter().map(|c| ColumnBuilder::new(c.ty)).collect();
    let mut batches = Vec::new();
    let mut pending = 0usize;
    let flush = |builders: &mut Vec<ColumnBuilder>, pending: &mut usize, batches: &mut Vec<RecordBatch>| {
        if *pending == 0 {
            return;
        }
        let arrays = builders.iter_mut().map(ColumnBuilder::finish).collect();
        batches.push(RecordBatch::try_new(schema.clone(), arrays).expect("builders match the schema"));
        *pending = 0;
    };
    let describe = |number| records.describe(location, number);
    let mut rejected = Vec::new();
    match &records {
        Records::Text { rows, .. } => {
            let positions: Vec<Option<usize>> =
                sources.iter().map(|s| s.as_ref().and_then(|s| input_names.iter().position(|n| n == s))).collect();
            for (number, row) in rows {
                report.records_read += 1;
                match row {
                    Ok(values) => {
                        for (builder, pos) in builders.iter_mut().zip(&positions) {
                            match pos {
                                Some(p) => {
                                    if !builder.push_text(&values[*p]) {
                                        report.conversion_failures += 1;
                                    }
                                }
                                None => builder.push_missing(),
                            }
                        }
                        report.loaded += 1;
                        pending += 1;
                    }
                    Err(reason) => rejected.push((describe(*number), reason.to_string())),
                }
                if pending == BATCH_ROWS {
                    flush(&mut builders, &mut pending, &mut batches);
                }
            }
        }
        Records::Json { rows, .. } => {
            // The columns each key feeds: a record's few keys are looked up,
            // rather than every column of a wide schema in each record.
            let mut feeds: std::collections::HashMap<&str, Vec<usize>> = std::collections::HashMap::new();
            for (i, source) in sources.iter().enumerate() {
                if let Some(source) = source {
                    feeds.entry(source.as_str()).or_default().push(i);
                }
            }
            let mut filled = vec![false; columns.len()];
            for (number, row) in rows {
                report.records_read += 1;
                match row {
                    Ok((_, map)) => {
                        filled.fill(false);
                        for (key, value) in map {
                            for &i in feeds.get(key.as_str()).map(Vec::as_slice).unwrap_or_default() {
                                if !builders[i].push_json(value) {
                                    report.conversion_failures += 1;
                                }
                                filled[i] = true;
                            }
                        }
                        for (builder, _) in builders.iter_mut().zip(&filled).filter(|(_, f)| !**f) {
                            builder.push_missing();
                        }
                        report.loaded += 1;
                        pending += 1;
                    }
                    Err(reason) => rejected.push((describe(*number), reason.to_string())),
                }
                if pending == BATCH_ROWS {
                    flush(&mut builders, &mut pending, &mut batches);
                }
            }
        }
    }
    flush(&mut builders, &mut pending, &mut batches);
    report.rejected.extend(rejected);
    LoadedTable { name: table.to_string(), columns, batches }
}

/// Infers a column's type from all of its values.
fn infer_column(records: &Records, name: &str) -> Option<KqlType> {
    match records {
        Records::Text { header, rows } => {
            let p = header.iter().position(|h| h == name)?;
            rows.iter()
                .flat_map(|(_, r)| r.as_ref().ok())
                .fold(None, |t, r| widen(t, r.get(p).and_then(|v| infer_text_type(v))))
        }
        Records::Json { rows, .. } => rows
            .iter()
            .flat_map(|(_, r)| r.as_ref().ok())
            .fold(None, |t, (_, m)| widen(t, m.get(name).and_then(infer_json_type))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, table: &str) -> (LoadedTable, LoadReport) {
        let (mut tables, report) = load_text(text, "test", Some(table)).unwrap();
        assert_eq!(tables.len(), 1);
        (tables.remove(0), report)
    }

    fn load_inferred(text: &str, location: &str) -> (Vec<LoadedTable>, LoadReport) {
        load_text(text, location, None).unwrap()
    }

    fn rows(t: &LoadedTable) -> usize {
        t.batches.iter().map(RecordBatch::num_rows).sum()
    }

    #[test]
    fn csv_with_inferred_types_and_a_bad_row() {
        let (t, r) = load("a,b,c\n1,x,2024-01-01T00:00:00Z\n2,y\n3,z,2024-01-02T00:00:00Z\n", "Custom");
        assert_eq!(
            t.columns.iter().map(|c| c.ty).collect::<Vec<_>>(),
            vec![KqlType::Long, KqlType::String, KqlType::Datetime]
        );
        assert_eq!((r.records_read, r.loaded, r.rejected.len()), (3, 2, 1));
        assert_eq!(r.rejected[0].0, "test:3");
    }

    #[test]
    fn csv_line_numbers_follow_quoted_newlines() {
        let (_, r) = load("a,b\n\"multi\nline\",1\nshort\n", "Custom");
        assert_eq!(r.rejected.len(), 1);
        assert_eq!(r.rejected[0].0, "test:4");
    }

    #[test]
    fn known_table_gets_its_schema_and_keeps_extra_columns() {
        let (t, r) = load("{\"EventID\": 4624, \"Computer\": \"dc1\", \"Extra\": 1}\n", "SecurityEvent");
        // The catalog's columns, then the extra one.
        assert_eq!(t.columns.len(), crate::catalog::table_schema("SecurityEvent").unwrap().len() + 1);
        assert_eq!(t.columns.last().unwrap().name, "Extra");
        assert_eq!(r.notices.len(), 1);
        assert_eq!(r.loaded, 1);
    }

    #[test]
    fn portal_csv_headers_and_us_dates() {
        let (t, r) = load("TimeGenerated [UTC],Computer\n\"7/28/2023, 8:07:14.552 PM\",dc1\n", "SecurityEvent");
        assert_eq!(r.conversion_failures, 0);
        assert_eq!(r.loaded, 1);
        assert!(t.columns.iter().any(|c| c.name == "TimeGenerated"));
    }

    #[test]
    fn log_analytics_api_shape() {
        let doc =
            r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"a","type":"long"}],"rows":[[1],[2],[3,4]]}]}"#;
        let (_, r) = load(doc, "X");
        assert_eq!(r.loaded, 2);
        assert_eq!(r.rejected, vec![("test: record 3".to_string(), "row does not have 1 values".to_string())]);
    }

    #[test]
    fn type_column_splits_a_union_export() {
        let text = "TimeGenerated [UTC],Type,Computer,EventID,SyslogMessage\n\
                    \"7/28/2023, 8:07:14.552 PM\",SecurityEvent,dc1,4624,\n\
                    \"7/28/2023, 8:07:15.000 PM\",Syslog,web1,,hello\n\
                    \"7/28/2023, 8:07:16.000 PM\",SecurityEvent,dc1,4625,\n";
        let (tables, r) = load_inferred(text, "export.csv");
        let names: Vec<(&str, usize)> = tables.iter().map(|t| (t.name.as_str(), rows(t))).collect();
        assert_eq!(names, vec![("SecurityEvent", 2), ("Syslog", 1)]);
        assert_eq!((r.records_read, r.loaded), (3, 3));
    }

    #[test]
    fn columns_choose_the_catalog_table() {
        let text = "Timestamp,DeviceName,ActionType,LogonType,AccountName,RemoteIP\n\
                    2024-05-01T10:00:00Z,ws1,LogonFailed,Network,bob,10.0.0.9\n";
        let (tables, r) = load_inferred(text, "logons.csv");
        assert_eq!(tables.len(), 1);
        assert_eq!(tables[0].name, "DeviceLogonEvents");
        assert!(r.notices.iter().any(|n| n.contains("loaded as DeviceLogonEvents")), "{:?}", r.notices);
        assert!(r.notices.iter().any(|n| n.contains("filled from Timestamp")), "{:?}", r.notices);
        let i = tables[0].columns.iter().position(|c| c.name == "TimeGenerated").unwrap();
        assert_eq!(tables[0].batches[0].column(i).null_count(), 0);
    }

    #[test]
    fn unknown_columns_make_a_custom_table_named_after_the_file() {
        let (tables, _) = load_inferred("{\"a\":1}\n{\"a\":2}\n", "dir/my-app.log.jsonl");
        assert_eq!(tables[0].name, "my_app");
        assert_eq!(rows(&tables[0]), 2);
    }

    #[test]
    fn defender_api_and_graph_shapes() {
        let api = r#"{"Schema":[{"Name":"Timestamp","Type":"DateTime"},{"Name":"DeviceName","Type":"String"}],
            "Results":[{"Timestamp":"2024-05-01T10:00:00Z","DeviceName":"ws1","ActionType":"LogonSuccess","RemoteIP":"10.0.0.1","LogonType":"Network"}]}"#;
        let (tables, r) = load_inferred(api, "api.json");
        assert_eq!((tables[0].name.as_str(), r.loaded), ("DeviceLogonEvents", 1));
        let graph = r#"{"schema":[{"name":"DeviceName","type":"String"}],"results":[{"DeviceName":"ws1"},{"DeviceName":"ws2"}]}"#;
        let (tables, r) = load_text(graph, "graph.json", Some("DeviceInfo")).unwrap();
        assert_eq!((tables[0].name.as_str(), r.loaded), ("DeviceInfo", 2));
    }

    #[test]
    fn defender_streaming_records_take_their_category() {
        let doc = r#"{"records":[
            {"time":"2024-05-01T10:00:00Z","category":"AdvancedHunting-DeviceLogonEvents","properties":{"Timestamp":"2024-05-01T10:00:00Z","DeviceName":"ws1","ActionType":"LogonFailed"}},
            {"time":"2024-05-01T10:00:01Z","category":"AdvancedHunting-DeviceProcessEvents","properties":{"Timestamp":"2024-05-01T10:00:01Z","DeviceName":"ws1","FileName":"cmd.exe"}},
            {"time":"2024-05-01T10:00:02Z","category":"AdvancedHunting-DeviceLogonEvents"}
        ]}"#;
        let (tables, r) = load_inferred(doc, "stream.json");
        let names: Vec<(&str, usize)> = tables.iter().map(|t| (t.name.as_str(), rows(t))).collect();
        assert_eq!(names, vec![("DeviceLogonEvents", 1), ("DeviceProcessEvents", 1)]);
        assert_eq!(r.records_read, 3);
        assert_eq!(r.rejected, vec![("stream.json: record 3".to_string(), "record has no 'properties'".to_string())]);
    }

    #[test]
    fn json_lines_reject_with_line_numbers() {
        let (_, r) = load("{\"a\":1}\n\nnot json\n[1]\n", "X");
        assert_eq!((r.records_read, r.loaded), (3, 1));
        assert_eq!(r.rejected[0].0, "test:3");
        assert_eq!(r.rejected[1], ("test:4".to_string(), "line is JSON but not an object".to_string()));
        let (_, r) = load_text_at("{\"a\":1}\nnot json\n", "test", None, 100).unwrap();
        assert_eq!(r.rejected[0].0, "test:102");
        let (_, r) = load_text_at("a,b\n1,2\nbad\n", "test", None, 100).unwrap();
        assert_eq!(r.rejected[0].0, "test:103");
    }
}
