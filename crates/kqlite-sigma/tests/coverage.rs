//! SigmaHQ's Windows and Linux rules (from `../shared/sigma`) compiled for
//! Sentinel: how many compile, and the rejections counted by reason.
//! Ignored by default (it reads thousands of files); run with `--ignored`.

use kqlite_sigma::{compile_rule, parse_documents, Mapping, Target};
use std::collections::BTreeMap;
use std::path::Path;

#[test]
#[ignore = "reads ../shared/sigma; run with --ignored to measure coverage"]
fn sigmahq_windows_and_linux_rules_compile() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/sigma");
    if !root.exists() {
        eprintln!("skipped: {} is absent", root.display());
        return;
    }
    let mapping = Mapping::builtin();
    let (mut total, mut compiled) = (0, 0);
    let mut reasons: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for dir in ["rules", "rules-emerging-threats", "rules-threat-hunting"] {
        let mut files = Vec::new();
        collect(&root.join(dir), &mut files);
        for file in files {
            let Ok(text) = std::fs::read_to_string(&file) else { continue };
            let Ok(docs) = parse_documents(&text, &file.display().to_string()) else { continue };
            for rule in &docs.rules {
                let product = rule.logsource.product.as_deref().unwrap_or("");
                if product != "windows" && product != "linux" {
                    continue;
                }
                total += 1;
                match compile_rule(rule, &mapping, Target::Sentinel) {
                    Ok(_) => compiled += 1,
                    Err(e) => {
                        let reason = e.reason.to_string();
                        let key: String = reason.split(':').next().unwrap_or("").to_string();
                        reasons.entry(key).or_default().push(format!("{}: {reason}", file.display()));
                    }
                }
            }
        }
    }
    for (reason, rules) in &reasons {
        eprintln!("{reason}: {}", rules.len());
        for r in rules {
            eprintln!("    {r}");
        }
    }
    eprintln!("compiled {compiled} of {total} ({:.2}%)", 100.0 * compiled as f64 / total.max(1) as f64);
    assert!(compiled * 100 >= total * 98, "fewer than 98% compile");
}

fn collect(dir: &Path, out: &mut Vec<std::path::PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(&path, out);
        } else if path.extension().is_some_and(|e| e == "yml") {
            out.push(path);
        }
    }
}
