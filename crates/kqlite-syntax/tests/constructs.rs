//! One test per language construct: each query parses without diagnostics
//! and survives print → parse unchanged (see `common::parse_ok`).

mod common;

use common::parse_ok;
use kqlite_syntax::ast::*;

/// The single expression statement of a query.
fn only_expr(query: &Query) -> &Expr {
    match query.statements.as_slice() {
        [Statement::Expr(e)] => e,
        other => panic!("expected one expression statement, got {other:?}"),
    }
}

/// The operators of a pipeline, source first.
fn operators(expr: &Expr) -> Vec<&OperatorKind> {
    match &expr.kind {
        ExprKind::Pipe { input, operator } => {
            let mut ops = operators(input);
            ops.push(&operator.kind);
            ops
        }
        ExprKind::Source(op) => vec![&op.kind],
        _ => Vec::new(),
    }
}

fn last_operator(source: &str) -> OperatorKind {
    let query = parse_ok(source);
    operators(only_expr(&query)).last().cloned().cloned().expect("an operator")
}

#[test]
fn statements() {
    let q = parse_ok("let a = 1; let T = SecurityEvent | where EventID == a; T | count");
    assert_eq!(q.statements.len(), 3);
    parse_ok("let f = (x: long, y: string = \"d\") { x + 1 }; print f(1)");
    parse_ok("let g = (T: (*), n: long) { T | take n }; g(SecurityEvent, 5)");
    parse_ok("let h = (T: (EventID: int, Computer: string)) { T | project Computer }; h(SecurityEvent)");
    parse_ok("let v = view () { SecurityEvent | take 1 }; v");
    parse_ok("let f = () { let x = 1; print x }; f()");
    parse_ok("declare query_parameters(start: datetime, n: long = 10); T | take n");
    parse_ok("set notruncation; T | take 1");
    parse_ok("set query_now = datetime(2024-01-01); T");
    parse_ok("let m = materialize(T | summarize count() by x); m | join (m) on x");
    parse_ok("let total = toscalar(T | count); print total");
    parse_ok("T | take 1;");
    parse_ok("alias database db = cluster('c').database('d'); db.T");
}

#[test]
fn where_extend_project_family() {
    assert!(matches!(last_operator("T | where a > 1"), OperatorKind::Where { .. }));
    assert!(matches!(last_operator("T | filter a > 1"), OperatorKind::Where { .. }));
    match last_operator("T | extend a = 1, b, (c, d) = f(x)") {
        OperatorKind::Extend { columns } => {
            assert_eq!(columns.len(), 3);
            assert!(columns[2].tuple);
            assert_eq!(columns[2].names.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    parse_ok("T | project a, b = c + 1, ['my col'] = d");
    parse_ok("T | project-away a, b*, *c");
    parse_ok("T | project-keep a, Prefix*");
    parse_ok("T | project-rename New = Old, ['x y'] = z");
    parse_ok("T | project-reorder b asc, a*, c desc");
}

#[test]
fn summarize_forms() {
    match last_operator("T | summarize hint.strategy=shuffle c = count(), dcount(x) by bin(TimeGenerated, 1h), k") {
        OperatorKind::Summarize { params, aggregates, by } => {
            assert_eq!(params[0].name, "hint.strategy");
            assert_eq!(aggregates.len(), 2);
            assert_eq!(by.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    parse_ok("T | summarize by x");
    parse_ok("T | summarize arg_max(TimeGenerated, *) by Computer");
    parse_ok("T | summarize (t, c) = arg_max(TimeGenerated, Computer) by k");
    parse_ok("T | summarize count()");
}

#[test]
fn joins_and_lookups() {
    match last_operator("T | join kind=leftouter hint.strategy=broadcast (U | where x) on $left.a == $right.b, c") {
        OperatorKind::Join { params, on, .. } => {
            assert_eq!(params.len(), 2);
            assert_eq!(on.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    parse_ok("T | join U on a");
    for kind in [
        "inner",
        "innerunique",
        "leftouter",
        "rightouter",
        "fullouter",
        "leftanti",
        "rightanti",
        "leftsemi",
        "rightsemi",
        "leftantisemi",
    ] {
        parse_ok(&format!("T | join kind={kind} (U) on a"));
    }
    parse_ok("T | lookup kind=leftouter (U) on a");
    parse_ok("T | lookup U on $left.a == $right.b");
}

#[test]
fn union_forms() {
    parse_ok("union T, U");
    parse_ok("union kind=outer withsource=SourceTable isfuzzy=true T, (U | where x), Sec*");
    parse_ok("T | union U, V");
    parse_ok("union *");
    parse_ok("union workspace('w').T, database('d').U");
}

#[test]
fn mv_expand_and_mv_apply() {
    parse_ok("T | mv-expand x");
    parse_ok("T | mvexpand x");
    parse_ok("T | mv-expand bagexpansion=array with_itemindex=i a = b to typeof(long), c limit 100");
    parse_ok("T | mv-apply x to typeof(long) on (where x > 1 | top 1 by x)");
    parse_ok("T | mv-apply with_itemindex=i e = arr on (summarize s = sum(toint(e)))");
}

#[test]
fn parse_operators() {
    match last_operator(r#"T | parse Msg with * "user=" User:string " port " Port:long *"#) {
        OperatorKind::Parse { pattern, is_where, .. } => {
            assert!(!is_where);
            assert_eq!(pattern.len(), 6);
        }
        other => panic!("{other:?}"),
    }
    parse_ok(r#"T | parse kind=regex flags=Ui Msg with "a(.*)b" x"#);
    parse_ok(r#"T | parse kind=relaxed Msg with "a" x:long "b""#);
    parse_ok(r#"T | parse-where Msg with "from " Ip " port " Port:int"#);
    parse_ok(r#"T | parse-kv Msg as (a: string, b: long) with (pair_delimiter=",", kv_delimiter="=")"#);
    parse_ok(r#"T | parse-kv Msg as (a: string) with (quote="'", greedy=true)"#);
}

#[test]
fn evaluate_make_series_top() {
    parse_ok("T | evaluate bag_unpack(d)");
    parse_ok("T | evaluate hint.distribution=per_node autocluster()");
    parse_ok("evaluate python(typeof(*, x: long), 'code')");
    parse_ok("T | make-series n = count() default = 0 on TimeGenerated from ago(1d) to now() step 1h by Computer");
    parse_ok("T | make-series kind=nonempty avg(x) on t in range(ago(7d), now(), 1d)");
    parse_ok("T | make-series count() on t step 1h");
    parse_ok("T | top 10 by x desc nulls last");
    parse_ok("T | top-nested 3 of a by c = count(), top-nested 2 of b with others = 'rest' by sum(x) asc");
    parse_ok("T | top-nested of a by max(x)");
    parse_ok("T | top-hitters 5 of x by y");
}

#[test]
fn row_operators() {
    parse_ok("T | take 10");
    parse_ok("T | limit 10");
    parse_ok("T | sort by a, b asc nulls first, c desc");
    parse_ok("T | order by a asc");
    parse_ok("T | distinct a, b");
    parse_ok("T | distinct *");
    parse_ok("T | count");
    parse_ok("T | as X | as hint.materialized=true Y");
    parse_ok("T | serialize");
    parse_ok("T | serialize rn = row_number()");
    parse_ok("T | render timechart");
    parse_ok("T | render timechart with (title='x', ysplit=axes, ymin=0)");
    parse_ok("T | sample 10");
    parse_ok("T | sample-distinct 5 of Computer");
    parse_ok("T | getschema");
    parse_ok("T | partition hint.strategy=native by Computer (top 1 by t)");
    parse_ok("T | partition by Computer { top 1 by t }");
    parse_ok("T | facet by a, b with (take 2)");
    parse_ok("T | facet by a");
    parse_ok("T | invoke f(1)");
    parse_ok("T | fork (where x) (top 1 by y)");
    parse_ok("T | fork a = (count) b = (take 1)");
    parse_ok("T | reduce by Message with threshold=0.5");
    parse_ok("T | consume decodeblocks=true");
    parse_ok("T | project-smart");
}

#[test]
fn source_operators() {
    parse_ok("print 1");
    parse_ok("print a = 1, b = 'x', now()");
    parse_ok("range x from 1 to 10 step 1");
    parse_ok("datatable (a: long, b: string) [1, 'x', 2, 'y']");
    parse_ok("datatable (a: long) []");
    parse_ok(
        "externaldata (a: string, b: long) [@'https://example.com/x.csv'] with (format='csv', ignoreFirstRecord=true)",
    );
    parse_ok("find in (T, U*) where x == 1 project a, b");
    parse_ok("find withsource=Src where x has 'a' project-smart");
    parse_ok("find where x == 1");
    parse_ok("search 'evil'");
    parse_ok("search kind=case_sensitive in (T, U) Computer: 'dc01' and 'x'");
    parse_ok("T | search * has 'x'");
}

/// Extra commas Kusto's parser takes in table literals and schemas (checked
/// with Microsoft's parser): a leading and a trailing one in a `datatable`'s
/// schema and rows (ASIM's FileEventMicrosoftTableStorage writes its rows
/// `[ , "CreateTable", "FileCreated" , …]`, vimRegistryEventEmpty its schema
/// `(…, Process:string, )`), a trailing one in a parameter's schema; none
/// twice, and none in `typeof(…)`.
#[test]
fn extra_commas_in_table_literals() {
    parse_ok(
        "datatable(Op: string, Type: string)[\n  , 'CreateTable', 'FileCreated'\n  , 'DeleteTable', 'FileDeleted'\n]",
    );
    parse_ok("datatable(a: string, b: long, )[]");
    parse_ok("datatable(, a: string)['x', ]");
    parse_ok("datatable(a: string)[, ]");
    parse_ok("externaldata(a: string, )['https://example.com/x.csv']");
    parse_ok("let f = (T: (a: string, )) { T | project a }; f(datatable(a: string)['x'])");
    for rejected in [
        "datatable(a: string)[, , 'x']",
        "datatable(a: string)['x', , ]",
        "datatable(a: string, , )[]",
        "print typeof(a: string, )",
        "let f = (T: (, a: string)) { T }; print 1",
    ] {
        assert!(!common::parse_errors(rejected).is_empty(), "{rejected:?} should not parse");
    }
}

#[test]
fn string_literals() {
    for s in [
        r#""a\"b""#,
        r"'it\'s'",
        r"@'C:\Windows'",
        r#"@"say ""hi""""#,
        "h'secret'",
        "H@\"v\"",
        "```multi\nline```",
        "'a' \"b\"",
    ] {
        parse_ok(&format!("print x = {s}"));
    }
}

#[test]
fn numeric_and_time_literals() {
    for lit in [
        "1",
        "0x1F",
        "1.5",
        "1e10",
        "1.5e-3",
        "1d",
        "1.5h",
        "100ms",
        "10microsecond",
        "1tick",
        "2min",
        "30s",
        "timespan(1.02:03:04)",
        "time(1d)",
        "datetime(2017-01-01)",
        "datetime(2017-01-01 10:00:00.5)",
        "datetime(null)",
        "date(2017-01-01)",
        "guid(74be27de-1e4e-49d9-b579-fe0b331d3642)",
        "int(null)",
        "long(-5)",
        "real(nan)",
        "real(+inf)",
        "decimal(1.5)",
        "bool(true)",
        "true",
        "false",
        "null",
    ] {
        parse_ok(&format!("print x = {lit}"));
    }
}

#[test]
fn dynamic_literals() {
    let q = parse_ok(r#"print d = dynamic({"a": [1, -2.5, "x", null, true, {"b": datetime(2020-01-01)}], "c": {}})"#);
    let printed = q.to_string();
    assert!(printed.contains("dynamic("), "{printed}");
    parse_ok("print dynamic([])");
    parse_ok("print dynamic(null)");
    parse_ok("print dynamic(['a', 'b'])");
    parse_ok("print dynamic([1d, guid(74be27de-1e4e-49d9-b579-fe0b331d3642)])");
}

#[test]
fn comparison_and_string_operators() {
    for op in ["==", "!=", "<>", "<", "<=", ">", ">=", "=~", "!~"] {
        parse_ok(&format!("T | where a {op} b"));
    }
    for base in ["has", "hasprefix", "hassuffix", "contains", "startswith", "endswith"] {
        for form in [base.to_string(), format!("!{base}"), format!("{base}_cs"), format!("!{base}_cs")] {
            match last_operator(&format!("T | where a {form} 'x'")) {
                OperatorKind::Where { predicate } => match predicate.kind {
                    ExprKind::Binary { op: BinaryOp::Str(op), .. } => {
                        assert_eq!(op.negated, form.starts_with('!'), "{form}");
                        assert_eq!(op.case_sensitive, form.ends_with("_cs"), "{form}");
                    }
                    other => panic!("{form}: {other:?}"),
                },
                other => panic!("{other:?}"),
            }
        }
    }
    parse_ok("T | where a matches regex '^x+$'");
    parse_ok("T | where a in ('x', 'y') and b !in (1, 2) and c in~ ('A') and d !in~ ('b')");
    parse_ok("T | where a in (U | project a)");
    parse_ok("let L = dynamic(['a']); T | where a in (L) and b has_any (L) and c has_all ('x', 'y')");
    parse_ok("T | where a between (1 .. 10) and b !between (datetime(2020-01-01) .. now())");
    // Kusto accepts `=` for equality inside a predicate.
    parse_ok("T | where a = 'x'");
}

#[test]
fn precedence() {
    let q = parse_ok("print a or b and c == 1 + 2 * 3");
    let printed = q.to_string();
    assert!(printed.contains("a or b and c == 1 + 2 * 3"), "{printed}");
    let OperatorKind::Print { columns } = &operators(only_expr(&q))[0] else { panic!() };
    let ExprKind::Binary { op: BinaryOp::Or, right, .. } = &columns[0].expr.kind else { panic!("or at the top") };
    let ExprKind::Binary { op: BinaryOp::And, right, .. } = &right.kind else { panic!("and under or") };
    let ExprKind::Binary { op: BinaryOp::Eq, right, .. } = &right.kind else { panic!("== under and") };
    let ExprKind::Binary { op: BinaryOp::Add, right, .. } = &right.kind else { panic!("+ under ==") };
    assert!(matches!(right.kind, ExprKind::Binary { op: BinaryOp::Mul, .. }));
    parse_ok("print -x, +1, -(a + b)");
    parse_ok("print (a or b) and c");
}

#[test]
fn names_and_access() {
    parse_ok("T | project ['col with space'], [\"quoted\"], ['where']");
    parse_ok("T | extend a = d.b['c'][0].e, f = d['x'].y, g = arr.[0]");
    parse_ok("T | join U on $left.A == $right.B");
    parse_ok("T | summarize arg_max(t, *)");
    parse_ok("T | extend x = f(a = 1, b = 'y')");
    parse_ok("cluster('c').database('d').T | take 1");
    parse_ok("print typeof(long), typeof(string)");
}

#[test]
fn comments_and_whitespace() {
    parse_ok("// leading comment\nT // trailing\n| where x == 1 // why\n// between\n| count");
}

#[test]
fn spans_cover_their_source() {
    let src = "T | where EventID == 4624";
    let q = parse_ok(src);
    let e = only_expr(&q);
    assert_eq!(&src[e.span.range()], src);
    let ExprKind::Pipe { operator, .. } = &e.kind else { panic!() };
    assert_eq!(&src[operator.span.range()], "where EventID == 4624");
    let OperatorKind::Where { predicate } = &operator.kind else { panic!() };
    assert_eq!(&src[predicate.span.range()], "EventID == 4624");
}

#[test]
fn comparison_levels_follow_microsoft() {
    // Levels nest (`<` inside `==`, `has` inside `<`) but do not chain.
    for src in ["print 1 < 2 == true", "print a has 'x' == true", "print a < b has 'x'", "print a =~ b == c"] {
        parse_ok(src);
    }
    for src in [
        "print 1 == 2 == 3",
        "print 1 < 2 < 3",
        "print a has 'x' has 'y'",
        "print a =~ b has 'c'",
        "print a in (1) == true",
    ] {
        assert!(!common::parse_errors(src).is_empty(), "{src} should be rejected");
    }
}

#[test]
fn where_name_equals_value_reads_as_equality() {
    match last_operator("T | where a = 'x'") {
        OperatorKind::Where { predicate } => {
            assert!(matches!(predicate.kind, ExprKind::Binary { op: BinaryOp::Eq, .. }))
        }
        other => panic!("{other:?}"),
    }
    assert!(!common::parse_errors("print x = 1 = 2").is_empty());
}

#[test]
fn implicit_input_pipelines() {
    parse_ok("print x = toscalar(where a | count)");
    parse_ok("T | mv-apply x on (where x > 1 | summarize count())");
}

#[test]
fn unicode_and_bracketed_function_names() {
    // Found by the fuzzer: a name that needs brackets, called as a function.
    parse_ok("T | where TimeGenerated > ['\u{61e}go'](24h)");
    parse_ok("print ['my f'](1)");
    parse_ok("print ['Größe'] = 1");
    // Kusto's names are ASCII: a bare `Größe` is an error there.
    assert!(!common::parse_errors("print Größe = 1").is_empty());
}

#[test]
fn unicode_spaces_separate_tokens() {
    // Checked against Microsoft's parser: these are whitespace ...
    for space in ['\u{a0}', '\u{202f}', '\u{2003}', '\u{200b}', '\u{3000}', '\u{feff}', '\u{c}'] {
        parse_ok(&format!("T{space}|{space}where{space}a{space}=={space}1{space}"));
        parse_ok(&format!("print{space}x=1"));
    }
    // ... and these are not.
    for other in ['\u{85}', '\u{2028}', '\u{200c}', '\u{ad}', '\u{b}'] {
        assert!(!common::parse_errors(&format!("print{other}x=1")).is_empty(), "{other:?} is not whitespace");
    }
}

#[test]
fn names_that_start_with_digits() {
    match last_operator("T | project 3rdPartyApp = 1, 2022MostExploited, a.3rd, 10mins = 2, 1e5x = 3") {
        OperatorKind::Project { columns } => {
            let names: Vec<&str> = columns.iter().flat_map(|c| c.names.iter().map(|n| n.name.as_str())).collect();
            assert_eq!(names, ["3rdPartyApp", "10mins", "1e5x"]);
        }
        other => panic!("{other:?}"),
    }
    parse_ok("let 3rd = 5; datatable(2ndCol: string)['x'] | where 2ndCol == 3rd");
    // Whole literals stay literals.
    let q = parse_ok("print a = 1d, b = 10m, c = 1e5, d = 0x1F, e = 1.5h");
    assert!(!q.to_string().contains('['), "{q}");
    for src in ["print 1d = 1", "print 0x1F = 1", "print 1e5 = 1"] {
        assert!(!common::parse_errors(src).is_empty(), "{src} should be rejected");
    }
}

#[test]
fn legacy_string_operator_spellings() {
    for (src, negated, case_sensitive) in [
        ("T | where a notcontains 'x'", true, false),
        ("T | where a notcontainscs 'x'", true, true),
        ("T | where a containscs 'x'", false, true),
    ] {
        match last_operator(src) {
            OperatorKind::Where { predicate: Expr { kind: ExprKind::Binary { op: BinaryOp::Str(op), .. }, .. } } => {
                assert_eq!((op.kind, op.negated, op.case_sensitive), (StringOpKind::Contains, negated, case_sensitive))
            }
            other => panic!("{src}: {other:?}"),
        }
    }
}

#[test]
fn keywords_as_declared_names() {
    // Microsoft's parser takes these reserved words where a name is declared ...
    parse_ok("T | extend where = 1, as = 2, title = 3 | project in = 1, by = 2 | summarize of = count()");
    parse_ok("print print = 1");
    parse_ok("datatable(title: string, as: long)['x', 1]");
    parse_ok("let f = (set: long) { ['set'] }; print f(1)");
    parse_ok("T | extend (as, where) = f(x)");
    // ... but not as references, let names, or for these words at all.
    for src in [
        "T | where as > 1",
        "let where = 1; print 1",
        "T | extend kind = 1",
        "let true = 1; print 1",
        "datatable(kind: string)['x']",
        "T | extend int64 = 1",
        "T | where boolean > 1",
        "T | project uniqueid",
        "print external_data = 1",
    ] {
        assert!(!common::parse_errors(src).is_empty(), "{src} should be rejected");
    }
}

#[test]
fn reserved_words_and_statement_rules() {
    for src in [
        "print and(1)",
        "print materialize(T)",
        "T | union materialize(T)",
        "; T",
        "let a = 1;; a",
        "let = 5; T",
        "T | where x in ()",
        "T | join kind=by (U) on a",
        "print f(T | where a)",
    ] {
        assert!(!common::parse_errors(src).is_empty(), "{src} should be rejected");
    }
    parse_ok("let m = materialize(T | where a); m");
    parse_ok("T | project-away");
    parse_ok("T | parse x with a where \"<\" b");
}

#[test]
fn where_equals_round_trips_with_any_value() {
    // Found by the fuzzer: `where A = B in~ (…)` printed as `A == B in~ (…)`.
    parse_ok("T | where Eve = ntCategoryType in~ (\"exchange\", \"gmail\")");
}

#[test]
fn evaluate_output_schema_and_project_by_names() {
    match last_operator("T | evaluate bag_unpack(d) : (*, Name: string, Age: long)") {
        OperatorKind::Evaluate { output: Some(schema), .. } => assert!(schema.open && schema.columns.len() == 2),
        other => panic!("{other:?}"),
    }
    match last_operator("T | project-by-names 'Name', column_names_of(S), cols") {
        OperatorKind::ProjectByNames { columns } => assert_eq!(columns.len(), 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn scan_operator() {
    let src = "T | scan with_match_id=m declare (start: datetime, n: long = 0) with (
        step s1 output=none: Event == 'login' => start = Timestamp;
        step s2 output=last: Event == 'logout' => n = s1.n + 1, start = s1.start;
        step s3: true;
    )";
    match last_operator(src) {
        OperatorKind::Scan { params, declare, steps } => {
            assert_eq!((params.len(), declare.len(), steps.len()), (1, 2, 3));
            assert_eq!(steps[1].output.as_ref().map(|o| o.name.as_str()), Some("last"));
            assert_eq!(steps[1].assignments.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    parse_ok("T | scan with ()");
    // Every step ends with ';', as in Microsoft's parser.
    assert!(!common::parse_errors("T | scan with (step s1: true)").is_empty());
}

#[test]
fn make_graph_forms() {
    match last_operator("E | make-graph src --> dst with (N | take 1) on name, Other on id") {
        OperatorKind::MakeGraph(graph) => {
            assert!(graph.directed && graph.node_id.is_none() && graph.partitioned_by.is_none());
            assert_eq!((graph.source.name.as_str(), graph.target.name.as_str()), ("src", "dst"));
            assert_eq!(graph.nodes.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    match last_operator("E | make-graph a -- b with_node_id=id") {
        OperatorKind::MakeGraph(graph) => {
            assert!(!graph.directed);
            assert_eq!(graph.node_id.map(|n| n.name), Some("id".to_string()));
        }
        other => panic!("{other:?}"),
    }
    match last_operator(
        "E | make-graph a-->b with N on n partitioned-by tenant (graph-match (x)-->(y) project x | take 1)",
    ) {
        OperatorKind::MakeGraph(graph) => {
            let partition = graph.partitioned_by.expect("partitioned-by");
            assert_eq!(partition.column.name, "tenant");
            assert!(matches!(partition.body.kind, ExprKind::Paren(_)));
        }
        other => panic!("{other:?}"),
    }
    // Microsoft's parser: no backward arrow, no dotted columns, no `with` and
    // `with_node_id` together, and the partition body in parentheses.
    for bad in [
        "E | make-graph a <-- b",
        "E | make-graph a.b --> c",
        "E | make-graph a - -> b",
        "E | make-graph a --> b with N on n with_node_id=x",
        "E | make-graph a --> b partitioned-by p graph-to-table nodes",
    ] {
        assert!(!common::parse_errors(bad).is_empty(), "{bad} should not parse");
    }
}

#[test]
fn graph_match_patterns() {
    let src = "G | graph-match cycles=none (a)-[e*1..3]->(b)<-[f]-(c)-[]-(), (c)-->(d)<--(e)--(f)
        where a.name == 'x' and all(e, w > 1)
        project From = a.name, path = map(e, w), d.name";
    match last_operator(src) {
        OperatorKind::GraphMatch(m) => {
            assert!(!m.shortest_paths);
            assert_eq!((m.params.len(), m.patterns.len(), m.project.len()), (1, 2, 3));
            assert!(m.predicate.is_some());
            let directions: Vec<_> = m.patterns[0].steps.iter().map(|(edge, _)| edge.direction).collect();
            assert_eq!(directions, [EdgeDirection::Forward, EdgeDirection::Backward, EdgeDirection::Any]);
            assert!(m.patterns[0].steps[0].0.range.is_some());
            assert!(m.patterns[0].steps[2].1.name.is_none());
            let directions: Vec<_> = m.patterns[1].steps.iter().map(|(edge, _)| edge.direction).collect();
            assert_eq!(directions, [EdgeDirection::Forward, EdgeDirection::Backward, EdgeDirection::Any]);
        }
        other => panic!("{other:?}"),
    }
    match last_operator("G | graph-shortest-paths output=all (s)-[e*1..5]->(d) where s.id == 1 project d") {
        OperatorKind::GraphMatch(m) => assert!(m.shortest_paths && m.params.len() == 1),
        other => panic!("{other:?}"),
    }
    // Bounds are operands (`x`, `(1)`, `-1`), spaces inside brackets are fine;
    // `where` and `project` are optional.
    parse_ok("G | graph-match (a)-[e * x .. (y)]->(b)");
    parse_ok("G | graph-match (a)-[*-1..3]->(b) where a.x == 1 | take 1");
    parse_ok("G | graph-match (a) project a");
    parse_ok("G | graph-match (a)<-[e]->(b) project a");
    for bad in [
        "G | graph-match (a)-[e*3]->(b)",
        "G | graph-match (a)-[e*1..]->(b)",
        "G | graph-match (a)-[e*1..y+1]->(b)",
        "G | graph-match (a) - [e]->(b)",
        "G | graph-match (a) -- > (b)",
        "G | graph-match (a)<-->(b)",
        "G | graph-match (where)-->(b)",
        "G | graph-match (a:Label)-->(b)",
        "G | graph-match hint.x=1 (a)-->(b)",
        "G | graph-match (a)-[e]->(b) project a where a",
    ] {
        assert!(!common::parse_errors(bad).is_empty(), "{bad} should not parse");
    }
}

#[test]
fn graph_to_table_and_components() {
    match last_operator("G | graph-to-table nodes as N with_node_id=id, edges as E with_source_id=s with_target_id=t") {
        OperatorKind::GraphToTable { outputs } => {
            assert_eq!(outputs.len(), 2);
            assert_eq!(outputs[0].elements, GraphElements::Nodes);
            assert_eq!(outputs[1].name.as_ref().map(|n| n.name.as_str()), Some("E"));
            assert_eq!(outputs[1].params.len(), 2);
        }
        other => panic!("{other:?}"),
    }
    parse_ok("G | graph-to-table edges");
    parse_ok("G | graph-to-table nodes as N; N");
    match last_operator("G | graph-mark-components kind=weak with_component_id=c") {
        OperatorKind::GraphMarkComponents { params } => assert_eq!(params.len(), 2),
        other => panic!("{other:?}"),
    }
    parse_ok("G | graph-mark-components");
    for bad in [
        "G | graph-to-table edges with_source_id=s as E",
        "G | graph-to-table vertices",
        "G | graph-mark-components foo=1",
        // Microsoft's parser does not know `graph-merge`.
        "G | graph-merge H",
    ] {
        assert!(!common::parse_errors(bad).is_empty(), "{bad} should not parse");
    }
}

#[test]
fn like_operators() {
    for (src, negated, case_sensitive) in [
        ("T | where a like 'x%'", false, false),
        ("T | where a notlike 'x'", true, false),
        ("T | where a likecs 'x'", false, true),
        ("T | where a notlikecs 'x'", true, true),
    ] {
        match last_operator(src) {
            OperatorKind::Where { predicate: Expr { kind: ExprKind::Binary { op: BinaryOp::Str(op), .. }, .. } } => {
                assert_eq!(op, StringOp { kind: StringOpKind::Like, negated, case_sensitive }, "{src}");
            }
            other => panic!("{other:?}"),
        }
    }
    // Microsoft's parser has no `!like` and no `like_cs`.
    assert!(!common::parse_errors("T | where a !like 'x'").is_empty());
    assert!(!common::parse_errors("T | where a like_cs 'x'").is_empty());
}

#[test]
fn render_column_lists() {
    match last_operator(
        "T | render timechart kind=stacked with (ycolumns=a, b, title='x', series=c, anomalycolumns=d, e)",
    ) {
        OperatorKind::Render { properties, .. } => {
            let names: Vec<_> = properties.iter().map(|p| p.name.as_str()).collect();
            assert_eq!(names, ["kind", "ycolumns", "title", "series", "anomalycolumns"]);
            assert!(matches!(&properties[1].value, RenderValue::Columns(c) if c.len() == 2));
            assert!(matches!(&properties[3].value, RenderValue::Columns(c) if c.len() == 1));
            assert!(matches!(&properties[2].value, RenderValue::Expr(_)));
        }
        other => panic!("{other:?}"),
    }
    parse_ok("T | render piechart title='x' accumulate=true");
    // As in Microsoft's parser: lists only for the column-list properties,
    // names only in them, known property names, few properties before `with`.
    for bad in [
        "T | render timechart with (xcolumn=a, b)",
        "T | render timechart with (ycolumns='a', 'b')",
        "T | render timechart with (ycolumns=a, b,)",
        "T | render timechart with (foo=1)",
        "T | render timechart ycolumns=a",
        "T | render timechart with (title='a') with (kind=stacked)",
    ] {
        assert!(!common::parse_errors(bad).is_empty(), "{bad} should not parse");
    }
}

/// Forms Microsoft's parser takes or refuses where kqlite used to differ.
#[test]
fn operand_forms_as_microsoft_parses_them() {
    match &only_expr(&parse_ok("print [1 + 2]")).kind {
        ExprKind::Source(op) => match &op.kind {
            OperatorKind::Print { columns } => assert!(matches!(columns[0].expr.kind, ExprKind::Bracketed(_))),
            other => panic!("{other:?}"),
        },
        other => panic!("{other:?}"),
    }
    parse_ok("T | extend x = [a][0], y = [a].b, z = f([a])");
    // `['name']` stays a name.
    assert!(
        matches!(last_operator("T | project ['a b']"), OperatorKind::Project { columns } if matches!(columns[0].expr.kind, ExprKind::Name(_)))
    );
    parse_ok("print f(externaldata(a: string)['https://x/y.csv'] with (format='csv'))");
    parse_ok("T | where x in (externaldata(a: string)['u'])");
    parse_ok("print f(datatable(a: long)[1])");
    for bad in [
        "print x = [1, 2]",
        "T | where x in ('a', where 'x')",
        "T | where x in (take 1)",
        "T | parse a with 'x' b and 'y' c",
        "T | parse a with 'x' b or 'y' c",
        "print f(print 1)",
    ] {
        assert!(!common::parse_errors(bad).is_empty(), "{bad} should not parse");
    }
    parse_ok("T | where x in (union A, B)");
    parse_ok("T | where x in (print 1)");
}
