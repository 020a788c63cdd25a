#!/usr/bin/env python3
"""Which KQL functions and tabular operators real Sentinel queries use, by
frequency, and which of the most used ones kqlite does not implement yet.

Counts, over ../shared/corpus/sentinel-queries.jsonl, every `name(` call
(minus functions the query defines itself with `let`, and syntax words such
as `dynamic(` or `datetime(`), plus every `| operator` and every
`evaluate plugin(`. Prints the top N (default 150) with counts and marks
those missing from `kqlite functions`, `kqlite functions --operators`, and
(for plugins) those kqlite's binder reports as unsupported.

Usage: python3 scripts/function_coverage.py [--top 150] [--kqlite PATH]
"""
import argparse
import collections
import json
import os
import re
import subprocess
import sys
import tempfile
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
    query = re.sub(r"@?\"(?:[^\"\\]|\\.)*\"|@?'(?:[^'\\]|\\.)*'", '""', query)
    # Operator parameters whose value is a keyword: `mv-expand bagexpansion=array (x)`
    # is not a call of `array`.
    return re.sub(r"\b(bagexpansion|kind|withsource|isfuzzy|hint\.\w+)\s*=\s*\w+", " ", query)


# `name(` not preceded by `-` or `.`: `mv-expand(x)` is the operator, `a.b(` a member.
CALL = re.compile(r"(?<![-.\w])([A-Za-z_][A-Za-z0-9_]*)\s*\(")
PLUGIN = re.compile(r"\bevaluate\s+(?:[\w.]+\s*=\s*\S+\s+)*([A-Za-z_][A-Za-z0-9_]*)\s*\(")


def supported_plugins(kqlite: str, names) -> set:
    """The plugins kqlite's binder knows: binding `evaluate name()` fails with
    "the evaluate plugin 'name' is not supported" for the others."""
    with tempfile.NamedTemporaryFile("w", suffix=".jsonl", delete=False) as f:
        for name in names:
            f.write(json.dumps({"query": f"print x = 1 | evaluate {name}()"}) + "\n")
    out = subprocess.run([kqlite, "check", "--jsonl", f.name], capture_output=True, text=True)
    os.unlink(f.name)
    results = [json.loads(line) for line in out.stdout.splitlines()]
    return {
        name
        for name, r in zip(names, results)
        if r["ok"] or not any("is not supported" in e["message"] for e in r["errors"])
    }


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
        plugins = [m.end(1) for m in PLUGIN.finditer(query)]
        for m in PLUGIN.finditer(query):
            counts[("plugin", m.group(1))] += 1
        for m in CALL.finditer(query):
            name = m.group(1)
            # After `|` a name is an operator (`| mvexpand (x)`), not a call.
            if m.end(1) in plugins or query[: m.start(1)].rstrip().endswith("|"):
                continue
            if name not in SYNTAX and name not in defined and not name.startswith("_"):
                counts[("function", name)] += 1
        for name in re.findall(r"\|\s*([a-z][a-z-]*)", query):
            name = OPERATOR_ALIASES.get(name, name)
            if name in OPERATORS:
                counts[("operator", name)] += 1
    top = counts.most_common(args.top)
    plugins = supported_plugins(args.kqlite, [name for (kind, name), _ in top if kind == "plugin"])
    missing = []
    print(f"{'rank':>4}  {'uses':>5}  kind      name")
    for rank, ((kind, name), uses) in enumerate(top, 1):
        known = name in {"function": functions, "operator": operators, "plugin": plugins}[kind]
        if not known:
            missing.append((kind, name, uses))
        print(f"{rank:4d}  {uses:5d}  {kind:8s}  {name}{'' if known else '   <- missing'}")
    covered = len(top) - len(missing)
    print(f"\nkqlite implements {covered} of the {len(top)} most used functions and operators "
          f"({100 * covered / len(top):.1f}%); missing: {', '.join(n for _, n, _ in missing) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
