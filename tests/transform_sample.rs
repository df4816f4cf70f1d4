//! The transform over the SMART sample patients: the seed query verbatim and
//! richer ones, each record written flat and nested (and shuffled, and split
//! into pages): identical rows, and row counts that match the source tables.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "transform_common/mod.rs"]
mod common;

use arrow_array::cast::AsArray;
use arrow_array::types::{Date32Type, Float64Type, Int64Type};
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;
use common::{apply, apply_naive, prepare, read_table, sample_records};
use smartsweep::schema::ColumnType;
use smartsweep::transform::{ConversionIssue, Projection};
use smartsweep_testkit::{
    AUDIT_QUERY, FILLS_QUERY, MEDS_QUERY, QUERIES, Record, SEED_QUERY, rows_as_json, to_flat,
    to_nested,
};
use std::collections::BTreeSet;

/// Rows of every record in both styles; asserts they are identical (and
/// identical to the naive path and to a shuffled flat serialization).
fn all_rows(p: &Projection, records: &[Record]) -> Vec<(RecordBatch, Vec<ConversionIssue>)> {
    records
        .iter()
        .map(|rec| {
            let flat = apply(p, rec, &to_flat(rec, 0));
            let nested = apply(p, rec, &to_nested(rec));
            let shuffled = apply(p, rec, &to_flat(rec, 7));
            let naive = apply_naive(p, rec, &to_nested(rec));
            assert_eq!(
                flat.batch, nested.batch,
                "flat vs nested, record {}",
                rec.record_id
            );
            assert_eq!(
                flat.batch, shuffled.batch,
                "flat vs shuffled, record {}",
                rec.record_id
            );
            assert_eq!(
                flat.batch, naive.batch,
                "custom vs naive, record {}",
                rec.record_id
            );
            assert_eq!(flat.conversions, nested.conversions);
            (flat.batch, flat.conversions)
        })
        .collect()
}

fn total_rows(rows: &[(RecordBatch, Vec<ConversionIssue>)]) -> usize {
    rows.iter().map(|r| r.0.num_rows()).sum()
}

#[test]
fn sample_tables_have_the_documented_shape() {
    let records = sample_records();
    assert_eq!(records.len(), 59);
    assert_eq!(records.iter().filter(|r| !r.meds.is_empty()).count(), 37);
    assert_eq!(records.iter().map(|r| r.meds.len()).sum::<usize>(), 294);
    let with_fills = records
        .iter()
        .flat_map(|r| &r.meds)
        .filter(|m| !m.fulfillments.is_empty())
        .count();
    assert_eq!(with_fills, 234);
    let distinct_fills: BTreeSet<_> = records
        .iter()
        .flat_map(|r| {
            r.meds
                .iter()
                .flat_map(|m| m.fulfillments.iter().map(|f| &f.id))
        })
        .collect();
    assert_eq!(distinct_fills.len(), 1107);
}

#[test]
fn seed_query_verbatim_gives_one_drug_name_per_medication() {
    let p = prepare(SEED_QUERY, &[]);
    assert_eq!(p.variables(), ["drugname"]);
    let records = sample_records();
    let rows = all_rows(&p, &records);
    assert_eq!(total_rows(&rows), 294);
    assert_eq!(rows.iter().filter(|r| r.0.num_rows() > 0).count(), 37);
    // The names are the table's names, per patient (as a multiset).
    let meds = read_table("meds.txt");
    for (rec, (batch, issues)) in records.iter().zip(&rows) {
        assert!(issues.is_empty());
        let ids = batch.column(0).as_string::<i32>();
        assert!(ids.iter().all(|v| v == Some(rec.record_id.as_str())));
        assert_eq!(batch.column(0).null_count(), 0);
        let mut got: Vec<&str> = batch
            .column(1)
            .as_string::<i32>()
            .iter()
            .flatten()
            .collect();
        let mut want: Vec<&str> = meds
            .iter()
            .filter(|m| m["PT_ID"] == rec.record_id)
            .map(|m| m["Name"].as_str())
            .collect();
        want.sort_unstable();
        let sorted = got.clone();
        got.sort_unstable();
        assert_eq!(got, want, "record {}", rec.record_id);
        assert_eq!(
            sorted, got,
            "rows are sorted by value when there is no ORDER BY"
        );
    }
}

#[test]
fn typed_medication_export() {
    let p = prepare(
        MEDS_QUERY,
        &[
            ("start_date", ColumnType::Date),
            ("end_date", ColumnType::Date),
            ("quantity", ColumnType::Float64),
            ("frequency", ColumnType::Int64),
        ],
    );
    let schema = p.schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        [
            "record_id",
            "med",
            "drugname",
            "rxcui",
            "start_date",
            "end_date",
            "instructions",
            "quantity",
            "quantity_unit",
            "frequency",
            "frequency_unit"
        ]
    );
    assert_eq!(schema.field(4).data_type(), &DataType::Date32);
    assert!(!schema.field(0).is_nullable());
    let records = sample_records();
    let rows = all_rows(&p, &records);
    assert_eq!(total_rows(&rows), 294);
    let issues: Vec<&ConversionIssue> = rows.iter().flat_map(|r| &r.1).collect();
    // The one year-only start date (patient 8888802, Allegra).
    assert_eq!(
        issues,
        [&ConversionIssue {
            column: "start_date".into(),
            value: "2007".into()
        }]
    );
    let count = |col: usize, f: &dyn Fn(&dyn Array, usize) -> bool| -> usize {
        rows.iter()
            .map(|(b, _)| {
                (0..b.num_rows())
                    .filter(|&i| f(b.column(col).as_ref(), i))
                    .count()
            })
            .sum()
    };
    assert_eq!(count(4, &|a, i| a.is_null(i)), 1, "start_date nulls");
    assert_eq!(count(5, &|a, i| a.is_valid(i)), 14, "end dates");
    assert_eq!(count(7, &|a, i| a.is_null(i)), 65, "no structured quantity");
    assert_eq!(count(9, &|a, i| a.is_null(i)), 52, "no frequency");
    // The RxCUI from STRAFTER equals the table's RxNorm column, per medication.
    let meds = read_table("meds.txt");
    let mut got: Vec<(String, String, String)> = Vec::new();
    for (b, _) in &rows {
        for i in 0..b.num_rows() {
            let s = |c: usize| b.column(c).as_string::<i32>().value(i).to_owned();
            got.push((s(0), s(3), s(6)));
        }
    }
    let mut want: Vec<(String, String, String)> = meds
        .iter()
        .map(|m| (m["PT_ID"].clone(), m["RxNorm"].clone(), m["SIG"].clone()))
        .collect();
    got.sort();
    want.sort();
    assert_eq!(got, want);
    // A typed date: 2008-10-03 for patient 2169591's sertraline (spec 6.5).
    let (b, _) = &rows[records
        .iter()
        .position(|r| r.record_id == "2169591")
        .unwrap()];
    let days = b.column(4).as_primitive::<Date32Type>();
    let names = b.column(2).as_string::<i32>();
    let i = (0..b.num_rows())
        .find(|&i| names.value(i) == "Sertraline 100 MG Oral Tablet")
        .unwrap();
    assert_eq!(days.value(i), 14155);
    let freq = b.column(9).as_primitive::<Int64Type>();
    assert_eq!(freq.value(i), 1);
    let qty = b.column(7).as_primitive::<Float64Type>();
    assert_eq!(qty.value(i), 1.0);
}

#[test]
fn values_list_of_rxnorm_codes() {
    let p = prepare(AUDIT_QUERY, &[]);
    let records = sample_records();
    let rows = all_rows(&p, &records);
    let list = ["312938", "197319", "617318", "308135", "855332"];
    let want = read_table("meds.txt")
        .iter()
        .filter(|m| list.contains(&m["RxNorm"].as_str()))
        .count();
    assert!(want > 0);
    assert_eq!(total_rows(&rows), want);
}

#[test]
fn fulfillments_aggregate_per_medication() {
    let p = prepare(
        FILLS_QUERY,
        &[
            ("fills", ColumnType::Int64),
            ("last_fill", ColumnType::Date),
        ],
    );
    let records = sample_records();
    let rows = all_rows(&p, &records);
    assert_eq!(total_rows(&rows), 294, "one group per medication");
    let mut with_fills = 0;
    let mut links = 0;
    for (b, issues) in &rows {
        assert!(issues.is_empty(), "{issues:?}");
        let fills = b.column(2).as_primitive::<Int64Type>();
        for i in 0..b.num_rows() {
            links += fills.value(i);
            with_fills += usize::from(fills.value(i) > 0);
        }
    }
    assert_eq!(with_fills, 234);
    let want_links: usize = records
        .iter()
        .flat_map(|r| &r.meds)
        .map(|m| m.fulfillments.len())
        .sum();
    assert_eq!(links as usize, want_links);
}

#[test]
fn pages_of_one_record_form_one_graph_with_page_scoped_blank_nodes() {
    // Both pages are written by the same writer, so their blank-node labels
    // (`N000...1`, ...) collide: they must stay distinct nodes.
    let records = sample_records();
    for (_, sparql) in QUERIES {
        let p = prepare(sparql, &[]);
        for rec in records.iter().filter(|r| r.meds.len() >= 2) {
            let mid = rec.meds.len() / 2;
            let mut a = rec.clone();
            let mut b = rec.clone();
            a.meds.truncate(mid);
            b.meds.drain(..mid);
            // Fulfillments shared by meds on both pages are described twice,
            // which is the same triples: fine for a graph.
            let whole = apply(&p, rec, &to_flat(rec, 0));
            let (pa, pb) = (to_flat(&a, 0), to_nested(&b));
            let paged = p
                .apply(
                    &rec.record_id,
                    &[pa.as_bytes(), pb.as_bytes()],
                    &rec.request_url(),
                )
                .unwrap();
            if *sparql == FILLS_QUERY {
                // A fulfillment shared across pages links to meds of both
                // pages; the whole-record answer does too: same groups.
            }
            assert_eq!(
                rows_as_json(&whole.batch),
                rows_as_json(&paged.batch),
                "record {}",
                rec.record_id
            );
        }
    }
}

#[test]
fn output_is_byte_identical_across_runs_and_serializations() {
    let records = sample_records();
    for (_, sparql) in QUERIES {
        let p = prepare(sparql, &[]);
        for rec in &records {
            let a = rows_as_json(&apply(&p, rec, &to_flat(rec, 1)).batch);
            let b = rows_as_json(&apply(&p, rec, &to_flat(rec, 99)).batch);
            let c = rows_as_json(&apply(&p, rec, &to_nested(rec)).batch);
            assert_eq!(a, b);
            assert_eq!(a, c);
        }
    }
}

#[test]
fn order_by_is_kept() {
    let q = "PREFIX sp:<http://smartplatforms.org/terms#>
        SELECT ?start ?med WHERE { ?med a sp:Medication ; sp:startDate ?start } ORDER BY DESC(?start) ?med";
    let p = prepare(q, &[]);
    let rec = sample_records()
        .into_iter()
        .find(|r| r.meds.len() > 5)
        .unwrap();
    let rows = apply(&p, &rec, &to_flat(&rec, 3));
    let starts: Vec<&str> = rows
        .batch
        .column(1)
        .as_string::<i32>()
        .iter()
        .flatten()
        .collect();
    let mut want = starts.clone();
    want.sort_unstable_by(|a, b| b.cmp(a));
    assert_eq!(starts, want);
    assert_eq!(
        rows_as_json(&rows.batch),
        rows_as_json(&apply(&p, &rec, &to_nested(&rec)).batch)
    );
}

#[test]
fn the_spec_example_projects_as_documented() {
    // smart-classic-api.md 6.5, verbatim body, with the expected projection.
    let path = smartsweep_testkit::shared_dir().join("docs/smart-classic-api.md");
    let body = std::fs::read_to_string(path).unwrap();
    let start = body
        .find("<?xml version=\"1.0\" encoding=\"UTF-8\"?>")
        .unwrap();
    let end = body[start..].find("</rdf:RDF>").unwrap() + start + "</rdf:RDF>".len();
    let xml = &body[start..end];
    let q = "PREFIX dcterms:<http://purl.org/dc/terms/>
        PREFIX sp:<http://smartplatforms.org/terms#>
        SELECT ?name ?rxcui WHERE { ?med a sp:Medication ; sp:drugName ?cv .
          ?cv dcterms:title ?name ; sp:code ?code . ?code dcterms:identifier ?rxcui }";
    let p = prepare(q, &[("rxcui", ColumnType::Int64)]);
    let rows = p
        .apply(
            "2169591",
            &[xml.as_bytes()],
            "http://localhost:7000/records/2169591/medications/",
        )
        .unwrap();
    assert_eq!(
        rows_as_json(&rows.batch),
        [
            r#"["2169591","Ciprofloxacin 500 MG Oral Tablet",309309]"#,
            r#"["2169591","Sertraline 100 MG Oral Tablet",312938]"#
        ]
    );
}
