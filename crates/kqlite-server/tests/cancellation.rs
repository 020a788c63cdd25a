//! Prompt cancellation: a query past its time budget, or whose client went
//! away, stops using the CPU soon after; the client gets the API's timeout
//! error. Measured with the server's count of running queries and this
//! process's CPU time (Linux: /proc/self/stat).
//!
//! The tests run one at a time (`SERIAL`): CPU time is per process, and a
//! test running beside another would count its work.

use axum::body::Body;
use axum::http::{Request, StatusCode};
use kqlite_engine::Session;
use kqlite_server::{Database, Databases, Limits, ServerState, Tokens};
use serde_json::{json, Value};
use std::io::Write;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Mutex;
use tower::ServiceExt;

static SERIAL: Mutex<()> = Mutex::const_new(());

/// A cross product of 10^8 rows by 100 array elements (10^10 rows summed):
/// minutes of work, in batches small enough to stop between.
const MINUTES_OF_WORK: &str =
    "range x from 1 to 100000000 step 1 | extend a = range(1, 100, 1) | mv-expand a | summarize sum(tolong(a))";

fn state() -> Arc<ServerState> {
    let databases = Databases::new(vec![Database { name: "evidence".to_string(), session: Session::new() }]);
    ServerState::new(databases, Tokens::default(), Limits::default())
}

/// CPU seconds (user + system) this process has used. USER_HZ is 100 on
/// every Linux ABI.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").expect("/proc/self/stat");
    let fields: Vec<&str> = stat.rsplit_once(')').expect("stat format").1.split_whitespace().collect();
    let ticks: u64 = fields[11].parse::<u64>().unwrap() + fields[12].parse::<u64>().unwrap();
    ticks as f64 / 100.0
}

/// CPU seconds used over the next `window`, after `settle` for the last
/// batch in flight to finish.
async fn cpu_used_over(window: Duration) -> f64 {
    tokio::time::sleep(Duration::from_millis(500)).await;
    let before = cpu_seconds();
    tokio::time::sleep(window).await;
    cpu_seconds() - before
}

async fn wait_until(what: &str, limit: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "{what}: not within {limit:?}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    started.elapsed()
}

async fn post(state: &Arc<ServerState>, path: &str, prefer: Option<&str>, body: Value) -> (StatusCode, Value) {
    let mut request = Request::post(path).header("content-type", "application/json");
    if let Some(prefer) = prefer {
        request = request.header("prefer", prefer);
    }
    let request = request.body(Body::from(body.to_string())).unwrap();
    let response = kqlite_server::router(state.clone()).oneshot(request).await.unwrap();
    let status = response.status();
    let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
    (status, serde_json::from_slice(&bytes).unwrap())
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_past_a_one_second_budget_answers_in_about_a_second_and_stops_working() {
    let _serial = SERIAL.lock().await;
    let state = state();
    let cpu_before = cpu_seconds();
    let started = Instant::now();
    let properties = json!({"Options": {"servertimeout": "00:00:01"}});
    let (status, body) =
        post(&state, "/v2/rest/query", None, json!({"csl": MINUTES_OF_WORK, "properties": properties})).await;
    let elapsed = started.elapsed();
    let cpu_during = cpu_seconds() - cpu_before;
    assert_eq!(status, StatusCode::REQUEST_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "RequestTimeout");
    assert_eq!(body["error"]["@type"], "Kusto.Data.Exceptions.QueryTimeoutException");
    assert!(body["error"]["@message"].as_str().unwrap().contains("time budget of 1000 ms"), "{body}");
    assert_eq!(body["error"]["@permanent"], false);
    // About a second; the slack is for a loaded test machine.
    assert!(elapsed >= Duration::from_secs(1) && elapsed < Duration::from_secs(5), "{elapsed:?}");
    assert!(cpu_during > 0.05, "the query did work before its budget ended ({cpu_during:.2} s CPU)");
    assert_eq!(state.running_queries(), 0, "the query's work was dropped with the answer");
    let idle = cpu_used_over(Duration::from_secs(1)).await;
    eprintln!("timeout: answered in {elapsed:?} using {cpu_during:.2} CPU s; {idle:.2} CPU s in the next second");
    assert!(idle < 0.2, "the server kept working after the timeout: {idle:.2} CPU s in the next second");
}

#[cfg(target_os = "linux")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_query_whose_client_disconnects_stops_working() {
    let _serial = SERIAL.lock().await;
    let state = state();
    let (listening, address) = tokio::sync::oneshot::channel();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(kqlite_server::serve(
        "127.0.0.1:0".parse().unwrap(),
        state.clone(),
        async move {
            let _ = stopped.await;
        },
        move |addr| {
            let _ = listening.send(addr);
        },
    ));
    let addr = address.await.expect("the server listens");
    // No servertimeout: the default budget is minutes, so only the
    // disconnect can stop this query.
    let body = json!({"csl": MINUTES_OF_WORK}).to_string();
    let mut client = std::net::TcpStream::connect(addr).unwrap();
    write!(
        client,
        "POST /v2/rest/query HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    wait_until("the query starts", Duration::from_secs(10), || state.running_queries() == 1).await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(state.running_queries(), 1, "still running while the client waits");
    drop(client);
    let stopped_after = wait_until("the query stops", Duration::from_secs(5), || state.running_queries() == 0).await;
    let idle = cpu_used_over(Duration::from_secs(1)).await;
    eprintln!("disconnect: stopped {stopped_after:?} after the client left; {idle:.2} CPU s in the next second");
    assert!(idle < 0.2, "the server kept working after the client left: {idle:.2} CPU s ({stopped_after:?} to stop)");
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn log_analytics_takes_its_budget_from_prefer_wait_and_times_out_with_504() {
    let _serial = SERIAL.lock().await;
    let state = state();
    let started = Instant::now();
    let (status, body) = post(
        &state,
        "/v1/workspaces/any/query",
        Some("include-statistics=true, wait=1"),
        json!({"query": MINUTES_OF_WORK}),
    )
    .await;
    assert_eq!(status, StatusCode::GATEWAY_TIMEOUT, "{body}");
    assert_eq!(body["error"]["code"], "GatewayTimeout");
    assert_eq!(body["error"]["innererror"]["code"], "QueryTimeout");
    assert!(started.elapsed() < Duration::from_secs(5), "{:?}", started.elapsed());
    assert_eq!(state.running_queries(), 0);
    let (status, body) = post(&state, "/v1/workspaces/any/query", Some("wait=30"), json!({"query": "print 1"})).await;
    assert_eq!(status, StatusCode::OK, "{body}");
}
