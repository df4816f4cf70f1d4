//! The sandbox's request handling: one axum fallback handler that, like the
//! reference container, authenticates every request first (so even an
//! unknown path consumes its nonce), then resolves the *decoded* path, then
//! checks the grant (401 without a principal, 403 for the wrong kind), then
//! answers. Data paths are resolved through the resource registry
//! ([`super::resources`]). Every answer carries a `Date` header from the
//! sandbox's clock (shifted by `clock_offset_s`), the clock its OAuth
//! timestamp window uses. Also the in-memory access-token store.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use axum::body::Body;
use axum::extract::{Request, State};
use axum::http::{HeaderName, HeaderValue, Method, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;
use rand::Rng as _;

use super::faults::{self, Fault, Faults};
use super::oauth::{
    self, Credentials, NonceStore, Principal, Rejection, SignedRequest, TokenGrant,
};
use super::population::{Base, Population, Unknown, record_key};
use super::query::Query;
use super::rdf::{self, EMPTY_GRAPH};
use super::resources::{self, Ctx, Resource, Shape};
use crate::secret::Secret;

/// The largest request body the sandbox reads (the cursor's bodies are empty).
const MAX_BODY: usize = 1 << 20;
/// Tokens are cleaned up after the reference's 60-minute expiry.
const TOKEN_LIFETIME_S: i64 = 3600;
const ALNUM: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
const TOKEN_LEN: usize = 20;
const SHARDS: usize = 64;
const MIN_SWEEP: usize = 4096;

pub(crate) fn now_s() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// A 20-character `[0-9A-Za-z]` string as a number (62^20 < 2^120).
fn decode_alnum(s: &[u8]) -> Option<u128> {
    if s.len() != TOKEN_LEN {
        return None;
    }
    s.iter().try_fold(0u128, |acc, &b| {
        let d = match b {
            b'0'..=b'9' => b - b'0',
            b'A'..=b'Z' => b - b'A' + 10,
            b'a'..=b'z' => b - b'a' + 36,
            _ => return None,
        };
        Some(acc * 62 + u128::from(d))
    })
}

fn encode_alnum(mut v: u128) -> String {
    let mut out = [0u8; TOKEN_LEN];
    for slot in out.iter_mut().rev() {
        *slot = ALNUM[(v % 62) as usize];
        v /= 62;
    }
    out.iter().map(|&b| b as char).collect()
}

/// A hand-made token's secret and record.
type Preissued = (Vec<u8>, u32);

#[derive(Clone, Copy)]
struct TokenEntry {
    secret: u128,
    record: u32,
    created: i64,
}

#[derive(Default)]
struct TokenShard {
    tokens: HashMap<u128, TokenEntry>,
    sweep_at: usize,
}

/// Access tokens: minted ones are kept as numbers (40 bytes each), sharded
/// by token so concurrent mints rarely share a lock. Tokens older than the
/// reference's 60-minute expiry are swept when a shard has doubled, which is
/// what the reference's `cleanup_old_tokens` does (it is not checked on
/// arrival). Hand-made tokens ([`TokenStore::preissue`]) live apart.
pub(crate) struct TokenStore {
    shards: Vec<Mutex<TokenShard>>,
    preissued: Mutex<HashMap<Vec<u8>, Preissued>>,
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    match m.lock() {
        Ok(g) => g,
        Err(poisoned) => poisoned.into_inner(),
    }
}

impl TokenStore {
    fn new() -> Self {
        TokenStore {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            preissued: Mutex::default(),
        }
    }

    /// A new token and secret bound to a record.
    fn mint(&self, record: u32) -> (String, String) {
        let space = 62u128.pow(TOKEN_LEN as u32);
        let mut rng = rand::rng();
        let now = now_s();
        loop {
            let token = rng.random_range(0..space);
            let secret = rng.random_range(0..space);
            let mut shard = lock(&self.shards[(token % SHARDS as u128) as usize]);
            if shard.tokens.contains_key(&token) {
                continue;
            }
            if shard.tokens.len() >= shard.sweep_at.max(MIN_SWEEP) {
                shard
                    .tokens
                    .retain(|_, e| e.created + TOKEN_LIFETIME_S >= now);
                shard.sweep_at = shard.tokens.len() * 2;
            }
            shard.tokens.insert(
                token,
                TokenEntry {
                    secret,
                    record,
                    created: now,
                },
            );
            return (encode_alnum(token), encode_alnum(secret));
        }
    }

    fn preissue(&self, token: &str, secret: &str, record: u32) {
        lock(&self.preissued).insert(
            token.as_bytes().to_vec(),
            (secret.as_bytes().to_vec(), record),
        );
    }

    fn lookup(&self, token: &[u8]) -> Option<TokenGrant> {
        if let Some(v) = decode_alnum(token) {
            let shard = lock(&self.shards[(v % SHARDS as u128) as usize]);
            if let Some(e) = shard.tokens.get(&v) {
                return Some(TokenGrant {
                    secret: encode_alnum(e.secret).into_bytes(),
                    record: e.record,
                });
            }
        }
        lock(&self.preissued)
            .get(token)
            .map(|(secret, record)| TokenGrant {
                secret: secret.clone(),
                record: *record,
            })
    }
}

/// Everything a request handler needs; shared by all connections.
pub(crate) struct Sandbox {
    pub api_base: String,
    /// `Host` used in the base string when a request has none.
    pub host_fallback: String,
    pub app_id: String,
    pub consumer_key: String,
    pub consumer_secret: Secret,
    pub population: Population,
    pub faults: Faults,
    pub manifest: Bytes,
    /// Seconds added to the real clock: the sandbox's notion of now.
    pub clock_offset_s: i64,
    /// `--from-dir` subdirectories that name no registered resource (served
    /// as lists, verbatim).
    pub dir_lists: Vec<String>,
    /// The `Date` header of the current second.
    date: Mutex<Option<(i64, HeaderValue)>>,
    tokens: TokenStore,
    nonces: NonceStore,
}

impl Credentials for Sandbox {
    fn consumer_secret(&self, key: &[u8]) -> Option<Vec<u8>> {
        (key == self.consumer_key.as_bytes())
            .then(|| self.consumer_secret.expose().as_bytes().to_vec())
    }

    fn token(&self, consumer_key: &[u8], token: &[u8]) -> Option<TokenGrant> {
        // One consumer only: every token belongs to it.
        if consumer_key != self.consumer_key.as_bytes() {
            return None;
        }
        self.tokens.lookup(token)
    }
}

impl Sandbox {
    pub(crate) fn new(parts: SandboxParts) -> Self {
        let manifest = Bytes::from(manifest_json(&parts.api_base));
        let dir_lists = match parts.population.base() {
            Base::Dir { dir, .. } => dir_list_names(dir),
            Base::Generated { .. } => Vec::new(),
        };
        Sandbox {
            api_base: parts.api_base,
            host_fallback: parts.host_fallback,
            app_id: parts.app_id,
            consumer_key: parts.consumer_key,
            consumer_secret: parts.consumer_secret,
            population: parts.population,
            faults: parts.faults,
            manifest,
            clock_offset_s: parts.clock_offset_s,
            dir_lists,
            date: Mutex::new(None),
            tokens: TokenStore::new(),
            nonces: NonceStore::new(),
        }
    }

    /// Register a hand-made access token (see `SandboxHandle::preissue_token`).
    pub(crate) fn preissue(&self, record_id: &str, token: &str, secret: &str) -> bool {
        match self.population.find(record_id) {
            Some(record) => {
                self.tokens.preissue(token, secret, record);
                true
            }
            None => false,
        }
    }

    /// The sandbox's clock, in Unix seconds.
    fn now(&self) -> i64 {
        now_s().saturating_add(self.clock_offset_s)
    }

    /// The `Date` header for now on the sandbox's clock (formatted once a
    /// second).
    fn date_header(&self) -> Option<HeaderValue> {
        let now = self.now();
        let mut cached = lock(&self.date);
        match &*cached {
            Some((at, value)) if *at == now => Some(value.clone()),
            _ => {
                let value = http_date(now)?;
                *cached = Some((now, value.clone()));
                Some(value)
            }
        }
    }
}

/// What [`Sandbox::new`] is made of.
pub(crate) struct SandboxParts {
    pub api_base: String,
    pub host_fallback: String,
    pub app_id: String,
    pub consumer_key: String,
    pub consumer_secret: Secret,
    pub population: Population,
    pub faults: Faults,
    pub clock_offset_s: i64,
}

/// The subdirectories of a `--from-dir` directory that name no registered
/// resource (they are served as list resources too).
fn dir_list_names(dir: &std::path::Path) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut names: Vec<String> = entries
        .filter_map(Result::ok)
        .filter(|e| e.path().is_dir())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| !n.starts_with('.') && resources::find(n).is_none())
        .collect();
    names.sort_unstable();
    names
}

/// The container manifest (section 2): pretty-printed with sorted keys (the
/// keys below are written in sorted order, so this holds whatever map type
/// serde_json is built with).
fn manifest_json(api_base: &str) -> Vec<u8> {
    let mut classes: Vec<String> = resources::REGISTRY
        .iter()
        .map(|r| format!("{}{}", r.class.ns, r.class.local))
        .collect();
    classes.sort_unstable();
    let mut capabilities = serde_json::Map::new();
    for class in classes {
        capabilities.insert(class, serde_json::json!({ "methods": ["GET"] }));
    }
    let value = serde_json::json!({
        "admin": "sandbox-admin@smartsweep.invalid",
        "api_base": api_base,
        "capabilities": capabilities,
        "description": "smartsweep sandbox: an embedded SMART Classic container with a synthetic population",
        "launch_urls": {
            "app_launch": format!("{api_base}/apps/{{{{app_id}}}}/launch"),
            "authorize_token": format!("{api_base}/oauth/authorize"),
            "exchange_token": format!("{api_base}/oauth/access_token"),
            "request_token": format!("{api_base}/oauth/request_token"),
        },
        "name": "smartsweep sandbox",
        "smart_version": "0.6.1",
    });
    let mut out = Vec::new();
    let formatter = serde_json::ser::PrettyFormatter::with_indent(b"    ");
    let mut ser = serde_json::Serializer::with_formatter(&mut out, formatter);
    if serde::Serialize::serialize(&value, &mut ser).is_err() {
        return b"{}".to_vec();
    }
    out
}

/// A resolved route on the decoded path.
#[derive(Debug, PartialEq, Eq)]
enum Route<'a> {
    Manifest,
    First {
        app: &'a str,
    },
    Next {
        app: &'a str,
        record: &'a str,
    },
    Mint {
        app: &'a str,
        record: &'a str,
    },
    Data {
        record: &'a str,
        resource: Served<'a>,
    },
    NotFound,
}

/// What a data path names.
#[derive(Debug, PartialEq, Eq)]
enum Served<'a> {
    /// A registered resource.
    Known(&'static str),
    /// A `--from-dir` subdirectory that names no registered resource.
    DirOnly(&'a str),
}

impl Route<'_> {
    fn is_cursor(&self) -> bool {
        matches!(
            self,
            Route::First { .. } | Route::Next { .. } | Route::Mint { .. }
        )
    }
}

/// The route of a decoded path; `dir_lists` are the extra list names a
/// `--from-dir` sandbox serves.
fn resolve<'a>(path: &'a str, dir_lists: &[String]) -> Route<'a> {
    if path == "/manifest" {
        return Route::Manifest;
    }
    let Some(rest) = path.strip_prefix('/') else {
        return Route::NotFound;
    };
    let segs: Vec<&str> = rest.split('/').collect();
    let nonempty = |s: &&str| !s.is_empty();
    match segs.as_slice() {
        ["apps", app, "tokens", "records", "first"] if nonempty(app) => Route::First { app },
        ["apps", app, "tokens", "records", record, "next"] if nonempty(app) && nonempty(record) => {
            Route::Next { app, record }
        }
        ["apps", app, "tokens", "records", record] if nonempty(app) && nonempty(record) => {
            Route::Mint { app, record }
        }
        ["records", record, name, ""] if nonempty(record) => match resources::find(name) {
            Some(r) if r.shape == Shape::List => Route::Data {
                record,
                resource: Served::Known(r.name),
            },
            None if dir_lists.iter().any(|d| d == name) => Route::Data {
                record,
                resource: Served::DirOnly(name),
            },
            _ => Route::NotFound,
        },
        ["records", record, name] if nonempty(record) => match resources::find(name) {
            Some(r) if r.shape == Shape::Single => Route::Data {
                record,
                resource: Served::Known(r.name),
            },
            _ => Route::NotFound,
        },
        _ => Route::NotFound,
    }
}

/// A complete answer before it becomes an HTTP response.
struct Reply {
    status: StatusCode,
    content_type: &'static str,
    cross_origin: bool,
    extra: Option<(HeaderName, HeaderValue)>,
    body: Bytes,
}

const HTML: &str = "text/html; charset=utf-8";

impl Reply {
    fn html(status: StatusCode, body: &'static str) -> Self {
        Reply {
            status,
            content_type: HTML,
            cross_origin: false,
            extra: None,
            body: Bytes::from_static(body.as_bytes()),
        }
    }
    fn unauthorized() -> Self {
        Reply::html(StatusCode::UNAUTHORIZED, "Unauthorized")
    }
    fn forbidden() -> Self {
        Reply::html(StatusCode::FORBIDDEN, "<h1>Permission denied</h1>")
    }
    fn not_found() -> Self {
        Reply::html(
            StatusCode::NOT_FOUND,
            "<h1>Not Found</h1><p>The requested URL was not found on this server.</p>",
        )
    }
    fn server_error() -> Self {
        Reply::html(
            StatusCode::INTERNAL_SERVER_ERROR,
            "<h1>Server Error (500)</h1>",
        )
    }
    fn method_not_allowed() -> Self {
        Reply {
            status: StatusCode::METHOD_NOT_ALLOWED,
            content_type: HTML,
            cross_origin: false,
            extra: Some((header::ALLOW, HeaderValue::from_static("GET"))),
            body: Bytes::new(),
        }
    }
    fn ok(content_type: &'static str, body: Bytes) -> Self {
        Reply {
            status: StatusCode::OK,
            content_type,
            cross_origin: true,
            extra: None,
            body,
        }
    }

    /// The response, with a `Date` header when `date` is given.
    fn into_response(self, api_base: &str, date: Option<HeaderValue>) -> Response {
        let mut response = Response::new(Body::from(self.body));
        *response.status_mut() = self.status;
        let headers = response.headers_mut();
        headers.insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static(self.content_type),
        );
        if self.cross_origin
            && let Ok(origin) = HeaderValue::from_str(api_base)
        {
            headers.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, origin);
        }
        if let Some((name, value)) = self.extra {
            headers.insert(name, value);
        }
        if let Some(date) = date {
            headers.insert(header::DATE, date);
        }
        response
    }
}

/// Python 2 `quote_plus`: everything but letters, digits and `_.-` encoded,
/// a space as `+`.
fn quote_plus(out: &mut String, s: &str) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in s.as_bytes() {
        match b {
            b' ' => out.push('+'),
            _ if b.is_ascii_alphanumeric() || matches!(b, b'_' | b'.' | b'-') => {
                out.push(b as char)
            }
            _ => {
                out.push('%');
                out.push(HEX[usize::from(b >> 4)] as char);
                out.push(HEX[usize::from(b & 15)] as char);
            }
        }
    }
}

/// The `Date` header value for a Unix time.
fn http_date(secs: i64) -> Option<HeaderValue> {
    let time = if secs >= 0 {
        UNIX_EPOCH + Duration::from_secs(secs.unsigned_abs())
    } else {
        UNIX_EPOCH.checked_sub(Duration::from_secs(secs.unsigned_abs()))?
    };
    HeaderValue::from_str(&httpdate::fmt_http_date(time)).ok()
}

/// The axum handler for every method and path.
pub(crate) async fn handle(State(sb): State<Arc<Sandbox>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path();
    let path = percent_encoding::percent_decode_str(raw_path).decode_utf8_lossy();
    let route = resolve(&path, &sb.dir_lists);
    let date = || sb.date_header();

    // Faults and latency, as a front proxy would add them; never on the manifest.
    let mut truncate = false;
    if route != Route::Manifest {
        let f = &sb.faults;
        let delay = f.latency
            + if route.is_cursor() {
                f.cursor_latency
            } else if matches!(route, Route::Data { .. }) {
                f.data_latency
            } else {
                Duration::ZERO
            };
        if !delay.is_zero() {
            tokio::time::sleep(delay).await;
        }
        match f.draw() {
            None => {}
            Some(Fault::Fail(status)) => {
                return Reply::html(status, "<h1>Injected failure</h1>")
                    .into_response(&sb.api_base, date());
            }
            Some(Fault::Throttle) => {
                let mut reply = Reply::html(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
                reply.extra = Some((header::RETRY_AFTER, HeaderValue::from(f.retry_after_s)));
                return reply.into_response(&sb.api_base, date());
            }
            Some(Fault::Reset) => return faults::reset_response(),
            Some(Fault::Truncate) => truncate = true,
        }
    }

    let body = match axum::body::to_bytes(body, MAX_BODY).await {
        Ok(b) => b,
        Err(_) => {
            return Reply::html(
                StatusCode::PAYLOAD_TOO_LARGE,
                "<h1>Request body too large</h1>",
            )
            .into_response(&sb.api_base, date());
        }
    };
    let Ok(principal) = authenticate(&sb, &parts, &path, &body) else {
        return Reply::server_error().into_response(&sb.api_base, date());
    };

    let reply = match route {
        Route::Manifest => match parts.method {
            Method::GET | Method::HEAD => Reply::ok("application/json", sb.manifest.clone()),
            _ => Reply::method_not_allowed(),
        },
        Route::First { app } => cursor(&sb, principal, app, Cursor::First),
        Route::Next { app, record } => cursor(&sb, principal, app, Cursor::Next(record)),
        Route::Mint { app, record } => cursor(&sb, principal, app, Cursor::Mint(record)),
        Route::Data { record, resource } => {
            let request = DataRequest {
                record_id: record,
                resource,
                method: &parts.method,
                path: &path,
                query: parts.uri.query(),
            };
            data(&sb, principal, request).await
        }
        Route::NotFound => Reply::not_found(),
    };
    if truncate {
        let full = reply.body.clone();
        faults::truncate(reply.into_response(&sb.api_base, date()), full)
    } else {
        reply.into_response(&sb.api_base, date())
    }
}

/// Verify the request's OAuth header (section 3) on the sandbox's clock.
/// A failure is no principal (a 401 where a grant is needed); the few
/// errors the reference lets escape are an `Err` (a 500).
fn authenticate(
    sb: &Sandbox,
    parts: &axum::http::request::Parts,
    path: &str,
    body: &[u8],
) -> Result<Principal, EscapedError> {
    let host = parts
        .headers
        .get(header::HOST)
        .map(HeaderValue::as_bytes)
        .unwrap_or(sb.host_fallback.as_bytes());
    let signed = SignedRequest {
        method: parts.method.as_str(),
        host,
        path,
        query: parts.uri.query(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(HeaderValue::as_bytes),
        body,
        authorization: parts
            .headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    };
    match oauth::verify(&signed, sb, &sb.nonces, sb.now()) {
        Ok(p) => Ok(p),
        Err(Rejection::Unauthorized(reason)) => {
            if signed.authorization.is_some() {
                tracing::debug!(path = %path, reason, "sandbox: OAuth verification failed");
            }
            Ok(Principal::Anonymous)
        }
        Err(Rejection::ServerError(reason)) => {
            tracing::debug!(path = %path, reason, "sandbox: OAuth error answered with 500");
            Err(EscapedError)
        }
    }
}

/// An error the reference does not catch (it answers 500).
struct EscapedError;

enum Cursor<'a> {
    First,
    Next(&'a str),
    Mint(&'a str),
}

/// The three cursor views (section 4): any method, 2-legged only.
fn cursor(sb: &Sandbox, principal: Principal, app: &str, op: Cursor<'_>) -> Reply {
    match principal {
        Principal::Anonymous => return Reply::unauthorized(),
        Principal::Token { .. } => return Reply::forbidden(),
        Principal::App => {}
    }
    if app != sb.app_id {
        // paramloader fails to load the app and the view call raises.
        return Reply::server_error();
    }
    let pop = &sb.population;
    let (handle, record_id) = match op {
        Cursor::First => match pop.first() {
            Some(found) => found,
            None => return Reply::not_found(),
        },
        Cursor::Next(record) => match pop.next_after(record) {
            Err(Unknown) => return Reply::server_error(),
            Ok(None) => return Reply::not_found(),
            Ok(Some(found)) => found,
        },
        Cursor::Mint(record) => match pop.find(record) {
            None => return Reply::server_error(),
            Some(handle) => (handle, record.to_owned()),
        },
    };
    let (token, secret) = sb.tokens.mint(handle);
    let mut body = String::with_capacity(96 + record_id.len());
    body.push_str("oauth_token_secret=");
    body.push_str(&secret);
    body.push_str("&oauth_token=");
    body.push_str(&token);
    body.push_str("&smart_record_id=");
    quote_plus(&mut body, &record_id);
    Reply::ok("application/x-www-form-urlencoded", Bytes::from(body))
}

/// A data call, as routed.
struct DataRequest<'a> {
    record_id: &'a str,
    resource: Served<'a>,
    method: &'a Method,
    /// The decoded path (for `nextPageURL`).
    path: &'a str,
    query: Option<&'a str>,
}

/// `GET /records/{id}/{resource}/` (or the single-item path; sections 5
/// and 6 of the API doc, the models doc for each resource): 3-legged with a
/// token for that very record, which must exist now.
async fn data(sb: &Sandbox, principal: Principal, req: DataRequest<'_>) -> Reply {
    match principal {
        Principal::Anonymous => return Reply::unauthorized(),
        Principal::App => return Reply::forbidden(),
        Principal::Token { record } => match sb.population.find(req.record_id) {
            Some(handle) if handle == record => {}
            _ => return Reply::forbidden(),
        },
    }
    if req.method != Method::GET {
        return Reply::method_not_allowed();
    }
    let body = match sb.population.base() {
        Base::Generated { seed, .. } => generated(sb, *seed, &req),
        Base::Dir { dir, .. } => match from_dir(dir, &req).await {
            Ok(body) => body,
            Err(reply) => return reply,
        },
    };
    let body = if sb.faults.is_malformed(req.record_id) {
        rdf::malform(&body)
    } else {
        body
    };
    Reply::ok("application/rdf+xml", Bytes::from(body))
}

/// A generated record's answer (built synchronously: the graph is not `Send`).
fn generated(sb: &Sandbox, seed: u64, req: &DataRequest<'_>) -> Vec<u8> {
    let resource: Option<&Resource> = match req.resource {
        Served::Known(name) => resources::find(name),
        Served::DirOnly(_) => None,
    };
    let Some(resource) = resource else {
        return EMPTY_GRAPH.as_bytes().to_vec();
    };
    let query = Query {
        pairs: oauth::parse_qsl(req.query.unwrap_or("").as_bytes()),
    };
    let ctx = Ctx::new(
        &sb.api_base,
        req.record_id,
        seed,
        record_key(req.record_id),
        req.path,
        &query,
    );
    let mut out = String::new();
    (resource.write)(&ctx, &mut out);
    out.into_bytes()
}

/// A `--from-dir` answer: `DIR/<resource>/<id>.rdf` verbatim (for
/// medications also the flat `DIR/<id>.rdf`); the empty graph when the
/// record has no file for the resource. Filters and paging are ignored.
async fn from_dir(dir: &std::path::Path, req: &DataRequest<'_>) -> Result<Vec<u8>, Reply> {
    let name = match req.resource {
        Served::Known(name) | Served::DirOnly(name) => name,
    };
    let file = format!("{}.rdf", req.record_id);
    let mut candidates = vec![dir.join(name).join(&file)];
    if name == "medications" {
        candidates.push(dir.join(&file));
    }
    for path in candidates {
        match tokio::fs::read(&path).await {
            Ok(bytes) => return Ok(bytes),
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => continue,
            Err(err) => {
                tracing::warn!(path = %path.display(), error = %err, "sandbox: cannot read the record's file");
                return Err(Reply::server_error());
            }
        }
    }
    Ok(EMPTY_GRAPH.as_bytes().to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_on_the_decoded_path() {
        let resolve = |p| resolve(p, &[]);
        assert_eq!(resolve("/manifest"), Route::Manifest);
        assert_eq!(
            resolve("/apps/a@b.org/tokens/records/first"),
            Route::First { app: "a@b.org" }
        );
        assert_eq!(
            resolve("/apps/a/tokens/records/123/next"),
            Route::Next {
                app: "a",
                record: "123"
            }
        );
        assert_eq!(
            resolve("/apps/a/tokens/records/123"),
            Route::Mint {
                app: "a",
                record: "123"
            }
        );
        assert_eq!(
            resolve("/records/12/medications/"),
            Route::Data {
                record: "12",
                resource: Served::Known("medications")
            }
        );
        assert_eq!(resolve("/records/12/medications"), Route::NotFound);
        assert_eq!(
            resolve("/records/12/demographics"),
            Route::Data {
                record: "12",
                resource: Served::Known("demographics")
            }
        );
        assert_eq!(resolve("/records/12/demographics/"), Route::NotFound);
        assert_eq!(resolve("/records/12/clinical_notes/"), Route::NotFound);
        assert_eq!(
            super::resolve(
                "/records/12/clinical_notes/",
                &["clinical_notes".to_owned()]
            ),
            Route::Data {
                record: "12",
                resource: Served::DirOnly("clinical_notes")
            }
        );
        assert_eq!(resolve("/records//medications/"), Route::NotFound);
        assert_eq!(resolve("/apps/a/tokens/records/first/"), Route::NotFound);
    }

    #[test]
    fn alnum_tokens_round_trip() {
        for v in [
            0u128,
            1,
            62u128.pow(20) - 1,
            123_456_789_012_345_678_901_234_567,
        ] {
            let s = encode_alnum(v);
            assert_eq!(s.len(), 20);
            assert_eq!(decode_alnum(s.as_bytes()), Some(v));
        }
        assert_eq!(decode_alnum(b"short"), None);
        assert_eq!(decode_alnum(b"aaaaaaaaaaaaaaaaaaa+"), None);
    }

    #[test]
    fn quote_plus_is_python_2() {
        let mut s = String::new();
        quote_plus(&mut s, "a b/~+_.-é");
        assert_eq!(s, "a+b%2F%7E%2B_.-%C3%A9");
    }

    #[test]
    fn minted_tokens_are_bound_and_found() {
        let store = TokenStore::new();
        let (t, s) = store.mint(5);
        let grant = store.lookup(t.as_bytes());
        assert!(
            grant
                .as_ref()
                .is_some_and(|g| g.record == 5 && g.secret == s.as_bytes())
        );
        assert!(store.lookup(b"00000000000000000000").is_none());
        store.preissue("odd tok/+", "s", 2);
        assert!(store.lookup(b"odd tok/+").is_some_and(|g| g.record == 2));
    }

    #[test]
    fn manifest_keys_are_sorted() {
        let text = String::from_utf8(manifest_json("http://127.0.0.1:1")).unwrap_or_default();
        let keys: Vec<&str> = text
            .lines()
            .filter(|l| l.starts_with("    \"") && !l.starts_with("     "))
            .filter_map(|l| l.trim().split('"').nth(1))
            .collect();
        let mut sorted = keys.clone();
        sorted.sort_unstable();
        assert_eq!(keys, sorted);
        assert!(keys.contains(&"api_base"));
    }
}
