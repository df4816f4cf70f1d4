//! An in-memory [`Store`]: the destination of `preview` (the engine runs
//! exactly as for an export; the parts are read back and printed) and of
//! tests that need a store without a file system.

use super::LoadError;
use super::store::{Listed, PartSink, Store};
use std::collections::BTreeMap;
use std::io::{self, Write};
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

/// The files of a [`MemoryStore`], shared with whoever reads them back.
#[derive(Debug, Clone, Default)]
pub struct MemoryFiles(Arc<Mutex<BTreeMap<String, Vec<u8>>>>);

impl MemoryFiles {
    fn lock(&self) -> MutexGuard<'_, BTreeMap<String, Vec<u8>>> {
        // A panic while holding the lock leaves a map that is still whole.
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// A copy of every file, by path.
    pub fn snapshot(&self) -> BTreeMap<String, Vec<u8>> {
        self.lock().clone()
    }
}

/// A store whose files live in memory.
#[derive(Debug, Default)]
pub struct MemoryStore {
    files: MemoryFiles,
}

impl MemoryStore {
    /// An empty store, and a handle on its files.
    pub fn new() -> (MemoryStore, MemoryFiles) {
        let files = MemoryFiles::default();
        (
            MemoryStore {
                files: files.clone(),
            },
            files,
        )
    }
}

impl Store for MemoryStore {
    fn describe(&self) -> String {
        "memory:".into()
    }

    fn prepare(&mut self, _lock: &str) -> Result<bool, LoadError> {
        Ok(true)
    }

    fn list(&self) -> Result<Vec<Listed>, LoadError> {
        Ok(self
            .files
            .lock()
            .iter()
            .map(|(path, bytes)| Listed {
                path: path.clone(),
                size: bytes.len() as u64,
            })
            .collect())
    }

    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, LoadError> {
        Ok(self.files.lock().get(path).cloned())
    }

    fn read_into(&self, path: &str, out: &mut dyn Write) -> Result<u64, LoadError> {
        let bytes = self.read(path)?.ok_or_else(|| {
            LoadError::io("read", &PathBuf::from(path), io::ErrorKind::NotFound.into())
        })?;
        out.write_all(&bytes)
            .map_err(|e| LoadError::io("read", &PathBuf::from(path), e))?;
        Ok(bytes.len() as u64)
    }

    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), LoadError> {
        self.files.lock().insert(path.to_owned(), bytes.to_vec());
        Ok(())
    }

    fn delete(&self, path: &str) -> Result<bool, LoadError> {
        Ok(self.files.lock().remove(path).is_some())
    }

    fn create_part(&self, path: &str) -> Result<Box<dyn PartSink>, LoadError> {
        if self.files.lock().contains_key(path) {
            return Err(LoadError::PartExists {
                path: PathBuf::from(path),
            });
        }
        Ok(Box::new(MemoryPart {
            files: self.files.clone(),
            path: path.to_owned(),
            bytes: Vec::new(),
        }))
    }

    fn sync(&self) -> Result<(), LoadError> {
        Ok(())
    }
}

struct MemoryPart {
    files: MemoryFiles,
    path: String,
    bytes: Vec<u8>,
}

impl Write for MemoryPart {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl PartSink for MemoryPart {
    fn commit(self: Box<Self>) -> Result<(), LoadError> {
        let MemoryPart { files, path, bytes } = *self;
        files.lock().insert(path, bytes);
        Ok(())
    }

    fn abort(self: Box<Self>) {}

    fn describe(&self) -> String {
        format!("memory:{}", self.path)
    }

    fn error(&self, action: &'static str, e: io::Error) -> LoadError {
        LoadError::io(action, &PathBuf::from(&self.path), e)
    }
}
