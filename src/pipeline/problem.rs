//! What validation finds: a [`Problem`] (an error or a warning) with the
//! file, line, column and dotted key, the bad value in backticks and a
//! `hint:`; [`Problems`], every one of a file at once; and the collector the
//! loader pushes them into.

use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};

/// How bad a problem is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub enum Severity {
    /// The pipeline cannot run: `validate` exits 2, nothing is requested.
    #[default]
    Error,
    /// The pipeline runs, but probably not as meant (printed, exit 0).
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// One thing wrong with a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// The file.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub location: Option<(usize, usize)>,
    /// The dotted key (`source.resource`, `tables[2].query.sparql`), when
    /// known; a command-line flag (`--output`) for an override.
    pub key: Option<String>,
    /// What is wrong, with the bad value in backticks.
    pub message: String,
    /// What to do.
    pub hint: String,
}

impl Problem {
    /// True for an error (not a warning).
    pub fn is_error(&self) -> bool {
        self.severity == Severity::Error
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.severity, self.message)?;
        write!(f, "\n  --> {}", self.file.display())?;
        if let Some((l, c)) = self.location {
            write!(f, ":{l}:{c}")?;
        }
        if let Some(k) = &self.key {
            write!(f, " (key `{k}`)")?;
        }
        write!(f, "\n  hint: {}", self.hint)
    }
}

/// Every problem found in one file, in file order. As the error of
/// [`load`](super::load) it holds at least one error, and the file's
/// warnings too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

impl Problems {
    /// The errors only.
    pub fn errors(&self) -> impl Iterator<Item = &Problem> {
        self.0.iter().filter(|p| p.is_error())
    }
}

impl fmt::Display for Problems {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for Problems {}

/// Collects the problems of one file, turning byte spans into lines.
pub(super) struct Collector<'a> {
    pub(super) file: &'a Path,
    pub(super) text: &'a str,
    pub(super) problems: Vec<Problem>,
}

impl<'a> Collector<'a> {
    pub(super) fn new(file: &'a Path, text: &'a str) -> Self {
        Collector {
            file,
            text,
            problems: Vec::new(),
        }
    }

    /// An error at `span` (a byte range of the text), under `key`.
    pub(super) fn error(
        &mut self,
        span: Option<Range<usize>>,
        key: &str,
        message: String,
        hint: impl Into<String>,
    ) {
        self.push(Severity::Error, span, key, message, hint.into());
    }

    /// A warning at `span`, under `key`.
    pub(super) fn warning(
        &mut self,
        span: Option<Range<usize>>,
        key: &str,
        message: String,
        hint: impl Into<String>,
    ) {
        self.push(Severity::Warning, span, key, message, hint.into());
    }

    fn push(
        &mut self,
        severity: Severity,
        span: Option<Range<usize>>,
        key: &str,
        message: String,
        hint: String,
    ) {
        let location = span.map(|s| line_col(self.text, s.start));
        self.problems.push(Problem {
            severity,
            file: self.file.to_path_buf(),
            location,
            key: (!key.is_empty()).then(|| key.to_string()),
            message,
            hint,
        });
    }

    /// True when an error (not a warning) was found.
    pub(super) fn has_errors(&self) -> bool {
        self.problems.iter().any(Problem::is_error)
    }

    /// Everything found, in file order (problems without a place, such as
    /// a bad command-line override, first), each once (a shared key found
    /// wrong for several tables in the same way is one problem).
    pub(super) fn finish(mut self) -> Vec<Problem> {
        self.problems.sort_by_key(|p| p.location);
        let mut seen = std::collections::HashSet::new();
        self.problems.retain(|p| seen.insert(p.clone()));
        self.problems
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub(super) fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let mut offset = offset.min(text.len());
    while !text.is_char_boundary(offset) {
        offset -= 1;
    }
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map(|nl| before[nl + 1..].chars().count() + 1)
        .unwrap_or_else(|| before.chars().count() + 1);
    (line, col)
}

/// A value from the file for a message: control characters escaped, at
/// most 80 characters.
pub(super) fn shown(value: &str) -> String {
    const MAX: usize = 80;
    let escaped = crate::text::escape_control(value);
    if escaped.chars().count() <= MAX {
        escaped.into_owned()
    } else {
        let cut: String = escaped.chars().take(MAX).collect();
        format!("{cut}...")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_col_counts_from_one() {
        let t = "a = 1\nbb = 2\n";
        assert_eq!(line_col(t, 0), (1, 1));
        assert_eq!(line_col(t, 6), (2, 1));
        assert_eq!(line_col(t, 8), (2, 3));
        assert_eq!(line_col("é = 1", 2), (1, 2));
        assert_eq!(line_col("x", 99), (1, 2));
    }

    #[test]
    fn warnings_and_errors_say_which_they_are() {
        let mut c = Collector::new(Path::new("p.toml"), "a = 1\nb = 2\n");
        c.warning(Some(6..7), "b", "w `b`".into(), "do w");
        c.error(Some(0..1), "a", "e `a`".into(), "do e");
        assert!(c.has_errors());
        let all = Problems(c.finish());
        let text = all.to_string();
        assert!(
            text.starts_with("error: e `a`\n  --> p.toml:1:1 (key `a`)\n  hint: do e\n"),
            "{text}"
        );
        assert!(
            text.ends_with("warning: w `b`\n  --> p.toml:2:1 (key `b`)\n  hint: do w"),
            "{text}"
        );
        assert_eq!(all.errors().count(), 1);
    }

    #[test]
    fn shown_values_are_short_and_escaped() {
        assert_eq!(shown("a\nb"), "a\\nb");
        let long = "x".repeat(200);
        assert_eq!(shown(&long).len(), 83);
    }
}
