#!/usr/bin/env python3
"""Runs the real Sentinel corpus end to end: every query, over a store that
holds a row in every table the queries (and the content's parsers) name, with
the content checkout's parser functions loaded (`--content`).

What counts (issue 14's acceptance):
  - eligible: queries Microsoft's parser accepts whose tables and functions
    all exist, in kqlite's catalog, in the content's parsers, or among
    kqlite's own functions (rules/functions/*.kql). Target: >= 97% of them
    run without error.
  - of those, the ones that call a parser function, and how many run.
Every failure is printed with its reason. Queries left out are counted by
why: Microsoft's parser rejects them; they name a table or function that
exists nowhere; or a parser they call reads a custom table (`SentinelOne_CL`)
that exists nowhere, which shows as kqlite's "unknown table" error for a name
checked here to be in neither the catalog nor the content.

The store: one JSON line per table with a `Type` column naming it, values
made from the catalog's column types (TimeGenerated an hour ago, so ago()
windows keep the row), loaded with `kqlite ingest --store`.

Names that exist: catalog tables are read from the generated
crates/kqlite-ingest/schemas/sentinel.tsv; content functions from the
checkout's files independently of kqlite's loader (YAML FunctionAlias,
ParserName and EquivalentBuiltInParser; a .txt/.kql/.csl parser's file stem),
so a function kqlite fails to load counts as a failure, not as absent.

Usage: python3 scripts/corpus_run.py [--kqlite PATH] [--content DIR] [--out DIR] [--jobs N]
Skips, saying why, when ../shared is absent.
"""
import argparse
import collections
import concurrent.futures
import datetime
import json
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from kqlite_paths import ROOT, SHARED, catalog_schema, default_kqlite, run_jsonl

VALUES = {
    "string": "x",
    "int": 1,
    "long": 1,
    "real": 1.5,
    "bool": True,
    "guid": "00000000-0000-0000-0000-000000000001",
    "dynamic": {},
    "timespan": "00:01:00",
}


def content_functions(content: Path):
    """Function name -> parser file text, read independently of kqlite."""
    functions = {}
    if not content.exists():
        return functions
    for path in content.rglob("*"):
        if not path.is_file():
            continue
        if "Parsers" not in path.parts:
            continue
        text = path.read_text(errors="replace")
        if path.suffix.lower() in (".yaml", ".yml"):
            for key in ("FunctionAlias", "ParserName", "EquivalentBuiltInParser"):
                for m in re.finditer(rf"^{key}:\s*['\"]?([A-Za-z_][A-Za-z0-9_]*)", text, re.M):
                    functions[m.group(1)] = text
        elif path.suffix.lower() in (".txt", ".kql", ".csl"):
            functions[path.stem] = text
    return functions


def own_functions(root: Path):
    names = set()
    for path in (root / "rules/functions").glob("*.kql"):
        names |= set(re.findall(r"^\s*let\s+([A-Za-z_][A-Za-z0-9_]*)\s*=\s*\(", path.read_text(), re.M))
    return names


def build_store(kqlite: str, tables, names, out: Path):
    now = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)
    stamp = now.strftime("%Y-%m-%dT%H:%M:%S.0000000Z")
    rows = out / "rows.jsonl"
    with open(rows, "w") as f:
        for table in sorted(names):
            row = {"Type": table}
            for column, ty in tables[table].items():
                if column == "Type":
                    continue
                row[column] = stamp if ty == "datetime" else VALUES.get(ty, "x")
            f.write(json.dumps(row) + "\n")
    store = out / "store"
    result = subprocess.run([kqlite, "ingest", "--store", str(store), str(rows)], capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"kqlite ingest failed ({result.returncode}): {result.stderr[-2000:]}")
    return store


def run_query(kqlite, store, content, path, timeout):
    command = [kqlite, "query", "--store", str(store), "--format", "json", "-f", str(path)]
    if content.exists():
        command[2:2] = ["--content", str(content)]
    try:
        result = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    except subprocess.TimeoutExpired:
        return False, f"timed out after {timeout} s"
    if result.returncode == 0:
        return True, ""
    # With --format json a failed query's error is a JSON object on stdout.
    try:
        message = json.loads(result.stdout)["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = result.stderr
    lines = [l.strip() for l in message.splitlines() if l.strip()]
    return False, " | ".join(lines[:3])[:400] or f"exit {result.returncode}"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kqlite", default=default_kqlite())
    parser.add_argument("--content", default=str(SHARED / "content/azure-sentinel"))
    parser.add_argument("--out", default=None)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 2)
    parser.add_argument("--timeout", type=int, default=120)
    parser.add_argument("--min-rate", type=float, default=None, help="exit 1 when the run rate is below this percentage")
    args = parser.parse_args()
    corpus = SHARED / "corpus/sentinel-queries.jsonl"
    oracle = SHARED / "tools/kusto-oracle/oracle"
    if not corpus.exists() or not oracle.exists():
        print("SKIP corpus run: ../shared not found (it holds the corpus and Microsoft's parser)")
        return 0
    content = Path(args.content)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="kqlite-run-"))
    out.mkdir(parents=True, exist_ok=True)

    queries = [json.loads(line) for line in corpus.read_text().splitlines() if line.strip()]
    batch = out / "queries.jsonl"
    batch.write_text("".join(json.dumps({"query": q["query"]}) + "\n" for q in queries))
    verdicts = run_jsonl([str(oracle), "--jsonl"], batch)
    assert len(verdicts) == len(queries)

    tables = catalog_schema()
    functions = content_functions(content)
    own = own_functions(ROOT)
    known = set(tables) | set(functions) | own | {"_GetWatchlist"}

    eligible, left_out = [], collections.Counter()
    for q, verdict in zip(queries, verdicts):
        if not verdict["ok"]:
            left_out["Microsoft's parser rejects it"] += 1
            continue
        names = set(q.get("referenced_tables") or []) | set(q.get("other_sources") or [])
        missing = sorted(n for n in names if n not in known and n != "query_parameters")
        if missing:
            left_out["names a table or function that exists nowhere"] += 1
            continue
        eligible.append(q)

    # A row in every catalog table the queries or the content's parsers name.
    text = "\n".join([q["query"] for q in eligible] + list(functions.values()))
    words = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))
    store = build_store(args.kqlite, tables, {t for t in tables if t in words}, out)

    def job(item):
        index, q = item
        path = out / f"q{index:04d}.kql"
        path.write_text(q["query"])
        return q, run_query(args.kqlite, store, content, path, args.timeout)

    results = []
    with concurrent.futures.ThreadPoolExecutor(max_workers=args.jobs) as pool:
        for done, (q, (ok, reason)) in enumerate(pool.map(job, enumerate(eligible)), 1):
            results.append((q, ok, reason))
            if done % 100 == 0:
                print(f"  … {done}/{len(eligible)}", file=sys.stderr)

    # Microsoft's binder over the same catalog, for queries that call no
    # parser (it cannot see the content's functions): a query it rejects
    # would fail in a workspace with these schemas too.
    schema_path = out / "schemas.json"
    plain = [q for q in eligible if not any(s in functions or s in own for s in q.get("other_sources") or [])]
    # Only the tables these queries name: the binder is slow on all 900.
    named = set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", "\n".join(q["query"] for q in plain)))
    schema_path.write_text(json.dumps({t: cols for t, cols in tables.items() if t in named}))
    plain_batch = out / "plain.jsonl"
    plain_batch.write_text("".join(json.dumps({"query": q["query"]}) + "\n" for q in plain))
    bound = {q["path"] + q["query"]: v["ok"]
             for q, v in zip(plain, run_jsonl([str(oracle), "--schema", str(schema_path), "--jsonl"], plain_batch))}

    # A parser may read a custom table (`SentinelOne_CL`) that exists
    # nowhere: the query's tables do not all exist, as in a workspace
    # without that connector, so it leaves the eligible set (counted).
    kept = []
    for q, ok, reason in results:
        missing = re.findall(r"unknown table '([^']+)'", reason)
        if not ok and missing and all(m not in known for m in missing):
            left_out["reads, through a parser, a custom table that exists nowhere"] += 1
        else:
            kept.append((q, ok, reason))
    results = kept
    eligible = [q for q, _, _ in results]

    ran = sum(ok for _, ok, _ in results)
    with_parser = [(q, ok) for q, ok, _ in results if any(s in functions for s in q.get("other_sources") or [])]
    reasons = collections.Counter()
    print("failures:")
    with open(out / "failures.jsonl", "w") as failures:
        for q, ok, reason in results:
            if not ok:
                verdict = bound.get(q["path"] + q["query"])
                note = " [Microsoft's binder rejects it too]" if verdict is False else ""
                print(f"  {q['path']}: {reason}{note}")
                failures.write(json.dumps({"path": q["path"], "reason": reason, "query": q["query"]}) + "\n")
                reasons[re.sub(r"'[^']*'", "'…'", reason)[:100]] += 1
    print("\nfailure reasons, most common first:")
    for reason, count in reasons.most_common(30):
        print(f"  {count:4d}  {reason}")
    print(f"\ncorpus: {len(queries)} queries; left out: "
          + "; ".join(f"{n} because {why}" for why, n in left_out.items()))
    rate = 100 * ran / max(len(eligible), 1)
    print(f"eligible (Microsoft parses them; every table and function exists): {len(eligible)}")
    print(f"ran without error: {ran}/{len(eligible)} = {rate:.1f}% (target >= 97%)")
    parser_ran = sum(ok for _, ok in with_parser)
    print(f"calling a content parser: {len(with_parser)}; of those ran: {parser_ran}")
    both = [ok for q, ok, _ in results if bound.get(q["path"] + q["query"])]
    print(f"calling no parser: {len(plain)}; Microsoft's binder binds {len(both)} of them against kqlite's catalog; "
          f"kqlite runs {sum(both)}/{len(both)} = {100 * sum(both) / max(len(both), 1):.1f}% of those")
    print(f"details: {out}")
    if args.min_rate is not None and rate < args.min_rate:
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
