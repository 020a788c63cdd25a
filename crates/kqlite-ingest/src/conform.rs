//! Bringing batches to one table's columns: tables read from several files
//! are merged (columns united, conflicting types widened), and Parquet's
//! Arrow types are brought to the engine's.

use crate::columns::{widen, ColumnBuilder};
use crate::error::ConvertError;
use datafusion::arrow::array::{new_null_array, Array, ArrayRef};
use datafusion::arrow::compute::{cast, concat_batches};
use datafusion::arrow::datatypes::{DataType, SchemaRef, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::output::cell_text;
use kqlite_engine::{ColumnDef, KqlType};

/// The columns of `into` widened to also hold `more`: new columns are
/// appended; a column whose types differ gets the type both fit in.
/// Returns whether anything changed.
pub fn unite(into: &mut Vec<ColumnDef>, more: &[ColumnDef]) -> bool {
    let mut changed = false;
    for column in more {
        match into.iter_mut().find(|c| c.name == column.name) {
            Some(existing) if existing.ty != column.ty => {
                existing.ty = widen(Some(existing.ty), Some(column.ty)).expect("both sides are known");
                changed = true;
            }
            Some(_) => {}
            None => {
                into.push(column.clone());
                changed = true;
            }
        }
    }
    changed
}

pub fn schema_of(columns: &[ColumnDef]) -> SchemaRef {
    kqlite_engine::arrow_schema(columns)
}

/// `batch` (with KQL `from` columns) as a batch of `to` columns: missing
/// columns are absent values, other types converted. Returns the batch and
/// how many values did not convert (stored as null).
pub fn conform(batch: &RecordBatch, from: &[ColumnDef], to: &[ColumnDef]) -> (RecordBatch, usize) {
    let rows = batch.num_rows();
    let mut failures = 0;
    let arrays: Vec<ArrayRef> = to
        .iter()
        .map(|target| match from.iter().position(|c| c.name == target.name) {
            Some(i) => {
                let (array, failed) = convert(batch.column(i), from[i].ty, target.ty);
                failures += failed;
                array
            }
            None => missing(target.ty, rows),
        })
        .collect();
    let batch = RecordBatch::try_new(schema_of(to), arrays).expect("arrays are built in the target types");
    (batch, failures)
}

/// A column of `rows` absent values (empty strings: Kusto strings are never null).
fn missing(ty: KqlType, rows: usize) -> ArrayRef {
    match ty {
        KqlType::String | KqlType::Guid | KqlType::Dynamic => {
            let mut builder = ColumnBuilder::new(ty);
            for _ in 0..rows {
                builder.push_missing();
            }
            builder.finish()
        }
        _ => new_null_array(&ty.arrow(), rows),
    }
}

/// An engine-typed array of KQL type `from` as KQL type `to`.
fn convert(array: &ArrayRef, from: KqlType, to: KqlType) -> (ArrayRef, usize) {
    if from == to || (from.arrow() == to.arrow() && !is_time(from) && !is_time(to)) {
        return (array.clone(), 0);
    }
    let numeric_widening =
        matches!((from, to), (KqlType::Int, KqlType::Long) | (KqlType::Int | KqlType::Long, KqlType::Real));
    if numeric_widening {
        if let Ok(converted) = cast(array, &to.arrow()) {
            return (converted, 0);
        }
    }
    // Anything else goes through Kusto's text form of each value.
    let mut builder = ColumnBuilder::new(to);
    let mut failures = 0;
    for row in 0..array.len() {
        if array.is_null(row) {
            builder.push_missing();
        } else if !builder.push_text(&cell_text(array.as_ref(), row, from)) {
            failures += 1;
        }
    }
    (builder.finish(), failures)
}

fn is_time(ty: KqlType) -> bool {
    matches!(ty, KqlType::Datetime | KqlType::Timespan)
}

/// A stored (Parquet) array as the engine's array for KQL type `to`.
pub fn from_stored(array: &ArrayRef, to: KqlType) -> Result<(ArrayRef, usize), ConvertError> {
    let target = to.arrow();
    if array.data_type() == &target {
        return Ok((array.clone(), 0));
    }
    let as_nanos = |array: &ArrayRef, via: DataType| -> Result<ArrayRef, ArrowError> {
        let exact = cast(array, &via)?;
        cast(&exact, &DataType::Int64)
    };
    match (array.data_type(), to) {
        (DataType::Timestamp(..) | DataType::Date32 | DataType::Date64, KqlType::Datetime) => {
            return Ok((as_nanos(array, DataType::Timestamp(TimeUnit::Nanosecond, None))?, 0))
        }
        (DataType::Duration(_), KqlType::Timespan) => {
            return Ok((as_nanos(array, DataType::Duration(TimeUnit::Nanosecond))?, 0))
        }
        _ => {}
    }
    let plain_cast = matches!(
        (array.data_type(), to),
        (DataType::Utf8View | DataType::LargeUtf8, KqlType::String | KqlType::Guid)
            | (
                DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::UInt8
                    | DataType::UInt16
                    | DataType::UInt32
                    | DataType::UInt64,
                KqlType::Int | KqlType::Long | KqlType::Real
            )
            | (DataType::Float16 | DataType::Float32 | DataType::Float64, KqlType::Real)
            | (DataType::LargeBinary | DataType::BinaryView, KqlType::Dynamic)
    );
    if plain_cast {
        return Ok((cast(array, &target)?, 0));
    }
    // Text, then Kusto's conversion rules (a string column of a known
    // datetime or int column, …).
    let text = cast(array, &DataType::Utf8).map_err(|source| ConvertError::AsText {
        from: array.data_type().clone(),
        to,
        source,
    })?;
    let text = text.as_any().downcast_ref::<datafusion::arrow::array::StringArray>().expect("cast to Utf8");
    let mut builder = ColumnBuilder::new(to);
    let mut failures = 0;
    for row in 0..text.len() {
        if text.is_null(row) {
            builder.push_missing();
        } else if !builder.push_text(text.value(row)) {
            failures += 1;
        }
    }
    Ok((builder.finish(), failures))
}

/// Consecutive small batches merged into batches of up to `limit` rows.
pub fn coalesce(schema: &SchemaRef, batches: Vec<RecordBatch>, limit: usize) -> Vec<RecordBatch> {
    let mut out = Vec::new();
    let mut pending: Vec<RecordBatch> = Vec::new();
    let mut pending_rows = 0;
    let flush = |pending: &mut Vec<RecordBatch>, out: &mut Vec<RecordBatch>| match pending.len() {
        0 => {}
        1 => out.extend(pending.pop()),
        _ => {
            out.push(concat_batches(schema, pending.iter()).expect("batches share the schema"));
            pending.clear();
        }
    };
    for batch in batches {
        if batch.num_rows() == 0 {
            continue;
        }
        if pending_rows + batch.num_rows() > limit {
            flush(&mut pending, &mut out);
            pending_rows = 0;
        }
        pending_rows += batch.num_rows();
        pending.push(batch);
    }
    flush(&mut pending, &mut out);
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use datafusion::arrow::array::{Int32Array, Int64Array, StringArray, TimestampMillisecondArray};
    use std::sync::Arc;

    #[test]
    fn merged_columns_widen_and_fill() {
        let a = vec![ColumnDef::new("n", KqlType::Int), ColumnDef::new("s", KqlType::String)];
        let b = vec![ColumnDef::new("n", KqlType::Real), ColumnDef::new("t", KqlType::Datetime)];
        let mut all = a.clone();
        assert!(unite(&mut all, &b));
        assert_eq!(
            all.iter().map(|c| c.ty).collect::<Vec<_>>(),
            vec![KqlType::Real, KqlType::String, KqlType::Datetime]
        );
        let batch = RecordBatch::try_new(
            schema_of(&a),
            vec![Arc::new(Int32Array::from(vec![1, 2])), Arc::new(StringArray::from(vec!["x", "y"]))],
        )
        .unwrap();
        let (out, failures) = conform(&batch, &a, &all);
        assert_eq!(failures, 0);
        assert_eq!(out.num_columns(), 3);
        assert_eq!(out.column(2).null_count(), 2);
    }

    #[test]
    fn datetime_and_long_meet_as_text() {
        let from = vec![ColumnDef::new("v", KqlType::Datetime)];
        let to = vec![ColumnDef::new("v", KqlType::String)];
        let batch = RecordBatch::try_new(schema_of(&from), vec![Arc::new(Int64Array::from(vec![0i64]))]).unwrap();
        let (out, _) = conform(&batch, &from, &to);
        let text = out.column(0).as_any().downcast_ref::<StringArray>().unwrap().value(0).to_string();
        assert!(text.starts_with("1970-01-01T00:00:00"), "{text}");
    }

    #[test]
    fn stored_timestamps_become_nanoseconds() {
        let array: ArrayRef = Arc::new(TimestampMillisecondArray::from(vec![1_000]));
        let (out, _) = from_stored(&array, KqlType::Datetime).unwrap();
        assert_eq!(out.as_any().downcast_ref::<Int64Array>().unwrap().value(0), 1_000_000_000);
        let text: ArrayRef = Arc::new(StringArray::from(vec!["4624", "x"]));
        let (out, failures) = from_stored(&text, KqlType::Int).unwrap();
        assert_eq!((out.null_count(), failures), (1, 1));
    }
}
