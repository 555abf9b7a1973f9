//! The operator that turns the keys of an aggregation's output back into strings.

use std::fmt;
use std::sync::Arc;

use arrow::array::{AsArray, RecordBatch, StringViewBuilder};
use arrow::datatypes::{SchemaRef, UInt64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};
use futures::StreamExt;

use super::key::Key;
use super::StringIds;

/// Replaces each chosen `UInt64` key column ([`super::key`]) of its input by the strings
/// the keys stand for,
/// giving the schema and properties of the aggregation it stands in for: the same rows,
/// in the same order and partitions, as grouping by the strings would give.
#[derive(Debug)]
pub struct DecodeStringsExec {
    input: Arc<dyn ExecutionPlan>,
    /// Column index in the input and output, and the dictionary its keys' ids come from.
    columns: Vec<(usize, Arc<StringIds>)>,
    /// Those of the aggregation by strings this replaces.
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl DecodeStringsExec {
    /// `properties` are the replaced plan's: its schema has `Utf8View` where `input` has
    /// the keys of `columns`, and is otherwise `input`'s.
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        columns: Vec<(usize, Arc<StringIds>)>,
        properties: Arc<PlanProperties>,
    ) -> Self {
        Self {
            input,
            columns,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for DecodeStringsExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let schema = self.schema();
        let names: Vec<&str> = self
            .columns
            .iter()
            .map(|(index, _)| schema.field(*index).name().as_str())
            .collect();
        write!(f, "DecodeStringsExec: strings for [{}]", names.join(", "))
    }
}

impl ExecutionPlan for DecodeStringsExec {
    fn name(&self) -> &str {
        "DecodeStringsExec"
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
        Ok(Arc::new(Self::new(
            children.swap_remove(0),
            self.columns.clone(),
            self.properties.clone(),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let columns = self.columns.clone();
        let metrics = BaselineMetrics::new(&self.metrics, partition);
        let schema: SchemaRef = self.schema();
        let output_schema = schema.clone();
        let decoded = input.map(move |batch| {
            let batch = batch?;
            let _timer = metrics.elapsed_compute().timer();
            let mut arrays = batch.columns().to_vec();
            for (index, ids) in &columns {
                let keys = arrays[*index].as_primitive::<UInt64Type>();
                arrays[*index] = Arc::new(ids.with_strings(|strings| decode(keys, strings))?);
            }
            let decoded = RecordBatch::try_new(output_schema.clone(), arrays)?;
            metrics.record_output(decoded.num_rows());
            Ok(decoded)
        });
        Ok(Box::pin(RecordBatchStreamAdapter::new(schema, decoded)))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The strings of `keys`, whose ids index `strings`.
fn decode(
    keys: &arrow::array::UInt64Array,
    strings: &[Arc<str>],
) -> Result<arrow::array::StringViewArray> {
    let mut decoded = StringViewBuilder::with_capacity(keys.len());
    for key in keys.iter() {
        match key.map(Key::of) {
            None => decoded.append_null(),
            Some(Key::Short { len, bytes }) => {
                let short = std::str::from_utf8(&bytes[..len]).map_err(|e| {
                    DataFusionError::Internal(format!("a short string key is not UTF-8: {e}"))
                })?;
                decoded.append_value(short);
            }
            Some(Key::Id(id)) => decoded.append_value(&strings[id as usize]),
        }
    }
    Ok(decoded.finish())
}

#[cfg(test)]
mod tests {
    use super::super::key;
    use super::*;
    use arrow::array::{Array, StringViewArray, UInt64Array};

    #[test]
    fn keys_decode_to_their_strings_and_nulls() {
        let ids = StringIds::default();
        for value in ["INFO-LEVEL", "a path longer than twelve bytes"] {
            ids.intern(value).unwrap();
        }
        let keys = UInt64Array::from(vec![
            Some(key::of_id(1)),
            None,
            Some(key::of_id(0)),
            Some(key::short(StringViewArray::from(vec!["GET"]).views()[0])),
        ]);
        let decoded = ids.with_strings(|strings| decode(&keys, strings)).unwrap();
        assert_eq!(
            decoded,
            StringViewArray::from(vec![
                Some("a path longer than twelve bytes"),
                None,
                Some("INFO-LEVEL"),
                Some("GET")
            ])
        );
        assert_eq!(decoded.null_count(), 1);
    }
}
