"""Reads every Parquet file of finished runs with Spark, Polars and pandas, without casts, and
checks that they agree with each other on row counts, column names and every value.

Not part of `cargo test` (pyspark and a JVM are large); run it by hand after changing a column
type (README, "Development"):

    python3 -m venv /tmp/readers && /tmp/readers/bin/pip install pyspark polars pandas pyarrow
    frontier run pipelines/quickstart.yaml --out /tmp/runs
    frontier run examples/eval-judge.yaml --out /tmp/runs
    /tmp/readers/bin/python tests/other_readers.py /tmp/runs/*/*/

Needs Java 17 or later on the PATH (or JAVA_HOME) for Spark.
"""

import glob
import math
import os
import sys


def normalise(v):
    """One comparable form per value across readers (NaN equals NaN; lists as tuples)."""
    if v is None:
        return None
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if hasattr(v, "tolist"):  # numpy arrays and scalars from pandas
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return tuple(normalise(x) for x in v)
    if hasattr(v, "timestamp"):  # datetime / pandas Timestamp: microseconds since the epoch
        return round(v.timestamp() * 1_000_000)
    return v


def main(run_dirs):
    import pandas as pd
    import polars as pl
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    files = sorted(f for d in run_dirs for f in glob.glob(os.path.join(d, "*.parquet")))
    if not files:
        sys.exit(f"no Parquet files under {run_dirs}")
    for path in files:
        by_reader = {}
        s = spark.read.parquet(path)
        by_reader["spark"] = (s.columns, [tuple(r) for r in s.collect()])
        p = pl.read_parquet(path)
        by_reader["polars"] = (p.columns, p.rows())
        d = pd.read_parquet(path)
        by_reader["pandas"] = (
            list(d.columns),
            [tuple(None if x is pd.NaT else x for x in r) for r in d.itertuples(index=False)],
        )
        (cols, rows) = by_reader["polars"]
        want = [tuple(normalise(x) for x in r) for r in rows]
        for name, (c, r) in by_reader.items():
            assert c == cols, f"{path}: {name} columns differ: {c} vs {cols}"
            got = [tuple(normalise(x) for x in row) for row in r]
            assert len(got) == len(want), f"{path}: {name} reads {len(got)} rows, polars {len(want)}"
            for i, (a, b) in enumerate(zip(got, want)):
                for col, x, y in zip(cols, a, b):
                    # pandas turns a nullable integer column with nulls into floats (NaN).
                    same = x == y or (
                        name == "pandas" and x == "NaN" and y is None
                    ) or (
                        isinstance(x, float) and isinstance(y, int) and x == y
                    )
                    assert same, f"{path}: row {i} `{col}`: {name} {x!r}, polars {y!r}"
        print(f"{path}: {len(want)} rows x {len(cols)} columns, same in spark, polars, pandas")
    spark.stop()


if __name__ == "__main__":
    main(sys.argv[1:])
