//! Grouping by string columns through integer keys, the way column stores group by
//! dictionary-encoded strings.
//!
//! DataFusion groups a `Utf8View` column by hashing and comparing every row's string. The
//! lake's string columns come from dictionary-encoded Parquet pages, where all rows of one
//! value point at one copy of it, so [`GroupByStringIds`] puts an [`EncodeStringsExec`]
//! under the aggregation that gives each row a `u64` key ([`key`]): a short string is its
//! own key, a longer one gets an id from a dictionary the query's partitions share
//! ([`StringIds`]), looked up once per distinct copy. The aggregation groups the keys, and
//! a [`DecodeStringsExec`] over its final phase turns the keys of the result rows back into
//! strings. The plan's output is unchanged: same schema, rows, order and partitioning.

mod column_encoder;
mod decode;
mod dictionary;
mod encode;
pub mod key;

use std::sync::Arc;

use arrow::datatypes::DataType;
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::Result;
use datafusion::physical_expr::expressions::Column;
use datafusion::physical_expr::utils::collect_columns;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::aggregates::{AggregateExec, AggregateMode};
use datafusion::physical_plan::coalesce_partitions::CoalescePartitionsExec;
use datafusion::physical_plan::execution_plan::{ChildrenPropertiesMode, ReplaceChildrenOptions};
use datafusion::physical_plan::repartition::RepartitionExec;
use datafusion::physical_plan::{ExecutionPlan, InputOrderMode};

use crate::options::WeirOptions;

pub use decode::DecodeStringsExec;
pub use dictionary::{Interning, StringIds};
pub use encode::EncodeStringsExec;

/// Encoded columns, each by its index (or group position) with the dictionary of its
/// longer strings.
type Dictionaries = Vec<(usize, Arc<StringIds>)>;

/// The physical optimizer rule that makes aggregations group string columns by keys.
///
/// It applies to an aggregation (a partial phase with its final phase above, or a single
/// phase) that groups by one expression, a plain `Utf8View` column no aggregate argument,
/// ordering or filter reads, when its input is not ordered by it and it does not keep
/// the first k groups in an order. Runs after DataFusion's own rules: it only swaps column
/// types under an aggregation whose distribution and ordering are already settled. Off
/// when the session's `weir.group_by_string_ids` ([`WeirOptions`]) is false.
#[derive(Debug, Default)]
pub struct GroupByStringIds;

impl PhysicalOptimizerRule for GroupByStringIds {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        let enabled = config
            .extensions
            .get::<WeirOptions>()
            .is_none_or(|options| options.group_by_string_ids);
        if !enabled {
            return Ok(plan);
        }
        plan.transform_up(|node| {
            Ok(match rewrite(&node)? {
                Some(rewritten) => Transformed::yes(rewritten),
                None => Transformed::no(node),
            })
        })
        .data()
    }

    fn name(&self) -> &str {
        "group_by_string_ids"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// The aggregation at `node` grouping by ids, or `None` when it does not qualify.
fn rewrite(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    match aggregate.mode() {
        AggregateMode::Single | AggregateMode::SinglePartitioned => {
            let columns = encodable_groups(aggregate);
            if columns.is_empty() {
                return Ok(None);
            }
            let (by_ids, ids) = group_by_ids(aggregate, &columns)?;
            Ok(Some(decoded(by_ids, ids, node)))
        }
        AggregateMode::Final | AggregateMode::FinalPartitioned => {
            // The final phase reads the partial one through exchanges that move rows, not
            // look at them.
            let mut exchanges = Vec::new();
            let mut below = aggregate.input().clone();
            while below.is::<RepartitionExec>() || below.is::<CoalescePartitionsExec>() {
                let child = below.children()[0].clone();
                exchanges.push(below);
                below = child;
            }
            let Some(partial) = below.downcast_ref::<AggregateExec>() else {
                return Ok(None);
            };
            if *partial.mode() != AggregateMode::Partial || !groups_are_leading_columns(aggregate) {
                return Ok(None);
            }
            let columns = encodable_groups(partial);
            if columns.is_empty() {
                return Ok(None);
            }
            let (mut input, ids) = group_by_ids(partial, &columns)?;
            for exchange in exchanges.into_iter().rev() {
                input = exchange.replace_children(
                    vec![input],
                    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
                )?;
            }
            let final_by_ids = AggregateExec::try_new(
                *aggregate.mode(),
                aggregate.group_expr().clone(),
                aggregate.aggr_expr().to_vec(),
                aggregate.filter_expr().to_vec(),
                input,
                aggregate.input_schema(),
            )?
            .with_limit_options(aggregate.limit_options());
            Ok(Some(decoded(Arc::new(final_by_ids), ids, node)))
        }
        _ => Ok(None),
    }
}

/// `(group position, input column index)` of each grouping expression of `aggregate` that
/// can be grouped by ids.
fn encodable_groups(aggregate: &AggregateExec) -> Vec<(usize, usize)> {
    let group_by = aggregate.group_expr();
    // A top-k aggregation may keep the groups first in the strings' order, which ids do
    // not have.
    let ordered_limit = aggregate
        .limit_options()
        .is_some_and(|limit| limit.descending.is_some());
    // Grouping by several columns, DataFusion compares string views a column and a batch
    // at a time, as fast as it compares keys: encoding would only add its own pass.
    if !group_by.is_single()
        || group_by.expr().len() != 1
        || *aggregate.input_order_mode() != InputOrderMode::Linear
        || ordered_limit
    {
        return Vec::new();
    }
    let input_schema = aggregate.input().schema();
    let mut read_otherwise = Vec::new();
    for function in aggregate.aggr_expr() {
        let expressions = function.all_expressions();
        for expression in expressions.args.iter().chain(&expressions.order_by_exprs) {
            read_otherwise.extend(collect_columns(expression));
        }
    }
    for filter in aggregate.filter_expr().iter().flatten() {
        read_otherwise.extend(collect_columns(filter));
    }
    group_by
        .expr()
        .iter()
        .enumerate()
        .filter_map(|(position, (expression, _))| {
            let column = expression.downcast_ref::<Column>()?;
            let is_string_view =
                input_schema.field(column.index()).data_type() == &DataType::Utf8View;
            (is_string_view && !read_otherwise.contains(column))
                .then_some((position, column.index()))
        })
        .collect()
}

/// Whether `aggregate` (a final phase) groups by its input's leading columns in order, as
/// a final phase reading a partial one does.
fn groups_are_leading_columns(aggregate: &AggregateExec) -> bool {
    aggregate
        .group_expr()
        .expr()
        .iter()
        .enumerate()
        .all(|(position, (expression, _))| {
            expression
                .downcast_ref::<Column>()
                .is_some_and(|column| column.index() == position)
        })
}

/// `aggregate` over its input with `columns` encoded, and the dictionary of each encoded group
/// position.
fn group_by_ids(
    aggregate: &AggregateExec,
    columns: &[(usize, usize)],
) -> Result<(Arc<dyn ExecutionPlan>, Dictionaries)> {
    let ids: Vec<(usize, usize, Arc<StringIds>)> = columns
        .iter()
        .map(|&(position, index)| (position, index, Arc::new(StringIds::default())))
        .collect();
    let encoded = Arc::new(EncodeStringsExec::try_new(
        aggregate.input().clone(),
        ids.iter()
            .map(|(_, index, ids)| (*index, ids.clone()))
            .collect(),
    )?);
    let by_ids = AggregateExec::try_new(
        *aggregate.mode(),
        aggregate.group_expr().clone(),
        aggregate.aggr_expr().to_vec(),
        aggregate.filter_expr().to_vec(),
        encoded,
        aggregate.input_schema(),
    )?
    .with_limit_options(aggregate.limit_options());
    let by_position = ids
        .into_iter()
        .map(|(position, _, ids)| (position, ids))
        .collect();
    Ok((Arc::new(by_ids), by_position))
}

/// `by_ids` with its key columns turned back into strings, standing in for `replaced`.
fn decoded(
    by_ids: Arc<dyn ExecutionPlan>,
    ids: Dictionaries,
    replaced: &Arc<dyn ExecutionPlan>,
) -> Arc<dyn ExecutionPlan> {
    Arc::new(DecodeStringsExec::new(
        by_ids,
        ids,
        replaced.properties().clone(),
    ))
}
