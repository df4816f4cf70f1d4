//! Where record tokens come from, as ordered streams the engine consumes.
//!
//! - [`walk`]: one cursor *chain*: `first` (or a seed record, minted), then
//!   `next` until the container answers 404 or names the start of another
//!   chain. It resumes after a watermark, with a fallback when the
//!   watermark record was deleted, and stops with
//!   [`ExtractError::CursorCycle`] when the cursor comes back to a record.
//! - [`resolve_starts`] and [`chain_specs`]: the starts of parallel chains
//!   from seed ids (known ids, e.g. a previous run's), each checked to exist.
//! - [`known`]: known ids, a token minted for each, concurrently, in input
//!   order.
//!
//! # Cycles, in constant memory
//!
//! The cursor is stateless (`next` is a function of the id), so a walk that
//! revisits an id would go round for ever. Each chain keeps the last
//! [`CYCLE_WINDOW`] ids, which catches a cycle of up to that many records on
//! its first repeat, and runs Brent's cycle detection, which catches a longer
//! one within about two turns of it, whatever the run's length. Memory stays
//! flat: no set of every id seen. A longer cycle's first records can
//! therefore be yielded twice before the error. Ids are *not* required to
//! grow byte-wise: the reference container walks in its database
//! collation, which may differ from byte order; a step back in byte order
//! is logged once as a warning.

use std::collections::{HashSet, VecDeque};

use futures::Stream;
use futures::stream::{self, StreamExt};

use super::ExtractError;
use super::client::{Client, RecordToken};
use crate::record::RecordId;

/// Ids a chain remembers for immediate detection of short cycles.
pub const CYCLE_WINDOW: usize = 32;

/// One chain of the cursor.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ChainSpec {
    /// `None`: begin with `first`. `Some(id)`: begin with record `id`
    /// itself (a token minted for it, yielded first), then `next`.
    pub start: Option<RecordId>,
    /// The chain ends, without yielding it, when the cursor answers any of
    /// these ids (the other chains' starts).
    pub stop: Vec<RecordId>,
}

/// Where a chain resumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Resume {
    /// The last committed id of the chain.
    pub watermark: RecordId,
    /// The last few committed ids of the chain, oldest first, ending with
    /// the watermark (the fallbacks when the watermark was deleted).
    pub recent: Vec<RecordId>,
}

/// One chain of the cursor as an ordered stream of record tokens.
///
/// Without `resume`, it begins at `spec.start` (or `first`). With it, it
/// continues with `next(watermark)`. The container answers 500 for an
/// unknown id, so when the watermark record was deleted the walk continues
/// after the newest earlier id of `resume.recent` that still exists and
/// skips the ids committed after it; when none exists, it restarts from the
/// chain's start (`first` for chain 0, or when a seeded chain's start is
/// gone too) and skips ids up to the watermark in byte order.
///
/// The stream ends at the cursor's 404, or before an id of `spec.stop`. An
/// error ends it after it is yielded (the next step would need the id that
/// failed): a 401/403 ([`ExtractError::is_fatal_credentials`]), a cycle
/// ([`ExtractError::CursorCycle`]), an id no URL can carry, or a call that
/// failed after its retries.
pub fn walk(
    client: Client,
    spec: ChainSpec,
    resume: Option<Resume>,
) -> impl Stream<Item = Result<RecordToken, ExtractError>> + Send + 'static {
    let walker = Walker {
        client,
        start: spec.start,
        stop: spec.stop.into_iter().collect(),
        phase: Phase::Begin(resume),
        skip: Skip::Nothing,
        cycle: CycleDetector::default(),
        warned_order: false,
    };
    stream::unfold(walker, |mut w| async move {
        let item = w.step().await?;
        Some((item, w))
    })
}

/// Known ids from `position` on (the ids before it are done): a token
/// minted for each (`.../tokens/records/{id}`), up to `concurrency` at once,
/// yielded in input order with the id it belongs to. A failed mint is
/// yielded as an error for that id and the stream goes on; the caller
/// decides whether it is fatal ([`ExtractError::is_fatal_credentials`]).
pub fn known(
    client: Client,
    ids: Vec<RecordId>,
    position: u64,
    concurrency: usize,
) -> impl Stream<Item = (RecordId, Result<RecordToken, ExtractError>)> + Send + 'static {
    let skip = usize::try_from(position).unwrap_or(usize::MAX);
    stream::iter(ids.into_iter().skip(skip))
        .map(move |id| {
            let client = client.clone();
            async move {
                let result = client.mint(id.as_str()).await;
                (id, result)
            }
        })
        .buffered(concurrency.max(1))
}

/// The starts of parallel chains that exist. For each chain `i >= 1`,
/// `candidates[i]` lists known ids in cursor order: its seed first, then the
/// known ids after it up to the next chain's seed. A token is minted for
/// each in turn (chains concurrently) until one exists; a 500 (or 404)
/// means the record is gone, so the next candidate is tried. `None`: no
/// candidate exists, the chain is dropped and the chain before it covers its
/// range. `candidates[0]` is ignored: chain 0 starts at `first` (its entry
/// in the answer is `None`). A 401/403, or any other failure after its
/// retries, is returned.
pub async fn resolve_starts(
    client: &Client,
    candidates: Vec<Vec<RecordId>>,
) -> Result<Vec<Option<RecordId>>, ExtractError> {
    let chains = candidates
        .into_iter()
        .enumerate()
        .map(|(chain, ids)| async move {
            if chain == 0 {
                Ok(None)
            } else {
                resolve_one(client, chain, ids).await
            }
        });
    futures::future::try_join_all(chains).await
}

async fn resolve_one(
    client: &Client,
    chain: usize,
    ids: Vec<RecordId>,
) -> Result<Option<RecordId>, ExtractError> {
    let tried = ids.len();
    for id in ids {
        match client.probe(id.as_str()).await {
            Ok(_) => return Ok(Some(id)),
            Err(e) if matches!(e.status(), Some(500 | 404)) => {
                tracing::info!(chain, record_id = %id, "a chain's candidate start is gone (HTTP 500 on its token); trying the next one");
            }
            Err(ExtractError::UnusableId { record_id, .. }) => {
                tracing::warn!(chain, %record_id, "a chain's candidate start cannot be used in a URL; trying the next one");
            }
            Err(e) => return Err(e),
        }
    }
    tracing::warn!(
        chain,
        tried,
        "none of the chain's candidate starts exists any more; the chain before it covers its range"
    );
    Ok(None)
}

/// The chains for resolved starts (as [`resolve_starts`] answers): chain 0
/// from `first`, then one chain per distinct existing start, in order; each
/// stops at every other chain's start. Dropped chains (`None`) leave no gap:
/// the chain before runs on to the next start.
pub fn chain_specs(starts: &[Option<RecordId>]) -> Vec<ChainSpec> {
    let mut seeds: Vec<RecordId> = Vec::new();
    for id in starts.iter().skip(1).flatten() {
        if !seeds.contains(id) {
            seeds.push(id.clone());
        }
    }
    std::iter::once(None)
        .chain(seeds.iter().cloned().map(Some))
        .map(|start| ChainSpec {
            stop: seeds
                .iter()
                .filter(|s| Some(*s) != start.as_ref())
                .cloned()
                .collect(),
            start,
        })
        .collect()
}

/// What the walk does next.
enum Phase {
    /// The first step, resuming or not.
    Begin(Option<Resume>),
    /// `next` after this id.
    After(RecordId),
    /// Nothing more.
    Done,
}

/// Records walked over without being yielded after a resume fallback.
enum Skip {
    Nothing,
    /// Committed after the record the walk restarted from: skipped while
    /// the cursor answers them.
    Committed(HashSet<RecordId>),
    /// Restarted from the chain's start: ids up to the watermark (byte
    /// order) are skipped.
    UpTo(RecordId),
}

impl Skip {
    fn skips(&self, id: &RecordId) -> bool {
        match self {
            Skip::Nothing => false,
            Skip::Committed(ids) => ids.contains(id),
            Skip::UpTo(watermark) => id.as_str().as_bytes() <= watermark.as_str().as_bytes(),
        }
    }
}

struct Walker {
    client: Client,
    start: Option<RecordId>,
    stop: HashSet<RecordId>,
    phase: Phase,
    skip: Skip,
    cycle: CycleDetector,
    warned_order: bool,
}

impl Walker {
    async fn step(&mut self) -> Option<Result<RecordToken, ExtractError>> {
        loop {
            let got = match std::mem::replace(&mut self.phase, Phase::Done) {
                Phase::Done => return None,
                Phase::Begin(resume) => self.begin(resume).await,
                Phase::After(id) => self.client.next(id.as_str()).await,
            };
            let token = match got {
                Ok(Some(t)) => t,
                Ok(None) => return None,
                Err(e) => return Some(Err(e)),
            };
            if self.stop.contains(&token.record_id) {
                return None;
            }
            if let Err(e) = self.observe(&token.record_id) {
                return Some(Err(e));
            }
            self.phase = Phase::After(token.record_id.clone());
            if self.skip.skips(&token.record_id) {
                continue;
            }
            self.skip = Skip::Nothing;
            return Some(Ok(token));
        }
    }

    /// Cycle detection and the one-time collation warning.
    fn observe(&mut self, id: &RecordId) -> Result<(), ExtractError> {
        let prev = self.cycle.last().cloned();
        if let Some(back) = self.cycle.observe(id) {
            let after = prev.map(|p| format!("`next` after `{p}` answered it again, "));
            return Err(ExtractError::CursorCycle {
                record_id: id.clone(),
                detail: format!(
                    "{}{back} record(s) after it was first answered",
                    after.unwrap_or_default()
                ),
            });
        }
        if let Some(p) = prev
            && !self.warned_order
            && id.as_str().as_bytes() < p.as_str().as_bytes()
        {
            self.warned_order = true;
            tracing::warn!(
                previous = %p,
                record_id = %id,
                "the container's cursor answered a record id that sorts before the previous one byte-wise: its database collation is not byte order (fine; noted once)"
            );
        }
        Ok(())
    }

    async fn begin(&mut self, resume: Option<Resume>) -> Result<Option<RecordToken>, ExtractError> {
        match resume {
            None => self.chain_start().await,
            Some(r) => self.resume_after(r).await,
        }
    }

    /// The chain's first record: `first`, or a token for its seed.
    async fn chain_start(&self) -> Result<Option<RecordToken>, ExtractError> {
        match &self.start {
            None => self.first().await,
            Some(id) => self.client.mint(id.as_str()).await.map(Some),
        }
    }

    async fn first(&self) -> Result<Option<RecordToken>, ExtractError> {
        let first = self.client.first().await?;
        if first.is_none() {
            tracing::warn!(
                "the container has no records: `first` answered 404 (the reference container also answers 404 when it fails inside `first`)"
            );
        }
        Ok(first)
    }

    /// Continue after the watermark, or after the newest earlier committed
    /// record that still exists, or from the start.
    async fn resume_after(&mut self, r: Resume) -> Result<Option<RecordToken>, ExtractError> {
        let watermark = &r.watermark;
        match self.client.next(watermark.as_str()).await {
            Ok(t) => return Ok(t),
            Err(e) if e.status() == Some(500) => {
                tracing::warn!(
                    "the watermark record `{watermark}` is unknown to the container (500): it was probably deleted; restarting from an earlier committed record"
                );
            }
            Err(e) => return Err(e),
        }
        // `recent` is oldest first and ends with the watermark.
        for (i, id) in r.recent.iter().enumerate().rev() {
            if id == watermark {
                continue;
            }
            match self.client.next(id.as_str()).await {
                Ok(t) => {
                    self.skip = Skip::Committed(r.recent[i + 1..].iter().cloned().collect());
                    return Ok(t);
                }
                Err(e) if e.status() == Some(500) => continue,
                Err(e) => return Err(e),
            }
        }
        self.skip = Skip::UpTo(watermark.clone());
        self.restart(&r).await
    }

    /// None of the recent committed records exists: from the chain's start
    /// (or `first`, when a seeded start is gone too), skipping up to the
    /// watermark.
    async fn restart(&self, r: &Resume) -> Result<Option<RecordToken>, ExtractError> {
        let watermark = &r.watermark;
        let from = match &self.start {
            None => "the first record".to_owned(),
            Some(s) => format!("the chain's start `{s}`"),
        };
        tracing::warn!(
            "none of the last {} committed records exists any more; restarting from {from} and skipping ids up to `{watermark}` in byte order",
            r.recent.len()
        );
        match self.chain_start().await {
            Err(e) if self.start.is_some() && e.status() == Some(500) => {
                tracing::warn!(
                    "the chain's start is gone too; restarting from the first record and skipping ids up to `{watermark}` in byte order"
                );
                self.first().await
            }
            other => other,
        }
    }
}

/// Revisits in constant memory: the last [`CYCLE_WINDOW`] ids, plus Brent's
/// algorithm (a saved "tortoise" id, replaced at every power of two steps;
/// a cycle of length `λ` brings the walk back to it within `λ` steps once
/// the power has reached `λ`).
#[derive(Default)]
struct CycleDetector {
    window: VecDeque<RecordId>,
    tortoise: Option<RecordId>,
    /// Steps since the tortoise was saved.
    lam: u64,
    /// Steps before the tortoise moves again.
    power: u64,
}

impl CycleDetector {
    fn last(&self) -> Option<&RecordId> {
        self.window.back()
    }

    /// Record one step; `Some(n)`: `id` was already answered `n` steps ago.
    fn observe(&mut self, id: &RecordId) -> Option<u64> {
        if let Some(pos) = self.window.iter().rposition(|x| x == id) {
            return Some((self.window.len() - pos) as u64);
        }
        if self.tortoise.as_ref() == Some(id) {
            return Some(self.lam + 1);
        }
        if self.window.len() == CYCLE_WINDOW {
            self.window.pop_front();
        }
        self.window.push_back(id.clone());
        self.lam += 1;
        if self.lam >= self.power {
            self.tortoise = Some(id.clone());
            self.power = (self.power * 2).max(1);
            self.lam = 0;
        }
        None
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;

    /// Walk `next` from `start` until the detector fires; the step count.
    fn detect(next: impl Fn(u64) -> u64, start: u64, limit: u64) -> Option<u64> {
        let mut d = CycleDetector::default();
        let mut x = start;
        for step in 0..limit {
            if d.observe(&RecordId::new(x.to_string())).is_some() {
                return Some(step);
            }
            x = next(x);
        }
        None
    }

    #[test]
    fn short_cycles_are_caught_on_the_first_repeat() {
        // A -> B -> A: the third answer is the repeat.
        assert_eq!(detect(|x| 1 - x, 0, 100), Some(2));
        // A -> A.
        assert_eq!(detect(|x| x, 7, 100), Some(1));
        // A tail of 1000, then a cycle of 20: caught at step 1020.
        assert_eq!(
            detect(|x| if x < 1019 { x + 1 } else { 1000 }, 0, 5000),
            Some(1020)
        );
    }

    #[test]
    fn long_cycles_are_caught_within_a_few_turns() {
        for (tail, len) in [(0u64, 33u64), (5, 100), (1000, 5000), (70_000, 1234)] {
            let next = move |x: u64| if x + 1 < tail + len { x + 1 } else { tail };
            let step = detect(next, 0, 10 * (tail + len)).expect("a cycle");
            // Never before the first repeat, and within 2 turns of the
            // tail-plus-cycle (Brent's bound).
            assert!(step >= tail + len, "{tail}/{len}: {step}");
            assert!(step <= 2 * (tail + len) + len, "{tail}/{len}: {step}");
        }
    }

    #[test]
    fn no_false_alarm_on_a_long_straight_walk() {
        assert_eq!(detect(|x| x + 1, 0, 200_000), None);
    }

    #[test]
    fn chains_from_resolved_starts() {
        let id = |s: &str| Some(RecordId::new(s));
        let specs = chain_specs(&[id("ignored"), id("m"), None, id("t"), id("m")]);
        assert_eq!(specs.len(), 3);
        assert_eq!(specs[0].start, None);
        assert_eq!(specs[0].stop, ["m", "t"]);
        assert_eq!(specs[1].start, id("m"));
        assert_eq!(specs[1].stop, ["t"]);
        assert_eq!(specs[2].start, id("t"));
        assert_eq!(specs[2].stop, ["m"]);
        assert_eq!(chain_specs(&[None]), vec![ChainSpec::default()]);
        assert_eq!(chain_specs(&[]), vec![ChainSpec::default()]);
    }

    #[test]
    fn skips() {
        let id = RecordId::new;
        assert!(!Skip::Nothing.skips(&id("a")));
        let s = Skip::Committed([id("b"), id("c")].into_iter().collect());
        assert!(s.skips(&id("c")) && !s.skips(&id("d")));
        let s = Skip::UpTo(id("5"));
        assert!(s.skips(&id("10")) && s.skips(&id("5")) && !s.skips(&id("6")));
    }
}
