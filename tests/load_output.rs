//! The output directory and the commit protocol: open (new, resume, fresh,
//! refuse), checkpoint, `_errors.csv`, `_manifest.json` + `_SUCCESS`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow_array::{RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
mod load_common;

use load_common::{OutputDir, add_part, manifest, parts};
use smartsweep::checkpoint::{Checkpoint, VERSION};
use smartsweep::failure::{RecordFailure, Stage};
use smartsweep::load::{
    CHECKPOINT_FILE, CommittedPart, ERRORS_FILE, Format, LoadError, MANIFEST_FILE, Opened,
    SUCCESS_FILE, WriterOptions,
};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

const HASH: &str = "pipeline-hash-1";

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("record_id", DataType::Utf8, false),
        Field::new("drugname", DataType::Utf8, true),
    ]))
}

fn batch(id: &str, rows: usize) -> RecordBatch {
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values((0..rows).map(|_| id))),
            Arc::new(StringArray::from_iter_values(
                (0..rows).map(|i| format!("drug {i}")),
            )),
        ],
    )
    .unwrap()
}

fn opts() -> WriterOptions {
    WriterOptions::default()
}

fn mode(path: &Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    v.sort();
    v
}

/// Commits part `index` with records `ids` the way the engine does:
/// finish the part, then record it in the checkpoint and store that.
fn commit_part(out: &OutputDir, cp: &mut Checkpoint, index: u32, ids: &[&str]) -> CommittedPart {
    let mut w = out.create_part(index, schema(), &opts()).unwrap();
    for id in ids {
        w.write(&batch(id, 3)).unwrap();
    }
    let part = w.finish().unwrap();
    add_part(cp, part.clone(), ids);
    out.store_checkpoint(cp).unwrap();
    part
}

fn new_checkpoint() -> Checkpoint {
    load_common::new_checkpoint(HASH)
}

#[test]
fn a_new_directory_is_created_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("a/b/out");
    let (out, cp) = OutputDir::open(&path, HASH, false).unwrap();
    assert!(cp.is_none());
    assert_eq!(out.path(), path);
    assert_eq!(mode(&path), 0o700);
    assert_eq!(mode(&tmp.path().join("a")), 0o700);
    // A new run's first checkpoint is stored before any part.
    assert_eq!(names(&path), [CHECKPOINT_FILE]);
}

#[test]
fn checkpoint_is_stored_atomically_and_owner_only() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = OutputDir::open(tmp.path(), HASH, false).unwrap();
    let mut cp = new_checkpoint();
    commit_part(&out, &mut cp, 0, &["r1", "r2"]);
    let path = tmp.path().join(CHECKPOINT_FILE);
    assert_eq!(mode(&path), 0o600);
    assert_eq!(names(tmp.path()), [CHECKPOINT_FILE, "part-00000.parquet"]);
    let text = fs::read_to_string(&path).unwrap();
    assert!(text.contains(&format!("\"version\": {VERSION}")), "{text}");
    let back = Checkpoint::from_json(text.as_bytes()).unwrap();
    assert_eq!(back, cp);
}

#[test]
fn resume_keeps_committed_parts_and_removes_the_rest() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, _) = OutputDir::open(dir, HASH, false).unwrap();
    let mut cp = new_checkpoint();
    let p0 = commit_part(&out, &mut cp, 0, &["r1", "r2"]);
    let p1 = commit_part(&out, &mut cp, 1, &["r3"]);
    // Killed after part 2 was renamed but before the checkpoint listed it,
    // while part 3 was being written and a checkpoint write was half done.
    let mut w = out.create_part(2, schema(), &opts()).unwrap();
    w.write(&batch("r4", 2)).unwrap();
    w.finish().unwrap();
    fs::write(dir.join("part-00003.parquet.inprogress"), b"half a part").unwrap();
    fs::write(dir.join("_checkpoint.json.tmp"), b"{\"version\": 1, \"pip").unwrap();
    fs::write(dir.join("notes.txt"), b"mine, not smartsweep's").unwrap();
    fs::write(dir.join("x.inprogress"), b"someone else's").unwrap();
    fs::create_dir(dir.join("part-00009.parquet")).unwrap();
    drop(out);

    let (_out, resumed) = OutputDir::open(dir, HASH, false).unwrap();
    let resumed = resumed.unwrap();
    assert_eq!(resumed, cp);
    assert_eq!(parts(&resumed), [p0, p1]);
    assert_eq!(
        resumed.chains[0].watermark.as_ref().map(|w| w.as_str()),
        Some("r3")
    );
    assert_eq!(resumed.chains[0].next_part, 2);
    assert_eq!(
        names(dir),
        [
            CHECKPOINT_FILE,
            "notes.txt",
            "part-00000.parquet",
            "part-00001.parquet",
            "part-00009.parquet",
            "x.inprogress"
        ]
    );
    // A directory named like a part is not a part: left alone.
    assert!(dir.join("part-00009.parquet").is_dir());
}

#[test]
fn before_the_first_commit_nothing_is_committed() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, _) = OutputDir::open(dir, HASH, false).unwrap();
    // Killed after the first part was renamed, before the first commit.
    out.create_part(0, schema(), &opts())
        .unwrap()
        .finish()
        .unwrap();
    fs::write(dir.join("part-00001.parquet.inprogress"), b"x").unwrap();
    drop(out); // release the directory lock before reopening
    let (_, cp) = OutputDir::open(dir, HASH, false).unwrap();
    let cp = cp.unwrap();
    assert_eq!(cp.records, 0);
    assert_eq!(parts(&cp), []);
    assert_eq!(names(dir), [CHECKPOINT_FILE], "{:?}", names(dir));
}

#[test]
fn a_first_checkpoint_cut_short_by_a_kill_is_cleaned_up() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("_checkpoint.json.tmp"), b"{\"version\": 2, \"pi").unwrap();
    let (_, cp) = OutputDir::open(dir, HASH, false).unwrap();
    assert!(cp.is_none());
    assert_eq!(names(dir), [CHECKPOINT_FILE]);
}

#[test]
fn part_like_files_with_no_checkpoint_are_not_ours() {
    let tmp = tempfile::tempdir().unwrap();
    for (name, fresh) in [
        ("part-0.parquet", false),
        ("part-00000.csv", false),
        ("part-00000.parquet", true),
        ("part-00001.parquet.inprogress", true),
        ("_manifest.json.tmp", false),
    ] {
        let dir = tmp.path().join(format!("case-{name}-{fresh}"));
        fs::create_dir(&dir).unwrap();
        fs::write(dir.join(name), b"someone else's").unwrap();
        let err = OutputDir::open(&dir, HASH, fresh).unwrap_err();
        assert!(
            matches!(err, LoadError::ForeignDirectory { .. }),
            "{name}: {err:?}"
        );
        assert!(err.to_string().contains(name), "{err}");
        assert!(err.is_refusal());
        assert_eq!(names(&dir), [name], "nothing touched");
    }
}

#[test]
fn a_finished_output_is_refused_unless_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, _) = OutputDir::open(dir, HASH, false).unwrap();
    let mut cp = new_checkpoint();
    commit_part(&out, &mut cp, 0, &["r1"]);
    out.write_errors_csv(&[failure("r2", "boom")]).unwrap();
    out.finish(&manifest(HASH, 2, parts(&cp))).unwrap();
    assert_eq!(
        names(dir),
        [
            SUCCESS_FILE,
            ERRORS_FILE,
            MANIFEST_FILE,
            "part-00000.parquet"
        ]
    );
    assert_eq!(fs::read(dir.join(SUCCESS_FILE)).unwrap(), b"");
    assert_eq!(mode(&dir.join(SUCCESS_FILE)), 0o600);
    assert_eq!(mode(&dir.join(MANIFEST_FILE)), 0o600);
    let manifest: serde_json::Value =
        serde_json::from_slice(&fs::read(dir.join(MANIFEST_FILE)).unwrap()).unwrap();
    assert_eq!(manifest["records"], 2);
    fs::write(dir.join("README"), b"keep me").unwrap();

    drop(out); // release the directory lock before reopening
    // The same pipeline: finished, nothing to do (a scheduler's retry).
    let (_, opened) = OutputDir::open_any(dir, HASH, false, Format::Parquet).unwrap();
    assert!(matches!(opened, Opened::Finished(m) if m.records == 2));
    // Another pipeline: refused.
    let err = OutputDir::open(dir, "another", false).unwrap_err();
    assert!(matches!(err, LoadError::PipelineChanged { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains(&dir.display().to_string()), "{msg}");
    assert!(msg.contains("--fresh"), "{msg}");
    assert!(err.is_refusal());
    assert_eq!(names(dir).len(), 5, "a refusal touches nothing");

    let (_, cp) = OutputDir::open(dir, "another", true).unwrap();
    assert!(cp.is_none());
    assert_eq!(
        names(dir),
        ["README", CHECKPOINT_FILE],
        "fresh removes ours, keeps the rest"
    );
}

/// A kill between storing `_SUCCESS` and removing the checkpoint leaves a
/// finished output with a stale checkpoint: the next run reports it
/// finished and removes the leftover, touching nothing else.
#[test]
fn a_kill_between_success_and_the_checkpoint_removal_is_tidied() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, _) = OutputDir::open(dir, HASH, false).unwrap();
    let mut cp = new_checkpoint();
    commit_part(&out, &mut cp, 0, &["r1"]);
    let stale = fs::read(dir.join(CHECKPOINT_FILE)).unwrap();
    out.finish(&manifest(HASH, 1, parts(&cp))).unwrap();
    drop(out);
    fs::write(dir.join(CHECKPOINT_FILE), &stale).unwrap();
    let part = fs::read(dir.join("part-00000.parquet")).unwrap();

    let (_, opened) = OutputDir::open_any(dir, HASH, false, Format::Parquet).unwrap();
    assert!(matches!(opened, Opened::Finished(m) if m.records == 1));
    assert_eq!(
        names(dir),
        [SUCCESS_FILE, MANIFEST_FILE, "part-00000.parquet"],
        "the leftover checkpoint is removed, nothing else"
    );
    assert_eq!(fs::read(dir.join("part-00000.parquet")).unwrap(), part);
}

#[test]
fn a_changed_pipeline_is_refused_unless_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, _) = OutputDir::open(dir, HASH, false).unwrap();
    let mut cp = new_checkpoint();
    commit_part(&out, &mut cp, 0, &["r1"]);
    drop(out); // release the directory lock before reopening
    let err = OutputDir::open(dir, "changed-hash", false).unwrap_err();
    match &err {
        LoadError::PipelineChanged {
            expected, found, ..
        } => {
            assert_eq!(expected, "changed-hash");
            assert_eq!(found, HASH);
        }
        other => panic!("{other:?}"),
    }
    let msg = err.to_string();
    assert!(
        msg.contains("changed-hash") && msg.contains(HASH) && msg.contains("--fresh"),
        "{msg}"
    );
    assert_eq!(names(dir), [CHECKPOINT_FILE, "part-00000.parquet"]);

    let (_, cp) = OutputDir::open(dir, "changed-hash", true).unwrap();
    assert!(cp.is_none());
    assert_eq!(names(dir), [CHECKPOINT_FILE]);
}

#[test]
fn a_missing_or_resized_committed_part_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, _) = OutputDir::open(dir, HASH, false).unwrap();
    let mut cp = new_checkpoint();
    commit_part(&out, &mut cp, 0, &["r1"]);
    commit_part(&out, &mut cp, 1, &["r2"]);
    fs::write(dir.join("part-00001.parquet.inprogress"), b"x").unwrap();

    let p0 = dir.join("part-00000.parquet");
    let bytes = fs::read(&p0).unwrap();
    fs::write(&p0, &bytes[..bytes.len() - 1]).unwrap();
    drop(out); // release the directory lock before reopening
    let err = OutputDir::open(dir, HASH, false).unwrap_err();
    assert!(matches!(err, LoadError::PartTampered { .. }), "{err:?}");
    assert!(err.to_string().contains("part-00000.parquet"), "{err}");
    assert!(err.to_string().contains("expected"), "{err}");

    fs::remove_file(&p0).unwrap();
    let err = OutputDir::open(dir, HASH, false).unwrap_err();
    assert!(matches!(err, LoadError::PartTampered { .. }), "{err:?}");
    assert!(err.to_string().contains("missing"), "{err}");
    // Reported untouched: nothing was cleaned up.
    assert!(dir.join("part-00001.parquet.inprogress").exists());
}

#[test]
fn a_flipped_byte_in_a_committed_part_is_detected() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, _) = OutputDir::open(dir, HASH, false).unwrap();
    let mut cp = new_checkpoint();
    commit_part(&out, &mut cp, 0, &["r1"]);
    drop(out);
    let p0 = dir.join("part-00000.parquet");
    let mut bytes = fs::read(&p0).unwrap();
    bytes[20] ^= 0x01;
    fs::write(&p0, &bytes).unwrap();
    let err = OutputDir::open(dir, HASH, false).unwrap_err();
    assert!(matches!(err, LoadError::PartTampered { .. }), "{err:?}");
    assert!(err.to_string().contains("sha256"), "{err}");
}

#[test]
fn a_corrupt_or_newer_checkpoint_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, _) = OutputDir::open(dir, HASH, false).unwrap();
    let mut cp = new_checkpoint();
    commit_part(&out, &mut cp, 0, &["r1"]);
    let path = dir.join(CHECKPOINT_FILE);

    fs::write(&path, b"{ this is not json").unwrap();
    drop(out); // release the directory lock before reopening
    let err = OutputDir::open(dir, HASH, false).unwrap_err();
    assert!(matches!(err, LoadError::BadCheckpoint { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );

    let mut v = serde_json::to_value(&cp).unwrap();
    v["version"] = serde_json::json!(VERSION + 1);
    fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let err = OutputDir::open(dir, HASH, false).unwrap_err();
    assert!(err.to_string().contains("newer"), "{err}");

    // A checkpoint of the first format is named as such.
    v["version"] = serde_json::json!(1);
    fs::write(&path, serde_json::to_vec(&v).unwrap()).unwrap();
    let err = OutputDir::open(dir, HASH, false).unwrap_err();
    assert!(err.to_string().contains("older"), "{err}");

    // --fresh gets out of it, removing what the (unreadable) checkpoint
    // cannot vouch for only if it is ours: the part stays.
    let err = OutputDir::open(dir, HASH, true).unwrap_err();
    assert!(matches!(err, LoadError::BadCheckpoint { .. }), "{err:?}");
}

#[test]
fn a_foreign_directory_is_refused_even_with_fresh() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    fs::write(dir.join("thesis.docx"), b"precious").unwrap();
    for fresh in [false, true] {
        let err = OutputDir::open(dir, HASH, fresh).unwrap_err();
        assert!(matches!(err, LoadError::ForeignDirectory { .. }), "{err:?}");
        assert!(err.to_string().contains("thesis.docx"), "{err}");
    }
    assert_eq!(names(dir), ["thesis.docx"]);

    // Dot files alone (.gitkeep) do not make a directory foreign.
    let other = tmp.path().join("out");
    fs::create_dir(&other).unwrap();
    fs::write(other.join(".gitkeep"), b"").unwrap();
    OutputDir::open(&other, HASH, false).unwrap();
    assert_eq!(names(&other), [".gitkeep", CHECKPOINT_FILE]);
}

#[test]
fn an_output_path_that_is_a_file_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("out.parquet");
    fs::write(&file, b"x").unwrap();
    let err = OutputDir::open(&file, HASH, false).unwrap_err();
    assert!(matches!(err, LoadError::NotADirectory { .. }), "{err:?}");
    assert!(err.to_string().contains("out.parquet"), "{err}");
}

fn failure(id: &str, message: &str) -> RecordFailure {
    RecordFailure {
        record_id: id.into(),
        table: None,
        stage: Stage::Fetch,
        http_status: Some(503),
        attempts: 5,
        message: message.into(),
    }
}

#[test]
fn errors_csv_is_rfc4180_and_only_when_needed() {
    let tmp = tempfile::tempdir().unwrap();
    let (out, _) = OutputDir::open(tmp.path(), HASH, false).unwrap();
    let path = tmp.path().join(ERRORS_FILE);
    out.write_errors_csv(&[]).unwrap();
    assert!(!path.exists());

    let failures = [
        failure("r1", "HTTP 503 after 5 attempts"),
        RecordFailure {
            record_id: "r,2".into(),
            table: None,
            stage: Stage::Transform,
            http_status: None,
            attempts: 0,
            message: "line 3, column 7: unexpected \"<\"\nin body".into(),
        },
    ];
    out.write_errors_csv(&failures).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "record_id,table,stage,http_status,attempts,message\r\n\
         r1,,fetch,503,5,HTTP 503 after 5 attempts\r\n\
         \"r,2\",,transform,,0,\"line 3, column 7: unexpected \"\"<\"\"\\nin body\"\r\n"
    );
    assert!(!tmp.path().join("_errors.csv.tmp").exists());

    // A resumed run whose failures were retried away removes the stale file.
    out.write_errors_csv(&[]).unwrap();
    assert!(!path.exists());
}

#[test]
fn csv_parts_follow_the_same_protocol() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    let (out, _) = OutputDir::open_as(dir, HASH, false, Format::Csv).unwrap();
    let csv = WriterOptions {
        format: Format::Csv,
        ..opts()
    };
    let mut cp = new_checkpoint();
    let mut w = out.create_part(0, schema(), &csv).unwrap();
    w.write(&batch("r1", 2)).unwrap();
    add_part(&mut cp, w.finish().unwrap(), &["r1"]);
    out.store_checkpoint(&cp).unwrap();
    out.create_part(1, schema(), &csv)
        .unwrap()
        .finish()
        .unwrap();
    drop(out); // release the directory lock before reopening
    let (_, resumed) = OutputDir::open_as(dir, HASH, false, Format::Csv).unwrap();
    assert_eq!(parts(&resumed.unwrap()), parts(&cp));
    assert_eq!(names(dir), [CHECKPOINT_FILE, "part-00000.csv"]);
}

#[test]
fn two_runs_cannot_hold_one_output_directory() {
    let tmp = tempfile::tempdir().expect("tmp");
    let dir = tmp.path().join("out");
    let (first, _) = OutputDir::open(&dir, "h", false).expect("first");
    let second = OutputDir::open(&dir, "h", false);
    match second {
        Err(e @ smartsweep::load::LoadError::Locked { .. }) => {
            assert!(e.to_string().contains("another smartsweep run"), "{e}");
            assert!(e.is_refusal());
        }
        other => panic!("expected Locked, got {other:?}"),
    }
    drop(first);
    OutputDir::open(&dir, "h", false).expect("free again after the first run ends");
}

/// A store without a lock (as object stores are) on which another run
/// stores its first checkpoint between this run's checkpoint read and its
/// listing.
#[derive(Debug)]
struct Racing {
    inner: smartsweep::load::MemoryStore,
    raced: std::sync::atomic::AtomicBool,
}

impl smartsweep::load::Store for Racing {
    fn describe(&self) -> String {
        "racing:".into()
    }
    fn prepare(&mut self, _lock: &str) -> Result<bool, LoadError> {
        Ok(false)
    }
    fn list(&self) -> Result<Vec<smartsweep::load::store::Listed>, LoadError> {
        if !self.raced.swap(true, std::sync::atomic::Ordering::SeqCst) {
            let other = load_common::new_checkpoint(HASH).to_json().unwrap();
            self.inner.put(CHECKPOINT_FILE, &other)?;
        }
        self.inner.list()
    }
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, LoadError> {
        self.inner.read(path)
    }
    fn read_into(&self, path: &str, out: &mut dyn std::io::Write) -> Result<u64, LoadError> {
        self.inner.read_into(path, out)
    }
    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), LoadError> {
        self.inner.put(path, bytes)
    }
    fn delete(&self, path: &str) -> Result<bool, LoadError> {
        self.inner.delete(path)
    }
    fn create_part(&self, path: &str) -> Result<Box<dyn smartsweep::load::PartSink>, LoadError> {
        self.inner.create_part(path)
    }
    fn sync(&self) -> Result<(), LoadError> {
        Ok(())
    }
}

/// Two runs started at the same moment on an object store: the one that
/// finds no checkpoint but then lists the other's is told another run took
/// over (exit 1), not that the output is a foreign directory (exit 2).
#[test]
fn a_checkpoint_appearing_between_read_and_listing_is_a_lost_claim() {
    use smartsweep::load::{Claim, Destination, Output};
    let (inner, files) = smartsweep::load::MemoryStore::new();
    let racing = Racing {
        inner,
        raced: std::sync::atomic::AtomicBool::new(false),
    };
    let mut out = Output::new(Box::new(racing));
    let claim = Claim {
        hash: HASH.into(),
        fresh: false,
        format: Format::Parquet,
        table_dirs: vec![String::new()],
        control_dir: String::new(),
        chains: None,
    };
    let err = out.open(&claim).unwrap_err();
    assert!(matches!(err, LoadError::ClaimLost { .. }), "{err:?}");
    assert!(err.to_string().contains("another run took over"), "{err}");
    // The other run's checkpoint is untouched.
    assert_eq!(
        files.snapshot().keys().collect::<Vec<_>>(),
        [&CHECKPOINT_FILE.to_owned()]
    );
}
