//! One part file: [`PartWriter`] encodes Arrow batches (Parquet or CSV)
//! into a [`PartSink`] (a temp file, a multipart upload) and commits it in
//! [`PartWriter::finish`].
//!
//! The commit is: close the encoder (the Parquet footer, or the CSV
//! writer's last bytes), then [`PartSink::commit`], which makes the part
//! durable and visible under its final name at once (fsync and rename;
//! complete the upload). Only a part that went through both steps carries
//! a final name, so no corrupt file ever does. A [`PartWriter`] that is
//! dropped without [`PartWriter::finish`] abandons its sink (it never
//! finishes a file in `Drop`).
//!
//! The bytes are hashed (SHA-256) and counted as they are written, so
//! [`CommittedPart`] costs no second read of the file.

use super::local::LocalStore;
use super::names::part_file_name;
use super::store::{PartSink, Store};
use super::{Compression, Format, LoadError, WriterOptions};
pub use crate::checkpoint::CommittedPart;
use arrow_array::{Array, RecordBatch, make_array};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef};
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression as PqCompression, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use sha2::{Digest, Sha256};
use std::io::{self, BufWriter, Write};
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};

/// The zstd level used for `Compression::Zstd` (zstd's own default).
pub const ZSTD_LEVEL: i32 = 3;

/// The sink under the encoder: counts and hashes the bytes, and remembers
/// the first IO error so that it can be classified (disk full, read-only)
/// even when the encoder wraps it into a string.
struct HashingFile {
    sink: Box<dyn PartSink>,
    hasher: Sha256,
    bytes: u64,
    shared: Arc<Shared>,
}

/// What the [`PartWriter`] can see of its file while the encoder owns it.
#[derive(Default)]
struct Shared {
    /// The first IO error of the file.
    first_error: OnceLock<io::Error>,
    /// Bytes the CSV encoder produced so far (buffered or written).
    csv_bytes: AtomicU64,
}

impl Write for HashingFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self.sink.write(buf) {
            Ok(n) => {
                self.hasher.update(&buf[..n]);
                self.bytes += n as u64;
                Ok(n)
            }
            Err(e) => {
                if e.kind() != io::ErrorKind::Interrupted {
                    let _ = self.shared.first_error.set(copy_io_error(&e));
                }
                Err(e)
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sink.flush()
    }
}

/// `arrow_csv::Writer::write` flushes its inner writer after every batch;
/// with one small batch per record that would be one `write(2)` per record.
/// This wrapper turns those flushes into no-ops (and counts the bytes): [`PartWriter::finish`]
/// flushes the buffer explicitly.
struct NoFlush<W: Write> {
    inner: W,
    shared: Arc<Shared>,
}

impl<W: Write> Write for NoFlush<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.shared.csv_bytes.fetch_add(n as u64, Ordering::Relaxed);
        Ok(n)
    }
    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Buffer between the CSV encoder and the file.
const CSV_BUFFER: usize = 256 * 1024;

enum Encoder {
    Parquet(Box<ArrowWriter<HashingFile>>),
    Csv(Box<CsvEncoder>),
}

struct CsvEncoder {
    writer: arrow_csv::Writer<NoFlush<BufWriter<HashingFile>>>,
    /// The schema batches are relabelled to before encoding, if it differs.
    schema: Option<SchemaRef>,
}

impl CsvEncoder {
    fn write(&mut self, batch: &RecordBatch) -> Result<(), ArrowError> {
        match &self.schema {
            Some(schema) => self.writer.write(&relabel(batch, schema)?),
            None => self.writer.write(batch),
        }
    }
}

fn copy_io_error(e: &io::Error) -> io::Error {
    match e.raw_os_error() {
        Some(code) => io::Error::from_raw_os_error(code),
        None => io::Error::new(e.kind(), e.to_string()),
    }
}

/// Writes one part file. See the module documentation for the commit
/// protocol.
pub struct PartWriter {
    /// The part's path relative to the output root.
    file: String,
    /// Where it is being written, for messages.
    describe: String,
    schema: SchemaRef,
    encoder: Option<Encoder>,
    /// Small batches waiting to be written as one (see [`WriterOptions::stage_rows`]).
    staged: Vec<RecordBatch>,
    staged_rows: usize,
    /// Memory the staged batches take.
    staged_bytes: usize,
    stage_rows: usize,
    stage_bytes: usize,
    rows: u64,
    shared: Arc<Shared>,
    /// Set by the first failed write: the encoder is gone and the part can
    /// only be abandoned (a CSV encoder must not be closed after an error).
    failed: Option<String>,
    /// The partition values of the part, if the table is partitioned.
    partition: Vec<(String, String)>,
}

impl std::fmt::Debug for PartWriter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PartWriter")
            .field("path", &self.describe)
            .field("rows", &self.rows)
            .finish_non_exhaustive()
    }
}

fn parquet_properties(opts: &WriterOptions) -> Result<WriterProperties, String> {
    let compression = match opts.compression {
        Compression::Zstd => PqCompression::ZSTD(
            ZstdLevel::try_new(ZSTD_LEVEL).map_err(|e| format!("zstd level: {e}"))?,
        ),
        Compression::Snappy => PqCompression::SNAPPY,
        Compression::None => PqCompression::UNCOMPRESSED,
    };
    let kv: Vec<KeyValue> = opts
        .metadata
        .iter()
        .map(|(k, v)| KeyValue::new(k.clone(), v.clone()))
        .collect();
    // Pages (and dictionaries) in proportion to the row group: a writer
    // given a small share of the budget (many tables, many chains) keeps
    // small column buffers too. 1 MiB (Parquet's default) for a whole
    // 8 MiB row group.
    let page = (opts.row_group_bytes / 8).clamp(64 * 1024, 1024 * 1024);
    Ok(WriterProperties::builder()
        .set_compression(compression)
        .set_dictionary_enabled(true)
        .set_data_page_size_limit(page)
        .set_dictionary_page_size_limit(page)
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(opts.row_group_rows.max(1)))
        .set_max_row_group_bytes(Some(opts.row_group_bytes.max(1)))
        .set_key_value_metadata((!kv.is_empty()).then_some(kv))
        .build())
}

pub(super) fn csv_builder() -> arrow_csv::WriterBuilder {
    arrow_csv::WriterBuilder::new()
        .with_header(true)
        .with_delimiter(b',')
        .with_quote(b'"')
        .with_double_quote(true)
        .with_quote_style(arrow_csv::QuoteStyle::Necessary)
        .with_line_terminator(arrow_csv::writer::Terminator::CRLF)
        .with_null(String::new())
        .with_date_format("%Y-%m-%d".to_owned())
        // Every tz-aware column reaches the CSV encoder as UTC (see
        // `utc_for_csv`), so the literal `Z` is right.
        .with_timestamp_tz_format("%Y-%m-%dT%H:%M:%S%.fZ".to_owned())
        .with_timestamp_format("%Y-%m-%dT%H:%M:%S%.f".to_owned())
}

/// The CSV encoder formats a timestamp with a named time zone only with
/// arrow's `chrono-tz` feature (not enabled). Arrow stores tz-aware
/// timestamps as UTC instants whatever the zone, so relabelling the column
/// `+00:00` changes no value and lets it print as RFC 3339 with `Z`.
fn utc_for_csv(schema: &SchemaRef) -> Option<SchemaRef> {
    let mut changed = false;
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            DataType::Timestamp(unit, Some(tz)) if tz.as_ref() != UTC_OFFSET => {
                changed = true;
                f.as_ref()
                    .clone()
                    .with_data_type(DataType::Timestamp(*unit, Some(UTC_OFFSET.into())))
            }
            _ => f.as_ref().clone(),
        })
        .collect();
    changed.then(|| Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())))
}

const UTC_OFFSET: &str = "+00:00";

/// Relabels `batch` to `schema` (same layout, only time zones differ).
fn relabel(batch: &RecordBatch, schema: &SchemaRef) -> Result<RecordBatch, ArrowError> {
    let columns = batch
        .columns()
        .iter()
        .zip(schema.fields())
        .map(|(col, field)| {
            if col.data_type() == field.data_type() {
                Ok(Arc::clone(col))
            } else {
                let data = col
                    .to_data()
                    .into_builder()
                    .data_type(field.data_type().clone())
                    .build()?;
                Ok(make_array(data))
            }
        })
        .collect::<Result<Vec<_>, ArrowError>>()?;
    RecordBatch::try_new(Arc::clone(schema), columns)
}

impl PartWriter {
    /// Opens `dir/part-NNNNN.<ext>.inprogress` (mode 0600) for part
    /// `index`: a part in a local directory (see [`PartWriter::new`]).
    pub fn create(
        dir: &Path,
        index: u32,
        schema: SchemaRef,
        opts: &WriterOptions,
    ) -> Result<PartWriter, LoadError> {
        let name = part_file_name(None, index, opts.format.extension());
        let sink = LocalStore::new(dir).create_part(&name)?;
        PartWriter::new(name, sink, schema, opts)
    }

    /// Starts encoding part `file` (its path relative to the output root)
    /// into `sink`. A CSV part gets its header at once, so even an empty
    /// part has one.
    pub fn new(
        file: String,
        sink: Box<dyn PartSink>,
        schema: SchemaRef,
        opts: &WriterOptions,
    ) -> Result<PartWriter, LoadError> {
        let shared = Arc::new(Shared::default());
        let describe = sink.describe();
        let sink = HashingFile {
            sink,
            hasher: Sha256::new(),
            bytes: 0,
            shared: Arc::clone(&shared),
        };
        let mut writer = PartWriter {
            file,
            describe,
            schema: Arc::clone(&schema),
            encoder: None,
            staged: Vec::new(),
            staged_rows: 0,
            staged_bytes: 0,
            stage_rows: opts.stage_rows.max(1),
            stage_bytes: opts.stage_bytes.max(1),
            rows: 0,
            shared,
            failed: None,
            partition: Vec::new(),
        };
        // From here on, an error drops the sink, which abandons the part.
        let encoder = match opts.format.part_format() {
            Format::Csv => {
                let buffered = NoFlush {
                    inner: BufWriter::with_capacity(CSV_BUFFER, sink),
                    shared: Arc::clone(&writer.shared),
                };
                let mut w = csv_builder().build(buffered);
                let csv_schema = utc_for_csv(&writer.schema);
                let header_schema = csv_schema
                    .clone()
                    .unwrap_or_else(|| Arc::clone(&writer.schema));
                // Writes the header.
                w.write(&RecordBatch::new_empty(header_schema))
                    .map_err(|e| writer.encode_error(e))?;
                Encoder::Csv(Box::new(CsvEncoder {
                    writer: w,
                    schema: csv_schema,
                }))
            }
            _ => {
                let props = parquet_properties(opts).map_err(|m| writer.encode_error(m))?;
                let w = ArrowWriter::try_new(sink, schema, Some(props))
                    .map_err(|e| writer.encode_error(e))?;
                Encoder::Parquet(Box::new(w))
            }
        };
        writer.encoder = Some(encoder);
        Ok(writer)
    }

    /// Records the part's Hive-style partition values (they go into the
    /// [`CommittedPart`]).
    pub fn set_partition(&mut self, values: Vec<(String, String)>) {
        self.partition = values;
    }

    /// Appends the rows of `batch` (which must have the part's schema).
    ///
    /// Small batches (one per record) are staged and written together once
    /// [`WriterOptions::stage_rows`] rows are waiting; Parquet row groups
    /// are cut by the writer when either bound (rows or bytes) is reached.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<(), LoadError> {
        if !Arc::ptr_eq(batch.schema_ref(), &self.schema)
            && batch.schema_ref().fields() != self.schema.fields()
        {
            return Err(self.encode_error(format!(
                "the batch's schema {:?} is not the part's schema {:?}",
                batch.schema_ref().fields(),
                self.schema.fields()
            )));
        }
        self.check_usable()?;
        if batch.num_rows() == 0 {
            return Ok(());
        }
        self.rows += batch.num_rows() as u64;
        if batch.num_rows() >= self.stage_rows && self.staged.is_empty() {
            return self.encode(batch);
        }
        self.staged_rows += batch.num_rows();
        self.staged_bytes += batch.get_array_memory_size();
        self.staged.push(batch.clone());
        if self.staged_rows >= self.stage_rows || self.staged_bytes >= self.stage_bytes {
            self.flush_staged()?;
        }
        Ok(())
    }

    /// Memory the staged batches (not yet encoded) take, in bytes.
    pub fn staged_bytes(&self) -> usize {
        self.staged_bytes
    }

    /// Rows written so far (staged rows included).
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The part's path relative to the output root, e.g. `part-00003.csv`.
    pub fn file_name(&self) -> &str {
        &self.file
    }

    /// Where the part is being written (`... .inprogress`, an upload).
    pub fn describe(&self) -> &str {
        &self.describe
    }

    /// An estimate of the bytes this part will hold: bytes already written
    /// plus the encoded size of what is buffered. Useful for closing parts
    /// by size.
    pub fn estimated_bytes(&self) -> u64 {
        let encoded = match &self.encoder {
            Some(Encoder::Parquet(w)) => (w.bytes_written() + w.in_progress_size()) as u64,
            Some(Encoder::Csv(_)) => self.shared.csv_bytes.load(Ordering::Relaxed),
            None => 0,
        };
        encoded + self.staged_bytes as u64
    }

    /// Commits the part: the encoder's last bytes, then the sink's commit
    /// (fsync and rename; complete the upload). On error nothing carries
    /// the final name.
    pub fn finish(mut self) -> Result<CommittedPart, LoadError> {
        self.check_usable()?;
        self.flush_staged()?;
        let sink = match self.encoder.take() {
            // Writes the footer and flushes parquet's buffer.
            Some(Encoder::Parquet(w)) => w.into_inner().map_err(|e| self.encode_error(e))?,
            Some(Encoder::Csv(w)) => {
                // arrow-csv's `into_inner` unwraps csv's own flush; that
                // cannot fail here: every successful `write` emptied csv's
                // buffer, and a failed one took the encoder away (`fail`).
                let buffered = w.writer.into_inner().inner;
                match buffered.into_inner() {
                    Ok(sink) => sink,
                    Err(e) => {
                        let (e, buffered) = e.into_parts();
                        let (sink, _) = buffered.into_parts();
                        return Err(sink.sink.error("write", e));
                    }
                }
            }
            None => {
                return Err(self.encode_error("the part was already closed"));
            }
        };
        let HashingFile {
            sink,
            hasher,
            bytes,
            ..
        } = sink;
        sink.commit()?;
        let sha256 = hasher
            .finalize()
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect();
        Ok(CommittedPart {
            file: std::mem::take(&mut self.file),
            rows: self.rows,
            bytes,
            sha256,
            partition: std::mem::take(&mut self.partition),
        })
    }

    /// Abandons the part (its temp file or upload goes). This is what to do
    /// after any error from [`PartWriter::write`].
    pub fn abort(mut self) {
        self.abandon();
    }

    fn flush_staged(&mut self) -> Result<(), LoadError> {
        match self.staged.len() {
            0 => Ok(()),
            1 => {
                let batch = self.staged.pop();
                self.staged_rows = 0;
                self.staged_bytes = 0;
                match batch {
                    Some(b) => self.encode(&b),
                    None => Ok(()),
                }
            }
            _ => {
                let batch = arrow_select::concat::concat_batches(&self.schema, &self.staged)
                    .map_err(|e| self.fail(e.to_string()))?;
                self.staged.clear();
                self.staged_rows = 0;
                self.staged_bytes = 0;
                self.encode(&batch)
            }
        }
    }

    fn encode(&mut self, batch: &RecordBatch) -> Result<(), LoadError> {
        self.check_usable()?;
        let result = match &mut self.encoder {
            Some(Encoder::Parquet(w)) => w.write(batch).map_err(|e| e.to_string()),
            Some(Encoder::Csv(w)) => w.write(batch).map_err(|e| e.to_string()),
            None => Err("the part was already closed".to_owned()),
        };
        result.map_err(|m| self.fail(m))
    }

    /// Records a failed write: the encoder is dropped (its state is
    /// unknown) and the part can only be abandoned.
    fn fail(&mut self, message: String) -> LoadError {
        let err = self.encode_error(&message);
        self.failed = Some(message);
        self.encoder = None;
        self.staged.clear();
        self.staged_rows = 0;
        err
    }

    /// An error if an earlier write failed.
    fn check_usable(&self) -> Result<(), LoadError> {
        match &self.failed {
            Some(m) => Err(LoadError::Encode {
                path: self.describe.clone().into(),
                message: format!(
                    "an earlier write to this part failed ({m}); the part must be abandoned"
                ),
            }),
            None => Ok(()),
        }
    }

    /// An encoder error: an IO error underneath is classified (disk full,
    /// read-only); anything else is an encoding error.
    fn encode_error(&self, message: impl std::fmt::Display) -> LoadError {
        match self.shared.first_error.get() {
            Some(e) => LoadError::io("write", Path::new(&self.describe), copy_io_error(e)),
            None => LoadError::Encode {
                path: self.describe.clone().into(),
                message: message.to_string(),
            },
        }
    }

    /// Drops the encoder and with it the sink, whose `Drop` abandons the
    /// part (removes the temp file, aborts the upload).
    fn abandon(&mut self) {
        self.staged.clear();
        self.encoder = None;
    }
}

impl Drop for PartWriter {
    /// A part that was neither finished nor aborted is abandoned. Nothing is
    /// ever finished here.
    fn drop(&mut self) {
        self.abandon();
    }
}
