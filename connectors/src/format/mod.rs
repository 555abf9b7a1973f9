//! Formats: turning records (Kafka messages, lines of a file) into Arrow rows, and back.
//!
//! A decoder takes the records of one read and returns the rows it could decode plus dead
//! letters for the others; what happens to the dead letters is the source's
//! [`DecodeErrorPolicy`]. Every decoder refuses, with a reason naming the field and value,
//! records longer than the source's `max_record_bytes` (unread), blank ones, and ones that
//! do not parse or are not UTF-8; none panics on any input. Text formats (all but JSON)
//! ignore a trailing CR.

pub mod access_log;
mod columns;
pub mod csv;
pub mod csv_encode;
pub mod dead_letter;
pub mod json;
pub mod json_depth;
pub mod json_encode;
pub mod json_infer;
pub mod lines;
pub mod pattern;
pub mod schema;
pub mod syslog;
mod text;

use serde::{Deserialize, Serialize};

use arrow::datatypes::SchemaRef;
use arrow::record_batch::RecordBatch;

use crate::error::{ConnectorError, Result};
pub use access_log::{AccessLogConfig, AccessLogVariant};
pub use csv::CsvConfig;
use dead_letter::DeadLetters;
pub use json_encode::encode_json_lines;
pub use json_infer::infer_json_columns;
pub use lines::LinesConfig;
pub use pattern::RegexConfig;
pub use schema::ColumnSpec;
pub use syslog::{SyslogConfig, SyslogRfc};

/// How records are encoded; the `type` tag picks the format, its other keys are the
/// format's settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case", deny_unknown_fields)]
pub enum FormatConfig {
    /// One JSON object per record; fields not in `columns` are ignored, missing nullable
    /// ones are null. [`infer_json_columns`] proposes `columns` from a sample.
    Json { columns: Vec<ColumnSpec> },
    /// One CSV line per record: `columns`, `delimiter` (`,`), `quote` (`"`), `header`.
    Csv(CsvConfig),
    /// Each record as one string column named `column` (`line`).
    Lines(LinesConfig),
    /// Syslog lines: `rfc` (`5424`, `3164` or `auto`), `year` of RFC 3164 timestamps.
    Syslog(SyslogConfig),
    /// Web server access logs: `variant` (`common` or `combined`).
    AccessLog(AccessLogConfig),
    /// Lines matched by `pattern`, one column per named group typed by `columns`.
    Regex(RegexConfig),
}

impl FormatConfig {
    /// A decoder for this format; records longer than `max_record_bytes` are refused.
    pub fn decoder(&self, max_record_bytes: usize) -> Result<Box<dyn Decoder>> {
        Ok(match self {
            FormatConfig::Json { columns } => Box::new(json::JsonDecoder::new(
                schema::schema_of(columns)?,
                max_record_bytes,
            )),
            FormatConfig::Csv(c) => Box::new(csv::CsvDecoder::new(c, max_record_bytes)?),
            FormatConfig::Lines(c) => Box::new(lines::LinesDecoder::new(c, max_record_bytes)),
            FormatConfig::Syslog(c) => Box::new(syslog::SyslogDecoder::new(c, max_record_bytes)),
            FormatConfig::AccessLog(c) => {
                Box::new(access_log::AccessLogDecoder::new(c, max_record_bytes))
            }
            FormatConfig::Regex(c) => Box::new(pattern::RegexDecoder::new(c, max_record_bytes)?),
        })
    }

    /// The schema of the decoded rows.
    pub fn schema(&self) -> Result<SchemaRef> {
        match self {
            FormatConfig::Json { columns } | FormatConfig::Csv(CsvConfig { columns, .. }) => {
                schema::schema_of(columns)
            }
            FormatConfig::Lines(c) => Ok(c.schema()),
            FormatConfig::Syslog(_) => Ok(syslog::syslog_schema()),
            FormatConfig::AccessLog(c) => Ok(access_log::access_log_schema(c.variant)),
            FormatConfig::Regex(c) => c.schema(),
        }
    }

    /// How many lines at the start of a file are not records: 1 for CSV with a header,
    /// else 0.
    pub fn header_lines(&self) -> usize {
        match self {
            FormatConfig::Csv(CsvConfig { header: true, .. }) => 1,
            _ => 0,
        }
    }

    /// An encoder writing rows in this format (JSON and CSV; the others only decode).
    pub fn encoder(&self) -> Result<Box<dyn Encoder>> {
        match self {
            FormatConfig::Json { .. } => Ok(Box::new(json_encode::JsonEncoder)),
            FormatConfig::Csv(c) => Ok(Box::new(csv_encode::CsvEncoder::new(c)?)),
            other => Err(ConnectorError::Config {
                connector: "format",
                message: format!("the {} format can only decode", other.name()),
            }),
        }
    }

    /// The format's `type` tag.
    pub fn name(&self) -> &'static str {
        match self {
            FormatConfig::Json { .. } => "json",
            FormatConfig::Csv(_) => "csv",
            FormatConfig::Lines(_) => "lines",
            FormatConfig::Syslog(_) => "syslog",
            FormatConfig::AccessLog(_) => "access_log",
            FormatConfig::Regex(_) => "regex",
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

/// Encodes rows into records, the reverse of a [`Decoder`].
pub trait Encoder: Send {
    /// One record per row of `batch`, in row order, without a line end.
    fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>>;
}
