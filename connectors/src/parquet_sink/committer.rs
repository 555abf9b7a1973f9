//! The committing half of the Parquet sink (one subtask): collects the files the writers
//! closed before each barrier, keeps them with their final names in its checkpointed state
//! under the checkpoint's id (the epoch), and publishes them (renames them to their final
//! names) when the checkpoint completes. Publishing a file twice is harmless, so a restored
//! committer publishes everything the restored checkpoint staged again, then deletes the
//! in-progress files that no checkpoint references.

use std::collections::{BTreeMap, HashSet};
use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, UInt64Type};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use weir_engine::failpoint;
use weir_engine::state::{state_batch, OperatorSnapshot, StateChunk, StateTable};
use weir_engine::{CheckpointBarrier, Collector, Operator, OperatorPlan, OutputPort, SubtaskInfo};

use super::commit::{publish, sweep_in_progress};
use super::staged::{from_batch, ClosedFile};
use super::ParquetSinkConfig;

const STAGED_TABLE: &str = "staged";

fn staged_table() -> StateTable {
    StateTable::new(
        STAGED_TABLE,
        [
            Arc::new(Field::new("epoch", DataType::UInt64, false)),
            Arc::new(Field::new("temp", DataType::Utf8, false)),
            Arc::new(Field::new("target", DataType::Utf8, false)),
            Arc::new(Field::new("rows", DataType::UInt64, false)),
            Arc::new(Field::new("bytes", DataType::UInt64, false)),
        ],
    )
}

pub(super) struct ParquetCommitterPlan {
    pub config: Arc<ParquetSinkConfig>,
    pub run: Arc<str>,
}

impl OperatorPlan for ParquetCommitterPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        Vec::new()
    }

    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(ParquetCommitter {
            root: PathBuf::from(&self.config.path),
            run: self.run.clone(),
            pending: Vec::new(),
            staged: BTreeMap::new(),
            last_checkpoint: 0,
            swept: false,
        }))
    }
}

/// A closed file of a known epoch: paths relative to the sink's directory.
#[derive(Debug, Clone)]
struct StagedFile {
    temp: String,
    target: String,
    rows: u64,
    bytes: u64,
}

struct ParquetCommitter {
    root: PathBuf,
    run: Arc<str>,
    /// Files closed since the last barrier.
    pending: Vec<ClosedFile>,
    /// Files by the epoch (checkpoint id) they belong to, not yet published.
    staged: BTreeMap<u64, Vec<StagedFile>>,
    /// The newest checkpoint the committer took part in or was restored from.
    last_checkpoint: u64,
    /// Whether the in-progress files of earlier runs were deleted.
    swept: bool,
}

impl ParquetCommitter {
    /// Moves the files closed since the last barrier into epoch `epoch`.
    fn stage(&mut self, epoch: u64) {
        let files = std::mem::take(&mut self.pending)
            .into_iter()
            .map(|f| StagedFile {
                target: f.final_path(epoch, &self.run),
                temp: f.temp,
                rows: f.rows,
                bytes: f.bytes,
            })
            .collect();
        self.staged.insert(epoch, files);
    }

    /// Publishes every file of the staged epochs up to `through`, then (once per run)
    /// deletes in-progress files of earlier runs that nothing references any more.
    async fn commit_through(&mut self, through: u64) -> weir_engine::Result<()> {
        let epochs: Vec<u64> = self.staged.range(..=through).map(|(e, _)| *e).collect();
        let files: Vec<&StagedFile> = epochs.iter().flat_map(|e| &self.staged[e]).collect();
        if !files.is_empty() {
            failpoint::hit("parquet_before_commit")?;
            let (mut published, mut rows, mut bytes) = (0, 0, 0);
            for file in &files {
                if publish(&self.root, &file.temp, &file.target).await? {
                    published += 1;
                    rows += file.rows;
                    bytes += file.bytes;
                }
            }
            tracing::info!(
                path = %self.root.display(),
                epoch = epochs.last().copied().unwrap_or_default(),
                files = files.len(),
                published,
                rows,
                bytes,
                "committed Parquet files"
            );
            failpoint::hit("parquet_after_commit")?;
        }
        for e in epochs {
            self.staged.remove(&e);
        }
        if !self.swept {
            let referenced: HashSet<String> = self
                .staged
                .values()
                .flatten()
                .map(|f| f.temp.clone())
                .collect();
            let deleted = sweep_in_progress(&self.root, &self.run, &referenced).await?;
            if deleted > 0 {
                tracing::info!(path = %self.root.display(), deleted, "deleted uncommitted in-progress files of earlier runs");
            }
            self.swept = true;
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for ParquetCommitter {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.pending.extend(from_batch(&batch));
        Ok(())
    }

    async fn on_barrier(
        &mut self,
        barrier: CheckpointBarrier,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.stage(barrier.checkpoint_id);
        self.last_checkpoint = barrier.checkpoint_id;
        failpoint::hit("parquet_files_staged")?;
        Ok(())
    }

    async fn on_checkpoint_complete(&mut self, checkpoint_id: u64) -> weir_engine::Result<()> {
        self.commit_through(checkpoint_id).await
    }

    /// Files closed after the last barrier form one more epoch, published by the final
    /// checkpoint taken at the end of the input.
    async fn on_end(&mut self, _: &mut Collector) -> weir_engine::Result<()> {
        self.stage(self.last_checkpoint + 1);
        Ok(())
    }

    fn state_tables(&self) -> Vec<StateTable> {
        vec![staged_table()]
    }

    async fn snapshot(&mut self) -> weir_engine::Result<OperatorSnapshot> {
        let rows: Vec<(u64, &StagedFile)> = self
            .staged
            .iter()
            .flat_map(|(e, files)| files.iter().map(move |f| (*e, f)))
            .collect();
        let mut chunks = Vec::new();
        if !rows.is_empty() {
            let table = staged_table();
            let columns = vec![
                Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.0))) as _,
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r.1.temp.as_str()),
                )) as _,
                Arc::new(StringArray::from_iter_values(
                    rows.iter().map(|r| r.1.target.as_str()),
                )) as _,
                Arc::new(UInt64Array::from_iter_values(rows.iter().map(|r| r.1.rows))) as _,
                Arc::new(UInt64Array::from_iter_values(
                    rows.iter().map(|r| r.1.bytes),
                )) as _,
            ];
            let shard = Arc::new(UInt32Array::from_value(0, rows.len()));
            chunks.push(StateChunk::new(
                STAGED_TABLE,
                state_batch(&table, shard, columns)?,
            ));
        }
        Ok(OperatorSnapshot {
            watermark: None,
            chunks,
            checkpoint_id: None,
        })
    }

    /// Everything staged in the checkpoint restored from belongs to a completed
    /// checkpoint: it is published now (again, for files published before the crash).
    async fn restore(&mut self, snapshot: OperatorSnapshot) -> weir_engine::Result<()> {
        self.last_checkpoint = snapshot.checkpoint_id.unwrap_or(0);
        for chunk in snapshot.chunks.iter().filter(|c| c.table == STAGED_TABLE) {
            let epochs = chunk.batch.column(1).as_primitive::<UInt64Type>();
            let temps = chunk.batch.column(2).as_string::<i32>();
            let targets = chunk.batch.column(3).as_string::<i32>();
            let rows = chunk.batch.column(4).as_primitive::<UInt64Type>();
            let bytes = chunk.batch.column(5).as_primitive::<UInt64Type>();
            for row in 0..chunk.batch.num_rows() {
                if epochs.is_valid(row) && temps.is_valid(row) && targets.is_valid(row) {
                    self.staged
                        .entry(epochs.value(row))
                        .or_default()
                        .push(StagedFile {
                            temp: temps.value(row).to_string(),
                            target: targets.value(row).to_string(),
                            rows: rows.value(row),
                            bytes: bytes.value(row),
                        });
                }
            }
        }
        self.commit_through(self.last_checkpoint).await
    }
}
