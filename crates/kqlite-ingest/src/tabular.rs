//! CSV and JSON readers into a table schema.
//!
//! The format is chosen by content, not extension: JSON starts with `{` or
//! `[` (an array of records, one record per line, or the Log Analytics API
//! shape `{"tables":[{"columns","rows"}]}`), anything else is CSV. Column
//! names from portal exports (`TimeGenerated [UTC]`) are normalised.
//! A known Sentinel table gets its schema; other tables get one inferred
//! from the data. Columns outside a known schema are kept, with a notice.

use crate::catalog;
use crate::columns::{infer_json_type, infer_text_type, widen, ColumnBuilder};
use datafusion::arrow::datatypes::{Field, Schema};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::{ColumnDef, KqlType};
use std::path::Path;
use std::sync::Arc;

const BATCH_ROWS: usize = 8192;

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
}

/// Loads a CSV or JSON file as table `table`.
pub fn load_file(path: &Path, table: &str) -> Result<(LoadedTable, LoadReport), String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    let location = path.display().to_string();
    let records = parse_records(&text, &location)?;
    Ok(build_table(table, records, &location))
}

/// Records as (column name, value) pairs, in file order.
enum Records {
    Text { header: Vec<String>, rows: Vec<Result<Vec<String>, String>> },
    Json(Vec<Result<serde_json::Map<String, serde_json::Value>, String>>),
}

fn parse_records(text: &str, location: &str) -> Result<Records, String> {
    let trimmed = text.trim_start_matches('\u{feff}').trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return parse_json_records(trimmed, location);
    }
    let mut reader = csv::ReaderBuilder::new().flexible(true).from_reader(trimmed.as_bytes());
    let header: Vec<String> = reader
        .headers()
        .map_err(|e| format!("{location}: cannot read the CSV header: {e}"))?
        .iter()
        .map(normalise_column_name)
        .collect();
    let rows = reader
        .records()
        .map(|r| match r {
            Ok(record) if record.len() == header.len() => Ok(record.iter().map(str::to_string).collect()),
            Ok(record) => Err(format!("has {} fields, the header has {}", record.len(), header.len())),
            Err(e) => Err(e.to_string()),
        })
        .collect();
    Ok(Records::Text { header, rows })
}

fn parse_json_records(text: &str, location: &str) -> Result<Records, String> {
    use serde_json::Value;
    // A whole-document shape first: array, API result, or one object.
    if let Ok(doc) = serde_json::from_str::<Value>(text) {
        match doc {
            Value::Array(items) => {
                return Ok(Records::Json(
                    items
                        .into_iter()
                        .map(|v| match v {
                            Value::Object(m) => Ok(m),
                            other => Err(format!("array element is not an object: {}", short(&other.to_string()))),
                        })
                        .collect(),
                ))
            }
            Value::Object(map) => {
                if let Some(records) = api_tables(&map) {
                    return Ok(Records::Json(records));
                }
                return Ok(Records::Json(vec![Ok(map)]));
            }
            _ => return Err(format!("{location}: JSON document is neither an object nor an array")),
        }
    }
    // JSON lines.
    let records = text
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| match serde_json::from_str::<Value>(line) {
            Ok(Value::Object(m)) => Ok(m),
            Ok(_) => Err("line is JSON but not an object".to_string()),
            Err(e) => Err(format!("not JSON: {e}")),
        })
        .collect();
    Ok(Records::Json(records))
}

/// Log Analytics query API: `{"tables":[{"columns":[{"name","type"}],"rows":[[…]]}]}`.
fn api_tables(
    map: &serde_json::Map<String, serde_json::Value>,
) -> Option<Vec<Result<serde_json::Map<String, serde_json::Value>, String>>> {
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
            match row.as_array() {
                Some(values) if values.len() == columns.len() => {
                    out.push(Ok(columns.iter().cloned().zip(values.iter().cloned()).collect()))
                }
                _ => out.push(Err(format!("row does not have {} values", columns.len()))),
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

fn build_table(table: &str, records: Records, location: &str) -> (LoadedTable, LoadReport) {
    let mut report = LoadReport::default();
    // Column names in first-seen order.
    let input_names: Vec<String> = match &records {
        Records::Text { header, .. } => header.clone(),
        Records::Json(rows) => {
            let mut names: Vec<String> = Vec::new();
            for m in rows.iter().flatten() {
                for k in m.keys() {
                    if !names.contains(k) {
                        names.push(k.clone());
                    }
                }
            }
            names
        }
    };
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
    let schema =
        Arc::new(Schema::new(columns.iter().map(|c| Field::new(&c.name, c.ty.arrow(), true)).collect::<Vec<_>>()));
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
    let positions: Vec<Option<usize>> = columns.iter().map(|c| input_names.iter().position(|n| *n == c.name)).collect();
    match records {
        Records::Text { rows, .. } => {
            for (i, row) in rows.into_iter().enumerate() {
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
                    Err(reason) => report.rejected.push((format!("{location}:{}", i + 2), reason)),
                }
                if pending == BATCH_ROWS {
                    flush(&mut builders, &mut pending, &mut batches);
                }
            }
        }
        Records::Json(rows) => {
            for (i, row) in rows.into_iter().enumerate() {
                report.records_read += 1;
                match row {
                    Ok(map) => {
                        for (builder, column) in builders.iter_mut().zip(&columns) {
                            match map.get(&column.name) {
                                Some(v) => {
                                    if !builder.push_json(v) {
                                        report.conversion_failures += 1;
                                    }
                                }
                                None => builder.push_missing(),
                            }
                        }
                        report.loaded += 1;
                        pending += 1;
                    }
                    Err(reason) => report.rejected.push((format!("{location}: record {}", i + 1), reason)),
                }
                if pending == BATCH_ROWS {
                    flush(&mut builders, &mut pending, &mut batches);
                }
            }
        }
    }
    flush(&mut builders, &mut pending, &mut batches);
    (LoadedTable { name: table.to_string(), columns, batches }, report)
}

/// Infers a column's type from all of its values.
fn infer_column(records: &Records, name: &str) -> Option<KqlType> {
    match records {
        Records::Text { header, rows } => {
            let p = header.iter().position(|h| h == name)?;
            rows.iter().flatten().fold(None, |t, r| widen(t, r.get(p).and_then(|v| infer_text_type(v))))
        }
        Records::Json(rows) => rows.iter().flatten().fold(None, |t, m| widen(t, m.get(name).and_then(infer_json_type))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn load(text: &str, table: &str) -> (LoadedTable, LoadReport) {
        let location = "test";
        build_table(table, parse_records(text, location).unwrap(), location)
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
    fn known_table_gets_its_schema_and_keeps_extra_columns() {
        let (t, r) = load("{\"EventID\": 4624, \"Computer\": \"dc1\", \"Extra\": 1}\n", "SecurityEvent");
        assert_eq!(t.columns.len(), 229);
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
        let doc = r#"{"tables":[{"name":"PrimaryResult","columns":[{"name":"a","type":"long"}],"rows":[[1],[2]]}]}"#;
        let (_, r) = load(doc, "X");
        assert_eq!(r.loaded, 2);
    }
}
