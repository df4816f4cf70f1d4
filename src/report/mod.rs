//! `_report.html`: a run report people look at.
//!
//! One self-contained file: inline CSS and inline SVG charts, no script, no
//! font, no image, and a Content-Security-Policy that forbids every load,
//! so it opens offline in any browser and asks nothing of the network.
//!
//! It renders from a finished run's [`Manifest`] ([`render_manifest`]) or
//! from an unfinished run's [`Checkpoint`] ([`render_checkpoint`]: marked
//! unfinished; with whatever the engine still has in memory as [`Extras`]).
//! Both become one [`View`](view::View), which the [`sections`] draw.
//!
//! It holds nothing beyond what `_manifest.json` and `_errors.csv` already
//! hold (counts, timings, record ids, the example values of conversion
//! problems, failure messages), no credential, and the container's URL
//! without user, password or query. Every string from the data is escaped
//! ([`html::esc`]).

pub mod html;
mod sections;
pub mod svg;
mod view;

use crate::checkpoint::{Checkpoint, Sample};
use crate::load::manifest::{HttpSummary, Manifest, PipelineInfo, SlowRecord, StageBusy};
use svg::Step;

/// How an unfinished run stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unfinished {
    /// A run holds the output right now.
    Running,
    /// Stopped by a signal; re-running the command resumes it.
    Interrupted,
    /// Stopped by an error (its message); re-running resumes it.
    Aborted(String),
    /// No run holds it: it was interrupted or aborted.
    Stopped,
    /// Not known whether a run holds it (an object store).
    Unknown,
}

impl Unfinished {
    /// A short phrase: `running`, `interrupted`, ...
    pub fn phrase(&self) -> &'static str {
        match self {
            Unfinished::Running => "running",
            Unfinished::Interrupted => "interrupted",
            Unfinished::Aborted(_) => "aborted",
            Unfinished::Stopped => "stopped (interrupted or aborted)",
            Unfinished::Unknown => "unfinished",
        }
    }
}

/// What an unfinished run's report can show beyond its checkpoint: the
/// engine still has these in memory when it stops; `smartsweep report` on
/// an unfinished output has none of them.
#[derive(Debug, Clone, Default)]
pub struct Extras {
    /// The pipeline that ran.
    pub pipeline: Option<PipelineInfo>,
    /// The container's URL.
    pub api_base: Option<String>,
    /// Fetches in flight at most.
    pub concurrency: Option<usize>,
    /// What the HTTP client did (this invocation).
    pub http: Option<HttpSummary>,
    /// Busy time per stage (this invocation).
    pub stage_busy_seconds: Option<StageBusy>,
    /// The slowest records (this invocation).
    pub slowest_records: Vec<SlowRecord>,
}

impl From<&Manifest> for Extras {
    /// The in-memory part of a manifest the engine built for a run that
    /// stopped before finishing.
    fn from(m: &Manifest) -> Extras {
        Extras {
            pipeline: Some(m.pipeline.clone()),
            api_base: Some(m.api_base.clone()),
            concurrency: Some(m.concurrency),
            http: Some(m.http.clone()),
            stage_busy_seconds: Some(m.stage_busy_seconds),
            slowest_records: m.slowest_records.clone(),
        }
    }
}

/// The report of a finished run.
pub fn render_manifest(m: &Manifest) -> String {
    sections::page(&view::View::finished(m))
}

/// The report of an unfinished run (running, interrupted or aborted), from
/// its checkpoint and whatever `extras` the caller has.
pub fn render_checkpoint(cp: &Checkpoint, state: &Unfinished, extras: &Extras) -> String {
    sections::page(&view::View::unfinished(cp, state, extras))
}

/// Rates over a run's timeline: records/s and rows/s per interval between
/// samples (the run's start, with nothing done, is the first point).
/// Samples closer than a 60th of the run to the one before are merged into
/// the next interval, so that two commits a millisecond apart do not draw
/// a spike.
pub fn rate_steps(timeline: &[Sample]) -> (Vec<Step>, Vec<Step>) {
    let Some(last) = timeline.last() else {
        return (Vec::new(), Vec::new());
    };
    let min_dt = last.t / 60.0;
    let mut points = vec![Sample::default()];
    for (i, s) in timeline.iter().enumerate() {
        let prev = points.last().copied().unwrap_or_default();
        if s.records < prev.records || s.t < prev.t {
            continue;
        }
        if s.t - prev.t >= min_dt && s.t > prev.t {
            points.push(*s);
        } else if i + 1 == timeline.len() && points.len() > 1 {
            // The last sample replaces a kept one that is too close to it.
            points.pop();
            points.push(*s);
        }
    }
    let step = |a: &Sample, b: &Sample, v: f64| Step {
        t0: a.t,
        t1: b.t,
        v: v / (b.t - a.t),
    };
    points
        .windows(2)
        .filter(|w| w[1].t > w[0].t)
        .map(|w| {
            (
                step(&w[0], &w[1], (w[1].records - w[0].records) as f64),
                step(&w[0], &w[1], w[1].rows.saturating_sub(w[0].rows) as f64),
            )
        })
        .unzip()
}

/// Records per second over the last `n` intervals of `timeline` (`None`
/// with fewer than two samples).
pub fn recent_rate(timeline: &[Sample], n: usize) -> Option<f64> {
    let last = timeline.last()?;
    let from = timeline.get(timeline.len().saturating_sub(n + 1))?;
    let dt = last.t - from.t;
    (dt > 0.0 && timeline.len() >= 2).then(|| last.records.saturating_sub(from.records) as f64 / dt)
}

#[cfg(test)]
pub(crate) mod tests;
