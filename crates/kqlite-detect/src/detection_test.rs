//! Detection tests: per-rule cases of input events and expected findings
//! (format in `rules/README.md`, "Detection tests").

use crate::error::{chain_text, DetectError};
use crate::evidence::{self, Staging};
use crate::finding::{Finding, Severity};
use crate::hunt::{self, RuleStatus};
use crate::rule::RuleSet;
use crate::tuning::Tuning;
use kqlite_engine::{Clock, Session};
use kqlite_ingest::IngestOptions;
use serde::Deserialize;
use std::path::{Path, PathBuf};

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Expected {
    #[serde(default)]
    rule: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    now: Option<String>,
    #[serde(default)]
    tuning: Option<PathBuf>,
    findings: Vec<ExpectedFinding>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
struct ExpectedFinding {
    #[serde(default)]
    account: Option<String>,
    #[serde(default)]
    source: Option<String>,
    #[serde(default)]
    targets: Option<Vec<String>>,
    #[serde(default)]
    count: Option<u64>,
    #[serde(default)]
    risk: Option<i64>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    reasons: Option<Vec<String>>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CaseResult {
    Passed,
    /// What differed, one line each.
    Failed(Vec<String>),
    /// The case could not run (bad expected.yaml, unreadable input, rule error).
    Error(String),
}

#[derive(Clone, Debug)]
pub struct CaseReport {
    /// The case directory, relative to the tests root.
    pub name: String,
    pub rule: String,
    pub description: String,
    pub result: CaseResult,
}

/// The case directories under `root` (those holding `expected.yaml`), sorted.
pub fn find_cases(root: &Path) -> Result<Vec<PathBuf>, DetectError> {
    // A root that is not a readable directory is an error (walkdir would
    // list a file root as itself).
    std::fs::read_dir(root).map_err(|source| DetectError::Io { path: root.to_path_buf(), source })?;
    let mut out = Vec::new();
    // Links are followed, as `kqlite test` always has: a case may be a link
    // to a shared directory.
    for entry in walkdir::WalkDir::new(root).follow_links(true) {
        let entry = match entry {
            Ok(entry) => entry,
            // A link to nothing is passed over, as it always was.
            Err(e) if e.io_error().is_some_and(|io| io.kind() == std::io::ErrorKind::NotFound) => continue,
            Err(e) => {
                let path = e.path().unwrap_or(root).to_path_buf();
                let source = e.into_io_error().unwrap_or_else(|| std::io::Error::other("a directory links to itself"));
                return Err(DetectError::Io { path, source });
            }
        };
        if entry.file_type().is_dir() && entry.path().join("expected.yaml").is_file() {
            out.push(entry.into_path());
        }
    }
    out.sort();
    Ok(out)
}

/// The expected account matches the finding's canonical account, its bare
/// user name, or one of the forms the rule reported it under.
fn expected_account_matches(expected: &str, f: &Finding) -> bool {
    let actual = f.account.as_str();
    let bare = actual.rsplit('\\').next().unwrap_or(actual);
    expected.eq_ignore_ascii_case(actual)
        || expected.eq_ignore_ascii_case(bare)
        || f.account_forms.iter().any(|form| expected.eq_ignore_ascii_case(form))
}

fn describe(f: &Finding) -> String {
    format!(
        "account={} source={} targets=[{}] count={} risk={} severity={} reasons=[{}]",
        f.account,
        f.source,
        f.targets.join(", "),
        f.count,
        f.risk_score,
        f.severity,
        f.reasons.join("; ")
    )
}

/// Differences between one expectation and one finding (empty: it matches).
fn differences(e: &ExpectedFinding, f: &Finding) -> Vec<String> {
    let mut d = Vec::new();
    if let Some(a) = &e.account {
        if !expected_account_matches(a, f) {
            d.push(format!("account {} != {a}", f.account));
        }
    }
    if let Some(s) = &e.source {
        if !s.eq_ignore_ascii_case(&f.source) {
            d.push(format!("source {} != {s}", f.source));
        }
    }
    if let Some(t) = &e.targets {
        let mut want: Vec<String> = t.iter().map(|x| x.to_ascii_lowercase()).collect();
        want.sort();
        let mut got: Vec<String> = f.targets.iter().map(|x| x.to_ascii_lowercase()).collect();
        got.sort();
        if want != got {
            d.push(format!("targets [{}] != [{}]", f.targets.join(", "), t.join(", ")));
        }
    }
    if let Some(c) = e.count {
        if c != f.count {
            d.push(format!("count {} != {c}", f.count));
        }
    }
    if let Some(r) = e.risk {
        if r != f.risk_score {
            d.push(format!("risk {} != {r}", f.risk_score));
        }
    }
    if let Some(s) = &e.severity {
        if s.parse::<Severity>().ok() != Some(f.severity) {
            d.push(format!("severity {} != {s}", f.severity));
        }
    }
    for reason in e.reasons.iter().flatten() {
        if !f.reasons.iter().any(|r| r.eq_ignore_ascii_case(reason)) {
            d.push(format!("reason '{reason}' missing (reasons: {})", f.reasons.join("; ")));
        }
    }
    d
}

/// Compares expected and actual findings: each expectation must match a
/// distinct finding, and no finding may be left unmatched.
fn compare(expected: &[ExpectedFinding], actual: &[Finding]) -> Vec<String> {
    let mut used = vec![false; actual.len()];
    let mut problems = Vec::new();
    for (n, e) in expected.iter().enumerate() {
        match actual.iter().enumerate().position(|(i, f)| !used[i] && differences(e, f).is_empty()) {
            Some(i) => used[i] = true,
            None => {
                // The closest candidate: fewest differences.
                let closest = actual
                    .iter()
                    .enumerate()
                    .filter(|(i, _)| !used[*i])
                    .map(|(_, f)| differences(e, f))
                    .min_by_key(Vec::len);
                match closest {
                    Some(diff) => {
                        problems.push(format!("expected finding {} not found; closest: {}", n + 1, diff.join(", ")))
                    }
                    None => problems.push(format!("expected finding {} not found: no findings left ({e:?})", n + 1)),
                }
            }
        }
    }
    for (i, f) in actual.iter().enumerate() {
        if !used[i] {
            problems.push(format!("unexpected finding: {}", describe(f)));
        }
    }
    problems
}

/// Runs one case directory against `rules`, reading its inputs with
/// `options`' settings.
pub async fn run_case(
    dir: &Path,
    root: &Path,
    rules: &RuleSet,
    functions: &[(String, String)],
    options: &IngestOptions,
) -> CaseReport {
    let name = dir.strip_prefix(root).unwrap_or(dir).display().to_string();
    let name = if name.is_empty() { dir.display().to_string() } else { name };
    let mut report = CaseReport { name, rule: String::new(), description: String::new(), result: CaseResult::Passed };
    let expected_path = dir.join("expected.yaml");
    let expected: Expected = match std::fs::read_to_string(&expected_path)
        .map_err(|e| e.to_string())
        .and_then(|t| serde_norway::from_str(&t).map_err(|e| e.to_string()))
    {
        Ok(e) => e,
        Err(e) => {
            report.result = CaseResult::Error(format!("{}: {e}", expected_path.display()));
            return report;
        }
    };
    report.description = expected.description.clone().unwrap_or_default();
    let rule_key = expected.rule.clone().unwrap_or_else(|| {
        dir.parent().and_then(|p| p.file_name()).map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
    });
    report.rule = rule_key.clone();
    match run_case_inner(dir, &expected, &rule_key, rules, functions, options).await {
        Ok(problems) if problems.is_empty() => {}
        Ok(problems) => report.result = CaseResult::Failed(problems),
        Err(e) => report.result = CaseResult::Error(chain_text(&e)),
    }
    report
}

async fn run_case_inner(
    dir: &Path,
    expected: &Expected,
    rule_key: &str,
    rules: &RuleSet,
    functions: &[(String, String)],
    options: &IngestOptions,
) -> Result<Vec<String>, DetectError> {
    let rule = rules.find(rule_key)?;
    let tuning = match &expected.tuning {
        Some(p) => Tuning::load(&dir.join(p), rules)?,
        None => Tuning::default(),
    };
    let (mut session, tables_with_data) = case_session(dir, expected.now.as_deref(), options).await?;
    hunt::prepare_session(&mut session, &tuning, functions)?;
    let mut outcome = [hunt::run_rule(&session, rule, &tuning, &tables_with_data).await];
    if let RuleStatus::Failed(e) = &outcome[0].status {
        return Err(DetectError::CaseRuleFailed { stem: rule.stem.clone(), status: e.clone() });
    }
    // Findings as a hunt reports them: one per account and source.
    crate::entity::consolidate(&mut outcome, &rules.rules);
    Ok(compare(&expected.findings, &outcome[0].findings))
}

/// A session holding a case directory's inputs, its clock fixed at the
/// case's `now`, and the tables that have data.
async fn case_session(
    dir: &Path,
    now: Option<&str>,
    options: &IngestOptions,
) -> Result<(Session, Vec<String>), DetectError> {
    // Input files are the case directory's own files; subdirectories hold
    // what the tuning file needs (watchlists).
    let mut inputs: Vec<PathBuf> = std::fs::read_dir(dir)
        .map_err(|source| DetectError::Io { path: dir.to_path_buf(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.is_file())
        .filter(|p| !p.extension().is_some_and(|e| e == "yaml" || e == "yml" || e == "md"))
        .collect();
    inputs.sort();
    if inputs.is_empty() {
        return Err(DetectError::CaseWithoutInputs);
    }
    let mut session = Session::with_partitions(1);
    let loaded = evidence::load_evidence_using(&mut session, &inputs, Staging::Auto, options.clone()).await?;
    if let Some((path, why)) = loaded.skipped.first() {
        return Err(DetectError::CaseInputNotRead { path: path.clone(), reason: why.clone() });
    }
    if let Some((location, why)) = loaded.rejected.first() {
        return Err(DetectError::CaseRecordRejected { location: location.clone(), reason: why.clone() });
    }
    if loaded.conversion_failures > 0 {
        return Err(DetectError::CaseConversion { files: loaded.conversion_failures });
    }
    let clock = match now {
        None | Some("latest") => Clock::LatestEvent,
        Some(text) => Clock::Fixed(
            kqlite_engine::time::parse_datetime(text).ok_or_else(|| DetectError::CaseNow(text.to_string()))?,
        ),
    };
    session.set_clock(clock);
    // Fix the clock once: `latest` would otherwise rescan every table per query.
    let now = session.now().await?;
    session.set_clock(Clock::Fixed(now));
    Ok((session, hunt::tables_with_data(&loaded)))
}

/// Hunts a case directory's inputs with every rule of `rules`, untuned, at
/// the case's `now`, and returns the findings without comparing them: how
/// other forms of a rule (its Sigma export) are checked against the cases
/// written for it. A rule that fails is an error.
pub async fn hunt_case(
    dir: &Path,
    rules: &RuleSet,
    functions: &[(String, String)],
    options: &IngestOptions,
) -> Result<Vec<Finding>, DetectError> {
    let expected_path = dir.join("expected.yaml");
    let text = std::fs::read_to_string(&expected_path)
        .map_err(|source| DetectError::Io { path: expected_path.clone(), source })?;
    let expected: Expected = serde_norway::from_str(&text)
        .map_err(|source| DetectError::CaseExpected { path: expected_path.clone(), source })?;
    let (mut session, tables_with_data) = case_session(dir, expected.now.as_deref(), options).await?;
    let tuning = Tuning::default();
    hunt::prepare_session(&mut session, &tuning, functions)?;
    let mut findings = Vec::new();
    for mut outcome in hunt::hunt(&session, rules, &tuning, &tables_with_data, Severity::Informational).await {
        if let RuleStatus::Failed(e) = &outcome.status {
            return Err(DetectError::CaseRuleFailed { stem: outcome.stem, status: e.clone() });
        }
        findings.append(&mut outcome.findings);
    }
    Ok(findings)
}

/// Runs every case under `root`, reading inputs with `options`' settings.
pub async fn run_all(
    root: &Path,
    rules: &RuleSet,
    functions: &[(String, String)],
    options: &IngestOptions,
) -> Result<Vec<CaseReport>, DetectError> {
    let cases = find_cases(root)?;
    if cases.is_empty() {
        return Err(DetectError::NoTestCases { root: root.to_path_buf() });
    }
    let mut reports = Vec::new();
    for case in cases {
        reports.push(run_case(&case, root, rules, functions, options).await);
    }
    Ok(reports)
}
