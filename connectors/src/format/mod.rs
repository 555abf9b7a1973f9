//! Formats: turning records (Kafka messages, lines of a file) into Arrow rows.
//!
//! A decoder takes the records of one read and returns the rows it could decode plus dead
//! letters for the others; what happens to the dead letters is the source's
//! [`DecodeErrorPolicy`].

pub mod dead_letter;
pub mod json;
pub mod schema;

use serde::{Deserialize, Serialize};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::Result;
use dead_letter::DeadLetters;
pub use schema::ColumnSpec;

/// How records are encoded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FormatConfig {
    /// One JSON object per record; fields not in `columns` are ignored, missing nullable
    /// ones are null.
    Json { columns: Vec<ColumnSpec> },
}

impl FormatConfig {
    /// A decoder for this format; records longer than `max_record_bytes` are refused.
    pub fn decoder(&self, max_record_bytes: usize) -> Result<Box<dyn Decoder>> {
        match self {
            FormatConfig::Json { columns } => Ok(Box::new(json::JsonDecoder::new(
                schema::schema_of(columns)?,
                max_record_bytes,
            ))),
        }
    }

    /// The schema of the decoded rows.
    pub fn schema(&self) -> Result<SchemaRef> {
        match self {
            FormatConfig::Json { columns } => schema::schema_of(columns),
        }
    }

    /// How many lines at the start of each file are a header, not records.
    pub fn header_lines(&self) -> usize {
        match self {
            FormatConfig::Json { .. } => 0,
        }
    }
}

/// What to do with a record that cannot be decoded.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DecodeErrorPolicy {
    /// Send it to the source's `dead_letters` output with its origin and the reason.
    #[default]
    DeadLetter,
    /// Drop it; the source counts and logs what it dropped.
    Drop,
    /// Stop the job with an error naming the record's origin and the reason.
    Fail,
}

/// The rows decoded from the records of one read.
#[derive(Debug)]
pub struct Decoded {
    /// One row per record that decoded, in record order.
    pub batch: RecordBatch,
    /// The index of the record each row came from, when some records were refused.
    pub kept: Option<Vec<u32>>,
}

/// Decodes the records of one read.
pub trait Decoder: Send {
    /// Decodes `records`, in order; `origin(i)` says where record `i` came from. Records
    /// that cannot be decoded are added to `dead` instead of the returned batch.
    fn decode(
        &mut self,
        records: &[&[u8]],
        origin: &dyn Fn(usize) -> String,
        dead: &mut DeadLetters,
    ) -> Result<Decoded>;
}
