//! Kafka: a source reading assigned partitions with offsets kept in checkpoints, and an
//! at-least-once sink.
//!
//! The source never relies on a consumer group: when the job starts, the partitions of the
//! configured topics are spread over the source's subtasks by a fixed rule
//! ([`assignment::subtask_of`]), and each subtask assigns its partitions itself. Offsets
//! live in the job's checkpoints, so a restored job continues exactly where its checkpoint
//! was taken. Partitions added later are found by a periodic metadata refresh and read
//! from their beginning.

pub mod assignment;
pub mod sink;
pub mod source;

use std::collections::BTreeMap;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::format::{DecodeErrorPolicy, FormatConfig};

pub use sink::KafkaSinkConfig;
pub use source::KafkaSource;

/// Where reading starts in partitions without a checkpointed offset.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StartOffset {
    #[default]
    Earliest,
    Latest,
    /// The first message with a timestamp at or after this many milliseconds since the
    /// Unix epoch.
    Timestamp(i64),
}

/// Settings of a Kafka source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaSourceConfig {
    /// `host:port[,host:port...]`.
    pub brokers: String,
    /// The topics to read.
    #[serde(default)]
    pub topics: Vec<String>,
    /// Also read every topic whose name matches this regular expression (at start and at
    /// each partition discovery).
    #[serde(default)]
    pub topic_pattern: Option<String>,
    #[serde(default)]
    pub start: StartOffset,
    pub format: FormatConfig,
    /// What to do with messages that do not decode (default: dead letters).
    #[serde(default)]
    pub on_decode_error: DecodeErrorPolicy,
    /// Longest message accepted; longer ones are refused like undecodable ones.
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: usize,
    /// Messages per batch at most.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Append `kafka_topic`, `kafka_partition`, `kafka_offset`, `kafka_timestamp` and
    /// `kafka_key` to every row.
    #[serde(default)]
    pub metadata_columns: bool,
    /// Stop at the end offsets the partitions had when the job started (for backfills and
    /// tests); by default the source runs forever.
    #[serde(default)]
    pub bounded: bool,
    /// How often to look for new partitions.
    #[serde(with = "humantime_serde", default = "default_discovery")]
    pub partition_discovery: Duration,
    /// Any librdkafka consumer property, passed through (they win over weir's defaults).
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

fn default_max_record_bytes() -> usize {
    1024 * 1024
}

fn default_batch_size() -> usize {
    8192
}

fn default_discovery() -> Duration {
    Duration::from_secs(10)
}

impl KafkaSourceConfig {
    /// Reads `topics` from `brokers` in `format`, with every other setting at its default.
    pub fn new(brokers: &str, topics: &[&str], format: FormatConfig) -> Self {
        Self {
            brokers: brokers.into(),
            topics: topics.iter().map(|t| t.to_string()).collect(),
            topic_pattern: None,
            start: StartOffset::default(),
            format,
            on_decode_error: DecodeErrorPolicy::default(),
            max_record_bytes: default_max_record_bytes(),
            batch_size: default_batch_size(),
            metadata_columns: false,
            bounded: false,
            partition_discovery: default_discovery(),
            properties: BTreeMap::new(),
        }
    }
}
