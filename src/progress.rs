//! Progress reporting, kept out of the engine's logic.
//!
//! The engine updates a [`Counters`] (atomics, cheap to touch per record); a
//! ticker calls a [`Reporter`] with a [`Snapshot`] now and then. On a terminal
//! the reporter is an indicatif bar; without one it is a log line every 10 s,
//! so a scheduler's log shows the run moving.

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::io::IsTerminal;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Live counters of a run, shared between the stages.
#[derive(Debug, Default)]
pub struct Counters {
    /// Records whose rows reached the sink (failed ones included).
    pub records: AtomicU64,
    /// Rows written.
    pub rows: AtomicU64,
    /// Records that failed.
    pub failed: AtomicU64,
    /// HTTP retries so far.
    pub retries: AtomicU64,
    /// Parts committed.
    pub parts: AtomicU64,
}

/// One look at the counters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Snapshot {
    /// Records done.
    pub records: u64,
    /// Rows written.
    pub rows: u64,
    /// Records failed.
    pub failed: u64,
    /// HTTP retries.
    pub retries: u64,
    /// Parts committed.
    pub parts: u64,
    /// Total records, when known (`--records-from`, or the previous run).
    pub total: Option<u64>,
}

impl Counters {
    /// Read every counter.
    pub fn snapshot(&self, total: Option<u64>) -> Snapshot {
        Snapshot {
            records: self.records.load(Ordering::Relaxed),
            rows: self.rows.load(Ordering::Relaxed),
            failed: self.failed.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            parts: self.parts.load(Ordering::Relaxed),
            total,
        }
    }
}

/// Something that shows a run's progress.
pub trait Reporter: Send + Sync {
    /// Called about every 200 ms while the run goes on.
    fn tick(&self, s: &Snapshot, elapsed: Duration);
    /// Called once when the run ends.
    fn done(&self, s: &Snapshot, elapsed: Duration);
}

/// Reports nothing (`--quiet`, and the tests).
pub struct Silent;

impl Reporter for Silent {
    fn tick(&self, _: &Snapshot, _: Duration) {}
    fn done(&self, _: &Snapshot, _: Duration) {}
}

fn rate(n: u64, elapsed: Duration) -> f64 {
    let s = elapsed.as_secs_f64();
    if s > 0.0 { n as f64 / s } else { 0.0 }
}

fn eta(s: &Snapshot, elapsed: Duration) -> Option<Duration> {
    let total = s.total?;
    let r = rate(s.records, elapsed);
    if r <= 0.0 || s.records >= total {
        return None;
    }
    Some(Duration::from_secs_f64((total - s.records) as f64 / r))
}

/// One line describing a snapshot, shared by the log reporter and the final
/// summary.
pub fn describe(s: &Snapshot, elapsed: Duration) -> String {
    let mut line = match s.total {
        Some(t) => format!("{}/{} records", s.records, t),
        None => format!("{} records", s.records),
    };
    line.push_str(&format!(
        ", {} rows, {} failed, {} retries, {} parts, {:.0} records/s",
        s.rows,
        s.failed,
        s.retries,
        s.parts,
        rate(s.records, elapsed)
    ));
    if let Some(e) = eta(s, elapsed) {
        line.push_str(&format!(", ETA {}s", e.as_secs()));
    }
    line
}

/// A log line every `every` (10 s by default) through `tracing`.
pub struct LogLines {
    every: Duration,
    last: Mutex<Instant>,
}

impl LogLines {
    /// A reporter that logs at most once per `every`.
    pub fn new(every: Duration) -> Self {
        LogLines {
            every,
            last: Mutex::new(Instant::now()),
        }
    }
}

impl Reporter for LogLines {
    fn tick(&self, s: &Snapshot, elapsed: Duration) {
        let Ok(mut last) = self.last.lock() else {
            return;
        };
        if last.elapsed() >= self.every {
            *last = Instant::now();
            tracing::info!("progress: {}", describe(s, elapsed));
        }
    }
    fn done(&self, _: &Snapshot, _: Duration) {}
}

/// An indicatif bar on stderr.
pub struct Bar {
    bar: ProgressBar,
}

impl Bar {
    /// A bar (with a known length when `total` is known, a spinner otherwise).
    pub fn new(total: Option<u64>) -> Self {
        let bar = match total {
            Some(t) => ProgressBar::new(t),
            None => ProgressBar::new_spinner(),
        };
        bar.set_draw_target(ProgressDrawTarget::stderr_with_hz(5));
        let template = if total.is_some() {
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} records ({per_sec}, ETA {eta}) {msg}"
        } else {
            "{spinner} [{elapsed_precise}] {pos} records ({per_sec}) {msg}"
        };
        if let Ok(style) = ProgressStyle::with_template(template) {
            bar.set_style(style);
        }
        Bar { bar }
    }
}

impl Reporter for Bar {
    fn tick(&self, s: &Snapshot, _: Duration) {
        self.bar.set_position(s.records);
        self.bar.set_message(format!(
            "{} rows, {} failed, {} retries",
            s.rows, s.failed, s.retries
        ));
    }
    fn done(&self, s: &Snapshot, e: Duration) {
        self.tick(s, e);
        self.bar.finish_and_clear();
    }
}

/// The reporter a command should use: silent when `quiet`, a bar on a
/// terminal, log lines every 10 s otherwise.
pub fn for_terminal(quiet: bool, total: Option<u64>) -> Box<dyn Reporter> {
    if quiet {
        Box::new(Silent)
    } else if std::io::stderr().is_terminal() {
        Box::new(Bar::new(total))
    } else {
        Box::new(LogLines::new(Duration::from_secs(10)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn describe_includes_eta_only_with_total() {
        let s = Snapshot {
            records: 50,
            rows: 120,
            failed: 1,
            retries: 3,
            parts: 1,
            total: Some(100),
        };
        let line = describe(&s, Duration::from_secs(10));
        assert!(line.starts_with("50/100 records, 120 rows, 1 failed, 3 retries"));
        assert!(line.contains("ETA 10s"), "{line}");
        let line = describe(&Snapshot { total: None, ..s }, Duration::from_secs(10));
        assert!(!line.contains("ETA"));
    }
}
