//! Delta tables as a source (`source*.rs`: following a table's log, see [`source`]) and
//! as a sink.
//!
//! The Delta Lake sink, exactly once: parallel writers stage Parquet files and hand them
//! over at checkpoint barriers; one committer commits each checkpoint's files in a single
//! transaction carrying `txn(app_id, epoch)` once the checkpoint is complete. A run's
//! epochs continue after the newest epoch of its app id the table holds.
//!
//! Crash before the checkpoint completes: its files were never committed (orphans) and
//! the restored job writes the rows again. Crash after the checkpoint completed, before or
//! after the commit: the restored committer commits the staged files unless the table
//! already holds that epoch. Two jobs with the same `app_id` cannot both commit an epoch.

mod committer;
mod epoch_gate;
mod schema;
pub mod source;
mod source_log;
mod source_positions;
mod source_reader;
mod source_rows;
#[cfg(test)]
mod source_tests;
mod writer;

use std::sync::Arc;

use serde::Deserialize;
use weir_engine::{GraphBuilder, Input, OperatorFactory, OperatorPlan, PlanContext};
use weir_quality::gate::Gate;
use weir_quality::partial::MetricsPlan;
use weir_quality::quarantine::Quarantine;
use weir_quality::RuleSet;

use crate::error::ConnectorError;
pub use committer::{DELTA_COMMITS, DELTA_COMMIT_MICROS, DELTA_VERSION};
pub use source::{DeltaSource, DeltaSourceConfig, DeltaStart};
pub use writer::{staged_files_schema, QUARANTINED_ROWS};

/// Settings of a Delta sink.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DeltaSinkConfig {
    /// The table: a directory path or an object store URL. Created with the stream's
    /// schema if missing.
    pub table: String,
    /// Partition columns of a table the sink creates.
    #[serde(default)]
    pub partition_by: Vec<String>,
    /// Writers start a new file when one reaches this size (default 128 MiB); every
    /// checkpoint also closes the open files.
    #[serde(default = "default_target_file_size")]
    pub target_file_size: u64,
    /// Add the stream's columns an existing table lacks, as nullable columns (default
    /// false: such a stream is refused, naming the columns). Not for partitioned tables.
    #[serde(default)]
    pub schema_evolution: bool,
    /// Identifies the writing job in the table's transaction log; epochs are per app id.
    /// Job files default it to the job's name; it must not be empty.
    #[serde(default)]
    pub app_id: String,
    /// Rules judging each epoch before its commit (see `weir_quality::gate`); the
    /// verdicts go into the commit info under `weir.quality`.
    #[serde(default)]
    pub quality: Option<Gate>,
    /// A partition this run replaces (a value per partition column, as
    /// `replace_partition: {date: 2026-11-01}`), as Delta's `replaceWhere`: the sink then
    /// commits once, at the end of the input, removing every file of that partition and
    /// adding the run's files in the same commit, so running it again is idempotent.
    /// Every row must belong to the partition. Only for bounded jobs (backfills).
    #[serde(default)]
    pub replace_partition: std::collections::BTreeMap<String, String>,
}

fn default_target_file_size() -> u64 {
    128 * 1024 * 1024
}

impl DeltaSinkConfig {
    pub fn new(table: &str, app_id: &str) -> Self {
        Self {
            table: table.into(),
            partition_by: Vec::new(),
            target_file_size: default_target_file_size(),
            schema_evolution: false,
            app_id: app_id.into(),
            quality: None,
            replace_partition: Default::default(),
        }
    }
}

/// Checks, without writing anything, that a stream of schema `input` fits the table the
/// sink would write: the existing table at `config.table` (see [`schema`] for what fits),
/// or nothing to check when there is no table yet (the sink creates it from the stream).
pub async fn check_existing_table(
    config: &DeltaSinkConfig,
    input: &arrow::datatypes::SchemaRef,
) -> crate::error::Result<()> {
    match weir_lake::table::open_existing(&config.table).await? {
        Some(table) => schema::fit(config, input, &table).map(|_| ()),
        None => Ok(()),
    }
}

struct WriterFactory(Arc<DeltaSinkConfig>);

impl OperatorFactory for WriterFactory {
    fn plan(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        let input = ctx.single_input()?.clone();
        for column in self.0.replace_partition.keys() {
            if !self.0.partition_by.is_empty() && !self.0.partition_by.contains(column) {
                return Err(weir_engine::EngineError::config(
                    ctx.node,
                    format!(
                        "replace_partition names '{column}', which is not one of partition_by [{}]",
                        self.0.partition_by.join(", ")
                    ),
                ));
            }
        }
        for column in &self.0.partition_by {
            if input.index_of(column).is_err() {
                return Err(weir_engine::EngineError::config(
                    ctx.node,
                    format!("partition column '{column}' is not in the input"),
                ));
            }
        }
        let gate = gate(&self.0, &input)
            .map_err(|e| weir_engine::EngineError::config(ctx.node, e.to_string()))?;
        let (metrics, quarantine) = match gate {
            Some(gate) => (Some(gate.metrics), gate.quarantine),
            None => (None, None),
        };
        Ok(Arc::new(writer::DeltaWriterPlan {
            config: self.0.clone(),
            input,
            metrics,
            quarantine,
        }))
    }
}

struct CommitterFactory {
    config: Arc<DeltaSinkConfig>,
    rows: arrow::datatypes::SchemaRef,
}

impl OperatorFactory for CommitterFactory {
    fn plan(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        let gate = gate(&self.config, &self.rows)
            .map_err(|e| weir_engine::EngineError::config(ctx.node, e.to_string()))?;
        Ok(Arc::new(committer::DeltaCommitterPlan {
            config: self.config.clone(),
            rows: self.rows.clone(),
            gate,
        }))
    }
}

/// A sink's quality rules, ready: the rules, the plan of their metrics, and the
/// quarantine rules when there are any.
#[derive(Clone)]
pub(crate) struct SinkGate {
    pub rules: Arc<RuleSet>,
    pub metrics: Arc<MetricsPlan>,
    pub quarantine: Option<Arc<Quarantine>>,
    pub alert: Option<weir_quality::alert::Alert>,
}

/// The sink's quality rules over rows of `rows`.
fn gate(
    config: &DeltaSinkConfig,
    rows: &arrow::datatypes::SchemaRef,
) -> weir_quality::Result<Option<SinkGate>> {
    let Some(gate) = &config.quality else {
        return Ok(None);
    };
    let rules = gate.rule_set(rows)?;
    let metrics = MetricsPlan::new(&rules, rows)?;
    let quarantine = Quarantine::new(&rules, rows)?.map(Arc::new);
    Ok(Some(SinkGate {
        rules: Arc::new(rules),
        metrics: Arc::new(metrics),
        quarantine,
        alert: gate.alert.clone(),
    }))
}

/// Adds a Delta sink reading `input`: `<name>_writer` at `parallelism` and
/// `<name>_committer` as one subtask.
pub fn add_delta_sink(
    graph: &mut GraphBuilder,
    name: &str,
    config: DeltaSinkConfig,
    input: Input,
    parallelism: usize,
) -> weir_engine::Result<()> {
    if config.app_id.is_empty() {
        return Err(ConnectorError::Config {
            connector: "delta sink",
            message: "app_id must not be empty".into(),
        }
        .into());
    }
    let rows = input.schema().clone();
    let config = Arc::new(config);
    let writer = graph.operator(
        &crate::writer_node(name),
        &WriterFactory(config.clone()),
        vec![input],
        parallelism,
    )?;
    graph.operator(
        &format!("{name}_committer"),
        &CommitterFactory { config, rows },
        vec![writer.main().rebalance()],
        1,
    )?;
    Ok(())
}
