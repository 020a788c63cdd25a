//! One entity per account: the canonical form of the account names rules
//! report, the merging of a rule's findings on the same account and
//! source, and the rules that agree on an entity ([`consolidate`]).
//!
//! **Canonical account** `DOMAIN\user`: the domain upper-cased, the user
//! name lower-cased (Windows compares both without case; Defender
//! lower-cases what the Security log capitalises).
//! - `DOMAIN\user` keeps its domain; a domain with a dot (`contoso.local\user`)
//!   is a DNS domain, read as a UPN suffix is.
//! - `user@contoso.local` (a UPN): the NetBIOS domain is the suffix's first
//!   label (`CONTOSO`) when that is unambiguous, i.e. no other DNS domain
//!   among the hunt's accounts has the same first label; otherwise the whole
//!   suffix upper-cased (`CONTOSO.LOCAL\user`). A forest whose NetBIOS name
//!   is not its DNS name's first label (`CORP` for `contoso.com`) gives two
//!   entities: kqlite has no directory to ask.
//! - a bare `user` takes the domain of the same user name elsewhere in the
//!   hunt when exactly one domain is seen with it (an sshd login
//!   `admin-tmoore` and `CONTOSO\admin-tmoore` are one entity); otherwise it
//!   stays bare.
//! - an empty domain or `-` is no domain.
//!
//! The raw forms a finding was reported under are kept in
//! [`Finding::account_forms`].

use crate::finding::{Finding, Severity};
use crate::hunt::RuleOutcome;
use crate::rule::Rule;
use serde_json::Value;
use std::collections::{BTreeSet, HashMap, HashSet};

/// The most evidence rows a merged finding keeps (the earliest).
pub const EVIDENCE_CAP: usize = 50;

/// An account name split into its parts, case-folded.
#[derive(Clone, Debug, PartialEq, Eq)]
struct AccountParts {
    user: String,
    domain: Domain,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Domain {
    None,
    /// A NetBIOS domain, upper-cased.
    NetBios(String),
    /// A DNS domain (a UPN suffix), lower-cased.
    Dns(String),
}

fn parse_account(raw: &str) -> AccountParts {
    let raw = raw.trim();
    let domain_of = |text: &str| {
        let text = text.trim();
        if text.is_empty() || text == "-" {
            Domain::None
        } else if text.contains('.') && text != "." {
            Domain::Dns(text.to_lowercase())
        } else {
            Domain::NetBios(text.to_uppercase())
        }
    };
    if let Some((domain, user)) = raw.split_once('\\') {
        return AccountParts { user: user.to_lowercase(), domain: domain_of(domain) };
    }
    if let Some((user, suffix)) = raw.rsplit_once('@') {
        if !user.is_empty() && suffix.contains('.') {
            return AccountParts { user: user.to_lowercase(), domain: Domain::Dns(suffix.to_lowercase()) };
        }
    }
    AccountParts { user: raw.to_lowercase(), domain: Domain::None }
}

/// The canonical accounts of a hunt: built from every raw account name its
/// findings report, since whether a UPN suffix or a bare name resolves
/// depends on the others (module documentation).
#[derive(Debug, Default)]
pub struct AccountDirectory {
    /// DNS domain → the NetBIOS form it takes.
    dns: HashMap<String, String>,
    /// Bare user name → its one domain, when exactly one is seen.
    bare: HashMap<String, String>,
}

impl AccountDirectory {
    pub fn new<'a>(raw_accounts: impl IntoIterator<Item = &'a str>) -> AccountDirectory {
        let parsed: Vec<AccountParts> =
            raw_accounts.into_iter().collect::<HashSet<_>>().into_iter().map(parse_account).collect();
        let dns_domains: BTreeSet<&str> = parsed
            .iter()
            .filter_map(|p| match &p.domain {
                Domain::Dns(d) => Some(d.as_str()),
                _ => None,
            })
            .collect();
        let first_label = |d: &str| d.split('.').next().unwrap_or(d).to_uppercase();
        let mut label_count: HashMap<String, usize> = HashMap::new();
        for d in &dns_domains {
            *label_count.entry(first_label(d)).or_default() += 1;
        }
        let dns: HashMap<String, String> = dns_domains
            .iter()
            .map(|d| {
                let label = first_label(d);
                let netbios = if label_count[&label] == 1 && !label.is_empty() { label } else { d.to_uppercase() };
                (d.to_string(), netbios)
            })
            .collect();
        let mut domains_of_user: HashMap<&str, BTreeSet<String>> = HashMap::new();
        for p in &parsed {
            let domain = match &p.domain {
                Domain::None => continue,
                Domain::NetBios(d) => d.clone(),
                Domain::Dns(d) => dns[d].clone(),
            };
            domains_of_user.entry(p.user.as_str()).or_default().insert(domain);
        }
        let bare = (domains_of_user.into_iter())
            .filter(|(_, domains)| domains.len() == 1)
            .filter_map(|(user, domains)| domains.into_iter().next().map(|d| (user.to_string(), d)))
            .collect();
        AccountDirectory { dns, bare }
    }

    /// The canonical form of `raw` (empty stays empty).
    pub fn canonical(&self, raw: &str) -> String {
        let parts = parse_account(raw);
        if parts.user.is_empty() {
            return String::new();
        }
        let domain = match &parts.domain {
            Domain::NetBios(d) => Some(d.clone()),
            Domain::Dns(d) => Some(self.dns.get(d).cloned().unwrap_or_else(|| d.to_uppercase())),
            Domain::None => self.bare.get(&parts.user).cloned(),
        };
        match domain {
            Some(domain) => format!("{domain}\\{}", parts.user),
            None => parts.user,
        }
    }
}

/// A source as findings of different rules are compared: lower-cased, an
/// IPv4-mapped IPv6 address as IPv4, and no source at all for values that
/// name none (`-`, loopback: a tunnel's end, not where the account came from).
fn agreement_source(source: &str) -> Option<String> {
    let s = source.trim().to_lowercase();
    let s = s.strip_prefix("::ffff:").map(str::to_string).unwrap_or(s);
    match s.as_str() {
        "" | "-" | "127.0.0.1" | "::1" | "localhost" => None,
        _ => Some(s),
    }
}

/// Whose finding it is for agreement: a Sigma rule whose description names
/// another rule's id (the pack's Sigma companions: "Portable form of …
/// (id GUID)") speaks for that rule, so a rule and its own portable form
/// are one voice, not two agreeing rules.
fn voices(rules: &[Rule]) -> HashMap<&str, &str> {
    let ids: HashSet<&str> =
        rules.iter().filter(|r| r.kind != crate::sigma::SIGMA_KIND).map(|r| r.id.as_str()).collect();
    let mut voice = HashMap::new();
    for rule in rules.iter().filter(|r| r.kind == crate::sigma::SIGMA_KIND) {
        let named = (rule.description.split(|c: char| !(c.is_ascii_alphanumeric() || c == '-')))
            .find(|token| token.len() >= 8 && ids.contains(token));
        if let Some(id) = named {
            voice.insert(rule.id.as_str(), *ids.get(id).expect("found in ids"));
        }
    }
    voice
}

/// After every rule of a hunt ran: each finding's account in its canonical
/// form (raw forms in `account_forms`); a rule's findings on the same
/// account and source merged into one ([`merge`]); and each finding's
/// `agreeing_rules`, the other rules with a finding on the same account
/// (and the same source when both name one), its severity one step higher
/// when at least two distinct rules agree (`rule_severity` keeps the
/// rule's own). `rules` are the hunt's rules, for Sigma rules (whose
/// findings are one event each and are not merged) and their companions.
pub fn consolidate(outcomes: &mut [RuleOutcome], rules: &[Rule]) {
    let directory = AccountDirectory::new(
        outcomes.iter().flat_map(|o| &o.findings).flat_map(|f| f.account_forms.iter().map(String::as_str)),
    );
    let by_id: HashMap<&str, &Rule> = rules.iter().map(|r| (r.id.as_str(), r)).collect();
    for outcome in outcomes.iter_mut() {
        for finding in &mut outcome.findings {
            finding.account = directory.canonical(&finding.account);
        }
        let per_event = by_id.get(outcome.rule_id.as_str()).is_some_and(|r| r.kind == crate::sigma::SIGMA_KIND);
        if !per_event {
            outcome.findings = merge(std::mem::take(&mut outcome.findings));
        }
    }
    agree(outcomes, &voices(rules));
}

/// Merges findings of one rule that name the same (canonical) account and
/// source: targets united (host names without case), counts summed, first
/// and last seen widened, the highest risk, reasons and raw account forms
/// united, evidence concatenated in time order up to [`EVIDENCE_CAP`]. The
/// details are those of the riskiest finding, with the array values of the
/// others' same keys united into its arrays. Findings without an account are
/// left alone: nothing says they are one entity.
pub fn merge(findings: Vec<Finding>) -> Vec<Finding> {
    let mut groups: Vec<Vec<Finding>> = Vec::new();
    let mut index: HashMap<(String, String), usize> = HashMap::new();
    for finding in findings {
        if finding.account.is_empty() {
            groups.push(vec![finding]);
            continue;
        }
        let key = (finding.account.clone(), finding.source.to_lowercase());
        match index.get(&key) {
            Some(&i) => groups[i].push(finding),
            None => {
                index.insert(key, groups.len());
                groups.push(vec![finding]);
            }
        }
    }
    groups.into_iter().map(merge_group).collect()
}

/// Numbers replaced, so that "multi-host spread (6 hosts)" and "(5 hosts)"
/// count as one reason.
fn reason_shape(reason: &str) -> String {
    reason.chars().filter(|c| !c.is_ascii_digit()).collect()
}

fn merge_group(mut group: Vec<Finding>) -> Finding {
    if group.len() == 1 {
        let mut only = group.pop().expect("one");
        sort_evidence(&mut only.evidence);
        return only;
    }
    // Rows reach a rule's result in any order (partitions run in parallel):
    // ordered by their content, the merge gives the same finding every run.
    group.sort_by_cached_key(|f| format!("{f:?}"));
    // The riskiest, widest finding leads: its reasons and details come first.
    let lead = (0..group.len())
        .max_by_key(|&i| (group[i].risk_score, group[i].targets.len(), group[i].count, std::cmp::Reverse(i)))
        .expect("a group is not empty");
    let mut merged = group.swap_remove(lead);
    for other in group {
        for target in other.targets {
            if !merged.targets.iter().any(|t| t.eq_ignore_ascii_case(&target)) {
                merged.targets.push(target);
            }
        }
        merged.count += other.count;
        merged.first_seen = [merged.first_seen, other.first_seen].into_iter().flatten().min();
        merged.last_seen = [merged.last_seen, other.last_seen].into_iter().flatten().max();
        merged.risk_score = merged.risk_score.max(other.risk_score);
        merged.severity = merged.severity.max(other.severity);
        merged.rule_severity = merged.rule_severity.max(other.rule_severity);
        for reason in other.reasons {
            let shape = reason_shape(&reason);
            if !merged.reasons.iter().any(|r| reason_shape(r) == shape) {
                merged.reasons.push(reason);
            }
        }
        for form in other.account_forms {
            if !merged.account_forms.contains(&form) {
                merged.account_forms.push(form);
            }
        }
        for (key, value) in other.details {
            match (merged.details.get_mut(&key), value) {
                (Some(Value::Array(items)), Value::Array(more)) => {
                    for item in more {
                        if !items.contains(&item) {
                            items.push(item);
                        }
                    }
                }
                (None, value) => {
                    merged.details.insert(key, value);
                }
                _ => {}
            }
        }
        merged.evidence.extend(other.evidence);
    }
    merged.targets.sort();
    merged.account_forms.sort();
    sort_evidence(&mut merged.evidence);
    merged.evidence.dedup();
    merged.evidence.truncate(EVIDENCE_CAP);
    merged
}

/// An evidence row's time, for ordering (rows without one go last).
pub fn evidence_time(row: &serde_json::Map<String, Value>) -> Option<i64> {
    row.get("TimeGenerated").and_then(Value::as_str).and_then(kqlite_engine::time::parse_datetime)
}

/// In time order; rows of the same time by content, so the order does not
/// depend on the order the rows were found in.
fn sort_evidence(evidence: &mut [serde_json::Map<String, Value>]) {
    evidence.sort_by_cached_key(|row| {
        (evidence_time(row).is_none(), evidence_time(row), Value::Object(row.clone()).to_string())
    });
}

/// Sets each finding's `agreeing_rules` and raises its severity when at
/// least two distinct rules (voices) agree on its entity.
fn agree(outcomes: &mut [RuleOutcome], voices: &HashMap<&str, &str>) {
    // Per account, per source (`None`: none usable), each (voice, rule
    // stem) with a finding.
    type Voices = BTreeSet<(String, String)>;
    let mut seen: HashMap<String, HashMap<Option<String>, Voices>> = HashMap::new();
    for outcome in outcomes.iter() {
        let voice = voices.get(outcome.rule_id.as_str()).copied().unwrap_or(outcome.rule_id.as_str());
        for finding in outcome.findings.iter().filter(|f| !f.account.is_empty()) {
            let by_source = seen.entry(finding.account.clone()).or_default();
            let pairs = by_source.entry(agreement_source(&finding.source)).or_default();
            pairs.insert((voice.to_string(), outcome.stem.clone()));
        }
    }
    // A hunt can have hundreds of thousands of findings on a few accounts,
    // sources and rules: each (account, source, voice) is answered once.
    // (account, source, voice) → (the agreeing rules' stems, how many other voices).
    type Question = (String, Option<String>, String);
    let mut answers: HashMap<Question, (Vec<String>, usize)> = HashMap::new();
    for outcome in outcomes.iter_mut() {
        let own_voice = voices.get(outcome.rule_id.as_str()).copied().unwrap_or(outcome.rule_id.as_str());
        for finding in outcome.findings.iter_mut().filter(|f| !f.account.is_empty()) {
            let key = (finding.account.clone(), agreement_source(&finding.source), own_voice.to_string());
            let (agreeing, other_voices) = answers
                .entry(key)
                .or_insert_with_key(|(account, source, own_voice)| {
                    let by_source = &seen[account];
                    // Sources agree when they are the same, or either is unknown.
                    let pairs: Vec<&Voices> = match source {
                        None => by_source.values().collect(),
                        Some(_) => [by_source.get(source), by_source.get(&None)].into_iter().flatten().collect(),
                    };
                    let mut agreeing = BTreeSet::new();
                    let mut others = BTreeSet::new();
                    for (voice, stem) in pairs.into_iter().flatten() {
                        if voice != own_voice {
                            others.insert(voice.as_str());
                            agreeing.insert(stem.clone());
                        }
                    }
                    (agreeing.into_iter().collect(), others.len())
                })
                .clone();
            finding.agreeing_rules = agreeing;
            if other_voices > 0 {
                let rules = other_voices + 1;
                let raised = raise(finding.rule_severity);
                finding.severity = raised.max(finding.severity);
                finding.reasons.push(match raised > finding.rule_severity {
                    true => format!("{rules} rules agree (severity raised from {})", finding.rule_severity),
                    false => format!("{rules} rules agree"),
                });
            }
        }
    }
}

/// One step more severe (High stays High).
pub fn raise(severity: Severity) -> Severity {
    match severity {
        Severity::Informational => Severity::Low,
        Severity::Low => Severity::Medium,
        Severity::Medium | Severity::High => Severity::High,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;

    #[test]
    fn the_three_forms_and_case_give_one_canonical_account() {
        let forms = ["CONTOSO\\Admin-TMoore", "contoso\\admin-tmoore", "admin-tmoore@contoso.local", "ADMIN-TMOORE"];
        let directory = AccountDirectory::new(forms);
        for form in forms {
            assert_eq!(directory.canonical(form), "CONTOSO\\admin-tmoore", "{form}");
        }
        assert_eq!(directory.canonical(""), "");
    }

    #[test]
    fn an_ambiguous_upn_suffix_or_bare_name_is_not_guessed() {
        // Two DNS domains share the label CONTOSO: neither becomes CONTOSO.
        let directory =
            AccountDirectory::new(["alice@contoso.com", "bob@contoso.local", "FABRIKAM\\carol", "CONTOSO\\carol"]);
        assert_eq!(directory.canonical("alice@contoso.com"), "CONTOSO.COM\\alice");
        assert_eq!(directory.canonical("Bob@Contoso.Local"), "CONTOSO.LOCAL\\bob");
        // carol has two domains: a bare carol stays bare; dave has none.
        assert_eq!(directory.canonical("Carol"), "carol");
        assert_eq!(directory.canonical("dave"), "dave");
        assert_eq!(directory.canonical("-\\erin"), "erin");
    }

    #[test]
    fn agreement_sources_ignore_loopback_and_mapping() {
        assert_eq!(agreement_source("::ffff:10.0.0.5"), Some("10.0.0.5".to_string()));
        assert_eq!(agreement_source("127.0.0.1"), None);
        assert_eq!(agreement_source("-"), None);
        assert_eq!(agreement_source("WS-01"), Some("ws-01".to_string()));
    }

    fn finding(account: &str, target: &str, time: &str) -> Finding {
        let mut evidence = serde_json::Map::new();
        evidence.insert("TimeGenerated".into(), Value::String(time.into()));
        evidence.insert("Computer".into(), Value::String(target.into()));
        Finding {
            rule_id: "r".into(),
            rule_name: "r".into(),
            severity: Severity::Medium,
            rule_severity: Severity::Medium,
            techniques: Arc::from(Vec::new()),
            account: "CONTOSO\\admin".into(),
            account_forms: vec![account.into()],
            source: "10.0.0.1".into(),
            targets: vec![target.into()],
            count: 1,
            first_seen: None,
            last_seen: None,
            risk_score: 1,
            reasons: Vec::new(),
            agreeing_rules: Vec::new(),
            details: serde_json::Map::new(),
            evidence: vec![evidence],
        }
    }

    /// A rule's rows come in any order; the merged finding is the same.
    #[test]
    fn merging_does_not_depend_on_the_order_of_the_findings() {
        let a = finding("CONTOSO\\admin", "JUMP-01.contoso.local", "2024-05-08T09:00:00Z");
        let b = finding("contoso\\admin", "jump-01.contoso.local", "2024-05-08T09:00:00Z");
        let one = merge(vec![a.clone(), b.clone()]);
        let other = merge(vec![b, a]);
        assert_eq!(one, other);
        assert_eq!(one[0].account_forms, ["CONTOSO\\admin", "contoso\\admin"]);
        assert_eq!(one[0].targets.len(), 1);
    }

    #[test]
    fn severity_rises_one_step() {
        assert_eq!(raise(Severity::Informational), Severity::Low);
        assert_eq!(raise(Severity::Medium), Severity::High);
        assert_eq!(raise(Severity::High), Severity::High);
    }
}
