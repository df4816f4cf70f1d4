//! Past the serial cursor: `--chains K` from seeds, and sharded runs
//! (`plan`, `run --shard I/N`, `commit`), end to end with the binary.
//!
//! The contract under test: the union of the chains is exactly the set of
//! records one serial cursor walk visits, each once, in the same order,
//! whatever was added or deleted since the seeds were taken.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::path::Path;
use std::time::Duration;

const PIPELINE: &str = "pipelines/drug_names.toml";

/// Records on disk, and a clean serial export of them (the seeds).
fn population(tmp: &Path, n: u64, seed: u64) -> (std::path::PathBuf, Vec<String>) {
    let dir = tmp.join("records");
    let ids = dump_records(config(n, seed), &dir);
    (dir, ids)
}

fn serial(api_base: &str, out: &Path) {
    let o = run(PIPELINE, api_base, out, &["--part-records", "40"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
}

#[test]
fn chains_from_seeds_visit_exactly_what_a_serial_walk_visits() {
    let tmp = tempfile::tempdir().unwrap();
    let (dir, ids) = population(tmp.path(), 300, 11);
    let sb = Sandbox::start(from_dir(&dir));
    let seeds = tmp.path().join("seeds");
    serial(&sb.api_base, &seeds);
    let sampled: Vec<String> = manifest(&seeds)["seeds"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_owned())
        .collect();
    assert_eq!(sampled.len(), ids.len(), "300 records: every id is a seed");
    let addr = sb.api_base.trim_start_matches("http://").to_string();
    sb.stop();

    // Since the seeds were taken: 5% deleted (among them the ids the 8
    // chains would start at, so their starts must be replaced), 5% added.
    let mut walk = sampled.clone();
    let mut gone: Vec<String> = (1..8).map(|i| walk[i * walk.len() / 8].clone()).collect();
    let mut rng = StdRng::seed_from_u64(3);
    while gone.len() < 15 {
        let id = walk[rng.random_range(0..walk.len())].clone();
        if !gone.contains(&id) {
            gone.push(id);
        }
    }
    for id in &gone {
        std::fs::remove_file(dir.join(format!("{id}.rdf"))).unwrap();
    }
    walk.retain(|id| !gone.contains(id));
    let extra = tmp.path().join("extra");
    for id in dump_records(config(15, 99), &extra) {
        if !dir.join(format!("{id}.rdf")).exists() {
            std::fs::copy(
                extra.join(format!("{id}.rdf")),
                dir.join(format!("{id}.rdf")),
            )
            .unwrap();
        }
    }

    let sb = Sandbox::start_on(&addr, from_dir(&dir));
    let fresh = tmp.path().join("fresh");
    serial(&sb.api_base, &fresh);
    let chained = tmp.path().join("chained");
    let o = run(
        PIPELINE,
        &sb.api_base,
        &chained,
        &[
            "--chains",
            "8",
            "--seeds-from",
            seeds.to_str().unwrap(),
            "--part-records",
            "10",
        ],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout).contains("8 chains"),
        "{}",
        text(&o)
    );
    assert_eq!(manifest(&chained)["records"], manifest(&fresh)["records"]);
    assert_eq!(
        rows(&chained),
        rows(&fresh),
        "chains differ from a serial walk"
    );
    // Every chain really ran: one part (at least) per chain, named by chain.
    let names: Vec<String> = parts(&chained, "parquet")
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .collect();
    for c in 0..8 {
        assert!(
            names
                .iter()
                .any(|n| n.starts_with(&format!("part-{c:05}-"))),
            "chain {c} wrote nothing: {names:?}"
        );
    }
    // Same records, same seeds: the same files.
    let again = tmp.path().join("again");
    let args = [
        "--chains",
        "8",
        "--seeds-from",
        seeds.to_str().unwrap(),
        "--part-records",
        "10",
    ];
    let o = run(PIPELINE, &sb.api_base, &again, &args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    for (a, b) in parts(&chained, "parquet")
        .iter()
        .zip(parts(&again, "parquet").iter())
    {
        assert_eq!(a.file_name(), b.file_name());
        assert_eq!(read_parquet(a), read_parquet(b));
    }
    sb.stop();
}

#[test]
fn kill_9_with_chains_then_resume_gives_the_rows_of_an_uninterrupted_run() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(240, 4);
    cfg.data_latency = Duration::from_millis(2);
    cfg.cursor_latency = Duration::from_millis(2);
    let sb = Sandbox::start(cfg);
    let seeds = tmp.path().join("seeds");
    serial(&sb.api_base, &seeds);
    let expected = rows(&seeds);
    let out = tmp.path().join("out");
    let args = [
        "--chains",
        "6",
        "--seeds-from",
        seeds.to_str().unwrap(),
        "--part-records",
        "5",
        "--concurrency",
        "4",
    ];
    // How long an uninterrupted chained run takes here: the kills land at
    // fractions of it.
    let reference = tmp.path().join("reference");
    let (o, whole) = timed(|| run(PIPELINE, &sb.api_base, &reference, &args));
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(rows(&reference), expected);
    let kills = kill_until_done(
        || run_cmd(PIPELINE, &sb.api_base, &out, &args),
        whole,
        21,
        |_| {},
    );
    assert!(kills >= 2, "only {kills} kills: the test proves nothing");

    assert_eq!(rows(&out), expected, "after {kills} kills");
    assert!(out.join("_SUCCESS").exists());
    sb.stop();
}

#[test]
fn without_seeds_chains_fall_back_to_one_chain_and_say_why() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(config(30, 2));
    let out = tmp.path().join("out");
    let o = run(PIPELINE, &sb.api_base, &out, &["--chains", "4"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("--chains 4: no seeds") && err.contains("one chain"),
        "{err}"
    );
    assert_eq!(manifest(&out)["records"], 30);
    sb.stop();
}

#[test]
fn bad_chain_and_shard_input_is_refused_before_anything_is_written() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(config(20, 2));
    let check = |o: &std::process::Output, needle: &str| {
        assert_eq!(code(o), 2, "{}", text(o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(needle), "{needle}: {err}");
        assert!(err.contains("hint:"), "{err}");
    };
    let out = tmp.path().join("a");
    check(
        &run(PIPELINE, &sb.api_base, &out, &["--chains", "0"]),
        "--chains `0`",
    );
    assert!(!out.exists(), "nothing written");

    let seeds = tmp.path().join("seeds.txt");
    std::fs::write(&seeds, "no-such-1\nno-such-2\nno-such-3\n").unwrap();
    let args = [
        "--chains",
        "3",
        "--seeds",
        seeds.to_str().unwrap(),
        "--max-attempts",
        "1",
    ];
    let out = tmp.path().join("b");
    check(&run(PIPELINE, &sb.api_base, &out, &args), "none of the");
    assert!(!out.join("_checkpoint.json").exists(), "nothing written");

    let out = tmp.path().join("c");
    check(
        &run(PIPELINE, &sb.api_base, &out, &["--shard", "3/2"]),
        "holds no shard plan",
    );
    let o = bin().args(["commit"]).arg(&out).output().unwrap();
    check(&o, "holds no shard plan");
    sb.stop();
}

#[test]
fn a_sharded_run_commits_the_rows_of_a_single_machine_run() {
    let tmp = tempfile::tempdir().unwrap();
    let sb = Sandbox::start(config(200, 8));
    let seeds = tmp.path().join("seeds");
    serial(&sb.api_base, &seeds);
    let out = tmp.path().join("sharded");
    let o = bin()
        .args([
            "plan",
            PIPELINE,
            "--shards",
            "3",
            "--chains",
            "6",
            "--seeds-from",
        ])
        .arg(&seeds)
        .args(["--api-base", &sb.api_base])
        .arg("--output")
        .arg(&out)
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    // A plain run into a planned output is told to run as a shard.
    let o = run(PIPELINE, &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("--shard I/N"), "{}", text(&o));
    let o = run(PIPELINE, &sb.api_base, &out, &["--shard", "3/2"]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("hint:"), "{}", text(&o));

    for i in [2usize, 0] {
        let o = run(
            PIPELINE,
            &sb.api_base,
            &out,
            &["--shard", &format!("{i}/3")],
        );
        assert_eq!(code(&o), 0, "{}", text(&o));
    }
    // status tells the on-call engineer where the shards stand.
    let o = bin().args(["status"]).arg(&out).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains("2 of 3 shards finished"), "{shown}");
    assert!(shown.contains("shard 1/3: not started"), "{shown}");
    // Shard 1 is missing: commit refuses and names it.
    let o = bin().args(["commit"]).arg(&out).output().unwrap();
    assert_eq!(code(&o), 1, "{}", text(&o));
    assert!(text(&o).contains("1/3"), "{}", text(&o));
    assert!(!out.join("_SUCCESS").exists());
    // Shard 1 as a Kubernetes Indexed Job pod would run it.
    let o = run_cmd(PIPELINE, &sb.api_base, &out, &[])
        .env("JOB_COMPLETION_INDEX", "1")
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let o = bin().args(["commit"]).arg(&out).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(out.join("_SUCCESS").exists());
    assert_eq!(manifest(&out)["records"], 200);
    assert_eq!(rows(&out), rows(&seeds));
    // Committing again is a no-op.
    let o = bin().args(["commit"]).arg(&out).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(text(&o).contains("already committed"), "{}", text(&o));
    sb.stop();
}
