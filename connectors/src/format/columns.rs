//! Typed Arrow columns filled one row at a time from parsed text, shared by the text
//! formats (CSV, lines, syslog, access logs, regex).
//!
//! A parser turns a record into a row of [`Value`]s (borrowing the record's text where it
//! can), and only a record that parsed completely is appended, so a refused record never
//! leaves a partial row behind.

use std::borrow::Cow;
use std::sync::Arc;

use arrow::array::{
    ArrayRef, BinaryBuilder, BooleanBuilder, Date32Builder, Float32Builder, Float64Builder,
    Int32Builder, Int64Builder, StringBuilder, TimestampMillisecondBuilder,
};
use arrow::compute::kernels::cast_utils::{string_to_datetime, Parser};
use arrow::datatypes::{
    DataType, Date32Type, Field, Float32Type, Float64Type, Int32Type, Int64Type, SchemaRef,
};
use arrow::record_batch::RecordBatch;
use chrono::Utc;

use crate::error::{ConnectorError, Result};

/// One parsed field; its variant matches the Arrow type of its column.
#[derive(Debug, Clone, PartialEq)]
pub enum Value<'a> {
    Null,
    /// For `Utf8` and `Binary` columns (binary columns take the text's bytes).
    Text(Cow<'a, str>),
    Int32(i32),
    Int64(i64),
    Float32(f32),
    Float64(f64),
    Boolean(bool),
    /// Milliseconds since the epoch, UTC.
    Millis(i64),
    /// Days since the epoch.
    Days(i32),
}

/// Parses `text` as a value of `field`'s type; the reason says what the text is not
/// (the caller names the column).
pub fn typed<'a>(field: &Field, text: Cow<'a, str>) -> std::result::Result<Value<'a>, String> {
    let parsed = match field.data_type() {
        DataType::Utf8 | DataType::Binary => return Ok(Value::Text(text)),
        DataType::Int32 => Int32Type::parse(&text).map(Value::Int32),
        DataType::Int64 => Int64Type::parse(&text).map(Value::Int64),
        DataType::Float32 => Float32Type::parse(&text).map(Value::Float32),
        DataType::Float64 => Float64Type::parse(&text).map(Value::Float64),
        DataType::Boolean => boolean(&text).map(Value::Boolean),
        DataType::Timestamp(..) => millis(&text).map(Value::Millis),
        DataType::Date32 => Date32Type::parse(&text).map(Value::Days),
        _ => None,
    };
    parsed.ok_or_else(|| {
        format!(
            "{} is not {}",
            shown(&text),
            article_type(field.data_type())
        )
    })
}

/// `true`/`false` in any case.
fn boolean(text: &str) -> Option<bool> {
    if text.eq_ignore_ascii_case("true") {
        Some(true)
    } else if text.eq_ignore_ascii_case("false") {
        Some(false)
    } else {
        None
    }
}

/// Epoch milliseconds (an integer) or an RFC 3339 / ISO 8601 date-time; one without an
/// offset is UTC.
fn millis(text: &str) -> Option<i64> {
    if let Some(ms) = Int64Type::parse(text) {
        return Some(ms);
    }
    string_to_datetime(&Utc, text)
        .ok()
        .map(|t| t.timestamp_millis())
}

fn article_type(data_type: &DataType) -> &'static str {
    match data_type {
        DataType::Int32 => "an int32",
        DataType::Int64 => "an int64",
        DataType::Float32 => "a float32",
        DataType::Float64 => "a float64",
        DataType::Boolean => "a boolean (true or false)",
        DataType::Timestamp(..) => "a timestamp (RFC 3339 or epoch milliseconds)",
        DataType::Date32 => "a date (YYYY-MM-DD)",
        _ => "of a supported type",
    }
}

/// How much of a value a reason quotes.
const SHOWN_CHARS: usize = 80;

/// `text` quoted for a reason; one longer than [`SHOWN_CHARS`] characters is cut there and
/// followed by its length: `'abc…' (N bytes)`.
pub fn shown(text: &str) -> String {
    match text.char_indices().nth(SHOWN_CHARS) {
        Some((cut, _)) => format!("'{}…' ({} bytes)", &text[..cut], text.len()),
        None => format!("'{text}'"),
    }
}

/// One builder per column of a schema.
pub struct Columns {
    schema: SchemaRef,
    builders: Vec<Builder>,
}

enum Builder {
    Utf8(StringBuilder),
    Binary(BinaryBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float32(Float32Builder),
    Float64(Float64Builder),
    Boolean(BooleanBuilder),
    Timestamp(TimestampMillisecondBuilder),
    Date32(Date32Builder),
}

impl Columns {
    /// Builders for `rows` rows of `schema`, whose types must be ones
    /// [`schema::data_type`](super::schema::data_type) names.
    pub fn new(schema: &SchemaRef, rows: usize) -> Result<Self> {
        let builders = schema
            .fields()
            .iter()
            .map(|f| {
                Ok(match f.data_type() {
                    DataType::Utf8 => Builder::Utf8(StringBuilder::with_capacity(rows, rows * 16)),
                    DataType::Binary => {
                        Builder::Binary(BinaryBuilder::with_capacity(rows, rows * 16))
                    }
                    DataType::Int32 => Builder::Int32(Int32Builder::with_capacity(rows)),
                    DataType::Int64 => Builder::Int64(Int64Builder::with_capacity(rows)),
                    DataType::Float32 => Builder::Float32(Float32Builder::with_capacity(rows)),
                    DataType::Float64 => Builder::Float64(Float64Builder::with_capacity(rows)),
                    DataType::Boolean => Builder::Boolean(BooleanBuilder::with_capacity(rows)),
                    DataType::Timestamp(_, tz) => Builder::Timestamp(
                        TimestampMillisecondBuilder::with_capacity(rows)
                            .with_timezone_opt(tz.clone()),
                    ),
                    DataType::Date32 => Builder::Date32(Date32Builder::with_capacity(rows)),
                    other => {
                        return Err(ConnectorError::Config {
                            connector: "format",
                            message: format!(
                                "column '{}' has type {other}, which text formats cannot fill",
                                f.name()
                            ),
                        })
                    }
                })
            })
            .collect::<Result<_>>()?;
        Ok(Self {
            schema: schema.clone(),
            builders,
        })
    }

    /// Appends one row. Each value must match its column's type (a parser's invariant); a
    /// value that does not, or a missing one, is appended as null.
    pub fn push(&mut self, row: &[Value<'_>]) {
        debug_assert_eq!(row.len(), self.builders.len());
        for (i, builder) in self.builders.iter_mut().enumerate() {
            let value = row.get(i).unwrap_or(&Value::Null);
            match (builder, value) {
                (Builder::Utf8(b), Value::Text(t)) => b.append_value(t),
                (Builder::Binary(b), Value::Text(t)) => b.append_value(t.as_bytes()),
                (Builder::Int32(b), Value::Int32(v)) => b.append_value(*v),
                (Builder::Int64(b), Value::Int64(v)) => b.append_value(*v),
                (Builder::Float32(b), Value::Float32(v)) => b.append_value(*v),
                (Builder::Float64(b), Value::Float64(v)) => b.append_value(*v),
                (Builder::Boolean(b), Value::Boolean(v)) => b.append_value(*v),
                (Builder::Timestamp(b), Value::Millis(v)) => b.append_value(*v),
                (Builder::Date32(b), Value::Days(v)) => b.append_value(*v),
                (builder, value) => {
                    debug_assert_eq!(value, &Value::Null, "value of another type");
                    builder.append_null();
                }
            }
        }
    }

    /// The rows pushed so far as a batch; the builders start over empty.
    pub fn finish(&mut self) -> Result<RecordBatch> {
        let arrays: Vec<ArrayRef> = self.builders.iter_mut().map(Builder::finish).collect();
        Ok(RecordBatch::try_new(self.schema.clone(), arrays)?)
    }
}

impl Builder {
    fn append_null(&mut self) {
        match self {
            Builder::Utf8(b) => b.append_null(),
            Builder::Binary(b) => b.append_null(),
            Builder::Int32(b) => b.append_null(),
            Builder::Int64(b) => b.append_null(),
            Builder::Float32(b) => b.append_null(),
            Builder::Float64(b) => b.append_null(),
            Builder::Boolean(b) => b.append_null(),
            Builder::Timestamp(b) => b.append_null(),
            Builder::Date32(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            Builder::Utf8(b) => Arc::new(b.finish()),
            Builder::Binary(b) => Arc::new(b.finish()),
            Builder::Int32(b) => Arc::new(b.finish()),
            Builder::Int64(b) => Arc::new(b.finish()),
            Builder::Float32(b) => Arc::new(b.finish()),
            Builder::Float64(b) => Arc::new(b.finish()),
            Builder::Boolean(b) => Arc::new(b.finish()),
            Builder::Timestamp(b) => Arc::new(b.finish()),
            Builder::Date32(b) => Arc::new(b.finish()),
        }
    }
}
