//! Rows into JSON records, the reverse of the JSON decoder.

use arrow::json::LineDelimitedWriter;
use arrow::record_batch::RecordBatch;

use super::Encoder;
use crate::error::Result;

/// One JSON object per row, in row order, without line ends; null values are left out
/// (the JSON decoder reads a missing field as null), timestamps are RFC 3339 strings.
pub fn encode_json_lines(batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    let mut writer = LineDelimitedWriter::new(&mut out);
    writer.write(batch)?;
    writer.finish()?;
    // Each row is one line: JSON escapes line ends inside strings.
    Ok(out
        .split(|&b| b == b'\n')
        .take(batch.num_rows())
        .map(<[u8]>::to_vec)
        .collect())
}

/// Encodes rows with [`encode_json_lines`].
#[derive(Debug, Default)]
pub struct JsonEncoder;

impl Encoder for JsonEncoder {
    fn encode(&mut self, batch: &RecordBatch) -> Result<Vec<Vec<u8>>> {
        encode_json_lines(batch)
    }
}
