//! The lateral-movement graph of a set of findings: who (account@source)
//! reached which hosts. Two renderings: Graphviz DOT, and a self-contained
//! HTML page (inline SVG, CSS and script; nothing fetched from a network)
//! with the graph above a table of the findings (each with its evidence
//! rows and the rules that agree) and a timeline of the intrusion: every
//! finding's evidence events in time order.
//!
//! Nodes are `account@source` and target hosts; an edge joins them when a
//! finding names that host among its targets. A finding counts events over
//! all its targets, so an edge is labelled with the number of findings that
//! draw it and the events those findings summarize. Colour is the highest
//! severity among the edge's (or node's) findings.
//!
//! Account names, sources and host names come from the logs, which an
//! attacker writes: every string is escaped for its context (HTML text and
//! attributes, XML for the SVG, DOT quoted strings), control and
//! bidirectional-override characters are shown as `\u{..}` escapes, and the
//! script reads only generated node ids, never data.

use crate::finding::{Finding, Severity};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The graph's nodes and edges, shared by both renderings.
struct Graph<'a> {
    /// `(account, source)` pairs, in first-seen order of the sorted findings.
    sources: Vec<SourceNode<'a>>,
    targets: Vec<TargetNode<'a>>,
    edges: Vec<Edge>,
    findings: Vec<&'a Finding>,
}

struct SourceNode<'a> {
    account: &'a str,
    source: &'a str,
    severity: Severity,
    max_risk: i64,
}

struct TargetNode<'a> {
    host: &'a str,
    severity: Severity,
}

struct Edge {
    from: usize,
    to: usize,
    severity: Severity,
    /// Indexes into `Graph::findings`.
    findings: Vec<usize>,
    events: u64,
}

impl<'a> Graph<'a> {
    fn build(findings: &'a [Finding]) -> Graph<'a> {
        let mut sorted: Vec<&Finding> = findings.iter().collect();
        // Most severe first, so the page and the DOT file read top-down by risk.
        sorted.sort_by(|a, b| {
            b.severity
                .cmp(&a.severity)
                .then(b.risk_score.cmp(&a.risk_score))
                .then(a.account.cmp(&b.account))
                .then(a.source.cmp(&b.source))
                .then(a.rule_name.cmp(&b.rule_name))
        });
        // Windows account and host names are case-insensitive, and Defender lower-cases
        // what the Security log capitalises: one node per name whatever its case.
        let mut source_index: BTreeMap<(String, String), usize> = BTreeMap::new();
        let mut target_index: BTreeMap<String, usize> = BTreeMap::new();
        let mut edge_index: BTreeMap<(usize, usize), usize> = BTreeMap::new();
        let mut graph = Graph { sources: Vec::new(), targets: Vec::new(), edges: Vec::new(), findings: Vec::new() };
        for (finding_no, finding) in sorted.iter().enumerate() {
            graph.findings.push(finding);
            let key = (finding.account.to_lowercase(), finding.source.to_lowercase());
            let from = *source_index.entry(key).or_insert_with(|| {
                graph.sources.push(SourceNode {
                    account: &finding.account,
                    source: &finding.source,
                    severity: finding.severity,
                    max_risk: finding.risk_score,
                });
                graph.sources.len() - 1
            });
            let node = &mut graph.sources[from];
            node.severity = node.severity.max(finding.severity);
            node.max_risk = node.max_risk.max(finding.risk_score);
            let mut targets: Vec<&str> = finding.targets.iter().map(String::as_str).collect();
            targets.sort_unstable_by_key(|t| t.to_lowercase());
            targets.dedup_by_key(|t| t.to_lowercase());
            for host in targets {
                let to = *target_index.entry(host.to_lowercase()).or_insert_with(|| {
                    graph.targets.push(TargetNode { host, severity: finding.severity });
                    graph.targets.len() - 1
                });
                let target = &mut graph.targets[to];
                target.severity = target.severity.max(finding.severity);
                let edge_no = *edge_index.entry((from, to)).or_insert_with(|| {
                    graph.edges.push(Edge { from, to, severity: finding.severity, findings: Vec::new(), events: 0 });
                    graph.edges.len() - 1
                });
                let edge = &mut graph.edges[edge_no];
                edge.severity = edge.severity.max(finding.severity);
                edge.findings.push(finding_no);
                edge.events += finding.count;
            }
        }
        graph
    }
}

fn severity_colour(severity: Severity) -> &'static str {
    match severity {
        Severity::High => "#d62728",
        Severity::Medium => "#ff7f0e",
        Severity::Low => "#bcbd22",
        Severity::Informational => "#7f7f7f",
    }
}

/// Shows characters a reader could be fooled by (control characters,
/// bidirectional overrides, zero-width characters) as `\u{..}` escapes, so a
/// crafted name displays as what it is. XML also forbids most control
/// characters outright, even as character references.
fn visible(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        let suspicious = c.is_control()
            || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
            || matches!(c, '\u{fffe}' | '\u{ffff}');
        if suspicious {
            let _ = write!(out, "\\u{{{:x}}}", c as u32);
        } else {
            out.push(c);
        }
    }
    out
}

/// Escapes for HTML/XML text and quoted attribute values alike.
fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in visible(text).chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Escapes for the inside of a DOT double-quoted string. A backslash starts
/// a DOT label escape (`\N`, `\G`, `\l`), so it is doubled.
fn dot_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in visible(text).chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            _ => out.push(c),
        }
    }
    out
}

/// Shortens a label for the drawing; the full text stays in the tooltip and the table.
fn shorten(text: &str, max_chars: usize) -> String {
    if text.chars().count() <= max_chars {
        text.to_string()
    } else {
        let mut short: String = text.chars().take(max_chars.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

fn source_label(node: &SourceNode) -> String {
    format!("{}@{}", node.account, node.source)
}

fn edge_label(edge: &Edge) -> String {
    let findings = edge.findings.len();
    format!("{findings} finding{}, {} events", if findings == 1 { "" } else { "s" }, edge.events)
}

fn format_time(nanos: Option<i64>) -> String {
    match nanos {
        Some(ns) => chrono::DateTime::from_timestamp_nanos(ns).format("%Y-%m-%d %H:%M:%SZ").to_string(),
        None => String::new(),
    }
}

/// The graph in Graphviz DOT: `dot -Tsvg graph.dot > graph.svg`.
pub fn to_dot(findings: &[Finding]) -> String {
    let graph = Graph::build(findings);
    let mut out = String::new();
    out.push_str("digraph lateral_movement {\n");
    out.push_str(
        "  rankdir=LR;\n  node [fontname=\"Helvetica\", fontsize=10];\n  edge [fontname=\"Helvetica\", fontsize=9];\n",
    );
    for (i, node) in graph.sources.iter().enumerate() {
        let _ = writeln!(
            out,
            "  s{i} [shape=box, style=\"rounded,filled\", fillcolor=\"{}\", fontcolor=\"white\", label=\"{}\\nrisk {}\"];",
            severity_colour(node.severity),
            dot_escape(&source_label(node)),
            node.max_risk
        );
    }
    for (i, node) in graph.targets.iter().enumerate() {
        let _ = writeln!(
            out,
            "  t{i} [shape=ellipse, color=\"{}\", label=\"{}\"];",
            severity_colour(node.severity),
            dot_escape(node.host)
        );
    }
    for edge in &graph.edges {
        let rules: Vec<String> = edge.findings.iter().map(|&f| graph.findings[f].rule_name.to_string()).collect();
        let _ = writeln!(
            out,
            "  s{} -> t{} [color=\"{}\", label=\"{}\", tooltip=\"{}\"];",
            edge.from,
            edge.to,
            severity_colour(edge.severity),
            dot_escape(&edge_label(edge)),
            dot_escape(&rules.join("; "))
        );
    }
    out.push_str("}\n");
    out
}

const ROW_HEIGHT: usize = 34;
const SOURCE_X: usize = 20;
const NODE_WIDTH: usize = 300;
const TARGET_X: usize = 660;
const SVG_WIDTH: usize = 1000;
const LABEL_CHARS: usize = 40;

/// The graph as an SVG element (well-formed XML as well as HTML).
fn svg(graph: &Graph) -> String {
    let rows = graph.sources.len().max(graph.targets.len()).max(1);
    let height = rows * ROW_HEIGHT + 40;
    // Centre the shorter column against the longer one.
    let offset = |count: usize| 30 + (rows - count) * ROW_HEIGHT / 2;
    let source_y = |i: usize| offset(graph.sources.len()) + i * ROW_HEIGHT;
    let target_y = |i: usize| offset(graph.targets.len()) + i * ROW_HEIGHT;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<svg xmlns=\"http://www.w3.org/2000/svg\" id=\"graph\" width=\"{SVG_WIDTH}\" height=\"{height}\" \
         viewBox=\"0 0 {SVG_WIDTH} {height}\" role=\"img\" aria-label=\"lateral movement graph\">"
    );
    let _ = writeln!(
        out,
        "<text x=\"{SOURCE_X}\" y=\"18\" class=\"heading\">account@source</text>\
         <text x=\"{TARGET_X}\" y=\"18\" class=\"heading\">target host</text>"
    );
    out.push_str("<g class=\"edges\">\n");
    // Labels sit near the arrow heads; edges into the same host are staggered leftwards.
    let mut incoming = vec![0usize; graph.targets.len()];
    for (i, edge) in graph.edges.iter().enumerate() {
        let stagger = incoming[edge.to];
        incoming[edge.to] += 1;
        let (x1, y1) = (SOURCE_X + NODE_WIDTH, source_y(edge.from) + ROW_HEIGHT / 2 - 4);
        let (x2, y2) = (TARGET_X, target_y(edge.to) + ROW_HEIGHT / 2 - 4);
        let mid = (x1 + x2) / 2;
        let rules: Vec<String> = edge
            .findings
            .iter()
            .map(|&f| {
                let finding = graph.findings[f];
                format!("{} ({}, {} events)", finding.rule_name, finding.severity, finding.count)
            })
            .collect();
        let _ = writeln!(
            out,
            "<g class=\"edge\" id=\"e{i}\" data-from=\"s{}\" data-to=\"t{}\">\
             <title>{} → {}: {}</title>\
             <path d=\"M{x1},{y1} C{mid},{y1} {mid},{y2} {x2},{y2}\" stroke=\"{}\" stroke-width=\"{}\" fill=\"none\" marker-end=\"url(#arrow)\"/>\
             <text x=\"{}\" y=\"{}\" class=\"edge-label\">{}</text></g>",
            edge.from,
            edge.to,
            xml_escape(&source_label(&graph.sources[edge.from])),
            xml_escape(graph.targets[edge.to].host),
            xml_escape(&rules.join("; ")),
            severity_colour(edge.severity),
            1 + edge.findings.len().min(4),
            x2 - 85 - (stagger % 3) * 120,
            y2 - 4,
            xml_escape(&edge_label(edge)),
        );
    }
    out.push_str("</g>\n<g class=\"nodes\">\n");
    for (i, node) in graph.sources.iter().enumerate() {
        let y = source_y(i);
        let label = source_label(node);
        let _ = writeln!(
            out,
            "<g class=\"node source\" id=\"s{i}\" tabindex=\"0\"><title>{} (risk {}, {})</title>\
             <rect x=\"{SOURCE_X}\" y=\"{y}\" width=\"{NODE_WIDTH}\" height=\"{}\" rx=\"6\" fill=\"{}\"/>\
             <text x=\"{}\" y=\"{}\" class=\"node-label light\">{}</text></g>",
            xml_escape(&label),
            node.max_risk,
            node.severity,
            ROW_HEIGHT - 8,
            severity_colour(node.severity),
            SOURCE_X + 8,
            y + ROW_HEIGHT / 2,
            xml_escape(&shorten(&label, LABEL_CHARS)),
        );
    }
    for (i, node) in graph.targets.iter().enumerate() {
        let y = target_y(i);
        let _ = writeln!(
            out,
            "<g class=\"node target\" id=\"t{i}\" tabindex=\"0\"><title>{}</title>\
             <rect x=\"{TARGET_X}\" y=\"{y}\" width=\"{NODE_WIDTH}\" height=\"{}\" rx=\"13\" fill=\"#ffffff\" stroke=\"{}\" stroke-width=\"2\"/>\
             <text x=\"{}\" y=\"{}\" class=\"node-label\">{}</text></g>",
            xml_escape(node.host),
            ROW_HEIGHT - 8,
            severity_colour(node.severity),
            TARGET_X + 10,
            y + ROW_HEIGHT / 2,
            xml_escape(&shorten(node.host, LABEL_CHARS)),
        );
    }
    out.push_str("</g>\n");
    out.push_str(
        "<defs><marker id=\"arrow\" viewBox=\"0 0 10 10\" refX=\"10\" refY=\"5\" markerWidth=\"6\" markerHeight=\"6\" \
         orient=\"auto-start-reverse\"><path d=\"M 0 0 L 10 5 L 0 10 z\" fill=\"#555\"/></marker></defs>\n",
    );
    out.push_str("</svg>");
    out
}

fn findings_table(graph: &Graph) -> String {
    let mut out = String::new();
    out.push_str(
        "<table id=\"findings\"><thead><tr><th>severity</th><th>rule</th><th>techniques</th><th>account</th>\
         <th>source</th><th>targets</th><th>events</th><th>first seen</th><th>last seen</th><th>risk</th>\
         <th>why</th><th>agreeing rules</th><th>evidence</th></tr></thead><tbody>\n",
    );
    let source_of: BTreeMap<(String, String), usize> = graph
        .sources
        .iter()
        .enumerate()
        .map(|(i, node)| ((node.account.to_lowercase(), node.source.to_lowercase()), i))
        .collect();
    let target_of: BTreeMap<String, usize> =
        graph.targets.iter().enumerate().map(|(i, node)| (node.host.to_lowercase(), i)).collect();
    for finding in &graph.findings {
        let mut nodes =
            vec![format!("s{}", source_of[&(finding.account.to_lowercase(), finding.source.to_lowercase())])];
        nodes.extend(finding.targets.iter().map(|host| format!("t{}", target_of[&host.to_lowercase()])));
        let _ = writeln!(
            out,
            "<tr data-nodes=\"{}\"><td><span class=\"sev\" style=\"background:{}\">{}</span>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td class=\"num\">{}</td><td>{}</td><td>{}</td>\
             <td class=\"num\">{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            nodes.join(" "),
            severity_colour(finding.severity),
            finding.severity,
            match finding.rule_severity == finding.severity {
                true => String::new(),
                false => format!(" <span class=\"raised\">(rule: {})</span>", finding.rule_severity),
            },
            xml_escape(&finding.rule_name),
            xml_escape(&finding.techniques.join(", ")),
            xml_escape(&finding.account),
            xml_escape(&finding.source),
            xml_escape(&finding.targets.join(", ")),
            finding.count,
            format_time(finding.first_seen),
            format_time(finding.last_seen),
            finding.risk_score,
            xml_escape(&finding.reasons.join("; ")),
            xml_escape(&finding.agreeing_rules.join(", ")),
            evidence_table(finding),
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

/// The evidence keys shown first, in this order; a row's other keys follow
/// in the order the rule packed them.
const EVIDENCE_LEADING: [&str; 3] = ["TimeGenerated", "Computer", "EventID"];

/// An evidence value as text: strings as they are, the rest as JSON.
fn evidence_text(value: Option<&serde_json::Value>) -> String {
    match value {
        None | Some(serde_json::Value::Null) => String::new(),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
    }
}

/// A finding's evidence rows as a table folded under a summary (the
/// columns: the leading keys, then every other key of its rows).
fn evidence_table(finding: &Finding) -> String {
    if finding.evidence.is_empty() {
        return String::new();
    }
    let mut keys: Vec<&str> = EVIDENCE_LEADING.to_vec();
    for row in &finding.evidence {
        for key in row.keys() {
            if !keys.contains(&key.as_str()) {
                keys.push(key);
            }
        }
    }
    let mut out = format!(
        "<details><summary>{} event{}</summary><table class=\"evidence\"><thead><tr>",
        finding.evidence.len(),
        plural(finding.evidence.len())
    );
    for key in &keys {
        let _ = write!(out, "<th>{}</th>", xml_escape(key));
    }
    out.push_str("</tr></thead><tbody>");
    for row in &finding.evidence {
        out.push_str("<tr>");
        for key in &keys {
            let _ = write!(out, "<td>{}</td>", xml_escape(&evidence_text(row.get(*key))));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table></details>");
    out
}

/// The most rows the timeline shows (the earliest): a hunt of many
/// findings would otherwise make a page no browser opens.
const TIMELINE_ROWS: usize = 5000;

/// Every finding's evidence events in time order: time, host, EventID,
/// rule, account and the rule's key fields, so the intrusion reads from
/// start to end. A finding without evidence rows is one row at its first
/// time, saying so.
fn timeline(graph: &Graph) -> String {
    struct Entry<'a> {
        time: Option<i64>,
        time_text: String,
        host: String,
        event_id: String,
        finding: &'a Finding,
        fields: String,
    }
    let mut entries: Vec<Entry> = Vec::new();
    for finding in &graph.findings {
        if finding.evidence.is_empty() {
            entries.push(Entry {
                time: finding.first_seen,
                time_text: format_time(finding.first_seen),
                host: finding.targets.join(", "),
                event_id: String::new(),
                finding,
                fields: format!("{} events summarized, no evidence rows from the rule", finding.count),
            });
            continue;
        }
        for row in &finding.evidence {
            let fields: Vec<String> = (row.iter())
                .filter(|(key, _)| !EVIDENCE_LEADING.contains(&key.as_str()))
                .map(|(key, value)| format!("{key}={}", evidence_text(Some(value))))
                .collect();
            let time = crate::entity::evidence_time(row);
            entries.push(Entry {
                time,
                time_text: time
                    .map(|t| format_time(Some(t)))
                    .unwrap_or_else(|| evidence_text(row.get("TimeGenerated"))),
                host: evidence_text(row.get("Computer")),
                event_id: evidence_text(row.get("EventID")),
                finding,
                fields: fields.join("; "),
            });
        }
    }
    // Stable: a finding's events stay in their order at equal times.
    entries.sort_by_key(|e| (e.time.is_none(), e.time));
    let total = entries.len();
    let mut out = String::new();
    let _ = writeln!(
        out,
        "<h2>Timeline of the intrusion</h2>\n<p class=\"summary\">{total} event{} behind the findings, \
         earliest first{}.</p>",
        plural(total),
        if total > TIMELINE_ROWS { format!(" (the first {TIMELINE_ROWS} shown)") } else { String::new() }
    );
    out.push_str(
        "<table id=\"timeline\"><thead><tr><th>time</th><th>host</th><th>EventID</th><th>rule</th>\
         <th>account</th><th>key fields</th></tr></thead><tbody>\n",
    );
    for entry in entries.iter().take(TIMELINE_ROWS) {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td><span class=\"sev\" style=\"background:{}\">{}</span> {}</td>\
             <td>{}</td><td>{}</td></tr>",
            xml_escape(&entry.time_text),
            xml_escape(&entry.host),
            xml_escape(&entry.event_id),
            severity_colour(entry.finding.severity),
            entry.finding.severity,
            xml_escape(&entry.finding.rule_name),
            xml_escape(&entry.finding.account),
            xml_escape(&entry.fields),
        );
    }
    out.push_str("</tbody></table>\n");
    out
}

const STYLE: &str = "body{font-family:system-ui,Helvetica,Arial,sans-serif;margin:24px;color:#222}\
h1{font-size:20px;margin:0 0 4px}p.summary{margin:0 0 16px;color:#555}\
#graph{border:1px solid #ddd;border-radius:6px;background:#fafafa;max-width:100%;height:auto}\
.heading{font-size:12px;font-weight:600;fill:#555}\
.node-label{font-size:12px;dominant-baseline:middle;fill:#222}.node-label.light{fill:#fff}\
.edge-label{font-size:10px;fill:#444;text-anchor:middle}\
.node{cursor:pointer}.dim{opacity:.15}.hot path{stroke-width:4}\
table{border-collapse:collapse;margin-top:16px;font-size:13px}\
th,td{border-bottom:1px solid #e5e5e5;padding:4px 8px;text-align:left;vertical-align:top}\
th{background:#f3f3f3;cursor:pointer}td.num{text-align:right}tr.dim{opacity:.3}\
.sev{color:#fff;border-radius:3px;padding:1px 6px;font-size:12px}\
#filter{margin:12px 0 0;padding:4px 8px;width:320px}\
h2{font-size:16px;margin:24px 0 4px}.raised{font-size:11px;color:#555}\
table.evidence{margin:4px 0 0;font-size:12px}table.evidence th{cursor:default}\
details summary{cursor:pointer;white-space:nowrap}";

/// Highlights what a node touches and filters the table by text. It reads
/// generated ids (`s3`, `t7`) only, never the names from the logs.
const SCRIPT: &str = r#"(function(){
var edges=[].slice.call(document.querySelectorAll('.edge'));
var nodes=[].slice.call(document.querySelectorAll('.node'));
var rows=[].slice.call(document.querySelectorAll('#findings > tbody > tr'));
var selected=null;
function show(id){
  selected=id;
  var linked={};
  if(id){linked[id]=true;edges.forEach(function(e){
    if(e.getAttribute('data-from')===id||e.getAttribute('data-to')===id){linked[e.getAttribute('data-from')]=true;linked[e.getAttribute('data-to')]=true;}});}
  edges.forEach(function(e){var on=!id||e.getAttribute('data-from')===id||e.getAttribute('data-to')===id;
    e.classList.toggle('dim',!on);e.classList.toggle('hot',!!id&&on);});
  nodes.forEach(function(n){n.classList.toggle('dim',!!id&&!linked[n.id]);});
  rows.forEach(function(r){r.classList.toggle('dim',!!id&&r.getAttribute('data-nodes').split(' ').indexOf(id)<0);});
}
nodes.forEach(function(n){
  n.addEventListener('click',function(){show(selected===n.id?null:n.id);});
  n.addEventListener('keydown',function(ev){if(ev.key==='Enter'){show(selected===n.id?null:n.id);}});
});
var filter=document.getElementById('filter');
filter.addEventListener('input',function(){var q=filter.value.toLowerCase();
  rows.forEach(function(r){r.style.display=r.textContent.toLowerCase().indexOf(q)<0?'none':'';});});
document.querySelectorAll('#findings > thead th').forEach(function(th,col){
  th.addEventListener('click',function(){
    var body=document.querySelector('#findings > tbody');
    var asc=th.getAttribute('data-asc')!=='1';th.setAttribute('data-asc',asc?'1':'0');
    rows.sort(function(a,b){var x=a.cells[col].textContent,y=b.cells[col].textContent;
      var nx=parseFloat(x),ny=parseFloat(y);var c=(!isNaN(nx)&&!isNaN(ny))?nx-ny:x.localeCompare(y);return asc?c:-c;});
    rows.forEach(function(r){body.appendChild(r);});
  });
});
document.body.setAttribute('data-ready','1');
})();"#;

/// The graph and the findings table as one self-contained HTML page.
pub fn to_html(findings: &[Finding]) -> String {
    let graph = Graph::build(findings);
    let mut out = String::new();
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    // No network: the page refuses to load anything beyond itself.
    out.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; \
         script-src 'unsafe-inline'\">\n",
    );
    out.push_str("<title>kqlite: lateral movement</title>\n<style>");
    out.push_str(STYLE);
    out.push_str("</style>\n</head>\n<body>\n<h1>Lateral movement</h1>\n");
    let _ = writeln!(
        out,
        "<p class=\"summary\">{} finding{}, {} account@source node{}, {} target host{}, {} edge{}. \
         Click a node to highlight what it touches.</p>",
        graph.findings.len(),
        plural(graph.findings.len()),
        graph.sources.len(),
        plural(graph.sources.len()),
        graph.targets.len(),
        plural(graph.targets.len()),
        graph.edges.len(),
        plural(graph.edges.len()),
    );
    out.push_str(&svg(&graph));
    out.push_str("\n<div><input id=\"filter\" type=\"search\" placeholder=\"filter findings\" aria-label=\"filter findings\"></div>\n");
    out.push_str(&findings_table(&graph));
    out.push_str(&timeline(&graph));
    out.push_str("<script>");
    out.push_str(SCRIPT);
    out.push_str("</script>\n</body>\n</html>\n");
    out
}

fn plural(n: usize) -> &'static str {
    if n == 1 {
        ""
    } else {
        "s"
    }
}

/// The standalone SVG document (for embedding or checking as XML).
pub fn to_svg(findings: &[Finding]) -> String {
    let graph = Graph::build(findings);
    format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n{}\n", svg(&graph))
}

/// Writes the graph to `path` in the format its extension names: `.dot` or
/// `.gv` as Graphviz DOT, `.svg` as SVG, anything else as the HTML page.
pub fn write_graph(path: &std::path::Path, findings: &[Finding]) -> std::io::Result<()> {
    let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let text = match extension.as_str() {
        "dot" | "gv" => to_dot(findings),
        "svg" => to_svg(findings),
        _ => to_html(findings),
    };
    std::fs::write(path, text)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn visible_escapes_controls_and_bidi() {
        assert_eq!(visible("a\u{1}b\u{202e}c"), "a\\u{1}b\\u{202e}c");
        assert_eq!(visible("CONTOSO\\alice"), "CONTOSO\\alice");
    }

    #[test]
    fn dot_escape_quotes_and_backslashes() {
        assert_eq!(dot_escape(r#"a"b\N"#), r#"a\"b\\N"#);
    }

    #[test]
    fn shorten_keeps_short_text() {
        assert_eq!(shorten("abc", 5), "abc");
        assert_eq!(shorten("abcdef", 4), "abc…");
    }
}
