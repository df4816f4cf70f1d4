//! Escaping and formatting for the report: every string that came from
//! the data goes through [`esc`] (control characters made visible, then
//! HTML-escaped), so a record id or a server message can neither break the
//! markup nor forge a line.

use std::fmt::Write as _;

/// `s` safe for HTML text and for a double- or single-quoted attribute:
/// control characters escaped ([`crate::text::escape_control`]), then `&`,
/// `<`, `>`, `"` and `'` as entities.
pub fn esc(s: &str) -> String {
    let s = crate::text::escape_control(s);
    let mut out = String::with_capacity(s.len() + 8);
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// [`esc`] of at most `max` characters of `s`, with `…` where it was cut.
pub fn esc_short(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        return esc(s);
    }
    let cut: String = s.chars().take(max.saturating_sub(1)).collect();
    format!("{}…", esc(&cut))
}

/// A count with thousands separators: `12,345`.
pub fn int(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// A number with about three significant digits: `0.042`, `3.14`, `271`,
/// `12,345`.
pub fn num(x: f64) -> String {
    if !x.is_finite() {
        return "–".into();
    }
    let a = x.abs();
    if a == 0.0 {
        return "0".into();
    }
    if a >= 1000.0 {
        let sign = if x < 0.0 { "-" } else { "" };
        format!("{sign}{}", int(a.round() as u64))
    } else if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else if a >= 1.0 {
        format!("{x:.2}")
    } else {
        format!("{x:.3}")
    }
}

/// Seconds for a person: `850 ms`, `12.3 s`, `4 min 05 s`, `2 h 03 min`.
pub fn duration(s: f64) -> String {
    if !s.is_finite() || s < 0.0 {
        return "–".into();
    }
    if s < 1.0 {
        return format!("{:.0} ms", s * 1e3);
    }
    if s < 60.0 {
        return format!("{s:.1} s");
    }
    let total = s.round() as u64;
    if total < 3600 {
        return format!("{} min {:02} s", total / 60, total % 60);
    }
    format!("{} h {:02} min", total / 3600, (total % 3600) / 60)
}

/// Bytes for a person: `512 B`, `1.5 KiB`, `3.2 MiB`, `1.1 GiB`.
pub fn bytes(n: u64) -> String {
    const UNITS: [&str; 4] = ["KiB", "MiB", "GiB", "TiB"];
    if n < 1024 {
        return format!("{n} B");
    }
    let mut v = n as f64 / 1024.0;
    let mut unit = 0;
    while v >= 1024.0 && unit + 1 < UNITS.len() {
        v /= 1024.0;
        unit += 1;
    }
    format!("{v:.1} {}", UNITS[unit])
}

/// A `<table>` from a header and rows of already-escaped cells; a cell
/// whose text starts with a digit is right-aligned.
pub fn table(class: &str, head: &[&str], rows: &[Vec<String>]) -> String {
    let mut out = format!("<table class=\"{class}\"><thead><tr>");
    for h in head {
        let _ = write!(out, "<th>{h}</th>");
    }
    out.push_str("</tr></thead><tbody>");
    for row in rows {
        out.push_str("<tr>");
        for cell in row {
            let numeric = cell.chars().next().is_some_and(|c| c.is_ascii_digit());
            if numeric {
                let _ = write!(out, "<td class=\"n\">{cell}</td>");
            } else {
                let _ = write!(out, "<td>{cell}</td>");
            }
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

/// Key numbers as a row of tiles: `(label, value)`, both escaped already.
pub fn tiles(items: &[(&str, String)]) -> String {
    let mut out = String::from("<div class=\"tiles\">");
    for (label, value) in items {
        let _ = write!(
            out,
            "<div class=\"tile\"><div class=\"v\">{value}</div><div class=\"k\">{label}</div></div>"
        );
    }
    out.push_str("</div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_quotes_and_control_characters() {
        assert_eq!(
            esc("<script>alert('x')</script> & \"y\""),
            "&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt; &amp; &quot;y&quot;"
        );
        assert_eq!(esc("a\nb\u{1b}[2J"), "a\\nb\\u{1b}[2J");
        assert_eq!(esc_short("abcdef", 4), "abc…");
        assert_eq!(esc_short("a<b", 4), "a&lt;b");
    }

    #[test]
    fn numbers_durations_and_sizes() {
        assert_eq!(int(0), "0");
        assert_eq!(int(1234567), "1,234,567");
        assert_eq!(num(0.04213), "0.042");
        assert_eq!(num(4.56789), "4.57");
        assert_eq!(num(271.4), "271");
        assert_eq!(num(12345.6), "12,346");
        assert_eq!(duration(0.25), "250 ms");
        assert_eq!(duration(12.34), "12.3 s");
        assert_eq!(duration(245.0), "4 min 05 s");
        assert_eq!(duration(7380.0), "2 h 03 min");
        assert_eq!(bytes(512), "512 B");
        assert_eq!(bytes(1536), "1.5 KiB");
        assert_eq!(bytes(3 * 1024 * 1024), "3.0 MiB");
    }
}
