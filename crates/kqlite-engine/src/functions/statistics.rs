//! Statistical distributions and tests: `beta_cdf`, `beta_pdf`, `beta_inv`
//! (the beta distribution) and `welch_test` (the p-value of Welch's
//! unequal-variances t-test), on the `statrs` crate.
//!
//! As Kusto's do, they return NaN for arguments outside the distribution's
//! domain (x outside [0, 1], a shape not above 0) and null for null.

use super::{coerce, expect_one_of, CallResult, Registry, NUMERIC};
use crate::convert::Bound;
use crate::types::KqlType;
use crate::udf::{self, maybe_scalar, rows_to_compute};
use datafusion::arrow::array::{Array, Float64Array};
use datafusion::arrow::datatypes::DataType;
use datafusion::common::cast::as_float64_array;
use datafusion::common::Result;
use datafusion::logical_expr::ColumnarValue;
use statrs::distribution::{Beta, Continuous, ContinuousCDF, StudentsT};
use std::sync::Arc;

pub fn register(r: &mut Registry) {
    r.scalar("beta_cdf", 3, 3, |_, a| reals("beta_cdf", a, beta_cdf_kernel));
    r.scalar("beta_pdf", 3, 3, |_, a| reals("beta_pdf", a, beta_pdf_kernel));
    r.scalar("beta_inv", 3, 3, |_, a| reals("beta_inv", a, beta_inv_kernel));
    r.scalar("welch_test", 6, 6, |_, a| reals("welch_test", a, welch_test_kernel));
}

/// Binds a function of real arguments returning a real.
fn reals(name: &str, a: Vec<Bound>, kernel: udf::Kernel) -> CallResult<Bound> {
    let mut exprs = Vec::with_capacity(a.len());
    for (i, b) in a.into_iter().enumerate() {
        expect_one_of(name, i, &b, NUMERIC)?;
        exprs.push(coerce(name, i, b, KqlType::Real)?.expr);
    }
    Ok(Bound::new(udf::call(&format!("kql_{name}"), DataType::Float64, kernel, exprs), KqlType::Real))
}

/// Applies `f` to each row's arguments; a null argument gives null.
fn map_reals<const N: usize>(args: &[ColumnarValue], rows: usize, f: fn([f64; N]) -> f64) -> Result<ColumnarValue> {
    let n = rows_to_compute(args, rows);
    let arrays = udf::arg_arrays(args, n)?;
    let columns = arrays.iter().map(|a| as_float64_array(a)).collect::<Result<Vec<_>>>()?;
    let out: Float64Array = (0..n)
        .map(|row| {
            let mut values = [0.0; N];
            for (v, c) in values.iter_mut().zip(&columns) {
                *v = c.is_valid(row).then(|| c.value(row))?;
            }
            Some(f(values))
        })
        .collect();
    maybe_scalar(args, Arc::new(out))
}

/// The beta distribution of shapes `alpha` and `beta`, if they are valid.
fn beta(alpha: f64, beta: f64) -> Option<Beta> {
    Beta::new(alpha, beta).ok()
}

/// `beta_cdf(x, alpha, beta)`: P(X <= x); NaN outside the domain.
pub fn beta_cdf(x: f64, a: f64, b: f64) -> f64 {
    match beta(a, b) {
        Some(d) if (0.0..=1.0).contains(&x) => d.cdf(x),
        _ => f64::NAN,
    }
}

/// `beta_pdf(x, alpha, beta)`: the density at x; NaN outside the domain.
pub fn beta_pdf(x: f64, a: f64, b: f64) -> f64 {
    match beta(a, b) {
        Some(d) if (0.0..=1.0).contains(&x) => d.pdf(x),
        _ => f64::NAN,
    }
}

/// `beta_inv(p, alpha, beta)`: the x whose cumulative probability is p.
pub fn beta_inv(p: f64, a: f64, b: f64) -> f64 {
    match beta(a, b) {
        Some(d) if (0.0..=1.0).contains(&p) => d.inverse_cdf(p),
        _ => f64::NAN,
    }
}

/// The two-sided p-value of Welch's t-test for two samples given by their
/// means, variances and sizes; NaN where the statistic is undefined.
pub fn welch_test(mean1: f64, var1: f64, n1: f64, mean2: f64, var2: f64, n2: f64) -> f64 {
    let (s1, s2) = (var1 / n1, var2 / n2);
    let t = (mean1 - mean2) / (s1 + s2).sqrt();
    let df = (s1 + s2).powi(2) / (s1 * s1 / (n1 - 1.0) + s2 * s2 / (n2 - 1.0));
    match StudentsT::new(0.0, 1.0, df) {
        Ok(d) if t.is_finite() => 2.0 * d.sf(t.abs()),
        _ => f64::NAN,
    }
}

fn beta_cdf_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_reals::<3>(args, rows, |[x, a, b]| beta_cdf(x, a, b))
}

fn beta_pdf_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_reals::<3>(args, rows, |[x, a, b]| beta_pdf(x, a, b))
}

fn beta_inv_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_reals::<3>(args, rows, |[p, a, b]| beta_inv(p, a, b))
}

fn welch_test_kernel(args: &[ColumnarValue], rows: usize) -> Result<ColumnarValue> {
    map_reals::<6>(args, rows, |[m1, v1, n1, m2, v2, n2]| welch_test(m1, v1, n1, m2, v2, n2))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The values of Kusto's beta_cdf and beta_pdf pages.
    #[test]
    fn beta_matches_the_documented_examples() {
        assert!((beta_cdf(0.9, 10.0, 20.0) - 0.999999999999959).abs() < 1e-12);
        assert!((beta_pdf(0.5, 10.0, 20.0) - 0.746176019310951).abs() < 1e-9);
        assert!(beta_cdf(1.5, 10.0, 20.0).is_nan());
        assert!(beta_cdf(0.1, -1.0, 20.0).is_nan());
        let x = beta_inv(beta_cdf(0.3, 2.0, 5.0), 2.0, 5.0);
        assert!((x - 0.3).abs() < 1e-9, "{x}");
    }

    /// Samples (20.3, 22.1, 21.9) and (18.9, 20.3, 19.0): Welch's t-test gives
    /// p = 0.0518 (as R's t.test does).
    #[test]
    fn welch_p_value_of_two_small_samples() {
        let stats = |s: &[f64]| {
            let n = s.len() as f64;
            let mean = s.iter().sum::<f64>() / n;
            (mean, s.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0), n)
        };
        let (m1, v1, n1) = stats(&[20.3, 22.1, 21.9]);
        let (m2, v2, n2) = stats(&[18.9, 20.3, 19.0]);
        let p = welch_test(m1, v1, n1, m2, v2, n2);
        assert!((p - 0.051807360348581945).abs() < 1e-9, "{p}");
    }
}
