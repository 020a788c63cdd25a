//! Reading one input with the reader its format needs, handing every batch
//! to a sink as it is made.

use crate::evtx::{read_evtx, read_evtx_from, EvtxOptions};
use crate::format::Format;
use crate::source::{Content, Source};
use crate::tabular::{load_text, load_text_at, table_for_columns, table_name_from_location, LoadReport, LoadedTable};
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

/// Reads `source` as `format`, handing batches to `sink`.
pub fn read_source(source: &Source, format: Format, evtx: &EvtxOptions, sink: &mut Sink) -> Outcome {
    match format {
        Format::Evtx => {
            let mut to_sink = |table: crate::evtx::EvtxTable, batch| sink(table.name(), table.columns(), batch);
            // The parser seeks: extracted content is read from its
            // temporary file, and a gzip stream is decompressed to one first
            // (memory stays bounded).
            let location = &source.location;
            let mut from_spool = |spool: &tempfile::NamedTempFile| match spool.reopen() {
                Ok(file) => Ok(read_evtx_from(file, location, evtx, &mut to_sink)),
                Err(e) => Err(format!("{location}: cannot read its extracted copy: {e}")),
            };
            let report = match &source.content {
                Content::File => read_evtx(&source.path, evtx, &mut to_sink),
                Content::Bytes(bytes) => read_evtx_from(std::io::Cursor::new(&bytes[..]), location, evtx, &mut to_sink),
                Content::Spooled(spool) => match from_spool(spool) {
                    Ok(report) => report,
                    Err(message) => return failed(message),
                },
                Content::Gzip => match source.reader().and_then(|mut r| crate::source::spool(&mut *r)) {
                    Ok(spool) => match from_spool(&spool) {
                        Ok(report) => report,
                        Err(message) => return failed(message),
                    },
                    Err(e) => return failed(format!("{location}: {e}")),
                },
            };
            Outcome { report: report.load, error: report.error }
        }
        Format::Parquet => read_parquet(source, sink),
        Format::Syslog => read_syslog(source, sink),
        Format::WindowsJson => match source.reader() {
            Ok(reader) => {
                let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
                let mut to_sink = |tables: Vec<LoadedTable>| sink_tables(tables, sink);
                let report = crate::windows_json::read_windows_json(
                    &mut reader,
                    &source.location,
                    evtx.security_in_windows_event,
                    &mut to_sink,
                );
                Outcome { report, error: None }
            }
            Err(e) => failed(format!("{}: cannot read: {e}", source.location)),
        },
        Format::Json | Format::Csv => {
            let head = match source.head() {
                Ok(head) => head,
                Err(e) => return failed(format!("{}: cannot read: {e}", source.location)),
            };
            if format == Format::Csv || first_line_is_object(&head) {
                return read_in_chunks(source, format, sink);
            }
            read_json_document(source, sink)
        }
    }
}

/// A JSON document: arrays of records and `{"records":[…]}` exports
/// streamed (see [`crate::json_stream`]); other shapes read whole. A
/// document that fails before its first record is read as text, as JSON
/// lines are (each bad line rejected with its number).
fn read_json_document(source: &Source, sink: &mut Sink) -> Outcome {
    use crate::json_stream::Streamed;
    let location = &source.location;
    let mut report = LoadReport::default();
    let reader = match source.reader() {
        Ok(reader) => reader,
        Err(e) => return failed(format!("{location}: cannot read: {e}")),
    };
    let mut emit = |tables: Vec<LoadedTable>, piece: LoadReport, report: &mut LoadReport| {
        sink_tables(tables, sink);
        absorb_once(report, piece);
    };
    let streamed =
        crate::json_stream::read_json_document(reader, location, &mut |tables, piece| emit(tables, piece, &mut report));
    match streamed {
        Ok(Streamed::Records) => Outcome { report, error: None },
        Ok(Streamed::Document(map)) => {
            let (tables, piece) = crate::tabular::load_json_document(map, location);
            emit(tables, piece, &mut report);
            Outcome { report, error: None }
        }
        Err((_, 0)) => {
            let bytes = match source.bytes() {
                Ok(bytes) => bytes,
                Err(e) => return failed(format!("{location}: cannot read: {e}")),
            };
            let mut notices = Vec::new();
            let text = utf8(&bytes, location, 0, &mut notices);
            match load_text(&text, location, None) {
                Ok((tables, mut report)) => {
                    notices.append(&mut report.notices);
                    report.notices = notices;
                    hand_over(tables, report, sink)
                }
                Err(e) => failed(e),
            }
        }
        Err((error, _)) => Outcome { report, error: Some(error) },
    }
}

/// Text from bytes; invalid UTF-8 is replaced, with a notice.
fn utf8<'b>(bytes: &'b [u8], location: &str, line: usize, notices: &mut Vec<String>) -> std::borrow::Cow<'b, str> {
    match std::str::from_utf8(bytes) {
        Ok(text) => std::borrow::Cow::Borrowed(text),
        Err(e) => {
            let at = if line > 0 { format!("line {line}") } else { format!("byte {}", e.valid_up_to()) };
            notices
                .push(format!("{location}: not valid UTF-8 (first at {at}); invalid bytes were replaced with U+FFFD"));
            String::from_utf8_lossy(bytes)
        }
    }
}

/// Whether the first non-blank line is a whole JSON object: JSON lines.
fn first_line_is_object(head: &[u8]) -> bool {
    let text = String::from_utf8_lossy(head);
    let text = text.trim_start_matches('\u{feff}');
    text.lines()
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| matches!(serde_json::from_str::<serde_json::Value>(l), Ok(serde_json::Value::Object(_))))
}

/// Text read per chunk of line-based input: memory stays bounded whatever
/// the input size.
const CHUNK_BYTES: usize = 4 << 20;

/// JSON lines or CSV read a chunk of whole records at a time (CSV chunks
/// get the header line in front and end outside quotes, so quoted newlines
/// stay inside a record).
fn read_in_chunks(source: &Source, format: Format, sink: &mut Sink) -> Outcome {
    use std::io::BufRead;
    let location = &source.location;
    let reader = match source.reader() {
        Ok(reader) => reader,
        Err(e) => return failed(format!("{location}: cannot read: {e}")),
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 20, reader);
    let csv = format == Format::Csv;
    let mut report = LoadReport::default();
    let mut error = None;
    let mut header = String::new();
    let mut header_done = false;
    let header_lines = std::cell::Cell::new(0usize);
    let mut chunk = String::new();
    let mut chunk_first_line = 1;
    let mut quotes = 0usize;
    let mut line_number = 0;
    let mut line = Vec::new();
    let mut flush = |text: &str, first_line: usize, report: &mut LoadReport| {
        // CSV: the piece starts with the header's lines (blank lines before
        // it included), then the chunk's first record.
        let header_lines = header_lines.get();
        let offset = if csv { first_line.saturating_sub(1 + header_lines) } else { first_line - 1 };
        match load_text_at(text, location, None, offset) {
            Ok((tables, piece)) => {
                for table in tables {
                    for batch in table.batches {
                        sink(&table.name, &table.columns, batch);
                    }
                }
                absorb_once(report, piece);
            }
            Err(e) => report.notices.push(e.to_string()),
        }
    };
    loop {
        line.clear();
        match reader.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                // What was read before stays; the damaged rest is reported.
                error = Some(format!("{location}: stopped after line {line_number}: {e}"));
                break;
            }
        }
        line_number += 1;
        let text = utf8(&line, location, line_number, &mut report.notices);
        if csv && !header_done {
            // The header (blank lines before it kept, for line numbers).
            quotes += text.matches('"').count();
            header.push_str(&text);
            header_done = !header.trim().is_empty() && quotes.is_multiple_of(2);
            if header_done {
                quotes = 0;
                header_lines.set(line_number);
            }
            continue;
        }
        if chunk.is_empty() {
            chunk_first_line = line_number;
        }
        if csv {
            quotes += text.matches('"').count();
        }
        chunk.push_str(&text);
        if chunk.len() >= CHUNK_BYTES && quotes.is_multiple_of(2) {
            let piece = if csv { format!("{header}{chunk}") } else { std::mem::take(&mut chunk) };
            flush(&piece, chunk_first_line, &mut report);
            chunk.clear();
        }
    }
    if !chunk.is_empty() || (csv && header_done && report.records_read == 0) {
        let piece = if csv { format!("{header}{chunk}") } else { chunk };
        flush(&piece, chunk_first_line, &mut report);
    }
    Outcome { report, error }
}

/// Adds a chunk's report; notices repeated by every chunk are kept once.
fn absorb_once(report: &mut LoadReport, mut piece: LoadReport) {
    piece.notices.retain(|n| !report.notices.contains(n));
    report.absorb(piece);
}

/// Syslog, streamed (see [`crate::syslog::read_syslog_source`]).
fn read_syslog(source: &Source, sink: &mut Sink) -> Outcome {
    let (report, error) = crate::syslog::read_syslog_source(source, &mut |table| sink_tables(vec![table], sink));
    Outcome { report, error: error.map(|e| e.to_string()) }
}

fn failed(error: impl std::fmt::Display) -> Outcome {
    Outcome { report: LoadReport::default(), error: Some(error.to_string()) }
}

fn hand_over(tables: Vec<LoadedTable>, report: LoadReport, sink: &mut Sink) -> Outcome {
    sink_tables(tables, sink);
    Outcome { report, error: None }
}

/// Hands every batch of `tables` to `sink`.
fn sink_tables(tables: Vec<LoadedTable>, sink: &mut Sink) {
    for table in tables {
        for batch in table.batches {
            sink(&table.name, &table.columns, batch);
        }
    }
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
        Ok(builder) => builder.with_batch_size(kqlite_engine::BATCH_ROWS),
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
