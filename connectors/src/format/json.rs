//! JSON records (one object per record) into Arrow rows with a given schema.
//!
//! The records of a read are decoded together; only if that fails, or yields another
//! number of rows than records (a record holding two values, or a truncated one that
//! merges with the next), are they decoded one by one to find the bad ones. Every record
//! is scanned for its nesting first: one nesting deeper than
//! [`MAX_DEPTH`](super::json_depth::MAX_DEPTH) is refused unparsed, and records are only
//! decoded together when each is balanced, so no input nests deeper in the parser.
//! Required (non-nullable) fields are decoded as nullable and checked afterwards, so a
//! record without one is refused naming the field.

use std::sync::Arc;

use arrow::array::Array;
use arrow::compute::concat_batches;
use arrow::datatypes::{Schema, SchemaRef};
use arrow::error::ArrowError;
use arrow::json::reader::{Decoder as ArrowDecoder, ReaderBuilder};
use arrow::record_batch::RecordBatch;

use super::dead_letter::{DeadLetters, KEEP_BYTES};
use super::json_depth::{nesting, too_deep, Nesting};
use super::text::too_long;
use super::{Decoded, Decoder};
use crate::error::Result;

/// Decodes JSON objects into rows of `schema`.
pub struct JsonDecoder {
    schema: SchemaRef,
    /// `schema` with every field nullable, for Arrow's decoder; rows are checked for
    /// nulls in required fields before they take `schema`.
    lenient: SchemaRef,
    max_record_bytes: usize,
}

impl JsonDecoder {
    pub fn new(schema: SchemaRef, max_record_bytes: usize) -> Self {
        let lenient = Schema::new(
            schema
                .fields()
                .iter()
                .map(|f| f.as_ref().clone().with_nullable(true))
                .collect::<Vec<_>>(),
        );
        Self {
            schema,
            lenient: Arc::new(lenient),
            max_record_bytes,
        }
    }

    fn arrow_decoder(&self, rows: usize) -> Result<ArrowDecoder> {
        Ok(ReaderBuilder::new(self.lenient.clone())
            .with_batch_size(rows.max(1))
            .build_decoder()?)
    }

    /// The first required field that is null in some row of `batch` (of `lenient`).
    fn missing_required(&self, batch: &RecordBatch) -> Option<&str> {
        self.schema
            .fields()
            .iter()
            .zip(batch.columns())
            .find(|(field, column)| !field.is_nullable() && column.null_count() > 0)
            .map(|(field, _)| field.name().as_str())
    }

    /// `batch` (of `lenient`) with `schema`, once no required field is null in it.
    fn strict(&self, batch: RecordBatch) -> Result<RecordBatch> {
        Ok(RecordBatch::try_new(
            self.schema.clone(),
            batch.columns().to_vec(),
        )?)
    }

    /// All records at once; `None` if any of them is not exactly one valid, balanced
    /// value with every required field.
    fn decode_together(&self, records: &[&[u8]]) -> Result<Option<RecordBatch>> {
        let mut decoder = self.arrow_decoder(records.len())?;
        for record in records {
            if record.len() > self.max_record_bytes
                || nesting(record) != Nesting::Balanced
                || !feed(&mut decoder, record)
            {
                return Ok(None);
            }
        }
        match decoder.flush() {
            Ok(Some(batch))
                if batch.num_rows() == records.len() && self.missing_required(&batch).is_none() =>
            {
                Ok(Some(self.strict(batch)?))
            }
            Ok(None) if records.is_empty() => Ok(Some(RecordBatch::new_empty(self.schema.clone()))),
            _ => Ok(None),
        }
    }

    /// One record: its row, or why it is refused.
    fn decode_one(&self, record: &[u8]) -> Result<Result<RecordBatch, String>> {
        if record.len() > self.max_record_bytes {
            return Ok(Err(too_long(record.len(), self.max_record_bytes)));
        }
        if record.iter().all(u8::is_ascii_whitespace) {
            return Ok(Err("empty record".into()));
        }
        if let Err(e) = std::str::from_utf8(record) {
            return Ok(Err(format!("invalid UTF-8 at byte {}", e.valid_up_to())));
        }
        if let Nesting::TooDeep(at) = nesting(record) {
            return Ok(Err(too_deep(at)));
        }
        let mut decoder = self.arrow_decoder(2)?;
        if let Err(e) = decoder.decode(record) {
            return Ok(Err(invalid(e)));
        }
        Ok(match decoder.flush() {
            Err(e) => Err(invalid(e)),
            Ok(Some(batch)) if batch.num_rows() == 1 => match self.missing_required(&batch) {
                Some(name) => Err(format!("required field '{name}' is missing or null")),
                None => Ok(self.strict(batch)?),
            },
            Ok(None) => Err("empty record".into()),
            Ok(Some(batch)) => Err(format!(
                "the record holds {} JSON values, expected one",
                batch.num_rows()
            )),
        })
    }
}

/// The reason a record is refused, without Arrow's error-kind prefix.
fn invalid(error: ArrowError) -> String {
    match error {
        ArrowError::JsonError(message) => format!("invalid JSON: {message}"),
        other => format!("invalid JSON: {other}"),
    }
}

/// Feeds one record to the decoder; false if it fails.
fn feed(decoder: &mut ArrowDecoder, record: &[u8]) -> bool {
    let mut rest = record;
    while !rest.is_empty() {
        match decoder.decode(rest) {
            Ok(0) | Err(_) => return false,
            Ok(n) => rest = &rest[n..],
        }
    }
    // Records are separate values even when nothing separates their bytes.
    decoder.decode(b"\n").is_ok()
}

/// Once a read holds a bad record, its records are decoded together in runs of at most
/// this many; a run that fails is halved until its bad records stand alone. Decoding every
/// record alone instead costs a decoder and a one-row batch per record: with 1% bad lines
/// nearly every read holds one, and that made the JSON pipeline several times slower.
const RUN: usize = 32;

/// The rows decoded so far from one read, and the index of each among the read's records.
#[derive(Default)]
struct Rows {
    batches: Vec<RecordBatch>,
    kept: Vec<u32>,
}

impl JsonDecoder {
    /// Decodes `records` (the read's records from index `first` on) into `rows`, halving
    /// the run while it holds a bad record; bad records go to `dead`.
    fn decode_run(
        &self,
        records: &[&[u8]],
        first: usize,
        origin: &dyn Fn(usize) -> String,
        dead: &mut DeadLetters,
        rows: &mut Rows,
    ) -> Result<()> {
        if let [record] = records {
            match self.decode_one(record)? {
                Ok(row) => {
                    rows.batches.push(row);
                    rows.kept.push(first as u32);
                }
                Err(reason) => dead.push(record, KEEP_BYTES, &origin(first), &reason),
            }
            return Ok(());
        }
        if let Some(batch) = self.decode_together(records)? {
            rows.batches.push(batch);
            rows.kept
                .extend((first..first + records.len()).map(|i| i as u32));
            return Ok(());
        }
        let (left, right) = records.split_at(records.len() / 2);
        self.decode_run(left, first, origin, dead, rows)?;
        self.decode_run(right, first + left.len(), origin, dead, rows)
    }
}

impl Decoder for JsonDecoder {
    fn decode(
        &mut self,
        records: &[&[u8]],
        origin: &dyn Fn(usize) -> String,
        dead: &mut DeadLetters,
    ) -> Result<Decoded> {
        if let Some(batch) = self.decode_together(records)? {
            return Ok(Decoded { batch, kept: None });
        }
        let mut rows = Rows::default();
        for (run, chunk) in records.chunks(RUN).enumerate() {
            self.decode_run(chunk, run * RUN, origin, dead, &mut rows)?;
        }
        Ok(Decoded {
            batch: concat_batches(&self.schema, &rows.batches)?,
            kept: Some(rows.kept),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::format::schema::{schema_of, ColumnSpec};
    use arrow::util::pretty::pretty_format_batches;

    fn decoder() -> JsonDecoder {
        let schema = schema_of(&[
            ColumnSpec::new("service", "string"),
            ColumnSpec {
                nullable: false,
                ..ColumnSpec::new("latency_ms", "int64")
            },
            ColumnSpec::new("at", "timestamp"),
        ])
        .unwrap();
        JsonDecoder::new(schema, 200)
    }

    fn run(records: &[&[u8]]) -> (String, Vec<(String, String)>) {
        let mut dead = DeadLetters::default();
        let decoded = decoder()
            .decode(records, &|i| format!("test:{}", i + 1), &mut dead)
            .unwrap();
        let table = pretty_format_batches(&[decoded.batch]).unwrap().to_string();
        let letters = dead.finish().unwrap();
        let mut refused = Vec::new();
        if let Some(b) = letters {
            use arrow::array::AsArray;
            for r in 0..b.num_rows() {
                refused.push((
                    b.column(1).as_string::<i32>().value(r).to_string(),
                    b.column(2).as_string::<i32>().value(r).to_string(),
                ));
            }
        }
        (table, refused)
    }

    #[test]
    fn good_records_decode_together() {
        let (table, refused) = run(&[
            br#"{"service":"api","latency_ms":12,"at":"2026-01-01T00:00:00Z","extra":1}"#,
            br#"{"latency_ms":7,"at":1767225600123}"#,
        ]);
        assert_eq!(
            table,
            "+---------+------------+--------------------------+\n\
             | service | latency_ms | at                       |\n\
             +---------+------------+--------------------------+\n\
             | api     | 12         | 2026-01-01T00:00:00Z     |\n\
             |         | 7          | 2026-01-01T00:00:00.123Z |\n\
             +---------+------------+--------------------------+"
        );
        assert!(refused.is_empty());
    }

    #[test]
    fn bad_records_become_dead_letters_with_origin_and_reason() {
        let long = format!(r#"{{"latency_ms":1,"service":"{}"}}"#, "x".repeat(300));
        let (table, refused) = run(&[
            br#"{"service":"a","latency_ms":1}"#,
            br#"{"service":"b","latency_ms":"#,
            b"",
            br#"{"service":"c"}"#,
            b"\xff\xfe{}",
            br#"{"latency_ms":2}{"latency_ms":3}"#,
            long.as_bytes(),
            br#"{"service":"d","latency_ms":"slow"}"#,
            br#"{"service":"e","latency_ms":5}"#,
        ]);
        assert_eq!(
            table,
            "+---------+------------+----+\n\
             | service | latency_ms | at |\n\
             +---------+------------+----+\n\
             | a       | 1          |    |\n\
             | e       | 5          |    |\n\
             +---------+------------+----+"
        );
        let origins: Vec<&str> = refused.iter().map(|r| r.0.as_str()).collect();
        assert_eq!(
            origins,
            ["test:2", "test:3", "test:4", "test:5", "test:6", "test:7", "test:8"]
        );
        let reasons: Vec<&str> = refused.iter().map(|r| r.1.as_str()).collect();
        assert_eq!(
            reasons[0],
            "invalid JSON: Truncated record whilst reading value"
        );
        assert_eq!(reasons[1], "empty record");
        assert_eq!(reasons[2], "required field 'latency_ms' is missing or null");
        assert_eq!(reasons[3], "invalid UTF-8 at byte 0");
        assert_eq!(reasons[4], "the record holds 2 JSON values, expected one");
        assert_eq!(
            reasons[5],
            "record of 329 bytes is longer than the maximum of 200 bytes"
        );
        assert!(
            reasons[6].starts_with("invalid JSON: ") && reasons[6].contains("slow"),
            "{}",
            reasons[6]
        );
    }

    #[test]
    fn bad_records_among_many_good_ones_are_found_in_runs() {
        let records: Vec<Vec<u8>> = (0..100)
            .map(|i| match i {
                0 | 37 | 99 => format!(r#"{{"service":"s{i}","latency_ms":"#).into_bytes(),
                64 => br#"{"service":"wrong","latency_ms":"slow"}"#.to_vec(),
                _ => format!(r#"{{"service":"s{i}","latency_ms":{i}}}"#).into_bytes(),
            })
            .collect();
        let slices: Vec<&[u8]> = records.iter().map(Vec::as_slice).collect();
        let mut dead = DeadLetters::default();
        let decoded = decoder()
            .decode(&slices, &|i| format!("test:{}", i + 1), &mut dead)
            .unwrap();
        let expected: Vec<u32> = (0..100).filter(|i| ![0, 37, 64, 99].contains(i)).collect();
        assert_eq!(decoded.kept, Some(expected.clone()));
        use arrow::array::AsArray;
        let latencies = decoded
            .batch
            .column(1)
            .as_primitive::<arrow::datatypes::Int64Type>();
        let got: Vec<i64> = latencies.iter().map(Option::unwrap).collect();
        assert_eq!(got, expected.iter().map(|&i| i as i64).collect::<Vec<_>>());
        let letters = dead.finish().unwrap().unwrap();
        let origins: Vec<&str> = letters
            .column(1)
            .as_string::<i32>()
            .iter()
            .map(Option::unwrap)
            .collect();
        assert_eq!(origins, ["test:1", "test:38", "test:65", "test:100"]);
    }
}
