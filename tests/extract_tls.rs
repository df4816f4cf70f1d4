//! HTTPS: rustls with the `ring` provider and the platform verifier; a
//! private CA is trusted only when given as `ca_file` (`--ca-file`), and
//! nothing turns verification off.
//!
//! The peer is `openssl s_server -www` with a certificate signed by a CA made
//! for the test (the `openssl` CLI builds both). Without `openssl` the test
//! says so and passes.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use smartsweep::extract::{Client, ClientConfig, ExtractError, RetryPolicy};
use smartsweep::secret::Secret;

fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A CA and a server certificate for 127.0.0.1 signed by it.
fn make_pki(dir: &Path) {
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let mut ca = vec!["req", "-x509"];
    ca.extend(ec);
    ca.extend([
        "-keyout",
        "ca.key",
        "-out",
        "ca.pem",
        "-days",
        "2",
        "-subj",
        "/CN=smartsweep test CA",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
    ]);
    openssl(dir, &ca);
    let mut csr = vec!["req"];
    csr.extend(ec);
    csr.extend([
        "-keyout",
        "srv.key",
        "-out",
        "srv.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    openssl(dir, &csr);
    std::fs::write(
        dir.join("ext.cnf"),
        "subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n",
    )
    .unwrap();
    openssl(
        dir,
        &[
            "x509",
            "-req",
            "-in",
            "srv.csr",
            "-CA",
            "ca.pem",
            "-CAkey",
            "ca.key",
            "-CAcreateserial",
            "-out",
            "srv.pem",
            "-days",
            "2",
            "-extfile",
            "ext.cnf",
        ],
    );
}

struct Server(std::process::Child);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn config(base: &str) -> ClientConfig {
    let mut cfg = ClientConfig::new(base, "a@b", Secret::new("s"));
    cfg.retry = RetryPolicy::no_sleep(2);
    cfg.connect_timeout = Duration::from_secs(5);
    cfg.request_timeout = Duration::from_secs(10);
    cfg
}

#[tokio::test]
async fn private_ca_is_trusted_only_when_given() {
    if Command::new("openssl")
        .arg("version")
        .stdout(Stdio::null())
        .status()
        .map(|s| !s.success())
        .unwrap_or(true)
    {
        eprintln!("SKIPPED: no openssl CLI");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    make_pki(dir.path());
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let _server = Server(
        Command::new("openssl")
            .args([
                "s_server", "-www", "-quiet", "-cert", "srv.pem", "-key", "srv.key",
            ])
            .args(["-accept", &format!("127.0.0.1:{port}")])
            .current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut up = false;
    for _ in 0..100 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            up = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(up, "openssl s_server did not start");
    let base = format!("https://127.0.0.1:{port}");

    // Without the CA: the certificate is refused (after the retry budget).
    let client = Client::new(config(&base)).unwrap();
    let err = client.manifest().await.unwrap_err();
    let msg = err.to_string();
    assert!(matches!(err, ExtractError::Transport { .. }), "{msg}");
    assert!(msg.to_lowercase().contains("certificate"), "{msg}");

    // With it: the TLS session is set up and the answer read. (`s_server
    // -www` answers an HTML status page, not a manifest.)
    let mut cfg = config(&base);
    cfg.ca_file = Some(dir.path().join("ca.pem"));
    let client = Client::new(cfg).unwrap();
    let err = client.manifest().await.unwrap_err();
    let msg = err.to_string();
    assert!(
        matches!(err, ExtractError::Protocol { .. }) && msg.contains("not JSON"),
        "{msg}"
    );
}
