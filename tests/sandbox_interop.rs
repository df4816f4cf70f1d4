//! Interop: an independent OAuth 1.0 client (Python requests-oauthlib) walks
//! the sandbox's whole cursor and rdflib parses every answer
//! (`benches/sandbox_walk.py`).
//!
//! Needs `python3` with `requests-oauthlib` and `rdflib` (`.ci/run` installs
//! them). Without them the test is skipped with a message, except under CI
//! (`CI=true`), where it fails.

use smartsweep::sandbox::{self, SandboxConfig};

fn python_ready() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import requests_oauthlib, rdflib"])
        .output()
        .is_ok_and(|o| o.status.success())
}

#[tokio::test]
async fn python_client_walks_the_cursor() {
    if !python_ready() {
        assert!(
            std::env::var("CI").as_deref() != Ok("true"),
            "CI needs python3 with requests-oauthlib and rdflib"
        );
        eprintln!("SKIPPED: python3 with requests-oauthlib and rdflib is not installed");
        return;
    }
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap_or_else(|e| panic!("bind: {e}"));
    let config = SandboxConfig {
        records: 300,
        seed: 5,
        ..SandboxConfig::default()
    };
    let handle = sandbox::start(config, listener)
        .await
        .unwrap_or_else(|e| panic!("start: {e}"));
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/benches/sandbox_walk.py");
    let out = tokio::process::Command::new("python3")
        .args([
            script,
            "--api-base",
            handle.api_base(),
            "--expect-records",
            "300",
        ])
        .env("SMARTSWEEP_CONSUMER_SECRET", "smartapp-secret")
        .output()
        .await
        .unwrap_or_else(|e| panic!("python3: {e}"));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "stdout:\n{stdout}\nstderr:\n{stderr}");
    assert!(stdout.contains("sandbox_walk: records=300 "), "{stdout}");
    handle.shutdown().await;
}
