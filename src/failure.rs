//! A record that could not be exported, and why.
//!
//! Extract (fetch budget exhausted, 403, ...) and transform (a body that is not
//! RDF/XML) produce a [`RecordFailure`]; the engine keeps it in the checkpoint
//! and the load stage writes it to `_errors.csv` and `_manifest.json`.

use serde::{Deserialize, Serialize};
use std::fmt;

/// Where a record failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Stage {
    /// Getting a token for the record or fetching its data.
    Fetch,
    /// Parsing the answer or evaluating the query.
    Transform,
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Stage::Fetch => "fetch",
            Stage::Transform => "transform",
        })
    }
}

/// One failed record: a row of `_errors.csv`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RecordFailure {
    /// The container's record id.
    pub record_id: String,
    /// Which stage gave up.
    pub stage: Stage,
    /// The last HTTP status seen, if any (none for a connection error or a
    /// parse error).
    pub http_status: Option<u16>,
    /// How many HTTP attempts were made (0 for a transform failure).
    pub attempts: u32,
    /// What went wrong, for a person. Never holds a credential.
    pub message: String,
}

impl fmt::Display for RecordFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "record `{}` failed at {}", self.record_id, self.stage)?;
        if let Some(s) = self.http_status {
            write!(f, " (HTTP {s})")?;
        }
        write!(f, " after {} attempt(s): {}", self.attempts, self.message)
    }
}
