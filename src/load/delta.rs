//! A Delta Lake table as a [`Destination`]: the commit protocol of
//! [`Output`] for the parts and the checkpoint, and one Delta commit per
//! table (through `deltalake-core`) at the end.
//!
//! ```text
//! <output>/                          the table (a single-table pipeline), or
//! <output>/<table>/                  one Delta table per table directory
//!   _delta_log/00000000000000000000.json     the transaction log
//!   part-00000-r1a2b3c4d5e6f.parquet         this run's parts (tag: its run key)
//!   start_year=2020/part-...                 Hive directories with partition_by
//! <output>/_smartsweep/<run key>/    this run's control files (Delta readers
//!   _checkpoint.json ...             never look there)
//! ```
//!
//! - Parts are written into the table directory with the run's tag in
//!   their name (several runs share the directory). They are not in the
//!   log, so no Delta reader sees them until the commit.
//! - [`Destination::finish`] commits, per table, every committed part as
//!   an `add` action together with an application transaction
//!   (`txn { appId: "smartsweep/<pipeline>/<run key>", version: 1 }`);
//!   with [`WriteMode::Overwrite`] the same commit removes every file the
//!   table had (the previous contents stay readable by time travel). Then
//!   the manifest and `_SUCCESS` go into the control directory.
//! - [`Destination::open`] with a run key whose transaction is already in
//!   every table is [`Opened::Finished`]: a retried scheduler task never
//!   adds a run twice. A crash between the commits of a multi-table
//!   pipeline resumes and commits the tables not yet committed (the
//!   commits are one per table: not atomic across tables).

use super::destination::{
    Claim, Destination, DestinationOptions, Location, Opened, WriteMode, redact,
};
use super::manifest::Manifest;
use super::object::{RemoteStore, block_on, scrub};
use super::output::Output;
use super::store::Store;
use super::table::HIVE_DEFAULT_PARTITION;
use super::{LoadError, PartWriter, WriterOptions};
use crate::checkpoint::{Checkpoint, CommittedPart};
use crate::failure::RecordFailure;
use arrow_schema::SchemaRef;
use deltalake_core::DeltaTable;
use deltalake_core::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake_core::kernel::transaction::{CommitBuilder, CommitProperties};
use deltalake_core::kernel::{Action, Add, StructType, Transaction};
use deltalake_core::logstore::{LogStoreRef, StorageConfig, default_logstore};
use deltalake_core::protocol::{DeltaOperation, SaveMode};
use object_store::ObjectStore;
use object_store::path::Path as ObjPath;
use object_store::prefix::PrefixStore;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::runtime::Handle;

/// Where the Delta destination keeps each run's control files.
pub const CONTROL_DIR: &str = "_smartsweep";

/// The application id of a run's Delta transaction.
pub fn app_id(pipeline: &str, run_key: &str) -> String {
    format!("smartsweep/{pipeline}/{run_key}")
}

/// Checks a run key: it names a directory, so it must be a plain name.
pub fn check_run_key(key: &str) -> Result<(), String> {
    let ok_char = |c: char| c.is_ascii_alphanumeric() || "-_.:+=@".contains(c);
    if key.is_empty() || key.len() > 128 || key.starts_with('.') || !key.chars().all(ok_char) {
        return Err(format!(
            "the run key `{}` is not usable: 1 to 128 letters, digits and `-_.:+=@`, not starting with `.`",
            crate::text::escape_control(key)
        ));
    }
    Ok(())
}

/// The part-name tag of a run key: `r` and 12 hex digits of its hash
/// (no `.` or `-`, never all digits).
fn tag_of(key: &str) -> String {
    let digest = Sha256::digest(key.as_bytes());
    let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
    format!("r{hex}")
}

/// True for a part name of any run of this destination
/// (`part-...-r<12 hex digits>.parquet[.inprogress]`).
fn is_tagged_part(name: &str) -> bool {
    let name = name
        .strip_suffix(super::names::INPROGRESS_SUFFIX)
        .unwrap_or(name);
    let Some(stem) = name
        .strip_prefix("part-")
        .and_then(|n| n.strip_suffix(".parquet"))
    else {
        return false;
    };
    stem.rsplit_once("-r")
        .is_some_and(|(_, hex)| hex.len() == 12 && hex.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// Where the tables live, for the log stores.
#[derive(Debug, Clone)]
enum Root {
    Local(PathBuf),
    Remote(RemoteStore),
}

/// A Delta table (one per table directory) as a destination.
pub struct DeltaDestination {
    /// The commit protocol (its control directory and part tag are set
    /// in [`Destination::open`], once the run key is known).
    out: Output,
    root: Root,
    location: Location,
    options: DestinationOptions,
    run_key: String,
    table_dirs: Vec<String>,
    handle: Handle,
}

impl std::fmt::Debug for DeltaDestination {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaDestination")
            .field("location", &self.location)
            .field("run_key", &self.run_key)
            .finish_non_exhaustive()
    }
}

fn delta_error(location: &Location, action: &str, e: impl std::fmt::Display) -> LoadError {
    LoadError::Store {
        path: PathBuf::from(location.to_string()),
        message: format!(
            "Delta table `{location}`: cannot {action}: {}",
            scrub(&e.to_string())
        ),
        hint: "check that the location is a Delta table written by smartsweep (or empty) and reachable; then re-run the same command to resume".into(),
        usage: false,
    }
}

impl DeltaDestination {
    /// A Delta destination at `location` over `store` (the same location).
    pub fn new(
        location: &Location,
        store: Box<dyn Store>,
        remote: Option<RemoteStore>,
        options: &DestinationOptions,
    ) -> Result<DeltaDestination, LoadError> {
        let handle = Handle::try_current().map_err(|_| LoadError::Store {
            path: PathBuf::from(location.to_string()),
            message: "Delta output needs the async runtime (internal)".into(),
            hint: "this is a bug; please report it".into(),
            usage: true,
        })?;
        if let Some(key) = &options.run_key {
            check_run_key(key).map_err(|m| LoadError::Store {
                path: PathBuf::from(location.to_string()),
                message: m,
                hint: "pass a date or a scheduler's logical date, e.g. --run-key 2026-12-04".into(),
                usage: true,
            })?;
        }
        let root = match (location, remote) {
            (_, Some(r)) => Root::Remote(r),
            (Location::Local(p), None) => Root::Local(p.clone()),
            (Location::Remote(_), None) => {
                return Err(delta_error(location, "open", "no object store (internal)"));
            }
        };
        Ok(DeltaDestination {
            out: Output::new(store),
            root,
            location: location.clone(),
            options: options.clone(),
            run_key: String::new(),
            table_dirs: Vec::new(),
            handle,
        })
    }

    /// The run key: the one given, or an unfinished run's of this pipeline
    /// (a resume after midnight keeps its key), or today's UTC date.
    fn resolve_run_key(&self, store: &dyn Store, claim: &Claim) -> Result<String, LoadError> {
        if let Some(k) = &self.options.run_key {
            return Ok(k.clone());
        }
        let prefix = join(&claim.control_dir, CONTROL_DIR);
        let mut adopt: Option<String> = None;
        for l in store.list()? {
            let Some(rest) = l.path.strip_prefix(&format!("{prefix}/")) else {
                continue;
            };
            let Some(key) = rest.strip_suffix(&format!("/{}", super::CHECKPOINT_FILE)) else {
                continue;
            };
            if key.contains('/') || check_run_key(key).is_err() {
                continue;
            }
            let same = store
                .read(&l.path)?
                .and_then(|b| Checkpoint::from_json(&b).ok())
                .is_some_and(|cp| cp.pipeline_hash == claim.hash);
            if same && adopt.as_deref().is_none_or(|a| key > a) {
                adopt = Some(key.to_owned());
            }
        }
        if let Some(k) = adopt {
            tracing::info!(run_key = %k, "resuming the unfinished run with this run key");
            return Ok(k);
        }
        Ok(chrono::Utc::now().format("%Y-%m-%d").to_string())
    }

    /// The log store of the table in `dir`.
    fn log_store(&self, dir: &str) -> Result<LogStoreRef, LoadError> {
        let (root, prefixed, url): (Arc<dyn ObjectStore>, Arc<dyn ObjectStore>, reqwest::Url) =
            match &self.root {
                Root::Local(p) => {
                    let abs = std::path::absolute(p)
                        .map_err(|e| LoadError::io("open", p, e))?
                        .join(dir);
                    std::fs::create_dir_all(&abs).map_err(|e| LoadError::io("create", &abs, e))?;
                    let url = reqwest::Url::from_directory_path(&abs).map_err(|()| {
                        delta_error(&self.location, "open", "not an absolute path")
                    })?;
                    let prefixed = object_store::local::LocalFileSystem::new_with_prefix(&abs)
                        .map_err(|e| delta_error(&self.location, "open", e))?;
                    (
                        Arc::new(object_store::local::LocalFileSystem::new()),
                        Arc::new(prefixed),
                        url,
                    )
                }
                Root::Remote(r) => {
                    let root = r.object_store();
                    let prefix = join(r.prefix(), dir);
                    let mut url = r.url().clone();
                    url.set_query(None);
                    url.set_path(&format!("/{prefix}/"));
                    let prefixed: Arc<dyn ObjectStore> = Arc::new(PrefixStore::new(
                        root.clone(),
                        ObjPath::from(prefix.as_str()),
                    ));
                    (root, prefixed, url)
                }
            };
        Ok(default_logstore(
            prefixed,
            root,
            &url,
            &StorageConfig::default(),
        ))
    }

    /// The table in `dir`, loaded, or `None` when there is none yet.
    fn load_table(&self, dir: &str) -> Result<Option<DeltaTable>, LoadError> {
        if let Root::Local(p) = &self.root
            && !p.join(dir).join("_delta_log").is_dir()
        {
            return Ok(None);
        }
        let log_store = self.log_store(dir)?;
        let loc = self.location.join(dir);
        block_on(&self.handle, async move {
            if !log_store.is_delta_table_location().await? {
                return Ok(None);
            }
            let mut table = DeltaTable::new(log_store);
            table.load().await?;
            Ok(Some(table))
        })
        .map_err(|e: deltalake_core::DeltaTableError| delta_error(&loc, "read the log", e))
    }

    /// True when `table` already has this run's transaction.
    fn committed(&self, table: &DeltaTable) -> Result<bool, LoadError> {
        let id = app_id(&self.options.pipeline, &self.run_key);
        let loc = self.location.clone();
        block_on(&self.handle, async {
            let state = table.snapshot()?;
            state
                .transaction_version(table.log_store().as_ref(), id)
                .await
        })
        .map(|v| v.is_some())
        .map_err(|e| delta_error(&loc, "read the application transactions", e))
    }

    /// Every table dir has this run's transaction.
    fn all_committed(&self) -> Result<bool, LoadError> {
        for dir in &self.table_dirs {
            match self.load_table(dir)? {
                Some(t) if self.committed(&t)? => {}
                _ => return Ok(false),
            }
        }
        Ok(!self.table_dirs.is_empty())
    }

    /// Refuses a table directory that holds files but no Delta log.
    fn refuse_foreign(&self, store: &dyn Store, claim: &Claim) -> Result<(), LoadError> {
        let listed = store.list()?;
        let control = join(&claim.control_dir, CONTROL_DIR);
        for dir in &self.table_dirs {
            let inside = |p: &str| dir.is_empty() || p.starts_with(&format!("{dir}/"));
            let log = join(dir, "_delta_log/");
            if listed.iter().any(|l| l.path.starts_with(&log)) {
                continue;
            }
            let tag = tag_of(&self.run_key);
            if let Some(l) = listed.iter().find(|l| {
                inside(&l.path)
                    && !l.path.starts_with(&format!("{control}/"))
                    && !l.path.contains(&format!("-{tag}."))
                    && !is_tagged_part(l.path.rsplit('/').next().unwrap_or(""))
                    && !l.path.rsplit('/').next().unwrap_or("").starts_with('.')
                    && !self
                        .table_dirs
                        .iter()
                        .any(|t| !t.is_empty() && t != dir && l.path.starts_with(&format!("{t}/")))
            }) {
                return Err(LoadError::ForeignDirectory {
                    path: PathBuf::from(self.location.join(dir).to_string()),
                    example: crate::text::escape_control(&l.path).into_owned(),
                });
            }
        }
        Ok(())
    }

    /// The table's full Arrow schema: from the plan, or (a library caller
    /// that gave none) from the first part's footer.
    fn schema_of(&self, dir: &str, parts: &[CommittedPart]) -> Result<SchemaRef, LoadError> {
        if let Some((_, s)) = self.options.tables.iter().find(|(d, _)| d == dir) {
            return Ok(s.clone());
        }
        let Some(first) = parts.first() else {
            return Err(delta_error(
                &self.location,
                "create the table",
                "no schema and no part",
            ));
        };
        let bytes = self
            .out
            .store()
            .read(&first.file)?
            .ok_or_else(|| delta_error(&self.location, "read a part", &first.file))?;
        let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(
            bytes::Bytes::from(bytes),
        )
        .map_err(|e| delta_error(&self.location, "read a part's schema", e))?;
        let file_schema = reader.schema().clone();
        let mut fields: Vec<arrow_schema::Field> = file_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        for c in self.options.partition_by_of(dir) {
            if file_schema.column_with_name(c).is_none() {
                fields.push(arrow_schema::Field::new(
                    c,
                    arrow_schema::DataType::Utf8,
                    true,
                ));
            }
        }
        Ok(Arc::new(arrow_schema::Schema::new(fields)))
    }

    /// The add actions of a table's parts (paths relative to the table).
    fn adds(&self, dir: &str, parts: &[CommittedPart]) -> Vec<Action> {
        let now = chrono::Utc::now().timestamp_millis();
        let partitioned = !self.options.partition_by_of(dir).is_empty();
        parts
            .iter()
            .filter(|p| !partitioned || !p.partition.is_empty())
            .filter(|p| !(partitioned && p.rows == 0))
            .map(|p| {
                let rel = if dir.is_empty() {
                    p.file.clone()
                } else {
                    p.file
                        .strip_prefix(&format!("{dir}/"))
                        .unwrap_or(&p.file)
                        .to_owned()
                };
                let partition_values: HashMap<String, Option<String>> = p
                    .partition
                    .iter()
                    .map(|(k, v)| {
                        let v = (v != HIVE_DEFAULT_PARTITION).then(|| v.clone());
                        (k.clone(), v)
                    })
                    .collect();
                Action::Add(Add {
                    path: rel,
                    partition_values,
                    size: p.bytes as i64,
                    modification_time: now,
                    data_change: true,
                    stats: Some(format!("{{\"numRecords\":{}}}", p.rows)),
                    ..Add::default()
                })
            })
            .collect()
    }

    /// One Delta commit for the table in `dir` (skipped when this run's
    /// transaction is already there).
    fn commit_table(&self, dir: &str, parts: &[CommittedPart]) -> Result<(), LoadError> {
        let loc = self.location.join(dir);
        let existing = self.load_table(dir)?;
        if let Some(t) = &existing
            && self.committed(t)?
        {
            tracing::info!(table = %loc, run_key = %self.run_key, "already committed to the Delta table");
            return Ok(());
        }
        let schema = self.schema_of(dir, parts)?;
        let kernel: StructType = schema
            .as_ref()
            .try_into_kernel()
            .map_err(|e| delta_error(&loc, "convert the schema", e))?;
        let txn = Transaction::new_with_last_update(
            app_id(&self.options.pipeline, &self.run_key),
            1,
            Some(chrono::Utc::now().timestamp_millis()),
        );
        let props = CommitProperties::default()
            .with_application_transaction(txn)
            .with_metadata([
                (
                    "smartsweep.run_key".to_owned(),
                    serde_json::json!(self.run_key),
                ),
                (
                    "smartsweep.version".to_owned(),
                    serde_json::json!(env!("CARGO_PKG_VERSION")),
                ),
            ]);
        let adds = self.adds(dir, parts);
        let partition_by = self.options.partition_by_of(dir).to_vec();
        let mode = self.options.mode;
        let log_store = self.log_store(dir)?;
        let result = block_on(&self.handle, async move {
            match existing {
                None => {
                    let name = if dir.is_empty() { "smartsweep" } else { dir };
                    deltalake_core::operations::create::CreateBuilder::new()
                        .with_log_store(log_store)
                        .with_table_name(name)
                        .with_columns(kernel.fields().cloned())
                        .with_partition_columns(partition_by)
                        .with_actions(adds)
                        .with_commit_properties(props)
                        .with_save_mode(SaveMode::ErrorIfExists)
                        .await
                        .map(|_| ())
                }
                Some(table) => {
                    let state = table.snapshot()?;
                    let current = state.schema();
                    let same = current.fields().count() == kernel.fields().count()
                        && current
                            .fields()
                            .zip(kernel.fields())
                            .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
                    if !same {
                        return Err(deltalake_core::DeltaTableError::Generic(format!(
                            "the table's columns ({}) differ from the pipeline's ({}); write this pipeline to a new table",
                            current
                                .fields()
                                .map(|f| f.name().as_str())
                                .collect::<Vec<_>>()
                                .join(", "),
                            kernel
                                .fields()
                                .map(|f| f.name().as_str())
                                .collect::<Vec<_>>()
                                .join(", ")
                        )));
                    }
                    let mut actions = Vec::new();
                    let save = match mode {
                        WriteMode::Append => SaveMode::Append,
                        WriteMode::Overwrite => {
                            for f in state.log_data() {
                                actions.push(Action::Remove(f.remove_action(true)));
                            }
                            SaveMode::Overwrite
                        }
                    };
                    actions.extend(adds);
                    let op = DeltaOperation::Write {
                        mode: save,
                        partition_by: (!partition_by.is_empty()).then_some(partition_by),
                        predicate: None,
                    };
                    CommitBuilder::from(props)
                        .with_actions(actions)
                        .build(Some(state), table.log_store(), op)
                        .await
                        .map(|_| ())
                }
            }
        });
        result.map_err(|e| delta_error(&loc, "commit", e))?;
        tracing::info!(table = %loc, run_key = %self.run_key, "committed to the Delta table");
        Ok(())
    }

    /// A manifest for a run key found committed in the log while its
    /// control files are gone.
    fn placeholder_manifest(&self, claim: &Claim) -> Result<Manifest, LoadError> {
        let now = chrono::Utc::now().to_rfc3339();
        let v = serde_json::json!({
            "smartsweep_version": env!("CARGO_PKG_VERSION"),
            "status": "complete",
            "pipeline": {"name": self.options.pipeline, "file": "", "hash": claim.hash,
                         "format": "delta", "compression": ""},
            "run_id": "", "run_key": self.run_key, "api_base": "", "app_id": "",
            "mode": "cursor", "started_at": now, "finished_at": now,
            "elapsed_s_this_invocation": 0.0, "resumed": false, "concurrency": 0,
            "records": 0, "rows": 0, "failed": 0, "failures": [], "parts": [],
            "stage_busy_seconds": {"fetch": 0.0, "transform": 0.0, "write": 0.0},
            "http": {"requests": 0, "retries": 0, "token_remints": 0}
        });
        serde_json::from_value(v).map_err(|e| delta_error(&self.location, "describe the run", e))
    }
}

fn join(a: &str, b: &str) -> String {
    match (a.trim_matches('/'), b.trim_matches('/')) {
        ("", b) => b.to_owned(),
        (a, "") => a.to_owned(),
        (a, b) => format!("{a}/{b}"),
    }
}

impl Destination for DeltaDestination {
    fn describe(&self) -> String {
        match &self.root {
            Root::Remote(r) => redact(r.url()).trim_end_matches('/').to_owned(),
            Root::Local(p) => p.display().to_string(),
        }
    }

    fn open(&mut self, claim: &Claim) -> Result<Opened, LoadError> {
        self.table_dirs = claim.table_dirs.clone();
        self.run_key = self.resolve_run_key(self.out.store(), claim)?;
        self.refuse_foreign(self.out.store(), claim)?;
        let mut delta_claim = claim.clone();
        delta_claim.control_dir = join(&claim.control_dir, &join(CONTROL_DIR, &self.run_key));
        self.out.set_part_tag(&tag_of(&self.run_key));
        self.out.set_run_key(Some(self.run_key.clone()));
        let committed = self.all_committed()?;
        if committed && claim.fresh {
            return Err(LoadError::Store {
                path: PathBuf::from(self.location.to_string()),
                message: format!(
                    "run key `{}` is already committed to the Delta table `{}`; a Delta commit cannot be undone by --fresh",
                    self.run_key, self.location
                ),
                hint: "give a new --run-key (with --mode overwrite to replace the table's contents); earlier versions stay readable by time travel".into(),
                usage: true,
            });
        }
        let opened = self.out.open(&delta_claim)?;
        match opened {
            Opened::New if committed => {
                tracing::info!(run_key = %self.run_key, "run key already committed to the Delta table");
                Ok(Opened::Finished(Box::new(
                    self.placeholder_manifest(claim)?,
                )))
            }
            o => Ok(o),
        }
    }

    fn create_part(
        &self,
        path: &str,
        schema: SchemaRef,
        opts: &WriterOptions,
    ) -> Result<PartWriter, LoadError> {
        let mut opts = opts.clone();
        opts.format = super::Format::Parquet;
        self.out.create_part(path, schema, &opts)
    }

    fn store_checkpoint(&mut self, cp: &Checkpoint) -> Result<(), LoadError> {
        self.out.store_checkpoint(cp)
    }

    fn write_errors(&self, failures: &[RecordFailure]) -> Result<(), LoadError> {
        self.out.write_errors(failures)
    }

    fn write_report(&self, html: &[u8]) -> Result<(), LoadError> {
        self.out.write_report(html)
    }

    fn finish(&mut self, manifest: &Manifest) -> Result<(), LoadError> {
        self.out.reassert_claim()?;
        let mut tables: Vec<(&str, &[CommittedPart])> = manifest
            .tables
            .values()
            .map(|t| (t.dir.as_str(), t.parts.as_slice()))
            .collect();
        if tables.is_empty() {
            tables.push(("", manifest.parts.as_slice()));
        }
        for (dir, parts) in tables {
            self.commit_table(dir, parts)?;
        }
        self.out.finish(manifest)
    }

    fn read_manifest(&self) -> Result<Option<Manifest>, LoadError> {
        self.out.read_manifest()
    }

    fn read_checkpoint(&self) -> Result<Option<Checkpoint>, LoadError> {
        self.out.read_checkpoint()
    }

    fn store(&self) -> &dyn Store {
        self.out.store()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_keys_and_tags() {
        assert!(check_run_key("2026-12-04").is_ok());
        assert!(check_run_key("2026-12-04T00:00:00+00:00").is_ok());
        for bad in ["", "../x", "a/b", ".hidden", "a b", "é"] {
            assert!(check_run_key(bad).is_err(), "{bad}");
        }
        let t = tag_of("2026-12-04");
        assert_eq!(t.len(), 13);
        assert!(t.starts_with('r') && !t.contains('.') && !t.contains('-'));
        assert_eq!(t, tag_of("2026-12-04"));
        assert_ne!(t, tag_of("2026-12-05"));
        assert_eq!(
            app_id("drug_names", "2026-12-04"),
            "smartsweep/drug_names/2026-12-04"
        );
    }
}
