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
use crate::sandbox::rdf::{Str, Style, Writer, sp, vcard};
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

fn tel(w: &mut Writer<'_>, number: String, kinds: &[&'static str]) {
    w.child("vcard:tel", vcard("Tel"));
    for kind in kinds {
        w.ty(vcard(kind));
    }
    w.lit("rdf:value", number);
    w.close();
}

fn address(w: &mut Writer<'_>, rng: &mut Mix) {
    let (city, region, zip) = *rng.pick(TOWNS);
    w.child("vcard:adr", vcard("Address"));
    w.ty(vcard("Home"));
    w.ty(vcard("Pref"));
    w.lit(
        "vcard:street-address",
        format!("{} {}", rng.range(1, 999), rng.pick(STREETS)),
    );
    if rng.chance(0.45) {
        w.lit("vcard:extended-address", format!("Apt {}", rng.range(1, 40)));
    }
    w.lit("vcard:locality", city);
    w.lit("vcard:region", region);
    let mut postal = zip.to_owned();
    push_num(&mut postal, rng.below(100) as u32, 2);
    w.lit("vcard:postal-code", postal);
    w.lit("vcard:country", "USA");
    w.close();
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let person = ctx.person();
    let mut rng = ctx.rng(SALT);
    let mut w = ctx.writer(Style::Flat, RESOURCE.name);
    w.open_about(Str::Pair(&ctx.record_uri, "/demographics"), sp("Demographics"));
    w.res("sp:belongsTo", ctx.record());
    let given = *rng.pick(if person.female { FEMALE_NAMES } else { MALE_NAMES });
    let family = *rng.pick(FAMILY_NAMES);
    // Like the sample's last patients, some have no address, e-mail or initial.
    let sparse = rng.chance(0.15);
    w.child("vcard:n", vcard("Name"));
    w.lit("vcard:given-name", given);
    if !sparse {
        let initial = (b'A' + rng.below(26) as u8) as char;
        w.lit("vcard:additional-name", initial.to_string());
    }
    w.lit("vcard:family-name", family);
    w.close();
    w.lit("foaf:gender", if person.female { "female" } else { "male" });
    w.lit("vcard:bday", iso(person.birth));
    if !sparse {
        address(&mut w, &mut rng);
        w.lit(
            "vcard:email",
            format!(
                "{}.{}@example.com",
                given.to_lowercase(),
                family.to_lowercase().replace('\'', "")
            ),
        );
    }
    let home = rng.chance(0.45);
    if home {
        tel(&mut w, phone(&mut rng), &["Home", "Pref"]);
    }
    if rng.chance(0.4) {
        let kinds: &[&str] = if home { &["Cell"] } else { &["Cell", "Pref"] };
        tel(&mut w, phone(&mut rng), kinds);
    }
    if rng.chance(0.5) {
        w.value_and_unit(
            "sp:gestationalAgeAtBirth",
            decimal(24.0 + rng.unit() * 18.0, 1),
            "wk",
        );
    }
    w.child("sp:medicalRecordNumber", sp("Code"));
    w.lit("dcterms:title", format!("My Hospital Record {}", ctx.record_id));
    w.lit("dcterms:identifier", ctx.record_id);
    w.lit("sp:system", "My Hospital Record");
    w.close();
    w.close();
    query::counts(&mut w, 1, 1);
    w.finish(out);
}
