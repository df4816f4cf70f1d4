//! `GET /records/{rid}/lab_results/` (models doc section 4): panels drawn on
//! a date, one `sp:LabResult` per test; sort `dcterms:date`, filter `loinc`.
//!
//! About a third of the records have none, most have a few panels, a few
//! have hundreds of results. Panels follow the person's conditions (a lipid
//! panel for hyperlipidemia, an INR for atrial fibrillation) besides routine
//! ones. Quantitative results carry a value and unit (the unit is empty for
//! specific gravity), usually a normal range, sometimes a value that is not
//! a number (`<1`, `0-2`, `Few`); ordinal and nominal tests carry a
//! narrative result. A few records write chloride's LOINC as the sample's
//! malformed `2075--0`.

use super::{Ctx, Resource, Shape, write_list};
use crate::sandbox::person::{Precision, decimal, uuid, written};
use crate::sandbox::population::Mix;
use crate::sandbox::query::Listed;
use crate::sandbox::rdf::{Graph, NodeRef, sp};
use crate::sandbox::vocab::{LOINC, LabTest, Panel, ROUTINE_PANELS, Scale};

pub(crate) static RESOURCE: Resource = Resource {
    name: "lab_results",
    shape: Shape::List,
    class: sp("LabResult"),
    code_filter: Some("loinc"),
    sort: Some("dcterms:date"),
    write,
};

const SALT: u64 = 0x1AB5;

const DATE: Precision = Precision {
    year: 0.0,
    month: 0.0,
    time: 0.03,
};

/// How a result is written.
enum Outcome {
    /// Value, and the normal range when known.
    Quantity(String, Option<(f64, f64)>),
    Narrative(&'static str),
}

struct Lab {
    uuid: String,
    test: &'static LabTest,
    loinc: &'static str,
    date: String,
    outcome: Outcome,
    accession: String,
}

impl Listed for Lab {
    fn id(&self) -> &str {
        &self.uuid
    }
    fn sort_value(&self) -> &str {
        &self.date
    }
    fn filter_code(&self) -> Option<&str> {
        Some(self.loinc)
    }
}

/// How many panels: none for about a third, a few usually, many sometimes.
fn panel_count(rng: &mut Mix) -> usize {
    match rng.below(100) {
        0..=33 => 0,
        34..=93 => 1 + rng.below(12) as usize,
        _ => 30 + rng.below(60) as usize,
    }
}

fn outcome(rng: &mut Mix, test: &LabTest) -> Outcome {
    match &test.scale {
        Scale::Quantity {
            low,
            high,
            decimals,
        } => {
            let spread = (high - low).max(1e-9);
            let value = if rng.chance(0.01) {
                format!("<{}", decimal(*low + spread * 0.1, *decimals))
            } else {
                decimal(low - spread * 0.2 + rng.unit() * spread * 1.4, *decimals)
            };
            Outcome::Quantity(value, rng.chance(0.8).then_some((*low, *high)))
        }
        Scale::Text(values) => Outcome::Quantity(rng.pick(values).to_string(), None),
        Scale::Narrative(values) => Outcome::Narrative(*rng.pick(values)),
    }
}

fn generate(ctx: &Ctx<'_>) -> Vec<Lab> {
    let person = ctx.person();
    let mut rng = ctx.rng(SALT);
    let malformed_chloride = rng.chance(0.02);
    let mut labs = Vec::new();
    for _ in 0..panel_count(&mut rng) {
        let linked: Vec<(Panel, chrono::NaiveDate)> = person
            .conditions
            .iter()
            .flat_map(|o| o.condition.panels.iter().map(|&p| (p, o.start)))
            .collect();
        let (panel, from) = if !linked.is_empty() && rng.chance(0.6) {
            *rng.pick(&linked)
        } else {
            (*rng.pick(ROUTINE_PANELS), person.care_from)
        };
        let day = person.care_day_after(&mut rng, from);
        let date = written(&mut rng, day, DATE);
        for test in panel.tests() {
            let loinc = if malformed_chloride && test.loinc == "2075-0" {
                "2075--0"
            } else {
                test.loinc
            };
            let mut accession = String::with_capacity(10);
            accession.push('A');
            crate::sandbox::person::push_num(&mut accession, rng.below(1_000_000_000) as u32, 9);
            labs.push(Lab {
                uuid: uuid(&mut rng),
                test,
                loinc,
                date: date.clone(),
                outcome: outcome(&mut rng, test),
                accession,
            });
        }
    }
    labs
}

fn value_and_unit(g: &mut Graph, value: String, unit: &'static str) -> NodeRef {
    g.value_and_unit(value, unit)
}

fn add_lab(g: &mut Graph, ctx: &Ctx<'_>, prefix: &str, lab: &Lab) {
    let n = g.uri_node(format!("{prefix}{}", lab.uuid), sp("LabResult"));
    g.res(n, "sp:belongsTo", &ctx.record_uri);
    g.coded(n, "sp:labName", &LOINC, (lab.loinc, lab.test.name));
    g.lit(n, "dcterms:date", lab.date.clone());
    match &lab.outcome {
        Outcome::Quantity(value, range) => {
            let qr = g.blank(Some(sp("QuantitativeResult")));
            let vu = value_and_unit(g, value.clone(), lab.test.unit);
            g.link(qr, "sp:valueAndUnit", vu);
            if let Some((low, high)) = range {
                let decimals = match lab.test.scale {
                    Scale::Quantity { decimals, .. } => decimals,
                    _ => 0,
                };
                let r = g.blank(Some(sp("ValueRange")));
                let min = value_and_unit(g, decimal(*low, decimals), lab.test.unit);
                let max = value_and_unit(g, decimal(*high, decimals), lab.test.unit);
                g.link(r, "sp:minimum", min);
                g.link(r, "sp:maximum", max);
                g.link(qr, "sp:normalRange", r);
            }
            g.link(n, "sp:quantitativeResult", qr);
        }
        Outcome::Narrative(value) => {
            let nr = g.blank(Some(sp("NarrativeResult")));
            g.lit(nr, "sp:value", *value);
            g.link(n, "sp:narrativeResult", nr);
        }
    }
    g.lit(n, "sp:accessionNumber", lab.accession.clone());
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let labs = generate(ctx);
    let prefix = ctx.prefix(RESOURCE.name);
    write_list(ctx, &RESOURCE, &labs, |g, lab| add_lab(g, ctx, &prefix, lab), out);
}
