//! smartsweep: a SMART Classic background app as a batch ETL tool.
//!
//! A record id ([`record::RecordId`]) travels through the modules in this
//! order:
//!
//! - [`extract`]: OAuth 1.0 signing, the container client, the cursor walk
//!   (one chain or K chains from seeds, with cycle detection) or known ids,
//!   the retry policy and every bound on what a container may send. Yields
//!   `(record_id, token)` and then each resource's RDF/XML.
//! - [`transform`]: parses RDF/XML into a per-record graph (a fast reader
//!   for the common styles, oxrdfxml for the rest) and evaluates every
//!   table's prepared SPARQL SELECT over it into typed Arrow rows (one
//!   parse per resource however many tables query it).
//! - [`engine`]: a run in phases (open, walk, fetch and transform, sink,
//!   finish): per-chain producers, fetch groups of one record's resources
//!   under one concurrency budget, results back in cursor order, the
//!   failure policy and shutdown.
//! - [`load`]: the [`load::destination::Destination`] seam (local
//!   directories and object stores through [`load::Store`], Delta tables),
//!   the commit protocol, Parquet and CSV parts, `_errors.csv`, the typed
//!   [`load::manifest::Manifest`], `verify`; [`checkpoint`] is the
//!   resumable state (per-chain watermarks, per-table parts).
//! - [`pipeline`]: the pipeline file (TOML, one table or `[[tables]]`), its
//!   validation (every problem, each with its place) and the one
//!   [`pipeline::Plan`] every command runs.
//! - [`commands`]: `run`, `audit`, `preview`, `validate`, `plan`/`commit`
//!   (shards), `report`, `verify`, `status`; [`cli`] is their `--help`.
//! - [`sandbox`]: the embedded SMART Classic container (a resource
//!   registry, faults, `--from-dir`) used by the demo, the tests and the
//!   benchmarks.
//! - [`report`]: `_report.html`, the run report people look at.
//! - [`progress`]: progress reporting kept out of the library's logic.
//!
//! Shared vocabulary: [`secret::Secret`], [`failure::RecordFailure`],
//! [`schema::ColumnType`], [`text`] (bounded, escaped excerpts of untrusted
//! text).

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
