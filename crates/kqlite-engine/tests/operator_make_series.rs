//! The `make-series` operator, end to end. Expected values come from the
//! Kusto documentation's examples where they exist. Dynamic cells print as
//! JSON inside CSV quotes, so `"` appears doubled.

mod common;

use common::{check_error, check_partitioned as check};

const DOC_DATA: &str = "let data=datatable(timestamp:datetime, metric: real)
[
  datetime(2016-12-31T06:00), 50,
  datetime(2017-01-01), 4,
  datetime(2017-01-02), 3,
  datetime(2017-01-03), 4,
  datetime(2017-01-03T03:00), 6,
  datetime(2017-01-05), 8,
  datetime(2017-01-05T13:40), 13,
  datetime(2017-01-06), 4,
  datetime(2017-01-07), 3,
  datetime(2017-01-08), 8,
  datetime(2017-01-08T21:00), 8,
  datetime(2017-01-09), 2,
  datetime(2017-01-09T12:00), 11,
  datetime(2017-01-10T05:00), 5,
];
let interval = 1d;
let stime = datetime(2017-01-01);
let etime = datetime(2017-01-10);
";

/// The bins of the reference's example: datetimes inside dynamic values print
/// with seven fraction digits, as the reference's make-series result shows
/// (`"2017-01-01T00:00:00.0000000Z"`).
const DOC_DAYS: &str = r#""[""2017-01-01T00:00:00.0000000Z"",""2017-01-02T00:00:00.0000000Z"",""2017-01-03T00:00:00.0000000Z"",""2017-01-04T00:00:00.0000000Z"",""2017-01-05T00:00:00.0000000Z"",""2017-01-06T00:00:00.0000000Z"",""2017-01-07T00:00:00.0000000Z"",""2017-01-08T00:00:00.0000000Z"",""2017-01-09T00:00:00.0000000Z""]""#;

const T: &str = "let T = datatable(t:datetime, k:string, x:long)[
  datetime(2020-01-01), 'a', 1,
  datetime(2020-01-01 12:00), 'a', 2,
  datetime(2020-01-03), 'a', 3,
  datetime(2020-01-02), 'b', 10,
  datetime(2020-01-04 06:00), 'b', 20,
];
";

const DAYS_1_4: &str = r#""[""2020-01-01T00:00:00.0000000Z"",""2020-01-02T00:00:00.0000000Z"",""2020-01-03T00:00:00.0000000Z"",""2020-01-04T00:00:00.0000000Z""]""#;

#[tokio::test]
async fn documentation_examples() {
    // Bins without rows get the default (0), rows outside [from, to) are dropped.
    check(
        &format!("{DOC_DATA}data | make-series avg(metric) on timestamp from stime to etime step interval"),
        &format!("avg_metric,timestamp\n\"[4,3,5,0,10.5,4,3,8,6.5]\",{DOC_DAYS}"),
    )
    .await;
    // Empty input: no rows…
    check(
        &format!(
            "{DOC_DATA}data | take 0 | make-series avg(metric) default=1.0 on timestamp from stime to etime step interval | count"
        ),
        "Count\n0",
    )
    .await;
    // …unless kind=nonempty, which gives one row of defaults.
    check(
        &format!(
            "{DOC_DATA}data | take 0 | make-series kind=nonempty avg(metric) default=1.0 on timestamp from stime to etime step interval"
        ),
        &format!("avg_metric,timestamp\n\"[1,1,1,1,1,1,1,1,1]\",{DOC_DAYS}"),
    )
    .await;
    // kind=nonempty does nothing when there are rows.
    check(
        &format!(
            "{DOC_DATA}data | make-series kind=nonempty avg(metric) on timestamp from stime to etime step interval | count"
        ),
        "Count\n1",
    )
    .await;
}

/// Checks `make-series c=count() on t {range} by k` over `T`, sorted by
/// k: group a's and group b's counts, and the time axis both share (CSV
/// text of a JSON array).
async fn check_counts_by_k(range: &str, a: &str, b: &str, axis: &str) {
    check(
        &format!("{T}T | make-series c=count() on t {range} by k | sort by k asc"),
        &format!("k,c,t\na,\"{a}\",{axis}\nb,\"{b}\",{axis}"),
    )
    .await;
}

#[tokio::test]
async fn groups_and_ranges() {
    check(
        &format!(
            "{T}T | make-series c=count(), s=sum(x) on t from datetime(2020-01-01) to datetime(2020-01-05) step 1d by k | sort by k asc"
        ),
        &format!("k,c,s,t\na,\"[2,0,1,0]\",\"[3,0,3,0]\",{DAYS_1_4}\nb,\"[0,1,0,1]\",\"[0,10,0,20]\",{DAYS_1_4}"),
    )
    .await;
    // Without from/to the range spans the data, the same for every group.
    check_counts_by_k("step 1d", "[2,0,1,0]", "[0,1,0,1]", DAYS_1_4).await;
    // Only from: up to the last bin with data.
    check_counts_by_k(
        "from datetime(2020-01-02) step 1d",
        "[0,1,0]",
        "[1,0,1]",
        r#""[""2020-01-02T00:00:00.0000000Z"",""2020-01-03T00:00:00.0000000Z"",""2020-01-04T00:00:00.0000000Z""]""#,
    )
    .await;
    // Only to: from the first bin with data.
    check_counts_by_k(
        "to datetime(2020-01-03) step 1d",
        "[2,0]",
        "[0,1]",
        r#""[""2020-01-01T00:00:00.0000000Z"",""2020-01-02T00:00:00.0000000Z""]""#,
    )
    .await;
    // `in range(start, stop, step)`: bins by bin(), stop inclusive.
    check_counts_by_k(
        "in range(datetime(2020-01-01 06:00), datetime(2020-01-03), 1d)",
        "[2,0,1]",
        "[0,1,0]",
        r#""[""2020-01-01T00:00:00.0000000Z"",""2020-01-02T00:00:00.0000000Z"",""2020-01-03T00:00:00.0000000Z""]""#,
    )
    .await;
    // No by clause, and a step that does not divide the range.
    check(
        &format!("{T}T | make-series c=count() on t from datetime(2020-01-01) to datetime(2020-01-04 12:00) step 2d"),
        r#"c,t
"[3,2]","[""2020-01-01T00:00:00.0000000Z"",""2020-01-03T00:00:00.0000000Z""]""#,
    )
    .await;
    // A range without rows in it: no rows.
    check(
        &format!("{T}T | make-series c=count() on t from datetime(2021-01-01) to datetime(2021-01-03) step 1d | count"),
        "Count\n0",
    )
    .await;
}

#[tokio::test]
async fn axis_types() {
    check(
        "range x from 1 to 10 step 1 | make-series c=count(), s=sum(x) on x from 0 to 10 step 3",
        "c,s,x\n\"[2,3,3,1]\",\"[3,12,21,9]\",\"[0,3,6,9]\"",
    )
    .await;
    // The range from the data starts at bin(min, step).
    check("range x from 1 to 10 step 1 | make-series c=count() on x step 3", "c,x\n\"[2,3,3,2]\",\"[0,3,6,9]\"").await;
    check(
        "datatable(r:real)[0.5, 1.5, 1.7, 3.2] | make-series c=count() on r from 0 to 4 step 1.0",
        "c,r\n\"[1,2,0,1]\",\"[0,1,2,3]\"",
    )
    .await;
    check("datatable(r:real)[0.5, 1.25] | make-series c=count() on r step 0.5", "c,r\n\"[1,1]\",\"[0.5,1]\"").await;
    check(
        "datatable(d:timespan)[1h, 90m, 3h] | make-series c=count() on d from 0h to 4h step 1h",
        r#"c,d
"[0,2,0,1]","[""00:00:00"",""01:00:00"",""02:00:00"",""03:00:00""]""#,
    )
    .await;
}

#[tokio::test]
async fn defaults_and_expressions() {
    check(
        &format!(
            "{T}T | where k == 'a' | make-series c=count() default=long(null), a=avg(x) default=double(null), m=max(x) default=-1 on t from datetime(2020-01-01) to datetime(2020-01-04) step 1d"
        ),
        r#"c,a,m,t
"[2,null,1]","[1.5,null,3]","[2,-1,3]","[""2020-01-01T00:00:00.0000000Z"",""2020-01-02T00:00:00.0000000Z"",""2020-01-03T00:00:00.0000000Z""]""#,
    )
    .await;
    // The default takes the aggregate's type: avg's 0 is a real.
    check(
        &format!("{T}T | where k == 'a' | make-series a=avg(x) on t from datetime(2020-01-01) to datetime(2020-01-03) step 1d | project v = tostring(a[1]), ty = gettype(a[1])"),
        "v,ty\n0,real",
    )
    .await;
    // Expressions over aggregates are computed per bin; defaults fill the rest.
    check(
        &format!(
            "{T}T | make-series sum(x) + 1, dcount(k) on t from datetime(2020-01-01) to datetime(2020-01-03) step 1d"
        ),
        r#"Column1,dcount_k,t
"[4,11]","[1,1]","[""2020-01-01T00:00:00.0000000Z"",""2020-01-02T00:00:00.0000000Z""]""#,
    )
    .await;
}

#[tokio::test]
async fn names() {
    // Repeated aggregates are numbered; a by column named like the axis
    // renames the axis.
    check(
        &format!("{T}T | make-series count(), count() on t from datetime(2020-01-01) to datetime(2020-01-02) step 1d by bin(t, 1d) | sort by t asc"),
        r#"t,count_,count_1,t1
2020-01-01T00:00:00Z,[2],[2],"[""2020-01-01T00:00:00.0000000Z""]""#,
    )
    .await;
    check(
        &format!("{T}T | make-series c=count() on t + 1d from datetime(2020-01-05) to datetime(2020-01-06) step 1d"),
        r#"c,Column1
[1],"[""2020-01-05T00:00:00.0000000Z""]""#,
    )
    .await;
    check_error(&format!("{T}T | make-series k=count() on t step 1d by k"), "'k' is already declared").await;
    check_error(&format!("{T}T | make-series t=count() on t step 1d"), "'t' is already declared").await;
}

#[tokio::test]
async fn errors() {
    check_error(&format!("{T}T | make-series count() on t step 2"), "not an appropriate step").await;
    check_error(&format!("{T}T | make-series count() on k step 1d"), "axis must be").await;
    check_error(&format!("{T}T | make-series count() on t step 0d"), "positive constant").await;
    check_error(&format!("{T}T | make-series count() on t from 1 to 3 step 1d"), "must be datetime").await;
    check_error(&format!("{T}T | make-series kind=other count() on t step 1d"), "kind must be nonempty").await;
}

#[tokio::test]
async fn series_downstream() {
    // The axis array indexes like any dynamic array; mv-expand turns series
    // back into rows.
    check(
        &format!(
            "{T}T | make-series c=count() on t from datetime(2020-01-01) to datetime(2020-01-05) step 1d by k | extend d = todatetime(t[1]) | project k, d | sort by k asc"
        ),
        "k,d\na,2020-01-02T00:00:00Z\nb,2020-01-02T00:00:00Z",
    )
    .await;
    check(
        &format!(
            "{T}T | where k == 'b' | make-series c=count() on t from datetime(2020-01-01) to datetime(2020-01-05) step 1d | mv-expand c to typeof(long), t to typeof(datetime)"
        ),
        "c,t\n0,2020-01-01T00:00:00Z\n1,2020-01-02T00:00:00Z\n0,2020-01-03T00:00:00Z\n1,2020-01-04T00:00:00Z",
    )
    .await;
    // kind=nonempty with by columns: one row with empty keys.
    check(
        &format!(
            "{T}T | take 0 | make-series kind=nonempty c=count() on t from datetime(2020-01-01) to datetime(2020-01-03) step 1d by k"
        ),
        r#"k,c,t
,"[0,0]","[""2020-01-01T00:00:00.0000000Z"",""2020-01-02T00:00:00.0000000Z""]""#,
    )
    .await;
}
