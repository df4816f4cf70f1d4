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
use crate::sandbox::person::{Uuid, Precision, decimal, uuid, written};
use crate::sandbox::population::Mix;
use crate::sandbox::query::Listed;
use crate::sandbox::rdf::{Str, Writer, sp};
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
    uuid: Uuid,
    test: &'static LabTest,
    loinc: &'static str,
    date: String,
    outcome: Outcome,
    accession: String,
}

impl Listed for Lab {
    fn id(&self) -> Uuid {
        self.uuid
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
        Scale::Narrative(values) => {
            let value: &&str = rng.pick(values);
            Outcome::Narrative(value)
        }
    }
}

fn generate(ctx: &Ctx<'_>) -> Vec<Lab> {
    let person = ctx.person();
    let mut rng = ctx.rng(SALT);
    let malformed_chloride = rng.chance(0.02);
    let mut labs = Vec::new();
    let linked: Vec<(Panel, chrono::NaiveDate)> = person
        .conditions
        .iter()
        .flat_map(|o| o.condition.panels.iter().map(|&p| (p, o.start)))
        .collect();
    for _ in 0..panel_count(&mut rng) {
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

fn add_lab<'a>(w: &mut Writer<'a>, ctx: &'a Ctx<'_>, prefix: &'a str, lab: &'a Lab) {
    w.open_about(Str::Uuid(prefix, lab.uuid), sp("LabResult"));
    w.res("sp:belongsTo", ctx.record());
    w.coded("sp:labName", &LOINC, (lab.loinc, lab.test.name));
    w.lit("dcterms:date", &lab.date);
    match &lab.outcome {
        Outcome::Quantity(value, range) => {
            w.child("sp:quantitativeResult", sp("QuantitativeResult"));
            w.value_and_unit("sp:valueAndUnit", value, lab.test.unit);
            if let Some((low, high)) = range {
                let decimals = match lab.test.scale {
                    Scale::Quantity { decimals, .. } => decimals,
                    _ => 0,
                };
                w.child("sp:normalRange", sp("ValueRange"));
                w.value_and_unit("sp:minimum", decimal(*low, decimals), lab.test.unit);
                w.value_and_unit("sp:maximum", decimal(*high, decimals), lab.test.unit);
                w.close();
            }
            w.close();
        }
        Outcome::Narrative(value) => {
            w.child("sp:narrativeResult", sp("NarrativeResult"));
            w.lit("sp:value", *value);
            w.close();
        }
    }
    w.lit("sp:accessionNumber", &lab.accession);
    w.close();
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let labs = generate(ctx);
    let prefix = ctx.prefix(RESOURCE.name);
    write_list(ctx, &RESOURCE, &labs, &prefix, |w, lab| add_lab(w, ctx, &prefix, lab), out);
}
