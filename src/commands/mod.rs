//! Carrying out the commands: build the plan and the client from the
//! command line, run, print a summary, and classify the outcome into an exit
//! code, once, here at the edge.
//!
//! One file per command family: [`run`](mod@run) (run and audit),
//! [`preview`](mod@preview), [`validate`](mod@validate), and the commands
//! that read an output: [`report`](mod@report), [`verify`](mod@verify),
//! [`status`](mod@status).

mod preview;
mod report;
mod run;
mod shards;
mod status;
mod validate;
mod verify;

use crate::cli::{Cli, Command, OutputArgs, SourceArgs};
use crate::engine::{EngineError, MaxFailed, RunConfig, Shutdown, Source};
use crate::extract::{self, ClientConfig, RetryPolicy};
use crate::pipeline::{Overrides, Plan};
use crate::record::RecordId;
use crate::sandbox::{self, SandboxConfig, SandboxHandle};
use crate::secret::Secret;
use std::fmt;
use std::process::ExitCode;
use std::time::Duration;

/// The demo secret of the SMART HOWTO, used only with the embedded sandbox.
const SANDBOX_SECRET: &str = "smartapp-secret";

/// Exit codes, the contract with schedulers.
pub mod exit {
    /// Every record exported.
    pub const OK: u8 = 0;
    /// Aborted; the checkpoint is intact.
    pub const ABORTED: u8 = 1;
    /// Bad usage or pipeline, found before any network call.
    pub const USAGE: u8 = 2;
    /// Finished, some records failed.
    pub const PARTIAL: u8 = 3;
    /// Interrupted by a signal; resumable.
    pub const INTERRUPTED: u8 = 130;
}

/// A command's failure, already classified.
#[derive(Debug)]
pub enum CliError {
    /// Exit 2: bad usage or pipeline (nothing was contacted).
    Usage(String),
    /// Exit 1: the run could not go on.
    Aborted(String),
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CliError::Usage(m) | CliError::Aborted(m) => f.write_str(m),
        }
    }
}

impl CliError {
    fn code(&self) -> u8 {
        match self {
            CliError::Usage(_) => exit::USAGE,
            CliError::Aborted(_) => exit::ABORTED,
        }
    }
}

fn usage(message: impl fmt::Display, hint: impl fmt::Display) -> CliError {
    CliError::Usage(format!("error: {message}\n  hint: {hint}"))
}

fn aborted(e: impl fmt::Display) -> CliError {
    let text = e.to_string().replace("\nhint:", "\n  hint:");
    if text.starts_with("error:") || text.starts_with("aborted:") {
        CliError::Aborted(text)
    } else {
        CliError::Aborted(format!("error: {text}"))
    }
}

/// Run a parsed command line to its exit code.
pub async fn execute(cli: Cli) -> ExitCode {
    let quiet = cli.global.quiet;
    let result = match cli.command {
        Command::Run(a) => run::run(a, quiet).await,
        Command::Validate(a) => validate::validate(a),
        Command::Preview(a) => preview::preview(a).await,
        Command::Audit(a) => run::audit(a, quiet).await,
        Command::Plan(a) => shards::plan(a),
        Command::Commit(a) => shards::commit(a),
        Command::Sandbox(a) => sandbox::run_cli(a)
            .await
            .map(|_| exit::OK)
            .map_err(|e| aborted(format!("{e:#}"))),
        Command::Report(a) => report::report(a),
        Command::Verify(a) => verify::verify(a),
        Command::Status(a) => status::status(a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.code())
        }
    }
}

fn overrides(src: &SourceArgs, out: Option<&OutputArgs>, page_size: Option<u32>) -> Overrides {
    Overrides {
        api_base: src.api_base.clone(),
        app_id: src.app_id.clone(),
        consumer_key: src.consumer_key.clone(),
        output: out.and_then(|o| o.output.clone()),
        format: out.and_then(|o| o.format.map(Into::into)),
        compression: out.and_then(|o| o.compression.map(Into::into)),
        page_size,
    }
}

/// The container a command talks to: a configured one, or the embedded
/// sandbox started in-process for the duration of the command.
struct Container {
    api_base: String,
    secret: Secret,
    sandbox: Option<SandboxHandle>,
}

impl Container {
    async fn stop(self) {
        if let Some(s) = self.sandbox {
            s.shutdown().await;
        }
    }
}

async fn container(plan: &Plan, src: &SourceArgs) -> Result<Container, CliError> {
    match &plan.api_base {
        Some(base) => {
            let secret = extract::load_consumer_secret(src.consumer_secret_file.as_deref())
                .map_err(|e| CliError::Usage(aborted(e).to_string()))?;
            Ok(Container {
                api_base: base.clone(),
                secret,
                sandbox: None,
            })
        }
        None => start_sandbox(plan, src).await,
    }
}

async fn start_sandbox(plan: &Plan, src: &SourceArgs) -> Result<Container, CliError> {
    let secret = match src.consumer_secret_file.as_deref() {
        Some(f) => extract::load_consumer_secret(Some(f))
            .map_err(|e| CliError::Usage(aborted(e).to_string()))?,
        None => std::env::var(extract::SECRET_ENV)
            .map(Secret::new)
            .unwrap_or_else(|_| Secret::new(SANDBOX_SECRET)),
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .map_err(|e| aborted(format!("cannot start the embedded sandbox: {e}")))?;
    let config = SandboxConfig {
        records: src.sandbox_records,
        app_id: plan.app_id.clone(),
        consumer_key: plan.consumer_key.clone(),
        consumer_secret: secret.clone(),
        ..SandboxConfig::default()
    };
    let handle = sandbox::start(config, listener)
        .await
        .map_err(|e| aborted(format!("cannot start the embedded sandbox: {e}")))?;
    let api_base = handle.api_base().to_string();
    eprintln!(
        "smartsweep: no container configured: using the embedded sandbox at {api_base} ({} synthetic records); point it at a real container with --api-base URL --app-id ID (secret in {})",
        src.sandbox_records,
        extract::SECRET_ENV
    );
    Ok(Container {
        api_base,
        secret,
        sandbox: Some(handle),
    })
}

fn client_config(plan: &Plan, src: &SourceArgs, c: &Container) -> ClientConfig {
    ClientConfig {
        api_base: c.api_base.clone(),
        app_id: plan.app_id.clone(),
        consumer_key: plan.consumer_key.clone(),
        consumer_secret: c.secret.clone(),
        ca_file: src.ca_file.clone(),
        connect_timeout: Duration::from_secs(
            src.timeout_s.clamp(1, extract::defaults::CONNECT_TIMEOUT_S),
        ),
        request_timeout: Duration::from_secs(src.timeout_s.max(1)),
        max_body_bytes: src.max_body_mib.max(1) * 1024 * 1024,
        max_record_bytes: src.max_record_mib.max(1) * 1024 * 1024,
        manifest_timeout: extract::defaults::MANIFEST_TIMEOUT,
        retry: RetryPolicy {
            max_attempts: src.max_attempts.max(1),
            base_delay: Duration::from_millis(src.retry_base_ms),
            ..RetryPolicy::default()
        },
    }
}

fn record_source(src: &SourceArgs) -> Result<Source, CliError> {
    match &src.records_from {
        None => Ok(Source::Cursor),
        Some(p) => extract::read_record_ids(p)
            .map(|ids| Source::Known(ids.into_iter().map(RecordId::from).collect()))
            .map_err(|e| {
                usage(
                    e,
                    "give a file with one record id per line (`-` reads stdin)",
                )
            }),
    }
}

fn check_concurrency(src: &SourceArgs) -> Result<(), CliError> {
    if src.concurrency == 0 || src.concurrency > 1024 {
        return Err(usage(
            format!("--concurrency `{}` is out of range", src.concurrency),
            "use 1 to 1024 (default 16)",
        ));
    }
    Ok(())
}

fn max_failed(out: &OutputArgs) -> Result<Option<MaxFailed>, CliError> {
    out.max_failed
        .as_deref()
        .map(|s| s.parse::<MaxFailed>())
        .transpose()
        .map_err(|e| {
            usage(
                format!("--max-failed {e}"),
                "give a count such as `10`, or a fraction such as `0.05` or `5%`",
            )
        })
}

/// A run configuration from the command line.
fn run_config(
    plan: Plan,
    src: &SourceArgs,
    out: &OutputArgs,
    source: Source,
    c: &Container,
) -> Result<RunConfig, CliError> {
    let client = client_config(&plan, src, c);
    let mut cfg = RunConfig::new(plan, client, source);
    cfg.concurrency = src.concurrency;
    cfg.window = (src.concurrency * 4).max(16);
    cfg.part_records = out.part_records.max(1);
    cfg.part_interval = Duration::from_secs(out.part_seconds.max(1));
    cfg.max_failed = max_failed(out)?;
    cfg.breaker = out.breaker;
    cfg.fresh = out.fresh;
    Ok(cfg)
}

/// A load error, classified: problems with the command line or the output
/// found before anything was written are usage errors (exit 2).
fn load_error(e: crate::load::LoadError) -> CliError {
    if e.is_refusal() {
        CliError::Usage(aborted(e).to_string())
    } else {
        aborted(e)
    }
}

/// An engine error, classified: refusals found before any record was
/// fetched are usage errors (exit 2), the rest abort (exit 1).
fn engine_error(e: EngineError) -> CliError {
    match e {
        EngineError::Load(e) if e.is_refusal() => CliError::Usage(aborted(e).to_string()),
        EngineError::Usage { .. } => CliError::Usage(aborted(e).to_string()),
        e => aborted(e),
    }
}

/// SIGINT and SIGTERM turn into a [`Shutdown`].
fn signals() -> Shutdown {
    let (tx, shutdown) = Shutdown::new();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let mut term = match signal(SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => {
                    let _ = tokio::signal::ctrl_c().await;
                    let _ = tx.send(true);
                    return;
                }
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        {
            let _ = tokio::signal::ctrl_c().await;
        }
        let _ = tx.send(true);
        // A second signal means "now": exit at once. The commit protocol
        // makes this as safe as a kill -9 (the checkpoint is always whole).
        let _ = tokio::signal::ctrl_c().await;
        eprintln!("smartsweep: second interrupt: exiting now; re-run the same command to resume");
        std::process::exit(i32::from(exit::INTERRUPTED));
    });
    shutdown
}
