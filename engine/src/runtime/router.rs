//! Sending a subtask's output along one edge to the downstream subtasks.

use arrow::array::UInt32Array;
use arrow::compute::take_record_batch;
use arrow::record_batch::RecordBatch;

use crate::channel::Sender;
use crate::error::{EngineError, Result};
use crate::graph::Partitioning;
use crate::keys::{hash_columns, key_group, subtask_for_key_group};
use crate::message::Message;

/// One edge as seen by one upstream subtask.
pub(crate) struct Router {
    partitioning: Partitioning,
    /// Senders indexed by downstream subtask (a single one for forward edges).
    senders: Vec<Sender>,
    key_columns: Vec<usize>,
    max_parallelism: usize,
    next: usize,
    hashes: Vec<u64>,
    targets: Vec<Vec<u32>>,
}

impl Router {
    pub fn new(
        partitioning: Partitioning,
        senders: Vec<Sender>,
        key_columns: Vec<usize>,
        max_parallelism: usize,
    ) -> Self {
        let targets = vec![Vec::new(); senders.len()];
        Self {
            partitioning,
            senders,
            key_columns,
            max_parallelism,
            next: 0,
            hashes: Vec::new(),
            targets,
        }
    }

    async fn send(&self, target: usize, message: Message) -> Result<()> {
        self.senders[target]
            .send(message)
            .await
            .map_err(|_| EngineError::Disconnected)
    }

    /// Routes a batch by the edge's partitioning, waiting while a downstream channel is full.
    pub async fn send_data(&mut self, batch: RecordBatch) -> Result<()> {
        match &self.partitioning {
            _ if self.senders.len() == 1 => self.send(0, Message::Data(batch)).await,
            Partitioning::Forward => self.send(0, Message::Data(batch)).await,
            Partitioning::Rebalance => {
                let target = self.next;
                self.next = (self.next + 1) % self.senders.len();
                self.send(target, Message::Data(batch)).await
            }
            Partitioning::Broadcast => {
                for target in 0..self.senders.len() {
                    self.send(target, Message::Data(batch.clone())).await?;
                }
                Ok(())
            }
            Partitioning::Hash(_) => {
                self.split_by_key(&batch)?;
                for target in 0..self.senders.len() {
                    let rows = std::mem::take(&mut self.targets[target]);
                    if rows.is_empty() {
                        self.targets[target] = rows;
                        continue;
                    }
                    let part = if rows.len() == batch.num_rows() {
                        batch.clone()
                    } else {
                        let indices = UInt32Array::from(rows);
                        take_record_batch(&batch, &indices)?
                    };
                    self.send(target, Message::Data(part)).await?;
                }
                Ok(())
            }
        }
    }

    fn split_by_key(&mut self, batch: &RecordBatch) -> Result<()> {
        let columns: Vec<_> = self
            .key_columns
            .iter()
            .map(|&i| batch.column(i).clone())
            .collect();
        hash_columns(&columns, &mut self.hashes)?;
        let parallelism = self.senders.len();
        for t in &mut self.targets {
            t.clear();
        }
        for (row, &hash) in self.hashes.iter().enumerate() {
            let group = key_group(hash, self.max_parallelism);
            let target = subtask_for_key_group(group, self.max_parallelism, parallelism);
            self.targets[target].push(row as u32);
        }
        Ok(())
    }

    /// Sends a control message to every downstream subtask.
    pub async fn send_control(&self, message: Message) -> Result<()> {
        for target in 0..self.senders.len() {
            self.send(target, message.clone()).await?;
        }
        Ok(())
    }
}
