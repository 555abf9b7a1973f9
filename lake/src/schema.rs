//! How a stream's schema meets a table's: the same columns, new nullable columns the
//! table can take (schema evolution), or a mismatch refused with every reason. Types are
//! compared as Delta types, so every Arrow flavour of a logical type fits it (`Utf8`,
//! `LargeUtf8` and `Utf8View` are `string`; `Binary`, `LargeBinary` and `BinaryView` are
//! `binary`; `List` and `LargeList` are `array`), timestamps of any unit fit Delta's
//! microsecond ones, and an integer fits a wider integer column.

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef, TimeUnit};
use arrow::error::ArrowError;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;
use deltalake::kernel::{DataType, StructField, StructType};

use crate::error::{LakeError, Result};

/// `column` as Arrow type `to`: itself when it already is, else cast, refusing a value
/// the type cannot hold (an integer out of range) instead of making it null. How rows
/// meet a table's types wherever they are read or written.
pub fn cast_exact(column: &ArrayRef, to: &ArrowType) -> Result<ArrayRef, ArrowError> {
    if column.data_type() == to {
        return Ok(column.clone());
    }
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    cast_with_options(column, to, &options)
}

/// The table schema for a stream schema: Delta stores timestamps in microseconds.
pub fn table_schema(schema: &SchemaRef) -> SchemaRef {
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| match f.data_type() {
            ArrowType::Timestamp(_, tz) => f
                .as_ref()
                .clone()
                .with_data_type(ArrowType::Timestamp(TimeUnit::Microsecond, tz.clone())),
            _ => f.as_ref().clone(),
        })
        .collect();
    Arc::new(Schema::new(fields))
}

/// Whether a stream column of Delta type `stream` can be written to a table column of
/// Delta type `table`: the same type, or an integer the table's integer type holds.
fn fits(stream: &DataType, table: &DataType) -> bool {
    let width = |t: &DataType| {
        [
            DataType::BYTE,
            DataType::SHORT,
            DataType::INTEGER,
            DataType::LONG,
        ]
        .iter()
        .position(|integer| integer == t)
    };
    stream == table || matches!((width(stream), width(table)), (Some(s), Some(t)) if s <= t)
}

/// The stream's columns the table does not have yet, as nullable Delta columns; empty
/// when the table already has every column.
pub fn new_columns(stream: &SchemaRef, table: &StructType, uri: &str) -> Result<Vec<StructField>> {
    let stream: StructType = table_schema(stream)
        .try_into_kernel()
        .map_err(|e| LakeError::Schema(format!("the stream's schema as a Delta schema: {e}")))?;
    let mut problems = Vec::new();
    let mut added = Vec::new();
    for field in stream.fields() {
        match table.field(field.name()) {
            Some(existing) if !fits(field.data_type(), existing.data_type()) => {
                problems.push(format!(
                    "column '{}' is {} in the table but {} in the stream",
                    field.name(),
                    existing.data_type(),
                    field.data_type()
                ))
            }
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
        Err(LakeError::Schema(format!(
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
        return Err(LakeError::Schema(format!(
            "the stream has columns table {uri} does not: {}; set `schema_evolution: true` to add them (as nullable columns)",
            names.join(", ")
        )));
    }
    if partitioned {
        return Err(LakeError::Schema(format!(
            "cannot add columns {} to table {uri}: the Delta writer does not evolve partitioned tables",
            names.join(", ")
        )));
    }
    Ok(())
}
