//! The pipeline file as written: every table and value with its byte span,
//! read from the TOML document by hand (not serde's `deny_unknown_fields`,
//! which stops at the first unknown key). Unknown keys and values of the
//! wrong type are collected as problems and reading goes on, so `validate`
//! can report every problem of a file at once.

use super::problem::{Collector, shown};
use std::ops::Range;
use toml::Spanned;
use toml::de::{DeTable, DeValue};

/// A `key = "value"` pair of a table of strings (`[columns]`, `filters`).
#[derive(Debug, Clone)]
pub(super) struct Entry {
    pub key: Spanned<String>,
    pub value: Spanned<String>,
}

/// A list of strings (`partition_by`).
pub(super) type StrList = Spanned<Vec<Spanned<String>>>;

/// The whole file.
#[derive(Debug, Default)]
pub(super) struct FileSpec {
    pub version: Option<Spanned<i64>>,
    pub name: Option<Spanned<String>>,
    pub source: Option<SourceSpec>,
    pub query: Option<QuerySpec>,
    pub columns: Option<Spanned<Vec<Entry>>>,
    pub output: Option<OutputSpec>,
    pub tables: Option<Spanned<Vec<TableSpec>>>,
}

/// `[source]`.
#[derive(Debug, Default)]
pub(super) struct SourceSpec {
    pub span: Range<usize>,
    pub resource: Option<Spanned<String>>,
    pub api_base: Option<Spanned<String>>,
    pub app_id: Option<Spanned<String>>,
    pub consumer_key: Option<Spanned<String>>,
    pub page_size: Option<Spanned<i64>>,
    pub filters: Option<Spanned<Vec<Entry>>>,
}

/// `[query]` or `[tables.query]`.
#[derive(Debug)]
pub(super) struct QuerySpec {
    pub span: Range<usize>,
    pub sparql: Option<Spanned<String>>,
}

/// `[output]`.
#[derive(Debug)]
pub(super) struct OutputSpec {
    pub span: Range<usize>,
    pub path: Option<Spanned<String>>,
    pub format: Option<Spanned<String>>,
    pub compression: Option<Spanned<String>>,
    pub partition_by: Option<StrList>,
}

/// One `[[tables]]` entry.
#[derive(Debug)]
pub(super) struct TableSpec {
    /// Its dotted key: `tables[0]`, `tables[1]`, ...
    pub key: String,
    pub span: Range<usize>,
    pub name: Option<Spanned<String>>,
    pub resource: Option<Spanned<String>>,
    pub query: Option<QuerySpec>,
    pub columns: Option<Spanned<Vec<Entry>>>,
    pub filters: Option<Spanned<Vec<Entry>>>,
    pub page_size: Option<Spanned<i64>>,
    pub partition_by: Option<StrList>,
}

const TOP_KEYS: &[&str] = &[
    "version", "name", "source", "query", "columns", "output", "tables",
];
const SOURCE_KEYS: &[&str] = &[
    "resource",
    "api_base",
    "app_id",
    "consumer_key",
    "page_size",
    "filters",
];
const QUERY_KEYS: &[&str] = &["sparql"];
const OUTPUT_KEYS: &[&str] = &["path", "format", "compression", "partition_by"];
const TABLE_KEYS: &[&str] = &[
    "name",
    "resource",
    "query",
    "columns",
    "filters",
    "page_size",
    "partition_by",
];

/// Which table of the file a key is in (for the accepted keys and hints).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Section {
    Top,
    Source,
    Query,
    Output,
    Table,
}

impl Section {
    fn title(self) -> &'static str {
        match self {
            Section::Top => "the top level",
            Section::Source => "[source]",
            Section::Query => "[query]",
            Section::Output => "[output]",
            Section::Table => "[[tables]]",
        }
    }

    fn accepted(self) -> &'static [&'static str] {
        match self {
            Section::Top => TOP_KEYS,
            Section::Source => SOURCE_KEYS,
            Section::Query => QUERY_KEYS,
            Section::Output => OUTPUT_KEYS,
            Section::Table => TABLE_KEYS,
        }
    }
}

/// Reads the parsed document into a [`FileSpec`], collecting unknown keys
/// and mistyped values as problems.
pub(super) fn read(c: &mut Collector<'_>, root: &DeTable<'_>) -> FileSpec {
    let mut r = Reader { c };
    r.keys(root, "", Section::Top);
    FileSpec {
        version: r.int(root, "", "version"),
        name: r.string(root, "", "name"),
        source: r
            .table(root, "", "source")
            .map(|(t, span)| r.source(t, span)),
        query: r
            .table(root, "", "query")
            .map(|(t, span)| r.query(t, span, "query")),
        columns: r.entries(root, "", "columns"),
        output: r
            .table(root, "", "output")
            .map(|(t, span)| r.output(t, span)),
        tables: r.tables(root),
    }
}

struct Reader<'c, 'a> {
    c: &'c mut Collector<'a>,
}

fn dotted(prefix: &str, key: &str) -> String {
    if prefix.is_empty() {
        key.to_string()
    } else {
        format!("{prefix}.{key}")
    }
}

impl Reader<'_, '_> {
    /// Reports every key of `t` that `section` does not accept.
    fn keys(&mut self, t: &DeTable<'_>, prefix: &str, section: Section) {
        for (k, _) in t.iter() {
            let key: &str = k.get_ref();
            if section.accepted().contains(&key) {
                continue;
            }
            let hint = unknown_key_hint(section, key);
            self.c.error(
                Some(k.span()),
                &dotted(prefix, key),
                format!("unknown key `{}` in {}", shown(key), section.title()),
                hint,
            );
        }
    }

    fn wrong_type(&mut self, v: &Spanned<DeValue<'_>>, key: &str, want: &str, example: &str) {
        self.c.error(
            Some(v.span()),
            key,
            format!("`{key}` must be {want}, not {}", v.get_ref().type_str()),
            format!("write it as {example}"),
        );
    }

    fn string(&mut self, t: &DeTable<'_>, prefix: &str, key: &str) -> Option<Spanned<String>> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::String(s) => Some(Spanned::new(v.span(), s.to_string())),
            _ => {
                let example = format!("`{key} = \"...\"`");
                self.wrong_type(v, &dotted(prefix, key), "a string", &example);
                None
            }
        }
    }

    fn int(&mut self, t: &DeTable<'_>, prefix: &str, key: &str) -> Option<Spanned<i64>> {
        let v = t.get(key)?;
        let parsed = match v.get_ref() {
            DeValue::Integer(i) => i64::from_str_radix(i.as_str(), i.radix()).ok(),
            _ => None,
        };
        if parsed.is_none() {
            let example = format!("a whole number, e.g. `{key} = 100`");
            self.wrong_type(v, &dotted(prefix, key), "an integer", &example);
        }
        parsed.map(|n| Spanned::new(v.span(), n))
    }

    fn table<'t, 'i>(
        &mut self,
        t: &'t DeTable<'i>,
        prefix: &str,
        key: &str,
    ) -> Option<(&'t DeTable<'i>, Range<usize>)> {
        let v = t.get(key)?;
        match v.get_ref() {
            DeValue::Table(inner) => Some((inner, v.span())),
            _ => {
                let example = format!("a table: `[{}]` on its own line", dotted(prefix, key));
                self.wrong_type(v, &dotted(prefix, key), "a table", &example);
                None
            }
        }
    }

    /// A table whose values are all strings: `[columns]`, `filters`.
    fn entries(&mut self, t: &DeTable<'_>, prefix: &str, key: &str) -> Option<Spanned<Vec<Entry>>> {
        let (inner, span) = self.table(t, prefix, key)?;
        let here = dotted(prefix, key);
        let mut out = Vec::new();
        for (k, _) in inner.iter() {
            let name: &str = k.get_ref();
            if let Some(value) = self.string(inner, &here, name) {
                out.push(Entry {
                    key: Spanned::new(k.span(), name.to_string()),
                    value,
                });
            }
        }
        Some(Spanned::new(span, out))
    }

    fn str_list(&mut self, t: &DeTable<'_>, prefix: &str, key: &str) -> Option<StrList> {
        let v = t.get(key)?;
        let here = dotted(prefix, key);
        let DeValue::Array(items) = v.get_ref() else {
            let example = format!("a list, e.g. `{key} = [\"date\"]`");
            self.wrong_type(v, &here, "a list of column names", &example);
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            match item.get_ref() {
                DeValue::String(s) => out.push(Spanned::new(item.span(), s.to_string())),
                _ => self.wrong_type(item, &format!("{here}[{i}]"), "a string", "a quoted name"),
            }
        }
        Some(Spanned::new(v.span(), out))
    }

    fn source(&mut self, t: &DeTable<'_>, span: Range<usize>) -> SourceSpec {
        self.keys(t, "source", Section::Source);
        SourceSpec {
            span,
            resource: self.string(t, "source", "resource"),
            api_base: self.string(t, "source", "api_base"),
            app_id: self.string(t, "source", "app_id"),
            consumer_key: self.string(t, "source", "consumer_key"),
            page_size: self.int(t, "source", "page_size"),
            filters: self.entries(t, "source", "filters"),
        }
    }

    fn query(&mut self, t: &DeTable<'_>, span: Range<usize>, prefix: &str) -> QuerySpec {
        self.keys(t, prefix, Section::Query);
        QuerySpec {
            span,
            sparql: self.string(t, prefix, "sparql"),
        }
    }

    fn output(&mut self, t: &DeTable<'_>, span: Range<usize>) -> OutputSpec {
        self.keys(t, "output", Section::Output);
        OutputSpec {
            span,
            path: self.string(t, "output", "path"),
            format: self.string(t, "output", "format"),
            compression: self.string(t, "output", "compression"),
            partition_by: self.str_list(t, "output", "partition_by"),
        }
    }

    fn tables(&mut self, root: &DeTable<'_>) -> Option<Spanned<Vec<TableSpec>>> {
        let v = root.get("tables")?;
        let DeValue::Array(items) = v.get_ref() else {
            self.wrong_type(
                v,
                "tables",
                "an array of tables",
                "`[[tables]]` (two brackets) before each table",
            );
            return None;
        };
        let mut out = Vec::new();
        for (i, item) in items.iter().enumerate() {
            let key = format!("tables[{i}]");
            match item.get_ref() {
                DeValue::Table(t) => out.push(self.table_spec(t, item.span(), key)),
                _ => self.wrong_type(item, &key, "a table", "`[[tables]]` followed by its keys"),
            }
        }
        Some(Spanned::new(v.span(), out))
    }

    fn table_spec(&mut self, t: &DeTable<'_>, span: Range<usize>, key: String) -> TableSpec {
        self.keys(t, &key, Section::Table);
        let query_key = dotted(&key, "query");
        TableSpec {
            span,
            name: self.string(t, &key, "name"),
            resource: self.string(t, &key, "resource"),
            query: self
                .table(t, &key, "query")
                .map(|(q, span)| self.query(q, span, &query_key)),
            columns: self.entries(t, &key, "columns"),
            filters: self.entries(t, &key, "filters"),
            page_size: self.int(t, &key, "page_size"),
            partition_by: self.str_list(t, &key, "partition_by"),
            key,
        }
    }
}

/// What to do about an unknown key: where it belongs when it belongs
/// elsewhere, else a near accepted name and the accepted keys.
fn unknown_key_hint(section: Section, key: &str) -> String {
    let moved = match (section, key) {
        (Section::Table, "sparql") => {
            Some("a table's query goes under `[tables.query]` as `sparql = \"\"\"...\"\"\"`")
        }
        (Section::Table, "api_base" | "app_id" | "consumer_key") => {
            Some("every table shares one container: put the key in [source]")
        }
        (Section::Table, "path" | "format" | "compression") => {
            Some("every table shares one output: put the key in [output]")
        }
        (Section::Top, "resource" | "api_base" | "app_id" | "consumer_key" | "page_size") => {
            Some("put the key in [source]")
        }
        (Section::Top | Section::Source, "sparql") => Some("the query goes in [query]"),
        (Section::Top | Section::Source, "path" | "format" | "compression" | "partition_by") => {
            Some("put the key in [output]")
        }
        (Section::Top, "table") => Some("write each table as `[[tables]]`"),
        _ => None,
    };
    if let Some(m) = moved {
        return m.to_string();
    }
    let accepted = section.accepted();
    let list = accepted.join(", ");
    match did_you_mean(key, accepted) {
        Some(near) => format!("did you mean `{near}`? {} accepts: {list}", section.title()),
        None => format!(
            "remove or rename the key; {} accepts: {list} (README.md, section `Pipeline files`)",
            section.title()
        ),
    }
}

/// The accepted name nearest to `key`, if it is a likely misspelling.
fn did_you_mean<'a>(key: &str, accepted: &[&'a str]) -> Option<&'a str> {
    let key = key.to_ascii_lowercase();
    accepted
        .iter()
        .map(|a| (edit_distance(&key, a), *a))
        .filter(|(d, a)| *d <= 2 && *d < a.len().max(2) - 1)
        .min_by_key(|(d, _)| *d)
        .map(|(_, a)| a)
}

/// Levenshtein distance with adjacent transpositions counted as one edit.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut d = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in d.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in d[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (d[i - 1][j] + 1)
                .min(d[i][j - 1] + 1)
                .min(d[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(d[i - 2][j - 2] + 1);
            }
            d[i][j] = best;
        }
    }
    d[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn near_names_are_suggested() {
        assert_eq!(did_you_mean("api_bsae", SOURCE_KEYS), Some("api_base"));
        assert_eq!(did_you_mean("Resource", SOURCE_KEYS), Some("resource"));
        assert_eq!(did_you_mean("pagesize", SOURCE_KEYS), Some("page_size"));
        assert_eq!(did_you_mean("colour", SOURCE_KEYS), None);
        assert_eq!(did_you_mean("x", QUERY_KEYS), None);
        assert_eq!(edit_distance("ab", "ba"), 1);
        assert_eq!(edit_distance("", "abc"), 3);
    }

    #[test]
    fn misplaced_keys_say_where_they_belong() {
        assert!(unknown_key_hint(Section::Table, "sparql").contains("[tables.query]"));
        assert!(unknown_key_hint(Section::Table, "api_base").contains("[source]"));
        assert!(unknown_key_hint(Section::Source, "path").contains("[output]"));
        let h = unknown_key_hint(Section::Output, "formt");
        assert!(h.starts_with("did you mean `format`?"), "{h}");
        assert!(h.contains("path, format, compression, partition_by"), "{h}");
    }
}
