//! The extract client against tiny real HTTP servers on 127.0.0.1:0: the
//! retry policy (429 with both `Retry-After` forms, 5xx, a body cut short, a
//! reset connection, a timeout, the attempt budget and the deadline), the
//! 401 re-mint, the body limit, the cursor and known ids, the credential
//! rejection messages, paging, and that no credential reaches a log line or
//! an error. No test sleeps for backoff (`RetryPolicy::sleep = false`).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use futures::StreamExt;
use smartsweep::extract::{self, Client, ClientConfig, ExtractError, RecordToken, RetryPolicy};
use smartsweep::failure::Stage;
use smartsweep::secret::Secret;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Resume after `id`, with no earlier committed id known.
fn resume(id: &str) -> extract::Resume {
    extract::Resume {
        watermark: id.into(),
        recent: vec![id.into()],
    }
}

const APP: &str = "test-app@apps.smartplatforms.org";
const CONSUMER_SECRET: &str = "c0nsumer-s3cret";

/// One request as the test server saw it.
#[derive(Clone, Debug)]
struct Seen {
    method: String,
    path: String,
    query: Option<String>,
    authorization: Option<String>,
    content_type: Option<String>,
}

impl Seen {
    /// A decoded `oauth_*` parameter of the Authorization header.
    fn oauth(&self, name: &str) -> Option<String> {
        let h = self.authorization.as_deref()?.strip_prefix("OAuth ")?;
        h.split(',').find_map(|p| {
            let (k, v) = p.trim().split_once('=')?;
            (k == name).then(|| {
                percent_encoding::percent_decode_str(v.trim_matches('"'))
                    .decode_utf8_lossy()
                    .into_owned()
            })
        })
    }
}

/// What the handler answers: an optional delay, then the response.
type Handler = Arc<dyn Fn(&Seen, usize) -> (Option<Duration>, Response) + Send + Sync>;

struct TestServer {
    base: String,
    seen: Arc<Mutex<Vec<Seen>>>,
}

impl TestServer {
    fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }
}

/// An axum server whose every request goes to `handler` with the number of
/// earlier requests to the same path.
async fn serve(handler: Handler) -> TestServer {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let counts: Arc<Mutex<HashMap<String, usize>>> = Arc::default();
    let seen2 = seen.clone();
    let app = axum::Router::new().fallback(move |method: Method, uri: Uri, headers: HeaderMap| {
        let handler = handler.clone();
        let seen = seen2.clone();
        let counts = counts.clone();
        async move {
            let s = Seen {
                method: method.to_string(),
                path: uri.path().to_owned(),
                query: uri.query().map(str::to_owned),
                authorization: headers
                    .get(header::AUTHORIZATION)
                    .map(|v| v.to_str().unwrap().to_owned()),
                content_type: headers
                    .get(header::CONTENT_TYPE)
                    .map(|v| v.to_str().unwrap().to_owned()),
            };
            let n = {
                let mut c = counts.lock().unwrap();
                let e = c.entry(s.path.clone()).or_default();
                *e += 1;
                *e - 1
            };
            seen.lock().unwrap().push(s.clone());
            let (delay, resp) = handler(&s, n);
            if let Some(d) = delay {
                tokio::time::sleep(d).await;
            }
            resp
        }
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        axum::serve(listener, app).await.unwrap();
    });
    TestServer {
        base: format!("http://{addr}"),
        seen,
    }
}

fn config(base: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(base, APP, Secret::new(CONSUMER_SECRET));
    cfg.retry = RetryPolicy::no_sleep(5);
    cfg
}

fn token(record: &str, tok: &str) -> RecordToken {
    RecordToken {
        record_id: record.into(),
        token: Secret::new(tok),
        secret: Secret::new(format!("{tok}-secret")),
    }
}

fn token_body(record: &str, tok: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
        format!("oauth_token_secret={tok}-secret&smart_record_id={record}&oauth_token={tok}"),
    )
        .into_response()
}

fn rdf(body: &str) -> Response {
    (
        [(header::CONTENT_TYPE, "application/rdf+xml")],
        body.to_owned(),
    )
        .into_response()
}

fn status(code: u16) -> Response {
    StatusCode::from_u16(code).unwrap().into_response()
}

const EMPTY_RDF: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"/>"#;

#[tokio::test]
async fn retry_after_seconds_is_honoured() {
    let server = serve(Arc::new(|_, n| {
        if n == 0 {
            let mut r = status(429);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("7"));
            (None, r)
        } else {
            (None, rdf(EMPTY_RDF))
        }
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    let got = client
        .fetch(&token("r1", "t"), "medications", &[], None)
        .await
        .unwrap();
    assert_eq!(got.attempts, 2);
    assert_eq!(got.pages.len(), 1);
    let stats = client.stats();
    assert_eq!(stats.requests, 2);
    assert_eq!(stats.retries, 1);
    assert_eq!(stats.backoff_ms, 7000);
    let seen = server.seen();
    // A fresh nonce on the retry.
    assert_ne!(seen[0].oauth("oauth_nonce"), seen[1].oauth("oauth_nonce"));
    assert_eq!(seen[0].path, "/records/r1/medications/");
}

#[tokio::test]
async fn retry_after_http_date_is_honoured_up_to_the_cap() {
    let server = serve(Arc::new(|_, n| match n {
        0 => {
            let at = SystemTime::now() + Duration::from_secs(30);
            let mut r = status(503);
            r.headers_mut().insert(
                header::RETRY_AFTER,
                HeaderValue::from_str(&httpdate::fmt_http_date(at)).unwrap(),
            );
            (None, r)
        }
        1 => {
            let mut r = status(429);
            r.headers_mut()
                .insert(header::RETRY_AFTER, HeaderValue::from_static("86400"));
            (None, r)
        }
        _ => (None, rdf(EMPTY_RDF)),
    }))
    .await;
    let mut cfg = config(&server.base);
    cfg.retry.retry_after_cap = Duration::from_secs(60);
    cfg.retry.deadline = Duration::from_secs(3600);
    let client = Client::new(cfg).unwrap();
    let got = client
        .fetch(&token("r1", "t"), "medications", &[], None)
        .await
        .unwrap();
    assert_eq!(got.attempts, 3);
    let backoff = client.stats().backoff_ms;
    // ~30 s from the date (second resolution), then the 60 s cap.
    assert!(
        (60_000 + 28_000..=60_000 + 31_000).contains(&backoff),
        "{backoff}"
    );
}

#[tokio::test]
async fn server_error_then_success_on_the_cursor() {
    let server = serve(Arc::new(|s, n| {
        if s.path.ends_with("/first") && n < 2 {
            (None, status(if n == 0 { 500 } else { 502 }))
        } else {
            (None, token_body("1032702", "tok1"))
        }
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    let t = client.first().await.unwrap().unwrap();
    assert_eq!(t.record_id, "1032702");
    assert_eq!(t.token.expose(), "tok1");
    assert_eq!(t.secret.expose(), "tok1-secret");
    assert_eq!(client.stats().retries, 2);
    let seen = server.seen();
    assert_eq!(seen.len(), 3);
    for s in &seen {
        assert_eq!(s.method, "POST");
        assert_eq!(s.path, format!("/apps/{APP}/tokens/records/first"));
        assert_eq!(s.query, None, "never a query on POST");
        assert_eq!(
            s.content_type.as_deref(),
            Some("application/x-www-form-urlencoded")
        );
        assert_eq!(s.oauth("oauth_token"), None, "2-legged");
        assert_eq!(s.oauth("oauth_consumer_key").as_deref(), Some(APP));
        assert_eq!(s.oauth("oauth_version").as_deref(), Some("1.0"));
        assert_eq!(
            s.oauth("oauth_signature_method").as_deref(),
            Some("HMAC-SHA1")
        );
    }
    let nonces: std::collections::BTreeSet<_> = seen
        .iter()
        .map(|s| s.oauth("oauth_nonce").unwrap())
        .collect();
    assert_eq!(nonces.len(), 3);
}

/// What a raw connection does, per connection index.
#[derive(Clone, Copy)]
enum Raw {
    /// Close without answering (RST).
    Reset,
    /// Announce 1000 bytes, send 10, close.
    Truncated,
    /// Never answer (for the timeout).
    Hang,
    /// A complete 200 answer.
    Ok,
}

/// A raw TCP server for the faults axum would not produce.
async fn raw_server(script: Vec<Raw>) -> (String, Arc<AtomicUsize>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let conns = Arc::new(AtomicUsize::new(0));
    let conns2 = conns.clone();
    tokio::spawn(async move {
        loop {
            let (mut sock, _) = listener.accept().await.unwrap();
            let i = conns2.fetch_add(1, Ordering::SeqCst);
            let what = script.get(i).copied().unwrap_or(Raw::Ok);
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let mut chunk = [0u8; 4096];
                while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    match sock.read(&mut chunk).await {
                        Ok(0) | Err(_) => return,
                        Ok(n) => buf.extend_from_slice(&chunk[..n]),
                    }
                }
                match what {
                    Raw::Reset => {
                        // Zero linger: close with RST, not FIN (does not block at 0).
                        #[allow(deprecated)]
                        let _ = sock.set_linger(Some(Duration::ZERO));
                        drop(sock);
                    }
                    Raw::Truncated => {
                        let _ = sock
                            .write_all(b"HTTP/1.1 200 OK\r\nContent-Type: application/rdf+xml\r\nContent-Length: 1000\r\n\r\n<rdf:RDF ")
                            .await;
                        let _ = sock.shutdown().await;
                    }
                    Raw::Hang => {
                        tokio::time::sleep(Duration::from_secs(30)).await;
                    }
                    Raw::Ok => {
                        let body = EMPTY_RDF.as_bytes();
                        let head = format!(
                            "HTTP/1.1 200 OK\r\nContent-Type: application/rdf+xml\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                            body.len()
                        );
                        let _ = sock.write_all(head.as_bytes()).await;
                        let _ = sock.write_all(body).await;
                        let _ = sock.shutdown().await;
                    }
                }
            });
        }
    });
    (format!("http://{addr}"), conns)
}

#[tokio::test]
async fn truncated_body_and_reset_are_retried() {
    let (base, conns) = raw_server(vec![Raw::Truncated, Raw::Reset, Raw::Ok]).await;
    let client = Client::new(config(&base)).unwrap();
    let got = client
        .fetch(&token("r1", "t"), "medications", &[], None)
        .await
        .unwrap();
    assert_eq!(got.attempts, 3);
    assert_eq!(got.pages[0].as_ref(), EMPTY_RDF.as_bytes());
    assert_eq!(conns.load(Ordering::SeqCst), 3);
    assert_eq!(client.stats().retries, 2);
}

#[tokio::test]
async fn a_timeout_is_retried_and_the_budget_ends_in_a_record_failure() {
    let (base, _) = raw_server(vec![Raw::Hang, Raw::Ok]).await;
    let mut cfg = config(&base);
    cfg.request_timeout = Duration::from_millis(300);
    let client = Client::new(cfg).unwrap();
    let got = client
        .fetch(&token("r1", "t"), "medications", &[], None)
        .await
        .unwrap();
    assert_eq!(got.attempts, 2);

    // Resets only: the attempt budget runs out.
    let (base, conns) = raw_server(vec![Raw::Reset; 10]).await;
    let mut cfg = config(&base);
    cfg.retry.max_attempts = 3;
    let client = Client::new(cfg).unwrap();
    let f = client
        .fetch(&token("r9", "t"), "medications", &[], None)
        .await
        .unwrap_err();
    assert_eq!(f.record_id, "r9");
    assert_eq!(f.stage, Stage::Fetch);
    assert_eq!(f.http_status, None);
    assert_eq!(f.attempts, 3);
    assert_eq!(conns.load(Ordering::SeqCst), 3);
    assert!(f.message.contains("3 attempt(s)"), "{}", f.message);
}

#[tokio::test]
async fn the_deadline_stops_retries() {
    let server = serve(Arc::new(|_, _| {
        let mut r = status(503);
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("4"));
        (None, r)
    }))
    .await;
    let mut cfg = config(&server.base);
    cfg.retry.max_attempts = 10;
    cfg.retry.deadline = Duration::from_secs(10);
    let client = Client::new(cfg).unwrap();
    let f = client
        .fetch(&token("r1", "t"), "medications", &[], None)
        .await
        .unwrap_err();
    // Waits of 4 s after attempts 1 and 2 fit in 10 s; a third would not.
    assert_eq!(f.attempts, 3);
    assert_eq!(f.http_status, Some(503));
    assert!(f.message.contains("deadline"), "{}", f.message);
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn unauthorized_data_call_remints_once() {
    let server = serve(Arc::new(|s, _| {
        if s.path.starts_with("/apps/") {
            assert_eq!(s.path, format!("/apps/{APP}/tokens/records/r1"));
            assert_eq!(s.oauth("oauth_token"), None);
            return (None, token_body("r1", "fresh"));
        }
        match s.oauth("oauth_token").as_deref() {
            Some("fresh") => (None, rdf(EMPTY_RDF)),
            _ => (None, status(401)),
        }
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    let got = client
        .fetch(&token("r1", "stale"), "medications", &[], None)
        .await
        .unwrap();
    assert_eq!(got.attempts, 2);
    assert_eq!(client.stats().remints, 1);
    assert_eq!(client.stats().retries, 0);

    // A 401 that persists after the re-mint gives up on the record.
    let server = serve(Arc::new(|s, _| {
        if s.path.starts_with("/apps/") {
            (None, token_body("r2", "fresh2"))
        } else {
            (None, status(401))
        }
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    let f = client
        .fetch(&token("r2", "stale-token-value"), "medications", &[], None)
        .await
        .unwrap_err();
    assert_eq!(f.http_status, Some(401));
    assert_eq!(f.attempts, 2);
    assert_eq!(client.stats().remints, 1);
    assert!(f.message.contains("freshly minted"), "{}", f.message);
    assert!(!f.message.contains("stale-token-value") && !f.message.contains("fresh2"));
    let data_calls: Vec<_> = server
        .seen()
        .into_iter()
        .filter(|s| s.path.starts_with("/records/"))
        .collect();
    assert_eq!(data_calls.len(), 2);
}

#[tokio::test]
async fn other_statuses_on_data_calls_are_record_failures() {
    let server = serve(Arc::new(|s, _| {
        let code = s.path.split('/').nth(2).unwrap().parse::<u16>().unwrap();
        (None, status(code))
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    for (code, words) in [(403, "another record"), (404, "resource"), (400, "400")] {
        let f = client
            .fetch(&token(&code.to_string(), "t"), "medications", &[], None)
            .await
            .unwrap_err();
        assert_eq!(f.http_status, Some(code));
        assert_eq!(f.attempts, 1, "{code} is not retried");
        assert!(f.message.contains(words), "{}", f.message);
    }
}

#[tokio::test]
async fn body_over_the_limit_is_a_record_failure() {
    let big = "x".repeat(5000);
    let server = serve(Arc::new(move |s, _| {
        if s.path.contains("chunked") {
            // No Content-Length: the limit must hold while streaming.
            let chunks = futures::stream::iter(
                (0..50).map(|_| Ok::<_, std::io::Error>(bytes::Bytes::from(vec![b'y'; 100]))),
            );
            (None, axum::body::Body::from_stream(chunks).into_response())
        } else {
            (None, rdf(&big))
        }
    }))
    .await;
    let mut cfg = config(&server.base);
    cfg.max_body_bytes = 1000;
    let client = Client::new(cfg).unwrap();
    let f = client
        .fetch(&token("r1", "t"), "medications", &[], None)
        .await
        .unwrap_err();
    assert_eq!(f.attempts, 1, "not retried");
    assert!(
        f.message.contains("5000 bytes") && f.message.contains("1000"),
        "{}",
        f.message
    );
    let f = client
        .fetch(&token("chunked", "t"), "medications", &[], None)
        .await
        .unwrap_err();
    assert_eq!(f.attempts, 1);
    assert!(f.message.contains("limit of 1000 bytes"), "{}", f.message);
    // Just under the limit is fine.
    let server = serve(Arc::new(|_, _| (None, rdf(&"z".repeat(1000))))).await;
    let mut cfg = config(&server.base);
    cfg.max_body_bytes = 1000;
    let client = Client::new(cfg).unwrap();
    let got = client
        .fetch(&token("r1", "t"), "medications", &[], None)
        .await
        .unwrap();
    assert_eq!(got.pages[0].len(), 1000);
}

#[tokio::test]
async fn cursor_walks_in_order_until_404() {
    let ids = ["1032702", "2169591", "613876"];
    let server = serve(Arc::new(move |s, _| {
        let path = s
            .path
            .strip_prefix(&format!("/apps/{APP}/tokens/records/"))
            .unwrap();
        let next = if path == "first" {
            Some(ids[0])
        } else {
            let after = path.strip_suffix("/next").unwrap();
            let i = ids.iter().position(|x| *x == after).unwrap();
            ids.get(i + 1).copied()
        };
        match next {
            Some(id) => (None, token_body(id, &format!("tok-{id}"))),
            None => (None, status(404)),
        }
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    let got: Vec<_> = extract::walk(client.clone(), extract::ChainSpec::default(), None)
        .map(|r| r.unwrap().record_id)
        .collect()
        .await;
    assert_eq!(got, ids);
    // Resuming after a watermark.
    let got: Vec<_> = extract::walk(
        client.clone(),
        extract::ChainSpec::default(),
        Some(resume("2169591")),
    )
    .map(|r| r.unwrap().record_id)
    .collect()
    .await;
    assert_eq!(got, ["613876"]);
    let paths: Vec<_> = server.seen().into_iter().map(|s| s.path).collect();
    assert_eq!(
        paths,
        [
            format!("/apps/{APP}/tokens/records/first"),
            format!("/apps/{APP}/tokens/records/1032702/next"),
            format!("/apps/{APP}/tokens/records/2169591/next"),
            format!("/apps/{APP}/tokens/records/613876/next"),
            format!("/apps/{APP}/tokens/records/2169591/next"),
            format!("/apps/{APP}/tokens/records/613876/next"),
        ]
    );
}

#[tokio::test]
async fn empty_container_and_vanished_watermark() {
    let server = serve(Arc::new(|s, _| {
        if s.path.ends_with("/first") {
            (None, status(404))
        } else {
            (None, status(500))
        }
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    assert!(client.first().await.unwrap().is_none());
    let n = extract::walk(client.clone(), extract::ChainSpec::default(), None)
        .count()
        .await;
    assert_eq!(n, 0);
    let err = client.next("gone").await.unwrap_err();
    assert_eq!(err.status(), Some(500));
    assert!(!err.is_fatal_credentials());
    let msg = err.to_string();
    assert!(
        msg.contains("/gone/next") && msg.contains("HTTP 500") && msg.contains("5 attempt"),
        "{msg}"
    );
    // Resuming after it: the watermark is gone (500) and no earlier
    // committed record is known, so the walk restarts from `first`, which
    // finds nothing here.
    let before = server.seen().len();
    let resume = extract::Resume {
        watermark: "gone".into(),
        recent: vec!["gone".into()],
    };
    let items: Vec<_> = extract::walk(client, extract::ChainSpec::default(), Some(resume))
        .collect()
        .await;
    assert!(items.is_empty());
    let paths: Vec<_> = server.seen()[before..]
        .iter()
        .map(|s| s.path.rsplit('/').take(2).collect::<Vec<_>>().join("<"))
        .collect();
    assert_eq!(
        paths,
        ["next<gone"; 5]
            .into_iter()
            .chain(["first<records"])
            .collect::<Vec<_>>()
    );
}

#[tokio::test]
async fn known_ids_keep_input_order() {
    let server = serve(Arc::new(|s, _| {
        let id = s.path.rsplit('/').next().unwrap().to_owned();
        if id == "unknown" {
            return (None, status(500));
        }
        // Later ids answer sooner: the stream must still keep input order.
        let n: u64 = id.trim_start_matches('r').parse().unwrap();
        (
            Some(Duration::from_millis(40 - n * 3)),
            token_body(&id, &format!("t{id}")),
        )
    }))
    .await;
    let mut cfg = config(&server.base);
    cfg.retry.max_attempts = 1;
    let client = Client::new(cfg).unwrap();
    let mut ids: Vec<String> = (0..10).map(|i| format!("r{i}")).collect();
    ids.insert(4, "unknown".into());
    let got: Vec<_> = extract::known(
        client,
        ids.iter().map(|i| i.as_str().into()).collect(),
        0,
        4,
    )
    .collect()
    .await;
    let got_ids: Vec<_> = got.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(got_ids, ids);
    for (id, r) in &got {
        match r {
            Ok(t) => assert_eq!(&t.record_id, id),
            Err(e) => {
                assert_eq!(id, "unknown");
                assert_eq!(e.status(), Some(500));
            }
        }
    }
}

#[tokio::test]
async fn rejected_cursor_names_key_base_and_clock_skew() {
    let server = serve(Arc::new(|s, _| {
        let mut r = status(if s.path.contains("forbidden") {
            403
        } else {
            401
        });
        // The container's clock is 15 minutes ahead of ours.
        let date = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(900));
        r.headers_mut()
            .insert(header::DATE, HeaderValue::from_str(&date).unwrap());
        (None, r)
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    let err = client.first().await.unwrap_err();
    assert!(err.is_fatal_credentials());
    assert_eq!(err.status(), Some(401));
    let msg = err.to_string();
    assert!(msg.contains(&format!("consumer key `{APP}`")), "{msg}");
    assert!(msg.contains(&server.base), "{msg}");
    assert!(msg.contains("consumer secret"), "{msg}");
    assert!(msg.contains("background app"), "{msg}");
    let skew: u64 = msg
        .split("the local clock is ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((898..=901).contains(&skew), "{msg}");
    assert!(
        msg.contains("behind") && msg.contains("likely cause"),
        "{msg}"
    );
    assert!(!msg.contains(CONSUMER_SECRET));
    assert_eq!(server.seen().len(), 1, "a 401 is not retried");

    // 403: the signature passed, the registration is wrong.
    let mut cfg = config(&server.base);
    cfg.app_id = "forbidden@apps.smartplatforms.org".into();
    cfg.consumer_key = cfg.app_id.clone();
    let client = Client::new(cfg).unwrap();
    let err = client.mint("r1").await.unwrap_err();
    assert!(err.is_fatal_credentials());
    assert_eq!(err.status(), Some(403));
    let msg = err.to_string();
    assert!(
        msg.contains("signature was accepted") && msg.contains("background app"),
        "{msg}"
    );
}

#[tokio::test]
async fn paging_follows_next_page_url_and_reencodes() {
    // Three pages of 2; the container writes nextPageURL unencoded and in
    // arbitrary order.
    let server = serve(Arc::new(|s, _| {
        let q = s.query.clone().unwrap_or_default();
        let pairs: HashMap<String, String> = q
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap();
                (
                    k.to_owned(),
                    percent_encoding::percent_decode_str(v).decode_utf8().unwrap().into_owned(),
                )
            })
            .collect();
        assert_eq!(pairs["rxnorm"], "a|b c+d", "query values arrive decoded as sent");
        assert_eq!(pairs["limit"], "2");
        let offset: u64 = pairs.get("offset").map(|o| o.parse().unwrap()).unwrap_or(0);
        let next = if offset < 4 {
            format!(
                "<api:nextPageURL>http://elsewhere:7000/records/r1/medications/?offset={}&amp;rxnorm=a|b c+d&amp;limit=2</api:nextPageURL>",
                offset + 2
            )
        } else {
            String::new()
        };
        (
            None,
            rdf(&format!(
                r#"<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:api="http://smartplatforms.org/terms/api#" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:nodeID="Nrs"><rdf:type rdf:resource="http://smartplatforms.org/terms/api#ResponseSummary"/>{next}<!-- page at {offset} --></rdf:Description>
</rdf:RDF>"#
            )),
        )
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    let params = vec![("rxnorm".to_string(), "a|b c+d".to_string())];
    let got = client
        .fetch(&token("r1", "t"), "medications", &params, Some(2))
        .await
        .unwrap();
    assert_eq!(got.pages.len(), 3);
    assert_eq!(got.attempts, 3);
    for (i, page) in got.pages.iter().enumerate() {
        let text = std::str::from_utf8(page).unwrap();
        assert!(text.contains(&format!("page at {}", i * 2)), "{text}");
    }
    let seen = server.seen();
    assert_eq!(
        seen[0].query.as_deref(),
        Some("rxnorm=a%7Cb%20c%2Bd&limit=2")
    );
    assert_eq!(
        seen[2].query.as_deref(),
        Some("rxnorm=a%7Cb%20c%2Bd&limit=2&offset=4")
    );
    // Bad parameters fail the record before any request.
    let bad = vec![("limit".to_string(), "9".to_string())];
    let f = client
        .fetch(&token("r1", "t"), "medications", &bad, Some(2))
        .await
        .unwrap_err();
    assert_eq!(f.attempts, 0);
    assert_eq!(server.seen().len(), 3);
}

#[tokio::test]
async fn manifest_is_fetched_once_and_unauthenticated() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || LogWriter(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let server = serve(Arc::new(|_, _| {
        (
            None,
            (
                [(header::CONTENT_TYPE, "application/json")],
                r#"{"api_base": "http://somewhere-else:7000", "smart_version": "0.6.1"}"#,
            )
                .into_response(),
        )
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    let m = client.manifest().await.unwrap();
    assert_eq!(m["smart_version"], "0.6.1");
    let _ = client.manifest().await.unwrap();
    let seen = server.seen();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].path, "/manifest");
    assert_eq!(seen[0].authorization, None);
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("different api_base"), "{logs}");
    assert!(logs.contains("http://somewhere-else:7000"), "{logs}");
    assert_eq!(logs.matches("different api_base").count(), 1, "{logs}");

    // A manifest that is not there is an error that says where it looked.
    let server = serve(Arc::new(|_, _| (None, status(404)))).await;
    let e = Client::new(config(&server.base))
        .unwrap()
        .manifest()
        .await
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("HTTP 404") && e.contains("/manifest") && e.contains("hint:"),
        "{e}"
    );
}

/// Every log line of a run with retries, a re-mint and a rejection, at
/// TRACE level, and every error: no token, secret or signature.
#[tokio::test]
async fn no_credential_in_logs_or_errors() {
    let logs = Arc::new(Mutex::new(Vec::<u8>::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(tracing::Level::TRACE)
        .with_ansi(false)
        .with_writer(move || LogWriter(sink.clone()))
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);

    let server = serve(Arc::new(|s, n| {
        if s.path.ends_with("/first") {
            return (None, status(401));
        }
        if s.path.starts_with("/apps/") {
            return (None, token_body("r1", "MINTEDTOKEN"));
        }
        match (n, s.oauth("oauth_token").as_deref()) {
            (0, _) => (None, status(503)),
            (_, Some("MINTEDTOKEN")) => (None, rdf(EMPTY_RDF)),
            _ => (None, status(401)),
        }
    }))
    .await;
    let client = Client::new(config(&server.base)).unwrap();
    let t = RecordToken {
        record_id: "r1".into(),
        token: Secret::new("ORIGINALTOKEN"),
        secret: Secret::new("ORIGINALSECRET"),
    };
    client.fetch(&t, "medications", &[], None).await.unwrap();
    let err = client.first().await.unwrap_err();
    let err_text = format!("{err} {err:?}");
    let cfg_text = format!("{:?} {:?} {:?}", client.config(), t, client);

    let seen = server.seen();
    let signatures: Vec<String> = seen
        .iter()
        .filter_map(|s| s.oauth("oauth_signature"))
        .collect();
    assert!(signatures.len() >= 4);
    let logs = String::from_utf8(logs.lock().unwrap().clone()).unwrap();
    assert!(logs.contains("transient failure; retrying"), "{logs}");
    assert!(logs.contains("503"), "{logs}");
    for text in [&logs, &err_text, &cfg_text] {
        for secret in [
            CONSUMER_SECRET,
            "ORIGINALTOKEN",
            "ORIGINALSECRET",
            "MINTEDTOKEN",
            "MINTEDTOKEN-secret",
            "OAuth ",
        ] {
            assert!(!text.contains(secret), "`{secret}` leaked into: {text}");
        }
        for sig in &signatures {
            assert!(
                !text.contains(sig.as_str()),
                "a signature leaked into: {text}"
            );
        }
    }
}

struct LogWriter(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[tokio::test]
async fn bad_configuration_is_refused_clearly() {
    let e = Client::new(config("ftp://x")).unwrap_err().to_string();
    assert!(e.contains("`ftp://x`") && e.contains("hint:"), "{e}");
    let dir = tempfile::tempdir().unwrap();
    let ca = dir.path().join("ca.pem");
    std::fs::write(&ca, "not a certificate").unwrap();
    let mut cfg = config("https://localhost:7000");
    cfg.ca_file = Some(ca.clone());
    let e = Client::new(cfg).unwrap_err().to_string();
    assert!(e.contains("ca.pem"), "{e}");
    let mut cfg = config("https://localhost:7000");
    cfg.ca_file = Some(dir.path().join("missing.pem"));
    let e = Client::new(cfg).unwrap_err().to_string();
    assert!(
        e.contains("missing.pem") && e.contains("cannot read"),
        "{e}"
    );
    assert!(matches!(
        Client::new(config("http://h:1")).map(|_| ()),
        Ok(())
    ));
    let _ = ExtractError::Config {
        message: String::new(),
    };
}

/// Keep-alive: sequential calls reuse one connection.
#[tokio::test]
async fn connections_are_reused() {
    use axum::serve::ListenerExt as _;
    let accepted = Arc::new(AtomicUsize::new(0));
    let counter = accepted.clone();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let listener = listener.tap_io(move |_| {
        counter.fetch_add(1, Ordering::SeqCst);
    });
    let app = axum::Router::new().fallback(|| async { rdf(EMPTY_RDF) });
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    let client = Client::new(config(&format!("http://{addr}"))).unwrap();
    for i in 0..20 {
        client
            .fetch(&token(&format!("r{i}"), "t"), "medications", &[], None)
            .await
            .unwrap();
    }
    assert_eq!(client.stats().requests, 20);
    assert_eq!(accepted.load(Ordering::SeqCst), 1);
}
