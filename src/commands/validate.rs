//! `smartsweep validate`: every problem of every file, before any request.

use super::{CliError, exit};
use crate::cli::ValidateArgs;
use crate::pipeline::{self, Overrides};

pub(super) fn validate(a: ValidateArgs) -> Result<u8, CliError> {
    let mut bad = 0usize;
    for p in &a.pipelines {
        match pipeline::load(p, &Overrides::default()) {
            Ok(plan) => {
                eprint!("{}", plan.warnings_text());
                let tables: Vec<String> = plan
                    .tables
                    .iter()
                    .map(|t| {
                        if plan.tables.len() == 1 {
                            t.resource.clone()
                        } else {
                            format!("{} <- {}", t.name, t.resource)
                        }
                    })
                    .collect();
                println!(
                    "ok: {} (pipeline `{}`, {} -> {} {})",
                    p.display(),
                    plan.name,
                    tables.join(", "),
                    plan.output.format,
                    plan.output.location
                );
            }
            Err(problems) => {
                bad += 1;
                eprintln!("{problems}");
            }
        }
    }
    if bad > 0 {
        Err(CliError::Usage(format!(
            "{bad} of {} pipeline file(s) have problems (listed above)",
            a.pipelines.len()
        )))
    } else {
        Ok(exit::OK)
    }
}
