//! Functions over `dynamic` values: access, construction, arrays and bags.

use super::{coerce, Registry};
use crate::convert::{to_dynamic, to_string, Bound};
use crate::dynamic::{self, ArrayEncoder, DynKind, DynRef, DynValue, ObjectEncoder, ENCODED_NULL};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array, as_string_array};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{lit, ColumnarValue, Expr};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("parse_json", 1, 1, |_, a| Ok(parse_json(first(a))));
    r.scalar("todynamic", 1, 1, |_, a| Ok(parse_json(first(a))));
    r.scalar("toobject", 1, 1, |_, a| Ok(parse_json(first(a))));
    r.scalar("pack_array", 1, usize::MAX, |_, a| Ok(pack_array(a)));
    r.scalar("pack", 0, usize::MAX, |_, a| bag_pack(a));
    r.scalar("bag_pack", 0, usize::MAX, |_, a| bag_pack(a));
    r.scalar("array_length", 1, 1, |_, a| {
        let d = coerce("array_length", 0, first(a), KqlType::Dynamic)?;
        Ok(Bound::new(udf::call("kql_array_length", DataType::Int64, array_length, vec![d.expr]), KqlType::Long))
    });
    r.scalar("bag_keys", 1, 1, |_, a| {
        let d = coerce("bag_keys", 0, first(a), KqlType::Dynamic)?;
        Ok(Bound::new(udf::call("kql_bag_keys", DataType::Binary, bag_keys, vec![d.expr]), KqlType::Dynamic))
    });
    r.scalar("range", 2, 3, |_, a| range(a));
    r.scalar("array_concat", 1, usize::MAX, |_, a| {
        let args = a.into_iter().map(to_dynamic).map(|b| b.expr).collect();
        Ok(Bound::new(udf::call("kql_array_concat", DataType::Binary, array_concat, args), KqlType::Dynamic))
    });
    r.scalar("set_has_element", 2, 2, |_, mut a| {
        let value = to_dynamic(a.pop().expect("two args"));
        let set = coerce("set_has_element", 0, a.pop().expect("two args"), KqlType::Dynamic)?;
        Ok(Bound::new(
            udf::call("kql_set_has_element", DataType::Boolean, set_has_element, vec![set.expr, value.expr]),
            KqlType::Bool,
        ))
    });
    r.scalar("array_index_of", 2, 2, |_, mut a| {
        let value = to_dynamic(a.pop().expect("two args"));
        let set = coerce("array_index_of", 0, a.pop().expect("two args"), KqlType::Dynamic)?;
        Ok(Bound::new(
            udf::call("kql_array_index_of", DataType::Int64, array_index_of, vec![set.expr, value.expr]),
            KqlType::Long,
        ))
    });
    r.scalar("gettype", 1, 1, |_, a| {
        let d = to_dynamic(first(a));
        Ok(Bound::new(udf::call("kql_gettype", DataType::Utf8, gettype, vec![d.expr]), KqlType::String))
    });
}

fn first(mut a: Vec<Bound>) -> Bound {
    a.swap_remove(0)
}

/// `parse_json(text)`; dynamic input is returned as is.
pub fn parse_json(value: Bound) -> Bound {
    match value.ty {
        KqlType::Dynamic => value,
        KqlType::String => Bound::new(
            udf::call("kql_parse_json", DataType::Binary, parse_json_kernel, vec![value.expr]),
            KqlType::Dynamic,
        ),
        _ => to_dynamic(value),
    }
}

fn parse_json_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_string_array(&array)?;
    let mut out = BinaryBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        if input.is_null(i) || input.value(i).is_empty() {
            out.append_value(ENCODED_NULL);
            continue;
        }
        let text = input.value(i);
        match dynamic::parse_json(text) {
            Some(bytes) => out.append_value(bytes),
            // Kusto keeps text that is not JSON as a string value.
            None => out.append_value(DynValue::String(text.to_string()).encode()),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `d.key` / `d["key"]`.
pub fn get_key(base: Bound, key: Bound) -> Bound {
    Bound::new(
        udf::call("kql_dynamic_get_key", DataType::Binary, get_key_kernel, vec![base.expr, key.expr]),
        KqlType::Dynamic,
    )
}

fn get_key_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let base = args[0].to_array(n)?;
    let base = as_binary_array(&base)?;
    let keys = args[1].to_array(n)?;
    let keys = as_string_array(&keys)?;
    let mut out = BinaryBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        if base.is_null(i) || keys.is_null(i) {
            out.append_value(ENCODED_NULL);
            continue;
        }
        let d = DynRef::new(base.value(i));
        let value = match d.kind() {
            DynKind::Object => d.get(keys.value(i)),
            // `d["0"]` on an array indexes it.
            DynKind::Array => keys.value(i).parse::<i64>().ok().and_then(|k| d.index(k)),
            _ => None,
        };
        out.append_value(value.map_or(ENCODED_NULL, |v| v.bytes()));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `d[i]`.
pub fn get_index(base: Bound, index: Bound) -> Bound {
    Bound::new(
        udf::call("kql_dynamic_get_index", DataType::Binary, get_index_kernel, vec![base.expr, index.expr]),
        KqlType::Dynamic,
    )
}

fn get_index_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let base = args[0].to_array(n)?;
    let base = as_binary_array(&base)?;
    let index = args[1].to_array(n)?;
    let index = as_int64_array(&index)?;
    let mut out = BinaryBuilder::with_capacity(n, n * 8);
    for i in 0..n {
        let value =
            if base.is_null(i) || index.is_null(i) { None } else { DynRef::new(base.value(i)).index(index.value(i)) };
        out.append_value(value.map_or(ENCODED_NULL, |v| v.bytes()));
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `pack_array(a, b, …)`: a dynamic array of the values.
pub fn pack_array(values: Vec<Bound>) -> Bound {
    let args: Vec<Expr> = values.into_iter().map(|v| to_dynamic(v).expr).collect();
    Bound::new(udf::call("kql_pack_array", DataType::Binary, pack_array_kernel, args), KqlType::Dynamic)
}

fn pack_array_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let arrays = arrays.iter().map(|a| as_binary_array(a)).collect::<Result<Vec<_>>>()?;
    let mut out = BinaryBuilder::with_capacity(n, n * 16);
    let mut buf = Vec::new();
    for i in 0..n {
        buf.clear();
        let mut enc = ArrayEncoder::new(&mut buf);
        for a in &arrays {
            enc.push_encoded(if a.is_null(i) { ENCODED_NULL } else { a.value(i) });
        }
        enc.finish();
        out.append_value(&buf);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `bag_pack("k1", v1, "k2", v2, …)`.
fn bag_pack(values: Vec<Bound>) -> Result<Bound, String> {
    if values.len() % 2 != 0 {
        return Err("bag_pack() takes pairs of key and value: an even number of arguments".to_string());
    }
    let mut args = Vec::new();
    for (i, pair) in values.chunks(2).enumerate() {
        if pair[0].ty != KqlType::String {
            return Err(format!("argument {} of bag_pack() is a key and must be a string", i * 2 + 1));
        }
        args.push(pair[0].expr.clone());
        args.push(to_dynamic(pair[1].clone()).expr);
    }
    Ok(Bound::new(udf::call("kql_bag_pack", DataType::Binary, bag_pack_kernel, args), KqlType::Dynamic))
}

fn bag_pack_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let mut out = BinaryBuilder::with_capacity(n, n * 32);
    let mut buf = Vec::new();
    for i in 0..n {
        buf.clear();
        let mut enc = ObjectEncoder::new(&mut buf);
        for pair in arrays.chunks(2) {
            let keys = as_string_array(&pair[0])?;
            let values = as_binary_array(&pair[1])?;
            let key = if keys.is_null(i) { "" } else { keys.value(i) };
            enc.push_encoded(key, if values.is_null(i) { ENCODED_NULL } else { values.value(i) });
        }
        enc.finish();
        out.append_value(&buf);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn array_length(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_binary_array(&array)?;
    let out: Int64Array = (0..n)
        .map(|i| {
            let d = DynRef::new(if input.is_null(i) { ENCODED_NULL } else { input.value(i) });
            (d.kind() == DynKind::Array).then(|| d.len().unwrap_or(0) as i64)
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

fn bag_keys(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_binary_array(&array)?;
    let mut out = BinaryBuilder::with_capacity(n, n * 16);
    for i in 0..n {
        let d = DynRef::new(if input.is_null(i) { ENCODED_NULL } else { input.value(i) });
        if d.kind() != DynKind::Object {
            out.append_value(ENCODED_NULL);
            continue;
        }
        let keys = DynValue::Array(d.entries().map(|(k, _)| DynValue::String(k.to_string())).collect());
        out.append_value(keys.encode());
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn gettype(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_binary_array(&array)?;
    let out: StringArray = (0..n)
        .map(|i| {
            let d = DynRef::new(if input.is_null(i) { ENCODED_NULL } else { input.value(i) });
            Some(match d.kind() {
                DynKind::Null => "null",
                DynKind::Bool => "bool",
                DynKind::Long => "long",
                DynKind::Real => "real",
                DynKind::String => "string",
                DynKind::Datetime => "datetime",
                DynKind::Timespan => "timespan",
                DynKind::Guid => "guid",
                DynKind::Array => "array",
                DynKind::Object => "dictionary",
            })
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

/// `range(start, stop[, step])`: an inclusive dynamic array.
fn range(args: Vec<Bound>) -> Result<Bound, String> {
    let kind = args[0].ty;
    let mut exprs = Vec::new();
    let numeric_kind = |t: KqlType| matches!(t, KqlType::Int | KqlType::Long | KqlType::Datetime | KqlType::Timespan);
    if args.iter().any(|a| a.ty == KqlType::Real || a.ty == KqlType::Decimal) {
        for (i, a) in args.into_iter().enumerate() {
            exprs.push(coerce("range", i, a, KqlType::Real)?.expr);
        }
        if exprs.len() == 2 {
            exprs.push(lit(1.0f64));
        }
        return Ok(Bound::new(udf::call("kql_range_real", DataType::Binary, range_real, exprs), KqlType::Dynamic));
    }
    for (i, a) in args.into_iter().enumerate() {
        if !numeric_kind(a.ty) {
            return Err(format!(
                "argument {} of range() must be a number, datetime or timespan, but it is {}",
                i + 1,
                a.ty
            ));
        }
        exprs.push(datafusion::logical_expr::cast(a.expr, DataType::Int64));
    }
    if exprs.len() == 2 {
        exprs.push(lit(1i64));
    }
    let code = match kind {
        KqlType::Datetime => 1i64,
        KqlType::Timespan => 2,
        _ => 0,
    };
    exprs.push(lit(code));
    Ok(Bound::new(udf::call("kql_range_long", DataType::Binary, range_long, exprs), KqlType::Dynamic))
}

const RANGE_LIMIT: usize = 1_000_000;

fn range_long(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let (start, stop, step, code) = (
        as_int64_array(&arrays[0])?,
        as_int64_array(&arrays[1])?,
        as_int64_array(&arrays[2])?,
        as_int64_array(&arrays[3])?,
    );
    let mut out = BinaryBuilder::with_capacity(n, 64);
    let mut buf = Vec::new();
    for i in 0..n {
        if start.is_null(i) || stop.is_null(i) || step.is_null(i) || step.value(i) == 0 {
            out.append_value(ENCODED_NULL);
            continue;
        }
        let (a, b, s) = (start.value(i), stop.value(i), step.value(i));
        buf.clear();
        let mut enc = ArrayEncoder::new(&mut buf);
        let mut v = a;
        let mut count = 0;
        while (s > 0 && v <= b) || (s < 0 && v >= b) {
            let item = match code.value(i) {
                1 => DynValue::Datetime(v),
                2 => DynValue::Timespan(v),
                _ => DynValue::Long(v),
            };
            item.encode_into(enc.begin_item());
            enc.end_item();
            count += 1;
            if count >= RANGE_LIMIT {
                break;
            }
            v = match v.checked_add(s) {
                Some(next) => next,
                None => break,
            };
        }
        enc.finish();
        out.append_value(&buf);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn range_real(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let (start, stop, step) =
        (as_float64_array(&arrays[0])?, as_float64_array(&arrays[1])?, as_float64_array(&arrays[2])?);
    let mut out = BinaryBuilder::with_capacity(n, 64);
    for i in 0..n {
        if start.is_null(i) || stop.is_null(i) || step.is_null(i) || step.value(i) == 0.0 {
            out.append_value(ENCODED_NULL);
            continue;
        }
        let (a, b, s) = (start.value(i), stop.value(i), step.value(i));
        let mut items = Vec::new();
        let mut k = 0usize;
        loop {
            let v = a + s * k as f64;
            if (s > 0.0 && v > b + 1e-12) || (s < 0.0 && v < b - 1e-12) || items.len() >= RANGE_LIMIT {
                break;
            }
            items.push(DynValue::Real(v));
            k += 1;
        }
        out.append_value(DynValue::Array(items).encode());
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn array_concat(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let arrays = arrays.iter().map(|a| as_binary_array(a)).collect::<Result<Vec<_>>>()?;
    let mut out = BinaryBuilder::with_capacity(n, 64);
    let mut buf = Vec::new();
    for i in 0..n {
        buf.clear();
        let mut enc = ArrayEncoder::new(&mut buf);
        for a in &arrays {
            if !a.is_null(i) {
                for item in DynRef::new(a.value(i)).array_items() {
                    enc.push_encoded(item.bytes());
                }
            }
        }
        enc.finish();
        out.append_value(&buf);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn set_has_element(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let sets = args[0].to_array(n)?;
    let sets = as_binary_array(&sets)?;
    let values = args[1].to_array(n)?;
    let values = as_binary_array(&values)?;
    let out: BooleanArray = (0..n)
        .map(|i| {
            if sets.is_null(i) || values.is_null(i) {
                return Some(false);
            }
            let v = DynRef::new(values.value(i));
            Some(DynRef::new(sets.value(i)).array_items().any(|item| super::string_ops::dyn_equal(v, item, false)))
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

fn array_index_of(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let sets = args[0].to_array(n)?;
    let sets = as_binary_array(&sets)?;
    let values = args[1].to_array(n)?;
    let values = as_binary_array(&values)?;
    let out: Int64Array = (0..n)
        .map(|i| {
            if sets.is_null(i) || values.is_null(i) {
                return None;
            }
            let v = DynRef::new(values.value(i));
            let set = DynRef::new(sets.value(i));
            if set.kind() != DynKind::Array {
                return None;
            }
            Some(
                set.array_items()
                    .position(|item| super::string_ops::dyn_equal(v, item, false))
                    .map_or(-1, |p| p as i64),
            )
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

/// The elements `mv-expand` produces for one value: the items of an array,
/// one single-entry bag per property of a bag, or the value itself.
pub fn to_list(value: Bound, limit: Option<Bound>) -> Expr {
    let limit = limit.map(|l| l.expr).unwrap_or_else(|| lit(ScalarValue::Int64(None)));
    let item = Arc::new(Field::new_list_field(DataType::Binary, true));
    udf::call("kql_mv_expand_items", DataType::List(item), to_list_kernel, vec![to_string_if_needed(value), limit])
}

fn to_string_if_needed(value: Bound) -> Expr {
    match value.ty {
        KqlType::Dynamic => value.expr,
        _ => to_dynamic(value).expr,
    }
}

fn to_list_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_binary_array(&array)?;
    let limit = match &args[1] {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(l))) => Some((*l).max(0) as usize),
        _ => None,
    };
    let mut builder = ListBuilder::new(BinaryBuilder::new());
    let mut buf = Vec::new();
    for i in 0..n {
        if input.is_null(i) {
            builder.append(false);
            continue;
        }
        let d = DynRef::new(input.value(i));
        let take = limit.unwrap_or(usize::MAX);
        match d.kind() {
            DynKind::Array => {
                for item in d.array_items().take(take) {
                    builder.values().append_value(item.bytes());
                }
            }
            DynKind::Object => {
                for (key, value) in d.entries().take(take) {
                    buf.clear();
                    let mut enc = ObjectEncoder::new(&mut buf);
                    enc.push_encoded(key, value.bytes());
                    enc.finish();
                    builder.values().append_value(&buf);
                }
            }
            DynKind::Null => {}
            _ => builder.values().append_value(d.bytes()),
        }
        builder.append(true);
    }
    maybe_scalar(args, Arc::new(builder.finish()))
}

/// Whether a dynamic value is null (SQL null or the encoded null).
pub fn is_null(value: Bound) -> Expr {
    udf::call("kql_dynamic_is_null", DataType::Boolean, is_null_kernel, vec![value.expr])
}

fn is_null_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_binary_array(&array)?;
    let out: BooleanArray = (0..n).map(|i| Some(input.is_null(i) || DynRef::new(input.value(i)).is_null())).collect();
    maybe_scalar(args, Arc::new(out))
}

/// Used by string functions that accept dynamic input.
#[allow(dead_code)]
pub(crate) fn dynamic_text(value: Bound) -> Bound {
    to_string(value)
}
