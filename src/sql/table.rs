//! The table format, written as rows come: bordered, left-aligned columns as arrow's
//! pretty printer draws them. A column's width is that of its name and its values in the
//! first rows (as many as the writer is given): later rows are drawn with the same widths,
//! so a longer value widens its own row only. A value spanning lines takes as many lines.
//! Given a width to fit (a terminal's), the widest columns are narrowed until the table
//! fits, and every line of a cell longer than its column is cut, ending in `…`.

use std::io::Write;

use anyhow::Result;
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use arrow::util::display::{ArrayFormatter, FormatOptions};

use super::print::Out;

/// Draws one result as a table.
pub struct TableWriter {
    out: Out,
    /// Set once the header is written; until then, rows wait in `first`.
    widths: Option<Vec<usize>>,
    names: Vec<String>,
    /// The first rows, each a cell per column, until `sizing_rows` of them are in.
    first: Vec<Vec<String>>,
    sizing_rows: usize,
    /// The width the table must fit in, if any.
    fit: Option<usize>,
}

impl TableWriter {
    /// A table of `schema`'s columns whose widths are set by the first `sizing_rows` rows
    /// (at least 1), cut to fit in `fit` characters when given.
    pub fn new(out: Out, schema: &SchemaRef, sizing_rows: usize, fit: Option<usize>) -> Self {
        Self {
            out,
            widths: None,
            names: schema.fields().iter().map(|f| f.name().clone()).collect(),
            first: Vec::new(),
            sizing_rows: sizing_rows.max(1),
            fit,
        }
    }

    /// Writes `batch`'s rows, or keeps them until the first rows are in.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<()> {
        let options = FormatOptions::default().with_display_error(true);
        let formatters = batch
            .columns()
            .iter()
            .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
            .collect::<Result<Vec<_>, _>>()?;
        for row in 0..batch.num_rows() {
            let cells: Vec<String> = formatters
                .iter()
                .map(|f| f.value(row).to_string())
                .collect();
            match &self.widths {
                Some(widths) => draw_row(&mut self.out, widths, &cells, self.fit.is_some())?,
                None => {
                    self.first.push(cells);
                    if self.first.len() == self.sizing_rows {
                        self.start()?;
                    }
                }
            }
        }
        Ok(())
    }

    /// Draws the last border (and everything before, for a short result) and hands the
    /// output back.
    pub fn finish(mut self) -> Result<Out> {
        if self.widths.is_none() {
            self.start()?;
        }
        let widths = self.widths.as_deref().unwrap_or_default();
        writeln!(self.out, "{}", border(widths))?;
        Ok(self.out)
    }

    /// Sizes the columns by the rows so far and draws the header and those rows.
    fn start(&mut self) -> Result<()> {
        let mut widths: Vec<usize> = self.names.iter().map(|n| width(n)).collect();
        for row in &self.first {
            for (w, cell) in widths.iter_mut().zip(row) {
                *w = (*w).max(width(cell));
            }
        }
        if let Some(fit) = self.fit {
            narrow(&mut widths, fit);
        }
        let cut = self.fit.is_some();
        let line = border(&widths);
        writeln!(self.out, "{line}")?;
        draw_row(&mut self.out, &widths, &self.names, cut)?;
        writeln!(self.out, "{line}")?;
        for row in std::mem::take(&mut self.first) {
            draw_row(&mut self.out, &widths, &row, cut)?;
        }
        self.widths = Some(widths);
        Ok(())
    }
}

/// `+-----+---+`: a border under columns of these widths.
fn border(widths: &[usize]) -> String {
    let mut line = String::from("+");
    for w in widths {
        line.push_str(&"-".repeat(w + 2));
        line.push('+');
    }
    line
}

/// The narrowest a column is made to fit a table in a width.
const NARROWEST: usize = 3;

/// Narrows the widest columns, none below [`NARROWEST`], until a table of `widths` is at
/// most `fit` characters wide (or every column is as narrow as allowed).
fn narrow(widths: &mut [usize], fit: usize) {
    let drawn = |widths: &[usize]| widths.iter().map(|w| w + 3).sum::<usize>() + 1;
    while drawn(widths) > fit {
        let Some(widest) = widths.iter_mut().max().filter(|w| **w > NARROWEST) else {
            return;
        };
        *widest -= 1;
    }
}

/// `| a   | b |`, one line per line of the cell with the most; with `cut`, a line
/// longer than its column is cut to it, ending in `…`.
fn draw_row(out: &mut Out, widths: &[usize], cells: &[String], cut: bool) -> Result<()> {
    let split: Vec<Vec<&str>> = cells.iter().map(|c| c.split('\n').collect()).collect();
    let height = split.iter().map(Vec::len).max().unwrap_or(1);
    for line in 0..height {
        let mut text = String::from("|");
        for (w, cell) in widths.iter().zip(&split) {
            let part = cell.get(line).copied().unwrap_or("");
            let part = match cut && width(part) > *w {
                true => {
                    let kept: String = part.chars().take(w.saturating_sub(1)).collect();
                    format!("{kept}…")
                }
                false => part.to_string(),
            };
            text.push(' ');
            text.push_str(&part);
            text.push_str(&" ".repeat(w.saturating_sub(width(&part)) + 1));
            text.push('|');
        }
        writeln!(out, "{text}")?;
    }
    Ok(())
}

/// A cell's width: the characters of its longest line.
fn width(text: &str) -> usize {
    text.split('\n')
        .map(|l| l.chars().count())
        .max()
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use std::sync::{Arc, Mutex};

    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use arrow::util::pretty::pretty_format_batches_with_schema;

    use super::*;

    /// A `Write` whose bytes the test reads afterwards.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    fn drawn(schema: &SchemaRef, batches: &[RecordBatch], sizing_rows: usize) -> String {
        drawn_in(schema, batches, sizing_rows, None)
    }

    fn drawn_in(
        schema: &SchemaRef,
        batches: &[RecordBatch],
        sizing_rows: usize,
        fit: Option<usize>,
    ) -> String {
        let shared = Shared::default();
        let mut table = TableWriter::new(Box::new(shared.clone()), schema, sizing_rows, fit);
        for batch in batches {
            table.write(batch).unwrap();
        }
        table.finish().unwrap();
        let bytes = shared.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    fn schema() -> SchemaRef {
        Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, true),
            Field::new("name", DataType::Utf8, true),
        ]))
    }

    fn batch(ids: Vec<Option<i64>>, names: Vec<Option<&str>>) -> RecordBatch {
        RecordBatch::try_new(
            schema(),
            vec![
                Arc::new(Int64Array::from(ids)),
                Arc::new(StringArray::from(names)),
            ],
        )
        .unwrap()
    }

    #[test]
    fn a_result_within_the_first_rows_is_drawn_as_arrow_draws_it() {
        let results = [
            vec![],
            vec![batch(vec![], vec![])],
            vec![
                batch(vec![Some(1), None], vec![Some("ana"), Some("two\nlines")]),
                batch(vec![Some(12345678)], vec![None]),
            ],
        ];
        for batches in results {
            let expected = format!(
                "{}\n",
                pretty_format_batches_with_schema(schema(), &batches).unwrap()
            );
            assert_eq!(drawn(&schema(), &batches, 1000), expected);
        }
    }

    #[test]
    fn later_rows_keep_the_widths_of_the_first() {
        let batches = [
            batch(vec![Some(1)], vec![Some("ana")]),
            batch(vec![Some(22), Some(3)], vec![Some("bo"), Some("cyrille")]),
        ];
        assert_eq!(
            drawn(&schema(), &batches, 2),
            "+----+------+\n\
             | id | name |\n\
             +----+------+\n\
             | 1  | ana  |\n\
             | 22 | bo   |\n\
             | 3  | cyrille |\n\
             +----+------+\n"
        );
    }

    #[test]
    fn long_cells_are_cut_to_fit_the_width() {
        let long = "x".repeat(1000);
        let batches = [batch(
            vec![Some(1), Some(22)],
            vec![Some(&long), Some("short\nand a longer second line")],
        )];
        assert_eq!(
            drawn_in(&schema(), &batches, 10, Some(20)),
            "+----+-------------+\n\
             | id | name        |\n\
             +----+-------------+\n\
             | 1  | xxxxxxxxxx… |\n\
             | 22 | short       |\n\
             |    | and a long… |\n\
             +----+-------------+\n"
        );
        let full = drawn_in(&schema(), &batches, 10, None);
        assert!(full.contains(&long));
    }

    #[test]
    fn columns_stop_narrowing_at_three_characters() {
        let batches = [batch(vec![Some(12345)], vec![Some("abcdef")])];
        assert_eq!(
            drawn_in(&schema(), &batches, 10, Some(5)),
            "+-----+-----+\n\
             | id  | na… |\n\
             +-----+-----+\n\
             | 12… | ab… |\n\
             +-----+-----+\n"
        );
    }
}
