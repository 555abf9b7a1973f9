//! The partial aggregation by one column that keeps its groups by dense index.

use std::fmt;
use std::sync::Arc;

use arrow::datatypes::{DataType, Int32Type, Int64Type};
use datafusion::common::tree_node::TreeNodeRecursion;
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::MemoryConsumer;
use datafusion::execution::TaskContext;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_plan::aggregates::{aggregate_expressions, AggregateExec, AggregateMode};
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::metrics::{BaselineMetrics, ExecutionPlanMetricsSet, MetricsSet};
use datafusion::physical_plan::{
    DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties, SendableRecordBatchStream,
};

use super::aggregate_stream::{aggregate_stream, PartialAggregation};
use super::integer_groups::IntegerGroups;
use super::string_groups::StringGroups;
use super::GroupIndices;

/// Stands in for a partial-phase [`AggregateExec`] grouping by one `Utf8View`, `Int32` or
/// `Int64` column: the same output (schema, partitioning, and for every group the value
/// and the aggregates' states), computed by giving each distinct value of a partition a
/// dense index ([`StringGroups`], [`IntegerGroups`]) that the aggregates' accumulators are
/// indexed by, instead of hashing every row's value into DataFusion's group table.
///
/// Invariant: `partial` is in [`AggregateMode::Partial`], groups by one plain column of
/// its input of one of those types, and keeps no ordered top-k (checked by
/// [`Self::try_new`]).
#[derive(Debug)]
pub struct IndexedGroupAggregateExec {
    /// The aggregation this computes; its input is this operator's input.
    partial: Arc<AggregateExec>,
    /// Its grouping column's index in the input.
    column: usize,
    metrics: ExecutionPlanMetricsSet,
}

impl IndexedGroupAggregateExec {
    /// Computes `partial`, or an internal error when it is not a partial aggregation by
    /// one column without an ordered limit.
    pub fn try_new(partial: Arc<AggregateExec>) -> Result<Self> {
        let indexable = |column: usize| {
            indexed_type(partial.input().schema().field(column).data_type()).is_some()
        };
        match grouped_column(&partial) {
            Some(column) if *partial.mode() == AggregateMode::Partial && indexable(column) => {
                Ok(Self {
                    partial,
                    column,
                    metrics: ExecutionPlanMetricsSet::new(),
                })
            }
            _ => Err(DataFusionError::Internal(format!(
                "IndexedGroupAggregateExec cannot compute {}",
                partial.name()
            ))),
        }
    }

    /// A partition's empty groups of the grouping column.
    fn new_groups(&self) -> Result<Box<dyn GroupIndices>> {
        let data_type = self
            .partial
            .input()
            .schema()
            .field(self.column)
            .data_type()
            .clone();
        Ok(match indexed_type(&data_type) {
            Some(IndexedType::Strings) => Box::new(StringGroups::default()),
            Some(IndexedType::Int32) => Box::new(IntegerGroups::<Int32Type>::default()),
            Some(IndexedType::Int64) => Box::new(IntegerGroups::<Int64Type>::default()),
            None => {
                return Err(DataFusionError::Internal(format!(
                    "IndexedGroupAggregateExec cannot group by {data_type}"
                )))
            }
        })
    }
}

/// The column types [`IndexedGroupAggregateExec`] groups by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexedType {
    Strings,
    Int32,
    Int64,
}

/// The kind of groups `data_type` has, when it is indexed.
pub fn indexed_type(data_type: &DataType) -> Option<IndexedType> {
    match data_type {
        DataType::Utf8View => Some(IndexedType::Strings),
        DataType::Int32 => Some(IndexedType::Int32),
        DataType::Int64 => Some(IndexedType::Int64),
        _ => None,
    }
}

/// The input column index `aggregate` groups by, when it groups by one plain column, in
/// no grouping sets, without keeping the first k groups in an order.
pub(super) fn grouped_column(aggregate: &AggregateExec) -> Option<usize> {
    let [(expression, _)] = aggregate.group_expr().expr() else {
        return None;
    };
    let ordered_limit = aggregate
        .limit_options()
        .is_some_and(|limit| limit.descending.is_some());
    let column = expression.downcast_ref::<Column>()?.index();
    (aggregate.group_expr().is_single() && !ordered_limit).then_some(column)
}

impl DisplayAs for IndexedGroupAggregateExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        let group = self
            .partial
            .input()
            .schema()
            .field(self.column)
            .name()
            .clone();
        let aggregates: Vec<&str> = self
            .partial
            .aggr_expr()
            .iter()
            .map(|aggregate| aggregate.name())
            .collect();
        write!(
            f,
            "IndexedGroupAggregateExec: mode=Partial, gby=[{group}], aggr=[{}]",
            aggregates.join(", ")
        )
    }
}

impl ExecutionPlan for IndexedGroupAggregateExec {
    fn name(&self) -> &str {
        "IndexedGroupAggregateExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.partial.properties()
    }

    fn children(&self) -> Vec<&Arc<dyn ExecutionPlan>> {
        vec![self.partial.input()]
    }

    fn apply_expressions(
        &self,
        f: &mut dyn FnMut(&Arc<dyn PhysicalExpr>) -> Result<TreeNodeRecursion>,
    ) -> Result<TreeNodeRecursion> {
        self.partial.apply_expressions(f)
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn ExecutionPlan>>,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let partial = Arc::clone(&self.partial).replace_children(
            children,
            ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
        )?;
        let partial = partial.downcast_ref::<AggregateExec>().ok_or_else(|| {
            DataFusionError::Internal("an AggregateExec with new children is not one".into())
        })?;
        Ok(Arc::new(Self::try_new(Arc::new(partial.clone()))?))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let partial = &self.partial;
        let input = partial.input().execute(partition, Arc::clone(&context))?;
        let reservation = MemoryConsumer::new(format!("IndexedGroupAggregateExec[{partition}]"))
            .with_can_spill(true)
            .register(context.memory_pool());
        let options = &context.session_config().options().execution;
        let aggregation = PartialAggregation {
            column: self.column,
            aggregates: partial.aggr_expr().to_vec(),
            arguments: aggregate_expressions(partial.aggr_expr(), partial.mode(), 0)?,
            filters: partial.filter_expr().to_vec(),
            limit: partial.limit_options().map(|limit| limit.limit),
            batch_size: context.session_config().batch_size(),
            probe_rows: options.skip_partial_aggregation_probe_rows_threshold,
            pass_through_ratio: options.skip_partial_aggregation_probe_ratio_threshold,
        };
        aggregate_stream(
            input,
            self.schema(),
            aggregation,
            self.new_groups()?,
            reservation,
            BaselineMetrics::new(&self.metrics, partition),
        )
    }

    fn metrics(&self) -> Option<MetricsSet> {
        Some(self.metrics.clone_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{ArrayRef, RecordBatch, StringViewArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::pretty::pretty_format_batches;
    use datafusion::datasource::memory::MemorySourceConfig;
    use datafusion::execution::memory_pool::GreedyMemoryPool;
    use datafusion::execution::runtime_env::RuntimeEnvBuilder;
    use datafusion::functions_aggregate::count::count_udaf;
    use datafusion::physical_expr::aggregate::AggregateExprBuilder;
    use datafusion::physical_expr::expressions::lit;
    use datafusion::physical_plan::aggregates::{LimitOptions, PhysicalGroupBy};
    use datafusion::physical_plan::collect;

    /// `SELECT s, count(*) ... GROUP BY s`'s partial phase over three batches.
    fn partial_count(limit: Option<usize>) -> IndexedGroupAggregateExec {
        let schema = Arc::new(Schema::new(vec![Field::new("s", DataType::Utf8View, true)]));
        let batch = |values: Vec<Option<&str>>| {
            let column: ArrayRef = Arc::new(StringViewArray::from(values));
            RecordBatch::try_new(schema.clone(), vec![column]).unwrap()
        };
        let batches = vec![
            batch(vec![
                Some("a"),
                Some("a longer string, not inline"),
                Some("a"),
            ]),
            batch(vec![None, Some("a longer string, not inline")]),
            batch(vec![Some("c"), None]),
        ];
        let input = MemorySourceConfig::try_new_exec(&[batches], schema.clone(), None).unwrap();
        let count = AggregateExprBuilder::new(count_udaf(), vec![lit(1)])
            .schema(schema.clone())
            .alias("n")
            .build()
            .unwrap();
        let group_by =
            PhysicalGroupBy::new_single(vec![(Arc::new(Column::new("s", 0)) as _, "s".into())]);
        let partial = AggregateExec::try_new(
            AggregateMode::Partial,
            group_by,
            vec![Arc::new(count)],
            vec![None],
            input,
            schema,
        )
        .unwrap()
        .with_limit_options(limit.map(LimitOptions::new));
        IndexedGroupAggregateExec::try_new(Arc::new(partial)).unwrap()
    }

    async fn run(exec: IndexedGroupAggregateExec, memory: Option<usize>) -> String {
        let mut runtime = RuntimeEnvBuilder::new();
        if let Some(memory) = memory {
            runtime = runtime.with_memory_pool(Arc::new(GreedyMemoryPool::new(memory)));
        }
        let context = TaskContext::default().with_runtime(runtime.build_arc().unwrap());
        let batches = collect(Arc::new(exec), Arc::new(context)).await.unwrap();
        pretty_format_batches(&batches).unwrap().to_string()
    }

    #[tokio::test]
    async fn groups_come_out_with_their_counts() {
        let expected = "\
+-----------------------------+----------+
| s                           | n[count] |
+-----------------------------+----------+
| a                           | 2        |
| a longer string, not inline | 2        |
|                             | 2        |
| c                           | 1        |
+-----------------------------+----------+";
        assert_eq!(run(partial_count(None), None).await, expected);
    }

    #[tokio::test]
    async fn out_of_memory_it_emits_each_batchs_groups_early() {
        let expected = "\
+-----------------------------+----------+
| s                           | n[count] |
+-----------------------------+----------+
| a                           | 2        |
| a longer string, not inline | 1        |
|                             | 1        |
| a longer string, not inline | 1        |
| c                           | 1        |
|                             | 1        |
+-----------------------------+----------+";
        assert_eq!(run(partial_count(None), Some(1)).await, expected);
    }

    #[tokio::test]
    async fn an_unordered_limit_stops_reading_once_enough_groups_are_seen() {
        let expected = "\
+-----------------------------+----------+
| s                           | n[count] |
+-----------------------------+----------+
| a                           | 2        |
| a longer string, not inline | 1        |
+-----------------------------+----------+";
        assert_eq!(run(partial_count(Some(2)), None).await, expected);
    }
}
