//! Reading a committed part back (for `--seeds-from`, `verify` and
//! `preview`): Parquet with arrow's reader, CSV as text columns.

use super::{Format, LoadError, Store};
use arrow_array::{Array, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Schema};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::path::PathBuf;
use std::sync::Arc;

/// A part's bytes as record batches. CSV columns come back as text (the
/// header names them; an empty cell is null).
pub fn decode_part(
    bytes: Vec<u8>,
    format: Format,
    path: &str,
) -> Result<Vec<RecordBatch>, LoadError> {
    let bad = |message: String| LoadError::Encode {
        path: PathBuf::from(path),
        message,
    };
    match format.part_format() {
        Format::Csv => {
            let header_end = bytes
                .iter()
                .position(|&b| b == b'\n')
                .unwrap_or(bytes.len());
            let header = String::from_utf8_lossy(&bytes[..header_end]);
            let fields: Vec<Field> = header
                .trim_end_matches(['\r', '\n'])
                .split(',')
                .map(|name| Field::new(name.trim_matches('"'), DataType::Utf8, true))
                .collect();
            let schema = Arc::new(Schema::new(fields));
            let reader = arrow_csv::ReaderBuilder::new(schema)
                .with_header(true)
                .build(std::io::Cursor::new(bytes))
                .map_err(|e| bad(format!("not a CSV part: {e}")))?;
            reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("not a CSV part: {e}")))
        }
        _ => {
            let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))
                .and_then(|b| b.build())
                .map_err(|e| bad(format!("not a Parquet part: {e}")))?;
            reader
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| bad(format!("not a Parquet part: {e}")))
        }
    }
}

/// Reads the part at `path` from `store`.
pub fn read_part(
    store: &dyn Store,
    path: &str,
    format: Format,
) -> Result<Vec<RecordBatch>, LoadError> {
    let bytes = store.read(path)?.ok_or_else(|| LoadError::PartTampered {
        path: PathBuf::from(store.describe_path(path)),
        problem: "missing".into(),
    })?;
    decode_part(bytes, format, &store.describe_path(path))
}

/// The distinct values of the `record_id` column of `batches`, in order
/// of first appearance.
pub fn record_ids(batches: &[RecordBatch]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for b in batches {
        let Some(col) = b
            .column_by_name(crate::transform::RECORD_ID_COLUMN)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        else {
            continue;
        };
        for v in col.iter().flatten() {
            if out.last().map(String::as_str) != Some(v) {
                out.push(v.to_owned());
            }
        }
    }
    out
}

/// Most seeds [`seeds_of`] returns.
pub const MAX_SEEDS: usize = 4096;

/// Record ids known to a finished output, in walk order: the manifest's
/// sampled seeds, or (an output of an older smartsweep) the `record_id`s of
/// its parts, thinned evenly to at most [`MAX_SEEDS`].
pub fn seeds_of(store: &dyn Store) -> Result<Vec<crate::record::RecordId>, LoadError> {
    use super::MANIFEST_FILE;
    use super::manifest::Manifest;
    let not_output = |message: String| {
        LoadError::Store {
        path: PathBuf::from(store.describe()),
        message,
        hint: "give --seeds-from a finished smartsweep output (it has `_manifest.json` and `_SUCCESS`), or --seeds FILE with record ids one per line".into(),
        usage: true,
    }
    };
    let bytes = store.read(MANIFEST_FILE)?.ok_or_else(|| {
        not_output(format!(
            "`{}` is not a finished smartsweep output (no `{MANIFEST_FILE}`)",
            store.describe()
        ))
    })?;
    let manifest = Manifest::from_json(&bytes).map_err(|e| {
        not_output(format!(
            "`{}` is not a smartsweep manifest: {e}",
            store.describe_path(MANIFEST_FILE)
        ))
    })?;
    if !manifest.seeds.is_empty() {
        return Ok(manifest.seeds);
    }
    let format: Format = manifest.pipeline.format.parse().unwrap_or_default();
    let mut ids = Vec::new();
    for part in &manifest.parts {
        ids.extend(record_ids(&read_part(store, &part.file, format)?));
    }
    let step = ids.len().div_ceil(MAX_SEEDS).max(1);
    Ok(ids
        .into_iter()
        .step_by(step)
        .map(crate::record::RecordId::from)
        .collect())
}
