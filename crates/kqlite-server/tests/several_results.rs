//! A query that makes several results (`fork`, `facet`) answers with one
//! primary table per result, as ADX does
//! (`/work/shared/notes/kusto-rest-protocol.md`): v2 one `DataTable` frame
//! each, `TableKind` `PrimaryResult` and `TableName` the result's name; v1
//! `Table_0`, `Table_1`, … with a table of contents naming them.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use kqlite_engine::Session;
use kqlite_server::{Database, Databases, Limits, ServerState, Tokens};
use serde_json::{json, Value};
use std::sync::Arc;
use tower::ServiceExt;

fn state() -> Arc<ServerState> {
    let databases = Databases::new(vec![Database { name: "db".to_string(), session: Session::new() }]);
    ServerState::new(databases, Tokens::default(), Limits::default())
}

async fn post(path: &str, body: Value) -> Value {
    let request =
        Request::post(path).header("content-type", "application/json").body(Body::from(body.to_string())).unwrap();
    let response = kqlite_server::router(state()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Two results, after the fork reference page's named-subquery example.
const FORKED: &str =
    "datatable(State: string, Deaths: long, Injuries: long)['FLORIDA', 2, 10, 'FLORIDA', 0, 3, 'TEXAS', 1, 0] \
                      | fork (where Deaths > 0 | project State, Deaths | as StormsWithDeaths) \
                      (where Injuries > 5 | count)";

#[tokio::test]
async fn v2_sends_one_primary_result_frame_per_result() {
    let frames = post("/v2/rest/query", json!({"db": "db", "csl": FORKED})).await;
    let primaries: Vec<&Value> =
        frames.as_array().unwrap().iter().filter(|f| f["TableKind"] == "PrimaryResult").collect();
    assert_eq!(primaries.len(), 2, "{frames}");
    assert_eq!(primaries[0]["FrameType"], "DataTable");
    assert_eq!(primaries[0]["TableName"], "StormsWithDeaths");
    assert_eq!(primaries[0]["Columns"][1], json!({"ColumnName": "Deaths", "ColumnType": "long"}));
    assert_eq!(primaries[0]["Rows"], json!([["FLORIDA", 2], ["TEXAS", 1]]));
    assert_eq!(primaries[1]["TableName"], "GenericResult");
    assert_eq!(primaries[1]["Rows"], json!([[1]]));
    assert_ne!(primaries[0]["TableId"], primaries[1]["TableId"]);
}

#[tokio::test]
async fn v2_progressive_sends_a_table_header_per_result() {
    let body = json!({"db": "db", "csl": FORKED, "properties": {"Options": {"results_progressive_enabled": true}}});
    let frames = post("/v2/rest/query", body).await;
    let headers: Vec<&Value> = frames.as_array().unwrap().iter().filter(|f| f["FrameType"] == "TableHeader").collect();
    let names: Vec<&Value> = headers.iter().map(|f| &f["TableName"]).collect();
    assert_eq!(names, [&json!("StormsWithDeaths"), &json!("GenericResult")], "{frames}");
}

#[tokio::test]
async fn v1_sends_each_result_and_a_table_of_contents_naming_them() {
    let body = post("/v1/rest/query", json!({"db": "db", "csl": FORKED})).await;
    let tables = body["Tables"].as_array().unwrap();
    let names: Vec<&Value> = tables.iter().map(|t| &t["TableName"]).collect();
    assert_eq!(names, [&json!("Table_0"), &json!("Table_1"), &json!("Table_2"), &json!("Table_3")]);
    assert_eq!(tables[0]["Rows"], json!([["FLORIDA", 2], ["TEXAS", 1]]));
    assert_eq!(tables[1]["Rows"], json!([[1]]));
    let contents = &tables[3]["Rows"];
    assert_eq!((&contents[0][1], &contents[0][2]), (&json!("QueryResult"), &json!("StormsWithDeaths")));
    assert_eq!((&contents[1][1], &contents[1][2]), (&json!("QueryResult"), &json!("GenericResult")));
    assert_eq!((&contents[2][1], &contents[2][2]), (&json!("QueryProperties"), &json!("@ExtendedProperties")));
    // One result: the primary table alone, as before.
    let body = post("/v1/rest/query", json!({"db": "db", "csl": "print x = 1"})).await;
    assert_eq!(body["Tables"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn log_analytics_sends_each_result_by_name() {
    let body = post("/v1/workspaces/db/query", json!({"query": FORKED})).await;
    let names: Vec<&Value> = body["tables"].as_array().unwrap().iter().map(|t| &t["name"]).collect();
    assert_eq!(names, [&json!("StormsWithDeaths"), &json!("GenericResult")], "{body}");
}
