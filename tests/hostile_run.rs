//! The binary against hostile containers and hostile directories (issue
//! "Hostile containers and hostile directories"): each test reproduces one
//! defect against a misbehaving server of our own (`tests/hostile`, bound to
//! 127.0.0.1, stopping by itself) or a planted directory, and checks the fix.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod hostile;

use common::{bin, code, text};
use hostile::{DataBody, Hostile, HostileServer};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::Duration;

/// `smartsweep run pipelines/drug_names.toml` against `server`.
fn run_against(server: &HostileServer, out: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.env("SMARTSWEEP_CONSUMER_SECRET", hostile::SECRET)
        .args(["run", "pipelines/drug_names.toml", "--quiet", "--api-base"])
        .arg(server.api_base())
        .args([
            "--app-id",
            hostile::APP_ID,
            "--max-attempts",
            "2",
            "--retry-base-ms",
            "1",
        ])
        .arg("--output")
        .arg(out)
        .args(extra);
    c
}

/// Runs `cmd` to its end; its output and its peak resident memory (MiB).
fn run_measured(mut cmd: Command) -> (Output, f64) {
    let child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let pid = child.id() as libc::pid_t;
    // Read the pipes on threads so a chatty child cannot block.
    let mut child = child;
    let mut so = child.stdout.take().unwrap();
    let mut se = child.stderr.take().unwrap();
    let t1 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut so, &mut v).ok();
        v
    });
    let t2 = std::thread::spawn(move || {
        let mut v = Vec::new();
        std::io::Read::read_to_end(&mut se, &mut v).ok();
        v
    });
    let mut status = 0;
    // SAFETY: an all-zero rusage is a valid value for wait4 to fill in.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: `pid` is our child; status and usage point at live locals.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    assert_eq!(r, pid, "wait4");
    let stdout = t1.join().unwrap();
    let stderr = t2.join().unwrap();
    use std::os::unix::process::ExitStatusExt;
    let out = Output {
        status: std::process::ExitStatus::from_raw(status),
        stdout,
        stderr,
    };
    (out, usage.ru_maxrss as f64 / 1024.0)
}

fn errors_csv(out: &Path) -> String {
    std::fs::read_to_string(out.join("_errors.csv")).unwrap_or_default()
}

#[test]
fn entity_bombs_fail_their_records_cleanly_in_bounded_memory() {
    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<String> = (0..40).map(|i| format!("r{i:03}")).collect();
    let server = Hostile::new()
        .records(&ids)
        .data_body(DataBody::BillionLaughs)
        .start();
    let out = tmp.path().join("out");
    let cmd = run_against(&server, &out, &["--concurrency", "16", "--breaker", "0"]);
    let (o, peak_mib) = run_measured(cmd);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let errors = errors_csv(&out);
    assert_eq!(
        errors.lines().count(),
        41,
        "every record listed once: {errors}"
    );
    assert!(errors.contains("entit"), "{errors}");
    assert!(
        peak_mib < 120.0,
        "peak RSS {peak_mib:.1} MiB at --concurrency 16 (a bomb expands to GiBs)"
    );
}

#[test]
fn a_cursor_cycle_is_fatal_and_names_the_id() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Hostile::new()
        .records(["A", "B", "C"])
        .cycle_back_to("A")
        .start();
    let out = tmp.path().join("out");
    let o = run_against(&server, &out, &[]).output().unwrap();
    assert_eq!(code(&o), 1, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("`A`") && err.contains("cycle"), "{err}");
    assert!(!out.join("_SUCCESS").exists());
}

#[test]
fn endless_pages_are_bounded_per_record() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Hostile::new()
        .records(["1", "2"])
        .endless_pages(256 * 1024)
        .start();
    let out = tmp.path().join("out");
    let (o, peak_mib) = run_measured(run_against(
        &server,
        &out,
        &[
            "--page-size",
            "10",
            "--max-record-mib",
            "4",
            "--breaker",
            "0",
        ],
    ));
    assert_eq!(code(&o), 3, "{}", text(&o));
    let errors = errors_csv(&out);
    assert!(errors.contains("--max-record-mib"), "{errors}");
    assert!(peak_mib < 120.0, "peak RSS {peak_mib:.1} MiB");
}

#[test]
fn server_text_is_quoted_short_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Hostile::new()
        .records(["1", "2", "3"])
        .data_body(DataBody::NonXml(10 * 1024 * 1024))
        .start();
    let out = tmp.path().join("out");
    let o = run_against(&server, &out, &["--breaker", "0", "--max-body-mib", "32"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 3, "{}", text(&o));
    assert!(
        o.stderr.len() < 16 * 1024,
        "stderr is {} bytes",
        o.stderr.len()
    );
    for f in ["_errors.csv", "_manifest.json"] {
        let bytes = std::fs::read(out.join(f)).unwrap();
        assert!(bytes.len() < 32 * 1024, "{f} is {} bytes", bytes.len());
        assert!(!bytes.contains(&0x1b), "{f} holds a raw ESC");
    }
    let errors = errors_csv(&out);
    for line in errors.lines().skip(1) {
        assert!(line.len() < 1024, "an error line of {} bytes", line.len());
    }
}

#[test]
fn hostile_record_ids_are_neither_formulas_nor_forged_lines() {
    let tmp = tempfile::tempdir().unwrap();
    // (No `/`: the container routes an id as one path segment, so an id with
    // `/` cannot be fetched at all; that case has its own message.)
    let ids = [
        "=cmd|' -C calc'!A0",
        "+1",
        "@SUM(A1)",
        "x\ny",
        "bell\u{7}esc\u{1b}[2J",
        "nul\u{0}z",
    ];
    let server = Hostile::new().records(ids).data_status(403).start();
    let out = tmp.path().join("out");
    let o = run_against(&server, &out, &["--breaker", "0"])
        .env("NO_COLOR", "")
        .output()
        .unwrap();
    let errors = errors_csv(&out);
    assert!(!errors.is_empty(), "{}", text(&o));
    for line in errors.lines().skip(1) {
        let first = line.chars().next().unwrap();
        assert!(!"=+-@\t\r".contains(first), "formula cell: {line:?}");
    }
    assert!(!errors.contains('\u{1b}') && !errors.contains('\u{0}') && !errors.contains('\u{7}'));
    assert_eq!(errors.lines().count(), 1 + ids.len(), "{errors}");
    // The log: no raw control character, no forged line, no colour codes.
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(!err.contains('\u{1b}'), "{err}");
    assert!(
        !err.lines().any(|l| l.starts_with('y')),
        "a newline in an id forged a line: {err}"
    );
}

#[test]
fn preview_escapes_what_it_prints() {
    let server = Hostile::new()
        .records(["t\u{1b}]0;pwned\u{7}", "2"])
        .drug_title("Aspirin\u{1b}[2J\u{1b}]0;owned\u{7} 81 MG")
        .start();
    let o = bin()
        .env("SMARTSWEEP_CONSUMER_SECRET", hostile::SECRET)
        .args([
            "preview",
            "pipelines/drug_names.toml",
            "--records",
            "2",
            "--api-base",
        ])
        .arg(server.api_base())
        .args(["--app-id", hostile::APP_ID])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    let shown = String::from_utf8_lossy(&o.stdout);
    assert!(shown.contains("Aspirin\\u{1b}[2J"), "{shown}");
    assert!(
        !o.stdout.contains(&0x1b) && !o.stdout.contains(&0x07),
        "{shown}"
    );
    assert!(
        !o.stderr.contains(&0x1b),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

#[test]
fn every_record_refused_is_not_a_finished_export() {
    let tmp = tempfile::tempdir().unwrap();
    for (status, n, breaker) in [(401u16, 8usize, "0"), (403, 80, "50")] {
        let ids: Vec<String> = (0..n).map(|i| format!("{i:03}")).collect();
        let server = Hostile::new().records(&ids).data_status(status).start();
        let out = tmp.path().join(format!("out-{status}"));
        let o = run_against(&server, &out, &["--breaker", breaker])
            .output()
            .unwrap();
        assert_eq!(code(&o), 1, "{}", text(&o));
        let err = String::from_utf8_lossy(&o.stderr);
        assert!(err.contains(&format!("HTTP {status}")), "{err}");
        assert!(err.contains("consumer key and secret"), "{err}");
        assert!(
            !out.join("_SUCCESS").exists(),
            "a refused export must not look finished"
        );
        assert!(
            out.join("_checkpoint.json").exists(),
            "resumable once fixed"
        );
        if breaker != "0" {
            assert!(
                server.requests() < 200,
                "the breaker should stop early, not after {} requests",
                server.requests()
            );
        }
    }
}

#[test]
fn an_html_page_with_200_is_named_as_such() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Hostile::new()
        .records(["1"])
        .data_body(DataBody::Html)
        .start();
    let out = tmp.path().join("out");
    let o = run_against(&server, &out, &[]).output().unwrap();
    assert_eq!(code(&o), 3, "{}", text(&o));
    let errors = errors_csv(&out);
    assert!(errors.contains("text/html"), "{errors}");
    assert!(!errors.contains("namespaces are required"), "{errors}");
}

#[test]
fn a_slow_manifest_does_not_hold_the_run() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Hostile::new()
        .records(["1", "2"])
        .slow_manifest(Duration::from_secs(100))
        .start();
    let out = tmp.path().join("out");
    let t0 = std::time::Instant::now();
    let o = run_against(&server, &out, &[]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    // The manifest is informational: far less than its 100 s delay.
    assert!(t0.elapsed() < Duration::from_secs(60), "{:?}", t0.elapsed());
}

#[test]
fn files_smartsweep_did_not_write_are_never_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Hostile::new().records(["1"]).start();
    for (name, fresh) in [
        ("part-0.parquet", false),
        ("part-00000.csv", false),
        ("part-00000.parquet", true),
        ("_SUCCESS", false),
        ("_SUCCESS", true),
    ] {
        let out = tmp.path().join(format!("{name}-{fresh}"));
        std::fs::create_dir(&out).unwrap();
        std::fs::write(out.join(name), b"another tool's").unwrap();
        let mut cmd = run_against(&server, &out, &[]);
        if fresh {
            cmd.arg("--fresh");
        }
        let o = cmd.output().unwrap();
        assert_eq!(code(&o), 2, "{name} fresh={fresh}: {}", text(&o));
        assert!(text(&o).contains("hint:"), "{}", text(&o));
        assert!(!text(&o).contains("already finished"), "{}", text(&o));
        assert_eq!(std::fs::read(out.join(name)).unwrap(), b"another tool's");
        assert_eq!(
            std::fs::read_dir(&out).unwrap().count(),
            1,
            "nothing else written"
        );
    }
}

#[test]
fn planted_symlinks_are_not_followed_and_shared_directories_are_tightened() {
    let tmp = tempfile::tempdir().unwrap();
    let server = Hostile::new().records(["1", "2"]).start();
    let victim = tmp.path().join("victim.txt");
    std::fs::write(&victim, b"precious").unwrap();
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).unwrap();
    std::fs::set_permissions(&out, std::fs::Permissions::from_mode(0o777)).unwrap();
    std::os::unix::fs::symlink(&victim, out.join("_checkpoint.json.tmp")).unwrap();
    let o = run_against(&server, &out, &[]).output().unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(
        std::fs::read(&victim).unwrap(),
        b"precious",
        "the link's target was written"
    );
    let mode = std::fs::metadata(&out).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o700, "a world-writable output of ours is tightened");
}
