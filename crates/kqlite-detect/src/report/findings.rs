//! Findings as a table, CSV, JSON or JSON lines: [`write_findings`].

mod json_text;

use crate::finding::Finding;
use json_text::Layout;
use kqlite_engine::time::format_datetime;
use serde::Serialize;
use serde_json::Value;
use std::io::{self, Write};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FindingFormat {
    Table,
    Json,
    Jsonl,
    Csv,
}

fn time(t: Option<i64>) -> String {
    t.map(format_datetime).unwrap_or_default()
}

/// A finding as JSON with ISO 8601 times.
pub fn finding_json(f: &Finding) -> Value {
    serde_json::to_value(FindingJson::of(f)).unwrap_or(Value::Null)
}

/// [`finding_json`]'s shape, borrowed from the finding: written straight to
/// the output (a hunt can print hundreds of thousands of findings).
#[derive(Serialize)]
struct FindingJson<'f> {
    severity: &'static str,
    rule_severity: &'static str,
    rule_id: &'f str,
    rule_name: &'f str,
    techniques: &'f [String],
    account: &'f str,
    account_forms: &'f [String],
    source: &'f str,
    targets: &'f [String],
    count: u64,
    first_seen: Option<String>,
    last_seen: Option<String>,
    risk_score: i64,
    reasons: &'f [String],
    agreeing_rules: &'f [String],
    details: &'f serde_json::Map<String, Value>,
    evidence: &'f [serde_json::Map<String, Value>],
}

impl<'f> FindingJson<'f> {
    fn of(f: &'f Finding) -> FindingJson<'f> {
        FindingJson {
            severity: f.severity.as_str(),
            rule_severity: f.rule_severity.as_str(),
            rule_id: &f.rule_id,
            rule_name: &f.rule_name,
            techniques: &f.techniques,
            account: &f.account,
            account_forms: &f.account_forms,
            source: &f.source,
            targets: &f.targets,
            count: f.count,
            first_seen: f.first_seen.map(format_datetime),
            last_seen: f.last_seen.map(format_datetime),
            risk_score: f.risk_score,
            reasons: &f.reasons,
            agreeing_rules: &f.agreeing_rules,
            details: &f.details,
            evidence: &f.evidence,
        }
    }
}

/// Appends a finding's text (`render(index, finding, buffer)`).
type Render = dyn Fn(usize, &Finding, &mut Vec<u8>) -> io::Result<()> + Sync;

/// How many findings ahead of the one rendered [`touch`] reads.
const AHEAD: usize = 8;

/// A byte of each of the finding's strings. Findings are sorted, so their
/// strings lie all over the heap and rendering waits on a cache miss per
/// string; reading them a few findings ahead, with loads that do not
/// depend on each other, lets those misses overlap.
fn touch(f: &Finding) -> u8 {
    let first = |s: &str| s.as_bytes().first().copied().unwrap_or(0);
    let all = |items: &[String]| items.iter().fold(0, |a, s| a ^ first(s));
    let mut x = first(&f.rule_id) ^ first(&f.rule_name) ^ first(&f.account) ^ first(&f.source);
    x ^= all(&f.techniques) ^ all(&f.targets) ^ all(&f.reasons) ^ all(&f.agreeing_rules);
    for (key, value) in &f.details {
        x ^= first(key);
        if let Value::String(s) = value {
            x ^= first(s);
        }
    }
    x
}

/// Renders findings on all cores, a
/// window at a time, and writes them in order: a hunt can print hundreds
/// of thousands, and one core formats JSON at a few hundred MB/s.
fn write_rendered(findings: &[Finding], out: &mut dyn Write, render: &Render) -> io::Result<()> {
    use rayon::prelude::*;
    const CHUNK: usize = 1024;
    let window = CHUNK * 4 * rayon::current_num_threads().max(1);
    for (w, part) in findings.chunks(window).enumerate() {
        let texts: Vec<io::Result<Vec<u8>>> = part
            .par_chunks(CHUNK)
            .enumerate()
            .map(|(c, chunk)| {
                let mut text = Vec::with_capacity(chunk.len() * 1024);
                for (k, f) in chunk.iter().enumerate() {
                    if let Some(ahead) = chunk.get(k + AHEAD) {
                        std::hint::black_box(touch(ahead));
                    }
                    render(w * window + c * CHUNK + k, f, &mut text)?;
                }
                Ok(text)
            })
            .collect();
        for text in texts {
            out.write_all(&text?)?;
        }
    }
    Ok(())
}

const HEADERS: [&str; 11] = [
    "severity",
    "rule",
    "account",
    "source",
    "targets",
    "count",
    "first_seen",
    "last_seen",
    "risk",
    "why",
    "agreeing_rules",
];

fn cells(f: &Finding, rule_label: &str) -> [String; 11] {
    [
        f.severity.to_string(),
        rule_label.to_string(),
        f.account.clone(),
        f.source.clone(),
        f.targets.join(" "),
        f.count.to_string(),
        time(f.first_seen),
        time(f.last_seen),
        f.risk_score.to_string(),
        f.reasons.join("; "),
        f.agreeing_rules.join(" "),
    ]
}

/// Writes findings; `rule_label` gives the short rule name shown in tables.
pub fn write_findings(
    findings: &[Finding],
    format: FindingFormat,
    rule_label: &dyn Fn(&Finding) -> String,
    out: &mut dyn Write,
) -> io::Result<()> {
    match format {
        FindingFormat::Json => {
            // One finding at a time: a whole document of many findings as
            // JSON values would cost several times the findings' memory.
            write!(out, "{{\n  \"findings\": [")?;
            write_rendered(findings, out, &|i, f, text| {
                text.extend_from_slice(if i == 0 { b"\n    " } else { b",\n    " });
                json_text::write_finding(text, &FindingJson::of(f), Layout::Pretty(2));
                Ok(())
            })?;
            writeln!(out, "{}]\n}}", if findings.is_empty() { "" } else { "\n  " })
        }
        FindingFormat::Jsonl => write_rendered(findings, out, &|_, f, text| {
            json_text::write_finding(text, &FindingJson::of(f), Layout::Compact);
            text.push(b'\n');
            Ok(())
        }),
        FindingFormat::Csv => {
            // Fields are quoted only when they hold a comma, a quote or a
            // line break (the csv crate's default).
            let mut writer = csv::Writer::from_writer(out);
            writer.write_record(HEADERS)?;
            for f in findings {
                writer.write_record(cells(f, &rule_label(f)))?;
            }
            writer.flush()
        }
        FindingFormat::Table => {
            let rows: Vec<[String; 11]> = findings.iter().map(|f| cells(f, &rule_label(f))).collect();
            let mut widths: Vec<usize> = HEADERS.iter().map(|h| h.len()).collect();
            for row in &rows {
                for (w, c) in widths.iter_mut().zip(row.iter()) {
                    *w = (*w).max(c.chars().count());
                }
            }
            let line = |cells: &[String]| {
                let mut s = String::new();
                for (i, (c, w)) in cells.iter().zip(&widths).enumerate() {
                    if i + 1 == cells.len() {
                        s.push_str(c);
                    } else {
                        s.push_str(&format!("{c:<w$}  "));
                    }
                }
                s.trim_end().to_string()
            };
            let headers: Vec<String> = HEADERS.iter().map(|h| h.to_string()).collect();
            writeln!(out, "{}", line(&headers))?;
            for row in &rows {
                writeln!(out, "{}", line(row))?;
            }
            Ok(())
        }
    }
}
