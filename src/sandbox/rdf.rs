//! A small in-memory graph for one answer, and its two serializations as the
//! reference container writes them (`smart-classic-api.md` 5.2):
//!
//! - [`Graph::write_flat`], rdflib's plain `xml` style: one
//!   `rdf:Description` per subject, `rdf:type` as properties, blank nodes as
//!   `rdf:nodeID="N<32 hex>"` references, no nesting;
//! - [`Graph::write_pretty`], rdflib's `pretty-xml` style (the allergies
//!   answer): typed node elements (`<sp:Allergy rdf:about=...>`), blank
//!   nodes nested inline where they are used, lists as
//!   `rdf:parseType="Collection"`.
//!
//! Namespaces are declared for the prefixes actually used, sorted by prefix,
//! with the vCard namespace as `vcard:` (smart_common's bindings). Code
//! nodes (`sp:Code` URIs) are shared: one node per code URI, carrying every
//! distinct title it was used with. Blank node ids come from a seeded
//! generator, so the same request always gets the same bytes.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::ops::Deref;
use std::rc::Rc;

use super::population::Mix;
use super::vocab::System;

pub(crate) const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
pub(crate) const SP: &str = "http://smartplatforms.org/terms#";
pub(crate) const SPCODE: &str = "http://smartplatforms.org/terms/codes/";
pub(crate) const API: &str = "http://smartplatforms.org/terms/api#";
pub(crate) const DCTERMS: &str = "http://purl.org/dc/terms/";
pub(crate) const VCARD: &str = "http://www.w3.org/2006/vcard/ns#";
pub(crate) const FOAF: &str = "http://xmlns.com/foaf/0.1/";
const XSD_INTEGER: &str = "http://www.w3.org/2001/XMLSchema#integer";

/// The prefixes a serialization may declare, sorted by prefix.
const PREFIXES: [(&str, &str); 7] = [
    ("api", API),
    ("dcterms", DCTERMS),
    ("foaf", FOAF),
    ("rdf", RDF_NS),
    ("sp", SP),
    ("spcode", SPCODE),
    ("vcard", VCARD),
];
const RDF_PREFIX: u8 = 1 << 3;

/// The empty graph, as rdflib's `xml` serializer writes it.
pub(crate) const EMPTY_GRAPH: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rdf:RDF\n   xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"\n>\n</rdf:RDF>\n";

/// Escape character data and attribute values (`&`, `<`, `>`, `"`).
pub(crate) fn xml_escape_into(out: &mut String, s: &str) {
    let mut last = 0;
    for (i, b) in s.bytes().enumerate() {
        let rep = match b {
            b'&' => "&amp;",
            b'<' => "&lt;",
            b'>' => "&gt;",
            b'"' => "&quot;",
            _ => continue,
        };
        out.push_str(&s[last..i]);
        out.push_str(rep);
        last = i + 1;
    }
    out.push_str(&s[last..]);
}

/// An RDF class: namespace and local name.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Class {
    pub ns: &'static str,
    pub local: &'static str,
}

/// A class in the `sp:` namespace.
pub(crate) const fn sp(local: &'static str) -> Class {
    Class { ns: SP, local }
}

/// A class in the `spcode:` namespace.
pub(crate) const fn spcode(local: &'static str) -> Class {
    Class { ns: SPCODE, local }
}

/// A class in the vCard namespace.
pub(crate) const fn vcard(local: &'static str) -> Class {
    Class { ns: VCARD, local }
}

/// A string that is static, owned or shared (record and code URIs are used
/// by many triples of one answer).
#[derive(Clone, Debug)]
pub(crate) enum Str {
    Static(&'static str),
    Owned(String),
    Shared(Rc<str>),
}

impl Deref for Str {
    type Target = str;
    fn deref(&self) -> &str {
        match self {
            Str::Static(s) => s,
            Str::Owned(s) => s,
            Str::Shared(s) => s,
        }
    }
}

impl From<&'static str> for Str {
    fn from(s: &'static str) -> Self {
        Str::Static(s)
    }
}

impl From<String> for Str {
    fn from(s: String) -> Self {
        Str::Owned(s)
    }
}

impl From<&Rc<str>> for Str {
    fn from(s: &Rc<str>) -> Self {
        Str::Shared(s.clone())
    }
}

/// A blank node of the graph.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NodeRef(usize);

/// The object of a triple.
enum Term {
    /// A plain literal.
    Lit(Str),
    /// An `xsd:integer` literal.
    Int(usize),
    /// A URI.
    Res(Str),
    /// A blank node of this graph.
    Node(usize),
    /// An `rdf:List` of URIs, with the blank node ids of its cells.
    List(Vec<(u128, Str)>),
}

enum Subject {
    Uri(Str),
    Blank(u128),
}

struct Node {
    subject: Subject,
    types: Vec<Class>,
    props: Vec<(&'static str, Term)>,
}

/// One answer's graph, built in memory and then serialized.
pub(crate) struct Graph {
    nodes: Vec<Node>,
    ids: Mix,
    codes: HashMap<Rc<str>, usize>,
}

impl Graph {
    /// An empty graph whose blank node ids are drawn from `seed`.
    pub(crate) fn new(seed: u64) -> Self {
        Graph {
            nodes: Vec::new(),
            ids: Mix::keyed(seed, 0xB1A4, 0),
            codes: HashMap::new(),
        }
    }

    fn push(&mut self, subject: Subject, class: Option<Class>) -> NodeRef {
        self.nodes.push(Node {
            subject,
            types: class.into_iter().collect(),
            props: Vec::with_capacity(6),
        });
        NodeRef(self.nodes.len() - 1)
    }

    /// A URI node (a statement) of class `class`.
    pub(crate) fn uri_node(&mut self, uri: impl Into<Str>, class: Class) -> NodeRef {
        self.push(Subject::Uri(uri.into()), Some(class))
    }

    /// A fresh blank node, typed when `class` is given.
    pub(crate) fn blank(&mut self, class: Option<Class>) -> NodeRef {
        let id = self.ids.next_u128();
        self.push(Subject::Blank(id), class)
    }

    /// Add another `rdf:type`.
    pub(crate) fn add_type(&mut self, node: NodeRef, class: Class) {
        self.nodes[node.0].types.push(class);
    }

    fn prop(&mut self, node: NodeRef, pred: &'static str, term: Term) {
        self.nodes[node.0].props.push((pred, term));
    }

    /// A plain literal.
    pub(crate) fn lit(&mut self, node: NodeRef, pred: &'static str, value: impl Into<Str>) {
        self.prop(node, pred, Term::Lit(value.into()));
    }

    /// A URI object.
    pub(crate) fn res(&mut self, node: NodeRef, pred: &'static str, uri: impl Into<Str>) {
        self.prop(node, pred, Term::Res(uri.into()));
    }

    /// An `xsd:integer` literal.
    pub(crate) fn int(&mut self, node: NodeRef, pred: &'static str, value: usize) {
        self.prop(node, pred, Term::Int(value));
    }

    /// A link to a blank node of this graph.
    pub(crate) fn link(&mut self, node: NodeRef, pred: &'static str, child: NodeRef) {
        self.prop(node, pred, Term::Node(child.0));
    }

    /// An `rdf:List` of URIs as the object.
    pub(crate) fn list(&mut self, node: NodeRef, pred: &'static str, items: Vec<Str>) {
        let cells = items
            .into_iter()
            .map(|uri| (self.ids.next_u128(), uri))
            .collect();
        self.prop(node, pred, Term::List(cells));
    }

    /// The shared Code node `{system}{id}` (created on first use; a new
    /// title is added to it), returning its URI.
    pub(crate) fn code(&mut self, system: &System, id: &str, title: &str) -> Str {
        let mut uri = String::with_capacity(system.base.len() + id.len());
        uri.push_str(system.base);
        uri.push_str(id);
        if let Some((key, &index)) = self.codes.get_key_value(uri.as_str()) {
            let key = key.clone();
            let node = &mut self.nodes[index];
            let known = node
                .props
                .iter()
                .any(|(p, t)| *p == "dcterms:title" && matches!(t, Term::Lit(s) if &**s == title));
            if !known {
                node.props
                    .push(("dcterms:title", Term::Lit(Str::Owned(title.to_owned()))));
            }
            return Str::Shared(key);
        }
        let key: Rc<str> = Rc::from(uri);
        let node = self.push(
            Subject::Uri(Str::Shared(key.clone())),
            Some(spcode(system.class)),
        );
        self.add_type(node, sp("Code"));
        self.lit(node, "dcterms:title", title.to_owned());
        self.lit(node, "sp:system", system.base);
        self.lit(node, "dcterms:identifier", id.to_owned());
        self.codes.insert(key.clone(), node.0);
        Str::Shared(key)
    }

    /// A new `sp:CodedValue` blank node for a code and its display title.
    pub(crate) fn coded_value(&mut self, system: &System, id: &str, title: &str) -> NodeRef {
        let code = self.code(system, id, title);
        let cv = self.blank(Some(sp("CodedValue")));
        self.lit(cv, "dcterms:title", title.to_owned());
        self.res(cv, "sp:code", code);
        cv
    }

    /// `pred` -> a new CodedValue.
    pub(crate) fn coded(
        &mut self,
        node: NodeRef,
        pred: &'static str,
        system: &System,
        (id, title): (&str, &str),
    ) {
        let cv = self.coded_value(system, id, title);
        self.link(node, pred, cv);
    }

    /// A new `sp:ValueAndUnit` blank node.
    pub(crate) fn value_and_unit(
        &mut self,
        value: impl Into<Str>,
        unit: impl Into<Str>,
    ) -> NodeRef {
        let vu = self.blank(Some(sp("ValueAndUnit")));
        self.lit(vu, "sp:value", value);
        self.lit(vu, "sp:unit", unit);
        vu
    }

    /// The prefixes to declare: those of the predicates, and with
    /// `elements` also those of typed node elements.
    fn used_prefixes(&self, elements: bool) -> u8 {
        let mut used = RDF_PREFIX;
        let bit = |qname: &str| {
            let prefix = qname.split(':').next().unwrap_or("");
            PREFIXES
                .iter()
                .position(|(p, _)| *p == prefix)
                .map_or(0, |i| 1u8 << i)
        };
        for node in &self.nodes {
            for (pred, _) in &node.props {
                used |= bit(pred);
            }
            if elements
                && let Some(class) = node.types.first()
                && let Some(i) = PREFIXES.iter().position(|(_, ns)| *ns == class.ns)
            {
                used |= 1 << i;
            }
        }
        used
    }

    fn header(out: &mut String, used: u8, indent: &str) {
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rdf:RDF\n");
        for (i, (prefix, ns)) in PREFIXES.iter().enumerate() {
            if used & (1 << i) != 0 {
                let _ = writeln!(out, "{indent}xmlns:{prefix}=\"{ns}\"");
            }
        }
        out.push_str(">\n");
    }

    /// rdflib's `xml` style. An empty graph is [`EMPTY_GRAPH`].
    pub(crate) fn write_flat(&self, out: &mut String) {
        if self.nodes.is_empty() {
            out.push_str(EMPTY_GRAPH);
            return;
        }
        Self::header(out, self.used_prefixes(false), "   ");
        for node in &self.nodes {
            out.push_str("  <rdf:Description ");
            subject_attr(out, &node.subject);
            out.push_str(">\n");
            for class in &node.types {
                type_prop(out, "    ", class);
            }
            for (pred, term) in &node.props {
                out.push_str("    <");
                out.push_str(pred);
                match term {
                    Term::Node(child) => {
                        out.push_str(" rdf:nodeID=\"");
                        if let Subject::Blank(id) = self.nodes[*child].subject {
                            node_id(out, id);
                        }
                        out.push_str("\"/>\n");
                    }
                    Term::List(cells) => match cells.first() {
                        Some((id, _)) => {
                            out.push_str(" rdf:nodeID=\"");
                            node_id(out, *id);
                            out.push_str("\"/>\n");
                        }
                        None => {
                            let _ = writeln!(out, " rdf:resource=\"{RDF_NS}nil\"/>");
                        }
                    },
                    _ => simple_object(out, pred, term),
                }
            }
            out.push_str("  </rdf:Description>\n");
            for (_, term) in &node.props {
                if let Term::List(cells) = term {
                    flat_list(out, cells);
                }
            }
        }
        out.push_str("</rdf:RDF>\n");
    }

    /// rdflib's `pretty-xml` style. An empty graph is [`EMPTY_GRAPH`].
    pub(crate) fn write_pretty(&self, out: &mut String) {
        if self.nodes.is_empty() {
            out.push_str(EMPTY_GRAPH);
            return;
        }
        Self::header(out, self.used_prefixes(true), "  ");
        let mut nested = vec![false; self.nodes.len()];
        for node in &self.nodes {
            for (_, term) in &node.props {
                if let Term::Node(child) = term {
                    nested[*child] = true;
                }
            }
        }
        for (i, _) in self.nodes.iter().enumerate() {
            if !nested[i] {
                self.pretty_node(out, i, 1);
            }
        }
        out.push_str("</rdf:RDF>\n");
    }

    fn pretty_node(&self, out: &mut String, index: usize, depth: usize) {
        let node = &self.nodes[index];
        let indent = "  ".repeat(depth);
        let (element, other_types) = match node.types.split_first() {
            Some((first, rest)) if qname_prefix(first.ns).is_some() => (
                format!(
                    "{}:{}",
                    qname_prefix(first.ns).unwrap_or("rdf"),
                    first.local
                ),
                rest,
            ),
            _ => ("rdf:Description".to_owned(), node.types.as_slice()),
        };
        out.push_str(&indent);
        out.push('<');
        out.push_str(&element);
        if let Subject::Uri(_) = node.subject {
            out.push(' ');
            subject_attr(out, &node.subject);
        }
        if other_types.is_empty() && node.props.is_empty() {
            out.push_str("/>\n");
            return;
        }
        out.push_str(">\n");
        let inner = "  ".repeat(depth + 1);
        for class in other_types {
            type_prop(out, &inner, class);
        }
        for (pred, term) in &node.props {
            out.push_str(&inner);
            out.push('<');
            out.push_str(pred);
            match term {
                Term::Node(child) => {
                    out.push_str(">\n");
                    self.pretty_node(out, *child, depth + 2);
                    let _ = writeln!(out, "{inner}</{pred}>");
                }
                Term::List(cells) => {
                    out.push_str(" rdf:parseType=\"Collection\">\n");
                    for (_, uri) in cells {
                        let _ = write!(out, "{inner}  <rdf:Description rdf:about=\"");
                        xml_escape_into(out, uri);
                        out.push_str("\"/>\n");
                    }
                    let _ = writeln!(out, "{inner}</{pred}>");
                }
                _ => simple_object(out, pred, term),
            }
        }
        let _ = writeln!(out, "{indent}</{element}>");
    }
}

fn qname_prefix(ns: &str) -> Option<&'static str> {
    PREFIXES.iter().find(|(_, n)| *n == ns).map(|(p, _)| *p)
}

fn node_id(out: &mut String, id: u128) {
    out.push('N');
    push_hex(out, id, 32);
}

/// Append `digits` lower-case hex digits of `value`.
pub(crate) fn push_hex(out: &mut String, value: u128, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(HEX[((value >> (i * 4)) & 15) as usize] as char);
    }
}

fn subject_attr(out: &mut String, subject: &Subject) {
    match subject {
        Subject::Uri(uri) => {
            out.push_str("rdf:about=\"");
            xml_escape_into(out, uri);
        }
        Subject::Blank(id) => {
            out.push_str("rdf:nodeID=\"");
            node_id(out, *id);
        }
    }
    out.push('"');
}

fn type_prop(out: &mut String, indent: &str, class: &Class) {
    let _ = writeln!(
        out,
        "{indent}<rdf:type rdf:resource=\"{}{}\"/>",
        class.ns, class.local
    );
}

/// The rest of a property element whose object is a literal or a URI
/// (after `<pred`).
fn simple_object(out: &mut String, pred: &str, term: &Term) {
    match term {
        Term::Lit(value) => {
            out.push('>');
            xml_escape_into(out, value);
            out.push_str("</");
            out.push_str(pred);
            out.push_str(">\n");
        }
        Term::Int(value) => {
            let _ = writeln!(out, " rdf:datatype=\"{XSD_INTEGER}\">{value}</{pred}>");
        }
        Term::Res(uri) => {
            out.push_str(" rdf:resource=\"");
            xml_escape_into(out, uri);
            out.push_str("\"/>\n");
        }
        Term::Node(_) | Term::List(_) => out.push_str("/>\n"),
    }
}

/// An `rdf:List`'s cells as flat descriptions.
fn flat_list(out: &mut String, cells: &[(u128, Str)]) {
    for (i, (id, uri)) in cells.iter().enumerate() {
        out.push_str("  <rdf:Description rdf:nodeID=\"");
        node_id(out, *id);
        out.push_str("\">\n    <rdf:first rdf:resource=\"");
        xml_escape_into(out, uri);
        out.push_str("\"/>\n");
        match cells.get(i + 1) {
            Some((next, _)) => {
                out.push_str("    <rdf:rest rdf:nodeID=\"");
                node_id(out, *next);
                out.push_str("\"/>\n");
            }
            None => {
                let _ = writeln!(out, "    <rdf:rest rdf:resource=\"{RDF_NS}nil\"/>");
            }
        }
        out.push_str("  </rdf:Description>\n");
    }
}

/// Make a valid answer invalid RDF/XML for `--malformed-rate`: cut it in the
/// middle and leave an unterminated element (the root is never closed).
pub(crate) fn malform(body: &[u8]) -> Vec<u8> {
    let mut cut = body.len() / 2;
    while cut > 0 && body.get(cut).is_some_and(|b| b & 0xC0 == 0x80) {
        cut -= 1;
    }
    let mut out = body[..cut].to_vec();
    out.extend_from_slice(b"\n<sp:broken rdf:about=\"unterminated\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::vocab::SNOMED;

    #[test]
    fn escapes_markup() {
        let mut s = String::new();
        xml_escape_into(&mut s, "a & b < \"c\" > é");
        assert_eq!(s, "a &amp; b &lt; &quot;c&quot; &gt; é");
    }

    fn sample() -> Graph {
        let mut g = Graph::new(1);
        let p = g.uri_node("http://x/records/1/problems/a&b", sp("Problem"));
        g.res(p, "sp:belongsTo", "http://x/records/1");
        g.lit(p, "sp:startDate", "2007");
        g.coded(
            p,
            "sp:problemName",
            &SNOMED,
            ("1201005", "Hypertension, benign <x>"),
        );
        let q = g.uri_node("http://x/records/1/problems/c", sp("Problem"));
        g.coded(
            q,
            "sp:problemName",
            &SNOMED,
            ("1201005", "Benign essential hypertension"),
        );
        let s = g.blank(Some(Class {
            ns: API,
            local: "ResponseSummary",
        }));
        g.int(s, "api:totalResultCount", 2);
        g.list(
            s,
            "api:resultOrder",
            vec!["http://x/a".into(), "http://x/b".into()],
        );
        g
    }

    fn parse(text: &str) -> Vec<oxrdf::Triple> {
        oxrdfxml::RdfXmlParser::new()
            .for_slice(text.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn both_styles_give_the_same_graph() {
        let g = sample();
        let mut flat = String::new();
        g.write_flat(&mut flat);
        let mut pretty = String::new();
        g.write_pretty(&mut pretty);
        assert!(
            flat.contains("<rdf:Description rdf:about=\"http://x/records/1/problems/a&amp;b\">")
        );
        assert!(pretty.contains("<sp:Problem rdf:about=\"http://x/records/1/problems/a&amp;b\">"));
        assert!(pretty.contains("rdf:parseType=\"Collection\""));
        assert!(pretty.contains("<spcode:SNOMED rdf:about="));
        assert!(
            !flat.contains("xmlns:spcode"),
            "flat declares predicate prefixes only"
        );
        let (a, b) = (parse(&flat), parse(&pretty));
        assert_eq!(a.len(), b.len());
        // One shared Code node with both titles.
        let titles = a
            .iter()
            .filter(|t| {
                t.subject.to_string().contains("SNOMEDCT/1201005")
                    && t.predicate.as_str() == "http://purl.org/dc/terms/title"
            })
            .count();
        assert_eq!(titles, 2);
        let ground = |ts: &[oxrdf::Triple]| {
            let mut v: Vec<String> = ts
                .iter()
                .filter(|t| matches!(t.subject, oxrdf::NamedOrBlankNode::NamedNode(_)))
                .filter(|t| !matches!(t.object, oxrdf::Term::BlankNode(_)))
                .map(|t| t.to_string())
                .collect();
            v.sort();
            v
        };
        assert_eq!(ground(&a), ground(&b));
    }

    #[test]
    fn empty_graph() {
        let mut s = String::new();
        Graph::new(0).write_flat(&mut s);
        assert_eq!(s, EMPTY_GRAPH);
    }
}
