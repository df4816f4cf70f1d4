//! The run report in a real browser: a run against a sandbox that injects
//! every kind of fault writes `_report.html`; headless Chromium loads it
//! with the network shut (tests/interop/check_report.mjs, DevTools protocol
//! over a pipe) and every chart must draw, with no console or page error
//! and no request but the file itself. The checker is shown to fail on a
//! report that loads something, hides its marks or runs a script.
//!
//! Needs `node` and Chromium (`apt-get install chromium`; or
//! SMARTSWEEP_CHROMIUM=path). Without them the tests skip, saying so,
//! except under CI=true or SMARTSWEEP_REQUIRE_INTEROP=1, where they fail.
//!
//! `SMARTSWEEP_UPDATE_SCREENSHOT=1` also writes the faulty run's screenshot
//! to `docs/report-faulty-run.png` (the README shows it).

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

fn chromium() -> PathBuf {
    std::env::var_os("SMARTSWEEP_CHROMIUM")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/usr/bin/chromium"))
}

fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true")
        || std::env::var("SMARTSWEEP_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// True when a browser check can run; otherwise skips (or fails in CI).
fn browser_available() -> bool {
    let node = Command::new("node")
        .arg("--version")
        .output()
        .is_ok_and(|o| o.status.success());
    let chrome = chromium().exists();
    if node && chrome {
        return true;
    }
    let missing = match (node, chrome) {
        (false, false) => "node and Chromium",
        (false, true) => "node",
        _ => "Chromium",
    };
    assert!(
        !required(),
        "{missing} missing, and CI=true or SMARTSWEEP_REQUIRE_INTEROP=1 requires the browser test (.ci/run installs Chromium)"
    );
    eprintln!(
        "SKIPPED: {missing} not found; `apt-get install chromium` (or set SMARTSWEEP_CHROMIUM) to run the browser test"
    );
    false
}

/// Runs the checker on `html`: whether it passed, and what it printed.
fn check(html: &Path, expect: &[&str], screenshot: Option<&Path>) -> (bool, serde_json::Value) {
    let mut c = Command::new("node");
    c.arg(manifest_dir().join("tests/interop/check_report.mjs"))
        .arg(html)
        .env("SMARTSWEEP_CHROMIUM", chromium());
    if !expect.is_empty() {
        c.arg("--expect").arg(expect.join(","));
    }
    if let Some(p) = screenshot {
        c.arg("--screenshot").arg(p);
    }
    let o = c.output().expect("run node");
    let stdout = String::from_utf8_lossy(&o.stdout);
    let json: serde_json::Value = serde_json::from_str(stdout.trim()).unwrap_or_else(|_| {
        panic!(
            "the checker printed no JSON: {stdout}\n{}",
            String::from_utf8_lossy(&o.stderr)
        )
    });
    (o.status.success(), json)
}

fn faulty_config() -> smartsweep::sandbox::SandboxConfig {
    let mut cfg = config(400, 21);
    cfg.data_latency = Duration::from_millis(15);
    with_every_fault(cfg)
}

#[test]
fn a_faulty_runs_report_draws_every_chart_offline() {
    if !browser_available() {
        return;
    }
    let sb = Sandbox::start(faulty_config());
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("faulty");
    let o = run(
        "pipelines/medications.toml",
        &sb.api_base,
        &out,
        &retry_hard("20"),
    );
    sb.stop();
    assert_eq!(code(&o), 3, "{}", text(&o));
    let html = out.join("_report.html");
    let page = std::fs::read_to_string(&html).expect("the run wrote _report.html");
    assert!(page.contains("complete with failures"));

    let shot = tmp.path().join("report.png");
    let expect = [
        "rate-records",
        "rate-rows",
        "stages",
        "latency-cursor",
        "latency-data",
        "retries",
        "failures",
        "slowest",
    ];
    let (ok, seen) = check(&html, &expect, Some(&shot));
    assert!(ok, "the report did not draw cleanly: {seen:#}");
    let requests = seen["requests"].as_array().expect("requests");
    assert_eq!(requests.len(), 1, "only the file itself: {requests:?}");
    let png = std::fs::read(&shot).expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    if std::env::var_os("SMARTSWEEP_UPDATE_SCREENSHOT").is_some() {
        std::fs::write(manifest_dir().join("docs/report-faulty-run.png"), &png).expect("docs");
    }

    // The checker itself can fail: a report that loads something, hides its
    // marks, or runs a script.
    for (name, from, to, why) in [
        (
            "loads",
            "</main>",
            "<img src=\"https://example.org/x.png\"></main>",
            "asked for",
        ),
        (
            "hidden",
            "</style>",
            ".mark{visibility:hidden}</style>",
            "no mark colour",
        ),
        (
            "script",
            "</main>",
            "<script>throw new Error('boom')</script></main>",
            "Content Security Policy",
        ),
    ] {
        let bad = tmp.path().join(format!("{name}.html"));
        std::fs::write(&bad, page.replacen(from, to, 1)).expect("write");
        let (ok, seen) = check(&bad, &[], None);
        assert!(!ok, "{name}: the checker passed a broken report");
        assert!(
            seen["problems"].to_string().contains(why),
            "{name}: {seen:#}"
        );
    }
}

#[test]
fn an_aborted_runs_report_is_marked_unfinished_and_draws() {
    if !browser_available() {
        return;
    }
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let o = flood_run(&out, "5");
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(out.join("_checkpoint.json").exists());
    let html = out.join("_report.html");
    let page = std::fs::read_to_string(&html).expect("an aborted run writes _report.html");
    assert!(page.contains("unfinished: aborted"), "not marked");
    assert!(page.contains("--max-failed"), "the reason is not shown");
    let (ok, seen) = check(&html, &["failures", "latency-data"], None);
    assert!(ok, "{seen:#}");
}
