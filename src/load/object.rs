//! An object store (S3, GCS, Azure) as a [`Store`], through the
//! `object_store` crate.
//!
//! How the commit protocol maps:
//!
//! - no lock: [`Store::prepare`] checks the bucket and the credentials (one
//!   listing) and returns `false`; ownership is the checkpoint's
//!   conditional replacement instead;
//! - [`Store::put_checkpoint`]: `PutMode::Create` (`If-None-Match: *`) for
//!   the first checkpoint, `PutMode::Update` (`If-Match: <etag>`) after; a
//!   precondition failure is [`LoadError::ClaimLost`];
//! - [`Store::create_part`]: bytes go out in chunks of [`CHUNK`] through a
//!   multipart upload (at most one chunk in flight while the next fills, so
//!   memory is bounded whatever the part's size); the object exists only
//!   once the upload is completed in [`PartSink::commit`]. A part smaller
//!   than one chunk is one conditional PUT. An abandoned part's upload is
//!   aborted (a kill leaves an incomplete upload, which is never visible;
//!   a bucket lifecycle rule removes it);
//! - a part completed but not yet in the checkpoint (a kill in between)
//!   is a listed object numbered at or past its chain's `next_part`: the
//!   protocol deletes it on resume;
//! - control files are single PUTs (atomic replacement).
//!
//! Every method is called from a blocking context; async calls are driven
//! on the runtime that opened the store.

use super::LoadError;
use super::destination::{StorageOptions, redact};
use super::store::{Listed, PartSink, Store};
use futures::StreamExt;
use object_store::path::Path as ObjPath;
use object_store::{
    ObjectStore, ObjectStoreExt, PutMode, PutOptions, PutPayload, RetryConfig, UpdateVersion,
};
use std::future::Future;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use tokio::runtime::Handle;
use tokio::task::JoinHandle;

/// Bytes per upload chunk (S3's smallest part size is 5 MiB).
pub const CHUNK: usize = 5 * 1024 * 1024;

/// Options smartsweep reads itself (the rest go to the store's builder).
const MAX_RETRIES: &str = "max_retries";
const RETRY_TIMEOUT: &str = "retry_timeout";

/// An object-store location as a [`Store`].
#[derive(Clone)]
pub struct RemoteStore {
    inner: Arc<dyn ObjectStore>,
    /// The location's prefix inside the bucket (no leading or trailing `/`).
    prefix: String,
    url: reqwest::Url,
    handle: Handle,
    /// How long failed requests are retried, on top of the store client's
    /// own retries (which retry a conditional write only when it was not
    /// sent, or on a server error: see `put_checkpoint` for an answer lost
    /// after the write landed).
    retry: RetryConfig,
}

impl std::fmt::Debug for RemoteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "RemoteStore({})", redact(&self.url))
    }
}

/// A usage error about `url` (exit 2).
fn usage_error(url: &reqwest::Url, message: String, hint: &str) -> LoadError {
    LoadError::Store {
        path: PathBuf::from(redact(url)),
        message,
        hint: hint.to_owned(),
        usage: true,
    }
}

/// Removes query strings from URLs in a store's message (Azure SAS tokens
/// travel there) and shortens it.
pub(crate) fn scrub(message: &str) -> String {
    static QUERY: std::sync::OnceLock<Option<regex::Regex>> = std::sync::OnceLock::new();
    let re = QUERY.get_or_init(|| regex::Regex::new(r"(https?://[^\s?]*)\?[^\s]*").ok());
    let cleaned = match re {
        Some(re) => re.replace_all(message, "$1?REDACTED").into_owned(),
        None => message.to_owned(),
    };
    crate::text::excerpt(cleaned.as_bytes(), None)
}

/// Parses `retry_timeout` (`30`, `30s`, `2m`).
fn parse_seconds(raw: &str) -> Option<Duration> {
    let raw = raw.trim();
    let (num, mult) = if let Some(n) = raw.strip_suffix("ms") {
        return n.trim().parse::<u64>().ok().map(Duration::from_millis);
    } else if let Some(n) = raw.strip_suffix('s') {
        (n, 1)
    } else if let Some(n) = raw.strip_suffix('m') {
        (n, 60)
    } else {
        (raw, 1)
    };
    num.trim()
        .parse::<u64>()
        .ok()
        .map(|n| Duration::from_secs(n * mult))
}

/// The retry policy from the options (object_store's defaults otherwise:
/// 10 retries within 3 minutes, exponential backoff).
fn retry_config(url: &reqwest::Url, opts: &StorageOptions) -> Result<RetryConfig, LoadError> {
    let mut retry = RetryConfig::default();
    if let Some(v) = opts.0.get(MAX_RETRIES) {
        retry.max_retries = v.trim().parse().map_err(|_| {
            usage_error(
                url,
                format!("--storage-option {MAX_RETRIES}=`{v}` is not a count"),
                "give a whole number, e.g. `max_retries=10`",
            )
        })?;
    }
    if let Some(v) = opts.0.get(RETRY_TIMEOUT) {
        retry.retry_timeout = parse_seconds(v).ok_or_else(|| {
            usage_error(
                url,
                format!("--storage-option {RETRY_TIMEOUT}=`{v}` is not a duration"),
                "give seconds, e.g. `retry_timeout=60` or `retry_timeout=2m`",
            )
        })?;
    }
    Ok(retry)
}

/// True when the endpoint option (or its environment variable) is plain
/// `http://`: the user asked for it, so the builder is told to allow it.
fn plain_http_endpoint(opts: &StorageOptions, env_keys: &[&str]) -> bool {
    let is_http = |v: &str| v.trim().starts_with("http://");
    opts.0
        .iter()
        .any(|(k, v)| k.to_ascii_lowercase().contains("endpoint") && is_http(v))
        || env_keys
            .iter()
            .any(|k| std::env::var(k).is_ok_and(|v| is_http(&v)))
}

/// Applies `--storage-option` pairs to a builder, refusing unknown keys.
fn apply<B, K>(
    url: &reqwest::Url,
    mut builder: B,
    opts: &StorageOptions,
    set: impl Fn(B, K, &str) -> B,
    store: &str,
) -> Result<B, LoadError>
where
    K: std::str::FromStr,
{
    for (k, v) in &opts.0 {
        if k == MAX_RETRIES || k == RETRY_TIMEOUT {
            continue;
        }
        let key: K = k.to_ascii_lowercase().parse().map_err(|_| {
            usage_error(
                url,
                format!("--storage-option `{k}` is not an option of the {store} store"),
                "see the README's object-storage section for the accepted keys (e.g. `aws_endpoint_url`, `aws_region`, `allow_http`)",
            )
        })?;
        builder = set(builder, key, v);
    }
    Ok(builder)
}

fn build(
    url: &reqwest::Url,
    opts: &StorageOptions,
    retry: RetryConfig,
) -> Result<Arc<dyn ObjectStore>, LoadError> {
    use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
    use object_store::azure::{AzureConfigKey, MicrosoftAzureBuilder};
    use object_store::gcp::{GoogleCloudStorageBuilder, GoogleConfigKey};
    use object_store::{ClientConfigKey, ClientOptions};
    let bucket_url = format!("{}://{}", url.scheme(), url.host_str().unwrap_or_default());
    let built: object_store::Result<Arc<dyn ObjectStore>> = match url.scheme() {
        "s3" | "s3a" => {
            let b = AmazonS3Builder::from_env().with_url(bucket_url);
            let mut b = apply(
                url,
                b,
                opts,
                |b, k: AmazonS3ConfigKey, v| b.with_config(k, v),
                "S3",
            )?;
            if plain_http_endpoint(opts, &["AWS_ENDPOINT_URL", "AWS_ENDPOINT"]) {
                b = b.with_allow_http(true);
            }
            b.with_retry(retry).build().map(|s| Arc::new(s) as _)
        }
        "gs" => {
            let b = GoogleCloudStorageBuilder::from_env().with_url(bucket_url);
            let b = apply(
                url,
                b,
                opts,
                |b, k: GoogleConfigKey, v| b.with_config(k, v),
                "GCS",
            )?;
            b.with_retry(retry).build().map(|s| Arc::new(s) as _)
        }
        "az" | "abfs" | "abfss" => {
            let b = MicrosoftAzureBuilder::from_env().with_url(url.as_str());
            let mut b = apply(
                url,
                b,
                opts,
                |b, k: AzureConfigKey, v| b.with_config(k, v),
                "Azure",
            )?;
            if plain_http_endpoint(opts, &["AZURE_STORAGE_ENDPOINT"]) {
                b = b.with_client_options(
                    ClientOptions::new().with_config(ClientConfigKey::AllowHttp, "true"),
                );
            }
            b.with_retry(retry).build().map(|s| Arc::new(s) as _)
        }
        other => {
            return Err(usage_error(
                url,
                format!("unknown output scheme `{other}` in `{}`", redact(url)),
                "use a directory path, `file://`, `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`",
            ));
        }
    };
    built.map_err(|e| {
        usage_error(
            url,
            format!("cannot configure the store for `{}`: {}", redact(url), scrub(&e.to_string())),
            "check the URL and the --storage-option pairs (credentials come from the usual environment variables, e.g. AWS_ACCESS_KEY_ID, or from --storage-option)",
        )
    })
}

impl RemoteStore {
    /// A store for `url` (`s3://bucket/prefix`, `gs://...`, `az://...`):
    /// credentials and endpoints from the environment (`AWS_*`,
    /// `GOOGLE_*`, `AZURE_*`) and `options`. Must be called inside a Tokio
    /// runtime (the store drives its requests on it). Nothing is contacted
    /// until [`Store::prepare`].
    pub fn open(url: &reqwest::Url, options: &StorageOptions) -> Result<RemoteStore, LoadError> {
        let handle = Handle::try_current().map_err(|_| {
            usage_error(
                url,
                "object storage needs the async runtime (internal)".into(),
                "this is a bug; please report it",
            )
        })?;
        let retry = retry_config(url, options)?;
        let inner = build(url, options, retry.clone())?;
        // Azure URLs name the container in the host (`az://container/...`)
        // or the user part (`abfss://container@account...`); the builder
        // took it, and the prefix is the path.
        let prefix = url.path().trim_matches('/');
        let prefix = percent_encoding::percent_decode_str(prefix)
            .decode_utf8_lossy()
            .into_owned();
        Ok(RemoteStore {
            inner,
            prefix,
            url: url.clone(),
            handle,
            retry,
        })
    }

    /// A store over an existing `object_store` (tests, and the Delta
    /// destination's sub-tables).
    pub fn with_store(
        inner: Arc<dyn ObjectStore>,
        url: reqwest::Url,
        prefix: &str,
        handle: Handle,
    ) -> RemoteStore {
        RemoteStore {
            inner,
            prefix: prefix.trim_matches('/').to_owned(),
            url,
            handle,
            retry: RetryConfig::default(),
        }
    }

    /// The bucket-level store (its paths start at the bucket's root).
    pub fn object_store(&self) -> Arc<dyn ObjectStore> {
        self.inner.clone()
    }

    /// The location's URL (with credentials: never print it; see
    /// [`Store::describe`]).
    pub fn url(&self) -> &reqwest::Url {
        &self.url
    }

    /// The prefix inside the bucket.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The runtime the store's requests run on.
    pub fn handle(&self) -> &Handle {
        &self.handle
    }

    fn key(&self, rel: &str) -> ObjPath {
        let rel = rel.trim_matches('/');
        let full = match (self.prefix.is_empty(), rel.is_empty()) {
            (true, _) => rel.to_owned(),
            (false, true) => self.prefix.clone(),
            (false, false) => format!("{}/{rel}", self.prefix),
        };
        ObjPath::from(full)
    }

    /// Drives `f` to completion from a blocking context.
    pub(crate) fn block<F: Future>(&self, f: F) -> F::Output {
        block_on(&self.handle, f)
    }

    /// A failed listing of the prefix: a missing bucket gets its own
    /// message.
    fn list_error(&self, e: object_store::Error) -> LoadError {
        match e {
            object_store::Error::NotFound { source, .. } => LoadError::Store {
                path: PathBuf::from(redact(&self.url)),
                message: format!(
                    "the bucket of `{}` does not exist or cannot be listed: {}",
                    redact(&self.url),
                    scrub(&source.to_string())
                ),
                hint: "create the bucket (or container) first, or fix the name in --output".into(),
                usage: false,
            },
            e => self.err("list", "", e),
        }
    }

    /// `op` with retries (see [`with_retries`]).
    fn retrying<T, F, Fut>(&self, what: &str, op: F) -> object_store::Result<T>
    where
        F: FnMut() -> Fut,
        Fut: Future<Output = object_store::Result<T>>,
    {
        with_retries(&self.handle, &self.retry, what, op)
    }

    fn err(&self, action: &str, rel: &str, e: object_store::Error) -> LoadError {
        store_error(&self.url, &self.describe_path(rel), action, e)
    }
}

/// True for a failure worth retrying: the request did not get an answer
/// (connection refused or reset, a timeout) or the server failed (5xx).
fn transient(e: &object_store::Error) -> bool {
    let object_store::Error::Generic { .. } = e else {
        return false;
    };
    let m = e.to_string().to_ascii_lowercase();
    [
        "error sending request",
        "connection",
        "timed out",
        "timeout",
        "broken pipe",
        "reset by peer",
        "server error",
        "500 internal",
        "502 bad gateway",
        "503 service",
        "504 gateway",
    ]
    .iter()
    .any(|k| m.contains(k))
}

/// Runs `op` until it succeeds, fails for good, or the retry budget
/// (`retry.max_retries` attempts after the first, within
/// `retry.retry_timeout`) is spent; exponential backoff from 100 ms to 5 s.
pub(crate) fn with_retries<T, F, Fut>(
    handle: &Handle,
    retry: &RetryConfig,
    what: &str,
    mut op: F,
) -> object_store::Result<T>
where
    F: FnMut() -> Fut,
    Fut: Future<Output = object_store::Result<T>>,
{
    let t0 = std::time::Instant::now();
    let mut delay = Duration::from_millis(100);
    let mut attempt = 0usize;
    loop {
        match block_on(handle, op()) {
            Err(e)
                if transient(&e)
                    && attempt < retry.max_retries
                    && t0.elapsed() + delay < retry.retry_timeout =>
            {
                attempt += 1;
                tracing::warn!(attempt, error = %scrub(&e.to_string()), "object store: {what} failed; retrying");
                std::thread::sleep(delay);
                delay = (delay * 2).min(Duration::from_secs(5));
            }
            r => return r,
        }
    }
}

/// Drives `f` on `handle` from a blocking context (`block_in_place` makes
/// a call from a multi-thread runtime's worker safe too).
pub(crate) fn block_on<F: Future>(handle: &Handle, f: F) -> F::Output {
    tokio::task::block_in_place(|| handle.block_on(f))
}

/// Classifies a store error: refused credentials and a missing bucket get
/// their own message and hint; everything else is a failed store (exit 1,
/// resumable).
pub(crate) fn store_error(
    url: &reqwest::Url,
    what: &str,
    action: &str,
    e: object_store::Error,
) -> LoadError {
    use object_store::Error as E;
    let full = e.to_string();
    let detail = scrub(&full);
    let (message, hint) = match &e {
        E::PermissionDenied { .. } | E::Unauthenticated { .. } => refused(action, what, &detail),
        _ if is_refused(&full) => refused(action, what, &detail),
        _ if is_missing_bucket(&full) => (
            format!("the bucket of `{}` does not exist ({action} failed: {detail})", redact(url)),
            "create the bucket (or container) first, or fix the name in --output".to_owned(),
        ),
        _ => (
            format!("cannot {action} `{what}`: {detail}"),
            "check that the store is reachable (endpoint, network), then re-run the same command to resume".to_owned(),
        ),
    };
    LoadError::Store {
        path: PathBuf::from(redact(url)),
        message,
        hint,
        usage: false,
    }
}

/// The message and hint of refused credentials.
fn refused(action: &str, what: &str, detail: &str) -> (String, String) {
    (
        format!("the store refused the credentials to {action} `{what}`: {detail}"),
        "check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, GOOGLE_APPLICATION_CREDENTIALS, AZURE_STORAGE_ACCOUNT_KEY, or --storage-option) and that they may read and write this prefix".to_owned(),
    )
}

fn is_refused(full: &str) -> bool {
    [
        "InvalidAccessKeyId",
        "SignatureDoesNotMatch",
        "AccessDenied",
        "AuthorizationFailure",
        "AuthenticationFailed",
        "403 Forbidden",
        "401 Unauthorized",
    ]
    .iter()
    .any(|k| full.contains(k))
}

fn is_missing_bucket(detail: &str) -> bool {
    detail.contains("NoSuchBucket")
        || detail.contains("ContainerNotFound")
        || detail.contains("The specified bucket does not exist")
}

impl Store for RemoteStore {
    fn describe(&self) -> String {
        redact(&self.url).trim_end_matches('/').to_owned()
    }

    /// Checks that the bucket exists and the credentials are accepted (one
    /// listing of the prefix), before any record is fetched. No lock: the
    /// conditional checkpoint guards ownership.
    fn prepare(&mut self, _lock: &str) -> Result<bool, LoadError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjPath::from(self.prefix.as_str()));
        let store = self.inner.clone();
        let result = self.retrying("list", || {
            let (store, prefix) = (store.clone(), prefix.clone());
            async move { store.list_with_delimiter(prefix.as_ref()).await }
        });
        match result {
            Ok(_) => Ok(false),
            Err(e) => Err(self.list_error(e)),
        }
    }

    fn list(&self) -> Result<Vec<Listed>, LoadError> {
        let prefix = (!self.prefix.is_empty()).then(|| ObjPath::from(self.prefix.as_str()));
        let store = self.inner.clone();
        let strip = if self.prefix.is_empty() {
            String::new()
        } else {
            format!("{}/", self.prefix)
        };
        let metas = self.retrying("list", || {
            let (store, prefix) = (store.clone(), prefix.clone());
            async move {
                let mut out = Vec::new();
                let mut s = store.list(prefix.as_ref());
                while let Some(m) = s.next().await {
                    out.push(m?);
                }
                Ok::<_, object_store::Error>(out)
            }
        });
        let metas = metas.map_err(|e| self.list_error(e))?;
        let mut out: Vec<Listed> = metas
            .into_iter()
            .filter_map(|m| {
                let full = m.location.to_string();
                let rel = full.strip_prefix(&strip)?.to_owned();
                Some(Listed {
                    path: rel,
                    size: m.size,
                })
            })
            .collect();
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, LoadError> {
        Ok(self.read_versioned(path)?.map(|(b, _)| b))
    }

    fn read_versioned(&self, path: &str) -> Result<Option<super::store::Versioned>, LoadError> {
        let key = self.key(path);
        let store = self.inner.clone();
        let got = self.retrying("read", || {
            let (store, key) = (store.clone(), key.clone());
            async move {
                let r = store.get(&key).await?;
                let etag = r.meta.e_tag.clone();
                let bytes = r.bytes().await?;
                Ok::<_, object_store::Error>((bytes.to_vec(), etag))
            }
        });
        match got {
            Ok(v) => Ok(Some(v)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("read", path, e)),
        }
    }

    fn read_into(&self, path: &str, out: &mut dyn Write) -> Result<u64, LoadError> {
        let key = self.key(path);
        let store = self.inner.clone();
        let mut stream = self
            .retrying("read", || {
                let (store, key) = (store.clone(), key.clone());
                async move { store.get(&key).await.map(|r| r.into_stream()) }
            })
            .map_err(|e| self.err("read", path, e))?;
        let mut n = 0u64;
        loop {
            match self.block(stream.next()) {
                None => return Ok(n),
                Some(Ok(chunk)) => {
                    out.write_all(&chunk).map_err(|e| {
                        LoadError::io("read", &PathBuf::from(self.describe_path(path)), e)
                    })?;
                    n += chunk.len() as u64;
                }
                Some(Err(e)) => return Err(self.err("read", path, e)),
            }
        }
    }

    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), LoadError> {
        let key = self.key(path);
        let store = self.inner.clone();
        let payload = PutPayload::from(bytes.to_vec());
        self.retrying("write", || {
            let (store, key, payload) = (store.clone(), key.clone(), payload.clone());
            async move { store.put(&key, payload).await }
        })
        .map(|_| ())
        .map_err(|e| self.err("write", path, e))
    }

    fn put_checkpoint(
        &self,
        path: &str,
        bytes: &[u8],
        version: &mut Option<String>,
    ) -> Result<(), LoadError> {
        let key = self.key(path);
        let store = self.inner.clone();
        let mode = match version.clone() {
            None => PutMode::Create,
            Some(e_tag) => PutMode::Update(UpdateVersion {
                e_tag: Some(e_tag),
                version: None,
            }),
        };
        let payload = PutPayload::from(bytes.to_vec());
        let result = self.retrying("write the checkpoint", || {
            let (store, key, payload, mode) =
                (store.clone(), key.clone(), payload.clone(), mode.clone());
            async move { store.put_opts(&key, payload, PutOptions::from(mode)).await }
        });
        let result = match result {
            // A write whose first attempt had in fact landed, its answer
            // lost and the request retried (by us or by the store client,
            // which retries connection errors on its own): the checkpoint
            // holds exactly our bytes.
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => match self.read_versioned(path)? {
                Some((b, Some(tag))) if b == bytes => Ok(object_store::PutResult {
                    e_tag: Some(tag),
                    version: None,
                }),
                _ => result,
            },
            r => r,
        };
        match result {
            Ok(r) => match r.e_tag {
                Some(tag) => {
                    *version = Some(tag);
                    Ok(())
                }
                None => Err(LoadError::Store {
                    path: PathBuf::from(self.describe_path(path)),
                    message: format!(
                        "the store gave no ETag for `{}`, so the checkpoint cannot be replaced conditionally",
                        self.describe_path(path)
                    ),
                    hint: "use a store with conditional writes (S3, GCS, Azure; see the README)"
                        .into(),
                    usage: false,
                }),
            },
            Err(
                object_store::Error::AlreadyExists { .. }
                | object_store::Error::Precondition { .. },
            ) => Err(LoadError::ClaimLost {
                path: PathBuf::from(self.describe_path(path)),
            }),
            Err(e) => Err(self.err("write", path, e)),
        }
    }

    fn version(&self, path: &str) -> Result<Option<String>, LoadError> {
        let key = self.key(path);
        let store = self.inner.clone();
        let head = self.retrying("inspect", || {
            let (store, key) = (store.clone(), key.clone());
            async move { store.head(&key).await }
        });
        match head {
            Ok(m) => Ok(m.e_tag),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(self.err("inspect", path, e)),
        }
    }

    fn delete(&self, path: &str) -> Result<bool, LoadError> {
        let key = self.key(path);
        let store = self.inner.clone();
        let result = self.retrying("delete", || {
            let (store, key) = (store.clone(), key.clone());
            async move {
                match store.head(&key).await {
                    Ok(_) => store.delete(&key).await.map(|()| true),
                    Err(object_store::Error::NotFound { .. }) => Ok(false),
                    Err(e) => Err(e),
                }
            }
        });
        result.map_err(|e| self.err("delete", path, e))
    }

    fn create_part(&self, path: &str) -> Result<Box<dyn PartSink>, LoadError> {
        let key = self.key(path);
        let store = self.inner.clone();
        let head = self.retrying("inspect", || {
            let (store, key) = (store.clone(), key.clone());
            async move { store.head(&key).await }
        });
        match head {
            Ok(_) => {
                return Err(LoadError::PartExists {
                    path: PathBuf::from(self.describe_path(path)),
                });
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(self.err("inspect", path, e)),
        }
        Ok(Box::new(RemotePart {
            store: self.inner.clone(),
            handle: self.handle.clone(),
            key,
            url: self.url.clone(),
            describe: self.describe_path(path),
            buf: Vec::new(),
            upload: None,
            in_flight: None,
            retry: self.retry.clone(),
            sent: 0,
        }))
    }

    fn sync(&self) -> Result<(), LoadError> {
        Ok(())
    }
}

/// A part being uploaded.
struct RemotePart {
    store: Arc<dyn ObjectStore>,
    handle: Handle,
    key: ObjPath,
    url: reqwest::Url,
    describe: String,
    /// The chunk being filled.
    buf: Vec<u8>,
    /// The multipart upload, started once the first chunk is full.
    upload: Option<Box<dyn object_store::MultipartUpload>>,
    /// The chunk being sent.
    in_flight: Option<JoinHandle<object_store::Result<()>>>,
    retry: RetryConfig,
    /// Bytes handed to the upload so far.
    sent: u64,
}

impl RemotePart {
    fn wait_in_flight(&mut self) -> object_store::Result<()> {
        match self.in_flight.take() {
            None => Ok(()),
            Some(task) => match block_on(&self.handle, task) {
                Ok(r) => r,
                Err(e) => Err(object_store::Error::JoinError { source: e }),
            },
        }
    }

    /// Sends the full chunk (after the previous one arrived).
    fn send_chunk(&mut self) -> object_store::Result<()> {
        self.wait_in_flight()?;
        if self.upload.is_none() {
            let (store, key) = (self.store.clone(), self.key.clone());
            let upload = with_retries(&self.handle, &self.retry, "start an upload", || {
                let (store, key) = (store.clone(), key.clone());
                async move { store.put_multipart(&key).await }
            });
            self.upload = Some(upload?);
        }
        let chunk = std::mem::replace(&mut self.buf, Vec::with_capacity(CHUNK));
        self.sent += chunk.len() as u64;
        if let Some(upload) = self.upload.as_mut() {
            let fut = upload.put_part(PutPayload::from(chunk));
            self.in_flight = Some(self.handle.spawn(fut));
        }
        Ok(())
    }

    fn finish(&mut self) -> object_store::Result<()> {
        if self.upload.is_none() {
            // One chunk or less: a single PUT, refused if the name exists.
            let (store, key) = (self.store.clone(), self.key.clone());
            let bytes = bytes::Bytes::from(std::mem::take(&mut self.buf));
            let payload = PutPayload::from(bytes.clone());
            let result = with_retries(&self.handle, &self.retry, "upload a part", || {
                let (store, key, payload) = (store.clone(), key.clone(), payload.clone());
                let opts = PutOptions::from(PutMode::Create);
                async move { store.put_opts(&key, payload, opts).await.map(|_| ()) }
            });
            return match result {
                // The first attempt had landed and its answer was lost (the
                // request retried by us or by the store client): the part
                // is there, byte for byte ours.
                Err(e @ object_store::Error::AlreadyExists { .. }) => {
                    if self.holds(&bytes) {
                        Ok(())
                    } else {
                        Err(e)
                    }
                }
                r => r,
            };
        }
        if !self.buf.is_empty() {
            self.send_chunk()?;
        }
        self.wait_in_flight()?;
        let mut upload = self.upload.take();
        let result = match upload.as_mut() {
            Some(u) => match block_on(&self.handle, u.complete()) {
                Ok(_) => Ok(()),
                // The answer was lost but the upload completed.
                Err(e) if transient(&e) && self.landed(self.sent) => Ok(()),
                Err(e) => Err(e),
            },
            None => Ok(()),
        };
        if result.is_err()
            && let Some(mut u) = upload
        {
            let _ = block_on(&self.handle, u.abort());
        }
        result
    }

    /// True when the part is in the store and holds exactly `bytes`.
    fn holds(&self, bytes: &[u8]) -> bool {
        let (store, key) = (self.store.clone(), self.key.clone());
        let got = with_retries(&self.handle, &self.retry, "read back a part", || {
            let (store, key) = (store.clone(), key.clone());
            async move { store.get(&key).await?.bytes().await }
        });
        got.is_ok_and(|b| b.as_ref() == bytes)
    }

    /// True when the part is in the store with `len` bytes.
    fn landed(&self, len: u64) -> bool {
        let (store, key) = (self.store.clone(), self.key.clone());
        let head = with_retries(&self.handle, &self.retry, "inspect a part", || {
            let (store, key) = (store.clone(), key.clone());
            async move { store.head(&key).await }
        });
        head.is_ok_and(|m| m.size == len)
    }

    fn abandon(&mut self) {
        if let Some(task) = self.in_flight.take() {
            task.abort();
        }
        self.buf = Vec::new();
        if let Some(mut upload) = self.upload.take() {
            // Never block here (a drop may happen anywhere): the abort is
            // sent in the background; if the process dies first, the
            // incomplete upload stays invisible until a lifecycle rule
            // removes it.
            self.handle.spawn(async move {
                let _ = upload.abort().await;
            });
        }
    }
}

impl Write for RemotePart {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        let room = CHUNK - self.buf.len();
        let n = data.len().min(room);
        self.buf.extend_from_slice(&data[..n]);
        if self.buf.len() >= CHUNK {
            self.send_chunk()
                .map_err(|e| io::Error::other(scrub(&e.to_string())))?;
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PartSink for RemotePart {
    fn commit(mut self: Box<Self>) -> Result<(), LoadError> {
        match self.finish() {
            Ok(()) => Ok(()),
            Err(object_store::Error::AlreadyExists { .. }) => Err(LoadError::PartExists {
                path: PathBuf::from(&self.describe),
            }),
            Err(e) => {
                self.abandon();
                Err(store_error(&self.url, &self.describe, "upload", e))
            }
        }
    }

    fn abort(mut self: Box<Self>) {
        self.abandon();
    }

    fn describe(&self) -> String {
        self.describe.clone()
    }

    fn error(&self, action: &'static str, e: io::Error) -> LoadError {
        LoadError::Store {
            path: PathBuf::from(redact(&self.url)),
            message: format!("cannot {action} `{}`: {e}", self.describe),
            hint: "check that the store is reachable (endpoint, network), then re-run the same command to resume".into(),
            usage: false,
        }
    }
}

impl Drop for RemotePart {
    fn drop(&mut self) {
        self.abandon();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scrub_removes_query_strings_and_bounds_length() {
        let m = scrub("PUT https://acct.blob.core.windows.net/c/x?sig=SECRET&se=1 failed");
        assert!(!m.contains("SECRET"), "{m}");
        assert!(
            m.contains("https://acct.blob.core.windows.net/c/x?REDACTED"),
            "{m}"
        );
    }

    #[test]
    fn durations_parse() {
        assert_eq!(parse_seconds("30"), Some(Duration::from_secs(30)));
        assert_eq!(parse_seconds("30s"), Some(Duration::from_secs(30)));
        assert_eq!(parse_seconds("2m"), Some(Duration::from_secs(120)));
        assert_eq!(parse_seconds("250ms"), Some(Duration::from_millis(250)));
        assert_eq!(parse_seconds("x"), None);
    }

    #[test]
    fn unknown_storage_options_are_usage_errors_naming_the_key() {
        let url = reqwest::Url::parse("s3://bucket/prefix").unwrap_or_else(|_| unreachable!());
        let mut opts = StorageOptions::default();
        opts.0.insert("no_such_key".into(), "x".into());
        let e = build(&url, &opts, RetryConfig::default())
            .err()
            .map(|e| e.to_string())
            .unwrap_or_default();
        assert!(e.contains("`no_such_key`"), "{e}");
        assert!(e.contains("hint:"), "{e}");
    }
}
