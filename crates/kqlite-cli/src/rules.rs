//! `kqlite rules list|show`: what the detection pack holds.

use crate::content_args::{print_sigma_rejections, ContentArgs};
use crate::sigma_args::SigmaArgs;
use anyhow::Result;
use clap::{Args, Subcommand};
use kqlite_detect::rule::{Rule, RuleSet};
use std::path::PathBuf;
use std::process::ExitCode;

/// List the detection rules, or show one with its guide, response steps and pivots.
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
}

pub fn run(args: RulesArgs) -> Result<ExitCode> {
    let sigma = args.sigma.options(None)?;
    let (mut rules, _) = kqlite_detect::pack::load_with_sigma(args.rules_dir.as_deref(), &sigma)?;
    print_rules_report(&rules);
    let content = args.content.load_with_sigma(true, &sigma)?;
    add_content_rules(&mut rules, content.rules);
    match args.command {
        RulesCommand::List => {
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
        RulesCommand::Show { rule } => {
            let rule = rules.find(&rule)?;
            print!("{}", show(rule));
        }
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
