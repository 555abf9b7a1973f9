//! Grouping by one column through dense group indices, the way column stores group by
//! dictionary-encoded strings and by dense integer keys.
//!
//! DataFusion groups a column by hashing every row's value into a group table. The lake's
//! string columns come from dictionary-encoded Parquet pages, where all rows of one value
//! point at one copy of it, and its integer keys are often dense (a dimension's keys, or
//! keys written in order such as TPC-H's order keys in lineitem). [`GroupByIndices`]
//! computes the partial phase of an aggregation by one such column with an
//! [`IndexedGroupAggregateExec`]: each distinct value of a partition gets the next index,
//! a string looked up once per distinct copy ([`string_groups::StringGroups`]), an integer
//! by its offset in a window of slots where the values are dense
//! ([`integer_groups::IntegerGroups`]), and the aggregates' states are arrays indexed by
//! it. Its output is the partial phase's (every group's value and states), so the final
//! phase above, which merges a few rows per group, is DataFusion's as before.

mod aggregate;
mod aggregate_stream;
mod integer_groups;
mod string_groups;

use std::sync::Arc;

use arrow::array::ArrayRef;
use datafusion::common::config::ConfigOptions;
use datafusion::common::Result;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::{ExecutionPlan, InputOrderMode};

use crate::options::{physical_rule_on, rewrite_nodes_if};

pub use aggregate::IndexedGroupAggregateExec;
use aggregate::{grouped_column, indexed_type, IndexedType};

/// One partition's groups of one column: each distinct value (and null) gets the next
/// index, `0..len()`, in the order they are first seen.
pub trait GroupIndices: Send {
    /// How many groups there are.
    fn len(&self) -> usize;

    /// Whether there are no groups.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The bytes held.
    fn size(&self) -> usize;

    /// Sets `indices` to the group index of each row of `column`, giving values not seen
    /// before (and null, the first time) the next indices; an internal error for a column
    /// of another type.
    fn intern(&mut self, column: &ArrayRef, indices: &mut Vec<usize>) -> Result<()>;

    /// The groups' values in index order; the groups are forgotten, and indices start
    /// from 0 again.
    fn emit(&mut self) -> Result<ArrayRef>;
}

/// The physical optimizer rule that computes partial aggregations by one string or
/// integer column with an [`IndexedGroupAggregateExec`].
///
/// It applies to an aggregation (a partial phase, or a single phase, which it splits into
/// a partial and a final one) that groups by one expression, a plain `Utf8View` column
/// (when the session's `weir.group_by_string_ids` is on) or `Int32`/`Int64` column (when
/// `weir.group_by_integer_indices` is on; [`WeirOptions`](crate::options::WeirOptions)),
/// when its input is not ordered by it, it does not keep the first k groups in an order,
/// no aggregate needs its input in an order and it feeds no dynamic filter. Runs after
/// DataFusion's own rules: the operator it puts in has the replaced one's output, so the
/// distribution and ordering they settled stay.
#[derive(Debug, Default)]
pub struct GroupByIndices;

impl PhysicalOptimizerRule for GroupByIndices {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let strings = physical_rule_on(config, |on| on.group_by_string_ids);
        let integers = physical_rule_on(config, |on| on.group_by_integer_indices);
        let indexed = |kind: IndexedType| match kind {
            IndexedType::Strings => strings,
            IndexedType::Int32 | IndexedType::Int64 => integers,
        };
        rewrite_nodes_if(
            config,
            |_| strings || integers,
            plan,
            |node| rewrite(node, &indexed),
        )
    }

    fn name(&self) -> &str {
        "group_by_indices"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The aggregation at `node` computed through group indices, or `None` when it does not
/// qualify or `indexed` says its column's kind is not to be indexed.
fn rewrite(
    node: &Arc<dyn ExecutionPlan>,
    indexed: &dyn Fn(IndexedType) -> bool,
) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    if !groups_by_one_indexed_column(aggregate, indexed) {
        return Ok(None);
    }
    let final_mode = match aggregate.mode() {
        AggregateMode::Partial => {
            let partial = Arc::new(aggregate.clone());
            return Ok(Some(Arc::new(IndexedGroupAggregateExec::try_new(partial)?)));
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
    let partial = IndexedGroupAggregateExec::try_new(Arc::new(partial))?;
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

/// Whether `aggregate` groups by a single plain column of a type `indexed` takes, in no
/// grouping sets, its input not ordered by it, keeping no ordered top-k, no aggregate
/// needing ordered input, and feeding no dynamic filter.
fn groups_by_one_indexed_column(
    aggregate: &AggregateExec,
    indexed: &dyn Fn(IndexedType) -> bool,
) -> bool {
    // Grouping by several columns, DataFusion compares string views a column and a batch
    // at a time, as fast as grouping by indices would.
    let Some(column) = grouped_column(aggregate) else {
        return false;
    };
    indexed_type(aggregate.input().schema().field(column).data_type()).is_some_and(indexed)
        && *aggregate.input_order_mode() == InputOrderMode::Linear
        && aggregate.dynamic_expressions_produced().is_empty()
        && aggregate
            .aggr_expr()
            .iter()
            .all(|function| function.order_bys().is_empty())
}
