//! Series signal processing over dynamic numeric arrays: the fill family
//! (`series_fill_backward`, `series_fill_forward`, `series_fill_const`,
//! `series_fill_linear`), filters (`series_fir`, `series_iir`), the Fourier
//! transforms (`series_fft`, `series_ifft`), `series_seasonal` and period
//! detection (`series_periods_detect`, `series_periods_validate`).
//!
//! The fill functions keep each element's type, as the reference says;
//! filters and transforms read missing elements as 0.

use super::series::{self, DecomposeOptions};
use super::series_elementwise::{element, elements, Num};
use super::{coerce, CallError, CallResult, Registry};
use crate::convert::Bound;
use crate::dynamic::{DynRef, DynValue};
use crate::types::KqlType;
use crate::udf::{self, Kernel};
use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_boolean_array, as_float64_array, as_int64_array};
use datafusion::common::Result;
use datafusion::logical_expr::{cast, ColumnarValue, Expr};

pub fn register(r: &mut Registry) {
    r.scalar("series_fill_backward", 1, 2, |_, a| fill_call("series_fill_backward", a, fill_backward_kernel));
    r.scalar("series_fill_forward", 1, 2, |_, a| fill_call("series_fill_forward", a, fill_forward_kernel));
    r.scalar("series_fill_const", 1, 3, |_, a| fill_call("series_fill_const", a, fill_const_kernel));
    r.scalar("series_fill_linear", 1, 4, |_, a| fill_call("series_fill_linear", a, fill_linear_kernel));
    r.scalar("series_fir", 2, 4, |_, a| fir_call(a));
    r.scalar("series_iir", 3, 3, |_, a| {
        let exprs = typed_args("series_iir", a, &[KqlType::Dynamic, KqlType::Dynamic, KqlType::Dynamic])?;
        Ok(dynamic_call("kql_series_iir", iir_kernel, exprs))
    });
    r.scalar("series_seasonal", 1, 3, |_, a| {
        let exprs = typed_args("series_seasonal", a, &[KqlType::Dynamic, KqlType::Long, KqlType::Long])?;
        Ok(dynamic_call("kql_series_seasonal", seasonal_kernel, exprs))
    });
}

fn dynamic_call(name: &str, kernel: Kernel, exprs: Vec<Expr>) -> Bound {
    Bound::new(udf::call(name, DataType::Binary, kernel, exprs), KqlType::Dynamic)
}

/// Converts each argument to its declared type, casting between number types.
fn typed_args(name: &str, args: Vec<Bound>, types: &[KqlType]) -> CallResult<Vec<Expr>> {
    args.into_iter()
        .enumerate()
        .map(|(i, b)| {
            let ty = types[i.min(types.len() - 1)];
            if ty.is_numeric() && b.ty.is_numeric() {
                Ok(cast(b.expr, ty.arrow()))
            } else {
                Ok(coerce(name, i, b, ty)?.expr)
            }
        })
        .collect()
}

/// A scalar argument whose number type matters (a fill constant keeps its
/// type): longs as Int64, everything else numeric as Float64.
fn number_expr(name: &str, index: usize, b: Bound) -> CallResult<Expr> {
    match b.ty {
        KqlType::Int | KqlType::Long => Ok(cast(b.expr, DataType::Int64)),
        KqlType::Real | KqlType::Decimal => Ok(cast(b.expr, DataType::Float64)),
        other => Err(CallError::argument_type(name, index, "number", other)),
    }
}

fn arg_number(arrays: &[ArrayRef], index: usize, row: usize) -> Result<Option<Num>> {
    let Some(a) = arrays.get(index) else { return Ok(None) };
    if a.is_null(row) {
        return Ok(None);
    }
    Ok(match a.data_type() {
        DataType::Int64 => Some(Num::Long(as_int64_array(a)?.value(row))),
        DataType::Float64 => Some(Num::Real(as_float64_array(a)?.value(row))),
        _ => None,
    })
}

fn arg_bool(arrays: &[ArrayRef], index: usize, row: usize) -> Result<Option<bool>> {
    match arrays.get(index) {
        Some(a) if !a.is_null(row) => Ok(Some(as_boolean_array(a)?.value(row))),
        _ => Ok(None),
    }
}

fn arg_long(arrays: &[ArrayRef], index: usize, row: usize) -> Result<Option<i64>> {
    match arrays.get(index) {
        Some(a) if !a.is_null(row) => Ok(Some(as_int64_array(a)?.value(row))),
        _ => Ok(None),
    }
}

/// The dynamic array of argument `index` at `row`; `None` when it is not an array.
fn arg_series<'a>(arrays: &'a [ArrayRef], index: usize, row: usize) -> Result<Option<DynRef<'a>>> {
    let a = as_binary_array(&arrays[index])?;
    if a.is_null(row) {
        return Ok(None);
    }
    let d = DynRef::new(a.value(row));
    Ok(elements(d).map(|_| d))
}

/// The elements of argument `index` as reals, missing ones as 0.
fn arg_reals(arrays: &[ArrayRef], index: usize, row: usize) -> Result<Option<Vec<f64>>> {
    Ok(arg_series(arrays, index, row)?.map(|d| d.array_items().map(|v| element(v).map_or(0.0, Num::real)).collect()))
}

fn reals(values: impl IntoIterator<Item = f64>) -> DynValue {
    DynValue::Array(values.into_iter().map(DynValue::Real).collect())
}

// ---------------------------------------------------------------- fill

/// Binds `series_fill_*(series, …)`: the series, then number arguments
/// (placeholders and constants keep their number type), then `fill_edges`.
fn fill_call(name: &str, args: Vec<Bound>, kernel: Kernel) -> CallResult<Bound> {
    let mut exprs = Vec::new();
    for (i, b) in args.into_iter().enumerate() {
        exprs.push(match i {
            0 => coerce(name, 0, b, KqlType::Dynamic)?.expr,
            2 if name == "series_fill_linear" => coerce(name, 2, b, KqlType::Bool)?.expr,
            _ => number_expr(name, i, b)?,
        });
    }
    Ok(dynamic_call(&format!("kql_{name}"), kernel, exprs))
}

/// One element of a series being filled: its original value, and whether it is missing.
struct Slot {
    value: DynValue,
    missing: bool,
}

/// The elements of the series at `row` with the missing ones marked: null
/// elements, or those equal to `placeholder` when one is given.
fn slots(arrays: &[ArrayRef], row: usize, placeholder: Option<Num>) -> Result<Option<Vec<Slot>>> {
    let Some(d) = arg_series(arrays, 0, row)? else { return Ok(None) };
    Ok(Some(
        d.array_items()
            .map(|v| {
                let missing = match placeholder {
                    Some(p) => element(v).is_some_and(|x| x.real() == p.real()),
                    None => v.is_null(),
                };
                Slot { value: v.to_value(), missing }
            })
            .collect(),
    ))
}

/// Replaces each missing element by the nearest present one in the
/// direction given (`forward`: the one before it); leading (or trailing)
/// missing elements stay as they are.
pub fn fill_nearest(values: Vec<Option<DynValue>>, forward: bool) -> Vec<Option<DynValue>> {
    let mut out = values;
    let n = out.len();
    let mut last: Option<DynValue> = None;
    for k in 0..n {
        let i = if forward { k } else { n - 1 - k };
        match &out[i] {
            Some(v) => last = Some(v.clone()),
            None => out[i] = last.clone(),
        }
    }
    out
}

fn fill_direction_kernel(args: &[ColumnarValue], rows: usize, forward: bool) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let placeholder = arg_number(arrays, 1, row)?;
        let Some(slots) = slots(arrays, row, placeholder)? else { return Ok(None) };
        let originals: Vec<DynValue> = slots.iter().map(|s| s.value.clone()).collect();
        let present: Vec<Option<DynValue>> = slots.into_iter().map(|s| (!s.missing).then_some(s.value)).collect();
        let filled = fill_nearest(present, forward);
        Ok(Some(DynValue::Array(
            filled.into_iter().zip(originals).map(|(f, original)| f.unwrap_or(original)).collect(),
        )))
    })
}

fn fill_backward_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    fill_direction_kernel(args, rows, false)
}

fn fill_forward_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    fill_direction_kernel(args, rows, true)
}

/// `series_fill_const(series [, constant_value = 0 [, missing_value_placeholder]])`.
fn fill_const_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        // An explicit null constant leaves the missing elements null.
        let constant = match arrays.get(1) {
            Some(_) => arg_number(arrays, 1, row)?.map_or(DynValue::Null, Num::to_dyn),
            None => DynValue::Long(0),
        };
        let placeholder = arg_number(arrays, 2, row)?;
        let Some(slots) = slots(arrays, row, placeholder)? else { return Ok(None) };
        Ok(Some(DynValue::Array(
            slots.into_iter().map(|s| if s.missing { constant.clone() } else { s.value }).collect(),
        )))
    })
}

/// Linear interpolation of the missing (`None`) values between the present
/// ones; edges take the nearest present value when `fill_edges`, and a
/// series with no present value is filled with `constant` (or left as it is
/// when that is `None`).
pub fn fill_linear(values: &[Option<f64>], fill_edges: bool, constant: Option<f64>) -> Vec<Option<f64>> {
    let known: Vec<usize> = (0..values.len()).filter(|&i| values[i].is_some()).collect();
    let (Some(&first), Some(&last)) = (known.first(), known.last()) else {
        return vec![constant; values.len()];
    };
    let mut out = values.to_vec();
    for pair in known.windows(2) {
        let (a, b) = (pair[0], pair[1]);
        let (ya, yb) = (values[a].unwrap_or(0.0), values[b].unwrap_or(0.0));
        for (i, slot) in out.iter_mut().enumerate().take(b).skip(a + 1) {
            *slot = Some(ya + (yb - ya) * (i - a) as f64 / (b - a) as f64);
        }
    }
    if fill_edges {
        out[..first].iter_mut().for_each(|v| *v = values[first]);
        out[last + 1..].iter_mut().for_each(|v| *v = values[last]);
    }
    out
}

/// `series_fill_linear(series [, missing_value_placeholder [, fill_edges = true [, constant_value = 0]]])`:
/// a series of longs only gets rounded longs back.
fn fill_linear_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let placeholder = arg_number(arrays, 1, row)?;
        let fill_edges = arg_bool(arrays, 2, row)?.unwrap_or(true);
        let constant = match arrays.get(3) {
            Some(_) => arg_number(arrays, 3, row)?,
            None => Some(Num::Long(0)),
        };
        let Some(slots) = slots(arrays, row, placeholder)? else { return Ok(None) };
        let present: Vec<Option<Num>> = slots
            .iter()
            .map(|s| match s.value {
                DynValue::Long(v) if !s.missing => Some(Num::Long(v)),
                DynValue::Real(v) if !s.missing => Some(Num::Real(v)),
                _ => None,
            })
            .collect();
        let all_long = present.iter().flatten().all(|x| matches!(x, Num::Long(_)));
        let filled = fill_linear(
            &present.iter().map(|x| x.map(Num::real)).collect::<Vec<_>>(),
            fill_edges,
            constant.map(Num::real),
        );
        let no_present = present.iter().all(Option::is_none);
        Ok(Some(DynValue::Array(
            slots
                .into_iter()
                .zip(filled)
                .map(|(s, f)| match (s.missing, f) {
                    (false, _) => s.value,
                    (true, None) => s.value,
                    // An all-missing series takes the constant as given.
                    (true, Some(_)) if no_present => constant.map_or(DynValue::Null, Num::to_dyn),
                    (true, Some(v)) if all_long => DynValue::Long(v.round() as i64),
                    (true, Some(v)) => DynValue::Real(v),
                })
                .collect(),
        )))
    })
}

// ---------------------------------------------------------------- filters

fn fir_call(args: Vec<Bound>) -> CallResult<Bound> {
    let types = [KqlType::Dynamic, KqlType::Dynamic, KqlType::Bool, KqlType::Bool];
    Ok(dynamic_call("kql_series_fir", fir_kernel, typed_args("series_fir", args, &types)?))
}

/// A finite impulse response filter: `y[i] = Σ filter[j] · x[i + shift − j]`
/// with `shift = (len − 1) / 2` when `center`, else 0; elements outside the
/// series are 0. `normalize` divides by the coefficients' sum; `None` when
/// that is asked of a filter with negative coefficients, as the reference
/// says, and for an empty filter.
pub fn fir(x: &[f64], filter: &[f64], normalize: Option<bool>, center: bool) -> Option<Vec<f64>> {
    if filter.is_empty() {
        return None;
    }
    let has_negative = filter.iter().any(|c| *c < 0.0);
    let normalize = match normalize {
        Some(true) if has_negative => return None,
        Some(n) => n,
        None => !has_negative,
    };
    let sum: f64 = filter.iter().sum();
    let scale = if normalize && sum != 0.0 { 1.0 / sum } else { 1.0 };
    let shift = if center { (filter.len().saturating_sub(1) / 2) as i64 } else { 0 };
    let n = x.len() as i64;
    Some(
        (0..n)
            .map(|i| {
                filter
                    .iter()
                    .enumerate()
                    .filter_map(|(j, c)| {
                        let k = i + shift - j as i64;
                        (0..n).contains(&k).then(|| c * x[k as usize])
                    })
                    .sum::<f64>()
                    * scale
                    // Adding 0 turns a negative zero into 0.
                    + 0.0
            })
            .collect(),
    )
}

fn fir_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let (Some(x), Some(filter)) = (arg_reals(arrays, 0, row)?, arg_reals(arrays, 1, row)?) else {
            return Ok(None);
        };
        let normalize = arg_bool(arrays, 2, row)?;
        let center = arg_bool(arrays, 3, row)?.unwrap_or(false);
        Ok(fir(&x, &filter, normalize, center).map(reals))
    })
}

/// An infinite impulse response filter:
/// `y[i] = (Σ b[k]·x[i−k] − Σ_{k≥1} a[k]·y[i−k]) / a[0]`; `None` when `a[0]` is 0 or absent.
pub fn iir(x: &[f64], numerators: &[f64], denominators: &[f64]) -> Option<Vec<f64>> {
    let a0 = *denominators.first().filter(|a| **a != 0.0)?;
    let mut y: Vec<f64> = Vec::with_capacity(x.len());
    for i in 0..x.len() {
        let forward: f64 = numerators.iter().enumerate().filter(|(k, _)| *k <= i).map(|(k, b)| b * x[i - k]).sum();
        let feedback: f64 =
            denominators.iter().enumerate().skip(1).filter(|(k, _)| *k <= i).map(|(k, a)| a * y[i - k]).sum();
        y.push((forward - feedback) / a0);
    }
    Some(y)
}

fn iir_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let (Some(x), Some(b), Some(a)) =
            (arg_reals(arrays, 0, row)?, arg_reals(arrays, 1, row)?, arg_reals(arrays, 2, row)?)
        else {
            return Ok(None);
        };
        Ok(iir(&x, &b, &a).map(reals))
    })
}

// ---------------------------------------------------------------- Fourier

/// The bag behind `series_fft(real [, imaginary])`: real, imag.
pub fn fft_call(args: Vec<Bound>) -> CallResult<Bound> {
    let exprs = typed_args("series_fft", args, &[KqlType::Dynamic, KqlType::Dynamic])?;
    Ok(dynamic_call("kql_series_fft", fft_kernel, exprs))
}

/// The bag behind `series_ifft(real [, imaginary])`: real, imag.
pub fn ifft_call(args: Vec<Bound>) -> CallResult<Bound> {
    let exprs = typed_args("series_ifft", args, &[KqlType::Dynamic, KqlType::Dynamic])?;
    Ok(dynamic_call("kql_series_ifft", ifft_kernel, exprs))
}

/// The discrete Fourier transform of `re + i·im` (`im` padded with zeros to
/// `re`'s length); the inverse is scaled by 1/n so that it undoes the
/// forward transform. Computed directly (O(n²)), with the twiddle angles
/// reduced modulo n so that long series keep their precision.
pub fn fourier(re: &[f64], im: &[f64], inverse: bool) -> (Vec<f64>, Vec<f64>) {
    let n = re.len();
    let im: Vec<f64> = (0..n).map(|i| im.get(i).copied().unwrap_or(0.0)).collect();
    let sign = if inverse { 1.0 } else { -1.0 };
    let scale = if inverse && n > 0 { 1.0 / n as f64 } else { 1.0 };
    let (mut out_re, mut out_im) = (vec![0.0; n], vec![0.0; n]);
    for k in 0..n {
        let (mut sr, mut si) = (0.0, 0.0);
        for t in 0..n {
            let angle = sign * 2.0 * std::f64::consts::PI * ((k * t) % n) as f64 / n as f64;
            let (sin, cos) = angle.sin_cos();
            sr += re[t] * cos - im[t] * sin;
            si += re[t] * sin + im[t] * cos;
        }
        out_re[k] = sr * scale;
        out_im[k] = si * scale;
    }
    (out_re, out_im)
}

fn fourier_kernel(args: &[ColumnarValue], rows: usize, inverse: bool) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let Some(re) = arg_reals(arrays, 0, row)? else { return Ok(None) };
        let im = if arrays.len() > 1 {
            match arg_reals(arrays, 1, row)? {
                Some(im) => im,
                None => return Ok(None),
            }
        } else {
            Vec::new()
        };
        let (re, im) = fourier(&re, &im, inverse);
        Ok(Some(DynValue::Object(vec![("real".into(), reals(re)), ("imag".into(), reals(im))])))
    })
}

fn fft_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    fourier_kernel(args, rows, false)
}

fn ifft_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    fourier_kernel(args, rows, true)
}

// ---------------------------------------------------------------- seasonality

/// `series_seasonal(series [, period = -1 [, test_points = 0]])`: the
/// seasonal component of `series_decompose` (the median of each phase of
/// the period; -1 detects the period, 0 means no seasonality).
fn seasonal_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let Some(d) = arg_series(arrays, 0, row)? else { return Ok(None) };
        let values: Vec<Option<f64>> = d.array_items().map(|v| element(v).map(Num::real)).collect();
        let options = DecomposeOptions {
            seasonality: arg_long(arrays, 1, row)?.unwrap_or(-1),
            trend: "none".into(),
            test_points: arg_long(arrays, 2, row)?.unwrap_or(0).max(0) as usize,
            ..Default::default()
        };
        Ok(Some(reals(series::decompose(&values, &options).seasonal)))
    })
}

/// The autocorrelation of `x` at lag `period`, corrected for the shorter
/// overlap (a perfectly periodic series scores about 1).
fn autocorrelation(x: &[f64], period: usize) -> f64 {
    let n = x.len();
    if period == 0 || period >= n {
        return 0.0;
    }
    let mean = x.iter().sum::<f64>() / n as f64;
    let c: Vec<f64> = x.iter().map(|v| v - mean).collect();
    let energy: f64 = c.iter().map(|v| v * v).sum();
    if energy == 0.0 {
        return 0.0;
    }
    let r: f64 = (0..n - period).map(|i| c[i] * c[i + period]).sum::<f64>() / energy;
    r * n as f64 / (n - period) as f64
}

/// How strongly `x` repeats every `period` bins, in [0, 1]: the
/// autocorrelation at the period, counted only where it peaks (above both
/// neighbouring lags) and exceeds the 95% bound of white noise's
/// autocorrelation (1.96/√n, Bartlett). Periods below 4 or above half the
/// series score 0, as the reference says. Kusto's own scoring is not
/// documented; this one agrees on which periods are valid, not on the
/// exact scores.
pub fn period_score(x: &[f64], period: f64) -> f64 {
    let n = x.len();
    if !(4.0..=n as f64 / 2.0).contains(&period) {
        return 0.0;
    }
    let lag = period.round() as usize;
    let r = autocorrelation(x, lag);
    let peak = r >= autocorrelation(x, lag - 1) && r >= autocorrelation(x, lag + 1);
    if peak && r > 1.96 / (n as f64).sqrt() {
        r.min(1.0)
    } else {
        0.0
    }
}

/// The bag behind `series_periods_validate(series, period1 [, period2, …])`: periods, scores.
pub fn periods_validate_call(args: Vec<Bound>) -> CallResult<Bound> {
    if args.len() > 17 {
        return Err(CallError::invalid("series_periods_validate", "at most 16 periods can be validated"));
    }
    let mut types = vec![KqlType::Dynamic];
    types.resize(args.len(), KqlType::Real);
    let exprs = typed_args("series_periods_validate", args, &types)?;
    Ok(dynamic_call("kql_series_periods_validate", periods_validate_kernel, exprs))
}

fn periods_validate_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let Some(x) = arg_reals(arrays, 0, row)? else { return Ok(None) };
        let mut periods = Vec::new();
        for a in &arrays[1..] {
            periods.push(if a.is_null(row) { f64::NAN } else { as_float64_array(a)?.value(row) });
        }
        let scores: Vec<f64> = periods.iter().map(|p| if p.is_finite() { period_score(&x, *p) } else { 0.0 }).collect();
        Ok(Some(DynValue::Object(vec![("periods".into(), reals(periods)), ("scores".into(), reals(scores))])))
    })
}

/// The bag behind `series_periods_detect(series, min_period, max_period, num_periods)`: periods, scores.
pub fn periods_detect_call(args: Vec<Bound>) -> CallResult<Bound> {
    let types = [KqlType::Dynamic, KqlType::Real, KqlType::Real, KqlType::Long];
    let exprs = typed_args("series_periods_detect", args, &types)?;
    Ok(dynamic_call("kql_series_periods_detect", periods_detect_kernel, exprs))
}

/// Up to `count` periods in `[min, max]` bins, best first, each with its
/// [`period_score`]; a multiple of a period already found is its harmonic
/// and left out. Padded with zeros to `count`, as Kusto's output is.
pub fn detect_periods(x: &[f64], min: f64, max: f64, count: usize) -> (Vec<f64>, Vec<f64>) {
    let lo = min.max(4.0).ceil() as usize;
    let hi = max.min(x.len() as f64 / 2.0).floor() as usize;
    let mut candidates: Vec<(usize, f64)> =
        (lo..=hi.max(lo)).filter(|&p| p <= hi).map(|p| (p, period_score(x, p as f64))).filter(|c| c.1 > 0.0).collect();
    candidates.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let mut chosen: Vec<(usize, f64)> = Vec::new();
    for (p, s) in candidates {
        if chosen.len() == count {
            break;
        }
        if !chosen.iter().any(|(q, _)| p % q == 0) {
            chosen.push((p, s));
        }
    }
    let mut periods: Vec<f64> = chosen.iter().map(|c| c.0 as f64).collect();
    let mut scores: Vec<f64> = chosen.iter().map(|c| c.1).collect();
    periods.resize(count, 0.0);
    scores.resize(count, 0.0);
    (periods, scores)
}

fn periods_detect_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let Some(x) = arg_reals(arrays, 0, row)? else { return Ok(None) };
        let real = |i: usize| -> Result<Option<f64>> {
            let a = &arrays[i];
            (!a.is_null(row)).then(|| as_float64_array(a).map(|a| a.value(row))).transpose()
        };
        let (Some(min), Some(max)) = (real(1)?, real(2)?) else { return Ok(None) };
        let count = arg_long(arrays, 3, row)?.unwrap_or(1).clamp(0, 1024) as usize;
        let (periods, scores) = detect_periods(&x, min, max, count);
        Ok(Some(DynValue::Object(vec![("periods".into(), reals(periods)), ("scores".into(), reals(scores))])))
    })
}
