//! Every file name smartsweep writes in an output, in one place.
//!
//! ```text
//! <output>/
//!   part-00000.parquet            a single-table pipeline's parts (one chain)
//!   part-00002-00007.parquet      ... chain 2's part 7 (with --chains)
//!   <table>/part-00000.parquet    a multi-table pipeline's parts, per table
//!   <table>/<col>=<value>/part-...   with partition_by (Hive style)
//!   *.inprogress                  a part being written (never read)
//!   _checkpoint.json              while running: what is committed, where to resume
//!   _errors.csv                   failed records (only when some failed)
//!   _manifest.json                at the end: counts, timings, parts, failures
//!   _report.html                  at the end: the run report
//!   _SUCCESS                      written last: the output is complete
//!   _plan.json                    `smartsweep plan`: the shards of a sharded run
//!   _shards/<i>/...               each shard's own checkpoint and manifest
//! ```

/// The checkpoint file, present while a run is unfinished.
pub const CHECKPOINT_FILE: &str = "_checkpoint.json";
/// The failed records, present when any record failed.
pub const ERRORS_FILE: &str = "_errors.csv";
/// The run manifest, written at the end.
pub const MANIFEST_FILE: &str = "_manifest.json";
/// The run report (self-contained HTML), written with the manifest.
pub const REPORT_FILE: &str = "_report.html";
/// The marker of a finished output, written last.
pub const SUCCESS_FILE: &str = "_SUCCESS";
/// The shard plan of a sharded run (`smartsweep plan`).
pub const PLAN_FILE: &str = "_plan.json";
/// The directory holding each shard's control files.
pub const SHARDS_DIR: &str = "_shards";
/// Suffix of a part being written.
pub const INPROGRESS_SUFFIX: &str = ".inprogress";
/// Suffix of a control file being replaced.
pub const TMP_SUFFIX: &str = ".tmp";

/// Every control file name, in the order a fresh start removes them
/// (`_SUCCESS` first, so a crash midway never leaves a "finished" output).
pub const CONTROL_FILES: [&str; 5] = [
    SUCCESS_FILE,
    MANIFEST_FILE,
    REPORT_FILE,
    ERRORS_FILE,
    CHECKPOINT_FILE,
];

/// The final file name of a part: `part-00042.parquet` for the single
/// chain of a run, `part-00003-00042.parquet` for part 42 of chain 3 of a
/// run with several chains (chain-major names sort in record order).
///
/// Five digits keep the names in order up to 99,999 parts; beyond that the
/// number simply grows wider.
pub fn part_file_name(chain: Option<u32>, index: u32, extension: &str) -> String {
    match chain {
        None => format!("part-{index:05}.{extension}"),
        Some(c) => format!("part-{c:05}-{index:05}.{extension}"),
    }
}

/// `(chain, index)` of a part file name (final or `.inprogress`) written by
/// [`part_file_name`] with one of `extensions`, or `None`.
pub fn parse_part_name(name: &str, extensions: &[&str]) -> Option<(Option<u32>, u32)> {
    let name = name.strip_suffix(INPROGRESS_SUFFIX).unwrap_or(name);
    let rest = name.strip_prefix("part-")?;
    let (stem, ext) = rest.split_once('.')?;
    if !extensions.contains(&ext) {
        return None;
    }
    let number = |s: &str| -> Option<u32> {
        if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        s.parse().ok()
    };
    match stem.split_once('-') {
        None => Some((None, number(stem)?)),
        Some((c, i)) => Some((Some(number(c)?), number(i)?)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn part_names_round_trip() {
        assert_eq!(part_file_name(None, 0, "parquet"), "part-00000.parquet");
        assert_eq!(part_file_name(None, 42, "csv"), "part-00042.csv");
        assert_eq!(part_file_name(None, 123_456, "csv"), "part-123456.csv");
        assert_eq!(part_file_name(Some(3), 7, "csv"), "part-00003-00007.csv");
        let exts = ["parquet", "csv"];
        assert_eq!(parse_part_name("part-00042.csv", &exts), Some((None, 42)));
        assert_eq!(
            parse_part_name("part-00042.parquet.inprogress", &exts),
            Some((None, 42))
        );
        assert_eq!(
            parse_part_name("part-00003-00007.csv", &exts),
            Some((Some(3), 7))
        );
        for bad in [
            "part-.csv",
            "part-x1.csv",
            "parts.csv",
            "part-1.json",
            "part-1-.csv",
            "part-00001.csv.bak",
        ] {
            assert_eq!(parse_part_name(bad, &exts), None, "{bad}");
        }
    }
}
