//! Raw lines: each record is one non-null `Utf8` value, as it is (less a trailing CR).

use std::borrow::Cow;
use std::sync::Arc;

use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use serde::{Deserialize, Serialize};

use super::columns::Value;
use super::text::TextParser;
use crate::error::Result;

/// The `lines` format's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LinesConfig {
    /// The name of the one column (default `line`).
    #[serde(default = "line")]
    pub column: String,
}

impl Default for LinesConfig {
    fn default() -> Self {
        Self { column: line() }
    }
}

fn line() -> String {
    "line".into()
}

impl LinesConfig {
    /// One non-nullable `Utf8` column.
    pub fn schema(&self) -> SchemaRef {
        Arc::new(Schema::new(vec![Field::new(
            &self.column,
            DataType::Utf8,
            false,
        )]))
    }
}

/// Decodes each record into one string; refuses blank and non-UTF-8 ones.
pub struct LinesDecoder {
    schema: SchemaRef,
    max_record_bytes: usize,
}

impl LinesDecoder {
    /// Records longer than `max_record_bytes` are refused.
    pub fn new(config: &LinesConfig, max_record_bytes: usize) -> Self {
        Self {
            schema: config.schema(),
            max_record_bytes,
        }
    }
}

impl TextParser for LinesDecoder {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    fn parse<'a>(&mut self, text: &'a str, row: &mut Vec<Value<'a>>) -> Result<(), String> {
        row.push(Value::Text(Cow::Borrowed(text)));
        Ok(())
    }
}
