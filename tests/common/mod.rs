//! Shared helpers for the end-to-end tests: an in-process sandbox on
//! 127.0.0.1:0, the `smartsweep` binary, and reading part files back.
#![allow(dead_code)]
// Test helpers: a failed setup step should panic with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use arrow_array::RecordBatch;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use smartsweep::sandbox::{self, SandboxConfig, SandboxHandle};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The demo secret the sandbox uses by default.
pub const SECRET: &str = "smartapp-secret";

/// A sandbox running on its own runtime for the length of a test.
pub struct Sandbox {
    pub rt: tokio::runtime::Runtime,
    pub handle: Option<SandboxHandle>,
    pub api_base: String,
}

impl Sandbox {
    pub fn start(config: SandboxConfig) -> Sandbox {
        Self::start_on("127.0.0.1:0", config)
    }

    pub fn start_on(addr: &str, config: SandboxConfig) -> Sandbox {
        let rt = runtime();
        let handle = rt.block_on(async {
            let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
            sandbox::start(config, listener).await.expect("sandbox")
        });
        let api_base = handle.api_base().to_string();
        Sandbox {
            rt,
            handle: Some(handle),
            api_base,
        }
    }

    pub fn stop(mut self) {
        if let Some(h) = self.handle.take() {
            self.rt.block_on(h.shutdown());
        }
    }
}

/// A two-thread tokio runtime (a sandbox's, or a test's own async work).
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime")
}

/// A sandbox config with `n` records and the given seed.
pub fn config(n: u64, seed: u64) -> SandboxConfig {
    SandboxConfig {
        records: n,
        seed,
        ..SandboxConfig::default()
    }
}

/// `cfg` with every kind of container fault on: failed answers,
/// throttling (with `Retry-After: 0`), resets, truncated and malformed
/// bodies. A run gets through with [`retry_hard`] and exits 3.
pub fn with_every_fault(mut cfg: SandboxConfig) -> SandboxConfig {
    cfg.fail_rate = 0.08;
    cfg.throttle_rate = 0.05;
    cfg.retry_after_s = 0;
    cfg.reset_rate = 0.03;
    cfg.truncate_rate = 0.03;
    cfg.malformed_rate = 0.05;
    cfg
}

/// Run arguments that retry through [`with_every_fault`]: 12 attempts, a
/// 1 ms back-off base, and `part_records` records a part.
pub fn retry_hard(part_records: &str) -> [&str; 6] {
    [
        "--max-attempts",
        "12",
        "--retry-base-ms",
        "1",
        "--part-records",
        part_records,
    ]
}

/// 200 records (seed 4), half of them malformed: a run with a low
/// `--max-failed` aborts with exit 1.
pub fn malformed_flood() -> SandboxConfig {
    let mut cfg = config(200, 4);
    cfg.malformed_rate = 0.5;
    cfg
}

/// Runs `drug_names` into `out`, 5 records a part, against a
/// [`malformed_flood`] it gives up on after `max_failed` failed records.
pub fn flood_run(out: &Path, max_failed: &str) -> Output {
    let sb = Sandbox::start(malformed_flood());
    let o = run(
        "pipelines/drug_names.toml",
        &sb.api_base,
        out,
        &["--max-failed", max_failed, "--part-records", "5"],
    );
    sb.stop();
    o
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// The binary, run from the repository root, with the sandbox's secret.
pub fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_smartsweep"));
    c.current_dir(manifest_dir());
    c.env("SMARTSWEEP_CONSUMER_SECRET", SECRET);
    c.env_remove("RUST_LOG");
    c
}

/// `smartsweep run PIPELINE --api-base BASE --output OUT --quiet ARGS...`
pub fn run_cmd(pipeline: &str, api_base: &str, out: &Path, extra: &[&str]) -> Command {
    let mut c = bin();
    c.arg("run")
        .arg(pipeline)
        .arg("--api-base")
        .arg(api_base)
        .arg("--output")
        .arg(out)
        .arg("--quiet")
        .args(extra);
    c
}

pub fn run(pipeline: &str, api_base: &str, out: &Path, extra: &[&str]) -> Output {
    run_cmd(pipeline, api_base, out, extra)
        .output()
        .expect("run smartsweep")
}

pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap_or(-1)
}

pub fn text(o: &Output) -> String {
    format!(
        "exit {:?}\n--- stdout\n{}\n--- stderr\n{}",
        o.status.code(),
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Part files in name order.
pub fn parts(dir: &Path, ext: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read output dir")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.file_name()
                .and_then(|n| n.to_str())
                .is_some_and(|n| n.starts_with("part-") && n.ends_with(&format!(".{ext}")))
        })
        .collect();
    v.sort();
    v
}

pub fn read_parquet(path: &Path) -> Vec<RecordBatch> {
    let f = std::fs::File::open(path).expect("open part");
    let reader = ParquetRecordBatchReaderBuilder::try_new(f)
        .expect("parquet")
        .build()
        .expect("reader");
    reader.map(|b| b.expect("batch")).collect()
}

/// Every row of the Parquet parts in `dir`, in part order, tab-separated.
/// Statement URIs carry the container's address, which differs between two
/// sandboxes serving the same records: `http://127.0.0.1:<port>` is written
/// `http://sandbox`.
pub fn rows(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for p in parts(dir, "parquet") {
        for b in read_parquet(&p) {
            out.extend(format_rows(&b).into_iter().map(|r| without_port(&r)));
        }
    }
    out
}

pub fn without_port(row: &str) -> String {
    let mut out = String::with_capacity(row.len());
    let mut rest = row;
    while let Some(i) = rest.find("http://127.0.0.1:") {
        out.push_str(&rest[..i]);
        out.push_str("http://sandbox");
        rest =
            rest[i + "http://127.0.0.1:".len()..].trim_start_matches(|c: char| c.is_ascii_digit());
    }
    out.push_str(rest);
    out
}

pub fn format_rows(b: &RecordBatch) -> Vec<String> {
    use arrow_cast::display::{ArrayFormatter, FormatOptions};
    let opts = FormatOptions::default().with_null("<null>");
    let fmts: Vec<ArrayFormatter> = b
        .columns()
        .iter()
        .map(|c| ArrayFormatter::try_new(c.as_ref(), &opts).expect("formatter"))
        .collect();
    (0..b.num_rows())
        .map(|i| {
            fmts.iter()
                .map(|f| f.value(i).to_string())
                .collect::<Vec<_>>()
                .join("\t")
        })
        .collect()
}

/// `_errors.csv` record ids, in file order.
pub fn error_ids(dir: &Path) -> Vec<String> {
    match std::fs::read_to_string(dir.join("_errors.csv")) {
        Ok(t) => t
            .lines()
            .skip(1)
            .filter_map(|l| l.split(',').next().map(|s| s.trim_matches('"').to_string()))
            .collect(),
        Err(_) => Vec::new(),
    }
}

pub fn manifest(dir: &Path) -> serde_json::Value {
    let t = std::fs::read_to_string(dir.join("_manifest.json")).expect("manifest");
    serde_json::from_str(&t).expect("manifest json")
}

/// A client config for the sandbox's default app and secret.
pub fn client_config(api_base: &str) -> smartsweep::extract::ClientConfig {
    smartsweep::extract::ClientConfig {
        api_base: api_base.to_string(),
        app_id: smartsweep::pipeline::DEFAULT_APP_ID.to_string(),
        consumer_key: smartsweep::pipeline::DEFAULT_APP_ID.to_string(),
        consumer_secret: smartsweep::secret::Secret::new(SECRET),
        ca_file: None,
        connect_timeout: std::time::Duration::from_secs(5),
        request_timeout: std::time::Duration::from_secs(30),
        max_body_bytes: 64 << 20,
        max_record_bytes: smartsweep::extract::defaults::MAX_RECORD_MIB << 20,
        manifest_timeout: smartsweep::extract::defaults::MANIFEST_TIMEOUT,
        retry: smartsweep::extract::RetryPolicy::default(),
    }
}

/// Write each record's medications answer of a generated population to
/// `dir/<id>.rdf`, for a `--from-dir` sandbox (which serves bytes as they
/// are, ignoring filters like an old proxy would). Returns the ids.
pub fn dump_records(config: SandboxConfig, dir: &Path) -> Vec<String> {
    let ids = sandbox::record_ids(&config);
    let generator = Sandbox::start(config);
    std::fs::create_dir_all(dir).expect("mkdir");
    let client =
        smartsweep::extract::Client::new(client_config(&generator.api_base)).expect("client");
    generator.rt.block_on(async {
        for id in &ids {
            let t = client.mint(id).await.expect("mint");
            let f = client
                .fetch(&t, "medications", &[], None)
                .await
                .expect("fetch");
            std::fs::write(dir.join(format!("{id}.rdf")), &f.pages[0]).expect("write");
        }
    });
    generator.stop();
    ids
}

/// A sandbox serving `dir/<id>.rdf` files.
pub fn from_dir(dir: &Path) -> SandboxConfig {
    SandboxConfig {
        from_dir: Some(dir.to_path_buf()),
        ..SandboxConfig::default()
    }
}

/// `smartsweep audit --quiet --rxnorm CODE --api-base BASE --output OUT`
pub fn audit(code: &str, api_base: &str, out: &Path) -> Output {
    bin()
        .args([
            "audit",
            "--quiet",
            "--rxnorm",
            code,
            "--api-base",
            api_base,
            "--output",
        ])
        .arg(out)
        .output()
        .expect("audit")
}

/// Runs `f` and returns its result with how long it took.
pub fn timed<T>(f: impl FnOnce() -> T) -> (T, std::time::Duration) {
    let t0 = std::time::Instant::now();
    let out = f();
    (out, t0.elapsed())
}

/// Waits up to `limit` for `child` to exit.
pub fn wait_until(
    child: &mut std::process::Child,
    limit: std::time::Duration,
) -> Option<std::process::ExitStatus> {
    let t0 = std::time::Instant::now();
    loop {
        if let Some(s) = child.try_wait().expect("try_wait") {
            return Some(s);
        }
        if t0.elapsed() >= limit {
            return None;
        }
        std::thread::sleep(std::time::Duration::from_millis(3));
    }
}

/// SIGKILLs the command `make` builds at random moments until a run of it
/// exits (which must be with 0), and returns the number of kills. The
/// moments are fractions of `whole`, how long an uninterrupted run took on
/// this machine just before, so the kills land inside the run however fast
/// or loaded the machine is: the first three within its first third, later
/// ones further in (and growing), so that the loop ends. `after_kill` sees
/// each kill's number once the process is reaped.
pub fn kill_until_done(
    mut make: impl FnMut() -> Command,
    whole: std::time::Duration,
    seed: u64,
    mut after_kill: impl FnMut(u32),
) -> u32 {
    use rand::{Rng, SeedableRng};
    let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
    let mut kills = 0u32;
    loop {
        let mut child = make()
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("spawn");
        let wait = if kills < 3 {
            whole.mul_f64(rng.random_range(0.05..0.3))
        } else {
            whole.mul_f64(rng.random_range(0.1..0.9))
                + std::time::Duration::from_millis(40 * u64::from(kills))
        };
        match wait_until(&mut child, wait) {
            Some(status) => {
                assert_eq!(status.code(), Some(0), "the final run failed");
                return kills;
            }
            None => {
                child.kill().expect("SIGKILL");
                child.wait().expect("reap");
                kills += 1;
                after_kill(kills);
                assert!(kills < 150, "the run never finished despite resuming");
            }
        }
    }
}
