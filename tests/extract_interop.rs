//! Interop: Python oauthlib verifies the signatures smartsweep produces.
//!
//! Starts `tests/interop/oauth_verify.py` (a tiny SMART Classic container
//! that checks every request's `Authorization` header with oauthlib), points
//! the extract client at it (an app id with `@`, a consumer secret and token
//! secrets full of odd characters, record ids with a space, `@` and `+`, the
//! 2-legged POST cursor, minted tokens, 3-legged GETs with a signed query,
//! paging through unencoded `nextPageURL`s), then closes the script's stdin:
//! the script prints `N passed, 0 failed` and exits non-zero on any mismatch.
//!
//! Needs `python3` with `oauthlib` (`pip install oauthlib`). Without them the
//! test says so and passes, unless `SMARTSWEEP_REQUIRE_INTEROP=1` (CI), which
//! makes it fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Stdio;
use std::time::Duration;

use futures::StreamExt;
use smartsweep::extract::{self, Client, ClientConfig, RetryPolicy};
use smartsweep::secret::Secret;
use tokio::io::{AsyncBufReadExt, AsyncReadExt, BufReader};

const APP: &str = "interop-app@apps.smartplatforms.org";
const SCRIPT: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/interop/oauth_verify.py");

fn python_ready() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import oauthlib"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauthlib_verifies_our_signatures() {
    if !python_ready() {
        let required = std::env::var_os("SMARTSWEEP_REQUIRE_INTEROP").is_some_and(|v| v == "1");
        assert!(
            !required,
            "python3 with oauthlib is required (pip install oauthlib)"
        );
        eprintln!("SKIPPED: python3 with oauthlib not found (pip install oauthlib)");
        return;
    }
    let consumer_secret = "c&s =+%\"'~\u{e9}\u{1f980} sec,ret";
    let mut child = tokio::process::Command::new("python3")
        .arg(SCRIPT)
        .env("INTEROP_CONSUMER_SECRET", consumer_secret)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut stdout = BufReader::new(child.stdout.take().unwrap());
    let mut first = String::new();
    tokio::time::timeout(Duration::from_secs(30), stdout.read_line(&mut first))
        .await
        .expect("the script starts")
        .unwrap();
    let api_base = first
        .trim()
        .strip_prefix("LISTENING ")
        .unwrap_or_else(|| panic!("unexpected first line: {first:?}"))
        .to_owned();

    let mut cfg = ClientConfig::new(&api_base, APP, Secret::new(consumer_secret));
    cfg.retry = RetryPolicy::no_sleep(1);
    let client = Client::new(cfg).unwrap();
    client.manifest().await.unwrap();

    // The cursor (2-legged POSTs), then each record's data (3-legged GETs).
    let tokens: Vec<_> = extract::walk(client.clone(), extract::ChainSpec::default(), None)
        .map(|t| t.unwrap())
        .collect()
        .await;
    let ids: Vec<String> = tokens
        .iter()
        .map(|t| t.record_id.as_str().to_owned())
        .collect();
    assert_eq!(ids, ["1032702", "2169591", "613876", "a b@c", "x+y~z"]);
    let params = vec![
        ("rxnorm".to_string(), "312938|309309 +x".to_string()),
        ("date_from".to_string(), "2010-01-01T00:00:00Z".to_string()),
    ];
    for t in &tokens {
        let plain = client.fetch(t, "medications", &[], None).await.unwrap();
        assert_eq!(plain.pages.len(), 1);
        let filtered = client.fetch(t, "medications", &params, None).await.unwrap();
        assert_eq!(filtered.pages.len(), 1);
        let paged = client
            .fetch(t, "medications", &params, Some(2))
            .await
            .unwrap();
        assert_eq!(paged.pages.len(), 3, "5 medications in pages of 2");
    }
    // Known ids: minted tokens (2-legged), used 3-legged.
    let minted: Vec<_> = extract::known(
        client.clone(),
        ids.iter().map(|i| i.as_str().into()).collect(),
        0,
        3,
    )
    .collect()
    .await;
    for (id, t) in &minted {
        let t = t.as_ref().unwrap();
        assert_eq!(&t.record_id, id);
        client.fetch(t, "medications", &[], Some(4)).await.unwrap();
    }
    assert_eq!(client.stats().retries, 0);

    drop(child.stdin.take());
    let mut rest = String::new();
    stdout.read_to_string(&mut rest).await.unwrap();
    let mut stderr = String::new();
    child
        .stderr
        .take()
        .unwrap()
        .read_to_string(&mut stderr)
        .await
        .unwrap();
    let status = child.wait().await.unwrap();
    assert!(status.success(), "oauth_verify.py: {rest}\n{stderr}");
    let summary = rest.lines().last().unwrap_or_default();
    let passed: u32 = summary
        .strip_suffix(" passed, 0 failed")
        .unwrap_or_else(|| panic!("summary: {summary:?}\n{stderr}"))
        .parse()
        .unwrap();
    // 1 manifest + 6 cursor calls + 5 x (1 + 1 + 3) data calls + 5 mints + 5 x 2 paged.
    assert!(passed >= 47, "{summary}");
    eprintln!("oauth_verify.py: {summary}");
}
