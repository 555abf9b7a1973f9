//! A sink that prints every batch to standard output, as an aligned table or as JSON lines.
//!
//! Subtasks print whole batches under the stdout lock, so lines of different subtasks never
//! interleave within a batch.

use std::io::Write;
use std::sync::Arc;

use crate::format::json_encode::json_lines;
use arrow::record_batch::RecordBatch;
use arrow::util::pretty::pretty_format_batches;
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use weir_engine::{
    Collector, EngineError, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext,
    SubtaskInfo,
};

/// How rows are printed.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StdoutFormat {
    /// One aligned table per batch.
    #[default]
    Pretty,
    /// One JSON object per row.
    JsonLines,
}

/// Settings of the stdout sink.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StdoutSinkConfig {
    #[serde(default)]
    pub format: StdoutFormat,
}

impl OperatorFactory for StdoutSinkConfig {
    fn plan(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        ctx.single_input()?;
        Ok(Arc::new(*self))
    }
}

impl OperatorPlan for StdoutSinkConfig {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }
    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(StdoutSink {
            format: self.format,
        }))
    }
}

struct StdoutSink {
    format: StdoutFormat,
}

impl StdoutSink {
    fn render(&self, batch: &RecordBatch) -> crate::error::Result<Vec<u8>> {
        match self.format {
            StdoutFormat::Pretty => {
                let mut text = pretty_format_batches(std::slice::from_ref(batch))?.to_string();
                text.push('\n');
                Ok(text.into_bytes())
            }
            StdoutFormat::JsonLines => Ok(json_lines(batch)?),
        }
    }
}

#[async_trait]
impl Operator for StdoutSink {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        if batch.num_rows() == 0 {
            return Ok(());
        }
        let bytes = self.render(&batch)?;
        std::io::stdout()
            .lock()
            .write_all(&bytes)
            .map_err(|e| EngineError::external("stdout sink", e))
    }
}
