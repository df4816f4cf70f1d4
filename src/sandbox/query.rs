//! What a list call's query asks for (`smart-classic-api.md` 5.3 and 5.4):
//! the code filter of the resource, the six date filters on its sort
//! property, and `limit`/`offset` paging newest first; then the
//! `api:ResponseSummary` that describes the page.

use std::borrow::Cow;
use std::fmt::Write as _;

use super::person::Uuid;
use super::rdf::{Str, Writer, api};

/// The decoded query pairs of a request, in request order (others than the
/// filters are ignored, as the reference does, but kept for `nextPageURL`).
#[derive(Default)]
pub(crate) struct Query {
    pub pairs: Vec<(String, String)>,
}

const LOW: &str = "1900-01-01T00:00:00Z";
const HIGH: &str = "2999-12-31T23:59:59Z";

/// Pad a short date with the tail of a template (section 5.3).
fn pad<'a>(value: &'a str, template: &str) -> Cow<'a, str> {
    match template.get(value.len()..) {
        Some(tail) if !tail.is_empty() => Cow::Owned(format!("{value}{tail}")),
        _ => Cow::Borrowed(value),
    }
}

impl Query {
    /// The last value of a parameter (Django's `QueryDict.get`).
    pub(crate) fn get(&self, name: &str) -> Option<&str> {
        self.pairs
            .iter()
            .rev()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }

    /// `limit`: absent, non-numeric or 0 mean "everything".
    pub(crate) fn limit(&self) -> Option<usize> {
        self.get("limit")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .filter(|&n| n > 0)
    }

    pub(crate) fn offset(&self) -> usize {
        self.get("offset")
            .and_then(|v| v.trim().parse::<usize>().ok())
            .unwrap_or(0)
    }

    /// Does a statement's sort value pass every date filter?
    pub(crate) fn dates_match(&self, date: &str) -> bool {
        self.pairs.iter().all(|(name, value)| match name.as_str() {
            "date_from" | "date_from_including" => pad(date, HIGH) >= pad(value, LOW),
            "date_from_excluding" => pad(date, HIGH) > pad(value, HIGH),
            "date_to" | "date_to_including" => pad(date, LOW) <= pad(value, HIGH),
            "date_to_excluding" => pad(date, LOW) < pad(value, LOW),
            _ => true,
        })
    }

    /// Does a code (the tail of its URI after the system) pass the filter
    /// `param` (`|`-separated values, any of which may match)?
    pub(crate) fn code_matches(&self, param: &str, code: Option<&str>) -> bool {
        match self.get(param) {
            None => true,
            Some(values) => code.is_some_and(|c| values.split('|').any(|v| v == c)),
        }
    }
}

/// A statement of a list answer, as the filters and paging see it.
pub(crate) trait Listed {
    /// The last segment of the statement URI (all statements of an answer
    /// share the prefix, so this sorts ties like the URI).
    fn id(&self) -> Uuid;
    /// The value of the resource's sort property.
    fn sort_value(&self) -> &str;
    /// The tail of the code the resource's code filter compares, if any.
    fn filter_code(&self) -> Option<&str> {
        None
    }
}

/// The statements of one page.
pub(crate) struct Page<'a, T> {
    /// How many statements passed the filters.
    pub total: usize,
    /// This page's statements, newest first.
    pub items: Vec<&'a T>,
    pub limit: Option<usize>,
    pub offset: usize,
}

/// Filter `items` (on the code filter `code_param`, if any, and the date
/// filters), sort them newest first (URI ascending on ties) and cut the
/// page that `limit`/`offset` ask for.
pub(crate) fn select<'a, T: Listed>(
    items: &'a [T],
    query: &Query,
    code_param: Option<&str>,
) -> Page<'a, T> {
    let mut selected: Vec<&T> = items
        .iter()
        .filter(|s| {
            code_param.is_none_or(|p| query.code_matches(p, s.filter_code()))
                && query.dates_match(s.sort_value())
        })
        .collect();
    let total = selected.len();
    selected.sort_by(|a, b| {
        b.sort_value()
            .cmp(a.sort_value())
            .then_with(|| a.id().cmp(&b.id()))
    });
    let limit = query.limit();
    let offset = query.offset();
    if let Some(limit) = limit {
        let from = offset.min(selected.len());
        let to = offset.saturating_add(limit).min(selected.len());
        selected = selected[from..to].to_vec();
    }
    Page {
        total,
        items: selected,
        limit,
        offset,
    }
}

/// Where the answer is served (for `nextPageURL`).
pub(crate) struct PageUrl<'a> {
    pub api_base: &'a str,
    /// The decoded request path.
    pub path: &'a str,
}

/// Add the `api:ResponseSummary` of a page: the counts, and with a `limit`
/// the page's `api:resultOrder` and, when more remain, `api:nextPageURL`
/// (every query parameter with `offset` and `limit` updated, values not
/// URL-encoded). `prefix` + [`Listed::id`] is a statement's URI.
pub(crate) fn summary<'a, T: Listed>(
    w: &mut Writer<'a>,
    page: &Page<'a, T>,
    query: &Query,
    url: &PageUrl<'_>,
    prefix: &'a str,
) {
    open_counts(w, page.total, page.items.len());
    if let Some(limit) = page.limit {
        let order = page
            .items
            .iter()
            .map(|item| Str::Uuid(prefix, item.id()))
            .collect();
        w.list("api:resultOrder", order);
        let next_offset = page.offset + limit;
        if next_offset < page.total {
            w.lit(
                "api:nextPageURL",
                next_page_url(query, url, limit, next_offset),
            );
        }
    }
    w.close();
}

/// A summary with just the counts (the single-item answer, or the
/// exclusions of the allergies answer).
pub(crate) fn counts(w: &mut Writer<'_>, total: usize, returned: usize) {
    open_counts(w, total, returned);
    w.close();
}

fn open_counts(w: &mut Writer<'_>, total: usize, returned: usize) {
    w.open_blank(api("ResponseSummary"));
    w.int("api:totalResultCount", total);
    w.int("api:resultsReturned", returned);
    // A stand-in for the reference's query time, kept deterministic so that
    // the same request always gets the same bytes.
    w.int("api:processingTimeMs", 3 + returned * 2);
}

fn next_page_url(query: &Query, url: &PageUrl<'_>, limit: usize, next_offset: usize) -> String {
    let mut out = String::with_capacity(128);
    out.push_str(url.api_base);
    out.push_str(url.path);
    out.push('?');
    let mut first = true;
    let mut saw_offset = false;
    for (k, v) in &query.pairs {
        if !first {
            out.push('&');
        }
        first = false;
        let _ = match k.as_str() {
            "offset" => {
                saw_offset = true;
                write!(out, "{k}={next_offset}")
            }
            "limit" => write!(out, "{k}={limit}"),
            _ => write!(out, "{k}={v}"),
        };
    }
    if !saw_offset {
        let _ = write!(out, "&offset={next_offset}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> Query {
        Query {
            pairs: pairs
                .iter()
                .map(|(a, b)| (a.to_string(), b.to_string()))
                .collect(),
        }
    }

    #[test]
    fn padding_comparison_rules() {
        assert!(q(&[("date_to", "2010")]).dates_match("2010-12-31"));
        assert!(!q(&[("date_to", "2010")]).dates_match("2011-01-01"));
        assert!(q(&[("date_from", "2007-06-01")]).dates_match("2007"));
        assert!(q(&[("date_to_excluding", "2007-06-01")]).dates_match("2007"));
        assert!(!q(&[("date_to_excluding", "2007")]).dates_match("2007"));
        assert!(q(&[("date_to_including", "2007-06-01")]).dates_match("2007"));
        assert!(!q(&[("date_from_excluding", "2010")]).dates_match("2010-05-01"));
        assert!(q(&[("date_from_excluding", "2010")]).dates_match("2011-01-01"));
        assert!(!q(&[("date_from_including", "2010")]).dates_match("2009-12-31"));
        // A value longer than the template is compared as it is.
        assert!(q(&[("date_from", "2010-01-01T00:00:00.000Z")]).dates_match("2011"));
    }

    #[test]
    fn code_filters() {
        let f = q(&[("snomed", "1|22"), ("snomed", "3|4")]);
        assert!(f.code_matches("snomed", Some("4")), "the last value wins");
        assert!(!f.code_matches("snomed", Some("1")));
        assert!(!f.code_matches("snomed", None));
        assert!(f.code_matches("loinc", None), "absent filter");
    }

    /// A statement with a UUID drawn from a generator keyed by its name.
    struct S(&'static str, &'static str);
    impl Listed for S {
        fn id(&self) -> Uuid {
            // Distinct names give distinct ids; ties sort by id.
            crate::sandbox::person::uuid(&mut crate::sandbox::population::Mix::keyed(
                0,
                0,
                u64::from(self.0.as_bytes()[0]),
            ))
        }
        fn sort_value(&self) -> &str {
            self.1
        }
    }

    #[test]
    fn pages_are_newest_first_with_uri_ties() {
        let items = [
            S("b", "2001"),
            S("a", "2001"),
            S("c", "2003"),
            S("d", "1999"),
        ];
        let page = select(&items, &q(&[("limit", "2"), ("offset", "1")]), None);
        assert_eq!(page.total, 4);
        // c (2003) first; then a and b (2001) in id order.
        let ties = if items[1].id() < items[0].id() {
            ["a", "b"]
        } else {
            ["b", "a"]
        };
        assert_eq!(page.items.iter().map(|s| s.0).collect::<Vec<_>>(), ties);
        let url = PageUrl {
            api_base: "http://h",
            path: "/records/1/problems/",
        };
        assert_eq!(
            next_page_url(&q(&[("limit", "2"), ("x", "a b")]), &url, 2, 2),
            "http://h/records/1/problems/?limit=2&x=a b&offset=2"
        );
    }
}
