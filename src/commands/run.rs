//! `smartsweep run` and `smartsweep audit`.

use super::shards;
use super::{
    CliError, Container, check_concurrency, container, engine_error, exit, overrides,
    record_source, run_config, signals, usage,
};
use crate::cli::{AuditArgs, OutputArgs, RunArgs, SourceArgs};
use crate::engine::{self, Outcome, RunReport, Shard, Source};
use crate::pipeline::{self, Overrides, Plan};
use crate::progress;
use std::path::Path;
use std::sync::Arc;

/// Runs `plan` to its report; the container is stopped before returning.
async fn execute_plan(
    plan: Plan,
    src: &SourceArgs,
    out: &OutputArgs,
    source: Source,
    (quiet, audit, shard): (bool, Option<Vec<String>>, Option<Shard>),
) -> Result<RunReport, CliError> {
    check_concurrency(src)?;
    super::max_failed(out)?;
    let total = match &source {
        Source::Known(ids) => Some(ids.len() as u64),
        _ => None,
    };
    let c: Container = container(&plan, src).await?;
    let cfg = run_config(plan, src, out, source, &c);
    let cfg = match cfg {
        Ok(mut cfg) => {
            cfg.audit = audit;
            cfg.shard = shard;
            cfg
        }
        Err(e) => {
            c.stop().await;
            return Err(e);
        }
    };
    let reporter: Arc<dyn progress::Reporter> = Arc::from(progress::for_terminal(quiet, total));
    let result = engine::run(cfg, reporter, signals()).await;
    c.stop().await;
    result.map_err(engine_error)
}

pub(super) fn outcome_code(report: &RunReport) -> u8 {
    match report.outcome {
        Outcome::Complete | Outcome::AlreadyFinished => exit::OK,
        Outcome::CompleteWithFailures => exit::PARTIAL,
        Outcome::Interrupted => exit::INTERRUPTED,
    }
}

fn print_summary(report: &RunReport) {
    if report.outcome == Outcome::AlreadyFinished {
        println!(
            "smartsweep: `{}` is already finished (`_SUCCESS` exists); nothing to do. Pass --fresh to export again.",
            report.output
        );
        return;
    }
    let verb = match report.outcome {
        Outcome::Interrupted => "interrupted after",
        _ => "exported",
    };
    println!(
        "smartsweep: {verb} {} records ({} rows, {} failed) to {} in {:.1}s; {} part file(s){}{}",
        report.records,
        report.rows,
        report.failures.len(),
        report.output,
        report.elapsed.as_secs_f64(),
        report.parts,
        if report.chains > 1 {
            format!("; {} chains", report.chains)
        } else {
            String::new()
        },
        if report.resumed {
            "; resumed from a checkpoint"
        } else {
            ""
        }
    );
    if report.tables.len() > 1 {
        for t in &report.tables {
            println!(
                "smartsweep:   table `{}`: {} rows from {} records, {} failed",
                t.name, t.rows, t.records_with_rows, t.failed
            );
        }
    }
    if !report.failures.is_empty() {
        println!(
            "smartsweep: {} failure(s); see {}",
            report.failures.len(),
            Path::new(&report.output).join("_errors.csv").display()
        );
    }
    if report.outcome == Outcome::Interrupted {
        println!("smartsweep: re-run the same command to resume");
    }
}

pub(super) async fn run(a: RunArgs, quiet: bool) -> Result<u8, CliError> {
    let plan = pipeline::load(
        &a.pipeline,
        &overrides(&a.source, Some(&a.output), a.page_size),
    )
    .map_err(|p| CliError::Usage(p.to_string()))?;
    let storage = super::storage_options(&a.output.storage_options)?;
    let (source, shard) = match shards::shard_of(&a.chains, &plan, &storage)? {
        Some((shard, source)) => (source, Some(shard)),
        None => {
            let base = record_source(&a.source)?;
            (
                shards::chain_source(&a.chains, &a.source, base, &storage)?,
                None,
            )
        }
    };
    eprint!("{}", plan.warnings_text());
    let report = execute_plan(plan, &a.source, &a.output, source, (quiet, None, shard)).await?;
    print_summary(&report);
    Ok(outcome_code(&report))
}

/// The recall-audit template: the codes are pushed down to the container's
/// `rxnorm=a|b` filter *and* checked again by the query, since a proxy or an
/// older container may ignore the filter. It goes through the same loader
/// and validation as any pipeline file.
fn audit_template(codes: &[String], title_match: Option<&str>) -> String {
    let values: Vec<String> = codes.iter().map(|c| format!("\"{c}\"")).collect();
    let title_filter = title_match
        .map(|re| {
            let lit = re.replace('\\', "\\\\").replace('"', "\\\"");
            format!("  FILTER(REGEX(STR(?drug_name), \"{lit}\", \"i\"))\n")
        })
        .unwrap_or_default();
    format!(
        r#"# smartsweep audit: medications with one of the given RxNorm codes.
name = "recall_audit"

[source]
resource = "medications"
filters = {{ rxnorm = "{pushed}" }}

[query]
sparql = '''
PREFIX rdf: <http://www.w3.org/1999/02/22-rdf-syntax-ns#>
PREFIX sp: <http://smartplatforms.org/terms#>
PREFIX dcterms: <http://purl.org/dc/terms/>
SELECT ?rxnorm ?drug_name ?start_date ?start_date_raw ?end_date ?end_date_raw
WHERE {{
  ?med rdf:type sp:Medication ;
       sp:drugName ?dn .
  ?dn sp:code/dcterms:identifier ?rxnorm ;
      dcterms:title ?drug_name .
  FILTER(?rxnorm IN ({values}))
{title_filter}  OPTIONAL {{ ?med sp:startDate ?start_date_raw }}
  OPTIONAL {{ ?med sp:endDate ?end_date_raw }}
  BIND(?start_date_raw AS ?start_date)
  BIND(?end_date_raw AS ?end_date)
}}
'''

[columns]
start_date = "date"
end_date = "date"

[output]
path = "out/audit-{dir}"
"#,
        pushed = codes.join("|"),
        values = values.join(", "),
        dir = codes.join("-"),
    )
}

/// Build the recall-audit plan from its template and the command line.
pub fn audit_plan(
    codes: &[String],
    title_match: Option<&str>,
    src: &SourceArgs,
    out: &OutputArgs,
) -> Result<Plan, CliError> {
    let mut clean = Vec::new();
    for c in codes {
        let c = c.trim();
        if c.is_empty() || !c.chars().all(|ch| ch.is_ascii_digit()) {
            return Err(usage(
                format!("`{c}` is not an RxNorm code"),
                "RxNorm codes (RxCUIs) are digits, e.g. --rxnorm 312938,309309",
            ));
        }
        if !clean.iter().any(|x: &String| x == c) {
            clean.push(c.to_string());
        }
    }
    if let Some(re) = title_match {
        if let Err(e) = regex::Regex::new(&format!("(?i){re}")) {
            return Err(usage(
                format!("--title-match `{re}` is not a regular expression: {e}"),
                "use a regular expression such as `lipitor|atorvastatin`",
            ));
        }
        if re.contains("'''") {
            return Err(usage(
                format!("--title-match `{re}` contains `'''`"),
                "write the pattern without three quotes in a row",
            ));
        }
    }
    let text = audit_template(&clean, title_match);
    let o: Overrides = overrides(src, Some(out), None);
    pipeline::load_str(Path::new("(smartsweep audit)"), &text, &o)
        .map_err(|p| CliError::Usage(p.to_string()))
}

pub(super) async fn audit(a: AuditArgs, quiet: bool) -> Result<u8, CliError> {
    let plan = audit_plan(&a.rxnorm, a.title_match.as_deref(), &a.source, &a.output)?;
    let codes = a.rxnorm.join(", ");
    let source = record_source(&a.source)?;
    if a.chains.shard.is_some() {
        return Err(usage(
            "--shard is for sharded exports (`smartsweep plan`), not audits",
            "use --chains K with --seeds-from DIR to walk the cursor in parallel",
        ));
    }
    let storage = super::storage_options(&a.output.storage_options)?;
    let source = shards::chain_source(&a.chains, &a.source, source, &storage)?;
    let wanted: Vec<String> = a.rxnorm.iter().map(|c| c.trim().to_owned()).collect();
    let report = execute_plan(
        plan,
        &a.source,
        &a.output,
        source,
        (quiet, Some(wanted), None),
    )
    .await?;
    let matched = report.records_with_rows;
    print_summary(&report);
    if report.outcome == Outcome::AlreadyFinished {
        return Ok(outcome_code(&report));
    }
    println!(
        "audit: RxNorm {codes}: {} records scanned, {} matched ({} medication rows), {} failed",
        report.records,
        matched,
        report.rows,
        report.failures.len()
    );
    if report.failures.is_empty() {
        if report.outcome != Outcome::Interrupted {
            println!("audit: complete: every record was checked");
        }
    } else {
        println!(
            "audit: INCOMPLETE: {} record(s) could not be checked, so \"no match\" is not proven for them:",
            report.failures.len()
        );
        for f in &report.failures {
            println!("  {f}");
        }
    }
    Ok(outcome_code(&report))
}
