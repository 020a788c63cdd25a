#!/usr/bin/env python3
"""SigmaHQ's regression tests run by kqlite, judged as SigmaHQ's CI does.

Each test in ../shared/sigma/regression_data (an info.yml beside an EVTX)
names rules by id and, optionally, a match_count. A test passes when every
rule it names, hunted by kqlite over its EVTX, finds at least match_count
events (at least one where no count is given). Exact counts are reported too.

  python3 scripts/sigma_regression.py [--kqlite BIN] [--sigma DIR] [-v] [--min-percent 99]

Exit status 1 when the share of passing tests is under --min-percent.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

import yaml

from kqlite_paths import SHARED, default_kqlite


def rules_by_id(sigma: Path):
    found = {}
    for top in sorted(p for p in sigma.iterdir() if p.name.startswith("rules")):
        for path in top.rglob("*.yml"):
            m = re.search(r"^id:\s*['\"]?([0-9a-fA-F-]{36})", path.read_text(encoding="utf-8"), re.M)
            if m:
                found[m.group(1).lower()] = path
    return found


def tests(sigma: Path):
    for info_path in sorted((sigma / "regression_data").rglob("info.yml")):
        info = yaml.safe_load(info_path.read_text(encoding="utf-8"))
        ids = [str(r["id"]).lower() for r in info.get("rule_metadata") or []]
        for t in info.get("regression_tests_info") or []:
            if t.get("type") != "evtx":
                continue
            evtx = sigma / t["path"]
            if not evtx.exists():
                evtx = info_path.parent / Path(t["path"]).name
            yield info_path.parent.relative_to(sigma), ids, evtx, t.get("match_count")


def matches(kqlite: str, rule: Path, evtx: Path, rule_id: str):
    """How many findings kqlite's hunt of EVTX with RULE makes for RULE_ID, or an error text."""
    out = subprocess.run([kqlite, "hunt", str(evtx), "--rules", str(rule), "--lookback", "36500d",
                          "--format", "jsonl"], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        return None, out.stderr.strip()[-500:]
    n = sum(1 for line in out.stdout.splitlines() if json.loads(line).get("rule_id", "").lower() == rule_id)
    return n, None


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kqlite", default=default_kqlite())
    ap.add_argument("--sigma", type=Path, default=SHARED / "sigma")
    ap.add_argument("-v", action="store_true", help="print every test, not only failures")
    ap.add_argument("--min-percent", type=float, default=99.0)
    a = ap.parse_args()
    if not (a.sigma / "regression_data").is_dir():
        sys.exit(f"no regression data at {a.sigma} (set KQLITE_SHARED or --sigma)")

    by_id = rules_by_id(a.sigma)
    results = []
    for where, ids, evtx, match_count in tests(a.sigma):
        need = match_count or 1
        outcome = []
        for rid in ids:
            rule = by_id.get(rid)
            if rule is None:
                outcome.append((rid, None, "no rule with this id"))
                continue
            n, error = matches(a.kqlite, rule, evtx, rid)
            outcome.append((rid, n, error))
        passed = bool(outcome) and all(n is not None and n >= need for _, n, _ in outcome)
        exact = match_count is None or all(n == match_count for _, n, _ in outcome)
        results.append((passed, exact))
        if a.v or not passed:
            detail = "; ".join(f"{rid}: {n if n is not None else 'error'} (need {need})" + (f" {e}" if e else "")
                               for rid, n, e in outcome)
            print(f"{'PASS' if passed else 'FAIL'} {where}: {detail}")
    npass = sum(p for p, _ in results)
    nexact = sum(p and e for p, e in results)
    share = 100.0 * npass / max(1, len(results))
    print(f"regression: {npass}/{len(results)} passed (>= match_count) = {share:.1f}%; "
          f"{nexact}/{len(results)} also the exact count")
    return 0 if share >= a.min_percent else 1


if __name__ == "__main__":
    sys.exit(main())
