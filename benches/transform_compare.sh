#!/usr/bin/env bash
# Transform stage: independent engine check and speed comparison with
# Python's pyoxigraph, on the same generated records, one core each.
#
#   benches/transform_compare.sh            # 500 records (~20 KB each)
#   RECORDS=200 PASSES=3 benches/transform_compare.sh
#
# 1. dumps the generated corpus, the queries and our rows
#    (SMARTSWEEP_DUMP_CORPUS mode of `cargo bench --bench transform`);
# 2. runs benches/transform_pyoxigraph.py over it (installs pyoxigraph with
#    pip when missing), which writes its rows and its throughput;
# 3. checks that both engines give the same rows for every query (exit 1 if not);
# 4. times our variants (SMARTSWEEP_BENCH_SUMMARY mode) and prints the ratio
#    of our MB/s to pyoxigraph's best (fresh or reused store) per query.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-500}
PASSES=${PASSES:-5}
PIN=()
if command -v taskset >/dev/null 2>&1; then PIN=(taskset -c 0); fi

python3 -c 'import pyoxigraph' 2>/dev/null || python3 -m pip install --quiet pyoxigraph

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== corpus and our rows"
SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_DUMP_CORPUS=$tmp \
    cargo bench --quiet --bench transform >/dev/null

echo "== pyoxigraph"
"${PIN[@]}" python3 benches/transform_pyoxigraph.py "$tmp" "$tmp" --passes "$PASSES" | tee "$tmp/py.txt"

echo "== row equality"
python3 - "$tmp" <<'PY'
import json, os, sys
d = sys.argv[1]
bad = 0
for name in sorted(os.listdir(os.path.join(d, "queries"))):
    q = name[:-3]
    def load(kind):
        with open(os.path.join(d, kind, q + ".jsonl"), encoding="utf-8") as f:
            return sorted(tuple(json.loads(l)) for l in f if l.strip())
    ours, theirs = load("rust_rows"), load("py_rows")
    same = ours == theirs
    print(f"{q}: {len(ours)} rows ours, {len(theirs)} rows pyoxigraph: {'equal' if same else 'DIFFERENT'}")
    if not same:
        bad += 1
        for r in sorted(set(ours) ^ set(theirs))[:5]:
            print("   differs:", r)
sys.exit(1 if bad else 0)
PY

echo "== smartsweep"
SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_BENCH_PASSES=$PASSES \
    SMARTSWEEP_BENCH_SUMMARY=1 "${PIN[@]}" cargo bench --quiet --bench transform | tee "$tmp/rust.txt"

echo "== ratio (smartsweep custom MB/s / best pyoxigraph MB/s, same records, one core)"
python3 - "$tmp" <<'PY'
import os, sys
d = sys.argv[1]
def read(f):
    out = {}
    for line in open(os.path.join(d, f)):
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "MB/s":
            out[parts[0]] = float(parts[1])
    return out
py, rs = read("py.txt"), read("rust.txt")
for name in sorted(os.listdir(os.path.join(d, "queries"))):
    q = name[:-3]
    best_py = max(py.get(f"pyoxigraph_fresh_{q}", 0), py.get(f"pyoxigraph_reused_{q}", 0))
    ours, naive = rs.get(f"custom_{q}", 0), rs.get(f"naive_{q}", 0)
    if best_py:
        print(f"{q}: smartsweep {ours:.1f} MB/s, naive {naive:.1f} MB/s, pyoxigraph {best_py:.1f} MB/s: ratio {ours / best_py:.2f}x")
PY
