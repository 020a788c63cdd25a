//! `evaluate` plugins, each against its KQL reference page
//! (data-explorer/kusto/query/<plugin>-plugin.md); where a test uses a
//! documented example, the expected values are the documented output.

mod common;

use common::{check, check_error};

/// Checks `q`'s CSV output has the header and rows of `expected`, in any
/// row order (the plugins' reference pages leave it undefined).
async fn check_unordered(q: &str, expected: &str) {
    let sorted = |text: &str| {
        let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
        if lines.len() > 1 {
            lines[1..].sort();
        }
        lines
    };
    assert_eq!(sorted(&common::run(q).await), sorted(expected), "query: {q}");
}

/// The users of the activity_counts_metrics example.
const COUNTS_DATA: &str = "let T = datatable(UserId:string, Timestamp:datetime)[
    'A', datetime(2017-08-01), 'D', datetime(2017-08-01), 'J', datetime(2017-08-01), 'B', datetime(2017-08-01),
    'C', datetime(2017-08-02), 'T', datetime(2017-08-02), 'J', datetime(2017-08-02),
    'H', datetime(2017-08-03), 'T', datetime(2017-08-03), 'T', datetime(2017-08-03), 'J', datetime(2017-08-03),
    'B', datetime(2017-08-03), 'S', datetime(2017-08-03), 'S', datetime(2017-08-04)];";

#[tokio::test]
async fn activity_counts_metrics_follows_the_documented_example() {
    // activity-counts-metrics-plugin.md, "Daily activity counts".
    check(
        &format!(
            "{COUNTS_DATA} T | evaluate activity_counts_metrics(UserId, Timestamp, datetime(2017-08-01), datetime(2017-08-04), 1d) | order by Timestamp asc"
        ),
        "Timestamp,count,dcount,new_dcount,aggregated_dcount\n\
         2017-08-01T00:00:00Z,4,4,4,4\n\
         2017-08-02T00:00:00Z,3,3,2,6\n\
         2017-08-03T00:00:00Z,6,5,2,8\n\
         2017-08-04T00:00:00Z,1,1,0,8\n",
    )
    .await;
}

#[tokio::test]
async fn activity_counts_metrics_slices_by_dimensions() {
    check(
        "datatable(Id:string, T:datetime, Team:string)['a', datetime(2020-01-01), 'x', 'b', datetime(2020-01-01), 'y', \
         'a', datetime(2020-01-02), 'x', 'c', datetime(2020-01-02), 'x'] \
         | evaluate activity_counts_metrics(Id, T, datetime(2020-01-01), datetime(2020-01-02), 1d, Team) | order by Team asc, T asc",
        "T,Team,count,dcount,new_dcount,aggregated_dcount\n\
         2020-01-01T00:00:00Z,x,1,1,1,1\n\
         2020-01-02T00:00:00Z,x,2,2,1,2\n\
         2020-01-01T00:00:00Z,y,1,1,1,1\n",
    )
    .await;
}

#[tokio::test]
async fn sliding_window_counts_follows_the_documented_example() {
    // sliding-window-counts-plugin.md: a 3-day lookback, daily bins.
    check(
        "let T = datatable(UserId:string, Timestamp:datetime)[
            'Bob', datetime(2017-08-01), 'David', datetime(2017-08-01), 'David', datetime(2017-08-01),
            'John', datetime(2017-08-01), 'Bob', datetime(2017-08-01), 'Ananda', datetime(2017-08-02),
            'Atul', datetime(2017-08-02), 'John', datetime(2017-08-02), 'Ananda', datetime(2017-08-03),
            'Atul', datetime(2017-08-03), 'Atul', datetime(2017-08-03), 'John', datetime(2017-08-03),
            'Bob', datetime(2017-08-03), 'Betsy', datetime(2017-08-04), 'Bob', datetime(2017-08-05)];
         T | evaluate sliding_window_counts(UserId, Timestamp, datetime(2017-08-01), datetime(2017-08-07), 3d, 1d)
         | order by Timestamp asc",
        "Timestamp,Count,dcount\n\
         2017-08-01T00:00:00Z,5,3\n\
         2017-08-02T00:00:00Z,8,5\n\
         2017-08-03T00:00:00Z,13,5\n\
         2017-08-04T00:00:00Z,9,5\n\
         2017-08-05T00:00:00Z,7,5\n\
         2017-08-06T00:00:00Z,2,2\n\
         2017-08-07T00:00:00Z,1,1\n",
    )
    .await;
}

#[tokio::test]
async fn rolling_percentile_follows_the_documented_example() {
    // rolling-percentile-plugin.md: the median over 3 daily bins.
    let out = common::run_ok(
        "range idx from 0 to 24 * 10 - 1 step 1
         | project Timestamp = datetime(2018-01-01) + 1h * idx, val = idx + 1
         | evaluate rolling_percentile(val, 50, Timestamp, 1d, 3) | order by Timestamp asc",
    )
    .await;
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[0], "Timestamp,rolling_3_percentile_val_50");
    let values: Vec<&str> = lines[1..].iter().map(|l| l.split(',').nth(1).unwrap()).collect();
    assert_eq!(values, ["12", "24", "36", "60", "84", "108", "132", "156", "180", "204"]);
}

#[tokio::test]
async fn rows_near_follows_the_documented_example() {
    // rows-near-plugin.md: two rows either side of the error.
    check(
        "datatable (Timestamp:datetime, Value:long, State:string)[
            datetime(2021-06-01), 1, 'Success', datetime(2021-06-02), 4, 'Success', datetime(2021-06-03), 3, 'Success',
            datetime(2021-06-04), 11, 'Success', datetime(2021-06-05), 15, 'Success', datetime(2021-06-06), 2, 'Success',
            datetime(2021-06-07), 19, 'Error', datetime(2021-06-08), 12, 'Success', datetime(2021-06-09), 7, 'Success',
            datetime(2021-06-10), 9, 'Success', datetime(2021-06-11), 4, 'Success', datetime(2021-06-12), 1, 'Success']
         | sort by Timestamp asc | evaluate rows_near(State == 'Error', 2)",
        "Timestamp,Value,State\n\
         2021-06-05T00:00:00Z,15,Success\n\
         2021-06-06T00:00:00Z,2,Success\n\
         2021-06-07T00:00:00Z,19,Error\n\
         2021-06-08T00:00:00Z,12,Success\n\
         2021-06-09T00:00:00Z,7,Success\n",
    )
    .await;
}

#[tokio::test]
async fn rows_near_takes_a_separate_count_after() {
    check("range x from 1 to 10 step 1 | evaluate rows_near(x == 5 or x == 9, 1, 0)", "x\n4\n5\n8\n9\n").await;
    check_error("range x from 1 to 3 step 1 | evaluate rows_near(x, 1)", "condition must be a boolean").await;
}

#[tokio::test]
async fn dcount_intersect_follows_the_documented_example() {
    // dcount-intersect-plugin.md: numbers divisible by 2, 2·3 and 2·3·5.
    check(
        "range x from 1 to 100 step 1
         | extend isEven = (x % 2 == 0), isMod3 = (x % 3 == 0), isMod5 = (x % 5 == 0)
         | summarize hll_even = hll(iif(isEven, x, 0), 2), hll_mod3 = hll(iif(isMod3, x, 0), 2), hll_mod5 = hll(iif(isMod5, x, 0), 2)
         | evaluate dcount_intersect(hll_even, hll_mod3, hll_mod5)
         | project evenNumbers = s0 - 1, even_and_mod3 = s1 - 1, even_and_mod3_and_mod5 = s2 - 1",
        "evenNumbers,even_and_mod3,even_and_mod3_and_mod5\n50,16,3\n",
    )
    .await;
}

#[tokio::test]
async fn active_users_count_follows_the_documented_example() {
    // active-users-count-plugin.md: 3 distinct days within 8 days before an appearance.
    check(
        "let T = datatable(User:string, Timestamp:datetime)[
            'B', datetime(2018-06-29), 'B', datetime(2018-06-30), 'A', datetime(2018-07-02), 'B', datetime(2018-07-04),
            'B', datetime(2018-07-08), 'A', datetime(2018-07-10), 'A', datetime(2018-07-14), 'A', datetime(2018-07-17),
            'A', datetime(2018-07-20), 'B', datetime(2018-07-24)];
         T | evaluate active_users_count(User, Timestamp, datetime(2018-07-01), datetime(2018-07-31), 8d, 1d, 3, 7d)
         | order by Timestamp asc",
        "Timestamp,dcount\n2018-07-01T00:00:00Z,1\n2018-07-15T00:00:00Z,1\n",
    )
    .await;
}

/// The users of the new_activity_metrics example, one row per (day, user).
const USERS: &str = "let Users = datatable(Timestamp:datetime, u:dynamic)[
    datetime(2019-11-01), dynamic([0,2,3,4]), datetime(2019-11-02), dynamic([0,1,3,4,5]),
    datetime(2019-11-03), dynamic([0,2,4,5]), datetime(2019-11-04), dynamic([0,1,2,3]),
    datetime(2019-11-05), dynamic([0,1,2,3,4])]
    | mv-expand user = u to typeof(long) | project Timestamp, user;";

#[tokio::test]
async fn new_activity_metrics_follows_the_documented_example() {
    // new-activity-metrics-plugin.md: the first two cohorts.
    check_unordered(
        &format!(
            "{USERS} Users | evaluate new_activity_metrics(user, Timestamp, datetime(2019-11-01), datetime(2019-11-07) - 1tick, 1d)
             | where from_Timestamp < datetime(2019-11-03)"
        ),
        "from_Timestamp,to_Timestamp,dcount_new_values,dcount_retained_values,dcount_churn_values,retention_rate,churn_rate\n\
         2019-11-01T00:00:00Z,2019-11-01T00:00:00Z,4,4,0,1,0\n\
         2019-11-01T00:00:00Z,2019-11-02T00:00:00Z,2,3,1,0.75,0.25\n\
         2019-11-01T00:00:00Z,2019-11-03T00:00:00Z,1,3,1,0.75,0.25\n\
         2019-11-01T00:00:00Z,2019-11-04T00:00:00Z,1,3,1,0.75,0.25\n\
         2019-11-01T00:00:00Z,2019-11-05T00:00:00Z,1,4,0,1,0\n\
         2019-11-01T00:00:00Z,2019-11-06T00:00:00Z,0,0,4,0,1\n\
         2019-11-02T00:00:00Z,2019-11-02T00:00:00Z,2,2,0,1,0\n\
         2019-11-02T00:00:00Z,2019-11-03T00:00:00Z,0,1,1,0.5,0.5\n\
         2019-11-02T00:00:00Z,2019-11-04T00:00:00Z,0,1,1,0.5,0.5\n\
         2019-11-02T00:00:00Z,2019-11-05T00:00:00Z,0,1,1,0.5,0.5\n\
         2019-11-02T00:00:00Z,2019-11-06T00:00:00Z,0,0,2,0,1\n",
    )
    .await;
}

#[tokio::test]
async fn new_activity_metrics_takes_a_cohort_and_a_lookback() {
    // One cohort (11-02): users 1 and 5. With user 5 in the lookback table,
    // only user 1 is new on 11-02, and is seen again on 11-04 and 11-05.
    check(
        &format!(
            "{USERS} let lookback = datatable(user:long)[5];
             Users | evaluate new_activity_metrics(user, Timestamp, datetime(2019-11-01), datetime(2019-11-05), 1d, datetime(2019-11-02), lookback)
             | project to_Timestamp, dcount_retained_values, retention_rate | order by to_Timestamp asc"
        ),
        "to_Timestamp,dcount_retained_values,retention_rate\n\
         2019-11-02T00:00:00Z,1,1\n\
         2019-11-03T00:00:00Z,0,0\n\
         2019-11-04T00:00:00Z,1,1\n\
         2019-11-05T00:00:00Z,1,1\n",
    )
    .await;
}

#[tokio::test]
async fn activity_metrics_counts_new_and_retained_ids_per_window() {
    // activity-metrics-plugin.md: retention is the share of the previous
    // window's ids seen again; the first window has none (NaN).
    check(
        &format!(
            "{USERS} Users | evaluate activity_metrics(user, Timestamp, datetime(2019-11-01), datetime(2019-11-03), 1d) | order by Timestamp asc"
        ),
        "Timestamp,dcount_values,dcount_newvalues,retention_rate,churn_rate\n\
         2019-11-01T00:00:00Z,4,4,NaN,NaN\n\
         2019-11-02T00:00:00Z,5,2,0.75,0.25\n\
         2019-11-03T00:00:00Z,4,0,0.6,0.4\n",
    )
    .await;
}

#[tokio::test]
async fn activity_engagement_is_the_inner_over_the_outer_window() {
    // Daily users over the users of the 2-day window ending that day.
    check(
        &format!(
            "{USERS} Users | evaluate activity_engagement(user, Timestamp, datetime(2019-11-01), datetime(2019-11-03), 1d, 2d) | order by Timestamp asc"
        ),
        "Timestamp,dcount_activities_inner,dcount_activities_outer,activity_ratio\n\
         2019-11-01T00:00:00Z,4,4,1\n\
         2019-11-02T00:00:00Z,5,6,0.8333333333333334\n\
         2019-11-03T00:00:00Z,4,6,0.6666666666666666\n",
    )
    .await;
}

#[tokio::test]
async fn session_count_counts_ids_with_a_session_in_each_bin() {
    // An id seen at 1 with a lookback of 2 keeps its session through bin 3.
    check(
        "datatable(Id:long, t:long)[1, 1, 2, 4, 1, 6] | evaluate session_count(Id, t, 0, 8, 1, 2) | order by t asc",
        "t,count_sessions\n1,1\n2,1\n3,1\n4,1\n5,1\n6,2\n7,1\n8,1\n",
    )
    .await;
}

#[tokio::test]
async fn narrow_turns_cells_into_rows() {
    // narrow-plugin.md: Row, Column and Value (as text).
    check(
        "datatable(a:long, b:string)[1, 'x', 2, 'y'] | evaluate narrow()",
        "Row,Column,Value\n0,a,1\n0,b,x\n1,a,2\n1,b,y\n",
    )
    .await;
}

#[tokio::test]
async fn preview_takes_the_first_rows() {
    check("range x from 1 to 10 step 1 | evaluate preview(3)", "x\n1\n2\n3\n").await;
}

#[tokio::test]
async fn ipv6_lookup_matches_addresses_to_ranges() {
    // ipv6-lookup-plugin.md: prefixes hold the addresses they cover.
    check(
        "let Ranges = datatable(network:string, name:string)['2001:db8::/32', 'doc', 'fe80::/10', 'link-local'];
         datatable(ip:string)['2001:db8::1', 'fe80::1', '::1'] | evaluate ipv6_lookup(Ranges, ip, network) | order by ip asc",
        "ip,network,name\n2001:db8::1,2001:db8::/32,doc\nfe80::1,fe80::/10,link-local\n",
    )
    .await;
    check(
        "let Ranges = datatable(network:string, name:string)['2001:db8::/32', 'doc'];
         datatable(ip:string)['2001:db8::1', '::1'] | evaluate ipv6_lookup(Ranges, ip, network, return_unmatched = true) | order by ip asc",
        "ip,network,name\n2001:db8::1,2001:db8::/32,doc\n::1,,\n",
    )
    .await;
}

#[tokio::test]
async fn bag_unpack_types_columns_by_their_values() {
    // bag-unpack-plugin.md, Returns: a slot's values of one type give that
    // type, of several types dynamic.
    check(
        r#"datatable(d:dynamic)[dynamic({"Name": "John", "Age": 20, "x": 1}), dynamic({"Name": "Dave", "Age": 40, "x": "one"})]
         | evaluate bag_unpack(d) | getschema | project ColumnName, ColumnType"#,
        "ColumnName,ColumnType\nAge,long\nName,string\nx,dynamic\n",
    )
    .await;
}

#[tokio::test]
async fn bag_unpack_output_schema_types_and_selects_columns() {
    // bag-unpack-plugin.md, "Expand a bag with OutputSchema".
    check(
        r#"datatable(d:dynamic, Description: string)[
            dynamic({"Name": "John", "Age":20, "height":180}), "Student",
            dynamic({"Name": "Dave", "Age":40, "height":160}), "Teacher"]
         | evaluate bag_unpack(d) : (*, Name:string, Age:long) | extend next = Age + 1"#,
        "Description,Name,Age,next\nStudent,John,20,21\nTeacher,Dave,40,41\n",
    )
    .await;
    check(
        r#"datatable(d:dynamic, e:string)[dynamic({"a": "1"}), "x"] | evaluate bag_unpack(d) : (a:string) | getschema | project ColumnName, ColumnType"#,
        "ColumnName,ColumnType\na,string\n",
    )
    .await;
}

#[tokio::test]
async fn plugins_that_need_a_service_say_why_they_cannot_run() {
    check_error("print x = 1 | evaluate python(typeof(*), 'result = df')", "cannot run in kqlite").await;
    check_error("print x = 1 | evaluate http_request('https://example.com')", "HTTP request").await;
    check_error("print x = 1 | evaluate sql_request('Server=x', 'select 1')", "SQL Server").await;
    check_error("print x = 1 | evaluate no_such_plugin()", "is not supported").await;
}

#[test]
fn supported_plugins_lists_what_evaluate_binds() {
    let plugins = kqlite_engine::binder::supported_plugins();
    for name in ["bag_unpack", "pivot", "activity_metrics", "rows_near", "narrow", "ipv6_lookup"] {
        assert!(plugins.contains(&name), "{name} missing from {plugins:?}");
    }
    assert!(!plugins.contains(&"python"));
    let mut sorted = plugins.clone();
    sorted.sort_unstable();
    assert_eq!(plugins, sorted);
}

/// Three ids' events: 1 goes A→B→C ten minutes apart, 2 goes B→C, 3 goes
/// A and, two hours later, B.
const FUNNEL_DATA: &str = r#"datatable(Id:long, T:datetime, S:string)[
    1, datetime(2020-01-01 00:00), "A", 1, datetime(2020-01-01 00:10), "B", 1, datetime(2020-01-01 00:20), "C",
    2, datetime(2020-01-01 00:00), "B", 2, datetime(2020-01-01 00:05), "C",
    3, datetime(2020-01-01 01:00), "A", 3, datetime(2020-01-01 03:00), "B"]"#;

#[tokio::test]
async fn funnel_sequence_counts_ids_by_the_states_around_the_sequence() {
    // funnel-sequence-plugin.md, table #1: prev and next are empty where no
    // event comes before or after the sequence.
    check_unordered(
        &format!(
            "{FUNNEL_DATA} | evaluate funnel_sequence(Id, T, datetime(2020-01-01), datetime(2020-01-02), 1h, 1d, S, dynamic(['B', 'C']))"
        ),
        "T,prev,next,dcount,samples\n2020-01-01T00:00:00Z,A,,1,[1]\n2020-01-01T00:00:00Z,,,1,[2]\n",
    )
    .await;
}

#[tokio::test]
async fn funnel_sequence_completion_counts_each_step_per_period() {
    // funnel-sequence-completion-plugin.md: the longer the period allowed
    // between steps, the more ids reach a step (id 3's B is 2 hours after A).
    check(
        &format!(
            "{FUNNEL_DATA} | evaluate funnel_sequence_completion(Id, T, datetime(2020-01-01), datetime(2020-01-02), 1d, S, dynamic(['A', 'B', 'C']), dynamic([1h, 4h]))"
        ),
        "T,S,Period,dcount\n\
         2020-01-01T00:00:00Z,A,01:00:00,2\n\
         2020-01-01T00:00:00Z,B,01:00:00,1\n\
         2020-01-01T00:00:00Z,C,01:00:00,1\n\
         2020-01-01T00:00:00Z,A,04:00:00,2\n\
         2020-01-01T00:00:00Z,B,04:00:00,2\n\
         2020-01-01T00:00:00Z,C,04:00:00,1\n",
    )
    .await;
}

#[tokio::test]
async fn diffpatterns_finds_what_tells_two_sets_apart() {
    // diffpatterns-plugin.md: rows split by Damage; Hail is 80% of the
    // undamaged rows and 20% of the damaged ones, Flood the reverse. State
    // is the same everywhere, so it is in both (closed) patterns.
    let data = r#"range i from 1 to 20 step 1
        | extend Damage = iff(i <= 10, 0, 1), EventType = iff(i <= 8 or i > 18, "Hail", "Flood"), State = "TX"
        | project State, EventType, Damage"#;
    check(
        &format!("{data} | evaluate diffpatterns(Damage, '0', '1')"),
        "SegmentId,CountA,CountB,PercentA,PercentB,PercentDiffAB,State,EventType\n\
         0,8,2,80,20,60,TX,Hail\n\
         1,2,8,20,80,60,TX,Flood\n",
    )
    .await;
    // A threshold above the difference leaves nothing; "~" keeps a default.
    check(
        &format!("{data} | evaluate diffpatterns(Damage, '0', '1', '~', 0.7)"),
        "SegmentId,CountA,CountB,PercentA,PercentB,PercentDiffAB,State,EventType\n",
    )
    .await;
}
