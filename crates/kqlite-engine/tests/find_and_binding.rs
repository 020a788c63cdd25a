//! End-to-end tests of `find`, and of binding forms real Sentinel queries
//! use: `has_any` and `in` over a table, `extract(…, typeof(T))`,
//! `notempty()`, repeated names in `summarize`.

mod common;

use common::{check, check_error};

const TABLES: &str = "let A = datatable(Id: long, Name: string, Extra: string)[1, 'x', 'a1', 2, 'y', 'a2'];\
    let B = datatable(Id: long, Name: string, Other: long)[3, 'x', 7];\
    let C = datatable(Foo: string)['x'];";

#[tokio::test]
async fn find_searches_the_tables_that_have_the_predicate_columns() {
    // C has no Name column, so it is not searched; the columns A and B
    // share are columns, the rest goes to pack_.
    check(
        &format!("{TABLES} find in (A, B, C) where Name == 'x' | sort by Id asc"),
        "source_,Id,Name,pack_\nA,1,x,\"{\"\"Extra\"\":\"\"a1\"\"}\"\nB,3,x,\"{\"\"Other\"\":7}\"\n",
    )
    .await;
    check(
        &format!("{TABLES} find withsource=Table in (A, B) where Id > 1 project Name, Other | sort by Name asc"),
        "Table,Name,Other\nB,x,7\nA,y,\n",
    )
    .await;
    // A column only some tables have reads as null (empty text) in the
    // others, and is a column of the result.
    check(
        &format!("{TABLES} find in (A, B) where Extra == 'a2' or Other == 7 | sort by Id asc"),
        "source_,Id,Name,Extra,Other,pack_\nA,2,y,a2,,{}\nB,3,x,,7,{}\n",
    )
    .await;
    check_error(&format!("{TABLES} find in (C) where Name == 'x'"), "unknown").await;
    check_error(&format!("{TABLES} find in (A, B) where Id > 1 project Missing"), "unknown column 'Missing'").await;
}

#[tokio::test]
async fn has_any_and_in_read_a_tables_first_column() {
    let q = "let terms = datatable(Term: string, Weight: long)['beta', 1, 'delta', 2];\
        datatable(Line: string)['alpha beta', 'gamma', 'delta x', 'delta']";
    check(&format!("{q} | where Line has_any (terms)"), "Line\nalpha beta\ndelta x\ndelta\n").await;
    check(&format!("{q} | where Line in (terms)"), "Line\ndelta\n").await;
}

#[tokio::test]
async fn extract_with_a_type_converts_the_match() {
    check(
        "print n = extract('x=([0-9]+)', 1, 'a x=42 b', typeof(long)) + 1, \
               r = extract('v=([0-9.]+)', 1, 'v=2.5', typeof(real)), \
               j = extractjson('$.a', '{\"a\": 7}', typeof(int))",
        "n,r,j\n43,2.5,7\n",
    )
    .await;
}

#[tokio::test]
async fn notempty_and_notnull_are_aliases() {
    check("print a = notempty(''), b = notempty('x'), c = notnull(int(null))", "a,b,c\nfalse,true,false\n").await;
}

#[tokio::test]
async fn summarize_numbers_repeated_names() {
    // As Microsoft's binder names them: a repeated key is `a1`; an
    // aggregate named like an arg_max(*) column is `d1`.
    check(
        "datatable(a: dynamic, b: long)[dynamic('p'), 1] | summarize by tostring(a), b, tostring(a)",
        "a,b,a1\np,1,p\n",
    )
    .await;
    check("datatable(c: string, d: long)['x', 1, 'y', 2] | summarize m = arg_max(c, *), d = max(d)", "m,d,d1\ny,2,2\n")
        .await;
}

#[tokio::test]
async fn join_numbers_a_right_column_past_the_right_sides_own_names() {
    // Microsoft's binder: k, x, k1, x2, x1 (x1 is the right side's own column).
    check(
        "datatable(k: long, x: long)[1, 2] | join kind=inner (datatable(k: long, x: long, x1: long)[1, 3, 4]) on k",
        "k,x,k1,x2,x1\n1,2,1,3,4\n",
    )
    .await;
}

#[tokio::test]
async fn join_keys_joined_with_and() {
    check(
        "datatable(Port: long, Protocol: string)[22, 'tcp', 53, 'udp'] \
         | join kind=inner (datatable(DestinationPort: long, Protocol: string, Host: string)[22, 'tcp', 'a', 22, 'udp', 'b', 53, 'udp', 'c']) \
           on $left.Port == $right.DestinationPort and $left.Protocol == $right.Protocol \
         | project Port, Protocol, Host | sort by Port asc",
        "Port,Protocol,Host\n22,tcp,a\n53,udp,c\n",
    )
    .await;
}

#[tokio::test]
async fn unnamed_results_are_named_as_microsofts_binder_names_them() {
    // A wrapped aggregation keeps the aggregation's name.
    check(
        "datatable(p: string, d: string)['x', 'a', 'y', 'a'] \
         | summarize tostring(make_set(p)), tolong(count()), strlen(tostring(make_list(p))) by d",
        "d,set_p,count_,strlen_list_p\na,\"[\"\"x\"\",\"\"y\"\"]\",2,9\n",
    )
    .await;
    // mv-expand of an unnamed expression expands into the column it reads.
    check("print s = 'a;b', t = 1 | mv-expand split(s, ';')", "s,t\na,1\nb,1\n").await;
}

#[tokio::test]
async fn column_ifexists_has_the_defaults_type() {
    // Microsoft's binder types column_ifexists(name, default) as the
    // default: an existing column is converted to it.
    let q = "datatable(F: long, S: string)[5, '7'] \
             | project x = column_ifexists('F', int(null)), y = column_ifexists('S', 1), z = column_ifexists('Missing', 'd')";
    check(q, "x,y,z\n5,7,d\n").await;
    check(
        &format!("{q} | getschema | project ColumnName, ColumnType"),
        "ColumnName,ColumnType\nx,int\ny,long\nz,string\n",
    )
    .await;
}

const IN_TABLES: &str = "let Admins = datatable(a: string, Note: string)['x', 'n1', 'Z', 'n2'];\
    let Banned = datatable(r: long)[2];\
    let Users = datatable(u: string, r: long)['x', 1, 'y', 2, 'z', 3, 'X', 4];";

#[tokio::test]
async fn in_a_subquery_keeps_its_meaning_under_not_and_beside_other_subqueries() {
    // The report's query: a one-column subquery under not(… and …).
    check(
        "let Admins = datatable(a: string)['x']; \
         datatable(u: string, r: long)['x', 1, 'y', 2] | where not(u in (Admins) and r < 3)",
        "u,r\ny,2\n",
    )
    .await;
    check(&format!("{IN_TABLES} Users | where u in (Admins) | project u"), "u\nx\n").await;
    check(&format!("{IN_TABLES} Users | where u !in (Admins) | project u"), "u\ny\nz\nX\n").await;
    // Kusto's `in~` folds case on both sides, the subquery's column too.
    check(&format!("{IN_TABLES} Users | where u in~ (Admins) | project u"), "u\nx\nz\nX\n").await;
    check(&format!("{IN_TABLES} Users | where u !in~ (Admins) | project u"), "u\ny\n").await;
    // A negated conjunction around the subquery (Sentinel's "not an admin
    // acting on a low id" shape) failed to plan with duplicate projection names.
    check(&format!("{IN_TABLES} Users | where not(u in (Admins) and r < 3) | project u"), "u\ny\nz\nX\n").await;
    check(&format!("{IN_TABLES} Users | where not(u in~ (Admins) or r in (Banned)) | project u"), "u\n").await;
    // Two subqueries in one predicate, over the same and over different tables.
    check(&format!("{IN_TABLES} Users | where u in (Admins) or r in (Banned) | project u"), "u\nx\ny\n").await;
    check(&format!("{IN_TABLES} Users | where u !in (Admins) and r !in (Banned) | project u"), "u\nz\nX\n").await;
    check(
        &format!("{IN_TABLES} Users | where u in (Admins | where Note == 'n1') or u in (Admins | where Note == 'n2') | project u"),
        "u\nx\n",
    )
    .await;
    check(&format!("{IN_TABLES} Users | where u in (Admins) and u in~ (Admins) | project u"), "u\nx\n").await;
    check(
        &format!("{IN_TABLES} Users | where not(u in (Banned | project tostring(r)) or r in (Banned)) | project u"),
        "u\nx\nz\nX\n",
    )
    .await;
}
