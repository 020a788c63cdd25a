//! Helpers shared by the parser's integration tests.
#![allow(dead_code)]

use kqlite_syntax::{ast::Query, parse, SpanlessEq};
use std::path::PathBuf;

/// Parses and asserts there are no diagnostics, then checks that printing
/// the tree and parsing the print gives the same tree (spans aside).
pub fn parse_ok(source: &str) -> Query {
    let parsed = parse(source);
    assert!(
        !parsed.has_errors(),
        "expected {source:?} to parse, got:\n{}",
        parsed.diagnostics.iter().map(|d| d.render(source, "<test>")).collect::<String>()
    );
    assert_round_trip(source, &parsed.query);
    parsed.query
}

pub fn assert_round_trip(source: &str, query: &Query) {
    let printed = query.to_string();
    let reparsed = parse(&printed);
    assert!(
        !reparsed.has_errors(),
        "printed form of {source:?} does not parse:\n{printed}\n{}",
        reparsed.diagnostics.iter().map(|d| d.render(&printed, "<printed>")).collect::<String>()
    );
    assert!(
        reparsed.query.spanless_eq(query),
        "round trip changed the tree.\nsource: {source}\nprinted: {printed}\nbefore: {query:?}\nafter: {:?}",
        reparsed.query
    );
}

/// Parses and returns the error messages with 1-based (line, col).
pub fn parse_errors(source: &str) -> Vec<(usize, usize, String)> {
    let parsed = parse(source);
    let index = kqlite_syntax::LineIndex::new(source);
    parsed
        .diagnostics
        .iter()
        .filter(|d| d.is_error())
        .map(|d| {
            let (l, c) = index.line_col(d.span.start as usize);
            (l, c, d.message.clone())
        })
        .collect()
}

/// `../shared` beside the checkout (or `$KQLITE_SHARED`), when present.
pub fn shared_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("KQLITE_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    dir.is_dir().then_some(dir)
}
