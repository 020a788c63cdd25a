//! Results as ADX and Log Analytics encode them: Kusto's column type names,
//! values (datetime with seven fraction digits and `Z`, timespan as
//! `[-][d.]hh:mm:ss[.fffffff]`, dynamic as JSON, real NaN and infinities as
//! strings, decimal as a string, long as a JSON number), and the v1
//! (`{"Tables": …}`) and v2 (an array of frames) response bodies.

use crate::error::ApiError;
use datafusion::arrow::array::{Array, BinaryArray, BooleanArray, Float64Array, Int32Array, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::convert::format_real;
use kqlite_engine::dynamic::{write_json_string, DynRef};
use kqlite_engine::time::{format_datetime_text, format_timespan};
use kqlite_engine::{ColumnDef, KqlType};
use serde_json::{json, Value};
use std::fmt::Write as _;

/// Which API a value is encoded for: Log Analytics sends dynamic values as
/// JSON text in a string, ADX as nested JSON.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Kusto,
    LogAnalytics,
}

/// The .NET type name a v1 column's `DataType` carries.
pub fn dotnet_type(ty: KqlType) -> &'static str {
    match ty {
        KqlType::Bool => "Boolean",
        KqlType::Int => "Int32",
        KqlType::Long => "Int64",
        KqlType::Real => "Double",
        KqlType::Decimal => "Decimal",
        KqlType::String => "String",
        KqlType::Datetime => "DateTime",
        KqlType::Timespan => "TimeSpan",
        KqlType::Guid => "Guid",
        KqlType::Dynamic => "Object",
    }
}

/// The `System.*` type `.show database schema` names for a column.
pub fn system_type(ty: KqlType) -> &'static str {
    match ty {
        KqlType::Bool => "System.SByte",
        KqlType::Int => "System.Int32",
        KqlType::Long => "System.Int64",
        KqlType::Real => "System.Double",
        KqlType::Decimal => "System.Data.SqlTypes.SqlDecimal",
        KqlType::String => "System.String",
        KqlType::Datetime => "System.DateTime",
        KqlType::Timespan => "System.TimeSpan",
        KqlType::Guid => "System.Guid",
        KqlType::Dynamic => "System.Object",
    }
}

/// One cell as JSON text appended to `out`.
pub fn write_cell(out: &mut String, array: &dyn Array, row: usize, ty: KqlType, dialect: Dialect) {
    if array.is_null(row) {
        out.push_str("null");
        return;
    }
    let any = array.as_any();
    match ty {
        KqlType::Bool => match any.downcast_ref::<BooleanArray>() {
            Some(a) => out.push_str(if a.value(row) { "true" } else { "false" }),
            None => out.push_str("null"),
        },
        KqlType::Int => match any.downcast_ref::<Int32Array>() {
            Some(a) => {
                let _ = write!(out, "{}", a.value(row));
            }
            None => out.push_str("null"),
        },
        KqlType::Long => match any.downcast_ref::<Int64Array>() {
            Some(a) => {
                let _ = write!(out, "{}", a.value(row));
            }
            None => out.push_str("null"),
        },
        KqlType::Real => match any.downcast_ref::<Float64Array>() {
            Some(a) => write_real(out, a.value(row)),
            None => out.push_str("null"),
        },
        KqlType::Decimal => match any.downcast_ref::<Float64Array>() {
            Some(a) => write_json_string(out, &format_real(a.value(row))),
            None => out.push_str("null"),
        },
        KqlType::String | KqlType::Guid => match any.downcast_ref::<StringArray>() {
            Some(a) => write_json_string(out, a.value(row)),
            None => out.push_str("null"),
        },
        KqlType::Datetime => match any.downcast_ref::<Int64Array>() {
            Some(a) => write_json_string(out, &format_datetime_text(a.value(row))),
            None => out.push_str("null"),
        },
        KqlType::Timespan => match any.downcast_ref::<Int64Array>() {
            Some(a) => write_json_string(out, &format_timespan(a.value(row))),
            None => out.push_str("null"),
        },
        KqlType::Dynamic => match any.downcast_ref::<BinaryArray>() {
            Some(a) => {
                let value = DynRef::new(a.value(row));
                match dialect {
                    Dialect::Kusto => value.write_json(out),
                    Dialect::LogAnalytics => write_json_string(out, &value.to_json()),
                }
            }
            None => out.push_str("null"),
        },
    }
}

/// A real as ADX writes it: a number, or `"NaN"`, `"Infinity"`, `"-Infinity"`.
fn write_real(out: &mut String, value: f64) {
    if value.is_nan() {
        out.push_str("\"NaN\"");
    } else if value.is_infinite() {
        out.push_str(if value > 0.0 { "\"Infinity\"" } else { "\"-Infinity\"" });
    } else {
        // Rust's shortest round-trip form, always with a fraction or exponent
        // so clients read a real, never an integer.
        let text = format!("{value:?}");
        out.push_str(&text);
    }
}

/// A result table ready to write: its columns and its rows as one JSON
/// array text.
#[derive(Clone, Debug)]
pub struct EncodedTable {
    pub name: String,
    /// The v2 `TableKind`.
    pub kind: &'static str,
    pub columns: Vec<(String, KqlType)>,
    /// `[[…],[…]]`.
    pub rows: String,
    pub row_count: usize,
    /// Rows left out by the truncation limit.
    pub truncated: usize,
}

impl EncodedTable {
    /// Rows of Arrow batches, at most `limit` of them.
    pub fn from_batches(
        name: &str,
        kind: &'static str,
        columns: &[ColumnDef],
        batches: &[RecordBatch],
        limit: Option<u64>,
        dialect: Dialect,
    ) -> EncodedTable {
        let total: usize = batches.iter().map(RecordBatch::num_rows).sum();
        let keep = limit.map_or(total, |l| total.min(usize::try_from(l).unwrap_or(usize::MAX)));
        let mut rows = String::with_capacity(2 + keep * 16 * columns.len().max(1));
        rows.push('[');
        let mut written = 0;
        'batches: for batch in batches {
            for row in 0..batch.num_rows() {
                if written == keep {
                    break 'batches;
                }
                if written > 0 {
                    rows.push(',');
                }
                rows.push('[');
                for (i, column) in columns.iter().enumerate() {
                    if i > 0 {
                        rows.push(',');
                    }
                    write_cell(&mut rows, batch.column(i).as_ref(), row, column.ty, dialect);
                }
                rows.push(']');
                written += 1;
            }
        }
        rows.push(']');
        EncodedTable {
            name: name.to_string(),
            kind,
            columns: columns.iter().map(|c| (c.name.clone(), c.ty)).collect(),
            rows,
            row_count: written,
            truncated: total - written,
        }
    }

    /// Rows given as JSON values (control commands' own tables).
    /// Every result table of a query (one unless it ends in `fork` or
    /// `facet`), each a primary result named as the query names it, each
    /// cut at `limit` rows.
    pub fn primary_results(
        result: &kqlite_engine::QueryResult,
        limit: Option<u64>,
        dialect: Dialect,
    ) -> Vec<EncodedTable> {
        result
            .tables()
            .iter()
            .map(|t| EncodedTable::from_batches(t.name, "PrimaryResult", t.columns, t.batches, limit, dialect))
            .collect()
    }

    pub fn from_values(
        name: &str,
        kind: &'static str,
        columns: &[(&str, KqlType)],
        rows: &[Vec<Value>],
    ) -> EncodedTable {
        EncodedTable {
            name: name.to_string(),
            kind,
            columns: columns.iter().map(|(n, t)| (n.to_string(), *t)).collect(),
            rows: Value::Array(rows.iter().map(|r| Value::Array(r.clone())).collect()).to_string(),
            row_count: rows.len(),
            truncated: 0,
        }
    }

    fn v2_columns(&self) -> Value {
        Value::Array(self.columns.iter().map(|(n, t)| json!({"ColumnName": n, "ColumnType": t.name()})).collect())
    }

    fn v1_columns(&self) -> Value {
        Value::Array(
            self.columns
                .iter()
                .map(|(n, t)| json!({"ColumnName": n, "DataType": dotnet_type(*t), "ColumnType": t.name()}))
                .collect(),
        )
    }
}

/// An object's JSON text with `"Rows": rows` appended as its last property
/// (the Python client parses the stream and wants `Rows` last).
fn with_rows(object: Value, rows: &str) -> String {
    let mut text = object.to_string();
    text.pop(); // the closing brace
    if text.len() > 1 {
        text.push(',');
    }
    text.push_str("\"Rows\":");
    text.push_str(rows);
    text.push('}');
    text
}

/// The v1 body: `{"Tables": [{TableName, Columns, Rows}, …]}`.
pub fn v1_body(tables: &[EncodedTable]) -> String {
    let mut out = String::from("{\"Tables\":[");
    for (i, table) in tables.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&with_rows(json!({"TableName": table.name, "Columns": table.v1_columns()}), &table.rows));
    }
    out.push_str("]}");
    out
}

/// The `Visualization` value ADX sends for a query: its `render`'s
/// properties, or every property null.
fn visualization_json(visualization: Option<&kqlite_engine::Visualization>) -> Value {
    visualization.map_or_else(kqlite_engine::Visualization::kusto_json_none, |v| v.to_kusto_json())
}

/// The tables of a v1 query response: the primary results as `Table_0`,
/// `Table_1`, …; when the query has a `render` or makes several results,
/// then a `QueryProperties` table (the `Visualization` JSON text) and a
/// table of contents naming every table (each primary result by its own
/// name: `PrimaryResult`, or a `fork`/`facet` result's name), which clients
/// read as the last table.
pub fn v1_query_tables(
    primaries: Vec<EncodedTable>,
    visualization: Option<&kqlite_engine::Visualization>,
) -> Vec<EncodedTable> {
    let count = primaries.len();
    let mut contents_rows = Vec::new();
    let mut tables = Vec::new();
    for (ordinal, mut table) in primaries.into_iter().enumerate() {
        contents_rows.push(vec![json!(ordinal), json!("QueryResult"), json!(table.name), json!(NIL_GUID), json!("")]);
        table.name = format!("Table_{ordinal}");
        tables.push(table);
    }
    if visualization.is_none() && count == 1 {
        return tables;
    }
    let properties = EncodedTable::from_values(
        &format!("Table_{count}"),
        "QueryProperties",
        &[("Value", KqlType::String)],
        &[vec![json!(visualization_json(visualization).to_string())]],
    );
    contents_rows.push(vec![
        json!(count),
        json!("QueryProperties"),
        json!("@ExtendedProperties"),
        json!(NIL_GUID),
        json!(""),
    ]);
    let contents = EncodedTable::from_values(
        &format!("Table_{}", count + 1),
        "TableOfContents",
        &[
            ("Ordinal", KqlType::Long),
            ("Kind", KqlType::String),
            ("Name", KqlType::String),
            ("Id", KqlType::String),
            ("PrettyName", KqlType::String),
        ],
        &contents_rows,
    );
    tables.push(properties);
    tables.push(contents);
    tables
}

/// What a v2 response reports besides the primary results.
pub struct V2Extras<'a> {
    pub client_request_id: Option<&'a str>,
    pub progressive: bool,
    /// An error met after the results began (truncation): reported inline.
    pub error: Option<&'a ApiError>,
    /// The query's `render`, sent as the `Visualization` property.
    pub visualization: Option<&'a kqlite_engine::Visualization>,
}

/// The v2 body: DataSetHeader, @ExtendedProperties, the primary tables
/// (whole DataTable frames, or TableHeader/TableFragment/TableCompletion
/// when progressive), QueryCompletionInformation and DataSetCompletion.
pub fn v2_body(primary: &[EncodedTable], extras: &V2Extras) -> String {
    let mut frames: Vec<String> = Vec::new();
    frames.push(
        json!({"FrameType": "DataSetHeader", "IsProgressive": extras.progressive, "Version": "v2.0",
               "IsFragmented": false, "ErrorReportingPlacement": "InData"})
        .to_string(),
    );
    let properties = EncodedTable::from_values(
        "@ExtendedProperties",
        "QueryProperties",
        &[("TableId", KqlType::Int), ("Key", KqlType::String), ("Value", KqlType::Dynamic)],
        &[vec![json!(1), json!("Visualization"), visualization_json(extras.visualization)]],
    );
    let mut table_id = 0;
    frames.push(data_table(table_id, &properties, None));
    for table in primary {
        table_id += 1;
        let inline_error = extras.error.filter(|_| table.truncated > 0);
        if extras.progressive {
            frames.push(
                json!({"FrameType": "TableHeader", "TableId": table_id, "TableKind": table.kind,
                       "TableName": table.name, "Columns": table.v2_columns()})
                .to_string(),
            );
            frames.push(with_rows(
                json!({"FrameType": "TableFragment", "TableFragmentType": "DataAppend", "TableId": table_id,
                       "FieldCount": table.columns.len()}),
                &table.rows,
            ));
            let mut completion =
                json!({"FrameType": "TableCompletion", "TableId": table_id, "RowCount": table.row_count});
            if let Some(error) = inline_error {
                completion["OneApiErrors"] = json!([error.one_api_error()]);
            }
            frames.push(completion.to_string());
        } else {
            frames.push(data_table(table_id, table, inline_error));
        }
    }
    table_id += 1;
    let now = format_datetime_text(kqlite_engine::time::now_nanos());
    let (level, level_name, status, status_name) = match extras.error {
        Some(_) => (2, "Error", 1, "PartialQueryFailure"),
        None => (4, "Info", 0, "S_OK (0)"),
    };
    let completion_information = EncodedTable::from_values(
        "QueryCompletionInformation",
        "QueryCompletionInformation",
        &[
            ("Timestamp", KqlType::Datetime),
            ("ClientRequestId", KqlType::String),
            ("ActivityId", KqlType::Guid),
            ("SubActivityId", KqlType::Guid),
            ("ParentActivityId", KqlType::Guid),
            ("Level", KqlType::Int),
            ("LevelName", KqlType::String),
            ("StatusCode", KqlType::Int),
            ("StatusCodeName", KqlType::String),
            ("EventType", KqlType::Int),
            ("EventTypeName", KqlType::String),
            ("Payload", KqlType::String),
        ],
        &[vec![
            json!(now),
            json!(extras.client_request_id.unwrap_or_default()),
            json!(NIL_GUID),
            json!(NIL_GUID),
            json!(NIL_GUID),
            json!(level),
            json!(level_name),
            json!(status),
            json!(status_name),
            json!(4),
            json!("QueryInfo"),
            json!(json!({"Count": 1, "Text": "Query completed"}).to_string()),
        ]],
    );
    frames.push(data_table(table_id, &completion_information, None));
    let mut completion =
        json!({"FrameType": "DataSetCompletion", "HasErrors": extras.error.is_some(), "Cancelled": false});
    if let Some(error) = extras.error {
        completion["OneApiErrors"] = json!([error.one_api_error()]);
    }
    frames.push(completion.to_string());
    format!("[{}]", frames.join(",\n"))
}

const NIL_GUID: &str = "00000000-0000-0000-0000-000000000000";

/// A whole DataTable frame; an error met partway is an inline
/// `{"OneApiErrors": […]}` row, which the Python client raises.
fn data_table(table_id: usize, table: &EncodedTable, inline_error: Option<&ApiError>) -> String {
    let rows = match inline_error {
        Some(error) => {
            let row = json!({"OneApiErrors": [error.one_api_error()]}).to_string();
            if table.row_count == 0 {
                format!("[{row}]")
            } else {
                format!("{},{row}]", &table.rows[..table.rows.len() - 1])
            }
        }
        None => table.rows.clone(),
    };
    with_rows(
        json!({"FrameType": "DataTable", "TableId": table_id, "TableKind": table.kind, "TableName": table.name,
               "Columns": table.v2_columns()}),
        &rows,
    )
}

/// The Log Analytics body: `{"tables": [{name, columns: [{name, type}], rows}]}`, then `render` and
/// `statistics` where the request's `Prefer` header asked for them.
pub fn log_analytics_body(tables: &[EncodedTable], render: Option<&Value>, statistics: Option<&Value>) -> String {
    let mut out = String::from("{\"tables\":[");
    for (i, table) in tables.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let columns: Vec<Value> = table.columns.iter().map(|(n, t)| json!({"name": n, "type": t.name()})).collect();
        let mut text = json!({"name": table.name, "columns": columns}).to_string();
        text.pop();
        text.push_str(",\"rows\":");
        text.push_str(&table.rows);
        text.push('}');
        out.push_str(&text);
    }
    out.push(']');
    for (key, value) in [("render", render), ("statistics", statistics)] {
        if let Some(value) = value {
            out.push_str(&format!(",{}:{value}", json!(key)));
        }
    }
    out.push('}');
    out
}
