//! CSV parts: RFC 4180 quoting, a header in every part, nulls as empty
//! fields, dates and timestamps in ISO/RFC 3339 form.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use arrow_array::{
    Array, BooleanArray, Date32Array, Float64Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
mod load_common;

use load_common::OutputDir;
use smartsweep::load::{Format, PartWriter, WriterOptions};
use std::fs;
use std::os::unix::fs::PermissionsExt;
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

fn opts() -> WriterOptions {
    WriterOptions {
        format: Format::Csv,
        stage_rows: 3,
        ..WriterOptions::default()
    }
}

const TRICKY: [Option<&str>; 7] = [
    Some("plain"),
    Some("a,b"),
    Some("say \"hi\""),
    Some("two\nlines"),
    Some("crlf\r\nhere"),
    None,
    Some("ünïcødé ✓"),
];

fn tricky_batch(id: &str) -> RecordBatch {
    let n = TRICKY.len();
    RecordBatch::try_new(
        schema(),
        vec![
            Arc::new(StringArray::from_iter_values((0..n).map(|_| id))),
            Arc::new(StringArray::from_iter(TRICKY)),
            // 2024-02-29, then nulls.
            Arc::new(Date32Array::from_iter(
                (0..n).map(|i| (i == 0).then_some(19782)),
            )),
            Arc::new(
                TimestampMicrosecondArray::from_iter((0..n).map(|i| match i {
                    0 => Some(1_709_164_800_000_000), // 2024-02-29T00:00:00Z
                    1 => Some(1_709_164_800_123_456), // with microseconds
                    _ => None,
                }))
                .with_timezone("UTC"),
            ),
            Arc::new(Int64Array::from_iter(
                (0..n).map(|i| (i < 2).then_some(-(i as i64) * 7)),
            )),
            Arc::new(Float64Array::from_iter(
                (0..n).map(|i| (i == 0).then_some(1.5)),
            )),
            Arc::new(BooleanArray::from_iter(
                (0..n).map(|i| (i < 2).then_some(i == 0)),
            )),
        ],
    )
    .unwrap()
}

const HEADER: &str = "record_id,drugname,dob,seen,n,x,b\r\n";

#[test]
fn exact_bytes_rfc4180() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = PartWriter::create(dir.path(), 0, schema(), &opts()).unwrap();
    assert_eq!(w.estimated_bytes(), HEADER.len() as u64);
    w.write(&tricky_batch("r1")).unwrap();
    assert!(w.estimated_bytes() > HEADER.len() as u64);
    let part = w.finish().unwrap();
    assert_eq!(part.file, "part-00000.csv");
    assert_eq!(part.rows, TRICKY.len() as u64);
    let path = dir.path().join("part-00000.csv");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600
    );
    let text = fs::read_to_string(&path).unwrap();
    let want = [
        HEADER,
        "r1,plain,2024-02-29,2024-02-29T00:00:00Z,0,1.5,true\r\n",
        "r1,\"a,b\",,2024-02-29T00:00:00.123456Z,-7,,false\r\n",
        "r1,\"say \"\"hi\"\"\",,,,,\r\n",
        "r1,\"two\nlines\",,,,,\r\n",
        "r1,\"crlf\r\nhere\",,,,,\r\n",
        "r1,,,,,,\r\n",
        "r1,ünïcødé ✓,,,,,\r\n",
    ]
    .concat();
    assert_eq!(text, want);
    assert_eq!(part.bytes, want.len() as u64);
}

#[test]
fn per_record_batches_round_trip_through_a_csv_reader() {
    let dir = tempfile::tempdir().unwrap();
    let mut w = PartWriter::create(dir.path(), 0, schema(), &opts()).unwrap();
    let mut ids = Vec::new();
    for r in 0..50 {
        let id = format!("rec,{r}");
        w.write(&tricky_batch(&id)).unwrap();
        ids.push(id);
    }
    let part = w.finish().unwrap();
    assert_eq!(part.rows, 50 * TRICKY.len() as u64);

    let utf8 = Arc::new(Schema::new(
        schema()
            .fields()
            .iter()
            .map(|f| Field::new(f.name(), DataType::Utf8, true))
            .collect::<Vec<_>>(),
    ));
    let file = fs::File::open(dir.path().join(&part.file)).unwrap();
    let reader = arrow_csv::ReaderBuilder::new(utf8)
        .with_header(true)
        .build(file)
        .unwrap();
    let batches: Vec<RecordBatch> = reader.collect::<Result<_, _>>().unwrap();
    let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
    assert_eq!(rows, 50 * TRICKY.len());
    let mut k = 0;
    for b in &batches {
        let id = b.column(0).as_any().downcast_ref::<StringArray>().unwrap();
        let drug = b.column(1).as_any().downcast_ref::<StringArray>().unwrap();
        for i in 0..b.num_rows() {
            assert_eq!(id.value(i), ids[k / TRICKY.len()]);
            let want = TRICKY[k % TRICKY.len()];
            // A null is an empty field; the reader reads it back as null.
            assert_eq!(drug.is_valid(i).then(|| drug.value(i)), want, "row {k}");
            k += 1;
        }
    }
}

#[test]
fn every_part_has_a_header_even_an_empty_one() {
    let dir = tempfile::tempdir().unwrap();
    for index in 0..3 {
        let mut w = PartWriter::create(dir.path(), index, schema(), &opts()).unwrap();
        if index != 1 {
            w.write(&tricky_batch("r")).unwrap();
        }
        w.finish().unwrap();
    }
    for index in 0..3 {
        let text = fs::read_to_string(dir.path().join(format!("part-0000{index}.csv"))).unwrap();
        assert!(text.starts_with(HEADER), "part {index}: {text:?}");
        assert_eq!(text.matches(HEADER).count(), 1, "part {index}");
        if index == 1 {
            assert_eq!(text, HEADER);
        }
    }

    // The engine's helper for a zero-row run gives a header-only part.
    let out_dir = dir.path().join("empty");
    let (out, _) = OutputDir::open_as(&out_dir, "h", false, Format::Csv).unwrap();
    let part = out.empty_part(0, schema(), &opts()).unwrap();
    assert_eq!(part.rows, 0);
    assert_eq!(
        fs::read_to_string(out_dir.join("part-00000.csv")).unwrap(),
        HEADER
    );
}
