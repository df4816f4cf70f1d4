//! The sandbox's request handling: one axum fallback handler that, like the
//! reference container, authenticates every request first (so even an
//! unknown path consumes its nonce), then resolves the *decoded* path, then
//! checks the grant (401 without a principal, 403 for the wrong kind), then
//! answers. Also the in-memory access-token store.

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
use super::population::{self, Population, hash_str};
use super::rdf::{self, MedQuery, Target};
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
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn new(
        api_base: String,
        host_fallback: String,
        app_id: String,
        consumer_key: String,
        consumer_secret: Secret,
        population: Population,
        faults: Faults,
    ) -> Self {
        let manifest = Bytes::from(manifest_json(&api_base));
        Sandbox {
            api_base,
            host_fallback,
            app_id,
            consumer_key,
            consumer_secret,
            population,
            faults,
            manifest,
            tokens: TokenStore::new(),
            nonces: NonceStore::new(),
        }
    }

    /// Register a hand-made access token (see `SandboxHandle::preissue_token`).
    pub(crate) fn preissue(&self, record_id: &str, token: &str, secret: &str) -> bool {
        match self
            .population
            .find(record_id)
            .and_then(|i| u32::try_from(i).ok())
        {
            Some(record) => {
                self.tokens.preissue(token, secret, record);
                true
            }
            None => false,
        }
    }
}

/// The container manifest (section 2): pretty-printed with sorted keys (the
/// keys below are written in sorted order, so this holds whatever map type
/// serde_json is built with).
fn manifest_json(api_base: &str) -> Vec<u8> {
    let value = serde_json::json!({
        "admin": "sandbox-admin@smartsweep.invalid",
        "api_base": api_base,
        "capabilities": {
            "http://smartplatforms.org/terms#Medication": { "methods": ["GET"] }
        },
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
    First { app: &'a str },
    Next { app: &'a str, record: &'a str },
    Mint { app: &'a str, record: &'a str },
    Medications { record: &'a str },
    NotFound,
}

impl Route<'_> {
    fn is_cursor(&self) -> bool {
        matches!(
            self,
            Route::First { .. } | Route::Next { .. } | Route::Mint { .. }
        )
    }
}

fn resolve(path: &str) -> Route<'_> {
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
        ["records", record, "medications", ""] if nonempty(record) => Route::Medications { record },
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

    fn into_response(self, api_base: &str) -> Response {
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

/// The axum handler for every method and path.
pub(crate) async fn handle(State(sb): State<Arc<Sandbox>>, req: Request) -> Response {
    let (parts, body) = req.into_parts();
    let raw_path = parts.uri.path();
    let path = percent_encoding::percent_decode_str(raw_path).decode_utf8_lossy();
    let route = resolve(&path);

    // Faults and latency, as a front proxy would add them; never on the manifest.
    let mut truncate = false;
    if route != Route::Manifest {
        let f = &sb.faults;
        let delay = f.latency
            + if route.is_cursor() {
                f.cursor_latency
            } else if matches!(route, Route::Medications { .. }) {
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
                    .into_response(&sb.api_base);
            }
            Some(Fault::Throttle) => {
                let mut reply = Reply::html(StatusCode::TOO_MANY_REQUESTS, "Too Many Requests");
                reply.extra = Some((header::RETRY_AFTER, HeaderValue::from(f.retry_after_s)));
                return reply.into_response(&sb.api_base);
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
            .into_response(&sb.api_base);
        }
    };
    let host = parts
        .headers
        .get(header::HOST)
        .map(HeaderValue::as_bytes)
        .unwrap_or(sb.host_fallback.as_bytes());
    let signed = SignedRequest {
        method: parts.method.as_str(),
        host,
        path: &path,
        query: parts.uri.query(),
        content_type: parts
            .headers
            .get(header::CONTENT_TYPE)
            .map(HeaderValue::as_bytes),
        body: &body,
        authorization: parts
            .headers
            .get(header::AUTHORIZATION)
            .map(HeaderValue::as_bytes),
    };
    let principal = match oauth::verify(&signed, sb.as_ref(), &sb.nonces, now_s()) {
        Ok(p) => p,
        Err(Rejection::Unauthorized(reason)) => {
            if signed.authorization.is_some() {
                tracing::debug!(path = %path, reason, "sandbox: OAuth verification failed");
            }
            Principal::Anonymous
        }
        Err(Rejection::ServerError(reason)) => {
            tracing::debug!(path = %path, reason, "sandbox: OAuth error answered with 500");
            return Reply::server_error().into_response(&sb.api_base);
        }
    };

    let reply = match route {
        Route::Manifest => match parts.method {
            Method::GET | Method::HEAD => Reply::ok("application/json", sb.manifest.clone()),
            _ => Reply::method_not_allowed(),
        },
        Route::First { app } => cursor(&sb, principal, app, Cursor::First),
        Route::Next { app, record } => cursor(&sb, principal, app, Cursor::Next(record)),
        Route::Mint { app, record } => cursor(&sb, principal, app, Cursor::Mint(record)),
        Route::Medications { record } => {
            medications(
                &sb,
                principal,
                record,
                &parts.method,
                &path,
                parts.uri.query(),
            )
            .await
        }
        Route::NotFound => Reply::not_found(),
    };
    if truncate {
        let full = reply.body.clone();
        faults::truncate(reply.into_response(&sb.api_base), full)
    } else {
        reply.into_response(&sb.api_base)
    }
}

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
    let index = match op {
        Cursor::First if pop.len() == 0 => return Reply::not_found(),
        Cursor::First => 0,
        Cursor::Next(record) => match pop.find(record) {
            None => return Reply::server_error(),
            Some(i) if i + 1 >= pop.len() => return Reply::not_found(),
            Some(i) => i + 1,
        },
        Cursor::Mint(record) => match pop.find(record) {
            None => return Reply::server_error(),
            Some(i) => i,
        },
    };
    let (Some(record_id), Ok(index32)) = (pop.id(index), u32::try_from(index)) else {
        return Reply::server_error();
    };
    let (token, secret) = sb.tokens.mint(index32);
    let mut body = String::with_capacity(96 + record_id.len());
    body.push_str("oauth_token_secret=");
    body.push_str(&secret);
    body.push_str("&oauth_token=");
    body.push_str(&token);
    body.push_str("&smart_record_id=");
    quote_plus(&mut body, &record_id);
    Reply::ok("application/x-www-form-urlencoded", Bytes::from(body))
}

/// `GET /records/{id}/medications/` (sections 5 and 6): 3-legged with a
/// token for that very record.
async fn medications(
    sb: &Sandbox,
    principal: Principal,
    record_id: &str,
    method: &Method,
    path: &str,
    query: Option<&str>,
) -> Reply {
    let index = match principal {
        Principal::Anonymous => return Reply::unauthorized(),
        Principal::App => return Reply::forbidden(),
        Principal::Token { record } => match sb.population.find(record_id) {
            Some(i) if i == record as usize => i,
            _ => return Reply::forbidden(),
        },
    };
    if method != Method::GET {
        return Reply::method_not_allowed();
    }
    let body: Vec<u8> = match &sb.population {
        Population::Generated { seed, ids } => {
            let Some(&value) = ids.get(index) else {
                return Reply::server_error();
            };
            let meds = population::medications(*seed, value);
            let query = MedQuery {
                pairs: oauth::parse_qsl(query.unwrap_or("").as_bytes()),
            };
            let target = Target {
                api_base: &sb.api_base,
                record_id,
                path,
                seed: hash_str(*seed, 0x77, record_id),
            };
            let mut out = String::new();
            rdf::write_medications(&mut out, &target, &meds, &query);
            out.into_bytes()
        }
        Population::Dir { dir, .. } => {
            match tokio::fs::read(dir.join(format!("{record_id}.rdf"))).await {
                Ok(bytes) => bytes,
                Err(err) => {
                    tracing::warn!(record_id, error = %err, "sandbox: cannot read the record's file");
                    return Reply::server_error();
                }
            }
        }
    };
    let body = if sb.faults.is_malformed(record_id) {
        rdf::malform(&body)
    } else {
        body
    };
    Reply::ok("application/rdf+xml", Bytes::from(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_on_the_decoded_path() {
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
            Route::Medications { record: "12" }
        );
        assert_eq!(resolve("/records/12/medications"), Route::NotFound);
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
