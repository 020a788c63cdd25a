//! `kqlite demo`: generate an organisation's week of remote logons with one
//! intruder in it, hunt it with the built-in pack, and show what to run next.

use crate::format::OutputFormat;
use anyhow::{Context, Result};
use clap::{Args, ValueEnum};
use kqlite_demo::{DemoOptions, DemoSummary, WindowsFormat};
use kqlite_detect::finding::Finding;
use kqlite_detect::hunt::RuleStatus;
use kqlite_detect::report::{write_findings, FindingFormat};
use kqlite_engine::time::format_datetime;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// Generate a realistic small environment and hunt it.
///
/// Writes a week of one organisation's logs (hundreds of hosts: each Windows
/// host's Security, System, WinRM, PowerShell and RDP logs as .evtx files,
/// Defender DeviceLogonEvents as CSV, each Linux host's auth.log) in which
/// administrators (jump hosts, PowerShell remoting, scheduled tasks), the
/// help desk (RDP, runas), a vulnerability scanner and service accounts
/// (SCCM client push and WMI, backup agent installs, WinRM monitoring) work
/// remotely every day, and one intruder moves at night from a user's
/// workstation with a stolen administrator account: SMB and PsExec-style
/// services, RDP, WinRM and PowerShell remoting, WMI, a remote scheduled
/// task, DCOM (MMC20), SSH, with explicit credentials (4648) for each hop.
/// Then hunts it with the built-in pack, tuned by the generated tuning file,
/// and prints the findings, what was planted, and commands to try next.
///
/// Examples:
///   kqlite demo
///   kqlite demo --out ./demo --graph ./demo/graph.html
///   kqlite demo --hosts 1000 --seed 7 --format json
///   kqlite demo --no-tuning          # the benign patterns fire too
///
/// Exit status: 0 when the demo was generated and hunted, 2 on an error.
#[derive(Args)]
#[command(verbatim_doc_comment)]
pub struct DemoArgs {
    /// Directory to write into (created); default: kqlite-demo-SEED in the
    /// system's temporary directory, kept so the suggested commands work.
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,

    /// Seed of the generator: the same seed writes the same files.
    #[arg(long, default_value_t = 1021)]
    seed: u64,

    /// Hosts in the organisation (workstations, Windows and Linux servers), 40 to 5000.
    #[arg(long, default_value_t = 300)]
    hosts: usize,

    /// Days of activity; the intrusion is in the last night.
    #[arg(long, default_value_t = 7)]
    days: u32,

    /// Write the lateral-movement graph of the findings: FILE.dot as
    /// Graphviz DOT, FILE.svg as SVG, anything else as a self-contained HTML page.
    #[arg(long, value_name = "FILE")]
    graph: Option<PathBuf>,

    /// How Windows events are written: evtx (one file per host and log) or
    /// json (SecurityEvent.jsonl and WindowsEvent.jsonl, a Log Analytics export).
    #[arg(long, value_enum, default_value_t = WindowsFormatArg::Evtx)]
    windows_format: WindowsFormatArg,

    /// Hunt without the generated tuning file.
    #[arg(long)]
    no_tuning: bool,

    /// Findings format. With table the generation summary and suggestions
    /// go to stdout; otherwise to stderr, so stdout is only the findings.
    #[arg(long, value_enum, default_value_t = OutputFormat::Table)]
    format: OutputFormat,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum WindowsFormatArg {
    Evtx,
    Json,
}

fn day_time(nanos: i64) -> String {
    let text = format_datetime(nanos);
    // 2024-05-13T01:12:33.000Z → 2024-05-13 01:12
    text.get(..16).map(|t| t.replace('T', " ")).unwrap_or(text)
}

fn header(dir: &Path, summary: &DemoSummary, options: &DemoOptions) -> String {
    let mut text = String::new();
    text.push_str(&format!(
        "kqlite demo: {} days of remote logons at CONTOSO, seed {}, written to {}\n",
        options.days,
        options.seed,
        dir.display()
    ));
    text.push_str(&format!(
        "  hosts:   {} workstations, {} Windows servers, {} Linux servers\n",
        summary.workstations, summary.windows_servers, summary.linux_servers
    ));
    let records: Vec<String> = summary.records.iter().map(|(t, n)| format!("{t} {n}")).collect();
    text.push_str(&format!("  records: {} ({} files)\n", records.join(", "), summary.files.len()));
    text.push_str("  daily activity:\n");
    for line in &summary.benign {
        text.push_str(&format!("    - {line}\n"));
    }
    text
}

fn planted(summary: &DemoSummary) -> String {
    let i = &summary.intrusion;
    let mut text = format!(
        "What was planted: {}\\{} from {} ({}), {} to {} UTC\n",
        i.domain,
        i.account,
        i.source_host,
        i.source_ip,
        day_time(i.first_event),
        day_time(i.last_event),
    );
    for (technique, hosts) in i.techniques() {
        text.push_str(&format!("    {technique} → {}\n", hosts.join(", ")));
    }
    text.push_str(&format!("    explicit credentials (4648 on {}) naming each Windows host above\n", i.source_host));
    text
}

fn verdict(summary: &DemoSummary, findings: &[Finding]) -> String {
    let v = summary.check(findings);
    format!(
        "Result: {} of {} findings are the intruder's, covering {} of the {} hosts it reached.\n",
        v.intruder_findings, v.findings, v.hosts_found, v.hosts
    )
}

fn suggestions(dir: &Path, summary: &DemoSummary, tuned: bool) -> String {
    let d = dir.display();
    let logs = dir.join("logs");
    let l = logs.display();
    let tuning = dir.join(&summary.tuning_file);
    let t = tuning.display();
    let account = &summary.intrusion.account;
    let mut text = String::from("Try next:\n");
    let mut line = |command: String, why: &str| text.push_str(&format!("  {command:<90} # {why}\n"));
    if tuned {
        line(format!("kqlite hunt {l}"), "untuned: the benign patterns fire too");
    } else {
        line(format!("kqlite hunt {l} --tuning {t}"), "tuned: only the intruder is left");
    }
    line(format!("kqlite hunt {l} --tuning {t} --format json"), "the same findings as JSON");
    line(
        "kqlite rules show T1021.004-ssh-lateral-movement".to_string(),
        "a rule: query, investigation guide, response, pivots",
    );
    line(
        format!("kqlite pivot {l} --rule T1021-remote-services --account {account}"),
        "follow-up queries for the intruder's finding",
    );
    line(
        format!("kqlite query 'SecurityEvent | where EventID == 4697 | project TimeGenerated, Computer, SubjectUserName, ServiceName' {l}"),
        "the services the intruder installed",
    );
    line(format!("kqlite demo --out {d} --graph {d}/graph.html"), "the lateral-movement graph as a web page");
    text
}

pub fn run(args: DemoArgs) -> Result<ExitCode> {
    let windows_format = match args.windows_format {
        WindowsFormatArg::Evtx => WindowsFormat::Evtx,
        WindowsFormatArg::Json => WindowsFormat::JsonLines,
    };
    let options =
        DemoOptions { seed: args.seed, hosts: args.hosts, days: args.days, windows_format, ..DemoOptions::default() };
    let dir = args.out.clone().unwrap_or_else(|| std::env::temp_dir().join(format!("kqlite-demo-{}", args.seed)));
    let summary = kqlite_demo::generate(&dir, &options)?;
    let tuning = (!args.no_tuning).then(|| dir.join(&summary.tuning_file));
    let runtime = crate::query_runtime()?;
    let hunt = runtime.block_on(kqlite_demo::hunt_reading(
        &dir,
        tuning.as_deref(),
        true,
        crate::ingest::options_from_env(),
    ))?;

    let table = args.format == OutputFormat::Table;
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let say = |text: &str, out: &mut dyn Write| -> std::io::Result<()> {
        if table {
            writeln!(out, "{text}")
        } else {
            eprintln!("{text}");
            Ok(())
        }
    };
    say(&header(&dir, &summary, &options), &mut out)?;
    let mut failed = false;
    for outcome in &hunt.outcomes {
        if let RuleStatus::Failed(e) = &outcome.status {
            failed = true;
            eprintln!("kqlite: rule {}: error: {e}", outcome.stem);
        }
    }
    let hunted = format!(
        "Hunted {} rules at {} (the newest event){}: {} findings\n",
        hunt.outcomes.len(),
        day_time(hunt.now),
        if tuning.is_some() { format!(", tuned by {}", summary.tuning_file.display()) } else { String::new() },
        hunt.findings.len()
    );
    say(&hunted, &mut out)?;
    let label = |f: &Finding| {
        hunt.outcomes
            .iter()
            .find(|o| *o.rule_id == *f.rule_id)
            .map(|o| o.stem.clone())
            .unwrap_or_else(|| f.rule_id.to_string())
    };
    let format = FindingFormat::from(args.format);
    write_findings(&hunt.findings, format, &label, &mut out)?;
    say("", &mut out)?;
    say(&planted(&summary), &mut out)?;
    say(&verdict(&summary, &hunt.findings), &mut out)?;
    if let Some(path) = &args.graph {
        kqlite_detect::report::write_graph(path, &hunt.findings)
            .with_context(|| format!("cannot write the graph to {}", path.display()))?;
        say(&format!("Graph written to {}\n", path.display()), &mut out)?;
    }
    say(&suggestions(&dir, &summary, tuning.is_some()), &mut out)?;
    out.flush()?;
    Ok(if failed { ExitCode::from(2) } else { ExitCode::SUCCESS })
}
