//! Edits of a rule's KQL through the parser's spans: replacing the value of
//! a top-level `let` (tuning parameters), appending operators to the
//! query's result expression (exclusions, finding reasons) and prepending
//! `let`s (pivot inputs). Every edit is re-parsed before it is used.

use crate::error::{DetectError, SyntaxError};
use kqlite_syntax::ast::{LetValue, Statement};
use kqlite_syntax::LineIndex;

/// A top-level `let` and where its value is in the text.
#[derive(Clone, Debug)]
pub struct TopLevelLet {
    pub name: String,
    /// Byte range of the value (the expression after `=`).
    pub value: std::ops::Range<usize>,
}

fn parse_errors(text: &str) -> Option<SyntaxError> {
    let parsed = kqlite_syntax::parse(text);
    if !parsed.has_errors() {
        return None;
    }
    let index = LineIndex::new(text);
    let d = parsed.diagnostics.iter().find(|d| d.is_error()).or(parsed.diagnostics.first())?;
    let (line, col) = index.line_col(d.span.start as usize);
    Some(SyntaxError { line, column: col, message: d.message.clone() })
}

/// The query's top-level `let` statements, in order.
pub fn top_level_lets(query: &str) -> Result<Vec<TopLevelLet>, DetectError> {
    if let Some(e) = parse_errors(query) {
        return Err(DetectError::Syntax(e));
    }
    let parsed = kqlite_syntax::parse(query);
    Ok(parsed
        .query
        .statements
        .iter()
        .filter_map(|s| match s {
            Statement::Let(l) => {
                let span = match &l.value {
                    LetValue::Expr(e) => e.span,
                    LetValue::Function(f) => f.span,
                };
                Some(TopLevelLet { name: l.name.name.clone(), value: span.range() })
            }
            _ => None,
        })
        .collect())
}

/// Replaces the values of top-level lets: `overrides` are (name, KQL text).
/// An unknown name is an error listing the query's lets; a value that does
/// not parse is an error naming the parameter.
pub fn override_lets(query: &str, overrides: &[(String, String)]) -> Result<String, DetectError> {
    let lets = top_level_lets(query)?;
    let mut edits: Vec<(std::ops::Range<usize>, &str, &str)> = Vec::new();
    for (name, value) in overrides {
        let Some(found) = lets.iter().find(|l| &l.name == name) else {
            return Err(DetectError::UnknownParameter {
                name: name.clone(),
                lets: lets.iter().map(|l| l.name.clone()).collect(),
            });
        };
        if let Some(error) = parse_errors(&format!("print ({value})")) {
            return Err(DetectError::ParameterNotExpression { name: name.clone(), value: value.clone(), error });
        }
        edits.push((found.value.clone(), value.as_str(), name.as_str()));
    }
    // Right to left, so earlier ranges stay valid.
    edits.sort_by_key(|(range, _, _)| std::cmp::Reverse(range.start));
    let mut text = query.to_string();
    for (range, value, _) in &edits {
        text.replace_range(range.clone(), &format!("({value})"));
    }
    if let Some(error) = parse_errors(&text) {
        let names = edits.iter().map(|(_, _, n)| n.to_string()).collect();
        return Err(DetectError::OverrideInvalid { names, error });
    }
    Ok(text)
}

/// Appends `operators` (text starting with `|`) to the query's last
/// tabular expression, so the query's lets stay in scope.
pub fn append_operators(query: &str, operators: &str) -> Result<String, DetectError> {
    let parsed = kqlite_syntax::parse(query);
    if parsed.has_errors() {
        if let Some(e) = parse_errors(query) {
            return Err(DetectError::Syntax(e));
        }
    }
    let last = parsed
        .query
        .statements
        .iter()
        .rev()
        .find_map(|s| match s {
            Statement::Expr(e) => Some(e.span),
            _ => None,
        })
        .ok_or(DetectError::NoResultExpression)?;
    let end = last.range().end;
    let text = format!("{}\n{operators}\n{}", &query[..end], &query[end..]);
    if let Some(error) = parse_errors(&text) {
        return Err(DetectError::AppendInvalid { operators: operators.to_string(), error });
    }
    Ok(text)
}

/// A KQL string literal for a value (the query printer's quoting).
pub use kqlite_syntax::string_literal;

/// A bracketed KQL name (`['Column name']`) that is safe for any column.
pub fn quoted_name(name: &str) -> String {
    format!("['{}']", name.replace('\\', "\\\\").replace('\'', "\\'"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const QUERY: &str = "let Lookback = 24h; // window\nlet Names = dynamic([\"a\", \"b\"]);\nT | where x > ago(Lookback) | where y has_any (Names)";

    #[test]
    fn lists_top_level_lets_with_value_ranges() {
        let lets = top_level_lets(QUERY).unwrap();
        assert_eq!(lets.iter().map(|l| l.name.as_str()).collect::<Vec<_>>(), ["Lookback", "Names"]);
        assert_eq!(&QUERY[lets[0].value.clone()], "24h");
        assert_eq!(&QUERY[lets[1].value.clone()], "dynamic([\"a\", \"b\"])");
    }

    #[test]
    fn overrides_values_by_span_not_by_text() {
        // "24h" also appears nowhere else, but "Names" does: only the let's value changes.
        let out =
            override_lets(QUERY, &[("Names".into(), "dynamic([\"c\"])".into()), ("Lookback".into(), "7d".into())])
                .unwrap();
        assert!(out.starts_with("let Lookback = (7d); // window\nlet Names = (dynamic([\"c\"]));"), "{out}");
        assert!(out.ends_with("where y has_any (Names)"));
    }

    #[test]
    fn unknown_parameter_lists_the_lets() {
        let err = override_lets(QUERY, &[("Lookbak".into(), "1d".into())]).unwrap_err().to_string();
        assert!(err.contains("unknown parameter 'Lookbak'") && err.contains("Lookback, Names"), "{err}");
    }

    #[test]
    fn invalid_value_is_rejected_with_the_parameter() {
        let err = override_lets(QUERY, &[("Lookback".into(), "1d; T | take 1".into())]).unwrap_err().to_string();
        assert!(err.contains("parameter 'Lookback'"), "{err}");
    }

    #[test]
    fn appends_after_the_result_expression() {
        let out = append_operators("let a = 1;\nT | sort by x // last\n", "| where y").unwrap();
        assert_eq!(out, "let a = 1;\nT | sort by x\n| where y\n // last\n");
    }

    #[test]
    fn literals_escape() {
        assert_eq!(string_literal("a\"b\\c"), "\"a\\\"b\\\\c\"");
        assert_eq!(quoted_name("it's"), "['it\\'s']");
    }
}
