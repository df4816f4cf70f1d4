//! The resumable state of a run: `_checkpoint.json`.
//!
//! The engine updates a [`Checkpoint`] after every committed part and
//! hands it to [`crate::load::OutputDir::store_checkpoint`], which replaces
//! the file atomically. The file is versioned ([`VERSION`]): a checkpoint
//! written by a newer smartsweep is refused rather than misread.
//!
//! What it promises: every row of the records counted in `position` (and,
//! in cursor mode, of every record up to and including `watermark`) is in
//! one of `parts`, and no row of a later record is. Failed records are in
//! `failures` and count as done.

use crate::failure::RecordFailure;
use crate::load::CommittedPart;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The checkpoint format this build writes and reads.
pub const VERSION: u32 = 1;

/// How many committed record ids [`Checkpoint::recent_ids`] keeps.
pub const RECENT_IDS: usize = 16;

/// How many example values a [`ConversionStat`] keeps.
pub const CONVERSION_EXAMPLES: usize = 5;

/// How the run walks the records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Mode {
    /// The container's token cursor (`first`/`next`); resumes after the
    /// watermark.
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

/// The state `_checkpoint.json` holds.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Checkpoint {
    /// Always [`VERSION`] when written by this build.
    pub version: u32,
    /// The hash of the pipeline the run was started with.
    pub pipeline_hash: String,
    /// The run's id (kept across resumes).
    pub run_id: String,
    /// Cursor or known ids.
    pub mode: Mode,
    /// Cursor mode: the last record id whose rows are all committed.
    pub watermark: Option<String>,
    /// Number of records fully done (committed or failed); in known-id mode
    /// the index into the id list to resume at.
    pub position: u64,
    /// The last [`RECENT_IDS`] done ids, newest last: a fallback when the
    /// watermark record has vanished from the container.
    pub recent_ids: Vec<String>,
    /// Committed parts, in order.
    pub parts: Vec<CommittedPart>,
    /// Records that failed so far.
    pub failures: Vec<RecordFailure>,
    /// Records done (exported or failed).
    pub records: u64,
    /// Rows in the committed parts.
    pub rows: u64,
    /// Records with at least one row (an audit's "matched").
    #[serde(default)]
    pub records_with_rows: u64,
    /// Type-conversion problems per column.
    pub conversions: BTreeMap<String, ConversionStat>,
    /// When the first run started (RFC 3339).
    pub started_at: String,
    /// Seconds spent running, summed over the runs so far.
    pub elapsed_s: f64,
}

impl Checkpoint {
    /// A checkpoint for a run that has committed nothing yet.
    pub fn new(pipeline_hash: &str, run_id: &str, mode: Mode, started_at: &str) -> Checkpoint {
        Checkpoint {
            version: VERSION,
            pipeline_hash: pipeline_hash.to_owned(),
            run_id: run_id.to_owned(),
            mode,
            watermark: None,
            position: 0,
            recent_ids: Vec::new(),
            parts: Vec::new(),
            failures: Vec::new(),
            records: 0,
            rows: 0,
            records_with_rows: 0,
            conversions: BTreeMap::new(),
            started_at: started_at.to_owned(),
            elapsed_s: 0.0,
        }
    }

    /// The index of the next part to write: one past the last committed one.
    pub fn next_part_index(&self) -> u32 {
        self.parts
            .iter()
            .filter_map(|p| crate::load::parse_part_index(&p.file))
            .max()
            .map_or(0, |i| i.saturating_add(1))
    }

    /// Notes that `record_id` is done (its rows are in committed parts, or
    /// it failed): moves the watermark, the position and the recent ids.
    pub fn mark_done(&mut self, record_id: &str) {
        self.watermark = Some(record_id.to_owned());
        self.position += 1;
        self.records += 1;
        self.recent_ids.push(record_id.to_owned());
        if self.recent_ids.len() > RECENT_IDS {
            let extra = self.recent_ids.len() - RECENT_IDS;
            self.recent_ids.drain(..extra);
        }
    }

    /// Counts an unconvertible `value` in `column`.
    pub fn record_conversion(&mut self, column: &str, value: &str) {
        self.conversions
            .entry(column.to_owned())
            .or_default()
            .record(value);
    }

    /// Serializes (pretty JSON, trailing newline).
    pub fn to_json(&self) -> Result<Vec<u8>, CheckpointError> {
        let mut bytes =
            serde_json::to_vec_pretty(self).map_err(|e| CheckpointError::Corrupt(e.to_string()))?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// Parses a checkpoint, checking its version first so that a newer
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
            return Err(CheckpointError::Corrupt(format!(
                "unknown version {version}"
            )));
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Stage;

    fn sample() -> Checkpoint {
        let mut cp = Checkpoint::new("abc123", "run-1", Mode::Cursor, "2026-01-01T00:00:00Z");
        cp.parts.push(CommittedPart {
            file: "part-00000.parquet".into(),
            rows: 10,
            bytes: 1234,
            sha256: "00".repeat(32),
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
            cp.mark_done(&format!("r{i}"));
        }
        cp.record_conversion("dob", "not a date");
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
        assert_eq!(cp.watermark.as_deref(), Some("r19"));
        assert_eq!(cp.position, 20);
        assert_eq!(cp.recent_ids.len(), RECENT_IDS);
        assert_eq!(cp.recent_ids.last().map(String::as_str), Some("r19"));
        assert_eq!(cp.recent_ids.first().map(String::as_str), Some("r4"));
        assert_eq!(cp.next_part_index(), 1);
        assert_eq!(
            Checkpoint::new("h", "r", Mode::KnownIds, "t").next_part_index(),
            0
        );
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
    fn newer_and_corrupt_are_refused() {
        let mut v = serde_json::to_value(sample()).unwrap_or_default();
        v["version"] = serde_json::json!(VERSION + 1);
        let bytes = serde_json::to_vec(&v).unwrap_or_default();
        assert_eq!(
            Checkpoint::from_json(&bytes),
            Err(CheckpointError::Newer {
                found: u64::from(VERSION + 1)
            })
        );
        assert!(matches!(
            Checkpoint::from_json(b"{\"version\": 1, \"pipeline_hash\": "),
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
