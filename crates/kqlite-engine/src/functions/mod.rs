//! KQL functions: a registry from name to a binder for the call.
//!
//! Each family lives in its own module and registers its functions in
//! [`Registry::new`]. A binder receives the already-bound arguments (with
//! their KQL types) and returns the DataFusion expression and KQL result
//! type, or a message the caller turns into a located error.

pub mod aggregate;
pub mod basket;
pub mod conversion;
pub mod datetime;
pub mod dynamic;
pub mod ip;
pub mod math;
pub mod misc;
pub mod row_window;
pub mod series;
pub mod string;
pub mod string_ops;
pub mod xml;

use crate::convert::{implicit, Bound};
use crate::types::KqlType;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What a function binder may need beyond its arguments.
pub struct CallContext {
    /// `now()` for this query, fixed once per query (nanoseconds).
    pub now: i64,
}

pub type BindFn = fn(&CallContext, Vec<Bound>) -> Result<Bound, String>;

#[derive(Clone, Copy)]
pub struct FunctionSpec {
    pub min_args: usize,
    /// `usize::MAX` for variadic functions.
    pub max_args: usize,
    pub bind: BindFn,
}

#[derive(Clone, Copy)]
pub struct AggregateSpec {
    pub min_args: usize,
    pub max_args: usize,
    /// The output column name prefix Kusto uses: `count` gives `count_`,
    /// `dcount(x)` gives `dcount_x`, `make_set(x)` gives `set_x`.
    pub name_prefix: &'static str,
    pub bind: BindFn,
}

#[derive(Default)]
pub struct Registry {
    scalars: HashMap<&'static str, FunctionSpec>,
    aggregates: HashMap<&'static str, AggregateSpec>,
}

impl Registry {
    fn new() -> Registry {
        let mut r = Registry::default();
        string::register(&mut r);
        string_ops::register(&mut r);
        conversion::register(&mut r);
        datetime::register(&mut r);
        dynamic::register(&mut r);
        ip::register(&mut r);
        math::register(&mut r);
        aggregate::register(&mut r);
        xml::register(&mut r);
        misc::register(&mut r);
        series::register(&mut r);
        r
    }

    pub fn scalar(&mut self, name: &'static str, min_args: usize, max_args: usize, bind: BindFn) {
        self.scalars.insert(name, FunctionSpec { min_args, max_args, bind });
    }

    pub fn aggregate(
        &mut self,
        name: &'static str,
        min_args: usize,
        max_args: usize,
        name_prefix: &'static str,
        bind: BindFn,
    ) {
        self.aggregates.insert(name, AggregateSpec { min_args, max_args, name_prefix, bind });
    }

    pub fn lookup_scalar(&self, name: &str) -> Option<&FunctionSpec> {
        self.scalars.get(name)
    }

    pub fn lookup_aggregate(&self, name: &str) -> Option<&AggregateSpec> {
        self.aggregates.get(name)
    }

    /// Every function name, for did-you-mean suggestions and coverage counts.
    pub fn names(&self) -> impl Iterator<Item = &'static str> + '_ {
        self.scalars.keys().chain(self.aggregates.keys()).copied()
    }
}

/// Functions the binder implements itself (they need the row context,
/// windows or subqueries), beyond the registry.
pub const BINDER_FUNCTIONS: &[&str] = &[
    "toscalar",
    "case",
    "iff",
    "iif",
    "column_ifexists",
    "columnifexists",
    "prev",
    "next",
    "row_number",
    "row_cumsum",
    "row_window_session",
    "row_rank_dense",
    "row_rank_min",
    "row_rank",
    "arg_max",
    "arg_min",
    "argmax",
    "argmin",
    "materialize",
    "table",
    "ingestion_time",
    // Functions that return several columns (binder/multi_output.rs).
    "series_stats",
    "series_fit_line",
    "series_decompose_anomalies",
];

/// Every function name kqlite knows, sorted.
pub fn all_function_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = registry().names().chain(BINDER_FUNCTIONS.iter().copied()).collect();
    names.sort_unstable();
    names.dedup();
    names
}

pub fn registry() -> &'static Registry {
    static REGISTRY: OnceLock<Registry> = OnceLock::new();
    REGISTRY.get_or_init(Registry::new)
}

/// Converts argument `index` of `function` to `target` (Kusto's implicit
/// conversions) or explains the type error.
pub fn coerce(function: &str, index: usize, value: Bound, target: KqlType) -> Result<Bound, String> {
    let actual = value.ty;
    implicit(value, target)
        .ok_or_else(|| format!("argument {} of {function}() must be {target}, but it is {actual}", index + 1))
}

/// Checks that argument `index` has one of the `allowed` types.
pub fn expect_one_of(function: &str, index: usize, value: &Bound, allowed: &[KqlType]) -> Result<(), String> {
    if allowed.contains(&value.ty) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
    Err(format!("argument {} of {function}() must be {}, but it is {}", index + 1, names.join(" or "), value.ty))
}

/// The number-like types that arithmetic functions accept.
pub const NUMERIC: &[KqlType] = &[KqlType::Int, KqlType::Long, KqlType::Real, KqlType::Decimal];
