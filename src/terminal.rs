//! The terminal weir writes to: its width, and plain tables for people.

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

/// `rows` under `header` as left-aligned columns two spaces apart, one line each,
/// without trailing spaces.
pub fn aligned(header: &[&str], rows: &[Vec<String>]) -> String {
    let widths: Vec<usize> = (0..header.len())
        .map(|c| {
            rows.iter()
                .map(|r| r[c].chars().count())
                .chain([header[c].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let line = |cells: Vec<&str>| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(cell, w)| format!("{cell:<w$}"))
            .collect();
        format!("{}\n", padded.join("  ").trim_end())
    };
    let mut out = line(header.to_vec());
    for row in rows {
        out.push_str(&line(row.iter().map(String::as_str).collect()));
    }
    out
}
