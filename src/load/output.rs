//! [`Output`]: the commit protocol (see the [module docs](super)), written
//! once over any [`Store`].
//!
//! What `open` may touch: only what smartsweep can prove it wrote. That is
//! what our checkpoint or manifest lists, a part numbered at or past its
//! chain's `next_part` next to our checkpoint (written after the
//! checkpoint, never committed), and our own temp names. A directory with
//! no checkpoint and no manifest of ours must be empty (dot files aside);
//! a `_SUCCESS` without our manifest is another tool's, and refused.

use super::destination::{Claim, Destination, Opened};
use super::errors_csv::errors_csv;
use super::manifest::Manifest;
use super::names::{
    CHECKPOINT_FILE, ERRORS_FILE, INPROGRESS_SUFFIX, MANIFEST_FILE, REPORT_FILE, SUCCESS_FILE,
    TMP_SUFFIX, parse_part_name,
};
use super::store::{Listed, Store};
use super::verify::check_part;
use super::{Format, LoadError, PartWriter, WriterOptions};
use crate::checkpoint::{Checkpoint, CheckpointError, CommittedPart};
use crate::failure::RecordFailure;
use arrow_schema::SchemaRef;
use std::collections::BTreeSet;
use std::path::PathBuf;

/// The commit protocol over a [`Store`].
#[derive(Debug)]
pub struct Output {
    store: Box<dyn Store>,
    /// Control files' directory (`""` or a shard's).
    control: String,
    /// The stored checkpoint's version (conditional replacement).
    version: Option<String>,
    /// The store took a lock in `prepare`; otherwise the conditional
    /// checkpoint is the only guard of ownership.
    locked: bool,
    /// The last checkpoint stored, re-asserted conditionally before the
    /// output is finished on a store without a lock.
    last_checkpoint: Option<Vec<u8>>,
    /// A tag in every part name of this run (`part-00000-<tag>.parquet`),
    /// so that several runs' parts share a directory (a Delta table);
    /// parts of other tags are never touched.
    tag: Option<String>,
    /// The scheduler's run key, recorded in the manifest.
    run_key: Option<String>,
    /// This process's claim, written into every checkpoint it stores on a
    /// store without a lock (see [`Checkpoint::claim`]).
    claim: String,
}

/// What a listed file is to a claim.
#[derive(Debug, PartialEq, Eq)]
enum Kind {
    /// One of our control files (or its temp file).
    Control,
    /// A part file name of this pipeline: `(chain, index)`, and whether it
    /// is `.inprogress`.
    Part(u32, u32, bool),
    /// A dot file: never ours, never in the way.
    Hidden,
    /// Anything else.
    Other,
}

impl Output {
    /// The protocol over `store`.
    pub fn new(store: Box<dyn Store>) -> Output {
        Output {
            store,
            control: String::new(),
            version: None,
            locked: false,
            last_checkpoint: None,
            tag: None,
            run_key: None,
            claim: format!("{:016x}", rand::random::<u64>()),
        }
    }

    /// On a store without a lock: stores the last checkpoint again,
    /// conditionally, which fails ([`LoadError::ClaimLost`]) if another run
    /// took the output over. Called before anything final is written.
    pub fn reassert_claim(&mut self) -> Result<(), LoadError> {
        if let Some(last) = self.last_checkpoint.clone() {
            let rel = self.ctl(CHECKPOINT_FILE);
            self.store.put_checkpoint(&rel, &last, &mut self.version)?;
        }
        Ok(())
    }

    /// Names every part of this run `part-NNNNN-<tag>.<ext>` and leaves
    /// parts of other tags alone (several runs' parts in one directory).
    pub fn with_part_tag(mut self, tag: &str) -> Output {
        self.set_part_tag(tag);
        self
    }

    /// See [`Output::with_part_tag`].
    pub fn set_part_tag(&mut self, tag: &str) {
        self.tag = Some(tag.to_owned());
    }

    /// See [`Output::with_run_key`].
    pub fn set_run_key(&mut self, key: Option<String>) {
        self.run_key = key;
    }

    /// Records `key` as the manifest's `run_key` when the engine left it
    /// empty.
    pub fn with_run_key(mut self, key: Option<String>) -> Output {
        self.set_run_key(key);
        self
    }

    /// The part path the store sees for `path`: the tag inserted before
    /// the extension.
    pub fn tagged(&self, path: &str) -> String {
        let Some(tag) = &self.tag else {
            return path.to_owned();
        };
        let (dir, name) = match path.rsplit_once('/') {
            Some((d, n)) => (Some(d), n),
            None => (None, path),
        };
        let name = match name.split_once('.') {
            Some((stem, ext)) => format!("{stem}-{tag}.{ext}"),
            None => format!("{name}-{tag}"),
        };
        match dir {
            Some(d) => format!("{d}/{name}"),
            None => name,
        }
    }

    /// A part name without this run's tag, or `None` when it is not one
    /// of this run's (another tag, or no tag while this run has one).
    fn untagged<'a>(&self, name: &'a str) -> Option<std::borrow::Cow<'a, str>> {
        let Some(tag) = &self.tag else {
            return Some(std::borrow::Cow::Borrowed(name));
        };
        let (stem, rest) = name.split_once('.')?;
        let stem = stem.strip_suffix(tag.as_str())?.strip_suffix('-')?;
        Some(std::borrow::Cow::Owned(format!("{stem}.{rest}")))
    }

    fn ctl(&self, name: &str) -> String {
        if self.control.is_empty() {
            name.to_owned()
        } else {
            format!("{}/{name}", self.control)
        }
    }

    fn path_of(&self, rel: &str) -> PathBuf {
        PathBuf::from(self.store.describe_path(rel))
    }

    fn classify(&self, claim: &Claim, listed: &Listed) -> Kind {
        let path = listed.path.as_str();
        let name = path.rsplit('/').next().unwrap_or(path);
        if name.starts_with('.') {
            return Kind::Hidden;
        }
        let controls = [
            CHECKPOINT_FILE,
            MANIFEST_FILE,
            ERRORS_FILE,
            REPORT_FILE,
            SUCCESS_FILE,
        ];
        for c in controls {
            let full = self.ctl(c);
            if path == full || path.strip_suffix(TMP_SUFFIX) == Some(full.as_str()) {
                return Kind::Control;
            }
        }
        let dir = match path.rsplit_once('/') {
            Some((d, _)) => d,
            None => "",
        };
        let in_table_dir = claim.table_dirs.iter().any(|t| in_table(dir, t));
        let ext = claim.format.extension();
        let Some(name) = self.untagged(name) else {
            return Kind::Other;
        };
        match (in_table_dir, parse_part_name(&name, &[ext])) {
            (true, Some((chain, index))) => {
                Kind::Part(chain.unwrap_or(0), index, name.ends_with(INPROGRESS_SUFFIX))
            }
            _ => Kind::Other,
        }
    }

    fn read_checkpoint_file(&self) -> Result<Option<Checkpoint>, LoadError> {
        Ok(self.read_checkpoint_versioned()?.map(|(cp, _)| cp))
    }

    /// The checkpoint and the version of exactly those bytes.
    fn read_checkpoint_versioned(&self) -> Result<Option<(Checkpoint, Option<String>)>, LoadError> {
        let rel = self.ctl(CHECKPOINT_FILE);
        let Some((bytes, version)) = self.store.read_versioned(&rel)? else {
            return Ok(None);
        };
        Checkpoint::from_json(&bytes)
            .map(|cp| Some((cp, version)))
            .map_err(|e| LoadError::BadCheckpoint {
                path: self.path_of(&rel),
                message: match e {
                    CheckpointError::Newer { .. } => {
                        format!("{e}; use the smartsweep that wrote it")
                    }
                    CheckpointError::Older { .. } => format!(
                        "{e}; finish it with that smartsweep, or pass --fresh to start over"
                    ),
                    CheckpointError::Corrupt(_) => e.to_string(),
                },
            })
    }

    fn read_manifest_file(&self) -> Result<Option<Manifest>, LoadError> {
        let rel = self.ctl(MANIFEST_FILE);
        let Some(bytes) = self.store.read(&rel)? else {
            return Ok(None);
        };
        Manifest::from_json(&bytes)
            .map(Some)
            .map_err(|message| LoadError::BadCheckpoint {
                path: self.path_of(&rel),
                message: format!("not a smartsweep manifest: {message}"),
            })
    }

    /// Checks every committed part as `verify` does: present, of its size
    /// and hash, readable, of its row count.
    fn check_parts<'a>(
        &self,
        parts: impl Iterator<Item = &'a CommittedPart>,
    ) -> Result<(), LoadError> {
        for part in parts {
            if let Err(problem) = check_part(self.store.as_ref(), part) {
                return Err(LoadError::PartTampered {
                    path: self.path_of(&part.file),
                    problem: problem.to_string(),
                });
            }
        }
        Ok(())
    }

    fn remove(&self, rel: &str, why: &str) -> Result<(), LoadError> {
        if self.store.delete(rel)? {
            tracing::info!(path = %self.store.describe_path(rel), "removed {why} file");
        }
        Ok(())
    }

    /// Resume: refuse a changed pipeline or a tampered part, then remove
    /// what the interrupted run left uncommitted.
    fn resume(
        &mut self,
        claim: &Claim,
        cp: Checkpoint,
        version: Option<String>,
        listed: &[Listed],
    ) -> Result<Opened, LoadError> {
        if cp.pipeline_hash != claim.hash {
            return Err(LoadError::PipelineChanged {
                path: PathBuf::from(self.store.describe()),
                expected: claim.hash.clone(),
                found: cp.pipeline_hash,
            });
        }
        // Check before deleting anything, so a tampered output is reported
        // untouched.
        self.check_parts(cp.parts())?;
        if !self.locked {
            // No lock: claim before deleting anything, against exactly the
            // checkpoint read. If another run stored one since, this fails
            // (`ClaimLost`) and nothing of the other run's is touched.
            self.version = version;
            self.store_checkpoint(&cp)?;
        }
        let committed: BTreeSet<&str> = cp.parts().map(|p| p.file.as_str()).collect();
        let mut removed = false;
        for l in listed {
            let stale = match self.classify(claim, l) {
                Kind::Control => {
                    l.path != self.ctl(CHECKPOINT_FILE) && l.path != self.ctl(ERRORS_FILE)
                }
                Kind::Part(chain, index, inprogress) => {
                    if committed.contains(l.path.as_str()) {
                        false
                    } else if !self.owns_chain(claim, chain) {
                        continue;
                    } else if self.written_after(&cp, chain, index) {
                        true
                    } else if inprogress {
                        false
                    } else {
                        return Err(self.not_ours(
                            &l.path,
                            "remove it (or move it elsewhere), or choose another --output",
                        ));
                    }
                }
                Kind::Hidden | Kind::Other => false,
            };
            if stale {
                self.remove(&l.path, "uncommitted")?;
                removed = true;
            }
        }
        if removed {
            self.store.sync()?;
        }
        if self.locked {
            self.version = self.store.version(&self.ctl(CHECKPOINT_FILE))?;
            self.store_checkpoint(&cp)?;
        }
        Ok(Opened::Resume(Box::new(cp)))
    }

    fn owns_chain(&self, claim: &Claim, chain: u32) -> bool {
        claim.chains.as_ref().is_none_or(|c| c.contains(&chain))
    }

    /// A part numbered at or past its chain's `next_part` was started after
    /// the checkpoint was stored, by the run that stored it.
    fn written_after(&self, cp: &Checkpoint, chain: u32, index: u32) -> bool {
        cp.chains
            .iter()
            .find(|c| c.index == chain)
            .is_some_and(|c| index >= c.next_part)
    }

    fn not_ours(&self, rel: &str, hint: &str) -> LoadError {
        LoadError::NotOurs {
            path: PathBuf::from(self.store.describe()),
            name: crate::text::escape_control(rel).into_owned(),
            hint: hint.to_owned(),
        }
    }

    /// `--fresh` on an output of ours: remove exactly what our checkpoint or
    /// manifest lists (and our own uncommitted leftovers), `_SUCCESS` first.
    fn clear_ours(
        &self,
        claim: &Claim,
        cp: Option<&Checkpoint>,
        manifest: Option<&Manifest>,
        listed: &[Listed],
    ) -> Result<(), LoadError> {
        let mut ours: BTreeSet<String> = BTreeSet::new();
        if let Some(cp) = cp {
            ours.extend(cp.parts().map(|p| p.file.clone()));
        }
        if let Some(m) = manifest {
            ours.extend(m.parts.iter().map(|p| p.file.clone()));
        }
        if manifest.is_some() {
            self.remove(&self.ctl(SUCCESS_FILE), "finished-output")?;
        }
        for l in listed {
            let remove = match self.classify(claim, l) {
                Kind::Control => l.path != self.ctl(SUCCESS_FILE),
                Kind::Part(chain, index, _) => {
                    ours.contains(&l.path)
                        || cp.is_some_and(|cp| {
                            self.owns_chain(claim, chain) && self.written_after(cp, chain, index)
                        })
                }
                Kind::Hidden | Kind::Other => false,
            };
            if remove {
                self.remove(&l.path, "previous-run")?;
            }
        }
        self.store.sync()
    }

    /// Refuses part-like files that are not ours before a fresh start.
    fn refuse_foreign_parts(&self, claim: &Claim, listed: &[Listed]) -> Result<(), LoadError> {
        for l in listed {
            if let Kind::Part(chain, _, _) = self.classify(claim, l)
                && self.owns_chain(claim, chain)
            {
                return Err(self.not_ours(
                    &l.path,
                    "it would clash with this run's parts: remove it, or choose another --output",
                ));
            }
        }
        Ok(())
    }
}

/// True when `dir` is the table directory `table` or a Hive partition
/// directory under it (`col=value` segments only).
fn in_table(dir: &str, table: &str) -> bool {
    let rest = if table.is_empty() {
        dir
    } else if dir == table {
        return true;
    } else {
        match dir.strip_prefix(table).and_then(|r| r.strip_prefix('/')) {
            Some(r) => r,
            None => return false,
        }
    };
    rest.is_empty()
        || rest
            .split('/')
            .all(|seg| seg.contains('=') && !seg.starts_with('='))
}

impl Destination for Output {
    fn describe(&self) -> String {
        self.store.describe()
    }

    fn open(&mut self, claim: &Claim) -> Result<Opened, LoadError> {
        self.control = claim.control_dir.trim_matches('/').to_owned();
        self.locked = self.store.prepare(&self.control)?;
        // The checkpoint before the listing: every part it lists was
        // complete before it was stored, so the listing shows it even if
        // another run (on a store without a lock) moves on in between.
        let (cp, cp_version) = match self.read_checkpoint_versioned()? {
            Some((cp, v)) => (Some(cp), v),
            None => (None, None),
        };
        let listed = self.store.list()?;
        let has = |rel: &str| listed.iter().any(|l| l.path == rel);
        let manifest = if has(&self.ctl(MANIFEST_FILE)) {
            self.read_manifest_file()?
        } else {
            None
        };
        let finished = has(&self.ctl(SUCCESS_FILE));
        if finished && manifest.is_none() {
            return Err(self.not_ours(
                &self.ctl(SUCCESS_FILE),
                "this output was written by another tool (a `_SUCCESS` without smartsweep's `_manifest.json`); choose another --output",
            ));
        }
        if !claim.fresh {
            if finished && let Some(m) = &manifest {
                if m.pipeline.hash == claim.hash {
                    if cp.is_some() {
                        // A run killed between `_SUCCESS` and removing its
                        // checkpoint: the output is finished (the manifest
                        // was stored before `_SUCCESS`); complete the tidy.
                        self.remove(&self.ctl(CHECKPOINT_FILE), "finished run's leftover")?;
                        self.store.sync()?;
                    }
                    return Ok(Opened::Finished(Box::new(m.clone())));
                }
                return Err(LoadError::PipelineChanged {
                    path: PathBuf::from(self.store.describe()),
                    expected: claim.hash.clone(),
                    found: m.pipeline.hash.clone(),
                });
            }
            if let Some(cp) = cp {
                return self.resume(claim, cp, cp_version, &listed);
            }
        }
        if cp.is_none() && manifest.is_none() && has(&self.ctl(CHECKPOINT_FILE)) {
            // No checkpoint when read, one in the listing just after: another
            // run claimed the output in between (a lock rules this out on a
            // local directory).
            return Err(LoadError::ClaimLost {
                path: self.path_of(&self.ctl(CHECKPOINT_FILE)),
            });
        }
        if cp.is_some() || manifest.is_some() {
            self.clear_ours(claim, cp.as_ref(), manifest.as_ref(), &listed)?;
            let left = self.store.list()?;
            self.refuse_foreign_parts(claim, &left)?;
        } else if claim.control_dir.is_empty() {
            // Nothing of ours but, at most, the temp file of a first
            // checkpoint that a kill interrupted (a name only we use).
            let first_tmp = format!("{CHECKPOINT_FILE}{TMP_SUFFIX}");
            if let Some(l) = listed
                .iter()
                .find(|l| self.classify(claim, l) != Kind::Hidden && l.path != first_tmp)
            {
                return Err(LoadError::ForeignDirectory {
                    path: PathBuf::from(self.store.describe()),
                    example: crate::text::escape_control(&l.path).into_owned(),
                });
            }
            self.remove(&first_tmp, "interrupted")?;
        } else {
            self.refuse_foreign_parts(claim, &listed)?;
        }
        self.version = None;
        Ok(Opened::New)
    }

    fn create_part(
        &self,
        path: &str,
        schema: SchemaRef,
        opts: &WriterOptions,
    ) -> Result<PartWriter, LoadError> {
        let path = self.tagged(path);
        let sink = self.store.create_part(&path)?;
        PartWriter::new(path, sink, schema, opts)
    }

    fn store_checkpoint(&mut self, cp: &Checkpoint) -> Result<(), LoadError> {
        let rel = self.ctl(CHECKPOINT_FILE);
        let json = if self.locked {
            cp.to_json()
        } else {
            Checkpoint {
                claim: Some(self.claim.clone()),
                ..cp.clone()
            }
            .to_json()
        };
        let bytes = json.map_err(|e| LoadError::BadCheckpoint {
            path: self.path_of(&rel),
            message: e.to_string(),
        })?;
        self.store.put_checkpoint(&rel, &bytes, &mut self.version)?;
        if !self.locked {
            self.last_checkpoint = Some(bytes);
        }
        Ok(())
    }

    fn write_errors(&self, failures: &[RecordFailure]) -> Result<(), LoadError> {
        let rel = self.ctl(ERRORS_FILE);
        if failures.is_empty() {
            if self.store.delete(&rel)? {
                self.store.sync()?;
            }
            return Ok(());
        }
        self.store.put(&rel, &errors_csv(failures))
    }

    fn write_report(&self, html: &[u8]) -> Result<(), LoadError> {
        self.store.put(&self.ctl(REPORT_FILE), html)
    }

    fn finish(&mut self, manifest: &Manifest) -> Result<(), LoadError> {
        self.reassert_claim()?;
        let mut manifest = std::borrow::Cow::Borrowed(manifest);
        if manifest.run_key.is_none() && self.run_key.is_some() {
            manifest.to_mut().run_key = self.run_key.clone();
        }
        let rel = self.ctl(MANIFEST_FILE);
        let bytes = manifest.to_json().map_err(|message| LoadError::Encode {
            path: self.path_of(&rel),
            message,
        })?;
        self.store.put(&rel, &bytes)?;
        self.store.put(&self.ctl(SUCCESS_FILE), b"")?;
        if self.store.delete(&self.ctl(CHECKPOINT_FILE))? {
            self.store.sync()?;
        }
        Ok(())
    }

    fn read_manifest(&self) -> Result<Option<Manifest>, LoadError> {
        self.read_manifest_file()
    }

    fn read_checkpoint(&self) -> Result<Option<Checkpoint>, LoadError> {
        self.read_checkpoint_file()
    }

    fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }
}

/// Makes sure a finished table has at least one part, so that readers
/// given `out/*.parquet` (DuckDB, Spark, pandas) find the schema instead of
/// failing on an empty glob: an empty part (Parquet: schema and footer, no
/// row group; CSV: the header only) at `path`.
pub fn empty_part(
    dest: &dyn Destination,
    path: &str,
    schema: SchemaRef,
    opts: &WriterOptions,
) -> Result<CommittedPart, LoadError> {
    dest.create_part(path, schema, opts)?.finish()
}

impl Format {
    /// True when `name` is a part file name this format writes.
    pub fn is_part_name(self, name: &str) -> bool {
        parse_part_name(name, &[self.extension()]).is_some() && !name.ends_with(INPROGRESS_SUFFIX)
    }
}
