#!/usr/bin/env python3
"""Storage benchmark: the same export to local Parquet, to S3 on loopback
(moto's server mode, tests/interop/moto_server.py) and to a local Delta
table, interleaved round by round so that a busy machine slows every
destination alike.

Targets (the storage issue): throughput within 10% of local Parquet, peak
RSS within 1.3x. Each pipeline runs against its own `smartsweep sandbox`
(0 ms latency) with 20,000 records by default; the client's wall time and
peak RSS (GNU time's %M) are measured.

  python3 benches/storage.py [--records 20000] [--rounds 3] [--json FILE]

Prints a markdown table of medians; exits 0 when every run finished (a
missed target is printed, not an error).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shutil
import statistics
import subprocess
import sys
import tempfile

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
from e2e import REPO, Sandbox, check_rc, default_bin, measure, table  # noqa: E402

PIPELINES = ["drug_names", "medications"]
DESTS = ["parquet", "s3", "delta"]


class Moto:
    """An S3 server on 127.0.0.1 with bucket `bench`, for the run's length."""

    def __init__(self):
        script = REPO / "tests" / "interop" / "moto_server.py"
        self.proc = subprocess.Popen([sys.executable, str(script), "bench"],
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.DEVNULL, text=True)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("PORT "):
            raise RuntimeError(f"moto did not start: {line!r}")
        self.endpoint = f"http://127.0.0.1:{line.split()[1]}"

    def close(self):
        self.proc.stdin.close()
        self.proc.wait(timeout=30)


def run(binary, pipeline, url, dest, work, moto, key):
    out = pathlib.Path(work) / f"{pipeline}-{dest}-{key}"
    if out.exists():
        shutil.rmtree(out)
    target = str(out)
    extra = []
    if dest == "s3":
        target = f"s3://bench/{pipeline}-{key}"
        os.environ.update({
            "AWS_ACCESS_KEY_ID": "bench", "AWS_SECRET_ACCESS_KEY": "bench-secret",
            "AWS_REGION": "us-east-1", "AWS_ENDPOINT_URL": moto.endpoint,
        })
    elif dest == "delta":
        extra = ["--format", "delta", "--run-key", key]
    cmd = [str(binary), "--quiet", "run", str(REPO / "pipelines" / f"{pipeline}.toml"),
           "--api-base", url, "--output", target, *extra]
    errp = str(out) + ".stderr"
    m = measure(cmd, stderr_path=errp)
    check_rc(f"{pipeline} -> {dest}", m, errp)
    return m


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--records", type=int, default=20000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--bin", default=str(default_bin()))
    ap.add_argument("--json")
    a = ap.parse_args()
    work = tempfile.mkdtemp(prefix="storage-bench-")
    moto = Moto()
    results = {p: {d: [] for d in DESTS} for p in PIPELINES}
    try:
        with Sandbox(a.bin, a.records, 0, 0, work) as sb:
            for r in range(a.rounds):
                for p in PIPELINES:
                    order = DESTS[r % 3:] + DESTS[:r % 3]
                    for d in order:
                        m = run(a.bin, p, sb.url, d, work, moto, f"r{r}")
                        results[p][d].append(m)
                        print(f"round {r} {p:12} {d:8} {m['wall_s']:.2f}s "
                              f"{m['maxrss_mib']:.1f} MiB", file=sys.stderr)
    finally:
        moto.close()
        shutil.rmtree(work, ignore_errors=True)
    rows = []
    summary = {}
    for p in PIPELINES:
        base_t = statistics.median(m["wall_s"] for m in results[p]["parquet"])
        base_m = statistics.median(m["maxrss_mib"] for m in results[p]["parquet"])
        for d in DESTS:
            t = statistics.median(m["wall_s"] for m in results[p][d])
            mem = statistics.median(m["maxrss_mib"] for m in results[p][d])
            thr = a.records / t
            rel = base_t / t
            rows.append([p, d, f"{t:.2f}", f"{thr:,.0f}", f"{rel:.2f}",
                         f"{mem:.1f}", f"{mem / base_m:.2f}",
                         "met" if rel >= 0.9 and mem / base_m <= 1.3 else "MISSED"])
            summary[f"{p}/{d}"] = {"wall_s": t, "records_per_s": thr,
                                   "throughput_vs_parquet": rel, "maxrss_mib": mem,
                                   "memory_vs_parquet": mem / base_m,
                                   "walls": [m["wall_s"] for m in results[p][d]]}
    print(table(["pipeline", "destination", "wall s (median)", "records/s",
                 "throughput vs local", "peak RSS MiB", "memory vs local", "target"], rows))
    if a.json:
        pathlib.Path(a.json).write_text(json.dumps(summary, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
