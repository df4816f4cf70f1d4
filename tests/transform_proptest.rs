//! Property test: random medication graphs written in both styles (and the
//! flat style in a random order) give identical rows, and the custom dataset
//! gives the same rows as the naive `oxrdf::Dataset` path.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use proptest::prelude::*;
use smartsweep::schema::ColumnType;
use smartsweep::transform::{Projection, ProjectionSet, parses_on_this_thread};
use smartsweep_testkit::damage::{Edit, damage};
use smartsweep_testkit::strategies::record;
use smartsweep_testkit::{QUERIES, Record, random_record, rows_as_json, to_flat, to_nested};
use std::collections::BTreeMap;
use std::sync::Arc;

const EVERYTHING: &str = "PREFIX dcterms:<http://purl.org/dc/terms/>
PREFIX sp:<http://smartplatforms.org/terms#>
SELECT ?med ?title ?lang ?start ?end ?sig ?qv ?qu ?fv ?fu ?fill ?fdate ?days WHERE {
  ?med a sp:Medication .
  OPTIONAL { ?med sp:drugName ?cv . ?cv dcterms:title ?title BIND(LANG(?title) AS ?lang) }
  OPTIONAL { ?med sp:startDate ?start } OPTIONAL { ?med sp:endDate ?end }
  OPTIONAL { ?med sp:instructions ?sig }
  OPTIONAL { ?med sp:quantity ?q . ?q sp:value ?qv ; sp:unit ?qu }
  OPTIONAL { ?med sp:frequency ?f . ?f sp:value ?fv ; sp:unit ?fu }
  OPTIONAL { ?med sp:fulfillment ?fill . ?fill dcterms:date ?fdate ; sp:dispenseDaysSupply ?days }
}";

fn projections() -> Vec<Projection> {
    let mut typed = BTreeMap::new();
    typed.insert("start".to_owned(), ColumnType::Date);
    typed.insert("end".to_owned(), ColumnType::Timestamp);
    typed.insert("qv".to_owned(), ColumnType::Float64);
    typed.insert("days".to_owned(), ColumnType::Int64);
    let mut v: Vec<Projection> = QUERIES
        .iter()
        .map(|(_, q)| Projection::prepare(q, &BTreeMap::new()).unwrap())
        .collect();
    v.push(Projection::prepare(EVERYTHING, &BTreeMap::new()).unwrap());
    v.push(Projection::prepare(EVERYTHING, &typed).unwrap());
    v
}

fn check(rec: &Record, order_seed: u64, projections: &[Projection]) -> Result<(), TestCaseError> {
    let flat = to_flat(rec, 0);
    let shuffled = to_flat(rec, order_seed);
    let nested = to_nested(rec);
    let url = rec.request_url();
    for p in projections {
        let run = |body: &str| p.apply(&rec.record_id, &[body.as_bytes()], &url);
        let a = run(&flat).map_err(|e| TestCaseError::fail(format!("{e}\n{flat}")))?;
        let b = run(&shuffled).map_err(|e| TestCaseError::fail(format!("{e}")))?;
        let c = run(&nested).map_err(|e| TestCaseError::fail(format!("{e}\n{nested}")))?;
        let d = smartsweep_testkit::apply_naive(p, &rec.record_id, &[nested.as_bytes()], &url)
            .map_err(|e| TestCaseError::fail(format!("naive: {e}")))?;
        let rows = rows_as_json(&a.batch);
        prop_assert_eq!(&rows, &rows_as_json(&b.batch), "flat vs shuffled flat");
        prop_assert_eq!(
            &rows,
            &rows_as_json(&c.batch),
            "flat vs nested:\n{}",
            nested
        );
        prop_assert_eq!(&rows, &rows_as_json(&d.batch), "custom vs naive");
        prop_assert_eq!(&a.conversions, &c.conversions);
    }
    Ok(())
}

/// Every projection the set tests combine: the test queries, the shipped
/// pipelines (typed as shipped), and one with a variable predicate (which
/// needs every triple).
fn set_members() -> Vec<Arc<Projection>> {
    let mut v: Vec<Arc<Projection>> = projections().into_iter().map(Arc::new).collect();
    for q in smartsweep_testkit::shipped_pipelines() {
        v.push(Arc::new(
            Projection::prepare(&q.sparql, &q.columns).unwrap(),
        ));
    }
    v.push(Arc::new(
        Projection::prepare(
            "SELECT ?s ?p ?o WHERE { ?s ?p ?o FILTER(isLiteral(?o)) }",
            &BTreeMap::new(),
        )
        .unwrap(),
    ));
    v
}

/// A set's rows are each member's rows alone, and the set parses once.
fn check_set(
    rec: &Record,
    members: &[Arc<Projection>],
    pick: &[usize],
) -> Result<(), TestCaseError> {
    let chosen: Vec<Arc<Projection>> = pick
        .iter()
        .map(|&i| members[i % members.len()].clone())
        .collect();
    let set = ProjectionSet::new(chosen.clone());
    let body = to_nested(rec);
    let url = rec.request_url();
    let pages = [body.as_bytes()];
    let before = parses_on_this_thread();
    let together = set
        .apply(&rec.record_id, &pages, &url)
        .map_err(|e| TestCaseError::fail(format!("{e}")))?;
    prop_assert_eq!(parses_on_this_thread() - before, 1, "one parse for the set");
    prop_assert_eq!(together.len(), chosen.len());
    for (p, rows) in chosen.iter().zip(&together) {
        let alone = p
            .apply(&rec.record_id, &pages, &url)
            .map_err(|e| TestCaseError::fail(format!("{e}")))?;
        prop_assert_eq!(&alone.batch, &rows.batch);
        prop_assert_eq!(&alone.conversions, &rows.conversions);
    }
    Ok(())
}

/// Byte-level damage to a valid answer: cuts, deletions, junk, one byte.
fn edit() -> impl Strategy<Value = Edit> {
    let junk = prop_oneof![
        Just(b"<".to_vec()),
        Just(b">".to_vec()),
        Just(b"&".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"<![CDATA[".to_vec()),
        Just(b"<!--".to_vec()),
        Just(b"</rdf:RDF>".to_vec()),
        Just(b"rdf:nodeID=\"x\"".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just("é中".as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..8),
    ];
    prop_oneof![
        any::<usize>().prop_map(Edit::Truncate),
        (any::<usize>(), 1usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        (any::<usize>(), junk).prop_map(|(a, j)| Edit::Insert(a, j)),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Replace(a, b)),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 96, ..ProptestConfig::default() })]

    /// Damaged bodies give rows or a TransformError: never a panic, and the
    /// error has a position when the parser gave one.
    #[test]
    fn damaged_bodies_never_panic(seed in any::<u64>(), edits in prop::collection::vec(edit(), 1..4)) {
        let rec = random_record(seed, "1000000");
        let mut body = to_flat(&rec, seed | 1).into_bytes();
        damage(&mut body, edits);
        for p in projections() {
            let fast = p.apply("1000000", &[&body], &rec.request_url());
            let naive = smartsweep_testkit::apply_naive(&p, "1000000", &[&body], &rec.request_url());
            if let Err(e) = &fast {
                prop_assert!(!e.message.is_empty());
            }
            // Both parsers see the same bytes: they agree on whether the body
            // is RDF/XML, except that the strict one also refuses invalid IRIs
            // our fast check lets through, and `xml:lang=""`.
            if let (Ok(a), Ok(b)) = (&fast, &naive) {
                prop_assert_eq!(rows_as_json(&a.batch), rows_as_json(&b.batch));
            }
        }
    }

    #[test]
    fn both_styles_give_identical_rows(rec in record(), order_seed in 1u64..u64::MAX) {
        check(&rec, order_seed, &projections())?;
    }

    #[test]
    fn a_set_gives_each_projections_own_rows_from_one_parse(
        rec in record(),
        pick in prop::collection::vec(any::<usize>(), 0..5),
    ) {
        check_set(&rec, &set_members(), &pick)?;
    }

    #[test]
    fn generated_bench_records_agree(seed in any::<u64>()) {
        let rec = random_record(seed, "1000000");
        check(&rec, seed | 1, &projections())?;
    }
}

#[test]
fn sets_of_shipped_pipelines_share_one_parse() {
    // The two tables over `medications` the issue names, and all four.
    let members = set_members();
    let n = members.len();
    let shipped: Vec<usize> = (n - 5..n - 1).collect();
    for seed in 0..20u64 {
        let rec = random_record(seed, "1000000");
        check_set(&rec, &members, &shipped[..2]).unwrap();
        check_set(&rec, &members, &shipped).unwrap();
        check_set(&rec, &members, &[0]).unwrap();
    }
    // An empty set still refuses a bad body, and parses it once.
    let set = ProjectionSet::new(Vec::new());
    assert!(set.apply("r", &[b"<html></html>"], "http://x/").is_err());
    let before = parses_on_this_thread();
    assert!(
        set.apply(
            "r",
            &[b"<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/>"],
            "http://x/"
        )
        .unwrap()
        .is_empty()
    );
    assert_eq!(parses_on_this_thread() - before, 1);
}
