//! Semi and anti joins move below the inner joins they filter.
//!
//! DataFusion plans `WHERE key IN (subquery)` and `[NOT] EXISTS` as a semi (anti) join on
//! top of the query's other joins, so the subquery's few keys are matched last, against
//! every row the joins made. TPC-H's Q18 joins customer, orders and lineitem (6 million
//! rows) first and only then keeps the orders of its 57-row subquery. A semi join on keys
//! of one input of an inner join gives the same rows below that join, applied to that
//! input: `(A ⋈ B) ⋉ S = (A ⋉ S) ⋈ B` when the semi join's keys are A's columns, and the
//! same holds for anti joins. Moved there, it filters before the rows multiply.

use std::sync::Arc;

use datafusion::common::tree_node::Transformed;
use datafusion::common::{Column, Result};
use datafusion::logical_expr::logical_plan::{Filter, Join, JoinType, Projection};
use datafusion::logical_expr::{Expr, LogicalPlan};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use crate::options::logical_rule_on;

/// The logical optimizer rule that moves a semi or anti join below the inner joins (and
/// the projections and filters on top of them) whose one input holds all the columns of
/// its keys. Only joins without a non-equality condition and not null-aware (`NOT IN`)
/// move. Off when the session's `weir.semi_joins_first`
/// ([`WeirOptions`](crate::options::WeirOptions)) is false.
#[derive(Debug, Default)]
pub struct SemiJoinsFirst;

impl OptimizerRule for SemiJoinsFirst {
    fn name(&self) -> &str {
        "weir_semi_joins_first"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        let enabled = logical_rule_on(config, |on| on.semi_joins_first);
        let LogicalPlan::Join(semi) = &plan else {
            return Ok(Transformed::no(plan));
        };
        let movable = matches!(semi.join_type, JoinType::LeftSemi | JoinType::LeftAnti)
            && semi.filter.is_none()
            && !semi.null_aware;
        let Some(keys) = movable.then(|| key_columns(semi)).flatten() else {
            return Ok(Transformed::no(plan));
        };
        if !enabled {
            return Ok(Transformed::no(plan));
        }
        match below(&semi.left, semi, &keys)? {
            Some(moved) => Ok(Transformed::yes(moved)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

/// The columns the left sides of `semi`'s keys read; `None` when a key reads none (a
/// constant).
fn key_columns(semi: &Join) -> Option<Vec<Column>> {
    let mut columns = Vec::new();
    for (left, _) in &semi.on {
        let refs = left.column_refs();
        if refs.is_empty() {
            return None;
        }
        columns.extend(refs.into_iter().cloned());
    }
    Some(columns)
}

/// `input` (the semi join's left input, or a part of it) with `semi` applied as far down
/// as it can go; `None` when it cannot go below `input` itself.
fn below(input: &LogicalPlan, semi: &Join, keys: &[Column]) -> Result<Option<LogicalPlan>> {
    Ok(match input {
        LogicalPlan::Projection(projection) => {
            let passed = keys.iter().all(|key| {
                projection
                    .expr
                    .iter()
                    .any(|e| matches!(e, Expr::Column(c) if c == key))
            });
            if !passed {
                return Ok(None);
            }
            below(&projection.input, semi, keys)?
                .map(|moved| {
                    Projection::try_new(projection.expr.clone(), Arc::new(moved))
                        .map(LogicalPlan::Projection)
                })
                .transpose()?
        }
        LogicalPlan::Filter(filter) => below(&filter.input, semi, keys)?
            .map(|moved| {
                Filter::try_new(filter.predicate.clone(), Arc::new(moved)).map(LogicalPlan::Filter)
            })
            .transpose()?,
        LogicalPlan::Join(join) if join.join_type == JoinType::Inner => {
            let holds = |side: &LogicalPlan| keys.iter().all(|k| side.schema().has_column(k));
            let (left, right) = if holds(&join.left) {
                (
                    Arc::new(applied(&join.left, semi, keys)?),
                    join.right.clone(),
                )
            } else if holds(&join.right) {
                (
                    join.left.clone(),
                    Arc::new(applied(&join.right, semi, keys)?),
                )
            } else {
                return Ok(None);
            };
            Some(LogicalPlan::Join(Join::try_new(
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
        _ => None,
    })
}

/// `semi` applied to `input`: below it when it can go further, else directly on it.
fn applied(input: &Arc<LogicalPlan>, semi: &Join, keys: &[Column]) -> Result<LogicalPlan> {
    if let Some(moved) = below(input, semi, keys)? {
        return Ok(moved);
    }
    Ok(LogicalPlan::Join(Join::try_new(
        input.clone(),
        semi.right.clone(),
        semi.on.clone(),
        None,
        semi.join_type,
        semi.join_constraint,
        semi.null_equality,
        false,
    )?))
}
