//! `smartsweep status OUTPUT`: what a run has committed so far, every
//! chain's watermark, the failures so far and the rate, from the
//! checkpoint (or the manifest of a finished run). Never writes.

use super::verify::{held, open_output, read};
use super::{CliError, exit};
use crate::checkpoint::Sample;
use crate::cli::StatusArgs;
use crate::failure::RecordFailure;
use crate::load::manifest::RunStatus;
use crate::load::verify::State;
use crate::record::RecordId;
use crate::report::html::{bytes, duration, int, num};
use crate::report::recent_rate;
use serde::Serialize;
use std::collections::BTreeMap;

/// How many failures status lists.
const FIRST_FAILURES: usize = 5;
/// Intervals of the timeline the recent rate spans.
const RECENT: usize = 5;

/// What `status --json` prints.
#[derive(Debug, Serialize)]
struct Status {
    output: String,
    /// `finished`, `running`, `stopped` (unfinished, no run holds it) or
    /// `unfinished` (not known whether a run holds it).
    state: &'static str,
    /// A finished run's status (`complete`, `complete_with_failures`).
    #[serde(skip_serializing_if = "Option::is_none")]
    status: Option<RunStatus>,
    /// Whether a run holds the output now (`null`: cannot tell).
    held: Option<bool>,
    run_id: String,
    started_at: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    finished_at: Option<String>,
    elapsed_s: f64,
    records: u64,
    rows: u64,
    parts: usize,
    bytes: u64,
    tables: BTreeMap<String, TableStatus>,
    chains: Vec<ChainStatus>,
    failed: usize,
    failures: Vec<RecordFailure>,
    rate: Rate,
}

#[derive(Debug, Serialize)]
struct TableStatus {
    rows: u64,
    records_with_rows: u64,
    parts: usize,
    bytes: u64,
}

#[derive(Debug, Serialize)]
struct ChainStatus {
    start: Option<RecordId>,
    /// The last record whose rows are all committed (unfinished runs).
    watermark: Option<RecordId>,
    records: u64,
    finished: bool,
}

#[derive(Debug, Serialize)]
struct Rate {
    records_per_s: f64,
    rows_per_s: f64,
    /// Over the last samples of the timeline (`null`: fewer than two).
    recent_records_per_s: Option<f64>,
}

fn rate(records: u64, rows: u64, elapsed: f64, timeline: &[Sample]) -> Rate {
    let e = elapsed.max(1e-9);
    Rate {
        records_per_s: records as f64 / e,
        rows_per_s: rows as f64 / e,
        recent_records_per_s: recent_rate(timeline, RECENT),
    }
}

fn from_state(output: String, state: &State, held: Option<bool>) -> Status {
    match state {
        State::Finished(m) => Status {
            output,
            state: "finished",
            status: Some(m.status),
            held,
            run_id: m.run_id.clone(),
            started_at: m.started_at.clone(),
            finished_at: Some(m.finished_at.clone()),
            elapsed_s: m.elapsed_s,
            records: m.records,
            rows: m.rows,
            parts: m.parts.len(),
            bytes: m.parts.iter().map(|p| p.bytes).sum(),
            tables: m
                .tables
                .iter()
                .map(|(n, t)| {
                    (
                        n.clone(),
                        table_status(t.rows, t.records_with_rows, &t.parts),
                    )
                })
                .collect(),
            chains: m
                .chains
                .iter()
                .map(|c| ChainStatus {
                    start: c.start.clone(),
                    watermark: None,
                    records: c.records,
                    finished: true,
                })
                .collect(),
            failed: m.failures.len(),
            failures: m.failures.iter().take(FIRST_FAILURES).cloned().collect(),
            rate: rate(m.records, m.rows, m.elapsed_s, &m.timeline),
        },
        State::Unfinished(cp) => Status {
            output,
            state: match held {
                Some(true) => "running",
                Some(false) => "stopped",
                None => "unfinished",
            },
            status: None,
            held,
            run_id: cp.run_id.clone(),
            started_at: cp.started_at.clone(),
            finished_at: None,
            elapsed_s: cp.elapsed_s,
            records: cp.records,
            rows: cp.rows(),
            parts: cp.parts().count(),
            bytes: cp.parts().map(|p| p.bytes).sum(),
            tables: cp
                .tables
                .iter()
                .map(|(n, t)| {
                    (
                        n.clone(),
                        table_status(t.rows, t.records_with_rows, &t.parts),
                    )
                })
                .collect(),
            chains: cp
                .chains
                .iter()
                .map(|c| ChainStatus {
                    start: c.start.clone(),
                    watermark: c.watermark.clone(),
                    records: c.position,
                    finished: c.finished,
                })
                .collect(),
            failed: cp.failures.len(),
            failures: cp.failures.iter().take(FIRST_FAILURES).cloned().collect(),
            rate: rate(cp.records, cp.rows(), cp.elapsed_s, &cp.timeline),
        },
    }
}

fn state_line(s: &Status) -> String {
    match (s.state, s.status) {
        ("finished", Some(RunStatus::Complete)) => "finished, complete".into(),
        ("finished", _) => "finished, with failures".into(),
        ("running", _) => "unfinished: a run holds it right now".into(),
        ("stopped", _) => {
            "unfinished: no run holds it (interrupted or aborted; re-run the same command to resume)"
                .into()
        }
        _ => "unfinished".into(),
    }
}

fn print_text(s: &Status) {
    println!("smartsweep status: `{}`: {}", s.output, state_line(s));
    println!(
        "  run {} started {}; {} of running",
        s.run_id,
        s.started_at,
        duration(s.elapsed_s)
    );
    println!(
        "  committed: {} records, {} rows in {} part(s) ({})",
        int(s.records),
        int(s.rows),
        int(s.parts as u64),
        bytes(s.bytes)
    );
    for (name, t) in &s.tables {
        println!(
            "  table {}: {} rows from {} records, {} part(s)",
            crate::text::escape_control(name),
            int(t.rows),
            int(t.records_with_rows),
            t.parts
        );
    }
    for (i, c) in s.chains.iter().enumerate() {
        let start = c
            .start
            .as_ref()
            .map_or("first".into(), |r| format!("`{r}`"));
        let mark = match &c.watermark {
            Some(w) => format!(", watermark `{w}`"),
            None if s.state == "finished" => String::new(),
            None => ", no watermark yet".into(),
        };
        let end = if c.finished {
            "walked to its end"
        } else {
            "walking"
        };
        println!(
            "  chain {i}: from {start}{mark}, {} records, {end}",
            int(c.records)
        );
    }
    let first = if s.failures.len() < s.failed {
        format!(" (the first {})", s.failures.len())
    } else {
        String::new()
    };
    println!("  failures so far: {}{first}", int(s.failed as u64));
    for f in &s.failures {
        println!(
            "    {}",
            crate::text::excerpt(f.to_string().as_bytes(), None)
        );
    }
    let recent = s.rate.recent_records_per_s.map_or_else(String::new, |r| {
        format!("; {} records/s over the last samples", num(r))
    });
    println!(
        "  rate: {} records/s, {} rows/s over the run{recent}",
        num(s.rate.records_per_s),
        num(s.rate.rows_per_s)
    );
}

pub(super) fn status(a: StatusArgs) -> Result<u8, CliError> {
    let o = open_output(
        &a.output,
        &super::storage_options(&a.storage.storage_options)?,
    )?;
    if let Some(code) = super::shards::status(o.store.as_ref(), &o.location, a.json)? {
        return Ok(code);
    }
    let (_, state) = read(&o)?;
    let s = from_state(o.location.to_string(), &state, held(&o.location));
    if a.json {
        let text = serde_json::to_string(&s)
            .map_err(|e| super::aborted(format!("cannot encode the status: {e}")))?;
        println!("{text}");
    } else {
        print_text(&s);
    }
    Ok(exit::OK)
}

/// A table's line of the status: its rows and committed parts.
fn table_status(
    rows: u64,
    records_with_rows: u64,
    parts: &[crate::load::CommittedPart],
) -> TableStatus {
    TableStatus {
        rows,
        records_with_rows,
        parts: parts.len(),
        bytes: parts.iter().map(|p| p.bytes).sum(),
    }
}
