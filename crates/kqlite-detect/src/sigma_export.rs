//! The built-in pack as Sigma (`kqlite rules export --format sigma`).
//!
//! Each pack rule `rules/STEM.yaml` has a portable companion
//! `rules/sigma/STEM.yml`, written by hand rather than generated from the
//! KQL: a KQL query is a program (lets, unions, joins, scores), and only a
//! person can say which part of it Sigma can express and which it cannot.
//! Each file holds detection rules for the per-event logic and correlation
//! rules for the aggregations, and each document's description names the
//! KQL rule it is the portable form of and what Sigma cannot express.

use crate::error::DetectError;
use crate::pack;
use crate::rule::RuleSet;
use std::path::{Path, PathBuf};

/// One built-in rule's Sigma form.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SigmaExport {
    /// The pack rule's file stem, e.g. `T1021-remote-services`.
    pub stem: &'static str,
    /// The Sigma file's name, e.g. `T1021-remote-services.yml`.
    pub file_name: &'static str,
    /// The file's YAML: one or more Sigma documents.
    pub text: &'static str,
}

/// The Sigma forms of the built-in rules named by `keys` (as `kqlite rules
/// show` takes them: id, file stem, technique or unique prefix), in the
/// pack's order and each once; every rule's when `keys` is empty. An
/// unknown key is an error that lists the pack's rules.
pub fn builtin_sigma(keys: &[String]) -> Result<Vec<SigmaExport>, DetectError> {
    let pack_rules = pack::builtin_rules()?;
    let all = pack::builtin_sigma_files().iter().map(|&(file_name, text)| SigmaExport {
        stem: file_name.trim_end_matches(".yml"),
        file_name,
        text,
    });
    if keys.is_empty() {
        return Ok(all.collect());
    }
    let wanted = stems(&pack_rules, keys)?;
    Ok(all.filter(|export| wanted.iter().any(|stem| stem == export.stem)).collect())
}

/// The pack stems `keys` select ([`RuleSet::select`]: a technique selects
/// all its rules).
fn stems(rules: &RuleSet, keys: &[String]) -> Result<Vec<String>, DetectError> {
    let mut stems = Vec::new();
    for key in keys {
        stems.extend(rules.select(key)?.into_iter().map(|rule| rule.stem.clone()));
    }
    Ok(stems)
}

/// The exports as one multi-document YAML stream, files separated by `---`.
pub fn multi_document(exports: &[SigmaExport]) -> String {
    let mut out = String::new();
    for (n, export) in exports.iter().enumerate() {
        if n > 0 {
            out.push_str("---\n");
        }
        out.push_str(export.text);
        if !export.text.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Writes each export to `dir/FILE_NAME` (creating `dir`), returning the
/// paths written.
pub fn write_files(exports: &[SigmaExport], dir: &Path) -> Result<Vec<PathBuf>, DetectError> {
    std::fs::create_dir_all(dir).map_err(|source| DetectError::Write { path: dir.to_path_buf(), source })?;
    exports
        .iter()
        .map(|export| {
            let path = dir.join(export.file_name);
            std::fs::write(&path, export.text).map_err(|source| DetectError::Write { path: path.clone(), source })?;
            Ok(path)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_rule_has_a_sigma_form_and_every_sigma_file_a_rule() {
        let rules = pack::builtin_rules().unwrap();
        let mut rule_stems: Vec<&str> = rules.rules.iter().map(|r| r.stem.as_str()).collect();
        let mut sigma_stems: Vec<&str> = builtin_sigma(&[]).unwrap().iter().map(|e| e.stem).collect();
        rule_stems.sort_unstable();
        sigma_stems.sort_unstable();
        assert_eq!(rule_stems, sigma_stems);
    }

    #[test]
    fn keys_select_rules_in_pack_order_once() {
        let keys = ["T1021.006".to_string(), "T1021-remote".to_string(), "T1021-remote-services".to_string()];
        let stems: Vec<&str> = builtin_sigma(&keys).unwrap().iter().map(|e| e.stem).collect();
        assert_eq!(stems, ["T1021-remote-services", "T1021.006-winrm-remote-execution", "T1021.006-winrm-remoting"]);
    }

    #[test]
    fn an_unknown_key_lists_the_rules() {
        let message = builtin_sigma(&["T9999".to_string()]).unwrap_err().to_string();
        assert!(message.contains("no rule 'T9999'"), "{message}");
        assert!(message.contains("T1021.004-ssh-lateral-movement"), "{message}");
    }

    #[test]
    fn the_stream_separates_files_with_document_markers() {
        let exports = builtin_sigma(&[]).unwrap();
        let stream = multi_document(&exports);
        // Each file's own documents plus one marker between files.
        let in_files: usize = exports.iter().map(|e| e.text.lines().filter(|l| *l == "---").count()).sum();
        let markers = stream.lines().filter(|l| *l == "---").count();
        assert_eq!(markers, in_files + exports.len() - 1);
    }
}
