//! The pipeline file: its spanned model, pure validation, and the validated
//! plan.
//!
//! A pipeline is a TOML file (`pipelines/*.toml`) naming the resource(s) to
//! fetch, the SPARQL SELECT that projects each into a table, the column types
//! and the output. Loading is three steps, as in vector's configs: parse the
//! TOML with spans (`model.rs`: unknown keys and mistyped values are collected,
//! not fatal), validate purely while collecting *every* problem with its line,
//! column and key (`validate.rs`, `tables.rs`), then build a [`Plan`] from the
//! validated values plus command-line overrides. Nothing here touches the
//! network.
//!
//! Two shapes of file: a single-table file (`[source] resource`, `[query]`,
//! `[columns]`: one table named after the pipeline, written at the output's
//! root) and a multi-table file (`[[tables]]`, each with its own `name`,
//! `resource`, `[tables.query]`, `[tables.columns]`, `filters`, `page_size`
//! and `partition_by`, each written under `<output>/<name>/`).

mod model;
mod problem;
mod tables;
#[cfg(test)]
mod tests;
mod toml_string;
mod validate;

pub use problem::{Problem, Problems, Severity};
pub use validate::{load, load_str, normalize_api_base};

use crate::load::{Compression, Format, Location};
use crate::schema::ColumnType;
use crate::transform::Projection;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The pipeline format version this build reads.
pub const FORMAT_VERSION: u32 = 1;

/// The resources a SMART Classic container serves per record: the lists under
/// `/records/{id}/{resource}/` (smart-classic-api.md section 5.1) and the
/// single `demographics` item (`/records/{id}/demographics`, no slash).
pub const RESOURCES: [&str; 15] = [
    "demographics",
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

/// What a container accepts for one resource (smart-classic-api.md 5.1 and
/// 5.3, smart-classic-models.md 1.5): its code filter, whether it takes the
/// six date filters, and whether it pages (`limit`/`offset`). A filter a
/// resource does not declare is silently ignored by the reference container,
/// so the validator refuses it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Resource {
    /// The name in a pipeline (`lab_results`).
    pub name: &'static str,
    /// Its code filter (`loinc`), if any.
    pub code_filter: Option<&'static str>,
    /// Takes `date_from`, `date_to` and their `_including`/`_excluding` forms.
    pub date_filters: bool,
    /// Pages with `limit` (a single item, or a list without a sort, does not).
    pub pageable: bool,
}

const fn resource(
    name: &'static str,
    code_filter: Option<&'static str>,
    date_filters: bool,
    pageable: bool,
) -> Resource {
    Resource {
        name,
        code_filter,
        date_filters,
        pageable,
    }
}

/// Every resource with what it accepts, in [`RESOURCES`] order.
pub const RESOURCE_TABLE: [Resource; 15] = [
    resource("demographics", None, false, false),
    resource("medications", Some("rxnorm"), true, true),
    resource("fulfillments", None, true, true),
    resource("problems", Some("snomed"), true, true),
    resource("allergies", None, true, true),
    resource("lab_results", Some("loinc"), true, true),
    resource("vital_sign_sets", Some("encounter_type"), true, true),
    resource("immunizations", None, true, true),
    resource("procedures", Some("snomed"), true, true),
    resource("clinical_notes", None, true, true),
    resource("encounters", None, false, true),
    resource("documents", None, false, true),
    resource("imaging_studies", None, false, true),
    resource("medical_images", None, false, true),
    resource("family_history", None, false, false),
];

impl Resource {
    /// The resource named `name`.
    pub fn named(name: &str) -> Option<&'static Resource> {
        RESOURCE_TABLE.iter().find(|r| r.name == name)
    }

    /// True when the container honours `filter` on this resource.
    pub fn accepts_filter(&self, filter: &str) -> bool {
        self.code_filter == Some(filter) || (self.date_filters && filter.starts_with("date_"))
    }

    /// The filters this resource accepts, for hints.
    pub fn filters(&self) -> Vec<&'static str> {
        FILTERS
            .iter()
            .copied()
            .filter(|f| self.accepts_filter(f))
            .collect()
    }
}

/// Overrides given on the command line; each wins over the file.
#[derive(Debug, Clone, Default)]
pub struct Overrides {
    /// `--api-base`
    pub api_base: Option<String>,
    /// `--app-id`
    pub app_id: Option<String>,
    /// `--consumer-key`
    pub consumer_key: Option<String>,
    /// `--output` (a path or an object-store URL)
    pub output: Option<String>,
    /// `--format`
    pub format: Option<Format>,
    /// `--compression`
    pub compression: Option<Compression>,
    /// `--page-size` (every table whose resource pages)
    pub page_size: Option<u32>,
}

/// A validated pipeline with the command-line overrides applied: everything
/// a run needs except credentials. Built once ([`load`], [`load_str`]); every
/// command (run, preview, audit, plan) uses the same plan.
#[derive(Debug, Clone)]
pub struct Plan {
    /// The pipeline's name (file stem by default).
    pub name: String,
    /// Where the pipeline came from (for messages).
    pub source_file: PathBuf,
    /// The container; `None` means "start the embedded sandbox".
    pub api_base: Option<String>,
    /// The background app's id (also the default consumer key).
    pub app_id: String,
    /// The OAuth consumer key.
    pub consumer_key: String,
    /// The output tables, in file order (at least one).
    pub tables: Vec<TablePlan>,
    /// Where and how output is written.
    pub output: OutputPlan,
    /// What validation found worth saying that does not stop a run (e.g. a
    /// resource the embedded sandbox does not serve); see
    /// [`Plan::warnings_text`].
    pub warnings: Vec<Problem>,
}

/// One output table: a resource fetched per record, projected by a query.
#[derive(Clone)]
pub struct TablePlan {
    /// The table's name (a plain name; the pipeline's name for a
    /// single-table file).
    pub name: String,
    /// Its directory under the output: `""` for a single-table file (the
    /// parts go where they always went), the table's name otherwise.
    pub dir: String,
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
    /// The query, parsed and prepared once.
    pub projection: Arc<Projection>,
    /// The columns whose values name its Hive-style partition directories,
    /// in order: the table's own `partition_by`, else `[output]`'s.
    pub partition_by: Vec<String>,
}

impl std::fmt::Debug for TablePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TablePlan")
            .field("name", &self.name)
            .field("dir", &self.dir)
            .field("resource", &self.resource)
            .field("filters", &self.filters)
            .field("page_size", &self.page_size)
            .field("columns", &self.columns)
            .field("partition_by", &self.partition_by)
            .finish_non_exhaustive()
    }
}

/// A table's request: resource, filters and page size.
pub type FetchKey = (String, Vec<(String, String)>, Option<u32>);

/// Where output goes and in what format.
#[derive(Debug, Clone)]
pub struct OutputPlan {
    /// A local directory or an object-store URL.
    pub location: Location,
    /// Parquet, CSV or Delta.
    pub format: Format,
    /// The Parquet (and Delta) codec.
    pub compression: Compression,
    /// `[output] partition_by`: the default of every table (each table's
    /// effective list is [`TablePlan::partition_by`]).
    pub partition_by: Vec<String>,
}

/// The SMART HOWTO's demo background app id, used when none is configured.
pub const DEFAULT_APP_ID: &str = "smart-background-app@apps.smartplatforms.org";

impl TablePlan {
    /// The container filters as query pairs, in a stable order.
    pub fn filter_params(&self) -> Vec<(String, String)> {
        self.filters
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }

    /// What decides the HTTP request for this table: tables with the same
    /// key share one fetch (and one parse) per record.
    pub fn fetch_key(&self) -> FetchKey {
        (self.resource.clone(), self.filter_params(), self.page_size)
    }
}

impl Plan {
    /// A stable hash of everything that decides which rows a run writes
    /// and where: the container, each table (name, directory, resource,
    /// filters, paging, query, column types, partition columns) and the
    /// output format. A checkpoint made under another hash is not resumed.
    /// The output location, warnings, concurrency and credentials do not
    /// take part. (An unpartitioned single-table plan hashes as it did
    /// before partitioning existed.)
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
        for t in &self.tables {
            field("table", &t.name);
            field("dir", &t.dir);
            field("resource", &t.resource);
            for (k, v) in &t.filters {
                field("filter", k);
                field("value", v);
            }
            field(
                "page_size",
                &t.page_size.map(|p| p.to_string()).unwrap_or_default(),
            );
            field("sparql", &t.sparql);
            for (k, v) in &t.columns {
                field("column", k);
                field("type", &v.to_string());
            }
            for c in &t.partition_by {
                field("partition_by", c);
            }
        }
        field("format", &self.output.format.to_string());
        field("compression", &self.output.compression.to_string());
        let digest = h.finalize();
        let mut s = String::with_capacity(64);
        for b in digest {
            s.push_str(&format!("{b:02x}"));
        }
        s
    }

    /// The table named `name`.
    pub fn table(&self, name: &str) -> Option<&TablePlan> {
        self.tables.iter().find(|t| t.name == name)
    }

    /// The warnings as `validate` prints them (one block each, like
    /// errors, starting `warning:`); empty when there is none.
    pub fn warnings_text(&self) -> String {
        Problems(self.warnings.clone()).to_string()
    }
}
