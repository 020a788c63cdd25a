//! Diagnostics: positions, messages, recovery, and no panics on any input.

mod common;

use common::parse_errors;
use kqlite_syntax::{parse, SpanlessEq};
use proptest::prelude::*;

#[test]
fn error_has_line_column_and_expectation() {
    let errors = parse_errors("SecurityEvent\n| where EventID ==\n| count");
    assert_eq!(errors.len(), 1, "{errors:?}");
    let (line, col, message) = &errors[0];
    assert_eq!((*line, *col), (3, 1));
    assert!(message.contains("expected an expression"), "{message}");
}

#[test]
fn one_pass_reports_several_errors() {
    let errors = parse_errors("T | where a == | extend b = ) | summarize count() byy x | take 10");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert!(errors.iter().all(|(line, _, _)| *line == 1));
}

#[test]
fn errors_in_separate_statements_are_all_reported() {
    let errors = parse_errors("let a = ;\nlet b = 1 +;\nT | where");
    assert_eq!(errors.len(), 3, "{errors:?}");
    assert_eq!(errors.iter().map(|e| e.0).collect::<Vec<_>>(), vec![1, 2, 3]);
}

#[test]
fn unknown_operator_gets_a_suggestion() {
    let errors = parse_errors("T | summarise count()");
    assert!(errors[0].2.contains("did you mean 'summarize'"), "{errors:?}");
}

#[test]
fn keywords_are_not_names() {
    let errors = parse_errors("T | project title");
    assert!(errors[0].2.contains("['title']"), "{errors:?}");
}

#[test]
fn render_shows_source_line_and_caret() {
    let src = "T\n| where x === 1";
    let parsed = parse(src);
    let text = parsed.diagnostics[0].render(src, "q.kql");
    assert!(text.starts_with("q.kql:2:"), "{text}");
    assert!(text.contains("| where x === 1"), "{text}");
    assert!(text.contains('^'), "{text}");
}

#[test]
fn comparisons_do_not_chain() {
    assert!(!parse_errors("print 1 == 2 == 3").is_empty());
}

#[test]
fn unterminated_constructs() {
    for src in [
        "T | where x == 'abc",
        "print (1 + 2",
        "T | join (U on x",
        "print dynamic([1, 2)",
        "let f = (x: long) { x",
        "T | where x in ('a', 'b'",
    ] {
        assert!(!parse_errors(src).is_empty(), "{src}");
    }
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let deep = format!("print {}1{}", "(".repeat(5000), ")".repeat(5000));
    let errors = parse_errors(&deep);
    assert!(errors.iter().any(|e| e.2.contains("nested too deeply")), "{:?}", &errors[..1]);
    let deep_dynamic = format!("print dynamic({}1{})", "[".repeat(5000), "]".repeat(5000));
    assert!(!parse_errors(&deep_dynamic).is_empty());
    let long_chain = format!("print {}", vec!["1"; 3900].join(" + "));
    assert!(parse_errors(&long_chain).is_empty());
}

const FRAGMENTS: &[&str] = &[
    "T",
    "|",
    "where",
    "extend",
    "project",
    "summarize",
    "by",
    "join",
    "on",
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ";",
    "=",
    "==",
    "!",
    "has",
    "in",
    "~",
    "'x'",
    "\"y",
    "1",
    "1d",
    "datetime(",
    "dynamic(",
    "let",
    "x",
    ":",
    "*",
    "-",
    ".",
    "..",
    "$left",
    "kind=",
    "mv-expand",
    "parse",
    "with",
    "between",
    "@'",
    "```",
    "//",
    "\n",
    " ",
    "make-series",
    "top-nested",
    "of",
    "datatable",
    "print",
    "range",
    "from",
    "to",
    "step",
    "typeof(",
    "h'",
    "0x",
    "1e",
    "é",
    "\u{a0}",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    /// Any sequence of KQL fragments parses without panicking, and every
    /// diagnostic points inside the input.
    #[test]
    fn never_panics_on_fragment_soup(parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..60)) {
        let src = parts.join(" ");
        let parsed = parse(&src);
        for d in &parsed.diagnostics {
            prop_assert!(d.span.end as usize <= src.len());
            prop_assert!(src.is_char_boundary(d.span.start as usize));
        }
    }

    #[test]
    fn never_panics_on_arbitrary_text(src in "\\PC{0,200}") {
        let parsed = parse(&src);
        for d in &parsed.diagnostics {
            prop_assert!(d.span.end as usize <= src.len());
        }
    }

    /// Whatever parses cleanly prints to text that parses to the same tree.
    #[test]
    fn clean_parses_round_trip(parts in proptest::collection::vec(proptest::sample::select(FRAGMENTS), 0..30)) {
        let src = parts.join(" ");
        let parsed = parse(&src);
        if !parsed.has_errors() {
            let printed = parsed.query.to_string();
            let again = parse(&printed);
            prop_assert!(!again.has_errors(), "{} -> {}", src, printed);
            prop_assert!(again.query.spanless_eq(&parsed.query), "{:?}\nreads back as\n{:?}", parsed.query, again.query);
        }
    }
}
