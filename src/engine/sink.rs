//! The sink side of a run: records in cursor order go into the open part;
//! a commit closes the part and only then moves the checkpoint.
//!
//! Invariant: everything in the checkpoint (watermark, position, parts, rows,
//! failures, conversion counts) describes exactly the records up to the
//! watermark, all of whose rows are in committed parts. Records after it are
//! in memory or in the `.inprogress` file only, and a resume redoes them.

use super::{Done, Outcome, RunConfig, RunReport, StageTimes};
use crate::checkpoint::{Checkpoint, ConversionStat};
use crate::extract::ClientStats;
use crate::failure::RecordFailure;
use crate::load::{LoadError, OutputDir, PartWriter, WriterOptions, empty_part_if_none};
use crate::progress::Counters;
use arrow_schema::SchemaRef;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

pub(crate) struct Sink {
    out: OutputDir,
    schema: SchemaRef,
    opts: WriterOptions,
    cp: Checkpoint,
    counters: Arc<Counters>,
    times: Arc<StageTimes>,
    part: Option<PartWriter>,
    /// Records taken since the last commit, in order.
    pending_ids: Vec<crate::record::RecordId>,
    pending_rows: u64,
    pending_with_rows: u64,
    pending_failures: Vec<RecordFailure>,
    pending_conversions: BTreeMap<String, ConversionStat>,
}

impl Sink {
    pub(crate) fn new(
        out: OutputDir,
        schema: SchemaRef,
        opts: WriterOptions,
        cp: Checkpoint,
        counters: Arc<Counters>,
        times: Arc<StageTimes>,
    ) -> Self {
        Sink {
            out,
            schema,
            opts,
            cp,
            counters,
            times,
            part: None,
            pending_ids: Vec::new(),
            pending_rows: 0,
            pending_with_rows: 0,
            pending_failures: Vec::new(),
            pending_conversions: BTreeMap::new(),
        }
    }

    pub(crate) fn errors_path(&self) -> PathBuf {
        self.out.path().join("_errors.csv")
    }

    /// Take one record's result.
    pub(crate) fn add(&mut self, done: Done, _part_records: u64) -> Result<(), LoadError> {
        match done.result {
            Ok(rows) => {
                let n = rows.batch.num_rows() as u64;
                if n > 0 {
                    let t0 = Instant::now();
                    if self.part.is_none() {
                        let index = self.next_part_index();
                        self.part = Some(PartWriter::create(
                            self.out.path(),
                            index,
                            self.schema.clone(),
                            &self.opts,
                        )?);
                    }
                    if let Some(part) = self.part.as_mut() {
                        part.write(&rows.batch)?;
                    }
                    StageTimes::add(&self.times.write_ns, t0);
                }
                for issue in rows.conversions {
                    self.pending_conversions
                        .entry(issue.column)
                        .or_default()
                        .record(&issue.value);
                }
                self.pending_rows += n;
                self.pending_with_rows += u64::from(n > 0);
                self.counters.rows.fetch_add(n, Ordering::Relaxed);
            }
            Err(failure) => {
                tracing::warn!("{failure}");
                self.pending_failures.push(failure);
                self.counters.failed.fetch_add(1, Ordering::Relaxed);
            }
        }
        self.pending_ids.push(done.record_id);
        self.counters.records.fetch_add(1, Ordering::Relaxed);
        Ok(())
    }

    pub(crate) fn part_is_due(&self, part_records: u64) -> bool {
        self.pending_ids.len() as u64 >= part_records.max(1)
    }

    fn next_part_index(&self) -> u32 {
        self.cp.next_part_index()
    }

    /// Close the open part (footer, fsync, rename) and then move the
    /// checkpoint past every pending record. Nothing pending: nothing to do.
    pub(crate) fn commit(&mut self) -> Result<(), LoadError> {
        if self.pending_ids.is_empty() {
            return Ok(());
        }
        let t0 = Instant::now();
        // The next checkpoint is built aside and only becomes ours once it
        // is stored: a failed store leaves `self.cp` as it is on disk.
        let mut cp = self.cp.clone();
        if let Some(part) = self.part.take() {
            cp.parts.push(part.finish()?);
            self.counters.parts.fetch_add(1, Ordering::Relaxed);
        }
        for id in &self.pending_ids {
            cp.mark_done(id.as_str());
        }
        cp.rows += self.pending_rows;
        cp.records_with_rows += self.pending_with_rows;
        cp.failures.extend(self.pending_failures.iter().cloned());
        for (col, stat) in &self.pending_conversions {
            cp.conversions.entry(col.clone()).or_default().merge(stat);
        }
        self.out.store_checkpoint(&cp)?;
        self.cp = cp;
        self.pending_ids.clear();
        self.pending_rows = 0;
        self.pending_with_rows = 0;
        self.pending_failures.clear();
        self.pending_conversions.clear();
        StageTimes::add(&self.times.write_ns, t0);
        Ok(())
    }

    /// Drop the open part after a write error; the checkpoint stays as it was.
    pub(crate) fn abandon(&mut self) {
        if let Some(part) = self.part.take() {
            part.abort();
        }
    }

    /// `_errors.csv` from the committed failures (kept current while a run
    /// is interrupted or aborted, so an on-call engineer can look).
    pub(crate) fn write_errors(&self) -> Result<(), LoadError> {
        self.out.write_errors_csv(&self.cp.failures)
    }

    pub(crate) fn report(&self, outcome: Outcome, elapsed: Duration, resumed: bool) -> RunReport {
        RunReport {
            outcome,
            output: self.out.path().to_path_buf(),
            records: self.cp.records,
            rows: self.cp.rows,
            records_with_rows: self.cp.records_with_rows,
            failures: self.cp.failures.clone(),
            parts: self.cp.parts.len(),
            elapsed,
            resumed,
        }
    }

    /// The end of a complete run: an empty part if there is none (so readers
    /// of `part-*.parquet` find the schema), `_errors.csv`, `_manifest.json`
    /// and `_SUCCESS` last.
    pub(crate) fn finish(
        &mut self,
        cfg: &RunConfig,
        hash: &str,
        http: &ClientStats,
        elapsed: Duration,
        resumed: bool,
    ) -> Result<RunReport, LoadError> {
        self.commit()?;
        if empty_part_if_none(&self.out, &mut self.cp, self.schema.clone(), &self.opts)? {
            self.counters.parts.fetch_add(1, Ordering::Relaxed);
        }
        self.write_errors()?;
        let outcome = if self.cp.failures.is_empty() {
            Outcome::Complete
        } else {
            Outcome::CompleteWithFailures
        };
        let secs = |ns: &std::sync::atomic::AtomicU64| ns.load(Ordering::Relaxed) as f64 / 1e9;
        let plan = &cfg.plan;
        let manifest = serde_json::json!({
            "smartsweep_version": env!("CARGO_PKG_VERSION"),
            "status": match outcome { Outcome::Complete => "complete", _ => "complete_with_failures" },
            "pipeline": {
                "name": plan.name,
                "file": plan.source_file.display().to_string(),
                "hash": hash,
                "resource": plan.resource,
                "filters": plan.filters,
                "page_size": plan.page_size,
                "sparql": plan.sparql,
                "columns": plan.columns.iter().map(|(k, v)| (k.clone(), v.to_string())).collect::<BTreeMap<_, _>>(),
                "format": plan.format.to_string(),
                "compression": plan.compression.to_string(),
            },
            "run_id": self.cp.run_id,
            "api_base": cfg.client.api_base,
            "app_id": plan.app_id,
            "mode": self.cp.mode,
            "started_at": self.cp.started_at,
            "finished_at": chrono::Utc::now().to_rfc3339(),
            "elapsed_s_this_invocation": elapsed.as_secs_f64(),
            "resumed": resumed,
            "concurrency": cfg.concurrency,
            "records": self.cp.records,
            "rows": self.cp.rows,
            "failed": self.cp.failures.len(),
            "failures": self.cp.failures,
            "parts": self.cp.parts,
            "conversions": self.cp.conversions,
            // Busy time per stage, summed over concurrent records: at 16
            // fetches in flight, "fetch" grows 16 times faster than the clock.
            "stage_busy_seconds": {
                "fetch": secs(&self.times.fetch_ns),
                "transform": secs(&self.times.transform_ns),
                "write": secs(&self.times.write_ns),
            },
            "http": {
                "requests": http.requests,
                "retries": http.retries,
                "token_remints": http.remints,
            },
        });
        self.out.finish(&manifest)?;
        Ok(self.report(outcome, elapsed, resumed))
    }
}
