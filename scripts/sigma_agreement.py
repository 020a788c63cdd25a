#!/usr/bin/env python3
"""Agreement between kqlite's Sigma matches and an independent evaluator's.

../shared/tools/sigma-oracle evaluates SigmaHQ's Windows rules over
../shared/datasets/evtx-attack-samples with pySigma and SQLite and prints one
JSON line per (rule, file, EventRecordID) match. This script hunts the same
files with the same rules in kqlite (one `kqlite hunt`), attributes each
finding to the EVTX files holding its event (by Computer, Channel,
EventRecordID and time, read per file with `kqlite query`), and prints the
Jaccard index of the two sets of (rule, file, EventRecordID) and every
difference, grouped by rule.

  python3 scripts/sigma_agreement.py [--kqlite BIN] [--oracle-matches FILE]
        [--differences FILE] [--min-jaccard 0.99] [--sigma-mapping FILE]

Without --oracle-matches the evaluator runs first (its venv comes from its
setup.sh). Exit status 1 when the Jaccard index is under --min-jaccard.
"""
import argparse
import collections
import json
import os
import subprocess
import sys
from pathlib import Path

from kqlite_paths import SHARED, default_kqlite

RULE_DIRS = ["rules", "rules-emerging-threats", "rules-threat-hunting"]
KEY_QUERY = (
    "union SecurityEvent, WindowsEvent "
    "| project Computer, Channel, EventRecordId, TimeGenerated = tostring(TimeGenerated)"
)


def oracle_matches(args):
    if args.oracle_matches:
        path = args.oracle_matches
    else:
        tool = SHARED / "tools/sigma-oracle"
        python = subprocess.run([str(tool / "setup.sh")], capture_output=True, text=True, check=True).stdout.strip()
        path = Path(os.environ.get("TMPDIR", "/tmp")) / "sigma-oracle-matches.jsonl"
        rules = [str(SHARED / "sigma" / d) for d in RULE_DIRS]
        subprocess.run([python, str(tool / "evaluate.py"), *rules, "--evtx", str(args.evtx), "--out", str(path),
                        "--jobs", "2"], check=True)
    matches = set()
    titles = {}
    for line in Path(path).read_text().splitlines():
        m = json.loads(line)
        rule = (m["rule_id"] or "").lower()
        titles[rule] = m.get("rule_title", "")
        matches.add((rule, os.path.relpath(m["file"], args.evtx), int(m["EventRecordID"])))
    return matches, titles


def canonical_time(text):
    """An ISO time with its fraction's trailing zeros dropped: findings and
    query results print the same instant with different digits."""
    if "." not in text:
        return text
    head, fraction = text.rstrip("Z").split(".", 1)
    fraction = fraction.rstrip("0")
    return f"{head}.{fraction}Z" if fraction else f"{head}Z"


def event_files(args, files):
    """(Computer, Channel, EventRecordId, time) -> the files holding that event."""
    index = collections.defaultdict(set)
    for f in files:
        out = subprocess.run([args.kqlite, "query", "--format", "jsonl", KEY_QUERY, str(f)],
                             capture_output=True, text=True)
        if out.returncode != 0:
            sys.exit(f"kqlite query failed on {f}: {out.stderr[-1000:]}")
        rel = os.path.relpath(f, args.evtx)
        for line in out.stdout.splitlines():
            r = json.loads(line)
            index[(r["Computer"], r["Channel"], str(r["EventRecordId"]), canonical_time(r["TimeGenerated"]))].add(rel)
    return index


def kqlite_matches(args, index):
    rules = []
    for d in RULE_DIRS:
        rules += ["--rules", str(SHARED / "sigma" / d)]
    if args.sigma_mapping:
        rules += ["--sigma-mapping", str(args.sigma_mapping)]
    out = subprocess.run([args.kqlite, "hunt", str(args.evtx), *rules, "--lookback", "36500d",
                          "--format", "jsonl"], capture_output=True, text=True)
    if out.returncode not in (0, 1, 3):
        sys.exit(f"kqlite hunt failed ({out.returncode}): {out.stderr[-3000:]}")
    matches = set()
    unattributed = 0
    for line in out.stdout.splitlines():
        f = json.loads(line)
        d = f.get("details", {})
        key = (d.get("Computer", ""), d.get("Channel", ""), str(d.get("EventRecordId", "")), canonical_time(f.get("first_seen") or ""))
        holders = index.get(key)
        if not holders:
            unattributed += 1
            continue
        for rel in holders:
            matches.add((f["rule_id"].lower(), rel, int(key[2])))
    return matches, unattributed, out.stderr


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--kqlite", default=default_kqlite())
    ap.add_argument("--evtx", type=Path, default=SHARED / "datasets/evtx-attack-samples")
    ap.add_argument("--oracle-matches", type=Path, help="the evaluator's output, if already run")
    ap.add_argument("--differences", type=Path, help="write the differences here (default: stdout)")
    ap.add_argument("--min-jaccard", type=float, default=0.99)
    ap.add_argument("--sigma-mapping", type=Path,
                    help="a logsource mapping file for kqlite instead of the built-in one, e.g. to measure "
                         "agreement under the evaluator's own mapping")
    a = ap.parse_args()
    if not a.evtx.is_dir():
        sys.exit(f"no EVTX samples at {a.evtx} (set KQLITE_SHARED)")

    theirs, titles = oracle_matches(a)
    files = sorted(a.evtx.rglob("*.evtx"))
    index = event_files(a, files)
    ours, unattributed, hunt_log = kqlite_matches(a, index)

    both = theirs & ours
    union = theirs | ours
    jaccard = len(both) / max(1, len(union))
    pairs = lambda s: {(r, f) for r, f, _ in s}  # noqa: E731
    print(f"oracle: {len(theirs)} matches, {len(pairs(theirs))} (rule, file) pairs; "
          f"kqlite: {len(ours)} matches, {len(pairs(ours))} pairs; {unattributed} findings not attributed to a file")
    print(f"agreement: {len(both)} in both, {len(theirs - ours)} only oracle, {len(ours - theirs)} only kqlite; "
          f"Jaccard {jaccard:.4f}")

    by_rule = collections.defaultdict(lambda: [[], []])
    for r, f, rid in sorted(theirs - ours):
        by_rule[r][0].append(f"{f}#{rid}")
    for r, f, rid in sorted(ours - theirs):
        by_rule[r][1].append(f"{f}#{rid}")
    lines = []
    for rule, (only_oracle, only_kqlite) in sorted(by_rule.items(), key=lambda kv: -len(kv[1][0]) - len(kv[1][1])):
        lines.append(f"{rule} {titles.get(rule, '')}: {len(only_oracle)} only oracle, {len(only_kqlite)} only kqlite")
        lines += [f"    oracle only: {x}" for x in only_oracle[:10]]
        lines += [f"    kqlite only: {x}" for x in only_kqlite[:10]]
    text = "\n".join(lines) + ("\n" if lines else "")
    if a.differences:
        a.differences.write_text(text)
        print(f"differences by rule written to {a.differences}")
    else:
        sys.stdout.write(text)
    return 0 if jaccard >= a.min_jaccard else 1


if __name__ == "__main__":
    sys.exit(main())
