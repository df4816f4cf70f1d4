//! Part writers: rows per second for Parquet (zstd, snappy, none) and CSV,
//! fed the way the engine feeds them: one small batch per record (0-25
//! rows). Each iteration writes a whole part, commit included (footer,
//! fsync, rename, directory fsync).
//!
//! The `unstaged` cases hand every per-record batch straight to the
//! encoder (`stage_rows = 1`): they show what the staging buffer saves.
//!
//! `cargo bench --bench writers`
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow_array::{
    Date32Array, Float64Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use criterion::{BatchSize, Criterion, Throughput, criterion_group, criterion_main};
use smartsweep::load::{Compression, Format, PartWriter, WriterOptions};
use std::sync::Arc;
use std::time::Duration;

const RECORDS: usize = 4000;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("record_id", DataType::Utf8, false),
        Field::new("drugname", DataType::Utf8, true),
        Field::new("rxcui", DataType::Utf8, true),
        Field::new("start_date", DataType::Date32, true),
        Field::new(
            "updated",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            true,
        ),
        Field::new("quantity", DataType::Float64, true),
        Field::new("refills", DataType::Int64, true),
    ]))
}

const DRUGS: [&str; 8] = [
    "Lisinopril 10 MG Oral Tablet",
    "Amoxicillin 500 MG Oral Capsule",
    "Metformin 500 MG Oral Tablet",
    "Atorvastatin 20 MG Oral Tablet",
    "Sertraline 50 MG Oral Tablet",
    "Omeprazole 20 MG Delayed Release Oral Capsule",
    "Amlodipine 5 MG Oral Tablet",
    "Levothyroxine 0.05 MG Oral Tablet",
];

/// One batch per record, `r * 7 % 26` rows each (about 12.5 on average).
fn records() -> Vec<RecordBatch> {
    (0..RECORDS)
        .map(|r| {
            let n = r * 7 % 26;
            let id = format!("{:08}", 1_000_000 + r * 37);
            let rows = 0..n;
            RecordBatch::try_new(
                schema(),
                vec![
                    Arc::new(StringArray::from_iter_values(
                        rows.clone().map(|_| id.as_str()),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        rows.clone().map(|i| DRUGS[(r + i) % DRUGS.len()]),
                    )),
                    Arc::new(StringArray::from_iter_values(
                        rows.clone().map(|i| format!("{}", 300_000 + (r + i) % 50)),
                    )),
                    Arc::new(Date32Array::from_iter(rows.clone().map(|i| {
                        (i % 4 != 0).then_some(14_000 + ((r * 13 + i) % 5000) as i32)
                    }))),
                    Arc::new(
                        TimestampMicrosecondArray::from_iter_values(
                            rows.clone()
                                .map(|i| 1_700_000_000_000_000 + (r * 1000 + i) as i64 * 1_000_000),
                        )
                        .with_timezone("UTC"),
                    ),
                    Arc::new(Float64Array::from_iter(
                        rows.clone()
                            .map(|i| (i % 3 != 0).then_some(30.0 + i as f64)),
                    )),
                    Arc::new(Int64Array::from_iter(rows.map(|i| Some((i % 6) as i64)))),
                ],
            )
            .unwrap()
        })
        .collect()
}

fn bench_writers(c: &mut Criterion) {
    let batches = records();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    let dir = tempfile::tempdir().unwrap();
    let mut group = c.benchmark_group("writers");
    group.throughput(Throughput::Elements(rows as u64));
    group.sample_size(10);
    group.warm_up_time(Duration::from_secs(1));
    group.measurement_time(Duration::from_secs(4));

    let cases = [
        ("parquet_zstd", Format::Parquet, Compression::Zstd, 4096),
        (
            "parquet_zstd_unstaged",
            Format::Parquet,
            Compression::Zstd,
            1,
        ),
        ("parquet_snappy", Format::Parquet, Compression::Snappy, 4096),
        ("parquet_none", Format::Parquet, Compression::None, 4096),
        ("csv", Format::Csv, Compression::None, 4096),
        ("csv_unstaged", Format::Csv, Compression::None, 1),
    ];
    for (name, format, compression, stage_rows) in cases {
        let opts = WriterOptions {
            format,
            compression,
            stage_rows,
            ..WriterOptions::default()
        };
        let mut index = 0u32;
        group.bench_function(name, |b| {
            b.iter_batched(
                || {
                    index += 1;
                    index
                },
                |index| {
                    let mut w = PartWriter::create(dir.path(), index, schema(), &opts).unwrap();
                    for batch in &batches {
                        w.write(batch).unwrap();
                    }
                    let part = w.finish().unwrap();
                    std::fs::remove_file(dir.path().join(&part.file)).unwrap();
                    part.bytes
                },
                BatchSize::PerIteration,
            );
        });
    }
    group.finish();
    eprintln!("({RECORDS} records, {rows} rows per part)");
}

criterion_group!(benches, bench_writers);
criterion_main!(benches);
