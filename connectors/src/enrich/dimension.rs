//! Where a dimension table lives and how it is read: a CSV file with a header, a Parquet
//! file or a Delta table, each read whole into one batch, with a [`Stamp`] that changes
//! when the table does.

use std::fs::File;
use std::path::Path;
use std::sync::Arc;
use std::time::SystemTime;

use arrow::compute::concat_batches;
use arrow::csv::reader::Format;
use arrow::csv::ReaderBuilder;
use arrow::record_batch::RecordBatch;
use deltalake::datafusion::prelude::SessionContext;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::{Deserialize, Serialize};

use crate::error::{ConnectorError, Result};

/// How a dimension table is stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DimensionFormat {
    /// A CSV file whose first line names the columns; types are inferred from the values.
    Csv,
    /// A Parquet file.
    Parquet,
    /// A Delta table directory (or object store URL).
    Delta,
}

impl DimensionFormat {
    /// The format of `path` when none is given: a directory holding `_delta_log` is a Delta
    /// table, `.csv` a CSV file, `.parquet` (or `.parq`) a Parquet file.
    pub fn infer(path: &str) -> Result<Self> {
        let location = Path::new(path);
        if location.join("_delta_log").is_dir() {
            return Ok(Self::Delta);
        }
        match location.extension().and_then(|e| e.to_str()) {
            Some(e) if e.eq_ignore_ascii_case("csv") => Ok(Self::Csv),
            Some(e) if e.eq_ignore_ascii_case("parquet") || e.eq_ignore_ascii_case("parq") => {
                Ok(Self::Parquet)
            }
            _ if !location.exists() => Err(ConnectorError::Io(format!(
                "dimension table '{path}' does not exist"
            ))),
            _ => Err(ConnectorError::Config {
                connector: "enrich",
                message: format!(
                    "cannot tell the format of '{path}' (not a .csv or .parquet file, no _delta_log); set `format: csv | parquet | delta`"
                ),
            }),
        }
    }
}

/// What a table looked like when it was read: a file's modification time and size, or a
/// Delta table's version. A different stamp means the table may have changed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stamp {
    File {
        modified: Option<SystemTime>,
        len: u64,
    },
    Delta {
        version: u64,
    },
}

/// A dimension table's location and format.
#[derive(Debug, Clone)]
pub struct DimensionSource {
    pub path: String,
    pub format: DimensionFormat,
}

impl DimensionSource {
    /// The table's current stamp: one `stat` for files, a listing of the log for Delta.
    pub async fn stamp(&self) -> Result<Stamp> {
        match self.format {
            DimensionFormat::Delta => {
                let table = self.delta_table(false).await?;
                let version = table.get_latest_version().await.map_err(|e| {
                    ConnectorError::Delta(format!("version of table '{}': {e}", self.path))
                })?;
                Ok(Stamp::Delta { version })
            }
            DimensionFormat::Csv | DimensionFormat::Parquet => {
                let path = self.path.clone();
                blocking(move || file_stamp(&path)).await
            }
        }
    }

    /// The whole table as one batch, with the stamp of what was read.
    pub async fn read(&self) -> Result<(RecordBatch, Stamp)> {
        match self.format {
            DimensionFormat::Delta => self.read_delta().await,
            DimensionFormat::Csv => {
                let path = self.path.clone();
                blocking(move || {
                    let stamp = file_stamp(&path)?;
                    Ok((read_csv(&path)?, stamp))
                })
                .await
            }
            DimensionFormat::Parquet => {
                let path = self.path.clone();
                blocking(move || {
                    let stamp = file_stamp(&path)?;
                    Ok((read_parquet(&path)?, stamp))
                })
                .await
            }
        }
    }

    async fn delta_table(&self, load: bool) -> Result<deltalake::DeltaTable> {
        let error = |e: deltalake::DeltaTableError| {
            ConnectorError::Delta(format!("dimension table '{}': {e}", self.path))
        };
        // Looked at first: deltalake would create a missing local directory.
        if !self.path.contains("://") && !Path::new(&self.path).is_dir() {
            return Err(ConnectorError::Io(format!(
                "dimension table '{}' does not exist",
                self.path
            )));
        }
        let url = deltalake::ensure_table_uri(&self.path).map_err(error)?;
        let mut table = deltalake::DeltaTableBuilder::from_url(url)
            .and_then(|builder| weir_lake::lake_log_store::lake_table(&builder))
            .map_err(error)?;
        if load {
            table.load().await.map_err(error)?;
        }
        Ok(table)
    }

    async fn read_delta(&self) -> Result<(RecordBatch, Stamp)> {
        let table = self.delta_table(true).await?;
        let error =
            |e: String| ConnectorError::Delta(format!("reading table '{}': {e}", self.path));
        let version = table
            .version()
            .ok_or_else(|| error("no version loaded".into()))?;
        let ctx = SessionContext::new();
        table
            .update_datafusion_session(&ctx.state())
            .map_err(|e| error(e.to_string()))?;
        let provider = table
            .table_provider()
            .await
            .map_err(|e| error(e.to_string()))?;
        let frame = ctx.read_table(provider).map_err(|e| error(e.to_string()))?;
        let schema = Arc::new(frame.schema().as_arrow().clone());
        let batches = frame.collect().await.map_err(|e| error(e.to_string()))?;
        Ok((concat_batches(&schema, &batches)?, Stamp::Delta { version }))
    }
}

/// Runs blocking file work on the blocking pool.
async fn blocking<T: Send + 'static>(
    work: impl FnOnce() -> Result<T> + Send + 'static,
) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| ConnectorError::Io(format!("reading a dimension table: {e}")))?
}

fn io_error(path: &str) -> impl FnOnce(std::io::Error) -> ConnectorError + '_ {
    move |e| ConnectorError::Io(format!("dimension table '{path}': {e}"))
}

fn file_stamp(path: &str) -> Result<Stamp> {
    let meta = std::fs::metadata(path).map_err(io_error(path))?;
    Ok(Stamp::File {
        modified: meta.modified().ok(),
        len: meta.len(),
    })
}

fn read_csv(path: &str) -> Result<RecordBatch> {
    let format_error =
        |e: arrow::error::ArrowError| ConnectorError::Io(format!("dimension table '{path}': {e}"));
    let (schema, _) = Format::default()
        .with_header(true)
        .infer_schema(File::open(path).map_err(io_error(path))?, None)
        .map_err(format_error)?;
    let schema = Arc::new(schema);
    let reader = ReaderBuilder::new(schema.clone())
        .with_header(true)
        .build(File::open(path).map_err(io_error(path))?)
        .map_err(format_error)?;
    let batches = reader
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(format_error)?;
    concat_batches(&schema, &batches).map_err(format_error)
}

fn read_parquet(path: &str) -> Result<RecordBatch> {
    let format_error = |e: parquet::errors::ParquetError| {
        ConnectorError::Io(format!("dimension table '{path}': {e}"))
    };
    let builder =
        ParquetRecordBatchReaderBuilder::try_new(File::open(path).map_err(io_error(path))?)
            .map_err(format_error)?;
    let schema = builder.schema().clone();
    let batches = builder
        .build()
        .map_err(format_error)?
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| ConnectorError::Io(format!("dimension table '{path}': {e}")))?;
    Ok(concat_batches(&schema, &batches)?)
}
