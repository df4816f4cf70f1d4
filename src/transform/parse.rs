//! Reading one record's pages of RDF/XML: a UTF-8 BOM is skipped, each page
//! is parsed with oxrdfxml, a parse error gets the line and column of the
//! parser's position, and a body that stops before its root element is closed
//! (a truncated answer, which the XML reader alone would accept) is refused.
//!
//! Each page goes first through the fast reader (`fastxml.rs`), which reads
//! the RDF/XML containers actually send straight into the graph; on anything
//! else it gives up, the graph is rolled back to where the page began, and
//! oxrdfxml reads the page. oxrdfxml runs in `lenient()` mode, which skips
//! IRI resolution checks and language-tag validation on every occurrence;
//! with either reader the sink (`sink.rs`) validates each *distinct* IRI,
//! datatype and language tag once when it is first interned, so invalid
//! terms are still refused.

use super::error::{TransformError, quote};
use super::sink::Sink;
use super::{entities, fastxml};
use oxrdf::TermRef;
use oxrdfxml::RdfXmlParser;

const BOM: &[u8] = b"\xEF\xBB\xBF";

/// The page without a leading UTF-8 byte-order mark.
pub(crate) fn strip_bom(page: &[u8]) -> &[u8] {
    page.strip_prefix(BOM).unwrap_or(page)
}

/// 1-based line and column (in characters) of a byte offset.
pub(crate) fn position(doc: &[u8], offset: usize) -> (u64, u64) {
    let offset = offset.min(doc.len());
    let before = &doc[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() as u64 + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    // Count characters, not bytes: skip UTF-8 continuation bytes.
    let column = before[line_start..]
        .iter()
        .filter(|&&b| (b & 0xC0) != 0x80)
        .count() as u64
        + 1;
    (line, column)
}

/// An error at a byte offset of a page: its line and column, and a short
/// escaped excerpt of the body there. `msg` must already be bounded.
fn error_at(doc: &[u8], offset: usize, page: usize, pages: usize, msg: &str) -> TransformError {
    let (line, column) = position(doc, offset);
    let (msg, hint) = match msg.split_once("\nhint: ") {
        Some((m, h)) => (m, Some(h)),
        None => (msg, None),
    };
    let mut message = if pages > 1 {
        format!("page {} of {pages}: {msg}", page + 1)
    } else {
        msg.to_owned()
    };
    message.push_str(&format!(
        "\n  near: {}",
        crate::text::excerpt(doc, Some(offset))
    ));
    if let Some(h) = hint {
        message.push_str("\nhint: ");
        message.push_str(h);
    }
    TransformError {
        line: Some(line),
        column: Some(column),
        message,
    }
}

/// Parses every page into the sink's graph: each page through the fast
/// reader (`fastxml.rs`), or, when it gives up, from where the page began
/// through oxrdfxml.
pub(crate) fn parse_pages(
    pages: &[&[u8]],
    base_iri: &str,
    sink: &mut Sink<'_>,
) -> Result<(), TransformError> {
    let bad_base = |e: String| {
        TransformError::new(format!(
            "the request URL is not a valid base IRI: {e}\nhint: the base IRI must be the \
             absolute, percent-encoded request URL (a record id with spaces, quotes or other \
             reserved characters is percent-encoded in it)"
        ))
    };
    // Lenient: no base in the parser; the sink resolves the few relative
    // IRIs itself (see `iri.rs`).
    check_iri(base_iri).map_err(bad_base)?;
    if pages.is_empty() {
        return Err(TransformError::new(
            "the answer has no pages (expected at least one RDF/XML document)",
        ));
    }
    let mut expanded = 0u64;
    for (index, page) in pages.iter().enumerate() {
        let doc = strip_bom(page);
        let at = |(offset, msg): (usize, String)| error_at(doc, offset, index, pages.len(), &msg);
        if looks_like_html(doc) {
            return Err(html_page(doc, index, pages.len()));
        }
        entities::check(doc, &mut expanded).map_err(at)?;
        sink.graph.begin_page();
        let mark = sink.graph.mark();
        let fast = if counters::fast_reader_enabled() {
            let result = fastxml::read_page(doc, sink);
            counters::page_read(result);
            result.is_ok()
        } else {
            false
        };
        if !fast {
            sink.graph.rollback(mark);
            parse_with_oxrdfxml(doc, index, pages.len(), sink)?;
        }
        check_complete(doc).map_err(at)?;
    }
    Ok(())
}

/// One page through oxrdfxml (lenient mode, no base IRI).
fn parse_with_oxrdfxml(
    doc: &[u8],
    index: usize,
    pages: usize,
    sink: &mut Sink<'_>,
) -> Result<(), TransformError> {
    let mut reader = RdfXmlParser::new().lenient().for_slice(doc);
    while let Some(result) = reader.next() {
        let failure = match result {
            Ok(t) => match sink.owned_triple(&t) {
                Ok(()) => continue,
                Err(msg) => msg,
            },
            Err(e) => format!("not valid RDF/XML: {}", quote(&e.to_string())),
        };
        let offset = usize::try_from(reader.buffer_position()).unwrap_or(usize::MAX);
        return Err(error_at(doc, offset, index, pages, &failure));
    }
    Ok(())
}

/// Which reader read the pages of this thread (`parse-counter` feature, for
/// the tests), and a switch to send every page to oxrdfxml (the tests and
/// the bench that compare both readers).
pub(crate) mod counters {
    use super::fastxml::GiveUp;
    use std::cell::Cell;

    thread_local! {
        static ENABLED: Cell<bool> = const { Cell::new(true) };
    }

    #[inline]
    pub(crate) fn fast_reader_enabled() -> bool {
        ENABLED.with(Cell::get)
    }

    pub(crate) fn set_fast_reader(enabled: bool) {
        ENABLED.with(|c| c.set(enabled));
    }

    #[cfg(feature = "parse-counter")]
    thread_local! {
        static FAST: Cell<u64> = const { Cell::new(0) };
        static FALLBACK: Cell<u64> = const { Cell::new(0) };
        static LAST: Cell<Option<GiveUp>> = const { Cell::new(None) };
    }

    #[inline]
    pub(crate) fn page_read(result: Result<(), GiveUp>) {
        #[cfg(feature = "parse-counter")]
        match result {
            Ok(()) => FAST.with(|c| c.set(c.get() + 1)),
            Err(g) => {
                FALLBACK.with(|c| c.set(c.get() + 1));
                LAST.with(|c| c.set(Some(g)));
            }
        }
        #[cfg(not(feature = "parse-counter"))]
        let _ = result;
    }

    /// (pages read by the fast reader, pages handed to oxrdfxml, the last
    /// reason for handing one over: offset and what).
    #[cfg(feature = "parse-counter")]
    pub(crate) fn get() -> (u64, u64, Option<(usize, &'static str)>) {
        (
            FAST.with(Cell::get),
            FALLBACK.with(Cell::get),
            LAST.with(Cell::get).map(|g| (g.offset, g.what)),
        )
    }
}

/// Whether the body starts (after whitespace and an XML declaration) like
/// an HTML page: `<!DOCTYPE html` or `<html`, in any case.
pub(crate) fn looks_like_html(doc: &[u8]) -> bool {
    let mut i = skip_ws(doc, 0);
    if doc[i..].starts_with(b"<?xml")
        && let Some(end) = find(doc, i, b"?>")
    {
        i = skip_ws(doc, end + 2);
    }
    let rest = &doc[i..];
    let tag = |t: &[u8]| {
        rest.len() > t.len()
            && rest[..t.len()].eq_ignore_ascii_case(t)
            && (rest[t.len()].is_ascii_whitespace() || rest[t.len()] == b'>')
    };
    tag(b"<!doctype html") || tag(b"<html")
}

fn html_page(doc: &[u8], page: usize, pages: usize) -> TransformError {
    let which = if pages > 1 {
        format!("page {} of {pages}: ", page + 1)
    } else {
        String::new()
    };
    TransformError::new(format!(
        "{which}the container answered an HTML page, not RDF/XML: {}\nhint: a proxy, login or \
         error page answers HTML; check api_base and that the container serves this resource",
        crate::text::excerpt(doc, None)
    ))
}

/// Validates a term the lenient parser let through unchecked: an absolute
/// IRI (see [`check_iri`]), a datatype IRI, a language tag (BCP 47).
pub(crate) fn validate_term(term: TermRef<'_>) -> Result<(), String> {
    match term {
        TermRef::NamedNode(n) => check_iri(n.as_str()),
        TermRef::Literal(l) => {
            if let Some(lang) = l.language() {
                oxrdf::Literal::new_language_tagged_literal("", lang)
                    .map(|_| ())
                    .map_err(|e| {
                        format!(
                            "invalid language tag `{}`: {}",
                            quote(lang),
                            quote(&e.to_string())
                        )
                    })
            } else {
                let dt = l.datatype();
                if dt == oxrdf::vocab::xsd::STRING {
                    return Ok(());
                }
                check_iri(dt.as_str()).map_err(|e| format!("datatype: {e}"))
            }
        }
        TermRef::BlankNode(_) => Ok(()),
    }
}

/// A fast syntactic check of an absolute IRI: a scheme
/// (`ALPHA *( ALPHA / DIGIT / "+" / "-" / "." ) ":"`), no character that
/// RFC 3987 forbids anywhere in an IRI (controls, space, `<>"{}|\^` and
/// backquote), and `%` only before two hex digits. It refuses what a real
/// container could garble (spaces, relative references, stray markup) at a
/// fraction of the cost of a full RFC 3987 parse; exotic defects (a bad IPv6
/// host, say) pass through as text.
pub(crate) fn check_iri(iri: &str) -> Result<(), String> {
    let b = iri.as_bytes();
    let scheme_len = b
        .iter()
        .position(|&c| !(c.is_ascii_alphanumeric() || matches!(c, b'+' | b'-' | b'.')))
        .unwrap_or(b.len());
    let fail = |why: &str| Err(format!("invalid IRI `{}`: {why}", quote(iri)));
    if scheme_len == 0 || !b[0].is_ascii_alphabetic() || b.get(scheme_len) != Some(&b':') {
        return fail("no scheme (it is not absolute)");
    }
    // Fast path: no byte needs a closer look (no branch per byte).
    let rest = &b[scheme_len + 1..];
    if !rest
        .iter()
        .fold(false, |acc, &c| acc | SPECIAL[usize::from(c)])
    {
        return Ok(());
    }
    let mut i = scheme_len + 1;
    while i < b.len() {
        if !SPECIAL[usize::from(b[i])] {
            i += 1;
            continue;
        }
        match b[i] {
            b'%' => {
                if !(b.get(i + 1).is_some_and(u8::is_ascii_hexdigit)
                    && b.get(i + 2).is_some_and(u8::is_ascii_hexdigit))
                {
                    return fail("`%` is not followed by two hex digits");
                }
                i += 3;
                continue;
            }
            c => return fail(&format!("character {:?} is not allowed", char::from(c))),
        }
    }
    Ok(())
}

/// Bytes `check_iri` must look at: the forbidden ones and `%`.
static SPECIAL: [bool; 256] = {
    let mut t = [false; 256];
    let mut c = 0;
    while c <= 0x20 {
        t[c] = true;
        c += 1;
    }
    let others = b"<>\"{}|\\^`%";
    let mut i = 0;
    while i < others.len() {
        t[others[i] as usize] = true;
        i += 1;
    }
    t[0x7F] = true;
    t
};

fn skip_ws(doc: &[u8], mut i: usize) -> usize {
    while i < doc.len() && doc[i].is_ascii_whitespace() {
        i += 1;
    }
    i
}

fn find(doc: &[u8], from: usize, needle: &[u8]) -> Option<usize> {
    doc.get(from..)?
        .windows(needle.len())
        .position(|w| w == needle)
        .map(|p| p + from)
}

/// Checks that the document's root element is closed: the XML reader stops
/// silently at the end of the input, so a body cut after any `>` would
/// otherwise parse as a smaller graph. Returns the byte offset and a message.
pub(crate) fn check_complete(doc: &[u8]) -> Result<(), (usize, String)> {
    let i = skip_prolog(doc)?;
    // The root element's name and the end of its start tag.
    let name_start = i + 1;
    let mut k = name_start;
    while k < doc.len() && !doc[k].is_ascii_whitespace() && doc[k] != b'/' && doc[k] != b'>' {
        k += 1;
    }
    let name = &doc[name_start..k];
    let Some(tag_end) = tag_end(doc, k) else {
        return Err((
            doc.len(),
            "the body ends inside its root element's start tag (truncated?)".into(),
        ));
    };
    if doc[tag_end - 1] == b'/' {
        return Ok(()); // <rdf:RDF .../>: the parser checked what follows.
    }
    // (A stray `<!--` inside the root tag could put the end before it.)
    let tail = doc.get(tag_end + 1..content_end(doc)).unwrap_or_default();
    if ends_with_end_tag(tail, name) {
        Ok(())
    } else {
        Err((
            doc.len(),
            format!(
                "the body ends before its root element `{}` is closed (truncated answer?)",
                super::error::quote(&String::from_utf8_lossy(name))
            ),
        ))
    }
}

/// Skips the prolog (XML declaration, processing instructions, comments,
/// DOCTYPE) and returns the offset of the root element's `<`.
fn skip_prolog(doc: &[u8]) -> Result<usize, (usize, String)> {
    let mut i = 0;
    loop {
        i = skip_ws(doc, i);
        if i >= doc.len() {
            return Err((
                doc.len(),
                "the body is empty: expected an RDF/XML document".into(),
            ));
        }
        let rest = &doc[i..];
        let end = if rest.starts_with(b"<?") {
            find(doc, i, b"?>").map(|e| e + 2)
        } else if rest.starts_with(b"<!--") {
            find(doc, i, b"-->").map(|e| e + 3)
        } else if rest.starts_with(b"<!") {
            doctype_len(rest).map(|len| i + len)
        } else if rest[0] == b'<' {
            return Ok(i);
        } else {
            return Err((
                i,
                "the body is not XML: text before the root element".into(),
            ));
        };
        match end {
            Some(e) => i = e,
            None => return Err((doc.len(), "the body ends inside its XML prolog".into())),
        }
    }
}

/// The length of a DOCTYPE declaration at the start of `rest`, internal
/// subset in brackets included; `None` when it never ends.
fn doctype_len(rest: &[u8]) -> Option<usize> {
    let mut depth = 0i32;
    let mut quote = None;
    for (k, &b) in rest.iter().enumerate() {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'[') => depth += 1,
            (None, b']') => depth -= 1,
            (None, b'>') if depth <= 0 => return Some(k + 1),
            _ => {}
        }
    }
    None
}

/// The offset of the `>` closing the start tag whose name ends at `from`
/// (quoted attribute values skipped); `None` when the tag never ends.
fn tag_end(doc: &[u8], from: usize) -> Option<usize> {
    let mut quote = None;
    for (j, &b) in doc.iter().enumerate().skip(from) {
        match (quote, b) {
            (Some(q), _) if b == q => quote = None,
            (Some(_), _) => {}
            (None, b'"' | b'\'') => quote = Some(b),
            (None, b'>') => return Some(j),
            _ => {}
        }
    }
    None
}

/// The end of the content once trailing whitespace, comments and processing
/// instructions are stripped.
fn content_end(doc: &[u8]) -> usize {
    let mut end = doc.len();
    loop {
        while end > 0 && doc[end - 1].is_ascii_whitespace() {
            end -= 1;
        }
        let tail = &doc[..end];
        if tail.ends_with(b"-->")
            && let Some(p) = tail.windows(4).rposition(|w| w == b"<!--")
        {
            end = p;
            continue;
        }
        if tail.ends_with(b"?>")
            && let Some(p) = tail.windows(2).rposition(|w| w == b"<?")
        {
            end = p;
            continue;
        }
        return end;
    }
}

/// Whether `tail` ends with the end tag `</name>` (whitespace allowed before `>`).
fn ends_with_end_tag(tail: &[u8], name: &[u8]) -> bool {
    tail.ends_with(b">")
        && tail.windows(2).rposition(|w| w == b"</").is_some_and(|p| {
            let inner = &tail[p + 2..tail.len() - 1];
            let trimmed = inner
                .iter()
                .rposition(|b| !b.is_ascii_whitespace())
                .map_or(&inner[..0], |q| &inner[..=q]);
            trimmed == name
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_are_one_based_and_count_characters() {
        let doc = "ab\ncdé\nfg".as_bytes();
        assert_eq!(position(doc, 0), (1, 1));
        assert_eq!(position(doc, 3), (2, 1));
        // After "cdé" (é is two bytes).
        assert_eq!(position(doc, 7), (2, 4));
        assert_eq!(position(doc, 1000), (3, 3));
    }

    #[test]
    fn iri_check() {
        for ok in [
            "http://x",
            "urn:isbn:1",
            "http://localhost:7000/records/1/medications/6f1d-2c9e",
            "http://x/%41?q=a&b#frag",
            "http://x/é中",
            "mailto:a@b",
        ] {
            assert!(check_iri(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "relative/path",
            "#frag",
            "1http://x",
            "http://a b",
            "http://x/<y>",
            "http://x/%4",
            "http://x/%zz",
            "http://x/\"q\"",
            "http://x/{a}",
            "://x",
            "http://x/\u{7f}",
        ] {
            assert!(check_iri(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn completeness() {
        let ok = |s: &str| check_complete(s.as_bytes()).is_ok();
        assert!(ok("<rdf:RDF></rdf:RDF>"));
        assert!(ok(
            "<?xml version=\"1.0\"?>\n<!-- c -->\n<rdf:RDF a=\"x>y\">\n</rdf:RDF >\n<!-- end -->\n"
        ));
        assert!(ok("<!DOCTYPE rdf:RDF [<!ENTITY a \"b>\">]>\n<rdf:RDF/>"));
        assert!(ok("\n<rdf:RDF xmlns:rdf=\"x\"/>\n"));
        assert!(!ok(""));
        assert!(!ok("  \n "));
        assert!(!ok("<rdf:RDF><rdf:Description></rdf:Description>"));
        assert!(!ok("<rdf:RDF><rdf:Description></rdf:Description></rdf:RD"));
        assert!(!ok("{\"error\": 1}"));
        assert!(!ok("<?xml version=\"1.0\"?"));
        assert!(!ok("<rdf:RDF xmlns:rdf=\"x"));
        assert!(!ok("<a b=\"<!--\">-->"));
        assert!(!ok("<a b=\"<?\">?>"));
    }
}
