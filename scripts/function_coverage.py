#!/usr/bin/env python3
"""Which KQL functions and tabular operators real Sentinel queries use, by
frequency, and which of the most used ones kqlite does not implement yet.

Counts, over ../shared/corpus/sentinel-queries.jsonl, every `name(` call
(minus functions the query defines itself with `let`, and syntax words such
as `dynamic(` or `datetime(`), plus every `| operator`. Prints the top N
(default 150) with counts and marks those missing from `kqlite functions`
and `kqlite functions --operators`.

Usage: python3 scripts/function_coverage.py [--top 150] [--kqlite PATH]
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KQLITE_SHARED", ROOT.parent / "shared"))

# Words followed by `(` that are syntax, not function calls.
SYNTAX = {
    "dynamic", "datetime", "timespan", "time", "date", "guid", "int", "long", "real", "double", "bool", "boolean",
    "decimal", "string", "typeof", "in", "has_any", "has_all", "between", "and", "or", "on", "by", "with",
    "datatable", "externaldata", "range", "print", "union", "join", "view", "kind", "hint", "where", "summarize",
    "extend", "project", "true", "false", "query_parameters", "inner", "innerunique", "leftouter", "rightouter",
    "fullouter", "leftanti", "rightanti", "leftsemi", "rightsemi", "anti", "rightantisemi", "leftantisemi",
    # String operators sometimes written with parentheses: `x has("a")`.
    "has", "contains", "hassuffix", "hasprefix", "startswith", "endswith", "has_cs", "contains_cs", "matches",
}
OPERATOR_ALIASES = {"filter": "where", "order": "sort", "limit": "take", "mvexpand": "mv-expand"}
OPERATORS = {
    "where", "extend", "project", "project-away", "project-keep", "project-rename", "project-reorder", "summarize",
    "join", "lookup", "union", "mv-expand", "mv-apply", "parse", "parse-where", "parse-kv", "evaluate",
    "make-series", "top", "top-nested", "top-hitters", "take", "sort", "distinct", "count", "as", "serialize",
    "render", "sample", "sample-distinct", "getschema", "partition", "facet", "invoke", "fork", "reduce",
    "consume", "search", "find", "scan", "project-smart", "datatable", "print", "range", "externaldata",
}


def strip(query: str) -> str:
    query = re.sub(r"//[^\n]*", "", query)
    return re.sub(r"@?\"(?:[^\"\\]|\\.)*\"|@?'(?:[^'\\]|\\.)*'", '""', query)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    parser.add_argument("--kqlite", default=str(target / "debug/kqlite"))
    parser.add_argument("--top", type=int, default=150)
    args = parser.parse_args()
    corpus = SHARED / "corpus/sentinel-queries.jsonl"
    if not corpus.exists():
        print("SKIP function coverage: ../shared not found (it holds the Sentinel query corpus)")
        return 0
    functions = set(subprocess.run([args.kqlite, "functions"], capture_output=True, text=True, check=True).stdout.split())
    operators = set(
        subprocess.run([args.kqlite, "functions", "--operators"], capture_output=True, text=True, check=True).stdout.split()
    )
    counts = collections.Counter()
    for line in corpus.open():
        query = strip(json.loads(line)["query"])
        defined = set(re.findall(r"\blet\s+([A-Za-z_][A-Za-z0-9_]*)\s*=", query))
        for name in re.findall(r"\b([A-Za-z_][A-Za-z0-9_]*)\s*\(", query):
            if name not in SYNTAX and name not in defined and not name.startswith("_"):
                counts[("function", name)] += 1
        for name in re.findall(r"\|\s*([a-z][a-z-]*)", query):
            name = OPERATOR_ALIASES.get(name, name)
            if name in OPERATORS:
                counts[("operator", name)] += 1
    top = counts.most_common(args.top)
    missing = []
    print(f"{'rank':>4}  {'uses':>5}  kind      name")
    for rank, ((kind, name), uses) in enumerate(top, 1):
        known = name in (functions if kind == "function" else operators)
        if not known:
            missing.append((kind, name, uses))
        print(f"{rank:4d}  {uses:5d}  {kind:8s}  {name}{'' if known else '   <- missing'}")
    covered = len(top) - len(missing)
    print(f"\nkqlite implements {covered} of the {len(top)} most used functions and operators "
          f"({100 * covered / len(top):.1f}%); missing: {', '.join(n for _, n, _ in missing) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
