//! Sentinel content from a checkout of the Azure-Sentinel repository (or
//! any folder of it): analytic rules, hunting queries, parser functions
//! (ASIM included) and watchlists.
//!
//! Sigma YAML is recognised by its content wherever it sits and compiled
//! to rules ([`crate::sigma`]). Other files are classified by the folders they sit in, as the repository lays
//! them out (`Detections/`, `Solutions/*/Analytic Rules/`, `Hunting
//! Queries/`, `Parsers/`, `Watchlists/`); YAML outside those folders by its
//! top-level keys. A file that does not load is a [`ContentProblem`] (file,
//! line, reason) and the others load on. Rules are read only when asked
//! for: a query needs the parsers alone.

use crate::error::DetectError;
use crate::rule::{Rule, RuleSet};
use crate::sigma::{SigmaFile, SigmaOptions};
use crate::watchlist::Watchlist;
use kqlite_engine::{Origin, Session, StoredFunction, StoredParam};
use rayon::prelude::*;
use serde::Deserialize;
use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};

/// A content file that did not load, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ContentProblem {
    pub path: PathBuf,
    /// 1-based, when the reason has a place in the file.
    pub line: Option<usize>,
    pub reason: String,
}

impl fmt::Display for ContentProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{line}: {}", self.path.display(), self.reason),
            None => write!(f, "{}: {}", self.path.display(), self.reason),
        }
    }
}

/// A parser function and the other names it answers to.
#[derive(Clone, Debug)]
pub struct Parser {
    pub function: StoredFunction,
    /// `EquivalentBuiltInParser` (`_Im_Dns`), `EquivalentBuiltInFunction`.
    pub aliases: Vec<String>,
}

/// What a content folder holds.
#[derive(Debug, Default)]
pub struct Content {
    /// Analytic rules and hunting queries ([`Rule::is_hunting`]), when asked for.
    pub rules: RuleSet,
    pub parsers: Vec<Parser>,
    pub watchlists: Vec<Watchlist>,
    pub problems: Vec<ContentProblem>,
    /// Rules left out because an earlier file has their id: a checkout
    /// repeats rules (a solution's copy of a `Detections/` rule), so these
    /// are notes, not problems.
    pub repeated_rules: Vec<ContentProblem>,
}

impl Content {
    /// Makes the parsers callable in `session` (parsed when first called).
    pub fn add_parsers_to(&self, session: &mut Session) {
        for parser in &self.parsers {
            session.add_stored_function(parser.function.clone(), &parser.aliases);
        }
    }
}

/// What a file is, from where it sits or what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    AnalyticRule,
    HuntingQuery,
    Parser,
    Watchlist,
}

/// The kind of `path` from its folders (those of `root` included, so a
/// folder inside a checkout is classified as in the checkout).
fn kind_from_folders(path: &Path) -> Option<Kind> {
    let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let yaml = extension == "yaml" || extension == "yml";
    // The innermost telling folder decides (`Solutions/X/Parsers`).
    for folder in path.parent()?.components().rev() {
        let folder = folder.as_os_str().to_string_lossy().to_ascii_lowercase();
        let kind = match folder.as_str() {
            "detections" | "analytic rules" | "analytic_rules" | "analyticrules" => Kind::AnalyticRule,
            "hunting queries" | "hunting_queries" | "huntingqueries" => Kind::HuntingQuery,
            "parsers" => Kind::Parser,
            "watchlists" => Kind::Watchlist,
            _ => continue,
        };
        return match (kind, extension.as_str()) {
            (Kind::Watchlist, "csv") => Some(Kind::Watchlist),
            (Kind::Parser, "txt" | "kql" | "csl") => Some(Kind::Parser),
            (Kind::Watchlist, _) => None,
            (_, _) if yaml => Some(kind),
            _ => None,
        };
    }
    None
}

/// The kind of a YAML file outside the known folders, from its top-level
/// keys (lines without indentation), without parsing it.
fn kind_from_keys(text: &str) -> Option<Kind> {
    let has =
        |key: &str| text.lines().any(|l| l.strip_prefix(key).is_some_and(|rest| rest.trim_start().starts_with(':')));
    if has("ParserQuery") || has("FunctionQuery") {
        Some(Kind::Parser)
    } else if has("query") && has("severity") {
        Some(Kind::AnalyticRule)
    } else if has("query") {
        Some(Kind::HuntingQuery)
    } else {
        None
    }
}

/// Loads the content under each of `dirs` (a checkout, or any folder or
/// file of one). `rules`: also read analytic rules and hunting queries.
/// Only a path that does not exist is an error; files that do not load are
/// [`Content::problems`]. Later parsers of the same name replace earlier ones.
pub fn load(dirs: &[PathBuf], rules: bool) -> Result<Content, DetectError> {
    load_with_sigma(dirs, rules, &SigmaOptions::default())
}

/// [`load`], with Sigma files (recognised by their content, wherever they
/// sit) compiled with `sigma` when `rules`: a Sigma file that does not
/// parse is a problem; a rule that does not compile is in
/// `rules.sigma.rejected`, with its reason.
pub fn load_with_sigma(dirs: &[PathBuf], rules: bool, sigma: &SigmaOptions) -> Result<Content, DetectError> {
    let mut files = Vec::new();
    for dir in dirs {
        let root = std::fs::canonicalize(dir).map_err(|source| DetectError::Io { path: dir.clone(), source })?;
        for entry in walkdir::WalkDir::new(&root).sort_by_file_name() {
            let entry = match entry {
                Ok(e) => e,
                Err(e) => {
                    let path = e.path().map(Path::to_path_buf).unwrap_or_else(|| root.clone());
                    files.push((path, Err(e.to_string())));
                    continue;
                }
            };
            if entry.file_type().is_file() {
                files.push((entry.into_path(), Ok(())));
            }
        }
    }
    // Deprecated content first, so current parsers and rules of the same name win.
    files.sort_by_key(|(path, _)| !is_deprecated(path));
    let loaded: Vec<Loaded> = files
        .into_par_iter()
        .map(|(path, walked)| match walked {
            Err(reason) => Loaded::Problem(ContentProblem { path, line: None, reason }),
            Ok(()) => load_file(path, rules),
        })
        .collect();
    let mut content = Content::default();
    let mut sigma_files = Vec::new();
    let mut items = Vec::with_capacity(loaded.len());
    for item in loaded {
        match item {
            Loaded::Sigma(file, problems) => {
                content.problems.extend(problems);
                sigma_files.extend(file);
            }
            other => items.push(other),
        }
    }
    // Sigma rules are compiled together: correlations and filters name
    // rules of other files.
    let (sigma_rules, report) = crate::sigma::compile_files(&sigma_files, sigma);
    content.rules.sigma = report;
    items.extend(sigma_rules.into_iter().map(|r| Loaded::Rule(Box::new(r))));
    let mut rule_ids: HashMap<String, usize> = HashMap::new();
    for item in items {
        match item {
            Loaded::Rule(rule) => match rule_ids.get(&rule.id) {
                // A deprecated rule (loaded first) gives way to the current one.
                Some(&at) if is_deprecated(Path::new(&content.rules.rules[at].origin)) => {
                    content.rules.rules[at] = *rule;
                }
                Some(&at) => {
                    let other = &content.rules.rules[at].origin;
                    let reason = format!("rule id '{}' is also the id of {other}; this one is left out", rule.id);
                    content.repeated_rules.push(ContentProblem {
                        path: PathBuf::from(&rule.origin),
                        line: None,
                        reason,
                    });
                }
                None => {
                    rule_ids.insert(rule.id.clone(), content.rules.rules.len());
                    content.rules.rules.push(*rule);
                }
            },
            Loaded::Parser(parser) => content.parsers.push(*parser),
            Loaded::Watchlist(list) => content.watchlists.push(list),
            Loaded::Problem(problem) => content.problems.push(problem),
            Loaded::Sigma(..) | Loaded::Nothing => {}
        }
    }
    Ok(content)
}

/// Whether `path` is in a `Deprecated` folder.
fn is_deprecated(path: &Path) -> bool {
    path.components().any(|c| c.as_os_str().eq_ignore_ascii_case("deprecated"))
}

enum Loaded {
    Rule(Box<Rule>),
    Parser(Box<Parser>),
    Watchlist(Watchlist),
    Problem(ContentProblem),
    /// A Sigma file's documents (none when it does not parse) and its problems.
    Sigma(Option<SigmaFile>, Vec<ContentProblem>),
    Nothing,
}

fn load_file(path: PathBuf, rules: bool) -> Loaded {
    let extension = path.extension().map(|e| e.to_string_lossy().to_ascii_lowercase()).unwrap_or_default();
    let yaml = extension == "yaml" || extension == "yml";
    let by_folder = kind_from_folders(&path);
    if !rules && matches!(by_folder, Some(Kind::AnalyticRule | Kind::HuntingQuery)) {
        return Loaded::Nothing;
    }
    if by_folder.is_none() && !yaml {
        return Loaded::Nothing;
    }
    if by_folder == Some(Kind::Watchlist) {
        return match Watchlist::load(&path) {
            Ok(list) => Loaded::Watchlist(list),
            Err(e) => Loaded::Problem(ContentProblem { path, line: None, reason: crate::error::chain_text(&e) }),
        };
    }
    let text = match std::fs::read_to_string(&path) {
        Ok(t) => t,
        Err(e) => return Loaded::Problem(ContentProblem { path, line: None, reason: format!("cannot read: {e}") }),
    };
    if rules && yaml && kqlite_sigma::looks_like_sigma(&text) {
        let (file, problems) = crate::sigma::parse_file(&path, &text);
        return Loaded::Sigma(file, problems);
    }
    let Some(kind) = by_folder.or_else(|| kind_from_keys(&text)) else { return Loaded::Nothing };
    let origin = path.display().to_string();
    let stem = path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_default();
    let rule = |parsed: Result<Rule, DetectError>| match parsed {
        Ok(rule) => Loaded::Rule(Box::new(rule)),
        Err(e) => Loaded::Problem(ContentProblem {
            path: path.clone(),
            line: yaml_error_line(&e),
            reason: crate::error::chain_text(&e).trim_start_matches(&format!("{origin}: ")).to_string(),
        }),
    };
    match kind {
        Kind::AnalyticRule if rules => rule(Rule::parse(&text, &origin, &stem)),
        Kind::HuntingQuery if rules => rule(Rule::parse_hunting(&text, &origin, &stem)),
        Kind::AnalyticRule | Kind::HuntingQuery | Kind::Watchlist => Loaded::Nothing,
        Kind::Parser if yaml => match parse_yaml_parser(&text, &origin) {
            Ok(parser) => Loaded::Parser(Box::new(parser)),
            Err((line, reason)) => Loaded::Problem(ContentProblem { path, line, reason }),
        },
        Kind::Parser => Loaded::Parser(Box::new(parse_text_parser(text, &origin, &stem))),
    }
}

/// The line of a YAML error inside `error`'s chain.
fn yaml_error_line(error: &DetectError) -> Option<usize> {
    match error {
        DetectError::RuleYaml { source, .. } => source.location().map(|l| l.line()),
        _ => None,
    }
}

/// A parser YAML file: `FunctionAlias`/`FunctionName` + `FunctionQuery`
/// (+ `FunctionParams`), or ASIM's `ParserName` + `ParserQuery` (+ `ParserParams`).
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParserFile {
    #[serde(default)]
    function_alias: Option<String>,
    #[serde(default)]
    function_name: Option<String>,
    #[serde(default)]
    function_query: Option<String>,
    #[serde(default)]
    function_params: Option<Vec<ParamEntry>>,
    #[serde(default)]
    parser_name: Option<String>,
    #[serde(default)]
    parser_query: Option<String>,
    #[serde(default)]
    parser_params: Option<Vec<ParamEntry>>,
    #[serde(default)]
    equivalent_built_in_parser: Option<String>,
    #[serde(default)]
    equivalent_built_in_function: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ParamEntry {
    name: String,
    #[serde(rename = "Type")]
    ty: String,
    #[serde(default)]
    default: Option<serde_norway::Value>,
}

/// A parameter's default as KQL text: YAML strings are the KQL text of
/// non-string types (`datetime(null)`, `dynamic([])`) and the value of
/// string ones (`'*'` in YAML is `*`), which is quoted unless already.
fn default_text(ty: &str, value: &serde_norway::Value) -> Option<String> {
    Some(match value {
        serde_norway::Value::String(s) if ty.eq_ignore_ascii_case("string") => {
            if s.starts_with('\'') || s.starts_with('"') || s.starts_with('@') {
                s.clone()
            } else {
                format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
            }
        }
        serde_norway::Value::String(s) => s.clone(),
        serde_norway::Value::Bool(b) => b.to_string(),
        serde_norway::Value::Number(n) => n.to_string(),
        _ => return None,
    })
}

fn parse_yaml_parser(text: &str, origin: &str) -> Result<Parser, (Option<usize>, String)> {
    let file: ParserFile = serde_norway::from_str(text)
        .map_err(|e| (e.location().map(|l| l.line()), format!("not a valid parser file: {e}")))?;
    let (name, query, params, key) = match (&file.parser_query, &file.function_query) {
        (Some(query), _) => (file.parser_name.clone(), query, &file.parser_params, "ParserQuery"),
        (None, Some(query)) => {
            (file.function_alias.clone().or(file.function_name.clone()), query, &file.function_params, "FunctionQuery")
        }
        (None, None) => return Err((None, "no ParserQuery or FunctionQuery".to_string())),
    };
    let name = name
        .map(|n| n.trim().to_string())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| (None, format!("{key} has no name (expected ParserName, FunctionAlias or FunctionName)")))?;
    let mut stored_params = Vec::new();
    for p in params.iter().flatten() {
        let ty = p.ty.trim().to_string();
        let default = match &p.default {
            None | Some(serde_norway::Value::Null) => None,
            Some(value) => Some(
                default_text(&ty, value)
                    .ok_or_else(|| (None, format!("parameter '{}': Default must be a scalar", p.name)))?,
            ),
        };
        stored_params.push(StoredParam { name: p.name.trim().to_string(), ty, default });
    }
    let aliases = [&file.equivalent_built_in_parser, &file.equivalent_built_in_function]
        .into_iter()
        .flatten()
        .map(|a| a.trim().to_string())
        .filter(|a| !a.is_empty() && *a != name)
        .collect();
    Ok(Parser {
        function: StoredFunction {
            name,
            params: stored_params,
            body: query.clone(),
            origin: body_origin(text, key, origin),
        },
        aliases,
    })
}

/// Where the block of `key:` starts in the file: the line after the key
/// (a block scalar), at its indent; the key's line for an inline value.
fn body_origin(text: &str, key: &str, file: &str) -> Origin {
    let lines: Vec<&str> = text.lines().collect();
    let at = lines.iter().position(|l| l.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(':')));
    let Some(at) = at else { return Origin { file: file.to_string(), line: 1, indent: 0 } };
    let value = lines[at][key.len()..].trim_start().trim_start_matches(':').trim();
    if !(value.starts_with('|') || value.starts_with('>') || value.is_empty()) {
        return Origin { file: file.to_string(), line: at + 1, indent: 0 };
    }
    let first = (at + 1..lines.len()).find(|&i| !lines[i].trim().is_empty()).unwrap_or(at + 1);
    let indent = lines.get(first).map_or(0, |l| l.len() - l.trim_start().len());
    Origin { file: file.to_string(), line: first + 1, indent }
}

/// The phrasings Azure-Sentinel's `.txt`/`.kql` parsers use to name the
/// function they should be saved as, case-insensitive; the name is group 1.
const ALIAS_PATTERNS: &[&str] = &[
    r#"function\s+alias,?\s+as\s+["']?([A-Za-z_][A-Za-z0-9_]*)"#,
    r#"function\s+name\s+as\s+["']?([A-Za-z_][A-Za-z0-9_]*)"#,
    r#"specifying\s+function\s+name\s+["']?([A-Za-z_][A-Za-z0-9_]*)"#,
    r#"function\s+name\s+must\s+be\s+set\s+to\s+["']([A-Za-z_][A-Za-z0-9_]*)"#,
    r#"["']([A-Za-z_][A-Za-z0-9_]*)["']\s+in\s+the\s+["']function\s+name["']\s+field"#,
    r#"given\s+the\s+alias\s+of\s+["']?([A-Za-z_][A-Za-z0-9_]*)"#,
    r#"function\s+name\s+and\s+alias\s+\(e\.g\.?\s+["']?([A-Za-z_][A-Za-z0-9_]*)"#,
];

/// Words a pattern may catch in a sentence that names no function
/// ("specifying function name and alias (e.g. SentinelOne)").
const NOT_ALIASES: &[&str] = &["and", "as", "alias", "of", "the", "to", "field", "must"];

fn alias_patterns() -> &'static [regex::Regex] {
    static PATTERNS: std::sync::OnceLock<Vec<regex::Regex>> = std::sync::OnceLock::new();
    PATTERNS.get_or_init(|| {
        ALIAS_PATTERNS
            .iter()
            .map(|p| regex::RegexBuilder::new(p).case_insensitive(true).build().expect("a valid pattern"))
            .collect()
    })
}

/// The alias a text parser's header comments give it, if any.
fn header_alias(text: &str) -> Option<String> {
    let comments: String =
        text.lines().filter_map(|l| l.trim_start().strip_prefix("//")).take(80).collect::<Vec<_>>().join(" ");
    alias_patterns()
        .iter()
        .filter_map(|p| p.captures(&comments).map(|c| c[1].to_string()))
        .find(|alias| !NOT_ALIASES.iter().any(|w| w.eq_ignore_ascii_case(alias)))
}

/// A `.txt`/`.kql`/`.csl` parser: the whole file is the body; the name is
/// the header's alias, else the file name; the file name is an alias too,
/// since Azure-Sentinel names the file after the function it documents.
fn parse_text_parser(text: String, origin: &str, stem: &str) -> Parser {
    let name = header_alias(&text).unwrap_or_else(|| stem.to_string());
    let is_name = kqlite_syntax_name(stem) && stem != name;
    let aliases = if is_name { vec![stem.to_string()] } else { Vec::new() };
    let text = text.trim_start_matches('\u{feff}').to_string();
    Parser {
        function: StoredFunction {
            name,
            params: Vec::new(),
            body: text,
            origin: Origin { file: origin.to_string(), line: 1, indent: 0 },
        },
        aliases,
    }
}

/// Whether `text` can be written as a bare KQL name.
fn kqlite_syntax_name(text: &str) -> bool {
    let mut chars = text.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_aliases_in_azure_sentinel_phrasings() {
        let cases = [
            ("// ... select as Function from drop down by specifying function name as JBossEvent and specifying Legacy Category.", "JBossEvent"),
            ("// ... by specifying function name Cisco_Umbrella and ...", "Cisco_Umbrella"),
            ("// 3. ... Enter a Function Name.\n//    It is recommended to name the Function Alias, as CiscoMeraki\n", "CiscoMeraki"),
            ("// Enter \"ASimDnsMicrosoftNXLog\" in the \"Function name\" field.", "ASimDnsMicrosoftNXLog"),
            ("// ... the Function name must be set to \"afad_parser\"", "afad_parser"),
            ("// ... by specifying function name and alias (e.g. SentinelOne).", "SentinelOne"),
        ];
        for (text, alias) in cases {
            assert_eq!(header_alias(text).as_deref(), Some(alias), "{text}");
        }
        assert_eq!(header_alias("// nothing here\nT | take 1"), None);
    }

    #[test]
    fn folders_and_keys_classify_files() {
        assert_eq!(kind_from_folders(Path::new("/x/Solutions/A B/Analytic Rules/r.yaml")), Some(Kind::AnalyticRule));
        assert_eq!(kind_from_folders(Path::new("/x/Hunting Queries/SecurityEvent/h.yaml")), Some(Kind::HuntingQuery));
        assert_eq!(kind_from_folders(Path::new("/x/Parsers/ASimDns/Parsers/p.yaml")), Some(Kind::Parser));
        assert_eq!(kind_from_folders(Path::new("/x/Parsers/ASimDns/README.md")), None);
        assert_eq!(kind_from_folders(Path::new("/x/Watchlists/w.csv")), Some(Kind::Watchlist));
        assert_eq!(kind_from_keys("id: 1\nquery: |\n  T\nseverity: High\n"), Some(Kind::AnalyticRule));
        assert_eq!(kind_from_keys("ParserName: X\nParserQuery: |\n  T\n"), Some(Kind::Parser));
    }

    #[test]
    fn string_defaults_are_quoted_once() {
        let s = |t: &str| serde_norway::Value::String(t.to_string());
        assert_eq!(default_text("string", &s("*")).as_deref(), Some("'*'"));
        assert_eq!(default_text("string", &s("'x'")).as_deref(), Some("'x'"));
        assert_eq!(default_text("datetime", &s("datetime(null)")).as_deref(), Some("datetime(null)"));
        assert_eq!(default_text("bool", &serde_norway::Value::Bool(false)).as_deref(), Some("false"));
    }
}
