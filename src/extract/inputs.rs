//! Inputs of the extract stage that come from files or the environment: the
//! record id list of `--records-from` and the consumer secret.
//!
//! The consumer secret never comes from a command-line argument (argv is
//! visible to every user of the machine): it is read from the environment
//! variable [`SECRET_ENV`] or from a file.

use std::collections::HashMap;
use std::io::Read;
use std::path::Path;

use super::ExtractError;
use crate::secret::Secret;

/// The environment variable that may hold the consumer secret.
pub const SECRET_ENV: &str = "SMARTSWEEP_CONSUMER_SECRET";

/// Most problems listed in one error about an id list.
const MAX_LISTED_PROBLEMS: usize = 20;

/// Read a list of record ids, one per line; `-` reads standard input.
///
/// Surrounding whitespace is trimmed; blank lines and lines starting with `#`
/// are skipped. A duplicate id or an id with a `/` (the container's ids match
/// `[^/]+`) is refused; the error lists every such line (up to 20), each with
/// its line number.
pub fn read_record_ids(path: &Path) -> Result<Vec<String>, ExtractError> {
    let mut raw = Vec::new();
    let read = if path == Path::new("-") {
        std::io::stdin().lock().read_to_end(&mut raw)
    } else {
        std::fs::File::open(path).and_then(|mut f| f.read_to_end(&mut raw))
    };
    let shown = display_path(path);
    if let Err(e) = read {
        return Err(ExtractError::Input {
            path: Some(path.to_owned()),
            message: format!(
                "cannot read the record id list `{shown}`: {e}\nhint: give a readable file with one record id per line, or `-` for standard input"
            ),
        });
    }
    let text = String::from_utf8(raw).map_err(|e| ExtractError::Input {
        path: Some(path.to_owned()),
        message: format!(
            "the record id list `{shown}` is not UTF-8 (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ),
    })?;
    parse_record_ids(&text).map_err(|problems| {
        let total = problems.len();
        let mut message = format!("the record id list `{shown}` has {total} problem(s):");
        for p in problems.iter().take(MAX_LISTED_PROBLEMS) {
            message.push_str("\n  ");
            message.push_str(p);
        }
        if total > MAX_LISTED_PROBLEMS {
            message.push_str(&format!("\n  ... and {} more", total - MAX_LISTED_PROBLEMS));
        }
        message.push_str("\nhint: list each record id once, one per line");
        ExtractError::Input {
            path: Some(path.to_owned()),
            message,
        }
    })
}

fn display_path(path: &Path) -> String {
    if path == Path::new("-") {
        "<stdin>".to_owned()
    } else {
        path.display().to_string()
    }
}

/// The pure part of [`read_record_ids`]: ids in order, or every problem.
fn parse_record_ids(text: &str) -> Result<Vec<String>, Vec<String>> {
    let mut ids = Vec::new();
    let mut first_line: HashMap<&str, usize> = HashMap::new();
    let mut problems = Vec::new();
    for (i, line) in text.lines().enumerate() {
        let n = i + 1;
        let id = line.trim();
        if id.is_empty() || id.starts_with('#') {
            continue;
        }
        if id.contains('/') {
            problems.push(format!(
                "line {n}: `{id}` contains `/`, which no container record id can"
            ));
            continue;
        }
        if let Some(first) = first_line.get(id) {
            problems.push(format!(
                "line {n}: duplicate record id `{id}` (first on line {first})"
            ));
            continue;
        }
        first_line.insert(id, n);
        ids.push(id.to_owned());
    }
    if problems.is_empty() {
        Ok(ids)
    } else {
        Err(problems)
    }
}

/// The consumer secret, from `file` when given, else from the environment
/// variable [`SECRET_ENV`].
///
/// A trailing newline (`\n` or `\r\n`, repeated) is trimmed; any other
/// character, spaces included, is part of the secret. An empty secret is an
/// error. A secret file readable by group or others gets a warning (tracing),
/// not a refusal.
pub fn load_consumer_secret(file: Option<&Path>) -> Result<Secret, ExtractError> {
    let env = std::env::var_os(SECRET_ENV);
    match file {
        Some(path) => {
            if env.is_some() {
                tracing::warn!(
                    file = %path.display(),
                    "both {SECRET_ENV} and a consumer secret file are set; using the file"
                );
            }
            read_secret_file(path)
        }
        None => match env {
            Some(v) => {
                let v = v.into_string().map_err(|_| ExtractError::Input {
                    path: None,
                    message: format!("{SECRET_ENV} is not valid UTF-8"),
                })?;
                non_empty(Secret::new(trim_newline(v)), SECRET_ENV, None)
            }
            None => Err(ExtractError::Input {
                path: None,
                message: format!(
                    "no consumer secret\nhint: set {SECRET_ENV}, or pass --consumer-secret-file PATH (a file readable only by you); it is never taken from the command line"
                ),
            }),
        },
    }
}

fn read_secret_file(path: &Path) -> Result<Secret, ExtractError> {
    let io_err = |e: std::io::Error| ExtractError::Input {
        path: Some(path.to_owned()),
        message: format!(
            "cannot read the consumer secret file `{}`: {e}\nhint: check the path and its permissions (it should be readable by this user only: chmod 600)",
            path.display()
        ),
    };
    let meta = std::fs::metadata(path).map_err(io_err)?;
    if !meta.is_file() {
        return Err(ExtractError::Input {
            path: Some(path.to_owned()),
            message: format!(
                "the consumer secret file `{}` is not a regular file",
                path.display()
            ),
        });
    }
    warn_if_shared(path, &meta);
    let bytes = std::fs::read(path).map_err(io_err)?;
    let text = String::from_utf8(bytes).map_err(|_| ExtractError::Input {
        path: Some(path.to_owned()),
        message: format!(
            "the consumer secret file `{}` is not valid UTF-8",
            path.display()
        ),
    })?;
    non_empty(
        Secret::new(trim_newline(text)),
        &format!("the consumer secret file `{}`", path.display()),
        Some(path),
    )
}

#[cfg(unix)]
fn warn_if_shared(path: &Path, meta: &std::fs::Metadata) {
    use std::os::unix::fs::PermissionsExt;
    let mode = meta.permissions().mode();
    if mode & 0o077 != 0 {
        tracing::warn!(
            file = %path.display(),
            mode = format!("{:03o}", mode & 0o777),
            "the consumer secret file is readable or writable by group or others; restrict it with `chmod 600`"
        );
    }
}

#[cfg(not(unix))]
fn warn_if_shared(_path: &Path, _meta: &std::fs::Metadata) {}

fn trim_newline(mut s: String) -> String {
    while s.ends_with('\n') || s.ends_with('\r') {
        s.pop();
    }
    s
}

fn non_empty(s: Secret, origin: &str, path: Option<&Path>) -> Result<Secret, ExtractError> {
    if s.is_empty() {
        Err(ExtractError::Input {
            path: path.map(Path::to_owned),
            message: format!("{origin} holds an empty consumer secret"),
        })
    } else {
        Ok(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::expect_used)]
mod tests {
    use super::*;
    use std::io::Write;

    #[test]
    fn ids_skip_blanks_and_comments() {
        let ids = parse_record_ids("# cohort\n\n 2169591 \n613876\r\n  # x\n99912345\n").unwrap();
        assert_eq!(ids, ["2169591", "613876", "99912345"]);
        assert_eq!(parse_record_ids("").unwrap(), Vec::<String>::new());
    }

    #[test]
    fn duplicates_name_both_lines() {
        let err = parse_record_ids("a\nb\n\na\nc/d\nb\n").unwrap_err();
        assert_eq!(
            err,
            [
                "line 4: duplicate record id `a` (first on line 1)",
                "line 5: `c/d` contains `/`, which no container record id can",
                "line 6: duplicate record id `b` (first on line 2)",
            ]
        );
    }

    #[test]
    fn read_ids_from_file_reports_the_path() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ids.txt");
        std::fs::write(&p, "1\n2\n1\n").unwrap();
        let e = read_record_ids(&p).unwrap_err().to_string();
        assert!(e.contains("ids.txt"), "{e}");
        assert!(
            e.contains("line 3: duplicate record id `1` (first on line 1)"),
            "{e}"
        );
        std::fs::write(&p, "1\n2\n").unwrap();
        assert_eq!(read_record_ids(&p).unwrap(), ["1", "2"]);
        let e = read_record_ids(&dir.path().join("missing"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("cannot read the record id list"), "{e}");
    }

    // The environment variable is process-wide; only this test touches it.
    #[test]
    fn secret_from_file_and_env() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("secret");
        let mut f = std::fs::File::create(&p).unwrap();
        f.write_all(b" s3cr\xc3\xa9t with spaces \r\n").unwrap();
        drop(f);
        let s = load_consumer_secret(Some(&p)).unwrap();
        assert_eq!(s.expose(), " s3cr\u{e9}t with spaces ");

        std::fs::write(&p, "\n").unwrap();
        let e = load_consumer_secret(Some(&p)).unwrap_err().to_string();
        assert!(e.contains("empty consumer secret"), "{e}");

        let missing = dir.path().join("nope");
        let e = load_consumer_secret(Some(&missing))
            .unwrap_err()
            .to_string();
        assert!(e.contains("nope") && e.contains("cannot read"), "{e}");

        // SAFETY: no other test in this binary reads or writes this variable.
        unsafe { std::env::set_var(SECRET_ENV, "from-env\n") };
        assert_eq!(load_consumer_secret(None).unwrap().expose(), "from-env");
        std::fs::write(&p, "from-file").unwrap();
        assert_eq!(
            load_consumer_secret(Some(&p)).unwrap().expose(),
            "from-file"
        );
        // SAFETY: as above.
        unsafe { std::env::remove_var(SECRET_ENV) };
        let e = load_consumer_secret(None).unwrap_err().to_string();
        assert!(
            e.contains(SECRET_ENV) && e.contains("--consumer-secret-file"),
            "{e}"
        );
        assert!(!e.contains("from-"));
    }
}
