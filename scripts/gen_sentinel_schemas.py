#!/usr/bin/env python3
"""Regenerates crates/kqlite-ingest/schemas/sentinel.tsv, the Sentinel / Log
Analytics table schemas built into kqlite: every table of the Log Analytics
schema facts in ../shared/schemas/la_table_schemas.csv, plus the Defender XDR
advanced-hunting tables those lack (scripts/defender_xdr_schemas.tsv, from
the advanced-hunting reference).

Usage: python3 scripts/gen_sentinel_schemas.py [path/to/la_table_schemas.csv]

Output: one line per table, sorted by name (byte order: the catalog looks
tables up by binary search and parses a table's columns only when asked):
    Table<TAB>Column:type<TAB>Column:type...
with TimeGenerated first, then Timestamp, then the source's order.

Defender's advanced-hunting tables name their time column `Timestamp`, the
Sentinel copies `TimeGenerated`; both are kept so queries written for either
run unchanged.

Every table gets Log Analytics' standard columns (TimeGenerated, TenantId,
Type, _ItemId) when the source leaves them out (it does TenantId for about
160 tables, AuditLogs among them; TimeGenerated for AzureDiagnostics; _ItemId
everywhere): a workspace has them in every table, and real rules read them
(`AuditLogs | … | project TenantId`, BehaviorAnalytics joined on _ItemId).
Columns the CSV leaves out of single tables but the Azure Monitor table
reference lists come from scripts/la_column_additions.tsv.

Types are KQL type names. The source's spellings (String, Double, BigInt,
boolean, integer, ...) are mapped; a type the generator does not know is
reported on stderr and read as string. Rows that are HTML table debris
scraped into the CSV (a description holding `<td`) are reported and skipped,
as are repeated columns (the first is kept).
"""
import csv
import re
import sys
from pathlib import Path

TYPES = {"string": "string", "datetime": "datetime", "real": "real", "int": "int", "integer": "int",
         "long": "long", "bool": "bool", "boolean": "bool", "dynamic": "dynamic", "guid": "guid",
         "double": "real", "bigint": "long", "timespan": "timespan", "decimal": "decimal"}
# Defender XDR tables that Sentinel streams with both time columns.
DEFENDER_PREFIXES = ("Device", "Identity", "Email")
DEFENDER_TABLES = {"AlertEvidence", "AlertInfo", "BehaviorEntities", "BehaviorInfo", "CloudAppEvents",
                   "UrlClickEvents", "CloudAuditEvents", "CloudProcessEvents", "CloudDnsEvents",
                   "CloudStorageAggregatedEvents"}
NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")

root = Path(__file__).resolve().parent.parent
source = Path(sys.argv[1]) if len(sys.argv) > 1 else root.parent / "shared/schemas/la_table_schemas.csv"
extras = root / "scripts/defender_xdr_schemas.tsv"
additions = root / "scripts/la_column_additions.tsv"

columns: dict[str, list[tuple[str, str]]] = {}
problems: list[str] = []


def add(table: str, column: str, type_name: str, where: str) -> None:
    if not NAME.fullmatch(table) or not NAME.fullmatch(column):
        problems.append(f"{where}: skipped {table}.{column}: not a table or column name")
        return
    ty = TYPES.get(type_name.strip().lower())
    if ty is None:
        problems.append(f"{where}: {table}.{column} has unknown type {type_name!r}: read as string")
        ty = "string"
    cols = columns.setdefault(table, [])
    previous = next((t for c, t in cols if c == column), None)
    if previous is not None:
        if previous != ty:
            problems.append(f"{where}: {table}.{column} repeated as {ty} (kept {previous})")
        return
    cols.append((column, ty))


with open(source, newline="") as f:
    for line, row in enumerate(csv.DictReader(f), start=2):
        if "<td" in row["description"]:
            problems.append(f"{source.name}:{line}: skipped {row['table_name']}.{row['column_name']}: HTML debris")
            continue
        add(row["table_name"], row["column_name"], row["column_type"], f"{source.name}:{line}")
added_from_docs = set()
for line, text in enumerate(open(extras), start=1):
    if not text.strip() or text.startswith("#"):
        continue
    table, column, ty = text.rstrip("\n").split("\t")
    if table in columns and table not in added_from_docs:
        problems.append(f"{extras.name}:{line}: {table} is in {source.name} now: remove it here")
        continue
    added_from_docs.add(table)
    add(table, column, ty, f"{extras.name}:{line}")

for line, text in enumerate(open(additions), start=1):
    if not text.strip() or text.startswith("#"):
        continue
    table, column, ty, _source = text.rstrip("\n").split("\t")
    if table not in columns:
        problems.append(f"{additions.name}:{line}: no table {table}")
        continue
    if any(c == column for c, _ in columns[table]):
        problems.append(f"{additions.name}:{line}: {table}.{column} is in the source now: remove it here")
        continue
    add(table, column, ty, f"{additions.name}:{line}")

out = root / "crates/kqlite-ingest/schemas/sentinel.tsv"
with open(out, "w") as f:
    f.write("# table<TAB>column:type<TAB>... - generated by scripts/gen_sentinel_schemas.py from Log Analytics\n")
    f.write("# schema facts and the Defender XDR advanced-hunting reference; do not edit.\n")
    for table in sorted(columns):
        cols = columns[table]
        names = {c for c, _ in cols}
        defender = table.startswith(DEFENDER_PREFIXES) or table in DEFENDER_TABLES
        if defender and "Timestamp" not in names and table not in added_from_docs:
            cols = [("Timestamp", "datetime")] + cols
        for standard, ty in (("TimeGenerated", "datetime"), ("TenantId", "string"), ("Type", "string"),
                             ("_ItemId", "string")):
            if standard not in names:
                cols = cols + [(standard, ty)]
        # TimeGenerated first, as Log Analytics shows it.
        cols = sorted(cols, key=lambda c: (c[0] != "TimeGenerated", c[0] != "Timestamp"))
        f.write(table + "".join(f"\t{name}:{ty}" for name, ty in cols) + "\n")
for problem in problems:
    print(problem, file=sys.stderr)
print(f"wrote {out}: {len(columns)} tables ({len(added_from_docs)} from {extras.name}), "
      f"{sum(len(c) for c in columns.values())} columns, {len(problems)} problem(s) reported")
