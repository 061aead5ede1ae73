"""Run queries in DuckDB over a run directory's Parquet files; print results as JSON.

stdin: {"dir": "...", "tables": ["configs", ...], "queries": ["SELECT ...", ...]}
stdout: [{"rows": [[value, ...], ...]} | {"error": "message"}, ...]

Values: null, booleans, integers, strings as JSON; floats as numbers except NaN and infinities
({"float": "nan"}); decimals as floats; timestamps as microseconds since the epoch.
"""

import datetime
import decimal
import json
import math
import sys

try:
    import duckdb
except ImportError:
    print("DUCKDB_MISSING: the differential tests need DuckDB's Python package: pip install duckdb")
    sys.exit(3)

EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def encode(value):
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, decimal.Decimal):
        value = float(value)
    if isinstance(value, float):
        if math.isnan(value) or math.isinf(value):
            return {"float": repr(value)}
        return value
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        return (value - EPOCH) // datetime.timedelta(microseconds=1)
    return {"other": repr(value)}


def main():
    request = json.load(sys.stdin)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    for table in request["tables"]:
        path = f"{request['dir']}/{table}.parquet".replace("'", "''")
        con.execute(f'CREATE VIEW "{table}" AS SELECT * FROM read_parquet(\'{path}\')')
    results = []
    for sql in request["queries"]:
        try:
            rows = con.execute(sql).fetchall()
            results.append({"rows": [[encode(v) for v in row] for row in rows]})
        except Exception as exc:  # noqa: BLE001 - every failure is reported to the Rust side
            results.append({"error": f"{type(exc).__name__}: {exc}"})
    json.dump(results, sys.stdout)


main()
