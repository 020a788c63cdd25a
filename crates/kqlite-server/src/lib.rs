//! The Kusto (ADX) and Log Analytics query APIs over kqlite sessions, so the
//! clients analysts already use (azure-kusto-data, Kusto.Explorer, Azure
//! Data Studio, Grafana, azure-monitor-query) query local evidence
//! unchanged. A library: `kqlite serve` builds the databases and calls
//! [`serve`]; tests drive [`router`] without a network.
//!
//! One concept per module: `database` (the served sessions), `request`
//! (Kusto request bodies and their properties), `parameters` (`declare
//! query_parameters` values), `encode` (ADX's type names and value
//! encodings, v1 and v2 responses), `commands` (`.show` control commands),
//! `log_analytics` (the LA API and its timespan), `error` (each API's error
//! shape), `auth` (Bearer tokens), `limits` (timeouts, concurrency, the count of
//! running queries, the bind check), `router` (the HTTP routes and the
//! access log).
//!
//! Cancellation: a query runs as part of its request's future, so when its
//! time budget ends or its client disconnects (hyper drops the handler) the
//! DataFusion streams are dropped and their spawned tasks aborted; the work
//! stops at its next yield (DataFusion yields every tokio budget of
//! batches). Nothing runs on `spawn_blocking` threads that would outlive it.

pub mod auth;
pub mod commands;
pub mod database;
pub mod encode;
pub mod error;
pub mod limits;
pub mod log_analytics;
pub mod parameters;
pub mod request;
pub mod router;

pub use auth::Tokens;
pub use database::{Database, Databases};
pub use error::{ApiError, ServeError};
pub use limits::{check_bind, Limits};
pub use router::{router, serve, ServerState};
