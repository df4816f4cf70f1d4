//! The client's counters for the run report: requests, retries by cause,
//! re-mints, backoff, and a latency histogram per endpoint class.
//!
//! Every counter is a relaxed atomic updated in place (no lock, no
//! allocation per request); [`ClientStats`] is a plain copy read at any
//! time. Histograms have fixed log-scale buckets (powers of two from 1 ms to
//! 65.5 s, plus one for longer), the same for every class and every run, so
//! reports can be compared and merged bucket by bucket.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::ser::{SerializeMap, SerializeSeq};

/// Buckets of a [`LatencyHistogram`]: `< 1 ms`, `< 2 ms`, `< 4 ms`, ...,
/// `< 65536 ms`, and `>= 65536 ms`.
pub const LATENCY_BUCKETS: usize = 18;

/// Which kind of call a request belongs to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Endpoint {
    /// `GET /manifest` (counted in `requests` only).
    Manifest,
    /// The cursor: `first` and `next`.
    Cursor,
    /// A token for a known record.
    Mint,
    /// A record's data.
    Data,
}

/// Why an attempt is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum RetryCause {
    /// A transient HTTP status (429, 500, 502, 503, 504).
    Status(u16),
    /// The attempt's timeout passed.
    Timeout,
    /// No answer: connection refused or reset, TLS or protocol error.
    Connection,
    /// An answer whose body was cut short.
    Truncated,
}

/// Attempt latencies (from sending to the last body byte, failed attempts
/// included) in fixed log-scale buckets.
///
/// Serialized as `{"count": n, "sum_ms": s, "buckets": [{"le_ms": 1,
/// "count": c}, ..., {"le_ms": null, "count": c}]}`, where bucket `i` holds
/// the attempts shorter than `le_ms` and not counted in an earlier bucket
/// (`null`: everything longer than 65536 ms).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct LatencyHistogram {
    /// Attempts per bucket.
    pub counts: [u64; LATENCY_BUCKETS],
    /// Sum of all latencies, in microseconds.
    pub sum_us: u64,
}

impl LatencyHistogram {
    /// The bucket of a latency.
    pub fn bucket(latency: Duration) -> usize {
        let ms = u64::try_from(latency.as_millis()).unwrap_or(u64::MAX);
        // 0 ms -> 0; [2^(k-1), 2^k) ms -> k.
        let k = (u64::BITS - ms.leading_zeros()) as usize;
        k.min(LATENCY_BUCKETS - 1)
    }

    /// The exclusive upper bound of bucket `i` in milliseconds; `None` for
    /// the last, open bucket.
    pub fn upper_bound_ms(i: usize) -> Option<u64> {
        (i + 1 < LATENCY_BUCKETS).then(|| 1u64 << i)
    }

    /// Attempts recorded.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// The upper bound (ms) of the bucket that holds quantile `q` (0..=1):
    /// "`q` of the attempts took less than this". `None` when empty, or when
    /// the quantile falls in the open bucket.
    pub fn quantile_upper_ms(&self, q: f64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q.clamp(0.0, 1.0) * n as f64).ceil() as u64).max(1);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c;
            if seen >= rank {
                return Self::upper_bound_ms(i);
            }
        }
        None
    }
}

impl serde::Serialize for LatencyHistogram {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        #[derive(serde::Serialize)]
        struct Bucket {
            le_ms: Option<u64>,
            count: u64,
        }
        struct Buckets<'a>(&'a [u64; LATENCY_BUCKETS]);
        impl serde::Serialize for Buckets<'_> {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                let mut seq = s.serialize_seq(Some(LATENCY_BUCKETS))?;
                for (i, count) in self.0.iter().enumerate() {
                    seq.serialize_element(&Bucket {
                        le_ms: LatencyHistogram::upper_bound_ms(i),
                        count: *count,
                    })?;
                }
                seq.end()
            }
        }
        let mut map = s.serialize_map(Some(3))?;
        map.serialize_entry("count", &self.count())?;
        map.serialize_entry("sum_ms", &(self.sum_us / 1000))?;
        map.serialize_entry("buckets", &Buckets(&self.counts))?;
        map.end()
    }
}

/// Attempt latencies per endpoint class.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct Latencies {
    /// The cursor (`first`, `next`).
    pub cursor: LatencyHistogram,
    /// Token mints for known records (and re-mints after a 401).
    pub mint: LatencyHistogram,
    /// Record data (every page).
    pub data: LatencyHistogram,
}

/// Retries by cause (each retry decided counts once).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct RetryCauses {
    /// HTTP 429 Too Many Requests.
    pub http_429: u64,
    /// HTTP 500.
    pub http_500: u64,
    /// HTTP 502.
    pub http_502: u64,
    /// HTTP 503.
    pub http_503: u64,
    /// HTTP 504.
    pub http_504: u64,
    /// The attempt timed out.
    pub timeout: u64,
    /// The answer's body was cut short.
    pub truncated_body: u64,
    /// No answer: connection refused or reset, TLS or protocol error.
    pub connection: u64,
}

/// Counters of the client's work since it was created.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize)]
pub struct ClientStats {
    /// HTTP requests sent (every attempt counts).
    pub requests: u64,
    /// Retries decided (transient failures followed by another attempt).
    pub retries: u64,
    /// Tokens re-minted after a 401 on a data call.
    pub remints: u64,
    /// Total backoff decided, in milliseconds (slept, or skipped when
    /// `RetryPolicy::sleep` is false).
    pub backoff_ms: u64,
    /// `retries`, by cause.
    pub retry_causes: RetryCauses,
    /// Attempt latencies per endpoint class.
    pub latency: Latencies,
}

#[derive(Default)]
struct AtomicHistogram {
    counts: [AtomicU64; LATENCY_BUCKETS],
    sum_us: AtomicU64,
}

impl AtomicHistogram {
    fn record(&self, latency: Duration) {
        self.counts[LatencyHistogram::bucket(latency)].fetch_add(1, Ordering::Relaxed);
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.sum_us.fetch_add(us, Ordering::Relaxed);
    }

    fn load(&self) -> LatencyHistogram {
        let mut h = LatencyHistogram {
            sum_us: self.sum_us.load(Ordering::Relaxed),
            ..LatencyHistogram::default()
        };
        for (out, c) in h.counts.iter_mut().zip(&self.counts) {
            *out = c.load(Ordering::Relaxed);
        }
        h
    }
}

/// The live counters behind [`ClientStats`].
#[derive(Default)]
pub(crate) struct Counters {
    requests: AtomicU64,
    retries: AtomicU64,
    remints: AtomicU64,
    backoff_ms: AtomicU64,
    /// 429, 500, 502, 503, 504, timeout, truncated, connection.
    causes: [AtomicU64; 8],
    cursor: AtomicHistogram,
    mint: AtomicHistogram,
    data: AtomicHistogram,
}

impl Counters {
    /// One attempt sent to `endpoint`, which took `latency`.
    pub(crate) fn attempt(&self, endpoint: Endpoint, latency: Duration) {
        self.requests.fetch_add(1, Ordering::Relaxed);
        match endpoint {
            Endpoint::Manifest => {}
            Endpoint::Cursor => self.cursor.record(latency),
            Endpoint::Mint => self.mint.record(latency),
            Endpoint::Data => self.data.record(latency),
        }
    }

    /// A retry decided, with its cause and backoff.
    pub(crate) fn retry(&self, cause: RetryCause, backoff: Duration) {
        self.retries.fetch_add(1, Ordering::Relaxed);
        let ms = u64::try_from(backoff.as_millis()).unwrap_or(u64::MAX);
        self.backoff_ms.fetch_add(ms, Ordering::Relaxed);
        let i = match cause {
            RetryCause::Status(429) => 0,
            RetryCause::Status(500) => 1,
            RetryCause::Status(502) => 2,
            RetryCause::Status(503) => 3,
            RetryCause::Status(504) => 4,
            RetryCause::Timeout => 5,
            RetryCause::Truncated => 6,
            // Only the five statuses above are transient; anything else
            // would be a connection-level surprise.
            RetryCause::Connection | RetryCause::Status(_) => 7,
        };
        self.causes[i].fetch_add(1, Ordering::Relaxed);
    }

    /// A token re-minted after a 401.
    pub(crate) fn remint(&self) {
        self.remints.fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> ClientStats {
        let c = |i: usize| self.causes[i].load(Ordering::Relaxed);
        ClientStats {
            requests: self.requests.load(Ordering::Relaxed),
            retries: self.retries.load(Ordering::Relaxed),
            remints: self.remints.load(Ordering::Relaxed),
            backoff_ms: self.backoff_ms.load(Ordering::Relaxed),
            retry_causes: RetryCauses {
                http_429: c(0),
                http_500: c(1),
                http_502: c(2),
                http_503: c(3),
                http_504: c(4),
                timeout: c(5),
                truncated_body: c(6),
                connection: c(7),
            },
            latency: Latencies {
                cursor: self.cursor.load(),
                mint: self.mint.load(),
                data: self.data.load(),
            },
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_powers_of_two_in_ms() {
        let ms = Duration::from_millis;
        assert_eq!(LatencyHistogram::bucket(Duration::from_micros(900)), 0);
        assert_eq!(LatencyHistogram::bucket(ms(1)), 1);
        assert_eq!(LatencyHistogram::bucket(ms(3)), 2);
        assert_eq!(LatencyHistogram::bucket(ms(4)), 3);
        assert_eq!(LatencyHistogram::bucket(ms(1000)), 10);
        assert_eq!(LatencyHistogram::bucket(ms(65_535)), 16);
        assert_eq!(LatencyHistogram::bucket(ms(65_536)), 17);
        assert_eq!(LatencyHistogram::bucket(Duration::from_secs(86_400)), 17);
        assert_eq!(LatencyHistogram::upper_bound_ms(0), Some(1));
        assert_eq!(LatencyHistogram::upper_bound_ms(10), Some(1024));
        assert_eq!(LatencyHistogram::upper_bound_ms(16), Some(65_536));
        assert_eq!(LatencyHistogram::upper_bound_ms(17), None);
        // Every latency's bucket bound is above it, the previous one not.
        for v in [0u64, 1, 2, 5, 17, 999, 1024, 30_000, 65_535] {
            let b = LatencyHistogram::bucket(ms(v));
            assert!(v < LatencyHistogram::upper_bound_ms(b).unwrap(), "{v}");
            if b > 0 {
                assert!(v >= LatencyHistogram::upper_bound_ms(b - 1).unwrap(), "{v}");
            }
        }
    }

    #[test]
    fn counters_snapshot_and_serialize() {
        let c = Counters::default();
        for v in [0u64, 3, 3, 3, 100, 70_000] {
            c.attempt(Endpoint::Data, Duration::from_millis(v));
        }
        c.attempt(Endpoint::Cursor, Duration::from_millis(5));
        c.attempt(Endpoint::Manifest, Duration::from_millis(5));
        c.retry(RetryCause::Status(503), Duration::from_millis(10));
        c.retry(RetryCause::Timeout, Duration::from_millis(20));
        c.retry(RetryCause::Truncated, Duration::ZERO);
        c.retry(RetryCause::Connection, Duration::ZERO);
        let s = c.snapshot();
        assert_eq!(s.requests, 8);
        assert_eq!(s.retries, 4);
        assert_eq!(s.backoff_ms, 30);
        assert_eq!(s.retry_causes.http_503, 1);
        assert_eq!(s.retry_causes.timeout, 1);
        assert_eq!(s.retry_causes.truncated_body, 1);
        assert_eq!(s.retry_causes.connection, 1);
        assert_eq!(s.latency.data.count(), 6);
        assert_eq!(s.latency.data.counts[2], 3);
        assert_eq!(s.latency.data.counts[17], 1);
        assert_eq!(s.latency.cursor.count(), 1);
        assert_eq!(s.latency.mint.count(), 0);
        assert_eq!(s.latency.data.quantile_upper_ms(0.5), Some(4));
        assert_eq!(s.latency.data.quantile_upper_ms(0.8), Some(128));
        assert_eq!(s.latency.data.quantile_upper_ms(1.0), None);
        assert_eq!(s.latency.mint.quantile_upper_ms(0.5), None);
        let json = serde_json::to_value(s).unwrap();
        let data = &json["latency"]["data"];
        assert_eq!(data["count"], 6);
        assert_eq!(data["sum_ms"], 70_109);
        assert_eq!(data["buckets"].as_array().unwrap().len(), LATENCY_BUCKETS);
        assert_eq!(data["buckets"][2]["le_ms"], 4);
        assert_eq!(data["buckets"][2]["count"], 3);
        assert!(data["buckets"][17]["le_ms"].is_null());
        assert_eq!(json["retry_causes"]["http_503"], 1);
    }
}
