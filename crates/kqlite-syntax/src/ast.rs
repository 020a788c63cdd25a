//! The KQL abstract syntax tree.
//!
//! Every node carries the byte [`Span`] it was parsed from, and `==`
//! compares spans too; [`crate::SpanlessEq`] compares trees without them, as
//! in `parse(print(ast)).spanless_eq(&ast)`. `Display` (in `display.rs`)
//! prints valid KQL.
//!
//! Tabular and scalar expressions share one [`Expr`] type: KQL mixes them
//! freely (`toscalar(T | count)`, `x in (T | project y)`, `let v = T | …`),
//! and telling them apart is the binder's job, not the parser's.

use crate::operators::OperatorKeyword;
use crate::span::Span;

/// A whole query: statements separated by `;`. The last one is usually the
/// query expression whose result is returned.
#[derive(Clone, Debug, PartialEq)]
pub struct Query {
    pub statements: Vec<Statement>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Statement {
    Let(LetStatement),
    /// `declare query_parameters(name: type [= default], …)`
    DeclareQueryParameters(DeclareStatement),
    /// `set name [= value]`: parsed, reported as ignored.
    Set(SetStatement),
    /// `alias database X = cluster(…).database(…)`.
    Alias(AliasStatement),
    /// A query expression (tabular or scalar).
    Expr(Expr),
}

#[derive(Clone, Debug, PartialEq)]
pub struct LetStatement {
    pub name: Ident,
    pub value: LetValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum LetValue {
    /// `let x = expr` (scalar or tabular).
    Expr(Expr),
    /// `let f = (a: long, T: (*)) { … }`, or `view () { … }` when `is_view`.
    Function(FunctionDef),
}

#[derive(Clone, Debug, PartialEq)]
pub struct FunctionDef {
    pub is_view: bool,
    pub params: Vec<Param>,
    pub body: FunctionBody,
    pub span: Span,
}

/// `{ let …; …; expr }`: statements whose last is the result.
#[derive(Clone, Debug, PartialEq)]
pub struct FunctionBody {
    pub statements: Vec<Statement>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Param {
    pub name: Ident,
    pub ty: ParamType,
    pub default: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParamType {
    Scalar(TypeName),
    /// `(*)` when `columns` is empty and `open` is true; `(a: long, *)` etc.
    Tabular(TabularSchema),
}

#[derive(Clone, Debug, PartialEq)]
pub struct TabularSchema {
    pub columns: Vec<ColumnDecl>,
    /// The schema ends with (or is only) `*`: more columns are allowed.
    pub open: bool,
    pub span: Span,
}

/// `name: type`, as in `datatable(name: string)` or a parse pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct ColumnDecl {
    pub name: Ident,
    pub ty: TypeName,
    pub span: Span,
}

/// A scalar type name as written (`long`, `string`, `dynamic`, `int`, …).
#[derive(Clone, Debug, PartialEq)]
pub struct TypeName {
    pub name: String,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct DeclareStatement {
    pub params: Vec<Param>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SetStatement {
    /// Dotted option name, e.g. `query_now` or `notruncation`.
    pub name: String,
    pub value: Option<Expr>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AliasStatement {
    pub name: Ident,
    pub value: Expr,
    pub span: Span,
}

/// A name. `quoted` names were written `['…']` and may hold any characters.
#[derive(Clone, Debug, PartialEq)]
pub struct Ident {
    pub name: String,
    pub span: Span,
}

impl Ident {
    pub fn new(name: impl Into<String>, span: Span) -> Ident {
        Ident { name: name.into(), span }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Expr {
    pub kind: ExprKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ExprKind {
    Literal(Literal),
    /// A column, table, `let` name or `$left`/`$right`.
    Name(Ident),
    /// `*`, as in `arg_max(x, *)`, `count(*)` or `distinct *`.
    Star,
    /// A table name pattern with wildcards, as in `union Security*`.
    NamePattern(String),
    /// `expr.name`
    Member {
        target: Box<Expr>,
        name: Ident,
    },
    /// `expr[index]`
    Index {
        target: Box<Expr>,
        index: Box<Expr>,
    },
    /// `f(args)`; `database("x")`, `materialize(T)`, `toscalar(T)` too.
    Call {
        func: Ident,
        args: Vec<Arg>,
    },
    /// `receiver.f(args)`, as in `cluster("c").database("d")`.
    MethodCall {
        receiver: Box<Expr>,
        func: Ident,
        args: Vec<Arg>,
    },
    Unary {
        op: UnaryOp,
        operand: Box<Expr>,
    },
    Binary {
        op: BinaryOp,
        left: Box<Expr>,
        right: Box<Expr>,
    },
    /// `x in (a, b)`, `x !in~ (T | project y)`, `x has_any (list)`.
    InList {
        op: ListOp,
        target: Box<Expr>,
        items: Vec<Expr>,
    },
    /// `x between (a .. b)`, `x !between (a .. b)`.
    Between {
        negated: bool,
        target: Box<Expr>,
        low: Box<Expr>,
        high: Box<Expr>,
    },
    /// `(expr)`, kept so printing reproduces the grouping.
    Paren(Box<Expr>),
    /// `[expr]`, which Kusto's grammar takes as an operand (`print [1]`);
    /// `['name']` is a [`ExprKind::Name`] instead.
    Bracketed(Box<Expr>),
    /// `input | operator`
    Pipe {
        input: Box<Expr>,
        operator: Box<Operator>,
    },
    /// A tabular operator that starts a pipeline: `print`, `range`,
    /// `datatable`, `union`, `find`, `search`, `externaldata`, `evaluate`.
    Source(Box<Operator>),
    /// `typeof(long)` or `typeof(a: string, *)`.
    TypeOf(TypeOfArg),
    /// `{ … }` used as an expression: a function body.
    Block(FunctionBody),
    /// An expression the parser could not read; only in trees with errors.
    Error,
}

#[derive(Clone, Debug, PartialEq)]
pub enum TypeOfArg {
    Scalar(TypeName),
    Tabular(TabularSchema),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Arg {
    /// `name = value` named arguments.
    pub name: Option<Ident>,
    pub value: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub enum Literal {
    Null,
    Bool(bool),
    /// Integer literal text (`12`, `0x1F`); integer literals are `long`.
    Long(String),
    /// Real literal text (`1.5`, `1e-3`).
    Real(String),
    /// A string value (decoded); `obfuscated` for `h'…'`.
    String {
        value: String,
        obfuscated: bool,
    },
    /// `1d`, `1.5h`, `100ms`: the text as written.
    Timespan(String),
    /// `datetime(…)`/`date(…)`: the raw text between the parentheses.
    Datetime(String),
    /// `timespan(…)`/`time(…)`: the raw text between the parentheses.
    TimespanCall(String),
    /// `guid(…)`: the raw text between the parentheses.
    Guid(String),
    /// `dynamic(…)`
    Dynamic(DynamicValue),
    /// `int(null)`, `long(12)`, `real(nan)`, `bool(true)`, `decimal(1.5)`:
    /// type name plus the raw value text (`null`, `12`, `+inf`).
    Typed {
        ty: String,
        value: String,
    },
}

/// The contents of a `dynamic(…)` literal.
#[derive(Clone, Debug, PartialEq)]
pub enum DynamicValue {
    Null,
    Bool(bool),
    /// Number text, with sign.
    Number(String),
    String(String),
    Array(Vec<DynamicValue>),
    Object(Vec<(String, DynamicValue)>),
    /// A scalar literal inside, such as `datetime(…)` or `1d`.
    Literal(Box<Literal>),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnaryOp {
    Neg,
    Plus,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum BinaryOp {
    Or,
    And,
    Eq,
    NotEq,
    Lt,
    Le,
    Gt,
    Ge,
    /// `=~`
    EqCi,
    /// `!~`
    NotEqCi,
    Add,
    Sub,
    Mul,
    Div,
    Mod,
    /// String operators: `has`, `!contains_cs`, `matches regex`, … .
    Str(StringOp),
    /// `Col : "term"` inside `search`/`find` predicates.
    SearchColon,
}

/// A string operator, such as `has`, `!startswith_cs`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct StringOp {
    pub kind: StringOpKind,
    pub negated: bool,
    pub case_sensitive: bool,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum StringOpKind {
    Has,
    HasPrefix,
    HasSuffix,
    Contains,
    StartsWith,
    EndsWith,
    /// `matches regex` (never negated; always case-sensitive).
    MatchesRegex,
    /// `like`, `notlike`, `likecs`, `notlikecs`: Kusto's grammar takes them
    /// (spelled only so: no `!like`, no `like_cs`), its reference does not
    /// document them.
    Like,
}

impl StringOpKind {
    pub fn keyword(self) -> &'static str {
        match self {
            StringOpKind::Has => "has",
            StringOpKind::HasPrefix => "hasprefix",
            StringOpKind::HasSuffix => "hassuffix",
            StringOpKind::Contains => "contains",
            StringOpKind::StartsWith => "startswith",
            StringOpKind::EndsWith => "endswith",
            StringOpKind::MatchesRegex => "matches regex",
            StringOpKind::Like => "like",
        }
    }
}

/// Operators that take a parenthesised list on the right.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum ListOp {
    In,
    NotIn,
    InCi,
    NotInCi,
    HasAny,
    HasAll,
    HasAnyCs,
    HasAllCs,
}

impl ListOp {
    pub fn keyword(self) -> &'static str {
        match self {
            ListOp::In => "in",
            ListOp::NotIn => "!in",
            ListOp::InCi => "in~",
            ListOp::NotInCi => "!in~",
            ListOp::HasAny => "has_any",
            ListOp::HasAll => "has_all",
            ListOp::HasAnyCs => "has_any_cs",
            ListOp::HasAllCs => "has_all_cs",
        }
    }
}

/// `name = value` before an operator's arguments: `kind=inner`,
/// `hint.strategy=shuffle`, `withsource=TableName`, `bagexpansion=array`.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorParam {
    /// Dotted name as written, e.g. `hint.strategy`.
    pub name: String,
    pub value: Expr,
    pub span: Span,
}

/// `name = value` in `render … with (…)`, or before `with` for `kind`,
/// `title` and `accumulate`.
#[derive(Clone, Debug, PartialEq)]
pub struct RenderProperty {
    pub name: String,
    pub value: RenderValue,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum RenderValue {
    Expr(Expr),
    /// The column lists `ycolumns`, `series` and `anomalycolumns`: `ycolumns=a, b`.
    Columns(Vec<Ident>),
}

/// An output column: `expr` or `Name = expr` or `(A, B) = expr`.
#[derive(Clone, Debug, PartialEq)]
pub struct NamedExpr {
    pub names: Vec<Ident>,
    /// The names were written in parentheses: `(A, B) = …`.
    pub tuple: bool,
    pub expr: Expr,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortOrder {
    Asc,
    Desc,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NullsOrder {
    First,
    Last,
}

#[derive(Clone, Debug, PartialEq)]
pub struct SortKey {
    pub expr: Expr,
    pub order: Option<SortOrder>,
    pub nulls: Option<NullsOrder>,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub struct Operator {
    pub kind: OperatorKind,
    pub span: Span,
}

#[derive(Clone, Debug, PartialEq)]
pub enum OperatorKind {
    /// `where` (or `filter`) predicate.
    Where {
        predicate: Expr,
    },
    Extend {
        columns: Vec<NamedExpr>,
    },
    Project {
        columns: Vec<NamedExpr>,
    },
    /// Column names or wildcard patterns (`Name*`), as expressions.
    ProjectAway {
        columns: Vec<Expr>,
    },
    ProjectKeep {
        columns: Vec<Expr>,
    },
    /// `project-rename New = Old, …`. Kusto's grammar takes any expression
    /// on the right; the binder requires a column name.
    ProjectRename {
        renames: Vec<(Ident, Expr)>,
    },
    ProjectReorder {
        columns: Vec<SortKey>,
    },
    Summarize {
        params: Vec<OperatorParam>,
        aggregates: Vec<NamedExpr>,
        by: Vec<NamedExpr>,
    },
    /// `join [params] right on keys`. Keys are names or `$left.a == $right.b`.
    Join {
        params: Vec<OperatorParam>,
        right: Expr,
        on: Vec<Expr>,
    },
    Lookup {
        params: Vec<OperatorParam>,
        right: Expr,
        on: Vec<Expr>,
    },
    Union {
        params: Vec<OperatorParam>,
        tables: Vec<Expr>,
    },
    /// `mv-expand` (`mvexpand` when `legacy_name`).
    MvExpand {
        params: Vec<OperatorParam>,
        items: Vec<MvExpandItem>,
        limit: Option<Expr>,
        legacy_name: bool,
    },
    MvApply {
        params: Vec<OperatorParam>,
        items: Vec<MvExpandItem>,
        limit: Option<Expr>,
        on: Box<Expr>,
    },
    /// `parse` / `parse-where`.
    Parse {
        is_where: bool,
        params: Vec<OperatorParam>,
        source: Expr,
        pattern: Vec<ParsePart>,
    },
    /// `parse-kv source as (cols) with (options)`.
    ParseKv {
        source: Expr,
        columns: Vec<ColumnDecl>,
        options: Vec<OperatorParam>,
    },
    /// `evaluate [params] plugin(args) [: (output schema)]`.
    Evaluate {
        params: Vec<OperatorParam>,
        call: Expr,
        /// The declared output schema (`bag_unpack(d) : (*, Name: string)`).
        output: Option<TabularSchema>,
    },
    MakeSeries(MakeSeries),
    /// `top N by expr [asc|desc] [nulls …]`
    Top {
        count: Expr,
        by: SortKey,
    },
    TopNested {
        clauses: Vec<TopNestedClause>,
    },
    /// `top-hitters N of expr [by expr]`
    TopHitters {
        count: Expr,
        of: Expr,
        by: Option<Expr>,
    },
    /// `take N` or `limit N` (`keyword` keeps which).
    Take {
        keyword: TakeKeyword,
        count: Expr,
    },
    /// `sort by` / `order by`.
    Sort {
        keyword: SortKeyword,
        params: Vec<OperatorParam>,
        keys: Vec<SortKey>,
    },
    /// `distinct *` or `distinct a, b`.
    Distinct {
        params: Vec<OperatorParam>,
        columns: Vec<NamedExpr>,
    },
    Count,
    /// `as [params] Name`
    As {
        params: Vec<OperatorParam>,
        name: Ident,
    },
    Serialize {
        columns: Vec<NamedExpr>,
    },
    /// `render chart [kind=…] [with (name = value, …)]`
    Render {
        chart: Ident,
        properties: Vec<RenderProperty>,
    },
    Sample {
        count: Expr,
    },
    SampleDistinct {
        count: Expr,
        of: Expr,
    },
    GetSchema,
    /// `partition [params] by Col (subquery)` or `{ subquery }`.
    Partition {
        params: Vec<OperatorParam>,
        by: Ident,
        body: Box<Expr>,
        braces: bool,
    },
    /// `facet by a, b [with (subpipeline)]`
    Facet {
        by: Vec<Ident>,
        with: Option<Box<Expr>>,
    },
    /// `invoke f(args)`
    Invoke {
        call: Expr,
    },
    /// `fork (subpipeline) …`, each optionally named.
    Fork {
        branches: Vec<ForkBranch>,
    },
    /// `reduce [kind=…] by expr [with threshold=…]`
    Reduce {
        params: Vec<OperatorParam>,
        by: Expr,
        with: Vec<OperatorParam>,
    },
    /// `consume [params]`
    Consume {
        params: Vec<OperatorParam>,
    },
    /// `project-smart` (legacy, no arguments).
    ProjectSmart,
    /// `scan [with_match_id=Id] [declare (cols)] with (step …; …)`.
    Scan {
        params: Vec<OperatorParam>,
        /// `declare (name: type [= default], …)`.
        declare: Vec<Param>,
        steps: Vec<ScanStep>,
    },
    /// `project-by-names expr, …`: columns named by string expressions.
    ProjectByNames {
        columns: Vec<Expr>,
    },
    MakeGraph(MakeGraph),
    /// `graph-match` or `graph-shortest-paths`.
    GraphMatch(GraphMatch),
    /// `graph-to-table nodes [as N] [with_node_id=…], edges [as E] […]`
    GraphToTable {
        outputs: Vec<GraphTableOutput>,
    },
    /// `graph-mark-components [kind=…] [with_component_id=…]`
    GraphMarkComponents {
        params: Vec<OperatorParam>,
    },
    /// `lookup`-style `execute-and-cache`, `assert-schema` and other rarely
    /// used operators are not supported by the parser.
    ///
    /// Source operators:
    /// `print [Name =] expr, …`
    Print {
        columns: Vec<NamedExpr>,
    },
    /// `range Col from a to b step c`
    Range {
        column: Ident,
        from: Expr,
        to: Expr,
        step: Expr,
    },
    /// `datatable (cols) [values]`
    Datatable {
        schema: TabularSchema,
        values: Vec<Expr>,
    },
    /// `externaldata (cols) [uris] [with (options)]`
    ExternalData {
        schema: TabularSchema,
        uris: Vec<Expr>,
        options: Vec<OperatorParam>,
    },
    /// `find [params] [in (tables)] where predicate [project cols | project-smart]`
    Find {
        params: Vec<OperatorParam>,
        tables: Option<Vec<Expr>>,
        predicate: Expr,
        project: Option<FindProject>,
    },
    /// `search [params] [in (tables)] predicate`
    Search {
        params: Vec<OperatorParam>,
        tables: Option<Vec<Expr>>,
        predicate: Expr,
    },
    /// A placeholder for the input of a sub-pipeline (`mv-apply … on (…)`,
    /// `partition`, `facet`, `fork`): prints as nothing.
    Input,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TakeKeyword {
    Take,
    Limit,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SortKeyword {
    Sort,
    Order,
}

#[derive(Clone, Debug, PartialEq)]
pub enum FindProject {
    Columns(Vec<Expr>),
    Smart,
}

#[derive(Clone, Debug, PartialEq)]
pub struct ForkBranch {
    pub name: Option<Ident>,
    pub body: Expr,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MvExpandItem {
    pub column: NamedExpr,
    pub to_type: Option<TypeName>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum ParsePart {
    /// A literal string to match.
    Text(Literal),
    /// A column to capture, optionally typed: `Name` or `Name: long`.
    Column { name: Ident, ty: Option<TypeName> },
    /// `*`: skip anything.
    Star,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MakeSeries {
    pub params: Vec<OperatorParam>,
    pub aggregates: Vec<MakeSeriesAggregate>,
    pub on: Expr,
    pub range: MakeSeriesRange,
    pub by: Vec<NamedExpr>,
}

#[derive(Clone, Debug, PartialEq)]
pub struct MakeSeriesAggregate {
    pub column: NamedExpr,
    pub default: Option<Expr>,
}

#[derive(Clone, Debug, PartialEq)]
pub enum MakeSeriesRange {
    /// `from a to b step c` (from and to optional).
    FromTo { from: Option<Expr>, to: Option<Expr>, step: Expr },
    /// `in range(a, b, c)`
    InRange { start: Expr, stop: Expr, step: Expr },
}

/// `step Name [output=all|last|none]: condition [=> Col = expr, …];` in `scan`.
#[derive(Clone, Debug, PartialEq)]
pub struct ScanStep {
    pub name: Ident,
    pub output: Option<Ident>,
    pub condition: Expr,
    pub assignments: Vec<(Ident, Expr)>,
    pub span: Span,
}

/// `make-graph Source --> Target [with Nodes on Key, …] [with_node_id=Name]
/// [partitioned-by Column (graph operators)]`.
#[derive(Clone, Debug, PartialEq)]
pub struct MakeGraph {
    /// The column of each edge's source node.
    pub source: Ident,
    /// `-->` when true, `--` (undirected) when false.
    pub directed: bool,
    /// The column of each edge's target node.
    pub target: Ident,
    /// `with Nodes on Key, …`: tables that hold the nodes' properties.
    pub nodes: Vec<GraphNodesTable>,
    /// `with_node_id=Name`: the nodes come from the edges, their id in `Name`.
    pub node_id: Option<Ident>,
    pub partitioned_by: Option<GraphPartition>,
}

/// `Nodes on Key` in `make-graph … with`.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNodesTable {
    /// A table name or a `(subquery)`.
    pub table: Expr,
    pub key: Ident,
    pub span: Span,
}

/// `partitioned-by Column (graph operators)`: one graph per partition, each
/// run through the operators in the parentheses.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphPartition {
    pub column: Ident,
    /// The parenthesised sub-pipeline, as [`ExprKind::Paren`].
    pub body: Box<Expr>,
    pub span: Span,
}

/// `graph-match [cycles=…] patterns [where predicate] [project columns]`, or
/// `graph-shortest-paths [output=…] …` when `shortest_paths`.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphMatch {
    pub shortest_paths: bool,
    pub params: Vec<OperatorParam>,
    /// One or more comma-separated patterns.
    pub patterns: Vec<GraphPattern>,
    pub predicate: Option<Expr>,
    /// Empty when there is no `project` clause.
    pub project: Vec<NamedExpr>,
}

/// `(a)-[e*1..3]->(b)<-[f]-(c)`: a node, then edges each followed by a node.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphPattern {
    pub start: GraphNode,
    pub steps: Vec<(GraphEdge, GraphNode)>,
    pub span: Span,
}

/// `(name)` or `()` in a graph pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphNode {
    pub name: Option<Ident>,
    pub span: Span,
}

/// An edge in a graph pattern: `-[e*1..3]->`, `<-[e]-`, `-[]-`, `-->`,
/// `<--`, `--`. The forms without brackets are edges with no name and no
/// range, and print as `-[]->` and so on.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphEdge {
    pub direction: EdgeDirection,
    pub name: Option<Ident>,
    /// `*low..high`: a variable-length edge of `low` to `high` hops.
    pub range: Option<(Expr, Expr)>,
    pub span: Span,
}

/// Which arrow heads an edge in a graph pattern has.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeDirection {
    /// `-[…]-`: either direction.
    Any,
    /// `-[…]->`
    Forward,
    /// `<-[…]-`
    Backward,
    /// `<-[…]->`, which Kusto's grammar also takes.
    Both,
}

/// One table that `graph-to-table` outputs.
#[derive(Clone, Debug, PartialEq)]
pub struct GraphTableOutput {
    pub elements: GraphElements,
    /// `as Name`: the table is bound to `Name` for the statements that follow.
    pub name: Option<Ident>,
    /// `with_node_id=…`, `with_source_id=…`, `with_target_id=…`.
    pub params: Vec<OperatorParam>,
    pub span: Span,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum GraphElements {
    Nodes,
    Edges,
}

impl GraphElements {
    pub fn keyword(self) -> &'static str {
        match self {
            GraphElements::Nodes => "nodes",
            GraphElements::Edges => "edges",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct TopNestedClause {
    pub count: Option<Expr>,
    pub of: NamedExpr,
    pub others: Option<Expr>,
    pub by: Option<SortKeyNamed>,
}

/// `[Name =] expr [asc|desc]` as in `top-nested … by Name = sum(x) desc`.
#[derive(Clone, Debug, PartialEq)]
pub struct SortKeyNamed {
    pub column: NamedExpr,
    pub order: Option<SortOrder>,
}

impl Expr {
    pub fn new(kind: ExprKind, span: Span) -> Expr {
        Expr { kind, span }
    }
}

impl OperatorKind {
    /// The operator's word as the query wrote it where the tree keeps the
    /// spelling (`mvexpand`, `parse-where`, `limit`, `order`); `filter` is
    /// named `where`. [`OperatorKind::Input`], written as nothing, is named
    /// `input`.
    pub fn name(&self) -> &'static str {
        use OperatorKeyword as W;
        use OperatorKind as K;
        let keyword = match self {
            K::Where { .. } => W::Where,
            K::Extend { .. } => W::Extend,
            K::Project { .. } => W::Project,
            K::ProjectAway { .. } => W::ProjectAway,
            K::ProjectKeep { .. } => W::ProjectKeep,
            K::ProjectRename { .. } => W::ProjectRename,
            K::ProjectReorder { .. } => W::ProjectReorder,
            K::Summarize { .. } => W::Summarize,
            K::Join { .. } => W::Join,
            K::Lookup { .. } => W::Lookup,
            K::Union { .. } => W::Union,
            K::MvExpand { legacy_name: false, .. } => W::MvExpand,
            K::MvExpand { legacy_name: true, .. } => W::MvExpandLegacy,
            K::MvApply { .. } => W::MvApply,
            K::Parse { is_where: false, .. } => W::Parse,
            K::Parse { is_where: true, .. } => W::ParseWhere,
            K::ParseKv { .. } => W::ParseKv,
            K::Evaluate { .. } => W::Evaluate,
            K::MakeSeries(_) => W::MakeSeries,
            K::Top { .. } => W::Top,
            K::TopNested { .. } => W::TopNested,
            K::TopHitters { .. } => W::TopHitters,
            K::Take { keyword: TakeKeyword::Take, .. } => W::Take,
            K::Take { keyword: TakeKeyword::Limit, .. } => W::Limit,
            K::Sort { keyword: SortKeyword::Sort, .. } => W::Sort,
            K::Sort { keyword: SortKeyword::Order, .. } => W::Order,
            K::Distinct { .. } => W::Distinct,
            K::Count => W::Count,
            K::As { .. } => W::As,
            K::Serialize { .. } => W::Serialize,
            K::Render { .. } => W::Render,
            K::Sample { .. } => W::Sample,
            K::SampleDistinct { .. } => W::SampleDistinct,
            K::GetSchema => W::GetSchema,
            K::Partition { .. } => W::Partition,
            K::Facet { .. } => W::Facet,
            K::Invoke { .. } => W::Invoke,
            K::Fork { .. } => W::Fork,
            K::Reduce { .. } => W::Reduce,
            K::Consume { .. } => W::Consume,
            K::ProjectSmart => W::ProjectSmart,
            K::ProjectByNames { .. } => W::ProjectByNames,
            K::Scan { .. } => W::Scan,
            K::MakeGraph(_) => W::MakeGraph,
            K::GraphMatch(GraphMatch { shortest_paths: false, .. }) => W::GraphMatch,
            K::GraphMatch(GraphMatch { shortest_paths: true, .. }) => W::GraphShortestPaths,
            K::GraphToTable { .. } => W::GraphToTable,
            K::GraphMarkComponents { .. } => W::GraphMarkComponents,
            K::Print { .. } => W::Print,
            K::Range { .. } => W::Range,
            K::Datatable { .. } => W::Datatable,
            K::ExternalData { .. } => W::ExternalData,
            K::Find { .. } => W::Find,
            K::Search { .. } => W::Search,
            K::Input => return "input",
        };
        keyword.as_str()
    }
}
