//! Failures end to end: faults in the container, bad credentials, a full or
//! unwritable disk, too many failed records. Each gives its exit code, keeps
//! what was committed, and writes every good row exactly once.

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use std::collections::BTreeSet;
use std::time::Duration;

#[test]
fn with_every_fault_on_good_rows_arrive_exactly_once_and_bad_records_are_listed() {
    let tmp = tempfile::tempdir().expect("tmp");
    let clean_sb = Sandbox::start(config(300, 21));
    let clean = tmp.path().join("clean");
    let o = run(
        "pipelines/medications.toml",
        &clean_sb.api_base,
        &clean,
        &[],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    let all_rows = rows(&clean);
    clean_sb.stop();

    let sb = Sandbox::start(with_every_fault(config(300, 21)));
    let out = tmp.path().join("faulty");
    let o = run(
        "pipelines/medications.toml",
        &sb.api_base,
        &out,
        &retry_hard("25"),
    );
    assert_eq!(code(&o), 3, "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("_errors.csv"), "{stdout}");

    let failed: BTreeSet<String> = error_ids(&out).into_iter().collect();
    assert!(!failed.is_empty(), "malformed records should fail");
    let errors = std::fs::read_to_string(out.join("_errors.csv")).expect("errors");
    assert!(errors.starts_with("record_id,table,stage,http_status,attempts,message"));
    for line in errors.lines().skip(1) {
        assert!(
            line.contains(",transform,"),
            "only malformed bodies may fail: {line}"
        );
    }
    let expected: Vec<String> = all_rows
        .iter()
        .filter(|r| !failed.contains(r.split('\t').next().unwrap_or_default()))
        .cloned()
        .collect();
    assert_eq!(rows(&out), expected, "good rows differ from a clean run");
    let m = manifest(&out);
    assert_eq!(m["failed"].as_u64(), Some(failed.len() as u64));
    assert!(
        m["http"]["retries"].as_u64().unwrap_or(0) > 0,
        "no retries recorded: {m}"
    );
    sb.stop();
}

#[test]
fn a_wrong_secret_aborts_with_exit_1_naming_the_key_and_the_container() {
    let sb = Sandbox::start(config(10, 1));
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let o = run_cmd("pipelines/drug_names.toml", &sb.api_base, &out, &[])
        .env("SMARTSWEEP_CONSUMER_SECRET", "not-the-secret")
        .output()
        .expect("run");
    assert_eq!(code(&o), 1, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("smart-background-app@apps.smartplatforms.org"),
        "{err}"
    );
    assert!(err.contains(&sb.api_base), "{err}");
    assert!(err.contains("hint"), "{err}");
    assert!(!err.contains("not-the-secret"), "the secret leaked: {err}");
    sb.stop();
}

#[test]
fn max_failed_turns_a_flood_into_an_abort_with_the_checkpoint_intact() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let o = flood_run(&out, "5");
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("--max-failed"), "{}", text(&o));
    assert!(!out.join("_SUCCESS").exists());
    assert!(out.join("_checkpoint.json").exists());
    assert!(out.join("_errors.csv").exists());
}

#[test]
fn an_unwritable_output_aborts_with_exit_1_and_a_clear_message() {
    let sb = Sandbox::start(config(10, 1));
    let tmp = tempfile::tempdir().expect("tmp");
    let file = tmp.path().join("a-file");
    std::fs::write(&file, b"x").expect("file");
    let out = file.join("out");
    let o = run("pipelines/drug_names.toml", &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).contains(&out.display().to_string()),
        "{}",
        text(&o)
    );
    sb.stop();
}

/// A real full disk: a 1 MiB tmpfs (needs root; skipped, saying so, without).
#[test]
fn a_full_disk_aborts_cleanly_and_keeps_previous_parts_and_checkpoint() {
    let tmp = tempfile::tempdir().expect("tmp");
    let mnt = tmp.path().join("small");
    std::fs::create_dir(&mnt).expect("mkdir");
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=1m", "tmpfs"])
        .arg(&mnt)
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !mounted {
        eprintln!("SKIPPED: cannot mount a tmpfs here (not root?)");
        return;
    }
    struct Unmount(std::path::PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = std::process::Command::new("umount").arg(&self.0).status();
        }
    }
    let _guard = Unmount(mnt.clone());

    let mut cfg = config(3000, 9);
    cfg.data_latency = Duration::from_millis(0);
    let sb = Sandbox::start(cfg);
    let out = mnt.join("out");
    let o = run(
        "pipelines/medications.toml",
        &sb.api_base,
        &out,
        &["--format", "csv", "--part-records", "50"],
    );
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(
        text(&o).to_lowercase().contains("disk full"),
        "{}",
        text(&o)
    );
    let cp: serde_json::Value = serde_json::from_slice(
        &std::fs::read(out.join("_checkpoint.json")).expect("checkpoint kept"),
    )
    .expect("checkpoint is valid JSON");
    // Every committed part is whole: its size and hash match the checkpoint.
    let tables = cp["tables"].as_object().expect("tables");
    for p in tables
        .values()
        .flat_map(|t| t["parts"].as_array().expect("parts"))
    {
        let f = out.join(p["file"].as_str().expect("file"));
        let bytes = std::fs::read(&f).expect("committed part exists");
        assert_eq!(bytes.len() as u64, p["bytes"].as_u64().expect("bytes"));
    }
    for e in std::fs::read_dir(&out).expect("dir") {
        let name = e.expect("e").file_name().to_string_lossy().into_owned();
        assert!(!name.ends_with(".inprogress"), "left a partial part {name}");
    }
    sb.stop();
}
