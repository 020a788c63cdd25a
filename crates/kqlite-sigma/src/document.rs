//! Reading Sigma YAML: telling a Sigma file from other YAML by its content,
//! and parsing single- and multi-document files into rules, correlations
//! and filters.

use crate::error::SigmaError;
use rsigma_parser::SigmaCollection;

/// The documents of one or more Sigma files.
pub type SigmaDocuments = SigmaCollection;

/// Whether YAML text is Sigma (a rule, correlation or filter document), as
/// opposed to a Sentinel rule or anything else: Sigma documents have a
/// top-level `detection:` with `logsource:`, a `correlation:` or a `filter:`.
pub fn looks_like_sigma(text: &str) -> bool {
    let top = |key: &str| text.lines().any(|l| l.strip_prefix(key).is_some_and(|rest| rest.starts_with(':')));
    (top("detection") && top("logsource")) || top("correlation") || (top("filter") && top("logsource"))
}

/// Parses the text of one Sigma file; `path` names it in errors.
pub fn parse_documents(text: &str, path: &str) -> Result<SigmaDocuments, SigmaError> {
    rsigma_parser::parse_sigma_yaml(text)
        .map_err(|e| SigmaError::Parse { path: path.to_string(), message: e.to_string() })
}
