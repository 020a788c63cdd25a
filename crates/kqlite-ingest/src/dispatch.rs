//! Reading one input with the reader its format needs, handing every batch
//! to a sink as it is made.

use crate::evtx::{read_evtx, read_evtx_from, EvtxOptions};
use crate::source::{Content, Format, Source};
use crate::tabular::{load_text, table_for_columns, table_name_from_location, LoadReport, LoadedTable};
use crate::{catalog, conform};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::ColumnDef;

/// Receives each batch: table name, the batch's KQL columns, the batch.
pub type Sink<'a> = dyn FnMut(&str, &[ColumnDef], RecordBatch) + 'a;

/// What reading one input did.
pub struct Outcome {
    pub report: LoadReport,
    /// Set when the input could not be read (or reading stopped early);
    /// the report covers what was read before.
    pub error: Option<String>,
}

/// Whether a JSON object is a Windows event from NXLog or Winlogbeat.
pub fn is_windows_json(map: &serde_json::Map<String, serde_json::Value>) -> bool {
    crate::windows_json::looks_like_windows_json(map)
}

/// Reads `source` as `format`, handing batches to `sink`.
pub fn read_source(source: &Source, format: Format, evtx: &EvtxOptions, sink: &mut Sink) -> Outcome {
    match format {
        Format::Evtx => {
            let mut to_sink = |table: crate::evtx::EvtxTable, batch| sink(table.name(), table.columns(), batch);
            let report = match &source.content {
                Content::File => read_evtx(&source.path, evtx, &mut to_sink),
                Content::Bytes(bytes) => {
                    read_evtx_from(std::io::Cursor::new(&bytes[..]), &source.location, evtx, &mut to_sink)
                }
            };
            Outcome { report: report.load, error: report.error }
        }
        Format::Parquet => read_parquet(source, sink),
        Format::Syslog => {
            let loaded = match &source.content {
                // The syslog reader takes the year of RFC 3164 dates from the
                // file (or gzip header) time.
                Content::File => crate::syslog::load_syslog(&source.path),
                Content::Bytes(bytes) => {
                    let reference = std::fs::metadata(&source.path)
                        .and_then(|m| m.modified())
                        .ok()
                        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
                        .map_or_else(kqlite_engine::time::now_nanos, |d| d.as_nanos() as i64);
                    Ok(crate::syslog::load_bytes(bytes, &source.location, reference))
                }
            };
            match loaded {
                Ok((table, report)) => hand_over(vec![table], report, sink),
                Err(e) => failed(e),
            }
        }
        Format::WindowsJson => match source.bytes() {
            Ok(bytes) => {
                let (tables, report) = crate::windows_json::load_windows_json(&bytes, &source.location);
                hand_over(tables, report, sink)
            }
            Err(e) => failed(format!("{}: cannot read: {e}", source.location)),
        },
        Format::Json | Format::Csv => {
            let bytes = match source.bytes() {
                Ok(bytes) => bytes,
                Err(e) => return failed(format!("{}: cannot read: {e}", source.location)),
            };
            let mut notices = Vec::new();
            let text = match std::str::from_utf8(&bytes) {
                Ok(text) => std::borrow::Cow::Borrowed(text),
                Err(e) => {
                    notices.push(format!(
                        "{}: not valid UTF-8 (first at byte {}); invalid bytes were replaced with U+FFFD",
                        source.location,
                        e.valid_up_to()
                    ));
                    String::from_utf8_lossy(&bytes)
                }
            };
            match load_text(&text, &source.location, None) {
                Ok((tables, mut report)) => {
                    notices.append(&mut report.notices);
                    report.notices = notices;
                    hand_over(tables, report, sink)
                }
                Err(e) => failed(e),
            }
        }
    }
}

fn failed(error: String) -> Outcome {
    Outcome { report: LoadReport::default(), error: Some(error) }
}

fn hand_over(tables: Vec<LoadedTable>, report: LoadReport, sink: &mut Sink) -> Outcome {
    for table in tables {
        for batch in table.batches {
            sink(&table.name, &table.columns, batch);
        }
    }
    Outcome { report, error: None }
}

/// A Parquet file as the catalog table its columns match (or a table named
/// after the file), read batch by batch.
fn read_parquet(source: &Source, sink: &mut Sink) -> Outcome {
    use datafusion::parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let location = &source.location;
    if !matches!(source.content, Content::File) {
        return failed(format!("{location}: Parquet inside a gzip or zip container is not read; extract it first"));
    }
    let builder = match std::fs::File::open(&source.path)
        .map_err(|e| e.to_string())
        .and_then(|f| ParquetRecordBatchReaderBuilder::try_new(f).map_err(|e| e.to_string()))
    {
        Ok(builder) => builder.with_batch_size(8192),
        Err(e) => return failed(format!("{location}: not a readable Parquet file: {e}")),
    };
    let fields = builder.schema().fields().clone();
    let mut report = LoadReport::default();
    let table = match table_for_columns(fields.iter().map(|f| f.name().as_str())) {
        Some((table, matched)) => {
            report.notices.push(format!(
                "{location}: loaded as {table}: {matched} of its {} columns are in that table's schema",
                fields.len()
            ));
            table.to_string()
        }
        None => table_name_from_location(location),
    };
    let known = catalog::table_schema(&table);
    let mut columns = Vec::new();
    for field in &fields {
        let declared = known.and_then(|k| k.iter().find(|c| &c.name == field.name())).map(|c| c.ty);
        match declared.or_else(|| kqlite_engine::session::kql_type_of(field.data_type())) {
            Some(ty) => columns.push(ColumnDef::new(field.name().clone(), ty)),
            None => {
                return failed(format!(
                    "{location}: column '{}' has Arrow type {}, which kqlite cannot map to a KQL type",
                    field.name(),
                    field.data_type()
                ))
            }
        }
    }
    let reader = match builder.build() {
        Ok(reader) => reader,
        Err(e) => return failed(format!("{location}: cannot read: {e}")),
    };
    let schema = conform::schema_of(&columns);
    for (i, batch) in reader.enumerate() {
        let batch = match batch {
            Ok(batch) => batch,
            Err(e) => {
                // The rows of an unreadable batch are unknown: the file stops here.
                return Outcome { report, error: Some(format!("{location}: batch {}: {e}", i + 1)) };
            }
        };
        let mut arrays = Vec::with_capacity(columns.len());
        for (array, column) in batch.columns().iter().zip(&columns) {
            match conform::from_stored(array, column.ty) {
                Ok((array, failures)) => {
                    report.conversion_failures += failures;
                    arrays.push(array);
                }
                Err(e) => return Outcome { report, error: Some(format!("{location}: column {}: {e}", column.name)) },
            }
        }
        let rows = batch.num_rows();
        report.records_read += rows;
        report.loaded += rows;
        sink(&table, &columns, RecordBatch::try_new(schema.clone(), arrays).expect("arrays match the columns"));
    }
    Outcome { report, error: None }
}
