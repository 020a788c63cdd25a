//! Geospatial functions over points and cells: geohash, S2 and H3 cells,
//! their coverings of polygons and lines, and point measurements (distance,
//! circle membership, angle, azimuth).
//!
//! Points and polygons come back as GeoJSON `dynamic` values with
//! `[longitude, latitude]` coordinates; cells as token strings. Invalid input
//! at run time gives null (an empty string for the string-valued functions,
//! as Kusto's strings are never null).

mod cover;
mod geohash_cells;
mod h3_cells;
mod measure;
mod s2_cells;

use super::{coerce, expect_one_of, CallResult, Registry, NUMERIC};
use crate::convert::Bound;
use crate::dynamic::{DynRef, DynValue, ENCODED_NULL};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute, Kernel};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::Result;
use datafusion::logical_expr::{cast, lit, ColumnarValue, Expr};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    geohash_cells::register(r);
    s2_cells::register(r);
    h3_cells::register(r);
    cover::register(r);
    measure::register(r);
}

/// One parameter of a geo function, as the binder converts it.
#[derive(Clone, Copy)]
enum Param {
    /// A number passed on as `real` (coordinates, radii).
    Real,
    /// An optional number passed on as `real`, with its default.
    RealOr(f64),
    /// An integer passed on as `long` (levels, resolutions, distances).
    Long,
    /// An optional integer with its default.
    LongOr(i64),
    /// An optional integer whose default depends on another argument; null
    /// stands for "unspecified" (kept apart from an explicit null by [`UNSPECIFIED`]).
    LongOrUnspecified,
    /// An optional bool with its default.
    BoolOr(bool),
    Text,
    Dynamic,
}

/// Stands for an omitted optional integer whose default the kernel computes.
const UNSPECIFIED: i64 = i64::MIN;

/// Binds a geo function call: converts each argument as `params` says,
/// fills in the defaults of omitted optional ones, and calls `kernel`.
fn bind(name: &str, args: Vec<Bound>, params: &[Param], ret: KqlType, kernel: Kernel) -> CallResult<Bound> {
    let mut exprs: Vec<Expr> = Vec::with_capacity(params.len());
    let mut given = args.into_iter();
    for (i, param) in params.iter().enumerate() {
        let arg = given.next();
        let expr = match (param, arg) {
            (Param::Real | Param::RealOr(_), Some(b)) => {
                expect_one_of(name, i, &b, NUMERIC)?;
                coerce(name, i, b, KqlType::Real)?.expr
            }
            (Param::RealOr(default), None) => lit(*default),
            (Param::Long | Param::LongOr(_) | Param::LongOrUnspecified, Some(b)) => {
                expect_one_of(name, i, &b, &[KqlType::Int, KqlType::Long])?;
                cast(b.expr, DataType::Int64)
            }
            (Param::LongOr(default), None) => lit(*default),
            (Param::LongOrUnspecified, None) => lit(UNSPECIFIED),
            (Param::BoolOr(_), Some(b)) => coerce(name, i, b, KqlType::Bool)?.expr,
            (Param::BoolOr(default), None) => lit(*default),
            (Param::Text, Some(b)) => coerce(name, i, b, KqlType::String)?.expr,
            (Param::Dynamic, Some(b)) => {
                expect_one_of(name, i, &b, &[KqlType::Dynamic])?;
                b.expr
            }
            // The registry's arity check makes the required ones present.
            (Param::Real | Param::Long | Param::Text | Param::Dynamic, None) => {
                lit(datafusion::common::ScalarValue::Null)
            }
        };
        exprs.push(expr);
    }
    let data_type = match ret {
        KqlType::Real => DataType::Float64,
        KqlType::Bool => DataType::Boolean,
        KqlType::Int => DataType::Int32,
        KqlType::String => DataType::Utf8,
        _ => DataType::Binary,
    };
    Ok(Bound::new(udf::call(&format!("kql_{name}"), data_type, kernel, exprs), ret))
}

/// The arguments of one batch, read per row.
struct Rows {
    arrays: Vec<ArrayRef>,
}

impl Rows {
    fn real(&self, i: usize, row: usize) -> Option<f64> {
        let a = self.arrays[i].as_any().downcast_ref::<Float64Array>()?;
        a.is_valid(row).then(|| a.value(row))
    }

    fn long(&self, i: usize, row: usize) -> Option<i64> {
        let a = self.arrays[i].as_any().downcast_ref::<Int64Array>()?;
        a.is_valid(row).then(|| a.value(row))
    }

    fn bool(&self, i: usize, row: usize) -> Option<bool> {
        let a = self.arrays[i].as_any().downcast_ref::<BooleanArray>()?;
        a.is_valid(row).then(|| a.value(row))
    }

    fn text(&self, i: usize, row: usize) -> Option<&str> {
        let a = self.arrays[i].as_any().downcast_ref::<StringArray>()?;
        a.is_valid(row).then(|| a.value(row))
    }

    fn dynamic(&self, i: usize, row: usize) -> Option<DynRef<'_>> {
        let a = self.arrays[i].as_any().downcast_ref::<BinaryArray>()?;
        a.is_valid(row).then(|| DynRef::new(a.value(row)))
    }
}

/// Runs `f` on every row, collecting its results into an array.
fn each_row<T>(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(&Rows, usize) -> Option<T>,
    finish: impl FnOnce(Vec<Option<T>>) -> ArrayRef,
) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let input = Rows { arrays: udf::arg_arrays(args, n)? };
    let values: Vec<Option<T>> = (0..n).map(|row| f(&input, row)).collect();
    maybe_scalar(args, finish(values))
}

fn real_out(args: &[ColumnarValue], rows: usize, f: impl Fn(&Rows, usize) -> Option<f64>) -> Result<ColumnarValue> {
    each_row(args, rows, f, |v| Arc::new(Float64Array::from(v)))
}

fn bool_out(args: &[ColumnarValue], rows: usize, f: impl Fn(&Rows, usize) -> Option<bool>) -> Result<ColumnarValue> {
    each_row(args, rows, f, |v| Arc::new(BooleanArray::from(v)))
}

fn int_out(args: &[ColumnarValue], rows: usize, f: impl Fn(&Rows, usize) -> Option<i32>) -> Result<ColumnarValue> {
    each_row(args, rows, f, |v| Arc::new(Int32Array::from(v)))
}

/// Strings are never null in Kusto: an invalid input gives "".
fn text_out(args: &[ColumnarValue], rows: usize, f: impl Fn(&Rows, usize) -> Option<String>) -> Result<ColumnarValue> {
    each_row(args, rows, f, |v| Arc::new(StringArray::from_iter_values(v.into_iter().map(|s| s.unwrap_or_default()))))
}

/// A dynamic result; an invalid input gives dynamic null.
fn dynamic_out(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(&Rows, usize) -> Option<DynValue>,
) -> Result<ColumnarValue> {
    each_row(args, rows, f, |v| {
        let mut out = BinaryBuilder::with_capacity(v.len(), v.len() * 64);
        for value in v {
            match value {
                Some(value) => out.append_value(value.encode()),
                None => out.append_value(ENCODED_NULL),
            }
        }
        Arc::new(out.finish())
    })
}

/// Whether `(lon, lat)` is a valid coordinate in degrees.
fn valid_point(lon: f64, lat: f64) -> bool {
    (-180.0..=180.0).contains(&lon) && (-90.0..=90.0).contains(&lat)
}

/// A GeoJSON point.
fn point_json(lon: f64, lat: f64) -> DynValue {
    DynValue::Object(vec![
        ("type".into(), DynValue::String("Point".into())),
        ("coordinates".into(), DynValue::Array(vec![DynValue::Real(lon), DynValue::Real(lat)])),
    ])
}

/// A GeoJSON polygon of one ring, given as `(lon, lat)` vertices; the ring
/// is closed here.
fn polygon_json(vertices: &[(f64, f64)]) -> DynValue {
    let mut ring: Vec<DynValue> =
        vertices.iter().map(|&(lon, lat)| DynValue::Array(vec![DynValue::Real(lon), DynValue::Real(lat)])).collect();
    if let Some(first) = ring.first().cloned() {
        ring.push(first);
    }
    DynValue::Object(vec![
        ("type".into(), DynValue::String("Polygon".into())),
        ("coordinates".into(), DynValue::Array(vec![DynValue::Array(ring)])),
    ])
}

/// A dynamic array of strings.
fn string_array(items: impl IntoIterator<Item = String>) -> DynValue {
    DynValue::Array(items.into_iter().map(DynValue::String).collect())
}

/// Cell tokens in the order Kusto lists a cell's neighbors. Kusto collects
/// them in a C++ `std::unordered_set<std::string>` (Microsoft's standard
/// library: FNV-1a hash, 8 buckets for up to 8 elements, a key for an empty
/// bucket appended to the list, a key for a used bucket put in front of
/// that bucket's keys) and lists the set. This reproduces the documented
/// orders of `geo_s2cell_neighbors('89c259')` and
/// `geo_geohash_neighbors('sunny')` from their natural insertion orders.
/// Duplicates are dropped; more than 8 tokens (never the case for
/// neighbors) keep their insertion order.
fn kusto_set_order(tokens: Vec<String>) -> Vec<String> {
    const BUCKETS: u64 = 8;
    fn fnv1a(s: &str) -> u64 {
        s.bytes().fold(0xcbf2_9ce4_8422_2325_u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0000_0100_0000_01b3))
    }
    let mut unique: Vec<String> = Vec::with_capacity(tokens.len());
    for t in tokens {
        if !unique.contains(&t) {
            unique.push(t);
        }
    }
    if unique.len() > BUCKETS as usize {
        return unique;
    }
    let mut list: Vec<(u64, String)> = Vec::with_capacity(unique.len());
    for t in unique {
        let bucket = fnv1a(&t) % BUCKETS;
        match list.iter().position(|(b, _)| *b == bucket) {
            Some(first) => list.insert(first, (bucket, t)),
            None => list.push((bucket, t)),
        }
    }
    list.into_iter().map(|(_, t)| t).collect()
}
