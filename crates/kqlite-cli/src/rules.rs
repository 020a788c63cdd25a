//! `kqlite rules list|show|export`: what the detection pack holds, and the
//! pack in portable form.

use crate::content_args::{print_sigma_rejections, ContentArgs};
use crate::sigma_args::SigmaArgs;
use anyhow::{bail, Result};
use clap::{Args, Subcommand, ValueEnum};
use kqlite_detect::rule::{Rule, RuleSet};
use kqlite_detect::sigma_export;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

/// List the detection rules, show one with its guide, response steps and
/// pivots, or export the built-in pack as Sigma.
#[derive(Args)]
pub struct RulesArgs {
    #[command(subcommand)]
    command: RulesCommand,

    /// Rules directory or file (Sentinel and Sigma rules); default: the built-in pack.
    #[arg(long = "rules", value_name = "PATH", global = true)]
    rules_dir: Option<PathBuf>,

    #[command(flatten)]
    content: ContentArgs,

    #[command(flatten)]
    sigma: SigmaArgs,
}

#[derive(Subcommand)]
enum RulesCommand {
    /// One line per rule: stem, severity (Informational for hunting
    /// queries), techniques, name.
    List,
    /// A rule in full: description, query, parameters, false positives,
    /// investigation guide, response steps and pivot queries.
    Show {
        /// Rule id, file stem, technique (T1021) or unique prefix.
        rule: String,
    },
    Export(ExportArgs),
}

/// Write the built-in pack in a portable rule format.
///
/// Sigma: each built-in rule's per-event logic as Sigma detection rules and
/// its aggregations (per account and source) as Sigma correlation rules,
/// one file per rule, each document valid against the Sigma specification's
/// JSON schemas. Each document's description says which KQL rule it is the
/// portable form of and what Sigma cannot express (risk scores, baselines,
/// Defender tables). `kqlite sigma convert` compiles them back to KQL.
#[derive(Args)]
#[command(
    verbatim_doc_comment,
    after_help = "Examples:
  kqlite rules export --format sigma
      The whole pack as one multi-document YAML stream on stdout.
  kqlite rules export --format sigma T1021.002 T1021.006
      Two rules (named by id, file stem, technique or unique prefix).
  kqlite rules export --format sigma --out sigma/
      One file per rule: sigma/T1021-remote-services.yml, ...

Exit status: 0 when written, 2 on an unknown rule name (the pack's rules are
listed) or a directory that cannot be written."
)]
struct ExportArgs {
    /// The rules to export (id, file stem, technique or unique prefix);
    /// default: the whole built-in pack.
    #[arg(value_name = "RULE")]
    rules: Vec<String>,

    /// The format written.
    #[arg(long, value_enum, default_value_t = ExportFormat::Sigma)]
    format: ExportFormat,

    /// Write one file per rule into DIR (created if missing) instead of one
    /// stream to stdout.
    #[arg(long = "out", value_name = "DIR")]
    out: Option<PathBuf>,
}

#[derive(Clone, Copy, ValueEnum)]
enum ExportFormat {
    /// Sigma rules and correlations (https://sigmahq.io), YAML.
    Sigma,
}

pub fn run(args: RulesArgs) -> Result<ExitCode> {
    // None: list the rules; Some: show one.
    let shown = match args.command {
        RulesCommand::Export(export_args) => {
            // The Sigma forms are written by hand for the built-in rules; a
            // rules directory or content has none to export.
            if args.rules_dir.is_some() || !args.content.dirs.is_empty() {
                bail!("rules export writes the built-in pack; --rules and --content are not used by it");
            }
            return export(&export_args);
        }
        RulesCommand::List => None,
        RulesCommand::Show { rule } => Some(rule),
    };
    let sigma = args.sigma.options(None)?;
    let (mut rules, _) = kqlite_detect::pack::load_with_sigma(args.rules_dir.as_deref(), &sigma)?;
    print_rules_report(&rules);
    let content = args.content.load_with_sigma(true, &sigma)?;
    add_content_rules(&mut rules, content.rules);
    match shown {
        None => {
            let width = rules.rules.iter().map(|r| r.stem.len()).max().unwrap_or(0);
            let techniques: Vec<String> = rules.rules.iter().map(|r| r.techniques.join(",")).collect();
            let technique_width = techniques.iter().map(String::len).max().unwrap_or(0);
            for (rule, techniques) in rules.rules.iter().zip(&techniques) {
                println!(
                    "{:<width$}  {:<13}  {:<technique_width$}  {}",
                    rule.stem,
                    rule.severity.as_str(),
                    techniques,
                    rule.name
                );
            }
        }
        Some(rule) => {
            let rule = rules.find(&rule)?;
            print!("{}", show(rule));
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn export(args: &ExportArgs) -> Result<ExitCode> {
    let ExportFormat::Sigma = args.format;
    let exports = sigma_export::builtin_sigma(&args.rules)?;
    match &args.out {
        Some(dir) => {
            for path in sigma_export::write_files(&exports, dir)? {
                eprintln!("kqlite: wrote {}", path.display());
            }
        }
        None => std::io::stdout().lock().write_all(sigma_export::multi_document(&exports).as_bytes())?,
    }
    Ok(ExitCode::SUCCESS)
}

/// Adds content's rules to `rules`; one whose id a rule already has is
/// reported and left out.
pub fn add_content_rules(rules: &mut RuleSet, content: RuleSet) {
    rules.sigma.extend(content.sigma);
    for rule in content.rules {
        if let Err(e) = rules.add(rule) {
            eprintln!("kqlite: content: not loaded: {e}");
        }
    }
}

/// Prints the Sigma files of `--rules` that did not load and the Sigma
/// rules that did not compile; returns how many files did not load.
pub fn print_rules_report(rules: &RuleSet) -> usize {
    for problem in &rules.sigma.problems {
        eprintln!("kqlite: rules: not loaded: {problem}");
    }
    print_sigma_rejections("rules", &rules.sigma);
    rules.sigma.problems.len()
}

fn section(out: &mut String, title: &str) {
    out.push_str(&format!("\n## {title}\n\n"));
}

/// The rule as a readable document (Markdown).
pub fn show(rule: &Rule) -> String {
    let mut out = format!("# {}\n\n", rule.name);
    out.push_str(&format!("id:          {}\n", rule.id));
    out.push_str(&format!("file:        {}\n", rule.origin));
    out.push_str(&format!("severity:    {}\n", rule.severity));
    if let Some(c) = &rule.confidence {
        out.push_str(&format!("confidence:  {c}\n"));
    }
    out.push_str(&format!("tactics:     {}\n", rule.tactics.join(", ")));
    out.push_str(&format!("techniques:  {}\n", rule.techniques.join(", ")));
    out.push_str(&format!(
        "connectors:  {} (requiredDataConnectors; what runs is decided by the query)\n",
        rule.required_tables.join(", ")
    ));
    out.push_str(&format!(
        "schedule:    every {} over {}, alert when result rows {}\n",
        rule.query_frequency.as_deref().unwrap_or("?"),
        rule.query_period.as_deref().unwrap_or("?"),
        rule.trigger
    ));
    if !rule.description.is_empty() {
        section(&mut out, "Description");
        out.push_str(rule.description.trim_end());
        out.push('\n');
    }
    section(&mut out, "Query");
    out.push_str("```kusto\n");
    out.push_str(rule.query.trim_end());
    out.push_str("\n```\n");
    if !rule.parameters.is_empty() {
        section(&mut out, "Tunable parameters (tuning file: rules.<rule>.parameters)");
        for p in &rule.parameters {
            let hours = if p.hours_of_day { " (hours of day; shifted by the tuning file's timeZone)" } else { "" };
            out.push_str(&format!("- {}: {}{hours}\n", p.name, p.description));
        }
    }
    if !rule.false_positives.is_empty() {
        section(&mut out, "False positives and tuning");
        for fp in &rule.false_positives {
            out.push_str(&format!("- {fp}\n"));
        }
    }
    if let Some(guide) = &rule.investigation_guide {
        section(&mut out, "Investigation guide");
        out.push_str(guide.trim_end());
        out.push('\n');
    }
    if !rule.response_steps.is_empty() {
        section(&mut out, "Response");
        for (i, step) in rule.response_steps.iter().enumerate() {
            out.push_str(&format!("{}. {step}\n", i + 1));
        }
    }
    if !rule.pivots.is_empty() {
        section(&mut out, "Pivots (kqlite pivot EVIDENCE --rule RULE --account NAME [--name PIVOT])");
        for p in &rule.pivots {
            out.push_str(&format!("### {}\n\n{}\n\n```kusto\n{}\n```\n\n", p.name, p.description, p.query.trim_end()));
        }
    }
    out
}
