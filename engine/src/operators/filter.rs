//! `filter`: keeps the rows for which a SQL predicate is true (null counts as false).

use std::sync::Arc;

use arrow::array::{Array, AsArray};
use arrow::compute::filter_record_batch;
use arrow::datatypes::{DataType, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use datafusion::physical_expr::PhysicalExpr;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::expr::ExprSite;
use crate::operator::{
    Collector, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext, SubtaskInfo,
    MAIN_PORT,
};

/// Configuration of a filter.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilterConfig {
    /// A boolean SQL expression over the input columns, e.g. `auction % 123 = 0`.
    pub predicate: String,
}

impl FilterConfig {
    pub fn new(predicate: impl Into<String>) -> Self {
        Self {
            predicate: predicate.into(),
        }
    }
}

impl OperatorFactory for FilterConfig {
    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
        let schema = ctx.single_input()?.clone();
        let site = ExprSite {
            node: ctx.node,
            role: "filter predicate",
        };
        let compiled = ctx.compiler.scalar(site, &self.predicate, &schema)?;
        if compiled.field.data_type() != &DataType::Boolean {
            return Err(EngineError::Expression {
                node: ctx.node.to_string(),
                role: site.role,
                expr: self.predicate.clone(),
                position: None,
                message: format!("must be boolean, but it is {}", compiled.field.data_type()),
            });
        }
        Ok(Arc::new(Filter {
            predicate: compiled.expr,
            schema,
        }))
    }
}

/// The compiled filter; it is its own plan since it keeps no state.
#[derive(Debug, Clone)]
struct Filter {
    predicate: Arc<dyn PhysicalExpr>,
    schema: SchemaRef,
}

impl OperatorPlan for Filter {
    fn outputs(&self) -> Vec<OutputPort> {
        vec![OutputPort {
            name: MAIN_PORT.into(),
            schema: self.schema.clone(),
        }]
    }
    fn create(&self, _: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
}

#[async_trait]
impl Operator for Filter {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> Result<()> {
        let mask = self
            .predicate
            .evaluate(&batch)?
            .into_array(batch.num_rows())?;
        let mask = mask.as_boolean();
        if mask.null_count() == 0 && mask.true_count() == batch.num_rows() {
            out.emit(batch);
        } else {
            out.emit(filter_record_batch(&batch, mask)?);
        }
        Ok(())
    }
}
