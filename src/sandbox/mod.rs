//! The embedded SMART Classic container (`smartsweep sandbox`): the demo's
//! data source, the tests' real HTTP peer and the benchmarks' load target.
//!
//! It owns the container behaviour of `smart-classic-api.md`: the manifest,
//! the three background-app cursor endpoints (byte-wise id order, 404 at the
//! end, 500 for an unknown id or app), the data calls of
//! `smart-classic-models.md` (every resource of [`served_resources`]: lists
//! under `GET /records/{id}/{resource}/` with their filters and paging, the
//! single `GET /records/{id}/demographics`) in the reference's RDF/XML
//! styles, and an independent OAuth 1.0 verifier with the reference's
//! quirks ([`oauth`](self) module: header-only parameters, decoded path,
//! verbatim Host, unsigned POST query, 300 s window, global nonce store, 401
//! vs 403).
//!
//! Records come from a seeded synthetic population generated on demand
//! (one synthetic person per record, every resource derived from (seed,
//! record id)), or from a directory of `*.rdf` files. The population can
//! change between runs (`drop_ids`, `extra_records`) and while the sandbox
//! runs ([`SandboxHandle::drop_record`], [`SandboxHandle::add_record`]).
//! Faults (latency, 5xx, 429, resets, truncated and malformed bodies) are
//! reproducible from the seed; the clock can be shifted (`clock_offset_s`).
//!
//! Start it in-process with [`start`] on a bound listener, or from the CLI
//! with [`run_cli`]. A new resource is one module under `resources/` plus
//! one line in its registry.

mod args;
mod faults;
mod oauth;
mod person;
mod population;
mod query;
mod rdf;
mod resources;
mod server;
mod vocab;

use std::collections::HashSet;
use std::io::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::serve::ListenerExt as _;
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

pub use args::{CONSUMER_SECRET_ENV, DEFAULT_CONSUMER_SECRET, SandboxArgs};

use crate::secret::Secret;
use faults::Faults;
use population::{MAX_RECORDS, Population};
use server::{Sandbox, SandboxParts};

/// The default app id, which is also the default consumer key.
pub const DEFAULT_APP_ID: &str = "smart-background-app@apps.smartplatforms.org";

/// What the sandbox serves and how it misbehaves. `Debug` redacts the secret.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Size of the synthetic population (ignored with `from_dir`).
    pub records: u64,
    /// More synthetic records, drawn from another stream so that their ids
    /// interleave with the others (ignored with `from_dir`): with
    /// `drop_ids`, a population that changed between runs.
    pub extra_records: u64,
    /// A file of record ids (one per line, `#` comments) that are absent.
    pub drop_ids: Option<PathBuf>,
    /// Seeds the population and every fault.
    pub seed: u64,
    /// Serve files instead: `DIR/<resource>/<record_id>.rdf` for any
    /// resource, `DIR/<record_id>.rdf` as medications; verbatim, filters
    /// and paging ignored; a record without a file answers the empty graph.
    pub from_dir: Option<PathBuf>,
    /// Added to every request (except the manifest).
    pub latency: Duration,
    /// Added to cursor requests.
    pub cursor_latency: Duration,
    /// Added to data requests (every resource).
    pub data_latency: Duration,
    /// Share of requests answered 500, 502 or 503.
    pub fail_rate: f64,
    /// Share of requests answered 429 with `Retry-After`.
    pub throttle_rate: f64,
    /// The `Retry-After` value, in seconds.
    pub retry_after_s: u64,
    /// Share of requests whose connection is dropped without an answer.
    pub reset_rate: f64,
    /// Share of requests whose body is cut short (`Content-Length` promises more).
    pub truncate_rate: f64,
    /// Share of records whose medications answer is never valid RDF/XML.
    pub malformed_rate: f64,
    /// The background app's id (as it appears in the cursor URLs).
    pub app_id: String,
    /// The OAuth consumer key (the reference uses the app id).
    pub consumer_key: String,
    /// The OAuth consumer secret.
    pub consumer_secret: Secret,
    /// Seconds added to the sandbox's clock (negative: behind), for the
    /// OAuth timestamp window and the `Date` header it sends.
    pub clock_offset_s: i64,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            records: 1000,
            extra_records: 0,
            drop_ids: None,
            seed: 0,
            from_dir: None,
            latency: Duration::ZERO,
            cursor_latency: Duration::ZERO,
            data_latency: Duration::ZERO,
            fail_rate: 0.0,
            throttle_rate: 0.0,
            retry_after_s: 1,
            reset_rate: 0.0,
            truncate_rate: 0.0,
            malformed_rate: 0.0,
            app_id: DEFAULT_APP_ID.to_owned(),
            consumer_key: DEFAULT_APP_ID.to_owned(),
            consumer_secret: Secret::new(DEFAULT_CONSUMER_SECRET),
            clock_offset_s: 0,
        }
    }
}

/// A configuration the sandbox refuses.
#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    /// A rate outside `0..=1`.
    #[error("`--{flag}` is `{value}`\nhint: rates are fractions between 0 and 1, e.g. `0.05`")]
    Rate {
        /// The flag name.
        flag: &'static str,
        /// The value given.
        value: f64,
    },
    /// The transient fault rates add up to more than 1.
    #[error(
        "the transient fault rates add up to `{sum}`\nhint: `--fail-rate`, `--throttle-rate`, `--reset-rate` and `--truncate-rate` together must not exceed 1"
    )]
    RateSum {
        /// Their sum.
        sum: f64,
    },
    /// Too many synthetic records.
    #[error(
        "`--records {records}` is too many\nhint: the synthetic population holds at most {max} records"
    )]
    TooManyRecords {
        /// The number asked for.
        records: u64,
        /// The maximum.
        max: u64,
    },
    /// An app id that cannot appear in a URL path segment.
    #[error("app id `{0}` is empty or contains `/`\nhint: use an id like `{DEFAULT_APP_ID}`")]
    AppId(String),
    /// An empty consumer key.
    #[error("the consumer key is empty\nhint: leave `--consumer-key` out to use the app id")]
    ConsumerKey,
    /// The record directory cannot be read.
    #[error(
        "cannot read the record directory `{path}`: {source}\nhint: `--from-dir` takes a directory of `<record_id>.rdf` files and `<resource>/<record_id>.rdf` subdirectories"
    )]
    FromDir {
        /// The directory.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The `--drop-ids` file cannot be read.
    #[error(
        "cannot read the record id list `{path}`: {source}\nhint: `--drop-ids` takes a text file with one record id per line"
    )]
    DropIds {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
}

impl SandboxConfig {
    /// Check every knob; the first problem found is returned.
    pub fn validate(&self) -> Result<(), SandboxError> {
        for (flag, value) in [
            ("fail-rate", self.fail_rate),
            ("throttle-rate", self.throttle_rate),
            ("reset-rate", self.reset_rate),
            ("truncate-rate", self.truncate_rate),
            ("malformed-rate", self.malformed_rate),
        ] {
            if !(0.0..=1.0).contains(&value) {
                return Err(SandboxError::Rate { flag, value });
            }
        }
        let sum = self.fail_rate + self.throttle_rate + self.reset_rate + self.truncate_rate;
        if sum > 1.0 + 1e-9 {
            return Err(SandboxError::RateSum { sum });
        }
        let records = self.records.saturating_add(self.extra_records);
        if self.from_dir.is_none() && records > MAX_RECORDS {
            return Err(SandboxError::TooManyRecords {
                records,
                max: MAX_RECORDS,
            });
        }
        if self.app_id.is_empty() || self.app_id.contains('/') {
            return Err(SandboxError::AppId(self.app_id.clone()));
        }
        if self.consumer_key.is_empty() {
            return Err(SandboxError::ConsumerKey);
        }
        Ok(())
    }

    fn faults(&self) -> Faults {
        let mut f = Faults::new(self.seed);
        f.fail_rate = self.fail_rate;
        f.throttle_rate = self.throttle_rate;
        f.reset_rate = self.reset_rate;
        f.truncate_rate = self.truncate_rate;
        f.retry_after_s = self.retry_after_s;
        f.malformed_rate = self.malformed_rate;
        f.latency = self.latency;
        f.cursor_latency = self.cursor_latency;
        f.data_latency = self.data_latency;
        f
    }

    /// The ids listed in `drop_ids` (none without the file).
    fn dropped_ids(&self) -> Result<HashSet<String>, SandboxError> {
        match &self.drop_ids {
            None => Ok(HashSet::new()),
            Some(path) => population::read_id_list(path).map_err(|source| SandboxError::DropIds {
                path: path.clone(),
                source,
            }),
        }
    }

    /// The starting population this configuration describes.
    fn population(&self) -> Result<Population, SandboxError> {
        let drop = self.dropped_ids()?;
        match &self.from_dir {
            Some(dir) => Population::from_dir(dir, &drop).map_err(|source| SandboxError::FromDir {
                path: dir.clone(),
                source,
            }),
            None => {
                let records = self.records.min(MAX_RECORDS) as usize;
                let extra = self.extra_records.min(MAX_RECORDS) as usize;
                Ok(Population::generated(self.seed, records, extra, &drop))
            }
        }
    }
}

/// The population's record ids in cursor (byte-wise) order, as a sandbox
/// started with this configuration begins; for `from_dir`, the file stems.
/// A directory or `drop_ids` file that cannot be read gives an empty list,
/// and a warning (starting the sandbox then fails with the error).
pub fn record_ids(config: &SandboxConfig) -> Vec<String> {
    match config.population() {
        Ok(population) => population.all_ids(),
        Err(err) => {
            tracing::warn!(error = %err, "sandbox: cannot list the records");
            Vec::new()
        }
    }
}

/// The data resources the embedded sandbox serves, by path name (lists
/// under `/records/{id}/{name}/`, and `demographics` without the slash).
pub fn served_resources() -> Vec<&'static str> {
    resources::REGISTRY.iter().map(|r| r.name).collect()
}

/// How the embedded sandbox serves one data resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServedResource {
    /// The path name (`/records/{id}/{name}/`).
    pub name: &'static str,
    /// Whether the path ends with `/` (lists); without it the list is a 404,
    /// and a single item (demographics) with it is a 404.
    pub trailing_slash: bool,
    /// The RDF type of its statements (what the summary counts).
    pub statement_type: String,
    /// The query parameter of its code filter (`rxnorm`, `snomed`, `loinc`,
    /// `encounter_type`), if any.
    pub code_filter: Option<&'static str>,
    /// The property (as a `prefix:name`) the six date filters and the
    /// `limit`/`offset` paging work on; `None` for a single item.
    pub sort_property: Option<&'static str>,
}

/// How the sandbox serves `resource`, if it does.
pub fn served_resource(resource: &str) -> Option<ServedResource> {
    resources::find(resource).map(|r| ServedResource {
        name: r.name,
        trailing_slash: r.shape == resources::Shape::List,
        statement_type: format!("{}{}", r.class.ns, r.class.local),
        code_filter: r.code_filter,
        sort_property: r.sort,
    })
}

/// True when the embedded sandbox serves `resource` (a pipeline naming
/// another one would fail every record against it).
pub fn serves(resource: &str) -> bool {
    resources::find(resource).is_some()
}

/// A running sandbox. Dropping it stops the server too (without waiting).
pub struct SandboxHandle {
    api_base: String,
    local_addr: SocketAddr,
    state: Arc<Sandbox>,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl std::fmt::Debug for SandboxHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SandboxHandle")
            .field("api_base", &self.api_base)
            .finish_non_exhaustive()
    }
}

impl SandboxHandle {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn api_base(&self) -> &str {
        &self.api_base
    }

    /// The bound address.
    pub fn local_addr(&self) -> SocketAddr {
        self.local_addr
    }

    /// Remove a record while the sandbox runs: the cursor skips it, `next`
    /// after it is a 500 like any unknown id, data calls for it are 403
    /// (also with a token minted before). False when it is not a record.
    pub fn drop_record(&self, id: &str) -> bool {
        self.state.population.drop_record(id)
    }

    /// Add a record while the sandbox runs (or bring a dropped one back):
    /// the cursor visits it in its byte-wise place, and its data is
    /// generated from (seed, id) like any other record's (with `from_dir`
    /// it has no files, so every answer is the empty graph). False when it
    /// is a record already or the id is empty or contains `/`.
    pub fn add_record(&self, id: &str) -> bool {
        self.state.population.add_record(id)
    }

    /// The record ids now, in cursor order.
    pub fn record_ids(&self) -> Vec<String> {
        self.state.population.all_ids()
    }

    /// Register an access token with chosen values, bound to `record_id`
    /// (for tests of clients that must escape odd token characters). False
    /// when the record does not exist.
    pub fn preissue_token(&self, record_id: &str, token: &str, secret: &str) -> bool {
        self.state.preissue(record_id, token, secret)
    }

    /// Stop accepting, let in-flight requests finish (at most 10 s), stop.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(10), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for SandboxHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}

/// The API base for a bound address: an unspecified address (`0.0.0.0`,
/// `::`) is reached through loopback.
fn api_base_for(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(v4) if v4.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(v6) if v6.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

/// Serve on an already bound listener (tests bind `127.0.0.1:0`).
pub async fn start(config: SandboxConfig, listener: TcpListener) -> std::io::Result<SandboxHandle> {
    config
        .validate()
        .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string()))?;
    let local_addr = listener.local_addr()?;
    let api_base = api_base_for(local_addr);
    let population = {
        let config = config.clone();
        tokio::task::spawn_blocking(move || config.population())
            .await
            .map_err(std::io::Error::other)?
            .map_err(|e| {
                let kind = match &e {
                    SandboxError::FromDir { source, .. } | SandboxError::DropIds { source, .. } => {
                        source.kind()
                    }
                    _ => std::io::ErrorKind::InvalidInput,
                };
                std::io::Error::new(kind, e.to_string())
            })?
    };
    let host_fallback = api_base.trim_start_matches("http://").to_owned();
    let faults = config.faults();
    let state = Arc::new(Sandbox::new(SandboxParts {
        api_base: api_base.clone(),
        host_fallback,
        app_id: config.app_id,
        consumer_key: config.consumer_key,
        consumer_secret: config.consumer_secret,
        population,
        faults,
        clock_offset_s: config.clock_offset_s,
    }));
    // Debug, not info: `smartsweep run` starts the sandbox in-process and
    // says so in its own single line; `smartsweep sandbox` prints its
    // "listening on" line on stdout.
    tracing::debug!(
        api_base = %api_base,
        records = state.population.len(),
        "sandbox: serving"
    );
    let app = Router::new()
        .fallback(server::handle)
        .with_state(state.clone());
    let listener = listener.tap_io(|tcp| {
        let _ = tcp.set_nodelay(true);
    });
    let (stop_tx, stop_rx) = oneshot::channel::<()>();
    let serve = axum::serve(listener, app).with_graceful_shutdown(async move {
        let _ = stop_rx.await;
    });
    let task = tokio::spawn(async move {
        if let Err(err) = serve.await {
            tracing::error!(error = %err, "sandbox: server stopped");
        }
    });
    Ok(SandboxHandle {
        api_base,
        local_addr,
        state,
        stop: Some(stop_tx),
        task: Some(task),
    })
}

/// `smartsweep sandbox`: bind `--listen`, print
/// `smartsweep sandbox: listening on http://HOST:PORT` as the first stdout
/// line, serve until Ctrl-C or SIGTERM.
pub async fn run_cli(args: SandboxArgs) -> anyhow::Result<()> {
    let listen = args.listen.clone();
    let config = args.into_config().map_err(anyhow::Error::msg)?;
    let listener = TcpListener::bind(&listen).await.map_err(|e| {
        anyhow::anyhow!(
            "cannot listen on `{listen}`: {e}\nhint: pick a free port, or `127.0.0.1:0` for any"
        )
    })?;
    let handle = start(config, listener).await?;
    {
        let mut out = std::io::stdout().lock();
        writeln!(
            out,
            "smartsweep sandbox: listening on {}",
            handle.api_base()
        )?;
        out.flush()?;
    }
    wait_for_stop().await?;
    tracing::info!("sandbox: stopping");
    handle.shutdown().await;
    Ok(())
}

async fn wait_for_stop() -> std::io::Result<()> {
    #[cfg(unix)]
    {
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
        tokio::select! {
            r = tokio::signal::ctrl_c() => r,
            _ = term.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        tokio::signal::ctrl_c().await
    }
}
