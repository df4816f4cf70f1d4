//! `GET /records/{rid}/fulfillments/`: the dispensing events of the
//! person's medications, each with its `sp:Medication` (the forward link's
//! neighbour, with its drug-name nodes); sort `dcterms:date`, no code
//! filter. The same generation as the medications answer, so both agree.

use std::collections::HashSet;

use super::medications::{Fill, Med, Prefixes, add_fill, add_medication, generate};
use super::{Ctx, Resource, Shape, write_list};
use crate::sandbox::person::Uuid;
use crate::sandbox::query::Listed;
use crate::sandbox::rdf::sp;

pub(crate) static RESOURCE: Resource = Resource {
    name: "fulfillments",
    shape: Shape::List,
    class: sp("Fulfillment"),
    code_filter: None,
    sort: Some("dcterms:date"),
    write,
};

/// A fulfillment and the medication it belongs to.
struct Dispensed<'a> {
    fill: &'a Fill,
    med: &'a Med,
}

impl Listed for Dispensed<'_> {
    fn id(&self) -> Uuid {
        self.fill.uuid
    }
    fn sort_value(&self) -> &str {
        &self.fill.date
    }
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let meds = generate(ctx.seed, ctx.key, &ctx.person());
    let items: Vec<Dispensed<'_>> = meds
        .iter()
        .flat_map(|med| med.fills.iter().map(move |fill| Dispensed { fill, med }))
        .collect();
    let prefixes = Prefixes::of(ctx);
    let mut neighbours: HashSet<Uuid> = HashSet::new();
    write_list(
        ctx,
        &RESOURCE,
        &items,
        &prefixes.fills,
        |g, d| {
            add_fill(g, ctx, d.fill, d.med, &prefixes);
            if neighbours.insert(d.med.uuid) {
                add_medication(g, ctx, d.med, &prefixes);
            }
        },
        out,
    );
}
