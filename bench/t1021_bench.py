#!/usr/bin/env python3
"""Benchmark: the T1021 rule (rules/T1021-remote-services.kql) in kqlite
against DuckDB running a hand-written SQL equivalent, on the same generated
Parquet files, in the same run.

    pip install duckdb pyarrow
    cargo build --release -p kqlite-cli
    python3 bench/t1021_bench.py [--security-events 1000000] [--device-events 200000] [--runs 3]

Prints the median wall time of each engine, the ratio kqlite/DuckDB (target
<= 1.5) and kqlite's peak RSS (target <= 1 GB). kqlite is timed as a whole
process (start-up, reading Parquet, running, printing); DuckDB is timed
in-process on the query alone, which favours DuckDB.
"""
import argparse
import os
import random
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2024, 5, 2, 12, 0, 0, tzinfo=timezone.utc)

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


# The rule in SQL. `has_any` follows Kusto's term rule: a boundary is needed
# at each needle edge that is alphanumeric ("svc-" only at its start).
PRIVILEGED = r"(^|[^a-z0-9])(administrator|admin|service|backup)($|[^a-z0-9])|(^|[^a-z0-9])svc-"


def security_logons(logon_type_name: str, logon_type: int) -> str:
    """The SELECT of one SecurityEvent logon type's successful remote logons (4624)."""
    return f"""\
  SELECT TimeGenerated, Computer, TargetUserName, TargetDomainName, IpAddress AS SourceHost,
         '{logon_type_name}' AS LogonTypeName,
         hour(TimeGenerated) BETWEEN 0 AND 5 AS IsAfterHours,
         regexp_matches(lower(TargetUserName), '{PRIVILEGED}') AS IsPrivilegedAccount
  FROM read_parquet('{{dir}}/SecurityEvent.parquet')
  WHERE TimeGenerated > TIMESTAMPTZ '{{now}}' - INTERVAL 24 HOUR AND EventID = 4624 AND LogonType = {logon_type}
    AND IpAddress <> '' AND IpAddress NOT IN ('127.0.0.1', '::1', '-')"""


SQL = f"""
WITH rdp AS (
{security_logons('RemoteInteractive', 10)}
), net AS (
{security_logons('Network', 3)}
    AND NOT TargetUserName LIKE '%$'
    AND lower(TargetUserName) NOT IN ('anonymous logon', 'local service', 'network service')
), mde AS (
  SELECT Timestamp AS TimeGenerated, DeviceName AS Computer, AccountName AS TargetUserName,
         AccountDomain AS TargetDomainName, RemoteIP AS SourceHost, LogonType AS LogonTypeName,
         hour(Timestamp) BETWEEN 0 AND 5 AS IsAfterHours,
         regexp_matches(lower(AccountName), '{PRIVILEGED}') AS IsPrivilegedAccount
  FROM read_parquet('{{dir}}/DeviceLogonEvents.parquet')
  WHERE Timestamp > TIMESTAMPTZ '{{now}}' - INTERVAL 24 HOUR
    AND LogonType IN ('RemoteInteractive', 'Network', 'NetworkCleartext')
    AND RemoteIP <> '' AND RemoteIP NOT IN ('127.0.0.1', '::1') AND ActionType = 'LogonSuccess'
), scored AS (
  SELECT *, CASE WHEN IsAfterHours AND IsPrivilegedAccount THEN 3
                 WHEN IsAfterHours OR IsPrivilegedAccount THEN 2 ELSE 1 END AS RiskScore
  FROM (SELECT * FROM rdp UNION ALL SELECT * FROM net UNION ALL SELECT * FROM mde)
)
SELECT TargetUserName, TargetDomainName, SourceHost, count(*) AS LogonCount,
       list(DISTINCT Computer) AS TargetHosts, count(DISTINCT Computer) AS TargetHostCount,
       min(TimeGenerated) AS FirstSeen, max(TimeGenerated) AS LastSeen,
       list(DISTINCT LogonTypeName) AS LogonTypes, max(RiskScore) AS MaxRiskScore
FROM scored WHERE RiskScore >= 1
GROUP BY TargetUserName, TargetDomainName, SourceHost
HAVING count(DISTINCT Computer) > 1 OR max(RiskScore) >= 2
ORDER BY MaxRiskScore DESC, TargetHostCount DESC
"""


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--security-events", type=int, default=1_000_000)
    parser.add_argument("--device-events", type=int, default=200_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--kqlite", default=None, help="kqlite binary (default: the release build)")
    parser.add_argument("--data", default=None, help="directory for the generated Parquet files (kept)")
    args = parser.parse_args()
    target = Path(os.environ.get("CARGO_TARGET_DIR", ROOT / "target"))
    kqlite = Path(args.kqlite) if args.kqlite else target / "release/kqlite"
    if not kqlite.exists():
        sys.exit(f"{kqlite} not found: build it with `cargo build --release -p kqlite-cli` or pass --kqlite")
    import duckdb

    directory = Path(args.data) if args.data else Path(tempfile.mkdtemp(prefix="kqlite-bench-"))
    directory.mkdir(parents=True, exist_ok=True)
    if not (directory / "SecurityEvent.parquet").exists():
        started = time.perf_counter()
        generate(directory, args.security_events, args.device_events)
        print(f"generated {args.security_events:,} SecurityEvent + {args.device_events:,} DeviceLogonEvents rows "
              f"in {time.perf_counter() - started:.1f} s ({directory})")

    now = NOW.strftime("%Y-%m-%dT%H:%M:%SZ")
    rule = ROOT / "rules/T1021-remote-services.kql"
    command = [str(kqlite), "query", "-f", str(rule), "--format", "csv", "--now", now,
               f"--table=SecurityEvent={directory / 'SecurityEvent.parquet'}",
               f"--table=DeviceLogonEvents={directory / 'DeviceLogonEvents.parquet'}"]
    sql = SQL.replace("{dir}", str(directory)).replace("{now}", NOW.strftime("%Y-%m-%d %H:%M:%S+00"))

    kq_times, kq_rss, duck_times = [], [], []
    kq_rows = duck_rows = None
    for _ in range(args.runs):
        started = time.perf_counter()
        process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        stdout = process.stdout.read()
        stderr = process.stderr.read()
        _, status, usage = os.wait4(process.pid, 0)
        kq_times.append(time.perf_counter() - started)
        if status != 0:
            sys.exit(f"kqlite failed:\n{stderr.decode()}")
        kq_rss.append(usage.ru_maxrss * 1024)
        kq_rows = len(stdout.decode().splitlines()) - 1

        connection = duckdb.connect()
        started = time.perf_counter()
        rows = connection.sql(sql).fetchall()
        duck_times.append(time.perf_counter() - started)
        duck_rows = len(rows)
        connection.close()

    kq, duck = statistics.median(kq_times), statistics.median(duck_times)
    print(f"kqlite  {kq:.3f} s (median of {args.runs}), peak RSS {max(kq_rss) / 2**20:.0f} MiB, {kq_rows} result rows")
    print(f"DuckDB  {duck:.3f} s (median of {args.runs}, duckdb {duckdb.__version__}, in-process), {duck_rows} result rows")
    ratio = kq / duck
    print(f"ratio kqlite/DuckDB = {ratio:.2f} (target <= 1.5: {'met' if ratio <= 1.5 else 'MISSED'}); "
          f"peak RSS target <= 1 GiB: {'met' if max(kq_rss) <= 2**30 else 'MISSED'}")
    if kq_rows != duck_rows:
        print(f"WARNING: result row counts differ (kqlite {kq_rows}, DuckDB {duck_rows})")


if __name__ == "__main__":
    main()
