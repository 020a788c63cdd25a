//! `kqlite hunt`: run the detection pack over evidence and print findings.

use crate::content_args::ContentArgs;
use crate::format::OutputFormat;
use crate::sigma_args::SigmaArgs;
use crate::table_args::parse_now;
use anyhow::{Context, Result};
use clap::Args;
use kqlite_detect::evidence::{load_evidence_using, EvidenceReport, Staging};
use kqlite_detect::finding::Severity;
use kqlite_detect::hunt::{self, RuleStatus};
use kqlite_detect::report::{write_findings, FindingFormat};
use kqlite_detect::rule::RuleSet;
use kqlite_detect::sigma::SIGMA_KIND;
use kqlite_detect::tuning::Tuning;
use kqlite_engine::{Clock, Session};
use kqlite_ingest::IngestOptions;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

/// Run the detection rules over logs and print what they find.
///
/// PATHS are files or directories (searched recursively; .gz and .zip
/// members too), read as `kqlite ingest` reads them: EVTX, syslog text
/// (auth.log, secure, journald JSON), Sentinel/Defender exports as CSV,
/// JSON or Parquet (the table is recognised from the columns). Rules,
/// tuning, watchlists and detection tests: rules/README.md.
///
/// Examples:
///   kqlite hunt ./evidence
///   kqlite hunt Security.evtx auth.log --tuning tuning.yaml --format json
///   kqlite hunt ./evidence --rules ./my-rules --min-severity high
///   kqlite hunt ./evidence --rule T1021 --rule T1021.004
///   kqlite hunt ./evidence --graph lateral-movement.html
///   kqlite hunt ./old-captures --lookback 3650d
///   kqlite ingest ./evidence --store ./store && kqlite hunt --store ./store
///
/// With --content, a Sentinel checkout's analytic rules and hunting queries
/// run too (hunting queries' rows are informational findings), over its
/// parsers and watchlists:
///   kqlite hunt ./evidence --content ~/Azure-Sentinel
///
/// Sigma rules (*.yml among --rules or --content, recognised by content)
/// are compiled to KQL and run over the same tables; they look at all the
/// evidence unless --lookback is given, and findings carry each event's
/// Computer, EventRecordId and the fields the rule tests:
///   kqlite hunt ./evidence --rules ./sigma/rules/windows
///   kqlite hunt ./evidence --rules rule.yml --sigma-target defender
///
/// Findings: one per rule, account and source. Accounts are canonical
/// (DOMAIN\user, domain upper-cased, user lower-cased; a UPN's first label
/// as the domain when unambiguous); the raw names are in account_forms.
/// Each finding carries the events behind it (the rule's Evidence column:
/// JSON `evidence`, tables and a timeline on the --graph page) and the
/// other rules with a finding on the same account and source
/// (agreeing_rules); when two or more rules agree its severity rises one
/// step (rule_severity keeps the rule's own), and --min-severity reads
/// the raised severity. Details: rules/README.md, "Finding fields".
///
/// A rule is skipped ("no data") only when none of the tables its query
/// reads (through the parsers it calls) has evidence.
///
/// Exit status (each error is printed):
///   0  no findings, and every rule ran
///   1  findings, and every rule ran and every content file loaded
///   2  bad usage, a missing path, a --rules or tuning file that does not
///      load; or no findings while some rule failed to run or some
///      --content file did not load
///   3  findings, while some rule failed to run or some --content file
///      did not load
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct HuntArgs {
    #[command(flatten)]
    pub memory: crate::memory_args::MemoryArgs,

    /// Evidence files or directories.
    #[arg(required_unless_present = "store", value_name = "PATHS")]
    paths: Vec<PathBuf>,

    #[command(flatten)]
    setup: HuntSetup,

    /// Output format.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,

    /// Run only this rule (id, file stem or unique prefix), or every rule of a technique (T1021.006). Repeatable.
    #[arg(long = "rule", value_name = "RULE")]
    only: Vec<String>,

    /// Report only findings at least this severe (after agreeing rules raised
    /// it): informational, low, medium, high.
    #[arg(long, value_name = "SEVERITY", default_value = "informational")]
    min_severity: Severity,

    /// Also write the lateral-movement graph of the findings (account@source
    /// → target hosts): `.html` (self-contained page), `.svg` or `.dot`.
    #[arg(long, value_name = "FILE")]
    graph: Option<PathBuf>,
}

/// What hunt and pivot share: rules, tuning and the clock.
#[derive(Args)]
pub struct HuntSetup {
    /// Hunt a store written by `kqlite ingest --store DIR` instead of PATHS.
    #[arg(long, value_name = "DIR", conflicts_with = "paths")]
    store: Option<PathBuf>,

    /// Rules directory (*.yaml Sentinel analytic rules, functions/*.kql) or
    /// rule file; Sigma files among them (recognised by content, in
    /// subfolders too) are compiled to KQL; default: the built-in pack.
    /// Repeatable; `builtin` names the built-in pack beside others.
    #[arg(long = "rules", value_name = "PATH")]
    rules_dir: Vec<PathBuf>,

    /// Tuning file: watchlists, time zone, parameter overrides, exclusions (see rules/README.md).
    #[arg(long, value_name = "FILE")]
    tuning: Option<PathBuf>,

    /// The instant now() and ago() use: `latest` (default: the newest event
    /// time in the evidence, so rules' lookbacks cover old logs), `system`
    /// (Sentinel's now()), or an ISO 8601 datetime.
    #[arg(long, value_name = "DATETIME|latest|system", default_value = "latest")]
    now: String,

    /// How far back from now() every rule looks (its `LookbackWindow`,
    /// default 24h in the built-in pack), e.g. 30d, or 3650d to read all of
    /// a folder of old captures. Overrides the tuning file.
    #[arg(long, value_name = "TIMESPAN")]
    lookback: Option<String>,

    #[command(flatten)]
    windows: crate::ingest::WindowsEventArgs,

    #[command(flatten)]
    content: ContentArgs,

    #[command(flatten)]
    sigma: SigmaArgs,
}

/// A session with the evidence loaded and the rules ready to run.
pub struct Prepared {
    pub session: Session,
    pub rules: RuleSet,
    pub tuning: Tuning,
    pub evidence: EvidenceReport,
    /// `--content` files and Sigma `--rules` files that did not load
    /// (printed when loading).
    pub content_problems: usize,
}

/// Loads rules, tuning and evidence; prints the loading report to stderr.
/// `only_rules`: keep only the EVTX records and columns the rules read
/// (right for the rules' queries only; pivots need all of it).
pub async fn prepare(paths: &[PathBuf], setup: &HuntSetup, only_rules: bool) -> Result<Prepared> {
    let sigma = setup.sigma.options(setup.tuning.as_deref())?;
    let (mut rules, functions) = kqlite_detect::pack::load_paths(&setup.rules_dir, &sigma)?;
    let rule_problems = crate::rules::print_rules_report(&rules);
    let mut content = setup.content.load_with_sigma(true, &sigma)?;
    crate::rules::add_content_rules(&mut rules, std::mem::take(&mut content.rules));
    let mut tuning = match &setup.tuning {
        Some(path) => Tuning::load(path, &rules)?,
        None => Tuning::default(),
    };
    if let Some(lookback) = &setup.lookback {
        tuning.set_lookback(&rules, lookback).context("--lookback")?;
    }
    let mut session = kqlite_ingest::catalog::new_session();
    let evidence = match &setup.store {
        Some(dir) => kqlite_detect::evidence::load_store(&mut session, dir).await,
        None => {
            // Only what the rules read is kept (pivots run other queries: all of it).
            let needs = match only_rules {
                true => hunt::rules_needs_with_content(&rules, &tuning, &functions, &content).await.map(Arc::new),
                false => None,
            };
            let options = IngestOptions {
                needs,
                security_in_windows_event: setup.windows.security_in_windows_event,
                ..crate::ingest::options_from_env()
            };
            load_evidence_using(&mut session, paths, Staging::Auto, options).await
        }
    }?;
    print_evidence_report(&evidence);
    let clock = parse_now(&setup.now)?;
    session.set_clock(clock);
    if clock == Clock::LatestEvent {
        // Once, rather than a scan of every table per rule; records left
        // unread count too.
        let now = hunt::latest_event_time(&session, &evidence).await?;
        session.set_clock(Clock::Fixed(now));
        eprintln!(
            "kqlite: now() is {} (the latest event; --now system for the clock)",
            kqlite_engine::time::format_datetime(now)
        );
    }
    hunt::prepare_session_with_content(&mut session, &tuning, &functions, &content)?;
    Ok(Prepared { session, rules, tuning, evidence, content_problems: content.problems.len() + rule_problems })
}

fn print_evidence_report(report: &EvidenceReport) {
    let tables: Vec<String> = report.rows.iter().map(|(t, n)| format!("{t} {n}")).collect();
    eprintln!(
        "kqlite: read {} files: {}",
        report.files_read,
        if tables.is_empty() { "no rows".to_string() } else { tables.join(", ") }
    );
    if report.unread > 0 {
        eprintln!("kqlite: {} EVTX records that no rule reads (other EventIDs) were counted, not kept", report.unread);
    }
    for (path, why) in report.skipped.iter().take(10) {
        eprintln!("kqlite: skipped {}: {why}", path.display());
    }
    if report.skipped.len() > 10 {
        eprintln!("kqlite: … and {} more files skipped", report.skipped.len() - 10);
    }
    for (location, why) in report.rejected.iter().take(10) {
        eprintln!("kqlite: rejected {location}: {why}");
    }
    if report.rejected.len() > 10 {
        eprintln!("kqlite: … and {} more records rejected", report.rejected.len() - 10);
    }
    if report.conversion_failures > 0 {
        eprintln!(
            "kqlite: {} file(s) had values that did not convert to their column type (stored as null)",
            report.conversion_failures
        );
    }
    for notice in report.notices.iter().take(10) {
        eprintln!("kqlite: note: {notice}");
    }
}

pub fn run(args: HuntArgs) -> Result<ExitCode> {
    args.memory.apply();
    let runtime = crate::query_runtime()?;
    runtime.block_on(async {
        let mut prepared = prepare(&args.paths, &args.setup, true).await?;
        if !args.only.is_empty() {
            let mut selected = RuleSet::default();
            for key in &args.only {
                for rule in prepared.rules.select(key).with_context(|| format!("--rule {key}"))? {
                    if !selected.rules.iter().any(|r| r.id == rule.id) {
                        selected.rules.push(rule.clone());
                    }
                }
            }
            prepared.rules = selected;
        }
        let with_data = hunt::tables_with_data(&prepared.evidence);
        let mut outcomes = hunt::run_rules(&prepared.session, &prepared.rules, &prepared.tuning, &with_data).await;
        // The evidence is read again only to explain a hunt without findings.
        // Freeing it now lets the findings (hundreds of thousands from a
        // GiB of EVTX and the SigmaHQ rules) reuse its memory.
        let hint = match outcomes.iter().all(|o| o.findings.is_empty()) {
            true => lookback_hint(&prepared.session, &with_data).await,
            false => None,
        };
        drop(std::mem::take(&mut prepared.session));
        hunt::finish(&mut outcomes, &prepared.rules, args.min_severity);
        let mut failed = false;
        let kinds: std::collections::HashMap<&str, &str> =
            prepared.rules.rules.iter().map(|r| (r.id.as_str(), r.kind.as_str())).collect();
        let mut sigma = SigmaSummary::default();
        for outcome in &outcomes {
            if kinds.get(outcome.rule_id.as_str()) == Some(&SIGMA_KIND) {
                failed |= sigma.add(outcome);
                continue;
            }
            match &outcome.status {
                RuleStatus::Failed(e) => {
                    failed = true;
                    eprintln!("kqlite: rule {}: error: {e}", outcome.stem);
                }
                RuleStatus::NoData(tables) => {
                    eprintln!("kqlite: rule {}: skipped, no data for {}", outcome.stem, tables.join(", "))
                }
                RuleStatus::Disabled => eprintln!("kqlite: rule {}: disabled by the tuning file", outcome.stem),
                RuleStatus::Ran { rows, fired } => eprintln!(
                    "kqlite: rule {}: {rows} result rows{}",
                    outcome.stem,
                    if *fired || *rows == 0 { String::new() } else { " (below its trigger threshold)".to_string() }
                ),
            }
        }
        sigma.print();
        let findings = hunt::sorted_findings(&mut outcomes);
        let format = FindingFormat::from(args.format);
        let rules = &prepared.rules;
        let label = |f: &kqlite_detect::finding::Finding| {
            rules
                .rules
                .iter()
                .find(|r| *r.id == *f.rule_id)
                .map(|r| r.stem.clone())
                .unwrap_or_else(|| f.rule_id.to_string())
        };
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        if !(findings.is_empty() && format == FindingFormat::Table) {
            write_findings(&findings, format, &label, &mut out)?;
        }
        out.flush()?;
        if let Some(path) = &args.graph {
            kqlite_detect::report::write_graph(path, &findings)
                .with_context(|| format!("--graph {}", path.display()))?;
            eprintln!("kqlite: wrote the lateral-movement graph to {}", path.display());
        }
        eprintln!("kqlite: {} findings", findings.len());
        if let (true, Some(hint)) = (findings.is_empty(), hint) {
            eprintln!("{hint}");
        }
        let failed = failed || prepared.content_problems > 0;
        let code = match (!findings.is_empty(), failed) {
            (true, false) => ExitCode::from(1),
            (true, true) => ExitCode::from(3),
            (false, true) => ExitCode::from(2),
            (false, false) => ExitCode::SUCCESS,
        };
        // The process ends here: freeing hundreds of thousands of findings
        // and the evidence one allocation at a time would only delay the exit.
        std::mem::forget(findings);
        std::mem::forget(prepared);
        Ok(code)
    })
}

/// What Sigma rules did, in a few lines: a hunt may run thousands.
#[derive(Default)]
struct SigmaSummary {
    ran: usize,
    with_results: usize,
    disabled: usize,
    /// Tables without evidence → rules skipped for them.
    no_data: std::collections::BTreeMap<String, usize>,
    skipped: usize,
    failed: Vec<String>,
}

/// Sigma rule errors printed in full; the rest are counted.
const SHOWN_SIGMA_ERRORS: usize = 20;

impl SigmaSummary {
    /// Counts an outcome; true when the rule failed.
    fn add(&mut self, outcome: &hunt::RuleOutcome) -> bool {
        match &outcome.status {
            RuleStatus::Ran { rows, .. } => {
                self.ran += 1;
                self.with_results += usize::from(*rows > 0);
            }
            RuleStatus::NoData(tables) => {
                self.skipped += 1;
                for table in tables {
                    *self.no_data.entry(table.clone()).or_default() += 1;
                }
            }
            RuleStatus::Disabled => self.disabled += 1,
            RuleStatus::Failed(e) => {
                self.failed.push(format!("{}: {e}", outcome.stem));
                return true;
            }
        }
        false
    }

    fn print(&self) {
        if self.ran + self.skipped + self.disabled + self.failed.len() == 0 {
            return;
        }
        for error in self.failed.iter().take(SHOWN_SIGMA_ERRORS) {
            eprintln!("kqlite: sigma rule {error}");
        }
        if self.failed.len() > SHOWN_SIGMA_ERRORS {
            eprintln!("kqlite: … and {} more Sigma rules failed", self.failed.len() - SHOWN_SIGMA_ERRORS);
        }
        let tables: Vec<&str> = self.no_data.keys().map(String::as_str).collect();
        eprintln!(
            "kqlite: sigma: {} rules ran ({} with results), {} skipped for lack of evidence{}, {} disabled, {} failed",
            self.ran,
            self.with_results,
            self.skipped,
            if tables.is_empty() { String::new() } else { format!(" (no data for {})", tables.join(", ")) },
            self.disabled,
            self.failed.len()
        );
    }
}

/// Rules look back from now() (usually a day); evidence spanning longer is
/// mostly outside that window, which explains a silent hunt: the note saying
/// so, when the evidence starts more than a day before now().
async fn lookback_hint(session: &Session, tables: &[String]) -> Option<String> {
    let mut earliest: Option<i64> = None;
    for table in tables {
        let has_time = session
            .table_columns(table)
            .is_some_and(|c| c.iter().any(|c| c.name == "TimeGenerated" && c.ty == kqlite_engine::KqlType::Datetime));
        if !has_time {
            continue;
        }
        let query = format!("['{table}'] | summarize t = min(TimeGenerated)");
        if let Ok(result) = session.query(&query).await {
            let first = hunt::result_rows(&result).into_iter().flatten().next();
            if let Some(t) = first.as_ref().and_then(|v| v.as_str()).and_then(kqlite_engine::time::parse_datetime) {
                earliest = Some(earliest.map_or(t, |e: i64| e.min(t)));
            }
        }
    }
    let (Some(earliest), Ok(now)) = (earliest, session.now().await) else { return None };
    const DAY: i64 = 86_400_000_000_000;
    (now - earliest > DAY).then(|| {
        format!(
            "kqlite: note: the evidence starts at {}, {} days before now() ({}); rules see only their lookback \
             (usually 1 day) before now(): pick --now, or raise LookbackWindow in a tuning file",
            kqlite_engine::time::format_datetime(earliest),
            (now - earliest) / DAY,
            kqlite_engine::time::format_datetime(now)
        )
    })
}
