//! A large table joined with a small one and grouped by the small one's columns is
//! aggregated by its join key before the join (eager aggregation).
//!
//! `SELECT s.tier, count(*), sum(l.latency_ms) FROM logs l JOIN services s ON l.service =
//! s.service GROUP BY s.tier` probes every row of `logs` into the eight rows of
//! `services`, copies the matching tier into each of the ten million joined rows and then
//! groups them by it. Grouping `logs` by `service` first gives a dozen rows of partial
//! counts and sums; joining those with `services` and adding them up by tier gives the
//! same result, as every row of a group joins the same rows of the other side: an inner
//! join repeats a group's partial result exactly as often as it would repeat each of its
//! rows. `count` becomes the sum of the partial counts, `sum` the sum of the partial sums
//! (cast back to the type the statement's `sum` has), `min` and `max` the extreme of the
//! partial extremes.
//!
//! Grouping first pays when it leaves few groups: at most the distinct values of the
//! large side's key, which are bounded by its span for an integer column and otherwise
//! taken to be at most the small table's rows (a foreign key into it). The rule applies
//! only when that bound is at most [`MAX_GROUPS`], the large side has at least
//! [`MIN_ROWS_PER_GROUP`] times as many rows, and the small side is a table whose filters
//! are expected to keep at least [`MIN_SMALL_SHARE`] of its rows, so that the join keeps
//! most rows of the large side: joined with a few of the small table's rows, the large
//! side is cheaper to aggregate after the join that drops most of it.

use std::sync::Arc;

use datafusion::common::tree_node::{Transformed, TransformedResult, TreeNode};
use datafusion::common::{Column, NullEquality, Result, ScalarValue};
use datafusion::functions::core::expr_fn::coalesce;
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::logical_plan::{Aggregate, Join, JoinType, Projection};
use datafusion::logical_expr::{cast, lit, Expr, ExprSchemable, LogicalPlan, TableScan};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use crate::join_estimate;
use crate::joined_groups_only::column_pairs;
use crate::options::logical_rule_on;
use crate::skipping::HandedOut;
use crate::table_figures::Figures;

/// The prefix of the names of a pre-aggregation's results; an aggregate over them is not
/// aggregated early again, and [`crate::joined_groups_only`] leaves a pre-aggregation
/// alone.
const PRE_AGGREGATE_PREFIX: &str = "__weir_before_join_";
/// The most groups the aggregate before the join may be expected to have.
const MAX_GROUPS: f64 = 16_384.0;
/// The fewest rows of the large side per expected group.
const MIN_ROWS_PER_GROUP: f64 = 32.0;
/// The smallest share of the small table's rows its filters may be expected to keep. A
/// join with a few of them drops most rows of the large side, which is then cheaper to
/// aggregate after the join (TPC-H Q11 joins partsupp with the suppliers of one nation).
const MIN_SMALL_SHARE: f64 = 0.5;

/// The logical optimizer rule aggregating the large side of an inner join by its join key
/// before the join, when the aggregate above the join groups by the small side's columns
/// and aggregates only the large side's (module docs). Off when the session's
/// `weir.aggregate_before_join` ([`WeirOptions`](crate::options::WeirOptions)) is false.
/// It takes `count`, `sum`, `min` and `max` without `DISTINCT`, `FILTER` or `ORDER BY`;
/// any other aggregate, a grouping set, a join condition beyond column equalities or a
/// join input without row figures leaves the aggregate as it is.
#[derive(Debug)]
pub struct AggregatedBeforeJoin {
    handed: Arc<HandedOut>,
}

impl AggregatedBeforeJoin {
    /// The rule, finding the figures of the lake tables a statement scans in `handed`.
    pub fn new(handed: Arc<HandedOut>) -> Self {
        Self { handed }
    }
}

impl OptimizerRule for AggregatedBeforeJoin {
    fn name(&self) -> &str {
        "weir_aggregated_before_join"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !logical_rule_on(config, |on| on.aggregate_before_join) {
            return Ok(Transformed::no(plan));
        }
        let LogicalPlan::Aggregate(aggregate) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let figures = |scan: &TableScan| self.handed.scan_figures(scan);
        match rewritten(aggregate, &figures)? {
            Some(rewritten) => Ok(Transformed::yes(rewritten)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

/// Whether `aggregate` is the aggregate this rule put under a join: its results carry
/// [`PRE_AGGREGATE_PREFIX`].
pub fn is_pre_aggregate(aggregate: &Aggregate) -> bool {
    aggregate
        .aggr_expr
        .iter()
        .any(|e| matches!(e, Expr::Alias(alias) if alias.name.starts_with(PRE_AGGREGATE_PREFIX)))
}

/// How one aggregate of the statement is computed from its partial results.
#[derive(Clone, Copy)]
enum Combine {
    /// The sum of the partial counts, 0 when there are none.
    Count,
    /// The sum of the partial sums.
    Sum,
    /// The smallest partial minimum.
    Min,
    /// The largest partial maximum.
    Max,
}

/// The join an aggregate reads, with the aggregate's expressions written over the join's
/// columns (through a projection between them).
struct OverJoin<'a> {
    join: &'a Join,
    group_expr: Vec<Expr>,
    aggr_expr: Vec<Expr>,
}

/// `aggregate` computed from an aggregate of the join's large side, as a projection with
/// `aggregate`'s schema; `None` when the rule does not apply.
fn rewritten(
    aggregate: &Aggregate,
    figures: &dyn Fn(&TableScan) -> Option<Figures>,
) -> Result<Option<LogicalPlan>> {
    if aggregate.aggr_expr.is_empty()
        || aggregate
            .group_expr
            .iter()
            .any(|e| matches!(e, Expr::GroupingSet(_)))
        || reads_pre_aggregate(&aggregate.aggr_expr)
    {
        return Ok(None);
    }
    let Some(over) = over_join(aggregate)? else {
        return Ok(None);
    };
    let join = over.join;
    if join.join_type != JoinType::Inner
        || join.filter.is_some()
        || join.null_equality != NullEquality::NullEqualsNothing
        || join.null_aware
    {
        return Ok(None);
    }
    let Some(pairs) = column_pairs(&join.on) else {
        return Ok(None);
    };
    let combines = match over
        .aggr_expr
        .iter()
        .map(combine_of)
        .collect::<Option<Vec<_>>>()
    {
        Some(combines) => combines,
        None => return Ok(None),
    };
    for large_is_left in [true, false] {
        let (large, small) = if large_is_left {
            (&join.left, &join.right)
        } else {
            (&join.right, &join.left)
        };
        let large_keys: Vec<Column> = pairs
            .iter()
            .map(|(l, r)| if large_is_left { l } else { r }.clone())
            .collect();
        if !applies(&over, large, small, &large_keys, figures) {
            continue;
        }
        return pre_aggregated(aggregate, &over, &combines, large_is_left, &large_keys).map(Some);
    }
    Ok(None)
}

/// Whether an aggregate expression reads a pre-aggregation's result.
fn reads_pre_aggregate(aggr_expr: &[Expr]) -> bool {
    aggr_expr.iter().any(|e| {
        e.column_refs()
            .iter()
            .any(|c| c.name.starts_with(PRE_AGGREGATE_PREFIX))
    })
}

/// The join under `aggregate`, directly or under a projection, with the aggregate's
/// expressions written over the join's columns.
fn over_join(aggregate: &Aggregate) -> Result<Option<OverJoin<'_>>> {
    match aggregate.input.as_ref() {
        LogicalPlan::Join(join) => Ok(Some(OverJoin {
            join,
            group_expr: aggregate.group_expr.clone(),
            aggr_expr: aggregate.aggr_expr.clone(),
        })),
        LogicalPlan::Projection(projection) => {
            let LogicalPlan::Join(join) = projection.input.as_ref() else {
                return Ok(None);
            };
            let inline = |e: &Expr| inlined(e, projection);
            Ok(Some(OverJoin {
                join,
                group_expr: aggregate
                    .group_expr
                    .iter()
                    .map(inline)
                    .collect::<Result<_>>()?,
                aggr_expr: aggregate
                    .aggr_expr
                    .iter()
                    .map(inline)
                    .collect::<Result<_>>()?,
            }))
        }
        _ => Ok(None),
    }
}

/// `expr` with each column of `projection`'s output replaced by the expression giving it.
fn inlined(expr: &Expr, projection: &Projection) -> Result<Expr> {
    expr.clone()
        .transform_up(|e| match &e {
            Expr::Column(column) => {
                let index = projection.schema.index_of_column(column)?;
                Ok(Transformed::yes(projection.expr[index].clone().unalias()))
            }
            _ => Ok(Transformed::no(e)),
        })
        .data()
}

/// How the plain aggregate call `expr` (perhaps aliased) is combined from partial results;
/// `None` for anything else.
fn combine_of(expr: &Expr) -> Option<Combine> {
    let Expr::AggregateFunction(AggregateFunction { func, params }) = unaliased(expr) else {
        return None;
    };
    if params.distinct
        || params.filter.is_some()
        || !params.order_by.is_empty()
        || params.null_treatment.is_some()
    {
        return None;
    }
    match func.name() {
        "count" => Some(Combine::Count),
        "sum" => Some(Combine::Sum),
        "min" => Some(Combine::Min),
        "max" => Some(Combine::Max),
        _ => None,
    }
}

fn unaliased(expr: &Expr) -> &Expr {
    match expr {
        Expr::Alias(alias) => unaliased(&alias.expr),
        other => other,
    }
}

/// Whether aggregating `large` by `large_keys` before its join with `small` applies: the
/// aggregates read only `large`, the groups are `small`'s columns or `large`'s keys, and
/// the figures expect few groups for many rows and a join that keeps most of them.
fn applies(
    over: &OverJoin,
    large: &LogicalPlan,
    small: &LogicalPlan,
    large_keys: &[Column],
    figures: &dyn Fn(&TableScan) -> Option<Figures>,
) -> bool {
    let reads_only_large = over
        .aggr_expr
        .iter()
        .all(|e| e.column_refs().iter().all(|c| large.schema().has_column(c)));
    let groups_small_or_keys = over.group_expr.iter().all(|e| match e {
        Expr::Column(c) => small.schema().has_column(c) || large_keys.contains(c),
        _ => false,
    });
    if !reads_only_large || !groups_small_or_keys {
        return false;
    }
    let Some(large_estimate) = join_estimate::leaf(large, figures) else {
        return false;
    };
    let key_distinct = match large_keys {
        [key] => large_estimate.distinct(key),
        _ => None,
    };
    let (Some(small_estimate), Some(small_table_rows)) = (
        join_estimate::leaf(small, figures),
        table_rows(small, figures),
    ) else {
        return false;
    };
    let groups = key_distinct.unwrap_or(small_table_rows);
    groups <= MAX_GROUPS
        && large_estimate.rows >= groups * MIN_ROWS_PER_GROUP
        && small_estimate.rows >= small_table_rows * MIN_SMALL_SHARE
}

/// The rows of the table `plan` scans (before its filters), through filters, projections
/// and aliases.
fn table_rows(plan: &LogicalPlan, figures: &dyn Fn(&TableScan) -> Option<Figures>) -> Option<f64> {
    match plan {
        LogicalPlan::TableScan(scan) => figures(scan).map(|f| f.rows as f64),
        LogicalPlan::Filter(filter) => table_rows(&filter.input, figures),
        LogicalPlan::Projection(projection) => table_rows(&projection.input, figures),
        LogicalPlan::SubqueryAlias(alias) => table_rows(&alias.input, figures),
        _ => None,
    }
}

/// The rewritten plan: the large side aggregated by its keys, joined with the small side,
/// the partial results combined by the statement's groups, and a projection giving
/// `aggregate`'s schema.
fn pre_aggregated(
    aggregate: &Aggregate,
    over: &OverJoin,
    combines: &[Combine],
    large_is_left: bool,
    large_keys: &[Column],
) -> Result<LogicalPlan> {
    let join = over.join;
    let large = if large_is_left {
        &join.left
    } else {
        &join.right
    };
    let partial_names: Vec<String> = (0..over.aggr_expr.len())
        .map(|i| format!("{PRE_AGGREGATE_PREFIX}{i}"))
        .collect();
    let partials = over
        .aggr_expr
        .iter()
        .zip(&partial_names)
        .map(|(e, name)| unaliased(e).clone().alias(name))
        .collect();
    let keys = large_keys.iter().cloned().map(Expr::Column).collect();
    let pre = Arc::new(LogicalPlan::Aggregate(Aggregate::try_new(
        large.clone(),
        keys,
        partials,
    )?));
    let (left, right) = if large_is_left {
        (pre, join.right.clone())
    } else {
        (join.left.clone(), pre)
    };
    let joined = LogicalPlan::Join(Join::try_new(
        left,
        right,
        join.on.clone(),
        None,
        JoinType::Inner,
        join.join_constraint,
        join.null_equality,
        false,
    )?);
    let combined_calls = combines
        .iter()
        .zip(&partial_names)
        .map(|(combine, name)| {
            let partial = Expr::Column(Column::from_name(name));
            match combine {
                Combine::Count | Combine::Sum => datafusion::functions_aggregate::sum::sum(partial),
                Combine::Min => datafusion::functions_aggregate::min_max::min(partial),
                Combine::Max => datafusion::functions_aggregate::min_max::max(partial),
            }
        })
        .collect();
    let combined = Aggregate::try_new(Arc::new(joined), over.group_expr.clone(), combined_calls)?;
    let groups = aggregate.group_expr.len();
    let mut projected = Vec::with_capacity(aggregate.schema.fields().len());
    for i in 0..aggregate.schema.fields().len() {
        let (qualifier, field) = aggregate.schema.qualified_field(i);
        let value = Expr::Column(Column::from(combined.schema.qualified_field(i)));
        let value = match i.checked_sub(groups).map(|position| combines[position]) {
            Some(Combine::Count) => coalesce(vec![value, lit(ScalarValue::Int64(Some(0)))]),
            _ => value,
        };
        let value = if value.get_type(&combined.schema)? == *field.data_type() {
            value
        } else {
            cast(value, field.data_type().clone())
        };
        projected.push(value.alias_qualified(qualifier.cloned(), field.name()));
    }
    let projection = Projection::try_new(projected, Arc::new(LogicalPlan::Aggregate(combined)))?;
    Ok(LogicalPlan::Projection(projection))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_plain_decomposable_aggregates_are_combined() {
        use datafusion::functions_aggregate::expr_fn::{avg, count, count_distinct, max, sum};
        use datafusion::logical_expr::col;
        assert!(matches!(
            combine_of(&count(col("a")).alias("n")),
            Some(Combine::Count)
        ));
        assert!(matches!(combine_of(&sum(col("a"))), Some(Combine::Sum)));
        assert!(matches!(combine_of(&max(col("a"))), Some(Combine::Max)));
        assert!(combine_of(&avg(col("a"))).is_none());
        assert!(combine_of(&count_distinct(col("a"))).is_none());
        assert!(combine_of(&col("a")).is_none());
    }
}
