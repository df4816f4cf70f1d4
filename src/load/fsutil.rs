//! Small durable-file helpers: owner-only files and directories created
//! without following symlinks, directory fsync, and atomic replacement
//! (temp file, fsync, rename, directory fsync).
//!
//! Every file smartsweep creates in an output is opened with `O_CREAT |
//! O_EXCL | O_NOFOLLOW`: a symlink planted under one of our names (even a
//! temp name) is never followed, so it cannot make us truncate or write a
//! file outside the output.

use super::LoadError;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Mode of every file smartsweep creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory smartsweep creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates `path` for writing, mode 0600, failing when anything (a file, a
/// symlink, a directory) already has that name.
pub fn create_new_file(path: &Path) -> Result<File, LoadError> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(FILE_MODE)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
        .map_err(|e| LoadError::io("create", path, e))
}

/// Opens an existing file for reading without following a symlink.
pub fn open_no_follow(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
        .open(path)
}

/// Creates `path` and its missing parents, mode 0700.
pub fn create_dir_all(path: &Path) -> Result<(), LoadError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(|e| LoadError::io("create directory", path, e))
}

/// Creates the directories from `root` down to `root/rel` (each 0700),
/// refusing any existing component that is not a real directory (a
/// symlink planted in the output is not followed).
pub fn create_dirs_below(root: &Path, rel: &Path) -> Result<(), LoadError> {
    let mut dir = root.to_path_buf();
    for part in rel.components() {
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(m) if m.is_dir() => continue,
            Ok(_) => {
                return Err(LoadError::io(
                    "create directory",
                    &dir,
                    io::Error::new(
                        io::ErrorKind::AlreadyExists,
                        "exists and is not a directory (a symlink is not followed)",
                    ),
                ));
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                DirBuilder::new()
                    .mode(DIR_MODE)
                    .create(&dir)
                    .map_err(|e| LoadError::io("create directory", &dir, e))?;
                sync_dir(dir.parent().unwrap_or(root))?;
            }
            Err(e) => return Err(LoadError::io("inspect", &dir, e)),
        }
    }
    Ok(())
}

/// fsyncs a directory, so that renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), LoadError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LoadError::io("sync directory", dir, e))
}

/// Removes a file (a symlink itself, never its target); a file that is
/// already gone is fine.
pub fn remove_if_exists(path: &Path) -> Result<bool, LoadError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(LoadError::io("remove", path, e)),
    }
}

/// The temp name used while replacing `path` atomically.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(super::names::TMP_SUFFIX);
    PathBuf::from(s)
}

/// Replaces `dir/name` with `bytes` atomically: `name.tmp` (0600, created
/// exclusively without following symlinks, after removing any leftover of
/// that name) is written and fsynced, renamed over `name`, and the
/// directory is fsynced. On failure the temp file is removed and the old
/// `name` is untouched.
pub fn atomic_write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LoadError> {
    let path = dir.join(name);
    let tmp = tmp_path(&path);
    remove_if_exists(&tmp)?;
    let result = (|| {
        let mut f = create_new_file(&tmp)?;
        f.write_all(bytes)
            .map_err(|e| LoadError::io("write", &tmp, e))?;
        f.sync_all().map_err(|e| LoadError::io("sync", &tmp, e))?;
        drop(f);
        fs::rename(&tmp, &path).map_err(|e| LoadError::io("rename", &path, e))
    })();
    if let Err(e) = result {
        // Best effort: the temp file is garbage; the old file is intact.
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_dir(path.parent().unwrap_or(dir))
}
