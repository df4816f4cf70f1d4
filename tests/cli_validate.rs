//! `smartsweep validate`: every shipped pipeline is valid; every broken one
//! is refused with exit 2 and each problem located (file, line, key).

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

#[test]
fn shipped_pipelines_validate() {
    let (code, stdout, stderr) = validate(&[
        "pipelines/drug_names.toml",
        "pipelines/medications.toml",
        "pipelines/fulfillments.toml",
        "pipelines/recall_audit.toml",
    ]);
    assert_eq!(code, 0, "{stderr}");
    assert_eq!(stdout.matches("ok: ").count(), 4, "{stdout}");
}

#[test]
fn unknown_key_is_located() {
    let (code, _, err) = validate(&["tests/data/broken/unknown_key.toml"]);
    assert_eq!(code, 2);
    assert!(err.contains("unknown field `api_bsae`"), "{err}");
    assert!(
        err.contains("tests/data/broken/unknown_key.toml:3:"),
        "{err}"
    );
    assert!(err.contains("hint:"), "{err}");
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
    assert!(err.contains("missing field `output`"), "{err}");
    assert!(
        err.contains("2 of 3 pipeline file(s) have problems"),
        "{err}"
    );
}
