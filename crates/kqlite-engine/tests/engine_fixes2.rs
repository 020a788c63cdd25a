//! Engine fixes: no overflow in the row bound of joined plans, and IEEE 754
//! comparisons and Kusto's ordering for real NaN values.

mod common;

use common::*;

/// `datatable(T:datetime, id:long)[…]` of `rows` rows: ids 0–36 over the
/// 28 days of January 2024, each (day, id) pair present (28 and 37 are
/// coprime and rows ≥ 1036).
fn activity_table(rows: usize) -> String {
    let values: Vec<String> =
        (0..rows).map(|i| format!("datetime(2024-01-{:02} {:02}:00:00), {}", 1 + i % 28, i % 24, i % 37)).collect();
    format!("datatable(T:datetime, id:long)[{}]", values.join(", "))
}

/// The reported panic: `activity_metrics` joins its input with itself; over
/// 2,000 rows DataFusion's `LogicalPlan::max_rows` multiplied past
/// `usize::MAX` when the plugin's `order by` asked for its input's bound
/// ("attempt to multiply with overflow" in debug builds, a wrapped and
/// possibly tiny sort limit in release builds).
#[tokio::test]
async fn activity_metrics_over_two_thousand_rows_does_not_overflow() {
    let q = format!(
        "{} | evaluate activity_metrics(id, T, datetime(2024-01-01), datetime(2024-01-28), 1d)
         | summarize windows = count(), values = sum(dcount_values), new = sum(dcount_newvalues)",
        activity_table(2000)
    );
    check(&q, "windows,values,new\n28,1036,37\n").await;
}

/// The same bound without a plugin: inner joins of `datatable`s, whose
/// product of row counts (2,000⁶) exceeds 64 bits, then `order by`; every
/// row is kept.
#[tokio::test]
async fn order_by_after_joins_of_large_datatables_keeps_every_row() {
    let values: Vec<String> = (0..2000).map(|i| i.to_string()).collect();
    let t = format!("datatable(k:long)[{}]", values.join(", "));
    let q = format!(
        "let t = {t};
         t | join kind=inner t on k | join kind=inner t on k | join kind=inner t on k
           | join kind=inner t on k | join kind=inner t on k
           | order by k desc | summarize n = count(), top = max(k)"
    );
    check(&q, "n,top\n2000,1999\n").await;
}

/// `order by` after a `union` with `print`: DataFusion bounds `print`'s
/// one row by 0, so the sort's fetch was one row short and dropped the
/// last row ("union operator": the rows of all inputs).
#[tokio::test]
async fn order_by_after_union_with_print_keeps_every_row() {
    check("datatable(x:long)[5, 1] | union (print x = 3) | order by x asc", "x\n1\n3\n5\n").await;
}

// Comparisons with NaN. The real data type is a 64-bit IEEE 754 double
// ("The real data type", learn.microsoft.com/kusto/query/scalar-data-types/real,
// which also names `real(nan)`), Kusto's is .NET's System.Double, whose
// comparison operators are false when an operand is NaN, NaN included, and
// `!=` true ("Comparison operators (C# reference)", learn.microsoft.com/
// dotnet/csharp/language-reference/operators/comparison-operators).

#[tokio::test]
async fn comparisons_with_nan_are_false_and_not_equal_is_true() {
    check(
        "print a = real(nan) > 1, b = real(nan) < 1, c = real(nan) >= 1, d = real(nan) <= 1,
               e = real(nan) == real(nan), f = real(nan) != real(nan), g = 1.0 != real(nan),
               h = real(nan) > real(+inf), i = real(-inf) < real(nan)",
        "a,b,c,d,e,f,g,h,i\nfalse,false,false,false,false,true,true,false,false\n",
    )
    .await;
}

/// Column values (not constants), a NaN made by `0.0/0.0` (negative NaN on
/// most hardware) and one by `real(nan)`; ordinary values still compare.
#[tokio::test]
async fn nan_column_values_compare_false_in_filters() {
    let t =
        "datatable(x:real, y:real)[1.0, 2.0, real(nan), 1.0, 2.0, real(nan), real(null), 1.0] | extend z = 0.0 / 0.0";
    check(&format!("{t} | where x < y | count"), "Count\n1\n").await;
    check(&format!("{t} | where x >= y | count"), "Count\n0\n").await;
    // `null != 1` is true in Kusto.
    check(&format!("{t} | where x != y | count"), "Count\n4\n").await;
    check(&format!("{t} | where z == z or z > 0 or z <= 0 | count"), "Count\n0\n").await;
    check(&format!("{t} | where z != x | count"), "Count\n4\n").await;
}

/// `between` is `>=` and `<=` ("between operator", learn.microsoft.com/kusto/
/// query/between-operator); `in` is equality with each element ("in and
/// !in operators"): NaN is in no list, its own included.
#[tokio::test]
async fn between_and_in_follow_the_nan_comparisons() {
    check(
        "print a = real(nan) between (real(-inf) .. real(+inf)), b = real(nan) !between (0.0 .. 1.0),
               c = real(nan) in (1.0, real(nan)), d = real(nan) !in (real(nan)), e = 2.0 in (1.0, 2.0)",
        "a,b,c,d,e\nfalse,true,false,true,true\n",
    )
    .await;
}

/// A join on real keys is unaffected: equal keys match.
#[tokio::test]
async fn join_on_real_keys_still_matches_equal_values() {
    check(
        "datatable(k:real, a:long)[1.5, 1, 2.5, 2] | join kind=inner (datatable(k:real, b:long)[2.5, 20, 3.5, 30]) on k
         | project k, a, b",
        "k,a,b\n2.5,2,20\n",
    )
    .await;
}

/// "sort operator", learn.microsoft.com/kusto/query/sort-operator, "Using
/// special floating-point values": NaN sorts next to null, on the side the
/// nulls are placed.
#[tokio::test]
async fn sort_places_nan_next_to_null() {
    let t = "datatable(x:real)[1.0, real(nan), real(null), real(-inf), real(+inf), -5.0]
             | union (print x = 0.0 / 0.0)";
    let order = |o: &str| format!("{t} | order by x {o}");
    // The CSV writes null as an empty field and the infinities as ∞.
    check(&order("asc nulls first"), "x\n\nNaN\nNaN\n-∞\n-5\n1\n∞\n").await;
    check(&order("asc nulls last"), "x\n-∞\n-5\n1\n∞\nNaN\nNaN\n\n").await;
    check(&order("desc nulls first"), "x\n\nNaN\nNaN\n∞\n1\n-5\n-∞\n").await;
    check(&order("desc nulls last"), "x\n∞\n1\n-5\n-∞\nNaN\nNaN\n\n").await;
}
