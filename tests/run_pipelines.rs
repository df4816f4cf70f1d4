//! Every shipped pipeline against the sandbox: plausible rows, the declared
//! types, the output layout and its permissions, the metadata, and no
//! credential anywhere on disk. Also `preview` and `audit`.

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;

use arrow_schema::DataType;
use common::*;
use std::collections::BTreeSet;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

fn mode(p: &Path) -> u32 {
    std::fs::metadata(p).expect("meta").permissions().mode() & 0o777
}

fn assert_layout_and_privacy(out: &Path) {
    assert_eq!(mode(out), 0o700, "output directory mode");
    for e in std::fs::read_dir(out).expect("dir") {
        let p = e.expect("e").path();
        assert_eq!(mode(&p), 0o600, "{} mode", p.display());
        let bytes = std::fs::read(&p).expect("read");
        let hay = String::from_utf8_lossy(&bytes);
        assert!(
            !hay.contains(SECRET),
            "the consumer secret is in {}",
            p.display()
        );
    }
    assert!(out.join("_SUCCESS").exists());
    assert!(out.join("_manifest.json").exists());
}

#[test]
fn drug_names_runs_and_matches_the_population() {
    let sb = Sandbox::start(config(200, 1));
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("drug_names");
    let o = run("pipelines/drug_names.toml", &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_layout_and_privacy(&out);
    let parts = parts(&out, "parquet");
    let batches = read_parquet(&parts[0]);
    let schema = batches[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(names, ["record_id", "drugname"]);
    let all = rows(&out);
    let records: BTreeSet<&str> = all
        .iter()
        .map(|r| r.split('\t').next().unwrap_or_default())
        .collect();
    // About a third of the records have no medications.
    assert!(
        records.len() > 80 && records.len() < 180,
        "{} records with drugs",
        records.len()
    );
    // Rows are in cursor order: record ids ascending byte-wise.
    let ids: Vec<&str> = all
        .iter()
        .map(|r| r.split('\t').next().unwrap_or_default())
        .collect();
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted);
    let m = manifest(&out);
    assert_eq!(m["records"], 200);
    assert_eq!(m["pipeline"]["name"], "drug_names");
    let text = serde_json::to_string(&m).expect("json");
    assert!(!text.contains(SECRET));
    // Parquet key-value metadata.
    let f = std::fs::File::open(&parts[0]).expect("open");
    let reader = parquet::file::reader::SerializedFileReader::new(f).expect("reader");
    use parquet::file::reader::FileReader;
    let kv = reader
        .metadata()
        .file_metadata()
        .key_value_metadata()
        .cloned()
        .unwrap_or_default();
    let keys: BTreeSet<String> = kv.iter().map(|k| k.key.clone()).collect();
    for k in [
        "smartsweep.pipeline",
        "smartsweep.pipeline_hash",
        "smartsweep.run_id",
        "smartsweep.api_base",
        "smartsweep.version",
    ] {
        assert!(keys.contains(k), "missing metadata {k}: {keys:?}");
    }
    sb.stop();
}

#[test]
fn medications_have_typed_columns() {
    let sb = Sandbox::start(config(150, 2));
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("medications");
    let o = run("pipelines/medications.toml", &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_layout_and_privacy(&out);
    let batches = read_parquet(&parts(&out, "parquet")[0]);
    let schema = batches[0].schema();
    let expect = [
        ("record_id", DataType::Utf8),
        ("rxnorm", DataType::Utf8),
        ("drug_name", DataType::Utf8),
        ("start_date", DataType::Date32),
        ("start_date_raw", DataType::Utf8),
        ("end_date", DataType::Date32),
        ("end_date_raw", DataType::Utf8),
        ("instructions", DataType::Utf8),
        ("quantity", DataType::Float64),
        ("quantity_unit", DataType::Utf8),
        ("frequency", DataType::Float64),
        ("frequency_unit", DataType::Utf8),
        ("medication_uri", DataType::Utf8),
    ];
    assert_eq!(schema.fields().len(), expect.len());
    for (f, (name, ty)) in schema.fields().iter().zip(expect) {
        assert_eq!(f.name(), name);
        assert_eq!(f.data_type(), &ty, "{name}");
    }
    let all = rows(&out);
    assert!(all.len() > 300, "{}", all.len());
    assert!(all.iter().all(|r| {
        r.split('\t')
            .nth(1)
            .is_some_and(|c| c.chars().all(|ch| ch.is_ascii_digit()))
    }));
    sb.stop();
}

#[test]
fn fulfillments_and_recall_audit_pipelines_run() {
    let sb = Sandbox::start(config(150, 3));
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("fulfillments");
    let o = run("pipelines/fulfillments.toml", &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let batches = read_parquet(&parts(&out, "parquet")[0]);
    let schema = batches[0].schema();
    assert_eq!(
        schema.field_with_name("date").expect("f").data_type(),
        &DataType::Date32
    );
    assert_eq!(
        schema
            .field_with_name("days_supply")
            .expect("f")
            .data_type(),
        &DataType::Int64
    );
    assert!(rows(&out).len() > 100);

    let out = tmp.path().join("recall");
    let o = run("pipelines/recall_audit.toml", &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    for r in rows(&out) {
        let code = r.split('\t').nth(1).unwrap_or_default();
        assert!(code == "617318" || code == "197319", "{r}");
    }
    sb.stop();
}

#[test]
fn csv_output_has_a_header_in_every_part_and_empty_nulls() {
    let sb = Sandbox::start(config(120, 4));
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("csv");
    let o = run(
        "pipelines/medications.toml",
        &sb.api_base,
        &out,
        &["--format", "csv", "--part-records", "40"],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_layout_and_privacy(&out);
    let parts = parts(&out, "csv");
    assert!(parts.len() >= 2, "{parts:?}");
    for p in &parts {
        let t = std::fs::read_to_string(p).expect("csv");
        assert!(
            t.starts_with("record_id,rxnorm,drug_name,start_date,start_date_raw,end_date,"),
            "{}",
            p.display()
        );
    }
    sb.stop();
}

#[test]
fn audit_reports_scanned_matched_failed_and_filters_again_client_side() {
    // A --from-dir container ignores the rxnorm filter, like an old proxy:
    // the query must filter again.
    let tmp = tempfile::tempdir().expect("tmp");
    let generator = Sandbox::start(config(60, 8));
    let med_out = tmp.path().join("meds");
    let o = run(
        "pipelines/medications.toml",
        &generator.api_base,
        &med_out,
        &[],
    );
    assert_eq!(code(&o), 0, "{}", text(&o));
    // The most common code in the population, and who has it.
    let meds = rows(&med_out);
    let mut counts = std::collections::BTreeMap::<String, usize>::new();
    for r in &meds {
        *counts
            .entry(r.split('\t').nth(1).unwrap_or_default().to_string())
            .or_default() += 1;
    }
    let (code_, _) = counts.iter().max_by_key(|(_, n)| **n).expect("codes");
    let holders: BTreeSet<String> = meds
        .iter()
        .filter(|r| r.split('\t').nth(1) == Some(code_.as_str()))
        .map(|r| r.split('\t').next().unwrap_or_default().to_string())
        .collect();
    generator.stop();
    let dir = tmp.path().join("records");
    dump_records(config(60, 8), &dir);

    let sb = Sandbox::start(from_dir(&dir));
    let out = tmp.path().join("audit");
    let o = audit(code_, &sb.api_base, &out);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(
        stdout.contains(&format!("60 records scanned, {} matched", holders.len())),
        "{stdout}"
    );
    assert!(stdout.contains("0 failed"), "{stdout}");
    assert!(stdout.contains("complete"), "{stdout}");
    let got: BTreeSet<String> = rows(&out)
        .iter()
        .map(|r| r.split('\t').next().unwrap_or_default().to_string())
        .collect();
    assert_eq!(got, holders);
    assert!(
        rows(&out)
            .iter()
            .all(|r| r.split('\t').nth(1) == Some(code_.as_str()))
    );
    sb.stop();

    // With failing records the audit says it is incomplete and lists them.
    let mut cfg = config(60, 8);
    cfg.malformed_rate = 0.2;
    let sb = Sandbox::start(cfg);
    let out = tmp.path().join("audit2");
    let o = audit(code_, &sb.api_base, &out);
    assert_eq!(code(&o), 3, "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("INCOMPLETE"), "{stdout}");
    for id in error_ids(&out) {
        assert!(
            stdout.contains(&id),
            "failed record {id} not listed: {stdout}"
        );
    }
    sb.stop();
}

#[test]
fn preview_prints_a_table_of_a_few_records() {
    let sb = Sandbox::start(config(50, 5));
    let o = bin()
        .args([
            "preview",
            "pipelines/medications.toml",
            "--records",
            "3",
            "--api-base",
            &sb.api_base,
        ])
        .output()
        .expect("preview");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    assert!(stdout.contains("| record_id"), "{stdout}");
    assert!(stdout.contains("3 records,"), "{stdout}");
    sb.stop();
}

#[test]
fn without_a_container_run_uses_the_embedded_sandbox_and_says_so() {
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("demo");
    let o = bin()
        .args([
            "run",
            "pipelines/drug_names.toml",
            "--quiet",
            "--sandbox-records",
            "30",
            "--output",
        ])
        .arg(&out)
        .env_remove("SMARTSWEEP_CONSUMER_SECRET")
        .output()
        .expect("run");
    assert_eq!(code(&o), 0, "{}", text(&o));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(err.contains("embedded sandbox"), "{err}");
    assert!(err.contains("--api-base"), "{err}");
    assert_eq!(manifest(&out)["records"], 30);
}

#[test]
fn json_logs_for_schedulers_and_time_based_part_closing() {
    let mut cfg = config(60, 6);
    cfg.data_latency = std::time::Duration::from_millis(40);
    cfg.malformed_rate = 0.1;
    let sb = Sandbox::start(cfg);
    let tmp = tempfile::tempdir().expect("tmp");
    let out = tmp.path().join("out");
    let o = bin()
        .args([
            "run",
            "pipelines/drug_names.toml",
            "--log-format",
            "json",
            "--concurrency",
            "1",
            "--part-records",
            "100000",
            "--part-seconds",
            "1",
            "--api-base",
            &sb.api_base,
            "--output",
        ])
        .arg(&out)
        .output()
        .expect("run");
    assert_eq!(code(&o), 3, "{}", text(&o));
    // Every log line on stderr is one JSON object; failures are among them.
    let stderr = String::from_utf8_lossy(&o.stderr);
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    assert!(!lines.is_empty());
    for l in &lines {
        let v: serde_json::Value =
            serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}"));
        assert!(v.get("level").is_some(), "{l}");
    }
    assert!(
        lines.iter().any(|l| l.contains("failed at transform")),
        "{stderr}"
    );
    // 60 records at 40 ms each, one at a time: over 2 s, so the 1 s part
    // timer closed parts long before the 100,000-record bound.
    assert!(
        parts(&out, "parquet").len() >= 2,
        "{:?}",
        parts(&out, "parquet")
    );
    sb.stop();
}

/// `partition_by` per table: each table of a multi-table pipeline gets its
/// own Hive directories (its own columns), the files leave the partition
/// column out, and `verify` reads the output as sound.
#[test]
fn each_table_partitions_by_its_own_column() {
    let sb = Sandbox::start(config(120, 3));
    let tmp = tempfile::tempdir().expect("tmp");
    let pipeline = tmp.path().join("two.toml");
    std::fs::write(
        &pipeline,
        r#"
name = "two"
[[tables]]
name = "meds"
resource = "medications"
partition_by = ["unit"]
[tables.query]
sparql = """
PREFIX sp: <http://smartplatforms.org/terms#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?m ?unit WHERE { ?m rdf:type sp:Medication . OPTIONAL { ?m sp:frequency/sp:unit ?unit } }
"""
[[tables]]
name = "problems"
resource = "problems"
partition_by = ["year"]
[tables.query]
sparql = """
PREFIX sp: <http://smartplatforms.org/terms#>
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
SELECT ?p ?year WHERE { ?p rdf:type sp:Problem . OPTIONAL { ?p sp:startDate ?d } BIND(SUBSTR(STR(?d), 1, 4) AS ?year) }
"""
"#,
    )
    .expect("write pipeline");
    let out = tmp.path().join("out");
    let o = run(pipeline.to_str().expect("utf-8"), &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let dirs = |table: &str| -> Vec<String> {
        std::fs::read_dir(out.join(table))
            .expect("table dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains('='))
            .collect()
    };
    let meds = dirs("meds");
    let problems = dirs("problems");
    assert!(meds.iter().all(|d| d.starts_with("unit=")), "{meds:?}");
    assert!(meds.len() >= 2, "{meds:?}");
    assert!(
        problems.iter().all(|d| d.starts_with("year=")),
        "{problems:?}"
    );
    assert!(problems.len() >= 5, "{problems:?}");
    let part = parts(&out.join("problems").join(&problems[0]), "parquet");
    let schema = read_parquet(&part[0])[0].schema();
    let names: Vec<&str> = schema.fields().iter().map(|f| f.name().as_str()).collect();
    assert_eq!(
        names,
        ["record_id", "p"],
        "the partition column lives in the directory name"
    );
    let v = bin()
        .args(["verify", out.to_str().expect("utf-8")])
        .output()
        .expect("verify");
    assert_eq!(code(&v), 0, "{}", text(&v));
}
