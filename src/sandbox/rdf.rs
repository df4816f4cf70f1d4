//! The medications answer in the reference container's flat RDF/XML style
//! (`smart-classic-api.md` sections 5.2-5.4 and 6.5), written straight into
//! a `String`: one `rdf:Description` per subject, blank nodes as
//! `rdf:nodeID="N<32 hex>"`, the neighbouring `sp:Fulfillment` statements,
//! one `api:ResponseSummary`; an empty graph without a summary when nothing
//! matches. Also the `rxnorm` and `date_*` filters and `limit`/`offset` paging.

use std::fmt::Write as _;

use super::population::{Med, Mix, push_hex};

const RDF_NS: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
const SP: &str = "http://smartplatforms.org/terms#";
const RXNORM: &str = "http://purl.bioontology.org/ontology/RXNORM/";
const XSD_INTEGER: &str = "http://www.w3.org/2001/XMLSchema#integer";

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

/// The medications query parameters the sandbox understands (others are
/// ignored, as the reference does).
#[derive(Default)]
pub(crate) struct MedQuery {
    /// Every decoded query pair, in request order (for `nextPageURL`).
    pub pairs: Vec<(String, String)>,
}

impl MedQuery {
    /// The last value of a parameter (Django's `QueryDict.get`).
    fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit`: absent, non-numeric or 0 mean "everything".
    fn limit(&self) -> Option<usize> {
        self.get("limit")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
    }

    fn offset(&self) -> usize {
        self.get("offset")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0)
    }
}

const LOW: &str = "1900-01-01T00:00:00Z";
const HIGH: &str = "2999-12-31T23:59:59Z";

/// Pad a short date with the tail of a template (section 5.3).
fn pad<'a>(value: &'a str, template: &str) -> std::borrow::Cow<'a, str> {
    if value.len() < template.len() {
        std::borrow::Cow::Owned(format!("{value}{}", &template[value.len()..]))
    } else {
        std::borrow::Cow::Borrowed(value)
    }
}

/// Does a start date pass every date filter of the query?
fn date_matches(start: &str, query: &MedQuery) -> bool {
    for (name, value) in &query.pairs {
        let ok = match name.as_str() {
            "date_from" | "date_from_including" => pad(start, HIGH) >= pad(value, LOW),
            "date_from_excluding" => pad(start, HIGH) > pad(value, HIGH),
            "date_to" | "date_to_including" => pad(start, LOW) <= pad(value, HIGH),
            "date_to_excluding" => pad(start, LOW) < pad(value, LOW),
            _ => true,
        };
        if !ok {
            return false;
        }
    }
    true
}

fn rxnorm_matches(rxcui: &str, query: &MedQuery) -> bool {
    match query.get("rxnorm") {
        None => true,
        Some(values) => values.split('|').any(|v| v == rxcui),
    }
}

fn node_id(out: &mut String, node: u128) {
    out.push('N');
    push_hex(out, node, 32);
}

/// `uri_parts` must already be XML-escaped (see `write_medications`).
fn open_about(out: &mut String, uri_parts: &[&str]) {
    out.push_str("  <rdf:Description rdf:about=\"");
    for part in uri_parts {
        out.push_str(part);
    }
    out.push_str("\">\n");
}

fn open_node(out: &mut String, node: u128) {
    out.push_str("  <rdf:Description rdf:nodeID=\"");
    node_id(out, node);
    out.push_str("\">\n");
}

const CLOSE: &str = "  </rdf:Description>\n";

fn rdf_type(out: &mut String, ns: &str, local: &str) {
    out.push_str("    <rdf:type rdf:resource=\"");
    out.push_str(ns);
    out.push_str(local);
    out.push_str("\"/>\n");
}

fn literal(out: &mut String, prop: &str, value: &str) {
    out.push_str("    <");
    out.push_str(prop);
    out.push('>');
    xml_escape_into(out, value);
    out.push_str("</");
    out.push_str(prop);
    out.push_str(">\n");
}

/// `uri_parts` must already be XML-escaped (see `write_medications`).
fn resource(out: &mut String, prop: &str, uri_parts: &[&str]) {
    out.push_str("    <");
    out.push_str(prop);
    out.push_str(" rdf:resource=\"");
    for part in uri_parts {
        out.push_str(part);
    }
    out.push_str("\"/>\n");
}

fn node_ref(out: &mut String, prop: &str, node: u128) {
    out.push_str("    <");
    out.push_str(prop);
    out.push_str(" rdf:nodeID=\"");
    node_id(out, node);
    out.push_str("\"/>\n");
}

fn integer(out: &mut String, prop: &str, value: usize) {
    let _ = writeln!(
        out,
        "    <{prop} rdf:datatype=\"{XSD_INTEGER}\">{value}</{prop}>"
    );
}

fn value_and_unit(out: &mut String, node: u128, value: &str, unit: &str) {
    open_node(out, node);
    rdf_type(out, SP, "ValueAndUnit");
    literal(out, "sp:value", value);
    literal(out, "sp:unit", unit);
    out.push_str(CLOSE);
}

/// What the writer needs to know about the request.
pub(crate) struct Target<'a> {
    pub api_base: &'a str,
    pub record_id: &'a str,
    /// The decoded request path (for `nextPageURL`).
    pub path: &'a str,
    /// Seeds the summary and list blank-node ids.
    pub seed: u64,
}

/// Write the answer for `meds` under `query` into `out`.
pub(crate) fn write_medications(
    out: &mut String,
    target: &Target<'_>,
    meds: &[Med],
    query: &MedQuery,
) {
    let mut selected: Vec<&Med> = meds
        .iter()
        .filter(|m| rxnorm_matches(m.drug.rxcui, query) && date_matches(&m.start, query))
        .collect();
    let total = selected.len();
    // Newest first, compared as strings; the statement URI breaks ties (the
    // URIs share their prefix, so comparing the UUIDs is the same).
    selected.sort_by(|a, b| b.start.cmp(&a.start).then_with(|| a.uuid.cmp(&b.uuid)));
    let limit = query.limit();
    let offset = query.offset();
    if let Some(limit) = limit {
        let from = offset.min(selected.len());
        let to = offset.saturating_add(limit).min(selected.len());
        selected = selected[from..to].to_vec();
    }
    if selected.is_empty() {
        out.push_str(EMPTY_GRAPH);
        return;
    }
    // The URI prefixes, XML-escaped once; UUIDs, RxCUIs and the constant
    // namespaces need no escaping.
    let mut record_uri = String::with_capacity(target.api_base.len() + 40);
    xml_escape_into(&mut record_uri, target.api_base);
    record_uri.push_str("/records/");
    xml_escape_into(&mut record_uri, target.record_id);
    let med_prefix = format!("{record_uri}/medications/");
    let fill_prefix = format!("{record_uri}/fulfillments/");
    out.reserve(selected.len() * 3000);
    out.push_str("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rdf:RDF\n");
    out.push_str("   xmlns:api=\"http://smartplatforms.org/terms/api#\"\n");
    out.push_str("   xmlns:dcterms=\"http://purl.org/dc/terms/\"\n");
    out.push_str("   xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"\n");
    out.push_str("   xmlns:sp=\"http://smartplatforms.org/terms#\"\n>\n");
    // Code nodes are shared: one description per RxCUI, carrying every
    // distinct display title used with it.
    let mut codes: Vec<(&str, Vec<&str>)> = Vec::new();
    for med in &selected {
        match codes.iter_mut().find(|(c, _)| *c == med.drug.rxcui) {
            Some((_, titles)) => {
                if !titles.contains(&med.title) {
                    titles.push(med.title);
                }
            }
            None => codes.push((med.drug.rxcui, vec![med.title])),
        }
    }
    for med in &selected {
        open_about(out, &[&med_prefix, &med.uuid]);
        rdf_type(out, SP, "Medication");
        resource(out, "sp:belongsTo", &[&record_uri]);
        node_ref(out, "sp:drugName", med.nodes[0]);
        literal(out, "sp:startDate", &med.start);
        if let Some(end) = &med.end {
            literal(out, "sp:endDate", end);
        }
        literal(out, "sp:instructions", med.instructions);
        if med.quantity.is_some() {
            node_ref(out, "sp:quantity", med.nodes[1]);
        }
        if med.frequency.is_some() {
            node_ref(out, "sp:frequency", med.nodes[2]);
        }
        for fill in &med.fills {
            resource(out, "sp:fulfillment", &[&fill_prefix, &fill.uuid]);
        }
        out.push_str(CLOSE);

        open_node(out, med.nodes[0]);
        rdf_type(out, SP, "CodedValue");
        literal(out, "dcterms:title", med.title);
        resource(out, "sp:code", &[RXNORM, med.drug.rxcui]);
        out.push_str(CLOSE);

        if let Some((value, unit)) = med.quantity {
            value_and_unit(out, med.nodes[1], value, unit);
        }
        if let Some((value, unit)) = med.frequency {
            value_and_unit(out, med.nodes[2], value, unit);
        }
    }
    for (rxcui, titles) in &codes {
        open_about(out, &[RXNORM, rxcui]);
        rdf_type(
            out,
            "http://smartplatforms.org/terms/codes/",
            "RxNorm_Semantic",
        );
        rdf_type(out, SP, "Code");
        for title in titles {
            literal(out, "dcterms:title", title);
        }
        literal(out, "sp:system", RXNORM);
        literal(out, "dcterms:identifier", rxcui);
        out.push_str(CLOSE);
    }
    // The neighbouring statements: every Fulfillment the page links to.
    for med in &selected {
        for fill in &med.fills {
            open_about(out, &[&fill_prefix, &fill.uuid]);
            rdf_type(out, SP, "Fulfillment");
            resource(out, "sp:belongsTo", &[&record_uri]);
            resource(out, "sp:medication", &[&med_prefix, &med.uuid]);
            literal(out, "dcterms:date", &fill.date);
            let mut days = itoa_buf(fill.days as usize);
            literal(out, "sp:dispenseDaysSupply", days.as_str());
            if fill.quantity.is_some() {
                node_ref(out, "sp:quantityDispensed", fill.node);
            }
            out.push_str(CLOSE);
            if let Some(q) = fill.quantity {
                days = itoa_buf(q as usize);
                value_and_unit(out, fill.node, days.as_str(), "{tab}");
            }
        }
    }
    let mut rng = Mix::keyed(target.seed, 0x5E7, (total as u64) << 32 | offset as u64);
    let summary = u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64());
    let list: Vec<u128> = if limit.is_some() {
        (0..selected.len())
            .map(|_| u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64()))
            .collect()
    } else {
        Vec::new()
    };
    open_node(out, summary);
    rdf_type(
        out,
        "http://smartplatforms.org/terms/api#",
        "ResponseSummary",
    );
    integer(out, "api:totalResultCount", total);
    integer(out, "api:resultsReturned", selected.len());
    // A stand-in for the reference's query time, kept deterministic so that
    // the same request always gets the same bytes.
    integer(out, "api:processingTimeMs", 3 + selected.len() * 2);
    if let Some(limit) = limit {
        node_ref(out, "api:resultOrder", list[0]);
        let next_offset = offset + limit;
        if next_offset < total {
            out.push_str("    <api:nextPageURL>");
            let mut url = String::with_capacity(128);
            url.push_str(target.api_base);
            url.push_str(target.path);
            url.push('?');
            let mut first = true;
            let mut saw_offset = false;
            for (k, v) in &query.pairs {
                let v = match k.as_str() {
                    "offset" => {
                        saw_offset = true;
                        next_offset.to_string()
                    }
                    "limit" => limit.to_string(),
                    _ => v.clone(),
                };
                if !first {
                    url.push('&');
                }
                first = false;
                let _ = write!(url, "{k}={v}");
            }
            if !saw_offset {
                let _ = write!(url, "&offset={next_offset}");
            }
            xml_escape_into(out, &url);
            out.push_str("</api:nextPageURL>\n");
        }
    }
    out.push_str(CLOSE);
    // api:resultOrder as an rdf:List (only when `limit` was given).
    for (i, (med, &cell)) in selected.iter().zip(&list).enumerate() {
        open_node(out, cell);
        resource(out, "rdf:first", &[&med_prefix, &med.uuid]);
        match list.get(i + 1) {
            Some(&next) => node_ref(out, "rdf:rest", next),
            None => resource(out, "rdf:rest", &[RDF_NS, "nil"]),
        }
        out.push_str(CLOSE);
    }
    out.push_str("</rdf:RDF>\n");
}

/// A small formatted integer without a heap allocation per call site.
struct SmallNum {
    buf: [u8; 20],
    len: usize,
}

impl SmallNum {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[20 - self.len..]).unwrap_or("0")
    }
}

fn itoa_buf(mut n: usize) -> SmallNum {
    let mut buf = [0u8; 20];
    let mut len = 0;
    loop {
        buf[19 - len] = b'0' + (n % 10) as u8;
        len += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    SmallNum { buf, len }
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

    #[test]
    fn escapes_markup() {
        let mut s = String::new();
        xml_escape_into(&mut s, "a & b < \"c\" > é");
        assert_eq!(s, "a &amp; b &lt; &quot;c&quot; &gt; é");
    }

    #[test]
    fn padding_comparison_rules() {
        let q = |pairs: &[(&str, &str)]| MedQuery {
            pairs: pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        };
        assert!(date_matches("2010-12-31", &q(&[("date_to", "2010")])));
        assert!(!date_matches("2011-01-01", &q(&[("date_to", "2010")])));
        assert!(date_matches("2007", &q(&[("date_from", "2007-06-01")])));
        assert!(date_matches(
            "2007",
            &q(&[("date_to_excluding", "2007-06-01")])
        ));
        assert!(!date_matches("2007", &q(&[("date_to_excluding", "2007")])));
        assert!(date_matches(
            "2007",
            &q(&[("date_to_including", "2007-06-01")])
        ));
        assert!(!date_matches(
            "2010-05-01",
            &q(&[("date_from_excluding", "2010")])
        ));
        assert!(date_matches(
            "2011-01-01",
            &q(&[("date_from_excluding", "2010")])
        ));
        assert!(!date_matches(
            "2009-12-31",
            &q(&[("date_from_including", "2010")])
        ));
    }

    #[test]
    fn small_numbers() {
        assert_eq!(itoa_buf(0).as_str(), "0");
        assert_eq!(itoa_buf(90).as_str(), "90");
    }
}
