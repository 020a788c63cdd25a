//! The tuning file: watchlists, the organisation's time zone, and per-rule
//! parameter overrides, severity changes and exclusions (see
//! `rules/README.md`, "The tuning file").

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
}

/// `+02:00`, `-5`, `UTC`, `Z` → whole hours.
fn parse_offset(text: &str) -> Result<i64, String> {
    let t = text.trim();
    if t.eq_ignore_ascii_case("utc") || t == "Z" {
        return Ok(0);
    }
    let t = t.strip_prefix("UTC").unwrap_or(t);
    let (sign, rest) = match t.chars().next() {
        Some('+') => (1, &t[1..]),
        Some('-') => (-1, &t[1..]),
        _ => return Err(format!("timeZone '{text}': expected a UTC offset like +02:00, -05:00 or UTC")),
    };
    let (hours, minutes) = rest.split_once(':').unwrap_or((rest, "0"));
    let hours: i64 = hours.parse().map_err(|_| format!("timeZone '{text}': hours are not a number"))?;
    let minutes: i64 = minutes.parse().map_err(|_| format!("timeZone '{text}': minutes are not a number"))?;
    if minutes != 0 {
        return Err(format!(
            "timeZone '{text}': only whole-hour offsets are supported (after-hours windows are hours of the day)"
        ));
    }
    if hours > 14 {
        return Err(format!("timeZone '{text}': offsets range from -12:00 to +14:00"));
    }
    Ok(sign * hours)
}

impl Tuning {
    /// Reads a tuning file and its watchlists; rule keys are resolved
    /// against `rules` so a typo is an error, not a silently ignored entry.
    pub fn load(path: &Path, rules: &RuleSet) -> Result<Tuning, String> {
        let origin = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| format!("cannot read tuning file {origin}: {e}"))?;
        let file: TuningFile =
            serde_norway::from_str(&text).map_err(|e| format!("{origin}: not a valid tuning file: {e}"))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let watchlists = match &file.watchlists {
            Some(dir) => watchlist::load_dir(&base.join(dir)).map_err(|e| format!("{origin}: {e}"))?,
            None => Vec::new(),
        };
        let utc_offset_hours = match &file.time_zone {
            Some(tz) => parse_offset(tz).map_err(|e| format!("{origin}: {e}"))?,
            None => 0,
        };
        let mut resolved = BTreeMap::new();
        for (key, tuning) in file.rules {
            let rule = rules.find(&key).map_err(|e| format!("{origin}: rules.{key}: {e}"))?;
            if let Some(s) = &tuning.severity {
                s.parse::<Severity>().map_err(|e| format!("{origin}: rules.{key}.severity: {e}"))?;
            }
            for exclusion in &tuning.exclude {
                if !watchlists.iter().any(|w| w.alias == exclusion.watchlist) {
                    return Err(format!(
                        "{origin}: rules.{key}.exclude: no watchlist '{}' (watchlists: {})",
                        exclusion.watchlist,
                        watchlists.iter().map(|w| w.alias.as_str()).collect::<Vec<_>>().join(", ")
                    ));
                }
            }
            let tuned = Tuning {
                origin: origin.clone(),
                watchlists: Vec::new(),
                utc_offset_hours: 0,
                rules: BTreeMap::from([(rule.id.clone(), tuning.clone())]),
            };
            // Catch unknown parameters and bad values now, with the file's name.
            tuned.rule_query(rule, &[]).map_err(|e| format!("{origin}: rules.{key}: {e}"))?;
            resolved.insert(rule.id.clone(), tuning);
        }
        Ok(Tuning { origin, watchlists, utc_offset_hours, rules: resolved })
    }

    /// Sets every rule's lookback to `lookback` (KQL timespan text, e.g.
    /// `30d`), overriding the rules and this tuning: the `LookbackWindow`
    /// parameter where a rule has one, and `BaselineWindow` (the history a
    /// rule compares with, lookback included) to the lookback plus the
    /// baseline the rule had. For evidence older or longer than a day.
    pub fn set_lookback(&mut self, rules: &crate::rule::RuleSet, lookback: &str) -> Result<(), String> {
        if kqlite_engine::time::parse_timespan(lookback).is_none_or(|n| n <= 0) {
            return Err(format!("lookback '{lookback}' is not a positive timespan (expected e.g. 7d, 36h or 3650d)"));
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
    pub fn parameter_overrides(&self, rule: &Rule) -> Result<Vec<(String, String)>, String> {
        let mut out = Vec::new();
        if let Some(t) = self.for_rule(rule) {
            for (k, v) in &t.parameters {
                let name = k.as_str().ok_or("parameter names must be strings")?.to_string();
                let value = match v {
                    serde_norway::Value::String(s) => s.clone(),
                    serde_norway::Value::Number(n) => n.to_string(),
                    serde_norway::Value::Bool(b) => b.to_string(),
                    _ => return Err(format!("parameter '{name}': the value must be KQL text")),
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
    pub fn rule_query(&self, rule: &Rule, hours_of_day: &[(String, Vec<i64>)]) -> Result<String, String> {
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
                    .map_err(|e| format!("exclusion of watchlist '{}': {e}", exclusion.watchlist))?;
            }
        }
        Ok(query)
    }

    /// The `hoursOfDay` parameters whose value must be shifted to UTC, with
    /// the KQL text of their local value (override or the rule's default).
    pub fn hours_parameters(&self, rule: &Rule) -> Result<Vec<(String, String)>, String> {
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
        assert_eq!(parse_offset("+02:00"), Ok(2));
        assert_eq!(parse_offset("-5"), Ok(-5));
        assert_eq!(parse_offset("UTC"), Ok(0));
        assert_eq!(parse_offset("UTC+1"), Ok(1));
        assert!(parse_offset("+05:30").unwrap_err().contains("whole-hour"));
        assert!(parse_offset("Europe/Paris").is_err());
    }
}
