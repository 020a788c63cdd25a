mod common;

use common::run;

#[tokio::test]
async fn smoke() {
    for q in [
        "print x = 1 + 1, y = 'a', z = now() > ago(1d)",
        "range x from 1 to 5 step 2 | extend y = x * 2 | where y > 2",
        "datatable(a:long, b:string)[1, 'x', 2, 'y', 3, 'x'] | summarize c = count(), s = make_set(a) by b | sort by b asc",
        "print r = range(0, 5), h = hourofday(datetime(2020-01-01 13:00))",
        "print 'svc-sql' has 'svc-', 'Backup_Operator' has 'backup', 'adminuser' has 'admin'",
        "let L = dynamic(['a', 'b']); datatable(s:string)['a', 'c', 'B'] | where s in (L) or s has_any (L)",
        "datatable(a:long)[1,2,3] | summarize count(), dcount(a), max(a), make_list(a)",
        "datatable(d:dynamic)[dynamic({'x':[1,2]})] | mv-expand v = d.x | extend t = tolong(v) * 10",
        "union (datatable(LogonType:int)[10]), (datatable(LogonType:string)['Network'])",
        "datatable(a:long, b:long)[1, 10, 2, 20] | join (datatable(a:long, c:string)[1, 'one']) on a",
        "print case(true, 1, 2)",
        "print case(true, 1, true, 2)",
    ] {
        println!("== {q}\n{}", run(q).await);
    }
}

#[tokio::test]
async fn windows_and_notices() {
    for q in [
        "range x from 1 to 5 step 1 | sort by x asc | extend p = prev(x), n = next(x, 1, -1), r = row_number(), c = row_cumsum(x)",
        "externaldata(a:string)[@'https://example.com/x.csv'] | count",
    ] {
        println!("== {q}\n{}", run(q).await);
    }
}

/// `take` applies before a later sort: Kusto's take "returns up to the
/// specified number of rows" of its input, and `order by`/`top` then sort
/// only those rows (KQL reference, take-operator and sort-operator: each
/// operator works on the output of the one before it). DataFusion's sort
/// pushdown must not turn `take 2 | order by x desc` into a top 2 of all rows.
#[tokio::test]
async fn take_before_sort() {
    use common::check;
    check("range x from 1 to 10 step 1 | take 2 | order by x desc", "x\n2\n1\n").await;
    check("range x from 1 to 10 step 1 | limit 3 | sort by x desc | take 1", "x\n3\n").await;
    check("range x from 1 to 10 step 1 | take 3 | project y = x | order by y desc", "y\n3\n2\n1\n").await;
    check("datatable(x:long)[5, 3, 8, 1, 9, 2] | take 2 | order by x desc", "x\n5\n3\n").await;
    check("datatable(x:long)[5, 3, 8, 1, 9, 2] | take 4 | top 2 by x desc", "x\n8\n5\n").await;
    check("range x from 1 to 10 step 1 | where x > 3 | take 2 | sort by x asc", "x\n4\n5\n").await;
}
