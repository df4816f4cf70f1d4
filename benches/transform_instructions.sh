#!/usr/bin/env bash
# Transform stage: instructions per record (valgrind callgrind), smartsweep
# vs pyoxigraph, on the same generated records. Instruction counts do not
# depend on the machine's load, unlike times.
#
#   benches/transform_instructions.sh                  # 100 records
#   RECORDS=200 QUERIES=drug_names VARIANTS="custom_drug_names naive_drug_names" PY=0 \
#       benches/transform_instructions.sh
#
# Each engine runs its per-record loop over the corpus once and twice under
# callgrind; the difference is one pass (corpus generation, query
# preparation, interpreter start-up and imports cancel out), divided by the
# number of records.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-100}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
python3 -c 'import pyoxigraph' 2>/dev/null || python3 -m pip install --quiet pyoxigraph

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
cargo bench --no-run --quiet --bench transform 2>/dev/null
bench=$(ls -t target/release/deps/transform-* | grep -v '\.d$' | head -1)
SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_DUMP_CORPUS=$tmp "$bench" >/dev/null
queries=${QUERIES:-$(ls "$tmp/queries" | sed 's/\.rq$//')}

count() { # prints the instruction count of the command (children included)
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | awk '{s += $1} END {print s}'
}
for q in $queries; do
    for v in ${VARIANTS:-custom_$q}; do
        [[ $v == *"_$q" ]] || continue
        one=$(SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_BENCH_RUN="$v:1" count "$bench")
        two=$(SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_BENCH_RUN="$v:2" count "$bench")
        echo "$v $(( (two - one) / RECORDS )) instructions/record"
    done
    [[ ${PY:-1} == 1 ]] || continue
    one=$(count python3 benches/transform_pyoxigraph.py "$tmp" "$tmp" --only "$q" --raw-passes 1)
    two=$(count python3 benches/transform_pyoxigraph.py "$tmp" "$tmp" --only "$q" --raw-passes 2)
    echo "pyoxigraph_$q $(( (two - one) / RECORDS )) instructions/record"
done
