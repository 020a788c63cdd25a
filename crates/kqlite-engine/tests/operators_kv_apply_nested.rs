//! End-to-end tests of `parse-kv`, `mv-apply` and `top-nested`, mostly the
//! examples of their documentation pages.

mod common;

use common::{check, check_error, run};

/// The header, then the rows sorted (for operators whose row order is undefined).
async fn run_sorted(q: &str) -> String {
    let out = run(q).await;
    let mut lines = out.lines();
    let header = lines.next().unwrap_or_default().to_string();
    let mut rows: Vec<&str> = lines.collect();
    rows.sort();
    std::iter::once(header.as_str()).chain(rows).map(|l| format!("{l}\n")).collect()
}

async fn check_sorted(q: &str, expected: &str) {
    let mut lines = expected.lines();
    let header = lines.next().unwrap_or_default();
    let mut rows: Vec<&str> = lines.collect();
    rows.sort();
    let expected: String = std::iter::once(header).chain(rows).map(|l| format!("{l}\n")).collect();
    assert_eq!(run_sorted(q).await, expected, "query: {q}");
}

// ---------------------------------------------------------------------------
// parse-kv

#[tokio::test]
async fn parse_kv_delimiters() {
    check(
        r#"print str="ThreadId:458745723, Machine:Node001, Text: The service is up, Level: Info"
| parse-kv str as (Text: string, ThreadId:long, Machine: string) with (pair_delimiter=',', kv_delimiter=':')
| project-away str"#,
        "Text,ThreadId,Machine\nThe service is up,458745723,Node001\n",
    )
    .await;
}

#[tokio::test]
async fn parse_kv_quotes_and_escapes() {
    check(
        r#"print str='src=10.1.1.123 dst=10.1.1.124 bytes=125 failure="connection aborted" "event time"=2021-01-01T10:00:54'
| parse-kv str as (['event time']:datetime, src:string, dst:string, bytes:long, failure:string) with (pair_delimiter=' ', kv_delimiter='=', quote='"')
| project-away str"#,
        "event time,src,dst,bytes,failure\n2021-01-01T10:00:54Z,10.1.1.123,10.1.1.124,125,connection aborted\n",
    )
    .await;
    check(
        r#"print str='src=10.1.1.123 dst=10.1.1.124 bytes=125 failure=(connection aborted) (event time)=(2021-01-01 10:00:54)'
| parse-kv str as (['event time']:datetime, src:string, dst:string, bytes:long, failure:string) with (pair_delimiter=' ', kv_delimiter='=', quote='()')
| project-away str"#,
        "event time,src,dst,bytes,failure\n2021-01-01T10:00:54Z,10.1.1.123,10.1.1.124,125,connection aborted\n",
    )
    .await;
    check(
        r#"print str='src=10.1.1.123 dst=10.1.1.124 bytes=125 failure="the remote host sent \\"bye!\\"" time=2021-01-01T10:00:54'
| parse-kv str as (['time']:datetime, src:string, dst:string, bytes:long, failure:string) with (pair_delimiter=' ', kv_delimiter='=', quote='"', escape='\\')
| project-away str"#,
        "time,src,dst,bytes,failure\n2021-01-01T10:00:54Z,10.1.1.123,10.1.1.124,125,\"the remote host sent \"\"bye!\"\"\"\n",
    )
    .await;
}

#[tokio::test]
async fn parse_kv_greedy() {
    check(
        r#"print str='name=John Doe phone=555 5555 city=New York'
| parse-kv str as (name:string, phone:string, city:string) with (pair_delimiter=' ', kv_delimiter='=')
| project-away str"#,
        "name,phone,city\nJohn,555,New\n",
    )
    .await;
    check(
        r#"print str='name=John Doe phone=555 5555 city=New York'
| parse-kv str as (name:string, phone:string, city:string) with (pair_delimiter=' ', kv_delimiter='=', greedy=true)
| project-away str"#,
        "name,phone,city\nJohn Doe,555 5555,New York\n",
    )
    .await;
}

#[tokio::test]
async fn parse_kv_no_delimiters() {
    check(
        r#"print str="2021-01-01T10:00:34 [INFO] ThreadId:458745723, Machine:Node001, Text: Started"
| parse-kv str as (Text: string, ThreadId:long, Machine: string)
| project-away str"#,
        "Text,ThreadId,Machine\nStarted,458745723,Node001\n",
    )
    .await;
    check(
        r#"print str="2021-01-01T10:00:34 [INFO] ThreadId:458745723, Machine:Node001, Text: 'The service \\' is up'"
| parse-kv str as (Text: string, ThreadId:long, Machine: string) with (quote="'", escape='\\')
| project-away str"#,
        "Text,ThreadId,Machine\nThe service ' is up,458745723,Node001\n",
    )
    .await;
}

#[tokio::test]
async fn parse_kv_regex() {
    check(
        r#"print str=@'["referer url: https://hostname.com/redirect?dest=/?h=1234", "request url: https://hostname.com/?h=1234", "advertiser id: 24fefbca-cf27-4d62-a623-249c2ad30c73"]'
| parse-kv str as (['referer url']:string, ['request url']:string, ['advertiser id']: guid) with (regex=@'"([\w ]+)\s*:\s*([^"]*)"')
| project-away str"#,
        "referer url,request url,advertiser id\nhttps://hostname.com/redirect?dest=/?h=1234,https://hostname.com/?h=1234,24fefbca-cf27-4d62-a623-249c2ad30c73\n",
    )
    .await;
}

#[tokio::test]
async fn parse_kv_edges() {
    // Missing keys: empty strings, null numbers; the first appearance wins;
    // unparsable numbers are null; a null source extracts nothing.
    check(
        r#"datatable(s:string)["a=1,b=x,a=2", "", "c=3"]
| parse-kv s as (a:long, b:long, c:string, d:real) with (pair_delimiter=',', kv_delimiter='=')"#,
        "s,a,b,c,d\n\"a=1,b=x,a=2\",1,,,\n,,,,\nc=3,,,3,\n",
    )
    .await;
    // Types and names.
    check(
        r#"print s="x=1;y=2.5;z=true" | parse-kv s as (x:int, y:real, z:bool) with (pair_delimiter=';', kv_delimiter='=') | getschema | project ColumnName, ColumnType"#,
        "ColumnName,ColumnType\ns,string\nx,int\ny,real\nz,bool\n",
    )
    .await;
    check_error(r#"print s="a" | parse-kv s as (a:long) with (regex='(a)')"#, "two capturing groups").await;
    check_error(r#"print s="a" | parse-kv s as (a:long) with (pair_delimiter=',')"#, "kv_delimiter").await;
}

// ---------------------------------------------------------------------------
// mv-apply

#[tokio::test]
async fn mv_apply_take() {
    check(
        r#"let data = datatable (index: int, Arr: dynamic) [0, dynamic([7]), 1, dynamic([6, 11, 7])];
data | mv-apply Arr2=Arr to typeof(long) on (take 100)"#,
        "index,Arr,Arr2\n0,[7],7\n1,\"[6,11,7]\",6\n1,\"[6,11,7]\",11\n1,\"[6,11,7]\",7\n",
    )
    .await;
    check(
        r#"datatable (index: int, Arr: dynamic) [0, dynamic([7, 8, 9]), 1, dynamic([6, 11, 7])]
| mv-apply Arr2=Arr to typeof(long) on (take 2)"#,
        "index,Arr,Arr2\n0,\"[7,8,9]\",7\n0,\"[7,8,9]\",8\n1,\"[6,11,7]\",6\n1,\"[6,11,7]\",11\n",
    )
    .await;
}

#[tokio::test]
async fn mv_apply_top() {
    check(
        r#"let data = datatable (index: int, Arr: dynamic) [0, dynamic([1, 5, 3]), 1, dynamic([10, 2, 5, 7])];
data | mv-apply topElem=Arr to typeof(long) on (top 1 by topElem)"#,
        "index,Arr,topElem\n0,\"[1,5,3]\",5\n1,\"[10,2,5,7]\",10\n",
    )
    .await;
    check(
        r#"let data = datatable (index: int, Arr: dynamic) [0, dynamic([5, 1, 3]), 1, dynamic([4, 10, 8, 7])];
data | mv-apply Arr2=Arr to typeof(long) on (top 2 by Arr2 | summarize Top2=make_list(Arr2))"#,
        "index,Arr,Top2\n0,\"[5,1,3]\",\"[5,3]\"\n1,\"[4,10,8,7]\",\"[10,8]\"\n",
    )
    .await;
    check(
        r#"datatable (Val:int, Arr1:dynamic, Arr2:dynamic)
[ 1, dynamic(['A1', 'A2', 'A3']), dynamic([10, 30, 7]),
  7, dynamic(['B1', 'B2', 'B5']), dynamic([15, 11, 50]),
  3, dynamic(['C1', 'C2', 'C3', 'C4']), dynamic([6, 40, 20, 8])]
| mv-apply NewArr1=Arr1, NewArr2=Arr2 to typeof(long) on (
 top 2 by NewArr2
 | summarize NewArr1=make_list(NewArr1), NewArr2=make_list(NewArr2))"#,
        "Val,Arr1,Arr2,NewArr1,NewArr2\n1,\"[\"\"A1\"\",\"\"A2\"\",\"\"A3\"\"]\",\"[10,30,7]\",\"[\"\"A2\"\",\"\"A1\"\"]\",\"[30,10]\"\n7,\"[\"\"B1\"\",\"\"B2\"\",\"\"B5\"\"]\",\"[15,11,50]\",\"[\"\"B5\"\",\"\"B1\"\"]\",\"[50,15]\"\n3,\"[\"\"C1\"\",\"\"C2\"\",\"\"C3\"\",\"\"C4\"\"]\",\"[6,40,20,8]\",\"[\"\"C2\"\",\"\"C3\"\"]\",\"[40,20]\"\n",
    )
    .await;
}

#[tokio::test]
async fn mv_apply_itemindex_and_zip() {
    check(
        r#"let data = datatable (row: int, Arr: dynamic) [0, dynamic([5, 1, 3]), 1, dynamic([4, 10, 8, 7])];
data | mv-apply with_itemindex=index value=Arr to typeof(long) on (where index >= 2)"#,
        "row,Arr,value,index\n0,\"[5,1,3]\",3,2\n1,\"[4,10,8,7]\",8,2\n1,\"[4,10,8,7]\",7,3\n",
    )
    .await;
    check(
        r#"datatable (Val: int, Arr1: dynamic, Arr2: dynamic)
[1, dynamic(['A1', 'A2']), dynamic(['B1', 'B2', 'B3']), 5, dynamic(['C1', 'C2']), dynamic(['D1'])]
| mv-apply T1=Arr1, T2=Arr2 on (extend Out = strcat(T1, "_", T2) | summarize Out= make_list(Out))"#,
        "Val,Arr1,Arr2,Out\n1,\"[\"\"A1\"\",\"\"A2\"\"]\",\"[\"\"B1\"\",\"\"B2\"\",\"\"B3\"\"]\",\"[\"\"A1_B1\"\",\"\"A2_B2\"\",\"\"_B3\"\"]\"\n5,\"[\"\"C1\"\",\"\"C2\"\"]\",\"[\"\"D1\"\"]\",\"[\"\"C1_D1\"\",\"\"C2_\"\"]\"\n",
    )
    .await;
}

#[tokio::test]
async fn mv_apply_columns_and_operators() {
    // The expanded column replaces the input column of the same name and
    // moves to the end; outer columns dropped by the subquery come back.
    check(
        r#"datatable (s: string, Arr: dynamic, x: long) ["a", dynamic([1, 2]), 10, "", dynamic([3]), 20]
| mv-apply Arr to typeof(long) on (summarize total = sum(Arr), n = count())"#,
        "s,x,total,n\na,10,3,2\n,20,3,1\n",
    )
    .await;
    check(
        r#"datatable (s: string, Arr: dynamic) ["a", dynamic([1, 2, 3]), "b", dynamic([4])]
| mv-apply v = Arr to typeof(long) on (project v = v * 10, s2 = strcat(s, "!") | sort by v asc | take 2)"#,
        "s,Arr,v,s2\na,\"[1,2,3]\",10,a!\na,\"[1,2,3]\",20,a!\nb,[4],40,b!\n",
    )
    .await;
    check(
        r#"datatable (k: string, Arr: dynamic) ["a", dynamic([1, 1, 2]), "b", dynamic([])]
| mv-apply v = Arr to typeof(long) on (distinct v)"#,
        "k,Arr,v\na,\"[1,1,2]\",1\na,\"[1,1,2]\",2\n",
    )
    .await;
    check(
        r#"datatable (k: string, Arr: dynamic) ["a", dynamic([1, 1, 2]), "b", dynamic([5])]
| mv-apply v = Arr on (count)"#,
        "k,Arr,Count\na,\"[1,1,2]\",3\nb,[5],1\n",
    )
    .await;
    // The subquery sees the input's columns; its own value of a column wins.
    check(
        r#"datatable (k: long, Arr: dynamic) [1, dynamic([1, 5]), 2, dynamic([7])]
| mv-apply v = Arr to typeof(long) on (summarize k = sum(v) * 10)"#,
        "k,Arr\n60,\"[1,5]\"\n70,[7]\n",
    )
    .await;
    check(
        r#"datatable (Arr: dynamic) [dynamic([1, 2, 3, 4])] | mv-apply v = Arr to typeof(long) limit 2 on (summarize make_list(v))"#,
        "Arr,list_v\n\"[1,2,3,4]\",\"[1,2]\"\n",
    )
    .await;
    check(
        r#"datatable (d: dynamic) [dynamic({"a": "555-1", "b": "123"})]
| mv-apply p = d on (where tostring(p) !has "555" | summarize keep = make_list(p))"#,
        "d,keep\n\"{\"\"a\"\":\"\"555-1\"\",\"\"b\"\":\"\"123\"\"}\",\"[{\"\"b\"\":\"\"123\"\"}]\"\n",
    )
    .await;
    check_error(
        "datatable (Arr: dynamic) [dynamic([1])] | mv-apply v = Arr on (join (datatable(v: long)[1]) on v)",
        "not supported inside mv-apply",
    )
    .await;
}

// ---------------------------------------------------------------------------
// top-nested

const SALES: &str = r#"datatable (State: string, EventType: string, Damage: long)
[
 "TX", "Hail", 10, "TX", "Hail", 5, "TX", "Wind", 7, "TX", "Flood", 1,
 "KS", "Hail", 3, "KS", "Flood", 20, "KS", "Wind", 2,
 "OK", "Wind", 4, "OK", "Hail", 1,
 "NE", "Flood", 2
]"#;

#[tokio::test]
async fn top_nested_levels() {
    check(
        &format!("{SALES} | top-nested 2 of State by sum(Damage), top-nested 2 of EventType by sum(Damage)"),
        "State,aggregated_State,EventType,aggregated_EventType\nKS,25,Flood,20\nKS,25,Hail,3\nTX,23,Hail,15\nTX,23,Wind,7\n",
    )
    .await;
    check(
        &format!(
            "{SALES} | top-nested 1 of State by Total = sum(Damage) asc, top-nested of Kind = EventType by n = count() | project-away Total"
        ),
        "State,Kind,n\nNE,Flood,1\n",
    )
    .await;
    check(
        &format!("{SALES} | top-nested 3 of State by count(), top-nested 1 of State by max(Damage) | getschema | project ColumnName, ColumnType"),
        "ColumnName,ColumnType\nState,string\naggregated_State,long\nState1,string\naggregated_State1,long\n",
    )
    .await;
}

#[tokio::test]
async fn top_nested_with_others() {
    check_sorted(
        &format!(
            r#"{SALES} | top-nested 2 of State with others = "Other States" by sum(Damage),
               top-nested 1 of EventType with others = "Other Events" by sum(Damage)"#
        ),
        "State,aggregated_State,EventType,aggregated_EventType
KS,25,Flood,20
TX,23,Hail,15
KS,25,Other Events,5
TX,23,Other Events,8
Other States,7,Other Events,7",
    )
    .await;
    // Only the deeper level has others: the upper level's bucket shows empty values.
    check_sorted(
        &format!(
            r#"{SALES} | top-nested 1 of State by sum(Damage),
               top-nested 1 of EventType with others = "rest" by sum(Damage)"#
        ),
        "State,aggregated_State,EventType,aggregated_EventType
KS,25,Flood,20
KS,25,rest,5
,,rest,30",
    )
    .await;
}

#[tokio::test]
async fn top_nested_docs_latest_records() {
    check_sorted(
        r#"datatable(id: string, timestamp: datetime, otherInformation: string)
[
    "Barak", datetime(2015-01-01), "1",
    "Barak", datetime(2016-01-01), "2",
    "Barak", datetime(2017-01-20), "3",
    "Donald", datetime(2017-01-20), "4",
    "Donald", datetime(2017-01-18), "5",
    "Donald", datetime(2017-01-19), "6"
]
| top-nested of id by Ignore0=max(1),
  top-nested 2 of timestamp by Ignore1=max(timestamp),
  top-nested of otherInformation by Ignore2=max(1)
| project-away Ignore0, Ignore1, Ignore2"#,
        "id,timestamp,otherInformation
Barak,2016-01-01T00:00:00Z,2
Donald,2017-01-19T00:00:00Z,6
Barak,2017-01-20T00:00:00Z,3
Donald,2017-01-20T00:00:00Z,4",
    )
    .await;
    check_error(&format!("{SALES} | top-nested 2 of State by Damage"), "aggregation").await;
}

/// mv-expand of null and of empty values, as the KQL reference's mv-expand
/// page says: "If the dynamic value is null, a single record is produced
/// for that value (null). If the dynamic value is an empty array or property
/// bag, no record is produced for that value." With several columns the row
/// count is the largest expansion, missing values are null.
#[tokio::test]
async fn mv_expand_null_and_empty() {
    check(
        "datatable(a:long, d:dynamic)[1, dynamic(null), 2, dynamic([]), 3, dynamic([7,8]), 4, dynamic({})] | mv-expand d | extend n = isnull(d)",
        "a,d,n\n1,,true\n3,7,false\n3,8,false\n",
    )
    .await;
    check("print a = 1, d = dynamic(null) | mv-expand d to typeof(long) | extend n = isnull(d)", "a,d,n\n1,,true\n")
        .await;
    check(
        "datatable(a:long, d:dynamic, e:dynamic)[1, dynamic(null), dynamic([5, 6]), 2, dynamic([]), dynamic(null)] | mv-expand d, e",
        "a,d,e\n1,,5\n1,,6\n2,,\n",
    )
    .await;
}

/// `with_itemindex=Index` adds the 0-based position of each element in the
/// expanded collection, after the other columns (the mv-expand reference's
/// example: `range x from 1 to 4 step 1 | summarize x = make_list(x) |
/// mv-expand with_itemindex=Index x`). With several columns the positions
/// run as long as the longest.
#[tokio::test]
async fn mv_expand_with_itemindex() {
    check(
        "range x from 1 to 4 step 1 | summarize x = make_list(x) | mv-expand with_itemindex=Index x",
        "x,Index\n1,0\n2,1\n3,2\n4,3\n",
    )
    .await;
    check(
        "print a = dynamic(['p', 'q', 'r']), b = dynamic([10]) | mv-expand with_itemindex=i a, b",
        "a,b,i\np,10,0\nq,,1\nr,,2\n",
    )
    .await;
}

/// `range` with a real bound or step makes a real column, and a step that
/// goes away from the end makes no rows (the range operator reference; the
/// column types are Microsoft's binder's: `range x from 1 to 3 step 0.5`
/// is real, `range x from 10 to 1 step 1` is long).
#[tokio::test]
async fn range_with_real_bounds_and_backward_steps() {
    check("range x from 1.0 to 3.0 step 0.5", "x\n1\n1.5\n2\n2.5\n3\n").await;
    check("range x from 1 to 3 step 0.75 | extend t = gettype(x)", "x,t\n1,real\n1.75,real\n2.5,real\n").await;
    check("range x from 3.0 to 1 step -1", "x\n3\n2\n1\n").await;
    check("range x from 10 to 1 step 1 | count", "Count\n0\n").await;
    check("range x from 1.0 to 0.5 step 0.1 | count", "Count\n0\n").await;
    check_error("range x from 1 to 10 step 0", "range step must be non-zero").await;
}
