//! [`Destination`]: the one seam between the engine and where output goes,
//! [`Location`]: where that is, and [`open`]: the registry that turns a
//! location and a format into a destination.

use super::manifest::Manifest;
use super::output::Output;
use super::store::Store;
use super::{Format, LoadError, LocalStore, PartWriter, WriterOptions};
use crate::checkpoint::Checkpoint;
use crate::failure::RecordFailure;
use arrow_schema::SchemaRef;
use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

/// What a run claims when it opens its output.
#[derive(Debug, Clone)]
pub struct Claim {
    /// The run's hash: the pipeline's (plus the known-id list and the chain
    /// plan). A checkpoint or finished output under another hash is a
    /// changed pipeline.
    pub hash: String,
    /// Start over: remove what smartsweep's own checkpoint or manifest
    /// lists (never anything else), then begin anew.
    pub fresh: bool,
    /// The output format (decides the part files' extension).
    pub format: Format,
    /// The tables' directories under the output (`""`: the output itself).
    pub table_dirs: Vec<String>,
    /// Where this run's control files live: `""`, or `_shards/00003` for a
    /// shard of a sharded run.
    pub control_dir: String,
    /// The chains whose parts this run writes (a shard owns some chains of
    /// a shared output); `None`: every chain.
    pub chains: Option<Vec<u32>>,
}

/// What [`Destination::open`] found.
#[derive(Debug, Clone)]
pub enum Opened {
    /// Nothing committed. The run's first [`Destination::store_checkpoint`]
    /// claims the output (on an object store it succeeds only if no other
    /// run stored one in between).
    New,
    /// An unfinished run of the same pipeline: resume from this checkpoint
    /// (uncommitted leftovers are removed).
    Resume(Box<Checkpoint>),
    /// A finished output of the same pipeline (a scheduler's retry).
    Finished(Box<Manifest>),
}

/// Where a run's output goes. The engine sees only this trait; every method
/// is called from a blocking context (`spawn_blocking` or `block_in_place`).
pub trait Destination: Send + fmt::Debug {
    /// The location, credentials redacted, for messages.
    fn describe(&self) -> String;

    /// Claims the output for this run: takes ownership (a lock, or a
    /// conditional write of the checkpoint), reads its previous state,
    /// refuses a changed pipeline or anything it cannot prove it wrote,
    /// removes uncommitted leftovers of its own.
    fn open(&mut self, claim: &Claim) -> Result<Opened, LoadError>;

    /// Starts a part at `path` (relative to the output root).
    fn create_part(
        &self,
        path: &str,
        schema: SchemaRef,
        opts: &WriterOptions,
    ) -> Result<PartWriter, LoadError>;

    /// Durably records `cp` (which lists only committed parts). On failure
    /// the previous checkpoint is intact.
    fn store_checkpoint(&mut self, cp: &Checkpoint) -> Result<(), LoadError>;

    /// Rewrites `_errors.csv` (removes it when there is no failure).
    fn write_errors(&self, failures: &[RecordFailure]) -> Result<(), LoadError>;

    /// Writes the run report (any time: finished or not).
    fn write_report(&self, html: &[u8]) -> Result<(), LoadError>;

    /// Finishes the output: the manifest, then `_SUCCESS` last, then the
    /// checkpoint goes (the manifest holds everything it held).
    fn finish(&mut self, manifest: &Manifest) -> Result<(), LoadError>;

    /// A finished output's manifest (`None` when there is none).
    fn read_manifest(&self) -> Result<Option<Manifest>, LoadError>;

    /// An unfinished run's checkpoint (`None` when there is none).
    fn read_checkpoint(&self) -> Result<Option<Checkpoint>, LoadError>;

    /// The storage underneath, for `verify` and `report`.
    fn store(&self) -> &dyn Store;
}

/// Where output goes: a local directory or an object-store URL.
#[derive(Clone, PartialEq, Eq)]
pub enum Location {
    /// A local directory (a plain path or a `file://` URL).
    Local(PathBuf),
    /// An object store: `s3://bucket/prefix`, `gs://...`, `az://...`.
    Remote(reqwest::Url),
}

/// The object-store schemes `--output` accepts.
pub const REMOTE_SCHEMES: [&str; 6] = ["s3", "s3a", "gs", "az", "abfs", "abfss"];

impl Location {
    /// Parses `--output` / `[output] path`: a plain path, `file://`, or an
    /// object-store URL. The error names the value and what is accepted.
    pub fn parse(raw: &str) -> Result<Location, String> {
        let raw = raw.trim();
        if raw.is_empty() {
            return Err("the output location is empty".into());
        }
        let Some((scheme, _)) = raw.split_once("://") else {
            return Ok(Location::Local(PathBuf::from(raw)));
        };
        let url = reqwest::Url::parse(raw)
            .map_err(|e| format!("the output `{}` is not a URL: {e}", redact_str(raw)))?;
        match url.scheme() {
            "file" => url
                .to_file_path()
                .map(Location::Local)
                .map_err(|()| format!("`{}` is not a local file URL", redact(&url))),
            s if REMOTE_SCHEMES.contains(&s) => {
                if url.host_str().is_none_or(str::is_empty) {
                    return Err(format!("`{}` names no bucket", redact(&url)));
                }
                Ok(Location::Remote(url))
            }
            _ => Err(format!(
                "unknown output scheme `{scheme}` in `{}`",
                redact(&url)
            )),
        }
    }

    /// The local directory, if it is one.
    pub fn as_local(&self) -> Option<&std::path::Path> {
        match self {
            Location::Local(p) => Some(p),
            Location::Remote(_) => None,
        }
    }

    /// `self` with `sub` appended (a table's or a shard's directory).
    pub fn join(&self, sub: &str) -> Location {
        if sub.is_empty() {
            return self.clone();
        }
        match self {
            Location::Local(p) => Location::Local(p.join(sub)),
            Location::Remote(u) => {
                let mut u = u.clone();
                let path = format!("{}/{sub}", u.path().trim_end_matches('/'));
                u.set_path(&path);
                Location::Remote(u)
            }
        }
    }
}

/// A URL for messages: no user, password or query (SAS tokens travel in
/// Azure query strings).
pub fn redact(url: &reqwest::Url) -> String {
    let mut u = url.clone();
    let _ = u.set_username("");
    let _ = u.set_password(None);
    if u.query().is_some() {
        u.set_query(Some("REDACTED"));
    }
    u.to_string()
}

fn redact_str(raw: &str) -> String {
    match raw.split_once('@') {
        Some((head, tail)) if head.contains("://") => {
            let scheme = head.split("://").next().unwrap_or("");
            format!("{scheme}://REDACTED@{tail}")
        }
        _ => raw.split('?').next().unwrap_or(raw).to_owned(),
    }
}

impl fmt::Display for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Location::Local(p) => write!(f, "{}", p.display()),
            Location::Remote(u) => f.write_str(&redact(u)),
        }
    }
}

impl fmt::Debug for Location {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Location({self})")
    }
}

/// `--storage-option KEY=VALUE` pairs for object stores (credentials,
/// endpoints, regions). `Debug` shows the keys only.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StorageOptions(pub BTreeMap<String, String>);

impl fmt::Debug for StorageOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.0.keys()).finish()
    }
}

/// How a run writes into a table format that keeps history (Delta).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum WriteMode {
    /// Add this run's rows to the table.
    #[default]
    Append,
    /// Replace the table's contents with this run's rows, in one commit.
    Overwrite,
}

/// What a destination needs besides its location and format.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DestinationOptions {
    /// `--storage-option` pairs for object stores.
    pub storage: StorageOptions,
    /// The scheduler's run key (`--run-key`, e.g. Airflow's `{{ ds }}`):
    /// Delta records it as the commit's application transaction, so a
    /// retried task never adds the same run twice.
    pub run_key: Option<String>,
    /// Append or overwrite (Delta).
    pub mode: WriteMode,
}

/// The store registry: the storage at `location`. One line per kind of
/// store. Nothing is touched (no directory created, no lock taken) until
/// [`Store::prepare`], so `verify`, `status` and `report` read through it
/// too.
pub fn open_store(
    location: &Location,
    options: &StorageOptions,
) -> Result<Box<dyn Store>, LoadError> {
    let _ = options;
    match location {
        Location::Local(path) => Ok(Box::new(LocalStore::new(path.clone()))),
        Location::Remote(url) => Err(LoadError::Store {
            path: PathBuf::from(redact(url)),
            message: format!(
                "object storage (`{}`) is not available in this build",
                redact(url)
            ),
            hint: "write to a local directory".into(),
            usage: true,
        }),
    }
}

/// The registry: a destination for `location` in `format`. One line per
/// table format.
pub fn open(
    location: &Location,
    format: Format,
    options: &DestinationOptions,
) -> Result<Box<dyn Destination>, LoadError> {
    let store = open_store(location, &options.storage)?;
    match format {
        Format::Parquet | Format::Csv => Ok(Box::new(Output::new(store))),
        Format::Delta => Err(LoadError::Store {
            path: PathBuf::from(location.to_string()),
            message: "Delta Lake output is not available in this build".into(),
            hint: "use `format = \"parquet\"`".into(),
            usage: true,
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn locations_parse_and_redact() {
        assert_eq!(
            Location::parse("out/x"),
            Ok(Location::Local(PathBuf::from("out/x")))
        );
        assert_eq!(
            Location::parse("file:///tmp/out"),
            Ok(Location::Local(PathBuf::from("/tmp/out")))
        );
        let s3 = Location::parse("s3://bucket/prefix/run").unwrap_or(Location::Local("".into()));
        assert_eq!(s3.to_string(), "s3://bucket/prefix/run");
        assert_eq!(s3.join("labs").to_string(), "s3://bucket/prefix/run/labs");
        let e = Location::parse("ftp://user:pw@host/x").unwrap_err();
        assert!(e.contains("unknown output scheme `ftp`"), "{e}");
        assert!(!e.contains("pw"), "{e}");
        let az = Location::parse("az://acct/c?sig=SECRET").unwrap_or(Location::Local("".into()));
        assert!(!az.to_string().contains("SECRET"), "{az}");
        assert!(Location::parse("s3://").is_err());
        assert!(Location::parse("  ").is_err());
    }
}
