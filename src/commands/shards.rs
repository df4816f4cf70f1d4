//! Past the serial cursor: `--chains` from seeds, and sharded runs
//! (`plan`, `run --shard I/N`, `commit`).
//!
//! The contract: chain 0 starts at `first`; chain i starts at the first of
//! its candidate seeds that still exists and stops when the cursor reaches
//! a candidate of any later chain. The union of the chains is exactly the
//! set of records one serial walk visits, each once, whatever was added or
//! deleted since the seeds were taken.

use super::{CliError, aborted, exit, usage};
use crate::cli::{ChainArgs, CommitArgs, PlanArgs, SourceArgs};
use crate::engine::{Shard, Source};
use crate::extract;
use crate::load::destination::{StorageOptions, open_store};
use crate::load::manifest::{Manifest, RunStatus, ShardPlan, TableSummary};
use crate::load::{self, Location, MANIFEST_FILE, PLAN_FILE, SUCCESS_FILE, Store};
use crate::pipeline::{self, Overrides};
use crate::record::RecordId;
use std::collections::BTreeMap;
use std::path::Path;

/// Candidates per chain: a chain starts at the first that still exists.
pub const CANDIDATES_PER_CHAIN: usize = 16;

/// The seeds `--seeds-from` or `--seeds` name, if any.
fn read_seeds(
    seeds_from: Option<&str>,
    seeds: Option<&Path>,
    storage: &StorageOptions,
) -> Result<Option<Vec<RecordId>>, CliError> {
    if let Some(loc) = seeds_from {
        let location = Location::parse(loc).map_err(|m| {
            usage(
                m,
                "give --seeds-from a directory or URL of a finished smartsweep output",
            )
        })?;
        let store = open_store(&location, storage).map_err(super::load_error)?;
        let ids = load::read::seeds_of(store.as_ref()).map_err(super::load_error)?;
        return Ok(Some(ids));
    }
    if let Some(file) = seeds {
        let ids = extract::read_record_ids(file).map_err(|e| {
            usage(
                e,
                "give --seeds a file with one record id per line, in cursor order",
            )
        })?;
        return Ok(Some(ids.into_iter().map(RecordId::from).collect()));
    }
    Ok(None)
}

/// Splits `seeds` (in cursor order) into `k` even shares: chain 0 starts
/// at `first` and covers the first share; chain i's candidate starts are
/// the first [`CANDIDATES_PER_CHAIN`] ids of share i.
pub fn split_seeds(seeds: &[RecordId], k: usize) -> Vec<Vec<RecordId>> {
    let n = seeds.len();
    let k = k.clamp(1, n.max(1));
    (0..k)
        .map(|i| {
            if i == 0 {
                return Vec::new();
            }
            let from = i * n / k;
            let to = ((i + 1) * n / k).min(from + CANDIDATES_PER_CHAIN);
            seeds[from..to.max(from + 1).min(n)].to_vec()
        })
        .collect()
}

/// The record source of `run`/`audit` with `--chains`.
pub(super) fn chain_source(
    chains: &ChainArgs,
    src: &SourceArgs,
    base: Source,
    storage: &StorageOptions,
) -> Result<Source, CliError> {
    if chains.chains == 0 {
        return Err(usage(
            "--chains `0` is not a number of chains",
            "use 1 (one serial chain, the default) or more, e.g. --chains 16 with --seeds-from DIR",
        ));
    }
    let seeded = chains.seeds_from.is_some() || chains.seeds.is_some();
    if chains.chains == 1 && !seeded {
        return Ok(base);
    }
    if src.records_from.is_some() {
        return Err(usage(
            "--chains and --seeds walk the cursor; --records-from mints a token per known id, which is already parallel",
            "use one of them",
        ));
    }
    let Some(seeds) = read_seeds(
        chains.seeds_from.as_deref(),
        chains.seeds.as_deref(),
        storage,
    )?
    else {
        eprintln!(
            "smartsweep: --chains {}: no seeds (--seeds-from DIR or --seeds FILE), so one chain walks the cursor",
            chains.chains
        );
        return Ok(base);
    };
    if chains.chains == 1 {
        return Ok(base);
    }
    if seeds.is_empty() {
        eprintln!(
            "smartsweep: --chains {}: the seed list is empty, so one chain walks the cursor",
            chains.chains
        );
        return Ok(base);
    }
    Ok(Source::Chains(split_seeds(&seeds, chains.chains as usize)))
}

/// `I/N`, checked.
fn parse_shard(raw: &str) -> Result<(usize, usize), CliError> {
    let bad = || {
        usage(
            format!("--shard `{}` is not I/N", crate::text::escape_control(raw)),
            "give the 0-based shard number and the shard count, e.g. --shard 3/8 (I < N)",
        )
    };
    let (i, n) = raw.split_once('/').ok_or_else(bad)?;
    let i: usize = i.trim().parse().map_err(|_| bad())?;
    let n: usize = n.trim().parse().map_err(|_| bad())?;
    if n == 0 || i >= n {
        return Err(bad());
    }
    Ok((i, n))
}

/// The plan of a sharded output, if it has one.
pub(super) fn read_plan(store: &dyn Store) -> Result<Option<ShardPlan>, CliError> {
    let Some(bytes) = store.read(PLAN_FILE).map_err(super::load_error)? else {
        return Ok(None);
    };
    ShardPlan::from_json(&bytes).map(Some).map_err(|e| {
        usage(
            format!(
                "`{}` is not a smartsweep shard plan: {e}",
                store.describe_path(PLAN_FILE)
            ),
            "re-run `smartsweep plan` for this output",
        )
    })
}

/// For `run`: the shard this process runs, when the output holds a plan
/// (from `--shard I/N`, else `JOB_COMPLETION_INDEX`), with the source of
/// the plan's chains.
pub(super) fn shard_of(
    chains: &ChainArgs,
    plan: &pipeline::Plan,
    storage: &StorageOptions,
) -> Result<Option<(Shard, Source)>, CliError> {
    let store = open_store(&plan.output.location, storage).map_err(super::load_error)?;
    let shard_plan = read_plan(store.as_ref())?;
    let from_env = std::env::var("JOB_COMPLETION_INDEX").ok();
    let Some(sp) = shard_plan else {
        if chains.shard.is_some() {
            return Err(usage(
                format!(
                    "--shard given, but `{}` holds no shard plan",
                    plan.output.location
                ),
                "run `smartsweep plan PIPELINE --shards N --seeds-from ...` for this output first",
            ));
        }
        return Ok(None);
    };
    let (i, n) = match (&chains.shard, from_env) {
        (Some(raw), _) => parse_shard(raw)?,
        (None, Some(idx)) => {
            let i: usize = idx.trim().parse().map_err(|_| {
                usage(
                    format!(
                        "JOB_COMPLETION_INDEX `{}` is not a number",
                        crate::text::escape_control(&idx)
                    ),
                    "run under a Kubernetes Indexed Job, or pass --shard I/N",
                )
            })?;
            (i, sp.shards.len())
        }
        (None, None) => {
            return Err(usage(
                format!(
                    "`{}` holds a shard plan ({} shards)",
                    plan.output.location,
                    sp.shards.len()
                ),
                "run each shard with --shard I/N (or under an Indexed Job), then `smartsweep commit OUTPUT`",
            ));
        }
    };
    if n != sp.shards.len() || i >= n {
        return Err(usage(
            format!(
                "--shard {i}/{n} does not fit the plan's {} shards",
                sp.shards.len()
            ),
            format!(
                "use I from 0 to {} with N = {}",
                sp.shards.len().saturating_sub(1),
                sp.shards.len()
            ),
        ));
    }
    if sp.pipeline_hash != plan.hash() {
        return Err(usage(
            format!(
                "the shard plan in `{}` was made for another pipeline (or another version of it)",
                plan.output.location
            ),
            "re-run `smartsweep plan` with this pipeline, or use the pipeline the plan was made for",
        ));
    }
    let shard = Shard {
        index: i,
        count: n,
        chains: sp.shards[i].clone(),
    };
    Ok(Some((shard, Source::Chains(sp.chains.clone()))))
}

/// `smartsweep plan`.
pub(super) fn plan(a: PlanArgs) -> Result<u8, CliError> {
    let overrides = Overrides {
        output: a.output.clone(),
        api_base: a.api_base.clone(),
        app_id: a.app_id.clone(),
        ..Overrides::default()
    };
    let p = pipeline::load(&a.pipeline, &overrides).map_err(|p| CliError::Usage(p.to_string()))?;
    if a.shards == 0 {
        return Err(usage(
            "--shards `0` is not a number of shards",
            "use 1 or more",
        ));
    }
    let k = a.chains.unwrap_or(a.shards * 4).max(a.shards) as usize;
    let storage = StorageOptions::default();
    let Some(seeds) = read_seeds(a.seeds_from.as_deref(), a.seeds.as_deref(), &storage)? else {
        return Err(usage(
            "a sharded run needs seeds to split the cursor",
            "pass --seeds-from DIR (a previous output) or --seeds FILE",
        ));
    };
    if seeds.is_empty() {
        return Err(usage(
            "the seed list is empty",
            "take seeds from a finished output that has records",
        ));
    }
    let chains = split_seeds(&seeds, k);
    let shards = assign(chains.len(), a.shards as usize);
    let sp = ShardPlan {
        smartsweep_version: env!("CARGO_PKG_VERSION").to_owned(),
        pipeline: p.name.clone(),
        pipeline_hash: p.hash(),
        chains,
        shards,
    };
    let mut store = open_store(&p.output.location, &storage).map_err(super::load_error)?;
    store.prepare("").map_err(super::load_error)?;
    let bytes = sp
        .to_json()
        .map_err(|e| aborted(format!("cannot encode the plan: {e}")))?;
    store.put(PLAN_FILE, &bytes).map_err(super::load_error)?;
    println!(
        "smartsweep: planned {} chains over {} shards into {} ({} seeds); run each with --shard I/{}, then `smartsweep commit {}`",
        sp.chains.len(),
        sp.shards.len(),
        p.output.location,
        seeds.len(),
        sp.shards.len(),
        p.output.location
    );
    Ok(exit::OK)
}

/// Consecutive chains per shard, as even as can be.
fn assign(chains: usize, shards: usize) -> Vec<Vec<u32>> {
    (0..shards)
        .map(|s| {
            let from = s * chains / shards;
            let to = (s + 1) * chains / shards;
            (from as u32..to as u32).collect()
        })
        .collect()
}

/// `smartsweep commit`.
pub(super) fn commit(a: CommitArgs) -> Result<u8, CliError> {
    let location = Location::parse(&a.output)
        .map_err(|m| usage(m, "give the sharded output's directory or URL"))?;
    let mut store = open_store(&location, &StorageOptions::default()).map_err(super::load_error)?;
    store.prepare("").map_err(super::load_error)?;
    let Some(sp) = read_plan(store.as_ref())? else {
        return Err(usage(
            format!("`{location}` holds no shard plan (`{PLAN_FILE}`)"),
            "commit finishes a sharded run: run `smartsweep plan` first, then every shard",
        ));
    };
    if store
        .read(SUCCESS_FILE)
        .map_err(super::load_error)?
        .is_some()
    {
        println!(
            "smartsweep: `{location}` is already committed (`_SUCCESS` exists); nothing to do"
        );
        return Ok(exit::OK);
    }
    let mut manifests = Vec::new();
    let mut unfinished = Vec::new();
    for i in 0..sp.shards.len() {
        let dir = ShardPlan::control_dir(i);
        let done = store
            .read(&format!("{dir}/{SUCCESS_FILE}"))
            .map_err(super::load_error)?
            .is_some();
        let manifest = store
            .read(&format!("{dir}/{MANIFEST_FILE}"))
            .map_err(super::load_error)?
            .and_then(|b: Vec<u8>| Manifest::from_json(&b).ok());
        match (done, manifest) {
            (true, Some(m)) => manifests.push(m),
            _ => unfinished.push(i),
        }
    }
    if !unfinished.is_empty() {
        let list: Vec<String> = unfinished
            .iter()
            .map(|i| format!("{i}/{}", sp.shards.len()))
            .collect();
        return Err(aborted(format!(
            "error: {} of {} shards are not finished: {}\n  hint: run (or let your engine retry) those shards with --shard I/N, then commit again",
            unfinished.len(),
            sp.shards.len(),
            list.join(", ")
        )));
    }
    let merged = merge(manifests).ok_or_else(|| aborted("error: the plan has no shard"))?;
    let errors = load::errors_csv(&merged.failures);
    if !merged.failures.is_empty() {
        store
            .put(load::ERRORS_FILE, &errors)
            .map_err(super::load_error)?;
    }
    let bytes = merged
        .to_json()
        .map_err(|e| aborted(format!("cannot encode the manifest: {e}")))?;
    store
        .put(MANIFEST_FILE, &bytes)
        .map_err(super::load_error)?;
    store.put(SUCCESS_FILE, b"").map_err(super::load_error)?;
    println!(
        "smartsweep: committed {} shards: {} records, {} rows, {} failed, {} parts in {location}",
        sp.shards.len(),
        merged.records,
        merged.rows,
        merged.failed,
        merged.parts.len()
    );
    Ok(if merged.failures.is_empty() {
        exit::OK
    } else {
        exit::PARTIAL
    })
}

/// One shard's state, for `status` of a sharded output before its commit.
#[derive(Debug, serde::Serialize)]
struct ShardStatus {
    shard: usize,
    /// `finished`, `running`, `stopped`, `unfinished` or `not started`.
    state: &'static str,
    records: u64,
    rows: u64,
    failed: usize,
    chains: usize,
    chains_finished: usize,
}

/// `status` of a sharded output whose `commit` has not run yet: one line
/// per shard. `None` when `store` is not such an output.
pub(super) fn status(
    store: &dyn Store,
    location: &Location,
    json: bool,
) -> Result<Option<u8>, CliError> {
    let Some(sp) = read_plan(store)? else {
        return Ok(None);
    };
    if store
        .read(MANIFEST_FILE)
        .map_err(super::load_error)?
        .is_some()
    {
        return Ok(None);
    }
    let mut shards = Vec::new();
    for i in 0..sp.shards.len() {
        shards.push(shard_status(store, location, &sp, i)?);
    }
    if json {
        let v = serde_json::json!({
            "output": location.to_string(),
            "state": "sharded, not committed",
            "shards": shards,
        });
        println!("{v}");
        return Ok(Some(exit::OK));
    }
    let done = shards.iter().filter(|s| s.state == "finished").count();
    println!(
        "smartsweep status: `{location}`: sharded ({} shards, {} chains), {done} of {} shards finished; `smartsweep commit` once all are",
        sp.shards.len(),
        sp.chains.len(),
        sp.shards.len()
    );
    for s in &shards {
        println!(
            "  shard {}/{}: {}: {} records, {} rows, {} failed, chains {}/{} walked to their end",
            s.shard,
            sp.shards.len(),
            s.state,
            s.records,
            s.rows,
            s.failed,
            s.chains_finished,
            s.chains
        );
    }
    Ok(Some(exit::OK))
}

fn shard_status(
    store: &dyn Store,
    location: &Location,
    sp: &ShardPlan,
    i: usize,
) -> Result<ShardStatus, CliError> {
    let dir = ShardPlan::control_dir(i);
    let read = |name: &str| {
        store
            .read(&format!("{dir}/{name}"))
            .map_err(super::load_error)
    };
    let mut s = ShardStatus {
        shard: i,
        state: "not started",
        records: 0,
        rows: 0,
        failed: 0,
        chains: sp.shards[i].len(),
        chains_finished: 0,
    };
    if read(SUCCESS_FILE)?.is_some()
        && let Some(m) = read(MANIFEST_FILE)?.and_then(|b| Manifest::from_json(&b).ok())
    {
        s.state = "finished";
        s.records = m.records;
        s.rows = m.rows;
        s.failed = m.failed;
        s.chains_finished = m.chains.len();
        s.chains = m.chains.len();
    } else if let Some(cp) =
        read(load::CHECKPOINT_FILE)?.and_then(|b| crate::checkpoint::Checkpoint::from_json(&b).ok())
    {
        s.state = match location
            .as_local()
            .map(|d| super::verify::held(&Location::Local(d.join(&dir))))
        {
            Some(Some(true)) => "running",
            Some(Some(false)) => "stopped",
            _ => "unfinished",
        };
        s.records = cp.records;
        s.rows = cp.rows();
        s.failed = cp.failures.len();
        s.chains = cp.chains.len();
        s.chains_finished = cp.chains.iter().filter(|c| c.finished).count();
    }
    Ok(s)
}

/// The dataset's manifest from its shards' (in shard order).
fn merge(manifests: Vec<Manifest>) -> Option<Manifest> {
    let mut it = manifests.into_iter();
    let mut m = it.next()?;
    for s in it {
        m.records += s.records;
        m.rows += s.rows;
        m.failures.extend(s.failures);
        m.parts.extend(s.parts);
        m.chains.extend(s.chains);
        m.seeds.extend(s.seeds);
        m.elapsed_s = m.elapsed_s.max(s.elapsed_s);
        m.started_at = m.started_at.min(s.started_at);
        m.finished_at = m.finished_at.max(s.finished_at);
        m.http.requests += s.http.requests;
        m.http.retries += s.http.retries;
        m.http.token_remints += s.http.token_remints;
        for (k, v) in s.http.retries_by_cause {
            *m.http.retries_by_cause.entry(k).or_default() += v;
        }
        merge_tables(&mut m.tables, s.tables);
        for (col, stat) in s.conversions {
            m.conversions.entry(col).or_default().merge(&stat);
        }
        m.slowest_records.extend(s.slowest_records);
    }
    m.slowest_records
        .sort_by(|a, b| b.ms.partial_cmp(&a.ms).unwrap_or(std::cmp::Ordering::Equal));
    m.slowest_records.truncate(10);
    m.failed = m.failures.len();
    m.status = if m.failures.is_empty() {
        RunStatus::Complete
    } else {
        RunStatus::CompleteWithFailures
    };
    m.timeline.clear();
    m.elapsed_s_this_invocation = m.elapsed_s;
    Some(m)
}

fn merge_tables(into: &mut BTreeMap<String, TableSummary>, from: BTreeMap<String, TableSummary>) {
    for (name, t) in from {
        let e = into.entry(name).or_insert_with(|| TableSummary {
            dir: t.dir.clone(),
            ..TableSummary::default()
        });
        e.rows += t.rows;
        e.records_with_rows += t.records_with_rows;
        e.failed += t.failed;
        e.parts.extend(t.parts);
        for (col, stat) in t.conversions {
            e.conversions.entry(col).or_default().merge(&stat);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ids(n: usize) -> Vec<RecordId> {
        (0..n).map(|i| RecordId::new(format!("{i:04}"))).collect()
    }

    #[test]
    fn seeds_split_into_ordered_candidate_lists() {
        let c = split_seeds(&ids(100), 4);
        assert_eq!(c.len(), 4);
        assert!(c[0].is_empty());
        assert_eq!(c[1][0].as_str(), "0025");
        assert_eq!(c[2][0].as_str(), "0050");
        assert_eq!(c[3][0].as_str(), "0075");
        assert!(c.iter().all(|l| l.len() <= CANDIDATES_PER_CHAIN));
        // Fewer seeds than chains: one chain per seed.
        let c = split_seeds(&ids(3), 16);
        assert_eq!(c.len(), 3);
        assert_eq!(c[1], ids(3)[1..2]);
        assert_eq!(c[2], ids(3)[2..]);
    }

    #[test]
    fn shards_take_consecutive_chains() {
        assert_eq!(assign(8, 3), vec![vec![0, 1], vec![2, 3, 4], vec![5, 6, 7]]);
        assert_eq!(assign(2, 2), vec![vec![0], vec![1]]);
        assert!(parse_shard("3/2").is_err());
        assert!(parse_shard("0/0").is_err());
        assert!(parse_shard("x").is_err());
        assert_eq!(parse_shard("1/2").ok(), Some((1, 2)));
    }
}
