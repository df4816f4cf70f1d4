//! `GET /records/{rid}/medications/` (`smart-classic-api.md` section 6): the
//! person's medications, each with its neighbouring `sp:Fulfillment`
//! statements; sort `sp:startDate`, filter `rxnorm`.
//!
//! About a third of the records have none; the others 1 to 25, mostly drugs
//! for the person's conditions, started after the condition. The same
//! generation feeds the fulfillments answer.

use chrono::Days;

use super::{Ctx, Resource, Shape, write_list};
use crate::sandbox::person::{Uuid, Onset, Person, Precision, iso, uuid, written};
use crate::sandbox::population::Mix;
use crate::sandbox::query::Listed;
use crate::sandbox::rdf::{Str, Writer, sp};
use crate::sandbox::vocab::{
    DAYS_SUPPLY, DRUGS, Drug, FREQUENCIES, INSTRUCTIONS, QUANTITIES, RXNORM_SEMANTIC, drug,
};

pub(crate) static RESOURCE: Resource = Resource {
    name: "medications",
    shape: Shape::List,
    class: sp("Medication"),
    code_filter: Some("rxnorm"),
    sort: Some("sp:startDate"),
    write,
};

const MEDS_SALT: u64 = 0x3ED5;

/// Start dates: mostly days, some years, months or datetimes.
const START: Precision = Precision {
    year: 0.06,
    month: 0.04,
    time: 0.10,
};

/// One dispensing event.
pub(crate) struct Fill {
    pub uuid: Uuid,
    pub date: String,
    pub days: u32,
    pub quantity: Option<u32>,
}

/// One medication statement.
pub(crate) struct Med {
    pub uuid: Uuid,
    pub drug: &'static Drug,
    pub title: &'static str,
    pub start: String,
    pub end: Option<String>,
    pub instructions: &'static str,
    pub quantity: Option<(&'static str, &'static str)>,
    pub frequency: Option<(&'static str, &'static str)>,
    pub fills: Vec<Fill>,
}

impl Listed for Med {
    fn id(&self) -> Uuid {
        self.uuid
    }
    fn sort_value(&self) -> &str {
        &self.start
    }
    fn filter_code(&self) -> Option<&str> {
        Some(self.drug.rxcui)
    }
}

/// A drug for one of the person's conditions (and when it may start), or
/// any drug.
fn choose_drug(
    rng: &mut Mix,
    person: &Person,
    treated: &[&Onset],
) -> (&'static Drug, chrono::NaiveDate, bool) {
    if !treated.is_empty() && rng.chance(0.65) {
        let onset = rng.pick(treated);
        let rxcui: &&str = rng.pick(onset.condition.drugs);
        if let Some(d) = drug(rxcui) {
            return (d, onset.start, !onset.condition.chronic);
        }
    }
    (rng.pick(DRUGS), person.care_from, false)
}

/// The record's medications. Deterministic in (seed, key).
pub(crate) fn generate(seed: u64, key: u64, person: &Person) -> Vec<Med> {
    let mut rng = Mix::keyed(seed, MEDS_SALT, key);
    let count = if rng.chance(0.34) {
        0
    } else {
        1 + rng.below(25) as usize
    };
    let treated: Vec<&Onset> = person
        .conditions
        .iter()
        .filter(|o| !o.condition.drugs.is_empty())
        .collect();
    let mut meds = Vec::with_capacity(count);
    for _ in 0..count {
        let (drug, from, acute) = choose_drug(&mut rng, person, &treated);
        let title = if !drug.variants.is_empty() && rng.chance(0.2) {
            rng.pick(drug.variants)
        } else {
            drug.name
        };
        let date = if acute {
            from
        } else {
            person.care_day_after(&mut rng, from)
        };
        let start = written(&mut rng, date, START);
        let end = (acute || rng.chance(0.3)).then(|| {
            let span = if acute { rng.range(5, 14) } else { rng.range(7, 700) };
            iso(date.checked_add_days(Days::new(span)).unwrap_or(date))
        });
        let instructions = *rng.pick(INSTRUCTIONS);
        let quantity = rng.chance(0.75).then(|| (*rng.pick(QUANTITIES), drug.unit));
        let frequency = rng.chance(0.75).then(|| *rng.pick(FREQUENCIES));
        let n_fills = if rng.chance(0.4) {
            0
        } else {
            1 + rng.below(4) as usize
        };
        let days = *rng.pick(DAYS_SUPPLY);
        let mut fills = Vec::with_capacity(n_fills);
        for k in 0..n_fills {
            let on = date
                .checked_add_days(Days::new(u64::from(days) * k as u64))
                .unwrap_or(date);
            let uuid = uuid(&mut rng);
            let quantity = rng.chance(0.85).then_some(days);
            if on <= person.care_to {
                fills.push(Fill {
                    uuid,
                    date: iso(on),
                    days,
                    quantity,
                });
            }
        }
        meds.push(Med {
            uuid: uuid(&mut rng),
            drug,
            title,
            start,
            end,
            instructions,
            quantity,
            frequency,
            fills,
        });
    }
    meds
}

/// The URI prefixes of the medications and fulfillments of a record.
pub(crate) struct Prefixes {
    pub meds: String,
    pub fills: String,
}

impl Prefixes {
    pub(crate) fn of(ctx: &Ctx<'_>) -> Self {
        Prefixes {
            meds: ctx.prefix("medications"),
            fills: ctx.prefix("fulfillments"),
        }
    }
}

/// Add a medication statement with its nodes.
pub(crate) fn add_medication<'a>(w: &mut Writer<'a>, ctx: &'a Ctx<'_>, med: &'a Med, prefixes: &'a Prefixes) {
    w.open_about(Str::Uuid(&prefixes.meds, med.uuid), sp("Medication"));
    w.res("sp:belongsTo", ctx.record());
    w.coded("sp:drugName", &RXNORM_SEMANTIC, (med.drug.rxcui, med.title));
    w.lit("sp:startDate", &med.start);
    if let Some(end) = &med.end {
        w.lit("sp:endDate", end);
    }
    w.lit("sp:instructions", med.instructions);
    if let Some((value, unit)) = med.quantity {
        w.value_and_unit("sp:quantity", value, unit);
    }
    if let Some((value, unit)) = med.frequency {
        w.value_and_unit("sp:frequency", value, unit);
    }
    for fill in &med.fills {
        w.res("sp:fulfillment", Str::Uuid(&prefixes.fills, fill.uuid));
    }
    w.close();
}

/// Add a fulfillment statement of `med` with its nodes.
pub(crate) fn add_fill<'a>(
    w: &mut Writer<'a>,
    ctx: &'a Ctx<'_>,
    fill: &'a Fill,
    med: &'a Med,
    prefixes: &'a Prefixes,
) {
    w.open_about(Str::Uuid(&prefixes.fills, fill.uuid), sp("Fulfillment"));
    w.res("sp:belongsTo", ctx.record());
    w.res("sp:medication", Str::Uuid(&prefixes.meds, med.uuid));
    w.lit("dcterms:date", &fill.date);
    w.num("sp:dispenseDaysSupply", u64::from(fill.days));
    if let Some(q) = fill.quantity {
        w.child("sp:quantityDispensed", sp("ValueAndUnit"));
        w.num("sp:value", u64::from(q));
        w.lit("sp:unit", "{tab}");
        w.close();
    }
    w.close();
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let meds = generate(ctx.seed, ctx.key, &ctx.person());
    let prefixes = Prefixes::of(ctx);
    write_list(
        ctx,
        &RESOURCE,
        &meds,
        &prefixes.meds,
        |g, med| {
            add_medication(g, ctx, med, &prefixes);
            // The neighbouring statements: every Fulfillment it links to.
            for fill in &med.fills {
                add_fill(g, ctx, fill, med, &prefixes);
            }
        },
        out,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sandbox::population::Population;

    #[test]
    fn medications_are_deterministic_and_varied() {
        let pop = Population::generated(3, 600, 0, &Default::default());
        let mut empty = 0;
        let mut partial = 0;
        let mut for_conditions = 0;
        for id in pop.all_ids() {
            let key = crate::sandbox::population::record_key(&id);
            let person = Person::of(3, key);
            let a = generate(3, key, &person);
            let b = generate(3, key, &person);
            assert_eq!(a.len(), b.len());
            assert!(
                a.iter()
                    .zip(&b)
                    .all(|(x, y)| x.uuid == y.uuid && x.start == y.start)
            );
            assert!(a.len() <= 25);
            empty += usize::from(a.is_empty());
            partial += a.iter().filter(|m| m.start.len() == 4).count();
            for m in &a {
                let from = iso(person.care_from);
                assert!(m.start[..10.min(m.start.len())] >= from[..10.min(m.start.len())]);
                for_conditions += usize::from(
                    person
                        .conditions
                        .iter()
                        .any(|o| o.condition.drugs.contains(&m.drug.rxcui)),
                );
            }
        }
        assert!((150..=260).contains(&empty), "{empty} empty records of 600");
        assert!(partial > 0);
        assert!(for_conditions > 1000, "{for_conditions} follow a condition");
    }
}
