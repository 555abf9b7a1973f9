"""Runs the SQL benchmark's queries in DuckDB over the Parquet files a Delta table version
holds, for `sql_bench.rs`.

Input (JSON on stdin):
  {"threads": 2, "runs": 5,
   "views": {"logs": {"files": [...], "hive": true}, ...},
   "queries": [{"name": "...", "sql": "..."}, ...]}
Output (JSON on stdout): one object per query, in order:
  {"name": "...", "ms": [run times], "rows": ["a|b|c", ...]}
Each query runs once to warm up, then `runs` times; the rows are the last run's, each
value as text and joined with "|".
"""

import json
import sys
import time

import duckdb


def text(value):
    if value is None:
        return "NULL"
    return str(value)


def main():
    spec = json.load(sys.stdin)
    con = duckdb.connect()
    con.execute(f"SET threads = {int(spec['threads'])}")
    for name, view in spec["views"].items():
        files = ", ".join("'" + f.replace("'", "''") + "'" for f in view["files"])
        hive = "true" if view.get("hive") else "false"
        con.execute(
            f"CREATE VIEW {name} AS SELECT * FROM read_parquet([{files}], hive_partitioning = {hive})"
        )
    results = []
    for query in spec["queries"]:
        con.execute(query["sql"]).fetchall()
        times = []
        rows = []
        for _ in range(int(spec["runs"])):
            started = time.perf_counter()
            rows = con.execute(query["sql"]).fetchall()
            times.append((time.perf_counter() - started) * 1000.0)
        results.append(
            {
                "name": query["name"],
                "ms": times,
                "rows": ["|".join(text(v) for v in row) for row in rows],
            }
        )
    json.dump(results, sys.stdout)


if __name__ == "__main__":
    main()
