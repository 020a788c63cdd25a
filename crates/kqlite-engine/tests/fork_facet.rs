//! `fork` and `facet` return every table they make, named as Kusto names
//! them. The queries follow the examples of the reference pages
//! (https://learn.microsoft.com/kusto/query/fork-operator and
//! https://learn.microsoft.com/kusto/query/facet-operator) over a small
//! StormEvents-like datatable of our own.

mod common;

use kqlite_engine::output::{cell_text, write, Format};
use kqlite_engine::{QueryResult, Session};

const STORMS: &str = "let StormEvents = datatable(StartTime: datetime, State: string, EventType: string, \
     DeathsDirect: long, DeathsIndirect: long, InjuriesDirect: long, InjuriesIndirect: long) [
    datetime(2007-01-04 12:00), 'ALASKA', 'Heavy Snow', 0, 0, 0, 0,
    datetime(2007-01-05 15:00), 'ALASKA', 'Heavy Snow', 0, 0, 1, 0,
    datetime(2007-02-02 03:17), 'FLORIDA', 'Tornado', 2, 0, 10, 0,
    datetime(2007-03-13 08:20), 'FLORIDA', 'Dense Fog', 0, 0, 3, 0,
    datetime(2007-06-01 10:00), 'FLORIDA', 'Rip Current', 1, 1, 0, 0,
    datetime(2007-01-06 18:00), 'ARIZONA', 'Heavy Rain', 0, 0, 0, 0,
    datetime(2007-09-11 15:26), 'FLORIDA', 'Rip Current', 0, 0, 0, 0];\n";

/// One result table as its name, its column names, and its rows as text.
type Table = (String, Vec<String>, Vec<Vec<String>>);

async fn run(query: &str) -> QueryResult {
    let text = format!("{STORMS}{query}");
    Session::with_partitions(1).query(&text).await.unwrap_or_else(|e| panic!("{query}: {}", e.render(&text, "q")))
}

fn tables_of(result: &QueryResult) -> Vec<Table> {
    result
        .tables()
        .iter()
        .map(|t| {
            let columns = t.columns.iter().map(|c| c.name.clone()).collect();
            let mut rows = Vec::new();
            for batch in t.batches {
                for r in 0..batch.num_rows() {
                    rows.push(
                        t.columns
                            .iter()
                            .enumerate()
                            .map(|(i, c)| cell_text(batch.column(i).as_ref(), r, c.ty))
                            .collect(),
                    );
                }
            }
            (t.name.to_string(), columns, rows)
        })
        .collect()
}

fn rows(rows: &[&[&str]]) -> Vec<Vec<String>> {
    rows.iter().map(|r| r.iter().map(|c| c.to_string()).collect()).collect()
}

fn names(tables: &[Table]) -> Vec<&str> {
    tables.iter().map(|t| t.0.as_str()).collect()
}

/// The reference's "unnamed subqueries" example: two tables, named
/// `GenericResult` and `GenericResult1`.
#[tokio::test]
async fn fork_returns_one_table_per_unnamed_branch() {
    let result = run("StormEvents | where State == 'FLORIDA' | fork \
         (where DeathsDirect + DeathsIndirect > 1 | project EventType, DeathsDirect) \
         (where InjuriesDirect + InjuriesIndirect > 1 | project EventType, InjuriesDirect)")
    .await;
    assert!(result.notices.is_empty(), "{:?}", result.notices);
    let tables = tables_of(&result);
    assert_eq!(names(&tables), ["GenericResult", "GenericResult1"]);
    assert_eq!(tables[0].1, ["EventType", "DeathsDirect"]);
    assert_eq!(tables[0].2, rows(&[&["Tornado", "2"], &["Rip Current", "1"]]));
    assert_eq!(tables[1].1, ["EventType", "InjuriesDirect"]);
    assert_eq!(tables[1].2, rows(&[&["Tornado", "10"], &["Dense Fog", "3"]]));
    // The first table is also the result's own columns and batches.
    assert_eq!(result.name.as_deref(), Some("GenericResult"));
    assert_eq!(result.row_count(), 2);
    assert_eq!(result.further.len(), 1);
}

/// The reference's "named subqueries" examples: `| as Name` at a branch's
/// end, or `Name=(…)`, names its table.
#[tokio::test]
async fn fork_names_tables_by_as_or_by_name() {
    for query in [
        "StormEvents | where State == 'FLORIDA' | fork \
         (where DeathsDirect + DeathsIndirect > 1 | count | as StormsWithDeaths) \
         (where InjuriesDirect + InjuriesIndirect > 1 | count | as StormsWithInjuries)",
        "StormEvents | where State == 'FLORIDA' | fork \
         StormsWithDeaths = (where DeathsDirect + DeathsIndirect > 1 | count) \
         StormsWithInjuries = (where InjuriesDirect + InjuriesIndirect > 1 | count)",
    ] {
        let tables = tables_of(&run(query).await);
        assert_eq!(names(&tables), ["StormsWithDeaths", "StormsWithInjuries"], "{query}");
        assert_eq!(tables[0].1, ["Count"]);
        assert_eq!(tables[0].2, rows(&[&["2"]]));
        assert_eq!(tables[1].2, rows(&[&["2"]]));
    }
}

/// Unnamed branches count among themselves: `GenericResult`,
/// `GenericResult1`, … whatever named branches stand between them.
#[tokio::test]
async fn fork_numbers_only_the_unnamed_branches() {
    let result =
        run("StormEvents | fork (count) Florida=(where State == 'FLORIDA' | count) (take 1 | project State)").await;
    let tables = tables_of(&result);
    assert_eq!(names(&tables), ["GenericResult", "Florida", "GenericResult1"]);
    assert_eq!(tables[0].2, rows(&[&["7"]]));
    assert_eq!(tables[1].2, rows(&[&["4"]]));
    assert_eq!(tables[2].2, rows(&[&["ALASKA"]]));
}

/// The reference's example: the `with` table first, then one table per
/// column of its values and their counts (`Col`, `count_Col`).
#[tokio::test]
async fn facet_returns_the_with_table_and_one_table_per_column() {
    let result = run("StormEvents | where State startswith 'A' and EventType has 'Heavy' \
         | facet by State, EventType \
         with (where StartTime between (datetime(2007-01-04) .. 7d) | project State, StartTime, EventType | take 5)")
    .await;
    assert!(result.notices.is_empty(), "{:?}", result.notices);
    let mut tables = tables_of(&result);
    assert_eq!(names(&tables), ["GenericResult", "State", "EventType"]);
    assert_eq!(tables[0].1, ["State", "StartTime", "EventType"]);
    assert_eq!(
        tables[0].2,
        rows(&[
            &["ALASKA", "2007-01-04T12:00:00Z", "Heavy Snow"],
            &["ALASKA", "2007-01-05T15:00:00Z", "Heavy Snow"],
            &["ARIZONA", "2007-01-06T18:00:00Z", "Heavy Rain"],
        ])
    );
    assert_eq!(tables[1].1, ["State", "count_State"]);
    assert_eq!(tables[2].1, ["EventType", "count_EventType"]);
    // A group's order is not defined.
    tables[1].2.sort();
    tables[2].2.sort();
    assert_eq!(tables[1].2, rows(&[&["ALASKA", "2"], &["ARIZONA", "1"]]));
    assert_eq!(tables[2].2, rows(&[&["Heavy Rain", "1"], &["Heavy Snow", "2"]]));
}

#[tokio::test]
async fn facet_without_with_names_each_table_by_its_column() {
    let mut tables = tables_of(&run("StormEvents | where State == 'FLORIDA' | facet by EventType").await);
    assert_eq!(names(&tables), ["EventType"]);
    tables[0].2.sort();
    assert_eq!(tables[0].2, rows(&[&["Dense Fog", "1"], &["Rip Current", "2"], &["Tornado", "1"]]));
}

/// Operators after a fork read its first table; the others are left out,
/// and a notice says so.
#[tokio::test]
async fn operators_after_fork_read_its_first_table() {
    let result = run("StormEvents | fork (where State == 'FLORIDA') (where State == 'ALASKA') | count").await;
    let tables = tables_of(&result);
    assert_eq!(names(&tables), ["PrimaryResult"]);
    assert_eq!(tables[0].2, rows(&[&["4"]]));
    assert!(result.notices.iter().any(|n| n.contains("GenericResult1")), "{:?}", result.notices);
}

/// An ordinary query keeps one unnamed table.
#[tokio::test]
async fn ordinary_query_has_one_unnamed_table() {
    let result = run("StormEvents | count").await;
    assert!(result.name.is_none() && !result.has_several_tables());
    assert_eq!(names(&tables_of(&result)), ["PrimaryResult"]);
}

fn written(result: &QueryResult, format: Format) -> String {
    let mut out = Vec::new();
    write(result, format, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

/// Every output format writes every table under its name.
#[tokio::test]
async fn output_formats_write_every_table_by_name() {
    let result = run("StormEvents | fork Deaths=(where DeathsDirect > 1 | project State, DeathsDirect) \
         (where InjuriesDirect > 5 | project State)")
    .await;
    assert_eq!(
        written(&result, Format::Csv),
        "# Deaths\nState,DeathsDirect\nFLORIDA,2\n\n# GenericResult\nState\nFLORIDA\n"
    );
    assert_eq!(
        written(&result, Format::Table),
        "# Deaths\nState    DeathsDirect\n-------  ------------\nFLORIDA  2\n\n# GenericResult\nState\n-------\nFLORIDA\n"
    );
    assert_eq!(
        written(&result, Format::Json),
        "{\"tables\":[{\"name\":\"Deaths\",\"columns\":[{\"name\":\"State\",\"type\":\"string\"},\
         {\"name\":\"DeathsDirect\",\"type\":\"long\"}],\"rows\":[[\"FLORIDA\",2]]},\
         {\"name\":\"GenericResult\",\"columns\":[{\"name\":\"State\",\"type\":\"string\"}],\"rows\":[[\"FLORIDA\"]]}]}\n"
    );
    assert_eq!(
        written(&result, Format::Jsonl),
        "{\"table\":\"Deaths\",\"row\":{\"State\":\"FLORIDA\",\"DeathsDirect\":2}}\n\
         {\"table\":\"GenericResult\",\"row\":{\"State\":\"FLORIDA\"}}\n"
    );
}

/// A one-table result is written exactly as before: no heading, no wrapper.
#[tokio::test]
async fn output_of_one_table_is_unchanged() {
    let result = run("StormEvents | where DeathsDirect > 1 | project State, DeathsDirect").await;
    assert_eq!(written(&result, Format::Csv), "State,DeathsDirect\nFLORIDA,2\n");
    assert_eq!(
        written(&result, Format::Json),
        "{\"columns\":[{\"name\":\"State\",\"type\":\"string\"},{\"name\":\"DeathsDirect\",\"type\":\"long\"}],\
         \"rows\":[[\"FLORIDA\",2]]}\n"
    );
    assert_eq!(written(&result, Format::Jsonl), "{\"State\":\"FLORIDA\",\"DeathsDirect\":2}\n");
    assert_eq!(written(&result, Format::Table), "State    DeathsDirect\n-------  ------------\nFLORIDA  2\n");
}

/// The shared CSV helper sees every table too.
#[tokio::test]
async fn csv_helper_shows_every_table() {
    let text = common::run_ok(&format!("{STORMS}StormEvents | fork (count) (where State == 'ARIZONA' | count)")).await;
    assert_eq!(text, "# GenericResult\nCount\n7\n\n# GenericResult1\nCount\n1\n");
}
