//! The KQL text Sigma rules compile to: each modifier's operator, the
//! logsource variants, filters, user mappings and the named reasons a rule
//! is rejected for.

use kqlite_sigma::{
    apply_filters, compile_rule, compile_rule_projecting, parse_documents, Mapping, Placeholders, Target,
    UnsupportedReason,
};

/// A rule over Sysmon's process creation with `detection` (YAML, indented
/// by four spaces) as its detection section.
fn rule_yaml(logsource: &str, detection: &str) -> String {
    format!("title: Test rule\nid: 00000000-0000-0000-0000-000000000001\nlogsource:\n{logsource}\ndetection:\n{detection}\nlevel: high\n")
}

const PROCESS: &str = "    product: windows\n    category: process_creation";
const SYSMON: &str = "    product: windows\n    service: sysmon";

fn compile_with(logsource: &str, detection: &str, target: Target) -> Result<String, UnsupportedReason> {
    let text = rule_yaml(logsource, detection);
    let docs = parse_documents(&text, "test.yml").expect("the test rule parses");
    assert!(docs.errors.is_empty(), "{:?}", docs.errors);
    compile_rule(&docs.rules[0], &Mapping::builtin(), target).map(|c| c.query).map_err(|e| e.reason)
}

fn kql(detection: &str) -> String {
    compile_with(SYSMON, detection, Target::Sentinel).unwrap_or_else(|e| panic!("{e}"))
}

fn reason(detection: &str) -> UnsupportedReason {
    compile_with(SYSMON, detection, Target::Sentinel).expect_err("the rule is rejected")
}

#[test]
fn plain_values_are_case_insensitive_and_cased_makes_them_sensitive() {
    let q = kql("    sel:\n        Image: 'C:\\Windows\\cmd.exe'\n    condition: sel");
    assert!(q.contains(r#"tostring(EventData["Image"]) =~ @"C:\Windows\cmd.exe""#), "{q}");
    assert!(q.contains(r#"Channel =~ @"Microsoft-Windows-Sysmon/Operational""#), "{q}");
    let q = kql("    sel:\n        Image|cased: 'cmd.exe'\n    condition: sel");
    assert!(q.contains(r#"tostring(EventData["Image"]) == @"cmd.exe""#), "{q}");
}

#[test]
fn contains_startswith_endswith_and_wildcards() {
    let q = kql("    sel:\n        CommandLine|contains: 'a\"b'\n        Image|endswith: '\\cmd.exe'\n        User|startswith: 'NT'\n    condition: sel");
    assert!(q.contains(r#"tostring(EventData["CommandLine"]) contains @"a""b""#), "{q}");
    assert!(q.contains(r#"endswith @"\cmd.exe""#), "{q}");
    assert!(q.contains(r#"startswith @"NT""#), "{q}");
    let q = kql("    sel:\n        Image: '*\\cmd.exe'\n        CommandLine: 'a*b?c'\n        User: 'x\\*y'\n    condition: sel");
    assert!(q.contains(r#"endswith @"\cmd.exe""#), "{q}");
    assert!(q.contains(r#"matches regex @"(?is)^a.*b.c$""#), "{q}");
    assert!(q.contains(r#"=~ @"x*y""#), "an escaped star is literal: {q}");
    let q = kql("    sel:\n        CommandLine|cased: 'a*b'\n    condition: sel");
    assert!(q.contains(r#"matches regex @"(?s)^a.*b$""#), "{q}");
}

#[test]
fn all_links_values_with_and_and_neq_negates() {
    let q = kql("    sel:\n        CommandLine|contains|all: ['a', 'b']\n    condition: sel");
    assert!(
        q.contains(
            r#"(tostring(EventData["CommandLine"]) contains @"a" and tostring(EventData["CommandLine"]) contains @"b")"#
        ),
        "{q}"
    );
    let q = kql("    sel:\n        User|neq: ['a', 'b']\n    condition: sel");
    assert!(q.contains(r#"not((tostring(EventData["User"]) =~ @"a" or tostring(EventData["User"]) =~ @"b"))"#), "{q}");
}

#[test]
fn windash_gives_all_five_dashes() {
    let q = kql("    sel:\n        CommandLine|windash|contains: ' -enc '\n    condition: sel");
    for dash in ["-", "/", "\u{2013}", "\u{2014}", "\u{2015}"] {
        assert!(q.contains(&format!("contains @\" {dash}enc \"")), "{dash}: {q}");
    }
    let r = reason("    sel:\n        CommandLine|windash|contains: ' -a -b -c -d -e'\n    condition: sel");
    assert!(matches!(r, UnsupportedReason::Value(ref m) if m.contains("windash")), "{r}");
}

#[test]
fn base64_and_base64offset_with_utf16() {
    let q = kql("    sel:\n        CommandLine|base64offset|contains: 'ping'\n    condition: sel");
    for part in ["cGluZ", "Bpbm", "waW5n"] {
        assert!(q.contains(&format!("contains @\"{part}\"")), "{part}: {q}");
    }
    let q = kql("    sel:\n        CommandLine|wide|base64offset|contains: 'ping'\n    condition: sel");
    for part in ["cABpAG4AZw", "AAaQBuAGcA", "wAGkAbgBnA"] {
        assert!(q.contains(&format!("contains @\"{part}\"")), "{part}: {q}");
    }
    let q = kql("    sel:\n        CommandLine|base64: 'ping'\n    condition: sel");
    assert!(q.contains(r#"=~ @"cGluZw==""#), "{q}");
    assert!(matches!(
        reason("    sel:\n        CommandLine|wide: 'ping'\n    condition: sel"),
        UnsupportedReason::Modifier(_)
    ));
}

#[test]
fn regex_flags_and_non_re2_patterns() {
    let q = kql("    sel:\n        CommandLine|re|i|s: 'a.b'\n    condition: sel");
    assert!(q.contains(r#"matches regex @"(?is)a.b""#), "{q}");
    let q = kql("    sel:\n        CommandLine|re: 'A\\d+'\n    condition: sel");
    assert!(q.contains(r#"matches regex @"A\d+""#), "{q}");
    let r = reason("    sel:\n        CommandLine|re: 'a(?=b)'\n    condition: sel");
    assert!(matches!(r, UnsupportedReason::Value(ref m) if m.contains("RE2")), "{r}");
}

#[test]
fn cidr_uses_the_ranges_own_family() {
    let q = kql("    sel:\n        DestinationIp|cidr: ['10.0.0.0/8', 'fe80::/10']\n    condition: sel");
    assert!(
        q.contains(r#"coalesce(ipv4_is_in_range(tostring(EventData["DestinationIp"]), @"10.0.0.0/8"), false)"#),
        "{q}"
    );
    assert!(q.contains(r#"coalesce(ipv6_is_match(tostring(EventData["DestinationIp"]), @"fe80::/10"), false)"#), "{q}");
    assert!(matches!(
        reason("    sel:\n        DestinationIp|cidr: 'nope'\n    condition: sel"),
        UnsupportedReason::Value(_)
    ));
}

#[test]
fn exists_null_numbers_and_comparisons() {
    let q = kql("    sel:\n        Image|exists: true\n        User|exists: false\n        CommandLine: null\n    condition: sel");
    assert!(q.contains(r#"isnotnull(EventData["Image"])"#), "{q}");
    assert!(q.contains(r#"not(isnotnull(EventData["User"]))"#), "{q}");
    assert!(q.contains(r#"isempty(tostring(EventData["CommandLine"]))"#), "{q}");
    let q = kql("    sel:\n        EventID: 1\n        ProcessId|gt: 4\n    condition: sel");
    assert!(q.contains("(isnotnull(EventID) and EventID == 1)"), "{q}");
    assert!(
        q.contains(
            r#"(isnotnull(toreal(tostring(EventData["ProcessId"]))) and toreal(tostring(EventData["ProcessId"])) > 4)"#
        ),
        "{q}"
    );
    let q = kql("    sel:\n        UtcTime|hour: 3\n    condition: sel");
    assert!(q.contains(r#"hourofday(todatetime(tostring(EventData["UtcTime"])))"#), "{q}");
}

#[test]
fn fieldref_compares_two_fields() {
    let q = kql("    sel:\n        ParentImage|fieldref: Image\n    condition: sel");
    assert!(q.contains(r#"tostring(EventData["ParentImage"]) =~ tostring(EventData["Image"])"#), "{q}");
    let q = kql("    sel:\n        CommandLine|fieldref|contains: Image\n    condition: sel");
    assert!(q.contains(r#"tostring(EventData["CommandLine"]) contains tostring(EventData["Image"])"#), "{q}");
}

#[test]
fn expand_takes_placeholders_and_names_a_missing_one() {
    let text = rule_yaml(SYSMON, "    sel:\n        User|expand: '%admins%'\n    condition: sel");
    let docs = parse_documents(&text, "t.yml").expect("parses");
    let mut placeholders = Placeholders::new();
    placeholders.insert("admins".into(), vec!["alice".into(), "bob".into()]);
    let q = compile_rule_projecting(&docs.rules[0], &Mapping::builtin(), Target::Sentinel, &placeholders, &[])
        .expect("compiles")
        .query;
    assert!(q.contains(r#"=~ @"alice""#) && q.contains(r#"=~ @"bob""#), "{q}");
    let r =
        compile_rule(&docs.rules[0], &Mapping::builtin(), Target::Sentinel).expect_err("no placeholder values").reason;
    assert!(matches!(r, UnsupportedReason::Value(ref m) if m.contains("%admins%")), "{r}");
}

#[test]
fn conditions_of_them_and_patterns() {
    let q = kql("    sel_a:\n        Image: a\n    sel_b:\n        Image: b\n    _hidden:\n        Image: c\n    condition: all of them");
    assert!(q.contains(r#"(tostring(EventData["Image"]) =~ @"a" and tostring(EventData["Image"]) =~ @"b")"#), "{q}");
    assert!(!q.contains(r#"@"c""#), "`them` leaves out names starting with _: {q}");
    let q = kql("    sel_a:\n        Image: a\n    sel_b:\n        Image: b\n    filter:\n        User: x\n    condition: 1 of sel_* and not filter");
    assert!(q.contains(r#"not(tostring(EventData["User"]) =~ @"x")"#), "{q}");
    let r = reason("    sel:\n        Image: a\n    condition: 1 of nothing_*");
    assert!(matches!(r, UnsupportedReason::Condition(_)), "{r}");
}

#[test]
fn keywords_search_the_escaped_event_text() {
    let q = kql("    keywords:\n        - 'C:\\temp\\x'\n    condition: keywords");
    assert!(q.contains(r#"tostring(EventData) contains @"C:\\temp\\x""#), "JSON-escaped: {q}");
    let q = compile_with(
        "    product: windows\n    service: security",
        "    keywords:\n        - 'a<b'\n    condition: keywords",
        Target::Sentinel,
    )
    .expect("compiles");
    assert!(q.contains(r#"EventData contains @"a&lt;b""#), "XML-escaped: {q}");
    let q = compile_with(
        "    product: linux\n    service: sshd",
        "    keywords:\n        - 'Failed password'\n    condition: keywords",
        Target::Sentinel,
    )
    .expect("compiles");
    assert!(q.starts_with("Syslog\n") && q.contains(r#"SyslogMessage contains @"Failed password""#), "{q}");
}

#[test]
fn process_creation_is_sysmon_and_security_4688() {
    let q = compile_with(
        PROCESS,
        "    sel:\n        Image|endswith: '\\x.exe'\n        ParentProcessId: 4\n    condition: sel",
        Target::Sentinel,
    )
    .expect("compiles");
    assert!(q.starts_with("union"), "{q}");
    assert!(q.contains("WindowsEvent\n") && q.contains("SecurityEvent\n"), "{q}");
    assert!(q.contains(r#"NewProcessName endswith @"\x.exe""#), "{q}");
    assert!(q.contains(r#"ProcessId =~ @"4""#), "4688's ProcessId is the parent's: {q}");
    // Projected under Sigma names, from the variant's columns.
    assert!(q.contains("Image = _sigma"), "{q}");
    assert!(q.contains("_sigma0 = NewProcessName") || q.contains("_sigma0 = ProcessId"), "{q}");
}

/// The taxonomy appendix maps registry_add and registry_delete to Sysmon 12
/// alone; a rule that wants deletions only says `EventType` itself.
#[test]
fn registry_add_and_delete_are_sysmon_12_as_the_taxonomy_says() {
    for category in ["registry_add", "registry_delete"] {
        let logsource = format!("    product: windows\n    category: {category}");
        let q = compile_with(
            &logsource,
            "    sel:\n        TargetObject|contains: 'RunMRU'\n    condition: sel",
            Target::Sentinel,
        )
        .unwrap_or_else(|e| panic!("{e}"));
        assert!(q.contains("EventID in (12)") || q.contains("EventID == 12"), "{category}: {q}");
        assert!(!q.contains("EventType"), "{category}: {q}");
    }
}

#[test]
fn security_fields_are_columns_or_eventdata_xml() {
    let q = compile_with("    product: windows\n    service: security", "    sel:\n        EventID: 4624\n        LogonType: 3\n        TargetUserName: bob\n        NoSuchColumn: x\n    condition: sel", Target::Sentinel)
        .expect("compiles");
    assert!(q.contains("(isnotnull(LogonType) and LogonType == 3)"), "{q}");
    assert!(q.contains(r#"TargetUserName =~ @"bob""#), "{q}");
    // The element's text, its XML entities replaced.
    assert!(
        q.contains(r#"replace_string(extract(@"<Data Name=""NoSuchColumn"">([^<]*)<", 1, EventData), @"&lt;", @"<")"#),
        "{q}"
    );
    assert!(q.contains(r#"@"&amp;", @"&") =~ @"x""#), "{q}");
}

#[test]
fn defender_target_renames_and_rejects_what_it_lacks() {
    let q = compile_with(
        PROCESS,
        "    sel:\n        Image|endswith: '\\x.exe'\n        CommandLine|contains: y\n    condition: sel",
        Target::Defender,
    )
    .expect("compiles");
    assert!(q.starts_with("DeviceProcessEvents\n"), "{q}");
    assert!(q.contains(r#"FolderPath endswith @"\x.exe""#) && q.contains(r#"ProcessCommandLine contains @"y""#), "{q}");
    assert!(q.contains("Computer = DeviceName"), "{q}");
    let r = compile_with(PROCESS, "    sel:\n        Hashes|contains: y\n    condition: sel", Target::Defender)
        .expect_err("no column");
    assert!(matches!(r, UnsupportedReason::Field(_)), "{r}");
    let r = compile_with(
        "    product: windows\n    service: system",
        "    sel:\n        EventID: 1\n    condition: sel",
        Target::Defender,
    )
    .expect_err("no logsource");
    assert!(matches!(r, UnsupportedReason::Logsource(_)), "{r}");
}

#[test]
fn unmapped_logsource_is_named() {
    let r = compile_with(
        "    product: zos\n    service: racf",
        "    sel:\n        a: b\n    condition: sel",
        Target::Sentinel,
    )
    .expect_err("unmapped");
    assert_eq!(r, UnsupportedReason::Logsource("product=zos category=- service=racf (sentinel)".into()));
}

#[test]
fn a_user_mapping_overrides_the_builtin_one() {
    let user = "logsources:\n  - product: windows\n    service: system\n    variants:\n      - table: WindowsEvent\n        conditions: {Channel: MySystem}\n        fields: {Image: ImagePath}\n";
    let mapping = Mapping::parse(user, "my.yml").expect("parses");
    let text = rule_yaml("    product: windows\n    service: system", "    sel:\n        Image: a\n    condition: sel");
    let docs = parse_documents(&text, "t.yml").expect("parses");
    let q = compile_rule(&docs.rules[0], &mapping, Target::Sentinel).expect("compiles").query;
    assert!(q.contains(r#"Channel =~ @"MySystem""#) && q.contains(r#"EventData["ImagePath"]"#), "{q}");
    let err = Mapping::parse("logsources:\n  - product: x\n    variants:\n      - table: Nope\n", "bad.yml")
        .expect_err("unknown table");
    let message = err.to_string();
    assert!(message.contains("bad.yml") && message.contains("Nope"), "{message}");
    let err = Mapping::parse("tables: [1]\n", "bad.yml").expect_err("not a mapping");
    assert!(err.to_string().contains("bad.yml"), "{err}");
}

#[test]
fn filters_and_their_condition_as_written_onto_the_rules_they_name() {
    let text = "title: R\nid: r1\nlogsource:\n    product: windows\n    service: sysmon\ndetection:\n    selection:\n        Image: a\n    condition: selection\n---\ntitle: F\nlogsource:\n    product: windows\n    service: sysmon\nfilter:\n    rules: [r1]\n    selection:\n        User: admin\n    condition: not selection\n";
    let docs = parse_documents(text, "t.yml").expect("parses");
    assert_eq!(docs.filters.len(), 1, "{:?}", docs.errors);
    let filtered = apply_filters(&docs.rules[0], &docs.filters);
    let q = compile_rule(&filtered, &Mapping::builtin(), Target::Sentinel).expect("compiles").query;
    // `not selection` is the filter's own: pySigma ANDs the condition as written.
    assert!(q.contains(r#"not(tostring(EventData["User"]) =~ @"admin")"#), "{q}");
    assert!(!q.contains(r#"not(not("#), "the condition is not negated again: {q}");
    let mut other = docs.rules[0].clone();
    other.id = Some("r2".into());
    assert_eq!(apply_filters(&other, &docs.filters), other, "a filter naming other rules leaves this one alone");
}

#[test]
fn extra_fields_are_projected() {
    let text = rule_yaml(SYSMON, "    sel:\n        Image: a\n    condition: sel");
    let docs = parse_documents(&text, "t.yml").expect("parses");
    let q = compile_rule_projecting(
        &docs.rules[0],
        &Mapping::builtin(),
        Target::Sentinel,
        &Placeholders::new(),
        &["User".into()],
    )
    .expect("compiles")
    .query;
    assert!(
        q.contains(
            "| project TimeGenerated, Computer, Channel, EventID, EventRecordId, Image = _sigma0, User = _sigma1"
        ),
        "{q}"
    );
}

/// The built-in mapping lists its tables' columns so the crate can compile
/// without the catalog; they must be the catalog's, or a field that is a
/// column would be read from EventData (or a typo'd column would not bind).
#[test]
fn the_builtin_mapping_tables_have_the_catalog_columns() {
    let mapping = Mapping::builtin();
    for name in [
        "SecurityEvent",
        "WindowsEvent",
        "Syslog",
        "DeviceProcessEvents",
        "DeviceNetworkEvents",
        "DeviceFileEvents",
        "DeviceRegistryEvents",
        "DeviceImageLoadEvents",
    ] {
        let table = mapping.table(name).unwrap_or_else(|| panic!("the mapping has {name}"));
        let catalog = kqlite_ingest::catalog::table_schema(name).unwrap_or_else(|| panic!("the catalog has {name}"));
        let mut expected: Vec<&str> = catalog.iter().map(|c| c.name.as_str()).collect();
        let mut listed: Vec<&str> = table.columns.keys().map(String::as_str).collect();
        expected.sort_unstable();
        listed.sort_unstable();
        assert_eq!(listed, expected, "{name}'s columns");
        for column in catalog {
            let number = matches!(column.ty.name(), "int" | "long" | "real" | "decimal");
            assert_eq!(
                table.columns[&column.name] == kqlite_sigma::mapping::ColumnKind::Number,
                number,
                "{name}.{} is {}",
                column.name,
                column.ty
            );
        }
    }
}
