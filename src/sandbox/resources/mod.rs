//! The registry of data resources: one module per resource, one entry in
//! [`REGISTRY`] per module.
//!
//! A resource is a [`Resource`]: its path name, its URL shape (a list needs
//! the trailing slash, a single item must not have it), its statement class,
//! the code filter it honours and its sort property (on which the six date
//! filters and `limit`/`offset` paging work), and the function that writes
//! a generated record's answer.
//!
//! To add a resource, write `resources/<name>.rs` with a
//! `pub(crate) static RESOURCE: Resource` and add `<name>` to the
//! `registry!` line below; the server routes it, `--from-dir` serves its
//! files, `--data-latency-ms` delays it and [`crate::sandbox::serves`]
//! reports it. List resources usually generate their statements, implement
//! [`Listed`] for them and call [`write_list`], which does the filtering,
//! paging and summary.

use super::person::Person;
use super::population::Mix;
use super::query::{self, Listed, PageUrl, Query};
use super::rdf::{Class, EMPTY_GRAPH, Str, Style, Writer, xml_escape_into};

/// Whether the path ends with a slash.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Shape {
    /// `/records/{rid}/{name}/`: without the slash it is a 404.
    List,
    /// `/records/{rid}/{name}`: with a slash it is a 404.
    Single,
}

/// One data resource.
pub(crate) struct Resource {
    /// The path segment after `/records/{rid}/`.
    pub name: &'static str,
    pub shape: Shape,
    /// The class of its statements (the manifest's capabilities).
    pub class: Class,
    /// The query parameter of its code filter (`snomed`, `loinc`, ...).
    pub code_filter: Option<&'static str>,
    /// Its sort property (the date filters and paging work on it).
    pub sort: Option<&'static str>,
    /// Write a generated record's answer.
    pub write: fn(&Ctx<'_>, &mut String),
}

macro_rules! registry {
    ($($name:ident),* $(,)?) => {
        $(mod $name;)*
        /// Every data resource the sandbox serves.
        pub(crate) static REGISTRY: &[&Resource] = &[$(&$name::RESOURCE),*];
    };
}

registry![
    medications,
    fulfillments,
    problems,
    allergies,
    lab_results,
    vital_sign_sets,
    immunizations,
    procedures,
    demographics,
];

/// The registered resource of this name.
pub(crate) fn find(name: &str) -> Option<&'static Resource> {
    REGISTRY.iter().copied().find(|r| r.name == name)
}

/// What a resource writer knows about the request.
pub(crate) struct Ctx<'a> {
    pub api_base: &'a str,
    pub record_id: &'a str,
    /// `{api_base}/records/{rid}`, XML-escaped (see [`Str::Safe`]).
    pub record_uri: String,
    /// The population's seed.
    pub seed: u64,
    /// The record's key ([`super::population::record_key`]).
    pub key: u64,
    /// The decoded request path (for `nextPageURL`).
    pub path: &'a str,
    pub query: &'a Query,
}

impl<'a> Ctx<'a> {
    pub(crate) fn new(
        api_base: &'a str,
        record_id: &'a str,
        seed: u64,
        key: u64,
        path: &'a str,
        query: &'a Query,
    ) -> Self {
        Ctx {
            api_base,
            record_id,
            record_uri: {
                let mut uri = String::with_capacity(api_base.len() + record_id.len() + 9);
                xml_escape_into(&mut uri, api_base);
                uri.push_str("/records/");
                xml_escape_into(&mut uri, record_id);
                uri
            },
            seed,
            key,
            path,
            query,
        }
    }

    /// The record's person.
    pub(crate) fn person(&self) -> Person {
        Person::of(self.seed, self.key)
    }

    /// The record's generator for one purpose.
    pub(crate) fn rng(&self, salt: u64) -> Mix {
        Mix::keyed(self.seed, salt, self.key)
    }

    /// The record URI, for `sp:belongsTo`.
    pub(crate) fn record(&self) -> Str<'_> {
        Str::Safe(&self.record_uri)
    }

    /// `{record_uri}/{segment}/`, XML-escaped: statement URIs are this plus
    /// a UUID, as a [`Str::Pair`].
    pub(crate) fn prefix(&self, segment: &str) -> String {
        format!("{}/{segment}/", self.record_uri)
    }

    /// A writer whose blank node ids are fixed for this record and resource.
    pub(crate) fn writer<'w>(&self, style: Style, resource: &str) -> Writer<'w> {
        Writer::new(
            style,
            super::population::hash_str(self.seed, 0x6A9, resource) ^ self.key.rotate_left(29),
        )
    }

    pub(crate) fn page_url(&self) -> PageUrl<'_> {
        PageUrl {
            api_base: self.api_base,
            path: self.path,
        }
    }
}

/// The flat answer of a list resource: the statements that pass the
/// filters, paged, each written by `build` (with its nodes and neighbours),
/// and the summary; the empty graph when nothing is left. `prefix` is the
/// statement URIs' prefix ([`Ctx::prefix`] of the resource).
pub(crate) fn write_list<'a, T: Listed>(
    ctx: &Ctx<'_>,
    resource: &Resource,
    items: &'a [T],
    prefix: &'a str,
    mut build: impl FnMut(&mut Writer<'a>, &'a T),
    out: &mut String,
) {
    let page = query::select(items, ctx.query, resource.code_filter);
    if page.items.is_empty() {
        out.push_str(EMPTY_GRAPH);
        return;
    }
    let mut w = ctx.writer(Style::Flat, resource.name);
    for &item in &page.items {
        build(&mut w, item);
    }
    query::summary(&mut w, &page, ctx.query, &ctx.page_url(), prefix);
    w.finish(out);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_shapes_consistent() {
        let mut names: Vec<&str> = REGISTRY.iter().map(|r| r.name).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), REGISTRY.len());
        for r in REGISTRY {
            assert_eq!(r.shape == Shape::Single, r.sort.is_none(), "{}", r.name);
            assert!(find(r.name).is_some());
        }
        assert!(find("demographics").is_some_and(|r| r.shape == Shape::Single));
        assert!(find("clinical_notes").is_none());
    }
}
