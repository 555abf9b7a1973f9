//! A string column compared with a literal, `=` or `<>`, tested on the columns' 16-byte
//! views.
//!
//! Lake scans read strings as views (`Utf8View`): a string of up to 12 bytes lies whole in
//! its view (length, bytes, zero padding), a longer one keeps its length and first 4
//! bytes there. Equality with a literal of up to 12 bytes is then one 128-bit comparison
//! per row, and with a longer literal a 64-bit comparison of length and prefix, the bytes
//! compared only when those match. Arrow's comparison kernel checks each row through the
//! general view comparison instead: in `examples/sql_bench.rs`, `service = 'checkout'`
//! over 10 million rows spent a third of the query's CPU time there.

use std::fmt;
use std::hash::Hash;
use std::sync::Arc;

use arrow::array::{make_view, Array, BooleanArray, RecordBatch, StringViewArray};
use arrow::buffer::BooleanBuffer;
use arrow::datatypes::{DataType, Field, FieldRef, Schema};
use datafusion::common::config::ConfigOptions;
use datafusion::common::tree_node::{Transformed, TreeNode};
use datafusion::common::{internal_err, Result, ScalarValue};
use datafusion::logical_expr::{ColumnarValue, Operator};
use datafusion::physical_expr::expressions::{BinaryExpr, Column, Literal};
use datafusion::physical_expr::PhysicalExpr;
use datafusion::physical_optimizer::PhysicalOptimizerRule;
use datafusion::physical_plan::filter::{FilterExec, FilterExecBuilder};
use datafusion::physical_plan::ExecutionPlan;

use crate::options::rewrite_nodes_if;

/// The physical optimizer rule that replaces, in filters, `column = 'literal'` and
/// `column <> 'literal'` on a `Utf8View` column by [`ViewEquality`]. Off when the
/// session's `weir.view_equality` ([`WeirOptions`](crate::options::WeirOptions)) is false.
#[derive(Debug, Default)]
pub struct ViewEqualityRule;

impl PhysicalOptimizerRule for ViewEqualityRule {
    fn optimize(
        &self,
        plan: Arc<dyn ExecutionPlan>,
        config: &ConfigOptions,
    ) -> Result<Arc<dyn ExecutionPlan>> {
        rewrite_nodes_if(
            config,
            |on| on.view_equality,
            plan,
            |node| {
                let Some(filter) = node.downcast_ref::<FilterExec>() else {
                    return Ok(None);
                };
                let schema = filter.input().schema();
                let rewritten = filter.predicate().clone().transform_up(|expr| {
                    Ok(match ViewEquality::replacing(&expr, &schema) {
                        Some(faster) => Transformed::yes(Arc::new(faster) as _),
                        None => Transformed::no(expr),
                    })
                })?;
                if !rewritten.transformed {
                    return Ok(None);
                }
                let rebuilt = FilterExecBuilder::from(filter)
                    .with_predicate(rewritten.data)
                    .build()?;
                Ok(Some(Arc::new(rebuilt)))
            },
        )
    }

    fn name(&self) -> &str {
        "view_equality"
    }

    fn schema_check(&self) -> bool {
        true
    }
}

/// `column = literal` (or `<>` when `negated`) for a `Utf8View` column; the result is
/// null where the column is.
#[derive(Debug, Clone, Eq)]
pub struct ViewEquality {
    column: Arc<dyn PhysicalExpr>,
    literal: String,
    negated: bool,
}

// Written out, as DataFusion's own expressions do (rust-lang/rust#78808).
impl PartialEq for ViewEquality {
    fn eq(&self, other: &Self) -> bool {
        self.column.eq(&other.column)
            && self.literal == other.literal
            && self.negated == other.negated
    }
}

impl Hash for ViewEquality {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.column.hash(state);
        self.literal.hash(state);
        self.negated.hash(state);
    }
}

impl ViewEquality {
    /// The replacement for `expr` when it is a `Utf8View` column (in `schema`) compared
    /// with a non-null string literal by `=` or `<>`.
    fn replacing(expr: &Arc<dyn PhysicalExpr>, schema: &Schema) -> Option<Self> {
        let comparison = expr.downcast_ref::<BinaryExpr>()?;
        let negated = match comparison.op() {
            Operator::Eq => false,
            Operator::NotEq => true,
            _ => return None,
        };
        let (left, right) = (comparison.left(), comparison.right());
        let (column, literal) = match (
            left.downcast_ref::<Column>(),
            right.downcast_ref::<Literal>(),
        ) {
            (Some(_), Some(literal)) => (left, literal),
            _ => match (
                right.downcast_ref::<Column>(),
                left.downcast_ref::<Literal>(),
            ) {
                (Some(_), Some(literal)) => (right, literal),
                _ => return None,
            },
        };
        if column.data_type(schema).ok()? != DataType::Utf8View {
            return None;
        }
        let text = match literal.value() {
            ScalarValue::Utf8(Some(s))
            | ScalarValue::Utf8View(Some(s))
            | ScalarValue::LargeUtf8(Some(s)) => s.clone(),
            _ => return None,
        };
        Some(Self {
            column: column.clone(),
            literal: text,
            negated,
        })
    }

    /// Whether each string of `strings` equals the literal (before negation).
    fn equal(&self, strings: &StringViewArray) -> BooleanBuffer {
        let wanted = self.literal.as_bytes();
        let views = strings.views();
        // Whole in its view when short: buffer index and offset are not used.
        let target = make_view(wanted, 0, 0);
        if wanted.len() <= 12 {
            return BooleanBuffer::collect_bool(views.len(), |i| views[i] == target);
        }
        // Length and first 4 bytes, then the bytes of the rows matching them.
        let head = target as u64;
        BooleanBuffer::collect_bool(views.len(), |i| {
            views[i] as u64 == head && strings.value(i).as_bytes() == wanted
        })
    }
}

impl fmt::Display for ViewEquality {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.negated { "!=" } else { "=" };
        write!(f, "{} {op} {} (on views)", self.column, self.literal)
    }
}

impl PhysicalExpr for ViewEquality {
    fn return_field(&self, input_schema: &Schema) -> Result<FieldRef> {
        Ok(Arc::new(Field::new(
            self.to_string(),
            DataType::Boolean,
            self.column.nullable(input_schema)?,
        )))
    }

    fn evaluate(&self, batch: &RecordBatch) -> Result<ColumnarValue> {
        let array = self.column.evaluate(batch)?.into_array(batch.num_rows())?;
        let Some(strings) = array.as_any().downcast_ref::<StringViewArray>() else {
            return internal_err!("{self} evaluated on {}", array.data_type());
        };
        let mut bits = self.equal(strings);
        if self.negated {
            bits = !&bits;
        }
        let result = BooleanArray::new(bits, strings.nulls().cloned());
        Ok(ColumnarValue::Array(Arc::new(result)))
    }

    fn children(&self) -> Vec<&Arc<dyn PhysicalExpr>> {
        vec![&self.column]
    }

    fn with_new_children(
        self: Arc<Self>,
        children: Vec<Arc<dyn PhysicalExpr>>,
    ) -> Result<Arc<dyn PhysicalExpr>> {
        let column = children
            .into_iter()
            .next()
            .unwrap_or_else(|| self.column.clone());
        Ok(Arc::new(Self {
            column,
            literal: self.literal.clone(),
            negated: self.negated,
        }))
    }

    fn fmt_sql(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let op = if self.negated { "<>" } else { "=" };
        self.column.fmt_sql(f)?;
        write!(f, " {op} '{}'", self.literal.replace('\'', "''"))
    }
}
