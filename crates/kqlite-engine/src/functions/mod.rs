//! KQL functions: a registry from name to a binder for the call.
//!
//! Each family lives in its own module and registers its functions in
//! [`Registry::new`]. A binder receives the already-bound arguments (with
//! their KQL types) and returns the DataFusion expression and KQL result
//! type, or a [`CallError`] the caller turns into a located error.

pub mod aggregate;
pub mod basket;
pub(crate) mod collect;
pub mod conversion;
pub mod datetime;
pub mod dynamic;
pub mod encodings;
mod error;
pub mod geo_cells;
pub mod geo_shapes;
pub mod ip;
pub mod math;
pub mod metadata;
pub mod misc;
pub mod row_window;
pub mod sequence_detect;
pub mod series;
pub mod series_elementwise;
pub mod series_fit;
pub mod series_signal;
pub mod statistics;
pub mod string;
pub mod string_ops;
pub mod summaries;
pub mod tdigest;
pub mod values;
pub mod xml;

pub use error::{CallError, CallResult};

use crate::convert::{implicit, Bound};
use crate::types::KqlType;
use std::collections::HashMap;
use std::sync::OnceLock;

/// What a function binder may need beyond its arguments.
pub struct CallContext {
    /// `now()` for this query, fixed once per query (nanoseconds).
    pub now: i64,
    /// The query's `set query_bin_auto_size=…` and `set query_bin_auto_at=…`
    /// values, which `bin_auto` rounds by.
    pub bin_auto_size: Option<Bound>,
    pub bin_auto_at: Option<Bound>,
}

pub type BindFn = fn(&CallContext, Vec<Bound>) -> CallResult<Bound>;

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
        series_elementwise::register(&mut r);
        series_fit::register(&mut r);
        series_signal::register(&mut r);
        geo_shapes::register(&mut r);
        geo_cells::register(&mut r);
        tdigest::register(&mut r);
        summaries::register(&mut r);
        encodings::register(&mut r);
        statistics::register(&mut r);
        values::register(&mut r);
        metadata::register(&mut r);
        r.deprecated_aliases();
        r
    }

    /// Old names Microsoft's front end still accepts (`oracle --functions`
    /// lists them obsolete), each bound like the function that replaced it.
    fn deprecated_aliases(&mut self) {
        const SCALARS: &[(&str, &str)] = &[
            ("base64_decodestring", "base64_decode_tostring"),
            ("base64_encodestring", "base64_encode_tostring"),
            ("extractall", "extract_all"),
            ("parseurl", "parse_url"),
            ("parseurlquery", "parse_urlquery"),
            ("totime", "totimespan"),
            ("to_utf8", "unicode_codepoints_from_string"),
            ("pack_dictionary", "bag_pack"),
        ];
        for &(alias, current) in SCALARS {
            let spec = *self.scalars.get(current).unwrap_or_else(|| panic!("{current} is registered before {alias}"));
            self.scalars.insert(alias, spec);
        }
        // `make_dictionary(x)` names its column `dictionary_`, not `bag_`.
        let bag = *self.aggregates.get("make_bag").expect("make_bag is registered");
        self.aggregates.insert("make_dictionary", AggregateSpec { name_prefix: "dictionary", ..bag });
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

/// A function the binder implements itself, beyond the registry: it needs
/// the row context, windows, subqueries or several output columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SpecialForm {
    /// `toscalar(T)`: the single value of a tabular expression.
    ToScalar,
    /// `case(predicate, then, …, else)`.
    Case,
    /// `iff(condition, then, else)`, also spelled `iif`.
    Iff,
    /// `column_ifexists(name, default)`.
    ColumnIfExists,
    /// A function over the serialized rows, in their order.
    Window(WindowFunction),
    /// `arg_max`/`arg_min` in summarize: a row's columns at the extreme.
    ArgExtreme { is_max: bool },
    /// `materialize(T)`: the tabular expression itself.
    Materialize,
    /// `table(name)`: a table named by a constant string.
    Table,
    /// `ingestion_time()`: null, as Kusto returns without an ingestion-time policy.
    IngestionTime,
    /// `pack_all([ignore_null_empty])`: a property bag of the row's columns.
    PackAll,
    /// A function returning several columns ([`series::MULTI_OUTPUT`]).
    MultiOutput,
    /// `column_names_of(T)`: the column names of a tabular expression.
    ColumnNamesOf,
}

/// The functions over the serialized rows ([`SpecialForm::Window`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum WindowFunction {
    /// `prev(x[, offset[, default]])`.
    Prev,
    /// `next(x[, offset[, default]])`.
    Next,
    /// `row_number([start])`.
    RowNumber,
    /// `row_cumsum(x)`.
    RowCumsum,
    /// `row_window_session`, `row_rank_dense`, `row_rank_min`: kqlite's own window UDFs.
    Row(row_window::RowWindow),
}

/// The name of every special form but those in [`series::MULTI_OUTPUT`].
pub const SPECIAL_FORMS: &[(&str, SpecialForm)] = &[
    ("toscalar", SpecialForm::ToScalar),
    ("case", SpecialForm::Case),
    ("iff", SpecialForm::Iff),
    ("iif", SpecialForm::Iff),
    ("column_ifexists", SpecialForm::ColumnIfExists),
    ("columnifexists", SpecialForm::ColumnIfExists),
    ("prev", SpecialForm::Window(WindowFunction::Prev)),
    ("next", SpecialForm::Window(WindowFunction::Next)),
    ("row_number", SpecialForm::Window(WindowFunction::RowNumber)),
    ("row_cumsum", SpecialForm::Window(WindowFunction::RowCumsum)),
    ("row_window_session", SpecialForm::Window(WindowFunction::Row(row_window::RowWindow::Session))),
    ("row_rank_dense", SpecialForm::Window(WindowFunction::Row(row_window::RowWindow::RankDense))),
    ("row_rank_min", SpecialForm::Window(WindowFunction::Row(row_window::RowWindow::RankMin))),
    // The older name Microsoft's binder still accepts.
    ("row_rank", SpecialForm::Window(WindowFunction::Row(row_window::RowWindow::RankDense))),
    ("arg_max", SpecialForm::ArgExtreme { is_max: true }),
    ("arg_min", SpecialForm::ArgExtreme { is_max: false }),
    ("argmax", SpecialForm::ArgExtreme { is_max: true }),
    ("argmin", SpecialForm::ArgExtreme { is_max: false }),
    ("materialize", SpecialForm::Materialize),
    ("table", SpecialForm::Table),
    ("ingestion_time", SpecialForm::IngestionTime),
    ("pack_all", SpecialForm::PackAll),
    ("column_names_of", SpecialForm::ColumnNamesOf),
];

/// The special form `name` calls, if it is one.
pub fn special_form(name: &str) -> Option<SpecialForm> {
    SPECIAL_FORMS
        .iter()
        .find(|(n, _)| *n == name)
        .map(|&(_, form)| form)
        .or_else(|| series::MULTI_OUTPUT.iter().any(|m| m.name == name).then_some(SpecialForm::MultiOutput))
}

/// Every function name kqlite knows, sorted.
pub fn all_function_names() -> Vec<&'static str> {
    let mut names: Vec<&'static str> = registry()
        .names()
        .chain(SPECIAL_FORMS.iter().map(|&(name, _)| name))
        .chain(series::MULTI_OUTPUT.iter().map(|m| m.name))
        .collect();
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
pub fn coerce(function: &str, index: usize, value: Bound, target: KqlType) -> CallResult<Bound> {
    let actual = value.ty;
    implicit(value, target).ok_or_else(|| CallError::argument_type(function, index, target.name(), actual))
}

/// Checks that argument `index` has one of the `allowed` types.
pub fn expect_one_of(function: &str, index: usize, value: &Bound, allowed: &[KqlType]) -> CallResult<()> {
    if allowed.contains(&value.ty) {
        return Ok(());
    }
    let names: Vec<&str> = allowed.iter().map(|t| t.name()).collect();
    Err(CallError::argument_type(function, index, names.join(" or "), value.ty))
}

/// The number-like types that arithmetic functions accept.
pub const NUMERIC: &[KqlType] = &[KqlType::Int, KqlType::Long, KqlType::Real, KqlType::Decimal];
