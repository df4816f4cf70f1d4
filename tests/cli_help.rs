//! Snapshot tests of `--help` for every command and of the main error
//! messages. A snapshot is the exact text under `tests/snapshots/`; after an
//! intended change, regenerate with `UPDATE_SNAPSHOTS=1 cargo test --test cli_help`
//! and review the diff.

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::path::PathBuf;
use std::process::Command;

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartsweep"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("SMARTSWEEP_CONSUMER_SECRET");
    c.env("COLUMNS", "100");
    c
}

fn snapshot(name: &str, actual: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.txt"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, actual).expect("write snapshot");
        return;
    }
    let expected = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!(
            "no snapshot {}: run UPDATE_SNAPSHOTS=1 cargo test --test cli_help",
            path.display()
        )
    });
    assert_eq!(
        expected, actual,
        "snapshot {name} differs; if intended, regenerate with UPDATE_SNAPSHOTS=1"
    );
}

fn run(args: &[&str]) -> (i32, String, String) {
    let out = bin().args(args).output().expect("run smartsweep");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[test]
fn help_of_every_command_is_stable_and_has_an_example() {
    for (name, args) in [
        ("help_main", vec!["--help"]),
        ("help_run", vec!["run", "--help"]),
        ("help_validate", vec!["validate", "--help"]),
        ("help_preview", vec!["preview", "--help"]),
        ("help_audit", vec!["audit", "--help"]),
        ("help_sandbox", vec!["sandbox", "--help"]),
        ("help_report", vec!["report", "--help"]),
        ("help_verify", vec!["verify", "--help"]),
        ("help_status", vec!["status", "--help"]),
        ("help_plan", vec!["plan", "--help"]),
        ("help_commit", vec!["commit", "--help"]),
    ] {
        let (code, stdout, _) = run(&args);
        assert_eq!(code, 0, "{args:?}");
        assert!(
            stdout.contains("Examples:"),
            "{name}: --help has no worked example"
        );
        snapshot(name, &stdout);
    }
}

#[test]
fn usage_errors_exit_2_in_one_style() {
    let (code, _, stderr) = run(&["run", "pipelines/no_such_pipeline.toml"]);
    assert_eq!(code, 2);
    snapshot("error_missing_pipeline", &stderr);

    let (code, _, stderr) = run(&["audit", "--rxnorm", "12x"]);
    assert_eq!(code, 2);
    snapshot("error_bad_rxnorm", &stderr);

    let (code, _, stderr) = run(&["run", "pipelines/drug_names.toml", "--max-failed", "lots"]);
    assert_eq!(code, 2);
    snapshot("error_bad_max_failed", &stderr);

    let (code, _, stderr) = run(&[
        "run",
        "pipelines/drug_names.toml",
        "--api-base",
        "http://127.0.0.1:9",
    ]);
    assert_eq!(code, 2, "a missing secret is found before any network call");
    snapshot("error_missing_secret", &stderr);
}
