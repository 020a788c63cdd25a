//! A query's `render` in REST responses, as ADX sends it: the
//! `Visualization` row of v2's `@ExtendedProperties` table, and in v1 the
//! `@ExtendedProperties` table with its table of contents
//! (`/work/shared/notes/kusto-rest-protocol.md`); and in a Log Analytics
//! response, the `render` property when `Prefer: include-render=true` asks.

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

async fn post(path: &str, csl: &str) -> Value {
    let request = Request::post(path)
        .header("content-type", "application/json")
        .body(Body::from(json!({"db": "db", "csl": csl}).to_string()))
        .unwrap();
    let response = kqlite_server::router(state()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

const RENDERED: &str = "datatable(State: string, n: long)['TEXAS', 3, 'IOWA', 1] \
                        | render columnchart with (title='Storms', ycolumns=n, kind=stacked)";

/// The v2 `@ExtendedProperties` row: `[1, "Visualization", {…}]`, the
/// value an object with ADX's keys (not a string).
#[tokio::test]
async fn v2_sends_the_render_properties() {
    let frames = post("/v2/rest/query", RENDERED).await;
    let properties = frames.as_array().unwrap().iter().find(|f| f["TableName"] == "@ExtendedProperties").unwrap();
    let row = &properties["Rows"][0];
    assert_eq!((&row[0], &row[1]), (&json!(1), &json!("Visualization")));
    let value = &row[2];
    assert_eq!(value["Visualization"], "columnchart");
    assert_eq!(value["Title"], "Storms");
    assert_eq!(value["YColumns"], "n");
    assert_eq!(value["Kind"], "stacked");
    assert_eq!(value["Ymin"], "NaN");
    assert_eq!(value["Accumulate"], false);
    // Without render: every property null, as ADX sends it.
    let frames = post("/v2/rest/query", "print x = 1").await;
    let properties = frames.as_array().unwrap().iter().find(|f| f["TableName"] == "@ExtendedProperties").unwrap();
    assert!(properties["Rows"][0][2]["Visualization"].is_null());
    assert_eq!(properties["Rows"][0][2]["IsQuerySorted"], false);
}

/// v1: the primary table, `@ExtendedProperties` (its `Value` cell the
/// JSON text) and the table of contents naming both; without render, the
/// primary table alone.
#[tokio::test]
async fn v1_sends_extended_properties_and_a_table_of_contents() {
    let body = post("/v1/rest/query", RENDERED).await;
    let tables = body["Tables"].as_array().unwrap();
    assert_eq!(tables.len(), 3);
    assert_eq!(tables[0]["Rows"], json!([["TEXAS", 3], ["IOWA", 1]]));
    let value: Value = serde_json::from_str(tables[1]["Rows"][0][0].as_str().unwrap()).unwrap();
    assert_eq!(value["Visualization"], "columnchart");
    assert_eq!(value["Title"], "Storms");
    let names: Vec<&Value> = tables[2]["Rows"].as_array().unwrap().iter().map(|r| &r[2]).collect();
    assert_eq!(names, [&json!("PrimaryResult"), &json!("@ExtendedProperties")]);
    let body = post("/v1/rest/query", "print x = 1").await;
    assert_eq!(body["Tables"].as_array().unwrap().len(), 1);
}

async fn logs_post(prefer: Option<&str>, query: &str) -> Value {
    let mut request = Request::post("/v1/workspaces/db/query").header("content-type", "application/json");
    if let Some(prefer) = prefer {
        request = request.header("prefer", prefer);
    }
    let request = request.body(Body::from(json!({"query": query}).to_string())).unwrap();
    let response = kqlite_server::router(state()).oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    serde_json::from_slice(&bytes).unwrap()
}

/// Log Analytics sends `render` only when asked, with the documented
/// camel-cased keys (`visualization`, `title`, `kind`, …); `;` separates
/// preferences as the Java client writes them.
#[tokio::test]
async fn log_analytics_sends_render_when_the_prefer_header_asks() {
    let body = logs_post(Some("wait=30;include-render=true"), RENDERED).await;
    let render = &body["render"];
    assert_eq!(render["visualization"], "columnchart");
    assert_eq!(render["title"], "Storms");
    assert_eq!(render["kind"], "stacked");
    assert_eq!(render["yColumns"], json!(["n"]));
    assert_eq!(render["accumulate"], false);
    assert_eq!(render["isQuerySorted"], false);
    assert!(render["by"].is_null());
    assert!(body.get("statistics").is_none());
    assert_eq!(body["tables"][0]["rows"], json!([["TEXAS", 3], ["IOWA", 1]]));
    // Not asked, or asked of a query without render: no `render`.
    assert!(logs_post(None, RENDERED).await.get("render").is_none());
    assert!(logs_post(Some("include-render=true"), "print x = 1").await.get("render").is_none());
    let body = logs_post(Some("include-render=false, include-statistics=true"), RENDERED).await;
    assert!(body.get("render").is_none());
    assert!(body["statistics"]["query"]["executionTime"].as_f64().is_some_and(|s| s >= 0.0));
}
