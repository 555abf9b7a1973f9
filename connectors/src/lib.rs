//! weir-connectors: where data comes from and goes to.
//!
//! Today: the deterministic bid generator used by tests, the demo and the benchmarks.

pub mod error;
pub mod generator;

pub use error::{ConnectorError, Result};
