//! Where a run's records come from: one producer task per chain, walking
//! the cursor (or minting tokens for known ids) into a bounded channel.
//!
//! When the channel is full the producer waits: that is the backpressure
//! on each serial chain. Only the producers are told to stop; everything
//! after them drains.

use super::{EngineError, Work};
use crate::checkpoint::ChainState;
use crate::extract::walk::{self, ChainSpec, Resume};
use crate::extract::{Client, ExtractError};
use crate::failure::{RecordFailure, Stage};
use crate::record::RecordId;
use futures::StreamExt;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Where the records come from.
#[derive(Debug, Clone)]
pub enum Source {
    /// The container's background-app cursor (`first`, then `next`), in
    /// one chain.
    Cursor,
    /// The cursor in several chains started from seeds: per chain, its
    /// candidate starts (the seed, then known ids after it), in the
    /// container's order. Chain 0 starts at `first` (its list is ignored).
    Chains(Vec<Vec<RecordId>>),
    /// Known record ids (`--records-from`): one token minted per id,
    /// concurrently; output in this order.
    Known(Vec<RecordId>),
}

/// Starts chain `state`'s producer: it sends [`Work`] until the chain
/// ends (`Ok(true)`), the stop signal fires (`Ok(false)`), or the cursor
/// fails (the task's error).
pub(super) fn spawn_producer(
    client: Client,
    known: Option<Vec<RecordId>>,
    state: &ChainState,
    (concurrency, limit): (usize, Option<u64>),
    tx: mpsc::Sender<Work>,
    stop: watch::Receiver<bool>,
) -> JoinHandle<Result<bool, EngineError>> {
    let limit = limit.unwrap_or(u64::MAX);
    let resume = state.watermark.clone().map(|watermark| Resume {
        watermark,
        recent: state.recent_ids.clone(),
    });
    match known {
        Some(ids) => {
            let position = state.position;
            tokio::spawn(async move {
                produce_known(client, ids, position, (concurrency, limit), tx, stop)
                    .await
                    .map_err(EngineError::from)
            })
        }
        None => {
            let spec = ChainSpec {
                start: state.start.clone(),
                stop: state.stop.clone(),
            };
            tokio::spawn(async move {
                produce_cursor(client, spec, resume, limit, tx, stop)
                    .await
                    .map_err(EngineError::from)
            })
        }
    }
}

async fn send(tx: &mpsc::Sender<Work>, stop: &mut watch::Receiver<bool>, w: Work) -> bool {
    tokio::select! {
        r = tx.send(w) => r.is_ok(),
        _ = stop.wait_for(|s| *s) => false,
    }
}

async fn produce_cursor(
    client: Client,
    spec: ChainSpec,
    resume: Option<Resume>,
    limit: u64,
    tx: mpsc::Sender<Work>,
    mut stop: watch::Receiver<bool>,
) -> Result<bool, ExtractError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut tokens = Box::pin(walk::walk(client, spec, resume).take(limit));
    loop {
        let next = tokio::select! {
            t = tokens.next() => t,
            _ = stop.wait_for(|s| *s) => return Ok(false),
        };
        let Some(token) = next else { return Ok(true) };
        let token = token?;
        let w = Work {
            record_id: token.record_id.clone(),
            token: Ok(token),
        };
        if !send(&tx, &mut stop, w).await {
            return Ok(false);
        }
    }
}

async fn produce_known(
    client: Client,
    ids: Vec<RecordId>,
    position: u64,
    (concurrency, limit): (usize, u64),
    tx: mpsc::Sender<Work>,
    mut stop: watch::Receiver<bool>,
) -> Result<bool, ExtractError> {
    let limit = usize::try_from(limit).unwrap_or(usize::MAX);
    let mut tokens = Box::pin(walk::known(client, ids, position, concurrency).take(limit));
    while let Some((id, token)) = tokens.next().await {
        if *stop.borrow() {
            return Ok(false);
        }
        let token = match token {
            Ok(t) => Ok(t),
            Err(e) if e.is_fatal_credentials() => return Err(e),
            Err(e) => Err(RecordFailure {
                record_id: id.clone(),
                table: None,
                stage: Stage::Fetch,
                http_status: e.status(),
                attempts: 0,
                message: format!("could not get a token for the record: {e}"),
            }),
        };
        if !send(
            &tx,
            &mut stop,
            Work {
                record_id: id,
                token,
            },
        )
        .await
        {
            return Ok(false);
        }
    }
    Ok(true)
}
