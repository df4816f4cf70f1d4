//! Text that came from outside (a container's answer, a record id, a title)
//! on its way to a person: bounded and escaped.
//!
//! - [`excerpt`]: at most [`EXCERPT_BYTES`] of a body, around a position,
//!   with control characters escaped: what an error message may quote of a
//!   server's answer, however large or hostile the answer.
//! - [`escape_control`]: every control character (C0, DEL, C1, and the
//!   Unicode line and paragraph separators) as a visible escape, so a record
//!   id or a title cannot forge a log line, move the cursor or retitle a
//!   terminal.
//! - [`csv_cell`]: a value made safe for a spreadsheet: control characters
//!   escaped and a leading formula character neutralised (OWASP's CSV
//!   injection guidance: prefix `'` to a cell starting with `=`, `+`, `-`,
//!   `@`, a tab or a carriage return).

use std::borrow::Cow;
use std::fmt::Write as _;

/// The most bytes of a server's answer an error message quotes.
pub const EXCERPT_BYTES: usize = 240;

/// True for the characters [`escape_control`] rewrites.
fn is_control(c: char) -> bool {
    c.is_control() || c == '\u{2028}' || c == '\u{2029}'
}

/// `s` with every control character written as an escape (`\n`, `\t`, `\r`,
/// `\u{1b}`, ...) and backslashes left as they are. Borrowed when there is
/// nothing to escape, which is the common case.
pub fn escape_control(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_control) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if is_control(c) => {
                let _ = write!(out, "\\u{{{:x}}}", u32::from(c));
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// A short, escaped excerpt of `body` around byte offset `at` (the start
/// when `None`): at most [`EXCERPT_BYTES`] bytes of it, cut on character
/// boundaries, invalid UTF-8 replaced, control characters escaped, with `…`
/// where it was cut. Never longer than a few hundred characters, whatever
/// `body` is.
pub fn excerpt(body: &[u8], at: Option<usize>) -> String {
    let at = at.unwrap_or(0).min(body.len());
    let half = EXCERPT_BYTES / 2;
    let mut start = if body.len() <= EXCERPT_BYTES {
        0
    } else {
        at.saturating_sub(half).min(body.len() - EXCERPT_BYTES)
    };
    let mut end = (start + EXCERPT_BYTES).min(body.len());
    // Move inward off UTF-8 continuation bytes so no character is split.
    while start < end && start > 0 && (body[start] & 0xC0) == 0x80 {
        start += 1;
    }
    while end > start && end < body.len() && (body[end] & 0xC0) == 0x80 {
        end -= 1;
    }
    let text = String::from_utf8_lossy(&body[start..end]);
    let mut out = String::with_capacity(EXCERPT_BYTES + 16);
    if start > 0 {
        out.push('…');
    }
    out.push_str(&escape_control(&text));
    if end < body.len() {
        out.push('…');
    }
    out
}

/// `s` made safe as a spreadsheet cell: control characters escaped (see
/// [`escape_control`]) and, when it starts with `=`, `+`, `-`, `@`, a tab or
/// a carriage return, prefixed with `'` so that no spreadsheet evaluates it.
pub fn csv_cell(s: &str) -> Cow<'_, str> {
    let formula = matches!(
        s.as_bytes().first(),
        Some(b'=' | b'+' | b'-' | b'@' | b'\t' | b'\r')
    );
    match (formula, escape_control(s)) {
        (false, text) => text,
        (true, text) => Cow::Owned(format!("'{text}")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_characters_are_escaped() {
        assert!(matches!(escape_control("plain id 42"), Cow::Borrowed(_)));
        assert_eq!(escape_control("a\nb\r\tc"), "a\\nb\\r\\tc");
        assert_eq!(
            escape_control("\u{1b}]0;pwned\u{7}"),
            "\\u{1b}]0;pwned\\u{7}"
        );
        assert_eq!(
            escape_control("x\u{0}y\u{85}z\u{2028}"),
            "x\\u{0}y\\u{85}z\\u{2028}"
        );
    }

    #[test]
    fn excerpts_are_bounded_and_cut_on_characters() {
        let big = "é".repeat(5_000_000);
        let e = excerpt(big.as_bytes(), None);
        assert!(e.len() <= EXCERPT_BYTES + 8, "{}", e.len());
        assert!(e.ends_with('…'));
        assert!(!e.contains('\u{fffd}'));
        let e = excerpt(big.as_bytes(), Some(big.len() / 2));
        assert!(e.starts_with('…') && e.ends_with('…'));
        assert_eq!(excerpt(b"<html>\n<body>", None), "<html>\\n<body>");
        assert_eq!(excerpt(b"", Some(10)), "");
        let e = excerpt(b"\xff\xfe bad", None);
        assert!(e.contains('\u{fffd}'));
    }

    #[test]
    fn csv_cells_neutralise_formulas() {
        assert_eq!(csv_cell("=cmd|' /C calc'!A0"), "'=cmd|' /C calc'!A0");
        assert_eq!(csv_cell("@SUM(1)"), "'@SUM(1)");
        assert_eq!(csv_cell("-1"), "'-1");
        assert_eq!(csv_cell("\tx"), "'\\tx");
        assert_eq!(csv_cell("12345"), "12345");
        assert_eq!(csv_cell("a\u{0}b"), "a\\u{0}b");
    }
}
