//! The sandbox's OAuth 1.0 verifier, written from the container spec
//! (`smart-classic-api.md` section 3), independently of the client's signer.
//!
//! It reproduces the reference container (oauth_py behind Django 1.3):
//! parameters come only from the `Authorization: OAuth ...` header; the base
//! string uses the verbatim `Host` header and the percent-decoded path; a GET
//! signs its query, any other method signs its form body and not its query;
//! HMAC-SHA1 only; a past-only 300 s timestamp window; a global nonce store
//! in which a nonce is consumed before the signature is checked.
//!
//! The checks run in the reference order: header parse, consumer key, token,
//! `oauth_version`, `oauth_timestamp`, `oauth_nonce`, body hash,
//! `oauth_signature_method`, signature. Failures are [`Rejection::Unauthorized`]
//! (the caller then has no principal, which becomes a 401 where a grant is
//! needed) except the few the reference lets escape as a 500
//! ([`Rejection::ServerError`]).

use std::collections::{BTreeMap, HashMap};
use std::hash::{BuildHasher, Hasher};
use std::sync::Mutex;

use base64::Engine as _;
use hmac::{Hmac, Mac};
use sha1::{Digest, Sha1};

/// Seconds a timestamp may lie in the past (future timestamps are accepted).
pub(crate) const TIMESTAMP_WINDOW_S: i64 = 300;
/// The reference's `Nonce` column is 100 characters; longer ones give a 500.
pub(crate) const MAX_NONCE_LEN: usize = 100;

/// A raw (name, value) parameter, as bytes (values are percent-decoded).
pub(crate) type Param = (Vec<u8>, Vec<u8>);

/// Why a request was not authenticated. The reason is for debug logs only;
/// it never carries a credential.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Rejection {
    /// An `OAuthError` in the reference: the request has no principal.
    Unauthorized(&'static str),
    /// An uncaught error in the reference: the answer is a 500.
    ServerError(&'static str),
}

/// Who made the request, once the signature checked out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Principal {
    /// No credentials, or credentials that failed verification.
    Anonymous,
    /// 2-legged: the background app itself (a `HelperApp`).
    App,
    /// 3-legged: an access token bound to the record at this index.
    Token { record: u32 },
}

/// What the verifier needs to know about one request.
pub(crate) struct SignedRequest<'a> {
    /// The HTTP method (any case; upper-cased for the base string).
    pub method: &'a str,
    /// The `Host` header verbatim.
    pub host: &'a [u8],
    /// The percent-decoded path.
    pub path: &'a str,
    /// The raw query string (signed on GET only).
    pub query: Option<&'a str>,
    /// The `Content-Type` header, if any.
    pub content_type: Option<&'a [u8]>,
    /// The request body.
    pub body: &'a [u8],
    /// The `Authorization` header, if any.
    pub authorization: Option<&'a [u8]>,
}

/// An access token's secret and the record it is bound to.
pub(crate) struct TokenGrant {
    /// The token secret (the second half of the signing key).
    pub secret: Vec<u8>,
    /// The record index in the population.
    pub record: u32,
}

/// Percent-encode as RFC 3986 / RFC 5849: everything but `A-Z a-z 0-9 - . _ ~`,
/// upper-case hex.
pub(crate) fn escape(input: &[u8]) -> String {
    let mut out = String::with_capacity(input.len() * 3 / 2);
    escape_into(&mut out, input);
    out
}

fn escape_into(out: &mut String, input: &[u8]) {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    for &b in input {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push('%');
            out.push(HEX[usize::from(b >> 4)] as char);
            out.push(HEX[usize::from(b & 15)] as char);
        }
    }
}

fn hex_val(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// Python 2 `urllib.unquote`: `%XX` with two hex digits is decoded, anything
/// else (including `+`) is kept as it is.
pub(crate) fn unquote(input: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(input.len());
    let mut i = 0;
    while i < input.len() {
        if input[i] == b'%'
            && i + 2 < input.len()
            && let (Some(h), Some(l)) = (hex_val(input[i + 1]), hex_val(input[i + 2]))
        {
            out.push(h << 4 | l);
            i += 3;
            continue;
        }
        out.push(input[i]);
        i += 1;
    }
    out
}

/// Python 2 `urllib.unquote_plus`: `+` becomes a space, then [`unquote`].
pub(crate) fn unquote_plus(input: &[u8]) -> Vec<u8> {
    let spaced: Vec<u8> = input
        .iter()
        .map(|&b| if b == b'+' { b' ' } else { b })
        .collect();
    unquote(&spaced)
}

/// Python 2.7 `parse_qsl(qs, keep_blank_values=True)` as Django 1.3's
/// `QueryDict` uses it: pairs split on `&` *and* `;`, empty pieces skipped, a
/// piece without `=` is a name with an empty value, names and values decoded
/// with `unquote_plus`. Values are then decoded as UTF-8 (invalid bytes
/// replaced, as Django does).
pub(crate) fn parse_qsl(qs: &[u8]) -> Vec<(String, String)> {
    qs.split(|&b| b == b'&' || b == b';')
        .filter(|piece| !piece.is_empty())
        .map(|piece| {
            let (name, value) = match piece.iter().position(|&b| b == b'=') {
                Some(eq) => (&piece[..eq], &piece[eq + 1..]),
                None => (piece, &b""[..]),
            };
            (
                String::from_utf8_lossy(&unquote_plus(name)).into_owned(),
                String::from_utf8_lossy(&unquote_plus(value)).into_owned(),
            )
        })
        .collect()
}

/// oauth_py `parse_header`: drop the first 6 characters (`OAuth `), split on
/// `,`, trim each piece, split at the first `=`, strip surrounding `"`, and
/// percent-decode with plain unquoting. `realm` is dropped. A later duplicate
/// wins (a Python dict). A piece without `=` (including an empty one from a
/// trailing comma) makes the whole header unparsable.
pub(crate) fn parse_header(header: &[u8]) -> Option<BTreeMap<Vec<u8>, Vec<u8>>> {
    if !header.starts_with(b"OAuth ") {
        return None;
    }
    let mut params = BTreeMap::new();
    for piece in header[6..].split(|&b| b == b',') {
        let piece = piece.trim_ascii();
        let eq = piece.iter().position(|&b| b == b'=')?;
        let name = &piece[..eq];
        let mut value = &piece[eq + 1..];
        while let [b'"', rest @ ..] = value {
            value = rest;
        }
        while let [rest @ .., b'"'] = value {
            value = rest;
        }
        if name == b"realm" {
            continue;
        }
        params.insert(name.to_vec(), unquote(value));
    }
    Some(params)
}

/// The signature base string: `METHOD & esc(url) & esc(normalized params)`,
/// where `url` is `scheme://host/path` and the parameters are sorted on the
/// raw name, then the raw value, and joined as `esc(name)=esc(value)` with `&`.
pub(crate) fn base_string(method: &str, url: &str, params: &[Param]) -> String {
    let mut sorted: Vec<&Param> = params.iter().collect();
    sorted.sort();
    let mut normalized = String::new();
    for (i, (name, value)) in sorted.iter().enumerate() {
        if i > 0 {
            normalized.push('&');
        }
        escape_into(&mut normalized, name);
        normalized.push('=');
        escape_into(&mut normalized, value);
    }
    let mut out = String::with_capacity(method.len() + url.len() * 2 + normalized.len() * 2);
    out.push_str(&method.to_ascii_uppercase());
    out.push('&');
    escape_into(&mut out, url.as_bytes());
    out.push('&');
    escape_into(&mut out, normalized.as_bytes());
    out
}

/// base64(HMAC-SHA1(esc(consumer_secret) & esc(token_secret), base)).
pub(crate) fn sign(base: &str, consumer_secret: &[u8], token_secret: &[u8]) -> String {
    let mut key = escape(consumer_secret);
    key.push('&');
    escape_into(&mut key, token_secret);
    // HMAC accepts keys of any length, so this cannot fail.
    let mut mac = match Hmac::<Sha1>::new_from_slice(key.as_bytes()) {
        Ok(mac) => mac,
        Err(_) => return String::new(),
    };
    mac.update(base.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// Byte equality that does not stop at the first difference.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// The request data that is signed besides the header parameters, as the
/// reference collects it: the query on GET, the form body on any other
/// method (when the body is form-encoded, untyped or empty). A repeated name
/// becomes a Python list printed as a string, which no client can sign.
fn request_data(req: &SignedRequest<'_>) -> BTreeMap<Vec<u8>, Vec<u8>> {
    let pairs = if req.method.eq_ignore_ascii_case("GET") {
        parse_qsl(req.query.unwrap_or("").as_bytes())
    } else {
        let form = match req.content_type {
            None => true,
            Some(ct) => ct.starts_with(b"application/x-www-form-urlencoded"),
        };
        if form || req.body.is_empty() {
            parse_qsl(req.body)
        } else {
            Vec::new()
        }
    };
    let mut grouped: BTreeMap<Vec<u8>, Vec<String>> = BTreeMap::new();
    for (name, value) in pairs {
        grouped.entry(name.into_bytes()).or_default().push(value);
    }
    grouped
        .into_iter()
        .map(|(name, mut values)| {
            let value = if values.len() == 1 {
                values.pop().unwrap_or_default()
            } else {
                let items: Vec<String> = values.iter().map(|v| format!("u'{v}'")).collect();
                format!("[{}]", items.join(", "))
            };
            (name, value.into_bytes())
        })
        .collect()
}

/// Python `int(s)` for a timestamp: surrounding whitespace, an optional
/// sign, decimal digits. Values beyond i64 saturate (far future or past).
fn parse_timestamp(raw: &[u8]) -> Option<i64> {
    let s = std::str::from_utf8(raw).ok()?.trim();
    let (neg, digits) = match s.as_bytes().first()? {
        b'-' => (true, &s[1..]),
        b'+' => (false, &s[1..]),
        _ => (false, s),
    };
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value = digits.parse::<i64>().unwrap_or(i64::MAX);
    Some(if neg { -value } else { value })
}

/// The nonce store: one global set, a nonce is never accepted twice.
///
/// Bounding it: a nonce is remembered with the last second at which its
/// request's timestamp still passes the window (`timestamp + 300`). Past that
/// second, any request carrying that timestamp is refused by the timestamp
/// check, which runs *before* the nonce check, so replaying the captured
/// request can no longer succeed and the entry may be pruned. (A new request
/// that reuses the nonce with a fresh timestamp must be signed anew, i.e. by
/// the secret holder; the reference's own cleanup command forgets nonces in
/// the same way.) Pruning is amortized: a shard is swept when it has doubled
/// since its last sweep.
pub(crate) struct NonceStore {
    shards: Vec<Mutex<NonceShard>>,
    hasher: std::collections::hash_map::RandomState,
}

#[derive(Default)]
struct NonceShard {
    seen: HashMap<Box<[u8]>, i64>,
    sweep_at: usize,
}

const SHARDS: usize = 64;
const MIN_SWEEP: usize = 256;

impl NonceStore {
    pub(crate) fn new() -> Self {
        NonceStore {
            shards: (0..SHARDS).map(|_| Mutex::default()).collect(),
            hasher: std::collections::hash_map::RandomState::new(),
        }
    }

    /// Record `nonce`; false when it was seen before (and not yet pruned).
    pub(crate) fn consume(&self, nonce: &[u8], timestamp: i64, now: i64) -> bool {
        let mut h = self.hasher.build_hasher();
        h.write(nonce);
        let shard = &self.shards[(h.finish() as usize) % SHARDS];
        let mut shard = match shard.lock() {
            Ok(guard) => guard,
            Err(poisoned) => poisoned.into_inner(),
        };
        if shard.seen.contains_key(nonce) {
            return false;
        }
        if shard.seen.len() >= shard.sweep_at.max(MIN_SWEEP) {
            shard.seen.retain(|_, keep_until| *keep_until >= now);
            shard.sweep_at = shard.seen.len() * 2;
        }
        let keep_until = timestamp.saturating_add(TIMESTAMP_WINDOW_S);
        shard.seen.insert(nonce.into(), keep_until);
        true
    }

    /// Number of remembered nonces (for tests of the bound).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().map(|g| g.seen.len()).unwrap_or(0))
            .sum()
    }
}

/// The verifier's view of the credential stores.
pub(crate) trait Credentials {
    /// The consumer secret for a consumer key, if the key is known.
    fn consumer_secret(&self, key: &[u8]) -> Option<Vec<u8>>;
    /// The grant of an access token issued to that consumer, if known.
    fn token(&self, consumer_key: &[u8], token: &[u8]) -> Option<TokenGrant>;
}

/// Verify one request as the reference container does (section 3.3 order).
pub(crate) fn verify(
    req: &SignedRequest<'_>,
    creds: &dyn Credentials,
    nonces: &NonceStore,
    now: i64,
) -> Result<Principal, Rejection> {
    use Rejection::{ServerError, Unauthorized};
    let Some(header) = req.authorization else {
        return Err(Unauthorized("no Authorization header"));
    };
    let Some(mut oauth) = parse_header(header) else {
        return Err(Unauthorized(
            "Authorization header is not OAuth or does not parse",
        ));
    };
    let Some(consumer_key) = oauth.get(&b"oauth_consumer_key"[..]) else {
        return Err(Unauthorized("no oauth_consumer_key"));
    };
    let Some(consumer_secret) = creds.consumer_secret(consumer_key) else {
        return Err(Unauthorized("unknown consumer key"));
    };
    let (token_secret, principal) = match oauth.get(&b"oauth_token"[..]) {
        Some(token) if !token.is_empty() => match creds.token(consumer_key, token) {
            Some(grant) => (
                grant.secret,
                Principal::Token {
                    record: grant.record,
                },
            ),
            None => return Err(Unauthorized("unknown token")),
        },
        _ => (Vec::new(), Principal::App),
    };
    if let Some(version) = oauth.get(&b"oauth_version"[..])
        && version.as_slice() != b"1.0"
    {
        return Err(Unauthorized("oauth_version is not 1.0"));
    }
    let timestamp = match oauth.get(&b"oauth_timestamp"[..]) {
        None => 0,
        Some(raw) => match parse_timestamp(raw) {
            Some(ts) => ts,
            None => return Err(ServerError("non-numeric oauth_timestamp")),
        },
    };
    if now.saturating_sub(timestamp) > TIMESTAMP_WINDOW_S {
        return Err(Unauthorized("stale or missing timestamp"));
    }
    let Some(nonce) = oauth.get(&b"oauth_nonce"[..]) else {
        return Err(Unauthorized("no oauth_nonce"));
    };
    if nonce.len() > MAX_NONCE_LEN {
        return Err(ServerError("oauth_nonce longer than 100 characters"));
    }
    if !nonces.consume(nonce, timestamp, now) {
        return Err(Unauthorized("nonce already used"));
    }
    if !req.method.eq_ignore_ascii_case("GET")
        && let Some(claimed) = oauth.get(&b"oauth_body_hash"[..])
    {
        let actual = base64::engine::general_purpose::STANDARD.encode(Sha1::digest(req.body));
        if claimed.as_slice() != actual.as_bytes() {
            return Err(Unauthorized("oauth_body_hash does not match the body"));
        }
    }
    match oauth.get(&b"oauth_signature_method"[..]) {
        Some(m) if m.as_slice() == b"HMAC-SHA1" => {}
        _ => return Err(ServerError("oauth_signature_method is not HMAC-SHA1")),
    }
    let signature = oauth.remove(&b"oauth_signature"[..]).unwrap_or_default();
    let mut params = request_data(req);
    params.remove(&b"oauth_signature"[..]);
    // Header parameters win over request data of the same name.
    params.extend(oauth);
    let params: Vec<Param> = params.into_iter().collect();
    let mut url = String::with_capacity(7 + req.host.len() + req.path.len());
    url.push_str("http://");
    url.push_str(&String::from_utf8_lossy(req.host));
    url.push_str(req.path);
    let base = base_string(req.method, &url, &params);
    let expected = sign(&base, &consumer_secret, &token_secret);
    if constant_time_eq(expected.as_bytes(), &signature) {
        Ok(principal)
    } else {
        Err(Unauthorized("signature mismatch"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(name: &str, value: &str) -> Param {
        (name.as_bytes().to_vec(), value.as_bytes().to_vec())
    }

    /// RFC 5849 section 3.4.1.1: the worked example. Its parameters are
    /// given as collected (section 3.4.1.3.1 lists them; the RFC signs the
    /// POST query, which the reference does not, so collection is skipped).
    const RFC_BASE: &str = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q\
         %26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_\
         key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_m\
         ethod%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk\
         9d7dh3k39sjv7";

    fn rfc_params() -> Vec<Param> {
        vec![
            p("b5", "=%3D"),
            p("a3", "a"),
            p("c@", ""),
            p("a2", "r b"),
            p("oauth_consumer_key", "9djdj82h48djs9d2"),
            p("oauth_token", "kkk9d7dh3k39sjv7"),
            p("oauth_signature_method", "HMAC-SHA1"),
            p("oauth_timestamp", "137131201"),
            p("oauth_nonce", "7d8f3e4a"),
            p("c2", ""),
            p("a3", "2 q"),
        ]
    }

    #[test]
    fn rfc5849_base_string_example() {
        let base = base_string("POST", "http://example.com/request", &rfc_params());
        // The one deliberate difference: oauth_py sorts on the *raw* names
        // (`c2` < `c@`), RFC 5849 on the encoded ones (`c%40` < `c2`). Any
        // name made of letters, digits and `_` sorts the same either way.
        let reference = RFC_BASE.replace("c%2540%3D%26c2%3D", "c2%3D%26c%2540%3D");
        assert_eq!(base, reference);
        // Without that one name the RFC string is reproduced exactly.
        let without: Vec<Param> = rfc_params()
            .into_iter()
            .filter(|(k, _)| k != b"c@")
            .collect();
        assert_eq!(
            base_string("POST", "http://example.com/request", &without),
            RFC_BASE.replace("%26c%2540%3D", "")
        );
    }

    #[test]
    fn escape_is_rfc3986_upper_hex() {
        assert_eq!(
            escape(b"a-._~ +/=&%@\xc3\xa9"),
            "a-._~%20%2B%2F%3D%26%25%40%C3%A9"
        );
    }

    #[test]
    fn unquote_keeps_plus_and_bad_escapes() {
        assert_eq!(unquote(b"a+b%20c%2"), b"a+b c%2".to_vec());
        assert_eq!(unquote(b"%zz%41"), b"%zzA".to_vec());
        assert_eq!(unquote_plus(b"a+b%2B"), b"a b+".to_vec());
    }

    #[test]
    fn header_parsing_follows_oauth_py() {
        let h = parse_header(
            br#"OAuth realm="http://x", oauth_token="a%2Bb+c",  foo = "%22q%22" ,oauth_nonce=n"#,
        )
        .unwrap_or_default();
        assert_eq!(h.get(&b"oauth_token"[..]), Some(&b"a+b+c".to_vec()));
        assert_eq!(h.get(&b"oauth_nonce"[..]), Some(&b"n".to_vec()));
        // Neither part is trimmed after the split, so only the trailing quote
        // is stripped here (Python's `strip('"')` stops at the space).
        assert_eq!(h.get(&b"foo "[..]), Some(&b" \"\"q\"".to_vec()));
        assert!(!h.contains_key(&b"realm"[..]));
        assert!(parse_header(b"OAuth a=1,").is_none(), "trailing comma");
        assert!(parse_header(b"Bearer a=1").is_none());
    }

    #[test]
    fn parse_qsl_is_python_2() {
        assert_eq!(
            parse_qsl(b"a=1;b=x+y&c&&d=%41"),
            vec![
                ("a".into(), "1".into()),
                ("b".into(), "x y".into()),
                ("c".into(), String::new()),
                ("d".into(), "A".into()),
            ]
        );
    }

    #[test]
    fn timestamps_parse_like_python_int() {
        assert_eq!(parse_timestamp(b" 12 "), Some(12));
        assert_eq!(parse_timestamp(b"-5"), Some(-5));
        assert_eq!(parse_timestamp(b"1.5"), None);
        assert_eq!(parse_timestamp(b""), None);
        assert_eq!(parse_timestamp(b"99999999999999999999999"), Some(i64::MAX));
    }

    struct OneApp;
    impl Credentials for OneApp {
        fn consumer_secret(&self, key: &[u8]) -> Option<Vec<u8>> {
            (key == b"app@x.org").then(|| b"s&cr t+".to_vec())
        }
        fn token(&self, _key: &[u8], token: &[u8]) -> Option<TokenGrant> {
            (token == "tok /+=%é".as_bytes()).then(|| TokenGrant {
                secret: "sec&=/ ü".as_bytes().to_vec(),
                record: 7,
            })
        }
    }

    fn header_for(
        method: &str,
        url: &str,
        data: &[Param],
        oauth: &[Param],
        cs: &[u8],
        ts: &[u8],
    ) -> Vec<u8> {
        let mut all: Vec<Param> = data.to_vec();
        all.extend(oauth.iter().cloned());
        let sig = sign(&base_string(method, url, &all), cs, ts);
        let mut h = String::from("OAuth realm=\"r\"");
        for (k, v) in oauth {
            h.push_str(&format!(", {}=\"{}\"", escape(k), escape(v)));
        }
        h.push_str(&format!(", oauth_signature=\"{}\"", escape(sig.as_bytes())));
        h.into_bytes()
    }

    #[test]
    fn odd_token_values_verify_and_nonce_is_single_use() {
        let now = 1_700_000_000;
        let oauth = vec![
            p("oauth_consumer_key", "app@x.org"),
            p("oauth_token", "tok /+=%é"),
            p("oauth_nonce", "n1"),
            p("oauth_timestamp", &now.to_string()),
            p("oauth_signature_method", "HMAC-SHA1"),
            p("oauth_version", "1.0"),
        ];
        let url = "http://127.0.0.1:9/records/1/medications/";
        let header = header_for(
            "GET",
            url,
            &[p("rxnorm", "1|2")],
            &oauth,
            b"s&cr t+",
            "sec&=/ ü".as_bytes(),
        );
        let req = SignedRequest {
            method: "GET",
            host: b"127.0.0.1:9",
            path: "/records/1/medications/",
            query: Some("rxnorm=1%7C2"),
            content_type: None,
            body: b"",
            authorization: Some(&header),
        };
        let nonces = NonceStore::new();
        assert_eq!(
            verify(&req, &OneApp, &nonces, now),
            Ok(Principal::Token { record: 7 })
        );
        assert_eq!(
            verify(&req, &OneApp, &nonces, now),
            Err(Rejection::Unauthorized("nonce already used"))
        );
    }

    #[test]
    fn nonce_store_prunes_only_expired_entries() {
        let store = NonceStore::new();
        let now = 10_000;
        for i in 0..30_000u32 {
            assert!(store.consume(format!("old{i}").as_bytes(), now - 400, now));
        }
        for i in 0..30_000u32 {
            assert!(store.consume(format!("new{i}").as_bytes(), now, now));
        }
        // Old entries are gone once their shards were swept, new ones stay.
        assert!(store.len() < 45_000, "{}", store.len());
        assert!(!store.consume(b"new42", now, now));
    }
}
