//! Where the SQL shell's lines come from.
//!
//! - On a terminal: a line editor (rustyline: arrows, Home/End, Ctrl-R search, ...) with a
//!   history kept across sessions in `$WEIR_SQL_HISTORY`, else `~/.weir_sql_history`; one
//!   entry per statement or command, a multi-line statement as one entry. Ctrl-C while
//!   typing reads as [`Line::Interrupted`], Ctrl-D on an empty line as [`Line::End`].
//! - Otherwise (a pipe, a file): the lines of standard input as they come, the prompt on
//!   stderr, and Ctrl-C (SIGINT) read as [`Line::Interrupted`]. Nothing is remembered.
//!
//! The editor blocks, so it lives on a thread of its own and reads a line only when the
//! shell asks for one: nothing is read from the terminal while a statement runs, when
//! Ctrl-C is a signal that cancels the statement.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;

use anyhow::{anyhow, Result};
use rustyline::error::ReadlineError;
use rustyline::DefaultEditor;
use tokio::sync::{mpsc, oneshot};

/// One read of the shell's input.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    Text(String),
    /// Ctrl-C while a line was being typed.
    Interrupted,
    /// The end of input (Ctrl-D, or the end of a pipe).
    End,
}

/// The shell's input: an editor on a terminal, plain lines otherwise.
pub struct ShellInput {
    source: Source,
}

enum Source {
    Editor(std::sync::mpsc::Sender<Request>),
    Piped(mpsc::Receiver<std::io::Result<String>>),
}

enum Request {
    Read {
        prompt: String,
        reply: oneshot::Sender<Result<Line>>,
    },
    Remember(String),
}

impl ShellInput {
    /// The editor if standard input and output are a terminal, else plain lines.
    pub fn from_stdin() -> Result<Self> {
        let source = if std::io::stdin().is_terminal() && std::io::stdout().is_terminal() {
            Source::Editor(editor_thread(history_path())?)
        } else {
            Source::Piped(stdin_lines())
        };
        Ok(Self { source })
    }

    /// The next line, after showing `prompt`.
    pub async fn read(&mut self, prompt: &str) -> Result<Line> {
        match &mut self.source {
            Source::Editor(requests) => {
                let (reply, answer) = oneshot::channel();
                let request = Request::Read {
                    prompt: prompt.to_string(),
                    reply,
                };
                if requests.send(request).is_err() {
                    return Ok(Line::End);
                }
                answer.await.unwrap_or(Ok(Line::End))
            }
            Source::Piped(lines) => {
                eprint!("{prompt}");
                let _ = std::io::stderr().flush();
                tokio::select! {
                    line = lines.recv() => match line {
                        Some(line) => Ok(Line::Text(line?)),
                        None => Ok(Line::End),
                    },
                    _ = tokio::signal::ctrl_c() => {
                        eprintln!();
                        Ok(Line::Interrupted)
                    }
                }
            }
        }
    }

    /// Adds a statement or command to the history (on a terminal).
    pub fn remember(&self, entry: &str) {
        if let Source::Editor(requests) = &self.source {
            let _ = requests.send(Request::Remember(entry.trim_end().to_string()));
        }
    }
}

/// `$WEIR_SQL_HISTORY`, else `~/.weir_sql_history`; `None` without a home folder.
fn history_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("WEIR_SQL_HISTORY") {
        return Some(PathBuf::from(path));
    }
    std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".weir_sql_history"))
}

/// The editor on its own thread, answering [`Request`]s until the shell drops its sender.
fn editor_thread(history: Option<PathBuf>) -> Result<std::sync::mpsc::Sender<Request>> {
    let mut editor = DefaultEditor::new().map_err(|e| anyhow!("cannot edit lines: {e}"))?;
    if let Some(path) = &history {
        // A missing history file is a first session; an unreadable one is started over.
        let _ = editor.load_history(path);
    }
    let (requests, incoming) = std::sync::mpsc::channel::<Request>();
    std::thread::spawn(move || {
        let mut history_failed = false;
        for request in incoming {
            match request {
                Request::Read { prompt, reply } => {
                    let line = match editor.readline(&prompt) {
                        Ok(text) => Ok(Line::Text(text)),
                        Err(ReadlineError::Interrupted) => Ok(Line::Interrupted),
                        Err(ReadlineError::Eof) => Ok(Line::End),
                        Err(e) => Err(anyhow!("reading a line: {e}")),
                    };
                    let _ = reply.send(line);
                }
                Request::Remember(entry) => {
                    let _ = editor.add_history_entry(entry.as_str());
                    let Some(path) = &history else { continue };
                    if let Err(e) = editor.append_history(path) {
                        if !history_failed {
                            eprintln!("warning: history not saved to {}: {e}", path.display());
                            history_failed = true;
                        }
                    }
                }
            }
        }
    });
    Ok(requests)
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
