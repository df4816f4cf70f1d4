#!/usr/bin/env bash
# Transform stage: independent engine check and speed comparison with
# Python's pyoxigraph, on the same generated records, one core each.
#
#   benches/transform_compare.sh                     # 500 records (~25 KB each)
#   RECORDS=200 PASSES=3 ROUNDS=2 benches/transform_compare.sh
#   BEFORE=/path/to/older/transform-bench benches/transform_compare.sh
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
#    Ours is `custom_<q>` (the fast RDF/XML reader); `oxrdfxml_<q>` (every
#    page through oxrdfxml) and, with BEFORE (a transform bench binary built
#    from an earlier commit, see transform_instructions.sh), that binary's
#    `custom_<q>` run in the same round, just before.
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
bench=$(cargo bench --no-run --quiet --bench transform --message-format=json 2>/dev/null \
    | grep '"kind":\["bench"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_DUMP_CORPUS=$tmp "$bench" >/dev/null

echo "== pyoxigraph rows"
python3 benches/transform_pyoxigraph.py "$tmp" "$tmp" --variants none

echo "== row equality"
python3 - "$tmp" <<'PY'
import json, os, sys
d = sys.argv[1]
bad = 0
for name in sorted(n for n in os.listdir(os.path.join(d, "queries")) if n.endswith(".rq")):
    q = name[:-3]
    def load(kind):
        with open(os.path.join(d, kind, q + ".jsonl"), encoding="utf-8") as f:
            return sorted((tuple(json.loads(l)) for l in f if l.strip()), key=json.dumps)
    ours, theirs = load("rust_rows"), load("py_rows")
    same = ours == theirs
    print(f"{q}: {len(ours)} rows ours, {len(theirs)} rows pyoxigraph: {'equal' if same else 'DIFFERENT'}")
    if not same:
        bad += 1
        for r in sorted(set(ours) ^ set(theirs), key=json.dumps)[:5]:
            print("   differs:", r)
sys.exit(1 if bad else 0)
PY

echo "== speed"
# Per query and round: ours, then pyoxigraph's, back to back on the same
# core, so both see the same machine load.
queries=$(cd "$tmp/queries" && ls -- *.rq | sed 's/\.rq$//')
for q in $queries; do
    for round in $(seq 1 "$ROUNDS"); do
        if [[ -n ${BEFORE:-} ]]; then
            SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_BENCH_PASSES=$PASSES SMARTSWEEP_BENCH_SUMMARY=1 \
                SMARTSWEEP_BENCH_ONLY="custom_$q" "${PIN[@]}" "$BEFORE" \
                | grep '^custom_' | sed 's/^custom_/before_/' >> "$tmp/rust.$round.txt"
        fi
        SMARTSWEEP_BENCH_CORPUS=$tmp SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_BENCH_PASSES=$PASSES SMARTSWEEP_BENCH_SUMMARY=1 \
            SMARTSWEEP_BENCH_ONLY="_$q" "${PIN[@]}" "$bench" \
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
for name in sorted(n for n in os.listdir(os.path.join(d, "queries")) if n.endswith(".rq")):
    q = name[:-3]
    cols = {"custom": [], "oxrdfxml": [], "before": [], "naive": [], "py": []}
    ratios = {"custom": [], "oxrdfxml": [], "before": []}
    for r in range(1, rounds + 1):
        rs, py = read(f"rust.{r}.txt"), read(f"py.{r}.txt")
        p = py.get(f"pyoxigraph_fresh_{q}")
        if not p or not rs.get(f"custom_{q}"):
            continue
        cols["py"].append(p)
        for k in ("custom", "oxrdfxml", "before", "naive"):
            v = rs.get(f"{k}_{q}")
            if v:
                cols[k].append(v)
                if k in ratios:
                    ratios[k].append(v / p)
    if not ratios["custom"]:
        continue
    med = lambda xs: statistics.median(xs) if xs else float("nan")
    line = (f"{q}: smartsweep {med(cols['custom']):.1f} MB/s (oxrdfxml path {med(cols['oxrdfxml']):.1f},"
            f" naive path {med(cols['naive']):.1f}"
            + (f", before {med(cols['before']):.1f}" if cols["before"] else "")
            + f"), pyoxigraph {med(cols['py']):.1f} MB/s;"
            f" ratio per round {' '.join(f'{x:.2f}' for x in ratios['custom'])}, median {med(ratios['custom']):.2f}x")
    if ratios["oxrdfxml"]:
        line += f"; oxrdfxml path median {med(ratios['oxrdfxml']):.2f}x"
    if ratios["before"]:
        line += f"; before median {med(ratios['before']):.2f}x"
    print(line)
PY
