//! How a stream's schema meets an existing table's: the same columns, new nullable
//! columns the table can take (schema evolution), or a mismatch refused with every reason.
//! Types are compared as Delta types, so every Arrow flavour of a logical type fits it
//! (`Utf8`, `LargeUtf8` and `Utf8View` are `string`; `Binary`, `LargeBinary` and
//! `BinaryView` are `binary`; `List` and `LargeList` are `array`), timestamps of any unit
//! fit Delta's microsecond ones, and an integer fits a wider integer column. Batches are
//! then cast to the Arrow types the table is read and written as ([`written_schema`],
//! [`conform`]).

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::compute::{cast_with_options, CastOptions};
use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use deltalake::kernel::engine::arrow_conversion::{TryIntoArrow as _, TryIntoKernel as _};
use deltalake::kernel::{DataType, StructField, StructType};

use deltalake::DeltaTable;

use super::table::table_schema;
use super::DeltaSinkConfig;
use crate::error::{ConnectorError, Result};

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
    let stream: StructType = table_schema(stream).try_into_kernel().map_err(|e| {
        ConnectorError::Schema(format!("the stream's schema as a Delta schema: {e}"))
    })?;
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
        Err(ConnectorError::Schema(format!(
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
        return Err(ConnectorError::Schema(format!(
            "the stream has columns table {uri} does not: {}; set `schema_evolution: true` to add them (as nullable columns)",
            names.join(", ")
        )));
    }
    if partitioned {
        return Err(ConnectorError::Schema(format!(
            "cannot add columns {} to table {uri}: the Delta writer does not evolve partitioned tables",
            names.join(", ")
        )));
    }
    Ok(())
}

/// Checks that a stream of schema `input` may be written to `table` with `config`'s
/// settings: every column fits, and new columns only with schema evolution on an
/// unpartitioned table. Returns the table's columns and the stream's new ones.
pub(super) fn fit(
    config: &DeltaSinkConfig,
    input: &SchemaRef,
    table: &DeltaTable,
) -> Result<(StructType, Vec<StructField>)> {
    let uri = &config.table;
    let snapshot = table
        .snapshot()
        .map_err(|e| ConnectorError::Delta(format!("reading table {uri}: {e}")))?;
    let columns = StructType::clone(&snapshot.schema());
    let added = new_columns(input, &columns, uri)?;
    let partitioned = !snapshot.metadata().partition_columns().is_empty();
    check_evolution(&added, config.schema_evolution, partitioned, uri)?;
    Ok((columns, added))
}

/// The stream's schema with every column of the Arrow type the table stores it as: that of
/// the table's column, or of its Delta type for a column in `added` (schema evolution).
/// Names and nullability stay the stream's.
pub fn written_schema(
    stream: &SchemaRef,
    table: &StructType,
    added: &[StructField],
    uri: &str,
) -> Result<SchemaRef> {
    let fields = stream
        .fields()
        .iter()
        .map(|f| {
            let column = table
                .field(f.name())
                .or_else(|| added.iter().find(|a| a.name() == f.name()))
                .ok_or_else(|| {
                    ConnectorError::Schema(format!("table {uri} has no column '{}'", f.name()))
                })?;
            let data_type: ArrowType = column.data_type().try_into_arrow().map_err(|e| {
                ConnectorError::Schema(format!(
                    "column '{}' of table {uri} as an Arrow type: {e}",
                    f.name()
                ))
            })?;
            Ok(f.as_ref().clone().with_data_type(data_type))
        })
        .collect::<Result<Vec<Field>>>()?;
    Ok(Arc::new(Schema::new(fields)))
}

/// `batch` with its columns of `to`'s types. A batch whose columns already have them is
/// returned as it is; otherwise only the other columns are cast. A value the table's type
/// cannot hold (an integer out of range) is an error naming the column, never a null.
pub fn conform(batch: RecordBatch, to: &SchemaRef, uri: &str) -> Result<RecordBatch> {
    let fields = to.fields();
    if batch.num_columns() != fields.len() {
        return Err(ConnectorError::Schema(format!(
            "writing to {uri}: a batch of {} columns where the stream has {}",
            batch.num_columns(),
            fields.len()
        )));
    }
    let same = |(column, field): (&ArrayRef, &Arc<Field>)| column.data_type() == field.data_type();
    if batch.columns().iter().zip(fields.iter()).all(same) {
        return Ok(batch);
    }
    let options = CastOptions {
        safe: false,
        ..CastOptions::default()
    };
    let columns = batch
        .columns()
        .iter()
        .zip(fields.iter())
        .map(|(column, field)| {
            if column.data_type() == field.data_type() {
                return Ok(column.clone());
            }
            cast_with_options(column, field.data_type(), &options).map_err(|e| {
                ConnectorError::Schema(format!(
                    "writing column '{}' ({}) to {uri} as {}: {e}",
                    field.name(),
                    column.data_type(),
                    field.data_type()
                ))
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(RecordBatch::try_new(to.clone(), columns)?)
}
