//! The retry policy: which failures are transient, how long to wait before
//! the next attempt, and when to give up.
//!
//! Transient: connect and read errors, timeouts, a body cut short, and the
//! statuses 429, 500, 502, 503 and 504. The wait is exponential backoff with
//! full jitter (a uniform draw in `[0, min(max_delay, base_delay * 2^(n-1))]`)
//! unless the server sent `Retry-After` (seconds or an HTTP date), which is
//! honoured up to `retry_after_cap`. A call gives up after `max_attempts`
//! attempts or when the next wait would take it past `deadline` (measured
//! from the first attempt). `sleep = false` (tests) skips the waits but still
//! counts them against the deadline, so tests see the same decisions without
//! waiting.

use std::time::{Duration, SystemTime};

use super::defaults;

/// How a call retries transient failures.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts per call, the first included (at least 1).
    pub max_attempts: u32,
    /// The backoff ceiling after the first failure; doubled per attempt.
    pub base_delay: Duration,
    /// The largest backoff ceiling.
    pub max_delay: Duration,
    /// The longest `Retry-After` honoured; longer values are cut to this.
    pub retry_after_cap: Duration,
    /// Overall time budget of one call, retries and waits included.
    pub deadline: Duration,
    /// `false` removes the waits (tests); the deadline still counts them.
    pub sleep: bool,
}

/// The defaults of [`super::defaults`]: the command line's.
impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            max_attempts: defaults::MAX_ATTEMPTS,
            base_delay: Duration::from_millis(defaults::RETRY_BASE_DELAY_MS),
            max_delay: defaults::RETRY_MAX_DELAY,
            retry_after_cap: defaults::RETRY_AFTER_CAP,
            deadline: defaults::RETRY_DEADLINE,
            sleep: true,
        }
    }
}

impl RetryPolicy {
    /// A policy for tests: `max_attempts` attempts, no real waits.
    pub fn no_sleep(max_attempts: u32) -> Self {
        RetryPolicy {
            max_attempts,
            sleep: false,
            ..RetryPolicy::default()
        }
    }

    /// The wait before attempt `failed + 1`, after `failed` failed attempts
    /// (1-based). `retry_after` is the server's `Retry-After`, if any.
    pub fn backoff(&self, failed: u32, retry_after: Option<Duration>) -> Duration {
        if let Some(ra) = retry_after {
            return ra.min(self.retry_after_cap);
        }
        let ceiling = self.ceiling(failed);
        if ceiling.is_zero() {
            return ceiling;
        }
        let nanos = u64::try_from(ceiling.as_nanos()).unwrap_or(u64::MAX);
        Duration::from_nanos(rand::random_range(0..=nanos))
    }

    /// `min(max_delay, base_delay * 2^(failed-1))`: the full-jitter range.
    pub fn ceiling(&self, failed: u32) -> Duration {
        let exp = failed.saturating_sub(1).min(31);
        self.base_delay
            .checked_mul(1u32 << exp)
            .unwrap_or(self.max_delay)
            .min(self.max_delay)
    }
}

/// True for the statuses worth another attempt: 429, 500, 502, 503, 504.
pub fn is_transient_status(status: u16) -> bool {
    matches!(status, 429 | 500 | 502 | 503 | 504)
}

/// Parse a `Retry-After` value: delta-seconds or an HTTP date (RFC 9110
/// section 10.2.3). A date in the past means "now". Anything else: `None`.
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim();
    if let Ok(secs) = value.parse::<u64>() {
        return Some(Duration::from_secs(secs));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    Some(at.duration_since(now).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    #[test]
    fn transient_statuses() {
        for s in [429, 500, 502, 503, 504] {
            assert!(is_transient_status(s), "{s}");
        }
        for s in [200, 301, 400, 401, 403, 404, 405, 413, 501, 505] {
            assert!(!is_transient_status(s), "{s}");
        }
    }

    #[test]
    fn retry_after_seconds_and_dates() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        assert_eq!(parse_retry_after("7", now), Some(Duration::from_secs(7)));
        assert_eq!(parse_retry_after(" 0 ", now), Some(Duration::ZERO));
        let later = httpdate::fmt_http_date(now + Duration::from_secs(42));
        assert_eq!(
            parse_retry_after(&later, now),
            Some(Duration::from_secs(42))
        );
        let earlier = httpdate::fmt_http_date(now - Duration::from_secs(42));
        assert_eq!(parse_retry_after(&earlier, now), Some(Duration::ZERO));
        assert_eq!(parse_retry_after("soon", now), None);
        assert_eq!(parse_retry_after("-3", now), None);
    }

    #[test]
    fn retry_after_is_capped() {
        let p = RetryPolicy {
            retry_after_cap: Duration::from_secs(10),
            ..RetryPolicy::default()
        };
        assert_eq!(
            p.backoff(1, Some(Duration::from_secs(3))),
            Duration::from_secs(3)
        );
        assert_eq!(
            p.backoff(1, Some(Duration::from_secs(3600))),
            Duration::from_secs(10)
        );
    }

    #[test]
    fn exponential_ceiling_with_full_jitter() {
        let p = RetryPolicy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_secs(1),
            ..RetryPolicy::default()
        };
        assert_eq!(p.ceiling(1), Duration::from_millis(100));
        assert_eq!(p.ceiling(2), Duration::from_millis(200));
        assert_eq!(p.ceiling(4), Duration::from_millis(800));
        assert_eq!(p.ceiling(5), Duration::from_secs(1));
        assert_eq!(p.ceiling(1000), Duration::from_secs(1));
        let mut distinct = std::collections::BTreeSet::new();
        for _ in 0..200 {
            let d = p.backoff(3, None);
            assert!(d <= Duration::from_millis(400));
            distinct.insert(d);
        }
        // Full jitter: the waits are spread, not a constant.
        assert!(distinct.len() > 100);
        let zero = RetryPolicy {
            base_delay: Duration::ZERO,
            ..RetryPolicy::default()
        };
        assert_eq!(zero.backoff(3, None), Duration::ZERO);
    }
}
