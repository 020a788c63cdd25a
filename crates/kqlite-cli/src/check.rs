//! `kqlite check`: report syntax errors in KQL queries.

use crate::content_args::ContentArgs;
use crate::query::query_text;
use crate::table_args::catalog_session;
use anyhow::{bail, Context, Result};
use clap::Args;
use kqlite_engine::Session;
use kqlite_syntax::{parse, LineIndex};
use serde::Serialize;
use std::io::{BufRead, BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

/// Check KQL queries for errors without running them.
///
/// Parses, then binds against the built-in Sentinel table schemas: unknown
/// tables, columns and functions, type errors and wrong argument counts are
/// reported before anything runs. Prints each error with its line and column,
/// the source line and a caret. Exits 0 when the query is valid, 1 when not.
///
/// Examples:
///   kqlite check 'SecurityEvent | where EventID == 4624 | count'
///   kqlite check -f detection.kql
///   cat detection.kql | kqlite check -
///   kqlite check --jsonl queries.jsonl > results.jsonl
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct CheckArgs {
    /// The query text, or `-` to read it from standard input.
    #[arg(conflicts_with_all = ["file", "jsonl"])]
    query: Option<String>,

    /// Read the query from a file.
    #[arg(short = 'f', long = "file", value_name = "FILE", conflicts_with = "jsonl")]
    file: Option<PathBuf>,

    /// Check many queries: FILE holds one JSON object per line with a
    /// "query" field; writes one JSON result line per input line, in order:
    /// {"ok": bool, "stage": "parse"|"bind", "errors": [{"line", "col", "message"}]},
    /// plus "columns": {name: type} for valid queries.
    #[arg(long, value_name = "FILE")]
    jsonl: Option<PathBuf>,

    /// Check syntax only, without binding names and types against the
    /// Sentinel schemas (for queries over tables kqlite does not know).
    #[arg(long)]
    syntax_only: bool,

    #[command(flatten)]
    content: ContentArgs,
}

#[derive(Serialize)]
struct JsonError {
    line: usize,
    col: usize,
    message: String,
}

#[derive(Serialize)]
struct JsonResult {
    ok: bool,
    stage: &'static str,
    errors: Vec<JsonError>,
    #[serde(skip_serializing_if = "Option::is_none")]
    columns: Option<serde_json::Map<String, serde_json::Value>>,
}

pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let content = args.content.load(false)?;
    let mut session = catalog_session();
    crate::query::add_content(&mut session, &content)?;
    if let Some(path) = &args.jsonl {
        return check_jsonl(path, args.syntax_only, &session);
    }
    let (text, name) = query_text(
        args.query.as_ref(),
        args.file.as_ref(),
        "no query given: pass the query text, -f FILE, - for standard input, or --jsonl FILE (see kqlite check --help)",
    )?;
    let parsed = parse(&text);
    let errors: Vec<_> = parsed.diagnostics.iter().filter(|d| d.is_error()).collect();
    let stderr = std::io::stderr();
    let mut out = stderr.lock();
    for diagnostic in &parsed.diagnostics {
        write!(out, "{}", diagnostic.render(&text, &name))?;
    }
    if !errors.is_empty() {
        writeln!(out, "{} error{} found", errors.len(), if errors.len() == 1 { "" } else { "s" })?;
        return Ok(ExitCode::from(1));
    }
    if args.syntax_only {
        writeln!(std::io::stdout(), "ok: the query is valid KQL syntax")?;
        return Ok(ExitCode::SUCCESS);
    }
    match session.check(&text) {
        Ok(columns) => {
            let schema: Vec<String> = columns.iter().map(|c| format!("{}: {}", c.name, c.ty)).collect();
            writeln!(std::io::stdout(), "ok: the query is valid KQL; result columns: ({})", schema.join(", "))?;
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => {
            write!(out, "{}", e.render(&text, &name))?;
            writeln!(out, "1 error found")?;
            Ok(ExitCode::from(1))
        }
    }
}

/// One result line per input line, always, so outputs can be joined with
/// their inputs by line number.
fn check_jsonl(path: &PathBuf, syntax_only: bool, session: &Session) -> Result<ExitCode> {
    let file = std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let reader = std::io::BufReader::new(file);
    let stdout = std::io::stdout();
    let mut out = BufWriter::new(stdout.lock());
    let mut any_error = false;
    for (number, line) in reader.lines().enumerate() {
        let line = line.with_context(|| format!("{}:{}: cannot read line", path.display(), number + 1))?;
        let result = match query_field(&line) {
            Ok(query) => check_one(&query, (!syntax_only).then_some(session)),
            Err(error) => JsonResult {
                ok: false,
                stage: "input",
                errors: vec![JsonError { line: number + 1, col: 1, message: format!("{error:#}") }],
                columns: None,
            },
        };
        any_error |= !result.ok;
        serde_json::to_writer(&mut out, &result)?;
        out.write_all(b"\n")?;
    }
    out.flush()?;
    Ok(if any_error { ExitCode::from(1) } else { ExitCode::SUCCESS })
}

fn query_field(line: &str) -> Result<String> {
    let value: serde_json::Value = serde_json::from_str(line).context("input line is not JSON")?;
    match value.get("query") {
        Some(serde_json::Value::String(q)) => Ok(q.clone()),
        Some(_) => bail!("the \"query\" field is not a string"),
        None => bail!("the input object has no \"query\" field"),
    }
}

fn check_one(query: &str, session: Option<&Session>) -> JsonResult {
    let parsed = parse(query);
    let index = LineIndex::new(query);
    let errors: Vec<JsonError> = parsed
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let (line, col) = index.line_col(d.span.start as usize);
            JsonError { line, col, message: d.message.clone() }
        })
        .collect();
    let Some(session) = session.filter(|_| errors.is_empty()) else {
        return JsonResult { ok: errors.is_empty(), stage: "parse", errors, columns: None };
    };
    match session.check(query) {
        Ok(columns) => {
            let columns = columns.into_iter().map(|c| (c.name, serde_json::Value::from(c.ty.name()))).collect();
            JsonResult { ok: true, stage: "bind", errors: Vec::new(), columns: Some(columns) }
        }
        Err(e) => {
            let (message, position) = e.located(query);
            let (line, col) = position.unwrap_or((1, 1));
            JsonResult { ok: false, stage: "bind", errors: vec![JsonError { line, col, message }], columns: None }
        }
    }
}
