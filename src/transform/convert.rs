//! From RDF terms to typed Arrow columns, and the total order on terms that
//! makes row order deterministic.
//!
//! Text of a term: an IRI is its string, a literal its lexical value (no
//! quotes, no datatype, no language tag), a blank node `_:` + its
//! record-scoped label (`_:b0`, `_:b1`, ... in order of first appearance in
//! the record; the document's own labels carry no meaning and anonymous nodes
//! have none).
//!
//! Conversions (leading and trailing whitespace is ignored, as XML Schema's
//! whitespace rule for these types says):
//! - `date` (Date32): `YYYY-MM-DD`, with or without a time zone (ignored), as
//!   `xsd:date` or a plain literal; a full date-time gives its date part as
//!   written (no time-zone shift). Anything else (`2007`, `2007-05`) is null
//!   plus a [`ConversionIssue`](super::ConversionIssue).
//! - `timestamp` (Timestamp(µs, UTC)): RFC 3339 / `xsd:dateTime`; with a zone
//!   it is converted to UTC; without one it is taken as UTC; a date alone is
//!   midnight UTC. Sub-microsecond digits are truncated.
//! - `int64`: an optional sign and digits (`xsd:integer` lexical form).
//! - `float64`: a decimal or scientific number, or `INF`, `-INF`, `NaN`.
//! - `bool`: `true`, `false`, `1`, `0`.
//! - an IRI or a blank node in a typed (non-string) column does not convert.

use super::ConversionIssue;
use crate::schema::ColumnType;
use arrow_array::ArrayRef;
use arrow_array::builder::{
    BooleanBuilder, Date32Builder, Float64Builder, Int64Builder, StringBuilder,
    TimestampMicrosecondBuilder,
};
use arrow_schema::{DataType, TimeUnit};
use chrono::{DateTime, NaiveDate, NaiveDateTime, NaiveTime};
use oxrdf::Term;
use std::cmp::Ordering;
use std::fmt::Write as _;
use std::sync::Arc;

/// The Arrow type of a column type.
pub(crate) fn data_type(t: ColumnType) -> DataType {
    match t {
        ColumnType::String => DataType::Utf8,
        ColumnType::Date => DataType::Date32,
        ColumnType::Timestamp => DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
        ColumnType::Int64 => DataType::Int64,
        ColumnType::Float64 => DataType::Float64,
        ColumnType::Bool => DataType::Boolean,
    }
}

/// Appends the text of a term (see the module docs) to `out`.
pub(crate) fn term_text<'t>(term: &'t Term, scratch: &'t mut String) -> &'t str {
    match term {
        Term::NamedNode(n) => n.as_str(),
        Term::Literal(l) => l.value(),
        Term::BlankNode(b) => {
            scratch.clear();
            let _ = write!(scratch, "_:{}", b.as_str());
            scratch
        }
    }
}

/// A column being built.
pub(crate) enum ColumnBuilder {
    Str(StringBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
}

impl ColumnBuilder {
    pub(crate) fn new(t: ColumnType, rows: usize) -> Self {
        match t {
            ColumnType::String => Self::Str(StringBuilder::with_capacity(rows, rows * 24)),
            ColumnType::Date => Self::Date(Date32Builder::with_capacity(rows)),
            ColumnType::Timestamp => Self::Timestamp(
                TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            ),
            ColumnType::Int64 => Self::Int64(Int64Builder::with_capacity(rows)),
            ColumnType::Float64 => Self::Float64(Float64Builder::with_capacity(rows)),
            ColumnType::Bool => Self::Bool(BooleanBuilder::with_capacity(rows)),
        }
    }

    /// Appends one value; a value that does not convert is appended as null
    /// and reported in `issues`.
    pub(crate) fn push(
        &mut self,
        column: &str,
        term: Option<&Term>,
        issues: &mut Vec<ConversionIssue>,
    ) {
        let mut scratch = String::new();
        let Some(term) = term else {
            self.push_null();
            return;
        };
        if let Self::Str(b) = self {
            b.append_value(term_text(term, &mut scratch));
            return;
        }
        let text = match term {
            Term::Literal(l) => Some(
                l.value()
                    .trim_matches(|c| matches!(c, ' ' | '\t' | '\n' | '\r')),
            ),
            _ => None,
        };
        let ok = match (&mut *self, text) {
            (_, None) => false,
            (Self::Date(b), Some(s)) => parse_date(s).map(|d| b.append_value(d)).is_some(),
            (Self::Timestamp(b), Some(s)) => {
                parse_timestamp(s).map(|t| b.append_value(t)).is_some()
            }
            (Self::Int64(b), Some(s)) => parse_int(s).map(|v| b.append_value(v)).is_some(),
            (Self::Float64(b), Some(s)) => parse_float(s).map(|v| b.append_value(v)).is_some(),
            (Self::Bool(b), Some(s)) => parse_bool(s).map(|v| b.append_value(v)).is_some(),
            (Self::Str(_), Some(_)) => true, // handled above
        };
        if !ok {
            self.push_null();
            issues.push(ConversionIssue {
                column: column.to_owned(),
                value: term_text(term, &mut scratch).to_owned(),
            });
        }
    }

    fn push_null(&mut self) {
        match self {
            Self::Str(b) => b.append_null(),
            Self::Date(b) => b.append_null(),
            Self::Timestamp(b) => b.append_null(),
            Self::Int64(b) => b.append_null(),
            Self::Float64(b) => b.append_null(),
            Self::Bool(b) => b.append_null(),
        }
    }

    pub(crate) fn finish(self) -> ArrayRef {
        match self {
            Self::Str(mut b) => Arc::new(b.finish()),
            Self::Date(mut b) => Arc::new(b.finish()),
            Self::Timestamp(mut b) => Arc::new(b.finish()),
            Self::Int64(mut b) => Arc::new(b.finish()),
            Self::Float64(mut b) => Arc::new(b.finish()),
            Self::Bool(mut b) => Arc::new(b.finish()),
        }
    }
}

const EPOCH_DAYS_CE: i32 = 719_163; // days from 0001-01-01 to 1970-01-01

fn two_digits(b: &[u8]) -> Option<u32> {
    match b {
        [a @ b'0'..=b'9', c @ b'0'..=b'9'] => Some(u32::from(a - b'0') * 10 + u32::from(c - b'0')),
        _ => None,
    }
}

/// `YYYY-MM-DD` at the start of `s` (years of four or more digits).
fn date_prefix(s: &str) -> Option<(NaiveDate, &str)> {
    let b = s.as_bytes();
    let year_len = b.iter().take_while(|c| c.is_ascii_digit()).count();
    if year_len < 4 || b.len() < year_len + 6 || b[year_len] != b'-' || b[year_len + 3] != b'-' {
        return None;
    }
    let year: i32 = s[..year_len].parse().ok()?;
    let month = two_digits(&b[year_len + 1..year_len + 3])?;
    let day = two_digits(&b[year_len + 4..year_len + 6])?;
    Some((
        NaiveDate::from_ymd_opt(year, month, day)?,
        &s[year_len + 6..],
    ))
}

fn is_zone(z: &str) -> bool {
    let b = z.as_bytes();
    z.is_empty()
        || z == "Z"
        || (b.len() == 6
            && matches!(b[0], b'+' | b'-')
            && two_digits(&b[1..3]).is_some_and(|h| h <= 14)
            && b[3] == b':'
            && two_digits(&b[4..6]).is_some_and(|m| m <= 59))
}

/// Days since 1970-01-01.
pub(crate) fn parse_date(s: &str) -> Option<i32> {
    let (date, rest) = date_prefix(s)?;
    let ok = is_zone(rest) || (rest.starts_with('T') && parse_timestamp(s).is_some());
    ok.then(|| date.num_days_from_ce() - EPOCH_DAYS_CE)
}

use chrono::Datelike as _;

/// Microseconds since the Unix epoch, UTC.
pub(crate) fn parse_timestamp(s: &str) -> Option<i64> {
    let (date, rest) = date_prefix(s)?;
    if is_zone(rest) {
        // A date alone: midnight UTC (a zone on a bare date is ignored).
        return Some(date.and_time(NaiveTime::MIN).and_utc().timestamp_micros());
    }
    if let Ok(dt) = DateTime::parse_from_rfc3339(s) {
        return Some(dt.timestamp_micros());
    }
    for fmt in ["%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%dT%H:%M"] {
        if let Ok(dt) = NaiveDateTime::parse_from_str(s, fmt) {
            return Some(dt.and_utc().timestamp_micros());
        }
    }
    None
}

pub(crate) fn parse_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.strip_prefix('+').unwrap_or(s).parse().ok()
}

pub(crate) fn parse_float(s: &str) -> Option<f64> {
    match s {
        "INF" | "+INF" => return Some(f64::INFINITY),
        "-INF" => return Some(f64::NEG_INFINITY),
        "NaN" => return Some(f64::NAN),
        _ => {}
    }
    // Rust also accepts "inf", "infinity", "nan": XML Schema does not.
    if !s
        .bytes()
        .all(|b| b.is_ascii_digit() || matches!(b, b'+' | b'-' | b'.' | b'e' | b'E'))
        || !s.bytes().any(|b| b.is_ascii_digit())
    {
        return None;
    }
    s.parse().ok()
}

pub(crate) fn parse_bool(s: &str) -> Option<bool> {
    match s {
        "true" | "1" => Some(true),
        "false" | "0" => Some(false),
        _ => None,
    }
}

fn kind_rank(t: &Term) -> u8 {
    match t {
        Term::BlankNode(_) => 0,
        Term::NamedNode(_) => 1,
        Term::Literal(_) => 2,
    }
}

/// A total order on terms: blank nodes, then IRIs, then literals (SPARQL's
/// ORDER BY ranking); within a kind by text (byte-wise), then a literal's
/// datatype IRI, then its language tag.
pub(crate) fn cmp_terms(a: &Term, b: &Term) -> Ordering {
    kind_rank(a).cmp(&kind_rank(b)).then_with(|| match (a, b) {
        (Term::BlankNode(x), Term::BlankNode(y)) => x.as_str().cmp(y.as_str()),
        (Term::NamedNode(x), Term::NamedNode(y)) => x.as_str().cmp(y.as_str()),
        (Term::Literal(x), Term::Literal(y)) => x
            .value()
            .cmp(y.value())
            .then_with(|| x.datatype().as_str().cmp(y.datatype().as_str()))
            .then_with(|| x.language().cmp(&y.language())),
        _ => Ordering::Equal,
    })
}

/// Row order: column by column, unbound first.
pub(crate) fn cmp_rows(a: &[Option<Term>], b: &[Option<Term>]) -> Ordering {
    for (x, y) in a.iter().zip(b) {
        let o = match (x, y) {
            (None, None) => Ordering::Equal,
            (None, Some(_)) => Ordering::Less,
            (Some(_), None) => Ordering::Greater,
            (Some(x), Some(y)) => cmp_terms(x, y),
        };
        if o != Ordering::Equal {
            return o;
        }
    }
    Ordering::Equal
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        let d = |s| parse_date(s);
        assert_eq!(d("1970-01-01"), Some(0));
        assert_eq!(d("1970-01-02Z"), Some(1));
        assert_eq!(d("2008-10-03"), Some(14155));
        assert_eq!(d("2008-10-03+05:00"), Some(14155));
        assert_eq!(d("2010-05-12T04:00:00Z"), Some(14741));
        assert_eq!(d("1969-12-31"), Some(-1));
        for bad in [
            "2007",
            "2007-05",
            "2007-13-01",
            "2007-02-30",
            "07-01-01",
            "2008-10-03T",
            "2008-10-03x",
            "2008-1-03",
            "",
        ] {
            assert_eq!(d(bad), None, "{bad}");
        }
    }

    #[test]
    fn timestamps() {
        let t = |s| parse_timestamp(s);
        assert_eq!(t("1970-01-01T00:00:01Z"), Some(1_000_000));
        assert_eq!(t("1970-01-01T00:00:01"), Some(1_000_000));
        assert_eq!(t("1970-01-01T01:00:00+01:00"), Some(0));
        assert_eq!(t("1970-01-01T00:00:00.0000019Z"), Some(1));
        assert_eq!(t("1970-01-02"), Some(86_400_000_000));
        assert_eq!(t("1970-01-01T00:01"), Some(60_000_000));
        assert_eq!(t("2007"), None);
        assert_eq!(t("1970-01-01T25:00:00Z"), None);
    }

    #[test]
    fn numbers_and_bools() {
        assert_eq!(parse_int("30"), Some(30));
        assert_eq!(parse_int("+30"), Some(30));
        assert_eq!(parse_int("-3"), Some(-3));
        assert_eq!(parse_int("0.5"), None);
        assert_eq!(parse_int("99999999999999999999"), None);
        assert_eq!(parse_int("+"), None);
        assert_eq!(parse_float("0.5"), Some(0.5));
        assert_eq!(parse_float("1e3"), Some(1000.0));
        assert_eq!(parse_float("-INF"), Some(f64::NEG_INFINITY));
        assert_eq!(parse_float("inf"), None);
        assert_eq!(parse_float("{tablet}"), None);
        assert_eq!(parse_float("."), None);
        assert_eq!(parse_bool("1"), Some(true));
        assert_eq!(parse_bool("false"), Some(false));
        assert_eq!(parse_bool("yes"), None);
    }
}
