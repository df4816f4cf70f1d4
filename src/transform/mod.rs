//! transform: one record's RDF/XML answer to typed Arrow rows, through the
//! pipeline's SPARQL SELECT.
//!
//! This module owns parsing the container's answer (every page of one record
//! forms one graph; blank nodes stay page-scoped), evaluating the prepared
//! SELECT with spareval, and converting the solutions to an Arrow
//! [`RecordBatch`] whose columns are `record_id` (Utf8, never null) then the
//! SELECT's variables, typed by the pipeline's `[columns]` table.
//!
//! The query is parsed and checked once per run ([`Projection::prepare`]);
//! [`Projection::apply`] runs per record. Tables over the same resource
//! share one parse through a [`ProjectionSet`] (a set of one is the same
//! path as [`Projection::apply`]). Rows come out in the query's
//! `ORDER BY` order when it has one, otherwise sorted by the projected values
//! (see `convert::cmp_rows`), so the same record gives the same bytes whatever
//! the order of its serialization. A value that does not convert to its
//! column type is null in the row and reported as a [`ConversionIssue`]; a
//! body that is not RDF/XML is a [`TransformError`] with its line and column.
//!
//! Decisions worth knowing:
//! - Term text: an IRI is its string, a literal its lexical value, a blank
//!   node `_:b0`, `_:b1`, ... numbered per record in order of first
//!   appearance (documents' own labels mean nothing across answers).
//! - `SELECT *` projects the variables in alphabetical order (spargebra sorts
//!   them); `FROM`/`FROM NAMED` are refused (a record is one graph).
//! - Column conversions are documented in `convert.rs` (dates accept a full
//!   date-time's date part; timestamps without a zone are UTC; a bare date is
//!   midnight UTC).
//! - `xml:lang=""` gives a plain literal, as RDF/XML says (oxrdfxml's strict
//!   mode refuses it).
//! - With `ORDER BY`, rows that tie keep spareval's order, which is the same
//!   for the same bytes but may differ between two serializations of one
//!   graph; without `ORDER BY`, `LIMIT`/`OFFSET` pick rows in that order too.
//!
//! Speed (see `benches/transform.rs`): the graph is a purpose-built
//! `QueryableDataset` (`graph.rs`: interned terms, flat deduplicated triples,
//! indexes built on first use, buffers reused per thread); the parse is
//! oxrdfxml's lenient mode without a base IRI, with each distinct IRI, datatype
//! and language tag checked once (`parse::check_iri`, `parse::validate_term`)
//! and the rare relative IRI resolved here (`iri.rs`); triples whose predicate
//! the query cannot match (`predicates.rs`) are validated, then dropped. The
//! straightforward path (strict parse into a fresh `oxrdf::Dataset`, then
//! spareval) lives in the dev-only `smartsweep-testkit` crate
//! (`crates/testkit`), for the equivalence tests and the bench.
//!
//! Hostile bodies: a record's XML entity declarations and references may
//! produce at most [`ENTITY_EXPANSION_LIMIT`] (1 MiB) of text in all; past
//! that the record fails before anything is expanded (`entities.rs`), so
//! "billion laughs" and quadratic blow-up bodies cost a scan, not gigabytes.
//! A body that starts like an HTML page is named as such. Every
//! [`TransformError`] message is bounded (short escaped excerpts only).
//!
//! Known gaps: oxrdfxml refuses a literal split into several text events (text
//! next to a CDATA section, or two sections): such a body is a
//! [`TransformError`], never silently cut. Only UTF-8 bodies are read. The IRI
//! check is syntactic (scheme, forbidden characters, `%XX`), not a full
//! RFC 3987 parse.

mod convert;
mod entities;
mod error;
mod fastxml;
mod graph;
mod iri;
mod parse;
mod predicates;
mod sink;

pub use entities::ENTITY_EXPANSION_LIMIT;
pub use error::{QueryError, QueryProblem, TransformError};

use crate::schema::ColumnType;
use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use convert::ColumnBuilder;
use graph::RecordGraph;
use oxrdf::Dataset;
use sink::Sink;
use spareval::{QueryEvaluator, QueryResults, QuerySolution, QueryableDataset};
use spargebra::algebra::GraphPattern;
use spargebra::{Query, SparqlParser};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashSet};
use std::sync::Arc;

/// The name of the column that holds the record id (always first).
pub const RECORD_ID_COLUMN: &str = "record_id";

/// The pipeline's SELECT, parsed and checked once per run, applied per record.
///
/// `Send + Sync`: share it between worker threads behind an `Arc`.
pub struct Projection {
    query: Query,
    variables: Vec<String>,
    types: Vec<ColumnType>,
    schema: SchemaRef,
    ordered: bool,
    /// The predicate IRIs the query can match, when they are all constants
    /// (no `?p` in predicate position, no negated property set): triples
    /// with other predicates are dropped before they reach the graph.
    predicates: Option<HashSet<String>>,
}

/// The rows of one record.
#[derive(Debug, Clone)]
pub struct RecordRows {
    /// `record_id` then the SELECT's variables; zero rows is a valid answer.
    pub batch: RecordBatch,
    /// Values that did not convert to their column's type (null in `batch`).
    pub conversions: Vec<ConversionIssue>,
}

/// A value that did not convert to its column's type; the row has a null.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ConversionIssue {
    /// The column (SELECT variable) name.
    pub column: String,
    /// The value as text (an IRI, a literal's lexical form, or `_:label`).
    pub value: String,
}

fn query_form(q: &Query) -> Option<&'static str> {
    match q {
        Query::Select { .. } => None,
        Query::Construct { .. } => Some("CONSTRUCT"),
        Query::Ask { .. } => Some("ASK"),
        Query::Describe { .. } => Some("DESCRIBE"),
    }
}

fn has_order_by(p: &GraphPattern) -> bool {
    match p {
        GraphPattern::Slice { inner, .. }
        | GraphPattern::Distinct { inner }
        | GraphPattern::Reduced { inner }
        | GraphPattern::Project { inner, .. } => has_order_by(inner),
        GraphPattern::OrderBy { .. } => true,
        _ => false,
    }
}

thread_local! {
    /// Each worker thread keeps one graph and reuses its buffers.
    static SCRATCH: RefCell<Option<RecordGraph>> = const { RefCell::new(None) };
}

impl Projection {
    /// Parses and checks the query once per run. Refuses anything but a
    /// SELECT, and reports every problem at once: bad SPARQL (with the
    /// parser's line:column), a `[columns]` key that is not a SELECT
    /// variable, a variable named `record_id`, a `FROM`/`FROM NAMED` clause.
    pub fn prepare(
        sparql: &str,
        columns: &BTreeMap<String, ColumnType>,
    ) -> Result<Projection, QueryError> {
        let fail = |problems| Err(QueryError { problems });
        let query = match SparqlParser::new().parse_query(sparql) {
            Ok(q) => q,
            Err(e) => {
                return fail(vec![QueryProblem::Syntax {
                    message: e.to_string(),
                }]);
            }
        };
        if let Some(form) = query_form(&query) {
            return fail(vec![QueryProblem::NotSelect { form }]);
        }
        let mut problems = Vec::new();
        if let Query::Select {
            dataset: Some(_), ..
        } = &query
        {
            problems.push(QueryProblem::Unsupported {
                message: "FROM / FROM NAMED: each record is one graph; remove the clause".into(),
            });
        }
        if let Query::Select { pattern, .. } = &query
            && predicates::has_service(pattern)
        {
            problems.push(QueryProblem::Unsupported {
                message: "SERVICE: a record is evaluated on its own, without federation; \
                          remove the SERVICE clause"
                    .into(),
            });
        }
        // The variables exactly as spareval reports them (SELECT * included).
        let empty = Dataset::new();
        let variables: Vec<String> = match QueryEvaluator::new().prepare(&query).execute(&empty) {
            Ok(QueryResults::Solutions(s)) => s
                .variables()
                .iter()
                .map(|v| v.as_str().to_owned())
                .collect(),
            Ok(_) => Vec::new(),
            Err(e) => {
                problems.push(QueryProblem::Unsupported {
                    message: e.to_string(),
                });
                Vec::new()
            }
        };
        if variables.iter().any(|v| v == RECORD_ID_COLUMN) {
            problems.push(QueryProblem::ReservedVariable);
        }
        for key in columns.keys() {
            if !variables.contains(key) {
                problems.push(QueryProblem::UnknownColumn {
                    column: key.clone(),
                    variables: variables.iter().map(|v| format!("?{v}")).collect(),
                });
            }
        }
        if !problems.is_empty() {
            return fail(problems);
        }
        let types: Vec<ColumnType> = variables
            .iter()
            .map(|v| columns.get(v).copied().unwrap_or_default())
            .collect();
        let mut fields = vec![Field::new(
            RECORD_ID_COLUMN,
            arrow_schema::DataType::Utf8,
            false,
        )];
        fields.extend(
            variables
                .iter()
                .zip(&types)
                .map(|(v, t)| Field::new(v, convert::data_type(*t), true)),
        );
        let (ordered, predicates) = match &query {
            Query::Select { pattern, .. } => {
                let mut set = HashSet::new();
                let all = predicates::collect_pattern(pattern, &mut set).is_none();
                (has_order_by(pattern), (!all).then_some(set))
            }
            _ => (false, None),
        };
        Ok(Projection {
            query,
            variables,
            types,
            schema: Arc::new(Schema::new(fields)),
            ordered,
            predicates,
        })
    }

    /// The SELECT's variables, in order (without `?`).
    pub fn variables(&self) -> &[String] {
        &self.variables
    }

    /// `record_id` (Utf8, not null) first, then one nullable column per
    /// variable with the type from `[columns]` (Utf8 by default).
    pub fn schema(&self) -> SchemaRef {
        Arc::clone(&self.schema)
    }

    /// Evaluates the query over one record: all `pages` of the record's
    /// answer form one graph (blank node labels are scoped to their page).
    /// `base_iri` is the request URL, against which relative IRIs resolve.
    pub fn apply(
        &self,
        record_id: &str,
        pages: &[&[u8]],
        base_iri: &str,
    ) -> Result<RecordRows, TransformError> {
        with_graph(|graph| {
            parse_into(graph, pages, base_iri, self.predicates.as_ref())?;
            self.run(record_id, &*graph)
        })
    }

    /// Evaluates and builds the batch while the solutions (which may borrow
    /// the dataset) are alive.
    fn run<'a>(
        &self,
        record_id: &str,
        dataset: impl QueryableDataset<'a>,
    ) -> Result<RecordRows, TransformError> {
        let eval_err = |e: spareval::QueryEvaluationError| {
            TransformError::new(format!(
                "query evaluation failed: {}",
                error::quote(&e.to_string())
            ))
        };
        let results = QueryEvaluator::new()
            .prepare(&self.query)
            .execute(dataset)
            .map_err(eval_err)?;
        let QueryResults::Solutions(solutions) = results else {
            return Err(TransformError::new("the query is not a SELECT"));
        };
        let mut rows = Vec::new();
        for solution in solutions {
            rows.push(solution.map_err(eval_err)?);
        }
        Ok(self.rows_from_solutions(record_id, rows))
    }

    /// The parsed SELECT (for evaluating it over another dataset, e.g. a
    /// reference implementation in the tests).
    pub fn query(&self) -> &Query {
        &self.query
    }

    /// Typed rows from the SELECT's solutions, however they were evaluated:
    /// sorted as [`Projection::apply`] sorts them (by value, unless the query
    /// has an `ORDER BY`), each value converted to its column's type.
    pub fn rows_from_solutions(
        &self,
        record_id: &str,
        mut solutions: Vec<QuerySolution>,
    ) -> RecordRows {
        if !self.ordered {
            solutions.sort_by(|a, b| convert::cmp_rows(a.values(), b.values()));
        }
        self.build(record_id, &solutions)
    }

    fn build(&self, record_id: &str, rows: &[QuerySolution]) -> RecordRows {
        let n = rows.len();
        let mut ids = StringBuilder::with_capacity(n, n * record_id.len());
        for _ in 0..n {
            ids.append_value(record_id);
        }
        let mut builders: Vec<ColumnBuilder> = self
            .types
            .iter()
            .map(|t| ColumnBuilder::new(*t, n))
            .collect();
        let mut conversions = Vec::new();
        for row in rows {
            for ((b, name), value) in builders.iter_mut().zip(&self.variables).zip(row.values()) {
                b.push(name, value.as_ref(), &mut conversions);
            }
        }
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(builders.len() + 1);
        columns.push(Arc::new(ids.finish()));
        columns.extend(builders.into_iter().map(ColumnBuilder::finish));
        let batch = match RecordBatch::try_new(self.schema(), columns) {
            Ok(b) => b,
            // The columns are built from the schema's own types and all have
            // `n` rows, so this cannot fail; keep a typed empty batch anyway.
            Err(_) => RecordBatch::new_empty(self.schema()),
        };
        RecordRows { batch, conversions }
    }
}

/// Several pipelines' projections over the same resource: one parse of the
/// record's answer into one graph, then each query evaluated on it, so that
/// tables sharing a resource share its fetch and its parse.
///
/// The graph keeps the union of the triples the queries can match (every
/// triple when one of them has a variable predicate). `Send + Sync`.
pub struct ProjectionSet {
    projections: Vec<Arc<Projection>>,
    predicates: Option<HashSet<String>>,
}

impl ProjectionSet {
    /// The set of `projections`, applied in this order.
    pub fn new(projections: Vec<Arc<Projection>>) -> Self {
        let mut union = Some(HashSet::new());
        for p in &projections {
            match (&mut union, &p.predicates) {
                (Some(u), Some(wanted)) => u.extend(wanted.iter().cloned()),
                _ => union = None,
            }
        }
        Self {
            projections,
            predicates: union,
        }
    }

    /// The projections, in order.
    pub fn projections(&self) -> &[Arc<Projection>] {
        &self.projections
    }

    /// Parses the record once and evaluates every projection on the graph:
    /// one [`RecordRows`] per projection, in order, each the same as that
    /// projection's [`Projection::apply`] would give. A body that does not
    /// parse fails every table of the record; so does (rarely) a query that
    /// fails to evaluate, whose error names its place in the set.
    pub fn apply(
        &self,
        record_id: &str,
        pages: &[&[u8]],
        base_iri: &str,
    ) -> Result<Vec<RecordRows>, TransformError> {
        with_graph(|graph| {
            parse_into(graph, pages, base_iri, self.predicates.as_ref())?;
            let n = self.projections.len();
            self.projections
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    p.run(record_id, &*graph).map_err(|mut e| {
                        if n > 1 {
                            e.message = format!("projection {} of {n}: {}", i + 1, e.message);
                        }
                        e
                    })
                })
                .collect()
        })
    }
}

/// Runs `f` on this thread's graph, emptied before and after (each worker
/// thread keeps one graph and reuses its buffers).
fn with_graph<T>(f: impl FnOnce(&mut RecordGraph) -> T) -> T {
    SCRATCH.with(|cell| {
        // Taken out of the cell for the duration, so a nested call (none
        // today) would simply get a fresh graph.
        let mut graph = cell.borrow_mut().take().unwrap_or_default();
        graph.clear();
        let out = f(&mut graph);
        graph.clear();
        *cell.borrow_mut() = Some(graph);
        out
    })
}

/// Parses every page into `graph`, keeping the triples whose predicate is
/// in `wanted` (all when `None`).
fn parse_into(
    graph: &mut RecordGraph,
    pages: &[&[u8]],
    base_iri: &str,
    wanted: Option<&HashSet<String>>,
) -> Result<(), TransformError> {
    #[cfg(feature = "parse-counter")]
    PARSES.with(|c| c.set(c.get() + 1));
    parse::parse_pages(pages, base_iri, &mut Sink::new(graph, base_iri, wanted))
}

#[cfg(feature = "parse-counter")]
thread_local! {
    static PARSES: std::cell::Cell<u64> = const { std::cell::Cell::new(0) };
}

/// How many records this thread has parsed (`parse-counter` feature, for
/// the tests that check a [`ProjectionSet`] parses once; never in a release
/// build of the binary).
#[cfg(feature = "parse-counter")]
pub fn parses_on_this_thread() -> u64 {
    PARSES.with(std::cell::Cell::get)
}

/// Which reader read this thread's pages so far: pages the fast reader
/// read, pages handed to oxrdfxml, and the last reason for handing one
/// over (byte offset, what the fast reader met). `parse-counter` feature,
/// for the tests; never in a release build of the binary.
#[cfg(feature = "parse-counter")]
pub fn reader_counts_on_this_thread() -> (u64, u64, Option<(usize, &'static str)>) {
    parse::counters::get()
}

/// Sends this thread's pages to oxrdfxml (`false`) or, as normally, first
/// to the fast reader (`true`): for the tests and the bench that compare
/// both readers (the engine never calls it).
#[doc(hidden)]
pub fn set_fast_reader_on_this_thread(enabled: bool) {
    parse::counters::set_fast_reader(enabled);
}

#[cfg(feature = "parse-counter")]
impl Projection {
    /// The graph [`Projection::apply`] would query, as text: every term in
    /// id order, then every triple as ids, in order (`parse-counter`
    /// feature, for the tests that compare the two readers).
    pub fn graph_text(&self, pages: &[&[u8]], base_iri: &str) -> Result<String, TransformError> {
        with_graph(|graph| {
            parse_into(graph, pages, base_iri, self.predicates.as_ref())?;
            Ok(graph.dump())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn assert_send_sync<T: Send + Sync>() {}

    #[test]
    fn projection_is_send_and_sync() {
        assert_send_sync::<Projection>();
    }
}
