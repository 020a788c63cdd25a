//! Scalar functions over values, arrays and addresses: `repeat`,
//! `set_equals`, `array_strcat`, `hash_combine`, `hash_many` and
//! `ipv4_range_to_cidr_list`.

use super::{coerce, expect_one_of, CallError, CallResult, Registry};
use crate::convert::{to_dynamic, Bound};
use crate::dynamic::{DynKind, DynRef};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::{Array, BinaryBuilder, BooleanArray, Int64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_int64_array, as_string_array};
use datafusion::common::Result;
use datafusion::logical_expr::{cast, ColumnarValue};
use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::sync::Arc;

/// The most items `repeat` makes; more is null rather than a runaway
/// allocation.
const MAX_REPEAT: i64 = 1 << 20;

pub fn register(r: &mut Registry) {
    // `array_strcat` is the other name of `strcat_array`.
    let strcat_array = *r.lookup_scalar("strcat_array").expect("strcat_array is registered before array_strcat");
    r.scalar("array_strcat", strcat_array.min_args, strcat_array.max_args, strcat_array.bind);
    r.scalar("repeat", 2, 2, |_, a| {
        let mut a = a.into_iter();
        let value = a.next().expect("value");
        let count = a.next().expect("count");
        expect_one_of("repeat", 1, &count, &[KqlType::Int, KqlType::Long])?;
        let args = vec![to_dynamic(value).expr, cast(count.expr, DataType::Int64)];
        Ok(Bound::new(udf::call("kql_repeat", DataType::Binary, repeat_kernel, args), KqlType::Dynamic))
    });
    r.scalar("set_equals", 2, 2, |_, a| {
        let args = a.into_iter().enumerate().map(|(i, b)| coerce("set_equals", i, b, KqlType::Dynamic).map(|b| b.expr));
        let args = args.collect::<CallResult<Vec<_>>>()?;
        Ok(Bound::new(udf::call("kql_set_equals", DataType::Boolean, set_equals_kernel, args), KqlType::Bool))
    });
    r.scalar("hash_combine", 2, usize::MAX, |_, a| {
        let mut args = Vec::with_capacity(a.len());
        for (i, b) in a.into_iter().enumerate() {
            expect_one_of("hash_combine", i, &b, &[KqlType::Int, KqlType::Long])?;
            args.push(cast(b.expr, DataType::Int64));
        }
        Ok(Bound::new(udf::call("kql_hash_combine", DataType::Int64, hash_combine_kernel, args), KqlType::Long))
    });
    r.scalar("hash_many", 1, usize::MAX, |ctx, a| {
        // Each value is hashed as `hash()` hashes it, then the hashes combined.
        let hash = super::registry().lookup_scalar("hash").copied().expect("hash is registered");
        let mut hashes = Vec::with_capacity(a.len());
        for (i, b) in a.into_iter().enumerate() {
            if b.ty == KqlType::Dynamic {
                return Err(CallError::DynamicArgument { function: "hash_many".into(), position: i + 1 });
            }
            hashes.push((hash.bind)(ctx, vec![b])?.expr);
        }
        Ok(Bound::new(udf::call("kql_hash_combine", DataType::Int64, hash_combine_kernel, hashes), KqlType::Long))
    });
    r.scalar("ipv4_range_to_cidr_list", 2, 2, |_, a| {
        let args = a.into_iter().enumerate();
        let args = args.map(|(i, b)| coerce("ipv4_range_to_cidr_list", i, b, KqlType::String).map(|b| b.expr));
        let args = args.collect::<CallResult<Vec<_>>>()?;
        let expr = udf::call("kql_ipv4_range_to_cidr_list", DataType::Binary, cidr_list_kernel, args);
        Ok(Bound::new(expr, KqlType::Dynamic))
    });
}

/// `repeat(value, count)`: an array of `count` copies (empty for a count
/// below one).
fn repeat_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let (values, counts) = (as_binary_array(&arrays[0])?, as_int64_array(&arrays[1])?);
    let mut out = BinaryBuilder::new();
    for row in 0..n {
        if counts.is_null(row) || counts.value(row) > MAX_REPEAT {
            out.append_null();
            continue;
        }
        let count = counts.value(row).max(0) as usize;
        let item: &[u8] = if values.is_null(row) { crate::dynamic::ENCODED_NULL } else { values.value(row) };
        let mut bytes = Vec::new();
        crate::dynamic::write_encoded_array(&mut bytes, std::iter::repeat_n(item, count));
        out.append_value(bytes);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// The distinct items of a dynamic array, by their encoding; `None` if it
/// is not an array.
fn item_set(value: DynRef<'_>) -> Option<BTreeSet<&[u8]>> {
    (value.kind() == DynKind::Array).then(|| value.array_items().map(|item| item.bytes()).collect())
}

/// `set_equals(a, b)`: whether the arrays hold the same distinct values.
fn set_equals_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let (a, b) = (as_binary_array(&arrays[0])?, as_binary_array(&arrays[1])?);
    let out: BooleanArray = (0..n)
        .map(|row| {
            if a.is_null(row) || b.is_null(row) {
                return None;
            }
            Some(item_set(DynRef::new(a.value(row)))? == item_set(DynRef::new(b.value(row)))?)
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

/// Combines two 64-bit hashes (the 64-bit form of Boost's `hash_combine`).
/// Kusto documents neither its combination nor its stability, so a
/// combined hash is only meaningful within kqlite, as Kusto's is within one
/// query.
pub fn combine_hashes(seed: i64, hash: i64) -> i64 {
    let (seed, hash) = (seed as u64, hash as u64);
    (seed ^ hash.wrapping_add(0x9e37_79b9_7f4a_7c15).wrapping_add(seed << 6).wrapping_add(seed >> 2)) as i64
}

fn hash_combine_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let hashes = arrays.iter().map(|a| as_int64_array(a)).collect::<Result<Vec<_>>>()?;
    let out: Int64Array = (0..n)
        .map(|row| {
            let mut it = hashes.iter().map(|h| h.is_valid(row).then(|| h.value(row)));
            let first = it.next().flatten()?;
            it.try_fold(first, |acc, h| Some(combine_hashes(acc, h?)))
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

/// The fewest CIDR blocks covering `start..=end`, in address order.
pub fn cidr_blocks(start: u32, end: u32) -> Vec<String> {
    let mut blocks = Vec::new();
    let (mut at, end) = (u64::from(start), u64::from(end));
    while at <= end {
        // The largest aligned block starting at `at` that ends by `end`.
        let mut size = if at == 0 { 1u64 << 32 } else { 1u64 << at.trailing_zeros().min(32) };
        while at + size - 1 > end {
            size >>= 1;
        }
        blocks.push(format!("{}/{}", Ipv4Addr::from(at as u32), 32 - size.trailing_zeros()));
        at += size;
    }
    blocks
}

/// `ipv4_range_to_cidr_list(start, end)`: null for an address that does not
/// parse, an empty list when `start` is after `end`.
fn cidr_list_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let (starts, ends) = (as_string_array(&arrays[0])?, as_string_array(&arrays[1])?);
    let parse = |s: &str| s.trim().parse::<Ipv4Addr>().ok().map(u32::from);
    let mut out = BinaryBuilder::new();
    for row in 0..n {
        let range = (starts.is_valid(row) && ends.is_valid(row))
            .then(|| Some((parse(starts.value(row))?, parse(ends.value(row))?)))
            .flatten();
        match range {
            Some((start, end)) => {
                let blocks = if start <= end { cidr_blocks(start, end) } else { Vec::new() };
                let items = blocks.into_iter().map(crate::dynamic::DynValue::String).collect();
                out.append_value(crate::dynamic::DynValue::Array(items).encode());
            }
            None => out.append_null(),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of Kusto's ipv4_range_to_cidr_list page: 1.1.128.0 to
    /// 1.1.140.255 is a /21 and a /22.
    #[test]
    fn a_range_is_covered_by_its_fewest_blocks() {
        let ip = |s: &str| u32::from(s.parse::<Ipv4Addr>().unwrap());
        assert_eq!(cidr_blocks(ip("1.1.128.0"), ip("1.1.140.255")), ["1.1.128.0/21", "1.1.136.0/22", "1.1.140.0/24"]);
        assert_eq!(cidr_blocks(0, u32::MAX), ["0.0.0.0/0"]);
        assert_eq!(cidr_blocks(ip("10.0.0.1"), ip("10.0.0.1")), ["10.0.0.1/32"]);
    }
}
