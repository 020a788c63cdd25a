//! Errors: what went wrong with a request ([`ApiError`], rendered in the
//! shape of the API that was called) and why a server could not start
//! ([`ServeError`]).
//!
//! Kusto's OneApi shape is `{"error": {"code", "message", "@type",
//! "@message", "@context", "@permanent"}}`; azure-kusto-data shows
//! `@message` and recognises a semantic error by the text `Semantic error:`
//! in it. Log Analytics answers `{"error": {"message", "code",
//! "innererror": {"code", "message"}}}`.

use axum::http::StatusCode;
use kqlite_engine::QueryError;
use serde_json::json;
use thiserror::Error;

/// What kind of failure a request met; decides the status and the codes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The body is not JSON, or a field has the wrong shape.
    BadRequest,
    /// A syntax, name or type error: the query never ran.
    Semantic,
    /// The query failed while running.
    Runtime,
    /// The request names a database the server does not have.
    UnknownDatabase,
    /// A control command kqlite does not implement.
    UnsupportedCommand,
    /// The query ran past its time budget.
    Timeout,
    /// Too many queries are running and waiting.
    Busy,
    /// Missing or wrong Bearer token.
    Unauthorized,
    /// The request body is larger than the server accepts.
    TooLarge,
    /// The query asks for something a server never does (reading files).
    Forbidden,
}

/// A failed request.
#[derive(Clone, Debug, Error)]
#[error("{message}")]
pub struct ApiError {
    pub kind: ErrorKind,
    pub message: String,
}

impl ApiError {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> ApiError {
        ApiError { kind, message: message.into() }
    }

    /// A query error: syntax and bind errors are semantic (with line and
    /// column), the rest are runtime failures.
    pub fn from_query(error: &QueryError, text: &str) -> ApiError {
        let (message, position) = error.located(text);
        let located = match position {
            Some((line, col)) => format!("{message} (line {line}, column {col})"),
            None => message,
        };
        match error {
            QueryError::Parse(_) | QueryError::Bind(_) => ApiError::new(ErrorKind::Semantic, located),
            QueryError::Execution(_) => ApiError::new(ErrorKind::Runtime, located),
        }
    }

    pub fn status(&self) -> StatusCode {
        match self.kind {
            // ADX answers an unknown database with 400 (a 404 reads to the
            // Python client as a wrong URL).
            ErrorKind::BadRequest
            | ErrorKind::Semantic
            | ErrorKind::UnsupportedCommand
            | ErrorKind::UnknownDatabase => StatusCode::BAD_REQUEST,
            ErrorKind::Runtime => StatusCode::INTERNAL_SERVER_ERROR,
            ErrorKind::Timeout => StatusCode::REQUEST_TIMEOUT,
            ErrorKind::Busy => StatusCode::TOO_MANY_REQUESTS,
            ErrorKind::Unauthorized => StatusCode::UNAUTHORIZED,
            ErrorKind::TooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            ErrorKind::Forbidden => StatusCode::FORBIDDEN,
        }
    }

    /// The status the Log Analytics API answers with: as Kusto's, except a
    /// timeout, which the API reports as 504 Gateway Timeout
    /// (learn.microsoft.com/azure/azure-monitor/logs/api/timeouts).
    pub fn log_analytics_status(&self) -> StatusCode {
        match self.kind {
            ErrorKind::Timeout => StatusCode::GATEWAY_TIMEOUT,
            _ => self.status(),
        }
    }

    /// Kusto's error code and the .NET exception type ADX names for it.
    fn kusto_codes(&self) -> (&'static str, &'static str) {
        match self.kind {
            ErrorKind::BadRequest => ("BadRequest", "Kusto.Common.Svc.Exceptions.BadRequestException"),
            ErrorKind::Semantic => ("General_BadRequest", "Kusto.Data.Exceptions.SemanticException"),
            ErrorKind::Runtime => ("Internal_Error", "Kusto.Data.Exceptions.KustoDataStreamException"),
            ErrorKind::UnknownDatabase => {
                ("BadRequest_EntityNotFound", "Kusto.Data.Exceptions.EntityNotFoundException")
            }
            ErrorKind::UnsupportedCommand => ("BadRequest_SyntaxError", "Kusto.Data.Exceptions.SyntaxException"),
            ErrorKind::Timeout => ("RequestTimeout", "Kusto.Data.Exceptions.QueryTimeoutException"),
            ErrorKind::Busy => ("TooManyRequests", "Kusto.Data.Exceptions.ThrottleException"),
            ErrorKind::Unauthorized => ("Unauthorized", "Kusto.Data.Exceptions.UnauthorizedOperationException"),
            ErrorKind::TooLarge => ("BadRequest_RequestTooLarge", "Kusto.Common.Svc.Exceptions.BadRequestException"),
            ErrorKind::Forbidden => ("Forbidden", "Kusto.Data.Exceptions.ForbiddenOperationException"),
        }
    }

    /// The text clients show: semantic errors say so, as ADX's do.
    pub fn display_message(&self) -> String {
        match self.kind {
            ErrorKind::Semantic => format!("Semantic error: {}", self.message),
            _ => self.message.clone(),
        }
    }

    /// The inner OneApi error object (also used inline in a v2 table).
    pub fn one_api_error(&self) -> serde_json::Value {
        let (code, ty) = self.kusto_codes();
        json!({
            "code": code,
            "message": self.display_message(),
            "@type": ty,
            "@message": self.display_message(),
            "@context": {"service": "kqlite", "clientRequestId": null},
            "@permanent": !matches!(self.kind, ErrorKind::Timeout | ErrorKind::Busy),
        })
    }

    /// The Kusto REST body: `{"error": {...}}`.
    pub fn kusto_body(&self) -> serde_json::Value {
        json!({ "error": self.one_api_error() })
    }

    /// The Log Analytics body: `{"error": {"message", "code", "innererror"}}`.
    pub fn log_analytics_body(&self) -> serde_json::Value {
        let (code, inner) = match self.kind {
            ErrorKind::BadRequest | ErrorKind::UnsupportedCommand => ("BadArgumentError", "BadRequest"),
            ErrorKind::Semantic => ("BadArgumentError", "SemanticError"),
            ErrorKind::Runtime => ("InternalServerError", "QueryExecutionError"),
            ErrorKind::UnknownDatabase => ("WorkspaceNotFoundError", "WorkspaceNotFound"),
            ErrorKind::Timeout => ("GatewayTimeout", "QueryTimeout"),
            ErrorKind::Busy => ("ThrottledError", "TooManyRequests"),
            ErrorKind::Unauthorized => ("AuthorizationRequiredError", "InvalidToken"),
            ErrorKind::TooLarge => ("BadArgumentError", "RequestTooLarge"),
            ErrorKind::Forbidden => ("BadArgumentError", "Forbidden"),
        };
        json!({
            "error": {
                "message": self.display_message(),
                "code": code,
                "innererror": { "code": inner, "message": self.display_message() },
            }
        })
    }
}

/// Why a server does not start.
#[derive(Debug, Error)]
pub enum ServeError {
    /// A non-loopback address without tokens: anyone on the network could query the evidence.
    #[error(
        "refusing to listen on {addr} without --token-file: a non-loopback address serves the evidence to the \
         network; give --token-file FILE (Bearer tokens, one per line) or bind 127.0.0.1"
    )]
    UnprotectedBind { addr: std::net::SocketAddr },
    #[error("cannot listen on {addr}: {source}")]
    Listen { addr: std::net::SocketAddr, source: std::io::Error },
    #[error("the server stopped: {0}")]
    Io(#[from] std::io::Error),
}
