#!/usr/bin/env python3
"""Independent engine check and speed reference for the transform stage.

Runs the same SPARQL queries as smartsweep over the same generated RDF/XML
records with Python's pyoxigraph (parse + query, one record at a time, one
core), writes its rows as JSON lines, and prints throughput lines:

    pyoxigraph_<variant> <MB/s> MB/s <records/s> records/s

Usage: transform_pyoxigraph.py CORPUS_DIR OUT_DIR [--passes N]
CORPUS_DIR is what `SMARTSWEEP_DUMP_CORPUS=DIR cargo bench --bench transform`
writes: records/<resource>/<id>.rdf, index/<resource>.tsv (id, base IRI),
queries/<name>.rq and queries/<name>.resource (the resource it reads).
"""
import argparse
import json
import os
import sys
import time

try:
    import pyoxigraph
    from pyoxigraph import BlankNode, RdfFormat, Store
except ImportError:
    sys.exit("pyoxigraph is not installed: pip install pyoxigraph")


def text(term):
    if term is None:
        return None
    if isinstance(term, BlankNode):
        return "_:" + term.value
    return term.value


def load_corpus(corpus_dir, resource):
    records = []
    with open(os.path.join(corpus_dir, "index", resource + ".tsv"), encoding="utf-8") as f:
        for line in f:
            rid, base = line.rstrip("\n").split("\t")
            with open(os.path.join(corpus_dir, "records", resource, rid + ".rdf"), "rb") as b:
                records.append((rid, base, b.read()))
    return records


def resource_of(corpus_dir, query):
    with open(os.path.join(corpus_dir, "queries", query + ".resource"), encoding="utf-8") as f:
        return f.read().strip()


def run_fresh(records, sparql, out=None):
    """A fresh in-memory Store per record (what a simple app does)."""
    n = 0
    for rid, base, body in records:
        store = Store()
        store.load(body, format=RdfFormat.RDF_XML, base_iri=base)
        solutions = store.query(sparql)
        names = [v.value for v in solutions.variables]
        for sol in solutions:
            n += 1
            if out is not None:
                row = [rid] + [text(sol[v]) for v in names]
                out.append(json.dumps(row, ensure_ascii=False, separators=(",", ":")))
    return n


def run_reused(records, sparql):
    """One Store, cleared between records."""
    n = 0
    store = Store()
    for rid, base, body in records:
        store.clear()
        store.load(body, format=RdfFormat.RDF_XML, base_iri=base)
        solutions = store.query(sparql)
        names = [v.value for v in solutions.variables]
        for sol in solutions:
            n += 1
            [text(sol[v]) for v in names]
    return n


def parse_only(records):
    n = 0
    for rid, base, body in records:
        for _ in pyoxigraph.parse(body, format=RdfFormat.RDF_XML, base_iri=base):
            n += 1
    return n


def timed(label, fn, records, passes):
    """Best of `passes`, in CPU time of this thread (what one core delivers,
    whatever else the machine runs); wall time beside it."""
    fn()  # warm-up
    best_cpu = best_wall = float("inf")
    for _ in range(passes):
        c, t = time.thread_time(), time.perf_counter()
        fn()
        best_wall = min(best_wall, time.perf_counter() - t)
        best_cpu = min(best_cpu, time.thread_time() - c)
    size = sum(len(r[2]) for r in records)
    print(f"pyoxigraph_{label} {size / best_cpu / 1e6:.1f} MB/s {len(records) / best_cpu:.0f} records/s"
          f" (wall: {size / best_wall / 1e6:.1f} MB/s)", flush=True)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("corpus_dir")
    ap.add_argument("out_dir")
    ap.add_argument("--passes", type=int, default=3)
    ap.add_argument("--variants", default="parse,fresh,reused",
                    help="comma-separated: parse, fresh (a Store per record), reused (one Store, cleared)")
    ap.add_argument("--no-rows", action="store_true", help="do not write py_rows/")
    ap.add_argument("--only", default="", help="run only this query (file stem in queries/)")
    ap.add_argument("--raw-passes", type=int, default=0,
                    help="run the `fresh` variant of --only this many times, untimed, and exit "
                         "(for counting instructions with callgrind: the difference between two "
                         "pass counts is one pass)")
    args = ap.parse_args()
    if args.raw_passes:
        records = load_corpus(args.corpus_dir, resource_of(args.corpus_dir, args.only))
        with open(os.path.join(args.corpus_dir, "queries", args.only + ".rq"), encoding="utf-8") as f:
            sparql = f.read()
        for _ in range(args.raw_passes):
            run_fresh(records, sparql)
        return
    meds = load_corpus(args.corpus_dir, "medications")
    print(f"pyoxigraph {pyoxigraph.__version__}, {len(meds)} records", flush=True)
    rows_dir = os.path.join(args.out_dir, "py_rows")
    os.makedirs(rows_dir, exist_ok=True)
    qdir = os.path.join(args.corpus_dir, "queries")
    variants = set(args.variants.split(","))
    if "parse" in variants:
        timed("parse", lambda: parse_only(meds), meds, args.passes)
    for name in sorted(os.listdir(qdir)):
        if not name.endswith(".rq"):
            continue
        qname = name[:-3]
        if args.only and qname != args.only:
            continue
        records = load_corpus(args.corpus_dir, resource_of(args.corpus_dir, qname))
        with open(os.path.join(qdir, name), encoding="utf-8") as f:
            sparql = f.read()
        if not args.no_rows:
            out = []
            run_fresh(records, sparql, out)
            with open(os.path.join(rows_dir, qname + ".jsonl"), "w", encoding="utf-8") as f:
                for line in out:
                    f.write(line + "\n")
        if "fresh" in variants:
            timed(f"fresh_{qname}", lambda: run_fresh(records, sparql), records, args.passes)
        if "reused" in variants:
            timed(f"reused_{qname}", lambda: run_reused(records, sparql), records, args.passes)


if __name__ == "__main__":
    main()
