#!/usr/bin/env python3
"""Independent readers of smartsweep's object-store and Delta outputs (run by
tests/storage_delta.rs): the `deltalake` package and DuckDB read a Delta
table, pyarrow reads Parquet from an S3 endpoint, and each compares the rows
with a local Parquet run of the same pipeline. Prints one JSON line.

  read_storage.py delta TABLE_URI EXPECTED_DIR [VERSION]
  read_storage.py s3parquet ENDPOINT BUCKET/PREFIX EXPECTED_DIR
  read_storage.py hive DIR EXPECTED_DIR

S3 credentials and the endpoint come from AWS_* environment variables.
"""
import json
import os
import sys
from collections import Counter

import duckdb
import pyarrow as pa
import pyarrow.dataset as ds
import pyarrow.parquet as pq


def rows(table: pa.Table, columns):
    cols = [table.column(c).to_pylist() for c in columns]
    return Counter(tuple(str(v) for v in r) for r in zip(*cols))


def expected(dir_):
    t = pq.read_table(dir_)
    return t


def compare(got: pa.Table, want: pa.Table):
    columns = sorted(want.column_names)
    assert sorted(got.column_names) == columns, (got.column_names, columns)
    for c in columns:
        g, w = got.schema.field(c).type, want.schema.field(c).type
        if pa.types.is_dictionary(g):
            g = g.value_type
        assert g == w or (pa.types.is_string(w) and (pa.types.is_large_string(g) or pa.types.is_string_view(g))), (c, g, w)
    assert got.num_rows == want.num_rows, (got.num_rows, want.num_rows)
    assert rows(got, columns) == rows(want, columns), "rows differ"


def storage_options():
    keys = {
        "AWS_ACCESS_KEY_ID": "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY": "AWS_SECRET_ACCESS_KEY",
        "AWS_REGION": "AWS_REGION",
        "AWS_ENDPOINT_URL": "AWS_ENDPOINT_URL",
    }
    o = {k: os.environ[v] for k, v in keys.items() if v in os.environ}
    if o.get("AWS_ENDPOINT_URL", "").startswith("http://"):
        o["AWS_ALLOW_HTTP"] = "true"
    o["AWS_S3_ALLOW_UNSAFE_RENAME"] = "true"
    return o


def delta(uri, want_dir, version=None):
    from deltalake import DeltaTable

    opts = storage_options() if uri.startswith("s3://") else None
    dt = DeltaTable(uri, storage_options=opts, version=int(version) if version else None)
    got = dt.to_pyarrow_table()
    want = expected(want_dir)
    compare(got, want)
    # DuckDB over the table's committed files (the dataset deltalake builds
    # from the log: uncommitted parts in the directory are not in it).
    con = duckdb.connect()
    con.register("delta_table", dt.to_pyarrow_dataset())
    con.register("expected", want)
    q = "SELECT count(*), count(DISTINCT record_id), count(start_date) FROM {}"
    got_q = con.execute(q.format("delta_table")).fetchone()
    want_q = con.execute(q.format("expected")).fetchone()
    assert got_q == want_q, (got_q, want_q)
    records = got_q[1]
    history = [h.get("operation") for h in dt.history()]
    print(json.dumps({"rows": got.num_rows, "records": records, "version": dt.version(),
                      "history": history, "files": len(dt.file_uris())}))


def s3parquet(endpoint, path, want_dir):
    from pyarrow import fs

    host = endpoint.split("://", 1)[1]
    s3 = fs.S3FileSystem(
        endpoint_override=host,
        scheme="http",
        access_key=os.environ["AWS_ACCESS_KEY_ID"],
        secret_key=os.environ["AWS_SECRET_ACCESS_KEY"],
        region=os.environ.get("AWS_REGION", "us-east-1"),
    )
    got = ds.dataset(path, filesystem=s3, format="parquet").to_table()
    compare(got, expected(want_dir))
    print(json.dumps({"rows": got.num_rows}))


def hive(dir_, want_dir):
    got = ds.dataset(dir_, format="parquet", partitioning="hive").to_table()
    want = expected(want_dir)
    # Hive partition values come back as strings (or dictionaries): compare as text.
    columns = sorted(want.column_names)
    assert sorted(got.column_names) == columns, (got.column_names, columns)
    assert got.num_rows == want.num_rows, (got.num_rows, want.num_rows)

    def norm(t):
        out = Counter()
        cols = [t.column(c).to_pylist() for c in columns]
        for r in zip(*cols):
            out[tuple("None" if v is None else str(v) for v in r)] += 1
        return out

    assert norm(got) == norm(want), "rows differ"
    print(json.dumps({"rows": got.num_rows}))


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    {"delta": delta, "s3parquet": s3parquet, "hive": hive}[cmd](*args)
