//! `_manifest.json`: what a finished run wrote, read back by `--seeds-from`,
//! `report`, `verify`, `status`, `commit` and a resumed scheduler task.
//!
//! One serde type for writers and readers, so a field cannot be written
//! under one name and read under another. Fields added after the first
//! release are `#[serde(default)]`, so an older manifest still reads.

use crate::checkpoint::{ChainState, CommittedPart, ConversionStat, Mode, Sample};
use crate::failure::RecordFailure;
use crate::record::RecordId;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// How a finished run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RunStatus {
    /// Every record exported.
    Complete,
    /// Finished; some records (or some tables of some records) failed.
    CompleteWithFailures,
}

/// One table of the pipeline, as run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableInfo {
    /// The table's name.
    pub name: String,
    /// Its directory under the output (`""`: the output itself).
    pub dir: String,
    /// The container resource it projects.
    pub resource: String,
    /// Container filters sent with the fetch.
    #[serde(default)]
    pub filters: BTreeMap<String, String>,
    /// `limit` per request, if paged.
    #[serde(default)]
    pub page_size: Option<u32>,
    /// The SPARQL SELECT.
    pub sparql: String,
    /// Declared column types (variables not listed are strings).
    #[serde(default)]
    pub columns: BTreeMap<String, String>,
    /// The table's partition columns (Hive directories), when it has any.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_by: Vec<String>,
}

/// The pipeline a run ran.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PipelineInfo {
    /// Its name.
    pub name: String,
    /// The file it came from (or a template's name).
    pub file: String,
    /// The hash checkpoints and finished outputs are matched against.
    pub hash: String,
    /// Every table.
    #[serde(default)]
    pub tables: Vec<TableInfo>,
    /// `parquet`, `csv` or `delta`.
    pub format: String,
    /// The Parquet codec.
    pub compression: String,
    /// Partition columns (Hive-style directories).
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// The single table's resource (single-table pipelines; kept for
    /// readers of the first manifest format).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource: Option<String>,
    /// The single table's query (single-table pipelines).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sparql: Option<String>,
}

/// One table's result.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TableSummary {
    /// Its directory under the output.
    pub dir: String,
    /// Rows written.
    pub rows: u64,
    /// Records with at least one row.
    pub records_with_rows: u64,
    /// Records for which this table failed (not counting whole-record
    /// failures).
    #[serde(default)]
    pub failed: u64,
    /// Its committed parts (paths from the output root).
    pub parts: Vec<CommittedPart>,
    /// Type-conversion problems per column.
    #[serde(default)]
    pub conversions: BTreeMap<String, ConversionStat>,
}

/// Busy time per stage, summed over concurrent records (at 16 fetches in
/// flight, `fetch` grows 16 times faster than the clock).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StageBusy {
    /// Token and data requests.
    pub fetch: f64,
    /// Parsing and the query.
    pub transform: f64,
    /// Encoding and committing parts.
    pub write: f64,
}

/// A latency histogram: counts per bucket, bucket `i` holding the requests
/// that took less than `bounds_ms[i]` (and at least the previous bound);
/// the last count is everything slower than the last bound.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Histogram {
    /// Upper bounds of the buckets, in milliseconds.
    pub bounds_ms: Vec<u64>,
    /// Counts; one more than `bounds_ms`.
    pub counts: Vec<u64>,
}

/// What the HTTP client did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HttpSummary {
    /// Requests sent (every attempt).
    pub requests: u64,
    /// Retries decided.
    pub retries: u64,
    /// Tokens re-minted after a 401 on a data call.
    pub token_remints: u64,
    /// Retries by cause (`http_503`, `timeout`, `truncated`, `connection`, ...).
    #[serde(default)]
    pub retries_by_cause: BTreeMap<String, u64>,
    /// Latency per endpoint class (`cursor`, `token`, `data`).
    #[serde(default)]
    pub latency: BTreeMap<String, Histogram>,
}

/// One of the slowest records of a run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SlowRecord {
    /// The record.
    pub record_id: RecordId,
    /// Its fetch and transform time, in milliseconds.
    pub ms: f64,
}

/// One chain of the run.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChainSummary {
    /// Its first record (`None`: the cursor's `first`).
    pub start: Option<RecordId>,
    /// Where it stopped (exclusive).
    #[serde(default)]
    pub stop: Vec<RecordId>,
    /// Records it visited.
    pub records: u64,
}

impl From<&ChainState> for ChainSummary {
    fn from(c: &ChainState) -> Self {
        ChainSummary {
            start: c.start.clone(),
            stop: c.stop.clone(),
            records: c.position,
        }
    }
}

/// An audit's result (`smartsweep audit`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditSummary {
    /// The codes asked for.
    pub codes: Vec<String>,
    /// Matching rows per code.
    pub matches: BTreeMap<String, u64>,
    /// Records with at least one match.
    pub matched_records: u64,
    /// `complete` or `INCOMPLETE: ...`: whether "no match" is proven.
    pub coverage: String,
}

/// `_manifest.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Manifest {
    /// The smartsweep that wrote it.
    pub smartsweep_version: String,
    /// How the run ended.
    pub status: RunStatus,
    /// What ran.
    pub pipeline: PipelineInfo,
    /// The run's id (kept across resumes).
    pub run_id: String,
    /// The scheduler's run key (`--run-key`), when given or used.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub run_key: Option<String>,
    /// The container.
    pub api_base: String,
    /// The background app.
    pub app_id: String,
    /// Cursor or known ids.
    pub mode: Mode,
    /// When the first invocation started (RFC 3339).
    pub started_at: String,
    /// When it finished (RFC 3339).
    pub finished_at: String,
    /// Wall time of the last invocation.
    pub elapsed_s_this_invocation: f64,
    /// Wall time summed over every invocation of the run.
    #[serde(default)]
    pub elapsed_s: f64,
    /// True when the last invocation resumed a checkpoint.
    pub resumed: bool,
    /// Fetches in flight at most.
    pub concurrency: usize,
    /// The chains walked.
    #[serde(default)]
    pub chains: Vec<ChainSummary>,
    /// Records done (exported or failed).
    pub records: u64,
    /// Rows over every table.
    pub rows: u64,
    /// Number of failures.
    pub failed: usize,
    /// Every failure.
    pub failures: Vec<RecordFailure>,
    /// Every committed part of every table.
    pub parts: Vec<CommittedPart>,
    /// Per table.
    #[serde(default)]
    pub tables: BTreeMap<String, TableSummary>,
    /// Type-conversion problems per column (single-table pipelines; per
    /// table in `tables`).
    #[serde(default)]
    pub conversions: BTreeMap<String, ConversionStat>,
    /// Busy time per stage.
    pub stage_busy_seconds: StageBusy,
    /// What the HTTP client did.
    pub http: HttpSummary,
    /// Records and rows over time.
    #[serde(default)]
    pub timeline: Vec<Sample>,
    /// The slowest records (fetch + transform).
    #[serde(default)]
    pub slowest_records: Vec<SlowRecord>,
    /// Record ids sampled along the walk, in walk order: seeds for a later
    /// run's `--chains` (`--seeds-from`).
    #[serde(default)]
    pub seeds: Vec<RecordId>,
    /// An audit's result.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub audit: Option<AuditSummary>,
}

impl Manifest {
    /// Parses a manifest; the error says what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Result<Vec<u8>, String> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        Ok(bytes)
    }
}

/// `_plan.json`: a sharded run's chains and which shard runs which
/// (`smartsweep plan`; read by every shard and by `smartsweep commit`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardPlan {
    /// The smartsweep that wrote it.
    pub smartsweep_version: String,
    /// The pipeline's name.
    pub pipeline: String,
    /// The pipeline's hash: shards refuse to run another pipeline.
    pub pipeline_hash: String,
    /// Per chain, its candidate starts (chain 0's list is empty: it starts
    /// at `first`).
    pub chains: Vec<Vec<RecordId>>,
    /// Per shard, the chains it runs (consecutive, in order).
    pub shards: Vec<Vec<u32>>,
}

impl ShardPlan {
    /// Parses a plan; the error says what is wrong.
    pub fn from_json(bytes: &[u8]) -> Result<ShardPlan, String> {
        serde_json::from_slice(bytes).map_err(|e| e.to_string())
    }

    /// Pretty JSON with a trailing newline.
    pub fn to_json(&self) -> Result<Vec<u8>, String> {
        let mut bytes = serde_json::to_vec_pretty(self).map_err(|e| e.to_string())?;
        bytes.push(b'\n');
        Ok(bytes)
    }

    /// The control directory of shard `i`: `_shards/00003`.
    pub fn control_dir(i: usize) -> String {
        format!("{}/{i:05}", super::names::SHARDS_DIR)
    }
}
