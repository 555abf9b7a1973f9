//! How a stream's schema meets an existing table's: the same columns, new nullable
//! columns the table can take (schema evolution), or a mismatch refused with every reason.
//! Types are compared as Delta types, so `Utf8View` matches `string` and millisecond
//! timestamps match Delta's microsecond ones.

use arrow::datatypes::SchemaRef;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::{StructField, StructType};

use super::table::table_schema;
use crate::error::{ConnectorError, Result};

/// The stream's columns the table does not have yet, as nullable Delta columns; empty
/// when the table already has every column.
pub fn new_columns(stream: &SchemaRef, table: &StructType, uri: &str) -> Result<Vec<StructField>> {
    let stream: StructType = table_schema(stream).try_into_kernel().map_err(|e| {
        ConnectorError::Delta(format!("the stream's schema as a Delta schema: {e}"))
    })?;
    let mut problems = Vec::new();
    let mut added = Vec::new();
    for field in stream.fields() {
        match table.field(field.name()) {
            Some(existing) if existing.data_type() != field.data_type() => problems.push(format!(
                "column '{}' is {} in the table but {} in the stream",
                field.name(),
                existing.data_type(),
                field.data_type()
            )),
            Some(_) => {}
            None => added.push(StructField::nullable(
                field.name(),
                field.data_type().clone(),
            )),
        }
    }
    let missing: Vec<&str> = table
        .fields()
        .filter(|f| stream.field(f.name()).is_none())
        .map(|f| f.name().as_str())
        .collect();
    if !missing.is_empty() {
        problems.push(format!(
            "the table has columns the stream does not produce: {}",
            missing.join(", ")
        ));
    }
    if problems.is_empty() {
        Ok(added)
    } else {
        Err(ConnectorError::Delta(format!(
            "the stream does not fit table {uri}: {}",
            problems.join("; ")
        )))
    }
}

/// Checks that new columns may be added: schema evolution must be on, and the Delta
/// writer cannot widen partitioned tables.
pub fn check_evolution(
    added: &[StructField],
    evolution: bool,
    partitioned: bool,
    uri: &str,
) -> Result<()> {
    if added.is_empty() {
        return Ok(());
    }
    let names: Vec<&str> = added.iter().map(|f| f.name().as_str()).collect();
    if !evolution {
        return Err(ConnectorError::Delta(format!(
            "the stream has columns table {uri} does not: {}; set `schema_evolution: true` to add them (as nullable columns)",
            names.join(", ")
        )));
    }
    if partitioned {
        return Err(ConnectorError::Delta(format!(
            "cannot add columns {} to table {uri}: the Delta writer does not evolve partitioned tables",
            names.join(", ")
        )));
    }
    Ok(())
}
