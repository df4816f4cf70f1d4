//! `smartsweep status` end to end: an aborted run's committed records,
//! rows, parts, watermark, failures and rate from its checkpoint, as text
//! and as one JSON object; a run holding the output is told apart from a
//! stopped one; a finished output reads from its manifest. Also
//! `smartsweep report` on the same outputs.

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use std::fs;
use std::path::Path;

fn status_json(out: &Path) -> serde_json::Value {
    let o = bin()
        .args(["status", "--json"])
        .arg(out)
        .output()
        .expect("status");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert_eq!(stdout.lines().count(), 1, "one JSON object: {stdout}");
    serde_json::from_str(&stdout).expect("status --json is JSON")
}

fn checkpoint(out: &Path) -> serde_json::Value {
    serde_json::from_slice(&fs::read(out.join("_checkpoint.json")).unwrap()).unwrap()
}

/// An output left by a run that aborted (`--max-failed`) after commits.
fn aborted(out: &Path) {
    let mut cfg = config(300, 4);
    cfg.malformed_rate = 0.3;
    let sb = Sandbox::start(cfg);
    let o = run(
        "pipelines/drug_names.toml",
        &sb.api_base,
        out,
        &["--max-failed", "20", "--part-records", "10"],
    );
    sb.stop();
    assert_eq!(code(&o), 1, "{}", text(&o));
}

#[test]
fn status_of_a_stopped_run_comes_from_its_checkpoint() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    aborted(&out);
    let before = fs::read(out.join("_checkpoint.json")).unwrap();
    let cp = checkpoint(&out);
    let s = status_json(&out);
    assert_eq!(s["state"], "stopped", "{s:#}");
    assert_eq!(s["held"], false);
    assert_eq!(s["records"], cp["records"]);
    assert_eq!(s["run_id"], cp["run_id"]);
    let rows: u64 = cp["tables"]
        .as_object()
        .unwrap()
        .values()
        .map(|t| t["rows"].as_u64().unwrap())
        .sum();
    assert_eq!(s["rows"].as_u64(), Some(rows));
    assert!(s["parts"].as_u64().unwrap() >= 1, "{s:#}");
    assert_eq!(s["chains"][0]["watermark"], cp["chains"][0]["watermark"]);
    assert!(s["chains"][0]["watermark"].is_string(), "{s:#}");
    let failed = cp["failures"].as_array().unwrap().len();
    assert_eq!(s["failed"].as_u64(), Some(failed as u64));
    assert_eq!(s["failures"].as_array().unwrap().len(), failed.min(5));
    assert!(s["rate"]["records_per_s"].as_f64().unwrap() > 0.0, "{s:#}");
    assert!(
        s["rate"]["recent_records_per_s"].as_f64().is_some(),
        "{s:#}"
    );

    let o = bin().arg("status").arg(&out).output().expect("status");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let t = String::from_utf8_lossy(&o.stdout);
    assert!(t.contains("unfinished: no run holds it"), "{t}");
    let mark = cp["chains"][0]["watermark"].as_str().unwrap();
    assert!(t.contains(&format!("watermark `{mark}`")), "{t}");
    assert!(t.contains(&format!("failures so far: {failed}")), "{t}");
    assert!(t.contains("records/s"), "{t}");
    let after = fs::read(out.join("_checkpoint.json")).unwrap();
    assert!(after == before, "status never writes");
}

#[test]
fn a_run_holding_the_output_is_reported_as_running() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    aborted(&out);
    // What a run does while it writes: an exclusive flock on the directory.
    let lock = fs::File::open(&out).unwrap();
    lock.lock().unwrap();
    let s = status_json(&out);
    assert_eq!(s["state"], "running", "{s:#}");
    assert_eq!(s["held"], true);
    let o = bin()
        .args(["report", "--to", "-"])
        .arg(&out)
        .output()
        .expect("report");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let html = String::from_utf8_lossy(&o.stdout);
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    assert!(html.contains("A run is writing this output right now"));
    lock.unlock().unwrap();
    assert_eq!(status_json(&out)["state"], "stopped");
}

#[test]
fn status_and_report_of_a_finished_output_come_from_its_manifest() {
    let sb = Sandbox::start(config(60, 3));
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let o = run("pipelines/drug_names.toml", &sb.api_base, &out, &[]);
    sb.stop();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let m = manifest(&out);
    let s = status_json(&out);
    assert_eq!(s["state"], "finished", "{s:#}");
    assert_eq!(s["status"], "complete");
    assert_eq!(s["records"], m["records"]);
    assert_eq!(s["rows"], m["rows"]);
    assert_eq!(s["failed"], 0);

    // `report` rewrites exactly what the run wrote.
    let written = fs::read(out.join("_report.html")).expect("the run wrote its report");
    let again = tmp.path().join("again.html");
    let o = bin()
        .arg("report")
        .arg(&out)
        .arg("--to")
        .arg(&again)
        .output()
        .expect("report");
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(fs::read(&again).unwrap(), written);
    fs::remove_file(out.join("_report.html")).unwrap();
    let o = bin().arg("report").arg(&out).output().expect("report");
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("_report.html` (finished run"));
    assert_eq!(fs::read(out.join("_report.html")).unwrap(), written);
}

#[test]
fn report_of_a_stopped_run_is_marked_unfinished() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    aborted(&out);
    let o = bin().arg("report").arg(&out).output().expect("report");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let html = fs::read_to_string(out.join("_report.html")).unwrap();
    assert!(html.contains("stopped (interrupted or aborted)"), "{html}");
    assert!(html.contains("Built from <code>_checkpoint.json</code>"));
    assert!(html.contains("data-chart=\"failures\""));
}
