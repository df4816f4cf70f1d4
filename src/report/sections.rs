//! The report's page and its sections, each drawn from the [`View`].

use super::html::{bytes, duration, esc, esc_short, int, num, table, tiles};
use super::svg::{self, Bar, color};
use super::view::{Standing, View};
use super::{Unfinished, rate_steps};
use crate::failure::Stage;
use crate::load::manifest::{Histogram, RunStatus};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// The page's style: system fonts only, nothing loaded.
const CSS: &str = "
:root{--fg:#1f2933;--muted:#5f6b7a;--line:#e3e7ec;--bg:#f6f7f9}
*{box-sizing:border-box}
body{margin:0;background:var(--bg);color:var(--fg);font:14px/1.45 system-ui,-apple-system,'Segoe UI',Roboto,'Helvetica Neue',Arial,sans-serif}
main{max-width:1120px;margin:0 auto;padding:20px 24px 40px}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:0 0 10px}
section{background:#fff;border:1px solid var(--line);border-radius:8px;padding:16px 18px;margin:14px 0}
.meta{color:var(--muted);margin:2px 0}.meta code{color:var(--fg)}
.badge{display:inline-block;padding:2px 10px;border-radius:12px;font-size:13px;font-weight:600;color:#fff;vertical-align:middle;margin-left:8px}
.ok{background:#1f8a4c}.warn{background:#b8660b}.bad{background:#c0392b}.info{background:#2f6db5}
.banner{border-left:4px solid #b8660b;background:#fff8ec;padding:10px 14px;border-radius:4px;margin:12px 0}
.banner.bad{border-color:#c0392b;background:#fdf0ee;color:var(--fg)}
.tiles{display:flex;flex-wrap:wrap;gap:10px;margin:6px 0 12px}
.tile{border:1px solid var(--line);border-radius:6px;padding:8px 14px;min-width:120px}
.tile .v{font-size:20px;font-weight:600}.tile .k{color:var(--muted);font-size:12px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(420px,1fr));gap:14px 22px}
figure{margin:0 0 8px}figcaption{font-weight:600;margin:0 0 4px}
figcaption small{font-weight:400;color:var(--muted)}
svg.chart{width:100%;max-width:680px;height:auto;display:block;overflow:visible}
svg .lbl,svg .val{font:10.5px system-ui,-apple-system,'Segoe UI',Roboto,Arial,sans-serif;fill:#3b4754}
svg .gl{stroke:#e3e7ec;stroke-width:1}
table{border-collapse:collapse;width:100%;margin:6px 0 10px;font-size:13px}
th,td{text-align:left;padding:4px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--muted);font-weight:600}td.n{text-align:right;font-variant-numeric:tabular-nums}
code{font:12.5px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f3f5;padding:0 3px;border-radius:3px;word-break:break-all}
pre{font:12px ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;background:#f1f3f5;padding:8px;border-radius:4px;overflow:auto}
.empty{color:var(--muted);font-style:italic}
.callout{padding:10px 14px;border-radius:6px;font-weight:600;margin:8px 0}
.callout.ok{background:#e8f6ee;color:#14633a}.callout.bad{background:#fdecea;color:#9b2c20}
footer{color:var(--muted);font-size:12px;margin-top:18px}
";

/// How many failures each stage lists.
const FIRST_FAILURES: usize = 10;
/// How many chains the chain table lists.
const CHAIN_ROWS: usize = 64;

/// The whole page.
pub(super) fn page(v: &View<'_>) -> String {
    let title = match v.pipeline {
        Some(p) => format!("smartsweep report: {}", esc(&p.name)),
        None => "smartsweep report".to_owned(),
    };
    let mut body = header(v);
    for s in [
        throughput(v),
        stages(v),
        http(v),
        failures(v),
        slowest(v),
        conversions(v),
        tables_section(v),
        audit(v),
        chains(v),
        pipeline(v),
    ] {
        body.push_str(&s);
    }
    let source = if v.is_finished() {
        "_manifest.json"
    } else {
        "_checkpoint.json"
    };
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; img-src data:\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <meta name=\"generator\" content=\"smartsweep {version}\">\
         <link rel=\"icon\" href=\"data:,\"><title>{title}</title><style>{CSS}</style></head>\
         <body><main>{body}<footer>Written by smartsweep {version} from <code>{source}</code>. \
         One self-contained file: no script, no font, nothing loaded from anywhere.</footer></main></body></html>\n",
        version = esc(env!("CARGO_PKG_VERSION")),
    )
}

fn section(id: &str, title: &str, body: &str) -> String {
    format!("<section id=\"{id}\"><h2>{title}</h2>{body}</section>")
}

/// A chart with its caption, or the words that replace an empty chart.
fn figure(caption: &str, chart: Option<String>, empty: &str) -> String {
    match chart {
        Some(svg) => format!("<figure><figcaption>{caption}</figcaption>{svg}</figure>"),
        None => format!(
            "<figure><figcaption>{caption}</figcaption><p class=\"empty\">{}</p></figure>",
            esc(empty)
        ),
    }
}

fn header(v: &View<'_>) -> String {
    let (badge, class) = match &v.standing {
        Standing::Finished(RunStatus::Complete) => ("complete", "ok"),
        Standing::Finished(RunStatus::CompleteWithFailures) => ("complete with failures", "warn"),
        Standing::Unfinished(Unfinished::Aborted(_)) => ("unfinished: aborted", "bad"),
        Standing::Unfinished(u) => (u.phrase(), "info"),
    };
    let name = v.pipeline.map_or("unknown pipeline", |p| p.name.as_str());
    let mut out = format!(
        "<header><h1>{}<span class=\"badge {class}\">{}</span></h1>",
        esc(name),
        esc(badge)
    );
    let mut meta = vec![format!("run <code>{}</code>", esc(v.run_id))];
    meta.push(format!("started {}", esc(v.started_at)));
    if let Some(f) = v.finished_at {
        meta.push(format!("finished {}", esc(f)));
    }
    meta.push(format!("{} of running", duration(v.elapsed_s)));
    if v.resumed == Some(true) {
        meta.push("resumed".into());
    }
    let _ = write!(out, "<p class=\"meta\">{}</p>", meta.join(" · "));
    let mut meta2 = Vec::new();
    if let Some(a) = &v.api_base {
        meta2.push(format!("container <code>{}</code>", esc(a)));
    }
    if let Some(a) = v.app_id {
        meta2.push(format!("app <code>{}</code>", esc(a)));
    }
    meta2.push(match v.mode {
        crate::checkpoint::Mode::Cursor => format!("cursor, {} chain(s)", v.chains.len()),
        crate::checkpoint::Mode::KnownIds => "known record ids".to_owned(),
    });
    if let Some(c) = v.concurrency {
        meta2.push(format!("{c} fetches in flight"));
    }
    if let Some(ver) = v.version {
        meta2.push(format!("smartsweep {}", esc(ver)));
    }
    let _ = write!(out, "<p class=\"meta\">{}</p></header>", meta2.join(" · "));
    out.push_str(&banner(v));
    out.push_str(&tiles(&[
        ("records done", int(v.records)),
        ("rows", int(v.rows)),
        ("records failed", int(v.failed_records() as u64)),
        ("parts", int(v.parts() as u64)),
        ("part bytes", bytes(v.bytes())),
        ("records/s", num(v.records as f64 / v.elapsed_s.max(1e-9))),
    ]));
    out
}

fn banner(v: &View<'_>) -> String {
    let Standing::Unfinished(state) = &v.standing else {
        return String::new();
    };
    let what = match state {
        Unfinished::Running => "A run is writing this output right now; this is what it has committed so far.".to_owned(),
        Unfinished::Interrupted => "The run was interrupted. Re-run the same command to resume from its checkpoint.".to_owned(),
        Unfinished::Aborted(why) => format!(
            "The run aborted: {}. Fix the cause and re-run the same command to resume from its checkpoint.",
            esc_short(why, 600)
        ),
        Unfinished::Stopped => "No run holds this output: it was interrupted or aborted. Re-run the same command to resume from its checkpoint.".to_owned(),
        Unfinished::Unknown => "This output is unfinished: a run may be writing it, or it was interrupted or aborted.".to_owned(),
    };
    let note = if v.http.is_none() {
        " Built from <code>_checkpoint.json</code>: request latencies, retries, stage times and the slowest records are kept in memory until the run finishes, so they are not shown."
    } else {
        ""
    };
    let class = if matches!(state, Unfinished::Aborted(_)) {
        "banner bad"
    } else {
        "banner"
    };
    format!("<div class=\"{class}\"><strong>Unfinished.</strong> {what}{note}</div>")
}

fn throughput(v: &View<'_>) -> String {
    let (records, rows) = rate_steps(v.timeline);
    let last = v.timeline.last().copied().unwrap_or_default();
    let t = last.t.max(1e-9);
    let (avg_rec, avg_rows) = (last.records as f64 / t, last.rows as f64 / t);
    let empty = "No progress sample yet: the engine samples at every commit.";
    let body = format!(
        "<p class=\"meta\">Sampled at every commit ({} samples over {}).</p><div class=\"grid\">{}{}</div>",
        v.timeline.len(),
        duration(last.t),
        figure(
            &format!("Records per second <small>average {}</small>", num(avg_rec)),
            svg::steps(
                "rate-records",
                "records per second over the run",
                &records,
                avg_rec,
                color::BLUE
            ),
            empty,
        ),
        figure(
            &format!("Rows per second <small>average {}</small>", num(avg_rows)),
            svg::steps(
                "rate-rows",
                "rows per second over the run",
                &rows,
                avg_rows,
                color::TEAL
            ),
            empty,
        ),
    );
    section("throughput", "Throughput", &body)
}

fn stages(v: &View<'_>) -> String {
    let Some(s) = v.stage_busy else {
        return section(
            "stages",
            "Stage busy time",
            "<p class=\"empty\">Kept in memory until the run finishes.</p>",
        );
    };
    let bar = |label: &str, secs: f64, color| Bar {
        label: label.to_owned(),
        value: secs,
        text: duration(secs),
        color,
    };
    let bars = [
        bar("fetch (token + data requests)", s.fetch, color::BLUE),
        bar("transform (parse + query)", s.transform, color::TEAL),
        bar("write (encode + commit)", s.write, color::PURPLE),
    ];
    let caption = format!(
        "Busy seconds per stage <small>summed over concurrent records: with {} fetches in flight, fetch time grows up to that many times faster than the clock ({} of running)</small>",
        v.concurrency
            .map_or_else(|| "N".to_owned(), |c| c.to_string()),
        duration(v.elapsed_s)
    );
    let body = figure(
        &caption,
        svg::hbars("stages", "busy seconds per stage", &bars),
        "No stage was busy.",
    );
    section("stages", "Stage busy time", &body)
}

/// `"<16"`-style labels and the bars of a latency histogram, trimmed to
/// its non-empty range.
fn latency_bars(h: &Histogram) -> Vec<Bar> {
    let first = h.counts.iter().position(|&c| c > 0);
    let last = h.counts.iter().rposition(|&c| c > 0);
    let (Some(first), Some(last)) = (first, last) else {
        return Vec::new();
    };
    let label = |i: usize| match h.bounds_ms.get(i) {
        Some(&b) if b >= 1000 => format!("<{}s", (b as f64 / 1000.0).round()),
        Some(b) => format!("<{b}"),
        None => match h.bounds_ms.last() {
            Some(&b) if b >= 1000 => format!("≥{}s", (b as f64 / 1000.0).round()),
            Some(b) => format!("≥{b}"),
            None => "all".into(),
        },
    };
    (first..=last)
        .map(|i| Bar {
            label: label(i),
            value: h.counts[i] as f64,
            text: int(h.counts[i]),
            color: color::BLUE,
        })
        .collect()
}

/// `"p50 < 16 ms"`: the upper bound of the bucket holding quantile `q`.
fn quantile(h: &Histogram, q: f64) -> String {
    let n: u64 = h.counts.iter().sum();
    let want = (q * n as f64).ceil().max(1.0) as u64;
    let mut seen = 0;
    for (i, c) in h.counts.iter().enumerate() {
        seen += c;
        if seen >= want {
            return match h.bounds_ms.get(i) {
                Some(b) => format!("&lt; {} ms", int(*b)),
                None => format!("≥ {} ms", int(h.bounds_ms.last().copied().unwrap_or(0))),
            };
        }
    }
    "–".into()
}

fn http(v: &View<'_>) -> String {
    let Some(h) = v.http else {
        return section(
            "http",
            "Requests",
            "<p class=\"empty\">Kept in memory until the run finishes.</p>",
        );
    };
    let mut body = tiles(&[
        ("requests (every attempt)", int(h.requests)),
        ("retries", int(h.retries)),
        ("tokens re-minted after a 401", int(h.token_remints)),
    ]);
    body.push_str("<div class=\"grid\">");
    for endpoint in ["cursor", "token", "data"] {
        let empty = Histogram::default();
        let hist = h.latency.get(endpoint).unwrap_or(&empty);
        let n: u64 = hist.counts.iter().sum();
        let caption = if n == 0 {
            format!("Latency: {endpoint}")
        } else {
            format!(
                "Latency: {endpoint} <small>{} attempts · p50 {} · p95 {} · p99 {} · milliseconds unless marked s</small>",
                int(n),
                quantile(hist, 0.5),
                quantile(hist, 0.95),
                quantile(hist, 0.99)
            )
        };
        let id = format!("latency-{endpoint}");
        let aria = format!("{endpoint} request latency histogram");
        body.push_str(&figure(
            &caption,
            svg::vbars(&id, &aria, &latency_bars(hist)),
            &format!("No {endpoint} request in this run."),
        ));
    }
    let causes: Vec<Bar> = h
        .retries_by_cause
        .iter()
        .map(|(cause, n)| Bar::new(cause.replace('_', " "), *n as f64, color::AMBER))
        .collect();
    body.push_str(&figure(
        "Retries by cause",
        svg::hbars("retries", "retries by cause", &causes),
        "No request was retried.",
    ));
    body.push_str("</div>");
    section("http", "Requests", &body)
}

fn failure_key(stage: Stage, status: Option<u16>, table: Option<&str>) -> String {
    let mut k = stage.to_string();
    if let Some(s) = status {
        let _ = write!(k, " · HTTP {s}");
    }
    if let Some(t) = table {
        let _ = write!(k, " · table {t}");
    }
    k
}

fn failures(v: &View<'_>) -> String {
    if v.failures.is_empty() {
        return section(
            "failures",
            "Failures",
            "<p class=\"empty\">No record failed.</p>",
        );
    }
    let mut by: BTreeMap<String, u64> = BTreeMap::new();
    for f in v.failures {
        *by.entry(failure_key(f.stage, f.http_status, f.table.as_deref()))
            .or_default() += 1;
    }
    let bars: Vec<Bar> = by
        .iter()
        .map(|(k, n)| Bar::new(k.clone(), *n as f64, color::RED))
        .collect();
    let mut body = format!(
        "<p class=\"meta\">{} failure(s) over {} record(s); every one is in <code>_errors.csv</code>.</p>",
        int(v.failures.len() as u64),
        int(v.failed_records() as u64)
    );
    body.push_str(&figure(
        "Failures by stage and status",
        svg::hbars("failures", "failures by stage and status", &bars),
        "",
    ));
    for stage in [Stage::Fetch, Stage::Transform] {
        let of: Vec<_> = v.failures.iter().filter(|f| f.stage == stage).collect();
        if of.is_empty() {
            continue;
        }
        let rows: Vec<Vec<String>> = of
            .iter()
            .take(FIRST_FAILURES)
            .map(|f| {
                vec![
                    format!("<code>{}</code>", esc(f.record_id.as_str())),
                    f.table.as_deref().map_or_else(String::new, esc),
                    f.http_status.map_or_else(String::new, |s| s.to_string()),
                    f.attempts.to_string(),
                    esc_short(&f.message, 220),
                ]
            })
            .collect();
        let _ = write!(
            body,
            "<h3>{stage}: {} (first {})</h3>{}",
            int(of.len() as u64),
            rows.len(),
            table(
                "failures",
                &["record", "table", "HTTP", "attempts", "message"],
                &rows
            )
        );
    }
    section("failures", "Failures", &body)
}

fn slowest(v: &View<'_>) -> String {
    let bars: Vec<Bar> = v
        .slowest
        .iter()
        .map(|s| Bar {
            label: s.record_id.as_str().to_owned(),
            value: s.ms,
            text: format!("{} ms", num(s.ms)),
            color: color::GREY,
        })
        .collect();
    let empty = if v.http.is_none() {
        "Kept in memory until the run finishes."
    } else {
        "No record was timed."
    };
    let body = figure(
        "Slowest records <small>fetch and transform, milliseconds</small>",
        svg::hbars("slowest", "slowest records", &bars),
        empty,
    );
    section("slowest", "Slowest records", &body)
}

fn conversions(v: &View<'_>) -> String {
    let mut rows = Vec::new();
    let mut bars = Vec::new();
    for t in &v.tables {
        for (col, stat) in t.conversions {
            let label = if v.tables.len() > 1 {
                format!("{}.{col}", t.name)
            } else {
                col.clone()
            };
            bars.push(Bar::new(label, stat.count as f64, color::AMBER));
            let examples: Vec<String> = stat
                .examples
                .iter()
                .map(|e| format!("<code>{}</code>", esc_short(e, 80)))
                .collect();
            rows.push(vec![
                esc(t.name),
                format!("<code>{}</code>", esc(col)),
                int(stat.count),
                examples.join(" "),
            ]);
        }
    }
    if rows.is_empty() {
        return section(
            "conversions",
            "Type conversions",
            "<p class=\"empty\">Every value converted to its declared column type.</p>",
        );
    }
    let body = format!(
        "<p class=\"meta\">Values that did not convert to their column's declared type; a null was written instead.</p>{}{}",
        figure(
            "Unconverted values per column",
            svg::hbars("conversions", "unconverted values per column", &bars),
            "",
        ),
        table(
            "conversions",
            &["table", "column", "values", "examples"],
            &rows
        )
    );
    section("conversions", "Type conversions", &body)
}

fn tables_section(v: &View<'_>) -> String {
    let rows: Vec<Vec<String>> = v
        .tables
        .iter()
        .map(|t| {
            vec![
                esc(t.name),
                format!(
                    "<code>{}</code>",
                    esc(if t.dir.is_empty() { "." } else { &t.dir })
                ),
                int(t.rows),
                int(t.records_with_rows),
                t.failed.map_or_else(|| "–".to_owned(), int),
                int(t.parts as u64),
                bytes(t.bytes),
            ]
        })
        .collect();
    let mut body = table(
        "tables",
        &[
            "table",
            "directory",
            "rows",
            "records with rows",
            "failed",
            "parts",
            "bytes",
        ],
        &rows,
    );
    if v.tables.len() > 1 {
        let bars: Vec<Bar> = v
            .tables
            .iter()
            .map(|t| Bar::new(t.name, t.rows as f64, color::TEAL))
            .collect();
        body.push_str(&figure(
            "Rows per table",
            svg::hbars("tables", "rows per table", &bars),
            "No table has rows.",
        ));
    }
    section("tables", "Tables", &body)
}

fn audit(v: &View<'_>) -> String {
    let Some(a) = v.audit else {
        return String::new();
    };
    let complete = a.coverage.starts_with("complete");
    let mut body = tiles(&[
        ("records with a match", int(a.matched_records)),
        ("codes asked for", int(a.codes.len() as u64)),
    ]);
    let _ = write!(
        body,
        "<div class=\"callout {}\">Coverage: {}</div>",
        if complete { "ok" } else { "bad" },
        esc(&a.coverage)
    );
    let mut codes: Vec<&String> = a.codes.iter().collect();
    codes.extend(a.matches.keys().filter(|k| !a.codes.contains(k)));
    let bars: Vec<Bar> = codes
        .iter()
        .map(|c| {
            let n = a.matches.get(*c).copied().unwrap_or(0);
            Bar::new(format!("RxNorm {c}"), n as f64, color::PURPLE)
        })
        .collect();
    body.push_str(&figure(
        "Matching rows per code",
        svg::hbars("audit", "matching rows per code", &bars),
        "No code matched any record.",
    ));
    section("audit", "Audit", &body)
}

fn chains(v: &View<'_>) -> String {
    let id = |r: &Option<crate::record::RecordId>, none: &str| match r {
        Some(r) => format!("<code>{}</code>", esc(r.as_str())),
        None => none.to_owned(),
    };
    let rows: Vec<Vec<String>> = v
        .chains
        .iter()
        .take(CHAIN_ROWS)
        .enumerate()
        .map(|(i, c)| {
            let stop = match c.stops {
                0 => "the end".to_owned(),
                1 => id(&c.first_stop, ""),
                n => format!("{} (or {} later seeds)", id(&c.first_stop, ""), n - 1),
            };
            vec![
                i.to_string(),
                id(&c.start, "first"),
                stop,
                id(&c.watermark, if v.is_finished() { "–" } else { "none yet" }),
                int(c.records),
                match c.finished {
                    Some(true) => "yes".into(),
                    Some(false) => "no".into(),
                    None => "–".into(),
                },
            ]
        })
        .collect();
    let mut body = table(
        "chains",
        &[
            "chain",
            "starts at",
            "stops before",
            "watermark",
            "records",
            "walked to its end",
        ],
        &rows,
    );
    if v.chains.len() > CHAIN_ROWS {
        let _ = write!(
            body,
            "<p class=\"meta\">… and {} more chains.</p>",
            v.chains.len() - CHAIN_ROWS
        );
    }
    section("chains", "Chains", &body)
}

fn pipeline(v: &View<'_>) -> String {
    let Some(p) = v.pipeline else {
        return String::new();
    };
    let mut body = format!(
        "<p class=\"meta\">file <code>{}</code> · hash <code>{}</code> · {} · {}</p>",
        esc(&p.file),
        esc(&p.hash),
        esc(&p.format),
        esc(&p.compression)
    );
    for t in &p.tables {
        let cols: Vec<String> = t
            .columns
            .iter()
            .map(|(k, ty)| format!("<code>{}</code> {}", esc(k), esc(ty)))
            .collect();
        let _ = write!(
            body,
            "<details><summary><strong>{}</strong> ← <code>{}</code>{}</summary><pre>{}</pre></details>",
            esc(&t.name),
            esc(&t.resource),
            if cols.is_empty() {
                String::new()
            } else {
                format!(" · {}", cols.join(", "))
            },
            t.sparql.lines().map(esc).collect::<Vec<_>>().join("\n")
        );
    }
    section("pipeline", "Pipeline", &body)
}
