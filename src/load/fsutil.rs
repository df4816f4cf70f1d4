//! Small durable-file helpers: owner-only files and directories, directory
//! fsync, and atomic replacement (temp file, fsync, rename, directory fsync).

use super::LoadError;
use std::fs::{self, DirBuilder, File, OpenOptions};
use std::io::Write;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Mode of every file smartsweep creates.
pub const FILE_MODE: u32 = 0o600;
/// Mode of every directory smartsweep creates.
pub const DIR_MODE: u32 = 0o700;

/// Creates (or truncates) `path` for writing, mode 0600.
pub fn create_file(path: &Path) -> Result<File, LoadError> {
    OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(FILE_MODE)
        .open(path)
        .map_err(|e| LoadError::io("create", path, e))
}

/// Creates `path` and its missing parents, mode 0700.
pub fn create_dir_all(path: &Path) -> Result<(), LoadError> {
    DirBuilder::new()
        .recursive(true)
        .mode(DIR_MODE)
        .create(path)
        .map_err(|e| LoadError::io("create directory", path, e))
}

/// fsyncs a directory, so that renames and removals in it are durable.
pub fn sync_dir(dir: &Path) -> Result<(), LoadError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| LoadError::io("sync directory", dir, e))
}

/// Removes a file; a file that is already gone is fine.
pub fn remove_if_exists(path: &Path) -> Result<bool, LoadError> {
    match fs::remove_file(path) {
        Ok(()) => Ok(true),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(LoadError::io("remove", path, e)),
    }
}

/// The temp name used while replacing `path` atomically.
pub fn tmp_path(path: &Path) -> PathBuf {
    let mut s = path.as_os_str().to_owned();
    s.push(".tmp");
    PathBuf::from(s)
}

/// Replaces `dir/name` with `bytes` atomically: `name.tmp` (0600) is
/// written and fsynced, renamed over `name`, and the directory is fsynced.
/// On failure the temp file is removed and the old `name` is untouched.
pub fn atomic_write(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), LoadError> {
    let path = dir.join(name);
    let tmp = tmp_path(&path);
    let result = (|| {
        let mut f = create_file(&tmp)?;
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
    sync_dir(dir)
}
