//! Rows as text, for comparing engines.

/// Each row of a batch as a JSON array (`null` for null; strings for Utf8
/// columns, numbers for numeric, dates as days and timestamps as µs), for
/// comparing with another engine's rows.
pub fn rows_as_json(batch: &arrow_array::RecordBatch) -> Vec<String> {
    use arrow_array::Array;
    use arrow_array::cast::AsArray;
    use arrow_array::types::{Date32Type, Float64Type, Int64Type, TimestampMicrosecondType};
    use arrow_schema::DataType;
    let cell = |col: &dyn Array, row: usize| -> serde_json::Value {
        if col.is_null(row) {
            return serde_json::Value::Null;
        }
        match col.data_type() {
            DataType::Utf8 => col.as_string::<i32>().value(row).into(),
            DataType::Int64 => col.as_primitive::<Int64Type>().value(row).into(),
            DataType::Float64 => col.as_primitive::<Float64Type>().value(row).into(),
            DataType::Boolean => col.as_boolean().value(row).into(),
            DataType::Date32 => col.as_primitive::<Date32Type>().value(row).into(),
            DataType::Timestamp(..) => col
                .as_primitive::<TimestampMicrosecondType>()
                .value(row)
                .into(),
            other => format!("<{other}>").into(),
        }
    };
    (0..batch.num_rows())
        .map(|row| {
            serde_json::Value::Array(
                batch
                    .columns()
                    .iter()
                    .map(|c| cell(c.as_ref(), row))
                    .collect(),
            )
            .to_string()
        })
        .collect()
}
