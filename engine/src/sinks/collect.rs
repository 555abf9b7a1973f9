//! A sink keeping every batch in memory, for tests, examples and small results.

use std::sync::{Arc, Mutex};

use arrow::compute::concat_batches;
use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::error::Result;
use crate::operator::{
    Collector, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext, SubtaskInfo,
};

/// Collects the batches of all its subtasks; read them with [`CollectSink::batches`].
#[derive(Debug, Clone, Default)]
pub struct CollectSink {
    batches: Arc<Mutex<Vec<RecordBatch>>>,
    schema: Arc<Mutex<Option<SchemaRef>>>,
}

impl CollectSink {
    pub fn new() -> Self {
        Self::default()
    }

    /// Everything collected so far, in arrival order per subtask.
    pub fn batches(&self) -> Vec<RecordBatch> {
        self.batches.lock().expect("collect sink lock").clone()
    }

    /// Everything collected so far as one batch.
    pub fn concat(&self) -> Result<RecordBatch> {
        let schema = self
            .schema
            .lock()
            .expect("collect sink lock")
            .clone()
            .unwrap_or_else(|| Arc::new(arrow::datatypes::Schema::empty()));
        Ok(concat_batches(&schema, &self.batches())?)
    }
}

impl OperatorFactory for CollectSink {
    fn plan(&self, ctx: &PlanContext<'_>) -> Result<Arc<dyn OperatorPlan>> {
        *self.schema.lock().expect("collect sink lock") = Some(ctx.single_input()?.clone());
        Ok(Arc::new(self.clone()))
    }
}

impl OperatorPlan for CollectSink {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }
    fn create(&self, _: &SubtaskInfo) -> Result<Box<dyn Operator>> {
        Ok(Box::new(self.clone()))
    }
}

#[async_trait]
impl Operator for CollectSink {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> Result<()> {
        self.batches.lock().expect("collect sink lock").push(batch);
        Ok(())
    }
}
