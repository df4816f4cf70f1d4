//! Loading a pipeline: parse the TOML with spans, read it (`model.rs`),
//! check the file-wide keys (version, name, `[source]`, `[output]`) and the
//! file's shape (one table or `[[tables]]`), validate every table
//! (`tables.rs`), and build the [`Plan`]. Every problem at once, each with
//! the file, line, column and key, the bad value in backticks and a `hint:`.

use super::model::{self, FileSpec, OutputSpec, SourceSpec, StrList};
use super::problem::{Collector, Problem, Problems, shown};
use super::tables::{self, Shared};
use super::{DEFAULT_APP_ID, FORMAT_VERSION, OutputPlan, Overrides, Plan};
use crate::load::{Compression, Format, Location};
use std::path::Path;
use toml::de::DeTable;

/// Read and validate a pipeline file, applying command-line overrides.
pub fn load(path: &Path, overrides: &Overrides) -> Result<Plan, Problems> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problems(vec![Problem {
            severity: super::Severity::Error,
            file: path.to_path_buf(),
            location: None,
            key: None,
            message: format!("cannot read the pipeline file `{}`: {e}", path.display()),
            hint: "check the path; pipelines live in `pipelines/*.toml`".into(),
        }])
    })?;
    load_str(path, &text, overrides)
}

/// Validate pipeline text as if read from `path` (also how `audit` builds
/// its plan from a template). On success the plan carries the file's
/// warnings; on failure every error and warning, in file order.
pub fn load_str(path: &Path, text: &str, overrides: &Overrides) -> Result<Plan, Problems> {
    let mut c = Collector::new(path, text);
    let (root, errors) = DeTable::parse_recoverable(text);
    if !errors.is_empty() {
        for e in errors {
            let hint = "fix the TOML syntax at that place (strings need closing quotes, \
                        tables are `[name]`, keys are `key = value`)";
            let msg = format!("invalid TOML: {}", e.message().trim());
            c.error(e.span(), "", msg, hint);
        }
        return Err(Problems(c.finish()));
    }
    let file = model::read(&mut c, root.get_ref());
    let plan = build(&mut c, &file, path, overrides);
    match plan {
        Some(mut plan) if !c.has_errors() => {
            plan.warnings = c.finish();
            Ok(plan)
        }
        _ => Err(Problems(c.finish())),
    }
}

fn build(c: &mut Collector<'_>, file: &FileSpec, path: &Path, o: &Overrides) -> Option<Plan> {
    check_version(c, file);
    let name = pipeline_name(c, file, path);
    let shared = shared_source(c, file.source.as_ref(), o);
    let inputs = match &file.tables {
        Some(list) => tables::multi_inputs(c, file, list),
        None => tables::single_input(c, file, &name),
    };
    let output = output(c, file.output.as_ref(), o);
    let shared_partition = file.output.as_ref().and_then(|s| s.partition_by.as_ref());
    let mut plans = Vec::new();
    for input in &inputs {
        plans.push(tables::table_plan(c, input, &shared, shared_partition));
    }
    tables::check_names(c, &inputs);
    let output = output?;
    let tables: Option<Vec<_>> = plans.into_iter().collect();
    let tables = tables.filter(|t| !t.is_empty())?;
    let partition_by = strings(shared_partition);
    Some(Plan {
        name,
        source_file: path.to_path_buf(),
        api_base: shared.api_base,
        app_id: shared.app_id,
        consumer_key: shared.consumer_key,
        tables,
        output: OutputPlan {
            partition_by,
            ..output
        },
        warnings: Vec::new(),
    })
}

pub(super) fn strings(list: Option<&StrList>) -> Vec<String> {
    list.map(|l| l.get_ref().iter().map(|s| s.get_ref().clone()).collect())
        .unwrap_or_default()
}

fn check_version(c: &mut Collector<'_>, file: &FileSpec) {
    if let Some(v) = &file.version
        && *v.get_ref() != i64::from(FORMAT_VERSION)
    {
        c.error(
            Some(v.span()),
            "version",
            format!(
                "pipeline format version `{}` is not supported (this smartsweep reads version {FORMAT_VERSION})",
                v.get_ref()
            ),
            "upgrade smartsweep, or write the pipeline in the version-1 format",
        );
    }
}

fn pipeline_name(c: &mut Collector<'_>, file: &FileSpec, path: &Path) -> String {
    match &file.name {
        Some(n) => {
            let s = n.get_ref();
            if s.is_empty()
                || !s
                    .chars()
                    .all(|ch| ch.is_ascii_alphanumeric() || ch == '_' || ch == '-')
            {
                c.error(
                    Some(n.span()),
                    "name",
                    format!("pipeline name `{}` is not a plain name", shown(s)),
                    "use letters, digits, `_` and `-` only",
                );
            }
            s.clone()
        }
        None => path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| "pipeline".into()),
    }
}

/// The container and credentials every table shares (`[source]`, with the
/// command line winning).
fn shared_source(c: &mut Collector<'_>, source: Option<&SourceSpec>, o: &Overrides) -> Shared {
    let api_hint = "give the container's API base, e.g. `https://smart.example.org`";
    let file_base = source.and_then(|s| s.api_base.as_ref());
    let api_base = match (&o.api_base, file_base) {
        (Some(raw), _) => normalize_api_base(raw)
            .map_err(|m| c.error(None, "--api-base", m, api_hint))
            .ok(),
        (None, Some(s)) => normalize_api_base(s.get_ref())
            .map_err(|m| c.error(Some(s.span()), "source.api_base", m, api_hint))
            .ok(),
        (None, None) => None,
    };
    let file_app = source.and_then(|s| s.app_id.as_ref());
    let app_id = o
        .app_id
        .clone()
        .or_else(|| file_app.map(|s| s.get_ref().clone()))
        .unwrap_or_else(|| DEFAULT_APP_ID.to_string());
    if app_id.is_empty() || app_id.contains('/') {
        let (span, key) = match (&o.app_id, file_app) {
            (None, Some(s)) => (Some(s.span()), "source.app_id"),
            _ => (None, "--app-id"),
        };
        c.error(
            span,
            key,
            format!("app id `{}` is not usable in a URL path", shown(&app_id)),
            "use the background app's id as registered, e.g. `my-export@apps.example.org`",
        );
    }
    let consumer_key = o
        .consumer_key
        .clone()
        .or_else(|| source.and_then(|s| s.consumer_key.as_ref().map(|k| k.get_ref().clone())))
        .unwrap_or_else(|| app_id.clone());
    Shared {
        api_base,
        app_id,
        consumer_key,
        page_size: o.page_size,
    }
}

/// `[output]` with the command line winning: where, which format, which
/// codec. `None` when the location is missing or wrong.
fn output(c: &mut Collector<'_>, spec: Option<&OutputSpec>, o: &Overrides) -> Option<OutputPlan> {
    let file_format = spec.and_then(|s| s.format.as_ref());
    let format = match (&o.format, file_format) {
        (Some(f), _) => *f,
        (None, Some(s)) => s.get_ref().parse::<Format>().unwrap_or_else(|_| {
            c.error(
                Some(s.span()),
                "output.format",
                format!("unknown output format `{}`", shown(s.get_ref())),
                "use `parquet`, `csv` or `delta`",
            );
            Format::Parquet
        }),
        (None, None) => Format::Parquet,
    };
    let file_codec = spec.and_then(|s| s.compression.as_ref());
    let compression = match (&o.compression, file_codec) {
        (Some(f), _) => *f,
        (None, Some(s)) => s.get_ref().parse::<Compression>().unwrap_or_else(|_| {
            c.error(
                Some(s.span()),
                "output.compression",
                format!("unknown compression `{}`", shown(s.get_ref())),
                "use `zstd`, `snappy` or `none`",
            );
            Compression::Zstd
        }),
        (None, None) => Compression::Zstd,
    };
    // A codec in the file next to `format = "csv"` in the file is a
    // contradiction; `--format csv` on the command line just ignores it.
    if let (Some(f), Some(s)) = (file_format, file_codec)
        && o.format.is_none()
        && f.get_ref() == "csv"
    {
        c.error(
            Some(s.span()),
            "output.compression",
            format!(
                "compression `{}` applies to Parquet and Delta, not CSV",
                shown(s.get_ref())
            ),
            "remove the key, or use `format = \"parquet\"`",
        );
    }
    let location = location(c, spec, o)?;
    Some(OutputPlan {
        location,
        format,
        compression,
        partition_by: Vec::new(),
    })
}

fn location(c: &mut Collector<'_>, spec: Option<&OutputSpec>, o: &Overrides) -> Option<Location> {
    let hint = "use a directory path, `file://`, `s3://bucket/prefix`, `gs://bucket/prefix` or `az://container/prefix`";
    let (raw, span, key) = match (&o.output, spec) {
        (Some(raw), _) => (raw.clone(), None, "--output"),
        (None, Some(s)) => match &s.path {
            Some(p) => (p.get_ref().clone(), Some(p.span()), "output.path"),
            None => {
                c.error(
                    Some(s.span.clone()),
                    "output.path",
                    "[output] has no `path`".into(),
                    format!("add `path = \"out/...\"`; {hint}"),
                );
                return None;
            }
        },
        (None, None) => {
            c.error(
                None,
                "output",
                "the pipeline has no [output] table".into(),
                "add `[output]` with `path = \"out/...\"` (and optionally `format`)",
            );
            return None;
        }
    };
    if raw.trim().is_empty() {
        c.error(
            span,
            key,
            "the output path is empty".into(),
            format!("name a directory, e.g. `out/drug_names`; {hint}"),
        );
        return None;
    }
    Location::parse(&raw)
        .map_err(|m| c.error(span, key, m, hint))
        .ok()
}

/// Check and normalize an API base: http(s), a host, no query or fragment,
/// no trailing slash.
pub fn normalize_api_base(raw: &str) -> Result<String, String> {
    let url = reqwest::Url::parse(raw.trim())
        .map_err(|e| format!("API base `{}` is not a URL: {e}", shown(raw)))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err("an API base must not carry credentials in the URL".into());
    }
    if url.scheme() != "http" && url.scheme() != "https" {
        return Err(format!(
            "API base `{}` must start with http:// or https://",
            shown(raw)
        ));
    }
    if url.host_str().is_none() {
        return Err(format!("API base `{}` has no host", shown(raw)));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(format!(
            "API base `{}` must not have a query or fragment",
            crate::load::destination::redact(&url)
        ));
    }
    Ok(url.as_str().trim_end_matches('/').to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_base_is_normalized() {
        assert_eq!(
            normalize_api_base("HTTP://Example.org:80/api/").as_deref(),
            Ok("http://example.org/api")
        );
        assert!(normalize_api_base("ftp://x").is_err());
        let e = normalize_api_base("ftp://u:secret@x").unwrap_err();
        assert!(!e.contains("secret"), "{e}");
        assert!(normalize_api_base("http://u:p@x").is_err());
        assert!(normalize_api_base("not a url").is_err());
    }
}
