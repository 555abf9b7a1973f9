//! Reading one Parquet file with the parquet crate's Arrow reader, batch by batch on a
//! blocking thread; the position is the number of rows read.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use parquet::arrow::arrow_reader::{ParquetRecordBatchReader, ParquetRecordBatchReaderBuilder};

use super::identity::FileId;
use super::line_file::ReadFailure;
use crate::error::{ConnectorError, Result};

/// The schema of the Parquet file at `path` (blocking).
pub(super) fn schema_of(path: &Path) -> Result<SchemaRef> {
    let file = File::open(path).map_err(|e| failed(path, e))?;
    let builder = ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(path, e))?;
    Ok(Arc::new(Schema::new(builder.schema().fields().clone())))
}

/// `name: type, ...` of a schema's columns.
fn describe(schema: &SchemaRef) -> String {
    let columns: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| format!("{}: {}", f.name(), f.data_type()))
        .collect();
    columns.join(", ")
}

fn failed(path: &Path, error: impl std::fmt::Display) -> ConnectorError {
    ConnectorError::Files(format!("reading Parquet file {}: {error}", path.display()))
}

/// A Parquet file being read. Rows are counted when handed out, so a read whose result is
/// dropped is not lost: the reader comes back with the result.
pub(super) struct ParquetFile {
    reader: Option<ParquetRecordBatchReader>,
    rows: u64,
}

impl std::fmt::Debug for ParquetFile {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ParquetFile")
            .field("rows", &self.rows)
            .finish()
    }
}

/// One batch read, run on a blocking thread: opens the file first if needed (skipping the
/// rows already read).
pub(super) struct ParquetJob {
    reader: Option<ParquetRecordBatchReader>,
    path: PathBuf,
    id: FileId,
    skip: u64,
    batch_size: usize,
    schema: SchemaRef,
}

/// What a batch read brought back: the next batch, `None` at the end of the file.
pub(super) struct ParquetDone {
    reader: Option<ParquetRecordBatchReader>,
    pub result: Result<Result<Option<RecordBatch>>, ReadFailure>,
}

impl ParquetFile {
    /// A file to read after its first `rows` rows.
    pub fn new(rows: u64) -> Self {
        Self { reader: None, rows }
    }

    /// Rows handed out.
    pub fn rows(&self) -> u64 {
        self.rows
    }

    /// The read to run next; give its result to [`Self::finish_read`].
    pub fn start_read(
        &mut self,
        path: &Path,
        id: FileId,
        batch_size: usize,
        schema: &SchemaRef,
    ) -> ParquetJob {
        ParquetJob {
            reader: self.reader.take(),
            path: path.to_path_buf(),
            id,
            skip: self.rows,
            batch_size,
            schema: schema.clone(),
        }
    }

    /// Takes back the reader; the batch read (if any) is handed out: its rows count.
    pub fn finish_read(&mut self, done: &mut ParquetDone) {
        self.reader = done.reader.take();
        if let Ok(Ok(Some(batch))) = &done.result {
            self.rows += batch.num_rows() as u64;
        }
    }
}

impl ParquetJob {
    /// Runs the read (blocking).
    pub fn run(self) -> ParquetDone {
        let mut reader = match self.reader {
            Some(reader) => reader,
            None => match self.open() {
                Ok(Ok(reader)) => reader,
                Ok(Err(e)) => {
                    return ParquetDone {
                        reader: None,
                        result: Ok(Err(e)),
                    }
                }
                Err(failure) => {
                    return ParquetDone {
                        reader: None,
                        result: Err(failure),
                    }
                }
            },
        };
        let next = reader.next().transpose().map_err(|e| failed(&self.path, e));
        ParquetDone {
            reader: Some(reader),
            result: Ok(next),
        }
    }

    fn open(&self) -> Result<Result<ParquetRecordBatchReader>, ReadFailure> {
        let file = match File::open(&self.path) {
            Ok(file) => file,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Err(ReadFailure::Moved),
            Err(e) => return Err(ReadFailure::Io(e)),
        };
        let metadata = file.metadata().map_err(ReadFailure::Io)?;
        if FileId::of(&metadata, &self.path) != self.id {
            return Err(ReadFailure::Moved);
        }
        Ok(self.build(file))
    }

    fn build(&self, file: File) -> Result<ParquetRecordBatchReader> {
        let builder =
            ParquetRecordBatchReaderBuilder::try_new(file).map_err(|e| failed(&self.path, e))?;
        if builder.schema().fields() != self.schema.fields() {
            return Err(ConnectorError::Files(format!(
                "Parquet file {} has columns ({}) but the source's schema, taken from its first file, is ({}); read files of different schemas with separate sources",
                self.path.display(),
                describe(builder.schema()),
                describe(&self.schema)
            )));
        }
        builder
            .with_batch_size(self.batch_size)
            .with_offset(self.skip as usize)
            .build()
            .map_err(|e| failed(&self.path, e))
    }
}
