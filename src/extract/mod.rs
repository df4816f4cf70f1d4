//! extract: everything between smartsweep and a SMART Classic container.
//!
//! - [`oauth`]: OAuth 1.0 HMAC-SHA1 signing of the `Authorization` header,
//!   with the reference container's base-string rules (decoded path, query
//!   signed on GET only, fresh nonce and timestamp per request).
//! - [`client`]: the HTTP client ([`Client`]): the manifest, the three
//!   background-app token calls (`first`, `next`, mint), record data with
//!   optional paging, body limits, timeouts, the retry loop and its counters.
//! - [`cursor`](mod@cursor): the record cursor as an ordered stream, and known ids with
//!   concurrently minted tokens.
//! - [`retry`]: the retry policy (what is transient, backoff, `Retry-After`).
//! - [`inputs`]: the id list of `--records-from` and the consumer secret.
//!
//! Credentials travel as [`Secret`](crate::secret::Secret); no error, log line or `Debug` output of
//! this module carries a token, a secret, a signature or an `Authorization`
//! header.

pub mod client;
pub mod cursor;
pub mod inputs;
pub mod oauth;
pub mod retry;
pub mod walk;

use std::path::PathBuf;

pub use client::{Client, ClientConfig, ClientStats, Fetched, RecordToken};
pub use cursor::{cursor, known_ids};
pub use inputs::{SECRET_ENV, load_consumer_secret, read_record_ids};
pub use oauth::authorization_header;
pub use retry::RetryPolicy;

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

    /// The HTTP status behind the error, if there was one. The engine uses
    /// `Some(500)` from `next` to detect a vanished watermark.
    pub fn status(&self) -> Option<u16> {
        match self {
            ExtractError::Rejected { status, .. } | ExtractError::Status { status, .. } => {
                Some(*status)
            }
            _ => None,
        }
    }
}
