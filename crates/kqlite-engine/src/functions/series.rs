//! Series analysis over dynamic numeric arrays (the output of `make-series`
//! and `make_list`): `series_stats`, `series_fit_line`, `series_outliers`
//! and the decomposition family (`series_decompose`,
//! `series_decompose_anomalies`, `series_decompose_forecast`).
//!
//! Functions that Kusto returns as several columns (`series_stats`,
//! `series_fit_line`, the decompositions) are computed here as one
//! property bag; the binder splits the bag into the documented columns (see
//! `binder::multi_output`). Non-numeric and null elements are missing
//! values: they are left out of statistics and fits, and score 0.

use super::{coerce, CallResult, Registry};
use crate::convert::Bound;
use crate::dynamic::{DynKind, DynRef, DynValue, ENCODED_NULL};
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::{Array, ArrayRef, BinaryBuilder};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_boolean_array, as_float64_array, as_int64_array, as_string_array};
use datafusion::common::Result;
use datafusion::logical_expr::{cast, ColumnarValue};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("series_stats_dynamic", 1, 2, |_, a| stats_call(a));
    r.scalar("series_fit_line_dynamic", 1, 1, |_, a| fit_line_call(a));
    r.scalar("series_outliers", 1, 5, |_, a| outliers_call(a));
}

/// Binds the arguments of a multi-column function to its one property bag.
pub type BagFn = fn(Vec<Bound>) -> CallResult<Bound>;

/// A function that returns several columns in `extend` and `project`
/// (split from one property bag by `binder::multi_output`).
pub struct MultiOutput {
    pub name: &'static str,
    pub min_args: usize,
    pub max_args: usize,
    pub bag: BagFn,
    /// Output columns: the bag key (also the column-name suffix) and its type.
    pub fields: &'static [(&'static str, KqlType)],
}

/// Every function that returns several columns.
pub const MULTI_OUTPUT: &[MultiOutput] = &[
    MultiOutput {
        name: "series_stats",
        min_args: 1,
        max_args: 2,
        bag: stats_call,
        fields: &[
            ("min", KqlType::Real),
            ("min_idx", KqlType::Long),
            ("max", KqlType::Real),
            ("max_idx", KqlType::Long),
            ("avg", KqlType::Real),
            ("stdev", KqlType::Real),
            ("variance", KqlType::Real),
        ],
    },
    MultiOutput {
        name: "series_fit_line",
        min_args: 1,
        max_args: 1,
        bag: fit_line_call,
        fields: &[
            ("rsquare", KqlType::Real),
            ("slope", KqlType::Real),
            ("variance", KqlType::Real),
            ("rvariance", KqlType::Real),
            ("interception", KqlType::Real),
            ("line_fit", KqlType::Dynamic),
        ],
    },
    MultiOutput {
        name: "series_decompose_anomalies",
        min_args: 1,
        max_args: 7,
        bag: decompose_anomalies_call,
        fields: &[("ad_flag", KqlType::Dynamic), ("ad_score", KqlType::Dynamic), ("baseline", KqlType::Dynamic)],
    },
    MultiOutput { name: "series_decompose", min_args: 1, max_args: 5, bag: decompose_call, fields: DECOMPOSITION },
    // Microsoft's binder gives the forecast the decomposition's four columns,
    // the forecast (the baseline) first.
    MultiOutput {
        name: "series_decompose_forecast",
        min_args: 2,
        max_args: 5,
        bag: decompose_forecast_call,
        fields: DECOMPOSITION,
    },
    MultiOutput {
        name: "series_fit_poly",
        min_args: 1,
        max_args: 3,
        bag: super::series_fit::fit_poly_call,
        fields: &[
            ("rsquare", KqlType::Real),
            ("coefficients", KqlType::Dynamic),
            ("variance", KqlType::Real),
            ("rvariance", KqlType::Real),
            ("poly_fit", KqlType::Dynamic),
        ],
    },
    MultiOutput {
        name: "series_fit_2lines",
        min_args: 1,
        max_args: 1,
        bag: super::series_fit::fit_2lines_call,
        fields: &[
            ("rsquare", KqlType::Real),
            ("split_idx", KqlType::Long),
            ("variance", KqlType::Real),
            ("rvariance", KqlType::Real),
            ("line_fit", KqlType::Dynamic),
            ("right_rsquare", KqlType::Real),
            ("right_slope", KqlType::Real),
            ("right_interception", KqlType::Real),
            ("right_variance", KqlType::Real),
            ("right_rvariance", KqlType::Real),
            ("left_rsquare", KqlType::Real),
            ("left_slope", KqlType::Real),
            ("left_interception", KqlType::Real),
            ("left_variance", KqlType::Real),
            ("left_rvariance", KqlType::Real),
        ],
    },
    MultiOutput { name: "series_fft", min_args: 1, max_args: 2, bag: super::series_signal::fft_call, fields: FOURIER },
    MultiOutput {
        name: "series_ifft",
        min_args: 1,
        max_args: 2,
        bag: super::series_signal::ifft_call,
        fields: FOURIER,
    },
    MultiOutput {
        name: "series_periods_detect",
        min_args: 4,
        max_args: 4,
        bag: super::series_signal::periods_detect_call,
        fields: PERIODS,
    },
    MultiOutput {
        name: "series_periods_validate",
        min_args: 2,
        max_args: 17,
        bag: super::series_signal::periods_validate_call,
        fields: PERIODS,
    },
];

/// The columns of `series_fft` and `series_ifft`.
const FOURIER: &[(&str, KqlType)] = &[("real", KqlType::Dynamic), ("imag", KqlType::Dynamic)];

/// The columns of `series_periods_detect` and `series_periods_validate`.
const PERIODS: &[(&str, KqlType)] = &[("periods", KqlType::Dynamic), ("scores", KqlType::Dynamic)];

/// The columns of `series_decompose` and `series_decompose_forecast`.
const DECOMPOSITION: &[(&str, KqlType)] = &[
    ("baseline", KqlType::Dynamic),
    ("seasonal", KqlType::Dynamic),
    ("trend", KqlType::Dynamic),
    ("residual", KqlType::Dynamic),
];

/// The bag behind `series_stats(x)`: min, min_idx, max, max_idx, avg, stdev, variance.
pub fn stats_call(args: Vec<Bound>) -> CallResult<Bound> {
    let mut exprs = vec![coerce("series_stats", 0, args[0].clone(), KqlType::Dynamic)?.expr];
    if let Some(flag) = args.get(1) {
        exprs.push(coerce("series_stats", 1, flag.clone(), KqlType::Bool)?.expr);
    }
    Ok(Bound::new(udf::call("kql_series_stats", DataType::Binary, stats_kernel, exprs), KqlType::Dynamic))
}

/// The bag behind `series_fit_line(x)`: rsquare, slope, variance, rvariance, interception, line_fit.
pub fn fit_line_call(args: Vec<Bound>) -> CallResult<Bound> {
    let series = coerce("series_fit_line", 0, args[0].clone(), KqlType::Dynamic)?.expr;
    Ok(Bound::new(udf::call("kql_series_fit_line", DataType::Binary, fit_line_kernel, vec![series]), KqlType::Dynamic))
}

/// `series_outliers(series [, kind [, ignore_val [, min_percentile [, max_percentile]]]])`.
pub fn outliers_call(args: Vec<Bound>) -> CallResult<Bound> {
    let name = "series_outliers";
    let mut exprs = vec![coerce(name, 0, args[0].clone(), KqlType::Dynamic)?.expr];
    for (i, arg) in args.iter().enumerate().skip(1) {
        let ty = if i == 1 { KqlType::String } else { KqlType::Real };
        let b = numeric_or(name, i, arg.clone(), ty)?;
        exprs.push(b);
    }
    Ok(Bound::new(udf::call("kql_series_outliers", DataType::Binary, outliers_kernel, exprs), KqlType::Dynamic))
}

/// The bag behind `series_decompose_anomalies(series [, threshold, seasonality,
/// trend, test_points, ad_method, seasonality_threshold])`: ad_flag, ad_score, baseline.
pub fn decompose_anomalies_call(args: Vec<Bound>) -> CallResult<Bound> {
    let name = "series_decompose_anomalies";
    let types = [
        KqlType::Dynamic,
        KqlType::Real,
        KqlType::Long,
        KqlType::String,
        KqlType::Long,
        KqlType::String,
        KqlType::Real,
    ];
    let mut exprs = Vec::new();
    for (i, arg) in args.into_iter().enumerate() {
        exprs.push(numeric_or(name, i, arg, types[i])?);
    }
    Ok(Bound::new(
        udf::call("kql_series_decompose_anomalies", DataType::Binary, decompose_anomalies_kernel, exprs),
        KqlType::Dynamic,
    ))
}

/// The bag behind `series_decompose(series [, seasonality, trend,
/// test_points, seasonality_threshold])`: baseline, seasonal, trend, residual.
pub fn decompose_call(args: Vec<Bound>) -> CallResult<Bound> {
    let name = "series_decompose";
    let types = [KqlType::Dynamic, KqlType::Long, KqlType::String, KqlType::Long, KqlType::Real];
    let mut exprs = Vec::new();
    for (i, arg) in args.into_iter().enumerate() {
        exprs.push(numeric_or(name, i, arg, types[i])?);
    }
    Ok(Bound::new(udf::call("kql_series_decompose", DataType::Binary, decompose_kernel, exprs), KqlType::Dynamic))
}

/// `series_decompose_forecast(series, points [, seasonality, trend,
/// seasonality_threshold])`: `series_decompose` learning all but the last
/// `points`, which the baseline forecasts.
pub fn decompose_forecast_call(args: Vec<Bound>) -> CallResult<Bound> {
    let name = "series_decompose_forecast";
    let types = [KqlType::Dynamic, KqlType::Long, KqlType::Long, KqlType::String, KqlType::Real];
    let mut exprs = Vec::new();
    for (i, arg) in args.into_iter().enumerate() {
        exprs.push(numeric_or(name, i, arg, types[i])?);
    }
    Ok(Bound::new(
        udf::call("kql_series_decompose_forecast", DataType::Binary, decompose_forecast_kernel, exprs),
        KqlType::Dynamic,
    ))
}

/// Converts an argument to `ty`, casting between number types (Kusto
/// accepts an int where a real parameter is declared and vice versa).
fn numeric_or(name: &str, i: usize, b: Bound, ty: KqlType) -> CallResult<datafusion::logical_expr::Expr> {
    if ty.is_numeric() && b.ty.is_numeric() {
        return Ok(cast(b.expr, ty.arrow()));
    }
    Ok(coerce(name, i, b, ty)?.expr)
}

/// The numbers of a dynamic array; `None` for missing elements. `None`
/// overall when the value is not an array.
fn numbers(d: DynRef<'_>) -> Option<Vec<Option<f64>>> {
    if d.kind() != DynKind::Array {
        return None;
    }
    Some(
        d.array_items()
            .map(|v| match v.kind() {
                DynKind::Long | DynKind::Real => v.as_real(),
                DynKind::Bool => v.as_bool().map(|b| b as i64 as f64),
                DynKind::Datetime | DynKind::Timespan => v.as_long().map(|x| x as f64),
                _ => None,
            })
            .collect(),
    )
}

fn real(v: f64) -> DynValue {
    if v.is_finite() {
        DynValue::Real(v)
    } else {
        DynValue::Null
    }
}

/// Runs `f` on each row's series (argument 0) with access to the other
/// arguments' arrays; rows whose series is not an array give null.
fn per_row(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(&[ArrayRef], usize, Vec<Option<f64>>) -> Result<DynValue>,
) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays: Vec<ArrayRef> = args.iter().map(|a| a.to_array(n)).collect::<Result<_>>()?;
    let input = as_binary_array(&arrays[0])?;
    let mut out = BinaryBuilder::with_capacity(n, n * 64);
    for i in 0..n {
        let d = DynRef::new(if input.is_null(i) { ENCODED_NULL } else { input.value(i) });
        match numbers(d) {
            Some(values) => out.append_value(f(&arrays, i, values)?.encode()),
            None => out.append_value(ENCODED_NULL),
        }
    }
    maybe_scalar(args, Arc::new(out.finish()))
}

fn arg_f64(arrays: &[ArrayRef], index: usize, row: usize) -> Result<Option<f64>> {
    match arrays.get(index) {
        Some(a) if !a.is_null(row) => Ok(Some(as_float64_array(a)?.value(row))),
        _ => Ok(None),
    }
}

fn arg_i64(arrays: &[ArrayRef], index: usize, row: usize) -> Result<Option<i64>> {
    match arrays.get(index) {
        Some(a) if !a.is_null(row) => Ok(Some(as_int64_array(a)?.value(row))),
        _ => Ok(None),
    }
}

fn arg_str(arrays: &[ArrayRef], index: usize, row: usize) -> Result<Option<String>> {
    match arrays.get(index) {
        Some(a) if !a.is_null(row) => Ok(Some(as_string_array(a)?.value(row).to_string())),
        _ => Ok(None),
    }
}

/// Statistics of a series, as Kusto's `series_stats` defines them: the
/// variance and standard deviation are the sample ones (n - 1).
#[derive(Debug, PartialEq)]
pub struct Stats {
    pub min: f64,
    pub min_idx: i64,
    pub max: f64,
    pub max_idx: i64,
    pub avg: f64,
    pub stdev: f64,
    pub variance: f64,
}

/// `None` elements are skipped; so are non-finite ones when
/// `ignore_nonfinite`; otherwise a non-finite element makes every statistic NaN.
pub fn stats(values: &[Option<f64>], ignore_nonfinite: bool) -> Option<Stats> {
    let mut taken: Vec<(usize, f64)> = Vec::new();
    for (i, v) in values.iter().enumerate() {
        match v {
            Some(x) if x.is_finite() => taken.push((i, *x)),
            Some(_) if !ignore_nonfinite => return None,
            _ => {}
        }
    }
    let (&(first_i, first), rest) = taken.split_first()?;
    let (mut min, mut min_idx, mut max, mut max_idx) = (first, first_i, first, first_i);
    for &(i, x) in rest {
        if x < min {
            (min, min_idx) = (x, i);
        }
        if x > max {
            (max, max_idx) = (x, i);
        }
    }
    let n = taken.len() as f64;
    let avg = taken.iter().map(|(_, x)| x).sum::<f64>() / n;
    let variance =
        if taken.len() > 1 { taken.iter().map(|(_, x)| (x - avg).powi(2)).sum::<f64>() / (n - 1.0) } else { 0.0 };
    Some(Stats { min, min_idx: min_idx as i64, max, max_idx: max_idx as i64, avg, stdev: variance.sqrt(), variance })
}

fn stats_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    per_row(args, rows, |arrays, row, values| {
        let ignore = match arrays.get(1) {
            Some(a) if !a.is_null(row) => as_boolean_array(a)?.value(row),
            _ => false,
        };
        let s = stats(&values, ignore);
        let field = |f: fn(&Stats) -> f64| s.as_ref().map_or(DynValue::Null, |s| real(f(s)));
        let index = |f: fn(&Stats) -> i64| s.as_ref().map_or(DynValue::Null, |s| DynValue::Long(f(s)));
        Ok(DynValue::Object(vec![
            ("min".into(), field(|s| s.min)),
            ("min_idx".into(), index(|s| s.min_idx)),
            ("max".into(), field(|s| s.max)),
            ("max_idx".into(), index(|s| s.max_idx)),
            ("avg".into(), field(|s| s.avg)),
            ("stdev".into(), field(|s| s.stdev)),
            ("variance".into(), field(|s| s.variance)),
        ]))
    })
}

/// A least-squares line `y = slope * x + interception` over x = 1, 2, …, n
/// (Kusto's convention: the documented example's interception is at x = 0
/// and its first fitted value at x = 1).
#[derive(Debug)]
pub struct LineFit {
    pub rsquare: f64,
    pub slope: f64,
    /// Sample variance of the input.
    pub variance: f64,
    /// Sample variance of the residuals.
    pub rvariance: f64,
    pub interception: f64,
    pub line_fit: Vec<f64>,
}

/// Fits over the present elements; missing ones still get a fitted value.
pub fn fit_line(values: &[Option<f64>]) -> Option<LineFit> {
    let points: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|x| x.is_finite()).map(|y| ((i + 1) as f64, y)))
        .collect();
    if points.is_empty() {
        return None;
    }
    let n = points.len() as f64;
    let mean_x = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_y = points.iter().map(|p| p.1).sum::<f64>() / n;
    let sxx: f64 = points.iter().map(|p| (p.0 - mean_x).powi(2)).sum();
    let sxy: f64 = points.iter().map(|p| (p.0 - mean_x) * (p.1 - mean_y)).sum();
    let syy: f64 = points.iter().map(|p| (p.1 - mean_y).powi(2)).sum();
    let slope = if sxx > 0.0 { sxy / sxx } else { 0.0 };
    let interception = mean_y - slope * mean_x;
    let residual: f64 = points.iter().map(|p| (p.1 - (slope * p.0 + interception)).powi(2)).sum();
    let dof = if points.len() > 1 { n - 1.0 } else { 1.0 };
    let rsquare = if syy > 0.0 { 1.0 - residual / syy } else { 1.0 };
    let line_fit = (1..=values.len()).map(|x| slope * x as f64 + interception).collect();
    Some(LineFit { rsquare, slope, variance: syy / dof, rvariance: residual / dof, interception, line_fit })
}

fn fit_line_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    per_row(args, rows, |_, _, values| {
        let Some(f) = fit_line(&values) else {
            return Ok(DynValue::Null);
        };
        Ok(DynValue::Object(vec![
            ("rsquare".into(), real(f.rsquare)),
            ("slope".into(), real(f.slope)),
            ("variance".into(), real(f.variance)),
            ("rvariance".into(), real(f.rvariance)),
            ("interception".into(), real(f.interception)),
            ("line_fit".into(), DynValue::Array(f.line_fit.into_iter().map(real).collect())),
        ]))
    })
}

/// The `p`-th percentile (0–100) of sorted values, interpolating linearly
/// between the closest ranks.
fn percentile(sorted: &[f64], p: f64) -> f64 {
    let rank = p / 100.0 * (sorted.len() - 1) as f64;
    let (lo, hi) = (rank.floor() as usize, rank.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (rank - lo as f64)
}

/// Tukey's fence scores: how many inter-percentile ranges a value lies
/// above the upper percentile (positive) or below the lower one (negative);
/// 0 inside the range and for missing values. "tukey" uses the 25th/75th
/// percentiles, "ctukey" (the default) `min_pct`/`max_pct` (10/90 by
/// default). `learn` limits the points the percentiles are computed from.
pub fn outlier_scores(values: &[Option<f64>], ctukey: bool, min_pct: f64, max_pct: f64, learn: usize) -> Vec<f64> {
    let (lo_p, hi_p) = if ctukey { (min_pct, max_pct) } else { (25.0, 75.0) };
    let mut sorted: Vec<f64> =
        values[..learn.min(values.len())].iter().flatten().copied().filter(|x| x.is_finite()).collect();
    if sorted.is_empty() {
        return vec![0.0; values.len()];
    }
    sorted.sort_by(f64::total_cmp);
    let (lo, hi) = (percentile(&sorted, lo_p), percentile(&sorted, hi_p));
    let range = hi - lo;
    values
        .iter()
        .map(|v| match v {
            // A zero range cannot scale a distance; such series have no outliers by this test.
            Some(x) if x.is_finite() && range > 0.0 => {
                if *x > hi {
                    (x - hi) / range
                } else if *x < lo {
                    (x - lo) / range
                } else {
                    0.0
                }
            }
            _ => 0.0,
        })
        .collect()
}

fn outliers_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    per_row(args, rows, |arrays, row, mut values| {
        let kind = arg_str(arrays, 1, row)?.unwrap_or_else(|| "ctukey".to_string());
        if let Some(ignore) = arg_f64(arrays, 2, row)? {
            values.iter_mut().filter(|v| **v == Some(ignore)).for_each(|v| *v = None);
        }
        let min_pct = arg_f64(arrays, 3, row)?.unwrap_or(10.0).clamp(2.0, 98.0);
        let max_pct = arg_f64(arrays, 4, row)?.unwrap_or(90.0).clamp(2.0, 98.0);
        let scores = outlier_scores(&values, kind != "tukey", min_pct, max_pct, values.len());
        Ok(DynValue::Array(scores.into_iter().map(DynValue::Real).collect()))
    })
}

/// The period (in bins) whose autocorrelation is highest, if it reaches
/// `threshold` and the series holds at least two periods. A simplification
/// of Kusto's `series_periods_detect`, which also scores periods by
/// spectral analysis.
pub fn detect_period(values: &[f64], threshold: f64) -> Option<usize> {
    let n = values.len();
    let mean = values.iter().sum::<f64>() / n.max(1) as f64;
    let centered: Vec<f64> = values.iter().map(|v| v - mean).collect();
    let energy: f64 = centered.iter().map(|v| v * v).sum();
    if energy == 0.0 {
        return None;
    }
    let mut best: Option<(usize, f64)> = None;
    let mut scores = Vec::new();
    for period in 2..=n / 2 {
        let r: f64 = (0..n - period).map(|i| centered[i] * centered[i + period]).sum::<f64>() / energy;
        // Scale for the shorter overlap so long periods are not penalised.
        let r = r * n as f64 / (n - period) as f64;
        scores.push(r);
        if r >= threshold && best.is_none_or(|(_, b)| r > b + 1e-9) {
            best = Some((period, r));
        }
    }
    // A multiple of the true period correlates as well: prefer the
    // smallest divisor of the best period that also passes the threshold.
    let (best, _) = best?;
    (2..=best).find(|d| best % d == 0 && scores[d - 2] >= threshold)
}

/// Options of `series_decompose_anomalies`, with Kusto's defaults.
pub struct DecomposeOptions {
    pub threshold: f64,
    /// -1: detect; 0: none; p > 0: period in bins.
    pub seasonality: i64,
    /// "avg", "linefit" or "none".
    pub trend: String,
    pub test_points: usize,
    /// "ctukey" or "tukey".
    pub ad_method: String,
    pub seasonality_threshold: f64,
}

impl Default for DecomposeOptions {
    fn default() -> Self {
        DecomposeOptions {
            threshold: 1.5,
            seasonality: -1,
            trend: "avg".into(),
            test_points: 0,
            ad_method: "ctukey".into(),
            seasonality_threshold: 0.6,
        }
    }
}

/// A series split into seasonal and trend components (their sum is the
/// baseline) and the residual, as `series_decompose` documents.
pub struct Decomposition {
    pub baseline: Vec<f64>,
    pub seasonal: Vec<f64>,
    pub trend: Vec<f64>,
    /// `x - baseline`; missing where the series is.
    pub residual: Vec<Option<f64>>,
}

/// Decomposes `values`: the seasonal component is the median of the points
/// of each phase of the period, the trend is fitted to the deseasoned
/// series; the last `o.test_points` are left out of learning and
/// extrapolated.
pub fn decompose(values: &[Option<f64>], o: &DecomposeOptions) -> Decomposition {
    let n = values.len();
    let learn = n.saturating_sub(o.test_points);
    // Missing values are read as 0, as make-series fills them.
    let x: Vec<f64> = values.iter().map(|v| v.filter(|x| x.is_finite()).unwrap_or(0.0)).collect();
    let period = match o.seasonality {
        p if p > 0 => Some(p as usize),
        0 => None,
        _ => detect_period(&x[..learn], o.seasonality_threshold),
    };
    let mut seasonal = vec![0.0; n];
    if let Some(p) = period.filter(|&p| p < learn) {
        for phase in 0..p {
            let mut bin: Vec<f64> = (phase..learn).step_by(p).map(|i| x[i]).collect();
            bin.sort_by(f64::total_cmp);
            let median = if bin.is_empty() { 0.0 } else { percentile(&bin, 50.0) };
            for i in (phase..n).step_by(p) {
                seasonal[i] = median;
            }
        }
    }
    let deseasoned: Vec<Option<f64>> = (0..learn).map(|i| Some(x[i] - seasonal[i])).collect();
    let trend: Vec<f64> = match o.trend.as_str() {
        "linefit" => match fit_line(&deseasoned) {
            Some(f) => (1..=n).map(|i| f.slope * i as f64 + f.interception).collect(),
            None => vec![0.0; n],
        },
        "none" => vec![0.0; n],
        _ => {
            let avg = if learn > 0 { deseasoned.iter().flatten().sum::<f64>() / learn as f64 } else { 0.0 };
            vec![avg; n]
        }
    };
    let baseline: Vec<f64> = (0..n).map(|i| seasonal[i] + trend[i]).collect();
    let residual: Vec<Option<f64>> = (0..n).map(|i| values[i].map(|_| x[i] - baseline[i])).collect();
    Decomposition { baseline, seasonal, trend, residual }
}

/// Anomaly flags (+1, -1, 0), scores and baseline: the residual of
/// [`decompose`] scored with Tukey's fences, as
/// `series_decompose_anomalies` documents.
pub fn decompose_anomalies(values: &[Option<f64>], o: &DecomposeOptions) -> (Vec<i64>, Vec<f64>, Vec<f64>) {
    let learn = values.len().saturating_sub(o.test_points);
    let Decomposition { baseline, residual, .. } = decompose(values, o);
    let scores = outlier_scores(&residual, o.ad_method != "tukey", 10.0, 90.0, learn);
    let flags = scores
        .iter()
        .map(|&s| {
            if s > o.threshold {
                1
            } else if s < -o.threshold {
                -1
            } else {
                0
            }
        })
        .collect();
    (flags, scores, baseline)
}

/// A decomposition as the bag `binder::multi_output` splits.
fn decomposition_bag(d: Decomposition) -> DynValue {
    let reals = |v: Vec<f64>| DynValue::Array(v.into_iter().map(real).collect());
    DynValue::Object(vec![
        ("baseline".into(), reals(d.baseline)),
        ("seasonal".into(), reals(d.seasonal)),
        ("trend".into(), reals(d.trend)),
        ("residual".into(), DynValue::Array(d.residual.into_iter().map(|r| r.map_or(DynValue::Null, real)).collect())),
    ])
}

fn decompose_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    per_row(args, rows, |arrays, row, values| {
        let d = DecomposeOptions::default();
        let options = DecomposeOptions {
            seasonality: arg_i64(arrays, 1, row)?.unwrap_or(d.seasonality),
            trend: arg_str(arrays, 2, row)?.unwrap_or(d.trend),
            test_points: arg_i64(arrays, 3, row)?.unwrap_or(0).max(0) as usize,
            seasonality_threshold: arg_f64(arrays, 4, row)?.unwrap_or(d.seasonality_threshold),
            ..d
        };
        Ok(decomposition_bag(decompose(&values, &options)))
    })
}

fn decompose_forecast_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    per_row(args, rows, |arrays, row, values| {
        let d = DecomposeOptions::default();
        let options = DecomposeOptions {
            test_points: arg_i64(arrays, 1, row)?.unwrap_or(0).max(0) as usize,
            seasonality: arg_i64(arrays, 2, row)?.unwrap_or(d.seasonality),
            trend: arg_str(arrays, 3, row)?.unwrap_or(d.trend),
            seasonality_threshold: arg_f64(arrays, 4, row)?.unwrap_or(d.seasonality_threshold),
            ..d
        };
        Ok(decomposition_bag(decompose(&values, &options)))
    })
}

fn decompose_anomalies_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    per_row(args, rows, |arrays, row, values| {
        let d = DecomposeOptions::default();
        let options = DecomposeOptions {
            threshold: arg_f64(arrays, 1, row)?.unwrap_or(d.threshold),
            seasonality: arg_i64(arrays, 2, row)?.unwrap_or(d.seasonality),
            trend: arg_str(arrays, 3, row)?.unwrap_or(d.trend),
            test_points: arg_i64(arrays, 4, row)?.unwrap_or(0).max(0) as usize,
            ad_method: arg_str(arrays, 5, row)?.unwrap_or(d.ad_method),
            seasonality_threshold: arg_f64(arrays, 6, row)?.unwrap_or(d.seasonality_threshold),
        };
        let (flags, scores, baseline) = decompose_anomalies(&values, &options);
        Ok(DynValue::Object(vec![
            ("ad_flag".into(), DynValue::Array(flags.into_iter().map(DynValue::Long).collect())),
            ("ad_score".into(), DynValue::Array(scores.into_iter().map(real).collect())),
            ("baseline".into(), DynValue::Array(baseline.into_iter().map(real).collect())),
        ]))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(v: &[f64]) -> Vec<Option<f64>> {
        v.iter().map(|x| Some(*x)).collect()
    }

    #[test]
    fn fit_line_matches_the_documented_example() {
        // learn.microsoft.com, series_fit_line(): RSquare 0.982, Slope 2.730,
        // Variance 98.628, RVariance 1.686, Interception -1.666, LineFit 1.064, 3.7945, …
        let y = series(&[2., 5., 6., 8., 11., 15., 17., 18., 25., 26., 30., 30.]);
        let f = fit_line(&y).unwrap();
        assert!((f.rsquare - 0.982).abs() < 1e-3, "{}", f.rsquare);
        assert!((f.slope - 2.730).abs() < 1e-3);
        assert!((f.variance - 98.628).abs() < 1e-3);
        assert!((f.rvariance - 1.686).abs() < 1e-3);
        assert!((f.interception - -1.666).abs() < 1e-3);
        assert!((f.line_fit[0] - 1.064).abs() < 1e-3 && (f.line_fit[11] - 31.102).abs() < 1e-3);
    }

    #[test]
    fn stats_are_sample_statistics_with_first_extreme_indexes() {
        let s = stats(&series(&[3., 1., 4., 1., 5.]), false).unwrap();
        assert_eq!((s.min, s.min_idx, s.max, s.max_idx), (1., 1, 5., 4));
        assert!((s.avg - 2.8).abs() < 1e-12);
        assert!((s.variance - 3.2).abs() < 1e-12, "{}", s.variance);
        assert!((s.stdev - 3.2f64.sqrt()).abs() < 1e-12);
        // Missing elements are skipped; non-finite ones only when asked.
        assert_eq!(stats(&[Some(2.), None, Some(4.)], false).unwrap().avg, 3.);
        assert!(stats(&[Some(2.), Some(f64::NAN)], false).is_none());
        assert_eq!(stats(&[Some(2.), Some(f64::NAN)], true).unwrap().max, 2.);
    }

    #[test]
    fn outliers_score_distances_in_inter_percentile_ranges() {
        // 1..=10 and a spike: ctukey's 10th/90th percentiles of the 11 values
        // are 2 and 10, so 50 scores (50 - 10) / 8 = 5.
        let mut v: Vec<f64> = (1..=10).map(f64::from).collect();
        v.push(50.);
        let s = outlier_scores(&series(&v), true, 10., 90., v.len());
        assert_eq!(s[10], 5.0);
        assert_eq!(s[0], -0.125);
        assert!(s[1..10].iter().all(|x| *x == 0.0), "{s:?}");
        // Classic Tukey uses the quartiles: 3.5 and 8.5 → (50 - 8.5) / 5.
        let t = outlier_scores(&series(&v), false, 10., 90., v.len());
        assert!((t[10] - 8.3).abs() < 1e-12, "{}", t[10]);
        assert_eq!(t[5], 0.0);
    }

    #[test]
    fn decompose_anomalies_flags_a_spike_on_a_weekly_pattern() {
        // Four weeks of a 7-bin pattern plus a spike: the period is found,
        // the baseline follows the pattern and only the spike is flagged.
        let pattern = [10., 12., 14., 13., 11., 3., 2.];
        // Deterministic noise in [0, 1.2]: a noiseless series has a zero
        // inter-percentile range, which this test cannot score.
        let mut v: Vec<f64> = (0..28).map(|i| pattern[i % 7] + ((i * 7919) % 5) as f64 * 0.3).collect();
        v[17] += 15.;
        let (flags, scores, baseline) = decompose_anomalies(&series(&v), &DecomposeOptions::default());
        assert_eq!(detect_period(&v, 0.6), Some(7));
        assert_eq!(flags.iter().filter(|f| **f != 0).count(), 1, "{flags:?}");
        assert_eq!(flags[17], 1);
        assert!(scores[17] > 1.5);
        assert!((baseline[3] - 13.).abs() < 2., "{}", baseline[3]);
    }

    #[test]
    fn decompose_splits_a_weekly_pattern_and_a_trend() {
        // The reference's examples: a weekly pattern (period 7 here) plus a
        // linear trend; baseline = seasonal + trend and residual = x - baseline.
        let pattern = [5., 7., 9., 8., 6., 1., 0.];
        let v: Vec<f64> = (0..35).map(|i| pattern[i % 7] + 0.5 * i as f64).collect();
        let o = DecomposeOptions { seasonality: 7, trend: "linefit".into(), ..Default::default() };
        let d = decompose(&series(&v), &o);
        for (i, x) in v.iter().enumerate() {
            assert!((d.baseline[i] - (d.seasonal[i] + d.trend[i])).abs() < 1e-9);
            assert!((d.residual[i].unwrap() - (x - d.baseline[i])).abs() < 1e-9);
        }
        // The phases keep their order and the trend its slope.
        assert!(d.seasonal[2] > d.seasonal[0] && d.seasonal[6] < d.seasonal[5]);
        assert!((d.trend[1] - d.trend[0] - 0.5).abs() < 0.1, "{:?}", &d.trend[..2]);
    }

    #[test]
    fn decompose_forecasts_the_test_points_from_the_rest() {
        // A line learned from the first 15 points extrapolates the last 5,
        // which are garbage and must not move the fit.
        let mut v: Vec<f64> = (0..20).map(|i| 3.0 * i as f64 + 1.0).collect();
        v[15..].iter_mut().for_each(|x| *x = 0.0);
        let o = DecomposeOptions { seasonality: 0, trend: "linefit".into(), test_points: 5, ..Default::default() };
        let d = decompose(&series(&v), &o);
        assert!((d.baseline[19] - 58.0).abs() < 1e-9, "{}", d.baseline[19]);
        // With no seasonality and the default trend, the baseline is the average.
        let d = decompose(&series(&[1., 2., 3.]), &DecomposeOptions { seasonality: 0, ..Default::default() });
        assert_eq!(d.baseline, vec![2.0, 2.0, 2.0]);
        assert_eq!(d.seasonal, vec![0.0; 3]);
    }

    #[test]
    fn decompose_anomalies_with_linefit_and_no_seasonality() {
        let mut v: Vec<f64> = (0..20).map(|i| 2.0 * i as f64).collect();
        v[10] = -30.;
        let o = DecomposeOptions { seasonality: 0, trend: "linefit".into(), ..Default::default() };
        let (flags, _, baseline) = decompose_anomalies(&series(&v), &o);
        assert_eq!(flags[10], -1);
        assert_eq!(flags.iter().filter(|f| **f != 0).count(), 1, "{flags:?}");
        assert!(baseline[19] > baseline[0]);
    }
}
