//! The resumable state of a run: `_checkpoint.json`.
//!
//! The engine updates a [`Checkpoint`] after every commit and hands it to
//! its [`Destination`](crate::load::Destination), which replaces the stored
//! one atomically. The file is versioned ([`VERSION`]): a checkpoint written
//! by another version of smartsweep is refused rather than misread.
//!
//! What it promises: for each chain (one unless `--chains`), every row of
//! every table of the records up to and including its `watermark` (in
//! known-id mode: its first `position` ids) is in one of the committed parts
//! listed under `tables`, and no row of a later record is. Failed records
//! (per record, or per record and table) are in `failures` and count as
//! done.
//!
//! This module depends on nothing but the record and failure vocabulary:
//! the load stage reads and writes checkpoints, never the reverse.

use crate::failure::RecordFailure;
use crate::record::RecordId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The checkpoint format this build writes and reads.
pub const VERSION: u32 = 2;

/// How many committed record ids [`ChainState::recent_ids`] keeps.
pub const RECENT_IDS: usize = 16;

/// How many example values a [`ConversionStat`] keeps.
pub const CONVERSION_EXAMPLES: usize = 5;

/// How the run walks the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The container's token cursor (`first`/`next`), in one or more chains;
    /// each chain resumes after its watermark.
    Cursor,
    /// A list of known ids (`--records-from`); resumes at `position`.
    KnownIds,
}

/// Values of one column that did not convert to the declared type (a null
/// was written instead).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConversionStat {
    /// How many values did not convert.
    pub count: u64,
    /// The first [`CONVERSION_EXAMPLES`] of them.
    pub examples: Vec<String>,
}

impl ConversionStat {
    /// Counts one more unconvertible value, keeping it as an example while
    /// there are fewer than [`CONVERSION_EXAMPLES`] distinct ones.
    pub fn record(&mut self, value: &str) {
        self.count += 1;
        self.keep_example(value);
    }

    /// Adds another tally (the pending records of a part) to this one.
    pub fn merge(&mut self, other: &ConversionStat) {
        self.count += other.count;
        for value in &other.examples {
            self.keep_example(value);
        }
    }

    fn keep_example(&mut self, value: &str) {
        if self.examples.len() < CONVERSION_EXAMPLES && !self.examples.iter().any(|e| e == value) {
            self.examples.push(value.to_owned());
        }
    }
}

/// A part that is complete and visible under its final name: what the
/// checkpoint and the manifest record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommittedPart {
    /// Path relative to the output root, `/`-separated, e.g.
    /// `part-00000.parquet` or `labs/part-00003-00012.parquet`.
    pub file: String,
    /// Number of data rows (the CSV header is not a row).
    pub rows: u64,
    /// Size in bytes.
    pub bytes: u64,
    /// SHA-256 of the bytes, lowercase hex.
    pub sha256: String,
    /// Hive-style partition values of the part (`partition_by`), in order.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition: Vec<(String, String)>,
}

/// One cursor chain's progress (known-id mode has exactly one).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainState {
    /// The chain's number in the run's chain plan (its part files are
    /// named with it when the run has several chains; a shard of a sharded
    /// run holds some of the plan's chains).
    #[serde(default)]
    pub index: u32,
    /// Where the chain begins: `None` is the container's `first`; an id is
    /// the chain's own first record (its seed, known to exist).
    pub start: Option<RecordId>,
    /// Where the chain ends, exclusive: the starts of the chains after it.
    /// Empty: it walks to the end of the cursor.
    #[serde(default)]
    pub stop: Vec<RecordId>,
    /// The last record id whose rows are all committed.
    pub watermark: Option<RecordId>,
    /// Records of this chain done (committed or failed); in known-id mode,
    /// the index into the id list to resume at.
    pub position: u64,
    /// The last [`RECENT_IDS`] done ids, newest last: a fallback when the
    /// watermark record has vanished from the container.
    pub recent_ids: Vec<RecordId>,
    /// The chain reached its end and everything it saw is committed.
    #[serde(default)]
    pub finished: bool,
    /// Index of the next part file this chain writes.
    #[serde(default)]
    pub next_part: u32,
    /// Ids sampled along the chain, one every `sample_stride` records, in
    /// walk order: seeds for a later run's `--chains` (bounded by
    /// [`SAMPLES_PER_CHAIN`]).
    #[serde(default)]
    pub samples: Vec<RecordId>,
    /// See `samples`.
    #[serde(default)]
    pub sample_stride: u64,
}

/// Most ids [`ChainState::samples`] keeps; beyond it every other one is
/// dropped and the stride doubles.
pub const SAMPLES_PER_CHAIN: usize = 1024;

impl ChainState {
    /// A chain that has done nothing yet.
    pub fn new(start: Option<RecordId>, stop: Vec<RecordId>) -> ChainState {
        ChainState {
            start,
            stop,
            ..ChainState::default()
        }
    }

    /// Notes that `record_id` is done: moves the watermark, the position and
    /// the recent ids.
    pub fn mark_done(&mut self, record_id: &RecordId) {
        self.watermark = Some(record_id.clone());
        let stride = self.sample_stride.max(1);
        if self.position.is_multiple_of(stride) {
            self.samples.push(record_id.clone());
            if self.samples.len() > SAMPLES_PER_CHAIN {
                let mut i = 0;
                self.samples.retain(|_| {
                    i += 1;
                    i % 2 == 1
                });
                self.sample_stride = stride * 2;
            }
        }
        self.position += 1;
        self.recent_ids.push(record_id.clone());
        if self.recent_ids.len() > RECENT_IDS {
            let extra = self.recent_ids.len() - RECENT_IDS;
            self.recent_ids.drain(..extra);
        }
    }
}

/// One output table's committed state.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableState {
    /// Committed parts, in commit order.
    pub parts: Vec<CommittedPart>,
    /// Rows in the committed parts.
    pub rows: u64,
    /// Records with at least one row in this table (an audit's "matched").
    pub records_with_rows: u64,
    /// Type-conversion problems per column.
    pub conversions: BTreeMap<String, ConversionStat>,
}

impl TableState {
    /// Adds `other` (a commit's pending state) to this one.
    pub fn merge(&mut self, other: &TableState) {
        self.parts.extend(other.parts.iter().cloned());
        self.rows += other.rows;
        self.records_with_rows += other.records_with_rows;
        for (col, stat) in &other.conversions {
            self.conversions.entry(col.clone()).or_default().merge(stat);
        }
    }
}

/// One sample of a run's progress, for the report's rate chart.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Seconds since the run started (summed over resumed invocations).
    pub t: f64,
    /// Records done so far.
    pub records: u64,
    /// Rows committed or pending so far.
    pub rows: u64,
}

/// The state `_checkpoint.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`VERSION`] when written by this build.
    pub version: u32,
    /// The hash of the pipeline (and known-id list, and chain plan) the run
    /// was started with.
    pub pipeline_hash: String,
    /// The run's id (kept across resumes).
    pub run_id: String,
    /// Cursor or known ids.
    pub mode: Mode,
    /// One entry per chain, in record order.
    pub chains: Vec<ChainState>,
    /// Committed state per table (by table name).
    pub tables: BTreeMap<String, TableState>,
    /// Records that failed so far.
    pub failures: Vec<RecordFailure>,
    /// Records done (exported or failed), over every chain.
    pub records: u64,
    /// When the first run started (RFC 3339).
    pub started_at: String,
    /// Seconds spent running, summed over the runs so far.
    pub elapsed_s: f64,
    /// Progress samples (bounded; see [`Checkpoint::sample`]).
    #[serde(default)]
    pub timeline: Vec<Sample>,
    /// The claim of the process that stored this checkpoint, on stores
    /// without a lock (object stores): a random value per process, so that
    /// a run taking over an output always changes the checkpoint's bytes,
    /// and with them its version. (S3's ETag is the body's MD5: a run
    /// re-storing the checkpoint it read, unchanged, would leave the first
    /// run's conditional writes succeeding, and both would own the output.)
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub claim: Option<String>,
}

/// Most samples kept in [`Checkpoint::timeline`]; beyond it every other
/// sample is dropped, so the series covers the whole run at a coarser step.
pub const TIMELINE_SAMPLES: usize = 512;

impl Checkpoint {
    /// A checkpoint for a run that has committed nothing yet, with one
    /// chain that starts at `first`.
    pub fn new(pipeline_hash: &str, run_id: &str, mode: Mode, started_at: &str) -> Checkpoint {
        Checkpoint {
            version: VERSION,
            pipeline_hash: pipeline_hash.to_owned(),
            run_id: run_id.to_owned(),
            mode,
            chains: vec![ChainState::default()],
            tables: BTreeMap::new(),
            failures: Vec::new(),
            records: 0,
            started_at: started_at.to_owned(),
            elapsed_s: 0.0,
            timeline: Vec::new(),
            claim: None,
        }
    }

    /// The state of table `name`, created empty when missing.
    pub fn table_mut(&mut self, name: &str) -> &mut TableState {
        self.tables.entry(name.to_owned()).or_default()
    }

    /// Every committed part of every table.
    pub fn parts(&self) -> impl Iterator<Item = &CommittedPart> {
        self.tables.values().flat_map(|t| t.parts.iter())
    }

    /// Rows over every table.
    pub fn rows(&self) -> u64 {
        self.tables.values().map(|t| t.rows).sum()
    }

    /// Notes that `record_id` of chain `chain` is done.
    pub fn mark_done(&mut self, chain: usize, record_id: &RecordId) {
        if let Some(c) = self.chains.get_mut(chain) {
            c.mark_done(record_id);
        }
        self.records += 1;
    }

    /// Appends a progress sample, halving the series when it is full.
    pub fn sample(&mut self, s: Sample) {
        if self.timeline.len() >= TIMELINE_SAMPLES {
            let mut i = 0;
            self.timeline.retain(|_| {
                i += 1;
                i % 2 == 1
            });
        }
        self.timeline.push(s);
    }

    /// Serializes (pretty JSON, trailing newline).
    pub fn to_json(&self) -> Result<Vec<u8>, CheckpointError> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Parses a checkpoint, checking its version first so that another
    /// format is reported as such rather than as a parse error.
    pub fn from_json(bytes: &[u8]) -> Result<Checkpoint, CheckpointError> {
        let value: serde_json::Value =
            serde_json::from_slice(bytes).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
        let version = value
            .get("version")
            .and_then(serde_json::Value::as_u64)
            .ok_or_else(|| CheckpointError::Corrupt("no `version` number".to_owned()))?;
        if version > u64::from(VERSION) {
            return Err(CheckpointError::Newer { found: version });
        }
        if version < u64::from(VERSION) {
            return Err(CheckpointError::Older { found: version });
        }
        serde_json::from_value(value).map_err(|e| CheckpointError::Corrupt(e.to_string()))
    }
}

/// Why a checkpoint could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckpointError {
    /// Not a checkpoint this build understands.
    #[error("not a valid checkpoint: {0}")]
    Corrupt(String),
    /// Written by a newer smartsweep.
    #[error(
        "checkpoint version {found} is newer than this smartsweep understands (version {VERSION})"
    )]
    Newer {
        /// The version in the file.
        found: u64,
    },
    /// Written by an older smartsweep, in a format this one does not resume.
    #[error(
        "checkpoint version {found} was written by an older smartsweep (this one writes version {VERSION})"
    )]
    Older {
        /// The version in the file.
        found: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Stage;

    fn sample() -> Checkpoint {
        let mut cp = Checkpoint::new("abc123", "run-1", Mode::Cursor, "2026-01-01T00:00:00Z");
        cp.table_mut("meds").parts.push(CommittedPart {
            file: "part-00000.parquet".into(),
            rows: 10,
            bytes: 1234,
            sha256: "00".repeat(32),
            partition: Vec::new(),
        });
        cp.failures.push(RecordFailure {
            record_id: "r9".into(),
            table: None,
            stage: Stage::Fetch,
            http_status: Some(503),
            attempts: 5,
            message: "gave up".into(),
        });
        for i in 0..20 {
            cp.mark_done(0, &RecordId::new(format!("r{i}")));
        }
        cp.table_mut("meds")
            .conversions
            .entry("dob".into())
            .or_default()
            .record("not a date");
        cp
    }

    #[test]
    fn round_trip() {
        let cp = sample();
        let json = cp.to_json().unwrap_or_default();
        let text = String::from_utf8_lossy(&json);
        assert!(text.contains("\"mode\": \"cursor\""), "{text}");
        let back = Checkpoint::from_json(&json);
        assert_eq!(back.as_ref().ok(), Some(&cp));
    }

    #[test]
    fn mark_done_keeps_the_last_ids() {
        let cp = sample();
        let c = &cp.chains[0];
        assert_eq!(c.watermark.as_ref().map(RecordId::as_str), Some("r19"));
        assert_eq!(c.position, 20);
        assert_eq!(cp.records, 20);
        assert_eq!(c.recent_ids.len(), RECENT_IDS);
        assert_eq!(c.recent_ids.last().map(RecordId::as_str), Some("r19"));
        assert_eq!(c.recent_ids.first().map(RecordId::as_str), Some("r4"));
    }

    #[test]
    fn samples_stay_bounded_and_evenly_spread() {
        let mut c = ChainState::default();
        for i in 0..100_000u64 {
            c.mark_done(&RecordId::new(format!("{i:06}")));
        }
        assert!(c.samples.len() <= SAMPLES_PER_CHAIN);
        assert!(c.samples.len() > SAMPLES_PER_CHAIN / 2);
        assert_eq!(c.samples[0].as_str(), "000000");
        let gap = c.sample_stride;
        assert_eq!(c.samples[1].as_str(), format!("{gap:06}"));
    }

    #[test]
    fn conversion_examples_are_capped() {
        let mut s = ConversionStat::default();
        for i in 0..8 {
            s.record(&i.to_string());
        }
        assert_eq!(s.count, 8);
        assert_eq!(s.examples, ["0", "1", "2", "3", "4"]);
    }

    #[test]
    fn the_timeline_stays_bounded_and_spans_the_run() {
        let mut cp = sample();
        for i in 0..10_000u64 {
            cp.sample(Sample {
                t: i as f64,
                records: i,
                rows: i,
            });
        }
        assert!(cp.timeline.len() <= TIMELINE_SAMPLES);
        assert_eq!(cp.timeline.first().map(|s| s.records), Some(0));
        assert!(cp.timeline.last().map(|s| s.records) == Some(9_999));
    }

    #[test]
    fn other_versions_and_corrupt_files_are_refused() {
        let mut v = serde_json::to_value(sample()).unwrap_or_default();
        v["version"] = serde_json::json!(VERSION + 1);
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        assert_eq!(
            Checkpoint::from_json(&bytes),
            Err(CheckpointError::Newer {
                found: u64::from(VERSION + 1)
            })
        );
        assert_eq!(
            Checkpoint::from_json(b"{\"version\": 1}"),
            Err(CheckpointError::Older { found: 1 })
        );
        assert!(matches!(
            Checkpoint::from_json(b"{\"version\": 2, \"pipeline_hash\": "),
            Err(CheckpointError::Corrupt(_))
        ));
        assert!(matches!(
            Checkpoint::from_json(b"{}"),
            Err(CheckpointError::Corrupt(_))
        ));
        v["version"] = serde_json::json!(VERSION);
        v["surprise"] = serde_json::json!(1);
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        assert!(matches!(
            Checkpoint::from_json(&bytes),
            Err(CheckpointError::Corrupt(_))
        ));
    }
}
