//! Whether a sink's stream may be written to an existing table (what fits is
//! [`weir_lake::schema`]'s), and batches cast to the Arrow types the table is read and
//! written as ([`written_schema`], [`conform`]).

use std::sync::Arc;

use arrow::array::ArrayRef;
use arrow::datatypes::{DataType as ArrowType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow as _;
use deltalake::kernel::{StructField, StructType};
use deltalake::DeltaTable;
use weir_lake::schema::{cast_exact, check_evolution, new_columns};

use super::DeltaSinkConfig;
use crate::error::{ConnectorError, Result};

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
    let columns = batch
        .columns()
        .iter()
        .zip(fields.iter())
        .map(|(column, field)| {
            cast_exact(column, field.data_type()).map_err(|e| {
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
