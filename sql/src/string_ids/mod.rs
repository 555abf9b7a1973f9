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
mod column_map;
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
pub use dictionary::StringIds;
pub use encode::EncodeStringsExec;

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

/// The aggregation at `node` grouping by keys, or `None` when it does not qualify.
fn rewrite(node: &Arc<dyn ExecutionPlan>) -> Result<Option<Arc<dyn ExecutionPlan>>> {
    let Some(aggregate) = node.downcast_ref::<AggregateExec>() else {
        return Ok(None);
    };
    let ids = Arc::new(StringIds::default());
    let by_keys = match aggregate.mode() {
        AggregateMode::Single | AggregateMode::SinglePartitioned => {
            let Some(column) = encodable_group(aggregate) else {
                return Ok(None);
            };
            over(aggregate, encoded(aggregate, column, &ids)?)?
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
            if *partial.mode() != AggregateMode::Partial || !groups_by_first_column(aggregate) {
                return Ok(None);
            }
            let Some(column) = encodable_group(partial) else {
                return Ok(None);
            };
            let mut input = over(partial, encoded(partial, column, &ids)?)?;
            for exchange in exchanges.into_iter().rev() {
                input = exchange.replace_children(
                    vec![input],
                    ReplaceChildrenOptions::new(ChildrenPropertiesMode::Recompute),
                )?;
            }
            over(aggregate, input)?
        }
        _ => return Ok(None),
    };
    // The only grouping expression is the aggregation's first output column.
    Ok(Some(Arc::new(DecodeStringsExec::new(
        by_keys,
        0,
        ids,
        node.properties().clone(),
    ))))
}

/// The input column index of `aggregate`'s grouping expression if it can be grouped by
/// keys: a single plain `Utf8View` column that no aggregate argument, ordering or filter
/// reads.
fn encodable_group(aggregate: &AggregateExec) -> Option<usize> {
    let group_by = aggregate.group_expr();
    // Grouping by several columns, DataFusion compares string views a column and a batch
    // at a time, as fast as it compares keys: encoding would only add its own pass.
    let [(expression, _)] = group_by.expr() else {
        return None;
    };
    // A top-k aggregation may keep the groups first in the strings' order, which keys do
    // not have.
    let ordered_limit = aggregate
        .limit_options()
        .is_some_and(|limit| limit.descending.is_some());
    if !group_by.is_single()
        || *aggregate.input_order_mode() != InputOrderMode::Linear
        || ordered_limit
    {
        return None;
    }
    let column = expression.downcast_ref::<Column>()?;
    if aggregate.input().schema().field(column.index()).data_type() != &DataType::Utf8View {
        return None;
    }
    let mut read_otherwise = aggregate
        .aggr_expr()
        .iter()
        .flat_map(|function| {
            let expressions = function.all_expressions();
            expressions
                .args
                .into_iter()
                .chain(expressions.order_by_exprs)
        })
        .chain(aggregate.filter_expr().iter().flatten().cloned());
    if read_otherwise.any(|expression| collect_columns(&expression).contains(column)) {
        return None;
    }
    Some(column.index())
}

/// Whether `aggregate` (a final phase) groups by its input's first column, as a final
/// phase reading a partial one grouping by one expression does.
fn groups_by_first_column(aggregate: &AggregateExec) -> bool {
    matches!(
        aggregate.group_expr().expr(),
        [(expression, _)] if expression
            .downcast_ref::<Column>()
            .is_some_and(|column| column.index() == 0)
    )
}

/// `aggregate`'s input with the strings of `column` replaced by keys with ids from `ids`.
fn encoded(
    aggregate: &AggregateExec,
    column: usize,
    ids: &Arc<StringIds>,
) -> Result<Arc<dyn ExecutionPlan>> {
    Ok(Arc::new(EncodeStringsExec::try_new(
        aggregate.input().clone(),
        column,
        Arc::clone(ids),
    )?))
}

/// `aggregate` over `input` instead of its own input, its schema computed from `input`'s.
fn over(
    aggregate: &AggregateExec,
    input: Arc<dyn ExecutionPlan>,
) -> Result<Arc<dyn ExecutionPlan>> {
    let rebuilt = AggregateExec::try_new(
        *aggregate.mode(),
        aggregate.group_expr().clone(),
        aggregate.aggr_expr().to_vec(),
        aggregate.filter_expr().to_vec(),
        input,
        aggregate.input_schema(),
    )?
    .with_limit_options(aggregate.limit_options());
    Ok(Arc::new(rebuilt))
}
