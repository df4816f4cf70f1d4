//! What the engine measures for the manifest and the report: busy time per
//! stage and the slowest records.

use crate::load::manifest::{SlowRecord, StageBusy};
use crate::record::RecordId;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Nanoseconds spent per stage, summed over records.
#[derive(Debug, Default)]
pub(crate) struct StageTimes {
    pub fetch_ns: AtomicU64,
    pub transform_ns: AtomicU64,
    pub write_ns: AtomicU64,
}

impl StageTimes {
    /// Adds the time since `since` to `counter`.
    pub(crate) fn add(counter: &AtomicU64, since: Instant) {
        let ns = u64::try_from(since.elapsed().as_nanos()).unwrap_or(u64::MAX);
        counter.fetch_add(ns, Ordering::Relaxed);
    }

    /// As seconds, for the manifest.
    pub(crate) fn busy(&self) -> StageBusy {
        let s = |c: &AtomicU64| c.load(Ordering::Relaxed) as f64 / 1e9;
        StageBusy {
            fetch: s(&self.fetch_ns),
            transform: s(&self.transform_ns),
            write: s(&self.write_ns),
        }
    }
}

/// How many of the slowest records the manifest keeps.
pub(crate) const SLOWEST: usize = 10;

/// The [`SLOWEST`] slowest records seen, slowest first.
#[derive(Debug, Default)]
pub(crate) struct Slowest(Vec<SlowRecord>);

impl Slowest {
    /// Considers one record.
    pub(crate) fn add(&mut self, id: &RecordId, elapsed: Duration) {
        let ms = elapsed.as_secs_f64() * 1e3;
        if self.0.len() == SLOWEST && self.0.last().is_some_and(|s| s.ms >= ms) {
            return;
        }
        let at = self.0.partition_point(|s| s.ms >= ms);
        self.0.insert(
            at,
            SlowRecord {
                record_id: id.clone(),
                ms,
            },
        );
        self.0.truncate(SLOWEST);
    }

    /// Slowest first.
    pub(crate) fn list(&self) -> Vec<SlowRecord> {
        self.0.clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_the_slowest_in_order() {
        let mut s = Slowest::default();
        for i in 0..100u64 {
            s.add(
                &RecordId::new(i.to_string()),
                Duration::from_millis((i * 37) % 101),
            );
        }
        let l = s.list();
        assert_eq!(l.len(), SLOWEST);
        assert!(l.windows(2).all(|w| w[0].ms >= w[1].ms));
        assert_eq!(l[0].ms.round() as u64, 100);
    }
}
