//! Building the rows of the `late` side output.

use std::sync::Arc;

use arrow::array::{StringArray, UInt32Array};
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;
use arrow::temporal_conversions::timestamp_ms_to_datetime;

use crate::error::Result;

/// A time in milliseconds since the epoch as RFC 3339 text (UTC, milliseconds).
pub(crate) fn format_ms(ms: i64) -> String {
    timestamp_ms_to_datetime(ms)
        .map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        .unwrap_or_else(|| ms.to_string())
}

/// Why a row was not aggregated.
pub(crate) fn late_reason(event_time: Option<i64>, watermark: i64, lateness_ms: i64) -> String {
    match event_time {
        None => "event time is null".to_string(),
        Some(t) => format!(
            "event time {} is too late: the watermark is {} and every window of the row closed (allowed lateness {}ms)",
            format_ms(t),
            format_ms(watermark),
            lateness_ms
        ),
    }
}

/// The late rows of `batch` at `rows`, each with its reason appended as the last column.
pub(crate) fn late_rows(
    schema: &arrow::datatypes::SchemaRef,
    batch: &RecordBatch,
    rows: Vec<u32>,
    reasons: Vec<String>,
) -> Result<RecordBatch> {
    let picked = take_record_batch(batch, &UInt32Array::from(rows))?;
    let mut columns = picked.columns().to_vec();
    columns.push(Arc::new(StringArray::from(reasons)));
    Ok(RecordBatch::try_new(schema.clone(), columns)?)
}
