//! The committing half of the Delta sink (one subtask): collects the files the writers
//! staged before each barrier, keeps them in its checkpointed state, and commits them when
//! the checkpoint completes, in one transaction that also records the checkpoint id as the
//! application's epoch (`txn(app_id, epoch)`). An epoch the table already holds is never
//! committed again, so replaying after a crash (before or after the commit) is harmless.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, SchemaRef, UInt64Type};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use deltalake::kernel::Add;
use deltalake::DeltaTable;
use weir_engine::failpoint;
use weir_engine::state::{state_batch, OperatorSnapshot, StateChunk, StateTable};
use weir_engine::{CheckpointBarrier, Collector, Operator, OperatorPlan, OutputPort, SubtaskInfo};

use super::table::{commit_epoch, open_or_create};
use super::DeltaSinkConfig;
use crate::error::ConnectorError;

const STAGED_TABLE: &str = "staged";

fn staged_table() -> StateTable {
    StateTable::new(
        STAGED_TABLE,
        [
            Arc::new(Field::new("epoch", DataType::UInt64, false)),
            Arc::new(Field::new("add", DataType::Utf8, false)),
        ],
    )
}

pub(super) struct DeltaCommitterPlan {
    pub config: Arc<DeltaSinkConfig>,
    /// The schema of the rows the writers write, to create the table if needed.
    pub rows: SchemaRef,
}

impl OperatorPlan for DeltaCommitterPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }

    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(DeltaCommitter {
            config: self.config.clone(),
            rows: self.rows.clone(),
            table: None,
            pending: Vec::new(),
            staged: BTreeMap::new(),
            last_checkpoint: 0,
        }))
    }
}

struct DeltaCommitter {
    config: Arc<DeltaSinkConfig>,
    rows: SchemaRef,
    table: Option<DeltaTable>,
    /// `add` actions received since the last barrier.
    pending: Vec<String>,
    /// `add` actions by the epoch (checkpoint id) they belong to, not yet committed.
    staged: BTreeMap<u64, Vec<String>>,
    /// The newest checkpoint the committer took part in or was restored from.
    last_checkpoint: u64,
}

impl DeltaCommitter {
    /// Commits every staged epoch up to `through` as one transaction.
    async fn commit_through(&mut self, through: u64) -> weir_engine::Result<()> {
        let epochs: Vec<u64> = self.staged.range(..=through).map(|(e, _)| *e).collect();
        let Some(&epoch) = epochs.last() else {
            return Ok(());
        };
        let mut adds = Vec::new();
        for e in &epochs {
            for json in &self.staged[e] {
                let add: Add = serde_json::from_str(json).map_err(|err| {
                    ConnectorError::Delta(format!("staged file of epoch {e}: {err}"))
                })?;
                adds.push(add);
            }
        }
        // The first completed checkpoint creates the table, rows or not, so a sink that
        // has written nothing yet (a dead-letter table, say) is still a table to query.
        let table = match &mut self.table {
            Some(t) => t,
            None => self.table.insert(
                open_or_create(&self.config.table, &self.rows, &self.config.partition_by).await?,
            ),
        };
        if !adds.is_empty() {
            let files = adds.len();
            failpoint::hit("delta_before_commit");
            let committed = commit_epoch(
                table,
                &self.config.app_id,
                epoch as i64,
                adds,
                self.config.schema_evolution.then_some(&self.rows),
            )
            .await?;
            match committed {
                Some(version) => {
                    tracing::info!(table = %self.config.table, epoch, version, files, "committed to Delta")
                }
                // Expected after a restore; otherwise a sign that another job (or an
                // earlier run whose checkpoints were deleted) uses the same app id.
                None => tracing::warn!(
                    table = %self.config.table,
                    app_id = %self.config.app_id,
                    epoch,
                    files,
                    "the table already holds this epoch of this app id; its files are not committed again"
                ),
            }
            failpoint::hit("delta_after_commit");
        }
        for e in epochs {
            self.staged.remove(&e);
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for DeltaCommitter {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        let adds = batch.column(0).as_string::<i32>();
        self.pending
            .extend(adds.iter().flatten().map(str::to_string));
        Ok(())
    }

    async fn on_barrier(
        &mut self,
        barrier: CheckpointBarrier,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.staged
            .insert(barrier.checkpoint_id, std::mem::take(&mut self.pending));
        self.last_checkpoint = barrier.checkpoint_id;
        failpoint::hit("delta_files_staged");
        Ok(())
    }

    async fn on_checkpoint_complete(&mut self, checkpoint_id: u64) -> weir_engine::Result<()> {
        self.commit_through(checkpoint_id).await
    }

    /// Files written after the last barrier form one more epoch, committed by the final
    /// checkpoint taken at the end of the input.
    async fn on_end(&mut self, _: &mut Collector) -> weir_engine::Result<()> {
        self.staged
            .insert(self.last_checkpoint + 1, std::mem::take(&mut self.pending));
        Ok(())
    }

    fn state_tables(&self) -> Vec<StateTable> {
        vec![staged_table()]
    }

    async fn snapshot(&mut self) -> weir_engine::Result<OperatorSnapshot> {
        let rows: Vec<(u64, &str)> = self
            .staged
            .iter()
            .flat_map(|(e, adds)| adds.iter().map(move |a| (*e, a.as_str())))
            .collect();
        let mut chunks = Vec::new();
        if !rows.is_empty() {
            let shard = Arc::new(UInt32Array::from_value(0, rows.len()));
            let epochs = Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0)));
            let adds = Arc::new(StringArray::from_iter_values(rows.iter().map(|r| r.1)));
            chunks.push(StateChunk::new(
                STAGED_TABLE,
                state_batch(&staged_table(), shard, vec![epochs, adds])?,
            ));
        }
        Ok(OperatorSnapshot {
            watermark: None,
            chunks,
            checkpoint_id: None,
        })
    }

    /// Everything staged in the checkpoint restored from belongs to a completed
    /// checkpoint: it is committed now, unless the table already holds it.
    async fn restore(&mut self, snapshot: OperatorSnapshot) -> weir_engine::Result<()> {
        self.last_checkpoint = snapshot.checkpoint_id.unwrap_or(0);
        for chunk in snapshot.chunks.iter().filter(|c| c.table == STAGED_TABLE) {
            let epochs = chunk.batch.column(1).as_primitive::<UInt64Type>();
            let adds = chunk.batch.column(2).as_string::<i32>();
            for row in 0..chunk.batch.num_rows() {
                if epochs.is_valid(row) && adds.is_valid(row) {
                    self.staged
                        .entry(epochs.value(row))
                        .or_default()
                        .push(adds.value(row).to_string());
                }
            }
        }
        self.commit_through(self.last_checkpoint).await
    }
}
