//! The sandbox's records: a synthetic population computed from the seed, or
//! the `*.rdf` files of a directory, plus the changes made to it while it
//! runs.
//!
//! Synthetic ids are 5- to 8-digit numbers of mixed lengths, kept as `u32`s
//! sorted in byte-wise *string* order (so `613876` sorts after `2502813`).
//! Nothing else is stored: a record's data is generated on demand from a
//! hash of (seed, id), so a 1,000,000-record sandbox costs 4 MB.
//!
//! Every record has a *handle*, a `u32` that access tokens are bound to: the
//! index in the starting population, or a number above it for a record added
//! at runtime. Runtime changes ([`Population::drop_record`],
//! [`Population::add_record`]) live in a small set beside the starting
//! population; the cursor and every lookup see them at once.

use std::collections::{BTreeMap, HashSet};
use std::ops::Bound;
use std::path::{Path, PathBuf};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The largest synthetic population (the 8-digit id space has 90 million
/// values; staying far below keeps id generation quick).
pub(crate) const MAX_RECORDS: u64 = 20_000_000;

const IDS_SALT: u64 = 0x1D5;
/// `--extra-records` draws from another stream, so its ids interleave with
/// the others instead of extending them.
const EXTRA_IDS_SALT: u64 = 0xE1D5;

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

    /// Uniform in `lo..=hi`.
    pub(crate) fn range(&mut self, lo: u64, hi: u64) -> u64 {
        lo + self.below(hi.saturating_sub(lo) + 1)
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

    /// 128 random bits (blank node ids).
    pub(crate) fn next_u128(&mut self) -> u128 {
        u128::from(self.next_u64()) << 64 | u128::from(self.next_u64())
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

/// The id as a synthetic id value: 5 to 8 digits without a leading zero.
fn synthetic_value(id: &str) -> Option<u32> {
    let b = id.as_bytes();
    if !(5..=8).contains(&b.len()) || b[0] == b'0' || !b.iter().all(u8::is_ascii_digit) {
        return None;
    }
    id.parse().ok()
}

/// What a record's synthetic data is derived from: the id's value for a
/// synthetic-looking id (so a record added at runtime with such an id gets
/// the data it would have had in the starting population), a hash otherwise.
pub(crate) fn record_key(id: &str) -> u64 {
    match synthetic_value(id) {
        Some(v) => u64::from(v),
        None => hash_str(0, 0x4B3, id) | 1 << 63,
    }
}

fn digits(v: u32) -> u32 {
    v.checked_ilog10().map_or(1, |l| l + 1)
}

/// A key whose numeric order is the byte-wise order of the decimal strings
/// (no leading zeros, at most 8 digits): left-align the digits (pad with `0`
/// to 8), then a shorter string first, since it is then a prefix.
fn string_order_key(v: u32) -> u64 {
    const POW10: [u64; 9] = [
        1,
        10,
        100,
        1_000,
        10_000,
        100_000,
        1_000_000,
        10_000_000,
        100_000_000,
    ];
    let d = digits(v).min(8);
    (u64::from(v) * POW10[(8 - d) as usize]) << 4 | u64::from(d)
}

/// Draw `n` new synthetic ids from one stream, skipping any in `taken`
/// (sorted by [`string_order_key`]).
fn draw_ids(seed: u64, salt: u64, n: usize, taken: &[u32]) -> Vec<u32> {
    let mut rng = Mix::keyed(seed, salt, 0);
    let mut seen = HashSet::with_capacity(n);
    let mut ids = Vec::with_capacity(n);
    while ids.len() < n {
        let len = 5 + rng.below(4) as u32;
        let low = 10u64.pow(len - 1);
        let v = (low + rng.below(9 * low)) as u32;
        let key = string_order_key(v);
        if taken
            .binary_search_by_key(&key, |&x| string_order_key(x))
            .is_err()
            && seen.insert(v)
        {
            ids.push(v);
        }
    }
    ids
}

/// The ids of a synthetic population in byte-wise string order: `records`
/// from the main stream (a population is a prefix of any larger one with
/// the same seed), `extra` more from another stream, minus `drop`.
fn generate_ids(seed: u64, records: usize, extra: usize, drop: &HashSet<String>) -> Vec<u32> {
    let mut ids = draw_ids(seed, IDS_SALT, records, &[]);
    ids.sort_unstable_by_key(|&v| string_order_key(v));
    if extra > 0 {
        let more = draw_ids(seed, EXTRA_IDS_SALT, extra, &ids);
        ids.extend(more);
        ids.sort_unstable_by_key(|&v| string_order_key(v));
    }
    if !drop.is_empty() {
        let values: HashSet<u32> = drop.iter().filter_map(|d| synthetic_value(d)).collect();
        ids.retain(|v| !values.contains(v));
    }
    ids
}

/// Byte-wise comparison of a synthetic id value with a string id, without
/// allocating.
fn cmp_value(v: u32, id: &str) -> std::cmp::Ordering {
    let mut buf = [0u8; 10];
    let mut i = buf.len();
    let mut x = v;
    loop {
        i -= 1;
        buf[i] = b'0' + (x % 10) as u8;
        x /= 10;
        if x == 0 {
            break;
        }
    }
    buf[i..].cmp(id.as_bytes())
}

/// The starting population.
pub(crate) enum Base {
    /// Computed from the seed.
    Generated { seed: u64, ids: Vec<u32> },
    /// The record files of a directory (see [`scan_dir`]).
    Dir { dir: PathBuf, ids: Vec<String> },
}

impl Base {
    fn len(&self) -> usize {
        match self {
            Base::Generated { ids, .. } => ids.len(),
            Base::Dir { ids, .. } => ids.len(),
        }
    }

    fn id(&self, index: usize) -> Option<String> {
        match self {
            Base::Generated { ids, .. } => ids.get(index).map(u32::to_string),
            Base::Dir { ids, .. } => ids.get(index).cloned(),
        }
    }

    /// The index of an id in the starting population.
    fn find(&self, id: &str) -> Option<usize> {
        match self {
            Base::Generated { ids, .. } => {
                let key = string_order_key(synthetic_value(id)?);
                ids.binary_search_by_key(&key, |&x| string_order_key(x))
                    .ok()
            }
            Base::Dir { ids, .. } => ids
                .binary_search_by(|x| x.as_bytes().cmp(id.as_bytes()))
                .ok(),
        }
    }

    /// The index of the first id sorting after `id`.
    fn upper_bound(&self, id: &str) -> usize {
        match self {
            Base::Generated { ids, .. } => match synthetic_value(id) {
                Some(v) => {
                    let key = string_order_key(v);
                    ids.partition_point(|&x| string_order_key(x) <= key)
                }
                None => ids.partition_point(|&x| cmp_value(x, id).is_le()),
            },
            Base::Dir { ids, .. } => ids.partition_point(|x| x.as_bytes() <= id.as_bytes()),
        }
    }
}

/// Changes made while the sandbox runs.
#[derive(Default)]
struct Changes {
    /// Starting-population indices that were dropped.
    dropped: HashSet<u32>,
    /// Records added at runtime (and not dropped since), by id, with their handles.
    added: BTreeMap<String, u32>,
    /// How many handles were given to added records (never reused, so a
    /// token for a dropped record stays dead when the id comes back).
    issued: u32,
}

/// A record the cursor hands out: its handle and id.
pub(crate) type Found = (u32, String);

/// `next` after an id that is not in the population.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Unknown;

/// The starting population and its runtime changes.
pub(crate) struct Population {
    base: Base,
    changes: RwLock<Changes>,
}

impl Population {
    /// `records` synthetic ids plus `extra` from another stream, minus `drop`.
    pub(crate) fn generated(
        seed: u64,
        records: usize,
        extra: usize,
        drop: &HashSet<String>,
    ) -> Self {
        Population::new(Base::Generated {
            seed,
            ids: generate_ids(seed, records, extra, drop),
        })
    }

    /// The record files under `dir` (see [`scan_dir`]), minus `drop`.
    pub(crate) fn from_dir(dir: &Path, drop: &HashSet<String>) -> std::io::Result<Self> {
        let mut ids = scan_dir(dir)?;
        ids.retain(|id| !drop.contains(id));
        Ok(Population::new(Base::Dir {
            dir: dir.to_path_buf(),
            ids,
        }))
    }

    fn new(base: Base) -> Self {
        Population {
            base,
            changes: RwLock::default(),
        }
    }

    pub(crate) fn base(&self) -> &Base {
        &self.base
    }

    fn read(&self) -> RwLockReadGuard<'_, Changes> {
        self.changes.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Changes> {
        self.changes.write().unwrap_or_else(|p| p.into_inner())
    }

    /// How many records there are now.
    pub(crate) fn len(&self) -> usize {
        let c = self.read();
        self.base.len() - c.dropped.len() + c.added.len()
    }

    fn base_handle(&self, index: usize) -> Option<u32> {
        u32::try_from(index).ok()
    }

    /// The handle of a record that exists now.
    pub(crate) fn find(&self, id: &str) -> Option<u32> {
        let c = self.read();
        if let Some(h) = self.base.find(id).and_then(|i| self.base_handle(i))
            && !c.dropped.contains(&h)
        {
            return Some(h);
        }
        c.added.get(id).copied()
    }

    /// The first live starting-population record at or after `index`.
    fn base_from(&self, c: &Changes, mut index: usize) -> Option<Found> {
        while index < self.base.len() {
            let h = self.base_handle(index)?;
            if !c.dropped.contains(&h) {
                return Some((h, self.base.id(index)?));
            }
            index += 1;
        }
        None
    }

    /// The earlier (byte-wise) of two candidates.
    fn earlier(a: Option<Found>, b: Option<Found>) -> Option<Found> {
        match (a, b) {
            (Some(a), Some(b)) => Some(if a.1.as_bytes() <= b.1.as_bytes() {
                a
            } else {
                b
            }),
            (a, b) => a.or(b),
        }
    }

    /// The first record in cursor order.
    pub(crate) fn first(&self) -> Option<Found> {
        let c = self.read();
        let added = c.added.iter().next().map(|(id, &h)| (h, id.clone()));
        Self::earlier(self.base_from(&c, 0), added)
    }

    /// The record after `id` in cursor order; `Err` when `id` is not a
    /// record now (the reference then answers 500).
    pub(crate) fn next_after(&self, id: &str) -> Result<Option<Found>, Unknown> {
        let c = self.read();
        let from = match self.base.find(id) {
            Some(i) if self.base_handle(i).is_some_and(|h| !c.dropped.contains(&h)) => i + 1,
            _ if c.added.contains_key(id) => self.base.upper_bound(id),
            _ => return Err(Unknown),
        };
        let base = self.base_from(&c, from);
        let added = c
            .added
            .range::<str, _>((Bound::Excluded(id), Bound::Unbounded))
            .next()
            .map(|(id, &h)| (h, id.clone()));
        Ok(Self::earlier(base, added))
    }

    /// Remove a record; false when it is not a record now.
    pub(crate) fn drop_record(&self, id: &str) -> bool {
        let mut c = self.write();
        if c.added.remove(id).is_some() {
            return true;
        }
        match self.base.find(id).and_then(|i| self.base_handle(i)) {
            Some(h) => c.dropped.insert(h),
            None => false,
        }
    }

    /// Add a record (or bring a dropped one back); false when it is already
    /// a record or the id cannot be one (empty, or containing `/`).
    pub(crate) fn add_record(&self, id: &str) -> bool {
        if id.is_empty() || id.contains('/') {
            return false;
        }
        let mut c = self.write();
        if let Some(h) = self.base.find(id).and_then(|i| self.base_handle(i)) {
            return c.dropped.remove(&h);
        }
        if c.added.contains_key(id) {
            return false;
        }
        let Some(handle) = u32::try_from(self.base.len())
            .ok()
            .and_then(|n| n.checked_add(c.issued))
        else {
            return false;
        };
        c.issued += 1;
        c.added.insert(id.to_owned(), handle);
        true
    }

    /// All ids now, in cursor order.
    pub(crate) fn all_ids(&self) -> Vec<String> {
        let c = self.read();
        let mut out: Vec<String> = (0..self.base.len())
            .filter(|&i| self.base_handle(i).is_some_and(|h| !c.dropped.contains(&h)))
            .filter_map(|i| self.base.id(i))
            .collect();
        if !c.added.is_empty() {
            out.extend(c.added.keys().cloned());
            out.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        }
        out
    }
}

/// Is this a record file: `*.rdf`, a regular file, a UTF-8 stem?
fn rdf_stem(path: &Path) -> Option<String> {
    if path.extension().and_then(|e| e.to_str()) != Some("rdf") || !path.is_file() {
        return None;
    }
    match path.file_stem().and_then(|s| s.to_str()) {
        Some(stem) if !stem.is_empty() => Some(stem.to_owned()),
        _ => {
            tracing::warn!(path = %path.display(), "sandbox: skipping a file whose name is not UTF-8");
            None
        }
    }
}

/// The record ids of a `--from-dir` directory: the stems of `DIR/*.rdf`
/// (the flat layout, served as medications) and of `DIR/<resource>/*.rdf`
/// for every subdirectory, united and byte-wise sorted. Subdirectories
/// whose names start with `.` are skipped.
pub(crate) fn scan_dir(dir: &Path) -> std::io::Result<Vec<String>> {
    let mut ids = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            let hidden = path
                .file_name()
                .and_then(|n| n.to_str())
                .is_none_or(|n| n.starts_with('.'));
            if hidden {
                continue;
            }
            for inner in std::fs::read_dir(&path)? {
                ids.extend(rdf_stem(&inner?.path()));
            }
        } else {
            ids.extend(rdf_stem(&path));
        }
    }
    ids.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    ids.dedup();
    Ok(ids)
}

/// The ids listed in a `--drop-ids` file: one per line, surrounding blanks
/// trimmed, empty lines and `#` comments skipped.
pub(crate) fn read_id_list(path: &Path) -> std::io::Result<HashSet<String>> {
    let text = std::fs::read_to_string(path)?;
    Ok(text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(str::to_owned)
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pop(seed: u64, n: usize) -> Population {
        Population::generated(seed, n, 0, &HashSet::new())
    }

    #[test]
    fn ids_are_unique_mixed_and_string_sorted() {
        let pop = pop(7, 5000);
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
            assert_eq!(pop.find(id), Some(i as u32));
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
                assert_eq!(
                    cmp_value(a, &b.to_string()),
                    a.to_string().cmp(&b.to_string())
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
    fn a_population_is_a_prefix_of_a_larger_one_and_extras_interleave() {
        let small: HashSet<String> = pop(3, 500).all_ids().into_iter().collect();
        let large: HashSet<String> = pop(3, 1000).all_ids().into_iter().collect();
        assert!(small.is_subset(&large));
        let with_extra = Population::generated(3, 500, 50, &HashSet::new()).all_ids();
        assert_eq!(with_extra.len(), 550);
        let extra: Vec<&String> = with_extra.iter().filter(|i| !small.contains(*i)).collect();
        assert_eq!(extra.len(), 50);
        // Interleaved: the extras are spread over the cursor, not at its end.
        let positions: Vec<usize> = extra
            .iter()
            .filter_map(|e| with_extra.iter().position(|i| i == *e))
            .collect();
        assert!(positions.iter().any(|&p| p < 200) && positions.iter().any(|&p| p > 350));
        let drop: HashSet<String> = small.iter().take(20).cloned().collect();
        let dropped = Population::generated(3, 500, 0, &drop).all_ids();
        assert_eq!(dropped.len(), 480);
        assert!(dropped.iter().all(|i| !drop.contains(i)));
    }

    #[test]
    fn runtime_changes_are_seen_by_the_cursor() {
        let p = pop(5, 20);
        let ids = p.all_ids();
        assert!(p.drop_record(&ids[3]));
        assert!(!p.drop_record(&ids[3]), "already gone");
        assert_eq!(p.next_after(&ids[3]), Err(Unknown));
        assert_eq!(
            p.next_after(&ids[2]).ok().flatten().map(|f| f.1),
            Some(ids[4].clone())
        );
        assert_eq!(p.len(), 19);
        // Added ids take their byte-wise place, even non-numeric ones.
        assert!(p.add_record("abc"));
        assert!(p.add_record("1"));
        assert!(!p.add_record("abc"));
        assert!(!p.add_record("a/b"));
        let now = p.all_ids();
        assert_eq!(now.len(), 21);
        assert_eq!(now[0], "1");
        assert_eq!(now.last().map(String::as_str), Some("abc"));
        assert!(now.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
        // A dropped record comes back with its old handle; an added one that
        // is dropped and added again gets a new one.
        assert!(p.add_record(&ids[3]));
        assert_eq!(p.find(&ids[3]), Some(3));
        let h = p.find("abc");
        assert!(p.drop_record("abc") && p.add_record("abc"));
        assert_ne!(p.find("abc"), h);
        assert!(p.find("abc").is_some());
        // Dropping the first record moves `first`.
        assert!(p.drop_record("1"));
        assert!(p.drop_record(&ids[0]));
        assert_eq!(p.first().map(|f| f.1), Some(ids[1].clone()));
    }

    #[test]
    fn record_keys() {
        assert_eq!(record_key("613876"), 613876);
        assert_ne!(record_key("0613876"), 613876);
        assert!(record_key("abc") >= 1 << 63);
        assert_eq!(record_key("abc"), record_key("abc"));
    }
}
