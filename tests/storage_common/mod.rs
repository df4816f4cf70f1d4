//! Shared helpers of the storage tests: an S3-compatible server (moto's
//! server mode, started by `tests/interop/moto_server.py` on 127.0.0.1), a
//! TCP proxy in front of it that can be stopped and restarted (a store
//! that fails mid-run), and reading an object-store output back.
//!
//! Without the `moto` package the S3 tests skip with a message; with
//! `CI=true` or `SMARTSWEEP_REQUIRE_INTEROP=1` they fail instead.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjPath;
use object_store::{ObjectStore, ObjectStoreExt};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// True when the interop packages must be there (CI).
pub fn required() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
        || std::env::var("SMARTSWEEP_REQUIRE_INTEROP").is_ok_and(|v| v == "1")
}

/// Skips (returns `false`) or, in CI, fails when a Python module is missing.
pub fn have_python_module(module: &str) -> bool {
    let ok = Command::new("python3")
        .args(["-c", &format!("import {module}")])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !ok {
        let msg = format!(
            "the Python package `{module}` is not installed (pip install -r tests/interop/requirements.txt)"
        );
        assert!(
            !required(),
            "{msg}; required here (CI / SMARTSWEEP_REQUIRE_INTEROP=1)"
        );
        eprintln!("SKIPPED: {msg}");
    }
    ok
}

fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A moto S3 server on 127.0.0.1; stopped when dropped (and when the test
/// process exits: it watches its stdin).
pub struct Moto {
    child: Child,
    pub port: u16,
}

impl Moto {
    /// Starts a server with `buckets` created; `None` (skip) without moto.
    pub fn start(buckets: &[&str]) -> Option<Moto> {
        Self::start_with(buckets, false)
    }

    /// With `auth`, every request after the bucket creation must carry
    /// valid IAM credentials (which no test has): refused credentials.
    pub fn start_with(buckets: &[&str], auth: bool) -> Option<Moto> {
        if !have_python_module("moto.server") {
            return None;
        }
        let mut cmd = Command::new("python3");
        cmd.arg(manifest_dir().join("tests/interop/moto_server.py"));
        if auth {
            cmd.arg("--auth");
        }
        cmd.args(buckets)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null());
        let mut child = cmd.spawn().expect("start moto_server.py");
        let out = child.stdout.take().expect("stdout");
        let mut line = String::new();
        BufReader::new(out).read_line(&mut line).expect("read port");
        let port: u16 = line
            .trim()
            .strip_prefix("PORT ")
            .and_then(|p| p.parse().ok())
            .unwrap_or_else(|| panic!("moto_server.py did not start: {line:?}"));
        Some(Moto { child, port })
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        drop(self.child.stdin.take());
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The environment of a smartsweep run against `endpoint`.
pub fn s3_env(cmd: &mut Command, endpoint: &str) {
    cmd.env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing-secret")
        .env("AWS_REGION", "us-east-1")
        .env("AWS_ENDPOINT_URL", endpoint)
        .env_remove("AWS_SESSION_TOKEN")
        .env_remove("AWS_PROFILE");
}

/// A bucket-level store on `endpoint`, for reading outputs back.
pub fn s3(endpoint: &str, bucket: &str) -> Arc<dyn ObjectStore> {
    Arc::new(
        AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_endpoint(endpoint)
            .with_allow_http(true)
            .with_access_key_id("testing")
            .with_secret_access_key("testing-secret")
            .with_region("us-east-1")
            .build()
            .expect("s3 client"),
    )
}

fn rt() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
}

/// Every object under `prefix`, relative to it, with its size, sorted.
pub fn list(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<(String, u64)> {
    use futures::StreamExt;
    let p = ObjPath::from(prefix);
    let mut v: Vec<(String, u64)> = rt().block_on(async {
        store
            .list(Some(&p))
            .map(|m| m.expect("list"))
            .map(|m| {
                let full = m.location.to_string();
                let rel = full
                    .strip_prefix(&format!("{prefix}/"))
                    .unwrap_or(&full)
                    .to_owned();
                (rel, m.size)
            })
            .collect()
            .await
    });
    v.sort();
    v
}

pub fn get(store: &Arc<dyn ObjectStore>, key: &str) -> Option<Vec<u8>> {
    rt().block_on(async {
        match store.get(&ObjPath::from(key)).await {
            Ok(r) => Some(r.bytes().await.expect("body").to_vec()),
            Err(object_store::Error::NotFound { .. }) => None,
            Err(e) => panic!("get {key}: {e}"),
        }
    })
}

/// Every row of the Parquet parts under `prefix` (in part-name order), as
/// tab-separated lines.
pub fn s3_rows(store: &Arc<dyn ObjectStore>, prefix: &str) -> Vec<String> {
    let mut out = Vec::new();
    for (name, _) in list(store, prefix) {
        if !(name.starts_with("part-") && name.ends_with(".parquet")) {
            continue;
        }
        let bytes = get(store, &format!("{prefix}/{name}")).expect("part");
        out.extend(parquet_rows(bytes));
    }
    out
}

/// Every row of one Parquet part as `common::rows` formats it (statement
/// URIs with the sandbox's port written `http://sandbox`).
pub fn parquet_rows(bytes: Vec<u8>) -> Vec<String> {
    use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
    let reader = ParquetRecordBatchReaderBuilder::try_new(bytes::Bytes::from(bytes))
        .expect("parquet")
        .build()
        .expect("reader");
    let mut out = Vec::new();
    for b in reader {
        let b = b.expect("batch");
        out.extend(
            super::common::format_rows(&b)
                .iter()
                .map(|r| super::common::without_port(r)),
        );
    }
    out
}

/// A TCP proxy on 127.0.0.1 in front of `target`: [`Proxy::down`] closes
/// the port and cuts every connection (the store is unreachable);
/// [`Proxy::up`] listens on the same port again.
pub struct Proxy {
    pub port: u16,
    target: u16,
    state: Arc<ProxyState>,
}

#[derive(Default)]
struct ProxyState {
    down: AtomicBool,
    conns: Mutex<Vec<TcpStream>>,
    listener: Mutex<Option<TcpListener>>,
}

impl Proxy {
    pub fn start(target: u16) -> Proxy {
        let l = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let port = l.local_addr().expect("addr").port();
        let p = Proxy {
            port,
            target,
            state: Arc::new(ProxyState::default()),
        };
        p.serve(l);
        p
    }

    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(&self, l: TcpListener) {
        let state = self.state.clone();
        let target = self.target;
        *state.listener.lock().unwrap() = Some(l.try_clone().expect("clone listener"));
        std::thread::spawn(move || {
            for s in l.incoming() {
                if state.down.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(client) = s else { return };
                let Ok(server) = TcpStream::connect(("127.0.0.1", target)) else {
                    continue;
                };
                {
                    let mut c = state.conns.lock().unwrap();
                    c.push(client.try_clone().unwrap());
                    c.push(server.try_clone().unwrap());
                }
                pipe(client.try_clone().unwrap(), server.try_clone().unwrap());
                pipe(server, client);
            }
        });
    }

    /// The store becomes unreachable: connections cut, port closed.
    pub fn down(&self) {
        self.state.down.store(true, Ordering::SeqCst);
        if let Some(l) = self.state.listener.lock().unwrap().take() {
            // Wake the accept loop so that it sees `down` and drops it.
            let _ = TcpStream::connect(l.local_addr().unwrap());
            drop(l);
        }
        for c in self.state.conns.lock().unwrap().drain(..) {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Give the accept thread a moment to drop its listener.
        std::thread::sleep(Duration::from_millis(100));
    }

    /// Back on the same port.
    pub fn up(&self) {
        let mut tries = 0;
        let l = loop {
            match TcpListener::bind(("127.0.0.1", self.port)) {
                Ok(l) => break l,
                Err(e) => {
                    tries += 1;
                    assert!(tries < 100, "cannot rebind the proxy port: {e}");
                    std::thread::sleep(Duration::from_millis(50));
                }
            }
        };
        self.state.down.store(false, Ordering::SeqCst);
        self.serve(l);
    }
}

fn pipe(mut from: TcpStream, mut to: TcpStream) {
    std::thread::spawn(move || {
        let mut buf = [0u8; 16 * 1024];
        loop {
            match from.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if to.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            }
        }
        let _ = to.shutdown(Shutdown::Write);
    });
}

/// Asserts that `text` names no credential of [`s3_env`].
pub fn no_secret(text: &str) {
    assert!(!text.contains("testing-secret"), "a secret leaked: {text}");
}

pub fn exists(p: &Path) -> bool {
    p.exists()
}
