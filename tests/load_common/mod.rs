//! The load tests' view of a local output: the commit protocol
//! ([`Output`] over a [`LocalStore`]) driven the way the engine drives it.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

use smartsweep::checkpoint::{Checkpoint, CommittedPart, Mode};
use smartsweep::load::manifest::{HttpSummary, Manifest, PipelineInfo, RunStatus, StageBusy};
use smartsweep::load::{
    Claim, Destination, Format, LoadError, LocalStore, Opened, Output, PartWriter, WriterOptions,
    part_file_name,
};
use smartsweep::record::RecordId;
use std::cell::RefCell;
use std::path::{Path, PathBuf};

/// The table name the load tests use.
pub const TABLE: &str = "t";

/// An opened local output.
pub struct OutputDir {
    out: RefCell<Output>,
    path: PathBuf,
}

impl std::fmt::Debug for OutputDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "OutputDir({})", self.path.display())
    }
}

/// The claim of a single-table Parquet (or CSV) run under `hash`.
pub fn claim(hash: &str, fresh: bool, format: Format) -> Claim {
    Claim {
        hash: hash.to_owned(),
        fresh,
        format,
        table_dirs: vec![String::new()],
        control_dir: String::new(),
        chains: None,
    }
}

impl OutputDir {
    /// Opens `path` for a run of `hash`: `Ok(None)` for a new run (its
    /// first checkpoint is stored at once, as the engine does),
    /// `Ok(Some(cp))` to resume. A finished output is
    /// `Err(LoadError::PipelineChanged)` or `Opened::Finished` mapped to an
    /// error string by [`OutputDir::open_any`].
    pub fn open(
        path: &Path,
        hash: &str,
        fresh: bool,
    ) -> Result<(OutputDir, Option<Checkpoint>), LoadError> {
        Self::open_as(path, hash, fresh, Format::Parquet)
    }

    pub fn open_as(
        path: &Path,
        hash: &str,
        fresh: bool,
        format: Format,
    ) -> Result<(OutputDir, Option<Checkpoint>), LoadError> {
        let (dir, opened) = Self::open_any(path, hash, fresh, format)?;
        match opened {
            Opened::New => {
                dir.store_checkpoint(&new_checkpoint(hash))?;
                Ok((dir, None))
            }
            Opened::Resume(cp) => Ok((dir, Some(*cp))),
            Opened::Finished(_) => panic!("finished: use open_any"),
        }
    }

    pub fn open_any(
        path: &Path,
        hash: &str,
        fresh: bool,
        format: Format,
    ) -> Result<(OutputDir, Opened), LoadError> {
        let mut out = Output::new(Box::new(LocalStore::new(path)));
        let opened = out.open(&claim(hash, fresh, format))?;
        Ok((
            OutputDir {
                out: RefCell::new(out),
                path: path.to_path_buf(),
            },
            opened,
        ))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Part `index` at the root.
    pub fn create_part(
        &self,
        index: u32,
        schema: arrow_schema::SchemaRef,
        opts: &WriterOptions,
    ) -> Result<PartWriter, LoadError> {
        let name = part_file_name(None, index, opts.format.extension());
        self.out.borrow().create_part(&name, schema, opts)
    }

    /// An empty part `index` (schema and footer, or the CSV header only):
    /// what the engine writes for a table that got no row.
    pub fn empty_part(
        &self,
        index: u32,
        schema: arrow_schema::SchemaRef,
        opts: &WriterOptions,
    ) -> Result<CommittedPart, LoadError> {
        let name = part_file_name(None, index, opts.format.extension());
        smartsweep::load::empty_part(&*self.out.borrow(), &name, schema, opts)
    }

    pub fn store_checkpoint(&self, cp: &Checkpoint) -> Result<(), LoadError> {
        self.out.borrow_mut().store_checkpoint(cp)
    }

    pub fn write_errors_csv(
        &self,
        failures: &[smartsweep::failure::RecordFailure],
    ) -> Result<(), LoadError> {
        self.out.borrow().write_errors(failures)
    }

    pub fn finish(&self, manifest: &Manifest) -> Result<(), LoadError> {
        self.out.borrow_mut().finish(manifest)
    }
}

/// The checkpoint a new run of `hash` starts from.
pub fn new_checkpoint(hash: &str) -> Checkpoint {
    let mut cp = Checkpoint::new(hash, "run-1", Mode::Cursor, "2026-01-01T00:00:00Z");
    cp.table_mut(TABLE);
    cp
}

/// Records a committed part and its records in `cp`, as the engine's
/// commit does.
pub fn add_part(cp: &mut Checkpoint, part: CommittedPart, ids: &[&str]) {
    let t = cp.table_mut(TABLE);
    t.rows += part.rows;
    t.parts.push(part);
    for id in ids {
        cp.mark_done(0, &RecordId::from(*id));
    }
    cp.chains[0].next_part += 1;
}

/// The parts `cp` lists.
pub fn parts(cp: &Checkpoint) -> Vec<CommittedPart> {
    cp.parts().cloned().collect()
}

/// A minimal manifest of a finished run of `hash`.
pub fn manifest(hash: &str, records: u64, parts: Vec<CommittedPart>) -> Manifest {
    Manifest {
        smartsweep_version: "test".into(),
        status: RunStatus::Complete,
        pipeline: PipelineInfo {
            name: "test".into(),
            hash: hash.into(),
            format: "parquet".into(),
            compression: "zstd".into(),
            ..PipelineInfo::default()
        },
        run_id: "run-1".into(),
        run_key: None,
        api_base: "http://127.0.0.1".into(),
        app_id: "app".into(),
        mode: Mode::Cursor,
        started_at: "2026-01-01T00:00:00Z".into(),
        finished_at: "2026-01-01T00:00:01Z".into(),
        elapsed_s_this_invocation: 1.0,
        elapsed_s: 1.0,
        resumed: false,
        concurrency: 1,
        chains: Vec::new(),
        records,
        rows: parts.iter().map(|p| p.rows).sum(),
        failed: 0,
        failures: Vec::new(),
        parts,
        tables: Default::default(),
        conversions: Default::default(),
        stage_busy_seconds: StageBusy::default(),
        http: HttpSummary::default(),
        timeline: Vec::new(),
        slowest_records: Vec::new(),
        seeds: Vec::new(),
        audit: None,
    }
}
