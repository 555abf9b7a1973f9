//! One loaded version of a dimension table: its added columns in one batch and a hash map
//! from the key (in Arrow's row format) to the row holding it.

use std::collections::HashMap;

use arrow::array::{Array, ArrayRef, UInt32Array};
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::DataType;
use arrow::record_batch::RecordBatch;
use arrow::row::{RowConverter, SortField};
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::dimension::Stamp;
use crate::error::{ConnectorError, Result};

/// The columns a dimension table must have, fixed when the job is built.
#[derive(Debug, Clone)]
pub struct Shape {
    /// The key columns of the table, each with the type of the stream column it joins.
    pub keys: Vec<(String, DataType)>,
    /// The columns added to the stream, with their types.
    pub added: Vec<(String, DataType)>,
}

/// A dimension table ready for lookups. Rows whose key has a null are never found.
#[derive(Debug)]
pub struct LookupTable {
    /// The added columns, in `Shape::added` order.
    pub columns: Vec<ArrayRef>,
    pub stamp: Stamp,
    converter: RowConverter,
    rows: HashMap<Box<[u8]>, u32>,
}

fn config_error(message: String) -> ConnectorError {
    ConnectorError::Config {
        connector: "enrich",
        message,
    }
}

/// The column `name` of `batch`, cast to `data_type` (a value that does not fit is an
/// error, never a silent null).
fn column_as(
    batch: &RecordBatch,
    name: &str,
    data_type: &DataType,
    path: &str,
) -> Result<ArrayRef> {
    let column = batch.column_by_name(name).ok_or_else(|| {
        let names: Vec<&str> = batch
            .schema_ref()
            .fields()
            .iter()
            .map(|f| f.name().as_str())
            .collect();
        config_error(format!(
            "column '{name}' is not in dimension table '{path}' (it has: {})",
            names.join(", ")
        ))
    })?;
    if column.data_type() == data_type {
        return Ok(column.clone());
    }
    let options = CastOptions {
        safe: false,
        ..Default::default()
    };
    cast_with_options(column, data_type, &options).map_err(|e| {
        config_error(format!(
            "column '{name}' of dimension table '{path}' as {data_type}: {e}"
        ))
    })
}

impl LookupTable {
    /// Indexes `batch` (read from `path`) by its key columns. Two rows with the same key are
    /// an error naming the key and both rows (1-based, in the order read).
    pub fn build(batch: &RecordBatch, shape: &Shape, stamp: Stamp, path: &str) -> Result<Self> {
        let keys = shape
            .keys
            .iter()
            .map(|(name, data_type)| column_as(batch, name, data_type, path))
            .collect::<Result<Vec<_>>>()?;
        let columns = shape
            .added
            .iter()
            .map(|(name, data_type)| column_as(batch, name, data_type, path))
            .collect::<Result<Vec<_>>>()?;
        let converter = RowConverter::new(
            shape
                .keys
                .iter()
                .map(|(_, data_type)| SortField::new(data_type.clone()))
                .collect(),
        )?;
        let encoded = converter.convert_columns(&keys)?;
        let mut rows: HashMap<Box<[u8]>, u32> = HashMap::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            if keys.iter().any(|k| k.is_null(row)) {
                continue;
            }
            if let Some(first) = rows.insert(encoded.row(row).as_ref().into(), row as u32) {
                return Err(config_error(format!(
                    "dimension table '{path}' has the key {} in rows {} and {}; keys must be unique",
                    describe_key(&shape.keys, &keys, row)?,
                    first + 1,
                    row + 1
                )));
            }
        }
        Ok(Self {
            columns,
            stamp,
            converter,
            rows,
        })
    }

    /// For each row of the stream's key columns (of the shape's types), the index of the
    /// table row with that key, or null when there is none (or a key value is null).
    pub fn find(&self, keys: &[ArrayRef]) -> Result<UInt32Array> {
        let encoded = self.converter.convert_columns(keys)?;
        let rows = keys.first().map_or(0, |k| k.len());
        Ok((0..rows)
            .map(|row| {
                if keys.iter().any(|k| k.is_null(row)) {
                    None
                } else {
                    self.rows.get(encoded.row(row).as_ref()).copied()
                }
            })
            .collect())
    }
}

/// `a = 'x', b = 3`: the key of `row`, for messages.
pub fn describe_key(names: &[(String, DataType)], keys: &[ArrayRef], row: usize) -> Result<String> {
    let options = FormatOptions::default().with_null("null");
    let mut parts = Vec::with_capacity(keys.len());
    for ((name, data_type), column) in names.iter().zip(keys) {
        let value = ArrayFormatter::try_new(column.as_ref(), &options)?
            .value(row)
            .to_string();
        let quoted = matches!(
            data_type,
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View
        ) && !column.is_null(row);
        parts.push(if quoted {
            format!("{name} = '{value}'")
        } else {
            format!("{name} = {value}")
        });
    }
    Ok(parts.join(", "))
}
