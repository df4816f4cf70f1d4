"""A sharded smartsweep run on a real distributed engine: Dask distributed's
LocalCluster with worker processes, on loopback.

    python3 tests/interop/dask_shards.py path/to/smartsweep

1. `smartsweep sandbox` serves 600 synthetic records (with latency, so the
   shards take a while).
2. A serial run gives the reference rows and the seeds.
3. `smartsweep plan` splits the cursor into 8 chains over 4 shards.
4. Dask runs the 4 shards as tasks (retries allowed). One worker process is
   killed with SIGKILL while shards are running: its shard subprocess dies
   with it (PR_SET_PDEATHSIG, like a pod whose node dies); Dask's nanny
   restarts the worker and the scheduler reruns the lost task, which resumes
   the shard's own checkpoint.
5. `smartsweep commit` writes the dataset's manifest and `_SUCCESS`; the
   committed rows must equal the serial run's, each exactly once.

Exit 0 when every check passed.
"""

import ctypes
import glob
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

import pyarrow.parquet as pq
from dask.distributed import Client, LocalCluster

SECRET = "smartapp-secret"
PIPELINE = "pipelines/drug_names.toml"
SHARDS = 4
CHAINS = 8

passed = 0
failed = 0


def check(what, ok, detail=""):
    global passed, failed
    if ok:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {what} {detail}", flush=True)


def die_with_parent():
    # The shard subprocess dies when its worker process dies.
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)


def run_shard(binary, base, out, i):
    """One Dask task: shard i of the plan. Exit 3 (some records failed) is
    not expected here; anything but 0 fails the task, and Dask retries it."""
    env = dict(os.environ, SMARTSWEEP_CONSUMER_SECRET=SECRET)
    p = subprocess.run(
        [binary, "run", PIPELINE, "--api-base", base, "--output", out,
         "--shard", f"{i}/{SHARDS}", "--quiet", "--part-records", "10"],
        capture_output=True, text=True, env=env, preexec_fn=die_with_parent,
    )
    if p.returncode != 0:
        raise RuntimeError(f"shard {i} exited {p.returncode}: {p.stderr[-2000:]}")
    return os.getpid(), p.stdout.strip()


def shard_in_progress(out, i):
    cp = os.path.join(out, "_shards", f"{i:05}", "_checkpoint.json")
    try:
        with open(cp) as f:
            return json.load(f).get("records", 0) > 0
    except (OSError, ValueError):
        return False


def shard_manifest(out, i):
    try:
        with open(os.path.join(out, "_shards", f"{i:05}", "_manifest.json")) as f:
            return json.load(f)
    except (OSError, ValueError):
        return {}


def rows(out):
    files = sorted(glob.glob(os.path.join(out, "part-*.parquet")))
    return pq.read_table(files).to_pylist() if files else []


def main():
    binary = os.path.abspath(sys.argv[1])
    env = dict(os.environ, SMARTSWEEP_CONSUMER_SECRET=SECRET)
    sandbox = subprocess.Popen(
        [binary, "sandbox", "--records", "600", "--listen", "127.0.0.1:0", "--quiet",
         "--data-latency-ms", "15", "--cursor-latency-ms", "5"],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env,
    )
    tmp = tempfile.mkdtemp(prefix="dask-shards-")
    try:
        line = sandbox.stdout.readline()
        assert "listening on" in line, line
        base = line.strip().split()[-1]
        serial = os.path.join(tmp, "serial")
        r = subprocess.run([binary, "run", PIPELINE, "--api-base", base, "--output", serial,
                            "--quiet", "--concurrency", "32"], env=env, capture_output=True, text=True)
        check("serial run", r.returncode == 0, r.stderr[-2000:])
        out = os.path.join(tmp, "sharded")
        r = subprocess.run([binary, "plan", PIPELINE, "--shards", str(SHARDS), "--chains", str(CHAINS),
                            "--seeds-from", serial, "--output", out, "--api-base", base],
                           env=env, capture_output=True, text=True)
        check("plan", r.returncode == 0, r.stderr[-2000:])

        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                               dashboard_address=None, host="127.0.0.1")
        client = Client(cluster)
        try:
            futures = [client.submit(run_shard, binary, base, out, i, pure=False, retries=3)
                       for i in range(SHARDS)]
            # Kill a worker process while it runs a shard that has committed
            # some records and is not finished.
            victim = None
            deadline = time.time() + 120
            while victim is None and time.time() < deadline:
                time.sleep(0.05)
                if not any(shard_in_progress(out, i) for i in range(SHARDS)):
                    continue
                busy = [w for w, tasks in client.processing().items() if tasks]
                pids = client.run(os.getpid)
                if busy:
                    victim = pids[busy[0]]
            check("a worker was running a shard to kill", victim is not None)
            os.kill(victim, signal.SIGKILL)
            print(f"killed Dask worker process {victim}", flush=True)
            results = client.gather(futures)
            check("every shard task finished", len(results) == SHARDS)
            check("the killed worker ran no final shard", all(pid != victim for pid, _ in results),
                  str(results))
        finally:
            client.close()
            cluster.close()

        resumed = [i for i in range(SHARDS) if shard_manifest(out, i).get("resumed")]
        check("a shard resumed its checkpoint after the kill", bool(resumed))
        r = subprocess.run([binary, "commit", out], env=env, capture_output=True, text=True)
        check("commit", r.returncode == 0, r.stdout + r.stderr)
        check("_SUCCESS written", os.path.exists(os.path.join(out, "_SUCCESS")))
        expected, got = rows(serial), rows(out)
        check("committed rows = a single-machine run (same rows, same order, once each)",
              got == expected, f"{len(got)} vs {len(expected)}")
    finally:
        sandbox.terminate()
        sandbox.wait(timeout=10)
    print(f"dask_shards: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
