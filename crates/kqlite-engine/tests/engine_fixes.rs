//! Engine fixes: ordering and grouping after `mv-expand` of a unique key,
//! datetime literal forms, plugin inputs computed once, constant folding of
//! scalar expressions.

mod common;

use common::*;

/// The reported repro: a two-key `order by` after a two-key `lookup`, where
/// `x` was a `summarize` key before `mv-expand` multiplied its rows.
const TWO_KEY_SORT_AFTER_LOOKUP: &str = "let U = datatable(T:datetime, u:dynamic)[datetime(2019-11-01), dynamic([0,2,3,4]), datetime(2019-11-02), dynamic([0,1,3,4,5]), datetime(2019-11-03), dynamic([0,2,4,5])] | mv-expand id = u to typeof(long); let p = U | summarize by id, b = T; let f = p | summarize fs = min(b) by id; let r = p | lookup kind=inner f on id | summarize n = count() by x = fs, y = b; f | summarize by x = fs | extend ys = range(x, datetime(2019-11-05), 1d) | mv-expand y = ys to typeof(datetime) | lookup kind=leftouter r on x, y | project x, y, n | order by x asc, y asc";

#[tokio::test]
async fn two_key_sort_after_two_key_lookup_orders_both_keys() {
    let expected = "x,y,n
2019-11-01T00:00:00Z,2019-11-01T00:00:00Z,4
2019-11-01T00:00:00Z,2019-11-02T00:00:00Z,3
2019-11-01T00:00:00Z,2019-11-03T00:00:00Z,3
2019-11-01T00:00:00Z,2019-11-04T00:00:00Z,
2019-11-01T00:00:00Z,2019-11-05T00:00:00Z,
2019-11-02T00:00:00Z,2019-11-02T00:00:00Z,2
2019-11-02T00:00:00Z,2019-11-03T00:00:00Z,1
2019-11-02T00:00:00Z,2019-11-04T00:00:00Z,
2019-11-02T00:00:00Z,2019-11-05T00:00:00Z,";
    // Several partitions and several runs: the wrong plan's order changed
    // from run to run.
    for _ in 0..5 {
        check_partitioned(TWO_KEY_SORT_AFTER_LOOKUP, expected).await;
    }
}

/// After `mv-expand`, a key unique before it (`summarize … by x`) is no
/// longer unique, so `order by x, y` must still order `y`.
#[tokio::test]
async fn order_by_second_key_after_mv_expand_of_a_unique_key() {
    check_partitioned(
        "datatable(x:long, ys:dynamic)[1, dynamic([3,1,2]), 2, dynamic([9,8])]
         | summarize ys = take_any(ys) by x
         | mv-expand y = ys to typeof(long)
         | order by x asc, y asc
         | project x, y",
        "x,y\n1,1\n1,2\n1,3\n2,8\n2,9",
    )
    .await;
}

/// Grouping and `distinct` on both keys after such an `mv-expand` keep
/// every (x, y) pair.
#[tokio::test]
async fn group_by_and_distinct_after_mv_expand_of_a_unique_key_keep_both_keys() {
    let input = "datatable(x:long, ys:dynamic)[1, dynamic([3,1,3]), 2, dynamic([9])]
         | summarize ys = take_any(ys) by x
         | mv-expand y = ys to typeof(long)";
    check_partitioned(
        &format!("{input} | summarize n = count() by x, y | order by x asc, y asc"),
        "x,y,n\n1,1,1\n1,3,2\n2,9,1",
    )
    .await;
    check_partitioned(&format!("{input} | distinct x, y | order by x asc, y asc"), "x,y\n1,1\n1,3\n2,9").await;
}

/// Kusto reads blanks around a datetime literal's separators: the
/// sliding_window_counts reference example writes `datetime(2017 - 08 - 01)`,
/// and Microsoft's binder accepts it (`oracle --bind`).
#[tokio::test]
async fn datetime_literal_with_blanks_around_separators() {
    check(
        "print a = datetime(2017 - 08 - 01), b = datetime(2017-08-01 10 : 30), c = datetime( 2017 / 08 / 02 )",
        "a,b,c\n2017-08-01T00:00:00Z,2017-08-01T10:30:00Z,2017-08-02T00:00:00Z\n",
    )
    .await;
    check_error("print datetime(2017 - 13 - 01)", "invalid datetime").await;
}

/// A constant scalar expression folds wherever a constant is required:
/// `table(strcat("Security", "Event"))` and `render … with (title=strcat(…))`
/// are accepted by Microsoft's binder (`oracle --bind`).
#[tokio::test]
async fn constant_scalar_expressions_fold_where_a_constant_is_required() {
    check("let SecurityEvent = datatable(a:long)[7]; table(strcat(\"Security\", \"Event\"))", "a\n7\n").await;
    check("let T = datatable(a:long)[8]; table(iff(tolower(\"T\") == \"t\", \"T\", \"U\"))", "a\n8\n").await;
    let result = kqlite_engine::Session::with_partitions(1)
        .query("print x = 1, y = 2 | render columnchart with (title=strcat(\"a\", \"b\", tostring(1 + 2)), xtitle=toupper(\"x\"))")
        .await
        .unwrap();
    let visualization = result.visualization.expect("render keeps its visualization");
    assert_eq!(visualization.title.as_deref(), Some("ab3"));
    assert_eq!(visualization.xtitle.as_deref(), Some("X"));
}
