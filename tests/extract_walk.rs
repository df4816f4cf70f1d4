//! `extract::walk`, `resolve_starts` and `known` against the embedded
//! sandbox over real HTTP: a full walk is `first`/`next`; chains from seeds
//! partition the records exactly; a deleted seed is replaced and a chain
//! with no surviving start is dropped without a gap; resume after a
//! watermark, and the fallbacks when it was deleted (records deleted by
//! serving a `--from-dir` directory with fewer files); odd record ids end to
//! end. The skip after a fallback is checked against the hostile server.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod hostile;

use std::collections::BTreeSet;
use std::path::Path;
use std::time::Duration;

use futures::StreamExt;
use smartsweep::extract::{
    self, ChainSpec, Client, ClientConfig, ExtractError, Resume, RetryPolicy,
};
use smartsweep::record::RecordId;
use smartsweep::sandbox::{self, SandboxConfig, SandboxHandle};

async fn start(cfg: SandboxConfig) -> SandboxHandle {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    sandbox::start(cfg, listener).await.unwrap()
}

fn client_for(sb: &SandboxHandle, cfg: &SandboxConfig) -> Client {
    let mut c = ClientConfig::new(sb.api_base(), &cfg.app_id, cfg.consumer_secret.clone());
    c.consumer_key = cfg.consumer_key.clone();
    c.retry = RetryPolicy::no_sleep(2);
    c.request_timeout = Duration::from_secs(20);
    Client::new(c).unwrap()
}

/// The ids a walk yields; panics on an error.
async fn ids_of(client: &Client, spec: ChainSpec, resume: Option<Resume>) -> Vec<String> {
    extract::walk(client.clone(), spec, resume)
        .map(|t| t.unwrap().record_id.into_string())
        .collect()
        .await
}

fn rid(s: &str) -> RecordId {
    RecordId::new(s)
}

fn rids(v: &[String]) -> Vec<RecordId> {
    v.iter().map(|s| rid(s)).collect()
}

/// A `--from-dir` sandbox over `ids` (files `<id>.rdf`, each its own id as
/// content): deleting a record is serving a directory without its file.
fn write_records(dir: &Path, ids: &[String]) {
    std::fs::create_dir_all(dir).unwrap();
    for id in ids {
        std::fs::write(
            dir.join(format!("{id}.rdf")),
            format!("<record>{id}</record>"),
        )
        .unwrap();
    }
}

fn dir_config(dir: &Path) -> SandboxConfig {
    SandboxConfig {
        from_dir: Some(dir.to_owned()),
        ..SandboxConfig::default()
    }
}

/// Serve `ids` minus `deleted` from a fresh directory.
async fn dir_sandbox(
    tmp: &tempfile::TempDir,
    name: &str,
    ids: &[String],
    deleted: &[&str],
) -> (SandboxHandle, SandboxConfig) {
    let dir = tmp.path().join(name);
    let keep: Vec<String> = ids
        .iter()
        .filter(|i| !deleted.contains(&i.as_str()))
        .cloned()
        .collect();
    write_records(&dir, &keep);
    let cfg = dir_config(&dir);
    (start(cfg.clone()).await, cfg)
}

fn numbered(n: usize) -> Vec<String> {
    (0..n).map(|i| format!("p{i:04}")).collect()
}

#[tokio::test]
async fn a_full_walk_is_first_then_next() {
    let cfg = SandboxConfig {
        records: 300,
        seed: 11,
        ..SandboxConfig::default()
    };
    let sb = start(cfg.clone()).await;
    let client = client_for(&sb, &cfg);
    let walked = ids_of(&client, ChainSpec::default(), None).await;
    let mut by_hand = Vec::new();
    let mut t = client.first().await.unwrap();
    while let Some(tok) = t {
        t = client.next(tok.record_id.as_str()).await.unwrap();
        by_hand.push(tok.record_id.into_string());
    }
    assert_eq!(walked, by_hand);
    assert_eq!(walked, sandbox::record_ids(&cfg));
    assert_eq!(client.stats().latency.cursor.count(), 2 * 301);
}

#[tokio::test]
async fn chains_from_seeds_partition_the_records_exactly() {
    let cfg = SandboxConfig {
        records: 1000,
        seed: 3,
        ..SandboxConfig::default()
    };
    let truth = sandbox::record_ids(&cfg);
    let sb = start(cfg.clone()).await;
    let client = client_for(&sb, &cfg);
    for k in [1usize, 2, 7, 16] {
        // Seeds every n/k records of a known list (here: the truth); chain
        // i's candidates are its slice of the list.
        let step = truth.len().div_ceil(k);
        let candidates: Vec<Vec<RecordId>> = truth.chunks(step).map(rids).collect();
        let starts = extract::resolve_starts(&client, candidates).await.unwrap();
        assert_eq!(starts.len(), k);
        assert_eq!(starts[0], None);
        for (i, s) in starts.iter().enumerate().skip(1) {
            assert_eq!(s.as_ref().unwrap(), &truth[i * step]);
        }
        let specs = extract::chain_specs(&starts);
        assert_eq!(specs.len(), k);
        let chains =
            futures::future::join_all(specs.into_iter().map(|spec| ids_of(&client, spec, None)))
                .await;
        // Each chain is its slice, in order; together each record once.
        for (i, chain) in chains.iter().enumerate() {
            assert_eq!(
                chain[..],
                truth[i * step..((i + 1) * step).min(truth.len())]
            );
        }
        let union: Vec<String> = chains.concat();
        assert_eq!(union, truth, "k = {k}");
    }
}

#[tokio::test]
async fn a_deleted_seed_is_replaced_and_a_chain_with_none_left_is_dropped() {
    let tmp = tempfile::tempdir().unwrap();
    let old = numbered(40);
    // Chain 2's seed (p0020) is gone; chain 3's every candidate
    // (p0030..p0039) is gone; chain 1's seed and the one after it are gone.
    let mut deleted: Vec<&str> = vec!["p0010", "p0011", "p0020"];
    deleted.extend(old[30..].iter().map(String::as_str));
    let (sb, cfg) = dir_sandbox(&tmp, "d", &old, &deleted).await;
    let client = client_for(&sb, &cfg);
    let candidates: Vec<Vec<RecordId>> = old.chunks(10).map(rids).collect();
    let starts = extract::resolve_starts(&client, candidates).await.unwrap();
    assert_eq!(starts, [None, Some(rid("p0012")), Some(rid("p0021")), None]);
    let specs = extract::chain_specs(&starts);
    assert_eq!(specs.len(), 3);
    let mut union = Vec::new();
    for spec in specs {
        union.extend(ids_of(&client, spec, None).await);
    }
    let now = sandbox::record_ids(&cfg);
    assert_eq!(union, now, "every remaining record once, no gap");
}

/// Checking a candidate start costs at most two token requests even when
/// the client retries six times: the reference container answers 500 for an
/// unknown id, and a deleted seed must not cost a whole retry schedule.
#[tokio::test]
async fn a_deleted_candidate_costs_two_attempts_not_a_retry_schedule() {
    let tmp = tempfile::tempdir().unwrap();
    let old = numbered(20);
    let (sb, cfg) = dir_sandbox(&tmp, "p", &old, &["p0010", "p0011"]).await;
    let mut c = ClientConfig::new(sb.api_base(), &cfg.app_id, cfg.consumer_secret.clone());
    c.consumer_key = cfg.consumer_key.clone();
    c.retry = RetryPolicy::no_sleep(6);
    let client = Client::new(c).unwrap();
    let candidates: Vec<Vec<RecordId>> = old.chunks(10).map(rids).collect();
    let starts = extract::resolve_starts(&client, candidates).await.unwrap();
    assert_eq!(starts, [None, Some(rid("p0012"))]);
    // p0010 and p0011: two attempts each; p0012: one.
    assert_eq!(client.stats().latency.mint.count(), 2 + 2 + 1);
}

#[tokio::test]
async fn resolving_starts_stops_on_rejected_credentials() {
    let cfg = SandboxConfig {
        records: 20,
        ..SandboxConfig::default()
    };
    let sb = start(cfg.clone()).await;
    let wrong = SandboxConfig {
        consumer_secret: smartsweep::secret::Secret::new("wrong"),
        ..cfg.clone()
    };
    let client = client_for(&sb, &wrong);
    let ids = rids(&sandbox::record_ids(&cfg));
    let e = extract::resolve_starts(&client, vec![vec![], ids[5..].to_vec()])
        .await
        .unwrap_err();
    assert!(e.is_fatal_credentials(), "{e}");
}

#[tokio::test]
async fn resume_after_a_watermark_in_chain_0_and_in_a_seeded_chain() {
    let cfg = SandboxConfig {
        records: 60,
        seed: 5,
        ..SandboxConfig::default()
    };
    let truth = sandbox::record_ids(&cfg);
    let sb = start(cfg.clone()).await;
    let client = client_for(&sb, &cfg);
    let resume = |w: usize| Resume {
        watermark: rid(&truth[w]),
        recent: rids(&truth[w.saturating_sub(4)..=w]),
    };
    assert_eq!(
        ids_of(&client, ChainSpec::default(), Some(resume(9))).await,
        truth[10..]
    );
    // Chain 1 of 2 (start 30), resumed at 41; chain 0 resumed at 29 ends
    // before chain 1's start.
    let starts = [None, Some(rid(&truth[30]))];
    let specs = extract::chain_specs(&starts);
    assert_eq!(
        ids_of(&client, specs[1].clone(), Some(resume(41))).await,
        truth[42..]
    );
    assert!(
        ids_of(&client, specs[0].clone(), Some(resume(29)))
            .await
            .is_empty()
    );
    assert_eq!(
        ids_of(&client, specs[0].clone(), Some(resume(20))).await,
        truth[21..30]
    );
    // A finished chain resumed: nothing more.
    assert!(
        ids_of(&client, ChainSpec::default(), Some(resume(59)))
            .await
            .is_empty()
    );
}

#[tokio::test]
async fn a_deleted_watermark_falls_back_to_an_earlier_committed_record() {
    let tmp = tempfile::tempdir().unwrap();
    let old = numbered(30);
    let recent = rids(&old[5..=9]);
    let resume = Resume {
        watermark: rid("p0009"),
        recent: recent.clone(),
    };
    // The watermark and the record before it are gone: restart after p0007.
    let (sb, cfg) = dir_sandbox(&tmp, "a", &old, &["p0009", "p0008"]).await;
    let client = client_for(&sb, &cfg);
    assert_eq!(
        ids_of(&client, ChainSpec::default(), Some(resume.clone())).await,
        old[10..]
    );
    // Every recent record is gone: restart from `first`, skip up to the
    // watermark.
    let gone: Vec<&str> = old[5..=9].iter().map(String::as_str).collect();
    let (sb, cfg) = dir_sandbox(&tmp, "b", &old, &gone).await;
    let client = client_for(&sb, &cfg);
    let before = client.stats().latency.cursor.count();
    assert_eq!(
        ids_of(&client, ChainSpec::default(), Some(resume.clone())).await,
        old[10..]
    );
    // next(watermark) and each recent id (2 attempts each: 500 is
    // retried), then first and next up to the end.
    let calls = client.stats().latency.cursor.count() - before;
    assert_eq!(calls, 2 * 5 + 1 + 25);
    // A seeded chain (start p0003) restarts from its start, and stops
    // before the next chain's start (p0020).
    let spec = ChainSpec {
        start: Some(rid("p0003")),
        stop: vec![rid("p0020")],
    };
    assert_eq!(
        ids_of(&client, spec.clone(), Some(resume.clone())).await,
        old[10..20]
    );
    // ... and from `first` when its start is gone too.
    let mut gone_too = gone.clone();
    gone_too.push("p0003");
    let (sb, cfg) = dir_sandbox(&tmp, "c", &old, &gone_too).await;
    let client = client_for(&sb, &cfg);
    assert_eq!(ids_of(&client, spec, Some(resume)).await, old[10..20]);
}

#[tokio::test]
async fn after_a_fallback_the_records_committed_after_it_are_skipped() {
    // `next` fails (500, twice: the whole retry budget) after p5 and p4
    // although they exist: the walk restarts after p3 and must not yield p4
    // and p5 (committed) again.
    let ids: Vec<String> = (0..8).map(|i| format!("p{i}")).collect();
    let server = hostile::Hostile::new()
        .records(ids.clone())
        .broken_next(["p5", "p4"], 2)
        .start();
    let client = Client::new(server.client_config()).unwrap();
    let resume = Resume {
        watermark: rid("p5"),
        recent: rids(&ids[2..=5]),
    };
    let got = ids_of(&client, ChainSpec::default(), Some(resume)).await;
    assert_eq!(got, ids[6..]);
    let nexts: Vec<_> = server
        .seen()
        .into_iter()
        .map(|s| {
            s.path
                .trim_end_matches("/next")
                .rsplit('/')
                .next()
                .unwrap()
                .to_owned()
        })
        .collect();
    assert_eq!(
        nexts,
        ["p5", "p5", "p4", "p4", "p3", "p4", "p5", "p6", "p7"]
    );
}

#[tokio::test]
async fn other_resume_failures_are_returned() {
    // Credentials rejected while resuming: fatal, and the stream ends.
    let cfg = SandboxConfig {
        records: 5,
        ..SandboxConfig::default()
    };
    let sb = start(cfg.clone()).await;
    let wrong = SandboxConfig {
        consumer_secret: smartsweep::secret::Secret::new("wrong"),
        ..cfg
    };
    let client = client_for(&sb, &wrong);
    let resume = Resume {
        watermark: rid("1"),
        recent: vec![rid("1")],
    };
    let items: Vec<_> = extract::walk(client, ChainSpec::default(), Some(resume))
        .collect()
        .await;
    assert_eq!(items.len(), 1);
    assert!(matches!(items[0], Err(ExtractError::Rejected { .. })));
}

#[tokio::test]
async fn known_ids_from_a_position() {
    let cfg = SandboxConfig {
        records: 30,
        ..SandboxConfig::default()
    };
    let truth = sandbox::record_ids(&cfg);
    let sb = start(cfg.clone()).await;
    let client = client_for(&sb, &cfg);
    let mut ids = rids(&truth);
    ids.reverse();
    ids.insert(7, rid("0-not-a-record"));
    let got: Vec<_> = extract::known(client, ids.clone(), 5, 6).collect().await;
    assert_eq!(
        got.iter().map(|(id, _)| id.clone()).collect::<Vec<_>>(),
        ids[5..]
    );
    for (id, r) in &got {
        match r {
            Ok(t) => assert_eq!(&t.record_id, id),
            Err(e) => {
                assert_eq!(id, "0-not-a-record");
                assert_eq!(e.status(), Some(500));
            }
        }
    }
}

/// Record ids that need percent-encoding (and some that are dangerous when
/// printed), as file names of a `--from-dir` sandbox. `/` cannot be in a
/// file name, nor in a container's routable id.
const ODD_IDS: &[&str] = &[
    "a b",
    "q\"uote's",
    "50%",
    "%2F",
    "h#sh",
    "wh?t&x=1+2",
    "=cmd|' -C calc'!A0",
    "@SUM(1)",
    "esc\u{1b}[2J",
    "line\nbreak",
    "é€😀",
    "...",
    "<tag>",
];

#[tokio::test]
async fn odd_record_ids_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let ids: Vec<String> = ODD_IDS.iter().map(|s| s.to_string()).collect();
    write_records(tmp.path(), &ids);
    let cfg = dir_config(tmp.path());
    let sb = start(cfg.clone()).await;
    let client = client_for(&sb, &cfg);
    let truth = sandbox::record_ids(&cfg);
    assert_eq!(
        truth.iter().collect::<BTreeSet<_>>(),
        ids.iter().collect::<BTreeSet<_>>()
    );
    // The cursor walks them (signed over the decoded path by both sides).
    let tokens: Vec<_> = extract::walk(client.clone(), ChainSpec::default(), None)
        .map(Result::unwrap)
        .collect()
        .await;
    let walked: Vec<_> = tokens.iter().map(|t| t.record_id.as_str()).collect();
    assert_eq!(walked, truth);
    // Their data arrives, from the URL the client names.
    for t in &tokens {
        let f = client.fetch(t, "medications", &[], None).await.unwrap();
        assert_eq!(f.url, client.data_url(t.record_id.as_str(), "medications"));
        let want = format!("<record>{}</record>", t.record_id.as_str());
        assert_eq!(f.pages[0], want.as_bytes(), "{}", t.record_id);
    }
    // Minted by id; chains seeded with them.
    let minted: Vec<_> = extract::known(client.clone(), rids(&truth), 0, 4)
        .collect()
        .await;
    assert!(
        minted
            .iter()
            .all(|(id, t)| &t.as_ref().unwrap().record_id == id)
    );
    let starts =
        extract::resolve_starts(&client, vec![vec![], rids(&truth[4..8]), rids(&truth[8..])])
            .await
            .unwrap();
    let mut union = Vec::new();
    for spec in extract::chain_specs(&starts) {
        union.extend(ids_of(&client, spec, None).await);
    }
    assert_eq!(union, truth);
}
