//! Cursor+medications pairs per second the sandbox serves to a concurrent
//! client at 0 ms latency, client included (both run in this process).
//!
//! Each "element" is one pair: a signed `POST .../next` (2-legged) that
//! yields a record and a token, then a signed 3-legged
//! `GET /records/{id}/medications/` with that token. The cursor is serial by
//! nature, so the concurrency comes from several walkers, each walking its
//! own stretch of the id space with `next` (the ids are known from
//! `record_ids`).
//!
//! Run: `cargo bench --bench sandbox_pairs`. Besides criterion's throughput
//! line, it prints `sandbox_pairs: N pairs in T s = X pairs/s`.

#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use hmac::{Hmac, Mac};
use sha1::Sha1;
use smartsweep::sandbox::{self, SandboxConfig};

const APP: &str = "smart-background-app@apps.smartplatforms.org";
const SECRET: &str = "smartapp-secret";
const RECORDS: u64 = 200_000;
const WALKERS: usize = 24;

fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 8);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

static NONCE: AtomicU64 = AtomicU64::new(0);

/// A minimal OAuth 1.0 HMAC-SHA1 header (no request data to sign here).
fn header(method: &str, host: &str, path: &str, token: Option<(&str, &str)>) -> String {
    let ts = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string();
    let nonce = format!("b{}", NONCE.fetch_add(1, Ordering::Relaxed));
    let mut p = vec![
        ("oauth_consumer_key", APP.to_owned()),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA1".to_owned()),
        ("oauth_timestamp", ts),
        ("oauth_version", "1.0".to_owned()),
    ];
    if let Some((t, _)) = token {
        p.push(("oauth_token", t.to_owned()));
    }
    p.sort();
    let params = p
        .iter()
        .map(|(k, v)| format!("{k}={}", esc(v)))
        .collect::<Vec<_>>()
        .join("&");
    let base = format!(
        "{method}&{}&{}",
        esc(&format!("http://{host}{path}")),
        esc(&params)
    );
    let key = format!(
        "{}&{}",
        esc(SECRET),
        esc(token.map(|(_, s)| s).unwrap_or(""))
    );
    let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(base.as_bytes());
    let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let mut h = String::from("OAuth ");
    for (k, v) in &p {
        h.push_str(&format!("{k}=\"{}\", ", esc(v)));
    }
    h.push_str(&format!("oauth_signature=\"{}\"", esc(&sig)));
    h
}

struct Env {
    http: reqwest::Client,
    base: String,
    host: String,
    ids: Vec<String>,
    /// Where the next batch of walkers starts, so batches visit new records.
    position: AtomicUsize,
}

fn form_value<'a>(body: &'a str, key: &str) -> &'a str {
    body.split('&')
        .find_map(|kv| kv.strip_prefix(key).and_then(|r| r.strip_prefix('=')))
        .unwrap_or("")
}

/// `pairs` cursor+medications pairs, starting after `ids[start]`.
async fn walk(env: Arc<Env>, start: usize, pairs: u64) {
    let mut after = env.ids[start % env.ids.len()].clone();
    for _ in 0..pairs {
        let path = format!("/apps/{APP}/tokens/records/{after}/next");
        let resp = env
            .http
            .post(format!("{}{}", env.base, path))
            .header("Authorization", header("POST", &env.host, &path, None))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        let body = resp.text().await.unwrap();
        if status == 404 {
            // Past the last record: wrap around to the first.
            after = env.ids[0].clone();
            continue;
        }
        assert_eq!(status, 200, "{body}");
        let id = form_value(&body, "smart_record_id").to_owned();
        let token = form_value(&body, "oauth_token").to_owned();
        let secret = form_value(&body, "oauth_token_secret").to_owned();
        let mpath = format!("/records/{id}/medications/");
        let resp = env
            .http
            .get(format!("{}{}", env.base, mpath))
            .header(
                "Authorization",
                header("GET", &env.host, &mpath, Some((&token, &secret))),
            )
            .send()
            .await
            .unwrap();
        assert_eq!(resp.status().as_u16(), 200);
        let bytes = resp.bytes().await.unwrap();
        std::hint::black_box(bytes);
        after = id;
    }
}

async fn run_pairs(env: &Arc<Env>, total: u64) -> Duration {
    let began = Instant::now();
    let per = total / WALKERS as u64;
    let extra = total % WALKERS as u64;
    let stride = env.ids.len() / WALKERS;
    let base = env.position.fetch_add(per as usize + 1, Ordering::Relaxed);
    let mut tasks = Vec::with_capacity(WALKERS);
    for w in 0..WALKERS {
        let n = per + u64::from((w as u64) < extra);
        let start = base + w * stride;
        tasks.push(tokio::spawn(walk(env.clone(), start, n)));
    }
    for t in tasks {
        t.await.unwrap();
    }
    began.elapsed()
}

fn bench(c: &mut Criterion) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    let config = SandboxConfig {
        records: RECORDS,
        seed: 1,
        ..SandboxConfig::default()
    };
    let ids = sandbox::record_ids(&config);
    let handle = rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        sandbox::start(config, listener).await.unwrap()
    });
    let base = handle.api_base().to_owned();
    let env = Arc::new(Env {
        http: reqwest::Client::builder()
            .no_proxy()
            .pool_max_idle_per_host(WALKERS * 2)
            .build()
            .unwrap(),
        host: base.trim_start_matches("http://").to_owned(),
        base,
        ids,
        position: AtomicUsize::new(0),
    });

    // A plain figure first (also warms the connection pool).
    let n = 20_000;
    let took = rt.block_on(run_pairs(&env, n));
    println!(
        "sandbox_pairs: {n} pairs in {:.2} s = {:.0} pairs/s ({WALKERS} concurrent walkers, {} worker threads)",
        took.as_secs_f64(),
        n as f64 / took.as_secs_f64(),
        std::thread::available_parallelism()
            .map(|p| p.get())
            .unwrap_or(1)
    );

    let mut group = c.benchmark_group("sandbox");
    group.throughput(Throughput::Elements(1));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(2));
    group.measurement_time(Duration::from_secs(10));
    group.bench_function("cursor_medications_pairs", |b| {
        b.iter_custom(|iters| rt.block_on(run_pairs(&env, iters)))
    });
    group.finish();
    rt.block_on(handle.shutdown());
}

criterion_group!(benches, bench);
criterion_main!(benches);
