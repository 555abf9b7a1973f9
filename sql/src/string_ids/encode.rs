//! The operator that replaces a string column by group keys before an aggregation.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    SendableRecordBatchStream,
};

use super::column_encoder::ColumnEncoder;
use super::column_map::map_column;
use super::StringIds;

/// Passes its input's batches on with one `Utf8View` column replaced by a `UInt64` column
/// of group keys ([`super::key`]; ids from the column's [`StringIds`]), nulls staying null.
///
/// Rows keep their order and partition; orderings on the replaced column are not claimed,
/// as keys are not ordered like their strings.
#[derive(Debug)]
pub struct EncodeStringsExec {
    input: Arc<dyn ExecutionPlan>,
    /// The replaced column's index.
    column: usize,
    /// The dictionary of its longer strings.
    ids: Arc<StringIds>,
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl EncodeStringsExec {
    /// Replaces the `Utf8View` column at index `column` of `input`'s output.
    pub fn try_new(
        input: Arc<dyn ExecutionPlan>,
        column: usize,
        ids: Arc<StringIds>,
    ) -> Result<Self> {
        let input_schema = input.schema();
        let mut fields: Vec<Arc<Field>> = input_schema.fields().iter().cloned().collect();
        let field = &fields[column];
        if field.data_type() != &DataType::Utf8View {
            return Err(DataFusionError::Internal(format!(
                "EncodeStringsExec: column {} is {}, not Utf8View",
                field.name(),
                field.data_type()
            )));
        }
        fields[column] = Arc::new(Field::new(
            field.name(),
            DataType::UInt64,
            field.is_nullable(),
        ));
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
            column,
            ids,
            properties: Arc::new(properties),
            metrics: ExecutionPlanMetricsSet::new(),
        })
    }
}

impl DisplayAs for EncodeStringsExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let name = self.input.schema().field(self.column).name().clone();
        write!(f, "EncodeStringsExec: keys for [{name}]")
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
            self.column,
            Arc::clone(&self.ids),
        )?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, Arc::clone(&context))?;
        let mut encoder = ColumnEncoder::new(Arc::clone(&self.ids));
        let mut reservation = MemoryConsumer::new(format!("EncodeStringsExec[{partition}]"))
            .register(context.memory_pool());
        Ok(map_column(
            input,
            self.schema(),
            self.column,
            BaselineMetrics::new(&self.metrics, partition),
            move |strings: &ArrayRef| encoder.encode(strings.as_string_view(), &mut reservation),
        ))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}
