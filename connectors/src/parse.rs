//! The `parse` transform: decodes a text column of each row with a format (JSON, syslog,
//! access log, regex, ...) into columns, as sources do with their records. For streams
//! whose records arrive as text inside rows: generated log lines, a raw `line` column,
//! Kafka messages read with the `lines` format.
//!
//! Output rows: the input's columns named in `keep` (default: all but the parsed one),
//! then the decoded columns. A row that does not decode goes to the `dead_letters` output
//! (`raw, origin, reason, time`), is dropped and counted, or stops the job, as
//! `on_decode_error` says. Its origin is the values of `origin_columns` joined by `/`
//! (e.g. `[kafka_topic, kafka_partition, kafka_offset]`), or else `<node>:<n>` with `n`
//! the row's number in the subtask's input since the job (re)started.

use std::sync::Arc;

use arrow::array::{Array, AsArray, UInt32Array};
use arrow::compute::{cast, take_record_batch};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::record_batch::RecordBatch;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use weir_engine::operator::MAIN_PORT;
use weir_engine::{
    Collector, EngineError, Operator, OperatorFactory, OperatorPlan, OutputPort, PlanContext,
    SubtaskInfo, DEAD_LETTER_PORT,
};

use crate::error::ConnectorError;
use crate::format::dead_letter::{dead_letter_schema, DeadLetters};
use crate::format::{DecodeErrorPolicy, Decoder, FormatConfig};

/// Settings of a `parse` transform.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ParseConfig {
    /// The text (string or binary) column to decode.
    pub column: String,
    pub format: FormatConfig,
    /// Input columns to carry over, before the decoded ones (default: all but `column`).
    #[serde(default)]
    pub keep: Option<Vec<String>>,
    /// Columns whose values, joined by `/`, say where a refused row came from.
    #[serde(default)]
    pub origin_columns: Vec<String>,
    #[serde(default)]
    pub on_decode_error: DecodeErrorPolicy,
    /// Longer values are refused like undecodable ones (default 1 MiB).
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: usize,
}

fn default_max_record_bytes() -> usize {
    1024 * 1024
}

impl OperatorFactory for ParseConfig {
    fn plan(&self, ctx: &PlanContext<'_>) -> weir_engine::Result<Arc<dyn OperatorPlan>> {
        let input = ctx.single_input()?.clone();
        let column = input.index_of(&self.column).map_err(|_| {
            EngineError::config(
                ctx.node,
                format!("column '{}' is not in the input", self.column),
            )
        })?;
        if !matches!(
            input.field(column).data_type(),
            DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View | DataType::Binary
        ) {
            return Err(EngineError::config(
                ctx.node,
                format!(
                    "column '{}' must be text or binary to parse, it is {}",
                    self.column,
                    input.field(column).data_type()
                ),
            ));
        }
        let kept: Vec<usize> = match &self.keep {
            Some(names) => names
                .iter()
                .map(|name| {
                    input.index_of(name).map_err(|_| {
                        EngineError::config(
                            ctx.node,
                            format!("kept column '{name}' is not in the input"),
                        )
                    })
                })
                .collect::<weir_engine::Result<_>>()?,
            None => (0..input.fields().len()).filter(|&i| i != column).collect(),
        };
        let origin_columns: Vec<usize> = self
            .origin_columns
            .iter()
            .map(|name| {
                input.index_of(name).map_err(|_| {
                    EngineError::config(
                        ctx.node,
                        format!("origin column '{name}' is not in the input"),
                    )
                })
            })
            .collect::<weir_engine::Result<_>>()?;
        let decoded = self.format.schema()?;
        let mut fields: Vec<Field> = kept.iter().map(|&i| input.field(i).clone()).collect();
        for field in decoded.fields() {
            if fields.iter().any(|f| f.name() == field.name()) {
                return Err(EngineError::config(
                    ctx.node,
                    format!(
                        "decoded column '{}' is also a kept input column; leave it out of `keep`",
                        field.name()
                    ),
                ));
            }
            fields.push(field.as_ref().clone());
        }
        // Fail at build time on a bad format (a regex that does not compile, ...).
        self.format.decoder(self.max_record_bytes)?;
        Ok(Arc::new(ParsePlan {
            config: self.clone(),
            node: ctx.node.to_string(),
            column,
            kept,
            origin_columns,
            output: Arc::new(Schema::new(fields)),
        }))
    }
}

struct ParsePlan {
    config: ParseConfig,
    node: String,
    column: usize,
    kept: Vec<usize>,
    origin_columns: Vec<usize>,
    output: SchemaRef,
}

impl OperatorPlan for ParsePlan {
    fn outputs(&self) -> Vec<OutputPort> {
        let mut ports = vec![OutputPort {
            name: MAIN_PORT.into(),
            schema: self.output.clone(),
        }];
        if self.config.on_decode_error == DecodeErrorPolicy::DeadLetter {
            ports.push(OutputPort {
                name: DEAD_LETTER_PORT.into(),
                schema: dead_letter_schema(),
            });
        }
        ports
    }

    fn create(&self, _: &SubtaskInfo) -> weir_engine::Result<Box<dyn Operator>> {
        Ok(Box::new(Parse {
            decoder: self.config.format.decoder(self.config.max_record_bytes)?,
            policy: self.config.on_decode_error,
            node: self.node.clone(),
            column: self.column,
            kept: self.kept.clone(),
            origin_columns: self.origin_columns.clone(),
            output: self.output.clone(),
            rows_seen: 0,
            dropped: 0,
        }))
    }
}

struct Parse {
    decoder: Box<dyn Decoder>,
    policy: DecodeErrorPolicy,
    node: String,
    column: usize,
    kept: Vec<usize>,
    origin_columns: Vec<usize>,
    output: SchemaRef,
    /// Input rows this subtask has seen, to number origins.
    rows_seen: u64,
    dropped: u64,
}

#[async_trait]
impl Operator for Parse {
    async fn process_batch(
        &mut self,
        _: usize,
        batch: RecordBatch,
        out: &mut Collector,
    ) -> weir_engine::Result<()> {
        let text = batch.column(self.column);
        let binary = cast(text, &DataType::Binary)?;
        let values = binary.as_binary::<i32>();
        // A null value is an empty record: refused with a reason like a blank line.
        let records: Vec<&[u8]> = (0..values.len())
            .map(|i| {
                if values.is_null(i) {
                    &[][..]
                } else {
                    values.value(i)
                }
            })
            .collect();
        let first = self.rows_seen;
        let node = self.node.clone();
        let options = FormatOptions::default();
        let formatters = self
            .origin_columns
            .iter()
            .map(|&c| ArrayFormatter::try_new(batch.column(c).as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        let origin = move |i: usize| {
            if formatters.is_empty() {
                format!("{node}:{}", first + i as u64)
            } else {
                formatters
                    .iter()
                    .map(|f| f.value(i).to_string())
                    .collect::<Vec<_>>()
                    .join("/")
            }
        };
        let mut dead = DeadLetters::default();
        let decoded = self.decoder.decode(&records, &origin, &mut dead)?;
        self.rows_seen += batch.num_rows() as u64;
        let mut columns = Vec::with_capacity(self.output.fields().len());
        if !self.kept.is_empty() {
            let carried = batch.project(&self.kept)?;
            let carried = match &decoded.kept {
                Some(rows) => take_record_batch(&carried, &UInt32Array::from(rows.clone()))?,
                None => carried,
            };
            columns.extend(carried.columns().iter().cloned());
        }
        columns.extend(decoded.batch.columns().iter().cloned());
        let rows = RecordBatch::try_new(self.output.clone(), columns)?;
        if rows.num_rows() > 0 {
            out.emit(rows);
        }
        match self.policy {
            DecodeErrorPolicy::DeadLetter => {
                if let Some(letters) = dead.finish()? {
                    out.emit_to(1, letters);
                }
            }
            DecodeErrorPolicy::Drop => {
                if !dead.is_empty() {
                    self.dropped += dead.len() as u64;
                    tracing::warn!(node = %self.node, dropped = dead.len(), total = self.dropped, "dropped rows that did not parse");
                }
            }
            DecodeErrorPolicy::Fail => {
                if let Some(letters) = dead.finish()? {
                    return Err(ConnectorError::Decode(format!(
                        "{}: {}",
                        letters.column(1).as_string::<i32>().value(0),
                        letters.column(2).as_string::<i32>().value(0)
                    ))
                    .into());
                }
            }
        }
        Ok(())
    }
}
