#!/usr/bin/env python3
"""How much of SigmaHQ's Windows and Linux rules kqlite compiles to KQL, and
how much of that KQL Microsoft's binder accepts.

Reads every .yml under ../shared/sigma/{rules,rules-emerging-threats,
rules-threat-hunting} whose logsource product is windows or linux, runs
`kqlite sigma convert --format jsonl` over them, and prints the share that
compiled and every rejected rule with its reason. With --bind, every compiled
query also goes through Microsoft's parser and binder with the Log Analytics
schemas (`oracle --la-schemas`), and every query it rejects is listed.

  python3 scripts/sigma_coverage.py [--kqlite BIN] [--target sentinel|defender] [--bind]
        [--rejected FILE] [--min-percent 98]

Exit status 1 when the compiled share (or, with --bind, the accepted share) is
under --min-percent.
"""
import argparse
import collections
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

from kqlite_paths import SHARED, default_kqlite

RULE_DIRS = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
PRODUCTS = {"windows", "linux"}
CHUNK = 400


def rule_files(sigma: Path):
    """The Windows and Linux rule files, sorted."""
    files = []
    for top in RULE_DIRS:
        for path in sorted((sigma / top).rglob("*.yml")):
            try:
                docs = [d for d in yaml.safe_load_all(path.read_text(encoding="utf-8")) if isinstance(d, dict)]
            except yaml.YAMLError:
                files.append(path)  # kqlite must say why it cannot read it
                continue
            if any(((d.get("logsource") or {}).get("product") in PRODUCTS) for d in docs):
                files.append(path)
    return files


def convert(kqlite: str, files, target: str):
    """kqlite's jsonl records for the files, converted in chunks."""
    records = []
    for i in range(0, len(files), CHUNK):
        chunk = [str(f) for f in files[i : i + CHUNK]]
        out = subprocess.run(
            [kqlite, "sigma", "convert", "--format", "jsonl", "--target", target, *chunk],
            capture_output=True,
            text=True,
        )
        if out.returncode not in (0, 1):
            sys.exit(f"kqlite sigma convert failed ({out.returncode}): {out.stderr[-2000:]}")
        records += [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    return records


def bind(records):
    """Microsoft's verdict on each compiled query: a list of (record, first error or None)."""
    oracle = SHARED / "tools/kusto-oracle/oracle"
    schemas = SHARED / "schemas/la_table_schemas.csv"
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as fh:
        for r in records:
            fh.write(json.dumps({"query": r["kql"]}) + "\n")
    out = subprocess.run([str(oracle), "--jsonl", fh.name, "--la-schemas", str(schemas)], capture_output=True, text=True)
    verdicts = [json.loads(line) for line in out.stdout.splitlines() if line.strip()]
    if len(verdicts) != len(records):
        sys.exit(f"oracle answered {len(verdicts)} of {len(records)} queries: {out.stderr[-2000:]}")
    result = []
    for r, v in zip(records, verdicts):
        errors = [d for d in v.get("diagnostics", []) if d.get("severity") == "Error"]
        result.append((r, None if v.get("ok") else (errors[0]["message"] if errors else "rejected")))
    return result


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kqlite", default=default_kqlite())
    ap.add_argument("--sigma", type=Path, default=SHARED / "sigma")
    ap.add_argument("--target", default="sentinel", choices=["sentinel", "defender"])
    ap.add_argument("--bind", action="store_true", help="also check the KQL with Microsoft's binder")
    ap.add_argument("--rejected", type=Path, help="write every rejected rule here (default: stdout)")
    ap.add_argument("--min-percent", type=float, default=98.0)
    a = ap.parse_args()
    if not (a.sigma / "rules").is_dir():
        sys.exit(f"no SigmaHQ rules at {a.sigma} (set KQLITE_SHARED or --sigma)")

    files = rule_files(a.sigma)
    records = convert(a.kqlite, files, a.target)
    compiled = [r for r in records if "kql" in r]
    rejected = [r for r in records if "kql" not in r]
    reasons = collections.Counter((r.get("reason") or r.get("error") or "?").split(":")[0] for r in rejected)
    lines = [f"{r.get('path')}\t{r.get('id') or ''}\t{r.get('error') or r.get('reason')}" for r in rejected]

    share = 100.0 * len(compiled) / max(1, len(records))
    print(f"sigma coverage ({a.target}): {len(compiled)}/{len(records)} rules compiled = {share:.1f}% "
          f"({len(files)} files)")
    for reason, n in reasons.most_common():
        print(f"  {n:5d}  {reason}")
    ok = share >= a.min_percent

    if a.bind and compiled:
        verdicts = bind(compiled)
        bad = [(r, e) for r, e in verdicts if e]
        accepted = 100.0 * (len(compiled) - len(bad)) / len(compiled)
        print(f"binder: {len(compiled) - len(bad)}/{len(compiled)} compiled queries accepted = {accepted:.1f}%")
        for r, e in bad:
            lines.append(f"{r.get('path')}\t{r.get('id') or ''}\tbinder: {e}")
        ok = ok and accepted >= a.min_percent

    text = "\n".join(lines) + ("\n" if lines else "")
    if a.rejected:
        a.rejected.write_text(text)
        print(f"rejected rules written to {a.rejected}")
    else:
        sys.stdout.write(text)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
