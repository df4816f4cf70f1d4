//! [`TableWriter`]: the open part of one table in one commit, opened on
//! the first row.
//!
//! Parts are written through the [`Destination`], so the same code writes
//! to a local directory and to an object store.

use super::{CommittedPart, Destination, LoadError, PartWriter, WriterOptions};
use arrow_array::RecordBatch;
use arrow_schema::SchemaRef;

/// One table's open part.
#[derive(Debug)]
pub struct TableWriter {
    /// The part's path relative to the output root.
    path: String,
    schema: SchemaRef,
    writer: Option<PartWriter>,
}

impl TableWriter {
    /// A writer for the part at `dir/name` (`dir` may be empty), opened on
    /// the first row.
    pub fn new(dir: &str, name: &str, schema: SchemaRef) -> TableWriter {
        let path = if dir.is_empty() {
            name.to_owned()
        } else {
            format!("{dir}/{name}")
        };
        TableWriter {
            path,
            schema,
            writer: None,
        }
    }

    /// Appends `batch` (the table's schema), opening the part when needed.
    pub fn write(
        &mut self,
        dest: &dyn Destination,
        opts: &WriterOptions,
        batch: &RecordBatch,
    ) -> Result<(), LoadError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let writer = match &mut self.writer {
            Some(w) => w,
            None => self
                .writer
                .insert(dest.create_part(&self.path, self.schema.clone(), opts)?),
        };
        writer.write(batch)
    }

    /// True when a part was opened (some row was written).
    pub fn is_open(&self) -> bool {
        self.writer.is_some()
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.writer.as_ref().map_or(0, PartWriter::rows)
    }

    /// Commits the part (if one was opened): its [`CommittedPart`]s.
    pub fn finish(self) -> Result<Vec<CommittedPart>, LoadError> {
        match self.writer {
            Some(w) => Ok(vec![w.finish()?]),
            None => Ok(Vec::new()),
        }
    }

    /// Abandons the part.
    pub fn abort(self) {
        if let Some(w) = self.writer {
            w.abort();
        }
    }
}
