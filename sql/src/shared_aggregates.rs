//! An aggregate a statement computes twice is computed once.
//!
//! DataFusion inlines a common table expression wherever the query names it, so TPC-H's
//! Q15, which selects the suppliers whose revenue (a CTE aggregating a quarter of
//! lineitem) equals the largest revenue (a scalar subquery over the same CTE), scans and
//! aggregates lineitem twice. This physical optimizer rule finds aggregates whose plans
//! are identical (the same text, files included) and wraps each in a [`SharedExec`] with
//! one shared result: the first to run computes all partitions of the aggregate and keeps
//! their batches (accounted in the memory pool); the other reads them.

use std::fmt;
use std::sync::{Arc, Mutex};

use datafusion::arrow::array::RecordBatch;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode, TreeNodeRecursion};
use datafusion::common::{DataFusionError, Result};
use datafusion::execution::memory_pool::{MemoryConsumer, MemoryReservation};
use datafusion::execution::TaskContext;
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::stream::RecordBatchStreamAdapter;
use datafusion::physical_plan::{
    common, displayable, DisplayAs, DisplayFormatType, ExecutionPlan, PlanProperties,
    SendableRecordBatchStream,
};
use futures::{StreamExt, TryStreamExt};
use tokio::sync::OnceCell;

use crate::options::physical_rule_on;

/// The batches of every partition of a shared aggregate, once computed.
type SharedResult = Arc<OnceCell<Arc<Vec<Vec<RecordBatch>>>>>;

/// The physical optimizer rule sharing identical final aggregates of a plan (subqueries
/// included). Off when the session's `weir.shared_aggregates`
/// ([`WeirOptions`](crate::options::WeirOptions)) is false.
#[derive(Debug, Default)]
pub struct ShareRepeatedAggregates;

impl PhysicalOptimizerRule for ShareRepeatedAggregates {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        if !physical_rule_on(config, |on| on.shared_aggregates) {
            return Ok(plan);
        }
        let mut seen: Vec<(String, usize)> = Vec::new();
        plan.apply(|node| {
            if let Some(text) = final_aggregate_text(node) {
                match seen.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, count)) => *count += 1,
                    None => seen.push((text, 1)),
                }
            }
            Ok(TreeNodeRecursion::Continue)
        })?;
        let shared: Vec<(String, SharedResult)> = seen
            .into_iter()
            .filter(|(_, count)| *count > 1)
            .map(|(text, _)| (text, SharedResult::default()))
            .collect();
        if shared.is_empty() {
            return Ok(plan);
        }
        plan.transform_down(|node| {
            let result = final_aggregate_text(&node)
                .and_then(|text| shared.iter().find(|(t, _)| *t == text))
                .map(|(_, result)| result.clone());
            Ok(match result {
                Some(result) => Transformed::new(
                    Arc::new(SharedExec::new(node, result)) as Arc<dyn ExecutionPlan>,
                    true,
                    TreeNodeRecursion::Jump,
                ),
                None => Transformed::no(node),
            })
        })
        .map(|t| t.data)
    }

    fn name(&self) -> &str {
        "weir_share_repeated_aggregates"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The plan text of `node` when it is an aggregate giving final results.
fn final_aggregate_text(node: &Arc<dyn ExecutionPlan>) -> Option<String> {
    let aggregate = node.downcast_ref::<AggregateExec>()?;
    let is_final = matches!(
        aggregate.mode(),
        AggregateMode::Final
            | AggregateMode::FinalPartitioned
            | AggregateMode::Single
            | AggregateMode::SinglePartitioned
    );
    is_final.then(|| displayable(node.as_ref()).indent(true).to_string())
}

/// One of the places a repeated aggregate is used: whichever runs first computes the
/// aggregate's partitions and keeps them; every place reads its partitions from them.
#[derive(Debug)]
pub struct SharedExec {
    input: Arc<dyn ExecutionPlan>,
    result: SharedResult,
    kept: Arc<Mutex<Option<MemoryReservation>>>,
}

impl SharedExec {
    fn new(input: Arc<dyn ExecutionPlan>, result: SharedResult) -> Self {
        Self {
            input,
            result,
            kept: Arc::new(Mutex::new(None)),
        }
    }
}

impl DisplayAs for SharedExec {
    fn fmt_as(&self, _format: DisplayFormatType, f: &mut fmt::Formatter) -> fmt::Result {
        write!(f, "SharedExec: computed once for every place it is used")
    }
}

impl ExecutionPlan for SharedExec {
    fn name(&self) -> &str {
        "SharedExec"
    }

    fn properties(&self) -> &Arc<PlanProperties> {
        self.input.properties()
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
        let input = children
            .pop()
            .ok_or_else(|| DataFusionError::Internal("SharedExec has one child".into()))?;
        // A new input is another plan: its result is its own.
        Ok(Arc::new(Self::new(input, SharedResult::default())))
    }

    fn execute(
        &self,
        partition: usize,
        context: Arc<TaskContext>,
    ) -> Result<SendableRecordBatchStream> {
        let (input, result, kept) = (self.input.clone(), self.result.clone(), self.kept.clone());
        let batches = futures::stream::once(async move {
            let all = result
                .get_or_try_init(|| computed(input, context, kept))
                .await?;
            let batches = all.get(partition).cloned().unwrap_or_default();
            Ok::<_, DataFusionError>(futures::stream::iter(batches.into_iter().map(Ok)))
        })
        .try_flatten();
        Ok(Box::pin(RecordBatchStreamAdapter::new(
            self.schema(),
            batches.boxed(),
        )))
    }
}

/// Every partition of `input`, run together, its batches accounted in `context`'s memory
/// pool by a reservation kept in `kept` as long as the plan lives.
async fn computed(
    input: Arc<dyn ExecutionPlan>,
    context: Arc<TaskContext>,
    kept: Arc<Mutex<Option<MemoryReservation>>>,
) -> Result<Arc<Vec<Vec<RecordBatch>>>> {
    let partitions = input.properties().output_partitioning().partition_count();
    let runs = (0..partitions)
        .map(|p| input.execute(p, context.clone()))
        .collect::<Result<Vec<_>>>()?;
    let all = futures::future::try_join_all(runs.into_iter().map(common::collect)).await?;
    let reservation = MemoryConsumer::new("SharedExec").register(context.memory_pool());
    let bytes = all
        .iter()
        .flatten()
        .map(RecordBatch::get_array_memory_size)
        .sum();
    reservation.try_grow(bytes)?;
    *kept.lock().expect("not poisoned") = Some(reservation);
    Ok(Arc::new(all))
}
