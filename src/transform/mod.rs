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
//! [`Projection::apply`] runs per record. Rows come out in the query's
//! `ORDER BY` order when it has one, otherwise sorted by the projected values
//! (see `convert::cmp_rows`), so the same record gives the same bytes whatever
//! the order of its serialization. A value that does not convert to its
//! column type is null in the row and reported as a [`ConversionIssue`]; a
//! body that is not RDF/XML is a [`TransformError`] with its line and column.
//!
//! Speed: the graph is a purpose-built `QueryableDataset` (`graph.rs`:
//! interned terms, flat triples, lazily built indexes, buffers reused per
//! thread) over a lenient parse whose distinct terms are validated once. The
//! straightforward path (a fresh `oxrdf::Dataset` per record, strict parse)
//! is kept as [`Projection::apply_naive`] for the equivalence tests and the
//! bench.

mod convert;
mod error;
mod graph;
mod parse;
#[doc(hidden)]
pub mod testing;

pub use error::{QueryError, QueryProblem, TransformError};

use crate::schema::ColumnType;
use arrow_array::builder::StringBuilder;
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{Field, Schema, SchemaRef};
use convert::ColumnBuilder;
use graph::RecordGraph;
use oxrdf::{BlankNode, Dataset, GraphName, Quad, Term};
use spareval::{QueryEvaluator, QueryResults, QueryableDataset};
use spargebra::algebra::GraphPattern;
use spargebra::{Query, SparqlParser};
use std::cell::RefCell;
use std::collections::{BTreeMap, HashMap};
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
        let ordered = match &query {
            Query::Select { pattern, .. } => has_order_by(pattern),
            _ => false,
        };
        Ok(Projection {
            query,
            variables,
            types,
            schema: Arc::new(Schema::new(fields)),
            ordered,
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
        SCRATCH.with(|cell| {
            // Taken out of the cell for the duration, so a nested call (none
            // today) would simply get a fresh graph.
            let mut graph = cell.borrow_mut().take().unwrap_or_default();
            graph.clear();
            let result = self.apply_on(&mut graph, record_id, pages, base_iri);
            graph.clear();
            *cell.borrow_mut() = Some(graph);
            result
        })
    }

    fn apply_on(
        &self,
        graph: &mut RecordGraph,
        record_id: &str,
        pages: &[&[u8]],
        base_iri: &str,
    ) -> Result<RecordRows, TransformError> {
        // `parse_pages` needs two closures over the graph: share it through a
        // RefCell for the duration of the parse.
        let cell = RefCell::new(graph);
        parse::parse_pages(
            pages,
            base_iri,
            true,
            || cell.borrow_mut().begin_page(),
            |t| {
                let mut g = cell.borrow_mut();
                let s = intern_checked(&mut g, t.subject.into())?;
                let p = intern_checked(&mut g, t.predicate.into())?;
                let o = intern_checked(&mut g, no_empty_lang(t.object))?;
                g.insert(s, p, o);
                Ok(())
            },
        )?;
        let graph: &RecordGraph = cell.into_inner();
        let rows = self.evaluate(graph)?;
        Ok(self.build(record_id, rows))
    }

    /// The straightforward path: a strict parse into a fresh
    /// `oxrdf::Dataset`, then spareval. Same rows as [`Projection::apply`];
    /// kept for the equivalence tests and the bench.
    #[doc(hidden)]
    pub fn apply_naive(
        &self,
        record_id: &str,
        pages: &[&[u8]],
        base_iri: &str,
    ) -> Result<RecordRows, TransformError> {
        let dataset = RefCell::new(Dataset::new());
        // The same canonical blank-node labels as the fast path.
        let blanks: RefCell<(HashMap<BlankNode, BlankNode>, u32)> = RefCell::default();
        let relabel = |b: BlankNode| {
            let mut bl = blanks.borrow_mut();
            if let Some(l) = bl.0.get(&b) {
                return l.clone();
            }
            let l = graph::canonical_blank(bl.1);
            bl.1 += 1;
            bl.0.insert(b, l.clone());
            l
        };
        parse::parse_pages(
            pages,
            base_iri,
            false,
            || blanks.borrow_mut().0.clear(),
            |t| {
                let subject = match t.subject {
                    oxrdf::NamedOrBlankNode::BlankNode(b) => relabel(b).into(),
                    s => s,
                };
                let object = match t.object {
                    Term::BlankNode(b) => relabel(b).into(),
                    o => o,
                };
                dataset.borrow_mut().insert(&Quad::new(
                    subject,
                    t.predicate,
                    object,
                    GraphName::DefaultGraph,
                ));
                Ok(())
            },
        )?;
        let dataset = dataset.into_inner();
        let rows = self.evaluate(&dataset)?;
        Ok(self.build(record_id, rows))
    }

    fn evaluate<'a>(
        &self,
        dataset: impl QueryableDataset<'a>,
    ) -> Result<Vec<Vec<Option<Term>>>, TransformError> {
        let eval_err = |e: spareval::QueryEvaluationError| {
            TransformError::new(format!("query evaluation failed: {e}"))
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
            let solution = solution.map_err(eval_err)?;
            rows.push(solution.values().to_vec());
        }
        if !self.ordered {
            rows.sort_by(|a, b| convert::cmp_rows(a, b));
        }
        Ok(rows)
    }

    fn build(&self, record_id: &str, rows: Vec<Vec<Option<Term>>>) -> RecordRows {
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
        for row in &rows {
            for ((b, name), value) in builders.iter_mut().zip(&self.variables).zip(row) {
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

/// `xml:lang=""` means "no language" in RDF/XML; the lenient parser keeps
/// it as an empty tag, which is not a valid language tag: make it plain.
fn no_empty_lang(term: Term) -> Term {
    match term {
        Term::Literal(l) if l.language() == Some("") => {
            let (value, _, _) = l.destruct();
            oxrdf::Literal::new_simple_literal(value).into()
        }
        t => t,
    }
}

fn intern_checked(g: &mut RecordGraph, term: Term) -> Result<u32, String> {
    let (id, new) = g.intern(term);
    if let Some(t) = new {
        parse::validate_term(t)?;
    }
    Ok(id)
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
