#!/usr/bin/env python3
"""ASIM over the shared datasets: do the content checkout's unifying parsers
run over kqlite's tables, and do they count what an independent reading counts?

1. Over the EVTX attack samples, `imAuthentication` must return exactly as many
   events as the Security channel holds of the EventIDs ASIM's Windows source
   parser maps (4624, 4625, 4634, 4647), counted independently by
   `scripts/evtx_counts.py` (the `evtx` crate's `evtx_dump`), EventID by
   EventID: none missing, none counted twice.
2. `imProcessCreate`, `imNetworkSession`, `imFileEvent`, `imRegistry` and
   `_Im_Dns` run (their row counts are printed).
3. Over the linux-auth samples, `union imAuthentication, SshdAuthentication(Syslog)`
   returns one OpenSSH row per sshd `Accepted …`/`Failed …` line, counted
   here with a regular expression over the raw files.

Usage: python3 scripts/asim_check.py [--kqlite PATH] [--content DIR] [--expected evtx_counts.json]
Exits 1 when a check fails; skips, saying why, when ../shared is absent.
"""
import argparse
import json
import re
import subprocess
import sys
from pathlib import Path

from kqlite_paths import ROOT, SHARED, default_kqlite
WINDOWS_AUTH_IDS = ("4624", "4625", "4634", "4647")
SSHD_OUTCOME = re.compile(r"sshd(?:-session)?\[\d+\]: (?:message repeated \d+ times: \[\s*)?(?:Accepted|Failed) \S+ for .* from \S+ port \d+")


def query(kqlite, content, text, paths):
    command = [kqlite, "query", "--content", str(content), "--format", "json", text, "--", *map(str, paths)]
    result = subprocess.run(command, capture_output=True, text=True)
    try:
        value = json.loads(result.stdout)
    except ValueError:
        return None, (result.stderr or result.stdout).strip()[:600]
    if "error" in value:
        return None, value["error"]["message"][:600]
    return value["rows"], None


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--kqlite", default=default_kqlite())
    parser.add_argument("--content", default=str(SHARED / "content/azure-sentinel"))
    parser.add_argument("--expected", help="JSON from scripts/evtx_counts.py (default: run it)")
    args = parser.parse_args()
    evtx = SHARED / "datasets/evtx-attack-samples"
    linux = SHARED / "datasets/linux-auth"
    content = Path(args.content)
    if not (evtx.exists() and linux.exists() and content.exists()):
        print("SKIP ASIM check: ../shared not found (it holds the datasets and the content checkout)")
        return 0
    if args.expected:
        expected_files = json.loads(Path(args.expected).read_text())
    else:
        out = subprocess.run([sys.executable, str(ROOT / "scripts/evtx_counts.py"), str(evtx)],
                             capture_output=True, text=True, check=True)
        expected_files = json.loads(out.stdout)
    expected = {i: sum(f.get("security", {}).get(i, 0) for f in expected_files.values()) for i in WINDOWS_AUTH_IDS}
    failed = False

    rows, error = query(args.kqlite, content,
                        # The union inside imAuthentication splits EventOriginalType by type
                        # (string in vimAuthenticationEmpty, int in the Windows parser), as
                        # Kusto's does: EventOriginalType_string, EventOriginalType_int.
                        "imAuthentication | summarize count() by EventOriginalType = coalesce("
                        "tostring(column_ifexists('EventOriginalType_int', int(null))), "
                        "column_ifexists('EventOriginalType_string', ''), tostring(column_ifexists('EventOriginalType', '')))",
                        [evtx])
    if error:
        print(f"FAIL imAuthentication over the EVTX samples: {error}")
        failed = True
    else:
        got = {str(r[0]): r[1] for r in rows}
        print("imAuthentication over the EVTX samples, by EventID (kqlite / evtx_dump):")
        for i in WINDOWS_AUTH_IDS:
            print(f"  {i}: {got.get(i, 0)} / {expected[i]}")
        extra = {k: v for k, v in got.items() if k not in WINDOWS_AUTH_IDS}
        total, want = sum(got.values()), sum(expected.values())
        print(f"  total: {total} / {want}" + (f"; other EventOriginalType values: {extra}" if extra else ""))
        if any(got.get(i, 0) != expected[i] for i in WINDOWS_AUTH_IDS) or extra:
            print("FAIL imAuthentication counts differ from the Security channel's")
            failed = True

    for name in ("imProcessCreate", "imNetworkSession", "imFileEvent", "imRegistry", "_Im_Dns"):
        rows, error = query(args.kqlite, content, f"{name} | count", [evtx, linux])
        if error:
            print(f"FAIL {name}: {error}")
            failed = True
        else:
            print(f"{name}: runs, {rows[0][0]} rows over the EVTX and linux-auth samples")

    want = sum(1 for path in linux.glob("*.log") for line in path.read_text(errors="replace").splitlines()
               if SSHD_OUTCOME.search(line))
    rows, error = query(args.kqlite, content,
                        "union imAuthentication, SshdAuthentication(Syslog) | where EventProduct == 'OpenSSH' "
                        "| summarize count() by EventResult", [linux])
    if error:
        print(f"FAIL union imAuthentication, SshdAuthentication(Syslog): {error}")
        failed = True
    else:
        got = {r[0]: r[1] for r in rows}
        print(f"sshd logins in imAuthentication + SshdAuthentication: {sum(got.values())} {got}; "
              f"sshd outcome lines in the files: {want}")
        if sum(got.values()) != want:
            print("FAIL sshd login counts differ")
            failed = True
    print("ASIM check: " + ("FAILED" if failed else "passed"))
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
