//! A finding: one alert-worthy result of a rule, in the terms an analyst
//! acts on (who, from where, to which hosts, when, how risky and why).

use serde::{Deserialize, Serialize};
use std::sync::Arc;

/// Severity as in Sentinel analytic rules, ordered from least to most severe.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum Severity {
    Informational,
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Informational => "Informational",
            Severity::Low => "Low",
            Severity::Medium => "Medium",
            Severity::High => "High",
        }
    }
}

/// A severity name that is not one of Sentinel's.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("unknown severity '{0}' (expected informational, low, medium or high)")]
pub struct UnknownSeverity(pub String);

impl std::str::FromStr for Severity {
    type Err = UnknownSeverity;

    fn from_str(s: &str) -> Result<Self, UnknownSeverity> {
        match s.to_ascii_lowercase().as_str() {
            "informational" | "info" => Ok(Severity::Informational),
            "low" => Ok(Severity::Low),
            "medium" => Ok(Severity::Medium),
            "high" => Ok(Severity::High),
            _ => Err(UnknownSeverity(s.to_string())),
        }
    }
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One finding. Times are nanoseconds since the Unix epoch (UTC), like
/// kqlite's `datetime` columns.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// The rule's id (a GUID in Sentinel rule files). The rule's fields are
    /// shared by its findings: a rule can make hundreds of thousands.
    pub rule_id: Arc<str>,
    pub rule_name: Arc<str>,
    /// The severity reported: the rule's, one step higher when other rules
    /// agree on the account ([`crate::entity::consolidate`]).
    pub severity: Severity,
    /// The rule's own severity (after tuning), before any raise.
    pub rule_severity: Severity,
    /// MITRE ATT&CK technique ids, e.g. `T1021.001`.
    pub techniques: Arc<[String]>,
    /// The account that moved, in its canonical form after a hunt
    /// (`CONTOSO\alice`: domain upper-cased, user lower-cased; a bare user
    /// name when no domain is known; see [`crate::entity`]).
    pub account: String,
    /// The account names the rule's rows gave for it, as written.
    #[serde(default)]
    pub account_forms: Vec<String>,
    /// Where the logons came from (IP address or host name).
    pub source: String,
    /// The hosts logged on to, sorted.
    pub targets: Vec<String>,
    /// How many events the finding summarizes.
    pub count: u64,
    pub first_seen: Option<i64>,
    pub last_seen: Option<i64>,
    pub risk_score: i64,
    /// Why this is worth a look: "after hours", "privileged account", "multi-host spread (4 hosts)", …
    pub reasons: Vec<String>,
    /// The other rules with a finding on the same account (and the same
    /// source when both name one), by file stem.
    #[serde(default)]
    pub agreeing_rules: Vec<String>,
    /// The rule's remaining result columns (customDetails), as JSON.
    pub details: serde_json::Map<String, serde_json::Value>,
    /// The events behind the finding, from the rule's `Evidence` column
    /// (one object per event: TimeGenerated, Computer, EventID and the
    /// rule's key fields), in time order; empty when the rule has none.
    #[serde(default)]
    pub evidence: Vec<serde_json::Map<String, serde_json::Value>>,
}
