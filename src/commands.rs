//! Carrying out the commands: build the plan and the client from the
//! command line, run, print a summary, and classify the outcome into an exit
//! code, once, here at the edge.

use crate::cli::{
    AuditArgs, Cli, Command, OutputArgs, PreviewArgs, RunArgs, SourceArgs, ValidateArgs,
};
use crate::engine::{
    self, EngineError, MaxFailed, Outcome, RunConfig, RunReport, Shutdown, Source,
};
use crate::extract::{self, Client, ClientConfig, RetryPolicy};
use crate::load::LoadError;
use crate::load::{Compression, Format};
use crate::pipeline::{self, DEFAULT_APP_ID, Overrides, Plan};
use crate::progress;
use crate::sandbox::{self, SandboxConfig, SandboxHandle};
use crate::schema::ColumnType;
use crate::secret::Secret;
use crate::transform::Projection;
use futures::StreamExt;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
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
        Command::Run(a) => run(a, quiet).await,
        Command::Validate(a) => validate(a),
        Command::Preview(a) => preview(a).await,
        Command::Audit(a) => audit(a, quiet).await,
        Command::Sandbox(a) => sandbox::run_cli(a)
            .await
            .map(|_| exit::OK)
            .map_err(|e| aborted(format!("{e:#}"))),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("{e}");
            ExitCode::from(e.code())
        }
    }
}

fn validate(a: ValidateArgs) -> Result<u8, CliError> {
    let mut bad = 0usize;
    for p in &a.pipelines {
        match pipeline::load(p, &Overrides::default()) {
            Ok(plan) => println!(
                "ok: {} (pipeline `{}`, {} -> {} {})",
                p.display(),
                plan.name,
                plan.resource,
                plan.format,
                plan.output.display()
            ),
            Err(problems) => {
                bad += 1;
                eprintln!("{problems}");
            }
        }
    }
    if bad > 0 {
        Err(CliError::Usage(format!(
            "{bad} of {} pipeline file(s) have problems (listed above)",
            a.pipelines.len()
        )))
    } else {
        Ok(exit::OK)
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
        None => {
            let secret = match src.consumer_secret_file.as_deref() {
                Some(f) => extract::load_consumer_secret(Some(f))
                    .map_err(|e| CliError::Usage(aborted(e).to_string()))?,
                None => std::env::var("SMARTSWEEP_CONSUMER_SECRET")
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
                "smartsweep: no container configured: using the embedded sandbox at {api_base} ({} synthetic records); point it at a real container with --api-base URL --app-id ID (secret in SMARTSWEEP_CONSUMER_SECRET)",
                src.sandbox_records
            );
            Ok(Container {
                api_base,
                secret,
                sandbox: Some(handle),
            })
        }
    }
}

fn client_config(plan: &Plan, src: &SourceArgs, c: &Container) -> ClientConfig {
    ClientConfig {
        api_base: c.api_base.clone(),
        app_id: plan.app_id.clone(),
        consumer_key: plan.consumer_key.clone(),
        consumer_secret: c.secret.clone(),
        ca_file: src.ca_file.clone(),
        connect_timeout: Duration::from_secs(src.timeout_s.clamp(1, 30)),
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
        Some(p) => extract::read_record_ids(p).map(Source::Known).map_err(|e| {
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

async fn execute_plan(
    plan: Plan,
    src: &SourceArgs,
    out: &OutputArgs,
    quiet: bool,
) -> Result<Option<(RunReport, Container)>, CliError> {
    check_concurrency(src)?;
    let max_failed = out
        .max_failed
        .as_deref()
        .map(|s| s.parse::<MaxFailed>())
        .transpose()
        .map_err(|e| {
            usage(
                format!("--max-failed {e}"),
                "give a count such as `10`, or a fraction such as `0.05` or `5%`",
            )
        })?;
    let source = record_source(src)?;
    let total = match &source {
        Source::Known(ids) => Some(ids.len() as u64),
        Source::Cursor => None,
    };
    let c = container(&plan, src).await?;
    let client = client_config(&plan, src, &c);
    let mut cfg = RunConfig::new(plan, client, source);
    cfg.concurrency = src.concurrency;
    cfg.window = (src.concurrency * 4).max(16);
    cfg.part_records = out.part_records.max(1);
    cfg.part_interval = Duration::from_secs(out.part_seconds.max(1));
    cfg.max_failed = max_failed;
    cfg.fresh = out.fresh;
    let reporter: Arc<dyn progress::Reporter> = Arc::from(progress::for_terminal(quiet, total));
    let output = cfg.plan.output.clone();
    let result = engine::run(cfg, reporter, signals()).await;
    match result {
        Ok(report) => Ok(Some((report, c))),
        Err(e) => {
            c.stop().await;
            match e {
                // A scheduler's retry of a finished export is a no-op success.
                EngineError::Load(LoadError::AlreadyFinished { .. }) => {
                    println!(
                        "smartsweep: `{}` is already finished (`_SUCCESS` exists); nothing to do. Pass --fresh to export again.",
                        output.display()
                    );
                    Ok(None)
                }
                // Found before any record was fetched: a usage problem.
                EngineError::Load(e) if e.is_refusal() => {
                    Err(CliError::Usage(aborted(e).to_string()))
                }
                e => Err(aborted(e)),
            }
        }
    }
}

fn outcome_code(report: &RunReport) -> u8 {
    match report.outcome {
        Outcome::Complete => exit::OK,
        Outcome::CompleteWithFailures => exit::PARTIAL,
        Outcome::Interrupted => exit::INTERRUPTED,
    }
}

fn print_summary(report: &RunReport) {
    let verb = match report.outcome {
        Outcome::Interrupted => "interrupted after",
        _ => "exported",
    };
    println!(
        "smartsweep: {verb} {} records ({} rows, {} failed) to {} in {:.1}s; {} part file(s){}",
        report.records,
        report.rows,
        report.failures.len(),
        report.output.display(),
        report.elapsed.as_secs_f64(),
        report.parts,
        if report.resumed {
            "; resumed from a checkpoint"
        } else {
            ""
        }
    );
    if !report.failures.is_empty() {
        println!(
            "smartsweep: {} record(s) failed; see {}",
            report.failures.len(),
            report.output.join("_errors.csv").display()
        );
    }
    if report.outcome == Outcome::Interrupted {
        println!("smartsweep: re-run the same command to resume");
    }
}

async fn run(a: RunArgs, quiet: bool) -> Result<u8, CliError> {
    let plan = pipeline::load(
        &a.pipeline,
        &overrides(&a.source, Some(&a.output), a.page_size),
    )
    .map_err(|p| CliError::Usage(p.to_string()))?;
    let Some((report, c)) = execute_plan(plan, &a.source, &a.output, quiet).await? else {
        return Ok(exit::OK);
    };
    print_summary(&report);
    c.stop().await;
    Ok(outcome_code(&report))
}

/// Build the recall-audit plan: the codes are pushed down to the container's
/// `rxnorm=a|b` filter *and* checked again by the query, since a proxy or an
/// older container may ignore the filter.
pub fn audit_plan(
    codes: &[String],
    title_match: Option<&str>,
    src: &SourceArgs,
    out: &OutputArgs,
) -> Result<Plan, CliError> {
    let mut clean = Vec::new();
    for c in codes {
        let c = c.trim();
        if c.is_empty() || !c.chars().all(|ch| ch.is_ascii_digit()) {
            return Err(usage(
                format!("`{c}` is not an RxNorm code"),
                "RxNorm codes (RxCUIs) are digits, e.g. --rxnorm 312938,309309",
            ));
        }
        if !clean.iter().any(|x: &String| x == c) {
            clean.push(c.to_string());
        }
    }
    if let Some(re) = title_match
        && let Err(e) = regex::Regex::new(&format!("(?i){re}"))
    {
        return Err(usage(
            format!("--title-match `{re}` is not a regular expression: {e}"),
            "use a regular expression such as `lipitor|atorvastatin`",
        ));
    }
    let values: Vec<String> = clean.iter().map(|c| format!("\"{c}\"")).collect();
    let title_filter = title_match
        .map(|re| {
            let lit = re.replace('\\', "\\\\").replace('"', "\\\"");
            format!("  FILTER(REGEX(STR(?title), \"{lit}\", \"i\"))\n")
        })
        .unwrap_or_default();
    let sparql = format!(
        "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX sp: <http://smartplatforms.org/terms#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?rxnorm ?title ?start_date ?end_date
WHERE {{
  ?med rdf:type sp:Medication ;
       sp:drugName ?cv .
  ?cv sp:code ?code ;
      dcterms:title ?title .
  BIND(STRAFTER(STR(?code), \"/RXNORM/\") AS ?rxnorm)
  FILTER(?rxnorm IN ({}))
{title_filter}  OPTIONAL {{ ?med sp:startDate ?start_date }}
  OPTIONAL {{ ?med sp:endDate ?end_date }}
}}
",
        values.join(", ")
    );
    let mut columns = BTreeMap::new();
    columns.insert("start_date".to_string(), ColumnType::Date);
    columns.insert("end_date".to_string(), ColumnType::Date);
    if let Err(e) = Projection::prepare(&sparql, &columns) {
        return Err(aborted(format!(
            "internal error: the audit query does not prepare: {e}"
        )));
    }
    let api_base = match &src.api_base {
        Some(b) => Some(pipeline::normalize_api_base(b).map_err(|m| {
            usage(
                m,
                "give the container's API base, e.g. `https://smart.example.org`",
            )
        })?),
        None => None,
    };
    let app_id = src
        .app_id
        .clone()
        .unwrap_or_else(|| DEFAULT_APP_ID.to_string());
    let consumer_key = src.consumer_key.clone().unwrap_or_else(|| app_id.clone());
    let mut filters = BTreeMap::new();
    filters.insert("rxnorm".to_string(), clean.join("|"));
    let default_out = PathBuf::from(format!("out/audit-{}", clean.join("-")));
    let format: Format = out.format.map(Into::into).unwrap_or(Format::Parquet);
    let compression: Compression = out.compression.map(Into::into).unwrap_or(Compression::Zstd);
    Ok(Plan {
        name: "recall_audit".into(),
        source_file: PathBuf::from("(smartsweep audit)"),
        resource: "medications".into(),
        filters,
        page_size: None,
        sparql,
        columns,
        format,
        compression,
        output: out.output.clone().unwrap_or(default_out),
        api_base,
        app_id,
        consumer_key,
    })
}

async fn audit(a: AuditArgs, quiet: bool) -> Result<u8, CliError> {
    let plan = audit_plan(&a.rxnorm, a.title_match.as_deref(), &a.source, &a.output)?;
    let codes = a.rxnorm.join(", ");
    let Some((report, c)) = execute_plan(plan, &a.source, &a.output, quiet).await? else {
        return Ok(exit::OK);
    };
    c.stop().await;
    let matched = report.records_with_rows;
    print_summary(&report);
    println!(
        "audit: RxNorm {codes}: {} records scanned, {} matched ({} medication rows), {} failed",
        report.records,
        matched,
        report.rows,
        report.failures.len()
    );
    if report.failures.is_empty() {
        if report.outcome != Outcome::Interrupted {
            println!("audit: complete: every record was checked");
        }
    } else {
        println!(
            "audit: INCOMPLETE: {} record(s) could not be checked, so \"no match\" is not proven for them:",
            report.failures.len()
        );
        for f in &report.failures {
            println!("  {f}");
        }
    }
    Ok(outcome_code(&report))
}

async fn preview(a: PreviewArgs) -> Result<u8, CliError> {
    let plan = pipeline::load(&a.pipeline, &overrides(&a.source, None, None))
        .map_err(|p| CliError::Usage(p.to_string()))?;
    check_concurrency(&a.source)?;
    let source = record_source(&a.source)?;
    let projection =
        Projection::prepare(&plan.sparql, &plan.columns).map_err(|e| usage(e, "fix the query"))?;
    let c = container(&plan, &a.source).await?;
    let client = Client::new(client_config(&plan, &a.source, &c)).map_err(aborted)?;
    let limit = a.records as usize;
    let mut tokens = Vec::new();
    match source {
        Source::Known(ids) => {
            let mut s = Box::pin(extract::known_ids(
                client.clone(),
                ids.into_iter().take(limit).collect(),
                a.source.concurrency,
            ));
            while let Some((id, t)) = s.next().await {
                match t {
                    Ok(t) => tokens.push(t),
                    Err(e) => eprintln!("record `{id}`: {e}"),
                }
            }
        }
        Source::Cursor => {
            let mut s = Box::pin(extract::cursor(client.clone(), None));
            while tokens.len() < limit {
                match s.next().await {
                    Some(Ok(t)) => tokens.push(t),
                    Some(Err(e)) => {
                        c.stop().await;
                        return Err(aborted(e));
                    }
                    None => break,
                }
            }
        }
    }
    let params = plan.filter_params();
    let mut batches = Vec::new();
    for t in &tokens {
        match client
            .fetch(t, &plan.resource, &params, plan.page_size)
            .await
        {
            Ok(f) => {
                let pages: Vec<&[u8]> = f.pages.iter().map(|b| b.as_ref()).collect();
                let base = format!("{}/records/{}/{}/", c.api_base, t.record_id, plan.resource);
                match projection.apply(t.record_id.as_str(), &pages, &base) {
                    Ok(rows) => batches.push(rows.batch),
                    Err(e) => eprintln!("{}", e.into_failure(t.record_id.as_str())),
                }
            }
            Err(f) => eprintln!("{f}"),
        }
    }
    c.stop().await;
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    match arrow_cast::pretty::pretty_format_batches(&batches) {
        Ok(table) => println!("{table}"),
        Err(e) => return Err(aborted(format!("cannot format the rows: {e}"))),
    }
    println!("{} records, {rows} rows", tokens.len());
    Ok(exit::OK)
}
