//! weir-connectors: where data comes from and goes to.
//!
//! Today: deterministic generators (bids, Nexmark, logs, clickstream) for tests, the demo,
//! the benchmarks and job files; formats (JSON, CSV, lines, syslog, access logs, regex)
//! with dead letters; the file source (line files and Parquet, bounded or followed); the
//! Kafka source and sink; the Delta and Parquet file sinks, exactly once; stdout.

mod background;
pub mod compaction;
pub mod delta;
pub mod enrich;
pub mod error;
pub mod files;
pub mod format;
pub mod generator;
pub mod kafka;
pub mod parquet_sink;
pub mod parse;
pub mod quality_check;
mod retry;
pub mod stdout;

pub use error::{ConnectorError, Result};

/// The node that writes the files of a file sink named `sink` (Delta, Parquet): its
/// `rows_in` counts the rows the sink wrote. Its committer is a node of its own.
pub fn writer_node(sink: &str) -> String {
    format!("{sink}_writer")
}
