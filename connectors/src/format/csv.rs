//! CSV records: one line holds one row, fields split by `delimiter`, optionally quoted.
//!
//! A quoted field may hold the delimiter, and the quote itself doubled (`"a""b"` is
//! `a"b`); it cannot hold a line end, since a record is one line. An empty unquoted field
//! is null in a nullable column; `""` is the empty string. A quote inside an unquoted
//! field is an ordinary character.

use std::borrow::Cow;

use arrow::datatypes::SchemaRef;
use serde::{Deserialize, Serialize};

use super::columns::{typed, Value};
use super::schema::{schema_of, ColumnSpec};
use super::text::TextParser;
use crate::error::{ConnectorError, Result};

/// The `csv` format's settings.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CsvConfig {
    /// The columns, in the order of the fields of a line; every line has exactly as many
    /// fields.
    pub columns: Vec<ColumnSpec>,
    /// Separates fields (default `,`); one ASCII character.
    #[serde(default = "comma")]
    pub delimiter: char,
    /// Encloses fields that hold the delimiter (default `"`); one ASCII character.
    #[serde(default = "double_quote")]
    pub quote: char,
    /// Whether a file's first line names the columns (default false); file sources skip
    /// it, the decoder does not look for it.
    #[serde(default)]
    pub header: bool,
}

fn comma() -> char {
    ','
}

fn double_quote() -> char {
    '"'
}

impl CsvConfig {
    /// The delimiter and quote as bytes, checked: ASCII, distinct, not a line end.
    pub(super) fn separators(&self) -> Result<(u8, u8)> {
        let byte = |c: char, what: &str| {
            if c.is_ascii() && c != '\n' && c != '\r' {
                Ok(c as u8)
            } else {
                Err(ConnectorError::Config {
                    connector: "csv format",
                    message: format!(
                        "{what} {c:?} must be one ASCII character other than a line end"
                    ),
                })
            }
        };
        let (delimiter, quote) = (
            byte(self.delimiter, "delimiter")?,
            byte(self.quote, "quote")?,
        );
        if delimiter == quote {
            return Err(ConnectorError::Config {
                connector: "csv format",
                message: format!("delimiter and quote are both {:?}", self.quote),
            });
        }
        Ok((delimiter, quote))
    }
}

/// Decodes CSV lines into rows of the configured columns.
pub struct CsvDecoder {
    schema: SchemaRef,
    delimiter: u8,
    quote: u8,
    max_record_bytes: usize,
}

impl CsvDecoder {
    /// Fails if the columns or separators are invalid.
    pub fn new(config: &CsvConfig, max_record_bytes: usize) -> Result<Self> {
        let (delimiter, quote) = config.separators()?;
        Ok(Self {
            schema: schema_of(&config.columns)?,
            delimiter,
            quote,
            max_record_bytes,
        })
    }

    /// The quoted field starting at `start` (at its opening quote): its text and where it
    /// ends (after its closing quote); `None` if the line ends first.
    fn quoted<'a>(&self, text: &'a str, start: usize) -> Option<(Cow<'a, str>, usize)> {
        let bytes = text.as_bytes();
        let mut doubled = false;
        let mut i = start + 1;
        loop {
            let close = i + bytes.get(i..)?.iter().position(|&b| b == self.quote)?;
            if bytes.get(close + 1) == Some(&self.quote) {
                doubled = true;
                i = close + 2;
                continue;
            }
            let inner = &text[start + 1..close];
            let value = if doubled {
                let quote = char::from(self.quote);
                Cow::Owned(inner.replace(&format!("{quote}{quote}"), &quote.to_string()))
            } else {
                Cow::Borrowed(inner)
            };
            return Some((value, close + 1));
        }
    }
}

impl TextParser for CsvDecoder {
    fn schema(&self) -> &SchemaRef {
        &self.schema
    }

    fn max_record_bytes(&self) -> usize {
        self.max_record_bytes
    }

    fn parse<'a>(&mut self, text: &'a str, row: &mut Vec<Value<'a>>) -> Result<(), String> {
        let fields = self.schema.fields();
        let bytes = text.as_bytes();
        let mut start = 0;
        let mut count = 0;
        loop {
            let name = || {
                fields.get(count).map_or_else(
                    || format!("field {}", count + 1),
                    |f| format!("column '{}'", f.name()),
                )
            };
            let (value, quoted, end) = if bytes.get(start) == Some(&self.quote) {
                let (value, end) = self.quoted(text, start).ok_or_else(|| {
                    format!("{}: quoted field is not closed (truncated line?)", name())
                })?;
                if end < bytes.len() && bytes[end] != self.delimiter {
                    return Err(format!("{}: text after the closing quote", name()));
                }
                (value, true, end)
            } else {
                let end = bytes[start..]
                    .iter()
                    .position(|&b| b == self.delimiter)
                    .map_or(bytes.len(), |p| start + p);
                (Cow::Borrowed(&text[start..end]), false, end)
            };
            if let Some(field) = fields.get(count) {
                row.push(if value.is_empty() && !quoted && field.is_nullable() {
                    Value::Null
                } else {
                    typed(field, value).map_err(|why| format!("{}: {why}", name()))?
                });
            }
            count += 1;
            if end >= bytes.len() {
                break;
            }
            start = end + 1;
        }
        if count != fields.len() {
            return Err(format!("expected {} fields, found {count}", fields.len()));
        }
        Ok(())
    }
}
