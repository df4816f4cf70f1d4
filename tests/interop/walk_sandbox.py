#!/usr/bin/env python3
"""An independent client walks `smartsweep sandbox --records 300`.

requests-oauthlib signs (not our code), rdflib parses every answer (not our
parser), and every status the reference container gives is checked: 200 with a
fresh token per call, 404 at the end, 500 for an unknown record or app, 401 for
every OAuth failure, 403 for valid callers without permission, 404 without the
trailing slash, the rxnorm filter and limit/nextPageURL paging.

Usage: walk_sandbox.py PATH/TO/smartsweep
"""
import os
import subprocess
import sys
import time
from urllib.parse import parse_qs

import rdflib
import requests
from requests_oauthlib import OAuth1

APP = "smart-background-app@apps.smartplatforms.org"
SECRET = "smartapp-secret"
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

passed = 0
failed = 0


def check(name, cond, detail=""):
    global passed, failed
    if cond:
        passed += 1
    else:
        failed += 1
        print(f"FAIL: {name} {detail}", file=sys.stderr)


def tokens(resp):
    d = parse_qs(resp.text, keep_blank_values=True)
    return d["smart_record_id"][0], d["oauth_token"][0], d["oauth_token_secret"][0]


def main():
    binary = sys.argv[1]
    env = dict(os.environ, SMARTSWEEP_CONSUMER_SECRET=SECRET)
    proc = subprocess.Popen(
        [binary, "sandbox", "--records", "300", "--listen", "127.0.0.1:0", "--quiet"],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        env=env,
    )
    try:
        line = proc.stdout.readline()
        assert "listening on" in line, line
        base = line.strip().split()[-1]
        run(base)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    print(f"walk_sandbox: {passed} passed, {failed} failed")
    return 1 if failed else 0


def run(base):
    two = OAuth1(APP, client_secret=SECRET)
    s = requests.Session()

    r = s.get(f"{base}/manifest")
    check("manifest 200", r.status_code == 200, r.status_code)
    check("manifest api_base", r.json().get("api_base") == base, r.text[:200])

    # The whole cursor, as the HOWTO's loop does it.
    ids, toks = [], set()
    r = s.post(f"{base}/apps/{APP}/tokens/records/first", auth=two)
    check("first 200", r.status_code == 200, r.status_code)
    codes_seen = {}
    while r.status_code == 200:
        rid, tok, sec = tokens(r)
        ids.append(rid)
        toks.add(tok)
        three = OAuth1(APP, SECRET, tok, sec)
        m = s.get(f"{base}/records/{rid}/medications/", auth=three)
        check(f"medications {rid} 200", m.status_code == 200, m.status_code)
        check(
            f"medications {rid} content type",
            m.headers.get("content-type", "").startswith("application/rdf+xml"),
            m.headers.get("content-type"),
        )
        g = rdflib.Graph()
        g.parse(data=m.content, format="xml")
        names = [str(row[0]) for row in g.query(QUERY)]
        for c in g.objects(None, rdflib.URIRef("http://smartplatforms.org/terms#code")):
            codes_seen.setdefault(str(c).rsplit("/", 1)[-1], rid)
        if names:
            check(f"{rid} has medication statements", len(names) > 0)
        r = s.post(f"{base}/apps/{APP}/tokens/records/{rid}/next", auth=two)
    check("404 after the last record", r.status_code == 404, r.status_code)
    check("300 records walked", len(ids) == 300, len(ids))
    check(
        "ids in byte-wise order",
        ids == sorted(ids, key=lambda x: x.encode()),
    )
    check("numeric order differs", ids != sorted(ids, key=int) if all(i.isdigit() for i in ids) else True)
    check("a fresh token per call", len(toks) == len(ids))

    rid = ids[0]
    _, tok, sec = tokens(s.post(f"{base}/apps/{APP}/tokens/records/{rid}", auth=two))
    three = OAuth1(APP, SECRET, tok, sec)

    # 500s, as the reference container gives them.
    r = s.post(f"{base}/apps/{APP}/tokens/records/no-such-record/next", auth=two)
    check("500 for an unknown record id", r.status_code == 500, r.status_code)
    r = s.post(f"{base}/apps/other@apps.example.org/tokens/records/first", auth=two)
    check("500 for an unknown app id", r.status_code == 500, r.status_code)

    # 401 for every OAuth failure.
    r = s.post(f"{base}/apps/{APP}/tokens/records/first", auth=OAuth1(APP, client_secret="wrong"))
    check("401 bad signature", r.status_code == 401 and r.text == "Unauthorized", (r.status_code, r.text))
    r = s.post(f"{base}/apps/{APP}/tokens/records/first")
    check("401 without a header", r.status_code == 401, r.status_code)
    stale = OAuth1(APP, client_secret=SECRET, timestamp=str(int(time.time()) - 1000))
    r = s.post(f"{base}/apps/{APP}/tokens/records/first", auth=stale)
    check("401 stale timestamp", r.status_code == 401, r.status_code)
    req = requests.Request("POST", f"{base}/apps/{APP}/tokens/records/first", auth=two).prepare()
    first = s.send(req)
    again = s.send(req)
    check("a nonce is accepted once", first.status_code == 200, first.status_code)
    check("401 for a reused nonce", again.status_code == 401, again.status_code)
    r = s.get(f"{base}/records/{rid}/medications/", auth=OAuth1(APP, SECRET, "nosuchtoken", "x"))
    check("401 unknown token", r.status_code == 401, r.status_code)
    future = OAuth1(APP, client_secret=SECRET, timestamp=str(int(time.time()) + 1000))
    r = s.post(f"{base}/apps/{APP}/tokens/records/first", auth=future)
    check("a future timestamp is accepted", r.status_code == 200, r.status_code)

    # 403 for valid callers without permission.
    r = s.get(f"{base}/records/{rid}/medications/", auth=two)
    check("403 two-legged data call", r.status_code == 403, r.status_code)
    r = s.get(f"{base}/records/{ids[1]}/medications/", auth=three)
    check("403 token of another record", r.status_code == 403, r.status_code)
    r = s.post(f"{base}/apps/{APP}/tokens/records/first", auth=three)
    check("403 record token on the cursor", r.status_code == 403, r.status_code)

    # Routing quirks.
    r = s.get(f"{base}/records/{rid}/medications", auth=three)
    check("404 without the trailing slash", r.status_code == 404, r.status_code)
    r = s.post(f"{base}/records/{rid}/medications/", auth=three)
    check("405 POST on the medication list", r.status_code == 405, r.status_code)

    # Filters and paging, with a signed GET query.
    code, holder = next(iter(sorted(codes_seen.items())))
    _, tok, sec = tokens(s.post(f"{base}/apps/{APP}/tokens/records/{holder}", auth=two))
    three = OAuth1(APP, SECRET, tok, sec)
    r = s.get(f"{base}/records/{holder}/medications/", params={"rxnorm": f"{code}|1"}, auth=three)
    check("rxnorm filter 200", r.status_code == 200, r.status_code)
    g = rdflib.Graph()
    g.parse(data=r.content, format="xml")
    got = {str(c).rsplit("/", 1)[-1] for c in g.objects(None, rdflib.URIRef("http://smartplatforms.org/terms#code"))}
    check("rxnorm filter keeps only that code", got == {code}, got)

    api = rdflib.Namespace("http://smartplatforms.org/terms/api#")
    pages = 0
    for rid in ids:
        _, tok, sec = tokens(s.post(f"{base}/apps/{APP}/tokens/records/{rid}", auth=two))
        three = OAuth1(APP, SECRET, tok, sec)
        r = s.get(f"{base}/records/{rid}/medications/", params={"limit": "2"}, auth=three)
        g = rdflib.Graph()
        g.parse(data=r.content, format="xml")
        nxt = list(g.objects(None, api.nextPageURL))
        if nxt:
            pages += 1
            check("nextPageURL carries limit and offset", "limit=2" in str(nxt[0]) and "offset=2" in str(nxt[0]), nxt)
            break
    check("paging: some record has a next page", pages == 1)


if __name__ == "__main__":
    sys.exit(main())
