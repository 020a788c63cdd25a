//! `Display` for the AST: prints valid KQL.
//!
//! The output parses back to an equal tree (spans aside):
//! - parentheses are printed only where the tree has [`ExprKind::Paren`]
//!   nodes, since the parser keeps one for every parenthesis in the source;
//! - each `| operator` of a pipeline starts a new line;
//! - statements are separated by `;` (a line break after it at top level,
//!   a space inside function bodies);
//! - names that are not plain identifiers, or that could be read as a
//!   keyword, are written `['name']`;
//! - strings are written `"…"` with `\\`, `\"`, `\n`, `\r`, `\t` and other
//!   control characters escaped, `h"…"` when obfuscated.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;
use crate::operators::OperatorKeyword;

// ---------------------------------------------------------------------------
// Helpers

/// Items separated by a separator.
struct Sep<'a, T>(&'a [T], &'a str);

impl<T: Display> Display for Sep<'_, T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for (i, item) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str(self.1)?;
            }
            item.fmt(f)?;
        }
        Ok(())
    }
}

/// Items separated by `, `.
fn comma<T>(items: &[T]) -> Sep<'_, T> {
    Sep(items, ", ")
}

/// A prefix and a comma-separated list, or nothing when the list is empty.
struct List<'a, T>(&'a str, &'a [T]);

impl<T: Display> Display for List<'_, T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.1.is_empty() {
            return Ok(());
        }
        write!(f, "{}{}", self.0, comma(self.1))
    }
}

/// A prefix and a value, or nothing when absent.
struct Opt<'a, T: ?Sized>(&'a str, Option<&'a T>);

impl<T: Display + ?Sized> Display for Opt<'_, T> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.1 {
            Some(value) => write!(f, "{}{}", self.0, value),
            None => Ok(()),
        }
    }
}

/// Operator parameters, each after a space: ` kind=inner hint.strategy=shuffle`.
struct Params<'a>(&'a [OperatorParam]);

impl Display for Params<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.0.iter().try_for_each(|p| write!(f, " {p}"))
    }
}

/// ` with (name=value, …)`, or nothing when there are no options.
struct With<'a>(&'a [OperatorParam]);

impl Display for With<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.0.is_empty() {
            return Ok(());
        }
        write!(f, " with ({})", comma(self.0))
    }
}

/// ` in (t1, t2)` for `find`/`search`, or nothing.
struct InTables<'a>(Option<&'a Vec<Expr>>);

impl Display for InTables<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(tables) => write!(f, " in ({})", comma(tables)),
            None => Ok(()),
        }
    }
}

/// The text of a string with `quote`, backslashes and control characters escaped.
struct Escaped<'a>(&'a str, char);

impl Display for Escaped<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        for c in self.0.chars() {
            match c {
                '\\' => f.write_str("\\\\")?,
                '\n' => f.write_str("\\n")?,
                '\r' => f.write_str("\\r")?,
                '\t' => f.write_str("\\t")?,
                c if c == self.1 => write!(f, "\\{c}")?,
                c if c.is_control() => write!(f, "\\u{:04x}", c as u32)?,
                c => f.write_char(c)?,
            }
        }
        Ok(())
    }
}

/// A double-quoted string literal.
struct Quoted<'a>(&'a str);

impl Display for Quoted<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "\"{}\"", Escaped(self.0, '"'))
    }
}

/// A KQL double-quoted string literal for `value`, as the query printer
/// writes one: quotes, backslashes and control characters escaped.
pub fn string_literal(value: &str) -> String {
    Quoted(value).to_string()
}

/// Words that are bracketed when used as names: the parser's reserved words
/// (expression operators, type and literal words, clause words, operator
/// names), plus operator parameter names and statement keywords, which are
/// bracketed to be safe. Compared ignoring case.
#[rustfmt::skip]
const KEYWORDS: &[&str] = &[
    "and", "or", "not", "in", "between", "matches", "has", "has_cs", "hasprefix", "hasprefix_cs", "hassuffix",
    "hassuffix_cs", "contains", "contains_cs", "notcontains", "notcontainscs", "startswith", "startswith_cs",
    "endswith", "endswith_cs", "has_any", "has_all", "has_any_cs", "has_all_cs", "true", "false", "null", "typeof",
    "dynamic", "datetime", "date", "timespan", "time", "guid", "int", "long", "real", "string", "decimal", "double",
    "by", "on", "with", "asc", "desc", "nulls", "first", "last", "of", "to", "step", "from", "limit", "as",
    "default", "others", "title", "kind", "withsource", "isfuzzy", "bagexpansion", "with_itemindex", "hint", "flags",
    "let", "set", "declare", "alias", "view", "materialize", "toscalar", "datatable", "print", "range", "union",
    "search", "find", "evaluate", "externaldata", "external_data", "sample", "invoke", "where", "extend", "project",
    "summarize", "containscs", "like", "notlike", "likecs", "notlikecs", "int32", "int64", "boolean", "uniqueid",
    "with_source",
];

/// Words that the lexer joins with a following `(` into one literal token.
const RAW_LITERAL_WORDS: &[&str] = &["datetime", "date", "timespan", "time", "guid"];

/// A word the lexer reads as one identifier token: a letter, `_` or `$`,
/// then ASCII letters, digits and `_`.
fn is_plain(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == '$')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

fn is_one_of(name: &str, words: &[&str]) -> bool {
    words.iter().any(|w| w.eq_ignore_ascii_case(name))
}

fn write_bracketed_name(f: &mut Formatter<'_>, name: &str) -> fmt::Result {
    write!(f, "['{}']", Escaped(name, '\''))
}

/// A function name: bare whenever it is a plain word (`word(` always reads
/// as a call), except the words that the lexer joins with `(` into a literal.
struct FuncName<'a>(&'a Ident);

impl Display for FuncName<'_> {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let name = &self.0.name;
        if is_plain(name) && !is_one_of(name, RAW_LITERAL_WORDS) {
            f.write_str(name)
        } else {
            write_bracketed_name(f, name)
        }
    }
}

// ---------------------------------------------------------------------------
// Statements

impl Display for Query {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        Sep(&self.statements, ";\n").fmt(f)
    }
}

impl Display for Statement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Statement::Let(s) => s.fmt(f),
            Statement::DeclareQueryParameters(s) => s.fmt(f),
            Statement::Set(s) => s.fmt(f),
            Statement::Alias(s) => s.fmt(f),
            Statement::Expr(e) => e.fmt(f),
        }
    }
}

impl Display for LetStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "let {} = {}", self.name, self.value)
    }
}

impl Display for LetValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            LetValue::Expr(e) => e.fmt(f),
            LetValue::Function(def) => def.fmt(f),
        }
    }
}

impl Display for FunctionDef {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let view = if self.is_view { "view " } else { "" };
        write!(f, "{view}({}) {}", comma(&self.params), self.body)
    }
}

impl Display for FunctionBody {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.statements.is_empty() {
            return f.write_str("{ }");
        }
        write!(f, "{{ {} }}", Sep(&self.statements, "; "))
    }
}

impl Display for Param {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}{}", self.name, self.ty, Opt(" = ", self.default.as_ref()))
    }
}

impl Display for ParamType {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ParamType::Scalar(t) => t.fmt(f),
            ParamType::Tabular(schema) => write!(f, "({schema})"),
        }
    }
}

impl Display for TabularSchema {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        comma(&self.columns).fmt(f)?;
        match (self.open, self.columns.is_empty()) {
            (false, _) => Ok(()),
            (true, true) => f.write_str("*"),
            (true, false) => f.write_str(", *"),
        }
    }
}

impl Display for ColumnDecl {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.name, self.ty)
    }
}

impl Display for TypeName {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)
    }
}

impl Display for DeclareStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "declare query_parameters({})", comma(&self.params))
    }
}

impl Display for SetStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "set {}{}", self.name, Opt(" = ", self.value.as_ref()))
    }
}

impl Display for AliasStatement {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "alias database {} = {}", self.name, self.value)
    }
}

impl Display for Ident {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if is_plain(&self.name) && !is_one_of(&self.name, KEYWORDS) {
            f.write_str(&self.name)
        } else {
            write_bracketed_name(f, &self.name)
        }
    }
}

// ---------------------------------------------------------------------------
// Expressions

impl Display for Expr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

/// A space before the `.` after a literal: a number followed by `.` would
/// read as a real (`1.x` is `1.` then `x`).
fn dot_spacing(target: &Expr) -> &'static str {
    match target.kind {
        ExprKind::Literal(_) => " ",
        _ => "",
    }
}

impl Display for ExprKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ExprKind::Literal(l) => l.fmt(f),
            ExprKind::Name(name) => name.fmt(f),
            ExprKind::Star => f.write_str("*"),
            ExprKind::NamePattern(pattern) => f.write_str(pattern),
            // `x.['a b']` for names that are not plain words or are keywords;
            // `1 .x`, as `1.` would read as a real.
            ExprKind::Member { target, name } => write!(f, "{target}{}.{name}", dot_spacing(target)),
            ExprKind::Index { target, index } => write!(f, "{target}[{index}]"),
            ExprKind::Call { func, args } => write!(f, "{}({})", FuncName(func), comma(args)),
            ExprKind::MethodCall { receiver, func, args } => {
                write!(f, "{receiver}{}.{func}({})", dot_spacing(receiver), comma(args))
            }
            ExprKind::Unary { op, operand } => write!(f, "{op}{operand}"),
            ExprKind::Binary { op, left, right } => write!(f, "{left} {op} {right}"),
            ExprKind::InList { op, target, items } => write!(f, "{target} {op} ({})", comma(items)),
            ExprKind::Between { negated, target, low, high } => {
                let bang = if *negated { "!" } else { "" };
                write!(f, "{target} {bang}between ({low} .. {high})")
            }
            ExprKind::Paren(inner) => write!(f, "({inner})"),
            ExprKind::Bracketed(inner) => write!(f, "[{inner}]"),
            ExprKind::Pipe { input, operator } => match &input.kind {
                ExprKind::Source(source) if matches!(source.kind, OperatorKind::Input) => operator.fmt(f),
                _ => write!(f, "{input}\n| {operator}"),
            },
            ExprKind::Source(operator) => operator.fmt(f),
            ExprKind::TypeOf(arg) => write!(f, "typeof({arg})"),
            ExprKind::Block(body) => body.fmt(f),
            ExprKind::Error => f.write_str("__error__"),
        }
    }
}

impl Display for TypeOfArg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            TypeOfArg::Scalar(t) => t.fmt(f),
            TypeOfArg::Tabular(schema) => schema.fmt(f),
        }
    }
}

impl Display for Arg {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name} = {}", self.value),
            None => self.value.fmt(f),
        }
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::Null => f.write_str("null"),
            Literal::Bool(b) => b.fmt(f),
            Literal::Long(text) | Literal::Real(text) | Literal::Timespan(text) => f.write_str(text),
            Literal::String { value, obfuscated } => {
                if *obfuscated {
                    f.write_char('h')?;
                }
                Quoted(value).fmt(f)
            }
            Literal::Datetime(raw) => write!(f, "datetime({raw})"),
            Literal::TimespanCall(raw) => write!(f, "timespan({raw})"),
            Literal::Guid(raw) => write!(f, "guid({raw})"),
            Literal::Dynamic(value) => write!(f, "dynamic({value})"),
            Literal::Typed { ty, value } => write!(f, "{ty}({value})"),
        }
    }
}

impl Display for DynamicValue {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            DynamicValue::Null => f.write_str("null"),
            DynamicValue::Bool(b) => b.fmt(f),
            DynamicValue::Number(text) => f.write_str(text),
            DynamicValue::String(s) => Quoted(s).fmt(f),
            DynamicValue::Array(items) => write!(f, "[{}]", comma(items)),
            DynamicValue::Object(entries) => {
                f.write_char('{')?;
                for (i, (key, value)) in entries.iter().enumerate() {
                    let sep = if i > 0 { ", " } else { "" };
                    write!(f, "{sep}{}: {value}", Quoted(key))?;
                }
                f.write_char('}')
            }
            DynamicValue::Literal(l) => l.fmt(f),
        }
    }
}

impl Display for UnaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnaryOp::Neg => "-",
            UnaryOp::Plus => "+",
        })
    }
}

impl Display for BinaryOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            BinaryOp::Or => "or",
            BinaryOp::And => "and",
            BinaryOp::Eq => "==",
            BinaryOp::NotEq => "!=",
            BinaryOp::Lt => "<",
            BinaryOp::Le => "<=",
            BinaryOp::Gt => ">",
            BinaryOp::Ge => ">=",
            BinaryOp::EqCi => "=~",
            BinaryOp::NotEqCi => "!~",
            BinaryOp::Add => "+",
            BinaryOp::Sub => "-",
            BinaryOp::Mul => "*",
            BinaryOp::Div => "/",
            BinaryOp::Mod => "%",
            BinaryOp::Str(op) => return op.fmt(f),
            BinaryOp::SearchColon => ":",
        })
    }
}

impl Display for StringOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        if self.kind == StringOpKind::Like {
            let not = if self.negated { "not" } else { "" };
            let cs = if self.case_sensitive { "cs" } else { "" };
            return write!(f, "{not}like{cs}");
        }
        let bang = if self.negated { "!" } else { "" };
        let cs = if self.case_sensitive && self.kind != StringOpKind::MatchesRegex { "_cs" } else { "" };
        write!(f, "{bang}{}{cs}", self.kind.keyword())
    }
}

impl Display for ListOp {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.keyword())
    }
}

impl Display for OperatorParam {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}={}", self.name, self.value)
    }
}

impl Display for RenderProperty {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.value {
            RenderValue::Expr(value) => write!(f, "{}={value}", self.name),
            RenderValue::Columns(columns) => write!(f, "{}={}", self.name, comma(columns)),
        }
    }
}

impl Display for NamedExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match (self.names.as_slice(), self.tuple) {
            ([], _) => self.expr.fmt(f),
            (names, true) => write!(f, "({}) = {}", comma(names), self.expr),
            (names, false) => write!(f, "{} = {}", comma(names), self.expr),
        }
    }
}

impl Display for SortOrder {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            SortOrder::Asc => "asc",
            SortOrder::Desc => "desc",
        })
    }
}

impl Display for NullsOrder {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NullsOrder::First => "nulls first",
            NullsOrder::Last => "nulls last",
        })
    }
}

impl Display for SortKey {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.expr, Opt(" ", self.order.as_ref()), Opt(" ", self.nulls.as_ref()))
    }
}

// ---------------------------------------------------------------------------
// Operators

impl Display for Operator {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.kind.fmt(f)
    }
}

impl Display for OperatorKind {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        use OperatorKind as K;
        let keyword = self.name();
        match self {
            K::Where { predicate } => write!(f, "{keyword} {predicate}"),
            K::Extend { columns } => write!(f, "{keyword} {}", comma(columns)),
            K::Project { columns } => write!(f, "{keyword} {}", comma(columns)),
            K::ProjectAway { columns } => write!(f, "{keyword} {}", comma(columns)),
            K::ProjectKeep { columns } => write!(f, "{keyword} {}", comma(columns)),
            K::ProjectRename { renames } => {
                write!(f, "{keyword} ")?;
                for (i, (new, old)) in renames.iter().enumerate() {
                    let sep = if i > 0 { ", " } else { "" };
                    write!(f, "{sep}{new} = {old}")?;
                }
                Ok(())
            }
            K::ProjectReorder { columns } => write!(f, "{keyword} {}", comma(columns)),
            K::Summarize { params, aggregates, by } => {
                write!(f, "{keyword}{}{}{}", Params(params), List(" ", aggregates), List(" by ", by))
            }
            K::Join { params, right, on } => {
                write!(f, "{keyword}{} {right}{}", Params(params), List(" on ", on))
            }
            K::Lookup { params, right, on } => {
                write!(f, "{keyword}{} {right}{}", Params(params), List(" on ", on))
            }
            K::Union { params, tables } => {
                write!(f, "{keyword}{}{}", Params(params), List(" ", tables))
            }
            K::MvExpand { params, items, limit, .. } => {
                write!(f, "{keyword}{} {}{}", Params(params), comma(items), Opt(" limit ", limit.as_ref()))
            }
            K::MvApply { params, items, limit, on } => {
                write!(f, "{keyword}{} {}{} on {on}", Params(params), comma(items), Opt(" limit ", limit.as_ref()))
            }
            K::Parse { params, source, pattern, .. } => {
                write!(f, "{keyword}{} {source} with {}", Params(params), Sep(pattern, " "))
            }
            K::ParseKv { source, columns, options } => {
                write!(f, "{keyword} {source} as ({}){}", comma(columns), With(options))
            }
            K::Evaluate { params, call, output } => {
                write!(f, "{keyword}{} {call}", Params(params))?;
                match output {
                    Some(schema) => write!(f, " : ({schema})"),
                    None => Ok(()),
                }
            }
            K::MakeSeries(series) => series.fmt(f),
            K::Top { count, by } => write!(f, "{keyword} {count} by {by}"),
            K::TopNested { clauses } => comma(clauses).fmt(f),
            K::TopHitters { count, of, by } => {
                write!(f, "{keyword} {count} of {of}{}", Opt(" by ", by.as_ref()))
            }
            K::Take { count, .. } => write!(f, "{keyword} {count}"),
            K::Sort { params, keys, .. } => write!(f, "{keyword}{} by {}", Params(params), comma(keys)),
            K::Distinct { params, columns } => {
                write!(f, "{keyword}{} {}", Params(params), comma(columns))
            }
            K::Count => f.write_str(keyword),
            K::As { params, name } => write!(f, "{keyword}{} {name}", Params(params)),
            K::Serialize { columns } => write!(f, "{keyword}{}", List(" ", columns)),
            K::Render { chart, properties } => {
                write!(f, "{keyword} {chart}")?;
                if properties.is_empty() {
                    return Ok(());
                }
                write!(f, " with ({})", comma(properties))
            }
            K::Sample { count } => write!(f, "{keyword} {count}"),
            K::SampleDistinct { count, of } => write!(f, "{keyword} {count} of {of}"),
            K::GetSchema => f.write_str(keyword),
            K::Partition { params, by, body, braces } => {
                write!(f, "{keyword}{} by {by} ", Params(params))?;
                if *braces {
                    write!(f, "{{ {body} }}")
                } else {
                    body.fmt(f)
                }
            }
            K::Facet { by, with } => write!(f, "{keyword} by {}{}", comma(by), Opt(" with ", with.as_deref())),
            K::Invoke { call } => write!(f, "{keyword} {call}"),
            K::Fork { branches } => write!(f, "{keyword} {}", Sep(branches, " ")),
            K::Reduce { params, by, with } => write!(f, "{keyword}{} by {by}{}", Params(params), List(" with ", with)),
            K::Consume { params } => write!(f, "{keyword}{}", Params(params)),
            K::ProjectSmart => f.write_str(keyword),
            K::ProjectByNames { columns } => write!(f, "{keyword} {}", comma(columns)),
            K::Scan { params, declare, steps } => {
                f.write_str(keyword)?;
                Params(params).fmt(f)?;
                if !declare.is_empty() {
                    write!(f, " declare ({})", comma(declare))?;
                }
                write!(f, " with ({})", Sep(steps, " "))
            }
            K::MakeGraph(graph) => graph.fmt(f),
            K::GraphMatch(graph_match) => graph_match.fmt(f),
            K::GraphToTable { outputs } => write!(f, "{keyword} {}", comma(outputs)),
            K::GraphMarkComponents { params } => write!(f, "{keyword}{}", Params(params)),
            K::Print { columns } => write!(f, "{keyword}{}", List(" ", columns)),
            K::Range { column, from, to, step } => write!(f, "{keyword} {column} from {from} to {to} step {step}"),
            K::Datatable { schema, values } => write!(f, "{keyword}({schema}) [{}]", comma(values)),
            K::ExternalData { schema, uris, options } => {
                write!(f, "{keyword}({schema}) [{}]{}", comma(uris), With(options))
            }
            K::Find { params, tables, predicate, project } => write!(
                f,
                "{keyword}{}{} where {predicate}{}",
                Params(params),
                InTables(tables.as_ref()),
                Opt(" ", project.as_ref())
            ),
            K::Search { params, tables, predicate } => {
                write!(f, "{keyword}{}{} {predicate}", Params(params), InTables(tables.as_ref()))
            }
            K::Input => Ok(()),
        }
    }
}

impl Display for MakeGraph {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let arrow = if self.directed { "-->" } else { "--" };
        write!(f, "{} {} {arrow} {}", OperatorKeyword::MakeGraph, self.source, self.target)?;
        if let Some(node_id) = &self.node_id {
            write!(f, " with_node_id={node_id}")?;
        }
        write!(f, "{}", List(" with ", &self.nodes))?;
        match &self.partitioned_by {
            Some(partition) => write!(f, " partitioned-by {} {}", partition.column, partition.body),
            None => Ok(()),
        }
    }
}

impl Display for GraphNodesTable {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{} on {}", self.table, self.key)
    }
}

impl Display for GraphMatch {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let keyword =
            if self.shortest_paths { OperatorKeyword::GraphShortestPaths } else { OperatorKeyword::GraphMatch };
        write!(f, "{keyword}{} {}", Params(&self.params), comma(&self.patterns))?;
        write!(f, "{}{}", Opt(" where ", self.predicate.as_ref()), List(" project ", &self.project))
    }
}

impl Display for GraphPattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.start.fmt(f)?;
        self.steps.iter().try_for_each(|(edge, node)| write!(f, "{edge}{node}"))
    }
}

impl Display for GraphNode {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "({})", Opt("", self.name.as_ref()))
    }
}

impl Display for GraphEdge {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (open, close) = match self.direction {
            EdgeDirection::Any => ("-[", "]-"),
            EdgeDirection::Forward => ("-[", "]->"),
            EdgeDirection::Backward => ("<-[", "]-"),
            EdgeDirection::Both => ("<-[", "]->"),
        };
        write!(f, "{open}{}", Opt("", self.name.as_ref()))?;
        if let Some((low, high)) = &self.range {
            write!(f, "*{low}..{high}")?;
        }
        f.write_str(close)
    }
}

impl Display for GraphTableOutput {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}{}", self.elements.keyword(), Opt(" as ", self.name.as_ref()), Params(&self.params))
    }
}

impl Display for FindProject {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            FindProject::Columns(columns) => write!(f, "project {}", comma(columns)),
            FindProject::Smart => f.write_str(OperatorKeyword::ProjectSmart.as_str()),
        }
    }
}

impl Display for ForkBranch {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match &self.name {
            Some(name) => write!(f, "{name}={}", self.body),
            None => self.body.fmt(f),
        }
    }
}

impl Display for MvExpandItem {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.column.fmt(f)?;
        match &self.to_type {
            Some(ty) => write!(f, " to typeof({ty})"),
            None => Ok(()),
        }
    }
}

impl Display for ParsePart {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            ParsePart::Text(text) => text.fmt(f),
            ParsePart::Column { name, ty } => write!(f, "{name}{}", Opt(": ", ty.as_ref())),
            ParsePart::Star => f.write_str("*"),
        }
    }
}

impl Display for MakeSeries {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{} {} on {} {}{}",
            OperatorKeyword::MakeSeries,
            Params(&self.params),
            comma(&self.aggregates),
            self.on,
            self.range,
            List(" by ", &self.by)
        )
    }
}

impl Display for MakeSeriesAggregate {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.column, Opt(" default = ", self.default.as_ref()))
    }
}

impl Display for MakeSeriesRange {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            MakeSeriesRange::FromTo { from, to, step } => {
                if let Some(from) = from {
                    write!(f, "from {from} ")?;
                }
                if let Some(to) = to {
                    write!(f, "to {to} ")?;
                }
                write!(f, "step {step}")
            }
            MakeSeriesRange::InRange { start, stop, step } => {
                write!(f, "in range({start}, {stop}, {step})")
            }
        }
    }
}

impl Display for ScanStep {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "step {}", self.name)?;
        if let Some(output) = &self.output {
            // A word (`all`, `last`, `none`), never bracketed.
            write!(f, " output={}", output.name)?;
        }
        write!(f, ": {}", self.condition)?;
        for (i, (name, value)) in self.assignments.iter().enumerate() {
            write!(f, "{}{name} = {value}", if i == 0 { " => " } else { ", " })?;
        }
        f.write_str(";")
    }
}

impl Display for TopNestedClause {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}{} of {}{}{}",
            OperatorKeyword::TopNested,
            Opt(" ", self.count.as_ref()),
            self.of,
            Opt(" with others = ", self.others.as_ref()),
            Opt(" by ", self.by.as_ref())
        )
    }
}

impl Display for SortKeyNamed {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}{}", self.column, Opt(" ", self.order.as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::span::Span;
    use crate::spanless::SpanlessEq;

    fn e(kind: ExprKind) -> Expr {
        Expr::new(kind, Span::default())
    }

    fn name(n: &str) -> Expr {
        e(ExprKind::Name(Ident::new(n, Span::default())))
    }

    fn string(s: &str) -> Expr {
        e(ExprKind::Literal(Literal::String { value: s.into(), obfuscated: false }))
    }

    fn long(n: &str) -> Expr {
        e(ExprKind::Literal(Literal::Long(n.into())))
    }

    fn pipe(input: Expr, kind: OperatorKind) -> Expr {
        e(ExprKind::Pipe { input: Box::new(input), operator: Box::new(Operator { kind, span: Span::default() }) })
    }

    fn binary(op: BinaryOp, left: Expr, right: Expr) -> Expr {
        e(ExprKind::Binary { op, left: Box::new(left), right: Box::new(right) })
    }

    fn column(n: &str) -> NamedExpr {
        NamedExpr { names: vec![], tuple: false, expr: name(n), span: Span::default() }
    }

    #[test]
    fn pipeline_with_string_operator() {
        let has_cs = BinaryOp::Str(StringOp { kind: StringOpKind::Has, negated: true, case_sensitive: true });
        let predicate =
            binary(BinaryOp::And, binary(has_cs, name("Msg"), string("x")), binary(BinaryOp::Gt, name("n"), long("1")));
        let q = pipe(pipe(name("T"), OperatorKind::Where { predicate }), OperatorKind::Count);
        assert_eq!(q.to_string(), "T\n| where Msg !has_cs \"x\" and n > 1\n| count");
        let regex = BinaryOp::Str(StringOp { kind: StringOpKind::MatchesRegex, negated: false, case_sensitive: true });
        assert_eq!(binary(regex, name("a"), string("b+")).to_string(), "a matches regex \"b+\"");
    }

    #[test]
    fn strings_are_escaped() {
        assert_eq!(string("say \"hi\"\\ \n\t\u{1}'").to_string(), r#""say \"hi\"\\ \n\t\u0001'""#);
        let secret = e(ExprKind::Literal(Literal::String { value: "pw".into(), obfuscated: true }));
        assert_eq!(secret.to_string(), "h\"pw\"");
    }

    #[test]
    fn names_are_bracketed_when_needed() {
        let show = |n: &str| Ident::new(n, Span::default()).to_string();
        assert_eq!(show("Col_1"), "Col_1");
        assert_eq!(show("$left"), "$left");
        assert_eq!(show("My Col"), "['My Col']");
        assert_eq!(show("it's\\"), r"['it\'s\\']");
        assert_eq!(show("in"), "['in']");
        assert_eq!(show("a-b"), "['a-b']");
        assert_eq!(show("1st"), "['1st']");
        let member = e(ExprKind::Member { target: Box::new(name("d")), name: Ident::new("a b", Span::default()) });
        assert_eq!(member.to_string(), "d.['a b']");
    }

    /// Found by `clean_parses_round_trip`: `1 . let` printed as `1.['let']`,
    /// which reads as the real `1.` indexed by `'let'`.
    #[test]
    fn members_of_numbers_print_apart_from_the_dot() {
        for src in ["1 . let", "1 . x", "1.5 . x", "2 . ['a b']"] {
            let parsed = crate::parse(src);
            assert!(!parsed.has_errors(), "{src}: {:?}", parsed.diagnostics);
            let printed = parsed.query.to_string();
            let again = crate::parse(&printed);
            assert!(!again.has_errors(), "{src} -> {printed}: {:?}", again.diagnostics);
            assert!(again.query.spanless_eq(&parsed.query), "{src} -> {printed}");
        }
    }

    #[test]
    fn dynamic_literals() {
        let value = DynamicValue::Object(vec![
            (
                "a".into(),
                DynamicValue::Array(vec![DynamicValue::Number("-1".into()), DynamicValue::String("x".into())]),
            ),
            ("b".into(), DynamicValue::Null),
            ("c".into(), DynamicValue::Array(vec![DynamicValue::String("lone".into())])),
            ("d".into(), DynamicValue::Literal(Box::new(Literal::Timespan("1d".into())))),
        ]);
        let lit = e(ExprKind::Literal(Literal::Dynamic(value)));
        assert_eq!(lit.to_string(), r#"dynamic({"a": [-1, "x"], "b": null, "c": ["lone"], "d": 1d})"#);
    }

    #[test]
    fn statements_and_sub_pipelines() {
        let input = e(ExprKind::Source(Box::new(Operator { kind: OperatorKind::Input, span: Span::default() })));
        let sub = pipe(
            pipe(input, OperatorKind::Where { predicate: name("x") }),
            OperatorKind::Take { keyword: TakeKeyword::Take, count: long("1") },
        );
        let item = MvExpandItem {
            column: column("xs"),
            to_type: Some(TypeName { name: "long".into(), span: Span::default() }),
        };
        let apply = OperatorKind::MvApply {
            params: vec![],
            items: vec![item],
            limit: None,
            on: Box::new(e(ExprKind::Paren(Box::new(sub)))),
        };
        let summarize = OperatorKind::Summarize { params: vec![], aggregates: vec![], by: vec![column("k")] };
        let query = Query {
            statements: vec![
                Statement::Let(LetStatement {
                    name: Ident::new("n", Span::default()),
                    value: LetValue::Expr(long("5")),
                    span: Span::default(),
                }),
                Statement::Expr(pipe(pipe(name("T"), apply), summarize)),
            ],
            span: Span::default(),
        };
        assert_eq!(
            query.to_string(),
            "let n = 5;\nT\n| mv-apply xs to typeof(long) on (where x\n| take 1)\n| summarize by k"
        );
    }
}
