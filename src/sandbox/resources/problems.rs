//! `GET /records/{rid}/problems/` (models doc section 2): one `sp:Problem`
//! per condition of the person; sort `sp:startDate`, filter `snomed`.
//! Acute problems mostly carry an end date; some start dates are partial;
//! a few problems have a status or notes (never in the sample, allowed by
//! the ontology).

use super::{Ctx, Resource, Shape, write_list};
use crate::sandbox::person::{Uuid, Precision, iso, uuid, written};
use crate::sandbox::query::Listed;
use crate::sandbox::rdf::{Str, sp};
use crate::sandbox::vocab::{PROBLEM_STATUS, PROBLEM_STATUSES, SNOMED};

pub(crate) static RESOURCE: Resource = Resource {
    name: "problems",
    shape: Shape::List,
    class: sp("Problem"),
    code_filter: Some("snomed"),
    sort: Some("sp:startDate"),
    write,
};

const SALT: u64 = 0x9B1E;

const START: Precision = Precision {
    year: 0.04,
    month: 0.02,
    time: 0.0,
};

struct Problem {
    uuid: Uuid,
    snomed: &'static str,
    title: &'static str,
    start: String,
    end: Option<String>,
    status: Option<(&'static str, &'static str)>,
    notes: Option<&'static str>,
}

impl Listed for Problem {
    fn id(&self) -> Uuid {
        self.uuid
    }
    fn sort_value(&self) -> &str {
        &self.start
    }
    fn filter_code(&self) -> Option<&str> {
        Some(self.snomed)
    }
}

static NOTES: &[&str] = &["stable", "per patient report", "follow up in 3 months, \"watchful waiting\""];

fn generate(ctx: &Ctx<'_>) -> Vec<Problem> {
    let person = ctx.person();
    let mut rng = ctx.rng(SALT);
    person
        .conditions
        .iter()
        .map(|o| {
            let status = rng.chance(0.08).then(|| {
                if o.end.is_some() {
                    PROBLEM_STATUSES[2]
                } else {
                    PROBLEM_STATUSES[0]
                }
            });
            Problem {
                uuid: uuid(&mut rng),
                snomed: o.condition.snomed,
                title: o.title,
                start: written(&mut rng, o.start, START),
                end: o.end.map(iso),
                status,
                notes: rng.chance(0.04).then(|| *rng.pick(NOTES)),
            }
        })
        .collect()
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let problems = generate(ctx);
    let prefix = ctx.prefix(RESOURCE.name);
    write_list(
        ctx,
        &RESOURCE,
        &problems,
        &prefix,
        |w, p| {
            w.open_about(Str::Uuid(&prefix, p.uuid), sp("Problem"));
            w.res("sp:belongsTo", ctx.record());
            w.coded("sp:problemName", &SNOMED, (p.snomed, p.title));
            w.lit("sp:startDate", &p.start);
            if let Some(end) = &p.end {
                w.lit("sp:endDate", end);
            }
            if let Some(status) = p.status {
                w.coded("sp:problemStatus", &PROBLEM_STATUS, status);
            }
            if let Some(notes) = p.notes {
                w.lit("sp:notes", notes);
            }
            w.close();
        },
        out,
    );
}
