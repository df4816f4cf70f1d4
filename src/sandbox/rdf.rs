//! Writing one answer's RDF/XML as the reference container does
//! (`smart-classic-api.md` 5.2), straight into strings as the answer is
//! built, in either of its two styles:
//!
//! - [`Style::Flat`], rdflib's plain `xml` style: one `rdf:Description` per
//!   subject, `rdf:type` as properties, blank nodes as
//!   `rdf:nodeID="N<32 hex>"` references, no nesting;
//! - [`Style::Pretty`], rdflib's `pretty-xml` style (the allergies answer):
//!   typed node elements (`<sp:Allergy rdf:about=...>`), blank nodes nested
//!   inline where they are used, lists as `rdf:parseType="Collection"`.
//!
//! A [`Writer`] is driven top-down: open a statement, add its properties,
//! open child blank nodes inside it ([`Writer::child`]), close. Both styles
//! take the same calls, so a resource is written once. Namespaces are
//! declared for the prefixes actually used, sorted by prefix, with the
//! vCard namespace as `vcard:` (smart_common's bindings). Code nodes
//! (`sp:Code` URIs) are shared: one node per code URI, carrying every
//! distinct title it was used with, written at the end. Blank node ids come
//! from a seeded generator, so the same request always gets the same bytes.

use std::cell::RefCell;
use std::fmt::Write as _;

use super::person::Uuid;
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

fn needs_escape(b: u8) -> bool {
    matches!(b, b'&' | b'<' | b'>' | b'"')
}

/// Escape character data and attribute values (`&`, `<`, `>`, `"`).
pub(crate) fn xml_escape_into(out: &mut String, s: &str) {
    if !s.bytes().any(needs_escape) {
        out.push_str(s);
        return;
    }
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

/// A class in the vCard namespace.
pub(crate) const fn vcard(local: &'static str) -> Class {
    Class { ns: VCARD, local }
}

/// A class in the `api:` namespace.
pub(crate) const fn api(local: &'static str) -> Class {
    Class { ns: API, local }
}

/// A string of an answer: borrowed (from the generated statements or the
/// request) or owned, both XML-escaped when written; or text that is
/// XML-safe already: borrowed, or the concatenation of two borrowed parts (an
/// escaped URI prefix and a UUID or code). Most triples cost no allocation
/// and URIs are not scanned again.
#[derive(Clone, Debug)]
pub(crate) enum Str<'a> {
    Borrowed(&'a str),
    Owned(String),
    /// Already XML-escaped (or free of `&<>"`).
    Safe(&'a str),
    /// Two parts, each already XML-escaped (or free of `&<>"`).
    Pair(&'a str, &'a str),
    /// An XML-escaped URI prefix and a UUID.
    Uuid(&'a str, Uuid),
}

impl<'a> From<&'a str> for Str<'a> {
    fn from(s: &'a str) -> Self {
        Str::Borrowed(s)
    }
}

impl From<String> for Str<'_> {
    fn from(s: String) -> Self {
        Str::Owned(s)
    }
}

impl<'a> From<&'a String> for Str<'a> {
    fn from(s: &'a String) -> Self {
        Str::Borrowed(s)
    }
}

impl Str<'_> {
    /// Append, XML-escaped.
    fn escape_into(&self, out: &mut String) {
        match self {
            Str::Borrowed(s) => xml_escape_into(out, s),
            Str::Owned(s) => xml_escape_into(out, s),
            Str::Safe(s) => out.push_str(s),
            Str::Pair(a, b) => {
                out.push_str(a);
                out.push_str(b);
            }
            Str::Uuid(a, u) => {
                out.push_str(a);
                u.push_to(out);
            }
        }
    }
}

/// Which of the reference's serializations.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Style {
    Flat,
    Pretty,
}

/// A node being written.
struct Open<'a> {
    /// Pretty: the element to close, and the property element around it.
    element: (&'static str, &'static str),
    wrapper: Option<&'static str>,
    /// Pretty: the indentation level of the node element.
    level: usize,
    /// Flat: list cells to describe after the node.
    cells: Vec<(u128, Str<'a>)>,
}

/// Writes one answer (see the module documentation).
///
/// Flat: a node at nesting depth `d` is written into `levels[d]`, where at
/// most one node is open at a time, so descriptions never interleave and
/// nothing is copied until [`Writer::finish`] joins the levels.
pub(crate) struct Writer<'a> {
    style: Style,
    /// Flat: one buffer per nesting depth; pretty: `levels[0]` only.
    levels: Vec<String>,
    used: u8,
    ids: Mix,
    stack: Vec<Open<'a>>,
    /// The shared Code nodes: system and id.
    codes: Vec<(System, &'a str)>,
    /// Every (code, title) pair used.
    titles: Vec<(u32, &'a str)>,
}

/// The [`PREFIXES`] bit of a predicate's prefix, from its first letters
/// (this runs for every triple; predicates never use `spcode:`).
fn predicate_prefix_bit(pred: &str) -> u8 {
    match pred.as_bytes() {
        [b'a', b'p', b'i', b':', ..] => 1,
        [b'd', ..] => 1 << 1,
        [b'f', ..] => 1 << 2,
        [b'r', ..] => RDF_PREFIX,
        [b's', b'p', b':', ..] => 1 << 4,
        [b'v', ..] => 1 << 6,
        _ => PREFIXES
            .iter()
            .position(|(p, _)| pred.split(':').next() == Some(*p))
            .map_or(0, |i| 1 << i),
    }
}

fn prefix_of(ns: &str) -> Option<(usize, &'static str)> {
    PREFIXES
        .iter()
        .enumerate()
        .find(|(_, (_, n))| *n == ns)
        .map(|(i, (p, _))| (i, *p))
}

/// A blank node id, `N` and 32 hex digits.
struct NodeId([u8; 33]);

impl NodeId {
    fn new(id: u128) -> Self {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [b'N'; 33];
        for (i, slot) in buf[1..].iter_mut().rev().enumerate() {
            *slot = HEX[((id >> (i * 4)) & 15) as usize];
        }
        NodeId(buf)
    }

    fn as_str(&self) -> &str {
        // `N` and hex digits are ASCII.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

fn node_id(out: &mut String, id: u128) {
    out.push_str(NodeId::new(id).as_str());
}

thread_local! {
    /// Writer buffers kept for the next answer on this thread (a worker
    /// thread writes one answer after another).
    static BUFFERS: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
}

/// The largest buffer kept for reuse.
const KEEP_BUFFER: usize = 1 << 20;

fn take_buffer() -> String {
    BUFFERS
        .with(|b| b.borrow_mut().pop())
        .unwrap_or_else(|| String::with_capacity(16 * 1024))
}

fn return_buffers(levels: &mut Vec<String>) {
    BUFFERS.with(|b| {
        let mut kept = b.borrow_mut();
        for mut level in levels.drain(..) {
            if level.capacity() <= KEEP_BUFFER && kept.len() < 8 {
                level.clear();
                kept.push(level);
            }
        }
    });
}

fn indent(out: &mut String, level: usize) {
    const SPACES: &str = "                                ";
    let mut n = level * 2;
    while n > 0 {
        let k = n.min(SPACES.len());
        out.push_str(&SPACES[..k]);
        n -= k;
    }
}

impl<'a> Writer<'a> {
    /// A writer whose blank node ids are drawn from `seed`.
    pub(crate) fn new(style: Style, seed: u64) -> Self {
        Writer {
            style,
            levels: vec![take_buffer()],
            used: RDF_PREFIX,
            ids: Mix::keyed(seed, 0xB1A4, 0),
            stack: Vec::with_capacity(4),
            codes: Vec::new(),
            titles: Vec::new(),
        }
    }

    /// The buffer of a flat node at nesting depth `depth`.
    fn level(&mut self, depth: usize) -> &mut String {
        while self.levels.len() <= depth {
            self.levels.push(take_buffer());
        }
        &mut self.levels[depth]
    }

    /// Where the current node's properties go, and their indentation.
    fn target(&mut self) -> (&mut String, usize) {
        match self.style {
            Style::Flat => {
                let depth = self.stack.len().saturating_sub(1);
                (self.level(depth), 2)
            }
            Style::Pretty => {
                let level = self.stack.last().map_or(1, |o| o.level + 1);
                (&mut self.levels[0], level)
            }
        }
    }

    /// Start a property element: `<pred` (the caller finishes it).
    fn start_prop(&mut self, pred: &'static str) -> &mut String {
        self.used |= predicate_prefix_bit(pred);
        let (out, level) = self.target();
        indent(out, level);
        out.push('<');
        out.push_str(pred);
        out
    }

    /// The element a pretty node is written as: its class's qname, or
    /// `rdf:Description` (then the class is an `rdf:type`).
    fn element(&mut self, class: Class) -> Option<(&'static str, &'static str)> {
        let (i, prefix) = prefix_of(class.ns)?;
        self.used |= 1 << i;
        Some((prefix, class.local))
    }

    fn open_element(
        &mut self,
        class: Class,
        about: Option<Str<'a>>,
        wrapper: Option<&'static str>,
    ) {
        let level = match wrapper {
            Some(_) => self.stack.last().map_or(1, |o| o.level + 2),
            None => 1,
        };
        let element = self.element(class);
        let out = &mut self.levels[0];
        indent(out, level);
        out.push('<');
        let (prefix, local) = element.unwrap_or(("rdf", "Description"));
        out.push_str(prefix);
        out.push(':');
        out.push_str(local);
        if let Some(uri) = about {
            out.push_str(" rdf:about=\"");
            uri.escape_into(out);
            out.push('"');
        }
        out.push_str(">\n");
        self.stack.push(Open {
            element: (prefix, local),
            wrapper,
            level,
            cells: Vec::new(),
        });
        if element.is_none() {
            self.ty(class);
        }
    }

    fn open_flat(&mut self, subject: impl FnOnce(&mut String)) {
        let depth = self.stack.len();
        let buf = self.level(depth);
        buf.push_str("  <rdf:Description ");
        subject(buf);
        buf.push_str(">\n");
        self.stack.push(Open {
            element: ("rdf", "Description"),
            wrapper: None,
            level: 1,
            cells: Vec::new(),
        });
    }

    /// Open a statement (a URI node) of class `class`.
    pub(crate) fn open_about(&mut self, uri: Str<'a>, class: Class) {
        match self.style {
            Style::Flat => {
                self.open_flat(|buf| {
                    buf.push_str("rdf:about=\"");
                    uri.escape_into(buf);
                    buf.push('"');
                });
                self.ty(class);
            }
            Style::Pretty => self.open_element(class, Some(uri), None),
        }
    }

    /// Open a blank node that nothing links to (a ResponseSummary).
    pub(crate) fn open_blank(&mut self, class: Class) {
        match self.style {
            Style::Flat => {
                let id = self.ids.next_u128();
                self.open_flat(|buf| {
                    buf.push_str("rdf:nodeID=\"");
                    node_id(buf, id);
                    buf.push('"');
                });
                self.ty(class);
            }
            Style::Pretty => self.open_element(class, None, None),
        }
    }

    /// Open a blank node of class `class` as the `pred` of the current node.
    pub(crate) fn child(&mut self, pred: &'static str, class: Class) {
        match self.style {
            Style::Flat => {
                let id = NodeId::new(self.ids.next_u128());
                let out = self.start_prop(pred);
                out.push_str(" rdf:nodeID=\"");
                out.push_str(id.as_str());
                out.push_str("\"/>\n");
                self.open_flat(|buf| {
                    buf.push_str("rdf:nodeID=\"");
                    buf.push_str(id.as_str());
                    buf.push('"');
                });
                self.ty(class);
            }
            Style::Pretty => {
                let out = self.start_prop(pred);
                out.push_str(">\n");
                self.open_element(class, None, Some(pred));
            }
        }
    }

    /// Close the current node.
    pub(crate) fn close(&mut self) {
        let Some(open) = self.stack.pop() else {
            return;
        };
        match self.style {
            Style::Flat => {
                let buf = self.level(self.stack.len());
                buf.push_str("  </rdf:Description>\n");
                flat_list(buf, &open.cells);
            }
            Style::Pretty => {
                let out = &mut self.levels[0];
                indent(out, open.level);
                let (prefix, local) = open.element;
                let _ = writeln!(out, "</{prefix}:{local}>");
                if let Some(pred) = open.wrapper {
                    indent(out, open.level - 1);
                    let _ = writeln!(out, "</{pred}>");
                }
            }
        }
    }

    /// Another `rdf:type` of the current node.
    pub(crate) fn ty(&mut self, class: Class) {
        let out = self.start_prop("rdf:type");
        out.push_str(" rdf:resource=\"");
        out.push_str(class.ns);
        out.push_str(class.local);
        out.push_str("\"/>\n");
    }

    /// A plain literal.
    pub(crate) fn lit(&mut self, pred: &'static str, value: impl Into<Str<'a>>) {
        let value = value.into();
        let out = self.start_prop(pred);
        out.push('>');
        value.escape_into(out);
        out.push_str("</");
        out.push_str(pred);
        out.push_str(">\n");
    }

    /// A plain literal written from a number.
    pub(crate) fn num(&mut self, pred: &'static str, value: u64) {
        let out = self.start_prop(pred);
        let _ = writeln!(out, ">{value}</{pred}>");
    }

    /// An `xsd:integer` literal.
    pub(crate) fn int(&mut self, pred: &'static str, value: usize) {
        let out = self.start_prop(pred);
        let _ = writeln!(out, " rdf:datatype=\"{XSD_INTEGER}\">{value}</{pred}>");
    }

    /// A URI object.
    pub(crate) fn res(&mut self, pred: &'static str, uri: impl Into<Str<'a>>) {
        let uri = uri.into();
        let out = self.start_prop(pred);
        out.push_str(" rdf:resource=\"");
        uri.escape_into(out);
        out.push_str("\"/>\n");
    }

    /// An `rdf:List` of URIs as the object.
    pub(crate) fn list(&mut self, pred: &'static str, items: Vec<Str<'a>>) {
        match self.style {
            Style::Flat => {
                let cells: Vec<(u128, Str<'a>)> = items
                    .into_iter()
                    .map(|uri| (self.ids.next_u128(), uri))
                    .collect();
                let out = self.start_prop(pred);
                match cells.first() {
                    Some((id, _)) => {
                        out.push_str(" rdf:nodeID=\"");
                        node_id(out, *id);
                        out.push_str("\"/>\n");
                    }
                    None => {
                        out.push_str(" rdf:resource=\"");
                        out.push_str(RDF_NS);
                        out.push_str("nil\"/>\n");
                    }
                }
                if let Some(open) = self.stack.last_mut() {
                    open.cells = cells;
                }
            }
            Style::Pretty => {
                let out = self.start_prop(pred);
                out.push_str(" rdf:parseType=\"Collection\">\n");
                let level = self.stack.last().map_or(1, |o| o.level + 1);
                let out = &mut self.levels[0];
                for uri in items {
                    indent(out, level + 1);
                    out.push_str("<rdf:Description rdf:about=\"");
                    uri.escape_into(out);
                    out.push_str("\"/>\n");
                }
                indent(out, level);
                let _ = writeln!(out, "</{pred}>");
            }
        }
    }

    /// The shared Code node `{system}{id}` (written at the end, with every
    /// title it was used with); its URI. Code ids must be XML-safe.
    pub(crate) fn code(&mut self, system: &System, id: &'a str, title: &'a str) -> Str<'a> {
        debug_assert!(!id.bytes().any(needs_escape), "code ids are XML-safe");
        let index = match self
            .codes
            .iter()
            .position(|(s, i)| *i == id && s.base == system.base)
        {
            Some(index) => index,
            None => {
                self.codes.push((*system, id));
                self.codes.len() - 1
            }
        } as u32;
        if !self.titles.contains(&(index, title)) {
            self.titles.push((index, title));
        }
        Str::Pair(system.base, id)
    }

    /// `pred` -> a new `sp:CodedValue` for a code and its display title.
    pub(crate) fn coded(
        &mut self,
        pred: &'static str,
        system: &System,
        (id, title): (&'a str, &'a str),
    ) {
        let code = self.code(system, id, title);
        self.child(pred, sp("CodedValue"));
        self.lit("dcterms:title", title);
        self.res("sp:code", code);
        self.close();
    }

    /// `pred` -> a new `sp:ValueAndUnit`.
    pub(crate) fn value_and_unit(
        &mut self,
        pred: &'static str,
        value: impl Into<Str<'a>>,
        unit: impl Into<Str<'a>>,
    ) {
        self.child(pred, sp("ValueAndUnit"));
        self.lit("sp:value", value);
        self.lit("sp:unit", unit);
        self.close();
    }

    /// Write the Code nodes as statements of the body.
    fn write_codes(&mut self) {
        let codes = std::mem::take(&mut self.codes);
        let titles = std::mem::take(&mut self.titles);
        for (index, (system, id)) in codes.iter().enumerate() {
            let class = Class {
                ns: SPCODE,
                local: system.class,
            };
            // Pretty: the vocabulary class names the element.
            self.open_about(Str::Pair(system.base, id), class);
            self.ty(sp("Code"));
            for (_, title) in titles.iter().filter(|(i, _)| *i as usize == index) {
                self.lit("dcterms:title", *title);
            }
            self.lit("sp:system", system.base);
            self.lit("dcterms:identifier", *id);
            self.close();
        }
    }

    /// The whole document into `out`; the empty graph when nothing was
    /// written.
    pub(crate) fn finish(mut self, out: &mut String) {
        while !self.stack.is_empty() {
            self.close();
        }
        if self.levels[0].is_empty() && self.codes.is_empty() {
            out.push_str(EMPTY_GRAPH);
            return;
        }
        self.write_codes();
        out.reserve(self.levels.iter().map(String::len).sum::<usize>() + 400);
        out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rdf:RDF\n");
        let pad = match self.style {
            Style::Flat => "   ",
            Style::Pretty => "  ",
        };
        for (i, (prefix, ns)) in PREFIXES.iter().enumerate() {
            if self.used & (1 << i) != 0 {
                out.push_str(pad);
                out.push_str("xmlns:");
                out.push_str(prefix);
                out.push_str("=\"");
                out.push_str(ns);
                out.push_str("\"\n");
            }
        }
        out.push_str(">\n");
        for level in &self.levels {
            out.push_str(level);
        }
        out.push_str("</rdf:RDF>\n");
    }
}

impl Drop for Writer<'_> {
    fn drop(&mut self) {
        return_buffers(&mut self.levels);
    }
}

/// An `rdf:List`'s cells as flat descriptions.
fn flat_list(out: &mut String, cells: &[(u128, Str<'_>)]) {
    for (i, (id, uri)) in cells.iter().enumerate() {
        out.push_str("  <rdf:Description rdf:nodeID=\"");
        node_id(out, *id);
        out.push_str("\">\n    <rdf:first rdf:resource=\"");
        uri.escape_into(out);
        out.push_str("\"/>\n");
        match cells.get(i + 1) {
            Some((next, _)) => {
                out.push_str("    <rdf:rest rdf:nodeID=\"");
                node_id(out, *next);
                out.push_str("\"/>\n");
            }
            None => {
                out.push_str("    <rdf:rest rdf:resource=\"");
                out.push_str(RDF_NS);
                out.push_str("nil\"/>\n");
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

    fn sample(style: Style) -> String {
        let mut w = Writer::new(style, 1);
        w.open_about(
            Str::Borrowed("http://x/records/1/problems/a&b"),
            sp("Problem"),
        );
        w.res("sp:belongsTo", "http://x/records/1");
        w.lit("sp:startDate", "2007");
        w.coded(
            "sp:problemName",
            &SNOMED,
            ("1201005", "Hypertension, benign <x>"),
        );
        w.child("sp:quantity", sp("QuantitativeResult"));
        w.value_and_unit("sp:valueAndUnit", "1.5", "");
        w.close();
        w.close();
        w.open_about(
            Str::Pair("http://x/records/1/problems/", "c"),
            sp("Problem"),
        );
        w.coded(
            "sp:problemName",
            &SNOMED,
            ("1201005", "Benign essential hypertension"),
        );
        w.num("sp:n", 30);
        w.close();
        w.open_blank(api("ResponseSummary"));
        w.int("api:totalResultCount", 2);
        w.list(
            "api:resultOrder",
            vec!["http://x/a".into(), "http://x/b".into()],
        );
        w.close();
        let mut out = String::new();
        w.finish(&mut out);
        out
    }

    fn parse(text: &str) -> Vec<oxrdf::Triple> {
        oxrdfxml::RdfXmlParser::new()
            .for_slice(text.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .unwrap_or_else(|e| panic!("{e}\n{text}"))
    }

    #[test]
    fn both_styles_give_the_same_graph() {
        let flat = sample(Style::Flat);
        let pretty = sample(Style::Pretty);
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
        assert!(!flat.contains("xmlns:vcard") && !flat.contains("xmlns:foaf"));
        let (a, b) = (parse(&flat), parse(&pretty));
        assert_eq!(a.len(), b.len(), "{flat}\n{pretty}");
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
        // An empty unit is an empty literal.
        assert!(a.iter().any(|t| t.predicate.as_str().ends_with("#unit")
            && matches!(&t.object, oxrdf::Term::Literal(l) if l.value().is_empty())));
    }

    #[test]
    fn prefix_bits_match_the_table() {
        for pred in [
            "api:x",
            "dcterms:title",
            "foaf:gender",
            "rdf:value",
            "sp:code",
            "spcode:x",
            "vcard:n",
        ] {
            let prefix = pred.split(':').next().unwrap_or("");
            let i = PREFIXES
                .iter()
                .position(|(p, _)| *p == prefix)
                .unwrap_or(99);
            assert_eq!(predicate_prefix_bit(pred), 1 << i, "{pred}");
        }
    }

    #[test]
    fn empty_graph() {
        let mut s = String::new();
        Writer::new(Style::Flat, 0).finish(&mut s);
        assert_eq!(s, EMPTY_GRAPH);
    }
}
