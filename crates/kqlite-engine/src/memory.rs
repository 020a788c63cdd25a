//! A query's memory budget.
//!
//! Every query runs with a memory pool of its own ([`query_pool`]): a
//! DataFusion `FairSpillPool` of the session's budget. Sorts, aggregations
//! and joins reserve from it and spill to temporary files when it is full;
//! kqlite's own kernels that can build large outputs (`range()`,
//! `mv-expand`'s lists, `strrep`, a constant expanded to a whole batch)
//! reserve what they are about to allocate through [`OutputMeter`] and
//! fail with [`budget_error`] before allocating, rather than letting an
//! allocation fail, which aborts the process.
//!
//! The pool reaches the kernels through the query's configuration
//! ([`QueryMemory`], a DataFusion config extension) and, while a kernel
//! runs, through a thread-local set by the UDF wrapper ([`enter`]): a
//! kernel runs synchronously on one thread.

use datafusion::common::config::{ConfigEntry, ConfigExtension, ExtensionOptions};
use datafusion::error::{DataFusionError, Result};
use datafusion::execution::memory_pool::{
    FairSpillPool, MemoryConsumer, MemoryPool, MemoryReservation, TrackConsumersPool,
};
use std::any::Any;
use std::cell::RefCell;
use std::num::NonZeroUsize;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

/// The fraction of physical memory a query may use when no budget is set:
/// a quarter, so a few concurrent queries (the server's) and the rest of
/// the machine keep room.
pub const DEFAULT_BUDGET_FRACTION: f64 = 0.25;

/// The budget when physical memory cannot be read: 2 GiB.
const FALLBACK_BUDGET: usize = 2 << 30;

/// A process-wide default set by the CLI's `--memory` (0: not set).
static DEFAULT_BUDGET: AtomicUsize = AtomicUsize::new(0);

/// Sets the budget that sessions created from now on start with
/// (the CLI's `--memory SIZE`).
pub fn set_default_budget(bytes: usize) {
    DEFAULT_BUDGET.store(bytes, Ordering::Relaxed);
}

/// The fraction of the process's address-space limit (`ulimit -v`) a
/// query may use when that limit is lower than physical memory: mappings
/// (the binary, thread stacks, the allocator's reserve) take the rest.
pub const ADDRESS_SPACE_FRACTION: f64 = 0.25;

/// The budget a new session starts with: the one set by
/// [`set_default_budget`], else [`DEFAULT_BUDGET_FRACTION`] of physical
/// memory or [`ADDRESS_SPACE_FRACTION`] of the address-space limit,
/// whichever is less.
pub fn default_budget() -> usize {
    match DEFAULT_BUDGET.load(Ordering::Relaxed) {
        0 => {
            let physical = physical_memory().map(|total| (total as f64 * DEFAULT_BUDGET_FRACTION) as usize);
            let address_space = address_space_limit().map(|limit| (limit as f64 * ADDRESS_SPACE_FRACTION) as usize);
            match (physical, address_space) {
                (Some(p), Some(a)) => p.min(a),
                (p, a) => p.or(a).unwrap_or(FALLBACK_BUDGET),
            }
        }
        set => set,
    }
}

/// The process's address-space limit (Linux `/proc/self/limits`), if any.
fn address_space_limit() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/self/limits").ok()?;
    let line = text.lines().find(|l| l.starts_with("Max address space"))?;
    line.trim_start_matches("Max address space").split_whitespace().next()?.parse().ok()
}

/// Total physical memory (Linux `/proc/meminfo`), in bytes.
fn physical_memory() -> Option<usize> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let line = text.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: usize = line.split_whitespace().nth(1)?.parse().ok()?;
    kib.checked_mul(1024)
}

/// Parses a size: a number with an optional unit, binary (`KiB`, `MiB`,
/// `GiB`, `TiB`, or `K`/`M`/`G`/`T`) or decimal (`kB`, `MB`, `GB`, `TB`),
/// case-insensitive; `B` or no unit is bytes. `512MiB`, `2GiB`, `1.5G`.
pub fn parse_size(text: &str) -> Option<usize> {
    let text = text.trim();
    let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let multiplier: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "k" | "kib" => 1024.0,
        "m" | "mib" => 1024.0 * 1024.0,
        "g" | "gib" => 1024.0 * 1024.0 * 1024.0,
        "t" | "tib" => 1024.0 * 1024.0 * 1024.0 * 1024.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "tb" => 1e12,
        _ => return None,
    };
    let bytes = number * multiplier;
    (bytes.is_finite() && bytes >= 1.0 && bytes < usize::MAX as f64).then_some(bytes as usize)
}

/// A size for messages: `512.0 MiB`.
pub fn format_size(bytes: usize) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{bytes} B")
    } else {
        format!("{value:.1} {}", UNITS[unit])
    }
}

/// A new pool of `budget` bytes for one query. The tracking wrapper names
/// the largest consumers (operators) when an allocation is refused.
pub fn query_pool(budget: usize) -> Arc<dyn MemoryPool> {
    Arc::new(TrackConsumersPool::new(FairSpillPool::new(budget), NonZeroUsize::new(3).expect("3 is not zero")))
}

/// The query's pool and budget, carried in its configuration so UDF
/// kernels can reserve from it.
#[derive(Clone, Debug, Default)]
pub struct QueryMemory {
    pub pool: Option<Arc<dyn MemoryPool>>,
    pub budget: usize,
}

impl ExtensionOptions for QueryMemory {
    fn as_any(&self) -> &dyn Any {
        self
    }

    fn as_any_mut(&mut self) -> &mut dyn Any {
        self
    }

    fn cloned(&self) -> Box<dyn ExtensionOptions> {
        Box::new(self.clone())
    }

    fn set(&mut self, key: &str, _value: &str) -> Result<()> {
        Err(DataFusionError::Configuration(format!("kqlite.memory.{key} cannot be set by name")))
    }

    fn entries(&self) -> Vec<ConfigEntry> {
        vec![ConfigEntry {
            key: "kqlite_memory.budget".to_string(),
            value: Some(self.budget.to_string()),
            description: "the query's memory budget in bytes",
        }]
    }
}

impl ConfigExtension for QueryMemory {
    const PREFIX: &'static str = "kqlite_memory";
}

thread_local! {
    /// The pool of the query whose kernel runs on this thread.
    static CURRENT: RefCell<Option<QueryMemory>> = const { RefCell::new(None) };
}

/// While the returned guard lives, kernels on this thread reserve from
/// `memory`'s pool (the UDF wrapper enters it around each kernel call).
pub fn enter(memory: Option<&QueryMemory>) -> Entered {
    let previous = CURRENT.with(|c| c.replace(memory.cloned()));
    Entered { previous }
}

/// Restores the thread's previous pool when dropped.
pub struct Entered {
    previous: Option<QueryMemory>,
}

impl Drop for Entered {
    fn drop(&mut self) {
        let previous = self.previous.take();
        CURRENT.with(|c| *c.borrow_mut() = previous);
    }
}

/// The error for `operator` needing `bytes` more than the budget leaves.
pub fn budget_error(operator: &str, bytes: usize, budget: usize, reserved: usize) -> DataFusionError {
    DataFusionError::ResourcesExhausted(format!(
        "{operator} needs {} more, but the query's memory budget of {} has {} left \
         (raise it with --memory SIZE)",
        format_size(bytes),
        format_size(budget),
        format_size(budget.saturating_sub(reserved)),
    ))
}

/// Reserves, from the current query's pool, the memory a kernel is about
/// to allocate, in steps, so a runaway output fails before it is built.
/// Outside a query (constant folding while planning) it reserves nothing.
pub struct OutputMeter {
    operator: String,
    reservation: Option<(MemoryReservation, Arc<dyn MemoryPool>, usize)>,
    /// Bytes counted since the last reservation.
    pending: usize,
}

/// Bytes counted before asking the pool again: each step is one pool call.
const METER_STEP: usize = 1 << 20;

impl OutputMeter {
    pub fn new(operator: &str) -> OutputMeter {
        let reservation = CURRENT.with(|c| {
            c.borrow().as_ref().and_then(|m| {
                m.pool.as_ref().map(|pool| (MemoryConsumer::new(operator).register(pool), pool.clone(), m.budget))
            })
        });
        OutputMeter { operator: operator.to_string(), reservation, pending: 0 }
    }

    /// Counts `bytes` about to be allocated; an error when they do not fit.
    pub fn grow(&mut self, bytes: usize) -> Result<()> {
        self.pending = self.pending.saturating_add(bytes);
        if self.pending < METER_STEP {
            return Ok(());
        }
        self.flush()
    }

    /// Reserves everything counted so far.
    pub fn flush(&mut self) -> Result<()> {
        let pending = std::mem::take(&mut self.pending);
        match &self.reservation {
            Some((reservation, pool, budget)) => reservation
                .try_grow(pending)
                .map_err(|_| budget_error(&self.operator, pending, *budget, pool.reserved())),
            None => Ok(()),
        }
    }
}

/// Checks that `bytes` fit in the current query's budget now, without
/// keeping them reserved: for an allocation another operator makes right
/// after (a constant expanded to every row of a batch).
pub fn check_fits(operator: &str, bytes: usize) -> Result<()> {
    let mut meter = OutputMeter::new(operator);
    meter.pending = bytes;
    meter.flush()
}

/// An error message when a table built while binding (`range`) of
/// `bytes` does not fit in `budget`.
pub fn check_table_fits(operator: &str, bytes: usize, budget: usize) -> std::result::Result<(), String> {
    if bytes <= budget {
        return Ok(());
    }
    Err(format!(
        "{operator} would build {}, more than the query's memory budget of {} (raise it with --memory SIZE)",
        format_size(bytes),
        format_size(budget)
    ))
}

/// `error` with the budget named when it is DataFusion's refusal to
/// allocate (a sort, aggregation or join that could not spill enough).
pub fn name_budget(error: DataFusionError, budget: usize) -> DataFusionError {
    let exhausted = matches!(error.find_root(), DataFusionError::ResourcesExhausted(_));
    let text = error.to_string();
    if exhausted && !text.contains("memory budget") {
        DataFusionError::ResourcesExhausted(format!(
            "the query's memory budget of {} is exhausted (raise it with --memory SIZE): {text}",
            format_size(budget)
        ))
    } else {
        error
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_parse_with_binary_and_decimal_units() {
        assert_eq!(parse_size("512MiB"), Some(512 << 20));
        assert_eq!(parse_size("2GiB"), Some(2 << 30));
        assert_eq!(parse_size("1.5G"), Some(3 << 29));
        assert_eq!(parse_size("100MB"), Some(100_000_000));
        assert_eq!(parse_size("4096"), Some(4096));
        assert_eq!(parse_size("lots"), None);
        assert_eq!(parse_size("0"), None);
    }

    #[test]
    fn a_meter_refuses_what_exceeds_the_budget() {
        let memory = QueryMemory { pool: Some(query_pool(8 << 20)), budget: 8 << 20 };
        let _entered = enter(Some(&memory));
        let mut meter = OutputMeter::new("test()");
        assert!(meter.grow(4 << 20).is_ok());
        let error = meter.grow(8 << 20).unwrap_err().to_string();
        assert!(error.contains("test()") && error.contains("8.0 MiB"), "{error}");
    }
}
