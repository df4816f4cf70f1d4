#!/usr/bin/env python3
"""The population pipeline (every resource, one run) against one run per table.

    python3 benches/population.py [--bin target/release/smartsweep] [--records 1000]

Starts `smartsweep sandbox` in its own process (so its CPU never counts as the
client's) with cursor and data latency, then runs:

  * `pipelines/population.toml` once (every table, one cursor walk);
  * each of its tables alone (a one-table pipeline written from it), over the
    same records;

and reports wall time, client CPU per record and peak RSS of each (from
`wait4()` on the client's pid), the ratio of the one run to the slowest table
alone (target <= 1.2x) and to the N runs together (target < 1/3).

`--memory` instead runs the population pipeline at 0 ms latency over 2,000 and
40,000 records and reports the peak RSS ratio (target <= 1.3x).

Prints Markdown tables; `--json FILE` also writes every figure.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import sys
import tempfile
import tomllib

from benchlib import REPO, Sandbox, default_bin, measured

POPULATION = REPO / "pipelines" / "population.toml"


def toml_string(s: str) -> str:
    if "'''" not in s:
        return "'''\n" + s + "'''"
    return json.dumps(s)


def one_table_pipeline(pop: dict, table: dict, path: pathlib.Path):
    """A pipeline holding one table of population.toml (same query, types)."""
    lines = [f'name = "{table["name"]}"', "", "[source]"]
    for k in ("app_id", "consumer_key"):
        if k in pop.get("source", {}):
            lines.append(f'{k} = "{pop["source"][k]}"')
    lines += ["", "[output]", 'path = "out/unused"', "", "[[tables]]",
              f'name = "{table["name"]}"', f'resource = "{table["resource"]}"']
    if table.get("filters"):
        inner = ", ".join(f'{k} = "{v}"' for k, v in table["filters"].items())
        lines.append(f"filters = {{ {inner} }}")
    if "page_size" in table:
        lines.append(f'page_size = {table["page_size"]}')
    lines += ["", "[tables.query]", "sparql = " + toml_string(table["query"]["sparql"])]
    if table.get("columns"):
        lines += ["", "[tables.columns]"] + [f'{k} = "{v}"' for k, v in table["columns"].items()]
    path.write_text("\n".join(lines) + "\n")


def run(binary, pipeline, base, out, concurrency):
    return measured([str(binary), "run", str(pipeline), "--api-base", base, "--output", str(out),
                     "--quiet", "--concurrency", str(concurrency), "--fresh"])


def compare(args) -> dict:
    pop = tomllib.loads(POPULATION.read_text())
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="population-bench-"))
    sb = Sandbox(args.bin, args.records, args.cursor_ms, args.data_ms)
    figures = {"records": args.records, "cursor_ms": args.cursor_ms, "data_ms": args.data_ms,
               "concurrency": args.concurrency, "tables": {}}
    try:
        figures["all"] = run(args.bin, POPULATION, sb.base, tmp / "all", args.concurrency)
        for t in pop["tables"]:
            p = tmp / f"{t['name']}.toml"
            one_table_pipeline(pop, t, p)
            figures["tables"][t["name"]] = run(args.bin, p, sb.base, tmp / t["name"], args.concurrency)
    finally:
        sb.stop()
    walls = [f["wall_s"] for f in figures["tables"].values()]
    figures["slowest_alone_s"] = max(walls)
    figures["sum_alone_s"] = sum(walls)
    figures["ratio_to_slowest"] = figures["all"]["wall_s"] / max(walls)
    figures["ratio_to_sum"] = figures["all"]["wall_s"] / sum(walls)
    n = args.records
    print(f"\n### Population pipeline vs one run per table ({n} records, cursor {args.cursor_ms} ms, "
          f"data {args.data_ms} ms, --concurrency {args.concurrency})\n")
    print("| run | wall s | records/s | client CPU ms/record | peak RSS MiB |")
    print("|---|---:|---:|---:|---:|")
    rows = [("population (every table, one walk)", figures["all"])]
    rows += [(f"`{k}` alone", v) for k, v in figures["tables"].items()]
    for name, f in rows:
        print(f"| {name} | {f['wall_s']:.1f} | {n / f['wall_s']:.0f} | "
              f"{1000 * f['cpu_s'] / n:.2f} | {f['maxrss_mib']:.1f} |")
    print(f"\none run / slowest table alone: **{figures['ratio_to_slowest']:.2f}x** (target <= 1.2x); "
          f"one run / all {len(walls)} runs together: **{figures['ratio_to_sum']:.2f}** (target < 0.33)")
    return figures


def memory(args) -> dict:
    tmp = pathlib.Path(tempfile.mkdtemp(prefix="population-mem-"))
    figures = {}
    for n in (2000, 40000):
        sb = Sandbox(args.bin, n, 0, 0)
        try:
            figures[n] = run(args.bin, POPULATION, sb.base, tmp / f"m{n}", args.concurrency)
        finally:
            sb.stop()
    ratio = figures[40000]["maxrss_mib"] / figures[2000]["maxrss_mib"]
    print("\n### Population pipeline: peak memory, 0 ms latency\n")
    print("| records | wall s | peak RSS MiB |")
    print("|---:|---:|---:|")
    for n, f in figures.items():
        print(f"| {n} | {f['wall_s']:.1f} | {f['maxrss_mib']:.1f} |")
    print(f"\n40,000 / 2,000 records: **{ratio:.2f}x** (target <= 1.3x)")
    return {"memory": figures, "ratio": ratio}


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", type=pathlib.Path, default=default_bin())
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--cursor-ms", type=int, default=20)
    ap.add_argument("--data-ms", type=int, default=50)
    ap.add_argument("--concurrency", type=int, default=32)
    ap.add_argument("--memory", action="store_true", help="the memory comparison instead")
    ap.add_argument("--json", type=pathlib.Path)
    args = ap.parse_args()
    figures = memory(args) if args.memory else compare(args)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
