#!/usr/bin/env python3
"""Read smartsweep's output with the tools users read it with.

Runs the shipped medications and drug_names pipelines against the embedded
sandbox, then reads the Parquet parts with pyarrow and DuckDB and the CSV parts
with DuckDB, checking the column types (`start_date` is a DATE) and that the
row counts match `_manifest.json`.

Usage: read_output.py PATH/TO/smartsweep
"""
import json
import os
import subprocess
import sys
import tempfile

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {name} {detail}", file=sys.stderr)


def run(binary, pipeline, out, *extra):
    env = dict(os.environ)
    env.pop("SMARTSWEEP_CONSUMER_SECRET", None)
    r = subprocess.run(
        [binary, "run", pipeline, "--quiet", "--sandbox-records", "200", "--output", out, *extra],
        capture_output=True,
        text=True,
        env=env,
    )
    check(f"{pipeline} exits 0", r.returncode == 0, r.stderr)
    with open(os.path.join(out, "_manifest.json")) as f:
        return json.load(f)


def main():
    binary = sys.argv[1]
    with tempfile.TemporaryDirectory() as d:
        meds = os.path.join(d, "medications")
        m = run(binary, "pipelines/medications.toml", meds)
        t = pq.read_table(meds)  # the directory: _-prefixed files are skipped
        check("pyarrow rows = manifest rows", t.num_rows == m["rows"], (t.num_rows, m["rows"]))
        s = t.schema
        check("record_id first", s.names[0] == "record_id", s.names)
        check("start_date is date32", s.field("start_date").type == pa.date32(), s)
        check("end_date is date32", s.field("end_date").type == pa.date32(), s)
        check("quantity is double", s.field("quantity").type == pa.float64(), s)
        meta = pq.read_metadata(os.path.join(meds, "part-00000.parquet")).metadata
        check("pipeline name in key-value metadata", meta.get(b"smartsweep.pipeline") == b"medications", meta)
        check("zstd", pq.ParquetFile(os.path.join(meds, "part-00000.parquet")).metadata.row_group(0).column(0).compression == "ZSTD")

        con = duckdb.connect()
        glob = os.path.join(meds, "*.parquet")
        types = {r[0]: r[1] for r in con.execute(f"DESCRIBE SELECT * FROM read_parquet('{glob}')").fetchall()}
        check("DuckDB sees start_date as DATE", types.get("start_date") == "DATE", types)
        check("DuckDB sees quantity as DOUBLE", types.get("quantity") == "DOUBLE", types)
        n = con.execute(f"SELECT count(*) FROM read_parquet('{glob}')").fetchone()[0]
        check("DuckDB rows = manifest rows", n == m["rows"], (n, m["rows"]))
        recent = con.execute(
            f"SELECT count(*) FROM read_parquet('{glob}') WHERE start_date >= DATE '2000-01-01'"
        ).fetchone()[0]
        check("date comparisons work in DuckDB", 0 < recent <= n, recent)

        csv = os.path.join(d, "medications_csv")
        m = run(binary, "pipelines/medications.toml", csv, "--format", "csv", "--part-records", "50")
        cglob = os.path.join(csv, "part-*.csv")
        n = con.execute(f"SELECT count(*) FROM read_csv('{cglob}', header=true)").fetchone()[0]
        check("DuckDB reads every CSV part (a header in each)", n == m["rows"], (n, m["rows"]))
        ctypes = dict((r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM read_csv('{cglob}', header=true)").fetchall())
        check("CSV start_date sniffed as DATE", ctypes.get("start_date") == "DATE", ctypes)

        names = os.path.join(d, "drug_names")
        m = run(binary, "pipelines/drug_names.toml", names)
        top = con.execute(
            f"SELECT drugname, count(DISTINCT record_id) AS patients FROM read_parquet('{os.path.join(names, '*.parquet')}') GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 3"
        ).fetchall()
        check("a drug-name league table", len(top) == 3 and top[0][1] >= top[-1][1], top)
    print(f"read_output: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
