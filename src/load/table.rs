//! [`TableWriter`]: the open part(s) of one table in one commit, opened on
//! the first row.
//!
//! Parts are written through the [`Destination`], so the same code writes
//! to a local directory and to an object store.
//!
//! With partition columns ([`TableWriter::with_partitions`]) each batch's
//! rows are routed by their values to one part per partition value, under
//! `<table dir>/<col>=<value>/` (Hive style: values escaped as Hive does,
//! a null or empty value is `__HIVE_DEFAULT_PARTITION__`), and the
//! partition columns are left out of the files (readers take them from
//! the directory names, Delta from the log). At most
//! [`MAX_OPEN_PARTITIONS`] partitions are open in one commit.

use super::{CommittedPart, Destination, LoadError, PartWriter, WriterOptions};
use arrow_array::{Array, RecordBatch, UInt32Array};
use arrow_schema::{DataType, Schema, SchemaRef};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::sync::Arc;

/// Most partition values one table may have open in one commit (one part
/// file each): beyond it the run stops with a clear error instead of
/// opening thousands of files.
pub const MAX_OPEN_PARTITIONS: usize = 256;

/// The directory name of a null (or empty) partition value, as Hive and
/// Spark write it.
pub const HIVE_DEFAULT_PARTITION: &str = "__HIVE_DEFAULT_PARTITION__";

/// How a partitioned table splits its rows.
#[derive(Debug)]
struct Partitioning {
    /// `(index in the full schema, name)` of each partition column.
    columns: Vec<(usize, String)>,
    /// Indices of the columns the files keep.
    keep: Vec<usize>,
    /// The files' schema (the partition columns left out).
    file_schema: SchemaRef,
}

/// One table's open part(s).
#[derive(Debug)]
pub struct TableWriter {
    dir: String,
    name: String,
    schema: SchemaRef,
    partitioning: Option<Partitioning>,
    /// The open parts, by partition values (one, keyed `[]`, when the
    /// table is not partitioned).
    writers: BTreeMap<Vec<String>, PartWriter>,
}

/// `s` escaped for a Hive partition directory name (Hive's
/// `FileUtils.escapePathName`: control characters and `"#%'*/:=?\{[]^`
/// and DEL become `%XX`).
pub fn hive_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        let escape = matches!(
            c,
            '\u{01}'
                ..='\u{1f}'
                    | '"'
                    | '#'
                    | '%'
                    | '\''
                    | '*'
                    | '/'
                    | ':'
                    | '='
                    | '?'
                    | '\\'
                    | '\u{7f}'
                    | '{'
                    | '['
                    | ']'
                    | '^'
        );
        if escape {
            out.push_str(&format!("%{:02X}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

impl TableWriter {
    /// A writer for the part at `dir/name` (`dir` may be empty), opened on
    /// the first row.
    pub fn new(dir: &str, name: &str, schema: SchemaRef) -> TableWriter {
        TableWriter {
            dir: dir.to_owned(),
            name: name.to_owned(),
            schema,
            partitioning: None,
            writers: BTreeMap::new(),
        }
    }

    /// Partitions the table by `columns` (none: unpartitioned). Refuses a
    /// column the table does not have, or whose type cannot name a
    /// directory (floats, timestamps, nested types).
    pub fn with_partitions(mut self, columns: &[String]) -> Result<TableWriter, LoadError> {
        if columns.is_empty() {
            return Ok(self);
        }
        let mut cols = Vec::new();
        for c in columns {
            let Some((i, field)) = self.schema.column_with_name(c) else {
                return Err(self.usage(
                    format!("the partition column `{c}` is not a column of the table"),
                    "partition_by names columns of the query (its variables)",
                ));
            };
            let ok = matches!(
                field.data_type(),
                DataType::Utf8
                    | DataType::LargeUtf8
                    | DataType::Utf8View
                    | DataType::Int8
                    | DataType::Int16
                    | DataType::Int32
                    | DataType::Int64
                    | DataType::UInt8
                    | DataType::UInt16
                    | DataType::UInt32
                    | DataType::UInt64
                    | DataType::Date32
                    | DataType::Boolean
            );
            if !ok {
                return Err(self.usage(
                    format!(
                        "the partition column `{c}` is of type {}, which cannot name a directory",
                        field.data_type()
                    ),
                    "partition by a string, integer, date or boolean column",
                ));
            }
            cols.push((i, c.clone()));
        }
        let keep: Vec<usize> = (0..self.schema.fields().len())
            .filter(|i| !cols.iter().any(|(c, _)| c == i))
            .collect();
        let file_schema = Arc::new(Schema::new_with_metadata(
            keep.iter()
                .map(|&i| self.schema.field(i).clone())
                .collect::<Vec<_>>(),
            self.schema.metadata().clone(),
        ));
        self.partitioning = Some(Partitioning {
            columns: cols,
            keep,
            file_schema,
        });
        Ok(self)
    }

    fn usage(&self, message: String, hint: &str) -> LoadError {
        LoadError::Store {
            path: PathBuf::from(if self.dir.is_empty() { "." } else { &self.dir }),
            message,
            hint: hint.to_owned(),
            usage: true,
        }
    }

    /// Appends `batch` (the table's schema), opening parts when needed.
    pub fn write(
        &mut self,
        dest: &dyn Destination,
        opts: &WriterOptions,
        batch: &RecordBatch,
    ) -> Result<(), LoadError> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let Some(p) = &self.partitioning else {
            let path = join(&self.dir, &self.name);
            let writer = match self.writers.entry(Vec::new()) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(e) => {
                    e.insert(dest.create_part(&path, self.schema.clone(), opts)?)
                }
            };
            return writer.write(batch);
        };
        let groups = group_rows(batch, p).map_err(|m| LoadError::Encode {
            path: PathBuf::from(join(&self.dir, &self.name)),
            message: m,
        })?;
        for (key, rows) in groups {
            let sub = if rows.len() == batch.num_rows() {
                batch.clone()
            } else {
                let idx = UInt32Array::from(rows);
                arrow_select::take::take_record_batch(batch, &idx).map_err(|e| {
                    LoadError::Encode {
                        path: PathBuf::from(join(&self.dir, &self.name)),
                        message: e.to_string(),
                    }
                })?
            };
            let projected = sub
                .project(&p.keep)
                .and_then(|b| RecordBatch::try_new(p.file_schema.clone(), b.columns().to_vec()));
            let projected = projected.map_err(|e| LoadError::Encode {
                path: PathBuf::from(join(&self.dir, &self.name)),
                message: e.to_string(),
            })?;
            if !self.writers.contains_key(&key) {
                if self.writers.len() >= MAX_OPEN_PARTITIONS {
                    return Err(LoadError::TooManyPartitions {
                        path: PathBuf::from(join(&self.dir, &self.name)),
                        columns: p.columns.iter().map(|(_, c)| c.clone()).collect(),
                        limit: MAX_OPEN_PARTITIONS,
                    });
                }
                let mut dir = self.dir.clone();
                let mut values = Vec::new();
                for ((_, col), value) in p.columns.iter().zip(&key) {
                    dir = join(
                        &dir,
                        &format!("{}={}", hive_escape(col), hive_escape(value)),
                    );
                    values.push((col.clone(), value.clone()));
                }
                let mut w =
                    dest.create_part(&join(&dir, &self.name), p.file_schema.clone(), opts)?;
                w.set_partition(values);
                self.writers.insert(key.clone(), w);
            }
            if let Some(w) = self.writers.get_mut(&key) {
                w.write(&projected)?;
            }
        }
        Ok(())
    }

    /// True when a part was opened (some row was written).
    pub fn is_open(&self) -> bool {
        !self.writers.is_empty()
    }

    /// Rows written so far.
    pub fn rows(&self) -> u64 {
        self.writers.values().map(PartWriter::rows).sum()
    }

    /// Commits the parts (if any was opened): their [`CommittedPart`]s, in
    /// partition order. On an error the parts not yet committed are
    /// abandoned.
    pub fn finish(self) -> Result<Vec<CommittedPart>, LoadError> {
        let mut out = Vec::with_capacity(self.writers.len());
        for w in self.writers.into_values() {
            out.push(w.finish()?);
        }
        Ok(out)
    }

    /// Abandons the parts.
    pub fn abort(self) {
        for w in self.writers.into_values() {
            w.abort();
        }
    }
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_owned()
    } else {
        format!("{dir}/{name}")
    }
}

/// Partition values and the rows that have them.
type Groups = Vec<(Vec<String>, Vec<u32>)>;

/// The rows of `batch` by partition values, in order of first appearance.
fn group_rows(batch: &RecordBatch, p: &Partitioning) -> Result<Groups, String> {
    use arrow_cast::display::{ArrayFormatter, FormatOptions};
    let opts = FormatOptions::default();
    let cols: Vec<&dyn Array> = p
        .columns
        .iter()
        .map(|(i, _)| batch.column(*i).as_ref())
        .collect();
    let fmts = cols
        .iter()
        .map(|c| ArrayFormatter::try_new(*c, &opts))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| e.to_string())?;
    let mut order: Vec<(Vec<String>, Vec<u32>)> = Vec::new();
    let mut index: HashMap<Vec<String>, usize> = HashMap::new();
    for row in 0..batch.num_rows() {
        let key: Vec<String> = cols
            .iter()
            .zip(&fmts)
            .map(|(c, f)| {
                if c.is_null(row) {
                    HIVE_DEFAULT_PARTITION.to_owned()
                } else {
                    let v = f.value(row).to_string();
                    if v.is_empty() {
                        HIVE_DEFAULT_PARTITION.to_owned()
                    } else {
                        v
                    }
                }
            })
            .collect();
        let slot = match index.get(&key) {
            Some(&i) => i,
            None => {
                index.insert(key.clone(), order.len());
                order.push((key, Vec::new()));
                order.len() - 1
            }
        };
        order[slot].1.push(row as u32);
    }
    Ok(order)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hive_escaping_matches_hive() {
        assert_eq!(hive_escape("2020"), "2020");
        assert_eq!(hive_escape("a/b=c"), "a%2Fb%3Dc");
        assert_eq!(hive_escape("x:y%z"), "x%3Ay%25z");
        assert_eq!(hive_escape("ok space-_.~"), "ok space-_.~");
        assert_eq!(hive_escape("\u{1}#[^]"), "%01%23%5B%5E%5D");
    }
}
