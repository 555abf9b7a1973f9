//! Rows into CSV records, the reverse of the CSV decoder.

use arrow::array::{Array, AsArray};
use arrow::datatypes::{DataType, Schema};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::csv::CsvConfig;
use super::Encoder;
use crate::error::Result;

/// Writes each row as one CSV record: null as an empty field, the empty string as `""`,
/// binary values as their bytes, other values as Arrow displays them (timestamps in RFC
/// 3339). A field holding the delimiter, the quote or a line end is quoted; one holding a
/// line end no longer fits on one line of a file. A row of one null column is an empty
/// record, which the decoder refuses.
#[derive(Debug)]
pub struct CsvEncoder {
    delimiter: u8,
    quote: u8,
}

impl CsvEncoder {
    /// Fails if the separators are invalid (see [`CsvConfig`]).
    pub fn new(config: &CsvConfig) -> Result<Self> {
        let (delimiter, quote) = config.separators()?;
        Ok(Self { delimiter, quote })
    }

    /// The header line naming the columns of `schema`.
    pub fn header(&self, schema: &Schema) -> Vec<u8> {
        let mut line = Vec::new();
        for (i, field) in schema.fields().iter().enumerate() {
            if i > 0 {
                line.push(self.delimiter);
            }
            self.field(&mut line, field.name().as_bytes(), false);
        }
        line
    }

    /// Appends `value`, quoted if it must be (or if `empty_is_value` and it is empty).
    fn field(&self, line: &mut Vec<u8>, value: &[u8], empty_is_value: bool) {
        let special =
            |b: &u8| *b == self.delimiter || *b == self.quote || *b == b'\n' || *b == b'\r';
        if !(value.iter().any(special) || (empty_is_value && value.is_empty())) {
            line.extend_from_slice(value);
            return;
        }
        line.push(self.quote);
        for &b in value {
            if b == self.quote {
                line.push(b);
            }
            line.push(b);
        }
        line.push(self.quote);
    }
}

impl Encoder for CsvEncoder {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        let options = FormatOptions::default();
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        let mut text = String::new();
        let mut records = Vec::with_capacity(batch.num_rows());
        for row in 0..batch.num_rows() {
            let mut line = Vec::new();
            for (i, column) in batch.columns().iter().enumerate() {
                if i > 0 {
                    line.push(self.delimiter);
                }
                if column.is_null(row) {
                    continue;
                }
                match column.data_type() {
                    DataType::Utf8 => self.field(
                        &mut line,
                        column.as_string::<i32>().value(row).as_bytes(),
                        true,
                    ),
                    DataType::Binary => {
                        self.field(&mut line, column.as_binary::<i32>().value(row), true)
                    }
                    _ => {
                        text.clear();
                        use std::fmt::Write;
                        write!(text, "{}", formatters[i].value(row)).map_err(|e| {
                            arrow::error::ArrowError::CastError(format!(
                                "cannot format a value: {e}"
                            ))
                        })?;
                        self.field(&mut line, text.as_bytes(), false);
                    }
                }
            }
            records.push(line);
        }
        Ok(records)
    }
}
