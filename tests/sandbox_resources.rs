//! Every data resource of the sandbox through real HTTP on 127.0.0.1:0:
//! shapes, slash rules, filters, paging, summaries, neighbours, the
//! pretty-xml allergies, one person per record, population changes,
//! `--from-dir` layouts and the clock offset. A small OAuth 1.0 signer
//! written from the container spec (section 3) signs the calls; oxrdfxml
//! parses every answer.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod sandbox_common;

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant, SystemTime};

use smartsweep::sandbox::{self, SandboxConfig};

use sandbox_common::*;

const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";

// ---------------------------------------------------------------- client

type Token = (String, String);

impl Box_ {
    fn base(&self) -> &str {
        self.handle.api_base()
    }

    /// Send a request signed by the default app (3-legged with `token`),
    /// the query signed for a GET, timestamped `skew` seconds off.
    async fn send(
        &self,
        method: &str,
        path: &str,
        query: &[(String, String)],
        token: Option<&Token>,
    ) -> Answer {
        let mut sig = match token {
            Some((t, s)) => Sig::with_token(t, s),
            None => Sig::app(),
        };
        sig.timestamp = (now() + self.skew).to_string();
        let wire = path.replace('@', "%40");
        self.raw(
            method,
            &wire,
            path,
            query,
            None,
            Some(&sig),
            method == "GET",
        )
        .await
    }

    async fn cursor(&self, tail: &str) -> Answer {
        self.send(
            "POST",
            &format!("/apps/{APP}/tokens/records/{tail}"),
            &[],
            None,
        )
        .await
    }

    async fn mint(&self, id: &str) -> Token {
        let a = self.cursor(id).await;
        assert_eq!(a.status, 200, "mint {id}: {}", a.text());
        let f = a.form();
        (f["oauth_token"].clone(), f["oauth_token_secret"].clone())
    }

    async fn walk(&self) -> Vec<String> {
        let mut ids = Vec::new();
        let mut a = self.cursor("first").await;
        while a.status == 200 {
            let id = a.form()["smart_record_id"].clone();
            a = self.cursor(&format!("{id}/next")).await;
            ids.push(id);
        }
        assert_eq!(a.status, 404);
        ids
    }

    /// GET a resource of a record (the path shape from the registry).
    async fn get(&self, id: &str, resource: &str, query: &[(&str, &str)], token: &Token) -> Answer {
        self.send("GET", &path_of(id, resource), &owned(query), Some(token))
            .await
    }
}

fn path_of(id: &str, resource: &str) -> String {
    let served = sandbox::served_resource(resource).expect("served");
    if served.trailing_slash {
        format!("/records/{id}/{resource}/")
    } else {
        format!("/records/{id}/{resource}")
    }
}

// ---------------------------------------------------------------- RDF

/// The statement type and sort property of a list resource, as full URIs.
fn info(resource: &str) -> (String, Option<String>) {
    let r = sandbox::served_resource(resource).expect("served");
    let sort = r.sort_property.map(|p| {
        let (prefix, local) = p.split_once(':').expect("qname");
        match prefix {
            "sp" => format!("{SP}{local}"),
            "dcterms" => format!("{DCT}{local}"),
            other => panic!("prefix {other}"),
        }
    });
    (r.statement_type, sort)
}

/// The code a resource's code filter compares, for a statement.
fn filter_code(g: &Graph, resource: &str, statement: &str) -> Option<String> {
    let (pred, via_encounter) = match resource {
        "medications" => ("drugName", false),
        "problems" => ("problemName", false),
        "procedures" => ("procedureName", false),
        "lab_results" => ("labName", false),
        "vital_sign_sets" => ("encounterType", true),
        _ => return None,
    };
    let subject = if via_encounter {
        g.one(statement, &format!("{SP}encounter")).to_owned()
    } else {
        statement.to_owned()
    };
    let cv = g.one(&subject, &format!("{SP}{pred}")).to_owned();
    let code = g.one(&cv, &format!("{SP}code"));
    Some(code.rsplit(['/', '#']).next().unwrap_or("").to_owned())
}

const LOW: &str = "1900-01-01T00:00:00Z";
const HIGH: &str = "2999-12-31T23:59:59Z";

fn pad(s: &str, t: &str) -> String {
    if s.len() < t.len() {
        format!("{s}{}", &t[s.len()..])
    } else {
        s.to_owned()
    }
}

fn date_passes(name: &str, value: &str, date: &str) -> bool {
    match name {
        "date_from" | "date_from_including" => pad(date, HIGH) >= pad(value, LOW),
        "date_from_excluding" => pad(date, HIGH) > pad(value, HIGH),
        "date_to" | "date_to_including" => pad(date, LOW) <= pad(value, HIGH),
        _ => pad(date, LOW) < pad(value, LOW),
    }
}

fn lists() -> Vec<&'static str> {
    sandbox::served_resources()
        .into_iter()
        .filter(|r| sandbox::served_resource(r).is_some_and(|s| s.trailing_slash))
        .collect()
}

// ---------------------------------------------------------------- tests

#[test]
fn the_registry_is_what_the_api_reports() {
    let names = sandbox::served_resources();
    for r in [
        "medications",
        "fulfillments",
        "problems",
        "allergies",
        "lab_results",
        "vital_sign_sets",
        "immunizations",
        "procedures",
        "demographics",
    ] {
        assert!(names.contains(&r) && sandbox::serves(r), "{r}");
    }
    assert!(!sandbox::serves("clinical_notes") && !sandbox::serves(""));
    let demo = sandbox::served_resource("demographics").expect("demographics");
    assert!(!demo.trailing_slash && demo.sort_property.is_none());
    let labs = sandbox::served_resource("lab_results").expect("labs");
    assert_eq!(
        (labs.code_filter, labs.sort_property),
        (Some("loinc"), Some("dcterms:date"))
    );
    assert_eq!(
        sandbox::served_resource("vital_sign_sets").and_then(|r| r.code_filter),
        Some("encounter_type")
    );
    assert_eq!(
        sandbox::served_resource("allergies").and_then(|r| r.sort_property),
        Some("sp:startDate")
    );
}

/// Walk 150 records and fetch every resource: each answer parses, has its
/// resource's shape, and all of a record's answers describe one person.
#[tokio::test]
async fn every_resource_of_every_record_has_its_shape() {
    let b = boot(config(150, 31)).await;
    let base = b.base().to_owned();
    let ids = b.walk().await;
    assert_eq!(ids.len(), 150);
    let mut seen: BTreeMap<&str, (usize, usize)> = BTreeMap::new();
    let mut quirks: BTreeSet<&str> = BTreeSet::new();
    for id in &ids {
        let token = b.mint(id).await;
        let record = format!("{base}/records/{id}");
        let demo = b.get(id, "demographics", &[], &token).await;
        assert_eq!(demo.status, 200);
        let dg = Graph::parse(&demo.body).unwrap_or_else(|e| panic!("{id}: {e}"));
        let birth = check_demographics(&dg, &demo.text(), &record, id);
        for resource in lists() {
            let a = b.get(id, resource, &[], &token).await;
            assert_eq!(a.status, 200, "{id} {resource}");
            assert_eq!(a.header("content-type"), "application/rdf+xml");
            let text = a.text();
            assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
            let g =
                Graph::parse(&a.body).unwrap_or_else(|e| panic!("{id} {resource}: {e}\n{text}"));
            let (ty, sort) = info(resource);
            let statements = g.of_type(&ty);
            let entry = seen.entry(resource).or_default();
            entry.0 += usize::from(statements.is_empty());
            entry.1 = entry.1.max(statements.len());
            if resource == "allergies" {
                check_allergies(&g, &text, &record, &mut quirks);
                continue;
            }
            if statements.is_empty() {
                assert!(
                    g.triples.is_empty(),
                    "{id} {resource}: an empty graph, no summary"
                );
                continue;
            }
            // One summary counting only the requested type.
            let summaries = g.summaries();
            assert_eq!(summaries.len(), 1, "{id} {resource}");
            assert_eq!(
                g.objects(&summaries[0], &format!("{API}totalResultCount")),
                vec![statements.len().to_string()]
            );
            assert!(text.contains("<rdf:Description"), "flat style");
            assert_eq!(
                text.matches(" rdf:about=").count(),
                text.matches("<rdf:Description rdf:about=").count(),
                "no typed node elements in the flat style"
            );
            let sort = sort.expect("lists sort");
            for s in &statements {
                assert!(s.starts_with(&format!("{record}/{resource}/")), "{s}");
                let date = g.one(s, &sort);
                assert!(
                    date[..4] >= birth[..4],
                    "{id} {resource}: {date} before birth {birth}"
                );
            }
            check_every_statement_belongs(&g, &record);
            note_quirks(&g, resource, &mut quirks);
        }
    }
    // Variety across records.
    for resource in lists() {
        let (empty, max) = seen[resource];
        assert!(max > 0, "{resource} never has statements");
        if resource != "allergies" {
            assert!(empty > 0, "{resource}: some record has none");
        }
    }
    assert!(
        seen["lab_results"].1 >= 100,
        "some record has many labs: {:?}",
        seen["lab_results"]
    );
    for q in [
        "year-only problem date",
        "year-only allergy date",
        "empty unit",
        "empty notes",
        "non-numeric lab value",
        "narrative lab result",
        "two product classes",
        "no product class",
        "refusal reason",
        "two allergy summaries",
        "exclusion only",
        "shared code with two titles",
        "datetime vital sign set",
        "non-ambulatory encounter",
    ] {
        assert!(quirks.contains(q), "no record shows: {q} (saw {quirks:?})");
    }
    b.handle.shutdown().await;
}

/// Demographics: one statement at exactly `{record}/demographics`, a
/// summary counting 1, the vCard prefix, a blank-node MRN; the birth date.
fn check_demographics(g: &Graph, text: &str, record: &str, id: &str) -> String {
    let demo = format!("{record}/demographics");
    assert_eq!(
        g.of_type(&format!("{SP}Demographics")),
        BTreeSet::from([demo.clone()])
    );
    assert_eq!(g.one(&demo, &format!("{SP}belongsTo")), record);
    let summaries = g.summaries();
    assert_eq!(summaries.len(), 1);
    assert_eq!(g.one(&summaries[0], &format!("{API}totalResultCount")), "1");
    assert_eq!(g.one(&summaries[0], &format!("{API}resultsReturned")), "1");
    assert!(text.contains("xmlns:vcard=\"http://www.w3.org/2006/vcard/ns#\""));
    assert!(text.contains("<vcard:n ") || text.contains("<vcard:n>"));
    let gender = g.one(&demo, "http://xmlns.com/foaf/0.1/gender");
    assert!(gender == "male" || gender == "female");
    let n = g.one(&demo, &format!("{VCARD}n"));
    assert!(!g.one(n, &format!("{VCARD}given-name")).is_empty());
    assert!(!g.one(n, &format!("{VCARD}family-name")).is_empty());
    let mrn = g.one(&demo, &format!("{SP}medicalRecordNumber"));
    assert!(mrn.starts_with("_:"), "a blank-node MRN");
    assert_eq!(g.one(mrn, &format!("{DCT}identifier")), id);
    assert_eq!(g.one(mrn, &format!("{SP}system")), "My Hospital Record");
    for adr in g.objects(&demo, &format!("{VCARD}adr")) {
        assert_eq!(g.objects(adr, &format!("{VCARD}country")), vec!["USA"]);
        assert!(g.objects(adr, &format!("{VCARD}country-name")).is_empty());
    }
    let birth = g.one(&demo, &format!("{VCARD}bday")).to_owned();
    assert_eq!(birth.len(), 10);
    birth
}

fn check_every_statement_belongs(g: &Graph, record: &str) {
    for (s, o) in g.with_pred(&format!("{RDF}type")) {
        let statement = [
            "Medication",
            "Fulfillment",
            "Problem",
            "Allergy",
            "AllergyExclusion",
            "LabResult",
            "VitalSignSet",
            "Encounter",
            "Immunization",
            "Procedure",
            "Demographics",
        ]
        .iter()
        .any(|t| o == format!("{SP}{t}"));
        if statement {
            assert_eq!(g.objects(s, &format!("{SP}belongsTo")), vec![record], "{s}");
        }
    }
}

fn check_allergies(g: &Graph, text: &str, record: &str, quirks: &mut BTreeSet<&str>) {
    let allergies = g.of_type(&format!("{SP}Allergy"));
    let exclusions = g.of_type(&format!("{SP}AllergyExclusion"));
    let summaries = g.summaries();
    if allergies.is_empty() && exclusions.is_empty() {
        assert!(g.triples.is_empty());
        return;
    }
    // Pretty-xml: typed elements, blank nodes nested.
    assert!(!text.contains("rdf:nodeID"), "nested blank nodes:\n{text}");
    if !allergies.is_empty() {
        assert!(text.contains("<sp:Allergy rdf:about="), "{text}");
    }
    if !exclusions.is_empty() {
        assert!(text.contains("<sp:AllergyExclusion rdf:about="), "{text}");
    }
    assert_eq!(
        summaries.len(),
        usize::from(!allergies.is_empty()) + usize::from(!exclusions.is_empty())
    );
    let mut counts: Vec<String> = summaries
        .iter()
        .map(|s| g.one(s, &format!("{API}totalResultCount")).to_owned())
        .collect();
    counts.sort();
    let mut want: Vec<String> = [allergies.len(), exclusions.len()]
        .iter()
        .filter(|&&n| n > 0)
        .map(usize::to_string)
        .collect();
    want.sort();
    assert_eq!(counts, want);
    if summaries.len() == 2 {
        quirks.insert("two allergy summaries");
    }
    if allergies.is_empty() {
        quirks.insert("exclusion only");
    }
    for a in &allergies {
        assert!(a.starts_with(&format!("{record}/allergies/")));
        for p in ["category", "allergicReaction", "severity"] {
            let cv = g.one(a, &format!("{SP}{p}"));
            assert!(!g.one(cv, &format!("{DCT}title")).is_empty());
        }
        if g.one(a, &format!("{SP}startDate")).len() == 4 {
            quirks.insert("year-only allergy date");
        }
    }
    for e in &exclusions {
        assert!(
            e.starts_with(&format!("{record}/allergy_exclusions/")),
            "{e}"
        );
        g.one(e, &format!("{DCT}date"));
        let cv = g.one(e, &format!("{SP}allergyExclusionName"));
        let code = g.one(cv, &format!("{SP}code"));
        assert!(code.starts_with("http://purl.bioontology.org/ontology/SNOMEDCT/"));
    }
    check_every_statement_belongs(g, record);
}

/// Record the sample's quirks when an answer shows them.
fn note_quirks(g: &Graph, resource: &str, quirks: &mut BTreeSet<&str>) {
    for code in g.of_type(&format!("{SP}Code")) {
        if g.objects(&code, &format!("{DCT}title")).len() > 1 {
            quirks.insert("shared code with two titles");
        }
    }
    match resource {
        "problems"
            if g.with_pred(&format!("{SP}startDate"))
                .iter()
                .any(|(_, d)| d.len() == 4) =>
        {
            quirks.insert("year-only problem date");
        }
        "lab_results" => {
            for (_, unit) in g.with_pred(&format!("{SP}unit")) {
                if unit.is_empty() {
                    quirks.insert("empty unit");
                }
            }
            for (vu, value) in g.with_pred(&format!("{SP}value")) {
                let in_qr = g
                    .with_pred(&format!("{SP}valueAndUnit"))
                    .iter()
                    .any(|(_, o)| *o == vu);
                if in_qr && value.parse::<f64>().is_err() {
                    quirks.insert("non-numeric lab value");
                }
            }
            if !g.with_pred(&format!("{SP}narrativeResult")).is_empty() {
                quirks.insert("narrative lab result");
            }
        }
        "procedures"
            if g.with_pred(&format!("{SP}notes"))
                .iter()
                .any(|(_, n)| n.is_empty()) =>
        {
            quirks.insert("empty notes");
        }
        "immunizations" => {
            for imm in g.of_type(&format!("{SP}Immunization")) {
                match g.objects(&imm, &format!("{SP}productClass")).len() {
                    0 => quirks.insert("no product class"),
                    2 => quirks.insert("two product classes"),
                    _ => false,
                };
                if !g.objects(&imm, &format!("{SP}refusalReason")).is_empty() {
                    quirks.insert("refusal reason");
                }
            }
        }
        "vital_sign_sets" => {
            for (_, d) in g.with_pred(&format!("{DCT}date")) {
                if d.contains('T') {
                    quirks.insert("datetime vital sign set");
                }
            }
            for (_, code) in g.with_pred(&format!("{SP}code")) {
                if code.contains("EncounterType#") && !code.ends_with("#ambulatory") {
                    quirks.insert("non-ambulatory encounter");
                }
            }
        }
        _ => {}
    }
}

#[tokio::test]
async fn neighbours_come_forward_only() {
    let b = boot(config(60, 32)).await;
    let base = b.base().to_owned();
    let mut checked = BTreeSet::new();
    for id in b.walk().await {
        let token = b.mint(&id).await;
        let record = format!("{base}/records/{id}");
        // Vital sign sets bring their encounters, uncounted.
        let g =
            Graph::parse(&b.get(&id, "vital_sign_sets", &[], &token).await.body).expect("parse");
        let sets = g.of_type(&format!("{SP}VitalSignSet"));
        let encounters = g.of_type(&format!("{SP}Encounter"));
        assert_eq!(sets.len(), encounters.len());
        for set in &sets {
            let e = g.one(set, &format!("{SP}encounter"));
            assert!(encounters.contains(e) && e.starts_with(&format!("{record}/encounters/")));
            g.one(e, &format!("{SP}startDate"));
            g.one(e, &format!("{SP}encounterType"));
            checked.insert("encounters");
        }
        // Fulfillments bring their medications; medications theirs.
        let fg = Graph::parse(&b.get(&id, "fulfillments", &[], &token).await.body).expect("parse");
        let mg = Graph::parse(&b.get(&id, "medications", &[], &token).await.body).expect("parse");
        let fills = fg.of_type(&format!("{SP}Fulfillment"));
        let linked: BTreeSet<String> = mg
            .with_pred(&format!("{SP}fulfillment"))
            .iter()
            .map(|(_, f)| f.to_string())
            .collect();
        assert_eq!(
            fills, linked,
            "{id}: both answers name the same fulfillments"
        );
        assert_eq!(mg.of_type(&format!("{SP}Fulfillment")), linked);
        for f in &fills {
            let med = fg.one(f, &format!("{SP}medication"));
            assert!(fg.of_type(&format!("{SP}Medication")).contains(med));
            assert!(mg.of_type(&format!("{SP}Medication")).contains(med));
            fg.one(med, &format!("{SP}drugName"));
            checked.insert("medications");
        }
        if let Some(s) = fg.summaries().first() {
            assert_eq!(
                fg.one(s, &format!("{API}totalResultCount")),
                fills.len().to_string()
            );
        }
    }
    assert_eq!(checked.len(), 2);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn slash_rules_methods_and_grants() {
    let b = boot(config(10, 33)).await;
    let ids = b.walk().await;
    let (id, other) = (&ids[0], &ids[1]);
    let token = b.mint(id).await;
    let other_token = b.mint(other).await;
    for resource in sandbox::served_resources() {
        let served = sandbox::served_resource(resource).expect("served");
        let good = path_of(id, resource);
        let bad = if served.trailing_slash {
            good.trim_end_matches('/').to_owned()
        } else {
            format!("{good}/")
        };
        assert_eq!(
            b.send("GET", &good, &[], Some(&token)).await.status,
            200,
            "{good}"
        );
        assert_eq!(
            b.send("GET", &bad, &[], Some(&token)).await.status,
            404,
            "{bad}"
        );
        assert_eq!(
            b.send("POST", &good, &[], Some(&token)).await.status,
            405,
            "{good}"
        );
        assert_eq!(
            b.send("GET", &good, &[], None).await.status,
            403,
            "2-legged {good}"
        );
        assert_eq!(
            b.send("GET", &good, &[], Some(&other_token)).await.status,
            403,
            "another record's token on {good}"
        );
    }
    for path in [
        format!("/records/{id}/clinical_notes/"),
        format!("/records/{id}/allergy_exclusions/"),
        format!("/records/{id}/encounters/"),
        format!("/records/{id}/"),
    ] {
        assert_eq!(
            b.send("GET", &path, &[], Some(&token)).await.status,
            404,
            "{path}"
        );
    }
    // The manifest names every served class.
    let m = b.send("GET", "/manifest", &[], None).await;
    let v: serde_json::Value = serde_json::from_slice(&m.body).expect("json");
    for resource in sandbox::served_resources() {
        let ty = sandbox::served_resource(resource)
            .expect("served")
            .statement_type;
        assert!(v["capabilities"].get(&ty).is_some(), "{ty}");
    }
    b.handle.shutdown().await;
}

/// The statements of a record's resource, with their sort values and codes.
async fn statements(
    b: &Box_,
    id: &str,
    resource: &str,
    token: &Token,
) -> Vec<(String, String, Option<String>)> {
    let a = b.get(id, resource, &[], token).await;
    let g = Graph::parse(&a.body).expect("parse");
    let (ty, sort) = info(resource);
    let sort = sort.expect("list");
    g.of_type(&ty)
        .into_iter()
        .map(|s| {
            let date = g.one(&s, &sort).to_owned();
            let code = filter_code(&g, resource, &s);
            (s, date, code)
        })
        .collect()
}

/// A record whose `resource` has at least `min` statements.
async fn a_record_with(b: &Box_, ids: &[String], resource: &str, min: usize) -> (String, Token) {
    for id in ids {
        let token = b.mint(id).await;
        if statements(b, id, resource, &token).await.len() >= min {
            return (id.clone(), token);
        }
    }
    panic!("no record with {min} {resource}");
}

#[tokio::test]
async fn filters_on_every_list() {
    let b = boot(config(80, 34)).await;
    let ids = b.walk().await;
    for resource in lists() {
        let (id, token) = a_record_with(&b, &ids, resource, 4).await;
        let all = statements(&b, &id, resource, &token).await;
        let (ty, _) = info(resource);
        let kept = |g: &Graph| g.of_type(&ty);
        // The code filter, with `|`-separated values.
        if let Some(param) = sandbox::served_resource(resource).and_then(|r| r.code_filter) {
            let codes: Vec<String> = all.iter().filter_map(|s| s.2.clone()).take(2).collect();
            let want: BTreeSet<String> = all
                .iter()
                .filter(|s| s.2.as_ref().is_some_and(|c| codes.contains(c)))
                .map(|s| s.0.clone())
                .collect();
            let value = codes.join("|");
            let g = Graph::parse(&b.get(&id, resource, &[(param, &value)], &token).await.body)
                .expect("parse");
            assert_eq!(kept(&g), want, "{resource} {param}={value}");
            let none = b
                .get(&id, resource, &[(param, "no-such-code")], &token)
                .await;
            let g = Graph::parse(&none.body).expect("parse");
            if resource == "allergies" {
                assert!(kept(&g).is_empty());
            } else {
                assert!(g.triples.is_empty(), "{resource}: the empty graph");
            }
        }
        // The six date filters on the sort property, with the padding rules.
        let mut dates: Vec<&str> = all.iter().map(|s| s.1.as_str()).collect();
        dates.sort_unstable();
        let mid = dates[dates.len() / 2];
        for value in [&mid[..4], &mid[..mid.len().min(7)], mid] {
            for name in [
                "date_from",
                "date_from_including",
                "date_from_excluding",
                "date_to",
                "date_to_including",
                "date_to_excluding",
            ] {
                let want: BTreeSet<String> = all
                    .iter()
                    .filter(|s| date_passes(name, value, &s.1))
                    .map(|s| s.0.clone())
                    .collect();
                let a = b.get(&id, resource, &[(name, value)], &token).await;
                let g = Graph::parse(&a.body).expect("parse");
                assert_eq!(kept(&g), want, "{id} {resource} {name}={value}");
                if resource == "allergies" {
                    // Exclusions are never filtered.
                    let full =
                        Graph::parse(&b.get(&id, resource, &[], &token).await.body).expect("parse");
                    assert_eq!(
                        g.of_type(&format!("{SP}AllergyExclusion")),
                        full.of_type(&format!("{SP}AllergyExclusion"))
                    );
                }
            }
        }
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn paging_on_every_list() {
    let b = boot(config(80, 35)).await;
    let base = b.base().to_owned();
    let ids = b.walk().await;
    for resource in lists() {
        let (id, token) = a_record_with(&b, &ids, resource, 3).await;
        let mut all = statements(&b, &id, resource, &token).await;
        // Newest first, URI ascending on ties.
        all.sort_by(|a, b| b.1.cmp(&a.1).then_with(|| a.0.cmp(&b.0)));
        let expected: Vec<String> = all.iter().map(|s| s.0.clone()).collect();
        let path = path_of(&id, resource);
        let mut query = vec![("limit".to_owned(), "2".to_owned())];
        let mut order = Vec::new();
        let mut pages = 0;
        loop {
            pages += 1;
            let a = b.send("GET", &path, &query, Some(&token)).await;
            assert_eq!(a.status, 200);
            let g = Graph::parse(&a.body).expect("parse");
            let (ty, _) = info(resource);
            let summary = g
                .summaries()
                .into_iter()
                .find(|s| g.objects(s, &format!("{API}resultOrder")).len() == 1)
                .expect("the paged type's summary");
            assert_eq!(
                g.one(&summary, &format!("{API}totalResultCount")),
                expected.len().to_string()
            );
            let page = g.list(g.one(&summary, &format!("{API}resultOrder")));
            assert_eq!(
                page.iter().cloned().collect::<BTreeSet<_>>(),
                g.of_type(&ty)
            );
            assert_eq!(
                g.one(&summary, &format!("{API}resultsReturned")),
                page.len().to_string()
            );
            order.extend(page);
            let next = g.objects(&summary, &format!("{API}nextPageURL"));
            let Some(next) = next.first() else { break };
            let (url_path, q) = next
                .strip_prefix(base.as_str())
                .and_then(|r| r.split_once('?'))
                .expect("api base and query");
            assert_eq!(url_path, path);
            query = q
                .split('&')
                .filter_map(|p| p.split_once('='))
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .collect();
        }
        assert_eq!(pages, expected.len().div_ceil(2), "{resource}");
        assert_eq!(order, expected, "{resource}");
        // Past the end: nothing of the paged type.
        let a = b
            .get(&id, resource, &[("limit", "2"), ("offset", "1000")], &token)
            .await;
        let g = Graph::parse(&a.body).expect("parse");
        assert!(g.of_type(&info(resource).0).is_empty());
        if resource != "allergies" {
            assert!(g.triples.is_empty());
        }
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn allergies_merge_two_graphs_in_pretty_xml() {
    let b = boot(config(200, 36)).await;
    let mut both = 0;
    for id in b.walk().await {
        let token = b.mint(&id).await;
        let a = b.get(&id, "allergies", &[], &token).await;
        let g = Graph::parse(&a.body).expect("parse");
        let allergies = g.of_type(&format!("{SP}Allergy"));
        let exclusions = g.of_type(&format!("{SP}AllergyExclusion"));
        if allergies.len() < 2 || exclusions.is_empty() {
            continue;
        }
        both += 1;
        // limit touches allergies only; the exclusions stay, with their own
        // summary that has no paging.
        let paged = b.get(&id, "allergies", &[("limit", "1")], &token).await;
        let text = paged.text();
        let g = Graph::parse(&paged.body).expect("parse");
        assert_eq!(g.of_type(&format!("{SP}Allergy")).len(), 1);
        assert_eq!(g.of_type(&format!("{SP}AllergyExclusion")), exclusions);
        assert_eq!(g.summaries().len(), 2);
        assert!(text.contains("rdf:parseType=\"Collection\""), "{text}");
        assert_eq!(g.with_pred(&format!("{API}resultOrder")).len(), 1);
        assert_eq!(g.with_pred(&format!("{API}nextPageURL")).len(), 1);
        // A date filter that drops every allergy keeps the exclusions.
        let g = Graph::parse(
            &b.get(&id, "allergies", &[("date_to", "1800")], &token)
                .await
                .body,
        )
        .expect("parse");
        assert!(g.of_type(&format!("{SP}Allergy")).is_empty());
        assert_eq!(g.of_type(&format!("{SP}AllergyExclusion")), exclusions);
        assert_eq!(g.summaries().len(), 1);
    }
    assert!(both > 0, "no record with allergies and an exclusion");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn answers_are_deterministic_and_independent_of_order() {
    let a = boot(config(30, 37)).await;
    let b = boot(config(30, 37)).await;
    let ids = a.walk().await;
    let norm = |x: &Box_, ans: Answer| ans.text().replace(x.base(), "BASE");
    for id in ids.iter().take(10) {
        let (ta, tb) = (a.mint(id).await, b.mint(id).await);
        let resources = sandbox::served_resources();
        // Opposite orders give the same bytes.
        let mut fwd = BTreeMap::new();
        for r in &resources {
            fwd.insert(*r, norm(&a, a.get(id, r, &[], &ta).await));
        }
        for r in resources.iter().rev() {
            assert_eq!(fwd[r], norm(&b, b.get(id, r, &[], &tb).await), "{id} {r}");
        }
    }
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test]
async fn records_dropped_and_added_at_runtime() {
    let b = boot(config(20, 38)).await;
    let ids = b.walk().await;
    let gone = ids[5].clone();
    let token = b.mint(&gone).await;
    assert!(b.handle.drop_record(&gone));
    assert!(!b.handle.drop_record(&gone));
    let now = b.walk().await;
    assert_eq!(now.len(), 19);
    assert!(!now.contains(&gone));
    assert_eq!(b.cursor(&format!("{gone}/next")).await.status, 500);
    assert_eq!(
        b.cursor(&gone).await.status,
        500,
        "no token for a dropped record"
    );
    for r in sandbox::served_resources() {
        assert_eq!(b.get(&gone, r, &[], &token).await.status, 403, "{r}");
    }
    // Added ids take their byte-wise place and have data.
    for new in ["1", "99999999", "abc"] {
        assert!(b.handle.add_record(new));
    }
    assert!(!b.handle.add_record("abc"), "already there");
    let now = b.walk().await;
    assert_eq!(now.len(), 22);
    assert_eq!(now, b.handle.record_ids());
    assert!(now.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
    assert_eq!(now.first().map(String::as_str), Some("1"));
    let t = b.mint("abc").await;
    let demo = b.get("abc", "demographics", &[], &t).await;
    let g = Graph::parse(&demo.body).expect("parse");
    let mrn = g
        .one(
            &format!("{}/records/abc/demographics", b.base()),
            &format!("{SP}medicalRecordNumber"),
        )
        .to_owned();
    assert_eq!(g.one(&mrn, &format!("{DCT}identifier")), "abc");
    // A dropped record that comes back is served again; the old token too.
    assert!(b.handle.add_record(&gone));
    assert_eq!(b.get(&gone, "problems", &[], &token).await.status, 200);
    assert_eq!(b.walk().await.len(), 23);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn drop_ids_and_extra_records_change_the_population_between_runs() {
    let dir = tempfile::tempdir().expect("tempdir");
    let before = config(200, 39);
    let old = sandbox::record_ids(&before);
    let dropped: Vec<String> = old.iter().step_by(20).cloned().collect();
    let file = dir.path().join("dropped.txt");
    std::fs::write(
        &file,
        format!("# gone since the last run\n{}\n\n", dropped.join("\n")),
    )
    .expect("write");
    let after = SandboxConfig {
        drop_ids: Some(file),
        extra_records: 10,
        ..before.clone()
    };
    let new = sandbox::record_ids(&after);
    assert_eq!(new.len(), 200 - dropped.len() + 10);
    let old_set: BTreeSet<&String> = old.iter().collect();
    let added: Vec<&String> = new.iter().filter(|i| !old_set.contains(i)).collect();
    assert_eq!(added.len(), 10);
    assert!(dropped.iter().all(|d| !new.contains(d)));
    // The new ids interleave with the old ones.
    let first_new = new
        .iter()
        .position(|i| !old_set.contains(i))
        .expect("a new id");
    let last_new = new
        .iter()
        .rposition(|i| !old_set.contains(i))
        .expect("a new id");
    assert!(
        first_new < new.len() / 2 && last_new > new.len() / 2,
        "{first_new} {last_new}"
    );
    // Served as listed; a kept record's data is the same in both runs.
    let a = boot(before).await;
    let b = boot(after).await;
    assert_eq!(b.walk().await, new);
    assert_eq!(b.cursor(&format!("{}/next", dropped[1])).await.status, 500);
    let kept = &new[3];
    let (ta, tb) = (a.mint(kept).await, b.mint(kept).await);
    for r in ["medications", "lab_results", "demographics"] {
        assert_eq!(
            a.get(kept, r, &[], &ta)
                .await
                .text()
                .replace(a.base(), "BASE"),
            b.get(kept, r, &[], &tb)
                .await
                .text()
                .replace(b.base(), "BASE"),
        );
    }
    a.handle.shutdown().await;
    b.handle.shutdown().await;
    // An unreadable list is an error naming the file.
    let broken = SandboxConfig {
        drop_ids: Some(dir.path().join("missing.txt")),
        ..config(5, 1)
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let err = sandbox::start(broken, listener)
        .await
        .expect_err("a missing file");
    assert!(
        err.to_string().contains("missing.txt") && err.to_string().contains("hint:"),
        "{err}"
    );
}

#[tokio::test]
async fn from_dir_serves_every_layout_verbatim() {
    let dir = tempfile::tempdir().expect("tempdir");
    let d = dir.path();
    for sub in ["problems", "demographics", "clinical_notes", "medications"] {
        std::fs::create_dir(d.join(sub)).expect("mkdir");
    }
    std::fs::write(d.join("100.rdf"), "flat meds of 100").expect("w");
    std::fs::write(d.join("medications/200.rdf"), "meds of 200").expect("w");
    std::fs::write(d.join("problems/100.rdf"), "problems of 100").expect("w");
    std::fs::write(d.join("problems/300.rdf"), "problems of 300").expect("w");
    std::fs::write(d.join("demographics/300.rdf"), "demo of 300").expect("w");
    std::fs::write(d.join("clinical_notes/300.rdf"), "notes of 300").expect("w");
    let cfg = SandboxConfig {
        from_dir: Some(d.to_path_buf()),
        ..config(0, 0)
    };
    assert_eq!(sandbox::record_ids(&cfg), vec!["100", "200", "300"]);
    let b = boot(cfg).await;
    assert_eq!(b.walk().await, vec!["100", "200", "300"]);
    let empty = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rdf:RDF\n   xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"\n>\n</rdf:RDF>\n";
    for (id, resource, want) in [
        ("100", "medications", "flat meds of 100"),
        ("200", "medications", "meds of 200"),
        ("100", "problems", "problems of 100"),
        ("300", "problems", "problems of 300"),
        ("300", "demographics", "demo of 300"),
        ("100", "demographics", empty),
        ("300", "medications", empty),
        ("200", "lab_results", empty),
    ] {
        let t = b.mint(id).await;
        let a = b.get(id, resource, &[], &t).await;
        assert_eq!(
            (a.status, a.text().as_str()),
            (200, want),
            "{id} {resource}"
        );
        assert_eq!(a.header("content-type"), "application/rdf+xml");
        // Filters and paging are ignored: the file as it is.
        let a = b
            .get(
                id,
                resource,
                &[("snomed", "1"), ("limit", "1"), ("date_from", "2999")],
                &t,
            )
            .await;
        assert_eq!(a.text(), want, "{id} {resource} filtered");
    }
    // A subdirectory that names no registered resource is a list too.
    let t = b.mint("300").await;
    let a = b
        .send("GET", "/records/300/clinical_notes/", &[], Some(&t))
        .await;
    assert_eq!((a.status, a.text().as_str()), (200, "notes of 300"));
    assert_eq!(
        b.send("GET", "/records/300/clinical_notes", &[], Some(&t))
            .await
            .status,
        404
    );
    assert_eq!(
        b.send("GET", "/records/300/demographics/", &[], Some(&t))
            .await
            .status,
        404
    );
    b.handle.shutdown().await;
}

#[tokio::test]
async fn the_clock_offset_moves_the_window_and_the_date_header() {
    let mut b = boot(SandboxConfig {
        clock_offset_s: 900,
        ..config(3, 40)
    })
    .await;
    // Our timestamps are 900 s in its past: stale.
    assert_eq!(b.cursor("first").await.status, 401);
    let date =
        httpdate::parse_http_date(&b.cursor("first").await.header("date")).expect("a Date header");
    let ahead = date
        .duration_since(SystemTime::now())
        .map(|d| d.as_secs())
        .unwrap_or(0);
    assert!((890..=910).contains(&ahead), "{ahead}");
    b.skew = 900;
    assert_eq!(b.cursor("first").await.status, 200);
    b.handle.shutdown().await;
    let b = boot(SandboxConfig {
        clock_offset_s: -900,
        ..config(3, 40)
    })
    .await;
    // Our timestamps lie in its future: accepted.
    let a = b.cursor("first").await;
    assert_eq!(a.status, 200);
    let date = httpdate::parse_http_date(&a.header("date")).expect("a Date header");
    let behind = SystemTime::now()
        .duration_since(date)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    assert!((890..=910).contains(&behind), "{behind}");
    b.handle.shutdown().await;
}

#[tokio::test]
async fn data_latency_applies_to_every_resource() {
    let b = boot(SandboxConfig {
        data_latency: Duration::from_millis(120),
        ..config(3, 41)
    })
    .await;
    let id = b.walk().await.remove(0);
    let t = b.mint(&id).await;
    for r in sandbox::served_resources() {
        let began = Instant::now();
        assert_eq!(b.get(&id, r, &[], &t).await.status, 200);
        assert!(began.elapsed() >= Duration::from_millis(120), "{r}");
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn malformed_records_are_malformed_in_every_resource() {
    let b = boot(SandboxConfig {
        malformed_rate: 0.5,
        ..config(20, 42)
    })
    .await;
    let mut bad = 0;
    for id in b.walk().await {
        let t = b.mint(&id).await;
        let parses: Vec<bool> = {
            let mut v = Vec::new();
            for r in sandbox::served_resources() {
                v.push(Graph::parse(&b.get(&id, r, &[], &t).await.body).is_ok());
            }
            v
        };
        assert!(
            parses.iter().all(|&p| p) || parses.iter().all(|&p| !p),
            "{id}: {parses:?}"
        );
        bad += usize::from(!parses[0]);
    }
    assert!((3..=17).contains(&bad), "{bad}");
    b.handle.shutdown().await;
}
