//! Parquet parts: written through `PartWriter`, read back with parquet's
//! own Arrow reader.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow_array::{
    BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression as PqCompression, Encoding};
use sha2::{Digest, Sha256};
mod load_common;

use load_common::{OutputDir, add_part, parts};
use smartsweep::load::{Compression, Format, LoadError, PartWriter, WriterOptions};
use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::Arc;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("record_id", DataType::Utf8, false),
        Field::new("drugname", DataType::Utf8, true),
        Field::new("dob", DataType::Date32, true),
        Field::new(
            "seen",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("n", DataType::Int64, true),
        Field::new("x", DataType::Float64, true),
        Field::new("b", DataType::Boolean, true),
    ]))
}

const DRUGS: [&str; 5] = [
    "Lisinopril",
    "Amoxicillin",
    "Metformin",
    "Atorvastatin",
    "Zoloft",
];

/// The rows of record `r`: `r % 26` rows (0 to 25), some nulls.
fn record_batch(r: usize) -> RecordBatch {
    let n = r % 26;
    let id = format!("rec-{r:06}");
    let rows = 0..n;
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values(
                rows.clone().map(|_| id.as_str()),
            )),
            Arc::new(StringArray::from_iter(
                rows.clone()
                    .map(|i| (i % 7 != 3).then(|| DRUGS[(r + i) % DRUGS.len()])),
            )),
            Arc::new(Date32Array::from_iter(
                rows.clone()
                    .map(|i| (i % 5 != 0).then_some((r * 31 + i) as i32 % 20_000)),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter(
                    rows.clone()
                        .map(|i| Some(1_700_000_000_000_000 + (r * 1000 + i) as i64)),
                )
                .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from_iter(
                rows.clone().map(|i| Some((r * i) as i64)),
            )),
            Arc::new(Float64Array::from_iter(
                rows.clone().map(|i| (i % 2 == 0).then_some(i as f64 / 3.0)),
            )),
            Arc::new(BooleanArray::from_iter(rows.map(|i| Some(i % 3 == 0)))),
        ],
    )
    .unwrap()
}

fn options(compression: Compression) -> WriterOptions {
    WriterOptions {
        format: Format::Parquet,
        compression,
        row_group_rows: 1000,
        row_group_bytes: 64 * 1024 * 1024,
        metadata: vec![
            ("smartsweep.pipeline".into(), "drug-names".into()),
            ("smartsweep.pipeline_hash".into(), "abc123".into()),
            ("smartsweep.run_id".into(), "run-42".into()),
            ("smartsweep.api_base".into(), "http://127.0.0.1:7000".into()),
            ("smartsweep.version".into(), "0.1.0".into()),
        ],
        stage_rows: 256,
        stage_bytes: 1 << 20,
    }
}

fn read_all(
    path: &Path,
) -> (
    SchemaRef,
    Vec<RecordBatch>,
    Arc<parquet::file::metadata::ParquetMetaData>,
) {
    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(path).unwrap()).unwrap();
    let schema = builder.schema().clone();
    let meta = builder.metadata().clone();
    let batches = builder
        .build()
        .unwrap()
        .collect::<Result<Vec<_>, _>>()
        .unwrap();
    (schema, batches, meta)
}

fn concat(batches: &[RecordBatch]) -> RecordBatch {
    arrow_select::concat::concat_batches(&schema(), batches).unwrap()
}

fn sha256_hex(path: &Path) -> String {
    Sha256::digest(fs::read(path).unwrap())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn round_trip_of_per_record_batches() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(Compression::Zstd);
    let mut w = PartWriter::create(dir.path(), 3, schema(), &opts).unwrap();
    let tmp = dir.path().join("part-00003.parquet.inprogress");
    let fin = dir.path().join("part-00003.parquet");
    assert_eq!(w.describe(), tmp.display().to_string());
    assert_eq!(w.file_name(), "part-00003.parquet");
    let mut expected = Vec::new();
    for r in 0..400 {
        let b = record_batch(r);
        w.write(&b).unwrap();
        expected.push(b);
    }
    let want = concat(&expected);
    assert_eq!(w.rows(), want.num_rows() as u64);
    let estimate = w.estimated_bytes();
    // While writing: only the temp name exists, owner-only.
    assert!(tmp.exists());
    assert!(!fin.exists());
    assert_eq!(
        fs::metadata(&tmp).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let part = w.finish().unwrap();
    assert!(!tmp.exists(), "the temp file is renamed");
    assert_eq!(part.file, "part-00003.parquet");
    assert_eq!(part.rows, want.num_rows() as u64);
    assert_eq!(part.bytes, fs::metadata(&fin).unwrap().len());
    assert_eq!(part.sha256, sha256_hex(&fin));
    // The estimate is in the right ballpark (no footer, encoder estimates).
    assert!(
        estimate > part.bytes / 2 && estimate < part.bytes * 2,
        "estimate {estimate}, actual {}",
        part.bytes
    );
    assert_eq!(
        fs::metadata(&fin).unwrap().permissions().mode() & 0o777,
        0o600
    );

    let (read_schema, batches, meta) = read_all(&fin);
    assert_eq!(
        read_schema.fields(),
        schema().fields(),
        "the Arrow schema is embedded"
    );
    assert_eq!(concat(&batches), want);

    let kv = meta.file_metadata().key_value_metadata().unwrap();
    let keys: Vec<&str> = kv.iter().map(|k| k.key.as_str()).collect();
    for key in [
        "ARROW:schema",
        "smartsweep.pipeline",
        "smartsweep.pipeline_hash",
        "smartsweep.run_id",
        "smartsweep.api_base",
        "smartsweep.version",
    ] {
        assert!(keys.contains(&key), "{key} missing from {keys:?}");
    }
    let run_id = kv.iter().find(|k| k.key == "smartsweep.run_id").unwrap();
    assert_eq!(run_id.value.as_deref(), Some("run-42"));

    // Row groups bounded by rows; every column chunk zstd, with statistics;
    // the string columns dictionary-encoded.
    let groups = meta.row_groups();
    assert_eq!(groups.len(), want.num_rows().div_ceil(1000));
    for g in groups {
        assert!(g.num_rows() <= 1000, "row group of {} rows", g.num_rows());
        for c in g.columns() {
            assert!(
                matches!(c.compression(), PqCompression::ZSTD(_)),
                "{:?}",
                c.compression()
            );
            assert!(
                c.statistics().is_some(),
                "no statistics for {}",
                c.column_path()
            );
        }
        for col in [0, 1] {
            let enc: Vec<Encoding> = g.column(col).encodings().collect();
            assert!(
                enc.contains(&Encoding::RLE_DICTIONARY)
                    || enc.contains(&Encoding::PLAIN_DICTIONARY),
                "column {col} not dictionary encoded: {enc:?}"
            );
        }
    }
    let total: i64 = groups.iter().map(|g| g.num_rows()).sum();
    assert_eq!(total as usize, want.num_rows());
}

#[test]
fn row_groups_are_bounded_by_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(Compression::None);
    opts.row_group_rows = 1_000_000;
    opts.row_group_bytes = 32 * 1024;
    let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
    let mut w = PartWriter::create(dir.path(), 0, schema.clone(), &opts).unwrap();
    // 20,000 distinct 40-byte strings: about 800 KB of values.
    for chunk in 0..20 {
        let values = (0..1000).map(|i| format!("{:040}", chunk * 1000 + i));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![Arc::new(StringArray::from_iter_values(values))],
        )
        .unwrap();
        w.write(&batch).unwrap();
    }
    let part = w.finish().unwrap();
    let (_, batches, meta) = read_all(&dir.path().join(&part.file));
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 20_000);
    let groups = meta.row_groups();
    assert!(groups.len() >= 10, "only {} row groups", groups.len());
    for g in groups {
        // The bound is on the writer's estimate; allow one batch of slack.
        assert!(
            g.compressed_size() <= 2 * 32 * 1024,
            "row group of {} bytes",
            g.compressed_size()
        );
    }
}

#[test]
fn snappy_and_uncompressed() {
    for (c, want) in [
        (Compression::Snappy, PqCompression::SNAPPY),
        (Compression::None, PqCompression::UNCOMPRESSED),
    ] {
        let dir = tempfile::tempdir().unwrap();
        let mut w = PartWriter::create(dir.path(), 0, schema(), &options(c)).unwrap();
        w.write(&record_batch(25)).unwrap();
        let part = w.finish().unwrap();
        let (_, batches, meta) = read_all(&dir.path().join(&part.file));
        assert_eq!(concat(&batches), record_batch(25));
        for col in meta.row_groups()[0].columns() {
            assert_eq!(col.compression(), want);
        }
    }
}

#[test]
fn an_empty_run_still_leaves_one_readable_part() {
    let dir = tempfile::tempdir().unwrap();
    let out_path = dir.path().join("out");
    let (out, cp) = OutputDir::open(&out_path, "h1", false).unwrap();
    assert!(cp.is_none());
    let mut cp = load_common::new_checkpoint("h1");
    let opts = options(Compression::Zstd);
    let part = out.empty_part(0, schema(), &opts).unwrap();
    assert_eq!(part.rows, 0);
    add_part(&mut cp, part, &[]);
    out.store_checkpoint(&cp).unwrap();
    let (read_schema, batches, meta) = read_all(&out_path.join("part-00000.parquet"));
    assert_eq!(read_schema.fields(), schema().fields());
    assert_eq!(batches.iter().map(|b| b.num_rows()).sum::<usize>(), 0);
    assert_eq!(meta.file_metadata().num_rows(), 0);
    // ... and the checkpoint knows it.
    drop(out); // release the directory lock before reopening
    let (_, resumed) = OutputDir::open(&out_path, "h1", false).unwrap();
    assert_eq!(parts(&resumed.unwrap()), parts(&cp));
}

#[test]
fn abort_and_drop_remove_the_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let opts = options(Compression::Zstd);
    let mut w = PartWriter::create(dir.path(), 0, schema(), &opts).unwrap();
    w.write(&record_batch(20)).unwrap();
    w.abort();
    let mut w = PartWriter::create(dir.path(), 1, schema(), &opts).unwrap();
    w.write(&record_batch(20)).unwrap();
    drop(w);
    assert_eq!(
        fs::read_dir(dir.path()).unwrap().count(),
        0,
        "nothing left behind"
    );
}

#[test]
fn a_batch_with_another_schema_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = PartWriter::create(dir.path(), 0, schema(), &options(Compression::Zstd)).unwrap();
    let other = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8, false)]));
    let batch =
        RecordBatch::try_new(other, vec![Arc::new(StringArray::from_iter_values(["a"]))]).unwrap();
    let err = w.write(&batch).unwrap_err();
    assert!(matches!(err, LoadError::Encode { .. }), "{err:?}");
    assert!(
        err.to_string().contains("part-00000.parquet.inprogress"),
        "{err}"
    );
}

#[test]
fn an_existing_final_name_is_never_overwritten() {
    let dir = tempfile::tempdir().unwrap();
    fs::write(dir.path().join("part-00007.parquet"), b"committed").unwrap();
    let err = PartWriter::create(dir.path(), 7, schema(), &options(Compression::Zstd)).unwrap_err();
    assert!(matches!(err, LoadError::PartExists { .. }), "{err:?}");
    assert_eq!(
        fs::read(dir.path().join("part-00007.parquet")).unwrap(),
        b"committed"
    );
    assert!(!dir.path().join("part-00007.parquet.inprogress").exists());
}

#[test]
fn big_batches_bypass_staging_and_keep_order() {
    // Mix of batches larger and smaller than stage_rows: the order of rows
    // must be the order of the calls.
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(Compression::Zstd);
    opts.stage_rows = 30;
    let mut w = PartWriter::create(dir.path(), 0, schema(), &opts).unwrap();
    let mut expected = Vec::new();
    for r in [3usize, 4, 25, 1, 2, 24, 5, 0, 26 + 25] {
        let mut b = record_batch(r);
        if r == 24 {
            b = concat(&[record_batch(24), record_batch(25)]); // 49 rows > stage_rows
        }
        w.write(&b).unwrap();
        expected.push(b);
    }
    let part = w.finish().unwrap();
    let (_, batches, _) = read_all(&dir.path().join(&part.file));
    assert_eq!(concat(&batches), concat(&expected));
}

#[test]
fn staging_is_bounded_by_memory_as_well_as_rows() {
    // A sparse table: one-row batches, far fewer rows than stage_rows. The
    // staged batches cost much more than their rows; `stage_bytes` bounds
    // them, and the rows still come out in order.
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(Compression::Zstd);
    opts.stage_rows = 1_000_000;
    opts.stage_bytes = 32 * 1024;
    let mut w = PartWriter::create(dir.path(), 0, schema(), &opts).unwrap();
    let mut expected = Vec::new();
    let mut flushes = 0;
    for _ in 0..600 {
        let b = record_batch(1);
        let before = w.staged_bytes();
        w.write(&b).unwrap();
        assert!(
            w.staged_bytes() < opts.stage_bytes,
            "{} bytes staged",
            w.staged_bytes()
        );
        flushes += usize::from(w.staged_bytes() < before);
        expected.push(b);
    }
    assert!(flushes >= 2, "staging never flushed by size");
    let part = w.finish().unwrap();
    let (_, batches, _) = read_all(&dir.path().join(&part.file));
    assert_eq!(concat(&batches), concat(&expected));
}
