//! A guard against XML entity expansion ("billion laughs", quadratic
//! blow-up), run on each page before oxrdfxml sees it.
//!
//! oxrdfxml reads the `<!ENTITY name "value">` declarations of a DOCTYPE's
//! internal subset, expands every reference in a value to the entities
//! declared before it (so nested declarations grow geometrically), and
//! substitutes the stored value for each `&name;` in text, attribute values
//! and names. Neither it nor quick-xml bounds any of this: a 1 KB body could
//! ask for gigabytes.
//!
//! The guard computes, without allocating anything of that size, how many
//! bytes the declarations and the references will produce, and refuses the
//! page before parsing when one record's total passes
//! [`ENTITY_EXPANSION_LIMIT`]. The count is an upper bound: it mirrors
//! oxrdfxml's reading of declarations but also counts declarations and
//! references oxrdfxml would not act on (inside comments or CDATA, after a
//! parse error), so it can only refuse early, never let more through. A body
//! without `<!DOCTYPE` (every container's answer) costs one SIMD scan.
//! The five predefined entities and numeric character references never
//! grow the text and are not counted.

use std::collections::HashMap;

/// The most bytes that entity declarations and references may produce in
/// one record (all its pages together): 1 MiB. Namespace abbreviations
/// (`&sp;` for a 32-byte IRI) stay far below it; an expansion attack is
/// refused before it allocates anything.
pub const ENTITY_EXPANSION_LIMIT: u64 = 1 << 20;

/// Refuses the page (byte offset of the cause and a message) when its entity
/// expansion would take `used` (the record's running total) past the limit.
pub(crate) fn check(doc: &[u8], used: &mut u64) -> Result<(), (usize, String)> {
    let Some(start) = find_doctype(doc) else {
        return Ok(());
    };
    let mut sizes: HashMap<&[u8], u64> = HashMap::new();
    // Where the declarations are: their references are counted in their
    // sizes, not again as uses.
    let mut declared: Vec<(usize, usize)> = Vec::new();
    let mut offset = start;
    for piece in doc[start..].split(|&b| b == b'<') {
        let here = offset;
        offset += piece.len() + 1;
        let Some((name, value)) = declaration(piece) else {
            continue;
        };
        declared.push((here, here + piece.len()));
        let size = expanded_len(value, &sizes);
        charge(used, size).map_err(|total| {
            (
                here,
                format!(
                    "the DOCTYPE declares entity `{}` ({} expanded), which takes the record's \
                     entity expansion to {}: {}",
                    super::error::quote(&String::from_utf8_lossy(name)),
                    bytes(size),
                    bytes(total),
                    over(total)
                ),
            )
        })?;
        let e = sizes.entry(name).or_insert(0);
        *e = (*e).max(size);
    }
    if sizes.is_empty() {
        return Ok(());
    }
    for (at, name) in references(doc) {
        let Some(&size) = sizes.get(name) else {
            continue;
        };
        let i = declared.partition_point(|&(_, end)| end <= at);
        if declared.get(i).is_some_and(|&(begin, _)| begin <= at) {
            continue;
        }
        charge(used, size).map_err(|total| {
            (
                at,
                format!(
                    "the reference `&{};` takes the record's entity expansion to {}: {}",
                    super::error::quote(&String::from_utf8_lossy(name)),
                    bytes(total),
                    over(total)
                ),
            )
        })?;
    }
    Ok(())
}

fn over(total: u64) -> String {
    format!(
        "over the limit of {} per record{}\nhint: the body declares XML entities that expand \
         to far more text than it holds (an entity-expansion attack, or a broken \
         serializer); the container must send plain RDF/XML",
        bytes(ENTITY_EXPANSION_LIMIT),
        if total == u64::MAX { " (overflow)" } else { "" }
    )
}

fn bytes(n: u64) -> String {
    if n >= 1 << 20 {
        format!("{:.1} MiB", n as f64 / f64::from(1u32 << 20))
    } else {
        format!("{n} bytes")
    }
}

/// Adds `size` to `used`; the new total when it passes the limit.
fn charge(used: &mut u64, size: u64) -> Result<(), u64> {
    *used = used.saturating_add(size);
    if *used > ENTITY_EXPANSION_LIMIT {
        Err(*used)
    } else {
        Ok(())
    }
}

/// The offset of the first `<!DOCTYPE` (any case), as quick-xml reads it.
fn find_doctype(doc: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(p) = memchr::memmem::find(&doc[from..], b"<!") {
        let at = from + p;
        if doc
            .get(at + 2..at + 9)
            .is_some_and(|w| w.eq_ignore_ascii_case(b"DOCTYPE"))
        {
            return Some(at);
        }
        from = at + 2;
    }
    None
}

fn trim_start(s: &[u8]) -> &[u8] {
    let n = s.iter().take_while(|b| b.is_ascii_whitespace()).count();
    &s[n..]
}

/// `!ENTITY [%] name "value">` as oxrdfxml reads it (one piece of the
/// DOCTYPE split on `<`): the name and the raw value.
fn declaration(piece: &[u8]) -> Option<(&[u8], &[u8])> {
    let input = piece.strip_prefix(b"!ENTITY")?;
    let input = trim_start(input).strip_prefix(b"%").unwrap_or(input);
    let input = trim_start(input);
    let name_len = input.iter().position(u8::is_ascii_whitespace)?;
    let (name, rest) = input.split_at(name_len);
    let rest = trim_start(rest).strip_prefix(b"\"")?;
    let end = memchr::memchr(b'"', rest)?;
    Some((name, &rest[..end]))
}

/// The value's length once the references to earlier entities are replaced
/// (an upper bound: the references' own text is counted too).
fn expanded_len(value: &[u8], sizes: &HashMap<&[u8], u64>) -> u64 {
    let mut n = value.len() as u64;
    for (_, name) in references(value) {
        n = n.saturating_add(sizes.get(name).copied().unwrap_or(0));
    }
    n
}

/// Every `&name;` (offset of the `&`, name), character references excluded.
fn references(text: &[u8]) -> impl Iterator<Item = (usize, &[u8])> {
    memchr::memchr_iter(b'&', text).filter_map(move |at| {
        let rest = &text[at + 1..];
        let end = memchr::memchr(b';', &rest[..rest.len().min(256)])?;
        let name = &rest[..end];
        (!name.is_empty() && name[0] != b'#').then_some((at, name))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn laughs(levels: usize, fanout: usize) -> String {
        let mut s = String::from("<?xml version=\"1.0\"?>\n<!DOCTYPE r [\n<!ENTITY l0 \"lol\">\n");
        for i in 1..=levels {
            let refs = format!("&l{};", i - 1).repeat(fanout);
            s.push_str(&format!("<!ENTITY l{i} \"{refs}\">\n"));
        }
        s.push_str(&format!("]>\n<r>&l{levels};</r>\n"));
        s
    }

    #[test]
    fn nested_declarations_are_counted_without_expanding() {
        let mut used = 0;
        let (at, msg) = check(laughs(9, 10).as_bytes(), &mut used).unwrap_err();
        assert!(msg.contains("entity `l"), "{msg}");
        assert!(at > 0);
        // Small nesting within the limit passes and is counted.
        let mut used = 0;
        assert!(check(laughs(2, 10).as_bytes(), &mut used).is_ok());
        // l0: 3, l1: 40 + 10 * 3, l2: 40 + 10 * 70, one use of l2: 740
        // (the references' own text is counted too: an upper bound).
        assert_eq!(used, 3 + 70 + 740 + 740);
    }

    #[test]
    fn the_budget_is_per_record_across_pages() {
        let page = format!(
            "<!DOCTYPE r [<!ENTITY big \"{}\">]><r>{}</r>",
            "x".repeat(1000),
            "&big;".repeat(300)
        );
        let mut used = 0;
        assert!(check(page.as_bytes(), &mut used).is_ok());
        assert!(check(page.as_bytes(), &mut used).is_ok());
        assert!(check(page.as_bytes(), &mut used).is_ok());
        let (_, msg) = check(page.as_bytes(), &mut used).unwrap_err();
        assert!(msg.contains("`&big;`"), "{msg}");
    }

    #[test]
    fn plain_documents_and_predefined_entities_cost_nothing() {
        let mut used = 0;
        let doc = b"<r a=\"&amp;&#x4E2D;\">&lt;&gt;&quot;&apos;&#25991;<![CDATA[<!x>]]></r>";
        assert!(check(doc, &mut used).is_ok());
        assert_eq!(used, 0);
        let doc = b"<!doctype r [<!ENTITY sp \"http://x#\">]><r>&sp;&sp;&amp;</r>";
        assert!(check(doc, &mut used).is_ok());
        assert_eq!(used, 9 * 3, "the 9-byte value, declared and used twice");
    }
}
