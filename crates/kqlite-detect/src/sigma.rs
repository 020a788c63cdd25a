//! Sigma rules as hunt rules: Sigma files found where rules load (`--rules`,
//! `--content`) are parsed and compiled to KQL by `kqlite-sigma`, and each
//! detection or correlation rule becomes a [`Rule`] of kind [`SIGMA_KIND`]
//! whose findings carry the event's Computer, EventRecordId and the fields
//! the rule tests.
//!
//! Files are gathered first and compiled together: a correlation names
//! rules of other files, and a filter document tunes rules of other files.
//! Filters are applied by `kqlite_sigma::apply_filters`. A file that does
//! not parse is a [`ContentProblem`]; a rule that parses
//! but cannot be compiled is a [`Rejected`] with its named reason, and the
//! others load on.

use crate::content::ContentProblem;
use crate::error::DetectError;
use crate::finding::Severity;
use crate::query_edit;
use crate::rule::{EntityMapping, FieldMapping, Rule, Trigger, TriggerOperator};
use kqlite_sigma::ast::{CorrelationRule, Detection, FilterRule, Level, SigmaRule};
use kqlite_sigma::Unsupported;
pub use kqlite_sigma::{CompiledRule, Mapping, Target, UnsupportedReason};
use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};

/// [`Rule::kind`] of rules loaded from Sigma.
pub const SIGMA_KIND: &str = "Sigma";

/// The `let` a Sigma rule's query starts with: null looks at all the
/// evidence; `--lookback` (or a tuning file's parameter) sets it.
const LOOKBACK_LET: &str = "let LookbackWindow = timespan(null);\n";

/// What is appended to each compiled detection query (after its
/// projection, which keeps `TimeGenerated`).
const LOOKBACK_FILTER: &str = "| where isnull(LookbackWindow) or TimeGenerated > ago(LookbackWindow)";

/// How Sigma rules are compiled: the logsource mapping, the tables' product
/// and the values of `expand` placeholders (from the tuning file).
#[derive(Clone, Debug)]
pub struct SigmaOptions {
    pub mapping: Mapping,
    pub target: Target,
    /// Placeholder name (without `%`) → its values.
    pub placeholders: BTreeMap<String, Vec<String>>,
}

impl Default for SigmaOptions {
    fn default() -> SigmaOptions {
        SigmaOptions { mapping: Mapping::builtin(), target: Target::default(), placeholders: BTreeMap::new() }
    }
}

/// A Sigma rule that parsed but could not be compiled, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Rejected {
    pub path: PathBuf,
    /// The rule's id, or its title when it has none.
    pub rule: String,
    pub title: String,
    pub reason: UnsupportedReason,
}

impl std::fmt::Display for Rejected {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {} ({}): {}", self.path.display(), self.title, self.rule, self.reason)
    }
}

/// What loading Sigma files reported besides the rules.
#[derive(Clone, Debug, Default)]
pub struct SigmaReport {
    /// Files (or documents of them) that are not valid Sigma.
    pub problems: Vec<ContentProblem>,
    /// Rules that are valid Sigma but cannot be compiled.
    pub rejected: Vec<Rejected>,
}

impl SigmaReport {
    pub fn extend(&mut self, other: SigmaReport) {
        self.problems.extend(other.problems);
        self.rejected.extend(other.rejected);
    }

    /// Rejections counted by reason kind (the text before the first `:`),
    /// most frequent first.
    pub fn rejected_by_reason(&self) -> Vec<(String, usize)> {
        let mut counts: BTreeMap<String, usize> = BTreeMap::new();
        for rejected in &self.rejected {
            *counts.entry(reason_kind(&rejected.reason)).or_default() += 1;
        }
        let mut counts: Vec<(String, usize)> = counts.into_iter().collect();
        counts.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        counts
    }
}

/// A reason's kind, for counting: its text before the first `:`
/// ("unsupported modifier", "unmapped logsource").
pub fn reason_kind(reason: &UnsupportedReason) -> String {
    let text = reason.to_string();
    text.split(':').next().unwrap_or(&text).to_string()
}

/// The documents of one Sigma file.
#[derive(Debug)]
pub struct SigmaFile {
    pub path: PathBuf,
    pub documents: kqlite_sigma::SigmaDocuments,
}

/// Parses a Sigma file's `text`. Documents that do not parse are problems;
/// the file's other documents are kept.
pub fn parse_file(path: &Path, text: &str) -> (Option<SigmaFile>, Vec<ContentProblem>) {
    let problem = |reason: String| ContentProblem { path: path.to_path_buf(), line: None, reason };
    match kqlite_sigma::parse_documents(text, &path.display().to_string()) {
        Err(kqlite_sigma::SigmaError::Parse { message, .. }) => {
            (None, vec![problem(format!("not valid Sigma: {message}"))])
        }
        Err(e) => (None, vec![problem(e.to_string())]),
        Ok(mut documents) => {
            let problems = std::mem::take(&mut documents.errors)
                .into_iter()
                .map(|e| problem(format!("not valid Sigma: {e}")))
                .collect();
            (Some(SigmaFile { path: path.to_path_buf(), documents }), problems)
        }
    }
}

/// A rule compiled, or why it was not.
type Compiled = Result<CompiledRule, Unsupported>;

/// A Sigma rule of a file, compiled.
#[derive(Debug)]
pub struct Converted {
    pub path: PathBuf,
    /// The rule's id, or its title when it has none.
    pub id: String,
    pub title: String,
    pub compiled: Result<CompiledRule, UnsupportedReason>,
}

/// What one detection or correlation document became.
struct Item<'a> {
    path: &'a Path,
    source: Source<'a>,
    compiled: Compiled,
    /// A rule a correlation uses without `generate: true`.
    building_block: bool,
}

enum Source<'a> {
    Detection(Box<SigmaRule>),
    Correlation(&'a CorrelationRule),
}

impl Item<'_> {
    fn id_and_title(&self) -> (String, String) {
        let (id, title) = match &self.source {
            Source::Detection(r) => (&r.id, &r.title),
            Source::Correlation(c) => (&c.id, &c.title),
        };
        (id.clone().unwrap_or_else(|| title.clone()), title.clone())
    }
}

/// The rules of a set by the names correlations use for them.
struct References<'a> {
    detections: HashMap<String, &'a SigmaRule>,
    correlations: HashMap<String, &'a CorrelationRule>,
    options: &'a SigmaOptions,
    decorate: &'a dyn Fn(&str) -> Result<String, UnsupportedReason>,
}

impl References<'_> {
    /// A referenced rule's query projecting `fields` (a correlation's
    /// group-by fields), through `decorate`; a correlation named by another
    /// yields its matching windows.
    fn compile(&self, name: &str, fields: &[String]) -> Compiled {
        let decorate = |c: CompiledRule| match (self.decorate)(&c.query) {
            Ok(query) => Ok(CompiledRule { query, ..c }),
            Err(reason) => Err(Unsupported { rule: c.id.clone(), reason }),
        };
        if let Some(rule) = self.detections.get(name) {
            let o = self.options;
            return kqlite_sigma::compile_rule_projecting(rule, &o.mapping, o.target, &o.placeholders, fields)
                .and_then(decorate);
        }
        if let Some(correlation) = self.correlations.get(name) {
            return kqlite_sigma::compile_correlation_events(correlation, &|n, f| self.compile(n, f), fields);
        }
        Err(Unsupported { rule: name.to_string(), reason: UnsupportedReason::MissingRule(name.to_string()) })
    }
}

/// Compiles every document of `files`: filters applied to the rules they
/// name, correlations over the rules they name, whose queries pass through
/// `decorate` first (a hunt adds its time filter there).
fn compile_all<'a>(
    files: &'a [SigmaFile],
    options: &SigmaOptions,
    decorate: &dyn Fn(&str) -> Result<String, UnsupportedReason>,
) -> Vec<Item<'a>> {
    let filters: Vec<FilterRule> = files.iter().flat_map(|f| f.documents.filters.iter().cloned()).collect();
    let filtered: Vec<(&Path, SigmaRule)> = (files.iter())
        .flat_map(|f| f.documents.rules.iter().map(|r| (f.path.as_path(), kqlite_sigma::apply_filters(r, &filters))))
        .collect();
    let mut references = References { detections: HashMap::new(), correlations: HashMap::new(), options, decorate };
    // Rules a correlation names are found by id, name or title.
    for (_, rule) in &filtered {
        for key in [rule.id.as_deref(), rule.name.as_deref(), Some(rule.title.as_str())].into_iter().flatten() {
            references.detections.entry(key.to_string()).or_insert(rule);
        }
    }
    let correlations: Vec<(&Path, &CorrelationRule)> =
        files.iter().flat_map(|f| f.documents.correlations.iter().map(|c| (f.path.as_path(), c))).collect();
    for (_, c) in &correlations {
        for key in [c.id.as_deref(), c.name.as_deref(), Some(c.title.as_str())].into_iter().flatten() {
            references.correlations.entry(key.to_string()).or_insert(c);
        }
    }
    let building_blocks: HashSet<&str> = (correlations.iter())
        .filter(|(_, c)| !c.generate)
        .flat_map(|(_, c)| c.rules.iter().map(String::as_str))
        .collect();
    let is_building_block = |keys: [Option<&str>; 3]| keys.into_iter().flatten().any(|k| building_blocks.contains(k));
    let mut items: Vec<Item> = Vec::new();
    for (path, rule) in &filtered {
        let compiled = compile_detection(rule, options, &[]);
        let building_block = is_building_block([rule.id.as_deref(), rule.name.as_deref(), Some(&rule.title)]);
        items.push(Item { path, source: Source::Detection(Box::new(rule.clone())), compiled, building_block });
    }
    for (path, correlation) in correlations {
        let compiled = kqlite_sigma::compile_correlation(correlation, &|n, f| references.compile(n, f)).map(|c| c.rule);
        let keys = [correlation.id.as_deref(), correlation.name.as_deref(), Some(correlation.title.as_str())];
        let building_block = is_building_block(keys);
        items.push(Item { path, source: Source::Correlation(correlation), compiled, building_block });
    }
    items
}

/// Every rule of `files` compiled, as `kqlite sigma convert` prints them.
pub fn convert_files(files: &[SigmaFile], options: &SigmaOptions) -> Vec<Converted> {
    (compile_all(files, options, &|q| Ok(q.to_string())).into_iter())
        .map(|item| {
            let (id, title) = item.id_and_title();
            Converted { path: item.path.to_path_buf(), id, title, compiled: item.compiled.map_err(|u| u.reason) }
        })
        .collect()
}

/// Compiles every rule of `files` into hunt rules; filters apply to the
/// rules they name, and rules a correlation uses make findings of their
/// own only when the correlation says `generate: true`.
pub fn compile_files(files: &[SigmaFile], options: &SigmaOptions) -> (Vec<Rule>, SigmaReport) {
    let mut report = SigmaReport::default();
    let mut rules = Vec::new();
    let mut stems = StemNamer::default();
    for item in compile_all(files, options, &with_lookback_filter) {
        let stem = stems.next(item.path);
        let (id, title) = item.id_and_title();
        let reject =
            |reason| Rejected { path: item.path.to_path_buf(), rule: id.clone(), title: title.clone(), reason };
        let compiled = match &item.compiled {
            Ok(_) if item.building_block => continue,
            Ok(compiled) => compiled,
            Err(unsupported) => {
                report.rejected.push(reject(unsupported.reason.clone()));
                continue;
            }
        };
        let rule = match &item.source {
            Source::Detection(sigma) => detection_rule(item.path, &stem, sigma, compiled).map(|rule| Rule {
                // A rule that cannot be planned runs on its own, as compiled.
                sigma_plan: plan_detection(sigma, options).ok().map(std::sync::Arc::new),
                ..rule
            }),
            Source::Correlation(correlation) => Ok(correlation_rule(item.path, &stem, correlation, compiled)),
        };
        match rule {
            Ok(rule) => rules.push(rule),
            Err(reason) => report.rejected.push(reject(reason)),
        }
    }
    (rules, report)
}

/// File stems as rule stems; the second and later rules of a
/// multi-document file get `-2`, `-3`, … so each stem names one rule.
#[derive(Default)]
struct StemNamer(HashMap<PathBuf, usize>);

impl StemNamer {
    fn next(&mut self, path: &Path) -> String {
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        let seen = self.0.entry(path.to_path_buf()).or_default();
        *seen += 1;
        match *seen {
            1 => stem,
            n => format!("{stem}-{n}"),
        }
    }
}

/// Compiles one detection rule, projecting the account and source fields
/// its findings name when the rule's table has them.
pub fn compile_detection(rule: &SigmaRule, options: &SigmaOptions, extra_fields: &[String]) -> Compiled {
    let o = options;
    kqlite_sigma::compile_rule_projecting(rule, &o.mapping, o.target, &o.placeholders, extra_fields)
}

/// Plans one detection rule for running with others of its logsource
/// variants ([`crate::sigma_plan`]), as [`compile_detection`] compiles it.
pub fn plan_detection(rule: &SigmaRule, options: &SigmaOptions) -> Result<kqlite_sigma::RulePlan, Unsupported> {
    let o = options;
    kqlite_sigma::plan_rule(rule, &o.mapping, o.target, &o.placeholders, &[])
}

/// The compiled query with the hunt's time filter appended.
fn with_lookback_filter(query: &str) -> Result<String, UnsupportedReason> {
    query_edit::append_operators(query, LOOKBACK_FILTER)
        .map_err(|e| UnsupportedReason::Other(format!("the compiled KQL does not parse: {e}")))
}

fn detection_rule(
    path: &Path,
    stem: &str,
    sigma: &SigmaRule,
    compiled: &CompiledRule,
) -> Result<Rule, UnsupportedReason> {
    let query = format!("{LOOKBACK_LET}{}", with_lookback_filter(&compiled.query)?);
    let fields = detection_fields(sigma);
    // The event's identity first, then what the rule tests.
    let details: Vec<String> = ["Computer", "Channel", "EventID", "EventRecordId"]
        .iter()
        .map(|s| s.to_string())
        .chain(fields.iter().cloned())
        .collect();
    Ok(Rule {
        description: sigma.description.clone().unwrap_or_default(),
        severity: severity(sigma.level),
        false_positives: sigma.falsepositives.clone(),
        entity_mappings: entity_mappings(&fields),
        custom_details: dedup(details).into_iter().map(|f| (f.clone(), f)).collect(),
        ..base_rule(path, stem, &compiled.id, &sigma.title, &sigma.tags, query, compiled.tables.clone())
    })
}

fn correlation_rule(path: &Path, stem: &str, correlation: &CorrelationRule, compiled: &CompiledRule) -> Rule {
    let query = format!("{LOOKBACK_LET}{}", compiled.query);
    let group_by = correlation.group_by.clone();
    Rule {
        description: correlation.description.clone().unwrap_or_default(),
        severity: severity(correlation.level),
        false_positives: correlation.falsepositives.clone(),
        entity_mappings: entity_mappings(&group_by),
        custom_details: group_by.iter().map(|f| (f.clone(), f.clone())).collect(),
        ..base_rule(path, stem, &compiled.id, &correlation.title, &correlation.tags, query, compiled.tables.clone())
    }
}

/// What detection and correlation rules share.
fn base_rule(
    path: &Path,
    stem: &str,
    id: &str,
    title: &str,
    tags: &[String],
    query: String,
    tables: Vec<String>,
) -> Rule {
    let (techniques, tactics) = attack_tags(tags);
    Rule {
        id: id.to_string(),
        name: title.to_string(),
        description: String::new(),
        severity: Severity::Medium,
        origin: path.display().to_string(),
        stem: stem.to_string(),
        required_tables: tables,
        query_frequency: None,
        query_period: None,
        // Every matching event (or group) is a finding.
        trigger: Trigger { operator: TriggerOperator::GreaterThan, threshold: 0 },
        tactics,
        techniques,
        query,
        entity_mappings: Vec::new(),
        custom_details: Vec::new(),
        alert_display_name_format: None,
        alert_description_format: None,
        version: None,
        kind: SIGMA_KIND.to_string(),
        confidence: None,
        false_positives: Vec::new(),
        investigation_guide: None,
        response_steps: Vec::new(),
        parameters: Vec::new(),
        finding_reasons: Vec::new(),
        pivots: Vec::new(),
        sigma_plan: None,
    }
}

/// Sigma's level as a Sentinel severity: Sentinel has no `critical`, so
/// critical rules are High; a rule without a level is Medium.
pub fn severity(level: Option<Level>) -> Severity {
    match level {
        Some(Level::Informational) => Severity::Informational,
        Some(Level::Low) => Severity::Low,
        None | Some(Level::Medium) => Severity::Medium,
        Some(Level::High | Level::Critical) => Severity::High,
    }
}

/// MITRE ATT&CK tactics as Sentinel names them, by Sigma's tag text.
const TACTICS: &[(&str, &str)] = &[
    ("reconnaissance", "Reconnaissance"),
    ("resource_development", "ResourceDevelopment"),
    ("initial_access", "InitialAccess"),
    ("execution", "Execution"),
    ("persistence", "Persistence"),
    ("privilege_escalation", "PrivilegeEscalation"),
    ("defense_evasion", "DefenseEvasion"),
    ("defense_impairment", "DefenseEvasion"),
    ("credential_access", "CredentialAccess"),
    ("discovery", "Discovery"),
    ("lateral_movement", "LateralMovement"),
    ("collection", "Collection"),
    ("command_and_control", "CommandAndControl"),
    ("exfiltration", "Exfiltration"),
    ("impact", "Impact"),
];

/// `attack.t1021.002` → technique `T1021.002`; `attack.lateral_movement`
/// → tactic `LateralMovement`. Other tags (groups, software, CVEs) are left out.
pub fn attack_tags(tags: &[String]) -> (Vec<String>, Vec<String>) {
    let (mut techniques, mut tactics) = (Vec::new(), Vec::new());
    for tag in tags {
        let Some(name) = tag.to_ascii_lowercase().strip_prefix("attack.").map(str::to_string) else { continue };
        let technique = name.strip_prefix('t').is_some_and(|rest| {
            let number = rest.split('.').next().unwrap_or("");
            !number.is_empty() && number.bytes().all(|b| b.is_ascii_digit())
        });
        if technique {
            techniques.push(name.to_ascii_uppercase());
        } else if let Some((_, tactic)) = TACTICS.iter().find(|(t, _)| *t == name.replace('-', "_")) {
            tactics.push(tactic.to_string());
        }
    }
    (dedup(techniques), dedup(tactics))
}

fn dedup(items: Vec<String>) -> Vec<String> {
    let mut seen = HashSet::new();
    items.into_iter().filter(|i| seen.insert(i.clone())).collect()
}

/// Sigma field names that say who acted, from where, in order of preference.
const ACCOUNT_FIELDS: &[&str] =
    &["User", "TargetUserName", "SubjectUserName", "AccountName", "UserName", "TargetUser", "SourceUser"];
const SOURCE_FIELDS: &[&str] =
    &["IpAddress", "SourceIp", "SourceAddress", "SrcIpAddr", "ClientAddress", "WorkstationName", "SourceHostname"];

/// Entity mappings over the rule's fields, so findings name an account and
/// a source where the rule tests them; the host is the event's Computer.
fn entity_mappings(fields: &[String]) -> Vec<EntityMapping> {
    let pick = |candidates: &[&str]| candidates.iter().find(|c| fields.iter().any(|f| f == *c)).map(|c| c.to_string());
    let mapping = |entity_type: &str, identifier: &str, column: String| EntityMapping {
        entity_type: entity_type.to_string(),
        field_mappings: vec![FieldMapping { identifier: identifier.to_string(), column_name: column }],
    };
    let mut mappings = Vec::new();
    if let Some(column) = pick(ACCOUNT_FIELDS) {
        mappings.push(mapping("Account", "Name", column));
    }
    if let Some(column) = pick(SOURCE_FIELDS) {
        mappings.push(mapping("IP", "Address", column));
    }
    mappings.push(mapping("Host", "HostName", "Computer".to_string()));
    mappings
}

/// The field names a rule's detections test, sorted (detections are a map).
pub fn detection_fields(rule: &SigmaRule) -> Vec<String> {
    fn walk(detection: &Detection, out: &mut Vec<String>) {
        match detection {
            Detection::AllOf(items) => out.extend(items.iter().filter_map(|i| i.field.name.clone())),
            Detection::AnyOf(detections) | Detection::And(detections) => detections.iter().for_each(|d| walk(d, out)),
            Detection::Keywords(_) => {}
            Detection::ArrayMatch { field, .. } => out.push(field.clone()),
            Detection::Conditional { named, .. } => named.values().for_each(|d| walk(d, out)),
        }
    }
    let mut out = Vec::new();
    rule.detection.named.values().for_each(|d| walk(d, &mut out));
    out.sort();
    out.dedup();
    out
}

/// The Sigma files of `paths`: a file given by name is read as Sigma (a
/// file that is not is a problem); directories are walked for `*.yml` and
/// `*.yaml` files that look like Sigma, others skipped. Only a path that
/// cannot be read is an error.
pub fn read_paths(paths: &[PathBuf]) -> Result<(Vec<SigmaFile>, Vec<ContentProblem>), DetectError> {
    let mut found: Vec<(PathBuf, bool)> = Vec::new();
    for path in paths {
        if path.is_dir() {
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                let entry = entry.map_err(|e| DetectError::ReadRulesDirectory {
                    path: e.path().unwrap_or(path).to_path_buf(),
                    source: e.into(),
                })?;
                let yaml = entry.path().extension().is_some_and(|e| e == "yml" || e == "yaml");
                if entry.file_type().is_file() && yaml {
                    found.push((entry.into_path(), false));
                }
            }
        } else {
            found.push((path.clone(), true));
        }
    }
    let (mut files, mut problems) = (Vec::new(), Vec::new());
    for (path, named) in found {
        let text =
            std::fs::read_to_string(&path).map_err(|source| DetectError::ReadRule { path: path.clone(), source })?;
        if !kqlite_sigma::looks_like_sigma(&text) {
            if named {
                let reason = "not a Sigma file (expected `detection:` with `logsource:`, `correlation:` or `filter:`)";
                problems.push(ContentProblem { path, line: None, reason: reason.to_string() });
            }
            continue;
        }
        let (file, file_problems) = parse_file(&path, &text);
        files.extend(file);
        problems.extend(file_problems);
    }
    Ok((files, problems))
}

/// Reads the mapping file given with `--sigma-mapping`.
pub fn load_mapping(path: &Path) -> Result<Mapping, DetectError> {
    let text = std::fs::read_to_string(path).map_err(|source| DetectError::Io { path: path.to_path_buf(), source })?;
    Ok(Mapping::parse(&text, &path.display().to_string())?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attack_tags_become_techniques_and_sentinel_tactics() {
        let tags: Vec<String> =
            ["attack.t1021.002", "attack.lateral_movement", "attack.command-and-control", "attack.g0007", "cve.2021-1"]
                .iter()
                .map(|s| s.to_string())
                .collect();
        let (techniques, tactics) = attack_tags(&tags);
        assert_eq!(techniques, ["T1021.002"]);
        assert_eq!(tactics, ["LateralMovement", "CommandAndControl"]);
    }

    #[test]
    fn critical_is_high() {
        assert_eq!(severity(Some(Level::Critical)), Severity::High);
        assert_eq!(severity(Some(Level::Informational)), Severity::Informational);
        assert_eq!(severity(None), Severity::Medium);
    }
}
