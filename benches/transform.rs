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
//! `SMARTSWEEP_BENCH_RECORDS` sets the corpus size (default 500).

use criterion::{Criterion, Throughput};
use smartsweep::transform::Projection;
use smartsweep::transform::testing::{QUERIES, flat_corpus};
use std::collections::BTreeMap;
use std::hint::black_box;
use std::io::Write;
use std::path::Path;
use std::time::{Duration, Instant};

type Corpus = Vec<(String, String, Vec<u8>)>;

fn corpus() -> Corpus {
    let n = std::env::var("SMARTSWEEP_BENCH_RECORDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(500);
    flat_corpus(n, 42)
}

fn projection(sparql: &str) -> Projection {
    match Projection::prepare(sparql, &BTreeMap::new()) {
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

fn run(corpus: &Corpus, p: &Projection, naive: bool) -> usize {
    let mut rows = 0;
    for (id, base, body) in corpus {
        let pages = [body.as_slice()];
        let r = if naive {
            p.apply_naive(id, &pages, base)
        } else {
            p.apply(id, &pages, base)
        };
        rows += r.expect("bench record transforms").batch.num_rows();
    }
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
    for (name, sparql) in QUERIES {
        let p = projection(sparql);
        let p2 = projection(sparql);
        v.push((
            format!("naive_{name}"),
            Box::new(move || run(corpus, &p, true)),
        ));
        v.push((
            format!("custom_{name}"),
            Box::new(move || run(corpus, &p2, false)),
        ));
    }
    v
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
    for (name, f) in variants(corpus) {
        black_box(f()); // warm-up
        let mut best = Duration::MAX;
        for _ in 0..passes {
            let t = Instant::now();
            black_box(f());
            best = best.min(t.elapsed());
        }
        let s = best.as_secs_f64();
        println!(
            "{name} {:.1} MB/s {:.0} records/s",
            bytes as f64 / s / 1e6,
            corpus.len() as f64 / s
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
    for (name, sparql) in QUERIES {
        std::fs::write(dir.join("queries").join(format!("{name}.rq")), sparql)?;
        let p = projection(sparql);
        let mut out = std::io::BufWriter::new(std::fs::File::create(
            dir.join("rust_rows").join(format!("{name}.jsonl")),
        )?);
        for (id, base, body) in corpus {
            let rows = p
                .apply(id, &[body.as_slice()], base)
                .map_err(std::io::Error::other)?;
            for line in smartsweep::transform::testing::rows_as_json(&rows.batch) {
                writeln!(out, "{line}")?;
            }
        }
    }
    Ok(())
}

fn main() {
    let corpus = corpus();
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
