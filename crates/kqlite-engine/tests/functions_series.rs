//! The series_* functions end to end, each test citing the reference page
//! (learn.microsoft.com/kusto/query/<name>-function) it follows.

mod common;

use serde_json::{json, Value};

/// The cells of the first row of `q`'s result, by column name.
async fn row(q: &str) -> Vec<(String, String)> {
    let out = common::run_ok(q).await;
    let mut reader = csv::Reader::from_reader(out.as_bytes());
    let headers: Vec<String> = reader.headers().unwrap().iter().map(str::to_string).collect();
    let record = reader.records().next().unwrap_or_else(|| panic!("no row: {q}")).unwrap();
    headers.into_iter().zip(record.iter().map(str::to_string)).collect()
}

/// The single (first) cell of `q`, as JSON (numbers and dynamic values).
async fn one(q: &str) -> Value {
    let cells = row(q).await;
    let text = &cells[0].1;
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
}

/// The named column of `q`'s first row, as JSON.
async fn column(q: &str, name: &str) -> Value {
    let cells = row(q).await;
    let (_, text) = cells.iter().find(|(n, _)| n == name).unwrap_or_else(|| panic!("no column {name} in {cells:?}"));
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.clone()))
}

fn reals(v: &Value) -> Vec<f64> {
    v.as_array().unwrap_or_else(|| panic!("not an array: {v}")).iter().map(|x| x.as_f64().unwrap_or(f64::NAN)).collect()
}

fn assert_close(actual: &[f64], expected: &[f64], tol: f64) {
    assert_eq!(actual.len(), expected.len(), "{actual:?} vs {expected:?}");
    for (a, e) in actual.iter().zip(expected) {
        assert!((a - e).abs() <= tol * e.abs().max(1.0), "{actual:?} vs {expected:?}");
    }
}

#[tokio::test]
async fn unary_math_is_element_wise_and_real() {
    // series-floor-function / series-ceiling-function: [-1.5,1,2.5].
    assert_eq!(one("print series_floor(dynamic([-1.5,1,2.5]))").await, json!([-2, 1, 2]));
    assert_eq!(one("print series_ceiling(dynamic([-1.5,1,2.5]))").await, json!([-1, 1, 3]));
    // series-acos-function: [-1,0,1] → [π, π/2, 0].
    assert_close(
        &reals(&one("print series_acos(dynamic([-1,0,1]))").await),
        &[std::f64::consts::PI, std::f64::consts::FRAC_PI_2, 0.0],
        1e-15,
    );
    // series-exp-function: [1,2,3].
    assert_close(
        &reals(&one("print series_exp(dynamic([1,2,3]))").await),
        &[1f64.exp(), 2f64.exp(), 3f64.exp()],
        1e-15,
    );
    assert_eq!(one("print series_sign(dynamic([-3, 0, 2.5]))").await, json!([-1, 0, 1]));
    assert_eq!(one("print series_abs(dynamic([-3, 2.5]))").await, json!([3, 2.5]));
    // Non-numeric elements give null; a non-array gives null.
    assert_eq!(one("print series_abs(dynamic([-1, 'a', null]))").await, json!([1, null, null]));
    assert_eq!(one("print isnull(series_abs(dynamic(5)))").await, json!(true));
}

#[tokio::test]
async fn binary_arithmetic_keeps_longs_and_pads_with_null() {
    // series-add-function: [1,2,4] + [4,2,1] = [5,4,5].
    assert_eq!(one("print series_add(dynamic([1,2,4]), dynamic([4,2,1]))").await, json!([5, 4, 5]));
    // series-multiply-function: [4,4,4].
    assert_eq!(one("print series_multiply(dynamic([1,2,4]), dynamic([4,2,1]))").await, json!([4, 4, 4]));
    assert_eq!(one("print series_subtract(dynamic([1,2.5]), 1)").await, json!([0, 1.5]));
    // A scalar on either side applies to every element.
    assert_eq!(one("print series_subtract(10, dynamic([1,2]))").await, json!([9, 8]));
    // series-divide-function: always real; arrays of different lengths give null where one lacks an element.
    assert_eq!(one("print series_divide(dynamic([1,4,9]), dynamic([2,4]))").await, json!([0.5, 1, null]));
    // series-pow-function: [1,2,3,4] ^ [1,2,3,0.5] = [1,4,27,2].
    assert_eq!(one("print series_pow(dynamic([1,2,3,4]), dynamic([1,2,3,0.5]))").await, json!([1, 4, 27, 2]));
    assert_eq!(one("print series_add(dynamic([1,'x']), dynamic([1,2]))").await, json!([2, null]));
}

#[tokio::test]
async fn binary_needs_an_array() {
    // Microsoft's binder: "The function 'series_add' is not compatible with arguments (long, long)".
    common::check_error("print series_add(1, 2)", "series_add").await;
    common::check_error("print series_abs(1)", "series_abs").await;
}

#[tokio::test]
async fn comparisons_give_bools() {
    // series-equals / -not-equals / -less / -less-equals pages: [1,2,4] vs [4,2,1].
    let q = |f: &str| format!("print {f}(dynamic([1,2,4]), dynamic([4,2,1]))");
    assert_eq!(one(&q("series_equals")).await, json!([false, true, false]));
    assert_eq!(one(&q("series_not_equals")).await, json!([true, false, true]));
    assert_eq!(one(&q("series_less")).await, json!([true, false, false]));
    assert_eq!(one(&q("series_less_equals")).await, json!([true, true, false]));
    assert_eq!(one(&q("series_greater")).await, json!([false, false, true]));
    assert_eq!(one(&q("series_greater_equals")).await, json!([false, true, true]));
    assert_eq!(one("print series_greater(dynamic([1,5,null]), 2)").await, json!([false, true, null]));
}

#[tokio::test]
async fn reductions() {
    // series-product-function: [1,2,3,4] → 24; series-dot-product-function: [1,2,4]·[4,2,1] = 12.
    assert_eq!(one("print series_product(dynamic([1,2,3,4]))").await, json!(24));
    assert_eq!(one("print series_sum(dynamic([1,2,3.5]))").await, json!(6.5));
    assert_eq!(one("print series_magnitude(dynamic([3,4]))").await, json!(5));
    assert_eq!(one("print series_dot_product(dynamic([1,2,4]), dynamic([4,2,1]))").await, json!(12));
    assert_eq!(one("print series_dot_product(dynamic([1,2,3]), 2)").await, json!(12));
    // series-cosine-similarity-function: 0.99935343825504 and 0.923760430703401.
    let c = one("print series_cosine_similarity(dynamic([0.1,0.2,0.1,0.2]), dynamic([0.11,0.2,0.11,0.21]))").await;
    assert_close(&[c.as_f64().unwrap()], &[0.99935343825504], 1e-12);
    let c = one("print series_cosine_similarity(dynamic([0.1,0.2,0.1,0.2]), dynamic([1,2,3,4]))").await;
    assert_close(&[c.as_f64().unwrap()], &[0.923760430703401], 1e-12);
    // A perfectly linear relation correlates 1; opposite slopes -1.
    assert_eq!(one("print series_pearson_correlation(dynamic([1,2,3]), dynamic([2,4,6]))").await, json!(1));
    let r = one("print series_pearson_correlation(dynamic([1,2,3]), dynamic([3,2,1]))").await;
    assert_close(&[r.as_f64().unwrap()], &[-1.0], 1e-12);
}

#[tokio::test]
async fn fills() {
    // series-fill-backward-function, series-fill-forward-function, series-fill-const-function examples.
    assert_eq!(
        one("print series_fill_backward(dynamic([111, null, 36, 41, null, null, 16, 61, 33, null, null]))").await,
        json!([111, 36, 36, 41, 16, 16, 16, 61, 33, null, null])
    );
    assert_eq!(
        one("print series_fill_forward(dynamic([null, null, 36, 41, null, null, 16, 61, 33, null, null]))").await,
        json!([null, null, 36, 41, 41, 41, 16, 61, 33, 33, 33])
    );
    assert_eq!(one("print series_fill_const(dynamic([111, null, 36]), -1)").await, json!([111, -1, 36]));
    // A placeholder marks other missing values.
    assert_eq!(one("print series_fill_forward(dynamic([1, 0, 0, 4]), 0)").await, json!([1, 1, 1, 4]));
    // series-fill-linear-function: doubles interpolate exactly, longs round; edges take the nearest value.
    assert_eq!(
        one("print series_fill_linear(dynamic([null, 111.0, null, 36.0, 41.0, null, null, 16.0, null]))").await,
        json!([111, 111, 73.5, 36, 41, 32.666666666666664, 24.333333333333332, 16, 16])
    );
    assert_eq!(
        one("print series_fill_linear(dynamic([null, 111, null, 36, 41, null, null, 16, null]))").await,
        json!([111, 111, 74, 36, 41, 33, 24, 16, 16])
    );
    assert_eq!(
        one("print series_fill_linear(dynamic([null, 1, null, 3, null]), double(null), false)").await,
        json!([null, 1, 2, 3, null])
    );
    assert_eq!(one("print series_fill_linear(dynamic([null, null]))").await, json!([0, 0]));
    assert_eq!(one("print series_fill_linear(dynamic([null, null]), double(null), true, 7)").await, json!([7, 7]));
}

#[tokio::test]
async fn filters() {
    // series-fir-function: a 3-point moving average, trailing or centered.
    assert_eq!(one("print series_fir(dynamic([3, 6, 9, 12]), dynamic([1,1,1]))").await, json!([1, 3, 6, 9]));
    assert_eq!(
        one("print series_fir(dynamic([3, 6, 9, 12]), dynamic([1,1,1]), true, true)").await,
        json!([3, 6, 9, 7])
    );
    // The difference of successive points, with a negative coefficient (not normalized).
    assert_eq!(one("print series_fir(dynamic([1, 4, 9]), dynamic([1,-1]))").await, json!([1, 3, 5]));
    assert_eq!(one("print isnull(series_fir(dynamic([1, 4, 9]), dynamic([1,-1]), true))").await, json!(true));
    assert_eq!(one("print isnull(series_fir(dynamic([1, 4, 9]), dynamic([])))").await, json!(true));
    // series-iir-function: the cumulative sum is numerators [1], denominators [1, -1].
    assert_eq!(
        one("print series_iir(dynamic([1, 2, 3, 4]), dynamic([1]), dynamic([1, -1]))").await,
        json!([1, 3, 6, 10])
    );
}

#[tokio::test]
async fn fft_round_trips() {
    // series-fft-function: the transform of [1,1,1,1] is [4,0,0,0]; series_ifft undoes series_fft.
    let q = "print y = dynamic([1, 1, 1, 1]) | extend (re, im) = series_fft(y)";
    assert_close(&reals(&column(q, "re").await), &[4.0, 0.0, 0.0, 0.0], 1e-12);
    let q = "print y = dynamic([1, 2, 3, 5]) | extend (re, im) = series_fft(y) | extend (r2, i2) = series_ifft(re, im)";
    assert_close(&reals(&column(q, "r2").await), &[1.0, 2.0, 3.0, 5.0], 1e-12);
    assert_close(&reals(&column(q, "i2").await), &[0.0; 4], 1e-12);
    // Unnamed columns follow Kusto's naming.
    let cells = row("print y = dynamic([1, 2]) | extend series_fft(y)").await;
    assert!(cells.iter().any(|(n, _)| n == "series_fft_y_imag"), "{cells:?}");
}

#[tokio::test]
async fn fit_poly_and_two_lines() {
    // series-fit-poly-function example 2: degree 1 agrees with series_fit_line
    // (series-fit-line-function: slope 2.730, interception -1.666, rsquare 0.982).
    let q = "print y = dynamic([2, 5, 6, 8, 11, 15, 17, 18, 25, 26, 30, 30]) | extend (rs, coeff, v, rv, fit) = series_fit_poly(y)";
    let coeff = reals(&column(q, "coeff").await);
    assert_close(&coeff, &[2.7307, -1.6666], 1e-3);
    assert_close(&[column(q, "rs").await.as_f64().unwrap()], &[0.982], 1e-3);
    // An exact quadratic with its own x.
    let q =
        "print y = dynamic([1, 4, 9, 16]), x = dynamic([1, 2, 3, 4]) | extend (rs, coeff) = series_fit_poly(y, x, 2)";
    assert_close(&reals(&column(q, "coeff").await), &[1.0, 0.0, 0.0], 1e-9);
    // Two exact lines meeting at a corner: split at the corner, r-square 1.
    let q = "print y = dynamic([0, 1, 2, 3, 10, 8, 6, 4, 2]) | extend (rs, idx) = series_fit_2lines(y)";
    assert_close(&[column(q, "rs").await.as_f64().unwrap()], &[1.0], 1e-9);
    assert_eq!(column(q, "idx").await, json!(4));
    let q = "print b = series_fit_2lines_dynamic(dynamic([0, 1, 2, 3, 10, 8, 6, 4, 2])) | project s = b.right.slope";
    assert_close(&[one(q).await.as_f64().unwrap()], &[-2.0], 1e-9);
}

#[tokio::test]
async fn seasonal_and_periods() {
    // series-seasonal-function example 2.
    assert_eq!(
        one("print series_seasonal(dynamic([1, 3, 5, 1, 3, 5, 2, 4, 6]), 3)").await,
        json!([1, 3, 5, 1, 3, 5, 1, 3, 5])
    );
    assert_eq!(
        one("print series_seasonal(dynamic([1, 3, 5, 2, 4, 6, 1, 3, 5, 2, 4, 6]), 3)").await,
        json!([1.5, 3.5, 5.5, 1.5, 3.5, 5.5, 1.5, 3.5, 5.5, 1.5, 3.5, 5.5])
    );
    // series-periods-validate-function: the two-week period (14 bins) is valid, 10 is not.
    let y = "dynamic([80, 139, 87, 110, 68, 54, 50, 51, 53, 133, 86, 141, 97, 156, 94, 149, 95, 140, 77, 61, 50, 54, 47, 133, 72, 152, 94, 148, 105, 162, 101, 160, 87, 63, 53, 55, 54, 151, 103, 189, 108, 183, 113, 175, 113, 178, 90, 71, 62, 62, 65, 165, 109, 181, 115, 182, 121, 178, 114, 170])";
    let q = format!("print y = {y} | extend (p, s) = series_periods_validate(y, 14.0, 10.0)");
    assert_eq!(column(&q, "p").await, json!([14, 10]));
    let scores = reals(&column(&q, "s").await);
    assert!(scores[0] > 0.5 && scores[1] == 0.0, "{scores:?}");
    // series_periods_detect finds the same period, padded to the count asked.
    let q = format!("print y = {y} | extend (p, s) = series_periods_detect(y, 0.0, 50.0, 2)");
    let periods = reals(&column(&q, "p").await);
    assert_eq!(periods[0], 14.0, "{periods:?}");
    assert_eq!(periods.len(), 2);
}
