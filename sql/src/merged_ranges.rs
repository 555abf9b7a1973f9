//! Closed ranges of one column that a filter ORs together are merged where they overlap.
//!
//! TPC-H Q19 joins lineitem with part under three alternatives, each with its own range
//! of `l_quantity`; DataFusion pushes the lineitem side of the alternatives down to the
//! scan as `(q >= 1 AND q <= 11) OR (q >= 10 AND q <= 20) OR (q >= 20 AND q <= 30)`, six
//! decimal comparisons and five boolean operations per row of six million. The three
//! ranges overlap, so the filter is `q >= 1 AND q <= 30`. [`MergedRanges`] rewrites an OR
//! whose every side is such a closed range (`c >= a AND c <= b`, or `c BETWEEN a AND b`)
//! of the same column, with literal bounds of one type, into the fewest ranges that cover
//! the same values: ranges are merged only when they share a value (`next.low <=
//! high`), so no value between them is let in, whatever the type. A null column value is
//! outside every range either way. A filter left with one condition twice keeps it once.

use std::cmp::Ordering;

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{Column, Result, ScalarValue};
use datafusion::logical_expr::utils::{
    conjunction, disjunction, split_binary, split_conjunction, split_conjunction_owned,
};
use datafusion::logical_expr::{Between, BinaryExpr, Expr, Filter, LogicalPlan, Operator};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use crate::options::logical_rule_on;

/// The logical optimizer rule merging overlapping closed ranges of one column in the
/// ORs of filters and of the filters handed to scans (module docs). Off when the
/// session's `weir.merged_ranges` ([`WeirOptions`](crate::options::WeirOptions)) is false.
#[derive(Debug, Default)]
pub struct MergedRanges;

impl OptimizerRule for MergedRanges {
    fn name(&self) -> &str {
        "weir_merged_ranges"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !logical_rule_on(config, |on| on.merged_ranges)
            || !matches!(plan, LogicalPlan::Filter(_) | LogicalPlan::TableScan(_))
        {
            return Ok(Transformed::no(plan));
        }
        let plan = plan.map_expressions(|expr| expr.transform_up(merged))?;
        if !plan.transformed {
            return Ok(plan);
        }
        // Merged ranges of two conditions that DataFusion derived apart (a join's
        // condition and the filter pushed down from it) can be one condition twice.
        plan.map_data(|plan| match plan {
            LogicalPlan::Filter(filter) => {
                let mut kept: Vec<Expr> = Vec::new();
                for condition in split_conjunction_owned(filter.predicate) {
                    if !kept.contains(&condition) {
                        kept.push(condition);
                    }
                }
                let predicate = conjunction(kept).expect("a filter has a condition");
                Filter::try_new(predicate, filter.input).map(LogicalPlan::Filter)
            }
            other => Ok(other),
        })
    }
}

/// A closed range of a column: `low <= column <= high`.
#[derive(Debug, Clone)]
struct Range {
    column: Column,
    low: ScalarValue,
    high: ScalarValue,
}

/// `expr` as fewer ranges when it is an OR of overlapping closed ranges of one column.
fn merged(expr: Expr) -> Result<Transformed<Expr>> {
    if !matches!(
        &expr,
        Expr::BinaryExpr(BinaryExpr {
            op: Operator::Or,
            ..
        })
    ) {
        return Ok(Transformed::no(expr));
    }
    let Some(mut ranges) = split_binary(&expr, Operator::Or)
        .into_iter()
        .map(range)
        .collect::<Option<Vec<_>>>()
    else {
        return Ok(Transformed::no(expr));
    };
    let first = &ranges[0];
    let comparable = |r: &Range| {
        r.column == first.column
            && r.low.data_type() == first.low.data_type()
            && r.high.data_type() == first.low.data_type()
            && r.low.partial_cmp(&r.high).is_some()
    };
    if !ranges.iter().all(comparable) {
        return Ok(Transformed::no(expr));
    }
    let count = ranges.len();
    ranges.sort_by(|a, b| a.low.partial_cmp(&b.low).unwrap_or(Ordering::Equal));
    let mut kept: Vec<Range> = Vec::with_capacity(count);
    for next in ranges {
        match kept.last_mut() {
            Some(last) if next.low <= last.high => {
                if next.high > last.high {
                    last.high = next.high;
                }
            }
            _ => kept.push(next),
        }
    }
    if kept.len() == count {
        return Ok(Transformed::no(expr));
    }
    let rewritten = disjunction(kept.into_iter().map(|r| {
        let column = Expr::Column(r.column);
        column
            .clone()
            .gt_eq(Expr::Literal(r.low, None))
            .and(column.lt_eq(Expr::Literal(r.high, None)))
    }))
    .expect("at least one range is kept");
    Ok(Transformed::yes(rewritten))
}

/// `expr` as a closed range of a column with non-null literal bounds: `c BETWEEN a AND b`,
/// or the AND of one lower bound (`c >= a`, `a <= c`) and one upper bound (`c <= b`,
/// `b >= c`).
fn range(expr: &Expr) -> Option<Range> {
    if let Expr::Between(Between {
        expr,
        negated: false,
        low,
        high,
    }) = expr
    {
        return Some(Range {
            column: column(expr)?,
            low: literal(low)?,
            high: literal(high)?,
        });
    }
    let [first, second] = split_conjunction(expr)[..] else {
        return None;
    };
    let (mut low, mut high) = (None, None);
    for side in [first, second] {
        let (column, bound, is_low) = bound(side)?;
        let slot = if is_low { &mut low } else { &mut high };
        if slot.replace((column, bound)).is_some() {
            return None;
        }
    }
    let ((low_column, low), (high_column, high)) = (low?, high?);
    (low_column == high_column).then_some(Range {
        column: low_column,
        low,
        high,
    })
}

/// A comparison of a column with a literal as `(column, literal, is a lower bound)`, for
/// `>=` and `<=` either way round.
fn bound(expr: &Expr) -> Option<(Column, ScalarValue, bool)> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = expr else {
        return None;
    };
    match (column(left), column(right), op) {
        (Some(c), None, Operator::GtEq) => Some((c, literal(right)?, true)),
        (Some(c), None, Operator::LtEq) => Some((c, literal(right)?, false)),
        (None, Some(c), Operator::LtEq) => Some((c, literal(left)?, true)),
        (None, Some(c), Operator::GtEq) => Some((c, literal(left)?, false)),
        _ => None,
    }
}

fn column(expr: &Expr) -> Option<Column> {
    match expr {
        Expr::Column(column) => Some(column.clone()),
        _ => None,
    }
}

/// A non-null literal's value.
fn literal(expr: &Expr) -> Option<ScalarValue> {
    match expr {
        Expr::Literal(value, _) if !value.is_null() => Some(value.clone()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::logical_expr::{col, lit};

    fn range_of(c: &str, low: i64, high: i64) -> Expr {
        col(c).gt_eq(lit(low)).and(col(c).lt_eq(lit(high)))
    }

    fn rewrite(expr: Expr) -> Expr {
        expr.transform_up(merged).unwrap().data
    }

    #[test]
    fn overlapping_ranges_become_one_and_apart_ones_stay() {
        let q19 = range_of("q", 1, 11)
            .or(range_of("q", 10, 20))
            .or(range_of("q", 20, 30));
        assert_eq!(rewrite(q19), range_of("q", 1, 30));

        let mixed = col("q")
            .between(lit(40i64), lit(50i64))
            .or(lit(5i64).lt_eq(col("q")).and(lit(9i64).gt_eq(col("q"))))
            .or(range_of("q", 45, 60))
            .or(range_of("q", 1, 6));
        assert_eq!(
            rewrite(mixed),
            range_of("q", 1, 9).or(range_of("q", 40, 60))
        );
    }

    #[test]
    fn anything_else_is_left_alone() {
        let cases = [
            // Ranges that share no value (whether a value lies between is not asked).
            range_of("q", 1, 11).or(range_of("q", 12, 20)),
            // Two columns.
            range_of("q", 1, 11).or(range_of("p", 5, 20)),
            // An open bound.
            col("q")
                .gt(lit(1i64))
                .and(col("q").lt_eq(lit(11i64)))
                .or(range_of("q", 5, 20)),
            // A side that is not a range.
            range_of("q", 1, 11).or(col("p").eq(lit(3i64))),
            // Two lower bounds.
            col("q")
                .gt_eq(lit(1i64))
                .and(col("q").gt_eq(lit(5i64)))
                .or(range_of("q", 2, 20)),
            // A null bound.
            col("q")
                .gt_eq(lit(ScalarValue::Int64(None)))
                .and(col("q").lt_eq(lit(11i64)))
                .or(range_of("q", 5, 20)),
            // Bounds of different types.
            range_of("q", 1, 11).or(col("q").gt_eq(lit(5i32)).and(col("q").lt_eq(lit(20i32)))),
        ];
        for expr in cases {
            assert_eq!(rewrite(expr.clone()), expr);
        }
    }
}
