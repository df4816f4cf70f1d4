//! The fast RDF/XML reader against oxrdfxml: the same graphs.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use smartsweep::transform::{
    Projection, reader_counts_on_this_thread, set_fast_reader_on_this_thread,
};
use std::collections::BTreeMap;

fn graphs(
    p: &Projection,
    body: &[u8],
    base: &str,
) -> (Result<String, String>, Result<String, String>) {
    set_fast_reader_on_this_thread(true);
    let a = p.graph_text(&[body], base).map_err(|e| e.to_string());
    set_fast_reader_on_this_thread(false);
    let b = p.graph_text(&[body], base).map_err(|e| e.to_string());
    set_fast_reader_on_this_thread(true);
    (a, b)
}

#[test]
fn debug_file() {
    let Ok(path) = std::env::var("FX_FILE") else {
        return;
    };
    let body = std::fs::read(path).unwrap();
    let p = Projection::prepare("SELECT * WHERE { ?s ?p ?o }", &BTreeMap::new()).unwrap();
    let (a, b) = graphs(&p, &body, "http://localhost:7000/records/42/medications/");
    println!("{:?}", reader_counts_on_this_thread());
    std::fs::write("/tmp/fx/fast.txt", format!("{a:#?}").replace("\\n", "\n")).unwrap();
    std::fs::write("/tmp/fx/slow.txt", format!("{b:#?}").replace("\\n", "\n")).unwrap();
    assert_eq!(a, b);
}
