//! Sentinel content from an Azure-Sentinel-shaped folder: rules, hunting
//! queries, parsers of the three shapes and watchlists load; bad files are
//! reported while the rest run; what runs is decided by the query.

use kqlite_detect::content::{self, Content};
use kqlite_detect::finding::Severity;
use kqlite_detect::hunt::{self, RuleStatus};
use kqlite_detect::tuning::Tuning;
use kqlite_engine::output::{write, Format};
use kqlite_engine::Session;
use std::path::{Path, PathBuf};

fn put(root: &Path, relative: &str, text: &str) {
    let path = root.join(relative);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}

/// A rule that reads SecurityEvent while its requiredDataConnectors name
/// `SecurityEvents` (as Azure-Sentinel's NonDCActiveDirectoryReplication does).
const LYING_RULE: &str = "id: 0f0f0f0f-0000-0000-0000-000000000001
name: Non-DC replication
description: Directory replication from a host that is not a DC.
severity: High
requiredDataConnectors:
  - connectorId: SecurityEvents
    dataTypes:
      - SecurityEvents
queryFrequency: 1d
queryPeriod: 1d
triggerOperator: gt
triggerThreshold: 0
tactics:
  - CredentialAccess
relevantTechniques:
  - T1003.006
query: |
  SecurityEvent
  | where EventID == 4662
  | project TimeGenerated, Account, Computer
kind: Scheduled
";

const HUNTING_QUERY: &str = "id: 0f0f0f0f-0000-0000-0000-000000000002
name: All 4662 events
description: Directory service object access.
requiredDataConnectors: []
tactics: []
relevantTechniques: []
query: |
  SecurityEvent
  | where EventID == 4662
  | summarize Count = count() by Account
";

const NO_DATA_RULE: &str = "id: 0f0f0f0f-0000-0000-0000-000000000003
name: Okta logons
severity: Low
requiredDataConnectors:
  - connectorId: SecurityEvents
    dataTypes:
      - SecurityEvent
query: |
  Okta_CL | take 1
";

/// ASIM shape: ParserName/ParserQuery/ParserParams with defaults, and a
/// built-in name.
const ASIM_PARSER: &str = "Parser:
  Title: Test ASIM parser
ParserName: vimTestAuth
EquivalentBuiltInParser: _Im_TestAuth
ParserParams:
  - Name: starttime
    Type: datetime
    Default: datetime(null)
  - Name: targetusername_has
    Type: string
    Default: '*'
  - Name: disabled
    Type: bool
    Default: false
ParserQuery: |
  let DisabledParsers = _GetWatchlist('ASimDisabledParsers') | extend SourceSpecificParser = column_ifexists('SourceSpecificParser', '') | distinct SourceSpecificParser;
  SecurityEvent
  | where not(disabled) and (isnull(starttime) or TimeGenerated >= starttime)
  | where targetusername_has == '*' or Account has targetusername_has
  | where 'vimTestAuth' !in (DisabledParsers)
  | project TargetUsername = Account, EventProduct = 'Test'
";

const FUNCTION_PARSER: &str = "Function:
  Title: A vendor parser
FunctionName: VendorParserOldName
FunctionAlias: VendorParser
FunctionParams:
  - Name: limit
    Type: long
    Default: 10
FunctionQuery: |
  SecurityEvent | take limit | extend Vendor = 'Acme'
";

const TEXT_PARSER: &str = "// Usage Instructions:
// Paste below query in log analytics, click on Save button and select as Function from drop down by specifying function name as AcmeEvent and specifying Legacy Category.
SecurityEvent
| extend EventVendor = 'Acme'
";

const BROKEN_PARSER: &str = "ParserName: BrokenParser
ParserQuery: |
  SecurityEvent
  | where NoSuchColumn == 1
";

fn content_folder() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, "Detections/SecurityEvent/NonDCActiveDirectoryReplication.yaml", LYING_RULE);
    put(root, "Detections/Okta/OktaLogons.yaml", NO_DATA_RULE);
    // Malformed: the YAML error has a line; the rest still load.
    put(root, "Solutions/Broken/Analytic Rules/Bad.yaml", "id: x\nname: bad\nseverity: High\nquery: [unclosed\n");
    put(root, "Solutions/Broken/Analytic Rules/NoQuery.yaml", "id: y\nname: no query\nseverity: High\n");
    put(root, "Hunting Queries/SecurityEvent/All4662.yaml", HUNTING_QUERY);
    put(root, "Parsers/ASimTestAuth/Parsers/vimTestAuth.yaml", ASIM_PARSER);
    put(root, "Parsers/ASimTestAuth/README.md", "# not content\n");
    put(root, "Solutions/Acme/Parsers/VendorParser.yaml", FUNCTION_PARSER);
    put(root, "Solutions/Acme/Parsers/AcmeEvent.txt", TEXT_PARSER);
    put(root, "Parsers/Broken/BrokenParser.yaml", BROKEN_PARSER);
    put(root, "Watchlists/HighValueHosts.csv", "Hostname,Owner\nDC1,it\n");
    dir
}

/// A session with a SecurityEvent table of two 4662 events, and the content.
async fn session_with(content: &Content) -> (Session, Vec<String>) {
    let mut session = Session::with_partitions(1);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("SecurityEvent.csv");
    std::fs::write(
        &path,
        "TimeGenerated,EventID,Account,Computer\n2024-05-02T10:00:00Z,4662,CONTOSO\\bob,WS1\n2024-05-02T10:01:00Z,4662,CONTOSO\\eve,WS2\n",
    )
    .unwrap();
    let evidence = kqlite_detect::evidence::load_evidence(&mut session, &[path]).await.unwrap();
    hunt::prepare_session_with_content(&mut session, &Tuning::default(), &[], content).unwrap();
    (session, hunt::tables_with_data(&evidence))
}

async fn csv(session: &Session, query: &str) -> String {
    let result = session.query(query).await.unwrap_or_else(|e| panic!("{query}: {}", e.render(query, "q")));
    let mut out = Vec::new();
    write(&result, Format::Csv, &mut out).unwrap();
    String::from_utf8(out).unwrap()
}

#[test]
fn rules_hunting_queries_parsers_and_watchlists_load_from_the_layout() {
    let dir = content_folder();
    let content = content::load(&[dir.path().to_path_buf()], true).unwrap();
    let mut names: Vec<(&str, bool, Severity)> =
        content.rules.rules.iter().map(|r| (r.stem.as_str(), r.is_hunting(), r.severity)).collect();
    names.sort();
    assert_eq!(
        names,
        [
            ("All4662", true, Severity::Informational),
            ("NonDCActiveDirectoryReplication", false, Severity::High),
            ("OktaLogons", false, Severity::Low)
        ]
    );
    let mut parsers: Vec<&str> = content.parsers.iter().map(|p| p.function.name.as_str()).collect();
    parsers.sort();
    assert_eq!(parsers, ["AcmeEvent", "BrokenParser", "VendorParser", "vimTestAuth"]);
    assert_eq!(content.watchlists.len(), 1);
    // Each malformed file: its path, line when known, and reason.
    let problems: Vec<String> = content.problems.iter().map(|p| p.to_string()).collect();
    assert_eq!(problems.len(), 2, "{problems:#?}");
    let bad = content.problems.iter().find(|p| p.path.ends_with("Bad.yaml")).unwrap();
    assert!(bad.line.is_some(), "{bad}");
    let no_query = content.problems.iter().find(|p| p.path.ends_with("NoQuery.yaml")).unwrap();
    assert!(no_query.reason.contains("query"), "{no_query}");
    // Without rules, rule files are not read at all.
    let parsers_only = content::load(&[dir.path().join("Parsers")], false).unwrap();
    assert!(parsers_only.rules.rules.is_empty() && parsers_only.problems.is_empty());
    assert_eq!(parsers_only.parsers.len(), 2);
}

#[tokio::test]
async fn parsers_of_each_shape_are_callable() {
    let dir = content_folder();
    let content = content::load(&[dir.path().to_path_buf()], false).unwrap();
    let (session, _) = session_with(&content).await;
    // ASIM: defaults, named arguments, a view-like call and the built-in name.
    assert_eq!(csv(&session, "vimTestAuth | count").await, "Count\n2\n");
    assert_eq!(
        csv(&session, "_Im_TestAuth(targetusername_has='bob') | project TargetUsername").await,
        "TargetUsername\nCONTOSO\\bob\n"
    );
    assert_eq!(csv(&session, "vimTestAuth(datetime(2024-05-02T10:00:30Z)) | count").await, "Count\n1\n");
    assert_eq!(csv(&session, "vimTestAuth(disabled=true) | count").await, "Count\n0\n");
    // FunctionAlias with FunctionParams.
    assert_eq!(csv(&session, "VendorParser(1) | project Vendor").await, "Vendor\nAcme\n");
    // A text parser named in its header.
    assert_eq!(csv(&session, "AcmeEvent | distinct EventVendor").await, "EventVendor\nAcme\n");
    // A parser whose body does not bind: the error names its file and line.
    let error = session.query("BrokenParser | count").await.err().unwrap().to_string();
    assert!(error.contains("BrokenParser.yaml:4:"), "{error}");
}

#[tokio::test]
async fn get_watchlist_of_a_missing_watchlist_has_no_rows_and_the_standard_columns() {
    let dir = content_folder();
    let content = content::load(&[dir.path().to_path_buf()], false).unwrap();
    let (session, _) = session_with(&content).await;
    assert_eq!(
        csv(&session, "_GetWatchlist('NoSuchList') | extend P = column_ifexists('SourceSpecificParser', '') | count")
            .await,
        "Count\n0\n"
    );
    let schema = csv(&session, "_GetWatchlist('NoSuchList') | getschema | project ColumnName").await;
    for column in ["SearchKey", "WatchlistItem", "_DTItemId", "LastUpdatedTimeUTC"] {
        assert!(schema.contains(column), "{schema}");
    }
    assert_eq!(
        csv(&session, "_GetWatchlist('HighValueHosts') | project SearchKey, Owner").await,
        "SearchKey,Owner\nDC1,it\n"
    );
}

#[tokio::test]
async fn the_query_decides_what_runs_not_required_data_connectors() {
    let dir = content_folder();
    let content = content::load(&[dir.path().to_path_buf()], true).unwrap();
    let (session, with_data) = session_with(&content).await;
    let tuning = Tuning::default();
    let rule = |stem: &str| content.rules.rules.iter().find(|r| r.stem == stem).unwrap().clone();
    // requiredDataConnectors says SecurityEvents (no such table): it runs anyway.
    let outcome = hunt::run_rule(&session, &rule("NonDCActiveDirectoryReplication"), &tuning, &with_data).await;
    assert!(matches!(outcome.status, RuleStatus::Ran { rows: 2, fired: true }), "{:?}", outcome.status);
    assert_eq!(outcome.findings.len(), 2);
    // A hunting query: its rows are informational findings.
    let outcome = hunt::run_rule(&session, &rule("All4662"), &tuning, &with_data).await;
    assert!(matches!(outcome.status, RuleStatus::Ran { rows: 2, fired: true }), "{:?}", outcome.status);
    assert!(outcome.findings.iter().all(|f| f.severity == Severity::Informational));
    // A rule over a table without evidence is skipped, naming the table it
    // reads (not its requiredDataConnectors' SecurityEvent).
    let mut session = session;
    session
        .register_batches("Okta_CL", vec![kqlite_engine::ColumnDef::new("x", kqlite_engine::KqlType::Long)], Vec::new())
        .unwrap();
    let outcome = hunt::run_rule(&session, &rule("OktaLogons"), &tuning, &with_data).await;
    assert!(matches!(&outcome.status, RuleStatus::NoData(t) if t == &["Okta_CL".to_string()]), "{:?}", outcome.status);
    // Through a parser: the parser's tables count.
    let tables = session.tables_read("vimTestAuth | count").unwrap();
    assert!(tables.contains("SecurityEvent"), "{tables:?}");
}

/// The shared Azure-Sentinel parsers: every file loads, and the ASIM
/// unifying parsers are there under their names.
#[test]
fn shared_azure_sentinel_parsers_load() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/content/azure-sentinel");
    if !root.is_dir() {
        eprintln!("skipped: {} is absent (the Azure-Sentinel parsers)", root.display());
        return;
    }
    let started = std::time::Instant::now();
    let content = content::load(&[root], true).unwrap();
    eprintln!(
        "loaded {} parsers, {} problems in {:?}",
        content.parsers.len(),
        content.problems.len(),
        started.elapsed()
    );
    assert!(content.problems.is_empty(), "every file of the checkout loads: {:?}", content.problems);
    let mut session = Session::with_partitions(1);
    content.add_parsers_to(&mut session);
    let names = session.stored_function_names();
    for name in [
        "imAuthentication",
        "imProcessCreate",
        "imNetworkSession",
        "imFileEvent",
        "imRegistry",
        "_Im_Dns",
        "JBossEvent",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} missing");
    }
}

/// A rule id seen twice: a deprecated copy gives way to the current rule,
/// and a second current copy (a solution repeating a `Detections/` rule) is
/// left out as a note, not a problem that fails the hunt.
#[test]
fn repeated_rule_ids_keep_the_current_rule_and_are_not_problems() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let old = LYING_RULE.replace("name: Non-DC replication", "name: Old copy");
    put(root, "Detections/Deprecated/old.yaml", &old);
    put(root, "Detections/SecurityEvent/current.yaml", LYING_RULE);
    put(root, "Solutions/AD/Analytic Rules/copy.yaml", LYING_RULE);
    let content: Content = content::load(&[root.to_path_buf()], true).unwrap();
    assert_eq!(content.rules.rules.len(), 1);
    assert_eq!(content.rules.rules[0].name, "Non-DC replication");
    assert!(content.rules.rules[0].origin.ends_with("current.yaml"), "{}", content.rules.rules[0].origin);
    assert!(content.problems.is_empty(), "{:?}", content.problems);
    assert_eq!(content.repeated_rules.len(), 1);
    assert!(content.repeated_rules[0].path.ends_with("copy.yaml"));
}

/// A content rule that does not bind for a reason other than an unknown
/// table adds nothing to what the hunt reads; the others still narrow the
/// load (one such rule used to make the hunt read everything). A rule over
/// a table only the evidence may hold still does.
#[tokio::test]
async fn a_rule_that_does_not_bind_does_not_stop_narrowing_the_load() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    put(root, "Detections/SecurityEvent/good.yaml", LYING_RULE);
    let broken = LYING_RULE
        .replace("0f0f0f0f-0000-0000-0000-000000000001", "0f0f0f0f-0000-0000-0000-0000000000b1")
        .replace("| project TimeGenerated, Account, Computer", "| extend n = strlen()");
    put(root, "Detections/SecurityEvent/broken.yaml", &broken);
    let content = content::load(&[root.to_path_buf()], true).unwrap();
    let needs = hunt::rules_needs_with_content(&content.rules, &Tuning::default(), &[], &content).await;
    let needs = needs.expect("the load is narrowed");
    assert_eq!(needs.tables.keys().collect::<Vec<_>>(), ["SecurityEvent"]);

    let custom = LYING_RULE
        .replace("0f0f0f0f-0000-0000-0000-000000000001", "0f0f0f0f-0000-0000-0000-0000000000c1")
        .replace("  SecurityEvent\n", "  Custom_CL\n");
    put(root, "Detections/Custom/custom.yaml", &custom);
    let content = content::load(&[root.to_path_buf()], true).unwrap();
    assert!(hunt::rules_needs_with_content(&content.rules, &Tuning::default(), &[], &content).await.is_none());
}
