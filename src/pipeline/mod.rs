//! The pipeline file: its serde model, pure validation, and the validated plan.
//!
//! A pipeline is a TOML file (`pipelines/*.toml`) naming the resource to fetch,
//! the SPARQL SELECT that projects it, the column types and the sink. Loading
//! is three steps, as in vector's configs: parse (serde, `deny_unknown_fields`),
//! validate purely while collecting *every* problem with its line and key, then
//! build a [`Plan`] from the validated values plus command-line overrides.
//! Nothing here touches the network.

mod model;
mod validate;

pub use model::{OutputSpec, PipelineFile, QuerySpec, SourceSpec};
pub use validate::{Problem, Problems, load, load_str, normalize_api_base};

use crate::load::{Compression, Format};
use crate::schema::ColumnType;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The pipeline format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// The list resources a SMART Classic container serves under
/// `/records/{id}/{resource}/` (smart-classic-api.md section 5.1).
pub const RESOURCES: [&str; 14] = [
    "medications",
    "fulfillments",
    "problems",
    "allergies",
    "lab_results",
    "vital_sign_sets",
    "immunizations",
    "procedures",
    "clinical_notes",
    "encounters",
    "documents",
    "imaging_studies",
    "medical_images",
    "family_history",
];

/// Query parameters the reference container understands as filters
/// (section 5.3). Paging (`limit`, `offset`) is not a filter: use `page_size`.
pub const FILTERS: [&str; 10] = [
    "rxnorm",
    "snomed",
    "loinc",
    "encounter_type",
    "date_from",
    "date_from_including",
    "date_from_excluding",
    "date_to",
    "date_to_including",
    "date_to_excluding",
];

/// Overrides given on the command line; each wins over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--api-base`
    pub api_base: Option<String>,
    /// `--app-id`
    pub app_id: Option<String>,
    /// `--consumer-key`
    pub consumer_key: Option<String>,
    /// `--output`
    pub output: Option<PathBuf>,
    /// `--format`
    pub format: Option<Format>,
    /// `--compression`
    pub compression: Option<Compression>,
    /// `--page-size`
    pub page_size: Option<u32>,
}

/// A validated pipeline with the command-line overrides applied: everything
/// a run needs except credentials.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The pipeline's name (file stem by default).
    pub name: String,
    /// Where the pipeline came from (for messages).
    pub source_file: PathBuf,
    /// `medications`, ...
    pub resource: String,
    /// Container filters, sent as a signed GET query.
    pub filters: BTreeMap<String, String>,
    /// `limit` per request; `None` fetches each record in one request.
    pub page_size: Option<u32>,
    /// The SPARQL SELECT.
    pub sparql: String,
    /// Declared column types (variables not listed are strings).
    pub columns: BTreeMap<String, ColumnType>,
    /// Output format.
    pub format: Format,
    /// Parquet compression.
    pub compression: Compression,
    /// Output directory.
    pub output: PathBuf,
    /// The container; `None` means "start the embedded sandbox".
    pub api_base: Option<String>,
    /// The background app's id (also the default consumer key).
    pub app_id: String,
    /// The OAuth consumer key.
    pub consumer_key: String,
}

/// The SMART HOWTO's demo background app id, used when none is configured.
pub const DEFAULT_APP_ID: &str = "smart-background-app@apps.smartplatforms.org";

impl Plan {
    /// A stable hash of everything that decides which rows a run writes:
    /// the container, the resource and filters, the query, the column types
    /// and the format. A checkpoint made under another hash is not resumed.
    /// The output path, concurrency and credentials do not take part.
    pub fn hash(&self) -> String {
        let mut h = Sha256::new();
        let mut field = |k: &str, v: &str| {
            h.update(k.as_bytes());
            h.update([0]);
            h.update(v.len().to_le_bytes());
            h.update(v.as_bytes());
        };
        field("version", &FORMAT_VERSION.to_string());
        field("api_base", self.api_base.as_deref().unwrap_or("(sandbox)"));
        field("app_id", &self.app_id);
        field("resource", &self.resource);
        for (k, v) in &self.filters {
            field("filter", k);
            field("value", v);
        }
        field(
            "page_size",
            &self.page_size.map(|p| p.to_string()).unwrap_or_default(),
        );
        field("sparql", &self.sparql);
        for (k, v) in &self.columns {
            field("column", k);
            field("type", &v.to_string());
        }
        field("format", &self.format.to_string());
        field("compression", &self.compression.to_string());
        let digest = h.finalize();
        let mut s = String::with_capacity(64);
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The container filters as query pairs, in a stable order.
    pub fn filter_params(&self) -> Vec<(String, String)> {
        self.filters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}
