#!/usr/bin/env python3
"""How many of the KQL built-ins Microsoft's front end knows kqlite implements.

Compares `oracle --functions` (../shared/tools/kusto-oracle: every built-in
with kind, hidden/obsolete flags and signatures) with `kqlite functions`
(scalars and aggregates), `kqlite functions --plugins` and `kqlite functions
--operators`. Visible functions (neither hidden nor obsolete) count; the
functions that only make sense inside a Kusto cluster or service, or need
data kqlite cannot have offline, are EXCEPTIONS, each with its reason, and
are left out of the measured share.

Prints the share per kind, every missing name, every exception with its
reason, and exits 1 when the share of visible scalar functions and
aggregates (exceptions left out) is below --threshold (default 0.97, issue
19's target).

Usage: python3 scripts/builtin_coverage.py [--kqlite PATH] [--threshold 0.97] [--json]
"""
import argparse
import json
import subprocess
import sys

from kqlite_paths import SHARED, default_kqlite

ORACLE = SHARED / "tools" / "kusto-oracle" / "oracle"

CLUSTER = "reads the state of a Kusto cluster (ingestion cursors, storage extents, nodes); an embedded engine has none"
PRINCIPAL = "returns the Microsoft Entra identity of the caller as the service authenticated it; kqlite runs locally with no authenticated principal"
GRAPH = "a graph-match/graph-shortest-paths pattern function; the graph operators are outside this round (issue 19: 'except the graph family')"

# Visible built-ins kqlite does not implement on purpose, with the reason.
EXCEPTIONS = {
    "cursor_after": CLUSTER,
    "cursor_before_or_at": CLUSTER,
    "cursor_current": CLUSTER,
    "extent_id": CLUSTER,
    "extent_tags": CLUSTER,
    "current_cluster_endpoint": CLUSTER,
    "current_principal": PRINCIPAL,
    "current_principal_details": PRINCIPAL,
    "current_principal_is_member_of": PRINCIPAL,
    "geo_info_from_ip_address": "looks the address up in Microsoft's IP geolocation database, which is not published for offline use",
    "graph": "names a persisted graph model or snapshot of a cluster; " + GRAPH,
    "all": GRAPH,
    "map": GRAPH,
    "labels": GRAPH,
    "inner_nodes": GRAPH,
    "node_id": GRAPH,
    "node_degree_in": GRAPH,
    "node_degree_out": GRAPH,
    "row_id": "has no page in the KQL reference: its semantics cannot be checked",
}

OUTSIDE = "calls an outside service or language runtime; kqlite runs offline and names why at bind time"

# Plugins kqlite does not run, with the reason: exact names, then name prefixes.
PLUGIN_EXCEPTIONS = {
    "python": OUTSIDE,
    "r": OUTSIDE,
    "csharp": OUTSIDE,
    "external_datatable": "reads an external table of a cluster; kqlite reads files with externaldata instead",
    "estimate_rows_count": CLUSTER,
    "identity": "an undocumented internal plugin of the service (no page in the KQL reference)",
    "identity_v3": "an undocumented internal plugin of the service (no page in the KQL reference)",
}
PLUGIN_EXCEPTION_PREFIXES = (
    "http_request", "sql_request", "mysql_request", "postgresql_request", "cosmosdb_sql_request",
    "azure_digital_twins_query_request", "ai_", "execute_", "infer_storage_schema", "dax_request",
)


def plugin_exception(name):
    if name in PLUGIN_EXCEPTIONS:
        return PLUGIN_EXCEPTIONS[name]
    return OUTSIDE if name.startswith(PLUGIN_EXCEPTION_PREFIXES) else None


def oracle_builtins():
    if not ORACLE.exists():
        sys.exit(f"builtin_coverage: {ORACLE} not found (set KQLITE_SHARED to the shared reference folder)")
    out = subprocess.run([str(ORACLE), "--functions"], capture_output=True, text=True, check=True).stdout
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def kqlite_list(kqlite, *flags):
    run = subprocess.run([kqlite, "functions", *flags], capture_output=True, text=True)
    if run.returncode != 0:
        return None
    return set(run.stdout.split())


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--kqlite", default=None, help="the kqlite binary (default: $CARGO_TARGET_DIR or target/, debug/kqlite)")
    ap.add_argument("--threshold", type=float, default=0.97)
    ap.add_argument("--json", action="store_true", help="print the measurement as one JSON object")
    args = ap.parse_args()
    kqlite = args.kqlite or default_kqlite()

    builtins = oracle_builtins()
    visible = [b for b in builtins if not b["hidden"] and not b["obsolete"]]
    functions = kqlite_list(kqlite)
    if functions is None:
        sys.exit(f"builtin_coverage: `{kqlite} functions` failed")
    plugins = kqlite_list(kqlite, "--plugins")
    operators = kqlite_list(kqlite, "--operators")

    report = {}
    for kind in ("scalar", "aggregate"):
        names = sorted({b["name"] for b in visible if b["kind"] == kind})
        excepted = [n for n in names if n in EXCEPTIONS]
        counted = [n for n in names if n not in EXCEPTIONS]
        have = [n for n in counted if n in functions]
        report[kind] = {
            "visible": len(names),
            "exceptions": excepted,
            "implemented": len(have),
            "measured": len(counted),
            "missing": [n for n in counted if n not in functions],
            "implemented_excepted": [n for n in excepted if n in functions],
        }
    plugin_names = sorted({b["name"] for b in visible if b["kind"] == "plugin"})
    offline = [p for p in plugin_names if plugin_exception(p)]
    runnable = [p for p in plugin_names if p not in offline]
    report["plugin"] = {
        "visible": len(plugin_names),
        "exceptions": offline,
        "measured": len(runnable),
        "implemented": None if plugins is None else len([p for p in runnable if p in plugins]),
        "missing": None if plugins is None else [p for p in runnable if p not in plugins],
    }
    report["operators"] = None if operators is None else sorted(operators)

    implemented = report["scalar"]["implemented"] + report["aggregate"]["implemented"]
    measured = report["scalar"]["measured"] + report["aggregate"]["measured"]
    all_visible = report["scalar"]["visible"] + report["aggregate"]["visible"]
    share = implemented / measured if measured else 0.0
    report["share"] = share

    if args.json:
        print(json.dumps(report, indent=1))
    else:
        for kind in ("scalar", "aggregate"):
            r = report[kind]
            print(f"{kind:9} {r['implemented']:4} of {r['measured']:4} implemented "
                  f"({r['visible']} visible, {len(r['exceptions'])} exceptions)")
            if r["missing"]:
                print(f"          missing: {', '.join(r['missing'])}")
        r = report["plugin"]
        if r["implemented"] is None:
            print(f"plugin    `kqlite functions --plugins` is not available; {r['measured']} runnable plugins not measured")
        else:
            print(f"plugin    {r['implemented']:4} of {r['measured']:4} runnable plugins implemented "
                  f"({r['visible']} visible, {len(offline)} exceptions)")
            if r["missing"]:
                print(f"          missing: {', '.join(r['missing'])}")
        if operators is not None:
            print(f"operators {len(operators)} tabular operators: {', '.join(sorted(operators))}")
        print("\nexceptions (not counted):")
        for name in sorted(EXCEPTIONS):
            print(f"  {name:32} {EXCEPTIONS[name]}")
        for name in offline:
            print(f"  {name + ' (plugin)':32} {plugin_exception(name)}")
        print(f"\nscalar functions and aggregates: {implemented} of {measured} = {share:.1%} "
              f"(of all {all_visible} visible, exceptions included: {implemented / all_visible:.1%}); "
              f"target {args.threshold:.0%}: {'MET' if share >= args.threshold else 'NOT MET'}")
    sys.exit(0 if share >= args.threshold else 1)


if __name__ == "__main__":
    main()
