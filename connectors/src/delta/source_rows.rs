//! Rows of a data file as the Delta source emits them: the table's columns in its order and
//! types, partition columns filled from the `add` action's partition values, and columns
//! an older file lacks (added to the table later) as nulls.

use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef, StringArray};
use arrow::datatypes::{Field, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use weir_lake::schema::cast_exact;

use super::source_log::DataFile;
use crate::error::{ConnectorError, Result};

/// Where rows come from, for messages.
pub(super) struct Origin<'a> {
    pub(super) table: &'a str,
    pub(super) version: u64,
    pub(super) file: &'a DataFile,
}

impl Origin<'_> {
    /// An error about these rows, naming the file, the table and the version.
    pub(super) fn error(&self, what: String) -> ConnectorError {
        ConnectorError::Delta(format!(
            "file {} of table {} (version {}): {what}",
            self.file.path, self.table, self.version
        ))
    }
}

/// `batch` (read from `origin`'s file) laid out as `schema`.
pub(super) fn table_rows(
    batch: &RecordBatch,
    schema: &SchemaRef,
    partition_columns: &[String],
    origin: &Origin<'_>,
) -> Result<RecordBatch> {
    let rows = batch.num_rows();
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let column = if partition_columns.contains(field.name()) {
                partition_column(field, rows, origin)?
            } else {
                match batch.column_by_name(field.name()) {
                    Some(column) => column.clone(),
                    None if field.is_nullable() => new_null_array(field.data_type(), rows),
                    None => return Err(origin.error(format!("no column '{}'", field.name()))),
                }
            };
            cast_exact(&column, field.data_type()).map_err(|e| {
                origin.error(format!(
                    "column '{}' as {}: {e}",
                    field.name(),
                    field.data_type()
                ))
            })
        })
        .collect::<Result<Vec<ArrayRef>>>()?;
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(rows)),
    )
    .map_err(|e| origin.error(e.to_string()))
}

/// The partition column `field` of `rows` rows: the file's partition value (text, cast to
/// the column's type), or nulls when the value is null or missing.
fn partition_column(field: &Field, rows: usize, origin: &Origin<'_>) -> Result<ArrayRef> {
    match origin.file.partition_values.get(field.name()) {
        Some(Some(value)) => Ok(Arc::new(StringArray::from_iter_values(
            std::iter::repeat_n(value.as_str(), rows),
        ))),
        _ if field.is_nullable() => Ok(new_null_array(field.data_type(), rows)),
        _ => Err(origin.error(format!("no value for partition column '{}'", field.name()))),
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use arrow::array::{Int32Array, Int64Array};
    use arrow::datatypes::{DataType, Schema};
    use arrow::util::pretty::pretty_format_batches;

    use super::*;

    #[test]
    fn partition_values_fill_columns_and_missing_columns_are_null() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("day", DataType::Date32, true),
            Field::new("level", DataType::Int32, true),
            Field::new("note", DataType::Utf8, true),
        ]));
        let file_schema = Arc::new(Schema::new(vec![Field::new("id", DataType::Int32, false)]));
        let batch = RecordBatch::try_new(file_schema, vec![Arc::new(Int32Array::from(vec![1, 2]))])
            .unwrap();
        let file = DataFile {
            path: "day=2024-05-01/level=3/part-0.parquet".into(),
            partition_values: HashMap::from([
                ("day".to_string(), Some("2024-05-01".to_string())),
                ("level".to_string(), Some("3".to_string())),
            ]),
        };
        let origin = Origin {
            table: "lake/t",
            version: 2,
            file: &file,
        };
        let partitions = ["day".to_string(), "level".to_string()];
        let rows = table_rows(&batch, &schema, &partitions, &origin).unwrap();
        assert_eq!(
            pretty_format_batches(&[rows]).unwrap().to_string(),
            "+----+------------+-------+------+\n\
             | id | day        | level | note |\n\
             +----+------------+-------+------+\n\
             | 1  | 2024-05-01 | 3     |      |\n\
             | 2  | 2024-05-01 | 3     |      |\n\
             +----+------------+-------+------+"
        );

        let bad = DataFile {
            partition_values: HashMap::from([("level".to_string(), Some("x".to_string()))]),
            ..file.clone()
        };
        let origin = Origin {
            file: &bad,
            ..origin
        };
        let error = table_rows(&batch, &schema, &partitions, &origin)
            .unwrap_err()
            .to_string();
        assert!(
            error.starts_with(
                "delta: file day=2024-05-01/level=3/part-0.parquet of table lake/t (version 2): column 'level' as Int32: "
            ),
            "{error}"
        );
        let wide = Arc::new(Schema::new(vec![Field::new("id", DataType::Int64, false)]));
        let none = RecordBatch::try_new(
            Arc::new(Schema::new(vec![Field::new(
                "other",
                DataType::Int64,
                false,
            )])),
            vec![Arc::new(Int64Array::from(vec![1]))],
        )
        .unwrap();
        let error = table_rows(&none, &wide, &[], &origin)
            .unwrap_err()
            .to_string();
        assert!(error.ends_with("(version 2): no column 'id'"), "{error}");
    }
}
