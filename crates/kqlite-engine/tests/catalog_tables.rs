//! Tables a session knows by schema only (`Session::set_catalog`): they
//! exist empty, as in a Sentinel workspace, for queries, `union` (with
//! `isfuzzy` and wildcards), suggestions and what queries read.

use kqlite_engine::output::{write, Format};
use kqlite_engine::{ColumnDef, KqlType, Session, TableCatalog};
use std::sync::Arc;

/// Two Defender-like tables and a Security one, known by schema only.
struct TestCatalog;

impl TableCatalog for TestCatalog {
    fn columns(&self, name: &str) -> Option<Vec<ColumnDef>> {
        let c = |n: &str, t| ColumnDef::new(n, t);
        Some(match name {
            "DeviceAlpha" => vec![c("Timestamp", KqlType::Datetime), c("DeviceName", KqlType::String)],
            "DeviceBeta" => vec![c("DeviceName", KqlType::String), c("Score", KqlType::Long)],
            "SecurityThing" => vec![c("TimeGenerated", KqlType::Datetime), c("EventID", KqlType::Int)],
            _ => return None,
        })
    }

    fn names(&self) -> Vec<String> {
        ["DeviceAlpha", "DeviceBeta", "SecurityThing"].map(String::from).to_vec()
    }
}

fn session() -> Session {
    let mut session = Session::with_partitions(1);
    session.set_catalog(Arc::new(TestCatalog));
    session
}

async fn csv(session: &Session, q: &str) -> (String, Vec<String>) {
    let result = session.query(q).await.unwrap_or_else(|e| panic!("{q}: {}", e.render(q, "q")));
    let mut out = Vec::new();
    write(&result, Format::Csv, &mut out).unwrap();
    (String::from_utf8(out).unwrap(), result.notices)
}

#[tokio::test]
async fn a_catalog_table_without_data_is_empty_with_its_columns() {
    let session = session();
    assert_eq!(csv(&session, "DeviceAlpha | count").await.0, "Count\n0\n");
    let columns = session.check("DeviceAlpha").unwrap();
    assert_eq!(columns, TestCatalog.columns("DeviceAlpha").unwrap());
    assert_eq!(csv(&session, "DeviceBeta | where Score > 1 | project DeviceName").await.0, "DeviceName\n");
    // Nothing is registered up front.
    assert!(session.table_names().is_empty());
    assert_eq!(session.known_table_names(), ["DeviceAlpha", "DeviceBeta", "SecurityThing"]);
}

#[tokio::test]
async fn registered_data_takes_the_place_of_the_empty_table() {
    let mut session = session();
    session.define_functions("let Unused = 1;").unwrap();
    let text = "datatable(TimeGenerated: datetime, EventID: int)[datetime(2024-01-01), 4624]";
    let rows = Session::with_partitions(1).query(text).await.unwrap();
    session.register_batches("SecurityThing", rows.columns, rows.batches).unwrap();
    assert_eq!(csv(&session, "SecurityThing | count").await.0, "Count\n1\n");
}

#[tokio::test]
async fn names_are_case_sensitive_and_suggest_catalog_tables() {
    let session = session();
    let error = session.check("devicealpha | count").unwrap_err().to_string();
    assert!(error.contains("did you mean 'DeviceAlpha'"), "{error}");
    let error = session.check("DeviceAlpah").unwrap_err().to_string();
    assert!(error.contains("did you mean 'DeviceAlpha'"), "{error}");
}

#[tokio::test]
async fn fuzzy_union_leaves_out_missing_tables_with_a_notice() {
    let session = session();
    let (out, notices) = csv(&session, "union isfuzzy=true DeviceAlpha, SecurityThing, Nope_CL | count").await;
    assert_eq!(out, "Count\n0\n");
    assert_eq!(notices, ["union isfuzzy=true left out a leg: unknown table 'Nope_CL'"]);
    // Legs that are queries over a missing table, or missing functions, are left out too.
    let q = "union isfuzzy=true (Nope_CL | where x == 1), (DeviceBeta | project Score), NoFunction(1) | count";
    let (out, notices) = csv(&session, q).await;
    assert_eq!(out, "Count\n0\n");
    assert_eq!(notices.len(), 2, "{notices:?}");
    // Without isfuzzy, or when no leg is left, a missing table is an error, as in Kusto.
    for q in ["union Nope_CL", "union DeviceAlpha, Nope_CL", "union isfuzzy=true Nope_CL, Other_CL"] {
        let error = session.check(q).unwrap_err().to_string();
        assert!(error.contains("unknown table 'Nope_CL'"), "{q}: {error}");
    }
    // The input piped into union is a leg.
    let (out, notices) = csv(&session, "DeviceAlpha | union isfuzzy=true Nope_CL | count").await;
    assert_eq!((out.as_str(), notices.len()), ("Count\n0\n", 1));
    // Other errors are not excused.
    let error = session.check("union isfuzzy=true (DeviceAlpha | where NoColumn > 1)").unwrap_err().to_string();
    assert!(error.contains("NoColumn"), "{error}");
}

#[tokio::test]
async fn wildcard_unions_include_catalog_tables_and_merge_their_columns() {
    let session = session();
    // Columns merge by name and type, in order of first appearance.
    let columns: Vec<String> = session.check("union Device*").unwrap().into_iter().map(|c| c.name).collect();
    assert_eq!(columns, ["Timestamp", "DeviceName", "Score"]);
    let q = "union withsource=T Device* | summarize count() by T";
    assert_eq!(csv(&session, q).await.0, "T,count_\n");
    let error = session.check("union Nothing*").unwrap_err().to_string();
    assert!(error.contains("no table matches"), "{error}");
}

#[tokio::test]
async fn what_a_query_reads_from_a_catalog_table_is_known_before_data() {
    let session = session();
    let needs = session.scan_needs("SecurityThing | where EventID == 4624 | project TimeGenerated").unwrap();
    let table = needs.table("SecurityThing").expect("the query reads SecurityThing");
    assert_eq!(table.values_of("EventID").map(|v| v.into_iter().collect::<Vec<_>>()), Some(vec![4624]));
    assert!(needs.table("DeviceAlpha").is_none());
}
