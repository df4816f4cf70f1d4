//! The loader end to end on pipeline text: both shapes of file, overrides,
//! every rule with its place, warnings, and the plan hash.

use super::*;
use std::path::Path;

const Q: &str = "SELECT ?title ?day WHERE { ?m <http://purl.org/dc/terms/title> ?title . OPTIONAL { ?m <urn:d> ?day } }";

fn load_text(text: &str) -> Result<Plan, Problems> {
    load_str(Path::new("p.toml"), text, &Overrides::default())
}

fn problems(text: &str) -> Vec<Problem> {
    match load_text(text) {
        Ok(p) => panic!("expected problems, got a plan for {:?}", p.name),
        Err(p) => p.0,
    }
}

/// The (line, key, message) of every error, for compact assertions.
fn errors(text: &str) -> Vec<(usize, String, String)> {
    problems(text)
        .into_iter()
        .filter(Problem::is_error)
        .map(|p| {
            (
                p.location.map(|l| l.0).unwrap_or(0),
                p.key.unwrap_or_default(),
                p.message,
            )
        })
        .collect()
}

fn has(errs: &[(usize, String, String)], line: usize, key: &str, words: &str) -> bool {
    errs.iter()
        .any(|(l, k, m)| *l == line && k == key && m.contains(words))
}

fn single(query: &str, extra_output: &str) -> String {
    format!(
        "[source]\nresource = \"medications\"\napi_base = \"http://127.0.0.1:9\"\n\n[query]\nsparql = '''{query}'''\n\n[columns]\nday = \"date\"\n\n[output]\npath = \"out/x\"\n{extra_output}"
    )
}

fn multi(tables: &[(&str, &str, &str)], output_extra: &str) -> String {
    let mut s = format!(
        "name = \"m\"\n[source]\napi_base = \"http://127.0.0.1:9\"\n\n[output]\npath = \"out/m\"\n{output_extra}\n"
    );
    for (name, resource, extra) in tables {
        s.push_str(&format!(
            "\n[[tables]]\nname = \"{name}\"\nresource = \"{resource}\"\n{extra}\n[tables.query]\nsparql = '''{Q}'''\n[tables.columns]\nday = \"date\"\n"
        ));
    }
    s
}

#[test]
fn a_single_table_file_is_one_table_at_the_output_root() {
    let plan = load_text(&single(Q, "")).unwrap();
    assert_eq!(plan.name, "p");
    assert_eq!(plan.tables.len(), 1);
    let t = &plan.tables[0];
    assert_eq!((t.name.as_str(), t.dir.as_str()), ("p", ""));
    assert_eq!(t.resource, "medications");
    assert_eq!(t.projection.variables(), ["title", "day"]);
    assert!(t.partition_by.is_empty());
    assert!(plan.warnings.is_empty(), "{:?}", plan.warnings);
}

#[test]
fn a_tables_file_has_each_table_under_its_name() {
    let text = multi(
        &[
            ("meds", "medications", "page_size = 50"),
            ("labs", "lab_results", "filters = { loinc = \"2345-7\" }"),
        ],
        "",
    );
    let plan = load_text(&text).unwrap();
    let names: Vec<_> = plan.tables.iter().map(|t| (&*t.name, &*t.dir)).collect();
    assert_eq!(names, [("meds", "meds"), ("labs", "labs")]);
    assert_eq!(plan.tables[0].page_size, Some(50));
    assert_eq!(plan.tables[1].page_size, None);
    assert_eq!(
        plan.tables[1].filter_params(),
        [("loinc".into(), "2345-7".into())]
    );
    assert_eq!(plan.api_base.as_deref(), Some("http://127.0.0.1:9"));
    // --page-size applies to every table that pages.
    let o = Overrides {
        page_size: Some(7),
        ..Overrides::default()
    };
    let plan = load_str(Path::new("p.toml"), &text, &o).unwrap();
    assert!(plan.tables.iter().all(|t| t.page_size == Some(7)));
}

#[test]
fn source_may_be_absent_in_a_tables_file() {
    let text = multi(&[("meds", "medications", "")], "")
        .replace("[source]\napi_base = \"http://127.0.0.1:9\"\n", "");
    let plan = load_text(&text).unwrap();
    assert_eq!(plan.api_base, None);
    assert_eq!(plan.app_id, DEFAULT_APP_ID);
}

#[test]
fn tables_file_shape_errors_are_located() {
    let text = multi(&[("meds", "medications", "")], "").replace(
        "[source]\n",
        "[source]\nresource = \"medications\"\npage_size = 5\nfilters = { rxnorm = \"1\" }\n",
    ) + "\n[query]\nsparql = 'SELECT ?x WHERE { ?x ?p ?o }'\n[columns]\nx = \"date\"\n";
    let errs = errors(&text);
    assert!(
        has(
            &errs,
            3,
            "source.resource",
            "`resource` in [source] of a `[[tables]]` file"
        ),
        "{errs:?}"
    );
    assert!(
        has(&errs, 4, "source.page_size", "`page_size` in [source]"),
        "{errs:?}"
    );
    assert!(
        has(&errs, 5, "source.filters", "`filters` in [source]"),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, m)| k == "query" && m.contains("top-level [query]")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, m)| k == "columns" && m.contains("top-level [columns]")),
        "{errs:?}"
    );
}

#[test]
fn table_names_must_be_plain_unique_and_differ_in_more_than_case() {
    let text = multi(
        &[
            ("meds", "medications", ""),
            ("meds", "medications", ""),
            ("Meds", "medications", ""),
            ("../up", "medications", ""),
            ("_errors", "medications", ""),
        ],
        "",
    );
    let errs = errors(&text);
    let at = |i: usize| format!("tables[{i}].name");
    assert!(
        errs.iter().any(|(_, k, m)| *k == at(1)
            && m.contains("used twice")
            && m.contains("`<output>/meds/`")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, m)| *k == at(2) && m.contains("case-insensitive")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, m)| *k == at(3) && m.contains("`../up` is not a plain name")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, m)| *k == at(4) && m.contains("`_errors` is not a plain name")),
        "{errs:?}"
    );
    assert!(!errs.iter().any(|(_, k, _)| *k == at(0)), "{errs:?}");
}

#[test]
fn an_empty_or_nameless_tables_list_is_refused() {
    let errs = errors("tables = []\n[output]\npath = \"o\"\n");
    assert!(
        has(&errs, 1, "tables", "`tables` list is empty"),
        "{errs:?}"
    );
    let errs = errors(
        "[output]\npath = \"o\"\n[[tables]]\nresource = \"medications\"\n[tables.query]\nsparql = 'SELECT ?x WHERE { ?x ?p ?o }'\n",
    );
    assert!(has(&errs, 3, "tables[0].name", "has no `name`"), "{errs:?}");
    let errs = errors("[output]\npath = \"o\"\n[[tables]]\nname = \"a\"\n");
    assert!(
        has(
            &errs,
            3,
            "tables[0].resource",
            "table `a` has no `resource`"
        ),
        "{errs:?}"
    );
    assert!(
        has(&errs, 3, "tables[0].query", "table `a` has no query"),
        "{errs:?}"
    );
    let errs = errors("[tables]\nname = \"a\"\n[output]\npath = \"o\"\n");
    assert!(
        has(&errs, 1, "tables", "must be an array of tables"),
        "{errs:?}"
    );
}

#[test]
fn unknown_keys_do_not_stop_validation() {
    let text = single("SELECT ?title WHERE { ?m ?p ?title", "colour = \"red\"\n")
        .replace("[source]\n", "[source]\napi_bsae = \"x\"\n")
        .replace("[columns]\n", "[columns]\nnope = \"text\"\n");
    let errs = errors(&text);
    assert!(
        has(
            &errs,
            2,
            "source.api_bsae",
            "unknown key `api_bsae` in [source]"
        ),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, m)| k == "query.sparql" && m.contains("not valid SPARQL")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, m)| k == "columns.nope" && m.contains("`text` is not a column type")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|(_, k, m)| k == "output.colour" && m.contains("unknown key `colour` in [output]")), "{errs:?}");
    let all = problems(&text);
    let hint = &all
        .iter()
        .find(|p| p.key.as_deref() == Some("source.api_bsae"))
        .unwrap()
        .hint;
    assert!(hint.starts_with("did you mean `api_base`?"), "{hint}");
}

#[test]
fn mistyped_values_are_located_and_validation_goes_on() {
    let text = single(Q, "").replace(
        "api_base = \"http://127.0.0.1:9\"",
        "page_size = \"10\"\nfilters = { rxnorm = 617318 }",
    ) + "partition_by = \"day\"\n";
    let errs = errors(&text);
    assert!(
        has(
            &errs,
            3,
            "source.page_size",
            "must be an integer, not string"
        ),
        "{errs:?}"
    );
    assert!(
        has(
            &errs,
            4,
            "source.filters.rxnorm",
            "must be a string, not integer"
        ),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, m)| k == "output.partition_by" && m.contains("must be a list")),
        "{errs:?}"
    );
}

#[test]
fn sparql_syntax_errors_point_into_the_file() {
    // A `"""` string: its first newline is trimmed, so the query's line 2
    // is the file's line 8; an escape before the error shifts the column.
    let text = "[source]\nresource = \"medications\"\n[output]\npath = \"o\"\n[query]\nsparql = \"\"\"\nSELECT ?x\nWHERE { ?x <urn:p> \\\"a\\\" . ?x ?? ?o }\n\"\"\"\n";
    let all = problems(text);
    let p = all
        .iter()
        .find(|p| p.key.as_deref() == Some("query.sparql"))
        .unwrap();
    let (line, col) = query_position(&p.message);
    assert_eq!(line, 2, "{p}");
    // Two escapes (`\"`) before the position: two more characters in the file.
    assert_eq!(p.location, Some((8, col + 2)), "{p}");
    // A literal string: no escapes, the query starts after `sparql = '`.
    let text = "[source]\nresource = \"medications\"\n[output]\npath = \"o\"\n[query]\nsparql = 'SELECT ?x WHERE { ?x ?p ?o . ?x ?? ?o }'\n";
    let p = problems(text)
        .into_iter()
        .find(|p| p.key.as_deref() == Some("query.sparql"))
        .unwrap();
    let (line, col) = query_position(&p.message);
    assert_eq!(line, 1, "{p}");
    assert_eq!(p.location, Some((6, col + "sparql = '".len())), "{p}");
}

/// The query's own line and column from a syntax error message.
fn query_position(message: &str) -> (usize, usize) {
    let rest = message.split("(its line ").nth(1).unwrap();
    let (line, rest) = rest.split_once(", column ").unwrap();
    let col = rest.split(')').next().unwrap();
    (line.parse().unwrap(), col.parse().unwrap())
}

#[test]
fn an_audit_style_literal_template_loads() {
    // `smartsweep audit` builds its plan from a template with a `'''` query.
    let text = "name = \"recall_audit\"\n[source]\nresource = \"medications\"\nfilters = { rxnorm = \"1|2\" }\n[query]\nsparql = '''\nPREFIX sp: <http://smartplatforms.org/terms#>\nSELECT ?title WHERE { ?m sp:drugName ?t . ?t <http://purl.org/dc/terms/title> ?title FILTER(REGEX(STR(?title), \"a\\\\d\", \"i\")) }\n'''\n[output]\npath = \"out/audit-1-2\"\n";
    let plan = load_str(Path::new("(smartsweep audit)"), text, &Overrides::default()).unwrap();
    assert_eq!(plan.name, "recall_audit");
    assert!(
        plan.tables[0].sparql.contains("\"a\\\\d\""),
        "{}",
        plan.tables[0].sparql
    );
    assert_eq!(
        plan.tables[0].filter_params(),
        [("rxnorm".into(), "1|2".into())]
    );
}

#[test]
fn partition_columns_are_checked_per_table() {
    let text = multi(
        &[
            ("a", "medications", ""),
            ("b", "medications", "partition_by = []"),
            ("c", "lab_results", "partition_by = [\"title\"]"),
        ],
        "partition_by = [\"day\"]",
    );
    let plan = load_text(&text).unwrap();
    let lists: Vec<_> = plan.tables.iter().map(|t| t.partition_by.clone()).collect();
    assert_eq!(
        lists,
        [vec!["day".to_string()], vec![], vec!["title".to_string()]]
    );
    assert_eq!(plan.output.partition_by, ["day"]);

    let text = multi(
        &[
            ("a", "medications", ""),
            (
                "b",
                "medications",
                "partition_by = [\"record_id\", \"title\", \"title\"]",
            ),
        ],
        "partition_by = [\"nope\"]",
    )
    .replace("day = \"date\"", "day = \"timestamp\"");
    let errs = errors(&text);
    assert!(
        errs.iter().any(|(_, k, m)| k == "output.partition_by"
            && m.contains("`nope`, which is not a variable of table `a`")),
        "{errs:?}"
    );
    assert!(
        errs.iter().any(|(_, k, m)| k == "tables[1].partition_by"
            && m.contains("cannot partition by `record_id`")),
        "{errs:?}"
    );
    assert!(errs.iter().any(|(_, k, m)| k == "tables[1].partition_by" && m.contains("`title` is listed twice")), "{errs:?}");
    let text = single(Q, "partition_by = [\"day\"]").replace("day = \"date\"", "day = \"float64\"");
    let errs = errors(&text);
    assert!(
        errs.iter()
            .any(|(_, k, m)| k == "output.partition_by" && m.contains("typed `float64`")),
        "{errs:?}"
    );
}

#[test]
fn output_locations_formats_and_codecs() {
    for (path, ok) in [
        ("out/x", true),
        ("file:///tmp/x", true),
        ("s3://bucket/prefix", true),
        ("gs://bucket/p", true),
        ("az://container/p", true),
        ("ftp://user:hunter2@host/x", false),
    ] {
        let text = single(Q, "").replace("path = \"out/x\"", &format!("path = \"{path}\""));
        match load_text(&text) {
            Ok(plan) => assert!(ok, "{path}: {:?}", plan.output.location),
            Err(p) => {
                assert!(!ok, "{path}: {p}");
                let text = p.to_string();
                assert!(text.contains("unknown output scheme `ftp`"), "{text}");
                assert!(!text.contains("hunter2"), "{text}");
                assert!(text.contains("p.toml:12:8 (key `output.path`)"), "{text}");
                assert!(text.contains("hint: use a directory path"), "{text}");
            }
        }
    }
    let plan = load_text(&single(Q, "format = \"delta\"\ncompression = \"snappy\"\n")).unwrap();
    assert_eq!(plan.output.format, crate::load::Format::Delta);
    assert_eq!(plan.output.compression, crate::load::Compression::Snappy);
    let errs = errors(&single(Q, "format = \"csv\"\ncompression = \"snappy\"\n"));
    assert!(
        errs.iter()
            .any(|(_, k, m)| k == "output.compression" && m.contains("not CSV")),
        "{errs:?}"
    );
    // `--format csv` on the command line just ignores the file's codec.
    let o = Overrides {
        format: Some(crate::load::Format::Csv),
        ..Overrides::default()
    };
    let text = single(Q, "compression = \"snappy\"\n");
    assert!(load_str(Path::new("p.toml"), &text, &o).is_ok());
}

#[test]
fn filters_and_paging_follow_what_each_resource_accepts() {
    let text = multi(
        &[
            ("a", "problems", "filters = { loinc = \"1\" }"),
            (
                "b",
                "demographics",
                "page_size = 10\nfilters = { date_from = \"2010\" }",
            ),
            (
                "c",
                "lab_results",
                "filters = { loinc = \"1\", date_to = \"2012\" }",
            ),
        ],
        "",
    );
    let errs = errors(&text);
    assert!(
        errs.iter().any(|(_, k, m)| k == "tables[0].filters.loinc"
            && m.contains("ignores filter `loinc` on `problems`")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, m)| k == "tables[1].page_size"
                && m.contains("`demographics` does not page")),
        "{errs:?}"
    );
    assert!(
        errs.iter()
            .any(|(_, k, _)| k == "tables[1].filters.date_from"),
        "{errs:?}"
    );
    assert!(
        !errs.iter().any(|(_, k, _)| k.starts_with("tables[2]")),
        "{errs:?}"
    );
}

#[test]
fn an_unserved_resource_warns_only_against_the_sandbox() {
    let served = RESOURCES
        .iter()
        .find(|r| crate::sandbox::serves(r))
        .unwrap();
    let Some(unserved) = RESOURCES.iter().find(|r| !crate::sandbox::serves(r)) else {
        return; // the sandbox serves everything: nothing to warn about
    };
    let text = multi(&[("a", served, ""), ("b", unserved, "")], "")
        .replace("[source]\napi_base = \"http://127.0.0.1:9\"\n", "");
    let plan = load_text(&text).unwrap();
    assert_eq!(plan.warnings.len(), 1, "{:?}", plan.warnings);
    let w = plan.warnings_text();
    assert!(
        w.starts_with(&format!(
            "warning: the embedded sandbox does not serve `{unserved}`"
        )),
        "{w}"
    );
    assert!(w.contains("(key `tables[1].resource`)"), "{w}");
    assert!(w.contains("hint: set `api_base`"), "{w}");
    // Against a container, or with --api-base: no warning.
    let o = Overrides {
        api_base: Some("https://smart.example.org".into()),
        ..Overrides::default()
    };
    assert!(
        load_str(Path::new("p.toml"), &text, &o)
            .unwrap()
            .warnings
            .is_empty()
    );
    // With an error too, the warning is listed with it.
    let broken = text.replace("path = \"out/m\"", "path = \"\"");
    let all = problems(&broken);
    assert!(all.iter().any(|p| p.severity == Severity::Warning));
    assert!(all.iter().any(Problem::is_error));
}

#[test]
fn overrides_with_bad_values_are_named_by_their_flag() {
    let o = Overrides {
        api_base: Some("ftp://x".into()),
        output: Some("".into()),
        page_size: Some(0),
        app_id: Some("a/b".into()),
        ..Overrides::default()
    };
    let Err(p) = load_str(Path::new("p.toml"), &single(Q, ""), &o) else {
        panic!("bad overrides accepted")
    };
    let keys: Vec<_> = p.0.iter().filter_map(|p| p.key.clone()).collect();
    for flag in ["--api-base", "--output", "--page-size", "--app-id"] {
        assert!(keys.iter().any(|k| k == flag), "{flag}: {keys:?}");
    }
    assert!(p.0.iter().all(|p| p.location.is_none()));
}

#[test]
fn toml_syntax_errors_are_all_reported() {
    let errs = errors("a = = 1\n[output\npath = \"x\n");
    assert!(errs.len() >= 2, "{errs:?}");
    assert!(
        errs.iter().all(|(_, _, m)| m.starts_with("invalid TOML")),
        "{errs:?}"
    );
    assert_eq!(errs[0].0, 1);
}

#[test]
fn the_hash_changes_with_any_table_and_only_then() {
    let base = multi(&[("a", "medications", ""), ("b", "lab_results", "")], "");
    let h = |text: &str, o: &Overrides| load_str(Path::new("p.toml"), text, o).unwrap().hash();
    let none = Overrides::default();
    let h0 = h(&base, &none);
    assert_eq!(h0, h(&base, &none), "stable");
    // Not part of the hash: comments, the output location, credentials.
    let same = [
        base.replace("[output]", "# note\n[output]"),
        base.replace("path = \"out/m\"", "path = \"elsewhere\""),
        base.replace("[source]\n", "[source]\nconsumer_key = \"other\"\n"),
    ];
    for text in &same {
        assert_eq!(h(text, &none), h0, "{text}");
    }
    // Part of it: anything about any table, the format, the container.
    let changed = [
        base.replacen("name = \"b\"", "name = \"c\"", 1),
        base.replacen("resource = \"lab_results\"", "resource = \"problems\"", 1),
        base.replacen(
            "\nresource = \"lab_results\"\n",
            "\nresource = \"lab_results\"\npage_size = 9\n",
            1,
        ),
        base.replacen(
            "\nresource = \"lab_results\"\n",
            "\nresource = \"lab_results\"\nfilters = { loinc = \"1\" }\n",
            1,
        ),
        base.replacen(
            "\nresource = \"lab_results\"\n",
            "\nresource = \"lab_results\"\npartition_by = [\"title\"]\n",
            1,
        ),
        base.replacen("day = \"date\"", "day = \"string\"", 1),
        base.replacen("?title ?day WHERE", "?day ?title WHERE", 1),
        base.replace("path = \"out/m\"", "path = \"out/m\"\nformat = \"csv\""),
        base.replace("http://127.0.0.1:9", "http://127.0.0.1:10"),
    ];
    let mut seen = std::collections::HashSet::from([h0.clone()]);
    for text in &changed {
        let hx = h(text, &none);
        assert!(seen.insert(hx), "same hash for:\n{text}");
    }
    // A different page size from the command line is a different run.
    let o = Overrides {
        page_size: Some(3),
        ..Overrides::default()
    };
    assert_ne!(h(&base, &o), h0);
}

#[test]
fn the_hash_of_a_shipped_pipeline_is_pinned() {
    // A change to what the hash covers makes every unfinished output
    // unresumable ("changed pipeline"): it must be deliberate. This is
    // drug_names.toml's hash since checkpoints became version 2 (adding
    // `partition_by` left unpartitioned plans' hashes as they were).
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/pipelines/drug_names.toml"
    ))
    .unwrap();
    let plan = load_str(
        Path::new("pipelines/drug_names.toml"),
        &text,
        &Overrides::default(),
    )
    .unwrap();
    assert_eq!(
        plan.hash(),
        "d6dbe78c32b0a429e923be54981a6247637df39fb08e52836d3e04f8ec1bd42a"
    );
}

#[test]
fn the_resource_table_matches_the_resource_list() {
    let names: Vec<_> = RESOURCE_TABLE.iter().map(|r| r.name).collect();
    assert_eq!(names, RESOURCES);
    let meds = Resource::named("medications").unwrap();
    assert!(meds.accepts_filter("rxnorm") && meds.accepts_filter("date_to_excluding"));
    assert!(!meds.accepts_filter("loinc"));
    assert!(
        Resource::named("demographics")
            .unwrap()
            .filters()
            .is_empty()
    );
    for r in RESOURCE_TABLE {
        if let Some(f) = r.code_filter {
            assert!(FILTERS.contains(&f), "{f}");
        }
    }
}
