//! The one source of the client's defaults: retries, timeouts and size
//! limits. [`ClientConfig::new`](super::ClientConfig::new),
//! [`RetryPolicy::default`](super::RetryPolicy) and the command line's
//! `default_value_t`s (`src/cli.rs`) all read these, so a library test
//! exercises what ships.

use std::time::Duration;

/// HTTP attempts per call, the first included (`--max-attempts`).
pub const MAX_ATTEMPTS: u32 = 6;

/// The backoff ceiling after the first failure, in milliseconds; doubled per
/// attempt, with full jitter (`--retry-base-ms`).
pub const RETRY_BASE_DELAY_MS: u64 = 250;

/// The largest backoff ceiling.
pub const RETRY_MAX_DELAY: Duration = Duration::from_secs(30);

/// The longest `Retry-After` honoured; longer values are cut to this.
pub const RETRY_AFTER_CAP: Duration = Duration::from_secs(120);

/// Overall time budget of one call, retries and waits included.
pub const RETRY_DEADLINE: Duration = Duration::from_secs(300);

/// Time allowed for one attempt, from sending to the last body byte, in
/// seconds (`--timeout-s`).
pub const REQUEST_TIMEOUT_S: u64 = 60;

/// Time allowed to open a connection (TCP and TLS), in seconds.
pub const CONNECT_TIMEOUT_S: u64 = 10;

/// The largest answer body accepted, in MiB (`--max-body-mib`).
pub const MAX_BODY_MIB: u64 = 64;

/// The largest total of one record's pages, in MiB (`--max-record-mib`).
pub const MAX_RECORD_MIB: u64 = 256;

/// Time allowed for the (informational) manifest: one attempt, no retry.
pub const MANIFEST_TIMEOUT: Duration = Duration::from_secs(5);

/// The largest manifest accepted (the reference's is a few KiB).
pub const MANIFEST_BODY_BYTES: u64 = 1024 * 1024;

/// The largest token answer accepted (the reference's is about 80 bytes).
pub const TOKEN_BODY_BYTES: u64 = 64 * 1024;

/// The longest record id accepted from a container, in bytes (the
/// reference's ids are at most 50 characters). A longer one is refused, so
/// no unbounded server text travels on into URLs, logs, errors and
/// checkpoints.
pub const MAX_RECORD_ID_BYTES: usize = 256;

/// One MiB.
pub const MIB: u64 = 1024 * 1024;
