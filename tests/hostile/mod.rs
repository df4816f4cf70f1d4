//! A tiny, configurable, misbehaving SMART Classic container for tests.
//!
//! It speaks just enough of the container API (`smart-classic-api.md`
//! sections 2, 4, 5) for smartsweep to walk it: `GET /manifest`, the three
//! cursor calls (`first`, `{id}/next`, mint `{id}`; any method; unknown id:
//! 500; end: 404) and `GET /records/{id}/medications/` (a small flat RDF/XML
//! answer with one `sp:Medication` whose drug name has a `dcterms:title`;
//! its statement URI is the record's data URL, the id percent-encoded as
//! smartsweep encodes it, plus `m1`).
//! It does **not** verify OAuth signatures. The path is percent-decoded
//! before routing, as the reference does, so an id with `/` cannot be
//! reached (the reference's routing is `[^/]+`).
//!
//! # Builder API
//!
//! ```ignore
//! mod hostile;
//! use hostile::{Hostile, DataBody};
//!
//! let server = Hostile::new()              // ids "1", "2", "3"; well behaved
//!     .records(["A", "B"])                 // the cursor's ids, in this order (not sorted)
//!     .cycle_back_to("A")                  // `next` after the last id answers "A": A -> B -> A ...
//!     .start();                            // bound to 127.0.0.1:0, on its own thread
//! let cfg = server.client_config();        // ClientConfig: app id, secret, no-sleep retries (2 attempts)
//! // or, for the binary: --api-base server.api_base() --app-id hostile::APP_ID, SMARTSWEEP_CONSUMER_SECRET=hostile::SECRET
//! server.requests();                       // requests served so far
//! server.seen();                           // the last requests: method, decoded path, raw query
//! drop(server);                            // stops it (it also stops by itself, see below)
//! ```
//!
//! Behaviours (each a builder method; they combine):
//! - `records(ids)`: the cursor's ids, in cursor order (odd characters
//!   welcome: spaces, quotes, `%`, `#`, `?`, NUL, ESC, newlines, formula-like
//!   `=cmd|' /C calc'!A0`; the id travels form-encoded in token answers and
//!   percent-decoded from paths).
//! - `cycle_back_to(id)`: after the last record, `next` answers `id` again
//!   instead of 404 (a cursor cycle).
//! - `broken_next(ids, times)`: `next` after these ids answers 500 the
//!   first `times` times (then works), although the records exist.
//! - `endless_pages(page_bytes)`: with `limit`, every page of every record
//!   carries an `api:nextPageURL` to the next offset, and about `page_bytes`
//!   of padding: the pages never end.
//! - `data_body(DataBody::...)`: what every data call answers with 200:
//!   `Medication` (default), `NonXml(n)` (`n` bytes of text that is not XML,
//!   starting with control characters and an ESC sequence, `text/plain`),
//!   `Html` (an HTML login page with `text/html; charset=utf-8`),
//!   `BillionLaughs` (the XML entity-expansion bomb, `application/rdf+xml`),
//!   `Raw(content_type, bytes)`.
//! - `data_status(s)`: every data call answers HTTP `s` (e.g. 401 or 403)
//!   with a small HTML body.
//! - `status_body_bytes(n)`: error statuses carry `n` bytes of body instead.
//! - `duplicate_token_key(key)`: every token answer carries `key`
//!   (`smart_record_id`, `oauth_token` or `oauth_token_secret`) twice, with
//!   different values.
//! - `slow_manifest(d)`: the manifest answers after `d`.
//! - `drug_title(s)`: the drug name in every `Medication` answer (e.g. a
//!   formula-like or control-character title).
//!
//! Bounds: the server stops by itself after `lifetime` (default 120 s), and
//! when the [`HostileServer`] is dropped (which cancels every connection and
//! slow answer at once); it answers at most `max_requests` requests
//! (default 100,000) and 503 after that; it keeps the last 1,000 requests
//! for `seen()`.

#![allow(dead_code)]
// Test helpers: a failed setup step should panic with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use std::collections::VecDeque;
use std::future::IntoFuture;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use percent_encoding::{NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

/// The app id (= consumer key) the harness expects in cursor URLs.
pub const APP_ID: &str = "hostile-app@apps.smartplatforms.org";
/// A consumer secret for the client (never checked).
pub const SECRET: &str = "hostile-secret";

/// What a data call answers with 200.
#[derive(Clone, Debug)]
pub enum DataBody {
    /// A small flat RDF/XML answer with one medication.
    Medication,
    /// `n` bytes of text that is not XML (`text/plain`).
    NonXml(usize),
    /// An HTML login page (`text/html; charset=utf-8`).
    Html,
    /// The XML "billion laughs" entity bomb (`application/rdf+xml`).
    BillionLaughs,
    /// Any bytes with any content type.
    Raw(String, Bytes),
}

/// The builder. See the module documentation.
#[derive(Clone, Debug)]
pub struct Hostile {
    records: Vec<String>,
    cycle_back_to: Option<String>,
    broken_next: Vec<String>,
    broken_times: u32,
    endless_pages: Option<usize>,
    data_body: DataBody,
    data_status: Option<u16>,
    status_body_bytes: usize,
    duplicate_token_key: Option<String>,
    slow_manifest: Option<Duration>,
    drug_title: String,
    lifetime: Duration,
    max_requests: u64,
}

impl Default for Hostile {
    fn default() -> Self {
        Hostile::new()
    }
}

impl Hostile {
    /// A well-behaved container with records "1", "2", "3".
    pub fn new() -> Self {
        Hostile {
            records: vec!["1".into(), "2".into(), "3".into()],
            cycle_back_to: None,
            broken_next: Vec::new(),
            broken_times: 0,
            endless_pages: None,
            data_body: DataBody::Medication,
            data_status: None,
            status_body_bytes: 0,
            duplicate_token_key: None,
            slow_manifest: None,
            drug_title: "Sertraline 100 MG Oral Tablet".into(),
            lifetime: Duration::from_secs(120),
            max_requests: 100_000,
        }
    }

    /// The cursor's ids, in cursor order.
    pub fn records<I, S>(mut self, ids: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.records = ids.into_iter().map(Into::into).collect();
        self
    }

    /// After the last record, `next` answers `id` instead of 404.
    pub fn cycle_back_to(mut self, id: &str) -> Self {
        self.cycle_back_to = Some(id.into());
        self
    }

    /// `next` after these ids answers 500 the first `times` times.
    pub fn broken_next<I, S>(mut self, ids: I, times: u32) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.broken_next = ids.into_iter().map(Into::into).collect();
        self.broken_times = times;
        self
    }

    /// With `limit`, pages never end; each carries about `page_bytes`.
    pub fn endless_pages(mut self, page_bytes: usize) -> Self {
        self.endless_pages = Some(page_bytes);
        self
    }

    /// What every data call answers with 200.
    pub fn data_body(mut self, body: DataBody) -> Self {
        self.data_body = body;
        self
    }

    /// Every data call answers this status.
    pub fn data_status(mut self, status: u16) -> Self {
        self.data_status = Some(status);
        self
    }

    /// Error statuses carry `n` bytes of body.
    pub fn status_body_bytes(mut self, n: usize) -> Self {
        self.status_body_bytes = n;
        self
    }

    /// Every token answer carries `key` twice.
    pub fn duplicate_token_key(mut self, key: &str) -> Self {
        self.duplicate_token_key = Some(key.into());
        self
    }

    /// The manifest answers after `delay`.
    pub fn slow_manifest(mut self, delay: Duration) -> Self {
        self.slow_manifest = Some(delay);
        self
    }

    /// The drug name of every medication.
    pub fn drug_title(mut self, title: &str) -> Self {
        self.drug_title = title.into();
        self
    }

    /// Stop by itself after this long (default 120 s).
    pub fn lifetime(mut self, d: Duration) -> Self {
        self.lifetime = d;
        self
    }

    /// Serve at most this many requests (default 100,000).
    pub fn max_requests(mut self, n: u64) -> Self {
        self.max_requests = n;
        self
    }

    /// Bind 127.0.0.1:0 and serve on a thread of its own (usable from sync
    /// and async tests alike).
    pub fn start(self) -> HostileServer {
        let (addr_tx, addr_rx) = std::sync::mpsc::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let requests = Arc::new(AtomicU64::new(0));
        let seen = Arc::new(Mutex::new(VecDeque::new()));
        let lifetime = self.lifetime;
        let state = Arc::new(ServerState {
            cfg: self,
            base: Mutex::new(String::new()),
            requests: requests.clone(),
            seen: seen.clone(),
            non_xml: Mutex::new(None),
            broken: Mutex::new(std::collections::HashMap::new()),
        });
        let thread = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                    .await
                    .expect("bind");
                let base = format!("http://{}", listener.local_addr().expect("addr"));
                *state.base.lock().unwrap() = base.clone();
                addr_tx.send(base).expect("send address");
                let app = axum::Router::new().fallback(handle).with_state(state);
                let serve = axum::serve(listener, app).into_future();
                // Whichever comes first; leaving `block_on` drops the
                // runtime, which cancels every connection and slow handler.
                tokio::select! {
                    _ = serve => {}
                    _ = stop_rx => {}
                    _ = tokio::time::sleep(lifetime) => {}
                }
            });
        });
        let base = addr_rx.recv().expect("the hostile server started");
        HostileServer {
            base,
            requests,
            seen,
            stop: Some(stop_tx),
            thread: Some(thread),
        }
    }
}

/// One request as the server saw it.
#[derive(Clone, Debug)]
pub struct Seen {
    /// The method.
    pub method: String,
    /// The percent-decoded path.
    pub path: String,
    /// The raw query.
    pub query: Option<String>,
}

/// A running hostile server; dropping it stops it.
pub struct HostileServer {
    base: String,
    requests: Arc<AtomicU64>,
    seen: Arc<Mutex<VecDeque<Seen>>>,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl HostileServer {
    /// `http://127.0.0.1:PORT`.
    pub fn api_base(&self) -> &str {
        &self.base
    }

    /// Requests served so far.
    pub fn requests(&self) -> u64 {
        self.requests.load(Ordering::Relaxed)
    }

    /// The last (up to 1,000) requests, oldest first.
    pub fn seen(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().iter().cloned().collect()
    }

    /// A client configuration for this server: its app id and a secret,
    /// 2 attempts without sleeping, 10 s per attempt.
    pub fn client_config(&self) -> smartsweep::extract::ClientConfig {
        let mut cfg = smartsweep::extract::ClientConfig::new(
            &self.base,
            APP_ID,
            smartsweep::secret::Secret::new(SECRET),
        );
        cfg.retry = smartsweep::extract::RetryPolicy::no_sleep(2);
        cfg.request_timeout = Duration::from_secs(10);
        cfg
    }
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

struct ServerState {
    cfg: Hostile,
    base: Mutex<String>,
    requests: Arc<AtomicU64>,
    seen: Arc<Mutex<VecDeque<Seen>>>,
    /// The `NonXml` body, built once.
    non_xml: Mutex<Option<Bytes>>,
    /// 500s answered so far per `broken_next` id.
    broken: Mutex<std::collections::HashMap<String, u32>>,
}

enum Route {
    Manifest,
    First,
    Next(String),
    Mint(String),
    Data(String),
    NotFound,
}

fn route(path: &str) -> Route {
    if path == "/manifest" {
        return Route::Manifest;
    }
    let segs: Vec<&str> = path.trim_start_matches('/').split('/').collect();
    match segs.as_slice() {
        ["apps", app, "tokens", "records", "first"] if *app == APP_ID => Route::First,
        ["apps", app, "tokens", "records", id, "next"] if *app == APP_ID && !id.is_empty() => {
            Route::Next((*id).to_owned())
        }
        ["apps", app, "tokens", "records", id] if *app == APP_ID && !id.is_empty() => {
            Route::Mint((*id).to_owned())
        }
        ["records", id, "medications", ""] if !id.is_empty() => Route::Data((*id).to_owned()),
        _ => Route::NotFound,
    }
}

async fn handle(State(st): State<Arc<ServerState>>, req: Request) -> Response {
    let n = st.requests.fetch_add(1, Ordering::Relaxed);
    if n >= st.cfg.max_requests {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    }
    let path = percent_decode_str(req.uri().path())
        .decode_utf8_lossy()
        .into_owned();
    let query = req.uri().query().map(str::to_owned);
    {
        let mut seen = st.seen.lock().unwrap();
        if seen.len() == 1000 {
            seen.pop_front();
        }
        seen.push_back(Seen {
            method: req.method().to_string(),
            path: path.clone(),
            query: query.clone(),
        });
    }
    match route(&path) {
        Route::Manifest => manifest(&st).await,
        Route::First => match st.cfg.records.first() {
            Some(id) => token(&st, id),
            None => status(&st, 404),
        },
        Route::Next(after) => next(&st, &after),
        Route::Mint(id) if st.cfg.records.contains(&id) => token(&st, &id),
        Route::Mint(_) => status(&st, 500),
        Route::Data(id) if st.cfg.records.contains(&id) => data(&st, &id, query.as_deref()),
        Route::Data(_) => status(&st, 403),
        Route::NotFound => status(&st, 404),
    }
}

async fn manifest(st: &ServerState) -> Response {
    if let Some(d) = st.cfg.slow_manifest {
        tokio::time::sleep(d).await;
    }
    let base = st.base.lock().unwrap().clone();
    let body = serde_json::json!({"api_base": base, "smart_version": "0.6.1", "name": "hostile"});
    (
        [(header::CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

fn next(st: &ServerState, after: &str) -> Response {
    let records = &st.cfg.records;
    let Some(i) = records.iter().position(|r| r == after) else {
        return status(st, 500);
    };
    if st.cfg.broken_next.iter().any(|b| b == after) {
        let mut broken = st.broken.lock().unwrap();
        let n = broken.entry(after.to_owned()).or_default();
        if *n < st.cfg.broken_times {
            *n += 1;
            return status(st, 500);
        }
    }
    match records.get(i + 1).or(st.cfg.cycle_back_to.as_ref()) {
        Some(id) => token(st, id),
        None => status(st, 404),
    }
}

fn form(s: &str) -> String {
    utf8_percent_encode(s, NON_ALPHANUMERIC).to_string()
}

/// A path segment as smartsweep encodes it (unreserved characters and `@`
/// stay), so statement URIs start with the record's data URL.
fn path_segment(s: &str) -> String {
    const SEGMENT: &percent_encoding::AsciiSet = &NON_ALPHANUMERIC
        .remove(b'-')
        .remove(b'.')
        .remove(b'_')
        .remove(b'~')
        .remove(b'@');
    utf8_percent_encode(s, SEGMENT).to_string()
}

fn token(st: &ServerState, id: &str) -> Response {
    let mut body = format!(
        "oauth_token=tok{}&smart_record_id={}&oauth_token_secret=sec",
        st.requests.load(Ordering::Relaxed),
        form(id)
    );
    if let Some(key) = &st.cfg.duplicate_token_key {
        let other = if key == "smart_record_id" {
            form(&format!("{id}-other"))
        } else {
            "other".to_owned()
        };
        body.push_str(&format!("&{key}={other}"));
    }
    (
        [(header::CONTENT_TYPE, "application/x-www-form-urlencoded")],
        body,
    )
        .into_response()
}

fn status(st: &ServerState, code: u16) -> Response {
    let code = StatusCode::from_u16(code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let body = if st.cfg.status_body_bytes > 0 {
        Bytes::from(non_xml_text(st.cfg.status_body_bytes))
    } else {
        Bytes::from(format!("<h1>{code}</h1>"))
    };
    (
        code,
        [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
        body,
    )
        .into_response()
}

fn data(st: &ServerState, id: &str, query: Option<&str>) -> Response {
    if let Some(code) = st.cfg.data_status {
        return status(st, code);
    }
    let base = st.base.lock().unwrap().clone();
    let url = format!("{base}/records/{}/medications/", path_segment(id));
    let params = query_pairs(query);
    if let (Some(pad), Some(limit)) = (st.cfg.endless_pages, params.get("limit")) {
        let offset: u64 = params
            .get("offset")
            .and_then(|o| o.parse().ok())
            .unwrap_or(0);
        let limit: u64 = limit.parse().unwrap_or(10);
        let body = endless_page(&url, &st.cfg.drug_title, offset, limit, pad);
        return rdf_response(Bytes::from(body));
    }
    match &st.cfg.data_body {
        DataBody::Medication => rdf_response(Bytes::from(medication(&url, &st.cfg.drug_title))),
        DataBody::NonXml(n) => {
            let body = st
                .non_xml
                .lock()
                .unwrap()
                .get_or_insert_with(|| Bytes::from(non_xml_text(*n)))
                .clone();
            ([(header::CONTENT_TYPE, "text/plain")], body).into_response()
        }
        DataBody::Html => (
            [(header::CONTENT_TYPE, "text/html; charset=utf-8")],
            LOGIN_PAGE,
        )
            .into_response(),
        DataBody::BillionLaughs => rdf_response(Bytes::from_static(BILLION_LAUGHS.as_bytes())),
        DataBody::Raw(ct, bytes) => Response::builder()
            .header(header::CONTENT_TYPE, ct.as_str())
            .body(Body::from(bytes.clone()))
            .unwrap(),
    }
}

fn query_pairs(query: Option<&str>) -> std::collections::HashMap<String, String> {
    query
        .unwrap_or("")
        .split('&')
        .filter_map(|p| p.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn rdf_response(body: Bytes) -> Response {
    ([(header::CONTENT_TYPE, "application/rdf+xml")], body).into_response()
}

fn xml_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

const HEAD: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF
   xmlns:api="http://smartplatforms.org/terms/api#"
   xmlns:dcterms="http://purl.org/dc/terms/"
   xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"
   xmlns:sp="http://smartplatforms.org/terms#"
>
"#;

fn medication_description(url: &str, title: &str, n: u64) -> String {
    format!(
        r#"  <rdf:Description rdf:about="{about}m{n}">
    <rdf:type rdf:resource="http://smartplatforms.org/terms#Medication"/>
    <sp:drugName rdf:nodeID="Ndrug{n}"/>
    <sp:startDate>2010-01-01</sp:startDate>
  </rdf:Description>
  <rdf:Description rdf:nodeID="Ndrug{n}">
    <rdf:type rdf:resource="http://smartplatforms.org/terms#CodedValue"/>
    <dcterms:title>{title}</dcterms:title>
    <sp:code rdf:resource="http://purl.bioontology.org/ontology/RXNORM/312938"/>
  </rdf:Description>
"#,
        about = xml_escape(url),
        title = xml_escape(title),
    )
}

fn medication(url: &str, title: &str) -> String {
    format!(
        "{HEAD}{}</rdf:RDF>\n",
        medication_description(url, title, 1)
    )
}

fn endless_page(url: &str, title: &str, offset: u64, limit: u64, pad: usize) -> String {
    format!(
        r#"{HEAD}{med}  <rdf:Description rdf:nodeID="Nsummary">
    <rdf:type rdf:resource="http://smartplatforms.org/terms/api#ResponseSummary"/>
    <api:nextPageURL>{url}?limit={limit}&amp;offset={next}</api:nextPageURL>
    <api:padding>{padding}</api:padding>
  </rdf:Description>
</rdf:RDF>
"#,
        med = medication_description(url, title, offset),
        url = xml_escape(url),
        next = offset + limit,
        padding = "x".repeat(pad),
    )
}

/// `n` bytes of text that is not XML: control characters and an ESC
/// sequence first (a terminal title change), then filler.
pub fn non_xml_text(n: usize) -> Vec<u8> {
    let mut v = b"Traceback (most recent call last):\n\x1b]0;pwned\x07\x1b[2J\r\0 ".to_vec();
    v.resize(n.max(v.len()), b'A');
    v.truncate(n);
    v
}

/// An HTML login page, as a proxy in front of a container answers.
pub const LOGIN_PAGE: &str = "<!DOCTYPE html>\n<html><head><title>Sign in</title></head>\n<body><form action=\"/login\" method=\"post\"><input name=\"user\"><input name=\"password\" type=\"password\"></form></body></html>\n";

/// The XML entity-expansion bomb: 10^9 "lol"s (3 GB) if a parser expands
/// entities, in a medication's title; with a ResponseSummary whose
/// `nextPageURL` invites a paging client to parse it.
pub const BILLION_LAUGHS: &str = r#"<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:sp="http://smartplatforms.org/terms#" xmlns:dcterms="http://purl.org/dc/terms/">
  <rdf:Description rdf:about="http://example.org/m1">
    <rdf:type rdf:resource="http://smartplatforms.org/terms#Medication"/>
    <sp:drugName rdf:nodeID="N1"/>
  </rdf:Description>
  <rdf:Description rdf:nodeID="N1">
    <dcterms:title>&lol9;</dcterms:title>
  </rdf:Description>
  <rdf:Description rdf:nodeID="N2">
    <rdf:type rdf:resource="http://smartplatforms.org/terms/api#ResponseSummary"/>
    <api:nextPageURL xmlns:api="http://smartplatforms.org/terms/api#">http://example.org/records/1/medications/?limit=10&amp;offset=10</api:nextPageURL>
  </rdf:Description>
</rdf:RDF>
"#;
