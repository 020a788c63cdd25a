//! The last failing documentation examples outside geo, and the operator
//! list `kqlite functions --operators` prints.
mod common;

use kqlite_engine::binder::SUPPORTED_OPERATORS;
use kqlite_syntax::operators::OperatorKeyword;

/// One query that uses each operator keyword, so each keyword of
/// [`OperatorKeyword::ALL`] can be bound.
fn query_using(keyword: OperatorKeyword) -> &'static str {
    use OperatorKeyword::*;
    match keyword {
        Where => "print a = 1 | where a == 1",
        Filter => "print a = 1 | filter a == 1",
        Extend => "print a = 1 | extend b = a",
        Project => "print a = 1 | project a",
        ProjectAway => "print a = 1, b = 2 | project-away b",
        ProjectKeep => "print a = 1, b = 2 | project-keep a",
        ProjectRename => "print a = 1 | project-rename b = a",
        ProjectReorder => "print a = 1, b = 2 | project-reorder b",
        ProjectSmart => "print a = 1 | project-smart",
        ProjectByNames => "print a = 1 | project-by-names ('a')",
        Summarize => "print a = 1 | summarize count() by a",
        Join => "print a = 1 | join (print a = 1) on a",
        Lookup => "print a = 1 | lookup (print a = 1, b = 2) on a",
        Union => "print a = 1 | union (print a = 2)",
        MvExpand => "print a = dynamic([1, 2]) | mv-expand a",
        MvExpandLegacy => "print a = dynamic([1, 2]) | mvexpand a",
        MvApply => "print a = dynamic([1, 2]) | mv-apply a on (take 1)",
        Parse => "print s = 'a=1' | parse s with 'a=' a:long",
        ParseWhere => "print s = 'a=1' | parse-where s with 'a=' a:long",
        ParseKv => "print s = 'a=1' | parse-kv s as (a:long) with (pair_delimiter=',', kv_delimiter='=')",
        Evaluate => "print a = 1, b = 2 | evaluate narrow()",
        MakeSeries => "print a = 1, t = datetime(2024-01-01) | make-series count() on t step 1d",
        Top => "print a = 1 | top 1 by a",
        TopNested => "print a = 1 | top-nested 1 of a by count()",
        TopHitters => "print a = 1 | top-hitters 1 of a",
        Take => "print a = 1 | take 1",
        Limit => "print a = 1 | limit 1",
        Sort => "print a = 1 | sort by a",
        Order => "print a = 1 | order by a",
        Distinct => "print a = 1 | distinct a",
        Count => "print a = 1 | count",
        As => "print a = 1 | as T",
        Serialize => "print a = 1 | serialize",
        Render => "print a = 1 | render table",
        Sample => "print a = 1 | sample 1",
        SampleDistinct => "print a = 1 | sample-distinct 1 of a",
        GetSchema => "print a = 1 | getschema",
        Partition => "print a = 1 | partition by a (take 1)",
        Facet => "print a = 1 | facet by a",
        Invoke => "let f = (T: (a: long)) { T | take 1 }; print a = 1 | invoke f()",
        Fork => "print a = 1 | fork (take 1) (count)",
        Reduce => "print s = 'abc' | reduce by s",
        Consume => "print a = 1 | consume",
        Search => "print a = 1 | search 'x'",
        Scan => "print a = 1 | scan with (step s: a == 1;)",
        Print => "print a = 1",
        Range => "range a from 1 to 2 step 1",
        Datatable => "datatable(a: long) [1]",
        ExternalData => "externaldata(a: string) ['https://example.com/x.csv']",
        ExternalDataUnderscore => "external_data(a: string) ['https://example.com/x.csv']",
        Find => "let T = datatable(a: long) [1]; find in (T) where a == 1",
        MakeGraph => "print a = 1 | make-graph a --> a with_node_id = a",
        GraphMatch => "print a = 1 | make-graph a --> a | graph-match (x)-->(y) project x",
        GraphMerge => "graph-merge",
        GraphToTable => "print a = 1 | make-graph a --> a | graph-to-table nodes",
        GraphShortestPaths => "print a = 1 | make-graph a --> a | graph-shortest-paths (x)-[e*1..2]->(y) project x",
        GraphMarkComponents => "print a = 1 | make-graph a --> a | graph-mark-components",
        PartitionBy => "partition-by",
        ExecuteAndCache => "execute-and-cache",
    }
}

/// `SUPPORTED_OPERATORS` is exactly the keywords whose query binds: a
/// listed operator that fails, or an unlisted one that runs, fails here.
#[tokio::test]
async fn supported_operators_are_exactly_those_that_bind() {
    let mut wrong = Vec::new();
    for &keyword in OperatorKeyword::ALL {
        let listed = SUPPORTED_OPERATORS.contains(&keyword.as_str());
        let q = query_using(keyword);
        let out = common::run(q).await;
        let binds = !out.starts_with("ERROR");
        if listed != binds {
            wrong.push(format!("{} (listed: {listed}): {q} → {}", keyword.as_str(), out.lines().next().unwrap_or("")));
        }
    }
    assert!(wrong.is_empty(), "SUPPORTED_OPERATORS drifted:\n{}", wrong.join("\n"));
}

/// The buildschema page's example: the union of keys, each key's types as
/// an array when there are several, array elements under `indexer`.
#[tokio::test]
async fn buildschema_follows_the_reference_example() {
    let q = r#"datatable(value: dynamic) [
        dynamic({"x":1, "y":3.5}),
        dynamic({"x":"somevalue", "z":[1, 2, 3]}),
        dynamic({"y":{"w":"zzz"}, "t":["aa", "bb"], "z":["foo"]})
    ] | summarize buildschema(value)"#;
    let out = common::run_ok(q).await;
    let cell = out.lines().nth(1).unwrap_or("").to_string();
    let expected = r#"{"x":["long","string"],"y":["double",{"w":"string"}],"z":{"`indexer`":["long","string"]},"t":{"`indexer`":"string"}}"#;
    let cell = cell.trim_matches('"').replace("\"\"", "\"");
    assert_eq!(cell, expected);
}

/// parse-operator.md, kind=relaxed: a typed column whose text does not
/// convert is null, and the rest of the pattern still matches.
#[tokio::test]
async fn relaxed_parse_nulls_only_the_column_that_does_not_convert() {
    common::check(
        r#"datatable(s: string) ["a=x, b=5", "a=1, b=2"] | parse kind=relaxed s with "a=" a: long ", b=" b: long"#,
        "s,a,b\n\"a=x, b=5\",,5\n\"a=1, b=2\",1,2\n",
    )
    .await;
}

/// The domain punycode pages: punycode_domain_to_string encodes (its
/// example) and punycode_domain_from_string decodes (its example).
#[tokio::test]
async fn punycode_domain_functions_run_as_their_pages_say() {
    common::check(
        "print e = punycode_domain_to_string(\"Kaledvoulc'h.Artorījos.edu\"), d = punycode_domain_from_string('xn--Ge-mia.Bulg.edu')",
        "e,d\nKaledvoulc'h.xn--Artorjos-ejb.edu,Gáe.Bulg.edu\n",
    )
    .await;
}

/// parse-operator.md's kind=relaxed example (its documented rows, here in
/// the input's order): a `long` or `date` whose text does not convert is
/// null, and the match goes on with the rest of the pattern.
#[tokio::test]
async fn relaxed_parse_follows_the_reference_example() {
    common::check(
        r#"let Traces=datatable(EventText: string)
    [
    "Event: NotifySliceRelease (resourceName=PipelineScheduler, totalSlices=27, sliceNumber=23, lockTime=02/17/2016 08:40:01, releaseTime=nonValidDateTime 08:40:01, previousLockTime=02/17/2016 08:39:01)",
    "Event: NotifySliceRelease (resourceName=PipelineScheduler, totalSlices=27, sliceNumber=15, lockTime=02/17/2016 08:40:00, releaseTime=nonValidDateTime, previousLockTime=02/17/2016 08:39:00)",
    "Event: NotifySliceRelease (resourceName=PipelineScheduler, totalSlices=nonValidLongValue, sliceNumber=20, lockTime=02/17/2016 08:40:01, releaseTime=nonValidDateTime 08:40:01, previousLockTime=02/17/2016 08:39:01)",
    "Event: NotifySliceRelease (resourceName=PipelineScheduler, totalSlices=27, sliceNumber=22, lockTime=02/17/2016 08:41:01, releaseTime=02/17/2016 08:41:00, previousLockTime=02/17/2016 08:40:01)",
    "Event: NotifySliceRelease (resourceName=PipelineScheduler, totalSlices=nonValidLongValue, sliceNumber=16, lockTime=02/17/2016 08:41:00, releaseTime=02/17/2016 08:41:00, previousLockTime=02/17/2016 08:40:00)"
];
Traces
| parse kind=relaxed EventText with * "resourceName=" resourceName ", totalSlices=" totalSlices: long ", sliceNumber=" sliceNumber: long * "lockTime=" lockTime ", releaseTime=" releaseTime: date "," * "previousLockTime=" previousLockTime: date ")" *
| project-away EventText"#,
        "resourceName,totalSlices,sliceNumber,lockTime,releaseTime,previousLockTime\n\
         PipelineScheduler,27,23,02/17/2016 08:40:01,,2016-02-17T08:39:01Z\n\
         PipelineScheduler,27,15,02/17/2016 08:40:00,,2016-02-17T08:39:00Z\n\
         PipelineScheduler,,20,02/17/2016 08:40:01,,2016-02-17T08:39:01Z\n\
         PipelineScheduler,27,22,02/17/2016 08:41:01,2016-02-17T08:41:00Z,2016-02-17T08:40:01Z\n\
         PipelineScheduler,,16,02/17/2016 08:41:00,2016-02-17T08:41:00Z,2016-02-17T08:40:00Z\n",
    )
    .await;
}
