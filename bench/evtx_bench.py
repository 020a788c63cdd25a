#!/usr/bin/env python3
"""EVTX loading speed and memory: kqlite against the `evtx` crate's CLI.

The input (`--corpus`), in a directory outside the repo:
  samples     (default) about 1 GiB of real EVTX built from the shared attack
              samples by `bench/evtx_samples_corpus.py`: 758 files, each a
              sample's copies with distinct bytes (../shared must exist);
  generated   about 1 GiB of realistic generated EVTX (Security
              4624/4625/4672/4688, Sysmon 1/3/11, PowerShell 4104; one
              channel per file, 64 files) from
              `crates/kqlite-ingest/examples/gen_evtx.rs`.
Then it times, in the same run and on the same files:

  evtx_dump   `evtx_dump -t 1 -o jsonl FILE > /dev/null` for every file, as
              many processes at a time as there are CPUs (`xargs -P`)
  ingest      `kqlite ingest DIR --store STORE -q` (a fresh store)
  read        `kqlite ingest DIR -q`: the same reading, no store written
              (no Parquet, no content hash), to tell reading from writing
  hunt        `kqlite hunt DIR --format json > /dev/null`, when `hunt` exists

in rounds (`--runs`, 3 by default), each tool once a round, and prints each
round's times and ratios, then the median wall time, peak RSS (of the
process itself, from wait4), the ratio of medians to evtx_dump and the
median CPU seconds (user + system, all threads).
Targets (issue 17): ingest <= 1.5x evtx_dump with peak RSS <= 1 GiB; the
hunt no slower than before.

    CARGO_TARGET_DIR=/work/target-release cargo build --release -p kqlite-cli
    CARGO_TARGET_DIR=/work/target-release cargo build --release -p kqlite-ingest --example gen_evtx
    python3 bench/evtx_bench.py [--corpus samples|generated] [--dir DIR] [--runs 3] [--skip read]
"""

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run(argv, stdout=subprocess.DEVNULL, stdin=None):
    """Runs argv; returns (wall seconds, peak RSS bytes, exit status, stderr
    tail, CPU seconds: user + system of all its threads and of the children
    it waited for)."""
    start = time.monotonic()
    proc = subprocess.Popen(argv, stdout=stdout, stderr=subprocess.PIPE, stdin=stdin)
    # Read stderr in full so the child never blocks on it, then reap with wait4 for its own rusage.
    err = proc.stderr.read()
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    wall = time.monotonic() - start
    cpu = usage.ru_utime + usage.ru_stime
    return wall, usage.ru_maxrss * 1024, proc.returncode, err.decode(errors="replace")[-2000:], cpu


def evtx_files(directory):
    out = []
    for d, _, names in os.walk(directory):
        out.extend(os.path.join(d, n) for n in names if n.lower().endswith(".evtx"))
    return sorted(out)


def add_corpus_arguments(p):
    """The options that choose and place the EVTX input."""
    p.add_argument("--corpus", choices=["samples", "generated"], default="samples",
                   help="real EVTX built from the shared samples, or generated EVTX")
    p.add_argument("--dir", help="where the EVTX files go (outside the repo; default /work/evtx-samples or "
                   "/work/evtx-bench)")
    p.add_argument("--mb", type=int, default=1100, help="MiB of EVTX to generate (--corpus generated)")
    p.add_argument("--files", type=int, default=64, help="files to generate (--corpus generated)")


def prepare_corpus(args, target):
    """Builds the corpus args chose unless it is there; returns (files,
    bytes, path of a NUL-separated list of the files)."""
    if args.dir is None:
        args.dir = "/work/evtx-samples" if args.corpus == "samples" else "/work/evtx-bench"
    files = evtx_files(args.dir) if os.path.isdir(args.dir) else []
    size = sum(os.path.getsize(f) for f in files)
    if args.corpus == "samples" and size < 2**30:
        shutil.rmtree(args.dir, ignore_errors=True)
        build = [sys.executable, os.path.join(ROOT, "bench", "evtx_samples_corpus.py"), args.dir]
        wall, _, rc, err, _ = run(build, stdout=None)
        if rc != 0:
            sys.exit(f"evtx_samples_corpus.py failed ({rc}): {err}")
    elif args.corpus == "generated" and size < args.mb * 1024 * 1024 * 0.95:
        gen = os.path.join(target, "release", "examples", "gen_evtx")
        if not os.path.isfile(gen):
            sys.exit(f"missing {gen}: cargo build --release --workspace --examples")
        shutil.rmtree(args.dir, ignore_errors=True)
        wall, rss, rc, err, _ = run([gen, args.dir, str(args.mb), str(args.files)], stdout=None)
        if rc != 0:
            sys.exit(f"gen_evtx failed ({rc}): {err}")
        print(f"generated in {wall:.1f} s")
    files = evtx_files(args.dir)
    size = sum(os.path.getsize(f) for f in files)
    print(f"input: {len(files)} EVTX files, {size / 2**30:.2f} GiB in {args.dir}; {os.cpu_count()} CPUs")
    file_list = os.path.join(args.dir.rstrip("/") + "-files.txt")
    with open(file_list, "wb") as listing:
        listing.write(b"\0".join(os.fsencode(f) for f in files))
    return files, size, file_list


def run_evtx_dump(evtx_dump, file_list):
    """`evtx_dump -t 1 -o jsonl FILE > /dev/null` for every file, one
    single-threaded process a file, as many at a time as CPUs, started by
    xargs (the leanest launcher): its fastest way through many files (its
    own threads split one file's chunks, and most files here are small).
    wait4 on xargs counts the CPU and the peak RSS of the processes it
    waited for. Returns run()'s tuple; exits if it failed."""
    with open(file_list, "rb") as listing:
        result = run(["xargs", "-0", "-P", str(os.cpu_count()), "-n", "1", evtx_dump, "-t", "1", "-o", "jsonl"],
                     stdin=listing)
    if result[2] != 0:
        sys.exit(f"evtx_dump failed ({result[2]}): {result[3]}")
    return result


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    add_corpus_arguments(p)
    p.add_argument("--target", default=os.environ.get("CARGO_TARGET_DIR", "/work/target-release"))
    p.add_argument("--evtx-dump", default=shutil.which("evtx_dump") or os.path.expanduser("~/.cargo/bin/evtx_dump"))
    p.add_argument("--skip", action="append", default=[], help="evtx_dump, ingest, read or hunt")
    p.add_argument("--runs", type=int, default=3, help="rounds of every tool, interleaved; medians are compared")
    args = p.parse_args()

    kqlite = os.path.join(args.target, "release", "kqlite")
    for tool in (kqlite, args.evtx_dump):
        if not os.path.isfile(tool):
            sys.exit(f"missing {tool}: build it (see the docstring) or install evtx (cargo install evtx)")
    files, size, file_list = prepare_corpus(args, args.target)
    results = {}
    has_hunt = subprocess.run([kqlite, "hunt", "--help"], capture_output=True).returncode == 0
    # Rounds interleave the tools, so each round is a comparison in the same
    # conditions; a shared VM's speed drifts by tens of percent over minutes.
    for round_number in range(args.runs):
        if "evtx_dump" not in args.skip:
            total, peak, _, _, total_cpu = run_evtx_dump(args.evtx_dump, file_list)
            results.setdefault("evtx_dump -o jsonl (per file)", []).append((total, peak, total_cpu))

        if "ingest" not in args.skip:
            store = args.dir.rstrip("/") + "-store"
            shutil.rmtree(store, ignore_errors=True)
            wall, rss, rc, err, cpu = run([kqlite, "ingest", args.dir, "--store", store, "-q"])
            if rc != 0:
                sys.exit(f"kqlite ingest failed ({rc}): {err}")
            if round_number == 0:
                stored = sum(os.path.getsize(os.path.join(d, n)) for d, _, names in os.walk(store) for n in names)
                parts = sum(n.endswith(".parquet") for _, _, names in os.walk(store) for n in names)
                print(f"store: {stored / 2**20:.1f} MiB in {parts} parts")
            results.setdefault("kqlite ingest --store", []).append((wall, rss, cpu))

        if "read" not in args.skip:
            # The same reading without the store (no Parquet, no content hash):
            # what writing the store costs is the difference.
            wall, rss, rc, err, cpu = run([kqlite, "ingest", args.dir, "-q"])
            if rc != 0:
                sys.exit(f"kqlite ingest (no store) failed ({rc}): {err}")
            results.setdefault("kqlite ingest (read only)", []).append((wall, rss, cpu))

        if "hunt" not in args.skip and has_hunt:
            wall, rss, rc, err, cpu = run([kqlite, "hunt", args.dir, "--format", "json"])
            # hunt exits 1 when it has findings and 2 when a rule failed to run.
            if rc not in (0, 1, 2):
                sys.exit(f"kqlite hunt failed ({rc}): {err}")
            if round_number == 0:
                print(f"hunt exit status {rc}: {err.strip()[-400:]}")
            results.setdefault("kqlite hunt --format json", []).append((wall, rss, cpu))

    print_results(results, "evtx_dump -o jsonl (per file)", size, args.runs)


def print_results(results, base_name, size, rounds):
    """Every round's wall times with the ratio to the baseline in the same
    round, then the medians, peak RSS, ratios of medians and CPU."""
    base = results.get(base_name)
    if rounds > 1:
        print(f"\nround by round (wall s, and the ratio to evtx_dump in the same round):")
        for name, runs in results.items():
            cells = [f"{w:.2f}" + (f" ({w / base[i][0]:.2f}x)" if base and name != base_name else "") for i, (w, _, _) in enumerate(runs)]
            print(f"  {name:32} " + "  ".join(cells))
    print(f"\n{'command':32} {'median s':>9} {'MiB/s':>8} {'peak RSS MiB':>13} {'vs evtx_dump':>13} {'CPU s':>6}")
    for name, runs in results.items():
        wall = statistics.median(w for w, _, _ in runs)
        rss = max(r for _, r, _ in runs)
        cpu = statistics.median(c for _, _, c in runs)
        ratio = "-"
        if base:
            ratio = f"{wall / statistics.median(w for w, _, _ in base):.2f}x"
        print(f"{name:32} {wall:9.2f} {size / 2**20 / wall:8.1f} {rss / 2**20:13.0f} {ratio:>13} {cpu:6.2f}")


if __name__ == "__main__":
    main()
