#!/usr/bin/env python3
"""An independent client walks `smartsweep sandbox --records 300`.

requests-oauthlib signs (not our code), rdflib parses every answer of every
resource for every record (not our parser), and the reference container's
behaviour is checked:

- the cursor: 200 with a fresh token per call, byte-wise order, 404 at the
  end, 500 for an unknown record or app, 401 for every OAuth failure, 403
  for valid callers without permission;
- every resource: the slash rules (lists need it, demographics must not
  have it), RDF types and counts (one sp:Demographics per record at exactly
  `{api_base}/records/{rid}/demographics`, every statement with its
  sp:belongsTo, summaries counting only the requested type, the allergies
  answer in pretty-xml with up to two summaries, neighbours present), an
  empty graph without a summary when there is nothing;
- the code filters and the six date filters on each resource's sort
  property, limit/offset paging through api:nextPageURL, newest first;
- the flattening queries of smart-classic-models.md (sections 2 to 9) over
  a few records: one row per statement;
- `--drop-ids` and `--extra-records`: a second sandbox whose population
  changed.

Usage: walk_sandbox.py PATH/TO/smartsweep
"""
import os
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import parse_qs, urlsplit

import rdflib
import requests
from requests_oauthlib import OAuth1

APP = "smart-background-app@apps.smartplatforms.org"
SECRET = "smartapp-secret"
RECORDS = 300
SP = rdflib.Namespace("http://smartplatforms.org/terms#")
API = rdflib.Namespace("http://smartplatforms.org/terms/api#")
DCT = rdflib.Namespace("http://purl.org/dc/terms/")
VCARD = rdflib.Namespace("http://www.w3.org/2006/vcard/ns#")
RDF = rdflib.RDF

# name: (statement type, sort property, code filter, how to reach its code)
LISTS = {
    "medications": (SP.Medication, SP.startDate, "rxnorm", [SP.drugName]),
    "fulfillments": (SP.Fulfillment, DCT.date, None, None),
    "problems": (SP.Problem, SP.startDate, "snomed", [SP.problemName]),
    "allergies": (SP.Allergy, SP.startDate, None, None),
    "lab_results": (SP.LabResult, DCT.date, "loinc", [SP.labName]),
    "vital_sign_sets": (SP.VitalSignSet, DCT.date, "encounter_type", [SP.encounter, SP.encounterType]),
    "immunizations": (SP.Immunization, DCT.date, None, None),
    "procedures": (SP.Procedure, DCT.date, "snomed", [SP.procedureName]),
}
STATEMENT_TYPES = {
    SP[t]
    for t in (
        "Medication Fulfillment Problem Allergy AllergyExclusion LabResult "
        "VitalSignSet Encounter Immunization Procedure Demographics"
    ).split()
}
DATE_FILTERS = [
    "date_from",
    "date_from_including",
    "date_from_excluding",
    "date_to",
    "date_to_including",
    "date_to_excluding",
]
LOW = "1900-01-01T00:00:00Z"
HIGH = "2999-12-31T23:59:59Z"

PREFIXES = """
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX sp: <http://smartplatforms.org/terms#>
PREFIX dcterms: <http://purl.org/dc/terms/>
PREFIX v: <http://www.w3.org/2006/vcard/ns#>
PREFIX foaf: <http://xmlns.com/foaf/0.1/>
"""

# The flattening queries of smart-classic-models.md, sections 2 to 9: each
# must give one row per statement of its type(s).
FLATTEN = {
    "problems": ([SP.Problem], """
SELECT ?problem ?record ?start_date ?end_date ?snomed ?name ?status ?notes WHERE {
  ?problem rdf:type sp:Problem ; sp:belongsTo ?record ;
           sp:startDate ?start_date ; sp:problemName ?pn .
  ?pn dcterms:title ?name ; sp:code/dcterms:identifier ?snomed .
  OPTIONAL { ?problem sp:endDate ?end_date }
  OPTIONAL { ?problem sp:problemStatus/sp:code/dcterms:identifier ?status }
  OPTIONAL { ?problem sp:notes ?notes }
}"""),
    "allergies": ([SP.Allergy, SP.AllergyExclusion], """
SELECT ?statement ?record ?kind ?date ?end_date ?category_snomed ?allergen
       ?allergen_system ?allergen_code ?reaction ?reaction_snomed ?severity_snomed WHERE {
  { ?statement rdf:type sp:Allergy ; sp:belongsTo ?record ; sp:startDate ?date .
    BIND("allergy" AS ?kind)
    OPTIONAL { ?statement sp:endDate ?end_date }
    OPTIONAL { ?statement sp:category/sp:code/dcterms:identifier ?category_snomed }
    OPTIONAL { ?statement sp:drugAllergen|sp:drugClassAllergen|sp:otherAllergen ?al .
               ?al dcterms:title ?allergen ; sp:code ?alc .
               ?alc sp:system ?allergen_system ; dcterms:identifier ?allergen_code }
    OPTIONAL { ?statement sp:allergicReaction ?rx .
               ?rx dcterms:title ?reaction ; sp:code/dcterms:identifier ?reaction_snomed }
    OPTIONAL { ?statement sp:severity/sp:code/dcterms:identifier ?severity_snomed } }
  UNION
  { ?statement rdf:type sp:AllergyExclusion ; sp:belongsTo ?record ; dcterms:date ?date ;
               sp:allergyExclusionName ?ex .
    ?ex dcterms:title ?allergen ; sp:code/dcterms:identifier ?allergen_code .
    BIND("exclusion" AS ?kind) }
}"""),
    "lab_results": ([SP.LabResult], """
SELECT ?lab ?record ?date ?loinc ?name ?value ?unit ?normal_low ?normal_high
       ?narrative ?accession ?status ?interpretation ?notes WHERE {
  ?lab rdf:type sp:LabResult ; sp:belongsTo ?record ; dcterms:date ?date ; sp:labName ?ln .
  ?ln dcterms:title ?name ; sp:code/dcterms:identifier ?loinc .
  OPTIONAL { ?lab sp:quantitativeResult ?qr . ?qr sp:valueAndUnit ?vu .
             ?vu sp:value ?value ; sp:unit ?unit .
             OPTIONAL { ?qr sp:normalRange ?nr .
                        ?nr sp:minimum/sp:value ?normal_low ; sp:maximum/sp:value ?normal_high } }
  OPTIONAL { ?lab sp:narrativeResult/sp:value ?narrative }
  OPTIONAL { ?lab sp:accessionNumber ?accession }
  OPTIONAL { ?lab sp:labStatus/sp:code/dcterms:identifier ?status }
  OPTIONAL { ?lab sp:abnormalInterpretation/sp:code/dcterms:identifier ?interpretation }
  OPTIONAL { ?lab sp:notes ?notes }
}"""),
    "vital_sign_sets": ([SP.VitalSignSet], """
SELECT ?vss ?record ?date ?encounter ?encounter_type ?encounter_start ?encounter_end
       ?height ?weight ?bmi ?temperature ?heart_rate ?respiratory_rate
       ?oxygen_saturation ?head_circumference ?systolic ?diastolic WHERE {
  ?vss rdf:type sp:VitalSignSet ; sp:belongsTo ?record ; dcterms:date ?date .
  OPTIONAL { ?vss sp:encounter ?encounter .
             OPTIONAL { ?encounter sp:encounterType/sp:code/dcterms:identifier ?encounter_type }
             OPTIONAL { ?encounter sp:startDate ?encounter_start }
             OPTIONAL { ?encounter sp:endDate ?encounter_end } }
  OPTIONAL { ?vss sp:height/sp:value ?height }
  OPTIONAL { ?vss sp:weight/sp:value ?weight }
  OPTIONAL { ?vss sp:bodyMassIndex/sp:value ?bmi }
  OPTIONAL { ?vss sp:temperature/sp:value ?temperature }
  OPTIONAL { ?vss sp:heartRate/sp:value ?heart_rate }
  OPTIONAL { ?vss sp:respiratoryRate/sp:value ?respiratory_rate }
  OPTIONAL { ?vss sp:oxygenSaturation/sp:value ?oxygen_saturation }
  OPTIONAL { ?vss sp:headCircumference/sp:value ?head_circumference }
  OPTIONAL { ?vss sp:bloodPressure/sp:systolic/sp:value ?systolic }
  OPTIONAL { ?vss sp:bloodPressure/sp:diastolic/sp:value ?diastolic }
}"""),
    "immunizations": ([SP.Immunization], """
SELECT ?imm ?record ?date ?cvx ?product ?status ?refusal_reason
       (GROUP_CONCAT(?class_code; separator="|") AS ?product_classes) WHERE {
  ?imm rdf:type sp:Immunization ; sp:belongsTo ?record ; dcterms:date ?date ;
       sp:productName ?pn ; sp:administrationStatus/sp:code/dcterms:identifier ?status .
  ?pn dcterms:title ?product ; sp:code/dcterms:identifier ?cvx .
  OPTIONAL { ?imm sp:refusalReason/sp:code/dcterms:identifier ?refusal_reason }
  OPTIONAL { ?imm sp:productClass/sp:code/dcterms:identifier ?class_code }
} GROUP BY ?imm ?record ?date ?cvx ?product ?status ?refusal_reason"""),
    "procedures": ([SP.Procedure], """
SELECT ?proc ?record ?date ?snomed ?name ?status ?notes WHERE {
  ?proc rdf:type sp:Procedure ; sp:belongsTo ?record ; dcterms:date ?date ; sp:procedureName ?pn .
  ?pn dcterms:title ?name ; sp:code/dcterms:identifier ?snomed .
  OPTIONAL { ?proc sp:procedureStatus/sp:code/dcterms:identifier ?status }
  OPTIONAL { ?proc sp:notes ?notes }
}"""),
    "demographics": ([SP.Demographics], """
SELECT ?demo ?record ?given_name ?additional_name ?family_name ?gender ?birth_date
       ?death_date ?email ?mrn ?street ?extended ?locality ?region ?postal_code ?country
       ?home_phone ?cell_phone ?gestational_age_wk WHERE {
  ?demo rdf:type sp:Demographics ; sp:belongsTo ?record ; v:n ?n .
  ?n v:given-name ?given_name ; v:family-name ?family_name .
  OPTIONAL { ?n v:additional-name ?additional_name }
  OPTIONAL { ?demo foaf:gender ?gender }
  OPTIONAL { ?demo v:bday ?birth_date }
  OPTIONAL { ?demo v:deathdate ?death_date }
  OPTIONAL { ?demo v:email ?email }
  OPTIONAL { ?demo sp:medicalRecordNumber/dcterms:identifier ?mrn }
  OPTIONAL { ?demo v:adr ?adr .
             OPTIONAL { ?adr v:street-address ?street }
             OPTIONAL { ?adr v:extended-address ?extended }
             OPTIONAL { ?adr v:locality ?locality }
             OPTIONAL { ?adr v:region ?region }
             OPTIONAL { ?adr v:postal-code ?postal_code }
             OPTIONAL { ?adr v:country|v:country-name ?country } }
  OPTIONAL { ?demo v:tel ?ht . ?ht rdf:type v:Home ; rdf:value ?home_phone }
  OPTIONAL { ?demo v:tel ?ct . ?ct rdf:type v:Cell ; rdf:value ?cell_phone }
  OPTIONAL { ?demo sp:gestationalAgeAtBirth/sp:value ?gestational_age_wk }
}"""),
    "fulfillments": ([SP.Fulfillment], """
SELECT ?fulfillment ?record ?date ?days_supply ?quantity ?quantity_unit ?medication ?rxnorm ?drug_name WHERE {
  ?fulfillment rdf:type sp:Fulfillment ; sp:belongsTo ?record ; dcterms:date ?date .
  OPTIONAL { ?fulfillment sp:dispenseDaysSupply ?days_supply }
  OPTIONAL { ?fulfillment sp:quantityDispensed ?q . ?q sp:value ?quantity ; sp:unit ?quantity_unit }
  OPTIONAL { ?fulfillment sp:medication ?medication .
             OPTIONAL { ?medication sp:drugName ?dn . ?dn dcterms:title ?drug_name ;
                                    sp:code/dcterms:identifier ?rxnorm } }
}"""),
    "medications": ([SP.Medication], """
SELECT ?med ?name WHERE { ?med rdf:type sp:Medication .
                          ?med sp:drugName ?cv . ?cv dcterms:title ?name . }"""),
}


class Checks:
    def __init__(self):
        self.passed = 0
        self.failures = []

    def __call__(self, name, cond, detail=""):
        if cond:
            self.passed += 1
        else:
            self.failures.append(f"{name} {detail}"[:400])

    def merge(self, other):
        self.passed += other[0]
        self.failures.extend(other[1])


def tokens(resp):
    d = parse_qs(resp.text, keep_blank_values=True)
    return d["smart_record_id"][0], d["oauth_token"][0], d["oauth_token_secret"][0]


def path(rid, resource):
    if resource == "demographics":
        return f"/records/{rid}/demographics"
    return f"/records/{rid}/{resource}/"


def parse(content):
    g = rdflib.Graph()
    g.parse(data=content, format="xml")
    return g


def pad(value, template):
    return value + template[len(value):] if len(value) < len(template) else value


def date_passes(name, value, date):
    if name in ("date_from", "date_from_including"):
        return pad(date, HIGH) >= pad(value, LOW)
    if name == "date_from_excluding":
        return pad(date, HIGH) > pad(value, HIGH)
    if name in ("date_to", "date_to_including"):
        return pad(date, LOW) <= pad(value, HIGH)
    return pad(date, LOW) < pad(value, LOW)


def code_of(g, statement, steps):
    node = statement
    for step in steps:
        node = g.value(node, step)
        if node is None:
            return None
    code = g.value(node, SP.code)
    return None if code is None else str(code).rsplit("#", 1)[-1].rsplit("/", 1)[-1]


def check_record(args):
    """Fetch and check every resource of one record (runs in a worker)."""
    base, rid, tok, sec = args
    check = Checks()
    s = requests.Session()
    three = OAuth1(APP, SECRET, tok, sec)
    record = rdflib.URIRef(f"{base}/records/{rid}")
    counts = {}
    flags = set()
    for resource in list(LISTS) + ["demographics"]:
        r = s.get(base + path(rid, resource), auth=three)
        check(f"{rid} {resource} 200", r.status_code == 200, r.status_code)
        check(f"{rid} {resource} content type",
              r.headers.get("content-type") == "application/rdf+xml", r.headers.get("content-type"))
        try:
            g = parse(r.content)
        except Exception as e:  # noqa: BLE001 (any parse error is a failure)
            check(f"{rid} {resource} parses", False, repr(e)[:200])
            continue
        summaries = set(g.subjects(RDF.type, API.ResponseSummary))
        for st in set(g.subjects(RDF.type, None)):
            if any((st, RDF.type, t) in g for t in STATEMENT_TYPES):
                check(f"{rid} {resource} belongsTo {st}", list(g.objects(st, SP.belongsTo)) == [record])
        if resource == "demographics":
            demos = set(g.subjects(RDF.type, SP.Demographics))
            check(f"{rid} one demographics", demos == {rdflib.URIRef(f"{record}/demographics")}, demos)
            check(f"{rid} demographics summary counts 1", len(summaries) == 1 and all(
                int(g.value(x, API.totalResultCount)) == 1 for x in summaries))
            check(f"{rid} vcard prefix", b'xmlns:vcard="http://www.w3.org/2006/vcard/ns#"' in r.content)
            counts[resource] = len(demos)
            continue
        ty = LISTS[resource][0]
        found = set(g.subjects(RDF.type, ty))
        counts[resource] = len(found)
        if resource == "allergies":
            ex = set(g.subjects(RDF.type, SP.AllergyExclusion))
            want = sorted(n for n in (len(found), len(ex)) if n)
            got = sorted(int(g.value(x, API.totalResultCount)) for x in summaries)
            check(f"{rid} allergy summaries count each type", got == want, (got, want))
            if found or ex:
                check(f"{rid} allergies in pretty-xml", b"<sp:Allergy" in r.content or b"<sp:AllergyExclusion" in r.content)
                check(f"{rid} allergies nest their blank nodes", b"rdf:nodeID" not in r.content)
            if len(summaries) == 2:
                flags.add("two allergy summaries")
            if not found and not ex:
                check(f"{rid} empty allergies graph", len(g) == 0)
            continue
        if not found:
            check(f"{rid} {resource} empty graph without summary", len(g) == 0, len(g))
            continue
        check(f"{rid} {resource} one summary", len(summaries) == 1, len(summaries))
        for x in summaries:
            check(f"{rid} {resource} summary counts the type",
                  int(g.value(x, API.totalResultCount)) == len(found), (g.value(x, API.totalResultCount), len(found)))
        if resource == "vital_sign_sets":
            for vss in found:
                enc = g.value(vss, SP.encounter)
                check(f"{rid} encounter neighbour", (enc, RDF.type, SP.Encounter) in g)
        if resource == "fulfillments":
            for f in found:
                med = g.value(f, SP.medication)
                check(f"{rid} medication neighbour", (med, RDF.type, SP.Medication) in g)
        if resource == "lab_results":
            if any(str(u) == "" for u in g.objects(None, SP.unit)):
                flags.add("empty unit")
    return check.passed, check.failures, counts, sorted(flags)


class Walker:
    def __init__(self, base, check):
        self.base = base
        self.check = check
        self.s = requests.Session()
        self.two = OAuth1(APP, client_secret=SECRET)

    def cursor(self, tail, auth=None):
        return self.s.post(f"{self.base}/apps/{APP}/tokens/records/{tail}", auth=auth or self.two)

    def mint(self, rid):
        _, tok, sec = tokens(self.cursor(rid))
        return OAuth1(APP, SECRET, tok, sec)

    def get(self, rid, resource, params=None, auth=None):
        return self.s.get(self.base + path(rid, resource), params=params, auth=auth or self.mint(rid))

    def walk(self):
        out = []
        r = self.cursor("first")
        while r.status_code == 200:
            out.append(tokens(r))
            r = self.cursor(f"{out[-1][0]}/next")
        self.check("404 after the last record", r.status_code == 404, r.status_code)
        return out


def serve(binary, *args):
    """`smartsweep sandbox ARGS` on 127.0.0.1:0: its process and API base."""
    env = dict(os.environ, SMARTSWEEP_CONSUMER_SECRET=SECRET)
    proc = subprocess.Popen(
        [binary, "sandbox", "--listen", "127.0.0.1:0", "--quiet", *args],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True, env=env)
    line = proc.stdout.readline()
    if "listening on" not in line:
        proc.terminate()
        raise RuntimeError(f"the sandbox did not start: {line!r}")
    return proc, line.strip().split()[-1]


def start(binary, *extra):
    return serve(binary, "--records", str(RECORDS), *extra)


def main():
    binary = sys.argv[1]
    check = Checks()
    began = time.monotonic()
    proc, base = start(binary)
    try:
        ids = run(base, check)
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    with tempfile.TemporaryDirectory() as tmp:
        changed(binary, ids, tmp, check)
    print(f"walk_sandbox: {check.passed} passed, {len(check.failures)} failed in {time.monotonic() - began:.0f} s")
    for f in check.failures[:40]:
        print("FAIL:", f, file=sys.stderr)
    return 1 if check.failures else 0


def run(base, check):
    w = Walker(base, check)
    r = w.s.get(f"{base}/manifest")
    check("manifest 200", r.status_code == 200, r.status_code)
    manifest = r.json()
    check("manifest api_base", manifest.get("api_base") == base, r.text[:200])
    for t in ("Medication", "Problem", "LabResult", "VitalSignSet", "Demographics", "Allergy"):
        check(f"manifest capability {t}", str(SP[t]) in manifest.get("capabilities", {}))

    walked = w.walk()
    ids = [t[0] for t in walked]
    check(f"{RECORDS} records walked", len(ids) == RECORDS, len(ids))
    check("ids in byte-wise order", ids == sorted(ids, key=lambda x: x.encode()))
    check("numeric order differs", ids != sorted(ids, key=int))
    check("a fresh token per call", len({t[1] for t in walked}) == len(walked))

    # Every resource of every record, parsed by rdflib in worker processes.
    phase = time.monotonic()
    totals, empties, flags, per_record = {}, {}, set(), {}
    with ProcessPoolExecutor(max_workers=max(2, min(4, os.cpu_count() or 2))) as pool:
        jobs = [(base, *t) for t in walked]
        for rid, (passed, failures, counts, fl) in zip(ids, pool.map(check_record, jobs, chunksize=8)):
            check.merge((passed, failures))
            flags.update(fl)
            per_record[rid] = counts
            for k, n in counts.items():
                totals[k] = totals.get(k, 0) + n
                empties[k] = empties.get(k, 0) + (n == 0)
    check("one demographics per record", totals.get("demographics") == RECORDS, totals)
    for resource in LISTS:
        check(f"some {resource}", totals.get(resource, 0) > 0, totals)
    for resource in ("lab_results", "immunizations", "procedures", "medications"):
        check(f"some record without {resource}", empties.get(resource, 0) > 0, empties)
    check("some allergies answer has two summaries", "two allergy summaries" in flags, flags)
    check("some lab has an empty unit", "empty unit" in flags, flags)

    for name, step in (
        ("every resource of every record", None),
        ("protocol", lambda: protocol(w, ids, check)),
        ("filters and paging", lambda: filters_and_paging(w, ids, check)),
        ("flattening queries", lambda: flatten(w, per_record, check)),
    ):
        if step:
            step()
        print(f"walk_sandbox: {name}: {time.monotonic() - phase:.1f} s")
        phase = time.monotonic()
    return ids


def protocol(w, ids, check):
    base, s, two = w.base, w.s, w.two
    rid = ids[0]
    three = w.mint(rid)
    check("500 for an unknown record id", w.cursor("no-such-record/next").status_code == 500)
    r = s.post(f"{base}/apps/other@apps.example.org/tokens/records/first", auth=two)
    check("500 for an unknown app id", r.status_code == 500, r.status_code)
    r = w.cursor("first", auth=OAuth1(APP, client_secret="wrong"))
    check("401 bad signature", r.status_code == 401 and r.text == "Unauthorized", (r.status_code, r.text))
    check("401 without a header", s.post(f"{base}/apps/{APP}/tokens/records/first").status_code == 401)
    stale = OAuth1(APP, client_secret=SECRET, timestamp=str(int(time.time()) - 1000))
    check("401 stale timestamp", w.cursor("first", auth=stale).status_code == 401)
    req = requests.Request("POST", f"{base}/apps/{APP}/tokens/records/first", auth=two).prepare()
    check("a nonce is accepted once", s.send(req).status_code == 200)
    check("401 for a reused nonce", s.send(req).status_code == 401)
    r = w.get(rid, "medications", auth=OAuth1(APP, SECRET, "nosuchtoken", "x"))
    check("401 unknown token", r.status_code == 401, r.status_code)
    future = OAuth1(APP, client_secret=SECRET, timestamp=str(int(time.time()) + 1000))
    check("a future timestamp is accepted", w.cursor("first", auth=future).status_code == 200)
    check("403 record token on the cursor", w.cursor("first", auth=three).status_code == 403)
    for resource in list(LISTS) + ["demographics"]:
        p = path(rid, resource)
        check(f"403 two-legged {resource}", s.get(base + p, auth=two).status_code == 403)
        check(f"403 another record's token on {resource}", w.get(ids[1], resource, auth=three).status_code == 403)
        other = p[:-1] if p.endswith("/") else p + "/"
        check(f"404 for {other}", s.get(base + other, auth=three).status_code == 404)
        check(f"405 POST on {resource}", s.post(base + p, auth=three).status_code == 405)


def statements(g, resource):
    ty, sort, _, steps = LISTS[resource]
    out = []
    for st in g.subjects(RDF.type, ty):
        code = code_of(g, st, steps) if steps else None
        out.append((str(st), str(g.value(st, sort)), code))
    return out


def record_with(w, ids, resource, minimum):
    for rid in ids:
        auth = w.mint(rid)
        g = parse(w.get(rid, resource, auth=auth).content)
        found = statements(g, resource)
        if len(found) >= minimum:
            return rid, auth, found
    return None, None, []


def filters_and_paging(w, ids, check):
    for resource, (ty, _, param, _) in LISTS.items():
        rid, auth, found = record_with(w, ids, resource, 3)
        check(f"a record with 3 {resource}", rid is not None)
        if rid is None:
            continue
        kinds = lambda g: {str(x) for x in g.subjects(RDF.type, ty)}  # noqa: E731
        if param:
            codes = sorted({c for _, _, c in found if c})[:2]
            want = {st for st, _, c in found if c in codes}
            g = parse(w.get(rid, resource, {param: "|".join(codes)}, auth).content)
            check(f"{resource} {param} filter", kinds(g) == want, (codes, len(kinds(g)), len(want)))
        dates = sorted(d for _, d, _ in found)
        mid = dates[len(dates) // 2]
        for value in {mid[:4], mid[:7], mid}:
            for name in DATE_FILTERS:
                want = {st for st, d, _ in found if date_passes(name, value, d)}
                g = parse(w.get(rid, resource, {name: value}, auth).content)
                check(f"{resource} {name}={value}", kinds(g) == want, (rid, len(kinds(g)), len(want)))
        # Paging, newest first (URI ascending on ties), through nextPageURL.
        # (Python's sort is stable, also in reverse.)
        by_uri = sorted(found, key=lambda x: x[0])
        expected = [st for st, _, _ in sorted(by_uri, key=lambda x: x[1], reverse=True)]
        url, params, seen, pages = w.base + path(rid, resource), {"limit": "2"}, [], 0
        while True:
            pages += 1
            g = parse(w.s.get(url, params=params, auth=auth).content)
            summary = next((x for x in g.subjects(RDF.type, API.ResponseSummary)
                            if g.value(x, API.resultOrder) is not None), None)
            check(f"{resource} page summary", summary is not None)
            if summary is None:
                break
            page = [str(x) for x in rdflib.collection.Collection(g, g.value(summary, API.resultOrder))]
            check(f"{resource} resultOrder is the page", set(page) == kinds(g))
            seen.extend(page)
            nxt = g.value(summary, API.nextPageURL)
            if nxt is None:
                break
            parts = urlsplit(str(nxt))
            url = f"{parts.scheme}://{parts.netloc}{parts.path}"
            params = dict(p.split("=", 1) for p in parts.query.split("&") if p)
        check(f"{resource} pages newest first", seen == expected, (rid, seen[:3], expected[:3]))
        check(f"{resource} page count", pages == (len(found) + 1) // 2, pages)


def flatten(w, per_record, check):
    """Each flattening query on three records that have a few statements."""
    rows_seen = {}
    for resource, (types, query) in FLATTEN.items():
        chosen = [rid for rid, counts in per_record.items() if 1 <= counts.get(resource, 0) <= 30][:3]
        check(f"records with a few {resource}", len(chosen) == 3, chosen)
        for rid in chosen:
            g = parse(w.get(rid, resource).content)
            want = set()
            for t in types:
                want |= set(g.subjects(RDF.type, t))
            rows = list(g.query(PREFIXES + query))
            keys = [row[0] for row in rows]
            check(f"{rid} {resource} query: one row per statement",
                  len(rows) == len(want) and set(keys) == want, (len(rows), len(want)))
            rows_seen[resource] = rows_seen.get(resource, 0) + len(rows)
    for resource in FLATTEN:
        check(f"flattening {resource} gave rows", rows_seen.get(resource, 0) > 0, rows_seen)


def changed(binary, ids, tmp, check):
    """A second run where 5% of the records are gone and 15 are new."""
    dropped = ids[::20]
    listing = os.path.join(tmp, "dropped.txt")
    with open(listing, "w") as f:
        f.write("# records deleted since the last run\n" + "\n".join(dropped) + "\n")
    proc, base = start(binary, "--drop-ids", listing, "--extra-records", "15")
    try:
        w = Walker(base, check)
        now = [t[0] for t in w.walk()]
        old = set(ids)
        new = [i for i in now if i not in old]
        check("dropped ids are skipped", not set(dropped) & set(now))
        check("every other id is kept", old - set(dropped) <= set(now))
        check("15 new ids", len(new) == 15, len(new))
        positions = [now.index(i) for i in new]
        check("new ids interleave", min(positions) < len(now) // 2 < max(positions), positions)
        check("byte-wise order", now == sorted(now, key=lambda x: x.encode()))
        check("next after a dropped id is 500", w.cursor(f"{dropped[1]}/next").status_code == 500)
        check("no token for a dropped id", w.cursor(dropped[1]).status_code == 500)
        auth = w.mint(now[0])
        r = w.s.get(base + path(dropped[1], "problems"), auth=auth)
        check("a data call for a dropped id is 403", r.status_code == 403, r.status_code)
    finally:
        proc.terminate()
        proc.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
