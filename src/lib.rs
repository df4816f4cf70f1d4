//! smartsweep: a SMART Classic background app as a batch ETL tool.
//!
//! A record id travels through the modules in this order:
//!
//! - [`extract`]: OAuth 1.0 signing, the container client, the record cursor
//!   (or known ids), the retry policy. Yields `(record_id, token)` and then
//!   the record's RDF/XML.
//! - [`transform`]: parses RDF/XML into a per-record graph and evaluates the
//!   pipeline's prepared SPARQL SELECT into typed Arrow rows.
//! - [`engine`]: wires the stages with bounded channels, keeps at most N
//!   fetches in flight, puts results back in cursor order, handles shutdown.
//! - [`load`]: Parquet and CSV part files, `_errors.csv`, `_manifest.json`,
//!   `_SUCCESS`, and the commit protocol; [`checkpoint`] is the resumable state.
//! - [`pipeline`]: the pipeline file (TOML), its pure validation and the plan.
//! - [`sandbox`]: the embedded SMART Classic container used by the demo, the
//!   tests and the benchmarks.
//! - [`progress`]: progress reporting kept out of the library's logic.
//! - [`report`]: `_report.html`, the run report people look at.
//!
//! Shared vocabulary: [`secret::Secret`], [`failure::RecordFailure`],
//! [`schema::ColumnType`].

pub mod checkpoint;
pub mod cli;
pub mod commands;
pub mod engine;
pub mod extract;
pub mod failure;
pub mod load;
pub mod pipeline;
pub mod progress;
pub mod record;
pub mod report;
pub mod sandbox;
pub mod schema;
pub mod secret;
pub mod text;
pub mod transform;
