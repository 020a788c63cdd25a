//! Comparing syntax trees without their spans.
//!
//! `==` on AST nodes compares spans too, so it only holds for trees parsed
//! from the same text. [`SpanlessEq`] compares what a tree means: printing
//! and re-parsing a query moves every span but keeps
//! `parse(print(ast)).spanless_eq(ast)`. (clippy's `SpanlessEq` and
//! rust-analyzer make the same split.)

use crate::ast::*;

/// Equality that ignores every [`crate::Span`] in the tree.
pub trait SpanlessEq {
    fn spanless_eq(&self, other: &Self) -> bool;
}

impl<T: SpanlessEq> SpanlessEq for [T] {
    fn spanless_eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other).all(|(a, b)| a.spanless_eq(b))
    }
}

impl<T: SpanlessEq> SpanlessEq for Vec<T> {
    fn spanless_eq(&self, other: &Self) -> bool {
        self.as_slice().spanless_eq(other.as_slice())
    }
}

impl<T: SpanlessEq + ?Sized> SpanlessEq for Box<T> {
    fn spanless_eq(&self, other: &Self) -> bool {
        (**self).spanless_eq(&**other)
    }
}

impl<T: SpanlessEq> SpanlessEq for Option<T> {
    fn spanless_eq(&self, other: &Self) -> bool {
        match (self, other) {
            (Some(a), Some(b)) => a.spanless_eq(b),
            (None, None) => true,
            _ => false,
        }
    }
}

impl<A: SpanlessEq, B: SpanlessEq> SpanlessEq for (A, B) {
    fn spanless_eq(&self, other: &Self) -> bool {
        self.0.spanless_eq(&other.0) && self.1.spanless_eq(&other.1)
    }
}

/// Types that hold no span: their `==` is already spanless.
macro_rules! spanless_eq_by_partial_eq {
    ($($ty:ty),* $(,)?) => {$(
        impl SpanlessEq for $ty {
            fn spanless_eq(&self, other: &Self) -> bool {
                self == other
            }
        }
    )*};
}

spanless_eq_by_partial_eq!(
    bool,
    String,
    Literal,
    DynamicValue,
    UnaryOp,
    BinaryOp,
    ListOp,
    SortOrder,
    NullsOrder,
    TakeKeyword,
    SortKeyword,
    EdgeDirection,
    GraphElements,
);

/// Structs compared field by field, skipping the `ignoring` ones (spans).
/// `self` is destructured without `..`, so a new field does not compile
/// until it is listed here.
macro_rules! spanless_eq_struct {
    ($($ty:ident { $first:ident $(, $field:ident)* } $(ignoring $($ignored:ident),+)?;)*) => {$(
        impl SpanlessEq for $ty {
            fn spanless_eq(&self, other: &Self) -> bool {
                let $ty { $first, $($field,)* $($($ignored: _,)+)? } = self;
                $first.spanless_eq(&other.$first) $(&& $field.spanless_eq(&other.$field))*
            }
        }
    )*};
}

spanless_eq_struct! {
    Query { statements } ignoring span;
    LetStatement { name, value } ignoring span;
    FunctionDef { is_view, params, body } ignoring span;
    FunctionBody { statements } ignoring span;
    Param { name, ty, default } ignoring span;
    TabularSchema { columns, open } ignoring span;
    ColumnDecl { name, ty } ignoring span;
    TypeName { name } ignoring span;
    DeclareStatement { params } ignoring span;
    SetStatement { name, value } ignoring span;
    AliasStatement { name, value } ignoring span;
    Ident { name } ignoring span;
    Expr { kind } ignoring span;
    Arg { name, value };
    OperatorParam { name, value } ignoring span;
    RenderProperty { name, value } ignoring span;
    NamedExpr { names, tuple, expr } ignoring span;
    SortKey { expr, order, nulls } ignoring span;
    Operator { kind } ignoring span;
    ForkBranch { name, body };
    MvExpandItem { column, to_type };
    MakeSeries { params, aggregates, on, range, by };
    MakeSeriesAggregate { column, default };
    TopNestedClause { count, of, others, by };
    ScanStep { name, output, condition, assignments } ignoring span;
    SortKeyNamed { column, order };
    MakeGraph { source, directed, target, nodes, node_id, partitioned_by };
    GraphNodesTable { table, key } ignoring span;
    GraphPartition { column, body } ignoring span;
    GraphMatch { shortest_paths, params, patterns, predicate, project };
    GraphPattern { start, steps } ignoring span;
    GraphNode { name } ignoring span;
    GraphEdge { direction, name, range } ignoring span;
    GraphTableOutput { elements, name, params } ignoring span;
}

/// Enums whose every variant holds one value.
macro_rules! spanless_eq_newtype_enum {
    ($($ty:ident { $($variant:ident),+ })*) => {$(
        impl SpanlessEq for $ty {
            fn spanless_eq(&self, other: &Self) -> bool {
                match self {
                    $($ty::$variant(a) => matches!(other, $ty::$variant(b) if a.spanless_eq(b)),)+
                }
            }
        }
    )*};
}

spanless_eq_newtype_enum! {
    Statement { Let, DeclareQueryParameters, Set, Alias, Expr }
    LetValue { Expr, Function }
    ParamType { Scalar, Tabular }
    TypeOfArg { Scalar, Tabular }
    RenderValue { Expr, Columns }
}

// The enums below match on `self` without a wildcard, so a new variant does
// not compile until it is compared here.

impl SpanlessEq for FindProject {
    fn spanless_eq(&self, other: &Self) -> bool {
        match self {
            FindProject::Columns(a) => matches!(other, FindProject::Columns(b) if a.spanless_eq(b)),
            FindProject::Smart => matches!(other, FindProject::Smart),
        }
    }
}

impl SpanlessEq for ParsePart {
    fn spanless_eq(&self, other: &Self) -> bool {
        match self {
            ParsePart::Text(a) => matches!(other, ParsePart::Text(b) if a == b),
            ParsePart::Column { name, ty } => {
                matches!(other, ParsePart::Column { name: n, ty: t } if name.spanless_eq(n) && ty.spanless_eq(t))
            }
            ParsePart::Star => matches!(other, ParsePart::Star),
        }
    }
}

impl SpanlessEq for MakeSeriesRange {
    fn spanless_eq(&self, other: &Self) -> bool {
        match self {
            MakeSeriesRange::FromTo { from, to, step } => matches!(
                other,
                MakeSeriesRange::FromTo { from: f, to: t, step: s }
                    if from.spanless_eq(f) && to.spanless_eq(t) && step.spanless_eq(s)
            ),
            MakeSeriesRange::InRange { start, stop, step } => matches!(
                other,
                MakeSeriesRange::InRange { start: a, stop: b, step: s }
                    if start.spanless_eq(a) && stop.spanless_eq(b) && step.spanless_eq(s)
            ),
        }
    }
}

impl SpanlessEq for ExprKind {
    fn spanless_eq(&self, other: &Self) -> bool {
        use ExprKind as K;
        match self {
            K::Literal(a) => matches!(other, K::Literal(b) if a == b),
            K::Name(a) => matches!(other, K::Name(b) if a.spanless_eq(b)),
            K::Star => matches!(other, K::Star),
            K::NamePattern(a) => matches!(other, K::NamePattern(b) if a == b),
            K::Member { target, name } => {
                matches!(other, K::Member { target: t, name: n } if target.spanless_eq(t) && name.spanless_eq(n))
            }
            K::Index { target, index } => {
                matches!(other, K::Index { target: t, index: i } if target.spanless_eq(t) && index.spanless_eq(i))
            }
            K::Call { func, args } => {
                matches!(other, K::Call { func: f, args: a } if func.spanless_eq(f) && args.spanless_eq(a))
            }
            K::MethodCall { receiver, func, args } => matches!(
                other,
                K::MethodCall { receiver: r, func: f, args: a }
                    if receiver.spanless_eq(r) && func.spanless_eq(f) && args.spanless_eq(a)
            ),
            K::Unary { op, operand } => {
                matches!(other, K::Unary { op: o, operand: x } if op == o && operand.spanless_eq(x))
            }
            K::Binary { op, left, right } => matches!(
                other,
                K::Binary { op: o, left: l, right: r } if op == o && left.spanless_eq(l) && right.spanless_eq(r)
            ),
            K::InList { op, target, items } => matches!(
                other,
                K::InList { op: o, target: t, items: i } if op == o && target.spanless_eq(t) && items.spanless_eq(i)
            ),
            K::Between { negated, target, low, high } => matches!(
                other,
                K::Between { negated: n, target: t, low: l, high: h }
                    if negated == n && target.spanless_eq(t) && low.spanless_eq(l) && high.spanless_eq(h)
            ),
            K::Paren(a) => matches!(other, K::Paren(b) if a.spanless_eq(b)),
            K::Bracketed(a) => matches!(other, K::Bracketed(b) if a.spanless_eq(b)),
            K::Pipe { input, operator } => {
                matches!(other, K::Pipe { input: i, operator: o } if input.spanless_eq(i) && operator.spanless_eq(o))
            }
            K::Source(a) => matches!(other, K::Source(b) if a.spanless_eq(b)),
            K::TypeOf(a) => matches!(other, K::TypeOf(b) if a.spanless_eq(b)),
            K::Block(a) => matches!(other, K::Block(b) if a.spanless_eq(b)),
            K::Error => matches!(other, K::Error),
        }
    }
}

impl SpanlessEq for OperatorKind {
    fn spanless_eq(&self, other: &Self) -> bool {
        use OperatorKind as K;
        match self {
            K::Where { predicate } => matches!(other, K::Where { predicate: p } if predicate.spanless_eq(p)),
            K::Extend { columns } => matches!(other, K::Extend { columns: c } if columns.spanless_eq(c)),
            K::Project { columns } => matches!(other, K::Project { columns: c } if columns.spanless_eq(c)),
            K::ProjectAway { columns } => matches!(other, K::ProjectAway { columns: c } if columns.spanless_eq(c)),
            K::ProjectKeep { columns } => matches!(other, K::ProjectKeep { columns: c } if columns.spanless_eq(c)),
            K::ProjectRename { renames } => {
                matches!(other, K::ProjectRename { renames: r } if renames.spanless_eq(r))
            }
            K::ProjectReorder { columns } => {
                matches!(other, K::ProjectReorder { columns: c } if columns.spanless_eq(c))
            }
            K::Summarize { params, aggregates, by } => matches!(
                other,
                K::Summarize { params: p, aggregates: a, by: b }
                    if params.spanless_eq(p) && aggregates.spanless_eq(a) && by.spanless_eq(b)
            ),
            K::Join { params, right, on } => matches!(
                other,
                K::Join { params: p, right: r, on: o } if params.spanless_eq(p) && right.spanless_eq(r) && on.spanless_eq(o)
            ),
            K::Lookup { params, right, on } => matches!(
                other,
                K::Lookup { params: p, right: r, on: o }
                    if params.spanless_eq(p) && right.spanless_eq(r) && on.spanless_eq(o)
            ),
            K::Union { params, tables } => {
                matches!(other, K::Union { params: p, tables: t } if params.spanless_eq(p) && tables.spanless_eq(t))
            }
            K::MvExpand { params, items, limit, legacy_name } => matches!(
                other,
                K::MvExpand { params: p, items: i, limit: l, legacy_name: n }
                    if params.spanless_eq(p) && items.spanless_eq(i) && limit.spanless_eq(l) && legacy_name == n
            ),
            K::MvApply { params, items, limit, on } => matches!(
                other,
                K::MvApply { params: p, items: i, limit: l, on: o }
                    if params.spanless_eq(p) && items.spanless_eq(i) && limit.spanless_eq(l) && on.spanless_eq(o)
            ),
            K::Parse { is_where, params, source, pattern } => matches!(
                other,
                K::Parse { is_where: w, params: p, source: s, pattern: t }
                    if is_where == w && params.spanless_eq(p) && source.spanless_eq(s) && pattern.spanless_eq(t)
            ),
            K::ParseKv { source, columns, options } => matches!(
                other,
                K::ParseKv { source: s, columns: c, options: o }
                    if source.spanless_eq(s) && columns.spanless_eq(c) && options.spanless_eq(o)
            ),
            K::Evaluate { params, call, output } => {
                matches!(other, K::Evaluate { params: p, call: c, output: o } if params.spanless_eq(p) && call.spanless_eq(c) && output.spanless_eq(o))
            }
            K::MakeSeries(a) => matches!(other, K::MakeSeries(b) if a.spanless_eq(b)),
            K::Top { count, by } => {
                matches!(other, K::Top { count: c, by: b } if count.spanless_eq(c) && by.spanless_eq(b))
            }
            K::TopNested { clauses } => matches!(other, K::TopNested { clauses: c } if clauses.spanless_eq(c)),
            K::TopHitters { count, of, by } => matches!(
                other,
                K::TopHitters { count: c, of: o, by: b } if count.spanless_eq(c) && of.spanless_eq(o) && by.spanless_eq(b)
            ),
            K::Take { keyword, count } => {
                matches!(other, K::Take { keyword: k, count: c } if keyword == k && count.spanless_eq(c))
            }
            K::Sort { keyword, params, keys } => matches!(
                other,
                K::Sort { keyword: k, params: p, keys: s } if keyword == k && params.spanless_eq(p) && keys.spanless_eq(s)
            ),
            K::Distinct { params, columns } => matches!(
                other,
                K::Distinct { params: p, columns: c } if params.spanless_eq(p) && columns.spanless_eq(c)
            ),
            K::Count => matches!(other, K::Count),
            K::As { params, name } => {
                matches!(other, K::As { params: p, name: n } if params.spanless_eq(p) && name.spanless_eq(n))
            }
            K::Serialize { columns } => matches!(other, K::Serialize { columns: c } if columns.spanless_eq(c)),
            K::Render { chart, properties } => matches!(
                other,
                K::Render { chart: c, properties: p } if chart.spanless_eq(c) && properties.spanless_eq(p)
            ),
            K::Sample { count } => matches!(other, K::Sample { count: c } if count.spanless_eq(c)),
            K::SampleDistinct { count, of } => {
                matches!(other, K::SampleDistinct { count: c, of: o } if count.spanless_eq(c) && of.spanless_eq(o))
            }
            K::GetSchema => matches!(other, K::GetSchema),
            K::Partition { params, by, body, braces } => matches!(
                other,
                K::Partition { params: p, by: b, body: d, braces: r }
                    if params.spanless_eq(p) && by.spanless_eq(b) && body.spanless_eq(d) && braces == r
            ),
            K::Facet { by, with } => {
                matches!(other, K::Facet { by: b, with: w } if by.spanless_eq(b) && with.spanless_eq(w))
            }
            K::Invoke { call } => matches!(other, K::Invoke { call: c } if call.spanless_eq(c)),
            K::Fork { branches } => matches!(other, K::Fork { branches: b } if branches.spanless_eq(b)),
            K::Reduce { params, by, with } => matches!(
                other,
                K::Reduce { params: p, by: b, with: w } if params.spanless_eq(p) && by.spanless_eq(b) && with.spanless_eq(w)
            ),
            K::Consume { params } => matches!(other, K::Consume { params: p } if params.spanless_eq(p)),
            K::ProjectSmart => matches!(other, K::ProjectSmart),
            K::ProjectByNames { columns } => {
                matches!(other, K::ProjectByNames { columns: c } if columns.spanless_eq(c))
            }
            K::Scan { params, declare, steps } => matches!(other, K::Scan { params: p, declare: d, steps: s }
                if params.spanless_eq(p) && declare.spanless_eq(d) && steps.spanless_eq(s)),
            K::MakeGraph(a) => matches!(other, K::MakeGraph(b) if a.spanless_eq(b)),
            K::GraphMatch(a) => matches!(other, K::GraphMatch(b) if a.spanless_eq(b)),
            K::GraphToTable { outputs } => {
                matches!(other, K::GraphToTable { outputs: o } if outputs.spanless_eq(o))
            }
            K::GraphMarkComponents { params } => {
                matches!(other, K::GraphMarkComponents { params: p } if params.spanless_eq(p))
            }
            K::Print { columns } => matches!(other, K::Print { columns: c } if columns.spanless_eq(c)),
            K::Range { column, from, to, step } => matches!(
                other,
                K::Range { column: c, from: f, to: t, step: s }
                    if column.spanless_eq(c) && from.spanless_eq(f) && to.spanless_eq(t) && step.spanless_eq(s)
            ),
            K::Datatable { schema, values } => {
                matches!(other, K::Datatable { schema: s, values: v } if schema.spanless_eq(s) && values.spanless_eq(v))
            }
            K::ExternalData { schema, uris, options } => matches!(
                other,
                K::ExternalData { schema: s, uris: u, options: o }
                    if schema.spanless_eq(s) && uris.spanless_eq(u) && options.spanless_eq(o)
            ),
            K::Find { params, tables, predicate, project } => matches!(
                other,
                K::Find { params: p, tables: t, predicate: r, project: j }
                    if params.spanless_eq(p) && tables.spanless_eq(t) && predicate.spanless_eq(r) && project.spanless_eq(j)
            ),
            K::Search { params, tables, predicate } => matches!(
                other,
                K::Search { params: p, tables: t, predicate: r }
                    if params.spanless_eq(p) && tables.spanless_eq(t) && predicate.spanless_eq(r)
            ),
            K::Input => matches!(other, K::Input),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::SpanlessEq;
    use crate::{parse, Span};

    #[test]
    fn spans_at_different_positions_are_unequal() {
        assert_ne!(Span::new(0, 5), Span::new(1, 6));
        assert_ne!(Span::new(0, 5), Span::new(0, 6));
        assert_eq!(Span::new(3, 7), Span::new(3, 7));
    }

    #[test]
    fn a_printed_and_reparsed_query_is_spanless_equal() {
        let parsed = parse("T  |  where   x==1|summarize  count() by bin(t,1h)").query;
        let reparsed = parse(&parsed.to_string()).query;
        // Printing moved the spans, so the trees differ with them…
        assert_ne!(reparsed, parsed);
        // …and are the same without them.
        assert!(reparsed.spanless_eq(&parsed));
        assert!(!parse("T | where x == 2").query.spanless_eq(&parsed));
    }
}
