//! A record that could not be exported, and why.
//!
//! Extract (fetch budget exhausted, 403, ...) and transform (a body that is not
//! RDF/XML) produce a [`RecordFailure`]; the engine keeps it in the checkpoint
//! and the load stage writes it to `_errors.csv` and `_manifest.json`.

use crate::record::RecordId;
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
    pub record_id: RecordId,
    /// The table the failure is for, in a pipeline with several tables
    /// (`None`: every table of the record, or a single-table pipeline).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub table: Option<String>,
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
        write!(f, "record `{}`", self.record_id)?;
        if let Some(t) = &self.table {
            write!(f, " (table `{}`)", crate::text::escape_control(t))?;
        }
        write!(f, " failed at {}", self.stage)?;
        if let Some(s) = self.http_status {
            write!(f, " (HTTP {s})")?;
        }
        write!(f, " after {} attempt(s): {}", self.attempts, self.message)
    }
}
