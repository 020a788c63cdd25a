#!/usr/bin/env python3
"""A hunt with the whole SigmaHQ Windows rule set plus the built-in pack,
against `evtx_dump -o jsonl` on the same EVTX files, in the same run.

The evidence is the EVTX corpus of `bench/evtx_bench.py`, built outside
the repo unless it is there already: `--corpus samples` (the default: about
1 GiB of real EVTX from the shared attack samples, every copy with distinct
bytes) or `--corpus generated` (about 1 GiB of generated Security, Sysmon
and PowerShell EVTX). It times, in rounds (`--runs`, 3 by default), each
tool once a round, whole process against whole process:

  evtx_dump   `evtx_dump -t 1 -o jsonl FILE > /dev/null` for every file, as
              many processes at a time as CPUs (`xargs -P`)
  hunt        `kqlite hunt DIR --rules builtin --rules RULES... --format jsonl
              > /dev/null`: SigmaHQ's rules/windows, rules-emerging-threats
              and rules-threat-hunting/windows, and the built-in pack

and prints each round's times and ratios, then the median wall time, peak
RSS (of the process itself, from wait4), the ratio of medians to evtx_dump
and the median CPU seconds (user + system, all threads), and the hunt's own
summary (rules run, findings). Targets: hunt <= 1.5x evtx_dump, peak RSS
<= 1 GiB.

    CARGO_TARGET_DIR=/work/target-release cargo build --release --workspace
    CARGO_TARGET_DIR=/work/target-release cargo build --release --workspace --examples
    python3 bench/sigma_bench.py [--corpus samples|generated] [--runs 3]
"""

import argparse
import os
import shutil
import statistics
import sys

# Timing a whole process (wall, peak RSS, CPU) and finding the EVTX files are
# evtx_bench's: this script sits beside it.
from evtx_bench import add_corpus_arguments, prepare_corpus, print_results, run, run_evtx_dump

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGMA = os.path.join(os.path.dirname(ROOT), "shared", "sigma")
RULE_SETS = ["rules/windows", "rules-emerging-threats", "rules-threat-hunting/windows"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(p)
    p.add_argument("--sigma", default=SIGMA, help="a SigmaHQ checkout (rules/, rules-emerging-threats/, ...)")
    p.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", "/work/target-release"))
    p.add_argument("--evtx-dump", default=shutil.which("evtx_dump") or os.path.expanduser("~/.cargo/bin/evtx_dump"))
    p.add_argument("--runs", type=int, default=3, help="rounds of both tools, interleaved; medians are compared")
    args = p.parse_args()

    kqlite = os.path.join(args.target, "release", "kqlite")
    for tool in (kqlite, args.evtx_dump):
        if not os.path.isfile(tool):
            sys.exit(f"missing {tool}: build it (see the docstring) or install evtx (cargo install evtx)")
    rule_dirs = [os.path.join(args.sigma, r) for r in RULE_SETS]
    for d in rule_dirs:
        if not os.path.isdir(d):
            sys.exit(f"missing {d}: pass --sigma, a SigmaHQ checkout")

    files, size, file_list = prepare_corpus(args, args.target)

    hunt = [kqlite, "hunt", args.dir, "--rules", "builtin"]
    for d in rule_dirs:
        hunt += ["--rules", d]
    hunt += ["--format", "jsonl"]
    print("hunt: " + " ".join(hunt))

    base_name, hunt_name = "evtx_dump -o jsonl (per file)", "kqlite hunt (SigmaHQ + pack)"
    results = {}
    # Rounds interleave the tools, so each round is a comparison in the same
    # conditions; a shared VM's speed drifts by tens of percent over minutes.
    for round_number in range(args.runs):
        total, peak, _, _, total_cpu = run_evtx_dump(args.evtx_dump, file_list)
        results.setdefault(base_name, []).append((total, peak, total_cpu))

        wall, rss, rc, err, cpu = run(hunt)
        # hunt exits 1 with findings, 2 without findings but with a rule
        # failed, 3 with both: all are a finished hunt.
        if rc not in (0, 1, 2, 3):
            sys.exit(f"kqlite hunt failed ({rc}): {err}")
        if round_number == 0:
            print(f"hunt exit status {rc}:\n" + "\n".join("  " + l for l in err.strip().splitlines()[-12:]))
        results.setdefault(hunt_name, []).append((wall, rss, cpu))

    print_results(results, base_name, size, args.runs)
    base_median = statistics.median(w for w, _, _ in results[base_name])
    hunt_runs = results[hunt_name]
    ratio = statistics.median(w for w, _, _ in hunt_runs) / base_median
    peak = max(r for _, r, _ in hunt_runs)
    print(f"\ntargets: time {ratio:.2f}x (<= 1.5x: {'met' if ratio <= 1.5 else 'missed'}), "
          f"peak RSS {peak / 2**20:.0f} MiB (<= 1024: {'met' if peak <= 2**30 else 'missed'})")


if __name__ == "__main__":
    main()
