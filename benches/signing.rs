//! OAuth 1.0 signing cost per request: the 2-legged cursor POST, a 3-legged
//! data GET with a signed query, and the manual (RFC 5849) fallback path.
//! Signing runs once per HTTP attempt, so it must stay far below a network
//! round trip (microseconds, not milliseconds).

use criterion::{Criterion, criterion_group, criterion_main};
use smartsweep::extract::oauth::{authorization_header, base_string_uri, signature_base_string};
use smartsweep::secret::Secret;
use std::hint::black_box;

fn signing(c: &mut Criterion) {
    let consumer = (
        "smart-background-app@apps.smartplatforms.org",
        &Secret::new("smartapp-secret"),
    );
    let token = ("K5nQ2xY8pL3mR7tV9wZa", &Secret::new("b4Xc6Vn8Mq2Wr5Ty7Ui9"));
    let cursor = reqwest::Url::parse(
        "http://localhost:7000/apps/smart-background-app@apps.smartplatforms.org/tokens/records/2169591/next",
    )
    .unwrap_or_else(|e| panic!("bench URL: {e}"));
    let data = reqwest::Url::parse(
        "http://localhost:7000/records/2169591/medications/?rxnorm=312938%7C309309&limit=50&offset=100",
    )
    .unwrap_or_else(|e| panic!("bench URL: {e}"));
    // A record id with `?` forces the manual base-string path.
    let odd = reqwest::Url::parse("http://localhost:7000/records/we%3Fird/medications/?limit=50")
        .unwrap_or_else(|e| panic!("bench URL: {e}"));

    let mut g = c.benchmark_group("oauth_sign");
    g.bench_function("cursor_post_2legged", |b| {
        b.iter(|| authorization_header("POST", black_box(&cursor), consumer, None))
    });
    g.bench_function("data_get_3legged_query", |b| {
        b.iter(|| authorization_header("GET", black_box(&data), consumer, Some(token)))
    });
    g.bench_function("manual_fallback_get", |b| {
        b.iter(|| authorization_header("GET", black_box(&odd), consumer, Some(token)))
    });
    g.finish();

    let params: Vec<(String, String)> = data
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    c.bench_function("base_string_only", |b| {
        b.iter(|| signature_base_string("GET", &base_string_uri(black_box(&data)), &params))
    });
}

criterion_group!(benches, signing);
criterion_main!(benches);
