#!/usr/bin/env python3
"""A hunt with many real Sentinel queries as rules, against `evtx_dump -o
jsonl` on the same EVTX files, in the same run (issue 17, "many rules, one
read").

The rules: every query of `../shared/corpus/sentinel-queries.jsonl` that
reads only SecurityEvent, WindowsEvent or Event (its `referenced_tables`,
and no parser or other source): 75 analytic rules and hunting queries. Each
is written, as it is, into a Sentinel analytic-rule YAML file of a rules
folder outside the repo (id, name, severity Medium, the query). The hunt
looks at all the evidence (`--lookback`, 3650d by default), the way a
responder hunts a pile of old EVTX.

The evidence: the EVTX corpus of `bench/evtx_bench.py` (`--corpus samples`,
the default: about 1 GiB of real EVTX built from the shared samples;
`--corpus generated`: generated EVTX).

In rounds (`--runs`, 3 by default), whole process against whole process:

  evtx_dump   as in evtx_bench.py: one `evtx_dump -t 1 -o jsonl FILE`
              process a file, as many at a time as CPUs
  hunt        `kqlite hunt DIR --rules RULES --lookback 3650d --format jsonl
              > /dev/null`

It prints each round, the medians, peak RSS, CPU and the hunt's summary.
Targets: hunt <= 2.0x evtx_dump, peak RSS <= 1 GiB.

    CARGO_TARGET_DIR=/work/target-release cargo build --release --workspace
    python3 bench/content_rules_bench.py [--corpus samples|generated] [--runs 3]
"""

import argparse
import json
import os
import shutil
import sys
import uuid

from evtx_bench import add_corpus_arguments, prepare_corpus, print_results, run, run_evtx_dump

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
CORPUS = os.path.join(os.path.dirname(ROOT), "shared", "corpus", "sentinel-queries.jsonl")
TABLES = {"SecurityEvent", "WindowsEvent", "Event"}


def write_rules(corpus, folder):
    """The corpus queries over TABLES only, as rule files in folder; returns
    how many."""
    shutil.rmtree(folder, ignore_errors=True)
    os.makedirs(folder)
    count = 0
    seen = set()
    with open(corpus) as lines:
        for line in lines:
            q = json.loads(line)
            tables = set(q.get("referenced_tables") or [])
            if not tables or not tables <= TABLES or q.get("other_sources"):
                continue
            # A few files share an id (a rule copied into a solution): a rule
            # id must be unique in a rules folder, so later ones get one from
            # their path.
            rule_id = q["id"] if q["id"] not in seen else str(uuid.uuid5(uuid.NAMESPACE_URL, q["path"]))
            seen.add(rule_id)
            rule = {
                "id": rule_id,
                "name": q["name"],
                "description": f"{q['kind']} query from {q['path']}",
                "severity": "Medium",
                "kind": "Scheduled",
                "queryFrequency": "1d",
                "queryPeriod": "1d",
                "triggerOperator": "gt",
                "triggerThreshold": 0,
                "query": q["query"],
            }
            # JSON is YAML: the query's text goes through unchanged.
            with open(os.path.join(folder, f"{count:03d}-{rule_id}.yaml"), "w") as f:
                json.dump(rule, f, indent=2)
            count += 1
    return count


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(p)
    p.add_argument("--corpus-queries", default=CORPUS, help="the Sentinel query corpus (JSON lines)")
    p.add_argument("--rules-dir", default="/work/content-rules", help="where the rule files go (outside the repo)")
    p.add_argument("--lookback", default="3650d")
    p.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", "/work/target-release"))
    p.add_argument("--evtx-dump", default=shutil.which("evtx_dump") or os.path.expanduser("~/.cargo/bin/evtx_dump"))
    p.add_argument("--runs", type=int, default=3, help="rounds of both tools, interleaved; medians are compared")
    args = p.parse_args()

    kqlite = os.path.join(args.target, "release", "kqlite")
    for tool in (kqlite, args.evtx_dump):
        if not os.path.isfile(tool):
            sys.exit(f"missing {tool}: build it (see the docstring) or install evtx (cargo install evtx)")
    if not os.path.isfile(args.corpus_queries):
        sys.exit(f"{args.corpus_queries}: missing (the shared corpus)")
    rules = write_rules(args.corpus_queries, args.rules_dir)
    print(f"rules: {rules} corpus queries over {', '.join(sorted(TABLES))} in {args.rules_dir}")
    files, size, file_list = prepare_corpus(args, args.target)

    hunt = [kqlite, "hunt", args.dir, "--rules", args.rules_dir, "--lookback", args.lookback, "--format", "jsonl"]
    print("hunt: " + " ".join(hunt))
    base_name, hunt_name = "evtx_dump -o jsonl (per file)", "kqlite hunt (corpus rules)"
    results = {}
    # Rounds interleave the tools, so each round is a comparison in the same
    # conditions; a shared VM's speed drifts by tens of percent over minutes.
    for round_number in range(args.runs):
        total, peak, _, _, cpu = run_evtx_dump(args.evtx_dump, file_list)
        results.setdefault(base_name, []).append((total, peak, cpu))
        wall, rss, rc, err, cpu = run(hunt)
        # hunt exits 1 with findings, 2 without findings but with a rule
        # failed, 3 with both: all are a finished hunt.
        if rc not in (0, 1, 2, 3):
            sys.exit(f"kqlite hunt failed ({rc}): {err}")
        if round_number == 0:
            summary = [l for l in err.splitlines() if "rules ran" in l or "findings" in l or "failed" in l]
            print(f"hunt exit status {rc}:\n  " + "\n  ".join(summary[-8:]))
        results.setdefault(hunt_name, []).append((wall, rss, cpu))
    print_results(results, base_name, size, args.runs)


if __name__ == "__main__":
    main()
