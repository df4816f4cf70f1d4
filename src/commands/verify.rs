//! `smartsweep verify OUTPUT`: re-read every committed part and say what is
//! wrong, one line per problem, then a summary. Also the helpers the
//! commands that read an output share (`report`, `status`).

use super::{CliError, aborted, exit, usage};
use crate::cli::VerifyArgs;
use crate::load::destination::{Location, StorageOptions, open_store};
use crate::load::store::{Listed, Store};
use crate::load::verify::{self, OUTPUT_HINT, State, VerifyError};
use crate::report::Unfinished;
use crate::report::html::{bytes, int};

/// An output location opened for reading: nothing is created or locked.
pub(super) struct Opened {
    pub location: Location,
    pub store: Box<dyn Store>,
}

/// Parses and opens `raw` (a path or a URL) for reading.
pub(super) fn open_output(raw: &str) -> Result<Opened, CliError> {
    let location = Location::parse(raw).map_err(|e| usage(e, OUTPUT_HINT))?;
    if let Some(dir) = location.as_local()
        && dir.exists()
        && !dir.is_dir()
    {
        return Err(usage(
            format!(
                "`{}` is not a smartsweep output: it is a file",
                dir.display()
            ),
            OUTPUT_HINT,
        ));
    }
    let store = open_store(&location, &StorageOptions::default()).map_err(load_error)?;
    Ok(Opened { location, store })
}

/// A load error at the edge: refusals (a URL this build cannot open) are
/// usage errors, the rest abort.
pub(super) fn load_error(e: crate::load::LoadError) -> CliError {
    if e.is_refusal() {
        CliError::Usage(aborted(e).to_string())
    } else {
        aborted(e)
    }
}

/// An inspection error at the edge: "not an output" is exit 2.
pub(super) fn inspect_error(e: VerifyError) -> CliError {
    match e {
        VerifyError::NotAnOutput { message, hint } => usage(message, hint),
        VerifyError::Control(m) => aborted(format!(
            "{m}\nhint: the control file of this output is damaged; re-run the pipeline with --fresh to rewrite the output"
        )),
        VerifyError::Load(e) => load_error(e),
    }
}

/// The listing and the state of an output.
pub(super) fn read(o: &Opened) -> Result<(Vec<Listed>, State), CliError> {
    let listed = o.store.list().map_err(load_error)?;
    let state = verify::read_state(o.store.as_ref(), &listed).map_err(inspect_error)?;
    Ok((listed, state))
}

/// Whether a run holds the output right now: a local directory is tried
/// with a non-blocking `flock`, released at once; `None` when that cannot
/// be told (an object store).
pub(super) fn held(location: &Location) -> Option<bool> {
    let dir = location.as_local()?;
    let f = std::fs::File::open(dir).ok()?;
    match f.try_lock() {
        Ok(()) => {
            let _ = f.unlock();
            Some(false)
        }
        Err(std::fs::TryLockError::WouldBlock) => Some(true),
        Err(std::fs::TryLockError::Error(_)) => None,
    }
}

/// How an unfinished output stands, as far as can be told.
pub(super) fn unfinished(location: &Location) -> Unfinished {
    match held(location) {
        Some(true) => Unfinished::Running,
        Some(false) => Unfinished::Stopped,
        None => Unfinished::Unknown,
    }
}

pub(super) fn verify(a: VerifyArgs) -> Result<u8, CliError> {
    let o = open_output(&a.output)?;
    let v = verify::verify(o.store.as_ref()).map_err(inspect_error)?;
    for p in &v.problems {
        println!("problem: `{}`: {}", p.file, p.message);
    }
    for n in &v.notes {
        println!("note: {n}");
    }
    let what = if v.finished { "finished" } else { "unfinished" };
    let checked = format!(
        "{} part(s), {} rows, {} checked",
        int(v.parts as u64),
        int(v.rows),
        bytes(v.bytes)
    );
    if v.problems.is_empty() {
        println!(
            "smartsweep verify: `{}` ({what}) is sound: {checked}",
            o.location
        );
        Ok(exit::OK)
    } else {
        println!(
            "smartsweep verify: `{}` ({what}): {} problem(s); {checked}",
            o.location,
            v.problems.len()
        );
        Ok(exit::ABORTED)
    }
}
