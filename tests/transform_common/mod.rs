//! (Also compiled as its own empty test target; the other transform tests
//! include it with `#[path]`.)
//! Shared helpers for the transform tests: reading the SMART sample patients
//! and turning them into medications answers.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use smartsweep::schema::ColumnType;
use smartsweep::transform::{Projection, RecordRows};
use smartsweep_testkit::{Drug, Fulfillment, Medication, Record, Text, ValueAndUnit};
use std::collections::BTreeMap;

/// The SMART sample patients (see `smartsweep_testkit::shared_dir`).
pub fn sample_dir() -> std::path::PathBuf {
    smartsweep_testkit::shared_dir().join("data/smart-sample-patients")
}

/// Reads a tab-separated table with a header row and `"` quoting (Python's
/// `excel-tab` dialect); returns rows as header -> value maps.
pub fn read_table(name: &str) -> Vec<BTreeMap<String, String>> {
    let path = sample_dir().join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut records: Vec<Vec<String>> = Vec::new();
    let mut row: Vec<String> = Vec::new();
    let mut field = String::new();
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    let mut at_field_start = true;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' if at_field_start => {
                quoted = true;
                at_field_start = false;
            }
            '\t' => {
                row.push(std::mem::take(&mut field));
                at_field_start = true;
            }
            '\n' => {
                row.push(std::mem::take(&mut field));
                records.push(std::mem::take(&mut row));
                at_field_start = true;
            }
            '\r' => {}
            c => {
                field.push(c);
                at_field_start = false;
            }
        }
    }
    if !field.is_empty() || !row.is_empty() {
        row.push(field);
        records.push(row);
    }
    let header = records.remove(0);
    records
        .into_iter()
        .filter(|r| !(r.len() == 1 && r[0].is_empty()))
        .map(|r| {
            header
                .iter()
                .cloned()
                .zip(r.into_iter().chain(std::iter::repeat(String::new())))
                .collect()
        })
        .collect()
}

fn vau(value: &str, unit: &str) -> Option<ValueAndUnit> {
    (!value.is_empty() && !unit.is_empty()).then(|| ValueAndUnit {
        value: value.into(),
        unit: unit.into(),
    })
}

/// Every sample patient's medications answer (59 records, 22 of them
/// without medications), built as the README of the data describes.
pub fn sample_records() -> Vec<Record> {
    let patients = read_table("patients.txt");
    let meds = read_table("meds.txt");
    let refills = read_table("refills.txt");
    // Fulfillments: refill rows with Q != 0, one per (patient, RxCUI, date).
    let mut fills: BTreeMap<(String, String), Vec<Fulfillment>> = BTreeMap::new();
    for r in &refills {
        let q = r["Q"].trim();
        if q.is_empty() || q.parse::<f64>().ok() == Some(0.0) {
            continue;
        }
        let key = (r["PID"].clone(), r["RXN"].clone());
        let list = fills.entry(key).or_default();
        if list.iter().any(|f| f.date == r["DATE"]) {
            continue;
        }
        list.push(Fulfillment {
            id: format!("f-{}-{}-{}", r["PID"], r["RXN"], r["DATE"]),
            date: r["DATE"].clone(),
            days_supply: r["DAYS"].clone(),
            quantity: Some(ValueAndUnit {
                value: q.into(),
                unit: "{tab}".into(),
            }),
        });
    }
    let mut by_patient: BTreeMap<String, Vec<Medication>> = BTreeMap::new();
    for (i, m) in meds.iter().enumerate() {
        let pid = m["PT_ID"].clone();
        let rx = m["RxNorm"].clone();
        let nonempty = |k: &str| (!m[k].is_empty()).then(|| m[k].clone());
        by_patient.entry(pid.clone()).or_default().push(Medication {
            id: format!("m{i:04}"),
            drug: Some(Drug {
                titles: vec![Text::plain(m["Name"].clone())],
                rxcui: rx.clone(),
            }),
            start_date: nonempty("START_DATE"),
            end_date: nonempty("END_DATE"),
            instructions: nonempty("SIG"),
            quantity: vau(&m["Q_TO_TAKE_VALUE"], &m["Q_TO_TAKE_UNIT"]),
            frequency: vau(&m["FREQUENCY_VALUE"], &m["FREQUENCY_UNIT"]),
            fulfillments: fills.get(&(pid, rx)).cloned().unwrap_or_default(),
        });
    }
    patients
        .iter()
        .map(|p| Record {
            api_base: "http://localhost:7000".into(),
            record_id: p["PID"].clone(),
            meds: by_patient.remove(&p["PID"]).unwrap_or_default(),
        })
        .collect()
}

pub fn prepare(sparql: &str, columns: &[(&str, ColumnType)]) -> Projection {
    let columns = columns
        .iter()
        .map(|(k, t)| (k.to_string(), *t))
        .collect::<BTreeMap<_, _>>();
    Projection::prepare(sparql, &columns).unwrap_or_else(|e| panic!("{e}"))
}

pub fn apply(p: &Projection, rec: &Record, body: &str) -> RecordRows {
    p.apply(&rec.record_id, &[body.as_bytes()], &rec.request_url())
        .unwrap_or_else(|e| panic!("record {}: {e}\n{body}", rec.record_id))
}

pub fn apply_naive(p: &Projection, rec: &Record, body: &str) -> RecordRows {
    smartsweep_testkit::apply_naive(p, &rec.record_id, &[body.as_bytes()], &rec.request_url())
        .unwrap_or_else(|e| panic!("record {} (naive): {e}\n{body}", rec.record_id))
}
