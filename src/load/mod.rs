//! The load stage: Parquet and CSV part files and the commit protocol that
//! makes a run exactly-once and resumable.
//!
//! It owns everything under `--output`:
//!
//! ```text
//! part-00000.parquet      committed parts (or .csv), each one a complete file
//! part-00001.parquet.inprogress   the part being written (never read by anyone)
//! _checkpoint.json        while running: what is committed, and where to resume
//! _errors.csv             records that failed (only when some did)
//! _manifest.json          at the end: counts, timings, parts, failures, versions
//! _SUCCESS                written last: the output is complete
//! ```
//!
//! The protocol (design section 3):
//!
//! 1. [`PartWriter`] writes `part-NNNNN.<ext>.inprogress`; [`PartWriter::finish`]
//!    closes it (footer), fsyncs it, renames it to `part-NNNNN.<ext>` and
//!    fsyncs the directory.
//! 2. Only then does the engine add the part to the [`Checkpoint`] and
//!    call [`OutputDir::store_checkpoint`] (temp file, fsync, rename,
//!    directory fsync).
//! 3. At the end: [`OutputDir::write_errors_csv`], then
//!    [`OutputDir::finish`] (`_manifest.json`, then `_SUCCESS`, then the
//!    checkpoint is removed).
//!
//! **Invariant:** a part is committed if and only if the checkpoint lists
//! it. A part that was renamed but not yet checkpointed (a kill between
//! steps 1 and 2) is uncommitted: [`OutputDir::open`] deletes it on resume,
//! together with every `*.inprogress` file, and the engine redoes its
//! records. So whatever instant a run dies at, the committed parts plus a
//! resume hold each row exactly once.
//!
//! Files are created 0600 and directories 0700: the output holds clinical
//! data.
//!
//! [`Checkpoint`]: crate::checkpoint::Checkpoint

mod error;
pub mod fsutil;
mod output;
mod part;

pub use error::LoadError;
pub use output::{
    CHECKPOINT_FILE, ERRORS_FILE, MANIFEST_FILE, OutputDir, SUCCESS_FILE, empty_part_if_none,
};
pub use part::{CommittedPart, PartWriter, ZSTD_LEVEL, parse_part_index, part_file_name};

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The output file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Apache Parquet (the default).
    #[default]
    Parquet,
    /// RFC 4180 CSV, UTF-8, a header in every part.
    Csv,
}

impl Format {
    /// The file extension, without the dot.
    pub fn extension(self) -> &'static str {
        match self {
            Format::Parquet => "parquet",
            Format::Csv => "csv",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "parquet" => Ok(Format::Parquet),
            "csv" => Ok(Format::Csv),
            other => Err(format!(
                "unknown output format `{other}` (expected `parquet` or `csv`)"
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
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn format_and_compression_parse_and_print() {
        for f in [Format::Parquet, Format::Csv] {
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
