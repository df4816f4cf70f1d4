//! Helpers for the population (multi-table) end-to-end tests: pipelines cut
//! out of `pipelines/population.toml`, every resource of a generated
//! population dumped for a `--from-dir` sandbox, per-table rows read back,
//! and a counting TCP proxy that sees every request the binary sends.
#![allow(dead_code)]
// Test helpers: a failed setup step should panic with its message.
#![allow(clippy::expect_used, clippy::unwrap_used)]

use super::common::{self, Sandbox, client_config};
use smartsweep::sandbox::{self, SandboxConfig};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

/// `pipelines/population.toml`, relative to the repository root (the
/// binary's working directory in [`common::bin`]).
pub const POPULATION: &str = "pipelines/population.toml";

/// The population file, parsed.
pub fn population_toml() -> toml::Table {
    let path = common::manifest_dir().join(POPULATION);
    let text = std::fs::read_to_string(&path).expect("population.toml");
    text.parse().expect("population.toml parses")
}

/// The `[[tables]]` of the population file, in file order.
pub fn population_tables() -> Vec<toml::Table> {
    population_toml()["tables"]
        .as_array()
        .expect("[[tables]]")
        .iter()
        .map(|t| t.as_table().expect("a table").clone())
        .collect()
}

/// The table names of the population file, in file order.
pub fn table_names() -> Vec<String> {
    population_tables()
        .iter()
        .map(|t| t["name"].as_str().expect("name").to_owned())
        .collect()
}

/// One `[[tables]]` entry of the population file.
pub fn population_table(name: &str) -> toml::Table {
    population_tables()
        .into_iter()
        .find(|t| t["name"].as_str() == Some(name))
        .unwrap_or_else(|| panic!("population.toml has no table `{name}`"))
}

/// Writes `table` as a pipeline of its own, in today's single-table form
/// (`[source] resource`, top-level `[query]` and `[columns]`): the
/// independent run a multi-table run's table must equal.
pub fn write_single_table(table: &toml::Table, dir: &Path) -> PathBuf {
    let name = table["name"].as_str().expect("name");
    let mut source = toml::Table::new();
    source.insert("resource".into(), table["resource"].clone());
    let mut output = toml::Table::new();
    output.insert("format".into(), "parquet".into());
    let mut doc = toml::Table::new();
    doc.insert("name".into(), name.into());
    doc.insert("source".into(), source.into());
    doc.insert("query".into(), table["query"].clone());
    if let Some(c) = table.get("columns") {
        doc.insert("columns".into(), c.clone());
    }
    doc.insert("output".into(), output.into());
    write_doc(&doc, &dir.join(format!("{name}.toml")))
}

/// Writes a multi-table pipeline named `name` holding `tables`.
pub fn write_multi_table(name: &str, tables: Vec<toml::Table>, dir: &Path) -> PathBuf {
    let mut output = toml::Table::new();
    output.insert("format".into(), "parquet".into());
    let mut doc = toml::Table::new();
    doc.insert("name".into(), name.into());
    doc.insert("output".into(), output.into());
    doc.insert(
        "tables".into(),
        toml::Value::Array(tables.into_iter().map(toml::Value::Table).collect()),
    );
    write_doc(&doc, &dir.join(format!("{name}.toml")))
}

fn write_doc(doc: &toml::Table, path: &Path) -> PathBuf {
    std::fs::create_dir_all(path.parent().expect("parent")).expect("mkdir");
    std::fs::write(path, toml::to_string(doc).expect("toml")).expect("write pipeline");
    path.to_path_buf()
}

/// A `[[tables]]` entry over `resource` with `sparql` and no typed columns.
pub fn table(name: &str, resource: &str, sparql: &str) -> toml::Table {
    let mut query = toml::Table::new();
    query.insert("sparql".into(), sparql.into());
    let mut t = toml::Table::new();
    t.insert("name".into(), name.into());
    t.insert("resource".into(), resource.into());
    t.insert("query".into(), query.into());
    t
}

/// A table's rows (tab-separated, ports normalised), sorted: a multiset.
pub fn sorted_rows(dir: &Path) -> Vec<String> {
    let mut r = common::rows(dir);
    r.sort();
    r
}

/// Every table's sorted rows under `out/<table>/`.
pub fn every_table(out: &Path, tables: &[String]) -> BTreeMap<String, Vec<String>> {
    tables
        .iter()
        .map(|t| (t.clone(), sorted_rows(&out.join(t))))
        .collect()
}

/// The given columns (by name) of every row of the Parquet parts in `dir`,
/// tab-separated, sorted.
pub fn projected_rows(dir: &Path, columns: &[&str]) -> Vec<String> {
    let mut out = Vec::new();
    for p in common::parts(dir, "parquet") {
        for b in common::read_parquet(&p) {
            let idx: Vec<usize> = columns
                .iter()
                .map(|c| b.schema().index_of(c).expect("column"))
                .collect();
            out.extend(common::format_rows(&b.project(&idx).expect("project")));
        }
    }
    out.sort();
    out
}

/// Writes every resource the sandbox serves, for every record of a
/// generated population, to `dir/<resource>/<record_id>.rdf` (as fetched,
/// one page each), for a `--from-dir` sandbox. Returns the record ids.
pub fn dump_population(config: SandboxConfig, dir: &Path) -> Vec<String> {
    let ids = sandbox::record_ids(&config);
    let generator = Sandbox::start(config);
    let client =
        smartsweep::extract::Client::new(client_config(&generator.api_base)).expect("client");
    let resources = sandbox::served_resources();
    for r in &resources {
        std::fs::create_dir_all(dir.join(r)).expect("mkdir");
    }
    generator.rt.block_on(async {
        for id in &ids {
            let t = client.mint(id).await.expect("mint");
            for r in &resources {
                let f = client.fetch(&t, r, &[], None).await.expect("fetch");
                assert_eq!(f.pages.len(), 1, "{id} {r}: one page");
                std::fs::write(dir.join(r).join(format!("{id}.rdf")), &f.pages[0]).expect("write");
            }
        }
    });
    generator.stop();
    ids
}

/// A TCP proxy in front of a sandbox that records the request line
/// (`METHOD target`) of every HTTP request passing through it. The binary
/// is pointed at the proxy; the sandbox sees the proxy's `Host`, which the
/// client signed, so OAuth still verifies.
pub struct CountingProxy {
    /// `http://127.0.0.1:<port>` of the proxy.
    pub api_base: String,
    seen: Arc<Mutex<Vec<String>>>,
}

impl CountingProxy {
    pub fn start(upstream_base: &str) -> CountingProxy {
        let upstream = upstream_base
            .trim_start_matches("http://")
            .trim_end_matches('/')
            .to_owned();
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind proxy");
        let api_base = format!("http://{}", listener.local_addr().expect("addr"));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let Ok(client) = conn else { continue };
                let Ok(server) = TcpStream::connect(&upstream) else {
                    continue;
                };
                let log = log.clone();
                std::thread::spawn(move || pipe(client, server, log));
            }
        });
        CountingProxy { api_base, seen }
    }

    /// Every request line seen so far, in arrival order.
    pub fn requests(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }

    /// Forgets what was seen.
    pub fn clear(&self) {
        self.seen.lock().expect("lock").clear();
    }
}

/// Copies both ways; the client-to-server bytes are scanned for request
/// lines (a line starting with a method and ending with ` HTTP/1.1`: data
/// and cursor requests have no body, so nothing else can look like one).
fn pipe(mut client: TcpStream, mut server: TcpStream, log: Arc<Mutex<Vec<String>>>) {
    let (Ok(mut back_from), Ok(mut back_to)) = (server.try_clone(), client.try_clone()) else {
        return;
    };
    let back = std::thread::spawn(move || {
        let _ = std::io::copy(&mut back_from, &mut back_to);
        let _ = back_to.shutdown(Shutdown::Write);
    });
    let mut line = Vec::new();
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = match client.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        for &b in &buf[..n] {
            if b == b'\n' {
                let l = String::from_utf8_lossy(&line);
                let l = l.trim_end_matches('\r');
                if let Some(target) = l.strip_suffix(" HTTP/1.1")
                    && ["GET ", "POST ", "PUT ", "DELETE ", "HEAD "]
                        .iter()
                        .any(|m| target.starts_with(m))
                {
                    log.lock().expect("lock").push(target.to_owned());
                }
                line.clear();
            } else if line.len() < 64 * 1024 {
                line.push(b);
            }
        }
        if server.write_all(&buf[..n]).is_err() {
            break;
        }
    }
    let _ = server.shutdown(Shutdown::Write);
    let _ = back.join();
}

/// Counts of data requests per (record id, resource): `GET
/// /records/{id}/{resource}[/][?query]`.
pub fn data_requests(requests: &[String]) -> BTreeMap<(String, String), u32> {
    let mut out = BTreeMap::new();
    for r in requests {
        let Some(target) = r.strip_prefix("GET ") else {
            continue;
        };
        let path = target.split('?').next().unwrap_or_default();
        let Some(rest) = path.strip_prefix("/records/") else {
            continue;
        };
        let mut seg = rest.trim_end_matches('/').splitn(2, '/');
        let (Some(id), Some(resource)) = (seg.next(), seg.next()) else {
            continue;
        };
        *out.entry((id.to_owned(), resource.to_owned())).or_insert(0) += 1;
    }
    out
}

/// The cursor calls: `POST /apps/{app}/tokens/records/...`, each one token.
pub fn cursor_requests(requests: &[String]) -> Vec<String> {
    requests
        .iter()
        .filter(|r| r.starts_with("POST ") && r.contains("/tokens/records/"))
        .cloned()
        .collect()
}
