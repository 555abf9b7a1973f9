//! weir-connectors: where data comes from and goes to.
//!
//! Today: the deterministic bid generator used by tests, the demo and the benchmarks;
//! formats (JSON) with dead letters; the Kafka source; the Delta and Parquet file sinks.

pub mod delta;
pub mod error;
pub mod format;
pub mod generator;
pub mod kafka;
pub mod parquet_sink;
pub mod stdout;

pub use error::{ConnectorError, Result};
