//! `_errors.csv`: the failed records, for a person with a spreadsheet.
//!
//! RFC 4180 (CRLF, `"` quoting where needed), header
//! `record_id,table,stage,http_status,attempts,message`. Every text cell
//! goes through [`crate::text::csv_cell`]: control characters are escaped
//! (a NUL, an ESC or a newline in a record id or a message cannot break a
//! row or a terminal) and a cell starting with `=`, `+`, `-`, `@`, a tab or
//! a carriage return gets a leading `'`, as OWASP's CSV-injection guidance
//! says, so no spreadsheet evaluates a hostile record id as a formula.

use crate::failure::RecordFailure;
use crate::text::csv_cell;

/// The header line's fields.
pub const ERRORS_HEADER: [&str; 6] = [
    "record_id",
    "table",
    "stage",
    "http_status",
    "attempts",
    "message",
];

fn push_cell(out: &mut String, value: &str) {
    let value = csv_cell(value);
    if value.contains([',', '"', '\r', '\n']) {
        out.push('"');
        out.push_str(&value.replace('"', "\"\""));
        out.push('"');
    } else {
        out.push_str(&value);
    }
}

/// The bytes of `_errors.csv` for `failures`.
pub fn errors_csv(failures: &[RecordFailure]) -> Vec<u8> {
    let mut out = ERRORS_HEADER.join(",");
    out.push_str("\r\n");
    for f in failures {
        push_cell(&mut out, f.record_id.as_str());
        out.push(',');
        push_cell(&mut out, f.table.as_deref().unwrap_or(""));
        out.push(',');
        out.push_str(&f.stage.to_string());
        out.push(',');
        if let Some(s) = f.http_status {
            out.push_str(&s.to_string());
        }
        out.push(',');
        out.push_str(&f.attempts.to_string());
        out.push(',');
        push_cell(&mut out, &f.message);
        out.push_str("\r\n");
    }
    out.into_bytes()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::failure::Stage;

    #[test]
    fn hostile_ids_are_neither_formulas_nor_new_rows() {
        let f = |id: &str, msg: &str| RecordFailure {
            record_id: id.into(),
            table: Some("labs".into()),
            stage: Stage::Fetch,
            http_status: Some(503),
            attempts: 2,
            message: msg.into(),
        };
        let bytes = errors_csv(&[
            f("=cmd|' /C calc'!A0", "boom"),
            f("a\nb\u{0}\u{1b}[2J", "x,\"y\"\nz"),
        ]);
        let text = String::from_utf8(bytes).unwrap_or_default();
        let lines: Vec<&str> = text.split("\r\n").collect();
        assert_eq!(lines.len(), 4, "{text:?}");
        assert_eq!(
            lines[0],
            "record_id,table,stage,http_status,attempts,message"
        );
        assert_eq!(lines[1], "'=cmd|' /C calc'!A0,labs,fetch,503,2,boom");
        assert_eq!(
            lines[2],
            "a\\nb\\u{0}\\u{1b}[2J,labs,fetch,503,2,\"x,\"\"y\"\"\\nz\""
        );
        assert!(!text.contains('\u{1b}') && !text.contains('\u{0}'));
    }
}
