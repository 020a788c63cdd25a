//! The hunt over a generated environment: the built-in pack, tuned by the
//! generated tuning file, at the newest event time.

use kqlite_detect::evidence::{load_evidence_using, EvidenceReport, Staging};
use kqlite_detect::finding::{Finding, Severity};
use kqlite_detect::hunt::RuleOutcome;
use kqlite_detect::rule::RuleSet;
use kqlite_detect::tuning::Tuning;
use kqlite_detect::DetectError;
use kqlite_engine::Clock;
use kqlite_ingest::IngestOptions;
use std::path::Path;

/// The rules the demo hunts with: the built-in pack (T1021 and its RDP,
/// SMB, SSH and WinRM sub-technique rules) and the shared functions.
pub fn rule_pack() -> Result<(RuleSet, Vec<(String, String)>), DetectError> {
    kqlite_detect::pack::load(None)
}

/// A hunt over a generated environment.
pub struct DemoHunt {
    pub evidence: EvidenceReport,
    pub outcomes: Vec<RuleOutcome>,
    /// Most severe and riskiest first.
    pub findings: Vec<Finding>,
    /// The clock the rules ran at: the newest event time.
    pub now: i64,
}

/// Hunts the logs generated in `dir` (its `logs/` directory) with
/// [`rule_pack`], tuned by `tuning` when given, at the newest event time.
pub async fn hunt(dir: &Path, tuning: Option<&Path>) -> Result<DemoHunt, DetectError> {
    hunt_reading(dir, tuning, true, IngestOptions::default()).await
}

/// [`hunt`], reading with `options`' settings; `only_rules`: keep only the
/// EVTX records and columns the rules read (as `kqlite hunt` does), else
/// everything.
pub async fn hunt_reading(
    dir: &Path,
    tuning: Option<&Path>,
    only_rules: bool,
    options: IngestOptions,
) -> Result<DemoHunt, DetectError> {
    let (rules, functions) = rule_pack()?;
    let tuning = match tuning {
        Some(path) => Tuning::load(path, &rules)?,
        None => Tuning::default(),
    };
    let mut session = kqlite_ingest::catalog::new_session();
    let paths = [dir.join("logs")];
    let needs = match only_rules {
        true => kqlite_detect::hunt::rules_needs(&rules, &tuning, &functions).await.map(std::sync::Arc::new),
        false => None,
    };
    let options = IngestOptions { needs, ..options };
    let evidence = load_evidence_using(&mut session, &paths, Staging::Auto, options).await?;
    let now = kqlite_detect::hunt::latest_event_time(&session, &evidence).await?;
    session.set_clock(Clock::Fixed(now));
    kqlite_detect::hunt::prepare_session(&mut session, &tuning, &functions)?;
    let mut outcomes = kqlite_detect::hunt::hunt(
        &session,
        &rules,
        &tuning,
        &kqlite_detect::hunt::tables_with_data(&evidence),
        Severity::Informational,
    )
    .await;
    let findings = kqlite_detect::hunt::sorted_findings(&mut outcomes);
    Ok(DemoHunt { evidence, outcomes, findings, now })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{generate, DemoOptions};

    #[tokio::test]
    async fn reading_only_what_the_rules_read_gives_the_same_findings() {
        let dir = tempfile::tempdir().unwrap();
        generate(dir.path(), &DemoOptions { hosts: 60, days: 2, ..DemoOptions::default() }).unwrap();
        // The needs analysis does not narrow T1563.002's scan of 4778 to
        // that EventID (it reads every Security record); without it, the
        // demo has records no rule reads, so pruning is exercised.
        let tuning = dir.path().join("pruning-tuning.yaml");
        std::fs::write(&tuning, "rules:\n  T1563.002-rdp-session-reconnect-hijack:\n    disabled: true\n").unwrap();
        let pruned = hunt_reading(dir.path(), Some(&tuning), true, IngestOptions::default()).await.unwrap();
        let full = hunt_reading(dir.path(), Some(&tuning), false, IngestOptions::default()).await.unwrap();
        // Other EventIDs (4625, 4672, 4688, …) were left out, and only those.
        assert!(pruned.evidence.unread > 0, "the demo has records no rule reads");
        assert_eq!(full.evidence.unread, 0);
        assert!(pruned.evidence.total_rows() < full.evidence.total_rows());
        assert_eq!(pruned.now, full.now, "now() is the latest event, kept or not");
        let key = |h: &DemoHunt| {
            let mut f: Vec<String> = h
                .findings
                .iter()
                .map(|f| {
                    // Which of more than 20 events a rule's make_list keeps, and
                    // the order of a make_set joined into a reason, follow the
                    // order rows reach the aggregation (unspecified, as in Kusto),
                    // which differs between the two readings: the evidence is
                    // left out, and reasons compare as multisets of characters.
                    let mut f = f.clone();
                    f.details.clear();
                    f.evidence.clear();
                    f.reasons = f
                        .reasons
                        .iter()
                        .map(|r| {
                            // The same elements in any order: the same characters.
                            let mut chars: Vec<char> = r.chars().collect();
                            chars.sort_unstable();
                            chars.into_iter().collect::<String>()
                        })
                        .collect();
                    format!("{f:?}")
                })
                .collect();
            f.sort();
            f
        };
        assert!(!full.findings.is_empty());
        assert_eq!(key(&pruned), key(&full));
    }
}
