//! Findings as a table, CSV, JSON or JSON lines.

use crate::finding::Finding;
use kqlite_engine::time::format_datetime;
use serde_json::{json, Value};
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
    json!({
        "severity": f.severity.as_str(),
        "rule_id": f.rule_id,
        "rule_name": f.rule_name,
        "techniques": f.techniques,
        "account": f.account,
        "source": f.source,
        "targets": f.targets,
        "count": f.count,
        "first_seen": f.first_seen.map(format_datetime),
        "last_seen": f.last_seen.map(format_datetime),
        "risk_score": f.risk_score,
        "reasons": f.reasons,
        "details": f.details,
    })
}

const HEADERS: [&str; 10] =
    ["severity", "rule", "account", "source", "targets", "count", "first_seen", "last_seen", "risk", "why"];

fn cells(f: &Finding, rule_label: &str) -> [String; 10] {
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
    ]
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
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
            for (i, f) in findings.iter().enumerate() {
                let text = serde_json::to_string_pretty(&finding_json(f)).unwrap_or_default();
                write!(out, "{}\n    {}", if i == 0 { "" } else { "," }, text.replace('\n', "\n    "))?;
            }
            writeln!(out, "{}]\n}}", if findings.is_empty() { "" } else { "\n  " })
        }
        FindingFormat::Jsonl => {
            for f in findings {
                writeln!(out, "{}", finding_json(f))?;
            }
            Ok(())
        }
        FindingFormat::Csv => {
            writeln!(out, "{}", HEADERS.join(","))?;
            for f in findings {
                let row: Vec<String> = cells(f, &rule_label(f)).iter().map(|c| csv_field(c)).collect();
                writeln!(out, "{}", row.join(","))?;
            }
            Ok(())
        }
        FindingFormat::Table => {
            let rows: Vec<[String; 10]> = findings.iter().map(|f| cells(f, &rule_label(f))).collect();
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
