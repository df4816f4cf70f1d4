//! One record's work: fetch each resource its tables need (once per
//! resource and query, concurrently, under the run's fetch budget), then
//! transform every table on the blocking pool (one task per record, every
//! table of it).

use super::stats::StageTimes;
use crate::extract::{Client, RecordToken};
use crate::failure::{RecordFailure, Stage};
use crate::pipeline::{FetchKey, Plan};
use crate::record::RecordId;
use crate::transform::{ProjectionSet, RecordRows};
use bytes::Bytes;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// Tables that share one request per record (same resource, filters and
/// paging): fetched once, parsed once, each table's query evaluated on the
/// one graph.
pub(super) struct FetchGroup {
    resource: String,
    params: Vec<(String, String)>,
    page_size: Option<u32>,
    /// Indexes into the plan's tables.
    tables: Vec<usize>,
    /// Their queries, over one parse.
    set: ProjectionSet,
}

/// The fetch groups of a plan, in table order.
pub(super) fn fetch_groups(plan: &Plan) -> Vec<FetchGroup> {
    let mut keys: Vec<(FetchKey, Vec<usize>)> = Vec::new();
    for (i, t) in plan.tables.iter().enumerate() {
        let key = t.fetch_key();
        match keys.iter_mut().find(|(k, _)| *k == key) {
            Some((_, tables)) => tables.push(i),
            None => keys.push((key, vec![i])),
        }
    }
    keys.into_iter()
        .map(|((resource, params, page_size), tables)| FetchGroup {
            set: ProjectionSet::new(
                tables
                    .iter()
                    .map(|&t| plan.tables[t].projection.clone())
                    .collect(),
            ),
            resource,
            params,
            page_size,
            tables,
        })
        .collect()
}

/// What the sink needs to run the work: shared, cheap to clone.
#[derive(Clone)]
pub(super) struct Worker {
    pub client: Client,
    pub groups: Arc<Vec<FetchGroup>>,
    pub table_names: Arc<Vec<String>>,
    /// Fetches in flight at most (`--concurrency`).
    pub fetch_permits: Arc<Semaphore>,
    /// Transforms at most (one per core).
    pub cpu_permits: Arc<Semaphore>,
    pub times: Arc<StageTimes>,
}

/// One record's token, as the producer hands it over.
pub(crate) struct Work {
    pub record_id: RecordId,
    pub token: Result<RecordToken, RecordFailure>,
}

/// One record's result, back in order.
pub(crate) struct Done {
    pub record_id: RecordId,
    /// Per table, in plan order: its rows or why it failed. `Err`: the
    /// whole record failed (no token).
    pub tables: Result<Vec<Result<RecordRows, RecordFailure>>, RecordFailure>,
    /// Fetch and transform time of the record.
    pub elapsed: Duration,
}

impl Worker {
    /// Fetches and transforms one record.
    pub(super) async fn run(self, w: Work) -> Done {
        let t0 = Instant::now();
        let token = match w.token {
            Ok(t) => t,
            Err(f) => {
                return Done {
                    record_id: w.record_id,
                    tables: Err(f),
                    elapsed: t0.elapsed(),
                };
            }
        };
        let fetches = self.groups.iter().map(|g| self.fetch(&token, g));
        let bodies = futures::future::join_all(fetches).await;
        let tables = self.transform(&token.record_id, bodies).await;
        Done {
            record_id: w.record_id,
            tables: Ok(tables),
            elapsed: t0.elapsed(),
        }
    }

    async fn fetch(
        &self,
        token: &RecordToken,
        g: &FetchGroup,
    ) -> Result<(Vec<Bytes>, String), RecordFailure> {
        let _permit = self.fetch_permits.acquire().await;
        let t0 = Instant::now();
        let r = self
            .client
            .fetch(token, &g.resource, &g.params, g.page_size)
            .await;
        StageTimes::add(&self.times.fetch_ns, t0);
        // The request URL, percent-encoded: the base IRI of the answer.
        r.map(|f| (f.pages, f.url))
    }

    /// Every table of the record on the blocking pool, in one task.
    async fn transform(
        &self,
        record_id: &RecordId,
        bodies: Vec<Result<(Vec<Bytes>, String), RecordFailure>>,
    ) -> Vec<Result<RecordRows, RecordFailure>> {
        let _permit = self.cpu_permits.acquire().await;
        let this = self.clone();
        let id = record_id.clone();
        let t0 = Instant::now();
        let joined =
            tokio::task::spawn_blocking(move || this.transform_blocking(&id, bodies)).await;
        StageTimes::add(&self.times.transform_ns, t0);
        let n = self.table_names.len();
        joined.unwrap_or_else(|e| {
            (0..n)
                .map(|i| {
                    Err(self.failure(
                        record_id,
                        i,
                        Stage::Transform,
                        format!("the transform crashed: {e}"),
                    ))
                })
                .collect()
        })
    }

    fn transform_blocking(
        &self,
        record_id: &RecordId,
        bodies: Vec<Result<(Vec<Bytes>, String), RecordFailure>>,
    ) -> Vec<Result<RecordRows, RecordFailure>> {
        let mut out: Vec<Option<Result<RecordRows, RecordFailure>>> =
            (0..self.table_names.len()).map(|_| None).collect();
        for (g, body) in self.groups.iter().zip(bodies) {
            let results = body.and_then(|(pages, base)| {
                let pages: Vec<&[u8]> = pages.iter().map(|b| b.as_ref()).collect();
                g.set
                    .apply(record_id.as_str(), &pages, &base)
                    .map_err(|e| e.into_failure(record_id.as_str()))
            });
            match results {
                Ok(rows) => {
                    for (&t, r) in g.tables.iter().zip(rows) {
                        out[t] = Some(Ok(r));
                    }
                }
                Err(f) => {
                    for &t in &g.tables {
                        out[t] = Some(Err(self.for_table(f.clone(), t)));
                    }
                }
            }
        }
        out.into_iter()
            .enumerate()
            .map(|(i, r)| {
                r.unwrap_or_else(|| {
                    Err(self.failure(
                        record_id,
                        i,
                        Stage::Transform,
                        "no fetch for the table".into(),
                    ))
                })
            })
            .collect()
    }

    /// A failure tagged with its table when the pipeline has several.
    fn for_table(&self, mut f: RecordFailure, table: usize) -> RecordFailure {
        if self.table_names.len() > 1 {
            f.table = self.table_names.get(table).cloned();
        }
        f
    }

    fn failure(&self, id: &RecordId, table: usize, stage: Stage, message: String) -> RecordFailure {
        self.for_table(
            RecordFailure {
                record_id: id.clone(),
                table: None,
                stage,
                http_status: None,
                attempts: 0,
                message,
            },
            table,
        )
    }
}
