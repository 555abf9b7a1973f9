//! `AND`ed conditions tested on every row of a batch, their results combined bit by bit.
//!
//! DataFusion's `a AND b` evaluates `b` only on the rows `a` kept when `a` kept a fifth of
//! them or fewer: it copies those rows of every column of the batch, evaluates `b` on the
//! copy and spreads the result back row by row. That pays when `b` is costly. For a
//! comparison of a fixed-width column with a literal it costs several times testing every
//! row: TPC-H Q6's five such conditions spent 80 ms of CPU over 6 million rows that way
//! and 31 ms tested on every row ([`AllRowsConjunction`] replaces such chains, see
//! [`crate::cheap_conjuncts_first`]).

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use arrow::array::{Array, BooleanArray, RecordBatch};
use arrow::compute::kernels::boolean::and_kleene;
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::cast::as_boolean_array;
use datafusion::common::{internal_err, Result};
use datafusion::logical_expr::ColumnarValue;
use datafusion::physical_expr::PhysicalExpr;

/// The conjunction of `conditions` (two or more, each a boolean expression that cannot
/// fail), every one tested on every row of the batch until the result is false on all
/// rows; SQL's three-valued `AND`: false where any condition is, else null where any is
/// null, else true.
#[derive(Debug, Clone, Eq)]
pub struct AllRowsConjunction {
    conditions: Vec<Arc<dyn PhysicalExpr>>,
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for AllRowsConjunction {
    fn eq(&self, other: &Self) -> bool {
        self.conditions.len() == other.conditions.len()
            && self
                .conditions
                .iter()
                .zip(&other.conditions)
                .all(|(a, b)| a.eq(b))
    }
}

impl Hash for AllRowsConjunction {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.conditions.hash(state);
    }
}

impl AllRowsConjunction {
    /// The conjunction of `conditions`, which must be two or more conditions that cannot
    /// fail on any row (the caller's check: they are tested on rows an `AND` would skip).
    pub fn new(conditions: Vec<Arc<dyn PhysicalExpr>>) -> Self {
        debug_assert!(conditions.len() >= 2);
        Self { conditions }
    }
}

impl fmt::Display for AllRowsConjunction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(")?;
        for (i, condition) in self.conditions.iter().enumerate() {
            if i > 0 {
                write!(f, " AND ")?;
            }
            write!(f, "{condition}")?;
        }
        write!(f, ") (on all rows)")
    }
}

impl PhysicalExpr for AllRowsConjunction {
    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        let mut nullable = false;
        for condition in &self.conditions {
            nullable |= condition.nullable(input_schema)?;
        }
        Ok(Arc::new(Field::new(
            self.to_string(),
            DataType::Boolean,
            nullable,
        )))
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let rows = batch.num_rows();
        let mut combined: Option<BooleanArray> = None;
        for condition in &self.conditions {
            let tested = condition.evaluate(batch)?.into_array(rows)?;
            let tested = as_boolean_array(&tested)?;
            let next = match combined {
                None => tested.clone(),
                Some(so_far) => and_kleene(&so_far, tested)?,
            };
            let all_false = next.null_count() == 0 && !next.has_true();
            combined = Some(next);
            if all_false {
                break;
            }
        }
        match combined {
            Some(result) => Ok(ColumnarValue::Array(Arc::new(result))),
            None => internal_err!("{self} has no conditions"),
        }
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        self.conditions.iter().collect()
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        if children.len() != self.conditions.len() {
            return internal_err!(
                "{self} takes {} conditions, given {}",
                self.conditions.len(),
                children.len()
            );
        }
        Ok(Arc::new(Self {
            conditions: children,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "(")?;
        for (i, condition) in self.conditions.iter().enumerate() {
            if i > 0 {
                write!(f, " AND ")?;
            }
            condition.fmt_sql(f)?;
        }
        write!(f, ")")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int32Array;
    use datafusion::logical_expr::Operator;
    use datafusion::physical_expr::expressions::{col, lit, BinaryExpr};

    /// Three-valued `AND` over all rows, nulls included, and the early stop when every
    /// row is false already.
    #[test]
    fn gives_sqls_and_on_every_row() {
        let schema = Arc::new(Schema::new(vec![
            Field::new("a", DataType::Int32, true),
            Field::new("b", DataType::Int32, true),
        ]));
        let batch = RecordBatch::try_new(
            schema.clone(),
            vec![
                Arc::new(Int32Array::from(vec![
                    Some(1),
                    Some(5),
                    None,
                    Some(7),
                    None,
                ])),
                Arc::new(Int32Array::from(vec![
                    Some(9),
                    None,
                    Some(0),
                    Some(1),
                    None,
                ])),
            ],
        )
        .unwrap();
        let compare = |name: &str, op: Operator, value: i32| -> Arc<dyn PhysicalExpr> {
            Arc::new(BinaryExpr::new(col(name, &schema).unwrap(), op, lit(value)))
        };
        let conjunction = AllRowsConjunction::new(vec![
            compare("a", Operator::Gt, 2),
            compare("b", Operator::Lt, 5),
        ]);
        let result = conjunction.evaluate(&batch).unwrap().into_array(5).unwrap();
        let expected = BooleanArray::from(vec![Some(false), None, None, Some(true), None]);
        assert_eq!(as_boolean_array(&result).unwrap(), &expected);

        let never = AllRowsConjunction::new(vec![
            compare("b", Operator::Gt, 100),
            compare("a", Operator::Gt, 0),
        ]);
        let result = never.evaluate(&batch).unwrap().into_array(5).unwrap();
        let expected = BooleanArray::from(vec![Some(false), None, Some(false), Some(false), None]);
        assert_eq!(as_boolean_array(&result).unwrap(), &expected);
        // False on every row after the first condition: the second is not needed.
        let result = never
            .evaluate(&batch.slice(3, 1))
            .unwrap()
            .into_array(1)
            .unwrap();
        assert_eq!(
            as_boolean_array(&result).unwrap(),
            &BooleanArray::from(vec![false])
        );
        assert_eq!(
            conjunction.to_string(),
            "(a@0 > 2 AND b@1 < 5) (on all rows)"
        );
    }
}
