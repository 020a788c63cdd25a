//! Rendering results by KQL type: aligned tables, CSV, JSON and JSON lines.
//!
//! Datetimes print as ISO 8601 UTC (`2017-01-01T00:00:00Z`, a fraction only
//! when non-zero), timespans in Kusto's text form (`1.02:03:04.5000000`),
//! dynamic values as JSON.

use crate::convert::format_real;
use crate::dynamic::{write_json_string, DynRef};
use crate::session::QueryResult;
use crate::time::{format_timespan, write_datetime};
use crate::types::{ColumnDef, KqlType};
use datafusion::arrow::array::*;
use datafusion::arrow::record_batch::RecordBatch;
use std::fmt::Write as _;
use std::io::{self, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    Table,
    Csv,
    Json,
    Jsonl,
}

/// One cell as display text (table and CSV): null is empty.
pub fn cell_text(array: &dyn Array, row: usize, ty: KqlType) -> String {
    let mut out = String::new();
    write_cell_text(&mut out, array, row, ty);
    out
}

/// [`cell_text`], appended to `out` (CSV of many rows reuses one buffer).
pub fn write_cell_text(out: &mut String, array: &dyn Array, row: usize, ty: KqlType) {
    if array.is_null(row) {
        return;
    }
    let any = array.as_any();
    match ty {
        KqlType::Bool => {
            if let Some(a) = any.downcast_ref::<BooleanArray>() {
                out.push_str(if a.value(row) { "true" } else { "false" });
            }
        }
        KqlType::Int => {
            if let Some(a) = any.downcast_ref::<Int32Array>() {
                out.push_str(itoa::Buffer::new().format(a.value(row)));
            }
        }
        KqlType::Long => {
            if let Some(a) = any.downcast_ref::<Int64Array>() {
                out.push_str(itoa::Buffer::new().format(a.value(row)));
            }
        }
        KqlType::Real | KqlType::Decimal => {
            if let Some(a) = any.downcast_ref::<Float64Array>() {
                out.push_str(&format_real(a.value(row)));
            }
        }
        KqlType::String | KqlType::Guid => {
            if let Some(a) = any.downcast_ref::<StringArray>() {
                out.push_str(a.value(row));
            }
        }
        KqlType::Datetime => {
            if let Some(a) = any.downcast_ref::<Int64Array>() {
                write_datetime(out, a.value(row));
            }
        }
        KqlType::Timespan => {
            if let Some(a) = any.downcast_ref::<Int64Array>() {
                out.push_str(&format_timespan(a.value(row)));
            }
        }
        // Text shows a dynamic string as the string itself, other values as JSON.
        KqlType::Dynamic => {
            if let Some(a) = any.downcast_ref::<BinaryArray>() {
                DynRef::new(a.value(row)).write_kql_string(out);
            }
        }
    }
}

/// One cell as a JSON value.
pub fn write_cell_json(out: &mut String, array: &dyn Array, row: usize, ty: KqlType) {
    if array.is_null(row) {
        out.push_str("null");
        return;
    }
    match ty {
        KqlType::Bool | KqlType::Int | KqlType::Long => write_cell_text(out, array, row, ty),
        KqlType::Real | KqlType::Decimal => {
            let v = array.as_any().downcast_ref::<Float64Array>().map(|a| a.value(row)).unwrap_or(f64::NAN);
            if v.is_finite() {
                let _ = write!(out, "{}", format_real(v));
            } else {
                write_json_string(out, &format_real(v));
            }
        }
        KqlType::Dynamic => match array.as_any().downcast_ref::<BinaryArray>() {
            Some(a) => DynRef::new(a.value(row)).write_json(out),
            None => out.push_str("null"),
        },
        _ => write_json_string(out, &cell_text(array, row, ty)),
    }
}

fn rows(batches: &[RecordBatch]) -> impl Iterator<Item = (&RecordBatch, usize)> {
    batches.iter().flat_map(|b| (0..b.num_rows()).map(move |r| (b, r)))
}

/// Writes a query's result.
///
/// An ordinary query's one unnamed table is written alone. The tables of a
/// query that names its results (`fork`, `facet`, even with one table) are
/// each written under their name:
/// - table and CSV: a line `# Name` before each table, a blank line between
///   tables;
/// - JSON: one object `{"tables":[{"name":…,"columns":[…],"rows":[…]},…]}`;
/// - JSON lines: each row as `{"table":"Name","row":{…}}`.
pub fn write(result: &QueryResult, format: Format, out: &mut dyn Write) -> io::Result<()> {
    if result.name.is_none() {
        return write_table_as(&result.columns, &result.batches, format, out);
    }
    let tables = result.tables();
    match format {
        Format::Table | Format::Csv => {
            for (n, table) in tables.iter().enumerate() {
                if n > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "# {}", table.name)?;
                write_table_as(table.columns, table.batches, format, out)?;
            }
            Ok(())
        }
        Format::Json => {
            out.write_all(b"{\"tables\":[")?;
            for (n, table) in tables.iter().enumerate() {
                if n > 0 {
                    out.write_all(b",")?;
                }
                write_json_object(Some(table.name), table.columns, table.batches, out)?;
            }
            out.write_all(b"]}\n")
        }
        Format::Jsonl => {
            for table in &tables {
                let mut prefix = String::from("{\"table\":");
                write_json_string(&mut prefix, table.name);
                prefix.push_str(",\"row\":");
                write_jsonl_rows(table.columns, table.batches, &prefix, "}", out)?;
            }
            Ok(())
        }
    }
}

/// Writes one table in `format`.
fn write_table_as(
    columns: &[ColumnDef],
    batches: &[RecordBatch],
    format: Format,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        Format::Table => write_table(columns, batches, out),
        Format::Csv => write_csv(columns, batches, out),
        Format::Json => write_json(columns, batches, out),
        Format::Jsonl => write_jsonl_rows(columns, batches, "", "", out),
    }
}

fn write_table(columns: &[ColumnDef], batches: &[RecordBatch], out: &mut dyn Write) -> io::Result<()> {
    let mut cells: Vec<Vec<String>> = vec![columns.iter().map(|c| c.name.clone()).collect()];
    for (batch, r) in rows(batches) {
        cells.push(columns.iter().enumerate().map(|(i, c)| cell_text(batch.column(i).as_ref(), r, c.ty)).collect());
    }
    let widths: Vec<usize> =
        (0..columns.len()).map(|i| cells.iter().map(|row| row[i].chars().count()).max().unwrap_or(0)).collect();
    for (n, row) in cells.iter().enumerate() {
        let line: Vec<String> = row.iter().zip(&widths).map(|(c, w)| padded(c, *w)).collect();
        writeln!(out, "{}", line.join("  ").trim_end())?;
        if n == 0 {
            let rule: Vec<String> = widths.iter().map(|w| "-".repeat(*w)).collect();
            writeln!(out, "{}", rule.join("  "))?;
        }
    }
    Ok(())
}

/// `text` padded with spaces to `width` characters. Not `{:<w$}`: the
/// formatter's width must fit in 16 bits, and a multi-megabyte cell's does
/// not.
fn padded(text: &str, width: usize) -> String {
    let missing = width.saturating_sub(text.chars().count());
    let mut cell = String::with_capacity(text.len() + missing);
    cell.push_str(text);
    cell.extend(std::iter::repeat_n(' ', missing));
    cell
}

/// CSV with a header line, quoting only fields that need it.
fn write_csv(columns: &[ColumnDef], batches: &[RecordBatch], out: &mut dyn Write) -> io::Result<()> {
    let mut writer = csv::Writer::from_writer(out);
    writer = write_csv_record(writer, columns.iter().map(|c| c.name.clone()).collect())?;
    if columns.len() == 1 {
        // A line of one empty field is written specially (`write_csv_record`).
        for (batch, r) in rows(batches) {
            writer = write_csv_record(writer, vec![cell_text(batch.column(0).as_ref(), r, columns[0].ty)])?;
        }
        return writer.flush();
    }
    // Each field through one reused buffer, no strings per cell or row.
    let mut cell = String::new();
    for (batch, r) in rows(batches) {
        for (i, c) in columns.iter().enumerate() {
            cell.clear();
            write_cell_text(&mut cell, batch.column(i).as_ref(), r, c.ty);
            writer.write_field(&cell)?;
        }
        writer.write_record(None::<&[u8]>)?;
    }
    writer.flush()
}

/// One CSV line. A line of one empty field (or none) stays an empty line,
/// as kqlite has always written it, where the `csv` writer would write `""`.
fn write_csv_record(
    mut writer: csv::Writer<&mut dyn Write>,
    fields: Vec<String>,
) -> io::Result<csv::Writer<&mut dyn Write>> {
    if fields.len() <= 1 && fields.iter().all(String::is_empty) {
        let out = writer.into_inner().map_err(|e| e.into_error())?;
        out.write_all(b"\n")?;
        return Ok(csv::Writer::from_writer(out));
    }
    writer.write_record(&fields)?;
    Ok(writer)
}

fn write_json(columns: &[ColumnDef], batches: &[RecordBatch], out: &mut dyn Write) -> io::Result<()> {
    write_json_object(None, columns, batches, out)?;
    out.write_all(b"\n")
}

/// One table as `{["name":…,]"columns":[…],"rows":[…]}`.
fn write_json_object(
    name: Option<&str>,
    columns: &[ColumnDef],
    batches: &[RecordBatch],
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut s = String::from("{");
    if let Some(name) = name {
        s.push_str("\"name\":");
        write_json_string(&mut s, name);
        s.push(',');
    }
    s.push_str("\"columns\":[");
    for (i, c) in columns.iter().enumerate() {
        if i > 0 {
            s.push(',');
        }
        s.push_str("{\"name\":");
        write_json_string(&mut s, &c.name);
        let _ = write!(s, ",\"type\":\"{}\"}}", c.ty.name());
    }
    s.push_str("],\"rows\":[");
    for (n, (batch, r)) in rows(batches).enumerate() {
        if n > 0 {
            s.push(',');
        }
        s.push('[');
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            write_cell_json(&mut s, batch.column(i).as_ref(), r, c.ty);
        }
        s.push(']');
        if s.len() > 1 << 20 {
            out.write_all(s.as_bytes())?;
            s.clear();
        }
    }
    s.push_str("]}");
    out.write_all(s.as_bytes())
}

/// Each row as a JSON object of its columns, one a line, between `prefix`
/// and `suffix`.
fn write_jsonl_rows(
    columns: &[ColumnDef],
    batches: &[RecordBatch],
    prefix: &str,
    suffix: &str,
    out: &mut dyn Write,
) -> io::Result<()> {
    let mut s = String::new();
    for (batch, r) in rows(batches) {
        s.clear();
        s.push_str(prefix);
        s.push('{');
        for (i, c) in columns.iter().enumerate() {
            if i > 0 {
                s.push(',');
            }
            write_json_string(&mut s, &c.name);
            s.push(':');
            write_cell_json(&mut s, batch.column(i).as_ref(), r, c.ty);
        }
        s.push('}');
        s.push_str(suffix);
        s.push('\n');
        out.write_all(s.as_bytes())?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    fn csv_of(columns: &[&str], rows: &[&[&str]]) -> String {
        let columns: Vec<ColumnDef> = columns.iter().map(|n| ColumnDef::new(n.to_string(), KqlType::String)).collect();
        let arrays: Vec<ArrayRef> = (0..columns.len())
            .map(|i| Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r[i]))) as ArrayRef)
            .collect();
        let batch = RecordBatch::try_new(crate::types::arrow_schema(&columns), arrays).unwrap();
        let mut out = Vec::new();
        write_csv(&columns, &[batch], &mut out).unwrap();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn csv_quotes_only_fields_with_separators_quotes_or_line_breaks() {
        let text =
            csv_of(&["a", "b,c"], &[&["", "plain"], &["say \"hi\"", "two\nlines"], &["cr\r", " spaced "], &["", ""]]);
        assert_eq!(text, "a,\"b,c\"\n,plain\n\"say \"\"hi\"\"\",\"two\nlines\"\n\"cr\r\", spaced \n,\n");
    }

    #[test]
    fn table_pads_a_multi_megabyte_cell_without_panicking() {
        let big = "x".repeat(3 << 20);
        let columns =
            vec![ColumnDef::new("a".to_string(), KqlType::String), ColumnDef::new("b".to_string(), KqlType::String)];
        let arrays: Vec<ArrayRef> = vec![
            Arc::new(StringArray::from_iter_values([big.as_str(), "short"])),
            Arc::new(StringArray::from_iter_values(["1", "2"])),
        ];
        let batch = RecordBatch::try_new(crate::types::arrow_schema(&columns), arrays).unwrap();
        let mut out = Vec::new();
        write_table(&columns, &[batch], &mut out).unwrap();
        let text = String::from_utf8(out).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 4);
        // Every line's second column starts after the widest first cell.
        assert_eq!(lines[0].len(), big.len() + 2 + 1);
        assert_eq!(lines[2], format!("{big}  1"));
        assert_eq!(lines[3], format!("short{}  2", " ".repeat(big.len() - 5)));
    }

    #[test]
    fn csv_writes_a_lone_empty_field_as_an_empty_line() {
        assert_eq!(csv_of(&["a"], &[&[""], &["x"], &[""]]), "a\n\nx\n\n");
    }
}
