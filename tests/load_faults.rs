//! Real write failures: a full disk and a read-only file system (tiny tmpfs
//! mounts, which need root: the tests say "skipped" and pass when `mount`
//! is refused), a directory the kernel refuses (`/sys`), and a path under a
//! regular file. Each must give a clean `LoadError` naming the path, and
//! leave the committed parts and the checkpoint intact.
//!
//! Tests run as root here, where `chmod 0500` stops nothing; these are
//! failures the kernel really returns.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow_array::{RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
mod load_common;

use load_common::{OutputDir, add_part};
use smartsweep::checkpoint::Checkpoint;
use smartsweep::load::{CHECKPOINT_FILE, Compression, LoadError, PartWriter, WriterOptions};
use smartsweep::record::RecordId;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

const HASH: &str = "h";

/// A tmpfs mounted for one test, unmounted on drop.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, options: &str) -> Option<Tmpfs> {
        let ok = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(path)
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if ok {
            Some(Tmpfs {
                path: path.to_path_buf(),
            })
        } else {
            eprintln!(
                "skipped: cannot mount a tmpfs on {} (needs root)",
                path.display()
            );
            None
        }
    }

    fn remount(&self, options: &str) -> bool {
        Command::new("mount")
            .args(["-o", &format!("remount,{options}")])
            .arg(&self.path)
            .status()
            .is_ok_and(|s| s.success())
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.path).status();
    }
}

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("record_id", DataType::Utf8, false),
        Field::new("payload", DataType::Utf8, true),
    ]))
}

/// `rows` rows of 64 hex characters that do not compress.
fn batch(id: &str, rows: usize, seed: usize) -> RecordBatch {
    use sha2::{Digest, Sha256};
    let payload = (0..rows).map(|i| {
        Sha256::digest(format!("{seed}-{i}"))
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect::<String>()
    });
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values((0..rows).map(|_| id))),
            Arc::new(StringArray::from_iter_values(payload)),
        ],
    )
    .unwrap()
}

fn opts() -> WriterOptions {
    WriterOptions {
        compression: Compression::None,
        row_group_rows: 1000,
        row_group_bytes: 16 * 1024,
        stage_rows: 100,
        ..WriterOptions::default()
    }
}

/// Opens `dir`, commits part 0 and a checkpoint; returns them and a copy
/// of the committed bytes.
fn committed_state(dir: &Path) -> (OutputDir, Checkpoint, Vec<(PathBuf, Vec<u8>)>) {
    let (out, cp) = OutputDir::open(dir, HASH, false).unwrap();
    assert!(cp.is_none());
    let mut cp = load_common::new_checkpoint(HASH);
    let mut w = out.create_part(0, schema(), &opts()).unwrap();
    w.write(&batch("r1", 20, 1)).unwrap();
    add_part(&mut cp, w.finish().unwrap(), &["r1"]);
    out.store_checkpoint(&cp).unwrap();
    let files = [dir.join("part-00000.parquet"), dir.join(CHECKPOINT_FILE)]
        .into_iter()
        .map(|p| {
            let bytes = fs::read(&p).unwrap();
            (p, bytes)
        })
        .collect();
    (out, cp, files)
}

fn assert_intact(dir: &Path, files: &[(PathBuf, Vec<u8>)]) {
    for (path, bytes) in files {
        assert_eq!(
            &fs::read(path).unwrap(),
            bytes,
            "{} changed",
            path.display()
        );
    }
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [CHECKPOINT_FILE, "part-00000.parquet"],
        "only the committed state is left"
    );
}

#[test]
fn disk_full_aborts_cleanly_and_keeps_the_committed_state() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(tmp.path(), "size=256k,mode=0700") else {
        return;
    };
    let dir = mnt.path.join("out");
    let (out, cp, files) = committed_state(&dir);

    // 1. A part larger than the disk: the error comes from write or finish.
    let mut w = out.create_part(1, schema(), &opts()).unwrap();
    let mut err = None;
    for r in 0..200 {
        if let Err(e) = w.write(&batch("r2", 50, r)) {
            err = Some(e);
            break;
        }
    }
    let err = match err {
        Some(e) => {
            w.abort();
            e
        }
        None => w.finish().unwrap_err(),
    };
    assert!(err.is_disk_full(), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("part-00001.parquet.inprogress"), "{msg}");
    assert!(
        msg.contains("free space or point --output elsewhere"),
        "{msg}"
    );
    assert_intact(&dir, &files);

    // 2. The disk is full to the last page: the footer of a small part,
    //    and a checkpoint update, both fail without a trace.
    let filler_path = mnt.path.join("filler");
    let mut filler = fs::File::create(&filler_path).unwrap();
    let chunk = vec![0u8; 4096];
    while filler.write_all(&chunk).is_ok() {}
    drop(filler);
    // A zero-length file needs no data page: the temp part can be created.
    let mut w = out.create_part(1, schema(), &opts()).unwrap();
    w.write(&batch("r2", 3, 0)).unwrap(); // staged in memory
    let err = w.finish().unwrap_err();
    assert!(err.is_disk_full(), "{err:?}");
    let mut bigger = cp.clone();
    for i in 0..100 {
        bigger.mark_done(0, &RecordId::new(format!("record-{i:04}")));
    }
    let err = out.store_checkpoint(&bigger).unwrap_err();
    assert!(err.is_disk_full(), "{err:?}");
    assert!(err.to_string().contains("_checkpoint.json.tmp"), "{err}");
    fs::remove_file(&filler_path).unwrap();
    assert_intact(&dir, &files);

    // 3. With space again, the same command resumes from the checkpoint.
    drop(out); // the first run ends and releases the directory lock
    let (_, resumed) = OutputDir::open(&dir, HASH, false).unwrap();
    assert_eq!(resumed.unwrap(), cp);
}

#[test]
fn a_read_only_file_system_gives_a_clean_error() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(tmp.path(), "size=1m,mode=0700") else {
        return;
    };
    let dir = mnt.path.join("out");
    let (out, cp, files) = committed_state(&dir);
    assert!(mnt.remount("ro"), "remount read-only");

    let err = out.create_part(1, schema(), &opts()).unwrap_err();
    assert!(matches!(err, LoadError::NotWritable { .. }), "{err:?}");
    let msg = err.to_string();
    assert!(msg.contains("output directory is not writable"), "{msg}");
    assert!(msg.contains("part-00001.parquet.inprogress"), "{msg}");

    let err = out.store_checkpoint(&cp).unwrap_err();
    assert!(matches!(err, LoadError::NotWritable { .. }), "{err:?}");

    // Resuming on it is refused at open, before any network call.
    drop(out); // the first run ends and releases the directory lock
    let err = OutputDir::open(&dir, HASH, false).unwrap_err();
    assert!(matches!(err, LoadError::NotWritable { .. }), "{err:?}");
    assert!(
        err.to_string().contains(&dir.display().to_string()),
        "{err}"
    );
    // ... and so is a new output under it.
    let err = OutputDir::open(&mnt.path.join("new"), HASH, false).unwrap_err();
    assert!(matches!(err, LoadError::NotWritable { .. }), "{err:?}");
    assert!(err.to_string().contains("new"), "{err}");
    assert_intact(&dir, &files);
}

#[test]
fn a_directory_the_kernel_refuses() {
    // sysfs refuses mkdir to everyone, root included.
    if !Path::new("/sys/kernel").is_dir() {
        eprintln!("skipped: no /sys");
        return;
    }
    let path = Path::new("/sys/smartsweep-test-out");
    let err = OutputDir::open(path, HASH, false).unwrap_err();
    assert!(matches!(err, LoadError::NotWritable { .. }), "{err:?}");
    assert!(
        err.to_string().contains("/sys/smartsweep-test-out"),
        "{err}"
    );
}

#[test]
fn a_path_under_a_regular_file() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("plain-file");
    fs::write(&file, b"x").unwrap();
    let path = file.join("out");
    let err = OutputDir::open(&path, HASH, false).unwrap_err();
    assert!(
        err.to_string().contains(&path.display().to_string()),
        "{err}"
    );
    let err = PartWriter::create(&file, 0, schema(), &opts()).unwrap_err();
    assert!(
        err.to_string().contains("plain-file/part-00000.parquet"),
        "{err}"
    );
}

#[test]
fn a_csv_part_on_a_full_disk_fails_without_panicking() {
    let tmp = tempfile::tempdir().unwrap();
    let Some(mnt) = Tmpfs::mount(tmp.path(), "size=128k,mode=0700") else {
        return;
    };
    let dir = mnt.path.join("out");
    let (out, _) = OutputDir::open(&dir, HASH, false).unwrap();
    let csv = WriterOptions {
        format: smartsweep::load::Format::Csv,
        ..opts()
    };
    // More than the CSV buffer and the disk: a write fails ...
    let mut w = out.create_part(0, schema(), &csv).unwrap();
    let mut failed = None;
    for r in 0..100 {
        if let Err(e) = w.write(&batch("r", 100, r)) {
            failed = Some(e);
            break;
        }
    }
    let err = failed.expect("128 KiB cannot hold 650 KB");
    assert!(err.is_disk_full(), "{err:?}");
    // ... and the part refuses to go on, then to be finished: no panic, no
    // final name, no temp file.
    let again = w.write(&batch("r", 1, 0)).unwrap_err();
    assert!(again.to_string().contains("earlier write"), "{again}");
    let err = w.finish().unwrap_err();
    assert!(err.to_string().contains("earlier write"), "{err}");
    let left: Vec<String> = fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(left, [CHECKPOINT_FILE], "no part, no temp file");
}
