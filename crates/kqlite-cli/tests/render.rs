//! `kqlite query --format html` and `--chart FILE.svg` end to end: a query
//! written like the reference's piechart example (`summarize count() by
//! State | render piechart with(title=…)`) over a datatable.

use std::process::{Command, Output};

fn kqlite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kqlite")).args(args).output().unwrap()
}

const PIE: &str = "datatable(State: string)['TEXAS','TEXAS','KANSAS','IOWA'] | summarize count() by State \
                   | render piechart with(title='Storm Events by State')";

#[test]
fn html_page_holds_the_chart_and_the_table() {
    let out = kqlite(&["query", "--format", "html", PIE]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let html = String::from_utf8(out.stdout).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert!(html.contains("<title>Storm Events by State</title>"));
    let svg = &html[html.find("<svg").expect("inline SVG")..html.find("</svg>").unwrap()];
    assert_eq!(svg.matches("<polygon").count(), 3, "a slice per state");
    assert!(html.contains("<td>TEXAS</td><td>2</td>"), "{html}");
}

#[test]
fn chart_option_writes_the_svg_and_still_prints_rows() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("pie.svg");
    let out = kqlite(&["query", "--chart", path.to_str().unwrap(), "--format", "csv", PIE]);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    // `summarize … by` leaves the row order undefined (as in Kusto).
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = stdout.lines().collect();
    lines[1..].sort_unstable();
    assert_eq!(lines, ["State,count_", "IOWA,1", "KANSAS,1", "TEXAS,2"]);
    let svg = std::fs::read_to_string(&path).unwrap();
    assert!(svg.starts_with("<svg") && svg.trim_end().ends_with("</svg>"));
    assert!(svg.contains("Storm Events by State"));
}

#[test]
fn chart_without_render_says_what_to_add() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("none.svg");
    let out = kqlite(&["query", "--chart", path.to_str().unwrap(), "print x = 1"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("render"), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(!path.exists());
}
