//! The command line (clap derive). Doc comments here are the `--help` text;
//! [`crate::commands`] carries the commands out.

use crate::extract::defaults;
use crate::load::{Compression, Format};
use crate::sandbox::SandboxArgs;
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

const MAIN_EXAMPLES: &str = "\
Examples:
  # The demo: the seed's drug-name export against the embedded sandbox
  smartsweep run pipelines/drug_names.toml

  # A nightly export from a real container (secret from the environment)
  SMARTSWEEP_CONSUMER_SECRET=... smartsweep run pipelines/medications.toml \\
      --api-base https://smart.example.org --app-id export@apps.example.org

  # Who is on RxNorm 312938 or 309309, now?
  smartsweep audit --rxnorm 312938,309309

Exit codes: 0 every record exported; 3 finished but some records failed
(see _errors.csv); 1 aborted (checkpoint kept: re-run to resume); 2 bad usage
or pipeline; 130 interrupted (re-run to resume).";

/// smartsweep: export every record of a SMART Classic container to Parquet or
/// CSV, as a background app, resumably.
#[derive(Debug, Parser)]
#[command(name = "smartsweep", version, after_help = MAIN_EXAMPLES)]
pub struct Cli {
    /// Logging and progress options.
    #[command(flatten)]
    pub global: GlobalArgs,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command takes.
#[derive(Debug, Clone, Args)]
pub struct GlobalArgs {
    /// No progress bar or progress lines; warnings and errors only.
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More log detail (-v debug, -vv trace). Credentials are never logged.
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Log format on stderr: `text` for people, `json` for schedulers.
    #[arg(long, global = true, value_enum, default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
}

/// Log line format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: walk every record, write part files, resume if stopped.
    #[command(after_help = RUN_EXAMPLES)]
    Run(RunArgs),
    /// Check pipeline files without touching the network; report every problem.
    #[command(after_help = VALIDATE_EXAMPLES)]
    Validate(ValidateArgs),
    /// Fetch a few records and print the pipeline's rows as a table.
    #[command(after_help = PREVIEW_EXAMPLES)]
    Preview(PreviewArgs),
    /// Recall audit: every medication with one of the given RxNorm codes.
    #[command(after_help = AUDIT_EXAMPLES)]
    Audit(AuditArgs),
    /// Serve the embedded SMART Classic sandbox container.
    #[command(after_help = SANDBOX_EXAMPLES)]
    Sandbox(SandboxArgs),
    /// Plan a sharded run: split the cursor into chains from seeds and
    /// assign them to N shards (writes `_plan.json` into the output).
    #[command(after_help = PLAN_EXAMPLES)]
    Plan(PlanArgs),
    /// Finish a sharded run: check every shard finished, then write the
    /// dataset's `_manifest.json` and `_SUCCESS`.
    #[command(after_help = COMMIT_EXAMPLES)]
    Commit(CommitArgs),
    /// Write the run report (`_report.html`) of an output, finished or not.
    #[command(after_help = REPORT_EXAMPLES)]
    Report(ReportArgs),
    /// Re-read every committed part of an output: size, sha256, rows, schema.
    #[command(after_help = VERIFY_EXAMPLES)]
    Verify(VerifyArgs),
    /// What a running or interrupted run has committed, its watermarks and rate.
    #[command(after_help = STATUS_EXAMPLES)]
    Status(StatusArgs),
}

const REPORT_EXAMPLES: &str = "\
Examples:
  # Rewrite out/meds/_report.html (a finished run writes it itself)
  smartsweep report out/meds

  # The report of an unfinished run, somewhere else
  smartsweep report out/meds --to /tmp/meds-report.html

The report is one self-contained HTML file (inline charts, no script, nothing
loaded from the network): open it in any browser, or attach it to a ticket.";

const VERIFY_EXAMPLES: &str = "\
Examples:
  smartsweep verify out/meds && echo sound

Prints one line per problem, naming the part, then a summary. Exit codes: 0 the
output is sound; 1 something is wrong (a part missing, changed, truncated,
unreadable, of another schema, or a part nothing lists); 2 not an output.";

const STATUS_EXAMPLES: &str = "\
Examples:
  smartsweep status out/meds
  smartsweep status out/meds --json | jq .rate

Reads the checkpoint (or the manifest of a finished run); never writes.";

const RUN_EXAMPLES: &str = "\
Examples:
  # Against the embedded sandbox (no api_base in the file, no --api-base)
  smartsweep run pipelines/drug_names.toml

  # Against a real container, CSV, 32 fetches in flight
  export SMARTSWEEP_CONSUMER_SECRET=...
  smartsweep run pipelines/medications.toml --api-base https://smart.example.org \\
      --app-id export@apps.example.org --format csv --concurrency 32

  # Known record ids (no serial cursor): one id per line
  smartsweep run pipelines/medications.toml --records-from cohort.txt

Re-running the same command after a kill or a failure resumes from the
checkpoint; a finished output is left alone unless --fresh.";

const VALIDATE_EXAMPLES: &str = "\
Examples:
  smartsweep validate pipelines/*.toml";

const PREVIEW_EXAMPLES: &str = "\
Examples:
  smartsweep preview pipelines/medications.toml --records 5";

const AUDIT_EXAMPLES: &str = "\
Examples:
  # Everyone on sertraline 100 MG or ciprofloxacin 500 MG, now
  smartsweep audit --rxnorm 312938,309309

  # Codes plus a title pattern (case-insensitive), for a known cohort
  smartsweep audit --rxnorm 617318 --title-match 'lipitor|atorvastatin' \\
      --records-from cohort.txt --output out/lipitor-recall

\"No match\" is a proof only when no record failed: the summary says so.";

const PLAN_EXAMPLES: &str = "\
Examples:
  # 8 shards from last night's output; then run shard I of 8 on each worker
  smartsweep plan pipelines/population.toml --shards 8 --seeds-from s3://bucket/nightly/2026-12-03 \\
      --output s3://bucket/nightly/2026-12-04
  smartsweep run pipelines/population.toml --output s3://bucket/nightly/2026-12-04 --shard 3/8
  smartsweep commit s3://bucket/nightly/2026-12-04";

const COMMIT_EXAMPLES: &str = "\
Examples:
  smartsweep commit out/population

Exit 1 (naming them) while any shard is unfinished; re-run once they are.";

const SANDBOX_EXAMPLES: &str = "\
Examples:
  smartsweep sandbox --records 300 --listen 127.0.0.1:7000
  smartsweep sandbox --records 100000 --data-latency-ms 50 --fail-rate 0.05";

/// Where the data comes from and how to sign in.
#[derive(Debug, Clone, Args)]
pub struct SourceArgs {
    /// The container's API base (overrides the pipeline's `source.api_base`).
    /// Without any, the embedded sandbox is started in-process.
    #[arg(long, value_name = "URL")]
    pub api_base: Option<String>,
    /// The background app's id (overrides `source.app_id`).
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
    /// The OAuth consumer key (default: the app id).
    #[arg(long, value_name = "KEY")]
    pub consumer_key: Option<String>,
    /// Read the consumer secret from this file (default: the environment
    /// variable SMARTSWEEP_CONSUMER_SECRET). Never given on the command line.
    #[arg(long, value_name = "PATH")]
    pub consumer_secret_file: Option<PathBuf>,
    /// A PEM file with a private CA to trust in addition to the system roots.
    #[arg(long, value_name = "PATH")]
    pub ca_file: Option<PathBuf>,
    /// Known record ids, one per line (`-` for stdin): tokens are minted per
    /// id, concurrently, instead of walking the serial cursor.
    #[arg(long, value_name = "FILE")]
    pub records_from: Option<PathBuf>,
    /// Fetches in flight at most.
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub concurrency: usize,
    /// Per-request timeout in seconds.
    #[arg(long, default_value_t = defaults::REQUEST_TIMEOUT_S, value_name = "S")]
    pub timeout_s: u64,
    /// HTTP attempts per request before a record is given up.
    #[arg(long, default_value_t = defaults::MAX_ATTEMPTS, value_name = "N")]
    pub max_attempts: u32,
    /// Largest answer accepted for one record, in MiB.
    #[arg(long, default_value_t = defaults::MAX_BODY_MIB, value_name = "MIB")]
    pub max_body_mib: u64,
    /// Largest total of one record's pages (with a page size), in MiB; a
    /// record over it fails.
    #[arg(long, default_value_t = defaults::MAX_RECORD_MIB, value_name = "MIB")]
    pub max_record_mib: u64,
    /// First retry delay in milliseconds (backoff doubles it, with full
    /// jitter, up to 30 s).
    #[arg(long, default_value_t = defaults::RETRY_BASE_DELAY_MS, value_name = "MS", hide = true)]
    pub retry_base_ms: u64,
    /// Records in the embedded sandbox (only when no container is configured).
    #[arg(long, default_value_t = 1000, value_name = "N")]
    pub sandbox_records: u64,
}

/// Where and how output is written.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output directory or object-store URL (`s3://bucket/prefix`,
    /// `gs://...`, `az://...`, `file://...`); overrides `output.path`.
    #[arg(long, short, value_name = "DIR|URL")]
    pub output: Option<String>,
    /// Output format (overrides `output.format`).
    #[arg(long, value_enum)]
    pub format: Option<FormatArg>,
    /// Parquet compression (overrides `output.compression`).
    #[arg(long, value_enum)]
    pub compression: Option<CompressionArg>,
    /// Start over: replace a finished output or a checkpoint made by another
    /// pipeline.
    #[arg(long)]
    pub fresh: bool,
    /// Close a part file (and move the checkpoint) every N records.
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub part_records: u64,
    /// ... and at least every S seconds, so a kill loses at most that much work.
    #[arg(long, default_value_t = 60, value_name = "S")]
    pub part_seconds: u64,
    /// Abort when more records fail than this: a count (`10`) or a fraction
    /// of the records seen (`0.05`, `5%`).
    #[arg(long, value_name = "N|FRACTION")]
    pub max_failed: Option<String>,
    /// Abort when the first N records all fail for the same cause (a
    /// refused token, a dead resource): the run stops with that cause
    /// instead of failing every record. 0 turns it off.
    #[arg(long, default_value_t = crate::engine::DEFAULT_BREAKER, value_name = "N")]
    pub breaker: u64,
}

impl OutputArgs {
    /// The settings of `preview` (which writes nothing to disk).
    pub fn for_preview() -> OutputArgs {
        OutputArgs {
            output: None,
            format: None,
            compression: None,
            fresh: true,
            part_records: 10_000,
            part_seconds: 3600,
            max_failed: None,
            breaker: 0,
        }
    }
}

/// Parallel cursor chains and shards.
#[derive(Debug, Clone, Args)]
pub struct ChainArgs {
    /// Walk the cursor in K chains at once, each started from a seed record
    /// id known to exist (a previous output's ids); the chains together
    /// visit exactly the records one serial walk visits. Needs --seeds-from
    /// or --seeds; without them, one chain.
    #[arg(long, default_value_t = 1, value_name = "K")]
    pub chains: u32,
    /// Take seed record ids from a previous finished output (any output
    /// smartsweep wrote from this container).
    #[arg(long, value_name = "DIR|URL")]
    pub seeds_from: Option<String>,
    /// Take seed record ids from a file, one per line, in the container's
    /// cursor order.
    #[arg(long, value_name = "FILE", conflicts_with = "seeds_from")]
    pub seeds: Option<PathBuf>,
    /// Run shard I of N of a sharded output written by `smartsweep plan`
    /// (0-based). Default: JOB_COMPLETION_INDEX (a Kubernetes Indexed Job's
    /// pod index) when the output holds a plan.
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
}

/// `run`
#[derive(Debug, Clone, Args)]
pub struct RunArgs {
    /// The pipeline file.
    #[arg(value_name = "PIPELINE")]
    pub pipeline: PathBuf,
    /// Source and credentials.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output.
    #[command(flatten)]
    pub output: OutputArgs,
    /// Parallel chains and shards.
    #[command(flatten)]
    pub chains: ChainArgs,
    /// Page size (`limit`) per request; default: one request per record.
    #[arg(long, value_name = "N")]
    pub page_size: Option<u32>,
}

/// `validate`
#[derive(Debug, Clone, Args)]
pub struct ValidateArgs {
    /// Pipeline files.
    #[arg(required = true, value_name = "PIPELINE")]
    pub pipelines: Vec<PathBuf>,
}

/// `preview`
#[derive(Debug, Clone, Args)]
pub struct PreviewArgs {
    /// The pipeline file.
    #[arg(value_name = "PIPELINE")]
    pub pipeline: PathBuf,
    /// How many records to fetch.
    #[arg(long, default_value_t = 5, value_name = "N")]
    pub records: u64,
    /// Show only this table of a multi-table pipeline.
    #[arg(long, value_name = "NAME")]
    pub table: Option<String>,
    /// Source and credentials.
    #[command(flatten)]
    pub source: SourceArgs,
}

/// `audit`
#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// RxNorm codes (RxCUIs), comma-separated.
    #[arg(
        long,
        required = true,
        value_delimiter = ',',
        value_name = "CODE[,CODE...]"
    )]
    pub rxnorm: Vec<String>,
    /// Also require the drug name to match this regular expression
    /// (case-insensitive).
    #[arg(long, value_name = "REGEX")]
    pub title_match: Option<String>,
    /// Source and credentials.
    #[command(flatten)]
    pub source: SourceArgs,
    /// Output (default directory: `out/audit-<codes>`).
    #[command(flatten)]
    pub output: OutputArgs,
    /// Parallel chains.
    #[command(flatten)]
    pub chains: ChainArgs,
}

/// `plan`
#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    /// The pipeline file.
    #[arg(value_name = "PIPELINE")]
    pub pipeline: PathBuf,
    /// How many shards (indexed tasks of your engine) will run the export.
    #[arg(long, value_name = "N")]
    pub shards: u32,
    /// Chains in the plan, spread over the shards (default: 4 per shard).
    #[arg(long, value_name = "K")]
    pub chains: Option<u32>,
    /// Take seed record ids from a previous finished output.
    #[arg(long, value_name = "DIR|URL")]
    pub seeds_from: Option<String>,
    /// Take seed record ids from a file, one per line, in cursor order.
    #[arg(long, value_name = "FILE", conflicts_with = "seeds_from")]
    pub seeds: Option<PathBuf>,
    /// The output the shards will write (overrides `output.path`).
    #[arg(long, short, value_name = "DIR|URL")]
    pub output: Option<String>,
    /// The container's API base the shards will use (as they will pass it).
    #[arg(long, value_name = "URL")]
    pub api_base: Option<String>,
    /// The background app's id the shards will use.
    #[arg(long, value_name = "ID")]
    pub app_id: Option<String>,
}

/// `commit`
#[derive(Debug, Clone, Args)]
pub struct CommitArgs {
    /// The sharded output (the one `smartsweep plan` wrote a plan into).
    #[arg(value_name = "OUTPUT")]
    pub output: String,
}

/// `--format`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FormatArg {
    /// Apache Parquet (typed, compressed).
    Parquet,
    /// RFC 4180 CSV with a header in every part.
    Csv,
}

impl From<FormatArg> for Format {
    fn from(f: FormatArg) -> Self {
        match f {
            FormatArg::Parquet => Format::Parquet,
            FormatArg::Csv => Format::Csv,
        }
    }
}

/// `--compression`
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum CompressionArg {
    /// zstd (default).
    Zstd,
    /// snappy.
    Snappy,
    /// uncompressed.
    None,
}

impl From<CompressionArg> for Compression {
    fn from(c: CompressionArg) -> Self {
        match c {
            CompressionArg::Zstd => Compression::Zstd,
            CompressionArg::Snappy => Compression::Snappy,
            CompressionArg::None => Compression::None,
        }
    }
}

/// `report`
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// The output (directory or object-store URL) a run wrote.
    #[arg(value_name = "OUTPUT")]
    pub output: String,
    /// Write the report to this file (`-`: standard output) instead of
    /// `OUTPUT/_report.html`.
    #[arg(long, value_name = "PATH")]
    pub to: Option<PathBuf>,
}

/// `verify`
#[derive(Debug, Clone, Args)]
pub struct VerifyArgs {
    /// The output (directory or object-store URL) a run wrote.
    #[arg(value_name = "OUTPUT")]
    pub output: String,
}

/// `status`
#[derive(Debug, Clone, Args)]
pub struct StatusArgs {
    /// The output (directory or object-store URL) a run writes or wrote.
    #[arg(value_name = "OUTPUT")]
    pub output: String,
    /// One JSON object on standard output, for scripts.
    #[arg(long)]
    pub json: bool,
}
