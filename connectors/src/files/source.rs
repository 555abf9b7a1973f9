//! The file source's plan: checks the configuration, finds the files, fixes the schema;
//! each subtask's [`FileReader`] reads the files dealt to it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use weir_engine::{Source, SourcePlan, SubtaskInfo};

use super::deal::Deal;
use super::discovery::{FilePattern, Found};
use super::parquet_file;
use super::reader::FileReader;
use super::{FileFormat, FileMode, FileSourceConfig};
use crate::error::{ConnectorError, Result};
use crate::format::dead_letter::dead_letter_schema;
use crate::format::DecodeErrorPolicy;

/// A file source: the configuration plus the files found when the job was built.
pub struct FileSource {
    config: Arc<FileSourceConfig>,
    pattern: Arc<FilePattern>,
    schema: SchemaRef,
    decoded_schema: SchemaRef,
    /// The files matching when the job was built; in bounded mode, exactly the files read.
    initial: Vec<Found>,
    /// The deal of the files over the subtasks, one per parallelism the source runs at,
    /// shared by its subtasks.
    deals: Mutex<HashMap<usize, Arc<Mutex<Deal>>>>,
}

fn bad(message: String) -> ConnectorError {
    ConnectorError::Config {
        connector: "file source",
        message,
    }
}

fn stopped(error: tokio::task::JoinError) -> ConnectorError {
    ConnectorError::Files(format!("listing files stopped: {error}"))
}

impl FileSource {
    /// Checks the configuration, lists the matching files and, for Parquet, takes the
    /// schema from the first of them.
    pub async fn new(config: FileSourceConfig) -> Result<Arc<Self>> {
        if config.batch_size == 0 {
            return Err(bad("batch_size must be at least 1".into()));
        }
        if config.max_record_bytes == 0 {
            return Err(bad("max_record_bytes must be at least 1".into()));
        }
        if config.discovery_interval.is_zero() || config.poll_interval.is_zero() {
            return Err(bad(
                "discovery_interval and poll_interval must be longer than 0".into(),
            ));
        }
        let pattern = Arc::new(FilePattern::new(&config.path)?);
        let listing = pattern.clone();
        let initial = tokio::task::spawn_blocking(move || listing.list())
            .await
            .map_err(stopped)??;
        if initial.is_empty() && config.mode == FileMode::Bounded {
            return Err(bad(format!("no file matches `path` '{}'", config.path)));
        }
        let decoded_schema = match (config.file_format, &config.format) {
            (FileFormat::Lines, Some(format)) => format.schema()?,
            (FileFormat::Lines, None) => {
                return Err(bad("line files need a `format` to decode lines".into()))
            }
            (FileFormat::Parquet, Some(_)) => {
                return Err(bad(
                    "Parquet files carry their schema: remove `format`".into()
                ))
            }
            (FileFormat::Parquet, None) => {
                let Some(first) = initial.first() else {
                    return Err(bad(format!(
                        "no Parquet file matches `path` '{}' to take the schema from",
                        config.path
                    )));
                };
                let path = first.path.clone();
                tokio::task::spawn_blocking(move || parquet_file::schema_of(&path))
                    .await
                    .map_err(stopped)??
            }
        };
        let mut fields: Vec<Field> = decoded_schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone())
            .collect();
        if config.metadata_columns {
            fields.extend([
                Field::new("file_path", DataType::Utf8, false),
                Field::new("file_line", DataType::Int64, false),
            ]);
        }
        Ok(Arc::new(Self {
            config: Arc::new(config),
            pattern,
            schema: Arc::new(Schema::new(fields)),
            decoded_schema,
            initial,
            deals: Mutex::default(),
        }))
    }
}

impl SourcePlan for FileSource {
    fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    fn dead_letter_schema(&self) -> Option<SchemaRef> {
        let lines = self.config.file_format == FileFormat::Lines;
        (lines && self.config.on_decode_error == DecodeErrorPolicy::DeadLetter)
            .then(dead_letter_schema)
    }

    fn create(&self, subtask: &SubtaskInfo) -> weir_engine::Result<Box<dyn Source>> {
        let deal = self
            .deals
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .entry(subtask.parallelism)
            .or_insert_with(|| Arc::new(Mutex::new(Deal::new(&self.initial, subtask.parallelism))))
            .clone();
        Ok(Box::new(FileReader::new(
            self.config.clone(),
            self.pattern.clone(),
            (self.schema.clone(), self.decoded_schema.clone()),
            subtask,
            deal,
            &self.initial,
        )?))
    }
}
