//! A decimal average is computed from the sum and the count its aggregate has anyway.
//!
//! DataFusion accumulates `avg(x)` as its own sum and count, beside `sum(x)` and
//! `count(*)` when the statement asks for them too, as TPC-H Q1 does. For a `Decimal128`
//! column the average is the sum scaled to the average's type and divided by the count
//! ([`DecimalAverager`]), so [`AveragesFromSums`] drops such an `avg(x)` from the
//! aggregate when it shares the sum (the statement's `sum(x)`), the count (its `count(x)`,
//! or its `count(*)` when `x` holds no nulls) or both, adds the one it lacks, and computes
//! the average above the aggregate with [`DecimalAverage`]: the same sum, the same count
//! and the same division, so the same value and the same overflow error. Q1's partial
//! aggregate updates six accumulators per row instead of eleven.

use std::sync::Arc;

use arrow::array::{Array, ArrayRef, AsArray, Decimal128Array};
use arrow::datatypes::{DataType, Decimal128Type, Int64Type};
use datafusion::common::tree_node::Transformed;
use datafusion::common::{exec_err, plan_err, Column, DFSchema, Result};
use datafusion::logical_expr::expr::AggregateFunction;
use datafusion::logical_expr::logical_plan::{Aggregate, Projection};
use datafusion::logical_expr::{
    ColumnarValue, Expr, ExprSchemable, LogicalPlan, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl,
    Signature, Volatility,
};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};
use datafusion_functions_aggregate_common::utils::DecimalAverager;

use crate::options::logical_rule_on;

/// The logical optimizer rule computing `avg(x)` of a `Decimal128` column from the
/// aggregate's sum and count of `x` (module docs). Off when the session's
/// `weir.averages_from_sums` ([`WeirOptions`](crate::options::WeirOptions)) is false. It
/// leaves alone averages with `DISTINCT`, `FILTER` or `ORDER BY`, averages sharing neither
/// a plain `sum(x)` nor a count, and grouping sets.
#[derive(Debug, Default)]
pub struct AveragesFromSums;

impl OptimizerRule for AveragesFromSums {
    fn name(&self) -> &str {
        "weir_averages_from_sums"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::TopDown)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !logical_rule_on(config, |on| on.averages_from_sums) {
            return Ok(Transformed::no(plan));
        }
        let LogicalPlan::Aggregate(aggregate) = &plan else {
            return Ok(Transformed::no(plan));
        };
        match rewritten(aggregate)? {
            Some(projection) => Ok(Transformed::yes(projection)),
            None => Ok(Transformed::no(plan)),
        }
    }
}

/// The aggregate function call `expr` is when plain: no `DISTINCT`, `FILTER`, `ORDER BY`
/// or null treatment, named `name`.
fn plain_call<'a>(expr: &'a Expr, name: &str) -> Option<&'a AggregateFunction> {
    let Expr::AggregateFunction(call) = expr else {
        return None;
    };
    let params = &call.params;
    (call.func.name() == name
        && !params.distinct
        && params.filter.is_none()
        && params.order_by.is_empty()
        && params.null_treatment.is_none())
    .then_some(call)
}

fn count_of(argument: &Expr) -> Expr {
    datafusion::functions_aggregate::count::count(argument.clone())
}

fn sum_of(argument: &Expr) -> Expr {
    datafusion::functions_aggregate::sum::sum(argument.clone())
}

/// One average to compute from a sum: its position among the aggregate expressions,
/// the positions of the sum and the count it uses, and its division.
struct FromSum {
    average: usize,
    sum: usize,
    count: usize,
    division: DecimalAverage,
}

/// `aggregate` with its decimal averages computed from sums, as a projection over the
/// narrowed aggregate with `aggregate`'s schema; `None` when it has none to compute so.
fn rewritten(aggregate: &Aggregate) -> Result<Option<LogicalPlan>> {
    if aggregate
        .group_expr
        .iter()
        .any(|e| matches!(e, Expr::GroupingSet(_)))
    {
        return Ok(None);
    }
    let input_schema = aggregate.input.schema();
    let groups = aggregate.group_expr.len();
    let mut exprs = aggregate.aggr_expr.clone();
    let mut from_sums = Vec::new();
    for (position, expr) in aggregate.aggr_expr.iter().enumerate() {
        let Some(average) = plain_call(expr, "avg") else {
            continue;
        };
        let [argument] = average.params.args.as_slice() else {
            continue;
        };
        let Ok((_, field)) = argument.to_field(input_schema) else {
            continue;
        };
        let (DataType::Decimal128(_, scale), nullable) = (field.data_type(), field.is_nullable())
        else {
            continue;
        };
        let scale = *scale;
        let DataType::Decimal128(precision, target_scale) =
            aggregate.schema.field(groups + position).data_type()
        else {
            continue;
        };
        let sum = exprs.iter().position(|e| {
            plain_call(e, "sum").is_some_and(|sum| sum.params.args == average.params.args)
        });
        let count = exprs.iter().position(|e| {
            plain_call(e, "count").is_some_and(|count| match count.params.args.as_slice() {
                [counted] if counted == argument => true,
                [Expr::Literal(value, _)] => !nullable && !value.is_null(),
                _ => false,
            })
        });
        // The average's two accumulators become one more at most: it shares the sum, the
        // count, or both.
        let mut added = |expr: Expr| {
            exprs.push(expr);
            exprs.len() - 1
        };
        let (sum, count) = match (sum, count) {
            (None, None) => continue,
            (Some(sum), Some(count)) => (sum, count),
            (Some(sum), None) => (sum, added(count_of(argument))),
            (None, Some(count)) => (added(sum_of(argument)), count),
        };
        from_sums.push(FromSum {
            average: position,
            sum,
            count,
            division: DecimalAverage::new(scale, *precision, *target_scale),
        });
    }
    if from_sums.is_empty() {
        return Ok(None);
    }
    let averaged: Vec<usize> = from_sums.iter().map(|f| f.average).collect();
    // Positions in the narrowed aggregate: the averages leave, the rest move up.
    let kept: Vec<usize> = (0..exprs.len()).filter(|i| !averaged.contains(i)).collect();
    let narrowed_position = |i: usize| kept.iter().position(|k| *k == i);
    let narrowed = Aggregate::try_new(
        aggregate.input.clone(),
        aggregate.group_expr.clone(),
        kept.iter().map(|i| exprs[*i].clone()).collect(),
    )?;
    let column =
        |schema: &DFSchema, i: usize| Expr::Column(Column::from(schema.qualified_field(i)));
    let mut projected = Vec::with_capacity(aggregate.schema.fields().len());
    for i in 0..groups {
        projected.push(column(&narrowed.schema, i));
    }
    for position in 0..aggregate.aggr_expr.len() {
        let (qualifier, field) = aggregate.schema.qualified_field(groups + position);
        let expr = match from_sums.iter().find(|f| f.average == position) {
            Some(from_sum) => {
                let (Some(sum), Some(count)) = (
                    narrowed_position(from_sum.sum),
                    narrowed_position(from_sum.count),
                ) else {
                    return plan_err!("an average's sum or count left the aggregate");
                };
                ScalarUDF::new_from_impl(from_sum.division.clone()).call(vec![
                    column(&narrowed.schema, groups + sum),
                    column(&narrowed.schema, groups + count),
                ])
            }
            None => match narrowed_position(position) {
                Some(kept) => column(&narrowed.schema, groups + kept),
                None => return plan_err!("an aggregate expression left the aggregate"),
            },
        };
        projected.push(expr.alias_qualified(qualifier.cloned(), field.name()));
    }
    let projection = Projection::try_new(projected, Arc::new(LogicalPlan::Aggregate(narrowed)))?;
    Ok(Some(LogicalPlan::Projection(projection)))
}

/// `avg` of a `Decimal128` column from its sum (scale `sum_scale`) and count, as
/// DataFusion's average accumulator divides them: null for a null sum or no rows, an
/// error on overflow.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DecimalAverage {
    sum_scale: i8,
    precision: u8,
    scale: i8,
    signature: Signature,
}

impl DecimalAverage {
    fn new(sum_scale: i8, precision: u8, scale: i8) -> Self {
        Self {
            sum_scale,
            precision,
            scale,
            signature: Signature::any(2, Volatility::Immutable),
        }
    }

    fn averages(&self, sums: &ArrayRef, counts: &ArrayRef) -> Result<Decimal128Array> {
        let averager =
            DecimalAverager::<Decimal128Type>::try_new(self.sum_scale, self.precision, self.scale)?;
        let (Some(sums), Some(counts)) = (
            sums.as_primitive_opt::<Decimal128Type>(),
            counts.as_primitive_opt::<Int64Type>(),
        ) else {
            return exec_err!(
                "weir_decimal_avg takes a Decimal128 sum and an Int64 count, given {} and {}",
                sums.data_type(),
                counts.data_type()
            );
        };
        let averages = sums
            .iter()
            .zip(counts.iter())
            .map(|pair| match pair {
                (Some(sum), Some(count)) if count > 0 => {
                    averager.avg(sum, i128::from(count)).map(Some)
                }
                _ => Ok(None),
            })
            .collect::<Result<Decimal128Array>>()?;
        Ok(averages.with_precision_and_scale(self.precision, self.scale)?)
    }
}

impl ScalarUDFImpl for DecimalAverage {
    fn name(&self) -> &str {
        "weir_decimal_avg"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, _arg_types: &[DataType]) -> Result<DataType> {
        Ok(DataType::Decimal128(self.precision, self.scale))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let [sums, counts] = arrays.as_slice() else {
            return exec_err!("weir_decimal_avg takes a sum and a count");
        };
        Ok(ColumnarValue::Array(Arc::new(self.averages(sums, counts)?)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;

    /// DataFusion's division: truncated to the average's scale, null without rows, and
    /// its overflow error.
    #[test]
    fn divides_as_the_average_accumulator() {
        let average = DecimalAverage::new(2, 19, 6);
        let sums: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(1000), Some(-1000), None, Some(5)])
                .with_precision_and_scale(25, 2)
                .unwrap(),
        );
        let counts: ArrayRef = Arc::new(Int64Array::from(vec![3, 3, 0, 0]));
        let result = average.averages(&sums, &counts).unwrap();
        // 10.00 / 3 = 3.333333, -10.00 / 3 = -3.333333.
        assert_eq!(
            result.iter().collect::<Vec<_>>(),
            vec![Some(3_333_333), Some(-3_333_333), None, None]
        );
        let huge: ArrayRef = Arc::new(
            Decimal128Array::from(vec![Some(10_i128.pow(30))])
                .with_precision_and_scale(38, 2)
                .unwrap(),
        );
        let one: ArrayRef = Arc::new(Int64Array::from(vec![1]));
        let overflow = average.averages(&huge, &one).unwrap_err().to_string();
        assert!(
            overflow.contains("Arithmetic Overflow in AvgAccumulator"),
            "{overflow}"
        );
    }
}
