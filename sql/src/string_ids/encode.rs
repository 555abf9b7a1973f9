//! The operator that replaces string columns by their ids before an aggregation.

use std::fmt;
use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::datatypes::{DataType, Field, Schema};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, HashMap, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::{EquivalenceProperties, PhysicalExpr};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, ExecutionPlanProperties, PlanProperties,
    SendableRecordBatchStream,
};
use futures::StreamExt;

use super::StringIds;

/// Passes its input's batches on with each chosen `Utf8View` column replaced by a
/// `UInt32` column of ids from that column's [`StringIds`] (nulls stay null).
///
/// Rows keep their order and partition; orderings on the replaced columns are not claimed,
/// as ids are not ordered like their strings.
#[derive(Debug)]
pub struct EncodeStringsExec {
    input: Arc<dyn ExecutionPlan>,
    /// Column index in the input, and the ids of its strings.
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
                DataType::UInt32,
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
        write!(f, "EncodeStringsExec: ids for [{}]", names.join(", "))
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
                columns[encoder.index] =
                    encoder.encode(columns[encoder.index].as_string_view(), &mut reservation)?;
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

/// Strings of at most this many bytes are inlined in their view: the view alone is the
/// string.
const INLINE_LEN: u32 = 12;

/// Inline views remembered across batches at most; past it the memory starts over.
const INLINE_MEMORY: usize = 1 << 16;

/// One column's encoding within one partition's stream.
struct ColumnEncoder {
    index: usize,
    ids: Arc<StringIds>,
    /// Ids of inline views, valid in every batch.
    inline: HashMap<u128, u32>,
    /// Ids of the current batch's other views. Such a view names a place in its batch's
    /// buffers, and the Parquet reader gives every row of a dictionary-encoded page the
    /// view of its dictionary entry: a page's distinct strings are interned once each.
    in_batch: HashMap<u128, u32>,
}

impl ColumnEncoder {
    fn new(index: usize, ids: Arc<StringIds>) -> Self {
        Self {
            index,
            ids,
            inline: HashMap::default(),
            in_batch: HashMap::default(),
        }
    }

    fn encode(
        &mut self,
        strings: &arrow::array::StringViewArray,
        reservation: &mut MemoryReservation,
    ) -> Result<ArrayRef> {
        self.in_batch.clear();
        if self.inline.len() > INLINE_MEMORY {
            self.inline.clear();
        }
        let mut ids = Vec::with_capacity(strings.len());
        let nulls = strings.nulls();
        for (row, &view) in strings.views().iter().enumerate() {
            if nulls.is_some_and(|nulls| nulls.is_null(row)) {
                ids.push(0);
                continue;
            }
            let known = if view as u32 <= INLINE_LEN {
                &mut self.inline
            } else {
                &mut self.in_batch
            };
            let id = match known.get(&view) {
                Some(&id) => id,
                None => {
                    let interning = self.ids.intern(strings.value(row)).ok_or_else(|| {
                        DataFusionError::ResourcesExhausted(format!(
                            "more than {} distinct strings to group by",
                            u32::MAX
                        ))
                    })?;
                    reservation.try_grow(interning.grown_by)?;
                    known.insert(view, interning.id);
                    interning.id
                }
            };
            ids.push(id);
        }
        Ok(Arc::new(UInt32Array::new(ids.into(), nulls.cloned())))
    }
}
