//! The tables of a pipeline: what each is made of in either shape of file
//! ([`single_input`], [`multi_inputs`]), every check of one table
//! ([`table_plan`]: name, resource, filters, paging, column types, the query
//! prepared by the real engine with SPARQL errors placed at the file's own
//! line and column, partition columns, the sandbox warning) and the checks
//! across tables ([`check_names`]).

use super::model::{Entry, FileSpec, QuerySpec, StrList, TableSpec};
use super::problem::{Collector, shown};
use super::toml_string;
use super::{RESOURCES, Resource, TablePlan};
use crate::schema::ColumnType;
use crate::transform::{Projection, QueryError, QueryProblem, RECORD_ID_COLUMN};
use std::collections::{BTreeMap, HashMap};
use std::ops::Range;
use std::sync::Arc;
use toml::Spanned;

/// What every table shares: the container, the credentials and
/// `--page-size`.
pub(super) struct Shared {
    pub api_base: Option<String>,
    pub app_id: String,
    pub consumer_key: String,
    pub page_size: Option<u32>,
}

/// One table as the file gives it, with the dotted key of each part (they
/// differ between the two shapes of file).
pub(super) struct TableInput<'f> {
    pub name: String,
    pub name_span: Option<Range<usize>>,
    /// `""` (single-table file: the output's root) or the table's name.
    pub dir: String,
    /// Where to point when a part is missing (the table's header).
    pub span: Option<Range<usize>>,
    /// `tables[2]` or `` (single-table file).
    pub key: String,
    pub resource: Option<&'f Spanned<String>>,
    pub resource_key: String,
    pub query: Option<&'f QuerySpec>,
    pub query_key: String,
    pub columns: Option<&'f Spanned<Vec<Entry>>>,
    pub columns_key: String,
    pub filters: Option<&'f Spanned<Vec<Entry>>>,
    pub filters_key: String,
    pub page_size: Option<&'f Spanned<i64>>,
    pub page_size_key: String,
    /// The table's own `partition_by` (`None`: `[output]`'s applies).
    pub partition_by: Option<&'f StrList>,
}

/// The one table of a single-table file: `[source]`, `[query]`,
/// `[columns]`, named after the pipeline, written at the output's root.
pub(super) fn single_input<'f>(
    c: &mut Collector<'_>,
    file: &'f FileSpec,
    name: &str,
) -> Vec<TableInput<'f>> {
    let source = file.source.as_ref();
    if source.is_none() {
        c.error(
            None,
            "source",
            "the pipeline has no [source] table".into(),
            "add `[source]` with `resource = \"medications\"` (or list tables as `[[tables]]`)",
        );
    }
    vec![TableInput {
        name: name.to_string(),
        name_span: None,
        dir: String::new(),
        span: source.map(|s| s.span.clone()),
        key: String::new(),
        resource: source.and_then(|s| s.resource.as_ref()),
        resource_key: "source.resource".into(),
        query: file.query.as_ref(),
        query_key: "query".into(),
        columns: file.columns.as_ref(),
        columns_key: "columns".into(),
        filters: source.and_then(|s| s.filters.as_ref()),
        filters_key: "source.filters".into(),
        page_size: source.and_then(|s| s.page_size.as_ref()),
        page_size_key: "source.page_size".into(),
        partition_by: None,
    }]
}

/// The tables of a `[[tables]]` file, after refusing what a multi-table
/// file must not have at its top (`[query]`, `[columns]`, and a
/// `[source]` resource, filters or page size).
pub(super) fn multi_inputs<'f>(
    c: &mut Collector<'_>,
    file: &'f FileSpec,
    list: &'f Spanned<Vec<TableSpec>>,
) -> Vec<TableInput<'f>> {
    refuse_top_level_table_keys(c, file);
    if list.get_ref().is_empty() {
        c.error(
            Some(list.span()),
            "tables",
            "the pipeline's `tables` list is empty".into(),
            "add at least one `[[tables]]` with `name`, `resource` and `[tables.query] sparql`",
        );
    }
    list.get_ref()
        .iter()
        .map(|t| {
            let name = t.name.as_ref().map(|n| n.get_ref().clone());
            if name.is_none() {
                c.error(
                    Some(t.span.clone()),
                    &format!("{}.name", t.key),
                    "this `[[tables]]` entry has no `name`".into(),
                    "add `name = \"...\"` (letters, digits, `_`, `-`): the table's directory under the output",
                );
            }
            let name = name.unwrap_or_default();
            TableInput {
                dir: name.clone(),
                name,
                name_span: t.name.as_ref().map(Spanned::span),
                span: Some(t.span.clone()),
                resource: t.resource.as_ref(),
                resource_key: format!("{}.resource", t.key),
                query: t.query.as_ref(),
                query_key: format!("{}.query", t.key),
                columns: t.columns.as_ref(),
                columns_key: format!("{}.columns", t.key),
                filters: t.filters.as_ref(),
                filters_key: format!("{}.filters", t.key),
                page_size: t.page_size.as_ref(),
                page_size_key: format!("{}.page_size", t.key),
                partition_by: t.partition_by.as_ref(),
                key: t.key.clone(),
            }
        })
        .collect()
}

fn refuse_top_level_table_keys(c: &mut Collector<'_>, file: &FileSpec) {
    if let Some(q) = &file.query {
        c.error(
            Some(q.span.clone()),
            "query",
            "a `[[tables]]` file has a top-level [query]".into(),
            "each table has its own query: move it into its `[[tables]]` entry as `[tables.query]`",
        );
    }
    if let Some(cols) = &file.columns {
        c.error(
            Some(cols.span()),
            "columns",
            "a `[[tables]]` file has a top-level [columns]".into(),
            "each table has its own column types: move them into its `[[tables]]` entry as `[tables.columns]`",
        );
    }
    let Some(source) = &file.source else { return };
    let misplaced = [
        ("resource", source.resource.as_ref().map(Spanned::span)),
        ("filters", source.filters.as_ref().map(Spanned::span)),
        ("page_size", source.page_size.as_ref().map(Spanned::span)),
    ];
    for (key, span) in misplaced {
        if let Some(span) = span {
            c.error(
                Some(span),
                &format!("source.{key}"),
                format!("`{key}` in [source] of a `[[tables]]` file"),
                format!(
                    "each table has its own `{key}`: move it into the `[[tables]]` entries; \
                     [source] holds only what they share (api_base, app_id, consumer_key)"
                ),
            );
        }
    }
}

/// A table name: letters, digits, `_` and `-`, starting with a letter or
/// digit (names starting `_` are smartsweep's control files), at most 64.
pub(super) fn plain_table_name(s: &str) -> bool {
    s.len() <= 64
        && s.starts_with(|c: char| c.is_ascii_alphanumeric())
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Every check of one table; its plan when it has no error.
pub(super) fn table_plan(
    c: &mut Collector<'_>,
    t: &TableInput<'_>,
    shared: &Shared,
    shared_partition: Option<&StrList>,
) -> Option<TablePlan> {
    // A multi-table file's table needs a plain name (a missing one is
    // reported by `multi_inputs`).
    let mut ok = t.key.is_empty() || t.name_span.is_some();
    if !t.key.is_empty() && t.name_span.is_some() && !plain_table_name(&t.name) {
        c.error(
            t.name_span.clone(),
            &format!("{}.name", t.key),
            format!("table name `{}` is not a plain name", shown(&t.name)),
            "use letters, digits, `_` and `-`, starting with a letter or digit (at most 64): it names the table's directory",
        );
        ok = false;
    }
    let resource = check_resource(c, t, shared);
    let filters = check_filters(c, t, resource);
    let page_size = check_page_size(c, t, resource, shared);
    let columns = check_columns(c, t);
    let (sparql, projection) = check_query(c, t, columns.as_ref());
    let partition_by = check_partition(c, t, shared_partition, projection.as_ref(), &columns);
    let (resource, filters, page_size, columns, sparql, projection) = (
        resource?,
        filters?,
        page_size?,
        columns?,
        sparql?,
        projection?,
    );
    ok.then(|| TablePlan {
        name: t.name.clone(),
        dir: t.dir.clone(),
        resource: resource.name.to_string(),
        filters,
        page_size,
        sparql,
        columns,
        projection: Arc::new(projection),
        partition_by,
    })
}

fn check_resource(
    c: &mut Collector<'_>,
    t: &TableInput<'_>,
    shared: &Shared,
) -> Option<&'static Resource> {
    let Some(spec) = t.resource else {
        if t.span.is_some() {
            c.error(
                t.span.clone(),
                &t.resource_key,
                format!("{} has no `resource`", where_(t)),
                format!("add `resource = \"...\"`, one of: {}", RESOURCES.join(", ")),
            );
        }
        return None;
    };
    let name = spec.get_ref();
    let Some(resource) = Resource::named(name) else {
        c.error(
            Some(spec.span()),
            &t.resource_key,
            format!("unknown resource `{}`", shown(name)),
            format!("use one of: {}", RESOURCES.join(", ")),
        );
        return None;
    };
    if shared.api_base.is_none() && !crate::sandbox::serves(name) {
        c.warning(
            Some(spec.span()),
            &t.resource_key,
            format!(
                "the embedded sandbox does not serve `{name}`: run against it, every record of {} would fail with 404",
                table_words(t)
            ),
            "set `api_base` in [source] (or `--api-base`) to a container that serves it",
        );
    }
    Some(resource)
}

/// `[source]` or `table `labs`` for messages.
fn where_(t: &TableInput<'_>) -> String {
    if t.key.is_empty() {
        "[source]".into()
    } else if t.name.is_empty() {
        format!("`{}`", t.key)
    } else {
        format!("table `{}`", t.name)
    }
}

fn table_words(t: &TableInput<'_>) -> String {
    if t.key.is_empty() {
        "this pipeline".into()
    } else {
        format!("table `{}`", t.name)
    }
}

fn check_filters(
    c: &mut Collector<'_>,
    t: &TableInput<'_>,
    resource: Option<&Resource>,
) -> Option<BTreeMap<String, String>> {
    let mut filters = BTreeMap::new();
    let mut ok = true;
    for e in t
        .filters
        .map(|f| f.get_ref().as_slice())
        .unwrap_or_default()
    {
        let key = e.key.get_ref();
        let dotted = format!("{}.{}", t.filters_key, key);
        if !super::FILTERS.contains(&key.as_str()) {
            let hint = if key == "limit" || key == "offset" {
                format!(
                    "paging is not a filter: set `page_size` in {} instead",
                    where_(t)
                )
            } else {
                format!("use one of: {}", super::FILTERS.join(", "))
            };
            c.error(
                Some(e.key.span()),
                &dotted,
                format!("unknown filter `{}`", shown(key)),
                hint,
            );
            ok = false;
        } else if let Some(r) = resource
            && !r.accepts_filter(key)
        {
            let accepted = r.filters();
            let hint = if accepted.is_empty() {
                format!("`{}` takes no filter: filter in the query instead", r.name)
            } else {
                format!(
                    "`{}` accepts: {}; or filter in the query",
                    r.name,
                    accepted.join(", ")
                )
            };
            c.error(
                Some(e.key.span()),
                &dotted,
                format!("the container ignores filter `{key}` on `{}`", r.name),
                hint,
            );
            ok = false;
        } else if e.value.get_ref().trim().is_empty() {
            c.error(
                Some(e.value.span()),
                &dotted,
                format!("filter `{key}` has an empty value"),
                "give one or more values separated by `|`, e.g. `312938|309309`",
            );
            ok = false;
        }
        filters.insert(key.clone(), e.value.get_ref().clone());
    }
    ok.then_some(filters)
}

fn check_page_size(
    c: &mut Collector<'_>,
    t: &TableInput<'_>,
    resource: Option<&Resource>,
    shared: &Shared,
) -> Option<Option<u32>> {
    let pageable = resource.is_none_or(|r| r.pageable);
    if let Some(p) = t.page_size {
        let v = *p.get_ref();
        if !(1..=i64::from(u32::MAX)).contains(&v) {
            c.error(
                Some(p.span()),
                &t.page_size_key,
                format!("page size `{v}` is out of range"),
                "use a positive number such as 100, or remove the key to fetch each record in one request",
            );
            return None;
        }
        if !pageable {
            let r = resource.map(|r| r.name).unwrap_or_default();
            c.error(
                Some(p.span()),
                &t.page_size_key,
                format!("`{r}` does not page: it comes in one answer per record"),
                "remove `page_size`",
            );
            return None;
        }
    }
    // `--page-size` applies to every table that pages.
    match shared.page_size {
        Some(0) => {
            c.error(
                None,
                "--page-size",
                "page size `0` is out of range".into(),
                "use a positive number such as 100, or leave it out",
            );
            None
        }
        Some(p) if pageable => Some(Some(p)),
        _ => Some(t.page_size.map(|p| *p.get_ref() as u32)),
    }
}

fn check_columns(
    c: &mut Collector<'_>,
    t: &TableInput<'_>,
) -> Option<BTreeMap<String, ColumnType>> {
    let mut columns = BTreeMap::new();
    let mut ok = true;
    for e in t
        .columns
        .map(|f| f.get_ref().as_slice())
        .unwrap_or_default()
    {
        match e.value.get_ref().parse::<ColumnType>() {
            Ok(ty) => {
                columns.insert(e.key.get_ref().clone(), ty);
            }
            Err(_) => {
                c.error(
                    Some(e.value.span()),
                    &format!("{}.{}", t.columns_key, e.key.get_ref()),
                    format!("`{}` is not a column type", shown(e.value.get_ref())),
                    format!("use one of: {}", ColumnType::NAMES.join(", ")),
                );
                ok = false;
            }
        }
    }
    ok.then_some(columns)
}

/// Prepares the query with the real engine (what validates runs), with the
/// declared column types when they are all valid. Each problem is placed
/// in the file: a syntax error at its own line and column inside the
/// string, an unknown column at its `[columns]` key.
fn check_query(
    c: &mut Collector<'_>,
    t: &TableInput<'_>,
    columns: Option<&BTreeMap<String, ColumnType>>,
) -> (Option<String>, Option<Projection>) {
    let sparql_key = format!("{}.sparql", t.query_key);
    let Some(q) = t.query else {
        let (span, hint) = if t.key.is_empty() {
            (
                None,
                "add `[query]` with `sparql = \"\"\"SELECT ... WHERE { ... }\"\"\"`",
            )
        } else {
            (
                t.span.clone(),
                "add `[tables.query]` with `sparql = \"\"\"SELECT ... WHERE { ... }\"\"\"` after the table's keys",
            )
        };
        c.error(
            span,
            &t.query_key,
            format!("{} has no query", query_owner(t)),
            hint,
        );
        return (None, None);
    };
    let Some(sparql) = &q.sparql else {
        c.error(
            Some(q.span.clone()),
            &sparql_key,
            format!("[{}] has no `sparql`", header(&t.query_key)),
            "add `sparql = \"\"\"SELECT ... WHERE { ... }\"\"\"`",
        );
        return (None, None);
    };
    // Column types that do not parse are reported already; check the
    // names against the SELECT anyway.
    let names: BTreeMap<String, ColumnType> = match columns {
        Some(cols) => cols.clone(),
        None => t
            .columns
            .map(|cols| {
                cols.get_ref()
                    .iter()
                    .map(|e| (e.key.get_ref().clone(), ColumnType::String))
                    .collect()
            })
            .unwrap_or_default(),
    };
    match Projection::prepare(sparql.get_ref(), &names) {
        Ok(p) => (Some(sparql.get_ref().clone()), Some(p)),
        Err(e) => {
            query_problems(c, t, sparql, &sparql_key, &e);
            (Some(sparql.get_ref().clone()), None)
        }
    }
}

/// `tables.query` for `tables[1].query`.
fn header(query_key: &str) -> String {
    match query_key.split_once('.') {
        Some((_, rest)) => format!("tables.{rest}"),
        None => query_key.to_string(),
    }
}

fn query_owner(t: &TableInput<'_>) -> String {
    if t.key.is_empty() {
        "the pipeline".into()
    } else {
        where_(t)
    }
}

fn query_problems(
    c: &mut Collector<'_>,
    t: &TableInput<'_>,
    sparql: &Spanned<String>,
    sparql_key: &str,
    e: &QueryError,
) {
    for problem in &e.problems {
        if let QueryProblem::Syntax { message } = problem {
            let (span, message) = syntax_error(c.text, sparql, message);
            c.error(
                Some(span),
                sparql_key,
                message,
                "check the query near that position",
            );
            continue;
        }
        // Each problem renders as "message\nhint: what to do".
        let text = problem.to_string();
        let (message, hint) = text.split_once("\nhint: ").unwrap_or((
            text.as_str(),
            "write one SPARQL SELECT; its variables become the columns",
        ));
        let (span, key) = match problem {
            QueryProblem::UnknownColumn { column, .. } => (
                t.columns
                    .and_then(|cols| cols.get_ref().iter().find(|e| e.key.get_ref() == column))
                    .map(|e| e.key.span())
                    .unwrap_or_else(|| sparql.span()),
                format!("{}.{column}", t.columns_key),
            ),
            _ => (sparql.span(), sparql_key.to_string()),
        };
        c.error(Some(span), &key, message.to_string(), hint);
    }
}

/// Where in the file a SPARQL syntax error is, and its message. The parser
/// says `error at LINE:COLUMN: expected ...` about the query text; that
/// position is mapped through the string token to the file (the string's
/// start when the mapping is not possible).
fn syntax_error(text: &str, sparql: &Spanned<String>, parser: &str) -> (Range<usize>, String) {
    let span = sparql.span();
    let Some((line, column, expected)) = parse_parser_position(parser) else {
        return (
            span,
            format!("the query is not valid SPARQL: {}", shown(parser)),
        );
    };
    let index = toml_string::char_index_of(sparql.get_ref(), line, column);
    let at = text
        .get(span.clone())
        .and_then(|raw| toml_string::source_offset(raw, sparql.get_ref(), index))
        .map(|o| span.start + o)
        .unwrap_or(span.start);
    let message = format!(
        "the query is not valid SPARQL (its line {line}, column {column}): {}",
        tidy_expected(expected)
    );
    (at..at, message)
}

/// `(line, column, rest)` from `error at 3:12: expected ...`.
fn parse_parser_position(message: &str) -> Option<(usize, usize, &str)> {
    let rest = message.strip_prefix("error at ")?;
    let (pos, rest) = rest.split_once(": ")?;
    let (line, column) = pos.split_once(':')?;
    Some((line.parse().ok()?, column.parse().ok()?, rest))
}

/// The parser's `expected one of ...` list, shortened: character classes
/// dropped, at most ten tokens.
fn tidy_expected(expected: &str) -> String {
    if expected.contains("Prefix not found") {
        return "a prefix used here is not declared (add `PREFIX name: <...>` before the SELECT)"
            .into();
    }
    let Some(list) = expected.strip_prefix("expected one of ") else {
        return shown(expected);
    };
    let tokens: Vec<&str> = list
        .split(", ")
        .filter(|t| !t.starts_with('[') && !t.contains('\n') && !t.contains('|'))
        .collect();
    match tokens.len() {
        0 => "unexpected text here".into(),
        n if n <= 10 => format!("expected one of {}", tokens.join(", ")),
        n => format!(
            "expected one of {}, ... ({} more)",
            tokens[..10].join(", "),
            n - 10
        ),
    }
}

/// The table's partition columns: its own list, else `[output]`'s. Each
/// must be a SELECT variable of the table, not `record_id`, not typed
/// `timestamp` or `float64` (one directory per instant or per float), and
/// listed once.
fn check_partition(
    c: &mut Collector<'_>,
    t: &TableInput<'_>,
    shared: Option<&StrList>,
    projection: Option<&Projection>,
    columns: &Option<BTreeMap<String, ColumnType>>,
) -> Vec<String> {
    let (list, key, inherited) = match (t.partition_by, shared) {
        (Some(own), _) => (own, format!("{}.partition_by", t.key), false),
        (None, Some(s)) => (s, "output.partition_by".to_string(), true),
        (None, None) => return Vec::new(),
    };
    let mut seen: HashMap<&str, ()> = HashMap::new();
    let mut out = Vec::new();
    for item in list.get_ref() {
        let col = item.get_ref().as_str();
        let problem = partition_problem(t, col, inherited, projection, columns.as_ref());
        let problem = problem.or_else(|| {
            seen.insert(col, ()).map(|()| {
                (
                    format!("partition column `{}` is listed twice", shown(col)),
                    "list each column once".to_string(),
                )
            })
        });
        match problem {
            Some((message, hint)) => c.error(Some(item.span()), &key, message, hint),
            None => out.push(col.to_string()),
        }
    }
    out
}

fn partition_problem(
    t: &TableInput<'_>,
    col: &str,
    inherited: bool,
    projection: Option<&Projection>,
    columns: Option<&BTreeMap<String, ColumnType>>,
) -> Option<(String, String)> {
    if col == RECORD_ID_COLUMN {
        return Some((
            "cannot partition by `record_id`: that makes one directory per record".into(),
            "partition by a column with few values, such as a date or a code".into(),
        ));
    }
    let variables = projection?.variables();
    if !variables.iter().any(|v| v == col) {
        let list: Vec<String> = variables.iter().map(|v| format!("?{v}")).collect();
        let list = list.join(", ");
        return Some(if inherited && !t.key.is_empty() {
            (
                format!(
                    "[output] partition_by names `{}`, which is not a variable of table `{}`",
                    shown(col),
                    t.name
                ),
                format!(
                    "give table `{}` its own `partition_by` (e.g. `partition_by = []`), or choose columns every table selects; its variables are: {list}",
                    t.name
                ),
            )
        } else {
            (
                format!(
                    "partition column `{}` is not a variable of the SELECT",
                    shown(col)
                ),
                format!("the SELECT variables are: {list}"),
            )
        });
    }
    let ty = columns
        .and_then(|m| m.get(col))
        .copied()
        .unwrap_or_default();
    matches!(ty, ColumnType::Timestamp | ColumnType::Float64).then(|| {
        (
            format!("cannot partition by `{col}`: it is typed `{ty}`"),
            "partition by a string, date, int64 or bool column: an instant or a float makes one directory per distinct value".into(),
        )
    })
}

/// Across tables: a name used twice (two tables writing one path), or two
/// names equal but for case (one path on a case-insensitive file system).
pub(super) fn check_names(c: &mut Collector<'_>, inputs: &[TableInput<'_>]) {
    let mut seen: Vec<&TableInput<'_>> = Vec::new();
    for t in inputs
        .iter()
        .filter(|t| !t.key.is_empty() && !t.name.is_empty())
    {
        let first_line = |o: &TableInput<'_>| {
            o.name_span
                .as_ref()
                .map(|s| super::problem::line_col(c.text, s.start).0)
                .unwrap_or(0)
        };
        if let Some(other) = seen.iter().find(|o| o.name == t.name) {
            let line = first_line(other);
            c.error(
                t.name_span.clone(),
                &format!("{}.name", t.key),
                format!(
                    "table name `{}` is used twice (also on line {line}): both tables would write `<output>/{}/`",
                    t.name, t.name
                ),
                "give every table its own name",
            );
        } else if let Some(other) = seen.iter().find(|o| o.name.eq_ignore_ascii_case(&t.name)) {
            let line = first_line(other);
            c.error(
                t.name_span.clone(),
                &format!("{}.name", t.key),
                format!(
                    "tables `{}` (line {line}) and `{}` write the same path on a case-insensitive file system",
                    other.name, t.name
                ),
                "give the tables names that differ in more than case",
            );
        } else {
            seen.push(t);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parser_positions_are_read_and_lists_shortened() {
        assert_eq!(
            parse_parser_position("error at 3:16: expected one of \"$\", \"(\""),
            Some((3, 16, "expected one of \"$\", \"(\""))
        );
        assert_eq!(
            parse_parser_position("The blank node _:b cannot be shared"),
            None
        );
        let long = "expected one of \"$\", \"'\", \"(\", \"*\", \"+\", \"-\", \".\", \"/\", \":\", \"<\", \"?\", \"[\", LATERAL, ['0'..='9'], ['A' ..= 'Z' | 'a'\n| 'b'], [_]";
        let t = tidy_expected(long);
        assert_eq!(
            t,
            "expected one of \"$\", \"'\", \"(\", \"*\", \"+\", \"-\", \".\", \"/\", \":\", \"<\", ... (3 more)"
        );
        assert_eq!(tidy_expected("expected one of [_]"), "unexpected text here");
    }

    #[test]
    fn table_names_are_plain() {
        for ok in ["labs", "lab_results", "v2", "A-b"] {
            assert!(plain_table_name(ok), "{ok}");
        }
        for bad in [
            "",
            "_errors",
            "-x",
            "a b",
            "a/b",
            "../x",
            "é",
            &"x".repeat(65),
        ] {
            assert!(!plain_table_name(bad), "{bad}");
        }
    }
}
