//! Numeric functions, `bin`, null handling (`isnull`, `coalesce`, …),
//! bitwise functions, random values and hashes.

use super::{coerce, expect_one_of, CallError, CallResult, Registry, NUMERIC};
use crate::convert::{to_string, unify_values, Bound};
use crate::types::{KqlType, NANOS_PER_TICK, UNIX_EPOCH_TICKS};
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::*;
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_boolean_array, as_float64_array, as_int32_array, as_int64_array, as_string_array};
use datafusion::common::{exec_err, Result, ScalarValue};
use datafusion::functions::expr_fn as df;
use datafusion::logical_expr::{binary_expr, cast, lit, when, ColumnarValue, Expr, Operator, Volatility};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("bin", 2, 2, |_, a| bin(a));
    r.scalar("floor", 2, 2, |_, a| bin(a));
    r.scalar("isnull", 1, 1, |_, a| Ok(Bound::new(null_test(&a[0]), KqlType::Bool)));
    r.scalar("isnotnull", 1, 1, |_, a| Ok(Bound::new(Expr::Not(Box::new(null_test(&a[0]))), KqlType::Bool)));
    r.scalar("notnull", 1, 1, |_, a| Ok(Bound::new(Expr::Not(Box::new(null_test(&a[0]))), KqlType::Bool)));
    r.scalar("not", 1, 1, |_, mut a| {
        let b = coerce("not", 0, a.swap_remove(0), KqlType::Bool)?;
        Ok(Bound::new(Expr::Not(Box::new(b.expr)), KqlType::Bool))
    });
    r.scalar("coalesce", 1, 64, |_, a| {
        // Strings mixed with dynamic values (`coalesce(Name, split(Arn, '/')[-1])`)
        // are taken as strings: Kusto runs ASIM's AWS CloudTrail parser, which
        // does this, though its front end flags it.
        let strings_and_dynamics = a.iter().any(|b| b.ty == KqlType::String)
            && a.iter().all(|b| matches!(b.ty, KqlType::String | KqlType::Dynamic));
        let a = if strings_and_dynamics { a.into_iter().map(crate::convert::to_string).collect() } else { a };
        let (exprs, ty) =
            unify_values(a).ok_or_else(|| CallError::invalid("coalesce", "all arguments must have the same type"))?;
        if ty == KqlType::String {
            // Kusto's coalesce returns the first non-null, or for strings
            // the first non-empty, argument; all empty gives "".
            let mut exprs: Vec<Expr> = exprs.into_iter().map(|e| df::nullif(e, lit(""))).collect();
            exprs.push(lit(""));
            return Ok(Bound::new(df::coalesce(exprs), ty));
        }
        Ok(Bound::new(df::coalesce(exprs), ty))
    });
    r.scalar("max_of", 2, 64, |_, a| extremum("max_of", a, df::greatest));
    r.scalar("min_of", 2, 64, |_, a| extremum("min_of", a, df::least));
    r.scalar("abs", 1, 1, |_, a| {
        use KqlType::*;
        expect_one_of("abs", 0, &a[0], &[Int, Long, Real, Decimal, Timespan])?;
        // Kusto widens int to long here.
        let ty = if a[0].ty == Int { Long } else { a[0].ty };
        Ok(Bound::new(df::abs(cast(a[0].expr.clone(), ty.arrow())), ty))
    });
    r.scalar("round", 1, 2, |_, a| round(a));
    r.scalar("ceiling", 1, 1, |_, a| {
        expect_one_of("ceiling", 0, &a[0], NUMERIC)?;
        let b = a[0].clone();
        // Integers are already whole; Kusto keeps their type.
        let expr = if matches!(b.ty, KqlType::Int | KqlType::Long) { b.expr } else { df::ceil(b.expr) };
        Ok(Bound::new(expr, b.ty))
    });
    r.scalar("sign", 1, 1, |_, a| real_fn("sign", a, sign));
    r.scalar("sqrt", 1, 1, |_, a| real_fn("sqrt", a, sqrt));
    r.scalar("exp", 1, 1, |_, a| real_fn("exp", a, exp));
    r.scalar("exp2", 1, 1, |_, a| real_fn("exp2", a, exp2));
    r.scalar("exp10", 1, 1, |_, a| real_fn("exp10", a, exp10));
    r.scalar("log", 1, 1, |_, a| real_fn("log", a, log));
    r.scalar("log2", 1, 1, |_, a| real_fn("log2", a, log2));
    r.scalar("log10", 1, 1, |_, a| real_fn("log10", a, log10));
    r.scalar("sin", 1, 1, |_, a| real_fn("sin", a, sin));
    r.scalar("cos", 1, 1, |_, a| real_fn("cos", a, cos));
    r.scalar("tan", 1, 1, |_, a| real_fn("tan", a, tan));
    r.scalar("cot", 1, 1, |_, a| real_fn("cot", a, cot));
    r.scalar("asin", 1, 1, |_, a| real_fn("asin", a, asin));
    r.scalar("acos", 1, 1, |_, a| real_fn("acos", a, acos));
    r.scalar("atan", 1, 1, |_, a| real_fn("atan", a, atan));
    r.scalar("degrees", 1, 1, |_, a| real_fn("degrees", a, degrees));
    r.scalar("radians", 1, 1, |_, a| real_fn("radians", a, radians));
    r.scalar("pow", 2, 2, |_, a| real_fn("pow", a, pow));
    r.scalar("atan2", 2, 2, |_, a| real_fn("atan2", a, atan2));
    r.scalar("pi", 0, 0, |_, _| Ok(Bound::new(lit(std::f64::consts::PI), KqlType::Real)));
    r.scalar("isnan", 1, 1, |_, a| real_test("isnan", a, isnan));
    r.scalar("isinf", 1, 1, |_, a| real_test("isinf", a, isinf));
    r.scalar("isfinite", 1, 1, |_, a| real_test("isfinite", a, isfinite));
    r.scalar("binary_and", 2, 2, |_, a| bitwise("binary_and", a, Some(Operator::BitwiseAnd)));
    r.scalar("binary_or", 2, 2, |_, a| bitwise("binary_or", a, Some(Operator::BitwiseOr)));
    r.scalar("binary_xor", 2, 2, |_, a| bitwise("binary_xor", a, Some(Operator::BitwiseXor)));
    r.scalar("binary_not", 1, 1, |_, a| bitwise("binary_not", a, None));
    r.scalar("binary_shift_left", 2, 2, |_, a| shift("binary_shift_left", a, shift_left));
    r.scalar("binary_shift_right", 2, 2, |_, a| shift("binary_shift_right", a, shift_right));
    r.scalar("rand", 0, 1, |_, a| {
        let args =
            a.into_iter().map(|b| coerce("rand", 0, b, KqlType::Long).map(|b| b.expr)).collect::<Result<_, _>>()?;
        let expr = udf::call_with_volatility("kql_rand", DataType::Float64, rand, args, Volatility::Volatile);
        Ok(Bound::new(expr, KqlType::Real))
    });
    r.scalar("new_guid", 0, 0, |_, _| {
        let expr = udf::call_with_volatility("kql_new_guid", DataType::Utf8, new_guid, vec![], Volatility::Volatile);
        Ok(Bound::new(expr, KqlType::Guid))
    });
    r.scalar("hash", 1, 2, |_, a| xxhash("hash", a));
    r.scalar("hash_xxhash64", 1, 2, |_, a| xxhash("hash_xxhash64", a));
    r.scalar("hash_sha256", 1, 1, |_, a| digest("hash_sha256", a, "kql_hash_sha256", hash_sha256));
    r.scalar("hash_sha1", 1, 1, |_, a| digest("hash_sha1", a, "kql_hash_sha1", hash_sha1));
    r.scalar("hash_md5", 1, 1, |_, a| digest("hash_md5", a, "kql_hash_md5", hash_md5));
}

/// Kusto's `isnull`: strings are never null; a dynamic is null when it
/// holds the null value.
fn null_test(value: &Bound) -> Expr {
    match value.ty {
        KqlType::String => lit(false),
        KqlType::Dynamic => super::dynamic::is_null(value.clone()),
        _ => value.expr.clone().is_null(),
    }
}

/// `bin(value, size)`: rounds down to a multiple of `size` (numbers,
/// datetimes by timespan, timespans).
fn bin(args: Vec<Bound>) -> CallResult<Bound> {
    let (value, size) = (&args[0], &args[1]);
    match value.ty {
        KqlType::Datetime | KqlType::Timespan => {
            expect_one_of("bin", 1, size, &[KqlType::Timespan])?;
            Ok(Bound::new(floor_multiple(value.expr.clone(), size.expr.clone()), value.ty))
        }
        KqlType::Int | KqlType::Long => {
            expect_one_of("bin", 1, size, NUMERIC)?;
            if matches!(size.ty, KqlType::Real | KqlType::Decimal) {
                let v = cast(value.expr.clone(), DataType::Float64);
                let s = size.expr.clone();
                return Ok(Bound::new(df::floor(v / s.clone()) * s, KqlType::Real));
            }
            let v = cast(value.expr.clone(), DataType::Int64);
            Ok(Bound::new(floor_multiple(v, cast(size.expr.clone(), DataType::Int64)), KqlType::Long))
        }
        KqlType::Real | KqlType::Decimal => {
            expect_one_of("bin", 1, size, NUMERIC)?;
            let s = cast(size.expr.clone(), DataType::Float64);
            Ok(Bound::new(df::floor(value.expr.clone() / s.clone()) * s, KqlType::Real))
        }
        t => Err(CallError::CannotRound { function: "bin".to_string(), actual: t }),
    }
}

/// `v - ((v % s) + s) % s`: floor to a multiple of `s`, also for negatives;
/// null when `s` is zero.
pub(crate) fn floor_multiple(v: Expr, s: Expr) -> Expr {
    let remainder = ((v.clone() % s.clone()) + s.clone()) % s.clone();
    when(s.eq(lit(0i64)), lit(datafusion::common::ScalarValue::Int64(None)))
        .otherwise(v - remainder)
        .expect("well-formed case")
}

/// `max_of`/`min_of`: arguments are promoted to a common orderable type,
/// and nulls are skipped (null only when every argument is null), which is
/// exactly DataFusion's `greatest`/`least`.
fn extremum(name: &str, args: Vec<Bound>, f: fn(Vec<Expr>) -> Expr) -> CallResult<Bound> {
    use KqlType::*;
    for (i, b) in args.iter().enumerate() {
        expect_one_of(name, i, b, &[Bool, Int, Long, Real, Decimal, Datetime, Timespan, String])?;
    }
    let (exprs, ty) =
        unify_values(args).ok_or_else(|| CallError::invalid(name, "the arguments have no common type"))?;
    Ok(Bound::new(f(exprs), ty))
}

/// `round(x[, digits])`: half away from zero; integers keep their type.
fn round(args: Vec<Bound>) -> CallResult<Bound> {
    expect_one_of("round", 0, &args[0], NUMERIC)?;
    let ty = args[0].ty;
    let digits = match args.get(1) {
        Some(d) => coerce("round", 1, d.clone(), KqlType::Long)?.expr,
        None => lit(0i64),
    };
    let value = cast(args[0].expr.clone(), DataType::Float64);
    let rounded = udf::call("kql_round", DataType::Float64, round_kernel, vec![value, digits.clone()]);
    if ty.arrow() == DataType::Float64 {
        return Ok(Bound::new(rounded, ty));
    }
    // An integer is already rounded to any digits after the point; going
    // through a double would lose precision beyond 2^53.
    let expr = when(digits.gt_eq(lit(0i64)), args[0].expr.clone()).otherwise(cast(rounded, ty.arrow()));
    Ok(Bound::new(expr.expect("well-formed case"), ty))
}

fn round_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let (values, digits) = (args[0].to_array(n)?, args[1].to_array(n)?);
    let (values, digits) = (as_float64_array(&values)?, as_int64_array(&digits)?);
    let out: Float64Array = values
        .iter()
        .zip(digits.iter())
        .map(|(v, d)| {
            let (v, d) = (v?, d?);
            // Beyond these, scaling would overflow and the value is already
            // as precise (or as coarse) as a double gets.
            let d = d.clamp(-400, 400) as i32;
            let scaled = if d >= 0 {
                (v * 10f64.powi(d)).round() / 10f64.powi(d)
            } else {
                (v / 10f64.powi(-d)).round() * 10f64.powi(-d)
            };
            Some(if scaled.is_finite() || !v.is_finite() { scaled } else { v })
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

/// Binds a real-valued function of real arguments; every argument must be
/// a number (Kusto converts it to real).
pub(super) fn real_fn(name: &str, args: Vec<Bound>, kernel: udf::Kernel) -> CallResult<Bound> {
    let mut exprs = Vec::with_capacity(args.len());
    for (i, b) in args.into_iter().enumerate() {
        expect_one_of(name, i, &b, NUMERIC)?;
        exprs.push(coerce(name, i, b, KqlType::Real)?.expr);
    }
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Float64, kernel, exprs), KqlType::Real))
}

/// Defines a kernel applying `f` to real arguments. A NaN produced from
/// non-NaN input (`log(-1)`, `sqrt(-1)`, `acos(2)`, the poles of gamma) is
/// null, as in Kusto. Shared with [`super::misc`].
macro_rules! real_kernel {
    ($name:ident, |$x:ident| $body:expr) => {
        fn $name(
            args: &[datafusion::logical_expr::ColumnarValue],
            rows: usize,
        ) -> datafusion::common::Result<datafusion::logical_expr::ColumnarValue> {
            let n = $crate::udf::rows_to_compute(args, rows);
            let a = args[0].to_array(n)?;
            let out: datafusion::arrow::array::Float64Array = datafusion::common::cast::as_float64_array(&a)?
                .iter()
                .map(|v| v.and_then(|$x: f64| Some($body).filter(|r: &f64| !r.is_nan() || $x.is_nan())))
                .collect();
            $crate::udf::maybe_scalar(args, std::sync::Arc::new(out))
        }
    };
    ($name:ident, |$x:ident, $y:ident| $body:expr) => {
        fn $name(
            args: &[datafusion::logical_expr::ColumnarValue],
            rows: usize,
        ) -> datafusion::common::Result<datafusion::logical_expr::ColumnarValue> {
            let n = $crate::udf::rows_to_compute(args, rows);
            let (a, b) = (args[0].to_array(n)?, args[1].to_array(n)?);
            let out: datafusion::arrow::array::Float64Array = datafusion::common::cast::as_float64_array(&a)?
                .iter()
                .zip(datafusion::common::cast::as_float64_array(&b)?.iter())
                .map(|(x, y)| {
                    let ($x, $y): (f64, f64) = (x?, y?);
                    Some($body).filter(|r: &f64| !r.is_nan() || $x.is_nan() || $y.is_nan())
                })
                .collect();
            $crate::udf::maybe_scalar(args, std::sync::Arc::new(out))
        }
    };
}
pub(super) use real_kernel;

real_kernel!(sign, |x| if x == 0.0 { 0.0 } else { x.signum() });
real_kernel!(sqrt, |x| x.sqrt());
real_kernel!(exp, |x| x.exp());
real_kernel!(exp2, |x| x.exp2());
real_kernel!(exp10, |x| 10f64.powf(x));
real_kernel!(log, |x| x.ln());
real_kernel!(log2, |x| x.log2());
real_kernel!(log10, |x| x.log10());
real_kernel!(sin, |x| x.sin());
real_kernel!(cos, |x| x.cos());
real_kernel!(tan, |x| x.tan());
real_kernel!(cot, |x| 1.0 / x.tan());
real_kernel!(asin, |x| x.asin());
real_kernel!(acos, |x| x.acos());
real_kernel!(atan, |x| x.atan());
real_kernel!(degrees, |x| x.to_degrees());
real_kernel!(radians, |x| x.to_radians());
real_kernel!(pow, |x, y| x.powf(y));
real_kernel!(atan2, |y, x| y.atan2(x));

/// `isnan`/`isinf`/`isfinite` of a number.
fn real_test(name: &str, mut args: Vec<Bound>, kernel: udf::Kernel) -> CallResult<Bound> {
    expect_one_of(name, 0, &args[0], NUMERIC)?;
    let value = coerce(name, 0, args.swap_remove(0), KqlType::Real)?;
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Boolean, kernel, vec![value.expr]), KqlType::Bool))
}

macro_rules! real_test_kernel {
    ($name:ident, $test:expr) => {
        fn $name(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            let n = rows_to_compute(args, rows);
            let a = args[0].to_array(n)?;
            let out: BooleanArray = as_float64_array(&a)?.iter().map(|v| v.map($test)).collect();
            maybe_scalar(args, Arc::new(out))
        }
    };
}

real_test_kernel!(isnan, f64::is_nan);
real_test_kernel!(isinf, f64::is_infinite);
real_test_kernel!(isfinite, f64::is_finite);

/// Integer arguments of the `binary_*` functions, widened to long.
fn integer_args(name: &str, args: Vec<Bound>) -> CallResult<Vec<Expr>> {
    args.into_iter()
        .enumerate()
        .map(|(i, b)| {
            expect_one_of(name, i, &b, &[KqlType::Int, KqlType::Long])?;
            Ok(cast(b.expr, DataType::Int64))
        })
        .collect()
}

/// `binary_and`/`or`/`xor` (and `binary_not` as `x ^ -1`) on longs.
fn bitwise(name: &str, args: Vec<Bound>, op: Option<Operator>) -> CallResult<Bound> {
    let mut e = integer_args(name, args)?;
    let expr = match op {
        Some(op) => binary_expr(e.swap_remove(0), op, e.swap_remove(0)),
        None => binary_expr(e.swap_remove(0), Operator::BitwiseXor, lit(-1i64)),
    };
    Ok(Bound::new(expr, KqlType::Long))
}

/// `binary_shift_left`/`right(value, n)`: shifts by `n % 64`; null for a
/// negative `n`.
fn shift(name: &str, args: Vec<Bound>, kernel: udf::Kernel) -> CallResult<Bound> {
    let e = integer_args(name, args)?;
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Int64, kernel, e), KqlType::Long))
}

macro_rules! shift_kernel {
    ($name:ident, $op:ident) => {
        fn $name(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            let n = rows_to_compute(args, rows);
            let (a, b) = (args[0].to_array(n)?, args[1].to_array(n)?);
            let out: Int64Array = as_int64_array(&a)?
                .iter()
                .zip(as_int64_array(&b)?.iter())
                .map(|(v, s)| match (v, s) {
                    (Some(v), Some(s)) if s >= 0 => Some(v.$op((s % 64) as u32)),
                    _ => None,
                })
                .collect();
            maybe_scalar(args, Arc::new(out))
        }
    };
}

shift_kernel!(shift_left, wrapping_shl);
shift_kernel!(shift_right, wrapping_shr);

/// `rand()` in [0, 1); `rand(n)` a whole number in [0, n) as a real.
fn rand(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    use rand::Rng;
    let mut rng = rand::rng();
    let out: Float64Array = match args.first() {
        None => (0..rows).map(|_| Some(rng.random::<f64>())).collect(),
        Some(limit) => {
            let limit = limit.to_array(rows)?;
            as_int64_array(&limit)?
                .iter()
                .map(|n| n.filter(|n| *n > 0).map(|n| rng.random_range(0..n) as f64))
                .collect()
        }
    };
    Ok(ColumnarValue::Array(Arc::new(out)))
}

/// A random (version 4) guid per row.
fn new_guid(_args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    use rand::Rng;
    let mut rng = rand::rng();
    let mut out = StringBuilder::with_capacity(rows, rows * 36);
    for _ in 0..rows {
        let mut b: [u8; 16] = rng.random();
        b[6] = (b[6] & 0x0f) | 0x40;
        b[8] = (b[8] & 0x3f) | 0x80;
        let h = hex(&b);
        out.append_value(format!("{}-{}-{}-{}-{}", &h[0..8], &h[8..12], &h[12..16], &h[16..20], &h[20..32]));
    }
    Ok(ColumnarValue::Array(Arc::new(out.finish())))
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `hash(x[, mod])`: xxhash64 (seed 0) of the value's bytes, as Kusto does:
/// strings hash their UTF-8 text, datetimes and timespans their 8 ticks
/// bytes (little endian), other scalars their little-endian value.
fn xxhash(name: &str, args: Vec<Bound>) -> CallResult<Bound> {
    use KqlType::*;
    let value = &args[0];
    expect_one_of(name, 0, value, &[Bool, Int, Long, Real, Decimal, String, Datetime, Timespan, Guid])?;
    let value = match value.ty {
        String | Guid => df::coalesce(vec![value.expr.clone(), lit("")]),
        Datetime => value.expr.clone() / lit(NANOS_PER_TICK) + lit(UNIX_EPOCH_TICKS),
        Timespan => value.expr.clone() / lit(NANOS_PER_TICK),
        _ => value.expr.clone(),
    };
    let mut exprs = vec![value];
    if let Some(m) = args.get(1) {
        expect_one_of(name, 1, m, &[Int, Long])?;
        exprs.push(cast(m.expr.clone(), DataType::Int64));
    }
    Ok(Bound::new(udf::call("kql_xxhash64", DataType::Int64, xxhash_kernel, exprs), Long))
}

fn xxhash_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    use twox_hash::XxHash64;
    let n = rows_to_compute(args, rows);
    let values = args[0].to_array(n)?;
    let hashes: Vec<Option<u64>> = match values.data_type() {
        DataType::Utf8 => {
            as_string_array(&values)?.iter().map(|v| v.map(|s| XxHash64::oneshot(0, s.as_bytes()))).collect()
        }
        DataType::Int64 => {
            as_int64_array(&values)?.iter().map(|v| v.map(|v| XxHash64::oneshot(0, &v.to_le_bytes()))).collect()
        }
        DataType::Int32 => {
            as_int32_array(&values)?.iter().map(|v| v.map(|v| XxHash64::oneshot(0, &v.to_le_bytes()))).collect()
        }
        DataType::Float64 => {
            as_float64_array(&values)?.iter().map(|v| v.map(|v| XxHash64::oneshot(0, &v.to_le_bytes()))).collect()
        }
        DataType::Boolean => {
            as_boolean_array(&values)?.iter().map(|v| v.map(|v| XxHash64::oneshot(0, &[u8::from(v)]))).collect()
        }
        t => return exec_err!("kql_xxhash64: unexpected input type {t}"),
    };
    let out: Int64Array = match args.get(1) {
        None => hashes.into_iter().map(|h| h.map(|h| h as i64)).collect(),
        Some(m) => {
            let m = m.to_array(n)?;
            let m = as_int64_array(&m)?;
            hashes
                .into_iter()
                .zip(m.iter())
                .map(|(h, m)| Some((h? % u64::try_from(m?).ok().filter(|m| *m > 0)?) as i64))
                .collect()
        }
    };
    maybe_scalar(args, Arc::new(out))
}

/// `hash_sha256`/`hash_sha1`/`hash_md5`: the lowercase hex digest of the
/// value's text (datetimes in the round-trip form
/// `2020-01-01T00:00:00.0000000Z`, which is what Kusto hashes); "" for null.
fn digest(name: &str, mut args: Vec<Bound>, kernel_name: &str, kernel: udf::Kernel) -> CallResult<Bound> {
    let value = args.swap_remove(0);
    if value.ty == KqlType::Dynamic {
        return Err(CallError::argument_type(name, 0, "a scalar", KqlType::Dynamic));
    }
    let text = match value.ty {
        KqlType::String | KqlType::Guid => df::coalesce(vec![value.expr, lit("")]),
        KqlType::Datetime => udf::call("kql_datetime_roundtrip", DataType::Utf8, datetime_roundtrip, vec![value.expr]),
        _ => when(value.expr.clone().is_null(), lit(ScalarValue::Utf8(None)))
            .otherwise(to_string(value).expr)
            .expect("well-formed case"),
    };
    Ok(Bound::new(udf::call(kernel_name, DataType::Utf8, kernel, vec![text]), KqlType::String))
}

/// .NET's round-trip ("O") text of a datetime, 7 fraction digits; null
/// stays null.
fn datetime_roundtrip(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let a = args[0].to_array(n)?;
    let out: StringArray = as_int64_array(&a)?
        .iter()
        .map(|v| {
            let v = v?;
            let secs = v.div_euclid(1_000_000_000);
            let ticks = v.rem_euclid(1_000_000_000) / NANOS_PER_TICK;
            let dt = chrono::DateTime::from_timestamp(secs, 0)?;
            Some(format!("{}.{ticks:07}Z", dt.format("%Y-%m-%dT%H:%M:%S")))
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

macro_rules! digest_kernel {
    ($name:ident, $hasher:ty) => {
        fn $name(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
            use sha2::Digest;
            let n = rows_to_compute(args, rows);
            let a = args[0].to_array(n)?;
            let mut out = StringBuilder::with_capacity(n, n * 64);
            for v in as_string_array(&a)?.iter() {
                match v {
                    Some(s) => out.append_value(hex(&<$hasher>::digest(s.as_bytes()))),
                    None => out.append_value(""),
                }
            }
            maybe_scalar(args, Arc::new(out.finish()))
        }
    };
}

digest_kernel!(hash_sha256, sha2::Sha256);
digest_kernel!(hash_sha1, sha1::Sha1);
digest_kernel!(hash_md5, md5::Md5);
