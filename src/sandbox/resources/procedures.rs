//! `GET /records/{rid}/procedures/` (models doc section 7): procedures that
//! follow the person's conditions (retinal screening for diabetes, a bypass
//! for coronary disease) or routine ones; sort `dcterms:date`, filter
//! `snomed`. `sp:notes` is always written and often the empty string, as
//! the generator does; the name's code is typed `spcode:SNOMED`.

use super::{Ctx, Resource, Shape, write_list};
use crate::sandbox::person::{Uuid, Precision, uuid, written};
use crate::sandbox::query::Listed;
use crate::sandbox::rdf::{Str, sp};
use crate::sandbox::vocab::{
    Coded, PROCEDURE_NOTES, PROCEDURE_STATUS, PROCEDURE_STATUSES, PROCEDURES, ROUTINE_PROCEDURES,
    SNOMED,
};

pub(crate) static RESOURCE: Resource = Resource {
    name: "procedures",
    shape: Shape::List,
    class: sp("Procedure"),
    code_filter: Some("snomed"),
    sort: Some("dcterms:date"),
    write,
};

const SALT: u64 = 0x960C;

const DATE: Precision = Precision {
    year: 0.05,
    month: 0.0,
    time: 0.0,
};

struct Procedure {
    uuid: Uuid,
    code: Coded,
    date: String,
    notes: &'static str,
    status: Option<Coded>,
}

impl Listed for Procedure {
    fn id(&self) -> Uuid {
        self.uuid
    }
    fn sort_value(&self) -> &str {
        &self.date
    }
    fn filter_code(&self) -> Option<&str> {
        Some(self.code.0)
    }
}

fn coded(snomed: &str) -> Option<Coded> {
    PROCEDURES.iter().copied().find(|(code, _)| *code == snomed)
}

fn generate(ctx: &Ctx<'_>) -> Vec<Procedure> {
    let person = ctx.person();
    let mut rng = ctx.rng(SALT);
    let linked: Vec<(&str, chrono::NaiveDate)> = person
        .conditions
        .iter()
        .flat_map(|o| o.condition.procedures.iter().map(|&p| (p, o.start)))
        .collect();
    let count = if rng.chance(if linked.is_empty() { 0.8 } else { 0.3 }) {
        0
    } else {
        1 + rng.below(8) as usize
    };
    (0..count)
        .filter_map(|_| {
            let (snomed, from) = if !linked.is_empty() && rng.chance(0.7) {
                *rng.pick(&linked)
            } else {
                (*rng.pick(ROUTINE_PROCEDURES), person.care_from)
            };
            let day = person.care_day_after(&mut rng, from);
            let notes = if rng.chance(0.55) {
                ""
            } else {
                rng.pick(PROCEDURE_NOTES)
            };
            Some(Procedure {
                uuid: uuid(&mut rng),
                code: coded(snomed)?,
                date: written(&mut rng, day, DATE),
                notes,
                status: rng.chance(0.1).then(|| *rng.pick(PROCEDURE_STATUSES)),
            })
        })
        .collect()
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let procedures = generate(ctx);
    let prefix = ctx.prefix(RESOURCE.name);
    write_list(
        ctx,
        &RESOURCE,
        &procedures,
        &prefix,
        |w, p| {
            w.open_about(Str::Uuid(&prefix, p.uuid), sp("Procedure"));
            w.res("sp:belongsTo", ctx.record());
            w.lit("dcterms:date", &p.date);
            w.coded("sp:procedureName", &SNOMED, p.code);
            if let Some(status) = p.status {
                w.coded("sp:procedureStatus", &PROCEDURE_STATUS, status);
            }
            w.lit("sp:notes", p.notes);
            w.close();
        },
        out,
    );
}
