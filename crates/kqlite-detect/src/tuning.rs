//! The tuning file: watchlists, the organisation's time zone, and per-rule
//! parameter overrides, severity changes and exclusions (see
//! `rules/README.md`, "The tuning file").

use crate::error::{DetectError, TimeZoneProblem};
use crate::finding::Severity;
use crate::query_edit::{self, quoted_name, string_literal};
use crate::rule::{Rule, RuleSet};
use crate::watchlist::{self, Watchlist};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

#[derive(Clone, Debug, Default)]
pub struct Tuning {
    /// Where it came from, for messages.
    pub origin: String,
    pub watchlists: Vec<Watchlist>,
    /// The organisation's UTC offset in whole hours.
    pub utc_offset_hours: i64,
    /// Keyed by the rule's id after resolution.
    pub rules: BTreeMap<String, RuleTuning>,
    /// Values of Sigma's `expand` placeholders: name (without `%`) → values.
    pub sigma_placeholders: BTreeMap<String, Vec<String>>,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RuleTuning {
    #[serde(default)]
    pub disabled: bool,
    #[serde(default)]
    pub severity: Option<String>,
    /// Top-level let name → KQL value (kept in file order).
    #[serde(default)]
    pub parameters: serde_norway::Mapping,
    #[serde(default)]
    pub exclude: Vec<Exclusion>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Exclusion {
    pub watchlist: String,
    pub column: String,
    #[serde(default)]
    pub when: Option<String>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct TuningFile {
    #[serde(default)]
    watchlists: Option<PathBuf>,
    #[serde(default)]
    time_zone: Option<String>,
    #[serde(default)]
    rules: BTreeMap<String, RuleTuning>,
    #[serde(default, alias = "sigma_placeholders")]
    sigma_placeholders: BTreeMap<String, Vec<String>>,
}

/// `+02:00`, `-5`, `UTC`, `Z` → whole hours.
fn parse_offset(text: &str) -> Result<i64, DetectError> {
    let problem = |problem| DetectError::TimeZone { text: text.to_string(), problem };
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(0);
    }
    let t = t.strip_prefix("UTC").unwrap_or(t);
    let (sign, rest) = match t.chars().next() {
        Some('+') => (1, &t[1..]),
        Some('-') => (-1, &t[1..]),
        _ => return Err(problem(TimeZoneProblem::NotAnOffset)),
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let hours: i64 = hours.parse().map_err(|_| problem(TimeZoneProblem::HoursNotANumber))?;
    let minutes: i64 = minutes.parse().map_err(|_| problem(TimeZoneProblem::MinutesNotANumber))?;
    if minutes != 0 {
        return Err(problem(TimeZoneProblem::NotWholeHours));
    }
    if hours > 14 {
        return Err(problem(TimeZoneProblem::OutOfRange));
    }
    Ok(sign * hours)
}

impl Tuning {
    /// The `sigmaPlaceholders` of a tuning file: Sigma rules are compiled
    /// with them before the rest of the file (which names rules) is read.
    pub fn read_sigma_placeholders(path: &Path) -> Result<BTreeMap<String, Vec<String>>, DetectError> {
        let text = std::fs::read_to_string(path)
            .map_err(|source| DetectError::ReadTuning { path: path.to_path_buf(), source })?;
        let file: TuningFile = serde_norway::from_str(&text)
            .map_err(|source| DetectError::TuningYaml { origin: path.display().to_string(), source })?;
        Ok(file.sigma_placeholders)
    }

    /// Reads a tuning file and its watchlists; rule keys are resolved
    /// against `rules` so a typo is an error, not a silently ignored entry.
    pub fn load(path: &Path, rules: &RuleSet) -> Result<Tuning, DetectError> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path)
            .map_err(|source| DetectError::ReadTuning { path: path.to_path_buf(), source })?;
        let file: TuningFile = serde_norway::from_str(&text)
            .map_err(|source| DetectError::TuningYaml { origin: origin.clone(), source })?;
        let in_file = |e: DetectError| DetectError::InTuningFile { origin: origin.clone(), source: Box::new(e) };
        let base = path.parent().unwrap_or(Path::new("."));
        let watchlists = match &file.watchlists {
            Some(dir) => watchlist::load_dir(&base.join(dir)).map_err(in_file)?,
            None => Vec::new(),
        };
        let utc_offset_hours = match &file.time_zone {
            Some(tz) => parse_offset(tz).map_err(in_file)?,
            None => 0,
        };
        let mut resolved = BTreeMap::new();
        for (key, tuning) in file.rules {
            let in_rule = |e: DetectError| DetectError::TuningRule {
                origin: origin.clone(),
                key: key.clone(),
                source: Box::new(e),
            };
            let rule = rules.find(&key).map_err(in_rule)?;
            if let Some(s) = &tuning.severity {
                s.parse::<Severity>().map_err(|source| DetectError::TuningSeverity {
                    origin: origin.clone(),
                    key: key.clone(),
                    source,
                })?;
            }
            for exclusion in &tuning.exclude {
                if !watchlists.iter().any(|w| w.alias == exclusion.watchlist) {
                    return Err(DetectError::UnknownWatchlist {
                        origin: origin.clone(),
                        key: key.clone(),
                        watchlist: exclusion.watchlist.clone(),
                        known: watchlists.iter().map(|w| w.alias.clone()).collect(),
                    });
                }
            }
            let tuned = Tuning {
                origin: origin.clone(),
                watchlists: Vec::new(),
                utc_offset_hours: 0,
                rules: BTreeMap::from([(rule.id.clone(), tuning.clone())]),
                sigma_placeholders: BTreeMap::new(),
            };
            // Catch unknown parameters and bad values now, with the file's name.
            tuned.rule_query(rule, &[]).map_err(in_rule)?;
            resolved.insert(rule.id.clone(), tuning);
        }
        Ok(Tuning {
            origin,
            watchlists,
            utc_offset_hours,
            rules: resolved,
            sigma_placeholders: file.sigma_placeholders,
        })
    }

    /// Sets every rule's lookback to `lookback` (KQL timespan text, e.g.
    /// `30d`), overriding the rules and this tuning: the `LookbackWindow`
    /// parameter where a rule has one, and `BaselineWindow` (the history a
    /// rule compares with, lookback included) to the lookback plus the
    /// baseline the rule had. For evidence older or longer than a day. Sigma
    /// rules have a `LookbackWindow` too, null (all the evidence) unless set here.
    pub fn set_lookback(&mut self, rules: &crate::rule::RuleSet, lookback: &str) -> Result<(), DetectError> {
        if kqlite_engine::time::parse_timespan(lookback).is_none_or(|n| n <= 0) {
            return Err(DetectError::InvalidLookback(lookback.to_string()));
        }
        for rule in &rules.rules {
            let lets = query_edit::top_level_lets(&rule.query)?;
            let has = |name: &str| lets.iter().any(|l| l.name == name);
            if !has("LookbackWindow") {
                continue;
            }
            let baseline = has("BaselineWindow").then(|| {
                let current = self
                    .parameter_overrides(rule)
                    .ok()
                    .and_then(|o| o.into_iter().find(|(n, _)| n == "BaselineWindow").map(|(_, v)| v));
                let current = current.or_else(|| {
                    lets.iter().find(|l| l.name == "BaselineWindow").map(|l| rule.query[l.value.clone()].to_string())
                });
                format!("({lookback}) + ({})", current.expect("the let exists"))
            });
            let parameters = &mut self.rules.entry(rule.id.clone()).or_default().parameters;
            parameters.insert("LookbackWindow".into(), lookback.into());
            if let Some(baseline) = baseline {
                parameters.insert("BaselineWindow".into(), baseline.into());
            }
        }
        Ok(())
    }

    pub fn for_rule(&self, rule: &Rule) -> Option<&RuleTuning> {
        self.rules.get(&rule.id)
    }

    pub fn is_disabled(&self, rule: &Rule) -> bool {
        self.for_rule(rule).is_some_and(|t| t.disabled)
    }

    pub fn severity(&self, rule: &Rule) -> Severity {
        self.for_rule(rule).and_then(|t| t.severity.as_deref()).and_then(|s| s.parse().ok()).unwrap_or(rule.severity)
    }

    /// The parameter overrides as (name, KQL value), in file order.
    pub fn parameter_overrides(&self, rule: &Rule) -> Result<Vec<(String, String)>, DetectError> {
        let mut out = Vec::new();
        if let Some(t) = self.for_rule(rule) {
            for (k, v) in &t.parameters {
                let name = k.as_str().ok_or(DetectError::ParameterNameNotString)?.to_string();
                let value = match v {
                    serde_norway::Value::String(s) => s.clone(),
                    serde_norway::Value::Number(n) => n.to_string(),
                    serde_norway::Value::Bool(b) => b.to_string(),
                    _ => return Err(DetectError::ParameterNotText(name)),
                };
                out.push((name, value));
            }
        }
        Ok(out)
    }

    /// The rule's query with overrides and exclusions applied.
    /// `hours_of_day` supplies the evaluated local hours of each
    /// `hoursOfDay` parameter when a time zone is set (see
    /// [`Tuning::hours_parameters`]).
    pub fn rule_query(&self, rule: &Rule, hours_of_day: &[(String, Vec<i64>)]) -> Result<String, DetectError> {
        let mut overrides = self.parameter_overrides(rule)?;
        for (name, local_hours) in hours_of_day {
            let utc: Vec<String> =
                local_hours.iter().map(|h| (h - self.utc_offset_hours).rem_euclid(24).to_string()).collect();
            let value = format!("dynamic([{}])", utc.join(", "));
            match overrides.iter_mut().find(|(n, _)| n == name) {
                Some(existing) => existing.1 = value,
                None => overrides.push((name.clone(), value)),
            }
        }
        let mut query =
            if overrides.is_empty() { rule.query.clone() } else { query_edit::override_lets(&rule.query, &overrides)? };
        if let Some(t) = self.for_rule(rule) {
            for exclusion in &t.exclude {
                // Case-insensitive membership in the watchlist's keys, read
                // once with toscalar(): DataFusion cannot plan `not(x in
                // (subquery) and …)`. coalesce() keeps rows whose test is null.
                let listed = format!(
                    "set_has_element(toscalar(_GetWatchlist({}) | summarize make_set(tolower(SearchKey))), tolower({}))",
                    string_literal(&exclusion.watchlist),
                    quoted_name(&exclusion.column)
                );
                let condition = match &exclusion.when {
                    Some(when) => format!("{listed} and ({when})"),
                    None => listed,
                };
                query = query_edit::append_operators(&query, &format!("| where not(coalesce({condition}, false))"))
                    .map_err(|e| DetectError::Exclusion {
                        watchlist: exclusion.watchlist.clone(),
                        source: Box::new(e),
                    })?;
            }
        }
        Ok(query)
    }

    /// The `hoursOfDay` parameters whose value must be shifted to UTC, with
    /// the KQL text of their local value (override or the rule's default).
    pub fn hours_parameters(&self, rule: &Rule) -> Result<Vec<(String, String)>, DetectError> {
        if self.utc_offset_hours == 0 {
            return Ok(Vec::new());
        }
        let overrides = self.parameter_overrides(rule)?;
        let lets = query_edit::top_level_lets(&rule.query)?;
        let mut out = Vec::new();
        for p in rule.parameters.iter().filter(|p| p.hours_of_day) {
            let value = match overrides.iter().find(|(n, _)| n == &p.name) {
                Some((_, v)) => v.clone(),
                None => {
                    let l = lets.iter().find(|l| l.name == p.name).expect("checked on rule load");
                    rule.query[l.value.clone()].to_string()
                }
            };
            out.push((p.name.clone(), value));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets() {
        assert_eq!(parse_offset("+02:00").unwrap(), 2);
        assert_eq!(parse_offset("-5").unwrap(), -5);
        assert_eq!(parse_offset("UTC").unwrap(), 0);
        assert_eq!(parse_offset("UTC+1").unwrap(), 1);
        assert!(parse_offset("+05:30").unwrap_err().to_string().contains("whole-hour"));
        assert!(parse_offset("Europe/Paris").is_err());
    }
}
