//! The load stage's one error type, [`LoadError`].
//!
//! Every variant names the file or directory involved and ends with a
//! `hint:` line saying what to do, so the edge can print it as is. IO errors
//! are classified once, in [`LoadError::io`]: a full disk and a read-only or
//! forbidden output directory get their own variants (the engine aborts with
//! exit 1 on any of them, leaving the checkpoint intact).

use std::io;
use std::path::{Path, PathBuf};

/// What went wrong while writing or opening the output.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The disk (or the user's quota) is full.
    #[error(
        "disk full while writing `{path}`\nhint: free space or point --output elsewhere, then re-run the same command to resume"
    )]
    DiskFull {
        /// The file being written.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The output directory (or a file in it) cannot be written: permission
    /// denied, or a read-only file system.
    #[error(
        "output directory is not writable: cannot {action} `{path}`: {source}\nhint: check the permissions and the mount of the --output directory, or choose another --output"
    )]
    NotWritable {
        /// What was being done ("create", "write", "rename", ...).
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// Any other IO error.
    #[error(
        "cannot {action} `{path}`: {source}\nhint: fix the cause, then re-run the same command to resume"
    )]
    Io {
        /// What was being done.
        action: &'static str,
        /// The path involved.
        path: PathBuf,
        /// The operating system's error.
        #[source]
        source: io::Error,
    },

    /// The output path exists and is not a directory.
    #[error(
        "the output `{path}` is not a directory\nhint: point --output at a directory (it is created when missing)"
    )]
    NotADirectory {
        /// The output path.
        path: PathBuf,
    },

    /// Another run holds the output directory.
    #[error(
        "another smartsweep run is writing to `{path}` right now\nhint: wait for it to finish (or stop it), or choose another --output"
    )]
    Locked {
        /// The output directory.
        path: PathBuf,
    },

    /// The output directory holds other files and no smartsweep output.
    #[error(
        "the output directory `{path}` is not empty and holds no smartsweep output (found `{example}`)\nhint: choose a new or empty --output directory; smartsweep never deletes files it did not write"
    )]
    ForeignDirectory {
        /// The output directory.
        path: PathBuf,
        /// One of the unrelated entries, to show the user.
        example: String,
    },

    /// The output is finished (`_SUCCESS` exists).
    #[error(
        "the output `{path}` is finished (`_SUCCESS` exists)\nhint: pass --fresh to overwrite it, or choose another --output"
    )]
    AlreadyFinished {
        /// The output directory.
        path: PathBuf,
    },

    /// The checkpoint was written by a different pipeline.
    #[error(
        "the pipeline changed since the unfinished run in `{path}` started (checkpoint pipeline hash `{found}`, current `{expected}`)\nhint: re-run with the original pipeline to resume, or pass --fresh to discard the partial output and start over"
    )]
    PipelineChanged {
        /// The output directory.
        path: PathBuf,
        /// The current pipeline's hash.
        expected: String,
        /// The hash stored in the checkpoint.
        found: String,
    },

    /// The checkpoint file cannot be read as a checkpoint.
    #[error(
        "the checkpoint `{path}` is unreadable: {message}\nhint: pass --fresh to discard the partial output and start over"
    )]
    BadCheckpoint {
        /// The checkpoint file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },

    /// A committed part listed in the checkpoint is missing or has another size.
    #[error(
        "the committed part `{path}` is {problem}: the output was modified after it was written\nhint: pass --fresh to discard the partial output and start over"
    )]
    PartTampered {
        /// The part file.
        path: PathBuf,
        /// "missing" or "N bytes, expected M".
        problem: String,
    },

    /// A part's final name already exists (it would be overwritten).
    #[error(
        "the part `{path}` already exists and is not going to be overwritten\nhint: this is a bug in the caller's part numbering; re-run the same command to resume"
    )]
    PartExists {
        /// The final name of the part.
        path: PathBuf,
    },

    /// Something in the output that smartsweep cannot prove it wrote (no
    /// checkpoint or manifest of ours names it) where it would have to
    /// delete or overwrite it, or a `_SUCCESS` marker of another tool.
    #[error(
        "`{path}` holds `{name}`, which smartsweep did not write (no checkpoint or manifest of ours names it)\nhint: {hint}"
    )]
    NotOurs {
        /// The output.
        path: PathBuf,
        /// The entry, relative to the output.
        name: String,
        /// What to do.
        hint: String,
    },

    /// The output directory can be written by other users.
    #[error(
        "the output directory `{path}` is writable by other users (mode {mode:o}) and is not ours to tighten\nhint: use a directory only you can write (chmod go-w), or choose another --output"
    )]
    Insecure {
        /// The directory.
        path: PathBuf,
        /// Its permission bits.
        mode: u32,
    },

    /// Another run took over the output (its checkpoint changed under us).
    #[error(
        "another run took over `{path}`: the checkpoint changed since this run last wrote it\nhint: two runs must not share one output; let the other run finish, or choose another --output"
    )]
    ClaimLost {
        /// The checkpoint.
        path: PathBuf,
    },

    /// The output location cannot be used (unknown scheme, refused
    /// credentials, a bucket that does not exist, a store that failed).
    #[error("{message}\nhint: {hint}")]
    Store {
        /// The location (credentials redacted).
        path: PathBuf,
        /// What happened.
        message: String,
        /// What to do.
        hint: String,
        /// True when the problem is in the command line (exit 2), false when
        /// the store refused or failed (exit 1).
        usage: bool,
    },

    /// A partitioned table has more partition values in one part than the
    /// bound allows.
    #[error(
        "`{path}`: more than {limit} partition values of ({}) in one part; the parts of the commit were abandoned\nhint: partition by a coarser column (one with fewer distinct values), or lower --part-records; then re-run the same command to resume",
        columns.join(", ")
    )]
    TooManyPartitions {
        /// The table's part being written.
        path: PathBuf,
        /// The partition columns.
        columns: Vec<String>,
        /// The bound.
        limit: usize,
    },

    /// The rows could not be encoded (for example a batch whose schema is
    /// not the part's schema).
    #[error("cannot encode rows into `{path}`: {message}")]
    Encode {
        /// The file being written.
        path: PathBuf,
        /// The encoder's message.
        message: String,
    },
}

impl LoadError {
    /// Classifies an IO error on `path` while doing `action`.
    pub fn io(action: &'static str, path: &Path, source: io::Error) -> LoadError {
        let path = path.to_path_buf();
        match source.kind() {
            io::ErrorKind::StorageFull | io::ErrorKind::QuotaExceeded => {
                LoadError::DiskFull { path, source }
            }
            io::ErrorKind::PermissionDenied | io::ErrorKind::ReadOnlyFilesystem => {
                LoadError::NotWritable {
                    action,
                    path,
                    source,
                }
            }
            _ => LoadError::Io {
                action,
                path,
                source,
            },
        }
    }

    /// True for a full disk or quota.
    pub fn is_disk_full(&self) -> bool {
        matches!(self, LoadError::DiskFull { .. })
    }

    /// True when the run was refused before anything was written:
    /// a finished output, a changed pipeline, a foreign or bad directory,
    /// an unreadable or tampered checkpoint. The engine may map these to a
    /// usage-style exit code; every other variant is an abort (exit 1).
    pub fn is_refusal(&self) -> bool {
        matches!(
            self,
            LoadError::AlreadyFinished { .. }
                | LoadError::PipelineChanged { .. }
                | LoadError::ForeignDirectory { .. }
                | LoadError::NotADirectory { .. }
                | LoadError::Locked { .. }
                | LoadError::BadCheckpoint { .. }
                | LoadError::PartTampered { .. }
                | LoadError::NotOurs { .. }
                | LoadError::Insecure { .. }
                | LoadError::Store { usage: true, .. }
        )
    }

    /// The path the error is about.
    pub fn path(&self) -> &Path {
        match self {
            LoadError::DiskFull { path, .. }
            | LoadError::NotWritable { path, .. }
            | LoadError::Io { path, .. }
            | LoadError::NotADirectory { path }
            | LoadError::Locked { path }
            | LoadError::ForeignDirectory { path, .. }
            | LoadError::AlreadyFinished { path }
            | LoadError::PipelineChanged { path, .. }
            | LoadError::BadCheckpoint { path, .. }
            | LoadError::PartTampered { path, .. }
            | LoadError::PartExists { path }
            | LoadError::NotOurs { path, .. }
            | LoadError::Insecure { path, .. }
            | LoadError::ClaimLost { path }
            | LoadError::Store { path, .. }
            | LoadError::TooManyPartitions { path, .. }
            | LoadError::Encode { path, .. } => path,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_enospc_and_erofs() {
        let p = Path::new("/out/part-00000.parquet.inprogress");
        let e = LoadError::io("write", p, io::Error::from_raw_os_error(28));
        assert!(e.is_disk_full());
        let msg = e.to_string();
        assert!(msg.contains("/out/part-00000.parquet.inprogress"), "{msg}");
        assert!(msg.contains("re-run the same command to resume"), "{msg}");

        let e = LoadError::io("create", p, io::Error::from_raw_os_error(30));
        assert!(matches!(e, LoadError::NotWritable { .. }), "{e:?}");
        assert!(e.to_string().contains("not writable"));
        let e = LoadError::io("create", p, io::Error::from_raw_os_error(13));
        assert!(matches!(e, LoadError::NotWritable { .. }), "{e:?}");
        let e = LoadError::io("create", p, io::Error::from_raw_os_error(5));
        assert!(matches!(e, LoadError::Io { .. }), "{e:?}");
        assert_eq!(e.path(), p);
    }
}
