//! The extract client against a hostile container (`tests/hostile`): cursor
//! cycles, endless pages, huge and non-XML bodies, HTML pages, duplicate
//! token keys, a slow manifest, data calls refused, odd record ids, an
//! entity bomb; and the retry and latency counters. No test sleeps for
//! backoff; none asserts a wall-clock limit.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hostile;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures::StreamExt;
use hostile::{DataBody, Hostile, HostileServer};
use smartsweep::extract::{
    self, ChainSpec, Client, ClientConfig, ExtractError, RecordToken, defaults,
};
use smartsweep::record::RecordId;
use smartsweep::secret::Secret;

fn client(server: &HostileServer) -> Client {
    Client::new(server.client_config()).unwrap()
}

fn client_with(server: &HostileServer, f: impl FnOnce(&mut ClientConfig)) -> Client {
    let mut cfg = server.client_config();
    f(&mut cfg);
    Client::new(cfg).unwrap()
}

/// Every item of the whole cursor.
async fn walk_all(client: &Client) -> Vec<Result<RecordToken, ExtractError>> {
    extract::walk(client.clone(), ChainSpec::default(), None)
        .collect()
        .await
}

fn token(id: &str) -> RecordToken {
    RecordToken {
        record_id: id.into(),
        token: Secret::new("t"),
        secret: Secret::new("s"),
    }
}

/// A message that quotes at most a short, escaped excerpt of what the
/// server sent.
fn assert_bounded(msg: &str) {
    assert!(msg.len() < 1500, "{} bytes: {}", msg.len(), &msg[..300]);
    assert!(!msg.contains('\u{1b}') && !msg.contains('\0'), "{msg}");
    assert!(!msg.contains(&"A".repeat(300)), "{msg}");
}

/// Log lines written while `f` runs (this thread's subscriber).
struct Logs(Arc<Mutex<Vec<u8>>>);
impl std::io::Write for Logs {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

fn capture_logs() -> (Arc<Mutex<Vec<u8>>>, tracing::subscriber::DefaultGuard) {
    let logs = Arc::new(Mutex::new(Vec::new()));
    let sink = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || Logs(sink.clone()))
        .finish();
    (logs, tracing::subscriber::set_default(subscriber))
}

fn text(logs: &Arc<Mutex<Vec<u8>>>) -> String {
    String::from_utf8_lossy(&logs.lock().unwrap()).into_owned()
}

// ---- task 2: cursor cycles ------------------------------------------------

#[tokio::test]
async fn a_to_b_to_a_is_a_fatal_cycle_naming_the_id() {
    let server = Hostile::new()
        .records(["A", "B"])
        .cycle_back_to("A")
        .start();
    let items = walk_all(&client(&server)).await;
    assert_eq!(items.len(), 3, "A, B, then the error; the stream ends");
    assert_eq!(items[0].as_ref().unwrap().record_id, "A");
    assert_eq!(items[1].as_ref().unwrap().record_id, "B");
    let e = items[2].as_ref().unwrap_err();
    match e {
        ExtractError::CursorCycle { record_id, .. } => assert_eq!(record_id, "A"),
        other => panic!("{other}"),
    }
    let msg = e.to_string();
    assert!(
        msg.contains("record `A`") && msg.contains("after `B`") && msg.contains("\nhint:"),
        "{msg}"
    );
    assert!(!e.is_fatal_credentials());
    // first, next(A), next(B): nothing more.
    assert_eq!(server.requests(), 3);
}

#[tokio::test]
async fn a_cycle_longer_than_the_window_is_caught_by_brent() {
    // 200 records, then back to the 50th: a cycle of 150, longer than the
    // 32-id window.
    let ids: Vec<String> = (0..200).map(|i| format!("r{i:04}")).collect();
    let server = Hostile::new()
        .records(ids.clone())
        .cycle_back_to("r0050")
        .start();
    let items = walk_all(&client(&server)).await;
    let (ok, err): (Vec<_>, Vec<_>) = items.into_iter().partition(Result::is_ok);
    assert_eq!(err.len(), 1);
    assert!(
        matches!(err[0], Err(ExtractError::CursorCycle { .. })),
        "{:?}",
        err[0].as_ref().err().map(ToString::to_string)
    );
    // Every record once, then at most about two turns of the cycle before
    // the detector fires (constant memory cannot do better for a long
    // cycle).
    let walked: Vec<_> = ok
        .into_iter()
        .map(|t| t.unwrap().record_id.into_string())
        .collect();
    assert_eq!(walked[..200], ids[..]);
    assert!(walked.len() <= 2 * 200 + 150, "{}", walked.len());
}

#[tokio::test]
async fn a_cycle_message_escapes_control_characters() {
    let evil = "\u{1b}]0;pwned\u{7}\n2";
    let server = Hostile::new()
        .records([evil, "b"])
        .cycle_back_to(evil)
        .start();
    let items = walk_all(&client(&server)).await;
    let msg = items.last().unwrap().as_ref().unwrap_err().to_string();
    assert!(msg.contains("\\u{1b}]0;pwned\\u{7}\\n2"), "{msg}");
    assert!(!msg.contains('\u{1b}') && !msg.contains('\u{7}'), "{msg}");
}

#[tokio::test]
async fn a_collation_that_is_not_byte_order_is_only_a_warning() {
    let (logs, _guard) = capture_logs();
    let server = Hostile::new()
        .records(["b", "a", "c", "B", "10", "9"])
        .start();
    let items = walk_all(&client(&server)).await;
    let ids: Vec<_> = items
        .into_iter()
        .map(|t| t.unwrap().record_id.into_string())
        .collect();
    assert_eq!(ids, ["b", "a", "c", "B", "10", "9"]);
    let logs = text(&logs);
    assert_eq!(
        logs.matches("collation is not byte order").count(),
        1,
        "{logs}"
    );
}

// ---- task 3: a per-record bound across pages ------------------------------

#[tokio::test]
async fn endless_pages_stop_at_the_record_limit() {
    let server = Hostile::new().endless_pages(64 * 1024).start();
    let client = client_with(&server, |c| {
        c.max_body_bytes = 8 << 20;
        c.max_record_bytes = 1 << 20;
    });
    let f = client
        .fetch(&token("1"), "medications", &[], Some(10))
        .await
        .unwrap_err();
    assert!(
        f.message.contains("per-record limit of 1048576 bytes")
            && f.message.contains("--max-record-mib"),
        "{}",
        f.message
    );
    assert_bounded(&f.message);
    // About 1 MiB of 64 KiB pages, then one more that crosses the line.
    let pages = server.requests();
    assert!((15..=18).contains(&pages), "{pages} requests");
    assert_eq!(f.attempts as u64, pages, "a too-large page is not retried");
    // Without paging, the smaller of the two limits bounds the one page.
    let server = Hostile::new().data_body(DataBody::NonXml(3 << 20)).start();
    let client = client_with(&server, |c| c.max_record_bytes = 2 << 20);
    let f = client
        .fetch(&token("1"), "medications", &[], None)
        .await
        .unwrap_err();
    assert!(f.message.contains("--max-record-mib"), "{}", f.message);
}

#[tokio::test]
async fn the_record_limit_default_and_flag_are_the_same() {
    let cfg = ClientConfig::new("http://h", "a@b", Secret::new("s"));
    assert_eq!(cfg.max_record_bytes, defaults::MAX_RECORD_MIB << 20);
    assert_eq!(cfg.max_record_bytes, 256 << 20);
    assert_eq!(cfg.max_body_bytes, 64 << 20);
    assert_eq!(cfg.request_timeout, Duration::from_secs(60));
    assert_eq!(cfg.retry.max_attempts, 6);
    assert_eq!(cfg.retry.base_delay, Duration::from_millis(250));
    assert_eq!(cfg.manifest_timeout, Duration::from_secs(5));
}

// ---- task 4: server text is never echoed unbounded ------------------------

#[tokio::test]
async fn a_10_mib_body_never_reaches_a_message() {
    let ten = 10 << 20;
    // Over the body limit: refused while streaming, no text quoted.
    let server = Hostile::new().data_body(DataBody::NonXml(ten)).start();
    let small = client_with(&server, |c| c.max_body_bytes = 8 << 20);
    let f = small
        .fetch(&token("1"), "medications", &[], None)
        .await
        .unwrap_err();
    assert!(f.message.contains("--max-body-mib"), "{}", f.message);
    assert!(!f.message.contains("--max-body-bytes"), "{}", f.message);
    assert_bounded(&f.message);
    // Within the limit, a 200 text/plain body is delivered as it is (the
    // transform judges it), with its content type.
    let got = client(&server)
        .fetch(&token("1"), "medications", &[], None)
        .await
        .unwrap();
    assert_eq!(got.pages[0].len(), ten);
    assert_eq!(got.content_type.as_deref(), Some("text/plain"));

    // Error statuses with 10 MiB bodies: retried, then a bounded message.
    for status in [500, 403, 404] {
        let server = Hostile::new()
            .data_status(status)
            .status_body_bytes(ten)
            .start();
        let f = client(&server)
            .fetch(&token("1"), "medications", &[], None)
            .await
            .unwrap_err();
        assert_eq!(f.http_status, Some(status));
        assert_bounded(&f.message);
        assert_bounded(&f.to_string());
    }
}

#[tokio::test]
async fn huge_record_ids_are_refused_with_an_excerpt() {
    // An id over the 256-byte id limit (in a small token answer).
    let long = format!("{}\u{1b}[2J", "A".repeat(5000));
    let server = Hostile::new().records([long.as_str()]).start();
    let e = client(&server).first().await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("smart_record_id is 5004 bytes long"), "{msg}");
    assert_bounded(&msg);
    // An id so long the token answer is over its 64 KiB limit.
    let huge = "A".repeat(100_000);
    let server = Hostile::new().records([huge.as_str()]).start();
    let e = client(&server).first().await.unwrap_err();
    let msg = e.to_string();
    assert!(msg.contains("over the limit of 65536 bytes"), "{msg}");
    assert_bounded(&msg);
}

#[tokio::test]
async fn an_entity_bomb_is_refused_before_parsing_its_next_page() {
    let server = Hostile::new().data_body(DataBody::BillionLaughs).start();
    let client = client(&server);
    // Without paging, the client hands the (small) body over untouched.
    let got = client
        .fetch(&token("1"), "medications", &[], None)
        .await
        .unwrap();
    assert_eq!(got.pages[0], hostile::BILLION_LAUGHS.as_bytes());
    // With paging, it would have to parse it for nextPageURL: refused.
    let f = client
        .fetch(&token("1"), "medications", &[], Some(10))
        .await
        .unwrap_err();
    assert!(
        f.message.contains("entity-expansion bomb") && f.message.contains("3000000000"),
        "{}",
        f.message
    );
    assert_bounded(&f.message);
}

// ---- task 5: HTML pages, duplicate keys, slow manifest, odd ids -----------

#[tokio::test]
async fn an_html_page_with_200_fails_the_record_at_fetch() {
    let server = Hostile::new().data_body(DataBody::Html).start();
    let f = client(&server)
        .fetch(&token("1"), "medications", &[], None)
        .await
        .unwrap_err();
    assert_eq!(f.http_status, Some(200));
    assert_eq!(f.attempts, 1);
    assert!(
        f.message.contains("Content-Type: text/html; charset=utf-8")
            && f.message.contains("an HTML page, not RDF/XML")
            && f.message.contains("<!DOCTYPE html>\\n<html>"),
        "{}",
        f.message
    );
    // Any case and parameters; a huge page is quoted in a short excerpt.
    let mut page = b"<HTML>\x1b[2J".to_vec();
    page.resize(10 << 20, b'A');
    let server = Hostile::new()
        .data_body(DataBody::Raw(
            "Text/HTML;charset=latin1".into(),
            page.into(),
        ))
        .start();
    let f = client(&server)
        .fetch(&token("1"), "medications", &[], None)
        .await
        .unwrap_err();
    assert!(f.message.contains("Text/HTML"), "{}", f.message);
    assert_bounded(&f.message);
}

#[tokio::test]
async fn token_answers_with_a_repeated_key_are_refused() {
    for key in ["smart_record_id", "oauth_token", "oauth_token_secret"] {
        let server = Hostile::new().duplicate_token_key(key).start();
        let client = client(&server);
        for e in [
            client.first().await.unwrap_err(),
            client.mint("2").await.unwrap_err(),
        ] {
            let msg = e.to_string();
            assert!(matches!(e, ExtractError::Protocol { .. }), "{msg}");
            assert!(
                msg.contains(&format!("names {key} more than once")),
                "{msg}"
            );
            // Never the values (they are credentials).
            assert!(
                !msg.contains("=tok") && !msg.contains("=sec") && !msg.contains("other"),
                "{msg}"
            );
        }
    }
}

#[tokio::test]
async fn a_slow_manifest_costs_one_short_attempt() {
    let server = Hostile::new()
        .slow_manifest(Duration::from_secs(60))
        .start();
    let client = client_with(&server, |c| c.manifest_timeout = Duration::from_millis(300));
    let e = client.manifest().await.unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ExtractError::Transport { .. }), "{msg}");
    assert!(
        msg.contains("1 attempt(s)") && msg.contains("timed out"),
        "{msg}"
    );
    assert_eq!(server.requests(), 1, "no retry");
    // The cursor does not depend on it.
    assert_eq!(walk_all(&client).await.len(), 3);
}

#[tokio::test]
async fn data_calls_refused_with_401_or_403() {
    let server = Hostile::new().data_status(401).start();
    let client = client(&server);
    let f = client
        .fetch(&token("1"), "medications", &[], None)
        .await
        .unwrap_err();
    assert_eq!(f.http_status, Some(401));
    assert!(
        f.message.contains("even with a freshly minted token"),
        "{}",
        f.message
    );
    assert_eq!(client.stats().remints, 1);
    assert_eq!(f.attempts, 2);

    let server = Hostile::new().data_status(403).start();
    let client = self::client(&server);
    let f = client
        .fetch(&token("1"), "medications", &[], None)
        .await
        .unwrap_err();
    assert_eq!((f.http_status, f.attempts), (Some(403), 1));
    assert!(
        f.message.contains("refused this record's token"),
        "{}",
        f.message
    );
    assert_eq!(client.stats().remints, 0);
}

/// Ids a container may hold that need percent-encoding, or that are
/// dangerous once printed or opened in a spreadsheet.
const ODD_IDS: &[&str] = &[
    "a b",
    "q\"uote's",
    "50%",
    "%2F",
    "h#sh",
    "wh?t&x=1",
    "+plus",
    "=cmd|' -C calc'!A0",
    "@SUM(1+1)",
    "-2",
    "nul\u{0}byte",
    "esc\u{1b}[2J",
    "line\nbreak\r",
    "tab\t",
    "é€😀",
    "...",
    "<tag>",
];

#[tokio::test]
async fn odd_record_ids_walk_mint_and_fetch() {
    let server = Hostile::new().records(ODD_IDS.iter().copied()).start();
    let client = client(&server);
    let walked: Vec<RecordToken> = walk_all(&client)
        .await
        .into_iter()
        .map(Result::unwrap)
        .collect();
    let ids: Vec<&str> = walked.iter().map(|t| t.record_id.as_str()).collect();
    assert_eq!(ids, ODD_IDS);
    let ids: Vec<RecordId> = ODD_IDS.iter().map(|&s| RecordId::new(s)).collect();
    let minted: Vec<_> = extract::known(client.clone(), ids.clone(), 0, 4)
        .collect()
        .await;
    for ((id, t), want) in minted.iter().zip(&ids) {
        assert_eq!(id, want);
        assert_eq!(&t.as_ref().unwrap().record_id, want);
    }
    for t in &walked {
        let f = client.fetch(t, "medications", &[], None).await.unwrap();
        assert_eq!(f.url, client.data_url(t.record_id.as_str(), "medications"));
        // The server saw exactly this id in the decoded path.
        let last = server.seen().pop().unwrap();
        assert_eq!(
            last.path,
            format!("/records/{}/medications/", t.record_id.as_str())
        );
        // The body's statement URI is built on the same encoded URL (a
        // parser's base IRI would resolve against it).
        let body = String::from_utf8_lossy(&f.pages[0]).into_owned();
        let escaped = f.url.replace('&', "&amp;");
        assert!(body.contains(&escaped), "{body}");
    }
}

#[tokio::test]
async fn ids_with_a_slash_cannot_be_addressed_and_say_so() {
    let formula = "=cmd|' /C calc'!A0";
    let server = Hostile::new().records(["a", formula, "b"]).start();
    let client = client(&server);
    let items = walk_all(&client).await;
    assert_eq!(items.len(), 3);
    let t = items[1].as_ref().unwrap();
    assert_eq!(t.record_id, formula);
    let e = items[2].as_ref().unwrap_err();
    let msg = e.to_string();
    assert!(matches!(e, ExtractError::UnusableId { .. }), "{msg}");
    assert!(
        msg.contains(&format!("record id `{formula}`")) && msg.contains("`[^/]+`"),
        "{msg}"
    );
    let before = server.requests();
    let f = client.fetch(t, "medications", &[], None).await.unwrap_err();
    assert!(
        f.message.contains("cannot be used in a URL"),
        "{}",
        f.message
    );
    assert_eq!(f.attempts, 0);
    let minted: Vec<_> = extract::known(client.clone(), vec![formula.into()], 0, 1)
        .collect()
        .await;
    assert!(matches!(minted[0].1, Err(ExtractError::UnusableId { .. })));
    assert_eq!(server.requests(), before, "nothing was sent for it");
}

// ---- task 7: retries by cause, latency per endpoint class -----------------

#[tokio::test]
async fn retries_by_cause_and_latency_per_endpoint() {
    let server = Hostile::new().data_status(503).start();
    let client = client(&server);
    let walked = walk_all(&client).await;
    assert_eq!(walked.len(), 3);
    client.mint("2").await.unwrap();
    let f = client
        .fetch(&token("1"), "medications", &[], None)
        .await
        .unwrap_err();
    assert_eq!(f.attempts, 2);
    let s = client.stats();
    assert_eq!(s.retries, 1);
    assert_eq!(s.retry_causes.http_503, 1);
    assert_eq!(s.retry_causes.timeout + s.retry_causes.connection, 0);
    assert_eq!(s.latency.cursor.count(), 4, "first + 3 next");
    assert_eq!(s.latency.mint.count(), 1);
    assert_eq!(s.latency.data.count(), 2);
    assert_eq!(s.requests, 7);
    let json = serde_json::to_value(s).unwrap();
    assert_eq!(json["latency"]["data"]["count"], 2);
    assert_eq!(json["retry_causes"]["http_503"], 1);
}

#[tokio::test]
async fn the_harness_stops_when_dropped() {
    let server = Hostile::new()
        .slow_manifest(Duration::from_secs(600))
        .start();
    let client = client_with(&server, |c| c.manifest_timeout = Duration::from_secs(600));
    let pending = tokio::spawn(async move { client.manifest().await });
    tokio::time::sleep(Duration::from_millis(100)).await;
    drop(server);
    // The slow answer was cancelled with the server: the client sees a
    // closed connection, not the 10-minute answer.
    let e = pending.await.unwrap().unwrap_err();
    assert!(matches!(e, ExtractError::Transport { .. }), "{e}");
}
