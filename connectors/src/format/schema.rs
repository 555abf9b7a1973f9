//! Column lists in configuration files, e.g. `{name: latency_ms, type: int64}`.

use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use serde::{Deserialize, Serialize};

use crate::error::{ConnectorError, Result};

/// One column of a decoded record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ColumnSpec {
    pub name: String,
    /// `string`, `int32`, `int64`, `float32`, `float64`, `boolean`, `timestamp`
    /// (milliseconds, UTC; from RFC 3339 strings or epoch milliseconds), `date`,
    /// `binary`.
    #[serde(rename = "type")]
    pub data_type: String,
    /// Whether the column may be missing or null (default true). A record without a
    /// non-nullable column is refused.
    #[serde(default = "yes")]
    pub nullable: bool,
}

fn yes() -> bool {
    true
}

impl ColumnSpec {
    /// A nullable column.
    pub fn new(name: &str, data_type: &str) -> Self {
        Self {
            name: name.into(),
            data_type: data_type.into(),
            nullable: true,
        }
    }
}

/// The Arrow type a type name stands for.
pub fn data_type(name: &str) -> Option<DataType> {
    Some(match name.to_ascii_lowercase().as_str() {
        "string" | "utf8" | "text" => DataType::Utf8,
        "int32" | "int" | "integer" => DataType::Int32,
        "int64" | "bigint" | "long" => DataType::Int64,
        "float32" | "float" => DataType::Float32,
        "float64" | "double" => DataType::Float64,
        "boolean" | "bool" => DataType::Boolean,
        "timestamp" => DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
        "date" => DataType::Date32,
        "binary" | "bytes" => DataType::Binary,
        _ => return None,
    })
}

/// The schema of a column list; unknown type names and repeated names are refused.
pub fn schema_of(columns: &[ColumnSpec]) -> Result<SchemaRef> {
    let mut fields = Vec::with_capacity(columns.len());
    for (i, c) in columns.iter().enumerate() {
        let data_type = data_type(&c.data_type).ok_or_else(|| ConnectorError::Config {
            connector: "format",
            message: format!(
                "column '{}' has unknown type '{}' (known: string, int32, int64, float32, float64, boolean, timestamp, date, binary)",
                c.name, c.data_type
            ),
        })?;
        if columns[..i].iter().any(|o| o.name == c.name) {
            return Err(ConnectorError::Config {
                connector: "format",
                message: format!("column '{}' is listed twice", c.name),
            });
        }
        fields.push(Field::new(&c.name, data_type, c.nullable));
    }
    if fields.is_empty() {
        return Err(ConnectorError::Config {
            connector: "format",
            message: "a format needs at least one column".into(),
        });
    }
    Ok(Arc::new(Schema::new(fields)))
}
