//! The writing half of the Parquet sink: each subtask keeps one open in-progress file per
//! partition directory, rolls to a new one when a file reaches the target size (or has
//! been open longer than the rollover interval), and at every checkpoint barrier (and at
//! the end of the input) closes them all and hands them downstream to the committer.
//! Nothing it writes is visible to readers until the committer renames it.
//!
//! An open file buffers its current row group in memory, so a writer holds about one row
//! group per partition directory it saw since the last barrier: partition columns of high
//! cardinality cost memory.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

use arrow::record_batch::RecordBatch;
use async_trait::async_trait;
use parquet::arrow::AsyncArrowWriter;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;
use weir_engine::{CheckpointBarrier, Collector, Operator, OperatorPlan, OutputPort, SubtaskInfo};

use super::partition::Partitioner;
use super::staged::{closed_files_schema, to_batch, ClosedFile, IN_PROGRESS_DIR};
use super::ParquetSinkConfig;
use crate::error::ConnectorError;

pub(super) struct ParquetWriterPlan {
    pub config: Arc<ParquetSinkConfig>,
    pub run: Arc<str>,
    pub partitioner: Arc<Partitioner>,
    pub compression: Compression,
}

impl OperatorPlan for ParquetWriterPlan {
    fn outputs(&self) -> Vec<OutputPort> {
        vec![OutputPort {
            name: weir_engine::operator::MAIN_PORT.into(),
            schema: closed_files_schema(),
        }]
    }

    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(ParquetFileWriter {
            config: self.config.clone(),
            root: PathBuf::from(&self.config.path),
            run: self.run.clone(),
            partitioner: self.partitioner.clone(),
            properties: WriterProperties::builder()
                .set_compression(self.compression)
                .build(),
            writer: subtask.index as u32,
            next_seq: 0,
            open: HashMap::new(),
            closed: Vec::new(),
        }))
    }
}

/// An in-progress file being written.
struct OpenFile {
    writer: AsyncArrowWriter<tokio::fs::File>,
    temp: String,
    seq: u64,
    opened: Instant,
}

struct ParquetFileWriter {
    config: Arc<ParquetSinkConfig>,
    root: PathBuf,
    run: Arc<str>,
    partitioner: Arc<Partitioner>,
    properties: WriterProperties,
    /// This subtask's index, part of every file name.
    writer: u32,
    /// The number of the next file this subtask opens; never reused within the run.
    next_seq: u64,
    /// The open file of each partition directory.
    open: HashMap<String, OpenFile>,
    /// Files closed since the last hand-over.
    closed: Vec<ClosedFile>,
}

fn io_error(what: &str, path: &Path, error: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Io(format!("{what} {}: {error}", path.display()))
}

impl ParquetFileWriter {
    async fn open_file(&mut self) -> weir_engine::Result<OpenFile> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let temp = format!(
            "{IN_PROGRESS_DIR}/{}-{:03}-{seq:05}.parquet",
            self.run, self.writer
        );
        let path = self.root.join(&temp);
        let dir = self.root.join(IN_PROGRESS_DIR);
        tokio::fs::create_dir_all(&dir)
            .await
            .map_err(|e| io_error("creating", &dir, e))?;
        let file = tokio::fs::File::create(&path)
            .await
            .map_err(|e| io_error("creating", &path, e))?;
        let writer = AsyncArrowWriter::try_new(
            file,
            self.partitioner.file_schema().clone(),
            Some(self.properties.clone()),
        )
        .map_err(|e| io_error("writing", &path, e))?;
        Ok(OpenFile {
            writer,
            temp,
            seq,
            opened: Instant::now(),
        })
    }

    async fn close(&mut self, partition: String, mut file: OpenFile) -> weir_engine::Result<()> {
        let path = self.root.join(&file.temp);
        let metadata = file
            .writer
            .finish()
            .await
            .map_err(|e| io_error("closing", &path, e))?;
        self.closed.push(ClosedFile {
            temp: file.temp,
            partition,
            writer: self.writer,
            seq: file.seq,
            rows: metadata.file_metadata().num_rows() as u64,
            bytes: file.writer.bytes_written() as u64,
        });
        Ok(())
    }

    /// Closes the files open longer than the rollover interval.
    async fn roll_over_old_files(&mut self) -> weir_engine::Result<()> {
        let Some(interval) = self.config.rollover_interval else {
            return Ok(());
        };
        let old: Vec<String> = self
            .open
            .iter()
            .filter(|(_, f)| f.opened.elapsed() >= interval)
            .map(|(p, _)| p.clone())
            .collect();
        for partition in old {
            if let Some(file) = self.open.remove(&partition) {
                self.close(partition, file).await?;
            }
        }
        Ok(())
    }

    /// Closes every open file and emits all closed files for the committer.
    async fn hand_over(&mut self, out: &mut Collector) -> weir_engine::Result<()> {
        let mut open: Vec<(String, OpenFile)> = self.open.drain().collect();
        open.sort_by_key(|(_, f)| f.seq);
        for (partition, file) in open {
            self.close(partition, file).await?;
        }
        if !self.closed.is_empty() {
            out.emit(to_batch(&std::mem::take(&mut self.closed))?);
        }
        Ok(())
    }
}

#[async_trait]
impl Operator for ParquetFileWriter {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        _: &mut Collector,
    ) -> weir_engine::Result<()> {
        self.roll_over_old_files().await?;
        for (partition, rows) in self.partitioner.split(&batch)? {
            let mut file = match self.open.remove(&partition) {
                Some(file) => file,
                None => self.open_file().await?,
            };
            file.writer
                .write(&rows)
                .await
                .map_err(|e| io_error("writing", &self.root.join(&file.temp), e))?;
            let size = file.writer.bytes_written() + file.writer.in_progress_size();
            if size as u64 >= self.config.target_file_size {
                self.close(partition, file).await?;
            } else {
                self.open.insert(partition, file);
            }
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
