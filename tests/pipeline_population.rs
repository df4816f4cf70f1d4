//! `pipelines/population.toml`: its tables, their typed columns, and each
//! table's query run through the real transform over one record of the
//! resource it names, written from the models in
//! smart-classic-models.md (flat RDF/XML, as the reference container
//! serializes it). The single-resource pipelines share its column names and
//! types. (Running it against the sandbox waits for the sandbox to serve
//! every resource.)

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use arrow_array::RecordBatch;
use arrow_schema::DataType;
use smartsweep::pipeline::{Overrides, Plan, TablePlan, load};
use smartsweep::transform::RecordRows;
use std::collections::BTreeMap;
use std::path::Path;

fn plan(file: &str) -> Plan {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("pipelines")
        .join(file);
    load(&path, &Overrides::default()).unwrap_or_else(|p| panic!("{file}:\n{p}"))
}

fn population() -> Plan {
    plan("population.toml")
}

fn table<'p>(plan: &'p Plan, name: &str) -> &'p TablePlan {
    plan.table(name)
        .unwrap_or_else(|| panic!("no table `{name}`"))
}

/// Column name -> Arrow type, `record_id` first.
fn schema(t: &TablePlan) -> Vec<(String, DataType)> {
    t.projection
        .schema()
        .fields()
        .iter()
        .map(|f| (f.name().clone(), f.data_type().clone()))
        .collect()
}

#[test]
fn population_has_every_resource_as_a_typed_table() {
    let p = population();
    let names: Vec<_> = p
        .tables
        .iter()
        .map(|t| (t.name.as_str(), t.resource.as_str(), t.dir.as_str()))
        .collect();
    assert_eq!(
        names,
        [
            ("demographics", "demographics", "demographics"),
            ("problems", "problems", "problems"),
            ("allergies", "allergies", "allergies"),
            ("lab_results", "lab_results", "lab_results"),
            ("vital_sign_sets", "vital_sign_sets", "vital_sign_sets"),
            ("immunizations", "immunizations", "immunizations"),
            ("procedures", "procedures", "procedures"),
            ("fulfillments", "fulfillments", "fulfillments"),
            ("medications", "medications", "medications"),
        ]
    );
    assert_eq!(p.api_base, None, "runs against the sandbox by default");
    for t in &p.tables {
        let s = schema(t);
        assert_eq!(s[0], ("record_id".into(), DataType::Utf8), "{}", t.name);
        assert!(t.filters.is_empty() && t.page_size.is_none(), "{}", t.name);
        for (name, ty) in &s {
            // Dates are typed (a `_raw` companion keeps partial ones),
            // codes and ids are strings.
            if name.ends_with("date") || name.ends_with("_start") || name.ends_with("_end") {
                assert_eq!(ty, &DataType::Date32, "{}.{name}", t.name);
            }
            if name.ends_with("_raw")
                || name.ends_with("_uri")
                || ["rxnorm", "snomed", "loinc", "cvx", "mrn", "allergen_code"]
                    .contains(&name.as_str())
            {
                assert_eq!(ty, &DataType::Utf8, "{}.{name}", t.name);
            }
            if let Some(typed) = name.strip_suffix("_raw") {
                assert!(
                    s.iter().any(|(n, _)| n == typed),
                    "{}: {name} alone",
                    t.name
                );
            }
        }
    }
    let types =
        |t: &str| -> BTreeMap<String, DataType> { schema(table(&p, t)).into_iter().collect() };
    let vitals = types("vital_sign_sets");
    for m in [
        "height",
        "weight",
        "bmi",
        "temperature",
        "heart_rate",
        "respiratory_rate",
        "oxygen_saturation",
        "head_circumference",
        "systolic",
        "diastolic",
    ] {
        assert_eq!(vitals[m], DataType::Float64, "{m}");
    }
    assert_eq!(types("fulfillments")["days_supply"], DataType::Int64);
    assert_eq!(types("fulfillments")["quantity"], DataType::Float64);
    assert_eq!(types("lab_results")["value_number"], DataType::Float64);
    assert_eq!(types("lab_results")["value"], DataType::Utf8);
    assert_eq!(
        types("demographics")["gestational_age_weeks"],
        DataType::Float64
    );
    assert_eq!(types("immunizations")["product_classes"], DataType::Utf8);
}

#[test]
fn single_resource_pipelines_use_the_population_names_and_types() {
    let p = population();
    let meds = schema(table(&p, "medications"));
    assert_eq!(schema(&plan("medications.toml").tables[0]), meds);
    assert_eq!(
        schema(&plan("fulfillments.toml").tables[0]),
        schema(table(&p, "fulfillments"))
    );
    for (name, ty) in schema(&plan("recall_audit.toml").tables[0]) {
        assert!(meds.contains(&(name.clone(), ty)), "recall_audit.{name}");
    }
    // drug_names.toml keeps the HOWTO's query verbatim.
    assert_eq!(
        plan("drug_names.toml").tables[0].projection.variables(),
        ["drugname"]
    );
}

// ---------------------------------------------------------------------------
// One record per resource, as RDF/XML in the container's flat style.

const API: &str = "http://sandbox.test";
const RID: &str = "r1";

/// A triple: subject, predicate (prefixed), object. Subjects and objects
/// starting `_:` are blank nodes, `<...>` IRIs, `p:x` prefixed IRIs; other
/// objects are plain literals.
type T<'a> = (&'a str, &'a str, &'a str);

fn expand(term: &str) -> String {
    for (p, ns) in [
        ("rdf:", "http://www.w3.org/1999/02/22-rdf-syntax-ns#"),
        ("sp:", "http://smartplatforms.org/terms#"),
        ("dcterms:", "http://purl.org/dc/terms/"),
        ("v:", "http://www.w3.org/2006/vcard/ns#"),
        ("foaf:", "http://xmlns.com/foaf/0.1/"),
    ] {
        if let Some(local) = term.strip_prefix(p) {
            return format!("{ns}{local}");
        }
    }
    term.trim_start_matches('<')
        .trim_end_matches('>')
        .to_string()
}

fn is_node(o: &str) -> bool {
    o.starts_with("_:")
        || o.starts_with('<')
        || (o.contains(':')
            && !o.contains(' ')
            && ["rdf:", "sp:", "v:"].iter().any(|p| o.starts_with(p)))
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('"', "&quot;")
}

/// Flat RDF/XML: one `rdf:Description` per subject, blank nodes by
/// `rdf:nodeID`, in the order given.
fn rdf_xml(triples: &[T<'_>]) -> Vec<u8> {
    let mut by_subject: Vec<(&str, Vec<(&str, &str)>)> = Vec::new();
    for (s, p, o) in triples {
        match by_subject.iter_mut().find(|(x, _)| x == s) {
            Some((_, list)) => list.push((p, o)),
            None => by_subject.push((s, vec![(p, o)])),
        }
    }
    let mut out = String::from(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns:sp=\"http://smartplatforms.org/terms#\" xmlns:dcterms=\"http://purl.org/dc/terms/\" xmlns:v=\"http://www.w3.org/2006/vcard/ns#\" xmlns:foaf=\"http://xmlns.com/foaf/0.1/\">\n",
    );
    for (s, props) in by_subject {
        match s.strip_prefix("_:") {
            Some(id) => out.push_str(&format!("  <rdf:Description rdf:nodeID=\"{id}\">\n")),
            None => out.push_str(&format!(
                "  <rdf:Description rdf:about=\"{}\">\n",
                esc(&expand(s))
            )),
        }
        for (p, o) in props {
            if let Some(id) = o.strip_prefix("_:") {
                out.push_str(&format!("    <{p} rdf:nodeID=\"{id}\"/>\n"));
            } else if is_node(o) {
                out.push_str(&format!(
                    "    <{p} rdf:resource=\"{}\"/>\n",
                    esc(&expand(o))
                ));
            } else {
                out.push_str(&format!("    <{p}>{}</{p}>\n", esc(o)));
            }
        }
        out.push_str("  </rdf:Description>\n");
    }
    out.push_str("</rdf:RDF>\n");
    out.into_bytes()
}

/// A row as column -> text (`None` for null).
type Row = BTreeMap<String, Option<String>>;

/// Rows in the transform's order.
fn rows(batch: &RecordBatch) -> Vec<Row> {
    let schema = batch.schema();
    (0..batch.num_rows())
        .map(|r| {
            schema
                .fields()
                .iter()
                .zip(batch.columns())
                .map(|(f, col)| {
                    let v = (!col.is_null(r))
                        .then(|| arrow_cast::display::array_value_to_string(col, r).unwrap());
                    (f.name().clone(), v)
                })
                .collect()
        })
        .collect()
}

fn apply(t: &TablePlan, triples: &[T<'_>]) -> RecordRows {
    let body = rdf_xml(triples);
    let url = format!("{API}/records/{RID}/{}/", t.resource);
    t.projection
        .apply(RID, &[&body], &url)
        .unwrap_or_else(|e| panic!("{}: {e}", t.name))
}

fn get<'r>(row: &'r Row, col: &str) -> Option<&'r str> {
    row.get(col)
        .unwrap_or_else(|| panic!("no column `{col}` in {row:?}"))
        .as_deref()
}

/// The row whose `col` is `value`.
fn row_with<'r>(rows: &'r [Row], col: &str, value: &str) -> &'r Row {
    rows.iter()
        .find(|r| get(r, col) == Some(value))
        .unwrap_or_else(|| panic!("no row with {col} = {value}: {rows:?}"))
}

fn code<'a>(node: &'a str, id: &'a str, system: &'a str, title: &'a str) -> Vec<T<'a>> {
    vec![
        (node, "rdf:type", "sp:Code"),
        (node, "dcterms:identifier", id),
        (node, "sp:system", system),
        (node, "dcterms:title", title),
    ]
}

const REC: &str = "<http://sandbox.test/records/r1>";
const SNOMED: &str = "http://purl.bioontology.org/ontology/SNOMEDCT/";
const RXNORM: &str = "http://purl.bioontology.org/ontology/RXNORM/";
const LOINC: &str = "http://purl.bioontology.org/ontology/LNC/";

/// A demographics answer, as generated (one name, address, phone each).
fn demographics_answer() -> Vec<T<'static>> {
    vec![
        (
            "<http://sandbox.test/records/r1/demographics>",
            "rdf:type",
            "sp:Demographics",
        ),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "sp:belongsTo",
            REC,
        ),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "v:n",
            "_:n",
        ),
        ("_:n", "v:given-name", "Ada"),
        ("_:n", "v:additional-name", "K"),
        ("_:n", "v:family-name", "Lovelace"),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "foaf:gender",
            "female",
        ),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "v:bday",
            "1950-02-03",
        ),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "v:email",
            "ada@example.org",
        ),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "sp:medicalRecordNumber",
            "_:mrn",
        ),
        ("_:mrn", "rdf:type", "sp:Code"),
        ("_:mrn", "dcterms:identifier", "r1"),
        ("_:mrn", "dcterms:title", "My Hospital Record r1"),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "v:adr",
            "_:adr",
        ),
        ("_:adr", "rdf:type", "v:Home"),
        ("_:adr", "v:street-address", "1 Main St"),
        ("_:adr", "v:locality", "Boston"),
        ("_:adr", "v:region", "MA"),
        ("_:adr", "v:postal-code", "02115"),
        ("_:adr", "v:country", "USA"),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "v:tel",
            "_:home",
        ),
        ("_:home", "rdf:type", "v:Home"),
        ("_:home", "rdf:type", "v:Pref"),
        ("_:home", "rdf:value", "800-555-0100"),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "v:tel",
            "_:cell",
        ),
        ("_:cell", "rdf:type", "v:Cell"),
        ("_:cell", "rdf:value", "800-555-0199"),
        (
            "<http://sandbox.test/records/r1/demographics>",
            "sp:gestationalAgeAtBirth",
            "_:ga",
        ),
        ("_:ga", "sp:value", "30.6"),
        ("_:ga", "sp:unit", "wk"),
    ]
}

#[test]
fn demographics_is_one_typed_row() {
    let t = demographics_answer();
    let out = apply(table(&population(), "demographics"), &t);
    assert!(out.conversions.is_empty(), "{:?}", out.conversions);
    let r = rows(&out.batch);
    assert_eq!(r.len(), 1, "{r:?}");
    let r = &r[0];
    for (col, want) in [
        ("record_id", Some("r1")),
        ("given_name", Some("Ada")),
        ("additional_name", Some("K")),
        ("family_name", Some("Lovelace")),
        ("gender", Some("female")),
        ("birth_date", Some("1950-02-03")),
        ("death_date", None),
        ("email", Some("ada@example.org")),
        ("mrn", Some("r1")),
        ("street", Some("1 Main St")),
        ("postal_code", Some("02115")),
        ("country", Some("USA")),
        ("home_phone", Some("800-555-0100")),
        ("cell_phone", Some("800-555-0199")),
        ("gestational_age_weeks", Some("30.6")),
    ] {
        assert_eq!(get(r, col), want, "{col}");
    }
}

#[test]
fn a_year_only_problem_start_keeps_its_row_and_its_raw_text() {
    let p1 = "<http://sandbox.test/records/r1/problems/p1>";
    let p2 = "<http://sandbox.test/records/r1/problems/p2>";
    let mut t = vec![
        (p1, "rdf:type", "sp:Problem"),
        (p1, "sp:belongsTo", REC),
        (p1, "sp:problemName", "_:pn1"),
        ("_:pn1", "dcterms:title", "Hypertension, benign"),
        (
            "_:pn1",
            "sp:code",
            "<http://purl.bioontology.org/ontology/SNOMEDCT/1201005>",
        ),
        (p1, "sp:startDate", "2007"),
        (p2, "rdf:type", "sp:Problem"),
        (p2, "sp:belongsTo", REC),
        (p2, "sp:problemName", "_:pn2"),
        ("_:pn2", "dcterms:title", "Sinusitis"),
        (
            "_:pn2",
            "sp:code",
            "<http://purl.bioontology.org/ontology/SNOMEDCT/428041000124106>",
        ),
        (p2, "sp:startDate", "2009-03-01"),
        (p2, "sp:endDate", "2009-03-20"),
    ];
    t.extend(code(
        "<http://purl.bioontology.org/ontology/SNOMEDCT/1201005>",
        "1201005",
        SNOMED,
        "Benign essential hypertension",
    ));
    t.extend(code(
        "<http://purl.bioontology.org/ontology/SNOMEDCT/428041000124106>",
        "428041000124106",
        SNOMED,
        "Sinusitis",
    ));
    let out = apply(table(&population(), "problems"), &t);
    let r = rows(&out.batch);
    assert_eq!(r.len(), 2, "{r:?}");
    let year = row_with(&r, "snomed", "1201005");
    assert_eq!(
        get(year, "name"),
        Some("Hypertension, benign"),
        "title from the CodedValue"
    );
    assert_eq!(get(year, "start_date"), None);
    assert_eq!(get(year, "start_date_raw"), Some("2007"));
    assert!(get(year, "problem_uri").unwrap().ends_with("/problems/p1"));
    let full = row_with(&r, "snomed", "428041000124106");
    assert_eq!(get(full, "start_date"), Some("2009-03-01"));
    assert_eq!(get(full, "end_date"), Some("2009-03-20"));
    assert_eq!(out.conversions.len(), 1, "{:?}", out.conversions);
    assert_eq!(out.conversions[0].column, "start_date");
    assert_eq!(out.conversions[0].value, "2007");
}

/// An allergies answer: one allergy (a drug allergen) and one exclusion.
fn allergies_answer() -> Vec<T<'static>> {
    let a = "<http://sandbox.test/records/r1/allergies/a1>";
    let x = "<http://sandbox.test/records/r1/allergy_exclusions/x1>";
    let mut t = vec![
        (a, "rdf:type", "sp:Allergy"),
        (a, "sp:belongsTo", REC),
        (a, "sp:startDate", "2000"),
        (a, "sp:category", "_:cat"),
        ("_:cat", "dcterms:title", "drug allergy"),
        (
            "_:cat",
            "sp:code",
            "<http://purl.bioontology.org/ontology/SNOMEDCT/416098002>",
        ),
        (a, "sp:drugAllergen", "_:al"),
        ("_:al", "dcterms:title", "lisinopril 20mg"),
        (
            "_:al",
            "sp:code",
            "<http://purl.bioontology.org/ontology/RXNORM/29046>",
        ),
        (a, "sp:allergicReaction", "_:rx"),
        ("_:rx", "dcterms:title", "Pruritic rash "),
        (
            "_:rx",
            "sp:code",
            "<http://purl.bioontology.org/ontology/SNOMEDCT/271807003>",
        ),
        (a, "sp:severity", "_:sev"),
        ("_:sev", "dcterms:title", "severe"),
        (
            "_:sev",
            "sp:code",
            "<http://purl.bioontology.org/ontology/SNOMEDCT/24484000>",
        ),
        (x, "rdf:type", "sp:AllergyExclusion"),
        (x, "sp:belongsTo", REC),
        (x, "dcterms:date", "2010"),
        (x, "sp:allergyExclusionName", "_:ex"),
        ("_:ex", "dcterms:title", "No known allergies"),
        (
            "_:ex",
            "sp:code",
            "<http://purl.bioontology.org/ontology/SNOMEDCT/160244002>",
        ),
    ];
    t.extend(code(
        "<http://purl.bioontology.org/ontology/SNOMEDCT/416098002>",
        "416098002",
        SNOMED,
        "Drug allergy",
    ));
    t.extend(code(
        "<http://purl.bioontology.org/ontology/RXNORM/29046>",
        "29046",
        RXNORM,
        "Lisinopril",
    ));
    t.extend(code(
        "<http://purl.bioontology.org/ontology/SNOMEDCT/271807003>",
        "271807003",
        SNOMED,
        "Rash",
    ));
    t.extend(code(
        "<http://purl.bioontology.org/ontology/SNOMEDCT/24484000>",
        "24484000",
        SNOMED,
        "Severe",
    ));
    t.extend(code(
        "<http://purl.bioontology.org/ontology/SNOMEDCT/160244002>",
        "160244002",
        SNOMED,
        "No known allergies",
    ));
    t
}

#[test]
fn allergies_and_exclusions_share_one_table() {
    let t = allergies_answer();
    let out = apply(table(&population(), "allergies"), &t);
    let r = rows(&out.batch);
    assert_eq!(r.len(), 2, "{r:?}");
    let allergy = row_with(&r, "kind", "allergy");
    for (col, want) in [
        ("date", None),
        ("date_raw", Some("2000")),
        ("category", Some("drug allergy")),
        ("category_snomed", Some("416098002")),
        ("allergen", Some("lisinopril 20mg")),
        ("allergen_system", Some(RXNORM)),
        ("allergen_code", Some("29046")),
        ("reaction", Some("Pruritic rash ")),
        ("reaction_snomed", Some("271807003")),
        ("severity", Some("severe")),
        ("severity_snomed", Some("24484000")),
    ] {
        assert_eq!(get(allergy, col), want, "allergy {col}");
    }
    let exclusion = row_with(&r, "kind", "exclusion");
    for (col, want) in [
        ("date_raw", Some("2010")),
        ("allergen", Some("No known allergies")),
        ("allergen_code", Some("160244002")),
        ("allergen_system", None),
        ("reaction", None),
    ] {
        assert_eq!(get(exclusion, col), want, "exclusion {col}");
    }
    assert!(
        get(exclusion, "allergy_uri")
            .unwrap()
            .ends_with("/allergy_exclusions/x1")
    );
    assert_eq!(
        out.conversions.len(),
        2,
        "two bare years: {:?}",
        out.conversions
    );
}

#[test]
fn lab_values_keep_their_text_and_become_numbers_when_they_are() {
    let l1 = "<http://sandbox.test/records/r1/lab_results/l1>";
    let l2 = "<http://sandbox.test/records/r1/lab_results/l2>";
    let l3 = "<http://sandbox.test/records/r1/lab_results/l3>";
    let mut t = vec![
        (l1, "rdf:type", "sp:LabResult"),
        (l1, "sp:labName", "_:n1"),
        ("_:n1", "dcterms:title", "Glucose"),
        (
            "_:n1",
            "sp:code",
            "<http://purl.bioontology.org/ontology/LNC/2345-7>",
        ),
        (l1, "dcterms:date", "2010-05-12"),
        (l1, "sp:quantitativeResult", "_:q1"),
        ("_:q1", "sp:valueAndUnit", "_:vu1"),
        ("_:vu1", "sp:value", "5.4"),
        ("_:vu1", "sp:unit", "mmol/L"),
        ("_:q1", "sp:normalRange", "_:nr1"),
        ("_:nr1", "sp:minimum", "_:min1"),
        ("_:min1", "sp:value", "3.9"),
        ("_:min1", "sp:unit", "mmol/L"),
        ("_:nr1", "sp:maximum", "_:max1"),
        ("_:max1", "sp:value", "6.1"),
        ("_:max1", "sp:unit", "mmol/L"),
        (l1, "sp:accessionNumber", "A123456789"),
        (l2, "rdf:type", "sp:LabResult"),
        (l2, "sp:labName", "_:n2"),
        ("_:n2", "dcterms:title", "WBC casts"),
        (
            "_:n2",
            "sp:code",
            "<http://purl.bioontology.org/ontology/LNC/5821-4>",
        ),
        (l2, "dcterms:date", "2010-05-12"),
        (l2, "sp:quantitativeResult", "_:q2"),
        ("_:q2", "sp:valueAndUnit", "_:vu2"),
        ("_:vu2", "sp:value", "0-2"),
        ("_:vu2", "sp:unit", ""),
        (l3, "rdf:type", "sp:LabResult"),
        (l3, "sp:labName", "_:n3"),
        ("_:n3", "dcterms:title", "Urine color"),
        (
            "_:n3",
            "sp:code",
            "<http://purl.bioontology.org/ontology/LNC/5778-6>",
        ),
        (l3, "dcterms:date", "2010-05-13"),
        (l3, "sp:narrativeResult", "_:nar"),
        ("_:nar", "sp:value", "clear, yellow"),
    ];
    t.extend(code(
        "<http://purl.bioontology.org/ontology/LNC/2345-7>",
        "2345-7",
        LOINC,
        "Glucose",
    ));
    t.extend(code(
        "<http://purl.bioontology.org/ontology/LNC/5821-4>",
        "5821-4",
        LOINC,
        "WBC casts",
    ));
    t.extend(code(
        "<http://purl.bioontology.org/ontology/LNC/5778-6>",
        "5778-6",
        LOINC,
        "Color",
    ));
    let out = apply(table(&population(), "lab_results"), &t);
    let r = rows(&out.batch);
    assert_eq!(r.len(), 3, "{r:?}");
    let by = |loinc: &str| row_with(&r, "loinc", loinc);
    let g = by("2345-7");
    assert_eq!(get(g, "value"), Some("5.4"));
    assert_eq!(get(g, "value_number"), Some("5.4"));
    assert_eq!(get(g, "normal_low"), Some("3.9"));
    assert_eq!(get(g, "normal_high"), Some("6.1"));
    assert_eq!(get(g, "date"), Some("2010-05-12"));
    assert_eq!(get(g, "accession"), Some("A123456789"));
    let range = by("5821-4");
    assert_eq!(get(range, "value"), Some("0-2"));
    assert_eq!(get(range, "value_number"), None);
    assert_eq!(get(range, "unit"), Some(""));
    let narrative = by("5778-6");
    assert_eq!(get(narrative, "narrative"), Some("clear, yellow"));
    assert_eq!(get(narrative, "value"), None);
    assert_eq!(out.conversions.len(), 1, "{:?}", out.conversions);
    assert_eq!(out.conversions[0].column, "value_number");
}

#[test]
fn a_vital_sign_set_is_one_wide_row_with_its_encounter() {
    let s = "<http://sandbox.test/records/r1/vital_sign_sets/s1>";
    let e = "<http://sandbox.test/records/r1/encounters/e1>";
    let t = vec![
        (s, "rdf:type", "sp:VitalSignSet"),
        (s, "sp:belongsTo", REC),
        (s, "dcterms:date", "2000-07-12T19:00:00Z"),
        (s, "sp:encounter", e),
        (e, "rdf:type", "sp:Encounter"),
        (e, "sp:belongsTo", REC),
        (e, "sp:startDate", "2000-07-12T19:00:00Z"),
        (e, "sp:encounterType", "_:et"),
        ("_:et", "dcterms:title", "Ambulatory encounter"),
        (
            "_:et",
            "sp:code",
            "<http://smartplatforms.org/terms/codes/EncounterType#ambulatory>",
        ),
        (
            "<http://smartplatforms.org/terms/codes/EncounterType#ambulatory>",
            "dcterms:identifier",
            "ambulatory",
        ),
        (s, "sp:height", "_:h"),
        ("_:h", "rdf:type", "sp:VitalSign"),
        ("_:h", "sp:value", "172.7"),
        ("_:h", "sp:unit", "cm"),
        (s, "sp:heartRate", "_:hr"),
        ("_:hr", "sp:value", "72"),
        ("_:hr", "sp:unit", "{beats}/min"),
        (s, "sp:bloodPressure", "_:bp"),
        ("_:bp", "sp:systolic", "_:sys"),
        ("_:sys", "sp:value", "120"),
        ("_:sys", "sp:unit", "mm[Hg]"),
        ("_:bp", "sp:diastolic", "_:dia"),
        ("_:dia", "sp:value", "80"),
        ("_:dia", "sp:unit", "mm[Hg]"),
    ];
    let out = apply(table(&population(), "vital_sign_sets"), &t);
    assert!(out.conversions.is_empty(), "{:?}", out.conversions);
    let r = rows(&out.batch);
    assert_eq!(r.len(), 1, "{r:?}");
    for (col, want) in [
        ("date", Some("2000-07-12")),
        ("encounter_type", Some("ambulatory")),
        ("encounter_start", Some("2000-07-12")),
        ("encounter_end", None),
        ("height", Some("172.7")),
        ("heart_rate", Some("72.0")),
        ("weight", None),
        ("systolic", Some("120.0")),
        ("diastolic", Some("80.0")),
        (
            "encounter_uri",
            Some("http://sandbox.test/records/r1/encounters/e1"),
        ),
    ] {
        assert_eq!(get(&r[0], col), want, "{col}");
    }
}

fn immunizations(reversed: bool) -> Vec<T<'static>> {
    let i1 = "<http://sandbox.test/records/r1/immunizations/i1>";
    let i2 = "<http://sandbox.test/records/r1/immunizations/i2>";
    let mut t = vec![
        (i1, "rdf:type", "sp:Immunization"),
        (i1, "dcterms:date", "2009-10-01"),
        (i1, "sp:productName", "_:pn"),
        ("_:pn", "dcterms:title", "DTaP, 5 pertussis antigens"),
        (
            "_:pn",
            "sp:code",
            "<http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=cvx#20>",
        ),
        (
            "<http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=cvx#20>",
            "dcterms:identifier",
            "20",
        ),
        (i1, "sp:administrationStatus", "_:st"),
        (
            "_:st",
            "sp:code",
            "<http://smartplatforms.org/terms/codes/ImmunizationAdministrationStatus#doseGiven>",
        ),
        (
            "<http://smartplatforms.org/terms/codes/ImmunizationAdministrationStatus#doseGiven>",
            "dcterms:identifier",
            "doseGiven",
        ),
        (i1, "sp:productClass", "_:c1"),
        (
            "_:c1",
            "sp:code",
            "<http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=vg#TETANUS>",
        ),
        (
            "<http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=vg#TETANUS>",
            "dcterms:identifier",
            "TETANUS",
        ),
        (i1, "sp:productClass", "_:c2"),
        (
            "_:c2",
            "sp:code",
            "<http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=vg#DIPHTHERIA>",
        ),
        (
            "<http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=vg#DIPHTHERIA>",
            "dcterms:identifier",
            "DIPHTHERIA",
        ),
        (i2, "rdf:type", "sp:Immunization"),
        (i2, "dcterms:date", "2010-01-02"),
        (i2, "sp:productName", "_:pn2"),
        ("_:pn2", "dcterms:title", "Influenza"),
        (
            "_:pn2",
            "sp:code",
            "<http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=cvx#03>",
        ),
        (
            "<http://www2a.cdc.gov/nip/IIS/IISStandards/vaccines.asp?rpt=cvx#03>",
            "dcterms:identifier",
            "03",
        ),
        (i2, "sp:administrationStatus", "_:st2"),
        (
            "_:st2",
            "sp:code",
            "<http://smartplatforms.org/terms/codes/ImmunizationAdministrationStatus#notAdministered>",
        ),
        (
            "<http://smartplatforms.org/terms/codes/ImmunizationAdministrationStatus#notAdministered>",
            "dcterms:identifier",
            "notAdministered",
        ),
        (i2, "sp:refusalReason", "_:rr"),
        (
            "_:rr",
            "sp:code",
            "<http://smartplatforms.org/terms/codes/ImmunizationRefusalReason#allergy>",
        ),
        (
            "<http://smartplatforms.org/terms/codes/ImmunizationRefusalReason#allergy>",
            "dcterms:identifier",
            "allergy",
        ),
    ];
    if reversed {
        t.reverse();
    }
    t
}

#[test]
fn immunization_classes_are_joined_in_a_stable_order() {
    let p = population();
    let t = table(&p, "immunizations");
    let forward = apply(t, &immunizations(false));
    let backward = apply(t, &immunizations(true));
    let r = rows(&forward.batch);
    assert_eq!(
        r,
        rows(&backward.batch),
        "the order of the answer changes nothing"
    );
    assert_eq!(r.len(), 2, "{r:?}");
    let dtap = row_with(&r, "cvx", "20");
    assert_eq!(get(dtap, "product_classes"), Some("DIPHTHERIA|TETANUS"));
    assert_eq!(get(dtap, "status"), Some("doseGiven"));
    assert_eq!(get(dtap, "date"), Some("2009-10-01"));
    let flu = row_with(&r, "cvx", "03");
    assert_eq!(get(flu, "product_classes"), None, "no class: null");
    assert_eq!(get(flu, "refusal_reason"), Some("allergy"));
    assert_eq!(get(flu, "product"), Some("Influenza"));
}

#[test]
fn an_empty_procedure_note_stays_empty_and_a_missing_one_is_null() {
    let p1 = "<http://sandbox.test/records/r1/procedures/p1>";
    let p2 = "<http://sandbox.test/records/r1/procedures/p2>";
    let mut t = vec![
        (p1, "rdf:type", "sp:Procedure"),
        (p1, "dcterms:date", "2011-02-03"),
        (p1, "sp:procedureName", "_:n1"),
        ("_:n1", "dcterms:title", "Appendectomy"),
        (
            "_:n1",
            "sp:code",
            "<http://purl.bioontology.org/ontology/SNOMEDCT/80146002>",
        ),
        (p1, "sp:notes", ""),
        (p2, "rdf:type", "sp:Procedure"),
        (p2, "dcterms:date", "2012-02-03"),
        (p2, "sp:procedureName", "_:n2"),
        ("_:n2", "dcterms:title", "Colonoscopy"),
        (
            "_:n2",
            "sp:code",
            "<http://purl.bioontology.org/ontology/SNOMEDCT/73761001>",
        ),
    ];
    t.extend(code(
        "<http://purl.bioontology.org/ontology/SNOMEDCT/80146002>",
        "80146002",
        SNOMED,
        "Appendectomy",
    ));
    t.extend(code(
        "<http://purl.bioontology.org/ontology/SNOMEDCT/73761001>",
        "73761001",
        SNOMED,
        "Colonoscopy",
    ));
    let out = apply(table(&population(), "procedures"), &t);
    let r = rows(&out.batch);
    assert_eq!(r.len(), 2, "{r:?}");
    let a = row_with(&r, "snomed", "80146002");
    assert_eq!(get(a, "notes"), Some(""));
    assert_eq!(get(a, "date"), Some("2011-02-03"));
    let c = row_with(&r, "snomed", "73761001");
    assert_eq!(get(c, "notes"), None);
}

/// A medications answer: a medication with a bare-year start and its
/// fulfillment (the answer carries the neighbouring statement).
fn medication_answer() -> Vec<T<'static>> {
    let m = "<http://sandbox.test/records/r1/medications/m1>";
    let f = "<http://sandbox.test/records/r1/fulfillments/f1>";
    let mut t = vec![
        (m, "rdf:type", "sp:Medication"),
        (m, "sp:belongsTo", REC),
        (m, "sp:drugName", "_:dn"),
        ("_:dn", "dcterms:title", "Lisinopril 20 MG Oral Tablet"),
        (
            "_:dn",
            "sp:code",
            "<http://purl.bioontology.org/ontology/RXNORM/314077>",
        ),
        (m, "sp:startDate", "2007"),
        (m, "sp:instructions", "1 tablet daily, with water"),
        (m, "sp:quantity", "_:q"),
        ("_:q", "sp:value", "1"),
        ("_:q", "sp:unit", "{tablet}"),
        (m, "sp:frequency", "_:fr"),
        ("_:fr", "sp:value", "1"),
        ("_:fr", "sp:unit", "/d"),
        (m, "sp:fulfillment", f),
        (f, "rdf:type", "sp:Fulfillment"),
        (f, "sp:belongsTo", REC),
        (f, "dcterms:date", "2007-04-14T04:00:00Z"),
        (f, "sp:dispenseDaysSupply", "30"),
        (f, "sp:quantityDispensed", "_:qd"),
        ("_:qd", "sp:value", "30"),
        ("_:qd", "sp:unit", "{tab}"),
        (f, "sp:medication", m),
    ];
    t.extend(code(
        "<http://purl.bioontology.org/ontology/RXNORM/314077>",
        "314077",
        RXNORM,
        "Lisinopril 20 MG Oral Tablet",
    ));
    t
}

#[test]
fn fulfillments_join_medications_on_the_medication_uri() {
    let p = population();
    let meds = apply(table(&p, "medications"), &medication_answer());
    let fills = apply(table(&p, "fulfillments"), &medication_answer());
    let m = rows(&meds.batch);
    let f = rows(&fills.batch);
    assert_eq!((m.len(), f.len()), (1, 1), "{m:?} {f:?}");
    let (m, f) = (&m[0], &f[0]);
    assert_eq!(get(f, "medication_uri"), get(m, "medication_uri"));
    assert!(
        get(m, "medication_uri")
            .unwrap()
            .ends_with("/medications/m1")
    );
    for (col, want) in [
        ("rxnorm", Some("314077")),
        ("drug_name", Some("Lisinopril 20 MG Oral Tablet")),
        ("date", Some("2007-04-14")),
        ("days_supply", Some("30")),
        ("quantity", Some("30.0")),
        ("quantity_unit", Some("{tab}")),
    ] {
        assert_eq!(get(f, col), want, "fulfillment {col}");
    }
    for (col, want) in [
        ("rxnorm", Some("314077")),
        ("start_date", None),
        ("start_date_raw", Some("2007")),
        ("instructions", Some("1 tablet daily, with water")),
        ("quantity", Some("1.0")),
        ("frequency_unit", Some("/d")),
    ] {
        assert_eq!(get(m, col), want, "medication {col}");
    }
    // The single-resource pipelines give the same rows.
    let same = apply(&plan("medications.toml").tables[0], &medication_answer());
    assert_eq!(rows(&same.batch), rows(&meds.batch));
    let same = apply(&plan("fulfillments.toml").tables[0], &medication_answer());
    assert_eq!(rows(&same.batch), rows(&fills.batch));
}
