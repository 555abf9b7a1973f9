//! A bounded source over batches held in memory, split into partitions. Its position in
//! each partition (how many batches were read) is checkpointed.

use std::sync::Arc;

use arrow::array::{AsArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, SchemaRef, UInt32Type, UInt64Type};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;

use crate::error::{EngineError, Result};
use crate::operator::SubtaskInfo;
use crate::source::{Source, SourceBatch, SourcePlan};
use crate::state::{state_batch, StateChunk, StateTable};

/// Partitions of batches; subtask `i` reads the partitions `p` with `p % parallelism == i`,
/// always reading next from the partition it has read the fewest batches of (ties: the
/// lowest partition), so the order follows from the positions alone.
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
        let owned = self
            .partitions
            .iter()
            .enumerate()
            .filter(|(p, _)| p % subtask.parallelism == subtask.index)
            .map(|(p, batches)| Partition {
                partition: p as u32,
                batches: batches.clone(),
                next: 0,
            })
            .collect();
        Ok(Box::new(MemoryReader { owned }))
    }
}

struct Partition {
    partition: u32,
    batches: Vec<RecordBatch>,
    /// Index of the next batch to read.
    next: usize,
}

struct MemoryReader {
    owned: Vec<Partition>,
}

/// State table of the memory source: the next batch index of each partition.
const POSITIONS_TABLE: &str = "positions";

fn positions_table() -> StateTable {
    StateTable::new(
        POSITIONS_TABLE,
        [Arc::new(Field::new("next_batch", DataType::UInt64, false))],
    )
}

#[async_trait]
impl Source for MemoryReader {
    fn partitions(&self) -> Vec<u32> {
        self.owned.iter().map(|p| p.partition).collect()
    }

    async fn next_batch(&mut self) -> Result<Option<SourceBatch>> {
        let behind = self
            .owned
            .iter_mut()
            .filter(|p| p.next < p.batches.len())
            .min_by_key(|p| p.next);
        Ok(behind.map(|p| {
            p.next += 1;
            SourceBatch::new(p.partition, p.batches[p.next - 1].clone())
        }))
    }

    fn snapshot(&mut self) -> Result<Vec<StateChunk>> {
        let shard = Arc::new(UInt32Array::from_iter_values(
            self.owned.iter().map(|p| p.partition),
        ));
        let next = Arc::new(UInt64Array::from_iter_values(
            self.owned.iter().map(|p| p.next as u64),
        ));
        Ok(vec![StateChunk::new(
            POSITIONS_TABLE,
            state_batch(&positions_table(), shard, vec![next])?,
        )])
    }

    fn restore(&mut self, chunks: Vec<StateChunk>) -> Result<()> {
        for chunk in chunks.iter().filter(|c| c.table == POSITIONS_TABLE) {
            let partitions = chunk.batch.column(0).as_primitive::<UInt32Type>();
            let next = chunk.batch.column(1).as_primitive::<UInt64Type>();
            for row in 0..chunk.batch.num_rows() {
                if let Some(p) = self
                    .owned
                    .iter_mut()
                    .find(|p| p.partition == partitions.value(row))
                {
                    p.next = (next.value(row) as usize).min(p.batches.len());
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::Int64Array;
    use arrow::datatypes::Schema;

    fn source() -> Arc<MemorySource> {
        let schema = Arc::new(Schema::new(vec![Field::new("v", DataType::Int64, false)]));
        let partitions = (0..3)
            .map(|p| {
                (0..4)
                    .map(|i| {
                        let column = Arc::new(Int64Array::from(vec![p * 10 + i]));
                        RecordBatch::try_new(schema.clone(), vec![column]).unwrap()
                    })
                    .collect()
            })
            .collect();
        MemorySource::new(schema, partitions).unwrap()
    }

    fn subtask(index: usize, parallelism: usize) -> SubtaskInfo {
        SubtaskInfo {
            gauges: Default::default(),
            node: "m".into(),
            index,
            parallelism,
            max_parallelism: 128,
        }
    }

    async fn values(reader: &mut dyn Source) -> Vec<i64> {
        let mut out = Vec::new();
        while let Some(b) = reader.next_batch().await.unwrap() {
            out.push(
                b.batch
                    .column(0)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .value(0),
            );
        }
        out
    }

    #[tokio::test]
    async fn positions_survive_a_restore_at_another_parallelism() {
        let source = source();
        let mut first = source.create(&subtask(0, 1)).unwrap();
        let mut read = Vec::new();
        for _ in 0..5 {
            let b = first.next_batch().await.unwrap().unwrap();
            read.push(
                b.batch
                    .column(0)
                    .as_primitive::<arrow::datatypes::Int64Type>()
                    .value(0),
            );
        }
        // Turns go to the partition furthest behind.
        assert_eq!(read, vec![0, 10, 20, 1, 11]);
        let state = first.snapshot().unwrap();

        let mut rest = Vec::new();
        for index in 0..2 {
            let mut reader = source.create(&subtask(index, 2)).unwrap();
            reader.restore(state.clone()).unwrap();
            rest.extend(values(reader.as_mut()).await);
        }
        // Subtask 0 reads partitions 0 and 2, subtask 1 partition 1.
        assert_eq!(rest, vec![21, 2, 22, 3, 23, 12, 13]);
    }
}
