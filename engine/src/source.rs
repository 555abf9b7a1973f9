//! Sources: where rows enter a job graph.

use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::error::Result;
use crate::operator::SubtaskInfo;
use crate::state::StateChunk;

/// A batch read from one partition of a source.
#[derive(Debug, Clone)]
pub struct SourceBatch {
    /// The source partition (Kafka partition, file, generator stream) the rows came from.
    /// Watermarks are tracked per partition.
    pub partition: u32,
    pub batch: RecordBatch,
    /// Records of the same read that could not be decoded, laid out as
    /// [`SourcePlan::dead_letter_schema`]; they go to the `dead_letters` output.
    pub dead_letters: Option<RecordBatch>,
}

impl SourceBatch {
    /// Rows of `partition`, all decoded.
    pub fn new(partition: u32, batch: RecordBatch) -> Self {
        Self {
            partition,
            batch,
            dead_letters: None,
        }
    }
}

/// The name of a source's output of records it could not decode.
pub const DEAD_LETTER_PORT: &str = "dead_letters";

/// A source's configuration, compiled once; creates one reader per subtask.
pub trait SourcePlan: Send + Sync {
    /// The schema of every batch the source produces.
    fn schema(&self) -> SchemaRef;
    /// The schema of the source's dead letters, if it can produce any; the source node
    /// then has a second output, [`DEAD_LETTER_PORT`].
    fn dead_letter_schema(&self) -> Option<SchemaRef> {
        None
    }
    /// A reader for one subtask; together the subtasks read every partition exactly once.
    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Source>>;
}

/// One subtask's reader.
#[async_trait]
pub trait Source: Send {
    /// The partitions this subtask reads. Until a partition has produced rows (or has been
    /// idle for the idle timeout) it holds the subtask's watermark back.
    fn partitions(&self) -> Vec<u32>;

    /// How partition `id` is named to people (in the job view's watermark per partition):
    /// `topic/3` for a Kafka partition; its id by default.
    fn partition_name(&self, id: u32) -> String {
        id.to_string()
    }

    /// The next batch, or `None` when a bounded source is exhausted.
    ///
    /// Must be cancel safe: the runtime may drop the returned future when a timer fires and
    /// call again later, and no rows may be lost by that.
    async fn next_batch(&mut self) -> Result<Option<SourceBatch>>;

    /// The read positions of this subtask's partitions as state rows whose key-group column
    /// holds the partition. Called between batches, at a checkpoint barrier. A source
    /// without positions (the default) is read again from the start after a restore.
    fn snapshot(&mut self) -> Result<Vec<StateChunk>> {
        Ok(Vec::new())
    }

    /// Seeks to saved positions before the first `next_batch`. `chunks` holds the rows of
    /// every partition of the source; a subtask takes those of the partitions it reads.
    fn restore(&mut self, _chunks: Vec<StateChunk>) -> Result<()> {
        Ok(())
    }
}

/// Shared, type-erased source plan.
pub type SourcePlanRef = Arc<dyn SourcePlan>;
