//! The sandbox's records: a synthetic population computed from the seed, or
//! the `*.rdf` files of a directory.
//!
//! Synthetic ids are 5- to 8-digit numbers of mixed lengths, kept as `u32`s
//! sorted in byte-wise *string* order (so `613876` sorts after `2502813`).
//! Nothing else is stored: a record's medications are generated on demand
//! from a hash of (seed, id), so a 1,000,000-record sandbox costs 4 MB.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use chrono::{Datelike, Days, NaiveDate};

/// The largest synthetic population (the 8-digit id space has 90 million
/// values; staying far below keeps id generation quick).
pub(crate) const MAX_RECORDS: u64 = 20_000_000;

/// SplitMix64: a tiny, portable, seedable generator. Its output for a seed
/// never changes between versions of any crate, which keeps populations
/// reproducible for ever.
#[derive(Clone)]
pub(crate) struct Mix(u64);

impl Mix {
    /// A generator for one purpose (`salt`) and one subject (`key`).
    pub(crate) fn keyed(seed: u64, salt: u64, key: u64) -> Self {
        let mut m = Mix(seed ^ salt.rotate_left(17));
        let a = m.next_u64();
        Mix(a ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15))
    }

    pub(crate) fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0); the modulo bias is irrelevant here.
    pub(crate) fn below(&mut self, n: u64) -> u64 {
        self.next_u64() % n.max(1)
    }

    /// Uniform in `[0, 1)`.
    pub(crate) fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    pub(crate) fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    pub(crate) fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        &items[self.below(items.len() as u64) as usize]
    }
}

/// A stable hash of a string under a seed (FNV-1a, then mixed).
pub(crate) fn hash_str(seed: u64, salt: u64, s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    Mix::keyed(seed, salt, h).next_u64()
}

fn digits(v: u32) -> u32 {
    v.checked_ilog10().map_or(1, |l| l + 1)
}

/// A key whose numeric order is the byte-wise order of the decimal strings
/// (no leading zeros, at most 8 digits): left-align the digits (pad with `0`
/// to 8), then a shorter string first, since it is then a prefix.
fn string_order_key(v: u32) -> u64 {
    let d = digits(v);
    (u64::from(v) * 10u64.pow(8 - d)) << 4 | u64::from(d)
}

/// The ids of a synthetic population, in byte-wise string order.
fn generate_ids(seed: u64, n: usize) -> Vec<u32> {
    let mut rng = Mix::keyed(seed, 0x1D5, 0);
    let mut seen = HashSet::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let len = 5 + rng.below(4) as u32;
        let low = 10u64.pow(len - 1);
        let v = (low + rng.below(9 * low)) as u32;
        if seen.insert(v) {
            ids.push(v);
        }
    }
    ids.sort_unstable_by_key(|&v| string_order_key(v));
    ids
}

/// Where the records come from.
pub(crate) enum Population {
    /// Computed from the seed.
    Generated { seed: u64, ids: Vec<u32> },
    /// `DIR/<id>.rdf` files; the stems are the ids, sorted byte-wise.
    Dir { dir: PathBuf, ids: Vec<String> },
}

impl Population {
    pub(crate) fn generated(seed: u64, records: usize) -> Self {
        Population::Generated {
            seed,
            ids: generate_ids(seed, records),
        }
    }

    pub(crate) fn from_dir(dir: &Path) -> std::io::Result<Self> {
        Ok(Population::Dir {
            dir: dir.to_path_buf(),
            ids: dir_ids(dir)?,
        })
    }

    pub(crate) fn len(&self) -> usize {
        match self {
            Population::Generated { ids, .. } => ids.len(),
            Population::Dir { ids, .. } => ids.len(),
        }
    }

    /// The id of the record at `index` (in cursor order).
    pub(crate) fn id(&self, index: usize) -> Option<String> {
        match self {
            Population::Generated { ids, .. } => ids.get(index).map(|v| v.to_string()),
            Population::Dir { ids, .. } => ids.get(index).cloned(),
        }
    }

    /// The cursor position of a record id, if the record exists.
    pub(crate) fn find(&self, id: &str) -> Option<usize> {
        match self {
            Population::Generated { ids, .. } => {
                let b = id.as_bytes();
                if !(5..=8).contains(&b.len()) || b[0] == b'0' || !b.iter().all(u8::is_ascii_digit)
                {
                    return None;
                }
                let v: u32 = id.parse().ok()?;
                let key = string_order_key(v);
                ids.binary_search_by_key(&key, |&x| string_order_key(x))
                    .ok()
            }
            Population::Dir { ids, .. } => ids
                .binary_search_by(|x| x.as_bytes().cmp(id.as_bytes()))
                .ok(),
        }
    }

    /// All ids in cursor order.
    pub(crate) fn all_ids(&self) -> Vec<String> {
        (0..self.len()).filter_map(|i| self.id(i)).collect()
    }
}

/// The stems of `DIR/*.rdf` (non-recursive), byte-wise sorted. Names that are
/// not UTF-8 are skipped with a warning.
pub(crate) fn dir_ids(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.extension().and_then(|e| e.to_str()) != Some("rdf") || !path.is_file() {
            continue;
        }
        match path.file_stem().and_then(|s| s.to_str()) {
            Some(stem) if !stem.is_empty() => ids.push(stem.to_owned()),
            _ => {
                tracing::warn!(path = %path.display(), "sandbox: skipping a file whose name is not UTF-8")
            }
        }
    }
    ids.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(ids)
}

/// One row of the drug table: a real RxNorm semantic clinical or branded
/// drug (TTY SCD/SBD) with its normalized name, plus the dosage form for the
/// quantity unit and a few display-name variants (local, brand or free-text
/// names as EHRs send them; some with non-ASCII letters, commas, quotes,
/// `&` and `<`).
pub(crate) struct Drug {
    pub rxcui: &'static str,
    pub name: &'static str,
    pub unit: &'static str,
    pub variants: &'static [&'static str],
}

const TAB: &str = "{tablet}";
const CAP: &str = "{capsule}";

/// The drug table: facts from RxNorm (code and normalized name).
pub(crate) static DRUGS: &[Drug] = &[
    Drug {
        rxcui: "312938",
        name: "Sertraline 100 MG Oral Tablet",
        unit: TAB,
        variants: &["Sertralin 100 mg Filmtablette (Zoloft®)"],
    },
    Drug {
        rxcui: "312940",
        name: "Sertraline 50 MG Oral Tablet",
        unit: TAB,
        variants: &["sertraline 50mg \"Zoloft\""],
    },
    Drug {
        rxcui: "309309",
        name: "Ciprofloxacin 500 MG Oral Tablet",
        unit: TAB,
        variants: &["Ciprofloxacino 500 mg, comprimido"],
    },
    Drug {
        rxcui: "617318",
        name: "atorvastatin 20 MG Oral Tablet [Lipitor]",
        unit: TAB,
        variants: &["Lipitor 20 mg — atorvastatin calcium"],
    },
    Drug {
        rxcui: "259255",
        name: "atorvastatin 80 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197319",
        name: "Allopurinol 100 MG Oral Tablet",
        unit: TAB,
        variants: &["Allopurinol 100 mg <generic>"],
    },
    Drug {
        rxcui: "197320",
        name: "Allopurinol 300 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197361",
        name: "Amlodipine 5 MG Oral Tablet",
        unit: TAB,
        variants: &["Amlodipin 5 mg Tablette, Besilat"],
    },
    Drug {
        rxcui: "308135",
        name: "Amlodipine 10 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "861007",
        name: "Metformin hydrochloride 500 MG Oral Tablet",
        unit: TAB,
        variants: &["Metformine 500 mg comprimé", "Metformin 500 MG Oral Tablet"],
    },
    Drug {
        rxcui: "314076",
        name: "Lisinopril 10 MG Oral Tablet",
        unit: TAB,
        variants: &["Lisinopril 10 MG Oral Tablet \"Zestril\""],
    },
    Drug {
        rxcui: "314077",
        name: "Lisinopril 20 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "311354",
        name: "Lisinopril 5 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "310798",
        name: "Hydrochlorothiazide 25 MG Oral Tablet",
        unit: TAB,
        variants: &["HCTZ 25 mg & potassium check"],
    },
    Drug {
        rxcui: "199903",
        name: "Hydrochlorothiazide 12.5 MG Oral Capsule",
        unit: CAP,
        variants: &[],
    },
    Drug {
        rxcui: "198211",
        name: "Simvastatin 40 MG Oral Tablet",
        unit: TAB,
        variants: &["Simvastatina 40 mg, comprimidos recubiertos"],
    },
    Drug {
        rxcui: "312961",
        name: "Simvastatin 20 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197381",
        name: "Atenolol 50 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197380",
        name: "Atenolol 25 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "866924",
        name: "Metoprolol Tartrate 25 MG Oral Tablet",
        unit: TAB,
        variants: &["Metoprolol 25 MG Oral Tablet"],
    },
    Drug {
        rxcui: "866514",
        name: "Metoprolol Tartrate 50 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "310965",
        name: "Ibuprofen 200 MG Oral Tablet",
        unit: TAB,
        variants: &[
            "Ибупрофен 200 мг таблетки",
            "Ibuprofen 200 MG Oral Tablet, film-coated",
        ],
    },
    Drug {
        rxcui: "197806",
        name: "Ibuprofen 600 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "313782",
        name: "Acetaminophen 325 MG Oral Tablet",
        unit: TAB,
        variants: &["Acetaminophen 325 MG \"Tylenol\" <OTC>"],
    },
    Drug {
        rxcui: "198440",
        name: "Acetaminophen 500 MG Oral Tablet",
        unit: TAB,
        variants: &["Paracétamol 500 mg, comprimé"],
    },
    Drug {
        rxcui: "308182",
        name: "Amoxicillin 250 MG Oral Capsule",
        unit: CAP,
        variants: &[],
    },
    Drug {
        rxcui: "308191",
        name: "Amoxicillin 500 MG Oral Capsule",
        unit: CAP,
        variants: &["Amoxicilline 500 mg gélule"],
    },
    Drug {
        rxcui: "562251",
        name: "Amoxicillin 875 MG / Clavulanate 125 MG Oral Tablet",
        unit: TAB,
        variants: &["Amoxicillin & Clavulanate 875/125 <Augmentin>"],
    },
    Drug {
        rxcui: "198145",
        name: "Prednisone 10 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "312617",
        name: "Prednisone 5 MG Oral Tablet",
        unit: TAB,
        variants: &["Prednison 5 mg, taper \"as directed\""],
    },
    Drug {
        rxcui: "310429",
        name: "Furosemide 20 MG Oral Tablet",
        unit: TAB,
        variants: &["Furosemid 20 mg <Lasix>"],
    },
    Drug {
        rxcui: "855332",
        name: "Warfarin Sodium 5 MG Oral Tablet",
        unit: TAB,
        variants: &["Warfarin 5 mg [Coumadin] & INR monitoring"],
    },
    Drug {
        rxcui: "310385",
        name: "Fluoxetine 20 MG Oral Capsule",
        unit: CAP,
        variants: &["Fluoxétine 20 mg gélule"],
    },
    Drug {
        rxcui: "309362",
        name: "Clopidogrel 75 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "243670",
        name: "Aspirin 81 MG Oral Tablet",
        unit: TAB,
        variants: &["Aspirin 81 mg \"baby aspirin\", chewable"],
    },
    Drug {
        rxcui: "308460",
        name: "Azithromycin 250 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "197591",
        name: "Diazepam 5 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "308047",
        name: "Alprazolam 0.25 MG Oral Tablet",
        unit: TAB,
        variants: &[],
    },
    Drug {
        rxcui: "352272",
        name: "Escitalopram 10 MG Oral Tablet [Lexapro]",
        unit: TAB,
        variants: &["Escitalopram 10 mg (Lexapro®)"],
    },
    Drug {
        rxcui: "310325",
        name: "Ferrous Sulfate 325 MG Oral Tablet",
        unit: TAB,
        variants: &["Eisen(II)-sulfat 325 mg"],
    },
];

/// Free-text sigs, some with commas, double quotes, `&` and `<`.
static INSTRUCTIONS: &[&str] = &[
    "1 daily",
    "1 bid",
    "1 qhs",
    "1 tid prn",
    "take 1 tablet by mouth twice daily, with food",
    "2 tablets \"as needed\" for pain, max 6/day",
    "1/2 tablet daily",
    "1 q4-6h prn pain & fever",
    "as directed; see \"patient leaflet\"",
    "take with water, < 1 h before breakfast",
    "1 tab po qd",
    "Einmal täglich, morgens",
];

static QUANTITIES: &[&str] = &["1", "1", "1", "2", "0.5", "1.5"];
static FREQUENCIES: &[(&str, &str)] = &[
    ("1", "/d"),
    ("1", "/d"),
    ("2", "/d"),
    ("3", "/d"),
    ("1", "/wk"),
    ("1", "/mo"),
];
static DAYS_SUPPLY: &[u32] = &[30, 30, 90, 14, 7];

/// One dispensing event.
pub(crate) struct Fill {
    pub uuid: String,
    pub date: String,
    pub days: u32,
    pub quantity: Option<u32>,
    pub node: u128,
}

/// One synthetic medication statement.
pub(crate) struct Med {
    pub uuid: String,
    pub drug: &'static Drug,
    pub title: &'static str,
    pub start: String,
    pub end: Option<String>,
    pub instructions: &'static str,
    pub quantity: Option<(&'static str, &'static str)>,
    pub frequency: Option<(&'static str, &'static str)>,
    pub fills: Vec<Fill>,
    /// Blank node ids: CodedValue, quantity, frequency.
    pub nodes: [u128; 3],
}

/// Append `digits` lower-case hex digits of `value`.
pub(crate) fn push_hex(out: &mut String, value: u128, digits: u32) {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    for i in (0..digits).rev() {
        out.push(HEX[((value >> (i * 4)) & 15) as usize] as char);
    }
}

fn push_num(out: &mut String, value: u32, width: usize) {
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

fn uuid(rng: &mut Mix) -> String {
    let a = rng.next_u64();
    let b = rng.next_u64();
    // Shape of a version-4 UUID.
    let a = u128::from((a & 0xFFFF_FFFF_FFFF_0FFF) | 0x4000);
    let b = u128::from((b & 0x3FFF_FFFF_FFFF_FFFF) | 0x8000_0000_0000_0000);
    let mut out = String::with_capacity(36);
    push_hex(&mut out, a >> 32, 8);
    out.push('-');
    push_hex(&mut out, a >> 16, 4);
    out.push('-');
    push_hex(&mut out, a, 4);
    out.push('-');
    push_hex(&mut out, b >> 48, 4);
    out.push('-');
    push_hex(&mut out, b, 12);
    out
}

fn node(rng: &mut Mix) -> u128 {
    u128::from(rng.next_u64()) << 64 | u128::from(rng.next_u64())
}

fn iso(d: NaiveDate) -> String {
    let mut out = String::with_capacity(20);
    push_num(&mut out, d.year().unsigned_abs(), 4);
    out.push('-');
    push_num(&mut out, d.month(), 2);
    out.push('-');
    push_num(&mut out, d.day(), 2);
    out
}

/// Medications of a synthetic record: 0 to 25, none for about a third of
/// the records. Deterministic in (seed, id).
pub(crate) fn medications(seed: u64, id: u32) -> Vec<Med> {
    let mut rng = Mix::keyed(seed, 0x3ED5, u64::from(id));
    let count = if rng.chance(0.34) {
        0
    } else {
        1 + rng.below(25) as usize
    };
    let mut meds = Vec::with_capacity(count);
    for _ in 0..count {
        let drug = rng.pick(DRUGS);
        let title = if !drug.variants.is_empty() && rng.chance(0.2) {
            rng.pick(drug.variants)
        } else {
            drug.name
        };
        let year = 1995 + rng.below(19) as i32;
        let month = 1 + rng.below(12) as u32;
        let day = 1 + rng.below(28) as u32;
        let date = NaiveDate::from_ymd_opt(year, month, day).unwrap_or_default();
        let shape = rng.below(100);
        let start = match shape {
            0..=5 => iso(date)[..4].to_owned(),
            6..=9 => iso(date)[..7].to_owned(),
            10..=19 => {
                let mut s = iso(date);
                s.push('T');
                push_num(&mut s, rng.below(24) as u32, 2);
                s.push_str(":00:00Z");
                s
            }
            _ => iso(date),
        };
        let end = rng.chance(0.35).then(|| {
            let later = date
                .checked_add_days(Days::new(7 + rng.below(700)))
                .unwrap_or(date);
            iso(later)
        });
        let instructions = *rng.pick(INSTRUCTIONS);
        let quantity = rng.chance(0.75).then(|| (*rng.pick(QUANTITIES), drug.unit));
        let frequency = rng.chance(0.75).then(|| *rng.pick(FREQUENCIES));
        let nodes = [node(&mut rng), node(&mut rng), node(&mut rng)];
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
            fills.push(Fill {
                uuid: uuid(&mut rng),
                date: iso(on),
                days,
                quantity: rng.chance(0.85).then_some(days),
                node: node(&mut rng),
            });
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
            nodes,
        });
    }
    meds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_unique_mixed_and_string_sorted() {
        let pop = Population::generated(7, 5000);
        let ids = pop.all_ids();
        assert_eq!(ids.len(), 5000);
        assert!(ids.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
        for len in 5..=8 {
            assert!(ids.iter().any(|i| i.len() == len), "no id of length {len}");
        }
        // String order differs from numeric order.
        let mut numeric: Vec<u64> = ids.iter().filter_map(|i| i.parse().ok()).collect();
        numeric.sort_unstable();
        assert_ne!(numeric.iter().map(u64::to_string).collect::<Vec<_>>(), ids);
        for (i, id) in ids.iter().enumerate() {
            assert_eq!(pop.find(id), Some(i));
        }
        assert_eq!(pop.find("0123456"), None);
        assert_eq!(pop.find("abc"), None);
    }

    #[test]
    fn string_order_key_matches_byte_order() {
        let vals = [
            10000u32, 100000, 1000000, 10000000, 99999, 613876, 2502813, 6138760, 61387,
        ];
        for &a in &vals {
            for &b in &vals {
                assert_eq!(
                    string_order_key(a).cmp(&string_order_key(b)),
                    a.to_string().cmp(&b.to_string()),
                    "{a} vs {b}"
                );
            }
        }
    }

    proptest::proptest! {
        /// Near neighbours (where a bit overlap would collide) and far pairs.
        #[test]
        fn string_order_key_is_injective_and_ordered(
            a in 10_000u32..99_999_990,
            delta in 0u32..4,
            far in 10_000u32..100_000_000,
        ) {
            for b in [a + delta, far] {
                proptest::prop_assert_eq!(
                    string_order_key(a).cmp(&string_order_key(b)),
                    a.to_string().cmp(&b.to_string())
                );
            }
        }
    }

    #[test]
    fn hand_formatting() {
        let mut s = String::new();
        push_num(&mut s, 7, 2);
        push_num(&mut s, 0, 1);
        push_num(&mut s, 2010, 4);
        push_hex(&mut s, 0xab, 4);
        assert_eq!(s, "070201000ab");
        let u = uuid(&mut Mix::keyed(1, 2, 3));
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(u.split('-').map(str::len).eq([8, 4, 4, 4, 12]));
    }

    #[test]
    fn medications_are_deterministic_and_varied() {
        let pop = Population::generated(3, 600);
        let Population::Generated { ids, .. } = &pop else {
            unreachable!()
        };
        let mut empty = 0;
        let mut partial = 0;
        for &id in ids {
            let a = medications(3, id);
            let b = medications(3, id);
            assert_eq!(a.len(), b.len());
            assert!(
                a.iter()
                    .zip(&b)
                    .all(|(x, y)| x.uuid == y.uuid && x.start == y.start)
            );
            assert!(a.len() <= 25);
            empty += usize::from(a.is_empty());
            partial += a.iter().filter(|m| m.start.len() == 4).count();
        }
        assert!((150..=260).contains(&empty), "{empty} empty records of 600");
        assert!(partial > 0);
    }
}
