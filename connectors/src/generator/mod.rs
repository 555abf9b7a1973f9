//! Deterministic, seeded data generators.

pub mod bids;

pub use bids::{BidGenerator, BidGeneratorConfig};
