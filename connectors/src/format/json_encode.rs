//! Rows into JSON records, the reverse of the JSON decoder.

use arrow::json::LineDelimitedWriter;
use arrow::record_batch::RecordBatch;

use super::Encoder;
use crate::error::Result;

/// The rows as JSON lines in one buffer: one object per row, each ended by `\n` (JSON
/// escapes line ends inside strings, so lines are rows); null values are left out (the
/// JSON decoder reads a missing field as null), timestamps are RFC 3339 strings.
pub fn json_lines(batch: &RecordBatch) -> Result<Vec<u8>> {
    let mut writer = LineDelimitedWriter::new(Vec::new());
    writer.write(batch)?;
    writer.finish()?;
    Ok(writer.into_inner())
}

/// The rows of [`json_lines`] one by one, without line ends.
pub fn json_rows(lines: &[u8]) -> impl Iterator<Item = &[u8]> {
    lines.split(|&b| b == b'\n').filter(|line| !line.is_empty())
}

/// One JSON object per row, in row order, without line ends (see [`json_lines`]).
pub fn encode_json_lines(batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
    Ok(json_rows(&json_lines(batch)?).map(<[u8]>::to_vec).collect())
}

/// Encodes rows with [`encode_json_lines`].
#[derive(Debug, Default)]
pub struct JsonEncoder;

impl Encoder for JsonEncoder {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        encode_json_lines(batch)
    }
}
