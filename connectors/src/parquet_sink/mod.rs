//! The Parquet file sink, exactly once, into Hive-style partition directories (Flink's
//! `FileSink`, Spark's file commit protocol).
//!
//! Parallel writers write hidden in-progress files (`<path>/.inprogress/`) and, at every
//! checkpoint barrier, close them and hand them to one committer, which keeps them in its
//! checkpointed state under the checkpoint's id (the epoch). When the checkpoint completes,
//! the committer renames each file of the epoch to its final name,
//! `<path>/<col>=<value>/.../part-<epoch>-<writer>-<n>-<run>.parquet`.
//!
//! Crash before the checkpoint completes: its files were never renamed and the restored job
//! writes their rows again; the restored committer deletes the orphaned in-progress files.
//! Crash after the checkpoint completed, before or during the renames: the restored
//! committer renames the staged files again; a file already renamed is left alone. Readers
//! see only committed files, each complete: Spark and Hive skip paths starting with `_` or
//! `.`, DataFusion's listing tables skip subdirectories that are not `col=value`.
//!
//! One job writes one directory: the committer deletes in-progress files of other runs.
//! Files are not synced to disk: the protocol survives process crashes, not power loss.

mod commit;
mod committer;
pub mod partition;
mod staged;
mod writer;

use std::sync::Arc;
use std::time::Duration;

use parquet::basic::{Compression, ZstdLevel};
use serde::{Deserialize, Serialize};
use weir_engine::{GraphBuilder, Input, OperatorFactory, OperatorPlan, PlanContext};

use crate::error::ConnectorError;
pub use partition::{escape_path_name, unescape_path_name, NULL_PARTITION};
pub use staged::IN_PROGRESS_DIR;

/// Settings of a Parquet file sink.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParquetSinkConfig {
    /// The output directory (local file system); created if missing.
    pub path: String,
    /// Columns whose values name the directories (`col=value/`) rows are written to, in
    /// this order; they are not stored inside the files.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// A writer closes a file and starts another when the file reaches this size (default
    /// 128 MiB); every checkpoint also closes the open files.
    #[serde(default = "default_target_file_size")]
    pub target_file_size: u64,
    /// A file open longer than this is closed with the next rows that arrive, at the next
    /// checkpoint at the latest.
    #[serde(default, with = "humantime_serde")]
    pub rollover_interval: Option<Duration>,
    #[serde(default)]
    pub compression: ParquetCompression,
}

fn default_target_file_size() -> u64 {
    128 * 1024 * 1024
}

/// The compression codec of the files' column chunks.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ParquetCompression {
    #[default]
    Snappy,
    Zstd,
    None,
}

impl ParquetCompression {
    fn codec(self) -> Compression {
        match self {
            ParquetCompression::Snappy => Compression::SNAPPY,
            ParquetCompression::Zstd => Compression::ZSTD(ZstdLevel::default()),
            ParquetCompression::None => Compression::UNCOMPRESSED,
        }
    }
}

impl ParquetSinkConfig {
    /// Defaults for everything but the directory.
    pub fn new(path: &str) -> Self {
        Self {
            path: path.into(),
            partition_by: Vec::new(),
            target_file_size: default_target_file_size(),
            rollover_interval: None,
            compression: ParquetCompression::default(),
        }
    }

    fn validate(&self, input: &arrow::datatypes::Schema) -> Result<(), ConnectorError> {
        let fail = |message: String| {
            Err(ConnectorError::Config {
                connector: "parquet sink",
                message,
            })
        };
        if self.path.is_empty() {
            return fail("path must not be empty".into());
        }
        if self.path.contains("://") {
            return fail(format!(
                "path '{}' is a URL; only local directories are supported",
                self.path
            ));
        }
        if self.target_file_size == 0 {
            return fail("target_file_size must be at least 1 byte".into());
        }
        if self.rollover_interval == Some(Duration::ZERO) {
            return fail("rollover_interval must be longer than zero".into());
        }
        for (i, column) in self.partition_by.iter().enumerate() {
            if input.index_of(column).is_err() {
                return fail(format!("partition column '{column}' is not in the input"));
            }
            if self.partition_by[..i].contains(column) {
                return fail(format!("partition column '{column}' is named twice"));
            }
        }
        if self.partition_by.len() >= input.fields().len() {
            return fail("every column is a partition column; the files would be empty".into());
        }
        Ok(())
    }
}

/// Identifies one run of one sink: names its in-progress and committed files, so that a
/// run never overwrites or deletes another run's files.
fn run_id(name: &str, path: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    let seed = format!("{nanos}/{}/{name}/{path}", std::process::id());
    format!("{:016x}", xxhash_rust::xxh3::xxh3_64(seed.as_bytes()))
}

struct WriterFactory {
    config: Arc<ParquetSinkConfig>,
    run: Arc<str>,
}

impl OperatorFactory for WriterFactory {
    fn plan(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        let input = ctx.single_input()?.clone();
        self.config.validate(&input)?;
        Ok(Arc::new(writer::ParquetWriterPlan {
            config: self.config.clone(),
            run: self.run.clone(),
            partitioner: Arc::new(partition::Partitioner::new(
                &input,
                &self.config.partition_by,
            )?),
            compression: self.config.compression.codec(),
        }))
    }
}

struct CommitterFactory {
    config: Arc<ParquetSinkConfig>,
    run: Arc<str>,
}

impl OperatorFactory for CommitterFactory {
    fn plan(&self, _: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        Ok(Arc::new(committer::ParquetCommitterPlan {
            config: self.config.clone(),
            run: self.run.clone(),
        }))
    }
}

/// Adds a Parquet sink reading `input`: `<name>_writer` at `parallelism` and
/// `<name>_committer` as one subtask.
pub fn add_parquet_sink(
    graph: &mut GraphBuilder,
    name: &str,
    config: ParquetSinkConfig,
    input: Input,
    parallelism: usize,
) -> weir_engine::Result<()> {
    let run: Arc<str> = run_id(name, &config.path).into();
    let config = Arc::new(config);
    let writer = graph.operator(
        &crate::writer_node(name),
        &WriterFactory {
            config: config.clone(),
            run: run.clone(),
        },
        vec![input],
        parallelism,
    )?;
    graph.operator(
        &format!("{name}_committer"),
        &CommitterFactory { config, run },
        vec![writer.main().rebalance()],
        1,
    )?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    #[test]
    fn settings_default_and_unknown_ones_are_refused() {
        let config: ParquetSinkConfig =
            serde_json::from_str(r#"{"path": "out", "rollover_interval": "5m"}"#).unwrap();
        assert_eq!(
            config,
            ParquetSinkConfig {
                rollover_interval: Some(Duration::from_secs(300)),
                ..ParquetSinkConfig::new("out")
            }
        );
        assert_eq!(config.target_file_size, 128 * 1024 * 1024);
        assert_eq!(config.compression, ParquetCompression::Snappy);
        let typo = serde_json::from_str::<ParquetSinkConfig>(r#"{"path": "o", "partition": []}"#);
        assert!(typo.unwrap_err().to_string().contains("unknown field"));
    }

    #[test]
    fn partition_columns_must_leave_columns_to_write() {
        let input = Schema::new(vec![
            Field::new("k", DataType::Utf8, true),
            Field::new("v", DataType::Int64, false),
        ]);
        let with = |partition_by: &[&str]| ParquetSinkConfig {
            partition_by: partition_by.iter().map(|c| c.to_string()).collect(),
            ..ParquetSinkConfig::new("out")
        };
        assert!(with(&["k"]).validate(&input).is_ok());
        for (bad, message) in [
            (with(&["x"]), "'x' is not in the input"),
            (with(&["k", "k"]), "'k' is named twice"),
            (with(&["k", "v"]), "every column is a partition column"),
            (ParquetSinkConfig::new("s3://b/p"), "only local directories"),
        ] {
            let error = bad.validate(&input).unwrap_err().to_string();
            assert!(error.contains(message), "{error}");
        }
    }
}
