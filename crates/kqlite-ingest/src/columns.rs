//! Building engine-typed Arrow columns from text and JSON values.
//!
//! Values that do not convert to the column's type become null (Kusto's
//! ingestion does the same) and are counted, so nothing is lost silently.

use datafusion::arrow::array::*;
use kqlite_engine::dynamic::DynValue;
use kqlite_engine::time::{parse_datetime, parse_timespan};
use kqlite_engine::KqlType;
use std::sync::Arc;

pub enum ColumnBuilder {
    Bool(BooleanBuilder),
    Int(Int32Builder),
    Long(Int64Builder),
    Real(Float64Builder),
    Text(StringBuilder),
    Nanos(Int64Builder, KqlType),
    Dynamic(BinaryBuilder),
}

impl ColumnBuilder {
    pub fn new(ty: KqlType) -> ColumnBuilder {
        match ty {
            KqlType::Bool => ColumnBuilder::Bool(BooleanBuilder::new()),
            KqlType::Int => ColumnBuilder::Int(Int32Builder::new()),
            KqlType::Long => ColumnBuilder::Long(Int64Builder::new()),
            KqlType::Real | KqlType::Decimal => ColumnBuilder::Real(Float64Builder::new()),
            KqlType::String | KqlType::Guid => ColumnBuilder::Text(StringBuilder::new()),
            KqlType::Datetime | KqlType::Timespan => ColumnBuilder::Nanos(Int64Builder::new(), ty),
            KqlType::Dynamic => ColumnBuilder::Dynamic(BinaryBuilder::new()),
        }
    }

    /// An absent value: empty for strings (never null in Kusto), null otherwise.
    pub fn push_missing(&mut self) {
        match self {
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Int(b) => b.append_null(),
            ColumnBuilder::Long(b) => b.append_null(),
            ColumnBuilder::Real(b) => b.append_null(),
            ColumnBuilder::Text(b) => b.append_value(""),
            ColumnBuilder::Nanos(b, _) => b.append_null(),
            ColumnBuilder::Dynamic(b) => b.append_value(DynValue::Null.encode()),
        }
    }

    /// Appends text; returns false when it did not convert (null stored).
    pub fn push_text(&mut self, text: &str) -> bool {
        if text.is_empty() {
            self.push_missing();
            return true;
        }
        let t = text.trim();
        match self {
            ColumnBuilder::Text(b) => {
                b.append_value(text);
                true
            }
            ColumnBuilder::Bool(b) => append_bool(
                b,
                match t.to_ascii_lowercase().as_str() {
                    "true" | "1" => Some(true),
                    "false" | "0" => Some(false),
                    _ => None,
                },
            ),
            ColumnBuilder::Int(b) => append(b, parse_integer(t).and_then(|v| i32::try_from(v).ok())),
            ColumnBuilder::Long(b) => append(b, parse_integer(t)),
            ColumnBuilder::Real(b) => append(b, t.parse::<f64>().ok()),
            ColumnBuilder::Nanos(b, KqlType::Datetime) => append(b, parse_datetime(t)),
            ColumnBuilder::Nanos(b, _) => append(b, parse_timespan(t)),
            ColumnBuilder::Dynamic(b) => {
                let value = match serde_json::from_str::<serde_json::Value>(t) {
                    Ok(v) => DynValue::from_json(&v),
                    Err(_) => DynValue::String(text.to_string()),
                };
                b.append_value(value.encode());
                true
            }
        }
    }

    /// Appends a JSON value; returns false when it did not convert.
    pub fn push_json(&mut self, value: &serde_json::Value) -> bool {
        use serde_json::Value;
        match (self, value) {
            (this, Value::Null) => {
                this.push_missing();
                true
            }
            (ColumnBuilder::Dynamic(b), v) => {
                b.append_value(DynValue::from_json(v).encode());
                true
            }
            (ColumnBuilder::Text(b), Value::String(s)) => {
                b.append_value(s);
                true
            }
            (ColumnBuilder::Text(b), v) => {
                b.append_value(v.to_string());
                true
            }
            (ColumnBuilder::Bool(b), Value::Bool(v)) => append_bool(b, Some(*v)),
            (ColumnBuilder::Int(b), Value::Number(n)) => append(b, n.as_i64().and_then(|v| i32::try_from(v).ok())),
            (ColumnBuilder::Long(b), Value::Number(n)) => {
                append(b, n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)))
            }
            (ColumnBuilder::Real(b), Value::Number(n)) => append(b, n.as_f64()),
            (this, Value::String(s)) => this.push_text(s),
            (this, other) => {
                let text = other.to_string();
                this.push_text(&text)
            }
        }
    }

    pub fn finish(&mut self) -> ArrayRef {
        match self {
            ColumnBuilder::Bool(b) => Arc::new(b.finish()),
            ColumnBuilder::Int(b) => Arc::new(b.finish()),
            ColumnBuilder::Long(b) => Arc::new(b.finish()),
            ColumnBuilder::Real(b) => Arc::new(b.finish()),
            ColumnBuilder::Text(b) => Arc::new(b.finish()),
            ColumnBuilder::Nanos(b, _) => Arc::new(b.finish()),
            ColumnBuilder::Dynamic(b) => Arc::new(b.finish()),
        }
    }
}

fn append<T: datafusion::arrow::datatypes::ArrowPrimitiveType>(
    b: &mut PrimitiveBuilder<T>,
    value: Option<T::Native>,
) -> bool {
    b.append_option(value);
    value.is_some()
}

fn append_bool(b: &mut BooleanBuilder, value: Option<bool>) -> bool {
    b.append_option(value);
    value.is_some()
}

fn parse_integer(t: &str) -> Option<i64> {
    if let Some(hex) = t.strip_prefix("0x").or_else(|| t.strip_prefix("0X")) {
        return i64::from_str_radix(hex, 16).ok();
    }
    t.parse::<i64>().ok()
}

/// The KQL type a text value suggests when no schema is known.
pub fn infer_text_type(text: &str) -> Option<KqlType> {
    let t = text.trim();
    if t.is_empty() {
        return None;
    }
    if t.parse::<i64>().is_ok() {
        return Some(KqlType::Long);
    }
    if t.parse::<f64>().is_ok() {
        return Some(KqlType::Real);
    }
    if t.eq_ignore_ascii_case("true") || t.eq_ignore_ascii_case("false") {
        return Some(KqlType::Bool);
    }
    if looks_like_datetime(t) && parse_datetime(t).is_some() {
        return Some(KqlType::Datetime);
    }
    Some(KqlType::String)
}

/// ISO dates (`2024-01-02…`) and US portal dates (`7/28/2023, 8:07:14 PM`).
fn looks_like_datetime(t: &str) -> bool {
    let b = t.as_bytes();
    (b.len() >= 10 && b[4] == b'-' && b[7] == b'-' && b[..4].iter().all(u8::is_ascii_digit))
        || (t.contains('/') && t.contains(':') && t.chars().next().is_some_and(|c| c.is_ascii_digit()))
}

/// The KQL type a JSON value suggests when no schema is known.
pub fn infer_json_type(value: &serde_json::Value) -> Option<KqlType> {
    use serde_json::Value;
    match value {
        Value::Null => None,
        Value::Bool(_) => Some(KqlType::Bool),
        Value::Number(n) if n.is_i64() => Some(KqlType::Long),
        Value::Number(_) => Some(KqlType::Real),
        Value::String(s) if looks_like_datetime(s) && parse_datetime(s).is_some() => Some(KqlType::Datetime),
        Value::String(_) => Some(KqlType::String),
        Value::Array(_) | Value::Object(_) => Some(KqlType::Dynamic),
    }
}

/// Combines two inferred types: numbers widen, anything else conflicting
/// falls back to string (or dynamic when one side is dynamic).
pub fn widen(a: Option<KqlType>, b: Option<KqlType>) -> Option<KqlType> {
    match (a, b) {
        (None, t) | (t, None) => t,
        (Some(x), Some(y)) if x == y => Some(x),
        (Some(KqlType::Int), Some(KqlType::Long)) | (Some(KqlType::Long), Some(KqlType::Int)) => Some(KqlType::Long),
        (Some(x), Some(y)) if x.is_numeric() && y.is_numeric() => Some(KqlType::Real),
        (Some(KqlType::Dynamic), _) | (_, Some(KqlType::Dynamic)) => Some(KqlType::Dynamic),
        _ => Some(KqlType::String),
    }
}
