//! The queries the equivalence tests and the benches run.

/// The seed program's query, verbatim.
pub const SEED_QUERY: &str = "PREFIX dcterms:<http://purl.org/dc/terms/>
PREFIX sp:<http://smartplatforms.org/terms#>
PREFIX rdf:<http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?drugname
WHERE {
  ?med rdf:type sp:Medication .
  ?med sp:drugName ?drugname_code .
  ?drugname_code dcterms:title ?drugname .
}
";

/// A medication export: optional end date, quantity and frequency, the RxCUI
/// taken from the code URI.
pub const MEDS_QUERY: &str = "PREFIX dcterms:<http://purl.org/dc/terms/>
PREFIX sp:<http://smartplatforms.org/terms#>
PREFIX rdf:<http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?med ?drugname ?rxcui ?start_date ?end_date ?instructions
       ?quantity ?quantity_unit ?frequency ?frequency_unit
WHERE {
  ?med rdf:type sp:Medication ;
       sp:drugName ?cv .
  ?cv dcterms:title ?drugname ;
      sp:code ?code .
  BIND(STRAFTER(STR(?code), \"RXNORM/\") AS ?rxcui)
  OPTIONAL { ?med sp:startDate ?start_date }
  OPTIONAL { ?med sp:endDate ?end_date }
  OPTIONAL { ?med sp:instructions ?instructions }
  OPTIONAL { ?med sp:quantity ?q . ?q sp:value ?quantity ; sp:unit ?quantity_unit }
  OPTIONAL { ?med sp:frequency ?f . ?f sp:value ?frequency ; sp:unit ?frequency_unit }
}
";

/// A recall audit: medications whose RxCUI is in a list.
pub const AUDIT_QUERY: &str = "PREFIX dcterms:<http://purl.org/dc/terms/>
PREFIX sp:<http://smartplatforms.org/terms#>
PREFIX rdf:<http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?med ?rxcui ?drugname
WHERE {
  VALUES ?rxcui { \"312938\" \"197319\" \"617318\" \"308135\" \"855332\" }
  ?med rdf:type sp:Medication ;
       sp:drugName ?cv .
  ?cv sp:code ?code ;
      dcterms:title ?drugname .
  FILTER(STRAFTER(STR(?code), \"RXNORM/\") = ?rxcui)
}
";

/// Fulfillments per medication, with an aggregate.
pub const FILLS_QUERY: &str = "PREFIX dcterms:<http://purl.org/dc/terms/>
PREFIX sp:<http://smartplatforms.org/terms#>
PREFIX rdf:<http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?med (COUNT(?fill) AS ?fills) (MAX(?date) AS ?last_fill)
WHERE {
  ?med rdf:type sp:Medication .
  OPTIONAL { ?med sp:fulfillment ?fill . ?fill dcterms:date ?date }
}
GROUP BY ?med
";

/// The queries the equivalence checks and the bench run, by name.
pub const QUERIES: &[(&str, &str)] = &[
    ("seed", SEED_QUERY),
    ("meds", MEDS_QUERY),
    ("audit", AUDIT_QUERY),
    ("fills", FILLS_QUERY),
];

/// One shipped pipeline (`pipelines/*.toml`): its name, SELECT and `[columns]`.
#[derive(Debug, Clone)]
pub struct Shipped {
    /// The pipeline's `name` (`drug_names`, `medications`, ...).
    pub name: String,
    /// The resource the table reads (`medications`, `problems`, ...).
    pub resource: String,
    /// The `[query] sparql` text.
    pub sparql: String,
    /// The `[columns]` table.
    pub columns: std::collections::BTreeMap<String, smartsweep::schema::ColumnType>,
}

/// The repository's `pipelines/` directory.
pub fn pipelines_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../pipelines")
}

/// Every shipped table over the medications resource (the corpus these
/// tests and benches use), sorted by file name, read and validated with
/// smartsweep's own loader: a single-table pipeline is named after itself,
/// a table of a multi-table pipeline `pipeline.table`. Panics on a pipeline
/// that does not load (a shipped pipeline must).
pub fn shipped_pipelines() -> Vec<Shipped> {
    shipped_tables()
        .into_iter()
        .filter(|t| t.resource == "medications")
        .collect()
}

/// Every table of every shipped pipeline, whatever its resource, named and
/// ordered as in [`shipped_pipelines`].
pub fn shipped_tables() -> Vec<Shipped> {
    let dir = pipelines_dir();
    let mut paths: Vec<_> = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    paths.sort();
    paths
        .iter()
        .flat_map(|p| {
            let plan = smartsweep::pipeline::load(p, &smartsweep::pipeline::Overrides::default())
                .unwrap_or_else(|e| panic!("{}: {e}", p.display()));
            let single = plan.tables.len() == 1;
            let name = plan.name.clone();
            plan.tables.into_iter().map(move |t| Shipped {
                name: if single {
                    name.clone()
                } else {
                    format!("{name}.{}", t.name)
                },
                resource: t.resource,
                sparql: t.sparql,
                columns: t.columns,
            })
        })
        .collect()
}

/// The project's `shared/` directory (sample patients, docs): `$SMARTSWEEP_SHARED`
/// when set, else `<repo>/../shared` (a checkout beside it), else `/work/shared`.
pub fn shared_dir() -> std::path::PathBuf {
    if let Some(d) = std::env::var_os("SMARTSWEEP_SHARED") {
        return d.into();
    }
    let beside = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    if beside.is_dir() {
        return beside;
    }
    "/work/shared".into()
}
