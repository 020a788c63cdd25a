//! `--content DIR`: Sentinel content (rules, hunting queries, parsers,
//! watchlists, and Sigma rules among them) from an Azure-Sentinel checkout, for query, check, hunt,
//! pivot and rules.

use anyhow::Result;
use clap::Args;
use kqlite_detect::content::Content;
use kqlite_detect::sigma::{SigmaOptions, SigmaReport, SIGMA_KIND};
use std::path::PathBuf;

/// The `--content` flag.
#[derive(Args, Clone, Debug, Default)]
pub struct ContentArgs {
    /// A checkout of the Azure-Sentinel repository, or any folder of one
    /// (Parsers/, a solution): its parsers (ASIM included) become callable
    /// functions, its Watchlists/*.csv watchlists (_GetWatchlist), and for
    /// hunt, pivot and rules its analytic rules (Detections/, Solutions/*/Analytic
    /// Rules/) and hunting queries (Hunting Queries/) are added to the rules.
    /// Files that do not load are reported; the rest load. Repeatable.
    #[arg(long = "content", value_name = "DIR", global = true)]
    pub dirs: Vec<PathBuf>,
}

/// Problems printed in full; the rest are counted.
const SHOWN_PROBLEMS: usize = 20;

impl ContentArgs {
    /// Loads the content (rules too when `rules`), printing what loaded and
    /// each file that did not to stderr. Empty without `--content`.
    pub fn load(&self, rules: bool) -> Result<Content> {
        self.load_with_sigma(rules, &SigmaOptions::default())
    }

    /// [`ContentArgs::load`], compiling Sigma rules with `sigma`.
    pub fn load_with_sigma(&self, rules: bool, sigma: &SigmaOptions) -> Result<Content> {
        if self.dirs.is_empty() {
            return Ok(Content::default());
        }
        let started = std::time::Instant::now();
        let content = kqlite_detect::content::load_with_sigma(&self.dirs, rules, sigma)?;
        let hunting = content.rules.rules.iter().filter(|r| r.is_hunting()).count();
        let sigma = content.rules.rules.iter().filter(|r| r.kind == SIGMA_KIND).count();
        let mut parts = Vec::new();
        if rules {
            parts.push(format!("{} analytic rules", content.rules.rules.len() - hunting - sigma));
            parts.push(format!("{hunting} hunting queries"));
            if sigma > 0 || !content.rules.sigma.rejected.is_empty() {
                parts.push(format!("{sigma} Sigma rules"));
            }
        }
        parts.push(format!("{} parsers", content.parsers.len()));
        parts.push(format!("{} watchlists", content.watchlists.len()));
        eprintln!(
            "kqlite: content: {} ({} files not loaded) in {} ms",
            parts.join(", "),
            content.problems.len(),
            started.elapsed().as_millis()
        );
        for problem in content.problems.iter().take(SHOWN_PROBLEMS) {
            eprintln!("kqlite: content: not loaded: {problem}");
        }
        if content.problems.len() > SHOWN_PROBLEMS {
            eprintln!("kqlite: content: … and {} more files not loaded", content.problems.len() - SHOWN_PROBLEMS);
        }
        if let Some(first) = content.repeated_rules.first() {
            eprintln!(
                "kqlite: note: content: {} rule(s) repeat the id of an earlier one and are left out, e.g. {first}",
                content.repeated_rules.len()
            );
        }
        print_sigma_rejections("content", &content.rules.sigma);
        Ok(content)
    }
}

/// One line for the Sigma rules that did not compile, counted by reason,
/// and the first few in full (the rest: `kqlite sigma convert`).
pub fn print_sigma_rejections(what: &str, report: &SigmaReport) {
    if report.rejected.is_empty() {
        return;
    }
    let reasons: Vec<String> = report.rejected_by_reason().iter().map(|(r, n)| format!("{n} {r}")).collect();
    eprintln!(
        "kqlite: note: {what}: {} Sigma rule(s) not compiled ({}); `kqlite sigma convert` lists each",
        report.rejected.len(),
        reasons.join(", ")
    );
    for rejected in report.rejected.iter().take(SHOWN_PROBLEMS) {
        eprintln!("kqlite: note: {what}: not compiled: {rejected}");
    }
}
