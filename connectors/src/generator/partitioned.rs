//! What every generator shares: partitions, their read positions, turn order and pacing.
//!
//! A generated stream is a sequence of events where event `i` is a pure function of the
//! generator's configuration (seed included) and `i`. Event `i` belongs to partition
//! `i % partitions`; the `k`-th event of partition `p` is event `p + k * partitions`. A
//! subtask reads the partitions `p % parallelism == subtask`, always from the one furthest
//! behind, so the order of its batches follows from its positions alone (also after a
//! restore). Positions are checkpointed as state rows whose key-group column is the
//! partition, so a job restores at any parallelism.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{AsArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, UInt32Type, UInt64Type};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use tokio::time::Instant;
use weir_engine::state::{state_batch, StateChunk, StateTable};
use weir_engine::{Source, SourceBatch, SubtaskInfo};

use crate::error::{ConnectorError, Result};

/// Builds the rows of a generated stream.
pub(crate) trait EventBatches: Send + Sync + 'static {
    /// The events `partition + k * partitions` for `k` in `from..from + rows`, in that
    /// order. Must depend on nothing but the arguments and the generator's configuration.
    fn batch(&self, partition: u32, from: u64, rows: usize) -> Result<RecordBatch>;
}

/// How a generated stream is cut into partitions and batches, and how fast it is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Layout {
    /// Total number of events; `None` generates forever.
    pub events: Option<u64>,
    pub partitions: u32,
    pub batch_size: usize,
    /// Wall-clock pacing of the whole source in events per second.
    pub rate_limit: Option<u64>,
}

impl Layout {
    /// Refuses layouts that cannot produce a stream; `connector` names the generator.
    pub fn validate(&self, connector: &'static str) -> Result<()> {
        let fail = |message: &str| {
            Err(ConnectorError::Config {
                connector,
                message: message.into(),
            })
        };
        if self.partitions == 0 {
            return fail("partitions must be at least 1");
        }
        if self.batch_size == 0 {
            return fail("batch_size must be at least 1");
        }
        if self.rate_limit == Some(0) {
            return fail("rate_limit must be at least 1 event per second");
        }
        Ok(())
    }

    /// Number of events of partition `p`: `u64::MAX` in an unbounded stream.
    fn partition_len(&self, p: u32) -> u64 {
        match self.events {
            None => u64::MAX,
            Some(n) => {
                let parts = self.partitions as u64;
                n / parts + u64::from((p as u64) < n % parts)
            }
        }
    }

    /// The reader of one subtask over `events`.
    pub fn reader<E: EventBatches>(
        &self,
        events: Arc<E>,
        subtask: &SubtaskInfo,
    ) -> Box<dyn Source> {
        let partitions: Vec<PartitionCursor> = (0..self.partitions)
            .filter(|p| *p as usize % subtask.parallelism == subtask.index)
            .map(|p| PartitionCursor {
                partition: p,
                next: 0,
            })
            .collect();
        let share = partitions.len() as f64 / self.partitions as f64;
        Box::new(PartitionedReader {
            layout: *self,
            events,
            partitions,
            started: Instant::now(),
            emitted: 0,
            rate: self.rate_limit.map(|r| r as f64 * share),
        })
    }
}

struct PartitionCursor {
    partition: u32,
    /// Index of the partition's next event within the partition.
    next: u64,
}

/// One subtask's reader of a generated stream.
struct PartitionedReader<E> {
    layout: Layout,
    events: Arc<E>,
    partitions: Vec<PartitionCursor>,
    started: Instant,
    emitted: u64,
    /// This subtask's share of the rate limit, events per second.
    rate: Option<f64>,
}

/// State table of a generator: the next event index of each partition.
const POSITIONS_TABLE: &str = "positions";

fn positions_table() -> StateTable {
    StateTable::new(
        POSITIONS_TABLE,
        [Arc::new(Field::new("next", DataType::UInt64, false))],
    )
}

#[async_trait]
impl<E: EventBatches> Source for PartitionedReader<E> {
    fn partitions(&self) -> Vec<u32> {
        self.partitions.iter().map(|p| p.partition).collect()
    }

    fn snapshot(&mut self) -> weir_engine::Result<Vec<StateChunk>> {
        let shard = Arc::new(UInt32Array::from_iter_values(
            self.partitions.iter().map(|p| p.partition),
        ));
        let next = Arc::new(UInt64Array::from_iter_values(
            self.partitions.iter().map(|p| p.next),
        ));
        Ok(vec![StateChunk::new(
            POSITIONS_TABLE,
            state_batch(&positions_table(), shard, vec![next])?,
        )])
    }

    fn restore(&mut self, chunks: Vec<StateChunk>) -> weir_engine::Result<()> {
        for chunk in chunks.iter().filter(|c| c.table == POSITIONS_TABLE) {
            let partitions = chunk.batch.column(0).as_primitive::<UInt32Type>();
            let next = chunk.batch.column(1).as_primitive::<UInt64Type>();
            for row in 0..chunk.batch.num_rows() {
                if let Some(cursor) = self
                    .partitions
                    .iter_mut()
                    .find(|c| c.partition == partitions.value(row))
                {
                    cursor.next = next.value(row);
                }
            }
        }
        Ok(())
    }

    /// Takes turns between the partitions by always reading the one furthest behind, so
    /// the order of batches follows from the positions alone (also after a restore).
    async fn next_batch(&mut self) -> weir_engine::Result<Option<SourceBatch>> {
        let behind = self
            .partitions
            .iter()
            .enumerate()
            .filter(|(_, c)| c.next < self.layout.partition_len(c.partition))
            .min_by_key(|(_, c)| c.next)
            .map(|(i, _)| i);
        let Some(i) = behind else {
            return Ok(None);
        };
        let (partition, next) = (self.partitions[i].partition, self.partitions[i].next);
        let remaining = self.layout.partition_len(partition) - next;
        let rows = remaining.min(self.layout.batch_size as u64) as usize;
        if let Some(rate) = self.rate {
            let due = self.started + Duration::from_secs_f64(self.emitted as f64 / rate);
            tokio::time::sleep_until(due).await;
        }
        let batch = self.events.batch(partition, next, rows)?;
        self.partitions[i].next += rows as u64;
        self.emitted += rows as u64;
        Ok(Some(SourceBatch::new(partition, batch)))
    }
}
