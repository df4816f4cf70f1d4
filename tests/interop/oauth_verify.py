#!/usr/bin/env python3
"""Independent check of smartsweep's OAuth 1.0 signatures with Python oauthlib.

A tiny SMART Classic container (http.server on 127.0.0.1:0) that verifies
the Authorization header of every request it receives, the way the
reference container does (smart-classic-api.md section 3):

- parameters from the `Authorization: OAuth ...` header only; every header
  parameter except realm and oauth_signature is signed;
- base string URI = scheme://Host (verbatim) + the percent-DECODED path;
- the query string is signed on GET; a POST must carry no query at all;
- oauth_version "1.0", HMAC-SHA1, a nonce of 22..100 unreserved characters
  never seen before, a fresh timestamp;
- 2-legged (no oauth_token) on the cursor calls, 3-legged with a token bound
  to the record on data calls.

The signature is recomputed with oauthlib's own building blocks
(normalize_parameters, signature_base_string, sign_hmac_sha1_with_client)
and, when the sent path needs no decoding, also checked with oauthlib's
verify_hmac_sha1 end to end. Each request is also checked to FAIL with a
wrong consumer secret (the verifier is not vacuous).

The container hands out tokens and token secrets full of odd characters
(spaces, `+ / = & % " ,`, non-ASCII), form-encoded with quote_plus as the
reference does; its record ids include `a b@c` and `x+y~z`; paged answers
carry an `api:nextPageURL` whose values are NOT URL-encoded.

Usage: `cargo test --test extract_interop` drives it (it starts this script,
points smartsweep's client at it, then closes its stdin). By hand:

    INTEROP_CONSUMER_SECRET='...' python3 tests/interop/oauth_verify.py

prints `LISTENING <api_base>`, serves until stdin closes (Ctrl-D), then
prints `N passed, M failed` and exits non-zero on any failure, or when a
kind of request (2-legged POST, 3-legged GET, signed query, paged GET) was
never seen.

Needs: Python 3.8+, `pip install oauthlib` (requests/requests-oauthlib are
not needed by this script).
"""

import hmac
import http.server
import json
import os
import random
import secrets
import sys
import threading
import time
import types
import urllib.parse

from oauthlib.oauth1.rfc5849 import signature, utils

APP_ID = "interop-app@apps.smartplatforms.org"
CONSUMER_SECRET = os.environ.get(
    "INTEROP_CONSUMER_SECRET", "c&s =+%\"'~\u00e9 secret"
)
# Byte-wise order, as the cursor walks them.
RECORDS = sorted(
    ["1032702", "2169591", "613876", "a b@c", "x+y~z"], key=lambda s: s.encode()
)
MEDS_PER_RECORD = 5
UNRESERVED = set(
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
)
FORM = "application/x-www-form-urlencoded"


class State:
    def __init__(self):
        self.lock = threading.Lock()
        self.passed = 0
        self.failed = 0
        self.nonces = set()
        self.tokens = {}  # token -> (secret, record_id)
        self.kinds = set()
        self.api_base = None


STATE = State()


def fail(reason):
    with STATE.lock:
        STATE.failed += 1
    print(f"FAIL: {reason}", file=sys.stderr, flush=True)
    return False


def ok(kind):
    with STATE.lock:
        STATE.passed += 1
        STATE.kinds.add(kind)
    return True


def odd_credential(prefix):
    return f"{prefix} {secrets.token_hex(4)}+/=&%\",~\u00e9"


def sign(base, consumer_secret, token_secret):
    client = types.SimpleNamespace(
        client_secret=consumer_secret, resource_owner_secret=token_secret
    )
    return signature.sign_hmac_sha1_with_client(base, client)


def verify(handler, method, legs):
    """Verify one request; return the token's (secret, record) for 3-legged."""
    raw_path, _, query = handler.path.partition("?")
    auth = handler.headers.get("Authorization")
    where = f"{method} {handler.path}"
    if not auth or not auth.startswith("OAuth "):
        return fail(f"{where}: no OAuth Authorization header")
    pairs = [
        (k, utils.unescape(v)) for k, v in utils.parse_authorization_header(auth)
    ]
    names = [k for k, _ in pairs]
    if len(set(names)) != len(names):
        return fail(f"{where}: a header parameter appears twice")
    header = {k: v for k, v in pairs if k != "realm"}
    sig = header.pop("oauth_signature", None)
    if sig is None:
        return fail(f"{where}: no oauth_signature")
    if header.get("oauth_version") != "1.0":
        return fail(f"{where}: oauth_version is {header.get('oauth_version')!r}")
    if header.get("oauth_signature_method") != "HMAC-SHA1":
        return fail(f"{where}: signature method {header.get('oauth_signature_method')!r}")
    if header.get("oauth_consumer_key") != APP_ID:
        return fail(f"{where}: consumer key {header.get('oauth_consumer_key')!r}")
    nonce = header.get("oauth_nonce", "")
    if not (22 <= len(nonce) <= 100) or not set(nonce) <= UNRESERVED:
        return fail(f"{where}: weak or oddly formed nonce {nonce!r}")
    with STATE.lock:
        if nonce in STATE.nonces:
            return fail(f"{where}: nonce reused")
        STATE.nonces.add(nonce)
    try:
        ts = int(header.get("oauth_timestamp", "0"))
    except ValueError:
        return fail(f"{where}: non-numeric timestamp")
    if abs(time.time() - ts) > 120:
        return fail(f"{where}: stale timestamp {ts}")

    token = header.get("oauth_token")
    token_secret = ""
    bound = None
    if legs == 2 and token:
        return fail(f"{where}: a cursor call must be 2-legged")
    if legs == 3:
        if not token:
            return fail(f"{where}: a data call must be 3-legged")
        with STATE.lock:
            bound = STATE.tokens.get(token)
        if bound is None:
            return fail(f"{where}: unknown token")
        token_secret = bound[0]

    if method == "GET":
        request_params = urllib.parse.parse_qsl(query, keep_blank_values=True)
        qnames = [k for k, _ in request_params]
        if len(set(qnames)) != len(qnames):
            return fail(f"{where}: a query parameter is repeated")
        if any(k.startswith("oauth_") for k in qnames):
            return fail(f"{where}: oauth_ parameter in the query")
    else:
        if query:
            return fail(f"{where}: a POST must not carry a query (it is not signed)")
        ctype = handler.headers.get("Content-Type")
        if ctype not in (None, FORM):
            return fail(f"{where}: POST content type {ctype!r}")
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length).decode() if length else ""
        request_params = urllib.parse.parse_qsl(body, keep_blank_values=True)

    host = handler.headers.get("Host")
    decoded_path = urllib.parse.unquote(raw_path)
    base_uri = f"http://{host}{decoded_path}"
    merged = dict(request_params)
    merged.update(header)  # the header wins on a name clash
    params = list(merged.items())
    base = signature.signature_base_string(
        method, base_uri, signature.normalize_parameters(params)
    )
    expected = sign(base, CONSUMER_SECRET, token_secret)
    if not hmac.compare_digest(expected, sig):
        return fail(f"{where}: signature mismatch; base string {base}")
    if hmac.compare_digest(sign(base, CONSUMER_SECRET + "x", token_secret), sig):
        return fail(f"{where}: verifier accepted a wrong consumer secret")
    if legs == 3 and hmac.compare_digest(
        sign(base, CONSUMER_SECRET, token_secret + "x"), sig
    ):
        return fail(f"{where}: verifier accepted a wrong token secret")
    # oauthlib end to end, when the sent path is already its decoded form.
    if "%" not in raw_path:
        req = types.SimpleNamespace(
            uri=f"http://{host}{handler.path}",
            http_method=method,
            params=params,
            signature=sig,
        )
        if not signature.verify_hmac_sha1(req, CONSUMER_SECRET, token_secret or None):
            return fail(f"{where}: oauthlib verify_hmac_sha1 refused it")
    kind = "2-legged POST" if legs == 2 else "3-legged GET"
    ok(kind)
    if method == "GET" and query:
        ok("signed query")
    if "offset" in dict(request_params):
        ok("paged GET")
    return bound or True


def medications_page(record, offset, limit, request_params):
    base = STATE.api_base
    rid = urllib.parse.quote(record, safe="@")
    end = MEDS_PER_RECORD if limit is None else min(MEDS_PER_RECORD, offset + limit)
    out = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<rdf:RDF xmlns:api="http://smartplatforms.org/terms/api#" '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">',
    ]
    for i in range(offset, end):
        out.append(
            f'  <rdf:Description rdf:about="{base}/records/{rid}/medications/m{i}">'
            '<rdf:type rdf:resource="http://smartplatforms.org/terms#Medication"/>'
            "</rdf:Description>"
        )
    if limit is not None and end < MEDS_PER_RECORD:
        # Like the reference: every query parameter, offset/limit updated,
        # values NOT encoded, arbitrary order; XML-escaped as a literal.
        pairs = dict(request_params)
        pairs["offset"] = str(end)
        pairs["limit"] = str(limit)
        items = list(pairs.items())
        random.shuffle(items)
        url = f"{base}/records/{record}/medications/?" + "&".join(
            f"{k}={v}" for k, v in items
        )
        escaped = url.replace("&", "&amp;").replace("<", "&lt;")
        out.append(
            '  <rdf:Description rdf:nodeID="Nrs">'
            '<rdf:type rdf:resource="http://smartplatforms.org/terms/api#ResponseSummary"/>'
            f"<api:nextPageURL>{escaped}</api:nextPageURL></rdf:Description>"
        )
    out.append("</rdf:RDF>")
    return "\n".join(out).encode()


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def reply(self, status, ctype, body):
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def unauthorized(self):
        self.reply(401, "text/html; charset=utf-8", b"Unauthorized")

    def token_answer(self, record):
        token, secret = odd_credential("tok"), odd_credential("sec")
        with STATE.lock:
            STATE.tokens[token] = (secret, record)
        items = [
            ("oauth_token", token),
            ("oauth_token_secret", secret),
            ("smart_record_id", record),
        ]
        random.shuffle(items)
        self.reply(200, FORM, urllib.parse.urlencode(items).encode())

    def do_POST(self):
        self.route("POST")

    def do_GET(self):
        self.route("GET")

    def route(self, method):
        raw_path, _, query = self.path.partition("?")
        segs = urllib.parse.unquote(raw_path).split("/")[1:]
        if method == "GET" and segs == ["manifest"]:
            if self.headers.get("Authorization"):
                fail("GET /manifest: sent credentials to an unauthenticated call")
            else:
                ok("manifest")
            body = json.dumps({"api_base": STATE.api_base, "smart_version": "0.6.1"})
            return self.reply(200, "application/json", body.encode())
        if segs[:4] == ["apps", APP_ID, "tokens", "records"] and len(segs) in (5, 6):
            if not verify(self, method, 2):
                return self.unauthorized()
            if segs[4] == "first" and len(segs) == 5:
                return self.token_answer(RECORDS[0])
            if segs[4] not in RECORDS:
                return self.reply(500, "text/html", b"unknown record")
            i = RECORDS.index(segs[4])
            if len(segs) == 5:
                return self.token_answer(RECORDS[i])
            if segs[5] == "next":
                if i + 1 == len(RECORDS):
                    return self.reply(404, "text/html", b"Not Found")
                return self.token_answer(RECORDS[i + 1])
        if (
            method == "GET"
            and len(segs) == 4
            and segs[0] == "records"
            and segs[2] == "medications"
            and segs[3] == ""
        ):
            bound = verify(self, method, 3)
            if not bound:
                return self.unauthorized()
            if bound[1] != segs[1]:
                fail(f"GET {self.path}: token of record {bound[1]!r} used for {segs[1]!r}")
                return self.reply(403, "text/html", b"Permission denied")
            params = urllib.parse.parse_qsl(query, keep_blank_values=True)
            d = dict(params)
            limit = int(d["limit"]) if "limit" in d else None
            offset = int(d.get("offset", "0"))
            return self.reply(
                200,
                "application/rdf+xml",
                medications_page(segs[1], offset, limit, params),
            )
        fail(f"{method} {self.path}: unexpected request")
        self.reply(404, "text/html", b"Not Found")


def main():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    host, port = server.server_address
    STATE.api_base = f"http://{host}:{port}"
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(f"LISTENING {STATE.api_base}", flush=True)
    sys.stdin.read()  # until the driver closes our stdin
    server.shutdown()
    for kind in ("manifest", "2-legged POST", "3-legged GET", "signed query", "paged GET"):
        if kind not in STATE.kinds:
            fail(f"no {kind} request was seen")
    print(f"{STATE.passed} passed, {STATE.failed} failed", flush=True)
    sys.exit(0 if STATE.failed == 0 and STATE.passed > 0 else 1)


if __name__ == "__main__":
    main()
