//! `kqlite rules export --format sigma`: the stream, files in a directory,
//! rule selection and its errors, and every exported document valid against
//! the Sigma specification's JSON schemas (scripts/sigma_export_check.py).

use std::path::PathBuf;
use std::process::{Command, Output};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn kqlite(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_kqlite")).args(args).output().unwrap()
}

fn titles(yaml: &str) -> usize {
    yaml.lines().filter(|l| l.starts_with("title: ")).count()
}

#[test]
fn the_whole_pack_is_one_multi_document_stream() {
    let out = kqlite(&["rules", "export", "--format", "sigma"]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stream = String::from_utf8(out.stdout).unwrap();
    let in_files: usize = std::fs::read_dir(root().join("rules/sigma"))
        .unwrap()
        .map(|e| titles(&std::fs::read_to_string(e.unwrap().path()).unwrap()))
        .sum();
    assert_eq!(titles(&stream), in_files);
    for id in ["id: 28441e3b-6aa3-4788-a895-4b7ff0ae3e56", "type: value_count", "service: sshd"] {
        assert!(stream.contains(id), "{id} missing");
    }
}

#[test]
fn named_rules_go_to_files_in_the_out_directory() {
    let dir = tempfile::tempdir().unwrap();
    let out_dir = dir.path().join("sigma");
    let out = kqlite(&[
        "rules",
        "export",
        "--format",
        "sigma",
        "T1021.002",
        "T1021.004-ssh",
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert!(out.stdout.is_empty());
    let mut files: Vec<String> =
        std::fs::read_dir(&out_dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    files.sort();
    assert_eq!(files, ["T1021.002-smb-admin-shares.yml", "T1021.004-ssh-lateral-movement.yml"]);
    assert_eq!(
        std::fs::read_to_string(out_dir.join("T1021.002-smb-admin-shares.yml")).unwrap(),
        std::fs::read_to_string(root().join("rules/sigma/T1021.002-smb-admin-shares.yml")).unwrap()
    );
}

#[test]
fn an_unknown_rule_is_a_usage_error_that_lists_the_rules() {
    let out = kqlite(&["rules", "export", "--format", "sigma", "T1021", "T9999"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty(), "nothing is written when a name is wrong");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("no rule 'T9999'"), "{stderr}");
    assert!(stderr.contains("T1021.006-winrm-remoting"), "{stderr}");
}

#[test]
fn export_refuses_a_rules_directory() {
    let out = kqlite(&["rules", "export", "--format", "sigma", "--rules", "rules"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("built-in pack"));
}

/// Issue 15, item 5: each exported rule validates against the Sigma
/// specification's JSON schemas (detection rules, correlations), formats
/// (uuid) included. Needs ../shared (the schemas) and python3 with PyYAML
/// and jsonschema.
#[test]
fn every_exported_document_validates_against_the_sigma_json_schemas() {
    let schemas = root().join("../shared/sigma/specification/json-schema");
    if !schemas.is_dir() {
        println!("SKIP: {} not found (the Sigma specification lives in ../shared)", schemas.display());
        return;
    }
    let modules = Command::new("python3").args(["-c", "import yaml, jsonschema"]).output();
    if !modules.is_ok_and(|o| o.status.success()) {
        println!(
            "SKIP: python3 with PyYAML and jsonschema is needed (pip install 'jsonschema==4.26.0' 'PyYAML==6.0.3')"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = kqlite(&["rules", "export", "--format", "sigma", "--out", dir.path().to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().path()).collect();
    files.sort();
    let pack_rules = std::fs::read_dir(root().join("rules"))
        .unwrap()
        .filter(|e| e.as_ref().unwrap().path().extension().is_some_and(|x| x == "yaml"))
        .count();
    assert_eq!(files.len(), pack_rules, "one file per built-in rule");
    let check = Command::new("python3")
        .arg(root().join("scripts/sigma_export_check.py"))
        .args(&files)
        .env("KQLITE_SHARED", root().join("../shared"))
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&check.stdout);
    println!("{stdout}");
    assert!(check.status.success(), "{stdout}{}", String::from_utf8_lossy(&check.stderr));
    assert!(stdout.contains("(correlation)") && stdout.contains("(detection)"), "{stdout}");
    assert!(stdout.contains(" 0 invalid"), "{stdout}");
}
