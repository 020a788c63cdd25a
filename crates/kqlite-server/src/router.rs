//! The HTTP routes: Kusto's `/v2/rest/query`, `/v1/rest/query` and
//! `/v1/rest/mgmt`, Log Analytics' `/v1/workspaces/{id}/query`; the
//! request-size limit, Bearer tokens, the echoed `x-ms-client-request-id`
//! and an access log line per request on stderr.

use crate::auth::Tokens;
use crate::commands;
use crate::database::{Database, Databases};
use crate::encode::{self, Dialect, EncodedTable, V2Extras};
use crate::error::{ApiError, ErrorKind, ServeError};
use crate::limits::{self, Limits, QueryGate, RunningQueries};
use crate::log_analytics::{self, LogsRequest, Preferences};
use crate::parameters;
use crate::request::KustoRequest;
use axum::body::Bytes;
use axum::extract::rejection::BytesRejection;
use axum::extract::{ConnectInfo, DefaultBodyLimit, Path, Query, Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::Router;
use kqlite_engine::{QueryResult, Visualization};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What every request handler shares.
pub struct ServerState {
    pub databases: Databases,
    pub tokens: Tokens,
    pub limits: Limits,
    gate: QueryGate,
    running: RunningQueries,
}

impl ServerState {
    pub fn new(databases: Databases, tokens: Tokens, limits: Limits) -> Arc<ServerState> {
        let gate = QueryGate::new(&limits);
        Arc::new(ServerState { databases, tokens, limits, gate, running: RunningQueries::default() })
    }

    /// Queries executing now: a query stops counting when its work is
    /// dropped (it ended, ran past its budget, or its client went away).
    pub fn running_queries(&self) -> usize {
        self.running.count()
    }
}

const CLIENT_REQUEST_ID: &str = "x-ms-client-request-id";

/// The routes, with the size limit, tokens and access log applied.
pub fn router(state: Arc<ServerState>) -> Router {
    let body_limit = state.limits.max_body_bytes;
    Router::new()
        .route("/v2/rest/query", post(v2_query))
        .route("/v1/rest/query", post(v1_query))
        .route("/v1/rest/mgmt", post(v1_mgmt))
        .route("/v1/workspaces/{workspace}/query", post(logs_post).get(logs_get))
        .layer(middleware::from_fn_with_state(state.clone(), guard))
        .layer(DefaultBodyLimit::max(body_limit))
        .with_state(state)
}

/// Listens on `addr` (refused when it is not loopback and there are no
/// tokens) and serves until `shutdown` completes, finishing requests in flight.
pub async fn serve(
    addr: SocketAddr,
    state: Arc<ServerState>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
    on_listening: impl FnOnce(SocketAddr),
) -> Result<(), ServeError> {
    limits::check_bind(addr, &state.tokens)?;
    let listener = tokio::net::TcpListener::bind(addr).await.map_err(|source| ServeError::Listen { addr, source })?;
    on_listening(listener.local_addr()?);
    axum::serve(listener, router(state).into_make_service_with_connect_info::<SocketAddr>())
        .with_graceful_shutdown(shutdown)
        .await?;
    Ok(())
}

fn is_log_analytics(path: &str) -> bool {
    path.starts_with("/v1/workspaces/")
}

fn error_response(error: &ApiError, log_analytics: bool) -> Response {
    let (status, body) = if log_analytics {
        (error.log_analytics_status(), error.log_analytics_body())
    } else {
        (error.status(), error.kusto_body())
    };
    let mut response =
        (status, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body.to_string()).into_response();
    if error.kind == ErrorKind::Unauthorized {
        response.headers_mut().insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    }
    response
}

fn json_response(body: String) -> Response {
    (StatusCode::OK, [(header::CONTENT_TYPE, "application/json; charset=utf-8")], body).into_response()
}

/// One access log line, written when the request is answered, or when it
/// is dropped unanswered because its client closed the connection (hyper
/// then drops the handler, and with it the query's work).
struct AccessLine {
    started: Instant,
    method: axum::http::Method,
    path: String,
    remote: Option<String>,
    request_id: Option<String>,
    status: Option<StatusCode>,
}

impl AccessLine {
    fn of(request: &Request) -> AccessLine {
        AccessLine {
            started: Instant::now(),
            method: request.method().clone(),
            path: request.uri().path().to_string(),
            remote: request.extensions().get::<ConnectInfo<SocketAddr>>().map(|c| c.0.to_string()),
            request_id: request.headers().get(CLIENT_REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_string),
            status: None,
        }
    }
}

impl Drop for AccessLine {
    fn drop(&mut self) {
        // 499 is the conventional log code for "client closed the request".
        let status = match self.status {
            Some(status) => status.as_u16().to_string(),
            None => "499 (client closed the connection; request cancelled)".to_string(),
        };
        eprintln!(
            "kqlite serve: {} {} {} {status} {} ms{}",
            self.remote.as_deref().unwrap_or("-"),
            self.method,
            self.path,
            self.started.elapsed().as_millis(),
            self.request_id.as_ref().map(|id| format!(" request-id={id}")).unwrap_or_default()
        );
    }
}

/// Tokens, the echoed request id and the access log, around every route.
async fn guard(State(state): State<Arc<ServerState>>, request: Request, next: Next) -> Response {
    let mut line = AccessLine::of(&request);
    let path = line.path.clone();
    let request_id = request.headers().get(CLIENT_REQUEST_ID).cloned();
    let authorization = request.headers().get(header::AUTHORIZATION).and_then(|v| v.to_str().ok());
    let mut response = if state.tokens.accepts(authorization) {
        next.run(request).await
    } else {
        let error = ApiError::new(ErrorKind::Unauthorized, "a valid Bearer token is required (Authorization header)");
        error_response(&error, is_log_analytics(&path))
    };
    if let Some(id) = &request_id {
        response.headers_mut().insert(CLIENT_REQUEST_ID, id.clone());
    }
    line.status = Some(response.status());
    response
}

/// The body, or the error for one that is too large or unreadable.
fn body_bytes(body: Result<Bytes, BytesRejection>) -> Result<Bytes, ApiError> {
    body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            ApiError::new(ErrorKind::TooLarge, "the request body is larger than the server accepts")
        } else {
            ApiError::new(ErrorKind::BadRequest, format!("cannot read the request body: {rejection}"))
        }
    })
}

fn request_id(headers: &HeaderMap) -> Option<String> {
    headers.get(CLIENT_REQUEST_ID).and_then(|v| v.to_str().ok()).map(str::to_string)
}

/// Refuses what a server never does: `externaldata` would fetch URIs.
fn refuse_file_access(text: &str) -> Result<(), ApiError> {
    let lexed = kqlite_syntax::lexer::lex(text);
    let reads_outside = lexed.tokens.iter().any(|t| {
        t.kind == kqlite_syntax::lexer::TokenKind::Ident
            && matches!(&text[t.span.start as usize..t.span.end as usize], "externaldata" | "external_data")
    });
    if reads_outside {
        return Err(ApiError::new(
            ErrorKind::Forbidden,
            "externaldata is refused by kqlite serve: queries read only the served databases",
        ));
    }
    Ok(())
}

/// Runs `text` on `database` within the time budget and the concurrency gate.
///
/// Cancellation: the query's work is this future (DataFusion's streams, and
/// the tasks they spawn, which abort when dropped), so dropping it, when the
/// budget ends or hyper drops the handler of a closed connection, stops the
/// work at its next batch. It runs on no `spawn_blocking` thread that would
/// outlive it.
async fn run_query(
    state: &ServerState,
    database: &Database,
    text: &str,
    budget: Duration,
) -> Result<QueryResult, ApiError> {
    refuse_file_access(text)?;
    limits::within(budget, async {
        let _slot = state.gate.admit().await?;
        let _running = state.running.enter();
        database.session.query(text).await.map_err(|e| ApiError::from_query(&e, text))
    })
    .await
}

fn budget(state: &ServerState, request: &KustoRequest) -> Duration {
    request.options.server_timeout.unwrap_or(state.limits.default_timeout).min(state.limits.max_timeout)
}

fn database_of<'a>(state: &'a ServerState, request: &KustoRequest) -> Result<&'a Database, ApiError> {
    state
        .databases
        .get(request.db.as_deref())
        .ok_or_else(|| commands::unknown_database(request.db.as_deref().unwrap_or_default()))
}

fn is_command(text: &str) -> bool {
    text.trim_start().starts_with('.')
}

/// A Kusto query or command's primary tables (a command's one, a query's
/// one per result), and the query's `render`.
async fn kusto_primary(
    state: &ServerState,
    request: &KustoRequest,
) -> Result<(Vec<EncodedTable>, Option<Visualization>), ApiError> {
    let database = database_of(state, request)?;
    if is_command(&request.csl) {
        return Ok((vec![commands::run(&request.csl, &state.databases, database, Dialect::Kusto).await?], None));
    }
    let text = parameters::apply(&request.csl, &request.parameters)?;
    let result = run_query(state, database, &text, budget(state, request)).await?;
    let limit = if request.options.no_truncation {
        None
    } else {
        Some(request.options.truncation_max_records.unwrap_or(state.limits.default_max_records))
    };
    Ok((EncodedTable::primary_results(&result, limit, Dialect::Kusto), result.visualization))
}

fn truncation_error(table: &EncodedTable) -> ApiError {
    ApiError::new(
        ErrorKind::Runtime,
        format!(
            "Query result set has exceeded the internal record count limit {} (E_QUERY_RESULT_SET_TOO_LARGE; \
             {} more rows): set truncationmaxrecords or notruncation, or reduce the result",
            table.row_count, table.truncated
        ),
    )
}

async fn v2_query(
    State(state): State<Arc<ServerState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let answer = async {
        let request = KustoRequest::parse(&body_bytes(body)?)?;
        let (tables, visualization) = kusto_primary(&state, &request).await?;
        Ok::<_, ApiError>((request, tables, visualization))
    }
    .await;
    match answer {
        Ok((request, tables, visualization)) => {
            let id = request_id(&headers);
            let truncation = tables.iter().find(|t| t.truncated > 0).map(truncation_error);
            let extras = V2Extras {
                client_request_id: id.as_deref(),
                progressive: request.options.progressive,
                error: truncation.as_ref(),
                visualization: visualization.as_ref(),
            };
            json_response(encode::v2_body(&tables, &extras))
        }
        Err(error) => error_response(&error, false),
    }
}

async fn v1_query(State(state): State<Arc<ServerState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let answer = async {
        let request = KustoRequest::parse(&body_bytes(body)?)?;
        let (tables, visualization) = kusto_primary(&state, &request).await?;
        Ok::<_, ApiError>(encode::v1_query_tables(tables, visualization.as_ref()))
    }
    .await;
    match answer {
        Ok(tables) => json_response(encode::v1_body(&tables)),
        Err(error) => error_response(&error, false),
    }
}

async fn v1_mgmt(State(state): State<Arc<ServerState>>, body: Result<Bytes, BytesRejection>) -> Response {
    let answer = async {
        let request = KustoRequest::parse(&body_bytes(body)?)?;
        if !is_command(&request.csl) {
            return Err(ApiError::new(
                ErrorKind::BadRequest,
                "/v1/rest/mgmt runs control commands (text starting with '.'); send queries to /v2/rest/query",
            ));
        }
        let database = database_of(&state, &request)?;
        commands::run(&request.csl, &state.databases, database, Dialect::Kusto).await
    }
    .await;
    match answer {
        Ok(table) => json_response(encode::v1_body(&[table])),
        Err(error) => error_response(&error, false),
    }
}

/// The database a workspace id names, else the default one (workspace ids
/// are GUIDs a local server does not have).
fn workspace_database<'a>(state: &'a ServerState, workspace: &str) -> Result<&'a Database, ApiError> {
    state
        .databases
        .all()
        .iter()
        .find(|d| d.name.eq_ignore_ascii_case(workspace))
        .or_else(|| state.databases.default_database())
        .ok_or_else(|| commands::unknown_database(workspace))
}

/// The time budget a Log Analytics request asks for with `Prefer: wait=N`
/// (seconds, as azure-monitor-query's `server_timeout` sends it), within the
/// server's maximum; else the server's default.
fn logs_budget(state: &ServerState, preferences: &Preferences) -> Duration {
    preferences.wait_seconds.map_or(state.limits.default_timeout, Duration::from_secs_f64).min(state.limits.max_timeout)
}

fn preferences(headers: &HeaderMap) -> Preferences {
    Preferences::parse(headers.get_all("prefer").iter().filter_map(|v| v.to_str().ok()))
}

/// A Log Analytics answer: its tables, and what the `Prefer` header asked
/// to add (`render`, `statistics`).
struct LogsAnswer {
    tables: Vec<EncodedTable>,
    render: Option<serde_json::Value>,
    statistics: Option<serde_json::Value>,
}

async fn logs_answer(
    state: &ServerState,
    workspace: &str,
    request: LogsRequest,
    preferences: &Preferences,
) -> Result<LogsAnswer, ApiError> {
    let started = Instant::now();
    let budget = logs_budget(state, preferences);
    let database = workspace_database(state, workspace)?;
    if is_command(&request.query) {
        return Err(ApiError::new(ErrorKind::BadRequest, "the Log Analytics API runs queries, not control commands"));
    }
    let prelude = match &request.timespan {
        Some(timespan) => {
            let now = database.session.now().await.map_err(|e| ApiError::from_query(&e, ""))?;
            let (start, end) = log_analytics::parse_timespan(timespan, now)?;
            log_analytics::restriction_prelude(&database.session, start, end)
        }
        None => String::new(),
    };
    refuse_file_access(&request.query)?;
    let text = format!("{prelude}{}", request.query);
    let result = match run_query(state, database, &text, budget).await {
        Ok(result) => result,
        // Positions in the query as the client wrote it, not after the prelude.
        Err(error) if error.kind == ErrorKind::Semantic && !prelude.is_empty() => {
            return Err(match database.session.check(&request.query) {
                Err(e) => ApiError::from_query(&e, &request.query),
                Ok(_) => error,
            })
        }
        Err(error) => return Err(error),
    };
    let limit = Some(state.limits.default_max_records);
    let tables = EncodedTable::primary_results(&result, limit, Dialect::LogAnalytics);
    // A query without `render` has nothing to send (the client's
    // `visualization` stays None).
    let render =
        result.visualization.as_ref().filter(|_| preferences.include_render).map(|v| v.to_log_analytics_json());
    let statistics = preferences
        .include_statistics
        .then(|| serde_json::json!({"query": {"executionTime": started.elapsed().as_secs_f64()}}));
    Ok(LogsAnswer { tables, render, statistics })
}

async fn logs_post(
    State(state): State<Arc<ServerState>>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let preferences = preferences(&headers);
    let answer =
        async { logs_answer(&state, &workspace, LogsRequest::parse(&body_bytes(body)?)?, &preferences).await }.await;
    logs_response(answer)
}

async fn logs_get(
    State(state): State<Arc<ServerState>>,
    Path(workspace): Path<String>,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
) -> Response {
    let preferences = preferences(&headers);
    let get = |key: &str| query.iter().find(|(k, _)| k.eq_ignore_ascii_case(key)).map(|(_, v)| v.clone());
    let answer = async {
        let text =
            get("query").ok_or_else(|| ApiError::new(ErrorKind::BadRequest, "the request has no 'query' parameter"))?;
        logs_answer(&state, &workspace, LogsRequest { query: text, timespan: get("timespan") }, &preferences).await
    }
    .await;
    logs_response(answer)
}

fn logs_response(answer: Result<LogsAnswer, ApiError>) -> Response {
    match answer {
        Ok(answer) => json_response(encode::log_analytics_body(
            &answer.tables,
            answer.render.as_ref(),
            answer.statistics.as_ref(),
        )),
        Err(error) => error_response(&error, true),
    }
}
