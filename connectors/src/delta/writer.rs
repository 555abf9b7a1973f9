//! The writing half of the Delta sink: each subtask writes its rows to Parquet files in
//! the table's storage and, at every checkpoint barrier (and at the end of the input),
//! closes them and hands their `add` actions downstream to the committer. Nothing it
//! writes is visible until the committer commits it. Every batch is written with the
//! table's column types (cast when the stream's differ, e.g. `Utf8View` into `string`).
//! With quality rules, each subtask also updates the rules' metrics with the rows it
//! writes and hands their state over with the files, for the committer to judge the epoch.

use std::sync::Arc;

use arrow::array::{BinaryArray, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter, WriteMode};
use weir_engine::{CheckpointBarrier, Collector, Operator, OperatorPlan, OutputPort, SubtaskInfo};
use weir_lake::table::open_or_create;
use weir_quality::partial::{MetricsPlan, PartialMetrics};

use super::schema::{conform, fit, written_schema};
use super::DeltaSinkConfig;
use crate::error::ConnectorError;

/// The schema of what writers hand to the committer: a row per file with its `add`
/// action (JSON), and with quality rules a row with the state of the rules' metrics over
/// the rows written since the last hand-over (an Arrow IPC stream of one row).
pub fn staged_files_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("add", DataType::Utf8, true),
        Field::new("metrics", DataType::Binary, true),
    ]))
}

pub(super) struct DeltaWriterPlan {
    pub config: Arc<DeltaSinkConfig>,
    pub input: SchemaRef,
    /// The quality rules' metrics, when the sink has rules.
    pub metrics: Option<Arc<MetricsPlan>>,
}

impl OperatorPlan for DeltaWriterPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        vec![OutputPort {
            name: weir_engine::operator::MAIN_PORT.into(),
            schema: staged_files_schema(),
        }]
    }

    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        let metrics = match &self.metrics {
            Some(plan) => Some(plan.start().map_err(quality_error)?),
            None => None,
        };
        Ok(Box::new(DeltaFileWriter {
            config: self.config.clone(),
            input: self.input.clone(),
            writer: None,
            metrics,
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
        if let Some(writer) = &mut self.writer {
            let adds = writer.files.flush().await.map_err(|e| {
                ConnectorError::Delta(format!("writing files of {}: {e}", self.config.table))
            })?;
            for add in &adds {
                json.push(Some(serde_json::to_string(add).map_err(|e| {
                    ConnectorError::Delta(format!("encoding an add action: {e}"))
                })?));
            }
        }
        let mut states = vec![None; json.len()];
        if let Some(metrics) = &mut self.metrics {
            let state = metrics.take_state().map_err(quality_error)?;
            json.push(None);
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
        let writer = match &mut self.writer {
            Some(w) => w,
            None => {
                let opened = OpenWriter::open(&self.config, &self.input).await?;
                self.writer.insert(opened)
            }
        };
        if let Some(metrics) = &mut self.metrics {
            metrics.update(&batch).map_err(quality_error)?;
        }
        let uri = &self.config.table;
        let batch = conform(batch, &writer.schema, uri)?;
        writer
            .files
            .write_with_mode(batch, writer.mode)
            .await
            .map_err(|e| ConnectorError::Delta(format!("writing to {uri}: {e}")))?;
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
