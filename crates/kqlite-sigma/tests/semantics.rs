//! Compiled Sigma run on kqlite's engine over tiny tables: which events
//! each rule matches. Each case is one Sigma semantic a translation can get
//! wrong (case, wildcards and escapes, windash, base64offset, IPv6 cidr,
//! keywords, null versus exists, `not` over a missing field).

use kqlite_engine::output::{write, Format};
use kqlite_engine::Session;
use kqlite_sigma::{compile_rule, parse_documents, Mapping, Target};

/// Sysmon process-creation events: (EventRecordId, EventData as JSON).
type Events<'a> = &'a [(&'a str, &'a str)];

const PROCESS_CREATION: &str = "    product: windows\n    category: process_creation";

/// The EventRecordIds of the Sysmon process-creation events (EventData
/// given as JSON) the rule with `detection` matches. The rule also reads
/// Security 4688 events, from an empty SecurityEvent.
async fn sysmon(detection: &str, events: Events<'_>) -> Vec<String> {
    let text = format!("title: T\nid: t\nlogsource:\n{PROCESS_CREATION}\ndetection:\n{detection}\n");
    let docs = parse_documents(&text, "t.yml").expect("the rule parses");
    assert!(docs.errors.is_empty(), "{:?}", docs.errors);
    let compiled = compile_rule(&docs.rules[0], &Mapping::builtin(), Target::Sentinel).expect("the rule compiles");
    let rows: Vec<String> = events
        .iter()
        .map(|(id, data)| {
            format!("datetime(2024-01-01), 'host', 'Microsoft-Windows-Sysmon/Operational', 1, '{id}', dynamic({data})")
        })
        .collect();
    let query = format!(
        "let WindowsEvent = datatable(TimeGenerated:datetime, Computer:string, Channel:string, EventID:int, EventRecordId:string, EventData:dynamic)[{}];\n\
         let SecurityEvent = datatable(TimeGenerated:datetime, Computer:string, Channel:string, EventID:int, EventRecordId:string, EventData:string, NewProcessName:string, ParentProcessName:string, NewProcessId:string, ProcessId:string, SubjectUserName:string, CommandLine:string)[];\n{}\n| project EventRecordId | order by EventRecordId asc",
        rows.join(",\n"),
        compiled.query
    );
    run(&query).await.lines().skip(1).map(str::to_string).collect()
}

/// The query's result as CSV.
async fn run(query: &str) -> String {
    let result = Session::new().query(query).await.unwrap_or_else(|e| panic!("{}\n{query}", e.render(query, "q")));
    let mut out = Vec::new();
    write(&result, Format::Csv, &mut out).expect("CSV");
    String::from_utf8(out).expect("UTF-8")
}

#[tokio::test]
async fn values_are_case_insensitive_unless_cased() {
    let events: Events = &[("1", r#"{"Image":"c:\\windows\\cmd.exe"}"#), ("2", r#"{"Image":"C:\\Windows\\CMD.EXE"}"#)];
    let plain = "    sel:\n        Image: 'C:\\Windows\\Cmd.exe'\n    condition: sel";
    assert_eq!(sysmon(plain, events).await, ["1", "2"]);
    let cased = "    sel:\n        Image|cased: 'C:\\Windows\\CMD.EXE'\n    condition: sel";
    assert_eq!(sysmon(cased, events).await, ["2"]);
    let contains = "    sel:\n        Image|contains: 'WINDOWS\\CMD'\n    condition: sel";
    assert_eq!(sysmon(contains, events).await, ["1", "2"]);
}

#[tokio::test]
async fn wildcards_and_backslash_escapes() {
    let events: Events = &[
        ("1", r#"{"CommandLine":"a--b-c"}"#),
        ("2", r#"{"CommandLine":"a--bc"}"#),
        ("3", r#"{"CommandLine":"x*y"}"#),
        ("4", r#"{"CommandLine":"xzy"}"#),
        ("5", r#"{"CommandLine":"A\nB-C"}"#),
    ];
    assert_eq!(sysmon("    sel:\n        CommandLine: 'a*b?c'\n    condition: sel", events).await, ["1", "5"]);
    assert_eq!(sysmon("    sel:\n        CommandLine: 'x\\*y'\n    condition: sel", events).await, ["3"]);
    assert_eq!(sysmon("    sel:\n        CommandLine: 'x?y'\n    condition: sel", events).await, ["3", "4"]);
    // `\\` is one literal backslash; a backslash before other characters stays.
    let paths: Events = &[("1", r#"{"Image":"C:\\Temp\\x"}"#), ("2", r#"{"Image":"C:\\\\Temp\\x"}"#)];
    assert_eq!(sysmon("    sel:\n        Image: 'C:\\\\Temp\\x'\n    condition: sel", paths).await, ["1"]);
    assert_eq!(sysmon("    sel:\n        Image: 'C:\\Temp\\x'\n    condition: sel", paths).await, ["1"]);
}

#[tokio::test]
async fn windash_matches_every_dash() {
    let events: Events = &[
        ("1", r#"{"CommandLine":"ps -enc AAA"}"#),
        ("2", r#"{"CommandLine":"ps /enc AAA"}"#),
        ("3", "{\"CommandLine\":\"ps \u{2013}enc AAA\"}"),
        ("4", "{\"CommandLine\":\"ps \u{2014}enc AAA\"}"),
        ("5", "{\"CommandLine\":\"ps \u{2015}enc AAA\"}"),
        ("6", r#"{"CommandLine":"ps +enc AAA"}"#),
    ];
    let rule = "    sel:\n        CommandLine|windash|contains: ' -enc '\n    condition: sel";
    assert_eq!(sysmon(rule, events).await, ["1", "2", "3", "4", "5"]);
}

#[tokio::test]
async fn base64offset_finds_the_value_at_every_shift() {
    let events: Events = &[
        ("1", r#"{"CommandLine":"powershell -e cGluZyAtbiAx"}"#),
        ("2", r#"{"CommandLine":"powershell -e eCBwaW5nIC1uIDE="}"#),
        ("3", r#"{"CommandLine":"powershell -e eHkgcGluZyAtbiAx"}"#),
        ("4", r#"{"CommandLine":"powershell -e cG9uZyAtbiAx"}"#),
    ];
    let rule = "    sel:\n        CommandLine|base64offset|contains: 'ping'\n    condition: sel";
    assert_eq!(sysmon(rule, events).await, ["1", "2", "3"]);
}

#[tokio::test]
async fn ipv6_cidr_is_an_ipv6_check_and_its_negation_is_total() {
    let events: Events = &[
        ("1", r#"{"DestinationIp":"fe80::1"}"#),
        ("2", r#"{"DestinationIp":"2001:db8::1"}"#),
        ("3", r#"{"DestinationIp":"10.0.0.1"}"#),
        ("4", r#"{"Image":"no address"}"#),
        ("5", r#"{"DestinationIp":"febf:ffff::1"}"#),
    ];
    let sel = "    sel:\n        DestinationIp|cidr: 'fe80::/10'\n";
    assert_eq!(sysmon(&format!("{sel}    condition: sel"), events).await, ["1", "5"]);
    assert_eq!(sysmon(&format!("{sel}    condition: not sel"), events).await, ["2", "3", "4"]);
    let v4 = "    sel:\n        DestinationIp|cidr: '10.0.0.0/8'\n    condition: not sel";
    assert_eq!(sysmon(v4, events).await, ["1", "2", "4", "5"]);
}

#[tokio::test]
async fn keywords_search_the_event() {
    let events: Events = &[
        ("1", r#"{"CommandLine":"copy C:\\Temp\\Evil.exe x","Image":"a"}"#),
        ("2", r#"{"CommandLine":"copy C:\\Temp\\good.exe x"}"#),
        ("3", r#"{"CommandLine":"say \"hello\""}"#),
    ];
    assert_eq!(sysmon("    keywords:\n        - 'c:\\temp\\evil'\n    condition: keywords", events).await, ["1"]);
    assert_eq!(
        sysmon("    keywords:\n        - '\"hello\"'\n        - 'nothing'\n    condition: keywords", events).await,
        ["3"]
    );
}

#[tokio::test]
async fn null_is_absent_or_empty_and_exists_is_presence() {
    let events: Events = &[("1", r#"{"User":"alice"}"#), ("2", r#"{"User":""}"#), ("3", r#"{"Image":"x"}"#)];
    assert_eq!(sysmon("    sel:\n        User: null\n    condition: sel", events).await, ["2", "3"]);
    assert_eq!(sysmon("    sel:\n        User|exists: true\n    condition: sel", events).await, ["1", "2"]);
    assert_eq!(sysmon("    sel:\n        User|exists: false\n    condition: sel", events).await, ["3"]);
    assert_eq!(sysmon("    sel:\n        User: ''\n    condition: sel", events).await, ["2", "3"]);
}

#[tokio::test]
async fn not_over_a_missing_field_matches() {
    let events: Events = &[
        ("1", r#"{"User":"admin"}"#),
        ("2", r#"{"User":"bob"}"#),
        ("3", r#"{"Image":"x"}"#),
        ("4", r#"{"ProcessId":"7"}"#),
    ];
    assert_eq!(sysmon("    sel:\n        User: 'ADMIN'\n    condition: not sel", events).await, ["2", "3", "4"]);
    // Numeric comparisons are false, not null, on a missing field.
    assert_eq!(sysmon("    sel:\n        ProcessId|gt: 5\n    condition: not sel", events).await, ["1", "2", "3"]);
}

#[tokio::test]
async fn security_event_fields_read_from_columns_and_eventdata_xml() {
    let xml = |v: &str| {
        format!(
            r#"<EventData xmlns="http://schemas.microsoft.com/win/2004/08/events/event"><Data Name="TargetUserName">{v}</Data><Data Name="Custom">a &amp; b &lt;Command&gt;cmd.exe&lt;/Command&gt;</Data></EventData>"#
        )
    };
    // The value as the event has it, not as the XML text escapes it.
    let detection = "    sel:\n        Custom|startswith: 'a & b <Command>cmd.exe</'\n    condition: sel";
    let text =
        format!("title: T\nid: t\nlogsource:\n    product: windows\n    service: security\ndetection:\n{detection}\n");
    let docs = parse_documents(&text, "t.yml").expect("parses");
    let compiled = compile_rule(&docs.rules[0], &Mapping::builtin(), Target::Sentinel).expect("compiles");
    let query = format!(
        "let SecurityEvent = datatable(TimeGenerated:datetime, Computer:string, Channel:string, EventID:int, EventRecordId:string, EventData:string)[datetime(2024-01-01), 'h', 'Security', 4624, '1', '{}', datetime(2024-01-01), 'h', 'Security', 4624, '2', '<EventData></EventData>'];\n{}\n| project EventRecordId",
        xml("bob"),
        compiled.query
    );
    assert_eq!(run(&query).await, "EventRecordId\n1\n", "{query}");
}

/// SigmaHQ's vulnerable-driver rule lists 4,400 hashes: the values must not
/// make an expression thousands deep, which overflowed the stack of the
/// thread binding it (a test thread's 2 MiB, as a tokio worker's).
#[tokio::test]
async fn thousands_of_values_compile_to_a_shallow_expression() {
    let values: String = (0..5000).map(|i| format!("            - 'value{i}'\n")).collect();
    let detection = format!("    sel:\n        CommandLine|contains:\n{values}    condition: sel");
    let events: Events = &[("1", r#"{"CommandLine":"x value4999 y"}"#), ("2", r#"{"CommandLine":"other"}"#)];
    assert_eq!(sysmon(&detection, events).await, ["1"]);
}

/// Unnamed <Data> elements (EventData.Data, an array) are searched as their
/// values, one per line, not as JSON text whose escaped `\\` would match a
/// rule's UNC `\\` in every path.
#[tokio::test]
async fn unnamed_data_is_searched_as_its_values() {
    let events: Events = &[
        ("1", r#"{"Data":["C:\\Program Files\\a.msi","2128"]}"#),
        ("2", r#"{"Data":["\\\\server\\share\\a.msi","2128"]}"#),
    ];
    let unc = "    sel:\n        Data|contains: '\\\\\\\\'\n    condition: sel";
    assert_eq!(sysmon(unc, events).await, ["2"]);
    let second_value = "    sel:\n        Data|endswith: \"a.msi\\n2128\"\n    condition: sel";
    assert_eq!(sysmon(second_value, events).await, ["1", "2"]);
}
