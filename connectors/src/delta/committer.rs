//! The committing half of the Delta sink (one subtask): collects the files the writers
//! staged before each barrier into a new epoch, keeps them in its checkpointed state, and
//! commits them when the checkpoint completes, in one transaction that also records the
//! application's epoch (`txn(app_id, epoch)`).
//!
//! Epochs are numbered by the committer, not by checkpoint ids: a run's first epoch
//! follows the newest epoch of its app id the table holds (and any epoch restored from a
//! checkpoint), so a fresh start, a deleted checkpoint folder or a restore from an older
//! checkpoint never produces an epoch the table would take for one it already holds. A
//! restored epoch the table already holds is not committed again, so replaying after a
//! crash (before or after the commit) is harmless.
//!
//! With quality rules, the committer merges the writers' metric states of each epoch when
//! it stages it (at the barrier) and judges the epoch then: a failed `fail` rule fails the
//! barrier, so the checkpoint never completes and nothing of the epoch is committed; the
//! job restores from the checkpoint before it. Other verdicts are kept with the staged
//! epoch (in the checkpoint too) and written into the commit info under `weir.quality`,
//! so a commit after a restore carries the verdict judged before the crash.

use std::collections::BTreeMap;
use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, SchemaRef, UInt64Type};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use deltalake::kernel::Add;
use weir_engine::failpoint;
use weir_engine::state::{state_batch, OperatorSnapshot, StateChunk, StateTable};
use weir_engine::{
    CheckpointBarrier, Collector, NodeGauges, Operator, OperatorPlan, OutputPort, SubtaskInfo,
    Watermark,
};
use weir_lake::epoch::EpochCommitter;
use weir_lake::table::open_or_create;
use weir_lake::PartitionReplace;
use weir_quality::Verdict;

use super::epoch_gate::{
    alerts_table, keys_table, quarantined_table, verdicts_table, volume_table, EpochGate,
    QUARANTINED_TABLE, VERDICTS_TABLE,
};
use super::DeltaSinkConfig;
use crate::error::ConnectorError;

const STAGED_TABLE: &str = "staged";
/// The `add` of the state row that only records the newest epoch assigned.
const NEWEST_EPOCH_MARK: &str = "";

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
    /// The sink's quality rules.
    pub gate: Option<super::SinkGate>,
}

impl OperatorPlan for DeltaCommitterPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }

    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(DeltaCommitter {
            gauges: subtask.gauges.clone(),
            config: self.config.clone(),
            rows: self.rows.clone(),
            committer: None,
            pending: Vec::new(),
            pending_quarantined: Vec::new(),
            gate: self.gate.clone().map(EpochGate::new),
            staged: BTreeMap::new(),
            last_checkpoint: 0,
            next_epoch: None,
            replace: PartitionReplace::new(self.config.replace_partition.clone()),
            ended: false,
            replaced: false,
        }))
    }
}

/// The files of one epoch, staged at the barrier of one checkpoint.
struct StagedEpoch {
    /// The checkpoint whose completion commits the epoch.
    checkpoint: u64,
    /// The epoch's `add` actions, as JSON.
    adds: Vec<String>,
    /// The epoch's quality verdicts, when the sink has rules.
    verdicts: Option<Vec<Verdict>>,
    /// The `add` actions of the epoch's files of the quarantine table, as JSON.
    quarantined: Vec<String>,
}

struct DeltaCommitter {
    config: Arc<DeltaSinkConfig>,
    rows: SchemaRef,
    /// The table's epoch committer, opened on first use.
    committer: Option<EpochCommitter>,
    /// `add` actions received since the last barrier.
    pending: Vec<String>,
    /// `add` actions of quarantine table files received since the last barrier.
    pending_quarantined: Vec<String>,
    /// The quality rules' part, when the sink has rules.
    gate: Option<EpochGate>,
    /// Epochs not yet committed, by epoch. Epochs and their checkpoints increase together,
    /// so the epochs a completed checkpoint commits are always a prefix.
    staged: BTreeMap<u64, StagedEpoch>,
    /// The newest checkpoint the committer took part in or was restored from.
    last_checkpoint: u64,
    /// The epoch the next barrier stages; `None` until the table was read. Invariant: it
    /// is above every epoch of this app id the table holds, so every epoch this run
    /// produces is committed exactly once, however the run started.
    next_epoch: Option<u64>,
    /// The partition the run replaces: its epochs are then all committed together, in
    /// one replacing commit at the end of the input.
    replace: Option<PartitionReplace>,
    /// Whether this run reached the end of its input (and staged its last epoch).
    ended: bool,
    /// Whether the run's replacing commit is in the table (found on a restore): nothing
    /// more is committed.
    replaced: bool,
    /// Reports [`DELTA_VERSION`], [`DELTA_COMMITS`] and [`DELTA_COMMIT_MICROS`].
    gauges: NodeGauges,
}

/// The committer's figure: the newest table version it committed.
pub const DELTA_VERSION: &str = "delta_version";
/// The committer's figure: how many commits it made.
pub const DELTA_COMMITS: &str = "delta_commits";
/// The committer's figure: microseconds its commits took, summed.
pub const DELTA_COMMIT_MICROS: &str = "delta_commit_us";

impl DeltaCommitter {
    /// The table's epoch committer; opens the table (creating it when missing) on first
    /// use. The loaded table is not kept: commits read only the log's new versions.
    async fn committer(&mut self) -> weir_engine::Result<&mut EpochCommitter> {
        if self.committer.is_none() {
            let table = open_or_create(&self.config.table, &self.rows, &self.config.partition_by)
                .await
                .map_err(ConnectorError::from)?;
            let committer = EpochCommitter::open(&table, &self.config.app_id)
                .await
                .map_err(ConnectorError::from)?;
            self.committer = Some(committer);
        }
        Ok(self.committer.as_mut().expect("opened above"))
    }

    /// The newest epoch of this app id the table holds (0 for none).
    async fn committed_epoch(&mut self) -> weir_engine::Result<u64> {
        let epoch = self
            .committer()
            .await?
            .refresh()
            .await
            .map_err(ConnectorError::from)?;
        Ok(epoch.unwrap_or(0).max(0) as u64)
    }

    /// Starts this run's epochs after both the table's newest epoch of this app id and
    /// the newest epoch restored from a checkpoint. Says so when the table is ahead of
    /// what the run restored: a fresh start over a table this app id wrote, or a restore
    /// from an older checkpoint or savepoint.
    async fn start_epochs(&mut self, restored: u64) -> weir_engine::Result<u64> {
        let committed = self.committed_epoch().await?;
        let next = committed.max(restored) + 1;
        if committed > restored {
            tracing::warn!(
                table = %self.config.table,
                app_id = %self.config.app_id,
                "the table holds epochs of this app up to {committed}; new epochs start at {next}"
            );
        }
        self.next_epoch = Some(next);
        Ok(next)
    }

    /// Moves the files received since the last barrier into a new epoch, committed by
    /// checkpoint `checkpoint`.
    async fn stage(&mut self, checkpoint: u64) -> weir_engine::Result<()> {
        if self.replaced {
            if self.pending.is_empty() && self.pending_quarantined.is_empty() {
                return Ok(());
            }
            return Err(ConnectorError::Delta(format!(
                "rows arrived for table {} after this run replaced its partition {}",
                self.config.table,
                self.replace
                    .as_ref()
                    .map_or(String::new(), PartitionReplace::predicate)
            ))
            .into());
        }
        let epoch = match self.next_epoch {
            Some(epoch) => epoch,
            None => self.start_epochs(0).await?,
        };
        let verdicts = match &mut self.gate {
            Some(gate) => Some(gate.judge(epoch, &self.config, &self.rows)?),
            None => None,
        };
        self.next_epoch = Some(epoch + 1);
        let adds = std::mem::take(&mut self.pending);
        let quarantined = std::mem::take(&mut self.pending_quarantined);
        self.staged.insert(
            epoch,
            StagedEpoch {
                checkpoint,
                adds,
                verdicts,
                quarantined,
            },
        );
        Ok(())
    }

    /// Commits every staged epoch of the checkpoints up to `through` as one transaction
    /// recorded as the newest of them.
    async fn commit_through(&mut self, through: u64) -> weir_engine::Result<()> {
        let epochs: Vec<u64> = self
            .staged
            .iter()
            .take_while(|(_, staged)| staged.checkpoint <= through)
            .map(|(e, _)| *e)
            .collect();
        let Some(&epoch) = epochs.last() else {
            return Ok(());
        };
        let mut adds = Vec::new();
        let judged: Vec<serde_json::Value> = epochs
            .iter()
            .filter_map(|e| {
                let verdicts = self.staged[e].verdicts.as_ref()?;
                Some(serde_json::json!({"epoch": e, "verdicts": verdicts}))
            })
            .collect();
        let mut info = std::collections::HashMap::new();
        if !judged.is_empty() {
            info.insert(
                weir_quality::gate::COMMIT_INFO_KEY.to_string(),
                serde_json::Value::Array(judged),
            );
        }
        for e in &epochs {
            for json in &self.staged[e].adds {
                let add: Add = serde_json::from_str(json).map_err(|err| {
                    ConnectorError::Delta(format!("staged file of epoch {e}: {err}"))
                })?;
                adds.push(add);
            }
        }
        let quarantined: Vec<String> = epochs
            .iter()
            .flat_map(|e| self.staged[e].quarantined.iter().cloned())
            .collect();
        if !quarantined.is_empty() {
            let Some(gate) = &mut self.gate else {
                return Err(ConnectorError::Quality(
                    "quarantined files arrived for a sink without quarantine rules".into(),
                )
                .into());
            };
            gate.commit_quarantined(&self.config, epoch, &quarantined)
                .await?;
        }
        if !adds.is_empty() || self.replace.is_some() {
            let files = adds.len();
            let evolve_to = self.config.schema_evolution.then(|| self.rows.clone());
            failpoint::hit("delta_before_commit")?;
            let replace = self.replace.clone();
            let started = std::time::Instant::now();
            let committer = self.committer().await?;
            let committed = match &replace {
                Some(replace) => {
                    committer
                        .commit_replacing(epoch as i64, adds, replace, info)
                        .await
                }
                None => {
                    committer
                        .commit_with_info(epoch as i64, adds, evolve_to.as_ref(), info)
                        .await
                }
            }
            .map_err(ConnectorError::from)?;
            self.replaced = replace.is_some();
            match committed {
                Some(version) => {
                    self.gauges.set(DELTA_VERSION, version as i64);
                    self.gauges.add(DELTA_COMMITS, 1);
                    self.gauges
                        .add(DELTA_COMMIT_MICROS, started.elapsed().as_micros() as i64);
                    tracing::info!(table = %self.config.table, epoch, version, files, "committed to Delta")
                }
                // Only after a restore: the epoch was committed before the job stopped.
                None => tracing::info!(
                    table = %self.config.table,
                    app_id = %self.config.app_id,
                    epoch,
                    files,
                    "the table already holds this restored epoch; its files are not committed again"
                ),
            }
            failpoint::hit("delta_after_commit")?;
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
        let quarantined = batch.column(2).as_boolean();
        for row in 0..batch.num_rows() {
            if adds.is_null(row) {
                continue;
            }
            let add = adds.value(row).to_string();
            if quarantined.is_valid(row) && quarantined.value(row) {
                self.pending_quarantined.push(add);
            } else {
                self.pending.push(add);
            }
        }
        if let Some(gate) = &mut self.gate {
            gate.receive(batch.column(1).as_binary::<i32>())?;
        }
        Ok(())
    }

    async fn on_barrier(
        &mut self,
        barrier: CheckpointBarrier,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.stage(barrier.checkpoint_id).await?;
        self.last_checkpoint = barrier.checkpoint_id;
        failpoint::hit("delta_files_staged")?;
        Ok(())
    }

    /// The first completed checkpoint also creates the table, rows or not (the first
    /// barrier opened it), so a sink that has written nothing yet (a dead-letter table,
    /// say) is still a table to query.
    /// A sink replacing a partition commits only once the input ended.
    async fn on_checkpoint_complete(&mut self, checkpoint_id: u64) -> weir_engine::Result<()> {
        if self.replace.is_some() && !self.ended {
            return Ok(());
        }
        self.commit_through(checkpoint_id).await
    }

    /// The writers' combined watermark, for the quality rules' freshness; forwarded.
    async fn on_watermark(
        &mut self,
        watermark: i64,
        _: &mut Collector,
    ) -> weir_engine::Result<Option<Watermark>> {
        if let Some(gate) = &mut self.gate {
            gate.observe_watermark(watermark);
        }
        Ok(Some(Watermark::EventTime(watermark)))
    }

    /// Files written after the last barrier form one more epoch, committed by the final
    /// checkpoint taken at the end of the input.
    async fn on_end(&mut self, _: &mut Collector) -> weir_engine::Result<()> {
        self.ended = true;
        self.stage(self.last_checkpoint + 1).await
    }

    fn state_tables(&self) -> Vec<StateTable> {
        vec![
            staged_table(),
            verdicts_table(),
            quarantined_table(),
            volume_table(),
            alerts_table(),
            keys_table(),
        ]
    }

    /// One row per staged file, plus a row with no file (`add` empty) naming the newest
    /// epoch this run assigned, so a restore continues after it even when nothing is
    /// staged.
    async fn snapshot(&mut self) -> weir_engine::Result<OperatorSnapshot> {
        let newest = self.next_epoch.map(|next| next - 1);
        let rows: Vec<(u64, &str)> = self
            .staged
            .iter()
            .flat_map(|(e, staged)| staged.adds.iter().map(move |a| (*e, a.as_str())))
            .chain(newest.map(|epoch| (epoch, NEWEST_EPOCH_MARK)))
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
        let judged: Vec<(u64, String)> = self
            .staged
            .iter()
            .filter_map(|(e, staged)| {
                let verdicts = staged.verdicts.as_ref()?;
                Some(serde_json::to_string(verdicts).map(|json| (*e, json)))
            })
            .collect::<Result<_, _>>()
            .map_err(|e| ConnectorError::Quality(format!("saving verdicts: {e}")))?;
        let quarantined: Vec<(u64, &str)> = self
            .staged
            .iter()
            .flat_map(|(e, staged)| staged.quarantined.iter().map(move |a| (*e, a.as_str())))
            .collect();
        if !quarantined.is_empty() {
            let shard = Arc::new(UInt32Array::from_value(0, quarantined.len()));
            let epochs = Arc::new(UInt64Array::from_iter_values(
                quarantined.iter().map(|r| r.0),
            ));
            let adds = Arc::new(StringArray::from_iter_values(
                quarantined.iter().map(|r| r.1),
            ));
            chunks.push(StateChunk::new(
                QUARANTINED_TABLE,
                state_batch(&quarantined_table(), shard, vec![epochs, adds])?,
            ));
        }
        if !judged.is_empty() {
            let shard = Arc::new(UInt32Array::from_value(0, judged.len()));
            let epochs = Arc::new(UInt64Array::from_iter_values(judged.iter().map(|r| r.0)));
            let json = Arc::new(StringArray::from_iter_values(
                judged.iter().map(|r| r.1.as_str()),
            ));
            chunks.push(StateChunk::new(
                VERDICTS_TABLE,
                state_batch(&verdicts_table(), shard, vec![epochs, json])?,
            ));
        }
        if let Some(gate) = &self.gate {
            chunks.extend(gate.snapshot()?);
        }
        Ok(OperatorSnapshot {
            watermark: None,
            chunks,
            checkpoint_id: None,
        })
    }

    /// Everything staged in the checkpoint restored from belongs to a completed
    /// checkpoint: it is committed now, unless the table already holds it. New epochs
    /// start after the table's newest epoch of this app id: restoring an older checkpoint
    /// or a savepoint never reuses an epoch number the table already holds.
    async fn restore(&mut self, snapshot: OperatorSnapshot) -> weir_engine::Result<()> {
        if let Some(gate) = &mut self.gate {
            gate.restore(&snapshot.chunks);
        }
        self.last_checkpoint = snapshot.checkpoint_id.unwrap_or(0);
        let mut restored = 0;
        for chunk in snapshot.chunks.iter().filter(|c| c.table == STAGED_TABLE) {
            let epochs = chunk.batch.column(1).as_primitive::<UInt64Type>();
            let adds = chunk.batch.column(2).as_string::<i32>();
            for row in 0..chunk.batch.num_rows() {
                if !epochs.is_valid(row) || !adds.is_valid(row) {
                    continue;
                }
                let epoch = epochs.value(row);
                restored = restored.max(epoch);
                if adds.value(row) == NEWEST_EPOCH_MARK {
                    continue;
                }
                self.staged
                    .entry(epoch)
                    .or_insert_with(|| StagedEpoch {
                        checkpoint: self.last_checkpoint,
                        adds: Vec::new(),
                        verdicts: None,
                        quarantined: Vec::new(),
                    })
                    .adds
                    .push(adds.value(row).to_string());
            }
        }
        for chunk in snapshot
            .chunks
            .iter()
            .filter(|c| c.table == QUARANTINED_TABLE)
        {
            let epochs = chunk.batch.column(1).as_primitive::<UInt64Type>();
            let adds = chunk.batch.column(2).as_string::<i32>();
            for row in 0..chunk.batch.num_rows() {
                let epoch = epochs.value(row);
                restored = restored.max(epoch);
                self.staged
                    .entry(epoch)
                    .or_insert_with(|| StagedEpoch {
                        checkpoint: self.last_checkpoint,
                        adds: Vec::new(),
                        verdicts: None,
                        quarantined: Vec::new(),
                    })
                    .quarantined
                    .push(adds.value(row).to_string());
            }
        }
        for chunk in snapshot.chunks.iter().filter(|c| c.table == VERDICTS_TABLE) {
            let epochs = chunk.batch.column(1).as_primitive::<UInt64Type>();
            let json = chunk.batch.column(2).as_string::<i32>();
            for row in 0..chunk.batch.num_rows() {
                let verdicts: Vec<Verdict> = serde_json::from_str(json.value(row))
                    .map_err(|e| ConnectorError::Quality(format!("restoring verdicts: {e}")))?;
                if let Some(staged) = self.staged.get_mut(&epochs.value(row)) {
                    staged.verdicts = Some(verdicts);
                }
            }
        }
        if self.replace.is_none() {
            self.commit_through(self.last_checkpoint).await?;
        } else if restored > 0 && self.committed_epoch().await? >= restored {
            // Epochs of a replacing run are committed only together, by the commit of
            // its newest: the table holding that one means the run's commit is done.
            self.replaced = true;
            self.staged.clear();
        }
        self.start_epochs(restored).await?;
        Ok(())
    }
}
