//! Deterministic, seeded data generators.

pub mod bids;
mod clock;
mod partitioned;

pub use bids::{BidGenerator, BidGeneratorConfig};
