//! The engine end to end: the binary against an in-process sandbox, killed
//! (SIGKILL and SIGTERM) at random moments and resumed until done. Whatever
//! happens, the rows must equal those of an uninterrupted run, in order.

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use smartsweep::sandbox::SandboxConfig;
use std::path::Path;
use std::time::{Duration, Instant};

fn no_leftovers(dir: &Path) {
    for e in std::fs::read_dir(dir).expect("dir") {
        let name = e.expect("entry").file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".inprogress"), "left {name}");
        assert!(!name.ends_with(".tmp"), "left {name}");
    }
    assert!(dir.join("_SUCCESS").exists());
    assert!(!dir.join("_checkpoint.json").exists());
}

#[test]
fn kill_9_at_random_moments_then_resume_gives_the_rows_of_an_uninterrupted_run() {
    let mut cfg = config(400, 7);
    cfg.data_latency = Duration::from_millis(2);
    cfg.cursor_latency = Duration::from_millis(1);
    let sb = Sandbox::start(cfg);
    let tmp = tempfile::tempdir().expect("tmp");
    let args = ["--part-records", "13", "--concurrency", "8"];

    let clean = tmp.path().join("clean");
    let (o, whole) = timed(|| run("pipelines/medications.toml", &sb.api_base, &clean, &args));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let expected = rows(&clean);
    assert!(
        expected.len() > 400,
        "implausibly few rows: {}",
        expected.len()
    );

    let out = tmp.path().join("killed");
    let kills = kill_until_done(
        || run_cmd("pipelines/medications.toml", &sb.api_base, &out, &args),
        whole,
        42,
        |_| {},
    );
    assert!(
        kills >= 2,
        "only {kills} kills: the test did not interrupt anything"
    );
    assert_eq!(rows(&out), expected, "rows differ after {kills} kills");
    no_leftovers(&out);
    let m = manifest(&out);
    assert_eq!(m["records"], 400);
    // Type-conversion counts (partial dates such as `2007`) are exactly once too.
    let clean_conversions = &manifest(&clean)["conversions"];
    assert!(
        clean_conversions["start_date"]["count"]
            .as_u64()
            .unwrap_or(0)
            > 0
    );
    assert_eq!(&m["conversions"], clean_conversions);
    assert_eq!(m["rows"].as_u64(), Some(expected.len() as u64));
    sb.stop();
}

#[test]
fn known_ids_mode_survives_kills_too_and_keeps_the_file_order() {
    let mut cfg = config(300, 11);
    cfg.data_latency = Duration::from_millis(2);
    let ids = smartsweep::sandbox::record_ids(&cfg);
    let sb = Sandbox::start(cfg);
    let tmp = tempfile::tempdir().expect("tmp");
    // Reverse order, with a comment and a blank line: output follows the file.
    let mut list = String::from("# cohort\n\n");
    for id in ids.iter().rev() {
        list.push_str(id);
        list.push('\n');
    }
    let ids_file = tmp.path().join("ids.txt");
    std::fs::write(&ids_file, list).expect("ids");
    let ids_arg = ids_file.to_string_lossy().into_owned();
    let args = ["--part-records", "11", "--records-from", &ids_arg];

    let clean = tmp.path().join("clean");
    let (o, whole) = timed(|| run("pipelines/drug_names.toml", &sb.api_base, &clean, &args));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let expected = rows(&clean);
    let first_ids: Vec<&str> = expected
        .iter()
        .map(|r| r.split('\t').next().unwrap_or_default())
        .collect();
    let mut seen = Vec::new();
    for id in first_ids {
        if seen.last() != Some(&id) {
            seen.push(id);
        }
    }
    let order: Vec<&str> = ids
        .iter()
        .rev()
        .map(String::as_str)
        .filter(|i| seen.contains(i))
        .collect();
    assert_eq!(seen, order, "rows are not in --records-from order");

    let out = tmp.path().join("killed");
    let kills = kill_until_done(
        || run_cmd("pipelines/drug_names.toml", &sb.api_base, &out, &args),
        whole,
        7,
        |_| {},
    );
    assert!(kills >= 2);
    assert_eq!(rows(&out), expected);
    no_leftovers(&out);
    sb.stop();
}

#[test]
fn sigterm_drains_commits_exits_130_and_resumes() {
    let mut cfg = config(300, 3);
    cfg.data_latency = Duration::from_millis(15);
    let sb = Sandbox::start(cfg);
    let tmp = tempfile::tempdir().expect("tmp");
    let args = ["--part-records", "10", "--concurrency", "2"];
    let clean = tmp.path().join("clean");
    let o = run("pipelines/drug_names.toml", &sb.api_base, &clean, &args);
    assert_eq!(code(&o), 0, "{}", text(&o));

    let out = tmp.path().join("termed");
    let child = run_cmd("pipelines/drug_names.toml", &sb.api_base, &out, &args)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    // TERM once something is committed (a fixed sleep would be too short
    // on a loaded machine and too long on a fast one).
    let t0 = Instant::now();
    let committed = |out: &Path| {
        std::fs::read(out.join("_checkpoint.json"))
            .ok()
            .and_then(|b| serde_json::from_slice::<serde_json::Value>(&b).ok())
            .and_then(|cp| cp["records"].as_u64())
            .unwrap_or(0)
    };
    while committed(&out) < 10 {
        assert!(t0.elapsed() < Duration::from_secs(60), "nothing committed");
        std::thread::sleep(Duration::from_millis(5));
    }
    let st = std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    assert!(st.success());
    let o = child.wait_with_output().expect("wait");
    assert_eq!(o.status.code(), Some(130), "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("re-run the same command to resume"));
    assert!(out.join("_checkpoint.json").exists());
    assert!(!out.join("_SUCCESS").exists());
    let cp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_checkpoint.json")).expect("cp"))
            .expect("json");
    assert!(
        cp["records"].as_u64().unwrap_or(0) > 0,
        "nothing committed before exit: {cp}"
    );

    let o = run("pipelines/drug_names.toml", &sb.api_base, &out, &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("resumed"));
    assert_eq!(rows(&out), rows(&clean));
    no_leftovers(&out);
    sb.stop();
}

#[test]
fn a_vanished_watermark_record_falls_back_to_an_earlier_committed_id() {
    // Record bodies on disk, served as they are by a --from-dir sandbox.
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("records");
    dump_records(config(120, 5), &dir);

    let slow = |d: &Path| SandboxConfig {
        data_latency: Duration::from_millis(10),
        ..from_dir(d)
    };
    let sb = Sandbox::start(slow(&dir));
    let args = ["--part-records", "7", "--concurrency", "2"];
    let clean = tmp.path().join("clean");
    let o = run("pipelines/drug_names.toml", &sb.api_base, &clean, &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let expected = rows(&clean);

    // Interrupt once some parts are committed.
    let out = tmp.path().join("out");
    let mut child = run_cmd("pipelines/drug_names.toml", &sb.api_base, &out, &args)
        .spawn()
        .expect("spawn");
    let t0 = Instant::now();
    let watermark = loop {
        if let Ok(b) = std::fs::read(out.join("_checkpoint.json"))
            && let Ok(cp) = serde_json::from_slice::<serde_json::Value>(&b)
            && cp["records"].as_u64().unwrap_or(0) >= 21
            && let Some(w) = cp["chains"][0]["watermark"].as_str()
        {
            break w.to_string();
        }
        assert!(
            t0.elapsed() < Duration::from_secs(60),
            "no checkpoint appeared"
        );
        std::thread::sleep(Duration::from_millis(5));
    };
    child.kill().expect("kill");
    child.wait().expect("wait");
    let cp: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out.join("_checkpoint.json")).expect("cp"))
            .expect("json");
    let watermark_now = cp["chains"][0]["watermark"]
        .as_str()
        .unwrap_or(&watermark)
        .to_string();

    // The watermark record is deleted from the container.
    let addr = sb.api_base.trim_start_matches("http://").to_string();
    sb.stop();
    std::fs::remove_file(dir.join(format!("{watermark_now}.rdf"))).expect("delete record");
    let sb = Sandbox::start_on(&addr, slow(&dir));
    let o = run("pipelines/drug_names.toml", &sb.api_base, &out, &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains(&watermark_now),
        "the fallback is not logged: {}",
        text(&o)
    );
    assert_eq!(
        rows(&out),
        expected,
        "rows differ after the watermark vanished"
    );
    sb.stop();
}

#[test]
fn a_changed_pipeline_is_refused_unless_fresh_and_a_finished_output_is_left_alone() {
    let sb = Sandbox::start(config(40, 1));
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let o = run("pipelines/drug_names.toml", &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let before = std::fs::metadata(out.join("_SUCCESS"))
        .expect("success")
        .modified()
        .expect("mtime");
    let expected = rows(&out);

    // Finished: the same command is a no-op that says so.
    let o = run("pipelines/drug_names.toml", &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("already finished"), "{}", text(&o));
    let after = std::fs::metadata(out.join("_SUCCESS"))
        .expect("success")
        .modified()
        .expect("mtime");
    assert_eq!(before, after, "a finished output was touched");

    // Another pipeline into the same directory: refused before any network call.
    let o = run("pipelines/medications.toml", &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("--fresh"), "{}", text(&o));
    assert_eq!(rows(&out), expected, "a refused run changed the output");

    // Unfinished (killed after a commit) and changed: also refused.
    let partial = tmp.path().join("partial");
    let mut child = run_cmd(
        "pipelines/drug_names.toml",
        &sb.api_base,
        &partial,
        &["--part-records", "1", "--concurrency", "1"],
    )
    .spawn()
    .expect("spawn");
    let t0 = Instant::now();
    while !partial.join("_checkpoint.json").exists() {
        assert!(t0.elapsed() < Duration::from_secs(60), "no checkpoint");
        std::thread::sleep(Duration::from_millis(2));
    }
    child.kill().expect("kill");
    child.wait().expect("wait");
    if !partial.join("_SUCCESS").exists() {
        let o = run("pipelines/medications.toml", &sb.api_base, &partial, &[]);
        assert_eq!(code(&o), 2, "{}", text(&o));
        assert!(text(&o).contains("pipeline changed"), "{}", text(&o));
    }

    // --fresh starts over.
    let o = run(
        "pipelines/medications.toml",
        &sb.api_base,
        &out,
        &["--fresh"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_ne!(rows(&out), expected);
    sb.stop();
}
