//! `--content DIR` end to end: a Sentinel-shaped folder's rules, hunting
//! queries and parsers over evidence; bad files reported with the rest
//! running, and the exit status saying so.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn kqlite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kqlite")).args(args).output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A scratch directory (removed on drop) to put content and evidence in.
struct Scratch(tempfile::TempDir);

impl Scratch {
    fn new() -> Scratch {
        Scratch(tempfile::tempdir().unwrap())
    }

    fn path(&self) -> &Path {
        self.0.path()
    }

    fn put(&self, relative: &str, text: &str) -> PathBuf {
        let path = self.path().join(relative);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }
}

const EVIDENCE: &str = "TimeGenerated,EventID,Account,Computer\n2024-05-02T10:00:00Z,4662,CONTOSO\\bob,WS1\n";

/// The rule reads SecurityEvent; its requiredDataConnectors say otherwise.
const RULE: &str = "id: 0f0f0f0f-0000-0000-0000-000000000001
name: Non-DC replication
severity: High
requiredDataConnectors:
  - connectorId: SecurityEvents
    dataTypes:
      - SecurityEvents
query: |
  SecurityEvent | where EventID == 4662 | project TimeGenerated, Account, Computer
";

const HUNTING: &str = "id: 0f0f0f0f-0000-0000-0000-000000000002
name: 4662 by account
query: |
  ReplicationEvents | summarize Count = count() by Account
";

const PARSER: &str = "ParserName: ReplicationEvents
ParserQuery: |
  SecurityEvent | where EventID == 4662
";

fn folder() -> Scratch {
    let dir = Scratch::new();
    dir.put("evidence/SecurityEvent.csv", EVIDENCE);
    dir.put("content/Detections/NonDC.yaml", RULE);
    dir.put("content/Hunting Queries/ByAccount.yaml", HUNTING);
    dir.put("content/Parsers/ReplicationEvents.yaml", PARSER);
    dir
}

#[test]
fn hunt_runs_content_rules_and_hunting_queries_through_parsers() {
    let dir = folder();
    let (evidence, content) = (dir.path().join("evidence"), dir.path().join("content"));
    let out = kqlite(&[
        "hunt",
        evidence.to_str().unwrap(),
        "--content",
        content.to_str().unwrap(),
        "--rule",
        "NonDC",
        "--rule",
        "ByAccount",
        "--now",
        "2024-05-02T12:00:00Z",
        "--format",
        "json",
    ]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let findings: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let findings = findings["findings"].as_array().unwrap();
    assert_eq!(findings.len(), 2, "{findings:#?}");
    // A hunting query's rows are informational (its own severity; the rule on the
    // same account agrees with it and raises the reported severity a step).
    assert!(findings.iter().any(|f| f["rule_severity"] == "Informational"), "{findings:#?}");
    assert!(stderr.contains("1 analytic rules, 1 hunting queries, 1 parsers"), "{stderr}");
}

#[test]
fn a_bad_content_file_is_reported_and_the_rest_run() {
    let dir = folder();
    let bad = dir.put("content/Detections/Bad.yaml", "id: x\nname: bad\nseverity: High\nquery: [unclosed\n");
    let (evidence, content) = (dir.path().join("evidence"), dir.path().join("content"));
    let out = kqlite(&[
        "hunt",
        evidence.to_str().unwrap(),
        "--content",
        content.to_str().unwrap(),
        "--rule",
        "NonDC",
        "--now",
        "2024-05-02T12:00:00Z",
    ]);
    let stderr = text(&out.stderr);
    // Findings, and a file that did not load: 3.
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    let canonical = std::fs::canonicalize(&bad).unwrap();
    assert!(stderr.contains(&format!("not loaded: {}:", canonical.display())), "{stderr}");
}

#[test]
fn query_and_check_call_content_parsers() {
    let dir = folder();
    let (evidence, content) = (dir.path().join("evidence"), dir.path().join("content"));
    let out = kqlite(&[
        "query",
        "--content",
        content.to_str().unwrap(),
        "--format",
        "csv",
        "ReplicationEvents | count",
        evidence.to_str().unwrap(),
    ]);
    assert_eq!(text(&out.stdout), "Count\n1\n", "{}", text(&out.stderr));
    let out = kqlite(&["check", "--content", content.to_str().unwrap(), "ReplicationEvents | project Account"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// An ASIM-shaped unifying parser: `union isfuzzy=true` over an empty
/// schema leg, a source parser and a parser whose table does not exist (left
/// out, as in a workspace without that connector). The source parser has
/// what the real ones have: a `datatable` written with a leading and a
/// trailing comma, SecurityEvent's EventOriginId and MG (Log Analytics
/// columns the schema CSV misses), and `invoke _ASIM_ResolveDvcFQDN(…)`, a
/// helper built into every workspace that content does not ship.
const ASIM_PARSERS: &[(&str, &str)] = &[
    (
        "imLogon.yaml",
        "ParserName: imLogon
ParserParams:
  - Name: starttime
    Type: datetime
    Default: datetime(null)
ParserQuery: |
  let Generic = (starttime:datetime=datetime(null)) {
    union isfuzzy=true
        vimLogonEmpty
      , vimLogonWindows(starttime)
      , vimLogonMissing(starttime)
  };
  Generic(starttime)
",
    ),
    (
        "vimLogonEmpty.yaml",
        "ParserName: vimLogonEmpty
ParserQuery: |
  datatable(EventOriginalType:string, EventType:string, DvcHostname:string, DvcDomain:string, DvcDomainType:string, )[]
",
    ),
    (
        "vimLogonWindows.yaml",
        "ParserName: vimLogonWindows
ParserParams:
  - Name: starttime
    Type: datetime
    Default: datetime(null)
ParserQuery: |
  let LogonTypes = datatable(EventID:int, EventType:string)[
    , 4624, 'Logon'
    , 4634, 'Logoff'
  ];
  SecurityEvent
  | where isnull(starttime) or TimeGenerated >= starttime
  | lookup kind=inner LogonTypes on EventID
  | extend EventOriginalType = tostring(EventID), DvcOriginId = EventOriginId, DvcManagementGroup = MG
  | invoke _ASIM_ResolveDvcFQDN('Computer')
  | project EventOriginalType, EventType, DvcHostname, DvcDomain, DvcDomainType, DvcOriginId, DvcManagementGroup
",
    ),
    (
        "vimLogonMissing.yaml",
        "ParserName: vimLogonMissing
ParserParams:
  - Name: starttime
    Type: datetime
    Default: datetime(null)
ParserQuery: |
  NoSuchConnector_CL
  | where isnull(starttime) or TimeGenerated >= starttime
  | project EventOriginalType = tostring(Id_s), EventType = 'Logon'
",
    ),
];

#[test]
fn query_runs_an_asim_shaped_unifying_parser() {
    let dir = Scratch::new();
    dir.put(
        "evidence/SecurityEvent.csv",
        "TimeGenerated,EventID,Account,Computer\n\
         2024-05-02T10:00:00Z,4624,CORP\\bob,dc1.corp.example.com\n\
         2024-05-02T10:05:00Z,4634,CORP\\bob,CORP\\ws2\n\
         2024-05-02T10:06:00Z,4662,CORP\\bob,ws3\n",
    );
    for (name, text) in ASIM_PARSERS {
        dir.put(&format!("content/Parsers/ASimLogon/{name}"), text);
    }
    let (evidence, content) = (dir.path().join("evidence"), dir.path().join("content"));
    let out = kqlite(&[
        "query",
        "--content",
        content.to_str().unwrap(),
        "--format",
        "csv",
        "imLogon(starttime=datetime(2024-05-01)) | order by EventOriginalType asc",
        evidence.to_str().unwrap(),
    ]);
    assert_eq!(
        text(&out.stdout),
        "EventOriginalType,EventType,DvcHostname,DvcDomain,DvcDomainType,DvcOriginId,DvcManagementGroup\n\
         4624,Logon,dc1,corp.example.com,FQDN,,\n\
         4634,Logoff,ws2,CORP,Windows,,\n",
        "{}",
        text(&out.stderr)
    );
}

/// `kqlite query` has kqlite's built-in functions, as a hunt does, with or
/// without `--content`: `SshdAuthentication` and the ASIM helpers.
#[test]
fn query_knows_the_built_in_functions() {
    let out = kqlite(&[
        "query",
        "--format",
        "csv",
        "datatable(TimeGenerated:datetime, ProcessName:string, SyslogMessage:string, Computer:string)\
         [datetime(2024-05-02), 'sshd', 'Failed password for root from 10.0.0.1 port 22 ssh2', 'web1.example.com']\
         | invoke SshdAuthentication() | invoke _ASIM_ResolveDvcFQDN('Computer')\
         | project EventResult, SrcIpAddr, DvcHostname, DvcDomain",
    ]);
    assert_eq!(
        text(&out.stdout),
        "EventResult,SrcIpAddr,DvcHostname,DvcDomain\nFailure,10.0.0.1,web1,example.com\n",
        "{}",
        text(&out.stderr)
    );
}
