//! Grouping by a string column through dense group indices, the way column stores group
//! by dictionary-encoded strings.
//!
//! DataFusion groups a `Utf8View` column by hashing and comparing every row's string into
//! a group table. The lake's string columns come from dictionary-encoded Parquet pages,
//! where all rows of one value point at one copy of it, so [`GroupByStringIds`] computes
//! the partial phase of such an aggregation with a [`StringGroupAggregateExec`]: each
//! distinct string of a partition gets the next index, looked up once per distinct copy
//! (`groups::StringGroups`), and the aggregates' states are arrays indexed by it. Its
//! output is the partial phase's (every group's string and states), so the final phase
//! above, which merges a few rows per group, is DataFusion's as before.

mod aggregate;
mod aggregate_stream;
mod groups;

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::{ExecutionPlan, InputOrderMode};

use crate::options::rewrite_nodes_if;

use aggregate::grouped_column;
pub use aggregate::StringGroupAggregateExec;

/// The physical optimizer rule that computes partial aggregations by one string column
/// with a [`StringGroupAggregateExec`].
///
/// It applies to an aggregation (a partial phase, or a single phase, which it splits into
/// a partial and a final one) that groups by one expression, a plain `Utf8View` column,
/// when its input is not ordered by it, it does not keep the first k groups in an order,
/// no aggregate needs its input in an order and it feeds no dynamic filter. Runs after
/// DataFusion's own rules: the operator it puts in has the replaced one's output, so the
/// distribution and ordering they settled stay. Off when the session's
/// `weir.group_by_string_ids` ([`WeirOptions`](crate::options::WeirOptions)) is false.
#[derive(Debug, Default)]
pub struct GroupByStringIds;

impl PhysicalOptimizerRule for GroupByStringIds {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        rewrite_nodes_if(config, |on| on.group_by_string_ids, plan, rewrite)
    }

    fn name(&self) -> &str {
        "group_by_string_ids"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The aggregation at `node` computed through string groups, or `None` when it does not
/// qualify.
fn rewrite(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    if !groups_by_one_string_column(aggregate) {
        return Ok(None);
    }
    let final_mode = match aggregate.mode() {
        AggregateMode::Partial => {
            let partial = Arc::new(aggregate.clone());
            return Ok(Some(Arc::new(StringGroupAggregateExec::try_new(partial)?)));
        }
        AggregateMode::Single => AggregateMode::Final,
        AggregateMode::SinglePartitioned => AggregateMode::FinalPartitioned,
        _ => return Ok(None),
    };
    // Two phases, as DataFusion plans them over several partitions.
    let partial = AggregateExec::try_new(
        AggregateMode::Partial,
        aggregate.group_expr().clone(),
        aggregate.aggr_expr().to_vec(),
        aggregate.filter_expr().to_vec(),
        aggregate.input().clone(),
        aggregate.input_schema(),
    )?
    .with_limit_options(aggregate.limit_options());
    let partial = StringGroupAggregateExec::try_new(Arc::new(partial))?;
    let final_phase = AggregateExec::try_new(
        final_mode,
        aggregate.group_expr().as_final(),
        aggregate.aggr_expr().to_vec(),
        vec![None; aggregate.aggr_expr().len()],
        Arc::new(partial),
        aggregate.input_schema(),
    )?
    .with_limit_options(aggregate.limit_options());
    Ok(Some(Arc::new(final_phase)))
}

/// Whether `aggregate` groups by a single plain `Utf8View` column, in no grouping sets,
/// its input not ordered by it, keeping no ordered top-k, no aggregate needing ordered
/// input, and feeding no dynamic filter.
fn groups_by_one_string_column(aggregate: &AggregateExec) -> bool {
    // Grouping by several columns, DataFusion compares string views a column and a batch
    // at a time, as fast as grouping by indices would.
    let Some(column) = grouped_column(aggregate) else {
        return false;
    };
    aggregate.input().schema().field(column).data_type() == &DataType::Utf8View
        && *aggregate.input_order_mode() == InputOrderMode::Linear
        && aggregate.dynamic_expressions_produced().is_empty()
        && aggregate
            .aggr_expr()
            .iter()
            .all(|function| function.order_bys().is_empty())
}
