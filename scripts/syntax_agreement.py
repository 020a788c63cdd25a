#!/usr/bin/env python3
"""Measure how often kqlite agrees with Microsoft's KQL parser on mutated queries.

Valid queries are easy to get right; what tells two parsers apart is how they
treat *almost* valid input.  This script takes real Sentinel queries that
Microsoft's parser (Kusto.Language, via the "oracle" wrapper) accepts, applies
exactly one small random token-level mutation to each, and then asks both
parsers whether each mutant is syntactically valid.  It reports how often the
two agree on accept/reject, a 2x2 confusion table, and the first few
disagreements.

Each mutant gets one mutation, with the kind chosen uniformly among:
  delete  remove one token;
  insert  insert one token, copied from elsewhere in the same query or taken
          from a small list of KQL punctuation and keywords;
  swap    exchange two adjacent tokens.
Tokens come from a small regex tokenizer (comments and whitespace are skipped;
strings, numbers with timespan suffixes such as 1d or 1.5h, identifiers
including hyphenated operator names such as project-away, and
multi-character operators are kept whole).  Edits are made by offset, so the rest of the text is kept exactly; a
single space is added only where two tokens would otherwise fuse.  Some
mutants stay valid; that is fine, since the metric is agreement.

Usage (from anywhere; default paths are relative to the repository root):
  python3 scripts/syntax_agreement.py
  python3 scripts/syntax_agreement.py --seed 7 --count 1000 --out /tmp/agree
  python3 scripts/syntax_agreement.py --min-agreement 95

Options:
  --seed N            random seed (default 2026)
  --count N           number of mutants (default 500)
  --kqlite PATH       kqlite binary (default target/debug/kqlite, or
                      $CARGO_TARGET_DIR/debug/kqlite when that is missing)
  --oracle PATH       Microsoft's parser wrapper
                      (default ../shared/tools/kusto-oracle/oracle)
  --corpus PATH       JSONL corpus with a "query" field
                      (default ../shared/corpus/sentinel-queries.jsonl)
  --out DIR           where to write mutants.jsonl, oracle_results.jsonl,
                      kqlite_results.jsonl and disagreements.jsonl
                      (default: a fresh temporary directory)
  --min-agreement P   exit 1 when agreement is below P percent (default 99.5)

Exit status: 0 when agreement >= --min-agreement, or when the check is skipped
because ../shared (the oracle or the corpus) is not there; 1 when agreement is
below the threshold; 2 when something went wrong (a tool crashed, timed out,
or printed a different number of lines than it was given).

Only the Python standard library is used.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import NoReturn

REPO_ROOT = Path(__file__).resolve().parent.parent

# Seconds either tool may take on one batch before we give up (a hang in the
# parser under test is itself a finding worth failing loudly on).
TOOL_TIMEOUT_S = 900

# Tokens that "insert" may add besides those copied from the query itself.
INSERT_VOCAB = ["|", "(", ")", ",", "=", "==", "where", "by", "and", ";", "[", "]", '"x"']

MUTATION_KINDS = ("delete", "insert", "swap")

SHOWN_DISAGREEMENTS = 15


# --------------------------------------------------------------------------
# Tokenizer
# --------------------------------------------------------------------------

# Operator names that contain hyphens and must stay one token.
_HYPHENATED = sorted(
    """project-away project-keep project-rename project-reorder project-smart
    mv-expand mv-apply make-series make-graph parse-where parse-kv top-nested
    top-hitters graph-match graph-merge graph-to-table graph-shortest-paths
    graph-mark-components""".split(),
    key=len,
    reverse=True,
)

_MULTI_OPS = ["==", "!=", "<>", "=~", "!~", "<=", ">=", "..", "=>", "<|"]

_TOKEN_RE = re.compile(
    r"""
      (?P<ws>\s+)
    | (?P<comment>//[^\n]*)
    | (?P<string>
          ```[\s\S]*?```                      # multi-line string
        | ~~~[\s\S]*?~~~                      # multi-line string, tilde form
        | [hH]?@'(?:[^']|'')*'                # verbatim, '' escapes a quote
        | [hH]?@"(?:[^"]|"")*"
        | [hH]?'(?:[^'\\]|\\.)*'              # ordinary, backslash escapes
        | [hH]?"(?:[^"\\]|\\.)*"
      )
    | (?P<number>                             # letters glued to a number belong
          (?:0[xX][0-9a-fA-F]+|[0-9]+(?:\.[0-9]+)?(?:[eE][+-]?[0-9]+)?)
          [A-Za-z0-9_]*                       # to it: 1d, 10m, 1.5h (and KQL's
      )                                       # lexer reads 15ago as one token)
    | (?P<word>
          (?:"""
    + "|".join(re.escape(w) for w in _HYPHENATED)
    + r""")(?![A-Za-z0-9_$-])
        | in~
        | [A-Za-z_$][A-Za-z0-9_$]*
      )
    | (?P<op>"""
    + "|".join(re.escape(o) for o in _MULTI_OPS)
    + r""")
    | (?P<punct>\S)
    """,
    re.VERBOSE,
)


@dataclass(frozen=True)
class Token:
    start: int  # offset into the query string (code points; the edit keeps
    end: int    # every other character, hence every other byte, unchanged)
    text: str
    kind: str


def tokenize(text: str) -> list[Token]:
    """Split KQL text into tokens, skipping whitespace and // comments."""
    tokens: list[Token] = []
    pos = 0
    n = len(text)
    while pos < n:
        m = _TOKEN_RE.match(text, pos)
        if m is None or m.end() == pos:  # cannot happen: \s+ or \S always match
            raise AssertionError(f"tokenizer stuck at offset {pos}")
        kind = m.lastgroup or "punct"
        if kind not in ("ws", "comment"):
            tokens.append(Token(m.start(), m.end(), m.group(), kind))
        pos = m.end()
    return tokens


def _texts(text: str) -> list[str]:
    return [t.text for t in tokenize(text)]


def join(left: str, right: str) -> str:
    """Concatenate two fragments, adding one space only if tokens would fuse."""
    if not left or not right or left[-1].isspace() or right[0].isspace():
        return left + right
    if _texts(left + right) == _texts(left) + _texts(right):
        return left + right
    return left + " " + right


# --------------------------------------------------------------------------
# Mutations
# --------------------------------------------------------------------------


def _show(tok: str) -> str:
    return tok if len(tok) <= 40 else tok[:37] + "..."


def mutate(query: str, rng: random.Random, max_tries: int = 20) -> tuple[str, dict, tuple[int, int, int]] | None:
    """Apply exactly one mutation to `query`; None if none changes the text.

    Returns (mutated text, description, (start, old_end, new_end)), where
    query[start:old_end] was replaced by mutated[start:new_end]; join() only
    ever adds a space at a seam, so everything outside that span is unchanged.
    """
    tokens = tokenize(query)
    if not tokens:
        return None
    kind = rng.choice(MUTATION_KINDS)
    for _ in range(max_tries):
        if kind == "delete":
            i = rng.randrange(len(tokens))
            t = tokens[i]
            new = join(query[: t.start], query[t.end :])
            region = (t.start, t.end, len(new) - (len(query) - t.end))
            info = {
                "kind": "delete",
                "offset": t.start,
                "token": t.text,
                "description": f"delete {_show(t.text)!r} at offset {t.start}",
            }
        elif kind == "insert":
            if rng.random() < 0.5:
                tok, source = rng.choice(tokens).text, "query"
            else:
                tok, source = rng.choice(INSERT_VOCAB), "list"
            gap = rng.randrange(len(tokens) + 1)
            pos = tokens[gap].start if gap < len(tokens) else tokens[-1].end
            new = join(join(query[:pos], tok), query[pos:])
            region = (pos, pos, len(new) - (len(query) - pos))
            info = {
                "kind": "insert",
                "offset": pos,
                "token": tok,
                "token_source": source,
                "description": f"insert {_show(tok)!r} ({source}) at offset {pos}",
            }
        else:  # swap
            if len(tokens) < 2:
                return None
            i = rng.randrange(len(tokens) - 1)
            a, b = tokens[i], tokens[i + 1]
            if a.text == b.text:
                continue
            between = query[a.end : b.start]
            new = join(join(join(join(query[: a.start], b.text), between), a.text), query[b.end :])
            region = (a.start, b.end, len(new) - (len(query) - b.end))
            info = {
                "kind": "swap",
                "offset": a.start,
                "tokens": [a.text, b.text],
                "description": f"swap {_show(a.text)!r} and {_show(b.text)!r} at offset {a.start}",
            }
        if new != query:
            return new, info, region
    return None


def snippet(text: str, start: int, end: int, context: int = 25) -> str:
    lo, hi = max(0, start - context), min(len(text), end + context)
    frag = text[lo:start] + "\u27e6" + text[start:end] + "\u27e7" + text[end:hi]
    frag = frag.replace("\r", "").replace("\n", "\u23ce").replace("\t", " ")
    return ("\u2026" if lo > 0 else "") + frag + ("\u2026" if hi < len(text) else "")


# --------------------------------------------------------------------------
# Running the two parsers
# --------------------------------------------------------------------------


def fail(msg: str) -> NoReturn:
    print(f"syntax_agreement: error: {msg}", file=sys.stderr)
    sys.exit(2)


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def run_jsonl(name: str, argv: list[str], ok_codes: tuple[int, ...], expected: int, results_path: Path | None) -> list[dict]:
    """Run a --jsonl checker and return its parsed result lines, one per input."""
    try:
        proc = subprocess.run(argv, capture_output=True, text=True, encoding="utf-8", timeout=TOOL_TIMEOUT_S)
    except subprocess.TimeoutExpired:
        fail(f"{name} did not finish within {TOOL_TIMEOUT_S}s: {' '.join(argv)}")
    except OSError as e:
        fail(f"could not run {name} ({argv[0]}): {e}")
    if results_path is not None:
        results_path.write_text(proc.stdout, encoding="utf-8")
    if proc.returncode not in ok_codes:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        fail(f"{name} exited with status {proc.returncode}: {' '.join(argv)}" + (f"\n{tail}" if tail else ""))
    lines = [ln for ln in proc.stdout.splitlines() if ln.strip()]
    if len(lines) != expected:
        fail(
            f"{name} printed {len(lines)} result lines for {expected} input lines "
            f"({' '.join(argv)}); results cannot be matched up"
        )
    results = []
    for n, ln in enumerate(lines, 1):
        try:
            obj = json.loads(ln)
        except json.JSONDecodeError as e:
            fail(f"{name} result line {n} is not JSON ({e}): {ln[:200]}")
        if not isinstance(obj, dict) or not isinstance(obj.get("ok"), bool):
            fail(f'{name} result line {n} has no boolean "ok": {ln[:200]}')
        results.append(obj)
    return results


def first_message(name: str, res: dict) -> str:
    if name == "kqlite":
        errs = res.get("errors") or []
        if not errs:
            return ""
        e = errs[0]
        return f"{e.get('line')}:{e.get('col')} {e.get('message')}"
    diags = [d for d in res.get("diagnostics") or [] if d.get("severity") == "Error"]
    if not diags:
        return ""
    d = diags[0]
    return f"@{d.get('start')} {d.get('code')} {d.get('message')}"


def verdict(name: str, res: dict) -> str:
    if res["ok"]:
        return "accepts"
    msg = first_message(name, res)
    return f"rejects ({msg})" if msg else "rejects"


# --------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------


def default_kqlite() -> Path:
    path = REPO_ROOT / "target" / "debug" / "kqlite"
    target_dir = os.environ.get("CARGO_TARGET_DIR")
    if not path.exists() and target_dir:
        td = Path(target_dir).expanduser()
        candidates = [td] if td.is_absolute() else [Path.cwd() / td, REPO_ROOT / td]
        for c in candidates:
            if (c / "debug" / "kqlite").exists():
                return c / "debug" / "kqlite"
        return candidates[0] / "debug" / "kqlite"
    return path


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(
        description="Agreement between kqlite and Microsoft's KQL parser on one-token mutants of corpus queries.",
        epilog="See the module docstring for details.",
    )
    ap.add_argument("--seed", type=int, default=2026, help="random seed (default 2026)")
    ap.add_argument("--count", type=int, default=500, help="number of mutants (default 500)")
    ap.add_argument("--kqlite", type=Path, help="kqlite binary (default target/debug/kqlite)")
    ap.add_argument("--oracle", type=Path, default=REPO_ROOT / ".." / "shared" / "tools" / "kusto-oracle" / "oracle",
                    help="Microsoft's parser (default ../shared/tools/kusto-oracle/oracle)")
    ap.add_argument("--corpus", type=Path, default=REPO_ROOT / ".." / "shared" / "corpus" / "sentinel-queries.jsonl",
                    help="corpus JSONL (default ../shared/corpus/sentinel-queries.jsonl)")
    ap.add_argument("--out", type=Path, help="output directory (default: a new temporary directory)")
    ap.add_argument("--min-agreement", type=float, default=99.5,
                    help="exit 1 if agreement %% is below this (default 99.5)")
    a = ap.parse_args(argv)
    if a.count <= 0:
        ap.error("--count must be positive")
    return a


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)

    missing = [p for p in (args.oracle, args.corpus) if not p.exists()]
    if missing:
        print("SKIP: ../shared not found: this check needs Microsoft's parser and the corpus")
        for p in missing:
            print(f"  missing: {os.path.normpath(p)}")
        return 0

    kqlite = args.kqlite if args.kqlite is not None else default_kqlite()
    if not kqlite.exists():
        fail(f"kqlite binary not found at {kqlite}; build it with `cargo build -p kqlite-cli`")

    out = args.out if args.out is not None else Path(tempfile.mkdtemp(prefix="syntax-agreement-"))
    out.mkdir(parents=True, exist_ok=True)

    # Load the corpus (skipping blank lines and lines without a string "query").
    corpus: list[dict] = []
    with args.corpus.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                fail(f"{args.corpus}:{lineno}: not JSON: {e}")
            if isinstance(obj, dict) and isinstance(obj.get("query"), str) and obj["query"].strip():
                corpus.append({"line": lineno, "id": obj.get("id"), "path": obj.get("path"), "query": obj["query"]})
    if not corpus:
        fail(f"no queries in {args.corpus}")

    print(f"kqlite:  {kqlite}")
    print(f"oracle:  {os.path.normpath(args.oracle)}")
    print(f"corpus:  {os.path.normpath(args.corpus)} ({len(corpus)} queries)")
    print(f"seed {args.seed}, count {args.count}, out {out}")

    # 1. Which corpus queries does the oracle accept?
    with tempfile.TemporaryDirectory(prefix="syntax-agreement-") as scratch:
        corpus_in = Path(scratch) / "corpus.jsonl"
        write_jsonl(corpus_in, [{"query": c["query"]} for c in corpus])
        corpus_res = run_jsonl("oracle", [str(args.oracle), "--jsonl", str(corpus_in)], (0,), len(corpus), None)
    pool = [c for c, r in zip(corpus, corpus_res) if r["ok"]]
    print(f"oracle accepts {len(pool)} of {len(corpus)} corpus queries")
    if not pool:
        fail("the oracle accepts none of the corpus queries")

    # 2. Pick queries and mutate each once.
    rng = random.Random(args.seed)
    order: list[dict] = []
    mutants: list[dict] = []
    attempts = 0
    while len(mutants) < args.count:
        if not order:
            order = rng.sample(pool, len(pool))  # without replacement while the pool lasts
        src = order.pop()
        attempts += 1
        if attempts > 50 * args.count:
            fail("could not produce enough mutants (queries too short?)")
        m = mutate(src["query"], rng)
        if m is None:
            continue
        new, info, (start, old_end, new_end) = m
        assert new[:start] == src["query"][:start] and new[new_end:] == src["query"][old_end:]
        line = src["query"].count("\n", 0, start) + 1
        info.update({"line": line, "before": snippet(src["query"], start, old_end), "after": snippet(new, start, new_end)})
        mutants.append({
            "query": new,
            "mutation": info,
            "source_line": src["line"],
            "source_id": src["id"],
            "source_path": src["path"],
            "original_query": src["query"],
        })

    mutants_path = out / "mutants.jsonl"
    write_jsonl(mutants_path, mutants)

    # 3. Run both parsers once on all mutants.
    n = len(mutants)
    oracle_res = run_jsonl("oracle", [str(args.oracle), "--jsonl", str(mutants_path)], (0,), n,
                           out / "oracle_results.jsonl")
    kq_res = run_jsonl("kqlite", [str(kqlite), "check", "--syntax-only", "--jsonl", str(mutants_path)], (0, 1), n,
                       out / "kqlite_results.jsonl")
    for i, r in enumerate(kq_res, 1):
        if r.get("stage") == "input":
            fail(f"kqlite could not read mutant {i}: {r.get('errors')}")

    # 4. Compare.
    table = {(True, True): 0, (False, False): 0, (True, False): 0, (False, True): 0}
    by_kind = {k: {"n": 0, "agree": 0, "kq_acc_or_rej": 0, "kq_rej_or_acc": 0} for k in MUTATION_KINDS}
    disagreements: list[dict] = []
    for i, (m, o, k) in enumerate(zip(mutants, oracle_res, kq_res), 1):
        table[(k["ok"], o["ok"])] += 1
        stats = by_kind[m["mutation"]["kind"]]
        stats["n"] += 1
        if k["ok"] == o["ok"]:
            stats["agree"] += 1
            continue
        stats["kq_acc_or_rej" if k["ok"] else "kq_rej_or_acc"] += 1
        disagreements.append({
            "mutant": i,
            "direction": "kqlite accepts, oracle rejects" if k["ok"] else "kqlite rejects, oracle accepts",
            "mutation": m["mutation"],
            "source_line": m["source_line"],
            "source_id": m["source_id"],
            "source_path": m["source_path"],
            "query": m["query"],
            "original_query": m["original_query"],
            "kqlite": k,
            "oracle": o,
        })
    write_jsonl(out / "disagreements.jsonl", disagreements)

    agree = table[(True, True)] + table[(False, False)]
    pct = 100.0 * agree / n
    w = len(str(n))
    print()
    print(f"mutants:   {n} (delete {by_kind['delete']['n']}, insert {by_kind['insert']['n']}, swap {by_kind['swap']['n']})")
    print(f"agreement: {agree}/{n} = {pct:.2f}%  (threshold {args.min_agreement:.2f}%)")
    print()
    print(f"{'':16}{'oracle accepts':>16}{'oracle rejects':>16}")
    print(f"{'kqlite accepts':16}{table[(True, True)]:>16}{table[(True, False)]:>16}")
    print(f"{'kqlite rejects':16}{table[(False, True)]:>16}{table[(False, False)]:>16}")
    print()
    print(f"  both accept:                    {table[(True, True)]:>{w}}")
    print(f"  both reject:                    {table[(False, False)]:>{w}}")
    print(f"  kqlite accepts, oracle rejects: {table[(True, False)]:>{w}}")
    print(f"  kqlite rejects, oracle accepts: {table[(False, True)]:>{w}}")
    print()
    print("by mutation kind:      n   agree   kq-acc/or-rej   kq-rej/or-acc")
    for kind, s in by_kind.items():
        print(f"  {kind:8}{s['n']:>12}{s['agree']:>8}{s['kq_acc_or_rej']:>16}{s['kq_rej_or_acc']:>16}")

    if disagreements:
        shown = disagreements[:SHOWN_DISAGREEMENTS]
        print()
        print(f"first {len(shown)} of {len(disagreements)} disagreements (the change is marked \u27e6...\u27e7):")
        for d in shown:
            mu = d["mutation"]
            print(f"#{d['mutant']} {mu['description']} (corpus line {d['source_line']}, query line {mu['line']})")
            print(f"    before: {mu['before']}")
            print(f"    after:  {mu['after']}")
            print(f"    kqlite {verdict('kqlite', d['kqlite'])}; oracle {verdict('oracle', d['oracle'])}")

    print()
    print(f"wrote {mutants_path}, {out / 'oracle_results.jsonl'}, {out / 'kqlite_results.jsonl'}, "
          f"{out / 'disagreements.jsonl'}")

    if pct < args.min_agreement:
        print(f"FAIL: agreement {pct:.2f}% is below --min-agreement {args.min_agreement:.2f}%")
        return 1
    print(f"OK: agreement {pct:.2f}% >= {args.min_agreement:.2f}%")
    return 0


if __name__ == "__main__":
    sys.exit(main())
