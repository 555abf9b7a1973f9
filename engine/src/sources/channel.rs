//! A source fed by the embedding program through a channel (one partition, parallelism 1).
//! It stays open until every [`ChannelSourceSender`] is dropped, which makes it the way to
//! push rows into a running job, and to test watermarks of inputs that go quiet.

use std::sync::{Arc, Mutex};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use tokio::sync::mpsc;

use crate::error::{EngineError, Result};
use crate::operator::SubtaskInfo;
use crate::source::{Source, SourceBatch, SourcePlan};

/// The plan side: hands its receiver to the single subtask.
#[derive(Debug)]
pub struct ChannelSource {
    schema: SchemaRef,
    receiver: Mutex<Option<mpsc::Receiver<RecordBatch>>>,
}

/// Pushes batches into a [`ChannelSource`]; waits while `capacity` batches are queued.
#[derive(Debug, Clone)]
pub struct ChannelSourceSender {
    sender: mpsc::Sender<RecordBatch>,
}

impl ChannelSourceSender {
    /// Sends a batch; fails once the job has stopped.
    pub async fn send(&self, batch: RecordBatch) -> Result<()> {
        self.sender
            .send(batch)
            .await
            .map_err(|_| EngineError::Disconnected)
    }
}

impl ChannelSource {
    pub fn new(schema: SchemaRef, capacity: usize) -> (Arc<Self>, ChannelSourceSender) {
        let (sender, receiver) = mpsc::channel(capacity.max(1));
        let source = Arc::new(Self {
            schema,
            receiver: Mutex::new(Some(receiver)),
        });
        (source, ChannelSourceSender { sender })
    }
}

impl SourcePlan for ChannelSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Source>> {
        let receiver = self
            .receiver
            .lock()
            .map_err(|_| EngineError::Graph("channel source lock poisoned".into()))?
            .take()
            .ok_or_else(|| {
                EngineError::config(
                    &subtask.node,
                    "a channel source runs with parallelism 1 and runs once",
                )
            })?;
        Ok(Box::new(ChannelReader { receiver }))
    }
}

struct ChannelReader {
    receiver: mpsc::Receiver<RecordBatch>,
}

#[async_trait]
impl Source for ChannelReader {
    fn partitions(&self) -> Vec<u32> {
        vec![0]
    }

    async fn next_batch(&mut self) -> Result<Option<SourceBatch>> {
        Ok(self
            .receiver
            .recv()
            .await
            .map(|batch| SourceBatch::new(0, batch)))
    }
}
