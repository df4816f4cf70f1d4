//! Shared helpers of the sandbox HTTP tests (`sandbox_http`,
//! `sandbox_resources`): a small test-only OAuth 1.0 signer written from the
//! container spec (section 3), an in-process sandbox on 127.0.0.1:0 with a
//! plain HTTP client, raw signed requests, and an RDF/XML graph to read the
//! answers with (oxrdfxml parses them).
//!
//! Each test file adds its own request helpers as further `impl Box_` blocks.
#![allow(dead_code, clippy::expect_used, clippy::unwrap_used)]

use std::collections::{BTreeMap, BTreeSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::Sha1;
use smartsweep::sandbox::{self, SandboxConfig, SandboxHandle};

pub const APP: &str = "smart-background-app@apps.smartplatforms.org";
pub const SECRET: &str = "smartapp-secret";
pub const SP: &str = "http://smartplatforms.org/terms#";
pub const API: &str = "http://smartplatforms.org/terms/api#";
pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
pub const DCT: &str = "http://purl.org/dc/terms/";

// ---------------------------------------------------------------- signer

/// RFC 3986 percent-encoding with upper-case hex (RFC 5849 section 3.6).
pub fn esc(s: &str) -> String {
    let mut out = String::new();
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

pub fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Every knob a test may turn when signing.
#[derive(Clone)]
pub struct Sig {
    pub consumer_key: String,
    pub consumer_secret: String,
    pub token: Option<(String, String)>,
    pub timestamp: String,
    pub nonce: String,
    pub method: String,
    pub version: Option<String>,
    /// Sign this path instead of the one sent (e.g. the encoded one).
    pub signed_path: Option<String>,
    /// Extra signed parameters that are *not* sent (to break signatures).
    pub phantom: Vec<(String, String)>,
}

impl Sig {
    /// The sandbox's default app, 2-legged, timestamped now, a fresh nonce.
    pub fn app() -> Sig {
        Sig {
            consumer_key: APP.into(),
            consumer_secret: SECRET.into(),
            token: None,
            timestamp: now().to_string(),
            nonce: format!(
                "n{}-{}",
                std::process::id(),
                NONCE.fetch_add(1, Ordering::Relaxed)
            ),
            method: "HMAC-SHA1".into(),
            version: Some("1.0".into()),
            signed_path: None,
            phantom: Vec::new(),
        }
    }

    /// The default app, 3-legged with a record token.
    pub fn with_token(token: &str, secret: &str) -> Sig {
        Sig {
            token: Some((token.into(), secret.into())),
            ..Sig::app()
        }
    }

    /// The Authorization header for `method host path` with the signed
    /// request data `data` (the GET query or the form body).
    pub fn header(
        &self,
        method: &str,
        host: &str,
        path: &str,
        data: &[(String, String)],
    ) -> String {
        let mut oauth: Vec<(String, String)> = vec![
            ("oauth_consumer_key".into(), self.consumer_key.clone()),
            ("oauth_nonce".into(), self.nonce.clone()),
            ("oauth_signature_method".into(), self.method.clone()),
        ];
        // The sentinel `omit` leaves the timestamp out altogether.
        if self.timestamp != "omit" {
            oauth.push(("oauth_timestamp".into(), self.timestamp.clone()));
        }
        if let Some(v) = &self.version {
            oauth.push(("oauth_version".into(), v.clone()));
        }
        if let Some((t, _)) = &self.token {
            oauth.push(("oauth_token".into(), t.clone()));
        }
        let mut all: Vec<(String, String)> = data.to_vec();
        all.extend(oauth.iter().cloned());
        all.extend(self.phantom.iter().cloned());
        let mut enc: Vec<(String, String)> = all.iter().map(|(k, v)| (esc(k), esc(v))).collect();
        enc.sort();
        let params = enc
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join("&");
        let signed_path = self.signed_path.as_deref().unwrap_or(path);
        let base = format!(
            "{}&{}&{}",
            method.to_ascii_uppercase(),
            esc(&format!("http://{host}{signed_path}")),
            esc(&params)
        );
        let token_secret = self.token.as_ref().map(|(_, s)| s.as_str()).unwrap_or("");
        let key = format!("{}&{}", esc(&self.consumer_secret), esc(token_secret));
        let mut mac = Hmac::<Sha1>::new_from_slice(key.as_bytes()).expect("hmac key");
        mac.update(base.as_bytes());
        let sig = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
        let mut h = format!("OAuth realm=\"http://{host}\"");
        for (k, v) in &oauth {
            h.push_str(&format!(", {}=\"{}\"", esc(k), esc(v)));
        }
        h.push_str(&format!(", oauth_signature=\"{}\"", esc(&sig)));
        h
    }
}

// ---------------------------------------------------------------- client

/// An HTTP answer, read whole.
pub struct Answer {
    pub status: u16,
    pub headers: reqwest::header::HeaderMap,
    pub body: Vec<u8>,
}

impl Answer {
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as an `application/x-www-form-urlencoded` form.
    pub fn form(&self) -> BTreeMap<String, String> {
        url_decode_form(&self.text())
    }

    /// A header's value, `""` when absent or not text.
    pub fn header(&self, name: &str) -> String {
        self.headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("")
            .to_owned()
    }
}

pub fn url_decode_form(s: &str) -> BTreeMap<String, String> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            let dec = |x: &str| {
                percent_encoding::percent_decode_str(&x.replace('+', " "))
                    .decode_utf8_lossy()
                    .into_owned()
            };
            (dec(k), dec(v))
        })
        .collect()
}

/// A sandbox on 127.0.0.1:0 and a client for it.
pub struct Box_ {
    pub handle: SandboxHandle,
    pub http: reqwest::Client,
    /// `127.0.0.1:<port>`, the host the signatures name.
    pub host: String,
    /// Seconds a test adds to its timestamps (a client whose clock is off).
    pub skew: i64,
}

pub async fn boot(config: SandboxConfig) -> Box_ {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let handle = sandbox::start(config, listener).await.expect("start");
    let host = handle.api_base().trim_start_matches("http://").to_owned();
    let http = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    Box_ {
        handle,
        http,
        host,
        skew: 0,
    }
}

/// A sandbox config with `records` records and the given seed.
pub fn config(records: u64, seed: u64) -> SandboxConfig {
    SandboxConfig {
        records,
        seed,
        ..SandboxConfig::default()
    }
}

impl Box_ {
    /// Send a request. `sent_path` goes on the wire as given (already
    /// percent-encoded where wanted); `decoded_path` is what gets signed
    /// (with the query too when `sign_query`, and the form body).
    #[allow(clippy::too_many_arguments)]
    pub async fn raw(
        &self,
        method: &str,
        sent_path: &str,
        decoded_path: &str,
        query: &[(String, String)],
        form: Option<&[(String, String)]>,
        sig: Option<&Sig>,
        sign_query: bool,
    ) -> Answer {
        let mut url = format!("{}{}", self.handle.api_base(), sent_path);
        if !query.is_empty() {
            url.push('?');
            url.push_str(&form_body(query));
        }
        let method_v = reqwest::Method::from_bytes(method.as_bytes()).expect("method");
        let mut req = self.http.request(method_v, url);
        let mut data: Vec<(String, String)> = Vec::new();
        if sign_query {
            data.extend(query.iter().cloned());
        }
        if let Some(form) = form {
            data.extend(form.iter().cloned());
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body(form_body(form));
        } else if method != "GET" {
            req = req
                .header("Content-Type", "application/x-www-form-urlencoded")
                .body("");
        }
        if let Some(sig) = sig {
            req = req.header(
                "Authorization",
                sig.header(method, &self.host, decoded_path, &data),
            );
        }
        let resp = req.send().await.expect("send");
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let body = resp.bytes().await.expect("body").to_vec();
        Answer {
            status,
            headers,
            body,
        }
    }
}

/// `k=v&k=v`, each side percent-encoded.
fn form_body(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", esc(k), esc(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encode a decoded path for the wire (keeping `/`).
pub fn encode_path(path: &str) -> String {
    path.split('/').map(esc).collect::<Vec<_>>().join("/")
}

/// `(&str, &str)` pairs as owned ones.
pub fn owned(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

// ---------------------------------------------------------------- RDF

/// The triples of an RDF/XML answer, blank nodes as `_:id`, literals as
/// their lexical value.
#[derive(Default)]
pub struct Graph {
    pub triples: Vec<(String, String, String)>,
}

impl Graph {
    pub fn parse(body: &[u8]) -> Result<Graph, String> {
        Self::read(oxrdfxml::RdfXmlParser::new(), body)
    }

    /// Parse with relative IRIs resolved against `base`.
    pub fn parse_at(body: &[u8], base: &str) -> Result<Graph, String> {
        let parser = oxrdfxml::RdfXmlParser::new()
            .with_base_iri(base)
            .map_err(|e| e.to_string())?;
        Self::read(parser, body)
    }

    fn read(parser: oxrdfxml::RdfXmlParser, body: &[u8]) -> Result<Graph, String> {
        let mut triples = Vec::new();
        for t in parser.for_slice(body) {
            let t = t.map_err(|e| e.to_string())?;
            let s = match &t.subject {
                oxrdf::NamedOrBlankNode::NamedNode(n) => n.as_str().to_owned(),
                oxrdf::NamedOrBlankNode::BlankNode(b) => format!("_:{}", b.as_str()),
            };
            let o = match &t.object {
                oxrdf::Term::NamedNode(n) => n.as_str().to_owned(),
                oxrdf::Term::BlankNode(b) => format!("_:{}", b.as_str()),
                oxrdf::Term::Literal(l) => l.value().to_owned(),
                #[allow(unreachable_patterns)]
                _ => String::new(),
            };
            triples.push((s, t.predicate.as_str().to_owned(), o));
        }
        Ok(Graph { triples })
    }

    pub fn is_empty(&self) -> bool {
        self.triples.is_empty()
    }

    pub fn objects(&self, s: &str, p: &str) -> Vec<&str> {
        self.triples
            .iter()
            .filter(|(a, b, _)| a == s && b == p)
            .map(|(_, _, o)| o.as_str())
            .collect()
    }

    /// The one object of `s p` (asserts there is exactly one).
    pub fn one(&self, s: &str, p: &str) -> &str {
        let o = self.objects(s, p);
        assert_eq!(o.len(), 1, "{s} {p}: {o:?}");
        o[0]
    }

    pub fn of_type(&self, ty: &str) -> BTreeSet<String> {
        self.triples
            .iter()
            .filter(|(_, p, o)| p == &format!("{RDF}type") && o == ty)
            .map(|(s, _, _)| s.clone())
            .collect()
    }

    pub fn with_pred(&self, p: &str) -> Vec<(&str, &str)> {
        self.triples
            .iter()
            .filter(|(_, b, _)| b == p)
            .map(|(s, _, o)| (s.as_str(), o.as_str()))
            .collect()
    }

    pub fn summaries(&self) -> Vec<String> {
        self.of_type(&format!("{API}ResponseSummary"))
            .into_iter()
            .collect()
    }

    /// The rdf:List starting at `head`.
    pub fn list(&self, head: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cell = head.to_owned();
        while cell != format!("{RDF}nil") {
            out.push(self.one(&cell, &format!("{RDF}first")).to_owned());
            cell = self.one(&cell, &format!("{RDF}rest")).to_owned();
        }
        out
    }
}
