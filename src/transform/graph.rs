//! The per-record graph that spareval evaluates over: a
//! [`spareval::QueryableDataset`] shaped for one small graph.
//!
//! Terms are interned to dense `u32` ids (a hand-rolled hash table over the
//! parser's own term values, so a term is allocated once, by the parser);
//! triples are a flat, deduplicated `Vec<[u32; 3]>`; the subject, predicate
//! and object indexes are compressed adjacency lists (counting sort, O(n)),
//! each built only when a pattern first needs it. Every buffer is kept and
//! reused for the next record on the same thread (see `super::SCRATCH`).
//!
//! Terms that only the query creates (constants that are not in the data,
//! `BIND` results, ...) go to a small side table behind a `RefCell`, with ids
//! after the graph's.

use oxrdf::{BlankNode, Term, TermRef};
use spareval::{InternalQuad, QueryableDataset};
use std::cell::{Cell, OnceCell, RefCell};
use std::collections::{HashMap, HashSet};
use std::convert::Infallible;
use std::hash::{BuildHasherDefault, Hasher};

/// The FxHash mixing function (as in rustc): fast, not DoS-resistant, which
/// is fine for one record's terms.
#[derive(Default, Clone, Copy)]
pub(crate) struct FxHasher {
    hash: u64,
}

const FX_SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

impl FxHasher {
    #[inline]
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(FX_SEED);
    }
}

impl Hasher for FxHasher {
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            self.add(u64::from_le_bytes(w));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut w = [0u8; 8];
            w[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(w) ^ ((rest.len() as u64) << 56));
        }
    }
    #[inline]
    fn write_u8(&mut self, i: u8) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u32(&mut self, i: u32) {
        self.add(u64::from(i));
    }
    #[inline]
    fn write_u64(&mut self, i: u64) {
        self.add(i);
    }
    #[inline]
    fn write_usize(&mut self, i: usize) {
        self.add(i as u64);
    }
    #[inline]
    fn finish(&self) -> u64 {
        self.hash
    }
}

pub(crate) type FxBuild = BuildHasherDefault<FxHasher>;

/// The interner's hash of a term, computed from its borrowed parts (so a
/// term can be looked up before anything is allocated for it).
#[inline]
pub(crate) fn hash_term(term: TermRef<'_>) -> u64 {
    let mut h = FxHasher::default();
    match term {
        TermRef::NamedNode(n) => {
            h.write_u8(0);
            h.write(n.as_str().as_bytes());
        }
        TermRef::BlankNode(b) => {
            h.write_u8(1);
            h.write(b.as_str().as_bytes());
        }
        TermRef::Literal(l) => {
            h.write_u8(2);
            h.write(l.value().as_bytes());
            if let Some(lang) = l.language() {
                h.write_u8(3);
                h.write(lang.as_bytes());
            } else if l.datatype() != oxrdf::vocab::xsd::STRING {
                h.write_u8(4);
                h.write(l.datatype().as_str().as_bytes());
            }
        }
    }
    h.finish()
}

const NONE: u32 = u32::MAX;

/// Interned terms: `terms[id]`, found by hash through `buckets` (hash -> most
/// recent id with that hash) and `chain` (id -> previous id with that hash).
#[derive(Default)]
struct Interner {
    terms: Vec<Term>,
    chain: Vec<u32>,
    buckets: HashMap<u64, u32, FxBuild>,
}

impl Interner {
    fn clear(&mut self) {
        self.terms.clear();
        self.chain.clear();
        self.buckets.clear();
    }

    #[inline]
    fn find(&self, hash: u64, term: TermRef<'_>) -> Option<u32> {
        let mut id = *self.buckets.get(&hash)?;
        while id != NONE {
            if self.terms[id as usize].as_ref() == term {
                return Some(id);
            }
            id = self.chain[id as usize];
        }
        None
    }

    /// Returns the id and whether the term is new (only a new term is
    /// copied into the interner).
    #[inline]
    fn intern(&mut self, term: TermRef<'_>) -> (u32, bool) {
        let hash = hash_term(term);
        if let Some(id) = self.find(hash, term) {
            return (id, false);
        }
        let id = self.terms.len() as u32;
        let prev = self.buckets.insert(hash, id).unwrap_or(NONE);
        self.terms.push(term.into_owned());
        self.chain.push(prev);
        (id, true)
    }

    /// Forgets the terms from `len` on (newest first, so that each bucket
    /// gets back the id it held before).
    fn truncate(&mut self, len: usize) {
        while self.terms.len() > len {
            let id = self.terms.len() - 1;
            let hash = hash_term(self.terms[id].as_ref());
            match self.chain[id] {
                NONE => self.buckets.remove(&hash),
                prev => self.buckets.insert(hash, prev),
            };
            self.terms.pop();
            self.chain.pop();
        }
    }
}

/// A compressed adjacency list: the triples whose key position holds term
/// `t` are `items[offsets[t]..offsets[t + 1]]` (indexes into `triples`, in
/// document order).
#[derive(Default)]
struct Csr {
    offsets: Vec<u32>,
    items: Vec<u32>,
}

impl Csr {
    fn build(mut self, triples: &[[u32; 3]], key: usize, n_terms: usize) -> Self {
        self.offsets.clear();
        self.offsets.resize(n_terms + 2, 0);
        for t in triples {
            self.offsets[t[key] as usize + 2] += 1;
        }
        for i in 2..self.offsets.len() {
            self.offsets[i] += self.offsets[i - 1];
        }
        self.items.clear();
        self.items.resize(triples.len(), 0);
        // offsets[t + 1] is the write cursor of t; after the loop it is the end.
        for (i, t) in triples.iter().enumerate() {
            let slot = &mut self.offsets[t[key] as usize + 1];
            self.items[*slot as usize] = i as u32;
            *slot += 1;
        }
        self
    }

    #[inline]
    fn group(&self, term: u32) -> &[u32] {
        let t = term as usize;
        if t + 1 >= self.offsets.len() {
            return &[];
        }
        &self.items[self.offsets[t] as usize..self.offsets[t + 1] as usize]
    }
}

/// Terms created during evaluation (not in the graph).
#[derive(Default)]
struct Extra {
    terms: Vec<Term>,
    ids: HashMap<Term, u32, FxBuild>,
}

/// A blank node as a parser names it within one page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Blank<'a> {
    /// A label from the document (`rdf:nodeID`) or from the parser.
    Label(&'a str),
    /// The `n`-th anonymous blank node of the page (the fast reader's).
    Fresh(u32),
}

/// Where a graph stood, to go back to it ([`RecordGraph::rollback`]).
#[derive(Clone, Copy, Debug)]
pub(crate) struct Mark {
    terms: usize,
    triples: usize,
    blank_count: u32,
}

/// One record's graph. Build it with [`RecordGraph::begin_page`] and
/// [`RecordGraph::insert`], then query it through `&RecordGraph`.
#[derive(Default)]
pub(crate) struct RecordGraph {
    interner: Interner,
    triples: Vec<[u32; 3]>,
    seen: HashSet<(u32, u32, u32), FxBuild>,
    /// Blank nodes of the current page (parser label -> id). Blank node
    /// labels are document-scoped, so each page starts a fresh scope.
    page_blanks: HashMap<Box<str>, u32, FxBuild>,
    /// The current page's anonymous blank nodes ([`Blank::Fresh`]) -> id.
    page_fresh: Vec<u32>,
    blank_count: u32,
    /// `b0`, `b1`, ...: kept across records.
    blank_labels: Vec<BlankNode>,
    /// Per predicate id: 0 = not yet decided, 1 = kept, 2 = dropped.
    predicate_state: Vec<u8>,
    indexes: [OnceCell<Csr>; 3],
    spare: [Cell<Csr>; 3],
    extra: RefCell<Extra>,
}

impl RecordGraph {
    /// Empties the graph, keeping every buffer's capacity.
    pub(crate) fn clear(&mut self) {
        self.interner.clear();
        self.triples.clear();
        self.seen.clear();
        self.page_blanks.clear();
        self.page_fresh.clear();
        self.blank_count = 0;
        self.predicate_state.clear();
        for (index, spare) in self.indexes.iter_mut().zip(&self.spare) {
            if let Some(csr) = index.take() {
                spare.set(csr);
            }
        }
        let extra = self.extra.get_mut();
        extra.terms.clear();
        extra.ids.clear();
    }

    /// Starts a new page: blank node labels of earlier pages no longer match.
    pub(crate) fn begin_page(&mut self) {
        self.page_blanks.clear();
        self.page_fresh.clear();
    }

    /// Where the graph stands now (taken at the start of a page).
    pub(crate) fn mark(&self) -> Mark {
        Mark {
            terms: self.interner.terms.len(),
            triples: self.triples.len(),
            blank_count: self.blank_count,
        }
    }

    /// Undoes everything since `mark` was taken at the start of the current
    /// page: terms, triples, blank node numbers; the page's blank node
    /// scope starts again. The graph is then exactly as it was at `mark`.
    pub(crate) fn rollback(&mut self, mark: Mark) {
        for t in &self.triples[mark.triples.min(self.triples.len())..] {
            self.seen.remove(&(t[0], t[1], t[2]));
        }
        self.triples.truncate(mark.triples);
        self.interner.truncate(mark.terms);
        self.predicate_state.truncate(mark.terms);
        self.blank_count = mark.blank_count;
        self.begin_page();
    }

    /// Number of distinct triples.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.triples.len()
    }

    /// Interns an IRI or a literal. Returns the id and the term when it is
    /// new (for validation).
    #[inline]
    pub(crate) fn intern(&mut self, term: TermRef<'_>) -> (u32, Option<&Term>) {
        if let TermRef::BlankNode(b) = term {
            return (self.blank(Blank::Label(b.as_str())), None);
        }
        let (id, new) = self.interner.intern(term);
        (id, new.then(|| &self.interner.terms[id as usize]))
    }

    /// Interns a blank node of the current page. It gets the record-wide
    /// canonical label `b{n}` (n = order of first appearance), so that labels
    /// never depend on the parser's ids.
    #[inline]
    pub(crate) fn blank(&mut self, b: Blank<'_>) -> u32 {
        match b {
            Blank::Label(label) => {
                if let Some(&id) = self.page_blanks.get(label) {
                    return id;
                }
                let id = self.new_blank();
                self.page_blanks.insert(label.into(), id);
                id
            }
            Blank::Fresh(n) => {
                let n = n as usize;
                if self.page_fresh.len() <= n {
                    self.page_fresh.resize(n + 1, NONE);
                }
                if self.page_fresh[n] == NONE {
                    self.page_fresh[n] = self.new_blank();
                }
                self.page_fresh[n]
            }
        }
    }

    fn new_blank(&mut self) -> u32 {
        let n = self.blank_count as usize;
        while self.blank_labels.len() <= n {
            self.blank_labels
                .push(canonical_blank(self.blank_labels.len() as u32));
        }
        self.blank_count += 1;
        self.interner.intern(self.blank_labels[n].as_ref().into()).0
    }

    /// Whether triples with this (interned) predicate are kept: always when
    /// `wanted` is `None`, else when the predicate IRI is in `wanted`. Decided
    /// once per predicate per record.
    #[inline]
    pub(crate) fn predicate_wanted(&mut self, id: u32, wanted: Option<&HashSet<String>>) -> bool {
        let Some(wanted) = wanted else {
            return true;
        };
        let i = id as usize;
        if self.predicate_state.len() <= i {
            self.predicate_state.resize(i + 1, 0);
        }
        match self.predicate_state[i] {
            1 => true,
            2 => false,
            _ => {
                let keep = match &self.interner.terms[i] {
                    Term::NamedNode(n) => wanted.contains(n.as_str()),
                    _ => false,
                };
                self.predicate_state[i] = if keep { 1 } else { 2 };
                keep
            }
        }
    }

    /// Adds a triple of interned ids (duplicates are ignored: a graph is a set).
    #[inline]
    pub(crate) fn insert(&mut self, s: u32, p: u32, o: u32) {
        if self.seen.insert((s, p, o)) {
            self.triples.push([s, p, o]);
        }
    }

    fn index(&self, key: usize) -> &Csr {
        self.indexes[key].get_or_init(|| {
            self.spare[key]
                .take()
                .build(&self.triples, key, self.interner.terms.len())
        })
    }

    fn lookup(&self, term: &Term) -> Option<u32> {
        self.interner.find(hash_term(term.as_ref()), term.as_ref())
    }

    /// The graph as text, for the tests that compare two ways of building
    /// it: every term in id order, then every triple as ids, in order.
    #[cfg(any(test, feature = "parse-counter"))]
    pub(crate) fn dump(&self) -> String {
        use std::fmt::Write as _;
        let mut out = String::new();
        for (i, t) in self.interner.terms.iter().enumerate() {
            let _ = writeln!(out, "{i} {t}");
        }
        for t in &self.triples {
            let _ = writeln!(out, "{} {} {}", t[0], t[1], t[2]);
        }
        out
    }

    fn term(&self, id: u32) -> Term {
        let n = self.interner.terms.len();
        if (id as usize) < n {
            self.interner.terms[id as usize].clone()
        } else {
            self.extra.borrow().terms[id as usize - n].clone()
        }
    }
}

/// The canonical label of the `n`-th blank node of a record.
pub(crate) fn canonical_blank(n: u32) -> BlankNode {
    BlankNode::new_unchecked(format!("b{n}"))
}

/// Matching triples of one pattern, as quads of the default graph.
pub(crate) struct QuadIter<'a> {
    triples: &'a [[u32; 3]],
    /// Candidate triple indexes; `None` scans every triple.
    candidates: Option<std::slice::Iter<'a, u32>>,
    next_all: usize,
    pattern: [Option<u32>; 3],
}

impl Iterator for QuadIter<'_> {
    type Item = Result<InternalQuad<u32>, Infallible>;

    #[inline]
    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let t = match &mut self.candidates {
                Some(c) => self.triples[*c.next()? as usize],
                None => {
                    let t = *self.triples.get(self.next_all)?;
                    self.next_all += 1;
                    t
                }
            };
            if self.pattern[0].is_none_or(|x| x == t[0])
                && self.pattern[1].is_none_or(|x| x == t[1])
                && self.pattern[2].is_none_or(|x| x == t[2])
            {
                return Some(Ok(InternalQuad {
                    subject: t[0],
                    predicate: t[1],
                    object: t[2],
                    graph_name: None,
                }));
            }
        }
    }
}

impl<'a> QueryableDataset<'a> for &'a RecordGraph {
    type InternalTerm = u32;
    type Error = Infallible;

    fn internal_quads_for_pattern(
        &self,
        subject: Option<&u32>,
        predicate: Option<&u32>,
        object: Option<&u32>,
        graph_name: Option<Option<&u32>>,
    ) -> impl Iterator<Item = Result<InternalQuad<u32>, Infallible>> + use<'a> {
        let graph: &'a RecordGraph = self;
        let pattern = [subject.copied(), predicate.copied(), object.copied()];
        let empty = QuadIter {
            triples: &[],
            candidates: None,
            next_all: 0,
            pattern,
        };
        // The record is one default graph: no named graphs.
        if graph_name != Some(None) {
            return empty;
        }
        // The smallest group among the bound positions.
        let mut best: Option<&'a [u32]> = None;
        for (key, term) in pattern.iter().enumerate() {
            if let Some(term) = *term {
                let group = graph.index(key).group(term);
                if best.is_none_or(|b| group.len() < b.len()) {
                    best = Some(group);
                }
            }
        }
        QuadIter {
            triples: &graph.triples,
            candidates: best.map(<[u32]>::iter),
            next_all: 0,
            pattern,
        }
    }

    fn internal_named_graphs(&self) -> impl Iterator<Item = Result<u32, Infallible>> + use<'a> {
        std::iter::empty()
    }

    fn contains_internal_graph_name(&self, _: &u32) -> Result<bool, Infallible> {
        Ok(false)
    }

    fn internalize_term(&self, term: Term) -> Result<u32, Infallible> {
        if let Some(id) = self.lookup(&term) {
            return Ok(id);
        }
        let base = self.interner.terms.len() as u32;
        let mut extra = self.extra.borrow_mut();
        if let Some(&id) = extra.ids.get(&term) {
            return Ok(id);
        }
        let id = base + extra.terms.len() as u32;
        extra.terms.push(term.clone());
        extra.ids.insert(term, id);
        Ok(id)
    }

    fn externalize_term(&self, term: u32) -> Result<Term, Infallible> {
        Ok(self.term(term))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use oxrdf::{Literal, NamedNode};

    fn nn(s: &str) -> Term {
        NamedNode::new_unchecked(s).into()
    }

    #[test]
    fn interning_dedups_terms_and_triples() {
        let mut g = RecordGraph::default();
        let (a, new_a) = g.intern(nn("http://a").as_ref());
        assert!(new_a.is_some());
        let (a2, new_a2) = g.intern(nn("http://a").as_ref());
        assert_eq!(a, a2);
        assert!(new_a2.is_none());
        let (l, _) = g.intern(Literal::new_simple_literal("http://a").as_ref().into());
        assert_ne!(
            a, l,
            "an IRI and a literal with the same text are different terms"
        );
        g.insert(a, a, l);
        g.insert(a, a, l);
        assert_eq!(g.len(), 1);
    }

    #[test]
    fn rollback_returns_to_the_mark_exactly() {
        let build = |g: &mut RecordGraph, names: &[&str]| {
            for n in names {
                let (s, _) = g.intern(nn(&format!("http://s/{n}")).as_ref());
                let (p, _) = g.intern(nn("http://p").as_ref());
                let b = g.blank(Blank::Label(n));
                let f = g.blank(Blank::Fresh(0));
                g.insert(s, p, b);
                g.insert(b, p, f);
            }
        };
        let mut g = RecordGraph::default();
        build(&mut g, &["a", "b"]);
        let before = g.dump();
        g.begin_page();
        let mark = g.mark();
        build(&mut g, &["b", "c", "d"]);
        assert_ne!(g.dump(), before);
        g.rollback(mark);
        assert_eq!(g.dump(), before);
        // Building the page again gives what a graph that never saw the
        // rolled-back page gives.
        build(&mut g, &["e"]);
        let mut fresh = RecordGraph::default();
        build(&mut fresh, &["a", "b"]);
        fresh.begin_page();
        build(&mut fresh, &["e"]);
        assert_eq!(g.dump(), fresh.dump());
        // Rolled-back terms are gone from the lookup too.
        assert_eq!(g.lookup(&nn("http://s/c")), None);
        assert!(g.lookup(&nn("http://s/e")).is_some());
    }

    #[test]
    fn blank_nodes_are_scoped_per_page() {
        let mut g = RecordGraph::default();
        let b = || Term::BlankNode(BlankNode::new_unchecked("N1"));
        let (x, _) = g.intern(b().as_ref());
        let (y, _) = g.intern(b().as_ref());
        assert_eq!(x, y);
        g.begin_page();
        let (z, _) = g.intern(b().as_ref());
        assert_ne!(x, z);
        assert_eq!(g.term(x), Term::BlankNode(canonical_blank(0)));
        assert_eq!(g.term(z), Term::BlankNode(canonical_blank(1)));
    }

    #[test]
    fn patterns_use_the_smallest_group_and_filter_the_rest() {
        let mut g = RecordGraph::default();
        let ids: Vec<u32> = ["http://s1", "http://s2", "http://p", "http://q", "http://o"]
            .iter()
            .map(|s| g.intern(nn(s).as_ref()).0)
            .collect();
        let (s1, s2, p, q, o) = (ids[0], ids[1], ids[2], ids[3], ids[4]);
        g.insert(s1, p, o);
        g.insert(s2, p, o);
        g.insert(s1, q, o);
        g.insert(s1, q, s2);
        let gr = &g;
        let count = |s: Option<u32>, p: Option<u32>, o: Option<u32>| {
            gr.internal_quads_for_pattern(s.as_ref(), p.as_ref(), o.as_ref(), Some(None))
                .count()
        };
        assert_eq!(count(None, None, None), 4);
        assert_eq!(count(Some(s1), None, None), 3);
        assert_eq!(count(None, Some(p), None), 2);
        assert_eq!(count(None, Some(q), Some(o)), 1);
        assert_eq!(count(Some(s1), Some(q), Some(s2)), 1);
        assert_eq!(count(Some(s2), Some(q), None), 0);
        // A term the graph does not hold matches nothing.
        let extra = gr.internalize_term(nn("http://none")).unwrap_or(0);
        assert_eq!(count(Some(extra), None, None), 0);
        // Named graphs: none.
        assert_eq!(
            gr.internal_quads_for_pattern(None, None, None, None)
                .count(),
            0
        );
    }
}
