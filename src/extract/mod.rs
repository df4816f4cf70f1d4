//! extract: everything between smartsweep and a SMART Classic container.
//!
//! - [`oauth`]: OAuth 1.0 HMAC-SHA1 signing of the `Authorization` header,
//!   with the reference container's base-string rules (decoded path, query
//!   signed on GET only, fresh nonce and timestamp per request).
//! - [`client`]: the HTTP client ([`Client`]): the manifest, the three
//!   background-app token calls (`first`, `next`, mint), record data with
//!   optional paging, body limits, timeouts, the retry loop and its counters.
//! - [`walk`](mod@walk): where record tokens come from, as ordered streams:
//!   a cursor chain (`first` or a seed, then `next`; resume after a
//!   watermark, with the deleted-watermark fallback; cycle detection in
//!   constant memory), the starts of parallel chains, and known ids with
//!   concurrently minted tokens.
//! - [`retry`]: the retry policy (what is transient, backoff, `Retry-After`).
//! - [`defaults`]: the one source of the retry, timeout and size defaults
//!   (the library's and the command line's).
//! - [`stats`]: the client's counters: retries by cause, latency histograms
//!   per endpoint class.
//! - [`inputs`]: the id list of `--records-from` and the consumer secret.
//!
//! Credentials travel as [`Secret`](crate::secret::Secret); no error, log line or `Debug` output of
//! this module carries a token, a secret, a signature or an `Authorization`
//! header.

pub mod client;
pub mod defaults;
pub mod inputs;
pub mod oauth;
pub mod retry;
pub mod stats;
pub mod walk;

use std::path::PathBuf;

use crate::record::RecordId;

pub use client::{
    Client, ClientConfig, Fetched, MAX_ENTITY_BYTES, RecordToken, check_path_id,
    declared_entity_bytes,
};
pub use inputs::{SECRET_ENV, load_consumer_secret, read_record_ids};
pub use oauth::authorization_header;
pub use retry::RetryPolicy;
pub use stats::{ClientStats, Latencies, LatencyHistogram, RetryCauses};
pub use walk::{ChainSpec, Resume, chain_specs, known, resolve_starts, walk};

/// What can go wrong while talking to the container (outside a record's own
/// data fetch, which ends in a [`crate::failure::RecordFailure`] instead).
#[derive(Debug, thiserror::Error)]
pub enum ExtractError {
    /// 401 or 403 on a 2-legged call (cursor or token mint): the container
    /// does not accept these credentials. Fatal for the run.
    #[error(
        "the container at `{api_base}` rejected consumer key `{consumer_key}` (HTTP {status})\n{hint}"
    )]
    Rejected {
        /// 401 or 403.
        status: u16,
        /// The consumer key that was refused.
        consumer_key: String,
        /// The API base that refused it.
        api_base: String,
        /// What to check, one `hint:` line per cause, with the measured clock
        /// skew.
        hint: String,
    },
    /// An HTTP status the call cannot use, after any retries (for example
    /// 500 on `next` of an id the container no longer has).
    #[error("{method} `{url}` answered HTTP {status} after {attempts} attempt(s){detail}")]
    Status {
        /// HTTP method.
        method: String,
        /// The URL (never holds a credential: they travel in the header).
        url: String,
        /// The last status.
        status: u16,
        /// Attempts made.
        attempts: u32,
        /// Extra words (why retries stopped, a hint), starting with `: ` or
        /// empty.
        detail: String,
    },
    /// No HTTP answer: connection refused or reset, timeout, body cut short,
    /// after any retries.
    #[error("{method} `{url}` failed after {attempts} attempt(s): {message}")]
    Transport {
        /// HTTP method.
        method: String,
        /// The URL.
        url: String,
        /// Attempts made.
        attempts: u32,
        /// The last cause.
        message: String,
    },
    /// The cursor came back to a record it had already answered: it goes
    /// round in a cycle and would never end. Fatal for the run.
    #[error(
        "the container's record cursor came back to record `{record_id}` ({detail}): it goes round in a cycle and would never end\nhint: the container's `next` is broken around this record: report it to the container's operator; the records committed so far are kept"
    )]
    CursorCycle {
        /// The record answered twice (`Display` escapes it).
        record_id: RecordId,
        /// How it was seen again.
        detail: String,
    },
    /// A record id no request URL can carry (it contains `/`, or it is `.`
    /// or `..`): the container's routing cannot reach that record.
    #[error(
        "record id `{record_id}` cannot be used in a URL: {reason}\nhint: the container holds a record no SMART client can address: ask its operator to rename it"
    )]
    UnusableId {
        /// The id (`Display` escapes it).
        record_id: RecordId,
        /// Why.
        reason: &'static str,
    },
    /// A 200 answer that does not say what it should (a token answer without
    /// `oauth_token`, a manifest that is not JSON, an oversized body).
    #[error("unexpected answer from `{url}`: {message}")]
    Protocol {
        /// The URL.
        url: String,
        /// What was wrong.
        message: String,
    },
    /// Bad client configuration (API base, CA file, TLS setup).
    #[error("{message}")]
    Config {
        /// What is wrong and what to do.
        message: String,
    },
    /// A problem with an input file (the id list, the secret file) or the
    /// secret's environment variable.
    #[error("{message}")]
    Input {
        /// The file, if any.
        path: Option<PathBuf>,
        /// What is wrong and what to do.
        message: String,
    },
}

impl ExtractError {
    /// True when the container refused our credentials: stop the run.
    pub fn is_fatal_credentials(&self) -> bool {
        matches!(self, ExtractError::Rejected { .. })
    }

    /// The HTTP status behind the error, if there was one. The walk takes
    /// `Some(500)` from `next` or a mint for a record that is gone.
    pub fn status(&self) -> Option<u16> {
        match self {
            ExtractError::Rejected { status, .. } | ExtractError::Status { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}
