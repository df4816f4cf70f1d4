//! The engine: a run from claiming the output to `_SUCCESS`.
//!
//! ```text
//! chain 0 ─┐                                         ┌─► parts per table
//! chain 1 ─┼─► fetch ──► transform ──► reorder ──► sink ──► commit
//! ...     ─┘  (N in      (blocking,    (bounded    (per chain: open parts,
//! (serial     flight)    cores)        window,      checkpoint)
//!  each)                               per chain)
//! ```
//!
//! A [`run::Run`] goes through named phases: open the destination, start
//! the source, drive the stages, drain and finish.
//!
//! - One *producer* task per chain walks the cursor from the chain's start
//!   to its stop (or mints tokens for known ids) into a bounded channel:
//!   when the channel is full it waits, which is the backpressure on each
//!   serial chain ([`source`]).
//! - Each record becomes a future that fetches every resource its tables
//!   need (at most `concurrency` requests at a time over the whole run, a
//!   semaphore), then transforms all its tables on the blocking pool (at
//!   most one record per core) ([`work`]). Per chain, `buffered(window)`
//!   runs up to `window` of them and yields them **in that chain's order**:
//!   the reorder window. Memory is bounded by the chains times the window
//!   times the largest record.
//! - The *sink* appends each record's rows to its chain's open parts,
//!   closes them every `part_records` records or `part_interval`, and only
//!   then moves that chain's watermark in the checkpoint ([`sink`]).
//!
//! Shutdown follows vector: only the producers are told to stop; everything
//! in flight drains, the complete records are committed, and the checkpoint
//! is left for a resume.

mod run;
mod sink;
mod source;
mod stats;
mod work;

pub use run::{run, run_into};
pub use source::Source;
pub(crate) use work::Work;

use crate::extract::{ClientConfig, ExtractError};
use crate::failure::RecordFailure;
use crate::load::LoadError;
use crate::pipeline::Plan;
use crate::record::RecordId;
use sha2::{Digest, Sha256};
use std::path::PathBuf;
use std::time::Duration;
use tokio::sync::watch;

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
    /// Cursor (one chain or several) or known ids.
    pub source: Source,
    /// Object-store options, the run key and the write mode.
    pub destination: crate::load::destination::DestinationOptions,
    /// Fetches in flight at most.
    pub concurrency: usize,
    /// Records between a chain's cursor and the sink at most (the reorder
    /// window).
    pub window: usize,
    /// Close a chain's parts after this many records.
    pub part_records: u64,
    /// ... or after this long, whichever comes first.
    pub part_interval: Duration,
    /// Abort on too many failed records.
    pub max_failed: Option<MaxFailed>,
    /// Abort when the first this-many records all failed for one cause (the
    /// run-level circuit breaker); 0 turns it off.
    pub breaker: u64,
    /// Start over even if the output is finished or made by another pipeline.
    pub fresh: bool,
    /// Stop after this many records (`preview`).
    pub limit: Option<u64>,
    /// This run is one shard of a sharded run (`--shard I/N`).
    pub shard: Option<Shard>,
    /// An audit's codes: the manifest then counts the first table's rows
    /// per value of its `rxnorm` column and states the coverage.
    pub audit: Option<Vec<String>>,
    /// Parquet row group bound in rows: the budget of every open writer
    /// together (see [`row_group_share`]).
    pub row_group_rows: usize,
    /// Parquet row group bound in bytes: the budget of every open writer
    /// together (see [`row_group_share`]).
    pub row_group_bytes: usize,
}

/// The least a writer's row group may be given when the budget is shared.
pub const MIN_ROW_GROUP_ROWS: usize = 1024;
/// The least a writer's row group may be given, in bytes.
pub const MIN_ROW_GROUP_BYTES: usize = 1024 * 1024;

/// Each open writer's share of the row-group budget: a run keeps one open
/// row group per table per chain, so a population run with 9 tables (or 16
/// chains) would otherwise hold 9 (or 144) full row groups in memory. The
/// share never goes under [`MIN_ROW_GROUP_ROWS`] / [`MIN_ROW_GROUP_BYTES`].
pub fn row_group_share(rows: usize, bytes: usize, writers: usize) -> (usize, usize) {
    let n = writers.max(1);
    (
        (rows / n).max(MIN_ROW_GROUP_ROWS.min(rows)),
        (bytes / n).max(MIN_ROW_GROUP_BYTES.min(bytes)),
    )
}

impl RunConfig {
    /// Defaults for everything but the plan, the client and the source.
    pub fn new(plan: Plan, client: ClientConfig, source: Source) -> Self {
        RunConfig {
            plan,
            client,
            source,
            destination: Default::default(),
            concurrency: 16,
            window: 64,
            part_records: 10_000,
            part_interval: Duration::from_secs(60),
            max_failed: None,
            breaker: DEFAULT_BREAKER,
            fresh: false,
            limit: None,
            shard: None,
            audit: None,
            // Small enough that the open row group (held in memory until it
            // is flushed) does not dominate memory; large enough for readers
            // (DuckDB's own default is 122,880 rows).
            row_group_rows: 16 * 1024,
            row_group_bytes: 8 * 1024 * 1024,
        }
    }
}

/// One shard of a sharded run: its number, and the plan's chains it runs
/// (its control files live in `_shards/<index>/`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shard {
    /// 0-based shard number.
    pub index: usize,
    /// Number of shards in the plan.
    pub count: usize,
    /// The chains of the plan this shard runs.
    pub chains: Vec<u32>,
}

/// The circuit breaker's default: the first 50 records all failing for
/// one cause abort the run.
pub const DEFAULT_BREAKER: u64 = 50;

/// How a run ended (when it did not abort).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Every record exported; `_SUCCESS` written.
    Complete,
    /// Finished, but some records failed (listed in `_errors.csv`).
    CompleteWithFailures,
    /// Stopped by a signal; the checkpoint is ready for a resume.
    Interrupted,
    /// The output was already finished by an earlier run of the same
    /// pipeline: nothing to do.
    AlreadyFinished,
}

/// What a run did.
#[derive(Debug, Clone)]
pub struct RunReport {
    /// How it ended.
    pub outcome: Outcome,
    /// The output (credentials redacted).
    pub output: String,
    /// Records done (this run and the runs it resumed).
    pub records: u64,
    /// Rows written, over every table.
    pub rows: u64,
    /// Rows and matched records per table, in plan order.
    pub tables: Vec<TableReport>,
    /// Every failed record.
    pub failures: Vec<RecordFailure>,
    /// Records with at least one row in the first table.
    pub records_with_rows: u64,
    /// Parts committed.
    pub parts: usize,
    /// Wall time of this invocation.
    pub elapsed: Duration,
    /// True when this run resumed a checkpoint.
    pub resumed: bool,
    /// Chains walked.
    pub chains: usize,
}

/// One table's result in a [`RunReport`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableReport {
    /// The table.
    pub name: String,
    /// Rows written.
    pub rows: u64,
    /// Records with at least one row.
    pub records_with_rows: u64,
    /// Failures of this table (whole-record failures included).
    pub failed: u64,
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
        "aborted: {failed} of {seen} records failed, more than --max-failed allows\n  hint: see `{errors}` for the failed records; fix the cause and re-run the same command to resume"
    )]
    TooManyFailures {
        /// Records failed.
        failed: u64,
        /// Records seen.
        seen: u64,
        /// Where the failures were written.
        errors: String,
    },
    /// Every record so far failed for the same cause.
    #[error("aborted: {message}\n  hint: {hint}")]
    Breaker {
        /// What failed, how often.
        message: String,
        /// What to check.
        hint: String,
    },
    /// The command line asked for something that cannot be done (found
    /// before any record data was fetched).
    #[error("{message}\n  hint: {hint}")]
    Usage {
        /// What is wrong.
        message: String,
        /// What to do.
        hint: String,
    },
    /// A bug or a crashed task.
    #[error("internal error: {0}")]
    Internal(String),
}

/// A stop signal for a run: when it turns true, the producers stop and the
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
        // Keep the sender alive for ever so `wait` never resolves.
        std::mem::forget(tx);
        Shutdown(rx)
    }

    async fn wait(&mut self) {
        let _ = self.0.wait_for(|v| *v).await;
    }
}

/// The hash a checkpoint is made under: the pipeline's, plus the known-id
/// list or the chain plan when there is one (another list is another run).
pub fn run_hash(plan: &Plan, source: &Source) -> String {
    let hex = |d: &[u8]| d.iter().map(|b| format!("{b:02x}")).collect::<String>();
    let mut h = Sha256::new();
    h.update(plan.hash().as_bytes());
    let ids = |h: &mut Sha256, ids: &[RecordId]| {
        for id in ids {
            h.update(id.as_str().as_bytes());
            h.update(b"\n");
        }
    };
    match source {
        Source::Cursor => return plan.hash(),
        Source::Known(list) => {
            h.update(b"\0known\0");
            ids(&mut h, list);
        }
        Source::Chains(chains) => {
            h.update(b"\0chains\0");
            for c in chains {
                h.update(b"\0chain\0");
                ids(&mut h, c);
            }
        }
    }
    hex(&h.finalize())
}

/// Where the failures of a run are listed, for messages.
fn errors_location(dest: &str) -> String {
    let p = PathBuf::from(dest).join(crate::load::ERRORS_FILE);
    p.display().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_row_group_budget_is_shared_by_the_open_writers() {
        let (rows, bytes) = (16 * 1024, 8 * 1024 * 1024);
        assert_eq!(row_group_share(rows, bytes, 1), (rows, bytes));
        assert_eq!(row_group_share(rows, bytes, 0), (rows, bytes));
        assert_eq!(row_group_share(rows, bytes, 4), (4096, 2 * 1024 * 1024));
        // 9 tables x 16 chains: the floor, not a sliver.
        assert_eq!(
            row_group_share(rows, bytes, 144),
            (MIN_ROW_GROUP_ROWS, MIN_ROW_GROUP_BYTES)
        );
        // A budget under the floor (tests use tiny ones) stays as given.
        assert_eq!(row_group_share(10, 100, 9), (10, 100));
    }

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
