//! The embedded SMART Classic container (`smartsweep sandbox`): the demo's
//! data source, the tests' real HTTP peer and the benchmarks' load target.
//!
//! It owns the container behaviour of `smart-classic-api.md`: the manifest,
//! the three background-app cursor endpoints (byte-wise id order, 404 at the
//! end, 500 for an unknown id or app), `GET /records/{id}/medications/` in the
//! reference's flat RDF/XML style with filters and paging, and an
//! independent OAuth 1.0 verifier with the reference's quirks
//! ([`oauth`](self) module: header-only parameters, decoded path, verbatim
//! Host, unsigned POST query, 300 s window, global nonce store, 401 vs 403).
//! Records come from a seeded synthetic population generated on demand, or
//! from a directory of `*.rdf` files. Faults (latency, 5xx, 429, resets,
//! truncated and malformed bodies) are reproducible from the seed.
//!
//! Start it in-process with [`start`] on a bound listener, or from the CLI
//! with [`run_cli`].

mod args;
mod faults;
mod oauth;
mod population;
mod rdf;
mod server;

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
use server::Sandbox;

/// The default app id, which is also the default consumer key.
pub const DEFAULT_APP_ID: &str = "smart-background-app@apps.smartplatforms.org";

/// What the sandbox serves and how it misbehaves. `Debug` redacts the secret.
#[derive(Clone, Debug)]
pub struct SandboxConfig {
    /// Size of the synthetic population (ignored with `from_dir`).
    pub records: u64,
    /// Seeds the population and every fault.
    pub seed: u64,
    /// Serve `DIR/<record_id>.rdf` as each record's medications answer.
    pub from_dir: Option<PathBuf>,
    /// Added to every request (except the manifest).
    pub latency: Duration,
    /// Added to cursor requests.
    pub cursor_latency: Duration,
    /// Added to medications requests.
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
}

impl Default for SandboxConfig {
    fn default() -> Self {
        SandboxConfig {
            records: 1000,
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
        "cannot read the record directory `{path}`: {source}\nhint: `--from-dir` takes a directory of `<record_id>.rdf` files"
    )]
    FromDir {
        /// The directory.
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
        if self.from_dir.is_none() && self.records > MAX_RECORDS {
            return Err(SandboxError::TooManyRecords {
                records: self.records,
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
}

/// The population's record ids in cursor (byte-wise) order; for `from_dir`,
/// the file stems (an unreadable directory gives an empty list, and a warning).
pub fn record_ids(config: &SandboxConfig) -> Vec<String> {
    match &config.from_dir {
        Some(dir) => population::dir_ids(dir).unwrap_or_else(|err| {
            tracing::warn!(dir = %dir.display(), error = %err, "sandbox: cannot list the record directory");
            Vec::new()
        }),
        None => {
            let n = config.records.min(MAX_RECORDS) as usize;
            Population::generated(config.seed, n).all_ids()
        }
    }
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
    let population = match &config.from_dir {
        Some(dir) => Population::from_dir(dir).map_err(|source| {
            std::io::Error::new(
                source.kind(),
                SandboxError::FromDir {
                    path: dir.clone(),
                    source,
                }
                .to_string(),
            )
        })?,
        None => {
            let (seed, n) = (config.seed, config.records as usize);
            tokio::task::spawn_blocking(move || Population::generated(seed, n))
                .await
                .map_err(std::io::Error::other)?
        }
    };
    let host_fallback = api_base.trim_start_matches("http://").to_owned();
    let faults = config.faults();
    let state = Arc::new(Sandbox::new(
        api_base.clone(),
        host_fallback,
        config.app_id,
        config.consumer_key,
        config.consumer_secret,
        population,
        faults,
    ));
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

/// True when the embedded sandbox serves `resource` (a pipeline naming
/// another one would fail every record against it).
pub fn serves(resource: &str) -> bool {
    resource == "medications"
}
