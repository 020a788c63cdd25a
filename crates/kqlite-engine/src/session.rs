//! A query session: the tables, the clock and DataFusion's context.

use crate::binder::{BindError, Binder, KeyScanError, Relation, TableResolver};
use crate::library::{Library, StoredFunction};
use crate::outer_join_elimination::BoundedOuterJoinElimination;
use crate::types::{ColumnDef, KqlType};
use crate::visualization::Visualization;
use datafusion::arrow::datatypes::{DataType, TimeUnit};
use datafusion::arrow::error::ArrowError;
use datafusion::arrow::record_batch::RecordBatch;
use datafusion::catalog::MemTable;
use datafusion::common::TableReference;
use datafusion::datasource::provider_as_source;
use datafusion::datasource::TableProvider;
use datafusion::error::DataFusionError;
use datafusion::execution::SessionStateBuilder;
use datafusion::logical_expr::{cast, Expr, LogicalPlan, LogicalPlanBuilder};
use datafusion::optimizer::OptimizerRule;
use datafusion::prelude::{SessionConfig, SessionContext};
use futures::StreamExt;
use kqlite_syntax::{Diagnostic, LineIndex};
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::sync::Arc;
use thiserror::Error;

/// How `now()` is chosen for a query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Clock {
    /// The system clock when the query starts.
    System,
    /// A fixed instant (nanoseconds since the epoch): `--now 2024-01-01T00:00:00Z`.
    Fixed(i64),
    /// The latest event time in the loaded tables, so `ago()` works on old logs.
    LatestEvent,
}

/// Tables that exist without data: the schemas of a workspace's tables
/// (Log Analytics, Defender XDR), which a query finds empty when no data was
/// registered under their name, as a Sentinel workspace does. The session
/// asks only for names it does not hold, so a catalog of hundreds of tables
/// costs nothing until a query names one.
pub trait TableCatalog: Send + Sync {
    /// The columns of table `name` (case-sensitive, as KQL names are), if the catalog has it.
    fn columns(&self, name: &str) -> Option<Vec<ColumnDef>>;
    /// Every table name in the catalog, for suggestions and wildcards (`union Device*`).
    fn names(&self) -> Vec<String>;
}

/// A table registered in the session.
#[derive(Clone)]
struct TableEntry {
    provider: Arc<dyn TableProvider>,
    columns: Vec<ColumnDef>,
    /// External data may hold null strings; Kusto's strings are never null.
    may_have_null_strings: bool,
}

/// Why a query did not run.
#[derive(Debug, Error)]
pub enum QueryError {
    /// Syntax errors, with their spans.
    #[error("{}", .0.first().map_or("syntax error", |d| d.message.as_str()))]
    Parse(Vec<Diagnostic>),
    /// A name, type or arity problem found before running.
    #[error("{}", .0.message)]
    Bind(BindError),
    /// A failure while planning or running.
    #[error("{0}")]
    Execution(#[from] DataFusionError),
}

impl QueryError {
    /// The first error's message and 1-based line and column, if located.
    pub fn located(&self, source: &str) -> (String, Option<(usize, usize)>) {
        let index = LineIndex::new(source);
        match self {
            QueryError::Parse(d) => {
                let first = d.iter().find(|d| d.is_error()).or(d.first());
                match first {
                    Some(d) => (d.message.clone(), Some(index.line_col(d.span.start as usize))),
                    None => ("syntax error".to_string(), None),
                }
            }
            QueryError::Bind(e) => (e.message.clone(), Some(index.line_col(e.span.start as usize))),
            QueryError::Execution(e) => (e.to_string(), None),
        }
    }

    /// Renders like a compiler: location, source line and caret.
    pub fn render(&self, source: &str, name: &str) -> String {
        match self {
            QueryError::Parse(d) => d.iter().map(|d| d.render(source, name)).collect(),
            QueryError::Bind(e) => Diagnostic::error(e.span, e.message.clone()).render(source, name),
            QueryError::Execution(e) => format!("{name}: error while running the query: {e}\n"),
        }
    }
}

/// Why a table could not be registered.
#[derive(Debug, Error)]
pub enum RegisterError {
    /// The file or directory does not exist or cannot be read.
    #[error("cannot open {path}: {source}")]
    Open { path: String, source: std::io::Error },
    /// The Parquet files' schema cannot be read.
    #[error("cannot read the Parquet schema of {path}: {source}")]
    ParquetSchema { path: String, source: DataFusionError },
    /// A stored column whose Arrow type has no KQL type.
    #[error("{path}: column '{column}' has Arrow type {data_type}, which kqlite cannot map to a KQL type")]
    UnmappedType { path: String, column: String, data_type: DataType },
    /// The batches do not fit the columns.
    #[error("{0}")]
    Arrow(#[from] ArrowError),
    /// DataFusion cannot make the table.
    #[error("{0}")]
    DataFusion(#[from] DataFusionError),
}

/// A query's result: KQL-typed columns and Arrow batches.
///
/// Most queries make one table: `columns` and `batches`. A query ending in
/// `fork` or `facet` makes several, as Kusto does: the first is still
/// `columns`/`batches` (so a caller that reads one table reads the first),
/// `name` is its name, and `further` holds the others in order.
/// [`QueryResult::tables`] lists them all.
pub struct QueryResult {
    pub columns: Vec<ColumnDef>,
    pub batches: Vec<RecordBatch>,
    /// Things the user should know about this result.
    pub notices: Vec<String>,
    /// How the query asks for the result to be drawn (its last `render`).
    pub visualization: Option<Visualization>,
    /// The first table's name when the query names its results (`fork`,
    /// `facet`); `None` for the one unnamed result of an ordinary query
    /// (Kusto calls it [`PRIMARY_RESULT`]).
    pub name: Option<String>,
    /// The results after the first, in the query's order; empty unless the
    /// query makes several.
    pub further: Vec<ResultTable>,
}

/// The name Kusto gives a query's one unnamed result.
pub const PRIMARY_RESULT: &str = "PrimaryResult";

/// One named result table of a query that makes several.
pub struct ResultTable {
    pub name: String,
    pub columns: Vec<ColumnDef>,
    pub batches: Vec<RecordBatch>,
}

/// A view of one of a query's result tables.
#[derive(Clone, Copy)]
pub struct ResultTableRef<'a> {
    /// The table's name: [`PRIMARY_RESULT`] for an unnamed result.
    pub name: &'a str,
    pub columns: &'a [ColumnDef],
    pub batches: &'a [RecordBatch],
}

/// A bound query and what binding learned besides the plan.
struct BoundQuery {
    relation: Relation,
    notices: Vec<String>,
    visualization: Option<Visualization>,
    /// Every result's name and relation when the query makes several (the
    /// first is `relation`); empty otherwise.
    named_results: Vec<(String, Relation)>,
}

impl BoundQuery {
    fn of(relation: Relation, binder: Binder<'_>) -> BoundQuery {
        BoundQuery {
            relation,
            notices: binder.notices,
            visualization: binder.visualization,
            named_results: binder.named_results,
        }
    }
}

impl QueryResult {
    /// A result of one unnamed table.
    pub fn single(columns: Vec<ColumnDef>, batches: Vec<RecordBatch>) -> QueryResult {
        QueryResult { columns, batches, notices: Vec::new(), visualization: None, name: None, further: Vec::new() }
    }

    /// The first table's row count.
    pub fn row_count(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Whether the query made more than one table.
    pub fn has_several_tables(&self) -> bool {
        !self.further.is_empty()
    }

    /// Every result table in order, the first being `columns`/`batches`.
    pub fn tables(&self) -> Vec<ResultTableRef<'_>> {
        let first = ResultTableRef {
            name: self.name.as_deref().unwrap_or(PRIMARY_RESULT),
            columns: &self.columns,
            batches: &self.batches,
        };
        std::iter::once(first)
            .chain(self.further.iter().map(|t| ResultTableRef {
                name: &t.name,
                columns: &t.columns,
                batches: &t.batches,
            }))
            .collect()
    }
}

pub struct Session {
    ctx: SessionContext,
    tables: BTreeMap<String, TableEntry>,
    clock: Clock,
    /// Session-level `let` definitions (stored functions such as
    /// `_GetWatchlist`), in scope for every query: their texts in
    /// definition order, each ending with a newline. A query is bound as
    /// this text followed by the query, so every span is unambiguous.
    definitions: String,
    /// Where each definition starts in `definitions`, and its name for messages.
    definition_starts: Vec<(usize, String)>,
    /// Tables that exist empty when no data is registered under their name.
    catalog: Option<Arc<dyn TableCatalog>>,
    /// Stored functions (Sentinel parsers), parsed when a query names them.
    library: Library,
    /// Bytes each query may hold in DataFusion's memory pool (see `memory`).
    memory_budget: usize,
}

impl Default for Session {
    fn default() -> Self {
        Session::new()
    }
}

impl Session {
    pub fn new() -> Session {
        Session::with_partitions(std::thread::available_parallelism().map_or(2, |n| n.get()))
    }

    /// `partitions` = 1 gives fully deterministic first-seen order for
    /// `make_set`/`make_list` at the cost of parallelism.
    pub fn with_partitions(partitions: usize) -> Session {
        let mut config = SessionConfig::new().with_target_partitions(partitions.max(1)).with_information_schema(false);
        // Read Parquet strings as Utf8, the engine's string type, instead of
        // views that would be copied by a cast on every scan.
        config.options_mut().execution.parquet.schema_force_view_types = false;
        // Partial aggregation that barely reduces (a summarize by account and
        // source over logons: nearly a group per row) is given up after this
        // many rows rather than DataFusion's 100,000: kqlite's make_set and
        // dcount states cost more to build and merge than the built-ins'
        // (measured on the T1021 rule: about 50 ms less on 208K rows).
        config.options_mut().execution.skip_partial_aggregation_probe_rows_threshold = crate::BATCH_ROWS;
        // DataFusion's rules, with outer-join elimination guarded against
        // inlining a filter through long chains of projections
        // (see `outer_join_elimination`).
        let mut state = SessionStateBuilder::new().with_config(config).with_default_features().build();
        let rules: Vec<Arc<dyn OptimizerRule + Send + Sync>> = state
            .optimizer()
            .rules
            .iter()
            .map(|rule| -> Arc<dyn OptimizerRule + Send + Sync> {
                if rule.name() == "eliminate_outer_join" {
                    Arc::new(BoundedOuterJoinElimination::default())
                } else {
                    rule.clone()
                }
            })
            .flat_map(|rule| {
                // Unnest keeps unique keys it no longer has: cleared before each rule trusting them.
                let reads = crate::unnest_uniqueness::RULES_READING_DEPENDENCIES.contains(&rule.name());
                let clear: Arc<dyn OptimizerRule + Send + Sync> =
                    Arc::new(crate::unnest_uniqueness::ClearUnnestUniqueness);
                reads.then_some(clear).into_iter().chain(std::iter::once(rule))
            })
            .collect();
        // A DataFusion upgrade that renames the rule must not silently bring
        // back plans that grow exponentially.
        assert!(
            rules.iter().any(|r| r.name() == BoundedOuterJoinElimination::default().name()),
            "DataFusion's eliminate_outer_join rule was not found to replace"
        );
        state = SessionStateBuilder::new_from_existing(state).with_optimizer_rules(rules).build();
        Session {
            ctx: SessionContext::new_with_state(state),
            tables: BTreeMap::new(),
            clock: Clock::System,
            definitions: String::new(),
            definition_starts: Vec::new(),
            catalog: None,
            library: Library::default(),
            memory_budget: crate::memory::default_budget(),
        }
    }

    /// Tables the session knows without data: a query naming one that has
    /// no registered data reads it as an empty table of the catalog's
    /// schema ([`TableCatalog`]).
    pub fn set_catalog(&mut self, catalog: Arc<dyn TableCatalog>) {
        self.catalog = Some(catalog);
    }

    /// Sets the memory each query may use (bytes): sorts, aggregations and
    /// joins spill to temporary files beyond it; other operators fail with
    /// an error naming it. New sessions start with [`crate::memory::default_budget`].
    pub fn set_memory_budget(&mut self, bytes: usize) {
        self.memory_budget = bytes.max(1);
    }

    /// The memory each query may use, in bytes.
    pub fn memory_budget(&self) -> usize {
        self.memory_budget
    }

    pub fn set_clock(&mut self, clock: Clock) {
        self.clock = clock;
    }

    /// Registers in-memory data under `name` with KQL `columns` (the batches'
    /// Arrow types must be the engine's, see [`KqlType::arrow`]).
    pub fn register_batches(
        &mut self,
        name: &str,
        columns: Vec<ColumnDef>,
        batches: Vec<RecordBatch>,
    ) -> Result<(), RegisterError> {
        let schema = crate::types::arrow_schema(&columns);
        let batches = batches
            .into_iter()
            .map(|b| RecordBatch::try_new(schema.clone(), b.columns().to_vec()))
            .collect::<Result<Vec<_>, _>>()?;
        let batches_for_check = batches.clone();
        let table = MemTable::try_new(schema, vec![batches])?;
        let may_have_null_strings = batches_have_null_strings(&columns, &batches_for_check);
        self.tables.insert(name.to_string(), TableEntry { provider: Arc::new(table), columns, may_have_null_strings });
        Ok(())
    }

    /// Registers any DataFusion table (Parquet files, …) whose Arrow types
    /// map to `columns`; datetime columns stored as timestamps are converted.
    pub fn register_provider(&mut self, name: &str, provider: Arc<dyn TableProvider>, columns: Vec<ColumnDef>) {
        self.tables.insert(name.to_string(), TableEntry { provider, columns, may_have_null_strings: true });
    }

    /// Parquet as the session reads it. A `ParquetFormat` made on its own
    /// ignores the session's options, and by default reads strings as views,
    /// which the engine's string kernels would cast to `Utf8` on every scan
    /// (a tenth of the T1021 rule's time over Parquet).
    fn parquet_format(&self) -> datafusion::datasource::file_format::parquet::ParquetFormat {
        use datafusion::datasource::file_format::parquet::ParquetFormat;
        let options = self.ctx.state().table_options().parquet.clone();
        ParquetFormat::default().with_options(options).with_force_view_types(false)
    }

    /// Registers Parquet files (a file or a directory of `.parquet` files),
    /// read lazily with column pruning. Arrow types map to KQL types:
    /// strings, integers, floats, booleans, timestamps (datetime) and
    /// durations (timespan); `known` fixes the KQL type of named columns
    /// (for example `dynamic` stored as JSON text).
    pub async fn register_parquet(
        &mut self,
        name: &str,
        path: &str,
        known: Option<&[ColumnDef]>,
    ) -> Result<(), RegisterError> {
        use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
        let absolute =
            std::fs::canonicalize(path).map_err(|source| RegisterError::Open { path: path.to_string(), source })?;
        let url = ListingTableUrl::parse(absolute.to_string_lossy())?;
        let extension = if absolute.is_dir() { ".parquet" } else { "" };
        let options = ListingOptions::new(Arc::new(self.parquet_format())).with_file_extension(extension);
        let config = ListingTableConfig::new(url)
            .with_listing_options(options)
            .infer_schema(&self.ctx.state())
            .await
            .map_err(|source| RegisterError::ParquetSchema { path: path.to_string(), source })?;
        let table = ListingTable::try_new(config)?;
        let mut columns = Vec::new();
        for field in table.schema().fields() {
            let declared = known.and_then(|k| k.iter().find(|c| c.name == *field.name())).map(|c| c.ty);
            let ty = match declared {
                Some(t) => t,
                None => kql_type_of(field.data_type()).ok_or_else(|| RegisterError::UnmappedType {
                    path: path.to_string(),
                    column: field.name().clone(),
                    data_type: field.data_type().clone(),
                })?,
            };
            columns.push(ColumnDef::new(field.name().clone(), ty));
        }
        self.tables
            .insert(name.to_string(), TableEntry { provider: Arc::new(table), columns, may_have_null_strings: true });
        Ok(())
    }

    /// Registers a directory of Parquet parts (searched recursively) that
    /// make one table of exactly `columns`, in that order, with the engine's
    /// Arrow types ([`KqlType::arrow`]). A part may hold any subset of the
    /// columns: a column it leaves out reads as missing (empty strings,
    /// nulls), so parts need not store columns that are empty in all their rows.
    pub async fn register_parquet_parts(
        &mut self,
        name: &str,
        dir: &str,
        columns: &[ColumnDef],
    ) -> Result<(), RegisterError> {
        use datafusion::datasource::listing::{ListingOptions, ListingTable, ListingTableConfig, ListingTableUrl};
        let absolute =
            std::fs::canonicalize(dir).map_err(|source| RegisterError::Open { path: dir.to_string(), source })?;
        let url = ListingTableUrl::parse(absolute.to_string_lossy())?;
        let options = ListingOptions::new(Arc::new(self.parquet_format())).with_file_extension(".parquet");
        let config =
            ListingTableConfig::new(url).with_listing_options(options).with_schema(crate::types::arrow_schema(columns));
        let table = ListingTable::try_new(config)?;
        // Left-out string columns read as nulls: `may_have_null_strings` makes them empty.
        self.tables.insert(
            name.to_string(),
            TableEntry { provider: Arc::new(table), columns: columns.to_vec(), may_have_null_strings: true },
        );
        Ok(())
    }

    /// Adds session-level definitions: `let` statements (functions, views,
    /// scalars) parsed once and in scope for every later query, like
    /// Log Analytics stored functions. Errors are located in `text`.
    /// Function bodies are bound when called, so they may use tables
    /// registered later.
    pub fn define_functions(&mut self, text: &str) -> Result<(), QueryError> {
        let name = format!("session definition {}", self.definition_starts.len() + 1);
        self.define_named_functions(&name, text)
    }

    /// [`Session::define_functions`] with a name (a file name) that errors
    /// in function bodies, found when a query calls them, are reported with.
    pub fn define_named_functions(&mut self, name: &str, text: &str) -> Result<(), QueryError> {
        let parsed = kqlite_syntax::parse(text);
        if parsed.has_errors() {
            return Err(QueryError::Parse(parsed.diagnostics));
        }
        let offset = self.definitions.len();
        let combined = format!("{}{text}\n", self.definitions);
        let resolver = Resolver { session: self, temporaries: RefCell::new(0) };
        let mut binder = Binder::new(&resolver, 0);
        let parsed_combined = kqlite_syntax::parse(&combined);
        binder.bind_definitions(&parsed_combined.query).map_err(|e| {
            QueryError::Bind(match e.span.start as usize >= offset {
                true => BindError::new(
                    kqlite_syntax::Span::new(e.span.start as usize - offset, e.span.end as usize - offset),
                    e.message,
                ),
                false => e,
            })
        })?;
        // A query follows the definitions when binding: the text must end
        // its last statement.
        if kqlite_syntax::parse(&format!("{combined}print 0")).has_errors() {
            let end = text.trim_end().len();
            return Err(QueryError::Bind(BindError::new(
                kqlite_syntax::Span::new(end, end),
                "definitions must end with ';'",
            )));
        }
        self.definitions = combined;
        self.definition_starts.push((offset, name.to_string()));
        Ok(())
    }

    /// Adds a stored function (a Sentinel parser), callable by its name and
    /// `aliases` from every later query. Nothing is parsed here: a function
    /// is parsed when a query first names it, and bound where it is called,
    /// so loading hundreds costs queries that call none nothing. A name
    /// already stored is replaced. `let` names of a query shadow stored
    /// functions; the session's [`Session::define_functions`] do too.
    pub fn add_stored_function(&mut self, function: StoredFunction, aliases: &[String]) {
        self.library.add(function, aliases);
    }

    /// The stored functions' names (aliases included), sorted.
    pub fn stored_function_names(&self) -> Vec<String> {
        self.library.names()
    }

    /// The stored function named `name` (or aliased so).
    pub fn stored_function(&self, name: &str) -> Option<&StoredFunction> {
        self.library.get(name).map(|f| f.as_ref())
    }

    /// The tables a query reads, through the functions it calls (stored
    /// functions too), from its bound plan before optimization: what it
    /// names, whether or not the tables hold rows.
    pub fn tables_read(&self, text: &str) -> Result<std::collections::BTreeSet<String>, QueryError> {
        use datafusion::common::tree_node::TreeNodeRecursion;
        let relation = self.bind(text, crate::time::now_nanos())?.relation;
        let mut tables = std::collections::BTreeSet::new();
        // Subqueries (`in (T | …)`, toscalar) read tables too.
        for plan in crate::materialized::plans_within(&relation.plan) {
            plan.apply_with_subqueries(|node| {
                if let LogicalPlan::TableScan(scan) = node {
                    let name = scan.table_name.table();
                    // Registered tables and the catalog's (empty) ones;
                    // not the temporaries of datatable or range.
                    if self.tables.contains_key(name)
                        || self.catalog.as_ref().is_some_and(|c| c.columns(name).is_some())
                    {
                        tables.insert(name.to_string());
                    }
                }
                Ok(TreeNodeRecursion::Continue)
            })
            .map_err(QueryError::Execution)?;
        }
        Ok(tables)
    }

    /// The tables registered with data (maybe none rows); see
    /// [`Session::known_table_names`] for those of the catalog too.
    pub fn table_names(&self) -> Vec<String> {
        self.tables.keys().cloned().collect()
    }

    /// Every table a query can name: the registered ones and the catalog's, sorted.
    pub fn known_table_names(&self) -> Vec<String> {
        let mut names = self.table_names();
        if let Some(catalog) = &self.catalog {
            names.extend(catalog.names());
            names.sort_unstable();
            names.dedup();
        }
        names
    }

    pub fn table_columns(&self, name: &str) -> Option<&[ColumnDef]> {
        self.tables.get(name).map(|t| t.columns.as_slice())
    }

    /// Parses and binds without running: the result schema, or the error.
    pub fn check(&self, text: &str) -> Result<Vec<ColumnDef>, QueryError> {
        Ok(self.bind(text, 0)?.relation.columns)
    }

    /// Parses and binds `text`; a panic while doing so is reported as an
    /// internal fault ([`internal_fault`]) rather than unwinding into the caller.
    fn bind(&self, text: &str, now: i64) -> Result<BoundQuery, QueryError> {
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.bind_unguarded(text, now)))
            .unwrap_or_else(|payload| Err(internal_fault("binding", payload)))
    }

    fn bind_unguarded(&self, text: &str, now: i64) -> Result<BoundQuery, QueryError> {
        let parsed = kqlite_syntax::parse(text);
        if parsed.has_errors() {
            return Err(QueryError::Parse(parsed.diagnostics));
        }
        let resolver = Resolver { session: self, temporaries: RefCell::new(0) };
        let mut binder = Binder::new(&resolver, now);
        if self.definitions.is_empty() {
            let relation = binder.bind_query(&parsed.query).map_err(QueryError::Bind)?;
            return Ok(BoundQuery::of(relation, binder));
        }
        let offset = self.definitions.len();
        let combined = kqlite_syntax::parse(&format!("{}{text}", self.definitions));
        if combined.has_errors() {
            // A statement order the parser takes alone but not after lets:
            // bind the definitions first, then the query.
            binder.bind_definitions(&kqlite_syntax::parse(&self.definitions).query).map_err(QueryError::Bind)?;
            let relation = binder.bind_query(&parsed.query).map_err(QueryError::Bind)?;
            return Ok(BoundQuery::of(relation, binder));
        }
        let relation = binder.bind_query(&combined.query).map_err(|e| {
            let start = e.span.start as usize;
            QueryError::Bind(if start >= offset {
                // Shifted into the query's own text; still unresolved when it was.
                BindError { span: kqlite_syntax::Span::new(start - offset, e.span.end as usize - offset), ..e }
            } else {
                // Inside a session function's body, bound where the query calls it.
                let (begin, name) = self
                    .definition_starts
                    .iter()
                    .rev()
                    .find(|(begin, _)| *begin <= start)
                    .cloned()
                    .unwrap_or((0, String::from("session definitions")));
                let (line, col) = LineIndex::new(&self.definitions[begin..]).line_col(start - begin);
                BindError::new(
                    kqlite_syntax::Span::new(0, 0),
                    format!("{} (in {name}, line {line}, column {col})", e.message),
                )
            })
        })?;
        Ok(BoundQuery::of(relation, binder))
    }

    /// The instant `now()` stands for in the next query.
    pub async fn now(&self) -> Result<i64, QueryError> {
        match self.clock {
            Clock::System => Ok(crate::time::now_nanos()),
            Clock::Fixed(t) => Ok(t),
            Clock::LatestEvent => Ok(self.latest_event_time().await?.unwrap_or_else(crate::time::now_nanos)),
        }
    }

    /// The largest TimeGenerated/Timestamp across tables.
    pub async fn latest_event_time(&self) -> Result<Option<i64>, QueryError> {
        let mut latest: Option<i64> = None;
        for (name, entry) in &self.tables {
            for column in ["TimeGenerated", "Timestamp"] {
                if !entry.columns.iter().any(|c| c.name == column && c.ty == KqlType::Datetime) {
                    continue;
                }
                let query = format!("['{}'] | summarize m = max(['{column}'])", name.replace('\'', "\\'"));
                let result = self.run_bound(self.bind(&query, 0)?).await?;
                for batch in &result.batches {
                    let values = batch.column(0);
                    if let Some(v) = values.as_any().downcast_ref::<datafusion::arrow::array::Int64Array>() {
                        for t in v.iter().flatten() {
                            latest = Some(latest.map_or(t, |l: i64| l.max(t)));
                        }
                    }
                }
            }
        }
        Ok(latest)
    }

    /// Runs a query to completion.
    pub async fn query(&self, text: &str) -> Result<QueryResult, QueryError> {
        let now = self.now().await?;
        let relation = self.bind(text, now)?;
        self.run_bound(relation).await
    }

    /// Runs a query and hands each batch of its result to `each` as it is
    /// made, instead of collecting them: for a caller that keeps a small
    /// part of a large result (a hunt's matching rows). Returns the
    /// result's columns. An error from `each` stops the query and is
    /// returned as an execution error.
    pub async fn query_each_batch(
        &self,
        text: &str,
        mut each: impl FnMut(&RecordBatch) -> Result<(), String>,
    ) -> Result<Vec<ColumnDef>, QueryError> {
        let now = self.now().await?;
        let BoundQuery { relation, .. } = self.bind(text, now)?;
        self.run_each_batch(relation.plan, |batch| {
            each(&batch).map_err(|e| QueryError::Execution(DataFusionError::Execution(e)))
        })
        .await?;
        Ok(relation.columns)
    }

    /// What a query reads from each table (columns, and rows by integer
    /// values such as `EventID`), from its optimized plan; see
    /// [`crate::scan_needs`]. Binds the query as [`Session::check`] does.
    pub fn scan_needs(&self, text: &str) -> Result<crate::scan_needs::ScanNeeds, QueryError> {
        let relation = self.bind(text, crate::time::now_nanos())?.relation;
        let plan = self.ctx.state().optimize(&relation.plan).map_err(QueryError::Execution)?;
        Ok(crate::scan_needs::plan_needs(&plan))
    }

    /// The DataFusion logical plan of a query, for `--explain`.
    pub async fn plan(&self, text: &str) -> Result<LogicalPlan, QueryError> {
        let now = self.now().await?;
        Ok(self.bind(text, now)?.relation.plan)
    }

    /// The session's state with a memory pool of the budget's size for one
    /// query, so concurrent queries (the server's) each have the whole
    /// budget; the pool also rides in the configuration for UDF kernels.
    /// Spill files go to the session's disk manager (the OS temp directory).
    fn query_state(&self) -> datafusion::execution::SessionState {
        use datafusion::execution::runtime_env::RuntimeEnv;
        let pool = crate::memory::query_pool(self.memory_budget);
        let shared = self.ctx.runtime_env();
        let runtime = RuntimeEnv {
            memory_pool: pool.clone(),
            disk_manager: shared.disk_manager.clone(),
            cache_manager: shared.cache_manager.clone(),
            object_store_registry: shared.object_store_registry.clone(),
        };
        let mut config = self.ctx.copied_config();
        config
            .options_mut()
            .extensions
            .insert(crate::memory::QueryMemory { pool: Some(pool), budget: self.memory_budget });
        let mut state = SessionStateBuilder::new_from_existing(self.ctx.state())
            .with_config(config)
            .with_runtime_env(Arc::new(runtime))
            .build();
        // The planner hands kernels the options captured here.
        state.mark_start_execution();
        state
    }

    async fn run_bound(&self, bound: BoundQuery) -> Result<QueryResult, QueryError> {
        let BoundQuery { relation, notices, visualization, named_results } = bound;
        let batches = self.collect(relation.plan).await?;
        let mut named = named_results.into_iter();
        let name = named.next().map(|(name, _)| name);
        let mut further = Vec::new();
        for (name, relation) in named {
            let batches = self.collect(relation.plan).await?;
            further.push(ResultTable { name, columns: relation.columns, batches });
        }
        Ok(QueryResult { columns: relation.columns, batches, notices, visualization, name, further })
    }

    /// Runs a plan under the query's memory budget and collects its batches.
    async fn collect(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>, QueryError> {
        let mut batches = Vec::new();
        self.run_each_batch(plan, |batch| {
            batches.push(batch);
            Ok(())
        })
        .await?;
        Ok(batches)
    }

    /// Runs a plan under the query's memory budget, handing each batch to
    /// `each` as it is made; a panic while planning or running (DataFusion
    /// re-raises its tasks' panics here) is reported as an internal fault
    /// ([`internal_fault`]).
    async fn run_each_batch(
        &self,
        plan: LogicalPlan,
        mut each: impl FnMut(RecordBatch) -> Result<(), QueryError>,
    ) -> Result<(), QueryError> {
        let budget = self.memory_budget;
        let exhausted = |e| QueryError::Execution(crate::memory::name_budget(e, budget));
        let run = async {
            let frame = datafusion::dataframe::DataFrame::new(self.query_state(), plan);
            let mut stream = frame.execute_stream().await.map_err(exhausted)?;
            while let Some(batch) = stream.next().await {
                each(batch.map_err(exhausted)?)?;
            }
            Ok(())
        };
        futures::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(run))
            .await
            .unwrap_or_else(|payload| Err(internal_fault("running", payload)))
    }
}

/// A panic caught while `stage` ("binding", "running") a query, as an
/// execution error that names it an internal fault and keeps the panic's
/// message.
fn internal_fault(stage: &str, payload: Box<dyn std::any::Any + Send>) -> QueryError {
    let message = payload
        .downcast_ref::<&str>()
        .map(|m| m.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "no message".to_string());
    QueryError::Execution(DataFusionError::Execution(format!(
        "internal fault in kqlite while {stage} the query (a bug, please report it): {message}"
    )))
}

fn batches_have_null_strings(columns: &[ColumnDef], batches: &[RecordBatch]) -> bool {
    batches
        .iter()
        .any(|b| columns.iter().enumerate().any(|(i, c)| c.ty == KqlType::String && b.column(i).null_count() > 0))
}

/// The KQL type for a stored Arrow type.
pub fn kql_type_of(data_type: &DataType) -> Option<KqlType> {
    Some(match data_type {
        DataType::Boolean => KqlType::Bool,
        DataType::Int8 | DataType::Int16 | DataType::Int32 | DataType::UInt8 | DataType::UInt16 => KqlType::Int,
        DataType::Int64 | DataType::UInt32 | DataType::UInt64 => KqlType::Long,
        DataType::Float16 | DataType::Float32 | DataType::Float64 => KqlType::Real,
        DataType::Decimal128(_, _) | DataType::Decimal256(_, _) => KqlType::Decimal,
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => KqlType::String,
        DataType::Timestamp(_, _) | DataType::Date32 | DataType::Date64 => KqlType::Datetime,
        DataType::Duration(_) => KqlType::Timespan,
        DataType::Binary | DataType::LargeBinary | DataType::BinaryView => KqlType::Dynamic,
        _ => return None,
    })
}

struct Resolver<'s> {
    session: &'s Session,
    temporaries: RefCell<usize>,
}

impl Resolver<'_> {
    /// A catalog table without data: a scan of an empty table of its
    /// schema, named like the table so that what a query reads from it
    /// ([`crate::scan_needs`]) is known before data is loaded.
    fn empty_table(&self, name: &str) -> Option<(LogicalPlan, Vec<ColumnDef>)> {
        let columns = self.session.catalog.as_ref()?.columns(name)?;
        let table = MemTable::try_new(crate::types::arrow_schema(&columns), vec![Vec::new()]).ok()?;
        let plan = LogicalPlanBuilder::scan(TableReference::bare(name), provider_as_source(Arc::new(table)), None)
            .ok()?
            .build()
            .ok()?;
        Some((plan, columns))
    }
}

impl TableResolver for Resolver<'_> {
    fn memory_budget(&self) -> usize {
        self.session.memory_budget
    }

    fn table(&self, name: &str) -> Option<(LogicalPlan, Vec<ColumnDef>)> {
        let Some(entry) = self.session.tables.get(name) else { return self.empty_table(name) };
        let source = provider_as_source(entry.provider.clone());
        let plan = LogicalPlanBuilder::scan(TableReference::bare(name), source, None).ok()?.build().ok()?;
        // Bring stored Arrow types to the engine's (timestamps → i64 ns, …).
        let schema = plan.schema().clone();
        let mut needs_cast = false;
        let mut exprs = Vec::new();
        for (column, (_, field)) in entry.columns.iter().zip(schema.iter()) {
            let reference =
                Expr::Column(datafusion::common::Column::new(Some(TableReference::bare(name)), field.name()));
            let expected = column.ty.arrow();
            let expr = if field.data_type() == &expected {
                reference
            } else {
                needs_cast = true;
                match field.data_type() {
                    DataType::Timestamp(unit, _) if *unit != TimeUnit::Nanosecond => {
                        cast(cast(reference, DataType::Timestamp(TimeUnit::Nanosecond, None)), DataType::Int64)
                    }
                    DataType::Duration(unit) if *unit != TimeUnit::Nanosecond => {
                        cast(cast(reference, DataType::Duration(TimeUnit::Nanosecond)), DataType::Int64)
                    }
                    DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View if column.ty == KqlType::Dynamic => {
                        // JSON text declared dynamic.
                        crate::functions::dynamic::parse_json(crate::convert::Bound::new(
                            cast(reference, DataType::Utf8),
                            KqlType::String,
                        ))
                        .expr
                    }
                    _ => cast(reference, expected),
                }
            };
            // Kusto strings are never null.
            let expr = if column.ty == KqlType::String && entry.may_have_null_strings {
                needs_cast = true;
                datafusion::functions::expr_fn::coalesce(vec![expr, datafusion::logical_expr::lit("")])
            } else {
                expr
            };
            exprs.push(expr.alias(&column.name));
        }
        let plan = if needs_cast { LogicalPlanBuilder::from(plan).project(exprs).ok()?.build().ok()? } else { plan };
        Some((plan, entry.columns.clone()))
    }

    fn table_names(&self) -> Vec<String> {
        self.session.known_table_names()
    }

    fn registered_table_names(&self) -> Vec<String> {
        self.session.table_names()
    }

    fn bag_keys(&self, plan: LogicalPlan, column: &str) -> Result<Vec<String>, KeyScanError> {
        let plan =
            LogicalPlanBuilder::from(plan).project(vec![crate::binder::col_ref(column)]).and_then(|b| b.build())?;
        let ctx = self.session.ctx.clone();
        // Binding is synchronous and may run inside an async runtime: read
        // the data on a thread of its own.
        let batches = std::thread::scope(|scope| {
            scope
                .spawn(move || -> Result<Vec<RecordBatch>, KeyScanError> {
                    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
                    runtime.block_on(async {
                        let frame = ctx.execute_logical_plan(plan).await?;
                        Ok(frame.collect().await?)
                    })
                })
                .join()
                .map_err(|_| KeyScanError::Panicked)?
        })?;
        let mut keys = std::collections::BTreeSet::new();
        for batch in &batches {
            let values = batch
                .column(0)
                .as_any()
                .downcast_ref::<datafusion::arrow::array::BinaryArray>()
                .ok_or(KeyScanError::NotDynamic)?;
            for value in values.iter().flatten() {
                for (key, _) in crate::dynamic::DynRef::new(value).entries() {
                    if !keys.contains(key) {
                        keys.insert(key.to_string());
                    }
                }
            }
        }
        Ok(keys.into_iter().collect())
    }

    fn collect(&self, plan: LogicalPlan) -> Result<Vec<RecordBatch>, KeyScanError> {
        let ctx = self.session.ctx.clone();
        // Binding is synchronous and may run inside an async runtime: run
        // the plan on a thread of its own, as `bag_keys` does.
        std::thread::scope(|scope| {
            scope
                .spawn(move || -> Result<Vec<RecordBatch>, KeyScanError> {
                    let runtime = tokio::runtime::Builder::new_current_thread().build()?;
                    runtime.block_on(async { Ok(ctx.execute_logical_plan(plan).await?.collect().await?) })
                })
                .join()
                .map_err(|_| KeyScanError::Panicked)?
        })
    }

    fn stored_function(&self, name: &str) -> Option<Result<crate::library::StoredDefinition, BindError>> {
        self.session.library.definition(name)
    }

    fn temporary(&self, batch: RecordBatch) -> datafusion::common::Result<(LogicalPlan, String)> {
        let schema = batch.schema();
        let table = MemTable::try_new(schema, vec![vec![batch]])?;
        let mut n = self.temporaries.borrow_mut();
        *n += 1;
        let name = format!("__temp{}", *n);
        let plan =
            LogicalPlanBuilder::scan(TableReference::bare(name.clone()), provider_as_source(Arc::new(table)), None)?
                .build()?;
        Ok((plan, name))
    }
}

#[cfg(test)]
mod definition_tests {
    use super::*;

    #[tokio::test]
    async fn definitions_are_in_scope_for_later_queries() {
        let mut session = Session::with_partitions(1);
        session.define_functions("let Double = (x: long) { x * 2 };\nlet Base = 20;").unwrap();
        session.define_functions("let Answer = () { Double(Base) + 2 };").unwrap();
        let result = session.query("print a = Answer()").await.unwrap();
        let column = result.batches[0].column(0);
        let values = column.as_any().downcast_ref::<datafusion::arrow::array::Int64Array>().unwrap();
        assert_eq!(values.value(0), 42);
        // A query's own let shadows a definition.
        let result = session.query("let Base = 1; print a = Double(Base)").await.unwrap();
        let column = result.batches[0].column(0);
        assert_eq!(column.as_any().downcast_ref::<datafusion::arrow::array::Int64Array>().unwrap().value(0), 2);
    }

    #[test]
    fn definition_errors_are_located_in_the_definitions() {
        let mut session = Session::with_partitions(1);
        let text = "let A = 1;\nlet B = NoSuchName + 1;";
        let error = session.define_functions(text).unwrap_err();
        assert_eq!(error.located(text).1, Some((2, 9)), "{error}");
        let error = session.define_functions("let A = 1;\nprint A").unwrap_err();
        assert!(error.to_string().contains("only let statements"), "{error}");
        assert!(matches!(session.define_functions("let A = (;"), Err(QueryError::Parse(_))));
        let error = session.define_functions("let A = 1").unwrap_err();
        assert!(error.to_string().contains("must end with ';'"), "{error}");
    }

    #[tokio::test]
    async fn errors_in_function_bodies_say_where_they_are() {
        let mut session = Session::with_partitions(1);
        session.define_functions("let Base = 1;\n").unwrap();
        session.define_named_functions("f.kql", "let F = (T:(*)) {\n    T | where NoSuchColumn > 0\n};").unwrap();
        let query = "print x = 1 | extend y = Base\n| where z > 0";
        let error = session.query(query).await.err().unwrap();
        // An error in the query is located in the query.
        assert_eq!(error.located(query).1, Some((2, 9)), "{error}");
        let query = "let X = datatable(a:long)[1]; F(X)";
        let error = session.query(query).await.err().unwrap();
        assert!(error.to_string().contains("unknown name 'NoSuchColumn' (in f.kql, line 2, column 15)"), "{error}");
    }
}
