//! The straightforward transform, as a reference for the equivalence tests
//! and a baseline for the bench: oxrdfxml's strict parser (with the request
//! URL as base IRI) into a fresh `oxrdf::Dataset`, then spareval, then
//! smartsweep's public [`Projection::rows_from_solutions`] for the typed
//! rows. It shares no parsing or graph code with `Projection::apply`.
//!
//! Decisions it must make the same way as the product (so that rows compare
//! equal): blank nodes get the labels `b0`, `b1`, ... in order of first
//! appearance in the record, each page being its own blank-node scope; a
//! UTF-8 byte-order mark is skipped; a body that stops before its root
//! element is closed is refused (checked here with quick-xml, independently).

use oxrdf::{BlankNode, Dataset, GraphName, NamedOrBlankNode, Quad, Term};
use oxrdfxml::RdfXmlParser;
use quick_xml::events::Event;
use smartsweep::transform::{Projection, RecordRows, TransformError};
use spareval::{QueryEvaluator, QueryResults};
use std::collections::HashMap;

/// What [`Projection::apply`] computes, the straightforward way.
pub fn apply_naive(
    projection: &Projection,
    record_id: &str,
    pages: &[&[u8]],
    base_iri: &str,
) -> Result<RecordRows, TransformError> {
    let dataset = parse(pages, base_iri)?;
    let fail = |e: spareval::QueryEvaluationError| TransformError::new(e.to_string());
    let results = QueryEvaluator::new()
        .prepare(projection.query())
        .execute(&dataset)
        .map_err(fail)?;
    let QueryResults::Solutions(solutions) = results else {
        return Err(TransformError::new("not a SELECT"));
    };
    let solutions = solutions.collect::<Result<Vec<_>, _>>().map_err(fail)?;
    Ok(projection.rows_from_solutions(record_id, solutions))
}

/// Every page into one dataset (default graph), blank nodes relabelled.
pub fn parse(pages: &[&[u8]], base_iri: &str) -> Result<Dataset, TransformError> {
    if pages.is_empty() {
        return Err(TransformError::new("no pages"));
    }
    let parser = RdfXmlParser::new()
        .with_base_iri(base_iri)
        .map_err(|e| TransformError::new(format!("base IRI: {e}")))?;
    let mut dataset = Dataset::new();
    let mut labels: HashMap<BlankNode, BlankNode> = HashMap::new();
    let mut count = 0u32;
    for page in pages {
        let doc = page.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(page);
        labels.clear();
        let mut relabel = |b: BlankNode| {
            labels
                .entry(b)
                .or_insert_with(|| {
                    count += 1;
                    BlankNode::new_unchecked(format!("b{}", count - 1))
                })
                .clone()
        };
        for triple in parser.clone().for_slice(doc) {
            let t = triple.map_err(|e| TransformError::new(e.to_string()))?;
            let subject: NamedOrBlankNode = match t.subject {
                NamedOrBlankNode::BlankNode(b) => relabel(b).into(),
                s => s,
            };
            let object = match t.object {
                Term::BlankNode(b) => relabel(b).into(),
                o => o,
            };
            dataset.insert(&Quad::new(
                subject,
                t.predicate,
                object,
                GraphName::DefaultGraph,
            ));
        }
        check_closed(doc)?;
    }
    Ok(dataset)
}

/// The document has a root element and it is closed: quick-xml reads to the
/// end without an error and the element depth comes back to zero.
fn check_closed(doc: &[u8]) -> Result<(), TransformError> {
    let mut reader = quick_xml::Reader::from_reader(doc);
    let mut depth = 0usize;
    let mut roots = 0usize;
    let mut buf = Vec::new();
    loop {
        let event = reader
            .read_event_into(&mut buf)
            .map_err(|e| TransformError::new(format!("XML: {e}")))?;
        match event {
            Event::Start(_) => {
                roots += usize::from(depth == 0);
                depth += 1;
            }
            Event::Empty(_) => roots += usize::from(depth == 0),
            Event::End(_) => depth = depth.saturating_sub(1),
            Event::Eof => break,
            _ => {}
        }
        buf.clear();
    }
    if roots == 0 || depth != 0 {
        return Err(TransformError::new("no root element, or it is not closed"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unclosed_and_empty_bodies_are_refused() {
        assert!(check_closed(b"<a><b/></a>").is_ok());
        assert!(check_closed(b"<?xml version=\"1.0\"?>\n<a/>\n").is_ok());
        assert!(check_closed(b"<a><b/>").is_err());
        assert!(check_closed(b"").is_err());
        assert!(check_closed(b"  \n").is_err());
    }

    #[test]
    fn blank_nodes_are_relabelled_per_page() {
        let page = br#"<rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#" xmlns:ex="http://x/">
<rdf:Description rdf:nodeID="n1"><ex:p>1</ex:p></rdf:Description></rdf:RDF>"#;
        let d = parse(&[page, page], "http://x/").unwrap_or_default();
        let labels: Vec<String> = d
            .iter()
            .map(|q| q.subject.to_string())
            .collect::<std::collections::BTreeSet<_>>()
            .into_iter()
            .collect();
        assert_eq!(labels, ["_:b0", "_:b1"]);
    }
}
