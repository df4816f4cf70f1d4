#!/usr/bin/env python3
"""Every table of pipelines/population.toml against rdflib.

An independent client (requests-oauthlib signs, see walk_sandbox.py) walks
`smartsweep sandbox --records N` and writes every resource of every record
to `DIR/<resource>/<record_id>.rdf`. A second sandbox serves those files
verbatim (`--from-dir DIR`), `smartsweep run pipelines/population.toml`
exports them, and for each table rdflib runs the table's own SPARQL over the
same bytes. The typed values are normalised the way the pipeline's column
types say (XML Schema lexical forms: a date is `YYYY-MM-DD` with an optional
zone or time, anything else null; int64 and float64 their lexical forms),
and each table's rows must be the same multiset as what pyarrow reads from
the table's Parquet parts.

Usage: population_rdflib.py PATH/TO/smartsweep
"""
import datetime
import math
import os
import re
import subprocess
import sys
import tempfile
import time
import tomllib
from collections import Counter
from concurrent.futures import ProcessPoolExecutor

import pyarrow.parquet as pq
import rdflib
from rdflib.plugins.sparql import prepareQuery

import walk_sandbox as walk

RECORDS = 60
ROOT = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
POPULATION = os.path.join(ROOT, "pipelines", "population.toml")

DATE = re.compile(r"^(\d{4,})-(\d\d)-(\d\d)(Z|[+-]\d\d:\d\d|T\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:\d\d)?)?$")
INT = re.compile(r"^[+-]?\d+$")
FLOAT = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def as_date(text):
    m = DATE.match(text.strip())
    if not m:
        return None
    try:
        return datetime.date(int(m[1]), int(m[2]), int(m[3])).isoformat()
    except ValueError:
        return None


def as_float(text):
    t = text.strip()
    if t in ("INF", "+INF"):
        return math.inf
    if t == "-INF":
        return -math.inf
    return float(t) if FLOAT.match(t) else None


def as_int(text):
    t = text.strip()
    return int(t) if INT.match(t) else None


CONVERT = {"date": as_date, "float64": as_float, "int64": as_int, "string": lambda t: t}


def expected_value(term, ty):
    if term is None:
        return None
    if isinstance(term, rdflib.BNode):
        return "_:blank" if ty == "string" else None
    return CONVERT[ty](str(term))


def written_value(v):
    if isinstance(v, datetime.date):
        return v.isoformat()
    if isinstance(v, str) and v.startswith("_:"):
        return "_:blank"  # record-scoped labels; rdflib's are random
    return v


def fetch_all(base, out_dir):
    """Walk the cursor once and write every resource of every record."""
    w = walk.Walker(base, walk.Checks())
    walked = w.walk()
    resources = list(walk.LISTS) + ["demographics"]
    for r in resources:
        os.makedirs(os.path.join(out_dir, r), exist_ok=True)
    for rid, tok, sec in walked:
        auth = walk.OAuth1(walk.APP, walk.SECRET, tok, sec)
        for r in resources:
            resp = w.s.get(base + walk.path(rid, r), auth=auth)
            resp.raise_for_status()
            with open(os.path.join(out_dir, r, f"{rid}.rdf"), "wb") as f:
                f.write(resp.content)
    return [t[0] for t in walked]


serve = walk.serve


PREPARED = {}


def rdflib_rows(job):
    """One table over one record's file, as rdflib sees it (in a worker)."""
    table, path, base_iri, rid = job
    g = rdflib.Graph()
    with open(path, "rb") as f:
        g.parse(data=f.read(), format="xml", publicID=base_iri)
    columns = table.get("columns", {})
    query = PREPARED.get(table["name"])
    if query is None:
        query = PREPARED[table["name"]] = prepareQuery(table["query"]["sparql"])
    res = g.query(query)
    names = [str(v) for v in res.vars]
    rows = []
    for row in res:
        values = [rid]
        for name in names:
            values.append(expected_value(row[name], columns.get(name, "string")))
        rows.append(tuple(values))
    return table["name"], names, rows


def sorted_classes(row, idx):
    """GROUP_CONCAT's order is unspecified in SPARQL: rdflib's side is sorted.

    Over an immunization without a product class rdflib's GROUP_CONCAT gives
    "" and spareval's (smartsweep's) leaves the variable unbound: the table
    documents null ("null when there is none"), so "" counts as null here.
    """
    if idx is None or row[idx] is None:
        return row
    if row[idx] == "":
        return row[:idx] + (None,) + row[idx + 1:]
    return row[:idx] + ("|".join(sorted(row[idx].split("|"))),) + row[idx + 1:]


def main():
    binary = os.path.abspath(sys.argv[1])
    began = time.monotonic()
    check = walk.Checks()
    with open(POPULATION, "rb") as f:
        tables = tomllib.load(f)["tables"]
    with tempfile.TemporaryDirectory() as tmp:
        files = os.path.join(tmp, "records")
        proc, base = serve(binary, "--records", str(RECORDS), "--seed", "17")
        try:
            ids = fetch_all(base, files)
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        check("walked every record", len(ids) == RECORDS, len(ids))

        proc, base = serve(binary, "--from-dir", files)
        out = os.path.join(tmp, "out")
        try:
            r = subprocess.run(
                [binary, "run", POPULATION, "--quiet", "--api-base", base, "--output", out],
                capture_output=True, text=True, cwd=ROOT,
                env=dict(os.environ, SMARTSWEEP_CONSUMER_SECRET=walk.SECRET))
        finally:
            proc.terminate()
            proc.wait(timeout=10)
        check("population run exits 0", r.returncode == 0, r.stderr[-2000:])

        jobs = [(t, os.path.join(files, t["resource"], f"{rid}.rdf"),
                 base + walk.path(rid, t["resource"]), rid)
                for t in tables for rid in ids]
        want = {t["name"]: Counter() for t in tables}
        names = {}
        with ProcessPoolExecutor(max_workers=2) as pool:
            for name, cols, rows in pool.map(rdflib_rows, jobs, chunksize=16):
                names[name] = cols
                want[name].update(rows)

        for t in tables:
            name = t["name"]
            written = pq.read_table(os.path.join(out, name))
            check(f"{name}: record_id first", written.schema.names[0] == "record_id")
            check(f"{name}: the query's columns", written.schema.names[1:] == names[name],
                  (written.schema.names, names[name]))
            cls = names[name].index("product_classes") + 1 if "product_classes" in names[name] else None
            got = Counter(
                sorted_classes(tuple(written_value(v) for v in row.values()), None)
                for row in written.to_pylist())
            if cls is not None:
                for row in got:
                    if row[cls] is not None:
                        check(f"{name}: product classes sorted",
                              row[cls] == "|".join(sorted(row[cls].split("|"))), row[cls])
            expected = Counter()
            for k, v in want[name].items():
                expected[sorted_classes(k, cls)] += v
            check(f"{name}: rows", sum(expected.values()) > 0, "no row at all proves nothing")
            check(f"{name}: equal multisets ({sum(got.values())} rows)", got == expected,
                  f"only smartsweep: {list((got - expected).items())[:3]} "
                  f"only rdflib: {list((expected - got).items())[:3]}")
    print(f"population_rdflib: {check.passed} passed, {len(check.failures)} failed "
          f"in {time.monotonic() - began:.0f} s")
    for f in check.failures[:40]:
        print("FAIL:", f, file=sys.stderr)
    return 1 if check.failures else 0


if __name__ == "__main__":
    sys.exit(main())
