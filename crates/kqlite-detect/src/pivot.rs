//! Pivot queries: a rule's follow-ups for one finding, with the finding's
//! account, source, targets and time range defined as `let`s in front.

use crate::finding::Finding;
use crate::query_edit::string_literal;
use crate::rule::Pivot;
use kqlite_engine::time::format_datetime;

/// The `let`s a pivot query may use (see `rules/README.md`).
pub fn finding_lets(finding: &Finding) -> String {
    let (domain, account) = match finding.account.split_once('\\') {
        Some((d, a)) => (d, a),
        None => ("", finding.account.as_str()),
    };
    let targets: Vec<String> = finding.targets.iter().map(|t| string_literal(t)).collect();
    let datetime = |t: Option<i64>| match t {
        Some(t) => format!("datetime({})", format_datetime(t)),
        None => "datetime(null)".to_string(),
    };
    format!(
        "let FindingAccount = {};\nlet FindingAccountDomain = {};\nlet FindingSource = {};\n\
         let FindingTargets = dynamic([{}]);\nlet FindingStart = {};\nlet FindingEnd = {};\n",
        string_literal(account),
        string_literal(domain),
        string_literal(&finding.source),
        targets.join(", "),
        datetime(finding.first_seen),
        datetime(finding.last_seen.or(finding.first_seen)),
    )
}

/// The runnable text of `pivot` for `finding`.
pub fn pivot_query(pivot: &Pivot, finding: &Finding) -> String {
    format!("{}{}", finding_lets(finding), pivot.query)
}

/// Whether `finding` is the one the user named: account (with or without
/// domain, or as one of the forms the rule reported it under,
/// case-insensitive) and optionally the source.
pub fn matches(finding: &Finding, account: &str, source: Option<&str>) -> bool {
    let bare = finding.account.rsplit('\\').next().unwrap_or(&finding.account);
    let account_ok = finding.account.eq_ignore_ascii_case(account)
        || bare.eq_ignore_ascii_case(account)
        || finding.account_forms.iter().any(|form| form.eq_ignore_ascii_case(account));
    account_ok && source.is_none_or(|s| finding.source.eq_ignore_ascii_case(s))
}
