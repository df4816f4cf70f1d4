//! The engine: a run from the first cursor call to `_SUCCESS`.
//!
//! ```text
//! cursor ──► fetch ──► transform ──► reorder ──► sink ──► commit
//! (serial)   (N in     (blocking,    (bounded    (part     (checkpoint)
//!            flight)   cores)        window)     writer)
//! ```
//!
//! - The *producer* walks the cursor (or mints tokens for known ids) and puts
//!   `(record, token)` into a bounded channel: when the channel is full it
//!   waits, which is the backpressure on the one serial chain.
//! - Each record becomes a future that fetches (at most `concurrency` at a
//!   time, a semaphore) and then transforms on the blocking pool (at most one
//!   per core, another semaphore). `buffered(window)` runs up to `window` of
//!   these futures and yields them **in input order**: that is the reorder
//!   window. Memory is bounded by the window times the largest record.
//! - The *sink* (this task) appends each record's rows to the open part,
//!   closes the part every `part_records` records or `part_interval`, and only
//!   then moves the checkpoint's watermark (see [`crate::load`] for the commit
//!   protocol).
//!
//! Shutdown follows vector: only the producer is told to stop; everything in
//! flight drains, the complete records are committed, and the checkpoint is
//! left for a resume.

mod sink;

use crate::checkpoint::{Checkpoint, Mode};
use crate::extract::{self, Client, ClientConfig, ExtractError, RecordToken};
use crate::failure::{RecordFailure, Stage};
use crate::load::{LoadError, OutputDir, WriterOptions};
use crate::pipeline::Plan;
use crate::progress::{Counters, Reporter};
use crate::record::RecordId;
use crate::transform::{Projection, RecordRows};
use futures::StreamExt;
use sha2::{Digest, Sha256};
use sink::Sink;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};

/// Where the records come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The container's background-app cursor (`first`, then `next`).
    Cursor,
    /// Known record ids (`--records-from`): one token minted per id,
    /// concurrently; output in this order.
    Known(Vec<String>),
}

/// `--max-failed`: a count, or a fraction of the records seen.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum MaxFailed {
    /// Abort when more than this many records failed.
    Count(u64),
    /// Abort when more than this fraction of the records seen failed
    /// (checked once at least 100 records were seen, and at the end).
    Fraction(f64),
}

impl std::str::FromStr for MaxFailed {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.trim();
        if let Some(p) = s.strip_suffix('%') {
            let v: f64 = p
                .parse()
                .map_err(|_| format!("`{s}` is not a percentage"))?;
            if !(0.0..=100.0).contains(&v) {
                return Err(format!("`{s}` is not between 0% and 100%"));
            }
            return Ok(MaxFailed::Fraction(v / 100.0));
        }
        if s.contains('.') {
            let v: f64 = s.parse().map_err(|_| format!("`{s}` is not a fraction"))?;
            if !(0.0..=1.0).contains(&v) {
                return Err(format!("`{s}` is not a fraction between 0 and 1"));
            }
            return Ok(MaxFailed::Fraction(v));
        }
        s.parse::<u64>().map(MaxFailed::Count).map_err(|_| {
            format!("`{s}` is neither a count (e.g. 10) nor a fraction (e.g. 0.05 or 5%)")
        })
    }
}

impl MaxFailed {
    fn exceeded(&self, failed: u64, seen: u64, at_end: bool) -> bool {
        match *self {
            MaxFailed::Count(n) => failed > n,
            MaxFailed::Fraction(f) => {
                (at_end || seen >= 100) && seen > 0 && (failed as f64) / (seen as f64) > f
            }
        }
    }
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct RunConfig {
    /// The validated pipeline (with an API base: the CLI has already started
    /// the sandbox when the pipeline names none).
    pub plan: Plan,
    /// How to reach the container.
    pub client: ClientConfig,
    /// Cursor or known ids.
    pub source: Source,
    /// Fetches in flight at most.
    pub concurrency: usize,
    /// Records between the cursor and the sink at most (the reorder window).
    pub window: usize,
    /// Close a part after this many records.
    pub part_records: u64,
    /// ... or after this long, whichever comes first.
    pub part_interval: Duration,
    /// Abort on too many failed records.
    pub max_failed: Option<MaxFailed>,
    /// Start over even if the output is finished or made by another pipeline.
    pub fresh: bool,
    /// Parquet row group bound in rows.
    pub row_group_rows: usize,
    /// Parquet row group bound in bytes.
    pub row_group_bytes: usize,
}

impl RunConfig {
    /// Defaults for everything but the plan, the client and the source.
    pub fn new(plan: Plan, client: ClientConfig, source: Source) -> Self {
        RunConfig {
            plan,
            client,
            source,
            concurrency: 16,
            window: 64,
            part_records: 10_000,
            part_interval: Duration::from_secs(60),
            max_failed: None,
            fresh: false,
            // Small enough that the open row group (held in memory until it
            // is flushed) does not dominate memory; large enough for readers
            // (DuckDB's own default is 122,880 rows).
            row_group_rows: 16 * 1024,
            row_group_bytes: 8 * 1024 * 1024,
        }
    }
}

/// How a run ended (when it did not abort).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every record exported; `_SUCCESS` written.
    Complete,
    /// Finished, but some records failed (listed in `_errors.csv`).
    CompleteWithFailures,
    /// Stopped by a signal; the checkpoint is ready for a resume.
    Interrupted,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// How it ended.
    pub outcome: Outcome,
    /// The output directory.
    pub output: PathBuf,
    /// Records done (this run and the runs it resumed).
    pub records: u64,
    /// Rows written.
    pub rows: u64,
    /// Every failed record.
    pub failures: Vec<RecordFailure>,
    /// Records with at least one row.
    pub records_with_rows: u64,
    /// Parts committed.
    pub parts: usize,
    /// Wall time of this invocation.
    pub elapsed: Duration,
    /// True when this run resumed a checkpoint.
    pub resumed: bool,
}

/// Why a run aborted. Each leaves the checkpoint of the last commit intact.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    /// The container refused us, or the cursor could not go on.
    #[error(transparent)]
    Extract(#[from] ExtractError),
    /// Writing the output failed.
    #[error(transparent)]
    Load(#[from] LoadError),
    /// The query could not be prepared (validation normally catches this).
    #[error("the query cannot be used: {0}")]
    Query(String),
    /// `--max-failed` was exceeded.
    #[error(
        "aborted: {failed} of {seen} records failed, more than --max-failed allows\n  hint: see `{}` for the failed records; fix the cause and re-run the same command to resume",
        errors.display()
    )]
    TooManyFailures {
        /// Records failed.
        failed: u64,
        /// Records seen.
        seen: u64,
        /// Where the failures were written.
        errors: PathBuf,
    },
    /// The record-id list given with `--records-from` changed since the checkpoint.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A stop signal for a run: when it turns true, the producer stops and the
/// run drains, commits and returns [`Outcome::Interrupted`].
#[derive(Debug, Clone)]
pub struct Shutdown(watch::Receiver<bool>);

impl Shutdown {
    /// A pair: the trigger and the signal to hand to [`run`].
    pub fn new() -> (watch::Sender<bool>, Shutdown) {
        let (tx, rx) = watch::channel(false);
        (tx, Shutdown(rx))
    }

    /// A signal that never fires.
    pub fn never() -> Shutdown {
        let (tx, rx) = watch::channel(false);
        // Keep the sender alive for ever so `changed()` never resolves.
        std::mem::forget(tx);
        Shutdown(rx)
    }

    async fn wait(&mut self) {
        while !*self.0.borrow_and_update() {
            if self.0.changed().await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }
}

/// One unit of work from the producer.
struct Work {
    record_id: RecordId,
    token: Result<RecordToken, RecordFailure>,
}

/// One record's result, back in order.
pub(crate) struct Done {
    pub record_id: RecordId,
    pub result: Result<RecordRows, RecordFailure>,
}

/// Seconds spent per stage, summed over records.
#[derive(Debug, Default)]
pub(crate) struct StageTimes {
    pub fetch_ns: AtomicU64,
    pub transform_ns: AtomicU64,
    pub write_ns: AtomicU64,
}

impl StageTimes {
    fn add(counter: &AtomicU64, since: Instant) {
        counter.fetch_add(since.elapsed().as_nanos() as u64, Ordering::Relaxed);
    }
}

/// The hash a checkpoint is made under: the pipeline's, plus the known-id
/// list when there is one (another list is another run).
pub fn run_hash(plan: &Plan, source: &Source) -> String {
    match source {
        Source::Cursor => plan.hash(),
        Source::Known(ids) => {
            let mut h = Sha256::new();
            h.update(plan.hash().as_bytes());
            h.update(b"\0known\0");
            for id in ids {
                h.update(id.as_bytes());
                h.update(b"\n");
            }
            h.finalize().iter().map(|b| format!("{b:02x}")).collect()
        }
    }
}

fn new_run_id() -> String {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let r: u32 = rand::random();
    format!("{now}-{r:08x}")
}

/// Run a pipeline to the end (or to a signal, or to an abort).
pub async fn run(
    cfg: RunConfig,
    reporter: Arc<dyn Reporter>,
    mut shutdown: Shutdown,
) -> Result<RunReport, EngineError> {
    let started = Instant::now();
    let plan = &cfg.plan;
    let projection = Arc::new(
        Projection::prepare(&plan.sparql, &plan.columns)
            .map_err(|e| EngineError::Query(e.to_string()))?,
    );
    let hash = run_hash(plan, &cfg.source);
    let previous_total = read_previous_total(&plan.output);
    // A finished output made by another pipeline is "changed", not
    // "finished": saying "nothing to do" there would hide a mistake.
    if !cfg.fresh
        && let Some(found) = finished_hash(&plan.output)
        && found != hash
    {
        return Err(LoadError::PipelineChanged {
            path: plan.output.clone(),
            expected: hash,
            found,
        }
        .into());
    }
    let (out, resumed) = OutputDir::open(&plan.output, &hash, cfg.fresh)?;
    let api_base = cfg.client.api_base.clone();
    let client = Client::new(cfg.client.clone())?;
    if let Err(e) = client.manifest().await {
        tracing::warn!("could not read the container manifest at `{api_base}/manifest`: {e}");
    }

    let mode = match cfg.source {
        Source::Cursor => Mode::Cursor,
        Source::Known(_) => Mode::KnownIds,
    };
    let checkpoint = match resumed {
        Some(cp) => {
            if cp.mode != mode {
                return Err(EngineError::Internal(format!(
                    "the checkpoint in `{}` was made in {:?} mode; this run is in {mode:?} mode. hint: re-run as before, or pass --fresh",
                    plan.output.display(),
                    cp.mode
                )));
            }
            tracing::info!(
                "resuming `{}`: {} records and {} rows already committed in {} parts",
                plan.output.display(),
                cp.records,
                cp.rows,
                cp.parts.len()
            );
            cp
        }
        None => Checkpoint::new(&hash, &new_run_id(), mode, &chrono::Utc::now().to_rfc3339()),
    };
    let was_resumed = checkpoint.records > 0 || !checkpoint.parts.is_empty();

    let total = match &cfg.source {
        Source::Known(ids) => Some(ids.len() as u64),
        Source::Cursor => previous_total,
    };
    let counters = Arc::new(Counters::default());
    counters
        .records
        .store(checkpoint.records, Ordering::Relaxed);
    counters.rows.store(checkpoint.rows, Ordering::Relaxed);
    counters
        .failed
        .store(checkpoint.failures.len() as u64, Ordering::Relaxed);
    counters
        .parts
        .store(checkpoint.parts.len() as u64, Ordering::Relaxed);
    let times = Arc::new(StageTimes::default());

    // The producer: cursor or known ids, into a bounded channel.
    let (tx, rx) = mpsc::channel::<Work>(cfg.concurrency.max(1));
    let (stop_tx, stop_rx) = watch::channel(false);
    let producer = {
        let client = client.clone();
        let source = cfg.source.clone();
        let cp = checkpoint.clone();
        let concurrency = cfg.concurrency;
        tokio::spawn(async move {
            match source {
                Source::Cursor => produce_cursor(client, &cp, tx, stop_rx).await,
                Source::Known(ids) => {
                    produce_known(client, ids, cp.position, concurrency, tx, stop_rx).await
                }
            }
        })
    };

    // Fetch + transform, `window` records at most, results in input order.
    let fetch_permits = Arc::new(Semaphore::new(cfg.concurrency.max(1)));
    let cores = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let cpu_permits = Arc::new(Semaphore::new(cores));
    let resource = plan.resource.clone();
    let params = plan.filter_params();
    let page_size = plan.page_size;
    let work =
        futures::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|w| (w, rx)) });
    let mut results = Box::pin(
        work.map(|w: Work| {
            let client = client.clone();
            let projection = projection.clone();
            let fetch_permits = fetch_permits.clone();
            let cpu_permits = cpu_permits.clone();
            let resource = resource.clone();
            let params = params.clone();
            let times = times.clone();
            let api_base = api_base.clone();
            async move {
                let token = match w.token {
                    Ok(t) => t,
                    Err(f) => {
                        return Done {
                            record_id: w.record_id,
                            result: Err(f),
                        };
                    }
                };
                let fetched = {
                    let _permit = fetch_permits.acquire().await;
                    let t0 = Instant::now();
                    let r = client.fetch(&token, &resource, &params, page_size).await;
                    StageTimes::add(&times.fetch_ns, t0);
                    r
                };
                let fetched = match fetched {
                    Ok(f) => f,
                    Err(f) => {
                        return Done {
                            record_id: w.record_id,
                            result: Err(f),
                        };
                    }
                };
                let _permit = cpu_permits.acquire().await;
                let record_id = w.record_id.clone();
                let base = format!("{api_base}/records/{}/{resource}/", w.record_id);
                let t0 = Instant::now();
                let joined = tokio::task::spawn_blocking(move || {
                    let pages: Vec<&[u8]> = fetched.pages.iter().map(|b| b.as_ref()).collect();
                    projection
                        .apply(record_id.as_str(), &pages, &base)
                        .map_err(|e| e.into_failure(record_id.as_str()))
                })
                .await;
                StageTimes::add(&times.transform_ns, t0);
                let result = joined.unwrap_or_else(|e| {
                    Err(RecordFailure {
                        record_id: w.record_id.clone(),
                        table: None,
                        stage: Stage::Transform,
                        http_status: None,
                        attempts: 0,
                        message: format!("the transform crashed: {e}"),
                    })
                });
                Done {
                    record_id: w.record_id,
                    result,
                }
            }
        })
        .buffered(cfg.window.max(1)),
    );

    // Progress ticker.
    let ticker = {
        let counters = counters.clone();
        let reporter = reporter.clone();
        let client = client.clone();
        tokio::spawn(async move {
            let t0 = Instant::now();
            let mut every = tokio::time::interval(Duration::from_millis(200));
            loop {
                every.tick().await;
                counters
                    .retries
                    .store(client.stats().retries, Ordering::Relaxed);
                reporter.tick(&counters.snapshot(total), t0.elapsed());
            }
        })
    };

    let opts = WriterOptions {
        format: plan.format,
        compression: plan.compression,
        row_group_rows: cfg.row_group_rows,
        row_group_bytes: cfg.row_group_bytes,
        metadata: vec![
            ("smartsweep.pipeline".into(), plan.name.clone()),
            ("smartsweep.pipeline_hash".into(), hash.clone()),
            ("smartsweep.run_id".into(), checkpoint.run_id.clone()),
            ("smartsweep.api_base".into(), api_base.clone()),
            (
                "smartsweep.version".into(),
                env!("CARGO_PKG_VERSION").to_string(),
            ),
        ],
        ..WriterOptions::default()
    };
    let mut sink = Sink::new(
        out,
        projection.schema(),
        opts,
        checkpoint,
        counters.clone(),
        times.clone(),
    );

    // The sink loop: in order, with a part deadline and the stop signal.
    let mut interrupted = false;
    let mut sink_error: Option<EngineError> = None;
    let mut deadline = tokio::time::Instant::now() + cfg.part_interval;
    loop {
        tokio::select! {
            biased;
            _ = shutdown.wait(), if !interrupted => {
                tracing::warn!("stop requested: finishing the records in flight, then committing");
                interrupted = true;
                let _ = stop_tx.send(true);
            }
            next = results.next() => {
                let Some(done) = next else { break };
                let step = tokio::task::block_in_place(|| sink.add(done, cfg.part_records));
                if let Err(e) = step {
                    sink_error = Some(e.into());
                    break;
                }
                if let Some(m) = cfg.max_failed {
                    let s = counters.snapshot(None);
                    if m.exceeded(s.failed, s.records, false) {
                        sink_error = Some(EngineError::TooManyFailures {
                            failed: s.failed,
                            seen: s.records,
                            errors: sink.errors_path(),
                        });
                        break;
                    }
                }
                if sink.part_is_due(cfg.part_records) {
                    if let Err(e) = tokio::task::block_in_place(|| sink.commit()) {
                        sink_error = Some(e.into());
                        break;
                    }
                    deadline = tokio::time::Instant::now() + cfg.part_interval;
                }
            }
            _ = tokio::time::sleep_until(deadline) => {
                if let Err(e) = tokio::task::block_in_place(|| sink.commit()) {
                    sink_error = Some(e.into());
                    break;
                }
                deadline = tokio::time::Instant::now() + cfg.part_interval;
            }
        }
    }
    let _ = stop_tx.send(true);
    drop(results);
    ticker.abort();

    if let Some(e) = sink_error {
        producer.abort();
        // A write error: drop the open part; the checkpoint of the last
        // commit stays. Too many failures: commit what is complete first.
        match e {
            EngineError::Load(_) => sink.abandon(),
            _ => {
                let _ = tokio::task::block_in_place(|| sink.commit());
                let _ = sink.write_errors();
            }
        }
        reporter.done(&counters.snapshot(total), started.elapsed());
        return Err(e);
    }

    // Commit what is complete, whatever comes next.
    tokio::task::block_in_place(|| sink.commit())?;
    let produced = producer.await;
    reporter.done(&counters.snapshot(total), started.elapsed());
    match produced {
        Ok(Ok(())) => {}
        Ok(Err(e)) => {
            sink.write_errors()?;
            return Err(e.into());
        }
        Err(e) => {
            sink.write_errors()?;
            return Err(EngineError::Internal(format!(
                "the record producer crashed: {e}"
            )));
        }
    }
    if interrupted {
        sink.write_errors()?;
        return Ok(sink.report(Outcome::Interrupted, started.elapsed(), was_resumed));
    }
    let s = counters.snapshot(None);
    if let Some(m) = cfg.max_failed
        && m.exceeded(s.failed, s.records, true)
    {
        sink.write_errors()?;
        return Err(EngineError::TooManyFailures {
            failed: s.failed,
            seen: s.records,
            errors: sink.errors_path(),
        });
    }
    let http = client.stats();
    let report = tokio::task::block_in_place(|| {
        sink.finish(&cfg, &hash, &http, started.elapsed(), was_resumed)
    })?;
    Ok(report)
}

/// The pipeline hash of a finished output (`_SUCCESS` and its manifest).
fn finished_hash(output: &std::path::Path) -> Option<String> {
    if !output.join("_SUCCESS").exists() {
        return None;
    }
    let text = std::fs::read_to_string(output.join("_manifest.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    Some(v.get("pipeline")?.get("hash")?.as_str()?.to_string())
}

/// The record count of a previous finished run in this directory, for the ETA.
fn read_previous_total(output: &std::path::Path) -> Option<u64> {
    let text = std::fs::read_to_string(output.join("_manifest.json")).ok()?;
    let v: serde_json::Value = serde_json::from_str(&text).ok()?;
    v.get("records")?.as_u64()
}

async fn send(tx: &mpsc::Sender<Work>, stop: &mut watch::Receiver<bool>, w: Work) -> bool {
    tokio::select! {
        r = tx.send(w) => r.is_ok(),
        _ = stop.wait_for(|s| *s) => false,
    }
}

/// Walk the cursor from the start, or from just after the checkpoint's
/// watermark (falling back to earlier committed ids if it was deleted).
async fn produce_cursor(
    client: Client,
    cp: &Checkpoint,
    tx: mpsc::Sender<Work>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ExtractError> {
    let mut current = match &cp.watermark {
        None => {
            let first = client.first().await?;
            if first.is_none() {
                tracing::warn!(
                    "the container has no records: `first` answered 404 (the reference container also answers 404 when it fails inside `first`)"
                );
            }
            first
        }
        Some(wm) => resume_after(&client, wm, &cp.recent_ids).await?,
    };
    while let Some(token) = current {
        if *stop.borrow() {
            return Ok(());
        }
        let id = token.record_id.clone();
        if !send(
            &tx,
            &mut stop,
            Work {
                record_id: id.clone(),
                token: Ok(token),
            },
        )
        .await
        {
            return Ok(());
        }
        current = tokio::select! {
            r = client.next(id.as_str()) => r?,
            _ = stop.wait_for(|s| *s) => return Ok(()),
        };
    }
    Ok(())
}

/// Restart the cursor after `watermark`. The container answers 500 for an
/// unknown id, so when the watermark record was deleted, restart after the
/// newest earlier committed id that still exists and skip the ids that were
/// committed after it; when none exists, restart from `first` and skip by
/// byte-wise order (the order the container walks).
async fn resume_after(
    client: &Client,
    watermark: &str,
    recent: &[String],
) -> Result<Option<RecordToken>, ExtractError> {
    match client.next(watermark).await {
        Ok(t) => return Ok(t),
        Err(e) if e.status() == Some(500) => {
            tracing::warn!(
                "the watermark record `{watermark}` is unknown to the container (500): it was probably deleted; restarting from an earlier committed record"
            );
        }
        Err(e) => return Err(e),
    }
    // `recent` is oldest first and ends with the watermark.
    for (i, id) in recent.iter().enumerate().rev() {
        if id == watermark {
            continue;
        }
        match client.next(id).await {
            Ok(mut t) => {
                let committed: std::collections::HashSet<&str> =
                    recent[i + 1..].iter().map(String::as_str).collect();
                while let Some(tok) = &t {
                    if !committed.contains(tok.record_id.as_str()) {
                        break;
                    }
                    let id = tok.record_id.clone();
                    t = client.next(id.as_str()).await?;
                }
                return Ok(t);
            }
            Err(e) if e.status() == Some(500) => continue,
            Err(e) => return Err(e),
        }
    }
    tracing::warn!(
        "none of the last {} committed records exists any more; restarting from the first record and skipping ids up to `{watermark}` in byte order",
        recent.len()
    );
    let mut t = client.first().await?;
    while let Some(tok) = &t {
        if tok.record_id.as_str().as_bytes() > watermark.as_bytes() {
            break;
        }
        let id = tok.record_id.clone();
        t = client.next(id.as_str()).await?;
    }
    Ok(t)
}

/// Mint tokens for known ids (concurrently, in order), from `position` on.
async fn produce_known(
    client: Client,
    ids: Vec<String>,
    position: u64,
    concurrency: usize,
    tx: mpsc::Sender<Work>,
    mut stop: watch::Receiver<bool>,
) -> Result<(), ExtractError> {
    let rest: Vec<String> = ids.into_iter().skip(position as usize).collect();
    let mut tokens = Box::pin(extract::known_ids(client, rest, concurrency.max(1)));
    while let Some((id, token)) = tokens.next().await {
        if *stop.borrow() {
            return Ok(());
        }
        let token = match token {
            Ok(t) => Ok(t),
            Err(e) if e.is_fatal_credentials() => return Err(e),
            Err(e) => Err(RecordFailure {
                record_id: RecordId::new(id.clone()),
                table: None,
                stage: Stage::Fetch,
                http_status: e.status(),
                attempts: 0,
                message: format!("could not get a token for the record: {e}"),
            }),
        };
        if !send(
            &tx,
            &mut stop,
            Work {
                record_id: RecordId::new(id),
                token,
            },
        )
        .await
        {
            return Ok(());
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn max_failed_parses_counts_fractions_and_percentages() {
        assert_eq!("10".parse::<MaxFailed>(), Ok(MaxFailed::Count(10)));
        assert_eq!("0.05".parse::<MaxFailed>(), Ok(MaxFailed::Fraction(0.05)));
        assert_eq!("5%".parse::<MaxFailed>(), Ok(MaxFailed::Fraction(0.05)));
        assert!("1.5".parse::<MaxFailed>().is_err());
        assert!("x".parse::<MaxFailed>().is_err());
    }

    #[test]
    fn max_failed_fraction_waits_for_enough_records() {
        let m = MaxFailed::Fraction(0.1);
        assert!(!m.exceeded(5, 10, false));
        assert!(m.exceeded(5, 10, true));
        assert!(m.exceeded(20, 100, false));
        assert!(!MaxFailed::Count(3).exceeded(3, 3, true));
        assert!(MaxFailed::Count(3).exceeded(4, 4, false));
    }
}
