//! A bounded source over batches held in memory, split into partitions.

use std::collections::VecDeque;
use std::sync::Arc;

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::error::{EngineError, Result};
use crate::operator::SubtaskInfo;
use crate::source::{Source, SourceBatch, SourcePlan};

/// Partitions of batches; subtask `i` reads the partitions `p` with `p % parallelism == i`,
/// taking turns between them batch by batch.
#[derive(Debug, Clone)]
pub struct MemorySource {
    schema: SchemaRef,
    partitions: Vec<Vec<RecordBatch>>,
}

impl MemorySource {
    /// A source over `partitions`; every batch must have `schema`.
    pub fn new(schema: SchemaRef, partitions: Vec<Vec<RecordBatch>>) -> Result<Arc<Self>> {
        for (p, batches) in partitions.iter().enumerate() {
            for b in batches {
                if b.schema().fields() != schema.fields() {
                    return Err(EngineError::Graph(format!(
                        "memory source partition {p} holds a batch whose schema differs from the source's"
                    )));
                }
            }
        }
        Ok(Arc::new(Self { schema, partitions }))
    }
}

impl SourcePlan for MemorySource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn create(&self, subtask: &SubtaskInfo) -> Result<Box<dyn Source>> {
        let owned: Vec<(u32, VecDeque<RecordBatch>)> = self
            .partitions
            .iter()
            .enumerate()
            .filter(|(p, _)| p % subtask.parallelism == subtask.index)
            .map(|(p, batches)| (p as u32, batches.iter().cloned().collect()))
            .collect();
        Ok(Box::new(MemoryReader { owned, next: 0 }))
    }
}

struct MemoryReader {
    owned: Vec<(u32, VecDeque<RecordBatch>)>,
    next: usize,
}

#[async_trait]
impl Source for MemoryReader {
    fn partitions(&self) -> Vec<u32> {
        self.owned.iter().map(|(p, _)| *p).collect()
    }

    async fn next_batch(&mut self) -> Result<Option<SourceBatch>> {
        let n = self.owned.len();
        for k in 0..n {
            let i = (self.next + k) % n;
            if let Some(batch) = self.owned[i].1.pop_front() {
                self.next = (i + 1) % n;
                return Ok(Some(SourceBatch {
                    partition: self.owned[i].0,
                    batch,
                }));
            }
        }
        Ok(None)
    }
}
