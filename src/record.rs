//! [`RecordId`]: a container's record id, as it travels from the cursor
//! through fetch, transform and the sink into the checkpoint.
//!
//! The container's ids are strings (up to 50 characters on the reference
//! server; any characters the database accepts), compared in the
//! container's own order. `Display` escapes control characters (see
//! [`crate::text::escape_control`]), so an id printed in a log line or on a
//! terminal cannot forge a line or an escape sequence; [`RecordId::as_str`]
//! is the id itself, for URLs (percent-encoded there) and output columns.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::fmt;

/// A container's record id.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize)]
#[serde(transparent)]
pub struct RecordId(String);

impl RecordId {
    /// Wraps an id.
    pub fn new(id: impl Into<String>) -> Self {
        RecordId(id.into())
    }

    /// The id itself (unescaped).
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The id itself, owned.
    pub fn into_string(self) -> String {
        self.0
    }
}

impl fmt::Display for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&crate::text::escape_control(&self.0))
    }
}

impl fmt::Debug for RecordId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}

impl From<String> for RecordId {
    fn from(s: String) -> Self {
        RecordId(s)
    }
}

impl From<&str> for RecordId {
    fn from(s: &str) -> Self {
        RecordId(s.to_owned())
    }
}

impl AsRef<str> for RecordId {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for RecordId {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq<str> for RecordId {
    fn eq(&self, other: &str) -> bool {
        self.0 == other
    }
}

impl PartialEq<&str> for RecordId {
    fn eq(&self, other: &&str) -> bool {
        self.0 == *other
    }
}

impl PartialEq<String> for RecordId {
    fn eq(&self, other: &String) -> bool {
        &self.0 == other
    }
}

impl PartialEq<RecordId> for str {
    fn eq(&self, other: &RecordId) -> bool {
        self == other.0
    }
}

impl PartialEq<RecordId> for &str {
    fn eq(&self, other: &RecordId) -> bool {
        *self == other.0
    }
}

impl PartialEq<RecordId> for String {
    fn eq(&self, other: &RecordId) -> bool {
        *self == other.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_escapes_and_as_str_does_not() {
        let id = RecordId::new("12\n34\u{1b}[2J");
        assert_eq!(id.to_string(), "12\\n34\\u{1b}[2J");
        assert_eq!(id.as_str(), "12\n34\u{1b}[2J");
        assert_eq!(RecordId::from("7"), "7");
        assert_eq!(
            serde_json::to_string(&RecordId::from("a\"b"))
                .ok()
                .as_deref(),
            Some("\"a\\\"b\"")
        );
    }
}
