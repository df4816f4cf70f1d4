//! Delta Lake output and Hive partitioning end to end, read back by
//! independent readers (the `deltalake` Python package, DuckDB, pyarrow:
//! `tests/interop/read_storage.py`) and compared with a local Parquet run
//! of the same pipeline.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod storage_common;

use common::*;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use storage_common::*;

const PIPELINE: &str = "pipelines/medications.toml";

fn readers() -> bool {
    have_python_module("deltalake") && have_python_module("duckdb") && have_python_module("pyarrow")
}

/// `read_storage.py ARGS...`: its JSON line (panics with its stderr on a
/// failed comparison).
fn read_back(args: &[&str], env: Option<&str>) -> serde_json::Value {
    let mut c = Command::new("python3");
    c.arg(manifest_dir().join("tests/interop/read_storage.py"))
        .args(args);
    if let Some(endpoint) = env {
        s3_env(&mut c, endpoint);
    }
    let o = c.output().expect("python3");
    assert!(
        o.status.success(),
        "read_storage.py {args:?} failed:\n{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice(&o.stdout).expect("json line")
}

fn clean(sb: &Sandbox, dir: &Path, args: &[&str]) {
    let o = run(PIPELINE, &sb.api_base, dir, args);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

#[test]
fn delta_runs_commit_once_per_run_key_append_and_overwrite() {
    if !readers() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let sb = Sandbox::start(config(200, 21));
    let want = tmp.path().join("want");
    clean(&sb, &want, &["--part-records", "30"]);
    let table = tmp.path().join("table");
    let t = table.to_string_lossy().into_owned();
    let w = want.to_string_lossy().into_owned();
    let delta = |key: &str, extra: &[&str]| {
        let mut args = vec![
            "--format",
            "delta",
            "--part-records",
            "30",
            "--run-key",
            key,
        ];
        args.extend_from_slice(extra);
        run(PIPELINE, &sb.api_base, &table, &args)
    };

    let o = delta("2026-12-01", &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = read_back(&["delta", &t, &w], None);
    assert_eq!(r["version"], 0);
    let m: serde_json::Value = serde_json::from_slice(
        &std::fs::read(table.join("_smartsweep/2026-12-01/_manifest.json")).expect("manifest"),
    )
    .expect("json");
    assert_eq!(m["run_key"], "2026-12-01");
    assert_eq!(m["rows"], r["rows"]);
    let log =
        std::fs::read_to_string(table.join("_delta_log/00000000000000000000.json")).expect("log");
    assert!(
        log.contains("\"appId\":\"smartsweep/medications/2026-12-01\""),
        "{log}"
    );

    // A retried scheduler task: nothing is added.
    let o = delta("2026-12-01", &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(stdout(&o).contains("already finished"), "{}", text(&o));
    assert_eq!(read_back(&["delta", &t, &w], None)["version"], 0);
    // --fresh cannot undo a commit.
    let o = delta("2026-12-01", &["--fresh"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("cannot be undone"), "{}", text(&o));

    // A new key appends: twice the rows; the table at version 0 is the first run.
    let o = delta("2026-12-02", &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let twice = tmp.path().join("twice");
    std::fs::create_dir_all(&twice).unwrap();
    for (i, p) in parts(&want, "parquet").iter().enumerate() {
        std::fs::copy(p, twice.join(format!("a{i}.parquet"))).unwrap();
        std::fs::copy(p, twice.join(format!("b{i}.parquet"))).unwrap();
    }
    let r = read_back(&["delta", &t, &twice.to_string_lossy()], None);
    assert_eq!(r["version"], 1);
    read_back(&["delta", &t, &w, "0"], None);

    // Overwrite: one commit replaces the contents; version 1 stays readable.
    let o = delta("2026-12-03", &["--mode", "overwrite"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = read_back(&["delta", &t, &w], None);
    assert_eq!(r["version"], 2);
    assert_eq!(r["history"][0], "WRITE");
    read_back(&["delta", &t, &twice.to_string_lossy(), "1"], None);
    sb.stop();
}

#[test]
fn kill_9_during_delta_runs_then_resume_commits_exactly_once() {
    if !readers() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let mut cfg = config(300, 23);
    cfg.data_latency = Duration::from_millis(2);
    let sb = Sandbox::start(cfg);
    let args = ["--part-records", "13", "--concurrency", "8"];
    let want = tmp.path().join("want");
    let ((), whole) = timed(|| clean(&sb, &want, &args));
    let table = tmp.path().join("table");
    // No --run-key: a resume adopts the unfinished run's key.
    let all: Vec<&str> = args.iter().copied().chain(["--format", "delta"]).collect();
    let kills = kill_until_done(
        || run_cmd(PIPELINE, &sb.api_base, &table, &all),
        whole,
        5,
        |_| {},
    );
    assert!(kills >= 2, "only {kills} kills");
    let r = read_back(
        &["delta", &table.to_string_lossy(), &want.to_string_lossy()],
        None,
    );
    assert_eq!(r["version"], 0, "one commit: {r}");
    sb.stop();
}

/// A run through the library with `partition_by` set on the plan (as the
/// pipeline loader sets it from `[output] partition_by`).
fn run_partitioned(api_base: &str, out: &Path, format: smartsweep::load::Format) {
    use smartsweep::engine::{RunConfig, Shutdown, Source};
    use smartsweep::load::destination::DestinationOptions;
    let overrides = smartsweep::pipeline::Overrides {
        api_base: Some(api_base.to_owned()),
        output: Some(out.to_string_lossy().into_owned()),
        format: Some(format),
        ..Default::default()
    };
    let mut plan =
        smartsweep::pipeline::load(&manifest_dir().join(PIPELINE), &overrides).expect("plan");
    plan.output.partition_by = vec!["frequency_unit".into()];
    for t in &mut plan.tables {
        t.partition_by = plan.output.partition_by.clone();
    }
    let dest = DestinationOptions {
        pipeline: plan.name.clone(),
        partition_by: plan.output.partition_by.clone(),
        tables: plan
            .tables
            .iter()
            .map(|t| (t.dir.clone(), t.projection.schema()))
            .collect(),
        run_key: Some("2026-12-04".into()),
        ..Default::default()
    };
    let mut cfg = RunConfig::new(plan, client_config(api_base), Source::Cursor);
    cfg.destination = dest;
    cfg.part_records = 40;
    let rt = runtime();
    let report = rt
        .block_on(smartsweep::engine::run(
            cfg,
            std::sync::Arc::new(smartsweep::progress::Silent),
            Shutdown::never(),
        ))
        .expect("run");
    assert_eq!(report.outcome, smartsweep::engine::Outcome::Complete);
}

#[test]
fn partition_by_writes_hive_directories_for_parquet_and_delta() {
    if !readers() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let sb = Sandbox::start(config(200, 31));
    let want = tmp.path().join("want");
    clean(&sb, &want, &["--part-records", "40"]);
    let w = want.to_string_lossy().into_owned();

    let pq = tmp.path().join("parquet");
    run_partitioned(&sb.api_base, &pq, smartsweep::load::Format::Parquet);
    let mut dirs: Vec<String> = std::fs::read_dir(&pq)
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    dirs.sort();
    assert!(dirs.contains(&"frequency_unit=%2Fd".to_owned()), "{dirs:?}");
    assert!(
        dirs.contains(&"frequency_unit=__HIVE_DEFAULT_PARTITION__".to_owned()),
        "{dirs:?}"
    );
    // The partition column is in the directory names, not in the files.
    let part = parts(&pq.join("frequency_unit=%2Fd"), "parquet");
    let b = read_parquet(&part[0]);
    assert!(b[0].schema().column_with_name("frequency_unit").is_none());
    let m = manifest(&pq);
    assert!(
        m["parts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["partition"][0] == serde_json::json!(["frequency_unit", "/d"]))
    );
    // Remove the (unpartitioned) empty parts' absence check: every row is there.
    read_back(&["hive", &pq.to_string_lossy(), &w], None);

    let dl = tmp.path().join("delta");
    run_partitioned(&sb.api_base, &dl, smartsweep::load::Format::Delta);
    let r = read_back(&["delta", &dl.to_string_lossy(), &w], None);
    assert_eq!(r["version"], 0);
    let log = std::fs::read_to_string(dl.join("_delta_log/00000000000000000000.json")).unwrap();
    assert!(
        log.contains("\"partitionColumns\":[\"frequency_unit\"]"),
        "{log}"
    );
    assert!(log.contains("\"frequency_unit\":null"), "{log}");
    sb.stop();
}

#[test]
fn delta_on_s3_and_parquet_on_s3_read_back_by_independent_readers() {
    if !readers() {
        return;
    }
    let Some(moto) = Moto::start(&["lake"]) else {
        return;
    };
    let tmp = tempfile::tempdir().expect("tmp");
    let sb = Sandbox::start(config(200, 41));
    let want = tmp.path().join("want");
    clean(&sb, &want, &["--part-records", "50"]);
    let w = want.to_string_lossy().into_owned();
    let endpoint = moto.endpoint();

    let mut c = run_cmd(
        PIPELINE,
        &sb.api_base,
        Path::new("s3://lake/tables/medications"),
        &[
            "--format",
            "delta",
            "--part-records",
            "50",
            "--run-key",
            "2026-12-04",
        ],
    );
    s3_env(&mut c, &endpoint);
    let o = c.output().expect("run");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = read_back(
        &["delta", "s3://lake/tables/medications", &w],
        Some(&endpoint),
    );
    assert_eq!(r["version"], 0);
    let store = s3(&endpoint, "lake");
    assert!(get(&store, "tables/medications/_smartsweep/2026-12-04/_SUCCESS").is_some());

    let mut c = run_cmd(
        PIPELINE,
        &sb.api_base,
        Path::new("s3://lake/parquet/medications"),
        &["--part-records", "50"],
    );
    s3_env(&mut c, &endpoint);
    let o = c.output().expect("run");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = read_back(
        &["s3parquet", &endpoint, "lake/parquet/medications", &w],
        Some(&endpoint),
    );
    assert!(r["rows"].as_u64().unwrap() > 100);
    sb.stop();
}
