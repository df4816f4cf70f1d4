//! `GET /records/{rid}/demographics` (models doc section 8), the single-item
//! view: **no trailing slash**, one `sp:Demographics` whose URI is exactly
//! `{api_base}/records/{rid}/demographics`, a ResponseSummary counting 1.
//! Filters do not apply.
//!
//! The person's sex and birth date are the ones every other resource of the
//! record follows. Like the sample: a `v:Name` (with an initial for most),
//! `foaf:gender` `male`/`female`, `v:bday`, one home address (typed
//! Address, Home and Pref; the country as `v:country`) for most, home and
//! cell phones, an e-mail, a gestational age for about half, and a
//! blank-node MRN Code whose identifier is the record id.

use super::{Ctx, Resource, Shape};
use crate::sandbox::person::{decimal, iso, push_num};
use crate::sandbox::population::Mix;
use crate::sandbox::query;
use crate::sandbox::rdf::{Graph, NodeRef, sp, vcard};
use crate::sandbox::vocab::{FAMILY_NAMES, FEMALE_NAMES, MALE_NAMES, STREETS, TOWNS};

pub(crate) static RESOURCE: Resource = Resource {
    name: "demographics",
    shape: Shape::Single,
    class: sp("Demographics"),
    code_filter: None,
    sort: None,
    write,
};

const SALT: u64 = 0xDE30;

fn phone(rng: &mut Mix) -> String {
    let mut s = String::from("800-");
    push_num(&mut s, rng.range(200, 999) as u32, 3);
    s.push('-');
    push_num(&mut s, rng.below(10_000) as u32, 4);
    s
}

fn tel(g: &mut Graph, demo: NodeRef, number: String, kinds: &[&'static str]) {
    let t = g.blank(Some(vcard("Tel")));
    for kind in kinds {
        g.add_type(t, vcard(kind));
    }
    g.lit(t, "rdf:value", number);
    g.link(demo, "vcard:tel", t);
}

fn address(g: &mut Graph, demo: NodeRef, rng: &mut Mix) {
    let (city, region, zip) = *rng.pick(TOWNS);
    let adr = g.blank(Some(vcard("Address")));
    g.add_type(adr, vcard("Home"));
    g.add_type(adr, vcard("Pref"));
    g.lit(adr, "vcard:street-address", format!("{} {}", rng.range(1, 999), rng.pick(STREETS)));
    if rng.chance(0.45) {
        g.lit(adr, "vcard:extended-address", format!("Apt {}", rng.range(1, 40)));
    }
    g.lit(adr, "vcard:locality", city);
    g.lit(adr, "vcard:region", region);
    let mut postal = zip.to_owned();
    push_num(&mut postal, rng.below(100) as u32, 2);
    g.lit(adr, "vcard:postal-code", postal);
    g.lit(adr, "vcard:country", "USA");
    g.link(demo, "vcard:adr", adr);
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let person = ctx.person();
    let mut rng = ctx.rng(SALT);
    let mut g = ctx.graph(RESOURCE.name);
    let demo = g.uri_node(format!("{}/demographics", ctx.record_uri), sp("Demographics"));
    g.res(demo, "sp:belongsTo", &ctx.record_uri);
    let given = *rng.pick(if person.female { FEMALE_NAMES } else { MALE_NAMES });
    let family = *rng.pick(FAMILY_NAMES);
    // Like the sample's last patients, some have no address, e-mail or initial.
    let sparse = rng.chance(0.15);
    let n = g.blank(Some(vcard("Name")));
    g.lit(n, "vcard:given-name", given);
    if !sparse {
        let initial = (b'A' + rng.below(26) as u8) as char;
        g.lit(n, "vcard:additional-name", initial.to_string());
    }
    g.lit(n, "vcard:family-name", family);
    g.link(demo, "vcard:n", n);
    g.lit(demo, "foaf:gender", if person.female { "female" } else { "male" });
    g.lit(demo, "vcard:bday", iso(person.birth));
    if !sparse {
        address(&mut g, demo, &mut rng);
        g.lit(
            demo,
            "vcard:email",
            format!("{}.{}@example.com", given.to_lowercase(), family.to_lowercase().replace('\'', "")),
        );
    }
    let home = rng.chance(0.45);
    if home {
        tel(&mut g, demo, phone(&mut rng), &["Home", "Pref"]);
    }
    if rng.chance(0.4) {
        tel(&mut g, demo, phone(&mut rng), if home { &["Cell"] } else { &["Cell", "Pref"] });
    }
    if rng.chance(0.5) {
        let weeks = g.value_and_unit(decimal(24.0 + rng.unit() * 18.0, 1), "wk");
        g.link(demo, "sp:gestationalAgeAtBirth", weeks);
    }
    let mrn = g.blank(Some(sp("Code")));
    g.lit(mrn, "dcterms:title", format!("My Hospital Record {}", ctx.record_id));
    g.lit(mrn, "dcterms:identifier", ctx.record_id.to_owned());
    g.lit(mrn, "sp:system", "My Hospital Record");
    g.link(demo, "sp:medicalRecordNumber", mrn);
    query::counts(&mut g, 1, 1);
    g.write_flat(out);
}
