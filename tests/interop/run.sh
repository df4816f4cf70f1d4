#!/usr/bin/env bash
# Interop checks against independent implementations (run by .ci/run after
# `cargo test`, which has built the debug binary).
set -euo pipefail
cd "$(dirname "$0")/../.."
# `cargo test` has built the binary (with the test feature set); build it only
# when missing, so this does not recompile dependencies with other features.
BIN="${CARGO_TARGET_DIR:-target}/debug/smartsweep"
[ -x "$BIN" ] || cargo build --quiet --bin smartsweep
status=0
for script in tests/interop/walk_sandbox.py tests/interop/read_output.py tests/interop/dask_shards.py; do
  echo "-- $script"
  python3 "$script" "$BIN" || status=1
done
exit $status
