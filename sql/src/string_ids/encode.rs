//! The operator that replaces string columns by group keys before an aggregation.

use std::fmt;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;

use super::column_encoder::ColumnEncoder;
use super::StringIds;

/// Passes its input's batches on with each chosen `Utf8View` column replaced by a
/// `UInt64` column of group keys ([`super::key`]; ids from that column's [`StringIds`]),
/// nulls staying null.
///
/// Rows keep their order and partition; orderings on the replaced columns are not claimed,
/// as keys are not ordered like their strings.
#[derive(Debug)]
pub struct EncodeStringsExec {
    input: Arc<dyn ExecutionPlan>,
    /// Column index in the input, and the dictionary of its longer strings.
    columns: Vec<(usize, Arc<StringIds>)>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl EncodeStringsExec {
    /// Replaces the `Utf8View` columns at the indices of `columns` in `input`'s output.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        columns: Vec<(usize, Arc<StringIds>)>,
    ) -> Result<Self> {
        let input_schema = input.schema();
        let mut fields: Vec<Arc<Field>> = input_schema.fields().iter().cloned().collect();
        for (index, _) in &columns {
            let field = &fields[*index];
            if field.data_type() != &DataType::Utf8View {
                return Err(DataFusionError::Internal(format!(
                    "EncodeStringsExec: column {} is {}, not Utf8View",
                    field.name(),
                    field.data_type()
                )));
            }
            fields[*index] = Arc::new(Field::new(
                field.name(),
                DataType::UInt64,
                field.is_nullable(),
            ));
        }
        let schema = Arc::new(Schema::new_with_metadata(
            fields,
            input_schema.metadata().clone(),
        ));
        let properties = PlanProperties::new(
            EquivalenceProperties::new(schema),
            input.output_partitioning().clone(),
            input.pipeline_behavior(),
            input.boundedness(),
        );
        Ok(Self {
            input,
            columns,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for EncodeStringsExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let schema = self.input.schema();
        let names: Vec<&str> = self
            .columns
            .iter()
            .map(|(index, _)| schema.field(*index).name().as_str())
            .collect();
        write!(f, "EncodeStringsExec: keys for [{}]", names.join(", "))
    }
}

impl ExecutionPlan for EncodeStringsExec {
    fn name(&self) -> &str {
        "EncodeStringsExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        &self.properties
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![&self.input]
    }

    fn apply_expressions(
        &self,
        _f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        Ok(TreeNodeRecursion::Continue)
    }

    fn with_new_children(
        self: Arc<Self>,
        mut children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        Ok(Arc::new(Self::try_new(
            children.swap_remove(0),
            self.columns.clone(),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context.clone())?;
        let mut encoders: Vec<ColumnEncoder> = self
            .columns
            .iter()
            .map(|(index, ids)| ColumnEncoder::new(*index, ids.clone()))
            .collect();
        let mut reservation = MemoryConsumer::new(format!("EncodeStringsExec[{partition}]"))
            .register(context.memory_pool());
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let schema = self.schema();
        let output_schema = schema.clone();
        let encoded = input.map(move |batch| {
            let batch = batch?;
            let _timer = metrics.elapsed_compute().timer();
            let mut columns = batch.columns().to_vec();
            for encoder in &mut encoders {
                let index = encoder.index();
                columns[index] =
                    encoder.encode(columns[index].as_string_view(), &mut reservation)?;
            }
            let encoded = RecordBatch::try_new(output_schema.clone(), columns)?;
            metrics.record_output(encoded.num_rows());
            Ok(encoded)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, encoded)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
