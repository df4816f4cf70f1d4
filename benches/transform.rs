//! Transform throughput: parse + query + Arrow build per record, one core.
//!
//! `cargo bench --bench transform` runs the criterion groups (throughput in
//! bytes of RDF/XML). Two other modes, used by `benches/transform_compare.sh`:
//! - `SMARTSWEEP_DUMP_CORPUS=DIR`: write the generated corpus
//!   (`records/*.rdf`, `index.tsv`), the queries (`queries/*.rq`) and our
//!   rows for each query (`rust_rows/*.jsonl`), then exit.
//! - `SMARTSWEEP_BENCH_SUMMARY=1`: time each variant over the corpus (best of
//!   several passes) and print `variant MB/s records/s` lines, then exit.
//!
//! `SMARTSWEEP_BENCH_RECORDS` sets the corpus size (default 500);
//! `SMARTSWEEP_BENCH_ONLY=substring` runs only the matching variants.
//!
//! Variants: `parse_strict` / `parse_lenient` (oxrdfxml alone, with a base
//! IRI), `naive_<query>` (strict parse into a fresh `oxrdf::Dataset`, then
//! spareval), `custom_<query>` (what `Projection::apply` does: the fast
//! RDF/XML reader) and `oxrdfxml_<query>` (`Projection::apply` with every
//! page sent to oxrdfxml, i.e. without the fast reader), for the shipped
//! pipelines (`smartsweep_testkit::shipped_pipelines`).
//!
//! Measured figures (instructions per record with callgrind, MB/s against
//! pyoxigraph on the same bytes, the levers tried): `benches/RESULTS.md`,
//! section "Transform: CPU per record".

#![allow(clippy::unwrap_used, clippy::expect_used)]

use criterion::{Criterion, Throughput};
use smartsweep::schema::ColumnType;
use smartsweep::transform::Projection;
use smartsweep_testkit::{flat_corpus, shipped_pipelines};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

/// The allocator the `smartsweep` binary ships with (src/main.rs).
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

type Corpus = Vec<(String, String, Vec<u8>)>;

fn corpus() -> Corpus {
    let n = std::env::var("SMARTSWEEP_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    flat_corpus(n, 42)
}

fn projection(sparql: &str, columns: &BTreeMap<String, ColumnType>) -> Projection {
    match Projection::prepare(sparql, columns) {
        Ok(p) => p,
        Err(e) => panic!("bench query does not prepare: {e}"),
    }
}

fn parse_only(corpus: &Corpus, lenient: bool) -> usize {
    let mut n = 0;
    for (_, base, body) in corpus {
        let mut parser = oxrdfxml::RdfXmlParser::new();
        if lenient {
            parser = parser.lenient();
        }
        let parser = parser.with_base_iri(base.as_str()).expect("valid base");
        n += parser.for_slice(body).filter(|t| t.is_ok()).count();
    }
    n
}

/// How a variant transforms a record.
#[derive(Clone, Copy)]
enum Route {
    /// The straightforward reference (testkit).
    Naive,
    /// `Projection::apply`: the fast reader, oxrdfxml for odd pages.
    Custom,
    /// `Projection::apply` with every page sent to oxrdfxml (the path before
    /// the fast reader).
    Oxrdfxml,
}

fn run(corpus: &Corpus, p: &Projection, path: Route) -> usize {
    let mut rows = 0;
    smartsweep::transform::set_fast_reader_on_this_thread(!matches!(path, Route::Oxrdfxml));
    for (id, base, body) in corpus {
        let pages = [body.as_slice()];
        let r = match path {
            Route::Naive => smartsweep_testkit::apply_naive(p, id, &pages, base),
            Route::Custom | Route::Oxrdfxml => p.apply(id, &pages, base),
        };
        rows += r.expect("bench record transforms").batch.num_rows();
    }
    smartsweep::transform::set_fast_reader_on_this_thread(true);
    rows
}

type Variant<'a> = (String, Box<dyn Fn() -> usize + 'a>);

fn variants(corpus: &Corpus) -> Vec<Variant<'_>> {
    let mut v: Vec<Variant<'_>> = vec![
        (
            "parse_strict".into(),
            Box::new(|| parse_only(corpus, false)),
        ),
        (
            "parse_lenient".into(),
            Box::new(|| parse_only(corpus, true)),
        ),
    ];
    // All shipped pipelines over `medications` as one set: one parse, four
    // queries (compare with the sum of the four `custom_` variants).
    let set = smartsweep::transform::ProjectionSet::new(
        shipped_pipelines()
            .iter()
            .map(|q| std::sync::Arc::new(projection(&q.sparql, &q.columns)))
            .collect(),
    );
    v.push((
        "set_all_shipped".into(),
        Box::new(move || {
            let mut rows = 0;
            for (id, base, body) in corpus {
                let r = set.apply(id, &[body.as_slice()], base);
                rows += r
                    .expect("bench record transforms")
                    .iter()
                    .map(|r| r.batch.num_rows())
                    .sum::<usize>();
            }
            rows
        }),
    ));
    for q in shipped_pipelines() {
        let name = q.name;
        for (prefix, path) in [
            ("naive", Route::Naive),
            ("oxrdfxml", Route::Oxrdfxml),
            ("custom", Route::Custom),
        ] {
            let p = projection(&q.sparql, &q.columns);
            v.push((
                format!("{prefix}_{name}"),
                Box::new(move || run(corpus, &p, path)),
            ));
        }
    }
    v
}

/// This thread's CPU time (Linux: `/proc/thread-self/schedstat`, in ns).
fn thread_cpu_seconds() -> Option<f64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let ns: f64 = s.split_whitespace().next()?.parse().ok()?;
    Some(ns / 1e9)
}

fn summary(corpus: &Corpus) {
    let bytes: usize = corpus.iter().map(|c| c.2.len()).sum();
    println!(
        "corpus {} records {} bytes mean {} bytes/record",
        corpus.len(),
        bytes,
        bytes / corpus.len().max(1)
    );
    let passes: usize = std::env::var("SMARTSWEEP_BENCH_PASSES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("SMARTSWEEP_BENCH_ONLY").unwrap_or_default();
    for (name, f) in variants(corpus) {
        if !name.contains(&only) {
            continue;
        }
        black_box(f()); // warm-up
        // CPU time of this thread (what one core delivers, whatever else the
        // machine runs), best of `passes`; wall time beside it.
        let mut best_cpu = f64::MAX;
        let mut best_wall = f64::MAX;
        for _ in 0..passes {
            let (c, t) = (thread_cpu_seconds(), Instant::now());
            black_box(f());
            best_wall = best_wall.min(t.elapsed().as_secs_f64());
            if let (Some(a), Some(b)) = (c, thread_cpu_seconds()) {
                best_cpu = best_cpu.min(b - a);
            }
        }
        let s = if best_cpu < f64::MAX {
            best_cpu
        } else {
            best_wall
        };
        println!(
            "{name} {:.1} MB/s {:.0} records/s (wall: {:.1} MB/s)",
            bytes as f64 / s / 1e6,
            corpus.len() as f64 / s,
            bytes as f64 / best_wall / 1e6
        );
    }
}

fn dump(dir: &Path, corpus: &Corpus) -> std::io::Result<()> {
    std::fs::create_dir_all(dir.join("records"))?;
    std::fs::create_dir_all(dir.join("queries"))?;
    std::fs::create_dir_all(dir.join("rust_rows"))?;
    let mut index = std::fs::File::create(dir.join("index.tsv"))?;
    for (id, base, body) in corpus {
        std::fs::write(dir.join("records").join(format!("{id}.rdf")), body)?;
        writeln!(index, "{id}\t{base}")?;
    }
    for q in shipped_pipelines() {
        let name = q.name;
        std::fs::write(dir.join("queries").join(format!("{name}.rq")), &q.sparql)?;
        // Untyped, so that values compare as text with the other engine.
        let p = projection(&q.sparql, &BTreeMap::new());
        let mut out = std::io::BufWriter::new(std::fs::File::create(
            dir.join("rust_rows").join(format!("{name}.jsonl")),
        )?);
        for (id, base, body) in corpus {
            let rows = p
                .apply(id, &[body.as_slice()], base)
                .map_err(std::io::Error::other)?;
            for line in smartsweep_testkit::rows_as_json(&rows.batch) {
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}

/// `SMARTSWEEP_BENCH_RUN=variant:passes`: run one variant `passes` times
/// (for counting instructions with callgrind: the difference between two
/// pass counts is one pass, without the corpus generation and set-up).
fn run_raw(corpus: &Corpus, spec: &str) {
    let (name, passes) = spec.split_once(':').unwrap_or((spec, "1"));
    let passes: usize = passes.parse().unwrap_or(1);
    let v = variants(corpus);
    let Some((_, f)) = v.iter().find(|(n, _)| n == name) else {
        eprintln!("no variant {name}");
        std::process::exit(2);
    };
    for _ in 0..passes {
        black_box(f());
    }
}

fn main() {
    let corpus = corpus();
    if let Ok(spec) = std::env::var("SMARTSWEEP_BENCH_RUN") {
        run_raw(&corpus, &spec);
        return;
    }
    if let Ok(dir) = std::env::var("SMARTSWEEP_DUMP_CORPUS") {
        if let Err(e) = dump(Path::new(&dir), &corpus) {
            eprintln!("dump failed: {e}");
            std::process::exit(1);
        }
        return;
    }
    if std::env::var("SMARTSWEEP_BENCH_SUMMARY").is_ok() {
        summary(&corpus);
        return;
    }
    let bytes: u64 = corpus.iter().map(|c| c.2.len() as u64).sum();
    let mut c = Criterion::default()
        .sample_size(10)
        .measurement_time(Duration::from_secs(5))
        .configure_from_args();
    {
        let mut g = c.benchmark_group("transform");
        g.throughput(Throughput::Bytes(bytes));
        for (name, f) in variants(&corpus) {
            g.bench_function(name, |b| b.iter(|| black_box(f())));
        }
        g.finish();
    }
    c.final_summary();
}
