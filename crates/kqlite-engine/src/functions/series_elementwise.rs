//! Element-wise series functions over dynamic numeric arrays: the unary
//! math family (`series_abs`, `series_sin`, …), the binary arithmetic and
//! comparison families (`series_add`, `series_greater`, …, each operand an
//! array or a scalar), and the reductions (`series_sum`, `series_product`,
//! `series_magnitude`, `series_dot_product`, `series_cosine_similarity`,
//! `series_pearson_correlation`).
//!
//! As the reference documents, a non-numeric element, or an element one
//! array has and the other lacks, gives a null element.

use super::{CallError, CallResult, Registry};
use crate::convert::Bound;
use crate::dynamic::{DynKind, DynRef, DynValue};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute, Kernel};
use datafusion::arrow::array::{Array, ArrayRef, Float64Builder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_float64_array, as_int64_array};
use datafusion::common::Result;
use datafusion::logical_expr::{cast, ColumnarValue, Expr};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("series_abs", 1, 1, |_, a| unary_call("series_abs", a, unary_kernel::<ABS>));
    r.scalar("series_acos", 1, 1, |_, a| unary_call("series_acos", a, unary_kernel::<ACOS>));
    r.scalar("series_asin", 1, 1, |_, a| unary_call("series_asin", a, unary_kernel::<ASIN>));
    r.scalar("series_atan", 1, 1, |_, a| unary_call("series_atan", a, unary_kernel::<ATAN>));
    r.scalar("series_ceiling", 1, 1, |_, a| unary_call("series_ceiling", a, unary_kernel::<CEILING>));
    r.scalar("series_cos", 1, 1, |_, a| unary_call("series_cos", a, unary_kernel::<COS>));
    r.scalar("series_exp", 1, 1, |_, a| unary_call("series_exp", a, unary_kernel::<EXP>));
    r.scalar("series_floor", 1, 1, |_, a| unary_call("series_floor", a, unary_kernel::<FLOOR>));
    r.scalar("series_log", 1, 1, |_, a| unary_call("series_log", a, unary_kernel::<LOG>));
    r.scalar("series_sign", 1, 1, |_, a| unary_call("series_sign", a, unary_kernel::<SIGN>));
    r.scalar("series_sin", 1, 1, |_, a| unary_call("series_sin", a, unary_kernel::<SIN>));
    r.scalar("series_tan", 1, 1, |_, a| unary_call("series_tan", a, unary_kernel::<TAN>));

    r.scalar("series_add", 2, 2, |_, a| binary_call("series_add", a, binary_kernel::<ADD>));
    r.scalar("series_subtract", 2, 2, |_, a| binary_call("series_subtract", a, binary_kernel::<SUBTRACT>));
    r.scalar("series_multiply", 2, 2, |_, a| binary_call("series_multiply", a, binary_kernel::<MULTIPLY>));
    r.scalar("series_divide", 2, 2, |_, a| binary_call("series_divide", a, binary_kernel::<DIVIDE>));
    r.scalar("series_pow", 2, 2, |_, a| binary_call("series_pow", a, binary_kernel::<POW>));
    r.scalar("series_equals", 2, 2, |_, a| binary_call("series_equals", a, binary_kernel::<EQUALS>));
    r.scalar("series_not_equals", 2, 2, |_, a| binary_call("series_not_equals", a, binary_kernel::<NOT_EQUALS>));
    r.scalar("series_greater", 2, 2, |_, a| binary_call("series_greater", a, binary_kernel::<GREATER>));
    r.scalar("series_greater_equals", 2, 2, |_, a| {
        binary_call("series_greater_equals", a, binary_kernel::<GREATER_EQUALS>)
    });
    r.scalar("series_less", 2, 2, |_, a| binary_call("series_less", a, binary_kernel::<LESS>));
    r.scalar("series_less_equals", 2, 2, |_, a| binary_call("series_less_equals", a, binary_kernel::<LESS_EQUALS>));

    r.scalar("series_sum", 1, 1, |_, a| reduce_call("series_sum", a, 1, reduce_kernel::<SUM>));
    r.scalar("series_product", 1, 1, |_, a| reduce_call("series_product", a, 1, reduce_kernel::<PRODUCT>));
    r.scalar("series_magnitude", 1, 1, |_, a| reduce_call("series_magnitude", a, 1, reduce_kernel::<MAGNITUDE>));
    r.scalar("series_dot_product", 2, 2, |_, a| dot_product_call(a));
    r.scalar("series_cosine_similarity", 2, 4, |_, a| cosine_similarity_call(a));
    r.scalar("series_pearson_correlation", 2, 2, |_, a| {
        reduce_call("series_pearson_correlation", a, 2, reduce_kernel::<PEARSON>)
    });
}

/// A numeric array element: Kusto keeps longs long where it can (`series_add`
/// of two long arrays gives longs).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Num {
    Long(i64),
    Real(f64),
}

impl Num {
    pub fn real(self) -> f64 {
        match self {
            Num::Long(v) => v as f64,
            Num::Real(v) => v,
        }
    }

    pub fn to_dyn(self) -> DynValue {
        match self {
            Num::Long(v) => DynValue::Long(v),
            Num::Real(v) => DynValue::Real(v),
        }
    }
}

/// The number an element holds; `None` for null and non-numeric elements.
pub fn element(d: DynRef<'_>) -> Option<Num> {
    match d.kind() {
        DynKind::Long => d.as_long().map(Num::Long),
        DynKind::Real => d.as_real().map(Num::Real),
        _ => None,
    }
}

/// The elements of a dynamic array; `None` when the value is not an array.
pub fn elements(d: DynRef<'_>) -> Option<Vec<Option<Num>>> {
    (d.kind() == DynKind::Array).then(|| d.array_items().map(element).collect())
}

/// One row's operand of a binary series function.
#[derive(Debug)]
enum Operand {
    Array(Vec<Option<Num>>),
    /// A scalar, applied to every element of the other operand.
    Scalar(Option<Num>),
    /// A dynamic value that is neither an array nor a number.
    Invalid,
}

impl Operand {
    fn read(array: &ArrayRef, row: usize) -> Result<Operand> {
        if array.is_null(row) {
            return Ok(match array.data_type() {
                DataType::Binary => Operand::Invalid,
                _ => Operand::Scalar(None),
            });
        }
        Ok(match array.data_type() {
            DataType::Int64 => Operand::Scalar(Some(Num::Long(as_int64_array(array)?.value(row)))),
            DataType::Float64 => Operand::Scalar(Some(Num::Real(as_float64_array(array)?.value(row)))),
            _ => {
                let d = DynRef::new(as_binary_array(array)?.value(row));
                match (elements(d), element(d)) {
                    (Some(items), _) => Operand::Array(items),
                    (None, Some(n)) => Operand::Scalar(Some(n)),
                    (None, None) => Operand::Invalid,
                }
            }
        })
    }

    fn len(&self) -> Option<usize> {
        match self {
            Operand::Array(v) => Some(v.len()),
            _ => None,
        }
    }

    fn get(&self, i: usize) -> Option<Num> {
        match self {
            Operand::Array(v) => v.get(i).copied().flatten(),
            Operand::Scalar(n) => *n,
            Operand::Invalid => None,
        }
    }
}

/// Binds a series argument (dynamic) or, where `allow_scalar`, a number
/// (as Int64 or Float64, so that longs stay long).
fn operand_expr(name: &str, index: usize, b: Bound, allow_scalar: bool) -> CallResult<Expr> {
    match b.ty {
        KqlType::Dynamic => Ok(b.expr),
        KqlType::Int | KqlType::Long if allow_scalar => Ok(cast(b.expr, DataType::Int64)),
        KqlType::Real | KqlType::Decimal if allow_scalar => Ok(cast(b.expr, DataType::Float64)),
        other => Err(CallError::argument_type(
            name,
            index,
            if allow_scalar { "dynamic or number" } else { "dynamic" },
            other,
        )),
    }
}

fn unary_call(name: &str, args: Vec<Bound>, kernel: Kernel) -> CallResult<Bound> {
    let series = operand_expr(name, 0, args.into_iter().next().expect("arity checked"), false)?;
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Binary, kernel, vec![series]), KqlType::Dynamic))
}

const ABS: u8 = 0;
const ACOS: u8 = 1;
const ASIN: u8 = 2;
const ATAN: u8 = 3;
const CEILING: u8 = 4;
const COS: u8 = 5;
const EXP: u8 = 6;
const FLOOR: u8 = 7;
const LOG: u8 = 8;
const SIGN: u8 = 9;
const SIN: u8 = 10;
const TAN: u8 = 11;

/// The unary function `OP` of one element, as a real (the reference's
/// examples print reals even for long input, e.g. `series_floor([1])` → `[1.0]`).
pub fn unary(op: u8, x: f64) -> f64 {
    match op {
        ABS => x.abs(),
        ACOS => x.acos(),
        ASIN => x.asin(),
        ATAN => x.atan(),
        CEILING => x.ceil(),
        COS => x.cos(),
        EXP => x.exp(),
        FLOOR => x.floor(),
        LOG => x.ln(),
        SIGN => {
            if x > 0.0 {
                1.0
            } else if x < 0.0 {
                -1.0
            } else {
                0.0
            }
        }
        SIN => x.sin(),
        _ => x.tan(),
    }
}

fn unary_kernel<const OP: u8>(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let Operand::Array(items) = Operand::read(&arrays[0], row)? else { return Ok(None) };
        Ok(Some(DynValue::Array(
            items.into_iter().map(|x| x.map_or(DynValue::Null, |x| DynValue::Real(unary(OP, x.real())))).collect(),
        )))
    })
}

fn binary_call(name: &str, args: Vec<Bound>, kernel: Kernel) -> CallResult<Bound> {
    if args.iter().all(|a| a.ty != KqlType::Dynamic) {
        let types: Vec<&str> = args.iter().map(|a| a.ty.name()).collect();
        return Err(CallError::invalid(
            name,
            format!("the function '{name}' is not compatible with arguments ({})", types.join(", ")),
        ));
    }
    let exprs =
        args.into_iter().enumerate().map(|(i, b)| operand_expr(name, i, b, true)).collect::<CallResult<Vec<_>>>()?;
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Binary, kernel, exprs), KqlType::Dynamic))
}

const ADD: u8 = 0;
const SUBTRACT: u8 = 1;
const MULTIPLY: u8 = 2;
const DIVIDE: u8 = 3;
const POW: u8 = 4;
const EQUALS: u8 = 5;
const NOT_EQUALS: u8 = 6;
const GREATER: u8 = 7;
const GREATER_EQUALS: u8 = 8;
const LESS: u8 = 9;
const LESS_EQUALS: u8 = 10;

/// The binary operation `OP` on two present elements. Addition,
/// subtraction and multiplication of longs stay long (null on overflow);
/// division and power are real (division by zero gives ±∞ or NaN, as
/// double division does); comparisons are bools.
pub fn binary(op: u8, a: Num, b: Num) -> DynValue {
    let longs = match (a, b) {
        (Num::Long(x), Num::Long(y)) => Some((x, y)),
        _ => None,
    };
    let (x, y) = (a.real(), b.real());
    let arithmetic = |checked: fn(i64, i64) -> Option<i64>, real: fn(f64, f64) -> f64| match longs {
        Some((p, q)) => checked(p, q).map_or(DynValue::Null, DynValue::Long),
        None => DynValue::Real(real(x, y)),
    };
    match op {
        ADD => arithmetic(i64::checked_add, |x, y| x + y),
        SUBTRACT => arithmetic(i64::checked_sub, |x, y| x - y),
        MULTIPLY => arithmetic(i64::checked_mul, |x, y| x * y),
        DIVIDE => DynValue::Real(x / y),
        POW => DynValue::Real(x.powf(y)),
        _ => {
            // Longs compare exactly; anything else as reals.
            let ord = match longs {
                Some((p, q)) => Some(p.cmp(&q)),
                None => x.partial_cmp(&y),
            };
            let Some(ord) = ord else { return DynValue::Bool(op == NOT_EQUALS) };
            DynValue::Bool(match op {
                EQUALS => ord.is_eq(),
                NOT_EQUALS => ord.is_ne(),
                GREATER => ord.is_gt(),
                GREATER_EQUALS => ord.is_ge(),
                LESS => ord.is_lt(),
                _ => ord.is_le(),
            })
        }
    }
}

fn binary_kernel<const OP: u8>(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let (a, b) = (Operand::read(&arrays[0], row)?, Operand::read(&arrays[1], row)?);
        if matches!(a, Operand::Invalid) || matches!(b, Operand::Invalid) {
            return Ok(None);
        }
        // At least one operand must be an array; the longer sets the length.
        let Some(len) = a.len().max(b.len()) else { return Ok(None) };
        Ok(Some(DynValue::Array(
            (0..len)
                .map(|i| match (a.get(i), b.get(i)) {
                    (Some(x), Some(y)) => binary(OP, x, y),
                    _ => DynValue::Null,
                })
                .collect(),
        )))
    })
}

const SUM: u8 = 0;
const PRODUCT: u8 = 1;
const MAGNITUDE: u8 = 2;
const PEARSON: u8 = 3;

fn reduce_call(name: &str, args: Vec<Bound>, arrays: usize, kernel: Kernel) -> CallResult<Bound> {
    let exprs = args
        .into_iter()
        .take(arrays)
        .enumerate()
        .map(|(i, b)| operand_expr(name, i, b, false))
        .collect::<CallResult<Vec<_>>>()?;
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Float64, kernel, exprs), KqlType::Real))
}

/// Reduces each row's arrays to a real; rows whose arguments are not arrays give null.
fn reduce_rows(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(&[Vec<Option<Num>>], &[ArrayRef], usize) -> Result<Option<f64>>,
) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays: Vec<ArrayRef> = args.iter().map(|a| a.to_array(n)).collect::<Result<_>>()?;
    let mut out = Float64Builder::with_capacity(n);
    for row in 0..n {
        let mut series = Vec::new();
        for a in arrays.iter().filter(|a| a.data_type() == &DataType::Binary) {
            match Operand::read(a, row)? {
                Operand::Array(items) => series.push(items),
                _ => break,
            }
        }
        let wanted = arrays.iter().filter(|a| a.data_type() == &DataType::Binary).count();
        if series.len() < wanted {
            out.append_null();
            continue;
        }
        out.append_option(f(&series, &arrays, row)?);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// The present elements of a series as reals (missing ones skipped).
fn present(series: &[Option<Num>]) -> impl Iterator<Item = f64> + '_ {
    series.iter().flatten().map(|x| x.real())
}

/// Pairs of elements present in both series, up to the shorter length.
fn present_pairs<'a>(a: &'a [Option<Num>], b: &'a [Option<Num>]) -> impl Iterator<Item = (f64, f64)> + 'a {
    a.iter().zip(b).filter_map(|(x, y)| Some((x.as_ref()?.real(), y.as_ref()?.real())))
}

/// The Pearson correlation coefficient of two series of the same length;
/// `None` when their lengths differ or either has no variance.
pub fn pearson_correlation(a: &[Option<Num>], b: &[Option<Num>]) -> Option<f64> {
    if a.len() != b.len() {
        return None;
    }
    let pairs: Vec<(f64, f64)> = present_pairs(a, b).collect();
    if pairs.is_empty() {
        return None;
    }
    let n = pairs.len() as f64;
    let (mx, my) = (pairs.iter().map(|p| p.0).sum::<f64>() / n, pairs.iter().map(|p| p.1).sum::<f64>() / n);
    let sxy: f64 = pairs.iter().map(|(x, y)| (x - mx) * (y - my)).sum();
    let sxx: f64 = pairs.iter().map(|(x, _)| (x - mx).powi(2)).sum();
    let syy: f64 = pairs.iter().map(|(_, y)| (y - my).powi(2)).sum();
    let r = sxy / (sxx * syy).sqrt();
    r.is_finite().then_some(r)
}

fn reduce_kernel<const OP: u8>(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    reduce_rows(args, rows, |series, _, _| {
        let s = &series[0];
        Ok(match OP {
            SUM => Some(present(s).sum()),
            PRODUCT => Some(present(s).product()),
            MAGNITUDE => Some(present(s).map(|x| x * x).sum::<f64>().sqrt()),
            _ => pearson_correlation(s, &series[1]),
        })
    })
}

/// `series_dot_product(series1, series2)`: either may be a scalar, applied
/// to every element of the other.
fn dot_product_call(args: Vec<Bound>) -> CallResult<Bound> {
    let name = "series_dot_product";
    if args.iter().all(|a| a.ty != KqlType::Dynamic) {
        return Err(CallError::invalid(
            name,
            format!("the function '{name}' needs at least one dynamic array argument"),
        ));
    }
    let exprs =
        args.into_iter().enumerate().map(|(i, b)| operand_expr(name, i, b, true)).collect::<CallResult<Vec<_>>>()?;
    Ok(Bound::new(udf::call("kql_series_dot_product", DataType::Float64, dot_product_kernel, exprs), KqlType::Real))
}

/// The sum of element-wise products over the longer operand's length;
/// elements missing from either side are left out.
pub fn dot_product(a: &[Option<Num>], b: &[Option<Num>]) -> f64 {
    a.iter().zip(b).filter_map(|(x, y)| Some(x.as_ref()?.real() * y.as_ref()?.real())).sum()
}

fn dot_product_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays: Vec<ArrayRef> = args.iter().map(|a| a.to_array(n)).collect::<Result<_>>()?;
    let mut out = Float64Builder::with_capacity(n);
    for row in 0..n {
        let (a, b) = (Operand::read(&arrays[0], row)?, Operand::read(&arrays[1], row)?);
        let invalid = matches!(a, Operand::Invalid) || matches!(b, Operand::Invalid);
        // At least one operand must be an array; the longer sets the length.
        let value = a.len().max(b.len()).filter(|_| !invalid).map(|len| {
            let left: Vec<Option<Num>> = (0..len).map(|i| a.get(i)).collect();
            let right: Vec<Option<Num>> = (0..len).map(|i| b.get(i)).collect();
            dot_product(&left, &right)
        });
        out.append_option(value);
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

/// `series_cosine_similarity(series1, series2 [, magnitude1, magnitude2])`:
/// the magnitudes, when given, save computing them.
fn cosine_similarity_call(args: Vec<Bound>) -> CallResult<Bound> {
    let name = "series_cosine_similarity";
    let mut exprs = Vec::new();
    for (i, b) in args.into_iter().enumerate() {
        exprs.push(if i < 2 {
            operand_expr(name, i, b, false)?
        } else if b.ty.is_numeric() {
            cast(b.expr, DataType::Float64)
        } else {
            return Err(CallError::argument_type(name, i, "real", b.ty));
        });
    }
    Ok(Bound::new(
        udf::call("kql_series_cosine_similarity", DataType::Float64, cosine_similarity_kernel, exprs),
        KqlType::Real,
    ))
}

/// The cosine of the angle between two series of the same length; `None`
/// when the lengths differ or a magnitude is zero.
pub fn cosine_similarity(a: &[Option<Num>], b: &[Option<Num>], mag_a: Option<f64>, mag_b: Option<f64>) -> Option<f64> {
    if a.len() != b.len() {
        return None;
    }
    let mag_a = mag_a.unwrap_or_else(|| present(a).map(|x| x * x).sum::<f64>().sqrt());
    let mag_b = mag_b.unwrap_or_else(|| present(b).map(|x| x * x).sum::<f64>().sqrt());
    let r = dot_product(a, b) / (mag_a * mag_b);
    r.is_finite().then_some(r)
}

fn cosine_similarity_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    reduce_rows(args, rows, |series, arrays, row| {
        let magnitude = |i: usize| -> Result<Option<f64>> {
            match arrays.get(i) {
                Some(a) if !a.is_null(row) => Ok(Some(as_float64_array(a)?.value(row))),
                _ => Ok(None),
            }
        };
        Ok(cosine_similarity(&series[0], &series[1], magnitude(2)?, magnitude(3)?))
    })
}
