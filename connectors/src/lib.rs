//! weir-connectors: where data comes from and goes to.
//!
//! Today: the deterministic bid generator used by tests, the demo and the benchmarks;
//! formats (JSON) with dead letters; the file source (line files and Parquet, bounded or
//! followed); the Kafka source.

pub mod delta;
pub mod error;
pub mod files;
pub mod format;
pub mod generator;
pub mod kafka;

pub use error::{ConnectorError, Result};
