//! Object storage end to end: the binary writing to an S3-compatible
//! server (moto's server mode on 127.0.0.1), against the in-process
//! sandbox. The output must equal a local run's, survive kill -9 at random
//! moments, refuse a second concurrent run, fail clearly on a bad
//! location, and survive the store going away mid-run.

#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod storage_common;

use common::*;
use object_store::ObjectStore;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;
use storage_common::*;

const PIPELINE: &str = "pipelines/medications.toml";

fn s3_run(api: &str, endpoint: &str, url: &str, extra: &[&str]) -> Command {
    let mut c = run_cmd(PIPELINE, api, Path::new(url), extra);
    s3_env(&mut c, endpoint);
    c
}

/// Runs `c` to the end; it must succeed.
fn succeed(mut c: Command) -> Output {
    let o = c.output().expect("run");
    assert_eq!(code(&o), 0, "{}", text(&o));
    o
}

/// Runs `c`, which must exit with `want`; returns its output as text.
fn exits(mut c: Command, want: i32) -> String {
    let o = c.output().expect("run");
    let t = text(&o);
    assert_eq!(code(&o), want, "{t}");
    t
}

/// Starts `c` with its output captured, to wait for later.
fn spawn_piped(mut c: Command) -> Child {
    c.stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn")
}

fn clean_rows(sb: &Sandbox, args: &[&str]) -> Vec<String> {
    let tmp = tempfile::tempdir().expect("tmp");
    let o = run(PIPELINE, &sb.api_base, &tmp.path().join("clean"), args);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let r = rows(&tmp.path().join("clean"));
    assert!(r.len() > 100, "implausibly few rows: {}", r.len());
    r
}

/// The committed parts the manifest lists equal the part objects there
/// are (no orphan), and no control file is left over.
fn finished_cleanly(store: &Arc<dyn ObjectStore>, prefix: &str) {
    let listed = list(store, prefix);
    let names: Vec<&str> = listed.iter().map(|(n, _)| n.as_str()).collect();
    assert!(names.contains(&"_SUCCESS"), "{names:?}");
    assert!(!names.contains(&"_checkpoint.json"), "{names:?}");
    let m: serde_json::Value =
        serde_json::from_slice(&get(store, &format!("{prefix}/_manifest.json")).expect("manifest"))
            .expect("json");
    let mut in_manifest: Vec<String> = m["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .map(|p| p["file"].as_str().expect("file").to_owned())
        .collect();
    in_manifest.sort();
    let mut objects: Vec<String> = names
        .iter()
        .filter(|n| n.starts_with("part-"))
        .map(|n| (*n).to_owned())
        .collect();
    objects.sort();
    assert_eq!(objects, in_manifest, "orphan or missing parts");
}

/// What the end-to-end tests share: moto with the bucket `out`, a sandbox
/// of 300 records, and the rows a local run of the pipeline writes.
struct S3Case {
    moto: Moto,
    sb: Sandbox,
    expected: Vec<String>,
}

impl S3Case {
    /// `None` (the test skips) without moto; otherwise the sandbox serves
    /// `seed`'s records, each data answer `latency_ms` late, and the local
    /// run takes `args`.
    fn start(seed: u64, latency_ms: u64, args: &[&str]) -> Option<S3Case> {
        let moto = Moto::start(&["out"])?;
        let mut cfg = config(300, seed);
        cfg.data_latency = Duration::from_millis(latency_ms);
        let sb = Sandbox::start(cfg);
        let expected = clean_rows(&sb, args);
        Some(S3Case { moto, sb, expected })
    }

    /// The pipeline run into `url` on moto.
    fn run(&self, url: &str, args: &[&str]) -> Command {
        s3_run(&self.sb.api_base, &self.moto.endpoint(), url, args)
    }

    fn store(&self) -> Arc<dyn ObjectStore> {
        s3(&self.moto.endpoint(), "out")
    }

    /// The output under `prefix` holds exactly the local run's rows and
    /// finished cleanly.
    fn assert_output(&self, prefix: &str, what: &str) {
        let store = self.store();
        assert_eq!(s3_rows(&store, prefix), self.expected, "{what}");
        finished_cleanly(&store, prefix);
    }

    fn stop(self) {
        self.sb.stop();
    }
}

#[test]
fn s3_output_equals_a_local_run_and_a_rerun_is_a_no_op() {
    let args = ["--part-records", "40"];
    let Some(case) = S3Case::start(5, 0, &args) else {
        return;
    };

    let url = "s3://out/nightly/medications";
    let o = succeed(case.run(url, &args));
    case.assert_output("nightly/medications", "");
    no_secret(&text(&o));

    let again = succeed(case.run(url, &args));
    assert!(
        String::from_utf8_lossy(&again.stdout).contains("already finished"),
        "{}",
        text(&again)
    );
    case.stop();
}

#[test]
fn kill_9_on_s3_then_resume_gives_the_rows_of_an_uninterrupted_run() {
    let args = ["--part-records", "13", "--concurrency", "8"];
    let Some(case) = S3Case::start(7, 2, &args) else {
        return;
    };

    // How long an uninterrupted run takes on this machine now: the kills
    // land at fractions of it.
    let (_, whole) = timed(|| succeed(case.run("s3://out/reference", &args)));
    let url = "s3://out/killed";
    let kills = kill_until_done(|| case.run(url, &args), whole, 99, |_| {});
    assert!(kills >= 2, "only {kills} kills: nothing was interrupted");
    let what = format!("after {kills} kills");
    case.assert_output("killed", &what);
    case.stop();
}

#[test]
fn two_concurrent_runs_on_one_s3_output_never_both_own_it() {
    let args = ["--part-records", "20", "--concurrency", "4"];
    let Some(case) = S3Case::start(9, 3, &args) else {
        return;
    };

    let url = "s3://out/shared";
    for delay_ms in [0u64, 400] {
        let prefix = format!("shared{delay_ms}");
        let url = format!("{url}{delay_ms}");
        let a = spawn_piped(case.run(&url, &args));
        std::thread::sleep(Duration::from_millis(delay_ms));
        let b = case.run(&url, &args).output().expect("b");
        let a = a.wait_with_output().expect("a");
        let mut refused = 0;
        for o in [&a, &b] {
            let c = code(o);
            let t = text(o);
            assert!(c == 0 || c == 1, "{t}");
            if c == 1 {
                assert!(
                    t.contains("another run took over") || t.contains("already exists"),
                    "{t}"
                );
                refused += 1;
            } else if t.contains("already finished") {
                refused += 1;
            }
        }
        assert!(
            refused >= 1,
            "both runs claimed the output:\n{}\n{}",
            text(&a),
            text(&b)
        );
        // Whatever happened, re-running finishes it with exactly the rows.
        for _ in 0..3 {
            let o = case.run(&url, &args).output().expect("rerun");
            if code(&o) == 0 {
                break;
            }
        }
        let what = format!("delay {delay_ms} ms");
        case.assert_output(&prefix, &what);
    }
    case.stop();
}

#[test]
fn bad_locations_fail_clearly_before_any_record_is_fetched() {
    // Nothing listens here: a run that fetched anything would fail on the
    // container instead of on the store.
    let api = "http://127.0.0.1:9";
    let tmp = tempfile::tempdir().expect("tmp");

    let o = run(PIPELINE, api, Path::new("ftp://user:pw@host/x"), &[]);
    assert_eq!(code(&o), 2, "{}", text(&o));
    let t = text(&o);
    assert!(t.contains("unknown output scheme `ftp`"), "{t}");
    assert!(!t.contains("pw@"), "{t}");
    assert!(t.contains("hint:"), "{t}");

    let o = run(
        PIPELINE,
        api,
        &tmp.path().join("local"),
        &["--storage-option", "aws_region=eu-west-1"],
    );
    assert_eq!(code(&o), 2, "{}", text(&o));
    assert!(text(&o).contains("local directory"), "{}", text(&o));

    let Some(moto) = Moto::start(&["out"]) else {
        return;
    };
    let t = exits(
        s3_run(api, &moto.endpoint(), "s3://no-such-bucket/x", &[]),
        1,
    );
    assert!(t.contains("s3://no-such-bucket/x"), "{t}");
    assert!(t.contains("does not exist"), "{t}");
    assert!(t.contains("hint: create the bucket"), "{t}");
    no_secret(&t);

    let bad_option = ["--storage-option", "no_such_option=1"];
    let t = exits(s3_run(api, &moto.endpoint(), "s3://out/x", &bad_option), 2);
    assert!(t.contains("`no_such_option`"), "{t}");

    let Some(locked) = Moto::start_with(&["out"], true) else {
        return;
    };
    let t = exits(s3_run(api, &locked.endpoint(), "s3://out/x", &[]), 1);
    assert!(t.contains("refused the credentials"), "{t}");
    assert!(t.contains("s3://out/x"), "{t}");
    assert!(t.contains("hint: check the credentials"), "{t}");
    no_secret(&t);
}

#[test]
fn a_store_that_goes_away_mid_run_is_retried_or_aborts_resumably() {
    let args = ["--part-records", "10", "--concurrency", "4"];
    let Some(case) = S3Case::start(13, 5, &args) else {
        return;
    };
    let proxy = Proxy::start(case.moto.port);
    let store = case.store();
    let through_proxy =
        |url: &str, args: &[&str]| s3_run(&case.sb.api_base, &proxy.endpoint(), url, args);

    // A short outage: the store's retries carry the run through.
    let child = spawn_piped(through_proxy("s3://out/blip", &args));
    std::thread::sleep(Duration::from_millis(700));
    proxy.down();
    std::thread::sleep(Duration::from_millis(1500));
    proxy.up();
    let o = child.wait_with_output().expect("wait");
    assert_eq!(code(&o), 0, "{}", text(&o));
    case.assert_output("blip", "");

    // A long outage: the run gives up (exit 1) with its checkpoint intact,
    // and the same command resumes once the store is back.
    let quick = [
        "--storage-option",
        "max_retries=2",
        "--storage-option",
        "retry_timeout=2",
    ];
    let all: Vec<&str> = args.iter().chain(quick.iter()).copied().collect();
    let child = spawn_piped(through_proxy("s3://out/outage", &all));
    std::thread::sleep(Duration::from_millis(700));
    proxy.down();
    let o = child.wait_with_output().expect("wait");
    let t = text(&o);
    if code(&o) == 0 {
        // The machine was fast enough to finish before the outage.
        eprintln!("the run finished before the outage; nothing to resume");
    } else {
        assert_eq!(code(&o), 1, "{t}");
        assert!(t.contains("re-run the same command to resume"), "{t}");
        proxy.up();
        assert!(
            get(&store, "outage/_checkpoint.json").is_some(),
            "no checkpoint left: {t}"
        );
        succeed(through_proxy("s3://out/outage", &all));
    }
    case.assert_output("outage", "");
    case.stop();
}

#[test]
fn parts_larger_than_a_chunk_stream_out_and_are_invisible_until_committed() {
    use smartsweep::load::Store;
    use smartsweep::load::destination::StorageOptions;
    use smartsweep::load::object::{CHUNK, RemoteStore};
    use std::io::Write;
    let Some(moto) = Moto::start(&["out"]) else {
        return;
    };
    let rt = runtime();
    let mut opts = StorageOptions::default();
    for (k, v) in [
        ("aws_endpoint_url", moto.endpoint()),
        ("aws_access_key_id", "testing".into()),
        ("aws_secret_access_key", "testing-secret".into()),
        ("aws_region", "us-east-1".into()),
    ] {
        opts.0.insert(k.into(), v);
    }
    let url = reqwest::Url::parse("s3://out/big").unwrap();
    let store = s3(&moto.endpoint(), "out");
    rt.block_on(async {
        let remote = RemoteStore::open(&url, &opts).expect("open");
        tokio::task::spawn_blocking(move || {
            let mut remote = remote;
            assert!(!remote.prepare("").expect("prepare"), "no lock on S3");
            let data: Vec<u8> = (0..CHUNK * 2 + 12345).map(|i| (i % 251) as u8).collect();
            let mut part = remote.create_part("part-00000.parquet").expect("create");
            for piece in data.chunks(64 * 1024) {
                part.write_all(piece).expect("write");
            }
            // Two chunks went out; nothing is visible yet.
            assert!(remote.list().expect("list").is_empty());
            part.commit().expect("commit");
            let listed = remote.list().expect("list");
            assert_eq!(listed.len(), 1);
            assert_eq!(listed[0].size, data.len() as u64);
            assert_eq!(remote.read("part-00000.parquet").unwrap().unwrap(), data);
            assert!(matches!(
                remote.create_part("part-00000.parquet"),
                Err(smartsweep::load::LoadError::PartExists { .. })
            ));
            // An abandoned part leaves nothing.
            let mut part = remote.create_part("part-00001.parquet").expect("create");
            part.write_all(&data).expect("write");
            drop(part);
            // Conditional checkpoint: create, update, and a stale update.
            let mut v = None;
            remote
                .put_checkpoint("_checkpoint.json", b"1", &mut v)
                .expect("create");
            let stale = v.clone();
            remote
                .put_checkpoint("_checkpoint.json", b"2", &mut v)
                .expect("update");
            let mut s = stale;
            assert!(matches!(
                remote.put_checkpoint("_checkpoint.json", b"3", &mut s),
                Err(smartsweep::load::LoadError::ClaimLost { .. })
            ));
            let mut none = None;
            assert!(matches!(
                remote.put_checkpoint("_checkpoint.json", b"4", &mut none),
                Err(smartsweep::load::LoadError::ClaimLost { .. })
            ));
        })
        .await
        .expect("blocking");
    });
    std::thread::sleep(Duration::from_millis(300));
    let names: Vec<String> = list(&store, "big").into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, vec!["_checkpoint.json", "part-00000.parquet"]);
    assert_eq!(get(&store, "big/_checkpoint.json").unwrap(), b"2");
}

/// The same command started while another run is mid-way resumes that
/// run's checkpoint and so takes the output over; the first run must lose
/// its claim at its next checkpoint, even though the second re-stored the
/// very checkpoint it read (S3's ETag is the body's MD5: identical bytes
/// would keep the first run's version valid, and both would own the
/// output).
#[test]
fn a_run_taking_over_an_s3_output_always_invalidates_the_first_claim() {
    use smartsweep::checkpoint::{Checkpoint, Mode};
    use smartsweep::load::destination::{DestinationOptions, open};
    use smartsweep::load::{Claim, Format, LoadError, Location, Opened};

    let Some(moto) = Moto::start(&["out"]) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _in_runtime = rt.enter();
    let opts = DestinationOptions {
        storage: moto_options(&moto),
        ..DestinationOptions::default()
    };
    let location = Location::parse("s3://out/takeover").expect("location");
    let claim = Claim {
        hash: "pipeline-hash".into(),
        fresh: false,
        format: Format::Parquet,
        table_dirs: vec![String::new()],
        control_dir: String::new(),
        chains: None,
    };

    let mut first = open(&location, Format::Parquet, &opts).expect("open");
    assert!(matches!(first.open(&claim).expect("claim"), Opened::New));
    let mut cp = Checkpoint::new(
        "pipeline-hash",
        "run-1",
        Mode::Cursor,
        "2026-12-04T00:00:00Z",
    );
    first.store_checkpoint(&cp).expect("first checkpoint");

    let mut second = open(&location, Format::Parquet, &opts).expect("open");
    assert!(matches!(
        second.open(&claim).expect("claim"),
        Opened::Resume(_)
    ));

    cp.records = 1;
    let err = first
        .store_checkpoint(&cp)
        .expect_err("the first run still owns it");
    assert!(matches!(err, LoadError::ClaimLost { .. }), "{err:?}");
    second
        .store_checkpoint(&cp)
        .expect("the second run owns the output");
}

/// `--storage-option` pairs for the moto server.
fn moto_options(moto: &Moto) -> smartsweep::load::destination::StorageOptions {
    let pairs = [
        ("aws_endpoint", moto.endpoint()),
        ("aws_access_key_id", "testing".to_owned()),
        ("aws_secret_access_key", "testing-secret".to_owned()),
        ("aws_region", "us-east-1".to_owned()),
    ];
    smartsweep::load::destination::StorageOptions(
        pairs.into_iter().map(|(k, v)| (k.to_owned(), v)).collect(),
    )
}

/// A conditional checkpoint write whose answer was lost and which is sent
/// again (the first attempt had landed) is refused by the store; the store
/// then holds exactly our bytes, so the write counts as done. Other bytes
/// under a stale version are still a lost claim.
#[test]
fn a_conditional_write_that_had_landed_is_recognised_by_its_bytes() {
    use smartsweep::load::object::RemoteStore;
    use smartsweep::load::{LoadError, Store};

    let Some(moto) = Moto::start(&["out"]) else {
        return;
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let _in_runtime = rt.enter();
    let url = reqwest::Url::parse("s3://out/landed").expect("url");
    let store = RemoteStore::open(&url, &moto_options(&moto)).expect("store");

    // First checkpoint: If-None-Match. Sent again: "already exists", ours.
    let mut version = None;
    store
        .put_checkpoint("_checkpoint.json", b"first", &mut version)
        .expect("create");
    let first = version.clone();
    let mut resent = None;
    store
        .put_checkpoint("_checkpoint.json", b"first", &mut resent)
        .expect("a create that had landed");
    assert_eq!(resent, first);

    // A replacement: If-Match. Sent again with the version it replaced.
    let mut v = first.clone();
    store
        .put_checkpoint("_checkpoint.json", b"second", &mut v)
        .expect("replace");
    let mut stale = first.clone();
    store
        .put_checkpoint("_checkpoint.json", b"second", &mut stale)
        .expect("a replacement that had landed");
    assert_eq!(stale, v);

    // Other bytes under a stale version: another run's checkpoint is there.
    let mut stale = first;
    let err = store
        .put_checkpoint("_checkpoint.json", b"third", &mut stale)
        .expect_err("a stale version with other bytes");
    assert!(matches!(err, LoadError::ClaimLost { .. }), "{err:?}");
    assert_eq!(
        store.read("_checkpoint.json").expect("read").as_deref(),
        Some(&b"second"[..])
    );
}
