//! `kqlite functions` end to end: function names by default (one a line,
//! as scripts read them), `--plugins` the evaluate plugins, `--operators`
//! the tabular operators.

use std::process::{Command, Output};

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kqlite")).args(args).output().unwrap()
}

fn lines(out: &Output) -> Vec<String> {
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).lines().map(str::to_string).collect()
}

#[test]
fn lists_functions_by_default() {
    let names = lines(&run(&["functions"]));
    assert!(names.iter().any(|n| n == "strcat"));
    assert!(!names.iter().any(|n| n == "bag_unpack" || n == "where"));
}

#[test]
fn lists_the_plugins_evaluate_runs() {
    let names = lines(&run(&["functions", "--plugins"]));
    for plugin in ["bag_unpack", "basket", "diffpatterns", "funnel_sequence", "rows_near", "sliding_window_counts"] {
        assert!(names.iter().any(|n| n == plugin), "{plugin} missing: {names:?}");
    }
    // Plugins that need a service are not listed: evaluate refuses them.
    assert!(!names.iter().any(|n| n == "python" || n == "http_request"));
}

#[test]
fn lists_the_operators() {
    let names = lines(&run(&["functions", "--operators"]));
    assert!(names.iter().any(|n| n == "evaluate"));
    assert!(names.iter().any(|n| n == "summarize"));
}
