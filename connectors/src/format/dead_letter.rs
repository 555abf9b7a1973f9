//! Dead letters: records a source could not decode, kept with where they came from and
//! why, instead of stopping the job or disappearing.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{BinaryBuilder, StringBuilder, TimestampMillisecondArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use arrow::record_batch::RecordBatch;

use crate::error::Result;

/// How much of a refused record is kept in its dead letter.
pub const KEEP_BYTES: usize = 64 * 1024;

/// The longest reason kept, in characters. A decoder quotes at most a short part of a bad
/// value; this bounds reasons whose parser quotes more (a whole nested JSON value).
pub const REASON_CHARS: usize = 300;

/// `raw: Binary, origin: Utf8, reason: Utf8, time: Timestamp(ms, UTC)`: the record's bytes
/// (cut to the configured maximum), where it came from (`topic/partition/offset` or
/// `file:line`), why it was refused, and when.
pub fn dead_letter_schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("raw", DataType::Binary, false),
        Field::new("origin", DataType::Utf8, false),
        Field::new("reason", DataType::Utf8, false),
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Millisecond, Some("UTC".into())),
            false,
        ),
    ]))
}

/// Collects dead letters of one read.
#[derive(Debug, Default)]
pub struct DeadLetters {
    raw: BinaryBuilder,
    origin: StringBuilder,
    reason: StringBuilder,
    rows: usize,
}

impl DeadLetters {
    /// Adds one refused record; `raw` is kept up to `keep_bytes`, `reason` up to
    /// [`REASON_CHARS`] characters (see [`cut`]).
    pub fn push(&mut self, raw: &[u8], keep_bytes: usize, origin: &str, reason: &str) {
        self.raw.append_value(&raw[..raw.len().min(keep_bytes)]);
        self.origin.append_value(origin);
        self.reason.append_value(cut(reason, REASON_CHARS));
        self.rows += 1;
    }

    /// How many records were refused.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no record was refused.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// The dead letters as a batch, stamped with the current time; `None` when empty.
    pub fn finish(&mut self) -> Result<Option<RecordBatch>> {
        if self.rows == 0 {
            return Ok(None);
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        let rows = std::mem::take(&mut self.rows);
        let batch = RecordBatch::try_new(
            dead_letter_schema(),
            vec![
                Arc::new(self.raw.finish()),
                Arc::new(self.origin.finish()),
                Arc::new(self.reason.finish()),
                Arc::new(TimestampMillisecondArray::from_value(now, rows).with_timezone("UTC")),
            ],
        )?;
        Ok(Some(batch))
    }
}

/// `text` if it has at most `chars` characters, else its first `chars` characters followed
/// by `… (N bytes)`, N being the length of the whole text.
pub fn cut(text: &str, chars: usize) -> Cow<'_, str> {
    match text.char_indices().nth(chars) {
        Some((at, _)) => Cow::Owned(format!("{}… ({} bytes)", &text[..at], text.len())),
        None => Cow::Borrowed(text),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_reasons_are_cut_at_a_character() {
        assert_eq!(cut("abc", 3), "abc");
        assert_eq!(cut("abcd", 3), "abc… (4 bytes)");
        assert_eq!(cut("ééé", 2), "éé… (6 bytes)");
    }
}
