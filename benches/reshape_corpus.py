#!/usr/bin/env python3
"""A second corpus in another shape, for `benches/e2e.py --from-dir`.

    python3 benches/reshape_corpus.py --bin target/release/smartsweep \
        --records 3000 --merge 3 --out /tmp/corpus-rdflib

Walks a `smartsweep sandbox` of `--records` records with an independent
client (requests-oauthlib, tests/interop/walk_sandbox.py), merges the
medications of every `--merge` consecutive records into one record (longer
medication lists), and writes each merged graph with **rdflib's** RDF/XML
serializer (not the sandbox's writer: other node ids, other nesting, other
namespace prefixes) to `<out>/medications/<record_id>.rdf`, the layout
`smartsweep sandbox --from-dir` serves. Prints the corpus's shape.
"""

from __future__ import annotations

import argparse
import os
import pathlib
import statistics
import sys

import rdflib

REPO = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "interop"))
import population_rdflib as pop  # noqa: E402  (serve)
import walk_sandbox as walk  # noqa: E402  (Walker, OAuth1, path)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=str(REPO / "target" / "release" / "smartsweep"))
    ap.add_argument("--records", type=int, default=3000)
    ap.add_argument("--merge", type=int, default=3)
    ap.add_argument("--out", type=pathlib.Path, required=True)
    a = ap.parse_args()
    proc, base = pop.serve(a.bin, "--records", str(a.records))
    try:
        w = walk.Walker(base, walk.Checks())
        walked = w.walk()
        graphs = []
        for rid, tok, sec in walked:
            auth = walk.OAuth1(walk.APP, walk.SECRET, tok, sec)
            resp = w.s.get(base + walk.path(rid, "medications"), auth=auth)
            resp.raise_for_status()
            g = rdflib.Graph()
            g.parse(data=resp.content, format="xml", publicID=base + walk.path(rid, "medications"))
            graphs.append((rid, g))
    finally:
        proc.terminate()
    out = a.out / "medications"
    out.mkdir(parents=True, exist_ok=True)
    sizes, meds = [], []
    med = rdflib.URIRef("http://smartplatforms.org/terms#Medication")
    for i in range(0, len(graphs), a.merge):
        group = graphs[i:i + a.merge]
        merged = rdflib.Graph()
        for _, g in group:
            merged += g
        body = merged.serialize(format="xml", encoding="utf-8")
        (out / f"{group[0][0]}.rdf").write_bytes(body)
        sizes.append(len(body))
        meds.append(sum(1 for _ in merged.subjects(rdflib.RDF.type, med)))
    print(f"{len(sizes)} records in {out}: medications per record median {statistics.median(meds)}, "
          f"max {max(meds)}; body bytes median {int(statistics.median(sizes))}, max {max(sizes)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
