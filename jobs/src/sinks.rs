//! The sinks a job file can name by `type`.

use serde::Deserialize;
use weir_connectors::delta::{add_delta_sink, check_existing_table, DeltaSinkConfig};
use weir_connectors::kafka::KafkaSinkConfig;
use weir_connectors::parquet_sink::{add_parquet_sink, ParquetSinkConfig};
use weir_connectors::stdout::StdoutSinkConfig;
use weir_engine::sinks::DiscardSink;
use weir_engine::{GraphBuilder, Input};

use crate::error::Result;

/// A sink connector's configuration, tagged by `type`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkConfig {
    /// A Delta table, exactly once (`app_id` defaults to the job's name).
    Delta(DeltaSinkConfig),
    /// A Kafka topic, one JSON message per row, at least once.
    Kafka(KafkaSinkConfig),
    /// Parquet files in partition directories, exactly once.
    Parquet(ParquetSinkConfig),
    /// Standard output, as tables or JSON lines.
    Stdout(StdoutSinkConfig),
    /// Drops every row (for benchmarks; rows are still counted).
    Discard {},
}

impl SinkConfig {
    /// The node of sink `name` that receives its rows, whose `rows_in` counts the rows
    /// the sink wrote.
    pub fn entry_node(&self, name: &str) -> String {
        match self {
            SinkConfig::Delta(_) | SinkConfig::Parquet(_) => weir_connectors::writer_node(name),
            SinkConfig::Kafka(_) | SinkConfig::Stdout(_) | SinkConfig::Discard {} => {
                name.to_string()
            }
        }
    }

    /// Checks that the rows of `input` fit what the sink writes into, where that already
    /// exists (a Delta sink's table); reads, never writes.
    pub async fn check_table(&self, input: &Input) -> weir_connectors::Result<()> {
        match self {
            SinkConfig::Delta(config) => check_existing_table(config, input.schema()).await,
            _ => Ok(()),
        }
    }

    /// Where the sink's rows go, in words: `delta table lake/bids`.
    pub fn output(&self) -> String {
        match self {
            SinkConfig::Delta(config) => format!("delta table {}", config.table),
            SinkConfig::Kafka(config) => {
                format!("kafka topic {} at {}", config.topic, config.brokers)
            }
            SinkConfig::Parquet(config) => format!("parquet files in {}", config.path),
            SinkConfig::Stdout(_) => "standard output".to_string(),
            SinkConfig::Discard {} => "nowhere (rows are counted and dropped)".to_string(),
        }
    }

    /// Adds the sink as node(s) named after `name` reading `input`.
    pub(crate) fn add(
        &self,
        graph: &mut GraphBuilder,
        job: &str,
        name: &str,
        input: Input,
        parallelism: usize,
    ) -> Result<()> {
        match self {
            SinkConfig::Delta(config) => {
                let mut config = config.clone();
                if config.app_id.is_empty() {
                    config.app_id = job.to_string();
                }
                add_delta_sink(graph, name, config, input, parallelism)?;
            }
            SinkConfig::Kafka(config) => {
                graph.operator(name, config, vec![input], parallelism)?;
            }
            SinkConfig::Parquet(config) => {
                add_parquet_sink(graph, name, config.clone(), input, parallelism)?;
            }
            SinkConfig::Stdout(config) => {
                graph.operator(name, config, vec![input], parallelism)?;
            }
            SinkConfig::Discard {} => {
                graph.operator(name, &DiscardSink, vec![input], parallelism)?;
            }
        }
        Ok(())
    }
}
