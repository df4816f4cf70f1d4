//! The output directory: opening (new, resume, fresh, refuse), the
//! checkpoint, `_errors.csv`, and the final `_manifest.json` + `_SUCCESS`.

use super::fsutil::{self, atomic_write, create_dir_all, remove_if_exists, sync_dir};
use super::part::parse_part_index;
use super::{LoadError, PartWriter, WriterOptions};
use crate::checkpoint::{Checkpoint, CheckpointError};
use crate::failure::RecordFailure;
use arrow_array::{RecordBatch, StringArray, UInt16Array, UInt32Array};
use arrow_schema::{DataType, Field, Schema, SchemaRef};
use std::fs;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The checkpoint file, present while a run is unfinished.
pub const CHECKPOINT_FILE: &str = "_checkpoint.json";
/// The failed records, present when any record failed.
pub const ERRORS_FILE: &str = "_errors.csv";
/// The run manifest, written at the end.
pub const MANIFEST_FILE: &str = "_manifest.json";
/// The marker of a finished output, written last.
pub const SUCCESS_FILE: &str = "_SUCCESS";

/// What an entry of the output directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Entry {
    /// `part-NNNNN.<ext>`: committed if the checkpoint lists it.
    Part,
    /// Ours and always garbage on open: `*.inprogress`, `*.tmp` of our files.
    Garbage,
    /// `_checkpoint.json`, `_manifest.json`, `_errors.csv`, `_SUCCESS`.
    Control,
    /// Not ours: never touched.
    Foreign,
}

fn classify(name: &str) -> Entry {
    const CONTROL: [&str; 4] = [CHECKPOINT_FILE, ERRORS_FILE, MANIFEST_FILE, SUCCESS_FILE];
    if CONTROL.contains(&name) {
        return Entry::Control;
    }
    if let Some(base) = name.strip_suffix(".tmp")
        && CONTROL.contains(&base)
    {
        return Entry::Garbage;
    }
    if parse_part_index(name).is_some() {
        if let Some(base) = name.strip_suffix(".inprogress") {
            if is_part_name(base) {
                return Entry::Garbage;
            }
        } else if is_part_name(name) {
            return Entry::Part;
        }
    }
    Entry::Foreign
}

/// `part-<digits>.parquet` or `part-<digits>.csv`.
fn is_part_name(name: &str) -> bool {
    let Some(rest) = name.strip_prefix("part-") else {
        return false;
    };
    let Some((digits, ext)) = rest.split_once('.') else {
        return false;
    };
    !digits.is_empty()
        && digits.bytes().all(|b| b.is_ascii_digit())
        && (ext == "parquet" || ext == "csv")
}

/// The `--output` directory of a run. See the [module docs](super) for the
/// layout and the commit protocol.
#[derive(Debug)]
pub struct OutputDir {
    path: PathBuf,
    /// The directory itself, opened and `flock`ed exclusively for as long
    /// as this value lives: two runs on one output (an overlapping nightly
    /// job, a second terminal) would otherwise corrupt each other.
    _lock: fs::File,
}

impl OutputDir {
    /// Opens (creating it, mode 0700, when missing) the output directory
    /// for a run of the pipeline whose hash is `pipeline_hash`.
    ///
    /// - `_SUCCESS` present: refused with [`LoadError::AlreadyFinished`]
    ///   unless `fresh`.
    /// - A non-empty directory with no smartsweep file at all (dot files
    ///   aside) is refused ([`LoadError::ForeignDirectory`]), even with
    ///   `fresh`: smartsweep never deletes what it did not write, and never
    ///   mixes its parts into someone else's directory.
    /// - `fresh`: our files are removed (`_SUCCESS` first), others kept;
    ///   returns no checkpoint.
    /// - `_checkpoint.json` present: it is read (a newer version or an
    ///   unreadable file is an error naming it), a different pipeline hash
    ///   is refused ([`LoadError::PipelineChanged`]); `*.inprogress` and
    ///   temp files and every part the checkpoint does not list are deleted
    ///   (renamed but never checkpointed = uncommitted); each listed part
    ///   must exist with its recorded size ([`LoadError::PartTampered`]
    ///   otherwise). Returns the checkpoint to resume from.
    /// - No checkpoint: nothing was committed; leftovers of ours are
    ///   deleted and no checkpoint is returned.
    pub fn open(
        path: &Path,
        pipeline_hash: &str,
        fresh: bool,
    ) -> Result<(OutputDir, Option<Checkpoint>), LoadError> {
        match fs::metadata(path) {
            Ok(m) if m.is_dir() => {}
            Ok(_) => {
                return Err(LoadError::NotADirectory {
                    path: path.to_path_buf(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_dir_all(path)?;
                sync_parent(path)?;
            }
            Err(e) => return Err(LoadError::io("open", path, e)),
        }
        let lock = fs::File::open(path).map_err(|e| LoadError::io("open", path, e))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(LoadError::Locked {
                    path: path.to_path_buf(),
                });
            }
            Err(fs::TryLockError::Error(e)) => return Err(LoadError::io("lock", path, e)),
        }
        let dir = OutputDir {
            path: path.to_path_buf(),
            _lock: lock,
        };
        let entries = dir.list()?;
        let ours = entries.iter().any(|(_, kind)| *kind != Entry::Foreign);
        if !ours && let Some((name, _)) = entries.iter().find(|(name, _)| !name.starts_with('.')) {
            return Err(LoadError::ForeignDirectory {
                path: dir.path.clone(),
                example: name.clone(),
            });
        }
        let has = |name: &str| entries.iter().any(|(n, _)| n == name);

        if has(SUCCESS_FILE) && !fresh {
            return Err(LoadError::AlreadyFinished {
                path: dir.path.clone(),
            });
        }
        // Fail now, before any network call, if the directory cannot be
        // written (read-only mount, permissions).
        dir.probe_writable()?;
        if fresh || !has(CHECKPOINT_FILE) {
            // Nothing committed (or the user asked to start over): every
            // file of ours goes, `_SUCCESS` first so that a crash midway
            // never leaves a "finished" output with parts missing.
            let mut ours: Vec<&String> = entries
                .iter()
                .filter(|(_, kind)| *kind != Entry::Foreign)
                .map(|(name, _)| name)
                .collect();
            ours.sort_by_key(|name| name.as_str() != SUCCESS_FILE);
            for name in ours {
                dir.remove(name, "leftover")?;
            }
            sync_dir(&dir.path)?;
            return Ok((dir, None));
        }

        let cp_path = dir.path.join(CHECKPOINT_FILE);
        let bytes = fs::read(&cp_path).map_err(|e| LoadError::io("read", &cp_path, e))?;
        let cp = Checkpoint::from_json(&bytes).map_err(|e| LoadError::BadCheckpoint {
            path: cp_path.clone(),
            message: match e {
                CheckpointError::Newer { .. } => {
                    format!("{e}; use the smartsweep that wrote it")
                }
                CheckpointError::Corrupt(_) => e.to_string(),
            },
        })?;
        if cp.pipeline_hash != pipeline_hash {
            return Err(LoadError::PipelineChanged {
                path: dir.path.clone(),
                expected: pipeline_hash.to_owned(),
                found: cp.pipeline_hash,
            });
        }
        // Check the committed parts before deleting anything, so that a
        // tampered output is reported untouched.
        for part in &cp.parts {
            let part_path = dir.path.join(&part.file);
            if !is_part_name(&part.file) {
                return Err(LoadError::BadCheckpoint {
                    path: cp_path.clone(),
                    message: format!("`{}` is not a part file name", part.file),
                });
            }
            match fs::metadata(&part_path) {
                Ok(m) if m.is_file() && m.len() == part.bytes => {}
                Ok(m) => {
                    return Err(LoadError::PartTampered {
                        path: part_path,
                        problem: format!("{} bytes, expected {}", m.len(), part.bytes),
                    });
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    return Err(LoadError::PartTampered {
                        path: part_path,
                        problem: "missing".to_owned(),
                    });
                }
                Err(e) => return Err(LoadError::io("inspect", &part_path, e)),
            }
        }
        let mut removed = false;
        for (name, kind) in &entries {
            let stale = match kind {
                Entry::Garbage => true,
                Entry::Part => !cp.parts.iter().any(|p| &p.file == name),
                // A manifest without `_SUCCESS` is from a finish that did not
                // complete; it is rewritten at the end.
                Entry::Control => name == MANIFEST_FILE,
                Entry::Foreign => false,
            };
            if stale {
                dir.remove(name, "uncommitted")?;
                removed = true;
            }
        }
        if removed {
            sync_dir(&dir.path)?;
        }
        Ok((dir, Some(cp)))
    }

    /// The directory.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Opens part `index` in this directory (see [`PartWriter::create`]).
    pub fn create_part(
        &self,
        index: u32,
        schema: SchemaRef,
        opts: &WriterOptions,
    ) -> Result<PartWriter, LoadError> {
        PartWriter::create(&self.path, index, schema, opts)
    }

    /// Replaces `_checkpoint.json` atomically (temp file 0600, fsync,
    /// rename, directory fsync). On failure the previous checkpoint is
    /// intact.
    pub fn store_checkpoint(&self, cp: &Checkpoint) -> Result<(), LoadError> {
        let bytes = cp.to_json().map_err(|e| LoadError::BadCheckpoint {
            path: self.path.join(CHECKPOINT_FILE),
            message: e.to_string(),
        })?;
        atomic_write(&self.path, CHECKPOINT_FILE, &bytes)
    }

    /// Writes `_errors.csv` (header `record_id,stage,http_status,attempts,message`,
    /// RFC 4180, CRLF) atomically when `failures` is not empty; removes a
    /// stale one when it is.
    pub fn write_errors_csv(&self, failures: &[RecordFailure]) -> Result<(), LoadError> {
        let path = self.path.join(ERRORS_FILE);
        if failures.is_empty() {
            if remove_if_exists(&path)? {
                sync_dir(&self.path)?;
            }
            return Ok(());
        }
        let bytes = errors_csv(failures).map_err(|e| LoadError::Encode {
            path: path.clone(),
            message: e,
        })?;
        atomic_write(&self.path, ERRORS_FILE, &bytes)
    }

    /// Finishes the output: `_manifest.json` (atomic), then the empty
    /// `_SUCCESS` marker last, a directory fsync, and then the checkpoint is
    /// removed (the manifest holds everything it held).
    pub fn finish(&self, manifest: &serde_json::Value) -> Result<(), LoadError> {
        let manifest_path = self.path.join(MANIFEST_FILE);
        let mut bytes = serde_json::to_vec_pretty(manifest).map_err(|e| LoadError::Encode {
            path: manifest_path,
            message: e.to_string(),
        })?;
        bytes.push(b'\n');
        atomic_write(&self.path, MANIFEST_FILE, &bytes)?;
        atomic_write(&self.path, SUCCESS_FILE, b"")?;
        if remove_if_exists(&self.path.join(CHECKPOINT_FILE))? {
            sync_dir(&self.path)?;
        }
        Ok(())
    }

    /// Creates and removes a temp file of ours (`_checkpoint.json.tmp`, which
    /// is garbage by definition).
    fn probe_writable(&self) -> Result<(), LoadError> {
        let probe = fsutil::tmp_path(&self.path.join(CHECKPOINT_FILE));
        drop(fsutil::create_file(&probe)?);
        remove_if_exists(&probe)?;
        Ok(())
    }

    fn list(&self) -> Result<Vec<(String, Entry)>, LoadError> {
        let read = fs::read_dir(&self.path).map_err(|e| LoadError::io("list", &self.path, e))?;
        let mut entries = Vec::new();
        for entry in read {
            let entry = entry.map_err(|e| LoadError::io("list", &self.path, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let mut kind = classify(&name);
            // A directory named like one of our files is not ours.
            if kind != Entry::Foreign
                && entry
                    .file_type()
                    .map_err(|e| LoadError::io("inspect", &entry.path(), e))?
                    .is_dir()
            {
                kind = Entry::Foreign;
            }
            entries.push((name, kind));
        }
        entries.sort();
        Ok(entries)
    }

    fn remove(&self, name: &str, why: &str) -> Result<(), LoadError> {
        let path = self.path.join(name);
        if remove_if_exists(&path)? {
            tracing::info!(path = %path.display(), "removed {why} file");
        }
        Ok(())
    }
}

/// fsyncs the parent of a directory just created, so the new directory
/// entry itself is durable.
fn sync_parent(path: &Path) -> Result<(), LoadError> {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => sync_dir(parent),
        _ => Ok(()),
    }
}

fn errors_csv(failures: &[RecordFailure]) -> Result<Vec<u8>, String> {
    let schema = Arc::new(Schema::new(vec![
        Field::new("record_id", DataType::Utf8, false),
        Field::new("stage", DataType::Utf8, false),
        Field::new("http_status", DataType::UInt16, true),
        Field::new("attempts", DataType::UInt32, false),
        Field::new("message", DataType::Utf8, false),
    ]));
    let batch = RecordBatch::try_new(
        schema,
        vec![
            Arc::new(StringArray::from_iter_values(
                failures.iter().map(|f| f.record_id.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                failures.iter().map(|f| f.stage.to_string()),
            )),
            Arc::new(UInt16Array::from_iter(
                failures.iter().map(|f| f.http_status),
            )),
            Arc::new(UInt32Array::from_iter_values(
                failures.iter().map(|f| f.attempts),
            )),
            Arc::new(StringArray::from_iter_values(
                failures.iter().map(|f| f.message.as_str()),
            )),
        ],
    )
    .map_err(|e| e.to_string())?;
    let mut out = Vec::new();
    {
        let mut w = super::part::csv_builder().build(&mut out);
        w.write(&batch).map_err(|e| e.to_string())?;
    }
    Ok(out)
}

/// Makes sure a finished output has at least one part, so that readers
/// given `out/*.parquet` (DuckDB, Spark, pandas) find the schema instead of
/// failing on an empty glob.
///
/// When `cp` lists no part (a run that produced zero rows), writes an
/// empty part `part-00000.<ext>` (Parquet: schema and footer, no row
/// group; CSV: the header only), adds it to `cp` and stores the
/// checkpoint. Returns whether it wrote one. The engine calls it right
/// before [`OutputDir::finish`].
pub fn empty_part_if_none(
    out: &OutputDir,
    cp: &mut Checkpoint,
    schema: SchemaRef,
    opts: &WriterOptions,
) -> Result<bool, LoadError> {
    if !cp.parts.is_empty() {
        return Ok(false);
    }
    let part = out
        .create_part(cp.next_part_index(), schema, opts)?
        .finish()?;
    cp.parts.push(part);
    out.store_checkpoint(cp)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_names() {
        assert_eq!(classify("part-00000.parquet"), Entry::Part);
        assert_eq!(classify("part-00012.csv"), Entry::Part);
        assert_eq!(classify("part-00012.csv.inprogress"), Entry::Garbage);
        assert_eq!(classify("_checkpoint.json.tmp"), Entry::Garbage);
        assert_eq!(classify("_manifest.json.tmp"), Entry::Garbage);
        assert_eq!(classify("_SUCCESS"), Entry::Control);
        assert_eq!(classify("_errors.csv"), Entry::Control);
        assert_eq!(classify("part-00012.json"), Entry::Foreign);
        assert_eq!(classify("part-00012.csv.bak"), Entry::Foreign);
        assert_eq!(classify("part-abc.csv"), Entry::Foreign);
        assert_eq!(classify("notes.txt"), Entry::Foreign);
        assert_eq!(classify("x.inprogress"), Entry::Foreign);
    }
}
