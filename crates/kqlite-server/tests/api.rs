//! The router driven without a network (`tower::ServiceExt::oneshot`): the
//! shapes of v1, v2, mgmt and Log Analytics responses, ADX's type names and
//! value encodings, and bad input.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use datafusion::arrow::array::{ArrayRef, Int64Array, StringArray};
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::{arrow_schema, Clock, ColumnDef, KqlType, Session};
use kqlite_server::{Database, Databases, Limits, ServerState, Tokens};
use serde_json::{json, Value};
use std::sync::Arc;
use std::time::Duration;
use tower::ServiceExt;

const JAN_1: i64 = 1_704_067_200_000_000_000;
const DAY: i64 = 86_400_000_000_000;

/// Database `evidence` with LocalEvents (alice on 2024-01-01, bob on
/// 2024-01-02), now fixed at 2024-01-03; and an empty database `other`.
fn state_with(tokens: Tokens, limits: Limits) -> Arc<ServerState> {
    let columns = vec![
        ColumnDef::new("TimeGenerated".to_string(), KqlType::Datetime),
        ColumnDef::new("Account".to_string(), KqlType::String),
        ColumnDef::new("Count".to_string(), KqlType::Long),
    ];
    let arrays: Vec<ArrayRef> = vec![
        Arc::new(Int64Array::from(vec![JAN_1, JAN_1 + DAY])),
        Arc::new(StringArray::from(vec!["alice", "bob"])),
        Arc::new(Int64Array::from(vec![3, 5])),
    ];
    let batch = RecordBatch::try_new(arrow_schema(&columns), arrays).unwrap();
    let mut session = Session::new();
    session.register_batches("LocalEvents", columns, vec![batch]).unwrap();
    session.set_clock(Clock::Fixed(JAN_1 + 2 * DAY));
    let databases = Databases::new(vec![
        Database { name: "evidence".to_string(), session },
        Database { name: "other".to_string(), session: Session::new() },
    ]);
    ServerState::new(databases, tokens, limits)
}

fn state() -> Arc<ServerState> {
    state_with(Tokens::default(), Limits::default())
}

struct Answer {
    status: StatusCode,
    headers: axum::http::HeaderMap,
    body: Value,
}

async fn send(state: &Arc<ServerState>, request: Request<Body>) -> Answer {
    let response = kqlite_server::router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    let body = serde_json::from_slice(&bytes)
        .unwrap_or_else(|e| panic!("not JSON ({e}): {}", String::from_utf8_lossy(&bytes)));
    Answer { status, headers, body }
}

fn post(path: &str, body: impl Into<Body>) -> Request<Body> {
    Request::post(path).header("content-type", "application/json").body(body.into()).unwrap()
}

async fn post_json(state: &Arc<ServerState>, path: &str, body: Value) -> Answer {
    send(state, post(path, body.to_string())).await
}

fn frame<'a>(frames: &'a Value, kind: &str) -> &'a Value {
    frames.as_array().unwrap().iter().find(|f| f["TableKind"] == kind || f["FrameType"] == kind).unwrap()
}

#[tokio::test]
async fn v2_returns_adx_frames_with_exact_type_names_and_value_encodings() {
    let query = "print dt=datetime(2024-01-02T03:04:05.1234567Z), ts=1d + 2h + 3s + 4ms, neg=-90m, \
                 dyn=dynamic({'a':[1,{'b':null}]}), big=9007199254740993, nan=real(nan), inf=real(-inf), \
                 r=2.5, whole=real(3), g=guid(0f8fad5b-d9cb-469f-a165-70867728950e), dec=decimal(12.5), \
                 nul=long(null), b=true, i=int(7), s='tab\\there'";
    let answer = post_json(&state(), "/v2/rest/query", json!({"db": "evidence", "csl": query})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    let frames = answer.body.as_array().unwrap();
    let kinds: Vec<&str> =
        frames.iter().map(|f| f["TableKind"].as_str().or(f["FrameType"].as_str()).unwrap()).collect();
    assert_eq!(
        kinds,
        ["DataSetHeader", "QueryProperties", "PrimaryResult", "QueryCompletionInformation", "DataSetCompletion"]
    );
    assert_eq!(
        frames[0],
        json!({"FrameType": "DataSetHeader", "IsProgressive": false, "Version": "v2.0",
                                 "IsFragmented": false, "ErrorReportingPlacement": "InData"})
    );
    assert_eq!(frame(&answer.body, "QueryProperties")["TableName"], "@ExtendedProperties");
    let primary = frame(&answer.body, "PrimaryResult");
    let types: Vec<&str> =
        primary["Columns"].as_array().unwrap().iter().map(|c| c["ColumnType"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "datetime", "timespan", "timespan", "dynamic", "long", "real", "real", "real", "real", "guid", "decimal",
            "long", "bool", "int", "string"
        ]
    );
    assert_eq!(
        primary["Rows"],
        json!([["2024-01-02T03:04:05.1234567Z", "1.02:00:03.0040000", "-01:30:00", {"a": [1, {"b": null}]},
                9007199254740993_i64, "NaN", "-Infinity", 2.5, 3.0, "0f8fad5b-d9cb-469f-a165-70867728950e", "12.5",
                null, true, 7, "tab\there"]])
    );
    // `Rows` last in each table frame: the Python client parses the stream.
    let text = answer.body.to_string();
    assert!(text.contains(r#""Columns":[{"ColumnName":"dt","ColumnType":"datetime"}"#) || text.contains("\"Rows\""));
    assert_eq!(frame(&answer.body, "DataSetCompletion")["HasErrors"], false);
}

#[tokio::test]
async fn rows_is_the_last_property_of_every_table_frame() {
    let state = state();
    let response = kqlite_server::router(state.clone())
        .oneshot(post("/v2/rest/query", json!({"csl": "LocalEvents"}).to_string()))
        .await
        .unwrap();
    let text =
        String::from_utf8(axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap().to_vec()).unwrap();
    for line in text.lines().filter(|l| l.contains("\"FrameType\":\"DataTable\"")) {
        let rows_at = line.find("\"Rows\":").unwrap();
        assert!(!line[rows_at..].contains("\"Columns\""), "{line}");
        assert!(!line[rows_at..].contains("\"TableName\""), "{line}");
    }
}

#[tokio::test]
async fn progressive_frames_only_when_the_request_asks() {
    let state = state();
    let plain = post_json(&state, "/v2/rest/query", json!({"csl": "LocalEvents | count"})).await;
    assert!(!plain.body.to_string().contains("TableFragment"));
    let properties = json!({"Options": {"results_progressive_enabled": true}}).to_string();
    let progressive =
        post_json(&state, "/v2/rest/query", json!({"csl": "LocalEvents | count", "properties": properties})).await;
    let types: Vec<&str> =
        progressive.body.as_array().unwrap().iter().map(|f| f["FrameType"].as_str().unwrap()).collect();
    assert_eq!(
        types,
        [
            "DataSetHeader",
            "DataTable",
            "TableHeader",
            "TableFragment",
            "TableCompletion",
            "DataTable",
            "DataSetCompletion"
        ]
    );
    assert_eq!(progressive.body[0]["IsProgressive"], true);
    assert_eq!(progressive.body[3]["Rows"], json!([[2]]));
    assert_eq!(progressive.body[4]["RowCount"], 1);
}

#[tokio::test]
async fn v1_query_takes_grafanas_object_properties_with_lowercase_options() {
    let body = json!({
        "db": "evidence",
        "csl": "LocalEvents | summarize n = sum(Count), earliest = min(TimeGenerated)",
        "properties": {"options": {"ServerTimeout": "00:02:00", "truncationmaxrecords": 10}},
        "querySource": "schema",
    });
    let answer = post_json(&state(), "/v1/rest/query", body).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body,
        json!({"Tables": [{"TableName": "Table_0",
            "Columns": [{"ColumnName": "n", "DataType": "Int64", "ColumnType": "long"},
                        {"ColumnName": "earliest", "DataType": "DateTime", "ColumnType": "datetime"}],
            "Rows": [[8, "2024-01-01T00:00:00.0000000Z"]]}]})
    );
}

#[tokio::test]
async fn show_databases_has_the_documented_column_order_and_takes_pipes() {
    let state = state();
    let answer = post_json(&state, "/v1/rest/mgmt", json!({"db": "other", "csl": ".show databases"})).await;
    let table = &answer.body["Tables"][0];
    let names: Vec<&str> =
        table["Columns"].as_array().unwrap().iter().map(|c| c["ColumnName"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "DatabaseName",
            "PersistentStorage",
            "Version",
            "IsCurrent",
            "DatabaseAccessMode",
            "PrettyName",
            "ReservedSlot1",
            "DatabaseId",
            "InTransitionTo"
        ]
    );
    let rows = table["Rows"].as_array().unwrap();
    assert_eq!(
        rows.iter().map(|r| (r[0].clone(), r[3].clone(), r[5].clone())).collect::<Vec<_>>(),
        [(json!("evidence"), json!(false), json!("evidence")), (json!("other"), json!(true), json!("other"))]
    );
    let count = post_json(&state, "/v1/rest/mgmt", json!({"csl": ".show databases | count"})).await;
    assert_eq!(count.body["Tables"][0]["Rows"], json!([[2]]));
    let projected =
        post_json(&state, "/v1/rest/mgmt", json!({"csl": ".show databases | project DatabaseName, PrettyName"})).await;
    assert_eq!(projected.body["Tables"][0]["Rows"], json!([["evidence", "evidence"], ["other", "other"]]));
    let tables = post_json(&state, "/v1/rest/mgmt", json!({"db": "evidence", "csl": ".show tables | count"})).await;
    assert_eq!(tables.body["Tables"][0]["Rows"], json!([[1]]));
}

#[tokio::test]
async fn schema_commands_answer_as_kqlmagic_ads_and_grafana_read_them() {
    let state = state();
    let schema = post_json(&state, "/v1/rest/mgmt", json!({"csl": ".show database ['evidence'] schema"})).await;
    let rows = schema.body["Tables"][0]["Rows"].as_array().unwrap().clone();
    assert!(
        rows.contains(&json!(["evidence", "LocalEvents", "Count", "System.Int64", false, false, null, null, null, ""])),
        "{rows:?}"
    );
    for command in [".show databases schema as json", ".show database evidence schema as json"] {
        let answer = post_json(&state, "/v1/rest/mgmt", json!({"csl": command})).await;
        let table = &answer.body["Tables"][0];
        assert_eq!(table["Columns"][0]["ColumnType"], "string");
        let cell = table["Rows"][0][0].as_str().expect("one JSON string cell");
        let document: Value = serde_json::from_str(cell).unwrap();
        assert_eq!(
            document["Databases"]["evidence"]["Tables"]["LocalEvents"]["OrderedColumns"],
            json!([{"Name": "TimeGenerated", "Type": "System.DateTime", "CslType": "datetime"},
                   {"Name": "Account", "Type": "System.String", "CslType": "string"},
                   {"Name": "Count", "Type": "System.Int64", "CslType": "long"}])
        );
    }
    let version = post_json(&state, "/v1/rest/mgmt", json!({"csl": ".show version | project BuildVersion"})).await;
    assert_eq!(version.body["Tables"][0]["Rows"][0][0], env!("CARGO_PKG_VERSION"));
    let functions = post_json(&state, "/v1/rest/mgmt", json!({"csl": ".show functions"})).await;
    assert_eq!(functions.status, StatusCode::OK);
    let unknown = post_json(&state, "/v1/rest/mgmt", json!({"csl": ".drop table LocalEvents"})).await;
    assert_eq!(unknown.status, StatusCode::BAD_REQUEST);
    assert!(unknown.body["error"]["@message"].as_str().unwrap().contains("does not support the command"));
}

#[tokio::test]
async fn a_syntax_error_is_a_one_api_semantic_error() {
    let answer = post_json(&state(), "/v2/rest/query", json!({"csl": "LocalEvents | where"})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    let error = &answer.body["error"];
    for key in ["code", "message", "@type", "@message", "@context", "@permanent"] {
        assert!(error.get(key).is_some(), "{key} missing: {error}");
    }
    assert!(error["@message"].as_str().unwrap().starts_with("Semantic error: "), "{error}");
    assert!(error["@message"].as_str().unwrap().contains("line 1"), "{error}");
}

#[tokio::test]
async fn the_client_request_id_is_echoed() {
    let request = Request::post("/v2/rest/query")
        .header("x-ms-client-request-id", "KPC.execute;1234")
        .body(Body::from(json!({"csl": "print 1"}).to_string()))
        .unwrap();
    let answer = send(&state(), request).await;
    assert_eq!(answer.headers["x-ms-client-request-id"], "KPC.execute;1234");
    assert_eq!(frame(&answer.body, "QueryCompletionInformation")["Rows"][0][1], "KPC.execute;1234");
}

#[tokio::test]
async fn query_parameters_bind_declared_names_as_values() {
    let state = state();
    let query = "declare query_parameters(who: string, least: long = 0);\nLocalEvents | where Account == who and Count >= least | project Account";
    let properties = |who: &str, least: Option<&str>| {
        let mut parameters = json!({"who": who});
        if let Some(least) = least {
            parameters["least"] = json!(least);
        }
        json!({"Options": {}, "Parameters": parameters}).to_string()
    };
    let answer =
        post_json(&state, "/v2/rest/query", json!({"csl": query, "properties": properties("bob", None)})).await;
    assert_eq!(frame(&answer.body, "PrimaryResult")["Rows"], json!([["bob"]]));
    let answer =
        post_json(&state, "/v2/rest/query", json!({"csl": query, "properties": properties("bob", Some("6"))})).await;
    assert_eq!(frame(&answer.body, "PrimaryResult")["Rows"], json!([]));
    let injected = properties("' or true or Account == '", None);
    let answer = post_json(&state, "/v2/rest/query", json!({"csl": query, "properties": injected})).await;
    assert_eq!(frame(&answer.body, "PrimaryResult")["Rows"], json!([]), "a string parameter is a value");
    let not_a_long = properties("bob", Some("5 | take 0"));
    let answer = post_json(&state, "/v2/rest/query", json!({"csl": query, "properties": not_a_long})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body["error"]["@message"].as_str().unwrap().contains("is not a long literal"), "{}", answer.body);
}

#[tokio::test]
async fn truncationmaxrecords_cuts_the_result_and_reports_it_inline() {
    let properties = json!({"Options": {"truncationmaxrecords": 3}});
    let answer =
        post_json(&state(), "/v2/rest/query", json!({"csl": "range x from 1 to 10 step 1", "properties": properties}))
            .await;
    let rows = frame(&answer.body, "PrimaryResult")["Rows"].as_array().unwrap().clone();
    assert_eq!(&rows[..3], &[json!([1]), json!([2]), json!([3])]);
    assert!(rows[3]["OneApiErrors"][0]["@message"].as_str().unwrap().contains("E_QUERY_RESULT_SET_TOO_LARGE"));
    assert_eq!(frame(&answer.body, "DataSetCompletion")["HasErrors"], true);
    let unlimited = json!({"Options": {"truncationmaxrecords": 3, "notruncation": true}});
    let answer =
        post_json(&state(), "/v2/rest/query", json!({"csl": "range x from 1 to 10 step 1", "properties": unlimited}))
            .await;
    assert_eq!(frame(&answer.body, "PrimaryResult")["Rows"].as_array().unwrap().len(), 10);
}

#[tokio::test]
async fn log_analytics_shape_and_timespan_restrict_the_tables() {
    let state = state();
    let query = "LocalEvents | project TimeGenerated, Account, Extra = dynamic({'k': [1]}), N = real(nan)";
    let answer = post_json(&state, "/v1/workspaces/any-id/query", json!({"query": query})).await;
    assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
    assert_eq!(
        answer.body["tables"][0]["columns"],
        json!([{"name": "TimeGenerated", "type": "datetime"}, {"name": "Account", "type": "string"},
               {"name": "Extra", "type": "dynamic"}, {"name": "N", "type": "real"}])
    );
    assert_eq!(answer.body["tables"][0]["name"], "PrimaryResult");
    // Log Analytics sends dynamic values as JSON text.
    assert_eq!(
        answer.body["tables"][0]["rows"][0],
        json!(["2024-01-01T00:00:00.0000000Z", "alice", "{\"k\":[1]}", "NaN"])
    );
    let count = |timespan: &str| {
        let state = state.clone();
        let timespan = timespan.to_string();
        async move {
            let answer = post_json(
                &state,
                "/v1/workspaces/evidence/query",
                json!({"query": "LocalEvents | count", "timespan": timespan}),
            )
            .await;
            assert_eq!(answer.status, StatusCode::OK, "{}", answer.body);
            answer.body["tables"][0]["rows"][0][0].as_i64().unwrap()
        }
    };
    // now is 2024-01-03T00:00:00Z.
    assert_eq!(count("PT108000.0S").await, 1);
    assert_eq!(count("P3D").await, 2);
    assert_eq!(count("2024-01-01T12:00:00Z/2024-01-05T00:00:00Z").await, 1);
    assert_eq!(count("2023-12-31T00:00:00.000Z/P1DT12H").await, 1);
    assert_eq!(count("P1D/2024-01-02T00:00:00Z").await, 2);
    let get = Request::get("/v1/workspaces/evidence/query?query=LocalEvents%20%7C%20count&timespan=PT1H")
        .body(Body::empty())
        .unwrap();
    assert_eq!(send(&state, get).await.body["tables"][0]["rows"], json!([[0]]));
}

#[tokio::test]
async fn log_analytics_errors_take_that_apis_shape() {
    let state = state();
    let answer =
        post_json(&state, "/v1/workspaces/w/query", json!({"query": "LocalEvents | where", "timespan": "P1D"})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "BadArgumentError");
    assert_eq!(answer.body["error"]["innererror"]["code"], "SemanticError");
    // Positions are in the query as sent, not after the timespan's restriction.
    assert!(answer.body["error"]["message"].as_str().unwrap().contains("line 1"), "{}", answer.body);
    let answer = post_json(&state, "/v1/workspaces/w/query", json!({"query": "print 1", "timespan": "P1Y"})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert!(answer.body["error"]["message"].as_str().unwrap().contains("timespan"));
    let answer = send(&state, post("/v1/workspaces/w/query", "{not json")).await;
    assert_eq!(answer.body["error"]["code"], "BadArgumentError");
}

#[tokio::test]
async fn malformed_json_is_a_bad_request() {
    let state = state();
    for body in
        ["{\"csl\": ", "[1,2]", "{\"db\": 5, \"csl\": \"print 1\"}", "{\"csl\": \"print 1\", \"properties\": \"{bad\"}"]
    {
        let answer = send(&state, post("/v2/rest/query", body)).await;
        assert_eq!(answer.status, StatusCode::BAD_REQUEST, "{body}");
        assert_eq!(answer.body["error"]["code"], "BadRequest", "{body}");
    }
}

#[tokio::test]
async fn an_oversized_body_is_refused() {
    let state = state_with(Tokens::default(), Limits { max_body_bytes: 1024, ..Limits::default() });
    let query = format!("print x = '{}'", "a".repeat(2000));
    let answer = post_json(&state, "/v2/rest/query", json!({"csl": query})).await;
    assert_eq!(answer.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(answer.body["error"]["code"], "BadRequest_RequestTooLarge");
    let small = post_json(&state, "/v2/rest/query", json!({"csl": "print 1"})).await;
    assert_eq!(small.status, StatusCode::OK);
}

#[tokio::test]
async fn an_unknown_database_is_an_entity_not_found_error() {
    let state = state();
    let answer = post_json(&state, "/v2/rest/query", json!({"db": "NoSuchDb", "csl": "print 1"})).await;
    assert_eq!(answer.status, StatusCode::BAD_REQUEST);
    assert_eq!(answer.body["error"]["code"], "BadRequest_EntityNotFound");
    assert!(answer.body["error"]["@message"].as_str().unwrap().contains("NoSuchDb"));
    let schema = post_json(&state, "/v1/rest/mgmt", json!({"csl": ".show database NoSuchDb schema"})).await;
    assert_eq!(schema.body["error"]["code"], "BadRequest_EntityNotFound");
    // Database names compare ignoring case, as Kusto's do.
    let answer = post_json(&state, "/v2/rest/query", json!({"db": "EVIDENCE", "csl": "LocalEvents | count"})).await;
    assert_eq!(frame(&answer.body, "PrimaryResult")["Rows"], json!([[2]]));
}

/// Minutes of work in little memory (a join of 10^9 rows streamed into a
/// sum), cancelled long before it ends; each probe row matches few rows, so
/// the work yields often and stops soon after it is cancelled.
const SLOW_QUERY: &str = "range x from 1 to 5000000 step 1 | extend k = x % 1000 \
    | join kind=inner (range y from 1 to 200000 step 1 | extend k = y % 1000) on k | summarize sum(x * y)";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_time_budget_is_cancelled() {
    let state = state();
    let slow = SLOW_QUERY;
    let properties = json!({"Options": {"servertimeout": "00:00:00.2"}});
    let started = std::time::Instant::now();
    let answer = post_json(&state, "/v2/rest/query", json!({"csl": slow, "properties": properties})).await;
    assert_eq!(answer.status, StatusCode::REQUEST_TIMEOUT, "{}", answer.body);
    assert!(answer.body["error"]["@message"].as_str().unwrap().contains("time budget"));
    assert!(started.elapsed() < Duration::from_secs(20), "{:?}", started.elapsed());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queries_beyond_the_running_and_queued_limits_are_refused() {
    let limits = Limits { max_concurrent: 1, max_queued: 0, ..Limits::default() };
    let state = state_with(Tokens::default(), limits);
    let slow = json!({"csl": SLOW_QUERY,
                      "properties": {"Options": {"servertimeout": "00:00:03"}}});
    let running = tokio::spawn({
        let state = state.clone();
        async move { post_json(&state, "/v2/rest/query", slow).await.status }
    });
    tokio::time::sleep(Duration::from_millis(500)).await;
    let refused = post_json(&state, "/v2/rest/query", json!({"csl": "print 1"})).await;
    assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "{}", refused.body);
    assert_eq!(running.await.unwrap(), StatusCode::REQUEST_TIMEOUT);
    let after = post_json(&state, "/v2/rest/query", json!({"csl": "print 1"})).await;
    assert_eq!(after.status, StatusCode::OK, "the slot is free again");
}

#[tokio::test]
async fn a_wrong_or_missing_token_is_401_and_the_right_one_is_served() {
    let state = state_with(Tokens::new(["right-token".to_string()]), Limits::default());
    let with = |token: Option<&str>, path: &str, body: Value| {
        let mut request = Request::post(path);
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        request.body(Body::from(body.to_string())).unwrap()
    };
    let query = json!({"csl": "print 1"});
    for token in [None, Some("wrong-token"), Some("right-token2"), Some("right-toke")] {
        let answer = send(&state, with(token, "/v2/rest/query", query.clone())).await;
        assert_eq!(answer.status, StatusCode::UNAUTHORIZED, "{token:?}");
        assert_eq!(answer.headers["www-authenticate"], "Bearer");
        assert_eq!(answer.body["error"]["code"], "Unauthorized");
    }
    let answer = send(&state, with(Some("wrong"), "/v1/workspaces/w/query", json!({"query": "print 1"}))).await;
    assert_eq!(answer.status, StatusCode::UNAUTHORIZED);
    assert_eq!(answer.body["error"]["code"], "AuthorizationRequiredError");
    let answer = send(&state, with(Some("right-token"), "/v2/rest/query", query)).await;
    assert_eq!(answer.status, StatusCode::OK);
}

#[tokio::test]
async fn externaldata_is_refused() {
    let query = "externaldata(x: string) ['file:///etc/passwd'] | take 1";
    let answer = post_json(&state(), "/v2/rest/query", json!({"csl": query})).await;
    assert_eq!(answer.status, StatusCode::FORBIDDEN);
    assert!(answer.body["error"]["@message"].as_str().unwrap().contains("externaldata is refused"));
}

#[tokio::test]
async fn a_non_loopback_bind_without_tokens_is_refused_at_start() {
    let addr: std::net::SocketAddr = "0.0.0.0:0".parse().unwrap();
    let error = kqlite_server::check_bind(addr, &Tokens::default()).unwrap_err();
    assert!(error.to_string().contains("without --token-file"), "{error}");
    let served = kqlite_server::serve(addr, state(), async {}, |_| panic!("must not listen")).await;
    assert!(matches!(served, Err(kqlite_server::ServeError::UnprotectedBind { .. })));
    assert!(kqlite_server::check_bind("127.0.0.1:0".parse().unwrap(), &Tokens::default()).is_ok());
    assert!(kqlite_server::check_bind("[::1]:0".parse().unwrap(), &Tokens::default()).is_ok());
    assert!(kqlite_server::check_bind(addr, &Tokens::new(["t".to_string()])).is_ok());
}

/// Issue 18's bad input: a query over its memory budget. The database's
/// session has a 64 MiB budget; the query builds a 100,000-element array per
/// row of a 100,000-row table, so it must be refused with an error that
/// names the budget, as a Kusto error response, and the server keeps
/// answering.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_over_its_memory_budget_is_an_error_naming_the_budget() {
    let mut session = Session::new();
    session.set_memory_budget(64 << 20);
    let state = ServerState::new(
        Databases::new(vec![Database { name: "evidence".to_string(), session }]),
        Tokens::default(),
        Limits::default(),
    );
    let exhausting = "print a = range(1, 100000) | mv-expand a | extend b = range(1, 100000) | mv-expand b | count";
    let answer = post_json(&state, "/v2/rest/query", json!({"db": "evidence", "csl": exhausting})).await;
    assert_ne!(answer.status, StatusCode::OK, "{}", answer.body);
    let text = answer.body.to_string();
    assert!(text.contains("memory budget"), "the error names the budget: {text}");
    let after = post_json(&state, "/v2/rest/query", json!({"db": "evidence", "csl": "print 1"})).await;
    assert_eq!(after.status, StatusCode::OK, "the server still answers: {}", after.body);
}
