//! The load stage: where output goes, and the commit protocol that makes a
//! run exactly-once and resumable.
//!
//! The engine sees one seam, [`Destination`]: claim the output (lock or
//! conditional put; read its previous state; refuse a changed pipeline),
//! write parts, commit parts together with the checkpoint, finish
//! (`_manifest.json`, `_report.html`, `_SUCCESS`), and read a finished
//! output back. Destinations are registered in [`destination::open`] (one
//! line each):
//!
//! - [`Output`] over a [`Store`]: the commit protocol, written once, over a
//!   local directory ([`LocalStore`]) or an object store;
//! - a Delta Lake table on top of it.
//!
//! The layout is in [`names`]. The protocol (design section 3):
//!
//! 1. [`Output::open`] stores a checkpoint before anything else is written,
//!    so every part in the output is provably ours;
//! 2. [`PartWriter`] encodes a part into a [`PartSink`] (`.inprogress` temp
//!    file, or a multipart upload); [`PartWriter::finish`] makes it visible
//!    under its final name at once;
//! 3. only then does the engine add the part to the checkpoint and call
//!    [`Destination::store_checkpoint`] (atomic, or conditional on an
//!    object store);
//! 4. at the end: `_errors.csv`, `_manifest.json`, `_report.html`, then
//!    `_SUCCESS`, then the checkpoint is removed.
//!
//! **Invariant:** a part is committed if and only if the checkpoint lists
//! it. A part that became visible but was not yet checkpointed (a kill
//! between steps 2 and 3) is uncommitted: [`Output::open`] deletes it on
//! resume (its number is at or past its chain's `next_part`, which proves
//! it is ours), together with every `*.inprogress` file of ours, and the
//! engine redoes its records. So whatever instant a run dies at, the
//! committed parts plus a resume hold each row exactly once.
//!
//! Files are created 0600, without following symlinks, and directories
//! 0700: the output holds clinical data.

pub mod delta;
pub mod destination;
mod error;
mod errors_csv;
pub mod fsutil;
mod local;
pub mod manifest;
mod memory;
pub mod names;
pub mod object;
mod output;
mod part;
pub mod read;
pub mod store;
mod table;
pub mod verify;

pub use destination::{Claim, Destination, Location, Opened};
pub use error::LoadError;
pub use errors_csv::errors_csv;
pub use local::LocalStore;
pub use manifest::Manifest;
pub use memory::{MemoryFiles, MemoryStore};
pub use names::{
    CHECKPOINT_FILE, ERRORS_FILE, MANIFEST_FILE, PLAN_FILE, REPORT_FILE, SUCCESS_FILE,
    part_file_name,
};
pub use output::Output;
pub use output::empty_part;
pub use part::{CommittedPart, PartWriter, ZSTD_LEVEL};
pub use store::{PartSink, Store};
pub use table::{HIVE_DEFAULT_PARTITION, MAX_OPEN_PARTITIONS, TableWriter, hive_escape};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Apache Parquet (the default).
    #[default]
    Parquet,
    /// RFC 4180 CSV, UTF-8, a header in every part.
    Csv,
    /// A Delta Lake table (Parquet parts plus a transaction log).
    Delta,
}

impl Format {
    /// The part files' extension, without the dot.
    pub fn extension(self) -> &'static str {
        self.part_format().name()
    }

    /// The format of the part files (Delta parts are Parquet).
    pub fn part_format(self) -> Format {
        match self {
            Format::Delta => Format::Parquet,
            f => f,
        }
    }

    /// The name in pipelines and on the command line.
    pub fn name(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
            Format::Delta => "delta",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "parquet" => Ok(Format::Parquet),
            "csv" => Ok(Format::Csv),
            "delta" => Ok(Format::Delta),
            other => Err(format!(
                "unknown output format `{other}` (expected `parquet`, `csv` or `delta`)"
            )),
        }
    }
}

/// Parquet compression codec (ignored for CSV).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// zstd, level [`ZSTD_LEVEL`] (the default).
    #[default]
    Zstd,
    /// Snappy.
    Snappy,
    /// No compression.
    None,
}

impl fmt::Display for Compression {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Compression::Zstd => "zstd",
            Compression::Snappy => "snappy",
            Compression::None => "none",
        })
    }
}

impl FromStr for Compression {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "zstd" => Ok(Compression::Zstd),
            "snappy" => Ok(Compression::Snappy),
            "none" => Ok(Compression::None),
            other => Err(format!(
                "unknown compression `{other}` (expected `zstd`, `snappy` or `none`)"
            )),
        }
    }
}

/// How part files are written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WriterOptions {
    /// Parquet or CSV.
    pub format: Format,
    /// Parquet codec.
    pub compression: Compression,
    /// A Parquet row group is cut when it holds this many rows ...
    pub row_group_rows: usize,
    /// ... or when its encoded size reaches this many bytes, whichever
    /// comes first. Bounds the writer's memory.
    pub row_group_bytes: usize,
    /// Parquet key-value metadata (pipeline name and hash, run id, API
    /// base, smartsweep version). Never put a credential here: it is
    /// written into every part.
    pub metadata: Vec<(String, String)>,
    /// Small batches (one per record, 0-25 rows) are staged and handed to
    /// the encoder together once this many rows are waiting: a per-record
    /// batch costs the encoders a fixed overhead each (see the bench).
    pub stage_rows: usize,
    /// ... or once the staged batches take this many bytes of memory
    /// (their buffers' capacity, overhead included), whichever comes
    /// first. A sparse table (a row every few records) would otherwise
    /// stage thousands of one-row batches, each costing far more than its
    /// row, until `stage_rows` is reached.
    pub stage_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            format: Format::Parquet,
            compression: Compression::Zstd,
            row_group_rows: 1_000_000,
            row_group_bytes: 64 * 1024 * 1024,
            metadata: Vec::new(),
            stage_rows: 4096,
            stage_bytes: 256 * 1024,
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn format_and_compression_parse_and_print() {
        for f in [Format::Parquet, Format::Csv, Format::Delta] {
            assert_eq!(f.to_string().parse::<Format>(), Ok(f));
            let json = serde_json::to_string(&f).unwrap();
            assert_eq!(json, format!("\"{f}\""));
        }
        for c in [Compression::Zstd, Compression::Snappy, Compression::None] {
            assert_eq!(c.to_string().parse::<Compression>(), Ok(c));
            let json = serde_json::to_string(&c).unwrap();
            assert_eq!(json, format!("\"{c}\""));
        }
        let e = "gzip".parse::<Compression>().unwrap_err();
        assert!(e.contains("`gzip`"), "{e}");
        assert!("json".parse::<Format>().is_err());
    }
}
