//! Pure validation of a pipeline file: every problem at once, each with the
//! file, line, column and key, the bad value in backticks and a `hint:`.

use super::model::PipelineFile;
use super::{
    DEFAULT_APP_ID, FILTERS, FORMAT_VERSION, OutputPlan, Overrides, Plan, RESOURCES, TablePlan,
};
use crate::load::Location;
use crate::load::{Compression, Format};
use crate::schema::ColumnType;
use crate::transform::{Projection, QueryProblem};
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// One thing wrong with a pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file.
    pub file: PathBuf,
    /// 1-based line and column, when known.
    pub location: Option<(usize, usize)>,
    /// The dotted key (`source.resource`), when known.
    pub key: Option<String>,
    /// What is wrong, with the bad value in backticks.
    pub message: String,
    /// What to do.
    pub hint: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
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

/// Every problem found in one file (never empty when returned as an error).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Problems(pub Vec<Problem>);

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

struct Collector<'a> {
    file: &'a Path,
    text: &'a str,
    problems: Vec<Problem>,
}

impl Collector<'_> {
    fn location(&self, span: &Range<usize>) -> (usize, usize) {
        line_col(self.text, span.start)
    }

    fn push(&mut self, span: Option<Range<usize>>, key: &str, message: String, hint: &str) {
        let location = span.map(|s| self.location(&s));
        self.problems.push(Problem {
            file: self.file.to_path_buf(),
            location,
            key: (!key.is_empty()).then(|| key.to_string()),
            message,
            hint: hint.to_string(),
        });
    }
}

/// 1-based line and column of a byte offset.
fn line_col(text: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.matches('\n').count() + 1;
    let col = before
        .rfind('\n')
        .map(|nl| before[nl + 1..].chars().count() + 1)
        .unwrap_or_else(|| before.chars().count() + 1);
    (line, col)
}

/// Read and validate a pipeline file, applying command-line overrides.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Plan, Problems> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            file: path.to_path_buf(),
            location: None,
            key: None,
            message: format!("cannot read the pipeline file `{}`: {e}", path.display()),
            hint: "check the path; pipelines live in `pipelines/*.toml`".into(),
        }])
    })?;
    load_str(path, &text, overrides)
}

/// Validate pipeline text as if read from `path`.
pub fn load_str(path: &Path, text: &str, overrides: &Overrides) -> Result<Plan, Problems> {
    let mut c = Collector {
        file: path,
        text,
        problems: Vec::new(),
    };
    let file: PipelineFile = match toml::from_str(text) {
        Ok(f) => f,
        Err(e) => {
            let span = e.span();
            let msg = e.message().trim().to_string();
            let hint = if msg.contains("unknown field") {
                "remove or rename the key; the pipeline format is in README.md (section `Pipeline files`)"
            } else if msg.contains("missing field") {
                "add the key; every pipeline needs [source] resource, [query] sparql and [output] path"
            } else {
                "fix the TOML syntax or the value's type at that place"
            };
            c.push(span, "", format!("invalid pipeline: {msg}"), hint);
            return Err(Problems(c.problems));
        }
    };

    if let Some(v) = &file.version
        && *v.get_ref() != FORMAT_VERSION
    {
        c.push(
            Some(v.span()),
            "version",
            format!(
                "pipeline format version `{}` is not supported (this smartsweep reads version {FORMAT_VERSION})",
                v.get_ref()
            ),
            "upgrade smartsweep, or write the pipeline in the version-1 format",
        );
    }

    let name = match &file.name {
        Some(n) => {
            let s = n.get_ref();
            if s.is_empty()
                || !s
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
            {
                c.push(
                    Some(n.span()),
                    "name",
                    format!("pipeline name `{s}` is not a plain name"),
                    "use letters, digits, `_` and `-` only",
                );
            }
            s.clone()
        }
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pipeline".into()),
    };

    // [source]
    let source = file.source.get_ref();
    let resource = source.resource.get_ref().clone();
    if !RESOURCES.contains(&resource.as_str()) {
        c.push(
            Some(source.resource.span()),
            "source.resource",
            format!("unknown resource `{resource}`"),
            &format!("use one of: {}", RESOURCES.join(", ")),
        );
    }
    let api_base = match (&overrides.api_base, &source.api_base) {
        (Some(o), _) => match normalize_api_base(o) {
            Ok(v) => Some(v),
            Err(m) => {
                c.push(
                    None,
                    "--api-base",
                    m,
                    "give the container's API base, e.g. `https://smart.example.org`",
                );
                None
            }
        },
        (None, Some(s)) => match normalize_api_base(s.get_ref()) {
            Ok(v) => Some(v),
            Err(m) => {
                c.push(
                    Some(s.span()),
                    "source.api_base",
                    m,
                    "give the container's API base, e.g. `https://smart.example.org`",
                );
                None
            }
        },
        (None, None) => None,
    };
    let app_id = overrides
        .app_id
        .clone()
        .or_else(|| source.app_id.as_ref().map(|s| s.get_ref().clone()))
        .unwrap_or_else(|| DEFAULT_APP_ID.to_string());
    if app_id.is_empty() || app_id.contains('/') {
        let span = source.app_id.as_ref().map(|s| s.span());
        c.push(
            span,
            "source.app_id",
            format!("app id `{app_id}` is not usable in a URL path"),
            "use the background app's id as registered, e.g. `my-export@apps.example.org`",
        );
    }
    let consumer_key = overrides
        .consumer_key
        .clone()
        .or_else(|| source.consumer_key.as_ref().map(|s| s.get_ref().clone()))
        .unwrap_or_else(|| app_id.clone());
    let page_size = match (overrides.page_size, &source.page_size) {
        (Some(p), _) => Some(p),
        (None, Some(p)) => {
            let v = *p.get_ref();
            if !(1..=i64::from(u32::MAX)).contains(&v) {
                c.push(
                    Some(p.span()),
                    "source.page_size",
                    format!("page size `{v}` is out of range"),
                    "use a positive number such as 100, or remove the key to fetch each record in one request",
                );
                None
            } else {
                Some(v as u32)
            }
        }
        (None, None) => None,
    };
    let mut filters = BTreeMap::new();
    for (k, v) in &source.filters {
        let key = k.get_ref();
        if !FILTERS.contains(&key.as_str()) {
            let hint = if key == "limit" || key == "offset" {
                "paging is not a filter: set `page_size` in [source] instead".to_string()
            } else {
                format!("use one of: {}", FILTERS.join(", "))
            };
            c.push(
                Some(k.span()),
                &format!("source.filters.{key}"),
                format!("unknown filter `{key}`"),
                &hint,
            );
        } else if v.get_ref().trim().is_empty() {
            c.push(
                Some(v.span()),
                &format!("source.filters.{key}"),
                format!("filter `{key}` has an empty value"),
                "give one or more values separated by `|`, e.g. `312938|309309`",
            );
        }
        filters.insert(key.clone(), v.get_ref().clone());
    }

    // [columns]
    let mut columns = BTreeMap::new();
    for (k, v) in &file.columns {
        match v.get_ref().parse::<ColumnType>() {
            Ok(t) => {
                columns.insert(k.get_ref().clone(), t);
            }
            Err(_) => c.push(
                Some(v.span()),
                &format!("columns.{}", k.get_ref()),
                format!("`{}` is not a column type", v.get_ref()),
                &format!("use one of: {}", ColumnType::NAMES.join(", ")),
            ),
        }
    }

    // [query]: parsed and prepared by the real engine, so what validates runs.
    let query = file.query.get_ref();
    let sparql = query.sparql.get_ref().clone();
    let prepared = Projection::prepare(&sparql, &columns);
    if let Err(e) = &prepared {
        for problem in &e.problems {
            // Each problem renders as "message\nhint: what to do".
            let text = problem.to_string();
            let (message, hint) = text.split_once("\nhint: ").unwrap_or((
                text.as_str(),
                "write one SPARQL SELECT; its variables become the columns",
            ));
            let (span, key) = match problem {
                QueryProblem::UnknownColumn { column, .. } => (
                    file.columns
                        .keys()
                        .find(|k| k.get_ref() == column)
                        .map(|k| k.span())
                        .unwrap_or_else(|| query.sparql.span()),
                    format!("columns.{column}"),
                ),
                _ => (query.sparql.span(), "query.sparql".to_string()),
            };
            c.push(Some(span), &key, message.to_string(), hint);
        }
    }

    // [output]
    let output_spec = file.output.get_ref();
    let format = match (&overrides.format, &output_spec.format) {
        (Some(f), _) => *f,
        (None, Some(s)) => match s.get_ref().parse::<Format>() {
            Ok(f) => f,
            Err(_) => {
                c.push(
                    Some(s.span()),
                    "output.format",
                    format!("unknown output format `{}`", s.get_ref()),
                    "use `parquet` or `csv`",
                );
                Format::Parquet
            }
        },
        (None, None) => Format::Parquet,
    };
    let compression = match (&overrides.compression, &output_spec.compression) {
        (Some(f), _) => *f,
        (None, Some(s)) => match s.get_ref().parse::<Compression>() {
            Ok(f) => f,
            Err(_) => {
                c.push(
                    Some(s.span()),
                    "output.compression",
                    format!("unknown compression `{}`", s.get_ref()),
                    "use `zstd`, `snappy` or `none`",
                );
                Compression::Zstd
            }
        },
        (None, None) => Compression::Zstd,
    };
    if format == Format::Csv
        && let Some(s) = &output_spec.compression
    {
        c.push(
            Some(s.span()),
            "output.compression",
            format!("compression `{}` applies to Parquet, not CSV", s.get_ref()),
            "remove the key, or use `format = \"parquet\"`",
        );
    }
    let (raw_output, output_span) = match &overrides.output {
        Some(o) => (o.clone(), None),
        None => (
            output_spec.path.get_ref().clone(),
            Some(output_spec.path.span()),
        ),
    };
    let location = if raw_output.trim().is_empty() {
        c.push(
            output_span,
            "output.path",
            "the output path is empty".into(),
            "name a directory, e.g. `out/drug_names`",
        );
        None
    } else {
        match Location::parse(&raw_output) {
            Ok(l) => Some(l),
            Err(m) => {
                c.push(
                    output_span,
                    "output.path",
                    m,
                    "use a directory path, `file://`, `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`",
                );
                None
            }
        }
    };

    match (prepared, location) {
        (Ok(projection), Some(location)) if c.problems.is_empty() => Ok(Plan {
            tables: vec![TablePlan {
                name: name.clone(),
                dir: String::new(),
                resource,
                filters,
                page_size,
                sparql,
                columns,
                projection: Arc::new(projection),
            }],
            name,
            source_file: path.to_path_buf(),
            output: OutputPlan {
                location,
                format,
                compression,
                partition_by: Vec::new(),
            },
            api_base,
            app_id,
            consumer_key,
        }),
        _ => Err(Problems(c.problems)),
    }
}

/// Check and normalize an API base: http(s), a host, no query or fragment,
/// no trailing slash.
pub fn normalize_api_base(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| format!("API base `{raw}` is not a URL: {e}"))?;
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "API base `{raw}` must start with http:// or https://"
        ));
    }
    if url.host_str().is_none() {
        return Err(format!("API base `{raw}` has no host"));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "API base `{raw}` must not have a query or fragment"
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err("an API base must not carry credentials in the URL".into());
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
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
    }

    #[test]
    fn api_base_is_normalized() {
        assert_eq!(
            normalize_api_base("HTTP://Example.org:80/api/").as_deref(),
            Ok("http://example.org/api")
        );
        assert!(normalize_api_base("ftp://x").is_err());
        assert!(normalize_api_base("http://u:p@x").is_err());
        assert!(normalize_api_base("not a url").is_err());
    }
}
