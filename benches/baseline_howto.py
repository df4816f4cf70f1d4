#!/usr/bin/env python3
"""The baseline: the SMART HOWTO's background app, ported to Python 3.

The HOWTO ("HOWTO Build SMART Background and Helper Apps") builds a
SmartClient with the background app's consumer key and secret, loops over
every record with `smart_client.loop_over_records()` (a 2-legged POST to
`/apps/{app}/tokens/records/first`, then `.../{record_id}/next` until 404),
fetches each record's medications with the record's token (3-legged GET
`/records/{id}/medications/`), parses them into an rdflib graph, runs the
drug-name SELECT verbatim and prints `record_id: name, name`.

The original client library (smart_client_python, Python 2, oauth2 +
httplib2) is not on PyPI for Python 3, so this port does the same calls with
requests + requests-oauthlib + rdflib, one after the other, exactly as the
HOWTO's loop does. It is deliberately a *faithful* port, not an optimised
one: that is what users run today.

Two details of the SMART Classic container matter for the signatures:
- the server signs the *decoded* request path, so the `@` of the app id is
  kept literal in the URL (requests does not re-encode it, and oauthlib
  escapes it once in the base string, exactly as the server does);
- the server never signs the query string of a POST, so the cursor POSTs
  carry none (and no body).

Usage:
  baseline_howto.py --api-base URL [--out rows.tsv] [--quiet]
  baseline_howto.py --api-base URL --list-ids ids.txt   # walk the cursor only
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Iterator
from urllib.parse import parse_qs

import rdflib
import requests
from requests_oauthlib import OAuth1

APP_ID = "smart-background-app@apps.smartplatforms.org"
DEFAULT_SECRET = "smartapp-secret"

# The HOWTO's query, verbatim.
QUERY = """
    PREFIX dcterms:<http://purl.org/dc/terms/>
    PREFIX sp:<http://smartplatforms.org/terms#>
    PREFIX rdf:<http://www.w3.org/1999/02/22-rdf-syntax-ns#>
    SELECT  ?drugname
    WHERE {
      ?med rdf:type sp:Medication .
      ?med sp:drugName ?drugname_code .
      ?drugname_code dcterms:title ?drugname .
    }
"""


class SmartClient:
    """The part of smart_client_python's SmartClient that the HOWTO uses."""

    def __init__(self, app_id: str, api_base: str, consumer_key: str, consumer_secret: str):
        self.app_id = app_id
        self.api_base = api_base.rstrip("/")
        self.consumer_key = consumer_key
        self.consumer_secret = consumer_secret
        self.session = requests.Session()
        self.record_id: str | None = None
        self.token: tuple[str, str] | None = None

    def _auth(self, token: tuple[str, str] | None) -> OAuth1:
        if token is None:  # 2-legged
            return OAuth1(self.consumer_key, client_secret=self.consumer_secret,
                          signature_type="AUTH_HEADER")
        return OAuth1(self.consumer_key, client_secret=self.consumer_secret,
                      resource_owner_key=token[0], resource_owner_secret=token[1],
                      signature_type="AUTH_HEADER")

    def _record_tokens(self, path: str) -> tuple[str, str, str] | None:
        """POST a cursor step (2-legged, empty body, no query). None on 404."""
        url = f"{self.api_base}/apps/{self.app_id}/tokens/records/{path}"
        resp = self.session.post(url, auth=self._auth(None))
        if resp.status_code == 404:
            return None
        if resp.status_code != 200:
            raise RuntimeError(f"POST {url}: HTTP {resp.status_code}")
        form = parse_qs(resp.text)
        return (form["smart_record_id"][0], form["oauth_token"][0],
                form["oauth_token_secret"][0])

    def loop_over_records(self) -> Iterator[str]:
        """As in the client: first, then next after each record, until 404.
        The client is switched to each record's token while the caller works."""
        step = self._record_tokens("first")
        while step is not None:
            record_id, token, secret = step
            self.record_id, self.token = record_id, (token, secret)
            yield record_id
            self.record_id, self.token = None, None  # /next is 2-legged
            step = self._record_tokens(f"{record_id}/next")

    def get_medications(self, record_id: str) -> rdflib.Graph:
        url = f"{self.api_base}/records/{record_id}/medications/"
        resp = self.session.get(url, auth=self._auth(self.token))
        if resp.status_code != 200:
            raise RuntimeError(f"GET {url}: HTTP {resp.status_code}")
        graph = rdflib.Graph()
        graph.parse(data=resp.content, format="xml", publicID=url)
        return graph


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--api-base", required=True)
    ap.add_argument("--app-id", default=APP_ID)
    ap.add_argument("--out", help="write the rows as record_id<TAB>drugname lines")
    ap.add_argument("--list-ids", metavar="FILE",
                    help="only walk the cursor and write the record ids, one a line")
    ap.add_argument("--quiet", action="store_true", help="do not print the HOWTO's lines")
    args = ap.parse_args()
    secret = os.environ.get("SMARTSWEEP_CONSUMER_SECRET") or DEFAULT_SECRET
    smart_client = SmartClient(args.app_id, args.api_base, args.app_id, secret)

    if args.list_ids:
        started, cpu0 = time.perf_counter(), time.process_time()
        n = 0
        with open(args.list_ids, "w", encoding="utf-8") as f:
            for record_id in smart_client.loop_over_records():
                f.write(record_id + "\n")
                n += 1
        took, cpu = time.perf_counter() - started, time.process_time() - cpu0
        # The walk's own figures (without the interpreter's start), for e2e.py.
        print(json.dumps({"steps": n, "wall_s": took, "client_cpu_s": cpu}), file=sys.stderr)
        return 0

    out = open(args.out, "w", encoding="utf-8") if args.out else None
    try:
        # The HOWTO's loop.
        for record_id in smart_client.loop_over_records():
            medications = smart_client.get_medications(record_id=record_id)
            med_names = medications.query(QUERY)
            names = [str(m[0]) for m in med_names]
            if not args.quiet:
                print("%s: %s" % (record_id, ", ".join(names)))
            if out is not None:
                for name in names:
                    out.write(f"{record_id}\t{name}\n")
    finally:
        if out is not None:
            out.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
