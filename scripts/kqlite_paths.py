"""What the measuring scripts share: where the repository, ../shared and the
kqlite binary are, the built-in catalog, and running a `--jsonl` tool.

Imported as `from kqlite_paths import ...` by the scripts next to it (Python
puts a script's own directory first on its import path).
"""
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("KQLITE_SHARED", ROOT.parent / "shared"))


def default_kqlite() -> str:
    """The debug binary of the build directory ($CARGO_TARGET_DIR or target/)."""
    return str(Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target")) / "debug/kqlite")


def catalog_schema():
    """table -> {column: type}; the catalog has one line per table: Table<TAB>Column:type<TAB>..."""
    schema = {}
    for line in (ROOT / "crates/kqlite-ingest/schemas/sentinel.tsv").read_text().splitlines():
        if line and not line.startswith("#"):
            table, *columns = line.split("\t")
            schema[table] = dict(c.rsplit(":", 1) for c in columns)
    return schema


def run_jsonl(command, path):
    """Runs COMMAND PATH (exit 0 or 1) and reads one JSON object per output line."""
    out = subprocess.run(command + [str(path)], capture_output=True, text=True)
    if out.returncode not in (0, 1):
        sys.exit(f"{command[0]} failed: {out.stderr}")
    return [json.loads(line) for line in out.stdout.splitlines()]
