#!/usr/bin/env python3
"""Benchmark: the T1021 rule (rules/T1021-remote-services.kql, the seed
query of issue 17) in kqlite, against DuckDB running a hand-written SQL
equivalent and Polars running a hand-written lazy query, on the same
generated Parquet files, in the same run.

    pip install duckdb polars pyarrow
    CARGO_TARGET_DIR=/work/target-release cargo build --release -p kqlite-cli
    python3 bench/t1021_bench.py [--security-events 1000000] [--device-events 200000] \\
        [--runs 5] [--data /work/t1021-data] [--kqlite PATH]

Data: SecurityEvent.parquet and DeviceLogonEvents.parquet, generated with a
fixed seed into --data (kept there, and regenerated only when the row counts
differ) or into a temporary directory.

Each tool runs as a whole process, from start-up to the last byte of the
full result written to stdout as CSV (stdout is a file, read afterwards):

  kqlite   `kqlite query -f rules/T1021-remote-services.kql --format csv
           --now ... --table=SecurityEvent=... --table=DeviceLogonEvents=...`
  DuckDB   `python3 DATA/t1021_duckdb.py`: imports duckdb, runs the SQL
           of `duckdb_sql` as `COPY (...) TO '/dev/stdout' (FORMAT csv)`
  Polars   `python3 DATA/t1021_polars.py`: imports polars, builds the lazy
           query from `pl.scan_parquet`, `.collect()`s it, `write_csv`s it

The two Python scripts are written next to the data, so any one can be
rerun by hand. Rounds (--runs, 5 by default) interleave the tools, one run
each a round, and rotate their order from round to round, so that each
comparison is made under the same conditions (a shared 2-core VM's speed
drifts over minutes) and no tool always runs first or last.

Prints every round's wall time, CPU seconds (user + system, all threads)
and peak RSS (of the process itself, from wait4, in a small spawner process:
see SPAWNER) for each tool, with the round's ratios, then the medians and
the ratios of medians. Targets (issue 17):

  kqlite / DuckDB   median wall time ratio <= 0.8
  kqlite / Polars   median wall time ratio <  1.0

each printed as "met" or "MISSED" (the exit status does not depend on them).

Identical rows: before the rounds, an independent plain-Python reference
(pyarrow only reads the Parquet columns into Python lists; the rule itself
is plain loops and dicts, no DuckDB or Polars) computes the rule's result.
The first round's output of each tool is parsed and compared with it as a
multiset of rows, with each row's sets (TargetHosts, LogonTypes) sorted,
since set order is undefined, and datetimes as nanoseconds since the epoch,
since each tool prints them its own way. The script prints the row count
and, for each tool, whether its rows equal the reference's (with a few
differing rows when not), and exits with status 1 when any differ.
"""
import argparse
import calendar
import csv
import io
import json
import os
import random
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RULE = ROOT / "rules/T1021-remote-services.kql"
NOW = datetime(2024, 5, 2, 12, 0, 0, tzinfo=timezone.utc)
# The rule's `ago(LookbackWindow)` with `--now NOW`: rows strictly after this.
CUTOFF = NOW - timedelta(hours=24)

USERS = [f"user{i:04d}" for i in range(3000)] + ["Administrator", "svc-backup", "svc-sql", "Backup_Operator",
                                                  "adminuser", "helpdesk01", "SQLService", "WS01$", "ANONYMOUS LOGON"]
HOSTS = [f"SRV{i:04d}" for i in range(500)]
IPS = [f"10.{i // 250}.{i % 250}.{(i * 7) % 250}" for i in range(4000)] + ["127.0.0.1", "::1", "-"]


def generate(directory: Path, security_events: int, device_events: int, seed: int = 1021):
    import pyarrow as pa
    import pyarrow.parquet as pq
    rng = random.Random(seed)
    start = NOW - timedelta(hours=30)
    span = int(timedelta(hours=31).total_seconds())

    def times(n):
        base = int(start.timestamp())
        return [datetime.fromtimestamp(base + rng.randrange(span), tz=timezone.utc) for _ in range(n)]

    se = pa.table({
        "TimeGenerated": pa.array(times(security_events), type=pa.timestamp("ns", tz="UTC")),
        "EventID": pa.array([rng.choice((4624, 4624, 4624, 4625, 4634)) for _ in range(security_events)], type=pa.int32()),
        "LogonType": pa.array([rng.choice((2, 3, 3, 3, 5, 10)) for _ in range(security_events)], type=pa.int32()),
        "IpAddress": [rng.choice(IPS) for _ in range(security_events)],
        "TargetUserName": [rng.choice(USERS) for _ in range(security_events)],
        "TargetDomainName": [rng.choice(("CONTOSO", "FABRIKAM")) for _ in range(security_events)],
        "Computer": [rng.choice(HOSTS) for _ in range(security_events)],
        "ProcessName": [rng.choice(("-", "C:\\Windows\\System32\\svchost.exe", "C:\\Windows\\System32\\lsass.exe"))
                        for _ in range(security_events)],
        "AuthenticationPackageName": [rng.choice(("NTLM", "Kerberos", "Negotiate")) for _ in range(security_events)],
    })
    pq.write_table(se, directory / "SecurityEvent.parquet", row_group_size=128 * 1024)
    dle = pa.table({
        "Timestamp": pa.array(times(device_events), type=pa.timestamp("ns", tz="UTC")),
        "ActionType": [rng.choice(("LogonSuccess", "LogonSuccess", "LogonFailed")) for _ in range(device_events)],
        "LogonType": [rng.choice(("Network", "RemoteInteractive", "Interactive", "NetworkCleartext"))
                      for _ in range(device_events)],
        "RemoteIP": [rng.choice(IPS) for _ in range(device_events)],
        "AccountName": [rng.choice(USERS) for _ in range(device_events)],
        "AccountDomain": [rng.choice(("contoso", "fabrikam")) for _ in range(device_events)],
        "DeviceName": [rng.choice(HOSTS) for _ in range(device_events)],
        "InitiatingProcessFileName": [rng.choice(("lsass.exe", "svchost.exe", "sshd.exe")) for _ in range(device_events)],
    })
    pq.write_table(dle, directory / "DeviceLogonEvents.parquet", row_group_size=128 * 1024)


def has_rows(directory: Path, security_events: int, device_events: int) -> bool:
    """Whether `directory` holds data generated for these row counts."""
    import pyarrow.parquet as pq
    try:
        return (pq.ParquetFile(directory / "SecurityEvent.parquet").metadata.num_rows == security_events
                and pq.ParquetFile(directory / "DeviceLogonEvents.parquet").metadata.num_rows == device_events)
    except OSError:
        return False


# ---------------------------------------------------------------------------
# The rule's semantics, shared by the three peers
#
# `TargetUserName has_any (PrivilegedAccounts)` is Kusto's term match, case
# insensitive: a needle matches where each of its edges that is alphanumeric
# sits on a term boundary (the text's start or end, or a non-alphanumeric
# character). So "Administrator" and "Backup_Operator" match, "adminuser"
# and "SQLService" do not, and "svc-", whose last character is not
# alphanumeric, matches at the start of any term ("svc-sql").
# `hourofday(t) in (range(0, 5))` is hours 0 to 5, both included, in UTC.

PRIVILEGED_ACCOUNTS = ("administrator", "admin", "svc-", "service", "backup")
SUSPICIOUS_HOURS = range(0, 6)
LOCAL_SOURCES = ("127.0.0.1", "::1", "-")  # the SecurityEvent branches'; MDE's omits "-"
NETWORK_EXCLUDED_ACCOUNTS = ("anonymous logon", "local service", "network service")  # !in~, so lower case
MDE_REMOTE_LOGON_TYPES = ("RemoteInteractive", "Network", "NetworkCleartext")

# has_any as a regular expression for DuckDB (RE2) and Polars (Rust regex):
# `(?i)` for case insensitivity (it folds the classes too); ASCII classes,
# as the generated names are ASCII.
PRIVILEGED_REGEX = r"(?i)(^|[^a-z0-9])(administrator|admin|service|backup)($|[^a-z0-9])|(^|[^a-z0-9])svc-"

# The result's columns, in the rule's order, as kqlite prints them.
COLUMNS = ["TargetUserName", "TargetDomainName", "SourceHost", "LogonCount", "TargetHosts", "TargetHostCount",
           "FirstSeen", "LastSeen", "LogonTypes", "MaxRiskScore"]


# ---------------------------------------------------------------------------
# DuckDB: the rule in SQL, run by a generated script

def sql_security_logons(logon_type_name: str, logon_type: int, directory: Path) -> str:
    """One SecurityEvent branch: successful (4624) logons of one type from a remote source."""
    local = ", ".join(f"'{s}'" for s in LOCAL_SOURCES)
    return f"""\
  SELECT TimeGenerated, Computer, TargetUserName, TargetDomainName, IpAddress AS SourceHost,
         '{logon_type_name}' AS LogonTypeName,
         hour(TimeGenerated) BETWEEN {SUSPICIOUS_HOURS.start} AND {SUSPICIOUS_HOURS.stop - 1} AS IsAfterHours,
         regexp_matches(TargetUserName, '{PRIVILEGED_REGEX}') AS IsPrivilegedAccount
  FROM read_parquet('{directory}/SecurityEvent.parquet')
  WHERE TimeGenerated > TIMESTAMPTZ '{CUTOFF.isoformat()}' AND EventID = 4624 AND LogonType = {logon_type}
    AND IpAddress <> '' AND IpAddress NOT IN ({local})"""


def duckdb_sql(directory: Path) -> str:
    """The rule in SQL. Sets come out as JSON arrays, as kqlite prints them."""
    excluded = ", ".join(f"'{a}'" for a in NETWORK_EXCLUDED_ACCOUNTS)
    mde_types = ", ".join(f"'{t}'" for t in MDE_REMOTE_LOGON_TYPES)
    return f"""\
WITH rdp AS (
{sql_security_logons('RemoteInteractive', 10, directory)}
), net AS (
{sql_security_logons('Network', 3, directory)}
    AND NOT TargetUserName LIKE '%$'
    AND lower(TargetUserName) NOT IN ({excluded})
), mde AS (
  SELECT Timestamp AS TimeGenerated, DeviceName AS Computer, AccountName AS TargetUserName,
         AccountDomain AS TargetDomainName, RemoteIP AS SourceHost, LogonType AS LogonTypeName,
         hour(Timestamp) BETWEEN {SUSPICIOUS_HOURS.start} AND {SUSPICIOUS_HOURS.stop - 1} AS IsAfterHours,
         regexp_matches(AccountName, '{PRIVILEGED_REGEX}') AS IsPrivilegedAccount
  FROM read_parquet('{directory}/DeviceLogonEvents.parquet')
  WHERE Timestamp > TIMESTAMPTZ '{CUTOFF.isoformat()}'
    AND LogonType IN ({mde_types})
    AND RemoteIP <> '' AND RemoteIP NOT IN ('127.0.0.1', '::1') AND ActionType = 'LogonSuccess'
), scored AS (
  SELECT *, CASE WHEN IsAfterHours AND IsPrivilegedAccount THEN 3
                 WHEN IsAfterHours OR IsPrivilegedAccount THEN 2 ELSE 1 END AS RiskScore
  FROM (SELECT * FROM rdp UNION ALL SELECT * FROM net UNION ALL SELECT * FROM mde)
)
SELECT TargetUserName, TargetDomainName, SourceHost, count(*) AS LogonCount,
       to_json(list(DISTINCT Computer)) AS TargetHosts, count(DISTINCT Computer) AS TargetHostCount,
       min(TimeGenerated) AS FirstSeen, max(TimeGenerated) AS LastSeen,
       to_json(list(DISTINCT LogonTypeName)) AS LogonTypes, max(RiskScore) AS MaxRiskScore
FROM scored WHERE RiskScore >= 1
GROUP BY TargetUserName, TargetDomainName, SourceHost
HAVING count(DISTINCT Computer) > 1 OR max(RiskScore) >= 2
ORDER BY MaxRiskScore DESC, TargetHostCount DESC"""


DUCKDB_SCRIPT = '''\
"""The T1021 rule in DuckDB, as a whole process; written by bench/t1021_bench.py."""
import duckdb

connection = duckdb.connect()
# Kusto's datetimes are UTC, and hour() of a TIMESTAMPTZ follows this setting.
connection.execute("SET TimeZone = 'UTC'")
connection.execute(r"""
{copy}
""")
'''


# ---------------------------------------------------------------------------
# Polars: the rule as a lazy query, run by a generated script

POLARS_SCRIPT = '''\
"""The T1021 rule in Polars (lazy), as a whole process; written by bench/t1021_bench.py."""
import sys
from datetime import datetime

import polars as pl

CUTOFF = pl.lit(datetime.fromisoformat({cutoff!r})).cast(pl.Datetime("ns", "UTC"))
PRIVILEGED_REGEX = {privileged!r}
SUSPICIOUS_HOURS = ({hour_first}, {hour_last})
LOCAL_SOURCES = {local_sources!r}
security_events = pl.scan_parquet({security_events!r})
device_events = pl.scan_parquet({device_events!r})


def is_after_hours(time):
    return pl.col(time).dt.hour().is_between(*SUSPICIOUS_HOURS)


def security_logons(logon_type):
    """One SecurityEvent branch: successful (4624) logons of one type from a remote source."""
    return security_events.filter(
        (pl.col("TimeGenerated") > CUTOFF) & (pl.col("EventID") == 4624) & (pl.col("LogonType") == logon_type)
        & (pl.col("IpAddress") != "") & ~pl.col("IpAddress").is_in(LOCAL_SOURCES)
    )


def logons(frame, logon_type_name, user="TargetUserName", time="TimeGenerated", computer="Computer",
           domain="TargetDomainName", source="IpAddress"):
    """The union's common columns."""
    return frame.select(
        pl.col(time).alias("TimeGenerated"), pl.col(computer).alias("Computer"),
        pl.col(user).alias("TargetUserName"), pl.col(domain).alias("TargetDomainName"),
        pl.col(source).alias("SourceHost"), logon_type_name.alias("LogonTypeName"),
        is_after_hours(time).alias("IsAfterHours"),
        pl.col(user).str.contains(PRIVILEGED_REGEX).alias("IsPrivilegedAccount"),
    )


rdp = logons(security_logons(10), pl.lit("RemoteInteractive"))
network = logons(
    security_logons(3).filter(
        ~pl.col("TargetUserName").str.ends_with("$")
        & ~pl.col("TargetUserName").str.to_lowercase().is_in({network_excluded!r})
    ),
    pl.lit("Network"),
)
mde = logons(
    device_events.filter(
        (pl.col("Timestamp") > CUTOFF) & pl.col("LogonType").is_in({mde_types!r})
        & (pl.col("RemoteIP") != "") & ~pl.col("RemoteIP").is_in(["127.0.0.1", "::1"])
        & (pl.col("ActionType") == "LogonSuccess")
    ),
    pl.col("LogonType"), user="AccountName", time="Timestamp", computer="DeviceName",
    domain="AccountDomain", source="RemoteIP",
)
after_hours, privileged = pl.col("IsAfterHours"), pl.col("IsPrivilegedAccount")
risk_score = (pl.when(after_hours & privileged).then(3)
              .when(after_hours | privileged).then(2).otherwise(1))


def json_array(name):
    """A list column as a JSON array: CSV has no lists, and kqlite prints sets as
    JSON. Encodes a one-field struct, {{"name":[...]}}, and keeps the [...]."""
    prefix = len(f'{{{{"{{name}}":')
    return pl.struct(pl.col(name)).struct.json_encode().str.slice(prefix).str.strip_suffix("}}").alias(name)


result = (
    pl.concat([rdp, network, mde])
    .with_columns(risk_score.alias("RiskScore"))
    .filter(pl.col("RiskScore") >= 1)
    .group_by("TargetUserName", "TargetDomainName", "SourceHost")
    .agg(
        pl.len().alias("LogonCount"),
        pl.col("Computer").unique().alias("TargetHosts"),
        pl.col("Computer").n_unique().alias("TargetHostCount"),
        pl.col("TimeGenerated").min().alias("FirstSeen"),
        pl.col("TimeGenerated").max().alias("LastSeen"),
        pl.col("LogonTypeName").unique().alias("LogonTypes"),
        pl.col("RiskScore").max().alias("MaxRiskScore"),
    )
    .filter((pl.col("TargetHostCount") > 1) | (pl.col("MaxRiskScore") >= 2))
    .sort(["MaxRiskScore", "TargetHostCount"], descending=True)
    .with_columns(json_array("TargetHosts"), json_array("LogonTypes"))
    .collect()
)
result.write_csv(sys.stdout.buffer)
'''


def polars_script(directory: Path) -> str:
    return POLARS_SCRIPT.format(
        cutoff=CUTOFF.isoformat(), privileged=PRIVILEGED_REGEX,
        hour_first=SUSPICIOUS_HOURS.start, hour_last=SUSPICIOUS_HOURS.stop - 1,
        local_sources=list(LOCAL_SOURCES), network_excluded=list(NETWORK_EXCLUDED_ACCOUNTS),
        mde_types=list(MDE_REMOTE_LOGON_TYPES),
        security_events=str(directory / "SecurityEvent.parquet"),
        device_events=str(directory / "DeviceLogonEvents.parquet"))


# ---------------------------------------------------------------------------
# The independent reference: plain Python over the Parquet columns

NANOS_PER_SECOND = 10**9
NANOS_PER_HOUR = 3600 * NANOS_PER_SECOND


def epoch_nanos(moment: datetime) -> int:
    return calendar.timegm(moment.utctimetuple()) * NANOS_PER_SECOND + moment.microsecond * 1000


def has_term(text: str, needle: str) -> bool:
    """Kusto's `text has needle`: case insensitive, and each alphanumeric edge
    of the needle on a term boundary. Written without regular expressions, to
    stay independent of the peers' patterns."""
    text, needle = text.lower(), needle.lower()
    left_edge, right_edge = needle[0].isalnum(), needle[-1].isalnum()
    at = text.find(needle)
    while at >= 0:
        end = at + len(needle)
        if ((not left_edge or at == 0 or not text[at - 1].isalnum())
                and (not right_edge or end == len(text) or not text[end].isalnum())):
            return True
        at = text.find(needle, at + 1)
    return False


def read_columns(path: Path, names: list) -> list:
    """The columns as Python lists, datetimes as nanoseconds since the epoch."""
    import pyarrow as pa
    import pyarrow.parquet as pq
    table = pq.read_table(path, columns=names)
    columns = []
    for name in names:
        column = table.column(name)
        if pa.types.is_timestamp(column.type):
            column = column.cast(pa.int64())
        columns.append(column.to_pylist())
    return columns


def reference_rows(directory: Path) -> Counter:
    """The rule's result as a multiset of normalized rows (see `normalized`)."""
    cutoff = epoch_nanos(CUTOFF)
    privileged_cache = {}

    def is_privileged(user):
        if user not in privileged_cache:
            privileged_cache[user] = any(has_term(user, needle) for needle in PRIVILEGED_ACCOUNTS)
        return privileged_cache[user]

    # (user, domain, source) -> [count, hosts, first, last, logon types, max risk]
    groups = {}

    def add(time, computer, user, domain, source, logon_type_name):
        after_hours = (time // NANOS_PER_HOUR) % 24 in SUSPICIOUS_HOURS
        privileged = is_privileged(user)
        risk = 3 if after_hours and privileged else 2 if after_hours or privileged else 1
        if risk < 1:  # the rule's `where RiskScore >= 1`, always true
            return
        group = groups.get((user, domain, source))
        if group is None:
            groups[(user, domain, source)] = [1, {computer}, time, time, {logon_type_name}, risk]
            return
        group[0] += 1
        group[1].add(computer)
        group[2] = min(group[2], time)
        group[3] = max(group[3], time)
        group[4].add(logon_type_name)
        group[5] = max(group[5], risk)

    security = read_columns(directory / "SecurityEvent.parquet",
                            ["TimeGenerated", "EventID", "LogonType", "IpAddress", "TargetUserName",
                             "TargetDomainName", "Computer"])
    for time, event_id, logon_type, source, user, domain, computer in zip(*security):
        if time <= cutoff or event_id != 4624 or not source or source in LOCAL_SOURCES:
            continue
        if logon_type == 10:
            add(time, computer, user, domain, source, "RemoteInteractive")
        elif logon_type == 3:
            if user.endswith("$") or user.lower() in NETWORK_EXCLUDED_ACCOUNTS:
                continue
            add(time, computer, user, domain, source, "Network")

    device = read_columns(directory / "DeviceLogonEvents.parquet",
                          ["Timestamp", "ActionType", "LogonType", "RemoteIP", "AccountName", "AccountDomain",
                           "DeviceName"])
    for time, action, logon_type, source, user, domain, computer in zip(*device):
        if (time <= cutoff or logon_type not in MDE_REMOTE_LOGON_TYPES or not source
                or source in ("127.0.0.1", "::1") or action != "LogonSuccess"):
            continue
        add(time, computer, user, domain, source, logon_type)

    rows = Counter()
    for (user, domain, source), (count, hosts, first, last, logon_types, risk) in groups.items():
        if len(hosts) > 1 or risk >= 2:
            rows[(user, domain, source, count, tuple(sorted(hosts)), len(hosts), first, last,
                  tuple(sorted(logon_types)), risk)] += 1
    return rows


# ---------------------------------------------------------------------------
# Reading the tools' CSV

DATETIME_TEXT = re.compile(r"(\d{4}-\d\d-\d\d)[T ](\d\d):(\d\d):(\d\d)(?:\.(\d{1,9}))?(Z|[+-]\d\d(?::?\d\d)?)?")


def datetime_nanos(text: str) -> int:
    """A datetime as each tool prints it (kqlite `2024-05-01T12:00:01Z`,
    DuckDB `2024-05-01 12:00:01+00`, Polars `...T12:00:01.000000000+0000`)
    as nanoseconds since the epoch."""
    match = DATETIME_TEXT.fullmatch(text)
    if not match:
        raise ValueError(f"not a datetime: {text!r}")
    date, hours, minutes, seconds, fraction, zone = match.groups()
    year, month, day = map(int, date.split("-"))
    nanos = calendar.timegm((year, month, day, int(hours), int(minutes), int(seconds))) * NANOS_PER_SECOND
    nanos += int((fraction or "").ljust(9, "0"))
    if zone and zone != "Z":
        digits = zone[1:].replace(":", "")
        offset = int(digits[:2]) * 3600 + int(digits[2:4] or 0) * 60
        nanos -= (offset if zone[0] == "+" else -offset) * NANOS_PER_SECOND
    return nanos


def normalized(record: list) -> tuple:
    """One CSV record of the result as the reference's row: ints as ints,
    sets (JSON arrays) as sorted tuples, datetimes as epoch nanoseconds."""
    user, domain, source, count, hosts, host_count, first, last, logon_types, risk = record
    return (user, domain, source, int(count), tuple(sorted(json.loads(hosts))), int(host_count),
            datetime_nanos(first), datetime_nanos(last), tuple(sorted(json.loads(logon_types))), int(risk))


def parsed_rows(output: bytes) -> Counter:
    records = list(csv.reader(io.StringIO(output.decode())))
    if not records or records[0] != COLUMNS:
        raise ValueError(f"unexpected header {records[0] if records else None}, expected {COLUMNS}")
    return Counter(normalized(record) for record in records[1:])


def readable(row: tuple) -> tuple:
    """A normalized row with its datetimes as text again, to print."""
    def text(nanos):
        moment = datetime.fromtimestamp(nanos // NANOS_PER_SECOND, tz=timezone.utc)
        return f"{moment:%Y-%m-%dT%H:%M:%S}.{nanos % NANOS_PER_SECOND:09d}Z"
    return row[:6] + (text(row[6]), text(row[7])) + row[8:]


def compare(name: str, output: bytes, reference: Counter) -> bool:
    """Prints whether the tool's rows equal the reference's; True when they do."""
    try:
        rows = parsed_rows(output)
    except (ValueError, json.JSONDecodeError) as error:
        print(f"  {name:7} rows could not be read: {error}")
        return False
    if rows == reference:
        print(f"  {name:7} {sum(rows.values()):,} rows: identical to the reference")
        return True
    extra, missing = rows - reference, reference - rows
    print(f"  {name:7} {sum(rows.values()):,} rows: DIFFERENT "
          f"({sum(extra.values()):,} not in the reference, {sum(missing.values()):,} of the reference missing)")
    for label, differing in (("not in the reference", extra), ("missing", missing)):
        for row in sorted(differing)[:3]:
            print(f"    {label}: {readable(row)}")
    return False


# ---------------------------------------------------------------------------
# Timing

# Runs each command it is sent (one JSON line on stdin: argv, stdout file,
# stderr file) and answers with its wall seconds, exit status and rusage
# (one JSON line on stdout). Why a separate process: on Linux a child's peak
# RSS (ru_maxrss) starts at the RSS of the process it was forked from, and
# this script holds hundreds of MiB after generating the data and computing
# the reference; started first thing, this spawner stays small (~10 MiB), so
# the peak RSS it reports is the command's own.
SPAWNER = r"""
import json, os, subprocess, sys, time
for line in sys.stdin:
    argv, stdout_path, stderr_path = json.loads(line)
    with open(stdout_path, "wb") as stdout, open(stderr_path, "wb") as stderr:
        started = time.perf_counter()
        process = subprocess.Popen(argv, stdout=stdout, stderr=stderr)
        _, status, usage = os.wait4(process.pid, 0)  # wait4, not wait(): the child's own rusage
        wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    print(json.dumps({"wall": wall, "status": process.returncode, "cpu": usage.ru_utime + usage.ru_stime,
                      "rss": usage.ru_maxrss * 1024}), flush=True)
"""


class Spawner:
    """Times commands as whole processes, from the small SPAWNER process."""

    def __init__(self):
        self.process = subprocess.Popen([sys.executable, "-c", SPAWNER], stdin=subprocess.PIPE,
                                        stdout=subprocess.PIPE, text=True)
        self.outputs = Path(tempfile.mkdtemp(prefix="t1021-outputs-"))

    def run(self, name: str, argv: list) -> dict:
        """Runs argv, its stdout written to a file; returns its wall seconds, CPU
        seconds (user + system, all threads), peak RSS bytes and stdout path."""
        stdout, stderr = self.outputs / f"{name}.out", self.outputs / f"{name}.err"
        self.process.stdin.write(json.dumps([argv, str(stdout), str(stderr)]) + "\n")
        self.process.stdin.flush()
        result = json.loads(self.process.stdout.readline())
        if result["status"] != 0:
            message = stderr.read_text(errors="replace")[-3000:]
            self.close()
            sys.exit(f"{name} failed ({result['status']}): {' '.join(argv)}\n{message}")
        result["stdout"] = stdout
        return result

    def close(self):
        self.process.stdin.close()
        self.process.wait()
        shutil.rmtree(self.outputs, ignore_errors=True)


def default_kqlite() -> Path:
    if os.environ.get("CARGO_TARGET_DIR"):
        return Path(os.environ["CARGO_TARGET_DIR"]) / "release/kqlite"
    return Path("/work/target-release/release/kqlite")


def target_line(label: str, ratio: float, met: bool, target: str) -> str:
    return f"  {label:16} {ratio:5.2f}   (target {target}: {'met' if met else 'MISSED'})"


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--security-events", type=int, default=1_000_000)
    parser.add_argument("--device-events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=5, help="interleaved rounds; medians are compared")
    parser.add_argument("--kqlite", default=None,
                        help="kqlite binary (default: $CARGO_TARGET_DIR/release/kqlite, "
                             "else /work/target-release/release/kqlite)")
    parser.add_argument("--data", default=None, help="directory for the generated Parquet files (kept)")
    args = parser.parse_args()
    kqlite = Path(args.kqlite) if args.kqlite else default_kqlite()
    if not kqlite.exists():
        sys.exit(f"{kqlite} not found: build it with `cargo build --release -p kqlite-cli` or pass --kqlite")
    # Before anything here grows (imports, data, reference): see SPAWNER.
    spawner = Spawner()
    import duckdb
    import polars

    directory = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="kqlite-bench-"))
    directory = directory.resolve()
    directory.mkdir(parents=True, exist_ok=True)
    if not has_rows(directory, args.security_events, args.device_events):
        started = time.perf_counter()
        generate(directory, args.security_events, args.device_events)
        print(f"generated in {time.perf_counter() - started:.1f} s")
    print(f"data: {args.security_events:,} SecurityEvent + {args.device_events:,} DeviceLogonEvents rows "
          f"in {directory}; {os.cpu_count()} CPUs")

    duckdb_path, polars_path = directory / "t1021_duckdb.py", directory / "t1021_polars.py"
    copy = f"COPY (\n{duckdb_sql(directory)}\n) TO '/dev/stdout' (FORMAT csv, HEADER)"
    assert '"""' not in copy  # it goes in a raw triple-quoted string
    duckdb_path.write_text(DUCKDB_SCRIPT.format(copy=copy))
    polars_path.write_text(polars_script(directory))
    commands = {
        "kqlite": [str(kqlite), "query", "-f", str(RULE), "--format", "csv",
                   "--now", NOW.strftime("%Y-%m-%dT%H:%M:%SZ"),
                   f"--table=SecurityEvent={directory / 'SecurityEvent.parquet'}",
                   f"--table=DeviceLogonEvents={directory / 'DeviceLogonEvents.parquet'}"],
        "DuckDB": [sys.executable, str(duckdb_path)],
        "Polars": [sys.executable, str(polars_path)],
    }
    print(f"kqlite {kqlite}; DuckDB {duckdb.__version__}; Polars {polars.__version__}; "
          f"Python {sys.version.split()[0]}")

    started = time.perf_counter()
    reference = reference_rows(directory)
    print(f"reference (plain Python): {sum(reference.values()):,} rows in {time.perf_counter() - started:.1f} s")

    names = list(commands)
    results = {name: [] for name in names}
    identical = True
    print("\nrounds (wall s / CPU s / peak RSS MiB; the order rotates each round):")
    for round_number in range(args.runs):
        # Rotate, so that each tool takes each position in turn.
        shift = round_number % len(names)
        order = names[shift:] + names[:shift]
        for name in order:
            results[name].append(spawner.run(name, commands[name]))
        cells = [f"{name} {results[name][-1]['wall']:6.3f} / {results[name][-1]['cpu']:6.3f} / "
                 f"{results[name][-1]['rss'] / 2**20:5.0f}" for name in names]
        kq = results["kqlite"][-1]["wall"]
        print(f"  round {round_number + 1} ({', '.join(order)}): " + "   ".join(cells)
              + f"   kqlite/DuckDB {kq / results['DuckDB'][-1]['wall']:.2f}"
              + f"  kqlite/Polars {kq / results['Polars'][-1]['wall']:.2f}", flush=True)
        if round_number == 0:
            # Round 1's outputs are compared; later rounds overwrite them unread.
            print(f"  rows of round 1 against the reference ({sum(reference.values()):,} rows):")
            for name in names:
                identical &= compare(name, results[name][0]["stdout"].read_bytes(), reference)
    spawner.close()

    medians = {name: {key: statistics.median(r[key] for r in runs) for key in ("wall", "cpu", "rss")}
               for name, runs in results.items()}
    print(f"\nmedians of {args.runs} rounds:")
    print(f"  {'tool':8} {'wall s':>8} {'CPU s':>8} {'peak RSS MiB':>13}")
    for name in names:
        print(f"  {name:8} {medians[name]['wall']:8.3f} {medians[name]['cpu']:8.3f} "
              f"{medians[name]['rss'] / 2**20:13.0f}")
    kq = medians["kqlite"]
    print("\nratios of medians:")
    ratio = kq["wall"] / medians["DuckDB"]["wall"]
    print(target_line("kqlite/DuckDB", ratio, ratio <= 0.8, "<= 0.8"))
    ratio = kq["wall"] / medians["Polars"]["wall"]
    print(target_line("kqlite/Polars", ratio, ratio < 1.0, "< 1.0"))
    print(f"  CPU kqlite/DuckDB {kq['cpu'] / medians['DuckDB']['cpu']:5.2f}   "
          f"CPU kqlite/Polars {kq['cpu'] / medians['Polars']['cpu']:5.2f}")
    print(f"  RSS kqlite/DuckDB {kq['rss'] / medians['DuckDB']['rss']:5.2f}   "
          f"RSS kqlite/Polars {kq['rss'] / medians['Polars']['rss']:5.2f}")
    print(f"\nrows: {'identical for all three tools' if identical else 'DIFFERENT (see above)'}")
    if not identical:
        sys.exit(1)


if __name__ == "__main__":
    main()
