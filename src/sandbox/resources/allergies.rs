//! `GET /records/{rid}/allergies/` (models doc section 3): `sp:Allergy`
//! statements merged with `sp:AllergyExclusion` statements (under the
//! unroutable `/allergy_exclusions/`), written in rdflib's **pretty-xml**
//! style like the reference's special-cased view.
//!
//! The reference runs the list query once per type and merges the graphs,
//! so an answer carries up to two `api:ResponseSummary` nodes, each counting
//! its own type. Exclusions have no API call, hence no sort and no filters:
//! the date filters (on `sp:startDate`) and `limit`/`offset` touch allergies
//! only, and the exclusions' summary has just the counts.
//!
//! Most records have "No known allergies"; some have allergies; a few have
//! a narrower exclusion ("No known food allergy") beside allergies of
//! another kind, which gives the two summaries; some have nothing. Dates are
//! mostly bare years.

use super::{Ctx, Resource, Shape};
use crate::sandbox::person::{Uuid, Precision, iso, uuid, written};
use crate::sandbox::population::Mix;
use crate::sandbox::query::{self, Listed};
use crate::sandbox::rdf::{EMPTY_GRAPH, Str, Style, Writer, sp};
use crate::sandbox::vocab::{
    ALLERGEN_KINDS, ALLERGY_CATEGORY, ALLERGY_EXCLUSION, ALLERGY_SEVERITY, AllergenKind, Coded,
    NARROW_EXCLUSIONS, NO_KNOWN_ALLERGIES, REACTIONS, SEVERITIES, SNOMED,
};

pub(crate) static RESOURCE: Resource = Resource {
    name: "allergies",
    shape: Shape::List,
    class: sp("Allergy"),
    code_filter: None,
    sort: Some("sp:startDate"),
    write,
};

const SALT: u64 = 0xA11E;

/// Mostly bare years, as in the sample.
const DATE: Precision = Precision {
    year: 0.7,
    month: 0.0,
    time: 0.0,
};

struct Allergy {
    uuid: Uuid,
    kind: &'static AllergenKind,
    allergen: Coded,
    reaction: Coded,
    severity: Coded,
    start: String,
    end: Option<String>,
}

impl Listed for Allergy {
    fn id(&self) -> Uuid {
        self.uuid
    }
    fn sort_value(&self) -> &str {
        &self.start
    }
}

struct Exclusion {
    uuid: Uuid,
    name: Coded,
    date: String,
}

/// Does a narrower exclusion allow an allergy of this kind?
fn compatible(exclusion: Option<Coded>, kind: &AllergenKind) -> bool {
    let word = match exclusion.map(|e| e.0) {
        Some("409137002") => "drug",
        Some("428607008") => "environmental",
        Some("429625007") => "food",
        _ => return true,
    };
    !kind.category.1.contains(word)
}

fn allergy(rng: &mut Mix, ctx_person: &crate::sandbox::person::Person, exclusion: Option<Coded>) -> Option<Allergy> {
    let kinds: Vec<&AllergenKind> = ALLERGEN_KINDS
        .iter()
        .filter(|k| compatible(exclusion, k))
        .collect();
    let kind = *rng.pick(&kinds);
    let day = ctx_person.care_day(rng);
    let end = rng
        .chance(0.05)
        .then(|| iso(ctx_person.care_day_after(rng, day)));
    Some(Allergy {
        uuid: uuid(rng),
        kind,
        allergen: *rng.pick(kind.allergens),
        reaction: *rng.pick(REACTIONS),
        severity: *rng.pick(SEVERITIES),
        start: written(rng, day, DATE),
        end,
    })
}

fn generate(ctx: &Ctx<'_>) -> (Vec<Allergy>, Vec<Exclusion>) {
    let person = ctx.person();
    let mut rng = ctx.rng(SALT);
    let shape = rng.below(100);
    let (exclusion, allergies) = match shape {
        0..=61 => (Some(NO_KNOWN_ALLERGIES), 0),
        62..=69 => (Some(*rng.pick(NARROW_EXCLUSIONS)), 1 + rng.below(2) as usize),
        70..=89 => (None, 1 + rng.below(4) as usize),
        _ => (None, 0),
    };
    let narrow = exclusion.filter(|e| e.0 != NO_KNOWN_ALLERGIES.0);
    let found = (0..allergies)
        .filter_map(|_| allergy(&mut rng, &person, narrow))
        .collect();
    let exclusions = exclusion
        .map(|name| {
            let day = person.care_day(&mut rng);
            Exclusion {
                uuid: uuid(&mut rng),
                name,
                date: written(
                    &mut rng,
                    day,
                    Precision {
                        year: 0.8,
                        ..Precision::DAY
                    },
                ),
            }
        })
        .into_iter()
        .collect();
    (found, exclusions)
}

fn add_allergy<'a>(w: &mut Writer<'a>, ctx: &'a Ctx<'_>, prefix: &'a str, a: &'a Allergy) {
    w.open_about(Str::Uuid(prefix, a.uuid), sp("Allergy"));
    w.res("sp:belongsTo", ctx.record());
    w.coded("sp:category", &ALLERGY_CATEGORY, a.kind.category);
    w.coded(a.kind.property, &a.kind.system, a.allergen);
    w.coded("sp:allergicReaction", &SNOMED, a.reaction);
    w.coded("sp:severity", &ALLERGY_SEVERITY, a.severity);
    w.lit("sp:startDate", &a.start);
    if let Some(end) = &a.end {
        w.lit("sp:endDate", end);
    }
    w.close();
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let (allergies, exclusions) = generate(ctx);
    let page = query::select(&allergies, ctx.query, RESOURCE.code_filter);
    if page.items.is_empty() && exclusions.is_empty() {
        out.push_str(EMPTY_GRAPH);
        return;
    }
    let prefix = ctx.prefix(RESOURCE.name);
    let ex_prefix = ctx.prefix("allergy_exclusions");
    let mut w = ctx.writer(Style::Pretty, RESOURCE.name);
    if !page.items.is_empty() {
        for &a in &page.items {
            add_allergy(&mut w, ctx, &prefix, a);
        }
        query::summary(&mut w, &page, ctx.query, &ctx.page_url(), &prefix);
    }
    if !exclusions.is_empty() {
        for ex in &exclusions {
            w.open_about(Str::Uuid(&ex_prefix, ex.uuid), sp("AllergyExclusion"));
            w.res("sp:belongsTo", ctx.record());
            w.coded("sp:allergyExclusionName", &ALLERGY_EXCLUSION, ex.name);
            w.lit("dcterms:date", &ex.date);
            w.close();
        }
        query::counts(&mut w, exclusions.len(), exclusions.len());
    }
    w.finish(out);
}
