//! Aggregations (statistics, percentiles, hll, take_anyif, …) and the
//! dynamic array/bag functions, end to end. Expected values come from the
//! Kusto documentation's examples where they exist.

mod common;

use common::{check_error, check_partitioned as check};

#[tokio::test]
async fn statistics() {
    check(
        "range x from 1 to 5 step 1 | summarize make_list(x), stdev(x)",
        "list_x,stdev_x\n\"[1,2,3,4,5]\",1.5811388300841898",
    )
    .await;
    check("range x from 1 to 100 step 1 | summarize stdevif(x, x % 2 == 0)", "stdevif_x\n29.154759474226502").await;
    check("range x from 1 to 5 step 1 | summarize stdevp(x)", "stdevp_x\n1.4142135623730951").await;
    check("range x from 1 to 5 step 1 | summarize make_list(x), variance(x)", "list_x,variance_x\n\"[1,2,3,4,5]\",2.5")
        .await;
    check("range x from 1 to 100 step 1 | summarize varianceif(x, x%2 == 0)", "varianceif_x\n850").await;
    check("range x from 1 to 5 step 1 | summarize v = variancep(x)", "v\n2").await;
    check(
        "datatable(x:real, y:real) [1.0, 14.0, 2.0, 10.0, 3.0, 17.0, 4.0, 20.0, 5.0, 50.0] | summarize c = covariance(x, y)",
        "c\n20.5",
    )
    .await;
    check(
        "range x from 1 to 100 step 1 | extend y = iff(x % 2 == 0, x * 2, x * 3) | summarize c = covarianceif(x, y, x % 3 == 0)",
        "c\n2142",
    )
    .await;
    // One value: the sample statistics are 0, not null.
    check("print x = 7 | summarize s = stdev(x), v = variance(x)", "s,v\n0,0").await;
    // Timespans count in ticks.
    check("datatable(t:timespan)[1tick, 3tick] | summarize v = variance(t)", "v\n2").await;
    check_error("datatable(s:string)['a'] | summarize stdev(s)", "argument 1 of stdev()").await;
}

#[tokio::test]
async fn empty_input_defaults() {
    // Kusto's defaults without rows: 0 for counts, sums and the sample
    // statistics, [] for lists and sets, NaN for avg, null for the others.
    check(
        "datatable(x:long)[] | summarize any_x=take_any(x), a=avg(x), mx=max(x), mn=min(x), p=percentile(x, 55), h=hll(x), sd=stdev(x), s=sum(x), si=sumif(x, x > 0), v=variance(x)",
        "any_x,a,mx,mn,p,h,sd,s,si,v\n,NaN,,,,,0,0,0,0",
    )
    .await;
    check(
        "datatable(x:long)[] | summarize count(x), countif(x > 0), dcount(x), dcountif(x, x > 0), count_distinct(x)",
        "count_x,countif_,dcount_x,dcountif_x,count_distinct_x\n0,0,0,0,0",
    )
    .await;
    check("datatable(x:long)[] | summarize make_set(x), make_list(x)", "set_x,list_x\n[],[]").await;
    check(
        "datatable(x:long)[1, 2] | where x > 5 | summarize c = countif(x > 5), s = sum(x), t = sum(totimespan(x)), a = avg(x)",
        "c,s,t,a\n0,0,00:00:00,NaN",
    )
    .await;
    // Nulls are ignored.
    check(
        "range x from 1 to 4 step 1 | extend y = iff(x == 1, real(null), real(5)) | summarize sum(y), avg(y)",
        "sum_y,avg_y\n15,5",
    )
    .await;
    check(
        "let T = datatable(name:string, day_of_birth:long) ['John', 9, 'Paul', 18, 'George', 25, 'Ringo', 7]; T | summarize countif(strlen(name) > 4)",
        "countif_\n2",
    )
    .await;
}

#[tokio::test]
async fn typed_aggregates() {
    check(
        "datatable(t:timespan, d:datetime, s:string)[1s, datetime(2020-01-01), 'b', 3s, datetime(2020-01-03), 'a'] | summarize st = sum(t), at = avg(t), ad = avg(d), mns = min(s), mxs = max(s), mnd = min(d), mxd = max(d)",
        "st,at,ad,mns,mxs,mnd,mxd\n00:00:04,00:00:02,2020-01-02T00:00:00Z,a,b,2020-01-01T00:00:00Z,2020-01-03T00:00:00Z",
    )
    .await;
    // The average of datetimes is exact to the nanosecond.
    check(
        "datatable(d:datetime)[datetime(2020-01-01 00:00:00.0000001), datetime(2020-01-01 00:00:00.0000003)] | summarize a = avg(d)",
        "a\n2020-01-01T00:00:00.0000002Z",
    )
    .await;
    check("datatable(x:int)[1, 2] | summarize a = avg(x), s = sum(x)", "a,s\n1.5,3").await;
    check(
        "datatable(x:long, s:string)[1, '', 2, 'b', 3, 'c', 4, ''] | summarize t = take_anyif(s, x == 3), n = take_anyif(s, x > 9), c = count_distinct(s), ci = count_distinctif(x % 2, x > 1)",
        "t,n,c,ci\nc,,3,2",
    )
    .await;
    check("datatable(x:long)[5, 5, 7] | summarize a = take_any(x), b = anyif(x, x > 6)", "a,b\n5,7").await;
    // An empty string is Kusto's null string: another value is preferred.
    check("datatable(s:string)['', 'x', ''] | summarize a = take_any(s)", "a\nx").await;
    check_error("datatable(d:dynamic)[dynamic(1)] | summarize count_distinct(d)", "count_distinct()").await;
}

#[tokio::test]
async fn percentiles() {
    // Nearest rank: the smallest value with at least p% of values at or below it.
    check(
        "range x from 1 to 100 step 1 | summarize p5 = percentile(x, 5), p50 = percentile(x, 50), p99 = percentile(x, 99), p0 = percentile(x, 0), p100 = percentile(x, 100), p = percentiles(x, 25)",
        "p5,p50,p99,p0,p100,p\n5,50,99,1,100,25",
    )
    .await;
    check(
        "range x from 1 to 100 step 1 | summarize a = percentiles_array(x, 5, 50.5, 95), b = percentiles_array(x, dynamic([10, 90]))",
        "a,b\n\"[5,51,95]\",\"[10,90]\"",
    )
    .await;
    // The docs' clipped average (invoke operator page).
    check(
        "let T = range x from 1 to 100 step 1; let high = toscalar(T | summarize percentiles(x, 99)); let low = toscalar(T | summarize percentiles(x, 5)); T | where x > low and x < high | summarize avg(x)",
        "avg_x\n52",
    )
    .await;
    // percentilesw docs example.
    let latency =
        "let latencyTable = datatable (ReqCount:long, LatencyBucket:long) [8, 10, 6, 20, 3, 30, 1, 40]; latencyTable";
    check(
        &format!("{latency} | summarize a = percentilesw_array(LatencyBucket, ReqCount, 50, 75, 99.9), p = percentilew(LatencyBucket, ReqCount, 75), q = percentilesw(LatencyBucket, ReqCount, 99.9)"),
        "a,p,q\n\"[20,20,40]\",20,40",
    )
    .await;
    // Result types follow the input: datetime, timespan, string, bool, real.
    // Datetimes inside a dynamic array print with seven fraction digits, as
    // every datetime in a dynamic value does in the KQL reference's examples.
    check(
        "datatable(t:timespan, d:datetime, s:string, b:bool, r:real)[1s, datetime(2020-01-01), 'b', true, 1.5, 3s, datetime(2020-01-03), 'a', false, 0.5, 2s, datetime(2020-01-02), 'c', true, 2.5] | summarize pt = percentile(t, 50), pd = percentile(d, 100), ps = percentile(s, 50), pb = percentile(b, 50), pr = percentile(r, 50), pa = percentiles_array(d, 0, 50)",
        "pt,pd,ps,pb,pr,pa\n00:00:02,2020-01-03T00:00:00Z,b,true,1.5,\"[\"\"2020-01-01T00:00:00.0000000Z\"\",\"\"2020-01-02T00:00:00.0000000Z\"\"]\"",
    )
    .await;
    // Grouped, over enough rows that partial results are merged.
    check(
        "range x from 1 to 100000 step 1 | extend g = x % 3 | summarize p50 = percentile(x, 50), p99 = percentile(x, 99), pa = percentiles_array(x, 0, 100) by g | order by g asc",
        "g,p50,p99,pa\n0,50001,99000,\"[3,99999]\"\n1,49999,99001,\"[1,100000]\"\n2,50000,98999,\"[2,99998]\"",
    )
    .await;
    check("datatable(x:long)[] | summarize p = percentiles_array(x, 50)", "p\n").await;
    check_error("range x from 1 to 3 step 1 | summarize percentile(x, x)", "must be a constant number").await;
    // Several percentiles become one column each, named as Kusto names them.
    check("range x from 1 to 3 step 1 | summarize percentiles(x, 5, 50)", "percentile_x_5,percentile_x_50\n1,2").await;
    check_error("datatable(d:dynamic)[dynamic(1)] | summarize percentile(d, 50)", "cannot order dynamic").await;
}

#[tokio::test]
async fn hll_and_lists() {
    check(
        "range x from 1 to 10 step 1 | extend y = x + 10 | summarize hx = hll(x), hy = hll(y, 2), hi = hll_if(x, x > 5) | project dx = dcount_hll(hx), dy = dcount_hll(hy), di = dcount_hll(hi)",
        "dx,dy,di\n10,10,5",
    )
    .await;
    check(
        "range x from 1 to 100000 step 1 | extend g = x % 3 | summarize h = hll(x % 100) by g | summarize m = hll_merge(h) | project d = dcount_hll(m)",
        "d\n100",
    )
    .await;
    check("print d = dcount_hll(dynamic(null))", "d\n0").await;
    check(
        "datatable(x:long, g:string)[1, 'a', long(null), 'a', 3, 'b'] | summarize l = make_list_with_nulls(x), s = make_list(x) by g | order by g asc",
        "g,l,s\na,\"[1,null]\",[1]\nb,[3],[3]",
    )
    .await;
    check(
        "let T = datatable(name:string, day_of_birth:long) ['John', 9, 'Paul', 18, 'George', 25, 'Ringo', 7]; T | summarize make_set_if(name, strlen(name) > 4), l = make_list_if(name, day_of_birth < 10, 1)",
        "set_name,l\n\"[\"\"George\"\",\"\"Ringo\"\"]\",\"[\"\"John\"\"]\"",
    )
    .await;
    // The size limit holds when partial lists are merged.
    check("range x from 1 to 100000 step 1 | summarize n = array_length(make_list(x, 5))", "n\n5").await;
}

#[tokio::test]
async fn set_functions() {
    let rows = "range x from 1 to 3 step 1 | extend y = x * 2 | extend z = y * 2 | extend w = z * 2";
    check(
        &format!("{rows} | extend a1 = pack_array(x,y,x,z), a2 = pack_array(x, y), a3 = pack_array(x,y,w) | project d = set_difference(a1, a2, a3)"),
        "d\n[4]\n[8]\n[12]",
    )
    .await;
    check("print arr = set_difference(dynamic([1,2,3]), dynamic([1,2,3]))", "arr\n[]").await;
    check(
        &format!("{rows} | extend a1 = pack_array(x,y,x,z), a2 = pack_array(x, y), a3 = pack_array(w) | project Out = set_union(a1, a2, a3)"),
        "Out\n\"[1,2,4,8]\"\n\"[2,4,8,16]\"\n\"[3,6,12,24]\"",
    )
    .await;
    check(
        "datatable (Arr1: dynamic) [dynamic(['A4', 'A2', 'A7', 'A2']), dynamic(['C4', 'C7', 'C1', 'C4'])] | project Out = set_union(Arr1, Arr1)",
        "Out\n\"[\"\"A4\"\",\"\"A2\"\",\"\"A7\"\"]\"\n\"[\"\"C4\"\",\"\"C7\"\",\"\"C1\"\"]\"",
    )
    .await;
    check(
        &format!("{rows} | extend a1 = pack_array(x,y,x,z), a2 = pack_array(x, y), a3 = pack_array(w,x) | project i = set_intersect(a1, a2, a3)"),
        "i\n[1]\n[2]\n[3]",
    )
    .await;
    check("print arr = set_intersect(dynamic([1, 2, 3]), dynamic([4,5]))", "arr\n[]").await;
    // A null (not an array) counts as an empty set.
    check(
        "print u = set_union(dynamic(null), dynamic([1, 1])), d = set_difference(dynamic([2]), dynamic(null))",
        "u,d\n[1],[2]",
    )
    .await;
    check(
        "print j = jaccard_index(dynamic([1,2,3]), dynamic([1,2,3,4])), k = jaccard_index(dynamic([1,1]), dynamic([2])), n = jaccard_index(dynamic(null), dynamic([1]))",
        "j,k,n\n0.75,0,",
    )
    .await;
    check_error("print set_union(dynamic([1]))", "set_union").await;
    check_error("print jaccard_index(dynamic([1]), 1)", "argument 2 of jaccard_index()").await;
}

#[tokio::test]
async fn array_functions() {
    check(
        "print condition=dynamic([1,0,50]), if_true='yes', if_false='no' | project res = array_iff(condition, if_true, if_false)",
        "res\n\"[\"\"yes\"\",\"\"no\"\",\"\"yes\"\"]\"",
    )
    .await;
    check(
        "print condition=dynamic(['some string value', datetime(2022-01-01), null]), if_true=1, if_false=0 | project res = array_iff(condition, if_true, if_false)",
        "res\n\"[null,null,null]\"",
    )
    .await;
    check(
        "print condition=dynamic([true,true,true]), if_true=dynamic([1,2]), if_false=dynamic([3,4]) | project res = array_iif(condition, if_true, if_false)",
        "res\n\"[1,2,null]\"",
    )
    .await;
    check(
        "print r = array_iff(dynamic([true,false,true]), dynamic([1,2,3]), dynamic([4,5,6])), n = array_iff(dynamic(null), 1, 2)",
        "r,n\n\"[1,5,3]\",",
    )
    .await;
    check(
        "print arr=dynamic(['this', 'is', 'an', 'example']) | project Result=array_reverse(arr), n = array_reverse(dynamic({}))",
        "Result,n\n\"[\"\"example\"\",\"\"an\"\",\"\"is\"\",\"\"this\"\"]\",",
    )
    .await;
    check(
        "print arr=dynamic([1,2,3,4,5]) | project a=array_shift_left(arr, 2, -1), b=array_shift_right(arr, 2), c=array_shift_right(arr, 2, -1), d=array_shift_right(arr, -2, -1), e=array_shift_left(arr, 2), f=array_shift_left(arr, -2, -1)",
        "a,b,c,d,e,f\n\"[3,4,5,-1,-1]\",\"[null,null,1,2,3]\",\"[-1,-1,1,2,3]\",\"[3,4,5,-1,-1]\",\"[3,4,5,null,null]\",\"[-1,-1,1,2,3]\"",
    )
    .await;
    check(
        "print arr=dynamic([1,2,3,4,5]) | project a = array_rotate_left(arr, 2), b = array_rotate_left(arr, -2), c = array_rotate_right(arr, 2), d = array_rotate_right(arr, 7), e = array_rotate_left(dynamic([]), 1)",
        "a,b,c,d,e\n\"[3,4,5,1,2]\",\"[4,5,1,2,3]\",\"[4,5,1,2,3]\",\"[4,5,1,2,3]\",[]",
    )
    .await;
    check(
        "print arr=dynamic([1,2,3,4,5]) | project a=array_slice(arr, 2, -1), b=array_slice(arr, -3, -2), c=array_slice(dynamic([1,2,3]), 1, 2), d=array_slice(arr, 3, 1), e=array_slice(arr, -10, 10), f=array_slice(dynamic(null), 1, 2)",
        "a,b,c,d,e,f\n\"[3,4,5]\",\"[3,4]\",\"[2,3]\",[],\"[1,2,3,4,5]\",",
    )
    .await;
    check(
        "print arr=dynamic([1,2,3,4,5]) | project a=array_split(arr, 2), b=array_split(arr, dynamic([1,3])), c=array_split(arr, -1), d=array_split(arr, 10)",
        "a,b,c,d\n\"[[1,2],[3,4,5]]\",\"[[1],[2,3],[4,5]]\",\"[[1,2,3,4],[5]]\",\"[[1,2,3,4,5],[]]\"",
    )
    .await;
    check(
        "print a = array_sum(dynamic([1,2,3,4])), b = array_sum(dynamic([1.5, 2])), c = array_sum(dynamic(['a', 1])), d = array_sum(dynamic([])), e = array_sum(dynamic(null))",
        "a,b,c,d,e\n10,3.5,,0,",
    )
    .await;
    check(
        "print z = zip(dynamic([1,3,5]), dynamic([2,4,6])), m = zip(dynamic(['A', 1, 1.5]), dynamic([{}, 'B'])), n = zip(dynamic([1]), dynamic(null))",
        "z,m,n\n\"[[1,2],[3,4],[5,6]]\",\"[[\"\"A\"\",{}],[1,\"\"B\"\"],[1.5,null]]\",",
    )
    .await;
    check(
        "datatable(a:int, b:string) [1,'one',2,'two',3,'three'] | summarize a = make_list(a), b = make_list(b) | project z = zip(a, b)",
        "z\n\"[[1,\"\"one\"\"],[2,\"\"two\"\"],[3,\"\"three\"\"]]\"",
    )
    .await;
    check("print a = arraylength(dynamic([1,2])), b = arraylength(dynamic({}))", "a,b\n2,").await;
    check_error("print array_slice(dynamic([1]), 1.5, 2)", "argument 2 of array_slice() must be long").await;
    check_error("print array_reverse('abc')", "argument 1 of array_reverse() must be dynamic").await;
}

#[tokio::test]
async fn array_sort() {
    check(
        "print a = array_sort_asc(dynamic([null,'blue','yellow','green',null])), b = array_sort_asc(dynamic([null,'blue','yellow','green',null]), false)",
        "a,b\n\"[\"\"blue\"\",\"\"green\"\",\"\"yellow\"\",null,null]\",\"[null,null,\"\"blue\"\",\"\"green\"\",\"\"yellow\"\"]\"",
    )
    .await;
    check(
        "print a = array_sort_desc(dynamic([null,'blue','yellow','green',null]), false), b = array_sort_desc(dynamic([3, 1, 2]))",
        "a,b\n\"[null,null,\"\"yellow\"\",\"\"green\"\",\"\"blue\"\"]\",\"[3,2,1]\"",
    )
    .await;
    // Several arrays: the first is sorted, the others follow it; one of
    // another length is null.
    check(
        "let array1 = dynamic([1,3,4,5,2]); let array2 = dynamic(['a','b','c','d','e']); print x = array_sort_asc(array1, array2), y = array_sort_desc(array1, array2), z = array_sort_asc(array1, dynamic([1]))",
        "x,y,z\n\"[[1,2,3,4,5],[\"\"a\"\",\"\"e\"\",\"\"b\"\",\"\"c\"\",\"\"d\"\"]]\",\"[[5,4,3,2,1],[\"\"d\"\",\"\"c\"\",\"\"b\"\",\"\"e\"\",\"\"a\"\"]]\",\"[[1,2,3,4,5],null]\"",
    )
    .await;
    check(
        "datatable(command:string, command_time:datetime, user_id:string) ['chmod', datetime(2019-07-15), 'user1', 'ls', datetime(2019-07-02), 'user1', 'dir', datetime(2019-07-22), 'user1', 'mkdir', datetime(2019-07-14), 'user1', 'rm', datetime(2019-07-27), 'user1', 'pwd', datetime(2019-07-25), 'user1', 'rm', datetime(2019-07-23), 'user2', 'pwd', datetime(2019-07-25), 'user2'] | summarize timestamps = make_list(command_time), commands = make_list(command) by user_id | project user_id, up = array_sort_asc(timestamps, commands)[1], down = array_sort_desc(timestamps, commands)[1] | order by user_id asc",
        "user_id,up,down\nuser1,\"[\"\"ls\"\",\"\"mkdir\"\",\"\"chmod\"\",\"\"dir\"\",\"\"pwd\"\",\"\"rm\"\"]\",\"[\"\"rm\"\",\"\"pwd\"\",\"\"dir\"\",\"\"chmod\"\",\"\"mkdir\"\",\"\"ls\"\"]\"\nuser2,\"[\"\"rm\"\",\"\"pwd\"\"]\",\"[\"\"pwd\"\",\"\"rm\"\"]\"",
    )
    .await;
    // Mixed types: numbers first, then strings, then the rest in place.
    check(
        "print a = array_sort_asc(dynamic([3, 'b', 1.5, 'a', true, 2])), n = array_sort_asc(dynamic(null))",
        "a,n\n\"[1.5,2,3,\"\"a\"\",\"\"b\"\",true]\",",
    )
    .await;
    check_error("print array_sort_asc('x')", "argument 1 of array_sort_asc() must be dynamic").await;
}

#[tokio::test]
async fn bag_functions() {
    check(
        "datatable(input: dynamic) [dynamic({'key1' : 123, 'key2': 'abc'}), dynamic({'key1' : 123, 'key3': 'abc'})] | project result = bag_has_key(input, 'key2')",
        "result\ntrue\nfalse",
    )
    .await;
    check(
        "print input = dynamic({'key1': 123, 'key2': {'prop1' : 'abc', 'prop2': 'xyz'}, 'key3': [100, 200]}) | project a = bag_has_key(input, '$.key2.prop1'), b = bag_has_key(input, \"$['key2']['prop3']\"), c = bag_has_key(dynamic(null), 'a'), d = bag_has_key(input, '$.key3.x')",
        "a,b,c,d\ntrue,false,false,false",
    )
    .await;
    check(
        "datatable(input:dynamic) [dynamic({'key1' : 123, 'key2': 'abc'}), dynamic({'key1' : 'value', 'key3': 42.5})] | project result=bag_remove_keys(input, dynamic(['key2', 'key4']))",
        "result\n\"{\"\"key1\"\":123}\"\n\"{\"\"key1\"\":\"\"value\"\",\"\"key3\"\":42.5}\"",
    )
    .await;
    check(
        "print input = dynamic({'key1': 123, 'key2': {'prop1' : 'abc', 'prop2': 'xyz'}, 'key3': [100, 200]}) | project result=bag_remove_keys(input, dynamic(['$.key2.prop1', 'key3'])), n = bag_remove_keys(dynamic([1]), dynamic(['a']))",
        "result,n\n\"{\"\"key1\"\":123,\"\"key2\"\":{\"\"prop2\"\":\"\"xyz\"\"}}\",",
    )
    .await;
    check(
        "datatable(input: dynamic) [dynamic({'key1': 1, 'key2': 2}), dynamic({'key1': 1, 'key3': 'abc'})] | project result = bag_set_key(input, 'key3', 3)",
        "result\n\"{\"\"key1\"\":1,\"\"key2\"\":2,\"\"key3\"\":3}\"\n\"{\"\"key1\"\":1,\"\"key3\"\":3}\"",
    )
    .await;
    check(
        "datatable(input: dynamic)[dynamic({'key1': 123, 'key2': {'prop1': 123, 'prop2': 'xyz'}}), dynamic({'key1': 123}), dynamic(null)] | project result = bag_set_key(input, '$.key2.prop1', 'abc')",
        "result\n\"{\"\"key1\"\":123,\"\"key2\"\":{\"\"prop1\"\":\"\"abc\"\",\"\"prop2\"\":\"\"xyz\"\"}}\"\n\"{\"\"key1\"\":123,\"\"key2\"\":{\"\"prop1\"\":\"\"abc\"\"}}\"\n",
    )
    .await;
    check(
        "print result = bag_merge(dynamic({'A1':12, 'B1':2, 'C1':3}), dynamic({'A2':81, 'B2':82, 'A1':1}), dynamic(null))",
        "result\n\"{\"\"A1\"\":12,\"\"B1\"\":2,\"\"C1\"\":3,\"\"A2\"\":81,\"\"B2\"\":82}\"",
    )
    .await;
    check(
        "datatable(KeysArray: dynamic, ValuesArray: dynamic) [dynamic(['a', 'b', 'c']), dynamic([1, '2', 3.4]), dynamic(['a', 'b', 'c']), dynamic([1, '2']), dynamic(['a', 8, 'b']), dynamic([1, '2', 2.5]), dynamic('a'), dynamic([1])] | project NewBag = bag_zip(KeysArray, ValuesArray)",
        "NewBag\n\"{\"\"a\"\":1,\"\"b\"\":\"\"2\"\",\"\"c\"\":3.4}\"\n\"{\"\"a\"\":1,\"\"b\"\":\"\"2\"\",\"\"c\"\":null}\"\n\"{\"\"a\"\":1,\"\"b\"\":2.5}\"\n",
    )
    .await;
}

#[tokio::test]
async fn json_and_paths() {
    let bag1 =
        "dynamic({'Y10':{}, 'X8': {'c3':1, 'd8':5, 'a4':6}, 'D1':114, 'A1':12, 'B1':2, 'C1':3, 'A14':[15, 13, 18]})";
    let bag2 =
        "dynamic({'X8': {'a4':6, 'c3':1, 'd8':5}, 'A14':[15, 13, 18], 'C1':3, 'B1':2, 'Y10': {}, 'A1':12, 'D1':114})";
    check(
        &format!("let bag1 = dynamic_to_json({bag1}); let bag2 = dynamic_to_json({bag2}); print AreEqual=bag1 == bag2, Result=bag1"),
        "AreEqual,Result\ntrue,\"{\"\"A1\"\":12,\"\"A14\"\":[15,13,18],\"\"B1\"\":2,\"\"C1\"\":3,\"\"D1\"\":114,\"\"X8\"\":{\"\"a4\"\":6,\"\"c3\"\":1,\"\"d8\"\":5},\"\"Y10\"\":{}}\"",
    )
    .await;
    check(
        "print a = dynamic_to_json(1), b = dynamic_to_json('s'), c = dynamic_to_json(dynamic(null)), d = dynamic_to_json(dynamic(['x', 1.5]))",
        "a,b,c,d\n1,s,,\"[\"\"x\"\",1.5]\"",
    )
    .await;
    check(
        "print a = treepath(parse_json('{\"a\":\"b\", \"c\":123}')), b = treepath(parse_json('{\"prop1\":[1,2,3,4], \"prop2\":\"value2\"}')), c = treepath(parse_json('{\"listProperty\":[100,200,300,\"abcde\",{\"x\":\"y\"}]}')), n = treepath(dynamic(1))",
        "a,b,c,n\n\"[\"\"['a']\"\",\"\"['c']\"\"]\",\"[\"\"['prop1']\"\",\"\"['prop1'][0]\"\",\"\"['prop2']\"\"]\",\"[\"\"['listProperty']\"\",\"\"['listProperty'][0]\"\",\"\"['listProperty'][0]['x']\"\"]\",",
    )
    .await;
    check("print a = parsejson('{\"a\":1}').a, b = tostring(parsejson('text'))", "a,b\n1,text").await;
}

/// `array_index_of(array, value [, start [, length [, occurrence]]])`: the
/// reference's example, row for row (array-index-of-function.md), and null
/// for an occurrence below 0 or a length below -1.
#[tokio::test]
async fn array_index_of_with_start_length_and_occurrence() {
    let query = r#"let arr = dynamic(["this", "is", "an", "example", "an", "example"]);
print idx1 = array_index_of(arr, "an"), idx2 = array_index_of(arr, "example", 1, 3),
      idx3 = array_index_of(arr, "example", 1, 2), idx4 = array_index_of(arr, "is", 2, 4),
      idx5 = array_index_of(arr, "example", 2, -1), idx6 = array_index_of(arr, "an", 1, -1, 2),
      idx7 = array_index_of(arr, "an", 1, -1, 3), idx8 = array_index_of(arr, "an", -3),
      idx9 = array_index_of(arr, "is", -4),
      bad1 = isnull(array_index_of(arr, "an", 0, -1, -1)), bad2 = isnull(array_index_of(arr, "an", 0, -2))"#;
    check(query, "idx1,idx2,idx3,idx4,idx5,idx6,idx7,idx8,idx9,bad1,bad2\n2,3,-1,-1,3,4,-1,4,-1,true,true\n").await;
}
