//! Where each character of a TOML string value sits in the file, so that a
//! position inside a value (the SPARQL parser's `line:column`) becomes the
//! file's own line and column.
//!
//! [`char_offsets`] walks the string token as written (quotes included) and
//! pairs every decoded character with the byte offset of what produced it:
//! the character itself, or the backslash of its escape. It knows the four
//! kinds of TOML strings: basic `"..."` (escapes), multi-line basic
//! `"""..."""` (first newline trimmed, escapes, line-ending backslashes),
//! literal `'...'` and multi-line literal `'''...'''` (first newline trimmed,
//! nothing else). The caller checks the decoded text against the TOML
//! parser's value and falls back to the token's start when they differ.

/// The decoded characters of the string token `raw`, each with the byte
/// offset in `raw` it comes from, and the offset where the closing
/// delimiter starts. `None` when `raw` is not a string token this walker
/// understands.
pub(super) fn char_offsets(raw: &str) -> Option<(Vec<(char, usize)>, usize)> {
    let (quote, multi) = if raw.starts_with("\"\"\"") {
        ('"', true)
    } else if raw.starts_with("'''") {
        ('\'', true)
    } else if raw.starts_with('"') {
        ('"', false)
    } else if raw.starts_with('\'') {
        ('\'', false)
    } else {
        return None;
    };
    let mut pos = if multi { 3 } else { 1 };
    if multi {
        if raw[pos..].starts_with("\r\n") {
            pos += 2;
        } else if raw[pos..].starts_with('\n') {
            pos += 1;
        }
    }
    let mut out = Vec::new();
    let bytes = raw.as_bytes();
    while pos < raw.len() {
        let c = raw[pos..].chars().next()?;
        if c == quote {
            let run = bytes[pos..]
                .iter()
                .take_while(|&&b| b == quote as u8)
                .count();
            if !multi {
                return Some((out, pos));
            }
            if run >= 3 {
                // `""""` ends the string with one quote in it, `"""""` with two.
                for i in 0..(run - 3).min(2) {
                    out.push((quote, pos + i));
                }
                return Some((out, pos + (run - 3).min(2)));
            }
            for i in 0..run {
                out.push((quote, pos + i));
            }
            pos += run;
            continue;
        }
        if c == '\\' && quote == '"' {
            pos = escape(raw, pos, multi, &mut out)?;
            continue;
        }
        out.push((c, pos));
        pos += c.len_utf8();
    }
    None
}

/// Decodes the escape at `raw[pos]` (a backslash) into `out`; returns the
/// offset after it.
fn escape(raw: &str, pos: usize, multi: bool, out: &mut Vec<(char, usize)>) -> Option<usize> {
    let rest = &raw[pos + 1..];
    let simple = match rest.chars().next()? {
        'b' => Some('\u{8}'),
        't' => Some('\t'),
        'n' => Some('\n'),
        'f' => Some('\u{c}'),
        'r' => Some('\r'),
        'e' => Some('\u{1b}'),
        '"' => Some('"'),
        '\\' => Some('\\'),
        _ => None,
    };
    if let Some(c) = simple {
        out.push((c, pos));
        return Some(pos + 2);
    }
    let mut hex = |len: usize| -> Option<usize> {
        let digits = rest.get(1..1 + len)?;
        let code = u32::from_str_radix(digits, 16).ok()?;
        out.push((char::from_u32(code)?, pos));
        Some(pos + 2 + len)
    };
    match rest.chars().next()? {
        'x' => hex(2),
        'u' => hex(4),
        'U' => hex(8),
        c if multi && (c == ' ' || c == '\t' || c == '\r' || c == '\n') => {
            // A line-ending backslash: skip it, the rest of the line's
            // blanks, the newline and every blank or newline after it.
            let skipped = rest
                .bytes()
                .take_while(|b| matches!(b, b' ' | b'\t' | b'\r' | b'\n'))
                .count();
            if !rest[..skipped].contains('\n') {
                return None;
            }
            Some(pos + 1 + skipped)
        }
        _ => None,
    }
}

/// The byte offset in `text` (decoded) of 1-based `line` and `column`
/// (counted in characters), as a character index; the end of the text when
/// past it.
pub(super) fn char_index_of(text: &str, line: usize, column: usize) -> usize {
    let mut index = 0;
    let mut current = 1;
    let mut chars = text.chars().peekable();
    while current < line {
        match chars.next() {
            Some('\n') => {
                current += 1;
                index += 1;
            }
            Some(_) => index += 1,
            None => return index,
        }
    }
    let mut col = 1;
    while col < column {
        match chars.next() {
            Some('\n') | None => break,
            Some(_) => {
                index += 1;
                col += 1;
            }
        }
    }
    index
}

/// The byte offset in `raw` of the decoded character `index`, when the
/// walk of `raw` gives back exactly `decoded`.
pub(super) fn source_offset(raw: &str, decoded: &str, index: usize) -> Option<usize> {
    let (chars, end) = char_offsets(raw)?;
    if chars.len() != decoded.chars().count() || !chars.iter().map(|(c, _)| *c).eq(decoded.chars())
    {
        return None;
    }
    Some(chars.get(index).map(|(_, o)| *o).unwrap_or(end))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every string form: the walk decodes to what the toml crate decodes,
    /// and each character's offset points at it (or its escape).
    #[test]
    fn walk_agrees_with_the_toml_parser() {
        let cases = [
            r#""plain""#,
            r#""tab\there \u00e9 \U0001F600 \x41 \e \"q\" \\""#,
            "\"\"\"\nfirst newline trimmed\nsecond\"\"\"",
            "\"\"\"\r\ncrlf\"\"\"",
            "\"\"\"no newline \\\n    joined \\   \n\n  too\"\"\"",
            "\"\"\"ends in quotes\"\"\"\"\"",
            "\"\"\"one \"\" two\"\"\"",
            "'literal \\n stays'",
            "'''\nml literal \\t ''\n'''",
            "'''two quotes at the end'''''",
            "\"\"\"\r\nline1\r\nline2 \\\r\n  x\"\"\"",
            "'''\r\na\r\nb'''",
        ];
        for raw in cases {
            let doc = format!("v = {raw}\n");
            let parsed: toml::Table = toml::from_str(&doc).unwrap();
            let want = parsed["v"].as_str().unwrap();
            let (chars, end) = char_offsets(raw).unwrap_or_else(|| panic!("walk {raw}"));
            let got: String = chars.iter().map(|(c, _)| *c).collect();
            assert_eq!(got, want, "{raw}");
            for (c, o) in &chars {
                let at = &raw[*o..];
                assert!(
                    at.starts_with(*c) || at.starts_with('\\'),
                    "{raw}: {c:?} at {o}"
                );
            }
            assert!(raw[end..].starts_with(&raw[..1]), "{raw}: end {end}");
        }
    }

    #[test]
    fn positions_map_through_escapes_and_the_trimmed_newline() {
        let raw = "\"\"\"\nSELECT ?x\nWHERE { ?x ?p }\"\"\"";
        let decoded = "SELECT ?x\nWHERE { ?x ?p }";
        let i = char_index_of(decoded, 2, 15);
        assert_eq!(decoded[i..].chars().next(), Some('}'));
        let o = source_offset(raw, decoded, i).unwrap();
        assert_eq!(&raw[o..o + 1], "}");
        // An escape before the position shifts the source, not the value.
        let raw = r#""a\tb c""#;
        let o = source_offset(raw, "a\tb c", char_index_of("a\tb c", 1, 5)).unwrap();
        assert_eq!(&raw[o..o + 1], "c");
        // Past the end: the closing quotes.
        let o = source_offset(raw, "a\tb c", 99).unwrap();
        assert_eq!(&raw[o..], "\"");
        // A decoded text that does not match: no position.
        assert_eq!(source_offset(raw, "other", 0), None);
    }

    #[test]
    fn column_past_the_line_stops_at_its_end() {
        assert_eq!(char_index_of("ab\ncd", 1, 9), 2);
        assert_eq!(char_index_of("ab\ncd", 5, 1), 5);
        assert_eq!(char_index_of("", 1, 1), 0);
    }
}
