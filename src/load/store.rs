//! The storage under a destination: the few primitive operations the
//! commit protocol ([`super::output`]) needs, each with the guarantee it
//! relies on. A local directory ([`super::local`]) and object stores
//! implement it.
//!
//! Paths are relative to the output root, `/`-separated, never starting
//! with `/` and never containing `..` (the protocol builds them from table
//! names and part numbers only).

use super::LoadError;
use std::fmt;
use std::io::Write;

/// A file's bytes and its version token (see [`Store::read_versioned`]).
pub type Versioned = (Vec<u8>, Option<String>);

/// One file under the output root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Path relative to the root.
    pub path: String,
    /// Size in bytes.
    pub size: u64,
}

/// Where a part's bytes go while it is written (a temp file, a multipart
/// upload), and how it becomes visible under its final name.
///
/// Dropping a `PartSink` without [`PartSink::commit`] must leave nothing
/// under the final name.
pub trait PartSink: Write + Send {
    /// Makes the part durable and visible under its final name, at once
    /// (fsync then rename; complete a multipart upload). On error nothing
    /// carries the final name.
    fn commit(self: Box<Self>) -> Result<(), LoadError>;

    /// Throws the part away (remove the temp file; abort the upload).
    fn abort(self: Box<Self>);

    /// Where it is being written, for messages.
    fn describe(&self) -> String;

    /// A write error as the load stage classifies it (disk full, not
    /// writable, ...).
    fn error(&self, action: &'static str, e: std::io::Error) -> LoadError;
}

/// The storage primitives.
pub trait Store: Send + Sync + fmt::Debug {
    /// The location, credentials redacted, for messages.
    fn describe(&self) -> String;

    /// The location of `path` under the root, for messages.
    fn describe_path(&self, path: &str) -> String {
        let root = self.describe();
        if path.is_empty() {
            root
        } else {
            format!("{}/{path}", root.trim_end_matches('/'))
        }
    }

    /// Prepares the root (creates a missing directory; checks it can be
    /// used) and takes exclusive ownership of `lock` (a directory relative
    /// to the root: `""` for the whole output, a shard's control directory
    /// for a shard) for this process where the store can (`flock`). Stores
    /// that cannot lock return `false`; the checkpoint's conditional
    /// replacement ([`Store::put_checkpoint`]) then guards ownership.
    fn prepare(&mut self, lock: &str) -> Result<bool, LoadError>;

    /// Every file under the root (recursively), sorted by path.
    fn list(&self) -> Result<Vec<Listed>, LoadError>;

    /// A whole (small) file, or `None` when it does not exist.
    fn read(&self, path: &str) -> Result<Option<Vec<u8>>, LoadError>;

    /// A whole (small) file and its version token ([`Store::version`]) as
    /// one read, so that a conditional replacement is made against exactly
    /// the bytes read; `None` when it does not exist.
    fn read_versioned(&self, path: &str) -> Result<Option<Versioned>, LoadError> {
        match self.read(path)? {
            Some(bytes) => Ok(Some((bytes, self.version(path)?))),
            None => Ok(None),
        }
    }

    /// Streams a file into `out` (a part, for `verify`); the bytes copied.
    fn read_into(&self, path: &str, out: &mut dyn Write) -> Result<u64, LoadError>;

    /// Replaces a control file at once: readers see the old bytes or the
    /// new ones, never a mix (temp file, fsync, rename, directory fsync; a
    /// single PUT).
    fn put(&self, path: &str, bytes: &[u8]) -> Result<(), LoadError>;

    /// Replaces the checkpoint at `path` only if it is still the version
    /// this process last wrote or read (`version`, updated on success);
    /// `None` means "only if there is none". Stores without conditional
    /// writes rely on [`Store::prepare`]'s lock instead: by default a plain
    /// [`Store::put`].
    fn put_checkpoint(
        &self,
        path: &str,
        bytes: &[u8],
        version: &mut Option<String>,
    ) -> Result<(), LoadError> {
        let _ = version;
        self.put(path, bytes)
    }

    /// The version token of a file for [`Store::put_checkpoint`] (an ETag,
    /// an object version), if the store has them (by default it has none).
    fn version(&self, path: &str) -> Result<Option<String>, LoadError> {
        let _ = path;
        Ok(None)
    }

    /// Removes a file; a missing one is fine. Returns whether it existed.
    fn delete(&self, path: &str) -> Result<bool, LoadError>;

    /// Starts a part at `path` (which must not exist yet).
    fn create_part(&self, path: &str) -> Result<Box<dyn PartSink>, LoadError>;

    /// Makes earlier deletions durable (a directory fsync).
    fn sync(&self) -> Result<(), LoadError>;
}
