//! Writing a statement's result in one of `--format`'s formats as its batches come: each
//! batch is written when it arrives, so what a [`Printer`] holds is bounded by a batch (by
//! the first rows for the table format, by a row group for Parquet), not by the result.
//! Nothing is written before the first rows or the end (the CSV header comes with the
//! first rows), so a statement cancelled or failing before its first rows writes nothing.

use std::io::Write;
use std::sync::Arc;

use anyhow::Result;
use arrow::array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use arrow::json::writer::LineDelimited;
use arrow::util::display::{ArrayFormatter, FormatOptions};
use parquet::arrow::ArrowWriter;

use super::table::TableWriter;
use super::Format;

/// Where results are written.
pub type Out = Box<dyn Write + Send>;

/// One statement's result on its way out.
pub enum Printer {
    /// A result without columns (`SET`): nothing to write.
    Nothing(Out),
    Table(TableWriter),
    /// CSV, whose writer writes the header with the first batch; `header` is the empty
    /// batch written at the end if no other was.
    Csv {
        writer: Box<arrow::csv::Writer<Out>>,
        header: Option<RecordBatch>,
    },
    Json(arrow::json::Writer<Out, LineDelimited>),
    Parquet(Box<ArrowWriter<Out>>),
}

impl Printer {
    /// Starts a result of `schema` in `format`; the table format sizes its columns by the
    /// first `table_rows` rows (at least 1) and fits the table in `fit_width` if given.
    pub fn new(
        out: Out,
        schema: &SchemaRef,
        format: Format,
        table_rows: usize,
        fit_width: Option<usize>,
    ) -> Result<Self> {
        Ok(match format {
            _ if schema.fields().is_empty() && format != Format::Parquet => Printer::Nothing(out),
            Format::Table => Printer::Table(TableWriter::new(out, schema, table_rows, fit_width)),
            Format::Csv => Printer::Csv {
                writer: Box::new(
                    arrow::csv::WriterBuilder::new()
                        .with_header(true)
                        .build(out),
                ),
                header: Some(flatten_nested(&RecordBatch::new_empty(schema.clone()))?),
            },
            Format::Json => Printer::Json(
                arrow::json::WriterBuilder::new()
                    .with_explicit_nulls(true)
                    .build(out),
            ),
            Format::Parquet => {
                Printer::Parquet(Box::new(ArrowWriter::try_new(out, schema.clone(), None)?))
            }
        })
    }

    /// Writes `batch`'s rows.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        match self {
            Printer::Nothing(_) => {}
            Printer::Table(table) => table.write(batch)?,
            Printer::Csv { writer, header } => {
                writer.write(&flatten_nested(batch)?)?;
                *header = None;
            }
            Printer::Json(writer) => writer.write(batch)?,
            Printer::Parquet(writer) => writer.write(batch)?,
        }
        Ok(())
    }

    /// Ends the result (the table's last border, the Parquet footer), flushes it and hands
    /// the output back for the next statement.
    pub fn finish(self) -> Result<Out> {
        let mut out = match self {
            Printer::Nothing(out) => out,
            Printer::Table(table) => table.finish()?,
            Printer::Csv { mut writer, header } => {
                // An empty result still names its columns.
                if let Some(header) = header {
                    writer.write(&header)?;
                }
                writer.into_inner()
            }
            Printer::Json(mut writer) => {
                writer.finish()?;
                writer.into_inner()
            }
            Printer::Parquet(writer) => writer.into_inner()?,
        };
        out.flush()?;
        Ok(out)
    }
}

/// The batch with lists, structs and maps as text (as the table format shows them), which
/// CSV cannot hold otherwise.
fn flatten_nested(batch: &RecordBatch) -> Result<RecordBatch> {
    if !batch.columns().iter().any(|c| c.data_type().is_nested()) {
        return Ok(batch.clone());
    }
    let options = FormatOptions::default();
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in batch.schema().fields().iter().zip(batch.columns()) {
        if column.data_type().is_nested() {
            let formatter = ArrayFormatter::try_new(column.as_ref(), &options)?;
            let text: StringArray = (0..column.len())
                .map(|i| column.is_valid(i).then(|| formatter.value(i).to_string()))
                .collect();
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(Arc::new(text));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(column.clone());
        }
    }
    Ok(RecordBatch::try_new(
        Arc::new(Schema::new(fields)),
        columns,
    )?)
}
