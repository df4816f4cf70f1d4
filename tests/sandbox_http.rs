//! The sandbox through real HTTP on 127.0.0.1:0, with a small test-only
//! OAuth 1.0 signer written from the container spec (section 3).

#![allow(clippy::expect_used, clippy::unwrap_used, clippy::too_many_arguments)]

mod sandbox_common;

use std::collections::BTreeSet;

use smartsweep::sandbox::{self, SandboxConfig};
use smartsweep::secret::Secret;

use sandbox_common::*;

// ---------------------------------------------------------------- client

impl Box_ {
    async fn get(&self, path: &str, query: &[(&str, &str)], sig: Option<&Sig>) -> Answer {
        self.raw(
            "GET",
            &encode_path(path),
            path,
            &owned(query),
            None,
            sig,
            true,
        )
        .await
    }

    async fn post(&self, path: &str, sig: Option<&Sig>) -> Answer {
        self.raw("POST", &encode_path(path), path, &[], None, sig, false)
            .await
    }

    async fn first(&self) -> Answer {
        self.post(
            &format!("/apps/{APP}/tokens/records/first"),
            Some(&Sig::app()),
        )
        .await
    }

    async fn next(&self, id: &str) -> Answer {
        self.post(
            &format!("/apps/{APP}/tokens/records/{id}/next"),
            Some(&Sig::app()),
        )
        .await
    }

    async fn mint(&self, id: &str) -> (String, String) {
        let a = self
            .post(
                &format!("/apps/{APP}/tokens/records/{id}"),
                Some(&Sig::app()),
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text());
        let f = a.form();
        assert_eq!(f["smart_record_id"], id);
        (f["oauth_token"].clone(), f["oauth_token_secret"].clone())
    }

    async fn meds(&self, id: &str, query: &[(&str, &str)]) -> Answer {
        let (t, s) = self.mint(id).await;
        self.get(
            &format!("/records/{id}/medications/"),
            query,
            Some(&Sig::with_token(&t, &s)),
        )
        .await
    }
}

// ---------------------------------------------------------------- RDF

fn medications_of(g: &Graph) -> BTreeSet<String> {
    g.of_type(&format!("{SP}Medication"))
}

/// The (start date, rxcui) of a medication statement.
fn med_facts(g: &Graph, med: &str) -> (String, String) {
    let start = g.objects(med, &format!("{SP}startDate"))[0].to_owned();
    let cv = g.objects(med, &format!("{SP}drugName"))[0];
    let code = g.objects(cv, &format!("{SP}code"))[0];
    (start, code.rsplit('/').next().unwrap_or("").to_owned())
}

async fn walk(b: &Box_) -> Vec<String> {
    let mut ids = Vec::new();
    let mut a = b.first().await;
    while a.status == 200 {
        let id = a.form()["smart_record_id"].clone();
        ids.push(id.clone());
        a = b.next(&id).await;
    }
    assert_eq!(a.status, 404, "the walk ends with a 404");
    ids
}

// ---------------------------------------------------------------- tests

#[tokio::test]
async fn manifest_names_the_real_api_base() {
    let b = boot(config(10, 0)).await;
    let a = b.get("/manifest", &[], None).await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), "application/json");
    assert!(!a.header("access-control-allow-origin").is_empty());
    let v: serde_json::Value = serde_json::from_slice(&a.body).expect("json");
    assert_eq!(v["api_base"], b.handle.api_base());
    assert!(v["smart_version"].is_string());
    for key in [
        "name",
        "description",
        "admin",
        "launch_urls",
        "capabilities",
    ] {
        assert!(v.get(key).is_some(), "{key}");
    }
    // Pretty-printed with sorted keys.
    let text = a.text();
    let top: Vec<usize> = [
        "admin",
        "api_base",
        "capabilities",
        "description",
        "launch_urls",
        "name",
        "smart_version",
    ]
    .iter()
    .map(|k| text.find(&format!("\n    \"{k}\"")).expect(k))
    .collect();
    assert!(top.windows(2).all(|w| w[0] < w[1]), "{text}");
    // No authentication needed, even a broken signature is fine.
    let mut bad = Sig::app();
    bad.consumer_secret = "wrong".into();
    assert_eq!(b.get("/manifest", &[], Some(&bad)).await.status, 200);
    assert_eq!(b.post("/manifest", None).await.status, 405);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn cursor_walks_every_record_in_byte_order() {
    let cfg = config(300, 11);
    let truth = sandbox::record_ids(&cfg);
    let b = boot(cfg).await;
    let mut tokens = BTreeSet::new();
    let mut ids = Vec::new();
    let mut a = b.first().await;
    while a.status == 200 {
        assert_eq!(
            a.header("content-type"),
            "application/x-www-form-urlencoded"
        );
        let f = a.form();
        assert_eq!(f.len(), 3, "{f:?}");
        for k in ["oauth_token", "oauth_token_secret"] {
            assert_eq!(f[k].len(), 20);
            assert!(f[k].bytes().all(|c| c.is_ascii_alphanumeric()));
        }
        assert!(
            tokens.insert(f["oauth_token"].clone()),
            "a fresh token per call"
        );
        ids.push(f["smart_record_id"].clone());
        a = b.next(&f["smart_record_id"]).await;
    }
    assert_eq!(a.status, 404);
    assert_eq!(ids, truth);
    assert!(ids.windows(2).all(|w| w[0].as_bytes() < w[1].as_bytes()));
    let lens: BTreeSet<usize> = ids.iter().map(String::len).collect();
    assert!(lens.len() >= 3, "mixed id lengths: {lens:?}");
    let mut numeric = ids.clone();
    numeric.sort_by_key(|i| i.parse::<u64>().unwrap_or(0));
    assert_ne!(numeric, ids, "string order differs from numeric order");
    // A re-mint of the same record gives another token; GET works on the cursor too.
    let (t1, _) = b.mint(&ids[5]).await;
    let (t2, _) = b.mint(&ids[5]).await;
    assert_ne!(t1, t2);
    let g = b
        .get(
            &format!("/apps/{APP}/tokens/records/first"),
            &[],
            Some(&Sig::app()),
        )
        .await;
    assert_eq!(g.status, 200);
    assert_eq!(g.form()["smart_record_id"], ids[0]);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn empty_population_unknown_ids_and_apps() {
    let b = boot(config(0, 1)).await;
    assert_eq!(b.first().await.status, 404);
    b.handle.shutdown().await;

    let b = boot(config(5, 1)).await;
    let ids = walk(&b).await;
    assert_eq!(ids.len(), 5);
    assert_eq!(b.next(&ids[4]).await.status, 404);
    assert_eq!(b.next("123").await.status, 500, "unknown id on next");
    assert_eq!(
        b.post(
            &format!("/apps/{APP}/tokens/records/123"),
            Some(&Sig::app())
        )
        .await
        .status,
        500
    );
    for path in [
        "/apps/other@apps.org/tokens/records/first".to_owned(),
        format!("/apps/other@apps.org/tokens/records/{}/next", ids[0]),
    ] {
        assert_eq!(b.post(&path, Some(&Sig::app())).await.status, 500, "{path}");
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn unauthorized_cases() {
    let b = boot(config(20, 2)).await;
    let first = format!("/apps/{APP}/tokens/records/first");
    let check = |a: &Answer| {
        assert_eq!(a.status, 401, "{}", a.text());
        assert_eq!(a.text(), "Unauthorized");
        assert_eq!(a.header("content-type"), "text/html; charset=utf-8");
    };
    // Missing header.
    check(&b.post(&first, None).await);
    // Bad signature.
    let mut s = Sig::app();
    s.consumer_secret = "nope".into();
    check(&b.post(&first, Some(&s)).await);
    // Unknown consumer key.
    let mut s = Sig::app();
    s.consumer_key = "someone-else".into();
    check(&b.post(&first, Some(&s)).await);
    // Stale timestamp; a future one is fine.
    let mut s = Sig::app();
    s.timestamp = (now() - 301 - 5).to_string();
    check(&b.post(&first, Some(&s)).await);
    let mut s = Sig::app();
    s.timestamp = (now() + 3600).to_string();
    assert_eq!(b.post(&first, Some(&s)).await.status, 200);
    // Missing timestamp counts as 0.
    let a = {
        let mut s = Sig::app();
        s.timestamp = "omit".into();
        b.post(&first, Some(&s)).await
    };
    check(&a);
    // An empty one is not a number: the reference's int('') raises, a 500.
    let mut s = Sig::app();
    s.timestamp = String::new();
    assert_eq!(b.post(&first, Some(&s)).await.status, 500);
    // Bad version.
    let mut s = Sig::app();
    s.version = Some("2.0".into());
    check(&b.post(&first, Some(&s)).await);
    let mut s = Sig::app();
    s.version = None;
    assert_eq!(
        b.post(&first, Some(&s)).await.status,
        200,
        "version is optional"
    );
    // Reused nonce.
    let s = Sig::app();
    assert_eq!(b.post(&first, Some(&s)).await.status, 200);
    check(&b.post(&first, Some(&s)).await);
    // Unknown token on data.
    let ids = walk(&b).await;
    let s = Sig::with_token("AAAAAAAAAAAAAAAAAAAA", "BBBBBBBBBBBBBBBBBBBB");
    check(
        &b.get(&format!("/records/{}/medications/", ids[0]), &[], Some(&s))
            .await,
    );
    // Wrong token secret.
    let (t, _) = b.mint(&ids[0]).await;
    let s = Sig::with_token(&t, "wrong-secret");
    check(
        &b.get(&format!("/records/{}/medications/", ids[0]), &[], Some(&s))
            .await,
    );
    // A header that is not OAuth.
    let r = b
        .http
        .post(format!("{}{}", b.handle.api_base(), encode_path(&first)))
        .header("Authorization", "Bearer abc")
        .send()
        .await
        .expect("send");
    assert_eq!(r.status().as_u16(), 401);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn server_errors_from_the_verifier() {
    let b = boot(config(5, 3)).await;
    let first = format!("/apps/{APP}/tokens/records/first");
    let mut s = Sig::app();
    s.timestamp = "soon".into();
    assert_eq!(
        b.post(&first, Some(&s)).await.status,
        500,
        "non-numeric timestamp"
    );
    let mut s = Sig::app();
    s.nonce = "x".repeat(101);
    assert_eq!(
        b.post(&first, Some(&s)).await.status,
        500,
        "nonce over 100 characters"
    );
    let mut s = Sig::app();
    s.nonce = "y".repeat(100);
    assert_eq!(
        b.post(&first, Some(&s)).await.status,
        200,
        "100 characters is fine"
    );
    let mut s = Sig::app();
    s.method = "PLAINTEXT".into();
    assert_eq!(
        b.post(&first, Some(&s)).await.status,
        500,
        "signature method"
    );
    b.handle.shutdown().await;
}

#[tokio::test]
async fn nonce_consumption_order() {
    let b = boot(config(5, 4)).await;
    let first = format!("/apps/{APP}/tokens/records/first");
    // An unknown path still consumes the nonce (authentication runs first).
    let s = Sig::app();
    assert_eq!(b.post("/no/such/path", Some(&s)).await.status, 404);
    assert_eq!(b.post(&first, Some(&s)).await.status, 401);
    // A request failing at the token lookup does not consume it.
    let mut s = Sig::with_token("unknownunknownunknow", "x");
    assert_eq!(b.post(&first, Some(&s)).await.status, 401);
    s.token = None;
    assert_eq!(b.post(&first, Some(&s)).await.status, 200);
    // Nor does a stale timestamp.
    let mut s = Sig::app();
    s.timestamp = (now() - 1000).to_string();
    assert_eq!(b.post(&first, Some(&s)).await.status, 401);
    s.timestamp = now().to_string();
    assert_eq!(b.post(&first, Some(&s)).await.status, 200);
    // A bad signature does consume it.
    let mut s = Sig::app();
    s.consumer_secret = "bad".into();
    assert_eq!(b.post(&first, Some(&s)).await.status, 401);
    s.consumer_secret = SECRET.into();
    assert_eq!(b.post(&first, Some(&s)).await.status, 401);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn forbidden_cases() {
    let b = boot(config(10, 5)).await;
    let ids = walk(&b).await;
    let meds0 = format!("/records/{}/medications/", ids[0]);
    // 2-legged call to record data.
    let a = b.get(&meds0, &[], Some(&Sig::app())).await;
    assert_eq!(a.status, 403);
    // A token for another record.
    let (t, s) = b.mint(&ids[1]).await;
    assert_eq!(
        b.get(&meds0, &[], Some(&Sig::with_token(&t, &s)))
            .await
            .status,
        403
    );
    // A token for a record that does not exist in the URL.
    assert_eq!(
        b.get(
            "/records/nope/medications/",
            &[],
            Some(&Sig::with_token(&t, &s))
        )
        .await
        .status,
        403
    );
    // A record token used on the cursor.
    let a = b
        .post(
            &format!("/apps/{APP}/tokens/records/first"),
            Some(&Sig::with_token(&t, &s)),
        )
        .await;
    assert_eq!(a.status, 403);
    // Unauthenticated data call is a 401, not a 403.
    assert_eq!(b.get(&meds0, &[], None).await.status, 401);
    // The right token works, and the old tokens stay valid after a re-mint.
    let (t0, s0) = b.mint(&ids[0]).await;
    let _ = b.mint(&ids[0]).await;
    assert_eq!(
        b.get(&meds0, &[], Some(&Sig::with_token(&t0, &s0)))
            .await
            .status,
        200
    );
    b.handle.shutdown().await;
}

#[tokio::test]
async fn post_query_is_not_signed_but_form_body_is() {
    let b = boot(config(5, 6)).await;
    let path = format!("/apps/{APP}/tokens/records/first");
    let q = vec![("x".to_owned(), "1".to_owned())];
    let wire = encode_path(&path);
    // Query on a POST, not signed: accepted.
    let a = b
        .raw("POST", &wire, &path, &q, None, Some(&Sig::app()), false)
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    // Query on a POST, signed as standard libraries do: refused.
    let a = b
        .raw("POST", &wire, &path, &q, None, Some(&Sig::app()), true)
        .await;
    assert_eq!(a.status, 401);
    // A form body is signed.
    let form = vec![("a".to_owned(), "b c".to_owned())];
    let a = b
        .raw(
            "POST",
            &wire,
            &path,
            &[],
            Some(&form),
            Some(&Sig::app()),
            false,
        )
        .await;
    assert_eq!(a.status, 200);
    let mut s = Sig::app();
    s.phantom = vec![("zzz".into(), "not sent".into())];
    let a = b
        .raw("POST", &wire, &path, &[], None, Some(&s), false)
        .await;
    assert_eq!(a.status, 401, "a signed parameter that was not sent");
    // A body that is not form-encoded is not signed.
    let s = Sig::app();
    let header = s.header("POST", &b.host, &path, &[]);
    let a = b
        .http
        .post(format!("{}{}", b.handle.api_base(), wire))
        .header("Authorization", header)
        .header("Content-Type", "application/rdf+xml")
        .body("<rdf:RDF/>")
        .send()
        .await
        .expect("send");
    assert_eq!(a.status().as_u16(), 200);
    // On GET the query is signed.
    let ids = walk(&b).await;
    let (t, s) = b.mint(&ids[0]).await;
    let mpath = format!("/records/{}/medications/", ids[0]);
    let q = vec![("rxnorm".to_owned(), "1|2".to_owned())];
    let a = b
        .raw(
            "GET",
            &mpath,
            &mpath,
            &q,
            None,
            Some(&Sig::with_token(&t, &s)),
            false,
        )
        .await;
    assert_eq!(a.status, 401, "unsigned GET query");
    let a = b
        .raw(
            "GET",
            &mpath,
            &mpath,
            &q,
            None,
            Some(&Sig::with_token(&t, &s)),
            true,
        )
        .await;
    assert_eq!(a.status, 200);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn app_id_with_at_is_signed_on_the_decoded_path() {
    let b = boot(config(5, 7)).await;
    let decoded = format!("/apps/{APP}/tokens/records/first");
    let encoded = decoded.replace('@', "%40");
    // Sent encoded, signed decoded: fine.
    let a = b
        .raw(
            "POST",
            &encoded,
            &decoded,
            &[],
            None,
            Some(&Sig::app()),
            false,
        )
        .await;
    assert_eq!(a.status, 200);
    // Sent literally, signed decoded: fine.
    let a = b
        .raw(
            "POST",
            &decoded,
            &decoded,
            &[],
            None,
            Some(&Sig::app()),
            false,
        )
        .await;
    assert_eq!(a.status, 200);
    // Signed on the encoded path: refused.
    let mut s = Sig::app();
    s.signed_path = Some(encoded.clone());
    let a = b
        .raw("POST", &encoded, &decoded, &[], None, Some(&s), false)
        .await;
    assert_eq!(a.status, 401);
    b.handle.shutdown().await;
}

#[tokio::test]
async fn odd_credentials_verify() {
    let odd_key = "key with spaces/+&=@é";
    let odd_secret = "s3cr=t&+/%ü ~";
    let cfg = SandboxConfig {
        app_id: "odd@apps.example.org".into(),
        consumer_key: odd_key.into(),
        consumer_secret: Secret::new(odd_secret),
        ..config(5, 8)
    };
    let b = boot(cfg).await;
    let mut s = Sig::app();
    s.consumer_key = odd_key.into();
    s.consumer_secret = odd_secret.into();
    let a = b
        .post("/apps/odd@apps.example.org/tokens/records/first", Some(&s))
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    let id = a.form()["smart_record_id"].clone();
    let odd_token = "tok en/+%&=é\"";
    let odd_tsecret = "se cr/+&=ü~";
    assert!(b.handle.preissue_token(&id, odd_token, odd_tsecret));
    assert!(!b.handle.preissue_token("nope", "t", "s"));
    let mut s = Sig::with_token(odd_token, odd_tsecret);
    s.consumer_key = odd_key.into();
    s.consumer_secret = odd_secret.into();
    let a = b
        .get(
            &format!("/records/{id}/medications/"),
            &[("date_from", "2001-01-01T00:00:00Z")],
            Some(&s),
        )
        .await;
    assert_eq!(a.status, 200, "{}", a.text());
    b.handle.shutdown().await;
}

#[tokio::test]
async fn trailing_slash_and_methods() {
    let b = boot(config(5, 9)).await;
    let ids = walk(&b).await;
    let (t, s) = b.mint(&ids[0]).await;
    let a = b
        .get(
            &format!("/records/{}/medications", ids[0]),
            &[],
            Some(&Sig::with_token(&t, &s)),
        )
        .await;
    assert_eq!(a.status, 404);
    let a = b
        .post(
            &format!("/records/{}/medications/", ids[0]),
            Some(&Sig::with_token(&t, &s)),
        )
        .await;
    assert_eq!(a.status, 405);
    assert_eq!(a.header("allow"), "GET");
    let a = b
        .get(
            &format!("/records/{}/medications/", ids[0]),
            &[],
            Some(&Sig::with_token(&t, &s)),
        )
        .await;
    assert_eq!(a.status, 200);
    assert_eq!(a.header("content-type"), "application/rdf+xml");
    b.handle.shutdown().await;
}

/// Walk 300 records; every answer parses with oxrdfxml and has the
/// reference's shape.
#[tokio::test]
async fn every_answer_parses_and_has_the_reference_shape() {
    let b = boot(config(300, 12)).await;
    let base = b.handle.api_base().to_owned();
    let ids = walk(&b).await;
    let mut empty = 0;
    let mut total_meds = 0;
    let mut special = 0;
    let mut partial = 0;
    for id in &ids {
        let a = b.meds(id, &[]).await;
        assert_eq!(a.status, 200);
        let text = a.text();
        assert!(text.starts_with("<?xml version=\"1.0\" encoding=\"UTF-8\"?>"));
        let g = Graph::parse_at(&a.body, &format!("{base}/records/{id}/medications/"))
            .unwrap_or_else(|e| panic!("{id}: {e}"));
        let meds = medications_of(&g);
        let summaries = g.of_type(&format!("{API}ResponseSummary"));
        if meds.is_empty() {
            empty += 1;
            assert!(g.is_empty(), "an empty graph without a summary");
            continue;
        }
        total_meds += meds.len();
        assert_eq!(summaries.len(), 1);
        let summary = summaries.iter().next().cloned().unwrap_or_default();
        assert_eq!(
            g.objects(&summary, &format!("{API}totalResultCount")),
            vec![meds.len().to_string()]
        );
        assert!(
            g.objects(&summary, &format!("{API}resultOrder")).is_empty(),
            "no resultOrder without limit"
        );
        for med in &meds {
            assert!(med.starts_with(&format!("{base}/records/{id}/medications/")));
            assert_eq!(
                g.objects(med, &format!("{SP}belongsTo")),
                vec![format!("{base}/records/{id}")]
            );
            let cv = g.objects(med, &format!("{SP}drugName"));
            assert_eq!(cv.len(), 1);
            assert!(cv[0].starts_with("_:"));
            let titles = g.objects(cv[0], &format!("{DCT}title"));
            assert_eq!(titles.len(), 1);
            if titles[0].contains(['&', '<', '"', ',']) || !titles[0].is_ascii() {
                special += 1;
            }
            let code = g.objects(cv[0], &format!("{SP}code"))[0];
            assert!(code.starts_with("http://purl.bioontology.org/ontology/RXNORM/"));
            assert_eq!(
                g.objects(code, &format!("{DCT}identifier")),
                vec![code.rsplit('/').next().unwrap_or("")]
            );
            assert_eq!(g.objects(med, &format!("{SP}instructions")).len(), 1);
            let start = g.objects(med, &format!("{SP}startDate"));
            assert_eq!(start.len(), 1);
            if start[0].len() == 4 {
                partial += 1;
            }
            for fill in g.objects(med, &format!("{SP}fulfillment")) {
                assert_eq!(
                    g.objects(fill, &format!("{SP}medication")),
                    vec![med.as_str()],
                    "neighbour present"
                );
                assert_eq!(g.objects(fill, &format!("{DCT}date")).len(), 1);
                assert_eq!(g.objects(fill, &format!("{SP}dispenseDaysSupply")).len(), 1);
            }
        }
        // Blank node ids are N + 32 hex digits.
        for line in text.lines().filter(|l| l.contains("rdf:nodeID=\"")) {
            let id = line
                .split("rdf:nodeID=\"")
                .nth(1)
                .and_then(|r| r.split('"').next())
                .unwrap_or("");
            assert!(
                id.len() == 33
                    && id.starts_with('N')
                    && id[1..].bytes().all(|c| c.is_ascii_hexdigit()),
                "{id}"
            );
        }
    }
    assert!((60..=150).contains(&empty), "about a third empty: {empty}");
    assert!(total_meds > 1000);
    assert!(
        special > 0 && partial > 0,
        "special {special}, partial {partial}"
    );
    b.handle.shutdown().await;
}

async fn a_record_with_meds(b: &Box_, min: usize) -> (String, Graph) {
    let base = b.handle.api_base().to_owned();
    for id in walk(b).await {
        let a = b.meds(&id, &[]).await;
        let g = Graph::parse_at(&a.body, &base).expect("parse");
        if medications_of(&g).len() >= min {
            return (id, g);
        }
    }
    panic!("no record with {min} medications");
}

#[tokio::test]
async fn filters() {
    let b = boot(config(60, 13)).await;
    let base = b.handle.api_base().to_owned();
    let (id, all) = a_record_with_meds(&b, 8).await;
    let facts: Vec<(String, (String, String))> = medications_of(&all)
        .into_iter()
        .map(|m| {
            let f = med_facts(&all, &m);
            (m, f)
        })
        .collect();
    // rxnorm=a|b
    let codes: Vec<&str> = facts.iter().map(|(_, (_, c))| c.as_str()).take(2).collect();
    let want: BTreeSet<String> = facts
        .iter()
        .filter(|(_, (_, c))| codes.contains(&c.as_str()))
        .map(|(m, _)| m.clone())
        .collect();
    let q = codes.join("|");
    let a = b.meds(&id, &[("rxnorm", &q)]).await;
    let g = Graph::parse_at(&a.body, &base).expect("parse");
    assert_eq!(medications_of(&g), want);
    // No match: the empty graph, no summary.
    let a = b.meds(&id, &[("rxnorm", "0")]).await;
    assert!(Graph::parse_at(&a.body, &base).expect("parse").is_empty());
    // Dates, with the padding rules.
    const LOW: &str = "1900-01-01T00:00:00Z";
    const HIGH: &str = "2999-12-31T23:59:59Z";
    let pad = |s: &str, t: &str| {
        if s.len() < t.len() {
            format!("{s}{}", &t[s.len()..])
        } else {
            s.to_owned()
        }
    };
    for (name, value) in [
        ("date_from", "2005"),
        ("date_from_including", "2005-06"),
        ("date_from_excluding", "2005"),
        ("date_to", "2005"),
        ("date_to_including", "2005-06-15"),
        ("date_to_excluding", "2005"),
    ] {
        let want: BTreeSet<String> = facts
            .iter()
            .filter(|(_, (start, _))| match name {
                "date_from" | "date_from_including" => pad(start, HIGH) >= pad(value, LOW),
                "date_from_excluding" => pad(start, HIGH) > pad(value, HIGH),
                "date_to" | "date_to_including" => pad(start, LOW) <= pad(value, HIGH),
                _ => pad(start, LOW) < pad(value, LOW),
            })
            .map(|(m, _)| m.clone())
            .collect();
        let a = b.meds(&id, &[(name, value)]).await;
        let g = Graph::parse_at(&a.body, &base).expect("parse");
        assert_eq!(medications_of(&g), want, "{name}={value}");
    }
    // Filters combine with AND; unknown parameters are ignored.
    let a = b
        .meds(
            &id,
            &[
                ("date_from", "1990"),
                ("date_to", "2999"),
                ("whatever", "x"),
            ],
        )
        .await;
    assert_eq!(
        medications_of(&Graph::parse_at(&a.body, &base).expect("parse")).len(),
        facts.len()
    );
    b.handle.shutdown().await;
}

#[tokio::test]
async fn paging_follows_next_page_url() {
    let b = boot(config(60, 14)).await;
    let base = b.handle.api_base().to_owned();
    let (id, all) = a_record_with_meds(&b, 7).await;
    let total = medications_of(&all).len();
    let mut expected: Vec<(String, String)> = medications_of(&all)
        .into_iter()
        .map(|m| (med_facts(&all, &m).0, m))
        .collect();
    // Newest first, URI ascending on ties.
    expected.sort_by(|a, b| b.0.cmp(&a.0).then_with(|| a.1.cmp(&b.1)));
    let expected: Vec<String> = expected.into_iter().map(|(_, m)| m).collect();

    let mut order = Vec::new();
    let mut query: Vec<(String, String)> = vec![
        ("limit".into(), "3".into()),
        ("note".into(), "a b|c".into()),
    ];
    let path = format!("/records/{id}/medications/");
    let (t, s) = b.mint(&id).await;
    let mut pages = 0;
    loop {
        pages += 1;
        let a = b
            .raw(
                "GET",
                &path,
                &path,
                &query,
                None,
                Some(&Sig::with_token(&t, &s)),
                true,
            )
            .await;
        assert_eq!(a.status, 200, "{}", a.text());
        let g = Graph::parse_at(&a.body, &base).expect("parse");
        let summary = g
            .of_type(&format!("{API}ResponseSummary"))
            .into_iter()
            .next()
            .expect("summary");
        assert_eq!(
            g.objects(&summary, &format!("{API}totalResultCount")),
            vec![total.to_string()]
        );
        let returned: usize = g.objects(&summary, &format!("{API}resultsReturned"))[0]
            .parse()
            .unwrap_or(0);
        assert_eq!(returned, medications_of(&g).len());
        assert!(returned <= 3);
        // resultOrder is an rdf:List of the page's statements.
        let mut cell = g.objects(&summary, &format!("{API}resultOrder"))[0].to_owned();
        while cell != format!("{RDF}nil") {
            order.push(g.objects(&cell, &format!("{RDF}first"))[0].to_owned());
            cell = g.objects(&cell, &format!("{RDF}rest"))[0].to_owned();
        }
        let next = g.objects(&summary, &format!("{API}nextPageURL"));
        let Some(next) = next.first() else { break };
        // Values are not URL-encoded.
        assert!(next.contains("note=a b|c"), "{next}");
        let (url_path, q) = next
            .strip_prefix(&base)
            .expect("api base")
            .split_once('?')
            .expect("query");
        assert_eq!(url_path, path);
        query = q
            .split('&')
            .map(|p| {
                let (k, v) = p.split_once('=').unwrap_or((p, ""));
                (k.to_owned(), v.to_owned())
            })
            .collect();
    }
    assert_eq!(pages, total.div_ceil(3));
    assert_eq!(order, expected);
    // An offset past the end: the empty graph.
    let a = b.meds(&id, &[("limit", "3"), ("offset", "1000")]).await;
    assert!(Graph::parse_at(&a.body, &base).expect("parse").is_empty());
    // limit=0 means everything, without resultOrder.
    let a = b.meds(&id, &[("limit", "0")]).await;
    let g = Graph::parse_at(&a.body, &base).expect("parse");
    assert_eq!(medications_of(&g).len(), total);
    assert!(
        !g.triples
            .iter()
            .any(|(_, p, _)| p == &format!("{API}resultOrder"))
    );
    b.handle.shutdown().await;
}

#[tokio::test]
async fn from_dir_serves_files_as_they_are() {
    let dir = tempfile::tempdir().expect("tempdir");
    let files = [
        ("2169591", "<rdf:RDF one/>"),
        ("613876", "bytes as they are \u{e9}"),
        ("10000", ""),
        ("abc", "x"),
        ("x y+z", "odd id"),
    ];
    for (stem, body) in files {
        std::fs::write(dir.path().join(format!("{stem}.rdf")), body).expect("write");
    }
    std::fs::write(dir.path().join("ignored.txt"), "no").expect("write");
    let cfg = SandboxConfig {
        from_dir: Some(dir.path().to_path_buf()),
        ..config(0, 0)
    };
    assert_eq!(
        sandbox::record_ids(&cfg),
        vec!["10000", "2169591", "613876", "abc", "x y+z"]
    );
    let b = boot(cfg).await;
    assert_eq!(
        walk(&b).await,
        vec!["10000", "2169591", "613876", "abc", "x y+z"]
    );
    for (stem, body) in files {
        let a = b.meds(stem, &[]).await;
        assert_eq!(a.status, 200);
        assert_eq!(a.body, body.as_bytes());
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn malformed_records_are_stable_per_seed() {
    let cfg = SandboxConfig {
        malformed_rate: 0.3,
        ..config(60, 15)
    };
    let mut sets = Vec::new();
    for _ in 0..2 {
        let b = boot(cfg.clone()).await;
        let base = b.handle.api_base().to_owned();
        let mut bad = BTreeSet::new();
        for id in walk(&b).await {
            let first = b.meds(&id, &[]).await;
            let again = b.meds(&id, &[]).await;
            assert_eq!(first.body, again.body, "a retry does not fix it");
            if Graph::parse_at(&first.body, &base).is_err() {
                bad.insert(id);
            }
        }
        sets.push(bad);
        b.handle.shutdown().await;
    }
    assert_eq!(sets[0], sets[1]);
    assert!((5..=35).contains(&sets[0].len()), "{}", sets[0].len());
}

#[tokio::test]
async fn population_is_deterministic_for_a_seed() {
    assert_eq!(
        sandbox::record_ids(&config(200, 21)),
        sandbox::record_ids(&config(200, 21))
    );
    assert_ne!(
        sandbox::record_ids(&config(200, 21)),
        sandbox::record_ids(&config(200, 22))
    );
    let a = boot(config(40, 21)).await;
    let b = boot(config(40, 21)).await;
    let ids = walk(&a).await;
    assert_eq!(ids, walk(&b).await);
    for id in ids.iter().take(15) {
        let x = a
            .meds(id, &[])
            .await
            .text()
            .replace(a.handle.api_base(), "BASE");
        let y = b
            .meds(id, &[])
            .await
            .text()
            .replace(b.handle.api_base(), "BASE");
        assert_eq!(x, y, "{id}");
    }
    a.handle.shutdown().await;
    b.handle.shutdown().await;
}

#[tokio::test]
async fn transient_faults() {
    let first = format!("/apps/{APP}/tokens/records/first");
    let b = boot(SandboxConfig {
        fail_rate: 1.0,
        ..config(5, 16)
    })
    .await;
    let a = b.post(&first, Some(&Sig::app())).await;
    assert!([500, 502, 503].contains(&a.status), "{}", a.status);
    assert_eq!(
        b.get("/manifest", &[], None).await.status,
        200,
        "the manifest is exempt"
    );
    b.handle.shutdown().await;

    let b = boot(SandboxConfig {
        throttle_rate: 1.0,
        retry_after_s: 7,
        ..config(5, 16)
    })
    .await;
    let a = b.post(&first, Some(&Sig::app())).await;
    assert_eq!(a.status, 429);
    assert_eq!(a.header("retry-after"), "7");
    b.handle.shutdown().await;

    let b = boot(SandboxConfig {
        reset_rate: 1.0,
        ..config(5, 16)
    })
    .await;
    let url = format!("{}{}", b.handle.api_base(), first.replace('@', "%40"));
    let r = b
        .http
        .post(&url)
        .header(
            "Authorization",
            Sig::app().header("POST", &b.host, &first, &[]),
        )
        .send()
        .await;
    assert!(
        r.is_err(),
        "connection dropped: {:?}",
        r.map(|r| r.status())
    );
    b.handle.shutdown().await;

    let b = boot(SandboxConfig {
        truncate_rate: 1.0,
        ..config(5, 16)
    })
    .await;
    let url = format!("{}{}", b.handle.api_base(), first.replace('@', "%40"));
    let r = b
        .http
        .post(&url)
        .header(
            "Authorization",
            Sig::app().header("POST", &b.host, &first, &[]),
        )
        .send()
        .await;
    // The head and half the body arrive, then the connection closes.
    let resp = r.expect("the head arrives");
    assert_eq!(resp.status().as_u16(), 200);
    assert!(resp.bytes().await.is_err(), "the body is cut short");
    b.handle.shutdown().await;

    // Half the requests fail: retries get through, and the draws repeat per seed.
    let mut runs = Vec::new();
    for _ in 0..2 {
        let b = boot(SandboxConfig {
            fail_rate: 0.5,
            ..config(5, 17)
        })
        .await;
        let mut statuses = Vec::new();
        for _ in 0..20 {
            statuses.push(b.post(&first, Some(&Sig::app())).await.status);
        }
        assert!(statuses.contains(&200) && statuses.iter().any(|&s| s >= 500));
        runs.push(statuses);
        b.handle.shutdown().await;
    }
    assert_eq!(runs[0], runs[1]);
}

#[tokio::test]
async fn host_header_is_signed_verbatim() {
    let b = boot(config(5, 18)).await;
    let path = format!("/apps/{APP}/tokens/records/first");
    let url = format!("{}{}", b.handle.api_base(), encode_path(&path));
    for (sent, signed, status) in [
        ("Sandbox.Example:80", "Sandbox.Example:80", 200),
        ("Sandbox.Example:80", "sandbox.example", 401),
        ("Sandbox.Example:80", "Sandbox.Example", 401),
    ] {
        let r = b
            .http
            .post(&url)
            .header("Host", sent)
            .header(
                "Authorization",
                Sig::app().header("POST", signed, &path, &[]),
            )
            .send()
            .await
            .expect("send");
        assert_eq!(r.status().as_u16(), status, "Host {sent}, signed {signed}");
    }
    b.handle.shutdown().await;
}

#[tokio::test]
async fn latency_settings_still_answer() {
    let cfg = SandboxConfig {
        latency: std::time::Duration::from_millis(1),
        cursor_latency: std::time::Duration::from_millis(1),
        data_latency: std::time::Duration::from_millis(1),
        ..config(5, 19)
    };
    let b = boot(cfg).await;
    let ids = walk(&b).await;
    assert_eq!(ids.len(), 5);
    assert_eq!(b.meds(&ids[0], &[]).await.status, 200);
    b.handle.shutdown().await;
}
