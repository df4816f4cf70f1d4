//! Test and benchmark support for smartsweep. Dev-only: a dev-dependency of
//! the root package's tests and benches, never a dependency of the library or
//! the binary, never published.
//!
//! - [`damage`]: byte-level edits that damage a valid answer.
//! - [`model`]: a model of one record's medications answer, its RDF/XML
//!   writers (flat and nested styles) and a deterministic record generator.
//! - [`naive`]: the straightforward transform (strict oxrdfxml parse into an
//!   `oxrdf::Dataset`, then spareval), the reference the product's fast path
//!   is checked against.
//! - [`queries`]: the queries the tests run, and the shipped pipelines.
//! - [`rows`]: rows as JSON text, for comparing with other engines.
//! - [`strategies`]: proptest strategies for random records.

pub mod damage;
pub mod model;
pub mod naive;
pub mod queries;
pub mod rows;
pub mod strategies;

pub use model::*;
pub use naive::apply_naive;
pub use queries::*;
pub use rows::rows_as_json;
