//! `--where`: which partitions a compaction may touch, as a SQL predicate over the
//! partition columns only (a file is rewritten whole or not at all, so a predicate over
//! other columns could not be honoured). Evaluated by DataFusion on each file's
//! partition values; a file for which it is not true (false or null) is left alone.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, StringArray};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use datafusion::common::DFSchema;
use datafusion::logical_expr::ExprSchemable;
use datafusion::prelude::SessionContext;
use deltalake::kernel::LogicalFileView;

use crate::error::{LakeError, Result};

/// The files among `files` whose partition values satisfy `predicate`. `table` is the
/// table's full Arrow schema, `partitions` its partition columns.
pub fn keep(
    files: Vec<LogicalFileView>,
    predicate: &str,
    table: &SchemaRef,
    partitions: &[String],
    uri: &str,
) -> Result<Vec<LogicalFileView>> {
    let invalid = |what: String| LakeError::Invalid(format!("--where \"{predicate}\": {what}"));
    if partitions.is_empty() {
        return Err(invalid(format!(
            "table {uri} is not partitioned; --where selects partitions"
        )));
    }
    let ctx = SessionContext::new();
    let whole = DFSchema::try_from(table.as_ref().clone()).map_err(|e| invalid(e.to_string()))?;
    let expr = ctx
        .parse_sql_expr(predicate, &whole)
        .map_err(|e| invalid(e.to_string()))?;
    let mut others: Vec<String> = expr
        .column_refs()
        .into_iter()
        .map(|c| c.name.clone())
        .filter(|name| !partitions.contains(name))
        .collect();
    others.sort();
    others.dedup();
    if !others.is_empty() {
        return Err(invalid(format!(
            "{} {} not a partition column of {uri} (partition columns: {})",
            others.join(", "),
            if others.len() == 1 { "is" } else { "are" },
            partitions.join(", ")
        )));
    }
    let fields: Vec<_> = partitions
        .iter()
        .filter_map(|name| table.field_with_name(name).ok())
        .map(|f| f.clone().with_nullable(true))
        .collect();
    let schema = Arc::new(Schema::new(fields));
    let df_schema =
        DFSchema::try_from(schema.as_ref().clone()).map_err(|e| invalid(e.to_string()))?;
    let kind = expr
        .get_type(&df_schema)
        .map_err(|e| invalid(e.to_string()))?;
    if kind != DataType::Boolean {
        return Err(invalid(format!("the condition is {kind}, not a boolean")));
    }
    let physical = ctx
        .create_physical_expr(expr, &df_schema)
        .map_err(|e| invalid(e.to_string()))?;
    let batch = partition_values(&files, &schema).map_err(|e| invalid(e.to_string()))?;
    let verdict = physical
        .evaluate(&batch)
        .and_then(|v| v.into_array(batch.num_rows()))
        .map_err(|e| invalid(e.to_string()))?;
    let verdict = verdict.as_boolean();
    Ok(files
        .into_iter()
        .enumerate()
        .filter(|(i, _)| verdict.is_valid(*i) && verdict.value(*i))
        .map(|(_, file)| file)
        .collect())
}

/// One row per file: its partition values, parsed from the log's strings into `schema`'s
/// types (a missing value is null).
fn partition_values(
    files: &[LogicalFileView],
    schema: &SchemaRef,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let maps: Vec<_> = files
        .iter()
        .map(LogicalFileView::partition_values_map)
        .collect();
    let columns = schema
        .fields()
        .iter()
        .map(|field| {
            let text: StringArray = maps
                .iter()
                .map(|m| m.get(field.name()).cloned().flatten())
                .collect();
            cast(&text, field.data_type())
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(files.len())),
    )
}
