//! `GET /records/{rid}/immunizations/` (models doc section 6): vaccines
//! given (or not) at ages that fit them; sort `dcterms:date`, no code
//! filter. A product has 0 to 2 classes; a vaccine not administered carries
//! a refusal reason. CVX ids keep their leading zeros (`03`).

use super::{Ctx, Resource, Shape, write_list};
use crate::sandbox::person::{Uuid, add_years, iso, random_date, uuid};
use crate::sandbox::query::Listed;
use crate::sandbox::rdf::{Str, sp};
use crate::sandbox::vocab::{
    ADMIN_STATUS, CVX, Coded, DOSE_GIVEN, NOT_ADMINISTERED, PARTIAL_DOSE, REFUSAL_REASON,
    REFUSAL_REASONS, VACCINE_GROUP, VACCINES, Vaccine,
};

pub(crate) static RESOURCE: Resource = Resource {
    name: "immunizations",
    shape: Shape::List,
    class: sp("Immunization"),
    code_filter: None,
    sort: Some("dcterms:date"),
    write,
};

const SALT: u64 = 0x1A1A;

struct Shot {
    uuid: Uuid,
    vaccine: &'static Vaccine,
    date: String,
    status: Coded,
    refusal: Option<Coded>,
}

impl Listed for Shot {
    fn id(&self) -> Uuid {
        self.uuid
    }
    fn sort_value(&self) -> &str {
        &self.date
    }
}

fn generate(ctx: &Ctx<'_>) -> Vec<Shot> {
    let person = ctx.person();
    let mut rng = ctx.rng(SALT);
    let child = person.age_at(person.care_to) < 18;
    let count = if rng.chance(if child { 0.35 } else { 0.6 }) {
        0
    } else {
        1 + rng.below(if child { 12 } else { 5 }) as usize
    };
    let mut shots = Vec::with_capacity(count);
    for _ in 0..count * 3 {
        if shots.len() >= count {
            break;
        }
        let vaccine = rng.pick(VACCINES);
        let from = add_years(person.birth, vaccine.min_age).max(person.care_from);
        let to = add_years(person.birth, vaccine.max_age + 1).min(person.care_to);
        if from > to {
            continue;
        }
        let day = random_date(&mut rng, from, to);
        let (status, refusal) = match rng.below(100) {
            0..=87 => (DOSE_GIVEN, None),
            88..=97 => (NOT_ADMINISTERED, Some(*rng.pick(REFUSAL_REASONS))),
            _ => (PARTIAL_DOSE, None),
        };
        shots.push(Shot {
            uuid: uuid(&mut rng),
            vaccine,
            date: iso(day),
            status,
            refusal,
        });
    }
    shots
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let shots = generate(ctx);
    let prefix = ctx.prefix(RESOURCE.name);
    write_list(
        ctx,
        &RESOURCE,
        &shots,
        &prefix,
        |w, shot| {
            w.open_about(Str::Uuid(&prefix, shot.uuid), sp("Immunization"));
            w.res("sp:belongsTo", ctx.record());
            w.lit("dcterms:date", &shot.date);
            w.coded("sp:administrationStatus", &ADMIN_STATUS, shot.status);
            if let Some(reason) = shot.refusal {
                w.coded("sp:refusalReason", &REFUSAL_REASON, reason);
            }
            w.coded("sp:productName", &CVX, (shot.vaccine.cvx, shot.vaccine.title));
            for &group in shot.vaccine.groups {
                w.coded("sp:productClass", &VACCINE_GROUP, group);
            }
            w.close();
        },
        out,
    );
}
