//! `smartsweep preview`: the first records through the same engine as a
//! run, into an in-memory destination, printed as tables.

use super::{
    CliError, aborted, check_concurrency, container, engine_error, exit, overrides, record_source,
    run_config, usage,
};
use crate::cli::{OutputArgs, PreviewArgs};
use crate::engine::{self, Shutdown, Source};
use crate::load::{Format, MemoryFiles, MemoryStore, Output};
use crate::pipeline;
use crate::progress;
use crate::text::escape_control;
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use std::sync::Arc;

pub(super) async fn preview(a: PreviewArgs) -> Result<u8, CliError> {
    let mut plan = pipeline::load(&a.pipeline, &overrides(&a.source, None, None))
        .map_err(|p| CliError::Usage(p.to_string()))?;
    check_concurrency(&a.source)?;
    eprint!("{}", plan.warnings_text());
    if let Some(name) = &a.table {
        let Some(t) = plan.table(name).cloned() else {
            let names: Vec<&str> = plan.tables.iter().map(|t| t.name.as_str()).collect();
            return Err(usage(
                format!("the pipeline has no table `{}`", escape_control(name)),
                format!("use one of: {}", names.join(", ")),
            ));
        };
        plan.tables = vec![t];
    }
    plan.output.format = Format::Parquet;
    plan.output.partition_by.clear();
    let source = match record_source(&a.source)? {
        Source::Known(ids) => Source::Known(ids.into_iter().take(a.records as usize).collect()),
        s => s,
    };
    let names: Vec<(String, String)> = plan
        .tables
        .iter()
        .map(|t| (t.name.clone(), t.dir.clone()))
        .collect();
    let c = container(&plan, &a.source).await?;
    let out = OutputArgs::for_preview();
    let mut cfg = run_config(plan, &a.source, &out, source, &c)?;
    cfg.limit = Some(a.records);
    cfg.breaker = 0;
    let (store, files) = MemoryStore::new();
    let dest = Box::new(Output::new(Box::new(store)));
    let reporter: Arc<dyn progress::Reporter> = Arc::new(progress::Silent);
    let result = engine::run_into(cfg, dest, reporter, Shutdown::never()).await;
    c.stop().await;
    let report = result.map_err(engine_error)?;
    for f in &report.failures {
        eprintln!("{f}");
    }
    for (name, dir) in &names {
        let batches = read_table(&files, dir)?;
        let rows: usize = batches.iter().map(RecordBatch::num_rows).sum();
        if names.len() > 1 {
            println!("table `{name}`:");
        }
        let batches: Vec<RecordBatch> =
            batches.iter().map(escape_batch).collect::<Result<_, _>>()?;
        let table = arrow_cast::pretty::pretty_format_batches(&batches)
            .map_err(|e| aborted(format!("cannot format the rows: {e}")))?;
        println!("{table}");
        println!("{} records, {rows} rows", report.records);
    }
    Ok(exit::OK)
}

/// The rows of the parts under `dir`, in part order.
fn read_table(files: &MemoryFiles, dir: &str) -> Result<Vec<RecordBatch>, CliError> {
    let mut batches = Vec::new();
    for (path, bytes) in files.snapshot() {
        let parent = path.rsplit_once('/').map_or("", |(d, _)| d);
        if parent != dir || !Format::Parquet.is_part_name(path.rsplit('/').next().unwrap_or("")) {
            continue;
        }
        let reader = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))
            .and_then(|b| b.build())
            .map_err(|e| aborted(format!("cannot read the preview rows: {e}")))?;
        for batch in reader {
            batches.push(batch.map_err(|e| aborted(format!("cannot read the preview rows: {e}")))?);
        }
    }
    Ok(batches)
}

/// `batch` for a terminal: every control character in a text cell
/// escaped, so a title or a record id cannot move the cursor, clear the
/// screen or retitle the terminal.
fn escape_batch(batch: &RecordBatch) -> Result<RecordBatch, CliError> {
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .map(|col| match col.as_any().downcast_ref::<StringArray>() {
            Some(strings) => {
                let escaped: StringArray = strings
                    .iter()
                    .map(|v| v.map(|s| escape_control(s).into_owned()))
                    .collect();
                Arc::new(escaped) as ArrayRef
            }
            None => Arc::clone(col),
        })
        .collect();
    RecordBatch::try_new(batch.schema(), columns)
        .map_err(|e| aborted(format!("cannot format the rows: {e}")))
}
