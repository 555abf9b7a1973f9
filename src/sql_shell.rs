//! The interactive side of `weir sql`: with neither `-e` nor `-f`, statements are read
//! from standard input, a line at a time, and run when a line ends with `;` (so a
//! statement may span lines). Between statements:
//!
//! - `\d` lists the lake's tables, `\d NAME` describes one, `\q` (or end of input) quits;
//! - Ctrl-C cancels the running statement, or clears a half-typed one; the shell goes on;
//! - an error is printed and the shell goes on.
//!
//! On a terminal, lines are edited and recalled with a history kept across sessions
//! (`sql_input`).

use std::io::Write;
use std::time::Instant;

use anyhow::Result;
use weir_sql::{Lake, QuerySession};

use super::sql::{run_statement, summary, Printing};
use super::sql_input::{Line, ShellInput};

/// Runs the shell until `\q` or the end of input.
pub async fn run(lake: &Lake, session: &QuerySession, printing: Printing) -> Result<()> {
    let mut input = ShellInput::from_stdin()?;
    let mut pending = String::new();
    loop {
        let prompt = if pending.is_empty() {
            "weir> "
        } else {
            "  ... "
        };
        let line = match input.read(prompt).await? {
            Line::Text(line) => line,
            Line::Interrupted => {
                pending.clear();
                continue;
            }
            Line::End => return Ok(()),
        };
        let trimmed = line.trim();
        if pending.is_empty() && trimmed.starts_with('\\') {
            input.remember(trimmed);
            if trimmed == "\\q" {
                return Ok(());
            }
            let command = backslash(lake, trimmed).await;
            match command {
                Ok(Some(sql)) => run_text(session, &sql, printing).await,
                Ok(None) => {}
                Err(message) => eprintln!("error: {message}"),
            }
            continue;
        }
        pending.push_str(&line);
        pending.push('\n');
        if trimmed.ends_with(';') {
            let text = std::mem::take(&mut pending);
            input.remember(&text);
            run_text(session, &text, printing).await;
        }
    }
}

/// `\d` and `\d NAME`: the statement to run, or `None` when the answer was printed.
async fn backslash(lake: &Lake, command: &str) -> Result<Option<String>, String> {
    let mut words = command.split_whitespace();
    match (words.next(), words.next(), words.next()) {
        (Some("\\d"), None, None) => {
            let tables = lake.tables().await.map_err(|e| e.to_string())?;
            let mut out = std::io::stdout().lock();
            for table in &tables {
                let _ = writeln!(out, "{}", table.qualified_name());
            }
            eprintln!(
                "{} {}",
                tables.len(),
                if tables.len() == 1 { "table" } else { "tables" }
            );
            Ok(None)
        }
        (Some("\\d"), Some(name), None) => Ok(Some(format!("DESCRIBE {name}"))),
        _ => Err(format!(
            "unknown command '{command}': \\d lists tables, \\d NAME describes one, \\q quits"
        )),
    }
}

/// Runs every statement of `text`, printing results and errors; never fails the shell.
async fn run_text(session: &QuerySession, text: &str, printing: Printing) {
    let statements = match session.parse(text) {
        Ok(statements) => statements,
        Err(e) => {
            eprintln!("error: {e}");
            return;
        }
    };
    for statement in statements {
        let started = Instant::now();
        let out = Box::new(std::io::BufWriter::new(std::io::stdout()));
        let done = tokio::select! {
            done = run_statement(session, statement, printing, out) => done,
            // Dropping the statement's future cancels its query.
            _ = tokio::signal::ctrl_c() => {
                eprintln!("query cancelled (Ctrl-C)");
                return;
            }
        };
        match done {
            Ok((_, printed)) => {
                eprintln!(
                    "{}",
                    summary(&printed, printing.max_rows, started.elapsed())
                );
            }
            Err(e) => {
                eprintln!("error: {e:#}");
                return;
            }
        }
    }
}
