//! The binder: resolves names and types in a parsed query and lowers it to a
//! DataFusion logical plan.
//!
//! Every tabular value is a [`Relation`]: a logical plan plus the KQL types
//! of its columns (Arrow types alone cannot tell a `datetime` from a `long`).
//! Scalars bind to [`Bound`] expressions. Errors carry the span of the
//! offending syntax and, where it helps, a did-you-mean suggestion.

mod call;
pub use evaluate::supported_plugins;
mod evaluate;
mod evaluate_compose;
mod evaluate_funnel;
mod evaluate_geo_lookup;
mod evaluate_sequence_detect;
mod expand;
mod facet;
mod find;
mod fork;
mod in_subquery;
mod join;
mod let_size;
mod literal;
mod make_series;
mod materialize;
mod multi_output;
mod mv_apply;
mod naming;
mod parse;
mod parse_kv;
mod partition;
mod project_by_names;
mod reduce;
mod render;
mod row_bound;
mod sample;
mod scalar;
mod scalar_operators;
mod scan;
mod tabular;
mod top_hitters;
mod top_nested;

use crate::convert::Bound;
use crate::functions::CallContext;
use crate::library::StoredFunction;
use crate::types::{ColumnDef, KqlType};
use datafusion::common::Column;
use datafusion::logical_expr::{Expr, LogicalPlan};
use kqlite_syntax::ast::{self, FunctionDef, Query, Statement};
use kqlite_syntax::operators::OperatorKeyword;
use kqlite_syntax::Span;
use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;

/// Turns DataFusion planning errors into located bind errors.
pub(super) trait AtSpan<T> {
    fn at(self, span: Span) -> BindResult<T>;
}

impl<T> AtSpan<T> for datafusion::common::Result<T> {
    fn at(self, span: Span) -> BindResult<T> {
        self.map_err(|e| BindError::new(span, format!("cannot plan this: {e}")))
    }
}

/// Tabular operators the binder lowers (others are reported as unsupported),
/// in the order `kqlite functions --operators` lists them.
/// The longest chain of operators a query may bind to. DataFusion's plan
/// passes (and ours) recurse once per operator; past this depth they could
/// overflow the stack of a query thread (the CLI's are 64 MiB), so a deeper
/// query is an error at bind time instead of an abort later. Real queries
/// are tens of operators deep.
pub const MAX_PLAN_DEPTH: usize = 2000;

/// The most operator nodes a plan may have, counting each use of a shared
/// `let` (a chain of `let`s that each union the previous one twice doubles).
pub const MAX_PLAN_NODES: usize = 1_000_000;

/// The most planning work a plan may ask for: the sum, over its operators,
/// of each one's columns times its depth. DataFusion's physical optimizer
/// computes each operator's statistics from every operator below it, per
/// column, so a chain of n `extend`s that each add a column costs about
/// n³/6 (measured: 500 chained extends took 12 s to plan in a debug build,
/// 1,000 took 100 s). Real queries are below a million.
pub const MAX_PLAN_WORK: usize = 30_000_000;

/// Rejects a plan deeper than [`MAX_PLAN_DEPTH`], larger than
/// [`MAX_PLAN_NODES`] or costlier to plan than [`MAX_PLAN_WORK`], walking
/// it without recursion.
fn check_plan_size(plan: &LogicalPlan, span: Span) -> BindResult<()> {
    let mut stack = vec![(plan, 1usize)];
    let mut nodes = 0usize;
    let mut work = 0usize;
    while let Some((node, depth)) = stack.pop() {
        nodes += 1;
        work = work.saturating_add(depth.saturating_mul(node.schema().fields().len()));
        if work > MAX_PLAN_WORK {
            return Err(BindError::new(
                span,
                format!(
                    "the query's plan is too deep and wide to plan in reasonable time (operators {depth} deep \
                     carrying {} columns); project away the columns later steps do not need, or split the query",
                    node.schema().fields().len()
                ),
            ));
        }
        if depth > MAX_PLAN_DEPTH {
            return Err(BindError::new(
                span,
                format!(
                    "the query is more than {MAX_PLAN_DEPTH} operators deep (pipes, and the operators of the `let`s it \
                     uses); split it into several queries"
                ),
            ));
        }
        if nodes > MAX_PLAN_NODES {
            return Err(BindError::new(
                span,
                format!("the query's plan has more than {MAX_PLAN_NODES} operators (counting each use of a `let`)"),
            ));
        }
        stack.extend(node.inputs().into_iter().map(|input| (input, depth + 1)));
    }
    Ok(())
}

/// The operators the binder lowers, as `kqlite functions --operators`
/// lists them. Kept by hand; `tests/leftover_fixes.rs` binds one query per
/// keyword, so a keyword listed here that does not bind, or one left out
/// that does, fails that test.
pub const SUPPORTED_OPERATORS: &[&str] = &[
    OperatorKeyword::Where.as_str(),
    OperatorKeyword::Filter.as_str(),
    OperatorKeyword::Extend.as_str(),
    OperatorKeyword::Project.as_str(),
    OperatorKeyword::ProjectAway.as_str(),
    OperatorKeyword::ProjectKeep.as_str(),
    OperatorKeyword::ProjectRename.as_str(),
    OperatorKeyword::ProjectReorder.as_str(),
    OperatorKeyword::Summarize.as_str(),
    OperatorKeyword::Sort.as_str(),
    OperatorKeyword::Order.as_str(),
    OperatorKeyword::Top.as_str(),
    OperatorKeyword::Take.as_str(),
    OperatorKeyword::Limit.as_str(),
    OperatorKeyword::Sample.as_str(),
    OperatorKeyword::Count.as_str(),
    OperatorKeyword::Distinct.as_str(),
    OperatorKeyword::Serialize.as_str(),
    OperatorKeyword::As.as_str(),
    OperatorKeyword::Render.as_str(),
    OperatorKeyword::GetSchema.as_str(),
    OperatorKeyword::Join.as_str(),
    OperatorKeyword::Lookup.as_str(),
    OperatorKeyword::Union.as_str(),
    OperatorKeyword::MvExpand.as_str(),
    OperatorKeyword::MvExpandLegacy.as_str(),
    OperatorKeyword::Parse.as_str(),
    OperatorKeyword::ParseWhere.as_str(),
    OperatorKeyword::Invoke.as_str(),
    OperatorKeyword::Print.as_str(),
    OperatorKeyword::Range.as_str(),
    OperatorKeyword::Datatable.as_str(),
    OperatorKeyword::ExternalData.as_str(),
    OperatorKeyword::ParseKv.as_str(),
    OperatorKeyword::MvApply.as_str(),
    OperatorKeyword::TopNested.as_str(),
    OperatorKeyword::MakeSeries.as_str(),
    OperatorKeyword::Evaluate.as_str(),
    OperatorKeyword::Find.as_str(),
    OperatorKeyword::ExternalDataUnderscore.as_str(),
    OperatorKeyword::ProjectByNames.as_str(),
    OperatorKeyword::SampleDistinct.as_str(),
    OperatorKeyword::TopHitters.as_str(),
    OperatorKeyword::Scan.as_str(),
    OperatorKeyword::Partition.as_str(),
    OperatorKeyword::Fork.as_str(),
    OperatorKeyword::Facet.as_str(),
    OperatorKeyword::Reduce.as_str(),
    OperatorKeyword::Consume.as_str(),
];

/// A tabular value: a plan and the KQL type of each of its columns, in order.
#[derive(Clone, Debug)]
pub struct Relation {
    pub plan: LogicalPlan,
    pub columns: Vec<ColumnDef>,
}

impl Relation {
    pub fn column(&self, name: &str) -> Option<&ColumnDef> {
        self.columns.iter().find(|c| c.name == name)
    }
}

/// A binding or type error at a place in the query.
#[derive(Clone, Debug, PartialEq)]
pub struct BindError {
    pub message: String,
    pub span: Span,
    /// The table or tabular function that does not exist, when that is
    /// the error (`union isfuzzy=true` skips such legs).
    pub unresolved: Option<String>,
}

impl BindError {
    pub fn new(span: Span, message: impl Into<String>) -> BindError {
        BindError { message: message.into(), span, unresolved: None }
    }

    /// The error of a name that is no table or tabular function.
    pub fn unresolved(span: Span, name: &str, message: impl Into<String>) -> BindError {
        BindError { message: message.into(), span, unresolved: Some(name.to_string()) }
    }
}

impl fmt::Display for BindError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for BindError {}

pub type BindResult<T> = Result<T, BindError>;

/// Why the keys of a dynamic column could not be read while binding
/// (`bag_unpack`, `pivot`).
#[derive(Debug, thiserror::Error)]
pub enum KeyScanError {
    /// DataFusion could not plan or run the scan.
    #[error("{0}")]
    DataFusion(#[from] datafusion::error::DataFusionError),
    /// The scan's runtime could not start.
    #[error("{0}")]
    Runtime(#[from] std::io::Error),
    /// The thread running the scan panicked.
    #[error("the key scan panicked")]
    Panicked,
    /// The column does not hold dynamic values.
    #[error("the column is not dynamic")]
    NotDynamic,
}

/// Where the binder finds tables.
pub trait TableResolver {
    /// The memory a query may use (bytes): tables built while binding
    /// (`range`) must fit in it.
    fn memory_budget(&self) -> usize {
        usize::MAX
    }
    /// A scan of the table, producing the engine's Arrow types, and its KQL schema.
    fn table(&self, name: &str) -> Option<(LogicalPlan, Vec<ColumnDef>)>;
    /// Every table name a query can name (with data or not), for
    /// suggestions and wildcards.
    fn table_names(&self) -> Vec<String>;
    /// The tables registered with data (`find` without `in` searches these:
    /// a table known only by its schema has no rows to find).
    fn registered_table_names(&self) -> Vec<String>;
    /// Registers an in-memory table built during binding (datatable, range)
    /// and returns a scan of it.
    fn temporary(
        &self,
        batch: datafusion::arrow::record_batch::RecordBatch,
    ) -> datafusion::common::Result<(LogicalPlan, String)>;
    /// The distinct keys of the property bags in `column` of `plan`, sorted
    /// (for `bag_unpack`, whose output columns depend on the data).
    fn bag_keys(&self, plan: LogicalPlan, column: &str) -> Result<Vec<String>, KeyScanError>;
    /// Runs `plan` to its rows, for operators whose output depends on the
    /// rows themselves (`scan`'s state machine, `partition`'s keys).
    fn collect(&self, plan: LogicalPlan) -> Result<Vec<datafusion::arrow::record_batch::RecordBatch>, KeyScanError>;
    /// A stored function (a Sentinel parser) named `name`, parsed, or why
    /// it does not parse; asked for names no `let` defines.
    fn stored_function(&self, _name: &str) -> Option<Result<crate::library::StoredDefinition, BindError>> {
        None
    }
}

/// A user function: a `let` function of the query, or a stored function
/// (then `stored` says where its body comes from, for errors).
#[derive(Clone)]
pub(super) struct Function {
    def: Arc<FunctionDef>,
    stored: Option<Arc<StoredFunction>>,
}

impl Function {
    /// Whether a call may leave out the parentheses (`imAuthentication |
    /// take 10`): a function without parameters, or a stored function whose
    /// parameters all have defaults, as Log Analytics allows.
    fn callable_as_view(&self) -> bool {
        self.def.params.is_empty() || (self.stored.is_some() && self.def.params.iter().all(|p| p.default.is_some()))
    }
}

impl std::ops::Deref for Function {
    type Target = FunctionDef;

    fn deref(&self) -> &FunctionDef {
        &self.def
    }
}

/// What a `let` name stands for.
#[derive(Clone)]
enum Binding {
    Scalar(Bound),
    Tabular(Relation),
    Function(Function),
}

pub struct Binder<'r> {
    resolver: &'r dyn TableResolver,
    call: CallContext,
    /// Values of `declare query_parameters`, by name.
    parameters: HashMap<String, Bound>,
    scopes: Vec<HashMap<String, Binding>>,
    /// The stored functions whose bodies are being bound: a body naming one
    /// of them means the table of that name, never a recursive call (a
    /// parser named after the table it reads).
    active_stored: Vec<Arc<StoredFunction>>,
    /// How many function bodies are being bound, one inside another.
    function_depth: usize,
    /// Unique names for temporary tables and hidden columns.
    counter: usize,
    /// Things the user should know about the result (e.g. data kqlite
    /// cannot fetch offline).
    pub notices: Vec<String>,
    /// The last `render`'s chart and properties.
    pub visualization: Option<crate::visualization::Visualization>,
    /// The tables of the last `fork`/`facet` bound, until the query's end
    /// decides whether they are its results.
    several_results: Option<fork::SeveralResults>,
    /// The query's named results when it makes several (it ends in `fork`
    /// or `facet`), the first being the relation [`Binder::bind_query`]
    /// returns; empty for a query of one unnamed result.
    pub named_results: Vec<(String, Relation)>,
}

impl<'r> Binder<'r> {
    pub fn new(resolver: &'r dyn TableResolver, now: i64) -> Binder<'r> {
        Binder {
            resolver,
            call: CallContext { now, bin_auto_size: None, bin_auto_at: None },
            parameters: HashMap::new(),
            scopes: vec![HashMap::new()],
            active_stored: Vec::new(),
            function_depth: 0,
            counter: 0,
            notices: Vec::new(),
            visualization: None,
            several_results: None,
            named_results: Vec::new(),
        }
    }

    /// Supplies a value for a declared query parameter.
    pub fn set_parameter(&mut self, name: &str, value: Bound) {
        self.parameters.insert(name.to_string(), value);
    }

    /// Binds a whole query; the result is its last tabular statement.
    pub fn bind_query(&mut self, query: &Query) -> BindResult<Relation> {
        let mut result = None;
        for statement in &query.statements {
            if let Some(relation) = self.statement(statement)? {
                result = Some(relation);
            }
        }
        let mut relation =
            result.ok_or_else(|| BindError::new(query.span, "the query has no tabular expression to return"))?;
        // At the query's last expression: the statements before it may be a
        // session's definitions, prepended to the user's text.
        let last = query.statements.iter().rev().find_map(|s| match s {
            Statement::Expr(e) => Some(e.span),
            _ => None,
        });
        let mut named_results = self.results_of_query(&relation);
        check_plan_size(&relation.plan, last.unwrap_or(query.span))?;
        relation.plan = in_subquery::lower_in_subqueries(relation.plan).at(query.span)?;
        for (_, result) in named_results.iter_mut().skip(1) {
            check_plan_size(&result.plan, last.unwrap_or(query.span))?;
            result.plan = in_subquery::lower_in_subqueries(result.plan.clone()).at(query.span)?;
        }
        if let Some((_, first)) = named_results.first_mut() {
            *first = relation.clone();
        }
        self.named_results = named_results;
        Ok(relation)
    }

    /// Binds session-level definitions (only `let` statements) into the
    /// outermost scope, so the query bound next can use them.
    pub fn bind_definitions(&mut self, definitions: &Query) -> BindResult<()> {
        for statement in &definitions.statements {
            let span = match statement {
                Statement::Let(_) => {
                    self.statement(statement)?;
                    continue;
                }
                Statement::Expr(e) => e.span,
                Statement::Set(s) => s.span,
                Statement::Alias(a) => a.span,
                Statement::DeclareQueryParameters(d) => d.span,
            };
            return Err(BindError::new(span, "definitions may contain only let statements"));
        }
        Ok(())
    }

    /// Binds one statement; expression statements produce a relation.
    fn statement(&mut self, statement: &Statement) -> BindResult<Option<Relation>> {
        match statement {
            Statement::Let(l) => {
                let binding = match &l.value {
                    ast::LetValue::Function(def) => {
                        Binding::Function(Function { def: Arc::new(def.clone()), stored: None })
                    }
                    ast::LetValue::Expr(e) => match self.tabular_or_scalar(e)? {
                        Either::Tabular(r) => Binding::Tabular(r),
                        Either::Scalar(b) => Binding::Scalar(self.settle_let_scalar(b, l.name.span)?),
                    },
                };
                self.scopes.last_mut().expect("a scope").insert(l.name.name.clone(), binding);
                Ok(None)
            }
            Statement::DeclareQueryParameters(d) => {
                for p in &d.params {
                    let ast::ParamType::Scalar(ty) = &p.ty else {
                        return Err(BindError::new(p.span, "tabular query parameters are not supported"));
                    };
                    let ty = self.type_name(ty)?;
                    let value = match (self.parameters.get(&p.name.name).cloned(), &p.default) {
                        (Some(v), _) => crate::convert::implicit(v, ty).ok_or_else(|| {
                            BindError::new(p.span, format!("query parameter '{}' must be {ty}", p.name.name))
                        })?,
                        (None, Some(default)) => self.constant(default)?,
                        (None, None) => {
                            return Err(BindError::new(
                                p.span,
                                format!("query parameter '{}' has no value and no default", p.name.name),
                            ))
                        }
                    };
                    self.scopes.last_mut().expect("a scope").insert(p.name.name.clone(), Binding::Scalar(value));
                }
                Ok(None)
            }
            Statement::Set(set) => {
                // The options a function reads (`bin_auto`); others change nothing here.
                match (set.name.as_str(), &set.value) {
                    ("query_bin_auto_size", Some(value)) => self.call.bin_auto_size = Some(self.constant(value)?),
                    ("query_bin_auto_at", Some(value)) => self.call.bin_auto_at = Some(self.constant(value)?),
                    _ => {}
                }
                Ok(None)
            }
            Statement::Alias(_) => Ok(None),
            Statement::Expr(e) => match self.tabular_or_scalar(e)? {
                Either::Tabular(r) => Ok(Some(r)),
                Either::Scalar(b) => Ok(Some(self.print_relation(vec![("print_0".to_string(), b)])?)),
            },
        }
    }

    /// What `name` stands for: a `let` (innermost first), else a stored
    /// function (one that does not parse is reported by [`Binder::stored_error`]).
    fn lookup(&self, name: &str) -> Option<Binding> {
        if let Some(binding) = self.lookup_let(name) {
            return Some(binding.clone());
        }
        match self.resolver.stored_function(name)? {
            Ok((_, stored)) if self.active_stored.iter().any(|a| Arc::ptr_eq(a, &stored)) => None,
            Ok((def, stored)) => Some(Binding::Function(Function { def, stored: Some(stored) })),
            Err(_) => None,
        }
    }

    /// What `name` stands for among the `let`s in scope (innermost first).
    fn lookup_let(&self, name: &str) -> Option<&Binding> {
        self.scopes.iter().rev().find_map(|s| s.get(name))
    }

    /// Why the stored function `name` cannot be used, when it cannot.
    fn stored_error(&self, name: &str, span: Span) -> Option<BindError> {
        match self.resolver.stored_function(name)? {
            Ok(_) => None,
            Err(e) => Some(BindError::new(span, e.message)),
        }
    }

    fn type_name(&self, ty: &ast::TypeName) -> BindResult<KqlType> {
        KqlType::from_name(&ty.name).ok_or_else(|| BindError::new(ty.span, format!("unknown type '{}'", ty.name)))
    }

    fn fresh(&mut self, prefix: &str) -> String {
        self.counter += 1;
        format!("__{prefix}{}", self.counter)
    }

    /// Every name visible for suggestions: columns, lets and tables.
    fn visible_names(&self, columns: &[ColumnDef]) -> Vec<String> {
        let mut names: Vec<String> = columns.iter().map(|c| c.name.clone()).collect();
        for scope in &self.scopes {
            names.extend(scope.keys().cloned());
        }
        names.extend(self.resolver.table_names());
        names
    }
}

enum Either {
    Tabular(Relation),
    Scalar(Bound),
}

/// A reference to a column by its exact (case-sensitive) name.
pub fn col_ref(name: &str) -> Expr {
    Expr::Column(Column::from_name(name))
}
