//! A fast reader for the RDF/XML that SMART containers send, straight into
//! the record's graph; anything else goes to oxrdfxml.
//!
//! What it reads (everything rdflib's `xml` and `pretty-xml` serializers
//! write): an optional XML declaration (version, `encoding` UTF-8,
//! standalone); comments outside property elements; one `rdf:RDF` root whose
//! attributes are namespace declarations (`xmlns:p`) and `xml:lang`; node
//! elements (`rdf:Description` or typed, e.g. `<sp:Medication>`) with
//! `rdf:about`, `rdf:nodeID` or neither (a fresh blank node), `xml:lang` and
//! property attributes (`sp:value="1"`); property elements with
//! `rdf:resource`, `rdf:nodeID`, `rdf:datatype`, `xml:lang`,
//! `rdf:parseType="Resource"`, and as content: nothing, one run of text
//! (the five predefined entities and character references), one CDATA
//! section, or one nested node element between whitespace.
//!
//! Anything else makes it give up on the page ([`GiveUp`], with the offset
//! and the reason): a DOCTYPE (entities), a processing instruction,
//! `rdf:li`, `rdf:ID`, `rdf:bagID`, `rdf:type` as an attribute,
//! `parseType="Literal"`/`"Collection"`/other, `xml:base` and every other
//! `xml*` attribute, a namespace declared below the root, a default
//! namespace, the `rdf` prefix bound elsewhere, the XML namespaces bound to a
//! prefix, property attributes on a property element, unprefixed or
//! non-ASCII names, attributes `rdf:about`/`rdf:resource`/`rdf:datatype` where
//! oxrdfxml would silently ignore them, a comment or a CDATA section next to
//! other content of a property element, an unknown entity, duplicate
//! attributes, a nesting deeper than [`MAX_DEPTH`], text where no literal
//! belongs, bytes that are not UTF-8, anything after the root element but
//! whitespace and comments, a term the graph refuses, and any markup that is
//! not well formed. The caller then rolls the graph back to where the page
//! began and hands the page to oxrdfxml, which reads it (or reports its
//! error) exactly as before: correctness never depends on this reader.
//!
//! Within what it reads, it produces exactly oxrdfxml's triples (lenient
//! mode, no base IRI; relative IRIs are resolved by the sink as for
//! oxrdfxml), in oxrdfxml's order (oxrdfxml hands over the triples of one
//! XML event last to first: a node element's type triple, then its property
//! attributes from the last to the first), so the graph gets the same terms,
//! ids and blank node numbers. It mirrors quick-xml 0.37 (under oxrdfxml
//! 0.2.5) where that matters: no end-of-line or attribute-value
//! normalization, whitespace is space, tab, CR and LF, a comment ends at the
//! first `-->`, a CDATA section at the first `]]>`, `&#0;` and surrogates are
//! errors. `tests/transform_fastxml.rs` checks the graphs against oxrdfxml's.
//!
//! Memory: the element stack is at most [`MAX_DEPTH`] deep and a tag at
//! most [`MAX_ATTRIBUTES`] attributes long; text is borrowed from the page
//! unless it holds an entity; the graph copies each distinct term once.

use super::graph::{Blank, FxBuild};
use super::sink::{Node, Object, Pred, Sink, SubjectMemo};
use oxrdf::{LiteralRef, NamedNodeRef};
use std::borrow::Cow;
use std::collections::HashMap;

const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const RDF_TYPE: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#type";
const XML_NS: &str = "http://www.w3.org/XML/1998/namespace";
const XMLNS_NS: &str = "http://www.w3.org/2000/xmlns/";

/// The deepest element nesting the fast reader follows (root included);
/// SMART answers nest at most about 10 deep.
pub(crate) const MAX_DEPTH: usize = 64;
/// The most attributes one tag may have for the fast reader.
pub(crate) const MAX_ATTRIBUTES: usize = 64;

/// `rdf:` names that are not property element names (oxrdfxml refuses them,
/// or gives `rdf:li` its own meaning).
const NOT_PROPERTIES: [&str; 12] = [
    "about",
    "aboutEach",
    "aboutEachPrefix",
    "bagID",
    "datatype",
    "Description",
    "ID",
    "li",
    "nodeID",
    "parseType",
    "RDF",
    "resource",
];

/// Why the fast reader handed a page to oxrdfxml.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct GiveUp {
    /// Byte offset in the page (after a byte-order mark).
    pub(crate) offset: usize,
    /// What it met there.
    pub(crate) what: &'static str,
}

type Step<T> = Result<T, GiveUp>;

fn give_up<T>(offset: usize, what: &'static str) -> Step<T> {
    Err(GiveUp { offset, what })
}

/// Reads one page into the sink, or gives up (the sink may then hold part
/// of the page: the caller rolls it back).
pub(crate) fn read_page(doc: &[u8], sink: &mut Sink<'_>) -> Step<()> {
    let text = match std::str::from_utf8(doc) {
        Ok(t) => t,
        Err(e) => return give_up(e.valid_up_to(), "bytes that are not UTF-8"),
    };
    let mut r = Reader {
        doc: text,
        b: doc,
        pos: 0,
        ns: Vec::new(),
        langs: Vec::new(),
        frames: Vec::new(),
        attrs: Vec::new(),
        fresh: 0,
        preds: HashMap::default(),
        rdf_type: None,
        pred: String::new(),
        obj: String::new(),
    };
    r.prolog()?;
    if r.root()? {
        r.body(sink)?;
    }
    r.epilog()
}

/// One attribute of the current tag, as written.
#[derive(Clone, Copy)]
struct Attr<'d> {
    at: usize,
    qname: &'d str,
    prefix: &'d str,
    local: &'d str,
    /// Raw (still escaped).
    value: &'d str,
}

/// A start tag's name and whether it closes itself.
#[derive(Clone, Copy)]
struct Tag<'d> {
    at: usize,
    qname: &'d str,
    prefix: &'d str,
    local: &'d str,
    empty: bool,
}

/// A node element's subject.
#[derive(Clone, Debug)]
enum Subject<'d> {
    Iri(Cow<'d, str>),
    Blank(Blank<'d>),
}

impl Subject<'_> {
    fn node(&self) -> Node<'_> {
        match self {
            Subject::Iri(i) => Node::Iri(i),
            Subject::Blank(b) => Node::Blank(*b),
        }
    }
}

/// What a property element holds so far.
#[derive(Debug)]
enum Content<'d> {
    Empty,
    /// One run of text (raw, maybe whitespace before a nested node).
    Text {
        at: usize,
        raw: &'d str,
    },
    CData(&'d str),
    /// A nested node element is open.
    Nested,
    /// The object is known (`rdf:resource`, `rdf:nodeID`, a nested node).
    Node(Subject<'d>),
}

/// `NO_LANG`: no `xml:lang` in scope; otherwise an index into `Reader::langs`.
const NO_LANG: u32 = u32::MAX;

#[derive(Debug)]
enum Frame<'d> {
    Root {
        qname: &'d str,
        lang: u32,
        own_lang: bool,
    },
    /// A node element, or the blank node of a `parseType="Resource"`
    /// property element (`resource`: closing it emits nothing).
    Node {
        qname: &'d str,
        subject: Subject<'d>,
        memo: SubjectMemo,
        lang: u32,
        own_lang: bool,
        resource: bool,
    },
    Prop {
        qname: &'d str,
        ns: &'d str,
        local: &'d str,
        lang: u32,
        own_lang: bool,
        datatype: Option<Cow<'d, str>>,
        content: Content<'d>,
    },
}

impl<'d> Frame<'d> {
    fn qname(&self) -> &'d str {
        match self {
            Frame::Root { qname, .. } | Frame::Node { qname, .. } | Frame::Prop { qname, .. } => {
                qname
            }
        }
    }

    fn lang(&self) -> u32 {
        match self {
            Frame::Root { lang, .. } | Frame::Node { lang, .. } | Frame::Prop { lang, .. } => *lang,
        }
    }

    fn own_lang(&self) -> bool {
        match self {
            Frame::Root { own_lang, .. }
            | Frame::Node { own_lang, .. }
            | Frame::Prop { own_lang, .. } => *own_lang,
        }
    }
}

/// What an attribute of a node or property element means.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role<'d> {
    Lang,
    About,
    NodeId,
    Resource,
    Datatype,
    ParseType,
    /// A property attribute: its namespace (the local name is the attribute's).
    Property(&'d str),
}

struct Reader<'d> {
    doc: &'d str,
    b: &'d [u8],
    pos: usize,
    /// Prefix -> namespace, declared on the root.
    ns: Vec<(&'d str, &'d str)>,
    /// The `xml:lang` values in scope (lower-cased), innermost last.
    langs: Vec<Cow<'d, str>>,
    frames: Vec<Frame<'d>>,
    attrs: Vec<Attr<'d>>,
    /// Anonymous blank nodes so far in this page.
    fresh: u32,
    /// Predicates interned so far, by qualified name (the prefixes are the
    /// root's, so a name means one IRI in the page).
    preds: HashMap<&'d str, Pred, FxBuild>,
    rdf_type: Option<Pred>,
    /// Scratch for predicate IRIs (namespace + local name).
    pred: String,
    /// Scratch for type IRIs of typed node elements.
    obj: String,
}

#[inline]
fn is_ws(c: u8) -> bool {
    matches!(c, b' ' | b'\t' | b'\n' | b'\r')
}

/// Byte classes of the ASCII names the fast reader accepts: bit 1 may
/// start a name (`A-Z a-z _`), bit 2 may continue one (also `0-9 - .`).
static NAME: [u8; 256] = {
    let mut t = [0u8; 256];
    let mut c = 0;
    while c < 128 {
        let b = c as u8;
        if b.is_ascii_alphabetic() || b == b'_' {
            t[c] = 3;
        } else if b.is_ascii_digit() || b == b'-' || b == b'.' {
            t[c] = 2;
        }
        c += 1;
    }
    t
};

#[inline]
fn is_name_start(c: u8) -> bool {
    NAME[usize::from(c)] & 1 != 0
}

#[inline]
fn is_name_char(c: u8) -> bool {
    NAME[usize::from(c)] & 2 != 0
}

/// The length of the run of name characters at the start of `b`.
#[inline]
fn name_len(b: &[u8]) -> usize {
    b.iter().position(|&c| !is_name_char(c)).unwrap_or(b.len())
}

/// An ASCII NCName (a subset of what oxrdfxml accepts as `rdf:nodeID`).
fn is_ascii_ncname(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty() && is_name_start(b[0]) && b[1..].iter().all(|&c| is_name_char(c))
}

fn all_ws(s: &str) -> bool {
    s.bytes().all(is_ws)
}

/// Replaces the five predefined entities and character references as
/// quick-xml does (`at` is the offset of `raw` in the page).
fn unescape(raw: &str, at: usize) -> Step<Cow<'_, str>> {
    let Some(first) = memchr::memchr(b'&', raw.as_bytes()) else {
        return Ok(Cow::Borrowed(raw));
    };
    let b = raw.as_bytes();
    let mut out = String::with_capacity(raw.len());
    let mut last = 0;
    let mut i = first;
    loop {
        // quick-xml: the next `&` or `;` after the `&` must be a `;`.
        let Some(end) = memchr::memchr2(b'&', b';', &b[i + 1..]).map(|e| i + 1 + e) else {
            return give_up(at + i, "an unterminated entity reference");
        };
        if b[end] != b';' {
            return give_up(at + i, "an unterminated entity reference");
        }
        out.push_str(&raw[last..i]);
        let name = &raw[i + 1..end];
        match name {
            "lt" => out.push('<'),
            "gt" => out.push('>'),
            "amp" => out.push('&'),
            "apos" => out.push('\''),
            "quot" => out.push('"'),
            _ => match name.strip_prefix('#').and_then(char_ref) {
                Some(c) => out.push(c),
                None => return give_up(at + i, "an entity that is not predefined"),
            },
        }
        last = end + 1;
        match memchr::memchr(b'&', &b[last..]) {
            Some(n) => i = last + n,
            None => break,
        }
    }
    out.push_str(&raw[last..]);
    Ok(Cow::Owned(out))
}

/// `#x41` / `#65` without the `#`, as quick-xml reads it.
fn char_ref(num: &str) -> Option<char> {
    let (digits, radix) = match num.strip_prefix('x') {
        Some(hex) => (hex, 16),
        None => (num, 10),
    };
    if digits.starts_with(['+', '-']) {
        return None;
    }
    let code = u32::from_str_radix(digits, radix).ok()?;
    if code == 0 {
        return None;
    }
    char::from_u32(code)
}

/// `ns` + `local` in `buf`.
#[inline]
fn join<'b>(buf: &'b mut String, ns: &str, local: &str) -> &'b str {
    buf.clear();
    buf.push_str(ns);
    buf.push_str(local);
    buf
}

#[inline]
fn emit(
    sink: &mut Sink<'_>,
    at: usize,
    subject: Node<'_>,
    memo: &mut SubjectMemo,
    p: Pred,
    object: Object<'_>,
) -> Step<()> {
    match sink.triple_with(subject, memo, p, object) {
        Ok(()) => Ok(()),
        Err(_) => give_up(at, "a term the graph refuses"),
    }
}

/// The predicate `ns` + `local` (qualified name `qname`), interned once per
/// page.
#[inline]
fn predicate<'d>(
    cache: &mut HashMap<&'d str, Pred, FxBuild>,
    buf: &mut String,
    sink: &mut Sink<'_>,
    (qname, ns, local): (&'d str, &str, &str),
    at: usize,
) -> Step<Pred> {
    if let Some(p) = cache.get(qname) {
        return Ok(*p);
    }
    match sink.predicate(join(buf, ns, local)) {
        Ok(p) => {
            cache.insert(qname, p);
            Ok(p)
        }
        Err(_) => give_up(at, "a predicate the graph refuses"),
    }
}

impl<'d> Reader<'d> {
    #[inline]
    fn at(&self, s: &[u8]) -> bool {
        self.b[self.pos..].starts_with(s)
    }

    fn skip_ws(&mut self) {
        while self.pos < self.b.len() && is_ws(self.b[self.pos]) {
            self.pos += 1;
        }
    }

    /// `<!--` ... the first `-->` after it.
    fn comment(&mut self) -> Step<()> {
        let from = self.pos + 4;
        match memchr::memmem::find(&self.b[from..], b"-->") {
            Some(e) => {
                self.pos = from + e + 3;
                Ok(())
            }
            None => give_up(self.pos, "an unclosed comment"),
        }
    }

    /// The XML declaration, comments and whitespace before the root.
    fn prolog(&mut self) -> Step<()> {
        if self.at(b"<?xml") && self.b.get(5).is_some_and(|&c| is_ws(c) || c == b'?') {
            self.declaration()?;
        }
        loop {
            self.skip_ws();
            if self.at(b"<!--") {
                self.comment()?;
            } else if self.at(b"<") && self.b.get(self.pos + 1).is_some_and(|&c| is_name_start(c)) {
                return Ok(());
            } else {
                return give_up(self.pos, "something other than a root element");
            }
        }
    }

    /// `<?xml version="..." encoding="UTF-8" standalone="..."?>`.
    fn declaration(&mut self) -> Step<()> {
        let Some(end) = memchr::memmem::find(self.b, b"?>") else {
            return give_up(0, "an unclosed XML declaration");
        };
        let mut i = 5;
        let mut seen: [bool; 3] = [false; 3];
        loop {
            let start = i;
            while i < end && is_ws(self.b[i]) {
                i += 1;
            }
            if i == end {
                break;
            }
            if i == start {
                return give_up(i, "an unusual XML declaration");
            }
            let Some((name, value, next)) = self.pseudo_attribute(i, end) else {
                return give_up(i, "an unusual XML declaration");
            };
            let k = match name {
                "version" => 0,
                "encoding" => {
                    if !(value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8"))
                    {
                        return give_up(i, "an encoding other than UTF-8");
                    }
                    1
                }
                "standalone" => 2,
                _ => return give_up(i, "an unusual XML declaration"),
            };
            if std::mem::replace(&mut seen[k], true) || value.contains('&') {
                return give_up(i, "an unusual XML declaration");
            }
            i = next;
        }
        self.pos = end + 2;
        Ok(())
    }

    /// `name = "value"` at `i` (before `end`): name, raw value, next offset.
    fn pseudo_attribute(&self, mut i: usize, end: usize) -> Option<(&'d str, &'d str, usize)> {
        let b = &self.b[..end];
        let start = i;
        while i < end && (is_name_char(b[i]) || b[i] == b':') {
            i += 1;
        }
        let name = &self.doc[start..i];
        while i < end && is_ws(b[i]) {
            i += 1;
        }
        if i >= end || b[i] != b'=' {
            return None;
        }
        i += 1;
        while i < end && is_ws(b[i]) {
            i += 1;
        }
        let quote = *b.get(i).filter(|&&q| q == b'"' || q == b'\'')?;
        let close = memchr::memchr(quote, &b[i + 1..])? + i + 1;
        Some((name, &self.doc[i + 1..close], close + 1))
    }

    /// A qualified name at `i`: (qname, prefix, local, end). Unprefixed
    /// names have an empty prefix.
    #[inline]
    fn qname(&self, i: usize) -> Step<(&'d str, &'d str, &'d str, usize)> {
        let rest = &self.b[i.min(self.b.len())..];
        if !rest.first().is_some_and(|&c| is_name_start(c)) {
            return give_up(i, "an unusual name");
        }
        let first = name_len(rest);
        if rest.get(first) != Some(&b':') {
            let k = i + first;
            let qname = &self.doc[i..k];
            return Ok((qname, "", qname, k));
        }
        let after = &rest[first + 1..];
        if !after.first().is_some_and(|&c| is_name_start(c)) {
            return give_up(i, "an unusual name");
        }
        let k = i + first + 1 + name_len(after);
        let colon = i + first;
        Ok((
            &self.doc[i..k],
            &self.doc[i..colon],
            &self.doc[colon + 1..k],
            k,
        ))
    }

    /// A start tag at `self.pos` (`<` then a name): its name, with its
    /// attributes in `self.attrs`.
    fn start_tag(&mut self) -> Step<Tag<'d>> {
        let at = self.pos;
        let (qname, prefix, local, mut i) = self.qname(at + 1)?;
        self.attrs.clear();
        let b = self.b;
        loop {
            let ws = i;
            while i < b.len() && is_ws(b[i]) {
                i += 1;
            }
            match b.get(i) {
                Some(b'>') => {
                    self.pos = i + 1;
                    return Ok(Tag {
                        at,
                        qname,
                        prefix,
                        local,
                        empty: false,
                    });
                }
                Some(b'/') if b.get(i + 1) == Some(&b'>') => {
                    self.pos = i + 2;
                    return Ok(Tag {
                        at,
                        qname,
                        prefix,
                        local,
                        empty: true,
                    });
                }
                Some(_) if i > ws => i = self.attribute(i)?,
                _ => return give_up(i, "a malformed start tag"),
            }
        }
    }

    /// One `name="value"` at `i`, pushed to `self.attrs`; the offset after it.
    fn attribute(&mut self, i: usize) -> Step<usize> {
        let (qname, prefix, local, mut k) = self.qname(i)?;
        let b = self.b;
        while k < b.len() && is_ws(b[k]) {
            k += 1;
        }
        if b.get(k) != Some(&b'=') {
            return give_up(i, "a malformed attribute");
        }
        k += 1;
        while k < b.len() && is_ws(b[k]) {
            k += 1;
        }
        let Some(&quote) = b.get(k).filter(|&&q| q == b'"' || q == b'\'') else {
            return give_up(i, "a malformed attribute");
        };
        let start = k + 1;
        let Some(len) = memchr::memchr2(quote, b'<', &b[start..]) else {
            return give_up(i, "an unclosed attribute value");
        };
        if b[start + len] == b'<' {
            return give_up(i, "`<` in an attribute value");
        }
        if self.attrs.len() >= MAX_ATTRIBUTES {
            return give_up(i, "too many attributes");
        }
        if self.attrs.iter().any(|a| a.qname == qname) {
            return give_up(i, "a duplicate attribute");
        }
        self.attrs.push(Attr {
            at: i,
            qname,
            prefix,
            local,
            value: &self.doc[start..start + len],
        });
        Ok(start + len + 1)
    }

    /// The namespace a prefix is bound to on the root.
    fn resolve(&self, prefix: &str, at: usize) -> Step<&'d str> {
        if prefix.is_empty() {
            return give_up(at, "a name without a namespace prefix");
        }
        match self.ns.iter().rev().find(|(p, _)| *p == prefix) {
            Some((_, ns)) => Ok(ns),
            None => give_up(at, "an undeclared namespace prefix"),
        }
    }

    /// The root element's start tag; `true` when it has content to read.
    fn root(&mut self) -> Step<bool> {
        let tag = self.start_tag()?;
        let (mut lang, mut own_lang) = (NO_LANG, false);
        for a in self.attrs.clone() {
            if let Some(prefix) = a.qname.strip_prefix("xmlns:") {
                let ns = a.value;
                if prefix.starts_with("xml")
                    || ns.is_empty()
                    || ns.contains('&')
                    || ns == XML_NS
                    || ns == XMLNS_NS
                    || (prefix == "rdf" && ns != RDF)
                {
                    return give_up(a.at, "an unusual namespace declaration");
                }
                self.ns.push((prefix, ns));
            } else if a.qname == "xml:lang" {
                lang = self.push_lang(&a)?;
                own_lang = true;
            } else {
                return give_up(a.at, "an unusual attribute on the root element");
            }
        }
        if self.resolve(tag.prefix, tag.at)? != RDF || tag.local != "RDF" {
            return give_up(tag.at, "a root element other than rdf:RDF");
        }
        if tag.empty {
            return Ok(false);
        }
        self.frames.push(Frame::Root {
            qname: tag.qname,
            lang,
            own_lang,
        });
        Ok(true)
    }

    /// Adds a lower-cased `xml:lang` value to the scope.
    fn push_lang(&mut self, a: &Attr<'d>) -> Step<u32> {
        let v = unescape(a.value, a.at)?;
        let v = if v.bytes().any(|c| c.is_ascii_uppercase()) {
            Cow::Owned(v.to_ascii_lowercase())
        } else {
            v
        };
        self.langs.push(v);
        Ok((self.langs.len() - 1) as u32)
    }

    /// What an attribute of a node or property element means.
    fn role(&self, a: &Attr<'d>) -> Step<Role<'d>> {
        if a.qname == "xml:lang" {
            return Ok(Role::Lang);
        }
        if a.qname.starts_with("xml") {
            return give_up(a.at, "an `xml` attribute other than xml:lang");
        }
        let ns = self.resolve(a.prefix, a.at)?;
        if ns != RDF {
            return Ok(Role::Property(ns));
        }
        Ok(match a.local {
            "about" => Role::About,
            "nodeID" => Role::NodeId,
            "resource" => Role::Resource,
            "datatype" => Role::Datatype,
            "parseType" => Role::ParseType,
            _ => return give_up(a.at, "an unusual rdf: attribute"),
        })
    }

    /// The main loop: markup and text until the root element closes.
    fn body(&mut self, sink: &mut Sink<'_>) -> Step<()> {
        loop {
            let Some(lt) = memchr::memchr(b'<', &self.b[self.pos..]).map(|i| self.pos + i) else {
                return give_up(self.b.len(), "the end of the page inside the root element");
            };
            if lt > self.pos {
                self.text(self.pos, lt)?;
            }
            self.pos = lt;
            match self.b.get(lt + 1) {
                Some(b'/') => {
                    if self.end_tag(sink)? {
                        return Ok(());
                    }
                }
                Some(b'!') => self.bang()?,
                Some(c) if is_name_start(*c) => self.start(sink)?,
                _ => return give_up(lt, "unusual markup"),
            }
        }
    }

    /// Text between two pieces of markup.
    fn text(&mut self, start: usize, end: usize) -> Step<()> {
        let raw = &self.doc[start..end];
        if let Some(Frame::Prop { content, .. }) = self.frames.last_mut() {
            match content {
                Content::Empty => {
                    *content = Content::Text { at: start, raw };
                    return Ok(());
                }
                Content::Node(_) => {}
                _ => return give_up(start, "text next to other content of a property"),
            }
        }
        if all_ws(raw) {
            Ok(())
        } else {
            give_up(start, "text where no literal belongs")
        }
    }

    /// `<!--` or `<![CDATA[`; anything else (a DOCTYPE) gives up.
    fn bang(&mut self) -> Step<()> {
        let in_prop = matches!(self.frames.last(), Some(Frame::Prop { .. }));
        if self.at(b"<!--") && !in_prop {
            return self.comment();
        }
        if !self.at(b"<![CDATA[") {
            return give_up(self.pos, "a comment in a property element, or a DOCTYPE");
        }
        let from = self.pos + 9;
        let Some(end) = memchr::memmem::find(&self.b[from..], b"]]>").map(|e| from + e) else {
            return give_up(self.pos, "an unclosed CDATA section");
        };
        let alone = self.b[end + 3..].starts_with(b"</");
        match self.frames.last_mut() {
            Some(Frame::Prop { content, .. }) if alone && matches!(content, Content::Empty) => {
                *content = Content::CData(&self.doc[from..end]);
                self.pos = end + 3;
                Ok(())
            }
            _ => give_up(self.pos, "a CDATA section next to other content"),
        }
    }

    /// A start tag: a node element below the root or a property element, a
    /// property element below a node element.
    fn start(&mut self, sink: &mut Sink<'_>) -> Step<()> {
        let tag = self.start_tag()?;
        if self.frames.len() >= MAX_DEPTH {
            return give_up(tag.at, "elements nested too deep");
        }
        match self.frames.last() {
            Some(Frame::Node { .. }) => self.property_element(&tag, sink)?,
            _ => self.node_element(&tag, sink)?,
        }
        if tag.empty {
            self.close(sink)?;
        }
        Ok(())
    }

    /// `xml:lang` in scope for a new element: its own, or its parent's.
    fn element_lang(&mut self, lang_attr: Option<Attr<'d>>) -> Step<(u32, bool)> {
        match lang_attr {
            Some(a) => Ok((self.push_lang(&a)?, true)),
            None => Ok((self.frames.last().map_or(NO_LANG, Frame::lang), false)),
        }
    }

    fn node_element(&mut self, tag: &Tag<'d>, sink: &mut Sink<'_>) -> Step<()> {
        let ns = self.resolve(tag.prefix, tag.at)?;
        let typed = ns != RDF;
        if !typed && tag.local != "Description" {
            return give_up(tag.at, "an rdf: node element other than rdf:Description");
        }
        let (mut about, mut node_id, mut lang_attr) = (None, None, None);
        let mut props = 0;
        for a in &self.attrs {
            let slot = match self.role(a)? {
                Role::Lang => &mut lang_attr,
                Role::About => &mut about,
                Role::NodeId => &mut node_id,
                Role::Property(pns) => {
                    let same =
                        |b: &Attr<'d>| b.local == a.local && self.resolve(b.prefix, 0) == Ok(pns);
                    if self.attrs.iter().filter(|b| same(b)).count() > 1 {
                        return give_up(a.at, "a property attribute given twice");
                    }
                    props += 1;
                    continue;
                }
                _ => return give_up(a.at, "an attribute oxrdfxml ignores on a node element"),
            };
            if slot.replace(*a).is_some() {
                return give_up(a.at, "an attribute given twice");
            }
        }
        let subject = match (about, node_id) {
            (Some(a), None) => Subject::Iri(unescape(a.value, a.at)?),
            (None, Some(n)) if is_ascii_ncname(n.value) => Subject::Blank(Blank::Label(n.value)),
            (None, None) => {
                self.fresh += 1;
                Subject::Blank(Blank::Fresh(self.fresh - 1))
            }
            _ => return give_up(tag.at, "an unusual node element subject"),
        };
        // Below a property element: that property's object, alone.
        if let Some(Frame::Prop {
            content, datatype, ..
        }) = self.frames.last_mut()
        {
            let ws = match content {
                Content::Empty => true,
                Content::Text { raw, .. } => all_ws(raw),
                _ => false,
            };
            if !ws || datatype.is_some() {
                return give_up(tag.at, "a node element next to other content of a property");
            }
            *content = Content::Nested;
        }
        let (lang, own_lang) = self.element_lang(lang_attr)?;
        // oxrdfxml's order: the type triple, then property attributes last to first.
        let mut memo = SubjectMemo::default();
        if typed {
            let p = match self.rdf_type {
                Some(p) => p,
                None => match sink.predicate(RDF_TYPE) {
                    Ok(p) => *self.rdf_type.insert(p),
                    Err(_) => return give_up(tag.at, "a predicate the graph refuses"),
                },
            };
            let ty = Object::Node(Node::Iri(join(&mut self.obj, ns, tag.local)));
            emit(sink, tag.at, subject.node(), &mut memo, p, ty)?;
        }
        if props > 0 {
            self.property_attributes(&subject, &mut memo, lang, sink)?;
        }
        self.frames.push(Frame::Node {
            qname: tag.qname,
            subject,
            memo,
            lang,
            own_lang,
            resource: false,
        });
        Ok(())
    }

    /// The literal triples of a node element's property attributes, last first.
    fn property_attributes(
        &mut self,
        subject: &Subject<'d>,
        memo: &mut SubjectMemo,
        lang: u32,
        sink: &mut Sink<'_>,
    ) -> Step<()> {
        let lang = self.langs.get(lang as usize).map(|l| &**l);
        for i in (0..self.attrs.len()).rev() {
            let a = self.attrs[i];
            let Role::Property(ns) = self.role(&a)? else {
                continue;
            };
            let value = unescape(a.value, a.at)?;
            let literal = match lang {
                Some(l) => LiteralRef::new_language_tagged_literal_unchecked(&value, l),
                None => LiteralRef::new_simple_literal(&value),
            };
            let key = (a.qname, ns, a.local);
            let p = predicate(&mut self.preds, &mut self.pred, sink, key, a.at)?;
            emit(
                sink,
                a.at,
                subject.node(),
                memo,
                p,
                Object::Literal(literal),
            )?;
        }
        Ok(())
    }

    fn property_element(&mut self, tag: &Tag<'d>, sink: &mut Sink<'_>) -> Step<()> {
        let ns = self.resolve(tag.prefix, tag.at)?;
        if ns == RDF && NOT_PROPERTIES.contains(&tag.local) {
            return give_up(tag.at, "rdf:li or another rdf: name as a property");
        }
        let (mut resource, mut node_id, mut datatype, mut parse_type, mut lang_attr) =
            (None, None, None, None, None);
        for a in &self.attrs {
            let slot = match self.role(a)? {
                Role::Lang => &mut lang_attr,
                Role::Resource => &mut resource,
                Role::NodeId => &mut node_id,
                Role::Datatype => &mut datatype,
                Role::ParseType => &mut parse_type,
                _ => return give_up(a.at, "an unusual attribute on a property element"),
            };
            if slot.replace(*a).is_some() {
                return give_up(a.at, "an attribute given twice");
            }
        }
        let (lang, own_lang) = self.element_lang(lang_attr)?;
        let content = match (resource, node_id, datatype, parse_type) {
            (None, None, None, Some(pt)) if pt.value == "Resource" => {
                return self.parse_type_resource(tag, ns, lang, own_lang, sink);
            }
            (Some(r), None, None, None) => Content::Node(Subject::Iri(unescape(r.value, r.at)?)),
            (None, Some(n), None, None) if is_ascii_ncname(n.value) => {
                Content::Node(Subject::Blank(Blank::Label(n.value)))
            }
            (None, None, _, None) => Content::Empty,
            _ => return give_up(tag.at, "an unusual property element"),
        };
        let datatype = match datatype {
            Some(d) => Some(unescape(d.value, d.at)?),
            None => None,
        };
        self.frames.push(Frame::Prop {
            qname: tag.qname,
            ns,
            local: tag.local,
            lang,
            own_lang,
            datatype,
            content,
        });
        Ok(())
    }

    /// `rdf:parseType="Resource"`: the triple to a fresh blank node now (as
    /// oxrdfxml does), then the element's content describes that node.
    fn parse_type_resource(
        &mut self,
        tag: &Tag<'d>,
        ns: &'d str,
        lang: u32,
        own_lang: bool,
        sink: &mut Sink<'_>,
    ) -> Step<()> {
        let object = Blank::Fresh(self.fresh);
        self.fresh += 1;
        let key = (tag.qname, ns, tag.local);
        let p = predicate(&mut self.preds, &mut self.pred, sink, key, tag.at)?;
        let Some(Frame::Node { subject, memo, .. }) = self.frames.last_mut() else {
            return give_up(tag.at, "a property element outside a node element");
        };
        let o = Object::Node(Node::Blank(object));
        emit(sink, tag.at, subject.node(), memo, p, o)?;
        self.frames.push(Frame::Node {
            qname: tag.qname,
            subject: Subject::Blank(object),
            memo: SubjectMemo::default(),
            lang,
            own_lang,
            resource: true,
        });
        Ok(())
    }

    /// `</name>`; `true` when it closes the root.
    fn end_tag(&mut self, sink: &mut Sink<'_>) -> Step<bool> {
        let at = self.pos;
        let Some(open) = self.frames.last().map(Frame::qname) else {
            return give_up(at, "an end tag without a start tag");
        };
        // `</` + the open element's name, then whitespace and `>`.
        let mut i = at + 2 + open.len();
        if !self.b[at + 2..].starts_with(open.as_bytes()) {
            return give_up(at, "an end tag that does not match");
        }
        while i < self.b.len() && is_ws(self.b[i]) {
            i += 1;
        }
        if self.b.get(i) != Some(&b'>') {
            return give_up(at, "a malformed or mismatched end tag");
        }
        self.pos = i + 1;
        self.close(sink)
    }

    /// Closes the innermost element; `true` when it is the root.
    fn close(&mut self, sink: &mut Sink<'_>) -> Step<bool> {
        let at = self.pos;
        let Some(frame) = self.frames.pop() else {
            return give_up(at, "an end tag without a start tag");
        };
        let own_lang = frame.own_lang();
        let root = matches!(frame, Frame::Root { .. });
        match frame {
            Frame::Root { .. } => {}
            Frame::Node {
                subject,
                resource: false,
                ..
            } => {
                if let Some(Frame::Prop { content, .. }) = self.frames.last_mut() {
                    *content = Content::Node(subject);
                }
            }
            Frame::Node { resource: true, .. } => {}
            Frame::Prop {
                qname,
                ns,
                local,
                lang,
                datatype,
                content,
                ..
            } => self.end_property(at, (qname, ns, local), lang, datatype, content, sink)?,
        }
        // The element's own `xml:lang` leaves the scope with it.
        if own_lang {
            self.langs.pop();
        }
        Ok(root)
    }

    /// The triple of a property element, at its end tag.
    fn end_property(
        &mut self,
        at: usize,
        (qname, ns, local): (&'d str, &'d str, &'d str),
        lang: u32,
        datatype: Option<Cow<'d, str>>,
        content: Content<'d>,
        sink: &mut Sink<'_>,
    ) -> Step<()> {
        let p = predicate(
            &mut self.preds,
            &mut self.pred,
            sink,
            (qname, ns, local),
            at,
        )?;
        let Some(Frame::Node { subject, memo, .. }) = self.frames.last_mut() else {
            return give_up(at, "a property element outside a node element");
        };
        let text = match &content {
            Content::Node(object) => {
                return emit(
                    sink,
                    at,
                    subject.node(),
                    memo,
                    p,
                    Object::Node(object.node()),
                );
            }
            Content::Nested => return give_up(at, "a property closed inside its node"),
            Content::Empty => Cow::Borrowed(""),
            Content::CData(s) => Cow::Borrowed(*s),
            Content::Text { at, raw } => unescape(raw, *at)?,
        };
        let literal = match (&datatype, self.langs.get(lang as usize)) {
            (Some(dt), _) => LiteralRef::new_typed_literal(&text, NamedNodeRef::new_unchecked(dt)),
            (None, Some(l)) => LiteralRef::new_language_tagged_literal_unchecked(&text, l),
            (None, None) => LiteralRef::new_simple_literal(&text),
        };
        emit(sink, at, subject.node(), memo, p, Object::Literal(literal))
    }

    /// After the root: whitespace and comments only.
    fn epilog(&mut self) -> Step<()> {
        loop {
            self.skip_ws();
            if self.pos >= self.b.len() {
                return Ok(());
            }
            if self.at(b"<!--") {
                self.comment()?;
            } else {
                return give_up(self.pos, "content after the root element");
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_read_as_quick_xml_reads_them() {
        let ok = |raw: &str| unescape(raw, 0).map(Cow::into_owned).ok();
        assert_eq!(ok("plain; text;"), Some("plain; text;".into()));
        assert_eq!(ok("&lt;&gt;&amp;&apos;&quot;"), Some("<>&'\"".into()));
        assert_eq!(
            ok("&#65;&#x41;&#x00e9;&#0065;&#1;"),
            Some("AAéA\u{1}".into())
        );
        assert_eq!(ok("&#x1F48A;"), Some("💊".into()));
        // quick-xml refuses these; the fast reader gives up on them.
        for bad in [
            "&",
            "&amp",
            "&amp &amp;",
            "&nbsp;",
            "&#0;",
            "&#x0;",
            "&#xD800;",
            "&#x110000;",
            "&#+65;",
            "&#-65;",
            "&#X41;",
            "&#;",
            "&#x;",
            "&#99999999999;",
            "&;",
        ] {
            assert_eq!(ok(bad), None, "{bad}");
        }
    }

    #[test]
    fn names_and_node_ids() {
        assert!(is_ascii_ncname("N0a1b-2.c_d"));
        assert!(is_ascii_ncname("_x"));
        for bad in ["", "1a", "-a", "a:b", "é", "a b"] {
            assert!(!is_ascii_ncname(bad), "{bad}");
        }
    }
}
