//! The sink side of a run: each chain's records, in that chain's order, go
//! into its open parts (one per table); a commit closes them and only then
//! moves the checkpoint.
//!
//! Invariant: everything in the checkpoint (each chain's watermark and
//! position, each table's parts, rows and conversion counts, the failures)
//! describes exactly the records up to each chain's watermark, all of whose
//! rows are in committed parts. Later records are in memory or in
//! `.inprogress` files only, and a resume redoes them.

use super::stats::{Slowest, StageTimes};
use super::work::Done;
use crate::checkpoint::{Checkpoint, Sample, TableState};
use crate::failure::RecordFailure;
use crate::load::names::part_file_name;
use crate::load::{Destination, LoadError, TableWriter, WriterOptions};
use crate::progress::Counters;
use crate::record::RecordId;
use arrow_schema::SchemaRef;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Instant;

/// One table as the sink sees it.
#[derive(Debug, Clone)]
pub(crate) struct SinkTable {
    pub name: String,
    pub dir: String,
    pub schema: SchemaRef,
}

/// One chain's uncommitted records.
#[derive(Debug, Default)]
struct Pending {
    writers: Vec<Option<TableWriter>>,
    ids: Vec<RecordId>,
    tables: Vec<TableState>,
    failures: Vec<RecordFailure>,
}

/// The sink of a run: the destination, the checkpoint, and every chain's
/// pending records.
pub(crate) struct Sink {
    pub dest: Box<dyn Destination>,
    pub cp: Checkpoint,
    tables: Vec<SinkTable>,
    opts: WriterOptions,
    pending: Vec<Pending>,
    /// Parts are named with their chain when the run has several.
    chain_names: bool,
    counters: Arc<Counters>,
    times: Arc<StageTimes>,
    pub slowest: Slowest,
    /// Seconds of earlier invocations, and when this one started.
    elapsed_before: f64,
    started: Instant,
}

impl Sink {
    pub(crate) fn new(
        dest: Box<dyn Destination>,
        cp: Checkpoint,
        (tables, chain_names): (Vec<SinkTable>, bool),
        opts: WriterOptions,
        counters: Arc<Counters>,
        times: Arc<StageTimes>,
    ) -> Sink {
        let chains = cp.chains.len();
        let pending = (0..chains)
            .map(|_| Pending {
                writers: tables.iter().map(|_| None).collect(),
                tables: tables.iter().map(|_| TableState::default()).collect(),
                ..Pending::default()
            })
            .collect();
        Sink {
            elapsed_before: cp.elapsed_s,
            dest,
            cp,
            tables,
            opts,
            pending,
            chain_names,
            counters,
            times,
            slowest: Slowest::default(),
            started: Instant::now(),
        }
    }

    /// Adds a progress sample (records and rows taken so far, committed or
    /// not) to the timeline; it is stored with the next commit.
    pub(crate) fn sample_now(&mut self) {
        let records = self.counters.records.load(Ordering::Relaxed);
        let rows = self.counters.rows.load(Ordering::Relaxed);
        let t = self.elapsed_s();
        self.cp.sample(Sample { t, records, rows });
    }

    /// Seconds of the run so far, over every invocation.
    pub(crate) fn elapsed_s(&self) -> f64 {
        self.elapsed_before + self.started.elapsed().as_secs_f64()
    }

    fn part_name(&self, chain: usize) -> String {
        let state = self.cp.chains.get(chain);
        let index = state.map_or(0, |c| c.next_part);
        let c = self
            .chain_names
            .then(|| state.map_or(chain as u32, |c| c.index));
        part_file_name(c, index, self.opts.format.extension())
    }

    /// Takes one record's result (chain `chain`).
    pub(crate) fn add(&mut self, chain: usize, done: Done) -> Result<(), LoadError> {
        self.slowest.add(&done.record_id, done.elapsed);
        let t0 = Instant::now();
        let mut failed = false;
        match done.tables {
            Err(f) => {
                tracing::warn!("{f}");
                self.pending[chain].failures.push(f);
                failed = true;
            }
            Ok(results) => {
                for (t, result) in results.into_iter().enumerate() {
                    match result {
                        Ok(rows) => self.add_rows(chain, t, rows)?,
                        Err(f) => {
                            tracing::warn!("{f}");
                            self.pending[chain].failures.push(f);
                            failed = true;
                        }
                    }
                }
            }
        }
        StageTimes::add(&self.times.write_ns, t0);
        self.pending[chain].ids.push(done.record_id);
        self.counters.records.fetch_add(1, Ordering::Relaxed);
        if failed {
            self.counters.failed.fetch_add(1, Ordering::Relaxed);
        }
        Ok(())
    }

    fn add_rows(
        &mut self,
        chain: usize,
        t: usize,
        rows: crate::transform::RecordRows,
    ) -> Result<(), LoadError> {
        let n = rows.batch.num_rows() as u64;
        if n > 0 {
            if self.pending[chain].writers[t].is_none() {
                let name = self.part_name(chain);
                let table = &self.tables[t];
                self.pending[chain].writers[t] =
                    Some(TableWriter::new(&table.dir, &name, table.schema.clone()));
            }
            if let Some(w) = self.pending[chain].writers[t].as_mut() {
                w.write(self.dest.as_ref(), &self.opts, &rows.batch)?;
            }
        }
        let state = &mut self.pending[chain].tables[t];
        for issue in rows.conversions {
            state
                .conversions
                .entry(issue.column)
                .or_default()
                .record(&issue.value);
        }
        state.rows += n;
        state.records_with_rows += u64::from(n > 0);
        self.counters.rows.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    /// Records chain `chain` has taken since its last commit.
    pub(crate) fn pending_records(&self, chain: usize) -> usize {
        self.pending[chain].ids.len()
    }

    /// Closes chain `chain`'s open parts and then moves the checkpoint past
    /// its pending records. Nothing pending: nothing to do.
    pub(crate) fn commit(&mut self, chain: usize) -> Result<(), LoadError> {
        if self.pending[chain].ids.is_empty() {
            return Ok(());
        }
        let t0 = Instant::now();
        // The next checkpoint is built aside and only becomes ours once it
        // is stored: a failed store leaves `self.cp` as it is stored.
        let mut cp = self.cp.clone();
        let pending = &mut self.pending[chain];
        let mut wrote = false;
        for (t, slot) in pending.writers.iter_mut().enumerate() {
            if let Some(w) = slot.take() {
                let parts = w.finish()?;
                wrote |= !parts.is_empty();
                self.counters
                    .parts
                    .fetch_add(parts.len() as u64, Ordering::Relaxed);
                pending.tables[t].parts = parts;
            }
        }
        if wrote && let Some(c) = cp.chains.get_mut(chain) {
            c.next_part += 1;
        }
        for (t, state) in pending.tables.iter_mut().enumerate() {
            cp.table_mut(&self.tables[t].name).merge(state);
            *state = TableState::default();
        }
        for id in pending.ids.drain(..) {
            cp.mark_done(chain, &id);
        }
        cp.failures.append(&mut pending.failures);
        cp.elapsed_s = self.elapsed_before + self.started.elapsed().as_secs_f64();
        cp.sample(Sample {
            t: cp.elapsed_s,
            records: cp.records,
            rows: cp.rows(),
        });
        self.dest.store_checkpoint(&cp)?;
        self.cp = cp;
        StageTimes::add(&self.times.write_ns, t0);
        Ok(())
    }

    /// Commits every chain.
    pub(crate) fn commit_all(&mut self) -> Result<(), LoadError> {
        for c in 0..self.pending.len() {
            self.commit(c)?;
        }
        Ok(())
    }

    /// Notes that chain `chain` reached its end (after its last commit).
    pub(crate) fn chain_finished(&mut self, chain: usize) -> Result<(), LoadError> {
        self.commit(chain)?;
        let mut cp = self.cp.clone();
        if let Some(c) = cp.chains.get_mut(chain) {
            if c.finished {
                return Ok(());
            }
            c.finished = true;
        }
        self.dest.store_checkpoint(&cp)?;
        self.cp = cp;
        Ok(())
    }

    /// Drops every open part after a write error; the checkpoint stays as
    /// it was.
    pub(crate) fn abandon(&mut self) {
        for p in &mut self.pending {
            for w in p.writers.iter_mut().filter_map(Option::take) {
                w.abort();
            }
        }
    }

    /// `_errors.csv` from the committed failures (kept current while a run
    /// is interrupted or aborted, so an on-call engineer can look).
    pub(crate) fn write_errors(&self) -> Result<(), LoadError> {
        self.dest.write_errors(&self.cp.failures)
    }

    /// Gives every table without a part an empty one, so that readers of
    /// `part-*.parquet` find the schema. Returns how many it wrote.
    pub(crate) fn empty_parts(&mut self) -> Result<u64, LoadError> {
        if self.cp.chains.is_empty() {
            // A shard whose chains were all dropped writes nothing.
            return Ok(0);
        }
        let mut cp = self.cp.clone();
        let mut wrote = 0;
        for table in &self.tables {
            if !cp.table_mut(&table.name).parts.is_empty() {
                continue;
            }
            let name = self.part_name(0);
            let path = if table.dir.is_empty() {
                name
            } else {
                format!("{}/{name}", table.dir)
            };
            let part = crate::load::empty_part(
                self.dest.as_ref(),
                &path,
                table.schema.clone(),
                &self.opts,
            )?;
            cp.table_mut(&table.name).parts.push(part);
            wrote += 1;
        }
        if wrote > 0 {
            if let Some(c) = cp.chains.get_mut(0) {
                c.next_part += 1;
            }
            self.dest.store_checkpoint(&cp)?;
            self.cp = cp;
            self.counters.parts.fetch_add(wrote, Ordering::Relaxed);
        }
        Ok(wrote)
    }
}
