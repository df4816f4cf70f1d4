#!/usr/bin/env python3
"""Walk a SMART Classic container's record cursor with an independent OAuth 1.0
client (requests-oauthlib) and parse every medications answer with rdflib.

Used against `smartsweep sandbox` as an interop check (the sandbox's verifier
and RDF/XML are checked by code that shares nothing with smartsweep) and as a
simple sequential benchmark. Besides the walk it checks the statuses a
background app meets: 404 at the end, 500 for an unknown id, 401 for a bad
signature, 403 for a 2-legged data call and for a token of another record,
404 without the trailing slash, and paging with `nextPageURL`.

    pip install requests-oauthlib rdflib
    python3 benches/sandbox_walk.py --api-base http://127.0.0.1:7000 --expect-records 300

The consumer secret comes from SMARTSWEEP_CONSUMER_SECRET (default
`smartapp-secret`). Exit status 0 when every check passed. The last line is
`sandbox_walk: records=N medications=M pairs_per_s=X`.
"""

import argparse
import os
import sys
import time
from urllib.parse import parse_qsl, quote, urlsplit

import rdflib
import requests
from requests_oauthlib import OAuth1

SP = rdflib.Namespace("http://smartplatforms.org/terms#")
API = rdflib.Namespace("http://smartplatforms.org/terms/api#")
DEFAULT_APP = "smart-background-app@apps.smartplatforms.org"

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--api-base", required=True)
    ap.add_argument("--app-id", default=DEFAULT_APP)
    ap.add_argument("--consumer-key", default=None)
    ap.add_argument("--expect-records", type=int, default=None)
    ap.add_argument("--page-size", type=int, default=3)
    args = ap.parse_args()
    base = args.api_base.rstrip("/")
    key = args.consumer_key or args.app_id
    secret = os.environ.get("SMARTSWEEP_CONSUMER_SECRET", "smartapp-secret")
    app = args.app_id
    s = requests.Session()
    two_legged = OAuth1(key, client_secret=secret)

    def three_legged(token, token_secret):
        return OAuth1(key, client_secret=secret, resource_owner_key=token,
                      resource_owner_secret=token_secret)

    def cursor(path):
        # `@` stays literal in the path: requests does not encode it, and
        # oauthlib signs the path as sent, which is the decoded one here.
        return s.post(f"{base}/apps/{app}/tokens/records/{path}", auth=two_legged)

    m = s.get(f"{base}/manifest")
    check(m.status_code == 200, "manifest 200")
    check(m.json().get("api_base") == base, "manifest api_base")

    started = time.monotonic()
    ids, meds_total = [], 0
    tokens = {}
    r = cursor("first")
    while r.status_code == 200:
        form = dict(parse_qsl(r.text))
        check(set(form) == {"oauth_token", "oauth_token_secret", "smart_record_id"}, "token answer keys")
        rid = form["smart_record_id"]
        ids.append(rid)
        tokens[rid] = (form["oauth_token"], form["oauth_token_secret"])
        url = f"{base}/records/{quote(rid, safe='')}/medications/"
        d = s.get(url, auth=three_legged(*tokens[rid]))
        check(d.status_code == 200, f"medications of {rid}: {d.status_code}")
        check(d.headers.get("Content-Type") == "application/rdf+xml", "rdf content type")
        g = rdflib.Graph()
        g.parse(data=d.content, format="xml", publicID=url)
        meds = set(g.subjects(rdflib.RDF.type, SP.Medication))
        summaries = set(g.subjects(rdflib.RDF.type, API.ResponseSummary))
        check(len(summaries) == (1 if meds else 0), f"one summary iff medications ({rid})")
        for med in meds:
            cv = g.value(med, SP.drugName)
            check(cv is not None and g.value(cv, rdflib.namespace.DCTERMS.title) is not None,
                  f"drug name of {med}")
        meds_total += len(meds)
        r = cursor(f"{quote(rid, safe='')}/next")
    elapsed = time.monotonic() - started
    check(r.status_code == 404, f"404 at the end, got {r.status_code}")
    check(ids == sorted(ids, key=lambda x: x.encode()), "byte-wise id order")
    if args.expect_records is not None:
        check(len(ids) == args.expect_records, f"{len(ids)} records, expected {args.expect_records}")

    check(cursor("no-such-record/next").status_code == 500, "500 for an unknown id")
    bad = OAuth1(key, client_secret="wrong-secret")
    r = s.post(f"{base}/apps/{app}/tokens/records/first", auth=bad)
    check(r.status_code == 401 and r.text == "Unauthorized", "401 for a bad signature")
    if len(ids) >= 2:
        a, b = ids[0], ids[1]
        url = f"{base}/records/{quote(a, safe='')}/medications/"
        check(s.get(url, auth=two_legged).status_code == 403, "403 for a 2-legged data call")
        check(s.get(url, auth=three_legged(*tokens[b])).status_code == 403, "403 for another record's token")
        check(s.get(url[:-1], auth=three_legged(*tokens[a])).status_code == 404, "404 without the slash")
        # Paging through nextPageURL on the record with the most medications.
        r = cursor(quote(a, safe=""))
        fresh = dict(parse_qsl(r.text))
        seen, page_url, params = set(), url, {"limit": str(args.page_size)}
        while True:
            d = s.get(page_url, params=params,
                      auth=three_legged(fresh["oauth_token"], fresh["oauth_token_secret"]))
            check(d.status_code == 200, f"page status {d.status_code}")
            g = rdflib.Graph()
            g.parse(data=d.content, format="xml", publicID=page_url)
            seen |= set(g.subjects(rdflib.RDF.type, SP.Medication))
            nxt = next(iter(g.objects(None, API.nextPageURL)), None)
            if nxt is None:
                break
            parts = urlsplit(str(nxt))
            page_url = f"{parts.scheme}://{parts.netloc}{parts.path}"
            # The values are not URL-encoded: split them as they are.
            params = dict(p.split("=", 1) for p in parts.query.split("&") if p)
        d = s.get(url, auth=three_legged(fresh["oauth_token"], fresh["oauth_token_secret"]))
        g = rdflib.Graph()
        g.parse(data=d.content, format="xml", publicID=url)
        check(seen == set(g.subjects(rdflib.RDF.type, SP.Medication)), "pages cover every medication")

    rate = len(ids) / elapsed if elapsed > 0 else 0.0
    print(f"sandbox_walk: records={len(ids)} medications={meds_total} pairs_per_s={rate:.0f}")
    if failures:
        print(f"sandbox_walk: {len(failures)} check(s) failed", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
