#!/usr/bin/env python3
"""Independent per-file counts of EVTX records, to check kqlite's EVTX reader.

Runs the `evtx` crate's CLI (`cargo install evtx`) as `evtx_dump -o jsonl FILE`
on every .evtx file under DIR and writes one JSON object:

    {"relative/path.evtx": {"records": N, "security": {"4624": n, ...}}, ...}

`records` counts every record the CLI printed; `security` counts the records
of the Security channel by `Event.System.EventID` (a number, or an object with
`#text` when the EventID has attributes).

    python3 scripts/evtx_counts.py ../shared/datasets/evtx-attack-samples > /tmp/evtx_expected.json
    KQLITE_EVTX_EXPECTED=/tmp/evtx_expected.json cargo test -p kqlite-ingest --test evtx
"""

import json
import os
import subprocess
import sys
from collections import Counter


def event_id(system):
    value = system.get("EventID")
    if isinstance(value, dict):
        value = value.get("#text")
    return str(value)


def counts(path, dump):
    out = subprocess.run([dump, "-o", "jsonl", path], capture_output=True, text=True)
    records = 0
    security = Counter()
    for line in out.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:
            continue
        records += 1
        system = record.get("Event", {}).get("System", {})
        if str(system.get("Channel", "")).lower() == "security":
            security[event_id(system)] += 1
    return {"records": records, "security": dict(sorted(security.items()))}


def main():
    if len(sys.argv) != 2:
        sys.exit(f"usage: {sys.argv[0]} DIR")
    root = sys.argv[1]
    dump = os.environ.get("EVTX_DUMP", "evtx_dump")
    result = {}
    for directory, _, files in os.walk(root):
        for name in files:
            if name.lower().endswith(".evtx"):
                path = os.path.join(directory, name)
                result[os.path.relpath(path, root)] = counts(path, dump)
    json.dump(dict(sorted(result.items())), sys.stdout, indent=1)
    print()


if __name__ == "__main__":
    main()
