#!/usr/bin/env bash
# Reproduce every benchmark figure of the README in one command:
#   bash benches/run_all.sh            # everything
#   QUICK=1 bash benches/run_all.sh    # smaller record counts (a smoke run)
#
# 1. installs the Python baseline's libraries (benches/requirements.txt),
# 2. builds smartsweep in release mode,
# 3. runs the end-to-end comparison (benches/e2e.py), the memory benchmark
#    (benches/memory.py) and every criterion bench declared in Cargo.toml
#    ([[bench]] entries), each kept short,
# 4. writes the tables to $OUT (default: $CARGO_TARGET_DIR/bench-results) and
#    prints them.
# Exit status: non-zero if a script failed or a row comparison did not hold
# (targets are reported in the tables, not enforced: this machine is shared).
set -uo pipefail

cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$PWD/target}"
OUT="${OUT:-$CARGO_TARGET_DIR/bench-results}"
PY="${PYTHON:-python3}"
mkdir -p "$OUT"
status=0

echo "== pip install -r benches/requirements.txt" >&2
"$PY" -m pip install --quiet --disable-pip-version-check -r benches/requirements.txt >&2 || {
  echo "pip install failed" >&2; exit 1; }

echo "== cargo build --release" >&2
cargo build --release --quiet || { echo "release build failed" >&2; exit 1; }
# A private copy: a shared CARGO_TARGET_DIR may get another checkout's build
# in target/release/smartsweep while the benchmarks run.
cp "$CARGO_TARGET_DIR/release/smartsweep" "$OUT/smartsweep"
BIN="$OUT/smartsweep"
"$BIN" --version | grep -q "^smartsweep " || {
  echo "$BIN is not this checkout's smartsweep (a shared CARGO_TARGET_DIR overwritten by another build?): rebuild" >&2; exit 1; }

{
  echo "# smartsweep benchmarks"
  echo
  echo "- date: $(date -Iseconds)"
  echo "- machine: nproc $(nproc), $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo)"
  echo "- commit: $(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
  echo "- command: bash benches/run_all.sh"
  echo
} > "$OUT/README-figures.md"

if [[ -n "${QUICK:-}" ]]; then
  TC_RECORDS=${TC_RECORDS:-100}
  E2E_ARGS=(--records-a 100 --records-b 40 --records-b-large 200)
  MEM_ARGS=(--sizes 500,5000)
else
  E2E_ARGS=()
  MEM_ARGS=()
fi

echo "== benches/e2e.py ${E2E_ARGS[*]}" >&2
if "$PY" benches/e2e.py --bin "$BIN" "${E2E_ARGS[@]}" --json "$OUT/e2e.json" > "$OUT/e2e.md"; then :; else
  echo "e2e.py failed (exit $?)" >&2; status=1; fi
cat "$OUT/e2e.md" >> "$OUT/README-figures.md"; echo >> "$OUT/README-figures.md"

echo "== benches/memory.py ${MEM_ARGS[*]}" >&2
if "$PY" benches/memory.py --bin "$BIN" "${MEM_ARGS[@]}" --json "$OUT/memory.json" > "$OUT/memory.md"; then :; else
  echo "memory.py failed (exit $?)" >&2; status=1; fi
cat "$OUT/memory.md" >> "$OUT/README-figures.md"; echo >> "$OUT/README-figures.md"

# The criterion benches that exist: every [[bench]] entry of Cargo.toml.
mapfile -t BENCHES < <("$PY" - <<'EOF'
import tomllib
with open("Cargo.toml", "rb") as f:
    for b in tomllib.load(f).get("bench", []):
        print(b["name"])
EOF
)
if ((${#BENCHES[@]})); then
  echo "## Criterion benches (\`cargo bench --bench NAME -- --warm-up-time 1 --measurement-time 3\`)" >> "$OUT/README-figures.md"
  echo >> "$OUT/README-figures.md"
  for b in "${BENCHES[@]}"; do
    echo "== cargo bench --bench $b" >&2
    echo "### $b" >> "$OUT/README-figures.md"
    echo '```' >> "$OUT/README-figures.md"
    if cargo bench --quiet --bench "$b" -- --warm-up-time 1 --measurement-time 3 --noplot \
        > "$OUT/bench-$b.txt" 2> "$OUT/bench-$b.stderr"; then :; else
      echo "cargo bench --bench $b failed; see $OUT/bench-$b.stderr" >&2; status=1; fi
    # criterion's result lines (name, time, thrpt) without the change/outlier noise
    grep -v -E '^(Benchmarking|Found [0-9]|Gnuplot|WARNING)|^ +[0-9]+ \(|change:|\[[−+-]?[0-9.]+%|Performance has|No change|Change within|^$' \
      "$OUT/bench-$b.txt" >> "$OUT/README-figures.md"
    echo '```' >> "$OUT/README-figures.md"
    echo >> "$OUT/README-figures.md"
  done
else
  echo "(no [[bench]] entries in Cargo.toml)" >> "$OUT/README-figures.md"
fi

# The transform's comparison with pyoxigraph (same records, one core), when
# the transform stage ships its script. SKIP_TRANSFORM_COMPARE=1 skips it.
if [[ -f benches/transform_compare.sh && -z "${SKIP_TRANSFORM_COMPARE:-}" ]]; then
  echo "== benches/transform_compare.sh" >&2
  {
    echo "## Transform vs pyoxigraph (\`RECORDS=${TC_RECORDS:-500} PASSES=3 bash benches/transform_compare.sh\`)"
    echo
    echo '```'
  } >> "$OUT/README-figures.md"
  if RECORDS="${TC_RECORDS:-500}" PASSES=3 bash benches/transform_compare.sh \
      > "$OUT/transform_compare.txt" 2> "$OUT/transform_compare.stderr"; then :; else
    echo "transform_compare.sh failed; see $OUT/transform_compare.stderr" >&2; status=1; fi
  # its summary: the row check and the MB/s ratio per query
  sed -n '/^== row equality/,$p' "$OUT/transform_compare.txt" >> "$OUT/README-figures.md"
  echo '```' >> "$OUT/README-figures.md"
  echo >> "$OUT/README-figures.md"
fi

cat "$OUT/README-figures.md"
echo >&2
echo "tables: $OUT/README-figures.md (raw figures: $OUT/*.json, $OUT/bench-*.txt)" >&2
exit $status
