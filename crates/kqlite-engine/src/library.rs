//! Stored functions: what a Log Analytics workspace keeps as saved functions
//! (Sentinel's parsers, ASIM), held as text and parsed on first use.
//!
//! A session may hold hundreds of them (Azure-Sentinel's parsers); a query
//! calls a few. Each is parsed once, when a query first names it, and bound
//! where it is called, so bodies may call other stored functions and read
//! tables registered later. Errors inside a body are reported at the body's
//! place in its file ([`Origin`]).

use crate::binder::BindError;
use kqlite_syntax::ast::{self, LetValue, Statement};
use kqlite_syntax::{LineIndex, Span};
use std::collections::HashMap;
use std::sync::{Arc, OnceLock};

/// Where a stored function's body text starts in its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Origin {
    /// The file (a path, or `builtin:…`).
    pub file: String,
    /// The 1-based line of the body's first line.
    pub line: usize,
    /// Columns the file indents the body by (a YAML block scalar's indent).
    pub indent: usize,
}

impl Origin {
    /// The 1-based file line and column of `offset` in `body`.
    pub fn locate(&self, body: &str, offset: usize) -> (usize, usize) {
        let (line, column) = LineIndex::new(body).line_col(offset.min(body.len()));
        (self.line + line - 1, column + self.indent)
    }
}

/// A parameter of a stored function, as written in KQL.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredParam {
    pub name: String,
    /// A scalar type name (`datetime`) or a tabular schema (`(*)`).
    pub ty: String,
    /// The default value's KQL text (`datetime(null)`, `dynamic([])`).
    pub default: Option<String>,
}

/// A stored function parsed into a definition the binder binds where it is
/// called, with the function it came from (for locating errors).
pub type StoredDefinition = (Arc<ast::FunctionDef>, Arc<StoredFunction>);

/// A stored function: its name, parameters, body text and origin.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredFunction {
    pub name: String,
    pub params: Vec<StoredParam>,
    /// The body: `let` statements and a final expression, as in `{ … }`.
    pub body: String,
    pub origin: Origin,
}

impl StoredFunction {
    /// The parameter list's KQL text (`a:string='x', T:(*)`).
    pub fn params_text(&self) -> String {
        let mut out = Vec::new();
        for p in &self.params {
            let mut text = format!("{}:{}", p.name, p.ty);
            if let Some(default) = &p.default {
                text.push('=');
                text.push_str(default);
            }
            out.push(text);
        }
        out.join(", ")
    }

    /// A located error in the body (`offset` into [`StoredFunction::body`]).
    fn body_error(&self, offset: usize, message: &str) -> BindError {
        let (line, column) = self.origin.locate(&self.body, offset);
        BindError::new(Span::new(0, 0), format!("{message} (in {} at {}:{line}:{column})", self.name, self.origin.file))
    }

    /// Parses the parameters and the body into a function definition whose
    /// body spans are offsets into [`StoredFunction::body`].
    fn parse(&self) -> Result<ast::FunctionDef, BindError> {
        let header = format!("let f = ({}) {{ print 0 }};", self.params_text());
        let parsed = kqlite_syntax::parse(&header);
        let header_error = || {
            let first = parsed.diagnostics.iter().find(|d| d.is_error()).map_or("syntax error", |d| d.message.as_str());
            BindError::new(
                Span::new(0, 0),
                format!(
                    "the parameters of {} ({}) do not parse: {first} (in {}, line {})",
                    self.name,
                    self.params_text(),
                    self.origin.file,
                    self.origin.line
                ),
            )
        };
        if parsed.has_errors() {
            return Err(header_error());
        }
        let def = match parsed.query.statements.first() {
            Some(Statement::Let(ast::LetStatement { value: LetValue::Function(def), .. })) => def.clone(),
            _ => return Err(header_error()),
        };
        let body = kqlite_syntax::parse(&self.body);
        if let Some(d) = body.diagnostics.iter().find(|d| d.is_error()) {
            return Err(self.body_error(d.span.start as usize, &d.message));
        }
        if !matches!(body.query.statements.last(), Some(Statement::Expr(_))) {
            return Err(self.body_error(self.body.trim_end().len(), "the body must end with an expression"));
        }
        let span = Span::new(0, self.body.len());
        Ok(ast::FunctionDef {
            is_view: false,
            params: def.params,
            body: ast::FunctionBody { statements: body.query.statements, span },
            span,
        })
    }

    /// A bind error from inside the body, reported at the call (`call`)
    /// with the body's place in its file; errors already located in an
    /// inner stored function keep that place and gain this one.
    pub fn locate_error(&self, error: BindError, call: Span) -> BindError {
        let (line, column) = self.origin.locate(&self.body, error.span.start as usize);
        let message = format!("{} (in {} at {}:{line}:{column})", error.message, self.name, self.origin.file);
        // A table missing inside the body stays unresolved, so `union
        // isfuzzy=true` leaves out the leg calling it, as Kusto does: ASIM's
        // unifying parsers union source parsers whose tables may not exist.
        match &error.unresolved {
            Some(name) => BindError::unresolved(call, name, message),
            None => BindError::new(call, message),
        }
    }
}

/// One stored function and its parse, made on first use (once for all
/// its names).
struct Entry {
    function: Arc<StoredFunction>,
    parsed: OnceLock<Result<Arc<ast::FunctionDef>, BindError>>,
}

/// The stored functions of a session, by name (case-sensitive, as in Kusto).
#[derive(Default)]
pub struct Library {
    entries: HashMap<String, Arc<Entry>>,
}

impl Library {
    /// Adds `function` under its name, and under `aliases` (ASIM's
    /// built-in names such as `_Im_Dns`); replaces what those names held.
    pub fn add(&mut self, function: StoredFunction, aliases: &[String]) {
        let entry = Arc::new(Entry { function: Arc::new(function), parsed: OnceLock::new() });
        for name in std::iter::once(&entry.function.name).chain(aliases) {
            self.entries.insert(name.clone(), entry.clone());
        }
    }

    /// Every name, sorted.
    pub fn names(&self) -> Vec<String> {
        let mut names: Vec<String> = self.entries.keys().cloned().collect();
        names.sort();
        names
    }

    pub fn get(&self, name: &str) -> Option<&Arc<StoredFunction>> {
        self.entries.get(name).map(|e| &e.function)
    }

    /// The function named `name`, parsed (once), or why it does not parse.
    pub fn definition(&self, name: &str) -> Option<Result<StoredDefinition, BindError>> {
        let entry = self.entries.get(name)?;
        let parsed = entry.parsed.get_or_init(|| entry.function.parse().map(Arc::new));
        Some(parsed.clone().map(|def| (def, entry.function.clone())))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(body: &str) -> StoredFunction {
        StoredFunction {
            name: "F".to_string(),
            params: vec![StoredParam {
                name: "starttime".to_string(),
                ty: "datetime".to_string(),
                default: Some("datetime(null)".to_string()),
            }],
            body: body.to_string(),
            origin: Origin { file: "f.yaml".to_string(), line: 10, indent: 2 },
        }
    }

    #[test]
    fn parses_once_and_locates_body_errors_in_the_file() {
        let mut library = Library::default();
        library.add(stored("print x = 1"), &["_Im_F".to_string()]);
        let (def, _) = library.definition("_Im_F").unwrap().unwrap();
        assert_eq!(def.params.len(), 1);
        assert!(def.params[0].default.is_some());
        let mut library = Library::default();
        library.add(stored("let a = 1;\nprint x = (a"), &[]);
        let error = library.definition("F").unwrap().unwrap_err();
        assert!(error.message.contains("(in F at f.yaml:11:"), "{error}");
        assert!(library.definition("G").is_none());
    }
}
