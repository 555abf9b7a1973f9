//! An aggregate joined on its group keys computes only the groups the join can match.
//!
//! DataFusion turns a correlated subquery such as TPC-H Q17's
//! `l_quantity < (SELECT 0.2 * avg(l_quantity) FROM lineitem WHERE l_partkey = p_partkey)`
//! into a join with an aggregate over the whole table, grouped by the correlated column:
//! 200,000 groups from 6 million rows, of which the join then matches the 204 parts the
//! outer query keeps. When a join's keys on one side are group columns of an aggregate,
//! and that side's rows appear in the result only when matched (an inner join, the
//! non-preserved side of an outer join, the filtered side of a semi or anti join), an
//! aggregate group whose key the other side does not hold never shows. Rows the other
//! side's keys do not match can then leave the aggregate's input before it groups them: a
//! semi join with the part of the other side those keys come from (followed down through
//! inner joins and projections, keeping its filters), which holds every key the other side
//! can hold. Whole groups leave, so every group left is computed from all its rows.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, NullEquality, Result};
use datafusion::logical_expr::logical_plan::{
    Aggregate, Filter, Join, JoinConstraint, JoinType, Projection, SubqueryAlias,
};
use datafusion::logical_expr::{Expr, LogicalPlan, TableScan};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use crate::aggregated_before_join::is_pre_aggregate;
use crate::join_estimate;
use crate::options::logical_rule_on;
use crate::skipping::HandedOut;
use crate::table_figures::Figures;

/// The alias of the keys' source inside an aggregate's input.
const KEYS_ALIAS: &str = "__weir_joined_keys";
/// The keys' source must be estimated to hold fewer rows than this share of the
/// aggregate's groups for the semi join to be worth its probe (TPC-H's Q18 joins an
/// aggregate of lineitem by order with orders, which holds every order: no narrowing).
const MAX_SOURCE_SHARE: f64 = 0.1;

/// The logical optimizer rule narrowing an aggregate to the groups a join on its group
/// columns can match. Off when the session's `weir.joined_groups_only`
/// ([`WeirOptions`](crate::options::WeirOptions)) is false. It narrows only when the
/// keys' source is a lake table part estimated under `MAX_SOURCE_SHARE` of the
/// aggregate's groups ([`crate::join_estimate`]).
#[derive(Debug)]
pub struct JoinedGroupsOnly {
    handed: Arc<HandedOut>,
}

impl JoinedGroupsOnly {
    /// The rule, finding the figures of the lake tables a statement scans in `handed`.
    pub fn new(handed: Arc<HandedOut>) -> Self {
        Self { handed }
    }

    /// `grouped` (a join input) with its aggregate narrowed to the keys of `other`, where
    /// `keys` pairs each join key column of `grouped` with the one of `other`; `None`
    /// when it has no such aggregate or narrowing does not pay.
    fn narrowed(
        &self,
        grouped: &LogicalPlan,
        other: &LogicalPlan,
        keys: &[(Column, Column)],
    ) -> Option<LogicalPlan> {
        let other_columns: Vec<Column> = keys.iter().map(|(_, o)| o.clone()).collect();
        let source = key_source(other, &other_columns);
        let figures = |scan: &TableScan| self.handed.scan_figures(scan);
        let source_rows = join_estimate::leaf(source, &figures)?.rows;
        let source = LogicalPlan::SubqueryAlias(
            SubqueryAlias::try_new(Arc::new(source.clone()), KEYS_ALIAS).ok()?,
        );
        let source_keys = other_columns
            .iter()
            .map(|c| Column::new(Some(KEYS_ALIAS), &c.name))
            .collect::<Vec<_>>();
        let grouped_columns: Vec<Column> = keys.iter().map(|(g, _)| g.clone()).collect();
        let narrow = Narrow {
            source: &source,
            source_keys: &source_keys,
            source_rows,
            figures: &figures,
        };
        narrow.through(grouped, &grouped_columns)
    }
}

impl OptimizerRule for JoinedGroupsOnly {
    fn name(&self) -> &str {
        "weir_joined_groups_only"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !logical_rule_on(config, |on| on.joined_groups_only) {
            return Ok(Transformed::no(plan));
        }
        let LogicalPlan::Join(join) = &plan else {
            return Ok(Transformed::no(plan));
        };
        if join.null_equality != NullEquality::NullEqualsNothing || join.null_aware {
            return Ok(Transformed::no(plan));
        }
        let Some(pairs) = column_pairs(&join.on) else {
            return Ok(Transformed::no(plan));
        };
        // The side whose unmatched rows never show may be narrowed.
        let right_narrowable = matches!(
            join.join_type,
            JoinType::Inner | JoinType::Left | JoinType::LeftSemi | JoinType::LeftAnti
        );
        let left_narrowable = matches!(
            join.join_type,
            JoinType::Inner | JoinType::Right | JoinType::RightSemi | JoinType::RightAnti
        );
        if right_narrowable {
            let keys: Vec<(Column, Column)> =
                pairs.iter().map(|(l, r)| (r.clone(), l.clone())).collect();
            if let Some(right) = self.narrowed(&join.right, &join.left, &keys) {
                return Ok(Transformed::yes(rejoined(
                    join,
                    join.left.clone(),
                    Arc::new(right),
                )?));
            }
        }
        if left_narrowable {
            if let Some(left) = self.narrowed(&join.left, &join.right, &pairs) {
                return Ok(Transformed::yes(rejoined(
                    join,
                    Arc::new(left),
                    join.right.clone(),
                )?));
            }
        }
        Ok(Transformed::no(plan))
    }
}

/// Whether `input`, an aggregate's, is already narrowed: a semi join with keys under
/// [`KEYS_ALIAS`]. The keys' source itself may have changed since (the optimizer's later
/// passes trim the columns it reads), so it is recognised by its alias alone.
fn narrowed_already(input: &LogicalPlan) -> bool {
    matches!(input,
        LogicalPlan::Join(join) if join.join_type == JoinType::RightSemi
            && matches!(join.left.as_ref(),
                LogicalPlan::SubqueryAlias(keys) if keys.alias.table() == KEYS_ALIAS))
}

/// `join` with new inputs.
fn rejoined(join: &Join, left: Arc<LogicalPlan>, right: Arc<LogicalPlan>) -> Result<LogicalPlan> {
    Ok(LogicalPlan::Join(Join::try_new(
        left,
        right,
        join.on.clone(),
        join.filter.clone(),
        join.join_type,
        join.join_constraint,
        join.null_equality,
        join.null_aware,
    )?))
}

/// The join's key pairs as (left, right) columns; `None` when a key is not a column.
pub(crate) fn column_pairs(on: &[(Expr, Expr)]) -> Option<Vec<(Column, Column)>> {
    if on.is_empty() {
        return None;
    }
    on.iter()
        .map(|(l, r)| match (l, r) {
            (Expr::Column(l), Expr::Column(r)) => Some((l.clone(), r.clone())),
            _ => None,
        })
        .collect()
}

/// The part of `plan` the values of `columns` come from: followed down through inner
/// joins (to the input holding them all) and projections that pass them on, stopping at
/// anything that filters or changes them.
fn key_source<'a>(plan: &'a LogicalPlan, columns: &[Column]) -> &'a LogicalPlan {
    let holds = |p: &LogicalPlan| columns.iter().all(|c| p.schema().has_column(c));
    match plan {
        LogicalPlan::Join(join) if join.join_type == JoinType::Inner => {
            if holds(&join.left) {
                key_source(&join.left, columns)
            } else if holds(&join.right) {
                key_source(&join.right, columns)
            } else {
                plan
            }
        }
        LogicalPlan::Projection(projection)
            if columns
                .iter()
                .all(|c| projection.expr.contains(&Expr::Column(c.clone()))) =>
        {
            key_source(&projection.input, columns)
        }
        _ => plan,
    }
}

/// The semi join to put under an aggregate: the keys' source and its key columns.
struct Narrow<'a> {
    source: &'a LogicalPlan,
    source_keys: &'a [Column],
    source_rows: f64,
    figures: &'a dyn Fn(&TableScan) -> Option<Figures>,
}

impl Narrow<'_> {
    /// `plan` with the aggregate that gives `columns` (through projections, aliases and
    /// filters) narrowed to the source's keys; `None` when the columns are not plain
    /// group columns of an aggregate, it is narrowed already, or the source is not small.
    fn through(&self, plan: &LogicalPlan, columns: &[Column]) -> Option<LogicalPlan> {
        match plan {
            LogicalPlan::Projection(projection) => {
                let inner = columns
                    .iter()
                    .map(|c| {
                        let index = projection.schema.index_of_column(c).ok()?;
                        match projection.expr[index].clone().unalias() {
                            Expr::Column(inner) => Some(inner),
                            _ => None,
                        }
                    })
                    .collect::<Option<Vec<_>>>()?;
                let input = self.through(&projection.input, &inner)?;
                Projection::try_new(projection.expr.clone(), Arc::new(input))
                    .ok()
                    .map(LogicalPlan::Projection)
            }
            LogicalPlan::SubqueryAlias(alias) => {
                let inner = columns
                    .iter()
                    .map(|c| {
                        let index = alias.schema.index_of_column(c).ok()?;
                        Some(Column::from(alias.input.schema().qualified_field(index)))
                    })
                    .collect::<Option<Vec<_>>>()?;
                let input = self.through(&alias.input, &inner)?;
                SubqueryAlias::try_new(Arc::new(input), alias.alias.clone())
                    .ok()
                    .map(LogicalPlan::SubqueryAlias)
            }
            LogicalPlan::Filter(filter) => {
                let input = self.through(&filter.input, columns)?;
                Filter::try_new(filter.predicate.clone(), Arc::new(input))
                    .ok()
                    .map(LogicalPlan::Filter)
            }
            LogicalPlan::Aggregate(aggregate) => self.narrowed_aggregate(aggregate, columns),
            _ => None,
        }
    }

    fn narrowed_aggregate(&self, aggregate: &Aggregate, columns: &[Column]) -> Option<LogicalPlan> {
        let inner = columns
            .iter()
            .map(|c| {
                let index = aggregate.schema.index_of_column(c).ok()?;
                match aggregate.group_expr.get(index)?.clone().unalias() {
                    Expr::Column(inner) => Some(inner),
                    _ => None,
                }
            })
            .collect::<Option<Vec<_>>>()?;
        if narrowed_already(&aggregate.input) || is_pre_aggregate(aggregate) {
            return None;
        }
        let whole = LogicalPlan::Aggregate(aggregate.clone());
        let groups = join_estimate::leaf(&whole, self.figures).map(|e| e.rows);
        if groups.is_some_and(|groups| self.source_rows >= groups * MAX_SOURCE_SHARE) {
            return None;
        }
        // The source, small, on the left: the side a hash join builds its table from.
        let on = self
            .source_keys
            .iter()
            .zip(inner)
            .map(|(s, i)| (Expr::Column(s.clone()), Expr::Column(i)))
            .collect();
        let semi = Join::try_new(
            Arc::new(self.source.clone()),
            aggregate.input.clone(),
            on,
            None,
            JoinType::RightSemi,
            JoinConstraint::On,
            NullEquality::NullEqualsNothing,
            false,
        )
        .ok()?;
        Aggregate::try_new(
            Arc::new(LogicalPlan::Join(semi)),
            aggregate.group_expr.clone(),
            aggregate.aggr_expr.clone(),
        )
        .ok()
        .map(LogicalPlan::Aggregate)
    }
}
