//! The Delta source's configuration and plan: opens the table, fixes the schema (that of
//! the version current when the job is built) and the versions to read; each subtask's
//! [`DeltaReader`](super::source_reader::DeltaReader) follows the log from there.
//!
//! Change semantics (Delta's streaming source): each table version contributes the rows of
//! the data files its `add` actions with `dataChange: true` add. A version that only
//! rearranges files (compaction, OPTIMIZE: adds and removes with `dataChange: false`) adds
//! no rows. A version that removes data (`remove` with `dataChange: true`: a delete,
//! update, merge or overwrite) fails the job naming the version, unless `ignore_changes`
//! is set: then its removes are skipped with a warning and its adds are read (rows of
//! rewritten files are read again, as with Spark's `ignoreChanges`).

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use arrow::datatypes::{Schema, SchemaRef};
use deltalake::kernel::engine::arrow_conversion::TryIntoArrow as _;
use deltalake::kernel::StructType;
use deltalake::logstore::LogStoreRef;
use deltalake::DeltaTableError;
use serde::de::{self, Visitor};
use serde::{Deserialize, Deserializer};
use weir_engine::{Source, SourcePlan, SubtaskInfo};

use super::source_reader::DeltaReader;
use crate::error::{ConnectorError, Result};

/// Where a Delta source starts when no checkpoint says otherwise.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum DeltaStart {
    /// Version 0: every row the table's log ever added.
    #[default]
    Earliest,
    /// Only versions after the one current when the job is built.
    Latest,
    /// This version and every later one.
    Version(u64),
}

impl<'de> Deserialize<'de> for DeltaStart {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct StartVisitor;

        impl Visitor<'_> for StartVisitor {
            type Value = DeltaStart;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("`earliest`, `latest` or a table version number")
            }

            fn visit_u64<E: de::Error>(self, version: u64) -> Result<DeltaStart, E> {
                Ok(DeltaStart::Version(version))
            }

            fn visit_i64<E: de::Error>(self, version: i64) -> Result<DeltaStart, E> {
                u64::try_from(version)
                    .map(DeltaStart::Version)
                    .map_err(|_| E::custom(format!("table version {version} is negative")))
            }

            fn visit_str<E: de::Error>(self, text: &str) -> Result<DeltaStart, E> {
                match text {
                    "earliest" => Ok(DeltaStart::Earliest),
                    "latest" => Ok(DeltaStart::Latest),
                    _ => text.parse().map(DeltaStart::Version).map_err(|_| {
                        E::custom(format!(
                            "start '{text}': expected `earliest`, `latest` or a table version number"
                        ))
                    }),
                }
            }
        }

        deserializer.deserialize_any(StartVisitor)
    }
}

/// Settings of a Delta source.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaSourceConfig {
    /// The table: a directory path, `file://` or an object store URL. It must exist.
    pub table: String,
    /// The first version read when no checkpoint holds a position (default `earliest`).
    #[serde(default)]
    pub start: DeltaStart,
    /// How often the log is looked at for a new version once every version is read.
    #[serde(with = "humantime_serde", default = "default_poll")]
    pub poll_interval: Duration,
    /// Read up to the version current when the job is built, then end.
    #[serde(default)]
    pub bounded: bool,
    /// Skip the removes of versions that delete or rewrite data (with a warning) instead
    /// of failing; their adds are read.
    #[serde(default)]
    pub ignore_changes: bool,
    /// Rows per batch at most.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
}

fn default_poll() -> Duration {
    Duration::from_secs(1)
}

fn default_batch_size() -> usize {
    8192
}

impl DeltaSourceConfig {
    /// Follows `table` from version 0, every other setting at its default.
    pub fn new(table: &str) -> Self {
        Self {
            table: table.into(),
            start: DeltaStart::default(),
            poll_interval: default_poll(),
            bounded: false,
            ignore_changes: false,
            batch_size: default_batch_size(),
        }
    }
}

/// What every subtask of a Delta source shares: the table and the rules for reading it.
#[derive(Debug)]
pub(super) struct TableFeed {
    pub(super) uri: String,
    pub(super) log_store: LogStoreRef,
    /// The rows' schema: the table's at `built_at`, partition columns included.
    pub(super) schema: SchemaRef,
    /// The table's Delta schema at `built_at`; a later version with another one fails.
    pub(super) table_schema: StructType,
    pub(super) partition_columns: Vec<String>,
    /// The version current when the job was built.
    pub(super) built_at: u64,
    /// The first version read by key groups without a checkpointed position.
    pub(super) start: u64,
    /// The last version read (bounded sources).
    pub(super) end: Option<u64>,
    pub(super) poll_interval: Duration,
    pub(super) batch_size: usize,
    pub(super) ignore_changes: bool,
}

/// A Delta table followed as a stream of the rows its versions add.
pub struct DeltaSource {
    feed: Arc<TableFeed>,
}

fn bad(message: String) -> ConnectorError {
    ConnectorError::Config {
        connector: "delta source",
        message,
    }
}

fn delta_error(what: String) -> impl FnOnce(DeltaTableError) -> ConnectorError {
    move |e| ConnectorError::Delta(format!("{what}: {e}"))
}

impl DeltaSource {
    /// Checks the configuration, opens the table and takes its schema and current
    /// version. A missing table, a start version after the current one or one the log no
    /// longer holds are errors.
    pub async fn new(config: DeltaSourceConfig) -> Result<Arc<Self>> {
        if config.batch_size == 0 {
            return Err(bad("batch_size must be at least 1".into()));
        }
        if config.poll_interval.is_zero() {
            return Err(bad("poll_interval must be longer than 0".into()));
        }
        let uri = config.table.clone();
        let table = weir_lake::table::open_existing(&uri)
            .await?
            .ok_or_else(|| bad(format!("table {uri} does not exist (no Delta log there)")))?;
        let snapshot = table
            .snapshot()
            .map_err(delta_error(format!("reading the state of table {uri}")))?;
        let built_at = snapshot.version();
        let metadata = snapshot.metadata();
        if let Some(mode) = metadata
            .configuration()
            .get("delta.columnMapping.mode")
            .filter(|mode| mode.as_str() != "none")
        {
            return Err(ConnectorError::Unreadable(format!(
                "table {uri} uses column mapping (mode '{mode}'), which the Delta source does not read"
            )));
        }
        let table_schema = snapshot.schema().as_ref().clone();
        let schema: Schema = (&table_schema).try_into_arrow().map_err(|e| {
            ConnectorError::Schema(format!("the schema of table {uri} as an Arrow schema: {e}"))
        })?;
        let start = match config.start {
            DeltaStart::Earliest => 0,
            DeltaStart::Latest => built_at + 1,
            DeltaStart::Version(v) if v > built_at => {
                return Err(bad(format!(
                    "start version {v} is after the current version {built_at} of table {uri}"
                )))
            }
            DeltaStart::Version(v) => v,
        };
        let log_store = table.log_store();
        if start <= built_at {
            let first = log_store
                .read_commit_entry(start)
                .await
                .map_err(delta_error(format!(
                    "reading version {start} of table {uri}"
                )))?;
            if first.is_none() {
                return Err(ConnectorError::Unreadable(format!(
                    "version {start} of table {uri} is no longer in its log (removed by log retention); start from a later version"
                )));
            }
        }
        Ok(Arc::new(Self {
            feed: Arc::new(TableFeed {
                uri,
                log_store,
                schema: Arc::new(schema),
                table_schema,
                partition_columns: metadata.partition_columns().to_vec(),
                built_at,
                start,
                end: config.bounded.then_some(built_at),
                poll_interval: config.poll_interval,
                batch_size: config.batch_size,
                ignore_changes: config.ignore_changes,
            }),
        }))
    }
}

impl SourcePlan for DeltaSource {
    fn schema(&self) -> SchemaRef {
        self.feed.schema.clone()
    }

    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Source>> {
        Ok(Box::new(DeltaReader::new(self.feed.clone(), subtask)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_defaults_starts_and_unknown_fields() {
        let config: DeltaSourceConfig =
            serde_json::from_str(r#"{"table": "lake/t", "poll_interval": "250ms"}"#).unwrap();
        assert_eq!(
            config,
            DeltaSourceConfig {
                poll_interval: Duration::from_millis(250),
                ..DeltaSourceConfig::new("lake/t")
            }
        );
        let start = |text: &str| {
            serde_json::from_str::<DeltaSourceConfig>(&format!(
                r#"{{"table": "t", "start": {text}}}"#
            ))
            .map(|c| c.start)
            .map_err(|e| e.to_string())
        };
        assert_eq!(start(r#""earliest""#), Ok(DeltaStart::Earliest));
        assert_eq!(start(r#""latest""#), Ok(DeltaStart::Latest));
        assert_eq!(start("7"), Ok(DeltaStart::Version(7)));
        assert_eq!(start(r#""12""#), Ok(DeltaStart::Version(12)));
        assert!(start("-1")
            .unwrap_err()
            .contains("table version -1 is negative"));
        assert!(start(r#""first""#)
            .unwrap_err()
            .contains("start 'first': expected `earliest`, `latest` or a table version number"));
        let typo = serde_json::from_str::<DeltaSourceConfig>(r#"{"table": "t", "bound": true}"#);
        assert!(typo
            .unwrap_err()
            .to_string()
            .contains("unknown field `bound`"));
    }
}
