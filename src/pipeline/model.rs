//! The serde model of a pipeline file. Every table refuses unknown keys, and
//! every value keeps its span so validation can name the line.

use serde::Deserialize;
use std::collections::BTreeMap;
use toml::Spanned;

/// The whole file.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineFile {
    /// Format version; 1 when absent.
    pub version: Option<Spanned<u32>>,
    /// Optional name; the file stem when absent.
    pub name: Option<Spanned<String>>,
    /// `[source]`
    pub source: Spanned<SourceSpec>,
    /// `[query]`
    pub query: Spanned<QuerySpec>,
    /// `[columns]`: variable = type
    #[serde(default)]
    pub columns: BTreeMap<Spanned<String>, Spanned<String>>,
    /// `[output]`
    pub output: Spanned<OutputSpec>,
}

/// `[source]`: what to fetch and from where.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SourceSpec {
    /// `medications`, `problems`, ...
    pub resource: Spanned<String>,
    /// The container's API base; absent means the embedded sandbox.
    pub api_base: Option<Spanned<String>>,
    /// The background app's id.
    pub app_id: Option<Spanned<String>>,
    /// The OAuth consumer key (default: the app id).
    pub consumer_key: Option<Spanned<String>>,
    /// Page size (`limit`); absent fetches each record in one request.
    pub page_size: Option<Spanned<i64>>,
    /// Container filters, e.g. `rxnorm = "312938|309309"`.
    #[serde(default)]
    pub filters: BTreeMap<Spanned<String>, Spanned<String>>,
}

/// `[query]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct QuerySpec {
    /// A SPARQL SELECT.
    pub sparql: Spanned<String>,
}

/// `[output]`
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// `parquet` (default) or `csv`.
    pub format: Option<Spanned<String>>,
    /// `zstd` (default), `snappy` or `none`; Parquet only.
    pub compression: Option<Spanned<String>>,
    /// The output directory.
    pub path: Spanned<String>,
}
