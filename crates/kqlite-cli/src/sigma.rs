//! `kqlite sigma`: Sigma rules on their own (`convert` prints their KQL).

use crate::sigma_args::{mapping, TargetArg};
use anyhow::Result;
use clap::{Args, Subcommand, ValueEnum};
use kqlite_detect::sigma::{convert_files, read_paths, reason_kind, SigmaOptions};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// Work with Sigma rules (https://sigmahq.io). Hunting with them needs no
/// subcommand: Sigma files load wherever rules load (`kqlite hunt
/// ./evidence --rules ./sigma-rules`).
#[derive(Args)]
pub struct SigmaArgs {
    #[command(subcommand)]
    command: SigmaCommand,
}

#[derive(Subcommand)]
enum SigmaCommand {
    Convert(ConvertArgs),
}

/// Print the KQL that Sigma rules compile to, over Sentinel's tables (or
/// Defender's), one query per detection or correlation rule.
///
/// RULE_OR_DIR is a Sigma file (single or multi-document YAML) or a
/// directory searched recursively for *.yml and *.yaml Sigma files.
/// Filters and correlations apply to the rules of all the files given.
///
/// Examples:
///   kqlite sigma convert proc_creation_win_whoami.yml
///   kqlite sigma convert sigma/rules/windows --format jsonl > windows.jsonl
///   kqlite sigma convert rule.yml --target defender
///   kqlite sigma convert rule.yml --mapping my-mapping.yml
///
/// Formats: kql prints `// title (id)` and the query, a blank line between
/// rules; jsonl prints one object a rule: {"path","id","title","kql","tables"}
/// or, for a rule that cannot be compiled, {"path","id","title","error","reason"}.
/// A summary (compiled, rejected by reason) goes to stderr.
///
/// Exit status: 0 when every rule compiled, 1 when some rule was rejected
/// (or some file is not valid Sigma), 2 on bad usage or unreadable paths.
#[derive(Args)]
#[command(verbatim_doc_comment)]
struct ConvertArgs {
    /// Sigma files or directories.
    #[arg(required = true, value_name = "RULE_OR_DIR")]
    paths: Vec<PathBuf>,

    /// The tables the KQL reads.
    #[arg(long, value_enum, default_value_t = TargetArg::Sentinel)]
    target: TargetArg,

    /// A logsource mapping file replacing the built-in one.
    #[arg(long, value_name = "FILE")]
    mapping: Option<PathBuf>,

    /// Output format.
    #[arg(long, value_enum, default_value_t = ConvertFormat::Kql)]
    format: ConvertFormat,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ConvertFormat {
    Kql,
    Jsonl,
}

pub fn run(args: SigmaArgs) -> Result<ExitCode> {
    match args.command {
        SigmaCommand::Convert(args) => convert(args),
    }
}

fn convert(args: ConvertArgs) -> Result<ExitCode> {
    let options = SigmaOptions {
        mapping: mapping(args.mapping.as_deref())?,
        target: args.target.into(),
        placeholders: BTreeMap::new(),
    };
    let (files, problems) = read_paths(&args.paths)?;
    let converted = convert_files(&files, &options);
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let mut rejected: BTreeMap<String, usize> = BTreeMap::new();
    let mut compiled = 0;
    for (i, rule) in converted.iter().enumerate() {
        let path = rule.path.display().to_string();
        match (&rule.compiled, args.format) {
            (Ok(c), ConvertFormat::Kql) => {
                if i > 0 {
                    writeln!(out)?;
                }
                writeln!(out, "// {} ({})\n{}", rule.title.replace('\n', " "), rule.id, c.query.trim_end())?;
            }
            (Ok(c), ConvertFormat::Jsonl) => {
                let line = serde_json::json!({
                    "path": path, "id": rule.id, "title": rule.title, "kql": c.query, "tables": c.tables,
                });
                writeln!(out, "{line}")?;
            }
            (Err(reason), ConvertFormat::Kql) => {
                eprintln!("kqlite: sigma: {path}: {} ({}): not compiled: {reason}", rule.title, rule.id)
            }
            (Err(reason), ConvertFormat::Jsonl) => {
                let line = serde_json::json!({
                    "path": path, "id": rule.id, "title": rule.title,
                    "error": "unsupported", "reason": reason.to_string(),
                });
                writeln!(out, "{line}")?;
            }
        }
        match &rule.compiled {
            Ok(_) => compiled += 1,
            Err(reason) => *rejected.entry(reason_kind(reason)).or_default() += 1,
        }
    }
    out.flush()?;
    for problem in &problems {
        eprintln!("kqlite: sigma: not loaded: {problem}");
    }
    let total_rejected: usize = rejected.values().sum();
    let mut by_reason: Vec<(String, usize)> = rejected.into_iter().collect();
    by_reason.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
    let reasons: Vec<String> = by_reason.iter().map(|(r, n)| format!("{n} {r}")).collect();
    eprintln!(
        "kqlite: sigma: {compiled} compiled, {total_rejected} rejected{}{}",
        if reasons.is_empty() { String::new() } else { format!(" ({})", reasons.join(", ")) },
        if problems.is_empty() { String::new() } else { format!(", {} files not valid Sigma", problems.len()) }
    );
    Ok(if total_rejected == 0 && problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}
