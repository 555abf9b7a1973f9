//! The terminal weir writes to: its width.

use std::fs::File;
use std::process::{Command, Stdio};

/// The width used when the terminal's cannot be read.
pub const DEFAULT_WIDTH: usize = 120;

/// The width in characters of the controlling terminal: `COLUMNS` when set, else what
/// `stty size` reads off `/dev/tty`, else [`DEFAULT_WIDTH`].
pub fn width() -> usize {
    let from_env = std::env::var("COLUMNS").ok().and_then(|c| c.parse().ok());
    from_env
        .or_else(stty_columns)
        .filter(|w: &usize| *w > 0)
        .unwrap_or(DEFAULT_WIDTH)
}

fn stty_columns() -> Option<usize> {
    let tty = File::open("/dev/tty").ok()?;
    let output = Command::new("stty")
        .arg("size")
        .stdin(tty)
        .stderr(Stdio::null())
        .output()
        .ok()?;
    let text = String::from_utf8(output.stdout).ok()?;
    text.split_whitespace().nth(1)?.parse().ok()
}
