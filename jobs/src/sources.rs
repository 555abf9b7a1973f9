//! The sources a job file can name by `type`.

use std::sync::Arc;

use serde::Deserialize;
use weir_connectors::compaction::CompactionConfig;
use weir_connectors::delta::{DeltaSource, DeltaSourceConfig};
use weir_connectors::files::{FileSource, FileSourceConfig};
use weir_connectors::generator::GeneratorConfig;
use weir_connectors::kafka::{KafkaSource, KafkaSourceConfig};
use weir_connectors::quality_check::QualityCheckConfig;
use weir_engine::SourcePlan;

use crate::error::Result;

/// A source connector's configuration, tagged by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// Kafka topics on assigned partitions, offsets in checkpoints.
    Kafka(KafkaSourceConfig),
    /// Line files or Parquet files: a path, directory or glob, read once or followed.
    File(FileSourceConfig),
    /// A Delta table's log, followed: the rows each new version adds.
    Delta(DeltaSourceConfig),
    /// A seeded generator, by `kind`: bids, nexmark, logs or clickstream.
    Generator(GeneratorConfig),
    /// A Delta table compacted on a schedule: one row per compaction (what a
    /// `kind: compact` job runs).
    Compaction(CompactionConfig),
    /// A lake table judged by quality rules, once or on a schedule: one row per verdict
    /// (what a `kind: quality` job runs).
    Quality(QualityCheckConfig),
}

impl SourceConfig {
    /// The compiled source; Kafka sources contact the brokers here to list partitions.
    pub async fn plan(&self) -> Result<Arc<dyn SourcePlan>> {
        Ok(match self {
            SourceConfig::Kafka(config) => KafkaSource::new(config.clone()).await?,
            SourceConfig::File(config) => FileSource::new(config.clone()).await?,
            SourceConfig::Delta(config) => DeltaSource::new(config.clone()).await?,
            SourceConfig::Generator(config) => config.plan()?,
            SourceConfig::Compaction(config) => config.plan()?,
            SourceConfig::Quality(config) => config.plan()?,
        })
    }

    /// The compiled source, planned without contacting external systems: a Kafka source
    /// has the schema its format gives but no partitions. For checking a job, not running
    /// it.
    pub async fn plan_unconnected(&self) -> Result<Arc<dyn SourcePlan>> {
        match self {
            SourceConfig::Kafka(config) => Ok(KafkaSource::unconnected(config.clone())?),
            other => other.plan().await,
        }
    }
}
