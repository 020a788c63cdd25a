//! Functions over `dynamic` values: access, construction, arrays and bags.

use super::{coerce, CallError, CallResult, Registry};
use crate::convert::{to_dynamic, Bound};
use crate::dynamic::{self, ArrayEncoder, DynKind, DynRef, DynValue, ObjectEncoder, ENCODED_NULL};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::{DataType, Field};
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array, as_string_array};
use datafusion::common::{Result, ScalarValue};
use datafusion::logical_expr::{lit, ColumnarValue, Expr};
use std::collections::HashSet;
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
        Ok(Bound::new(udf::call("kql_array_length", DataType::Int64, array_length_kernel, vec![d.expr]), KqlType::Long))
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
    // array_index_of(array, value [, start [, length [, occurrence]]]).
    r.scalar("array_index_of", 2, 5, |_, a| {
        let mut a = a.into_iter();
        let set = coerce("array_index_of", 0, a.next().expect("two args"), KqlType::Dynamic)?;
        let value = to_dynamic(a.next().expect("two args"));
        let mut args = vec![set.expr, value.expr];
        // Defaults: from the first element, any length, the first occurrence.
        for (index, default) in [(2, 0i64), (3, -1), (4, 1)] {
            args.push(match a.next() {
                Some(b) => coerce("array_index_of", index, b, KqlType::Long)?.expr,
                None => lit(default),
            });
        }
        Ok(Bound::new(udf::call("kql_array_index_of", DataType::Int64, array_index_of, args), KqlType::Long))
    });
    r.scalar("parsejson", 1, 1, |_, a| Ok(parse_json(first(a))));
    r.scalar("arraylength", 1, 1, |_, a| {
        let d = coerce("arraylength", 0, first(a), KqlType::Dynamic)?;
        Ok(Bound::new(udf::call("kql_array_length", DataType::Int64, array_length_kernel, vec![d.expr]), KqlType::Long))
    });
    r.scalar("set_union", 2, 64, |_, a| arrays_call("set_union", "kql_set_union", set_union_kernel, a));
    r.scalar("set_intersect", 2, 64, |_, a| arrays_call("set_intersect", "kql_set_intersect", set_intersect, a));
    r.scalar("set_difference", 2, 64, |_, a| arrays_call("set_difference", "kql_set_difference", set_difference, a));
    r.scalar("zip", 2, 64, |_, a| arrays_call("zip", "kql_zip", zip, a));
    r.scalar("jaccard_index", 2, 2, |_, a| arrays_call("jaccard_index", "kql_jaccard_index", jaccard_index, a));
    r.scalar("array_reverse", 1, 1, |_, a| arrays_call("array_reverse", "kql_array_reverse", array_reverse, a));
    r.scalar("treepath", 1, 1, |_, a| arrays_call("treepath", "kql_treepath", treepath, a));
    r.scalar("bag_merge", 2, 64, |_, a| arrays_call("bag_merge", "kql_bag_merge", bag_merge, a));
    r.scalar("bag_zip", 2, 2, |_, a| arrays_call("bag_zip", "kql_bag_zip", bag_zip, a));
    r.scalar("array_sum", 1, 1, |_, a| {
        let args = dynamic_args("array_sum", a, &[Arg::Dynamic])?;
        Ok(Bound::new(udf::call("kql_array_sum", DataType::Float64, array_sum, args), KqlType::Real))
    });
    r.scalar("array_slice", 3, 3, |_, a| {
        let args = dynamic_args("array_slice", a, &[Arg::Dynamic, Arg::Long, Arg::Long])?;
        Ok(Bound::new(udf::call("kql_array_slice", DataType::Binary, array_slice, args), KqlType::Dynamic))
    });
    r.scalar("array_split", 2, 2, |_, a| {
        if !matches!(a[1].ty, KqlType::Int | KqlType::Long | KqlType::Dynamic) {
            return Err(CallError::argument_type("array_split", 1, "an integer or a dynamic array", a[1].ty));
        }
        let args = dynamic_args("array_split", a, &[Arg::Dynamic, Arg::Any])?;
        Ok(Bound::new(udf::call("kql_array_split", DataType::Binary, array_split, args), KqlType::Dynamic))
    });
    r.scalar("array_sort_asc", 1, 64, |_, a| array_sort("array_sort_asc", a, false));
    r.scalar("array_sort_desc", 1, 64, |_, a| array_sort("array_sort_desc", a, true));
    r.scalar("array_iff", 3, 3, |_, a| array_iff(a));
    r.scalar("array_iif", 3, 3, |_, a| array_iff(a));
    r.scalar("array_rotate_left", 2, 2, |_, a| shift("array_rotate_left", a, false, true));
    r.scalar("array_rotate_right", 2, 2, |_, a| shift("array_rotate_right", a, true, true));
    r.scalar("array_shift_left", 2, 3, |_, a| shift("array_shift_left", a, false, false));
    r.scalar("array_shift_right", 2, 3, |_, a| shift("array_shift_right", a, true, false));
    r.scalar("bag_has_key", 2, 2, |_, a| {
        let args = dynamic_args("bag_has_key", a, &[Arg::Dynamic, Arg::String])?;
        Ok(Bound::new(udf::call("kql_bag_has_key", DataType::Boolean, bag_has_key, args), KqlType::Bool))
    });
    r.scalar("bag_remove_keys", 2, 2, |_, a| {
        let args = dynamic_args("bag_remove_keys", a, &[Arg::Dynamic, Arg::Dynamic])?;
        Ok(Bound::new(udf::call("kql_bag_remove_keys", DataType::Binary, bag_remove_keys, args), KqlType::Dynamic))
    });
    r.scalar("bag_set_key", 3, 3, |_, a| {
        let args = dynamic_args("bag_set_key", a, &[Arg::Dynamic, Arg::String, Arg::Any])?;
        Ok(Bound::new(udf::call("kql_bag_set_key", DataType::Binary, bag_set_key, args), KqlType::Dynamic))
    });
    r.scalar("dynamic_to_json", 1, 1, |_, a| {
        let d = to_dynamic(first(a));
        Ok(Bound::new(udf::call("kql_dynamic_to_json", DataType::Utf8, dynamic_to_json, vec![d.expr]), KqlType::String))
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
    udf::text_to_dynamic(args, rows, |text| {
        // Empty text is null; Kusto keeps other text that is not JSON as a
        // string value.
        (!text.is_empty())
            .then(|| dynamic::parse_json(text).unwrap_or_else(|| DynValue::String(text.to_string()).encode()))
    })
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
fn bag_pack(values: Vec<Bound>) -> CallResult<Bound> {
    if !values.len().is_multiple_of(2) {
        return Err(CallError::Arity {
            function: "bag_pack".to_string(),
            expected: "pairs of key and value: an even number of arguments",
        });
    }
    let mut args = Vec::new();
    for (i, pair) in values.chunks(2).enumerate() {
        if pair[0].ty != KqlType::String {
            return Err(CallError::KeyNotString { function: "bag_pack".to_string(), position: i * 2 + 1 });
        }
        args.push(pair[0].expr.clone());
        args.push(to_dynamic(pair[1].clone()).expr);
    }
    Ok(Bound::new(udf::call("kql_bag_pack", DataType::Binary, bag_pack_kernel, args), KqlType::Dynamic))
}

/// `pack_all([ignore_null_empty])`: a bag of `columns` by name; with
/// `ignore_null_empty`, leaving out null values and empty strings.
pub fn pack_all(columns: Vec<(String, Bound)>, ignore_null_empty: bool) -> Bound {
    let mut args = Vec::with_capacity(columns.len() * 2);
    for (name, value) in columns {
        args.push(lit(name));
        args.push(to_dynamic(value).expr);
    }
    let expr = if ignore_null_empty {
        udf::call("kql_bag_pack_non_empty", DataType::Binary, bag_pack_non_empty_kernel, args)
    } else {
        udf::call("kql_bag_pack", DataType::Binary, bag_pack_kernel, args)
    };
    Bound::new(expr, KqlType::Dynamic)
}

fn bag_pack_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    bag_pack_rows(args, rows, false)
}

fn bag_pack_non_empty_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    bag_pack_rows(args, rows, true)
}

/// Bags of key and value pairs, one per row; `skip_empty` leaves out the
/// pairs whose value is null or an empty string.
fn bag_pack_rows(args: &[ColumnarValue], rows: usize, skip_empty: bool) -> Result<ColumnarValue> {
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
            let value = if values.is_null(i) { ENCODED_NULL } else { values.value(i) };
            if skip_empty {
                let d = DynRef::new(value);
                if d.is_null() || d.as_str() == Some("") {
                    continue;
                }
            }
            enc.push_encoded(key, value);
        }
        enc.finish();
        out.append_value(&buf);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// The length of an array; null for anything else.
pub(crate) fn array_length_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_dynamic::<i64, Int64Array>(args, rows, |d| {
        (d.kind() == DynKind::Array).then(|| d.len().unwrap_or(0) as i64)
    })
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
fn range(args: Vec<Bound>) -> CallResult<Bound> {
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
        return Ok(Bound::new(range_call("kql_range_real", range_real, exprs), KqlType::Dynamic));
    }
    for (i, a) in args.into_iter().enumerate() {
        if !numeric_kind(a.ty) {
            return Err(CallError::argument_type("range", i, "a number, datetime or timespan", a.ty));
        }
        exprs.push(datafusion::logical_expr::cast(a.expr, DataType::Int64));
    }
    if exprs.len() == 2 {
        // The range page: the default step is 1 for numbers and 1h for
        // timespans and datetimes.
        let default_step = match kind {
            KqlType::Datetime | KqlType::Timespan => 3_600_000_000_000i64,
            _ => 1,
        };
        exprs.push(lit(default_step));
    }
    let code = match kind {
        KqlType::Datetime => 1i64,
        KqlType::Timespan => 2,
        _ => 0,
    };
    exprs.push(lit(code));
    Ok(Bound::new(range_call("kql_range_long", range_long, exprs), KqlType::Dynamic))
}

/// A `range()` call, volatile so that it is not constant-folded: folded,
/// `range(1, 1e9)` became a literal of 2^20 elements that DataFusion prints
/// into the expression's name at each optimizer pass (seconds per query),
/// and a projection would copy that literal to every row unchecked; built
/// when the query runs, its copies are checked against the memory budget
/// (`udf::check_broadcast`). The kernel itself is deterministic.
fn range_call(name: &str, kernel: udf::Kernel, args: Vec<Expr>) -> Expr {
    udf::call_with_volatility(name, DataType::Binary, kernel, args, datafusion::logical_expr::Volatility::Volatile)
}

/// The most elements `range()` returns; longer series are truncated (the
/// range page: "a maximum of 1,048,576 (2^20) results").
const RANGE_LIMIT: usize = 1 << 20;

/// What one element of `range()`'s array costs, encoded: a tag and 8 bytes
/// (counted against the query's memory budget while the array is built).
const RANGE_ITEM_BYTES: usize = 9;

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
    let mut meter = crate::memory::OutputMeter::new("range()");
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
            meter.grow(RANGE_ITEM_BYTES)?;
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
        let mut meter = crate::memory::OutputMeter::new("range()");
        loop {
            let v = a + s * k as f64;
            if (s > 0.0 && v > b + 1e-12) || (s < 0.0 && v < b - 1e-12) || items.len() >= RANGE_LIMIT {
                break;
            }
            items.push(DynValue::Real(v));
            meter.grow(RANGE_ITEM_BYTES + std::mem::size_of::<DynValue>())?;
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
    let numbers: Vec<ArrayRef> = args[2..5].iter().map(|a| a.to_array(n)).collect::<Result<_>>()?;
    let (starts, lengths, occurrences) =
        (as_int64_array(&numbers[0])?, as_int64_array(&numbers[1])?, as_int64_array(&numbers[2])?);
    let out: Int64Array = (0..n)
        .map(|i| {
            if [sets.is_null(i), values.is_null(i), starts.is_null(i), lengths.is_null(i), occurrences.is_null(i)]
                .contains(&true)
            {
                return None;
            }
            let v = DynRef::new(values.value(i));
            let set = DynRef::new(sets.value(i));
            let (start, length, occurrence) = (starts.value(i), lengths.value(i), occurrences.value(i));
            // "null for irrelevant inputs (occurrence < 0 or length < -1)".
            if set.kind() != DynKind::Array || occurrence < 0 || length < -1 {
                return None;
            }
            let len = set.len().unwrap_or(0) as i64;
            // A negative start counts back from the end.
            let first = if start < 0 { (len + start).max(0) } else { start };
            let examined = if length == -1 { len } else { length };
            Some(
                set.array_items()
                    .enumerate()
                    .skip(first as usize)
                    .take(examined.max(0) as usize)
                    .filter(|(_, item)| super::string_ops::dyn_equal(v, *item, false))
                    .nth((occurrence.max(1) - 1) as usize)
                    .filter(|_| occurrence > 0)
                    .map_or(-1, |(p, _)| p as i64),
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

/// [`to_list`] as `mv-expand` and `mv-apply` expand: a null value gives one
/// null element (Kusto: "If the dynamic value is null, a single record is
/// produced for that value (null). If the dynamic value is an empty array or
/// property bag, no record is produced for that value.").
pub fn expand_items(value: Bound, limit: Option<Bound>) -> Expr {
    let limit = limit.map(|l| l.expr).unwrap_or_else(|| lit(ScalarValue::Int64(None)));
    let item = Arc::new(Field::new_list_field(DataType::Binary, true));
    // Volatile: a constant array is not folded into a literal at planning,
    // which the projection would copy to every row outside any budget check.
    udf::call_with_volatility(
        "kql_mv_expand_items_null_row",
        DataType::List(item),
        expand_items_kernel,
        vec![to_string_if_needed(value), limit],
        datafusion::logical_expr::Volatility::Volatile,
    )
}

fn to_string_if_needed(value: Bound) -> Expr {
    match value.ty {
        KqlType::Dynamic => value.expr,
        _ => to_dynamic(value).expr,
    }
}

fn to_list_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    list_items(args, rows, false)
}

fn expand_items_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    list_items(args, rows, true)
}

fn list_items(args: &[ColumnarValue], rows: usize, null_row: bool) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let array = args[0].to_array(n)?;
    let input = as_binary_array(&array)?;
    let limit = match &args[1] {
        ColumnarValue::Scalar(ScalarValue::Int64(Some(l))) => Some((*l).max(0) as usize),
        _ => None,
    };
    let mut builder = ListBuilder::new(BinaryBuilder::new());
    let mut buf = Vec::new();
    let mut meter = crate::memory::OutputMeter::new("mv-expand");
    for i in 0..n {
        meter.grow(if input.is_null(i) { 16 } else { input.value(i).len() + 16 })?;
        let take = limit.unwrap_or(usize::MAX);
        if null_row && (input.is_null(i) || DynRef::new(input.value(i)).kind() == DynKind::Null) {
            if take > 0 {
                builder.values().append_null();
            }
            builder.append(true);
            continue;
        }
        if input.is_null(i) {
            builder.append(false);
            continue;
        }
        let d = DynRef::new(input.value(i));
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

/// How an argument of an array or bag function is checked before it is
/// passed to the kernel as a dynamic value.
#[derive(Clone, Copy)]
enum Arg {
    /// Must already be dynamic (Kusto rejects scalars where arrays go).
    Dynamic,
    /// An integer (int or long).
    Long,
    String,
    Any,
}

/// Checks the arguments and converts each to dynamic, so kernels read every
/// argument the same way.
fn dynamic_args(name: &str, args: Vec<Bound>, kinds: &[Arg]) -> CallResult<Vec<Expr>> {
    args.into_iter()
        .zip(kinds.iter().chain(std::iter::repeat(&Arg::Dynamic)))
        .enumerate()
        .map(|(i, (b, kind))| {
            let b = match kind {
                Arg::Dynamic if b.ty != KqlType::Dynamic => {
                    return Err(CallError::argument_type(name, i, "dynamic", b.ty))
                }
                Arg::Long => coerce(name, i, b, KqlType::Long)?,
                Arg::String => coerce(name, i, b, KqlType::String)?,
                _ => b,
            };
            Ok(to_dynamic(b).expr)
        })
        .collect()
}

/// A function of dynamic arguments only, returning dynamic.
fn arrays_call(name: &str, kernel_name: &str, kernel: udf::Kernel, args: Vec<Bound>) -> CallResult<Bound> {
    let args = dynamic_args(name, args, &[])?;
    Ok(Bound::new(udf::call(kernel_name, DataType::Binary, kernel, args), KqlType::Dynamic))
}

/// Runs `f` on each row's arguments (all dynamic); `f` writes the encoded result.
fn dyn_rows(args: &[ColumnarValue], rows: usize, f: impl Fn(&[DynRef<'_>], &mut Vec<u8>)) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let arrays = arrays.iter().map(|a| as_binary_array(a)).collect::<Result<Vec<_>>>()?;
    let mut out = BinaryBuilder::with_capacity(n, n * 16);
    let mut buf = Vec::new();
    let mut refs = Vec::with_capacity(arrays.len());
    for i in 0..n {
        refs.clear();
        refs.extend(arrays.iter().map(|a| DynRef::new(if a.is_null(i) { ENCODED_NULL } else { a.value(i) })));
        buf.clear();
        f(&refs, &mut buf);
        out.append_value(&buf);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// Like [`dyn_rows`] for functions with a non-dynamic result.
fn dyn_map<T, A>(args: &[ColumnarValue], rows: usize, f: impl Fn(&[DynRef<'_>]) -> Option<T>) -> Result<ColumnarValue>
where
    A: Array + FromIterator<Option<T>> + 'static,
{
    let n = rows_to_compute(args, rows);
    let arrays = args.iter().map(|a| a.to_array(n)).collect::<Result<Vec<_>>>()?;
    let arrays = arrays.iter().map(|a| as_binary_array(a)).collect::<Result<Vec<_>>>()?;
    let out: A = (0..n)
        .map(|i| {
            let refs: Vec<DynRef<'_>> =
                arrays.iter().map(|a| DynRef::new(if a.is_null(i) { ENCODED_NULL } else { a.value(i) })).collect();
            f(&refs)
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

fn write_array<'a>(out: &mut Vec<u8>, items: impl IntoIterator<Item = DynRef<'a>>) {
    let mut enc = ArrayEncoder::new(out);
    for item in items {
        enc.push_encoded(item.bytes());
    }
    enc.finish();
}

fn is_array(d: &DynRef<'_>) -> bool {
    d.kind() == DynKind::Array
}

/// The distinct elements of an array, in first-seen order. Sets compare
/// values by their encoding, as `make_set` does.
fn distinct<'a>(d: DynRef<'a>) -> Vec<DynRef<'a>> {
    let mut seen = HashSet::new();
    d.array_items().filter(|i| seen.insert(i.bytes())).collect()
}

/// `set_union(a1, a2, …)`: distinct elements of all arrays; non-arrays
/// count as empty.
pub(crate) fn set_union_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        let mut seen = HashSet::new();
        write_array(out, a.iter().flat_map(|d| d.array_items()).filter(|i| seen.insert(i.bytes())))
    })
}

fn set_intersect(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        let others: Vec<HashSet<&[u8]>> = a[1..].iter().map(|d| d.array_items().map(|i| i.bytes()).collect()).collect();
        write_array(out, distinct(a[0]).into_iter().filter(|i| others.iter().all(|o| o.contains(i.bytes()))))
    })
}

fn set_difference(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        let others: HashSet<&[u8]> = a[1..].iter().flat_map(|d| d.array_items()).map(|i| i.bytes()).collect();
        write_array(out, distinct(a[0]).into_iter().filter(|i| !others.contains(i.bytes())))
    })
}

/// `jaccard_index(s1, s2)`: |s1 ∩ s2| / |s1 ∪ s2| over distinct elements.
fn jaccard_index(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        if !is_array(&a[0]) || !is_array(&a[1]) {
            return out.extend_from_slice(ENCODED_NULL);
        }
        let s1: HashSet<&[u8]> = a[0].array_items().map(|i| i.bytes()).collect();
        let s2: HashSet<&[u8]> = a[1].array_items().map(|i| i.bytes()).collect();
        let both = s1.intersection(&s2).count();
        let either = s1.len() + s2.len() - both;
        DynValue::Real(both as f64 / either as f64).encode_into(out)
    })
}

/// `zip(a1, a2, …)`: arrays of the elements at each index, as long as the
/// longest input; missing elements are null.
fn zip(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        if !a.iter().all(is_array) {
            return out.extend_from_slice(ENCODED_NULL);
        }
        let len = a.iter().map(|d| d.len().unwrap_or(0)).max().unwrap_or(0);
        let mut enc = ArrayEncoder::new(out);
        for i in 0..len {
            let row = enc.begin_item();
            let mut inner = ArrayEncoder::new(row);
            for d in a {
                inner.push_encoded(d.index(i as i64).map_or(ENCODED_NULL, |v| v.bytes()));
            }
            inner.finish();
            enc.end_item();
        }
        enc.finish();
    })
}

fn array_reverse(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| match is_array(&a[0]) {
        true => write_array(out, a[0].array_items().collect::<Vec<_>>().into_iter().rev()),
        false => out.extend_from_slice(ENCODED_NULL),
    })
}

/// `array_sum(a)`: a real; null when an element is not a number.
fn array_sum(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_map::<f64, Float64Array>(args, rows, |a| {
        if !is_array(&a[0]) {
            return None;
        }
        a[0].array_items().try_fold(0.0, |sum, item| match item.kind() {
            DynKind::Long | DynKind::Real => item.as_real().map(|v| sum + v),
            _ => None,
        })
    })
}

/// Converts a possibly negative index to one from the start.
fn from_start(i: i64, len: i64) -> i64 {
    if i < 0 {
        len + i
    } else {
        i
    }
}

/// `array_slice(a, start, end)`: inclusive bounds, negative from the end,
/// out-of-range parts ignored.
fn array_slice(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        let (Some(len), Some(start), Some(end)) = (a[0].len(), a[1].as_long(), a[2].as_long()) else {
            return out.extend_from_slice(ENCODED_NULL);
        };
        if !is_array(&a[0]) {
            return out.extend_from_slice(ENCODED_NULL);
        }
        let len = len as i64;
        let start = from_start(start, len).max(0);
        let end = from_start(end, len).min(len - 1);
        let take = if end >= start { (end - start + 1) as usize } else { 0 };
        write_array(out, a[0].array_items().skip(start as usize).take(take))
    })
}

/// `array_split(a, i)` / `array_split(a, [i1, i2, …])`: the pieces
/// [0, i1), [i1, i2), …, [iN, len).
fn array_split(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        let Some(len) = a[0].len().filter(|_| is_array(&a[0])) else {
            return out.extend_from_slice(ENCODED_NULL);
        };
        let len = len as i64;
        let cuts: Vec<i64> = match a[1].kind() {
            DynKind::Array => a[1].array_items().filter_map(|i| i.as_long()).collect(),
            _ => a[1].as_long().into_iter().collect(),
        };
        let items: Vec<DynRef<'_>> = a[0].array_items().collect();
        let mut enc = ArrayEncoder::new(out);
        let mut start = 0i64;
        for cut in cuts.into_iter().map(|c| from_start(c, len).clamp(0, len)).chain([len]) {
            let end = cut.max(start);
            write_array(enc.begin_item(), items[start as usize..end as usize].iter().copied());
            enc.end_item();
            start = end;
        }
        enc.finish();
    })
}

/// `array_sort_asc(a1, …, aN[, nulls_last])` and `array_sort_desc`: one
/// array gives the sorted array; several give an array of arrays, the
/// others reordered like the first (null where their length differs).
fn array_sort(name: &str, mut a: Vec<Bound>, descending: bool) -> CallResult<Bound> {
    let nulls_last = match a.last() {
        Some(b) if b.ty == KqlType::Bool && a.len() > 1 => a.pop().expect("last").expr,
        _ => lit(true),
    };
    let mut args = dynamic_args(name, a, &[])?;
    args.push(to_dynamic(Bound::new(nulls_last, KqlType::Bool)).expr);
    args.push(to_dynamic(Bound::new(lit(descending), KqlType::Bool)).expr);
    Ok(Bound::new(udf::call("kql_array_sort", DataType::Binary, array_sort_kernel, args), KqlType::Dynamic))
}

/// Kusto's order for mixed arrays: numbers, datetimes and timespans, then
/// strings, then guids, then everything else (kept in place). The order of
/// these groups is the same for `array_sort_desc`, which reverses only the
/// order inside each group (the array_sort_desc page lists the groups in
/// this order).
fn sort_rank(d: &DynRef<'_>) -> u8 {
    match d.kind() {
        DynKind::Long | DynKind::Real | DynKind::Datetime | DynKind::Timespan => 0,
        DynKind::String => 1,
        DynKind::Guid => 2,
        _ => 3,
    }
}

fn compare_dyn(a: &DynRef<'_>, b: &DynRef<'_>, descending: bool) -> std::cmp::Ordering {
    let rank = sort_rank(a);
    if rank != sort_rank(b) {
        return rank.cmp(&sort_rank(b));
    }
    let within = compare_within_rank(rank, a, b);
    if descending {
        within.reverse()
    } else {
        within
    }
}

/// Two elements of the same `sort_rank`, ascending.
fn compare_within_rank(rank: u8, a: &DynRef<'_>, b: &DynRef<'_>) -> std::cmp::Ordering {
    use std::cmp::Ordering;
    match rank {
        0 => match (a.kind(), b.kind()) {
            (DynKind::Real, _) | (_, DynKind::Real) => {
                let real = |d: &DynRef<'_>| d.as_real().or_else(|| d.as_long().map(|v| v as f64)).unwrap_or(0.0);
                real(a).partial_cmp(&real(b)).unwrap_or(Ordering::Equal)
            }
            _ => a.as_long().cmp(&b.as_long()),
        },
        1 | 2 => a.as_str().cmp(&b.as_str()),
        _ => Ordering::Equal,
    }
}

/// Arguments: the arrays, then `nulls_last` and `descending` flags.
fn array_sort_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    use std::cmp::Ordering;
    dyn_rows(args, rows, |a, out| {
        let (arrays, flags) = a.split_at(a.len() - 2);
        let first = arrays[0];
        if !is_array(&first) {
            return out.extend_from_slice(ENCODED_NULL);
        }
        let (last, descending) = (flags[0].as_bool() != Some(false), flags[1].as_bool() == Some(true));
        let items: Vec<DynRef<'_>> = first.array_items().collect();
        let mut order: Vec<usize> = (0..items.len()).collect();
        order.sort_by(|&x, &y| {
            let (a, b) = (&items[x], &items[y]);
            match (a.is_null(), b.is_null()) {
                (true, true) => Ordering::Equal,
                (true, false) if last => Ordering::Greater,
                (true, false) => Ordering::Less,
                (false, true) if last => Ordering::Less,
                (false, true) => Ordering::Greater,
                _ => compare_dyn(a, b, descending),
            }
        });
        let reorder = |d: &DynRef<'_>, out: &mut Vec<u8>| {
            let items: Vec<DynRef<'_>> = d.array_items().collect();
            match is_array(d) && items.len() == order.len() {
                true => write_array(out, order.iter().map(|&k| items[k])),
                false => out.extend_from_slice(ENCODED_NULL),
            }
        };
        if arrays.len() == 1 {
            return reorder(&first, out);
        }
        let mut enc = ArrayEncoder::new(out);
        for d in arrays {
            reorder(d, enc.begin_item());
            enc.end_item();
        }
        enc.finish();
    })
}

/// `array_iff(conditions, when_true, when_false)`: element-wise `iff`;
/// the branches are arrays (indexed, null past their end) or scalars.
fn array_iff(a: Vec<Bound>) -> CallResult<Bound> {
    let args = dynamic_args("array_iff", a, &[Arg::Dynamic, Arg::Any, Arg::Any])?;
    Ok(Bound::new(udf::call("kql_array_iff", DataType::Binary, array_iff_kernel, args), KqlType::Dynamic))
}

fn array_iff_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        if !is_array(&a[0]) {
            return out.extend_from_slice(ENCODED_NULL);
        }
        fn pick<'a>(branch: DynRef<'a>, i: usize) -> &'a [u8] {
            match is_array(&branch) {
                true => branch.index(i as i64).map_or(ENCODED_NULL, |v| v.bytes()),
                false => branch.bytes(),
            }
        }
        let mut enc = ArrayEncoder::new(out);
        for (i, c) in a[0].array_items().enumerate() {
            let truth = match c.kind() {
                DynKind::Bool => c.as_bool(),
                DynKind::Long | DynKind::Real => c.as_real().map(|v| v != 0.0),
                _ => None,
            };
            enc.push_encoded(match truth {
                Some(true) => pick(a[1], i),
                Some(false) => pick(a[2], i),
                None => ENCODED_NULL,
            });
        }
        enc.finish();
    })
}

/// `array_rotate_left/right(a, n)` and `array_shift_left/right(a, n[, fill])`.
fn shift(name: &str, mut a: Vec<Bound>, right: bool, rotate: bool) -> CallResult<Bound> {
    if a.len() == 2 {
        a.push(Bound::new(lit(ScalarValue::Binary(Some(ENCODED_NULL.to_vec()))), KqlType::Dynamic));
    }
    a.push(Bound::new(lit(right), KqlType::Bool));
    a.push(Bound::new(lit(rotate), KqlType::Bool));
    let args = dynamic_args(name, a, &[Arg::Dynamic, Arg::Long, Arg::Any, Arg::Any, Arg::Any])?;
    Ok(Bound::new(udf::call("kql_array_shift", DataType::Binary, shift_kernel, args), KqlType::Dynamic))
}

/// Arguments: array, count, fill value, shift right, rotate.
fn shift_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        let (Some(count), true) = (a[1].as_long(), is_array(&a[0])) else {
            return out.extend_from_slice(ENCODED_NULL);
        };
        let items: Vec<DynRef<'_>> = a[0].array_items().collect();
        let len = items.len() as i64;
        let count = if a[3].as_bool() == Some(true) { count.saturating_neg() } else { count };
        let mut enc = ArrayEncoder::new(out);
        for i in 0..len {
            let from = i.saturating_add(count);
            let item = match a[4].as_bool() == Some(true) {
                true => Some(items[from.rem_euclid(len) as usize]),
                false => (0..len).contains(&from).then(|| items[from as usize]),
            };
            enc.push_encoded(item.map_or(a[2].bytes(), |d| d.bytes()));
        }
        enc.finish();
    })
}

/// The keys of a key argument: a top-level key, or a JSONPath such as
/// `$.a.b` or `$['a']['b']` for nested keys. `None` for a path Kusto does not
/// support here (array indexes, the root alone).
fn key_path(key: &str) -> Option<Vec<String>> {
    let Some(mut rest) = key.strip_prefix('$') else { return Some(vec![key.to_string()]) };
    let mut keys = Vec::new();
    while !rest.is_empty() {
        if let Some(r) = rest.strip_prefix('.') {
            let end = r.find(['.', '[']).unwrap_or(r.len());
            keys.push(r[..end].to_string());
            rest = &r[end..];
        } else if let Some(r) = rest.strip_prefix("['").or_else(|| rest.strip_prefix("[\"")) {
            let quote = if rest.as_bytes()[1] == b'\'' { "']" } else { "\"]" };
            let end = r.find(quote)?;
            keys.push(r[..end].to_string());
            rest = &r[end + 2..];
        } else {
            return None;
        }
    }
    (!keys.is_empty()).then_some(keys)
}

fn bag_has_key(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_map::<bool, BooleanArray>(args, rows, |a| {
        let path = a[1].as_str().and_then(key_path);
        let found = path.is_some_and(|path| {
            path.iter().try_fold(a[0], |d, key| d.get(key).filter(|_| d.kind() == DynKind::Object)).is_some()
        });
        Some(found)
    })
}

/// `bag_remove_keys(bag, keys)`; keys may be JSONPaths to nested keys.
fn bag_remove_keys(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        if a[0].kind() != DynKind::Object {
            return out.extend_from_slice(ENCODED_NULL);
        }
        let paths: Vec<Vec<String>> = a[1].array_items().filter_map(|k| k.as_str().and_then(key_path)).collect();
        let paths: Vec<&[String]> = paths.iter().map(Vec::as_slice).collect();
        remove_paths(a[0], &paths, out)
    })
}

fn remove_paths(bag: DynRef<'_>, paths: &[&[String]], out: &mut Vec<u8>) {
    let mut enc = ObjectEncoder::new(out);
    for (key, value) in bag.entries() {
        if paths.iter().any(|p| p.len() == 1 && p[0] == key) {
            continue;
        }
        let nested: Vec<&[String]> = paths.iter().filter(|p| p.len() > 1 && p[0] == key).map(|p| &p[1..]).collect();
        if nested.is_empty() || value.kind() != DynKind::Object {
            enc.push_encoded(key, value.bytes());
        } else {
            remove_paths(value, &nested, enc.begin_entry(key));
            enc.end_entry();
        }
    }
    enc.finish();
}

/// `bag_set_key(bag, key, value)`: sets (or replaces) a key, creating the
/// bags on a JSONPath as needed; null when the input is not a bag.
fn bag_set_key(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| match (a[0].kind(), a[1].as_str().and_then(key_path)) {
        (DynKind::Object, Some(path)) => set_path(Some(a[0]), &path, a[2].bytes(), out),
        _ => out.extend_from_slice(ENCODED_NULL),
    })
}

fn set_path(bag: Option<DynRef<'_>>, path: &[String], value: &[u8], out: &mut Vec<u8>) {
    let mut enc = ObjectEncoder::new(out);
    let mut found = false;
    let put = |enc: &mut ObjectEncoder<'_>, existing: Option<DynRef<'_>>| {
        if path.len() == 1 {
            enc.push_encoded(&path[0], value);
        } else {
            set_path(existing.filter(|d| d.kind() == DynKind::Object), &path[1..], value, enc.begin_entry(&path[0]));
            enc.end_entry();
        }
    };
    for (key, existing) in bag.iter().flat_map(|b| b.entries()) {
        if key == path[0] {
            found = true;
            put(&mut enc, Some(existing));
        } else {
            enc.push_encoded(key, existing.bytes());
        }
    }
    if !found {
        put(&mut enc, None);
    }
    enc.finish();
}

/// `bag_merge(b1, b2, …)`: the leftmost bag wins a key; non-bags count as
/// empty.
fn bag_merge(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        let mut seen = HashSet::new();
        let mut enc = ObjectEncoder::new(out);
        for (key, value) in a.iter().flat_map(|b| b.entries()) {
            if seen.insert(key) {
                enc.push_encoded(key, value.bytes());
            }
        }
        enc.finish();
    })
}

/// `bag_zip(keys, values)`: keys that are not strings are skipped; missing
/// values are null.
fn bag_zip(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    dyn_rows(args, rows, |a, out| {
        if !is_array(&a[0]) || !is_array(&a[1]) {
            return out.extend_from_slice(ENCODED_NULL);
        }
        let mut enc = ObjectEncoder::new(out);
        for (i, key) in a[0].array_items().enumerate() {
            if let (DynKind::String, Some(k)) = (key.kind(), key.as_str()) {
                enc.push_encoded(k, a[1].index(i as i64).map_or(ENCODED_NULL, |v| v.bytes()));
            }
        }
        enc.finish();
    })
}

/// `treepath(d)`: the paths of every key, arrays seen through their first
/// index (`['a'][0]['b']`), in first-seen order.
fn treepath(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    fn walk(d: DynRef<'_>, prefix: &str, paths: &mut Vec<String>, seen: &mut HashSet<String>) {
        let mut visit = |path: String, value: DynRef<'_>, paths: &mut Vec<String>| {
            if seen.insert(path.clone()) {
                paths.push(path.clone());
            }
            walk(value, &path, paths, seen);
        };
        match d.kind() {
            DynKind::Object => {
                for (key, value) in d.entries() {
                    visit(format!("{prefix}['{}']", key.replace('\'', "\\'")), value, paths);
                }
            }
            DynKind::Array => {
                for item in d.array_items() {
                    visit(format!("{prefix}[0]"), item, paths);
                }
            }
            _ => {}
        }
    }
    dyn_rows(args, rows, |a, out| {
        if !matches!(a[0].kind(), DynKind::Object | DynKind::Array) {
            return out.extend_from_slice(ENCODED_NULL);
        }
        let mut paths = Vec::new();
        walk(a[0], "", &mut paths, &mut HashSet::new());
        DynValue::Array(paths.into_iter().map(DynValue::String).collect()).encode_into(out)
    })
}

/// `dynamic_to_json(d)`: JSON with every bag's keys sorted, so equal values
/// give equal text; a scalar gives its `tostring()`.
fn dynamic_to_json(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    fn canonical(d: DynRef<'_>, out: &mut String) {
        match d.kind() {
            DynKind::Object => {
                let mut entries: Vec<(&str, DynRef<'_>)> = d.entries().collect();
                entries.sort_by(|a, b| a.0.cmp(b.0));
                out.push('{');
                for (i, (key, value)) in entries.into_iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    dynamic::write_json_string(out, key);
                    out.push(':');
                    canonical(value, out);
                }
                out.push('}');
            }
            DynKind::Array => {
                out.push('[');
                for (i, item) in d.array_items().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    canonical(item, out);
                }
                out.push(']');
            }
            _ => d.write_json(out),
        }
    }
    dyn_map::<String, StringArray>(args, rows, |a| {
        Some(match a[0].kind() {
            DynKind::Object | DynKind::Array => {
                let mut out = String::new();
                canonical(a[0], &mut out);
                out
            }
            _ => a[0].to_kql_string(),
        })
    })
}
