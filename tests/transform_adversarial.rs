//! The transform against hostile input: odd literals in both serialization
//! styles, every RDF/XML feature, bodies that are not RDF/XML, and queries
//! the pipeline must refuse.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "transform_common/mod.rs"]
mod common;

use arrow_array::cast::AsArray;
use common::{apply, apply_naive, prepare};
use smartsweep::failure::Stage;
use smartsweep::schema::ColumnType;
use smartsweep::transform::{ConversionIssue, Projection, QueryProblem};
use smartsweep_testkit::{
    Drug, Medication, Record, SEED_QUERY, Text, ValueAndUnit, rows_as_json, to_flat, to_nested,
};
use std::collections::BTreeMap;

fn med(id: &str, titles: Vec<Text>, sig: &str) -> Medication {
    Medication {
        id: id.into(),
        drug: Some(Drug {
            titles,
            rxcui: "312938".into(),
        }),
        start_date: Some("2008-10-03".into()),
        end_date: None,
        instructions: Some(sig.into()),
        quantity: Some(ValueAndUnit {
            value: "1".into(),
            unit: "{tablet}".into(),
        }),
        frequency: Some(ValueAndUnit {
            value: "1 & 1/2".into(),
            unit: "/d \"approx\"".into(),
        }),
        fulfillments: vec![],
    }
}

fn strings(batch: &arrow_array::RecordBatch, col: usize) -> Vec<Option<String>> {
    batch
        .column(col)
        .as_string::<i32>()
        .iter()
        .map(|v| v.map(str::to_owned))
        .collect()
}

const NAMES_QUERY: &str = "PREFIX dcterms:<http://purl.org/dc/terms/>
PREFIX sp:<http://smartplatforms.org/terms#>
SELECT ?med ?name ?lang ?sig ?fv ?fu WHERE {
  ?med a sp:Medication .
  OPTIONAL { ?med sp:drugName ?cv . ?cv dcterms:title ?name BIND(LANG(?name) AS ?lang) }
  OPTIONAL { ?med sp:instructions ?sig }
  OPTIONAL { ?med sp:frequency ?f . ?f sp:value ?fv ; sp:unit ?fu }
}";

#[test]
fn adversarial_literals_survive_both_styles() {
    let tricky = [
        "Sertraline 100 MG Oral Tablet",
        "Ибупрофен 200 мг",
        "阿司匹林 100 毫克 口服片",
        "Tylenol & Codeine <No. 3>",
        "Amoxicillin, 500 MG, \"caps\"",
        "line one\nline two",
        "  leading and trailing spaces  ",
        "tab\there ]]> and > and '",
        "emoji 💊 and é (e + U+0301: e\u{301})",
        "carriage\rreturn",
    ];
    let mut meds: Vec<Medication> = tricky
        .iter()
        .enumerate()
        .map(|(i, t)| med(&format!("m{i}"), vec![Text::plain(*t)], t))
        .collect();
    // Language tags, and two titles on one coded value.
    meds.push(med(
        "lang",
        vec![
            Text {
                value: "Paracétamol".into(),
                lang: Some("fr".into()),
            },
            Text {
                value: "Paracetamol".into(),
                lang: Some("en-GB".into()),
            },
        ],
        "1 daily",
    ));
    // A medication without a drug name.
    let mut nameless = med("nameless", vec![], "as directed");
    nameless.drug = None;
    meds.push(nameless);
    let rec = Record {
        api_base: "http://localhost:7000".into(),
        record_id: "42".into(),
        meds,
    };
    let p = prepare(NAMES_QUERY, &[]);
    let flat = apply(&p, &rec, &to_flat(&rec, 0));
    let nested = apply(&p, &rec, &to_nested(&rec));
    let naive = apply_naive(&p, &rec, &to_nested(&rec));
    assert_eq!(flat.batch, nested.batch);
    assert_eq!(flat.batch, naive.batch);
    assert_eq!(flat.batch.num_rows(), tricky.len() + 2 + 1);
    let names = strings(&flat.batch, 2);
    for t in tricky {
        assert!(
            names.contains(&Some(t.to_owned())),
            "missing {t:?}: {names:?}"
        );
    }
    let sigs = strings(&flat.batch, 4);
    for t in tricky {
        assert!(sigs.contains(&Some(t.to_owned())), "instructions {t:?}");
    }
    // Lexical values only: no quotes, no language tag, no datatype.
    assert!(names.contains(&Some("Paracétamol".into())));
    let langs = strings(&flat.batch, 3);
    assert!(langs.contains(&Some("fr".into())));
    assert!(langs.contains(&Some("en-gb".into())), "{langs:?}");
    // The nameless medication has a row with a null name.
    let meds = strings(&flat.batch, 1);
    let i = meds
        .iter()
        .position(|m| m.as_deref().is_some_and(|m| m.ends_with("/nameless")))
        .unwrap();
    assert_eq!(names[i], None);
    assert_eq!(strings(&flat.batch, 5)[i].as_deref(), Some("1 & 1/2"));
    assert_eq!(strings(&flat.batch, 6)[i].as_deref(), Some("/d \"approx\""));
    // The seed query: one row per title, none for the nameless medication.
    let seed = prepare(SEED_QUERY, &[]);
    assert_eq!(
        apply(&seed, &rec, &to_nested(&rec)).batch.num_rows(),
        tricky.len() + 2
    );
}

const RDF_HEAD: &str = r#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:sp="http://smartplatforms.org/terms#" xmlns:dcterms="http://purl.org/dc/terms/">"#;

fn run(
    sparql: &str,
    body: &[u8],
) -> Result<smartsweep::transform::RecordRows, smartsweep::transform::TransformError> {
    let p = Projection::prepare(sparql, &BTreeMap::new()).unwrap();
    let fast = p.apply(
        "r1",
        &[body],
        "http://localhost:7000/records/r1/medications/",
    );
    let naive = smartsweep_testkit::apply_naive(
        &p,
        "r1",
        &[body],
        "http://localhost:7000/records/r1/medications/",
    );
    match (&fast, &naive) {
        (Ok(a), Ok(b)) => assert_eq!(a.batch, b.batch, "custom vs naive"),
        (Err(_), Err(_)) => {}
        _ => panic!("custom and naive disagree: {fast:?} vs {naive:?}"),
    }
    fast
}

fn names(body: &str) -> Vec<String> {
    let rows = run(SEED_QUERY, body.as_bytes()).unwrap_or_else(|e| panic!("{e}\n{body}"));
    strings(&rows.batch, 1).into_iter().flatten().collect()
}

#[test]
fn cdata_entities_and_bom() {
    let doc = format!(
        "\u{FEFF}<?xml version=\"1.0\" encoding=\"UTF-8\"?>
<!DOCTYPE rdf:RDF [
  <!ENTITY sp \"http://smartplatforms.org/terms#\">
  <!ENTITY drug \"Warfarin &amp; friends\">
]>
{RDF_HEAD}
  <rdf:Description rdf:about=\"med1\">
    <rdf:type rdf:resource=\"&sp;Medication\"/>
    <sp:drugName><rdf:Description><dcterms:title><![CDATA[<b>Bold</b> & \"raw\"]]></dcterms:title></rdf:Description></sp:drugName>
  </rdf:Description>
  <sp:Medication rdf:about=\"med2\">
    <sp:drugName rdf:parseType=\"Resource\"><dcterms:title>&drug; &#x4E2D;&#25991; &lt;ok&gt;</dcterms:title></sp:drugName>
  </sp:Medication>
</rdf:RDF>"
    );
    let mut got = names(&doc);
    got.sort();
    assert_eq!(
        got,
        ["<b>Bold</b> & \"raw\"", "Warfarin & friends 中文 <ok>"]
    );
    // Relative IRIs resolve against the request URL.
    let p = prepare(
        "SELECT ?m WHERE { ?m a <http://smartplatforms.org/terms#Medication> }",
        &[],
    );
    let rows = p
        .apply(
            "r1",
            &[doc.as_bytes()],
            "http://localhost:7000/records/r1/medications/",
        )
        .unwrap();
    assert_eq!(
        strings(&rows.batch, 1),
        [
            Some("http://localhost:7000/records/r1/medications/med1".into()),
            Some("http://localhost:7000/records/r1/medications/med2".into())
        ]
    );
}

#[test]
fn relative_iris_resolve_like_the_strict_parser() {
    // The fast path resolves relative IRIs itself; `run` checks it against
    // the strict parser given the request URL as base.
    let refs = [
        "",
        "#f",
        "?q=1",
        "m1",
        "./m2",
        "../m3",
        "../../m4",
        "/abs",
        "//other.host/p",
        "a/./b/../c",
        "http://x/a/./b/../c",
        "http://x/plain",
    ];
    let mut body = format!("{RDF_HEAD}\n");
    for (i, r) in refs.iter().enumerate() {
        body.push_str(&format!(
            "<rdf:Description rdf:about=\"{r}\"><sp:v rdf:resource=\"{r}\"/><sp:n rdf:datatype=\"{r}\">{i}</sp:n></rdf:Description>\n"
        ));
    }
    body.push_str("<rdf:Description rdf:ID=\"local\"><sp:v>x</sp:v></rdf:Description>\n</rdf:RDF>");
    let q = "SELECT ?s ?o ?dt WHERE { ?s <http://smartplatforms.org/terms#v> ?o OPTIONAL { ?s <http://smartplatforms.org/terms#n> ?n BIND(DATATYPE(?n) AS ?dt) } }";
    let rows = run(q, body.as_bytes()).unwrap();
    let subjects = strings(&rows.batch, 1);
    for want in [
        "http://localhost:7000/records/r1/medications/",
        "http://localhost:7000/records/r1/medications/#f",
        "http://localhost:7000/records/r1/medications/m1",
        "http://localhost:7000/records/r1/m3",
        "http://localhost:7000/abs",
        "http://other.host/p",
        "http://localhost:7000/records/r1/medications/a/c",
        "http://x/a/./b/../c",
        "http://localhost:7000/records/r1/medications/#local",
    ] {
        assert!(
            subjects.contains(&Some(want.to_owned())),
            "{want}: {subjects:?}"
        );
    }
}

#[test]
fn parse_type_literal_collection_lang_and_datatypes() {
    let doc = format!(
        r#"<?xml version="1.0"?>
{RDF_HEAD}
  <sp:Medication rdf:about="http://x/m1" xml:lang="de">
    <sp:drugName>
      <sp:CodedValue dcterms:title="Aspirin 100 mg">
        <sp:note rdf:parseType="Literal"><b xmlns="http://www.w3.org/1999/xhtml">take <i>with</i> food</b></sp:note>
      </sp:CodedValue>
    </sp:drugName>
    <sp:codes rdf:parseType="Collection">
      <rdf:Description rdf:about="http://x/c1"/>
      <rdf:Description rdf:about="http://x/c2"/>
    </sp:codes>
    <sp:dose rdf:datatype="http://www.w3.org/2001/XMLSchema#decimal">1.50</sp:dose>
    <sp:active rdf:datatype="http://www.w3.org/2001/XMLSchema#boolean">true</sp:active>
    <sp:plain xml:lang="">no tag</sp:plain>
  </sp:Medication>
</rdf:RDF>"#
    );
    let q = "PREFIX sp:<http://smartplatforms.org/terms#>
      PREFIX dcterms:<http://purl.org/dc/terms/>
      PREFIX rdf:<http://www.w3.org/1999/02/22-rdf-syntax-ns#>
      SELECT ?title ?tlang ?note ?first ?second ?dose ?dt ?active ?plain ?plang WHERE {
        ?m a sp:Medication ; sp:drugName ?cv ; sp:codes ?list ; sp:dose ?dose ; sp:active ?active ; sp:plain ?plain .
        ?cv dcterms:title ?title ; sp:note ?note .
        ?list rdf:first ?first ; rdf:rest/rdf:first ?second .
        BIND(LANG(?title) AS ?tlang) BIND(DATATYPE(?dose) AS ?dt) BIND(LANG(?plain) AS ?plang)
      }";
    let mut columns = BTreeMap::new();
    columns.insert("active".to_owned(), ColumnType::Bool);
    columns.insert("dose".to_owned(), ColumnType::Float64);
    let p = Projection::prepare(q, &columns).unwrap();
    let rows = p.apply("r", &[doc.as_bytes()], "http://x/").unwrap();
    // oxrdfxml's strict mode refuses `xml:lang=""` (which RDF/XML defines as
    // "no language"); without it, both paths agree.
    assert!(smartsweep_testkit::apply_naive(&p, "r", &[doc.as_bytes()], "http://x/").is_err());
    let without = doc.replace(" xml:lang=\"\"", "");
    let naive =
        smartsweep_testkit::apply_naive(&p, "r", &[without.as_bytes()], "http://x/").unwrap();
    let fast = p.apply("r", &[without.as_bytes()], "http://x/").unwrap();
    assert_eq!(fast.batch, naive.batch);
    assert!(rows.conversions.is_empty());
    let json = rows_as_json(&rows.batch);
    assert_eq!(json.len(), 1);
    let mut row: Vec<serde_json::Value> = serde_json::from_str(&json[0]).unwrap();
    // The XML literal keeps its markup (oxrdfxml also writes the in-scope
    // namespace declarations onto its root element).
    let note = row.remove(3);
    let note = note.as_str().unwrap();
    assert!(
        note.starts_with("<b xmlns=") && note.ends_with(">take <i>with</i> food</b>"),
        "{note}"
    );
    assert_eq!(
        serde_json::Value::Array(row).to_string(),
        r#"["r","Aspirin 100 mg","de","http://x/c1","http://x/c2",1.5,"http://www.w3.org/2001/XMLSchema#decimal",true,"no tag",""]"#
    );
}

#[test]
fn text_split_around_cdata_is_a_record_error_not_wrong_data() {
    // oxrdfxml refuses a literal made of several text events (text next to a
    // CDATA section, or two sections): a known gap, reported, never truncated.
    for value in ["a<![CDATA[b]]>", "<![CDATA[a]]]]><![CDATA[>b]]>"] {
        let doc = format!(
            "{RDF_HEAD}<rdf:Description rdf:about=\"http://x/\"><sp:t>{value}</sp:t></rdf:Description></rdf:RDF>"
        );
        let q = "SELECT ?t WHERE { ?s <http://smartplatforms.org/terms#t> ?t }";
        let e = run(q, doc.as_bytes()).err().unwrap();
        assert_eq!(e.line, Some(1), "{e}");
    }
}

#[test]
fn blank_nodes_are_labelled_per_record_in_order_of_appearance() {
    let doc = format!(
        r#"{RDF_HEAD}
  <rdf:Description rdf:nodeID="Nzzz"><sp:value>1</sp:value></rdf:Description>
  <rdf:Description><sp:value>2</sp:value></rdf:Description>
  <rdf:Description rdf:nodeID="Naaa"><sp:value>3</sp:value></rdf:Description>
</rdf:RDF>"#
    );
    let q = "SELECT ?n ?v WHERE { ?n <http://smartplatforms.org/terms#value> ?v }";
    let rows = run(q, doc.as_bytes()).unwrap();
    assert_eq!(
        rows_as_json(&rows.batch),
        [
            r#"["r1","_:b0","1"]"#,
            r#"["r1","_:b1","2"]"#,
            r#"["r1","_:b2","3"]"#
        ]
    );
}

fn err(body: &[u8]) -> smartsweep::transform::TransformError {
    match run(SEED_QUERY, body) {
        Ok(r) => panic!("accepted: {:?}", rows_as_json(&r.batch)),
        Err(e) => e,
    }
}

#[test]
fn malformed_bodies_are_record_errors_with_positions() {
    // Mismatched end tag on line 4.
    let e = err(format!(
        "<?xml version=\"1.0\"?>\n{RDF_HEAD}\n  <rdf:Description rdf:about=\"http://x\">\n    <sp:a>1</sp:b>\n  </rdf:Description>\n</rdf:RDF>"
    )
    .as_bytes());
    assert_eq!(e.line, Some(4), "{e}");
    assert!(e.column.is_some());
    assert!(e.message.contains("RDF/XML"), "{e}");
    // An HTML error page: said plainly (see `html_pages_are_named_as_such`).
    let e = err(b"<html><body><h1>502 Bad Gateway</h1></body></html>");
    assert!(e.message.contains("HTML page"), "{e}");
    // JSON, plain text, nothing at all.
    for body in [
        &b"{\"error\": \"oops\"}"[..],
        b"Internal Server Error",
        b"",
        b"   \n",
    ] {
        let e = err(body);
        assert!(e.line.is_some(), "{e}");
    }
    // Invalid UTF-8.
    let mut bad = format!("{RDF_HEAD}<rdf:Description rdf:about=\"http://x\"><sp:a>").into_bytes();
    bad.extend_from_slice(b"\xff\xfe</sp:a></rdf:Description></rdf:RDF>");
    err(&bad);
    // An invalid IRI and an invalid language tag (the lenient parse still refuses them).
    let e = err(format!("{RDF_HEAD}<rdf:Description rdf:about=\"http://x/a b\"><sp:a>1</sp:a></rdf:Description></rdf:RDF>").as_bytes());
    assert!(e.message.contains("IRI"), "{e}");
    let e = err(format!("{RDF_HEAD}<rdf:Description rdf:about=\"http://x/\"><sp:a xml:lang=\"not a tag\">1</sp:a></rdf:Description></rdf:RDF>").as_bytes());
    assert!(e.message.contains("language"), "{e}");
    // A non-UTF-8 encoding declaration.
    err(format!("<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>{RDF_HEAD}</rdf:RDF>").as_bytes());
}

#[test]
fn truncated_bodies_are_refused_wherever_they_stop() {
    let rec = common::sample_records()
        .into_iter()
        .find(|r| r.record_id == "2169591")
        .unwrap();
    let body = to_flat(&rec, 0);
    let p = prepare(SEED_QUERY, &[]);
    let full = apply(&p, &rec, &body);
    assert!(full.batch.num_rows() > 0);
    let trimmed = body.trim_end();
    // Every cut point before the root's end tag is an error, never fewer rows.
    for cut in (1..trimmed.len() - "</rdf:RDF>".len()).step_by(7) {
        if !trimmed.is_char_boundary(cut) {
            continue;
        }
        let r = p.apply(
            &rec.record_id,
            &[&trimmed.as_bytes()[..cut]],
            &rec.request_url(),
        );
        assert!(r.is_err(), "cut at {cut} accepted: {}", &trimmed[..cut]);
    }
}

#[test]
fn transform_error_becomes_a_record_failure() {
    let e = err(
        format!("{RDF_HEAD}\n<rdf:Description rdf:about=\"http://x\"><sp:a>1</sp:b>").as_bytes(),
    );
    let f = e.clone().into_failure("2169591");
    assert_eq!(f.record_id, "2169591");
    assert_eq!(f.stage, Stage::Transform);
    assert_eq!(f.http_status, None);
    assert_eq!(f.attempts, 0);
    assert!(f.message.starts_with("line 2, column"), "{}", f.message);
    // Second page errors name the page.
    let ok = format!("{RDF_HEAD}</rdf:RDF>");
    let p = prepare(SEED_QUERY, &[]);
    let e = p
        .apply("r", &[ok.as_bytes(), b"<rdf:RDF"], "http://x/")
        .unwrap_err();
    assert!(e.message.starts_with("page 2 of 2"), "{e}");
}

#[test]
fn values_that_do_not_convert_are_null_and_reported() {
    let doc = format!(
        r#"{RDF_HEAD}
  <rdf:Description rdf:about="http://x/1"><sp:v>2007</sp:v><sp:n>12</sp:n><sp:b>1</sp:b><sp:t>2010-05-12T04:00:00-04:00</sp:t></rdf:Description>
  <rdf:Description rdf:about="http://x/2"><sp:v>2008-10-03</sp:v><sp:n>1.5</sp:n><sp:b>yes</sp:b><sp:t>2010-05-12</sp:t></rdf:Description>
  <rdf:Description rdf:about="http://x/3"><sp:v rdf:resource="http://x/iri"/><sp:n> 7 </sp:n><sp:b>false</sp:b><sp:t>noon</sp:t></rdf:Description>
</rdf:RDF>"#
    );
    let q = "PREFIX sp:<http://smartplatforms.org/terms#> SELECT ?s ?v ?n ?b ?t WHERE { ?s sp:v ?v ; sp:n ?n ; sp:b ?b ; sp:t ?t }";
    let mut cols = BTreeMap::new();
    cols.insert("v".into(), ColumnType::Date);
    cols.insert("n".into(), ColumnType::Int64);
    cols.insert("b".into(), ColumnType::Bool);
    cols.insert("t".into(), ColumnType::Timestamp);
    let p = Projection::prepare(q, &cols).unwrap();
    let rows = p.apply("r", &[doc.as_bytes()], "http://x/").unwrap();
    assert_eq!(rows.batch.num_rows(), 3, "no row is dropped");
    assert_eq!(
        rows_as_json(&rows.batch),
        [
            r#"["r","http://x/1",null,12,true,1273651200000000]"#,
            r#"["r","http://x/2",14155,null,null,1273622400000000]"#,
            r#"["r","http://x/3",null,7,false,null]"#
        ]
    );
    let issue = |c: &str, v: &str| ConversionIssue {
        column: c.into(),
        value: v.into(),
    };
    assert_eq!(
        rows.conversions,
        [
            issue("v", "2007"),
            issue("n", "1.5"),
            issue("b", "yes"),
            issue("v", "http://x/iri"),
            issue("t", "noon")
        ]
    );
}

#[test]
fn non_select_queries_are_refused_with_a_hint() {
    for (q, form) in [
        ("CONSTRUCT { ?s ?p ?o } WHERE { ?s ?p ?o }", "CONSTRUCT"),
        ("ASK { ?s ?p ?o }", "ASK"),
        ("DESCRIBE <http://x>", "DESCRIBE"),
    ] {
        let e = Projection::prepare(q, &BTreeMap::new()).err().unwrap();
        assert_eq!(e.problems, [QueryProblem::NotSelect { form }]);
        let msg = e.to_string();
        assert!(
            msg.contains(form) && msg.contains("SELECT") && msg.contains("hint:"),
            "{msg}"
        );
    }
}

#[test]
fn query_problems_are_reported_all_at_once() {
    let e = Projection::prepare("SELECT ?a WHERE {\n  ?a ?b \n}", &BTreeMap::new())
        .err()
        .unwrap();
    let msg = e.to_string();
    assert!(matches!(e.problems[..], [QueryProblem::Syntax { .. }]));
    assert!(msg.contains("3:"), "the parser's position: {msg}");

    let mut cols = BTreeMap::new();
    cols.insert("strat_date".to_owned(), ColumnType::Date);
    cols.insert("nope".to_owned(), ColumnType::Int64);
    cols.insert("name".to_owned(), ColumnType::String);
    let e = Projection::prepare(
        "SELECT ?record_id ?name ?start_date WHERE { ?record_id <http://x/p> ?name OPTIONAL { ?record_id <http://x/d> ?start_date } }",
        &cols,
    )
    .err()
    .unwrap();
    assert_eq!(e.problems.len(), 3, "{e}");
    assert!(e.problems.contains(&QueryProblem::ReservedVariable));
    let msg = e.to_string();
    assert!(
        msg.contains("`strat_date`") && msg.contains("`nope`"),
        "{msg}"
    );
    assert!(
        msg.contains("?record_id, ?name, ?start_date"),
        "lists the variables: {msg}"
    );
}

#[test]
fn from_and_service_are_refused() {
    for q in [
        "SELECT ?s FROM <http://x/g> WHERE { ?s ?p ?o }",
        "SELECT ?s WHERE { SERVICE <http://x/sparql> { ?s ?p ?o } }",
    ] {
        let e = Projection::prepare(q, &BTreeMap::new()).err().unwrap();
        assert!(
            matches!(e.problems[..], [QueryProblem::Unsupported { .. }]),
            "{q}: {e}"
        );
    }
}

#[test]
fn select_star_and_expressions() {
    let p = prepare(
        "SELECT * WHERE { ?med a <http://smartplatforms.org/terms#Medication> ; <http://smartplatforms.org/terms#drugName> ?cv . ?cv <http://purl.org/dc/terms/title> ?name }",
        &[],
    );
    // spargebra sorts the variables of `SELECT *`.
    assert_eq!(p.variables(), ["cv", "med", "name"]);
    let schema = p.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["record_id", "cv", "med", "name"]);
    let p = prepare(
        "SELECT (UCASE(?n) AS ?upper) (STRLEN(?n) AS ?len) ?n WHERE { VALUES ?n { \"a\" \"bc\" } } ORDER BY DESC(?n)",
        &[("len", ColumnType::Int64)],
    );
    let rows = p
        .apply(
            "r",
            &[format!("{RDF_HEAD}</rdf:RDF>").as_bytes()],
            "http://x/",
        )
        .unwrap();
    assert_eq!(
        rows_as_json(&rows.batch),
        [r#"["r","BC",2,"bc"]"#, r#"["r","A",1,"a"]"#]
    );
    // The empty answer (no medications) is zero rows with the full schema.
    let seed = prepare(SEED_QUERY, &[]);
    let rows = seed
        .apply(
            "r",
            &[format!("<?xml version=\"1.0\"?>\n{RDF_HEAD}\n</rdf:RDF>\n").as_bytes()],
            "http://x/",
        )
        .unwrap();
    assert_eq!(rows.batch.num_rows(), 0);
    assert_eq!(rows.batch.schema(), seed.schema());
}

#[test]
fn projection_is_shared_between_threads() {
    let p = std::sync::Arc::new(prepare(SEED_QUERY, &[]));
    let records = common::sample_records();
    let bodies: Vec<(String, String, String)> = records
        .iter()
        .map(|r| (r.record_id.clone(), r.request_url(), to_flat(r, 0)))
        .collect();
    let bodies = std::sync::Arc::new(bodies);
    let handles: Vec<_> = (0..4)
        .map(|_| {
            let p = p.clone();
            let bodies = bodies.clone();
            std::thread::spawn(move || {
                bodies
                    .iter()
                    .map(|(id, url, b)| p.apply(id, &[b.as_bytes()], url).unwrap().batch.num_rows())
                    .sum::<usize>()
            })
        })
        .collect();
    for h in handles {
        assert_eq!(h.join().unwrap(), 294);
    }
}

// ---- Hostile containers: entity expansion, huge and HTML bodies, bases ----

/// Counts the bytes allocated by each thread (current and peak), so that a
/// test can bound the memory one transform takes whatever other tests run.
struct CountingAlloc;

thread_local! {
    static CURRENT: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
    static PEAK: std::cell::Cell<isize> = const { std::cell::Cell::new(0) };
}

fn track(delta: isize) {
    let _ = CURRENT.try_with(|c| {
        let v = c.get() + delta;
        c.set(v);
        let _ = PEAK.try_with(|p| p.set(p.get().max(v)));
    });
}

// SAFETY: every call is forwarded to the system allocator unchanged; the
// bookkeeping touches only const-initialised thread-locals (no allocation).
unsafe impl std::alloc::GlobalAlloc for CountingAlloc {
    unsafe fn alloc(&self, layout: std::alloc::Layout) -> *mut u8 {
        let p = unsafe { std::alloc::System.alloc(layout) };
        if !p.is_null() {
            track(layout.size() as isize);
        }
        p
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: std::alloc::Layout) {
        unsafe { std::alloc::System.dealloc(ptr, layout) };
        track(-(layout.size() as isize));
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: std::alloc::Layout, new: usize) -> *mut u8 {
        let p = unsafe { std::alloc::System.realloc(ptr, layout, new) };
        if !p.is_null() {
            track(new as isize - layout.size() as isize);
        }
        p
    }
}

#[global_allocator]
static ALLOC: CountingAlloc = CountingAlloc;

/// Runs `f` and returns its result with the most bytes this thread held
/// at once meanwhile, above what it held before.
fn peak_bytes<T>(f: impl FnOnce() -> T) -> (T, usize) {
    let start = CURRENT.with(|c| c.get());
    PEAK.with(|p| p.set(start));
    let out = f();
    let peak = PEAK.with(|p| p.get());
    (out, (peak - start).max(0) as usize)
}

const MIB: usize = 1 << 20;

/// "Billion laughs": `levels` nested entities, each referencing the one
/// before `fanout` times, the last one referenced from a literal.
fn laughs(levels: usize, fanout: usize) -> String {
    let mut s =
        String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE rdf:RDF [\n  <!ENTITY lol0 \"lol\">\n");
    for i in 1..=levels {
        let refs = format!("&lol{};", i - 1).repeat(fanout);
        s.push_str(&format!("  <!ENTITY lol{i} \"{refs}\">\n"));
    }
    s.push_str(&format!(
        "]>\n{RDF_HEAD}\n  <rdf:Description rdf:about=\"http://x/m\">\n    <rdf:type rdf:resource=\"http://smartplatforms.org/terms#Medication\"/>\n    <sp:drugName><rdf:Description><dcterms:title>&lol{levels};</dcterms:title></rdf:Description></sp:drugName>\n  </rdf:Description>\n</rdf:RDF>\n"
    ));
    s
}

fn assert_refused_cheaply(body: &str, what: &str) {
    assert!(
        body.len() < 200_000,
        "{what}: the attack body itself is small"
    );
    let p = prepare(SEED_QUERY, &[]);
    let (result, peak) = peak_bytes(|| p.apply("r1", &[body.as_bytes()], "http://x/records/r1/"));
    let e = result.expect_err(what);
    let msg = e.to_string();
    assert!(
        msg.contains("entit") && msg.contains("expan") && msg.contains("hint:"),
        "{what}: names the cause: {msg}"
    );
    assert!(msg.len() < 1024, "{what}: bounded message: {}", msg.len());
    assert!(peak < 64 * MIB, "{what}: peak {} MiB", peak / MIB);
    // And it is a clean record failure.
    let f = e.into_failure("r1");
    assert_eq!(f.stage, Stage::Transform);
}

#[test]
fn billion_laughs_are_refused_before_they_expand() {
    // 3 x 10^8 characters (the variant that used to write a 300-million-
    // character cell) and 3 x 10^9 (the one that used to panic in Arrow).
    assert_refused_cheaply(&laughs(8, 10), "billion laughs, 10^8");
    assert_refused_cheaply(&laughs(9, 10), "billion laughs, 10^9");
    // Wide rather than deep.
    assert_refused_cheaply(&laughs(3, 200), "billion laughs, 200^3");
}

#[test]
fn quadratic_blowup_is_refused_before_it_expands() {
    // One 50 KB entity referenced 2,000 times: 100 MB from a 60 KB body.
    let big = "x".repeat(50_000);
    let refs = "&big;".repeat(2_000);
    let body = format!(
        "<!DOCTYPE rdf:RDF [<!ENTITY big \"{big}\">]>\n{RDF_HEAD}<rdf:Description rdf:about=\"http://x/m\"><rdf:type rdf:resource=\"http://smartplatforms.org/terms#Medication\"/><sp:drugName><rdf:Description><dcterms:title>{refs}</dcterms:title></rdf:Description></sp:drugName></rdf:Description></rdf:RDF>"
    );
    assert_refused_cheaply(&body, "quadratic blow-up");
}

#[test]
fn small_entities_and_character_references_still_parse() {
    let p = prepare(SEED_QUERY, &[]);
    let body = format!(
        "<!DOCTYPE rdf:RDF [<!ENTITY sp \"http://smartplatforms.org/terms#\"><!ENTITY n \"Tylenol &amp; Codeine\">]>\n{RDF_HEAD}<rdf:Description rdf:about=\"http://x/m\"><rdf:type rdf:resource=\"&sp;Medication\"/><sp:drugName><rdf:Description><dcterms:title>&n; &lt;No.&#160;3&gt; &quot;&apos; &#x4E2D;</dcterms:title></rdf:Description></sp:drugName></rdf:Description></rdf:RDF>"
    );
    let rows = p.apply("r1", &[body.as_bytes()], "http://x/").unwrap();
    assert_eq!(
        rows_as_json(&rows.batch),
        ["[\"r1\",\"Tylenol & Codeine <No.\u{a0}3> \\\"' 中\"]"]
    );
    // The same document with the entity used within the limit many times.
    let many = format!(
        "<!DOCTYPE rdf:RDF [<!ENTITY sp \"http://smartplatforms.org/terms#\">]>\n{RDF_HEAD}{}</rdf:RDF>",
        (0..2_000)
            .map(|i| format!("<rdf:Description rdf:about=\"http://x/m{i}\"><rdf:type rdf:resource=\"&sp;Medication\"/><sp:drugName><rdf:Description><dcterms:title>d{i}</dcterms:title></rdf:Description></sp:drugName></rdf:Description>"))
            .collect::<String>()
    );
    let rows = p.apply("r1", &[many.as_bytes()], "http://x/").unwrap();
    assert_eq!(rows.batch.num_rows(), 2_000);
}

#[test]
fn huge_garbage_bodies_give_short_messages() {
    let p = prepare(SEED_QUERY, &[]);
    let mut random = Vec::with_capacity(10 * MIB);
    let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
    while random.len() < 10 * MIB {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        random.extend_from_slice(&x.to_le_bytes());
    }
    let text = "Internal Server Error \u{1b}[31m\n"
        .repeat(10 * MIB / 32)
        .into_bytes();
    // Text where an element belongs: the parser's message quotes it.
    let mut inside = format!("{RDF_HEAD}<rdf:Description rdf:about=\"http://x/\">").into_bytes();
    inside.extend(std::iter::repeat_n(b'a', 10 * MIB));
    inside.extend_from_slice(b"<sp:a>1</sp:a></rdf:Description></rdf:RDF>");
    // A 10 MiB IRI.
    let iri = format!(
        "{RDF_HEAD}<rdf:Description rdf:about=\"http://x/{}\n\"><sp:a>1</sp:a></rdf:Description></rdf:RDF>",
        "é".repeat(5 * MIB)
    )
    .into_bytes();
    // A 10 MiB root element name, cut before it closes.
    let name = format!("<{}>", "r".repeat(10 * MIB)).into_bytes();
    for (what, body) in [
        ("random bytes", random),
        ("text", text),
        ("text inside", inside),
        ("IRI", iri),
        ("name", name),
    ] {
        let e = p.apply("r1", &[&body], "http://x/").expect_err(what);
        let msg = e.to_string();
        assert!(msg.len() < 1024, "{what}: {} bytes: {msg}", msg.len());
        assert!(
            !msg.contains('\u{1b}'),
            "{what}: control characters are escaped"
        );
        let f = e.into_failure("r1");
        assert!(f.message.len() < 1024, "{what}");
        assert!(!f.message.contains('\n'), "{what}: one line in _errors.csv");
    }
}

#[test]
fn html_pages_are_named_as_such() {
    let p = prepare(SEED_QUERY, &[]);
    for body in [
        "<!DOCTYPE html>\n<html><head><title>Sign in</title></head><body>...</body></html>",
        "\n  <html lang=\"en\"><body><h1>502 Bad Gateway</h1></body></html>",
        "<?xml version=\"1.0\"?>\n<!DOCTYPE HTML PUBLIC \"-//W3C//DTD XHTML 1.0 Strict//EN\" \"x\">\n<html xmlns=\"http://www.w3.org/1999/xhtml\"/>",
        "<HTML><BODY>Error</BODY></HTML>",
    ] {
        let e = p.apply("r1", &[body.as_bytes()], "http://x/").unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("the container answered an HTML page, not RDF/XML: "),
            "{msg}"
        );
        assert!(msg.contains("hint:"), "{msg}");
    }
    // On a second page it says which.
    let ok = format!("{RDF_HEAD}</rdf:RDF>");
    let e = p
        .apply("r1", &[ok.as_bytes(), b"<html></html>"], "http://x/")
        .unwrap_err();
    assert!(
        e.to_string()
            .starts_with("page 2 of 2: the container answered an HTML page"),
        "{e}"
    );
    // An element merely named like html inside RDF/XML is not an HTML page.
    let doc = format!(
        "{RDF_HEAD}<rdf:Description rdf:about=\"http://x/\"><sp:html>1</sp:html></rdf:Description></rdf:RDF>"
    );
    assert!(p.apply("r1", &[doc.as_bytes()], "http://x/").is_ok());
}

#[test]
fn percent_encoded_record_ids_make_a_valid_base() {
    // The engine passes the percent-encoded request URL for record `a b"c`.
    let base = "http://localhost:7000/records/a%20b%22c/medications/";
    let doc = format!(
        "{RDF_HEAD}<sp:Medication rdf:about=\"m1\"><sp:drugName><rdf:Description><dcterms:title>X</dcterms:title></rdf:Description></sp:drugName><sp:fulfillment rdf:resource=\"../fulfillments/f1\"/></sp:Medication></rdf:RDF>"
    );
    let q = "PREFIX sp:<http://smartplatforms.org/terms#> SELECT ?m ?f WHERE { ?m a sp:Medication ; sp:fulfillment ?f }";
    let p = prepare(q, &[]);
    let rows = p.apply("a b\"c", &[doc.as_bytes()], base).unwrap();
    assert_eq!(
        rows_as_json(&rows.batch),
        [
            r#"["a b\"c","http://localhost:7000/records/a%20b%22c/medications/m1","http://localhost:7000/records/a%20b%22c/fulfillments/f1"]"#
        ]
    );
    let naive = smartsweep_testkit::apply_naive(&p, "a b\"c", &[doc.as_bytes()], base).unwrap();
    assert_eq!(rows.batch, naive.batch);
    // The raw id in the base is one clear error, not a failure per triple.
    for bad in [
        "http://localhost:7000/records/a b\"c/medications/",
        "records/1/medications/",
        "http://x/\u{1b}[2J",
    ] {
        let e = p.apply("a b\"c", &[doc.as_bytes()], bad).unwrap_err();
        let msg = e.to_string();
        assert!(
            msg.starts_with("the request URL is not a valid base IRI"),
            "{msg}"
        );
        assert!(
            msg.contains("hint: ") && msg.contains("percent-encoded"),
            "{msg}"
        );
        assert!(!msg.contains('\u{1b}'), "{msg}");
    }
}
