//! The extract client against the embedded sandbox container (its own,
//! independent OAuth verifier): a full cursor walk with every fault on, known
//! ids, odd token characters, filters and paging, and the credential
//! rejections (wrong secret, clock skew). No test sleeps for backoff.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeSet;
use std::time::Duration;

use futures::StreamExt;
use smartsweep::extract::{self, Client, ClientConfig, RecordToken, RetryPolicy};
use smartsweep::failure::RecordFailure;
use smartsweep::sandbox::{self, SandboxConfig, SandboxHandle};
use smartsweep::secret::Secret;

/// Resume after `id`, with no earlier committed id known.
fn resume(id: &str) -> extract::Resume {
    extract::Resume {
        watermark: id.into(),
        recent: vec![id.into()],
    }
}

async fn start(cfg: SandboxConfig) -> SandboxHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sandbox::start(cfg, listener).await.unwrap()
}

fn client_for(sb: &SandboxHandle, cfg: &SandboxConfig, attempts: u32) -> Client {
    let mut c = ClientConfig::new(sb.api_base(), &cfg.app_id, cfg.consumer_secret.clone());
    c.consumer_key = cfg.consumer_key.clone();
    c.retry = RetryPolicy::no_sleep(attempts);
    c.request_timeout = Duration::from_secs(20);
    Client::new(c).unwrap()
}

/// Fetch every record of the cursor, 8 at a time, in cursor order.
async fn walk(client: &Client) -> Vec<(String, Result<Vec<bytes::Bytes>, RecordFailure>)> {
    let fetcher = client.clone();
    extract::walk(client.clone(), extract::ChainSpec::default(), None)
        .map(|t| t.expect("the cursor survives the faults"))
        .map(move |t| {
            let c = fetcher.clone();
            async move {
                let r = c.fetch(&t, "medications", &[], None).await;
                (t.record_id.as_str().to_owned(), r.map(|f| f.pages))
            }
        })
        .buffered(8)
        .collect()
        .await
}

fn parses(body: &[u8]) -> bool {
    oxrdfxml::RdfXmlParser::new()
        .for_slice(body)
        .all(|t| t.is_ok())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn full_walk_with_every_fault_on() {
    let faulty = SandboxConfig {
        records: 150,
        seed: 7,
        fail_rate: 0.08,
        throttle_rate: 0.05,
        retry_after_s: 2,
        reset_rate: 0.05,
        truncate_rate: 0.05,
        malformed_rate: 0.05,
        latency: Duration::from_millis(1),
        ..SandboxConfig::default()
    };
    let clean = SandboxConfig {
        fail_rate: 0.0,
        throttle_rate: 0.0,
        reset_rate: 0.0,
        truncate_rate: 0.0,
        latency: Duration::ZERO,
        ..faulty.clone()
    };
    let truth = sandbox::record_ids(&faulty);
    assert_eq!(truth.len(), 150);

    let sb = start(faulty.clone()).await;
    // 23 % of requests fail transiently: 12 attempts make a give-up
    // vanishingly rare (0.23^12 ~ 2e-8 per call).
    let client = client_for(&sb, &faulty, 12);
    let got = walk(&client).await;
    let stats = client.stats();

    let ref_sb = start(clean.clone()).await;
    let ref_client = client_for(&ref_sb, &clean, 1);
    let reference = walk(&ref_client).await;

    // Every record, once, in cursor order.
    let ids: Vec<_> = got.iter().map(|(id, _)| id.clone()).collect();
    assert_eq!(ids, truth);
    assert!(stats.retries > 20, "faults were injected: {stats:?}");

    // Each record's data arrived, byte for byte what a fault-free container
    // sends (once the API base is the same); or it is a RecordFailure with
    // its cause.
    let mut malformed = 0;
    for ((id, r), (ref_id, ref_r)) in got.iter().zip(&reference) {
        assert_eq!(id, ref_id);
        match r {
            Ok(pages) => {
                assert_eq!(pages.len(), 1);
                let ours = String::from_utf8_lossy(&pages[0]).replace(sb.api_base(), "BASE");
                let theirs_pages = ref_r.as_ref().unwrap();
                let theirs =
                    String::from_utf8_lossy(&theirs_pages[0]).replace(ref_sb.api_base(), "BASE");
                assert_eq!(ours, theirs, "record {id}: a retried body differs");
                if !parses(&pages[0]) {
                    malformed += 1;
                }
            }
            Err(f) => {
                assert_eq!(&f.record_id, id);
                assert!(f.attempts >= 1 && !f.message.is_empty(), "{f}");
            }
        }
    }
    // The malformed records (a transform failure later) did arrive intact.
    assert!(malformed > 0 && malformed < 30, "{malformed}");
    sb.shutdown().await;
    ref_sb.shutdown().await;
}

#[tokio::test]
async fn known_ids_mint_tokens_in_input_order() {
    let cfg = SandboxConfig {
        records: 40,
        ..SandboxConfig::default()
    };
    let mut ids = sandbox::record_ids(&cfg);
    ids.reverse();
    ids.truncate(25);
    ids.insert(3, "no-such-record".into());
    let sb = start(cfg.clone()).await;
    let client = client_for(&sb, &cfg, 2);
    let got: Vec<_> = extract::known(
        client.clone(),
        ids.iter().map(|i| i.as_str().into()).collect(),
        0,
        6,
    )
    .collect()
    .await;
    assert_eq!(
        got.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        ids
    );
    for (id, r) in &got {
        if id == "no-such-record" {
            let e = r.as_ref().unwrap_err();
            assert_eq!(e.status(), Some(500), "{e}");
            assert!(!e.is_fatal_credentials());
        } else {
            let t = r.as_ref().unwrap();
            assert_eq!(&t.record_id, id);
            let f = client.fetch(t, "medications", &[], None).await.unwrap();
            assert!(parses(&f.pages[0]));
        }
    }
}

#[tokio::test]
async fn cursor_ends_resumes_and_reports_a_vanished_watermark() {
    let cfg = SandboxConfig {
        records: 12,
        ..SandboxConfig::default()
    };
    let truth = sandbox::record_ids(&cfg);
    let sb = start(cfg.clone()).await;
    let client = client_for(&sb, &cfg, 2);
    let all: Vec<_> = extract::walk(client.clone(), extract::ChainSpec::default(), None)
        .map(|t| t.unwrap().record_id)
        .collect()
        .await;
    assert_eq!(all, truth);
    let rest: Vec<_> = extract::walk(
        client.clone(),
        extract::ChainSpec::default(),
        Some(resume(&truth[4])),
    )
    .map(|t| t.unwrap().record_id)
    .collect()
    .await;
    assert_eq!(rest, truth[5..]);
    let e = client.next("0-not-a-record").await.unwrap_err();
    assert_eq!(e.status(), Some(500));
    assert!(client.next(truth.last().unwrap()).await.unwrap().is_none());

    let empty_cfg = SandboxConfig {
        records: 0,
        ..SandboxConfig::default()
    };
    let empty = start(empty_cfg.clone()).await;
    let client = client_for(&empty, &empty_cfg, 2);
    assert!(client.first().await.unwrap().is_none());
    let m = client.manifest().await.unwrap();
    assert_eq!(m["api_base"], empty.api_base());
}

#[tokio::test]
async fn wrong_secret_is_rejected_with_a_useful_message() {
    let cfg = SandboxConfig {
        records: 3,
        ..SandboxConfig::default()
    };
    let sb = start(cfg.clone()).await;
    let wrong = SandboxConfig {
        consumer_secret: Secret::new("not-the-secret"),
        ..cfg.clone()
    };
    let client = client_for(&sb, &wrong, 3);
    let e = client.first().await.unwrap_err();
    assert!(e.is_fatal_credentials());
    assert_eq!(e.status(), Some(401));
    let msg = e.to_string();
    assert!(
        msg.contains(&format!("consumer key `{}`", cfg.consumer_key)),
        "{msg}"
    );
    assert!(msg.contains(sb.api_base()), "{msg}");
    assert!(msg.contains("hint: check the consumer secret"), "{msg}");
    assert!(msg.contains("background app"), "{msg}");
    // Same clock on both sides: the skew is measured and ruled out.
    assert!(msg.contains("probably not the cause"), "{msg}");
    assert!(!msg.contains("not-the-secret") && !msg.contains("smartapp-secret"));
    assert_eq!(client.stats().requests, 1, "a 401 is not retried");

    // Through the cursor stream: one error, then the end.
    let items: Vec<_> = extract::walk(client, extract::ChainSpec::default(), None)
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert!(items[0].as_ref().unwrap_err().is_fatal_credentials());

    // An unknown consumer key is a 401 too.
    let stranger = SandboxConfig {
        consumer_key: "someone-else@apps.smartplatforms.org".into(),
        ..cfg.clone()
    };
    let e = client_for(&sb, &stranger, 1).first().await.unwrap_err();
    assert!(
        e.to_string()
            .contains("someone-else@apps.smartplatforms.org")
    );
}

#[tokio::test]
async fn clock_skew_is_measured_and_named() {
    // The container's clock 15 minutes ahead, i.e. ours 15 minutes behind:
    // it refuses our timestamps as stale, and its Date header shows why.
    let ahead = SandboxConfig {
        records: 3,
        clock_offset_s: 900,
        ..SandboxConfig::default()
    };
    let sb = start(ahead.clone()).await;
    let client = client_for(&sb, &ahead, 3);
    let e = client.first().await.unwrap_err();
    assert_eq!(e.status(), Some(401));
    let msg = e.to_string();
    let skew: u64 = msg
        .split("the local clock is ")
        .nth(1)
        .and_then(|s| s.split(' ').next())
        .unwrap()
        .parse()
        .unwrap();
    assert!((898..=902).contains(&skew), "{msg}");
    assert!(
        msg.contains("behind") && msg.contains("likely cause"),
        "{msg}"
    );
    // The container's clock 15 minutes behind, i.e. ours fast: accepted
    // (the window is past-only).
    let behind = SandboxConfig {
        clock_offset_s: -900,
        ..ahead.clone()
    };
    let sb = start(behind.clone()).await;
    let client = client_for(&sb, &behind, 3);
    assert!(client.first().await.unwrap().is_some());
    // Same clocks: accepted.
    let same = SandboxConfig {
        clock_offset_s: 0,
        ..ahead
    };
    let sb = start(same.clone()).await;
    assert!(client_for(&sb, &same, 3).first().await.unwrap().is_some());
}

#[tokio::test]
async fn odd_token_characters_verify() {
    let cfg = SandboxConfig {
        records: 3,
        ..SandboxConfig::default()
    };
    let ids = sandbox::record_ids(&cfg);
    let sb = start(cfg.clone()).await;
    let client = client_for(&sb, &cfg, 1);
    let printable: String = (0x20u8..0x7f).map(char::from).collect();
    let odd = [
        ("tok en+/=&%", "s e c+r/e=t&%"),
        ("\"quoted,comma\"", "~!*'();:@$,"),
        ("é🦀", &printable as &str),
    ];
    for (i, (tok, sec)) in odd.iter().enumerate() {
        let id = &ids[i % ids.len()];
        assert!(sb.preissue_token(id, tok, sec));
        let t = RecordToken {
            record_id: id.clone().into(),
            token: Secret::new(*tok),
            secret: Secret::new(*sec),
        };
        let f = client.fetch(&t, "medications", &[], None).await;
        assert!(f.is_ok(), "token {i}: {:?}", f.err());
    }
    assert_eq!(client.stats().remints, 0);
}

/// The statement URIs of the medications in some pages.
fn medication_uris(pages: &[bytes::Bytes]) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for p in pages {
        for t in oxrdfxml::RdfXmlParser::new().for_slice(p) {
            let t = t.unwrap();
            if t.predicate.as_str() == "http://www.w3.org/1999/02/22-rdf-syntax-ns#type"
                && t.object.to_string() == "<http://smartplatforms.org/terms#Medication>"
            {
                out.insert(t.subject.to_string());
            }
        }
    }
    out
}

#[tokio::test]
async fn filters_and_paging_are_signed_and_complete() {
    let cfg = SandboxConfig {
        records: 30,
        ..SandboxConfig::default()
    };
    let sb = start(cfg.clone()).await;
    let client = client_for(&sb, &cfg, 1);
    let tokens: Vec<_> = extract::walk(client.clone(), extract::ChainSpec::default(), None)
        .map(|t| t.unwrap())
        .collect()
        .await;
    let mut paged_some = false;
    for t in &tokens {
        let whole = client.fetch(t, "medications", &[], None).await.unwrap();
        let all = medication_uris(&whole.pages);
        let paged = client.fetch(t, "medications", &[], Some(2)).await.unwrap();
        assert_eq!(
            paged.pages.len(),
            all.len().div_ceil(2).max(1),
            "{}",
            t.record_id
        );
        assert_eq!(medication_uris(&paged.pages), all, "{}", t.record_id);
        paged_some |= paged.pages.len() > 2;

        // A filter with `|` in the signed GET query, paged too.
        let params = vec![
            ("rxnorm".to_string(), "312938|309309".to_string()),
            ("date_from".to_string(), "1900".to_string()),
        ];
        let filtered = client
            .fetch(t, "medications", &params, Some(1))
            .await
            .unwrap();
        assert!(medication_uris(&filtered.pages).is_subset(&all));
    }
    assert!(paged_some, "some record needed three pages or more");
    assert_eq!(client.stats().retries, 0);
}
