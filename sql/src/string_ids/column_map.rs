//! The batch stream of both string-key operators: their input's, one column replaced.

use std::sync::Arc;

use arrow::array::{ArrayRef, RecordBatch};
use arrow::datatypes::SchemaRef;
use datafusion::common::Result;
use datafusion::physical_plan::metrics::BaselineMetrics;
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::SendableRecordBatchStream;
use futures::StreamExt;

/// `input` with column `column` of every batch replaced by `recode` of it, as batches of
/// `schema`; the time `recode` takes and the rows go to `metrics`.
pub fn map_column(
    input: SendableRecordBatchStream,
    schema: SchemaRef,
    column: usize,
    metrics: BaselineMetrics,
    mut recode: impl FnMut(&ArrayRef) -> Result<ArrayRef> + Send + 'static,
) -> SendableRecordBatchStream {
    let output_schema = Arc::clone(&schema);
    let mapped = input.map(move |batch| {
        let batch = batch?;
        let _timer = metrics.elapsed_compute().timer();
        let mut columns = batch.columns().to_vec();
        columns[column] = recode(&columns[column])?;
        let mapped = RecordBatch::try_new(Arc::clone(&output_schema), columns)?;
        metrics.record_output(mapped.num_rows());
        Ok(mapped)
    });
    Box::pin(RecordBatchStreamAdapter::new(schema, mapped))
}
