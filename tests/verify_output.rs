//! `smartsweep verify` end to end: a sound output passes; a flipped byte, a
//! truncated part, a missing part, an extra part, another schema and a
//! part the reader refuses are each named on a line of their own (exit 1);
//! something that is not an output is exit 2 with a hint. A resume refuses
//! a corrupt part with the same check before writing anything.

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use common::*;
use sha2::{Digest, Sha256};
use std::fs;
use std::path::Path;
use std::process::Output;

fn verify(out: &Path) -> Output {
    bin().arg("verify").arg(out).output().expect("verify")
}

fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

fn problem_lines(o: &Output) -> Vec<String> {
    stdout(o)
        .lines()
        .filter(|l| l.starts_with("problem: "))
        .map(str::to_owned)
        .collect()
}

/// A finished output of `n` records in parts of 20 records.
fn finished(dir: &Path, n: u64, format: &str) {
    let sb = Sandbox::start(config(n, 7));
    let o = run(
        "pipelines/medications.toml",
        &sb.api_base,
        dir,
        &["--part-records", "20", "--format", format],
    );
    sb.stop();
    assert_eq!(code(&o), 0, "{}", text(&o));
}

fn hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Rewrites the manifest's or checkpoint's record of `file` (every list
/// that names it) to `bytes`, so that only the deeper checks can object.
fn rerecord(control: &Path, file: &str, bytes: &[u8], rows: Option<u64>) {
    let mut v: serde_json::Value = serde_json::from_slice(&fs::read(control).unwrap()).unwrap();
    fn walk(v: &mut serde_json::Value, file: &str, bytes: &[u8], rows: Option<u64>) {
        match v {
            serde_json::Value::Object(m) => {
                if m.get("file").and_then(|f| f.as_str()) == Some(file) {
                    m.insert("bytes".into(), bytes.len().into());
                    m.insert("sha256".into(), hex(bytes).into());
                    if let Some(r) = rows {
                        m.insert("rows".into(), r.into());
                    }
                }
                for x in m.values_mut() {
                    walk(x, file, bytes, rows);
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(|x| walk(x, file, bytes, rows)),
            _ => {}
        }
    }
    walk(&mut v, file, bytes, rows);
    fs::write(control, serde_json::to_vec_pretty(&v).unwrap()).unwrap();
}

#[test]
fn verify_names_a_flipped_byte_a_truncated_missing_or_extra_part() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    finished(&out, 120, "parquet");
    let o = verify(&out);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(
        stdout(&o).contains("(finished) is sound: 6 part(s)"),
        "{}",
        text(&o)
    );

    let p1 = out.join("part-00001.parquet");
    let p2 = out.join("part-00002.parquet");
    let p3 = out.join("part-00003.parquet");
    let (b1, b2) = (fs::read(&p1).unwrap(), fs::read(&p2).unwrap());
    let mut flipped = b1.clone();
    flipped[b1.len() / 2] ^= 0x20;
    fs::write(&p1, &flipped).unwrap();
    fs::write(&p2, &b2[..b2.len() - 7]).unwrap();
    fs::rename(&p3, tmp.path().join("moved-away")).unwrap();
    fs::copy(
        out.join("part-00000.parquet"),
        out.join("part-00042.parquet"),
    )
    .unwrap();

    let o = verify(&out);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let lines = problem_lines(&o);
    assert_eq!(lines.len(), 4, "{}", text(&o));
    assert!(
        lines[0].starts_with("problem: `part-00001.parquet`: changed (sha256 "),
        "{lines:?}"
    );
    let short = format!("{} bytes, expected {}", b2.len() - 7, b2.len());
    assert!(lines[1].starts_with("problem: `part-00002.parquet`:") && lines[1].contains(&short));
    assert_eq!(lines[2], "problem: `part-00003.parquet`: missing");
    assert!(
        lines[3].starts_with("problem: `part-00042.parquet`: extra"),
        "{lines:?}"
    );
    assert!(stdout(&o).contains("4 problem(s)"), "{}", text(&o));
}

#[test]
fn verify_reads_every_part_and_checks_rows_and_schemas() {
    let tmp = tempfile::tempdir().expect("tmp");
    // CSV: a part with another header, recorded as if it were committed so.
    let csv = tmp.path().join("csv");
    finished(&csv, 60, "csv");
    assert_eq!(code(&verify(&csv)), 0);
    let part = "part-00001.csv";
    let text_of = fs::read_to_string(csv.join(part)).unwrap();
    let (header, body) = text_of.split_once("\r\n").unwrap();
    let second = header
        .split(',')
        .nth(1)
        .expect("a second column")
        .to_owned();
    let renamed = format!("{}\r\n{body}", header.replacen(&second, "renamed", 1));
    fs::write(csv.join(part), &renamed).unwrap();
    rerecord(&csv.join("_manifest.json"), part, renamed.as_bytes(), None);
    let o = verify(&csv);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let lines = problem_lines(&o);
    assert_eq!(lines.len(), 1, "{lines:?}");
    assert!(
        lines[0].contains("`part-00001.csv`: schema differs"),
        "{lines:?}"
    );
    assert!(
        lines[0].contains("renamed") && lines[0].contains(&second),
        "{lines:?}"
    );

    // Parquet: a part whose recorded rows are wrong, and one that is not
    // Parquet at all (hash and size recorded, so only the reader objects).
    let pq = tmp.path().join("pq");
    finished(&pq, 60, "parquet");
    let b0 = fs::read(pq.join("part-00000.parquet")).unwrap();
    rerecord(
        &pq.join("_manifest.json"),
        "part-00000.parquet",
        &b0,
        Some(1),
    );
    let junk = b"PAR1 this is not a parquet file PAR1".to_vec();
    fs::write(pq.join("part-00002.parquet"), &junk).unwrap();
    rerecord(
        &pq.join("_manifest.json"),
        "part-00002.parquet",
        &junk,
        None,
    );
    let o = verify(&pq);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let out = stdout(&o);
    assert!(
        out.contains("`part-00000.parquet`: inconsistent ("),
        "{out}"
    );
    assert!(out.contains("rows in the file, 1 committed"), "{out}");
    assert!(
        out.contains("`part-00002.parquet`: unreadable (not a Parquet file"),
        "{out}"
    );
    assert!(
        out.contains("`_manifest.json`: table"),
        "the totals no longer add up: {out}"
    );
}

#[test]
fn verify_an_unfinished_output_and_a_resume_refusing_a_corrupt_part() {
    let sb = Sandbox::start(malformed_flood());
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let args = ["--max-failed", "8", "--part-records", "5"];
    let o = run("pipelines/drug_names.toml", &sb.api_base, &out, &args);
    assert_eq!(code(&o), 1, "{}", text(&o));
    let o = verify(&out);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert!(stdout(&o).contains("(unfinished) is sound"), "{}", text(&o));

    // Same size and hash as recorded, but not a readable part: the resume
    // refuses it before writing anything.
    let part = "part-00000.parquet";
    let junk = vec![b'x'; 64];
    fs::write(out.join(part), &junk).unwrap();
    rerecord(&out.join("_checkpoint.json"), part, &junk, None);
    let before = fs::read(out.join("_checkpoint.json")).unwrap();
    let o = run("pipelines/drug_names.toml", &sb.api_base, &out, &args);
    sb.stop();
    assert_eq!(code(&o), 2, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains(part) && err.contains("unreadable"), "{err}");
    assert_eq!(
        fs::read(out.join("_checkpoint.json")).unwrap(),
        before,
        "the checkpoint was touched"
    );
    assert_eq!(code(&verify(&out)), 1);
}

#[test]
fn verify_and_report_refuse_what_is_not_an_output_with_exit_2_and_a_hint() {
    let tmp = tempfile::tempdir().expect("tmp");
    let plain = tmp.path().join("plain");
    fs::create_dir(&plain).unwrap();
    fs::write(plain.join("notes.txt"), b"hello").unwrap();
    let file = tmp.path().join("a-file");
    fs::write(&file, b"x").unwrap();
    let missing = tmp.path().join("missing");
    for cmd in ["verify", "report", "status"] {
        for (dir, what) in [
            (&plain, "found `notes.txt`"),
            (&file, "it is a file"),
            (&missing, "empty or does not exist"),
        ] {
            let o = bin().arg(cmd).arg(dir).output().expect("run");
            assert_eq!(code(&o), 2, "{cmd} {}: {}", dir.display(), text(&o));
            let err = String::from_utf8_lossy(&o.stderr);
            assert!(err.contains("is not a smartsweep output"), "{err}");
            assert!(err.contains(what), "{err}");
            assert!(err.contains(&dir.display().to_string()), "{err}");
            assert!(err.contains("hint: give the directory"), "{err}");
        }
    }
    assert!(!missing.exists(), "nothing is created");
    assert!(!plain.join("_report.html").exists(), "nothing is written");
}
