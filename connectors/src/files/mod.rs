//! Files: a source reading line files (JSON lines, and every other line format) or Parquet
//! files from a path, a directory or a glob, once or following them as they grow.
//!
//! Each file is one partition of the source. A file is known by its identity (device and
//! inode), not its name, so a rotated file keeps its reader, its partition and its
//! position. Files are dealt to subtasks by size, biggest first to the subtask with the
//! fewest bytes, when the job starts and as new files appear; a file keeps its subtask
//! for the job's life (`deal.rs`). Positions (byte offset after the last complete line and
//! line number, or rows read for Parquet) live in the job's checkpoints and follow the
//! files to their new readers after a restore, at any parallelism.
//!
//! Limits: a file is found again after a restart only if the pattern still matches it, so
//! to survive a restart in the middle of a rotation let the pattern match rotated names
//! too (`app.log*`). A file truncated and grown past the old position between two
//! listings is not seen as truncated. After a restart, a new file that reuses the inode of
//! a checkpointed one that was removed meanwhile continues at the old position (or from 0
//! when it is shorter).

mod deal;
pub mod discovery;
pub mod identity;
mod line_file;
pub mod lines;
mod parquet_file;
mod positions;
mod reader;
pub mod source;

use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::format::{DecodeErrorPolicy, FormatConfig};

pub use source::FileSource;

/// How the files are read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileMode {
    /// Read every file that matches when the job is built once, to its end (a last line
    /// without a newline included), then end.
    #[default]
    Bounded,
    /// Tail the files as they grow, pick up new matching files every
    /// `discovery_interval`, and follow rotation (rename + new file, or copytruncate). A
    /// last line without a newline waits for its newline. Never ends.
    Follow,
}

/// What the files hold.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileFormat {
    /// Records separated by `\n` (a `\r` before it is dropped), decoded by `format`.
    #[default]
    Lines,
    /// Parquet files, read natively; the schema is that of the first matching file (in
    /// path order) and every file must have it. In follow mode new files are read whole
    /// when they appear (write them elsewhere and rename them into place).
    Parquet,
}

/// Settings of a file source.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSourceConfig {
    /// A file, a directory (its regular files, not descending), or a glob with `*`, `?`,
    /// `[...]` and `**` (any number of directories), e.g. `logs/*.log` or
    /// `data/**/*.jsonl`. Names starting with `.` only match a pattern spelling the dot.
    pub path: String,
    #[serde(default)]
    pub file_format: FileFormat,
    /// How each line is decoded; required for line files, refused for Parquet.
    #[serde(default)]
    pub format: Option<FormatConfig>,
    #[serde(default)]
    pub mode: FileMode,
    /// In follow mode, how often to look for new, rotated, truncated and removed files.
    #[serde(with = "humantime_serde", default = "default_discovery")]
    pub discovery_interval: Duration,
    /// In follow mode, how long to wait before looking again at files that had no new
    /// data.
    #[serde(with = "humantime_serde", default = "default_poll")]
    pub poll_interval: Duration,
    /// What to do with lines that do not decode (default: dead letters).
    #[serde(default)]
    pub on_decode_error: DecodeErrorPolicy,
    /// Longest line accepted: a longer one is refused like an undecodable one (its dead
    /// letter keeps its start) and is never held whole in memory.
    #[serde(default = "default_max_record_bytes")]
    pub max_record_bytes: usize,
    /// Lines (or Parquet rows) per batch at most.
    #[serde(default = "default_batch_size")]
    pub batch_size: usize,
    /// Append `file_path` (the file's current path) and `file_line` (1-based line, or row
    /// for Parquet) to every row.
    #[serde(default)]
    pub metadata_columns: bool,
}

fn default_discovery() -> Duration {
    Duration::from_secs(1)
}

fn default_poll() -> Duration {
    Duration::from_millis(100)
}

fn default_max_record_bytes() -> usize {
    1024 * 1024
}

fn default_batch_size() -> usize {
    8192
}

impl FileSourceConfig {
    /// Reads the line files at `path` in `format`, once, with every other setting at its
    /// default.
    pub fn lines(path: &str, format: FormatConfig) -> Self {
        Self {
            file_format: FileFormat::Lines,
            format: Some(format),
            ..Self::parquet(path)
        }
    }

    /// Reads the Parquet files at `path`, once, with every other setting at its default.
    pub fn parquet(path: &str) -> Self {
        Self {
            path: path.into(),
            file_format: FileFormat::Parquet,
            format: None,
            mode: FileMode::default(),
            discovery_interval: default_discovery(),
            poll_interval: default_poll(),
            on_decode_error: DecodeErrorPolicy::default(),
            max_record_bytes: default_max_record_bytes(),
            batch_size: default_batch_size(),
            metadata_columns: false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configuration_defaults_and_unknown_fields() {
        let config: FileSourceConfig = serde_json::from_str(
            r#"{"path": "logs/*.log", "mode": "follow", "discovery_interval": "250ms",
                "format": {"type": "json", "columns": [{"name": "msg", "type": "string"}]}}"#,
        )
        .unwrap();
        let expected = FileSourceConfig {
            mode: FileMode::Follow,
            discovery_interval: Duration::from_millis(250),
            ..FileSourceConfig::lines(
                "logs/*.log",
                FormatConfig::Json {
                    columns: vec![crate::format::ColumnSpec::new("msg", "string")],
                },
            )
        };
        assert_eq!(config, expected);
        assert_eq!(config.max_record_bytes, 1024 * 1024);
        assert_eq!(config.poll_interval, Duration::from_millis(100));

        let parquet: FileSourceConfig =
            serde_json::from_str(r#"{"path": "data/", "file_format": "parquet"}"#).unwrap();
        assert_eq!(parquet, FileSourceConfig::parquet("data/"));

        let typo = serde_json::from_str::<FileSourceConfig>(r#"{"path": "a", "modes": "x"}"#);
        assert!(typo
            .unwrap_err()
            .to_string()
            .contains("unknown field `modes`"));
    }
}
