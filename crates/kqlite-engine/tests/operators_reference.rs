//! Tabular operators as the KQL reference defines them: scan, partition,
//! project-by-names, sample, sample-distinct, top-hitters, range. Expected
//! values follow each operator's reference page (cited per test).

mod common;

use common::{check, check_error, run_ok};

/// scan-operator.md, "Cumulative sum": a declared column with a default,
/// read from the step's own state.
#[tokio::test]
async fn scan_cumulative_sum_reads_the_default_of_an_empty_state() {
    check(
        "range x from 1 to 5 step 1 | scan declare (cumulative_x: long = 0) with (step s1: true => cumulative_x = x + s1.cumulative_x;)",
        "x,cumulative_x\n1,1\n2,3\n3,6\n4,10\n5,15\n",
    )
    .await;
}

/// scan-operator.md, "Cumulative sum with a reset condition".
#[tokio::test]
async fn scan_cumulative_sum_with_reset() {
    check(
        "range x from 1 to 10 step 1 | scan declare (cumulative_x: long = 0) with (step s1: true => cumulative_x = iff(s1.cumulative_x >= 10, x, x + s1.cumulative_x);)",
        "x,cumulative_x\n1,1\n2,3\n3,6\n4,10\n5,5\n6,11\n7,7\n8,15\n9,9\n10,19\n",
    )
    .await;
}

/// scan-operator.md, "Events between Start and Stop": a sequence moves up
/// a step (check 1), stays (check 2), and a new one starts at the first
/// step once the last promotion emptied it; match ids count sequences.
#[tokio::test]
async fn scan_sequences_between_start_and_stop() {
    check(
        r#"datatable (Ts: long, Event: string) [0, "A", 1, "Start", 2, "B", 3, "D", 4, "Stop", 6, "C", 8, "Start", 11, "E", 12, "Stop"]
        | scan with_match_id=m_id with (
            step s1: Event == "Start";
            step s2: Event != "Start" and Event != "Stop" and Ts - s1.Ts <= 5;
            step s3: Event == "Stop" and Ts - s1.Ts <= 5;
        )"#,
        "Ts,Event,m_id\n1,Start,0\n2,B,0\n3,D,0\n4,Stop,0\n8,Start,1\n11,E,1\n12,Stop,1\n",
    )
    .await;
}

/// scan-operator.md, "Sessionization": `output=none` hides the closing
/// step's matches; an unset declared column with no default is null.
#[tokio::test]
async fn scan_sessions_with_output_none() {
    check(
        r#"datatable (Ts: long, Event: string) [0, "A", 1, "A", 2, "B", 32, "B", 36, "C", 75, "A"]
        | scan with_match_id=session_id declare (sessionStart: long) with (
            step inSession: true => sessionStart = iff(isnull(inSession.sessionStart), Ts, inSession.sessionStart);
            step endSession output=none: Ts - inSession.sessionStart > 30;
        )"#,
        "Ts,Event,sessionStart,session_id\n0,A,0,0\n1,A,0,0\n2,B,0,0\n32,B,32,1\n36,C,32,1\n75,A,75,2\n",
    )
    .await;
}

/// scan-operator.md, `output=last`: of a run of matches of one step only
/// the last is output.
#[tokio::test]
async fn scan_output_last_keeps_the_last_of_a_run() {
    check(
        r#"datatable (Ts: long, Event: string) [1, "a", 2, "a", 3, "a", 4, "b"]
        | scan with (step s1 output=last: Event == "a"; step s2: Event == "b";)"#,
        "Ts,Event\n3,a\n4,b\n",
    )
    .await;
}

#[tokio::test]
async fn scan_rejects_what_the_reference_does_not_define() {
    check_error("range x from 1 to 3 step 1 | scan with (step s1: x;)", "bool condition").await;
    check_error("range x from 1 to 3 step 1 | scan with (step s1: true => y = 1;)", "neither an input nor a declared")
        .await;
    check_error("range x from 1 to 3 step 1 | scan with (step s1: true; step s1: true;)", "defined twice").await;
}

/// partition-operator.md: the subquery runs per key and the results are
/// put together.
#[tokio::test]
async fn partition_runs_the_subquery_per_key() {
    let out =
        run_ok("range x from 1 to 10 step 1 | extend g = x % 3 | partition by g (top 1 by x desc) | order by g asc")
            .await;
    assert_eq!(out, "x,g\n9,0\n10,1\n8,2\n");
    let out = run_ok("range x from 1 to 0 step 1 | extend g = x % 3 | partition by g (summarize c = count())").await;
    assert_eq!(out, "c\n");
}

/// project-by-names-operator.md: strings, wildcards, dynamic arrays and
/// names that match nothing (left out).
#[tokio::test]
async fn project_by_names_forms() {
    let t = "datatable(Name:string, Age:int, City:string, Country:string) ['Peter', 39, 'New York', 'USA']";
    check(&format!("{t} | project-by-names 'Name', 'City'"), "Name,City\nPeter,New York\n").await;
    check(&format!("{t} | project-by-names 'C*'"), "City,Country\nNew York,USA\n").await;
    check(&format!("{t} | project-by-names dynamic(['Age', 'Missing'])"), "Age\n39\n").await;
    check(
        &format!("let S = datatable(Name:string, Data:string) []; {t} | project-by-names column_names_of(S), 'Age'"),
        "Name,Age\nPeter,39\n",
    )
    .await;
}

/// sample-operator.md and sample-distinct-operator.md: N rows or N distinct
/// values, at most as many as there are.
#[tokio::test]
async fn sample_and_sample_distinct_counts() {
    check("range x from 1 to 100 step 1 | sample 7 | count", "Count\n7\n").await;
    check("range x from 1 to 3 step 1 | sample 7 | count", "Count\n3\n").await;
    check("range x from 1 to 100 step 1 | extend y = x % 4 | sample-distinct 10 of y | count", "Count\n4\n").await;
    check(
        "range x from 1 to 100 step 1 | extend y = x % 4 | sample-distinct 2 of y | summarize dcount(y)",
        "dcount_y\n2\n",
    )
    .await;
}

/// top-hitters-operator.md: column names as Microsoft's binder gives them
/// (`approximate_count_y`, `approximate_sum_x`).
#[tokio::test]
async fn top_hitters_counts_and_sums() {
    check(
        "datatable(y: string) ['a', 'b', 'a', 'c', 'b', 'a'] | top-hitters 2 of y",
        "y,approximate_count_y\na,3\nb,2\n",
    )
    .await;
    check("range x from 1 to 10 step 1 | extend y = x % 3 | top-hitters 1 of y by x", "y,approximate_sum_x\n1,22\n")
        .await;
}

/// range-operator.md: a step away from the end gives an empty table; real
/// bounds make a real column.
#[tokio::test]
async fn range_backward_and_real() {
    check("range x from 5 to 1 step 1 | count", "Count\n0\n").await;
    check("range x from 1 to 5 step -1 | count", "Count\n0\n").await;
    check("range x from 5 to 1 step -2", "x\n5\n3\n1\n").await;
    check("range x from 1.0 to 2.0 step 0.5", "x\n1\n1.5\n2\n").await;
}

/// count-operator.md: `count as N` names the column (Microsoft's binder:
/// `N: long`).
#[tokio::test]
async fn count_as_names_the_column() {
    check("range x from 1 to 3 step 1 | count as N", "N\n3\n").await;
    check("range x from 1 to 0 step 1 | count as Rows", "Rows\n0\n").await;
}

/// as-operator.md: `as hint.materialized=true T` names the input for later
/// legs of the query.
#[tokio::test]
async fn as_with_materialized_hint() {
    check("range x from 1 to 3 step 1 | as hint.materialized=true T | union T | count", "Count\n6\n").await;
}

/// parse-operator.md, kind=regex with `(.*?)` in the pattern's text: only
/// the columns capture.
#[tokio::test]
async fn parse_regex_text_groups_do_not_capture() {
    check(
        r#"print s = "a=1 (x) b=2" | parse kind=regex s with "a=" a: long "(.*?)b=" b: long | project a, b"#,
        "a,b\n1,2\n",
    )
    .await;
}

/// reduce-operator.md: Pattern, Count, Representative; values that share
/// their terms but one are reduced to a pattern with `*`; kind=source
/// appends the pattern to each row.
#[tokio::test]
async fn reduce_groups_similar_strings() {
    check(
        "datatable(s: string) ['San Jose', 'San Bernard', 'San Diego', 'Paris'] | reduce by s with threshold=0.5",
        "Pattern,Count,Representative\nSan *,3,San Jose\nParis,1,Paris\n",
    )
    .await;
    check(
        r#"range x from 1 to 4 step 1 | project MyText = strcat("MachineLearningX", tostring(x % 2)) | reduce by MyText with threshold=0.001, characters="X""#,
        "Pattern,Count,Representative\nMachineLearningX*,4,MachineLearningX1\n",
    )
    .await;
    check("datatable(s: string) ['a-1', 'a-2'] | reduce kind=source by s", "s,Pattern\na-1,a-*\na-2,a-*\n").await;
}

/// getschema-operator.md: ColumnOrdinal is a long in Microsoft's binder
/// (`oracle --bind -q 'print x=1 | getschema'`).
#[tokio::test]
async fn getschema_ordinal_is_long() {
    check(
        "print x = 1, s = 'a' | getschema | getschema | project ColumnName, ColumnType",
        "ColumnName,ColumnType\nColumnName,string\nColumnOrdinal,long\nDataType,string\nColumnType,string\n",
    )
    .await;
}

/// sample-operator.md: a materialized sample is one set of rows, whichever
/// leg reads it.
#[tokio::test]
async fn materialized_sample_is_read_once() {
    for _ in 0..5 {
        check(
            "let _sample = materialize(range x from 1 to 100 step 1 | sample 1); union (_sample), (_sample) | summarize dcount(x)",
            "dcount_x\n1\n",
        )
        .await;
        check(
            "range x from 1 to 100 step 1 | sample 1 | as hint.materialized=true S | union S | summarize dcount(x), count()",
            "dcount_x,count_\n1,2\n",
        )
        .await;
    }
}

/// fork-operator.md: each branch reads the input and makes a table of its
/// own (more in fork_facet.rs).
#[tokio::test]
async fn fork_returns_every_branch() {
    check(
        "range x from 1 to 5 step 1 | fork (where x > 3 | count) (take 1)",
        "# GenericResult\nCount\n2\n\n# GenericResult1\nx\n1\n",
    )
    .await;
    check_error("range x from 1 to 5 step 1 | fork (count) (where nosuch > 1)", "nosuch").await;
}

/// facet-operator.md: the `with` table comes first, then each column's
/// facet (`Col`, `count_Col`); operators after it read the first.
#[tokio::test]
async fn facet_tables() {
    check("range x from 1 to 5 step 1 | extend y = x % 2 | facet by y | order by y asc", "y,count_y\n0,2\n1,3\n").await;
    check(
        "range x from 1 to 5 step 2 | extend y = x % 2 | facet by y with (where x > 4)",
        "# GenericResult\nx,y\n5,1\n\n# y\ny,count_y\n1,3\n",
    )
    .await;
}

/// consume-operator.md: the input is read and no rows come out.
#[tokio::test]
async fn consume_returns_no_rows() {
    check("range x from 1 to 5 step 1 | consume", "x\n").await;
}

/// parse-operator.md: outside kind=relaxed, a typed column whose text does
/// not convert fails the row's match (all columns empty); kind=relaxed
/// leaves only that column null. parse-where drops such rows.
#[tokio::test]
async fn parse_typed_column_conversion_failures() {
    let t = r#"datatable(s: string) ["a=1, t=2016-02-17 08:40:00, b=x", "a=2, t=never, b=y"]"#;
    check(
        &format!(r#"{t} | parse s with "a=" a: long ", t=" t: datetime ", b=" b | project a, t, b"#),
        "a,t,b\n1,2016-02-17T08:40:00Z,x\n,,\n",
    )
    .await;
    check(
        &format!(r#"{t} | parse kind=relaxed s with "a=" a: long ", t=" t: datetime ", b=" b | project a, t, b"#),
        "a,t,b\n1,2016-02-17T08:40:00Z,x\n2,,y\n",
    )
    .await;
    check(
        &format!(r#"{t} | parse-where s with "a=" a: long ", t=" t: datetime ", b=" b | project a, b"#),
        "a,b\n1,x\n",
    )
    .await;
}

/// parse-operator.md, kind=relaxed: a number followed by `*` is still read
/// as the number; text that is not one gives null and the row matches.
#[tokio::test]
async fn parse_relaxed_numbers_before_a_star() {
    check(
        r#"datatable(s: string) ["n=23, x, m=5", "n=bad, x, m=6"] | parse kind=relaxed s with "n=" n: long * "m=" m: long | project n, m"#,
        "n,m\n23,5\n,6\n",
    )
    .await;
}
