//! `GET /records/{rid}/vital_sign_sets/` (models doc section 5): one
//! `sp:VitalSignSet` per visit, with its `sp:Encounter` statement as a
//! neighbour (under `/encounters/`); sort `dcterms:date`, filter
//! `encounter_type` (on the encounter's type code).
//!
//! Measurements follow the person's age and sex (height, weight, BMI, head
//! circumference for small children); each is an `sp:VitalSign` node typed
//! only that. A set holds 0 to 9 measurements; some lack the vitals that
//! the sample's later patients lack; a few carry blood pressure position,
//! site and method codes.

use chrono::NaiveDate;

use super::{Ctx, Resource, Shape, write_list};
use crate::sandbox::person::{Uuid, Person, Precision, decimal, uuid, written};
use crate::sandbox::population::Mix;
use crate::sandbox::query::Listed;
use crate::sandbox::rdf::{Str, Writer, sp};
use crate::sandbox::vocab::{
    BMI, BP_METHOD, BP_METHODS, BP_POSITION, BP_POSITIONS, BP_SITE, BP_SITES, DIASTOLIC,
    ENCOUNTER_TYPE, ENCOUNTER_TYPES, HEAD_CIRCUMFERENCE, HEART_RATE, HEIGHT, OXYGEN_SATURATION,
    RESPIRATORY_RATE, SYSTOLIC, TEMPERATURE, VITAL_NAME, Vital, WEIGHT,
};

pub(crate) static RESOURCE: Resource = Resource {
    name: "vital_sign_sets",
    shape: Shape::List,
    class: sp("VitalSignSet"),
    code_filter: Some("encounter_type"),
    sort: Some("dcterms:date"),
    write,
};

const SALT: u64 = 0x717A1;

const DATE: Precision = Precision {
    year: 0.0,
    month: 0.0,
    time: 0.03,
};

/// Blood pressure, with its optional codes.
struct Pressure {
    systolic: String,
    diastolic: String,
    position: Option<(&'static str, &'static str)>,
    site: Option<(&'static str, &'static str)>,
    method: Option<(&'static str, &'static str)>,
}

struct VitalSet {
    uuid: Uuid,
    encounter: Uuid,
    date: String,
    encounter_type: (&'static str, &'static str),
    measurements: Vec<(&'static Vital, String)>,
    pressure: Option<Pressure>,
}

impl Listed for VitalSet {
    fn id(&self) -> Uuid {
        self.uuid
    }
    fn sort_value(&self) -> &str {
        &self.date
    }
    fn filter_code(&self) -> Option<&str> {
        Some(self.encounter_type.0)
    }
}

fn set_count(rng: &mut Mix) -> usize {
    match rng.below(100) {
        0..=24 => 0,
        25..=89 => 1 + rng.below(12) as usize,
        _ => 15 + rng.below(26) as usize,
    }
}

/// Height (cm) by age and sex, roughly.
fn height_cm(person: &Person, age: u32, rng: &mut Mix) -> f64 {
    let adult = if person.female { 163.0 } else { 177.0 };
    let base = match age {
        0 => 55.0,
        1..=17 => 75.0 + (adult - 75.0) * f64::from(age) / 18.0,
        _ => adult,
    };
    base + (rng.unit() - 0.5) * 12.0
}

fn measurements(person: &Person, day: NaiveDate, rng: &mut Mix) -> (Vec<(&'static Vital, String)>, Option<Pressure>) {
    let age = person.age_at(day);
    let mut out = Vec::with_capacity(9);
    if rng.chance(0.02) {
        return (out, None);
    }
    let height = height_cm(person, age, rng);
    let bmi = if age < 2 { 16.0 } else { 18.0 + rng.unit() * 16.0 };
    let weight = bmi * (height / 100.0) * (height / 100.0);
    if rng.chance(0.97) {
        out.push((&HEIGHT, decimal(height, 1)));
    }
    if rng.chance(0.99) {
        out.push((&WEIGHT, decimal(weight, 2)));
    }
    if rng.chance(0.95) {
        out.push((&BMI, decimal(bmi, 1)));
    }
    if age < 3 {
        out.push((&HEAD_CIRCUMFERENCE, decimal(34.0 + f64::from(age) * 6.0 + rng.unit() * 3.0, 1)));
    }
    // Some sets lack the bedside vitals, as the sample's later patients do.
    if rng.chance(0.9) {
        out.push((&TEMPERATURE, decimal(36.1 + rng.unit() * 1.6, 5)));
        out.push((&HEART_RATE, (55 + rng.below(50)).to_string()));
        out.push((&RESPIRATORY_RATE, (12 + rng.below(10)).to_string()));
        out.push((&OXYGEN_SATURATION, (93 + rng.below(8)).to_string()));
    }
    let pressure = (age >= 3 && rng.chance(0.93)).then(|| {
        let systolic = 95 + rng.below(70);
        let coded = rng.chance(0.1);
        Pressure {
            systolic: systolic.to_string(),
            diastolic: (systolic * 6 / 10 + rng.below(15)).to_string(),
            position: coded.then(|| *rng.pick(BP_POSITIONS)),
            site: coded.then(|| *rng.pick(BP_SITES)),
            method: (coded && rng.chance(0.7)).then(|| *rng.pick(BP_METHODS)),
        }
    });
    (out, pressure)
}

fn generate(ctx: &Ctx<'_>) -> Vec<VitalSet> {
    let person = ctx.person();
    let mut rng = ctx.rng(SALT);
    (0..set_count(&mut rng))
        .map(|_| {
            let day = person.care_day(&mut rng);
            let encounter_type = if rng.chance(0.85) {
                ENCOUNTER_TYPES[0]
            } else {
                *rng.pick(ENCOUNTER_TYPES)
            };
            let (measurements, pressure) = measurements(&person, day, &mut rng);
            VitalSet {
                uuid: uuid(&mut rng),
                encounter: uuid(&mut rng),
                date: written(&mut rng, day, DATE),
                encounter_type,
                measurements,
                pressure,
            }
        })
        .collect()
}

/// An `sp:VitalSign` node: value, unit, name.
fn vital_sign<'a>(w: &mut Writer<'a>, vital: &'static Vital, value: &'a str) {
    w.child(vital.property, sp("VitalSign"));
    w.lit("sp:value", value);
    w.lit("sp:unit", vital.unit);
    w.coded("sp:vitalName", &VITAL_NAME, (vital.loinc, vital.title));
    w.close();
}

fn add_set<'a>(
    w: &mut Writer<'a>,
    ctx: &'a Ctx<'_>,
    prefix: &'a str,
    encounters: &'a str,
    set: &'a VitalSet,
) {
    let encounter_uri = Str::Uuid(encounters, set.encounter);
    w.open_about(Str::Uuid(prefix, set.uuid), sp("VitalSignSet"));
    w.res("sp:belongsTo", ctx.record());
    w.lit("dcterms:date", &set.date);
    w.res("sp:encounter", encounter_uri.clone());
    for (vital, value) in &set.measurements {
        vital_sign(w, vital, value);
    }
    if let Some(p) = &set.pressure {
        w.child("sp:bloodPressure", sp("BloodPressure"));
        vital_sign(w, &SYSTOLIC, &p.systolic);
        vital_sign(w, &DIASTOLIC, &p.diastolic);
        if let Some(code) = p.position {
            w.coded("sp:bodyPosition", &BP_POSITION, code);
        }
        if let Some(code) = p.site {
            w.coded("sp:bodySite", &BP_SITE, code);
        }
        if let Some(code) = p.method {
            w.coded("sp:method", &BP_METHOD, code);
        }
        w.close();
    }
    w.close();
    // The neighbouring statement: the set's encounter.
    w.open_about(encounter_uri, sp("Encounter"));
    w.res("sp:belongsTo", ctx.record());
    w.coded("sp:encounterType", &ENCOUNTER_TYPE, set.encounter_type);
    w.lit("sp:startDate", &set.date);
    w.lit("sp:endDate", &set.date);
    w.close();
}

fn write(ctx: &Ctx<'_>, out: &mut String) {
    let sets = generate(ctx);
    let prefix = ctx.prefix(RESOURCE.name);
    let encounters = ctx.prefix("encounters");
    write_list(ctx, &RESOURCE, &sets, &prefix, |w, set| add_set(w, ctx, &prefix, &encounters, set), out);
}
