//! `project`: computes output columns from SQL expressions (`expr AS name`).

use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
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

/// Configuration of a projection.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProjectConfig {
    /// Output columns in order, each a SQL expression with an optional `AS name`.
    pub columns: Vec<String>,
}

impl ProjectConfig {
    pub fn new<S: Into<String>>(columns: impl IntoIterator<Item = S>) -> Self {
        Self {
            columns: columns.into_iter().map(Into::into).collect(),
        }
    }
}

impl OperatorFactory for ProjectConfig {
    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
        let input = ctx.single_input()?;
        if self.columns.is_empty() {
            return Err(EngineError::config(
                ctx.node,
                "a projection needs at least one column",
            ));
        }
        let site = ExprSite {
            node: ctx.node,
            role: "projection",
        };
        let mut exprs = Vec::with_capacity(self.columns.len());
        let mut fields = Vec::with_capacity(self.columns.len());
        for sql in &self.columns {
            let compiled = ctx.compiler.scalar(site, sql, input)?;
            if fields
                .iter()
                .any(|f: &arrow::datatypes::FieldRef| f.name() == compiled.field.name())
            {
                return Err(EngineError::config(
                    ctx.node,
                    format!(
                        "two columns are named '{}'; name them with AS",
                        compiled.field.name()
                    ),
                ));
            }
            exprs.push(compiled.expr);
            fields.push(compiled.field);
        }
        Ok(Arc::new(Project {
            exprs,
            schema: Arc::new(Schema::new(fields)),
        }))
    }
}

/// The compiled projection; it is its own plan since it keeps no state.
#[derive(Debug, Clone)]
struct Project {
    exprs: Vec<Arc<dyn PhysicalExpr>>,
    schema: SchemaRef,
}

impl OperatorPlan for Project {
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
impl Operator for Project {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> Result<()> {
        let rows = batch.num_rows();
        let columns = self
            .exprs
            .iter()
            .map(|e| e.evaluate(&batch).and_then(|v| v.into_array(rows)))
            .collect::<datafusion::error::Result<Vec<_>>>()?;
        out.emit(RecordBatch::try_new(self.schema.clone(), columns)?);
        Ok(())
    }
}
