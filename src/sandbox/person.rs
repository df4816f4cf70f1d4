//! One synthetic person per record: sex, birth date, the years of care that
//! every dated statement falls in, and the conditions that the problems,
//! medications, lab results and procedures of the record follow. All of it
//! comes from (seed, record key), so any resource of any record can be
//! generated on its own, in any order, without storing anything.

use chrono::{Datelike, Days, NaiveDate};

use super::population::Mix;
use super::vocab::{CONDITIONS, Condition};

const PERSON_SALT: u64 = 0x9E2507;

/// The last day any synthetic statement may carry.
fn care_end() -> NaiveDate {
    NaiveDate::from_ymd_opt(2013, 12, 31).unwrap_or_default()
}

fn care_floor() -> NaiveDate {
    NaiveDate::from_ymd_opt(1990, 1, 1).unwrap_or_default()
}

/// A condition of the person, with when it started (and ended).
pub(crate) struct Onset {
    pub condition: &'static Condition,
    /// The name the record uses for it.
    pub title: &'static str,
    pub start: NaiveDate,
    pub end: Option<NaiveDate>,
}

/// The facts every resource of a record agrees on.
pub(crate) struct Person {
    pub female: bool,
    pub birth: NaiveDate,
    /// The first day of care (no statement is dated earlier).
    pub care_from: NaiveDate,
    /// The last day of care.
    pub care_to: NaiveDate,
    pub conditions: Vec<Onset>,
}

impl Person {
    /// The person of a record.
    pub(crate) fn of(seed: u64, key: u64) -> Person {
        let mut rng = Mix::keyed(seed, PERSON_SALT, key);
        let female = rng.chance(0.5);
        let year = rng.range(1925, 2012) as i32;
        let birth =
            NaiveDate::from_ymd_opt(year, 1 + rng.below(12) as u32, 1 + rng.below(28) as u32)
                .unwrap_or_default();
        let care_to = care_end();
        let care_from = birth
            .checked_add_days(Days::new(30))
            .unwrap_or(birth)
            .max(care_floor());
        let mut person = Person {
            female,
            birth,
            care_from,
            care_to,
            conditions: Vec::new(),
        };
        let age = person.age_at(care_to);
        let count = if rng.chance(0.1) {
            0
        } else {
            1 + rng.below(u64::from((2 + age / 6).min(16))) as usize
        };
        for _ in 0..count * 2 {
            if person.conditions.len() >= count {
                break;
            }
            let condition = rng.pick(CONDITIONS);
            if person
                .conditions
                .iter()
                .any(|o| o.condition.snomed == condition.snomed)
            {
                continue;
            }
            let earliest = add_years(birth, condition.min_age).max(care_from);
            if earliest > care_to {
                continue;
            }
            let start = random_date(&mut rng, earliest, care_to);
            let end = (!condition.chronic && rng.chance(0.7))
                .then(|| start.checked_add_days(Days::new(rng.range(5, 40))))
                .flatten()
                .map(|d| d.min(care_to));
            let title = if !condition.variants.is_empty() && rng.chance(0.2) {
                rng.pick(condition.variants)
            } else {
                condition.name
            };
            person.conditions.push(Onset {
                condition,
                title,
                start,
                end,
            });
        }
        person
    }

    /// Whole years of age on a day.
    pub(crate) fn age_at(&self, day: NaiveDate) -> u32 {
        let mut years = day.year() - self.birth.year();
        if (day.month(), day.day()) < (self.birth.month(), self.birth.day()) {
            years -= 1;
        }
        years.max(0) as u32
    }

    /// A day of care, uniformly.
    pub(crate) fn care_day(&self, rng: &mut Mix) -> NaiveDate {
        random_date(rng, self.care_from, self.care_to)
    }

    /// A day of care on or after `from`.
    pub(crate) fn care_day_after(&self, rng: &mut Mix, from: NaiveDate) -> NaiveDate {
        random_date(
            rng,
            from.max(self.care_from).min(self.care_to),
            self.care_to,
        )
    }
}

/// `years` after a day (the 28th for a 29 February that does not exist).
pub(crate) fn add_years(day: NaiveDate, years: u32) -> NaiveDate {
    let year = day.year() + years as i32;
    NaiveDate::from_ymd_opt(year, day.month(), day.day())
        .or_else(|| NaiveDate::from_ymd_opt(year, day.month(), 28))
        .unwrap_or(day)
}

/// A day in `from..=to`, uniformly.
pub(crate) fn random_date(rng: &mut Mix, from: NaiveDate, to: NaiveDate) -> NaiveDate {
    let span = (to - from).num_days().max(0) as u64;
    from.checked_add_days(Days::new(rng.below(span + 1)))
        .unwrap_or(from)
}

/// Append `value` in decimal, zero-padded to `width`.
pub(crate) fn push_num(out: &mut String, value: u32, width: usize) {
    let mut buf = [b'0'; 10];
    let mut v = value;
    let mut len = 0;
    while v > 0 || len == 0 {
        buf[9 - len] = b'0' + (v % 10) as u8;
        v /= 10;
        len += 1;
    }
    for _ in len..width {
        out.push('0');
    }
    out.extend(buf[10 - len..].iter().map(|&b| b as char));
}

/// `YYYY-MM-DD`.
pub(crate) fn iso(d: NaiveDate) -> String {
    let mut out = String::with_capacity(20);
    push_num(&mut out, d.year().unsigned_abs(), 4);
    out.push('-');
    push_num(&mut out, d.month(), 2);
    out.push('-');
    push_num(&mut out, d.day(), 2);
    out
}

/// How precise a written date is.
#[derive(Clone, Copy)]
pub(crate) struct Precision {
    /// Share written as `YYYY`.
    pub year: f64,
    /// Share written as `YYYY-MM`.
    pub month: f64,
    /// Share written as `YYYY-MM-DDTHH:00:00Z`.
    pub time: f64,
}

impl Precision {
    /// Always `YYYY-MM-DD`.
    pub(crate) const DAY: Precision = Precision {
        year: 0.0,
        month: 0.0,
        time: 0.0,
    };
}

/// A day written with the precision drawn from `p` (the rest: `YYYY-MM-DD`).
pub(crate) fn written(rng: &mut Mix, d: NaiveDate, p: Precision) -> String {
    let r = rng.unit();
    let mut s = iso(d);
    if r < p.year {
        s.truncate(4);
    } else if r < p.year + p.month {
        s.truncate(7);
    } else if r < p.year + p.month + p.time {
        s.push('T');
        push_num(&mut s, rng.below(24) as u32, 2);
        s.push_str(":00:00Z");
    }
    s
}

/// A statement's UUID (version-4 shaped), kept as a number and written
/// when the statement is: numeric order is the order of the written form.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct Uuid(u128);

impl Uuid {
    /// The 36 characters `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
    pub(crate) fn push_to(self, out: &mut String) {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut buf = [b'-'; 36];
        let mut digit = 0;
        for (i, slot) in buf.iter_mut().enumerate() {
            if matches!(i, 8 | 13 | 18 | 23) {
                continue;
            }
            *slot = HEX[((self.0 >> (124 - digit * 4)) & 15) as usize];
            digit += 1;
        }
        // Hex digits and dashes are ASCII.
        out.push_str(std::str::from_utf8(&buf).unwrap_or_default());
    }
}

/// A new version-4 shaped UUID.
pub(crate) fn uuid(rng: &mut Mix) -> Uuid {
    let a = rng.next_u64();
    let b = rng.next_u64();
    let a = (a & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000;
    let b = (b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000;
    Uuid(u128::from(a) << 64 | u128::from(b))
}

/// A decimal string with `decimals` places (no exponent, no `-0`).
pub(crate) fn decimal(value: f64, decimals: usize) -> String {
    let s = format!("{value:.decimals$}");
    if s.starts_with('-') && s[1..].bytes().all(|b| b == b'0' || b == b'.') {
        s[1..].to_owned()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hand_formatting() {
        let mut s = String::new();
        push_num(&mut s, 7, 2);
        push_num(&mut s, 0, 1);
        push_num(&mut s, 2010, 4);
        assert_eq!(s, "0702010");
        let mut u = String::new();
        Uuid(0x0123_4567_89ab_4def_8123_4567_89ab_cdef).push_to(&mut u);
        assert_eq!(u, "01234567-89ab-4def-8123-456789abcdef");
        let mut u = String::new();
        uuid(&mut Mix::keyed(1, 2, 3)).push_to(&mut u);
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(u.split('-').map(str::len).eq([8, 4, 4, 4, 12]));
        // Numeric order is the order of the written form.
        let mut ids: Vec<Uuid> = (0..50).map(|k| uuid(&mut Mix::keyed(1, 2, k))).collect();
        ids.sort();
        let written: Vec<String> = ids
            .iter()
            .map(|u| {
                let mut s = String::new();
                u.push_to(&mut s);
                s
            })
            .collect();
        assert!(written.windows(2).all(|w| w[0] < w[1]));
        assert_eq!(decimal(-0.0001, 2), "0.00");
        assert_eq!(decimal(36.61111, 1), "36.6");
    }

    #[test]
    fn people_are_deterministic_and_live_in_their_years() {
        let mut none = 0;
        for key in 0..2000u64 {
            let p = Person::of(9, key);
            let q = Person::of(9, key);
            assert_eq!(
                (p.birth, p.female, p.conditions.len()),
                (q.birth, q.female, q.conditions.len())
            );
            assert!(p.care_from > p.birth && p.care_from <= p.care_to);
            for o in &p.conditions {
                assert!(o.start >= p.care_from && o.start <= p.care_to);
                assert!(p.age_at(o.start) >= o.condition.min_age);
                assert!(o.end.is_none_or(|e| e >= o.start));
            }
            let mut codes: Vec<&str> = p.conditions.iter().map(|o| o.condition.snomed).collect();
            codes.sort_unstable();
            codes.dedup();
            assert_eq!(codes.len(), p.conditions.len(), "no code twice");
            none += usize::from(p.conditions.is_empty());
        }
        assert!((100..500).contains(&none), "{none}");
    }
}
