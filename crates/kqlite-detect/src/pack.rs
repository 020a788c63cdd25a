//! The built-in rule pack: the `rules/` directory's YAML rules, their Sigma
//! companions (`rules/sigma/`) and shared functions, embedded in the binary
//! so a hunt (and an export) needs no files beside it.

use crate::error::DetectError;
use crate::rule::{Rule, RuleSet};
use crate::sigma::SigmaOptions;
use std::path::{Path, PathBuf};

/// (file name, text) of each embedded rule.
const RULES: &[(&str, &str)] = &[
    ("T1021-remote-services.yaml", include_str!("../../../rules/T1021-remote-services.yaml")),
    ("T1021.001-rdp-localhost.yaml", include_str!("../../../rules/T1021.001-rdp-localhost.yaml")),
    ("T1021.001-rdp-session-abuse.yaml", include_str!("../../../rules/T1021.001-rdp-session-abuse.yaml")),
    ("T1021.002-smb-admin-shares.yaml", include_str!("../../../rules/T1021.002-smb-admin-shares.yaml")),
    ("T1021.003-dcom-execution.yaml", include_str!("../../../rules/T1021.003-dcom-execution.yaml")),
    ("T1021.004-openssh-windows.yaml", include_str!("../../../rules/T1021.004-openssh-windows.yaml")),
    ("T1021.004-ssh-lateral-movement.yaml", include_str!("../../../rules/T1021.004-ssh-lateral-movement.yaml")),
    ("T1021.005-vnc.yaml", include_str!("../../../rules/T1021.005-vnc.yaml")),
    ("T1021.006-winrm-remote-execution.yaml", include_str!("../../../rules/T1021.006-winrm-remote-execution.yaml")),
    ("T1021.006-winrm-remoting.yaml", include_str!("../../../rules/T1021.006-winrm-remoting.yaml")),
    ("T1047-wmi-remote-execution.yaml", include_str!("../../../rules/T1047-wmi-remote-execution.yaml")),
    ("T1053.005-remote-scheduled-task.yaml", include_str!("../../../rules/T1053.005-remote-scheduled-task.yaml")),
    ("T1078.002-explicit-credentials.yaml", include_str!("../../../rules/T1078.002-explicit-credentials.yaml")),
    ("T1112-remote-registry.yaml", include_str!("../../../rules/T1112-remote-registry.yaml")),
    ("T1505.001-mssql-xp-cmdshell.yaml", include_str!("../../../rules/T1505.001-mssql-xp-cmdshell.yaml")),
    ("T1550.002-pass-the-hash.yaml", include_str!("../../../rules/T1550.002-pass-the-hash.yaml")),
    (
        "T1563.002-rdp-session-reconnect-hijack.yaml",
        include_str!("../../../rules/T1563.002-rdp-session-reconnect-hijack.yaml"),
    ),
    ("T1569.002-remote-service-execution.yaml", include_str!("../../../rules/T1569.002-remote-service-execution.yaml")),
    ("T1570-lateral-tool-transfer.yaml", include_str!("../../../rules/T1570-lateral-tool-transfer.yaml")),
    (
        "TA0008-new-share-or-null-session-pipe.yaml",
        include_str!("../../../rules/TA0008-new-share-or-null-session-pipe.yaml"),
    ),
];

/// (file name, text) of each rule's Sigma form, `rules/sigma/STEM.yml` for
/// the rule `rules/STEM.yaml` (written by hand: see `sigma_export`).
const SIGMA: &[(&str, &str)] = &[
    ("T1021-remote-services.yml", include_str!("../../../rules/sigma/T1021-remote-services.yml")),
    ("T1021.001-rdp-localhost.yml", include_str!("../../../rules/sigma/T1021.001-rdp-localhost.yml")),
    ("T1021.001-rdp-session-abuse.yml", include_str!("../../../rules/sigma/T1021.001-rdp-session-abuse.yml")),
    ("T1021.002-smb-admin-shares.yml", include_str!("../../../rules/sigma/T1021.002-smb-admin-shares.yml")),
    ("T1021.003-dcom-execution.yml", include_str!("../../../rules/sigma/T1021.003-dcom-execution.yml")),
    ("T1021.004-openssh-windows.yml", include_str!("../../../rules/sigma/T1021.004-openssh-windows.yml")),
    ("T1021.004-ssh-lateral-movement.yml", include_str!("../../../rules/sigma/T1021.004-ssh-lateral-movement.yml")),
    ("T1021.005-vnc.yml", include_str!("../../../rules/sigma/T1021.005-vnc.yml")),
    ("T1021.006-winrm-remote-execution.yml", include_str!("../../../rules/sigma/T1021.006-winrm-remote-execution.yml")),
    ("T1021.006-winrm-remoting.yml", include_str!("../../../rules/sigma/T1021.006-winrm-remoting.yml")),
    ("T1047-wmi-remote-execution.yml", include_str!("../../../rules/sigma/T1047-wmi-remote-execution.yml")),
    ("T1053.005-remote-scheduled-task.yml", include_str!("../../../rules/sigma/T1053.005-remote-scheduled-task.yml")),
    ("T1078.002-explicit-credentials.yml", include_str!("../../../rules/sigma/T1078.002-explicit-credentials.yml")),
    ("T1112-remote-registry.yml", include_str!("../../../rules/sigma/T1112-remote-registry.yml")),
    ("T1505.001-mssql-xp-cmdshell.yml", include_str!("../../../rules/sigma/T1505.001-mssql-xp-cmdshell.yml")),
    ("T1550.002-pass-the-hash.yml", include_str!("../../../rules/sigma/T1550.002-pass-the-hash.yml")),
    (
        "T1563.002-rdp-session-reconnect-hijack.yml",
        include_str!("../../../rules/sigma/T1563.002-rdp-session-reconnect-hijack.yml"),
    ),
    (
        "T1569.002-remote-service-execution.yml",
        include_str!("../../../rules/sigma/T1569.002-remote-service-execution.yml"),
    ),
    ("T1570-lateral-tool-transfer.yml", include_str!("../../../rules/sigma/T1570-lateral-tool-transfer.yml")),
    (
        "TA0008-new-share-or-null-session-pipe.yml",
        include_str!("../../../rules/sigma/TA0008-new-share-or-null-session-pipe.yml"),
    ),
];

/// (file name, text) of each embedded function file.
const FUNCTIONS: &[(&str, &str)] = &[
    ("asim_helpers.kql", include_str!("../../../rules/functions/asim_helpers.kql")),
    ("sshd_auth.kql", include_str!("../../../rules/functions/sshd_auth.kql")),
];

/// The embedded rules. They are checked by the crate's tests, so a failure
/// here is a build defect, reported rather than panicking.
pub fn builtin_rules() -> Result<RuleSet, DetectError> {
    let mut set = RuleSet::default();
    for (file, text) in RULES {
        let stem = file.trim_end_matches(".yaml");
        set.add(Rule::parse(text, &format!("builtin:{file}"), stem)?)?;
    }
    Ok(set)
}

/// The embedded Sigma files as (file name, YAML text), in the pack's order.
pub fn builtin_sigma_files() -> &'static [(&'static str, &'static str)] {
    SIGMA
}

/// The embedded shared functions as (name, KQL text).
pub fn builtin_functions() -> Vec<(String, String)> {
    FUNCTIONS.iter().map(|(f, t)| (format!("builtin:functions/{f}"), t.to_string())).collect()
}

/// Rules from `dir` (its `*.yaml` files) or the built-in pack, and the
/// functions from `dir/functions/*.kql` (or the built-in ones when `dir`
/// has no `functions` directory).
pub fn load(dir: Option<&Path>) -> Result<(RuleSet, Vec<(String, String)>), DetectError> {
    load_with_sigma(dir, &SigmaOptions::default())
}

/// [`load`] where `dir` may also be a rule file, and Sigma rules among
/// them are compiled with `sigma` ([`RuleSet::load_path`]).
pub fn load_with_sigma(
    dir: Option<&Path>,
    sigma: &SigmaOptions,
) -> Result<(RuleSet, Vec<(String, String)>), DetectError> {
    let Some(dir) = dir else {
        return Ok((builtin_rules()?, builtin_functions()));
    };
    let rules = RuleSet::load_path(dir, sigma)?;
    let functions_dir = dir.join("functions");
    if !functions_dir.is_dir() {
        return Ok((rules, builtin_functions()));
    }
    let mut paths: Vec<_> = std::fs::read_dir(&functions_dir)
        .map_err(|source| DetectError::Io { path: functions_dir.clone(), source })?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|e| e == "kql"))
        .collect();
    paths.sort();
    let mut functions = Vec::new();
    for path in paths {
        let text = std::fs::read_to_string(&path).map_err(|source| DetectError::Io { path: path.clone(), source })?;
        functions.push((path.display().to_string(), text));
    }
    Ok((rules, functions))
}

/// The rule path that stands for the built-in pack among others
/// (`--rules builtin --rules ./sigma`).
pub const BUILTIN_PATH: &str = "builtin";

/// [`load_with_sigma`] over several rule paths, each a rules directory or
/// file or [`BUILTIN_PATH`]; none is the built-in pack. The rules of all of
/// them (a rule id loaded twice is a problem in [`RuleSet::sigma`], the
/// first kept), and the functions of each (a directory's `functions/`,
/// the pack's for [`BUILTIN_PATH`]), or the built-in ones when none has any.
pub fn load_paths(paths: &[PathBuf], sigma: &SigmaOptions) -> Result<(RuleSet, Vec<(String, String)>), DetectError> {
    let loaded_from = |path: &PathBuf| match path.as_os_str() == BUILTIN_PATH {
        true => Ok((builtin_rules()?, Some(builtin_functions()))),
        false => {
            let (rules, functions) = load_with_sigma(Some(path), sigma)?;
            Ok::<_, DetectError>((rules, path.join("functions").is_dir().then_some(functions)))
        }
    };
    match paths {
        [] => return load_with_sigma(None, sigma),
        [one] if one.as_os_str() != BUILTIN_PATH => return load_with_sigma(Some(one), sigma),
        _ => {}
    }
    let mut set = RuleSet::default();
    let mut functions: Vec<(String, String)> = Vec::new();
    for path in paths {
        let (rules, own_functions) = loaded_from(path)?;
        set.sigma.extend(rules.sigma);
        for rule in rules.rules {
            let origin = PathBuf::from(&rule.origin);
            if let Err(e) = set.add(rule) {
                let problem = crate::content::ContentProblem { path: origin, line: None, reason: e.to_string() };
                set.sigma.problems.push(problem);
            }
        }
        for function in own_functions.into_iter().flatten() {
            if !functions.iter().any(|(name, _)| *name == function.0) {
                functions.push(function);
            }
        }
    }
    if functions.is_empty() {
        functions = builtin_functions();
    }
    Ok((set, functions))
}
