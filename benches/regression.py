#!/usr/bin/env python3
"""Two smartsweep binaries, interleaved, on the same sandbox: did a change
cost throughput or memory?

    python3 benches/regression.py --before OLD_BINARY --after NEW_BINARY \
        [--rounds 3] [--records 1000] [--latency-records 500] \
        [--sizes 2000,40000] [--json FILE]

One `smartsweep sandbox` (the --after binary's, its own process) serves both
clients the same records, so only the client differs. Scenarios, each run
alternately with the two binaries (before, after, before, after, ...):

  a. 0 ms latency, `--records` records, drug_names: records/s, client CPU
     per record, peak RSS (median of `--rounds`);
  b. cursor 20 ms + data 50 ms, `--latency-records` records, drug_names:
     records/s (the serial cursor's bound is the same for both);
  c. memory: medications at 0 ms latency over each of `--sizes` records:
     peak RSS and the large/small ratio.

Prints Markdown; the ratios (after / before) are what to read on a shared
machine.
"""

from __future__ import annotations

import argparse
import json
import pathlib
import statistics
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import e2e  # noqa: E402  (Sandbox, measure, check_rc)

REPO = pathlib.Path(__file__).resolve().parent.parent


def run(binary, url, out, pipeline, concurrency=16):
    cmd = [str(binary), "--quiet", "run", str(REPO / "pipelines" / pipeline), "--api-base", url,
           "--output", str(out), "--concurrency", str(concurrency)]
    err = str(out) + ".stderr"
    m = e2e.measure(cmd, stderr_path=err)
    e2e.check_rc(f"{binary} run", m, err)
    records = json.loads((pathlib.Path(out) / "_manifest.json").read_text())["records"]
    return {
        "records": records,
        "wall_s": m["wall_s"],
        "rec_per_s": records / m["wall_s"],
        "cpu_ms_per_rec": 1000 * m["cpu_s"] / records,
        "maxrss_mib": m["maxrss_mib"],
    }


def interleaved(bins, url, work, tag, rounds, pipeline):
    got = {name: [] for name in bins}
    for r in range(rounds):
        for name, binary in bins.items():
            got[name].append(run(binary, url, work / f"{tag}-{name}-{r}", pipeline))
    return {name: {k: statistics.median(x[k] for x in runs) for k in runs[0]}
            for name, runs in got.items()}


def row(label, res, key, digits=2):
    b, a = res["before"][key], res["after"][key]
    return f"| {label} | {b:.{digits}f} | {a:.{digits}f} | {a / b:.2f}x |"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", type=pathlib.Path, required=True)
    ap.add_argument("--after", type=pathlib.Path, required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--records", type=int, default=1000)
    ap.add_argument("--latency-records", type=int, default=500)
    ap.add_argument("--sizes", default="2000,40000")
    ap.add_argument("--json", type=pathlib.Path)
    a = ap.parse_args()
    bins = {"before": a.before, "after": a.after}
    sizes = [int(s) for s in a.sizes.split(",")]
    out = {}
    with tempfile.TemporaryDirectory(prefix="regression-") as tmp:
        work = pathlib.Path(tmp)
        with e2e.Sandbox(a.after, a.records, 0, 0, work) as sb:
            out["a"] = interleaved(bins, sb.url, work, "a", a.rounds, "drug_names.toml")
        with e2e.Sandbox(a.after, a.latency_records, 20, 50, work) as sb:
            out["b"] = interleaved(bins, sb.url, work, "b", 1, "drug_names.toml")
        out["c"] = {}
        for n in sizes:
            with e2e.Sandbox(a.after, n, 0, 0, work) as sb:
                out["c"][n] = interleaved(bins, sb.url, work, f"c{n}", 1, "medications.toml")
    print(f"### Before / after, interleaved ({a.before.name} vs {a.after.name})\n")
    print("| scenario | before | after | after / before |")
    print("|---|---:|---:|---:|")
    print(row(f"0 ms, {a.records} records: records/s (median of {a.rounds})", out["a"], "rec_per_s", 0))
    print(row("0 ms: client CPU ms/record", out["a"], "cpu_ms_per_rec", 3))
    print(row("0 ms: peak RSS MiB", out["a"], "maxrss_mib", 1))
    print(row(f"cursor 20 ms + data 50 ms, {a.latency_records} records: records/s", out["b"], "rec_per_s", 1))
    for n in sizes:
        print(row(f"medications, {n} records: peak RSS MiB", out["c"][n], "maxrss_mib", 1))
    if len(sizes) == 2:
        small, large = sizes
        for name in ("before", "after"):
            ratio = out["c"][large][name]["maxrss_mib"] / out["c"][small][name]["maxrss_mib"]
            print(f"\n{name}: peak RSS {large} / {small} records = **{ratio:.2f}x**", end="")
        print()
    if a.json:
        a.json.write_text(json.dumps(out, indent=2, default=str))
    return 0


if __name__ == "__main__":
    sys.exit(main())
