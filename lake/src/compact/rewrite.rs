//! Reading a group's files and writing new ones: rows are read with the table's columns
//! (a column a file lacks, added to the table after it was written, reads as nulls),
//! and written to one partition through deltalake's writer, which collects each file's
//! statistics. Every new file is an `add` without data change.

use std::sync::Arc;

use arrow::array::{new_null_array, ArrayRef};
use arrow::datatypes::{Schema, SchemaRef};
use arrow::record_batch::{RecordBatch, RecordBatchOptions};
use bytes::Bytes;
use deltalake::kernel::{Add, LogicalFileView};
use deltalake::logstore::object_store::ObjectStoreExt as _;
use deltalake::logstore::ObjectStoreRef;
use deltalake::writer::{DeltaWriter as _, RecordBatchWriter, WriteMode};
use deltalake::{DeltaTable, Path};
use futures::{Stream, TryStreamExt};
use indexmap::IndexMap;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::Compression;
use parquet::file::properties::WriterProperties;

use super::candidates::CLUSTER_TAG;
use crate::error::{LakeError, Result};
use crate::schema::cast_exact;

/// Rows per batch read from a file.
const READ_BATCH_ROWS: usize = 65_536;

/// Rows per row group of a new file: small enough that a scan skips row groups by their
/// statistics and splits a file between threads, large enough to compress well.
const ROW_GROUP_ROWS: usize = 131_072;

/// The table's columns that files store: all but the partition columns.
pub fn file_schema(table: &DeltaTable) -> Result<SchemaRef> {
    let writer = writer(table)?;
    let snapshot = table.snapshot().map_err(|e| delta(table, e))?;
    let partitions = snapshot.metadata().partition_columns();
    let full = writer.arrow_schema();
    let fields: Vec<_> = full
        .fields()
        .iter()
        .filter(|f| !partitions.contains(f.name()))
        .cloned()
        .collect();
    Ok(Arc::new(Schema::new(fields)))
}

fn delta(table: &DeltaTable, e: impl std::fmt::Display) -> LakeError {
    LakeError::Delta(format!("table {}: {e}", table.table_url()))
}

/// A writer of the table's files, one file per flush.
fn writer(table: &DeltaTable) -> Result<RecordBatchWriter> {
    let properties = WriterProperties::builder()
        .set_compression(Compression::SNAPPY)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .build();
    Ok(RecordBatchWriter::for_table(table)
        .map_err(|e| delta(table, e))?
        .with_writer_properties(properties))
}

/// A data file to read, owned, so reads can run as tasks.
#[derive(Debug, Clone)]
pub struct FileToRead {
    store: ObjectStoreRef,
    path: Path,
    /// The table, for errors.
    table: String,
}

impl FileToRead {
    pub fn new(table: &DeltaTable, file: &LogicalFileView) -> Self {
        Self {
            store: table.object_store(),
            path: file.object_store_path(),
            table: table.table_url().to_string(),
        }
    }

    /// Where the file is, for messages.
    pub fn place(&self) -> String {
        format!("{} of table {}", self.path, self.table)
    }

    /// The file's bytes, fetched whole (compaction reads small files, or files of bounded
    /// groups).
    pub async fn fetch(&self) -> Result<Bytes> {
        let failed =
            |e: &dyn std::fmt::Display| LakeError::Io(format!("reading {}: {e}", self.place()));
        self.store
            .get(&self.path)
            .await
            .map_err(|e| failed(&e))?
            .bytes()
            .await
            .map_err(|e| failed(&e))
    }

    /// Every row of the file, with the columns of `schema`.
    pub async fn read(self, schema: SchemaRef) -> Result<Vec<RecordBatch>> {
        let bytes = self.fetch().await?;
        decode(bytes, schema, self.place()).await
    }
}

/// Every row of the file `bytes` (at `place`), with the columns of `schema`, decoded on a
/// blocking thread.
pub async fn decode(bytes: Bytes, schema: SchemaRef, place: String) -> Result<Vec<RecordBatch>> {
    let failed = |e: &dyn std::fmt::Display| LakeError::Io(format!("reading {place}: {e}"));
    let decoded = tokio::task::spawn_blocking(move || {
        ParquetRecordBatchReaderBuilder::try_new(bytes)?
            .with_batch_size(READ_BATCH_ROWS)
            .build()?
            .map(|batch| conform(batch?, &schema))
            .collect::<Result<Vec<_>, arrow::error::ArrowError>>()
            .map_err(parquet::errors::ParquetError::from)
    })
    .await
    .map_err(|e| failed(&e))?;
    decoded.map_err(|e| failed(&e))
}

/// `batch` with exactly `schema`'s columns: found by name and cast to its type, or
/// nulls where the file has no such column.
fn conform(
    batch: RecordBatch,
    schema: &SchemaRef,
) -> Result<RecordBatch, arrow::error::ArrowError> {
    let columns = schema
        .fields()
        .iter()
        .map(|field| match batch.column_by_name(field.name()) {
            Some(column) => cast_exact(column, field.data_type()),
            None => Ok(new_null_array(field.data_type(), batch.num_rows())),
        })
        .collect::<Result<Vec<ArrayRef>, _>>()?;
    RecordBatch::try_new_with_options(
        schema.clone(),
        columns,
        &RecordBatchOptions::new().with_row_count(Some(batch.num_rows())),
    )
}

/// Writes `batches` (rows of the partition of `partition`, a file of it, with the
/// columns of [`file_schema`]) as one new file of the table; `cluster_by` tags it as
/// clustered.
pub async fn write_file(
    table: &DeltaTable,
    partition: &LogicalFileView,
    batches: impl Stream<Item = Result<RecordBatch>>,
    cluster_by: Option<&str>,
) -> Result<Vec<Add>> {
    let mut writer = writer(table)?;
    let partition_values: IndexMap<String, _> = match partition.partition_values() {
        Some(values) => values
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .zip(values.values().iter().cloned())
            .collect(),
        None => IndexMap::new(),
    };
    let mut batches = std::pin::pin!(batches);
    while let Some(batch) = batches.try_next().await? {
        if batch.num_rows() > 0 {
            writer
                .write_partition(batch, &partition_values, WriteMode::Default)
                .await
                .map_err(|e| delta(table, format!("writing a compacted file: {e}")))?;
        }
    }
    let mut adds = writer
        .flush()
        .await
        .map_err(|e| delta(table, format!("writing a compacted file: {e}")))?;
    for add in &mut adds {
        add.data_change = false;
        if let Some(columns) = cluster_by {
            add.tags = Some([(CLUSTER_TAG.to_string(), Some(columns.to_string()))].into());
        }
    }
    Ok(adds)
}
