//! Sentinel analytic rules (the YAML files of the Azure-Sentinel repository)
//! and kqlite's extensions to them (investigation guide, response steps,
//! pivots, tunable parameters, finding reasons). See `rules/README.md`.

use crate::content::ContentProblem;
use crate::error::DetectError;
use crate::finding::Severity;
use crate::query_edit;
use crate::sigma::{self, SigmaOptions, SigmaReport};
use serde::Deserialize;
use std::path::{Path, PathBuf};

/// A loaded, validated rule.
#[derive(Clone, Debug)]
pub struct Rule {
    pub id: String,
    pub name: String,
    pub description: String,
    pub severity: Severity,
    /// Where the rule came from: a path or `builtin:FILE`.
    pub origin: String,
    /// The file name without `.yaml` (`T1021-remote-services`).
    pub stem: String,
    /// Tables named by `requiredDataConnectors[].dataTypes`: Sentinel's UI
    /// metadata, shown but never used to decide what runs (a hunt asks the
    /// bound query which tables it reads, [`kqlite_engine::Session::tables_read`]).
    pub required_tables: Vec<String>,
    pub query_frequency: Option<String>,
    pub query_period: Option<String>,
    pub trigger: Trigger,
    pub tactics: Vec<String>,
    pub techniques: Vec<String>,
    pub query: String,
    pub entity_mappings: Vec<EntityMapping>,
    /// `customDetails`, in file order: detail key → result column.
    pub custom_details: Vec<(String, String)>,
    pub alert_display_name_format: Option<String>,
    pub alert_description_format: Option<String>,
    pub version: Option<String>,
    pub kind: String,
    pub confidence: Option<String>,
    pub false_positives: Vec<String>,
    pub investigation_guide: Option<String>,
    pub response_steps: Vec<String>,
    /// Tunable top-level lets, in file order.
    pub parameters: Vec<Parameter>,
    pub finding_reasons: Vec<FindingReason>,
    pub pivots: Vec<Pivot>,
    /// A Sigma detection rule's pieces by logsource variant, for running it
    /// together with the rules that share its variant
    /// ([`crate::sigma_plan`]); `None` for other rules.
    pub sigma_plan: Option<std::sync::Arc<kqlite_sigma::RulePlan>>,
}

/// When a rule's result raises an alert (Sentinel's trigger).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Trigger {
    pub operator: TriggerOperator,
    pub threshold: u64,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TriggerOperator {
    GreaterThan,
    LessThan,
    Equal,
    NotEqual,
}

impl Trigger {
    pub fn fires(&self, rows: u64) -> bool {
        match self.operator {
            TriggerOperator::GreaterThan => rows > self.threshold,
            TriggerOperator::LessThan => rows < self.threshold,
            TriggerOperator::Equal => rows == self.threshold,
            TriggerOperator::NotEqual => rows != self.threshold,
        }
    }
}

impl std::fmt::Display for Trigger {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let op = match self.operator {
            TriggerOperator::GreaterThan => "gt",
            TriggerOperator::LessThan => "lt",
            TriggerOperator::Equal => "eq",
            TriggerOperator::NotEqual => "ne",
        };
        write!(f, "{op} {}", self.threshold)
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityMapping {
    pub entity_type: String,
    #[serde(default)]
    pub field_mappings: Vec<FieldMapping>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FieldMapping {
    pub identifier: String,
    pub column_name: String,
}

#[derive(Clone, Debug)]
pub struct Parameter {
    pub name: String,
    pub description: String,
    /// A list of hours 0..23, shifted by the tuning file's time zone.
    pub hours_of_day: bool,
}

#[derive(Clone, Debug, Deserialize)]
pub struct FindingReason {
    /// The text; `{Column}` is replaced by the row's value.
    pub reason: String,
    /// A KQL predicate over the result columns.
    pub when: String,
}

#[derive(Clone, Debug, Deserialize)]
pub struct Pivot {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub query: String,
}

/// The file as written; unknown fields are ignored, as Sentinel does.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RuleFile {
    id: serde_norway::Value,
    name: String,
    #[serde(default)]
    description: Option<String>,
    /// Absent in hunting queries.
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    required_data_connectors: Option<Vec<Connector>>,
    #[serde(default)]
    query_frequency: Option<serde_norway::Value>,
    #[serde(default)]
    query_period: Option<serde_norway::Value>,
    #[serde(default)]
    trigger_operator: Option<String>,
    #[serde(default)]
    trigger_threshold: Option<serde_norway::Value>,
    #[serde(default)]
    tactics: Option<Vec<String>>,
    #[serde(default)]
    relevant_techniques: Option<Vec<String>>,
    query: String,
    #[serde(default)]
    entity_mappings: Option<Vec<EntityMapping>>,
    #[serde(default)]
    custom_details: Option<serde_norway::Mapping>,
    #[serde(default)]
    alert_details_override: Option<AlertDetailsOverride>,
    #[serde(default)]
    version: Option<serde_norway::Value>,
    #[serde(default)]
    kind: Option<String>,
    #[serde(default)]
    confidence: Option<String>,
    #[serde(default)]
    false_positives: Option<Vec<String>>,
    #[serde(default)]
    investigation_guide: Option<String>,
    #[serde(default)]
    response_steps: Option<Vec<String>>,
    #[serde(default)]
    parameters: Option<serde_norway::Mapping>,
    #[serde(default)]
    finding_reasons: Option<Vec<FindingReason>>,
    #[serde(default)]
    pivots: Option<Vec<Pivot>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Connector {
    #[serde(default)]
    data_types: Vec<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct AlertDetailsOverride {
    #[serde(default)]
    alert_display_name_format: Option<String>,
    #[serde(default)]
    alert_description_format: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct ParameterDoc {
    #[serde(default)]
    description: String,
    #[serde(default)]
    hours_of_day: bool,
}

fn scalar_text(value: &serde_norway::Value) -> Option<String> {
    match value {
        serde_norway::Value::String(s) => Some(s.clone()),
        serde_norway::Value::Number(n) => Some(n.to_string()),
        serde_norway::Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

impl Rule {
    /// Reads a rule file.
    pub fn load(path: &Path) -> Result<Rule, DetectError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DetectError::ReadRule { path: path.to_path_buf(), source })?;
        let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
        Rule::parse(&text, &path.display().to_string(), &stem)
    }

    /// Parses an analytic rule from YAML text; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str, stem: &str) -> Result<Rule, DetectError> {
        Rule::parse_as(text, origin, stem, RuleKind::Analytic)
    }

    /// Parses a hunting query (Sentinel's `Hunting Queries` YAML): no
    /// severity or trigger, so every result row is an informational finding.
    pub fn parse_hunting(text: &str, origin: &str, stem: &str) -> Result<Rule, DetectError> {
        Rule::parse_as(text, origin, stem, RuleKind::Hunting)
    }

    /// Whether this is a hunting query rather than an analytic rule.
    pub fn is_hunting(&self) -> bool {
        self.kind == HUNTING_KIND
    }

    fn parse_as(text: &str, origin: &str, stem: &str, as_kind: RuleKind) -> Result<Rule, DetectError> {
        let origin_text = || origin.to_string();
        let file: RuleFile =
            serde_norway::from_str(text).map_err(|source| DetectError::RuleYaml { origin: origin_text(), source })?;
        let id = scalar_text(&file.id).ok_or_else(|| DetectError::RuleId { origin: origin_text() })?;
        let severity: Severity = match (&file.severity, as_kind) {
            (Some(text), _) => {
                text.parse().map_err(|source| DetectError::RuleSeverity { origin: origin_text(), source })?
            }
            (None, RuleKind::Hunting) => Severity::Informational,
            (None, RuleKind::Analytic) => return Err(DetectError::RuleNoSeverity { origin: origin_text() }),
        };
        let kind = match as_kind {
            RuleKind::Hunting => HUNTING_KIND.to_string(),
            RuleKind::Analytic => file.kind.unwrap_or_else(|| "Scheduled".to_string()),
        };
        if as_kind == RuleKind::Analytic && !kind.eq_ignore_ascii_case("scheduled") && !kind.eq_ignore_ascii_case("nrt")
        {
            return Err(DetectError::RuleKind { origin: origin_text(), kind });
        }
        let operator = match file.trigger_operator.as_deref().map(str::to_ascii_lowercase).as_deref() {
            None | Some("gt") | Some("greaterthan") => TriggerOperator::GreaterThan,
            Some("lt") | Some("lessthan") => TriggerOperator::LessThan,
            Some("eq") | Some("equal") => TriggerOperator::Equal,
            Some("ne") | Some("notequal") => TriggerOperator::NotEqual,
            Some(other) => {
                return Err(DetectError::RuleTriggerOperator { origin: origin_text(), operator: other.to_string() })
            }
        };
        let threshold = match &file.trigger_threshold {
            None => 0,
            Some(v) => scalar_text(v).and_then(|t| t.trim().parse::<u64>().ok()).ok_or_else(|| {
                DetectError::RuleTriggerThreshold { origin: origin_text(), value: Box::new(v.clone()) }
            })?,
        };
        let mut custom_details = Vec::new();
        for (key, value) in file.custom_details.iter().flatten() {
            match (scalar_text(key), scalar_text(value)) {
                (Some(k), Some(v)) => custom_details.push((k, v)),
                _ => return Err(DetectError::RuleCustomDetails { origin: origin_text() }),
            }
        }
        // The query is parsed here only to check `parameters` against its
        // lets: loading thousands of Sentinel rules parses none (a query
        // that does not parse is reported when it runs).
        let lets = match file.parameters.as_ref().is_some_and(|p| !p.is_empty()) {
            true => query_edit::top_level_lets(&file.query)
                .map_err(|e| DetectError::RuleQueryText { origin: origin_text(), source: Box::new(e) })?,
            false => Vec::new(),
        };
        let mut parameters = Vec::new();
        for (key, value) in file.parameters.iter().flatten() {
            let name = scalar_text(key).ok_or_else(|| DetectError::RuleParameterName { origin: origin_text() })?;
            if !lets.iter().any(|l| l.name == name) {
                return Err(DetectError::RuleParameterNotLet {
                    origin: origin_text(),
                    name,
                    lets: lets.iter().map(|l| l.name.clone()).collect(),
                });
            }
            let doc: ParameterDoc = serde_norway::from_value(value.clone()).map_err(|source| {
                DetectError::RuleParameterYaml { origin: origin_text(), name: name.clone(), source }
            })?;
            parameters.push(Parameter { name, description: doc.description, hours_of_day: doc.hours_of_day });
        }
        let required_tables = {
            let mut tables: Vec<String> =
                file.required_data_connectors.iter().flatten().flat_map(|c| c.data_types.iter().cloned()).collect();
            tables.sort();
            tables.dedup();
            tables
        };
        let techniques = file.relevant_techniques.unwrap_or_default();
        let alert = file.alert_details_override;
        Ok(Rule {
            id,
            name: file.name,
            description: file.description.unwrap_or_default(),
            severity,
            origin: origin.to_string(),
            stem: stem.to_string(),
            required_tables,
            query_frequency: file.query_frequency.as_ref().and_then(scalar_text),
            query_period: file.query_period.as_ref().and_then(scalar_text),
            trigger: Trigger { operator, threshold },
            tactics: file.tactics.unwrap_or_default(),
            techniques,
            query: file.query,
            entity_mappings: file.entity_mappings.unwrap_or_default(),
            custom_details,
            alert_display_name_format: alert.as_ref().and_then(|a| a.alert_display_name_format.clone()),
            alert_description_format: alert.as_ref().and_then(|a| a.alert_description_format.clone()),
            version: file.version.as_ref().and_then(scalar_text),
            kind,
            confidence: file.confidence,
            false_positives: file.false_positives.unwrap_or_default(),
            investigation_guide: file.investigation_guide,
            response_steps: file.response_steps.unwrap_or_default(),
            parameters,
            finding_reasons: file.finding_reasons.unwrap_or_default(),
            pivots: file.pivots.unwrap_or_default(),
            sigma_plan: None,
        })
    }

    /// The stem's technique part (`T1021` of `T1021-remote-services`).
    pub fn short_name(&self) -> &str {
        self.stem.split('-').next().unwrap_or(&self.stem)
    }

    /// The columns mapped to `identifier` of entities of `entity_type`.
    pub fn mapped_column(&self, entity_type: &str, identifiers: &[&str]) -> Option<&str> {
        for identifier in identifiers {
            for mapping in self.entity_mappings.iter().filter(|m| m.entity_type.eq_ignore_ascii_case(entity_type)) {
                if let Some(f) = mapping.field_mappings.iter().find(|f| f.identifier.eq_ignore_ascii_case(identifier)) {
                    return Some(&f.column_name);
                }
            }
        }
        None
    }
}

/// What a rule file holds: an analytic rule, or a hunting query.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RuleKind {
    Analytic,
    Hunting,
}

/// [`Rule::kind`] of hunting queries.
pub const HUNTING_KIND: &str = "Hunting";

/// A set of rules, addressable by id, stem, technique or prefix.
#[derive(Clone, Debug, Default)]
pub struct RuleSet {
    pub rules: Vec<Rule>,
    /// Sigma files that did not parse and Sigma rules that did not compile
    /// (reported; the other rules load).
    pub sigma: SigmaReport,
}

impl RuleSet {
    /// Every `*.yaml`/`*.yml` file directly in `dir`, sorted by name, and
    /// Sigma files in its subfolders ([`RuleSet::load_path`] with the
    /// built-in Sigma mapping).
    pub fn load_dir(dir: &Path) -> Result<RuleSet, DetectError> {
        RuleSet::load_path(dir, &SigmaOptions::default())
    }

    /// The rules of `path`: a rule file, or a directory's `*.yaml`/`*.yml`
    /// files, sorted by name. Sentinel rules are the files directly in the
    /// directory (a Sentinel rule that does not load is an error); Sigma
    /// files, recognised by their content, load from subfolders too
    /// (SigmaHQ nests them), compiled with `sigma`, and those that do not
    /// parse or compile are reported in [`RuleSet::sigma`].
    pub fn load_path(path: &Path, sigma: &SigmaOptions) -> Result<RuleSet, DetectError> {
        let mut paths: Vec<(PathBuf, bool)> = Vec::new();
        if path.is_file() {
            paths.push((path.to_path_buf(), true));
        } else {
            std::fs::read_dir(path)
                .map_err(|source| DetectError::ReadRulesDirectory { path: path.to_path_buf(), source })?;
            for entry in walkdir::WalkDir::new(path).sort_by_file_name() {
                let entry = entry.map_err(|e| DetectError::ReadRulesDirectory {
                    path: e.path().unwrap_or(path).to_path_buf(),
                    source: e.into(),
                })?;
                let p = entry.path();
                if entry.file_type().is_file() && p.extension().is_some_and(|e| e == "yaml" || e == "yml") {
                    paths.push((p.to_path_buf(), entry.depth() == 1));
                }
            }
        }
        let mut set = RuleSet::default();
        let mut sigma_files = Vec::new();
        for (path, top_level) in paths {
            let text = std::fs::read_to_string(&path)
                .map_err(|source| DetectError::ReadRule { path: path.clone(), source })?;
            if kqlite_sigma::looks_like_sigma(&text) {
                let (file, problems) = sigma::parse_file(&path, &text);
                set.sigma.problems.extend(problems);
                sigma_files.extend(file);
            } else if top_level {
                let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
                set.add(Rule::parse(&text, &path.display().to_string(), &stem)?)?;
            }
        }
        let (rules, report) = sigma::compile_files(&sigma_files, sigma);
        set.sigma.extend(report);
        for rule in rules {
            let origin = PathBuf::from(&rule.origin);
            if let Err(e) = set.add(rule) {
                set.sigma.problems.push(ContentProblem { path: origin, line: None, reason: e.to_string() });
            }
        }
        Ok(set)
    }

    pub fn add(&mut self, rule: Rule) -> Result<(), DetectError> {
        if let Some(other) = self.rules.iter().find(|r| r.id == rule.id) {
            return Err(DetectError::DuplicateRuleId {
                origin: rule.origin.clone(),
                id: rule.id.clone(),
                other: other.origin.clone(),
            });
        }
        self.rules.push(rule);
        Ok(())
    }

    /// The rules `key` selects, for running some of a set (`hunt --rule`):
    /// the rule it names as [`RuleSet::find`] does, except that a technique
    /// (`T1021`, `T1021.001`) selects every rule whose stem's technique part
    /// it is, so one key runs all the rules of a technique.
    pub fn select(&self, key: &str) -> Result<Vec<&Rule>, DetectError> {
        let exact = self.rules.iter().any(|r| r.id.eq_ignore_ascii_case(key) || r.stem.eq_ignore_ascii_case(key));
        let by_technique: Vec<&Rule> = self.rules.iter().filter(|r| r.short_name().eq_ignore_ascii_case(key)).collect();
        match by_technique.is_empty() || exact {
            true => self.find(key).map(|rule| vec![rule]),
            false => Ok(by_technique),
        }
    }

    /// The rule named by `key`: exact id or stem, then technique part, then
    /// a unique prefix of an id or stem.
    pub fn find(&self, key: &str) -> Result<&Rule, DetectError> {
        let exact: Vec<&Rule> =
            self.rules.iter().filter(|r| r.id.eq_ignore_ascii_case(key) || r.stem.eq_ignore_ascii_case(key)).collect();
        if let [one] = exact.as_slice() {
            return Ok(one);
        }
        // A rules directory's Sigma companions (`sigma/STEM.yml`) share their
        // rule's stem: the stem names the rule, not its portable form.
        let not_sigma: Vec<&Rule> = exact.iter().copied().filter(|r| r.kind != crate::sigma::SIGMA_KIND).collect();
        if let [one] = not_sigma.as_slice() {
            return Ok(one);
        }
        let by_technique: Vec<&Rule> = self.rules.iter().filter(|r| r.short_name().eq_ignore_ascii_case(key)).collect();
        if let [one] = by_technique.as_slice() {
            return Ok(one);
        }
        let lower = key.to_ascii_lowercase();
        let prefixed: Vec<&Rule> = self
            .rules
            .iter()
            .filter(|r| {
                r.id.to_ascii_lowercase().starts_with(&lower) || r.stem.to_ascii_lowercase().starts_with(&lower)
            })
            .collect();
        match prefixed.as_slice() {
            [one] => Ok(one),
            [] => Err(DetectError::NoRule {
                key: key.to_string(),
                rules: self.rules.iter().map(|r| r.stem.clone()).collect(),
            }),
            many => Err(DetectError::AmbiguousRule {
                key: key.to_string(),
                rules: many.iter().map(|r| r.stem.clone()).collect(),
            }),
        }
    }
}

/// Kusto (`1h`, `2d`) or ISO 8601 (`PT1H`, `P1D`) duration to nanoseconds.
pub fn parse_duration(text: &str) -> Option<i64> {
    if let Some(n) = kqlite_engine::time::parse_timespan(text) {
        return Some(n);
    }
    let rest = text.strip_prefix('P')?;
    let (days, time) = match rest.split_once('T') {
        Some((d, t)) => (d, t),
        None => (rest, ""),
    };
    let mut total: i64 = 0;
    let mut number = String::new();
    for (part, in_time) in [(days, false), (time, true)] {
        for c in part.chars() {
            if c.is_ascii_digit() {
                number.push(c);
                continue;
            }
            let n: i64 = number.parse().ok()?;
            number.clear();
            let unit = match (c, in_time) {
                ('D', false) => 86_400,
                ('W', false) => 7 * 86_400,
                ('H', true) => 3_600,
                ('M', true) => 60,
                ('S', true) => 1,
                _ => return None,
            };
            total += n * unit * 1_000_000_000;
        }
    }
    number.is_empty().then_some(total)
}

/// Column names of the conventional shape, for rules without entity mappings.
pub(crate) const CONVENTIONAL_ACCOUNT: &[&str] =
    &["TargetUserName", "AccountName", "TargetUsername", "UserPrincipalName", "Account", "User", "UserName"];
pub(crate) const CONVENTIONAL_DOMAIN: &[&str] = &["TargetDomainName", "AccountDomain"];
pub(crate) const CONVENTIONAL_SOURCE: &[&str] =
    &["SourceHost", "SrcIpAddr", "IpAddress", "RemoteIP", "IPAddress", "SourceIP", "ClientIP"];
pub(crate) const CONVENTIONAL_TARGETS: &[&str] = &["TargetHosts", "Computer", "DeviceName", "DvcHostname", "HostName"];
pub(crate) const CONVENTIONAL_COUNT: &[&str] = &["LogonCount", "Count", "EventCount", "count_"];
pub(crate) const CONVENTIONAL_FIRST: &[&str] = &["FirstSeen", "StartTime", "StartTimeUtc", "TimeGenerated"];
pub(crate) const CONVENTIONAL_LAST: &[&str] = &["LastSeen", "EndTime", "EndTimeUtc", "TimeGenerated"];
pub(crate) const CONVENTIONAL_RISK: &[&str] = &["MaxRiskScore", "RiskScore"];
