//! Engine bugs found by running the real Sentinel corpus (issue 14): each
//! test is the smallest query of the shape a real rule or hunting query has.

mod common;

use common::{check, check_error};
use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::output::{write, Format};
use kqlite_engine::{ColumnDef, KqlType, Session};
use std::sync::Arc;

/// A session with `Syslog(TimeGenerated:datetime, SyslogMessage:string)`
/// whose strings hold a null, so the table reads through a projection that
/// renames `Syslog.TimeGenerated` to `TimeGenerated`, as a Parquet store's do.
fn syslog_session() -> Session {
    let mut s = Session::with_partitions(1);
    let columns =
        vec![ColumnDef::new("TimeGenerated", KqlType::Datetime), ColumnDef::new("SyslogMessage", KqlType::String)];
    let time: ArrayRef = Arc::new(Int64Array::from(vec![0, 1]));
    let message: ArrayRef = Arc::new(StringArray::from(vec![Some("user=alice id=7"), None]));
    let batch = RecordBatch::try_new(kqlite_engine::types::arrow_schema(&columns), vec![time, message]).unwrap();
    s.register_batches("Syslog", columns, vec![batch]).unwrap();
    s
}

async fn csv(session: &Session, q: &str) -> String {
    let result = session.query(q).await.unwrap_or_else(|e| panic!("{q}: {}", e.render(q, "q")));
    let mut out = Vec::new();
    write(&result, Format::Csv, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// DataFusion's `push_down_leaf_projections` failed with "Schema contains
/// qualified field name "Syslog"."TimeGenerated" and unqualified field name
/// "TimeGenerated"" on `project` then `parse` (Base64_Download_Activity.yaml).
#[tokio::test]
async fn parse_after_project_of_a_renamed_table_column() {
    let q = r#"Syslog | project TimeGenerated, SyslogMessage | parse SyslogMessage with "user=" user:string " " * | project user"#;
    assert_eq!(csv(&syslog_session(), q).await, "user\nalice\n\n");
}

/// `table()` takes a constant string, not only a literal: a `let` name, and
/// a function's string parameter as the SigninLogs rules' `aadFunc` does.
#[tokio::test]
async fn table_named_by_a_let_or_a_parameter() {
    let s = syslog_session();
    let q = r#"let t = "Syslog"; table(t) | count"#;
    assert_eq!(csv(&s, q).await, "Count\n2\n");
    let q = r#"let f = (tableName:string) { table(tableName) | count }; f("Syslog")"#;
    assert_eq!(csv(&s, q).await, "Count\n2\n");
    check_error(r#"let n = 1; table(n)"#, "table() needs the table name as a constant string").await;
}

/// Obsolete names Microsoft's front end still accepts (`oracle --functions`).
#[tokio::test]
async fn deprecated_function_names() {
    check(
        r#"print a = base64_decodestring("aGk="), b = base64_encodestring("hi"), c = totime("1d"), d = parseurl("http://h/p").Host, e = extractall("(a)", "aa"), f = to_utf8("A"), g = pack_dictionary("k", 1)"#,
        "a,b,c,d,e,f,g\nhi,aGk=,1.00:00:00,h,\"[\"\"a\"\",\"\"a\"\"]\",[65],\"{\"\"k\"\":1}\"\n",
    )
    .await;
    check(r#"print x = 1 | summarize make_dictionary(pack("a", x))"#, "dictionary_\n\"{\"\"a\"\":1}\"\n").await;
}

/// `in~` compares a dynamic value as text: `make_set(RequestMethod) in~
/// ("POST")` failed with "Function 'lower' requires String, but received
/// Binary" (Zscaler-LowVolumeDomainRequests.yaml).
#[tokio::test]
async fn case_insensitive_in_over_a_dynamic_value() {
    check(
        r#"print d = dynamic("POST"), s = dynamic(["POST"]) | project a = d in~ ("post"), b = d !in~ ("post"), c = s in~ ("post")"#,
        "a,b,c\ntrue,false,false\n",
    )
    .await;
}

/// Microsoft's binder takes any scalar for a typed parameter and types it
/// as declared: a datetime for `startTimeSpan:timespan` (an AuditLogs hunt).
#[tokio::test]
async fn function_argument_converted_to_the_parameter_type() {
    check(r#"let f = (t:timespan) { print x = t }; f(1d)"#, "x\n1.00:00:00\n").await;
    check(r#"let f = (n:long) { print x = n + 1 }; f("41")"#, "x\n42\n").await;
    check(r#"let f = (startTimeSpan:timespan) { print x = 1 }; f(datetime(2020-01-01))"#, "x\n1\n").await;
}

/// The same failure with a filter over `parse`'s columns, on a table whose
/// string columns read through `coalesce(Syslog.X, "") AS X`
/// (CryptoCurrencyMiners.yaml).
#[tokio::test]
async fn filter_over_parsed_columns() {
    let q = r#"Syslog | parse SyslogMessage with "user=" user:string " " * | where user == "alice" | parse-where SyslogMessage with * "id=" id:long | project user, id"#;
    assert_eq!(csv(&syslog_session(), q).await, "user,id\nalice,7\n");
}

/// A function whose body ends with a table it `let`-binds is tabular:
/// `aadFunc` in AAD_PAVPN_Correlation.yaml was taken for a scalar ("'s' is a
/// table; use toscalar(s)").
#[tokio::test]
async fn function_returning_its_own_let_bound_table() {
    let s = syslog_session();
    let q = r#"let f = (tableName:string) { let rows = table(tableName) | summarize make_set(SyslogMessage); rows }; let a = f("Syslog"); a | count"#;
    assert_eq!(csv(&s, q).await, "Count\n1\n");
    let q = r#"let f = () { let rows = Syslog | count; rows }; f()"#;
    assert_eq!(csv(&s, q).await, "Count\n2\n");
}

/// A name-keeping function's named argument names its column, as
/// Microsoft's binder names `round(FailureRate = x)` `FailureRate`
/// (LoginSpikeWithIncreaseFailureRate.yaml); others stay `Column1`.
#[tokio::test]
async fn named_argument_names_the_column() {
    check(
        r#"print Failed = 1, Total = 4 | project round(FailureRate = toreal(Failed) / toreal(Total) * 100), strcat(a = "x"), Failed | where FailureRate > 1"#,
        "FailureRate,Column1,Failed\n25,x,1\n",
    )
    .await;
}

/// `series_decompose` and `series_decompose_forecast` give the four columns
/// Microsoft's binder names (`series_decompose_x_baseline`, …; a name given
/// names the first).
#[tokio::test]
async fn series_decompose_columns() {
    check(
        r#"print x = dynamic([1, 2, 3]) | extend series_decompose(x, 0) | project-away x"#,
        "series_decompose_x_baseline,series_decompose_x_seasonal,series_decompose_x_trend,series_decompose_x_residual\n\
         \"[2,2,2]\",\"[0,0,0]\",\"[2,2,2]\",\"[-1,0,1]\"\n",
    )
    .await;
    check(
        r#"print x = dynamic([1, 3, 5, 0]) | project f = series_decompose_forecast(x, 1, 0, "linefit")"#,
        "f,series_decompose_forecast_x_seasonal,series_decompose_forecast_x_trend,series_decompose_forecast_x_residual\n\
         \"[1,3,5,7]\",\"[0,0,0,0]\",\"[1,3,5,7]\",\"[0,0,0,-7]\"\n",
    )
    .await;
}

/// `sequence_detect`: the reference's StormEvents example in small (a heat
/// event followed within the windows by each of two wildfires is two
/// sequences), with Microsoft's binder's columns.
#[tokio::test]
async fn sequence_detect_plugin() {
    let q = r#"datatable(StartTime:datetime, EventType:string, State:string)[
        datetime(2007-05-08), "Excessive Heat", "CALIFORNIA",
        datetime(2007-05-08 16:02), "Wildfire", "CALIFORNIA",
        datetime(2007-05-10 11:30), "Wildfire", "CALIFORNIA",
        datetime(2007-05-20), "Wildfire", "CALIFORNIA",
        datetime(2007-05-09), "Wildfire", "TEXAS"]
    | evaluate sequence_detect(StartTime, 5d, 5d, heat=(EventType == "Excessive Heat"), wildfire=(EventType == 'Wildfire'), State)
    | order by wildfire_StartTime asc"#;
    check(
        q,
        "State,heat_StartTime,wildfire_StartTime,Duration\n\
         CALIFORNIA,2007-05-08T00:00:00Z,2007-05-08T16:02:00Z,16:02:00\n\
         CALIFORNIA,2007-05-08T00:00:00Z,2007-05-10T11:30:00Z,2.11:30:00\n",
    )
    .await;
    check_error("print t = now() | evaluate sequence_detect(t, 1h, 1h)", "at least one boolean step").await;
}

/// `autocluster`: the reference's example shape (State, EventType, Damage;
/// SizeWeight 0.6) summarised by a few patterns, open columns empty, with
/// `basket`'s columns.
#[tokio::test]
async fn autocluster_plugin() {
    let q = r#"range i from 0 to 99 step 1
    | extend State = case(i < 60, strcat("S", i % 6), i < 90, "TEXAS", strcat("X", i)),
             EventType = case(i < 60, "Hail", i < 90, "Flood", strcat("E", i)),
             Damage = case(i < 60, "NO", i < 90, "YES", strcat("D", i))
    | project State, EventType, Damage
    | evaluate autocluster(0.6)"#;
    check(
        q,
        "SegmentId,Count,Percent,State,EventType,Damage\n\
         0,60,60,,Hail,NO\n\
         1,30,30,TEXAS,Flood,YES\n",
    )
    .await;
    check_error("print a = 1 | evaluate autocluster(2)", "between 0 and 1").await;
}

/// `in (T)` outside `where`: DataFusion plans an `IN` subquery only in a
/// filter, and failed with "Physical plan does not support logical
/// expression InSubquery" in `extend` (`iff(ip in (IPList), …)`,
/// Log4J_IPIOC_Dec112021.yaml; `case(…)`, ChiaCryptoMining.yaml), in
/// `summarize` and in `sort`.
#[tokio::test]
async fn in_tabular_outside_a_filter() {
    let t = r#"let iocs = datatable(ip:string) ["1.1.1.1", "2.2.2.2"];
let T = datatable(src:string, dst:string) ["1.1.1.1", "9.9.9.9", "8.8.8.8", "2.2.2.2", "7.7.7.7", "6.6.6.6"];"#;
    check(
        &format!(
            "{t} T | extend m = case(src in (iocs), \"src\", dst in (iocs), \"dst\", \"none\"), n = dst !in (iocs) | project src, m, n"
        ),
        "src,m,n\n1.1.1.1,src,true\n8.8.8.8,dst,false\n7.7.7.7,none,true\n",
    )
    .await;
    check(
        &format!(
            "{t} T | where src in (iocs) or dst in (iocs) | extend ip = iff(src in (iocs), src, dst) | project ip"
        ),
        "ip\n1.1.1.1\n2.2.2.2\n",
    )
    .await;
    check(&format!("{t} T | summarize hits = countif(src in~ (iocs) or dst in (iocs))"), "hits\n2\n").await;
    check(&format!("{t} T | sort by src in (iocs) desc, src asc | project src"), "src\n1.1.1.1\n7.7.7.7\n8.8.8.8\n")
        .await;
}

/// `row_number(start, restart)`: the restart condition may read `prev()`
/// (TimeSeriesAnomaly-MultiVendor_DataExfiltration.yaml ranks rows per hour
/// with `row_number(1, prev(Hour) != Hour)`; kqlite read only the start and
/// bound the restart without a row order).
#[tokio::test]
async fn row_number_restarting_on_a_prev_condition() {
    check(
        "datatable(h:long, b:long)[1,5, 2,1, 1,3, 2,7, 2,0] | sort by h asc, b desc | extend r = row_number(1, prev(h) != h), z = row_number(0, b == 1) | project h, b, r, z",
        "h,b,r,z\n1,5,1,0\n1,3,2,1\n2,7,1,2\n2,1,2,0\n2,0,3,1\n",
    )
    .await;
}

/// A window whose restart condition reads `prev()` over a nullable column
/// (a Parquet store's): DataFusion's common-subexpression pass moved
/// `prev(h) IS NULL` below the window computing `prev(h)` ("No field named
/// __win0_0"; TimeSeriesAnomaly-MultiVendor_DataExfiltration.yaml).
#[tokio::test]
async fn restart_condition_on_prev_of_a_nullable_column() {
    let s = syslog_session();
    let q = "Syslog | extend h = bin(TimeGenerated, 1d) | sort by TimeGenerated asc | extend n = row_number(1, prev(h) != h), r = row_rank_dense(h, prev(h) != h) | project n, r";
    assert_eq!(csv(&s, q).await, "n,r\n1,1\n2,1\n");
}

/// A single-column table given for a `dynamic` parameter is its values as
/// an array, as Microsoft's binder takes it (NOBELIUM_IOCsMay2021.yaml calls
/// `_Im_WebSession(url_has_any=domains)` with `let domains = (iocs | project
/// IoC)`); kqlite said "'d' is a table; use toscalar(d)".
#[tokio::test]
async fn single_column_table_for_a_dynamic_parameter() {
    let f = "let f = (x:dynamic) { print y = array_length(x), z = tostring(x) };";
    let d = r#"let d = datatable(x:string)["a", "b"];"#;
    check(&format!("{f} {d} f(d)"), "y,z\n2,\"[\"\"a\"\",\"\"b\"\"]\"\n").await;
    check(&format!("{f} {d} f(x = (d | where x == 'b'))"), "y,z\n1,\"[\"\"b\"\"]\"\n").await;
    check_error(&format!("{f} f(datatable(a:long, b:long)[1, 2])"), "must have one column, not 2").await;
    // A stored function (Log Analytics' `_Im_WebSession`) takes it too.
    let mut s = syslog_session();
    s.define_functions("let g = (terms:dynamic) { Syslog | where SyslogMessage has_any (terms) | count };").unwrap();
    assert_eq!(csv(&s, r#"let t = datatable(IoC:string)["alice"]; g(t)"#).await, "Count\n1\n");
}

/// `pack_all([ignore_null_empty])`: a bag of the row's columns
/// (Potential_IIS_CodeInject.yaml); with `true`, null and empty values are
/// left out.
#[tokio::test]
async fn pack_all_of_the_row() {
    let t = r#"datatable(a:long, b:string, c:dynamic)[1, "", dynamic(null), long(null), "x", dynamic([1])]"#;
    check(
        &format!("{t} | project p = pack_all()"),
        "p\n\"{\"\"a\"\":1,\"\"b\"\":\"\"\"\",\"\"c\"\":null}\"\n\"{\"\"a\"\":null,\"\"b\"\":\"\"x\"\",\"\"c\"\":[1]}\"\n",
    )
    .await;
    check(
        &format!("{t} | project p = pack_all(true)"),
        "p\n\"{\"\"a\"\":1}\"\n\"{\"\"b\"\":\"\"x\"\",\"\"c\"\":[1]}\"\n",
    )
    .await;
    check_error(&format!("{t} | project p = pack_all(1)"), "ignore_null_empty must be a constant bool").await;
}

/// `basket(0.01)`: below the documented 0.015, which Microsoft's binder
/// accepts and Microsoft's own InsiderRiskyAccessByApplication.yaml uses.
#[tokio::test]
async fn basket_threshold_below_the_documented_range() {
    check(
        "datatable(A:string)['x', 'x', 'y'] | evaluate basket(0.01)",
        "SegmentId,Count,Percent,A\n0,2,66.66666666666667,x\n1,1,33.333333333333336,y\n",
    )
    .await;
    check_error("datatable(A:string)['x'] | evaluate basket(0.0)", "threshold must be between").await;
}

/// What Microsoft's binder accepts in Sentinel content and kqlite rejected:
/// `datetime / timespan` (real: the datetime's ticks since 0001-01-01 over
/// the timespan's, RareDNSLookupWithDataTransfer.yaml's `starttime / 1h`),
/// and text compared with a bool or a datetime (`tostring(…) == True`,
/// Microsoft Defender Anti virus Security Intelligence details.yaml).
/// `ago(datetime)` and `datetime > timespan`, which Microsoft's binder
/// rejects too (UserAccounts-BlockedAccounts.yaml, WireDataBeacon.yaml),
/// stay errors.
#[tokio::test]
async fn datetime_division_and_text_compared_with_bool() {
    check("print a = datetime(1970-01-01) / 1d, b = datetime(1970-01-01 12:00) / 1d", "a,b\n719162,719162.5\n").await;
    check(
        r#"print a = "true" == true, b = "False" != true, c = true == "x", d = "2024-01-01" == datetime(2024-01-01)"#,
        "a,b,c,d\ntrue,true,false,true\n",
    )
    .await;
    check_error("print a = ago(datetime(2024-01-01))", "must be timespan").await;
    check_error("print a = datetime(2024-01-01) > 1h", "cannot compare datetime with timespan").await;
}

/// ASIM's helper functions name the column to read by a parameter
/// (`_ASIM_ResolveDvcFQDN(T, field:string)` reads `column_ifexists(field, "")`):
/// the name is a constant once the call is bound, as in Kusto.
#[tokio::test]
async fn column_ifexists_named_by_a_parameter_or_let() {
    let session = Session::with_partitions(1);
    let q = r#"let Read = (T:(*), field:string) { T | project v = column_ifexists(field, "none") };
        let name = "b";
        datatable(a:string, b:string)["x", "y"]
        | invoke Read("a")
        | extend w = toscalar(datatable(b:string)["z"] | project column_ifexists(name, "")), u = toscalar(print 1 | invoke Read("missing"))"#;
    assert_eq!(csv(&session, q).await, "v,w,u\nx,z,none\n");
    check_error(
        r#"datatable(a:string)["x"] | project column_ifexists(a, 1)"#,
        "the column name must be a constant string",
    )
    .await;
}

/// `datetime(now)` and `datetime()` are the query's now(), the instant
/// `now()` and `ago()` use (ESXiDormantVMStarted.yaml, ESXiUnusedVMs.yaml:
/// `datetime_diff('day', datetime(now), LastPowerOffTime)`).
#[tokio::test]
async fn datetime_now_literal_is_the_query_now() {
    check(
        "print same = datetime(now) == now(), empty = datetime() == now(), d = datetime(now) - ago(1d)",
        "same,empty,d\ntrue,true,1.00:00:00\n",
    )
    .await;
}

/// `make_datetime(x)` with one argument converts it as todatetime() does
/// (ESETPROTECT.txt: `make_datetime(Message['occured'])`); two arguments
/// stay an error, as in Kusto.
#[tokio::test]
async fn make_datetime_of_one_value() {
    check(
        r#"print a = make_datetime(dynamic("2021-03-04T05:06:07Z")), b = make_datetime("2021-03-04")"#,
        "a,b\n2021-03-04T05:06:07Z,2021-03-04T00:00:00Z\n",
    )
    .await;
    check_error("print make_datetime(2021, 3)", "takes 1 or 3 to 6 arguments").await;
}

/// 20 steps of `extend arr = iff(c, array_concat(arr, …), arr)` then a
/// `where` on `arr` (Potential_IIS_CodeInject.yaml has 14): the filter was
/// inlined through each step, by `push_down_filter` and by
/// `eliminate_outer_join`'s search for a join, doubling its expression per
/// step; 14 steps never finished, 20 would take hours.
#[tokio::test]
async fn filter_after_many_self_referencing_extends() {
    let mut q = String::from("range i from 1 to 30 step 1 | extend s = tostring(i) | extend arr = dynamic([])\n");
    for k in 0..20 {
        q += &format!("| extend arr = iff(s contains '{k}', array_concat(arr, pack_array('m{k}')), arr)\n");
    }
    q += "| where array_length(arr) > 2 | project i, n = array_length(arr)";
    // 10 and 12 to 19 contain three of the needles (1, 0 and 10; 1, 2 and
    // 12; …); 11 only two (1, 11), 20 and up are not needles themselves.
    let expected = "i,n\n10,3\n12,3\n13,3\n14,3\n15,3\n16,3\n17,3\n18,3\n19,3\n";
    assert_eq!(csv(&Session::with_partitions(1), &q).await, expected);
}

/// Guarding `eliminate_outer_join` against long projection chains keeps it
/// where it applies: a `where` on the right side of a leftouter join, through
/// an `extend`, still gives Kusto's rows.
#[tokio::test]
async fn filter_on_the_right_of_a_leftouter_join_through_an_extend() {
    let q = r#"datatable(k:long, a:string)[1, "x", 2, "y"]
        | join kind=leftouter (datatable(k:long, b:string)[1, "p"]) on k
        | extend c = strcat(b, "!")
        | where c == "p!"
        | project k, a, c"#;
    assert_eq!(csv(&Session::with_partitions(1), q).await, "k,a,c\n1,x,p!\n");
}

/// Unnamed `format_datetime(T, …)`, `format_timespan(S, …)`, `split(s, …)`
/// and `parse_xml(s)` keep their argument's name, as Microsoft's binder
/// names them (`summarize … by format_datetime(Timestamp, 'y-M-d')` is read
/// back as `Timestamp`; Anomaly of MailItemAccess by GraphAPI [Nobelium].yaml).
#[tokio::test]
async fn format_and_split_keep_their_argument_name() {
    check(
        r#"datatable(T:datetime, S:timespan, a:string)[datetime(2020-01-02), 1h, "x,y"]
        | summarize n = count() by format_datetime(T, 'y-M-d'), format_timespan(S, 'h'), split(a, ",")
        | project T, S, a, n"#,
        "T,S,a,n\n20-1-2,1,\"[\"\"x\"\",\"\"y\"\"]\",1\n",
    )
    .await;
}

/// A function that calls itself, directly or through another, is an error
/// at the call: binding it aborted the process with a stack overflow.
#[tokio::test]
async fn recursive_functions_are_an_error_not_a_crash() {
    check_error("let f = (n:long) { f(n - 1) }; print f(1)", "Kusto does not allow recursive functions").await;
    check_error("let T = () { T | take 1 }; T", "Kusto does not allow recursive functions").await;
    check_error("let a = () { b() }; let b = () { a() }; print a()", "Kusto does not allow recursive functions").await;
    // Deep but finite nesting still binds.
    check("let f1 = (x:long) { x + 1 }; let f2 = (x:long) { f1(f1(x)) }; let f3 = (x:long) { f2(f2(x)) }; print r = f3(0)", "r\n4\n")
        .await;
}

/// `parse kind=regex`: `*` and untyped columns are greedy, so `flags=U`
/// makes them lazy (the reference's `parse kind=regex flags=Ui` example
/// takes `resourceName` up to the first comma); kqlite had it backwards.
#[tokio::test]
async fn parse_regex_is_greedy_unless_flags_u() {
    check(
        r#"print t = "Event: X (resourceName=Pipe, totalSlices=27, n=2)"
        | parse kind=regex flags=Ui t with * "RESOURCENAME=" lazy "," *
        | parse kind=regex t with * "resourceName=" greedy "," *
        | project lazy, greedy"#,
        "lazy,greedy\nPipe,\"Pipe, totalSlices=27\"\n",
    )
    .await;
}

/// `datetime % timespan` (rejected before; issue 19): the datetime's ticks
/// since 0001-01-01, a Monday at midnight, modulo the timespan, so `% 1d`
/// is the time of day and `% 7d` the time since Monday. Microsoft's binder
/// types it timespan.
#[tokio::test]
async fn datetime_modulo_timespan() {
    check(
        "print a = datetime(2020-01-01 10:30) % 1h, b = datetime(2020-01-01 10:30) % 1d, c = datetime(2024-05-01) % 7d, d = datetime(1969-12-31 23:00) % 1d",
        "a,b,c,d\n00:30:00,10:30:00,2.00:00:00,23:00:00\n",
    )
    .await;
}
