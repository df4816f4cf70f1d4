#!/usr/bin/env bash
# Transform stage: independent engine check and speed comparison with
# Python's pyoxigraph, on the same generated records, one core each.
#
#   benches/transform_compare.sh                     # 500 records (~25 KB each)
#   RECORDS=200 PASSES=3 ROUNDS=2 benches/transform_compare.sh
#
# 1. dumps the generated corpus, the queries and our rows
#    (SMARTSWEEP_DUMP_CORPUS mode of `cargo bench --bench transform`);
# 2. runs benches/transform_pyoxigraph.py over it (installs pyoxigraph with
#    pip when missing), which writes its rows;
# 3. checks that both engines give the same rows for every query (exit 1 if not);
# 4. times both, alternating ROUNDS times (the machine may be shared: each
#    round runs ours then pyoxigraph's back to back on the same core, best of
#    PASSES passes in thread CPU time), and prints each round's ratio of our
#    MB/s to pyoxigraph's (a fresh in-memory Store per record) and the median.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-500}
PASSES=${PASSES:-5}
ROUNDS=${ROUNDS:-3}
PIN=()
if command -v taskset >/dev/null 2>&1; then PIN=(taskset -c 0); fi

python3 -c 'import pyoxigraph' 2>/dev/null || python3 -m pip install --quiet pyoxigraph

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "== corpus and our rows ($RECORDS records)"
SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_DUMP_CORPUS=$tmp \
    cargo bench --quiet --bench transform >/dev/null

echo "== pyoxigraph rows"
python3 benches/transform_pyoxigraph.py "$tmp" "$tmp" --variants none

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

echo "== speed"
# Per query and round: ours, then pyoxigraph's, back to back on the same
# core, so both see the same machine load.
queries=$(ls "$tmp/queries" | sed 's/\.rq$//')
for q in $queries; do
    for round in $(seq 1 "$ROUNDS"); do
        SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_BENCH_PASSES=$PASSES SMARTSWEEP_BENCH_SUMMARY=1 \
            SMARTSWEEP_BENCH_ONLY="_$q" "${PIN[@]}" cargo bench --quiet --bench transform \
            | grep -v '^corpus' >> "$tmp/rust.$round.txt"
        "${PIN[@]}" python3 benches/transform_pyoxigraph.py "$tmp" "$tmp" --passes "$PASSES" \
            --variants fresh --no-rows --only "$q" | grep MB/s >> "$tmp/py.$round.txt"
    done
done
for round in $(seq 1 "$ROUNDS"); do cat "$tmp/rust.$round.txt" "$tmp/py.$round.txt"; done

echo "== ratio (smartsweep MB/s / pyoxigraph MB/s, same records, one core, per round and median)"
python3 - "$tmp" "$ROUNDS" <<'PY'
import os, statistics, sys
d, rounds = sys.argv[1], int(sys.argv[2])
def read(f):
    out = {}
    for line in open(os.path.join(d, f)):
        parts = line.split()
        if len(parts) >= 3 and parts[2] == "MB/s":
            out[parts[0]] = float(parts[1])
    return out
for name in sorted(os.listdir(os.path.join(d, "queries"))):
    q = name[:-3]
    ratios, ours, theirs, naive = [], [], [], []
    for r in range(1, rounds + 1):
        rs, py = read(f"rust.{r}.txt"), read(f"py.{r}.txt")
        o, p = rs.get(f"custom_{q}"), py.get(f"pyoxigraph_fresh_{q}")
        if o and p:
            ratios.append(o / p); ours.append(o); theirs.append(p)
            naive.append(rs.get(f"naive_{q}", 0))
    if ratios:
        print(f"{q}: smartsweep {statistics.median(ours):.1f} MB/s (naive path {statistics.median(naive):.1f}),"
              f" pyoxigraph {statistics.median(theirs):.1f} MB/s;"
              f" ratio per round {' '.join(f'{x:.2f}' for x in ratios)}, median {statistics.median(ratios):.2f}x")
PY
