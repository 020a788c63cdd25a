#!/usr/bin/env python3
"""Load on `kqlite serve`: CLIENTS concurrent clients each send QUERIES
queries to /v2/rest/query, mixing the T1021 rule
(rules/T1021-remote-services.kql) over the demo's store with small queries.

    cargo build --release --workspace
    python3 bench/server_load.py [--kqlite target/release/kqlite] [--clients 16] [--queries 200]

Generates the demo (`kqlite demo --out`), ingests it into a store, serves
it as database `demo` with --now latest on a free loopback port, then runs
the load. Prints errors (the target is 0), p50/p95/p99/max latency per
kind of query, throughput, and the server's resident memory before and
after the load and at its peak (VmHWM), so growth under load shows.

A debug build (a path under target/debug) is labelled as such in the
output: its latencies are several times a release build's, so they are
not the numbers to report as the server's speed.
"""
import argparse
import json
import os
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SMALL_QUERIES = [
    "SecurityEvent | count",
    "SecurityEvent | summarize n = count() by EventID | top 5 by n",
    "SecurityEvent | where EventID == 4624 | take 20",
    "print now(), ago(1d), dynamic({'a': 1})",
    "SecurityEvent | where LogonType == 10 | summarize dcount(Account) by Computer | take 10",
]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def memory_kib(pid, field):
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return 0


def post(url, db, query):
    body = json.dumps({"db": db, "csl": query, "properties": json.dumps({"Options": {"servertimeout": "00:04:00"}})})
    request = urllib.request.Request(f"{url}/v2/rest/query", data=body.encode(), headers={"Content-Type": "application/json"})
    started = time.perf_counter()
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            frames = json.loads(response.read())
            ok = any(f.get("TableKind") == "PrimaryResult" for f in frames) and not frames[-1].get("HasErrors")
            error = None if ok else "no primary result or HasErrors"
    except urllib.error.HTTPError as e:
        error = f"HTTP {e.code}: {e.read()[:300]!r}"
    except Exception as e:  # connection errors count as errors too
        error = repr(e)
    return time.perf_counter() - started, error


def percentile(values, p):
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(round(p / 100 * (len(ordered) - 1))))]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kqlite", default=str(ROOT / "target/release/kqlite"))
    parser.add_argument("--clients", type=int, default=16)
    parser.add_argument("--queries", type=int, default=200, help="per client")
    parser.add_argument("--rule-every", type=int, default=10, help="every Nth query of a client is the T1021 rule")
    parser.add_argument("--max-concurrent", type=int, default=0, help="the server's --max-concurrent (0: its default)")
    parser.add_argument("--server-log", help="keep the server's access log here")
    args = parser.parse_args()
    build = "DEBUG build" if "/debug/" in str(Path(args.kqlite).resolve()) else "release build"
    print(f"kqlite serve load run: {args.clients} clients x {args.queries} queries, {build} ({args.kqlite})")
    if build == "DEBUG build":
        print("  NOTE: a debug build is several times slower than release: latencies here are not release numbers")
    rule = (ROOT / "rules/T1021-remote-services.kql").read_text()
    with tempfile.TemporaryDirectory() as work:
        work = Path(work)
        subprocess.run([args.kqlite, "demo", "--out", str(work / "demo"), "--format", "json"], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        subprocess.run([args.kqlite, "ingest", "--store", str(work / "store"), str(work / "demo")], check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        port = free_port()
        command = [args.kqlite, "serve", "--bind", f"127.0.0.1:{port}", "--store", f"demo={work / 'store'}",
                   "--now", "latest", "--max-queued", str(args.clients * 2)]
        if args.max_concurrent:
            command += ["--max-concurrent", str(args.max_concurrent)]
        log = open(work / "serve.log", "w")
        server = subprocess.Popen(command, stderr=subprocess.PIPE, text=True)
        url = None
        for line in server.stderr:
            if "listening on " in line:
                url = line.split("listening on ")[1].split()[0]
                break
        if url is None:
            sys.exit("the server did not start")
        # Drain the access log so the server never blocks on a full pipe.
        threading.Thread(target=lambda: [log.write(l) for l in server.stderr], daemon=True).start()
        try:
            warm, error = post(url, "demo", rule)
            if error:
                sys.exit(f"the T1021 rule failed: {error}")
            rss_before = memory_kib(server.pid, "VmRSS")

            def client(index):
                timings = []
                for i in range(args.queries):
                    is_rule = i % args.rule_every == index % args.rule_every
                    query = rule if is_rule else SMALL_QUERIES[(index + i) % len(SMALL_QUERIES)]
                    elapsed, error = post(url, "demo", query)
                    timings.append(("rule" if is_rule else "small", elapsed, error))
                return timings

            # RSS sampled through the load: a plateau is the allocator keeping
            # freed pages; a steady climb would be a leak.
            samples, loading = [], threading.Event()
            loading.set()

            def sample_rss():
                while loading.is_set():
                    samples.append((time.perf_counter(), memory_kib(server.pid, "VmRSS")))
                    time.sleep(0.5)

            sampler = threading.Thread(target=sample_rss, daemon=True)
            started = time.perf_counter()
            sampler.start()
            with ThreadPoolExecutor(args.clients) as pool:
                results = [t for timings in pool.map(client, range(args.clients)) for t in timings]
            wall = time.perf_counter() - started
            loading.clear()
            sampler.join()
            rss_after = memory_kib(server.pid, "VmRSS")
            peak = memory_kib(server.pid, "VmHWM")
        finally:
            server.send_signal(2)
            server.wait(timeout=30)
            log.close()
            if args.server_log:
                Path(args.server_log).write_text((work / "serve.log").read_text())
    errors = [e for _, _, e in results if e]
    print(f"{len(results)} queries from {args.clients} clients in {wall:.1f} s ({len(results) / wall:.1f} queries/s); "
          f"{len(errors)} errors")
    for error in errors[:5]:
        print(f"  error: {error}")
    print(f"first T1021 run (cold): {warm * 1000:.0f} ms")
    for kind in ("rule", "small", None):
        times = [t for k, t, e in results if (kind is None or k == kind) and not e]
        if times:
            print(f"{kind or 'all':>5}: n={len(times)} p50={statistics.median(times) * 1000:.0f} ms "
                  f"p95={percentile(times, 95) * 1000:.0f} ms p99={percentile(times, 99) * 1000:.0f} ms "
                  f"max={max(times) * 1000:.0f} ms")
    print(f"server RSS: {rss_before // 1024} MiB before the load, {rss_after // 1024} MiB after, "
          f"peak {peak // 1024} MiB")
    if samples:
        quarters = [max((kib for t, kib in samples if t - started <= wall * q / 4), default=0) for q in (1, 2, 3, 4)]
        print("server RSS, highest by each quarter of the load: " + ", ".join(f"{kib // 1024} MiB" for kib in quarters))
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
