//! `weir sql`: queries over the lake from the command line, read-only.
//!
//! ```text
//! weir sql --lake ./lake -e "SELECT channel, count(*) FROM bids GROUP BY channel"
//! weir sql -f report.sql --format csv
//! weir sql --lake s3://bucket/lake -e "SHOW TABLES"
//! ```
//!
//! A lake on S3 is reached with the usual `AWS_*` environment variables (credentials,
//! `AWS_REGION`, `AWS_ENDPOINT_URL` and `AWS_ALLOW_HTTP` for S3-compatible servers).
//!
//! Without `-e` or `-f` it is an interactive shell (see `sql_shell`). Each statement's
//! result goes to stdout, or to `--output FILE` (an aligned table, CSV
//! with a header, JSON lines, or a Parquet file), written as it is computed (`output`);
//! `N rows in X ms` goes to stderr, so the results stay machine-readable. The table
//! format on a terminal shows the first 1000 rows unless `--max-rows` says otherwise.
//! Ctrl-C cancels the running statement.

mod output;
mod print;
mod table;

use std::io::IsTerminal;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use clap::{Args, ValueEnum};
use weir_sql::{Lake, Limits};

pub use output::{flat, run_statement, summary, Printing};
use print::Out;

#[derive(Debug, Args)]
pub struct SqlArgs {
    /// The lake's root: a folder, or a URL such as s3://bucket/prefix
    /// [default: $WEIR_LAKE, else ./lake].
    #[arg(long, value_name = "FOLDER_OR_URL")]
    lake: Option<String>,
    /// The statements to run, separated by `;`.
    #[arg(
        short = 'e',
        long = "execute",
        value_name = "QUERY",
        conflicts_with = "file"
    )]
    execute: Option<String>,
    /// A file of statements separated by `;`.
    #[arg(short = 'f', long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// How results are printed.
    #[arg(long, value_enum, default_value_t = Format::Table)]
    format: Format,
    /// Write the results to this file instead of stdout (needed for --format parquet).
    #[arg(short = 'o', long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Memory a query may hold at once (e.g. 512MiB, 2GiB).
    #[arg(long, default_value = "1GiB", value_parser = parse_bytes)]
    memory_limit: usize,
    /// Time a statement may take, until the last byte of its result is written, before it
    /// is cancelled (e.g. 500ms, 60s, 5m).
    #[arg(long, default_value = "60s", value_parser = humantime::parse_duration)]
    timeout: Duration,
    /// The most rows of a result to write; 0 for all [default: 1000 for the table format
    /// on a terminal, else 0].
    #[arg(long, value_name = "N")]
    max_rows: Option<usize>,
    /// Print every value whole in the table format. On a terminal, long values are
    /// otherwise cut (ending in `…`) so that tables fit its width; csv and json are
    /// always whole.
    #[arg(long)]
    full_values: bool,
}

/// Rows of a result the table format shows on a terminal unless `--max-rows` says.
const TERMINAL_ROWS: usize = 1000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    /// Aligned columns with borders, as DataFusion prints them.
    Table,
    /// CSV with a header line.
    Csv,
    /// One JSON object per row, every column in it (a null as `null`).
    Json,
    /// A Parquet file (one statement; needs --output).
    Parquet,
}

pub async fn run(args: SqlArgs) -> Result<()> {
    let text = match (&args.execute, &args.file) {
        (Some(sql), _) => sql.clone(),
        (None, Some(file)) => {
            std::fs::read_to_string(file).with_context(|| format!("reading {}", file.display()))?
        }
        (None, None) => String::new(),
    };
    let interactive = args.execute.is_none() && args.file.is_none();
    let location = lake_location(args.lake.clone());
    let limits = Limits {
        memory: args.memory_limit,
        timeout: args.timeout,
    };
    let lake = Lake::open(&location).map_err(flat)?;
    // A local lake must be there; on an object store, a prefix exists once it holds files.
    if lake
        .root()
        .to_file_path()
        .is_ok_and(|folder| !folder.is_dir())
    {
        bail!("no lake at {location}: give its folder with --lake DIR or WEIR_LAKE");
    }
    let to_terminal =
        args.format == Format::Table && args.output.is_none() && std::io::stdout().is_terminal();
    let printing = Printing {
        format: args.format,
        max_rows: args
            .max_rows
            .unwrap_or(if to_terminal { TERMINAL_ROWS } else { 0 }),
        fit_width: (to_terminal && !args.full_values).then(crate::terminal::width),
    };
    let session = lake
        .query_session(limits)
        .await
        .with_context(|| format!("opening the lake at {location}"))?;
    if interactive {
        if args.format == Format::Parquet || args.output.is_some() {
            bail!("the interactive shell prints to the terminal: use -e or -f for --format parquet or --output");
        }
        return crate::sql_shell::run(&lake, &session, printing).await;
    }
    let statements = session.parse(&text).map_err(flat)?;
    if statements.is_empty() {
        bail!("no statement to run");
    }
    if args.format == Format::Parquet && (args.output.is_none() || statements.len() > 1) {
        bail!("--format parquet writes one statement's result to a file: give one statement and --output FILE");
    }
    let mut out: Out = match &args.output {
        Some(path) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?,
        )),
        None => Box::new(std::io::BufWriter::new(std::io::stdout())),
    };
    for statement in statements {
        let started = Instant::now();
        let (back, printed) = tokio::select! {
            done = output::run_statement(&session, statement, printing, out) => done?,
            // Dropping the statement's future cancels its query.
            _ = tokio::signal::ctrl_c() => bail!("query cancelled (Ctrl-C)"),
        };
        out = back;
        eprintln!(
            "{}",
            output::summary(&printed, printing.max_rows, started.elapsed())
        );
    }
    Ok(())
}

/// The lake a command works on: `--lake`, else `$WEIR_LAKE`, else `./lake`.
pub fn lake_location(arg: Option<String>) -> String {
    arg.or_else(|| std::env::var("WEIR_LAKE").ok())
        .unwrap_or_else(|| "lake".to_string())
}

/// `1GiB`, `512MiB`, `100MB`, `4096`: a size in bytes.
pub fn parse_bytes(text: &str) -> Result<usize, String> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let number: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a size like 512MiB or 2GiB"))?;
    let scale: f64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1.0,
        "kb" => 1e3,
        "mb" => 1e6,
        "gb" => 1e9,
        "kib" | "k" => 1024.0,
        "mib" | "m" => 1024.0 * 1024.0,
        "gib" | "g" => 1024.0 * 1024.0 * 1024.0,
        other => {
            return Err(format!(
                "unknown size unit '{other}' (use B, KiB, MiB, GiB, KB, MB, GB)"
            ))
        }
    };
    Ok((number * scale) as usize)
}

#[cfg(test)]
mod tests {
    use super::parse_bytes;

    #[test]
    fn sizes() {
        assert_eq!(parse_bytes("1GiB"), Ok(1 << 30));
        assert_eq!(parse_bytes("512MiB"), Ok(512 << 20));
        assert_eq!(parse_bytes("100MB"), Ok(100_000_000));
        assert_eq!(parse_bytes("4096"), Ok(4096));
        assert_eq!(parse_bytes("1.5KiB"), Ok(1536));
        assert!(parse_bytes("lots").is_err());
        assert!(parse_bytes("3 parsecs").is_err());
    }
}
