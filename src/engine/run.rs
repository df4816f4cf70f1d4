//! A [`Run`] and its phases: open the destination, start the source,
//! drive the stages, drain and finish.

use super::sink::{Sink, SinkTable};
use super::source::{Source, spawn_producer};
use super::stats::StageTimes;
use super::work::{Done, Worker, fetch_groups};
use super::{
    EngineError, Outcome, RunConfig, RunReport, Shutdown, TableReport, Work, errors_location,
    run_hash,
};
use crate::checkpoint::{ChainState, Checkpoint, Mode};
use crate::extract::{Client, walk};
use crate::failure::Stage;
use crate::load::manifest::{
    AuditSummary, ChainSummary, Histogram, HttpSummary, Manifest, PipelineInfo, RunStatus,
    TableInfo, TableSummary,
};
use crate::load::{self, Claim, Destination, LoadError, Opened, WriterOptions};
use crate::progress::{Counters, Reporter};
use crate::record::RecordId;
use crate::report::{self, Unfinished};
use arrow_array::Array;
use futures::stream::{self, BoxStream, StreamExt};
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, mpsc, watch};
use tokio::task::JoinHandle;

/// Run a pipeline to the end (or to a signal, or to an abort), into the
/// destination its plan names.
pub async fn run(
    cfg: RunConfig,
    reporter: Arc<dyn Reporter>,
    shutdown: Shutdown,
) -> Result<RunReport, EngineError> {
    let plan = &cfg.plan;
    let dest =
        load::destination::open(&plan.output.location, plan.output.format, &cfg.destination)?;
    run_into(cfg, dest, reporter, shutdown).await
}

/// Run a pipeline into `dest` (`preview` hands in an in-memory one).
pub async fn run_into(
    cfg: RunConfig,
    dest: Box<dyn Destination>,
    reporter: Arc<dyn Reporter>,
    shutdown: Shutdown,
) -> Result<RunReport, EngineError> {
    Run::new(cfg, reporter, shutdown).execute(dest).await
}

/// One run of a pipeline.
struct Run {
    cfg: RunConfig,
    reporter: Arc<dyn Reporter>,
    shutdown: Shutdown,
    started: Instant,
    hash: String,
    counters: Arc<Counters>,
    times: Arc<StageTimes>,
}

/// Each chain's producer (`None` for a chain finished before this run).
type Producers = Vec<Option<JoinHandle<Result<bool, EngineError>>>>;

/// How the drive phase ended.
struct Driven {
    interrupted: bool,
    error: Option<EngineError>,
}

/// The run-level circuit breaker: the first records of a run all failing
/// for one cause.
#[derive(Default)]
struct Breaker {
    cause: Option<(Stage, Option<u16>)>,
    count: u64,
    open: bool,
}

impl Run {
    fn new(cfg: RunConfig, reporter: Arc<dyn Reporter>, shutdown: Shutdown) -> Run {
        let mut hash = run_hash(&cfg.plan, &cfg.source);
        if let Some(s) = &cfg.shard {
            hash = format!("{hash}-shard-{}-of-{}", s.index, s.count);
        }
        Run {
            cfg,
            reporter,
            shutdown,
            started: Instant::now(),
            hash,
            counters: Arc::new(Counters::default()),
            times: Arc::new(StageTimes::default()),
        }
    }

    async fn execute(mut self, dest: Box<dyn Destination>) -> Result<RunReport, EngineError> {
        let (dest, opened) = self.open_destination(dest)?;
        if let Opened::Finished(m) = &opened {
            return Ok(self.already_finished(m, dest.describe()));
        }
        let client = Client::new(self.cfg.client.clone())?;
        let manifest_check = client.clone();
        // Informational only: a slow or failing manifest never holds the run.
        tokio::spawn(async move {
            if let Err(e) = manifest_check.manifest().await {
                tracing::warn!("could not read the container manifest: {e}");
            }
        });
        let (sink, resumed) = self.start_source(&client, dest, opened).await?;
        let (sink, driven) = self.drive(&client, sink).await;
        self.finish(&client, sink, driven, resumed).await
    }

    /// Phase 1: claim the output.
    fn open_destination(
        &self,
        mut dest: Box<dyn Destination>,
    ) -> Result<(Box<dyn Destination>, Opened), EngineError> {
        let plan = &self.cfg.plan;
        let claim = Claim {
            hash: self.hash.clone(),
            fresh: self.cfg.fresh,
            format: plan.output.format,
            table_dirs: plan.tables.iter().map(|t| t.dir.clone()).collect(),
            control_dir: self
                .cfg
                .shard
                .as_ref()
                .map(|s| crate::load::manifest::ShardPlan::control_dir(s.index))
                .unwrap_or_default(),
            chains: self.cfg.shard.as_ref().map(|s| s.chains.clone()),
        };
        let opened = tokio::task::block_in_place(|| dest.open(&claim))?;
        Ok((dest, opened))
    }

    fn already_finished(&self, m: &Manifest, output: String) -> RunReport {
        RunReport {
            outcome: Outcome::AlreadyFinished,
            output,
            records: m.records,
            rows: m.rows,
            tables: Vec::new(),
            failures: m.failures.clone(),
            records_with_rows: 0,
            parts: m.parts.len(),
            elapsed: self.started.elapsed(),
            resumed: false,
            chains: m.chains.len().max(1),
        }
    }

    /// Phase 2: the checkpoint to start from (a resumed one, or a new one
    /// whose chains start where the seeds say), stored before any part.
    async fn start_source(
        &self,
        client: &Client,
        mut dest: Box<dyn Destination>,
        opened: Opened,
    ) -> Result<(Sink, bool), EngineError> {
        let mode = match self.cfg.source {
            Source::Known(_) => Mode::KnownIds,
            _ => Mode::Cursor,
        };
        let (cp, resumed) = match opened {
            Opened::Resume(cp) => {
                tracing::info!(
                    "resuming `{}`: {} records and {} rows already committed in {} parts",
                    dest.describe(),
                    cp.records,
                    cp.rows(),
                    cp.parts().count()
                );
                (*cp, true)
            }
            _ => {
                let mut cp = Checkpoint::new(
                    &self.hash,
                    &new_run_id(),
                    mode,
                    &chrono::Utc::now().to_rfc3339(),
                );
                cp.chains = self.chains(client).await?;
                for t in &self.cfg.plan.tables {
                    cp.table_mut(&t.name);
                }
                tokio::task::block_in_place(|| dest.store_checkpoint(&cp))?;
                (cp, false)
            }
        };
        self.counters.records.store(cp.records, Ordering::Relaxed);
        self.counters.rows.store(cp.rows(), Ordering::Relaxed);
        let failed: std::collections::BTreeSet<&RecordId> =
            cp.failures.iter().map(|f| &f.record_id).collect();
        self.counters
            .failed
            .store(failed.len() as u64, Ordering::Relaxed);
        self.counters
            .parts
            .store(cp.parts().count() as u64, Ordering::Relaxed);
        let tables = self
            .cfg
            .plan
            .tables
            .iter()
            .map(|t| SinkTable {
                name: t.name.clone(),
                dir: t.dir.clone(),
                schema: t.projection.schema(),
                partition_by: t.partition_by.clone(),
            })
            .collect();
        let writers = cp.chains.len().max(1) * self.cfg.plan.tables.len();
        let opts = self.writer_options(&cp.run_id, writers);
        let chain_names = cp.chains.len() > 1 || self.cfg.shard.is_some();
        let sink = Sink::new(
            dest,
            cp,
            (tables, chain_names),
            opts,
            self.counters.clone(),
            self.times.clone(),
        );
        Ok((sink, resumed))
    }

    /// The chains of a new run: one from `first`, or (seeded) chain 0 from
    /// `first` and one per seed that still exists; a shard keeps its own.
    async fn chains(&self, client: &Client) -> Result<Vec<ChainState>, EngineError> {
        let Source::Chains(candidates) = &self.cfg.source else {
            return Ok(vec![ChainState::default()]);
        };
        let owned: Vec<usize> = match &self.cfg.shard {
            Some(s) => s.chains.iter().map(|&c| c as usize).collect(),
            None => (0..candidates.len()).collect(),
        };
        let asked: Vec<Vec<RecordId>> = (0..candidates.len())
            .map(|i| {
                if owned.contains(&i) {
                    candidates[i].clone()
                } else {
                    Vec::new()
                }
            })
            .collect();
        let starts = walk::resolve_starts(client, asked).await?;
        let mut chains = Vec::new();
        for &i in &owned {
            // Chain i stops at any candidate of the chains after it.
            let stop: Vec<RecordId> = candidates.iter().skip(i + 1).flatten().cloned().collect();
            let start = match (i, starts.get(i).cloned().flatten()) {
                (0, _) => None,
                (_, Some(s)) => Some(s),
                (_, None) => {
                    tracing::warn!(
                        "chain {i}: none of its {} seed ids exists any more; the chain before it covers its range",
                        candidates[i].len()
                    );
                    continue;
                }
            };
            let mut c = ChainState::new(start, stop);
            c.index = i as u32;
            chains.push(c);
        }
        if self.cfg.shard.is_none() && chains.len() == 1 {
            return Err(EngineError::Usage {
                message: format!(
                    "none of the {} seed ids is known to the container (each answered 500)",
                    candidates.iter().skip(1).map(Vec::len).sum::<usize>()
                ),
                hint: "give seeds from a recent output of this container (--seeds-from DIR), or run without --chains".into(),
            });
        }
        Ok(chains)
    }

    fn writer_options(&self, run_id: &str, writers: usize) -> WriterOptions {
        let plan = &self.cfg.plan;
        let (row_group_rows, row_group_bytes) =
            super::row_group_share(self.cfg.row_group_rows, self.cfg.row_group_bytes, writers);
        WriterOptions {
            format: plan.output.format,
            compression: plan.output.compression,
            row_group_rows,
            row_group_bytes,
            metadata: vec![
                ("smartsweep.pipeline".into(), plan.name.clone()),
                ("smartsweep.pipeline_hash".into(), self.hash.clone()),
                ("smartsweep.run_id".into(), run_id.to_owned()),
                (
                    "smartsweep.api_base".into(),
                    self.cfg.client.api_base.clone(),
                ),
                (
                    "smartsweep.version".into(),
                    env!("CARGO_PKG_VERSION").to_string(),
                ),
            ],
            ..WriterOptions::default()
        }
    }

    fn worker(&self, client: &Client) -> Worker {
        let cores = std::thread::available_parallelism()
            .map(|n| n.get())
            .unwrap_or(2);
        let plan = &self.cfg.plan;
        Worker {
            client: client.clone(),
            groups: Arc::new(fetch_groups(plan)),
            table_names: Arc::new(plan.tables.iter().map(|t| t.name.clone()).collect()),
            fetch_permits: Arc::new(Semaphore::new(self.cfg.concurrency.max(1))),
            cpu_permits: Arc::new(Semaphore::new(cores)),
            times: self.times.clone(),
        }
    }

    /// Every unfinished chain's producer, and its results in its order;
    /// each chain's stream ends with `(chain, None)`.
    fn start_chains(
        &self,
        client: &Client,
        cp: &Checkpoint,
        stop: &watch::Receiver<bool>,
    ) -> (Producers, BoxStream<'static, (usize, Option<Done>)>) {
        let worker = self.worker(client);
        let chains = cp.chains.len().max(1);
        let window = (self.cfg.window / chains).max(8);
        let known = match &self.cfg.source {
            Source::Known(ids) => Some(ids.clone()),
            _ => None,
        };
        let mut producers = Vec::new();
        let mut streams = Vec::new();
        for (c, state) in cp.chains.iter().enumerate() {
            if state.finished {
                producers.push(None);
                continue;
            }
            let (tx, rx) = mpsc::channel::<Work>(self.cfg.concurrency.max(1));
            producers.push(Some(spawn_producer(
                client.clone(),
                known.clone(),
                state,
                (self.cfg.concurrency, self.cfg.limit),
                tx,
                stop.clone(),
            )));
            let worker = worker.clone();
            let results =
                stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|w| (w, rx)) })
                    .map(move |w| worker.clone().run(w))
                    .buffered(window)
                    .map(move |d| (c, Some(d)))
                    .chain(stream::once(async move { (c, None) }));
            streams.push(results.boxed());
        }
        (producers, stream::select_all(streams).boxed())
    }

    fn ticker(&self, client: &Client, total: Option<u64>) -> JoinHandle<()> {
        let counters = self.counters.clone();
        let reporter = self.reporter.clone();
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
    }

    fn total(&self, sink: &Sink) -> Option<u64> {
        match &self.cfg.source {
            Source::Known(ids) => Some(ids.len() as u64),
            _ => sink
                .dest
                .read_manifest()
                .ok()
                .flatten()
                .map(|m| m.records)
                .or(None),
        }
    }

    /// Phase 3: drive the stages until every chain is drained, a signal,
    /// or an abort.
    async fn drive(&mut self, client: &Client, mut sink: Sink) -> (Sink, Driven) {
        let (stop_tx, stop_rx) = watch::channel(false);
        let (mut producers, mut results) = self.start_chains(client, &sink.cp, &stop_rx);
        let ticker = self.ticker(client, self.total(&sink));
        let mut driven = Driven {
            interrupted: false,
            error: None,
        };
        let mut breaker = Breaker::default();
        let mut deadline = tokio::time::Instant::now() + self.cfg.part_interval;
        // The report's rate chart: a sample a second, whatever the commits.
        let mut every_second = tokio::time::interval(Duration::from_secs(1));
        every_second.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
        loop {
            tokio::select! {
                biased;
                _ = self.shutdown.wait(), if !driven.interrupted => {
                    tracing::warn!("stop requested: finishing the records in flight, then committing");
                    driven.interrupted = true;
                    let _ = stop_tx.send(true);
                }
                _ = every_second.tick() => sink.sample_now(),
                _ = tokio::time::sleep_until(deadline) => {
                    if let Err(e) = tokio::task::block_in_place(|| sink.commit_all()) {
                        driven.error.get_or_insert(e.into());
                        break;
                    }
                    deadline = tokio::time::Instant::now() + self.cfg.part_interval;
                }
                next = results.next() => {
                    let Some((chain, done)) = next else { break };
                    let step = match done {
                        Some(done) => self.take(&mut sink, chain, done, &mut breaker),
                        None => end_of_chain(&mut sink, chain, producers[chain].take()).await,
                    };
                    if let Err(e) = step {
                        let fatal_write = matches!(e, EngineError::Load(_));
                        driven.error.get_or_insert(e);
                        let _ = stop_tx.send(true);
                        if fatal_write {
                            break;
                        }
                    }
                }
            }
        }
        let _ = stop_tx.send(true);
        drop(results);
        for p in producers.into_iter().flatten() {
            p.abort();
        }
        ticker.abort();
        (sink, driven)
    }

    /// One record into the sink, then the abort checks and a commit when
    /// the chain's part is due.
    fn take(
        &self,
        sink: &mut Sink,
        chain: usize,
        done: Done,
        breaker: &mut Breaker,
    ) -> Result<(), EngineError> {
        let cause = entire_failure(&done);
        tokio::task::block_in_place(|| sink.add(chain, done))?;
        breaker.see(cause, self.cfg.breaker)?;
        if let Some(m) = self.cfg.max_failed {
            let s = self.counters.snapshot(None);
            if m.exceeded(s.failed, s.records, false) {
                return Err(EngineError::TooManyFailures {
                    failed: s.failed,
                    seen: s.records,
                    errors: errors_location(&sink.dest.describe()),
                });
            }
        }
        if sink.pending_records(chain) as u64 >= self.cfg.part_records.max(1) {
            tokio::task::block_in_place(|| sink.commit(chain))?;
        }
        Ok(())
    }

    /// Phase 4: commit what is complete; then either leave the checkpoint
    /// for a resume (signal, abort) or finish the output.
    async fn finish(
        &self,
        client: &Client,
        mut sink: Sink,
        driven: Driven,
        resumed: bool,
    ) -> Result<RunReport, EngineError> {
        let snapshot = || self.counters.snapshot(None);
        if let Some(e) = driven.error {
            if matches!(e, EngineError::Load(_)) {
                sink.abandon();
            } else {
                let _ = tokio::task::block_in_place(|| sink.commit_all());
            }
            let _ = sink.write_errors();
            self.unfinished_report(&sink, client, resumed, Unfinished::Aborted(e.to_string()));
            self.reporter.done(&snapshot(), self.started.elapsed());
            return Err(e);
        }
        tokio::task::block_in_place(|| sink.commit_all())?;
        self.reporter.done(&snapshot(), self.started.elapsed());
        if driven.interrupted {
            sink.write_errors()?;
            self.unfinished_report(&sink, client, resumed, Unfinished::Interrupted);
            return Ok(self.report(&sink, Outcome::Interrupted, resumed));
        }
        let s = snapshot();
        if let Some(m) = self.cfg.max_failed
            && m.exceeded(s.failed, s.records, true)
        {
            sink.write_errors()?;
            let e = EngineError::TooManyFailures {
                failed: s.failed,
                seen: s.records,
                errors: errors_location(&sink.dest.describe()),
            };
            self.unfinished_report(&sink, client, resumed, Unfinished::Aborted(e.to_string()));
            return Err(e);
        }
        if let Some(e) = refused_everything(&sink.cp) {
            sink.write_errors()?;
            self.unfinished_report(&sink, client, resumed, Unfinished::Aborted(e.to_string()));
            return Err(e);
        }
        tokio::task::block_in_place(|| -> Result<(), LoadError> {
            sink.empty_parts()?;
            sink.write_errors()?;
            let mut manifest = self.manifest(&sink, client, resumed);
            manifest.audit = self.audit_summary(&sink)?;
            write_report(&sink, &report::render_manifest(&manifest));
            sink.dest.finish(&manifest)
        })?;
        let outcome = if sink.cp.failures.is_empty() {
            Outcome::Complete
        } else {
            Outcome::CompleteWithFailures
        };
        Ok(self.report(&sink, outcome, resumed))
    }

    /// `_report.html` of a run that stops unfinished, from its checkpoint
    /// and what this invocation has in memory; best effort.
    fn unfinished_report(&self, sink: &Sink, client: &Client, resumed: bool, state: Unfinished) {
        let extras = report::Extras::from(&self.manifest(sink, client, resumed));
        let html = report::render_checkpoint(&sink.cp, &state, &extras);
        tokio::task::block_in_place(|| write_report(sink, &html));
    }

    fn report(&self, sink: &Sink, outcome: Outcome, resumed: bool) -> RunReport {
        let cp = &sink.cp;
        let tables: Vec<TableReport> = self
            .cfg
            .plan
            .tables
            .iter()
            .map(|t| {
                let state = cp.tables.get(&t.name).cloned().unwrap_or_default();
                let failed = cp
                    .failures
                    .iter()
                    .filter(|f| f.table.as_deref().is_none_or(|n| n == t.name))
                    .count() as u64;
                TableReport {
                    name: t.name.clone(),
                    rows: state.rows,
                    records_with_rows: state.records_with_rows,
                    failed,
                }
            })
            .collect();
        RunReport {
            outcome,
            output: sink.dest.describe(),
            records: cp.records,
            rows: cp.rows(),
            records_with_rows: tables.first().map_or(0, |t| t.records_with_rows),
            tables,
            failures: cp.failures.clone(),
            parts: cp.parts().count(),
            elapsed: self.started.elapsed(),
            resumed,
            chains: cp.chains.len(),
        }
    }

    fn manifest(&self, sink: &Sink, client: &Client, resumed: bool) -> Manifest {
        let plan = &self.cfg.plan;
        let cp = &sink.cp;
        let single = plan.tables.len() == 1;
        let tables: std::collections::BTreeMap<String, TableSummary> = plan
            .tables
            .iter()
            .map(|t| {
                let s = cp.tables.get(&t.name).cloned().unwrap_or_default();
                let failed = cp
                    .failures
                    .iter()
                    .filter(|f| f.table.as_deref() == Some(t.name.as_str()))
                    .count() as u64;
                let summary = TableSummary {
                    dir: t.dir.clone(),
                    rows: s.rows,
                    records_with_rows: s.records_with_rows,
                    failed,
                    parts: s.parts,
                    conversions: s.conversions,
                };
                (t.name.clone(), summary)
            })
            .collect();
        let http = client.stats();
        Manifest {
            smartsweep_version: env!("CARGO_PKG_VERSION").to_owned(),
            status: if cp.failures.is_empty() {
                RunStatus::Complete
            } else {
                RunStatus::CompleteWithFailures
            },
            pipeline: pipeline_info(plan, &self.hash),
            run_id: cp.run_id.clone(),
            run_key: None,
            api_base: self.cfg.client.api_base.clone(),
            app_id: plan.app_id.clone(),
            mode: cp.mode,
            started_at: cp.started_at.clone(),
            finished_at: chrono::Utc::now().to_rfc3339(),
            elapsed_s_this_invocation: self.started.elapsed().as_secs_f64(),
            elapsed_s: sink.elapsed_s(),
            resumed,
            concurrency: self.cfg.concurrency,
            chains: cp.chains.iter().map(ChainSummary::from).collect(),
            records: cp.records,
            rows: cp.rows(),
            failed: cp.failures.len(),
            failures: cp.failures.clone(),
            parts: cp.parts().cloned().collect(),
            conversions: if single {
                tables
                    .values()
                    .next()
                    .map(|t| t.conversions.clone())
                    .unwrap_or_default()
            } else {
                Default::default()
            },
            tables,
            stage_busy_seconds: self.times.busy(),
            http: http_summary(&http),
            timeline: cp.timeline.clone(),
            slowest_records: sink.slowest.list(),
            seeds: cp
                .chains
                .iter()
                .flat_map(|c| c.samples.iter().cloned())
                .collect(),
            audit: None,
        }
    }

    /// An audit's matches per code, read back from the committed parts of
    /// its table, and whether "no match" is proven.
    fn audit_summary(&self, sink: &Sink) -> Result<Option<AuditSummary>, LoadError> {
        let Some(codes) = &self.cfg.audit else {
            return Ok(None);
        };
        let Some(table) = self.cfg.plan.tables.first() else {
            return Ok(None);
        };
        let state = sink.cp.tables.get(&table.name).cloned().unwrap_or_default();
        let mut matches: std::collections::BTreeMap<String, u64> =
            codes.iter().map(|c| (c.clone(), 0)).collect();
        for part in &state.parts {
            let format = self.cfg.plan.output.format;
            for b in &load::read::read_part(sink.dest.store(), &part.file, format)? {
                let Some(col) = b
                    .column_by_name("rxnorm")
                    .and_then(|c| c.as_any().downcast_ref::<arrow_array::StringArray>())
                else {
                    continue;
                };
                for v in col.iter().flatten() {
                    *matches.entry(v.to_owned()).or_default() += 1;
                }
            }
        }
        let failed = sink.cp.failures.len();
        let coverage = if failed == 0 {
            "complete: every record was checked".to_owned()
        } else {
            format!(
                "INCOMPLETE: {failed} record(s) could not be checked, so \"no match\" is not proven for them"
            )
        };
        Ok(Some(AuditSummary {
            codes: codes.clone(),
            matches,
            matched_records: state.records_with_rows,
            coverage,
        }))
    }
}

impl Breaker {
    /// Sees one record: `cause` is why it failed entirely, `None` when any
    /// of its tables succeeded. Trips when the first `limit` records all
    /// failed for one cause.
    fn see(&mut self, cause: Option<(Stage, Option<u16>)>, limit: u64) -> Result<(), EngineError> {
        if self.open || limit == 0 {
            return Ok(());
        }
        match (cause, self.cause) {
            (Some(c), None) if self.count == 0 => {
                self.cause = Some(c);
                self.count = 1;
            }
            (Some(c), Some(prev)) if c == prev => self.count += 1,
            _ => {
                // A success or another cause: the run is not uniformly broken.
                self.open = true;
                return Ok(());
            }
        }
        if self.count >= limit
            && let Some((stage, status)) = self.cause
        {
            return Err(breaker_error(self.count, stage, status));
        }
        Ok(())
    }
}

fn breaker_error(count: u64, stage: Stage, status: Option<u16>) -> EngineError {
    let what = match status {
        Some(s) => format!("HTTP {s} at {stage}"),
        None => format!("the same error at {stage}"),
    };
    let hint = match status {
        Some(401 | 403) => "the container refuses this app's record tokens: check that the app is registered as a background app with access to record data, and its consumer key and secret; see `_errors.csv` for the records".to_owned(),
        _ => "see `_errors.csv` for the records and their messages; fix the cause and re-run the same command to resume (the circuit breaker is --breaker N; 0 turns it off)".to_owned(),
    };
    EngineError::Breaker {
        message: format!(
            "the first {count} records all failed with {what}; stopping instead of failing every record"
        ),
        hint,
    }
}

/// Why a record failed entirely (no table succeeded), if it did.
fn entire_failure(done: &Done) -> Option<(Stage, Option<u16>)> {
    match &done.tables {
        Err(f) => Some((f.stage, f.http_status)),
        Ok(tables) => {
            if tables.iter().any(Result::is_ok) {
                return None;
            }
            tables
                .iter()
                .find_map(|t| t.as_ref().err())
                .map(|f| (f.stage, f.http_status))
        }
    }
}

/// A finished run in which no record succeeded because the container
/// refused authorization is not a finished export.
fn refused_everything(cp: &Checkpoint) -> Option<EngineError> {
    let succeeded = cp.tables.values().any(|t| t.records_with_rows > 0);
    let refused = |f: &crate::failure::RecordFailure| matches!(f.http_status, Some(401 | 403));
    if succeeded || cp.failures.is_empty() || !cp.failures.iter().all(refused) {
        return None;
    }
    let failed: std::collections::BTreeSet<&RecordId> =
        cp.failures.iter().map(|f| &f.record_id).collect();
    if (failed.len() as u64) < cp.records {
        return None;
    }
    let status = cp.failures.first().and_then(|f| f.http_status);
    Some(breaker_error(cp.records, Stage::Fetch, status))
}

/// The end of chain `chain`'s results: was the chain walked to its end?
async fn end_of_chain(
    sink: &mut Sink,
    chain: usize,
    producer: Option<JoinHandle<Result<bool, EngineError>>>,
) -> Result<(), EngineError> {
    let Some(producer) = producer else {
        return Ok(());
    };
    match producer.await {
        Ok(Ok(true)) => Ok(tokio::task::block_in_place(|| sink.chain_finished(chain))?),
        Ok(Ok(false)) => Ok(()),
        Ok(Err(e)) => Err(e),
        Err(e) => Err(EngineError::Internal(format!(
            "the record producer of chain {chain} crashed: {e}"
        ))),
    }
}

/// Writes `_report.html` (in a blocking context); a failure is a warning,
/// never the run's outcome.
fn write_report(sink: &Sink, html: &str) {
    if let Err(e) = sink.dest.write_report(html.as_bytes()) {
        tracing::warn!("could not write the run report: {e}");
    }
}

/// The client's counters as the manifest keeps them.
fn http_summary(http: &crate::extract::ClientStats) -> HttpSummary {
    use crate::extract::LatencyHistogram;
    use crate::extract::stats::LATENCY_BUCKETS;
    let histogram = |h: &LatencyHistogram| Histogram {
        bounds_ms: (0..LATENCY_BUCKETS)
            .filter_map(LatencyHistogram::upper_bound_ms)
            .collect(),
        counts: h.counts.to_vec(),
    };
    let c = &http.retry_causes;
    let causes = [
        ("http_429", c.http_429),
        ("http_500", c.http_500),
        ("http_502", c.http_502),
        ("http_503", c.http_503),
        ("http_504", c.http_504),
        ("timeout", c.timeout),
        ("truncated_body", c.truncated_body),
        ("connection", c.connection),
    ];
    HttpSummary {
        requests: http.requests,
        retries: http.retries,
        token_remints: http.remints,
        retries_by_cause: causes
            .into_iter()
            .filter(|(_, n)| *n > 0)
            .map(|(k, n)| (k.to_owned(), n))
            .collect(),
        latency: [
            ("cursor", &http.latency.cursor),
            ("token", &http.latency.mint),
            ("data", &http.latency.data),
        ]
        .into_iter()
        .map(|(k, h)| (k.to_owned(), histogram(h)))
        .collect(),
    }
}

fn pipeline_info(plan: &crate::pipeline::Plan, hash: &str) -> PipelineInfo {
    let single = plan.tables.len() == 1;
    PipelineInfo {
        name: plan.name.clone(),
        file: plan.source_file.display().to_string(),
        hash: hash.to_owned(),
        tables: plan
            .tables
            .iter()
            .map(|t| TableInfo {
                name: t.name.clone(),
                dir: t.dir.clone(),
                resource: t.resource.clone(),
                filters: t.filters.clone(),
                page_size: t.page_size,
                sparql: t.sparql.clone(),
                columns: t
                    .columns
                    .iter()
                    .map(|(k, v)| (k.clone(), v.to_string()))
                    .collect(),
                partition_by: t.partition_by.clone(),
            })
            .collect(),
        format: plan.output.format.to_string(),
        compression: plan.output.compression.to_string(),
        partition_by: plan.output.partition_by.clone(),
        resource: single.then(|| plan.tables[0].resource.clone()),
        sparql: single.then(|| plan.tables[0].sparql.clone()),
    }
}

fn new_run_id() -> String {
    let now = chrono::Utc::now().format("%Y%m%dT%H%M%SZ");
    let r: u32 = rand::random();
    format!("{now}-{r:08x}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_breaker_trips_only_on_a_uniform_start() {
        let c = Some((Stage::Fetch, Some(401)));
        let mut b = Breaker::default();
        for _ in 0..4 {
            assert!(b.see(c, 5).is_ok());
        }
        let e = b.see(c, 5).unwrap_err().to_string();
        assert!(
            e.contains("first 5 records all failed with HTTP 401"),
            "{e}"
        );
        let mut b = Breaker::default();
        assert!(b.see(c, 3).is_ok());
        assert!(b.see(None, 3).is_ok());
        for _ in 0..10 {
            assert!(b.see(c, 3).is_ok());
        }
        let mut b = Breaker::default();
        assert!(b.see(c, 3).is_ok());
        assert!(b.see(Some((Stage::Fetch, Some(500))), 3).is_ok());
        assert!(b.see(c, 3).is_ok());
        assert!(b.see(c, 3).is_ok());
    }
}
