//! The writing half of the Delta sink: each subtask writes its rows to Parquet files in
//! the table's storage and, at every checkpoint barrier (and at the end of the input),
//! closes them and hands their `add` actions downstream to the committer. Nothing it
//! writes is visible until the committer commits it. Every batch is written with the
//! table's column types (cast when the stream's differ, e.g. `Utf8View` into `string`).
//! With quality rules, each subtask also updates the rules' metrics with the rows it
//! writes and hands their state over with the files, for the committer to judge the epoch;
//! rows a `quarantine` rule rejects go to files of the table's quarantine table instead.

use std::sync::Arc;

use arrow::array::{BinaryArray, BooleanArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter, WriteMode};
use weir_engine::{
    CheckpointBarrier, Collector, NodeGauges, Operator, OperatorPlan, OutputPort, SubtaskInfo,
};
use weir_lake::table::open_or_create;
use weir_quality::partial::{MetricsPlan, PartialMetrics};
use weir_quality::quarantine::{quarantine_table, Quarantine};

use super::schema::{conform, fit, written_schema};
use super::DeltaSinkConfig;
use crate::error::ConnectorError;

/// The schema of what writers hand to the committer: a row per file with its `add`
/// action (JSON) and whether the file belongs to the quarantine table, and with quality
/// rules a row with the state of the rules' metrics over the rows written since the last
/// hand-over (an Arrow IPC stream of one row).
pub fn staged_files_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("add", DataType::Utf8, true),
        Field::new("metrics", DataType::Binary, true),
        Field::new("quarantined", DataType::Boolean, true),
    ]))
}

pub(super) struct DeltaWriterPlan {
    pub config: Arc<DeltaSinkConfig>,
    pub input: SchemaRef,
    /// The quality rules' metrics, when the sink has rules.
    pub metrics: Option<Arc<MetricsPlan>>,
    /// The `quarantine` rules, when the sink has any.
    pub quarantine: Option<Arc<Quarantine>>,
}

impl OperatorPlan for DeltaWriterPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        vec![OutputPort {
            name: weir_engine::operator::MAIN_PORT.into(),
            schema: staged_files_schema(),
        }]
    }

    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        let metrics = match &self.metrics {
            Some(plan) => Some(plan.start().map_err(quality_error)?),
            None => None,
        };
        let quarantine = self.quarantine.as_ref().map(|rules| QuarantineWriter {
            rules: rules.clone(),
            config: Arc::new(DeltaSinkConfig {
                table: quarantine_table(&self.config.table),
                partition_by: Vec::new(),
                quality: None,
                ..(*self.config).clone()
            }),
            writer: None,
        });
        Ok(Box::new(DeltaFileWriter {
            config: self.config.clone(),
            input: self.input.clone(),
            writer: None,
            metrics,
            quarantine,
            gauges: subtask.gauges.clone(),
        }))
    }
}

fn quality_error(e: weir_quality::QualityError) -> ConnectorError {
    ConnectorError::Quality(format!("quality rules: {e}"))
}

struct DeltaFileWriter {
    config: Arc<DeltaSinkConfig>,
    input: SchemaRef,
    /// Opened with the first rows (creating the table if needed).
    writer: Option<OpenWriter>,
    /// The quality rules' metrics over the rows written since the last hand-over.
    metrics: Option<PartialMetrics>,
    quarantine: Option<QuarantineWriter>,
    /// Counts the rows quarantined (`quarantined_rows`).
    gauges: NodeGauges,
}

/// The writer of the rows `quarantine` rules reject, into the quarantine table.
struct QuarantineWriter {
    rules: Arc<Quarantine>,
    /// The sink's settings with the quarantine table, unpartitioned.
    config: Arc<DeltaSinkConfig>,
    /// Opened with the first rejected row (creating the table if needed).
    writer: Option<OpenWriter>,
}

/// The writer's figure counting the rows `quarantine` rules rejected.
pub const QUARANTINED_ROWS: &str = "quarantined_rows";

/// Closes `writer`'s open files and returns their `add` actions as JSON.
async fn flush(writer: &mut OpenWriter, table: &str) -> weir_engine::Result<Vec<String>> {
    let adds = writer
        .files
        .flush()
        .await
        .map_err(|e| ConnectorError::Delta(format!("writing files of {table}: {e}")))?;
    let json = adds
        .iter()
        .map(serde_json::to_string)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| ConnectorError::Delta(format!("encoding an add action: {e}")))?;
    Ok(json)
}

/// Writes `batch` with `writer` (opening it for `config` and rows of `input` first).
async fn write(
    writer: &mut Option<OpenWriter>,
    config: &DeltaSinkConfig,
    input: &SchemaRef,
    batch: RecordBatch,
) -> weir_engine::Result<()> {
    let writer = match writer {
        Some(w) => w,
        None => writer.insert(OpenWriter::open(config, input).await?),
    };
    let uri = &config.table;
    let batch = conform(batch, &writer.schema, uri)?;
    writer
        .files
        .write_with_mode(batch, writer.mode)
        .await
        .map_err(|e| ConnectorError::Delta(format!("writing to {uri}: {e}")))?;
    Ok(())
}

/// The writer of a subtask's files and how batches are written with it.
struct OpenWriter {
    files: RecordBatchWriter,
    /// The input's columns with the table's types; every batch is cast to it.
    schema: SchemaRef,
    /// `MergeSchema` when the stream adds columns to the table (schema evolution).
    mode: WriteMode,
}

impl OpenWriter {
    /// Opens the table (creating it if needed) and checks that `input` fits it.
    async fn open(config: &DeltaSinkConfig, input: &SchemaRef) -> weir_engine::Result<Self> {
        let uri = &config.table;
        let table = open_or_create(uri, input, &config.partition_by)
            .await
            .map_err(ConnectorError::from)?;
        let (columns, added) = fit(config, input, &table)?;
        let files = RecordBatchWriter::for_table(&table)
            .map_err(|e| ConnectorError::Delta(format!("writing to {uri}: {e}")))?
            .with_target_file_size(config.target_file_size);
        Ok(Self {
            files,
            schema: written_schema(input, &columns, &added, uri)?,
            mode: if added.is_empty() {
                WriteMode::Default
            } else {
                WriteMode::MergeSchema
            },
        })
    }
}

impl DeltaFileWriter {
    /// Closes the open files and emits their `add` actions, and the state of the quality
    /// rules' metrics.
    async fn hand_over(&mut self, out: &mut Collector) -> weir_engine::Result<()> {
        let mut json = Vec::new();
        let mut quarantined = Vec::new();
        if let Some(writer) = &mut self.writer {
            for add in flush(writer, &self.config.table).await? {
                json.push(Some(add));
                quarantined.push(Some(false));
            }
        }
        if let Some(QuarantineWriter {
            config,
            writer: Some(writer),
            ..
        }) = &mut self.quarantine
        {
            for add in flush(writer, &config.table).await? {
                json.push(Some(add));
                quarantined.push(Some(true));
            }
        }
        let mut states = vec![None; json.len()];
        if let Some(metrics) = &mut self.metrics {
            let state = metrics.take_state().map_err(quality_error)?;
            json.push(None);
            quarantined.push(None);
            states.push(Some(ipc_bytes(&state)?));
        }
        if json.is_empty() {
            return Ok(());
        }
        out.emit(RecordBatch::try_new(
            staged_files_schema(),
            vec![
                Arc::new(StringArray::from(json)),
                Arc::new(BinaryArray::from_iter(states)),
                Arc::new(BooleanArray::from(quarantined)),
            ],
        )?);
        Ok(())
    }
}

#[async_trait]
impl Operator for DeltaFileWriter {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        if let Some(metrics) = &mut self.metrics {
            metrics.update(&batch);
        }
        let batch = match &mut self.quarantine {
            Some(quarantine) => {
                let (kept, rejected) = quarantine
                    .rules
                    .split(&batch, &self.config.app_id)
                    .map_err(quality_error)?;
                if let Some(rejected) = rejected {
                    self.gauges
                        .add(QUARANTINED_ROWS, rejected.num_rows() as i64);
                    let schema = rejected.schema();
                    write(
                        &mut quarantine.writer,
                        &quarantine.config,
                        &schema,
                        rejected,
                    )
                    .await?;
                }
                kept
            }
            None => batch,
        };
        if batch.num_rows() > 0 {
            write(&mut self.writer, &self.config, &self.input, batch).await?;
        }
        Ok(())
    }

    async fn on_barrier(
        &mut self,
        _: CheckpointBarrier,
        out: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.hand_over(out).await
    }

    async fn on_end(&mut self, out: &mut Collector) -> weir_engine::Result<()> {
        self.hand_over(out).await
    }
}

/// `batch` as an Arrow IPC stream.
fn ipc_bytes(batch: &RecordBatch) -> Result<Vec<u8>, arrow::error::ArrowError> {
    let mut bytes = Vec::new();
    let mut writer = arrow::ipc::writer::StreamWriter::try_new(&mut bytes, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(bytes)
}
