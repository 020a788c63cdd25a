//! The lateral-movement graph: nodes and edges from findings, escaping of
//! names an attacker controls, and well-formed SVG.

use kqlite_detect::finding::{Finding, Severity};
use kqlite_detect::report::graph::{to_dot, to_html, to_svg};

fn finding(rule: &str, severity: Severity, account: &str, source: &str, targets: &[&str], count: u64) -> Finding {
    Finding {
        rule_id: format!("id-{rule}").into(),
        rule_name: rule.into(),
        severity,
        rule_severity: severity,
        techniques: vec!["T1021".to_string()].into(),
        account: account.to_string(),
        account_forms: vec![account.to_string()],
        source: source.to_string(),
        targets: targets.iter().map(|t| t.to_string()).collect(),
        count,
        first_seen: Some(1_714_608_000_000_000_000),
        last_seen: Some(1_714_611_600_000_000_000),
        risk_score: if severity == Severity::High { 3 } else { 1 },
        reasons: vec!["after hours".to_string(), "privileged account".to_string()],
        agreeing_rules: Vec::new(),
        details: serde_json::Map::new(),
        evidence: Vec::new(),
    }
}

fn sample() -> Vec<Finding> {
    vec![
        finding("RDP", Severity::High, "CONTOSO\\adm-x", "10.9.8.7", &["SRV-01", "SRV-02"], 5),
        finding("SMB", Severity::Medium, "CONTOSO\\adm-x", "10.9.8.7", &["SRV-02"], 3),
        finding("Scanner", Severity::Low, "svc-scan", "10.0.0.5", &["WS-1"], 40),
    ]
}

#[test]
fn dot_has_one_node_per_account_source_and_host_and_labelled_edges() {
    let dot = to_dot(&sample());
    assert!(dot.starts_with("digraph lateral_movement {"), "{dot}");
    // Two account@source nodes, three hosts.
    assert_eq!(dot.matches(" [shape=box").count(), 2, "{dot}");
    assert_eq!(dot.matches(" [shape=ellipse").count(), 3, "{dot}");
    // A backslash in a DOT string is doubled, or `\a` would be read as an escape.
    assert!(dot.contains(r#"label="CONTOSO\\adm-x@10.9.8.7\nrisk 3""#), "{dot}");
    // SRV-02 is reached by both the RDP and the SMB finding: one edge, two findings, 8 events.
    assert!(dot.contains("label=\"2 findings, 8 events\""), "{dot}");
    assert!(dot.contains("label=\"1 finding, 5 events\""), "{dot}");
    assert_eq!(dot.matches(" -> ").count(), 3, "{dot}");
    // Colour by severity: the High edge is red.
    assert!(dot.contains("s0 -> t0 [color=\"#d62728\""), "{dot}");
}

#[test]
fn hostile_names_are_escaped_everywhere() {
    let hostile = "<script>alert('x')</script>\"&\u{202e}";
    let findings = vec![finding(
        "R<b>",
        Severity::High,
        hostile,
        "1.2.3.4\" onmouseover=\"x",
        &["<img src=x onerror=alert(1)>"],
        1,
    )];
    let html = to_html(&findings);
    assert!(!html.contains("<script>alert"), "raw script tag leaked");
    assert!(!html.contains("<img"), "raw img tag leaked");
    assert!(!html.contains("\" onmouseover"), "attribute break-out leaked");
    assert!(!html.contains("<b>"), "rule name not escaped");
    assert!(!html.contains('\u{202e}'), "bidi override not neutralised");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;\\u{202e}"), "{html}");
    // Exactly one script element: ours.
    assert_eq!(html.matches("<script").count(), 1);

    let dot = to_dot(&findings);
    // Every quote inside a DOT string is escaped: count unescaped quotes per line is even.
    for line in dot.lines() {
        let unescaped = line.replace("\\\\", "").replace("\\\"", "");
        assert_eq!(unescaped.matches('"').count() % 2, 0, "unbalanced quotes in {line}");
    }
}

#[test]
fn html_is_self_contained() {
    let html = to_html(&sample());
    for needle in ["http://", "https://", "src=", "<link", "@import"] {
        // The SVG namespace URI is an identifier, not a fetch.
        let count = html.matches(needle).count();
        let allowed = if needle == "http://" { 1 } else { 0 };
        assert_eq!(count, allowed, "{needle} appears {count} times");
    }
    assert!(html.contains("http://www.w3.org/2000/svg"));
    assert!(html.contains("<table id=\"findings\">"));
    assert_eq!(html.matches("<tr data-nodes=").count(), 3);
}

/// A small well-formedness check of the SVG as XML: balanced tags, quoted
/// attributes, only the five predefined entities or numeric references.
fn check_well_formed_xml(xml: &str) -> Result<usize, String> {
    let body = xml.strip_prefix("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n").ok_or("no XML declaration")?;
    let mut stack: Vec<String> = Vec::new();
    let mut elements = 0;
    let mut rest = body;
    while let Some(start) = rest.find('<') {
        check_text(&rest[..start])?;
        let end = rest[start..].find('>').ok_or("unclosed tag")? + start;
        let tag = &rest[start + 1..end];
        if let Some(name) = tag.strip_prefix('/') {
            let open = stack.pop().ok_or(format!("close without open: {name}"))?;
            if open != name {
                return Err(format!("</{name}> closes <{open}>"));
            }
        } else {
            let self_closing = tag.ends_with('/');
            let tag = tag.trim_end_matches('/');
            let name = tag.split_whitespace().next().ok_or("empty tag")?.to_string();
            check_attributes(&tag[name.len()..])?;
            elements += 1;
            if !self_closing {
                stack.push(name);
            }
        }
        rest = &rest[end + 1..];
    }
    check_text(rest)?;
    if !stack.is_empty() {
        return Err(format!("unclosed elements: {stack:?}"));
    }
    Ok(elements)
}

fn check_text(text: &str) -> Result<(), String> {
    if text.contains('>') {
        return Err(format!("bare '>' in text: {text}"));
    }
    let mut rest = text;
    while let Some(amp) = rest.find('&') {
        let end = rest[amp..].find(';').ok_or(format!("unterminated entity in {text}"))? + amp;
        let entity = &rest[amp + 1..end];
        let ok = matches!(entity, "amp" | "lt" | "gt" | "quot" | "apos")
            || (entity.starts_with('#') && entity[1..].chars().all(|c| c.is_ascii_digit()));
        if !ok {
            return Err(format!("unknown entity &{entity};"));
        }
        rest = &rest[end + 1..];
    }
    if text.chars().any(|c| c.is_control() && !matches!(c, '\n' | '\t' | '\r')) {
        return Err("control character in XML text".into());
    }
    Ok(())
}

fn check_attributes(mut attrs: &str) -> Result<(), String> {
    loop {
        attrs = attrs.trim_start();
        if attrs.is_empty() {
            return Ok(());
        }
        let eq = attrs.find('=').ok_or(format!("attribute without value: {attrs}"))?;
        let name = &attrs[..eq];
        if name.is_empty() || name.contains(char::is_whitespace) {
            return Err(format!("bad attribute name '{name}'"));
        }
        let value = attrs[eq + 1..].strip_prefix('"').ok_or(format!("unquoted attribute {name}"))?;
        let close = value.find('"').ok_or(format!("unterminated attribute {name}"))?;
        check_text(&value[..close])?;
        if value[..close].contains('<') {
            return Err(format!("'<' in attribute {name}"));
        }
        attrs = &value[close + 1..];
    }
}

#[test]
fn svg_is_well_formed_xml_even_with_hostile_names() {
    let mut findings = sample();
    findings.push(finding("x", Severity::High, "a<b>&c\u{1}\"'", "</svg><svg>", &["h]]>\u{7}"], 2));
    let svg = to_svg(&findings);
    let elements = check_well_formed_xml(&svg).unwrap_or_else(|e| panic!("{e}\n{svg}"));
    assert!(elements > 10);
    // The checker itself rejects what it should.
    assert!(check_well_formed_xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a><b></a>").is_err());
    assert!(check_well_formed_xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a x=\"<\"></a>").is_err());
    assert!(check_well_formed_xml("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<a>&nbsp;</a>").is_err());
}

#[test]
fn empty_findings_still_render() {
    assert!(to_html(&[]).contains("0 findings"));
    assert_eq!(to_dot(&[]).matches("->").count(), 0);
    check_well_formed_xml(&to_svg(&[])).unwrap();
}

/// Loads the page in a real headless browser when one is installed: the
/// script must run to its end (it marks `<body data-ready="1">`) and the
/// hostile names must not have become elements.
#[test]
fn html_runs_in_a_headless_browser() {
    let Some(browser) = ["chromium", "chromium-browser", "google-chrome"]
        .into_iter()
        .find(|b| std::process::Command::new(b).arg("--version").output().is_ok_and(|o| o.status.success()))
    else {
        eprintln!("skipped: no headless browser (chromium, chromium-browser, google-chrome) on PATH");
        return;
    };
    let mut findings = sample();
    findings.push(finding(
        "x",
        Severity::High,
        "<img src=x onerror=document.body.setAttribute('data-pwned','1')>",
        "<script>document.body.setAttribute('data-pwned','2')</script>",
        &["\"><svg onload=document.body.setAttribute('data-pwned','3')>"],
        2,
    ));
    let dir = tempfile::tempdir().unwrap();
    let page = dir.path().join("graph.html");
    std::fs::write(&page, to_html(&findings)).unwrap();
    let output = std::process::Command::new(browser)
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--virtual-time-budget=2000", "--dump-dom"])
        .arg(format!("--user-data-dir={}", dir.path().join("profile").display()))
        .arg(&page)
        .output()
        .expect("run the browser");
    let dom = String::from_utf8_lossy(&output.stdout);
    assert!(
        dom.contains("data-ready=\"1\""),
        "the page's script did not finish: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The names appear as text; only the body tag would carry the attribute had one run.
    let body_tag = &dom[dom.find("<body").expect("a body")..];
    let body_tag = &body_tag[..body_tag.find('>').unwrap()];
    assert!(!body_tag.contains("data-pwned"), "a hostile name ran as script: {body_tag}");
    assert!(dom.contains("data-pwned"), "the hostile names are shown as text");
    assert_eq!(dom.matches("<img").count(), 0);
    assert_eq!(dom.matches("<script").count(), 1);
    // The browser parsed the graph: 3 account@source nodes, 4 host nodes, 4 edges.
    assert_eq!(dom.matches("class=\"node source\"").count(), 3, "{dom}");
    assert_eq!(dom.matches("class=\"node target\"").count(), 4);
    assert_eq!(dom.matches("class=\"edge\"").count(), 4);
}

#[test]
fn names_differing_only_in_case_are_one_node() {
    // Defender lower-cases what the Security log capitalises.
    let findings = vec![
        finding("T1021", Severity::High, "CONTOSO\\adm-x", "10.9.8.7", &["SRV-01.contoso.local"], 2),
        finding(
            "T1021",
            Severity::High,
            "contoso\\adm-x",
            "10.9.8.7",
            &["srv-01.contoso.local", "SRV-01.CONTOSO.LOCAL"],
            1,
        ),
    ];
    let dot = to_dot(&findings);
    assert_eq!(dot.matches(" [shape=box").count(), 1, "{dot}");
    assert_eq!(dot.matches(" [shape=ellipse").count(), 1, "{dot}");
    assert!(dot.contains("label=\"2 findings, 3 events\""), "{dot}");
}

/// Graphviz itself accepts the DOT, hostile names included, when it is installed.
#[test]
fn graphviz_renders_the_dot() {
    use std::io::Write;
    if std::process::Command::new("dot").arg("-V").output().is_err() {
        eprintln!("skipped: Graphviz's dot is not on PATH");
        return;
    }
    let mut findings = sample();
    findings.push(finding("x", Severity::High, "a\"b\\\\N{x}<y>", "1.2.3.4\"; evil -> x", &["h\"\n]"], 2));
    let mut child = std::process::Command::new("dot")
        .arg("-Tsvg")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(to_dot(&findings).as_bytes()).unwrap();
    let output = child.wait_with_output().unwrap();
    assert!(output.status.success(), "dot rejected the graph: {}", String::from_utf8_lossy(&output.stderr));
    let svg = String::from_utf8_lossy(&output.stdout);
    // Three account@source boxes and four hosts, no node invented by the hostile names.
    assert_eq!(svg.matches("class=\"node\"").count(), 3 + 4, "{svg}");
    assert_eq!(svg.matches("class=\"edge\"").count(), 4, "{svg}");
}

#[test]
fn write_graph_picks_the_format_from_the_extension() {
    let dir = tempfile::tempdir().unwrap();
    for (name, start) in [("g.dot", "digraph"), ("g.GV", "digraph"), ("g.svg", "<?xml"), ("g.html", "<!DOCTYPE html>")]
    {
        let path = dir.path().join(name);
        kqlite_detect::report::graph::write_graph(&path, &sample()).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with(start), "{name}: {}", &text[..40]);
    }
}
