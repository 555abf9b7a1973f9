//! The interactive side of `weir sql`: with neither `-e` nor `-f`, statements are read
//! from standard input, a line at a time, and run when a line ends with `;` (so a
//! statement may span lines). Between statements:
//!
//! - `\d` lists the lake's tables, `\d NAME` describes one, `\q` (or end of input) quits;
//! - Ctrl-C cancels the running statement, or clears a half-typed one; the shell goes on;
//! - an error is printed and the shell goes on.
//!
//! There is no line editing or recall yet: lines come as the terminal hands them over.

use std::io::Write;
use std::time::Instant;

use anyhow::Result;
use tokio::sync::mpsc;
use weir_sql::{Lake, QuerySession};

use super::sql::{print, Format};

/// Runs the shell until `\q` or the end of input.
pub async fn run(lake: &Lake, session: &QuerySession, format: Format) -> Result<()> {
    let mut lines = stdin_lines();
    let mut pending = String::new();
    loop {
        prompt(pending.is_empty());
        let line = tokio::select! {
            line = lines.recv() => line.transpose()?,
            _ = tokio::signal::ctrl_c() => {
                pending.clear();
                eprintln!();
                continue;
            }
        };
        let Some(line) = line else {
            return Ok(());
        };
        let trimmed = line.trim();
        if pending.is_empty() && trimmed.starts_with('\\') {
            if trimmed == "\\q" {
                return Ok(());
            }
            let command = backslash(lake, trimmed).await;
            match command {
                Ok(Some(sql)) => run_text(session, &sql, format).await,
                Ok(None) => {}
                Err(message) => eprintln!("error: {message}"),
            }
            continue;
        }
        pending.push_str(&line);
        pending.push('\n');
        if trimmed.ends_with(';') {
            let text = std::mem::take(&mut pending);
            run_text(session, &text, format).await;
        }
    }
}

/// Lines of standard input, read on a thread of their own (blocking reads), as they come;
/// the channel closes at the end of input.
fn stdin_lines() -> mpsc::Receiver<std::io::Result<String>> {
    let (send, receive) = mpsc::channel(16);
    std::thread::spawn(move || {
        for line in std::io::stdin().lines() {
            if send.blocking_send(line).is_err() {
                break;
            }
        }
    });
    receive
}

fn prompt(fresh: bool) {
    eprint!("{}", if fresh { "weir> " } else { "  ... " });
    let _ = std::io::stderr().flush();
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
async fn run_text(session: &QuerySession, text: &str, format: Format) {
    let statements = match session.parse(text) {
        Ok(statements) => statements,
        Err(e) => {
            eprintln!("error: {e}");
            return;
        }
    };
    for statement in statements {
        let started = Instant::now();
        let output = tokio::select! {
            output = session.run(statement) => output,
            // Dropping the statement's future cancels its query.
            _ = tokio::signal::ctrl_c() => {
                eprintln!("query cancelled (Ctrl-C)");
                return;
            }
        };
        match output {
            Ok(output) => {
                let mut out = std::io::stdout();
                if let Err(e) = print(&mut out, &output, format).and_then(|()| Ok(out.flush()?)) {
                    eprintln!("error: {e:#}");
                    return;
                }
                let rows = output.rows();
                eprintln!(
                    "{rows} {} in {} ms",
                    if rows == 1 { "row" } else { "rows" },
                    started.elapsed().as_millis()
                );
            }
            Err(e) => {
                eprintln!("error: {e}");
                return;
            }
        }
    }
}
