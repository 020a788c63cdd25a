//! Conversion functions: `tostring`, `toint`, `tolong`, `toreal`,
//! `todatetime`, `totimespan`, `tobool`, `toguid`. Bad input gives null,
//! never an error.

use super::Registry;
use crate::convert::{implicit, to_string, Bound};
use crate::dynamic::DynKind;
use crate::time::{parse_datetime, parse_timespan};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_string_array;
use datafusion::common::Result;
use datafusion::logical_expr::{cast, lit, ColumnarValue};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("tostring", 1, 1, |_, a| Ok(to_string(first(a))));
    r.scalar("toint", 1, 1, |_, a| Ok(convert(first(a), KqlType::Int)));
    r.scalar("tolong", 1, 1, |_, a| Ok(convert(first(a), KqlType::Long)));
    r.scalar("toreal", 1, 1, |_, a| Ok(convert(first(a), KqlType::Real)));
    r.scalar("todouble", 1, 1, |_, a| Ok(convert(first(a), KqlType::Real)));
    r.scalar("todecimal", 1, 1, |_, a| Ok(convert(first(a), KqlType::Decimal)));
    r.scalar("todatetime", 1, 1, |_, a| Ok(convert(first(a), KqlType::Datetime)));
    r.scalar("totimespan", 1, 1, |_, a| Ok(convert(first(a), KqlType::Timespan)));
    r.scalar("tobool", 1, 1, |_, a| Ok(convert(first(a), KqlType::Bool)));
    r.scalar("toboolean", 1, 1, |_, a| Ok(convert(first(a), KqlType::Bool)));
    r.scalar("toguid", 1, 1, |_, a| Ok(to_guid(first(a))));
}

/// `toguid(value)`: text is read as the toguid page says (its first 32 hex
/// digits, hyphens ignored, the rest of the text ignored) and printed in
/// the canonical `8-4-4-4-12` lowercase form; anything else is null.
fn to_guid(value: Bound) -> Bound {
    match value.ty {
        KqlType::Guid => value,
        KqlType::String | KqlType::Dynamic => {
            let text = if value.ty == KqlType::String { value.expr } else { to_string(value).expr };
            Bound::new(udf::call("kql_string_to_guid", DataType::Utf8, string_to_guid, vec![text]), KqlType::Guid)
        }
        _ => convert(value, KqlType::Guid),
    }
}

fn string_to_guid(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_strings::<String, StringArray>(args, rows, canonical_guid)
}

/// The canonical text of the guid that starts `text`: 32 hex digits with
/// any hyphens between them skipped; `None` when a different character
/// comes before the 32nd digit.
fn canonical_guid(text: &str) -> Option<String> {
    let text = text.strip_prefix('{').unwrap_or(text);
    let mut digits = String::with_capacity(32);
    for c in text.chars() {
        if digits.len() == 32 {
            break;
        }
        match c {
            '-' => {}
            c if c.is_ascii_hexdigit() => digits.push(c.to_ascii_lowercase()),
            _ => return None,
        }
    }
    (digits.len() == 32).then(|| {
        format!("{}-{}-{}-{}-{}", &digits[..8], &digits[8..12], &digits[12..16], &digits[16..20], &digits[20..])
    })
}

fn first(mut a: Vec<Bound>) -> Bound {
    a.swap_remove(0)
}

/// Explicit conversion of any value to `target`.
pub fn convert(value: Bound, target: KqlType) -> Bound {
    if value.ty == target {
        return value;
    }
    match (value.ty, target) {
        (_, KqlType::String) => to_string(value),
        (KqlType::String | KqlType::Guid, _) => from_string(value, target),
        (KqlType::Dynamic, _) => from_dynamic(value, target),
        (from, to) if from.is_numeric() && to.is_numeric() => {
            if matches!(to, KqlType::Int | KqlType::Long) && matches!(from, KqlType::Real | KqlType::Decimal) {
                // Kusto truncates toward zero.
                Bound::new(cast(datafusion::functions::expr_fn::trunc(vec![value.expr]), to.arrow()), to)
            } else {
                Bound::new(cast(value.expr, to.arrow()), to)
            }
        }
        (KqlType::Bool, to) if to.is_numeric() => Bound::new(cast(value.expr, to.arrow()), to),
        (from, KqlType::Bool) if from.is_numeric() => Bound::new(value.expr.not_eq(lit(0i64)), KqlType::Bool),
        // Datetime/timespan ↔ long reinterpret the nanoseconds as ticks.
        (KqlType::Datetime | KqlType::Timespan, KqlType::Long) => {
            Bound::new(value.expr / lit(crate::types::NANOS_PER_TICK), KqlType::Long)
        }
        (KqlType::Long | KqlType::Int, KqlType::Datetime | KqlType::Timespan) => {
            Bound::new(cast(value.expr, DataType::Int64) * lit(crate::types::NANOS_PER_TICK), target)
        }
        (KqlType::Datetime, KqlType::Timespan) | (KqlType::Timespan, KqlType::Datetime) => {
            Bound::new(value.expr, target)
        }
        (KqlType::Datetime | KqlType::Timespan, KqlType::Real) => {
            Bound::new(cast(value.expr / lit(crate::types::NANOS_PER_TICK), DataType::Float64), KqlType::Real)
        }
        _ => implicit(value.clone(), target).unwrap_or_else(|| {
            Bound::new(lit(datafusion::common::ScalarValue::try_from(&target.arrow()).expect("null")), target)
        }),
    }
}

/// Parses text as `target` (null when it does not parse).
pub fn from_string(value: Bound, target: KqlType) -> Bound {
    let (name, kernel): (&str, udf::Kernel) = match target {
        KqlType::String | KqlType::Guid => return Bound::new(value.expr, target),
        KqlType::Dynamic => return super::dynamic::parse_json(value),
        KqlType::Bool => ("kql_string_to_bool", string_to_bool),
        KqlType::Int => return Bound::new(cast(from_string(value, KqlType::Long).expr, DataType::Int32), KqlType::Int),
        KqlType::Long => ("kql_string_to_long", string_to_long),
        KqlType::Real | KqlType::Decimal => ("kql_string_to_real", string_to_real),
        KqlType::Datetime => ("kql_string_to_datetime", string_to_datetime),
        KqlType::Timespan => ("kql_string_to_timespan", string_to_timespan),
    };
    Bound::new(udf::call(name, target.arrow(), kernel, vec![value.expr]), target)
}

/// Converts a dynamic value to `target` (null when it does not fit).
pub fn from_dynamic(value: Bound, target: KqlType) -> Bound {
    match target {
        KqlType::Datetime => Bound::new(
            udf::call("kql_dynamic_to_datetime", DataType::Int64, dynamic_to_datetime, vec![value.expr]),
            target,
        ),
        KqlType::Timespan => Bound::new(
            udf::call("kql_dynamic_to_timespan", DataType::Int64, dynamic_to_timespan, vec![value.expr]),
            target,
        ),
        KqlType::Guid => Bound::new(to_string(value).expr, KqlType::Guid),
        _ => implicit(value, target).expect("dynamic converts to every scalar type"),
    }
}

fn map_strings<T, B>(args: &[ColumnarValue], rows: usize, f: impl Fn(&str) -> Option<T>) -> Result<ColumnarValue>
where
    B: Array + FromIterator<Option<T>> + 'static,
{
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_string_array(&array)?;
    let out: B = (0..n).map(|i| if input.is_null(i) { None } else { f(input.value(i).trim()) }).collect();
    maybe_scalar(args, Arc::new(out))
}

fn string_to_long(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_strings::<i64, Int64Array>(args, rows, |s| {
        s.parse::<i64>().ok().or_else(|| s.parse::<f64>().ok().filter(|f| f.is_finite()).map(|f| f.trunc() as i64))
    })
}

fn string_to_real(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_strings::<f64, Float64Array>(args, rows, |s| s.parse::<f64>().ok())
}

fn string_to_bool(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_strings::<bool, BooleanArray>(args, rows, |s| match s.to_ascii_lowercase().as_str() {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    })
}

fn string_to_datetime(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_strings::<i64, Int64Array>(args, rows, parse_datetime)
}

fn string_to_timespan(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_strings::<i64, Int64Array>(args, rows, parse_timespan)
}

fn dynamic_to_datetime(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_dynamic::<i64, Int64Array>(args, rows, |d| match d.kind() {
        DynKind::Datetime => d.as_long(),
        DynKind::String => parse_datetime(d.as_str()?),
        _ => None,
    })
}

fn dynamic_to_timespan(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_dynamic::<i64, Int64Array>(args, rows, |d| match d.kind() {
        DynKind::Timespan => d.as_long(),
        DynKind::String => parse_timespan(d.as_str()?),
        DynKind::Long => d.as_long().map(|t| t * crate::types::NANOS_PER_TICK),
        _ => None,
    })
}
