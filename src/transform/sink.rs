//! Triples into the record's graph, whichever reader produced them: the
//! fast reader (`fastxml.rs`, borrowed text) and oxrdfxml (owned terms) go
//! through the same steps, in the same order, so that both build the same
//! graph (same terms, same ids, same blank node numbers, same triples).
//!
//! Per triple: the predicate is interned (and checked once, when new); when
//! the query cannot match it, the subject and object are only checked
//! (blank nodes still take their numbers, so numbers are the whole graph's);
//! otherwise subject and object are resolved against the base when relative
//! (`iri.rs`), interned, checked when new, and the triple is added.

use super::graph::{Blank, RecordGraph};
use super::{iri, parse};
use oxrdf::vocab::xsd;
use oxrdf::{LiteralRef, NamedNodeRef, NamedOrBlankNode, Term, TermRef, Triple};
use std::collections::HashSet;

/// A subject, or an object that is not a literal.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Node<'a> {
    /// An IRI as written (maybe relative).
    Iri(&'a str),
    /// A blank node of the current page.
    Blank(Blank<'a>),
}

/// An object.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Object<'a> {
    Node(Node<'a>),
    /// A literal as written: its datatype IRI may be relative, its
    /// language tag empty (`xml:lang=""`, no language).
    Literal(LiteralRef<'a>),
}

/// A predicate interned in the record's graph.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Pred {
    id: u32,
    /// Whether the query can match it (else its triples are only checked).
    wanted: bool,
}

/// What is known of a subject between its triples.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct SubjectMemo {
    /// Its id, once interned.
    id: Option<u32>,
    /// Whether its IRI was checked.
    checked: bool,
}

/// The record's graph being built, with what every triple needs.
pub(crate) struct Sink<'g> {
    pub(crate) graph: &'g mut RecordGraph,
    base: &'g str,
    wanted: Option<&'g HashSet<String>>,
}

impl<'g> Sink<'g> {
    pub(crate) fn new(
        graph: &'g mut RecordGraph,
        base: &'g str,
        wanted: Option<&'g HashSet<String>>,
    ) -> Self {
        Self {
            graph,
            base,
            wanted,
        }
    }

    /// Interns a predicate: its id, and whether the query can match it.
    #[inline]
    pub(crate) fn predicate(&mut self, iri: &str) -> Result<Pred, String> {
        let id = self.intern_checked(NamedNodeRef::new_unchecked(iri).into())?;
        Ok(Pred {
            id,
            wanted: self.graph.predicate_wanted(id, self.wanted),
        })
    }

    /// Adds one triple; an error message names a term the graph refuses.
    #[inline]
    pub(crate) fn triple(
        &mut self,
        subject: Node<'_>,
        predicate: &str,
        object: Object<'_>,
    ) -> Result<(), String> {
        let p = self.predicate(predicate)?;
        self.triple_with(subject, &mut SubjectMemo::default(), p, object)
    }

    /// Adds one triple whose predicate is interned already; `memo` keeps
    /// what is known of the subject between its triples (its id once
    /// interned, whether it was checked), which changes nothing but the
    /// work: the same calls on the graph happen in the same order.
    #[inline]
    pub(crate) fn triple_with(
        &mut self,
        subject: Node<'_>,
        memo: &mut SubjectMemo,
        p: Pred,
        object: Object<'_>,
    ) -> Result<(), String> {
        if !p.wanted {
            // Dropped, but still validated (the body must be valid whatever
            // the query), and its blank nodes still take their numbers.
            match subject {
                Node::Blank(b) => {
                    if memo.id.is_none() {
                        memo.id = Some(self.graph.blank(b));
                    }
                }
                Node::Iri(s) => {
                    if !memo.checked {
                        with_absolute(s, self.base, |s| {
                            parse::validate_term(NamedNodeRef::new_unchecked(s).into())
                        })?;
                        memo.checked = true;
                    }
                }
            }
            return match object {
                Object::Node(Node::Blank(b)) => {
                    self.graph.blank(b);
                    Ok(())
                }
                Object::Node(Node::Iri(o)) => with_absolute(o, self.base, |o| {
                    parse::validate_term(NamedNodeRef::new_unchecked(o).into())
                }),
                Object::Literal(l) => {
                    with_literal(l, self.base, |l| parse::validate_term(l.into()))
                }
            };
        }
        let s = match memo.id {
            Some(id) => id,
            None => {
                let id = self.node(subject)?;
                memo.id = Some(id);
                memo.checked = true;
                id
            }
        };
        let o = match object {
            Object::Node(n) => self.node(n)?,
            Object::Literal(l) => {
                let base = self.base;
                with_literal(l, base, |l| self.intern_checked(l.into()))?
            }
        };
        self.graph.insert(s, p.id, o);
        Ok(())
    }

    /// The same for a triple from oxrdfxml.
    pub(crate) fn owned_triple(&mut self, t: &Triple) -> Result<(), String> {
        fn node(n: &NamedOrBlankNode) -> Node<'_> {
            match n {
                NamedOrBlankNode::NamedNode(n) => Node::Iri(n.as_str()),
                NamedOrBlankNode::BlankNode(b) => Node::Blank(Blank::Label(b.as_str())),
            }
        }
        let object = match &t.object {
            Term::NamedNode(n) => Object::Node(Node::Iri(n.as_str())),
            Term::BlankNode(b) => Object::Node(Node::Blank(Blank::Label(b.as_str()))),
            Term::Literal(l) => Object::Literal(l.as_ref()),
        };
        self.triple(node(&t.subject), t.predicate.as_str(), object)
    }

    #[inline]
    fn node(&mut self, n: Node<'_>) -> Result<u32, String> {
        match n {
            Node::Blank(b) => Ok(self.graph.blank(b)),
            Node::Iri(i) => {
                let base = self.base;
                with_absolute(i, base, |i| {
                    self.intern_checked(NamedNodeRef::new_unchecked(i).into())
                })
            }
        }
    }

    #[inline]
    fn intern_checked(&mut self, term: TermRef<'_>) -> Result<u32, String> {
        let (id, new) = self.graph.intern(term);
        if let Some(t) = new {
            parse::validate_term(t.as_ref())?;
        }
        Ok(id)
    }
}

/// Calls `f` with the IRI resolved against `base` when it is relative (the
/// parser hands IRIs over as written; see `iri.rs`).
#[inline]
fn with_absolute<T>(iri: &str, base: &str, f: impl FnOnce(&str) -> T) -> T {
    if iri::needs_resolution(iri) {
        f(&iri::resolve(base, iri))
    } else {
        f(iri)
    }
}

/// Calls `f` with the literal as the graph holds it: `xml:lang=""` means no
/// language (RDF/XML), and a relative datatype IRI is resolved.
#[inline]
fn with_literal<T>(l: LiteralRef<'_>, base: &str, f: impl FnOnce(LiteralRef<'_>) -> T) -> T {
    match l.language() {
        Some("") => f(LiteralRef::new_simple_literal(l.value())),
        Some(_) => f(l),
        None => {
            let dt = l.datatype();
            if dt != xsd::STRING && iri::needs_resolution(dt.as_str()) {
                let resolved = iri::resolve(base, dt.as_str());
                f(LiteralRef::new_typed_literal(
                    l.value(),
                    NamedNodeRef::new_unchecked(&resolved),
                ))
            } else {
                f(l)
            }
        }
    }
}
