#!/usr/bin/env python3
"""An S3-compatible server (moto's server mode) on 127.0.0.1 for the storage
tests: prints `PORT <n>` once it accepts connections, and exits when its
standard input closes (so it never outlives the test process that started
it). Buckets named on the command line are created first.

Usage: moto_server.py [--auth] [BUCKET...]
  --auth   enforce credentials after the buckets are created (moto's
           INITIAL_NO_AUTH_ACTION_COUNT): any key is then refused.
"""
import os
import socket
import sys
import time

args = sys.argv[1:]
auth = "--auth" in args
buckets = [a for a in args if not a.startswith("--")]
if auth:
    # One unauthenticated action per bucket creation, then IAM is enforced.
    os.environ["INITIAL_NO_AUTH_ACTION_COUNT"] = str(len(buckets))

from moto.server import ThreadedMotoServer  # noqa: E402

server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
server.start()
host, port = server.get_host_and_port()
deadline = time.time() + 30
while True:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        break
    except OSError:
        if time.time() > deadline:
            raise
        time.sleep(0.05)

import http.client  # noqa: E402

for b in buckets:
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("PUT", "/" + b, body=b"", headers={"Content-Length": "0"})
    r = c.getresponse()
    r.read()
    if r.status != 200:
        sys.exit(f"cannot create bucket {b}: HTTP {r.status}")

print(f"PORT {port}", flush=True)
sys.stdin.read()
server.stop()
