//! `smartsweep report OUTPUT`: (re)write the run report of an output,
//! finished (from its manifest) or not (from its checkpoint).

use super::verify::{load_error, open_output, read, unfinished};
use super::{CliError, aborted, exit};
use crate::cli::ReportArgs;
use crate::load::REPORT_FILE;
use crate::load::verify::State;
use crate::report::{self, Extras};
use std::io::Write;

pub(super) fn report(a: ReportArgs) -> Result<u8, CliError> {
    let o = open_output(&a.output)?;
    let (_, state) = read(&o)?;
    let (html, what) = match &state {
        State::Finished(m) => (report::render_manifest(m), "finished run".to_owned()),
        State::Unfinished(cp) => {
            let standing = unfinished(&o.location);
            let what = format!("unfinished run, {}", standing.phrase());
            (
                report::render_checkpoint(cp, &standing, &Extras::default()),
                what,
            )
        }
    };
    let size = crate::report::html::bytes(html.len() as u64);
    match a.to.as_deref() {
        Some(p) if p.as_os_str() == "-" => {
            let mut out = std::io::stdout().lock();
            out.write_all(html.as_bytes())
                .and_then(|()| out.flush())
                .map_err(|e| aborted(format!("cannot write the report to standard output: {e}")))?;
            return Ok(exit::OK);
        }
        Some(p) => {
            write_private(p, html.as_bytes()).map_err(|e| {
                aborted(format!(
                    "cannot write `{}`: {e}\nhint: choose a --to path in a writable directory",
                    p.display()
                ))
            })?;
            println!(
                "smartsweep report: wrote `{}` ({what}, {size})",
                p.display()
            );
        }
        None => {
            o.store
                .put(REPORT_FILE, html.as_bytes())
                .map_err(load_error)?;
            println!(
                "smartsweep report: wrote `{}` ({what}, {size})",
                o.store.describe_path(REPORT_FILE)
            );
        }
    }
    Ok(exit::OK)
}

/// Writes `bytes` to `path`, created owner-only (0600) like every file of an
/// output: the report names records.
fn write_private(path: &std::path::Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(bytes)?;
    f.sync_all()
}
