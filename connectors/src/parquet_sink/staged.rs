//! What a writer hands to the committer for every file it closed: where the complete file
//! waits (an in-progress path readers ignore) and what names it gets when committed.

use std::sync::Arc;

use arrow::array::{Array, AsArray, StringArray, UInt32Array, UInt64Array};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, UInt32Type, UInt64Type};
use arrow::record_batch::RecordBatch;

use crate::error::Result;

/// The hidden directory, inside the sink's directory, holding files not yet committed.
/// Its name starts with `.`, so readers that skip hidden paths never see its files.
pub const IN_PROGRESS_DIR: &str = ".inprogress";

/// A closed file not yet committed. Paths are relative to the sink's directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct ClosedFile {
    /// The complete file under [`IN_PROGRESS_DIR`].
    pub temp: String,
    /// The partition directory it belongs in (`""` when unpartitioned).
    pub partition: String,
    /// The writer subtask that wrote it.
    pub writer: u32,
    /// The file's number among the files of that writer in this run.
    pub seq: u64,
    pub rows: u64,
    pub bytes: u64,
}

impl ClosedFile {
    /// The committed path of the file in epoch `epoch` of run `run`: unique per run,
    /// epoch, writer and file, and the same every time it is computed.
    pub fn final_path(&self, epoch: u64, run: &str) -> String {
        let name = format!(
            "part-{epoch:06}-{:03}-{:05}-{run}.parquet",
            self.writer, self.seq
        );
        match self.partition.is_empty() {
            true => name,
            false => format!("{}/{name}", self.partition),
        }
    }
}

/// The schema of the batches writers send to the committer: one row per closed file.
pub(super) fn closed_files_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("temp", DataType::Utf8, false),
        Field::new("partition", DataType::Utf8, false),
        Field::new("writer", DataType::UInt32, false),
        Field::new("seq", DataType::UInt64, false),
        Field::new("rows", DataType::UInt64, false),
        Field::new("bytes", DataType::UInt64, false),
    ]))
}

pub(super) fn to_batch(files: &[ClosedFile]) -> Result<RecordBatch> {
    Ok(RecordBatch::try_new(
        closed_files_schema(),
        vec![
            Arc::new(StringArray::from_iter_values(
                files.iter().map(|f| f.temp.as_str()),
            )),
            Arc::new(StringArray::from_iter_values(
                files.iter().map(|f| f.partition.as_str()),
            )),
            Arc::new(UInt32Array::from_iter_values(
                files.iter().map(|f| f.writer),
            )),
            Arc::new(UInt64Array::from_iter_values(files.iter().map(|f| f.seq))),
            Arc::new(UInt64Array::from_iter_values(files.iter().map(|f| f.rows))),
            Arc::new(UInt64Array::from_iter_values(files.iter().map(|f| f.bytes))),
        ],
    )?)
}

pub(super) fn from_batch(batch: &RecordBatch) -> Vec<ClosedFile> {
    let temp = batch.column(0).as_string::<i32>();
    let partition = batch.column(1).as_string::<i32>();
    let writer = batch.column(2).as_primitive::<UInt32Type>();
    let seq = batch.column(3).as_primitive::<UInt64Type>();
    let rows = batch.column(4).as_primitive::<UInt64Type>();
    let bytes = batch.column(5).as_primitive::<UInt64Type>();
    (0..batch.num_rows())
        .filter(|&r| temp.is_valid(r) && partition.is_valid(r))
        .map(|r| ClosedFile {
            temp: temp.value(r).to_string(),
            partition: partition.value(r).to_string(),
            writer: writer.value(r),
            seq: seq.value(r),
            rows: rows.value(r),
            bytes: bytes.value(r),
        })
        .collect()
}
