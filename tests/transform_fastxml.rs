//! The fast RDF/XML reader (`src/transform/fastxml.rs`) against oxrdfxml:
//! every body, whichever reader takes it, gives the same graph (same terms,
//! ids, blank node numbers, triples, in the same order), the same rows and
//! the same errors as oxrdfxml alone; the fast reader takes the styles
//! containers send (flat, shuffled, nested, rdflib's `xml` and `pretty-xml`,
//! equivalent rewrites of them) and hands everything else over.
//!
//! The comparison switches the fast reader off for the thread
//! (`set_fast_reader_on_this_thread`, `parse-counter` feature) and counts
//! which reader read each page (`reader_counts_on_this_thread`).
//!
//! rdflib's bodies need `python3` with `rdflib` (tests/interop/requirements.txt);
//! without it that test says so and passes, unless
//! `SMARTSWEEP_REQUIRE_INTEROP=1`, which makes it fail.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "transform_common/mod.rs"]
mod common;

use proptest::prelude::*;
use proptest::strategy::ValueTree;
use smartsweep::schema::ColumnType;
use smartsweep::transform::{
    ConversionIssue, Projection, reader_counts_on_this_thread, set_fast_reader_on_this_thread,
};
use smartsweep_testkit::damage::{Edit, damage};
use smartsweep_testkit::strategies::record;
use smartsweep_testkit::{
    Record, random_record, rows_as_json, shipped_pipelines, to_flat, to_nested,
};
use std::collections::BTreeMap;
use std::sync::OnceLock;

const BASE: &str = "http://localhost:7000/records/9999/medications/";

const EVERYTHING: &str = "PREFIX dcterms:<http://purl.org/dc/terms/>
PREFIX sp:<http://smartplatforms.org/terms#>
SELECT ?med ?title ?lang ?start ?end ?sig ?q ?qv ?qu ?fv ?fu ?fill ?fdate ?days WHERE {
  ?med a sp:Medication .
  OPTIONAL { ?med sp:drugName ?cv . ?cv dcterms:title ?title BIND(LANG(?title) AS ?lang) }
  OPTIONAL { ?med sp:startDate ?start } OPTIONAL { ?med sp:endDate ?end }
  OPTIONAL { ?med sp:instructions ?sig }
  OPTIONAL { ?med sp:quantity ?q . ?q sp:value ?qv ; sp:unit ?qu }
  OPTIONAL { ?med sp:frequency ?f . ?f sp:value ?fv ; sp:unit ?fu }
  OPTIONAL { ?med sp:fulfillment ?fill . ?fill dcterms:date ?fdate ; sp:dispenseDaysSupply ?days }
}";

/// Every triple (a variable predicate), the shipped pipelines (typed, most
/// predicates dropped), and a wide query with blank nodes in its rows.
fn projections() -> &'static [Projection] {
    static P: OnceLock<Vec<Projection>> = OnceLock::new();
    P.get_or_init(|| {
        let mut typed = BTreeMap::new();
        typed.insert("start".to_owned(), ColumnType::Date);
        typed.insert("days".to_owned(), ColumnType::Int64);
        let mut v = vec![
            Projection::prepare(
                "SELECT ?s ?p ?o WHERE { ?s ?p ?o } ORDER BY ?s ?p ?o",
                &BTreeMap::new(),
            )
            .unwrap(),
            Projection::prepare(EVERYTHING, &typed).unwrap(),
        ];
        for q in shipped_pipelines() {
            v.push(Projection::prepare(&q.sparql, &q.columns).unwrap());
        }
        v
    })
}

type Rows = Result<(Vec<String>, Vec<ConversionIssue>), String>;

fn read(p: &Projection, pages: &[&[u8]], base: &str, fast: bool) -> (Result<String, String>, Rows) {
    set_fast_reader_on_this_thread(fast);
    let graph = p.graph_text(pages, base).map_err(|e| e.to_string());
    let rows = p
        .apply("9999", pages, base)
        .map(|r| (rows_as_json(&r.batch), r.conversions))
        .map_err(|e| e.to_string());
    set_fast_reader_on_this_thread(true);
    (graph, rows)
}

/// Which reader read the pages of the first projection's graph.
#[derive(Debug)]
struct Seen {
    /// Pages the fast reader read.
    fast: u64,
    /// Pages it handed to oxrdfxml.
    handed: u64,
    /// Its last reason.
    why: Option<(usize, &'static str)>,
}

/// Asserts that both readers give the same graph, rows and errors for each
/// projection (only the first when `all` is false); says which reader read
/// the pages.
fn same_both_ways(pages: &[&[u8]], base: &str, all: bool) -> Result<Seen, TestCaseError> {
    let n = if all { projections().len() } else { 1 };
    let (f0, h0, _) = reader_counts_on_this_thread();
    let mut seen = None;
    for (i, p) in projections()[..n].iter().enumerate() {
        let fast = read(p, pages, base, true);
        if i == 0 {
            // graph_text and apply each read every page once.
            let (f1, h1, why) = reader_counts_on_this_thread();
            seen = Some(Seen {
                fast: (f1 - f0) / 2,
                handed: (h1 - h0) / 2,
                why: if h1 > h0 { why } else { None },
            });
        }
        let slow = read(p, pages, base, false);
        prop_assert_eq!(&fast.0, &slow.0, "graph of projection {}", i);
        prop_assert_eq!(&fast.1, &slow.1, "rows of projection {}", i);
    }
    Ok(seen.expect("at least one projection"))
}

fn seen(body: &[u8]) -> Seen {
    match same_both_ways(&[body], BASE, true) {
        Ok(n) => n,
        Err(e) => panic!("{e}\n{}", String::from_utf8_lossy(body)),
    }
}

// ---- Equivalent rewrites of a body: tag-aware, text and CDATA untouched ----

/// Applies `tag` to every start and end tag (with its `<` and `>`) and
/// `text` to every run of text; CDATA sections, comments and the XML
/// declaration are copied as they are.
fn rewrite(body: &str, tag: &dyn Fn(&str) -> String, text: &dyn Fn(&str) -> String) -> String {
    let mut out = String::with_capacity(body.len() * 2);
    let mut rest = body;
    while let Some(lt) = rest.find('<') {
        out.push_str(&text(&rest[..lt]));
        rest = &rest[lt..];
        let end = if rest.starts_with("<![CDATA[") {
            rest.find("]]>").unwrap() + 3
        } else if rest.starts_with("<!--") {
            rest.find("-->").unwrap() + 3
        } else if rest.starts_with("<?") {
            rest.find("?>").unwrap() + 2
        } else {
            // Attribute values hold no raw `>` (the writers escape it).
            let e = rest.find('>').unwrap() + 1;
            out.push_str(&tag(&rest[..e]));
            rest = &rest[e..];
            continue;
        };
        out.push_str(&rest[..end]);
        rest = &rest[end..];
    }
    out.push_str(&text(rest));
    out
}

fn same(s: &str) -> String {
    s.to_owned()
}

/// `name="v"` as `name = 'v'` where `v` holds no `'`.
fn single_quotes(tag: &str) -> String {
    let mut out = String::new();
    let mut parts = tag.split('"');
    out.push_str(parts.next().unwrap_or_default());
    let rest: Vec<&str> = parts.collect();
    for pair in rest.chunks(2) {
        let value = pair[0];
        let after = pair.get(1).copied().unwrap_or_default();
        if value.contains('\'') {
            out.push('"');
            out.push_str(value);
            out.push('"');
        } else {
            out.truncate(out.trim_end_matches('=').len());
            out.push_str(" =\n '");
            out.push_str(value);
            out.push('\'');
        }
        out.push_str(after);
    }
    out
}

/// `<a .../>` as `<a ...></a>`, and `</a>` as `</a \t>`.
fn expanded_tags(tag: &str) -> String {
    if let Some(inner) = tag.strip_suffix("/>") {
        let name = inner[1..]
            .split(|c: char| c.is_whitespace())
            .next()
            .unwrap_or_default();
        format!("{}></{name}>", inner.trim_end())
    } else if let Some(name) = tag.strip_prefix("</") {
        format!("</{} \t>", name.trim_end_matches('>'))
    } else {
        tag.to_owned()
    }
}

/// Prefixes renamed in tags: `sp` -> `s-p.1`, `rdf` -> `r`, `dcterms` -> `_d`.
fn renamed_prefixes(tag: &str) -> String {
    let mut t = tag.to_owned();
    for (from, to) in [
        ("sp", "s-p.1"),
        ("rdf", "r"),
        ("dcterms", "_d"),
        ("api", "a"),
    ] {
        t = t
            .replace(&format!("<{from}:"), &format!("<{to}:"))
            .replace(&format!("</{from}:"), &format!("</{to}:"))
            .replace(&format!(" {from}:"), &format!(" {to}:"))
            .replace(&format!("\t{from}:"), &format!("\t{to}:"))
            .replace(&format!("\n{from}:"), &format!("\n{to}:"))
            .replace(&format!("xmlns:{from}="), &format!("xmlns:{to}="));
    }
    t
}

/// Every `e`, `0` and space in text as a character reference (not in
/// whitespace between elements, which the fast reader wants plain).
fn char_refs(text: &str) -> String {
    if text.trim().is_empty() {
        return text.to_owned();
    }
    text.replace('e', "&#x65;")
        .replace('0', "&#48;")
        .replace(' ', "&#x0020;")
}

/// A comment after the root's start tag, after each top-level node element
/// and before the root's end tag; whitespace between them made odd.
fn comments(body: &str) -> String {
    let body = body.replacen("\n>\n", "\n>\n<!-- first -- comment --->\n", 1);
    body.replace(
        "\n  </rdf:Description>\n",
        "\n  </rdf:Description><!---->\r\n\t",
    )
    .replace("\n  </sp:Medication>\n", "\n  </sp:Medication>\n<!--\n-->")
    .replace(
        "</rdf:RDF>",
        "<!-- <rdf:li> & -->\n</rdf:RDF>\n<!-- after -->\n",
    )
}

fn variants(body: &str) -> Vec<(&'static str, String)> {
    vec![
        ("single quotes", rewrite(body, &single_quotes, &same)),
        ("expanded tags", rewrite(body, &expanded_tags, &same)),
        ("renamed prefixes", rewrite(body, &renamed_prefixes, &same)),
        ("character references", rewrite(body, &same, &char_refs)),
        ("comments", comments(body)),
        (
            "declaration",
            body.replacen(
                "<?xml version=\"1.0\" encoding=\"UTF-8\"?>",
                "<?xml version='1.0' encoding = 'utf8'  standalone=\"yes\" ?>",
                1,
            ),
        ),
        (
            "no declaration, BOM",
            format!(
                "\u{feff}{}",
                body.replacen("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n", "", 1)
            ),
        ),
        (
            "root lang",
            body.replacen("<rdf:RDF", "<rdf:RDF xml:lang=\"EN-gb\"", 1),
        ),
        (
            "empty root lang",
            body.replacen("<rdf:RDF", "<rdf:RDF xml:lang=''", 1),
        ),
    ]
}

// ---- Bodies the fast reader must hand over, and tricky ones it takes ----

const HEAD: &str = "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns:sp=\"http://smartplatforms.org/terms#\" xmlns:dcterms=\"http://purl.org/dc/terms/\">";

fn doc(inner: &str) -> String {
    format!("<?xml version=\"1.0\"?>\n{HEAD}\n{inner}\n</rdf:RDF>\n")
}

/// Bodies outside the fast reader's subset (each handed to oxrdfxml, which
/// reads it or reports its error as before).
fn odd_bodies() -> Vec<(&'static str, String)> {
    let m = "<sp:Medication rdf:about=\"http://x/m\">";
    let end = "</sp:Medication>";
    vec![
        ("doctype", format!("<!DOCTYPE rdf:RDF [<!ENTITY sp \"http://smartplatforms.org/terms#\">]>\n{}", doc(&format!("{m}<sp:a rdf:resource=\"&sp;x\"/>{end}")))),
        ("rdf:li", doc(&format!("{m}<rdf:li>1</rdf:li><rdf:li>2</rdf:li>{end}"))),
        ("rdf:ID", doc(&format!("{m}<sp:a rdf:ID=\"s1\">1</sp:a>{end}"))),
        ("rdf:ID node", doc("<rdf:Description rdf:ID=\"n\"><sp:a>1</sp:a></rdf:Description>")),
        ("rdf:bagID", doc("<rdf:Description rdf:bagID=\"n\"><sp:a>1</sp:a></rdf:Description>")),
        ("parseType Literal", doc(&format!("{m}<sp:a rdf:parseType=\"Literal\"><b>x</b></sp:a>{end}"))),
        ("parseType Collection", doc(&format!("{m}<sp:a rdf:parseType=\"Collection\"><rdf:Description rdf:about=\"http://x/1\"/></sp:a>{end}"))),
        ("parseType other", doc(&format!("{m}<sp:a rdf:parseType=\"Other\"><b>x</b></sp:a>{end}"))),
        ("xml:base", doc("<rdf:Description xml:base=\"http://y/\" rdf:about=\"m\"><sp:a>1</sp:a></rdf:Description>")),
        ("xml:space", doc(&format!("{m}<sp:a xml:space=\"preserve\">1</sp:a>{end}"))),
        ("text and CDATA", doc(&format!("{m}<sp:a>x<![CDATA[y]]></sp:a>{end}"))),
        ("whitespace and CDATA", doc(&format!("{m}<sp:a> <![CDATA[y]]> </sp:a>{end}"))),
        ("two CDATA", doc(&format!("{m}<sp:a><![CDATA[y]]><![CDATA[z]]></sp:a>{end}"))),
        ("comment in a literal", doc(&format!("{m}<sp:a>  <!-- c -->y</sp:a>{end}"))),
        ("comment after a resource", doc(&format!("{m}<sp:a rdf:resource=\"http://x/r\"><!-- c --></sp:a>{end}"))),
        ("rdf prefix elsewhere", doc("").replace("xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"", "xmlns:rdf=\"http://x/not-rdf#\" xmlns:r=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"").replace("rdf:RDF", "r:RDF")),
        ("default namespace", doc("<Medication xmlns=\"http://smartplatforms.org/terms#\" rdf:about=\"http://x/m\"/>")),
        ("inner namespace", doc("<ex:Thing xmlns:ex=\"http://ex/\" rdf:about=\"http://x/m\"><ex:a>1</ex:a></ex:Thing>")),
        ("xml namespace bound", doc("").replace("xmlns:sp=", "xmlns:x2=\"http://www.w3.org/XML/1998/namespace\" xmlns:sp=")),
        ("property attribute on a property", doc(&format!("{m}<sp:q sp:value=\"1\"/>{end}"))),
        ("rdf:type attribute", doc("<rdf:Description rdf:about=\"http://x/m\" rdf:type=\"http://x/T\"/>")),
        ("rdf:value attribute", doc("<rdf:Description rdf:about=\"http://x/m\" rdf:value=\"1\"/>")),
        ("resource on a node", doc("<rdf:Description rdf:about=\"http://x/m\" rdf:resource=\"http://x/r\"/>")),
        ("resource and datatype", doc(&format!("{m}<sp:a rdf:resource=\"http://x/r\" rdf:datatype=\"http://x/d\"/>{end}"))),
        ("resource and nodeID", doc(&format!("{m}<sp:a rdf:resource=\"http://x/r\" rdf:nodeID=\"n\"/>{end}"))),
        ("about and nodeID", doc("<rdf:Description rdf:about=\"http://x/m\" rdf:nodeID=\"n\"/>")),
        ("two abouts", doc("").replace("xmlns:sp=", "xmlns:r2=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" xmlns:sp=").replace("\n\n", "\n<rdf:Description rdf:about=\"http://x/1\" r2:about=\"http://x/2\"><sp:a>1</sp:a></rdf:Description>\n")),
        ("same property attribute twice", doc("").replace("xmlns:sp=", "xmlns:s2=\"http://smartplatforms.org/terms#\" xmlns:sp=").replace("\n\n", "\n<rdf:Description rdf:about=\"http://x/1\" sp:a=\"1\" s2:a=\"2\"/>\n")),
        ("duplicate attribute", doc("<rdf:Description rdf:about=\"http://x/1\" rdf:about=\"http://x/2\"/>")),
        ("duplicate namespace declaration", doc("<sp:M rdf:about=\"http://x/1\"/>").replacen("xmlns:sp=\"http://smartplatforms.org/terms#\"", "xmlns:sp=\"http://y/\" xmlns:sp=\"http://smartplatforms.org/terms#\"", 1)),
        ("duplicate root language", doc("<sp:M rdf:about=\"http://x/1\"><sp:a>1</sp:a></sp:M>").replacen("<rdf:RDF", "<rdf:RDF xml:lang=\"en\" xml:lang=\"fr\"", 1)),
        ("unprefixed attribute", doc("<rdf:Description about=\"http://x/1\"/>")),
        ("processing instruction", doc(&format!("<?php echo 1; ?>{m}{end}"))),
        ("unknown entity", doc(&format!("{m}<sp:a>&nbsp;</sp:a>{end}"))),
        ("nul reference", doc(&format!("{m}<sp:a>&#0;</sp:a>{end}"))),
        ("surrogate reference", doc(&format!("{m}<sp:a>&#xD800;</sp:a>{end}"))),
        ("signed reference", doc(&format!("{m}<sp:a>&#+65;</sp:a>{end}"))),
        ("upper-case X reference", doc(&format!("{m}<sp:a>&#X41;</sp:a>{end}"))),
        ("unterminated reference", doc(&format!("{m}<sp:a>&amp &amp;</sp:a>{end}"))),
        ("reference in whitespace", doc(&format!("{m}<sp:a rdf:resource=\"http://x/r\">&#32;</sp:a>{end}"))),
        ("text in a node", doc(&format!("{m}oops<sp:a>1</sp:a>{end}"))),
        ("text after a nested node", doc(&format!("{m}<sp:a><rdf:Description/>x</sp:a>{end}"))),
        ("two nested nodes", doc(&format!("{m}<sp:a><rdf:Description/><rdf:Description/></sp:a>{end}"))),
        ("text before a nested node", doc(&format!("{m}<sp:a>x<rdf:Description/></sp:a>{end}"))),
        ("nested node with datatype", doc(&format!("{m}<sp:a rdf:datatype=\"http://x/d\"><rdf:Description/></sp:a>{end}"))),
        ("rdf:Bag node", doc("<rdf:Bag rdf:about=\"http://x/b\"/>")),
        ("rdf:Description property", doc(&format!("{m}<rdf:Description>1</rdf:Description>{end}"))),
        ("non-ASCII name", doc(&format!("{m}<sp:naïve>1</sp:naïve>{end}"))),
        ("name with two colons", doc(&format!("{m}<sp:a:b>1</sp:a:b>{end}"))),
        ("mismatched end tag", doc(&format!("{m}<sp:a>1</sp:b>{end}"))),
        ("unclosed root", doc(&format!("{m}{end}")).replace("</rdf:RDF>", "")),
        ("second root", format!("{}{}", doc(""), doc(""))),
        ("node after the root", format!("{}<sp:Medication rdf:about=\"http://x/m\"/>", doc(""))),
        ("text after the root", format!("{}junk", doc(""))),
        ("node element as root", "<sp:Medication xmlns:sp=\"http://smartplatforms.org/terms#\" xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" rdf:about=\"http://x/m\"><sp:a>1</sp:a></sp:Medication>".to_string()),
        ("latin-1 declaration", doc("").replace("<?xml version=\"1.0\"?>", "<?xml version=\"1.0\" encoding=\"ISO-8859-1\"?>")),
        ("relative predicate namespace", doc("").replace("xmlns:sp=\"http://smartplatforms.org/terms#\"", "xmlns:sp=\"terms#\"").replace("\n\n", "\n<rdf:Description rdf:about=\"http://x/1\"><sp:a>1</sp:a></rdf:Description>\n")),
        ("invalid IRI", doc("<rdf:Description rdf:about=\"http://x/a b\"><sp:a>1</sp:a></rdf:Description>")),
        ("invalid language", doc(&format!("{m}<sp:a xml:lang=\"not a tag\">1</sp:a>{end}"))),
        ("slash in a start tag", doc(&format!("{m}<sp:a/ >{end}"))),
        ("unquoted attribute", doc("<rdf:Description rdf:about=http://x/1/>")),
        ("lt in an attribute", doc("<rdf:Description rdf:about=\"http://x/<1\"/>")),
        ("deep", doc(&format!("{m}{}{}{end}", "<sp:a><rdf:Description>".repeat(40), "</rdf:Description></sp:a>".repeat(40)))),
    ]
}

/// Bodies at the edge of the subset that the fast reader takes.
fn tricky_bodies() -> Vec<(&'static str, String)> {
    let mut bodies = tricky_literals();
    bodies.extend(tricky_structures());
    bodies
}

/// Tricky bodies, part one: literals, references and attributes.
fn tricky_literals() -> Vec<(&'static str, String)> {
    let m = "<sp:Medication rdf:about=\"http://x/m\">";
    let end = "</sp:Medication>";
    vec![
        (
            "empty root",
            "<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"/>".to_owned(),
        ),
        (
            "empty root with space",
            "\n<rdf:RDF xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\" />\n".to_owned(),
        ),
        (
            "empty literals",
            doc(&format!(
                "{m}<sp:a/><sp:b></sp:b><sp:c rdf:datatype=\"http://x/d\"/><sp:d xml:lang=\"fr\"/>{end}"
            )),
        ),
        (
            "whitespace literals",
            doc(&format!(
                "{m}<sp:a> \n\t\r </sp:a><sp:b>&#13;&#10;</sp:b>{end}"
            )),
        ),
        (
            "CDATA alone",
            doc(&format!(
                "{m}<sp:a><![CDATA[ <&> ]] ]]></sp:a><sp:b><![CDATA[]]></sp:b><sp:c xml:lang=\"de\"><![CDATA[  ]]></sp:c>{end}"
            )),
        ),
        (
            "references",
            doc(&format!(
                "{m}<sp:a>&lt;&gt;&amp;&apos;&quot;&#x1F48A;&#0065;&#x00e9;&#1;;a;</sp:a>{end}"
            )),
        ),
        (
            "references in attributes",
            doc(
                "<rdf:Description rdf:about=\"http://x/?a=1&amp;b=&#x32;\" sp:v=\"&quot;&lt;&#9;\" sp:w='\"'/>",
            ),
        ),
        (
            "raw whitespace in attributes",
            doc("<rdf:Description rdf:about=\"http://x/m\" sp:v=\"a\nb\tc\rd\"/>"),
        ),
    ]
}

/// Tricky bodies, part two: languages, nesting, IRIs, names and comments.
fn tricky_structures() -> Vec<(&'static str, String)> {
    let m = "<sp:Medication rdf:about=\"http://x/m\">";
    let end = "</sp:Medication>";
    vec![
        (
            "languages inherited and undone",
            doc(&format!(
                "<sp:Medication rdf:about=\"http://x/m\" xml:lang=\"DE\" sp:p=\"attr\"><sp:a>1</sp:a><sp:b xml:lang=\"\">2</sp:b><sp:c xml:lang=\"fr-CA\"><rdf:Description><sp:d>3</sp:d></rdf:Description></sp:c><sp:e rdf:datatype=\"http://x/d\">4</sp:e><sp:f rdf:parseType=\"Resource\" xml:lang=\"x-y\"><sp:g>5</sp:g></sp:f>{end}<rdf:Description rdf:about=\"http://x/n\"><sp:a>6</sp:a></rdf:Description>"
            )),
        ),
        (
            "typed nodes nested",
            doc(&format!(
                "{m}<sp:a><sp:B rdf:nodeID=\"x\" sp:k=\"1\" sp:l=\"2\"><sp:c><sp:D><sp:e rdf:parseType=\"Resource\"><sp:f rdf:nodeID=\"x\"/><sp:g rdf:parseType=\"Resource\"/></sp:e></sp:D></sp:c></sp:B></sp:a>{end}"
            )),
        ),
        (
            "the same triple twice",
            doc(&format!(
                "{m}<sp:a>1</sp:a><sp:a>1</sp:a>{end}{m}<sp:a>1</sp:a>{end}"
            )),
        ),
        (
            "relative IRIs",
            doc(
                "<rdf:Description rdf:about=\"\"><sp:a rdf:resource=\"../f/1\"/><sp:b rdf:datatype=\"#int\">1</sp:b><sp:c rdf:resource=\"#frag\"/><rdf:type rdf:resource=\"\"/></rdf:Description><rdf:Description rdf:about=\"?q\"/>",
            ),
        ),
        (
            "xsd:string and langString datatypes",
            doc(&format!(
                "{m}<sp:a rdf:datatype=\"http://www.w3.org/2001/XMLSchema#string\">s</sp:a><sp:b rdf:datatype=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#langString\" xml:lang=\"en\">t</sp:b>{end}"
            )),
        ),
        (
            "rdf: properties",
            doc(&format!(
                "{m}<rdf:value>1</rdf:value><rdf:first rdf:resource=\"http://x/1\"/><rdf:_1>x</rdf:_1>{end}"
            )),
        ),
        (
            "nodeIDs shared",
            doc(
                "<rdf:Description rdf:nodeID=\"a\"><sp:p rdf:nodeID=\"b\"/></rdf:Description><rdf:Description rdf:nodeID=\"b\"><sp:p rdf:nodeID=\"a\"/><sp:q><rdf:Description rdf:nodeID=\"a\"/></sp:q></rdf:Description>",
            ),
        ),
        (
            "odd but valid names",
            doc(
                "<rdf:Description rdf:about=\"http://x/m\"><sp:a.b-c_d>1</sp:a.b-c_d><sp:_x>2</sp:_x></rdf:Description>",
            ),
        ),
        (
            "markup characters in text",
            doc(&format!("{m}<sp:a>a > b ]]> c \" ' =</sp:a>{end}")),
        ),
        (
            "controls in text",
            doc(&format!("{m}<sp:a>\u{1}\u{7f}\u{85}</sp:a>{end}")),
        ),
        (
            "root comments only",
            format!("<!-- a -->\n{HEAD}<!-- b --></rdf:RDF><!-- c -->"),
        ),
        (
            "comments that look closed early",
            doc(
                "<!--> <rdf:Description rdf:about=\"http://x/hidden\"><sp:a>1</sp:a></rdf:Description> --><!---> <sp:M rdf:about=\"http://x/hidden2\"/> --><!-- - -- --->",
            ),
        ),
    ]
}

#[test]
fn odd_bodies_are_handed_to_oxrdfxml_with_the_same_outcome() {
    let mut bodies: Vec<(&str, Vec<u8>)> = odd_bodies()
        .into_iter()
        .map(|(n, b)| (n, b.into_bytes()))
        .collect();
    let mut latin1 = doc("<rdf:Description rdf:about=\"http://x/m\"><sp:a>caf").into_bytes();
    latin1.truncate(latin1.len() - "\n</rdf:RDF>\n".len());
    latin1.extend_from_slice(b"\xe9</sp:a></rdf:Description></rdf:RDF>");
    bodies.push(("not UTF-8", latin1));
    for (name, body) in bodies {
        let s = seen(&body);
        let text = String::from_utf8_lossy(&body);
        assert_eq!((s.fast, s.handed), (0, 1), "{name}: handed over\n{text}");
        assert!(s.why.is_some(), "{name}: a reason");
    }
}

#[test]
fn tricky_bodies_are_read_fast_with_the_same_outcome() {
    for (name, body) in tricky_bodies() {
        let s = seen(body.as_bytes());
        assert_eq!(
            (s.fast, s.handed),
            (1, 0),
            "{name}: read fast ({:?})\n{body}",
            s.why
        );
    }
}

/// Every resource's answers as the embedded sandbox writes them (seed 7,
/// 12 records), fetched with smartsweep's client over real HTTP.
fn sandbox_answers(resources: &[&str]) -> Vec<(String, String, String, Vec<u8>)> {
    use smartsweep::sandbox::{self, SandboxConfig};
    let config = SandboxConfig {
        records: 12,
        seed: 7,
        ..SandboxConfig::default()
    };
    let cfg = smartsweep::extract::ClientConfig::new(
        "http://127.0.0.1:1",
        config.app_id.clone(),
        config.consumer_secret.clone(),
    );
    let ids = sandbox::record_ids(&config);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let handle = sandbox::start(config, listener).await.unwrap();
        let client = smartsweep::extract::Client::new(smartsweep::extract::ClientConfig {
            api_base: handle.api_base().to_owned(),
            ..cfg
        })
        .unwrap();
        let mut out = Vec::new();
        for id in &ids {
            let token = client.mint(id).await.unwrap();
            for r in resources {
                let f = client.fetch(&token, r, &[], None).await.unwrap();
                for page in &f.pages {
                    out.push((r.to_string(), id.clone(), f.url.clone(), page.to_vec()));
                }
            }
        }
        handle.shutdown().await;
        out
    })
}

#[test]
fn sandbox_answers_of_every_shipped_table_are_read_fast_with_the_same_outcome() {
    let tables = smartsweep_testkit::shipped_tables();
    let mut resources: Vec<&str> = tables.iter().map(|t| t.resource.as_str()).collect();
    resources.sort_unstable();
    resources.dedup();
    assert!(resources.len() >= 9, "{resources:?}");
    let answers = sandbox_answers(&resources);
    for t in &tables {
        let p = Projection::prepare(&t.sparql, &t.columns).unwrap();
        let mut rows = 0;
        for (_, id, base, body) in answers.iter().filter(|a| a.0 == t.resource) {
            let (f0, h0, _) = reader_counts_on_this_thread();
            let fast = read(&p, &[body.as_slice()], base, true);
            let (f1, h1, why) = reader_counts_on_this_thread();
            assert_eq!((f1 - f0, h1 - h0), (2, 0), "{} {id}: {why:?}", t.name);
            let slow = read(&p, &[body.as_slice()], base, false);
            assert_eq!(fast.0, slow.0, "{} {id}: graph", t.name);
            assert_eq!(fast.1, slow.1, "{} {id}: rows", t.name);
            rows += fast.1.map(|r| r.0.len()).unwrap_or_default();
        }
        assert!(rows > 0, "{}: no rows from the sandbox's answers", t.name);
    }
}

#[test]
fn sample_patients_are_read_fast_with_the_same_outcome() {
    let records = common::sample_records();
    assert_eq!(records.len(), 59);
    for rec in &records {
        for (style, body) in [("flat", to_flat(rec, 0)), ("nested", to_nested(rec))] {
            let s = same_both_ways(&[body.as_bytes()], &rec.request_url(), true)
                .unwrap_or_else(|e| panic!("{} {style}: {e}", rec.record_id));
            assert_eq!(s.fast, 1, "{} {style}: {s:?}", rec.record_id);
        }
    }
}

#[test]
fn pages_mix_readers_and_keep_their_blank_node_scopes() {
    // Page 2 goes to oxrdfxml only at its last element, after the fast
    // reader has put most of the page in the graph: the rollback must leave
    // exactly the graph of page 1.
    let rec = random_record(7, "9999");
    let page1 = to_flat(&rec, 3);
    let page2 = to_flat(&random_record(8, "9999"), 0).replace(
        "</rdf:RDF>",
        "<rdf:Description rdf:about=\"http://x/l\"><rdf:li>x</rdf:li></rdf:Description></rdf:RDF>",
    );
    let page3 = to_nested(&rec);
    let pages: [&[u8]; 3] = [page1.as_bytes(), page2.as_bytes(), page3.as_bytes()];
    let s = same_both_ways(&pages, BASE, true).unwrap();
    assert_eq!((s.fast, s.handed), (2, 1));
    assert!(
        s.why.is_some_and(|(_, what)| what.contains("rdf:li")),
        "{s:?}"
    );
    // The same nodeID on two pages is two blank nodes.
    let page = doc("<rdf:Description rdf:nodeID=\"n1\"><sp:value>1</sp:value></rdf:Description>");
    let p = &projections()[0];
    let rows = p
        .apply("9999", &[page.as_bytes(), page.as_bytes()], BASE)
        .unwrap();
    assert_eq!(
        rows_as_json(&rows.batch),
        [
            r#"["9999","_:b0","http://smartplatforms.org/terms#value","1"]"#,
            r#"["9999","_:b1","http://smartplatforms.org/terms#value","1"]"#
        ]
    );
}

#[test]
fn hostile_bodies_cost_no_more_than_before() {
    // 100,000 levels of nesting: the fast reader stops at its depth limit
    // and oxrdfxml reports (or reads) it as before.
    let deep = doc(&format!(
        "<sp:M rdf:about=\"http://x/m\">{}",
        "<sp:a><rdf:Description>".repeat(50_000)
    ));
    let s = seen(deep.as_bytes());
    assert_eq!((s.fast, s.handed), (0, 1));
    assert!(
        s.why.is_some_and(|(_, what)| what.contains("deep")),
        "{s:?}"
    );
    let e = projections()[0]
        .apply("9999", &[deep.as_bytes()], BASE)
        .unwrap_err();
    assert!(e.to_string().len() < 1024, "{e}");
    // A tag with 2,000 attributes; a 1.5 MB text of entities.
    let attrs: String = (0..2_000).map(|i| format!(" sp:a{i}=\"{i}\"")).collect();
    let wide = doc(&format!(
        "<rdf:Description rdf:about=\"http://x/m\"{attrs}/>"
    ));
    let s = same_both_ways(&[wide.as_bytes()], BASE, false).unwrap();
    assert!(
        s.why.is_some_and(|(_, what)| what.contains("attributes")),
        "{s:?}"
    );
    let long = doc(&format!(
        "<rdf:Description rdf:about=\"http://x/m\"><sp:a>{}</sp:a></rdf:Description>",
        "&amp;x".repeat(1 << 18)
    ));
    assert_eq!(
        same_both_ways(&[long.as_bytes()], BASE, false)
            .unwrap()
            .fast,
        1
    );
}

// ---- rdflib's own serializers ----

fn rdflib_ready() -> bool {
    std::process::Command::new("python3")
        .args(["-c", "import rdflib"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// rdflib reads each flat body and writes it again as `xml` and
/// `pretty-xml` (the two styles SMART containers use).
const RDFLIB_SCRIPT: &str = r#"
import os, sys, rdflib
d = sys.argv[1]
for name in sorted(os.listdir(d)):
    if not name.endswith(".in"):
        continue
    base, data = open(os.path.join(d, name), encoding="utf-8").read().split("\n", 1)
    g = rdflib.Graph()
    g.parse(data=data, format="xml", publicID=base)
    for fmt in ("xml", "pretty-xml"):
        with open(os.path.join(d, name[:-3] + "." + fmt), "wb") as f:
            f.write(g.serialize(format=fmt, encoding="utf-8"))
"#;

#[test]
fn rdflib_bodies_are_read_fast_with_the_same_outcome() {
    if !rdflib_ready() {
        let required = std::env::var_os("SMARTSWEEP_REQUIRE_INTEROP").is_some_and(|v| v == "1");
        assert!(
            !required,
            "python3 with rdflib is required (pip install rdflib)"
        );
        eprintln!("SKIPPED: python3 with rdflib not found (pip install rdflib)");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let mut records: Vec<Record> = (0..30).map(|i| random_record(i * 7919, "9999")).collect();
    // Odd text, language tags and shared nodes from the property test's model.
    let mut runner = proptest::test_runner::TestRunner::deterministic();
    for _ in 0..30 {
        records.push(record().new_tree(&mut runner).unwrap().current());
    }
    for (i, rec) in records.iter().enumerate() {
        let input = format!("{}\n{}", rec.request_url(), to_flat(rec, i as u64));
        std::fs::write(dir.path().join(format!("{i:03}.in")), input).unwrap();
    }
    let out = std::process::Command::new("python3")
        .args(["-c", RDFLIB_SCRIPT])
        .arg(dir.path())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let mut read = 0;
    for (i, rec) in records.iter().enumerate() {
        for style in ["xml", "pretty-xml"] {
            let body = std::fs::read(dir.path().join(format!("{i:03}.{style}"))).unwrap();
            let s = same_both_ways(&[&body], &rec.request_url(), true)
                .unwrap_or_else(|e| panic!("{style} {i}: {e}\n{}", String::from_utf8_lossy(&body)));
            assert_eq!(
                s.fast,
                1,
                "{style} {i}: read fast ({s:?})\n{}",
                String::from_utf8_lossy(&body)
            );
            read += 1;
        }
    }
    assert_eq!(read, 120);
}

// ---- Damaged bodies: both readers agree on every one, none panics ----

fn junk() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        Just(b"<".to_vec()),
        Just(b">".to_vec()),
        Just(b"/>".to_vec()),
        Just(b"</".to_vec()),
        Just(b"&".to_vec()),
        Just(b"\"".to_vec()),
        Just(b"'".to_vec()),
        Just(b"=".to_vec()),
        Just(b" ".to_vec()),
        Just(b"\r".to_vec()),
        Just(b":".to_vec()),
        Just(b"<![CDATA[x]]>".to_vec()),
        Just(b"<!--".to_vec()),
        Just(b"-->".to_vec()),
        Just(b"<!-- c -->".to_vec()),
        Just(b"</rdf:RDF>".to_vec()),
        Just(b"<rdf:Description>".to_vec()),
        Just(b"<rdf:li>".to_vec()),
        Just(b" rdf:nodeID=\"x\"".to_vec()),
        Just(b" rdf:about=\"http://x/\"".to_vec()),
        Just(b" rdf:resource=\"r\"".to_vec()),
        Just(b" rdf:datatype=\"http://x/d\"".to_vec()),
        Just(b" rdf:parseType=\"Resource\"".to_vec()),
        Just(b" rdf:parseType=\"Literal\"".to_vec()),
        Just(b" rdf:ID=\"a\"".to_vec()),
        Just(b" xml:lang=\"EN\"".to_vec()),
        Just(b" xml:base=\"http://y/\"".to_vec()),
        Just(b" xmlns:sp=\"http://y/\"".to_vec()),
        Just(b" sp:q=\"v\"".to_vec()),
        Just(b"&#0;".to_vec()),
        Just(b"&#x110000;".to_vec()),
        Just(b"&#65;".to_vec()),
        Just(b"&amp".to_vec()),
        Just(b"&nbsp;".to_vec()),
        Just(b"<?pi x?>".to_vec()),
        Just(b"\xff\xfe".to_vec()),
        Just("é中".as_bytes().to_vec()),
        prop::collection::vec(any::<u8>(), 1..8),
    ]
}

fn edit() -> impl Strategy<Value = Edit> {
    prop_oneof![
        1 => any::<usize>().prop_map(Edit::Truncate),
        2 => (any::<usize>(), 1usize..40).prop_map(|(a, n)| Edit::Delete(a, n)),
        2 => (any::<usize>(), junk()).prop_map(|(a, j)| Edit::Insert(a, j)),
        3 => (any::<usize>(), junk()).prop_map(|(k, j)| Edit::AfterTag(k, j)),
        2 => (any::<usize>(), junk()).prop_map(|(k, j)| Edit::InTag(k, j)),
        2 => (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::Replace(a, b)),
        2 => (any::<usize>(), 1usize..200, any::<usize>())
            .prop_map(|(from, len, to)| Edit::Copy { from, len, to }),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Random graphs in every style and rewrite: the fast reader takes
    /// each one and builds oxrdfxml's graph and rows for every projection.
    #[test]
    fn both_readers_build_the_same_graph_for_every_style(rec in record(), seed in 1u64..u64::MAX) {
        let bodies = [("flat", to_flat(&rec, 0)), ("shuffled", to_flat(&rec, seed)), ("nested", to_nested(&rec))];
        for (style, body) in &bodies {
            let s = same_both_ways(&[body.as_bytes()], &rec.request_url(), true)?;
            prop_assert_eq!(s.fast, 1, "{} read fast ({:?})", style, s.why);
            for (what, v) in variants(body) {
                let s = same_both_ways(&[v.as_bytes()], &rec.request_url(), false)?;
                prop_assert_eq!(s.fast, 1, "{} {} read fast ({:?})\n{}", style, what, s.why, v);
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1024, ..ProptestConfig::default() })]

    /// Damaged bodies: the same graph, rows or error message whichever
    /// reader is on (the fast reader never accepts what oxrdfxml refuses,
    /// never reads a body differently), and no panic.
    #[test]
    fn damaged_bodies_give_what_oxrdfxml_gives(
        seed in any::<u64>(),
        nested in any::<bool>(),
        edits in prop::collection::vec(edit(), 1..3),
    ) {
        let rec = random_record(seed % 1000, "9999");
        let mut body = if nested { to_nested(&rec) } else { to_flat(&rec, seed | 1) }.into_bytes();
        damage(&mut body, edits);
        same_both_ways(&[&body], &rec.request_url(), false)?;
    }
}
