//! Sigma correlation rules compiled to KQL and run on kqlite's engine: each
//! type, group-by, aliases, the edges of the timespan, the condition
//! operators, chaining, and the rules that are rejected with a reason.
//!
//! Each test's YAML holds the base rules and the correlation (as Sigma's
//! multi-document files do); the base rules' events are `datatable`
//! stand-ins returned by the `compile_referenced` closure, which projects
//! exactly the fields the correlation asks for, so an alias that is not
//! resolved fails to bind.

use kqlite_engine::output::{write, Format};
use kqlite_sigma::ast::CorrelationRule;
use kqlite_sigma::{
    compile_correlation, compile_correlation_events, parse_documents, CompiledRule, Unsupported, UnsupportedReason,
};

/// The base rules of a test: rule name → its events as a `datatable`.
struct Events<'a>(&'a [(&'a str, &'a str)]);

impl Events<'_> {
    fn compile(&self, reference: &str, fields: &[String]) -> Result<CompiledRule, Unsupported> {
        let Some((_, table)) = self.0.iter().find(|(name, _)| *name == reference) else {
            return Err(Unsupported {
                rule: reference.into(),
                reason: UnsupportedReason::MissingRule(reference.into()),
            });
        };
        let projected: Vec<String> = fields.iter().map(|f| format!(", ['{f}']")).collect();
        Ok(CompiledRule {
            id: reference.into(),
            title: reference.into(),
            query: format!(
                "// the stand-in for {reference}\n{table}\n| project TimeGenerated{}\n// trailing comment",
                projected.concat()
            ),
            tables: vec![format!("Table_{reference}")],
        })
    }
}

/// The one correlation among the documents of `yaml`.
fn correlation(yaml: &str) -> CorrelationRule {
    let documents = parse_documents(yaml, "test.yml").expect("the test's YAML parses");
    assert!(documents.errors.is_empty(), "{:?}", documents.errors);
    let mut correlations = documents.correlations;
    assert_eq!(correlations.len(), 1, "one correlation in the test's YAML");
    correlations.remove(0)
}

/// Runs `query` on a catalog session; the result as CSV, header first.
async fn run(query: &str) -> String {
    let session = kqlite_ingest::catalog::new_session();
    let result = session.query(query).await.unwrap_or_else(|e| panic!("{}\n{query}", e.render(query, "q")));
    let mut out = Vec::new();
    write(&result, Format::Csv, &mut out).expect("CSV output");
    String::from_utf8(out).expect("UTF-8")
}

/// Compiles the correlation in `yaml` over `events` and runs it, sorted by
/// `sort` (a column): the CSV.
async fn correlate(yaml: &str, events: &Events<'_>, sort: &str) -> String {
    let compiled = compile_correlation(&correlation(yaml), &|r, f| events.compile(r, f)).expect("compiles");
    run(&format!("{}\n| sort by {sort} asc", compiled.rule.query)).await
}

/// The values of `column` in the CSV, one per row.
fn column(csv: &str, column: &str) -> Vec<String> {
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let i = header.iter().position(|h| *h == column).unwrap_or_else(|| panic!("no column {column} in {csv}"));
    lines.map(|l| l.split(',').nth(i).unwrap_or_default().to_string()).collect()
}

const LOGONS: &str = r#"datatable(TimeGenerated:datetime, User:string, Host:string, Bytes:string)[
    datetime(2024-01-01 00:00:00), "alice", "h1", "10",
    datetime(2024-01-01 00:30:00), "alice", "h2", "20",
    datetime(2024-01-01 01:00:00), "alice", "h2", "60",
    datetime(2024-01-01 00:00:00), "bob", "h1", "1",
    datetime(2024-01-01 00:30:00), "bob", "h2", "2",
    datetime(2024-01-01 01:00:00.0000001), "bob", "h3", "3",
    datetime(2024-01-01 05:00:00), "carol", "", "x",
    datetime(2024-01-01 05:00:01), "carol", "", "",
    datetime(2024-01-01 10:00:00), "dave", "h9", "7",
]"#;

const LOGON_RULE: &str = "
title: Logon
name: logon
logsource: {product: windows, service: security}
detection:
    selection: {EventID: 4624}
    condition: selection
---
";

fn with_logon_rule(correlation: &str) -> String {
    format!("{LOGON_RULE}{correlation}")
}

#[tokio::test]
async fn event_count_counts_the_events_of_each_group_in_a_sliding_window() {
    let yaml = with_logon_rule(
        "title: Many logons
id: 7d3f1a2e-0000-4000-8000-000000000001
correlation:
    type: event_count
    rules: [logon]
    group-by: [User]
    timespan: 1h
    condition: {gte: 3}
",
    );
    let out = correlate(&yaml, &Events(&[("logon", LOGONS)]), "User").await;
    // alice's three events span exactly the timespan (both edges count);
    // bob's last is one tick beyond it, so no window of bob's holds three.
    assert_eq!(
        out,
        "User,TimeGenerated,StartTime,EndTime,AggregateValue,EventCount\n\
         alice,2024-01-01T01:00:00Z,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,3,3\n"
    );
}

#[tokio::test]
async fn the_window_slides_across_bucket_boundaries() {
    // Two events 20 minutes apart on either side of a full hour: tumbling
    // one-hour buckets would never see them together.
    let events = r#"datatable(TimeGenerated:datetime, User:string)[
        datetime(2024-01-01 00:50:00), "alice",
        datetime(2024-01-01 01:10:00), "alice",
    ]"#;
    let yaml = with_logon_rule(
        "title: Two logons
correlation:
    type: event_count
    rules: [logon]
    group-by: [User]
    timespan: 30m
    condition: {gte: 2}
",
    );
    let out = correlate(&yaml, &Events(&[("logon", events)]), "User").await;
    assert_eq!(column(&out, "StartTime"), ["2024-01-01T00:50:00Z"]);
    assert_eq!(column(&out, "EndTime"), ["2024-01-01T01:10:00Z"]);
}

#[tokio::test]
async fn condition_operators_and_ranges() {
    // The counts of each user's windows: alice 1, 2, 3; bob 1, 2, 2; carol
    // 1, 2; dave 1 (every window holds at least its own event).
    let cases: [(&str, &[&str]); 8] = [
        ("{gt: 2}", &["alice"]),
        ("{gte: 2}", &["alice", "bob", "carol"]),
        ("{lt: 2}", &["alice", "bob", "carol", "dave"]),
        ("{lte: 0}", &[]),
        ("{eq: 3}", &["alice"]),
        ("{neq: 1}", &["alice", "bob", "carol"]),
        ("{gt: 1, lte: 2}", &["alice", "bob", "carol"]),
        ("{gt: 2, lte: 3}", &["alice"]),
    ];
    for (condition, users) in cases {
        let yaml = with_logon_rule(&format!(
            "title: Counted logons
correlation:
    type: event_count
    rules: [logon]
    group-by: [User]
    timespan: 1h
    condition: {condition}
"
        ));
        let out = correlate(&yaml, &Events(&[("logon", LOGONS)]), "User").await;
        assert_eq!(column(&out, "User"), users, "condition {condition}: {out}");
    }
}

#[tokio::test]
async fn value_count_counts_distinct_non_empty_values() {
    let yaml = with_logon_rule(
        "title: Many hosts
correlation:
    type: value_count
    rules: [logon]
    group-by: [User]
    timespan: 1h
    condition: {field: Host, gte: 2}
",
    );
    let out = correlate(&yaml, &Events(&[("logon", LOGONS)]), "User").await;
    // alice: h1, h2 (twice) within the hour; bob: h1, h2 in his first window;
    // carol's empty hosts are no values.
    assert_eq!(column(&out, "User"), ["alice", "bob"]);
    assert_eq!(column(&out, "AggregateValue"), ["2", "2"]);
    assert_eq!(column(&out, "EndTime"), ["2024-01-01T00:30:00Z", "2024-01-01T00:30:00Z"]);
}

#[tokio::test]
async fn value_sum_avg_percentile_and_median() {
    let cases = [
        // alice's windows: 10, 10+20, 10+20+60; bob's: 1, 3, 5 (his 1st event drops out).
        ("value_sum", "{field: Bytes, gt: 50}", vec!["alice"], vec!["90"]),
        ("value_sum", "{field: Bytes, lt: 2}", vec!["bob"], vec!["1"]),
        // Carol's values are not numbers: no sum, and no match for lt.
        ("value_avg", "{field: Bytes, gte: 30}", vec!["alice"], vec!["30"]),
        // 90th percentile of [10, 20, 60]: 20 + (60 - 20) * 0.8 = 52.
        ("value_percentile", "{field: Bytes, percentile: 90, gt: 50}", vec!["alice"], vec!["52"]),
        ("value_percentile", "{field: Bytes, lte: 1}", vec!["bob"], vec!["1"]),
    ];
    for (kind, condition, users, values) in cases {
        let yaml = with_logon_rule(&format!(
            "title: Aggregated bytes
correlation:
    type: {kind}
    rules: [logon]
    group-by: [User]
    timespan: 1h
    condition: {condition}
"
        ));
        let out = correlate(&yaml, &Events(&[("logon", LOGONS)]), "User").await;
        assert_eq!(column(&out, "User"), users, "{kind} {condition}: {out}");
        assert_eq!(column(&out, "AggregateValue"), values, "{kind} {condition}: {out}");
    }
}

const RECON: &str = "
title: Recon a
name: recon_a
logsource: {category: process_creation, product: windows}
detection:
    selection: {Image|endswith: '\\whoami.exe'}
    condition: selection
---
title: Recon b
name: recon_b
logsource: {category: process_creation, product: windows}
detection:
    selection: {Image|endswith: '\\net.exe'}
    condition: selection
---
";

const RECON_A: &str = r#"datatable(TimeGenerated:datetime, User:string)[
    datetime(2024-01-01 00:00:00), "alice",
    datetime(2024-01-01 00:10:00), "bob",
    datetime(2024-01-01 00:00:00), "carol",
    datetime(2024-01-01 00:00:00), "dave",
    datetime(2024-01-01 00:00:00), "erin",
]"#;

const RECON_B: &str = r#"datatable(TimeGenerated:datetime, User:string)[
    datetime(2024-01-01 00:04:00), "alice",
    datetime(2024-01-01 00:06:00), "bob",
    datetime(2024-01-01 00:05:00), "carol",
    datetime(2024-01-01 00:05:00.0000001), "dave",
]"#;

#[tokio::test]
async fn temporal_needs_every_rule_within_the_timespan_in_any_order() {
    let yaml = format!(
        "{RECON}title: Recon burst
correlation:
    type: temporal
    rules: [recon_a, recon_b]
    group-by: [User]
    timespan: 5m
"
    );
    let out = correlate(&yaml, &Events(&[("recon_a", RECON_A), ("recon_b", RECON_B)]), "User").await;
    // bob's b precedes his a (any order); carol's are exactly 5m apart; dave's
    // one tick more; erin has no b.
    assert_eq!(column(&out, "User"), ["alice", "bob", "carol"]);
    assert_eq!(column(&out, "AggregateValue"), ["2", "2", "2"]);
}

#[tokio::test]
async fn temporal_ordered_needs_the_listed_order() {
    let yaml = format!(
        "{RECON}title: Recon in order
correlation:
    type: temporal_ordered
    rules: [recon_a, recon_b]
    group-by: [User]
    timespan: 5m
"
    );
    let out = correlate(&yaml, &Events(&[("recon_a", RECON_A), ("recon_b", RECON_B)]), "User").await;
    // bob's b came first.
    assert_eq!(column(&out, "User"), ["alice", "carol"]);
    assert_eq!(column(&out, "StartTime"), ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00Z"]);
    assert_eq!(column(&out, "EndTime"), ["2024-01-01T00:04:00Z", "2024-01-01T00:05:00Z"]);
}

#[tokio::test]
async fn temporal_ordered_chains_three_rules_through_the_latest_start() {
    let a = r#"datatable(TimeGenerated:datetime, User:string)[
        datetime(2024-01-01 00:00:00), "alice", datetime(2024-01-01 00:08:00), "alice",
        datetime(2024-01-01 00:00:00), "bob"]"#;
    let b = r#"datatable(TimeGenerated:datetime, User:string)[
        datetime(2024-01-01 00:09:00), "alice",
        datetime(2024-01-01 00:09:00), "bob"]"#;
    let c = r#"datatable(TimeGenerated:datetime, User:string)[
        datetime(2024-01-01 00:12:00), "alice",
        datetime(2024-01-01 00:12:00), "bob"]"#;
    let yaml = "title: Three in order
correlation:
    type: temporal_ordered
    rules: [a, b, c]
    group-by: [User]
    timespan: 10m
";
    let out = correlate(yaml, &Events(&[("a", a), ("b", b), ("c", c)]), "User").await;
    // alice's chain starts at her second a (00:08); bob's only a is 12 minutes before his c.
    assert_eq!(column(&out, "User"), ["alice"]);
    assert_eq!(column(&out, "StartTime"), ["2024-01-01T00:08:00Z"]);
    assert_eq!(column(&out, "EventCount"), ["3"]);
}

#[tokio::test]
async fn temporal_boolean_condition_over_the_rules() {
    let yaml = format!(
        "{RECON}title: a without b
correlation:
    type: temporal
    rules: [recon_a, recon_b]
    group-by: [User]
    timespan: 5m
    condition: recon_a and not recon_b
"
    );
    let out = correlate(&yaml, &Events(&[("recon_a", RECON_A), ("recon_b", RECON_B)]), "User").await;
    // A window with a but no b: at a's own time for alice, carol, dave and
    // erin; bob's a at 00:10 sees his b at 00:06.
    assert_eq!(column(&out, "User"), ["alice", "carol", "dave", "erin"]);
}

#[tokio::test]
async fn aliases_group_rules_whose_fields_differ() {
    let errors = r#"datatable(TimeGenerated:datetime, ['destination.ip']:string, ['source.ip']:string)[
        datetime(2024-01-01 00:00:00), "10.0.0.1", "192.0.2.7",
        datetime(2024-01-01 00:00:00), "10.0.0.2", "192.0.2.8"]"#;
    let connections = r#"datatable(TimeGenerated:datetime, ['source.ip']:string, ['destination.ip']:string)[
        datetime(2024-01-01 00:00:05), "10.0.0.1", "192.0.2.7",
        datetime(2024-01-01 00:00:05), "192.0.2.8", "10.0.0.2"]"#;
    let yaml = "title: Error then connection
correlation:
    type: temporal
    rules: [internal_error, new_network_connection]
    group-by: [internal_ip, remote_ip]
    timespan: 10s
    aliases:
        internal_ip:
            internal_error: destination.ip
            new_network_connection: source.ip
        remote_ip:
            internal_error: source.ip
            new_network_connection: destination.ip
";
    let events = Events(&[("internal_error", errors), ("new_network_connection", connections)]);
    let out = correlate(yaml, &events, "internal_ip").await;
    // Only the first pair has the addresses the aliases line up.
    assert_eq!(column(&out, "internal_ip"), ["10.0.0.1"]);
    assert_eq!(column(&out, "remote_ip"), ["192.0.2.7"]);
}

#[tokio::test]
async fn without_group_by_all_events_form_one_group() {
    let yaml = with_logon_rule(
        "title: Logon storm
correlation:
    type: event_count
    rules: [logon]
    timespan: 1h
    condition: {gte: 5}
",
    );
    let out = correlate(&yaml, &Events(&[("logon", LOGONS)]), "TimeGenerated").await;
    assert_eq!(out, "TimeGenerated,StartTime,EndTime,AggregateValue,EventCount\n2024-01-01T01:00:00Z,2024-01-01T00:00:00Z,2024-01-01T01:00:00Z,5,5\n");
    let quiet = with_logon_rule(
        "title: Logon flood
correlation:
    type: event_count
    rules: [logon]
    timespan: 1h
    condition: {gte: 7}
",
    );
    let out = correlate(&quiet, &Events(&[("logon", LOGONS)]), "TimeGenerated").await;
    assert_eq!(out, "TimeGenerated,StartTime,EndTime,AggregateValue,EventCount\n");
}

/// A `compile_referenced` that compiles the correlations among `documents`
/// as events and the rest as stand-ins: the chaining the caller provides.
fn compile_chained(
    correlations: &[CorrelationRule],
    events: &Events<'_>,
    reference: &str,
    fields: &[String],
) -> Result<CompiledRule, Unsupported> {
    match correlations.iter().find(|c| c.name.as_deref() == Some(reference) || c.id.as_deref() == Some(reference)) {
        Some(inner) => compile_correlation_events(inner, &|r, f| compile_chained(correlations, events, r, f), fields),
        None => events.compile(reference, fields),
    }
}

#[tokio::test]
async fn a_correlation_can_name_another_correlation() {
    let failures = r#"datatable(TimeGenerated:datetime, User:string)[
        datetime(2024-01-01 00:00:00), "alice", datetime(2024-01-01 00:01:00), "alice", datetime(2024-01-01 00:02:00), "alice",
        datetime(2024-01-01 00:00:00), "bob", datetime(2024-01-01 00:01:00), "bob", datetime(2024-01-01 00:02:00), "bob",
        datetime(2024-01-01 00:00:00), "carol", datetime(2024-01-01 00:01:00), "carol"]"#;
    let successes = r#"datatable(TimeGenerated:datetime, User:string)[
        datetime(2024-01-01 00:05:00), "alice",
        datetime(2024-01-01 00:01:30), "bob",
        datetime(2024-01-01 00:05:00), "carol"]"#;
    let yaml = "title: Failed logins followed by a success
correlation:
    type: temporal_ordered
    rules: [multiple_failed_login, successful_login]
    group-by: [User]
    timespan: 10m
level: high
---
title: Multiple failed logons
name: multiple_failed_login
correlation:
    type: event_count
    rules: [failed_login]
    group-by: [User]
    timespan: 10m
    condition: {gte: 3}
";
    let documents = parse_documents(yaml, "chain.yml").expect("parses");
    let outer = documents.correlations.iter().find(|c| c.name.is_none()).expect("the outer correlation");
    let events = Events(&[("failed_login", failures), ("successful_login", successes)]);
    let compiled =
        compile_correlation(outer, &|r, f| compile_chained(&documents.correlations, &events, r, f)).expect("compiles");
    assert_eq!(compiled.referenced, ["multiple_failed_login", "successful_login"]);
    assert_eq!(compiled.rule.tables, ["Table_failed_login", "Table_successful_login"]);
    let out = run(&format!("{}\n| sort by User asc", compiled.rule.query)).await;
    // bob succeeded before his third failure; carol failed only twice.
    assert_eq!(column(&out, "User"), ["alice"]);
    assert_eq!(column(&out, "StartTime"), ["2024-01-01T00:02:00Z"]);
    assert_eq!(column(&out, "EndTime"), ["2024-01-01T00:05:00Z"]);

    let inner = documents.correlations.iter().find(|c| c.name.is_some()).expect("the inner correlation");
    let err = compile_correlation_events(inner, &|r, f| events.compile(r, f), &["Host".to_string()])
        .expect_err("Host is not a group-by field");
    assert!(matches!(err.reason, UnsupportedReason::Other(ref m) if m.contains("'Host'")), "{err}");
}

#[tokio::test]
async fn generate_and_referenced_rules_are_reported() {
    let yaml = with_logon_rule(
        "title: Many logons
correlation:
    type: event_count
    rules: [logon]
    group-by: [User]
    timespan: 1h
    condition: {gte: 3}
generate: true
",
    );
    let compiled =
        compile_correlation(&correlation(&yaml), &|r, f| Events(&[("logon", LOGONS)]).compile(r, f)).expect("compiles");
    assert!(compiled.generate);
    assert_eq!(compiled.referenced, ["logon"]);
    assert_eq!(compiled.rule.title, "Many logons");
}

fn rejection(yaml: &str) -> UnsupportedReason {
    let events = Events(&[("logon", LOGONS)]);
    match compile_correlation(&correlation(yaml), &|r, f| events.compile(r, f)) {
        Ok(compiled) => panic!("compiled, expected a rejection:\n{}", compiled.rule.query),
        Err(e) => e.reason,
    }
}

#[test]
fn a_missing_rule_is_named() {
    let yaml = with_logon_rule(
        "title: Many logons
id: 7d3f1a2e-0000-4000-8000-000000000002
correlation:
    type: event_count
    rules: [logon, no_such_rule]
    group-by: [User]
    timespan: 1h
    condition: {gte: 3}
",
    );
    let events = Events(&[("logon", LOGONS)]);
    let err = compile_correlation(&correlation(&yaml), &|r, f| events.compile(r, f)).expect_err("a missing rule");
    assert_eq!(err.rule, "7d3f1a2e-0000-4000-8000-000000000002");
    assert_eq!(err.reason, UnsupportedReason::MissingRule("no_such_rule".into()));
}

#[test]
fn a_rule_that_does_not_compile_is_named_with_its_reason() {
    let yaml = with_logon_rule(
        "title: Many logons
correlation:
    type: event_count
    rules: [logon]
    group-by: [User]
    timespan: 1h
    condition: {gte: 3}
",
    );
    let err = compile_correlation(&correlation(&yaml), &|r, _| {
        Err(Unsupported { rule: r.into(), reason: UnsupportedReason::Modifier("expand".into()) })
    })
    .expect_err("the rule does not compile");
    assert_eq!(err.reason, UnsupportedReason::MissingRule("logon (unsupported modifier: expand)".into()));
}

#[test]
fn what_cannot_be_compiled_correctly_is_rejected_with_a_reason() {
    let cases = [
        ("type: value_count\n    condition: {gte: 2}", "needs condition.field"),
        ("type: value_sum\n    condition: {field: [Bytes, Host], gte: 2}", "over several fields"),
        ("type: event_count\n    condition: {field: Host, gte: 2}", "counts no field"),
        ("type: temporal_ordered\n    condition: {gte: 2}", "other than all rules in order"),
        ("type: event_count\n    condition: {gte: 2}\n    window: tumbling", "window 'tumbling'"),
        ("type: event_count\n    condition: {gte: 2}\n    aliases: {h: {other: Host}}", "'other'"),
        ("type: event_count\n    condition: 'logon'", "boolean condition on a correlation of type event_count"),
        ("type: temporal\n    condition: 'logon and other'", "'other' in the condition"),
        ("type: temporal\n    condition: '1 of logon*'", "in a temporal condition"),
    ];
    for (body, fragment) in cases {
        let yaml = with_logon_rule(&format!(
            "title: Rejected
correlation:
    rules: [logon]
    group-by: [User]
    timespan: 1h
    {body}
"
        ));
        let reason = rejection(&yaml).to_string();
        assert!(reason.contains(fragment), "{body}: {reason}");
    }
    let months = with_logon_rule(
        "title: Monthly
correlation:
    type: event_count
    rules: [logon]
    group-by: [User]
    timespan: 1M
    condition: {gte: 2}
",
    );
    assert!(matches!(rejection(&months), UnsupportedReason::Value(m) if m.contains("months")));
    let clash = with_logon_rule(
        "title: Clash
correlation:
    type: event_count
    rules: [logon]
    group-by: [EventCount]
    timespan: 1h
    condition: {gte: 2}
",
    );
    assert!(rejection(&clash).to_string().contains("'EventCount'"));
}
