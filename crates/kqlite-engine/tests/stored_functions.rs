//! Stored functions (Sentinel parsers): parsed on first use, called with
//! defaults, named arguments or as views, calling each other, and their
//! errors located in their files.

use kqlite_engine::output::{write, Format};
use kqlite_engine::{ColumnDef, KqlType, Origin, Session, StoredFunction, StoredParam};

fn param(name: &str, ty: &str, default: Option<&str>) -> StoredParam {
    StoredParam { name: name.to_string(), ty: ty.to_string(), default: default.map(str::to_string) }
}

fn function(name: &str, params: Vec<StoredParam>, body: &str, file: &str, line: usize) -> StoredFunction {
    StoredFunction {
        name: name.to_string(),
        params,
        body: body.to_string(),
        origin: Origin { file: file.to_string(), line, indent: 2 },
    }
}

/// A session with an `Events` table and an ASIM-like pair of parsers: a
/// source parser with defaulted parameters and a unifying one calling it.
fn session() -> Session {
    let mut session = Session::with_partitions(1);
    session
        .register_batches(
            "Events",
            vec![ColumnDef::new("User", KqlType::String), ColumnDef::new("Ok", KqlType::Bool)],
            Vec::new(),
        )
        .unwrap();
    session.add_stored_function(
        function(
            "vimAuthSource",
            vec![
                param("starttime", "datetime", Some("datetime(null)")),
                param("username_has_any", "dynamic", Some("dynamic([])")),
                param("disabled", "bool", Some("false")),
            ],
            "let parser = (starttime:datetime, disabled:bool) {\n  datatable(TargetUsername:string, T:datetime)['alice', datetime(2024-01-02), 'bob', datetime(2024-01-01)]\n  | where isnull(starttime) or T >= starttime\n  | where not(disabled)\n};\nparser(starttime, disabled)\n| where array_length(username_has_any) == 0 or TargetUsername has_any (username_has_any)",
            "vimAuthSource.yaml",
            20,
        ),
        &["_Im_AuthSource".to_string()],
    );
    session.add_stored_function(
        function(
            "imAuth",
            vec![param("starttime", "datetime", Some("datetime(null)")), param("disabled", "bool", Some("false"))],
            "union vimAuthSource(starttime, disabled=disabled), (Events | project TargetUsername = User, T = datetime(null))",
            "imAuth.yaml",
            30,
        ),
        &[],
    );
    session.add_stored_function(
        function("Broken", Vec::new(), "Events\n| where NoSuchColumn > 0", "Broken.yaml", 40),
        &[],
    );
    session.add_stored_function(
        function("CallsBroken", Vec::new(), "print x = 1\n| join (Broken) on $left.x == $right.x", "Calls.yaml", 50),
        &[],
    );
    session.add_stored_function(function("BadSyntax", Vec::new(), "Events | where (", "Bad.yaml", 60), &[]);
    session.add_stored_function(function("Rows", vec![param("T", "(*)", None)], "T | count", "Rows.kql", 1), &[]);
    session
}

async fn csv(session: &Session, query: &str) -> String {
    let result = session.query(query).await.unwrap_or_else(|e| panic!("{query}: {}", e.render(query, "q")));
    let mut out = Vec::new();
    write(&result, Format::Csv, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[tokio::test]
async fn defaults_named_arguments_views_and_nested_calls() {
    let session = session();
    // Fewer arguments than parameters: the rest take their defaults.
    assert_eq!(csv(&session, "vimAuthSource() | count").await, "Count\n2\n");
    assert_eq!(
        csv(&session, "vimAuthSource(datetime(2024-01-02)) | project TargetUsername").await,
        "TargetUsername\nalice\n"
    );
    // Named arguments, in any order.
    assert_eq!(
        csv(&session, "vimAuthSource(username_has_any=dynamic(['bob'])) | project TargetUsername").await,
        "TargetUsername\nbob\n"
    );
    assert_eq!(csv(&session, "vimAuthSource(disabled=true) | count").await, "Count\n0\n");
    // Without parentheses, like a table, and under its built-in alias.
    assert_eq!(csv(&session, "vimAuthSource | count").await, "Count\n2\n");
    assert_eq!(csv(&session, "_Im_AuthSource | count").await, "Count\n2\n");
    // A stored function calling another, in a union with a table.
    assert_eq!(csv(&session, "imAuth | count").await, "Count\n2\n");
    assert_eq!(csv(&session, "union imAuth, (print x = 1) | count").await, "Count\n3\n");
    // A tabular parameter.
    assert_eq!(csv(&session, "Rows(vimAuthSource)").await, "Count\n2\n");
    // A query's own let shadows a stored function.
    assert_eq!(csv(&session, "let imAuth = datatable(a:long)[1]; imAuth | count").await, "Count\n1\n");
}

#[tokio::test]
async fn errors_in_bodies_name_the_file_line_and_column() {
    let session = session();
    let error = session.query("Broken | count").await.err().unwrap();
    assert!(error.to_string().contains("unknown name 'NoSuchColumn'"), "{error}");
    assert!(error.to_string().contains("(in Broken at Broken.yaml:41:11)"), "{error}");
    // Through a caller: both places, innermost first.
    let error = session.query("CallsBroken").await.err().unwrap();
    assert!(
        error.to_string().contains("(in Broken at Broken.yaml:41:11) (in CallsBroken at Calls.yaml:51:"),
        "{error}"
    );
    let error = session.query("BadSyntax | count").await.err().unwrap();
    assert!(error.to_string().contains("(in BadSyntax at Bad.yaml:60:"), "{error}");
    let error = session.query("vimAuthSource(1, 2, 3, 4)").await.err().unwrap();
    assert!(error.to_string().contains("takes 3 arguments, got 4"), "{error}");
}

#[tokio::test]
async fn tables_read_go_through_stored_functions() {
    let session = session();
    let tables = session.tables_read("imAuth | where TargetUsername == 'x'").unwrap();
    assert_eq!(tables.into_iter().collect::<Vec<_>>(), vec!["Events".to_string()]);
    assert!(session.tables_read("vimAuthSource").unwrap().is_empty());
    assert!(session.stored_function_names().contains(&"_Im_AuthSource".to_string()));
}

#[tokio::test]
async fn a_stored_function_named_after_a_table_reads_the_table() {
    let mut session = session();
    // A text parser whose file is named after the table it reads, and a
    // pair that call each other: neither recurses.
    session.add_stored_function(function("Events", Vec::new(), "Events | extend Parsed = true", "Events.txt", 1), &[]);
    session.add_stored_function(function("PingA", Vec::new(), "PingB", "a.kql", 1), &[]);
    session.add_stored_function(function("PingB", Vec::new(), "PingA", "b.kql", 1), &[]);
    assert_eq!(csv(&session, "Events | getschema | project ColumnName").await, "ColumnName\nUser\nOk\n");
    let error = session.query("PingA").await.err().unwrap().to_string();
    assert!(error.contains("unknown name 'PingA' (in PingB at b.kql:1:3) (in PingA at a.kql:1:3)"), "{error}");
}
