//! A decimal literal added to or subtracted from a decimal of a larger scale is written
//! at that scale.
//!
//! `1 - l_discount` (TPC-H Q1, Q3, Q5 and others) reaches the plan as
//! `Decimal128(1, 20, 0) - l_discount` with `l_discount` a `Decimal128(15, 2)`. Arrow
//! adds and subtracts decimals of different scales by multiplying both sides by a power of
//! ten first, with overflow checks, for every row: over six million rows that cost more
//! than decoding the column. [`ScaledDecimalLiterals`] writes the literal at the other
//! side's scale (`Decimal128(100, 22, 2)`, shown as `1.00`), and equal scales are added
//! or subtracted directly. The result is the same value of the same type: a sum or
//! difference takes the larger scale and one more digit than the larger integer part, and
//! neither changes when the literal gains scale digits with as many precision digits.

use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{DFSchema, Result, ScalarValue};
use datafusion::logical_expr::expr_rewriter::NamePreserver;
use datafusion::logical_expr::utils::merge_schema;
use datafusion::logical_expr::{BinaryExpr, Expr, ExprSchemable, LogicalPlan, Operator};
use datafusion::optimizer::optimizer::ApplyOrder;
use datafusion::optimizer::{OptimizerConfig, OptimizerRule};

use arrow::datatypes::{DataType, DECIMAL128_MAX_PRECISION};

use crate::options::logical_rule_on;

/// The logical optimizer rule writing a decimal literal that is added to or subtracted
/// from a `Decimal128` of a larger scale at that scale (module docs). Off when the
/// session's `weir.scaled_decimal_literals` ([`WeirOptions`](crate::options::WeirOptions))
/// is false. A literal whose precision would pass 38 digits is left as it is.
#[derive(Debug, Default)]
pub struct ScaledDecimalLiterals;

impl OptimizerRule for ScaledDecimalLiterals {
    fn name(&self) -> &str {
        "weir_scaled_decimal_literals"
    }

    fn apply_order(&self) -> Option<ApplyOrder> {
        Some(ApplyOrder::BottomUp)
    }

    fn rewrite(
        &self,
        plan: LogicalPlan,
        config: &dyn OptimizerConfig,
    ) -> Result<Transformed<LogicalPlan>> {
        if !logical_rule_on(config, |on| on.scaled_decimal_literals) {
            return Ok(Transformed::no(plan));
        }
        let schema = match plan.inputs().as_slice() {
            [] => plan.schema().as_ref().clone(),
            inputs => merge_schema(inputs),
        };
        let names = NamePreserver::new(&plan);
        plan.map_expressions(|expr| {
            let name = names.save(&expr);
            expr.transform_up(|e| scaled(e, &schema))
                .map(|rewritten| rewritten.update_data(|e| name.restore(e)))
        })
    }
}

/// `expr` with its literal side at the other side's scale when it is a sum or difference
/// of a `Decimal128` literal and a `Decimal128` of a larger scale.
fn scaled(expr: Expr, schema: &DFSchema) -> Result<Transformed<Expr>> {
    let Expr::BinaryExpr(BinaryExpr { left, op, right }) = &expr else {
        return Ok(Transformed::no(expr));
    };
    if !matches!(op, Operator::Plus | Operator::Minus) {
        return Ok(Transformed::no(expr));
    }
    let (left, right) = match (
        literal_at_scale_of(left, right, schema)?,
        literal_at_scale_of(right, left, schema)?,
    ) {
        (Some(literal), None) => (literal, right.as_ref().clone()),
        (None, Some(literal)) => (left.as_ref().clone(), literal),
        _ => return Ok(Transformed::no(expr)),
    };
    Ok(Transformed::yes(Expr::BinaryExpr(BinaryExpr::new(
        Box::new(left),
        *op,
        Box::new(right),
    ))))
}

/// `literal` written at `other`'s scale, when it is a non-null `Decimal128` literal of a
/// smaller scale, `other` a `Decimal128`, and the precision stays within 38 digits.
fn literal_at_scale_of(literal: &Expr, other: &Expr, schema: &DFSchema) -> Result<Option<Expr>> {
    let Expr::Literal(ScalarValue::Decimal128(Some(value), precision, scale), metadata) = literal
    else {
        return Ok(None);
    };
    let DataType::Decimal128(_, other_scale) = other.get_type(schema)? else {
        return Ok(None);
    };
    let Ok(more) = u8::try_from(other_scale - scale) else {
        return Ok(None);
    };
    let wider = precision + more;
    if more == 0 || wider > DECIMAL128_MAX_PRECISION {
        return Ok(None);
    }
    let value = value * 10_i128.pow(u32::from(more));
    Ok(Some(Expr::Literal(
        ScalarValue::Decimal128(Some(value), wider, other_scale),
        metadata.clone(),
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    use datafusion::arrow::datatypes::{Field, Schema};
    use datafusion::logical_expr::{col, lit};

    fn schema() -> DFSchema {
        DFSchema::try_from(Schema::new(vec![
            Field::new("d", DataType::Decimal128(15, 2), true),
            Field::new("i", DataType::Int64, true),
        ]))
        .unwrap()
    }

    fn decimal(value: i128, precision: u8, scale: i8) -> Expr {
        lit(ScalarValue::Decimal128(Some(value), precision, scale))
    }

    /// The literal gains the column's scale on either side, keeping the expression's type.
    #[test]
    fn a_literal_takes_the_scale_of_the_decimal_it_is_added_to() {
        let schema = schema();
        for (expr, expected) in [
            (decimal(1, 20, 0) - col("d"), decimal(100, 22, 2) - col("d")),
            (
                col("d") + decimal(-15, 10, 1),
                col("d") + decimal(-150, 11, 2),
            ),
        ] {
            let rewritten = scaled(expr.clone(), &schema).unwrap();
            assert!(rewritten.transformed);
            assert_eq!(rewritten.data, expected);
            assert_eq!(
                rewritten.data.get_type(&schema).unwrap(),
                expr.get_type(&schema).unwrap()
            );
        }
    }

    /// Products, equal or larger literal scales, nulls, integers and a precision past 38
    /// digits are left alone.
    #[test]
    fn other_expressions_are_left_alone() {
        let schema = schema();
        for expr in [
            decimal(1, 20, 0) * col("d"),
            decimal(100, 22, 2) - col("d"),
            decimal(1, 20, 4) - col("d"),
            lit(ScalarValue::Decimal128(None, 20, 0)) - col("d"),
            lit(1_i64) - col("i"),
            decimal(1, 37, 0) - col("d"),
        ] {
            assert!(
                !scaled(expr.clone(), &schema).unwrap().transformed,
                "{expr}"
            );
        }
    }
}
