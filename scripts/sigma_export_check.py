"""Validates Sigma documents against the Sigma specification's JSON schemas.

Every document of every file given (or of `kqlite rules export --format
sigma`, when no file is given) is checked: detection rules against
sigma-detection-rule-schema.json, correlation rules against
sigma-correlation-rules-schema.json, filters against sigma-filters-schema.json
(the schemas live in ../shared/sigma/specification/json-schema). Formats
(`uuid`) are checked too. Prints one line per document and exits 1 when any
is invalid, 2 when the schemas or the inputs cannot be read.

Needs PyYAML and jsonschema (tested with jsonschema==4.26.0, PyYAML==6.0.3):
    pip install 'jsonschema==4.26.0' 'PyYAML==6.0.3'

Usage:
    python3 scripts/sigma_export_check.py                  # the built-in pack's export
    python3 scripts/sigma_export_check.py rules/sigma/*.yml
    python3 scripts/sigma_export_check.py --kqlite target/debug/kqlite
"""
import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml
from jsonschema import Draft202012Validator

from kqlite_paths import SHARED, default_kqlite

SCHEMAS = SHARED / "sigma/specification/json-schema"


class _SigmaLoader(yaml.SafeLoader):
    """YAML without timestamp resolution: Sigma's `date: 2024-05-02` is a
    string to the schemas (a `pattern`), not a date object."""


_SigmaLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:timestamp"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def validators():
    def load(name):
        schema = json.loads((SCHEMAS / name).read_text())
        return Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)

    return {
        "detection": load("sigma-detection-rule-schema.json"),
        "correlation": load("sigma-correlation-rules-schema.json"),
        "filter": load("sigma-filters-schema.json"),
    }


def kind(document):
    if "correlation" in document:
        return "correlation"
    if "filter" in document:
        return "filter"
    return "detection"


def documents(args):
    """(where, text) of each input: the files given, else the export's output."""
    if args.files:
        return [(str(path), Path(path).read_text()) for path in args.files]
    out = subprocess.run([args.kqlite, "rules", "export", "--format", "sigma"], capture_output=True, text=True)
    if out.returncode != 0:
        sys.exit(f"kqlite rules export failed ({out.returncode}): {out.stderr}")
    return [("kqlite rules export --format sigma", out.stdout)]


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("files", nargs="*", help="Sigma YAML files (default: the built-in pack's export)")
    parser.add_argument("--kqlite", default=default_kqlite(), help="the kqlite binary (default: the debug build)")
    args = parser.parse_args()
    if not SCHEMAS.is_dir():
        print(f"cannot validate: {SCHEMAS} not found (the Sigma specification lives in ../shared)", file=sys.stderr)
        sys.exit(2)
    checks = validators()
    checked = invalid = 0
    for where, text in documents(args):
        for number, document in enumerate(yaml.load_all(text, Loader=_SigmaLoader), start=1):
            if document is None:
                continue
            checked += 1
            what = kind(document)
            errors = sorted(checks[what].iter_errors(document), key=lambda e: list(e.absolute_path))
            title = document.get("title", "(no title)")
            if errors:
                invalid += 1
                print(f"INVALID {where} document {number} ({what}) {title}")
                for error in errors:
                    path = "/".join(str(p) for p in error.absolute_path) or "(document)"
                    print(f"    {path}: {error.message}")
            else:
                print(f"ok      {where} document {number} ({what}) {title}")
    print(f"{checked} documents, {invalid} invalid")
    if checked == 0:
        sys.exit("no Sigma documents found")
    sys.exit(1 if invalid else 0)


if __name__ == "__main__":
    main()
