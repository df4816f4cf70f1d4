//! The SMART Classic container client: one `reqwest` client (rustls with
//! the `ring` provider, the platform's roots plus an optional private CA,
//! keep-alive and connection reuse) and the calls a background app makes.
//!
//! - `GET /manifest` (no authentication), once, cached; informational, so
//!   one attempt with a short timeout;
//! - `POST /apps/{app}/tokens/records/first`, `.../{id}/next` and
//!   `.../{id}` (mint), signed 2-legged, each answered by a form-encoded token
//!   bound to one record;
//! - `GET /records/{id}/{resource}/`, signed 3-legged with the record's
//!   token, optionally paged with `limit` and the answer's `api:nextPageURL`.
//!
//! Every call goes through one retry loop ([`super::retry`]): each attempt is
//! signed afresh (new nonce and timestamp), each retry is logged with its
//! cause, and counters ([`ClientStats`]) can be read at any time. A data
//! fetch never aborts the run: whatever stops it becomes a
//! [`RecordFailure`].
//!
//! Bounds: a body is read up to a limit (`max_body_bytes` for data, small
//! fixed ones for token answers and the manifest), a record's pages up to
//! `max_record_bytes` in total, a record id up to
//! [`defaults::MAX_RECORD_ID_BYTES`]; an error quotes at most a short,
//! escaped excerpt of what the server sent ([`crate::text::excerpt`]).

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};
use reqwest::header::{self, HeaderMap, HeaderValue};
use reqwest::{Method, Url};

use super::ExtractError;
use super::defaults;
use super::oauth::{authorization_header_at, percent_encode};
use super::retry::{RetryPolicy, is_transient_status, parse_retry_after};
use super::stats::{ClientStats, Counters, Endpoint, RetryCause};
use crate::failure::{RecordFailure, Stage};
use crate::record::RecordId;
use crate::secret::Secret;
use crate::text::{escape_control, excerpt};

/// Path segments are sent percent-encoded, except unreserved characters and
/// `@` (app ids are `name@host`; the container decodes the path either way,
/// and the signature is always over the decoded path).
const PATH_SEGMENT: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~')
    .remove(b'@');

/// Resources served as one item per record, at a path without a trailing
/// slash (smart-classic-models.md section 8).
pub const SINGLE_ITEM_RESOURCES: [&str; 1] = ["demographics"];

/// The predicate of the paging link in a ResponseSummary.
const NEXT_PAGE_URL: &str = "http://smartplatforms.org/terms/api#nextPageURL";

/// Most pages followed for one record (a container whose `nextPageURL`
/// never ends is a protocol error, not an infinite loop; the byte budget
/// `max_record_bytes` usually stops it first).
const MAX_PAGES: usize = 100_000;

/// How to reach the container and how hard to try.
#[derive(Clone, Debug)]
pub struct ClientConfig {
    /// The REST base URL, e.g. `http://localhost:7000` (a trailing slash is
    /// ignored).
    pub api_base: String,
    /// The app id, e.g. `my-app@apps.smartplatforms.org`; it goes into the
    /// cursor URLs.
    pub app_id: String,
    /// The OAuth consumer key; for a background app it is the app id.
    pub consumer_key: String,
    /// The OAuth consumer secret (redacted in `Debug`).
    pub consumer_secret: Secret,
    /// A PEM file of extra root certificates (a private CA), added to the
    /// platform's roots.
    pub ca_file: Option<PathBuf>,
    /// Time allowed to open a connection (TCP and TLS).
    pub connect_timeout: Duration,
    /// Time allowed for one attempt, from sending to the last body byte.
    pub request_timeout: Duration,
    /// The largest answer body accepted (`--max-body-mib`).
    pub max_body_bytes: u64,
    /// The largest total of one record's pages (`--max-record-mib`); a
    /// record over it fails. Without paging, the smaller of this and
    /// `max_body_bytes` bounds the one page.
    pub max_record_bytes: u64,
    /// Time allowed for the manifest, which is informational: one attempt,
    /// no retry.
    pub manifest_timeout: Duration,
    /// The retry policy of every call (the manifest's excepted).
    pub retry: RetryPolicy,
}

impl ClientConfig {
    /// A configuration with the defaults of [`super::defaults`] (the command
    /// line's): consumer key = app id, no extra CA, the default timeouts,
    /// size limits and retry policy.
    pub fn new(
        api_base: impl Into<String>,
        app_id: impl Into<String>,
        consumer_secret: Secret,
    ) -> Self {
        let app_id = app_id.into();
        ClientConfig {
            api_base: api_base.into(),
            consumer_key: app_id.clone(),
            app_id,
            consumer_secret,
            ca_file: None,
            connect_timeout: Duration::from_secs(defaults::CONNECT_TIMEOUT_S),
            request_timeout: Duration::from_secs(defaults::REQUEST_TIMEOUT_S),
            max_body_bytes: defaults::MAX_BODY_MIB * defaults::MIB,
            max_record_bytes: defaults::MAX_RECORD_MIB * defaults::MIB,
            manifest_timeout: defaults::MANIFEST_TIMEOUT,
            retry: RetryPolicy::default(),
        }
    }
}

/// An access token bound to one record, as the cursor or a mint hands it out.
/// `Debug` shows the record id only.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RecordToken {
    /// The container's record id.
    pub record_id: RecordId,
    /// `oauth_token`.
    pub token: Secret,
    /// `oauth_token_secret`.
    pub secret: Secret,
}

/// A record's answer: every page's body, in order.
#[derive(Clone, Debug)]
pub struct Fetched {
    /// The bodies (RDF/XML), one per page; one page unless paging was asked.
    pub pages: Vec<Bytes>,
    /// Data requests made, retries included (token mints not counted).
    pub attempts: u32,
    /// The record's data URL without a query ([`Client::data_url`]): what
    /// was requested, and the base IRI to parse the pages with.
    pub url: String,
    /// The `Content-Type` of the last page, if the container sent one (as
    /// sent: quote it through [`crate::text::excerpt`]).
    pub content_type: Option<String>,
}

/// The container client. Cheap to clone (an `Arc` inside); share it between
/// tasks.
#[derive(Clone)]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    cfg: ClientConfig,
    /// The canonical API base (lower-case host, no default port, no
    /// trailing slash).
    base: String,
    counters: Counters,
    manifest: tokio::sync::OnceCell<serde_json::Value>,
}

impl std::fmt::Debug for Client {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("api_base", &self.inner.base)
            .field("consumer_key", &self.inner.cfg.consumer_key)
            .finish_non_exhaustive()
    }
}

/// Which credentials sign a request.
#[derive(Clone, Copy)]
enum Auth<'a> {
    /// None (the manifest).
    None,
    /// 2-legged: consumer key and secret only.
    Consumer,
    /// 3-legged: the consumer plus a record's token.
    Token(&'a RecordToken),
}

/// One call: what to send and how hard to try.
struct Call<'a> {
    method: Method,
    url: &'a Url,
    auth: Auth<'a>,
    endpoint: Endpoint,
    /// The largest body accepted.
    limit: u64,
    /// Attempts at most (the policy's, or 1 for the manifest).
    max_attempts: u32,
    /// Time allowed per attempt.
    timeout: Duration,
}

/// A final HTTP answer (a status the retry loop does not retry).
struct Answer {
    status: u16,
    /// The server's `Date` header, for the clock-skew hint.
    date: Option<SystemTime>,
    /// When the answer arrived, by the local clock.
    received: SystemTime,
    /// The `Content-Type` header, if any (and if it is text).
    content_type: Option<String>,
    body: Bytes,
    attempts: u32,
}

/// Why a call stopped without an answer it could use.
struct CallFailure {
    /// The last HTTP status, if the last attempt got one.
    status: Option<u16>,
    attempts: u32,
    message: String,
    /// The body was over the call's limit (not retried).
    too_large: bool,
}

enum AttemptError {
    /// No usable answer; worth another attempt.
    Transient { message: String, cause: RetryCause },
    /// The body is over the limit; the announced length, if any.
    TooLarge { announced: Option<u64> },
}

struct RawAnswer {
    status: u16,
    date: Option<SystemTime>,
    retry_after: Option<Duration>,
    received: SystemTime,
    content_type: Option<String>,
    body: Bytes,
}

impl Client {
    /// Build the client: validate the API base, set up TLS (rustls with the
    /// `ring` provider, platform roots, plus `ca_file` if given).
    pub fn new(cfg: ClientConfig) -> Result<Client, ExtractError> {
        let base = canonical_api_base(&cfg.api_base)?;
        if cfg.app_id.is_empty() || cfg.consumer_key.is_empty() {
            return Err(ExtractError::Config {
                message: "the app id and the consumer key must not be empty\nhint: pass --app-id (the consumer key defaults to it)".into(),
            });
        }
        if cfg.retry.max_attempts == 0 {
            return Err(ExtractError::Config {
                message: "the retry policy needs at least one attempt".into(),
            });
        }
        // Installing fails only when a provider is already installed, which
        // is fine: reqwest then uses that one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut builder = reqwest::Client::builder()
            .connect_timeout(cfg.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(90))
            .pool_max_idle_per_host(256)
            .tcp_keepalive(Duration::from_secs(60))
            .tcp_nodelay(true)
            // A signature is bound to its URL: a redirect cannot verify, so
            // it is reported instead of followed.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("smartsweep/", env!("CARGO_PKG_VERSION")));
        if let Some(ca) = &cfg.ca_file {
            builder = builder.tls_certs_merge(read_ca_file(ca)?);
        }
        let http = builder.build().map_err(|e| ExtractError::Config {
            message: format!("cannot set up the HTTP client: {}", error_chain(&e)),
        })?;
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                cfg,
                base,
                counters: Counters::default(),
                manifest: tokio::sync::OnceCell::new(),
            }),
        })
    }

    /// The canonical API base this client talks to.
    pub fn api_base(&self) -> &str {
        &self.inner.base
    }

    /// The configuration the client was built from.
    pub fn config(&self) -> &ClientConfig {
        &self.inner.cfg
    }

    /// The container manifest (`GET /manifest`, unauthenticated), fetched
    /// once and cached. It is informational: one attempt within
    /// `manifest_timeout` (default 5 s), so a slow or missing manifest costs
    /// a warning, not the run. Warns (tracing) when its `api_base` is not the
    /// configured one. A successful fetch says nothing about the credentials.
    pub async fn manifest(&self) -> Result<serde_json::Value, ExtractError> {
        let value = self
            .inner
            .manifest
            .get_or_try_init(|| self.fetch_manifest())
            .await?;
        Ok(value.clone())
    }

    async fn fetch_manifest(&self) -> Result<serde_json::Value, ExtractError> {
        let url = self.url(&format!("{}/manifest", self.inner.base))?;
        let call = Call {
            method: Method::GET,
            url: &url,
            auth: Auth::None,
            endpoint: Endpoint::Manifest,
            limit: defaults::MANIFEST_BODY_BYTES,
            max_attempts: 1,
            timeout: self.inner.cfg.manifest_timeout,
        };
        let ans = self
            .execute(&call)
            .await
            .map_err(|f| f.into_error("GET", &url))?;
        if ans.status != 200 {
            return Err(ExtractError::Status {
                method: "GET".into(),
                url: url.to_string(),
                status: ans.status,
                attempts: ans.attempts,
                detail: format!(
                    "\nhint: is `{}` the container's REST base URL (--api-base)? Its manifest should be at `{}/manifest`",
                    self.inner.base, self.inner.base
                ),
            });
        }
        let value: serde_json::Value =
            serde_json::from_slice(&ans.body).map_err(|e| ExtractError::Protocol {
                url: url.to_string(),
                message: format!(
                    "the manifest is not JSON ({e}); it begins with `{}`",
                    excerpt(&ans.body, None)
                ),
            })?;
        match value.get("api_base").and_then(|v| v.as_str()) {
            Some(theirs) => {
                let same = canonical_api_base(theirs)
                    .map(|t| t == self.inner.base)
                    .unwrap_or(false);
                if !same {
                    tracing::warn!(
                        configured = %self.inner.base,
                        manifest = %excerpt(theirs.as_bytes(), None),
                        "the container's manifest names a different api_base; continuing with the configured one"
                    );
                }
            }
            None => tracing::warn!(url = %url, "the container's manifest has no `api_base`"),
        }
        Ok(value)
    }

    /// The token for the first record (`POST .../tokens/records/first`).
    /// `None` means 404: the container has no record (the reference
    /// container also answers 404 when something failed inside that call).
    pub async fn first(&self) -> Result<Option<RecordToken>, ExtractError> {
        let url = self.url(&format!(
            "{}/apps/{}/tokens/records/first",
            self.inner.base,
            segment(&self.inner.cfg.app_id)
        ))?;
        self.token_call(
            &url,
            Endpoint::Cursor,
            None,
            self.inner.cfg.retry.max_attempts,
        )
        .await
    }

    /// The token for the record after `after` (`POST
    /// .../tokens/records/{after}/next`); `None` (404) at the end. The
    /// container answers 500 for an id it does not know. An answer naming
    /// `after` itself is a [`ExtractError::CursorCycle`]; an id no URL can
    /// carry is an [`ExtractError::UnusableId`].
    pub async fn next(&self, after: &str) -> Result<Option<RecordToken>, ExtractError> {
        check_path_id(after)?;
        let url = self.url(&format!(
            "{}/apps/{}/tokens/records/{}/next",
            self.inner.base,
            segment(&self.inner.cfg.app_id),
            segment(after)
        ))?;
        let token = self
            .token_call(
                &url,
                Endpoint::Cursor,
                None,
                self.inner.cfg.retry.max_attempts,
            )
            .await?;
        if let Some(t) = &token
            && t.record_id == after
        {
            return Err(ExtractError::CursorCycle {
                record_id: t.record_id.clone(),
                detail: "`next` after it answered the same record".into(),
            });
        }
        Ok(token)
    }

    /// A fresh token for one known record (`POST .../tokens/records/{id}`).
    /// The reference container answers 500 for an id it does not know.
    pub async fn mint(&self, record_id: &str) -> Result<RecordToken, ExtractError> {
        self.mint_with(record_id, self.inner.cfg.retry.max_attempts)
            .await
    }

    /// [`Client::mint`] with at most two attempts, for checking that a
    /// candidate chain start still exists: the reference container answers
    /// 500 for an unknown id, and a deleted seed should cost one retry, not
    /// a whole retry schedule. Skipping a candidate that does exist (two
    /// transient failures in a row) is safe: the next candidate starts the
    /// chain and the chain before it walks on to there.
    pub async fn probe(&self, record_id: &str) -> Result<RecordToken, ExtractError> {
        self.mint_with(record_id, self.inner.cfg.retry.max_attempts.min(2))
            .await
    }

    async fn mint_with(&self, record_id: &str, attempts: u32) -> Result<RecordToken, ExtractError> {
        check_path_id(record_id)?;
        let url = self.url(&format!(
            "{}/apps/{}/tokens/records/{}",
            self.inner.base,
            segment(&self.inner.cfg.app_id),
            segment(record_id)
        ))?;
        match self
            .token_call(&url, Endpoint::Mint, Some(record_id), attempts)
            .await?
        {
            Some(t) => Ok(t),
            None => Err(ExtractError::Protocol {
                url: url.to_string(),
                message: "no token in the answer".into(),
            }),
        }
    }

    /// The URL of a record's resource list, without a query:
    /// `{api_base}/records/{id}/{resource}/` with the id and the resource
    /// percent-encoded as one path segment each. It is exactly the URL
    /// [`Client::fetch`] requests (before its query) and the base IRI to
    /// parse the answer with ([`Fetched::url`]). An id with `/`, or an id
    /// `.` or `..`, cannot be addressed ([`check_path_id`]); `fetch` refuses
    /// it.
    pub fn data_url(&self, record_id: &str, resource: &str) -> String {
        // Single-item resources have no trailing slash (with one, the
        // reference container answers 404); lists need it.
        let slash = if SINGLE_ITEM_RESOURCES.contains(&resource) {
            ""
        } else {
            "/"
        };
        format!(
            "{}/records/{}/{}{slash}",
            self.inner.base,
            segment(record_id),
            segment(resource)
        )
    }

    /// `GET {api_base}/records/{id}/{resource}/` with the record's token and
    /// the query `params` (signed). `page_size = Some(n)` adds `limit=n` and
    /// follows `api:nextPageURL` until the last page, within
    /// `max_record_bytes` in total. Transient failures are retried; a 401
    /// re-mints the record's token once. An HTML page (`Content-Type:
    /// text/html`) is refused. Whatever stops the fetch is a
    /// [`RecordFailure`] (stage `Fetch`); it never aborts the run.
    pub async fn fetch(
        &self,
        token: &RecordToken,
        resource: &str,
        params: &[(String, String)],
        page_size: Option<u32>,
    ) -> Result<Fetched, RecordFailure> {
        let mut f = FetchState {
            record_id: token.record_id.clone(),
            token: std::borrow::Cow::Borrowed(token),
            reminted: false,
            attempts: 0,
            total: 0,
        };
        if let Err(e) = check_path_id(token.record_id.as_str()) {
            return Err(f.fail(None, e.to_string()));
        }
        if let Err(e) = check_params(params, page_size) {
            return Err(f.fail(None, e.to_string()));
        }
        let base = self.data_url(token.record_id.as_str(), resource);
        let mut pages = Vec::new();
        let mut content_type;
        let mut offset: Option<u64> = None;
        loop {
            let url = match self.url(&with_query(&base, params, page_size, offset)) {
                Ok(u) => u,
                Err(e) => return Err(f.fail(None, e.to_string())),
            };
            let ans = self.fetch_page(&mut f, &url, pages.len()).await?;
            f.total += ans.body.len() as u64;
            content_type = ans.content_type;
            let next = match page_size {
                Some(_) => next_page_offset(&ans.body)
                    .map_err(|m| f.fail(Some(200), format!("GET `{url}`: {m}")))?,
                None => None,
            };
            pages.push(ans.body);
            match next {
                None => break,
                Some(o) if o > offset.unwrap_or(0) && pages.len() < MAX_PAGES => offset = Some(o),
                Some(o) => {
                    return Err(f.fail(
                        Some(200),
                        format!(
                            "GET `{url}`: the answer's nextPageURL (offset {o}) does not move past page {} (offset {})",
                            pages.len(),
                            offset.unwrap_or(0)
                        ),
                    ));
                }
            }
        }
        Ok(Fetched {
            pages,
            attempts: f.attempts,
            url: base,
            content_type,
        })
    }

    /// One page of a record: retries, the 401 re-mint, the body and record
    /// limits, and the HTML check.
    async fn fetch_page(
        &self,
        f: &mut FetchState<'_>,
        url: &Url,
        pages_so_far: usize,
    ) -> Result<Answer, RecordFailure> {
        let cfg = &self.inner.cfg;
        let remaining = cfg.max_record_bytes.saturating_sub(f.total);
        let record_bound = remaining < cfg.max_body_bytes;
        loop {
            let call = Call {
                method: Method::GET,
                url,
                auth: Auth::Token(f.token.as_ref()),
                endpoint: Endpoint::Data,
                limit: remaining.min(cfg.max_body_bytes),
                max_attempts: cfg.retry.max_attempts,
                timeout: cfg.request_timeout,
            };
            let ans = match self.execute(&call).await {
                Ok(a) => a,
                Err(c) => {
                    f.attempts += c.attempts;
                    let message = if c.too_large && record_bound {
                        record_limit_message(cfg.max_record_bytes, pages_so_far)
                    } else if c.too_large {
                        format!(
                            "{} (raise --max-body-mib, or page with a page size)",
                            c.message
                        )
                    } else {
                        format!("gave up: {}", c.message)
                    };
                    return Err(f.fail(c.status, format!("GET `{url}`: {message}")));
                }
            };
            f.attempts += ans.attempts;
            match ans.status {
                200 if is_html(ans.content_type.as_deref()) => {
                    return Err(f.fail(Some(200), html_message(url, &ans)));
                }
                200 => return Ok(ans),
                401 if !f.reminted => self.remint(f, url).await?,
                status => {
                    let message = data_status_message(status, f.reminted);
                    return Err(f.fail(Some(status), format!("GET `{url}`: {message}")));
                }
            }
        }
    }

    /// After a 401 on a data call: a fresh token for the record, once.
    async fn remint(&self, f: &mut FetchState<'_>, url: &Url) -> Result<(), RecordFailure> {
        f.reminted = true;
        let record_id = f.record_id.as_str();
        tracing::info!(record_id = %f.record_id, url = %url, "HTTP 401 on a data call; minting a fresh token for the record");
        match self.mint(record_id).await {
            Ok(t) => {
                self.inner.counters.remint();
                f.token = std::borrow::Cow::Owned(t);
                Ok(())
            }
            Err(e) => Err(f.fail(
                Some(401),
                format!("GET `{url}`: HTTP 401, and minting a fresh token failed: {e}"),
            )),
        }
    }

    /// The counters so far.
    pub fn stats(&self) -> ClientStats {
        self.inner.counters.snapshot()
    }

    fn url(&self, s: &str) -> Result<Url, ExtractError> {
        Url::parse(s).map_err(|e| ExtractError::Config {
            message: format!("cannot build a URL from `{}`: {e}", escape_control(s)),
        })
    }

    /// A 2-legged token call. `expect_id`: the record the answer must be
    /// for (mint); without it (the cursor), 404 means "no record".
    async fn token_call(
        &self,
        url: &Url,
        endpoint: Endpoint,
        expect_id: Option<&str>,
        max_attempts: u32,
    ) -> Result<Option<RecordToken>, ExtractError> {
        let call = Call {
            method: Method::POST,
            url,
            auth: Auth::Consumer,
            endpoint,
            limit: defaults::TOKEN_BODY_BYTES,
            max_attempts,
            timeout: self.inner.cfg.request_timeout,
        };
        let ans = self
            .execute(&call)
            .await
            .map_err(|f| f.into_error("POST", url))?;
        match ans.status {
            200 => {
                let token =
                    parse_token_answer(&ans.body).map_err(|message| ExtractError::Protocol {
                        url: url.to_string(),
                        message,
                    })?;
                if let Some(id) = expect_id
                    && token.record_id != id
                {
                    return Err(ExtractError::Protocol {
                        url: url.to_string(),
                        message: format!(
                            "asked for a token for record `{}`, got one for `{}`",
                            escape_control(id),
                            token.record_id
                        ),
                    });
                }
                Ok(Some(token))
            }
            404 if expect_id.is_none() => Ok(None),
            401 | 403 => Err(self.rejected(ans.status, ans.date, ans.received)),
            status => Err(ExtractError::Status {
                method: "POST".into(),
                url: url.to_string(),
                status,
                attempts: ans.attempts,
                detail: String::new(),
            }),
        }
    }

    /// The fatal error for 401/403 on a 2-legged call, with what to check.
    fn rejected(
        &self,
        status: u16,
        date: Option<SystemTime>,
        received: SystemTime,
    ) -> ExtractError {
        let cfg = &self.inner.cfg;
        let clock = clock_hint(date, received);
        let mut hint = String::new();
        if status == 401 {
            hint.push_str(&format!(
                "hint: check the consumer secret for key `{}` (from {} or --consumer-secret-file): a wrong secret gives this 401\n",
                cfg.consumer_key,
                super::SECRET_ENV
            ));
            hint.push_str(&format!("hint: {clock}\n"));
            hint.push_str(&format!(
                "hint: check that the app `{}` is registered on this container as a background app (manifest \"mode\": \"background\"), and that its consumer key is `{}`",
                cfg.app_id, cfg.consumer_key
            ));
        } else {
            hint.push_str(&format!(
                "hint: the signature was accepted but the container does not let key `{}` walk the record cursor: register the app `{}` as a background app (manifest \"mode\": \"background\"), not as a UI app\n",
                cfg.consumer_key, cfg.app_id
            ));
            hint.push_str(&format!(
                "hint: check that --app-id `{}` is this consumer's own app id\n",
                cfg.app_id
            ));
            hint.push_str(&format!("hint: {clock}"));
        }
        ExtractError::Rejected {
            status,
            consumer_key: cfg.consumer_key.clone(),
            api_base: self.inner.base.clone(),
            hint,
        }
    }

    /// One call with retries. Returns the first answer whose status is not
    /// transient, or why it stopped.
    async fn execute(&self, call: &Call<'_>) -> Result<Answer, CallFailure> {
        let policy = &self.inner.cfg.retry;
        let started = Instant::now();
        let mut skipped = Duration::ZERO;
        let mut attempt = 0u32;
        loop {
            attempt += 1;
            let t0 = Instant::now();
            let result = self.attempt(call).await;
            self.inner.counters.attempt(call.endpoint, t0.elapsed());
            let (message, cause, status, retry_after) = match result {
                Ok(raw) if !is_transient_status(raw.status) => {
                    return Ok(Answer {
                        status: raw.status,
                        date: raw.date,
                        received: raw.received,
                        content_type: raw.content_type,
                        body: raw.body,
                        attempts: attempt,
                    });
                }
                Ok(raw) => (
                    format!("HTTP {}", status_text(raw.status)),
                    RetryCause::Status(raw.status),
                    Some(raw.status),
                    raw.retry_after,
                ),
                Err(AttemptError::TooLarge { announced }) => {
                    return Err(CallFailure {
                        status: None,
                        attempts: attempt,
                        message: too_large_message(call.limit, announced),
                        too_large: true,
                    });
                }
                Err(AttemptError::Transient { message, cause }) => (message, cause, None, None),
            };
            if attempt >= call.max_attempts {
                return Err(CallFailure {
                    status,
                    attempts: attempt,
                    message: format!("{attempt} attempt(s), the last: {message}"),
                    too_large: false,
                });
            }
            let delay = policy.backoff(attempt, retry_after);
            let elapsed = started.elapsed() + skipped;
            if elapsed + delay > policy.deadline {
                return Err(CallFailure {
                    status,
                    attempts: attempt,
                    message: format!(
                        "the retry deadline of {} s would pass before the next attempt; the last: {message}",
                        policy.deadline.as_secs_f64()
                    ),
                    too_large: false,
                });
            }
            tracing::warn!(
                method = %call.method,
                url = %call.url,
                attempt,
                delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                cause = %message,
                "transient failure; retrying"
            );
            self.inner.counters.retry(cause, delay);
            if policy.sleep {
                tokio::time::sleep(delay).await;
            } else {
                skipped += delay;
            }
        }
    }

    /// The `Authorization` header of one attempt (fresh nonce and
    /// timestamp), if the call is signed.
    fn authorization(&self, call: &Call<'_>) -> Result<Option<HeaderValue>, AttemptError> {
        let cfg = &self.inner.cfg;
        let consumer = (cfg.consumer_key.as_str(), &cfg.consumer_secret);
        let timestamp = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map(|d| d.as_secs())
            .unwrap_or(1)
            .max(1);
        let method = call.method.as_str();
        let header = match call.auth {
            Auth::None => return Ok(None),
            Auth::Consumer => authorization_header_at(method, call.url, consumer, None, timestamp),
            Auth::Token(t) => authorization_header_at(
                method,
                call.url,
                consumer,
                Some((t.token.expose(), &t.secret)),
                timestamp,
            ),
        };
        // The header is percent-encoded ASCII, so this cannot fail; if it
        // ever did, the message must not carry the value.
        let mut value =
            HeaderValue::from_str(header.expose()).map_err(|_| AttemptError::Transient {
                message: "could not build the Authorization header".into(),
                cause: RetryCause::Connection,
            })?;
        value.set_sensitive(true);
        Ok(Some(value))
    }

    /// One attempt: sign, send, read the body within the call's limit.
    async fn attempt(&self, call: &Call<'_>) -> Result<RawAnswer, AttemptError> {
        let mut req = self
            .inner
            .http
            .request(call.method.clone(), call.url.clone())
            .timeout(call.timeout);
        if let Some(value) = self.authorization(call)? {
            req = req.header(header::AUTHORIZATION, value);
        }
        if call.method == Method::POST {
            req = req
                .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
                .body(Vec::<u8>::new());
        }
        let resp = req.send().await.map_err(|e| AttemptError::Transient {
            message: describe(&e),
            cause: transport_cause(&e, false),
        })?;
        let received = SystemTime::now();
        let status = resp.status().as_u16();
        let headers: &HeaderMap = resp.headers();
        let date = headers
            .get(header::DATE)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| httpdate::parse_http_date(v).ok());
        let retry_after = headers
            .get(header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok())
            // An HTTP date is measured against the server's own Date header
            // when there is one, so a skewed local clock does not matter.
            .and_then(|v| parse_retry_after(v, date.unwrap_or(received)));
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let body = read_body(resp, status, call.limit).await?;
        Ok(RawAnswer {
            status,
            date,
            retry_after,
            received,
            content_type,
            body,
        })
    }
}

/// A record's fetch in progress: its (possibly re-minted) token and what it
/// cost so far.
struct FetchState<'a> {
    record_id: RecordId,
    token: std::borrow::Cow<'a, RecordToken>,
    reminted: bool,
    /// Data requests so far.
    attempts: u32,
    /// Body bytes of the pages so far.
    total: u64,
}

impl FetchState<'_> {
    fn fail(&self, status: Option<u16>, message: String) -> RecordFailure {
        RecordFailure {
            record_id: self.record_id.clone(),
            table: None,
            stage: Stage::Fetch,
            http_status: status,
            attempts: self.attempts,
            message,
        }
    }
}

/// Read a body up to `limit` bytes: refused at once when `Content-Length`
/// announces more, and as soon as it grows past the limit otherwise.
async fn read_body(
    mut resp: reqwest::Response,
    status: u16,
    limit: u64,
) -> Result<Bytes, AttemptError> {
    if let Some(len) = resp.content_length()
        && len > limit
    {
        return Err(AttemptError::TooLarge {
            announced: Some(len),
        });
    }
    let capacity = resp.content_length().unwrap_or(0).min(limit).min(8 << 20);
    let mut body = BytesMut::with_capacity(usize::try_from(capacity).unwrap_or(0));
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                if body.len() as u64 + chunk.len() as u64 > limit {
                    return Err(AttemptError::TooLarge { announced: None });
                }
                body.extend_from_slice(&chunk);
            }
            Ok(None) => return Ok(body.freeze()),
            Err(e) => {
                return Err(AttemptError::Transient {
                    message: format!(
                        "HTTP {status}, body cut short after {} bytes: {}",
                        body.len(),
                        describe(&e)
                    ),
                    cause: transport_cause(&e, true),
                });
            }
        }
    }
}

/// The retry cause of a transport error (`reading`: while reading a body).
fn transport_cause(e: &reqwest::Error, reading: bool) -> RetryCause {
    if e.is_timeout() {
        RetryCause::Timeout
    } else if reading {
        RetryCause::Truncated
    } else {
        RetryCause::Connection
    }
}

fn read_ca_file(ca: &std::path::Path) -> Result<Vec<reqwest::Certificate>, ExtractError> {
    let pem = std::fs::read(ca).map_err(|e| ExtractError::Config {
        message: format!(
            "cannot read the CA file `{}`: {e}\nhint: --ca-file takes a PEM file of root certificates",
            ca.display()
        ),
    })?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| ExtractError::Config {
        message: format!("the CA file `{}` is not valid PEM: {e}", ca.display()),
    })?;
    if certs.is_empty() {
        return Err(ExtractError::Config {
            message: format!(
                "the CA file `{}` holds no certificate\nhint: --ca-file takes a PEM file with `-----BEGIN CERTIFICATE-----` blocks",
                ca.display()
            ),
        });
    }
    Ok(certs)
}

/// Refuse a record id no request URL can carry: the container routes ids as
/// one path segment (`[^/]+`) and decodes `%2F` before routing, so an id with
/// `/` can never be reached; URL normalisation removes a `.` or `..` segment
/// (even percent-encoded); and an empty id has no segment at all.
pub fn check_path_id(record_id: &str) -> Result<(), ExtractError> {
    let reason = if record_id.is_empty() {
        "it is empty"
    } else if record_id.contains('/') {
        "it contains `/`, and the container routes a record id as one path segment (`[^/]+`), decoding `%2F` before routing, so no URL reaches this record"
    } else if record_id == "." || record_id == ".." {
        "URL normalisation removes a `.` or `..` path segment (even percent-encoded), so no URL reaches this record"
    } else {
        return Ok(());
    };
    Err(ExtractError::UnusableId {
        record_id: RecordId::new(record_id),
        reason,
    })
}

/// True for a `Content-Type` of `text/html` (any parameters, any case).
fn is_html(content_type: Option<&str>) -> bool {
    content_type
        .and_then(|ct| ct.split(';').next())
        .is_some_and(|m| m.trim().eq_ignore_ascii_case("text/html"))
}

fn html_message(url: &Url, ans: &Answer) -> String {
    format!(
        "GET `{url}`: HTTP 200 with `Content-Type: {}`: an HTML page, not RDF/XML (a login, proxy or error page in front of the container?); it begins with `{}`; check --api-base",
        excerpt(ans.content_type.as_deref().unwrap_or("").as_bytes(), None),
        excerpt(&ans.body, None)
    )
}

fn record_limit_message(limit: u64, pages: usize) -> String {
    format!(
        "the record's answer grew past the per-record limit of {limit} bytes ({:.1} MiB) after {pages} complete page(s) (raise --max-record-mib if such records are expected)",
        limit as f64 / defaults::MIB as f64
    )
}

impl CallFailure {
    fn into_error(self, method: &str, url: &Url) -> ExtractError {
        if self.too_large {
            return ExtractError::Protocol {
                url: url.to_string(),
                message: self.message,
            };
        }
        match self.status {
            Some(status) => ExtractError::Status {
                method: method.into(),
                url: url.to_string(),
                status,
                attempts: self.attempts,
                detail: format!(" (gave up: {})", self.message),
            },
            None => ExtractError::Transport {
                method: method.into(),
                url: url.to_string(),
                attempts: self.attempts,
                message: self.message,
            },
        }
    }
}

/// Check a fetch's query parameters: names of unreserved characters only
/// (so the container's raw sort and RFC 5849's encoded sort agree), no
/// `oauth_*` name (the container signs only the header's), no name twice
/// (a repeated name can never verify on the reference container), and no
/// `limit`/`offset` when paging (the client sets them).
pub fn check_params(
    params: &[(String, String)],
    page_size: Option<u32>,
) -> Result<(), ExtractError> {
    let mut problems = Vec::new();
    let mut seen = std::collections::BTreeSet::new();
    for (name, _) in params {
        if name.is_empty()
            || !name
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~'))
        {
            problems.push(format!(
                "`{name}` is not a plain parameter name (letters, digits, `-._~`)"
            ));
        } else if name.starts_with("oauth_") {
            problems.push(format!(
                "`{name}`: `oauth_` parameters travel in the Authorization header only"
            ));
        }
        if !seen.insert(name.as_str()) {
            problems.push(format!(
                "`{name}` appears twice (the container cannot verify a repeated parameter; join values with `|`)"
            ));
        }
        if page_size.is_some() && (name == "limit" || name == "offset") {
            problems.push(format!(
                "`{name}` is set by the client when a page size is given"
            ));
        }
    }
    if page_size == Some(0) {
        problems.push(
            "a page size of 0 means \"everything\" to the container; leave it unset instead".into(),
        );
    }
    if problems.is_empty() {
        Ok(())
    } else {
        Err(ExtractError::Config {
            message: format!(
                "bad query parameters for the container: {}",
                problems.join("; ")
            ),
        })
    }
}

/// `{base}?k=v&...&limit=n&offset=m`, every name and value RFC 3986-encoded.
fn with_query(
    base: &str,
    params: &[(String, String)],
    page_size: Option<u32>,
    offset: Option<u64>,
) -> String {
    let mut pairs: Vec<(String, String)> = params.to_vec();
    if let Some(n) = page_size {
        pairs.push(("limit".into(), n.to_string()));
        if let Some(o) = offset {
            pairs.push(("offset".into(), o.to_string()));
        }
    }
    if pairs.is_empty() {
        return base.to_owned();
    }
    let query = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    format!("{base}?{query}")
}

/// The `offset` of the answer's `api:nextPageURL`, if it has one.
///
/// The container writes that URL as a plain literal whose query values are
/// *not* URL-encoded, in arbitrary order, so it cannot be sent or signed as
/// it stands (a value holding `&`, `+` or `%` would be misread). The client
/// therefore takes only the new `offset` from it and rebuilds the next URL
/// from its own, known parameters, encoded properly. The literal is found by
/// parsing the page as RDF/XML (any serialization style), and only when the
/// page mentions `nextPageURL` at all. A page whose XML entities would
/// expand past [`MAX_ENTITY_BYTES`] is refused before parsing (the parser
/// expands them eagerly: a "billion laughs" page would take gigabytes).
pub(crate) fn next_page_offset(body: &[u8]) -> Result<Option<u64>, String> {
    let needle = b"nextPageURL";
    if !body.windows(needle.len()).any(|w| w == needle) {
        return Ok(None);
    }
    let expansion = declared_entity_bytes(body);
    if expansion > MAX_ENTITY_BYTES {
        return Err(format!(
            "the page declares an XML entity that expands to {expansion} bytes or more (an entity-expansion bomb?); refused before parsing (the limit is {MAX_ENTITY_BYTES} bytes)"
        ));
    }
    let mut link = None;
    for triple in oxrdfxml::RdfXmlParser::new().lenient().for_slice(body) {
        let Ok(triple) = triple else { break };
        if triple.predicate.as_str() == NEXT_PAGE_URL
            && let oxrdf::Term::Literal(l) = &triple.object
        {
            link = Some(l.value().to_owned());
            break;
        }
    }
    let Some(link) = link else { return Ok(None) };
    let Some((_, query)) = link.split_once('?') else {
        return Ok(None);
    };
    Ok(query
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(k, _)| k.trim() == "offset")
        .find_map(|(_, v)| v.trim().parse::<u64>().ok()))
}

/// The largest expansion of a custom XML entity accepted in a page
/// (`<!ENTITY ...>` in the DOCTYPE; the reference container never declares
/// any).
pub const MAX_ENTITY_BYTES: u64 = 1024 * 1024;

/// The largest size, in bytes, that any entity declared in the document's
/// DOCTYPE expands to (0 when none is declared), computed without expanding
/// anything: declarations are read in order, and each `&name;` reference in
/// a value counts the size of the entity it names, as a parser that
/// resolves entities at declaration does (oxrdfxml 0.2, which also reads
/// `<!ENTITY % name ...>` as a general entity). Conservative: single-quoted
/// values count too, and a redeclared entity counts its larger value.
/// Saturates at `u64::MAX`. Call it before handing a body of unknown origin
/// to an XML parser that resolves custom entities.
pub fn declared_entity_bytes(body: &[u8]) -> u64 {
    const DECL: &[u8] = b"<!ENTITY";
    let mut sizes: std::collections::HashMap<&[u8], u64> = std::collections::HashMap::new();
    let mut largest = 0u64;
    let mut rest = body;
    while let Some(at) = find(rest, DECL) {
        rest = &rest[at + DECL.len()..];
        let mut decl = skip_space(rest);
        // oxrdfxml reads `<!ENTITY % name "...">` as a general entity too.
        if let Some(after) = decl.strip_prefix(b"%") {
            decl = skip_space(after);
        }
        let name_len = decl
            .iter()
            .position(|b| b.is_ascii_whitespace())
            .unwrap_or(decl.len());
        let (name, after) = decl.split_at(name_len);
        let after = skip_space(after);
        let Some(&quote) = after.first().filter(|q| matches!(q, b'"' | b'\'')) else {
            continue; // an external entity (SYSTEM/PUBLIC): not fetched
        };
        let value = &after[1..];
        let value = &value[..value
            .iter()
            .position(|&b| b == quote)
            .unwrap_or(value.len())];
        let size = expanded_size(value, &sizes);
        largest = largest.max(size);
        // A redeclaration: the first wins in XML, the last in oxrdfxml;
        // count the larger.
        let known = sizes.entry(name).or_insert(size);
        *known = (*known).max(size);
    }
    largest
}

/// The size of an entity value once its references are replaced.
fn expanded_size(value: &[u8], sizes: &std::collections::HashMap<&[u8], u64>) -> u64 {
    let mut size = 0u64;
    let mut rest = value;
    while let Some(amp) = rest.iter().position(|&b| b == b'&') {
        size = size.saturating_add(amp as u64);
        rest = &rest[amp..];
        let end = rest.iter().take(256).position(|&b| b == b';');
        match end {
            Some(end) => {
                let name = &rest[1..end];
                let n = match sizes.get(name) {
                    Some(&n) => n,
                    None if name.first() == Some(&b'#') => 4,
                    None if matches!(name, b"amp" | b"lt" | b"gt" | b"quot" | b"apos") => 1,
                    None => (end + 1) as u64,
                };
                size = size.saturating_add(n);
                rest = &rest[end + 1..];
            }
            None => {
                size = size.saturating_add(1);
                rest = &rest[1..];
            }
        }
    }
    size.saturating_add(rest.len() as u64)
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn skip_space(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

/// Parse a token answer: form-encoded `oauth_token`, `oauth_token_secret`
/// and `smart_record_id`, in any order (`+` is a space), each exactly once.
/// The record id is at most [`defaults::MAX_RECORD_ID_BYTES`] long. The
/// error never quotes the body (it holds credentials).
fn parse_token_answer(body: &[u8]) -> Result<RecordToken, String> {
    let text = std::str::from_utf8(body).map_err(|_| "the token answer is not UTF-8".to_owned())?;
    let mut token = None;
    let mut secret = None;
    let mut record = None;
    let mut repeated = Vec::new();
    for pair in text.trim().split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let (name, slot) = match form_decode(k).as_str() {
            "oauth_token" => ("oauth_token", &mut token),
            "oauth_token_secret" => ("oauth_token_secret", &mut secret),
            "smart_record_id" => ("smart_record_id", &mut record),
            _ => continue,
        };
        if slot.replace(form_decode(v)).is_some() && !repeated.contains(&name) {
            repeated.push(name);
        }
    }
    if !repeated.is_empty() {
        return Err(format!(
            "the token answer names {} more than once (which one is meant?); refusing it ({} bytes received)",
            repeated.join(", "),
            body.len()
        ));
    }
    let mut missing = Vec::new();
    if token.as_deref().is_none_or(str::is_empty) {
        missing.push("oauth_token");
    }
    if secret.is_none() {
        missing.push("oauth_token_secret");
    }
    if record.as_deref().is_none_or(str::is_empty) {
        missing.push("smart_record_id");
    }
    match (token, secret, record) {
        (Some(t), Some(s), Some(r)) if missing.is_empty() => {
            if r.len() > defaults::MAX_RECORD_ID_BYTES {
                return Err(format!(
                    "the token answer's smart_record_id is {} bytes long, over the limit of {} (the reference container's ids are at most 50 characters); it begins with `{}`",
                    r.len(),
                    defaults::MAX_RECORD_ID_BYTES,
                    excerpt(r.as_bytes(), None)
                ));
            }
            Ok(RecordToken {
                record_id: RecordId::new(r),
                token: Secret::new(t),
                secret: Secret::new(s),
            })
        }
        _ => Err(format!(
            "the token answer lacks {} (expected a form-encoded oauth_token, oauth_token_secret and smart_record_id, {} bytes received)",
            missing.join(", "),
            body.len()
        )),
    }
}

fn form_decode(s: &str) -> String {
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced).decode_utf8_lossy().into_owned()
}

fn segment(s: &str) -> String {
    utf8_percent_encode(s, PATH_SEGMENT).to_string()
}

/// Validate and canonicalize the API base: http(s), no credentials, query or
/// fragment; lower-case host, no default port, no trailing slash.
fn canonical_api_base(raw: &str) -> Result<String, ExtractError> {
    let bad = |why: &str| ExtractError::Config {
        message: format!(
            "bad API base `{raw}`: {why}\nhint: give the container's REST base URL, e.g. `https://smart.example.org` or `http://localhost:7000`"
        ),
    };
    let url = Url::parse(raw.trim()).map_err(|e| bad(&e.to_string()))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(bad("the scheme must be http or https"));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(bad("credentials do not belong in the URL"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(bad("it must not have a query or a fragment"));
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(bad("it has no host"));
    }
    let mut s = url.to_string();
    while s.ends_with('/') {
        s.pop();
    }
    Ok(s)
}

/// What the local clock says against the container's `Date` header.
fn clock_hint(server: Option<SystemTime>, local: SystemTime) -> String {
    let Some(server) = server else {
        return "clock skew could not be measured (the container sent no Date header); the container refuses OAuth timestamps more than 300 s old, so make sure the local clock is not behind its clock".into();
    };
    let (behind, secs) = match server.duration_since(local) {
        Ok(d) => (true, d.as_secs()),
        Err(e) => (false, e.duration().as_secs()),
    };
    let date = httpdate::fmt_http_date(server);
    if behind && secs > 300 {
        format!(
            "clock skew: the local clock is {secs} s behind the container's (its Date header: {date}); it refuses OAuth timestamps more than 300 s old, so this is the likely cause: fix the local clock (NTP)"
        )
    } else {
        let dir = if behind { "behind" } else { "ahead of" };
        format!(
            "clock skew: the local clock is {secs} s {dir} the container's (measured from its Date header), inside the 300 s window, so probably not the cause"
        )
    }
}

fn data_status_message(status: u16, reminted: bool) -> String {
    match status {
        401 if reminted => "HTTP 401 even with a freshly minted token".into(),
        401 => "HTTP 401".into(),
        403 => "HTTP 403: the container refused this record's token (a token for another record?)"
            .into(),
        404 => "HTTP 404: no such resource (check the pipeline's resource name)".into(),
        s if (300..400).contains(&s) => format!(
            "HTTP {s}: a redirect (not followed: a signed request cannot follow one; check --api-base)"
        ),
        s => format!("HTTP {}", status_text(s)),
    }
}

fn status_text(status: u16) -> String {
    match reqwest::StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason())
    {
        Some(reason) => format!("{status} {reason}"),
        None => status.to_string(),
    }
}

fn too_large_message(limit: u64, announced: Option<u64>) -> String {
    match announced {
        Some(len) => format!("the answer is {len} bytes, over the limit of {limit} bytes"),
        None => format!("the answer grew past the limit of {limit} bytes"),
    }
}

/// A transport error for a person: its kind and the chain of causes,
/// without the URL (callers name it) and never a header.
fn describe(e: &reqwest::Error) -> String {
    let kind = if e.is_timeout() {
        "timed out"
    } else if e.is_connect() {
        "could not connect"
    } else if e.is_body() || e.is_decode() {
        "reading the body failed"
    } else if e.is_request() {
        "the request failed"
    } else {
        "transport error"
    };
    let chain = error_chain(e);
    if chain.is_empty() {
        kind.to_owned()
    } else {
        format!("{kind}: {chain}")
    }
}

fn error_chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut cur = e.source();
    while let Some(s) = cur {
        let text = s.to_string();
        if !parts.iter().any(|p| p == &text) {
            parts.push(text);
        }
        cur = s.source();
    }
    parts.join(": ")
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn token_answer_any_order_and_plus() {
        let t = parse_token_answer(
            b"smart_record_id=2169591&oauth_token_secret=a+b%2Bc%26&oauth_token=T0k",
        )
        .unwrap();
        assert_eq!(t.record_id, "2169591");
        assert_eq!(t.token.expose(), "T0k");
        assert_eq!(t.secret.expose(), "a b+c&");
        let dbg = format!("{t:?}");
        assert!(
            dbg.contains("2169591") && !dbg.contains("T0k") && !dbg.contains("a b"),
            "{dbg}"
        );
        let e = parse_token_answer(b"oauth_token=SECRETTOKEN&smart_record_id=1").unwrap_err();
        assert!(
            e.contains("oauth_token_secret") && !e.contains("SECRETTOKEN"),
            "{e}"
        );
    }

    #[test]
    fn token_answer_with_a_repeated_key_is_refused() {
        for body in [
            "smart_record_id=1&oauth_token=T&oauth_token_secret=S&smart_record_id=2",
            "oauth_token=T&oauth_token=U&oauth_token_secret=S&smart_record_id=1",
            "oauth_token=T&oauth_token_secret=S&oauth_token_secret=S&smart_record_id=1",
        ] {
            let e = parse_token_answer(body.as_bytes()).unwrap_err();
            assert!(e.contains("more than once"), "{e}");
            assert!(!e.contains("=T") && !e.contains("S&"), "{e}");
        }
        let long = format!(
            "oauth_token=T&oauth_token_secret=S&smart_record_id={}",
            "9".repeat(100_000)
        );
        let e = parse_token_answer(long.as_bytes()).unwrap_err();
        assert!(e.contains("100000 bytes long") && e.len() < 600, "{e}");
    }

    #[test]
    fn html_content_types() {
        assert!(is_html(Some("text/html")));
        assert!(is_html(Some("Text/HTML; charset=utf-8")));
        assert!(is_html(Some(" text/html ;q=1")));
        assert!(!is_html(Some("application/rdf+xml")));
        assert!(!is_html(Some("text/htmlx")));
        assert!(!is_html(None));
    }

    #[test]
    fn ids_no_url_can_carry() {
        for bad in ["", "a/b", "/", ".", ".."] {
            let e = check_path_id(bad).unwrap_err().to_string();
            assert!(
                e.contains("cannot be used in a URL") && e.contains("hint:"),
                "{e}"
            );
        }
        // A formula-like id is fine, as long as it has no `/`.
        assert!(check_path_id("=cmd|' /C calc'!A0").is_err());
        for ok in [
            "...",
            ".a",
            "a b",
            "50%",
            "q\"x'",
            "h#?",
            "=cmd|' -C calc'!A0",
            "a\u{0}\n\u{1b}",
        ] {
            check_path_id(ok).unwrap();
        }
    }

    #[test]
    fn data_url_is_what_is_requested() {
        let cfg = ClientConfig::new("http://127.0.0.1:9", "a@b", Secret::new("s"));
        let client = Client::new(cfg).unwrap();
        for id in [
            "1032702",
            "a b",
            "50%",
            "q\"x'<>",
            "h#?&=+",
            "...",
            "é\u{0}\n\u{1b}[2J",
            "=cmd|' -C calc'!A0",
        ] {
            let u = client.data_url(id, "medications");
            let parsed = Url::parse(&u).unwrap();
            assert_eq!(parsed.as_str(), u, "{id:?}");
            assert!(
                parsed.query().is_none() && parsed.fragment().is_none(),
                "{u}"
            );
            let segs: Vec<_> = parsed.path_segments().unwrap().collect();
            assert_eq!(segs.len(), 4, "{u}");
            assert_eq!(percent_decode_str(segs[1]).decode_utf8().unwrap(), id);
        }
    }

    #[test]
    fn api_base_is_canonical() {
        assert_eq!(
            canonical_api_base("http://LOCALHOST:80/").unwrap(),
            "http://localhost"
        );
        assert_eq!(
            canonical_api_base("https://h.org:443/smart/").unwrap(),
            "https://h.org/smart"
        );
        assert_eq!(
            canonical_api_base("http://127.0.0.1:7000").unwrap(),
            "http://127.0.0.1:7000"
        );
        assert!(canonical_api_base("ftp://h").is_err());
        assert!(canonical_api_base("http://u:p@h").is_err());
        assert!(canonical_api_base("http://h/?x=1").is_err());
        assert!(canonical_api_base("not a url").is_err());
    }

    #[test]
    fn config_debug_redacts() {
        let cfg = ClientConfig::new("http://h", "a@b", Secret::new("hunter2"));
        let d = format!("{cfg:?}");
        assert!(!d.contains("hunter2") && d.contains("a@b"), "{d}");
    }

    #[test]
    fn params_are_checked() {
        let p = |v: &[(&str, &str)]| {
            v.iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect::<Vec<_>>()
        };
        assert!(check_params(&p(&[("rxnorm", "a|b"), ("date_from", "2010")]), Some(10)).is_ok());
        let e = check_params(
            &p(&[
                ("a", "1"),
                ("a", "2"),
                ("c@", ""),
                ("oauth_x", ""),
                ("limit", "3"),
            ]),
            Some(5),
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("`a` appears twice"), "{e}");
        assert!(e.contains("`c@` is not a plain"), "{e}");
        assert!(e.contains("`oauth_x`"), "{e}");
        assert!(e.contains("`limit` is set by the client"), "{e}");
        assert!(check_params(&p(&[("limit", "3")]), None).is_ok());
        assert!(check_params(&[], Some(0)).is_err());
    }

    #[test]
    fn query_is_rfc3986_encoded() {
        let params = vec![("rxnorm".to_string(), "a|b c+d&e".to_string())];
        assert_eq!(
            with_query(
                "http://h/records/1/medications/",
                &params,
                Some(10),
                Some(20)
            ),
            "http://h/records/1/medications/?rxnorm=a%7Cb%20c%2Bd%26e&limit=10&offset=20"
        );
        assert_eq!(with_query("http://h/x/", &[], None, None), "http://h/x/");
    }

    #[test]
    fn next_page_from_unencoded_literal() {
        let page = br#"<?xml version="1.0" encoding="UTF-8"?>
<rdf:RDF xmlns:api="http://smartplatforms.org/terms/api#" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:nodeID="Nrs">
    <rdf:type rdf:resource="http://smartplatforms.org/terms/api#ResponseSummary"/>
    <api:nextPageURL>http://h:7000/records/1/medications/?rxnorm=a|b c&amp;offset=20&amp;limit=10</api:nextPageURL>
  </rdf:Description>
</rdf:RDF>"#;
        assert_eq!(next_page_offset(page), Ok(Some(20)));
        let nested = br#"<?xml version="1.0"?>
<rdf:RDF xmlns:api="http://smartplatforms.org/terms/api#" xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <api:ResponseSummary><api:nextPageURL>http://h/records/1/medications/?limit=5&amp;offset=5</api:nextPageURL></api:ResponseSummary>
</rdf:RDF>"#;
        assert_eq!(next_page_offset(nested), Ok(Some(5)));
        assert_eq!(next_page_offset(b"<rdf:RDF/>"), Ok(None));
    }

    #[test]
    fn entity_bombs_are_measured_without_expanding() {
        let mut bomb = String::from("<!DOCTYPE r [\n <!ENTITY lol \"lol\">\n");
        let mut prev = "lol".to_owned();
        for i in 1..=9 {
            let name = format!("lol{i}");
            bomb.push_str(&format!(
                " <!ENTITY {name} \"{}\">\n",
                format!("&{prev};").repeat(10)
            ));
            prev = name;
        }
        bomb.push_str("]>\n<rdf:RDF><api:nextPageURL>x?offset=5</api:nextPageURL></rdf:RDF>");
        assert_eq!(declared_entity_bytes(bomb.as_bytes()), 3_000_000_000);
        let e = next_page_offset(bomb.as_bytes()).unwrap_err();
        assert!(e.contains("entity") && e.contains("3000000000"), "{e}");
        // Ordinary namespace abbreviations are fine.
        let small = b"<!DOCTYPE rdf:RDF [ <!ENTITY xsd 'http://www.w3.org/2001/XMLSchema#'> <!ENTITY ext SYSTEM \"http://x/\"> <!ENTITY a \"&xsd;&amp;&#233;&unknown;\"> ]>";
        assert_eq!(declared_entity_bytes(small), 33 + 1 + 4 + 9);
        // `%` declarations count as general ones (oxrdfxml reads them so).
        let pct = b"<!ENTITY % a \"aaaaaaaaaa\"><!ENTITY % b \"&a;&a;&a;\">";
        assert_eq!(declared_entity_bytes(pct), 30);
        assert_eq!(declared_entity_bytes(b"<rdf:RDF/>"), 0);
        // Exponential growth saturates instead of overflowing.
        let mut deep = String::from("<!ENTITY e0 \"xxxxxxxxxx\">");
        for i in 1..40 {
            deep.push_str(&format!(
                "<!ENTITY e{i} \"{}\">",
                format!("&e{};", i - 1).repeat(100)
            ));
        }
        assert_eq!(declared_entity_bytes(deep.as_bytes()), u64::MAX);
    }

    #[test]
    fn clock_hints() {
        let local = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let h = clock_hint(Some(local + Duration::from_secs(900)), local);
        assert!(
            h.contains("900 s behind") && h.contains("likely cause"),
            "{h}"
        );
        let h = clock_hint(Some(local - Duration::from_secs(12)), local);
        assert!(
            h.contains("12 s ahead of") && h.contains("probably not"),
            "{h}"
        );
        let h = clock_hint(None, local);
        assert!(h.contains("no Date header"), "{h}");
    }

    #[test]
    fn segments_keep_at_sign() {
        assert_eq!(
            segment("my-app@apps.smartplatforms.org"),
            "my-app@apps.smartplatforms.org"
        );
        assert_eq!(segment("a b/c?d#e%"), "a%20b%2Fc%3Fd%23e%25");
    }
}
