//! Many KQL predicates over the same string columns, evaluated together in
//! one pass over the rows: what lets a hunt run a thousand Sigma rules of a
//! logsource over its events without a thousand scans, or a thousand
//! predicates in one DataFusion plan.
//!
//! A predicate is compiled when it stays inside the subset compiled Sigma
//! rules are written in: `and`, `or`, `not(…)`, `true`/`false`, and over a
//! column (a string or bool column of the rows): `=~`, `==`, `contains`,
//! `startswith`, `endswith` (with `_cs` and `!` forms) and `matches regex`
//! against a string literal, `isempty`, `isnotempty`, `isnull`,
//! `isnotnull`, a bool column alone, and an `int`/`long` column `==` an
//! integer literal. Any other predicate is refused,
//! and its caller evaluates it with the engine instead.
//!
//! The semantics are the engine's, value for value: case-insensitive tests
//! compare the engine's case folding of both sides
//! ([`kqlite_engine::functions::string_ops::fold_case`]), string operators
//! are false on a null value (true when negated), `=~`/`==` are null on
//! one, and `and`/`or`/`not` follow three-valued logic, so a predicate
//! holds exactly where it holds in the engine.
//!
//! How one pass does it: every literal tested against a column is a
//! pattern of one Aho-Corasick automaton per column and case mode; a row's
//! value is folded once and scanned once, and each occurrence found says
//! which tests hold (`startswith` at offset 0, `endswith` at the value's
//! end, equality both). A predicate is then evaluated only on the rows
//! where a test it cannot hold without holds ([`trigger`]); the few whose
//! every part can hold with no literal found (`not(…)` alone, a regex
//! alone) are evaluated on every row.

use aho_corasick::{AhoCorasick, MatchKind};
use datafusion::arrow::array::{Array, ArrayRef, BooleanArray, Int64Array, StringArray};
use datafusion::arrow::compute::cast;
use datafusion::arrow::datatypes::DataType;
use datafusion::arrow::record_batch::RecordBatch;
use kqlite_engine::functions::string_ops::fold_case;
use kqlite_engine::KqlType;
use kqlite_syntax::ast::{BinaryOp, Expr, ExprKind, Literal, StringOpKind};
use std::collections::HashMap;

/// Why a predicate is not compiled: its caller evaluates it with the engine.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refused(pub String);

/// The kind of a column the predicates read.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ColumnKind {
    String,
    Bool,
    /// `int` or `long`, read as 64-bit.
    Integer,
}

/// Where a literal must occur in a value for a test to hold.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
enum Position {
    Anywhere,
    Start,
    End,
    Whole,
}

impl Position {
    fn holds(self, start: usize, end: usize, len: usize) -> bool {
        match self {
            Position::Anywhere => true,
            Position::Start => start == 0,
            Position::End => end == len,
            Position::Whole => start == 0 && end == len,
        }
    }
}

/// A test of one column's value in one row.
#[derive(Clone, Debug)]
enum Leaf {
    /// A non-empty literal at `position` (found by the column's automaton).
    /// `null_is_null`: `=~`/`==` are null on a null value, the string
    /// operators false.
    Literal {
        column: usize,
        null_is_null: bool,
    },
    /// An empty literal: `contains ""` and the like hold on any value,
    /// `== ""` on the empty one.
    Empty {
        column: usize,
        position: Position,
        null_is_null: bool,
    },
    Regex {
        column: usize,
        regex: regex::Regex,
    },
    /// `isempty` (null or ""), on a string column.
    IsEmpty {
        column: usize,
    },
    /// `isnull` on a bool column (never true on a string one).
    IsNull {
        column: usize,
    },
    /// A bool column's value.
    Bool {
        column: usize,
    },
    /// `==` between an integer column and an integer literal (false on
    /// null, as the engine compares a null with a value).
    IntegerEquals {
        column: usize,
        value: i64,
    },
}

/// A predicate's tree over its leaves.
#[derive(Clone, Debug)]
enum Node {
    Leaf(u32),
    Const(bool),
    Not(Box<Node>),
    And(Vec<Node>),
    Or(Vec<Node>),
}

/// The literals tested against one column in one case mode: one automaton,
/// and for each of its patterns the leaves it makes true where.
#[derive(Debug)]
struct Automaton {
    column: usize,
    case_sensitive: bool,
    matcher: AhoCorasick,
    /// Per pattern: (leaf, where the pattern must be).
    tests: Vec<Vec<(u32, Position)>>,
}

/// Predicates compiled to evaluate together over batches with the columns
/// they were compiled for.
#[derive(Debug)]
pub struct PredicateSet {
    /// The columns read, by name, with their kinds.
    columns: Vec<(String, ColumnKind)>,
    leaves: Vec<Leaf>,
    predicates: Vec<Node>,
    automata: Vec<Automaton>,
    /// Per literal leaf: the predicates to evaluate where it holds.
    triggers: Vec<Vec<u32>>,
    /// Predicates evaluated on every row (no literal they need).
    always: Vec<u32>,
}

/// Builds a [`PredicateSet`]: literals are shared between predicates.
#[derive(Default)]
pub struct PredicateSetBuilder {
    columns: Vec<(String, ColumnKind)>,
    leaves: Vec<Leaf>,
    predicates: Vec<Node>,
    /// (column, case-sensitive) → (literal → pattern index, patterns, per pattern its tests).
    literals: HashMap<(usize, bool), PatternTable>,
    leaf_of: HashMap<String, u32>,
}

#[derive(Default)]
struct PatternTable {
    index: HashMap<String, usize>,
    patterns: Vec<String>,
    tests: Vec<Vec<(u32, Position)>>,
}

impl PredicateSetBuilder {
    pub fn new() -> PredicateSetBuilder {
        PredicateSetBuilder::default()
    }

    /// Compiles `text` over columns whose types `column_type` tells; its
    /// index in the set, or why it is refused (nothing is added then).
    pub fn add(&mut self, text: &str, column_type: impl Fn(&str) -> Option<KqlType>) -> Result<usize, Refused> {
        let (expr, diagnostics) = kqlite_syntax::parser::parse_expr(text);
        if !diagnostics.is_empty() {
            return Err(Refused(format!("does not parse: {}", diagnostics[0].message)));
        }
        // A refused predicate may leave leaves and patterns behind: no
        // predicate reads them, so they cost a little scanning and change
        // no result.
        let mut draft = Draft { builder: self, column_type: &column_type };
        let node = draft.node(&expr)?;
        self.predicates.push(node);
        Ok(self.predicates.len() - 1)
    }

    pub fn build(self) -> PredicateSet {
        let mut automata = Vec::new();
        for ((column, case_sensitive), table) in self.literals {
            if table.patterns.is_empty() {
                continue;
            }
            let matcher = AhoCorasick::builder()
                .match_kind(MatchKind::Standard)
                .build(&table.patterns)
                .expect("literals always make an automaton");
            automata.push(Automaton { column, case_sensitive, matcher, tests: table.tests });
        }
        // One scan per column: its case-insensitive automaton first, then its
        // case-sensitive one (the order does not matter to the result).
        automata.sort_by_key(|a| (a.column, a.case_sensitive));
        let mut triggers = vec![Vec::new(); self.leaves.len()];
        let mut always = Vec::new();
        for (p, node) in self.predicates.iter().enumerate() {
            match trigger(node, &self.leaves) {
                Some(leaves) => leaves.into_iter().for_each(|l| triggers[l as usize].push(p as u32)),
                None => always.push(p as u32),
            }
        }
        PredicateSet {
            columns: self.columns,
            leaves: self.leaves,
            predicates: self.predicates,
            automata,
            triggers,
            always,
        }
    }
}

/// Compiles one predicate into the builder.
struct Draft<'a, F> {
    builder: &'a mut PredicateSetBuilder,
    column_type: &'a F,
}

impl<F: Fn(&str) -> Option<KqlType>> Draft<'_, F> {
    fn node(&mut self, expr: &Expr) -> Result<Node, Refused> {
        match &expr.kind {
            ExprKind::Paren(inner) => self.node(inner),
            ExprKind::Literal(Literal::Bool(b)) => Ok(Node::Const(*b)),
            ExprKind::Name(_) => {
                let column = self.column(expr, ColumnKind::Bool)?;
                Ok(self.leaf(format!("bool {column}"), || Leaf::Bool { column }))
            }
            ExprKind::Binary { op: BinaryOp::And, left, right } => {
                Ok(flatten(Node::And(vec![self.node(left)?, self.node(right)?])))
            }
            ExprKind::Binary { op: BinaryOp::Or, left, right } => {
                Ok(flatten(Node::Or(vec![self.node(left)?, self.node(right)?])))
            }
            ExprKind::Binary { op, left, right } => self.comparison(*op, left, right),
            ExprKind::Call { func, args } if args.len() == 1 && args[0].name.is_none() => {
                let arg = &args[0].value;
                match func.name.as_str() {
                    "not" => Ok(Node::Not(Box::new(self.node(arg)?))),
                    "isempty" | "isnotempty" => {
                        let column = self.column(arg, ColumnKind::String)?;
                        let leaf = self.leaf(format!("empty {column}"), || Leaf::IsEmpty { column });
                        Ok(if func.name == "isempty" { leaf } else { Node::Not(Box::new(leaf)) })
                    }
                    "isnull" | "isnotnull" => {
                        let (column, kind) = self.any_column(arg)?;
                        let is_null = match kind {
                            // A string is never null in kqlite.
                            ColumnKind::String => Node::Const(false),
                            ColumnKind::Bool | ColumnKind::Integer => {
                                self.leaf(format!("null {column}"), || Leaf::IsNull { column })
                            }
                        };
                        Ok(if func.name == "isnull" { is_null } else { Node::Not(Box::new(is_null)) })
                    }
                    other => Err(Refused(format!("calls {other}()"))),
                }
            }
            _ => Err(Refused(format!("has an expression outside the compiled subset: {}", short(expr)))),
        }
    }

    fn comparison(&mut self, op: BinaryOp, left: &Expr, right: &Expr) -> Result<Node, Refused> {
        if let (BinaryOp::Eq, ExprKind::Literal(Literal::Long(digits))) = (op, &right.kind) {
            let value: i64 = digits.parse().map_err(|_| Refused(format!("integer literal {digits}")))?;
            let column = self.column(left, ColumnKind::Integer)?;
            return Ok(self.leaf(format!("integer {column} {value}"), || Leaf::IntegerEquals { column, value }));
        }
        let ExprKind::Literal(Literal::String { value, .. }) = &right.kind else {
            return Err(Refused(format!("compares with something other than a string literal: {}", short(right))));
        };
        let column = self.column(left, ColumnKind::String)?;
        let (position, case_sensitive, negated, null_is_null) = match op {
            BinaryOp::EqCi => (Position::Whole, false, false, true),
            BinaryOp::Eq => (Position::Whole, true, false, true),
            BinaryOp::Str(s) if s.kind == StringOpKind::MatchesRegex => {
                let regex = regex::Regex::new(value).map_err(|e| Refused(format!("invalid regex: {e}")))?;
                return Ok(self.leaf(format!("regex {column} {value}"), || Leaf::Regex { column, regex }));
            }
            BinaryOp::Str(s) => {
                let position = match s.kind {
                    StringOpKind::Contains => Position::Anywhere,
                    StringOpKind::StartsWith => Position::Start,
                    StringOpKind::EndsWith => Position::End,
                    other => return Err(Refused(format!("uses the {other:?} operator"))),
                };
                (position, s.case_sensitive, s.negated, false)
            }
            other => return Err(Refused(format!("uses the {other:?} operator"))),
        };
        let node = if value.is_empty() {
            let key = format!("empty-literal {column} {position:?} {null_is_null}");
            self.leaf(key, || Leaf::Empty { column, position, null_is_null })
        } else {
            // The engine compares folded values with the folded literal.
            let literal = if case_sensitive { value.clone() } else { value.to_lowercase() };
            let key = format!("literal {column} {case_sensitive} {position:?} {null_is_null} {literal}");
            let fresh = !self.builder.leaf_of.contains_key(&key);
            let node = self.leaf(key, || Leaf::Literal { column, null_is_null });
            if fresh {
                let Node::Leaf(leaf) = node else { unreachable!("leaf() makes a leaf") };
                let table = self.builder.literals.entry((column, case_sensitive)).or_default();
                let pattern = *table.index.entry(literal.clone()).or_insert_with(|| {
                    table.patterns.push(literal);
                    table.tests.push(Vec::new());
                    table.patterns.len() - 1
                });
                table.tests[pattern].push((leaf, position));
            }
            node
        };
        Ok(if negated { Node::Not(Box::new(node)) } else { node })
    }

    /// The leaf `key` names, made by `make` the first time.
    fn leaf(&mut self, key: String, make: impl FnOnce() -> Leaf) -> Node {
        let builder = &mut *self.builder;
        if let Some(&leaf) = builder.leaf_of.get(&key) {
            return Node::Leaf(leaf);
        }
        builder.leaves.push(make());
        let leaf = (builder.leaves.len() - 1) as u32;
        builder.leaf_of.insert(key, leaf);
        Node::Leaf(leaf)
    }

    fn column(&mut self, expr: &Expr, kind: ColumnKind) -> Result<usize, Refused> {
        let (column, found) = self.any_column(expr)?;
        if found != kind {
            return Err(Refused(format!("reads {} as a {kind:?} column", short(expr))));
        }
        Ok(column)
    }

    fn any_column(&mut self, expr: &Expr) -> Result<(usize, ColumnKind), Refused> {
        let ExprKind::Name(ident) = &expr.kind else {
            return Err(Refused(format!("tests an expression, not a column: {}", short(expr))));
        };
        let kind = match (self.column_type)(&ident.name) {
            Some(KqlType::String) => ColumnKind::String,
            Some(KqlType::Bool) => ColumnKind::Bool,
            Some(KqlType::Int | KqlType::Long) => ColumnKind::Integer,
            Some(other) => return Err(Refused(format!("reads {} of type {other:?}", ident.name))),
            None => return Err(Refused(format!("reads {}, which the rows do not have", ident.name))),
        };
        let columns = &mut self.builder.columns;
        let index = match columns.iter().position(|(name, _)| *name == ident.name) {
            Some(i) => i,
            None => {
                columns.push((ident.name.clone(), kind));
                columns.len() - 1
            }
        };
        Ok((index, kind))
    }
}

fn short(expr: &Expr) -> String {
    expr.to_string().chars().take(80).collect()
}

/// `a and (b and c)` as one `and` of three (and so for `or`).
fn flatten(node: Node) -> Node {
    match node {
        Node::And(parts) => Node::And(
            parts
                .into_iter()
                .flat_map(|p| match p {
                    Node::And(inner) => inner,
                    other => vec![other],
                })
                .collect(),
        ),
        Node::Or(parts) => Node::Or(
            parts
                .into_iter()
                .flat_map(|p| match p {
                    Node::Or(inner) => inner,
                    other => vec![other],
                })
                .collect(),
        ),
        other => other,
    }
}

/// Literal leaves of which at least one holds wherever `node` holds; `None`
/// when `node` can hold with none of its literals found. An `and` needs
/// any one part's set (the smallest is taken), an `or` every part's.
fn trigger(node: &Node, leaves: &[Leaf]) -> Option<Vec<u32>> {
    match node {
        Node::Leaf(l) => matches!(leaves[*l as usize], Leaf::Literal { .. }).then(|| vec![*l]),
        Node::Const(false) => Some(Vec::new()),
        Node::Const(true) | Node::Not(_) => None,
        Node::And(parts) => parts.iter().filter_map(|p| trigger(p, leaves)).min_by_key(Vec::len),
        Node::Or(parts) => {
            let mut all = Vec::new();
            for part in parts {
                all.extend(trigger(part, leaves)?);
            }
            all.sort_unstable();
            all.dedup();
            Some(all)
        }
    }
}

/// A column of a batch as the set reads it.
enum ColumnValues {
    String(StringArray),
    Bool(BooleanArray),
    Integer(Int64Array),
}

impl ColumnValues {
    fn is_null(&self, row: usize) -> bool {
        match self {
            ColumnValues::String(values) => values.is_null(row),
            ColumnValues::Bool(values) => values.is_null(row),
            ColumnValues::Integer(values) => values.is_null(row),
        }
    }
}

/// Per-row state, reused across rows: which literal leaves hold in the
/// current row (`stamp == row`), which predicates were evaluated.
struct RowState {
    leaf_stamp: Vec<u64>,
    predicate_stamp: Vec<u64>,
    candidates: Vec<u32>,
    row_id: u64,
}

impl PredicateSet {
    /// The number of predicates.
    pub fn len(&self) -> usize {
        self.predicates.len()
    }

    pub fn is_empty(&self) -> bool {
        self.predicates.is_empty()
    }

    /// For each predicate, the rows of `batch` where it holds (ascending).
    pub fn evaluate(&self, batch: &RecordBatch) -> Result<Vec<Vec<u32>>, String> {
        let columns = self.batch_columns(batch)?;
        let mut matches = vec![Vec::new(); self.predicates.len()];
        let mut state = RowState {
            leaf_stamp: vec![0; self.leaves.len()],
            predicate_stamp: vec![0; self.predicates.len()],
            candidates: Vec::new(),
            row_id: 0,
        };
        let mut folded = String::new();
        for row in 0..batch.num_rows() {
            state.row_id += 1;
            state.candidates.clear();
            let stamp = state.row_id;
            for automaton in &self.automata {
                let ColumnValues::String(values) = &columns[automaton.column] else { continue };
                if values.is_null(row) {
                    continue;
                }
                let text = fold_case(values.value(row), automaton.case_sensitive, &mut folded);
                let len = text.len();
                for found in automaton.matcher.find_overlapping_iter(text) {
                    for &(leaf, position) in &automaton.tests[found.pattern().as_usize()] {
                        if state.leaf_stamp[leaf as usize] != stamp && position.holds(found.start(), found.end(), len) {
                            state.leaf_stamp[leaf as usize] = stamp;
                            for &p in &self.triggers[leaf as usize] {
                                if state.predicate_stamp[p as usize] != stamp {
                                    state.predicate_stamp[p as usize] = stamp;
                                    state.candidates.push(p);
                                }
                            }
                        }
                    }
                }
            }
            let evaluate = |p: u32| self.value(&self.predicates[p as usize], &columns, row, &state) == Some(true);
            for &p in state.candidates.iter().chain(&self.always) {
                if evaluate(p) {
                    matches[p as usize].push(row as u32);
                }
            }
        }
        Ok(matches)
    }

    fn batch_columns(&self, batch: &RecordBatch) -> Result<Vec<ColumnValues>, String> {
        let schema = batch.schema();
        self.columns
            .iter()
            .map(|(name, kind)| {
                let index = schema.index_of(name).map_err(|_| format!("the rows have no column {name}"))?;
                let array: &ArrayRef = batch.column(index);
                Ok(match kind {
                    ColumnKind::String => {
                        let utf8 = match array.data_type() {
                            DataType::Utf8 => array.clone(),
                            _ => cast(array, &DataType::Utf8).map_err(|e| format!("column {name}: {e}"))?,
                        };
                        let strings = utf8.as_any().downcast_ref::<StringArray>().expect("cast to Utf8").clone();
                        ColumnValues::String(strings)
                    }
                    ColumnKind::Integer => {
                        let long = cast(array, &DataType::Int64).map_err(|e| format!("column {name}: {e}"))?;
                        ColumnValues::Integer(
                            long.as_any().downcast_ref::<Int64Array>().expect("cast to Int64").clone(),
                        )
                    }
                    ColumnKind::Bool => {
                        let bools = array
                            .as_any()
                            .downcast_ref::<BooleanArray>()
                            .ok_or_else(|| format!("column {name} is not bool"))?;
                        ColumnValues::Bool(bools.clone())
                    }
                })
            })
            .collect()
    }

    /// A predicate's value in `row`, in three-valued logic (`None` null).
    fn value(&self, node: &Node, columns: &[ColumnValues], row: usize, state: &RowState) -> Option<bool> {
        match node {
            Node::Const(b) => Some(*b),
            Node::Leaf(l) => self.leaf_value(*l, columns, row, state),
            Node::Not(inner) => self.value(inner, columns, row, state).map(|b| !b),
            Node::And(parts) => self.connective(parts, false, columns, row, state),
            Node::Or(parts) => self.connective(parts, true, columns, row, state),
        }
    }

    /// `and` (`decisive` false) or `or` (`decisive` true) in three-valued
    /// logic: the decisive value if any part has it, else null if any part
    /// is null, else the other value.
    fn connective(
        &self,
        parts: &[Node],
        decisive: bool,
        columns: &[ColumnValues],
        row: usize,
        state: &RowState,
    ) -> Option<bool> {
        let mut result = Some(!decisive);
        for part in parts {
            match self.value(part, columns, row, state) {
                Some(b) if b == decisive => return Some(decisive),
                None => result = None,
                Some(_) => {}
            }
        }
        result
    }

    fn leaf_value(&self, leaf: u32, columns: &[ColumnValues], row: usize, state: &RowState) -> Option<bool> {
        let string = |column: usize| match &columns[column] {
            ColumnValues::String(values) => (!values.is_null(row)).then(|| values.value(row)),
            _ => None,
        };
        match &self.leaves[leaf as usize] {
            Leaf::Literal { column, null_is_null } => match string(*column) {
                None if *null_is_null => None,
                None => Some(false),
                Some(_) => Some(state.leaf_stamp[leaf as usize] == state.row_id),
            },
            Leaf::Empty { column, position, null_is_null } => match string(*column) {
                None if *null_is_null => None,
                None => Some(false),
                Some(value) => Some(*position != Position::Whole || value.is_empty()),
            },
            Leaf::Regex { column, regex } => Some(string(*column).is_some_and(|v| regex.is_match(v))),
            Leaf::IsEmpty { column } => Some(string(*column).is_none_or(str::is_empty)),
            Leaf::IsNull { column } => match &columns[*column] {
                ColumnValues::String(_) => Some(false),
                other => Some(other.is_null(row)),
            },
            Leaf::Bool { column } => match &columns[*column] {
                ColumnValues::Bool(values) => (!values.is_null(row)).then(|| values.value(row)),
                _ => None,
            },
            Leaf::IntegerEquals { column, value } => match &columns[*column] {
                // Kusto: a null compared with a value is unequal.
                ColumnValues::Integer(values) => Some(!values.is_null(row) && values.value(row) == *value),
                _ => None,
            },
        }
    }
}
