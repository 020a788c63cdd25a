//! `kqlite query` prints every table of a query that makes several (`fork`,
//! `facet`), each under its name, and a one-table result exactly as before.

use std::process::{Command, Output};

fn kqlite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kqlite")).args(args).output().unwrap()
}

fn stdout_of(args: &[&str]) -> String {
    let out = kqlite(args);
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// After the fork reference page's named-subquery example.
const FORKED: &str = "datatable(State: string, Deaths: long)['FLORIDA', 2, 'TEXAS', 0] \
                      | fork (where Deaths > 0 | as StormsWithDeaths) (where Deaths == 0 | project State)";

#[test]
fn every_format_prints_every_table_by_name() {
    assert_eq!(
        stdout_of(&["query", "--format", "csv", FORKED]),
        "# StormsWithDeaths\nState,Deaths\nFLORIDA,2\n\n# GenericResult\nState\nTEXAS\n"
    );
    assert_eq!(
        stdout_of(&["query", FORKED]),
        "# StormsWithDeaths\nState    Deaths\n-------  ------\nFLORIDA  2\n\n# GenericResult\nState\n-----\nTEXAS\n"
    );
    let json: serde_json::Value = serde_json::from_str(&stdout_of(&["query", "--format", "json", FORKED])).unwrap();
    let names: Vec<&str> = json["tables"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["StormsWithDeaths", "GenericResult"]);
    assert_eq!(json["tables"][1]["rows"], serde_json::json!([["TEXAS"]]));
    assert_eq!(
        stdout_of(&["query", "--format", "jsonl", FORKED]),
        "{\"table\":\"StormsWithDeaths\",\"row\":{\"State\":\"FLORIDA\",\"Deaths\":2}}\n\
         {\"table\":\"GenericResult\",\"row\":{\"State\":\"TEXAS\"}}\n"
    );
}

#[test]
fn facet_prints_each_column_table() {
    let text = stdout_of(&["query", "--format", "csv", "datatable(State: string)['TEXAS', 'TEXAS'] | facet by State"]);
    assert_eq!(text, "# State\nState,count_State\nTEXAS,2\n");
}

#[test]
fn one_table_prints_as_before() {
    assert_eq!(stdout_of(&["query", "--format", "csv", "print x = 1, y = 'a'"]), "x,y\n1,a\n");
    assert_eq!(stdout_of(&["query", "print x = 1"]), "x\n-\n1\n");
}
