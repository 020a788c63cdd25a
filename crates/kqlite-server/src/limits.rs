//! What keeps a server safe by default: the bind check (a non-loopback
//! address needs tokens), the request-size limit, each query's time budget,
//! and a maximum of concurrent queries with a bounded queue behind it.

use crate::auth::Tokens;
use crate::error::{ApiError, ErrorKind, ServeError};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// The server's limits.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Largest request body accepted (bytes).
    pub max_body_bytes: usize,
    /// A query's time budget when the request sets none, and the most a
    /// request's `servertimeout` can ask for.
    pub default_timeout: Duration,
    pub max_timeout: Duration,
    /// Queries running at once.
    pub max_concurrent: usize,
    /// Queries waiting for a slot; beyond this a request is refused (429).
    pub max_queued: usize,
    /// Rows returned when the request sets no `truncationmaxrecords` (ADX's default).
    pub default_max_records: u64,
}

impl Default for Limits {
    fn default() -> Limits {
        Limits {
            max_body_bytes: 1 << 20,
            default_timeout: Duration::from_secs(4 * 60),
            max_timeout: Duration::from_secs(60 * 60),
            max_concurrent: std::thread::available_parallelism().map_or(2, |n| n.get()),
            max_queued: 64,
            default_max_records: 500_000,
        }
    }
}

/// Refuses a non-loopback `addr` without tokens: it would serve the evidence to the network.
pub fn check_bind(addr: SocketAddr, tokens: &Tokens) -> Result<(), ServeError> {
    if addr.ip().is_loopback() || !tokens.is_empty() {
        Ok(())
    } else {
        Err(ServeError::UnprotectedBind { addr })
    }
}

/// Admits queries: `max_concurrent` at once, `max_queued` waiting.
pub struct QueryGate {
    running: Arc<Semaphore>,
    waiting: AtomicUsize,
    max_queued: usize,
}

impl QueryGate {
    pub fn new(limits: &Limits) -> QueryGate {
        QueryGate {
            running: Arc::new(Semaphore::new(limits.max_concurrent.max(1))),
            waiting: AtomicUsize::new(0),
            max_queued: limits.max_queued,
        }
    }

    /// A slot to run a query in; refused when the queue is full.
    pub async fn admit(&self) -> Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(permit) = self.running.clone().try_acquire_owned() {
            return Ok(permit);
        }
        if self.waiting.fetch_add(1, Ordering::SeqCst) >= self.max_queued {
            self.waiting.fetch_sub(1, Ordering::SeqCst);
            return Err(ApiError::new(
                ErrorKind::Busy,
                format!("the server is busy: {} queries are waiting; retry later", self.max_queued),
            ));
        }
        let permit = self.running.clone().acquire_owned().await;
        self.waiting.fetch_sub(1, Ordering::SeqCst);
        permit.map_err(|_| ApiError::new(ErrorKind::Busy, "the server is shutting down"))
    }
}

/// How many queries are executing now. A query counts from the moment it
/// holds a slot until its work is dropped, so the count falls when a query
/// ends, times out or loses its client, which tests and operators read as
/// "the engine stopped working on it".
#[derive(Default)]
pub struct RunningQueries {
    count: Arc<AtomicUsize>,
}

impl RunningQueries {
    /// Counts one query until the returned guard is dropped.
    pub fn enter(&self) -> RunningQuery {
        self.count.fetch_add(1, Ordering::SeqCst);
        RunningQuery { count: self.count.clone() }
    }

    pub fn count(&self) -> usize {
        self.count.load(Ordering::SeqCst)
    }
}

/// One running query, counted until dropped (with the query's future).
pub struct RunningQuery {
    count: Arc<AtomicUsize>,
}

impl Drop for RunningQuery {
    fn drop(&mut self) {
        self.count.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `work` within `budget` (waiting for a slot counts too).
pub async fn within<T>(
    budget: Duration,
    work: impl std::future::Future<Output = Result<T, ApiError>>,
) -> Result<T, ApiError> {
    match tokio::time::timeout(budget, work).await {
        Ok(result) => result,
        Err(_) => Err(ApiError::new(
            ErrorKind::Timeout,
            format!("the query ran past its time budget of {} ms and was cancelled", budget.as_millis()),
        )),
    }
}
