use super::*;
use crate::checkpoint::{CommittedPart, ConversionStat, Mode};
use crate::failure::{RecordFailure, Stage};
use crate::load::manifest::{
    AuditSummary, ChainSummary, Histogram, RunStatus, TableInfo, TableSummary,
};
use crate::record::RecordId;
use std::collections::BTreeMap;

const HOSTILE: &str = "<img src=x onerror=alert(1)>\u{1b}[2J";

fn part(file: &str, rows: u64) -> CommittedPart {
    CommittedPart {
        file: file.into(),
        rows,
        bytes: 1000 + rows,
        sha256: "ab".repeat(32),
        partition: Vec::new(),
    }
}

fn failure(id: &str, stage: Stage, status: Option<u16>) -> RecordFailure {
    RecordFailure {
        record_id: RecordId::new(id),
        table: None,
        stage,
        http_status: status,
        attempts: 5,
        message: format!("gave up {HOSTILE}"),
    }
}

fn histogram(counts: &[u64]) -> Histogram {
    let mut c = vec![0; 18];
    c[..counts.len()].copy_from_slice(counts);
    Histogram {
        bounds_ms: (0..17).map(|i| 1u64 << i).collect(),
        counts: c,
    }
}

fn tables_fixture() -> BTreeMap<String, TableSummary> {
    let mut conversions = BTreeMap::new();
    let mut stat = ConversionStat::default();
    stat.record("not-a-date");
    stat.record(HOSTILE);
    conversions.insert("start_date".to_owned(), stat);
    let mut tables = BTreeMap::new();
    tables.insert(
        "medications".to_owned(),
        TableSummary {
            dir: "medications".into(),
            rows: 30,
            records_with_rows: 9,
            failed: 0,
            parts: vec![part("medications/part-00000.parquet", 30)],
            conversions,
        },
    );
    tables.insert(
        "problems".to_owned(),
        TableSummary {
            dir: "problems".into(),
            rows: 12,
            records_with_rows: 4,
            failed: 1,
            parts: vec![part("problems/part-00000.parquet", 12)],
            conversions: BTreeMap::new(),
        },
    );
    tables
}

fn http_fixture() -> HttpSummary {
    let mut http = HttpSummary {
        requests: 120,
        retries: 7,
        token_remints: 1,
        ..HttpSummary::default()
    };
    http.retries_by_cause.insert("http_503".into(), 4);
    http.retries_by_cause.insert("truncated_body".into(), 3);
    http.latency
        .insert("cursor".into(), histogram(&[0, 3, 20, 5, 1]));
    http.latency
        .insert("data".into(), histogram(&[0, 0, 10, 40, 30, 2]));
    http
}

pub(crate) fn manifest() -> Manifest {
    let tables = tables_fixture();
    let http = http_fixture();
    Manifest {
        smartsweep_version: "0.1.0".into(),
        status: RunStatus::CompleteWithFailures,
        pipeline: PipelineInfo {
            name: "population".into(),
            file: "pipelines/population.toml".into(),
            hash: "h".into(),
            tables: vec![TableInfo {
                name: "medications".into(),
                dir: "medications".into(),
                resource: "medications".into(),
                sparql: "SELECT ?x\nWHERE { ?x ?p ?o }".into(),
                ..TableInfo::default()
            }],
            format: "parquet".into(),
            compression: "zstd".into(),
            ..PipelineInfo::default()
        },
        run_id: "run-1".into(),
        run_key: None,
        api_base: "https://user:pw@smart.example.org/api?token=SECRET".into(),
        app_id: "app@example.org".into(),
        mode: Mode::Cursor,
        started_at: "2026-12-04T10:00:00Z".into(),
        finished_at: "2026-12-04T10:01:00Z".into(),
        elapsed_s_this_invocation: 60.0,
        elapsed_s: 60.0,
        resumed: false,
        concurrency: 16,
        chains: vec![ChainSummary {
            start: None,
            stop: Vec::new(),
            records: 10,
        }],
        records: 10,
        rows: 42,
        failed: 2,
        failures: vec![
            failure(HOSTILE, Stage::Fetch, Some(503)),
            failure("r7", Stage::Transform, None),
        ],
        parts: vec![
            part("medications/part-00000.parquet", 30),
            part("problems/part-00000.parquet", 12),
        ],
        tables,
        conversions: BTreeMap::new(),
        stage_busy_seconds: StageBusy {
            fetch: 40.0,
            transform: 3.0,
            write: 0.5,
        },
        http,
        timeline: vec![
            Sample {
                t: 20.0,
                records: 3,
                rows: 10,
            },
            Sample {
                t: 40.0,
                records: 7,
                rows: 30,
            },
            Sample {
                t: 60.0,
                records: 10,
                rows: 42,
            },
        ],
        slowest_records: vec![SlowRecord {
            record_id: RecordId::new("r3"),
            ms: 812.5,
        }],
        seeds: Vec::new(),
        audit: Some(AuditSummary {
            codes: vec!["312938".into(), "309309".into()],
            matches: [("312938".to_owned(), 5u64)].into_iter().collect(),
            matched_records: 4,
            coverage: "INCOMPLETE: 2 record(s) could not be checked".into(),
        }),
    }
}

fn charts(html: &str) -> Vec<String> {
    html.split("data-chart=\"")
        .skip(1)
        .filter_map(|s| s.split('"').next().map(str::to_owned))
        .collect()
}

#[test]
fn a_finished_run_shows_every_section_with_a_chart_each() {
    let html = render_manifest(&manifest());
    assert!(html.starts_with("<!DOCTYPE html>"));
    assert_eq!(
        charts(&html),
        [
            "rate-records",
            "rate-rows",
            "stages",
            "latency-cursor",
            "latency-data",
            "retries",
            "failures",
            "slowest",
            "conversions",
            "tables",
            "audit"
        ]
    );
    assert!(
        html.contains("No token request in this run."),
        "empty endpoint"
    );
    assert!(html.contains("complete with failures"));
    assert!(html.contains("INCOMPLETE: 2 record(s)"));
    assert!(
        html.contains("RxNorm 309309"),
        "codes without a match are listed"
    );
}

#[test]
fn data_strings_are_escaped_and_credentials_left_out() {
    let html = render_manifest(&manifest());
    assert!(!html.contains("<img"), "markup from the data got through");
    assert!(html.contains("&lt;img src=x onerror=alert(1)&gt;"));
    assert!(!html.contains('\u{1b}'), "a control character got through");
    assert!(!html.contains("SECRET") && !html.contains("pw@"), "{html}");
    assert!(html.contains("https://smart.example.org/api"));
}

#[test]
fn the_page_loads_nothing_and_runs_nothing() {
    let html = render_manifest(&manifest());
    let lower = html.to_lowercase();
    for banned in [
        "<script", "<iframe", "<object", "<embed", "<img", "@import", "url(", "src=\"", "http://",
    ] {
        assert!(!lower.contains(banned), "found `{banned}`");
    }
    assert_eq!(lower.matches("href=").count(), 1);
    assert!(lower.contains("<link rel=\"icon\" href=\"data:,\">"));
    let https: Vec<&str> = lower.matches("https://").collect();
    assert_eq!(https.len(), 1, "only the container's URL, as text");
    assert!(
        html.contains("default-src 'none'"),
        "a CSP that forbids every load"
    );
}

#[test]
fn an_unfinished_run_is_marked_and_shows_what_the_checkpoint_has() {
    let m = manifest();
    let mut cp = Checkpoint::new("h", "run-1", Mode::Cursor, "2026-12-04T10:00:00Z");
    cp.table_mut("medications")
        .merge(&crate::checkpoint::TableState {
            parts: vec![part("part-00000.parquet", 30)],
            rows: 30,
            records_with_rows: 9,
            conversions: BTreeMap::new(),
        });
    for i in 0..7 {
        cp.mark_done(0, &RecordId::new(format!("r{i}")));
    }
    cp.failures = m.failures.clone();
    cp.timeline = m.timeline[..2].to_vec();
    cp.elapsed_s = 40.0;
    let html = render_checkpoint(&cp, &Unfinished::Stopped, &Extras::default());
    assert!(html.contains("Unfinished."), "not marked unfinished");
    assert!(html.contains("stopped (interrupted or aborted)"));
    assert!(html.contains("Kept in memory until the run finishes."));
    assert!(html.contains("<code>r6</code>"), "the watermark is shown");
    assert_eq!(charts(&html), ["rate-records", "rate-rows", "failures"]);

    let aborted = Unfinished::Aborted(format!("disk full {HOSTILE}"));
    let html = render_checkpoint(&cp, &aborted, &Extras::from(&m));
    assert!(html.contains("unfinished: aborted") && html.contains("disk full &lt;img"));
    assert!(charts(&html).contains(&"latency-data".to_owned()));
}

#[test]
fn rates_come_from_the_timeline_and_skip_bad_intervals() {
    let t = [
        Sample {
            t: 10.0,
            records: 100,
            rows: 1000,
        },
        Sample {
            t: 10.0,
            records: 120,
            rows: 1100,
        },
        Sample {
            t: 20.0,
            records: 320,
            rows: 2100,
        },
    ];
    let (rec, rows) = rate_steps(&t);
    assert_eq!(rec.len(), 2);
    assert_eq!((rec[0].t0, rec[0].t1, rec[0].v), (0.0, 10.0, 10.0));
    assert_eq!((rec[1].t0, rec[1].t1, rec[1].v), (10.0, 20.0, 22.0));
    assert_eq!(rows[1].v, 110.0);
    // Two commits a moment apart at the end: merged, no spike.
    let end = [
        Sample {
            t: 30.0,
            records: 300,
            rows: 0,
        },
        Sample {
            t: 60.0,
            records: 600,
            rows: 0,
        },
        Sample {
            t: 60.01,
            records: 620,
            rows: 0,
        },
    ];
    let (rec, _) = rate_steps(&end);
    assert_eq!(rec.len(), 2);
    assert_eq!((rec[1].t0, rec[1].t1), (30.0, 60.01));
    assert!(rec.iter().all(|s| s.v < 11.0), "{rec:?}");
    assert_eq!(recent_rate(&t, 1), Some(20.0));
    assert_eq!(recent_rate(&t[..1], 3), None);
    assert!(rate_steps(&[]).0.is_empty());
}
