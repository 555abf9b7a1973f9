//! Row estimates of the inputs and results of inner joins, for the join order
//! ([`crate::join_order`]).
//!
//! A table scan starts from the rows of its table version and the value spans of its
//! integer and date columns ([`crate::table_figures`]). A range condition on a column with
//! a known span keeps the share of the span it covers; an equality keeps one distinct
//! value's share; other conditions keep fixed shares (a tenth for an equality on a column
//! of unknown span, a third for a range, half for anything else). A join keeps
//! `|A| × |B| / max(distinct(a), distinct(b))` for a key pair; when neither key's span is
//! known, the smaller input's key is taken to be unique (a primary key). The figures
//! only have to rank join orders, not to be right.

use std::collections::HashMap;

use datafusion::common::{Column, ScalarValue};
use datafusion::logical_expr::utils::split_conjunction;
use datafusion::logical_expr::{BinaryExpr, Expr, JoinType, LogicalPlan, Operator, TableScan};

use crate::table_figures::Figures;

/// The share kept by a condition nothing is known about.
const UNKNOWN_SHARE: f64 = 0.5;
/// The share kept by an equality on a column of unknown distinct values.
const EQUALITY_SHARE: f64 = 0.1;
/// The share kept by one side of a range on a column of unknown span.
const RANGE_SHARE: f64 = 0.33;

/// A join key: a left and a right expression, and the class of equal columns it belongs
/// to (keys of one class narrow a join once).
pub type Key = (Expr, Expr, usize);

/// The estimated rows of a join input or result and the distinct values of its columns.
#[derive(Debug, Clone)]
pub struct Estimate {
    /// Rows, at least 1.
    pub rows: f64,
    distinct: HashMap<Column, f64>,
}

impl Estimate {
    /// The distinct values of `column` when its figures bound them (at most the rows).
    pub fn distinct(&self, column: &Column) -> Option<f64> {
        self.distinct.get(column).map(|d| d.clamp(1.0, self.rows))
    }

    /// The distinct values of a key expression: its column's known figure (at most the
    /// rows), if any.
    fn key_distinct(&self, key: &Expr) -> Option<f64> {
        match key {
            Expr::Column(column) => self.distinct(column),
            _ => None,
        }
    }
}

/// The estimate of `leaf`, a join input: a table scan under filters, projections, aliases,
/// semi and anti joins and aggregates; `None` for anything else or a scan without
/// `figures`.
pub fn leaf(
    leaf: &LogicalPlan,
    figures: &dyn Fn(&TableScan) -> Option<Figures>,
) -> Option<Estimate> {
    let named = by_name(leaf, figures)?;
    let distinct = leaf
        .schema()
        .iter()
        .filter_map(|(qualifier, field)| {
            let values = named.distinct.get(field.name())?;
            Some((Column::new(qualifier.cloned(), field.name()), *values))
        })
        .collect();
    Some(Estimate {
        rows: named.rows,
        distinct,
    })
}

/// The estimate of joining `left` and `right` on `keys` under `filters`. Each class of
/// keys divides by its largest distinct count; several classes (a composite key) divide
/// by the product, but never by more than the larger input's rows, as a composite key
/// is usually one input's primary key.
pub fn joined(left: &Estimate, right: &Estimate, keys: &[Key], filters: &[Expr]) -> Estimate {
    let mut by_class: HashMap<usize, f64> = HashMap::new();
    for (l, r, class) in keys {
        let distinct = match (left.key_distinct(l), right.key_distinct(r)) {
            (Some(a), Some(b)) => a.max(b),
            (Some(known), None) | (None, Some(known)) => known,
            (None, None) => left.rows.min(right.rows),
        };
        let kept = by_class.entry(*class).or_insert(1.0);
        *kept = kept.max(distinct);
    }
    let divisor = match by_class.len() {
        0 | 1 => by_class.values().copied().fold(1.0, f64::max),
        _ => by_class
            .values()
            .product::<f64>()
            .min(left.rows.max(right.rows)),
    };
    let mut distinct = left.distinct.clone();
    distinct.extend(right.distinct.iter().map(|(c, d)| (c.clone(), *d)));
    let mut joined = Estimate {
        rows: left.rows * right.rows / divisor,
        distinct,
    };
    let share: f64 = filters
        .iter()
        .map(|f| share(f, &|c| joined.distinct.get(c).copied()))
        .product();
    joined.rows = (joined.rows * share).max(1.0);
    let rows = joined.rows;
    joined.distinct.values_mut().for_each(|d| *d = d.min(rows));
    joined
}

/// An estimate whose columns go by their names, inside one join input.
struct Named {
    rows: f64,
    distinct: HashMap<String, f64>,
    bounds: HashMap<String, (i64, i64)>,
    applied: Vec<Expr>,
}

fn by_name(plan: &LogicalPlan, figures: &dyn Fn(&TableScan) -> Option<Figures>) -> Option<Named> {
    match plan {
        LogicalPlan::TableScan(scan) => {
            let figures = figures(scan)?;
            let rows = figures.rows as f64;
            let named = Named {
                rows: rows.max(1.0),
                distinct: figures
                    .bounds
                    .iter()
                    .map(|(c, (low, high))| {
                        (c.clone(), (high.abs_diff(*low) as f64 + 1.0).min(rows))
                    })
                    .collect(),
                bounds: figures.bounds,
                applied: Vec::new(),
            };
            let mut named = filtered(named, scan.filters.iter());
            if let Some(fetch) = scan.fetch {
                named.rows = named.rows.min(fetch as f64).max(1.0);
            }
            Some(named)
        }
        LogicalPlan::Filter(filter) => {
            let named = by_name(&filter.input, figures)?;
            Some(filtered(
                named,
                split_conjunction(&filter.predicate).into_iter(),
            ))
        }
        LogicalPlan::Projection(projection) => by_name(&projection.input, figures),
        LogicalPlan::SubqueryAlias(alias) => by_name(&alias.input, figures),
        LogicalPlan::Join(join)
            if matches!(join.join_type, JoinType::LeftSemi | JoinType::LeftAnti) =>
        {
            let mut named = by_name(&join.left, figures)?;
            let matched = semi_share(&named, join, figures);
            let kept = if join.join_type == JoinType::LeftSemi {
                matched
            } else {
                1.0 - matched
            };
            named.rows = (named.rows * kept).max(1.0);
            Some(named)
        }
        LogicalPlan::Aggregate(aggregate) => {
            let input = by_name(&aggregate.input, figures)?;
            let mut groups = 1.0f64;
            let mut distinct = HashMap::new();
            for expr in &aggregate.group_expr {
                let values = match expr {
                    Expr::Column(c) => input.distinct.get(&c.name).copied(),
                    _ => None,
                }
                .unwrap_or(input.rows);
                groups *= values;
                if let Expr::Column(c) = expr {
                    distinct.insert(c.name.clone(), values);
                }
            }
            Some(Named {
                rows: groups.min(input.rows).max(1.0),
                distinct,
                bounds: HashMap::new(),
                applied: Vec::new(),
            })
        }
        _ => None,
    }
}

/// The share of `left`'s rows a semi join keeps: of the distinct values of its first key
/// column, as many as the right side has rows; half when either is unknown.
fn semi_share(
    left: &Named,
    join: &datafusion::logical_expr::logical_plan::Join,
    figures: &dyn Fn(&TableScan) -> Option<Figures>,
) -> f64 {
    let Some((Expr::Column(key), _)) = join.on.first() else {
        return UNKNOWN_SHARE;
    };
    match (left.distinct.get(&key.name), by_name(&join.right, figures)) {
        (Some(distinct), Some(right)) => (right.rows / distinct.max(1.0)).min(1.0),
        _ => UNKNOWN_SHARE,
    }
}

/// `named` after the conditions `conjuncts` (those not applied already).
fn filtered<'a>(mut named: Named, conjuncts: impl Iterator<Item = &'a Expr>) -> Named {
    let mut ranges: HashMap<String, (Option<i64>, Option<i64>)> = HashMap::new();
    for conjunct in conjuncts {
        if named.applied.contains(conjunct) {
            continue;
        }
        named.applied.push(conjunct.clone());
        if let Some((column, low, high)) = range(conjunct) {
            let (kept_low, kept_high) = ranges.entry(column).or_default();
            *kept_low = (*kept_low).max(low);
            *kept_high = match (*kept_high, high) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            continue;
        }
        let distinct = &named.distinct;
        named.rows *= share(conjunct, &|c| distinct.get(&c.name).copied());
    }
    for (column, (low, high)) in ranges {
        let kept = match named.bounds.get(&column) {
            Some(&(min, max)) => {
                let low = low.unwrap_or(min).max(min);
                let high = high.unwrap_or(max).min(max);
                let span = max.abs_diff(min) as f64 + 1.0;
                ((high - low + 1).max(1) as f64 / span).min(1.0)
            }
            None => RANGE_SHARE.powi(i32::from(low.is_some()) + i32::from(high.is_some())),
        };
        named.rows *= kept;
        if let Some(d) = named.distinct.get_mut(&column) {
            *d = (*d * kept).max(1.0);
        }
    }
    named.rows = named.rows.max(1.0);
    let rows = named.rows;
    named.distinct.values_mut().for_each(|d| *d = d.min(rows));
    named
}

/// `column op literal` (either way round) with an integer or date literal as the bounds it
/// sets on the column (inclusive).
fn range(conjunct: &Expr) -> Option<(String, Option<i64>, Option<i64>)> {
    if let Expr::Between(between) = conjunct {
        let Expr::Column(column) = between.expr.as_ref() else {
            return None;
        };
        if between.negated {
            return None;
        }
        let (low, high) = (integer(&between.low)?, integer(&between.high)?);
        return Some((column.name.clone(), Some(low), Some(high)));
    }
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = conjunct else {
        return None;
    };
    let (column, op, value) = match (left.as_ref(), right.as_ref()) {
        (Expr::Column(c), other) => (c, *op, integer(other)?),
        (other, Expr::Column(c)) => (c, op.swap()?, integer(other)?),
        _ => return None,
    };
    let (low, high) = match op {
        Operator::Lt => (None, Some(value - 1)),
        Operator::LtEq => (None, Some(value)),
        Operator::Gt => (Some(value + 1), None),
        Operator::GtEq => (Some(value), None),
        _ => return None,
    };
    Some((column.name.clone(), low, high))
}

/// An integer or date literal as an integer (dates as days since 1970-01-01).
fn integer(expr: &Expr) -> Option<i64> {
    let Expr::Literal(value, _) = expr else {
        return None;
    };
    match value {
        ScalarValue::Int8(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int16(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int32(Some(v)) | ScalarValue::Date32(Some(v)) => Some(i64::from(*v)),
        ScalarValue::Int64(Some(v)) => Some(*v),
        ScalarValue::UInt8(Some(v)) => Some(i64::from(*v)),
        ScalarValue::UInt16(Some(v)) => Some(i64::from(*v)),
        ScalarValue::UInt32(Some(v)) => Some(i64::from(*v)),
        _ => None,
    }
}

/// The share of rows `condition` keeps, given the distinct values of columns where known.
fn share(condition: &Expr, distinct: &dyn Fn(&Column) -> Option<f64>) -> f64 {
    let equality = |expr: &Expr| match expr {
        Expr::Column(c) => distinct(c).map_or(EQUALITY_SHARE, |d| 1.0 / d.max(1.0)),
        _ => EQUALITY_SHARE,
    };
    let kept = match condition {
        Expr::BinaryExpr(BinaryExpr { left, op, right }) => match op {
            Operator::And => share(left, distinct) * share(right, distinct),
            Operator::Or => share(left, distinct) + share(right, distinct),
            Operator::Eq => match (left.as_ref(), right.as_ref()) {
                (column, Expr::Literal(..)) | (Expr::Literal(..), column) => equality(column),
                _ => EQUALITY_SHARE,
            },
            Operator::NotEq => 1.0 - EQUALITY_SHARE,
            Operator::Lt | Operator::LtEq | Operator::Gt | Operator::GtEq => RANGE_SHARE,
            _ => UNKNOWN_SHARE,
        },
        Expr::InList(list) if !list.negated => list.list.len() as f64 * equality(&list.expr),
        Expr::InList(_) => 1.0 - EQUALITY_SHARE,
        Expr::Like(like) | Expr::SimilarTo(like) => {
            if like.negated {
                1.0 - EQUALITY_SHARE
            } else {
                EQUALITY_SHARE
            }
        }
        Expr::Between(between) if !between.negated => RANGE_SHARE * RANGE_SHARE,
        Expr::IsNull(_) => EQUALITY_SHARE,
        Expr::IsNotNull(_) => 1.0 - EQUALITY_SHARE,
        Expr::Not(inner) => 1.0 - share(inner, distinct),
        _ => UNKNOWN_SHARE,
    };
    kept.clamp(0.0001, 1.0)
}

#[cfg(test)]
mod tests {
    use datafusion::logical_expr::{col, lit};

    use super::*;

    fn distinct_none(_: &Column) -> Option<f64> {
        None
    }

    #[test]
    fn shares_follow_the_conditions() {
        let eq = col("a").eq(lit("x"));
        assert_eq!(share(&eq, &distinct_none), EQUALITY_SHARE);
        assert_eq!(share(&eq, &|_| Some(25.0)), 1.0 / 25.0);
        let or = col("a").eq(lit("x")).or(col("a").eq(lit("y")));
        assert_eq!(share(&or, &distinct_none), 2.0 * EQUALITY_SHARE);
        assert_eq!(share(&col("a").not_eq(lit(1)), &distinct_none), 0.9);
    }

    #[test]
    fn ranges_on_the_same_column_make_one_interval_of_its_span() {
        let named = Named {
            rows: 1000.0,
            distinct: HashMap::from([("d".to_string(), 100.0)]),
            bounds: HashMap::from([("d".to_string(), (0, 99))]),
            applied: Vec::new(),
        };
        let conjuncts = [col("d").gt_eq(lit(10i32)), col("d").lt(lit(30i32))];
        let named = filtered(named, conjuncts.iter());
        assert_eq!(named.rows, 200.0);
        assert_eq!(named.distinct["d"], 20.0);
    }

    #[test]
    fn a_join_divides_by_the_larger_distinct_count_of_its_keys() {
        let orders = Estimate {
            rows: 1000.0,
            distinct: HashMap::new(),
        };
        let lines = Estimate {
            rows: 4000.0,
            distinct: HashMap::from([(Column::from_name("o"), 1000.0)]),
        };
        let keys = [(col("o"), col("k"), 0)];
        assert_eq!(joined(&lines, &orders, &keys, &[]).rows, 4000.0);
    }
}
