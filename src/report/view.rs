//! One shape for what the report shows, whether it comes from a finished
//! run's manifest or an unfinished run's checkpoint: `None` where the
//! source does not know.

use super::{Extras, Unfinished};
use crate::checkpoint::{Checkpoint, ConversionStat, Mode, Sample};
use crate::failure::RecordFailure;
use crate::load::manifest::{
    AuditSummary, HttpSummary, Manifest, PipelineInfo, RunStatus, SlowRecord, StageBusy,
};
use crate::record::RecordId;
use std::collections::BTreeMap;

/// How the run stands.
pub(super) enum Standing {
    Finished(RunStatus),
    Unfinished(Unfinished),
}

/// One chain's line.
pub(super) struct ChainRow {
    pub start: Option<RecordId>,
    pub stops: usize,
    pub first_stop: Option<RecordId>,
    pub watermark: Option<RecordId>,
    pub records: u64,
    pub finished: Option<bool>,
}

/// One table's line.
pub(super) struct TableRow<'a> {
    pub name: &'a str,
    pub dir: String,
    pub rows: u64,
    pub records_with_rows: u64,
    pub failed: Option<u64>,
    pub parts: usize,
    pub bytes: u64,
    pub conversions: &'a BTreeMap<String, ConversionStat>,
}

/// Everything the sections draw.
pub(super) struct View<'a> {
    pub standing: Standing,
    pub pipeline: Option<&'a PipelineInfo>,
    pub run_id: &'a str,
    pub api_base: Option<String>,
    pub app_id: Option<&'a str>,
    pub version: Option<&'a str>,
    pub mode: Mode,
    pub started_at: &'a str,
    pub finished_at: Option<&'a str>,
    pub elapsed_s: f64,
    pub resumed: Option<bool>,
    pub concurrency: Option<usize>,
    pub records: u64,
    pub rows: u64,
    pub failures: &'a [RecordFailure],
    pub tables: Vec<TableRow<'a>>,
    pub chains: Vec<ChainRow>,
    pub timeline: &'a [Sample],
    pub stage_busy: Option<StageBusy>,
    pub http: Option<&'a HttpSummary>,
    pub slowest: &'a [SlowRecord],
    pub audit: Option<&'a AuditSummary>,
}

/// The container's URL without user, password or query.
fn clean_url(raw: &str) -> String {
    match reqwest::Url::parse(raw) {
        Ok(u) => crate::load::destination::redact(&u),
        Err(_) => raw.split(['?', '@']).next().unwrap_or("").to_owned(),
    }
}

impl<'a> View<'a> {
    pub fn finished(m: &'a Manifest) -> View<'a> {
        let tables = m
            .tables
            .iter()
            .map(|(name, t)| TableRow {
                name,
                dir: t.dir.clone(),
                rows: t.rows,
                records_with_rows: t.records_with_rows,
                failed: Some(t.failed),
                parts: t.parts.len(),
                bytes: t.parts.iter().map(|p| p.bytes).sum(),
                conversions: &t.conversions,
            })
            .collect();
        let chains = m
            .chains
            .iter()
            .map(|c| ChainRow {
                start: c.start.clone(),
                stops: c.stop.len(),
                first_stop: c.stop.first().cloned(),
                watermark: None,
                records: c.records,
                finished: Some(true),
            })
            .collect();
        View {
            standing: Standing::Finished(m.status),
            pipeline: Some(&m.pipeline),
            run_id: &m.run_id,
            api_base: Some(clean_url(&m.api_base)),
            app_id: Some(&m.app_id),
            version: Some(&m.smartsweep_version),
            mode: m.mode,
            started_at: &m.started_at,
            finished_at: Some(&m.finished_at),
            elapsed_s: m.elapsed_s.max(m.elapsed_s_this_invocation),
            resumed: Some(m.resumed),
            concurrency: Some(m.concurrency),
            records: m.records,
            rows: m.rows,
            failures: &m.failures,
            tables,
            chains,
            timeline: &m.timeline,
            stage_busy: Some(m.stage_busy_seconds),
            http: Some(&m.http),
            slowest: &m.slowest_records,
            audit: m.audit.as_ref(),
        }
    }

    pub fn unfinished(cp: &'a Checkpoint, state: &Unfinished, extras: &'a Extras) -> View<'a> {
        let tables = cp
            .tables
            .iter()
            .map(|(name, t)| TableRow {
                name,
                dir: extras
                    .pipeline
                    .as_ref()
                    .and_then(|p| p.tables.iter().find(|i| &i.name == name))
                    .map_or_else(String::new, |i| i.dir.clone()),
                rows: t.rows,
                records_with_rows: t.records_with_rows,
                failed: Some(
                    cp.failures
                        .iter()
                        .filter(|f| f.table.as_deref() == Some(name.as_str()))
                        .count() as u64,
                ),
                parts: t.parts.len(),
                bytes: t.parts.iter().map(|p| p.bytes).sum(),
                conversions: &t.conversions,
            })
            .collect();
        let chains = cp
            .chains
            .iter()
            .map(|c| ChainRow {
                start: c.start.clone(),
                stops: c.stop.len(),
                first_stop: c.stop.first().cloned(),
                watermark: c.watermark.clone(),
                records: c.position,
                finished: Some(c.finished),
            })
            .collect();
        View {
            standing: Standing::Unfinished(state.clone()),
            pipeline: extras.pipeline.as_ref(),
            run_id: &cp.run_id,
            api_base: extras.api_base.as_deref().map(clean_url),
            app_id: None,
            version: None,
            mode: cp.mode,
            started_at: &cp.started_at,
            finished_at: None,
            elapsed_s: cp.elapsed_s,
            resumed: None,
            concurrency: extras.concurrency,
            records: cp.records,
            rows: cp.rows(),
            failures: &cp.failures,
            tables,
            chains,
            timeline: &cp.timeline,
            stage_busy: extras.stage_busy_seconds,
            http: extras.http.as_ref(),
            slowest: &extras.slowest_records,
            audit: None,
        }
    }

    /// Distinct records with a failure.
    pub fn failed_records(&self) -> usize {
        let ids: std::collections::BTreeSet<&RecordId> =
            self.failures.iter().map(|f| &f.record_id).collect();
        ids.len()
    }

    pub fn parts(&self) -> usize {
        self.tables.iter().map(|t| t.parts).sum()
    }

    pub fn bytes(&self) -> u64 {
        self.tables.iter().map(|t| t.bytes).sum()
    }

    pub fn is_finished(&self) -> bool {
        matches!(self.standing, Standing::Finished(_))
    }
}
