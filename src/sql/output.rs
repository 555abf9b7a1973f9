//! One statement from its start to the last byte of its result, within the statement's
//! limits: batches are written as the query computes them (a result is never held whole),
//! by a thread of their own, so that output that does not drain (a full pipe, a paused
//! terminal) cannot keep the statement past its time limit. The time limit runs until
//! the result is written and flushed.

use std::time::Duration;

use anyhow::{bail, Result};
use arrow::array::RecordBatch;
use tokio::sync::{mpsc, oneshot};
use weir_sql::{QuerySession, Statement};

use super::print::{Out, Printer};
use super::Format;

/// How many rows the table format sizes its columns by, at most.
const SIZING_ROWS: usize = 1000;

/// How results are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Printing {
    pub format: Format,
    /// The most rows written of a result; 0 for all of them.
    pub max_rows: usize,
    /// The width the table format fits its tables in, cutting long cells; `None` for
    /// full values.
    pub fit_width: Option<usize>,
}

/// What was written of a result.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct Printed {
    pub rows: usize,
    /// Whether rows were left out by `max_rows`.
    pub more: bool,
}

/// What the writing thread is given.
enum Piece {
    Rows(RecordBatch),
    End,
}

/// Runs `statement` and writes its result to `out`; hands `out` back with what was
/// written. When the time limit is up, or `max_rows` rows are written, the query is
/// cancelled. The future may be dropped (Ctrl-C): that cancels the query too.
pub async fn run_statement(
    session: &QuerySession,
    statement: Statement,
    printing: Printing,
    out: Out,
) -> Result<(Out, Printed)> {
    let mut stream = session.stream(statement).await.map_err(flat)?;
    let deadline = stream.deadline();
    let schema = stream.schema().clone();
    let sizing = match printing.max_rows {
        0 => SIZING_ROWS,
        max => max.min(SIZING_ROWS),
    };
    let (pieces, incoming) = mpsc::channel(1);
    let (done, written) = oneshot::channel();
    std::thread::spawn(move || {
        let _ = done.send(write_all(out, &schema, printing, sizing, incoming));
    });
    let rows = async {
        let mut printed = Printed::default();
        while let Some(batch) = stream.next().await {
            let mut batch = batch.map_err(flat)?;
            let room = match printing.max_rows {
                0 => usize::MAX,
                max => max - printed.rows,
            };
            if batch.num_rows() > room {
                printed.more = true;
                batch = batch.slice(0, room);
            }
            if batch.num_rows() > 0 {
                printed.rows += batch.num_rows();
                if pieces.send(Piece::Rows(batch)).await.is_err() {
                    // The writer stopped on an error, which `written` holds.
                    break;
                }
            }
            if printed.more {
                break;
            }
        }
        // The query is done (or cancelled, its rows being enough) before the last rows
        // are written: the session is free for the next statement as soon as possible.
        drop(stream);
        let _ = pieces.send(Piece::End).await;
        let Ok(out) = written.await else {
            bail!("the thread writing the result ended unexpectedly");
        };
        Ok((out?, printed))
    };
    deadline.bound(rows).await.map_err(flat)?
}

/// The `N rows in X ms` line (and a note when rows were left out), for stderr.
pub fn summary(printed: &Printed, max_rows: usize, elapsed: Duration) -> String {
    let rows = printed.rows;
    let counted = format!(
        "{rows} {} in {} ms",
        if rows == 1 { "row" } else { "rows" },
        elapsed.as_millis()
    );
    if printed.more {
        format!("(showing the first {max_rows} rows; --max-rows 0 for all)\n{counted}")
    } else {
        counted
    }
}

/// Writes every piece until the end; a result cut short (the statement cancelled or
/// failed) stops where it is, without a last border or footer.
fn write_all(
    out: Out,
    schema: &arrow::datatypes::SchemaRef,
    printing: Printing,
    sizing: usize,
    mut incoming: mpsc::Receiver<Piece>,
) -> Result<Out> {
    let mut printer = Printer::new(out, schema, printing.format, sizing, printing.fit_width)?;
    while let Some(piece) = incoming.blocking_recv() {
        match piece {
            Piece::Rows(batch) => printer.write(&batch)?,
            Piece::End => return printer.finish(),
        }
    }
    bail!("the statement ended before its result was written")
}

/// DataFusion's and Delta's messages already hold their causes: printed once.
pub fn flat(e: weir_sql::SqlError) -> anyhow::Error {
    anyhow::Error::msg(e.to_string())
}
