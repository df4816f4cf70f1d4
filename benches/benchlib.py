"""What the sandbox-process benchmarks share (benches/chains.py,
benches/population.py): where the release binary is, the client's
environment, `smartsweep sandbox` in its own process (so its CPU never counts
as the client's), and one measured client run.

A script in benches/ imports it as `benchlib`: Python puts the script's own
folder first on `sys.path`, so `python3 benches/X.py` works from anywhere.
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import time

HERE = pathlib.Path(__file__).resolve().parent
REPO = HERE.parent
SECRET = "smartapp-secret"


def default_bin() -> pathlib.Path:
    target = os.environ.get("CARGO_TARGET_DIR") or str(REPO / "target")
    return pathlib.Path(target) / "release" / "smartsweep"


def env() -> dict:
    """This process's environment plus the sandbox's consumer secret."""
    e = dict(os.environ)
    e["SMARTSWEEP_CONSUMER_SECRET"] = SECRET
    return e


class Sandbox:
    """`smartsweep sandbox --records N` on 127.0.0.1:0 with cursor and data
    latency (and `extra` flags); `base` is the API base it printed."""

    def __init__(self, binary, records, cursor_ms, data_ms, extra=()):
        self.proc = subprocess.Popen(
            [str(binary), "sandbox", "--records", str(records), "--listen", "127.0.0.1:0",
             "--quiet", "--cursor-latency-ms", str(cursor_ms), "--data-latency-ms", str(data_ms),
             *extra],
            stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env())
        line = self.proc.stdout.readline()
        assert "listening on" in line, line
        self.base = line.strip().split()[-1]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


def measured(cmd) -> dict:
    """Runs one client to the end: wall seconds, and its CPU seconds and peak
    RSS from `wait4()` on its pid. A failed run ends the benchmark, quoting
    the end of what it printed."""
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env())
    _, status, ru = os.wait4(p.pid, 0)
    wall = time.monotonic() - t0
    out, err = p.stdout.read().decode(), p.stderr.read().decode()
    rc = os.waitstatus_to_exitcode(status)
    if rc != 0:
        raise SystemExit(f"{' '.join(map(str, cmd))} exited {rc}:\n{out[-3000:]}\n{err[-3000:]}")
    return {"wall_s": wall, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_mib": ru.ru_maxrss / 1024}
