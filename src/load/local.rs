//! A local directory as a [`Store`]: `flock` for ownership, temp file +
//! fsync + rename for every visible file, no symlink ever followed.

use super::LoadError;
use super::fsutil::{
    self, DIR_MODE, create_dir_all, create_dirs_below, create_new_file, open_no_follow,
    remove_if_exists, sync_dir,
};
use super::names::INPROGRESS_SUFFIX;
use super::store::{Listed, PartSink, Store};
use std::fs::{self, File};
use std::io::{self, Read, Write};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

/// A local output directory.
#[derive(Debug)]
pub struct LocalStore {
    root: PathBuf,
    /// The directory itself, opened and `flock`ed exclusively for as long
    /// as this value lives: two runs on one output (an overlapping nightly
    /// job, a second terminal) would otherwise corrupt each other.
    lock: Option<File>,
}

impl LocalStore {
    /// A store rooted at `root` (nothing is touched until [`Store::prepare`]).
    pub fn new(root: impl Into<PathBuf>) -> LocalStore {
        LocalStore {
            root: root.into(),
            lock: None,
        }
    }

    /// The root directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn full(&self, path: &str) -> PathBuf {
        self.root.join(path)
    }

    /// A directory others can write is tightened to 0700 when it is ours,
    /// refused otherwise: another user could plant files or links in it.
    fn check_mode(&self) -> Result<(), LoadError> {
        let meta = fs::metadata(&self.root).map_err(|e| LoadError::io("inspect", &self.root, e))?;
        let mode = meta.permissions().mode() & 0o7777;
        if mode & 0o077 == 0 {
            return Ok(());
        }
        // SAFETY: `geteuid` has no preconditions and cannot fail.
        let me = unsafe { libc::geteuid() };
        if meta.uid() == me {
            fs::set_permissions(&self.root, fs::Permissions::from_mode(DIR_MODE))
                .map_err(|e| LoadError::io("restrict the permissions of", &self.root, e))?;
            tracing::info!(path = %self.root.display(), "output directory tightened to owner-only (mode 700)");
            return Ok(());
        }
        if mode & 0o022 != 0 {
            return Err(LoadError::Insecure {
                path: self.root.clone(),
                mode,
            });
        }
        Ok(())
    }

    fn walk(&self, dir: &Path, rel: &str, out: &mut Vec<Listed>) -> Result<(), LoadError> {
        let read = fs::read_dir(dir).map_err(|e| LoadError::io("list", dir, e))?;
        for entry in read {
            let entry = entry.map_err(|e| LoadError::io("list", dir, e))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            let path = if rel.is_empty() {
                name.clone()
            } else {
                format!("{rel}/{name}")
            };
            let meta = fs::symlink_metadata(entry.path())
                .map_err(|e| LoadError::io("inspect", &entry.path(), e))?;
            if meta.is_dir() {
                self.walk(&entry.path(), &path, out)?;
            } else {
                out.push(Listed {
                    path,
                    size: meta.len(),
                });
            }
        }
        Ok(())
    }
}

impl Store for LocalStore {
    fn describe(&self) -> String {
        self.root.display().to_string()
    }

    fn prepare(&mut self, lock: &str) -> Result<bool, LoadError> {
        match fs::metadata(&self.root) {
            Ok(m) if m.is_dir() => self.check_mode()?,
            Ok(_) => {
                return Err(LoadError::NotADirectory {
                    path: self.root.clone(),
                });
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                create_dir_all(&self.root)?;
                if let Some(parent) = self.root.parent()
                    && !parent.as_os_str().is_empty()
                {
                    sync_dir(parent)?;
                }
            }
            Err(e) => return Err(LoadError::io("open", &self.root, e)),
        }
        let dir = self.root.join(lock);
        if !lock.is_empty() {
            create_dirs_below(&self.root, Path::new(lock))?;
        }
        let file = File::open(&dir).map_err(|e| LoadError::io("open", &dir, e))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => {
                return Err(LoadError::Locked { path: dir });
            }
            Err(fs::TryLockError::Error(e)) => return Err(LoadError::io("lock", &dir, e)),
        }
        self.lock = Some(file);
        Ok(true)
    }

    fn list(&self) -> Result<Vec<Listed>, LoadError> {
        let mut out = Vec::new();
        if fs::symlink_metadata(&self.root).is_ok() {
            self.walk(&self.root, "", &mut out)?;
        }
        out.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(out)
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, LoadError> {
        let full = self.full(path);
        match open_no_follow(&full) {
            Ok(mut f) => {
                let mut bytes = Vec::new();
                f.read_to_end(&mut bytes)
                    .map_err(|e| LoadError::io("read", &full, e))?;
                Ok(Some(bytes))
            }
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(LoadError::io("read", &full, e)),
        }
    }

    fn read_into(&self, path: &str, out: &mut dyn Write) -> Result<u64, LoadError> {
        let full = self.full(path);
        let mut f = open_no_follow(&full).map_err(|e| LoadError::io("read", &full, e))?;
        io::copy(&mut f, out).map_err(|e| LoadError::io("read", &full, e))
    }

    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), LoadError> {
        let rel = Path::new(path);
        let (dir, name) = match (rel.parent(), rel.file_name()) {
            (Some(p), Some(n)) => (p, n.to_string_lossy().into_owned()),
            _ => (Path::new(""), path.to_owned()),
        };
        if !dir.as_os_str().is_empty() {
            create_dirs_below(&self.root, dir)?;
        }
        fsutil::atomic_write(&self.root.join(dir), &name, bytes)
    }

    // `put_checkpoint` is a plain `put`: the directory lock taken in
    // `prepare` makes this process the only writer for as long as it lives.

    fn delete(&self, path: &str) -> Result<bool, LoadError> {
        remove_if_exists(&self.full(path))
    }

    fn create_part(&self, path: &str) -> Result<Box<dyn PartSink>, LoadError> {
        let final_path = self.full(path);
        if let Some(parent) = Path::new(path).parent()
            && !parent.as_os_str().is_empty()
        {
            create_dirs_below(&self.root, parent)?;
        }
        match fs::symlink_metadata(&final_path) {
            Ok(_) => return Err(LoadError::PartExists { path: final_path }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {}
            Err(e) => return Err(LoadError::io("inspect", &final_path, e)),
        }
        let mut tmp = final_path.as_os_str().to_owned();
        tmp.push(INPROGRESS_SUFFIX);
        let tmp = PathBuf::from(tmp);
        let file = create_new_file(&tmp)?;
        Ok(Box::new(LocalPart {
            file: Some(file),
            tmp,
            final_path,
        }))
    }

    fn sync(&self) -> Result<(), LoadError> {
        sync_dir(&self.root)
    }
}

/// A part being written to `<name>.inprogress`.
struct LocalPart {
    file: Option<File>,
    tmp: PathBuf,
    final_path: PathBuf,
}

impl Write for LocalPart {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match &mut self.file {
            Some(f) => f.write(buf),
            None => Err(io::Error::other("the part is closed")),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match &mut self.file {
            Some(f) => f.flush(),
            None => Ok(()),
        }
    }
}

impl PartSink for LocalPart {
    fn commit(mut self: Box<Self>) -> Result<(), LoadError> {
        let result = (|| {
            let file = self
                .file
                .take()
                .ok_or_else(|| LoadError::io("sync", &self.tmp, io::Error::other("closed")))?;
            file.sync_all()
                .map_err(|e| LoadError::io("sync", &self.tmp, e))?;
            drop(file);
            // Never replace a file that appeared under the final name.
            if fs::symlink_metadata(&self.final_path).is_ok() {
                return Err(LoadError::PartExists {
                    path: self.final_path.clone(),
                });
            }
            fs::rename(&self.tmp, &self.final_path)
                .map_err(|e| LoadError::io("rename", &self.final_path, e))?;
            // The part now has its final name; the directory fsync makes the
            // rename durable. If that fails, the part is taken back (an
            // error leaves no file under a final name); were the removal to
            // fail too, the part is not in the checkpoint and a resume
            // deletes it.
            let dir = self.final_path.parent().unwrap_or(Path::new("."));
            if let Err(e) = sync_dir(dir) {
                let _ = fs::remove_file(&self.final_path);
                return Err(e);
            }
            Ok(())
        })();
        if result.is_err() {
            let _ = fs::remove_file(&self.tmp);
        }
        result
    }

    fn abort(mut self: Box<Self>) {
        self.file = None;
        if let Err(e) = fs::remove_file(&self.tmp)
            && e.kind() != io::ErrorKind::NotFound
        {
            tracing::warn!(path = %self.tmp.display(), error = %e, "cannot remove an abandoned part");
        }
    }

    fn describe(&self) -> String {
        self.tmp.display().to_string()
    }

    fn error(&self, action: &'static str, e: io::Error) -> LoadError {
        LoadError::io(action, &self.tmp, e)
    }
}

impl Drop for LocalPart {
    /// A part neither committed nor aborted is abandoned: its temp file is
    /// removed. Nothing is ever finished here.
    fn drop(&mut self) {
        if self.file.take().is_some() {
            let _ = fs::remove_file(&self.tmp);
        }
    }
}
