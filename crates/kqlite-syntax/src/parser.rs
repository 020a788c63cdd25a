//! Recursive-descent parser for the KQL query language.
//!
//! Errors become [`Diagnostic`]s and parsing goes on: a failed operator is
//! skipped up to the next `|` (or `;`), a failed statement up to the next
//! `;`, so one pass reports several independent errors. The parser never
//! panics: nesting is bounded and every token access is checked.

use crate::ast::*;
use crate::diagnostic::Diagnostic;
use crate::lexer::{decode_string, is_obfuscated_string, lex, Token, TokenKind};
use crate::operators::OperatorKeyword;
use crate::span::Span;
use crate::suggest::{suggest, MaxDistance};

/// The result of parsing: a tree (possibly with [`ExprKind::Error`] holes)
/// and every diagnostic found.
#[derive(Debug)]
pub struct Parsed {
    pub query: Query,
    pub diagnostics: Vec<Diagnostic>,
}

impl Parsed {
    pub fn has_errors(&self) -> bool {
        self.diagnostics.iter().any(Diagnostic::is_error)
    }
}

/// Parses a KQL query: statements separated by `;`.
pub fn parse(source: &str) -> Parsed {
    let lexed = lex(source);
    let mut parser =
        Parser { src: source, tokens: lexed.tokens, pos: 0, diagnostics: lexed.diagnostics, depth: 0, tree_depth: 0 };
    let query = parser.query();
    let mut diagnostics = parser.diagnostics;
    diagnostics.sort_by_key(|d| (d.span.start, d.span.end));
    diagnostics.dedup_by(|a, b| a.span.start == b.span.start && a.message == b.message);
    Parsed { query, diagnostics }
}

/// Parses a single expression (scalar or tabular), for tools and tests.
pub fn parse_expr(source: &str) -> (Expr, Vec<Diagnostic>) {
    let lexed = lex(source);
    let mut parser =
        Parser { src: source, tokens: lexed.tokens, pos: 0, diagnostics: lexed.diagnostics, depth: 0, tree_depth: 0 };
    let expr = parser.pipe_expr().unwrap_or_else(|_| Expr::new(ExprKind::Error, Span::default()));
    if parser.kind() != TokenKind::Eof {
        let _ = parser.fail::<()>("end of expression");
    }
    (expr, parser.diagnostics)
}

/// A failure already reported as a diagnostic; callers recover.
#[derive(Debug)]
struct Fail;

type PResult<T> = Result<T, Fail>;

/// Deepest nesting of expressions and sub-queries accepted. Real queries stay
/// far below; the bound keeps adversarial input from exhausting the stack.
const MAX_DEPTH: u32 = 64;

/// Deepest tree accepted, counting chained operators (`a + b + …`, pipes):
/// trees are dropped, compared and printed recursively.
const MAX_TREE_DEPTH: u32 = 4000;

const SCALAR_TYPES: &[&str] = &[
    "bool", "boolean", "int", "int32", "long", "int64", "real", "double", "decimal", "string", "datetime", "date",
    "timespan", "time", "guid", "uniqueid", "dynamic",
];

/// Types that have a `type(value)` literal form.
const TYPED_LITERAL_TYPES: &[&str] = &["bool", "boolean", "int", "int32", "long", "int64", "real", "double", "decimal"];

/// Keywords other than operator words that cannot name a column or table
/// unless bracketed (`['title']`); checked against Microsoft's parser.
const RESERVED: &[&str] = &[
    "and",
    "or",
    "by",
    "in",
    "has",
    "contains",
    "between",
    "asc",
    "desc",
    "of",
    "to",
    "title",
    "dynamic",
    "first",
    "last",
    "startswith",
    "endswith",
    "hasprefix",
    "hassuffix",
    "has_any",
    "has_all",
    "contains_cs",
    "has_cs",
    "startswith_cs",
    "endswith_cs",
    "hasprefix_cs",
    "hassuffix_cs",
    "notcontains",
    "notcontainscs",
    "containscs",
    "like",
    "notlike",
    "likecs",
    "notlikecs",
    "set",
    "datetime",
    "timespan",
    "int",
    "long",
    "real",
    "string",
    "decimal",
    "double",
    "time",
    "date",
    "others",
    "materialize",
    "toscalar",
    "int32",
    "int64",
    "boolean",
    "uniqueid",
    "isfuzzy",
    "flags",
    "bagexpansion",
    "with_itemindex",
];

/// Reserved words that may still be declared as names (`extend where = 1`,
/// `datatable(title: string)`, a parameter `(in: long)`), though a bare
/// reference to them must be bracketed; checked against Microsoft's parser.
const DECLARABLE_KEYWORDS: &[&str] = &[
    "by",
    "in",
    "has",
    "contains",
    "of",
    "to",
    "title",
    "set",
    "materialize",
    "toscalar",
    "where",
    "top-nested",
    "top-hitters",
    "as",
    "sample",
    "sample-distinct",
    "invoke",
    "search",
    "print",
    "datatable",
    "externaldata",
    "find",
];

/// `render` properties, all allowed inside `with (…)`.
const RENDER_PROPERTIES: &[&str] = &[
    "kind",
    "title",
    "xcolumn",
    "ycolumns",
    "series",
    "anomalycolumns",
    "xtitle",
    "ytitle",
    "legend",
    "ysplit",
    "accumulate",
    "xaxis",
    "yaxis",
    "ymin",
    "ymax",
    "xmin",
    "xmax",
];

/// `render` properties whose value is a list of column names.
const RENDER_COLUMN_LISTS: &[&str] = &["ycolumns", "series", "anomalycolumns"];

/// `render` properties Microsoft's parser also takes before `with`.
const RENDER_BARE_PROPERTIES: &[&str] = &["kind", "title", "accumulate"];

/// Words that may be referenced bare but not declared as names (`extend
/// kind = 1` and `let true = 1` are errors in Microsoft's parser).
const UNDECLARABLE: &[&str] = &["kind", "true", "false", "with_source", "withsource", "graph-merge"];

/// Whether `word` cannot name a column or table unless bracketed: a reserved
/// keyword or a reserved operator word.
fn is_reserved(word: &str) -> bool {
    RESERVED.contains(&word) || OperatorKeyword::from_word(word).is_some_and(OperatorKeyword::is_reserved)
}

/// Whether `word` also starts a pipeline of its own (`union`, `search`).
fn follows_pipe_as_source(word: &str) -> bool {
    matches!(OperatorKeyword::from_word(word), Some(OperatorKeyword::Union | OperatorKeyword::Search))
}

/// Whether `word` starts an operator after `|`.
fn follows_pipe(word: &str) -> bool {
    OperatorKeyword::from_word(word).is_some_and(OperatorKeyword::follows_pipe)
}

struct Parser<'a> {
    src: &'a str,
    tokens: Vec<Token>,
    pos: usize,
    diagnostics: Vec<Diagnostic>,
    /// Current recursion depth, bounded by [`MAX_DEPTH`].
    depth: u32,
    /// Depth of the tree being built, bounded by [`MAX_TREE_DEPTH`].
    tree_depth: u32,
}

impl<'a> Parser<'a> {
    // ----- token access -------------------------------------------------

    fn tok(&self) -> Token {
        self.tokens[self.pos.min(self.tokens.len() - 1)]
    }

    fn tok_at(&self, ahead: usize) -> Token {
        self.tokens[(self.pos + ahead).min(self.tokens.len() - 1)]
    }

    fn kind(&self) -> TokenKind {
        self.tok().kind
    }

    fn kind_at(&self, ahead: usize) -> TokenKind {
        self.tok_at(ahead).kind
    }

    fn text_of(&self, token: Token) -> &'a str {
        &self.src[token.span.range()]
    }

    fn text(&self) -> &'a str {
        self.text_of(self.tok())
    }

    fn span(&self) -> Span {
        self.tok().span
    }

    /// End of the previous token, for closing a node's span.
    fn prev_end(&self) -> u32 {
        if self.pos == 0 {
            0
        } else {
            self.tokens[(self.pos - 1).min(self.tokens.len() - 1)].span.end
        }
    }

    fn span_from(&self, start: Span) -> Span {
        Span { start: start.start, end: self.prev_end().max(start.start) }
    }

    fn bump(&mut self) -> Token {
        let t = self.tok();
        if t.kind != TokenKind::Eof {
            self.pos += 1;
        }
        t
    }

    fn at(&self, kind: TokenKind) -> bool {
        self.kind() == kind
    }

    fn at_word(&self, word: &str) -> bool {
        self.kind() == TokenKind::Ident && self.text() == word
    }

    fn at_word_at(&self, ahead: usize, word: &str) -> bool {
        let t = self.tok_at(ahead);
        t.kind == TokenKind::Ident && self.text_of(t) == word
    }

    fn eat(&mut self, kind: TokenKind) -> bool {
        if self.at(kind) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn eat_word(&mut self, word: &str) -> bool {
        if self.at_word(word) {
            self.bump();
            true
        } else {
            false
        }
    }

    fn expect(&mut self, kind: TokenKind) -> PResult<Token> {
        if self.at(kind) {
            Ok(self.bump())
        } else {
            self.fail(kind.describe())
        }
    }

    fn expect_word(&mut self, word: &str) -> PResult<Token> {
        if self.at_word(word) {
            Ok(self.bump())
        } else {
            self.fail(&format!("'{word}'"))
        }
    }

    /// Describes the current token for "found …".
    fn found(&self) -> String {
        let t = self.tok();
        match t.kind {
            TokenKind::Eof => "end of query".to_string(),
            TokenKind::Unknown => "an unknown character".to_string(),
            _ => {
                let text = self.text_of(t);
                let short: String = text.chars().take(40).collect();
                if short.len() < text.len() {
                    format!("'{short}…'")
                } else {
                    format!("'{short}'")
                }
            }
        }
    }

    /// Reports "expected X, found Y" at the current token.
    fn fail<T>(&mut self, expected: &str) -> PResult<T> {
        let t = self.tok();
        // A lexer error already covers an unknown character.
        if t.kind != TokenKind::Unknown {
            let message = format!("expected {expected}, found {}", self.found());
            self.diagnostics.push(Diagnostic::error(t.span, message));
        }
        Err(Fail)
    }

    fn error_at<T>(&mut self, span: Span, message: impl Into<String>) -> PResult<T> {
        self.diagnostics.push(Diagnostic::error(span, message));
        Err(Fail)
    }

    /// Enters one level of recursive parsing (a parenthesis, call, index,
    /// sub-query or dynamic value).
    fn enter(&mut self) -> PResult<()> {
        if self.depth >= MAX_DEPTH {
            let span = self.span();
            return self.error_at(span, format!("query nested too deeply (more than {MAX_DEPTH} levels)"));
        }
        self.grow()?;
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth -= 1;
        self.tree_depth -= 1;
    }

    /// One more level of tree depth: nesting plus operator chains. Trees are
    /// dropped, compared and printed recursively, so their depth is bounded.
    fn grow(&mut self) -> PResult<()> {
        if self.tree_depth >= MAX_TREE_DEPTH {
            let span = self.span();
            return self.error_at(span, format!("expression too long: more than {MAX_TREE_DEPTH} chained operators"));
        }
        self.tree_depth += 1;
        Ok(())
    }

    /// Skips to the next token of one of `stops` at the current nesting
    /// level (or the end), for recovery.
    fn recover_to(&mut self, stops: &[TokenKind]) {
        let mut nesting = 0usize;
        loop {
            let kind = self.kind();
            if kind == TokenKind::Eof {
                return;
            }
            if nesting == 0 && stops.contains(&kind) {
                return;
            }
            match kind {
                TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => nesting += 1,
                TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => {
                    if nesting == 0 {
                        if self.inside_brackets() {
                            // The enclosing construct closes here.
                            return;
                        }
                        // A stray closer: already reported, skip it.
                    } else {
                        nesting -= 1;
                    }
                }
                _ => {}
            }
            self.bump();
        }
    }

    /// Whether an opening bracket before the current token is still open.
    fn inside_brackets(&self) -> bool {
        let mut open = 0i64;
        for t in &self.tokens[..self.pos.min(self.tokens.len())] {
            match t.kind {
                TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => open += 1,
                TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => open = (open - 1).max(0),
                _ => {}
            }
        }
        open > 0
    }

    /// Position of the token that closes the bracket at `self.pos`, if any.
    fn matching_close(&self, from: usize) -> Option<usize> {
        let mut nesting = 0usize;
        for (i, t) in self.tokens.iter().enumerate().skip(from) {
            match t.kind {
                TokenKind::LParen | TokenKind::LBracket | TokenKind::LBrace => nesting += 1,
                TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace => {
                    nesting = nesting.checked_sub(1)?;
                    if nesting == 0 {
                        return Some(i);
                    }
                }
                TokenKind::Eof => return None,
                _ => {}
            }
        }
        None
    }

    // ----- statements ---------------------------------------------------

    fn query(&mut self) -> Query {
        let statements = self.statements(TokenKind::Eof);
        let end = self.src.len();
        Query { statements, span: Span::new(0, end) }
    }

    /// Statements separated by `;` up to `end` (not consumed).
    fn statements(&mut self, end: TokenKind) -> Vec<Statement> {
        let mut statements = Vec::new();
        loop {
            if self.at(end) || self.at(TokenKind::Eof) {
                break;
            }
            if self.at(TokenKind::Semicolon) {
                // Kusto allows one `;` after a statement, not empty statements.
                let _ = self.fail::<()>("a statement");
                self.bump();
                continue;
            }
            let start = self.pos;
            match self.statement() {
                Ok(s) => {
                    statements.push(s);
                    if self.eat(TokenKind::Semicolon) {
                        continue;
                    }
                    if !self.at(end) && !self.at(TokenKind::Eof) {
                        let expected =
                            if end == TokenKind::Eof { "'|', ';' or end of query" } else { "'|', ';' or '}'" };
                        let _ = self.fail::<()>(expected);
                        self.recover_to(&[TokenKind::Semicolon, end]);
                    }
                }
                Err(Fail) => {
                    self.recover_to(&[TokenKind::Semicolon, end]);
                    if self.eat(TokenKind::Semicolon) {
                        continue;
                    }
                    let at_closer = matches!(self.kind(), TokenKind::RParen | TokenKind::RBracket | TokenKind::RBrace);
                    if at_closer && !self.at(end) {
                        let span = self.span();
                        let message = format!("unmatched {}", self.found());
                        self.diagnostics.push(Diagnostic::error(span, message));
                        self.bump();
                    }
                }
            }
            if self.pos == start {
                // No progress: skip a token so recovery always terminates.
                self.bump();
            }
        }
        statements
    }

    fn statement(&mut self) -> PResult<Statement> {
        let start = self.span();
        if self.at_word("let") {
            self.bump();
            // Unlike columns, a `let` name cannot be a reserved word at all.
            if self.kind() == TokenKind::Ident && UNDECLARABLE.contains(&self.text()) {
                let word = self.text();
                return self.fail(&format!("a name ('{word}' cannot be a let name; write ['{word}'])"));
            }
            let name = self.ident()?;
            self.expect(TokenKind::Assign)?;
            let value = self.let_value()?;
            return Ok(Statement::Let(LetStatement { name, value, span: self.span_from(start) }));
        }
        if self.at_word("declare") && self.at_word_at(1, "query_parameters") {
            self.bump();
            self.bump();
            let params = self.param_list()?;
            return Ok(Statement::DeclareQueryParameters(DeclareStatement { params, span: self.span_from(start) }));
        }
        if self.at_word("set") && self.kind_at(1) == TokenKind::Ident {
            self.bump();
            let name = self.dotted_name()?;
            let value = if self.eat(TokenKind::Assign) { Some(self.or_expr()?) } else { None };
            let span = self.span_from(start);
            self.diagnostics.push(Diagnostic::warning(
                span,
                format!("'set {name}' is a request option; kqlite parses and ignores it"),
            ));
            return Ok(Statement::Set(SetStatement { name, value, span }));
        }
        if self.at_word("alias") && self.at_word_at(1, "database") {
            self.bump();
            self.bump();
            let name = self.ident()?;
            self.expect(TokenKind::Assign)?;
            let value = self.pipe_expr()?;
            return Ok(Statement::Alias(AliasStatement { name, value, span: self.span_from(start) }));
        }
        Ok(Statement::Expr(self.pipe_expr()?))
    }

    fn let_value(&mut self) -> PResult<LetValue> {
        let start = self.span();
        let is_view = self.at_word("view") && self.kind_at(1) == TokenKind::LParen;
        let paren = if is_view { self.pos + 1 } else { self.pos };
        let is_function = self.tokens.get(paren).is_some_and(|t| t.kind == TokenKind::LParen)
            && self
                .matching_close(paren)
                .is_some_and(|close| self.tokens.get(close + 1).is_some_and(|t| t.kind == TokenKind::LBrace));
        if !is_function {
            if self.at_word("materialize") && self.kind_at(1) == TokenKind::LParen {
                // Kusto allows materialize() only as the whole value of a `let`.
                let t = self.bump();
                let args = self.call_args_with(|p| p.pipe_expr())?;
                let call = ExprKind::Call { func: Ident::new("materialize", t.span), args };
                return Ok(LetValue::Expr(Expr::new(call, self.span_from(start))));
            }
            return Ok(LetValue::Expr(self.pipe_expr()?));
        }
        if is_view {
            self.bump();
        }
        let params = self.param_list()?;
        let body = self.function_body()?;
        Ok(LetValue::Function(FunctionDef { is_view, params, body, span: self.span_from(start) }))
    }

    fn function_body(&mut self) -> PResult<FunctionBody> {
        let start = self.expect(TokenKind::LBrace)?.span;
        self.enter()?;
        let statements = self.statements(TokenKind::RBrace);
        self.leave();
        self.expect(TokenKind::RBrace)?;
        if statements.is_empty() {
            return self.error_at(self.span_from(start), "expected an expression in the function body");
        }
        Ok(FunctionBody { statements, span: self.span_from(start) })
    }

    /// `( name: type [= default], … )`
    fn param_list(&mut self) -> PResult<Vec<Param>> {
        self.expect(TokenKind::LParen)?;
        let mut params = Vec::new();
        if !self.eat(TokenKind::RParen) {
            loop {
                let start = self.span();
                let name = self.declared_ident()?;
                self.expect(TokenKind::Colon)?;
                let ty = if self.at(TokenKind::LParen) {
                    ParamType::Tabular(self.tabular_schema_with(SchemaCommas::Trailing)?)
                } else {
                    ParamType::Scalar(self.type_name()?)
                };
                let default = if self.eat(TokenKind::Assign) { Some(self.or_expr()?) } else { None };
                params.push(Param { name, ty, default, span: self.span_from(start) });
                if !self.eat(TokenKind::Comma) {
                    break;
                }
            }
            self.expect(TokenKind::RParen)?;
        }
        Ok(params)
    }

    /// `( a: string, b: long, * )` or `(*)`.
    fn tabular_schema(&mut self) -> PResult<TabularSchema> {
        self.tabular_schema_with(SchemaCommas::None)
    }

    /// A schema whose list may have the extra commas `commas` allows, as
    /// Kusto's parser takes them (`datatable(,a:string,)[…]`, a parameter
    /// `(T:(a:string,))`), so that content written that way parses.
    fn tabular_schema_with(&mut self, commas: SchemaCommas) -> PResult<TabularSchema> {
        let start = self.expect(TokenKind::LParen)?.span;
        let mut columns = Vec::new();
        let mut open = false;
        if commas == SchemaCommas::LeadingAndTrailing {
            self.eat(TokenKind::Comma);
        }
        if !self.at(TokenKind::RParen) {
            loop {
                if self.eat(TokenKind::Star) {
                    open = true;
                } else {
                    columns.push(self.column_decl()?);
                }
                if !self.eat(TokenKind::Comma) || (commas != SchemaCommas::None && self.at(TokenKind::RParen)) {
                    break;
                }
            }
        }
        self.expect(TokenKind::RParen)?;
        Ok(TabularSchema { columns, open, span: self.span_from(start) })
    }

    fn column_decl(&mut self) -> PResult<ColumnDecl> {
        let start = self.span();
        let name = self.declared_ident()?;
        self.expect(TokenKind::Colon)?;
        let ty = self.type_name()?;
        Ok(ColumnDecl { name, ty, span: self.span_from(start) })
    }

    fn type_name(&mut self) -> PResult<TypeName> {
        if self.kind() == TokenKind::Ident && SCALAR_TYPES.contains(&self.text()) {
            let t = self.bump();
            Ok(TypeName { name: self.text_of(t).to_string(), span: t.span })
        } else {
            self.fail("a type name (bool, int, long, real, decimal, string, datetime, timespan, guid or dynamic)")
        }
    }

    /// How many tokens the declared name at `ahead` spans (see
    /// [`Parser::declared_ident`]): 1, 3 for `['name']`, or 0.
    fn declared_name_len(&self, ahead: usize) -> usize {
        match self.kind_at(ahead) {
            TokenKind::Ident => {
                let word = self.text_of(self.tok_at(ahead));
                let declarable = DECLARABLE_KEYWORDS.contains(&word) || !is_reserved(word);
                usize::from(declarable && !UNDECLARABLE.contains(&word))
            }
            _ => self.name_len(ahead),
        }
    }

    /// A name being declared (a column in `extend`, a schema or a tuple, a
    /// parameter): Kusto takes some reserved words here (`extend where = 1`)
    /// and refuses some other words (`kind`, `true`).
    fn declared_ident(&mut self) -> PResult<Ident> {
        if self.kind() == TokenKind::Ident && self.declared_name_len(0) == 1 {
            let t = self.bump();
            return Ok(Ident::new(self.text_of(t), t.span));
        }
        if self.kind() == TokenKind::Ident && UNDECLARABLE.contains(&self.text()) {
            let word = self.text();
            return self.fail(&format!("a name ('{word}' cannot name a column here; write ['{word}'])"));
        }
        self.ident()
    }

    fn ident(&mut self) -> PResult<Ident> {
        match self.kind() {
            TokenKind::Ident if is_reserved(self.text()) => {
                let word = self.text();
                self.fail(&format!("a name ('{word}' is a keyword; write ['{word}'] to use it as a name)"))
            }
            TokenKind::Ident => {
                let t = self.bump();
                Ok(Ident::new(self.text_of(t), t.span))
            }
            TokenKind::LBracket if self.name_len(0) == 3 => {
                let open = self.bump();
                let t = self.bump();
                let close = self.bump();
                Ok(Ident::new(decode_string(self.text_of(t)), open.span.to(close.span)))
            }
            _ => self.fail("a name"),
        }
    }

    /// How many tokens the name at `ahead` spans: 1 for a word, 3 for
    /// `['name']`, 0 when there is no name there.
    fn name_len(&self, ahead: usize) -> usize {
        match self.kind_at(ahead) {
            TokenKind::Ident if !is_reserved(self.text_of(self.tok_at(ahead))) => 1,
            TokenKind::LBracket
                if self.kind_at(ahead + 1) == TokenKind::String
                    && self.kind_at(ahead + 2) == TokenKind::RBracket
                    && !self.text_of(self.tok_at(ahead + 1)).starts_with("```") =>
            {
                3
            }
            _ => 0,
        }
    }

    /// `a.b.c` as one string (option and hint names).
    fn dotted_name(&mut self) -> PResult<String> {
        let first = self.expect(TokenKind::Ident)?;
        let mut name = self.text_of(first).to_string();
        while self.at(TokenKind::Dot) && self.kind_at(1) == TokenKind::Ident {
            self.bump();
            let part = self.bump();
            name.push('.');
            name.push_str(self.text_of(part));
        }
        Ok(name)
    }

    // ----- pipelines and operators --------------------------------------

    /// A full expression including pipes: `T | where x | count`.
    fn pipe_expr(&mut self) -> PResult<Expr> {
        self.enter()?;
        let result = self.pipe_expr_inner();
        self.leave();
        result
    }

    fn pipe_expr_inner(&mut self) -> PResult<Expr> {
        let start = self.span();
        let head = self.pipe_head()?;
        self.pipe_tail(head, start)
    }

    /// `| operator` after `expr`, repeatedly.
    fn pipe_tail(&mut self, mut expr: Expr, start: Span) -> PResult<Expr> {
        let mut links = 0;
        let result = (|| {
            while self.at(TokenKind::Pipe) {
                self.grow()?;
                links += 1;
                self.bump();
                let operator = self.operator_recovering();
                expr = Expr::new(
                    ExprKind::Pipe { input: Box::new(expr), operator: Box::new(operator) },
                    self.span_from(start),
                );
            }
            Ok(expr)
        })();
        self.tree_depth -= links;
        result
    }

    /// A pipeline whose first operator reads an implicit input.
    fn implicit_input_pipe(&mut self) -> PResult<Expr> {
        let start = self.span();
        let input = Operator { kind: OperatorKind::Input, span: input_span(start) };
        let input = Expr::new(ExprKind::Source(Box::new(input)), input_span(start));
        let op = self.operator()?;
        let head = Expr::new(ExprKind::Pipe { input: Box::new(input), operator: Box::new(op) }, self.span_from(start));
        self.pipe_tail(head, start)
    }

    /// Parses an operator; on failure reports, skips to the next `|` and
    /// returns an operator holding an error expression.
    fn operator_recovering(&mut self) -> Operator {
        let start = self.span();
        match self.operator() {
            Ok(op) => {
                if !self.at_pipe_end() {
                    let _ = self.fail::<()>("'|' or the end of the operator");
                    self.recover_to(&[TokenKind::Pipe, TokenKind::Semicolon]);
                }
                op
            }
            Err(Fail) => {
                self.recover_to(&[TokenKind::Pipe, TokenKind::Semicolon]);
                Operator {
                    kind: OperatorKind::Where { predicate: Expr::new(ExprKind::Error, start) },
                    span: self.span_from(start),
                }
            }
        }
    }

    /// Tokens that may follow a complete operator.
    fn at_pipe_end(&self) -> bool {
        matches!(
            self.kind(),
            TokenKind::Pipe
                | TokenKind::Semicolon
                | TokenKind::Eof
                | TokenKind::RParen
                | TokenKind::RBrace
                | TokenKind::RBracket
                | TokenKind::Comma
        ) || (self.at_word("on") || self.at_word("by"))
    }

    /// The start of a pipeline: a source operator or any expression.
    fn pipe_head(&mut self) -> PResult<Expr> {
        let start = self.span();
        if self.kind() == TokenKind::Ident {
            let word = self.text();
            let next = self.kind_at(1);
            // These words are reserved, so they always start a source;
            // `range` and `evaluate` may also be names.
            use OperatorKeyword as W;
            let keyword = OperatorKeyword::from_word(word);
            let is_source = match keyword {
                Some(
                    W::Print
                    | W::Union
                    | W::Search
                    | W::Find
                    | W::Datatable
                    | W::ExternalData
                    | W::ExternalDataUnderscore,
                ) => true,
                Some(W::Range) => self.name_len(1) > 0,
                Some(W::Evaluate) => next == TokenKind::Ident,
                _ => false,
            };
            if is_source {
                let op = self.operator()?;
                return Ok(Expr::new(ExprKind::Source(Box::new(op)), self.span_from(start)));
            }
            if keyword.is_some_and(|k| k.is_reserved() && k.follows_pipe()) {
                // A reserved operator word starts a pipeline with an implicit
                // input, as in `(where x > 1 | top 1 by x)`.
                return self.implicit_input_pipe();
            }
        }
        self.or_expr()
    }

    /// `( operator | operator … )` with no source: the body of `mv-apply`,
    /// `facet`, `fork` and `partition`.
    fn sub_pipeline(&mut self, close: TokenKind) -> PResult<Expr> {
        self.enter()?;
        let result = if self.kind() == TokenKind::Ident && follows_pipe(self.text()) {
            self.implicit_input_pipe()
        } else {
            self.pipe_expr()
        };
        self.leave();
        let expr = result?;
        if !self.at(close) {
            return self.fail(close.describe());
        }
        Ok(expr)
    }

    /// `( sub-pipeline )` as a parenthesised expression.
    fn paren_sub_pipeline(&mut self) -> PResult<Expr> {
        let start = self.expect(TokenKind::LParen)?.span;
        let inner = self.sub_pipeline(TokenKind::RParen)?;
        self.expect(TokenKind::RParen)?;
        Ok(Expr::new(ExprKind::Paren(Box::new(inner)), self.span_from(start)))
    }

    fn operator(&mut self) -> PResult<Operator> {
        let start = self.span();
        if self.kind() != TokenKind::Ident {
            return self.fail("a tabular operator (where, extend, project, summarize, join, …)");
        }
        use OperatorKeyword as W;
        let word = self.text();
        let keyword = OperatorKeyword::from_word(word);
        let kind = match keyword {
            Some(W::Where | W::Filter) => {
                self.bump();
                let predicate_start = self.span();
                let n = self.name_len(0);
                let predicate = if n > 0 && self.kind_at(n) == TokenKind::Assign {
                    // Kusto's grammar takes `where Name = value`; it means equality.
                    let name = self.ident()?;
                    let name_span = name.span;
                    self.bump();
                    let value = self.or_expr()?;
                    // Kept in parentheses so printing `Name == (value)` reads back the same.
                    let value_span = value.span;
                    let value = Expr::new(ExprKind::Paren(Box::new(value)), value_span);
                    let left = Expr::new(ExprKind::Name(name), name_span);
                    let span = self.span_from(predicate_start);
                    Expr::new(ExprKind::Binary { op: BinaryOp::Eq, left: Box::new(left), right: Box::new(value) }, span)
                } else {
                    self.or_expr()?
                };
                OperatorKind::Where { predicate }
            }
            Some(W::Extend) => {
                self.bump();
                OperatorKind::Extend { columns: self.named_exprs()? }
            }
            Some(W::Project) => {
                self.bump();
                OperatorKind::Project { columns: self.named_exprs()? }
            }
            Some(W::ProjectAway) => {
                self.bump();
                OperatorKind::ProjectAway { columns: self.column_patterns()? }
            }
            Some(W::ProjectKeep) => {
                self.bump();
                OperatorKind::ProjectKeep { columns: self.column_patterns()? }
            }
            Some(W::ProjectRename) => {
                self.bump();
                let mut renames = Vec::new();
                loop {
                    let new = self.ident()?;
                    self.expect(TokenKind::Assign)?;
                    let old = self.or_expr()?;
                    renames.push((new, old));
                    if !self.eat(TokenKind::Comma) {
                        break;
                    }
                }
                OperatorKind::ProjectRename { renames }
            }
            Some(W::ProjectReorder) => {
                self.bump();
                let mut columns = Vec::new();
                loop {
                    let key_start = self.span();
                    let expr = self.column_pattern()?;
                    let order = self.sort_order();
                    columns.push(SortKey { expr, order, nulls: None, span: self.span_from(key_start) });
                    if !self.eat(TokenKind::Comma) {
                        break;
                    }
                }
                OperatorKind::ProjectReorder { columns }
            }
            Some(W::ProjectSmart) => {
                self.bump();
                OperatorKind::ProjectSmart
            }
            Some(W::ProjectByNames) => {
                self.bump();
                let mut columns = vec![self.or_expr()?];
                while self.eat(TokenKind::Comma) {
                    columns.push(self.or_expr()?);
                }
                OperatorKind::ProjectByNames { columns }
            }
            Some(W::Summarize) => {
                self.bump();
                let params = self.params(&[])?;
                let aggregates =
                    if self.at_word("by") || self.at_pipe_end() { Vec::new() } else { self.named_exprs()? };
                let by = if self.eat_word("by") { self.named_exprs()? } else { Vec::new() };
                OperatorKind::Summarize { params, aggregates, by }
            }
            Some(W::Join | W::Lookup) => {
                let is_join = keyword == Some(W::Join);
                self.bump();
                let params = self.params(&["kind", "withsource"])?;
                let right = self.table_operand()?;
                let on = if self.eat_word("on") {
                    let mut keys = vec![self.or_expr()?];
                    while self.eat(TokenKind::Comma) {
                        keys.push(self.or_expr()?);
                    }
                    keys
                } else if is_join {
                    return self.fail("'on' and the join keys");
                } else {
                    return self.fail("'on' and the lookup keys");
                };
                if is_join {
                    OperatorKind::Join { params, right, on }
                } else {
                    OperatorKind::Lookup { params, right, on }
                }
            }
            Some(W::Union) => {
                self.bump();
                let params = self.params(&["kind", "withsource", "isfuzzy"])?;
                let mut tables = vec![self.union_leg()?];
                while self.eat(TokenKind::Comma) {
                    tables.push(self.union_leg()?);
                }
                OperatorKind::Union { params, tables }
            }
            Some(W::MvExpand | W::MvExpandLegacy) => {
                let legacy_name = keyword == Some(W::MvExpandLegacy);
                self.bump();
                let params = self.params(&["bagexpansion", "with_itemindex", "kind"])?;
                let items = self.mv_items()?;
                let limit = if self.eat_word("limit") { Some(self.additive()?) } else { None };
                OperatorKind::MvExpand { params, items, limit, legacy_name }
            }
            Some(W::MvApply) => {
                self.bump();
                let params = self.params(&["with_itemindex", "kind", "bagexpansion"])?;
                let items = self.mv_items()?;
                let limit = if self.eat_word("limit") { Some(self.additive()?) } else { None };
                self.expect_word("on")?;
                let on = Box::new(self.paren_sub_pipeline()?);
                OperatorKind::MvApply { params, items, limit, on }
            }
            Some(W::Parse | W::ParseWhere) => {
                let is_where = keyword == Some(W::ParseWhere);
                self.bump();
                let params = self.params(&["kind", "flags"])?;
                let source = self.or_expr()?;
                self.expect_word("with")?;
                let pattern = self.parse_pattern()?;
                OperatorKind::Parse { is_where, params, source, pattern }
            }
            Some(W::ParseKv) => {
                self.bump();
                let source = self.or_expr()?;
                self.expect_word("as")?;
                let schema = self.tabular_schema()?;
                let options = if self.eat_word("with") { self.paren_params()? } else { Vec::new() };
                OperatorKind::ParseKv { source, columns: schema.columns, options }
            }
            Some(W::Evaluate) => {
                self.bump();
                let params = self.params(&[])?;
                let call = self.postfix()?;
                if !matches!(call.kind, ExprKind::Call { .. }) {
                    return self
                        .error_at(call.span, "expected a plugin call after 'evaluate', such as bag_unpack(Column)");
                }
                // Kusto's grammar takes an output schema after the call.
                let output = if self.eat(TokenKind::Colon) { Some(self.tabular_schema()?) } else { None };
                OperatorKind::Evaluate { params, call, output }
            }
            Some(W::MakeSeries) => {
                self.bump();
                OperatorKind::MakeSeries(self.make_series()?)
            }
            Some(W::Top) => {
                self.bump();
                let count = self.additive()?;
                self.expect_word("by")?;
                let by = self.sort_key()?;
                OperatorKind::Top { count, by }
            }
            Some(W::TopNested) => {
                let mut clauses = Vec::new();
                loop {
                    self.expect_word(W::TopNested.as_str())?;
                    clauses.push(self.top_nested_clause()?);
                    if !(self.at(TokenKind::Comma) && self.at_word_at(1, W::TopNested.as_str())) {
                        break;
                    }
                    self.bump();
                }
                OperatorKind::TopNested { clauses }
            }
            Some(W::TopHitters) => {
                self.bump();
                let count = self.additive()?;
                self.expect_word("of")?;
                let of = self.or_expr()?;
                let by = if self.eat_word("by") { Some(self.or_expr()?) } else { None };
                OperatorKind::TopHitters { count, of, by }
            }
            Some(W::Take | W::Limit) => {
                let keyword = if keyword == Some(W::Take) { TakeKeyword::Take } else { TakeKeyword::Limit };
                self.bump();
                let _ = self.params(&[])?;
                OperatorKind::Take { keyword, count: self.or_expr()? }
            }
            Some(W::Sort | W::Order) => {
                let keyword = if keyword == Some(W::Sort) { SortKeyword::Sort } else { SortKeyword::Order };
                self.bump();
                let params = self.params(&[])?;
                self.expect_word("by")?;
                let mut keys = vec![self.sort_key()?];
                while self.eat(TokenKind::Comma) {
                    keys.push(self.sort_key()?);
                }
                OperatorKind::Sort { keyword, params, keys }
            }
            Some(W::Distinct) => {
                self.bump();
                let params = self.params(&[])?;
                OperatorKind::Distinct { params, columns: self.named_exprs()? }
            }
            Some(W::Count) => {
                let start = self.bump().span;
                if self.eat_word("as") {
                    // `count as N` names the count column: the same as
                    // `summarize N = count()` (Microsoft's binder gives `N: long`).
                    let name = self.ident()?;
                    let func = Ident::new("count", start);
                    let expr = Expr::new(ExprKind::Call { func, args: Vec::new() }, start);
                    let span = self.span_from(start);
                    let item = NamedExpr { names: vec![name], tuple: false, expr, span };
                    OperatorKind::Summarize { params: Vec::new(), aggregates: vec![item], by: Vec::new() }
                } else {
                    OperatorKind::Count
                }
            }
            Some(W::As) => {
                self.bump();
                let params = self.params(&[])?;
                OperatorKind::As { params, name: self.ident()? }
            }
            Some(W::Serialize) => {
                self.bump();
                let columns = if self.at_pipe_end() { Vec::new() } else { self.named_exprs()? };
                OperatorKind::Serialize { columns }
            }
            Some(W::Render) => {
                self.bump();
                let chart = self.ident()?;
                let mut properties = Vec::new();
                while self.kind() == TokenKind::Ident
                    && RENDER_BARE_PROPERTIES.contains(&self.text())
                    && self.kind_at(1) == TokenKind::Assign
                {
                    let start = self.span();
                    let name = self.bump();
                    self.bump();
                    let value = RenderValue::Expr(self.param_value()?);
                    properties.push(RenderProperty {
                        name: self.text_of(name).to_string(),
                        value,
                        span: self.span_from(start),
                    });
                }
                if self.eat_word("with") {
                    self.expect(TokenKind::LParen)?;
                    if !self.at(TokenKind::RParen) {
                        loop {
                            properties.push(self.render_property()?);
                            if !self.eat(TokenKind::Comma) {
                                break;
                            }
                        }
                    }
                    self.expect(TokenKind::RParen)?;
                }
                OperatorKind::Render { chart, properties }
            }
            Some(W::Sample) => {
                self.bump();
                let _ = self.params(&[])?;
                OperatorKind::Sample { count: self.or_expr()? }
            }
            Some(W::SampleDistinct) => {
                self.bump();
                let _ = self.params(&[])?;
                let count = self.additive()?;
                self.expect_word("of")?;
                OperatorKind::SampleDistinct { count, of: self.or_expr()? }
            }
            Some(W::GetSchema) => {
                self.bump();
                OperatorKind::GetSchema
            }
            Some(W::Partition) => {
                self.bump();
                let params = self.params(&[])?;
                self.expect_word("by")?;
                let by = self.ident()?;
                let params = if params.is_empty() { self.params(&[])? } else { params };
                if self.at(TokenKind::LBrace) {
                    self.bump();
                    let body = self.sub_pipeline(TokenKind::RBrace)?;
                    self.expect(TokenKind::RBrace)?;
                    OperatorKind::Partition { params, by, body: Box::new(body), braces: true }
                } else {
                    let body = self.paren_sub_pipeline()?;
                    OperatorKind::Partition { params, by, body: Box::new(body), braces: false }
                }
            }
            Some(W::Facet) => {
                self.bump();
                self.expect_word("by")?;
                let mut by = vec![self.ident()?];
                while self.eat(TokenKind::Comma) {
                    by.push(self.ident()?);
                }
                let with = if self.eat_word("with") { Some(Box::new(self.paren_sub_pipeline()?)) } else { None };
                OperatorKind::Facet { by, with }
            }
            Some(W::Invoke) => {
                self.bump();
                let call = self.postfix()?;
                if !matches!(call.kind, ExprKind::Call { .. }) {
                    return self.error_at(call.span, "expected a function call after 'invoke'");
                }
                OperatorKind::Invoke { call }
            }
            Some(W::Fork) => {
                self.bump();
                let mut branches = Vec::new();
                loop {
                    let name = if self.kind() == TokenKind::Ident && self.kind_at(1) == TokenKind::Assign {
                        let n = self.ident()?;
                        self.bump();
                        Some(n)
                    } else {
                        None
                    };
                    if name.is_none() && !self.at(TokenKind::LParen) {
                        break;
                    }
                    let body = self.paren_sub_pipeline()?;
                    branches.push(ForkBranch { name, body });
                }
                if branches.is_empty() {
                    return self.fail("'(' and a sub-query after 'fork'");
                }
                OperatorKind::Fork { branches }
            }
            Some(W::Reduce) => {
                self.bump();
                let params = self.params(&["kind"])?;
                self.expect_word("by")?;
                let by = self.or_expr()?;
                let with = if self.eat_word("with") { self.bare_params()? } else { Vec::new() };
                OperatorKind::Reduce { params, by, with }
            }
            Some(W::Consume) => {
                self.bump();
                OperatorKind::Consume { params: self.params(&["decodeblocks"])? }
            }
            Some(W::Print) => {
                self.bump();
                OperatorKind::Print { columns: self.named_exprs()? }
            }
            Some(W::Range) => {
                self.bump();
                let column = self.ident()?;
                self.expect_word("from")?;
                let from = self.or_expr()?;
                self.expect_word("to")?;
                let to = self.or_expr()?;
                self.expect_word("step")?;
                let step = self.or_expr()?;
                OperatorKind::Range { column, from, to, step }
            }
            Some(W::Datatable) => {
                self.bump();
                let _ = self.params(&[])?;
                let schema = self.tabular_schema_with(SchemaCommas::LeadingAndTrailing)?;
                // Kusto takes one comma before the first value too (rows
                // written `[ , "a", 1 , "b", 2 ]`, as in ASIM parsers).
                let values = self.bracket_list_with(true)?;
                OperatorKind::Datatable { schema, values }
            }
            Some(W::ExternalData | W::ExternalDataUnderscore) => {
                self.bump();
                let _ = self.params(&[])?;
                let schema = self.tabular_schema_with(SchemaCommas::LeadingAndTrailing)?;
                let uris = self.bracket_list()?;
                let options = if self.eat_word("with") { self.paren_params()? } else { Vec::new() };
                OperatorKind::ExternalData { schema, uris, options }
            }
            Some(W::Find) => {
                self.bump();
                let params = self.params(&["withsource", "kind", "datascope"])?;
                let tables = if self.eat_word("in") { Some(self.paren_table_list()?) } else { None };
                self.expect_word("where")?;
                let predicate = self.or_expr()?;
                let project = if self.eat_word(W::ProjectSmart.as_str()) {
                    Some(FindProject::Smart)
                } else if self.eat_word(W::Project.as_str()) {
                    Some(FindProject::Columns(self.column_patterns()?))
                } else {
                    None
                };
                OperatorKind::Find { params, tables, predicate, project }
            }
            Some(W::Search) => {
                self.bump();
                let params = self.params(&["kind", "withsource"])?;
                let tables = if self.at_word("in") && self.kind_at(1) == TokenKind::LParen {
                    self.bump();
                    Some(self.paren_table_list()?)
                } else {
                    None
                };
                let predicate = self.or_expr()?;
                OperatorKind::Search { params, tables, predicate }
            }
            Some(W::Scan) => {
                self.bump();
                let params = self.params(&["with_match_id"])?;
                let declare = if self.eat_word("declare") { self.param_list()? } else { Vec::new() };
                self.expect_word("with")?;
                self.expect(TokenKind::LParen)?;
                let mut steps = Vec::new();
                while self.at_word("step") {
                    steps.push(self.scan_step()?);
                }
                if !self.at(TokenKind::RParen) {
                    return self.fail("'step' or ')'");
                }
                self.bump();
                OperatorKind::Scan { params, declare, steps }
            }
            Some(W::MakeGraph) => {
                self.bump();
                OperatorKind::MakeGraph(self.make_graph()?)
            }
            Some(W::GraphMatch | W::GraphShortestPaths) => {
                let shortest_paths = keyword == Some(W::GraphShortestPaths);
                self.bump();
                OperatorKind::GraphMatch(self.graph_match(shortest_paths)?)
            }
            Some(W::GraphToTable) => {
                self.bump();
                let mut outputs = vec![self.graph_table_output()?];
                while self.eat(TokenKind::Comma) {
                    outputs.push(self.graph_table_output()?);
                }
                OperatorKind::GraphToTable { outputs }
            }
            Some(W::GraphMarkComponents) => {
                self.bump();
                OperatorKind::GraphMarkComponents { params: self.known_params(&["kind", "with_component_id"])? }
            }
            None | Some(W::GraphMerge | W::PartitionBy | W::ExecuteAndCache) => {
                let operator_words = OperatorKeyword::ALL.iter().filter(|k| k.follows_pipe()).map(|k| k.as_str());
                let message = match suggest(word, operator_words, MaxDistance::Keyword) {
                    Some(s) => format!("unknown tabular operator '{word}'; did you mean '{s}'?"),
                    None => format!(
                        "expected a tabular operator (where, extend, project, summarize, join, …), found '{word}'"
                    ),
                };
                let span = self.span();
                return self.error_at(span, message);
            }
        };
        Ok(Operator { kind, span: self.span_from(start) })
    }

    // ----- graph operators ----------------------------------------------

    /// After `make-graph`: `Source --> Target [with Nodes on Key, … |
    /// with_node_id=Name] [partitioned-by Column (operators)]`.
    fn make_graph(&mut self) -> PResult<MakeGraph> {
        let source = self.ident()?;
        let directed = if self.at_adjacent(&[TokenKind::Minus, TokenKind::Minus, TokenKind::Gt]) {
            self.pos += 3;
            true
        } else if self.at_adjacent(&[TokenKind::Minus, TokenKind::Minus]) {
            self.pos += 2;
            false
        } else {
            return self.fail("'-->' or '--' between the source and target columns");
        };
        let target = self.ident()?;
        let mut nodes = Vec::new();
        let mut node_id = None;
        if self.at_word("with_node_id") && self.kind_at(1) == TokenKind::Assign {
            self.pos += 2;
            node_id = Some(self.ident()?);
        } else if self.eat_word("with") {
            loop {
                let start = self.span();
                let table = self.table_operand()?;
                self.expect_word("on")?;
                let key = self.ident()?;
                nodes.push(GraphNodesTable { table, key, span: self.span_from(start) });
                if !self.eat(TokenKind::Comma) {
                    break;
                }
            }
        }
        let partitioned_by = if self.at_word("partitioned")
            && self.tok_at(1).kind == TokenKind::Minus
            && !self.tok_at(1).space_before
            && self.at_word_at(2, "by")
            && !self.tok_at(2).space_before
        {
            let start = self.span();
            self.pos += 3;
            let column = self.ident()?;
            let body = Box::new(self.paren_sub_pipeline()?);
            Some(GraphPartition { column, body, span: self.span_from(start) })
        } else {
            None
        };
        Ok(MakeGraph { source, directed, target, nodes, node_id, partitioned_by })
    }

    /// Whether the next tokens are `kinds`, written with no space between them
    /// (Kusto lexes `-->`, `-[` and `]->` as single tokens).
    fn at_adjacent(&self, kinds: &[TokenKind]) -> bool {
        kinds.iter().enumerate().all(|(i, kind)| {
            let t = self.tok_at(i);
            t.kind == *kind && (i == 0 || !t.space_before)
        })
    }

    /// After `graph-match` or `graph-shortest-paths`: parameters, patterns,
    /// then optional `where` and `project` clauses.
    fn graph_match(&mut self, shortest_paths: bool) -> PResult<GraphMatch> {
        let params = self.known_params(&[if shortest_paths { "output" } else { "cycles" }])?;
        let mut patterns = vec![self.graph_pattern()?];
        while self.eat(TokenKind::Comma) {
            patterns.push(self.graph_pattern()?);
        }
        let predicate = if self.eat_word(OperatorKeyword::Where.as_str()) { Some(self.or_expr()?) } else { None };
        let project = if self.eat_word(OperatorKeyword::Project.as_str()) { self.named_exprs()? } else { Vec::new() };
        Ok(GraphMatch { shortest_paths, params, patterns, predicate, project })
    }

    /// `(a)-[e]->(b)…`: a node, then edges each followed by a node.
    fn graph_pattern(&mut self) -> PResult<GraphPattern> {
        let start_span = self.span();
        let start = self.graph_node()?;
        let mut steps = Vec::new();
        while self.at(TokenKind::Minus) || self.at_adjacent(&[TokenKind::Lt, TokenKind::Minus]) {
            let edge = self.graph_edge()?;
            steps.push((edge, self.graph_node()?));
        }
        Ok(GraphPattern { start, steps, span: self.span_from(start_span) })
    }

    /// `(name)` or `()`.
    fn graph_node(&mut self) -> PResult<GraphNode> {
        let start = self.expect(TokenKind::LParen)?.span;
        let name = if self.at(TokenKind::RParen) { None } else { Some(self.ident()?) };
        self.expect(TokenKind::RParen)?;
        Ok(GraphNode { name, span: self.span_from(start) })
    }

    /// `-[name*low..high]->` and the other edge forms of [`GraphEdge`].
    fn graph_edge(&mut self) -> PResult<GraphEdge> {
        let start = self.span();
        let backward = self.at_adjacent(&[TokenKind::Lt, TokenKind::Minus]);
        if backward {
            self.bump();
        }
        if self.at_adjacent(&[TokenKind::Minus, TokenKind::Minus]) {
            // `--`, `-->`, `<--`; `<-->` is no edge in Kusto's grammar.
            self.pos += 2;
            let forward = !backward && self.at_adjacent(&[TokenKind::Gt]) && !self.tok().space_before;
            if forward {
                self.bump();
            }
            let direction = match (backward, forward) {
                (true, _) => EdgeDirection::Backward,
                (false, true) => EdgeDirection::Forward,
                (false, false) => EdgeDirection::Any,
            };
            return Ok(GraphEdge { direction, name: None, range: None, span: self.span_from(start) });
        }
        if !self.at_adjacent(&[TokenKind::Minus, TokenKind::LBracket]) {
            return self.fail("an edge: '-[', '-->', '--' or '<--'");
        }
        self.pos += 2;
        let name = if self.name_len(0) > 0 { Some(self.ident()?) } else { None };
        let range = if self.eat(TokenKind::Star) {
            let low = self.unary()?;
            self.expect(TokenKind::DotDot)?;
            let high = self.unary()?;
            Some((low, high))
        } else {
            None
        };
        if !self.at_adjacent(&[TokenKind::RBracket, TokenKind::Minus]) {
            return self.fail("']->' or ']-' closing the edge");
        }
        self.pos += 2;
        let forward = self.at_adjacent(&[TokenKind::Gt]) && !self.tok().space_before;
        if forward {
            self.bump();
        }
        let direction = match (backward, forward) {
            (false, false) => EdgeDirection::Any,
            (false, true) => EdgeDirection::Forward,
            (true, false) => EdgeDirection::Backward,
            (true, true) => EdgeDirection::Both,
        };
        Ok(GraphEdge { direction, name, range, span: self.span_from(start) })
    }

    /// `nodes [as Name] [with_node_id=…]` or `edges [as Name] [with_source_id=…]
    /// [with_target_id=…]` in `graph-to-table`.
    fn graph_table_output(&mut self) -> PResult<GraphTableOutput> {
        let start = self.span();
        let (elements, known): (_, &[&str]) = if self.eat_word("nodes") {
            (GraphElements::Nodes, &["with_node_id"])
        } else if self.eat_word("edges") {
            (GraphElements::Edges, &["with_source_id", "with_target_id"])
        } else {
            return self.fail("'nodes' or 'edges'");
        };
        let name = if self.eat_word("as") { Some(self.declared_ident()?) } else { None };
        let params = self.known_params(known)?;
        Ok(GraphTableOutput { elements, name, params, span: self.span_from(start) })
    }

    /// `name = value` in `render … with (…)`; the column-list properties take
    /// names separated by commas, up to the next `name =`.
    fn render_property(&mut self) -> PResult<RenderProperty> {
        let start = self.span();
        let is_property = self.kind() == TokenKind::Ident && RENDER_PROPERTIES.contains(&self.text());
        if !is_property || self.kind_at(1) != TokenKind::Assign {
            return self.fail("a render property (title, xcolumn, ycolumns, series, kind, …) and '='");
        }
        let name_token = self.bump();
        let name = self.text_of(name_token).to_string();
        self.bump();
        let value = if RENDER_COLUMN_LISTS.contains(&name.as_str()) {
            let mut columns = vec![self.ident()?];
            while self.at(TokenKind::Comma) && self.kind_at(2) != TokenKind::Assign {
                self.bump();
                columns.push(self.ident()?);
            }
            RenderValue::Columns(columns)
        } else {
            RenderValue::Expr(self.or_expr()?)
        };
        Ok(RenderProperty { name, value, span: self.span_from(start) })
    }

    /// `step Name [output=…]: condition [=> Col = expr, …];`
    fn scan_step(&mut self) -> PResult<ScanStep> {
        let start = self.expect_word("step")?.span;
        let name = self.declared_ident()?;
        let output = if self.at_word("output") && self.kind_at(1) == TokenKind::Assign {
            self.bump();
            self.bump();
            // `all`, `last` or `none`; `last` is otherwise a keyword.
            let value = self.expect(TokenKind::Ident)?;
            Some(Ident::new(self.text_of(value), value.span))
        } else {
            None
        };
        self.expect(TokenKind::Colon)?;
        let condition = self.or_expr()?;
        let mut assignments = Vec::new();
        if self.eat(TokenKind::FatArrow) {
            loop {
                let column = self.declared_ident()?;
                self.expect(TokenKind::Assign)?;
                assignments.push((column, self.or_expr()?));
                if !self.eat(TokenKind::Comma) {
                    break;
                }
            }
        }
        if !self.eat(TokenKind::Semicolon) {
            return self.fail("';' after the scan step");
        }
        Ok(ScanStep { name, output, condition, assignments, span: self.span_from(start) })
    }

    /// `name=value` operator parameters: any `hint.*`, plus the names in `known`.
    fn params(&mut self, known: &[&str]) -> PResult<Vec<OperatorParam>> {
        self.params_with(known, true)
    }

    /// `name=value` operator parameters named in `known` only: the graph
    /// operators take no `hint.*`.
    fn known_params(&mut self, known: &[&str]) -> PResult<Vec<OperatorParam>> {
        self.params_with(known, false)
    }

    fn params_with(&mut self, known: &[&str], hints: bool) -> PResult<Vec<OperatorParam>> {
        let mut params = Vec::new();
        loop {
            if self.kind() != TokenKind::Ident {
                break;
            }
            let word = self.text();
            let is_hint = hints && word == "hint" && self.kind_at(1) == TokenKind::Dot;
            let is_known = known.contains(&word) && self.kind_at(1) == TokenKind::Assign;
            if !is_hint && !is_known {
                break;
            }
            let start = self.span();
            let name = self.dotted_name()?;
            self.expect(TokenKind::Assign)?;
            let value = self.param_value()?;
            params.push(OperatorParam { name, value, span: self.span_from(start) });
        }
        Ok(params)
    }

    /// `with (name = value, …)`
    fn paren_params(&mut self) -> PResult<Vec<OperatorParam>> {
        self.expect(TokenKind::LParen)?;
        let mut params = Vec::new();
        if !self.at(TokenKind::RParen) {
            params = self.bare_params()?;
        }
        self.expect(TokenKind::RParen)?;
        Ok(params)
    }

    /// `name = value, name = value`
    fn bare_params(&mut self) -> PResult<Vec<OperatorParam>> {
        let mut params = Vec::new();
        loop {
            let start = self.span();
            let name = self.dotted_name()?;
            self.expect(TokenKind::Assign)?;
            let value = self.or_expr()?;
            params.push(OperatorParam { name, value, span: self.span_from(start) });
            if !(self.at(TokenKind::Comma)
                && self.kind_at(1) == TokenKind::Ident
                && self.kind_at(2) == TokenKind::Assign)
            {
                break;
            }
            self.bump();
        }
        Ok(params)
    }

    /// A parameter value: one name or literal token.
    fn param_value(&mut self) -> PResult<Expr> {
        match self.kind() {
            TokenKind::Ident => {
                let word = self.text();
                if matches!(word, "true" | "false" | "True" | "False" | "TRUE" | "FALSE") {
                    return self.primary();
                }
                if is_reserved(word) {
                    return self.fail("a parameter value");
                }
                let t = self.bump();
                Ok(Expr::new(ExprKind::Name(Ident::new(self.text_of(t), t.span)), t.span))
            }
            TokenKind::LBracket if self.name_len(0) == 3 => {
                let id = self.ident()?;
                let span = id.span;
                Ok(Expr::new(ExprKind::Name(id), span))
            }
            TokenKind::String | TokenKind::Long | TokenKind::Real | TokenKind::Timespan | TokenKind::TypedLiteral => {
                self.primary()
            }
            TokenKind::Minus => self.unary(),
            _ => self.fail("a parameter value"),
        }
    }

    /// The right side of `join`/`lookup`: `(subquery)` or a table reference.
    fn table_operand(&mut self) -> PResult<Expr> {
        match self.kind() {
            TokenKind::LParen | TokenKind::Ident => self.postfix(),
            TokenKind::LBracket if self.name_len(0) == 3 => self.postfix(),
            _ => self.fail("a table or '(' subquery"),
        }
    }

    /// One `union` leg: a table, a wildcard pattern, a call or `(subquery)`.
    fn union_leg(&mut self) -> PResult<Expr> {
        if let Some(pattern) = self.name_pattern() {
            return Ok(pattern);
        }
        self.table_operand()
    }

    /// `Name*`, `*Name`, `*`: adjacent words and stars with at least one star.
    fn name_pattern(&mut self) -> Option<Expr> {
        let start = self.pos;
        let mut end = start;
        let mut has_star = false;
        while end < self.tokens.len() {
            let t = self.tokens[end];
            let adjacent = end == start || !t.space_before;
            if !adjacent {
                break;
            }
            match t.kind {
                TokenKind::Star => has_star = true,
                TokenKind::Ident => {}
                _ => break,
            }
            end += 1;
        }
        if !has_star || end == start {
            return None;
        }
        // `a * b` is arithmetic; patterns have no gaps, which we checked.
        let span = Span { start: self.tokens[start].span.start, end: self.tokens[end - 1].span.end };
        self.pos = end;
        Some(Expr::new(ExprKind::NamePattern(self.src[span.range()].to_string()), span))
    }

    /// `in (T1, T2*)` for `find` and `search`.
    fn paren_table_list(&mut self) -> PResult<Vec<Expr>> {
        self.expect(TokenKind::LParen)?;
        let mut tables = vec![self.union_leg()?];
        while self.eat(TokenKind::Comma) {
            tables.push(self.union_leg()?);
        }
        self.expect(TokenKind::RParen)?;
        Ok(tables)
    }

    fn column_patterns(&mut self) -> PResult<Vec<Expr>> {
        if self.at_pipe_end() {
            return Ok(Vec::new());
        }
        let mut columns = vec![self.column_pattern()?];
        while self.eat(TokenKind::Comma) {
            columns.push(self.column_pattern()?);
        }
        Ok(columns)
    }

    fn column_pattern(&mut self) -> PResult<Expr> {
        if let Some(p) = self.name_pattern() {
            return Ok(p);
        }
        let id = self.ident()?;
        let span = id.span;
        Ok(Expr::new(ExprKind::Name(id), span))
    }

    /// `[ a, b, … ]`
    fn bracket_list(&mut self) -> PResult<Vec<Expr>> {
        self.bracket_list_with(false)
    }

    /// `[a, b,]`; with `leading_comma`, also `[, a, b]`.
    fn bracket_list_with(&mut self, leading_comma: bool) -> PResult<Vec<Expr>> {
        self.expect(TokenKind::LBracket)?;
        if leading_comma {
            self.eat(TokenKind::Comma);
        }
        let mut values = Vec::new();
        if !self.at(TokenKind::RBracket) {
            loop {
                values.push(self.or_expr()?);
                if !self.eat(TokenKind::Comma) || self.at(TokenKind::RBracket) {
                    break;
                }
            }
        }
        self.expect(TokenKind::RBracket)?;
        Ok(values)
    }

    fn mv_items(&mut self) -> PResult<Vec<MvExpandItem>> {
        let mut items = Vec::new();
        loop {
            let column = self.named_expr()?;
            let to_type = if self.eat_word("to") {
                self.expect_word("typeof")?;
                self.expect(TokenKind::LParen)?;
                let ty = self.type_name()?;
                self.expect(TokenKind::RParen)?;
                Some(ty)
            } else {
                None
            };
            items.push(MvExpandItem { column, to_type });
            if !self.eat(TokenKind::Comma) {
                break;
            }
        }
        Ok(items)
    }

    /// The pattern after `parse … with`: strings, `*` and `Column[: type]`.
    fn parse_pattern(&mut self) -> PResult<Vec<ParsePart>> {
        let mut parts = Vec::new();
        loop {
            match self.kind() {
                TokenKind::String => {
                    let t = self.bump();
                    let raw = self.text_of(t);
                    parts.push(ParsePart::Text(Literal::String {
                        value: decode_string(raw),
                        obfuscated: is_obfuscated_string(raw),
                    }));
                }
                TokenKind::Star => {
                    self.bump();
                    parts.push(ParsePart::Star);
                }
                // `and` and `or` are no column names here, as in Microsoft's parser.
                TokenKind::Ident if !matches!(self.text(), "and" | "or") => {
                    let t = self.bump();
                    let name = Ident::new(self.text_of(t), t.span);
                    let ty = if self.eat(TokenKind::Colon) { Some(self.type_name()?) } else { None };
                    parts.push(ParsePart::Column { name, ty });
                }
                TokenKind::LBracket if self.name_len(0) > 0 => {
                    let name = self.ident()?;
                    let ty = if self.eat(TokenKind::Colon) { Some(self.type_name()?) } else { None };
                    parts.push(ParsePart::Column { name, ty });
                }
                _ => break,
            }
        }
        if parts.is_empty() {
            return self.fail("a parse pattern (strings, '*' and column names)");
        }
        Ok(parts)
    }

    fn make_series(&mut self) -> PResult<MakeSeries> {
        let params = self.params(&["kind"])?;
        let mut aggregates = Vec::new();
        loop {
            let column = self.named_expr()?;
            let default = if self.at_word("default") && self.kind_at(1) == TokenKind::Assign {
                self.bump();
                self.bump();
                Some(self.or_expr()?)
            } else {
                None
            };
            aggregates.push(MakeSeriesAggregate { column, default });
            if !self.eat(TokenKind::Comma) {
                break;
            }
        }
        self.expect_word("on")?;
        // The axis stops before `in range(…)`, so no comparison here.
        let on = self.additive()?;
        let range = if self.at_word("in") && self.at_word_at(1, "range") {
            self.bump();
            self.bump();
            self.expect(TokenKind::LParen)?;
            let start = self.or_expr()?;
            self.expect(TokenKind::Comma)?;
            let stop = self.or_expr()?;
            self.expect(TokenKind::Comma)?;
            let step = self.or_expr()?;
            self.expect(TokenKind::RParen)?;
            MakeSeriesRange::InRange { start, stop, step }
        } else {
            let from = if self.eat_word("from") { Some(self.or_expr()?) } else { None };
            let to = if self.eat_word("to") { Some(self.or_expr()?) } else { None };
            self.expect_word("step")?;
            let step = self.or_expr()?;
            MakeSeriesRange::FromTo { from, to, step }
        };
        let by = if self.eat_word("by") { self.named_exprs()? } else { Vec::new() };
        Ok(MakeSeries { params, aggregates, on, range, by })
    }

    fn top_nested_clause(&mut self) -> PResult<TopNestedClause> {
        let count = if self.at_word("of") { None } else { Some(self.additive()?) };
        self.expect_word("of")?;
        let of = self.named_expr()?;
        let others = if self.at_word("with") {
            self.bump();
            self.expect_word("others")?;
            self.expect(TokenKind::Assign)?;
            Some(self.or_expr()?)
        } else {
            None
        };
        let by = if self.eat_word("by") {
            let column = self.named_expr()?;
            let order = self.sort_order();
            Some(SortKeyNamed { column, order })
        } else {
            None
        };
        Ok(TopNestedClause { count, of, others, by })
    }

    fn sort_order(&mut self) -> Option<SortOrder> {
        if self.eat_word("asc") {
            Some(SortOrder::Asc)
        } else if self.eat_word("desc") {
            Some(SortOrder::Desc)
        } else {
            None
        }
    }

    fn sort_key(&mut self) -> PResult<SortKey> {
        let start = self.span();
        let expr = self.or_expr()?;
        let order = self.sort_order();
        let nulls = if self.eat_word("nulls") {
            if self.eat_word("first") {
                Some(NullsOrder::First)
            } else if self.eat_word("last") {
                Some(NullsOrder::Last)
            } else {
                return self.fail("'first' or 'last' after 'nulls'");
            }
        } else {
            None
        };
        Ok(SortKey { expr, order, nulls, span: self.span_from(start) })
    }

    fn named_exprs(&mut self) -> PResult<Vec<NamedExpr>> {
        let mut items = vec![self.named_expr()?];
        while self.eat(TokenKind::Comma) {
            items.push(self.named_expr()?);
        }
        Ok(items)
    }

    /// `expr`, `Name = expr` or `(A, B) = expr`.
    fn named_expr(&mut self) -> PResult<NamedExpr> {
        let start = self.span();
        let n = self.declared_name_len(0);
        if n > 0 && self.kind_at(n) == TokenKind::Assign {
            let name = self.declared_ident()?;
            self.bump();
            let expr = self.or_expr()?;
            return Ok(NamedExpr { names: vec![name], tuple: false, expr, span: self.span_from(start) });
        }
        if self.at(TokenKind::LParen) {
            let is_tuple = self
                .matching_close(self.pos)
                .is_some_and(|close| self.tokens.get(close + 1).is_some_and(|t| t.kind == TokenKind::Assign));
            if is_tuple {
                self.bump();
                let mut names = vec![self.declared_ident()?];
                while self.eat(TokenKind::Comma) {
                    names.push(self.declared_ident()?);
                }
                self.expect(TokenKind::RParen)?;
                self.expect(TokenKind::Assign)?;
                let expr = self.or_expr()?;
                return Ok(NamedExpr { names, tuple: true, expr, span: self.span_from(start) });
            }
        }
        let expr = self.or_expr()?;
        Ok(NamedExpr { names: Vec::new(), tuple: false, expr, span: self.span_from(start) })
    }

    // ----- scalar expressions -------------------------------------------

    fn binary(&self, op: BinaryOp, left: Expr, right: Expr) -> Expr {
        let span = left.span.to(right.span);
        Expr::new(ExprKind::Binary { op, left: Box::new(left), right: Box::new(right) }, span)
    }

    fn or_expr(&mut self) -> PResult<Expr> {
        self.left_chain(|p| p.eat_word("or").then_some(BinaryOp::Or), Self::and_expr)
    }

    fn and_expr(&mut self) -> PResult<Expr> {
        self.left_chain(|p| p.eat_word("and").then_some(BinaryOp::And), Self::comparison)
    }

    /// `operand (op operand)*`, left-associative. Each link deepens the tree,
    /// so links count against [`MAX_TREE_DEPTH`].
    fn left_chain(
        &mut self,
        mut eat_op: impl FnMut(&mut Self) -> Option<BinaryOp>,
        operand: fn(&mut Self) -> PResult<Expr>,
    ) -> PResult<Expr> {
        let mut links = 0;
        let result = (|| {
            let mut left = operand(self)?;
            while let Some(op) = eat_op(self) {
                self.grow()?;
                links += 1;
                let right = operand(self)?;
                left = self.binary(op, left, right);
            }
            Ok(left)
        })();
        self.tree_depth -= links;
        result
    }

    /// Equality level, loosest of the comparisons: `==`, `!=`, `in`,
    /// `has_any`, `between`. Comparisons do not chain at one level
    /// (`a == b == c` is an error in Kusto) but nest across levels
    /// (`a < b == true`), as Microsoft's parser reads them.
    fn comparison(&mut self) -> PResult<Expr> {
        let left = self.relational()?;
        let op = match self.kind() {
            TokenKind::EqEq => BinaryOp::Eq,
            TokenKind::NotEq | TokenKind::LtGt => BinaryOp::NotEq,
            _ => {
                return match self.word_operator() {
                    Some(WordOp::List(op, tokens)) => {
                        self.pos += tokens;
                        let items = self.list_operand(op)?;
                        let span = Span { start: left.span.start, end: self.prev_end() };
                        Ok(Expr::new(ExprKind::InList { op, target: Box::new(left), items }, span))
                    }
                    Some(WordOp::Between(negated, tokens)) => {
                        self.pos += tokens;
                        self.expect(TokenKind::LParen)?;
                        let low = self.relational()?;
                        self.expect(TokenKind::DotDot)?;
                        let high = self.relational()?;
                        self.expect(TokenKind::RParen)?;
                        let span = Span { start: left.span.start, end: self.prev_end() };
                        let kind = ExprKind::Between {
                            negated,
                            target: Box::new(left),
                            low: Box::new(low),
                            high: Box::new(high),
                        };
                        Ok(Expr::new(kind, span))
                    }
                    _ => Ok(left),
                };
            }
        };
        self.bump();
        let right = self.relational()?;
        Ok(self.binary(op, left, right))
    }

    /// `<`, `<=`, `>`, `>=`.
    fn relational(&mut self) -> PResult<Expr> {
        let left = self.string_comparison()?;
        let op = match self.kind() {
            TokenKind::Lt => BinaryOp::Lt,
            TokenKind::Le => BinaryOp::Le,
            TokenKind::Gt => BinaryOp::Gt,
            TokenKind::Ge => BinaryOp::Ge,
            _ => return Ok(left),
        };
        self.bump();
        let right = self.string_comparison()?;
        Ok(self.binary(op, left, right))
    }

    /// `=~`, `!~`, `has`, `contains`, `startswith`, `matches regex`, … and
    /// `search`'s `Column: "term"`.
    fn string_comparison(&mut self) -> PResult<Expr> {
        let left = self.additive()?;
        let op = match self.kind() {
            TokenKind::EqTilde => BinaryOp::EqCi,
            TokenKind::BangTilde => BinaryOp::NotEqCi,
            TokenKind::Colon => BinaryOp::SearchColon,
            _ => match self.word_operator() {
                Some(WordOp::Str(op, tokens)) => {
                    self.pos += tokens;
                    let right = self.additive()?;
                    return Ok(self.binary(BinaryOp::Str(op), left, right));
                }
                _ => return Ok(left),
            },
        };
        self.bump();
        let right = self.additive()?;
        Ok(self.binary(op, left, right))
    }

    /// Recognises a word operator at the current position (`has`, `!in~`,
    /// `matches regex`, …) and how many tokens it spans.
    fn word_operator(&self) -> Option<WordOp> {
        let (negated, first) = match self.kind() {
            TokenKind::Bang if self.kind_at(1) == TokenKind::Ident && !self.tok_at(1).space_before => (true, 1),
            TokenKind::Ident => (false, 0),
            _ => return None,
        };
        let word = self.text_of(self.tok_at(first));
        let tilde = self.kind_at(first + 1) == TokenKind::Tilde && !self.tok_at(first + 1).space_before;
        match word {
            "in" if tilde => Some(WordOp::List(if negated { ListOp::NotInCi } else { ListOp::InCi }, first + 2)),
            "in" => Some(WordOp::List(if negated { ListOp::NotIn } else { ListOp::In }, first + 1)),
            "between" => Some(WordOp::Between(negated, first + 1)),
            "has_any" if !negated => Some(WordOp::List(ListOp::HasAny, 1)),
            "has_all" if !negated => Some(WordOp::List(ListOp::HasAll, 1)),
            "like" | "notlike" | "likecs" | "notlikecs" if !negated => Some(WordOp::Str(
                StringOp {
                    kind: StringOpKind::Like,
                    negated: word.starts_with("not"),
                    case_sensitive: word.ends_with("cs"),
                },
                1,
            )),
            "matches" if !negated && self.at_word_at(1, "regex") => Some(WordOp::Str(
                StringOp { kind: StringOpKind::MatchesRegex, negated: false, case_sensitive: true },
                2,
            )),
            _ => {
                // Kusto's legacy spellings: `notcontains`, `notcontainscs`, `containscs`.
                let (word, negated) = match word.strip_prefix("not") {
                    Some(rest @ ("contains" | "containscs")) if !negated => (rest, true),
                    _ => (word, negated),
                };
                let (base, case_sensitive) = match word.strip_suffix("_cs") {
                    Some(b) => (b, true),
                    None if word == "containscs" => ("contains", true),
                    None => (word, false),
                };
                let kind = match base {
                    "has" => StringOpKind::Has,
                    "hasprefix" => StringOpKind::HasPrefix,
                    "hassuffix" => StringOpKind::HasSuffix,
                    "contains" => StringOpKind::Contains,
                    "startswith" => StringOpKind::StartsWith,
                    "endswith" => StringOpKind::EndsWith,
                    _ => return None,
                };
                Some(WordOp::Str(StringOp { kind, negated, case_sensitive }, first + 1))
            }
        }
    }

    /// The right side of `in`, `has_any` and friends: `(a, b, …)`, a
    /// tabular subquery in parentheses, or a dynamic array.
    fn list_operand(&mut self, op: ListOp) -> PResult<Vec<Expr>> {
        if !self.at(TokenKind::LParen) {
            // `x in dynamicList` is accepted by Kusto for names and dynamic literals.
            return self.fail(&format!("'(' and a list after '{}'", op.keyword()));
        }
        self.bump();
        let mut items = Vec::new();
        loop {
            if self.kind() == TokenKind::Ident && !follows_pipe_as_source(self.text()) && follows_pipe(self.text()) {
                // Kusto takes `x in (T | where …)`, not `x in (where …)`.
                return self.fail("a list item or a (subquery) with a source");
            }
            items.push(self.pipe_expr()?);
            if !self.eat(TokenKind::Comma) {
                break;
            }
        }
        self.expect(TokenKind::RParen)?;
        Ok(items)
    }

    fn additive(&mut self) -> PResult<Expr> {
        self.left_chain(
            |p| {
                let op = match p.kind() {
                    TokenKind::Plus => BinaryOp::Add,
                    TokenKind::Minus => BinaryOp::Sub,
                    _ => return None,
                };
                p.bump();
                Some(op)
            },
            Self::multiplicative,
        )
    }

    fn multiplicative(&mut self) -> PResult<Expr> {
        self.left_chain(
            |p| {
                let op = match p.kind() {
                    TokenKind::Star => BinaryOp::Mul,
                    TokenKind::Slash => BinaryOp::Div,
                    TokenKind::Percent => BinaryOp::Mod,
                    _ => return None,
                };
                p.bump();
                Some(op)
            },
            Self::unary,
        )
    }

    /// `-x`, `+x`: a sign applies to one operand; `- - 1` is an error in Kusto.
    fn unary(&mut self) -> PResult<Expr> {
        let op = match self.kind() {
            TokenKind::Minus => UnaryOp::Neg,
            TokenKind::Plus => UnaryOp::Plus,
            _ => return self.postfix(),
        };
        let start = self.bump().span;
        let operand = self.postfix()?;
        Ok(Expr::new(ExprKind::Unary { op, operand: Box::new(operand) }, self.span_from(start)))
    }

    fn postfix(&mut self) -> PResult<Expr> {
        let start = self.span();
        let mut expr = self.primary()?;
        loop {
            match self.kind() {
                TokenKind::Dot if self.kind_at(1) == TokenKind::LBracket && self.name_len(1) == 0 => {
                    // `a.[0]`: Kusto reads a dot before an index as plain indexing.
                    self.bump();
                }
                TokenKind::Dot => {
                    self.bump();
                    let name = self.ident()?;
                    expr = Expr::new(ExprKind::Member { target: Box::new(expr), name }, self.span_from(start));
                }
                TokenKind::LBracket => {
                    self.bump();
                    self.enter()?;
                    let index = self.or_expr();
                    self.leave();
                    let index = index?;
                    self.expect(TokenKind::RBracket)?;
                    expr = Expr::new(
                        ExprKind::Index { target: Box::new(expr), index: Box::new(index) },
                        self.span_from(start),
                    );
                }
                TokenKind::LParen if matches!(expr.kind, ExprKind::Member { .. }) => {
                    // `cluster('x').database('y')`: a call on a receiver.
                    let ExprKind::Member { target, name } = expr.kind else { unreachable!() };
                    let args = self.call_args()?;
                    expr =
                        Expr::new(ExprKind::MethodCall { receiver: target, func: name, args }, self.span_from(start));
                }
                _ => break,
            }
        }
        Ok(expr)
    }

    fn call_args(&mut self) -> PResult<Vec<Arg>> {
        self.call_args_with(|p| p.or_expr())
    }

    fn call_args_with(&mut self, mut value: impl FnMut(&mut Self) -> PResult<Expr>) -> PResult<Vec<Arg>> {
        self.expect(TokenKind::LParen)?;
        let mut args = Vec::new();
        if !self.at(TokenKind::RParen) {
            loop {
                let name = if self.name_len(0) > 0 && self.kind_at(self.name_len(0)) == TokenKind::Assign {
                    let n = self.ident()?;
                    self.bump();
                    Some(n)
                } else {
                    None
                };
                self.enter()?;
                let arg = value(self);
                self.leave();
                args.push(Arg { name, value: arg? });
                if !self.eat(TokenKind::Comma) {
                    break;
                }
            }
        }
        self.expect(TokenKind::RParen)?;
        Ok(args)
    }

    fn primary(&mut self) -> PResult<Expr> {
        let start = self.span();
        let t = self.tok();
        match t.kind {
            TokenKind::String => {
                // Adjacent string literals concatenate: "a" 'b' == "ab".
                let mut value = String::new();
                let mut obfuscated = false;
                while self.at(TokenKind::String) {
                    let t = self.bump();
                    let raw = self.text_of(t);
                    obfuscated |= is_obfuscated_string(raw);
                    value.push_str(&decode_string(raw));
                }
                Ok(Expr::new(ExprKind::Literal(Literal::String { value, obfuscated }), self.span_from(start)))
            }
            TokenKind::Long => {
                self.bump();
                Ok(Expr::new(ExprKind::Literal(Literal::Long(self.text_of(t).to_string())), t.span))
            }
            TokenKind::Real => {
                self.bump();
                Ok(Expr::new(ExprKind::Literal(Literal::Real(self.text_of(t).to_string())), t.span))
            }
            TokenKind::Timespan => {
                self.bump();
                Ok(Expr::new(ExprKind::Literal(Literal::Timespan(self.text_of(t).to_string())), t.span))
            }
            TokenKind::TypedLiteral => {
                self.bump();
                Ok(Expr::new(ExprKind::Literal(raw_literal(self.text_of(t))), t.span))
            }
            TokenKind::LParen => {
                self.bump();
                let inner = self.pipe_expr()?;
                if !self.at(TokenKind::RParen) {
                    return self.fail("')'");
                }
                self.bump();
                Ok(Expr::new(ExprKind::Paren(Box::new(inner)), self.span_from(start)))
            }
            TokenKind::Star => {
                self.bump();
                Ok(Expr::new(ExprKind::Star, t.span))
            }
            TokenKind::LBracket if self.name_len(0) == 3 => {
                let id = self.ident()?;
                if self.at(TokenKind::LParen) {
                    let args = self.call_args()?;
                    return Ok(Expr::new(ExprKind::Call { func: id, args }, self.span_from(start)));
                }
                let span = id.span;
                Ok(Expr::new(ExprKind::Name(id), span))
            }
            TokenKind::LBracket => {
                self.enter()?;
                self.bump();
                let inner = self.or_expr();
                self.leave();
                let inner = inner?;
                self.expect(TokenKind::RBracket)?;
                Ok(Expr::new(ExprKind::Bracketed(Box::new(inner)), self.span_from(start)))
            }
            TokenKind::Ident => self.word_primary(),
            TokenKind::LBrace => {
                let body = self.function_body()?;
                let span = body.span;
                Ok(Expr::new(ExprKind::Block(body), span))
            }
            _ => self.fail("an expression"),
        }
    }

    fn word_primary(&mut self) -> PResult<Expr> {
        let t = self.tok();
        let word = self.text_of(t);
        let next = self.kind_at(1);
        match word {
            "true" | "True" | "TRUE" => {
                self.bump();
                return Ok(Expr::new(ExprKind::Literal(Literal::Bool(true)), t.span));
            }
            "false" | "False" | "FALSE" => {
                self.bump();
                return Ok(Expr::new(ExprKind::Literal(Literal::Bool(false)), t.span));
            }
            "null" => {
                self.bump();
                return Ok(Expr::new(ExprKind::Literal(Literal::Null), t.span));
            }
            "dynamic" if next == TokenKind::LParen => {
                self.bump();
                self.bump();
                let value = self.dynamic_value()?;
                self.expect(TokenKind::RParen)?;
                return Ok(Expr::new(ExprKind::Literal(Literal::Dynamic(value)), self.span_from(t.span)));
            }
            "datatable" | "externaldata" | "external_data" => {
                // Tabular literals are operands too, as in `f(externaldata(…)[…])`.
                let op = self.operator()?;
                return Ok(Expr::new(ExprKind::Source(Box::new(op)), self.span_from(t.span)));
            }
            "typeof" if next == TokenKind::LParen => {
                self.bump();
                let is_schema = self.kind_at(1) == TokenKind::Star || self.kind_at(2) == TokenKind::Colon;
                let arg = if is_schema {
                    TypeOfArg::Tabular(self.tabular_schema()?)
                } else {
                    self.bump();
                    let ty = self.type_name()?;
                    self.expect(TokenKind::RParen)?;
                    TypeOfArg::Scalar(ty)
                };
                return Ok(Expr::new(ExprKind::TypeOf(arg), self.span_from(t.span)));
            }
            _ if next == TokenKind::LParen && TYPED_LITERAL_TYPES.contains(&word) => {
                return self.typed_literal();
            }
            _ => {}
        }
        if word == "toscalar" && next == TokenKind::LParen {
            self.bump();
            let args = self.call_args_with(|p| p.pipe_expr())?;
            return Ok(Expr::new(ExprKind::Call { func: Ident::new(word, t.span), args }, self.span_from(t.span)));
        }
        if word == "materialize" && next == TokenKind::LParen {
            return self.error_at(t.span, "materialize() is only allowed as the whole value of a let statement");
        }
        if next == TokenKind::LParen && !is_reserved(word) {
            self.bump();
            let func = Ident::new(word, t.span);
            let args = self.call_args()?;
            return Ok(Expr::new(ExprKind::Call { func, args }, self.span_from(t.span)));
        }
        if is_reserved(word) {
            return self.fail(&format!("an expression ('{word}' is a keyword; write ['{word}'] to use it as a name)"));
        }
        self.bump();
        Ok(Expr::new(ExprKind::Name(Ident::new(word, t.span)), t.span))
    }

    /// `long(12)`, `int(null)`, `real(+inf)`: raw value text.
    fn typed_literal(&mut self) -> PResult<Expr> {
        let ty = self.bump();
        self.expect(TokenKind::LParen)?;
        let value_start = self.span();
        let mut parts = String::new();
        if matches!(self.kind(), TokenKind::Plus | TokenKind::Minus) {
            parts.push_str(self.text());
            self.bump();
        }
        match self.kind() {
            TokenKind::Long | TokenKind::Real | TokenKind::Ident => {
                let v = self.bump();
                parts.push_str(self.text_of(v));
            }
            _ => return self.fail("a literal value (a number, true, false or null)"),
        }
        let _ = value_start;
        self.expect(TokenKind::RParen)?;
        let ty_name = self.text_of(ty).to_string();
        Ok(Expr::new(ExprKind::Literal(Literal::Typed { ty: ty_name, value: parts }), self.span_from(ty.span)))
    }

    /// A value inside `dynamic(…)`.
    fn dynamic_value(&mut self) -> PResult<DynamicValue> {
        self.enter()?;
        let result = self.dynamic_value_inner();
        self.leave();
        result
    }

    fn dynamic_value_inner(&mut self) -> PResult<DynamicValue> {
        match self.kind() {
            TokenKind::LBracket => {
                self.bump();
                let mut items = Vec::new();
                if !self.at(TokenKind::RBracket) {
                    loop {
                        items.push(self.dynamic_value()?);
                        if !self.eat(TokenKind::Comma) {
                            break;
                        }
                    }
                }
                self.expect(TokenKind::RBracket)?;
                Ok(DynamicValue::Array(items))
            }
            TokenKind::LBrace => {
                self.bump();
                let mut members = Vec::new();
                if !self.at(TokenKind::RBrace) {
                    loop {
                        let key = match self.kind() {
                            TokenKind::String => {
                                let t = self.bump();
                                decode_string(self.text_of(t))
                            }
                            TokenKind::Ident => {
                                let t = self.bump();
                                self.text_of(t).to_string()
                            }
                            _ => return self.fail("a property name (a string)"),
                        };
                        self.expect(TokenKind::Colon)?;
                        members.push((key, self.dynamic_value()?));
                        if !self.eat(TokenKind::Comma) {
                            break;
                        }
                    }
                }
                self.expect(TokenKind::RBrace)?;
                Ok(DynamicValue::Object(members))
            }
            TokenKind::String => {
                let mut value = String::new();
                while self.at(TokenKind::String) {
                    let t = self.bump();
                    value.push_str(&decode_string(self.text_of(t)));
                }
                Ok(DynamicValue::String(value))
            }
            TokenKind::Long | TokenKind::Real => {
                let t = self.bump();
                Ok(DynamicValue::Number(self.text_of(t).to_string()))
            }
            TokenKind::Minus | TokenKind::Plus if matches!(self.kind_at(1), TokenKind::Long | TokenKind::Real) => {
                let sign = self.bump();
                let t = self.bump();
                let sign = if sign.kind == TokenKind::Minus { "-" } else { "" };
                Ok(DynamicValue::Number(format!("{sign}{}", self.text_of(t))))
            }
            TokenKind::Timespan => {
                let t = self.bump();
                Ok(DynamicValue::Literal(Box::new(Literal::Timespan(self.text_of(t).to_string()))))
            }
            TokenKind::TypedLiteral => {
                let t = self.bump();
                Ok(DynamicValue::Literal(Box::new(raw_literal(self.text_of(t)))))
            }
            TokenKind::Ident => match self.text() {
                "null" => {
                    self.bump();
                    Ok(DynamicValue::Null)
                }
                "true" => {
                    self.bump();
                    Ok(DynamicValue::Bool(true))
                }
                "false" => {
                    self.bump();
                    Ok(DynamicValue::Bool(false))
                }
                // A nested `dynamic(…)` stands for its contents.
                "dynamic" if self.kind_at(1) == TokenKind::LParen => {
                    self.bump();
                    self.bump();
                    let inner = self.dynamic_value()?;
                    self.expect(TokenKind::RParen)?;
                    Ok(inner)
                }
                w if TYPED_LITERAL_TYPES.contains(&w) && self.kind_at(1) == TokenKind::LParen => {
                    let e = self.typed_literal()?;
                    match e.kind {
                        ExprKind::Literal(l) => Ok(DynamicValue::Literal(Box::new(l))),
                        _ => unreachable!("typed_literal returns a literal"),
                    }
                }
                _ => self.fail("a dynamic value (null, true, false, a number, a string, [ … ] or { … })"),
            },
            _ => self.fail("a dynamic value (null, true, false, a number, a string, [ … ] or { … })"),
        }
    }
}

/// Which extra commas a tabular schema's column list takes: Kusto's parser
/// takes a trailing one in a parameter's schema, and a leading and a trailing
/// one in `datatable` and `externaldata`, but neither in `typeof(…)`.
#[derive(Clone, Copy, PartialEq, Eq)]
enum SchemaCommas {
    None,
    Trailing,
    LeadingAndTrailing,
}

enum WordOp {
    Str(StringOp, usize),
    List(ListOp, usize),
    Between(bool, usize),
}

fn input_span(start: Span) -> Span {
    Span { start: start.start, end: start.start }
}

/// `datetime(…)`, `date(…)`, `timespan(…)`, `time(…)`, `guid(…)`.
fn raw_literal(raw: &str) -> Literal {
    let open = raw.find('(').unwrap_or(raw.len());
    let word = raw[..open].trim();
    let inner = raw.get(open + 1..raw.len().saturating_sub(1)).unwrap_or("").trim().to_string();
    match word {
        "datetime" | "date" => Literal::Datetime(inner),
        "timespan" | "time" => Literal::TimespanCall(inner),
        _ => Literal::Guid(inner),
    }
}
