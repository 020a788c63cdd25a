//! Regression over series: `series_fit_poly` (polynomial least squares)
//! and `series_fit_2lines` / `series_fit_2lines_dynamic` (two-segment
//! linear regression). Missing (null or non-numeric) elements are left out
//! of the fit and still get a fitted value.

use super::series::fit_line;
use super::series_elementwise::{elements, Num};
use super::{coerce, CallResult, Registry};
use crate::convert::Bound;
use crate::dynamic::{DynRef, DynValue};
use crate::types::KqlType;
use crate::udf::{self};
use datafusion::arrow::array::{Array, ArrayRef};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::{as_binary_array, as_int64_array};
use datafusion::common::Result;
use datafusion::logical_expr::{cast, ColumnarValue};

pub fn register(r: &mut Registry) {
    r.scalar("series_fit_2lines_dynamic", 1, 1, |_, a| fit_2lines_bag("series_fit_2lines_dynamic", a, true));
}

fn real(v: f64) -> DynValue {
    if v.is_finite() {
        DynValue::Real(v)
    } else {
        DynValue::Null
    }
}

fn reals(v: impl IntoIterator<Item = Option<f64>>) -> DynValue {
    DynValue::Array(v.into_iter().map(|x| x.map_or(DynValue::Null, real)).collect())
}

/// Runs `f` per row on the dynamic argument 0; rows where it is not an array give null.
fn per_row(
    args: &[ColumnarValue],
    rows: usize,
    f: impl Fn(&[ArrayRef], usize, Vec<Option<f64>>) -> Result<Option<DynValue>>,
) -> Result<ColumnarValue> {
    udf::map_rows_to_dynamic(args, rows, |arrays, row| {
        let input = as_binary_array(&arrays[0])?;
        let values = if input.is_null(row) { None } else { elements(DynRef::new(input.value(row))) };
        match values {
            Some(v) => f(arrays, row, v.into_iter().map(|x| x.map(Num::real)).collect()),
            None => Ok(None),
        }
    })
}

// ---------------------------------------------------------------- polynomial

/// A least-squares polynomial, as `series_fit_poly` returns it.
#[derive(Debug)]
pub struct PolyFit {
    pub rsquare: f64,
    /// Highest power first.
    pub coefficients: Vec<f64>,
    /// Sample variance of y.
    pub variance: f64,
    /// Sample variance of the residuals.
    pub rvariance: f64,
    /// The polynomial at each x; `None` where x is missing.
    pub poly_fit: Vec<Option<f64>>,
}

/// Solves the least-squares problem `min ‖A c − y‖` by Householder QR,
/// with A's columns scaled to unit norm for conditioning. `None` when the
/// columns are linearly dependent (fewer distinct points than unknowns).
fn least_squares(mut a: Vec<Vec<f64>>, mut y: Vec<f64>) -> Option<Vec<f64>> {
    let rows = a.len();
    let cols = a.first()?.len();
    if rows < cols {
        return None;
    }
    let norms: Vec<f64> = (0..cols).map(|j| a.iter().map(|r| r[j] * r[j]).sum::<f64>().sqrt()).collect();
    if norms.contains(&0.0) {
        return None;
    }
    a.iter_mut().for_each(|r| r.iter_mut().zip(&norms).for_each(|(v, n)| *v /= n));
    for k in 0..cols {
        let norm = (k..rows).map(|i| a[i][k] * a[i][k]).sum::<f64>().sqrt();
        if norm < 1e-12 {
            return None;
        }
        let alpha = if a[k][k] > 0.0 { -norm } else { norm };
        let mut v: Vec<f64> = (k..rows).map(|i| a[i][k]).collect();
        v[0] -= alpha;
        let vnorm2: f64 = v.iter().map(|x| x * x).sum();
        if vnorm2 == 0.0 {
            continue;
        }
        // Column j of the row-major matrix: the index walks rows, not `a`.
        #[allow(clippy::needless_range_loop)]
        for j in k..cols {
            let dot: f64 = (k..rows).map(|i| v[i - k] * a[i][j]).sum::<f64>() * 2.0 / vnorm2;
            (k..rows).for_each(|i| a[i][j] -= dot * v[i - k]);
        }
        let dot: f64 = (k..rows).map(|i| v[i - k] * y[i]).sum::<f64>() * 2.0 / vnorm2;
        (k..rows).for_each(|i| y[i] -= dot * v[i - k]);
    }
    let mut c = vec![0.0; cols];
    for k in (0..cols).rev() {
        let s: f64 = (k + 1..cols).map(|j| a[k][j] * c[j]).sum();
        c[k] = (y[k] - s) / a[k][k];
    }
    Some(c.iter().zip(&norms).map(|(c, n)| c / n).collect())
}

/// Fits a polynomial of `degree` to the points `(x[i], y[i])` present in
/// both; `x` defaults to 1, 2, …, n as the reference says.
pub fn fit_poly(y: &[Option<f64>], x: Option<&[Option<f64>]>, degree: usize) -> Option<PolyFit> {
    let xs: Vec<Option<f64>> = match x {
        Some(x) => (0..y.len()).map(|i| x.get(i).copied().flatten()).collect(),
        None => (1..=y.len()).map(|i| Some(i as f64)).collect(),
    };
    let points: Vec<(f64, f64)> = xs
        .iter()
        .zip(y)
        .filter_map(|(x, y)| Some((x.filter(|v| v.is_finite())?, y.filter(|v| v.is_finite())?)))
        .collect();
    if points.is_empty() {
        return None;
    }
    let design: Vec<Vec<f64>> =
        points.iter().map(|(x, _)| (0..=degree).rev().map(|p| x.powi(p as i32)).collect()).collect();
    let coefficients = least_squares(design, points.iter().map(|p| p.1).collect())?;
    let eval = |x: f64| coefficients.iter().fold(0.0, |acc, c| acc * x + c);
    let n = points.len() as f64;
    let mean = points.iter().map(|p| p.1).sum::<f64>() / n;
    let total: f64 = points.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let residual: f64 = points.iter().map(|p| (p.1 - eval(p.0)).powi(2)).sum();
    let dof = if points.len() > 1 { n - 1.0 } else { 1.0 };
    Some(PolyFit {
        rsquare: if total > 0.0 { 1.0 - residual / total } else { 1.0 },
        variance: total / dof,
        rvariance: residual / dof,
        poly_fit: xs.iter().map(|x| x.map(eval)).collect(),
        coefficients,
    })
}

/// The bag behind `series_fit_poly(y [, x, degree = 1])`: rsquare,
/// coefficients, variance, rvariance, poly_fit.
pub fn fit_poly_call(args: Vec<Bound>) -> CallResult<Bound> {
    let name = "series_fit_poly";
    let mut exprs = Vec::new();
    for (i, b) in args.into_iter().enumerate() {
        exprs.push(match i {
            2 if b.ty.is_numeric() => cast(b.expr, DataType::Int64),
            2 => coerce(name, 2, b, KqlType::Long)?.expr,
            _ => coerce(name, i, b, KqlType::Dynamic)?.expr,
        });
    }
    Ok(Bound::new(udf::call("kql_series_fit_poly", DataType::Binary, fit_poly_kernel, exprs), KqlType::Dynamic))
}

fn fit_poly_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    per_row(args, rows, |arrays, row, y| {
        let x: Option<Vec<Option<f64>>> = match arrays.get(1) {
            Some(a) if !a.is_null(row) => {
                let d = DynRef::new(as_binary_array(a)?.value(row));
                // An x that is not an array (e.g. dynamic(null)) means the default.
                elements(d).map(|items| items.into_iter().map(|v| v.map(Num::real)).collect())
            }
            _ => None,
        };
        let degree = match arrays.get(2) {
            Some(a) if !a.is_null(row) => as_int64_array(a)?.value(row),
            _ => 1,
        };
        if !(0..=64).contains(&degree) {
            return Ok(None);
        }
        let Some(f) = fit_poly(&y, x.as_deref(), degree as usize) else { return Ok(None) };
        Ok(Some(DynValue::Object(vec![
            ("rsquare".into(), real(f.rsquare)),
            ("coefficients".into(), reals(f.coefficients.into_iter().map(Some))),
            ("variance".into(), real(f.variance)),
            ("rvariance".into(), real(f.rvariance)),
            ("poly_fit".into(), reals(f.poly_fit)),
        ])))
    })
}

// ---------------------------------------------------------------- two lines

/// One side of a two-line fit, as `series_fit_line` describes a line.
#[derive(Debug, Clone)]
pub struct Segment {
    pub rsquare: f64,
    pub slope: f64,
    pub interception: f64,
    pub variance: f64,
    pub rvariance: f64,
}

/// A two-segment linear regression: the left line fits elements
/// `[0, split_idx)`, the right one `[split_idx, n)`; both use the series'
/// own x = 1, 2, …, n, so `line_fit` is one polyline.
#[derive(Debug)]
pub struct TwoLines {
    pub rsquare: f64,
    pub split_idx: usize,
    pub variance: f64,
    pub rvariance: f64,
    pub line_fit: Vec<f64>,
    pub left: Segment,
    pub right: Segment,
}

/// Tries every split leaving at least two elements on each side and keeps
/// the one with the highest total r-square (the reference's definition).
pub fn fit_2lines(values: &[Option<f64>]) -> Option<TwoLines> {
    let n = values.len();
    let present: Vec<(f64, f64)> = values
        .iter()
        .enumerate()
        .filter_map(|(i, v)| v.filter(|y| y.is_finite()).map(|y| ((i + 1) as f64, y)))
        .collect();
    if n < 4 || present.len() < 2 {
        return None;
    }
    let count = present.len() as f64;
    let mean = present.iter().map(|p| p.1).sum::<f64>() / count;
    let total: f64 = present.iter().map(|p| (p.1 - mean).powi(2)).sum();
    let dof = |k: f64| if k > 1.0 { k - 1.0 } else { 1.0 };
    let mut best: Option<TwoLines> = None;
    for split in 2..=n - 2 {
        let side = |range: std::ops::Range<usize>| -> Option<(Segment, f64, Vec<f64>)> {
            // Fit in the series' coordinates: pad the left with missing elements.
            let mut padded: Vec<Option<f64>> = vec![None; range.start];
            padded.extend_from_slice(&values[range.clone()]);
            let f = fit_line(&padded)?;
            let residual: f64 = (range.clone())
                .filter_map(|i| values[i].filter(|y| y.is_finite()).map(|y| (y - f.line_fit[i]).powi(2)))
                .sum();
            let fitted = f.line_fit[range.start..].to_vec();
            Some((
                Segment {
                    rsquare: f.rsquare,
                    slope: f.slope,
                    interception: f.interception,
                    variance: f.variance,
                    rvariance: f.rvariance,
                },
                residual,
                fitted,
            ))
        };
        let (Some((left, left_res, mut line)), Some((right, right_res, right_line))) = (side(0..split), side(split..n))
        else {
            continue;
        };
        let residual = left_res + right_res;
        let rsquare = if total > 0.0 { 1.0 - residual / total } else { 1.0 };
        if best.as_ref().is_some_and(|b| b.rsquare >= rsquare) {
            continue;
        }
        line.extend(right_line);
        best = Some(TwoLines {
            rsquare,
            split_idx: split,
            variance: total / dof(count),
            rvariance: residual / dof(count),
            line_fit: line,
            left,
            right,
        });
    }
    best
}

/// The bag behind `series_fit_2lines(x)` (flat keys `right_slope`, …, split
/// into columns by the binder) or `series_fit_2lines_dynamic(x)` (nested
/// `right` and `left` bags, as the reference shows).
fn fit_2lines_bag(name: &str, args: Vec<Bound>, nested: bool) -> CallResult<Bound> {
    let series = coerce(name, 0, args.into_iter().next().expect("arity checked"), KqlType::Dynamic)?.expr;
    let kernel = if nested { fit_2lines_nested_kernel } else { fit_2lines_flat_kernel };
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Binary, kernel, vec![series]), KqlType::Dynamic))
}

/// The bag behind `series_fit_2lines(x)`.
pub fn fit_2lines_call(args: Vec<Bound>) -> CallResult<Bound> {
    fit_2lines_bag("series_fit_2lines", args, false)
}

fn segment_entries(s: &Segment) -> Vec<(&'static str, DynValue)> {
    vec![
        ("rsquare", real(s.rsquare)),
        ("slope", real(s.slope)),
        ("interception", real(s.interception)),
        ("variance", real(s.variance)),
        ("rvariance", real(s.rvariance)),
    ]
}

fn two_lines_bag(f: TwoLines, nested: bool) -> DynValue {
    let mut entries: Vec<(String, DynValue)> = vec![
        ("rsquare".into(), real(f.rsquare)),
        ("split_idx".into(), DynValue::Long(f.split_idx as i64)),
        ("variance".into(), real(f.variance)),
        ("rvariance".into(), real(f.rvariance)),
        ("line_fit".into(), reals(f.line_fit.into_iter().map(Some))),
    ];
    for (side, segment) in [("right", &f.right), ("left", &f.left)] {
        let fields = segment_entries(segment);
        if nested {
            entries.push((side.into(), DynValue::Object(fields.into_iter().map(|(k, v)| (k.into(), v)).collect())));
        } else {
            entries.extend(fields.into_iter().map(|(k, v)| (format!("{side}_{k}"), v)));
        }
    }
    DynValue::Object(entries)
}

fn fit_2lines_flat_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    per_row(args, rows, |_, _, values| Ok(fit_2lines(&values).map(|f| two_lines_bag(f, false))))
}

fn fit_2lines_nested_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    per_row(args, rows, |_, _, values| Ok(fit_2lines(&values).map(|f| two_lines_bag(f, true))))
}
