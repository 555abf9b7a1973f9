//! The operator that turns the keys of an aggregation's output back into strings.

use std::fmt;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, StringViewArray, StringViewBuilder, UInt64Array};
use arrow::datatypes::UInt64Type;
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};

use super::column_map::map_column;
use super::key::Key;
use super::StringIds;

/// Replaces a `UInt64` key column ([`super::key`]) of its input by the strings the keys
/// stand for, giving the schema and properties of the aggregation it stands in for: the
/// same rows, in the same order and partitions, as grouping by the strings would give.
#[derive(Debug)]
pub struct DecodeStringsExec {
    input: Arc<dyn ExecutionPlan>,
    /// The key column's index in the input and output.
    column: usize,
    /// The dictionary its keys' ids come from.
    ids: Arc<StringIds>,
    /// Those of the aggregation by strings this replaces.
    properties: Arc<PlanProperties>,
    metrics: ExecutionPlanMetricsSet,
}

impl DecodeStringsExec {
    /// `properties` are the replaced plan's: its schema has `Utf8View` where `input` has
    /// the keys at `column`, and is otherwise `input`'s.
    pub fn new(
        input: Arc<dyn ExecutionPlan>,
        column: usize,
        ids: Arc<StringIds>,
        properties: Arc<PlanProperties>,
    ) -> Self {
        Self {
            input,
            column,
            ids,
            properties,
            metrics: ExecutionPlanMetricsSet::new(),
        }
    }
}

impl DisplayAs for DecodeStringsExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let name = self.schema().field(self.column).name().clone();
        write!(f, "DecodeStringsExec: strings for [{name}]")
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
            self.column,
            Arc::clone(&self.ids),
            Arc::clone(&self.properties),
        )))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let input = self.input.execute(partition, context)?;
        let ids = Arc::clone(&self.ids);
        Ok(map_column(
            input,
            self.schema(),
            self.column,
            BaselineMetrics::new(&self.metrics, partition),
            move |keys: &ArrayRef| {
                let keys = keys.as_primitive::<UInt64Type>();
                let strings = ids.with_strings(|strings| decode(keys, strings))?;
                Ok(Arc::new(strings) as ArrayRef)
            },
        ))
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

/// The strings of `keys`, whose ids index `strings`.
fn decode(keys: &UInt64Array, strings: &[Arc<str>]) -> Result<StringViewArray> {
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
    use arrow::array::Array;

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
