#!/usr/bin/env python3
"""A hunt with the whole SigmaHQ Windows rule set plus the built-in pack,
against `evtx_dump -o jsonl` on the same EVTX files, in the same run.

Generates about 1 GiB of realistic EVTX (Security, Sysmon, PowerShell; see
`crates/kqlite-ingest/examples/gen_evtx.rs`) into a directory outside the
repo unless it is there already, then times, in rounds (`--runs`, 3 by
default), each tool once a round, whole process against whole process:

  evtx_dump   `evtx_dump -o jsonl FILE > /dev/null` for every file, one
              after the other (each with its default threading)
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
    python3 bench/sigma_bench.py [--dir /work/evtx-bench] [--mb 1100] [--runs 3]
"""

import argparse
import os
import shutil
import statistics
import sys

# Timing a whole process (wall, peak RSS, CPU) and finding the EVTX files are
# evtx_bench's: this script sits beside it.
from evtx_bench import evtx_files, run

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SIGMA = os.path.join(os.path.dirname(ROOT), "shared", "sigma")
RULE_SETS = ["rules/windows", "rules-emerging-threats", "rules-threat-hunting/windows"]


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--dir", default="/work/evtx-bench", help="where the generated EVTX files go (outside the repo)")
    p.add_argument("--mb", type=int, default=1100, help="MiB of EVTX to generate")
    p.add_argument("--files", type=int, default=64)
    p.add_argument("--sigma", default=SIGMA, help="a SigmaHQ checkout (rules/, rules-emerging-threats/, ...)")
    p.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", "/work/target-release"))
    p.add_argument("--evtx-dump", default=shutil.which("evtx_dump") or os.path.expanduser("~/.cargo/bin/evtx_dump"))
    p.add_argument("--runs", type=int, default=3, help="rounds of both tools, interleaved; medians are compared")
    args = p.parse_args()

    kqlite = os.path.join(args.target, "release", "kqlite")
    gen = os.path.join(args.target, "release", "examples", "gen_evtx")
    for tool in (kqlite, gen, args.evtx_dump):
        if not os.path.isfile(tool):
            sys.exit(f"missing {tool}: build it (see the docstring) or install evtx (cargo install evtx)")
    rule_dirs = [os.path.join(args.sigma, r) for r in RULE_SETS]
    for d in rule_dirs:
        if not os.path.isdir(d):
            sys.exit(f"missing {d}: pass --sigma, a SigmaHQ checkout")

    files = evtx_files(args.dir) if os.path.isdir(args.dir) else []
    size = sum(os.path.getsize(f) for f in files)
    if size < args.mb * 1024 * 1024 * 0.95:
        shutil.rmtree(args.dir, ignore_errors=True)
        wall, _, rc, err, _ = run([gen, args.dir, str(args.mb), str(args.files)], stdout=None)
        if rc != 0:
            sys.exit(f"gen_evtx failed ({rc}): {err}")
        print(f"generated in {wall:.1f} s")
        files = evtx_files(args.dir)
        size = sum(os.path.getsize(f) for f in files)
    print(f"input: {len(files)} EVTX files, {size / 2**30:.2f} GiB in {args.dir}; {os.cpu_count()} CPUs")

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
        total, peak, total_cpu = 0.0, 0, 0.0
        for f in files:
            wall, rss, rc, err, cpu = run([args.evtx_dump, "-o", "jsonl", f])
            if rc != 0:
                sys.exit(f"evtx_dump failed on {f} ({rc}): {err}")
            total += wall
            peak = max(peak, rss)
            total_cpu += cpu
        results.setdefault(base_name, []).append((total, peak, total_cpu))

        wall, rss, rc, err, cpu = run(hunt)
        # hunt exits 1 with findings, 2 without findings but with a rule
        # failed, 3 with both: all are a finished hunt.
        if rc not in (0, 1, 2, 3):
            sys.exit(f"kqlite hunt failed ({rc}): {err}")
        if round_number == 0:
            print(f"hunt exit status {rc}:\n" + "\n".join("  " + l for l in err.strip().splitlines()[-12:]))
        results.setdefault(hunt_name, []).append((wall, rss, cpu))

    base = results[base_name]
    if args.runs > 1:
        print("\nround by round (wall s, and the ratio to evtx_dump in the same round):")
        for name, runs in results.items():
            cells = [f"{w:.2f}" + (f" ({w / base[i][0]:.2f}x)" if name != base_name else "") for i, (w, _, _) in enumerate(runs)]
            print(f"  {name:32} " + "  ".join(cells))
    print(f"\n{'command':32} {'median s':>9} {'MiB/s':>8} {'peak RSS MiB':>13} {'vs evtx_dump':>13} {'CPU s':>7}")
    base_median = statistics.median(w for w, _, _ in base)
    for name, runs in results.items():
        wall = statistics.median(w for w, _, _ in runs)
        rss = max(r for _, r, _ in runs)
        cpu = statistics.median(c for _, _, c in runs)
        print(f"{name:32} {wall:9.2f} {size / 2**20 / wall:8.1f} {rss / 2**20:13.0f} {wall / base_median:12.2f}x {cpu:7.2f}")
    hunt_runs = results[hunt_name]
    ratio = statistics.median(w for w, _, _ in hunt_runs) / base_median
    peak = max(r for _, r, _ in hunt_runs)
    print(f"\ntargets: time {ratio:.2f}x (<= 1.5x: {'met' if ratio <= 1.5 else 'missed'}), "
          f"peak RSS {peak / 2**20:.0f} MiB (<= 1024: {'met' if peak <= 2**30 else 'missed'})")


if __name__ == "__main__":
    main()
