//! `kqlite pivot`: a rule's follow-up queries for one of its findings.

use crate::format::OutputFormat;
use crate::hunt::{prepare, HuntSetup};
use anyhow::{bail, Result};
use clap::Args;
use kqlite_detect::hunt::{self, RuleStatus};
use kqlite_detect::pivot::{matches, pivot_query};
use kqlite_engine::output::{self, Format};
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Run a rule's pivot queries (follow-ups such as what the account did next
/// on the target hosts) for the findings of one account.
///
/// The rule runs over the evidence first; each of its findings for
/// --account (and --source, if given) gets every pivot (or --name's),
/// with the finding's account, source, targets and times as lets.
///
/// Example:
///   kqlite pivot ./evidence --rule T1021-remote-services --account alice
///
/// Exit status: 0 when pivots ran, 1 when the rule has no such finding,
/// 2 on bad usage or a query error.
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct PivotArgs {
    /// Evidence files or directories.
    #[arg(required_unless_present = "store", value_name = "PATHS")]
    paths: Vec<PathBuf>,

    /// The rule (id, file stem, technique or unique prefix).
    #[arg(long)]
    rule: String,

    /// The finding's account (with or without domain).
    #[arg(long)]
    account: String,

    /// The finding's source, when the account has several.
    #[arg(long)]
    source: Option<String>,

    /// Run only this pivot.
    #[arg(long = "name", value_name = "PIVOT")]
    name: Option<String>,

    /// Print the pivot queries instead of running them.
    #[arg(long)]
    print: bool,

    #[command(flatten)]
    setup: HuntSetup,

    /// Output format of each pivot's result.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

pub fn run(args: PivotArgs) -> Result<ExitCode> {
    let runtime = crate::query_runtime()?;
    runtime.block_on(async {
        let prepared = prepare(&args.paths, &args.setup, false).await?;
        let rule = prepared.rules.find(&args.rule)?.clone();
        let pivots: Vec<_> = rule.pivots.iter().filter(|p| args.name.as_ref().is_none_or(|n| &p.name == n)).collect();
        if pivots.is_empty() {
            let names: Vec<&str> = rule.pivots.iter().map(|p| p.name.as_str()).collect();
            bail!(
                "rule {} has no pivot{} (its pivots: {})",
                rule.stem,
                args.name.as_ref().map(|n| format!(" '{n}'")).unwrap_or_default(),
                names.join(", ")
            );
        }
        let with_data = hunt::tables_with_data(&prepared.evidence);
        let outcome = hunt::run_rule(&prepared.session, &rule, &prepared.tuning, &with_data).await;
        if let RuleStatus::Failed(e) = &outcome.status {
            bail!("rule {}: {e}", rule.stem);
        }
        let findings: Vec<_> =
            outcome.findings.iter().filter(|f| matches(f, &args.account, args.source.as_deref())).collect();
        if findings.is_empty() {
            eprintln!(
                "kqlite: rule {} has no finding for account '{}'{} (its findings: {})",
                rule.stem,
                args.account,
                args.source.as_ref().map(|s| format!(" from {s}")).unwrap_or_default(),
                outcome
                    .findings
                    .iter()
                    .map(|f| format!("{} from {}", f.account, f.source))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
            return Ok(ExitCode::from(1));
        }
        let stdout = std::io::stdout();
        let mut out = std::io::BufWriter::new(stdout.lock());
        // JSON formats: one object per pivot run, with its result as
        // `kqlite query --format json` prints it; JSON wraps them in a list.
        let mut runs = Vec::new();
        for finding in findings {
            for pivot in &pivots {
                let text = pivot_query(pivot, finding);
                let heading =
                    format!("== {} for {} from {}: {}", pivot.name, finding.account, finding.source, pivot.description);
                let result = if args.print {
                    None
                } else {
                    match prepared.session.query(&text).await {
                        Ok(result) => Some(result),
                        Err(e) => {
                            out.flush()?;
                            eprint!("{}", e.render(&text, &format!("pivot {}", pivot.name)));
                            return Ok(ExitCode::from(2));
                        }
                    }
                };
                match args.format {
                    OutputFormat::Table | OutputFormat::Csv => {
                        writeln!(out, "{heading}")?;
                        match &result {
                            None => writeln!(out, "{text}")?,
                            Some(result) => {
                                let format =
                                    if matches!(args.format, OutputFormat::Csv) { Format::Csv } else { Format::Table };
                                output::write(result, format, &mut out)?;
                                writeln!(out, "({} rows)\n", result.row_count())?;
                            }
                        }
                    }
                    OutputFormat::Json | OutputFormat::Jsonl => {
                        let mut run = serde_json::json!({
                            "pivot": pivot.name,
                            "description": pivot.description,
                            "account": finding.account,
                            "source": finding.source,
                            "targets": finding.targets,
                            "query": text,
                        });
                        if let Some(result) = &result {
                            let mut buffer = Vec::new();
                            output::write(result, Format::Json, &mut buffer)?;
                            run["result"] = serde_json::from_slice(&buffer)?;
                        }
                        if matches!(args.format, OutputFormat::Jsonl) {
                            writeln!(out, "{run}")?;
                        } else {
                            runs.push(run);
                        }
                    }
                }
            }
        }
        if matches!(args.format, OutputFormat::Json) {
            writeln!(out, "{}", serde_json::to_string_pretty(&serde_json::json!({ "pivots": runs }))?)?;
        }
        out.flush()?;
        Ok(ExitCode::SUCCESS)
    })
}
