#!/usr/bin/env bash
# Transform stage: instructions per record (valgrind callgrind), smartsweep
# vs pyoxigraph, on the same generated records. Instruction counts do not
# depend on the machine's load, unlike times.
#
#   benches/transform_instructions.sh                  # 100 records
#   RECORDS=200 QUERIES=drug_names VARIANTS="custom_drug_names naive_drug_names" PY=0 \
#       benches/transform_instructions.sh
#   BEFORE=/path/to/older/transform-bench benches/transform_instructions.sh
#
# Variants (see benches/transform.rs): custom_<q> (Projection::apply: the
# fast RDF/XML reader), oxrdfxml_<q> (Projection::apply with every page sent
# to oxrdfxml), naive_<q> (the testkit's reference path); the default is
# "custom_<q> oxrdfxml_<q>". BEFORE names a transform bench binary built
# from an earlier commit (e.g. `git archive <commit> | tar -x -C DIR`, then
# `cargo bench --no-run --bench transform` there): its custom_<q> is
# counted too, as before_custom_<q>, right before ours.
#
# Each engine runs its per-record loop over the corpus once and twice under
# callgrind; the difference is one pass (corpus generation, query
# preparation, interpreter start-up and imports cancel out), divided by the
# number of records. The last lines are the ratios to pyoxigraph.
set -euo pipefail
cd "$(dirname "$0")/.."
RECORDS=${RECORDS:-100}
command -v valgrind >/dev/null || { echo "valgrind is not installed (apt-get install valgrind)"; exit 1; }
[[ ${PY:-1} == 0 ]] || python3 -c 'import pyoxigraph' 2>/dev/null || python3 -m pip install --quiet pyoxigraph

tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
bench=$(cargo bench --no-run --quiet --bench transform --message-format=json 2>/dev/null \
    | grep '"kind":\["bench"\]' | sed -n 's/.*"executable":"\([^"]*\)".*/\1/p' | tail -1)
SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_DUMP_CORPUS=$tmp "$bench" >/dev/null
queries=${QUERIES:-$(cd "$tmp/queries" && ls -- *.rq | sed 's/\.rq$//')}

count() { # prints the instruction count of the command (children included)
    valgrind --tool=callgrind --trace-children=yes --callgrind-out-file=/dev/null "$@" 2>&1 >/dev/null \
        | sed -n 's/.*Collected : \([0-9]*\).*/\1/p' | awk '{s += $1} END {printf "%.0f\n", s}'
}
per_record() { # binary variant
    local one two
    one=$(SMARTSWEEP_BENCH_CORPUS=$tmp SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_BENCH_RUN="$2:1" count "$1")
    two=$(SMARTSWEEP_BENCH_CORPUS=$tmp SMARTSWEEP_BENCH_RECORDS=$RECORDS SMARTSWEEP_BENCH_RUN="$2:2" count "$1")
    echo $(( (two - one) / RECORDS ))
}
for q in $queries; do
    if [[ -n ${BEFORE:-} ]]; then
        echo "before_custom_$q $(per_record "$BEFORE" "custom_$q") instructions/record" | tee -a "$tmp/counts"
    fi
    for v in ${VARIANTS:-custom_$q oxrdfxml_$q}; do
        [[ $v == *"_$q" ]] || continue
        echo "$v $(per_record "$bench" "$v") instructions/record" | tee -a "$tmp/counts"
    done
    [[ ${PY:-1} == 1 ]] || continue
    one=$(count python3 benches/transform_pyoxigraph.py "$tmp" "$tmp" --only "$q" --raw-passes 1)
    two=$(count python3 benches/transform_pyoxigraph.py "$tmp" "$tmp" --only "$q" --raw-passes 2)
    echo "pyoxigraph_$q $(( (two - one) / RECORDS )) instructions/record" | tee -a "$tmp/counts"
done
[[ ${PY:-1} == 1 ]] || exit 0
echo "== ratio (pyoxigraph instructions / ours, per record)"
for q in $queries; do
    py=$(awk -v k="pyoxigraph_$q" '$1 == k {print $2}' "$tmp/counts")
    awk -v q="$q" -v py="$py" '$1 ~ ("_" q "$") && $1 !~ /^pyoxigraph_/ && $2 > 0 {
        printf "%s %.2fx\n", $1, py / $2 }' "$tmp/counts"
done
