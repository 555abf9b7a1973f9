//! Compaction as a source: checks a Delta table every `every` and compacts it (see
//! `weir_lake::Compact`) when a partition holds `min_files` files to rewrite, optionally
//! vacuuming after; each compaction that committed is one row (`kind: compact` job files
//! run this source into stdout, so a compaction job has the lifecycle of every job:
//! stop, cancel, restarts with backoff, status).
//!
//! The compaction runs on a task of its own that outlives a `next_batch` call dropped at a
//! checkpoint barrier, so a compaction longer than the checkpoint interval completes. It
//! keeps no state: each check reads the table as it is. A compaction cut short (a stop, a
//! crash) leaves only unreferenced files, which `weir vacuum` deletes.

use std::sync::Arc;
use std::time::Duration;

use arrow::array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use tokio::time::Instant;
use weir_engine::{NodeGauges, Source, SourceBatch, SourcePlan, SubtaskInfo};
use weir_lake::{Compact, CompactMetrics, LakeError, Vacuum};

use crate::background::AbortOnDrop;
use crate::error::{ConnectorError, Result};

/// What to compact, how, and when.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CompactionConfig {
    /// The Delta table: a path or an `s3://` URL.
    pub table: String,
    /// How often the table is checked (default 1 minute); the first check is at start.
    #[serde(with = "humantime_serde", default = "default_every")]
    pub every: Duration,
    /// A partition is rewritten when it holds at least this many files to rewrite
    /// (default 2; clustering: files not clustered yet).
    #[serde(default = "default_min_files")]
    pub min_files: usize,
    /// Size of the files written, in bytes (default 128 MiB).
    #[serde(default = "default_target_size")]
    pub target_size: u64,
    /// Cluster on these columns (at most 4) instead of bin-packing.
    #[serde(default)]
    pub cluster_by: Vec<String>,
    /// Only partitions where this SQL condition over partition columns holds.
    #[serde(default, rename = "where")]
    pub predicate: Option<String>,
    /// Vacuum after each compaction that committed, keeping what versions younger than
    /// this need (at least the table's `delta.deletedFileRetentionDuration`).
    #[serde(default, with = "humantime_serde")]
    pub vacuum_retain: Option<Duration>,
}

fn default_every() -> Duration {
    Duration::from_secs(60)
}

fn default_min_files() -> usize {
    2
}

fn default_target_size() -> u64 {
    weir_lake::compact::DEFAULT_TARGET_SIZE
}

impl CompactionConfig {
    pub fn new(table: &str) -> Self {
        Self {
            table: table.into(),
            every: default_every(),
            min_files: default_min_files(),
            target_size: default_target_size(),
            cluster_by: Vec::new(),
            predicate: None,
            vacuum_retain: None,
        }
    }

    /// The compaction source; checks the settings, reads nothing yet.
    pub fn plan(&self) -> Result<Arc<dyn SourcePlan>> {
        let bad = |message: String| ConnectorError::Config {
            connector: "compaction",
            message,
        };
        if self.every.is_zero() {
            return Err(bad("every must be longer than 0".into()));
        }
        if self.min_files == 0 || self.target_size == 0 {
            return Err(bad("min_files and target_size must be at least 1".into()));
        }
        Ok(Arc::new(CompactionPlan(Arc::new(self.clone()))))
    }

    fn compaction(&self) -> Compact {
        let mut compact = Compact::new(self.table.clone())
            .with_target_size(self.target_size)
            .with_cluster_by(self.cluster_by.clone())
            .with_min_files(self.min_files);
        if let Some(predicate) = &self.predicate {
            compact = compact.with_where(predicate.clone());
        }
        compact
    }
}

/// The rows a compaction source emits: one per compaction that committed.
pub fn compaction_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("table", DataType::Utf8, false),
        Field::new("version", DataType::UInt64, false),
        Field::new("files_removed", DataType::UInt64, false),
        Field::new("files_added", DataType::UInt64, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("seconds", DataType::Float64, false),
        Field::new("vacuumed_files", DataType::Int64, true),
    ]))
}

struct CompactionPlan(Arc<CompactionConfig>);

impl SourcePlan for CompactionPlan {
    fn schema(&self) -> SchemaRef {
        compaction_schema()
    }

    /// Subtask 0 compacts; any other subtask has nothing to read (two compactions of the
    /// same table would only conflict).
    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Source>> {
        Ok(Box::new(CompactionSource {
            config: self.0.clone(),
            active: subtask.index == 0,
            next_check: Instant::now(),
            running: None,
            waited: false,
            gauges: subtask.gauges.clone(),
        }))
    }
}

/// What one check did: the compaction's metrics, its time, and the files a vacuum after
/// it deleted.
type Checked = std::result::Result<(CompactMetrics, f64, Option<usize>), LakeError>;

struct CompactionSource {
    config: Arc<CompactionConfig>,
    active: bool,
    next_check: Instant,
    /// The check in progress, kept across `next_batch` calls.
    running: Option<AbortOnDrop<Checked>>,
    /// Whether a check found no table yet (said once).
    waited: bool,
    /// Counts [`COMPACTION_RUNS`], [`COMPACTION_FILES_REMOVED`], [`COMPACTION_FILES_ADDED`].
    gauges: NodeGauges,
}

/// The source's figure: compactions committed.
pub const COMPACTION_RUNS: &str = "compaction_runs";
/// The source's figure: files the compactions removed.
pub const COMPACTION_FILES_REMOVED: &str = "compaction_files_removed";
/// The source's figure: files the compactions added.
pub const COMPACTION_FILES_ADDED: &str = "compaction_files_added";

async fn check(config: Arc<CompactionConfig>) -> Checked {
    let started = std::time::Instant::now();
    let metrics = config.compaction().await?;
    let seconds = started.elapsed().as_secs_f64();
    let vacuumed = match (metrics.version, config.vacuum_retain) {
        (Some(_), Some(retain)) => {
            let vacuumed = Vacuum::new(config.table.clone())
                .with_retain(retain)
                .await?;
            Some(vacuumed.removed.len() + vacuumed.never_committed.len())
        }
        _ => None,
    };
    Ok((metrics, seconds, vacuumed))
}

#[async_trait]
impl Source for CompactionSource {
    fn partitions(&self) -> Vec<u32> {
        if self.active {
            vec![0]
        } else {
            Vec::new()
        }
    }

    async fn next_batch(&mut self) -> weir_engine::Result<Option<SourceBatch>> {
        if !self.active {
            return Ok(None);
        }
        loop {
            let Some(running) = &mut self.running else {
                tokio::time::sleep_until(self.next_check).await;
                self.next_check = Instant::now() + self.config.every;
                let task = tokio::spawn(check(self.config.clone()));
                self.running = Some(AbortOnDrop(task));
                continue;
            };
            let joined = (&mut running.0).await;
            self.running = None;
            let checked =
                joined.map_err(|e| ConnectorError::Delta(format!("a compaction task: {e}")))?;
            let (metrics, seconds, vacuumed) = match checked {
                Ok(checked) => checked,
                // The stream that writes it has not committed yet.
                Err(LakeError::NoTable(table)) => {
                    if !std::mem::replace(&mut self.waited, true) {
                        tracing::info!(
                            "no Delta table at {table} yet; checking again every {:?}",
                            self.config.every
                        );
                    }
                    continue;
                }
                Err(error) => return Err(ConnectorError::from(error).into()),
            };
            let Some(version) = metrics.version else {
                continue;
            };
            self.gauges.add(COMPACTION_RUNS, 1);
            self.gauges
                .add(COMPACTION_FILES_REMOVED, metrics.files_removed as i64);
            self.gauges
                .add(COMPACTION_FILES_ADDED, metrics.files_added as i64);
            tracing::info!(
                table = %self.config.table,
                version,
                files_removed = metrics.files_removed,
                files_added = metrics.files_added,
                "compacted"
            );
            let columns: Vec<ArrayRef> = vec![
                Arc::new(StringArray::from(vec![self.config.table.clone()])),
                Arc::new(UInt64Array::from(vec![version])),
                Arc::new(UInt64Array::from(vec![metrics.files_removed])),
                Arc::new(UInt64Array::from(vec![metrics.files_added])),
                Arc::new(UInt64Array::from(vec![metrics.rows])),
                Arc::new(Float64Array::from(vec![seconds])),
                Arc::new(Int64Array::from(vec![vacuumed.map(|n| n as i64)])),
            ];
            let batch =
                RecordBatch::try_new(compaction_schema(), columns).map_err(ConnectorError::from)?;
            return Ok(Some(SourceBatch::new(0, batch)));
        }
    }
}
