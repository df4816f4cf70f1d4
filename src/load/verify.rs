//! Checking an output against what smartsweep recorded about it.
//!
//! - [`check_part`]: one committed part is present, of its size and
//!   SHA-256, opens with the Parquet or CSV reader, and holds the rows the
//!   checkpoint or manifest says. A resume runs it on every part it keeps
//!   ([`super::Output`]), `smartsweep verify` on every part of an output.
//! - [`read_state`]: what an output is: finished (its manifest) or
//!   unfinished (its checkpoint), or not a smartsweep output at all.
//! - [`verify`]: every part of an output, each table's schema (the one its
//!   pipeline implies when the manifest says, else the first part's;
//!   `record_id` first), the row totals, and files named like parts that
//!   nothing lists.
//!
//! Sharded outputs (`_plan.json`, `_shards/<i>/...`) are checked once their
//! `commit` step has written the root manifest.

use super::manifest::Manifest;
use super::names::{
    CHECKPOINT_FILE, ERRORS_FILE, INPROGRESS_SUFFIX, MANIFEST_FILE, PLAN_FILE, SUCCESS_FILE,
    parse_part_name,
};
use super::store::{Listed, Store};
use super::{Format, LoadError};
use crate::checkpoint::{Checkpoint, CommittedPart};
use crate::schema::ColumnType;
use crate::transform::{Projection, RECORD_ID_COLUMN};
use arrow_schema::{DataType, SchemaRef};
use bytes::Bytes;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// What is wrong with one committed part.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PartProblem {
    /// No file under its name.
    Missing,
    /// Another size than committed (truncated, appended to).
    Size {
        /// Bytes found.
        found: u64,
        /// Bytes committed.
        expected: u64,
    },
    /// The bytes changed since the commit.
    Changed {
        /// The SHA-256 found.
        found: String,
        /// The SHA-256 committed.
        expected: String,
    },
    /// The reader refuses it (or the store could not read it).
    Unreadable(String),
    /// It reads, but holds another number of rows than committed.
    Rows {
        /// Rows in the file.
        found: u64,
        /// Rows committed.
        expected: u64,
    },
}

impl fmt::Display for PartProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PartProblem::Missing => f.write_str("missing"),
            PartProblem::Size { found, expected } => {
                write!(f, "{found} bytes, expected {expected}")
            }
            PartProblem::Changed { found, expected } => {
                write!(f, "changed (sha256 {found}, expected {expected})")
            }
            PartProblem::Unreadable(m) => write!(f, "unreadable ({m})"),
            PartProblem::Rows { found, expected } => {
                write!(
                    f,
                    "inconsistent ({found} rows in the file, {expected} committed)"
                )
            }
        }
    }
}

/// What a sound part holds.
#[derive(Debug, Clone)]
pub struct PartFacts {
    /// Data rows.
    pub rows: u64,
    /// Its columns: Parquet's stored Arrow schema, or a CSV header (every
    /// column `Utf8`).
    pub schema: SchemaRef,
}

/// The format of a part file, from its name (`None`: not a part name).
pub fn part_format(file: &str) -> Option<Format> {
    let name = file.rsplit('/').next().unwrap_or(file);
    parse_part_name(name, &["parquet", "csv"])?;
    let name = name.strip_suffix(INPROGRESS_SUFFIX).unwrap_or(name);
    if name.ends_with(".csv") {
        Some(Format::Csv)
    } else {
        Some(Format::Parquet)
    }
}

/// Checks one committed part in order: present, its size, its SHA-256,
/// readable to the end by the reader of its format, its row count. The
/// file is read once.
pub fn check_part(store: &dyn Store, part: &CommittedPart) -> Result<PartFacts, PartProblem> {
    let bytes = match store.read(&part.file) {
        Ok(Some(b)) => b,
        Ok(None) => return Err(PartProblem::Missing),
        Err(e) => return Err(PartProblem::Unreadable(first_line(&e.to_string()))),
    };
    if bytes.len() as u64 != part.bytes {
        return Err(PartProblem::Size {
            found: bytes.len() as u64,
            expected: part.bytes,
        });
    }
    let digest = hex(&Sha256::digest(&bytes));
    if digest != part.sha256 {
        return Err(PartProblem::Changed {
            found: digest,
            expected: part.sha256.clone(),
        });
    }
    let format = part_format(&part.file).unwrap_or_default();
    let facts = read_facts(bytes, format, &part.file).map_err(PartProblem::Unreadable)?;
    if facts.rows != part.rows {
        return Err(PartProblem::Rows {
            found: facts.rows,
            expected: part.rows,
        });
    }
    Ok(facts)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn first_line(s: &str) -> String {
    crate::text::escape_control(s.lines().next().unwrap_or(s)).into_owned()
}

/// Decodes every row of a part: its schema and row count.
fn read_facts(bytes: Vec<u8>, format: Format, path: &str) -> Result<PartFacts, String> {
    match format.part_format() {
        Format::Csv => {
            let header_end = bytes.iter().position(|&b| b == b'\n');
            let Some(header_end) = header_end else {
                return Err("no CSV header line".into());
            };
            let header = std::str::from_utf8(&bytes[..header_end])
                .map_err(|_| "the CSV header is not UTF-8".to_owned())?;
            let fields: Vec<arrow_schema::Field> = header
                .trim_end_matches(['\r', '\n'])
                .split(',')
                .map(|name| arrow_schema::Field::new(name.trim_matches('"'), DataType::Utf8, true))
                .collect();
            let schema = std::sync::Arc::new(arrow_schema::Schema::new(fields));
            let batches = super::read::decode_part(bytes, Format::Csv, path)
                .map_err(|e| first_line(&e.to_string()))?;
            let rows = batches.iter().map(|b| b.num_rows() as u64).sum();
            Ok(PartFacts { rows, schema })
        }
        _ => {
            let builder = ParquetRecordBatchReaderBuilder::try_new(Bytes::from(bytes))
                .map_err(|e| format!("not a Parquet file: {}", first_line(&e.to_string())))?;
            let schema = builder.schema().clone();
            let footer_rows = builder.metadata().file_metadata().num_rows();
            let reader = builder
                .build()
                .map_err(|e| format!("not a Parquet file: {}", first_line(&e.to_string())))?;
            let mut rows = 0u64;
            for batch in reader {
                let batch =
                    batch.map_err(|e| format!("bad data: {}", first_line(&e.to_string())))?;
                rows += batch.num_rows() as u64;
            }
            if i64::try_from(rows).ok() != Some(footer_rows) {
                return Err(format!(
                    "its footer says {footer_rows} rows, its pages hold {rows}"
                ));
            }
            Ok(PartFacts { rows, schema })
        }
    }
}

/// What an output is.
#[derive(Debug, Clone)]
pub enum State {
    /// A finished run: its `_manifest.json` (with `_SUCCESS`, or without it
    /// when the marker was lost).
    Finished(Box<Manifest>),
    /// A running, interrupted or aborted run: its `_checkpoint.json`.
    Unfinished(Box<Checkpoint>),
}

/// Why an output could not be looked at.
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// Not a smartsweep output (exit 2).
    #[error("{message}\nhint: {hint}")]
    NotAnOutput {
        /// What was found instead.
        message: String,
        /// What to give instead.
        hint: String,
    },
    /// Its manifest or checkpoint cannot be read (exit 1).
    #[error("{0}")]
    Control(String),
    /// The store failed.
    #[error(transparent)]
    Load(#[from] LoadError),
}

/// The hint every "not an output" error ends with.
pub const OUTPUT_HINT: &str = "give the directory (or URL) a `smartsweep run` wrote: its --output, which holds `_manifest.json` when finished or `_checkpoint.json` while unfinished";

/// Reads what `store` holds: a finished output's manifest (when `_SUCCESS`
/// is there, or no checkpoint is), else an unfinished run's checkpoint.
pub fn read_state(store: &dyn Store, listed: &[Listed]) -> Result<State, VerifyError> {
    let has = |name: &str| listed.iter().any(|l| l.path == name);
    let manifest = || -> Result<State, VerifyError> {
        let bytes = store.read(MANIFEST_FILE)?.unwrap_or_default();
        let m = Manifest::from_json(&bytes).map_err(|e| {
            VerifyError::Control(format!(
                "`{}` is not a smartsweep manifest: {}",
                store.describe_path(MANIFEST_FILE),
                first_line(&e)
            ))
        })?;
        Ok(State::Finished(Box::new(m)))
    };
    if has(MANIFEST_FILE) && (has(SUCCESS_FILE) || !has(CHECKPOINT_FILE)) {
        return manifest();
    }
    if has(CHECKPOINT_FILE) {
        let bytes = store.read(CHECKPOINT_FILE)?.unwrap_or_default();
        let cp = Checkpoint::from_json(&bytes).map_err(|e| {
            VerifyError::Control(format!(
                "`{}` is unreadable: {}",
                store.describe_path(CHECKPOINT_FILE),
                first_line(&e.to_string())
            ))
        })?;
        return Ok(State::Unfinished(Box::new(cp)));
    }
    let message = if has(PLAN_FILE) {
        format!(
            "`{}` is a sharded output with no root `{MANIFEST_FILE}` yet; verify, status and report read a sharded output once its `commit` step has written it",
            store.describe()
        )
    } else if listed.is_empty() {
        format!(
            "`{}` is not a smartsweep output: it is empty or does not exist",
            store.describe()
        )
    } else {
        format!(
            "`{}` is not a smartsweep output: it has no `{MANIFEST_FILE}` and no `{CHECKPOINT_FILE}` (found `{}`)",
            store.describe(),
            first_line(&listed[0].path)
        )
    };
    Err(VerifyError::NotAnOutput {
        message,
        hint: OUTPUT_HINT.to_owned(),
    })
}

/// One thing wrong with an output.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    /// The file, relative to the output root.
    pub file: String,
    /// What is wrong, for a person.
    pub message: String,
}

/// What [`verify`] found.
#[derive(Debug, Clone, Default)]
pub struct Verification {
    /// True for a finished output.
    pub finished: bool,
    /// Every problem, in file order.
    pub problems: Vec<Problem>,
    /// Things worth saying that are not problems (an unfinished run's
    /// uncommitted parts, which a resume removes).
    pub notes: Vec<String>,
    /// Committed parts checked.
    pub parts: usize,
    /// Rows in the sound parts.
    pub rows: u64,
    /// Bytes of the committed parts.
    pub bytes: u64,
}

impl Verification {
    fn problem(&mut self, file: &str, message: impl Into<String>) {
        self.problems.push(Problem {
            file: first_line(file),
            message: message.into(),
        });
    }
}

/// One table as recorded: its name, directory, committed parts, rows, and
/// the schema its pipeline implies (when known).
struct TableView<'a> {
    name: &'a str,
    dir: String,
    parts: Vec<&'a CommittedPart>,
    rows: u64,
    expected: Option<SchemaRef>,
}

fn tables_of(state: &State) -> Vec<TableView<'_>> {
    match state {
        State::Finished(m) => m
            .tables
            .iter()
            .map(|(name, t)| {
                let info = m.pipeline.tables.iter().find(|i| &i.name == name);
                TableView {
                    name,
                    dir: t.dir.clone(),
                    parts: t.parts.iter().collect(),
                    rows: t.rows,
                    expected: info.and_then(|i| implied_schema(i, &m.pipeline.partition_by)),
                }
            })
            .collect(),
        State::Unfinished(cp) => cp
            .tables
            .iter()
            .map(|(name, t)| TableView {
                name,
                dir: t
                    .parts
                    .first()
                    .map_or_else(|| name.clone(), |p| table_dir_of(&p.file)),
                parts: t.parts.iter().collect(),
                rows: t.rows,
                expected: None,
            })
            .collect(),
    }
}

/// The Arrow schema a table's query and column types imply (partition
/// columns, which live in directory names, left out).
fn implied_schema(info: &super::manifest::TableInfo, partition_by: &[String]) -> Option<SchemaRef> {
    let columns: BTreeMap<String, ColumnType> = info
        .columns
        .iter()
        .map(|(k, v)| v.parse().map(|t| (k.clone(), t)))
        .collect::<Result<_, _>>()
        .ok()?;
    let schema = Projection::prepare(&info.sparql, &columns).ok()?.schema();
    if partition_by.is_empty() {
        return Some(schema);
    }
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .filter(|f| !partition_by.contains(f.name()))
        .cloned()
        .collect();
    Some(std::sync::Arc::new(arrow_schema::Schema::new(fields)))
}

/// A part's table directory: its directory without Hive `col=value`
/// segments at the end.
fn table_dir_of(file: &str) -> String {
    let dir = file.rsplit_once('/').map_or("", |(d, _)| d);
    let mut segs: Vec<&str> = dir.split('/').filter(|s| !s.is_empty()).collect();
    while segs.last().is_some_and(|s| s.contains('=')) {
        segs.pop();
    }
    segs.join("/")
}

/// Checks a whole output. `Err` only when it is not an output or the store
/// cannot be listed; everything wrong with the output itself is a
/// [`Problem`].
pub fn verify(store: &dyn Store) -> Result<Verification, VerifyError> {
    let listed = store.list()?;
    let state = read_state(store, &listed)?;
    let mut v = Verification {
        finished: matches!(state, State::Finished(_)),
        ..Verification::default()
    };
    let tables = tables_of(&state);
    for table in &tables {
        check_table(store, table, &mut v);
    }
    check_totals(&state, &tables, &mut v);
    check_unlisted(&state, &tables, &listed, &mut v);
    if let State::Finished(m) = &state {
        let has = |name: &str| listed.iter().any(|l| l.path == name);
        if !has(SUCCESS_FILE) {
            v.problem(
                SUCCESS_FILE,
                "missing: the output has a manifest but no `_SUCCESS` marker",
            );
        }
        if m.failed > 0 && !has(ERRORS_FILE) {
            v.problem(
                ERRORS_FILE,
                format!("missing: the manifest lists {} failure(s)", m.failed),
            );
        }
    }
    v.problems.sort_by(|a, b| a.file.cmp(&b.file));
    Ok(v)
}

/// Every part of one table, and their schemas.
fn check_table(store: &dyn Store, table: &TableView<'_>, v: &mut Verification) {
    let mut reference: Option<(String, SchemaRef)> = table.expected.clone().map(|s| {
        (
            format!("the schema the pipeline of table `{}` implies", table.name),
            s,
        )
    });
    for part in &table.parts {
        v.parts += 1;
        v.bytes += part.bytes;
        let facts = match check_part(store, part) {
            Ok(f) => f,
            Err(p) => {
                v.problem(&part.file, p.to_string());
                continue;
            }
        };
        v.rows += facts.rows;
        if let Some(message) = schema_problem(&facts.schema, reference.as_ref(), &part.file) {
            v.problem(&part.file, message);
        } else if reference.is_none() {
            reference = Some((format!("`{}`", first_line(&part.file)), facts.schema));
        }
    }
}

/// What is wrong with `found` (a part's schema): `record_id` not first, or
/// columns other than the reference's.
fn schema_problem(
    found: &SchemaRef,
    reference: Option<&(String, SchemaRef)>,
    file: &str,
) -> Option<String> {
    let first = found.fields().first();
    if first.is_none_or(|f| f.name() != RECORD_ID_COLUMN) {
        return Some(format!(
            "schema: the first column is not `{RECORD_ID_COLUMN}`"
        ));
    }
    let (what, expected) = reference?;
    let csv = part_format(file) == Some(Format::Csv);
    let describe = |s: &SchemaRef| -> Vec<String> {
        s.fields()
            .iter()
            .map(|f| {
                if csv {
                    first_line(f.name())
                } else {
                    format!(
                        "{} {}{}",
                        first_line(f.name()),
                        type_name(f.data_type()),
                        if f.is_nullable() { "" } else { " not null" }
                    )
                }
            })
            .collect()
    };
    let (a, b) = (describe(found), describe(expected));
    if a == b {
        return None;
    }
    Some(format!(
        "schema differs from {what}: [{}], expected [{}]",
        a.join(", "),
        b.join(", ")
    ))
}

fn type_name(t: &DataType) -> String {
    match t {
        DataType::Utf8 => "string".into(),
        DataType::Date32 => "date".into(),
        DataType::Int64 => "int64".into(),
        DataType::Float64 => "float64".into(),
        DataType::Boolean => "bool".into(),
        other => other.to_string(),
    }
}

/// The recorded totals against the parts.
fn check_totals(state: &State, tables: &[TableView<'_>], v: &mut Verification) {
    let control = match state {
        State::Finished(_) => MANIFEST_FILE,
        State::Unfinished(_) => CHECKPOINT_FILE,
    };
    for t in tables {
        let sum: u64 = t.parts.iter().map(|p| p.rows).sum();
        if sum != t.rows {
            v.problem(
                control,
                format!(
                    "table `{}`: {} rows recorded, its parts list {sum}",
                    first_line(t.name),
                    t.rows
                ),
            );
        }
    }
    if let State::Finished(m) = state {
        let rows: u64 = tables.iter().map(|t| t.rows).sum();
        if rows != m.rows {
            v.problem(
                control,
                format!("{} rows recorded, its tables hold {rows}", m.rows),
            );
        }
        let listed: BTreeSet<&str> = tables
            .iter()
            .flat_map(|t| t.parts.iter().map(|p| p.file.as_str()))
            .collect();
        let all: BTreeSet<&str> = m.parts.iter().map(|p| p.file.as_str()).collect();
        if listed != all {
            v.problem(
                control,
                "its `parts` list and its tables' parts differ".to_owned(),
            );
        }
    }
}

/// Files named like parts, in a table's directory, that nothing lists.
fn check_unlisted(
    state: &State,
    tables: &[TableView<'_>],
    listed: &[Listed],
    v: &mut Verification,
) {
    let committed: BTreeSet<&str> = tables
        .iter()
        .flat_map(|t| t.parts.iter().map(|p| p.file.as_str()))
        .collect();
    let dirs: BTreeSet<&str> = tables.iter().map(|t| t.dir.as_str()).collect();
    for l in listed {
        let name = l.path.rsplit('/').next().unwrap_or(&l.path);
        let Some((chain, index)) = parse_part_name(name, &["parquet", "csv"]) else {
            continue;
        };
        if committed.contains(l.path.as_str()) || !dirs.contains(table_dir_of(&l.path).as_str()) {
            continue;
        }
        let inprogress = name.ends_with(INPROGRESS_SUFFIX);
        match state {
            State::Unfinished(cp) => {
                let after = cp
                    .chains
                    .get(chain.unwrap_or(0) as usize)
                    .is_some_and(|c| index >= c.next_part);
                if inprogress || after {
                    v.notes.push(format!(
                        "`{}` is not committed yet (being written, or left by an interrupted run; a resume removes it)",
                        first_line(&l.path)
                    ));
                    continue;
                }
                v.problem(
                    &l.path,
                    "extra: named like a part, but the checkpoint does not list it",
                );
            }
            State::Finished(_) if inprogress => {
                v.problem(&l.path, "extra: an unfinished part in a finished output");
            }
            State::Finished(_) => {
                v.problem(
                    &l.path,
                    "extra: named like a part, but the manifest does not list it",
                );
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::load::{LocalStore, PartWriter, WriterOptions};
    use arrow_array::{RecordBatch, StringArray};
    use arrow_schema::{Field, Schema};
    use std::sync::Arc;

    /// Writes a part of `rows` rows with columns `record_id` and `col`.
    fn write_part(store: &LocalStore, path: &str, col: &str, rows: usize) -> CommittedPart {
        let schema = Arc::new(Schema::new(vec![
            Field::new(RECORD_ID_COLUMN, DataType::Utf8, false),
            Field::new(col, DataType::Utf8, true),
        ]));
        let ids: Vec<String> = (0..rows).map(|i| format!("r{i}")).collect();
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(StringArray::from(ids.clone())),
                Arc::new(StringArray::from(ids)),
            ],
        )
        .unwrap();
        let sink = store.create_part(path).unwrap();
        let mut w =
            PartWriter::new(path.to_owned(), sink, schema, &WriterOptions::default()).unwrap();
        w.write(&batch).unwrap();
        w.finish().unwrap()
    }

    #[test]
    fn a_multi_table_output_is_checked_per_table_directory() {
        let tmp = tempfile::tempdir().unwrap();
        let store = LocalStore::new(tmp.path());
        let mut m = crate::report::tests::manifest();
        // `medications` has a pipeline (`SELECT ?x`): its parts must be
        // `record_id, x`; `problems` has none: its parts must agree.
        let meds = write_part(&store, "medications/part-00000.parquet", "x", 30);
        let probs = write_part(&store, "problems/part-00000.parquet", "name", 12);
        let odd = write_part(&store, "problems/part-00001.parquet", "other", 0);
        m.tables.get_mut("medications").unwrap().parts = vec![meds.clone()];
        let p = m.tables.get_mut("problems").unwrap();
        p.parts = vec![probs.clone(), odd.clone()];
        m.parts = vec![meds, probs, odd];
        store.put(MANIFEST_FILE, &m.to_json().unwrap()).unwrap();
        store.put(SUCCESS_FILE, b"").unwrap();
        store.put(ERRORS_FILE, b"x").unwrap();
        write_part(&store, "problems/part-00009.parquet", "name", 1);
        write_part(&store, "elsewhere/part-00001.parquet", "name", 1);

        let v = verify(&store).unwrap();
        assert!(v.finished);
        assert_eq!(v.parts, 3);
        assert_eq!(v.rows, 42);
        let files: Vec<&str> = v.problems.iter().map(|p| p.file.as_str()).collect();
        assert_eq!(
            files,
            ["problems/part-00001.parquet", "problems/part-00009.parquet"],
            "{:?}",
            v.problems
        );
        assert!(
            v.problems[0]
                .message
                .contains("schema differs from `problems/part-00000.parquet`")
        );
        assert!(v.problems[1].message.starts_with("extra"));
    }

    #[test]
    fn part_formats_and_table_dirs() {
        assert_eq!(part_format("part-00001.csv"), Some(Format::Csv));
        assert_eq!(
            part_format("t/part-00001-00002.parquet"),
            Some(Format::Parquet)
        );
        assert_eq!(part_format("t/notes.txt"), None);
        assert_eq!(table_dir_of("part-00000.parquet"), "");
        assert_eq!(table_dir_of("labs/part-00000.parquet"), "labs");
        assert_eq!(table_dir_of("labs/year=2020/part-00000.parquet"), "labs");
        assert_eq!(table_dir_of("year=2020/part-00000.parquet"), "");
    }

    #[test]
    fn problems_read_as_sentences() {
        assert_eq!(PartProblem::Missing.to_string(), "missing");
        assert_eq!(
            PartProblem::Size {
                found: 3,
                expected: 4
            }
            .to_string(),
            "3 bytes, expected 4"
        );
        let rows = PartProblem::Rows {
            found: 1,
            expected: 2,
        };
        assert!(rows.to_string().contains("1 rows in the file, 2 committed"));
    }
}
