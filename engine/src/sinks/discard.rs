//! A sink that drops every row, for benchmarks; the node's `rows_in` metric counts them.

use std::sync::Arc;

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::error::Result;
use crate::operator::{
    Collector, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext, SubtaskInfo,
};

#[derive(Debug, Clone, Copy, Default)]
pub struct DiscardSink;

impl OperatorFactory for DiscardSink {
    fn plan(&self, _: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
        Ok(Arc::new(DiscardSink))
    }
}

impl OperatorPlan for DiscardSink {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }
    fn create(&self, _: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(DiscardSink))
    }
}

#[async_trait]
impl Operator for DiscardSink {
    async fn process_batch(&mut self, _: usize, _: RecordBatch, _: &mut Collector) -> Result<()> {
        Ok(())
    }
}
