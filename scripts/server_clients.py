#!/usr/bin/env python3
"""Drives a running `kqlite serve` with the real clients analysts use:
azure-kusto-data (no authentication, or a token provider) and
azure-monitor-query's LogsQueryClient, plus Grafana's raw request shapes.

The server must serve database `evidence` holding table LocalEvents
(TimeGenerated, Account, Count) with rows at 2024-01-01 (alice, 3) and
2024-01-02 (bob, 5), with --now 2024-01-03T00:00:00Z; the Rust test
crates/kqlite-cli/tests/serve.rs starts it so.

    server_clients.py --url http://127.0.0.1:PORT [--token TOKEN]

With --token the Kusto client authenticates with a token provider and a
client without it must be refused (401). Prints one line per check and
`N passed, N failed`; exits 1 when a check failed.
"""

import argparse
import datetime as dt
import json
import math
import sys
import time
import traceback
import uuid
from decimal import Decimal

import requests
from azure.core.credentials import AccessToken
from azure.core.exceptions import HttpResponseError
from azure.kusto.data import ClientRequestProperties, KustoClient, KustoConnectionStringBuilder
from azure.kusto.data.exceptions import KustoServiceError
from azure.monitor.query import LogsQueryClient, LogsQueryStatus

DB = "evidence"
TYPES_QUERY = (
    "print dt=datetime(2024-01-02T03:04:05.1234567Z), ts=1d + 2h + 3s + 4ms, dyn=dynamic({'a':[1,2,{'b':null}]}), "
    "big=9007199254740993, nan=real(nan), inf=real(+inf), g=guid(0f8fad5b-d9cb-469f-a165-70867728950e), "
    "dec=decimal(12.5), nul=long(null), b=true, i=int(7), s='text'"
)

results = []


def check(name):
    def wrap(function):
        def run(*args):
            try:
                function(*args)
                results.append((name, None))
                print(f"ok    {name}")
            except Exception as error:  # each check reports, the rest still run
                results.append((name, error))
                print(f"FAIL  {name}: {error!r}")
                traceback.print_exc(file=sys.stdout)

        return run

    return wrap


@check("execute_query decodes every type")
def types(client):
    rows = list(client.execute_query(DB, TYPES_QUERY).primary_results[0])
    assert len(rows) == 1, rows
    row = rows[0]
    assert row["dt"] == dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.timezone.utc), row["dt"]
    assert row["ts"] == dt.timedelta(days=1, hours=2, seconds=3, milliseconds=4), row["ts"]
    assert row["dyn"] == {"a": [1, 2, {"b": None}]}, row["dyn"]
    assert row["big"] == 2**53 + 1 and isinstance(row["big"], int), row["big"]
    # The client leaves a real's NaN/Infinity as ADX's strings; float() reads them.
    assert math.isnan(float(row["nan"])), row["nan"]
    assert float(row["inf"]) == math.inf, row["inf"]
    assert uuid.UUID(row["g"]) == uuid.UUID("0f8fad5b-d9cb-469f-a165-70867728950e"), row["g"]
    assert row["dec"] == Decimal("12.5"), row["dec"]
    assert row["nul"] is None, row["nul"]
    assert row["b"] is True and row["i"] == 7 and row["s"] == "text", row.to_dict()
    table = client.execute_query(DB, TYPES_QUERY).primary_results[0]
    kinds = {c.column_name: c.column_type for c in table.columns}
    assert kinds == {
        "dt": "datetime", "ts": "timespan", "dyn": "dynamic", "big": "long", "nan": "real", "inf": "real",
        "g": "guid", "dec": "decimal", "nul": "long", "b": "bool", "i": "int", "s": "string",
    }, kinds


@check("execute_query over the served table")
def table_rows(client):
    rows = list(client.execute_query(DB, "LocalEvents | order by TimeGenerated asc").primary_results[0])
    assert [(r["Account"], r["Count"]) for r in rows] == [("alice", 3), ("bob", 5)], rows


@check("execute_streaming_query")
def streaming(client):
    result = client.execute_streaming_query(DB, "range x from 1 to 2500 step 1 | extend y = x * 2")
    count = 0
    total = 0
    for table in result.iter_primary_results():
        for row in table:
            count += 1
            total += row["y"]
    assert count == 2500 and total == 2500 * 2501, (count, total)


@check("execute_mgmt .show commands")
def mgmt(client):
    databases = client.execute_mgmt(DB, ".show databases").primary_results[0]
    names = [c.column_name for c in databases.columns]
    assert names[0] == "DatabaseName" and names[5] == "PrettyName", names
    assert [r[0] for r in databases] == [DB], list(databases)
    assert list(client.execute_mgmt(DB, ".show databases | count").primary_results[0])[0][0] == 1
    projected = client.execute_mgmt(DB, ".show databases | project DatabaseName, PrettyName").primary_results[0]
    assert [c.column_name for c in projected.columns] == ["DatabaseName", "PrettyName"]
    tables = [r["TableName"] for r in client.execute_mgmt(DB, ".show tables").primary_results[0]]
    assert tables == ["LocalEvents"], tables
    assert list(client.execute_mgmt(DB, ".show tables | count").primary_results[0])[0][0] == 1
    schema = client.execute_mgmt(DB, f".show database ['{DB}'] schema").primary_results[0]
    columns = {(r["TableName"], r["ColumnName"]): r["ColumnType"] for r in schema if r["ColumnName"]}
    assert columns[("LocalEvents", "TimeGenerated")] == "System.DateTime", columns
    document = json.loads(list(client.execute_mgmt(DB, f".show database {DB} schema as json").primary_results[0])[0][0])
    ordered = document["Databases"][DB]["Tables"]["LocalEvents"]["OrderedColumns"]
    assert [c["CslType"] for c in ordered] == ["datetime", "string", "long"], ordered
    document = json.loads(list(client.execute_mgmt(DB, ".show databases schema as json").primary_results[0])[0][0])
    assert list(document["Databases"]) == [DB], document
    version = client.execute_mgmt(DB, ".show version").primary_results[0]
    assert [c.column_name for c in version.columns][0] == "BuildVersion"
    client.execute_mgmt(DB, ".show functions")


@check("a syntax error raises KustoServiceError, recognised as semantic")
def semantic(client):
    try:
        client.execute_query(DB, "LocalEvents | where")
    except KustoServiceError as error:
        assert error.is_semantic_error(), error
        return
    raise AssertionError("no exception")


@check("an unknown table raises a semantic error")
def unknown_table(client):
    try:
        client.execute_query(DB, "NoSuchTable | count")
    except KustoServiceError as error:
        assert error.is_semantic_error() and "NoSuchTable" in str(error), error
        return
    raise AssertionError("no exception")


@check("query parameters")
def parameters(client):
    properties = ClientRequestProperties()
    properties.set_parameter("who", "bob")
    properties.set_parameter("least", "4")
    properties.set_parameter("since", "datetime(2024-01-01T12:00:00Z)")
    query = (
        "declare query_parameters(who: string, least: long, since: datetime, unused: string = 'x');\n"
        "LocalEvents | where Account == who and Count >= least and TimeGenerated > since | project Account, unused"
    )
    rows = list(client.execute_query(DB, query, properties).primary_results[0])
    assert [(r["Account"], r["unused"]) for r in rows] == [("bob", "x")], rows
    properties.set_parameter("who", "x' or 1 == 1 or Account == '")
    rows = list(client.execute_query(DB, query, properties).primary_results[0])
    assert rows == [], "a string parameter is a value, never query text"


@check("servertimeout option is accepted")
def server_timeout(client):
    properties = ClientRequestProperties()
    properties.set_option(ClientRequestProperties.request_timeout_option_name, dt.timedelta(minutes=1))
    rows = list(client.execute_query(DB, "LocalEvents | count", properties).primary_results[0])
    assert rows[0][0] == 2


# Minutes of work (10^10 rows of a range x mv-expand cross product), for the timeout checks.
MINUTES_OF_WORK = (
    "range x from 1 to 100000000 step 1 | extend a = range(1, 100, 1) | mv-expand a | summarize sum(tolong(a))"
)


@check("a query past its 1 s servertimeout raises the client's timeout error in about a second")
def server_timeout_exceeded(client):
    properties = ClientRequestProperties()
    properties.set_option(ClientRequestProperties.request_timeout_option_name, dt.timedelta(seconds=1))
    started = time.monotonic()
    try:
        client.execute_query(DB, MINUTES_OF_WORK, properties)
    except KustoServiceError as error:
        elapsed = time.monotonic() - started
        response = error.get_raw_http_response()
        assert response is not None and response.status_code == 408, error
        assert response.json()["error"]["@type"] == "Kusto.Data.Exceptions.QueryTimeoutException", response.text
        assert "time budget" in str(error), error
        assert elapsed < 6, f"answered after {elapsed:.1f} s"
        return
    raise AssertionError("no exception")


@check("unknown database raises KustoServiceError")
def unknown_database(client):
    try:
        client.execute_query("NoSuchDatabase", "print 1")
    except KustoServiceError as error:
        assert "NoSuchDatabase" in str(error), error
        return
    raise AssertionError("no exception")


def kusto_client(url, token):
    if token is None:
        return KustoClient(KustoConnectionStringBuilder.with_no_authentication(url))
    return KustoClient(KustoConnectionStringBuilder.with_token_provider(url, lambda: token))


@check("a client without the token is refused (401)")
def refused(url):
    try:
        kusto_client(url, None).execute_query(DB, "print 1")
    except KustoServiceError as error:
        response = error.get_raw_http_response()
        assert response is not None and response.status_code == 401, error
        return
    raise AssertionError("no exception")


@check("Grafana: v1 query with lowercase options, schema as a JSON string cell")
def grafana(url, token):
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    body = {
        "db": DB,
        "csl": "LocalEvents | summarize n = sum(Count)",
        "properties": {"options": {"servertimeout": "00:02:00", "truncationmaxrecords": 10}},
        "querySource": "schema",
    }
    response = requests.post(f"{url}/v1/rest/query", json=body, headers=headers, timeout=30)
    assert response.status_code == 200, response.text
    table = response.json()["Tables"][0]
    assert table["Columns"] == [{"ColumnName": "n", "DataType": "Int64", "ColumnType": "long"}], table
    assert table["Rows"] == [[8]], table
    body = {"db": DB, "csl": ".show databases schema as json", "properties": {"options": {}}}
    response = requests.post(f"{url}/v1/rest/mgmt", json=body, headers=headers, timeout=30)
    cell = response.json()["Tables"][0]["Rows"][0][0]
    assert isinstance(cell, str), cell
    columns = json.loads(cell)["Databases"][DB]["Tables"]["LocalEvents"]["OrderedColumns"]
    assert [c["Name"] for c in columns] == ["TimeGenerated", "Account", "Count"], columns


class StaticCredential:
    """Any TokenCredential works against a local server."""

    def __init__(self, token):
        self.token = token

    def get_token(self, *scopes, **kwargs):
        return AccessToken(self.token, 2**31 - 1)


@check("LogsQueryClient: tables, types, timespan, error codes")
def logs(url, token):
    client = LogsQueryClient(StaticCredential(token or "unused"), endpoint=url)
    query = "LocalEvents | project TimeGenerated, Account, Count, Extra = dynamic({'k': 1})"
    result = client.query_workspace("00000000-0000-0000-0000-000000000000", query, timespan=None, enforce_https=False)
    assert result.status == LogsQueryStatus.SUCCESS, result
    table = result.tables[0]
    assert table.columns == ["TimeGenerated", "Account", "Count", "Extra"], table.columns
    assert table.columns_types == ["datetime", "string", "long", "dynamic"], table.columns_types
    rows = sorted(tuple(r) for r in table.rows)
    assert rows[0][0] == dt.datetime(2024, 1, 1, tzinfo=dt.timezone.utc), rows
    assert [r[1:3] for r in rows] == [("alice", 3), ("bob", 5)], rows
    # The server's now is 2024-01-03: the last 30 hours hold bob's row only.
    last = client.query_workspace(DB, "LocalEvents", timespan=dt.timedelta(hours=30), enforce_https=False)
    assert [r["Account"] for r in last.tables[0].rows] == ["bob"], last.tables[0].rows
    start = dt.datetime(2023, 12, 31, tzinfo=dt.timezone.utc)
    interval = client.query_workspace(
        DB, "LocalEvents | count", timespan=(start, dt.datetime(2024, 1, 1, 12, tzinfo=dt.timezone.utc)),
        enforce_https=False,
    )
    assert interval.tables[0].rows[0][0] == 1, interval.tables[0].rows
    around = client.query_workspace(DB, "LocalEvents | count", timespan=(start, dt.timedelta(days=5)), enforce_https=False)
    assert around.tables[0].rows[0][0] == 2, around.tables[0].rows
    try:
        client.query_workspace(DB, "LocalEvents | where", timespan=None, enforce_https=False)
    except HttpResponseError as error:
        assert error.status_code == 400, error.status_code
        assert error.error.code == "BadArgumentError", error.error
        assert "Semantic error" in error.message, error.message
    else:
        raise AssertionError("no exception")


@check("LogsQueryClient: include_visualization and include_statistics (Prefer: include-render, include-statistics)")
def logs_render(url, token):
    client = LogsQueryClient(StaticCredential(token or "unused"), endpoint=url)
    query = "LocalEvents | summarize n = sum(Count) by Account | render barchart with (title='Counts')"
    result = client.query_workspace(
        DB, query, timespan=None, include_visualization=True, include_statistics=True, enforce_https=False,
    )
    assert result.status == LogsQueryStatus.SUCCESS, result
    assert result.visualization["visualization"] == "barchart", result.visualization
    assert result.visualization["title"] == "Counts", result.visualization
    assert result.visualization["kind"] == "default", result.visualization
    assert isinstance(result.statistics["query"]["executionTime"], float), result.statistics
    # Not asked for: neither is sent.
    plain = client.query_workspace(DB, query, timespan=None, enforce_https=False)
    assert plain.visualization is None and plain.statistics is None, (plain.visualization, plain.statistics)


@check("LogsQueryClient: server_timeout (Prefer: wait) past its budget is 504 GatewayTimeout")
def logs_timeout(url, token):
    client = LogsQueryClient(StaticCredential(token or "unused"), endpoint=url)
    started = time.monotonic()
    try:
        # retry_total=0: azure-core retries a 504 by default, as it would against Azure.
        client.query_workspace(DB, MINUTES_OF_WORK, timespan=None, server_timeout=1, enforce_https=False, retry_total=0)
    except HttpResponseError as error:
        elapsed = time.monotonic() - started
        assert error.status_code == 504, error.status_code
        assert error.error.code == "GatewayTimeout", error.error
        assert elapsed < 6, f"answered after {elapsed:.1f} s"
    else:
        raise AssertionError("no exception")


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True)
    parser.add_argument("--token")
    args = parser.parse_args()
    client = kusto_client(args.url, args.token)
    for run in (types, table_rows, streaming, mgmt, semantic, unknown_table, parameters, server_timeout, server_timeout_exceeded,
                unknown_database):
        run(client)
    if args.token:
        refused(args.url)
    grafana(args.url, args.token)
    logs(args.url, args.token)
    logs_render(args.url, args.token)
    logs_timeout(args.url, args.token)
    failed = sum(1 for _, error in results if error is not None)
    print(f"{len(results) - failed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
