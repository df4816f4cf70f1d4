//! `smartsweep validate`: every shipped pipeline is valid; every broken one
//! is refused with exit 2 and each problem located (file, line, key).

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::process::Command;

fn validate(files: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_smartsweep"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .arg("validate")
        .args(files)
        .output()
        .expect("run smartsweep validate");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn validate_paths(files: &[std::path::PathBuf]) -> (i32, String, String) {
    let names: Vec<&str> = files
        .iter()
        .map(|p| p.to_str().expect("utf-8 path"))
        .collect();
    validate(&names)
}

/// Writes `text` to `<dir>/<name>` and returns the path.
fn write(dir: &std::path::Path, name: &str, text: &str) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, text).expect("write pipeline");
    p
}

/// One `error:` block of stderr that contains every one of `words`.
fn block<'a>(err: &'a str, words: &[&str]) -> Option<&'a str> {
    err.split("error: ")
        .find(|b| words.iter().all(|w| b.contains(w)))
}

#[test]
fn shipped_pipelines_validate() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("pipelines/")
        .map(|e| e.expect("entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "toml"))
        .collect();
    files.sort();
    assert!(files.len() >= 5, "{files:?}");
    let (code, stdout, stderr) = validate_paths(&files);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.matches("ok: ").count(), files.len(), "{stdout}");
    assert!(!stderr.contains("error:"), "{stderr}");
}

#[test]
fn unknown_key_is_located() {
    let (code, _, err) = validate(&["tests/data/broken/unknown_key.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown key `api_bsae` in [source]"), "{err}");
    assert!(
        err.contains("tests/data/broken/unknown_key.toml:3:1 (key `source.api_bsae`)"),
        "{err}"
    );
    assert!(err.contains("hint: did you mean `api_base`?"), "{err}");
}

#[test]
fn an_unknown_key_and_a_broken_query_are_both_reported_and_nothing_is_requested() {
    // The pipeline names a container that records any connection.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    listener.set_nonblocking(true).expect("nonblocking");
    let port = listener.local_addr().expect("addr").port();
    let tmp = tempfile::tempdir().expect("tmp");
    let text = format!(
        r#"name = "both"

[source]
resource = "medications"
api_base = "http://127.0.0.1:{port}"
app_idd = "x@apps.example.org"

[query]
sparql = """
PREFIX sp: <http://smartplatforms.org/terms#>
SELECT ?title
WHERE {{ ?m sp:drugName ?dn . ?dn ?? ?title }}
"""

[output]
path = "out/both"
"#
    );
    let file = write(tmp.path(), "both.toml", &text);
    let (code, stdout, err) = validate_paths(std::slice::from_ref(&file));
    assert_eq!(code, 2, "{stdout}{err}");
    let f = file.display().to_string();
    let unknown = block(
        &err,
        &[
            "unknown key `app_idd` in [source]",
            "(key `source.app_idd`)",
        ],
    )
    .unwrap_or_else(|| panic!("no unknown-key error in:\n{err}"));
    assert!(unknown.contains(&format!("{f}:6:1 ")), "{unknown}");
    assert!(unknown.contains("did you mean `app_id`?"), "{unknown}");
    let query = block(
        &err,
        &["the query is not valid SPARQL", "(key `query.sparql`)"],
    )
    .unwrap_or_else(|| panic!("no SPARQL error in:\n{err}"));
    // The query's line 3 is the file's line 12 (`"""` drops its first newline).
    assert!(query.contains("(its line 3, column "), "{query}");
    assert!(query.contains(&format!("{f}:12:")), "{query}");
    assert!(query.contains("hint:"), "{query}");
    match listener.accept() {
        Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {}
        other => panic!("validate connected to the container: {other:?}"),
    }
}

#[test]
fn multi_table_mistakes_are_each_located() {
    let tmp = tempfile::tempdir().expect("tmp");
    let q = "[tables.query]\nsparql = 'SELECT ?x WHERE { ?x ?p ?o }'\n";
    let text = format!(
        "name = \"multi\"\n\n[query]\nsparql = 'SELECT ?x WHERE {{ ?x ?p ?o }}'\n\n[output]\npath = \"out/multi\"\n\n\
         [[tables]]\nname = \"meds\"\nresource = \"medications\"\n{q}\n\
         [[tables]]\nname = \"meds\"\nresource = \"medications\"\n{q}\n\
         [[tables]]\nname = \"my table\"\nresource = \"medications\"\n{q}"
    );
    let file = write(tmp.path(), "multi.toml", &text);
    let (code, _, err) = validate_paths(std::slice::from_ref(&file));
    assert_eq!(code, 2, "{err}");
    let f = file.display().to_string();
    for (line, key, words) in [
        (3, "query", "a `[[tables]]` file has a top-level [query]"),
        (
            16,
            "tables[1].name",
            "table name `meds` is used twice (also on line 10)",
        ),
        (
            22,
            "tables[2].name",
            "table name `my table` is not a plain name",
        ),
    ] {
        let b = block(&err, &[words, &format!("(key `{key}`)")])
            .unwrap_or_else(|| panic!("no `{words}` in:\n{err}"));
        assert!(b.contains(&format!("{f}:{line}:")), "line {line}: {b}");
        assert!(b.contains("hint:"), "{b}");
    }
}

#[test]
fn an_unknown_output_scheme_is_located_without_its_credentials() {
    let tmp = tempfile::tempdir().expect("tmp");
    let text = "[source]\nresource = \"medications\"\n[query]\nsparql = 'SELECT ?x WHERE { ?x ?p ?o }'\n[output]\npath = \"ftp://user:hunter2@example.org/exports?sig=s3cr3t\"\n";
    let file = write(tmp.path(), "ftp.toml", text);
    let (code, _, err) = validate_paths(std::slice::from_ref(&file));
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("unknown output scheme `ftp`"), "{err}");
    assert!(
        err.contains(&format!("{}:6:8 (key `output.path`)", file.display())),
        "{err}"
    );
    assert!(
        err.contains("hint: use a directory path, `file://`, `s3://"),
        "{err}"
    );
    assert!(!err.contains("hunter2") && !err.contains("s3cr3t"), "{err}");
}

#[test]
fn every_problem_is_reported_at_once_with_its_line_and_key() {
    let (code, _, err) = validate(&["tests/data/broken/many_problems.toml"]);
    assert_eq!(code, 2);
    let f = "tests/data/broken/many_problems.toml";
    for (line, key, words) in [
        (1, "name", "`bad name!`"),
        (4, "source.resource", "unknown resource `medication`"),
        (5, "source.api_base", "`ftp://example.org`"),
        (6, "source.page_size", "page size `0`"),
        (7, "source.filters.limit", "unknown filter `limit`"),
        (
            7,
            "source.filters.rxnorm",
            "filter `rxnorm` has an empty value",
        ),
        (16, "columns.title", "`text` is not a column type"),
        (17, "columns.start_date", "not a variable of the SELECT"),
        (20, "output.format", "unknown output format `xlsx`"),
    ] {
        let needle = format!("{f}:{line}:");
        let found = err.split("error: ").any(|block| {
            block.contains(&needle)
                && block.contains(&format!("(key `{key}`)"))
                && block.contains(words)
        });
        assert!(
            found,
            "no problem `{words}` at {needle} key {key} in:\n{err}"
        );
    }
    // start_date is declared but the query has no such variable.
    assert!(err.contains("start_date"), "{err}");
    assert!(err.matches("hint:").count() >= 9, "{err}");
}

#[test]
fn construct_is_refused_with_a_clear_message() {
    let (code, _, err) = validate(&["tests/data/broken/construct.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("CONSTRUCT"), "{err}");
    assert!(err.contains("SELECT"), "{err}");
    assert!(err.contains("construct.toml:5:"), "{err}");
}

#[test]
fn toml_syntax_and_missing_tables_are_located() {
    let (code, _, err) = validate(&[
        "tests/data/broken/syntax.toml",
        "tests/data/broken/missing_output.toml",
        "pipelines/drug_names.toml",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("syntax.toml:"), "{err}");
    assert!(err.contains("the pipeline has no [output] table"), "{err}");
    assert!(
        err.contains("2 of 3 pipeline file(s) have problems"),
        "{err}"
    );
}
