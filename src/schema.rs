//! Column types a pipeline may declare in its `[columns]` table.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// The type of one output column. `String` is the default for every
/// variable the pipeline does not mention.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ColumnType {
    /// UTF-8 text (Arrow `Utf8`).
    #[default]
    String,
    /// A calendar date (Arrow `Date32`): `xsd:date` or plain `YYYY-MM-DD`.
    Date,
    /// An instant (Arrow `Timestamp(Microsecond, "UTC")`).
    Timestamp,
    /// A 64-bit integer.
    Int64,
    /// A 64-bit float.
    Float64,
    /// A boolean.
    Bool,
}

impl ColumnType {
    /// Every accepted spelling, for error hints.
    pub const NAMES: [&'static str; 6] =
        ["string", "date", "timestamp", "int64", "float64", "bool"];
}

impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            ColumnType::String => "string",
            ColumnType::Date => "date",
            ColumnType::Timestamp => "timestamp",
            ColumnType::Int64 => "int64",
            ColumnType::Float64 => "float64",
            ColumnType::Bool => "bool",
        })
    }
}

impl FromStr for ColumnType {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ok(match s {
            "string" => ColumnType::String,
            "date" => ColumnType::Date,
            "timestamp" => ColumnType::Timestamp,
            "int64" => ColumnType::Int64,
            "float64" => ColumnType::Float64,
            "bool" => ColumnType::Bool,
            other => return Err(format!("unknown column type `{other}`")),
        })
    }
}
