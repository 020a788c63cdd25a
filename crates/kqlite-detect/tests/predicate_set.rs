//! `PredicateSet` against the engine: every predicate, evaluated in one
//! pass by the set, holds on exactly the rows where the engine's `where`
//! keeps them, including case folding beyond ASCII, empty literals,
//! overlapping literals, negations and nulls.

use kqlite_detect::predicate_set::PredicateSetBuilder;
use kqlite_engine::{KqlType, Session};

/// The rows: strings with the cases that tell implementations apart
/// (Unicode case folding, a literal at both ends, repeats, empty values)
/// and a bool column with a null.
const ROWS: &str = r#"datatable(Image: string, Cmd: string, Flag: bool, Id: int)[
    @"C:\Windows\System32\cmd.exe", "cmd /c whoami", true, 1,
    @"c:\windows\system32\CMD.EXE", "", false, 4624,
    @"C:\Tools\cmd.exe.bak", "powershell -enc AAAA -ENC", bool(null), int(null),
    "", "İstanbul ß STRASSE Kelvin", true, 4624,
    "cmd.exe", "aaa", false, 2,
    @"\cmd.exe", "-enc", bool(null), 4688,
    "ÇMD.EXE", "whoami /all /all", true, int(null)
]"#;

const PREDICATES: &[&str] = &[
    r#"Image endswith @"\cmd.exe""#,
    r#"Image =~ @"C:\Windows\System32\cmd.exe""#,
    r#"Image == @"C:\Windows\System32\cmd.exe""#,
    r#"Image startswith "c:\\" and not(Image endswith ".exe")"#,
    r#"Image contains "CMD" and Cmd contains "enc""#,
    r#"Image contains_cs "CMD" or Cmd contains_cs "ENC""#,
    r#"Image startswith_cs "cmd" or Image endswith_cs "EXE""#,
    r#"Cmd contains "aa""#,
    r#"Cmd startswith "a" and Cmd endswith "a""#,
    r#"Cmd =~ "aaa" or Cmd == """#,
    r#"Cmd contains "" and Image startswith """#,
    r#"Cmd =~ """#,
    r#"isempty(Image) or isnotempty(Cmd) and Flag"#,
    r#"not(Flag)"#,
    r#"isnull(Flag) or (Image contains "tools" and not(Flag))"#,
    r#"isnotnull(Flag) and Cmd !contains "whoami""#,
    r#"Cmd contains "İSTANBUL" or Cmd contains "strasse""#,
    r#"Cmd =~ "i̇stanbul ß strasse kelvin" or Image =~ "çmd.exe""#,
    r#"Cmd matches regex "(?i)-ENC\\b" and not(Cmd contains "powershell")"#,
    r#"Image matches regex @"^[A-Z]:\\""#,
    r#"isnull(Image) or isnotnull(Cmd) and Cmd !startswith "whoami""#,
    r#"(Cmd contains "/all" and Cmd endswith "/all") or false"#,
    r#"true and not(Image contains "system32" or Image contains "tools")"#,
    r#"Id == 4624 or (isnull(Id) and Cmd contains "a")"#,
    r#"not(Id == 4624) and isnotnull(Id)"#,
    r#"not(Id == 2 or Id == 4688)"#,
];

async fn engine_rows(session: &Session, predicate: &str) -> Vec<u32> {
    let query = format!("{ROWS} | extend _row = row_number() | where {predicate} | project _row");
    let result = session.query(&query).await.unwrap_or_else(|e| panic!("{predicate}: {e}"));
    let mut rows = Vec::new();
    for batch in &result.batches {
        let column = batch.column(0).as_any().downcast_ref::<datafusion::arrow::array::Int64Array>().unwrap();
        rows.extend(column.iter().map(|v| v.unwrap() as u32 - 1));
    }
    rows.sort_unstable();
    rows
}

#[tokio::test]
async fn every_predicate_holds_where_the_engine_says() {
    let session = Session::new();
    let table = session.query(ROWS).await.unwrap();
    let column_type = |name: &str| table.columns.iter().find(|c| c.name == name).map(|c| c.ty);
    let mut builder = PredicateSetBuilder::new();
    for predicate in PREDICATES {
        builder.add(predicate, column_type).unwrap_or_else(|e| panic!("{predicate} refused: {e:?}"));
    }
    let set = builder.build();
    assert_eq!(set.len(), PREDICATES.len());
    let batch = datafusion::arrow::compute::concat_batches(&table.batches[0].schema(), &table.batches).unwrap();
    let matched = set.evaluate(&batch).unwrap();
    let mut checked_rows = 0;
    for (predicate, rows) in PREDICATES.iter().zip(&matched) {
        let expected = engine_rows(&session, predicate).await;
        assert_eq!(rows, &expected, "{predicate}");
        checked_rows += expected.len();
    }
    // The cases are not all empty: most predicates hold somewhere.
    assert!(checked_rows > 20, "{checked_rows}");
}

#[test]
fn what_the_set_cannot_evaluate_is_refused() {
    let column_type = |name: &str| match name {
        "Image" => Some(KqlType::String),
        "EventID" => Some(KqlType::Long),
        "Score" => Some(KqlType::Real),
        _ => None,
    };
    for predicate in [
        "EventID > 4624",
        "Score == 1",
        "EventID == '4624'",
        "Missing contains 'x'",
        "tolower(Image) == 'x'",
        "Image has 'cmd'",
        "Image in ('a', 'b')",
        "Image contains Image",
        "toreal(Image) > 5",
    ] {
        let mut builder = PredicateSetBuilder::new();
        assert!(builder.add(predicate, column_type).is_err(), "{predicate}");
    }
}
