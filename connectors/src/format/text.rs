//! The loop every text format shares: check each record (length, UTF-8, not blank), parse
//! it into a row, and append the row or refuse the record with the parser's reason.
//! Records are parsed one by one but rows go straight into column builders.

use arrow::datatypes::SchemaRef;

use super::columns::{Columns, Value};
use super::dead_letter::{DeadLetters, KEEP_BYTES};
use super::{Decoded, Decoder};
use crate::error::Result;

/// Parses the text of one record into a row; every text parser is a [`Decoder`].
pub trait TextParser: Send {
    /// The schema of the rows.
    fn schema(&self) -> &SchemaRef;

    /// Records longer than this are refused unread.
    fn max_record_bytes(&self) -> usize;

    /// Fills `row` (given empty) with one value per column of the schema, each of its
    /// column's type; or says why the record is refused, naming the field and value.
    fn parse<'a>(&mut self, text: &'a str, row: &mut Vec<Value<'a>>) -> Result<(), String>;
}

impl<P: TextParser> Decoder for P {
    /// Refused records become dead letters with `origin(i)` and the reason; `kept` lists
    /// the others when any was refused.
    fn decode(
        &mut self,
        records: &[&[u8]],
        origin: &dyn Fn(usize) -> String,
        dead: &mut DeadLetters,
    ) -> Result<Decoded> {
        let schema = self.schema().clone();
        let max_record_bytes = self.max_record_bytes();
        let mut columns = Columns::new(&schema, records.len())?;
        let mut row = Vec::with_capacity(schema.fields().len());
        let mut kept = Vec::with_capacity(records.len());
        for (i, record) in records.iter().enumerate() {
            row.clear();
            match text_of(record, max_record_bytes).and_then(|text| self.parse(text, &mut row)) {
                Ok(()) => {
                    columns.push(&row);
                    kept.push(i as u32);
                }
                Err(reason) => dead.push(record, KEEP_BYTES, &origin(i), &reason),
            }
        }
        Ok(Decoded {
            batch: columns.finish()?,
            kept: (kept.len() < records.len()).then_some(kept),
        })
    }
}

/// Why a record longer than `max` bytes is refused.
pub fn too_long(len: usize, max: usize) -> String {
    format!("record of {len} bytes is longer than the maximum of {max} bytes")
}

/// The text of a record, or why it is refused: longer than `max_bytes` (checked before
/// anything else reads it), not UTF-8, or blank. A trailing CR (from CRLF line ends) is
/// not part of the text.
pub fn text_of(record: &[u8], max_bytes: usize) -> Result<&str, String> {
    if record.len() > max_bytes {
        return Err(too_long(record.len(), max_bytes));
    }
    let record = record.strip_suffix(b"\r").unwrap_or(record);
    let text = std::str::from_utf8(record)
        .map_err(|e| format!("invalid UTF-8 at byte {}", e.valid_up_to()))?;
    if text.trim_ascii().is_empty() {
        return Err("empty record".into());
    }
    Ok(text)
}

/// The month (1 to 12) an English abbreviation like `Oct` names.
pub fn month(name: &[u8]) -> Option<u32> {
    const MONTHS: [&[u8]; 12] = [
        b"Jan", b"Feb", b"Mar", b"Apr", b"May", b"Jun", b"Jul", b"Aug", b"Sep", b"Oct", b"Nov",
        b"Dec",
    ];
    MONTHS.iter().position(|m| *m == name).map(|i| i as u32 + 1)
}
