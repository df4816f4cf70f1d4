//! Fault injection, reproducible from the seed.
//!
//! Transient faults (5xx, 429, a dropped connection, a truncated body) are
//! drawn per request from a seeded sequence: request number `n` (in arrival
//! order) always gets draw `n`, so a run with the same seed sees the same
//! sequence of faults, and a retry is a new draw that can succeed. A
//! malformed body is a property of the record instead (a hash of the seed
//! and the record id), so retrying never fixes it. The manifest is exempt.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::Response;
use bytes::Bytes;

use super::population::{Mix, hash_str};

/// What to do to one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Fault {
    /// Answer this status (500, 502 or 503) instead.
    Fail(StatusCode),
    /// Answer 429 with `Retry-After`.
    Throttle,
    /// Drop the connection without an answer.
    Reset,
    /// Send the real answer's head and only part of its body.
    Truncate,
}

/// The fault knobs and the per-request draw counter.
pub(crate) struct Faults {
    seed: u64,
    counter: AtomicU64,
    pub fail_rate: f64,
    pub throttle_rate: f64,
    pub reset_rate: f64,
    pub truncate_rate: f64,
    pub retry_after_s: u64,
    pub malformed_rate: f64,
    pub latency: Duration,
    pub cursor_latency: Duration,
    pub data_latency: Duration,
}

const FAULT_SALT: u64 = 0xFA17;
const MALFORMED_SALT: u64 = 0xBAD;

impl Faults {
    pub(crate) fn new(seed: u64) -> Self {
        Faults {
            seed,
            counter: AtomicU64::new(0),
            fail_rate: 0.0,
            throttle_rate: 0.0,
            reset_rate: 0.0,
            truncate_rate: 0.0,
            retry_after_s: 1,
            malformed_rate: 0.0,
            latency: Duration::ZERO,
            cursor_latency: Duration::ZERO,
            data_latency: Duration::ZERO,
        }
    }

    /// The next transient fault, if any.
    pub(crate) fn draw(&self) -> Option<Fault> {
        let total = self.fail_rate + self.throttle_rate + self.reset_rate + self.truncate_rate;
        if total <= 0.0 {
            return None;
        }
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let mut rng = Mix::keyed(self.seed, FAULT_SALT, n);
        let r = rng.unit();
        let mut edge = self.fail_rate;
        if r < edge {
            let status = match rng.below(3) {
                0 => StatusCode::INTERNAL_SERVER_ERROR,
                1 => StatusCode::BAD_GATEWAY,
                _ => StatusCode::SERVICE_UNAVAILABLE,
            };
            return Some(Fault::Fail(status));
        }
        edge += self.throttle_rate;
        if r < edge {
            return Some(Fault::Throttle);
        }
        edge += self.reset_rate;
        if r < edge {
            return Some(Fault::Reset);
        }
        edge += self.truncate_rate;
        (r < edge).then_some(Fault::Truncate)
    }

    /// Is this record's answer always malformed (for this seed)?
    pub(crate) fn is_malformed(&self, record_id: &str) -> bool {
        self.malformed_rate > 0.0 && {
            let h = hash_str(self.seed, MALFORMED_SALT, record_id);
            ((h >> 11) as f64 / (1u64 << 53) as f64) < self.malformed_rate
        }
    }
}

/// A response whose body fails at once: hyper closes the connection before
/// the (still buffered) head is flushed, so the client sees the connection
/// drop with no answer at all.
pub(crate) fn reset_response() -> Response {
    let stream = futures::stream::once(async {
        Err::<Bytes, std::io::Error>(std::io::Error::new(
            std::io::ErrorKind::ConnectionReset,
            "sandbox: injected connection reset",
        ))
    });
    let mut response = Response::new(Body::from_stream(stream));
    *response.status_mut() = StatusCode::OK;
    response
}

/// Turn a complete answer into one whose `Content-Length` promises the whole
/// body but whose stream stops about half way; hyper then closes the
/// connection. The partial chunk is flushed before the stream ends.
pub(crate) fn truncate(response: Response, full: Bytes) -> Response {
    let (mut parts, _) = response.into_parts();
    let declared = full.len().max(1);
    let sent = full.slice(..full.len() / 2);
    parts
        .headers
        .insert(header::CONTENT_LENGTH, HeaderValue::from(declared));
    let stream = futures::stream::unfold(0u8, move |step| {
        let sent = sent.clone();
        async move {
            match step {
                0 => Some((Ok::<Bytes, std::io::Error>(sent), 1)),
                1 => {
                    // Let hyper flush the partial body first.
                    tokio::time::sleep(Duration::from_millis(5)).await;
                    Some((
                        Err(std::io::Error::new(
                            std::io::ErrorKind::UnexpectedEof,
                            "sandbox: injected truncated body",
                        )),
                        2,
                    ))
                }
                _ => None,
            }
        }
    });
    Response::from_parts(parts, Body::from_stream(stream))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draws_follow_the_rates_and_the_seed() {
        let mut a = Faults::new(9);
        a.fail_rate = 0.1;
        a.throttle_rate = 0.1;
        a.reset_rate = 0.1;
        a.truncate_rate = 0.1;
        let mut b = Faults::new(9);
        b.fail_rate = 0.1;
        b.throttle_rate = 0.1;
        b.reset_rate = 0.1;
        b.truncate_rate = 0.1;
        let da: Vec<_> = (0..2000).map(|_| a.draw()).collect();
        let db: Vec<_> = (0..2000).map(|_| b.draw()).collect();
        assert_eq!(da, db);
        let none = da.iter().filter(|d| d.is_none()).count();
        assert!((1000..1400).contains(&none), "{none}");
        assert!(da.contains(&Some(Fault::Throttle)));
        assert!(da.contains(&Some(Fault::Reset)));
        assert!(da.contains(&Some(Fault::Truncate)));
    }

    #[test]
    fn malformed_is_a_record_property() {
        let mut f = Faults::new(1);
        f.malformed_rate = 0.3;
        let bad = (0..1000).filter(|i| f.is_malformed(&i.to_string())).count();
        assert!((200..400).contains(&bad), "{bad}");
        assert_eq!(f.is_malformed("123"), f.is_malformed("123"));
    }
}
