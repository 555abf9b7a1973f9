//! `union`: merges several inputs with the same columns into one stream. Its watermark is
//! the minimum over all inputs, like any operator's.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::{EngineError, Result};
use crate::operator::{
    Collector, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext, SubtaskInfo,
    MAIN_PORT,
};

/// Configuration of a union (it has no settings).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UnionConfig {}

impl OperatorFactory for UnionConfig {
    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
        let first = &ctx.inputs[0];
        for (i, other) in ctx.inputs.iter().enumerate().skip(1) {
            let same = first.fields().len() == other.fields().len()
                && first
                    .fields()
                    .iter()
                    .zip(other.fields())
                    .all(|(a, b)| a.name() == b.name() && a.data_type() == b.data_type());
            if !same {
                return Err(EngineError::config(
                    ctx.node,
                    format!("input {i} has columns ({other}) but input 0 has ({first}); a union needs the same columns"),
                ));
            }
        }
        Ok(Arc::new(Union {
            schema: first.clone(),
        }))
    }
}

#[derive(Debug, Clone)]
struct Union {
    schema: SchemaRef,
}

impl OperatorPlan for Union {
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
impl Operator for Union {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> Result<()> {
        if batch.schema() == self.schema {
            out.emit(batch);
        } else {
            out.emit(batch.with_schema(self.schema.clone())?);
        }
        Ok(())
    }
}
