#!/usr/bin/env python3
"""Binding rate of kqlite on the real Sentinel corpus, and agreement of result
column types with Microsoft's binder.

Takes the corpus queries whose tables are all built into kqlite (and that call
no workspace functions such as _Im_Dns), binds them with
`kqlite check --jsonl` and with `oracle --la-schemas`, and prints:
  - the share kqlite binds without error (issue #3 target: >= 90%),
  - among queries both bind, the share whose result columns (name -> type)
    are identical (target: >= 95%),
  - the most common bind errors and type differences, to work through.

Usage: python3 scripts/corpus_bind.py [--kqlite PATH] [--out DIR]
Skips, saying why, when ../shared is absent.
"""
import argparse
import collections
import json
import sys
import tempfile
from pathlib import Path

from kqlite_paths import SHARED, catalog_schema, default_kqlite, run_jsonl


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kqlite", default=default_kqlite())
    parser.add_argument("--out", default=None)
    parser.add_argument("--show", type=int, default=15, help="how many error groups to print")
    args = parser.parse_args()
    corpus = SHARED / "corpus/sentinel-queries.jsonl"
    oracle = SHARED / "tools/kusto-oracle/oracle"
    if not corpus.exists() or not oracle.exists():
        print("SKIP corpus binding: ../shared not found (it holds the corpus and Microsoft's binder)")
        return 0
    tables = set(catalog_schema())
    selected = []
    for line in corpus.read_text().splitlines():
        q = json.loads(line)
        used = set(q.get("referenced_tables") or []) | set(q.get("required_tables") or [])
        if used and used <= tables and not q.get("other_sources"):
            selected.append(q)
    out = Path(args.out) if args.out else Path(tempfile.mkdtemp(prefix="kqlite-bind-"))
    out.mkdir(parents=True, exist_ok=True)
    queries = out / "queries.jsonl"
    with open(queries, "w") as f:
        for q in selected:
            f.write(json.dumps({"query": q["query"]}) + "\n")
    ours = run_jsonl([args.kqlite, "check", "--jsonl"], queries)
    # Microsoft's binder gets exactly kqlite's built-in schemas, so the
    # comparison is of binders, not of schema sources.
    schema = catalog_schema()
    schema_path = out / "schemas.json"
    schema_path.write_text(json.dumps(schema))
    theirs = run_jsonl([str(oracle), "--schema", str(schema_path), "--jsonl"], queries)
    assert len(ours) == len(theirs) == len(selected)

    bound = [o["ok"] for o in ours]
    errors = collections.Counter()
    both = agree = open_schema = 0
    differences = collections.Counter()
    report = []
    for q, o, t in zip(selected, ours, theirs):
        if not o["ok"]:
            message = o["errors"][0]["message"]
            key = message.split("'")[0] + ("'" + message.split("'")[1] + "'" if "unknown" in message and "'" in message else "")
            errors[key[:90]] += 1
            report.append({"id": q.get("id"), "kqlite": o, "oracle_ok": t["ok"]})
        if o["ok"] and t["ok"] and not t.get("columns"):
            # Microsoft's binder reports no columns when the result schema
            # depends on the data (after bag_unpack or pivot, whose columns
            # come from the rows): there is no type to compare with.
            open_schema += 1
        elif o["ok"] and t["ok"]:
            both += 1
            ours_cols, their_cols = o.get("columns") or {}, t.get("columns") or {}
            if ours_cols == their_cols:
                agree += 1
            else:
                diff = sorted(set(ours_cols.items()) ^ set(their_cols.items()))
                differences[str(diff[:2])[:110]] += 1
                report.append({"id": q.get("id"), "kqlite_columns": ours_cols, "oracle_columns": their_cols})
    (out / "report.jsonl").write_text("".join(json.dumps(r) + "\n" for r in report))
    n = len(selected)
    print(f"corpus queries over built-in tables: {n} (of {sum(1 for _ in corpus.open())})")
    print(f"kqlite binds {sum(bound)}/{n} = {100 * sum(bound) / n:.1f}% (target >= 90%); "
          f"Microsoft's binder binds {sum(t['ok'] for t in theirs)}/{n}")
    if both:
        print(f"result column types agree on {agree}/{both} = {100 * agree / both:.1f}% of queries both bind (target >= 95%); "
              f"{open_schema} more bind in both but have a data-dependent schema Microsoft's binder cannot type")
    print(f"\nmost common kqlite bind errors:")
    for message, count in errors.most_common(args.show):
        print(f"  {count:4d}  {message}")
    print(f"\nmost common column differences (kqlite vs Microsoft, symmetric difference):")
    for message, count in differences.most_common(args.show):
        print(f"  {count:4d}  {message}")
    print(f"\ndetails: {out / 'report.jsonl'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
