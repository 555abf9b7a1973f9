//! weir-connectors: where data comes from and goes to.
//!
//! Today: deterministic generators (bids, Nexmark, logs, clickstream) for tests, the demo,
//! the benchmarks and job files; formats (JSON) with dead letters; the Kafka source.

pub mod delta;
pub mod error;
pub mod format;
pub mod generator;
pub mod kafka;

pub use error::{ConnectorError, Result};
