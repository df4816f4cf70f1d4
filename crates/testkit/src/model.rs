//! A small model of one record's medications answer, written as RDF/XML in
//! the two styles real containers send (the reference server's flat
//! `rdf:Description`/`rdf:nodeID` style and the nested typed-node style of
//! rdflib's `pretty-xml`), and a deterministic generator of realistic records.

use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The SMART vocabulary namespace (`sp:`).
pub const SP: &str = "http://smartplatforms.org/terms#";
/// The SMART API namespace (`api:`).
pub const API: &str = "http://smartplatforms.org/terms/api#";
/// Dublin Core terms (`dcterms:`).
pub const DCTERMS: &str = "http://purl.org/dc/terms/";
/// The RDF namespace (`rdf:`).
pub const RDF: &str = "http://www.w3.org/1999/02/22-rdf-syntax-ns#";
/// RxNorm code URIs are this prefix plus the RxCUI.
pub const RXNORM: &str = "http://purl.bioontology.org/ontology/RXNORM/";

/// A literal text with an optional `xml:lang` tag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Text {
    /// The lexical value.
    pub value: String,
    /// The language tag, if any.
    pub lang: Option<String>,
}

impl Text {
    /// A plain literal (no language tag).
    pub fn plain(value: impl Into<String>) -> Self {
        Self {
            value: value.into(),
            lang: None,
        }
    }
}

/// An `sp:ValueAndUnit` node: `sp:value` and `sp:unit`, both plain strings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ValueAndUnit {
    /// `sp:value`.
    pub value: String,
    /// `sp:unit`.
    pub unit: String,
}

/// The drug name: an `sp:CodedValue` with its titles and RxNorm code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Drug {
    /// `dcterms:title` values of the CodedValue (normally exactly one).
    pub titles: Vec<Text>,
    /// The RxCUI; the code node is `RXNORM` + this. Code nodes are shared by
    /// every medication with the same RxCUI and carry the union of titles.
    pub rxcui: String,
}

/// An `sp:Fulfillment`. The same fulfillment id under several medications is
/// one node linked to all of them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Fulfillment {
    /// Last path segment of the statement URI.
    pub id: String,
    /// `dcterms:date`.
    pub date: String,
    /// `sp:dispenseDaysSupply`.
    pub days_supply: String,
    /// `sp:quantityDispensed`.
    pub quantity: Option<ValueAndUnit>,
}

/// An `sp:Medication` statement.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Medication {
    /// Last path segment of the statement URI.
    pub id: String,
    /// `sp:drugName` (None: a medication without a drug name).
    pub drug: Option<Drug>,
    /// `sp:startDate`.
    pub start_date: Option<String>,
    /// `sp:endDate`.
    pub end_date: Option<String>,
    /// `sp:instructions`.
    pub instructions: Option<String>,
    /// `sp:quantity`.
    pub quantity: Option<ValueAndUnit>,
    /// `sp:frequency`.
    pub frequency: Option<ValueAndUnit>,
    /// `sp:fulfillment` links (the fulfillments are described in the answer).
    pub fulfillments: Vec<Fulfillment>,
}

/// One record's medications answer.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Container base, e.g. `http://localhost:7000` (no trailing slash).
    pub api_base: String,
    /// The record id.
    pub record_id: String,
    /// The medications.
    pub meds: Vec<Medication>,
}

impl Record {
    /// The record URI (`sp:belongsTo` object).
    pub fn record_uri(&self) -> String {
        format!("{}/records/{}", self.api_base, self.record_id)
    }
    /// A medication's statement URI.
    pub fn med_uri(&self, med: &Medication) -> String {
        format!("{}/medications/{}", self.record_uri(), med.id)
    }
    /// A fulfillment's statement URI.
    pub fn fill_uri(&self, fill: &Fulfillment) -> String {
        format!("{}/fulfillments/{}", self.record_uri(), fill.id)
    }
    /// The request URL of the answer (the base IRI to parse it with).
    pub fn request_url(&self) -> String {
        format!("{}/medications/", self.record_uri())
    }

    /// Titles of each code node: the union, in first-seen order, of the titles
    /// of every CodedValue with that RxCUI.
    fn code_titles(&self) -> BTreeMap<&str, Vec<&Text>> {
        let mut out: BTreeMap<&str, Vec<&Text>> = BTreeMap::new();
        for drug in self.meds.iter().filter_map(|m| m.drug.as_ref()) {
            let titles = out.entry(drug.rxcui.as_str()).or_default();
            for t in &drug.titles {
                if !titles.contains(&t) {
                    titles.push(t);
                }
            }
        }
        out
    }

    /// Fulfillments by id, each with the medications that link to it.
    fn fulfillments(&self) -> Vec<(&Fulfillment, Vec<String>)> {
        let mut order: Vec<&str> = Vec::new();
        let mut by_id: BTreeMap<&str, (&Fulfillment, Vec<String>)> = BTreeMap::new();
        for med in &self.meds {
            for f in &med.fulfillments {
                let e = by_id.entry(f.id.as_str()).or_insert_with(|| {
                    order.push(f.id.as_str());
                    (f, Vec::new())
                });
                e.1.push(self.med_uri(med));
            }
        }
        order
            .into_iter()
            .filter_map(|id| by_id.remove(id))
            .collect()
    }
}

/// Escapes XML character data (element content).
pub fn escape_text(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\r' => out.push_str("&#13;"),
            c => out.push(c),
        }
    }
}

/// Escapes an XML attribute value (double-quoted).
pub fn escape_attr(s: &str, out: &mut String) {
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\n' => out.push_str("&#10;"),
            '\r' => out.push_str("&#13;"),
            '\t' => out.push_str("&#9;"),
            c => out.push(c),
        }
    }
}

fn cdata(s: &str, out: &mut String) {
    out.push_str("<![CDATA[");
    out.push_str(s);
    out.push_str("]]>");
}

/// A property element with a literal object, e.g. `<sp:value>1</sp:value>`.
fn lit(out: &mut String, indent: &str, qname: &str, text: &Text, use_cdata: bool) {
    let _ = write!(out, "{indent}<{qname}");
    if let Some(lang) = &text.lang {
        out.push_str(" xml:lang=\"");
        escape_attr(lang, out);
        out.push('"');
    }
    out.push('>');
    // CDATA cannot carry a carriage return faithfully (XML end-of-line
    // handling), and `]]>` would need two adjacent sections, which oxrdfxml
    // refuses (see the transform's known gaps): escape those instead.
    if use_cdata && !text.value.contains('\r') && !text.value.contains("]]>") {
        cdata(&text.value, out);
    } else {
        escape_text(&text.value, out);
    }
    let _ = writeln!(out, "</{qname}>");
}

/// The properties of an `sp:ValueAndUnit` node (its type, value and unit),
/// one element each.
fn value_and_unit(out: &mut String, indent: &str, q: &ValueAndUnit) {
    res(out, indent, "rdf:type", &format!("{SP}ValueAndUnit"));
    lit(out, indent, "sp:value", &Text::plain(&q.value), false);
    lit(out, indent, "sp:unit", &Text::plain(&q.unit), false);
}

fn res(out: &mut String, indent: &str, qname: &str, iri: &str) {
    let _ = write!(out, "{indent}<{qname} rdf:resource=\"");
    escape_attr(iri, out);
    out.push_str("\"/>\n");
}

fn node_ref(out: &mut String, indent: &str, qname: &str, id: &str) {
    let _ = writeln!(out, "{indent}<{qname} rdf:nodeID=\"{id}\"/>");
}

const HEADER: &str = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<rdf:RDF\n   xmlns:api=\"http://smartplatforms.org/terms/api#\"\n   xmlns:dcterms=\"http://purl.org/dc/terms/\"\n   xmlns:rdf=\"http://www.w3.org/1999/02/22-rdf-syntax-ns#\"\n   xmlns:sp=\"http://smartplatforms.org/terms#\"\n>\n";

/// A tiny deterministic permutation source (xorshift), so the flat writer can
/// emit subjects and properties in an arbitrary but reproducible order.
struct Shuffler(u64);

impl Shuffler {
    fn shuffle<T>(&mut self, v: &mut [T]) {
        if self.0 == 0 {
            return;
        }
        for i in (1..v.len()).rev() {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            let j = (self.0 % (i as u64 + 1)) as usize;
            v.swap(i, j);
        }
    }
}

/// Writes the record in the reference server's flat style: one
/// `rdf:Description` per subject, blank nodes as `rdf:nodeID="N..."`, an
/// `api:ResponseSummary` (none when there are no medications).
///
/// `order_seed` = 0 keeps the natural order; any other value shuffles the
/// subjects and the properties within each subject (the graph is the same).
pub fn to_flat(rec: &Record, order_seed: u64) -> String {
    let mut shuffler = Shuffler(order_seed);
    let mut next_id = 0u64;
    let mut fresh = || {
        next_id += 1;
        format!("N{:032x}", next_id.wrapping_mul(0x9e37_79b9_7f4a_7c15))
    };
    // Each subject: (opening line, property lines).
    let mut subjects: Vec<(String, Vec<String>)> = Vec::new();
    let about = |iri: &str| {
        let mut s = String::from("  <rdf:Description rdf:about=\"");
        escape_attr(iri, &mut s);
        s.push_str("\">\n");
        s
    };
    let node = |id: &str| format!("  <rdf:Description rdf:nodeID=\"{id}\">\n");
    let one = |f: &dyn Fn(&mut String)| {
        let mut s = String::new();
        f(&mut s);
        s
    };
    let vau = |subjects: &mut Vec<(String, Vec<String>)>, id: &str, v: &ValueAndUnit| {
        subjects.push((
            node(id),
            vec![
                one(&|o| res(o, "    ", "rdf:type", &format!("{SP}ValueAndUnit"))),
                one(&|o| lit(o, "    ", "sp:value", &Text::plain(&v.value), false)),
                one(&|o| lit(o, "    ", "sp:unit", &Text::plain(&v.unit), false)),
            ],
        ));
    };
    for med in &rec.meds {
        let mut props = vec![
            one(&|o| res(o, "    ", "rdf:type", &format!("{SP}Medication"))),
            one(&|o| res(o, "    ", "sp:belongsTo", &rec.record_uri())),
        ];
        if let Some(drug) = &med.drug {
            let cv = fresh();
            props.push(one(&|o| node_ref(o, "    ", "sp:drugName", &cv)));
            let mut cvp = vec![one(&|o| {
                res(o, "    ", "rdf:type", &format!("{SP}CodedValue"))
            })];
            for t in &drug.titles {
                cvp.push(one(&|o| lit(o, "    ", "dcterms:title", t, false)));
            }
            cvp.push(one(&|o| {
                res(o, "    ", "sp:code", &format!("{RXNORM}{}", drug.rxcui))
            }));
            subjects.push((node(&cv), cvp));
        }
        for (q, v) in [
            ("sp:startDate", &med.start_date),
            ("sp:endDate", &med.end_date),
            ("sp:instructions", &med.instructions),
        ] {
            if let Some(v) = v {
                props.push(one(&|o| lit(o, "    ", q, &Text::plain(v), false)));
            }
        }
        for (q, v) in [
            ("sp:quantity", &med.quantity),
            ("sp:frequency", &med.frequency),
        ] {
            if let Some(v) = v {
                let id = fresh();
                props.push(one(&|o| node_ref(o, "    ", q, &id)));
                vau(&mut subjects, &id, v);
            }
        }
        for f in &med.fulfillments {
            props.push(one(&|o| res(o, "    ", "sp:fulfillment", &rec.fill_uri(f))));
        }
        subjects.push((about(&rec.med_uri(med)), props));
    }
    for (rxcui, titles) in rec.code_titles() {
        let mut props = vec![
            one(&|o| res(o, "    ", "rdf:type", &format!("{SP}Code"))),
            one(&|o| {
                res(
                    o,
                    "    ",
                    "rdf:type",
                    "http://smartplatforms.org/terms/codes/RxNorm_Semantic",
                )
            }),
        ];
        for t in titles {
            props.push(one(&|o| lit(o, "    ", "dcterms:title", t, false)));
        }
        props.push(one(&|o| {
            lit(o, "    ", "sp:system", &Text::plain(RXNORM), false)
        }));
        props.push(one(&|o| {
            lit(o, "    ", "dcterms:identifier", &Text::plain(rxcui), false)
        }));
        subjects.push((about(&format!("{RXNORM}{rxcui}")), props));
    }
    for (f, meds) in rec.fulfillments() {
        let mut props = vec![
            one(&|o| res(o, "    ", "rdf:type", &format!("{SP}Fulfillment"))),
            one(&|o| res(o, "    ", "sp:belongsTo", &rec.record_uri())),
        ];
        for m in &meds {
            props.push(one(&|o| res(o, "    ", "sp:medication", m)));
        }
        props.push(one(&|o| {
            lit(o, "    ", "dcterms:date", &Text::plain(&f.date), false)
        }));
        props.push(one(&|o| {
            lit(
                o,
                "    ",
                "sp:dispenseDaysSupply",
                &Text::plain(&f.days_supply),
                false,
            )
        }));
        if let Some(q) = &f.quantity {
            let id = fresh();
            props.push(one(&|o| node_ref(o, "    ", "sp:quantityDispensed", &id)));
            vau(&mut subjects, &id, q);
        }
        subjects.push((about(&rec.fill_uri(f)), props));
    }
    if !rec.meds.is_empty() {
        let id = fresh();
        let n = rec.meds.len();
        let int = |o: &mut String, q: &str, v: usize| {
            let _ = writeln!(
                o,
                "    <{q} rdf:datatype=\"http://www.w3.org/2001/XMLSchema#integer\">{v}</{q}>"
            );
        };
        subjects.push((
            node(&id),
            vec![
                one(&|o| res(o, "    ", "rdf:type", &format!("{API}ResponseSummary"))),
                one(&|o| int(o, "api:totalResultCount", n)),
                one(&|o| int(o, "api:resultsReturned", n)),
                one(&|o| int(o, "api:processingTimeMs", 37)),
            ],
        ));
    }
    shuffler.shuffle(&mut subjects);
    let mut out = String::from(HEADER);
    for (open, mut props) in subjects {
        shuffler.shuffle(&mut props);
        out.push_str(&open);
        for p in props {
            out.push_str(&p);
        }
        out.push_str("  </rdf:Description>\n");
    }
    out.push_str("</rdf:RDF>\n");
    out
}

/// Writes the record in a nested style: typed node elements
/// (`<sp:Medication rdf:about=...>`), the CodedValue nested as a typed node,
/// the code node described inline the first time and referenced afterwards,
/// `sp:quantity` as `rdf:parseType="Resource"`, `sp:frequency` as a nested
/// typed node with property attributes, fulfillments nested inside the first
/// medication that links to them, instructions in CDATA, no ResponseSummary
/// blank-node ids (it is an anonymous nested node).
pub fn to_nested(rec: &Record) -> String {
    let mut out = String::from(HEADER);
    let mut described_codes: BTreeSet<&str> = BTreeSet::new();
    let mut described_fills: BTreeSet<&str> = BTreeSet::new();
    let fills = rec.fulfillments();
    let code_titles = rec.code_titles();
    for med in &rec.meds {
        out.push_str("  <sp:Medication rdf:about=\"");
        escape_attr(&rec.med_uri(med), &mut out);
        out.push_str("\">\n");
        res(&mut out, "    ", "sp:belongsTo", &rec.record_uri());
        if let Some(drug) = &med.drug {
            out.push_str("    <sp:drugName>\n      <sp:CodedValue>\n");
            for t in &drug.titles {
                lit(&mut out, "        ", "dcterms:title", t, false);
            }
            let code = format!("{RXNORM}{}", drug.rxcui);
            if described_codes.insert(drug.rxcui.as_str()) {
                out.push_str("        <sp:code>\n          <rdf:Description rdf:about=\"");
                escape_attr(&code, &mut out);
                out.push_str("\">\n");
                res(&mut out, "            ", "rdf:type", &format!("{SP}Code"));
                res(
                    &mut out,
                    "            ",
                    "rdf:type",
                    "http://smartplatforms.org/terms/codes/RxNorm_Semantic",
                );
                for t in code_titles.get(drug.rxcui.as_str()).into_iter().flatten() {
                    lit(&mut out, "            ", "dcterms:title", t, false);
                }
                lit(
                    &mut out,
                    "            ",
                    "sp:system",
                    &Text::plain(RXNORM),
                    false,
                );
                lit(
                    &mut out,
                    "            ",
                    "dcterms:identifier",
                    &Text::plain(&drug.rxcui),
                    false,
                );
                out.push_str("          </rdf:Description>\n        </sp:code>\n");
            } else {
                res(&mut out, "        ", "sp:code", &code);
            }
            out.push_str("      </sp:CodedValue>\n    </sp:drugName>\n");
        }
        if let Some(v) = &med.start_date {
            lit(&mut out, "    ", "sp:startDate", &Text::plain(v), false);
        }
        if let Some(v) = &med.end_date {
            lit(&mut out, "    ", "sp:endDate", &Text::plain(v), false);
        }
        if let Some(v) = &med.instructions {
            lit(&mut out, "    ", "sp:instructions", &Text::plain(v), true);
        }
        if let Some(q) = &med.quantity {
            out.push_str("    <sp:quantity rdf:parseType=\"Resource\">\n");
            value_and_unit(&mut out, "      ", q);
            out.push_str("    </sp:quantity>\n");
        }
        if let Some(f) = &med.frequency {
            out.push_str("    <sp:frequency>\n      <sp:ValueAndUnit sp:value=\"");
            escape_attr(&f.value, &mut out);
            out.push_str("\" sp:unit=\"");
            escape_attr(&f.unit, &mut out);
            out.push_str("\"/>\n    </sp:frequency>\n");
        }
        for f in &med.fulfillments {
            let uri = rec.fill_uri(f);
            if !described_fills.insert(f.id.as_str()) {
                res(&mut out, "    ", "sp:fulfillment", &uri);
                continue;
            }
            out.push_str("    <sp:fulfillment>\n      <sp:Fulfillment rdf:about=\"");
            escape_attr(&uri, &mut out);
            out.push_str("\">\n");
            res(&mut out, "        ", "sp:belongsTo", &rec.record_uri());
            if let Some((_, meds)) = fills.iter().find(|(g, _)| g.id == f.id) {
                for m in meds {
                    res(&mut out, "        ", "sp:medication", m);
                }
            }
            lit(
                &mut out,
                "        ",
                "dcterms:date",
                &Text::plain(&f.date),
                false,
            );
            lit(
                &mut out,
                "        ",
                "sp:dispenseDaysSupply",
                &Text::plain(&f.days_supply),
                false,
            );
            if let Some(q) = &f.quantity {
                out.push_str("        <sp:quantityDispensed>\n          <rdf:Description>\n");
                value_and_unit(&mut out, "            ", q);
                out.push_str("          </rdf:Description>\n        </sp:quantityDispensed>\n");
            }
            out.push_str("      </sp:Fulfillment>\n    </sp:fulfillment>\n");
        }
        out.push_str(
            "    <rdf:type rdf:resource=\"http://smartplatforms.org/terms#Medication\"/>\n",
        );
        out.push_str("  </sp:Medication>\n");
    }
    if !rec.meds.is_empty() {
        let n = rec.meds.len();
        let _ = writeln!(
            out,
            "  <api:ResponseSummary>\n    <api:totalResultCount rdf:datatype=\"http://www.w3.org/2001/XMLSchema#integer\">{n}</api:totalResultCount>\n    <api:resultsReturned rdf:datatype=\"http://www.w3.org/2001/XMLSchema#integer\">{n}</api:resultsReturned>\n  </api:ResponseSummary>"
        );
    }
    out.push_str("</rdf:RDF>\n");
    out
}

const DRUGS: &[(&str, &str)] = &[
    ("312938", "Sertraline 100 MG Oral Tablet"),
    ("309309", "Ciprofloxacin 500 MG Oral Tablet"),
    ("197319", "Allopurinol 100 MG Oral Tablet"),
    ("617318", "atorvastatin 20 MG Oral Tablet [Lipitor]"),
    ("199903", "Hydrochlorothiazide 12.5 MG Oral Capsule"),
    ("352272", "Escitalopram 10 MG Oral Tablet [Lexapro]"),
    ("748857", "Yasmin 28 Day Pack"),
    ("308135", "Amlodipine 10 MG Oral Tablet"),
    (
        "860975",
        "24 HR Metformin hydrochloride 500 MG Extended Release Oral Tablet",
    ),
    ("314076", "Lisinopril 10 MG Oral Tablet"),
    ("197361", "Amlodipine 5 MG Oral Tablet"),
    ("866924", "Metoprolol Tartrate 25 MG Oral Tablet"),
    ("855332", "Warfarin Sodium 5 MG Oral Tablet"),
    ("198211", "Simvastatin 40 MG Oral Tablet"),
    ("311989", "Nitrofurantoin 100 MG Oral Capsule"),
    ("995624", "Omeprazole 20 MG Delayed Release Oral Capsule"),
    (
        "849727",
        "Fluticasone propionate 0.05 MG/ACTUAT Nasal Spray",
    ),
    ("746741", "Albuterol 0.09 MG/ACTUAT Inhalant Solution"),
    ("200031", "Carvedilol 6.25 MG Oral Tablet"),
    ("310965", "Ibuprofen 200 MG Oral Tablet"),
];

const SIGS: &[&str] = &[
    "1 daily",
    "1 bid",
    "1 qhs",
    "2 puffs q4-6h prn wheezing",
    "Take 1 tablet by mouth every morning, with food",
    "1 tid with meals",
    "use as directed, \"do not crush\"",
];

/// Builds one realistic random record (flat-style content like the sandbox
/// serves): 0 to 25 medications, most with quantity and frequency, each with
/// 0 to 2 fulfillments (about 20 KB a record on average). Deterministic for
/// a given `seed`.
pub fn random_record(seed: u64, record_id: &str) -> Record {
    let mut rng = StdRng::seed_from_u64(seed);
    // Skewed towards small lists: the minimum of two uniform draws in 0..=25.
    let n_meds = rng
        .random_range(0..=25usize)
        .min(rng.random_range(0..=25usize));
    let mut meds = Vec::with_capacity(n_meds);
    let uuid = |rng: &mut StdRng| {
        let a: u128 = rng.random();
        let h = format!("{a:032x}");
        format!(
            "{}-{}-4{}-{}-{}",
            &h[0..8],
            &h[8..12],
            &h[13..16],
            &h[16..20],
            &h[20..32]
        )
    };
    for _ in 0..n_meds {
        let (rxcui, name) = DRUGS[rng.random_range(0..DRUGS.len())];
        let year = rng.random_range(2005..=2011);
        let month = rng.random_range(1..=12);
        let day = rng.random_range(1..=28);
        let n_fills = rng.random_range(0..=2usize);
        let fulfillments = (0..n_fills)
            .map(|i| Fulfillment {
                id: uuid(&mut rng),
                date: format!("{year}-{:02}-{day:02}", ((month + i - 1) % 12) + 1),
                days_supply: "30".into(),
                quantity: Some(ValueAndUnit {
                    value: "30".into(),
                    unit: "{tab}".into(),
                }),
            })
            .collect();
        meds.push(Medication {
            id: uuid(&mut rng),
            drug: Some(Drug {
                titles: vec![Text::plain(name)],
                rxcui: rxcui.into(),
            }),
            start_date: Some(format!("{year}-{month:02}-{day:02}")),
            end_date: rng
                .random_bool(0.2)
                .then(|| format!("{}-{month:02}-{day:02}", year + 1)),
            instructions: Some(SIGS[rng.random_range(0..SIGS.len())].into()),
            quantity: rng.random_bool(0.8).then(|| ValueAndUnit {
                value: "1".into(),
                unit: "{tablet}".into(),
            }),
            frequency: rng.random_bool(0.8).then(|| ValueAndUnit {
                value: rng.random_range(1..=3).to_string(),
                unit: "/d".into(),
            }),
            fulfillments,
        });
    }
    Record {
        api_base: "http://localhost:7000".into(),
        record_id: record_id.into(),
        meds,
    }
}

/// A benchmark corpus: `n` records (ids `1000000`, `1000001`, ...) written in
/// the flat style, as `(record_id, request_url, body)`.
pub fn flat_corpus(n: usize, seed: u64) -> Vec<(String, String, Vec<u8>)> {
    (0..n)
        .map(|i| {
            let id = format!("{}", 1_000_000 + i);
            let rec = random_record(seed.wrapping_mul(1_000_003).wrapping_add(i as u64), &id);
            let body = to_flat(&rec, i as u64 + 1).into_bytes();
            (id, rec.request_url(), body)
        })
        .collect()
}
