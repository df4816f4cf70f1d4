//! The cursor walk as a stream of record tokens: one chain from its start
//! (`first`, or a seed record) to its stop, resumable after a watermark;
//! and known ids with concurrently minted tokens.

use super::ExtractError;
use super::client::{Client, RecordToken};
use crate::record::RecordId;
use futures::Stream;
use futures::stream::{self, StreamExt};
use std::collections::HashSet;

/// Where one chain of the cursor starts and stops.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ChainSpec {
    /// `None`: the container's `first`; an id: the chain begins with that
    /// record itself (a token minted for it), then `next`.
    pub start: Option<RecordId>,
    /// The chain ends (exclusive) when the cursor answers any of these ids
    /// (the later chains' starts). Empty: it walks to the 404.
    pub stop: Vec<RecordId>,
}

/// Where a resumed chain picks up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resume {
    /// The last committed record.
    pub watermark: RecordId,
    /// The last few committed ids of the chain, oldest first, ending with
    /// the watermark.
    pub recent: Vec<RecordId>,
}

struct State {
    client: Client,
    spec: ChainSpec,
    stop: HashSet<RecordId>,
    resume: Option<Resume>,
    /// The id to ask `next` after; `None` before the first step.
    after: Option<RecordId>,
    started: bool,
    done: bool,
}

/// One chain as an ordered stream. An error ends the stream after it is
/// yielded (the next step would need the id that failed).
pub fn walk(
    client: Client,
    spec: ChainSpec,
    resume: Option<Resume>,
) -> impl Stream<Item = Result<RecordToken, ExtractError>> + Send + 'static {
    let stop = spec.stop.iter().cloned().collect();
    let state = State {
        client,
        spec,
        stop,
        resume,
        after: None,
        started: false,
        done: false,
    };
    stream::unfold(state, |mut st| async move {
        if st.done {
            return None;
        }
        let step = st.step().await;
        match step {
            Ok(Some(t)) if st.stop.contains(&t.record_id) => None,
            Ok(Some(t)) => {
                st.after = Some(t.record_id.clone());
                Some((Ok(t), st))
            }
            Ok(None) => None,
            Err(e) => {
                st.done = true;
                Some((Err(e), st))
            }
        }
    })
}

impl State {
    async fn step(&mut self) -> Result<Option<RecordToken>, ExtractError> {
        if self.started {
            return match &self.after {
                Some(id) => self.client.next(id.as_str()).await,
                None => Ok(None),
            };
        }
        self.started = true;
        if let Some(r) = self.resume.take() {
            return self.resume_after(&r).await;
        }
        self.begin().await
    }

    async fn begin(&self) -> Result<Option<RecordToken>, ExtractError> {
        match &self.spec.start {
            None => {
                let first = self.client.first().await?;
                if first.is_none() {
                    tracing::warn!(
                        "the container has no records: `first` answered 404 (the reference container also answers 404 when it fails inside `first`)"
                    );
                }
                Ok(first)
            }
            Some(id) => self.client.mint(id.as_str()).await.map(Some),
        }
    }

    /// Restart after `r.watermark`. The container answers 500 for an
    /// unknown id, so when the watermark record was deleted, restart after
    /// the newest earlier committed id that still exists and skip the ids
    /// committed after it; when none exists, restart from the chain's start
    /// and skip by byte-wise order (the order the sandbox walks).
    async fn resume_after(&self, r: &Resume) -> Result<Option<RecordToken>, ExtractError> {
        let watermark = r.watermark.as_str();
        match self.client.next(watermark).await {
            Ok(t) => return Ok(t),
            Err(e) if e.status() == Some(500) => {
                tracing::warn!(
                    "the watermark record `{}` is unknown to the container (500): it was probably deleted; restarting from an earlier committed record",
                    r.watermark
                );
            }
            Err(e) => return Err(e),
        }
        for (i, id) in r.recent.iter().enumerate().rev() {
            if id == &r.watermark {
                continue;
            }
            match self.client.next(id.as_str()).await {
                Ok(mut t) => {
                    let committed: HashSet<&RecordId> = r.recent[i + 1..].iter().collect();
                    while let Some(tok) = &t {
                        if !committed.contains(&tok.record_id) {
                            break;
                        }
                        let id = tok.record_id.clone();
                        t = self.client.next(id.as_str()).await?;
                    }
                    return Ok(t);
                }
                Err(e) if e.status() == Some(500) => continue,
                Err(e) => return Err(e),
            }
        }
        tracing::warn!(
            "none of the last {} committed records exists any more; restarting from the chain's start and skipping ids up to `{}` in byte order",
            r.recent.len(),
            r.watermark
        );
        let mut t = self.begin().await?;
        while let Some(tok) = &t {
            if tok.record_id.as_str().as_bytes() > watermark.as_bytes() {
                break;
            }
            let id = tok.record_id.clone();
            t = self.client.next(id.as_str()).await?;
        }
        Ok(t)
    }
}

/// Known ids from `position` on: a token minted for each id, up to
/// `concurrency` at once, yielded in input order with the id it belongs
/// to. A failed mint is yielded as an error for that id and the stream goes
/// on; the caller decides whether it is fatal.
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

/// The actual starts of parallel chains: for each chain `i >= 1`, the first
/// of `candidates[i]` (its seed, then the known ids after it) that the
/// container still has (a mint answers 200; 500 is an unknown id). `None`
/// when none exists: the chain is dropped and the chain before it covers
/// its range. `candidates[0]` is ignored (chain 0 starts at `first`).
pub async fn resolve_starts(
    client: &Client,
    candidates: Vec<Vec<RecordId>>,
) -> Result<Vec<Option<RecordId>>, ExtractError> {
    let jobs = candidates.into_iter().enumerate().map(|(i, ids)| {
        let client = client.clone();
        async move {
            if i == 0 {
                return Ok(None);
            }
            for id in ids {
                match client.mint(id.as_str()).await {
                    Ok(_) => return Ok(Some(id)),
                    Err(e) if e.is_fatal_credentials() => return Err(e),
                    Err(e) if e.status() == Some(500) => continue,
                    Err(e) => return Err(e),
                }
            }
            Ok(None)
        }
    });
    futures::future::join_all(jobs).await.into_iter().collect()
}
