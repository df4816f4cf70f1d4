//! `pipelines/population.toml` end to end (issue 11): every resource as a
//! table, in one run that walks the cursor once.
//!
//! - each table of the multi-table run has exactly the rows of that table
//!   run alone, and the run took one token per record and fetched each
//!   resource once per record, even when two tables share a resource
//!   (counted by a TCP proxy in front of the sandbox, not by the client);
//! - kill -9 at random instants, then resume: every table has exactly the
//!   rows of an uninterrupted run;
//! - a record whose labs answer is broken fails for `lab_results` only: its
//!   other tables keep their rows, `_errors.csv` and the manifest name the
//!   table.

// Helpers outside #[test] functions panic on a failed setup step, on purpose.
#![allow(clippy::expect_used, clippy::unwrap_used)]

mod common;
mod population_common;

use common::*;
use population_common::*;
use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;

const RECORDS: u64 = 200;

/// Checks the layout of a finished population output: one directory per
/// table with its parts, the manifest's per-table rows and parts equal to
/// what is on disk. Returns each table's sorted rows.
fn check_layout(out: &Path, tables: &[String], records: u64) -> BTreeMap<String, Vec<String>> {
    let m = manifest(out);
    assert_eq!(m["records"].as_u64(), Some(records), "{m}");
    assert!(out.join("_SUCCESS").exists());
    assert!(!out.join("_checkpoint.json").exists());
    let listed: Vec<&String> = m["tables"].as_object().unwrap().keys().collect();
    assert_eq!(listed.len(), tables.len(), "manifest tables: {listed:?}");
    let rows = every_table(out, tables);
    let mut total = 0;
    for t in tables {
        let dir = out.join(t);
        assert!(dir.is_dir(), "no directory for table `{t}`");
        let on_disk = parts(&dir, "parquet");
        assert!(!on_disk.is_empty(), "table `{t}` has no part");
        let s = &m["tables"][t];
        assert_eq!(s["dir"], t.as_str(), "{t}");
        assert_eq!(s["rows"].as_u64(), Some(rows[t].len() as u64), "{t}: rows");
        let files: Vec<String> = s["parts"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| p["file"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(files.len(), on_disk.len(), "{t}: parts listed vs on disk");
        for f in &files {
            assert!(f.starts_with(&format!("{t}/part-")), "{t}: {f}");
            assert!(out.join(f).is_file(), "{t}: {f} missing");
        }
        for f in std::fs::read_dir(&dir).unwrap() {
            let name = f.unwrap().file_name().to_string_lossy().into_owned();
            assert!(
                !name.ends_with(".inprogress") && !name.ends_with(".tmp"),
                "{t}: left {name}"
            );
        }
        total += rows[t].len();
    }
    assert_eq!(m["rows"].as_u64(), Some(total as u64));
    rows
}

/// Every record fetched each resource exactly once, and the cursor was
/// walked once: `first`, one `next` per record (the last answers 404), no
/// token re-minted for a single record.
fn check_one_walk(proxy: &CountingProxy, ids: &[String], resources: &[&str]) {
    let seen = proxy.requests();
    eprintln!("proxy saw {} requests", seen.len());
    let cursor = cursor_requests(&seen);
    assert_eq!(
        cursor.len(),
        ids.len() + 1,
        "cursor calls: one per record plus the final 404"
    );
    assert_eq!(
        cursor
            .iter()
            .filter(|r| r.ends_with("/tokens/records/first"))
            .count(),
        1,
        "the cursor was started more than once"
    );
    assert!(
        cursor
            .iter()
            .all(|r| r.ends_with("/first") || r.ends_with("/next")),
        "a token was minted outside the cursor walk: {cursor:?}"
    );
    let data = data_requests(&seen);
    for id in ids {
        for r in resources {
            assert_eq!(
                data.get(&(id.clone(), (*r).to_owned())),
                Some(&1),
                "{id}/{r} fetched other than once"
            );
        }
    }
    assert_eq!(
        data.len(),
        ids.len() * resources.len(),
        "a resource no table asks for was fetched"
    );
}

#[test]
fn each_table_of_one_walk_equals_that_table_run_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(RECORDS, 5);
    let ids = smartsweep::sandbox::record_ids(&cfg);
    let sb = Sandbox::start(cfg);
    let proxy = CountingProxy::start(&sb.api_base);
    let tables = table_names();
    assert_eq!(tables.len(), 9, "{tables:?}");

    let out = tmp.path().join("population");
    let o = run(POPULATION, &proxy.api_base, &out, &["--part-records", "70"]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let multi = check_layout(&out, &tables, RECORDS);
    let resources: Vec<String> = population_tables()
        .iter()
        .map(|t| t["resource"].as_str().unwrap().to_owned())
        .collect();
    let resources: Vec<&str> = resources.iter().map(String::as_str).collect();
    check_one_walk(&proxy, &ids, &resources);
    // The client's own account agrees with the proxy.
    let m = manifest(&out);
    let count = |class: &str| -> u64 {
        m["http"]["latency"][class]["counts"]
            .as_array()
            .map_or(0, |c| c.iter().map(|v| v.as_u64().unwrap()).sum())
    };
    assert_eq!(count("data"), RECORDS * 9);
    assert_eq!(count("cursor"), RECORDS + 1);
    assert_eq!(count("token"), 0);

    // Each table alone, as a single-table pipeline cut from the file.
    for t in &tables {
        let file = write_single_table(&population_table(t), &tmp.path().join("single"));
        let alone = tmp.path().join("alone").join(t);
        let o = run(file.to_str().unwrap(), &sb.api_base, &alone, &[]);
        assert_eq!(code(&o), 0, "{t}: {}", text(&o));
        let want = sorted_rows(&alone);
        assert!(!want.is_empty(), "{t}: no row at all proves nothing");
        assert_eq!(multi[t], want, "table `{t}` differs from its run alone");
        let s = &manifest(&alone);
        let ms = &m["tables"][t];
        assert_eq!(ms["records_with_rows"], s["tables"][t]["records_with_rows"]);
        assert_eq!(ms["conversions"], s["conversions"], "{t}: conversions");
    }
    sb.stop();
}

#[test]
fn two_tables_over_medications_share_one_fetch_per_record() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = config(120, 6);
    let ids = smartsweep::sandbox::record_ids(&cfg);
    let sb = Sandbox::start(cfg);
    let proxy = CountingProxy::start(&sb.api_base);
    let codes = table(
        "drug_codes",
        "medications",
        "PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX sp: <http://smartplatforms.org/terms#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?rxnorm ?drug_name WHERE {
  ?m rdf:type sp:Medication ; sp:drugName ?dn .
  ?dn dcterms:title ?drug_name ; sp:code/dcterms:identifier ?rxnorm .
}",
    );
    let file = write_multi_table(
        "two_over_meds",
        vec![population_table("medications"), codes],
        tmp.path(),
    );
    let out = tmp.path().join("two");
    let o = run(file.to_str().unwrap(), &proxy.api_base, &out, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let names = ["medications".to_owned(), "drug_codes".to_owned()];
    let got = check_layout(&out, &names, 120);
    check_one_walk(&proxy, &ids, &["medications"]);

    // medications equals the table run alone; drug_codes is its projection.
    let alone = tmp.path().join("alone");
    let single = write_single_table(&population_table("medications"), tmp.path());
    let o = run(single.to_str().unwrap(), &sb.api_base, &alone, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    assert_eq!(got["medications"], sorted_rows(&alone));
    assert!(got["drug_codes"].len() > 100, "{}", got["drug_codes"].len());
    assert_eq!(
        got["drug_codes"],
        projected_rows(&alone, &["record_id", "rxnorm", "drug_name"])
    );
    sb.stop();
}

// ---------------------------------------------------------------------------
// kill -9 and resume

/// Any table directory holds a committed part.
fn committed_something(out: &Path, tables: &[String]) -> bool {
    tables
        .iter()
        .any(|t| out.join(t).is_dir() && !parts(&out.join(t), "parquet").is_empty())
}

#[test]
fn kill_9_during_a_population_run_then_resume_gives_every_table_exactly_once() {
    let tmp = tempfile::tempdir().unwrap();
    let mut cfg = config(160, 12);
    cfg.data_latency = Duration::from_millis(3);
    cfg.cursor_latency = Duration::from_millis(2);
    let sb = Sandbox::start(cfg);
    let tables = table_names();
    let args = ["--part-records", "9", "--concurrency", "8"];

    let clean = tmp.path().join("clean");
    let (o, whole) = timed(|| run(POPULATION, &sb.api_base, &clean, &args));
    assert_eq!(code(&o), 0, "{}", text(&o));
    let expected = check_layout(&clean, &tables, 160);

    let out = tmp.path().join("killed");
    let mut mid_flight = 0u32;
    let kills = kill_until_done(
        || run_cmd(POPULATION, &sb.api_base, &out, &args),
        whole,
        1111,
        |_| {
            if committed_something(&out, &tables) && !out.join("_SUCCESS").exists() {
                mid_flight += 1;
            }
        },
    );
    assert!(kills >= 2, "only {kills} kills: nothing was interrupted");
    assert!(
        mid_flight >= 1,
        "no kill landed after a part was committed ({kills} kills)"
    );
    eprintln!("{kills} kills, {mid_flight} after a commit");
    let got = check_layout(&out, &tables, 160);
    for t in &tables {
        assert_eq!(got[t], expected[t], "table `{t}` after {kills} kills");
    }
    let (m, c) = (manifest(&out), manifest(&clean));
    assert_eq!(m["resumed"], true);
    for t in &tables {
        // Conversion counts (bare-year dates, range lab values) once too.
        assert_eq!(
            m["tables"][t]["conversions"], c["tables"][t]["conversions"],
            "{t}"
        );
        assert_eq!(
            m["tables"][t]["records_with_rows"],
            c["tables"][t]["records_with_rows"]
        );
    }
    sb.stop();
}

/// `_errors.csv` has one line, for (victim, lab_results), and the manifest
/// counts the failure for lab_results alone.
fn failure_is_listed_for_lab_results_only(
    out: &std::path::Path,
    victim: &str,
    tables: &[String],
    got: &std::collections::BTreeMap<String, Vec<String>>,
) {
    // _errors.csv: one line, for (victim, lab_results).
    let errors = std::fs::read_to_string(out.join("_errors.csv")).unwrap();
    let lines: Vec<&str> = errors.lines().collect();
    assert_eq!(
        lines[0],
        "record_id,table,stage,http_status,attempts,message"
    );
    assert_eq!(lines.len(), 2, "{errors}");
    assert!(
        lines[1].starts_with(&format!("{victim},lab_results,")),
        "{errors}"
    );
    // The manifest counts it for lab_results alone.
    let m = manifest(out);
    assert_eq!(m["status"], "complete_with_failures");
    assert_eq!(m["records"], 60);
    assert_eq!(m["failed"], 1);
    assert_eq!(m["failures"][0]["record_id"], victim);
    assert_eq!(m["failures"][0]["table"], "lab_results");
    for t in tables {
        let failed = u64::from(t == "lab_results");
        assert_eq!(m["tables"][t]["failed"].as_u64(), Some(failed), "{t}");
        assert_eq!(
            m["tables"][t]["rows"].as_u64(),
            Some(got[t].len() as u64),
            "{t}"
        );
    }
}

/// Runs the recall audit for `rxnorm` into `out`: it exits `want` and its
/// coverage line starts with `coverage`.
fn assert_audit(rxnorm: &str, api_base: &str, out: &Path, want: i32, coverage: &str) {
    let o = audit(rxnorm, api_base, out);
    assert_eq!(code(&o), want, "{}", text(&o));
    let a = &manifest(out)["audit"];
    assert!(a["coverage"].as_str().unwrap().starts_with(coverage), "{a}");
}

// ---------------------------------------------------------------------------
// One table of one record fails

#[test]
fn a_broken_labs_answer_fails_that_table_only_and_says_so() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("records");
    let ids = dump_population(config(60, 9), &dir);
    let tables = table_names();

    let sb = Sandbox::start(from_dir(&dir));
    let clean = tmp.path().join("clean");
    let o = run(POPULATION, &sb.api_base, &clean, &[]);
    assert_eq!(code(&o), 0, "{}", text(&o));
    let expected = check_layout(&clean, &tables, 60);
    sb.stop();

    // A record with labs and with rows in at least 5 other tables.
    let has = |t: &str, id: &str| {
        expected[t]
            .iter()
            .any(|r| r.starts_with(&format!("{id}\t")))
    };
    let victim = ids
        .iter()
        .find(|id| has("lab_results", id) && tables.iter().filter(|t| has(t, id)).count() >= 6)
        .expect("a record with labs and much else")
        .clone();
    std::fs::write(
        dir.join("lab_results").join(format!("{victim}.rdf")),
        "<?xml version=\"1.0\"?>\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"><rdf:Description",
    )
    .unwrap();

    let sb = Sandbox::start(from_dir(&dir));
    let out = tmp.path().join("broken");
    let o = run(POPULATION, &sb.api_base, &out, &[]);
    assert_eq!(code(&o), 3, "records with failures exit 3: {}", text(&o));
    let stdout = String::from_utf8_lossy(&o.stdout);
    for t in &tables {
        let failed = if t == "lab_results" { 1 } else { 0 };
        assert!(
            stdout.contains(&format!("table `{t}`")) && {
                let line = stdout
                    .lines()
                    .find(|l| l.contains(&format!("table `{t}`")))
                    .unwrap();
                line.ends_with(&format!(", {failed} failed"))
            },
            "{t}: {stdout}"
        );
    }
    let got = every_table(&out, &tables);
    for t in &tables {
        if t == "lab_results" {
            let want: Vec<String> = expected[t]
                .iter()
                .filter(|r| !r.starts_with(&format!("{victim}\t")))
                .cloned()
                .collect();
            assert!(want.len() < expected[t].len());
            assert_eq!(got[t], want, "lab_results: every other record's rows");
        } else {
            assert_eq!(got[t], expected[t], "`{t}` lost rows of {victim}");
        }
    }

    failure_is_listed_for_lab_results_only(&out, &victim, &tables, &got);

    // The recall audit reads medications only: a labs failure leaves its
    // coverage complete; a broken medications answer makes it INCOMPLETE.
    let rxnorm = expected["medications"][0].split('\t').nth(1).unwrap();
    let audited = tmp.path().join("audit");
    assert_audit(rxnorm, &sb.api_base, &audited, 0, "complete");
    sb.stop();
    std::fs::write(
        dir.join("medications").join(format!("{victim}.rdf")),
        "<rdf:RDF",
    )
    .unwrap();
    let sb = Sandbox::start(from_dir(&dir));
    let audited = tmp.path().join("audit2");
    assert_audit(rxnorm, &sb.api_base, &audited, 3, "INCOMPLETE: 1 record");
    sb.stop();
}
