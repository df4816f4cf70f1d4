//! The transform's errors: problems with the pipeline's query (found once, at
//! validation) and failures of one record's body (a record failure, the run
//! goes on).

use crate::failure::{RecordFailure, Stage};
use std::fmt;

/// The most bytes of outside text (an IRI, a language tag, a parser's
/// message that quotes the body) one quotation in a message keeps.
const QUOTE_BYTES: usize = 160;

/// Outside text made fit for a message: control characters escaped (see
/// [`crate::text::escape_control`]) and cut to a short prefix, on a
/// character boundary, with `…` where it was cut.
pub(crate) fn quote(text: &str) -> String {
    let escaped = crate::text::escape_control(text);
    if escaped.len() <= QUOTE_BYTES {
        return escaped.into_owned();
    }
    let mut end = QUOTE_BYTES;
    while !escaped.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &escaped[..end])
}

/// One problem with the pipeline's query or its `[columns]` table.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum QueryProblem {
    /// The SPARQL text does not parse.
    #[error("the query is not valid SPARQL: {message}\nhint: check the query near that position")]
    Syntax {
        /// The parser's message, with its `line:column` position.
        message: String,
    },
    /// A CONSTRUCT, ASK or DESCRIBE query.
    #[error(
        "the query is a {form} query; smartsweep projects records into rows and needs a SELECT\nhint: rewrite it as `SELECT ?var1 ?var2 ... WHERE {{ ... }}` naming the columns you want"
    )]
    NotSelect {
        /// `CONSTRUCT`, `ASK` or `DESCRIBE`.
        form: &'static str,
    },
    /// A `[columns]` key that the SELECT does not project.
    #[error(
        "[columns] names `{column}`, which is not a variable of the SELECT\nhint: the SELECT variables are: {}",
        variables.join(", ")
    )]
    UnknownColumn {
        /// The key from `[columns]`.
        column: String,
        /// The SELECT's variables, in order.
        variables: Vec<String>,
    },
    /// A SELECT variable named `record_id`, which clashes with the first column.
    #[error(
        "the SELECT has a variable `?record_id`, but `record_id` is the name of the column smartsweep adds first\nhint: rename the variable, e.g. `?record`"
    )]
    ReservedVariable,
    /// The query could not be evaluated at all (e.g. an unsupported feature).
    #[error("the query cannot be evaluated: {message}")]
    Unsupported {
        /// The evaluator's message.
        message: String,
    },
}

/// Every problem found in the pipeline's query at once.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct QueryError {
    /// The problems, in the order found.
    pub problems: Vec<QueryProblem>,
}

impl fmt::Display for QueryError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, p) in self.problems.iter().enumerate() {
            if i > 0 {
                f.write_str("\n")?;
            }
            write!(f, "{p}")?;
        }
        Ok(())
    }
}

impl std::error::Error for QueryError {}

/// One record's answer could not be transformed: the body is not RDF/XML (with
/// the position of the problem when the parser gives one), or the query failed
/// on it.
///
/// The message is bounded whatever the body: it quotes at most a short,
/// escaped excerpt of the body around the position (`crate::text::excerpt`)
/// and short, escaped pieces of anything else that came from it (IRIs,
/// language tags, the parser's own message): well under 1 KB.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{}", self.render())]
pub struct TransformError {
    /// 1-based line of the problem in the body, when known.
    pub line: Option<u64>,
    /// 1-based column (in characters) of the problem, when known.
    pub column: Option<u64>,
    /// What is wrong, for a person (quotes the parser's message).
    pub message: String,
}

impl TransformError {
    /// An error without a position.
    pub fn new(message: impl Into<String>) -> Self {
        Self {
            line: None,
            column: None,
            message: message.into(),
        }
    }

    fn render(&self) -> String {
        match (self.line, self.column) {
            (Some(l), Some(c)) => format!("line {l}, column {c}: {}", self.message),
            (Some(l), None) => format!("line {l}: {}", self.message),
            _ => self.message.clone(),
        }
    }

    /// The record failure for the errors output (stage `transform`). Its
    /// message is one line (the `near:` and `hint:` lines joined with `; `),
    /// so that `_errors.csv` keeps one line per record; outside text in it
    /// is escaped, so it holds no line break of its own.
    pub fn into_failure(self, record_id: &str) -> RecordFailure {
        let message = self
            .render()
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .collect::<Vec<_>>()
            .join("; ");
        RecordFailure {
            record_id: crate::record::RecordId::new(record_id),
            table: None,
            stage: Stage::Transform,
            http_status: None,
            attempts: 0,
            message,
        }
    }
}
