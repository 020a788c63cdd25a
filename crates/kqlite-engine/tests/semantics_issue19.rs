//! Issue 19's list of semantic bugs found by other KQL engines' test suites:
//! one test per item, named after it, each citing the KQL reference page or
//! Microsoft's binder (`oracle --bind`) it follows. Where an older test pins
//! the same behaviour, a comment names it; this file still checks it, so the
//! list stays complete in one place.

mod common;

use common::{check, check_error, run};

/// `int*int` and `int/int` are long: "If both operands are of integer types
/// (int or long), the result will be of type long" (numerical operators
/// page); Microsoft's binder types `print toint(6) * toint(7)` long.
#[tokio::test]
async fn int_arithmetic_is_long() {
    check(
        "print m = gettype(toint(6) * toint(7)), d = gettype(toint(7) / toint(2)), s = gettype(toint(1) + toint(2)), q = toint(7) / toint(2)",
        "m,d,s,q\nlong,long,long,3\n",
    )
    .await;
}

/// `coalesce("", "", "found")` is "found": coalesce "returns the first
/// non-null (or non-empty for string) expression" (coalesce page). Also
/// pinned by functions_math_ip.rs `coalesce_skips_empty_strings`.
#[tokio::test]
async fn coalesce_skips_empty_strings() {
    check(r#"print a = coalesce("", "", "found"), b = coalesce("", "")"#, "a,b\nfound,\n").await;
}

/// The issue says Kusto gives `-10 % 3 == -1`, but the numerical operators
/// page says otherwise: "The modulo of two numbers always returns in Kusto
/// a 'small non-negative number' ... 0 ≤ (N % D) < abs(D)", with the
/// example `print plusPlus = 14 % 12, minusPlus = -14 % 12, plusMinus =
/// 14 % -12, minusMinus = -14 % -12` giving 2, 10, 2, 10. kqlite follows
/// the reference, so `-10 % 3` is 2.
#[tokio::test]
async fn modulo_of_a_negative_dividend_is_non_negative() {
    check(
        "print plusPlus = 14 % 12, minusPlus = -14 % 12, plusMinus = 14 % -12, minusMinus = -14 % -12, issue = -10 % 3",
        "plusPlus,minusPlus,plusMinus,minusMinus,issue\n2,10,2,10,2\n",
    )
    .await;
}

/// `take 2 | order by` sorts the two rows `take` kept, not the first two of
/// the sorted input (each operator takes its input's output: tabular
/// expression statements page).
#[tokio::test]
async fn take_then_order_by_sorts_the_rows_taken() {
    check("datatable(x:long)[5, 9, 1, 7] | take 2 | order by x asc", "x\n5\n9\n").await;
}

/// `mv-expand with_itemindex=i` adds the 0-based index column (mv-expand
/// page: "the output includes another column named IndexColumnName that
/// contains the index (starting at 0)"). Also pinned by
/// operators_kv_apply_nested.rs `mv_expand_with_itemindex`.
#[tokio::test]
async fn mv_expand_with_itemindex_adds_the_index() {
    check("print x = dynamic(['a', 'b', 'c']) | mv-expand with_itemindex=i x", "x,i\na,0\nb,1\nc,2\n").await;
}

/// mv-expand page: "If the dynamic value is null, a single record is
/// produced for that value (null). If the dynamic value is an empty array
/// or property bag, no record is produced for that value."
#[tokio::test]
async fn mv_expand_of_null_keeps_one_null_row() {
    check(
        "datatable(k:long, a:dynamic)[1, dynamic(null), 2, dynamic([]), 3, dynamic([7, 8])] | mv-expand a | extend n = isnull(a)",
        "k,a,n\n1,,true\n3,7,false\n3,8,false\n",
    )
    .await;
}

/// `row_cumsum(term, restart)` restarts where `restart` is true (row_cumsum
/// page). Also pinned by series_pivot_windows.rs
/// `row_cumsum_restarts_where_the_condition_holds`.
#[tokio::test]
async fn row_cumsum_restart_argument() {
    check(
        "datatable(a:long, b:bool)[1, false, 2, false, 3, true, 4, false] | serialize | extend c = row_cumsum(a, b)",
        "a,b,c\n1,false,1\n2,false,3\n3,true,3\n4,false,7\n",
    )
    .await;
}

/// `row_number(StartingIndex, Restart)` numbers again from StartingIndex
/// where Restart is true (row_number page, whose last example restarts
/// with `prev(Airport) != Airport`).
#[tokio::test]
async fn row_number_restart_argument() {
    check(
        r#"datatable(a:string, b:long)["x", 1, "x", 2, "y", 3, "y", 4, "y", 5] | serialize
        | extend rn = row_number(0, a != prev(a)), plain = row_number(10)"#,
        "a,b,rn,plain\nx,1,0,10\nx,2,1,11\ny,3,0,12\ny,4,1,13\ny,5,2,14\n",
    )
    .await;
}

/// `parse kind=regex` is greedy by default and `flags=U` makes it lazy (parse
/// operator page: "U: Ungreedy"). Also pinned by sentinel_regressions.rs
/// `parse_regex_is_greedy_unless_flags_u`.
#[tokio::test]
async fn parse_regex_greedy_and_flags_u() {
    check(
        r#"print t = "k=a,b,c"
        | parse kind=regex t with "k=" greedy "," *
        | parse kind=regex flags=U t with "k=" lazy "," *
        | project greedy, lazy"#,
        "greedy,lazy\n\"a,b\",a\n",
    )
    .await;
}

/// parse-kv with `escape`: an escaped quote stays inside the quoted value
/// (parse-kv page, its example with `escape='\\'`). Also pinned by
/// operators_kv_apply_nested.rs `parse_kv_quotes_and_escapes`.
#[tokio::test]
async fn parse_kv_escape_keeps_the_whole_value() {
    check(
        r#"print s = @'a="x \"y\" z" b=2'
        | parse-kv s as (a:string, b:long) with (pair_delimiter=' ', kv_delimiter='=', quote='"', escape='\\')
        | project a = replace_string(a, '"', "Q"), b"#,
        "a,b\nx QyQ z,2\n",
    )
    .await;
}

/// `parse_command_line(cmd, "windows")` splits as `CommandLineToArgvW`
/// (parse_command_line page): 2n backslashes before a quote give n and
/// open or close quoting, 2n+1 give n and a literal quote, backslashes not
/// before a quote are literal (Microsoft's "Parsing C command-line
/// arguments" table).
#[tokio::test]
async fn parse_command_line_windows_backslash_rules() {
    check(
        r#"datatable(c:string)[
            @'prog "abc" d e',
            @'prog a\\b d"e f"g h',
            @'prog a\\\"b c d',
            @'prog a\\\\"b c" d e']
        | project r = replace_string(strcat_array(parse_command_line(c, "windows"), "|"), '"', "Q")"#,
        "r\nprog|abc|d|e\nprog|a\\\\b|de fg|h\nprog|a\\Qb|c|d\nprog|a\\\\b c|d|e\n",
    )
    .await;
}

/// A recursive user function is a bind error, never a stack overflow:
/// Microsoft's binder rejects `let f = (n:long) { f(n - 1) }; print f(3)`
/// (KS211, 'f' is not a known function inside its own body). Also pinned
/// by sentinel_regressions.rs
/// `recursive_functions_are_an_error_not_a_crash`.
#[tokio::test]
async fn recursive_function_is_an_error() {
    check_error("let f = (n:long) { f(n - 1) }; print f(3)", "recursive").await;
}

/// array_sort_desc page: "If an array contains elements of different types,
/// it's sorted in the following order: numeric, datetime, and timespan
/// elements; string elements; guid elements; all other elements". The
/// groups keep that order; each sorts descending inside.
#[tokio::test]
async fn array_sort_desc_mixed_types() {
    check(
        r#"print d = tostring(array_sort_desc(dynamic([1, "a", 2.5, true, "b", 3]))),
                a = tostring(array_sort_asc(dynamic([1, "a", 2.5, true, "b", 3])))"#,
        "d,a\n\"[3,2.5,1,\"\"b\"\",\"\"a\"\",true]\",\"[1,2.5,3,\"\"a\"\",\"\"b\"\",true]\"\n",
    )
    .await;
}

/// `tostring(datetime)` prints seven fraction digits,
/// `2024-01-01T00:00:00.0000000Z`, as the range function page shows
/// datetimes converted to text.
#[tokio::test]
async fn tostring_datetime_prints_seven_fraction_digits() {
    check(
        "print a = tostring(datetime(2024-01-01)), b = strcat(datetime(2024-01-01 10:00:00.5), '')",
        "a,b\n2024-01-01T00:00:00.0000000Z,2024-01-01T10:00:00.5000000Z\n",
    )
    .await;
}

/// `range` with real bounds makes a real column, and a step that goes away
/// from the end makes no rows (range operator page: values up to and
/// including stop; Microsoft's binder types `range x from 1 to 2 step 0.5`
/// real and binds `range x from 5 to 1 step 1`).
#[tokio::test]
async fn range_with_real_bounds_or_a_backward_step() {
    check("range x from 1 to 2 step 0.5", "x\n1\n1.5\n2\n").await;
    check("range x from 1.5 to 3.5 step 1", "x\n1.5\n2.5\n3.5\n").await;
    check("range x from 5 to 1 step 1 | count", "Count\n0\n").await;
    check("range x from 5 to 1 step -2", "x\n5\n3\n1\n").await;
}

/// `datetime % timespan` binds (Microsoft's binder types it timespan). Also
/// pinned by sentinel_regressions.rs `datetime_modulo_timespan`.
#[tokio::test]
async fn datetime_modulo_timespan() {
    check("print a = datetime(2020-01-01 10:30) % 1h", "a\n00:30:00\n").await;
}

/// `array_index_of(array, value, start, length)` searches `length` elements
/// from `start` (array_index_of page); the 4-argument form was rejected.
#[tokio::test]
async fn array_index_of_with_four_arguments() {
    check(
        "print a = array_index_of(dynamic([1, 2, 3, 2]), 2, 2, 2), b = array_index_of(dynamic([1, 2, 3, 2]), 2, 2, 1), c = array_index_of(dynamic([1, 2, 3, 2]), 2, 1, 1)",
        "a,b,c\n3,-1,1\n",
    )
    .await;
}

/// `toscalar(1.5)`: toscalar takes a scalar expression too (the toscalar
/// page's example has `let Step = toscalar(2);`); Microsoft's binder types
/// `toscalar(1.5)` real.
#[tokio::test]
async fn toscalar_of_a_scalar() {
    check("print x = toscalar(1.5) * 2", "x\n3\n").await;
}

/// `toscalar` over an empty result is null, not an error. The toscalar page
/// says a tabular result converts through its first column and first row;
/// an empty result has no row, and Kusto gives null (issue 19's peer cases,
/// where the peers agree with Kusto). A string result is "" as Kusto strings
/// are never null.
#[tokio::test]
async fn toscalar_of_an_empty_result_is_null() {
    check(
        "print x = toscalar(print 1 | where 1 == 0), y = isnull(toscalar(print 1 | where 1 == 0)), s = strlen(toscalar(print 'a' | where 1 == 0))",
        "x,y,s\n,true,0\n",
    )
    .await;
    check("let T = datatable(a:long, b:string)[]; print v = toscalar(T | project b), n = toscalar(T)", "v,n\n,\n")
        .await;
    // A non-empty result still gives its first row's first column.
    check("print x = toscalar(datatable(a:long, b:long)[7, 8, 9, 10])", "x\n7\n").await;
}

/// Guards the helper: a wrong expectation here must fail.
#[tokio::test]
async fn toscalar_empty_result_is_not_an_error() {
    let out = run("print x = toscalar(datatable(a:long)[] | summarize make_list(a) | mv-expand list_a)").await;
    assert!(!out.starts_with("ERROR"), "{out}");
}

// ---------------------------------------------------------------------------
// Failing documentation cases of existing functions, fixed in kqlite.

/// range function page: "The default value for step is 1 for numeric and 1h
/// for timespan or datetime", and "a maximum of 1,048,576 (2^20) results"
/// (`range(1, 1000000000) | mv-expand | count` is 1,048,576).
#[tokio::test]
async fn range_function_default_step_and_limit() {
    check(
        "print r = tostring(range(1h, 5h)), d = array_length(range(datetime(2024-01-01), datetime(2024-01-01 03:00)))",
        "r,d\n\"[\"\"01:00:00\"\",\"\"02:00:00\"\",\"\"03:00:00\"\",\"\"04:00:00\"\",\"\"05:00:00\"\"]\",4\n",
    )
    .await;
    check(
        "print n = array_length(range(1, 1000000000)), m = array_length(range(1.0, 10000000.0))",
        "n,m\n1048576,1048576\n",
    )
    .await;
}

/// toguid page: "takes the first 32 characters of the input, ignoring
/// properly located hyphens, validates that the characters are between 0-9
/// or a-f ... The rest of the string is ignored", otherwise null; its
/// example prints `01234567-89ab-cdef-0123-456789abcdef` for both
/// `0123456789abcdef0123456789abcdef` and `0123456789ab-cdef-0123-456789abcdef`.
#[tokio::test]
async fn toguid_reads_32_hex_digits() {
    check(
        r#"datatable(s:string)["0123456789abcdef0123456789abcdef", "0123456789ab-cdef-0123-456789abcdef",
            "0123456789ABCDEF0123456789ABCDEFxyz", "a string that is not a guid", "0123"]
        | extend g = toguid(s), n = isnull(toguid(s)) | project g, n"#,
        "g,n\n01234567-89ab-cdef-0123-456789abcdef,false\n01234567-89ab-cdef-0123-456789abcdef,false\n01234567-89ab-cdef-0123-456789abcdef,false\n,true\n,true\n",
    )
    .await;
}

/// Datetime literals with the year first and the parts between commas or
/// spaced hyphens, as on the startofweek page (`datetime(2025, 6, 14)`) and
/// the sliding_window_counts page (`datetime(2017 - 08 - 01)`).
#[tokio::test]
async fn datetime_literal_with_comma_separated_parts() {
    check(
        "print a = datetime(2025, 6, 14), b = datetime(2017 - 08 - 01)",
        "a,b\n2025-06-14T00:00:00Z,2017-08-01T00:00:00Z\n",
    )
    .await;
    check_error("print a = datetime(2025, 13, 14)", "datetime").await;
}

/// Column names Microsoft's binder gives: `percentilesw(x, w, 50, 99.9)` is
/// `percentile_x_50`, `percentile_x_99_9`, and `dcount_hll(merged)` is
/// `dcount_hll_merged` (percentiles page; hll_merge page's example).
#[tokio::test]
async fn percentilesw_and_dcount_hll_column_names() {
    check(
        "datatable(x:long, w:long)[10, 8, 20, 6, 30, 3, 40, 1] | summarize percentilesw(x, w, 50, 75, 99.9)",
        "percentile_x_50,percentile_x_75,percentile_x_99_9\n20,20,40\n",
    )
    .await;
    check(
        "range x from 1 to 10 step 1 | summarize h = hll(x) | project merged = h | project dcount_hll(merged)",
        "dcount_hll_merged\n10\n",
    )
    .await;
}

/// Unnamed columns as Microsoft's binder names them (swept over every
/// visible scalar function with `project f(c)`): math and conversion
/// functions keep the argument's name, `startofmonth` does not,
/// `array_sort_asc(h)` is `h_sorted`, `hll_merge` is `hll_merged_result`,
/// and a derived name already taken in the same operator is numbered
/// (`project n, tostring(n)` is `n`, `n1`; `project tostring(n), n1 = 2,
/// toint(n)` is `n`, `n1`, `n2`), while a repeated plain column is an error.
#[tokio::test]
async fn derived_column_names_follow_microsofts_binder() {
    check(
        "datatable(n:long, d:datetime, h:dynamic)[] | project pow(n, 2), startofmonth(d), startofday(d), array_sort_asc(h), hll_merge(h, h), gettype(n), exp(n)",
        "n,Column1,d,h_sorted,hll_merged_result,type_n,n1\n",
    )
    .await;
    check("datatable(n:long)[] | project n, tostring(n)", "n,n1\n").await;
    check("datatable(n:long)[] | project tostring(n), n1 = 2, toint(n)", "n,n1,n2\n").await;
    check("datatable(n:long)[] | summarize count() by startofmonth(now()), tostring(n)", "Column1,n,count_\n").await;
    check_error("datatable(n:long)[] | project n, n", "twice").await;
}
