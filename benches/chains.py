#!/usr/bin/env python3
"""Past the serial cursor: `--chains 16` against one chain.

    python3 benches/chains.py [--bin target/release/smartsweep] [--records 5000]

1. `smartsweep sandbox` (its own process) with cursor and data latency.
2. A first serial run gives the seeds (its `_manifest.json`).
3. The same records again, timed: one chain, then `--chains K --seeds-from`.
   The physical bound of a run is max(M x R / K, M x F / N, M x C / cores):
   M records, R the cursor round trip, F a data fetch, N fetches in flight,
   C the client CPU per record (measured from the one-chain run). Targets:
   K chains at least 10x faster than one, and at least 85% of the bound.
4. The sandbox is restarted with 5% of the records deleted (`--drop-ids`)
   and 5% new ones (`--extra-records`): `--chains K` seeded from the old
   output must give exactly the rows of a fresh serial run.

Prints Markdown; `--json FILE` also writes every figure.
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import pathlib
import random
import sys
import tempfile

import pyarrow.parquet as pq

from benchlib import REPO, Sandbox, default_bin, measured

PIPELINE = REPO / "pipelines" / "drug_names.toml"


def run(binary, base, out, *extra) -> dict:
    return measured([str(binary), "run", str(PIPELINE), "--api-base", base, "--output", str(out),
                     "--quiet", "--fresh", *map(str, extra)])


def rows(out):
    return pq.read_table(sorted(glob.glob(os.path.join(out, "part-*.parquet")))).to_pylist()


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", type=pathlib.Path, default=default_bin())
    ap.add_argument("--records", type=int, default=5000)
    ap.add_argument("--chains", type=int, default=16)
    ap.add_argument("--cursor-ms", type=int, default=20)
    ap.add_argument("--data-ms", type=int, default=20)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--json", type=pathlib.Path)
    args = ap.parse_args()
    m, k, n = args.records, args.chains, args.concurrency
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="chains-bench-"))
    fig = {"records": m, "chains": k, "cursor_ms": args.cursor_ms, "data_ms": args.data_ms,
           "concurrency": n}

    sb = Sandbox(args.bin, m, args.cursor_ms, args.data_ms)
    try:
        seeds = tmp / "seeds"
        run(args.bin, sb.base, seeds, "--concurrency", n)
        fig["one_chain"] = run(args.bin, sb.base, tmp / "one", "--concurrency", n)
        fig["k_chains"] = run(args.bin, sb.base, tmp / "k", "--concurrency", n,
                              "--chains", k, "--seeds-from", seeds)
        same = rows(tmp / "one") == rows(tmp / "k")
    finally:
        sb.stop()
    r, f = args.cursor_ms / 1000, args.data_ms / 1000
    c = fig["one_chain"]["cpu_s"] / m
    cores = os.cpu_count() or 2
    bound = max(m * r / k, m * f / n, m * c / cores)
    fig["bound_s"] = bound
    fig["speedup"] = fig["one_chain"]["wall_s"] / fig["k_chains"]["wall_s"]
    fig["of_bound"] = bound / fig["k_chains"]["wall_s"]
    fig["same_rows"] = same

    # 5% deleted, 5% added since the seeds were taken.
    ids = [r["record_id"] for r in rows(seeds)]
    walk = list(dict.fromkeys(ids))
    random.seed(5)
    dropped = random.sample(walk, max(1, len(walk) * 5 // 100))
    drop_file = tmp / "dropped.txt"
    drop_file.write_text("\n".join(dropped) + "\n")
    sb = Sandbox(args.bin, m, args.cursor_ms, args.data_ms,
                 ("--drop-ids", str(drop_file), "--extra-records", str(m * 5 // 100)))
    try:
        run(args.bin, sb.base, tmp / "fresh", "--concurrency", n)
        fig["changed_k_chains"] = run(args.bin, sb.base, tmp / "changed", "--concurrency", n,
                                      "--chains", k, "--seeds-from", seeds)
        fig["changed_equal_fresh_serial"] = rows(tmp / "changed") == rows(tmp / "fresh")
    finally:
        sb.stop()

    print(f"\n### `--chains {k}` against one chain ({m} records, cursor {args.cursor_ms} ms, "
          f"data {args.data_ms} ms, --concurrency {n}, {cores} cores)\n")
    print("| run | wall s | records/s | client CPU ms/record |")
    print("|---|---:|---:|---:|")
    for name, key in (("one chain", "one_chain"), (f"{k} chains, seeded", "k_chains"),
                      (f"{k} chains after 5% deleted + 5% added", "changed_k_chains")):
        x = fig[key]
        print(f"| {name} | {x['wall_s']:.1f} | {m / x['wall_s']:.0f} | {1000 * x['cpu_s'] / m:.2f} |")
    print(f"\nbound max(M·R/K, M·F/N, M·C/cores) = {bound:.2f} s; speed-up **{fig['speedup']:.1f}x** "
          f"(target >= 10x); **{100 * fig['of_bound']:.0f}%** of the bound (target >= 85%); "
          f"rows equal to one chain: {same}; after deletes and adds, rows equal to a fresh serial "
          f"run: {fig['changed_equal_fresh_serial']}")
    if args.json:
        args.json.write_text(json.dumps(fig, indent=2))
    return 0 if same and fig["changed_equal_fresh_serial"] else 1


if __name__ == "__main__":
    sys.exit(main())
